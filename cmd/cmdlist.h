/* cmdlist.h - the one command table; one sorted line per command.
 * CMD(name, flags, summary). Included twice by main.c. */
CMD(acl, CMD_HTTP, "Interact with Consul's ACLs")
CMD(agent, CMD_LOCAL, "Runs a Consul agent")
CMD(force_leave, CMD_HTTP, "Forces a member of the cluster to enter the \"left\" state")
CMD(help, CMD_LOCAL, "Shows help for a command")
CMD(join, CMD_HTTP, "Tell Consul agent to join cluster")
CMD(kv, CMD_HTTP, "Interact with the key-value store")
CMD(leave, CMD_HTTP, "Gracefully leaves the Consul cluster and shuts down")
CMD(members, CMD_HTTP, "Lists the members of a Consul cluster")
CMD(operator, CMD_HTTP, "Provides cluster-level tools for Consul operators")
CMD(services, CMD_HTTP, "Interact with services")
CMD(snapshot, CMD_HTTP, "Saves, restores and inspects snapshots of Consul server state")
CMD(version, CMD_LOCAL, "Prints the Consul version")

/* cmdlist.h - the one command table; one sorted line per command.
 * CMD(name, flags, summary). Included twice by main.c. */
CMD(agent, CMD_LOCAL, "Runs a Consul agent")
CMD(help, CMD_LOCAL, "Shows help for a command")
CMD(kv, CMD_HTTP, "Interact with the key-value store")
CMD(version, CMD_LOCAL, "Prints the Consul version")

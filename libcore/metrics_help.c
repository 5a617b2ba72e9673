/* metrics_help.c - HELP lines of the Prometheus families the agent
 * records (Consul declares help texts for its metrics the same way;
 * anything not listed gets its own name, as go-metrics does).
 *
 * Layer: util. Thread: any.
 * Tests: t/t7003-metrics.sh
 */
#include "metrics_int.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *help;
} helps[] = {
    /* sorted by name: bsearch */
    {"api.http", "Time to answer an HTTP API request, by method and route, "
                 "in ms."},
    {"fsm.acl", "Time to apply an ACL change to the state, in ms."},
    {"fsm.autopilot", "Time to apply an autopilot configuration change, in "
                      "ms."},
    {"fsm.catalog", "Time to apply a catalog (de)registration to the "
                    "state, in ms."},
    {"fsm.kvs", "Time to apply a key/value change to the state, in ms."},
    {"fsm.restore", "Time to apply a piece of a snapshot restore, in ms."},
    {"fsm.session", "Time to apply a session change or a key/value lock "
                    "or unlock to the state, in ms."},
    {"kvs.apply", "Time to complete a key/value write request, in ms."},
    {"memberlist.gossip", "Time of one gossip round, in ms."},
    {"memberlist.health.score", "Local health score of the gossip layer "
                                "(0 is best)."},
    {"memberlist.msg.dead", "Members declared dead by this agent."},
    {"memberlist.msg.suspect", "Members this agent started to suspect."},
    {"memberlist.node.instances", "Gossip members by state."},
    {"memberlist.probeNode", "Time of one failure-detection probe, from "
                             "ping to ack, in ms."},
    {"members.clients", "Client agents in the LAN pool (alive)."},
    {"members.servers", "Servers in the LAN pool (alive)."},
    {"raft.applied_index", "Index of the last entry applied to the state."},
    {"raft.apply", "Writes the leader accepted into the Raft log."},
    {"raft.commitTime", "Time from a write on the leader until it is "
                        "committed and applied, in ms."},
    {"raft.commit_index", "Index of the last committed Raft entry."},
    {"raft.fsm.apply", "Time to apply one entry to the state, in ms."},
    {"raft.last_index", "Index of the last entry in the Raft log."},
    {"raft.leader.lastContact", "Time since the leader last heard from a "
                                "follower, in ms."},
    {"raft.state.candidate", "Times this server started an election."},
    {"raft.state.follower", "Times this server became a follower."},
    {"raft.state.leader", "Times this server became the leader."},
    {"raft.term", "Current Raft term."},
    {"rpc.request", "Requests received from other agents on the server "
                    "port."},
    {"runtime.alloc_bytes", "Bytes allocated on the heap and not freed."},
    {"runtime.loop_lag", "How late the event loop ran a 1 s timer, in ms."},
    {"runtime.num_goroutines", "Threads of the agent process (it has no "
                               "goroutines)."},
    {"runtime.open_fds", "Open file descriptors."},
    {"runtime.sys_bytes", "Resident memory of the agent process, in "
                          "bytes."},
    {"runtime.total_gc_pause_ns", "Always 0: the agent has no garbage "
                                  "collector."},
    {"runtime.total_gc_runs", "Always 0: the agent has no garbage "
                              "collector."},
    {"serf.member.failed", "Members that failed (as serf saw them)."},
    {"serf.member.flap", "Members that came back within 60 s of failing."},
    {"serf.member.join", "Members that joined."},
    {"serf.member.left", "Members that left gracefully."},
    {"serf.member.update", "Members whose tags or address changed."},
    {"server.isLeader", "1 when this server is the Raft leader, else 0."},
    {"state.kv_entries", "Key/value entries in the state."},
    {"state.nodes", "Nodes in the catalog."},
    {"state.service_instances", "Service instances in the catalog."},
    {"state.services", "Distinct service names in the catalog."},
};

static int cmp(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

const char *metrics_help_text(const char *name)
{
    const char *const *hit = bsearch(name, helps,
                                     sizeof(helps) / sizeof(helps[0]),
                                     sizeof(helps[0]), cmp);

    return hit != NULL ? hit[1] : NULL;
}

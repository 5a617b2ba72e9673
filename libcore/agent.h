/* agent.h - one agent process: config, state machine, Raft, gossip,
 * signals.
 *
 * Layer: agent (uses util, codec, store, replication). Thread: loop only.
 * Owns: the runtime config, the FSM and its stores, the Raft glue, the
 * LAN gossip pool and its retry-join timer, the data-dir lock, signal
 * handles, the list of blocking-query watchers.
 * The HTTP layer sits above and registers itself through shutdown hooks;
 * cmd/agent.c wires the two.
 * Tests: t/t0002-agent-signals.sh, t/t1*.sh, t/t2001-gossip-members.sh
 */
#ifndef PROCONSUL_AGENT_H
#define PROCONSUL_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"
#include "err.h"
#include "fsm.h"
#include "gossip.h"
#include "raftglue.h"
#include "rpc.h"

struct agent;
struct agent_local; /* agent_local.h: local services and checks */
struct agent_acl;   /* agent_acl.c: the agent's tokens, token cache */
struct agent_events; /* agent_event.c: the last user events received */
struct agent_watches; /* agent_watches.c: children running `watches` */
struct agent_sess;  /* agent_sess.c: session TTL deadlines (leader) */

/* A blocking query waiting for state to move past some index. fn is
 * called after every applied change; it may remove its own watch. */
struct agent_watch;
typedef void (*agent_watch_fn)(struct agent_watch *w, const char *kind,
                               uint64_t index);
struct agent_watch {
    struct agent_watch *prev, *next;
    agent_watch_fn fn;
    void *data;
    bool linked;
};

typedef void (*agent_hook_fn)(void *ctx);
/* Called on SIGHUP; returns 0 or fills err. */
typedef int (*agent_reload_fn)(struct agent *a, void *ctx, char *err);

#define AGENT_MAX_HOOKS 8

/* A server of our datacenter, as gossip shows it. */
struct agent_server {
    char name[GOSSIP_NAME_MAX + 1];
    char node_id[40];
    uint64_t raft_id;         /* raft_digest(node_id) */
    char addr[80];            /* "ip:port" of its server RPC */
    enum gossip_status status;
    int expect;               /* its bootstrap_expect tag (0: none) */
    uint64_t alive_since_ms;  /* uv_now() when last seen becoming alive */
};

/* What we know of a Raft id even when gossip has forgotten it (loaded
 * from and saved to <data-dir>/server-map.json). */
struct agent_known {
    uint64_t raft_id;
    char node_id[40];
    char name[GOSSIP_NAME_MAX + 1];
    char addr[80];
};

struct agent {
    uv_loop_t *loop;
    struct cfg cfg;
    struct fsm fsm;
    struct raftglue rg;
    bool has_raft;
    char node_id[40];
    char *data_dir;
    bool tmp_data_dir;
    int lock_fd;
    char advertise[64];     /* address gossiped and used for Raft */
    char rpc_addr[80];      /* "advertise:8300" */
    uint64_t start_ms;
    struct agent_watch watch_head;
    uv_signal_t sigs[4];
    uv_timer_t stop_timer;
    agent_hook_fn hooks[AGENT_MAX_HOOKS];
    void *hook_ctx[AGENT_MAX_HOOKS];
    int n_hooks;
    agent_reload_fn reload_fn;
    void *reload_ctx;
    bool stopping;
    bool fatal;        /* the FSM can no longer follow the log */
    int pending_closes;     /* raft and gossip closes still running */
    struct gossip *gossip;  /* LAN pool; NULL before start / after close */
    uv_timer_t gossip_timer; /* retry-join, then the deferred close */
    bool gossip_timer_on;
    int64_t join_attempts;
    bool gossip_up;         /* gossip_start succeeded */
    bool joined;            /* a (retry-)join reached someone */
    bool left;              /* a graceful leave has run or is running */
    /* server RPC, formation, autopilot (agent_servers.c) */
    struct rpc_server *rpc;     /* servers only: the 8300 listener */
    struct rpc_client *rpcc;    /* forwarding and internal calls */
    bool raft_started;
    struct agent_server *servers;
    size_t n_servers, cap_servers;
    struct agent_known *known;
    size_t n_known, cap_known;
    uv_timer_t srv_timer;       /* formation, then autopilot ticks */
    bool srv_timer_on;
    char vote_for[40];          /* coordinator we endorsed */
    uint64_t vote_until_ms;
    bool collecting;            /* asking for bootstrap votes */
    int votes_pending, votes_granted, votes_needed;
    bool votes_failed;
    uint64_t last_wait_log_ms;
    bool change_busy;           /* a Raft membership change in flight */
    char *map_json;             /* last server-map.json written */
    char waiting_reason[256];   /* why there is no leader yet, for info */
    uint64_t ready_term;        /* term whose leader barrier committed */
    /* gossip members -> catalog nodes on the leader (agent_members.c) */
    bool members_dirty;
    int member_ticks;
    int member_writes;          /* Raft writes in flight */
    struct agent_local *local;  /* services, checks, anti-entropy */
    struct agent_acl *acl;      /* tokens, resolution cache (agent_acl.c) */
    struct agent_acl_repl *acl_repl; /* replication state (agent_acl_repl.c) */
    struct agent_events *events; /* user events (agent_event.c) */
    struct agent_watches *watches; /* config watches (agent_watches.c) */
    struct agent_sess *sess;    /* session TTL deadlines (agent_sess.c) */
    /* a restore left staged by a leader that died (agent_servers.c) */
    char stage_id[80];
    uint64_t stage_len, stage_since_ms;
    /* telemetry (agent_metrics.c) */
    /* the WAN pool, servers only (agent_wan.c) */
    struct gossip *wan;         /* NULL on clients, before start, after
                                 * close */
    uv_timer_t wan_timer;       /* retry_join_wan, then the close */
    bool wan_timer_on;
    bool wan_joined;
    int64_t wan_join_attempts;
    void (*wan_done)(struct agent *a);
    struct metrics *metrics;    /* also the process-wide registry */
    uv_timer_t metrics_timer;   /* 1 s: gauges, loop lag */
    bool metrics_timer_on;
    uint64_t metrics_tick_ns;
};

/* Prepare everything but start nothing. Takes ownership of *cfg on
 * success (the struct is copied and the caller's zeroed). */
int agent_init(struct agent *a, uv_loop_t *loop, struct cfg *cfg /* takes */,
               char *err);
/* Start Raft, the LAN gossip pool (then retry_join) and signal
 * handling. */
int agent_start(struct agent *a, char *err);
/* Run the loop until the agent stopped; returns the exit code. */
int agent_run(struct agent *a);
/* Begin a graceful stop (also what SIGINT/SIGTERM/SIGQUIT do). */
void agent_stop(struct agent *a);
/* Free what agent_init made; removes a -dev data dir. */
void agent_release(struct agent *a);

/* Register fn to run at the start of a graceful stop. */
int agent_add_shutdown_hook(struct agent *a, agent_hook_fn fn, void *ctx);
void agent_set_reload(struct agent *a, agent_reload_fn fn, void *ctx);
/* Apply the reloadable parts of a new config (log level for now); takes
 * nothing, copies what it keeps. */
int agent_reload_config(struct agent *a, const struct cfg *nc, char *err);

void agent_watch_add(struct agent *a, struct agent_watch *w);
void agent_watch_del(struct agent *a, struct agent_watch *w);
/* Run every watch's fn with kind and index (FSM changes; "event" when a
 * user event arrived, index then its agent_uevent_index). */
void agent_watch_notify(struct agent *a, const char *kind, uint64_t index);

/* Writes: replicate an encoded command (raft_malloc'd buf, moves on
 * success). ERR_NOLEADER when this server is not the leader; on a client
 * agent, ERR_NOLEADER with "No known Consul servers". */
int agent_apply(struct agent *a, void *buf /* takes */, size_t len,
                raftglue_apply_cb cb, void *ctx, char *err);
/* ?consistent: confirm leadership through a quorum first. */
int agent_barrier(struct agent *a, raftglue_barrier_cb cb, void *ctx,
                  char *err);

/* Graceful gossip leave (PUT /v1/agent/leave); cb runs once, with
 * ERR_SHUTDOWN if the agent stops first. A later agent_stop() does not
 * leave again. */
int agent_leave(struct agent *a, gossip_done_cb cb, void *ctx, char *err);

/* ---- servers (agent_servers.c) ---- */

/* Decide how Raft starts (peers.json recovery, bootstrap, join or wait
 * for bootstrap_expect) and start the formation/autopilot tick. Called by
 * agent_start. */
int agent_servers_start(struct agent *a, char *err);
/* Gossip saw a member change: refresh the server table. */
void agent_servers_changed(struct agent *a);
/* Leader: make the catalog's nodes and serfHealth checks follow gossip
 * (agent_members.c); called on every tick, writes only differences. */
void agent_members_reconcile(struct agent *a);
void agent_servers_release(struct agent *a);
const struct agent_server *agent_server_by_raft_id(struct agent *a,
                                                   uint64_t id);
/* Node UUID and name for a Raft id (from gossip or the saved map);
 * false when unknown. */
/* The Raft id of a server: raft_digest of its node UUID (never 0). */
uint64_t agent_raft_id(const char *node_id);
bool agent_server_names(struct agent *a, uint64_t raft_id,
                        const char **node_id, const char **name);
/* An alive server to forward to ("ip:port"), avoiding `avoid` when
 * another exists; NULL when none is known. */
const char *agent_pick_server(struct agent *a, const char *avoid);

/* Internal calls between servers (over 8300, answered by httpd). */
struct agent_raft_state {
    bool has_state;   /* in a cluster: log or configuration present */
    bool started;
    int expect;
};
void agent_raft_state(struct agent *a, struct agent_raft_state *st);
/* A bootstrap vote for coordinator (node UUID) expecting n servers:
 * returns true when granted; why says why not. */
bool agent_bootstrap_vote(struct agent *a, const char *coordinator, int n,
                          char *why, size_t why_len);
/* The coordinator we endorsed bootstraps us with exactly these servers. */
int agent_bootstrap_commit(struct agent *a, const char *coordinator,
                           const struct raftglue_server *s, size_t n,
                           char *err);

/* Leader, and an entry of its own term is committed (libraft 0.15
 * neither appends a no-op on election nor waits for one before counting
 * older entries committed, so until then its state may lag what the
 * previous leader acknowledged). */
bool agent_is_leader(struct agent *a);
/* Raft says leader but the barrier above is still running. */
bool agent_leader_pending(struct agent *a);
/* "ip:8300" of the leader or NULL. */
const char *agent_leader(struct agent *a);
uint64_t agent_last_contact_ms(struct agent *a);

/* The autopilot configuration in force: the replicated one once it was
 * ever set (PUT /v1/operator/autopilot/configuration), else the config
 * file's. Returns buf, filled, or &a->cfg.autopilot; borrowed until the
 * FSM next applies or restores. */
const struct cfg_autopilot *agent_autopilot(struct agent *a,
                                            struct cfg_autopilot *buf);

/* ---- the WAN pool (agent_wan.c) ----
 * Servers only: a second gossip pool on ports.serf_wan, members named
 * "<node>.<dc>", memberlist's WAN timings, joined through
 * retry_join_wan. */
#define AGENT_DC_MAX 64
struct agent_dc {
    char name[AGENT_DC_MAX + 1];
    uint64_t rtt_us;    /* 0: ours; UINT64_MAX: never measured */
};
/* A server of the WAN pool: its datacenter and server RPC address. */
struct agent_wan_srv {
    char dc[AGENT_DC_MAX + 1];
    char addr[80];
    bool alive;
    uint64_t rtt_us;    /* smoothed probe RTT, 0: none */
};
/* The Consul tags of this agent's gossip member (role, dc, id, build,
 * port, expect, bootstrap), as both pools announce them. */
void agent_consul_info(const struct agent *a, struct gossip_consul_info *ci);
/* Start the pool (a no-op on client agents or with serf_wan < 0). */
int agent_wan_start(struct agent *a, char *err);
/* Close it; done(a) runs once afterwards. false (and done never runs)
 * when it was never started. */
bool agent_wan_stop(struct agent *a, void (*done)(struct agent *a));
/* Graceful leave of the WAN pool, alongside the LAN one (best effort:
 * a failure is logged). */
void agent_wan_leave(struct agent *a);
/* Join WAN members (PUT /v1/agent/join/<addr>?wan=1). */
int agent_wan_join(struct agent *a, const char *const *addrs, size_t n,
                   gossip_join_cb cb, void *ctx, char *err);
/* Datacenters known from the pool (ours always, first), nearest first
 * (median probe RTT of their alive servers); returns how many. */
size_t agent_wan_dcs(struct agent *a, struct agent_dc *out, size_t max);
/* An alive server of dc ("ip:port" of its server RPC) into addr,
 * avoiding `avoid` when another exists: 0; ERR_NOTFOUND when the pool
 * has no server of dc at all; ERR_UNREACHABLE when none is alive. */
int agent_wan_pick(struct agent *a, const char *dc, const char *avoid,
                   char *addr, size_t len);
/* Pure helpers behind those (unit-tested). "web1.dc2" -> "web1", "dc2"
 * (split at the last dot); false when there is none or it does not fit. */
bool agent_wan_split(const char *name, char *node, size_t nn, char *dc,
                     size_t dn);
/* Ours first, then by rtt_us, then by name. */
void agent_dc_sort(struct agent_dc *d, size_t n, const char *local);
/* The datacenters of s (and local), each with the median RTT of its
 * alive measured servers, sorted as above. */
size_t agent_dc_list(const struct agent_wan_srv *s, size_t n,
                     const char *local, struct agent_dc *out, size_t max);
/* Index of an alive server of dc in s, chosen by rnd among those that
 * are not `avoid` (that one only when it is the only one); -1 when none.
 * *known: s has some server of dc, alive or not. */
int agent_wan_choose(const struct agent_wan_srv *s, size_t n, const char *dc,
                     const char *avoid, unsigned rnd, bool *known);
/* ---- session TTLs (agent_sess.c) ----
 * Leader tick: start the clock of new TTL sessions (all of them after
 * an election), destroy those 2 x TTL past their last renewal. */
void agent_sess_tick(struct agent *a);
/* PUT /v1/session/renew on the leader: restart id's clock. 0 (also for
 * a session without TTL, or when not the leader), ERR_NOTFOUND for an
 * unknown session, ERR_NOMEM. */
int agent_sess_renew(struct agent *a, const char *id);
void agent_sess_release(struct agent *a);

/* ---- telemetry (agent_metrics.c) ----
 * The registry (telemetry.metrics_prefix, disable_hostname,
 * prometheus_retention_time), set as the process-wide one so every layer
 * records into it, and a 1 s timer that sets the gauges (runtime.*,
 * raft.*, memberlist.*, members.*, state.*, server.isLeader) and samples
 * runtime.loop_lag (how late that timer ran, in ms). */
int agent_metrics_start(struct agent *a, char *err);
/* From agent_stop: stops and closes the timer. */
void agent_metrics_stop(struct agent *a);
void agent_metrics_release(struct agent *a);

/* ---- ACLs (agent_acl.c) ----
 * The agent's own tokens (acl.tokens.* in the config, replaced by those
 * set through PUT /v1/agent/token/<kind> and, with
 * enable_token_persistence, kept in <data-dir>/acl-tokens.json, mode
 * 0600), the resolution of a request's secret to an authorizer (servers
 * from their replicated state, client agents from a server, cached for
 * acl.token_ttl, acl.down_policy when no server answers), and the
 * leader's initialisation of the ACL state (cluster secret,
 * global-management policy, anonymous token, initial management
 * token). */
enum agent_token_kind {
    AGENT_TOKEN_DEFAULT,
    AGENT_TOKEN_AGENT,
    AGENT_TOKEN_RECOVERY,
    AGENT_TOKEN_REPLICATION,
    AGENT_TOKEN_CFG_REGISTRATION,
    AGENT_TOKEN_DNS,
    AGENT_TOKEN_COUNT
};
int agent_acl_init(struct agent *a, char *err);
void agent_acl_release(struct agent *a);
bool agent_acl_enabled(const struct agent *a);
/* default_policy = "allow" (or ACLs off). */
bool agent_acl_default_allow(const struct agent *a);
/* A kind by its API name ("default", "agent", "agent_recovery", ...,
 * and the legacy "acl_token", "agent_master", ...); -1 when unknown. */
int agent_token_kind(const char *name);
const char *agent_token_kind_name(enum agent_token_kind k);
/* The token in force for kind (NULL when none). Borrowed until the
 * next agent_set_token. */
const char *agent_token(const struct agent *a, enum agent_token_kind k);
/* Replace it (NULL or "": clear) and persist when configured. */
int agent_set_token(struct agent *a, enum agent_token_kind k,
                    const char *secret, char *err);

/* Who a request is (borrowed until control returns to the loop). */
struct agent_acl_who {
    const struct acl_authz *z;  /* NULL: grants nothing */
    const char *accessor;       /* AccessorID, "" when unknown */
    bool anonymous;
    bool default_allow;         /* what a DEFAULT decision becomes */
};
/* Resolve secret (NULL or "": the default token, else anonymous).
 * 0, or ERR_NOTFOUND for an unknown or expired token ("ACL not
 * found"). On a client agent whose cache has no fresh entry it returns
 * 0 with *need_fetch set and w unfilled: call agent_acl_fetch, then ask
 * again. With ACLs disabled everything is allowed. */
int agent_acl_who(struct agent *a, const char *secret,
                  struct agent_acl_who *w, bool *need_fetch);
/* Client agents: fetch secret's rules from a server into the cache.
 * 0: cb(ctx) runs once, later (never from inside); 1: no server is
 * known, the cache was settled at once by the down_policy and cb will
 * not run (ask agent_acl_who again now); ERR_NOMEM. A failed fetch also
 * leaves the down_policy's answer in the cache. */
typedef void (*agent_acl_cb)(void *ctx);
int agent_acl_fetch(struct agent *a, const char *secret, agent_acl_cb cb,
                    void *ctx, char *err);
/* Drop a waiting fetch's callback (the request went away). */
void agent_acl_cancel(struct agent *a, agent_acl_cb cb, void *ctx);
/* A server of a datacenter other than primary_datacenter, ACLs on: it
 * resolves tokens through a server of the primary datacenter (as a
 * client agent does through its servers), and the ACL API is forwarded
 * there. */
bool agent_acl_remote(const struct agent *a);
/* Leader: has the ACL state everything agent_acl_leader creates? */
bool agent_acl_ready(struct agent *a);
/* Leader tick: create what the ACL state lacks (one write at a time). */
void agent_acl_leader(struct agent *a);
/* ACL replication (agent_acl_repl.c): on for a server of a datacenter
 * other than primary_datacenter with acl.enable_token_replication. */
bool agent_acl_repl_enabled(const struct agent *a);
/* Leader tick: start a round when one is due. */
void agent_acl_repl_tick(struct agent *a);
/* The body of GET /v1/acl/replication (new reference; NULL: no memory). */
json_t *agent_acl_repl_status(struct agent *a);
void agent_acl_repl_release(struct agent *a);

#endif

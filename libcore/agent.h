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

struct agent;

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
    int pending_closes;     /* raft and gossip closes still running */
    struct gossip *gossip;  /* LAN pool; NULL before start / after close */
    uv_timer_t gossip_timer; /* retry-join, then the deferred close */
    bool gossip_timer_on;
    int64_t join_attempts;
    bool gossip_up;         /* gossip_start succeeded */
    bool joined;            /* a (retry-)join reached someone */
    bool left;              /* a graceful leave has run or is running */
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

bool agent_is_leader(struct agent *a);
/* "ip:8300" of the leader or NULL. */
const char *agent_leader(struct agent *a);
uint64_t agent_last_contact_ms(struct agent *a);

#endif

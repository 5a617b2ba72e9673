/* raftglue.h - libraft (canonical/raft) on the agent's uv loop.
 *
 * Layer: replication (uses util, codec, store). Thread: loop only.
 * Owns: the raft instance, its uv I/O (log under <dir>) and TCP transport.
 * Commands are applied to a struct fsm (borrowed). The Raft index a
 * command is applied at becomes the KV ModifyIndex.
 * Tests: t/t1004-kv-persist.sh, t/t4*.sh
 */
#ifndef PROCONSUL_RAFTGLUE_H
#define PROCONSUL_RAFTGLUE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"
#include "fsm.h"
#include "raftglue_fsm.h"

struct raftglue;

/* Called once per raftglue_apply: rc 0 and res filled when the command
 * was committed and applied; otherwise a negative ERR_* (ERR_NOLEADER
 * when leadership was lost) and res NULL. */
typedef void (*raftglue_apply_cb)(void *ctx, int rc,
                                  const struct fsm_result *res);
typedef void (*raftglue_barrier_cb)(void *ctx, int rc);
typedef void (*raftglue_close_cb)(struct raftglue *rg);
/* Leadership changed (state is RAFT_LEADER, RAFT_FOLLOWER, ...). */
typedef void (*raftglue_state_cb)(void *ctx, int old_state, int new_state);

struct raftglue_opts {
    unsigned election_timeout_ms;  /* 1000 * raft_multiplier */
    unsigned heartbeat_timeout_ms; /* election / 10 */
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
};

struct raftglue {
    uv_loop_t *loop;
    struct fsm *fsm;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raftglue_fsm gfsm;
    struct raft_tracer tracer;
    uv_timer_t poll;              /* watches leadership changes */
    int last_state;
    uint64_t last_contact_ms;     /* uv_now() when a leader was last seen */
    raftglue_state_cb on_state;
    void *state_ctx;
    raftglue_close_cb close_cb;
    int open_handles;
    bool started;
    bool closing;
    char address[64];
};

/* Set up raft with its log in dir (created if missing) and the transport
 * listening on address ("ip:port"). id must be non-zero. */
int raftglue_init(struct raftglue *rg, uv_loop_t *loop, struct fsm *fsm,
                  const char *dir, raft_id id, const char *address,
                  const struct raftglue_opts *opts, char *err);

/* Bootstrap a configuration of exactly this one voter, unless the log
 * already holds state (then nothing happens and 0 is returned). */
int raftglue_bootstrap_self(struct raftglue *rg, char *err);

int raftglue_start(struct raftglue *rg, char *err);

/* Replicate buf (from raft_malloc; ownership moves on success only). */
int raftglue_apply(struct raftglue *rg, void *buf /* takes */, size_t len,
                   raftglue_apply_cb cb, void *ctx, char *err);

/* Commit a barrier: when cb gets 0 the leader was confirmed by a quorum
 * and every earlier entry is applied (used for ?consistent reads). */
int raftglue_barrier(struct raftglue *rg, raftglue_barrier_cb cb, void *ctx,
                     char *err);

bool raftglue_is_leader(struct raftglue *rg);
/* Leader address "ip:port" or NULL when none is known. */
const char *raftglue_leader_address(struct raftglue *rg);
/* "Leader", "Follower", "Candidate" or "Unavailable". */
const char *raftglue_state_name(struct raftglue *rg);
/* Milliseconds since contact with the leader (0 on the leader). */
uint64_t raftglue_last_contact(struct raftglue *rg);

struct raftglue_stats {
    uint64_t term, commit_index, applied_index, last_log_index;
    uint64_t last_snapshot_index, num_peers;
};
void raftglue_stats(struct raftglue *rg, struct raftglue_stats *st);

/* Servers in the current configuration: fn(ctx, id, address, voter). */
typedef void (*raftglue_server_fn)(void *ctx, uint64_t id,
                                   const char *address, bool voter);
void raftglue_servers(struct raftglue *rg, raftglue_server_fn fn, void *ctx);

void raftglue_set_state_cb(struct raftglue *rg, raftglue_state_cb cb,
                           void *ctx);

/* Stop raft, close I/O and transport; cb runs when all is released.
 * Must not be called from inside an apply callback. */
void raftglue_close(struct raftglue *rg, raftglue_close_cb cb);

#endif

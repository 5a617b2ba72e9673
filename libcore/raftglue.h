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
#include "rpc.h"

struct raftglue;
struct append_wrap;

#define RAFTGLUE_MAX_HEARD 16
/* without an interval check, a snapshot once this many x threshold
 * entries are held (plus up to one threshold of jitter per server). The
 * log lives in memory, and when a snapshot truncates it libraft frees
 * every entry on the loop (before Raft's memory came from mem_nofork,
 * each of those frees faulted after the snapshot's fork: ~230 ms per
 * 100k entries here, long enough for the followers to start an
 * election under CPU contention). */
#define RAFTGLUE_SNAP_CEILING 4
/* ... and once the commands applied since the last snapshot add up to
 * this many bytes, whatever their count: a snapshot restore replicates
 * the whole state through the log in big pieces (a million keys: ~290
 * MB held in memory, and re-applied at every restart, until a snapshot
 * truncates them), as do big values. On the leader a barrier makes the
 * snapshot come even when nothing else is written. When a restore ended
 * since the last snapshot, that snapshot keeps only the entries after
 * it (libraft keeps raft_trailing_logs entries, whatever their size, so
 * the pieces would stay); the count is set back when it is done. */
#define RAFTGLUE_SNAP_BYTES (64u << 20)

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
    /* raft_snapshot_interval: when non-zero, a snapshot is taken once
     * snapshot_threshold entries were applied since the last one and
     * the interval check (interval..2 x interval after the last
     * snapshot, as HashiCorp Raft) passed; at once past the memory
     * ceiling (RAFTGLUE_SNAP_CEILING x
     * snapshot_threshold, jittered per server). 0: at
     * snapshot_threshold entries (libraft's own rule). raftglue.c:
     * snap_pace. */
    unsigned snapshot_interval_ms;
};

struct batch_item;

struct raftglue {
    uv_loop_t *loop;
    struct fsm *fsm;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    struct raftglue_fsm gfsm;
    struct raft_tracer tracer;
    uv_timer_t poll;              /* watches leadership changes */
    /* commands queued in this loop turn, given to libraft by the check
     * handle in one raft_apply; then pending until applied (raftglue.c) */
    uv_check_t flush;
    struct raft_buffer *q_bufs;
    struct batch_item *q_items;
    unsigned q_n, q_cap;
    struct batch_item *pend_head, *pend_tail;
    int last_state;
    uint64_t last_contact_ms;     /* uv_now() when a leader was last seen */
    raftglue_state_cb on_state;
    void *state_ctx;
    raftglue_close_cb close_cb;
    int open_handles;
    bool started;
    bool closing;
    char address[64];
    /* metrics: libraft's io->start and recv callback, wrapped to note
     * when each server was last heard from (raft.leader.lastContact) */
    int (*io_start)(struct raft_io *io, unsigned msecs,
                    raft_io_tick_cb tick, raft_io_recv_cb recv);
    int (*io_send)(struct raft_io *io, struct raft_io_send *req,
                   const struct raft_message *msg, raft_io_send_cb cb);
    raft_io_recv_cb raft_recv;
    raft_io_tick_cb raft_tick;
    /* libraft's io->append, wrapped to stop the agent when the log
     * cannot be written (raftglue.c: append_failed) */
    int (*io_append)(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n,
                     raft_io_append_cb cb);
    struct append_wrap *append_free;
    struct append_wrap *append_held; /* failed, newest first */
    unsigned append_nfree;
    bool append_failed;
    /* snapshot pacing (opts.snapshot_interval_ms) */
    unsigned snap_threshold;
    unsigned snap_interval_ms;
    uint64_t snap_due_ms;       /* next interval check (0: not set) */
    uint64_t snap_index;        /* snapshot index seen by the poll */
    uint64_t snap_bytes_mark;   /* gfsm.bytes_applied at that snapshot */
    bool snap_bytes_asked;      /* the bytes rule lowered the threshold */
    uint64_t jitter_state;      /* xorshift (raftglue.c: jitter) */
    uint64_t leader_gone;       /* our leader whose stream closed */
    uint64_t restore_hold_since; /* hold_for_restore's start (uv ms), 0 */
    char dir[4096];
    struct {
        uint64_t id, ms;
    } heard[RAFTGLUE_MAX_HEARD];
};

/* Give libraft (and every raft_malloc in the agent) memory that a fork
 * does not copy (mem_nofork.h): a snapshot's fork then neither copies
 * the log's page tables nor makes the loop's writes to the log fault.
 * Call once before raftglue_init; raft_free still takes malloc's
 * pointers, so earlier allocations are fine. */
void raftglue_use_nofork_heap(void);

/* Set up raft with its log in dir (created if missing); Raft traffic
 * arrives through srv (the 8300 listener, borrowed; it must outlive
 * raftglue_close) and leaves through connections made by the rpc
 * transport. address is ours ("ip:port"). id must be non-zero. */
int raftglue_init(struct raftglue *rg, uv_loop_t *loop, struct fsm *fsm,
                  const char *dir, raft_id id, const char *address,
                  const struct raftglue_opts *opts, struct rpc_server *srv,
                  char *err);

/* True when dir holds Raft log entries or snapshots (the server was part
 * of a cluster): such a server must never bootstrap again. */
bool raftglue_dir_has_state(const char *dir);

struct raftglue_server {
    uint64_t id;
    const char *address;
    bool voter;
};

/* Bootstrap a configuration of exactly these servers (before start),
 * unless the log already holds state (then nothing happens, 0). */
int raftglue_bootstrap(struct raftglue *rg, const struct raftglue_server *s,
                       size_t n, char *err);
int raftglue_bootstrap_self(struct raftglue *rg, char *err);
/* Force a configuration onto the log (peers.json recovery; before
 * start). */
int raftglue_recover(struct raftglue *rg, const struct raftglue_server *s,
                     size_t n, char *err);

int raftglue_start(struct raftglue *rg, char *err);

/* Whether libraft's AIO contexts are destroyed off the loop
 * (raftglue_aio.c replaces syscall(3) for it). */
bool raftglue_aio_deferred(void);

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
    uint64_t last_log_term, last_snapshot_term;
};
void raftglue_stats(struct raftglue *rg, struct raftglue_stats *st);

/* Servers in the current configuration: fn(ctx, id, address, voter). */
typedef void (*raftglue_server_fn)(void *ctx, uint64_t id,
                                   const char *address, bool voter);
void raftglue_servers(struct raftglue *rg, raftglue_server_fn fn, void *ctx);

/* Membership changes (leader only; one at a time, else ERR_CONFLICT).
 * cb(ctx, rc) when the new configuration is committed. */
enum raftglue_change_op {
    RAFTGLUE_ADD,      /* as a spare */
    RAFTGLUE_STANDBY,  /* replicate, no vote */
    RAFTGLUE_VOTER,
    RAFTGLUE_REMOVE,
};
typedef void (*raftglue_done_cb)(void *ctx, int rc);
int raftglue_change(struct raftglue *rg, enum raftglue_change_op op,
                    uint64_t id, const char *address, raftglue_done_cb cb,
                    void *ctx, char *err);
/* Hand leadership to id (0: any voter); cb(ctx, 0) once someone else
 * leads, ERR_TIMEOUT when nobody took over. */
int raftglue_transfer(struct raftglue *rg, uint64_t id, raftglue_done_cb cb,
                      void *ctx, char *err);

/* Leader only: what the leader knows of one follower's replication.
 * Returns false when not leader or id unknown. */
struct raftglue_progress {
    uint64_t match_index;
    bool recent_recv;      /* heard from it within the election timeout */
    uint64_t last_send_ms;
};
bool raftglue_progress(struct raftglue *rg, uint64_t id,
                       struct raftglue_progress *out);
uint64_t raftglue_leader_id(struct raftglue *rg);
/* Index of the configuration in use (committed or not). */
uint64_t raftglue_config_index(struct raftglue *rg);
/* Role of id in the configuration: RAFT_VOTER/STANDBY/SPARE, -1 none. */
int raftglue_role(struct raftglue *rg, uint64_t id);

/* Record the Raft gauges (raft.applied_index, raft.last_index,
 * raft.commit_index, raft.term) in the process-wide metrics registry
 * and, on the leader, one raft.leader.lastContact sample per other
 * server (ms since it was last heard from). Counters and timings
 * (raft.apply, raft.commitTime, raft.fsm.apply, raft.state.*) are
 * recorded as they happen. */
void raftglue_metrics(struct raftglue *rg);

void raftglue_set_state_cb(struct raftglue *rg, raftglue_state_cb cb,
                           void *ctx);

/* Stop raft, close I/O and transport; cb runs when all is released.
 * Must not be called from inside an apply callback. */
void raftglue_close(struct raftglue *rg, raftglue_close_cb cb);

#endif

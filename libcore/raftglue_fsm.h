/* raftglue_fsm.h - the libraft FSM adapter: entry framing and struct fsm.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Owns: nothing (the struct fsm is borrowed).
 * Split from raftglue.c so that it can be driven by raft_fixture in unit
 * tests exactly as the agent drives it on raft_uv.
 * Tests: t/unit/check_raftglue.c
 *
 * Log entries are framed: libraft 0.15 pads entry data to 8 bytes on
 * disk but reads back unpadded lengths, so a command whose length is not
 * a multiple of 8 corrupts the segment it lands in. Every entry is
 * therefore "PCR1" + u32 payload length (little endian) + payload + zero
 * padding to a multiple of 8.
 */
#ifndef PROCONSUL_RAFTGLUE_FSM_H
#define PROCONSUL_RAFTGLUE_FSM_H

#include <raft.h>
#include <stddef.h>
#include <uv.h>

#include <stdint.h>

#include "err.h"
#include "fsm.h"

struct raftglue_fsm {
    struct raft_fsm iface;          /* give &iface to raft_init */
    struct fsm *fsm;
    struct raft *raft;              /* for the index being applied */
    /* The loop raft runs on (NULL under raft_fixture): its clock is
     * brought up to date after an apply that held it (raftglue_fsm.c:
     * RAFTGLUE_STALL_MS). */
    uv_loop_t *loop;
    /* A leader after such an apply: its contact check is held (kept
     * restarted by raftglue_fsm_hold) until this raft time (0: none). */
    uint64_t hold_until;
    struct fsm_result last_result;  /* handed to apply callbacks */
    /* The Raft snapshot being taken (raftglue_fsm.c): a forked child
     * streams the state into an unlinked file, mapped when it is done. */
    int snap_pid;                   /* the child, 0 when none */
    int snap_fd;                    /* -1 when none */
    const void *snap_map;
    size_t snap_len;
    /* snap_len once the map is handed to libraft (set by the thread-pool
     * thread that maps it, read by the loop: raftglue_fsm_trim). */
    _Atomic size_t snap_out_len;
    /* After a failed snapshot (a full disk, most often), none is tried
     * again before this CLOCK_MONOTONIC time: libraft asks at every
     * entry applied past its threshold, and each try forks. */
    int64_t snap_retry_ns;
    /* When non-zero, libraft's snapshot threshold is set back to this
     * once a snapshot is done (raftglue.c lowers it to ask for one).
     * With raft_snapshot_interval set it is the ceiling that bounds the
     * log in memory; without, raft_snapshot_threshold. */
    unsigned after_threshold;
    /* Likewise libraft's trailing entry count (raftglue.c lowers it so
     * that a snapshot after a restore drops the restore's pieces). */
    unsigned after_trailing;
    /* Index of the last entry that ended a staged restore (its commit
     * or abort): the pieces before it are of no use any more. */
    uint64_t stage_end_index;
    /* Bytes of commands applied so far (raftglue.c: RAFTGLUE_SNAP_BYTES,
     * which lowers the threshold too). */
    uint64_t bytes_applied;
    /* Called after each command entry is applied, with its result
     * (raftglue.c completes the commands it queued). */
    void (*on_applied)(void *ctx, uint64_t index,
                       const struct fsm_result *res);
    void *applied_ctx;
};

/* Stop a Raft snapshot's child now (agent shutting down): the snapshot
 * then fails and the next one is taken after a restart. */
void raftglue_fsm_abort_snapshot(struct raftglue_fsm *gf);

/* While libraft writes a snapshot out of the mapped file, drop the
 * pages it has read from our page tables (loop; every poll): they are
 * page cache, but they count in the server's RSS, up to the size of the
 * state (hundreds of MB with a million keys) for the seconds the write
 * takes. A page still to be written is read back from the file. */
void raftglue_fsm_trim(struct raftglue_fsm *gf);

/* Every poll: a leader whose loop an apply held waits for the
 * followers to apply it too before it checks that they answer. */
void raftglue_fsm_hold(struct raftglue_fsm *gf);

/* Fill gf; raft may be set later (before raft_start). */
void raftglue_fsm_init(struct raftglue_fsm *gf, struct fsm *fsm,
                       struct raft *raft);

/* Frame len bytes of buf into out->base (raft_malloc'd, caller's). */
int raftglue_frame(const void *buf, size_t len, struct raft_buffer *out,
                   char *err);
/* Payload of a framed entry; 0, or -1 when it is not one of ours. */
int raftglue_unframe(const struct raft_buffer *buf, const void **data,
                     size_t *len);

#endif

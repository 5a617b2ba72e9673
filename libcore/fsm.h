/* fsm.h - the replicated state machine: command codec, apply, snapshot.
 *
 * Layer: store (uses util, codec, kv). Thread: loop only.
 * Owns: the kv_store (and later catalog, sessions, ACLs).
 * A command is one msgpack map; its encoding is documented in fsm.c and
 * versioned by the "v" field so that a newer agent can still apply an
 * older log. Unknown commands are an error, never a crash.
 * The snapshot encoding (msgpack stream with a header and typed records)
 * is documented in fsm.c; restore validates it fully before it replaces
 * anything, so a bad snapshot leaves the running state untouched.
 * Tests: t/unit/check_fsm.c
 */
#ifndef PROCONSUL_FSM_H
#define PROCONSUL_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kv.h"

enum fsm_kv_verb {
    FSM_KV_SET = 1,
    FSM_KV_CAS,
    FSM_KV_DELETE,
    FSM_KV_DELETE_CAS,
    FSM_KV_DELETE_TREE,
};

struct fsm_kv_op {
    enum fsm_kv_verb verb;
    const char *key;
    const void *val;
    size_t len;
    uint64_t flags;
    uint64_t cas;
};

/* Result of applying one command. */
struct fsm_result {
    int rc;          /* 0, or negative ERR_* (the command failed whole) */
    bool ok;         /* false when a CAS did not match */
    uint64_t index;  /* the Raft index it was applied at */
};

/* Something changed at index; kind is "kv" for now. */
typedef void (*fsm_change_fn)(void *ctx, const char *kind, uint64_t index);

struct fsm {
    struct kv_store *kv;
    uint64_t last_index;  /* last applied Raft index */
    fsm_change_fn on_change;
    void *ctx;
};

/* Zeroes f and creates the store; set on_change/ctx afterwards. */
int fsm_init(struct fsm *f, char *err);
void fsm_release(struct fsm *f);

/* Encode a KV command. *buf is allocated with alloc (raft_malloc for
 * raft_apply) and belongs to the caller. */
typedef void *(*fsm_alloc_fn)(size_t n);
int fsm_encode_kv(const struct fsm_kv_op *op, fsm_alloc_fn alloc,
                  void **buf, size_t *len, char *err);

/* Apply one encoded command at Raft index `index`. Fills res. Returns 0
 * when the command was understood (res->rc may still carry a per-command
 * error, e.g. ERR_INVAL for a bad key), or ERR_PARSE for a buffer it
 * cannot decode. On ERR_PARSE nothing changes, not even last_index;
 * otherwise last_index = index, and on_change(ctx, "kv", index) runs if
 * the store may have changed (not for a failed CAS or a no-op delete). */
int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_result *res, char *err);

/* Serialize the whole state. *buf comes from alloc. */
int fsm_snapshot(const struct fsm *f, fsm_alloc_fn alloc, void **buf,
                 size_t *len, char *err);

/* Replace the whole state with a snapshot; on any error nothing changes
 * (ERR_PARSE, or ERR_NOMEM). On success last_index is the snapshot's and
 * on_change(ctx, "kv", last_index) runs, as indexes may have gone back. */
int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err);

#endif

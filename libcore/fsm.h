/* fsm.h - the replicated state machine: command codec, apply, snapshot.
 *
 * Layer: store (uses util, codec, kv, cat, acl). Thread: loop only.
 * Owns: the kv_store, the cat_store (catalog), the acl_store (tokens,
 * policies, roles), the sess_store (sessions) and the autopilot
 * configuration.
 * A command is one msgpack map; its encoding is documented in fsm.c and
 * versioned by the "v" field so that a newer agent can still apply an
 * older log; its "t" field names the table it is for ("kv",
 * "autopilot", "catalog", "acl", "session"). Unknown commands are an error, never a
 * crash.
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

#include <jansson.h>

#include "acl.h"
#include "cat.h"
#include "err.h"
#include "kv.h"
#include "sess.h"

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

/* A transaction (Consul's /v1/txn): up to FSM_TXN_MAX_OPS operations
 * applied as one command, all or nothing (fsm_txn.c). verb is Consul's
 * verb name ("set", "cas", "lock", "unlock", "get", "get-tree",
 * "check-index", "check-session", "check-not-exists", "delete",
 * "delete-tree", "delete-cas"); index is the op's Index (cas,
 * check-index, delete-cas); session is NULL or the op's Session. Every
 * pointer is borrowed. */
#define FSM_TXN_MAX_OPS 64
enum fsm_txn_kind { FSM_TXN_KV, FSM_TXN_NODE, FSM_TXN_SERVICE, FSM_TXN_CHECK };
struct fsm_txn_op {
    enum fsm_txn_kind kind; /* the catalog kinds: "get", "set", "cas",
                             * "delete", "delete-cas"; key is the node,
                             * id the service or check ID, index the
                             * ModifyIndex of a cas or delete-cas */
    const char *id;
    const char *verb;
    const char *key;
    const void *val;
    size_t len;
    uint64_t flags;
    uint64_t index;
    const char *session;
    const char *req;        /* a catalog set or cas: the JSON text of the
                             * catalog RegisterRequest it makes (cat.h),
                             * else NULL */
};

/* What a transaction produced: on success the results (copies of the
 * entries: values only for "get" and "get-tree", as Consul), else the
 * errors (each op that failed, with Consul's message). */
struct fsm_txn_error {
    int op_index;
    char what[ERR_LEN];
};
struct fsm_txn_result {
    enum fsm_txn_kind kind;
    struct kv_entry *kv;    /* FSM_TXN_KV: own key, value, session */
    json_t *obj;            /* else Consul's Node, NodeService or
                             * HealthCheck object (owned) */
};
struct fsm_txn_out {
    uint64_t index;         /* the Raft index it was applied at */
    size_t nres, nerr;
    struct fsm_txn_result *res;
    struct fsm_txn_error *err;
};

/* The autopilot configuration as replicated through Raft (Consul keeps
 * it in its FSM too, as "Autopilot config"). set is false until the first
 * write; indexes are the Raft indexes of the first and the last write.
 * Every number is >= 0 and durations are at most FSM_MAX_DURATION_MS. */
struct fsm_autopilot {
    bool set;
    bool cleanup_dead_servers;
    int64_t last_contact_threshold_ms;
    int64_t max_trailing_logs;
    int64_t min_quorum;
    int64_t server_stabilization_time_ms;
    uint64_t create_index, modify_index;
};

/* The longest Go time.Duration (INT64_MAX ns), in whole milliseconds. */
#define FSM_MAX_DURATION_MS INT64_C(9223372036854)

/* Result of applying one command. */
struct fsm_result {
    int rc;          /* 0, or negative ERR_* (the command failed whole) */
    bool ok;         /* false when a CAS did not match */
    uint64_t index;  /* the Raft index it was applied at */
    char msg[ERR_LEN]; /* rc's message ("" when rc is 0): for a catalog
                        * or acl command, Consul's text ("Must provide
                        * node") */
};

/* Something changed at index; kind is "kv", "autopilot", "catalog",
 * "acl", "session", or "fatal" (see fsm_restore). One command may
 * report several kinds (a session destroy: "session" then "kv"; a
 * catalog write that invalidates sessions: "catalog", "session",
 * "kv"). */
typedef void (*fsm_change_fn)(void *ctx, const char *kind, uint64_t index);

struct fsm_stage;

struct fsm {
    struct fsm_stage *stage; /* a restore being staged (fsm_stage.c) */
    const char *tmp_dir;  /* where restores stage and back up (NULL:
                           * /tmp); borrowed, set by the owner */
    struct kv_store *kv;
    struct cat_store *cat;
    struct acl_store *acl;
    struct sess_store *sess;
    struct fsm_autopilot autopilot;
    struct fsm_txn_out *txn_out; /* the last transaction's (fsm_txn.c) */
    uint64_t last_index;  /* last applied Raft index */
    bool sess_changed, kv_changed, cat_changed; /* fsm_apply's scratch:
                                    * other tables the command changed */
    fsm_change_fn on_change;
    void *ctx;
};

/* Zeroes f and creates the stores; set on_change/ctx afterwards. dc is
 * the datacenter the catalog gives nodes registered without one (it
 * must be the same on every server; NULL: "dc1"); fsm_init uses "dc1". */
int fsm_init_dc(struct fsm *f, const char *dc, char *err);
int fsm_init(struct fsm *f, char *err);
void fsm_release(struct fsm *f);

/* Encode a KV command. *buf is allocated with alloc (raft_malloc for
 * raft_apply) and belongs to the caller. */
typedef void *(*fsm_alloc_fn)(size_t n);
int fsm_encode_kv(const struct fsm_kv_op *op, fsm_alloc_fn alloc,
                  void **buf, size_t *len, char *err);

/* Encode a write of the whole autopilot configuration (ap->set and the
 * indexes are ignored). With use_cas it applies only if cas equals the
 * current modify_index, 0 meaning "only if never set". ERR_INVAL for a
 * negative number or a duration above FSM_MAX_DURATION_MS. */
int fsm_encode_autopilot(const struct fsm_autopilot *ap, bool use_cas,
                         uint64_t cas, fsm_alloc_fn alloc, void **buf,
                         size_t *len, char *err);

/* Encode a catalog write: op "register" (req is Consul's
 * RegisterRequest JSON) or "deregister" (DeregisterRequest). The
 * request is checked as far as it can be without the state
 * (cat_check_register): ERR_INVAL with Consul's message, so a bad
 * request never reaches the log. The datacenter should be filled in by
 * the caller (Consul's HTTP layer does). */
int fsm_encode_catalog(const char *op, const json_t *req,
                       fsm_alloc_fn alloc, void **buf, size_t *len,
                       char *err);

/* Encode an ACL write: op is one of acl_store_apply's ("token-set",
 * "token-delete", "policy-set", "policy-delete", "role-set",
 * "role-delete", "bootstrap", "init") and req its request. The request
 * is checked first (acl_store_check): ERR_INVAL with the message, so a
 * bad request never reaches the log. Everything the write stores
 * (IDs, SecretID, CreateTime, Hash, the secret) must already be in req:
 * apply generates nothing. */
int fsm_encode_acl(const char *op, const json_t *req, fsm_alloc_fn alloc,
                   void **buf, size_t *len, char *err);

/* Encode a session write: op "create" (req: the session in sess.h's
 * canonical shape, without indexes; the caller fills in the ID and the
 * defaults), "destroy" ({"ID"}), "acquire" / "release" ({"Key",
 * "Session","Flags"?} (Flags: the uint64 as a two's-complement int64)
 * with the value in val/len: Consul's KVSLock and
 * KVSUnlock). ERR_INVAL for a request of the wrong shape. Apply of a
 * create refuses ("Missing node registration", "Missing check '%s'
 * registration", "Check '%s' is in critical state"); an acquire with an
 * unknown session is ERR_NOTFOUND "invalid session \"<id>\"". */
int fsm_encode_session(const char *op, const json_t *req, const void *val,
                       size_t len, fsm_alloc_fn alloc, void **buf,
                       size_t *blen, char *err);
/* Encode a transaction of n (1..FSM_TXN_MAX_OPS) operations. Each op
 * is checked as far as it can be without the state: ERR_INVAL with a
 * message naming the op ("operation 2: unknown KV verb \"put\""). */
int fsm_encode_txn(const struct fsm_txn_op *ops, size_t n,
                   fsm_alloc_fn alloc, void **buf, size_t *len, char *err);
/* Is verb one that changes the state (Consul's isWrite)? */
bool fsm_txn_is_write(const char *verb);
/* Run a read-only transaction (no op may write: ERR_INVAL) against the
 * current state, without Raft; *out is new (index 0), for
 * fsm_txn_out_free. */
int fsm_txn_read(const struct fsm *f, const struct fsm_txn_op *ops,
                 size_t n, struct fsm_txn_out **out, char *err);
/* The outcome of the transaction applied at index, detached (the
 * caller frees it), or NULL when the last transaction applied is not
 * that one (only the last one is kept). */
struct fsm_txn_out *fsm_txn_take(struct fsm *f, uint64_t index);
void fsm_txn_out_free(struct fsm_txn_out *o);

/* Apply one encoded command at Raft index `index`. Fills res. Returns 0
 * when the command was understood (res->rc may still carry a per-command
 * error, e.g. ERR_INVAL for a bad key, a negative autopilot value or a
 * catalog request the catalog refuses, or an acl write the ACL store
 * refuses (ERR_INVAL, ERR_EXISTS, ERR_NOTFOUND, ERR_DENIED as
 * acl_store_apply returns them), with the message in res->msg and
 * err), or ERR_PARSE for a buffer it cannot decode. On ERR_PARSE nothing
 * changes, not even last_index; otherwise last_index = index, and
 * on_change(ctx, kind, index) runs if the table may have changed (not
 * for a failed CAS, a no-op delete or a catalog write that changed
 * nothing, nor for an acl write that failed or changed nothing). An
 * autopilot write keeps the create_index of the first write
 * and sets modify_index = index. A catalog or acl write that succeeds
 * has res->ok set, whether or not it changed anything. err may be NULL.
 */
int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_result *res, char *err);

/* Serialize the whole state. *buf comes from alloc. */
int fsm_snapshot(const struct fsm *f, fsm_alloc_fn alloc, void **buf,
                 size_t *len, char *err);

/* Stream the whole state (the bytes fsm_snapshot would return) through
 * out, in pieces, without building it in memory: the size is counted
 * first, then written: size_fn(ctx, size) runs once before any out
 * call (non-zero aborts; NULL: no counting pass); out returns
 * non-zero to abort (then ERR_IO). The state must not change while it
 * runs (call it within one loop turn, or in a forked child). */
typedef int (*fsm_size_fn)(void *ctx, uint64_t size);
typedef int (*fsm_out_fn)(void *ctx, const void *p, size_t n);
int fsm_snapshot_stream(const struct fsm *f, fsm_size_fn size_fn,
                        fsm_out_fn out, void *ctx, char *err);

/* The encoding version fsm_snapshot writes (the first record's). */
uint64_t fsm_snapshot_version(void);

/* What a snapshot stream holds, for `snapshot inspect`: a new array of
 * {"Name","Count","Size"} per record type present (Size: encoded
 * bytes), in stream order; ERR_PARSE on a stream it cannot decode. */
int fsm_snapshot_stats(const void *buf, size_t len, json_t **out,
                       char *err);

/* Restore through Raft: the state stream in pieces (fsm_stage.c). op
 * "begin" (num = the stream's size, sha_hex its SHA-256 in lower-case
 * hex), "chunk" (num = offset, p/n the bytes, n <= FSM_RESTORE_CHUNK),
 * "commit", "abort". id: 1..FSM_RESTORE_ID_MAX of [a-z0-9-]. A commit
 * swaps the state in (fsm_restore) only when all bytes arrived and the
 * hash matches; its result's rc says why not. */
#define FSM_RESTORE_CHUNK (1024 * 1024)
#define FSM_RESTORE_MAX (UINT64_C(16) << 30)
#define FSM_RESTORE_ID_MAX 64
int fsm_encode_restore(const char *op, const char *id, uint64_t num,
                       const char *sha_hex, const void *p, size_t n,
                       fsm_alloc_fn alloc, void **buf, size_t *len,
                       char *err);
/* A restore is staged (fsm_snapshot then fails with ERR_CONFLICT). */
bool fsm_restore_pending(const struct fsm *f);
/* The staged restore's id (borrowed) and how many bytes arrived; NULL
 * when none is staged. */
const char *fsm_restore_staged(const struct fsm *f, uint64_t *received);
/* Every byte of the staged restore arrived (its commit comes next). */
bool fsm_restore_complete(const struct fsm *f);

/* Replace the whole state with a snapshot; on any error nothing changes
 * (ERR_PARSE, or ERR_NOMEM). The old state is first streamed to an
 * unlinked file in tmp_dir and freed, so that only one state is in
 * memory at a time (fsm_restore.c); a failure brings it back from there.
 * If the old state cannot be brought back (memory), or a committed
 * restore cannot be applied on this server (fsm_stage.c: its staging
 * file failed), on_change(ctx, "fatal", index) runs: this server's state
 * no longer follows the log and it must stop. On success last_index is the snapshot's and
 * on_change(ctx, "kv", last_index) runs, as indexes may have gone back;
 * then on_change(ctx, "autopilot", last_index) if the autopilot
 * configuration was set before or after, and on_change(ctx, "catalog",
 * last_index) if the catalog had anything before or after, and
 * on_change(ctx, "acl", last_index) if the ACL state had anything (an
 * index or the cluster secret) before or after, and on_change(ctx,
 * "session", last_index) if the session table index was non-zero
 * before or after (a snapshot without session records restores none). A snapshot without an
 * autopilot record leaves it unset, one without catalog records an
 * empty catalog (same datacenter), one without ACL records an empty
 * ACL state. */
int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err);

#endif

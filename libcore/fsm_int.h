/* fsm_int.h - internals shared by the fsm files: the msgpack helpers
 * (fsm_codec.c), the command table and decoder (fsm_cmd.c), catalog
 * commands and records (fsm_cat.c), ACL commands and records
 * (fsm_acl.c), the snapshot (fsm_snap.c). Nothing
 * outside the fsm module includes it.
 *
 * Layer: store. Thread: loop only.
 * The formats themselves are documented in fsm.c.
 */
#ifndef PROCONSUL_FSM_INT_H
#define PROCONSUL_FSM_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm.h"

#define FSM_CMD_VERSION 1
#define FSM_SNAP_FORMAT "proconsul-state"
#define FSM_SNAP_VERSION 1

enum {
    FSM_REC_END = 0,
    FSM_REC_ENTRY = 1,
    FSM_REC_TOMB = 2,
    FSM_REC_AUTOPILOT = 3,
    FSM_REC_CAT = 4,
    FSM_REC_CAT_INDEX = 5,
    FSM_REC_ACL = 6,
    FSM_REC_SESSION = 7,
    FSM_REC_SESSION_INDEX = 8,
    FSM_REC_COUNT
};

/* ---- fsm_codec.c ---- */

/* Decode the complete object at *off (bounds proven first) and advance
 * *off past it; ERR_PARSE when cut off or malformed. */
int fsm_unpack_at(msgpack_unpacked *u, const char *buf, size_t len,
                  size_t *off, char *err);
bool fsm_str_is(const msgpack_object *o, const char *s);
bool fsm_is_uint(const msgpack_object *o);
const msgpack_object *fsm_map_get(const msgpack_object_map *m,
                                  const char *name);
/* Copy a msgpack str into out as a C string: 1..max bytes, no NUL;
 * ERR_PARSE for another type, ERR_INVAL for the content. */
int fsm_to_cstr(const msgpack_object *o, char *out, size_t max,
                const char *what, char *err);
int fsm_pack_cstr(msgpack_packer *pk, const char *s);

/* Run emit once to size the output and once into an exact buffer from
 * alloc. emit must be a pure function of arg; the second pass cannot
 * fail. */
typedef int (*fsm_emit_fn)(msgpack_packer *pk, const void *arg);
int fsm_pack_exact(fsm_emit_fn emit, const void *arg, fsm_alloc_fn alloc,
                   void **buf, size_t *len, char *err);

/* ---- fsm_cmd.c ---- */

enum {
    F_V, F_T, F_VERB, F_KEY, F_VAL, F_FLAGS, F_CAS,
    F_CLEANUP, F_CONTACT, F_TRAILING, F_QUORUM, F_STABLE,
    F_OP, F_REQ, F_OPS, F_COUNT
};
enum {
    T_KV, T_AUTOPILOT, T_CATALOG, T_ACL, T_RESTORE, T_SESSION, T_TXN,
    T_COUNT
};

extern const char *const fsm_field_names[F_COUNT];
extern const char *const fsm_table_names[T_COUNT];

struct fsm_cmd {
    const msgpack_object *f[F_COUNT];
    int table;
};

/* One whole command, every field checked for name, type and table. */
int fsm_decode_cmd(const char *buf, size_t len, msgpack_unpacked *u,
                   struct fsm_cmd *c, char *err);
int fsm_check_op_key(const char *key, size_t len, uint64_t verb,
                     char *err);
int fsm_check_autopilot(const struct fsm_autopilot *ap, char *err);
/* The four numbers of an autopilot configuration, in command order. */
void fsm_ap_numbers(const struct fsm_autopilot *ap, int64_t v[4]);

/* ---- fsm_cat.c ---- */

/* Catalog op names, indexed by the decoded op. */
enum { FSM_CAT_REGISTER, FSM_CAT_DEREGISTER, FSM_CAT_NOPS };
int fsm_cat_op(const msgpack_object *o);
int fsm_apply_catalog(struct fsm *f, uint64_t index,
                      const struct fsm_cmd *c, bool *ok, bool *changed,
                      char *err);

/* The catalog's snapshot records, serialized before packing so that
 * the packing passes cannot fail. */
struct fsm_cat_dump;
int fsm_cat_dump_new(const struct cat_store *cat, struct fsm_cat_dump **out,
                     char *err);
void fsm_cat_dump_free(struct fsm_cat_dump *d);
/* Emit the records; adds their number to *records. */
int fsm_cat_emit(msgpack_packer *pk, const struct fsm_cat_dump *d,
                 uint64_t *records);

/* Restore one REC_CAT or REC_CAT_INDEX record (array a of n fields)
 * into cat; *indexes_begun enforces records before indexes. ERR_PARSE
 * or ERR_NOMEM. */
int fsm_cat_restore(struct cat_store *cat, const msgpack_object *a,
                    uint32_t n, bool *indexes_begun, char *err);

/* ---- fsm_acl.c ---- */

/* Index of an acl op name, or -1. */
int fsm_acl_op(const msgpack_object *o);
int fsm_apply_acl(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                  bool *ok, bool *changed, char *err);

/* The ACL records of a snapshot, serialized before packing. */
struct fsm_acl_dump;
int fsm_acl_dump_new(const struct acl_store *acl, struct fsm_acl_dump **out,
                     char *err);
void fsm_acl_dump_free(struct fsm_acl_dump *d);
/* Emit the records; adds their number to *records. */
int fsm_acl_emit(msgpack_packer *pk, const struct fsm_acl_dump *d,
                 uint64_t *records);
/* Restore one REC_ACL record (array a of n fields) into acl. ERR_PARSE
 * or ERR_NOMEM. */
int fsm_acl_restore(struct acl_store *acl, const msgpack_object *a,
                    uint32_t n, char *err);

/* ---- fsm_sess.c ---- */

enum {
    FSM_SESS_CREATE, FSM_SESS_DESTROY, FSM_SESS_ACQUIRE, FSM_SESS_RELEASE,
    FSM_SESS_NOPS
};
int fsm_sess_op(const msgpack_object *o);
/* *changed: the sessions table; *kv_changed: the kv table. */
int fsm_apply_session(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                      bool *ok, bool *changed, bool *kv_changed, char *err);
/* Destroy session id at index: release or delete its keys, set their
 * lock delay, remove it. *existed false (and nothing done) if absent;
 * *kv_changed is set (never cleared) when keys changed. */
int fsm_sess_destroy(struct fsm *f, const char *id, uint64_t index,
                     bool *existed, bool *kv_changed, char *err);
/* After a catalog write: destroy the sessions whose node or checks went
 * away or went critical. Sets (never clears) the two flags. */
int fsm_sess_after_catalog(struct fsm *f, uint64_t index, bool *sess_changed,
                           bool *kv_changed, char *err);

struct fsm_sess_dump;
int fsm_sess_dump_new(const struct sess_store *s, struct fsm_sess_dump **out,
                      char *err);
void fsm_sess_dump_free(struct fsm_sess_dump *d);
/* Emit the session records, then the table index record (if non-zero);
 * adds their number to *records. */
int fsm_sess_emit(msgpack_packer *pk, const struct fsm_sess_dump *d,
                  uint64_t table_index, uint64_t *records);
/* Restore one REC_SESSION or REC_SESSION_INDEX record; *index_seen
 * enforces sessions before the index. ERR_PARSE or ERR_NOMEM. */
int fsm_sess_restore(struct sess_store *s, const msgpack_object *a,
                     uint32_t n, bool *index_seen, char *err);
/* ---- fsm_txn.c ---- */

/* Apply a "txn" command: *ok when every op succeeded (then *changed if
 * the kv store may differ); the outcome goes to f->txn_out. ERR_PARSE
 * for an op list the decoder refuses (nothing changes). */
int fsm_apply_txn(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                  bool *ok, bool *changed, char *err);
/* Check an op list's shape (count, fields, types, verbs): ERR_PARSE. */
int fsm_txn_check_ops(const msgpack_object *o, char *err);

/* ---- fsm_stage.c ---- */

int fsm_stage_op(const msgpack_object *o);
/* Apply a "restore" command; on a commit that swaps the state in,
 * fsm_restore has already reported the changes. */
int fsm_apply_stage(struct fsm *f, const struct fsm_cmd *c, bool *ok,
                    char *err);
void fsm_stage_free(struct fsm *f);

/* The first record of a snapshot stream (fsm_restore.c). */
struct fsm_snap_header {
    uint64_t version;
    uint64_t last_index;
    uint64_t table_index;
};
int fsm_check_header(const msgpack_object *o, struct fsm_snap_header *h,
                     char *err);

#endif

/* fsm.c - the replicated state machine: apply and lifecycle; the
 * formats of commands and snapshots are documented here.
 *
 * Layer: store (uses util, kv, cat, acl). Thread: loop only.
 * Owns: f->kv, f->cat, f->acl, f->autopilot. Command and snapshot
 * buffers come from the caller's alloc function and belong to the
 * caller.
 * Tests: t/unit/check_fsm.c
 * Split: fsm_codec.c (msgpack helpers), fsm_cmd.c (command codec),
 * fsm_cat.c (catalog commands and records), fsm_acl.c (ACL commands
 * and records), fsm_snap.c (snapshot).
 *
 * Command, version 1: one msgpack map and nothing after it. "v" and "t"
 * are common to every command; "t" selects the table, and with it the
 * other fields. A new table is a new "t" value under the same "v" (the
 * commands of the older tables keep their bytes): an agent that predates
 * a table refuses its commands as undecodable, which raftglue logs and
 * skips, so every server must know a table before it is written.
 *   "v"     uint  1             required; other versions are refused
 *   "t"     str   "kv" | "autopilot" | "catalog" | "acl" |
 *                 "restore" | "session" | "txn"         required
 * "t":"kv", a key/value write:
 *   "verb"  uint  fsm_kv_verb   required; 1 set, 2 cas, 3 delete,
 *                               4 delete-cas, 5 delete-tree
 *   "key"   str                 required; at most KV_MAX_KEY bytes, no
 *                               NUL, non-empty except for delete-tree
 *   "val"   bin                 optional, default empty
 *   "flags" uint                optional, default 0
 *   "cas"   uint                optional, default 0
 * The encoder writes all seven fields in this order.
 * "t":"autopilot", a write of the whole autopilot configuration (what
 * Consul logs as AutopilotRequestType):
 *   "cleanup_dead_servers"          bool  required
 *   "last_contact_threshold_ms"     int   required
 *   "max_trailing_logs"             int   required
 *   "min_quorum"                    int   required
 *   "server_stabilization_time_ms"  int   required
 *   "cas"                           uint  optional; when present the
 *                               write applies only if it equals the
 *                               current modify_index (0: only if never
 *                               set), else the result is ok=false
 * The encoder writes them in this order, "cas" last and only for a CAS.
 * "int" is a msgpack integer of either sign: a negative value, or a
 * duration above FSM_MAX_DURATION_MS, is a per-command ERR_INVAL (the
 * encoder never writes one).
 * "t":"catalog", Consul's RegisterRequestType / DeregisterRequestType:
 *   "op"    str   "register" | "deregister"     required
 *   "req"   str   the RegisterRequest / DeregisterRequest as compact
 *                 JSON text (what the HTTP API takes)   required
 * The encoder writes the four fields in this order. The JSON is parsed
 * at apply time (duplicate keys and NUL characters refused); text that
 * does not parse, or a request that cat_register/cat_deregister
 * refuses, is a per-command ERR_INVAL with Consul's message in the
 * result ("Request decode failed: ...", "Must provide node"); the
 * encoder already refuses what it can check without the state. Keeping
 * the request as JSON keeps new request fields out of this codec: they
 * are the catalog's business.
 * "t":"acl", a write to the ACL state (acl_store_apply):
 *   "op"    str   "token-set" | "token-delete" | "policy-set" |
 *                 "policy-delete" | "role-set" | "role-delete" |
 *                 "bootstrap" | "init"                  required
 *   "req"   str   the op's request as compact JSON text  required
 * The encoder writes the four fields in this order, after
 * acl_store_check passed. The request carries every value the write
 * stores (IDs, SecretID, CreateTime, Hash, the cluster secret), so that
 * apply is deterministic. Text that does not parse (as for catalog
 * requests) is a per-command ERR_INVAL ("Request decode failed: ...");
 * a request the ACL store refuses is a per-command error with its code
 * (ERR_INVAL, ERR_EXISTS, ERR_NOTFOUND, ERR_DENIED) and message.
 * "t":"session", a session write or a kv write that needs a session
 * (Consul's SessionRequestType, KVSLock and KVSUnlock):
 *   "op"    str   "create" | "destroy" | "acquire" | "release" required
 *   "req"   str   JSON: create: the session (sess.h's shape, without
 *                 indexes); destroy: {"ID"}; acquire and release:
 *                 {"Key","Session","Flags"?}                required
 *                 (Flags: the uint64 as a two's-complement int64)
 *   "val"   bin   acquire and release only: the value (may be empty)
 * The encoder writes "v","t","op","req" and, for acquire and release,
 * "val", in this order. Apply of a create checks the catalog as Consul
 * does (node registered, checks present and not critical); a destroy
 * of an unknown session succeeds and changes nothing; destroying one
 * releases or deletes its keys (its Behavior) and sets their lock
 * delay (kept in memory only). A catalog write also destroys, in the
 * same apply, every session whose node or check it removed or made
 * critical (fsm_sess.c).
 * "t":"restore", a snapshot restore replicated in pieces (fsm_stage.c):
 *   "op"    str   "begin" | "chunk" | "commit" | "abort"  required
 *   "req"   str   JSON: begin {"ID","Size","SHA256"}, chunk {"ID",
 *                 "Offset"}, commit and abort {"ID"}      required
 *   "val"   bin   chunk only: up to FSM_RESTORE_CHUNK bytes of the
 *                 snapshot stream below, at Offset
 * begin stages Size bytes (replacing a restore left staged), chunks
 * must arrive in order, commit swaps the stream in through fsm_restore
 * only when all of it arrived and its SHA-256 matches (else a
 * per-command ERR_INVAL and the state is untouched); abort drops it.
 * "t":"txn", a transaction (Consul's TxnRequestType; fsm_txn.c):
 *   "ops"   array of 1..FSM_TXN_MAX_OPS op maps            required
 * each op:
 *   "kind"    str   "kv" | "node" | "service" | "check"    required
 *   "verb"    str   Consul's verb: "set" | "cas" | "lock" | "unlock" |
 *                   "get" | "get-tree" | "check-index" |
 *                   "check-session" | "check-not-exists" | "delete" |
 *                   "delete-tree" | "delete-cas"          required
 *   "key"     str   as a kv command's key; empty only for get-tree
 *                   and delete-tree                        required
 *   "val"     bin   optional, default empty
 *   "flags"   uint  optional, default 0
 *   "index"   uint  the op's Index (cas, check-index, delete-cas)
 *   "session" str   at most 128 bytes, no NUL              optional
 * A "node", "service" or "check" op (Consul's catalog ops) has only
 * "kind", "verb" ("get", "set", "cas", "delete" or "delete-cas"), "key"
 * (the node, at most 1024 bytes), for a service or check "id" (its ID,
 * at most 1024 bytes, required), "index" (cas, delete-cas; optional,
 * default 0) and, for set and cas only (required), "req" (str: the
 * JSON text of the catalog RegisterRequest the write makes).
 * The encoder writes the three command fields and, per kv op, kind,
 * verb, key, val, flags, index, then session when one is given; per
 * catalog op kind, verb, key, then id, index and req when given. The
 * ops run in order at the command's index; if any fails the kv and
 * catalog state stay as they were and the result lists the errors
 * (fsm_txn_take). An op the
 * decoder refuses (unknown field or kind, wrong type, bad key, more
 * than FSM_TXN_MAX_OPS) makes the whole buffer undecodable.
 * An unknown or repeated field, a field of another table, a wrong type,
 * an unknown verb or op, a truncated map or bytes after it make the
 * buffer undecodable (ERR_PARSE, nothing changes); a bad key, autopilot
 * value or catalog request is a per-command ERR_INVAL in the result, a
 * refused acl request a per-command error. A
 * new field or meaning within a table bumps "v", and old versions stay
 * decodable because the Raft log may hold them.
 *
 * Snapshot, version 1: a stream of msgpack objects.
 *   header  {"format":"proconsul-state", "version":1,
 *            "last_index":uint, "kv_table_index":uint}
 *   entry   [1, key str, val bin|nil, flags uint, create_index uint,
 *            modify_index uint, lock_index uint, session str|nil]
 *   tomb    [2, key str, index uint]
 *   autopilot [3, cleanup_dead_servers bool, last_contact_threshold_ms
 *            uint, max_trailing_logs uint, min_quorum uint,
 *            server_stabilization_time_ms uint, create_index uint,
 *            modify_index uint]
 *   catalog [4, table uint (0 node, 1 service, 2 check), node str|nil,
 *            record str]: one catalog record as compact JSON in its
 *            exact shape (cat.h); node is nil for a node record and
 *            the node's name otherwise
 *   catalog index [5, kind uint (enum cat_index_kind), name str|nil,
 *            index uint]: the table indexes (0-2), a node's (3) or a
 *            service name's (4) index, the node (5) and service (6)
 *            extinction indexes
 *   acl     [6, record str]: one acl_store_foreach record as compact
 *            JSON ({"Kind":"policy"|"role"|"token"|"meta", ...})
 *   session [7, record str]: one session as compact JSON in sess.h's
 *            shape with "CreateIndex" and "ModifyIndex"
 *   session index [8, index uint]: the sessions table index (it also
 *            covers removals), after every session record, at most once
 *   end     [0, number of records between the header and it]
 * The writer emits entries then tombstones, each in key order, then the
 * autopilot record if the configuration was ever set, then the catalog
 * records in cat_foreach order (nodes, services, checks) and the
 * catalog indexes in cat_foreach_index order, then the ACL records in
 * acl_store_foreach order (policies, roles, tokens, then one "meta"
 * record with the table and bootstrap indexes and the cluster secret),
 * then the sessions in ID order and the session index (only when the
 * table index is non-zero: a state that never had a session writes no
 * session record).
 * The kv and autopilot records may come in any order; catalog records
 * must come in an order cat_restore_record accepts (a node before its
 * services, a service before its checks), and no catalog record may
 * follow a catalog index; no ACL record may follow the ACL meta record,
 * which comes at most once. The autopilot record is optional, at most
 * one, and its values are checked as a command's are, with 1 <=
 * create_index <= modify_index; without it the configuration restores
 * as unset. Catalog records are checked field by field
 * (cat_restore_record, cat_restore_index), and so are ACL records
 * (acl_store_restore_record: shapes, unique IDs, Names and SecretIDs,
 * Rules that parse; links are not checked); a state without a catalog
 * or without ACLs writes none of their records. So a snapshot of a
 * state that never had an autopilot configuration, a catalog or ACLs
 * is byte for byte what earlier writers produced, and the version stays
 * 1; a reader that predates a record type refuses a stream that has one
 * ("unknown record type 4", or 6, or 7). Every older stream reads as
 * before (no session record: no sessions).
 * Nothing may follow the end record, so a cut stream never passes for a
 * complete one. Restore decodes into a new kv_store, cat_store,
 * acl_store, sess_store and autopilot value and swaps them in only when every
 * record checked out.
 */
#include "fsm.h"

#include <string.h>

#include "acl.h"
#include "cat.h"
#include "fsm_int.h"
#include "kv.h"
#include "metrics.h"

/* ---- apply ---- */

static uint64_t opt_u64(const struct fsm_cmd *c, int fi)
{
    return c->f[fi] != NULL ? c->f[fi]->via.u64 : 0;
}

/* Run a decoded command; *changed says whether the store may differ. */
static int run_kv(struct kv_store *kv, uint64_t index,
                  const struct fsm_cmd *c, const char *key, bool *ok,
                  bool *changed, char *err)
{
    const void *val = NULL;
    size_t len = 0, n;
    bool existed = kv_peek(kv, key) != NULL;
    uint64_t flags = opt_u64(c, F_FLAGS), cas = opt_u64(c, F_CAS);
    int rc = 0;

    if (c->f[F_VAL] != NULL && c->f[F_VAL]->via.bin.size > 0) {
        val = c->f[F_VAL]->via.bin.ptr;
        len = c->f[F_VAL]->via.bin.size;
    }
    *ok = true;
    switch (c->f[F_VERB]->via.u64) {
    case FSM_KV_SET:
        rc = kv_put(kv, key, val, len, flags, index, err);
        *changed = true;
        break;
    case FSM_KV_CAS:
        rc = kv_cas(kv, key, val, len, flags, cas, index, ok, err);
        *changed = *ok;
        break;
    case FSM_KV_DELETE:
        rc = kv_delete(kv, key, index, err);
        *changed = existed;
        break;
    case FSM_KV_DELETE_CAS:
        rc = kv_delete_cas(kv, key, cas, index, ok, err);
        *changed = existed && *ok;
        break;
    default:
        n = kv_count(kv);
        rc = kv_delete_tree(kv, key, index, err);
        *changed = kv_count(kv) != n;
        break;
    }
    if (rc != 0)
        *ok = *changed = false;
    return rc;
}

static int apply_kv(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                    bool *ok, bool *changed, char *err)
{
    char key[KV_MAX_KEY + 1];
    const msgpack_object_str *k = &c->f[F_KEY]->via.str;
    int rc = fsm_check_op_key(k->ptr, k->size, c->f[F_VERB]->via.u64, err);

    if (rc != 0)
        return rc;
    if (k->size > 0)
        memcpy(key, k->ptr, k->size);
    key[k->size] = '\0';
    return run_kv(f->kv, index, c, key, ok, changed, err);
}

static int apply_autopilot(struct fsm *f, uint64_t index,
                           const struct fsm_cmd *c, bool *ok, bool *changed,
                           char *err)
{
    struct fsm_autopilot ap, *cur = &f->autopilot;
    int64_t v[4];
    int i, rc;

    for (i = 0; i < 4; i++) {
        const msgpack_object *o = c->f[F_CONTACT + i];

        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return err_set(err, ERR_INVAL, "autopilot %s is negative",
                           fsm_field_names[F_CONTACT + i]);
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return err_set(err, ERR_INVAL, "autopilot %s is too large",
                           fsm_field_names[F_CONTACT + i]);
        v[i] = (int64_t)o->via.u64;
    }
    memset(&ap, 0, sizeof(ap));
    ap.cleanup_dead_servers = c->f[F_CLEANUP]->via.boolean;
    ap.last_contact_threshold_ms = v[0];
    ap.max_trailing_logs = v[1];
    ap.min_quorum = v[2];
    ap.server_stabilization_time_ms = v[3];
    if ((rc = fsm_check_autopilot(&ap, err)) != 0)
        return rc;
    /* A CAS that does not match is not an error: ok stays false. */
    if (c->f[F_CAS] != NULL &&
        c->f[F_CAS]->via.u64 != (cur->set ? cur->modify_index : 0))
        return 0;
    ap.set = true;
    ap.create_index = cur->set ? cur->create_index : index;
    ap.modify_index = index;
    *cur = ap;
    *ok = *changed = true;
    return 0;
}

/* A catalog write, then the sessions it invalidates (Consul does both
 * in one state store transaction). */
static int apply_catalog(struct fsm *f, uint64_t index,
                         const struct fsm_cmd *c, bool *ok, bool *changed,
                         char *err)
{
    int rc = fsm_apply_catalog(f, index, c, ok, changed, err);

    if (rc == 0 && *changed)
        rc = fsm_sess_after_catalog(f, index, &f->sess_changed,
                                    &f->kv_changed, err);
    return rc;
}

static int dispatch(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                    bool *ok, bool *changed, bool *kv_changed, char *err)
{
    switch (c->table) {
    case T_KV: return apply_kv(f, index, c, ok, changed, err);
    case T_AUTOPILOT: return apply_autopilot(f, index, c, ok, changed, err);
    case T_CATALOG: return apply_catalog(f, index, c, ok, changed, err);
    case T_RESTORE: return fsm_apply_stage(f, c, ok, err);
    case T_SESSION:
        return fsm_apply_session(f, index, c, ok, changed, kv_changed, err);
    case T_TXN: return fsm_apply_txn(f, index, c, ok, changed, err);
    default: return fsm_apply_acl(f, index, c, ok, changed, err);
    }
}

/* Per-table apply timings, by Consul's names where it has one. */
static const char *const apply_metric[T_COUNT] = {
    "fsm.kvs", "fsm.autopilot", "fsm.catalog", "fsm.acl", "fsm.restore",
    "fsm.session", "fsm.txn",
};

int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_result *res, char *err)
{
    msgpack_unpacked u;
    struct fsm_cmd c;
    bool changed = false;
    uint64_t t0 = metrics_now_ns();
    int rc;

    res->rc = 0;
    res->ok = false;
    res->index = index;
    res->msg[0] = '\0';
    msgpack_unpacked_init(&u);
    rc = fsm_decode_cmd(buf, len, &u, &c, res->msg);
    if (rc != 0) {
        msgpack_unpacked_destroy(&u);
        err_prefix(res->msg, "decoding command at index %llu",
                   (unsigned long long)index);
        if (err != NULL)
            memcpy(err, res->msg, ERR_LEN);
        return res->rc = rc;
    }
    f->sess_changed = f->kv_changed = f->cat_changed = false;
    res->rc = dispatch(f, index, &c, &res->ok, &changed, &f->kv_changed,
                       res->msg);
    msgpack_unpacked_destroy(&u);
    if (c.table >= 0 && c.table < T_COUNT)
        metrics_sample(apply_metric[c.table], metrics_since_ms(t0));
    if (res->rc == 0)
        res->msg[0] = '\0';
    else if (err != NULL)
        memcpy(err, res->msg, ERR_LEN);
    f->last_index = index;
    if (f->on_change != NULL) {
        if (changed)
            f->on_change(f->ctx, c.table == T_TXN ? "kv"
                                                  : fsm_table_names[c.table],
                         index);
        if (f->cat_changed && c.table == T_TXN)
            f->on_change(f->ctx, "catalog", index);
        if (f->sess_changed && c.table != T_SESSION)
            f->on_change(f->ctx, "session", index);
        if (f->kv_changed && c.table != T_KV)
            f->on_change(f->ctx, "kv", index);
    }
    return 0;
}

/* ---- lifecycle ---- */

int fsm_init_dc(struct fsm *f, const char *dc, char *err)
{
    memset(f, 0, sizeof(*f));
    if ((f->kv = kv_new()) == NULL ||
        (f->cat = cat_new(dc != NULL ? dc : "dc1")) == NULL ||
        (f->acl = acl_store_new()) == NULL ||
        (f->sess = sess_new()) == NULL) {
        fsm_release(f);
        return err_set(err, ERR_NOMEM, "creating the state store");
    }
    return 0;
}

int fsm_init(struct fsm *f, char *err) { return fsm_init_dc(f, NULL, err); }

void fsm_release(struct fsm *f)
{
    kv_free(f->kv);
    f->kv = NULL;
    cat_free(f->cat);
    f->cat = NULL;
    acl_store_free(f->acl);
    f->acl = NULL;
    sess_free(f->sess);
    f->sess = NULL;
    fsm_txn_out_free(f->txn_out);
    f->txn_out = NULL;
    fsm_stage_free(f);
}

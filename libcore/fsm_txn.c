/* fsm_txn.c - transactions (Consul's /v1/txn): the "txn" command's
 * codec, and its all-or-nothing apply.
 *
 * Layer: store (uses util, msgpack, kv, cat, sess). Thread: loop only.
 * Owns: f->txn_out (the last transaction's outcome) and, while one
 * runs, the undo log.
 * Tests: t/unit/check_fsm_txn.c, t/t8101-txn.sh
 *
 * The ops run in order against the live store, as Consul's do inside
 * one memdb transaction, so that a later op sees an earlier one's
 * write. Before an op first changes a key, the key's state (its entry,
 * or its tombstone's index, or nothing) goes to an undo log; when any
 * op fails, every op still runs (to report all errors, as Consul does),
 * then the log puts each saved key back and the kv table index returns
 * to its old value, so a failed transaction leaves the store exactly as
 * it was. Nothing is observable in between: apply runs in one loop turn
 * and on_change runs after it, only when the transaction committed.
 *
 * Catalog writes (node, service, check set / cas / delete / delete-cas)
 * first run, in order with the rest, against a scratch copy of the
 * catalog (made through the snapshot record walk), where the catalog
 * gets of the same transaction read too; only when every op succeeded
 * are they replayed against the live catalog, then the sessions the
 * new catalog invalidates are destroyed (as a catalog command does).
 * A failed transaction so never touches the live catalog or any
 * session. The copy costs O(catalog) per transaction that writes it.
 */
#include "fsm_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "cat.h"
#include "kv.h"
#include "log.h"
#include "sess.h"

/* ---- verbs ---- */

enum verb {
    V_SET, V_CAS, V_LOCK, V_UNLOCK, V_GET, V_GET_TREE, V_CHECK_INDEX,
    V_CHECK_SESSION, V_CHECK_NOT_EXISTS, V_DELETE, V_DELETE_TREE,
    V_DELETE_CAS, V_COUNT
};
static const char *const verb_names[V_COUNT] = {
    "set", "cas", "lock", "unlock", "get", "get-tree", "check-index",
    "check-session", "check-not-exists", "delete", "delete-tree",
    "delete-cas",
};

static int verb_of(const char *s, size_t n)
{
    for (int i = 0; i < V_COUNT; i++)
        if (strlen(verb_names[i]) == n && memcmp(verb_names[i], s, n) == 0)
            return i;
    return -1;
}

static bool verb_writes(int v)
{
    return v == V_SET || v == V_CAS || v == V_LOCK || v == V_UNLOCK ||
           v == V_DELETE || v == V_DELETE_TREE || v == V_DELETE_CAS;
}

/* Verbs whose key may be empty (the whole store). */
static bool verb_prefix(int v) { return v == V_GET_TREE || v == V_DELETE_TREE; }

bool fsm_txn_is_write(const char *verb)
{
    int v = verb != NULL ? verb_of(verb, strlen(verb)) : -1;

    return v >= 0 && verb_writes(v);
}

/* ---- the op list on the wire ---- */

/* Fields of one op, in encoder order. */
enum {
    O_KIND, O_VERB, O_KEY, O_VAL, O_FLAGS, O_INDEX, O_SESSION, O_ID, O_REQ,
    O_COUNT
};
static const char *const op_fields[O_COUNT] = {
    "kind", "verb", "key", "val", "flags", "index", "session", "id", "req",
};
static const msgpack_object_type op_types[O_COUNT] = {
    MSGPACK_OBJECT_STR, MSGPACK_OBJECT_STR, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_BIN, MSGPACK_OBJECT_POSITIVE_INTEGER,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_STR,
};
static const char *const kind_names[] = {"kv", "node", "service", "check"};
#define NAME_MAX_LEN 1024 /* a node, service or check name */
#define SESSION_MAX 128

/* One decoded op: fields point into the msgpack object. */
struct wire_op {
    const msgpack_object *f[O_COUNT];
    int verb;
    enum fsm_txn_kind kind;
};

static int check_key(const char *p, size_t n, int verb, char *err)
{
    if (n == 0 && !verb_prefix(verb))
        return err_set(err, ERR_INVAL, "missing key name");
    if (n > KV_MAX_KEY)
        return err_set(err, ERR_INVAL, "key longer than %d bytes",
                       KV_MAX_KEY);
    if (n > 0 && memchr(p, '\0', n) != NULL)
        return err_set(err, ERR_INVAL, "key contains a NUL byte");
    return 0;
}

static int check_session(const char *p, size_t n, char *err)
{
    if (n > SESSION_MAX)
        return err_set(err, ERR_INVAL, "session longer than %d bytes",
                       SESSION_MAX);
    if (n > 0 && memchr(p, '\0', n) != NULL)
        return err_set(err, ERR_INVAL, "session contains a NUL byte");
    return 0;
}

/* The verbs of catalog ops. */
static bool cat_verb(int v)
{
    return v == V_GET || v == V_SET || v == V_CAS || v == V_DELETE ||
           v == V_DELETE_CAS;
}

static bool cat_verb_req(int v) { return v == V_SET || v == V_CAS; }

/* A catalog op: a node name, (service, check) an ID, a request for set
 * and cas. */
static int decode_cat_op(const struct wire_op *w, char *err)
{
    const msgpack_object_str *k = &w->f[O_KEY]->via.str;
    const msgpack_object_str *id =
        w->f[O_ID] != NULL ? &w->f[O_ID]->via.str : NULL;

    if (!cat_verb(w->verb))
        return err_set(err, ERR_PARSE, "bad catalog verb");
    if (w->f[O_VAL] || w->f[O_FLAGS] || w->f[O_SESSION])
        return err_set(err, ERR_PARSE, "catalog op with kv fields");
    if ((w->f[O_REQ] != NULL) != cat_verb_req(w->verb))
        return err_set(err, ERR_PARSE, "catalog op with%s a request",
                       w->f[O_REQ] != NULL ? "" : "out");
    if (w->f[O_REQ] != NULL &&
        memchr(w->f[O_REQ]->via.str.ptr, '\0', w->f[O_REQ]->via.str.size))
        return err_set(err, ERR_PARSE, "catalog request with a NUL byte");
    if (k->size > NAME_MAX_LEN || memchr(k->ptr, '\0', k->size) != NULL ||
        (w->kind == FSM_TXN_NODE) != (id == NULL) ||
        (id != NULL && (id->size > NAME_MAX_LEN ||
                        memchr(id->ptr, '\0', id->size) != NULL)))
        return err_set(err, ERR_PARSE, "bad catalog op names");
    return 0;
}

static int decode_op(const msgpack_object *o, struct wire_op *w, char *err)
{
    const msgpack_object_map *m;
    const msgpack_object_str *s;
    uint32_t i;
    int fi;

    memset(w, 0, sizeof(*w));
    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, ERR_PARSE, "op is not a map");
    m = &o->via.map;
    for (i = 0; i < m->size; i++) {
        for (fi = 0; fi < O_COUNT; fi++)
            if (fsm_str_is(&m->ptr[i].key, op_fields[fi]))
                break;
        if (fi == O_COUNT)
            return err_set(err, ERR_PARSE, "unknown op field");
        if (w->f[fi] != NULL)
            return err_set(err, ERR_PARSE, "op field '%s' given twice",
                           op_fields[fi]);
        if (m->ptr[i].val.type != op_types[fi])
            return err_set(err, ERR_PARSE, "op field '%s' has the wrong "
                           "type", op_fields[fi]);
        w->f[fi] = &m->ptr[i].val;
    }
    if (w->f[O_KIND] == NULL || w->f[O_VERB] == NULL || w->f[O_KEY] == NULL)
        return err_set(err, ERR_PARSE, "op lacks a required field");
    for (fi = 0; fi < 4 && !fsm_str_is(w->f[O_KIND], kind_names[fi]); fi++)
        ;
    if (fi == 4)
        return err_set(err, ERR_PARSE, "unknown op kind");
    w->kind = (enum fsm_txn_kind)fi;
    s = &w->f[O_VERB]->via.str;
    if ((w->verb = verb_of(s->ptr, s->size)) < 0)
        return err_set(err, ERR_PARSE, "unknown kv verb");
    if (w->kind != FSM_TXN_KV)
        return decode_cat_op(w, err);
    if (w->f[O_ID] != NULL || w->f[O_REQ] != NULL)
        return err_set(err, ERR_PARSE, "kv op with a catalog field");
    s = &w->f[O_KEY]->via.str;
    if (check_key(s->ptr, s->size, w->verb, err) != 0)
        return ERR_PARSE;
    if (w->f[O_SESSION] != NULL &&
        check_session(w->f[O_SESSION]->via.str.ptr,
                      w->f[O_SESSION]->via.str.size, err) != 0)
        return ERR_PARSE;
    return 0;
}

int fsm_txn_check_ops(const msgpack_object *o, char *err)
{
    struct wire_op w;
    uint32_t i;
    int rc;

    if (o->via.array.size == 0 || o->via.array.size > FSM_TXN_MAX_OPS)
        return err_set(err, ERR_PARSE, "txn with %u ops",
                       (unsigned)o->via.array.size);
    for (i = 0; i < o->via.array.size; i++)
        if ((rc = decode_op(&o->via.array.ptr[i], &w, err)) != 0)
            return err_prefix(err, "op %u", (unsigned)i), rc;
    return 0;
}

/* ---- encoder ---- */

struct txn_arg {
    const struct fsm_txn_op *ops;
    size_t n;
};

static int emit_cat_op(msgpack_packer *pk, const struct fsm_txn_op *op)
{
    bool id = op->kind != FSM_TXN_NODE;
    bool idx = op->index != 0, req = op->req != NULL;

    return msgpack_pack_map(pk, (size_t)(3 + id + idx + req)) ||
           fsm_pack_cstr(pk, "kind") ||
           fsm_pack_cstr(pk, kind_names[op->kind]) ||
           fsm_pack_cstr(pk, "verb") || fsm_pack_cstr(pk, op->verb) ||
           fsm_pack_cstr(pk, "key") || fsm_pack_cstr(pk, op->key) ||
           (id && (fsm_pack_cstr(pk, "id") || fsm_pack_cstr(pk, op->id))) ||
           (idx && (fsm_pack_cstr(pk, "index") ||
                    msgpack_pack_uint64(pk, op->index))) ||
           (req && (fsm_pack_cstr(pk, "req") || fsm_pack_cstr(pk, op->req)));
}

static int emit_op(msgpack_packer *pk, const struct fsm_txn_op *op)
{
    const char *sess = op->session != NULL ? op->session : "";
    int nf = 6 + (sess[0] != '\0');

    if (op->kind != FSM_TXN_KV)
        return emit_cat_op(pk, op);
    return msgpack_pack_map(pk, (size_t)nf) || fsm_pack_cstr(pk, "kind") ||
           fsm_pack_cstr(pk, "kv") || fsm_pack_cstr(pk, "verb") ||
           fsm_pack_cstr(pk, op->verb) || fsm_pack_cstr(pk, "key") ||
           fsm_pack_cstr(pk, op->key) || fsm_pack_cstr(pk, "val") ||
           msgpack_pack_bin_with_body(pk, op->val, op->len) ||
           fsm_pack_cstr(pk, "flags") || msgpack_pack_uint64(pk, op->flags) ||
           fsm_pack_cstr(pk, "index") || msgpack_pack_uint64(pk, op->index) ||
           (sess[0] != '\0' &&
            (fsm_pack_cstr(pk, "session") || fsm_pack_cstr(pk, sess)));
}

static int emit_txn(msgpack_packer *pk, const void *arg)
{
    const struct txn_arg *a = arg;
    int rc = msgpack_pack_map(pk, 3) || fsm_pack_cstr(pk, "v") ||
             msgpack_pack_uint64(pk, FSM_CMD_VERSION) ||
             fsm_pack_cstr(pk, "t") || fsm_pack_cstr(pk, "txn") ||
             fsm_pack_cstr(pk, "ops") || msgpack_pack_array(pk, a->n);

    for (size_t i = 0; i < a->n && rc == 0; i++)
        rc = emit_op(pk, &a->ops[i]);
    return rc;
}

/* A catalog write's request: JSON, and what cat_check_register sees. */
static int check_cat_req(const char *text, char *err)
{
    json_error_t je;
    json_t *req = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int rc;

    if (req == NULL)
        return err_set(err, ERR_INVAL, "Request decode failed: %s",
                       je.text);
    rc = cat_check_register(req, err);
    json_decref(req);
    return rc;
}

/* What the encoder can check of one op. */
static int check_op(const struct fsm_txn_op *op, char *err)
{
    int v;

    if (op->kind > FSM_TXN_CHECK)
        return err_set(err, ERR_INVAL, "unknown operation kind");
    if (op->kind != FSM_TXN_KV) {
        v = op->verb != NULL ? verb_of(op->verb, strlen(op->verb)) : -1;
        if (v < 0 || !cat_verb(v))
            return err_set(err, ERR_INVAL, "unknown %s verb \"%.32s\"",
                           kind_names[op->kind],
                           op->verb != NULL ? op->verb : "");
        if (op->key == NULL || strlen(op->key) > NAME_MAX_LEN ||
            (op->kind != FSM_TXN_NODE &&
             (op->id == NULL || strlen(op->id) > NAME_MAX_LEN)))
            return err_set(err, ERR_INVAL, "bad %s operation",
                           kind_names[op->kind]);
        if ((op->req != NULL) != cat_verb_req(v))
            return err_set(err, ERR_INVAL, "%s %s operation with%s a "
                           "request", kind_names[op->kind], op->verb,
                           op->req != NULL ? "" : "out");
        return op->req != NULL ? check_cat_req(op->req, err) : 0;
    }
    if (op->verb == NULL || (v = verb_of(op->verb, strlen(op->verb))) < 0)
        return err_set(err, ERR_INVAL, "unknown KV verb \"%.32s\"",
                       op->verb != NULL ? op->verb : "");
    if (op->key == NULL)
        return err_set(err, ERR_INVAL, "missing key name");
    if (check_key(op->key, strnlen(op->key, KV_MAX_KEY + 1), v, err) != 0)
        return ERR_INVAL;
    if (op->val == NULL && op->len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       op->len);
    if (op->session != NULL &&
        check_session(op->session, strnlen(op->session, SESSION_MAX + 1),
                      err) != 0)
        return ERR_INVAL;
    return 0;
}

int fsm_encode_txn(const struct fsm_txn_op *ops, size_t n,
                   fsm_alloc_fn alloc, void **buf, size_t *len, char *err)
{
    struct txn_arg a = {ops, n};
    int rc;

    if (n == 0 || n > FSM_TXN_MAX_OPS)
        return err_set(err, ERR_INVAL, "a transaction has 1 to %d "
                       "operations, not %zu", FSM_TXN_MAX_OPS, n);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_op(&ops[i], err)) != 0)
            return err_prefix(err, "operation %zu", i), rc;
    return fsm_pack_exact(emit_txn, &a, alloc, buf, len, err);
}

/* ---- outcome ---- */

void fsm_txn_out_free(struct fsm_txn_out *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->nres; i++) {
        free(o->res[i].kv);
        json_decref(o->res[i].obj);
    }
    free(o->res);
    free(o->err);
    free(o);
}

struct fsm_txn_out *fsm_txn_take(struct fsm *f, uint64_t index)
{
    struct fsm_txn_out *o = f->txn_out;

    if (o == NULL || o->index != index)
        return NULL;
    f->txn_out = NULL;
    return o;
}

/* One block: the entry, then key, session and value. */
static struct kv_entry *entry_copy(const struct kv_entry *e, bool val)
{
    size_t kl = strlen(e->key) + 1;
    size_t sl = e->session != NULL ? strlen(e->session) + 1 : 0;
    size_t vl = val ? e->len : 0;
    struct kv_entry *c = malloc(sizeof(*c) + kl + sl + vl);
    char *p;

    if (c == NULL)
        return NULL;
    *c = *e;
    p = (char *)(c + 1);
    c->key = memcpy(p, e->key, kl);
    p += kl;
    c->session = sl > 0 ? memcpy(p, e->session, sl) : NULL;
    p += sl;
    c->val = vl > 0 ? memcpy(p, e->val, vl) : NULL;
    c->len = vl;
    return c;
}

/* The run of one transaction: results, errors, undo log. */
struct saved {
    char *key;
    struct kv_entry *e;  /* its entry (entry_copy), or NULL */
    uint64_t tomb;       /* else its tombstone's index, or 0 */
};
struct run {
    struct kv_store *kv;
    const struct sess_store *sess; /* for lock: does the session exist */
    const struct cat_store *cat;   /* for the catalog gets */
    struct cat_store *live;        /* apply: the catalog to write */
    struct cat_store *scratch;     /* its copy the ops run against */
    uint64_t index;
    struct fsm_txn_out *out;
    size_t rescap, errcap;
    struct saved *undo;
    size_t nundo, undocap;
    bool nomem;
    bool cat_lost; /* a committed catalog write failed on the live store */
};

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 8;
    void *q;

    if (need <= *cap)
        return true;
    while (n < need)
        n *= 2;
    if ((q = realloc(*p, n * size)) == NULL)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static void add_result(struct run *r, const struct kv_entry *e, bool val)
{
    struct fsm_txn_out *o = r->out;
    struct kv_entry *c;

    if (!grow((void **)&o->res, &r->rescap, o->nres + 1, sizeof(*o->res)) ||
        (c = entry_copy(e, val)) == NULL) {
        r->nomem = true;
        return;
    }
    o->res[o->nres++] = (struct fsm_txn_result){FSM_TXN_KV, c, NULL};
}

/* A catalog result (takes obj; NULL means out of memory). */
static void add_obj(struct run *r, enum fsm_txn_kind kind, json_t *obj)
{
    struct fsm_txn_out *o = r->out;

    if (obj == NULL ||
        !grow((void **)&o->res, &r->rescap, o->nres + 1, sizeof(*o->res))) {
        json_decref(obj);
        r->nomem = true;
        return;
    }
    o->res[o->nres++] = (struct fsm_txn_result){kind, NULL, obj};
}

static void add_error(struct run *r, size_t i, const char *what)
{
    struct fsm_txn_out *o = r->out;

    if (!grow((void **)&o->err, &r->errcap, o->nerr + 1, sizeof(*o->err))) {
        r->nomem = true;
        return;
    }
    o->err[o->nerr].op_index = (int)i;
    snprintf(o->err[o->nerr].what, sizeof(o->err[o->nerr].what), "%s",
             what);
    o->nerr++;
}

/* Remember key's state before its first change. */
static int save(struct run *r, const char *key)
{
    const struct kv_entry *e = kv_peek(r->kv, key);
    struct saved *s;

    for (size_t i = 0; i < r->nundo; i++)
        if (strcmp(r->undo[i].key, key) == 0)
            return 0;
    if (!grow((void **)&r->undo, &r->undocap, r->nundo + 1,
              sizeof(*r->undo)))
        return ERR_NOMEM;
    s = &r->undo[r->nundo];
    memset(s, 0, sizeof(*s));
    if ((s->key = strdup(key)) == NULL)
        return ERR_NOMEM;
    if (e != NULL && (s->e = entry_copy(e, true)) == NULL) {
        free(s->key);
        return ERR_NOMEM;
    }
    if (e == NULL)
        s->tomb = kv_key_index(r->kv, key);
    r->nundo++;
    return 0;
}

static int save_fn(void *ctx, const struct kv_entry *e)
{
    return save(ctx, e->key);
}

static void undo_free(struct run *r)
{
    for (size_t i = 0; i < r->nundo; i++) {
        free(r->undo[i].key);
        free(r->undo[i].e);
    }
    free(r->undo);
    r->undo = NULL;
    r->nundo = 0;
}

/* Put every saved key back; false if memory ran out doing it. */
static bool rollback(struct run *r, uint64_t table_index)
{
    char err[ERR_LEN];
    bool ok = true;

    for (size_t i = r->nundo; i-- > 0;) {
        struct saved *s = &r->undo[i];

        kv_forget(r->kv, s->key);
        if (s->e != NULL)
            ok &= kv_restore_entry(r->kv, s->e, err) == 0;
        else if (s->tomb != 0)
            ok &= kv_restore_tombstone(r->kv, s->key, s->tomb, err) == 0;
    }
    kv_reset_table_index(r->kv, table_index);
    return ok;
}

/* ---- running the ops ---- */

/* s as Go's %q would print it (Consul's messages use it), cut to
 * ERR_QUOTE_MAX bytes. */
static const char *goq(char *out, size_t cap, const char *s)
{
    char q[ERR_QUOTE_MAX + 1];
    size_t o = 0;

    err_quote(q, sizeof(q), s);
    out[o++] = '"';
    for (const char *p = q; *p != '\0' && o + 3 < cap; p++) {
        if (*p == '"' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

#define QLEN (2 * ERR_QUOTE_MAX + 4)

/* "<pre><key as %q><post>" */
static void fail(struct run *r, size_t i, const char *pre, const char *key,
                 const char *post)
{
    char kq[QLEN], what[ERR_LEN];

    snprintf(what, sizeof(what), "%s%s%s", pre, goq(kq, sizeof(kq), key),
             post);
    add_error(r, i, what);
}

static int result_fn(void *ctx, const struct kv_entry *e)
{
    add_result(ctx, e, true);
    return 0;
}

/* Read verbs; they never change the store. */
static void run_read(struct run *r, size_t i, int v,
                     const struct fsm_txn_op *op)
{
    const struct kv_entry *e = kv_peek(r->kv, op->key);
    char what[ERR_LEN], kq[QLEN];

    switch (v) {
    case V_GET_TREE:
        kv_walk_prefix(r->kv, op->key, result_fn, r);
        return;
    case V_CHECK_NOT_EXISTS:
        if (e != NULL)
            fail(r, i, "key ", op->key, " exists");
        return;
    case V_GET:
        if (e == NULL)
            fail(r, i, "key ", op->key, " doesn't exist");
        break;
    case V_CHECK_INDEX:
        if (e == NULL) {
            fail(r, i, "failed to check index, key ", op->key,
                 " doesn't exist");
        } else if (e->modify_index != op->index) {
            snprintf(what, sizeof(what), "failed index check for key %s, "
                     "current modify index %llu != %llu",
                     goq(kq, sizeof(kq), op->key),
                     (unsigned long long)e->modify_index,
                     (unsigned long long)op->index);
            add_error(r, i, what);
            e = NULL;
        }
        break;
    default: /* V_CHECK_SESSION */
        if (e == NULL)
            fail(r, i, "failed to check session, key ", op->key,
                 " doesn't exist");
        else if (strcmp(e->session != NULL ? e->session : "",
                        op->session != NULL ? op->session : "") != 0) {
            char sq[QLEN], oq[QLEN];

            snprintf(what, sizeof(what), "failed session check for key %s, "
                     "current session %s != %s", goq(kq, sizeof(kq), op->key),
                     goq(sq, sizeof(sq), e->session != NULL ? e->session : ""),
                     goq(oq, sizeof(oq),
                         op->session != NULL ? op->session : ""));
            add_error(r, i, what);
            e = NULL;
        }
        break;
    }
    if (e != NULL)
        add_result(r, e, v == V_GET);
}

/* lock / unlock (Consul's kvsLockTxn / kvsUnlockTxn): a session must
 * be given, and for a lock exist; a lock held by another session, or an
 * unlock by a session that does not hold it, fails the op. */
static int run_lock(struct run *r, size_t i, int v,
                    const struct fsm_txn_op *op, char *err)
{
    const char *sid = op->session != NULL ? op->session : "";
    char sq[QLEN];
    bool ok = false;
    int rc;

    if (sid[0] == '\0')
        return err_set(err, ERR_INVAL, "missing session");
    if (v == V_LOCK) {
        if (r->sess == NULL || sess_peek(r->sess, sid) == NULL)
            return err_set(err, ERR_INVAL, "invalid session %s",
                           goq(sq, sizeof(sq), sid));
        rc = kv_acquire(r->kv, op->key, op->val, op->len, op->flags, sid,
                        r->index, &ok, err);
        if (rc == 0 && !ok)
            fail(r, i, "failed to lock key ", op->key,
                 ", lock is already held");
    } else {
        rc = kv_release(r->kv, op->key, op->val, op->len, op->flags, sid,
                        r->index, &ok, err);
        if (rc == 0 && !ok)
            fail(r, i, "failed to unlock key ", op->key,
                 ", lock isn't held, or is held by another session");
    }
    return rc != 0 ? rc : ok ? 0 : 1;
}

/* Write verbs. */
static void run_write(struct run *r, size_t i, int v,
                      const struct fsm_txn_op *op)
{
    char err[ERR_LEN];
    bool ok = true;
    int rc;

    if (v == V_DELETE_TREE)
        rc = kv_walk_prefix(r->kv, op->key, save_fn, r);
    else
        rc = save(r, op->key);
    if (rc != 0) {
        r->nomem = true;
        return;
    }
    switch (v) {
    case V_SET:
        rc = kv_put(r->kv, op->key, op->val, op->len, op->flags, r->index,
                    err);
        break;
    case V_CAS:
        rc = kv_cas(r->kv, op->key, op->val, op->len, op->flags, op->index,
                    r->index, &ok, err);
        if (rc == 0 && !ok)
            fail(r, i, "failed to set key ", op->key, ", index is stale");
        break;
    case V_DELETE:
        rc = kv_delete(r->kv, op->key, r->index, err);
        break;
    case V_DELETE_CAS:
        rc = kv_delete_cas(r->kv, op->key, op->index, r->index, &ok, err);
        if (rc == 0 && !ok)
            fail(r, i, "failed to delete key ", op->key,
                 ", index is stale");
        break;
    case V_DELETE_TREE:
        rc = kv_delete_tree(r->kv, op->key, r->index, err);
        break;
    default:
        rc = run_lock(r, i, v, op, err);
        ok = rc == 0;
        if (rc == 1)
            rc = 0;
        break;
    }
    if (rc == ERR_NOMEM)
        r->nomem = true;
    else if (rc != 0)
        add_error(r, i, err);
    else if (ok && (v == V_SET || v == V_CAS || v == V_LOCK ||
                    v == V_UNLOCK))
        add_result(r, kv_peek(r->kv, op->key), false);
}

/* A catalog "get" (Consul's txnNode / txnService / txnCheck). */
static void run_cat_get(struct run *r, size_t i, const struct fsm_txn_op *op)
{
    json_t *node = r->cat != NULL ? cat_node(r->cat, op->key) : NULL;
    json_t *hit = NULL, *c;
    char what[2 * QLEN + 64], nq[QLEN], iq[QLEN];
    size_t k;

    if (node != NULL && op->kind == FSM_TXN_NODE)
        hit = json_object_get(node, "Node");
    else if (node != NULL && op->kind == FSM_TXN_SERVICE)
        hit = json_object_get(json_object_get(node, "Services"), op->id);
    else if (node != NULL) {
        json_t *checks = cat_node_checks(r->cat, op->key);

        json_array_foreach(checks, k, c)
            if (json_is_string(json_object_get(c, "CheckID")) &&
                strcmp(json_string_value(json_object_get(c, "CheckID")),
                       op->id) == 0)
                hit = c;
        json_incref(hit);
        json_decref(checks);
        if (hit != NULL) {
            add_obj(r, op->kind, hit);
            json_decref(node);
            return;
        }
    }
    if (hit != NULL) {
        add_obj(r, op->kind, json_incref(hit));
        json_decref(node);
        return;
    }
    json_decref(node);
    goq(nq, sizeof(nq), op->key);
    if (op->kind == FSM_TXN_NODE)
        snprintf(what, sizeof(what), "node %s doesn't exist", nq);
    else
        snprintf(what, sizeof(what), "%s %s on node %s doesn't exist",
                 op->kind == FSM_TXN_SERVICE ? "service" : "check",
                 goq(iq, sizeof(iq), op->id), nq);
    add_error(r, i, what);
}

/* ---- catalog writes ---- */

/* The node's check `id` (a new reference), or NULL. */
static json_t *find_check(const struct cat_store *s, const char *node,
                          const char *id)
{
    json_t *checks = cat_node_checks(s, node), *c, *hit = NULL;
    size_t k;

    json_array_foreach(checks, k, c) {
        const char *cid = json_string_value(json_object_get(c, "CheckID"));

        if (cid != NULL && strcasecmp(cid, id) == 0)
            hit = json_incref(c);
    }
    json_decref(checks);
    return hit;
}

/* The record an op names (a new reference), or NULL. */
static json_t *cat_record(const struct cat_store *s,
                          const struct fsm_txn_op *op)
{
    json_t *node, *hit = NULL;

    if (op->kind == FSM_TXN_CHECK)
        return find_check(s, op->key, op->id);
    if ((node = cat_node(s, op->key)) == NULL)
        return NULL;
    if (op->kind == FSM_TXN_NODE)
        hit = json_object_get(node, "Node");
    else
        hit = json_object_get(json_object_get(node, "Services"), op->id);
    json_incref(hit);
    json_decref(node);
    return hit;
}

static uint64_t modify_index(const json_t *rec)
{
    return rec != NULL
               ? (uint64_t)json_integer_value(json_object_get(rec,
                                                              "ModifyIndex"))
               : 0;
}

#define CAT_WHAT (2 * QLEN + ERR_LEN)

/* "<what> <kind> %q[ on node %q]<post>" */
static void cat_msg(char *what, size_t n, const char *pre,
                    const struct fsm_txn_op *op, const char *post)
{
    char nq[QLEN], iq[QLEN];

    goq(nq, sizeof(nq), op->key);
    if (op->kind == FSM_TXN_NODE)
        snprintf(what, n, "%snode %s%s", pre, nq, post);
    else
        snprintf(what, n, "%s%s %s on node %s%s", pre, kind_names[op->kind],
                 goq(iq, sizeof(iq), op->id), nq, post);
}

/* One catalog write against s (Consul's txnNode / txnService /
 * txnCheck): 0 done (*result: the record written, for set and cas, when
 * result is not NULL), 1 the op failed (what says why), ERR_NOMEM. */
static int cat_write(struct cat_store *s, uint64_t index, int v,
                     const struct fsm_txn_op *op, json_t **result,
                     char *what, size_t wn)
{
    json_t *rec = cat_record(s, op), *req = NULL, *node;
    json_error_t je;
    char err[ERR_LEN];
    int rc = 0;

    if ((v == V_CAS && modify_index(rec) != op->index) ||
        (v == V_DELETE_CAS &&
         (rec == NULL || modify_index(rec) != op->index))) {
        cat_msg(what, wn, v == V_CAS ? "failed to set " : "failed to delete ",
                op, ", index is stale");
        json_decref(rec);
        return 1;
    }
    json_decref(rec);
    if (v == V_SET || v == V_CAS) {
        if (op->kind != FSM_TXN_NODE) {
            if ((node = cat_node(s, op->key)) == NULL) {
                snprintf(what, wn, "Missing node registration");
                return 1;
            }
            json_decref(node);
        }
        if ((req = json_loads(op->req, JSON_REJECT_DUPLICATES, &je)) == NULL) {
            snprintf(what, wn, "Request decode failed: %s", je.text);
            return 1;
        }
        rc = cat_register(s, index, req, err);
    } else {
        req = op->kind == FSM_TXN_NODE
                  ? json_pack("{s:s}", "Node", op->key)
                  : json_pack("{s:s, s:s}", "Node", op->key,
                              op->kind == FSM_TXN_SERVICE ? "ServiceID"
                                                          : "CheckID",
                              op->id);
        if (req == NULL)
            return ERR_NOMEM;
        rc = cat_deregister(s, index, req, err);
    }
    json_decref(req);
    if (rc == ERR_NOMEM)
        return rc;
    if (rc != 0) {
        snprintf(what, wn, "%s", err);
        return 1;
    }
    if (result != NULL && (v == V_SET || v == V_CAS) &&
        (*result = cat_record(s, op)) == NULL) {
        cat_msg(what, wn, "", op, " not found after the write");
        return 1;
    }
    return 0;
}

static void run_cat_write(struct run *r, size_t i, int v,
                          const struct fsm_txn_op *op)
{
    char what[CAT_WHAT];
    json_t *res = NULL;
    int rc = cat_write(r->scratch, r->index, v, op, &res, what, sizeof(what));

    if (rc == ERR_NOMEM)
        r->nomem = true;
    else if (rc != 0)
        add_error(r, i, what);
    else if (res != NULL)
        add_obj(r, op->kind, res);
}

/* A copy of a catalog through its snapshot walk. */
static int copy_rec(void *ctx, enum cat_table t, const char *node,
                    const json_t *rec)
{
    char err[ERR_LEN];

    return cat_restore_record(ctx, t, node, rec, err) != 0 ? -1 : 0;
}

static int copy_idx(void *ctx, enum cat_index_kind k, const char *name,
                    uint64_t index)
{
    char err[ERR_LEN];

    return cat_restore_index(ctx, k, name, index, err) != 0 ? -1 : 0;
}

static struct cat_store *cat_copy(const struct cat_store *src)
{
    struct cat_store *d = cat_new(cat_datacenter(src));

    if (d != NULL && (cat_foreach(src, copy_rec, d) != 0 ||
                      cat_foreach_index(src, copy_idx, d) != 0)) {
        cat_free(d);
        d = NULL;
    }
    return d;
}

static bool is_cat_write(const struct fsm_txn_op *op)
{
    return op->kind != FSM_TXN_KV && strcmp(op->verb, "get") != 0;
}

/* Replay the catalog writes on the live catalog; false if one failed
 * there (it did not on the copy: only memory can run out). */
static bool commit_cat(struct run *r, const struct fsm_txn_op *ops, size_t n)
{
    char what[CAT_WHAT];

    for (size_t i = 0; i < n; i++)
        if (is_cat_write(&ops[i]) &&
            cat_write(r->live, r->index,
                      verb_of(ops[i].verb, strlen(ops[i].verb)), &ops[i],
                      NULL, what, sizeof(what)) != 0)
            return false;
    return true;
}

/* Run every op; on any error roll back. *changed: the store differs. */
static void run_all(struct run *r, const struct fsm_txn_op *ops, size_t n,
                    bool *changed, bool *cat_changed)
{
    uint64_t table_index = kv_table_index(r->kv);
    bool wrote = false, catw = false;

    *cat_changed = false;
    for (size_t i = 0; i < n && r->live != NULL; i++)
        catw |= is_cat_write(&ops[i]);
    if (catw) {
        if ((r->scratch = cat_copy(r->live)) == NULL)
            r->nomem = true;
        else
            r->cat = r->scratch;
    }
    for (size_t i = 0; i < n && !(catw && r->scratch == NULL); i++) {
        int v = verb_of(ops[i].verb, strlen(ops[i].verb));

        if (ops[i].kind != FSM_TXN_KV && is_cat_write(&ops[i])) {
            run_cat_write(r, i, v, &ops[i]);
        } else if (ops[i].kind != FSM_TXN_KV) {
            run_cat_get(r, i, &ops[i]);
        } else if (verb_writes(v)) {
            run_write(r, i, v, &ops[i]);
            wrote = true;
        } else {
            run_read(r, i, v, &ops[i]);
        }
    }
    if (catw && !r->nomem && r->out->nerr == 0) {
        uint64_t before = cat_max_index(r->live);

        if (!commit_cat(r, ops, n))
            r->cat_lost = true;
        *cat_changed = cat_max_index(r->live) != before;
    }
    if (r->scratch != NULL)
        cat_free(r->scratch);
    r->scratch = NULL;
    r->cat = r->live;
    if (r->nomem && r->out->nerr == 0)
        add_error(r, 0, "out of memory");
    *changed = wrote && r->out->nerr == 0 && !r->nomem;
    if (r->out->nerr > 0 || r->nomem) {
        for (size_t i = 0; i < r->out->nres; i++) {
            free(r->out->res[i].kv);
            json_decref(r->out->res[i].obj);
        }
        r->out->nres = 0;
        if (wrote && !rollback(r, table_index))
            r->nomem = true;
        else
            r->nomem = false;
    }
    undo_free(r);
}

/* ---- apply and read ---- */

/* The ops of a decoded command, with their strings copied out. */
static int wire_to_ops(const msgpack_object *arr, struct fsm_txn_op *ops,
                       char **strs, char **reqs, char *err)
{
    uint32_t n = arr->via.array.size;
    struct wire_op w;
    int rc;

    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_str *k, *s;
        char *p;

        if ((rc = decode_op(&arr->via.array.ptr[i], &w, err)) != 0)
            return rc;
        k = &w.f[O_KEY]->via.str;
        s = w.f[O_SESSION] != NULL ? &w.f[O_SESSION]->via.str
          : w.f[O_ID] != NULL      ? &w.f[O_ID]->via.str
                                   : NULL;
        if ((strs[i] = p = malloc(k->size + 1 + (s ? s->size : 0) + 1)) ==
            NULL)
            return err_set(err, ERR_NOMEM, "decoding a transaction");
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].kind = w.kind;
        ops[i].verb = verb_names[w.verb];
        ops[i].key = p;
        memcpy(p, k->ptr, k->size);
        p[k->size] = '\0';
        if (s != NULL) {
            p += k->size + 1;
            memcpy(p, s->ptr, s->size);
            p[s->size] = '\0';
            if (w.kind == FSM_TXN_KV)
                ops[i].session = p;
            else
                ops[i].id = p;
        }
        if (w.f[O_VAL] != NULL && w.f[O_VAL]->via.bin.size > 0) {
            ops[i].val = w.f[O_VAL]->via.bin.ptr;
            ops[i].len = w.f[O_VAL]->via.bin.size;
        }
        if (w.f[O_REQ] != NULL) {
            const msgpack_object_str *q = &w.f[O_REQ]->via.str;

            if ((reqs[i] = malloc(q->size + 1)) == NULL)
                return err_set(err, ERR_NOMEM, "decoding a transaction");
            memcpy(reqs[i], q->ptr, q->size);
            reqs[i][q->size] = '\0';
            ops[i].req = reqs[i];
        }
        ops[i].flags = w.f[O_FLAGS] != NULL ? w.f[O_FLAGS]->via.u64 : 0;
        ops[i].index = w.f[O_INDEX] != NULL ? w.f[O_INDEX]->via.u64 : 0;
    }
    return 0;
}

int fsm_apply_txn(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                  bool *ok, bool *changed, char *err)
{
    const msgpack_object *arr = c->f[F_OPS];
    struct fsm_txn_op ops[FSM_TXN_MAX_OPS];
    char *strs[FSM_TXN_MAX_OPS] = {NULL}, *reqs[FSM_TXN_MAX_OPS] = {NULL};
    struct run r = {.kv = f->kv, .sess = f->sess, .cat = f->cat,
                    .live = f->cat, .index = index};
    bool cat_changed = false;
    int rc;

    fsm_txn_out_free(f->txn_out);
    f->txn_out = NULL;
    if ((r.out = calloc(1, sizeof(*r.out))) == NULL)
        return err_set(err, ERR_NOMEM, "applying a transaction");
    r.out->index = index;
    rc = wire_to_ops(arr, ops, strs, reqs, err);
    if (rc == 0) {
        run_all(&r, ops, arr->via.array.size, changed, &cat_changed);
        *ok = r.out->nerr == 0;
        f->txn_out = r.out;
        r.out = NULL;
        if (cat_changed) {
            f->cat_changed = true;
            rc = fsm_sess_after_catalog(f, index, &f->sess_changed,
                                        &f->kv_changed, err);
        }
        if (r.cat_lost) {
            LOG_ERROR("fsm", "transaction at %llu: a catalog write failed "
                      "on commit (out of memory)", (unsigned long long)index);
            if (f->on_change != NULL)
                f->on_change(f->ctx, "fatal", index);
        }
        if (r.nomem) {
            LOG_ERROR("fsm", "transaction at %llu could not be undone: "
                      "out of memory", (unsigned long long)index);
            if (f->on_change != NULL)
                f->on_change(f->ctx, "fatal", index);
        }
    }
    for (uint32_t i = 0; i < arr->via.array.size && i < FSM_TXN_MAX_OPS;
         i++) {
        free(strs[i]);
        free(reqs[i]);
    }
    fsm_txn_out_free(r.out);
    return rc;
}

int fsm_txn_read(const struct fsm *f, const struct fsm_txn_op *ops,
                 size_t n, struct fsm_txn_out **out, char *err)
{
    struct run r = {.kv = f->kv, .sess = f->sess, .cat = f->cat};
    bool changed, cat_changed;
    int rc;

    *out = NULL;
    if (n == 0 || n > FSM_TXN_MAX_OPS)
        return err_set(err, ERR_INVAL, "a transaction has 1 to %d "
                       "operations, not %zu", FSM_TXN_MAX_OPS, n);
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_op(&ops[i], err)) != 0)
            return err_prefix(err, "operation %zu", i), rc;
        if (fsm_txn_is_write(ops[i].verb))
            return err_set(err, ERR_INVAL, "operation %zu writes", i);
    }
    if ((r.out = calloc(1, sizeof(*r.out))) == NULL)
        return err_set(err, ERR_NOMEM, "reading a transaction");
    run_all(&r, ops, n, &changed, &cat_changed);
    *out = r.out;
    return 0;
}

/* fsm_sess.c - sessions in the state machine: their command (create,
 * destroy, and the kv acquire / release that need a session), the
 * invalidations a catalog write causes, and the snapshot records.
 *
 * Layer: store (uses util, codec: jansson, msgpack, kv, cat, sess).
 * Thread: loop only.
 * Owns: the JSON texts of a snapshot being written (fsm_sess_dump).
 * Tests: t/unit/check_fsm.c (sessions test case), t/t8001-sessions.sh
 *
 * Formats in fsm.c. Apply follows Consul's state store: a session is
 * created only if its node is registered and each of its checks exists
 * and is not critical; destroying one releases (behavior "release":
 * Session cleared, value kept) or deletes ("delete") every key it
 * holds, and sets the lock delay on those keys (in memory, on every
 * server, as Consul does). A catalog write that removes a session's
 * node or one of its checks, or makes such a check critical,
 * invalidates the session in the same apply.
 */
#include "fsm_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cat.h"
#include "err.h"
#include "kv.h"
#include "sess.h"

static const char *const ops[FSM_SESS_NOPS] = {"create", "destroy",
                                               "acquire", "release"};

int fsm_sess_op(const msgpack_object *o)
{
    int i;

    for (i = 0; i < FSM_SESS_NOPS; i++)
        if (fsm_str_is(o, ops[i]))
            return i;
    return -1;
}

/* ---- command ---- */

struct sess_cmd {
    const char *op;
    const char *json;
    const void *val;
    size_t len;
};

static int emit_sess_cmd(msgpack_packer *pk, const void *arg)
{
    const struct sess_cmd *c = arg;
    bool with_val = c->val != NULL;

    return msgpack_pack_map(pk, with_val ? 5 : 4) ||
           fsm_pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, FSM_CMD_VERSION) ||
           fsm_pack_cstr(pk, "t") || fsm_pack_cstr(pk, "session") ||
           fsm_pack_cstr(pk, "op") || fsm_pack_cstr(pk, c->op) ||
           fsm_pack_cstr(pk, "req") || fsm_pack_cstr(pk, c->json) ||
           (with_val && (fsm_pack_cstr(pk, "val") ||
                         msgpack_pack_bin_with_body(pk, c->val, c->len)));
}

/* The request of a lock op: {"Key","Session","Flags"?}. */
static int check_lock_req(const json_t *req, char *err)
{
    const json_t *k = json_object_get(req, "Key");
    const json_t *s = json_object_get(req, "Session");
    const json_t *fl = json_object_get(req, "Flags");
    size_t n = 2 + (fl != NULL);

    if (!json_is_object(req) || json_object_size(req) != n ||
        !json_is_string(k) || !json_is_string(s) ||
        (fl != NULL && !json_is_integer(fl)))
        return err_set(err, ERR_INVAL, "malformed lock request");
    if (json_string_length(k) == 0 ||
        strlen(json_string_value(k)) != json_string_length(k) ||
        json_string_length(k) > KV_MAX_KEY)
        return err_set(err, ERR_INVAL, "bad key name");
    if (json_string_length(s) == 0 ||
        strlen(json_string_value(s)) != json_string_length(s) ||
        json_string_length(s) > SESS_MAX_NAME)
        return err_set(err, ERR_INVAL, "bad session ID");
    return 0;
}

static int check_req(int op, const json_t *req, char *err)
{
    struct sess_entry *e;
    const json_t *id;
    int rc;

    switch (op) {
    case FSM_SESS_CREATE:
        rc = sess_entry_from_json(req, false, &e, err);
        sess_entry_free(e);
        return rc;
    case FSM_SESS_DESTROY:
        id = json_object_get(req, "ID");
        if (!json_is_object(req) || json_object_size(req) != 1 ||
            !json_is_string(id) || json_string_length(id) == 0 ||
            json_string_length(id) > SESS_MAX_NAME ||
            strlen(json_string_value(id)) != json_string_length(id))
            return err_set(err, ERR_INVAL, "malformed destroy request");
        return 0;
    default:
        return check_lock_req(req, err);
    }
}

int fsm_encode_session(const char *op, const json_t *req, const void *val,
                       size_t len, fsm_alloc_fn alloc, void **buf,
                       size_t *blen, char *err)
{
    struct sess_cmd c = {op, NULL, NULL, 0};
    int i, rc;

    for (i = 0; i < FSM_SESS_NOPS; i++)
        if (op != NULL && strcmp(op, ops[i]) == 0)
            break;
    if (i == FSM_SESS_NOPS)
        return err_set(err, ERR_INVAL, "unknown session op");
    if ((rc = check_req(i, req, err)) != 0)
        return rc;
    if (val == NULL && len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       len);
    if (i >= FSM_SESS_ACQUIRE)
        c.val = val != NULL ? val : "";
    c.len = len;
    if ((c.json = json_dumps(req, JSON_COMPACT)) == NULL)
        return err_set(err, ERR_NOMEM, "encoding the session request");
    rc = fsm_pack_exact(emit_sess_cmd, &c, alloc, buf, blen, err);
    free((char *)c.json);
    return rc;
}

/* ---- catalog checks ---- */

/* Status of check id on node ("" when missing); borrowed from checks. */
static const char *check_status(const json_t *checks, const char *id)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c) {
        const char *cid = json_string_value(json_object_get(c, "CheckID"));
        const char *st = json_string_value(json_object_get(c, "Status"));

        if (cid != NULL && st != NULL && strcasecmp(cid, id) == 0)
            return st;
    }
    return "";
}

/* Why the session cannot live with the catalog as it is: 0 if it can,
 * else ERR_INVAL with Consul's message. */
static int check_catalog(const struct cat_store *cat,
                         const struct sess_entry *e, char *err)
{
    json_t *node = cat_node(cat, e->node), *checks;
    const char *st;
    size_t i, n = e->n_checks + e->n_node_checks + e->n_svc_checks;
    int rc = 0;

    if (node == NULL)
        return err_set(err, ERR_INVAL, "Missing node registration");
    json_decref(node);
    if (n == 0)
        return 0;
    if ((checks = cat_node_checks(cat, e->node)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < n && rc == 0; i++) {
        const char *id =
            i < e->n_checks ? e->checks[i]
            : i < e->n_checks + e->n_node_checks
                ? e->node_checks[i - e->n_checks]
                : e->svc_checks[i - e->n_checks - e->n_node_checks].id;

        st = check_status(checks, id);
        if (st[0] == '\0')
            rc = err_set(err, ERR_INVAL, "Missing check '%s' registration",
                         id);
        else if (strcmp(st, "critical") == 0)
            rc = err_set(err, ERR_INVAL, "Check '%s' is in critical state",
                         id);
    }
    json_decref(checks);
    return rc;
}

/* ---- invalidation ---- */

struct held {
    const char *id;
    char **keys;
    size_t n, cap;
};

static int collect_held(void *ctx, const struct kv_entry *e)
{
    struct held *h = ctx;
    char **nk;

    if (e->session == NULL || strcmp(e->session, h->id) != 0)
        return 0;
    if (h->n == h->cap) {
        h->cap = h->cap != 0 ? 2 * h->cap : 8;
        if ((nk = realloc(h->keys, h->cap * sizeof(*nk))) == NULL)
            return -1;
        h->keys = nk;
    }
    if ((h->keys[h->n] = strdup(e->key)) == NULL)
        return -1;
    h->n++;
    return 0;
}

int fsm_sess_destroy(struct fsm *f, const char *id, uint64_t index,
                     bool *existed, bool *kv_changed, char *err)
{
    const struct sess_entry *e = sess_peek(f->sess, id);
    struct held h = {id, NULL, 0, 0};
    int64_t now = sess_now_ms(), delay_ms;
    bool del;
    size_t i;
    int rc = 0;

    *existed = false;
    if (e == NULL)
        return 0;
    del = e->behavior == SESS_DELETE;
    delay_ms = e->lock_delay_ns / 1000000;
    /* Every key, as Consul's index on kvs.session would give them. */
    if (kv_walk_prefix(f->kv, "", collect_held, &h) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < h.n; i++) {
        if (rc == 0 && delay_ms > 0)
            rc = sess_lock_delay_set(f->sess, h.keys[i], now + delay_ms,
                                     err);
        if (rc == 0 && del)
            rc = kv_delete(f->kv, h.keys[i], index, err);
        else if (rc == 0)
            kv_session_clear(f->kv, h.keys[i], id, index);
        free(h.keys[i]);
    }
    free(h.keys);
    if (rc != 0)
        return rc;
    *kv_changed = *kv_changed || h.n > 0;
    sess_remove(f->sess, id, index, existed);
    return 0;
}

struct doomed {
    const struct cat_store *cat;
    char **ids;
    size_t n, cap;
};

static int find_doomed(void *ctx, const struct sess_entry *e)
{
    struct doomed *d = ctx;
    char err[ERR_LEN];
    char **ni;
    int rc = check_catalog(d->cat, e, err);

    if (rc == 0)
        return 0;
    if (rc == ERR_NOMEM)
        return -1;
    if (d->n == d->cap) {
        d->cap = d->cap != 0 ? 2 * d->cap : 8;
        if ((ni = realloc(d->ids, d->cap * sizeof(*ni))) == NULL)
            return -1;
        d->ids = ni;
    }
    if ((d->ids[d->n] = strdup(e->id)) == NULL)
        return -1;
    d->n++;
    return 0;
}

int fsm_sess_after_catalog(struct fsm *f, uint64_t index, bool *sess_changed,
                           bool *kv_changed, char *err)
{
    struct doomed d = {f->cat, NULL, 0, 0};
    bool existed;
    size_t i;
    int rc = 0;

    if (sess_count(f->sess) == 0)
        return 0;
    if (sess_walk(f->sess, find_doomed, &d) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < d.n; i++) {
        if (rc == 0 &&
            (rc = fsm_sess_destroy(f, d.ids[i], index, &existed, kv_changed,
                                   err)) == 0)
            *sess_changed = *sess_changed || existed;
        free(d.ids[i]);
    }
    free(d.ids);
    return rc;
}

/* ---- apply ---- */

static int apply_create(struct fsm *f, uint64_t index, const json_t *req,
                        bool *ok, bool *changed, char *err)
{
    struct sess_entry *e;
    int rc = sess_entry_from_json(req, false, &e, err);

    if (rc != 0)
        return rc;
    if ((rc = check_catalog(f->cat, e, err)) != 0 ||
        (rc = sess_insert(f->sess, e, index, err)) != 0) {
        sess_entry_free(e);
        return rc;
    }
    *ok = *changed = true;
    return 0;
}

static int apply_lock(struct fsm *f, uint64_t index, int op,
                      const struct fsm_cmd *c, const json_t *req, bool *ok,
                      bool *kv_changed, char *err)
{
    const char *key = json_string_value(json_object_get(req, "Key"));
    const char *sid = json_string_value(json_object_get(req, "Session"));
    const json_t *fl = json_object_get(req, "Flags");
    uint64_t flags = fl != NULL ? (uint64_t)json_integer_value(fl) : 0;
    const void *val = NULL;
    size_t len = 0;
    int rc;

    if (c->f[F_VAL] != NULL && c->f[F_VAL]->via.bin.size > 0) {
        val = c->f[F_VAL]->via.bin.ptr;
        len = c->f[F_VAL]->via.bin.size;
    }
    if (op == FSM_SESS_ACQUIRE) {
        /* Consul's state store: "invalid session" (HTTP 500). */
        if (sess_peek(f->sess, sid) == NULL)
            return err_set(err, ERR_NOTFOUND, "invalid session \"%s\"",
                           sid);
        rc = kv_acquire(f->kv, key, val, len, flags, sid, index, ok, err);
    } else {
        rc = kv_release(f->kv, key, val, len, flags, sid, index, ok, err);
    }
    if (rc != 0)
        *ok = false;
    *kv_changed = *ok;
    return rc;
}

int fsm_apply_session(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                      bool *ok, bool *changed, bool *kv_changed, char *err)
{
    const msgpack_object_str *s = &c->f[F_REQ]->via.str;
    int op = fsm_sess_op(c->f[F_OP]);
    json_error_t je;
    json_t *req;
    int rc;

    req = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, &je);
    if (req == NULL)
        return err_set(err, ERR_INVAL, "Request decode failed: invalid "
                       "JSON at byte %d", je.position);
    if ((rc = check_req(op, req, err)) != 0) {
        json_decref(req);
        return rc;
    }
    switch (op) {
    case FSM_SESS_CREATE:
        rc = apply_create(f, index, req, ok, changed, err);
        break;
    case FSM_SESS_DESTROY:
        rc = fsm_sess_destroy(f, json_string_value(json_object_get(req, "ID")),
                              index, changed, kv_changed, err);
        *ok = rc == 0;
        break;
    default:
        rc = apply_lock(f, index, op, c, req, ok, kv_changed, err);
        break;
    }
    json_decref(req);
    return rc;
}

/* ---- snapshot records ---- */

struct fsm_sess_dump {
    char **v;
    size_t n, cap;
};

static int dump_fn(void *ctx, const struct sess_entry *e)
{
    struct fsm_sess_dump *d = ctx;
    json_t *j = sess_to_json(e, true);
    char **nv, *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (text == NULL)
        return -1;
    if (d->n == d->cap) {
        d->cap = d->cap != 0 ? 2 * d->cap : 16;
        if ((nv = realloc(d->v, d->cap * sizeof(*nv))) == NULL) {
            free(text);
            return -1;
        }
        d->v = nv;
    }
    d->v[d->n++] = text;
    return 0;
}

void fsm_sess_dump_free(struct fsm_sess_dump *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        free(d->v[i]);
    free(d->v);
    free(d);
}

int fsm_sess_dump_new(const struct sess_store *s, struct fsm_sess_dump **out,
                      char *err)
{
    struct fsm_sess_dump *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL || sess_walk(s, dump_fn, d) != 0) {
        fsm_sess_dump_free(d);
        return err_set(err, ERR_NOMEM, "serializing the sessions");
    }
    *out = d;
    return 0;
}

int fsm_sess_emit(msgpack_packer *pk, const struct fsm_sess_dump *d,
                  uint64_t table_index, uint64_t *records)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        if (msgpack_pack_array(pk, 2) ||
            msgpack_pack_uint8(pk, FSM_REC_SESSION) ||
            fsm_pack_cstr(pk, d->v[i]))
            return -1;
    *records += d->n;
    if (table_index == 0)
        return 0;
    (*records)++;
    return msgpack_pack_array(pk, 2) ||
           msgpack_pack_uint8(pk, FSM_REC_SESSION_INDEX) ||
           msgpack_pack_uint64(pk, table_index);
}

int fsm_sess_restore(struct sess_store *s, const msgpack_object *a,
                     uint32_t n, bool *index_seen, char *err)
{
    const msgpack_object_str *str = &a[1].via.str;
    struct sess_entry *e;
    json_error_t je;
    json_t *rec;
    int rc;

    if (n != 2)
        return err_set(err, ERR_PARSE, "session record has %u fields",
                       (unsigned)n);
    if (a[0].via.u64 == FSM_REC_SESSION_INDEX) {
        if (*index_seen || !fsm_is_uint(&a[1]) || a[1].via.u64 == 0 ||
            a[1].via.u64 < sess_table_index(s))
            return err_set(err, ERR_PARSE, "bad session index record");
        *index_seen = true;
        sess_set_table_index(s, a[1].via.u64);
        return 0;
    }
    if (*index_seen)
        return err_set(err, ERR_PARSE, "session after the session index");
    if (a[1].type != MSGPACK_OBJECT_STR)
        return err_set(err, ERR_PARSE, "session record is not a string");
    rec = json_loadb(str->ptr, str->size, JSON_REJECT_DUPLICATES, &je);
    if (rec == NULL)
        return err_set(err, ERR_PARSE, "session record: invalid JSON at "
                       "byte %d", je.position);
    rc = sess_entry_from_json(rec, true, &e, err);
    json_decref(rec);
    if (rc == 0 && (rc = sess_restore(s, e, err)) != 0)
        sess_entry_free(e);
    return rc == ERR_NOMEM || rc == 0 ? rc : ERR_PARSE;
}

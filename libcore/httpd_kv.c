/* httpd_kv.c - /v1/kv/<key>: GET (single, ?recurse, ?keys, ?raw),
 * PUT (?flags, ?cas, ?acquire, ?release) and DELETE (?recurse, ?cas).
 *
 * Layer: http. Thread: loop only.
 * Behaviour follows Consul's kvs_endpoint: arrays of DirEntry, 404 with
 * an empty body on a miss, `true`/`false` bodies on writes.
 * Tests: t/t1001-kv-cli.sh, t/t1002-kv-http-api.sh, t/t1003-kv-blocking.sh
 */
#include "httpd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <raft.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "sess.h"

enum get_mode { GET_ONE, GET_RECURSE, GET_KEYS };

static struct kv_store *store(struct httpd_ctx *c)
{
    return c->a->fsm.kv;
}

static json_t *b64(const unsigned char *v, size_t n)
{
    char *out;
    json_t *j;

    if (v == NULL || n == 0)
        return json_null();
    out = malloc(4 * ((n + 2) / 3) + 1);
    if (out == NULL)
        return json_null();
    EVP_EncodeBlock((unsigned char *)out, v, (int)n);
    j = json_string(out);
    free(out);
    return j;
}

json_t *httpd_kv_entry_json(const struct kv_entry *e)
{
    json_t *o = json_object();

    json_object_set_new(o, "LockIndex", httpd_json_u64(e->lock_index));
    json_object_set_new(o, "Key", json_string(e->key));
    json_object_set_new(o, "Flags", httpd_json_u64(e->flags));
    json_object_set_new(o, "Value", b64(e->val, e->len));
    if (e->session != NULL)
        json_object_set_new(o, "Session", json_string(e->session));
    json_object_set_new(o, "CreateIndex",
                        httpd_json_u64(e->create_index));
    json_object_set_new(o, "ModifyIndex",
                        httpd_json_u64(e->modify_index));
    return o;
}

/* The one-entry GET answer, written straight into the request's pool:
 * byte for byte what json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) of
 * httpd_kv_entry_json() gives, without building the jansson tree, dumping it,
 * escaping the 344-character base64 value one character at a time and
 * undoing the u64 marks (about 45k of the 69k instructions a GET cost,
 * bench/ir.sh). Only for keys and sessions that need no escaping;
 * anything else, and ?pretty, goes through jansson. */
static bool plain(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
            *s == '"' || *s == '\\')
            return false;
    return true;
}

static char *put_lit(char *p, const char *lit)
{
    size_t n = strlen(lit);

    memcpy(p, lit, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    *p++ = '"';
    p = put_lit(p, s);
    *p++ = '"';
    return p;
}

static bool send_entry_fast(struct httpd_ctx *c, const struct kv_entry *e)
{
    size_t cap;
    char *buf, *p;

    if (c->pretty || !plain(e->key) ||
        (e->session != NULL && !plain(e->session)))
        return false;
    cap = 160 + strlen(e->key) +
          (e->session != NULL ? strlen(e->session) : 0) +
          (e->val != NULL ? 4 * ((e->len + 2) / 3) + 1 : 0);
    buf = h2o_mem_alloc_pool(&c->req->pool, cap);
    p = put_lit(buf, "[{\"LockIndex\":");
    p = put_u64(p, e->lock_index);
    p = put_lit(p, ",\"Key\":");
    p = put_str(p, e->key);
    p = put_lit(p, ",\"Flags\":");
    p = put_u64(p, e->flags);
    p = put_lit(p, ",\"Value\":");
    if (e->val == NULL || e->len == 0) {
        p = put_lit(p, "null");
    } else {
        *p++ = '"';
        p += EVP_EncodeBlock((unsigned char *)p, e->val, (int)e->len);
        *p++ = '"';
    }
    if (e->session != NULL) {
        p = put_lit(p, ",\"Session\":");
        p = put_str(p, e->session);
    }
    p = put_lit(p, ",\"CreateIndex\":");
    p = put_u64(p, e->create_index);
    p = put_lit(p, ",\"ModifyIndex\":");
    p = put_u64(p, e->modify_index);
    p = put_lit(p, "}]");
    httpd_send_body(c, 200, "application/json", buf, (size_t)(p - buf));
    return true;
}

static uint64_t wake_index(struct httpd_ctx *c)
{
    enum get_mode m = (enum get_mode)(intptr_t)c->data;

    return m == GET_ONE ? kv_key_index(store(c), c->rest)
                        : kv_prefix_index(store(c), c->rest);
}

static uint64_t reported_index(struct httpd_ctx *c)
{
    enum get_mode m = (enum get_mode)(intptr_t)c->data;
    uint64_t idx = m == GET_ONE ? 0 : kv_prefix_index(store(c), c->rest);

    return idx != 0 ? idx : kv_table_index(store(c));
}

struct entries_walk {
    struct httpd_ctx *c;
    json_t *arr;
};

/* Entries the token may not read are left out, as Consul filters. */
static int add_entry(void *ctx, const struct kv_entry *e)
{
    struct entries_walk *ew = ctx;

    if (!httpd_acl_can(ew->c, ACL_RES_KEY, e->key, ACL_READ)) {
        httpd_acl_filtered(ew->c);
        return 0;
    }
    json_array_append_new(ew->arr, httpd_kv_entry_json(e));
    return 0;
}

struct keys_walk {
    struct httpd_ctx *c;
    json_t *arr;
    size_t plen;
    const char *sep;
    char *last; /* last "directory" emitted */
};

static int add_key(void *ctx, const struct kv_entry *e)
{
    struct keys_walk *kw = ctx;
    const char *rest = e->key + kw->plen;
    const char *hit = kw->sep[0] != '\0' ? strstr(rest, kw->sep) : NULL;
    size_t n;

    if (hit == NULL) {
        if (httpd_acl_can(kw->c, ACL_RES_KEY, e->key, ACL_READ))
            json_array_append_new(kw->arr, json_string(e->key));
        else
            httpd_acl_filtered(kw->c);
        return 0;
    }
    n = (size_t)(hit - e->key) + strlen(kw->sep);
    if (kw->last != NULL && strlen(kw->last) == n &&
        memcmp(kw->last, e->key, n) == 0)
        return 0;
    free(kw->last);
    kw->last = strndup(e->key, n);
    if (kw->last != NULL &&
        !httpd_acl_can(kw->c, ACL_RES_KEY, kw->last, ACL_READ))
        httpd_acl_filtered(kw->c);
    else
        json_array_append_new(kw->arr, json_stringn(e->key, n));
    return 0;
}

static void respond_keys(struct httpd_ctx *c)
{
    const char *sep = httpd_q(c, "separator");
    struct keys_walk kw = {c, json_array(), c->rest_len, "", NULL};

    if (sep == NULL)
        sep = httpd_q(c, "seperator"); /* Consul's historic spelling */
    kw.sep = sep != NULL ? sep : "";
    kv_walk_prefix(store(c), c->rest, add_key, &kw);
    free(kw.last);
    httpd_meta_headers(c, reported_index(c));
    if (json_array_size(kw.arr) == 0 && c->rest[0] != '\0') {
        json_decref(kw.arr);
        httpd_send_body(c, 404, NULL, "", 0);
        return;
    }
    httpd_send_json(c, 200, kw.arr);
}

static void respond_get(struct httpd_ctx *c)
{
    enum get_mode m = (enum get_mode)(intptr_t)c->data;
    const struct kv_entry *e;
    json_t *arr;

    if (m == GET_KEYS) {
        respond_keys(c);
        return;
    }
    httpd_meta_headers(c, reported_index(c));
    arr = json_array();
    if (m == GET_RECURSE) {
        struct entries_walk ew = {c, arr};

        kv_walk_prefix(store(c), c->rest, add_entry, &ew);
    } else if ((e = kv_peek(store(c), c->rest)) != NULL) {
        if (httpd_qhas(c, "raw")) {
            json_decref(arr);
            httpd_header(c, "X-Content-Type-Options", "nosniff");
            httpd_header(c, "Content-Security-Policy", "sandbox");
            httpd_send_body(c, 200, "text/plain",
                            e->val != NULL ? (const void *)e->val : "",
                            e->len);
            return;
        }
        if (send_entry_fast(c, e)) {
            json_decref(arr);
            return;
        }
        json_array_append_new(arr, httpd_kv_entry_json(e));
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        httpd_send_body(c, 404, NULL, "", 0);
        return;
    }
    httpd_send_json(c, 200, arr);
}

static void handle_get(struct httpd_ctx *c)
{
    enum get_mode m = GET_ONE;

    if (httpd_read_opts(c) != 0)
        return;
    if (httpd_qhas(c, "keys"))
        m = GET_KEYS;
    else if (httpd_qhas(c, "recurse"))
        m = GET_RECURSE;
    if (m == GET_ONE && c->rest[0] == '\0') {
        httpd_error(c, 400, "bad_request", "Missing key name");
        return;
    }
    if (m == GET_ONE ? !httpd_acl_require(c, ACL_RES_KEY, c->rest, ACL_READ)
                     : (c->a->cfg.acl.enable_key_list_policy &&
                        !httpd_acl_require(c, ACL_RES_KEY, c->rest,
                                           ACL_LIST)))
        return;
    c->data = (void *)(intptr_t)m;
    httpd_blocking_read(c, wake_index, respond_get);
}

/* ---- writes ---- */

static bool conflicting(struct httpd_ctx *c, const char *a, const char *b,
                        const char *d)
{
    int n = httpd_qhas(c, a) + httpd_qhas(c, b) + (d && httpd_qhas(c, d));
    char msg[600];

    if (n <= 1)
        return false;
    snprintf(msg, sizeof(msg), "Conflicting flags: %.500s\n",
             c->q.raw != NULL ? c->q.raw : "");
    httpd_error(c, 400, "bad_request", msg);
    return true;
}

static bool check_dc(struct httpd_ctx *c)
{
    const char *dc = httpd_q(c, "dc");

    if (dc != NULL && dc[0] != '\0' &&
        strcmp(dc, c->a->cfg.datacenter) != 0) {
        httpd_error(c, 500, "no_path", "No path to datacenter");
        return false;
    }
    return true;
}

static void write_done(struct httpd_ctx *c, int rc,
                       const struct fsm_result *res, const char *msg)
{
    char buf[ERR_LEN];

    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    metrics_sample("kvs.apply", metrics_since_ms(c->start_ns));
    if (res->rc != 0) {
        snprintf(buf, sizeof(buf), "%s", err_str(res->rc));
        httpd_error_rc(c, res->rc == ERR_INVAL ? ERR_INVAL : res->rc, buf);
        return;
    }
    httpd_send_json(c, 200, json_boolean(res->ok));
}

static void submit(struct httpd_ctx *c, const struct fsm_kv_op *op)
{
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    if (fsm_encode_kv(op, raft_malloc, &buf, &len, err) != 0) {
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    httpd_apply(c, buf, len, write_done);
}

/* ?acquire / ?release: Consul's KVSLock and KVSUnlock. */
static void lock_done(struct httpd_ctx *c, int rc,
                      const struct fsm_result *res, const char *msg)
{
    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    metrics_sample("kvs.apply", metrics_since_ms(c->start_ns));
    if (res->rc != 0) {
        /* "invalid session \"<id>\"", as Consul's state store says */
        httpd_error(c, 500, "internal", res->msg);
        return;
    }
    httpd_send_json(c, 200, json_boolean(res->ok));
}

static void submit_lock(struct httpd_ctx *c, const char *op,
                        const char *sess, uint64_t flags, size_t len)
{
    char err[ERR_LEN];
    void *buf = NULL;
    size_t blen = 0;
    json_t *req;
    int rc;

    if (sess[0] == '\0') {
        httpd_error(c, 500, "internal", "missing session");
        return;
    }
    /* Lock-delay is enforced before Raft, on the leader only, as
     * Consul's KVS endpoint does: the key stays free, the answer is
     * false. */
    if (strcmp(op, "acquire") == 0 &&
        sess_lock_delay_left(c->a->fsm.sess, c->rest, sess_now_ms()) > 0) {
        LOG_WARN("kv", "rejecting lock of key '%.128s' due to lock-delay",
                 c->rest);
        httpd_send_json(c, 200, json_false());
        return;
    }
    /* Flags: the uint64 as its two's-complement int64 (jansson). */
    req = json_pack("{s:s, s:s, s:I}", "Key", c->rest, "Session", sess,
                    "Flags", (json_int_t)(int64_t)flags);
    rc = req == NULL ? ERR_NOMEM
                     : fsm_encode_session(op, req, c->req->entity.base, len,
                                          raft_malloc, &buf, &blen, err);
    json_decref(req);
    if (rc != 0) {
        httpd_error(c, 400, "bad_request", rc == ERR_NOMEM ? "out of memory"
                                                           : err);
        return;
    }
    httpd_apply(c, buf, blen, lock_done);
}

static int put_params(struct httpd_ctx *c, struct fsm_kv_op *op)
{
    const char *flags = httpd_q(c, "flags"), *cas = httpd_q(c, "cas");

    if (flags != NULL && httpd_parse_u64(flags, &op->flags) != 0) {
        httpd_error(c, 400, "bad_request", "Invalid flags");
        return -1;
    }
    if (cas != NULL) {
        if (httpd_parse_u64(cas, &op->cas) != 0) {
            httpd_error(c, 400, "bad_request", "Invalid cas index");
            return -1;
        }
        op->verb = FSM_KV_CAS;
    }
    return 0;
}

static void handle_put(struct httpd_ctx *c)
{
    struct fsm_kv_op op = {.verb = FSM_KV_SET, .key = c->rest};
    const char *sess = httpd_q(c, "acquire");
    size_t len = c->req->entity.base != NULL ? c->req->entity.len : 0;
    int64_t max = c->a->cfg.kv_max_value_size;
    char msg[300];

    if (!check_dc(c) || conflicting(c, "cas", "acquire", "release"))
        return;
    if (c->rest[0] == '\0') {
        httpd_error(c, 400, "bad_request", "Missing key name");
        return;
    }
    if (!httpd_acl_require(c, ACL_RES_KEY, c->rest, ACL_WRITE) ||
        put_params(c, &op) != 0)
        return;
    if (max > 0 && (int64_t)len > max) {
        snprintf(msg, sizeof(msg), "Request body(%zu bytes) too large, "
                 "max size: %" PRId64 " bytes. See https://developer."
                 "hashicorp.com/consul/docs/agent/config/config-files"
                 "#kv_max_value_size.", len, max);
        httpd_error(c, 413, "too_large", msg);
        return;
    }
    if (sess != NULL) {
        submit_lock(c, "acquire", sess, op.flags, len);
        return;
    }
    if ((sess = httpd_q(c, "release")) != NULL) {
        submit_lock(c, "release", sess, op.flags, len);
        return;
    }
    op.val = c->req->entity.base;
    op.len = len;
    submit(c, &op);
}

static void handle_delete(struct httpd_ctx *c)
{
    struct fsm_kv_op op = {.verb = FSM_KV_DELETE, .key = c->rest};
    const char *cas = httpd_q(c, "cas");

    if (!check_dc(c) || conflicting(c, "recurse", "cas", NULL))
        return;
    if (httpd_qhas(c, "recurse")) {
        op.verb = FSM_KV_DELETE_TREE;
    } else if (c->rest[0] == '\0') {
        httpd_error(c, 400, "bad_request", "Missing key name");
        return;
    } else if (cas != NULL) {
        if (httpd_parse_u64(cas, &op.cas) != 0) {
            httpd_error(c, 400, "bad_request", "Invalid cas index");
            return;
        }
        op.verb = FSM_KV_DELETE_CAS;
    }
    if (op.verb == FSM_KV_DELETE_TREE
            ? !httpd_acl_require_key_prefix(c, c->rest)
            : !httpd_acl_require(c, ACL_RES_KEY, c->rest, ACL_WRITE))
        return;
    submit(c, &op);
}

void httpd_kv(struct httpd_ctx *c)
{
    switch (c->method) {
    case HTTPD_GET: handle_get(c); return;
    case HTTPD_PUT: handle_put(c); return;
    case HTTPD_DELETE: handle_delete(c); return;
    default: httpd_error(c, 405, "method_not_allowed", "method not allowed");
    }
}

/* httpd_txn.c - PUT /v1/txn: Consul's transactions (KV operations).
 *
 * Layer: http. Thread: loop only.
 * As Consul's agent/txn_endpoint.go and Txn RPC: the body is a JSON
 * array of at most FSM_TXN_MAX_OPS {"KV": {...}} operations, or
 * {"Node"|"Service"|"Check": {...}} ones (get, set, cas, delete,
 * delete-cas; the set and cas objects become catalog RegisterRequests)
 * (field names matched case-insensitively, as Go decodes; Value in
 * base64). Every op is first checked against the token (key:write for
 * writes, key:read for reads, key:write on the prefix for delete-tree;
 * node:write for node writes and node-level check writes, service:write
 * on the service name for service and service check writes) and for
 * a known verb; failures are the transaction's Errors (409), as
 * Consul's preCheck reports them. A transaction that writes goes to
 * the leader and through Raft as one command (fsm_txn.c: all or
 * nothing); one that only reads is answered without Raft, by any
 * server with ?stale, else by the leader (a barrier first with
 * ?consistent). 200 {"Results": [...], "Errors": null}, or 409
 * {"Results": null, "Errors": [{"OpIndex", "What"}]}; results the
 * token may not read are left out (Consul's FilterTxnResults).
 * Tests: t/t8101-txn.sh, t/t3001-acl-matrix.sh
 */
#include "httpd_int.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <raft.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json_util.h"
#include "kv.h"
#include "sess.h"

struct txn_req {
    struct fsm_txn_op ops[FSM_TXN_MAX_OPS];
    const char *svc[FSM_TXN_MAX_OPS]; /* a catalog write's service name
                                       * (its ACL), or "" */
    size_t n;
    bool writes;
};

static char *pool_str(struct httpd_ctx *c, const char *s, size_t n)
{
    return h2o_strdup(&c->req->pool, s, n).base;
}

/* A member of o by case-insensitive name, as Go's decoder finds it. */
static json_t *member(json_t *o, const char *name)
{
    const char *k;
    json_t *v;

    json_object_foreach(o, k, v)
        if (strcasecmp(k, name) == 0)
            return v;
    return NULL;
}

static int bad(char *msg, size_t n, const char *field, const json_t *v,
               const char *gotype)
{
    snprintf(msg, n, "json: cannot unmarshal %s into Go struct field "
             "KVTxnOp.KV.%s of type %s", json_go_kind(v), field, gotype);
    return -1;
}

static int get_str(struct httpd_ctx *c, json_t *kv, const char *field,
                   const char **out, char *msg, size_t n)
{
    json_t *v = member(kv, field);

    *out = "";
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(msg, n, field, v, "string");
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, n, "%s contains a NUL character", field);
        return -1;
    }
    *out = pool_str(c, json_string_value(v), json_string_length(v));
    return 0;
}

static int get_u64(json_t *kv, const char *field, uint64_t *out, char *msg,
                   size_t n)
{
    json_t *v = member(kv, field);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(msg, n, field, v, "uint64");
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_value(struct httpd_ctx *c, json_t *kv, struct fsm_txn_op *op,
                     char *msg, size_t n)
{
    json_t *v = member(kv, "Value");
    const char *s;
    size_t len, pad = 0;
    unsigned char *out;
    int got;

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(msg, n, "Value", v, "[]uint8");
    s = json_string_value(v);
    len = json_string_length(v);
    if (len % 4 != 0 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                  "nopqrstuvwxyz0123456789+/=") != len) {
        snprintf(msg, n, "failed to decode value: illegal base64 data");
        return -1;
    }
    if (len == 0)
        return 0;
    out = h2o_mem_alloc_pool(&c->req->pool, len / 4 * 3 + 1);
    got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (got < 0) {
        snprintf(msg, n, "failed to decode value: illegal base64 data");
        return -1;
    }
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    op->val = out;
    op->len = (size_t)got - pad;
    return 0;
}

/* A string member of o (may be absent: ""), into the pool. */
static int name_of(struct httpd_ctx *c, json_t *o, const char *field,
                   const char *gofield, const char **out, char *msg,
                   size_t n)
{
    json_t *v = json_is_object(o) ? member(o, field) : NULL;

    *out = "";
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, n, "json: cannot unmarshal %s into Go struct field "
                 "%s of type string", json_go_kind(v), gofield);
        return -1;
    }
    *out = pool_str(c, json_string_value(v), json_string_length(v));
    return 0;
}

/* A uint64 member (ModifyIndex) of o, into *out. */
static int index_of(json_t *o, const char *gofield, uint64_t *out,
                    char *msg, size_t n)
{
    json_t *v = json_is_object(o) ? member(o, "ModifyIndex") : NULL;

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(msg, n, "json: cannot unmarshal %s into Go struct field "
                 "%s.ModifyIndex of type uint64", json_go_kind(v), gofield);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* The catalog RegisterRequest a set or cas makes, as JSON text in the
 * pool: {"Node": node, "SkipNodeUpdate": true, what: obj} for a service
 * or check, the node's own fields (Meta as NodeMeta) for a node. */
static int cat_req(struct httpd_ctx *c, struct fsm_txn_op *op, json_t *obj,
                   char *msg, size_t n)
{
    json_t *r;
    char *text;

    if (!json_is_object(obj)) {
        snprintf(msg, n, "%s operation without its object",
                 op->kind == FSM_TXN_NODE      ? "Node"
                 : op->kind == FSM_TXN_SERVICE ? "Service"
                                               : "Check");
        return -1;
    }
    if (op->kind == FSM_TXN_NODE) {
        json_t *meta = member(obj, "Meta");

        r = json_deep_copy(obj);
        if (r != NULL && meta != NULL)
            json_object_set(r, "NodeMeta", meta);
    } else {
        r = json_pack("{s:s, s:b, s:O}", "Node", op->key, "SkipNodeUpdate",
                      1, op->kind == FSM_TXN_SERVICE ? "Service" : "Check",
                      obj);
    }
    text = r != NULL ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    if (text == NULL) {
        snprintf(msg, n, "out of memory");
        return -1;
    }
    op->req = pool_str(c, text, strlen(text));
    free(text);
    return 0;
}

/* {"Node": {Verb, Node: {Node, ...}}}, {"Service": {Verb, Node,
 * Service: {ID, Service, ...}}}, {"Check": {Verb, Check: {Node,
 * CheckID, ...}}}: get, set, cas, delete, delete-cas. *svc: the service
 * name whose service:write a write needs ("" when none). */
static int parse_cat_op(struct httpd_ctx *c, json_t *el,
                        struct fsm_txn_op *op, const char **svc, char *msg,
                        size_t n)
{
    static const char *const verbs[] = {"get", "set", "cas", "delete",
                                        "delete-cas"};
    json_t *obj;
    size_t vi;
    bool wr;

    static const char *const kinds[] = {"Node", "Service", "Check"};
    json_t *o = NULL;
    int k;

    for (k = 0; k < 3 && (o = member(el, kinds[k])) == NULL; k++)
        ;
    if (o == NULL || !json_is_object(o)) {
        snprintf(msg, n, "operation has no KV, Node, Service or Check "
                 "member");
        return -1;
    }
    memset(op, 0, sizeof(*op));
    op->kind = (enum fsm_txn_kind)(k + 1);
    if (name_of(c, o, "Verb", "Verb", &op->verb, msg, n) != 0)
        return -1;
    for (vi = 0; vi < 5 && strcmp(op->verb, verbs[vi]) != 0; vi++)
        ;
    if (vi < 5)
        op->verb = verbs[vi]; /* else pre_check reports it (409) */
    wr = vi > 0;
    *svc = "";
    if (op->kind == FSM_TXN_NODE) {
        obj = member(o, "Node");
        if (name_of(c, obj, "Node", "Node.Node", &op->key, msg, n) != 0 ||
            index_of(obj, "Node", &op->index, msg, n) != 0)
            return -1;
    } else if (op->kind == FSM_TXN_SERVICE) {
        obj = member(o, "Service");
        if (name_of(c, o, "Node", "Node", &op->key, msg, n) != 0 ||
            name_of(c, obj, "ID", "Service.ID", &op->id, msg, n) != 0 ||
            name_of(c, obj, "Service", "Service.Service", svc, msg, n) != 0 ||
            index_of(obj, "Service", &op->index, msg, n) != 0)
            return -1;
        if (op->id[0] == '\0')
            op->id = *svc; /* Consul: the ID defaults to the name */
    } else {
        const char *sid, *name;

        obj = member(o, "Check");
        if (name_of(c, obj, "Node", "Check.Node", &op->key, msg, n) != 0 ||
            name_of(c, obj, "CheckID", "Check.CheckID", &op->id, msg,
                    n) != 0 ||
            name_of(c, obj, "Name", "Check.Name", &name, msg, n) != 0 ||
            name_of(c, obj, "ServiceID", "Check.ServiceID", &sid, msg,
                    n) != 0 ||
            name_of(c, obj, "ServiceName", "Check.ServiceName", svc, msg,
                    n) != 0 ||
            index_of(obj, "Check", &op->index, msg, n) != 0)
            return -1;
        if (op->id[0] == '\0')
            op->id = name; /* the CheckID defaults to the Name */
        if (sid[0] == '\0')
            *svc = NULL; /* a node-level check: node:write */
    }
    if (!wr || vi == 5)
        return 0;
    if (op->key[0] == '\0' || (op->kind != FSM_TXN_NODE && op->id[0] == '\0')) {
        snprintf(msg, n, "%s operation without %s", kinds[k],
                 op->key[0] == '\0' ? "a node name" : "an ID");
        return -1;
    }
    if (strcmp(op->verb, "set") != 0 && strcmp(op->verb, "cas") != 0)
        return 0;
    return cat_req(c, op, obj, msg, n);
}

/* One {"KV": {...}} (or catalog) element into op; -1 with a message. */
static int parse_op(struct httpd_ctx *c, json_t *el, struct fsm_txn_op *op,
                    const char **svc, char *msg, size_t n)
{
    json_t *kv;

    if (!json_is_object(el)) {
        snprintf(msg, n, "json: cannot unmarshal %s into Go value of type "
                 "api.TxnOp", json_go_kind(el));
        return -1;
    }
    kv = member(el, "KV");
    if (kv == NULL || json_is_null(kv))
        return parse_cat_op(c, el, op, svc, msg, n);
    if (!json_is_object(kv)) {
        snprintf(msg, n, "json: cannot unmarshal %s into Go struct field "
                 "TxnOp.KV of type api.KVTxnOp", json_go_kind(kv));
        return -1;
    }
    memset(op, 0, sizeof(*op));
    return get_str(c, kv, "Verb", &op->verb, msg, n) != 0 ||
                   get_str(c, kv, "Key", &op->key, msg, n) != 0 ||
                   get_str(c, kv, "Session", &op->session, msg, n) != 0 ||
                   get_u64(kv, "Flags", &op->flags, msg, n) != 0 ||
                   get_u64(kv, "Index", &op->index, msg, n) != 0 ||
                   get_value(c, kv, op, msg, n) != 0
               ? -1
               : 0;
}

/* The body into t; answers 400/413 itself and returns -1. */
static int parse_body(struct httpd_ctx *c, struct txn_req *t)
{
    const char *b = c->req->entity.base;
    size_t n = b != NULL ? c->req->entity.len : 0, i;
    int64_t max = c->a->cfg.kv_max_value_size;
    char msg[ERR_LEN], out[ERR_LEN + 64];
    json_error_t jerr;
    json_t *j, *el;

    j = n > 0 ? json_loadb(b, n, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK,
                           &jerr)
              : NULL;
    if (j == NULL) {
        snprintf(out, sizeof(out), "Failed to parse body: %s",
                 n > 0 ? jerr.text : "EOF");
        httpd_error(c, 400, "bad_request", out);
        return -1;
    }
    if (!json_is_array(j) && !json_is_null(j)) {
        snprintf(out, sizeof(out), "Failed to parse body: json: cannot "
                 "unmarshal %s into Go value of type api.TxnOps",
                 json_go_kind(j));
        json_decref(j);
        httpd_error(c, 400, "bad_request", out);
        return -1;
    }
    if (json_array_size(j) > FSM_TXN_MAX_OPS) {
        snprintf(out, sizeof(out), "Transaction contains too many "
                 "operations (%zu > %d)", json_array_size(j),
                 FSM_TXN_MAX_OPS);
        json_decref(j);
        httpd_error(c, 413, "too_large", out);
        return -1;
    }
    json_array_foreach(j, i, el) {
        struct fsm_txn_op *op = &t->ops[i];

        t->svc[i] = "";
        if (parse_op(c, el, op, &t->svc[i], msg, sizeof(msg)) != 0) {
            snprintf(out, sizeof(out), "Failed to parse body: %s", msg);
            json_decref(j);
            httpd_error(c, 400, "bad_request", out);
            return -1;
        }
        if (max > 0 && (int64_t)op->len > max) {
            snprintf(out, sizeof(out), "Value for key \"%.128s\" is too "
                     "large (%zu > %" PRId64 " bytes)", op->key, op->len,
                     max);
            json_decref(j);
            httpd_error(c, 413, "too_large", out);
            return -1;
        }
        t->writes |= fsm_txn_is_write(op->verb);
    }
    t->n = json_array_size(j);
    json_decref(j);
    return 0;
}

static bool verb_known(enum fsm_txn_kind kind, const char *v)
{
    static const char *const reads[] = {"get", "get-tree", "check-index",
                                        "check-session",
                                        "check-not-exists"};

    if (kind != FSM_TXN_KV)
        return strcmp(v, "get") == 0 || strcmp(v, "set") == 0 ||
               strcmp(v, "cas") == 0 || strcmp(v, "delete") == 0 ||
               strcmp(v, "delete-cas") == 0;
    if (fsm_txn_is_write(v))
        return true;
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        if (strcmp(v, reads[i]) == 0)
            return true;
    return false;
}

static void add_error(json_t **errs, size_t i, const char *what)
{
    if (*errs == NULL)
        *errs = json_array();
    json_array_append_new(*errs, json_pack("{s:I, s:s}", "OpIndex",
                                           (json_int_t)i, "What", what));
}

static void send_outcome(struct httpd_ctx *c, json_t *results, json_t *errs)
{
    json_t *body = json_object();

    json_object_set_new(body, "Results",
                        errs == NULL && results != NULL ? results
                                                        : json_null());
    if (errs != NULL)
        json_decref(results);
    json_object_set_new(body, "Errors", errs != NULL ? errs : json_null());
    httpd_send_json(c, errs != NULL ? 409 : 200, body);
}

/* Is key in the lock delay a session invalidation left on it? (Kept on
 * each server, outside Raft, as Consul's KVSLockDelay.) */
static bool lock_delayed(struct httpd_ctx *c, const char *key)
{
    struct timespec ts;

    if (c->a->fsm.sess == NULL)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return sess_lock_delay_left(c->a->fsm.sess, key,
                                (int64_t)ts.tv_sec * 1000 +
                                    ts.tv_nsec / 1000000) > 0;
}

/* Consul's kvsPreApply for one op: 0, or 1 with What in msg, or -1
 * for an unknown token. Reads of values are filtered on the way out
 * instead; checks that could reveal a value need key:read; everything
 * else (check-not-exists too, as Consul) key:write. */
static int pre_check_op(struct httpd_ctx *c, const struct fsm_txn_op *op,
                        const char *svc, char *msg, size_t n)
{
    const char *v = op->verb;

    if (op->kind != FSM_TXN_KV && strcmp(v, "get") == 0)
        return 0; /* gets: filtered on the way out */
    /* Consul's vetNodeTxnOp, servicePreApply, vetCheckTxnOp */
    if (op->kind == FSM_TXN_NODE || (op->kind == FSM_TXN_CHECK &&
                                     svc == NULL))
        return httpd_acl_res_check(c, ACL_RES_NODE, op->key, ACL_WRITE,
                                   msg, n);
    if (op->kind != FSM_TXN_KV)
        return httpd_acl_res_check(c, ACL_RES_SERVICE, svc, ACL_WRITE, msg,
                                   n);
    if (op->key[0] == '\0' && strcmp(v, "delete-tree") != 0) {
        snprintf(msg, n, "Must provide key");
        return 1;
    }
    if (strcmp(v, "get") == 0 || strcmp(v, "get-tree") == 0)
        return 0;
    if (strcmp(v, "lock") == 0 && lock_delayed(c, op->key)) {
        snprintf(msg, n, "failed to lock key \"%.256s\" due to lock delay",
                 op->key);
        return 1;
    }
    if (strcmp(v, "check-session") == 0 || strcmp(v, "check-index") == 0)
        return httpd_acl_key_check(c, op->key, ACL_READ, false, msg, n);
    return httpd_acl_key_check(c, op->key, ACL_WRITE,
                               strcmp(v, "delete-tree") == 0, msg, n);
}

/* Consul's preCheck, then a known verb (which Consul's state store
 * would report as the op's error). Answers itself (409, or 403 for an
 * unknown token) and returns -1. */
static int pre_check(struct httpd_ctx *c, const struct txn_req *t)
{
    json_t *errs = NULL;
    char msg[600];

    for (size_t i = 0; i < t->n; i++) {
        int rc = pre_check_op(c, &t->ops[i], t->svc[i], msg, sizeof(msg));

        if (rc < 0) {
            json_decref(errs);
            httpd_error(c, 403, "acl_not_found", msg);
            return -1;
        }
        if (rc == 0 && !verb_known(t->ops[i].kind, t->ops[i].verb)) {
            snprintf(msg, sizeof(msg), "unknown %s verb \"%.32s\"",
                     t->ops[i].kind == FSM_TXN_KV        ? "KV"
                     : t->ops[i].kind == FSM_TXN_NODE    ? "Node"
                     : t->ops[i].kind == FSM_TXN_SERVICE ? "Service"
                                                         : "Check",
                     t->ops[i].verb);
            rc = 1;
        }
        if (rc > 0)
            add_error(&errs, i, msg);
    }
    if (errs == NULL)
        return 0;
    send_outcome(c, NULL, errs);
    return -1;
}

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* Consul's FilterTxnResults: key:read, node:read, service:read (a
 * check: its service's, else its node's). */
static bool result_readable(struct httpd_ctx *c,
                            const struct fsm_txn_result *r)
{
    const char *svc;

    switch (r->kind) {
    case FSM_TXN_KV:
        return httpd_acl_can(c, ACL_RES_KEY, r->kv->key, ACL_READ);
    case FSM_TXN_NODE:
        return httpd_acl_can(c, ACL_RES_NODE, str_of(r->obj, "Node"),
                             ACL_READ);
    case FSM_TXN_SERVICE:
        return httpd_acl_can(c, ACL_RES_SERVICE, str_of(r->obj, "Service"),
                             ACL_READ);
    default:
        svc = str_of(r->obj, "ServiceName");
        return svc[0] != '\0'
                   ? httpd_acl_can(c, ACL_RES_SERVICE, svc, ACL_READ)
                   : httpd_acl_can(c, ACL_RES_NODE, str_of(r->obj, "Node"),
                                   ACL_READ);
    }
}

/* The outcome as Consul's TxnResponse; results filtered by key:read. */
static void respond_out(struct httpd_ctx *c, const struct fsm_txn_out *o)
{
    json_t *res = json_array(), *errs = NULL;

    for (size_t i = 0; i < o->nerr; i++)
        add_error(&errs, (size_t)o->err[i].op_index, o->err[i].what);
    for (size_t i = 0; i < o->nres && errs == NULL; i++) {
        const struct fsm_txn_result *r = &o->res[i];

        if (!result_readable(c, r)) {
            httpd_acl_filtered(c);
            continue;
        }
        if (r->kind == FSM_TXN_KV)
            json_array_append_new(res, json_pack("{s:o}", "KV",
                                  httpd_kv_entry_json(r->kv)));
        else
            json_array_append_new(res, json_pack("{s:O}",
                r->kind == FSM_TXN_NODE ? "Node"
                : r->kind == FSM_TXN_SERVICE ? "Service" : "Check",
                r->obj));
    }
    send_outcome(c, res, errs);
}

static void apply_done(struct httpd_ctx *c, int rc,
                       const struct fsm_result *res, const char *msg)
{
    struct fsm_txn_out *o;

    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    if (res->rc != 0) {
        httpd_error_rc(c, res->rc == ERR_INVAL ? ERR_INTERNAL : res->rc,
                       res->msg[0] != '\0' ? res->msg : err_str(res->rc));
        return;
    }
    if ((o = fsm_txn_take(&c->a->fsm, res->index)) == NULL) {
        httpd_error(c, 500, "internal", "transaction outcome not found");
        return;
    }
    respond_out(c, o);
    fsm_txn_out_free(o);
}

static uint64_t no_index(struct httpd_ctx *c)
{
    (void)c;
    return 0;
}

static void respond_read(struct httpd_ctx *c)
{
    const struct txn_req *t = c->data;
    struct fsm_txn_out *o;
    char err[ERR_LEN];
    int rc = fsm_txn_read(&c->a->fsm, t->ops, t->n, &o, err);

    if (rc != 0) {
        httpd_error_rc(c, rc, err);
        return;
    }
    httpd_meta_headers(c, kv_table_index(c->a->fsm.kv));
    respond_out(c, o);
    fsm_txn_out_free(o);
}

void httpd_txn(struct httpd_ctx *c)
{
    struct txn_req *t = h2o_mem_alloc_pool(&c->req->pool, sizeof(*t));
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    memset(t, 0, sizeof(*t));
    if (parse_body(c, t) != 0 || pre_check(c, t) != 0)
        return;
    if (t->n == 0) {
        send_outcome(c, json_array(), NULL);
        return;
    }
    if (!t->writes) {
        if (httpd_read_opts(c) != 0)
            return;
        if (!c->stale && httpd_needs_forward(c, HTTPD_RT_LEADER)) {
            httpd_forward(c, httpd_txn);
            return;
        }
        c->min_index = 0; /* a transaction never blocks */
        c->data = t;
        httpd_blocking_read(c, no_index, respond_read);
        return;
    }
    if (httpd_needs_forward(c, HTTPD_RT_LEADER)) {
        httpd_forward(c, httpd_txn);
        return;
    }
    if (fsm_encode_txn(t->ops, t->n, raft_malloc, &buf, &len, err) != 0) {
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    httpd_apply(c, buf, len, apply_done);
}

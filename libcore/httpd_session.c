/* httpd_session.c - /v1/session/...: create, destroy, renew (writes, on
 * the leader) and info, node, list (blocking reads).
 *
 * Layer: http. Thread: loop only.
 * Behaviour follows Consul's session endpoints: create takes an
 * optional body (Name, Node (default: this agent's node), Checks,
 * NodeChecks, ServiceChecks, LockDelay ("15s" or a number of ns, below
 * 1000 meaning seconds; default 15s), Behavior (release|delete), TTL
 * (0, or 10s..24h)) and answers {"ID"}; destroy answers true; renew
 * answers the session array or 404 "Session id '<id>' not found"; the
 * reads answer arrays ([] when nothing), filtered by session:read on
 * each session's node, with X-Consul-Index the sessions table index.
 * Tests: t/t8001-sessions.sh, t/t3001-acl-matrix.sh
 *
 * A request forwarded by a client agent or a follower carries the
 * origin's node name (X-Proconsul-Session-Node, set before forwarding):
 * the default Node is the agent the client talked to, as in Consul.
 */
#include "httpd_int.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_util.h"
#include "log.h"
#include "opt.h"
#include "sess.h"
#include "util_rand.h"

#define NODE_HEADER "x-proconsul-session-node" /* h2o keeps names lower-case */
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

static struct sess_store *store(struct httpd_ctx *c)
{
    return c->a->fsm.sess;
}

void httpd_session_mark_origin(struct httpd_ctx *c)
{
    const char *n = c->a->cfg.node_name;

    if (n == NULL)
        return;
    /* A server forwarding again keeps the origin's; a client's own
     * request never brings one in. */
    if (c->via_rpc && h2o_find_header_by_str(&c->req->headers, NODE_HEADER,
                                             strlen(NODE_HEADER), -1) >= 0)
        return;
    h2o_set_header_by_str(&c->req->pool, &c->req->headers, NODE_HEADER,
                          strlen(NODE_HEADER), 0, n, strlen(n), 1);
}

static const char *default_node(struct httpd_ctx *c)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, NODE_HEADER,
                                       strlen(NODE_HEADER), -1);
    const h2o_iovec_t *v;
    char *out;

    if (!c->via_rpc || i < 0)
        return c->a->cfg.node_name != NULL ? c->a->cfg.node_name : "";
    v = &c->req->headers.entries[i].value;
    out = h2o_mem_alloc_pool(&c->req->pool, v->len + 1);
    memcpy(out, v->base, v->len);
    out[v->len] = '\0';
    return out;
}

/* ---- create: Consul's body into sess.h's canonical shape ---- */

/* Field name matched case-insensitively, as Go's encoding/json does. */
static json_t *getci(const json_t *o, const char *name)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v) {
        if (strcasecmp(k, name) == 0)
            return v;
    }
    return NULL;
}

static int bad(char *msg, size_t n, const char *fmt, const char *what)
{
    snprintf(msg, n, fmt, what);
    return -1;
}

static int lock_delay(const json_t *v, int64_t *ns, char *msg, size_t n)
{
    int64_t ms;

    if (json_is_string(v)) {
        if (opt_parse_duration(json_string_value(v), false, &ms) != 0)
            return bad(msg, n, "Request decode failed: time: invalid "
                       "duration \"%.64s\"", json_string_value(v));
        if (ms > INT64_MAX / NS_PER_MS)
            return bad(msg, n, "Request decode failed: LockDelay%s is too "
                       "long", "");
        *ns = ms * NS_PER_MS;
    } else if (json_is_number(v)) {
        double d = json_number_value(v);

        if (d > 9.2e18 || d < -9.2e18)
            return bad(msg, n, "Request decode failed: LockDelay%s is out "
                       "of range", "");
        *ns = (int64_t)d;
    } else if (json_is_null(v)) {
        return 0;
    } else {
        return bad(msg, n, "Request decode failed: json: cannot unmarshal "
                   "%s into LockDelay", json_go_kind(v));
    }
    if (*ns < 0)
        return bad(msg, n, "Invalid LockDelay%s: negative", "");
    if (*ns < 1000)
        *ns *= NS_PER_S; /* Consul: small numbers are seconds */
    if (*ns > SESS_MAX_LOCK_DELAY_NS)
        *ns = SESS_MAX_LOCK_DELAY_NS; /* Consul's MaxLockDelay */
    return 0;
}

static int str_field(const json_t *body, const char *name, json_t *out,
                     char *msg, size_t n)
{
    const json_t *v = getci(body, name);

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(msg, n, "Request decode failed: json: cannot unmarshal "
                   "%s into a string field", json_go_kind(v));
    json_object_set(out, name, (json_t *)v);
    return 0;
}

/* A list of strings (Checks, NodeChecks), or of {"ID","Namespace"}. */
static int list_field(const json_t *body, const char *name, bool objects,
                      json_t *out, bool *given, char *msg, size_t n)
{
    const json_t *v = getci(body, name);
    json_t *a, *e;
    size_t i;

    *given = v != NULL && !json_is_null(v);
    if (!*given)
        return 0;
    if (!json_is_array(v))
        return bad(msg, n, "Request decode failed: json: cannot unmarshal "
                   "%s into a list field", json_go_kind(v));
    a = json_array();
    json_array_foreach(v, i, e) {
        const json_t *id = objects ? getci(e, "ID") : e;
        const json_t *ns = objects ? getci(e, "Namespace") : NULL;

        if ((objects && !json_is_object(e)) || !json_is_string(id) ||
            (ns != NULL && !json_is_null(ns) && !json_is_string(ns))) {
            json_decref(a);
            return bad(msg, n, "Request decode failed: bad %s entry", name);
        }
        json_array_append_new(
            a, objects ? json_pack("{s:O, s:s}", "ID", id, "Namespace",
                                   json_is_string(ns) ? json_string_value(ns)
                                                      : "")
                       : json_incref((json_t *)id));
    }
    json_object_set_new(out, name, a);
    return 0;
}

/* Consul's fixupEmptySessionChecks, after the defaults (both lists
 * ["serfHealth"]) were overlaid with the body. */
static void fixup_checks(json_t *s)
{
    json_t *checks = json_object_get(s, "Checks");
    json_t *nc = json_object_get(s, "NodeChecks");

    if (json_array_size(checks) == 0) {
        json_object_set_new(s, "NodeChecks", json_array());
        json_object_del(s, "Checks");
        return;
    }
    if (json_array_size(checks) == 1 &&
        strcmp(json_string_value(json_array_get(checks, 0)), "serfHealth") ==
            0) {
        json_object_del(s, "Checks");
        return;
    }
    if (json_is_array(nc) && json_array_size(nc) == 0)
        json_object_del(s, "Checks");
}

static int check_ttl(const json_t *s, char *msg, size_t n)
{
    const char *ttl = json_string_value(json_object_get(s, "TTL"));
    int64_t ms;
    char m[64];

    if (ttl == NULL || ttl[0] == '\0')
        return 0;
    if (opt_parse_duration(ttl, false, &ms) != 0) {
        snprintf(msg, n, "Session TTL '%.64s' invalid: time: invalid "
                 "duration \"%.64s\"", ttl, ttl);
        return -1;
    }
    if (ms != 0 && (ms < SESS_TTL_MIN_MS || ms > SESS_TTL_MAX_MS)) {
        opt_format_duration(SESS_TTL_MAX_MS, m, sizeof(m));
        snprintf(msg, n, "Invalid Session TTL '%lld', must be between "
                 "[10s=%s]", (long long)ms * NS_PER_MS, m);
        return -1;
    }
    return 0;
}

static int check_behavior(json_t *s, char *msg, size_t n)
{
    const char *b = json_string_value(json_object_get(s, "Behavior"));

    if (b == NULL || b[0] == '\0') {
        json_object_set_new(s, "Behavior", json_string("release"));
        return 0;
    }
    if (strcmp(b, "release") != 0 && strcmp(b, "delete") != 0)
        return bad(msg, n, "Invalid Behavior setting '%.64s'", b);
    return 0;
}

/* The canonical session (without ID) for body (NULL: no body), or NULL
 * with msg filled (400). */
static json_t *parse_create(struct httpd_ctx *c, const json_t *body,
                            char *msg, size_t n)
{
    json_t *s = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[s], s:[s]}",
                          "Name", "", "Node", default_node(c), "LockDelay",
                          (json_int_t)SESS_DEFAULT_LOCK_DELAY_NS,
                          "Behavior", "release", "TTL", "", "Checks",
                          "serfHealth", "NodeChecks", "serfHealth");
    const json_t *ld = body != NULL ? getci(body, "LockDelay") : NULL;
    int64_t ns = SESS_DEFAULT_LOCK_DELAY_NS;
    bool given;
    int rc = s == NULL ? bad(msg, n, "%s", "out of memory") : 0;

    if (rc == 0 && body != NULL) {
        if (!json_is_object(body))
            rc = bad(msg, n, "Request decode failed: json: cannot "
                     "unmarshal %s into Go value of type structs.Session",
                     json_go_kind(body));
        if (rc == 0)
            rc = str_field(body, "Name", s, msg, n) ||
                 str_field(body, "Node", s, msg, n) ||
                 str_field(body, "Behavior", s, msg, n) ||
                 str_field(body, "TTL", s, msg, n) ||
                 list_field(body, "Checks", false, s, &given, msg, n) ||
                 list_field(body, "NodeChecks", false, s, &given, msg, n) ||
                 list_field(body, "ServiceChecks", true, s, &given, msg, n);
        if (rc == 0 && ld != NULL && (rc = lock_delay(ld, &ns, msg, n)) == 0)
            json_object_set_new(s, "LockDelay", json_integer(ns));
    }
    if (rc == 0) {
        fixup_checks(s);
        if (json_string_value(json_object_get(s, "Node"))[0] == '\0')
            rc = bad(msg, n, "%s", "Must provide Node");
    }
    if (rc == 0)
        rc = check_behavior(s, msg, n) || check_ttl(s, msg, n);
    if (rc != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static void create_done(struct httpd_ctx *c, int rc,
                        const struct fsm_result *res, const char *msg)
{
    const char *id = c->data;

    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    if (res->rc != 0) {
        httpd_error(c, 500, "internal", res->msg);
        return;
    }
    agent_sess_renew(c->a, id); /* start its TTL clock */
    httpd_send_json(c, 200, json_pack("{s:s}", "ID", id));
}

/* A new, unused session ID in pool memory, or NULL. */
static char *new_id(struct httpd_ctx *c, char *err)
{
    char *id = h2o_mem_alloc_pool(&c->req->pool, UTIL_UUID_LEN + 1);
    int i;

    for (i = 0; i < 16; i++) {
        if (util_uuid(id, err) != 0)
            return NULL;
        if (sess_peek(store(c), id) == NULL)
            return id;
    }
    snprintf(err, ERR_LEN, "no unused session ID");
    return NULL;
}

void httpd_session_create(struct httpd_ctx *c)
{
    size_t len = c->req->entity.base != NULL ? c->req->entity.len : 0;
    char msg[ERR_LEN], err[ERR_LEN];
    json_t *body = NULL, *s;
    json_error_t je;
    void *buf = NULL;
    size_t blen = 0;
    char *id;

    if (len > 0 && (body = json_loadb(c->req->entity.base, len, 0, &je)) ==
                       NULL) {
        snprintf(msg, sizeof(msg), "Request decode failed: %s", je.text);
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    s = parse_create(c, body, msg, sizeof(msg));
    json_decref(body);
    if (s == NULL) {
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    if (!httpd_acl_require(c, ACL_RES_SESSION,
                           json_string_value(json_object_get(s, "Node")),
                           ACL_WRITE)) {
        json_decref(s);
        return;
    }
    if ((id = new_id(c, err)) == NULL) {
        json_decref(s);
        httpd_error(c, 500, "internal", err);
        return;
    }
    json_object_set_new(s, "ID", json_string(id));
    c->data = id;
    if (fsm_encode_session("create", s, NULL, 0, raft_malloc, &buf, &blen,
                           err) != 0) {
        json_decref(s);
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    json_decref(s);
    httpd_apply(c, buf, blen, create_done);
}

/* ---- destroy, renew ---- */

static bool missing(struct httpd_ctx *c, const char *what)
{
    if (c->rest[0] != '\0')
        return false;
    httpd_error(c, 400, "bad_request", what);
    return true;
}

static void destroy_done(struct httpd_ctx *c, int rc,
                         const struct fsm_result *res, const char *msg)
{
    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    if (res->rc != 0) {
        httpd_error(c, 500, "internal", res->msg);
        return;
    }
    httpd_send_json(c, 200, json_true());
}

void httpd_session_destroy(struct httpd_ctx *c)
{
    const struct sess_entry *e;
    char err[ERR_LEN], msg[ERR_LEN];
    json_t *req;
    void *buf = NULL;
    size_t len = 0;
    int rc;

    if (missing(c, "Missing session"))
        return;
    /* As Consul: with ACLs the session must exist (its node decides). */
    if (httpd_acl_enabled(c)) {
        if ((e = sess_peek(store(c), c->rest)) == NULL) {
            snprintf(msg, sizeof(msg), "Unknown session \"%.64s\"", c->rest);
            httpd_error(c, 500, "internal", msg);
            return;
        }
        if (!httpd_acl_require(c, ACL_RES_SESSION, e->node, ACL_WRITE))
            return;
    }
    req = json_pack("{s:s}", "ID", c->rest);
    rc = req == NULL ? ERR_NOMEM
                     : fsm_encode_session("destroy", req, NULL, 0,
                                          raft_malloc, &buf, &len, err);
    json_decref(req);
    if (rc != 0) {
        httpd_error(c, 400, "bad_request", "Missing session");
        return;
    }
    httpd_apply(c, buf, len, destroy_done);
}

static json_t *one(const struct sess_entry *e)
{
    json_t *a = json_array();

    json_array_append_new(a, sess_to_json(e, true));
    return a;
}

void httpd_session_renew(struct httpd_ctx *c)
{
    const struct sess_entry *e;
    char msg[ERR_LEN];

    if (missing(c, "Missing session"))
        return;
    if ((e = sess_peek(store(c), c->rest)) == NULL) {
        snprintf(msg, sizeof(msg), "Session id '%.64s' not found", c->rest);
        httpd_error(c, 404, "not_found", msg);
        return;
    }
    if (!httpd_acl_require(c, ACL_RES_SESSION, e->node, ACL_WRITE))
        return;
    if (agent_sess_renew(c->a, e->id) == ERR_NOMEM) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    httpd_meta_headers(c, sess_table_index(store(c)));
    httpd_send_json(c, 200, one(e));
}

/* ---- reads ---- */

static uint64_t table_index(struct httpd_ctx *c)
{
    return sess_table_index(store(c));
}

struct list_walk {
    struct httpd_ctx *c;
    const char *node; /* NULL: every node */
    json_t *arr;
};

static int add_session(void *ctx, const struct sess_entry *e)
{
    struct list_walk *w = ctx;

    if (w->node != NULL && strcmp(e->node, w->node) != 0)
        return 0;
    if (!httpd_acl_can(w->c, ACL_RES_SESSION, e->node, ACL_READ)) {
        httpd_acl_filtered(w->c);
        return 0;
    }
    json_array_append_new(w->arr, sess_to_json(e, true));
    return 0;
}

enum read_kind { READ_INFO, READ_NODE, READ_LIST };

static void respond(struct httpd_ctx *c)
{
    enum read_kind k = (enum read_kind)(intptr_t)c->data;
    struct list_walk w = {c, k == READ_NODE ? c->rest : NULL, json_array()};
    const struct sess_entry *e;

    if (k == READ_INFO) {
        if ((e = sess_peek(store(c), c->rest)) != NULL)
            add_session(&w, e);
    } else {
        sess_walk(store(c), add_session, &w);
    }
    httpd_meta_headers(c, table_index(c));
    httpd_send_json(c, 200, w.arr);
}

static void read_sessions(struct httpd_ctx *c, enum read_kind k)
{
    if (httpd_read_opts(c) != 0)
        return;
    if (k == READ_INFO && missing(c, "Missing session"))
        return;
    if (k == READ_NODE && missing(c, "Missing node name"))
        return;
    c->data = (void *)(intptr_t)k;
    httpd_blocking_read(c, table_index, respond);
}

void httpd_session_info(struct httpd_ctx *c) { read_sessions(c, READ_INFO); }
void httpd_session_node(struct httpd_ctx *c) { read_sessions(c, READ_NODE); }
void httpd_session_list(struct httpd_ctx *c) { read_sessions(c, READ_LIST); }

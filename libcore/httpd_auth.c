/* httpd_auth.c - ACL enforcement for every route: the request's token,
 * its resolution, permission checks with Consul's error texts, list
 * filtering, the client agents' resolve call, /v1/agent/token/<kind>.
 *
 * Layer: http. Thread: loop only.
 * Owns: nothing beyond the request (a client agent's wait for a token
 * answer is an httpd_pending).
 * Tests: t/t3001-acl-matrix.sh, t/t3002-acl-cluster.sh
 *
 * Every check re-resolves the secret (SHA-256 and two lookups): a
 * blocking query that wakes after the token was deleted or its policy
 * changed is filtered by what holds now.
 */
#include "httpd_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util_time.h"

bool httpd_acl_enabled(const struct httpd_ctx *c)
{
    return agent_acl_enabled(c->a);
}

static const char *header(struct httpd_ctx *c, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, name, strlen(name),
                                       -1);
    h2o_iovec_t v;

    if (i < 0)
        return NULL;
    v = c->req->headers.entries[i].value;
    return h2o_strdup(&c->req->pool, v.base, v.len).base;
}

const char *httpd_request_token(struct httpd_ctx *c)
{
    const char *t = httpd_q(c, "token");

    if (t != NULL && t[0] != '\0')
        return t;
    t = header(c, "x-consul-token");
    if (t != NULL && t[0] != '\0')
        return t;
    t = header(c, "authorization");
    if (t != NULL && strncasecmp(t, "bearer", 6) == 0 &&
        isspace((unsigned char)t[6])) {
        t += 7;
        while (isspace((unsigned char)*t))
            t++;
        if (t[0] != '\0')
            return t;
    }
    return NULL;
}

/* ---- checks ---- */

/* 0 with w filled; ERR_NOTFOUND; or 1 when a client agent has no
 * answer cached (only during dispatch, which fetches first). */
static int resolve(struct httpd_ctx *c, struct agent_acl_who *w)
{
    bool fetch = false;
    int rc = agent_acl_who(c->a, c->token, w, &fetch);

    if (rc == 0 && fetch) {
        /* Evicted since dispatch: nothing is allowed. */
        memset(w, 0, sizeof(*w));
        w->accessor = "";
    }
    return rc;
}

bool httpd_acl_can(struct httpd_ctx *c, enum acl_res res, const char *name,
                   enum acl_need need)
{
    struct agent_acl_who w;

    if (!httpd_acl_enabled(c))
        return true;
    if (resolve(c, &w) != 0)
        return false;
    return acl_allowed(w.z, w.default_allow, res, name, need);
}

static void deny_msg(const struct agent_acl_who *w, enum acl_res res,
                     const char *name, enum acl_need need, char *msg,
                     size_t n)
{
    char who[80], on[300] = "";

    if (w->anonymous)
        snprintf(who, sizeof(who), "anonymous token");
    else if (w->accessor[0] == '\0')
        snprintf(who, sizeof(who), "provided token");
    else
        snprintf(who, sizeof(who), "token with AccessorID '%.40s'",
                 w->accessor);
    if (acl_res_labeled(res) && name != NULL && name[0] != '\0')
        snprintf(on, sizeof(on), " on \"%.256s\"", name);
    snprintf(msg, n, "Permission denied: %s lacks permission "
             "'%s:%s'%s%s", who, acl_res_name(res), acl_need_name(need), on,
             w->anonymous ? ". The anonymous token is used implicitly when "
                            "a request does not specify a token."
                          : "");
}

static void deny(struct httpd_ctx *c, const struct agent_acl_who *w,
                 enum acl_res res, const char *name, enum acl_need need)
{
    char msg[600];

    deny_msg(w, res, name, need, msg, sizeof(msg));
    httpd_error(c, 403, "permission_denied", msg);
}

int httpd_acl_key_check(struct httpd_ctx *c, const char *key,
                        enum acl_need need, bool prefix, char *msg,
                        size_t n)
{
    struct agent_acl_who w;
    bool ok;

    if (!httpd_acl_enabled(c))
        return 0;
    if (resolve(c, &w) != 0) {
        snprintf(msg, n, "ACL not found");
        return -1;
    }
    ok = prefix ? acl_key_write_prefix(w.z, w.default_allow, key)
                : acl_allowed(w.z, w.default_allow, ACL_RES_KEY, key, need);
    if (ok)
        return 0;
    deny_msg(&w, ACL_RES_KEY, key, need, msg, n);
    return 1;
}

int httpd_acl_res_check(struct httpd_ctx *c, enum acl_res res,
                        const char *name, enum acl_need need, char *msg,
                        size_t n)
{
    struct agent_acl_who w;

    if (!httpd_acl_enabled(c))
        return 0;
    if (resolve(c, &w) != 0) {
        snprintf(msg, n, "ACL not found");
        return -1;
    }
    if (acl_allowed(w.z, w.default_allow, res, name, need))
        return 0;
    deny_msg(&w, res, name, need, msg, n);
    return 1;
}

static void not_found(struct httpd_ctx *c)
{
    httpd_error(c, 403, "acl_not_found", "ACL not found");
}

bool httpd_acl_require(struct httpd_ctx *c, enum acl_res res,
                       const char *name, enum acl_need need)
{
    struct agent_acl_who w;

    if (!httpd_acl_enabled(c))
        return true;
    if (resolve(c, &w) != 0) {
        not_found(c);
        return false;
    }
    if (acl_allowed(w.z, w.default_allow, res, name, need))
        return true;
    deny(c, &w, res, name, need);
    return false;
}

bool httpd_acl_require_key_prefix(struct httpd_ctx *c, const char *prefix)
{
    struct agent_acl_who w;

    if (!httpd_acl_enabled(c))
        return true;
    if (resolve(c, &w) != 0) {
        not_found(c);
        return false;
    }
    if (acl_key_write_prefix(w.z, w.default_allow, prefix))
        return true;
    deny(c, &w, ACL_RES_KEY, prefix, ACL_WRITE);
    return false;
}

void httpd_acl_filtered(struct httpd_ctx *c)
{
    struct agent_acl_who w;

    if (c->acl_filtered || !httpd_acl_enabled(c) || resolve(c, &w) != 0 ||
        w.anonymous)
        return;
    c->acl_filtered = true;
    httpd_header(c, "X-Consul-Results-Filtered-By-ACLs", "true");
}

const json_t *httpd_acl_token_obj(struct httpd_ctx *c)
{
    const char *s = c->token;
    const json_t *tok;

    if (!c->a->has_raft)
        return NULL;
    if (s == NULL || s[0] == '\0')
        s = agent_token(c->a, AGENT_TOKEN_DEFAULT);
    if (s == NULL)
        s = ACL_ANON_SECRET;
    tok = acl_store_token_by_secret(c->a->fsm.acl, s);
    if (tok == NULL || acl_token_expired(tok, util_now_ns() / 1000000))
        return NULL;
    return tok;
}

/* ---- dispatch ---- */

static const char *scope_name(struct httpd_ctx *c, const struct httpd_perm *p)
{
    switch ((enum httpd_acl_scope)p->scope) {
    case HTTPD_ACL_PATH:
        return c->rest;
    case HTTPD_ACL_SELF:
        return c->a->cfg.node_name != NULL ? c->a->cfg.node_name : "";
    default:
        return NULL;
    }
}

static void check_and_run(struct httpd_ctx *c)
{
    const struct httpd_perm *p = c->acl_perm;

    if (p->scope != HTTPD_ACL_HANDLER &&
        !httpd_acl_require(c, (enum acl_res)p->res, scope_name(c, p),
                           (enum acl_need)p->need))
        return;
    if (p->scope == HTTPD_ACL_HANDLER) {
        struct agent_acl_who w;

        if (resolve(c, &w) != 0) {
            not_found(c);
            return;
        }
    }
    c->acl_next(c);
}

static void fetched(void *ctx)
{
    struct httpd_ctx *c = httpd_async_end(ctx);

    if (c != NULL)
        check_and_run(c);
}

void httpd_acl_run(struct httpd_ctx *c, const struct httpd_perm *p,
                   void (*fn)(struct httpd_ctx *c))
{
    struct agent_acl_who w;
    struct httpd_pending *pend;
    char err[ERR_LEN];
    bool fetch = false;
    int rc;

    c->token = httpd_request_token(c);
    if (!httpd_acl_enabled(c) || p->scope == HTTPD_ACL_NONE) {
        fn(c);
        return;
    }
    c->acl_perm = p;
    c->acl_next = fn;
    if (agent_acl_who(c->a, c->token, &w, &fetch) != 0 || !fetch) {
        check_and_run(c);
        return;
    }
    if ((pend = httpd_async_begin(c)) == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    rc = agent_acl_fetch(c->a, c->token, fetched, pend, err);
    if (rc == 0)
        return;
    c = httpd_async_end(pend);
    if (c == NULL)
        return;
    if (rc < 0)
        httpd_error(c, 500, "internal", err);
    else
        check_and_run(c);
}

/* ---- server side of a client agent's resolution ---- */

void httpd_internal_acl_resolve(struct httpd_ctx *c)
{
    const char *s = httpd_request_token(c);
    const json_t *tok;
    json_t *rules, *out;
    bool mgmt = false;

    if (!c->a->has_raft) {
        httpd_error(c, 500, "internal", "not a server");
        return;
    }
    if (agent_acl_remote(c->a)) { /* the primary datacenter knows */
        httpd_forward_primary(c);
        return;
    }
    if (s == NULL)
        s = ACL_ANON_SECRET;
    tok = acl_store_token_by_secret(c->a->fsm.acl, s);
    if (tok != NULL && acl_token_expired(tok, util_now_ns() / 1000000))
        tok = NULL;
    if (tok != NULL) {
        rules = acl_store_token_rules(c->a->fsm.acl, tok, &mgmt);
        out = json_pack("{s:O, s:b, s:b, s:o}", "AccessorID",
                        json_object_get(tok, "AccessorID"), "Anonymous",
                        strcmp(s, ACL_ANON_SECRET) == 0, "Management", mgmt,
                        "Rules", rules != NULL ? rules : json_array());
    } else if (strcmp(s, ACL_ANON_SECRET) == 0) {
        out = json_pack("{s:s, s:b, s:b, s:[]}", "AccessorID",
                        ACL_ANON_ACCESSOR, "Anonymous", 1, "Management", 0,
                        "Rules");
    } else {
        not_found(c);
        return;
    }
    if (out == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    httpd_send_json(c, 200, out);
}

/* ---- ACL replication ---- */

struct state_ctx {
    json_t *recs;
};

static int state_rec(void *ctx, const json_t *rec)
{
    struct state_ctx *sc = ctx;
    const char *k = json_string_value(json_object_get(rec, "Kind"));

    if (k == NULL || strcmp(k, "meta") == 0) /* never the cluster secret */
        return 0;
    return json_array_append(sc->recs, (json_t *)rec) != 0 ? -1 : 0;
}

/* The primary's ACL state for a replicating datacenter (agent_acl_repl.c):
 * its token needs acl:write here. */
void httpd_internal_acl_state(struct httpd_ctx *c)
{
    struct acl_store *st = c->a->fsm.acl;
    const char *s = httpd_request_token(c);
    const struct acl_authz *z = NULL;
    const json_t *tok;
    struct state_ctx sc;
    char err[ERR_LEN];
    json_t *out;

    if (!c->a->has_raft || !httpd_acl_enabled(c) || agent_acl_remote(c->a)) {
        httpd_error(c, 500, "internal", "not a server of the primary "
                    "datacenter with ACLs");
        return;
    }
    tok = s != NULL ? acl_store_token_by_secret(st, s) : NULL;
    if (tok != NULL && !acl_token_expired(tok, util_now_ns() / 1000000))
        z = acl_store_authz(st, tok, err);
    if (z == NULL || !acl_allowed(z, false, ACL_RES_ACL, NULL, ACL_WRITE)) {
        httpd_error(c, 403, "permission_denied",
                    "Permission denied: token lacks acl:write");
        return;
    }
    if ((sc.recs = json_array()) == NULL ||
        acl_store_foreach(st, state_rec, &sc) != 0 ||
        (out = json_pack("{s:I, s:I, s:I, s:o}", "PolicyIndex",
                         (json_int_t)acl_store_index(st, ACL_T_POLICIES),
                         "RoleIndex",
                         (json_int_t)acl_store_index(st, ACL_T_ROLES),
                         "TokenIndex",
                         (json_int_t)acl_store_index(st, ACL_T_TOKENS),
                         "Records", sc.recs)) == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    httpd_send_json(c, 200, out);
}

void httpd_acl_replication(struct httpd_ctx *c)
{
    json_t *out;

    if (!httpd_acl_enabled(c)) {
        httpd_error(c, 401, "acl_disabled", "ACL support disabled");
        return;
    }
    if ((out = agent_acl_repl_status(c->a)) == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    httpd_send_json(c, 200, out);
}

/* ---- /v1/agent/token/<kind> ---- */

void httpd_agent_token(struct httpd_ctx *c)
{
    json_error_t jerr;
    json_t *body;
    const json_t *t;
    char err[ERR_LEN], msg[ERR_LEN + 64];
    int kind;

    if (!httpd_acl_enabled(c)) {
        httpd_error(c, 401, "acl_disabled", "ACL support disabled");
        return;
    }
    if (!httpd_acl_require(c, ACL_RES_ACL, NULL, ACL_WRITE))
        return;
    kind = agent_token_kind(c->rest);
    if (kind < 0) {
        snprintf(msg, sizeof(msg), "Token \"%.64s\" is unknown", c->rest);
        httpd_error(c, 404, "not_found", msg);
        return;
    }
    body = json_loadb(c->req->entity.base, c->req->entity.len, 0, &jerr);
    t = json_object_get(body, "Token");
    if (body == NULL || (t != NULL && !json_is_string(t))) {
        snprintf(msg, sizeof(msg), "Request decode failed: %s",
                 body == NULL ? jerr.text : "Token must be a string");
        json_decref(body);
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    if (agent_set_token(c->a, (enum agent_token_kind)kind,
                        json_string_value(t), err) != 0) {
        json_decref(body);
        httpd_error(c, 500, "internal", err);
        return;
    }
    json_decref(body);
    httpd_send_body(c, 200, NULL, "", 0);
}

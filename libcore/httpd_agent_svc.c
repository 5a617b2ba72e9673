/* httpd_agent_svc.c - the agent's own services and checks:
 * /v1/agent/services, /v1/agent/service/{<id>,register,deregister/<id>,
 * maintenance/<id>}, /v1/agent/checks, /v1/agent/check/{register,
 * deregister,pass,warn,fail,update}/<id>, /v1/agent/maintenance and
 * /v1/agent/health/service/{id,name}/<x>, with Consul's shapes, status
 * codes and messages.
 *
 * Layer: http. Thread: loop only.
 * Owns: struct svc_wait (malloc'd) of a hash-blocking GET
 * /v1/agent/service/<id>?hash=, freed from its timer's close callback.
 * Answers are local (never forwarded); a change is synced to the catalog
 * by anti-entropy (agent_local.h).
 * Tests: t/t2102-agent-services.sh
 */
#include "httpd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_local.h"
#include "json_filter.h"
#include "opt.h"

#define HASH_POLL_MS 200

static struct agent_local *local(struct httpd_ctx *c)
{
    if (c->a->local == NULL || c->a->stopping) {
        httpd_error(c, 503, "shutting_down", "agent is shutting down");
        return NULL;
    }
    return c->a->local;
}

/* The sub-routes share one table entry: check the method here, answering
 * 405 as the dispatcher would. */
static bool method_ok(struct httpd_ctx *c, unsigned allowed)
{
    char msg[64];

    if (c->method & allowed)
        return true;
    httpd_header(c, "Allow", allowed == HTTPD_GET ? "OPTIONS,GET"
                                                  : "OPTIONS,PUT");
    snprintf(msg, sizeof(msg), "method %.*s not allowed",
             (int)c->req->method.len, c->req->method.base);
    httpd_error(c, 405, "method_not_allowed", msg);
    return false;
}

/* ---- ACLs (Consul's vetServiceUpdate / vetCheckUpdate) ---- */

static const char *self_node(struct httpd_ctx *c)
{
    return c->a->cfg.node_name != NULL ? c->a->cfg.node_name : "";
}

/* need on the service with local ID id (an unknown ID is let through:
 * the handler answers 404 for it). */
static bool may_service(struct httpd_ctx *c, const char *id,
                        enum acl_need need)
{
    json_t *svc = agent_local_service(c->a->local, id);
    const char *name = json_string_value(json_object_get(svc, "Service"));
    bool ok = svc == NULL ||
              httpd_acl_require(c, ACL_RES_SERVICE, name != NULL ? name : id,
                                need);

    json_decref(svc);
    return ok;
}

/* A check of a service needs service:write, a node check node:write. */
static bool may_check(struct httpd_ctx *c, const char *id)
{
    json_t *all = agent_local_checks(c->a->local);
    const json_t *chk = json_object_get(all, id);
    const char *svc = json_string_value(json_object_get(chk, "ServiceName"));
    bool ok = chk == NULL ||
              (svc != NULL && svc[0] != '\0'
                   ? httpd_acl_require(c, ACL_RES_SERVICE, svc, ACL_WRITE)
                   : httpd_acl_require(c, ACL_RES_NODE, self_node(c),
                                       ACL_WRITE));

    json_decref(all);
    return ok;
}

/* A field of a definition in any of Consul's spellings. */
static const char *def_str(const json_t *def, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(def, a));

    return s != NULL ? s : json_string_value(json_object_get(def, b));
}

static bool may_register_check(struct httpd_ctx *c, const json_t *def)
{
    const char *sid = def_str(def, "ServiceID", "service_id");

    if (sid == NULL || sid[0] == '\0')
        return httpd_acl_require(c, ACL_RES_NODE, self_node(c), ACL_WRITE);
    return may_service(c, sid, ACL_WRITE);
}

static void not_found_path(struct httpd_ctx *c)
{
    httpd_error(c, 404, "not_found", "Invalid URL path: not a recognized "
                "HTTP API endpoint");
}

/* c->rest after "<verb>/", or NULL when it does not start so. */
static const char *after(struct httpd_ctx *c, const char *verb)
{
    size_t n = strlen(verb);

    if (strncmp(c->rest, verb, n) != 0)
        return NULL;
    if (c->rest[n] == '\0')
        return c->rest + n;
    return c->rest[n] == '/' ? c->rest + n + 1 : NULL;
}

/* The JSON body, or NULL after answering 400 as Consul's decodeBody. */
static json_t *body_json(struct httpd_ctx *c)
{
    h2o_iovec_t e = c->req->entity;
    json_error_t jerr;
    char msg[ERR_LEN + 64];
    json_t *j;

    if (e.base == NULL || e.len == 0) {
        httpd_error(c, 400, "bad_request", "Request decode failed: EOF");
        return NULL;
    }
    j = json_loadb(e.base, e.len, JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        snprintf(msg, sizeof(msg), "Request decode failed: %s", jerr.text);
        httpd_error(c, 400, "bad_request", msg);
    }
    return j;
}

static void answer(struct httpd_ctx *c, int rc, const char *err)
{
    switch (rc) {
    case 0:
        httpd_send_body(c, 200, NULL, "", 0);
        return;
    case ERR_INVAL:
        httpd_error(c, 400, "bad_request", err);
        return;
    case ERR_NOTFOUND:
        httpd_error(c, 404, "not_found", err);
        return;
    default:
        httpd_error(c, 500, "internal", err);
    }
}

/* ?filter over a map answer (takes m); NULL after answering 400. */
static json_t *filtered(struct httpd_ctx *c, json_t *m)
{
    const char *f = httpd_q(c, "filter");
    char err[ERR_LEN], msg[ERR_LEN + 64];
    struct jfilter *jf;
    json_t *out;

    if (f == NULL || f[0] == '\0')
        return m;
    err[0] = '\0';
    jf = jfilter_parse(f, err);
    if (jf == NULL) {
        json_decref(m);
        snprintf(msg, sizeof(msg), "%s%s", JFILTER_ERR_PREFIX, err);
        httpd_error(c, 400, "bad_filter", msg);
        return NULL;
    }
    out = jfilter_apply_object(jf, m);
    jfilter_free(jf);
    json_decref(m);
    if (out == NULL)
        httpd_error(c, 500, "internal", "out of memory");
    return out;
}

void httpd_agent_services(struct httpd_ctx *c)
{
    struct agent_local *l = local(c);
    json_t *m;

    if (l != NULL && (m = filtered(c, agent_local_services(l))) != NULL)
        httpd_send_json(c, 200, httpd_acl_filter(
                                    c, HTTPD_SHAPE_AGENT_SERVICES, m));
}

void httpd_agent_checks(struct httpd_ctx *c)
{
    struct agent_local *l = local(c);
    json_t *m;

    if (l != NULL && (m = filtered(c, agent_local_checks(l))) != NULL)
        httpd_send_json(c, 200, httpd_acl_filter(
                                    c, HTTPD_SHAPE_AGENT_CHECKS, m));
}

/* ---- GET /v1/agent/service/<id> (hash-based blocking) ---- */

static void content_hash(const json_t *svc, char out[32])
{
    char *s = json_dumps(svc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    uint64_t h = 1469598103934665603ULL;

    for (const char *p = s != NULL ? s : ""; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    free(s);
    snprintf(out, 32, "%" PRIx64, h);
}

/* The service with "ContentHash" after "EnableTagOverride", as Consul. */
static json_t *with_hash(json_t *svc, const char *hash)
{
    json_t *o = json_object(), *v;
    const char *k;

    json_object_foreach(svc, k, v) {
        json_object_set(o, k, v);
        if (strcmp(k, "EnableTagOverride") == 0)
            json_object_set_new(o, "ContentHash", json_string(hash));
    }
    json_decref(svc);
    return o;
}

static void send_service(struct httpd_ctx *c, const char *id)
{
    struct agent_local *l = local(c);
    json_t *svc;
    char hash[32], msg[ERR_LEN], q[ERR_QUOTE_MAX + 4];

    if (l == NULL)
        return;
    svc = agent_local_service(l, id);
    if (svc == NULL) {
        snprintf(msg, sizeof(msg), "unknown service ID: %s",
                 err_quote(q, sizeof(q), id));
        httpd_error(c, 404, "not_found", msg);
        return;
    }
    content_hash(svc, hash);
    httpd_header(c, "X-Consul-ContentHash", hash);
    httpd_send_json(c, 200, with_hash(svc, hash));
}

struct svc_wait {
    struct httpd_pending *p;
    struct agent *a;
    uv_timer_t timer;
    uint64_t deadline;
    char hash[32];
    char *id;
};

static void wait_closed(uv_handle_t *h)
{
    struct svc_wait *w = h->data;

    free(w->id);
    free(w);
}

static bool hash_moved(struct svc_wait *w)
{
    json_t *svc;
    char h[32];

    if (w->a->local == NULL || w->a->stopping)
        return true;
    svc = agent_local_service(w->a->local, w->id);
    if (svc == NULL)
        return true;
    content_hash(svc, h);
    json_decref(svc);
    return strcmp(h, w->hash) != 0;
}

static void wait_tick(uv_timer_t *t)
{
    struct svc_wait *w = t->data;
    struct httpd_ctx *c;

    if (httpd_async_alive(w->p) && !hash_moved(w) &&
        uv_now(w->a->loop) < w->deadline)
        return;
    uv_timer_stop(t);
    c = httpd_async_end(w->p);
    if (c != NULL)
        send_service(c, w->id);
    uv_close((uv_handle_t *)t, wait_closed);
}

static void get_service(struct httpd_ctx *c, const char *id)
{
    const char *hash = httpd_q(c, "hash");
    struct svc_wait *w;
    json_t *svc;
    char now[32];

    if (hash == NULL || hash[0] == '\0' || c->a->local == NULL) {
        send_service(c, id);
        return;
    }
    if (httpd_read_opts(c) != 0)
        return;
    svc = agent_local_service(c->a->local, id);
    if (svc != NULL)
        content_hash(svc, now);
    json_decref(svc);
    if (svc == NULL || strcmp(now, hash) != 0 ||
        (w = calloc(1, sizeof(*w))) == NULL) {
        send_service(c, id);
        return;
    }
    w->a = c->a;
    w->id = strdup(id);
    snprintf(w->hash, sizeof(w->hash), "%s", hash);
    w->deadline = uv_now(c->a->loop) + (uint64_t)c->wait_ms;
    w->p = httpd_async_begin(c);
    if (w->p == NULL || w->id == NULL) {
        if (w->p != NULL)
            httpd_async_end(w->p);
        free(w->id);
        free(w);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    uv_timer_init(c->a->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, wait_tick, HASH_POLL_MS, HASH_POLL_MS);
}

/* ---- writes ---- */

static int parse_enable(struct httpd_ctx *c, bool *enable)
{
    const char *raw = httpd_q(c, "enable");
    char msg[ERR_LEN], q[ERR_QUOTE_MAX + 4];

    if (raw == NULL) {
        httpd_error(c, 400, "bad_request", "Missing value for enable");
        return -1;
    }
    if (opt_parse_bool(raw, enable) != 0) {
        snprintf(msg, sizeof(msg), "Invalid value for enable: \"%s\"",
                 err_quote(q, sizeof(q), raw));
        httpd_error(c, 400, "bad_request", msg);
        return -1;
    }
    return 0;
}

static void register_service(struct httpd_ctx *c, struct agent_local *l)
{
    const char *rep = httpd_q(c, "replace-existing-checks");
    char err[ERR_LEN];
    json_t *body = body_json(c);
    const char *name;
    int rc;

    if (body == NULL)
        return;
    name = def_str(body, "Name", "name");
    if (!httpd_acl_require(c, ACL_RES_SERVICE, name != NULL ? name : "",
                           ACL_WRITE)) {
        json_decref(body);
        return;
    }
    /* As Consul, the service is synced with the request's token. */
    rc = agent_local_register_service(l, body, rep != NULL &&
                                      (rep[0] == '\0' ||
                                       strcmp(rep, "true") == 0),
                                      c->token, err);
    json_decref(body);
    answer(c, rc, err);
}

static void service_maintenance(struct httpd_ctx *c, struct agent_local *l,
                                const char *id)
{
    char err[ERR_LEN];
    bool enable;

    if (id[0] == '\0') {
        httpd_error(c, 400, "bad_request", "Missing service ID");
        return;
    }
    if (parse_enable(c, &enable) != 0)
        return;
    answer(c, agent_local_service_maintenance(l, id, enable,
                                              httpd_q(c, "reason"), err),
           err);
}

/* /v1/agent/service/... */
void httpd_agent_service(struct httpd_ctx *c)
{
    struct agent_local *l = local(c);
    const char *id;
    char err[ERR_LEN];

    if (l == NULL)
        return;
    if (strcmp(c->rest, "register") == 0) {
        if (method_ok(c, HTTPD_PUT))
            register_service(c, l);
    } else if ((id = after(c, "deregister")) != NULL) {
        if (method_ok(c, HTTPD_PUT) && may_service(c, id, ACL_WRITE))
            answer(c, agent_local_deregister_service(l, id, err), err);
    } else if ((id = after(c, "maintenance")) != NULL) {
        if (method_ok(c, HTTPD_PUT) && may_service(c, id, ACL_WRITE))
            service_maintenance(c, l, id);
    } else if (method_ok(c, HTTPD_GET) &&
               may_service(c, c->rest, ACL_READ)) {
        get_service(c, c->rest);
    }
}

static void check_update(struct httpd_ctx *c, struct agent_local *l,
                         const char *id)
{
    json_t *body = body_json(c), *st, *out;
    char err[ERR_LEN], q[ERR_QUOTE_MAX + 4];
    const char *status;

    if (body == NULL)
        return;
    st = json_object_get(body, "Status");
    out = json_object_get(body, "Output");
    status = json_is_string(st) ? json_string_value(st) : "";
    if (strcmp(status, "passing") != 0 && strcmp(status, "warning") != 0 &&
        strcmp(status, "critical") != 0) {
        snprintf(err, sizeof(err), "Invalid check status: '%s'",
                 err_quote(q, sizeof(q), status));
        json_decref(body);
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    answer(c, agent_local_update_ttl(l, id, status,
                                     json_is_string(out)
                                         ? json_string_value(out) : "",
                                     err),
           err);
    json_decref(body);
}

/* /v1/agent/check/... (PUT only) */
void httpd_agent_check(struct httpd_ctx *c)
{
    static const char *const ttl[][2] = {
        {"pass", "passing"}, {"warn", "warning"}, {"fail", "critical"},
    };
    struct agent_local *l = local(c);
    const char *id, *note = httpd_q(c, "note");
    char err[ERR_LEN];
    json_t *body;

    if (l == NULL)
        return;
    if (strcmp(c->rest, "register") == 0) {
        if (method_ok(c, HTTPD_PUT) && (body = body_json(c)) != NULL) {
            if (may_register_check(c, body))
                answer(c, agent_local_register_check(l, body, c->token,
                                                     err),
                       err);
            json_decref(body);
        }
        return;
    }
    if ((id = after(c, "deregister")) != NULL) {
        if (method_ok(c, HTTPD_PUT) && may_check(c, id))
            answer(c, agent_local_deregister_check(l, id, err), err);
        return;
    }
    if ((id = after(c, "update")) != NULL) {
        if (method_ok(c, HTTPD_PUT) && may_check(c, id))
            check_update(c, l, id);
        return;
    }
    for (size_t i = 0; i < sizeof(ttl) / sizeof(ttl[0]); i++) {
        if ((id = after(c, ttl[i][0])) == NULL)
            continue;
        if (method_ok(c, HTTPD_PUT) && may_check(c, id))
            answer(c, agent_local_update_ttl(l, id, ttl[i][1],
                                             note != NULL ? note : "", err),
                   err);
        return;
    }
    not_found_path(c);
}

void httpd_agent_maintenance(struct httpd_ctx *c)
{
    struct agent_local *l = local(c);
    bool enable;

    if (l == NULL || parse_enable(c, &enable) != 0)
        return;
    agent_local_node_maintenance(l, enable, httpd_q(c, "reason"));
    httpd_send_body(c, 200, NULL, "", 0);
}

/* ---- /v1/agent/health/service/{id,name}/<x> ---- */

static bool want_text(struct httpd_ctx *c)
{
    ssize_t i = h2o_find_header(&c->req->headers, H2O_TOKEN_ACCEPT, -1);
    const char *f = httpd_q(c, "format");

    if (i >= 0 && c->req->headers.entries[i].value.len >= 10 &&
        strncmp(c->req->headers.entries[i].value.base, "text/plain", 10) ==
            0)
        return true;
    return f != NULL && f[0] != '\0' && strcmp(f, "text") == 0;
}

/* api.HealthCheck of a local check record. */
static json_t *api_check(const json_t *rec)
{
    static const char *const keys[] = {"Node", "CheckID", "Name", "Status",
        "Notes", "Output", "ServiceID", "ServiceName", NULL};
    json_t *o = json_object();

    for (size_t i = 0; keys[i] != NULL; i++)
        json_object_set(o, keys[i], json_object_get(rec, keys[i]));
    json_object_set_new(o, "ServiceTags", json_deep_copy(
        json_object_get(rec, "ServiceTags")));
    json_object_set_new(o, "Type", json_string(""));
    json_object_set_new(o, "ExposedPort", json_integer(0));
    json_object_set_new(o, "Definition", json_pack(
        "{s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:s, s:b, s:s}", "Interval",
        "0s", "Timeout", "0s", "DeregisterCriticalServiceAfter", "0s",
        "HTTP", "", "Header", "Method", "", "Body", "", "TLSServerName", "",
        "TLSSkipVerify", 0, "TCP", ""));
    json_object_set_new(o, "CreateIndex", json_integer(0));
    json_object_set_new(o, "ModifyIndex", json_integer(0));
    return o;
}

/* The service's checks and the node's, as api.HealthCheck. */
static json_t *checks_of(const json_t *all, const char *sid)
{
    json_t *arr = json_array(), *v;
    const char *k, *s;

    json_object_foreach((json_t *)all, k, v) {
        s = json_string_value(json_object_get(v, "ServiceID"));
        if (s == NULL || s[0] == '\0' || strcmp(s, sid) == 0)
            json_array_append_new(arr, api_check(v));
    }
    return arr;
}

/* Consul's api.HealthChecks.AggregatedStatus. */
static const char *aggregate(const json_t *checks)
{
    bool passing = false, warning = false, critical = false, maint = false;
    const json_t *c;
    const char *id, *st;
    size_t i;

    json_array_foreach(checks, i, c) {
        id = json_string_value(json_object_get(c, "CheckID"));
        st = json_string_value(json_object_get(c, "Status"));
        if (strcmp(id, "_node_maintenance") == 0 ||
            strncmp(id, "_service_maintenance:", 21) == 0) {
            maint = true;
            continue;
        }
        if (strcmp(st, "passing") == 0)
            passing = true;
        else if (strcmp(st, "warning") == 0)
            warning = true;
        else if (strcmp(st, "critical") == 0)
            critical = true;
        else
            return "";
    }
    (void)passing;
    return maint ? "maintenance" : critical ? "critical"
         : warning ? "warning" : "passing";
}

static int status_code(const char *agg)
{
    if (strcmp(agg, "warning") == 0)
        return 429;
    return strcmp(agg, "passing") == 0 ? 200 : 503;
}

static json_t *health_info(const json_t *svc, const json_t *all,
                           const char *sid, const char **agg)
{
    json_t *checks = checks_of(all, sid);

    *agg = aggregate(checks);
    return json_pack("{s:s, s:O, s:o}", "AggregatedStatus", *agg, "Service",
                     svc, "Checks", checks);
}

static void send_text(struct httpd_ctx *c, int code, const char *s)
{
    httpd_send_body(c, code, "text/plain", s, strlen(s));
}

static void health_by_id(struct httpd_ctx *c, struct agent_local *l,
                         const char *id)
{
    json_t *svc = agent_local_service(l, id), *all, *info;
    const char *agg;
    char msg[ERR_LEN], q[ERR_QUOTE_MAX + 4];

    if (svc == NULL) {
        snprintf(msg, sizeof(msg), "ServiceId %s not found",
                 err_quote(q, sizeof(q), id));
        if (want_text(c))
            send_text(c, 404, msg);
        else
            httpd_send_json(c, 404, json_pack("{s:s, s:n, s:n}",
                                              "AggregatedStatus", "critical",
                                              "Service", "Checks"));
        return;
    }
    all = agent_local_checks(l);
    info = health_info(svc, all, id, &agg);
    json_decref(all);
    json_decref(svc);
    if (want_text(c)) {
        json_decref(info);
        send_text(c, status_code(agg), agg);
        return;
    }
    httpd_send_json(c, status_code(agg), info);
}

static void health_by_name(struct httpd_ctx *c, struct agent_local *l,
                           const char *name)
{
    json_t *svcs = agent_local_services(l), *all = agent_local_checks(l);
    json_t *result = json_array(), *svc;
    const char *id, *agg, *worst = NULL;
    char msg[ERR_LEN], q[ERR_QUOTE_MAX + 4];
    int code = 404;

    json_object_foreach(svcs, id, svc) {
        const char *n = json_string_value(json_object_get(svc, "Service"));

        if (n == NULL || strcmp(n, name) != 0)
            continue;
        json_array_append_new(result, health_info(svc, all, id, &agg));
        if (code == 404 || status_code(agg) > code) {
            code = status_code(agg);
            worst = agg;
        }
    }
    json_decref(svcs);
    json_decref(all);
    if (!want_text(c)) {
        httpd_send_json(c, code, result);
        return;
    }
    json_decref(result);
    if (worst == NULL) {
        snprintf(msg, sizeof(msg), "ServiceName %s Not Found",
                 err_quote(q, sizeof(q), name));
        worst = msg;
    }
    send_text(c, code, worst);
}

void httpd_agent_health_service(struct httpd_ctx *c)
{
    struct agent_local *l = local(c);
    const char *x;

    if (l == NULL)
        return;
    if ((x = after(c, "id")) != NULL) {
        if (x[0] == '\0')
            httpd_error(c, 400, "bad_request", "Missing serviceID");
        else if (may_service(c, x, ACL_READ))
            health_by_id(c, l, x);
    } else if ((x = after(c, "name")) != NULL) {
        if (x[0] == '\0')
            httpd_error(c, 400, "bad_request", "Missing service Name");
        else if (httpd_acl_require(c, ACL_RES_SERVICE, x, ACL_READ))
            health_by_name(c, l, x);
    } else {
        not_found_path(c);
    }
}

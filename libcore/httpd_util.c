/* httpd_util.c - request helpers: query, responses, blocking reads and
 * Raft writes on behalf of a request.
 *
 * Layer: http. Thread: loop only.
 * Owns: struct httpd_pending (malloc'd); freed once the request guard,
 * the timer and any Raft callback have all let go of it.
 * Tests: t/t1002-kv-http-api.sh, t/t1003-kv-blocking.sh
 */
#include "httpd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "opt.h"

struct httpd_pending {
    struct httpd_ctx *c;          /* NULL once the request is gone */
    struct httpd_pending **guard; /* pool slot that points at us */
    struct agent *a;
    uv_timer_t timer;
    bool timer_on;                /* initialised and not yet closed */
    bool in_raft;                 /* a Raft callback is still to come */
    uint64_t start_index;         /* index_fn when the query blocked */
    struct agent_watch w;
};

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

char *httpd_unescape(h2o_mem_pool_t *pool, const char *s, size_t n,
                     bool plus_is_space, size_t *out_len)
{
    char *out = h2o_mem_alloc_pool(pool, n + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return NULL;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

const char *httpd_q(const struct httpd_ctx *c, const char *name)
{
    for (int i = 0; i < c->q.n; i++)
        if (strcmp(c->q.name[i], name) == 0)
            return c->q.val[i];
    return NULL;
}

bool httpd_qhas(const struct httpd_ctx *c, const char *name)
{
    return httpd_q(c, name) != NULL;
}

void httpd_header(struct httpd_ctx *c, const char *name, const char *val)
{
    h2o_add_header_by_str(&c->req->pool, &c->req->res.headers, name,
                          strlen(name), 0, NULL,
                          h2o_strdup(&c->req->pool, val, SIZE_MAX).base,
                          strlen(val));
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void common_headers(struct httpd_ctx *c)
{
    const char *pol = c->a->cfg.acl.default_policy;

    httpd_header(c, "X-Consul-Default-ACL-Policy",
                 pol != NULL && pol[0] != '\0' ? pol : "allow");
}

/* Consul's consul.api.http sample: labels method and path (the route
 * pattern without its first '/', '/' as '_': "v1_kv_"); requests that
 * came from another agent on the server port count as rpc.request. */
static void record_request(struct httpd_ctx *c)
{
    char method[16], path[96];
    struct metrics_label l[2] = {{"method", method}, {"path", path}};
    const char *r = c->metric_route;
    size_t n = 0, mlen = c->req->method.len;

    if (r == NULL)
        return;
    c->metric_route = NULL; /* once */
    if (c->via_rpc) {
        metrics_incr("rpc.request", 1);
        return;
    }
    for (r += *r == '/'; *r != '\0' && n < sizeof(path) - 1; r++)
        path[n++] = *r == '/' ? '_' : *r;
    path[n] = '\0';
    if (mlen >= sizeof(method))
        mlen = sizeof(method) - 1;
    memcpy(method, c->req->method.base, mlen);
    method[mlen] = '\0';
    metrics_sample_l("api.http", metrics_since_ms(c->start_ns), l, 2);
}

void httpd_send_body(struct httpd_ctx *c, int status, const char *ctype,
                     const void *body, size_t len)
{
    h2o_req_t *req = c->req;
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);

    record_request(c);
    memcpy(copy, body, len);
    common_headers(c);
    req->res.status = status;
    req->res.reason = reason(status);
    req->res.content_length = len;
    if (ctype != NULL)
        h2o_add_header(&req->pool, &req->res.headers,
                       H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_send_inline(req, copy, len);
}

void httpd_error(struct httpd_ctx *c, int status, const char *code,
                 const char *msg)
{
    httpd_header(c, "X-Proconsul-Error", code);
    httpd_send_body(c, status, "text/plain; charset=utf-8", msg,
                    strlen(msg));
}

#define U64_MARK "\\u0001u64:"

json_t *httpd_json_u64(uint64_t v)
{
    char buf[40];

    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    snprintf(buf, sizeof(buf), "\001u64:%" PRIu64, v);
    return json_string(buf);
}

/* Replace every "\u0001u64:N" string literal by N, in place. */
static void unmark_u64(char *s)
{
    char *w = s, *r = s;
    size_t ml = strlen(U64_MARK);

    while (*r != '\0') {
        if (r[0] == '"' && strncmp(r + 1, U64_MARK, ml) == 0) {
            r += 1 + ml;
            while (*r >= '0' && *r <= '9')
                *w++ = *r++;
            if (*r == '"')
                r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = '\0';
}

void httpd_send_json(struct httpd_ctx *c, int status, json_t *body)
{
    size_t flags = c->pretty ? JSON_INDENT(4) : JSON_COMPACT;
    char *s;

    flags |= JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
    s = json_dumps(body, flags);
    json_decref(body);
    if (s == NULL) {
        httpd_error(c, 500, "internal", "failed to encode response");
        return;
    }
    if (strstr(s, U64_MARK) != NULL)
        unmark_u64(s);
    if (c->pretty) {
        size_t n = strlen(s);
        char *t = h2o_mem_alloc_pool(&c->req->pool, n + 2);

        memcpy(t, s, n);
        t[n] = '\n';
        httpd_send_body(c, status, "application/json", t, n + 1);
    } else {
        httpd_send_body(c, status, "application/json", s, strlen(s));
    }
    free(s);
}

void httpd_meta_headers(struct httpd_ctx *c, uint64_t index)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRIu64, index == 0 ? 1 : index);
    httpd_header(c, "X-Consul-Index", buf);
    httpd_header(c, "X-Consul-KnownLeader",
                 agent_leader(c->a) != NULL ? "true" : "false");
    snprintf(buf, sizeof(buf), "%" PRIu64, agent_last_contact_ms(c->a));
    httpd_header(c, "X-Consul-LastContact", buf);
    httpd_header(c, "X-Consul-Effective-Consistency",
                 c->consistent ? "consistent"
                               : (c->stale ? "stale" : "leader"));
}

void httpd_error_rc(struct httpd_ctx *c, int rc, const char *msg)
{
    switch (rc) {
    case ERR_NOLEADER:
        httpd_error(c, 500, "no_leader", msg != NULL ? msg
                                                     : "No cluster leader");
        return;
    case ERR_LOSTLEADER: /* Consul's (hashicorp/raft's) wording */
        httpd_error(c, 500, "leadership_lost", err_str(rc));
        return;
    case ERR_INVAL:
        httpd_error(c, 400, "bad_request", msg);
        return;
    case ERR_TOOBIG:
        httpd_error(c, 413, "too_large", msg);
        return;
    case ERR_SHUTDOWN:
        httpd_error(c, 503, "shutting_down", "agent is shutting down");
        return;
    default:
        httpd_error(c, 500, "internal", msg != NULL ? msg : err_str(rc));
    }
}

/* ---- request options ---- */

int httpd_parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return (errno != 0 || *end != '\0') ? -1 : 0;
}

int httpd_read_opts(struct httpd_ctx *c)
{
    const struct cfg *cfg = &c->a->cfg;
    const char *dc = httpd_q(c, "dc"), *idx = httpd_q(c, "index");
    const char *wait = httpd_q(c, "wait");
    int64_t ms = cfg->default_query_time_ms;

    c->stale = httpd_qhas(c, "stale");
    c->consistent = httpd_qhas(c, "consistent");
    if (c->stale && c->consistent) {
        httpd_error(c, 400, "bad_request", "Cannot specify ?stale with "
                    "?consistent, conflicting semantics.");
        return -1;
    }
    if (dc != NULL && dc[0] != '\0' && strcmp(dc, cfg->datacenter) != 0) {
        httpd_error(c, 500, "no_path", "No path to datacenter");
        return -1;
    }
    if (idx != NULL && httpd_parse_u64(idx, &c->min_index) != 0) {
        httpd_error(c, 400, "bad_request", "Invalid index");
        return -1;
    }
    if (wait != NULL && (opt_parse_duration(wait, false, &ms) != 0 ||
                         ms < 0)) {
        httpd_error(c, 400, "bad_request", "Invalid wait time");
        return -1;
    }
    if (ms > cfg->max_query_time_ms)
        ms = cfg->max_query_time_ms;
    /* Jitter of up to wait/16 spreads the wake-ups of many watchers. */
    if (ms >= 16)
        ms += rand() % (ms / 16);
    c->wait_ms = ms;
    return 0;
}

/* ---- pending async state ---- */

static void maybe_free(struct httpd_pending *p)
{
    if (p->guard == NULL && !p->in_raft && !p->timer_on)
        free(p);
}

static void timer_closed(uv_handle_t *h)
{
    struct httpd_pending *p = h->data;

    p->timer_on = false;
    maybe_free(p);
}

static void release_resources(struct httpd_pending *p)
{
    agent_watch_del(p->a, &p->w);
    if (p->timer_on && !uv_is_closing((uv_handle_t *)&p->timer)) {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, timer_closed);
        return;
    }
    maybe_free(p);
}

static void guard_dispose(void *slot)
{
    struct httpd_pending *p = *(struct httpd_pending **)slot;

    if (p == NULL)
        return;
    p->guard = NULL;
    p->c = NULL;
    release_resources(p);
}

static struct httpd_pending *pending_new(struct httpd_ctx *c)
{
    struct httpd_pending *p = calloc(1, sizeof(*p));
    struct httpd_pending **slot;

    if (p == NULL)
        return NULL;
    slot = h2o_mem_alloc_shared(&c->req->pool, sizeof(*slot),
                                guard_dispose);
    *slot = p;
    p->guard = slot;
    p->c = c;
    p->a = c->a;
    p->w.data = p;
    c->pend = p;
    return p;
}

/* Let go of the request before answering it: H2O may dispose the pool
 * while we send. Returns the ctx to answer. */
static struct httpd_ctx *detach(struct httpd_pending *p)
{
    struct httpd_ctx *c = p->c;

    if (p->guard != NULL)
        *p->guard = NULL;
    p->guard = NULL;
    p->c = NULL;
    if (c != NULL)
        c->pend = NULL;
    release_resources(p);
    return c;
}

/* ---- other async calls (gossip join/leave) ---- */

struct httpd_pending *httpd_async_begin(struct httpd_ctx *c)
{
    struct httpd_pending *p = pending_new(c);

    if (p != NULL)
        p->in_raft = true;
    return p;
}

struct httpd_ctx *httpd_async_end(struct httpd_pending *p)
{
    p->in_raft = false;
    if (p->c == NULL) {
        maybe_free(p);
        return NULL;
    }
    return detach(p);
}

struct later {
    uv_timer_t timer;
    struct httpd_pending *p;
    void (*fn)(struct httpd_ctx *c);
};

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_fire(uv_timer_t *t)
{
    struct later *l = t->data;
    struct httpd_ctx *c = httpd_async_end(l->p);

    uv_close((uv_handle_t *)t, later_closed);
    if (c != NULL)
        l->fn(c);
}

void httpd_later(struct httpd_ctx *c, uint64_t ms,
                 void (*fn)(struct httpd_ctx *c))
{
    struct later *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->p = httpd_async_begin(c)) == NULL) {
        free(l);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    l->fn = fn;
    uv_timer_init(c->a->loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, later_fire, ms, 0);
}

bool httpd_async_alive(const struct httpd_pending *p)
{
    return p->c != NULL;
}

/* ---- blocking reads ---- */

/* Has the index moved past ?index (a hash index: away from it)? */
static bool moved(struct httpd_ctx *c, uint64_t start)
{
    uint64_t now = c->index_fn(c);

    if (c->hash_index)
        return now != c->min_index;
    return now > c->min_index || now < start;
}

static void block_wake(struct agent_watch *w, const char *kind,
                       uint64_t index)
{
    struct httpd_pending *p = w->data;
    struct httpd_ctx *c = p->c;

    (void)index;
    if (c == NULL)
        return;
    /* On shutdown every blocked query answers with what it has; a
     * snapshot restore can move an index back, which answers too (the
     * client then starts again from the lower index, as Consul's clients
     * do when an index goes backwards). */
    if (strcmp(kind, "shutdown") != 0 && !moved(c, p->start_index))
        return;
    c = detach(p);
    c->respond_fn(c);
}

static void block_timeout(uv_timer_t *t)
{
    struct httpd_pending *p = t->data;
    struct httpd_ctx *c = p->c;

    if (c == NULL)
        return;
    c = detach(p);
    c->respond_fn(c);
}

static void block_or_respond(struct httpd_ctx *c)
{
    struct httpd_pending *p;

    if (c->min_index == 0 || moved(c, c->index_fn(c))) {
        c->respond_fn(c);
        return;
    }
    p = pending_new(c);
    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    uv_timer_init(c->a->loop, &p->timer);
    p->timer.data = p;
    p->timer_on = true;
    p->start_index = c->index_fn(c);
    uv_timer_start(&p->timer, block_timeout, (uint64_t)c->wait_ms, 0);
    p->w.fn = block_wake;
    agent_watch_add(c->a, &p->w);
}

static void barrier_done(void *ctx, int rc)
{
    struct httpd_pending *p = ctx;
    struct httpd_ctx *c;

    p->in_raft = false;
    if (p->c == NULL) {
        maybe_free(p);
        return;
    }
    c = detach(p);
    if (rc != 0) {
        httpd_error_rc(c, rc, NULL);
        return;
    }
    block_or_respond(c);
}

void httpd_blocking_local(struct httpd_ctx *c, httpd_index_fn index_fn,
                          httpd_respond_fn respond_fn)
{
    c->index_fn = index_fn;
    c->respond_fn = respond_fn;
    c->hash_index = true;
    block_or_respond(c);
}

void httpd_blocking_read(struct httpd_ctx *c, httpd_index_fn index_fn,
                         httpd_respond_fn respond_fn)
{
    char err[ERR_LEN];
    struct httpd_pending *p;

    c->index_fn = index_fn;
    c->respond_fn = respond_fn;
    if (!c->a->has_raft) {
        httpd_error(c, 500, "no_servers", "No known Consul servers");
        return;
    }
    if (c->stale) {
        block_or_respond(c);
        return;
    }
    if (!agent_is_leader(c->a)) {
        httpd_error(c, 500, "no_leader", "No cluster leader");
        return;
    }
    if (!c->consistent) {
        block_or_respond(c);
        return;
    }
    p = pending_new(c);
    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    p->in_raft = true;
    if (agent_barrier(c->a, barrier_done, p, err) != 0) {
        p->in_raft = false;
        detach(p);
        httpd_error(c, 500, "no_leader", err);
    }
}

/* ---- writes ---- */

static void apply_done(void *ctx, int rc, const struct fsm_result *res)
{
    struct httpd_pending *p = ctx;
    struct httpd_ctx *c;

    p->in_raft = false;
    if (p->c == NULL) {
        maybe_free(p);
        return;
    }
    c = detach(p);
    c->apply_fn(c, rc, res, NULL);
}

void httpd_apply(struct httpd_ctx *c, void *buf, size_t len,
                 httpd_apply_fn fn)
{
    char err[ERR_LEN];
    struct httpd_pending *p = pending_new(c);
    int rc;

    c->apply_fn = fn;
    if (p == NULL) {
        raft_free(buf);
        fn(c, ERR_NOMEM, NULL, "out of memory");
        return;
    }
    p->in_raft = true;
    if ((rc = agent_apply(c->a, buf, len, apply_done, p, err)) != 0) {
        p->in_raft = false;
        raft_free(buf);
        detach(p);
        fn(c, rc, NULL, err);
    }
}

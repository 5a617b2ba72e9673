/* httpd_fwd.c - forwarding API requests to the leader or to a server.
 *
 * Layer: http. Thread: loop only.
 * Owns: struct fwd (malloc'd copy of one request) and its hold timer.
 * Tests: t/t4001-raft-cluster.sh, t/t4002-raft-quorum.sh
 *
 * A request that needs the leader (writes, default and ?consistent
 * reads) and arrives at a follower is sent, as the same HTTP request, to
 * the leader's server RPC port (8300 carries HTTP as well as Raft). A
 * client agent sends every request that needs a server to a random alive
 * server, which forwards again if it is not the leader. While no leader
 * is known the request is held and retried every LEADER_RETRY_MS
 * (RETRY_MS on a client agent) until
 * rpc_hold_timeout (7 s), then answered 500 "No cluster leader"; a
 * client agent prefixes server errors with "rpc error making call: " as
 * Consul's do. X-Proconsul-Hop counts forwards: a request is never
 * forwarded more than MAX_HOPS times (the longest legitimate chain,
 * client -> server -> a server of another DC -> its leader, is 3). Only a GET, or a request that
 * certainly did not reach the other side, is ever sent twice. A body of
 * RPC_BORROW_MIN bytes or more (a snapshot restore) is kept in an
 * unlinked file of the data dir, mapped, rather than copied in memory.
 *
 * ?dc=<other> on a route flagged HTTPD_DC: a client agent sends the
 * request to one of its servers as above; a server sends it, unchanged
 * (the ?dc stays), to an alive server of that datacenter picked from
 * the WAN pool, which sees its own name in ?dc and answers as for a
 * local request. No ACL check happens before that: the datacenter that
 * answers checks the token. A pool without an alive server of the
 * datacenter answers 500 "No path to datacenter" at once (as Consul's
 * router does); a refused connection is retried on another of its
 * servers until the hold time (7 s) runs out. The ACL API (routes
 * flagged HTTPD_PRIMARY) goes the same way to primary_datacenter when
 * that is not ours and ACLs are on.
 */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util_fs.h"

#define RETRY_MS 100     /* client agents: to another server */
#define LEADER_RETRY_MS 20 /* servers: a local look-up, then loopback or LAN */
#define HOLD_MS 7000
#define MAX_HOPS 5
#define CALL_MS 30000
#define SNAPSHOT_CALL_MS (60 * 60 * 1000)
#define MAX_FWD_HEADERS 64
#define HOP_HEADER "x-proconsul-hop" /* h2o keeps names lower-case */

struct fwd {
    struct httpd_pending *p;
    struct agent *a;
    void (*local)(struct httpd_ctx *c);
    uv_timer_t timer;
    uint64_t deadline;
    uint64_t call_ms;
    bool idempotent;
    bool to_any;        /* a client agent: any server will do */
    char dc[AGENT_DC_MAX + 1]; /* ?dc of another datacenter, or "" */
    char *method, *target, *body;
    size_t body_len;
    bool body_mapped;   /* body is a util_map of a spooled copy */
    struct rpc_header h[MAX_FWD_HEADERS + 1];
    size_t nh;
    char hop[16];
    char last_addr[80];
    int last_rc;
};

static bool hop_by_hop(const char *name, size_t len)
{
    static const char *const skip[] = {
        "connection", "keep-alive", "transfer-encoding", "content-length",
        "host", "te", "upgrade", "proxy-connection", HOP_HEADER,
    };
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strlen(skip[i]) == len && strncasecmp(skip[i], name, len) == 0)
            return true;
    return false;
}

int httpd_hops(struct httpd_ctx *c)
{
    ssize_t i = h2o_find_header_by_str(&c->req->headers, HOP_HEADER,
                                       strlen(HOP_HEADER), -1);
    int n = 0;

    if (i < 0)
        return 0;
    for (size_t k = 0; k < c->req->headers.entries[i].value.len; k++) {
        char ch = c->req->headers.entries[i].value.base[k];

        if (ch < '0' || ch > '9' || n > 100)
            return MAX_HOPS;
        n = n * 10 + (ch - '0');
    }
    return n;
}

bool httpd_needs_forward(struct httpd_ctx *c, enum httpd_route_kind kind)
{
    bool read = c->method == HTTPD_GET || c->method == HTTPD_HEAD;

    if (kind != HTTPD_RT_SERVER && kind != HTTPD_RT_LEADER)
        return false;
    if (httpd_hops(c) >= MAX_HOPS)
        return false;
    if (!c->a->has_raft)
        return true;              /* client agent */
    if (kind == HTTPD_RT_SERVER || (read && httpd_qhas(c, "stale")))
        return false;             /* any server answers */
    if (read && c->route != NULL && httpd_route_reads_index(c->route))
        return false;             /* httpd_read_index instead */
    return !agent_is_leader(c->a);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        if (n > 0)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void fwd_free(struct fwd *f)
{
    for (size_t i = 0; i < f->nh; i++) {
        free((char *)f->h[i].name);
        free((char *)f->h[i].value);
    }
    free(f->method);
    free(f->target);
    if (f->body_mapped)
        util_unmap(f->body, f->body_len);
    else
        free(f->body);
    free(f);
}

static void timer_closed(uv_handle_t *h)
{
    fwd_free(h->data);
}

/* The request is answered (or gone): let go of everything. */
static void fwd_done(struct fwd *f)
{
    uv_close((uv_handle_t *)&f->timer, timer_closed);
}

/* A copy of a large body in an unlinked file of the data dir, mapped:
 * the page cache holds it, not the heap. f->body stays NULL on failure. */
static void spool_body(struct fwd *f, struct httpd_ctx *c)
{
    char err[ERR_LEN];
    const void *p;
    int fd = util_tmpfile(c->a->data_dir, err), e;

    if (fd < 0) {
        LOG_ERROR("http", "forwarding a %zu-byte body: %s", f->body_len,
                  err);
        return;
    }
    e = util_write_all(fd, c->req->entity.base, f->body_len);
    if (e == 0 && util_map(fd, f->body_len, &p, err) == 0) {
        f->body = (char *)p;
        f->body_mapped = true;
    } else {
        LOG_ERROR("http", "forwarding a %zu-byte body: %s", f->body_len,
                  e != 0 ? strerror(e) : err);
    }
    close(fd);
}

static int copy_request(struct fwd *f, struct httpd_ctx *c)
{
    h2o_req_t *req = c->req;
    int hops = httpd_hops(c);

    f->method = dupn(req->method.base, req->method.len);
    f->target = dupn(req->path.base, req->path.len);
    f->body_len = req->entity.base != NULL ? req->entity.len : 0;
    if (f->body_len >= RPC_BORROW_MIN)
        spool_body(f, c);
    else
        f->body = dupn(f->body_len > 0 ? req->entity.base : "",
                       f->body_len);
    if (f->method == NULL || f->target == NULL || f->body == NULL)
        return -1;
    for (size_t i = 0; i < req->headers.size && f->nh < MAX_FWD_HEADERS;
         i++) {
        const h2o_header_t *hd = &req->headers.entries[i];

        if (hop_by_hop(hd->name->base, hd->name->len))
            continue;
        f->h[f->nh].name = dupn(hd->name->base, hd->name->len);
        f->h[f->nh].value = dupn(hd->value.base, hd->value.len);
        if (f->h[f->nh].name == NULL || f->h[f->nh].value == NULL) {
            f->nh++;
            return -1;
        }
        f->nh++;
    }
    snprintf(f->hop, sizeof(f->hop), "%d", hops + 1);
    f->h[f->nh].name = dupn(HOP_HEADER, strlen(HOP_HEADER));
    f->h[f->nh].value = dupn(f->hop, strlen(f->hop));
    f->nh++;
    return f->h[f->nh - 1].name != NULL && f->h[f->nh - 1].value != NULL
               ? 0 : -1;
}

static void relay(struct fwd *f, struct httpd_ctx *c,
                  const struct rpc_response *r)
{
    static const char prefix[] = "rpc error making call: ";
    const char *body = r->body;
    size_t len = r->body_len;
    char *joined = NULL;

    for (size_t i = 0; i < r->n_headers; i++) {
        const char *n = r->headers[i].name;

        if (hop_by_hop(n, strlen(n)) || strcasecmp(n, "date") == 0 ||
            strcasecmp(n, "server") == 0 ||
            strcasecmp(n, "x-consul-default-acl-policy") == 0)
            continue;
        httpd_header(c, n, r->headers[i].value);
    }
    if (f->to_any && r->status >= 500 &&
        strncmp(body, prefix, sizeof(prefix) - 1) != 0) {
        joined = malloc(sizeof(prefix) + len);
        if (joined != NULL) {
            memcpy(joined, prefix, sizeof(prefix) - 1);
            memcpy(joined + sizeof(prefix) - 1, body, len);
            body = joined;
            len += sizeof(prefix) - 1;
        }
    }
    httpd_send_body(c, r->status, NULL, body, len);
    free(joined);
}

static void attempt(struct fwd *f);

static void on_retry(uv_timer_t *t)
{
    attempt(t->data);
}

/* Retry later if time is left; otherwise answer with the last error. */
static void retry_or_fail(struct fwd *f, const char *err)
{
    struct httpd_ctx *c;

    uint64_t ms = f->to_any ? RETRY_MS : LEADER_RETRY_MS;

    if (uv_now(f->a->loop) + ms < f->deadline && !f->a->stopping) {
        uv_timer_start(&f->timer, on_retry, ms, 0);
        return;
    }
    c = httpd_async_end(f->p);
    if (c != NULL) {
        if (f->to_any && f->last_rc == 0)
            httpd_error(c, 500, "no_servers", "No known Consul servers");
        else if (f->to_any || f->dc[0] != '\0')
            httpd_error(c, 500, "rpc_error", err);
        else
            httpd_error(c, 500, "no_leader", "No cluster leader");
    }
    fwd_done(f);
}

static void on_reply(void *ctx, int rc, const struct rpc_response *r,
                     const char *err)
{
    struct fwd *f = ctx;
    struct httpd_ctx *c;
    char msg[ERR_LEN + 64];

    f->last_rc = rc;
    if (rc == ERR_UNREACHABLE || (rc == ERR_IO && f->idempotent)) {
        LOG_DEBUG("http", "forward to %s: %s; retrying", f->last_addr, err);
        snprintf(msg, sizeof(msg), "rpc error making call: %s", err);
        retry_or_fail(f, msg);
        return;
    }
    c = httpd_async_end(f->p);
    if (c != NULL && rc == 0) {
        relay(f, c, r);
    } else if (c != NULL) {
        snprintf(msg, sizeof(msg), "rpc error making call: %s", err);
        httpd_error(c, 500, rc == ERR_TIMEOUT ? "timeout" : "rpc_error",
                    msg);
    }
    fwd_done(f);
}

/* A server: pick an alive server of f->dc; false when answered. */
static bool pick_dc(struct fwd *f, char *buf, size_t len)
{
    struct httpd_ctx *c;
    int rc = agent_wan_pick(f->a, f->dc, f->last_rc != 0 ? f->last_addr
                                                         : NULL, buf, len);

    if (rc == 0)
        return true;
    c = httpd_async_end(f->p);
    if (c != NULL)
        httpd_error(c, 500, "no_dc_path", "No path to datacenter");
    fwd_done(f);
    return false;
}

static void attempt(struct fwd *f)
{
    const char *addr;
    char err[ERR_LEN], dcaddr[80];
    struct httpd_ctx *c;

    if (!httpd_async_alive(f->p)) { /* the client went away */
        httpd_async_end(f->p);
        fwd_done(f);
        return;
    }
    if (f->dc[0] != '\0' && !f->to_any) {
        if (!pick_dc(f, dcaddr, sizeof(dcaddr)))
            return;
        addr = dcaddr;
    } else if (f->to_any) {
        addr = agent_pick_server(f->a, f->last_rc != 0 ? f->last_addr
                                                       : NULL);
    } else if (agent_leader_pending(f->a)) {
        addr = NULL; /* our first barrier is on its way: hold */
    } else if (agent_is_leader(f->a)) {
        c = httpd_async_end(f->p); /* we lead now: answer here */
        if (c != NULL)
            f->local(c);
        fwd_done(f);
        return;
    } else {
        addr = agent_leader(f->a);
    }
    if (addr == NULL) {
        retry_or_fail(f, "No known Consul servers");
        return;
    }
    snprintf(f->last_addr, sizeof(f->last_addr), "%s", addr);
    if (f->a->rpcc == NULL ||
        rpc_http_call(f->a->rpcc, addr, f->method, f->target, f->h, f->nh,
                      f->body, f->body_len, f->call_ms, on_reply, f, NULL,
                      err) != 0)
        retry_or_fail(f, err);
}

static void fwd_start(struct httpd_ctx *c, void (*local)(struct httpd_ctx *c),
                      const char *dc);

void httpd_forward(struct httpd_ctx *c, void (*local)(struct httpd_ctx *c))
{
    fwd_start(c, local, NULL);
}

bool httpd_dc_remote(struct httpd_ctx *c)
{
    const char *dc = httpd_q(c, "dc");

    /* Exact, as Consul's router: "DC2" is not "dc2". */
    return dc != NULL && dc[0] != '\0' &&
           strcmp(dc, c->a->cfg.datacenter) != 0;
}

static void never_local(struct httpd_ctx *c)
{
    httpd_error(c, 500, "no_dc_path", "No path to datacenter");
}

void httpd_forward_dc(struct httpd_ctx *c)
{
    const char *dc = httpd_q(c, "dc");

    if (strlen(dc) > AGENT_DC_MAX || httpd_hops(c) >= MAX_HOPS) {
        httpd_error(c, 500, "no_dc_path", "No path to datacenter");
        return;
    }
    fwd_start(c, never_local, dc);
}

bool httpd_primary_remote(struct httpd_ctx *c)
{
    const char *p = c->a->cfg.primary_datacenter;

    return agent_acl_enabled(c->a) && p != NULL && p[0] != '\0' &&
           strcmp(p, c->a->cfg.datacenter) != 0;
}

void httpd_forward_primary(struct httpd_ctx *c)
{
    if (httpd_hops(c) >= MAX_HOPS) {
        httpd_error(c, 500, "no_dc_path", "No path to datacenter");
        return;
    }
    fwd_start(c, never_local, c->a->cfg.primary_datacenter);
}

static void fwd_start(struct httpd_ctx *c, void (*local)(struct httpd_ctx *c),
                      const char *dc)
{
    struct fwd *f = calloc(1, sizeof(*f));

    if (f == NULL || copy_request(f, c) != 0) {
        if (f != NULL)
            fwd_free(f);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    f->p = httpd_async_begin(c);
    if (f->p == NULL) {
        fwd_free(f);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    f->a = c->a;
    f->local = local;
    f->to_any = !c->a->has_raft;
    if (dc != NULL)
        snprintf(f->dc, sizeof(f->dc), "%s", dc);
    f->idempotent = c->method == HTTPD_GET || c->method == HTTPD_HEAD;
    f->deadline = uv_now(c->a->loop) + HOLD_MS;
    /* A blocking query may legitimately take its whole wait. */
    f->call_ms = CALL_MS;
    if (httpd_qhas(c, "index")) {
        int64_t wait = c->a->cfg.max_query_time_ms;

        f->call_ms = (uint64_t)(wait + wait / 16) + CALL_MS;
    }
    /* A snapshot moves the whole state: allow it the time that takes. */
    if (c->route != NULL && httpd_route_reads_index(c->route))
        f->call_ms = SNAPSHOT_CALL_MS;
    uv_timer_init(c->a->loop, &f->timer);
    f->timer.data = f;
    attempt(f);
}

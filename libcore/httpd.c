/* httpd.c - H2O server setup, listeners and the route table.
 *
 * Layer: http. Thread: loop only.
 * Owns: H2O global config and context, listening uv_tcp_t handles.
 * Tests: t/t1002-kv-http-api.sh, t/t1005-http-fuzz.sh
 */
#include "httpd_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Large enough for a snapshot upload; KV checks its own limit. */
#define MAX_ENTITY (64u * 1024 * 1024)

struct route {
    const char *path;  /* exact path, or a prefix when it ends with '/' */
    unsigned methods;
    enum httpd_route_kind kind;
    void (*fn)(struct httpd_ctx *c);
};

#define LOCAL HTTPD_RT_LOCAL
#define SERVER HTTPD_RT_SERVER
#define LEADER HTTPD_RT_LEADER
#define INTERNAL HTTPD_RT_INTERNAL
static const struct route routes[] = {
    {"/v1/agent/check/", HTTPD_PUT, LOCAL, httpd_agent_check},
    {"/v1/agent/checks", HTTPD_GET, LOCAL, httpd_agent_checks},
    {"/v1/agent/force-leave/", HTTPD_PUT, LOCAL, httpd_agent_force_leave},
    {"/v1/agent/health/service/", HTTPD_GET, LOCAL,
     httpd_agent_health_service},
    {"/v1/agent/join/", HTTPD_PUT, LOCAL, httpd_agent_join},
    {"/v1/agent/leave", HTTPD_PUT, LOCAL, httpd_agent_leave},
    {"/v1/agent/maintenance", HTTPD_PUT, LOCAL, httpd_agent_maintenance},
    {"/v1/agent/members", HTTPD_GET, LOCAL, httpd_agent_members},
    {"/v1/agent/reload", HTTPD_PUT, LOCAL, httpd_agent_reload},
    {"/v1/agent/self", HTTPD_GET, LOCAL, httpd_agent_self},
    {"/v1/agent/service/", HTTPD_GET | HTTPD_PUT, LOCAL, httpd_agent_service},
    {"/v1/agent/services", HTTPD_GET, LOCAL, httpd_agent_services},
    {"/v1/agent/version", HTTPD_GET, LOCAL, httpd_agent_version},
    {"/v1/catalog/datacenters", HTTPD_GET, LOCAL,
     httpd_catalog_datacenters},
    {"/v1/catalog/deregister", HTTPD_PUT, LEADER, httpd_catalog_deregister},
    {"/v1/catalog/node-services/", HTTPD_GET, LEADER,
     httpd_catalog_node_services},
    {"/v1/catalog/node/", HTTPD_GET, LEADER, httpd_catalog_node},
    {"/v1/catalog/nodes", HTTPD_GET, LEADER, httpd_catalog_nodes},
    {"/v1/catalog/register", HTTPD_PUT, LEADER, httpd_catalog_register},
    {"/v1/catalog/service/", HTTPD_GET, LEADER, httpd_catalog_service},
    {"/v1/catalog/services", HTTPD_GET, LEADER, httpd_catalog_services},
    {"/v1/health/checks/", HTTPD_GET, LEADER, httpd_health_checks},
    {"/v1/health/node/", HTTPD_GET, LEADER, httpd_health_node},
    {"/v1/health/service/", HTTPD_GET, LEADER, httpd_health_service},
    {"/v1/health/state/", HTTPD_GET, LEADER, httpd_health_state},
    {"/v1/internal/proconsul/bootstrap-commit", HTTPD_POST, INTERNAL,
     httpd_internal_commit},
    {"/v1/internal/proconsul/bootstrap-vote", HTTPD_POST, INTERNAL,
     httpd_internal_vote},
    {"/v1/internal/proconsul/raft-state", HTTPD_GET, INTERNAL,
     httpd_internal_raft_state},
    {"/v1/kv/", HTTPD_GET | HTTPD_PUT | HTTPD_DELETE, LEADER, httpd_kv},
    {"/v1/operator/autopilot/configuration", HTTPD_GET | HTTPD_PUT, LEADER,
     httpd_operator_autopilot_config},
    {"/v1/operator/autopilot/health", HTTPD_GET, LEADER,
     httpd_operator_autopilot_health},
    {"/v1/operator/raft/configuration", HTTPD_GET, LEADER,
     httpd_operator_raft_config},
    {"/v1/operator/raft/peer", HTTPD_DELETE, LEADER,
     httpd_operator_raft_peer},
    {"/v1/operator/raft/transfer-leader", HTTPD_POST, LEADER,
     httpd_operator_transfer},
    {"/v1/status/leader", HTTPD_GET, SERVER, httpd_status_leader},
    {"/v1/status/peers", HTTPD_GET, SERVER, httpd_status_peers},
};

static unsigned parse_method(h2o_iovec_t m)
{
    static const struct { const char *s; unsigned v; } tab[] = {
        {"GET", HTTPD_GET}, {"PUT", HTTPD_PUT}, {"POST", HTTPD_POST},
        {"DELETE", HTTPD_DELETE}, {"HEAD", HTTPD_HEAD},
        {"OPTIONS", HTTPD_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (h2o_memis(m.base, m.len, tab[i].s, strlen(tab[i].s)))
            return tab[i].v;
    return 0;
}

static void allow_header(struct httpd_ctx *c, unsigned methods)
{
    static const char *names[] = {"GET", "PUT", "POST", "DELETE"};
    char buf[64] = "OPTIONS";

    for (int i = 0; i < 4; i++) {
        if (methods & (1u << i)) {
            strcat(buf, ",");
            strcat(buf, names[i]);
        }
    }
    httpd_header(c, "Allow", buf);
}

static int parse_query(struct httpd_ctx *c, const char *q, size_t n)
{
    h2o_mem_pool_t *pool = &c->req->pool;
    size_t i = 0;

    c->q.raw = h2o_strdup(pool, q, n).base;
    while (i < n && c->q.n < HTTPD_MAX_QUERY) {
        size_t end = i, eq;
        size_t vlen;

        while (end < n && q[end] != '&')
            end++;
        for (eq = i; eq < end && q[eq] != '='; eq++)
            ;
        if (end > i) {
            char *name = httpd_unescape(pool, q + i, eq - i, true, &vlen);
            char *val = eq < end ? httpd_unescape(pool, q + eq + 1,
                                                  end - eq - 1, true, &vlen)
                                 : h2o_strdup(pool, "", 0).base;
            if (name == NULL || val == NULL)
                return -1;
            c->q.name[c->q.n] = name;
            c->q.val[c->q.n++] = val;
        }
        i = end + 1;
    }
    return 0;
}

static const struct route *find_route(const char *path, size_t n)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t rl = strlen(routes[i].path);

        if (routes[i].path[rl - 1] == '/') {
            if (n >= rl && memcmp(path, routes[i].path, rl) == 0)
                return &routes[i];
            if (n == rl - 1 && memcmp(path, routes[i].path, n) == 0)
                return &routes[i];
        } else if (n == rl && memcmp(path, routes[i].path, n) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

static void root_page(struct httpd_ctx *c)
{
    static const char msg[] =
        "Consul Agent: UI disabled. To enable, set ui_config.enabled=true "
        "in the agent configuration and restart.";

    if (c->a->cfg.ui) {
        httpd_header(c, "Location", "/ui/");
        httpd_send_body(c, 301, "text/html; charset=utf-8", "", 0);
        return;
    }
    httpd_send_body(c, 200, "text/plain; charset=utf-8", msg,
                    sizeof(msg) - 1);
}

static void dispatch(struct httpd_ctx *c, const char *raw, size_t rawlen)
{
    const struct route *r;
    size_t dlen, rl;
    char *path = httpd_unescape(&c->req->pool, raw, rawlen, false, &dlen);

    if (path == NULL || strlen(path) != dlen) {
        httpd_error(c, 400, "bad_request", "Invalid URL escape in path");
        return;
    }
    if (dlen == 1 && path[0] == '/') {
        root_page(c);
        return;
    }
    r = find_route(path, dlen);
    if (r != NULL && (r->kind == HTTPD_RT_INTERNAL) != c->via_rpc &&
        (r->kind == HTTPD_RT_INTERNAL || r->kind == HTTPD_RT_LOCAL))
        r = NULL; /* agent endpoints are not served on 8300, and
                   * internal ones only there */
    if (r == NULL) {
        httpd_error(c, 404, "not_found", "Invalid URL path: not a "
                    "recognized HTTP API endpoint");
        return;
    }
    if (c->method == HTTPD_OPTIONS) {
        allow_header(c, r->methods);
        httpd_send_body(c, 200, NULL, "", 0);
        return;
    }
    if ((c->method & r->methods) == 0) {
        char msg[64];

        allow_header(c, r->methods);
        snprintf(msg, sizeof(msg), "method %.*s not allowed",
                 (int)c->req->method.len, c->req->method.base);
        httpd_error(c, 405, "method_not_allowed", msg);
        return;
    }
    rl = strlen(r->path);
    c->rest = dlen >= rl ? path + rl : path + dlen;
    c->rest_len = dlen >= rl ? dlen - rl : 0;
    if (httpd_needs_forward(c, r->kind)) {
        httpd_forward(c, r->fn);
        return;
    }
    r->fn(c);
}

static int handle(h2o_handler_t *self, h2o_req_t *req, bool via_rpc)
{
    struct httpd *h = *(struct httpd **)(self + 1);
    struct httpd_ctx *c = h2o_mem_alloc_pool(&req->pool, sizeof(*c));
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;

    memset(c, 0, sizeof(*c));
    c->req = req;
    c->h = h;
    c->a = h->a;
    c->method = parse_method(req->method);
    c->via_rpc = via_rpc;
    if (req->query_at != SIZE_MAX &&
        parse_query(c, req->path.base + req->query_at + 1,
                    req->path.len - req->query_at - 1) != 0) {
        httpd_error(c, 400, "bad_request", "Invalid URL query escape");
        return 0;
    }
    c->pretty = httpd_qhas(c, "pretty");
    if (c->method == 0) {
        httpd_error(c, 405, "method_not_allowed", "method not allowed");
        return 0;
    }
    dispatch(c, req->path.base, plen);
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    return handle(self, req, false);
}

static int on_rpc_req(h2o_handler_t *self, h2o_req_t *req)
{
    return handle(self, req, true);
}

/* An HTTP connection that arrived on the server RPC port. */
static void on_rpc_conn(void *ctx, uv_tcp_t *conn)
{
    struct httpd *h = ctx;
    h2o_socket_t *sock;

    if (h->stopped || !h->ctx_inited) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&h->rpc_accept_ctx, sock);
}

static void on_accept(uv_stream_t *listener, int status)
{
    struct httpd *h = listener->data;
    uv_tcp_t *conn;
    h2o_socket_t *sock;

    if (status != 0 || h->stopped)
        return;
    conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return;
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&h->accept_ctx, sock);
}

struct httpd *httpd_new(struct agent *a, char *err)
{
    struct httpd *h = calloc(1, sizeof(*h));
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *hd;

    if (h == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    h->a = a;
    h2o_config_init(&h->config);
    h->config.server_name = h2o_iovec_init("", 0);
    h->config.max_request_entity_size = MAX_ENTITY;
    host = h2o_config_register_host(&h->config,
                                    h2o_iovec_init(H2O_STRLIT("default")),
                                    65535);
    path = h2o_config_register_path(host, "/", 0);
    hd = h2o_create_handler(path, sizeof(*hd) + sizeof(h));
    hd->on_req = on_req;
    *(struct httpd **)(hd + 1) = h;
    h->hosts[0] = host;
    host = h2o_config_register_host(&h->config,
                                    h2o_iovec_init(H2O_STRLIT("rpc")),
                                    65535);
    path = h2o_config_register_path(host, "/", 0);
    hd = h2o_create_handler(path, sizeof(*hd) + sizeof(h));
    hd->on_req = on_rpc_req;
    *(struct httpd **)(hd + 1) = h;
    h->rpc_hosts[0] = host;
    return h;
}

static int listen_one(struct httpd *h, const char *ip, int port, char *err)
{
    struct sockaddr_storage ss;
    uv_tcp_t *l = &h->listeners[h->n_listeners];
    int rv;

    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
        return err_set(err, ERR_INVAL, "invalid HTTP address '%s'", ip);
    uv_tcp_init(h->a->loop, l);
    l->data = h;
    h->n_listeners++;
    rv = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)l, 511, on_accept);
    if (rv != 0)
        return err_set(err, ERR_IO, "listening on %s:%d: %s", ip, port,
                       uv_strerror(rv));
    LOG_INFO("agent", "Started HTTP server on %s:%d (tcp)", ip, port);
    return 0;
}

static void on_agent_stop(void *ctx)
{
    struct httpd *h = ctx;

    if (h->stopped)
        return;
    h->stopped = true;
    for (int i = 0; i < h->n_listeners; i++)
        uv_close((uv_handle_t *)&h->listeners[i], NULL);
    if (h->ctx_inited)
        h2o_context_request_shutdown(&h->ctx);
}

int httpd_start(struct httpd *h, char *err)
{
    const struct cfg *cfg = &h->a->cfg;

    h2o_context_init(&h->ctx, h->a->loop, &h->config);
    h->ctx_inited = true;
    h->accept_ctx.ctx = &h->ctx;
    h->accept_ctx.hosts = h->hosts;
    h->rpc_accept_ctx.ctx = &h->ctx;
    h->rpc_accept_ctx.hosts = h->rpc_hosts;
    if (h->a->rpc != NULL)
        rpc_server_set_http(h->a->rpc, on_rpc_conn, h);
    if (cfg->ports.http < 0)
        return 0;
    for (int i = 0; i < cfg->n_http_addrs; i++) {
        if (listen_one(h, cfg->http_addrs[i], cfg->ports.http, err) != 0) {
            on_agent_stop(h);
            return ERR_IO;
        }
    }
    return agent_add_shutdown_hook(h->a, on_agent_stop, h);
}

static bool timeouts_empty(h2o_context_t *x)
{
    h2o_timeout_t *all[] = {
        &x->zero_timeout, &x->one_sec_timeout, &x->hundred_ms_timeout,
        &x->handshake_timeout, &x->http1.req_timeout,
        &x->http2.idle_timeout, &x->http2.graceful_shutdown_timeout,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!h2o_linklist_is_empty(&all[i]->_entries))
            return false;
    return true;
}

/* Kept reachable when a client still holds a connection at exit: H2O
 * cannot dispose a context with live connections, and the process is
 * about to end anyway. */
static struct httpd *busy_at_exit;

void httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->ctx_inited && !timeouts_empty(&h->ctx)) {
        LOG_DEBUG("agent", "HTTP connections still open at exit");
        busy_at_exit = h;
        return;
    }
    if (h->ctx_inited)
        h2o_context_dispose(&h->ctx);
    h2o_config_dispose(&h->config);
    free(h);
}

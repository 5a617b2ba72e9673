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
#include "metrics.h"

/* The largest body of any route but PUT /v1/snapshot (whose limit is
 * limits.snapshot_max_bytes); KV checks its own, smaller one. H2O reads
 * a body whole before the handler runs: past 32 MiB it spools it to an
 * unlinked file in the data dir (h2o_socket_buffer_mmap_settings), so a
 * large one takes disk, not memory. */
#define MAX_ENTITY ((size_t)64 * 1024 * 1024)

/* One row per route: where it may be answered and what each method
 * class needs (read: GET/HEAD, write: PUT/POST/DELETE). ACL checks are
 * driven from here so that no route can forget one; HANDLER rows check
 * in their handler (body-dependent) or filter lists. Served as JSON at
 * /v1/internal/proconsul/routes, which t/t3001-acl-matrix.sh walks. */
struct route {
    const char *path;  /* exact path, or a prefix when it ends with '/' */
    unsigned methods;
    enum httpd_route_kind kind;
    void (*fn)(struct httpd_ctx *c);
    struct httpd_perm read, write;
};

#define LOCAL HTTPD_RT_LOCAL
#define SERVER HTTPD_RT_SERVER
#define LEADER HTTPD_RT_LEADER
#define INTERNAL HTTPD_RT_INTERNAL
#define GET HTTPD_GET
#define PUT HTTPD_PUT
#define POST HTTPD_POST
#define DEL HTTPD_DELETE
#define DC HTTPD_DC /* honours ?dc=<other datacenter> (httpd_fwd.c) */
#define PRI HTTPD_PRIMARY /* answered by primary_datacenter (ACLs) */
#define P(res, need, scope) {ACL_RES_##res, ACL_##need, HTTPD_ACL_##scope}
#define PUB {0, 0, HTTPD_ACL_NONE}
#define ANYTOKEN {ACL_RES_ACL, ACL_READ, HTTPD_ACL_HANDLER}

static void routes_list(struct httpd_ctx *c);

static const struct route routes[] = {
    {"/v1/acl/bootstrap", PUT | PRI, SERVER, httpd_acl_bootstrap, PUB, PUB},
    {"/v1/acl/policies", GET | PRI, LEADER, httpd_acl_policies,
     P(ACL, READ, GLOBAL), PUB},
    {"/v1/acl/policy/", GET | PUT | DEL | PRI, LEADER, httpd_acl_policy,
     P(ACL, READ, GLOBAL), P(ACL, WRITE, GLOBAL)},
    {"/v1/acl/replication", GET, SERVER, httpd_acl_replication, PUB, PUB},
    {"/v1/acl/role/", GET | PUT | DEL | PRI, LEADER, httpd_acl_role,
     P(ACL, READ, GLOBAL), P(ACL, WRITE, GLOBAL)},
    {"/v1/acl/roles", GET | PRI, LEADER, httpd_acl_roles,
     P(ACL, READ, GLOBAL), PUB},
    {"/v1/acl/token/self", GET | PRI, LEADER, httpd_acl_token_self, ANYTOKEN,
     PUB},
    {"/v1/acl/token/", GET | PUT | DEL | PRI, LEADER, httpd_acl_token,
     P(ACL, READ, GLOBAL), P(ACL, WRITE, GLOBAL)},
    {"/v1/acl/tokens", GET | PRI, LEADER, httpd_acl_tokens,
     P(ACL, READ, GLOBAL), PUB},
    {"/v1/agent/check/", PUT, LOCAL, httpd_agent_check, PUB,
     P(NODE, WRITE, HANDLER)},
    {"/v1/agent/checks", GET, LOCAL, httpd_agent_checks,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/agent/force-leave/", PUT, LOCAL, httpd_agent_force_leave, PUB,
     P(OPERATOR, WRITE, GLOBAL)},
    {"/v1/agent/health/service/", GET, LOCAL, httpd_agent_health_service,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/agent/join/", PUT, LOCAL, httpd_agent_join, PUB,
     P(AGENT, WRITE, SELF)},
    {"/v1/agent/leave", PUT, LOCAL, httpd_agent_leave, PUB,
     P(AGENT, WRITE, SELF)},
    {"/v1/agent/maintenance", PUT, LOCAL, httpd_agent_maintenance, PUB,
     P(NODE, WRITE, SELF)},
    {"/v1/agent/members", GET, LOCAL, httpd_agent_members,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/agent/metrics", GET, LOCAL, httpd_agent_metrics,
     P(AGENT, READ, SELF), PUB},
    {"/v1/agent/monitor", GET, LOCAL, httpd_agent_monitor,
     P(AGENT, READ, SELF), PUB},
    {"/v1/agent/reload", PUT, LOCAL, httpd_agent_reload, PUB,
     P(AGENT, WRITE, SELF)},
    {"/v1/agent/self", GET, LOCAL, httpd_agent_self, P(AGENT, READ, SELF),
     PUB},
    {"/v1/agent/service/", GET | PUT, LOCAL, httpd_agent_service,
     P(SERVICE, READ, HANDLER), P(SERVICE, WRITE, HANDLER)},
    {"/v1/agent/services", GET, LOCAL, httpd_agent_services,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/agent/token/", PUT, LOCAL, httpd_agent_token, PUB,
     P(ACL, WRITE, GLOBAL)},
    {"/v1/agent/version", GET, LOCAL, httpd_agent_version, PUB, PUB},
    {"/v1/catalog/datacenters", GET, SERVER, httpd_catalog_datacenters, PUB,
     PUB},
    {"/v1/catalog/deregister", PUT | DC, LEADER, httpd_catalog_deregister, PUB,
     P(NODE, WRITE, HANDLER)},
    {"/v1/catalog/node-services/", GET | DC, LEADER,
     httpd_catalog_node_services, P(NODE, READ, HANDLER), PUB},
    {"/v1/catalog/node/", GET | DC, LEADER, httpd_catalog_node,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/catalog/nodes", GET | DC, LEADER, httpd_catalog_nodes,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/catalog/register", PUT | DC, LEADER, httpd_catalog_register, PUB,
     P(NODE, WRITE, HANDLER)},
    {"/v1/catalog/service/", GET | DC, LEADER, httpd_catalog_service,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/catalog/services", GET | DC, LEADER, httpd_catalog_services,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/event/fire/", PUT | DC, LOCAL, httpd_event_fire, PUB,
     P(EVENT, WRITE, PATH)},
    {"/v1/event/list", GET, LOCAL, httpd_event_list,
     P(EVENT, READ, HANDLER), PUB},
    {"/v1/health/checks/", GET | DC, LEADER, httpd_health_checks,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/health/node/", GET | DC, LEADER, httpd_health_node,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/health/service/", GET | DC, LEADER, httpd_health_service,
     P(SERVICE, READ, HANDLER), PUB},
    {"/v1/health/state/", GET | DC, LEADER, httpd_health_state,
     P(NODE, READ, HANDLER), PUB},
    {"/v1/internal/proconsul/acl-bootstrap", POST, INTERNAL,
     httpd_internal_acl_bootstrap, PUB, PUB},
    {"/v1/internal/proconsul/acl-resolve", GET, INTERNAL,
     httpd_internal_acl_resolve, PUB, PUB},
    {"/v1/internal/proconsul/acl-state", GET, INTERNAL,
     httpd_internal_acl_state, PUB, PUB},
    {"/v1/internal/proconsul/bootstrap-commit", POST, INTERNAL,
     httpd_internal_commit, PUB, PUB},
    {"/v1/internal/proconsul/bootstrap-vote", POST, INTERNAL,
     httpd_internal_vote, PUB, PUB},
    {"/v1/internal/proconsul/raft-state", GET, INTERNAL,
     httpd_internal_raft_state, PUB, PUB},
    {"/v1/internal/proconsul/read-index", GET, INTERNAL,
     httpd_internal_read_index, PUB, PUB},
    {"/v1/internal/proconsul/routes", GET, LOCAL, routes_list, PUB, PUB},
    {"/v1/kv/", GET | PUT | DEL | DC, LEADER, httpd_kv, P(KEY, READ, HANDLER),
     P(KEY, WRITE, HANDLER)},
    {"/v1/operator/autopilot/configuration", GET | PUT, LEADER,
     httpd_operator_autopilot_config, P(OPERATOR, READ, GLOBAL),
     P(OPERATOR, WRITE, GLOBAL)},
    {"/v1/operator/autopilot/health", GET, LEADER,
     httpd_operator_autopilot_health, P(OPERATOR, READ, GLOBAL), PUB},
    {"/v1/operator/raft/configuration", GET, LEADER,
     httpd_operator_raft_config, P(OPERATOR, READ, GLOBAL), PUB},
    {"/v1/operator/raft/peer", DEL, LEADER, httpd_operator_raft_peer, PUB,
     P(OPERATOR, WRITE, GLOBAL)},
    {"/v1/operator/raft/transfer-leader", POST, LEADER,
     httpd_operator_transfer, PUB, P(OPERATOR, WRITE, GLOBAL)},
    {"/v1/session/create", PUT | DC, LEADER, httpd_session_create, PUB,
     P(SESSION, WRITE, HANDLER)},
    {"/v1/session/destroy/", PUT | DC, LEADER, httpd_session_destroy, PUB,
     P(SESSION, WRITE, HANDLER)},
    {"/v1/session/info/", GET | DC, LEADER, httpd_session_info,
     P(SESSION, READ, HANDLER), PUB},
    {"/v1/session/list", GET | DC, LEADER, httpd_session_list,
     P(SESSION, READ, HANDLER), PUB},
    {"/v1/session/node/", GET | DC, LEADER, httpd_session_node,
     P(SESSION, READ, HANDLER), PUB},
    {"/v1/session/renew/", PUT | DC, LEADER, httpd_session_renew, PUB,
     P(SESSION, WRITE, HANDLER)},
    {"/v1/snapshot", GET | PUT, LEADER, httpd_snapshot,
     P(ACL, WRITE, GLOBAL), P(ACL, WRITE, GLOBAL)},
    {"/v1/status/leader", GET, SERVER, httpd_status_leader, PUB, PUB},
    {"/v1/status/peers", GET, SERVER, httpd_status_peers, PUB, PUB},
    {"/v1/txn", PUT | DC, SERVER, httpd_txn, PUB, P(KEY, WRITE, HANDLER)},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const kind_names[] = {"local", "server", "leader",
                                         "internal"};
static const char *const scope_names[] = {"none", "path", "self", "global",
                                          "handler"};

static json_t *perm_json(const struct httpd_perm *p)
{
    if (p->scope == HTTPD_ACL_NONE)
        return json_null();
    return json_pack("{s:s, s:s, s:s}", "Resource",
                     acl_res_name((enum acl_res)p->res), "Access",
                     acl_need_name((enum acl_need)p->need), "Scope",
                     scope_names[p->scope]);
}

/* The table itself, for tests and operators: public knowledge. */
static void routes_list(struct httpd_ctx *c)
{
    static const char *const mnames[] = {"GET", "PUT", "POST", "DELETE"};
    json_t *arr = json_array();

    for (size_t i = 0; i < N_ROUTES; i++) {
        const struct route *r = &routes[i];
        json_t *m = json_array();

        for (int b = 0; b < 4; b++)
            if (r->methods & (1u << b))
                json_array_append_new(m, json_string(mnames[b]));
        json_array_append_new(arr, json_pack(
            "{s:s, s:o, s:s, s:o, s:o, s:b}", "Path", r->path, "Methods", m,
            "Kind", kind_names[r->kind], "Read", perm_json(&r->read),
            "Write", perm_json(&r->write), "Datacenter",
            (r->methods & HTTPD_DC) != 0));
    }
    httpd_send_json(c, 200, arr);
}

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

int httpd_parse_query(h2o_mem_pool_t *pool, struct httpd_query *out,
                      const char *q, size_t n)
{
    size_t i = 0;

    out->raw = h2o_strdup(pool, q, n).base;
    while (i < n && out->n < HTTPD_MAX_QUERY) {
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
            out->name[out->n] = name;
            out->val[out->n++] = val;
        }
        i = end + 1;
    }
    return 0;
}

bool httpd_route_reads_index(const void *route)
{
    const struct route *r = route;

    return r->fn == httpd_snapshot;
}

static const struct route *find_route(const char *path, size_t n)
{
    for (size_t i = 0; i < N_ROUTES; i++) {
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

const char *httpd_route_find(const char *path, size_t n,
                             unsigned *methods)
{
    const struct route *r = find_route(path, n);

    if (r == NULL)
        return NULL;
    if (methods != NULL)
        *methods = r->methods;
    return r->path;
}

static void root_page(struct httpd_ctx *c)
{
    static const char msg[] =
        "Consul Agent: UI disabled. To enable, set ui_config.enabled=true "
        "in the agent configuration and restart.";

    if (httpd_ui_enabled(c->a)) {
        httpd_header(c, "Location", "/ui/");
        httpd_send_body(c, 301, "text/html; charset=utf-8", "", 0);
        return;
    }
    httpd_send_body(c, 200, "text/plain; charset=utf-8", msg,
                    sizeof(msg) - 1);
}

/* The ACL check of c's route, then its handler (also what a forward
 * runs when this server became the leader meanwhile). */
static void run_route(struct httpd_ctx *c)
{
    const struct route *r = c->route;

    httpd_acl_run(c, c->method & (HTTPD_GET | HTTPD_HEAD) ? &r->read
                                                          : &r->write,
                  r->fn);
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
    if (!c->via_rpc && httpd_ui_enabled(c->a) && dlen >= 3 &&
        memcmp(path, "/ui", 3) == 0 && (dlen == 3 || path[3] == '/')) {
        httpd_ui(c, path, dlen);
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
    if (c->req->entity.len > MAX_ENTITY && r->fn != httpd_snapshot) {
        httpd_error(c, 413, "too_large", "Request body too large");
        return;
    }
    rl = strlen(r->path);
    c->rest = dlen >= rl ? path + rl : path + dlen;
    c->rest_len = dlen >= rl ? dlen - rl : 0;
    c->route = r;
    c->metric_route = r->path;
    if ((r->methods & HTTPD_PRIMARY) != 0 && httpd_primary_remote(c)) {
        httpd_forward_primary(c);
        return;
    }
    if ((r->methods & HTTPD_DC) != 0 && httpd_dc_remote(c)) {
        httpd_forward_dc(c);
        return;
    }
    if (httpd_needs_forward(c, r->kind)) {
        if (r->fn == httpd_session_create)
            httpd_session_mark_origin(c);
        httpd_forward(c, run_route);
        return;
    }
    run_route(c);
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
    c->start_ns = metrics_now_ns();
    if (req->query_at != SIZE_MAX &&
        httpd_parse_query(&req->pool, &c->q,
                          req->path.base + req->query_at + 1,
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
        uv_close((uv_handle_t *)conn, rpc_conn_close_cb);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    sock = h2o_uv_socket_create((uv_stream_t *)conn, rpc_conn_close_cb);
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
    if (a->cfg.snapshot_max_bytes > (int64_t)MAX_ENTITY)
        h->config.max_request_entity_size =
            (size_t)a->cfg.snapshot_max_bytes;
    if (a->data_dir != NULL)
        snprintf(h2o_socket_buffer_mmap_settings.fn_template,
                 sizeof(h2o_socket_buffer_mmap_settings.fn_template),
                 "%s/.body-XXXXXX", a->data_dir);
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
    httpd_monitor_stop_all(h);
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

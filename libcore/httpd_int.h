/* httpd_int.h - what the httpd_*.c files share: request context, query
 * parameters, response helpers, async (blocking/Raft) plumbing.
 *
 * Layer: http. Thread: loop only.
 * A struct httpd_ctx lives in the H2O request pool: it is gone once the
 * response has been sent. Anything that outlives a callback (timers,
 * Raft requests) sits in a malloc'd struct httpd_pending that a pool
 * guard detaches when the request goes away.
 */
#ifndef PROCONSUL_HTTPD_INT_H
#define PROCONSUL_HTTPD_INT_H

#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "agent.h"
#include "httpd.h"

enum {
    HTTPD_GET = 1,
    HTTPD_PUT = 2,
    HTTPD_POST = 4,
    HTTPD_DELETE = 8,
    HTTPD_HEAD = 16,
    HTTPD_OPTIONS = 32,
    /* Not a method: a route-table flag. The route honours ?dc=<name>:
     * a request for another datacenter is forwarded there
     * (httpd_forward_dc) before any local ACL check or handler. */
    HTTPD_DC = 64,
    /* Route-table flag: the ACL API. With ACLs on and a
     * primary_datacenter other than ours, the request is forwarded to
     * the primary datacenter (httpd_forward_primary). */
    HTTPD_PRIMARY = 128,
};

/* Where a route may be answered. */
enum httpd_route_kind {
    HTTPD_RT_LOCAL,    /* this agent (/v1/agent/...): never forwarded */
    HTTPD_RT_SERVER,   /* any server (/v1/status/...) */
    HTTPD_RT_LEADER,   /* the leader; GET ?stale by any server */
    HTTPD_RT_INTERNAL, /* server to server, only through port 8300 */
};

#define HTTPD_MAX_QUERY 32

struct httpd_query {
    int n;
    char *name[HTTPD_MAX_QUERY];
    char *val[HTTPD_MAX_QUERY]; /* "" for a bare "?recurse" */
    const char *raw;            /* undecoded query string (pool) */
};

struct httpd_ctx;
typedef void (*httpd_respond_fn)(struct httpd_ctx *c);
typedef uint64_t (*httpd_index_fn)(struct httpd_ctx *c);
typedef void (*httpd_apply_fn)(struct httpd_ctx *c, int rc,
                               const struct fsm_result *res,
                               const char *msg);

struct httpd_pending;
struct httpd_monitor;

struct httpd_ctx {
    h2o_req_t *req;
    struct httpd *h;
    struct agent *a;
    unsigned method;
    char *rest;           /* decoded path after the route prefix (pool) */
    size_t rest_len;
    struct httpd_query q;
    bool pretty;
    /* read options */
    bool stale, consistent;
    uint64_t min_index;
    int64_t wait_ms;
    httpd_index_fn index_fn;
    httpd_respond_fn respond_fn;
    bool hash_index;      /* index_fn is a hash: block while equal */
    httpd_apply_fn apply_fn;
    struct httpd_pending *pend;
    void *data;
    bool via_rpc;         /* arrived on the server RPC port */
    /* ACLs (httpd_auth.c) */
    const char *token;    /* secret the request carries (pool); NULL: none */
    bool acl_filtered;    /* the Filtered-By-ACLs header was added */
    const struct httpd_perm *acl_perm; /* dispatch: the route's check */
    void (*acl_next)(struct httpd_ctx *c); /* ... and its handler */
    const void *route;    /* httpd.c's route table row */
    /* metrics: when the request arrived, its route pattern (NULL: no
     * route, nothing recorded) */
    uint64_t start_ns;
    const char *metric_route;
};

/* What a route needs (one per method class in the route table). */
enum httpd_acl_scope {
    HTTPD_ACL_NONE,    /* public: no token is even looked at */
    HTTPD_ACL_PATH,    /* res:need on the rest of the path */
    HTTPD_ACL_SELF,    /* res:need on this agent's node name */
    HTTPD_ACL_GLOBAL,  /* res:need, an unlabeled resource */
    HTTPD_ACL_HANDLER, /* the handler checks or filters (res:need is what
                        * it checks, for documentation and tests) */
};
struct httpd_perm {
    unsigned char res;   /* enum acl_res */
    unsigned char need;  /* enum acl_need */
    unsigned char scope; /* enum httpd_acl_scope */
};

struct httpd {
    struct agent *a;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_accept_ctx_t rpc_accept_ctx;  /* connections from port 8300 */
    h2o_hostconf_t *hosts[2], *rpc_hosts[2];
    uv_tcp_t listeners[CFG_MAX_ADDRS];
    int n_listeners;
    bool ctx_inited;
    bool stopped;
    struct httpd_monitor *monitors; /* open /v1/agent/monitor streams */
};

/* Split and unescape a query string (n bytes at s, without the '?')
 * into out (zeroed by the caller; strings from pool): at most
 * HTTPD_MAX_QUERY parameters, '+' is a space; -1 on a bad %-escape. */
int httpd_parse_query(h2o_mem_pool_t *pool, struct httpd_query *out,
                      const char *s, size_t n);
/* The route table row for a decoded path: its pattern ("/v1/kv/") and
 * allowed methods (HTTPD_GET ...), or NULL when no route matches. */
const char *httpd_route_find(const char *path, size_t n,
                             unsigned *methods);

/* A decimal uint64 with nothing around it; 0 or -1. */
int httpd_parse_u64(const char *s, uint64_t *out);

/* Query parameters. */
const char *httpd_q(const struct httpd_ctx *c, const char *name);
bool httpd_qhas(const struct httpd_ctx *c, const char *name);

/* Responses. Each sends the whole response; the ctx must not be used
 * after. httpd_error keeps Consul's plain-text body. */
void httpd_error(struct httpd_ctx *c, int status, const char *code,
                 const char *msg);
void httpd_send_json(struct httpd_ctx *c, int status, json_t *body /* takes */);
void httpd_send_body(struct httpd_ctx *c, int status, const char *ctype,
                     const void *body, size_t len);
void httpd_header(struct httpd_ctx *c, const char *name, const char *val);
/* A uint64 for JSON: an integer, or above INT64_MAX a marker string that
 * httpd_send_json turns back into the bare number. */
json_t *httpd_json_u64(uint64_t v);
/* X-Consul-Index (never 0), X-Consul-KnownLeader, X-Consul-LastContact. */
void httpd_meta_headers(struct httpd_ctx *c, uint64_t index);

/* Parse ?index, ?wait, ?stale, ?consistent and ?dc; on a bad value this
 * answers 400 itself and returns -1. */
int httpd_read_opts(struct httpd_ctx *c);
/* Run a read with Consul's consistency and blocking semantics: checks
 * leadership (or does a barrier for ?consistent), then calls respond_fn
 * at once or when index_fn(c) moves past ?index (or ?wait runs out). */
void httpd_blocking_read(struct httpd_ctx *c, httpd_index_fn index_fn,
                         httpd_respond_fn respond_fn);
/* Consul's blocking on this agent's own state whose index is a hash
 * (/v1/event/list): respond_fn at once, or once index_fn(c) differs
 * from ?index (or ?wait runs out). Call httpd_read_opts first. */
void httpd_blocking_local(struct httpd_ctx *c, httpd_index_fn index_fn,
                          httpd_respond_fn respond_fn);
/* Replicate a command (raft_malloc'd buf) and call fn when applied. */
void httpd_apply(struct httpd_ctx *c, void *buf /* takes */, size_t len,
                 httpd_apply_fn fn);
/* Keep a request across one callback of a lower layer (gossip join or
 * leave): pass the result as the callback's ctx (NULL: out of memory).
 * httpd_async_end, called exactly once, frees it and returns the ctx to
 * answer, or NULL when the client went away meanwhile. */
struct httpd_pending *httpd_async_begin(struct httpd_ctx *c);
struct httpd_ctx *httpd_async_end(struct httpd_pending *p);
/* Run fn(c) again after ms (the request is kept meanwhile; nothing
 * runs when it went away). Answers 500 itself when out of memory. */
void httpd_later(struct httpd_ctx *c, uint64_t ms,
                 void (*fn)(struct httpd_ctx *c));
/* Is the request of p still there to be answered? */
bool httpd_async_alive(const struct httpd_pending *p);

/* Forwarding (httpd_fwd.c). */
int httpd_hops(struct httpd_ctx *c);
bool httpd_needs_forward(struct httpd_ctx *c, enum httpd_route_kind kind);
/* Send the request to the leader (or, on a client agent, to a server)
 * and relay the answer; holds it while no leader is known. If this
 * server becomes the leader meanwhile, local(c) answers it here. */
void httpd_forward(struct httpd_ctx *c, void (*local)(struct httpd_ctx *c));
/* The request names another datacenter (?dc=, not ours). */
bool httpd_dc_remote(struct httpd_ctx *c);
/* Send it there: a client agent to one of its servers, a server to an
 * alive server of that datacenter from the WAN pool (which answers as
 * if the request were its own, forwarding to its leader). 500 "No path
 * to datacenter" when the pool has no alive server of it; connection
 * failures are retried on other servers for at most the hold time. */
void httpd_forward_dc(struct httpd_ctx *c);
/* ACLs on and primary_datacenter set to another datacenter than ours. */
bool httpd_primary_remote(struct httpd_ctx *c);
/* httpd_forward_dc to primary_datacenter, whatever ?dc says. */
void httpd_forward_primary(struct httpd_ctx *c);
/* Map an ERR_* from agent_apply/barrier to Consul's status + body. */
void httpd_error_rc(struct httpd_ctx *c, int rc, const char *msg);

/* ---- ACL enforcement (httpd_auth.c) ----
 * The route table names each route's permission; dispatch checks it
 * before the handler runs (and, on a client agent, first fetches the
 * token's rules from a server). Handlers whose permission depends on
 * the body or that filter lists call these. All of them say yes when
 * ACLs are disabled. The token is c->token, else the agent's default
 * token, else the anonymous token. */
bool httpd_acl_enabled(const struct httpd_ctx *c);
/* Dispatch: take the request's token, resolve it (client agents may
 * ask a server first), check p, then run fn; or answer 403. */
void httpd_acl_run(struct httpd_ctx *c, const struct httpd_perm *p,
                   void (*fn)(struct httpd_ctx *c));
/* The secret a request carries: ?token=, else X-Consul-Token, else
 * "Authorization: Bearer <secret>" (pool memory; NULL: none). */
const char *httpd_request_token(struct httpd_ctx *c);
/* Allowed? Sends nothing (for filtering lists). An unknown token is
 * allowed nothing. */
bool httpd_acl_can(struct httpd_ctx *c, enum acl_res res, const char *name,
                   enum acl_need need);
/* Allowed? Else answers 403 itself: "ACL not found" for an unknown or
 * expired token, else Consul's "Permission denied: token with
 * AccessorID '<id>' lacks permission 'key:write' on \"foo\"" (the
 * anonymous form for no token), and returns false. */
bool httpd_acl_require(struct httpd_ctx *c, enum acl_res res,
                       const char *name, enum acl_need need);
/* httpd_acl_require for a recursive KV delete (acl_key_write_prefix). */
bool httpd_acl_require_key_prefix(struct httpd_ctx *c, const char *prefix);
/* One key check among several (/v1/txn): 0 allowed; 1 denied, with
 * httpd_acl_require's message in msg; -1 the token is unknown ("ACL
 * not found"). prefix: acl_key_write_prefix (a recursive delete).
 * Sends nothing. */
int httpd_acl_key_check(struct httpd_ctx *c, const char *key,
                        enum acl_need need, bool prefix, char *msg,
                        size_t n);
/* The same for any other resource (node:write, service:write). */
int httpd_acl_res_check(struct httpd_ctx *c, enum acl_res res,
                        const char *name, enum acl_need need, char *msg,
                        size_t n);
/* A list lost entries: the response will carry
 * X-Consul-Results-Filtered-By-ACLs: true (never for the anonymous
 * token, as Consul). Call before sending. */
void httpd_acl_filtered(struct httpd_ctx *c);
/* Lists filtered by what the request's token may read
 * (httpd_acl_filter.c). Each takes body and returns the answer to send
 * (new containers; the records inside are shared, never modified), and
 * calls httpd_acl_filtered when something was dropped. */
enum httpd_acl_shape {
    HTTPD_SHAPE_NODES,          /* [{"Node":name,...}]: node:read */
    HTTPD_SHAPE_SERVICE_NODES,  /* [{"Node","ServiceName"}]: both read */
    HTTPD_SHAPE_CHECKS,         /* [{"Node","ServiceName"}], "" = node */
    HTTPD_SHAPE_SERVICE_MAP,    /* {"name":[tags]}: service:read */
    HTTPD_SHAPE_HEALTH,         /* [{"Node":{"Node"},"Service":{..}}] */
    HTTPD_SHAPE_MEMBERS,        /* [{"Name"}]: node:read */
    HTTPD_SHAPE_WAN_MEMBERS,    /* [{"Name":"node.dc"}]: node:read */
    HTTPD_SHAPE_AGENT_SERVICES, /* {"id":{"Service"}}: service:read */
    HTTPD_SHAPE_AGENT_CHECKS,   /* {"id":{"ServiceName","Node"}} */
    HTTPD_SHAPE_NODE,           /* {"Node":{..},"Services":{id:{..}}} */
    HTTPD_SHAPE_NODE_SERVICES,  /* {"Node":{..},"Services":[{..}]} */
};
json_t *httpd_acl_filter(struct httpd_ctx *c, enum httpd_acl_shape shape,
                         json_t *body /* takes */);

/* Servers: the stored token the request's secret names (borrowed until
 * the FSM next changes), NULL when unknown/expired or on a client. */
const json_t *httpd_acl_token_obj(struct httpd_ctx *c);

/* ACL API (httpd_acl_api.c): /v1/acl/... */
void httpd_acl_bootstrap(struct httpd_ctx *c);
void httpd_acl_token(struct httpd_ctx *c);    /* /v1/acl/token[/...] */
void httpd_acl_token_self(struct httpd_ctx *c);
void httpd_acl_tokens(struct httpd_ctx *c);
void httpd_acl_policy(struct httpd_ctx *c);   /* /v1/acl/policy[/...] */
void httpd_acl_policies(struct httpd_ctx *c);
void httpd_acl_role(struct httpd_ctx *c);     /* /v1/acl/role[/...] */
void httpd_acl_roles(struct httpd_ctx *c);
/* 8300 only: a bootstrap forwarded by a follower that holds the
 * acl-bootstrap-reset file (body {"ResetIndex":N,"Proof":"<hex>",
 * "BootstrapSecret"?}: Proof = HMAC-SHA256(cluster secret,
 * "acl-bootstrap-reset:N"), hex). */
void httpd_internal_acl_bootstrap(struct httpd_ctx *c);
/* 8300 only: a client agent resolving a token (httpd_auth.c). */
void httpd_internal_acl_resolve(struct httpd_ctx *c);
void httpd_internal_acl_state(struct httpd_ctx *c);
void httpd_acl_replication(struct httpd_ctx *c);
/* /v1/agent/token/<kind> (httpd_auth.c). */
void httpd_agent_token(struct httpd_ctx *c);

/* GET (save) and PUT (restore) /v1/snapshot (httpd_snapshot.c). */
void httpd_snapshot(struct httpd_ctx *c);

/* Handlers (one per route). */
void httpd_kv(struct httpd_ctx *c);
/* PUT /v1/txn (httpd_txn.c). */
void httpd_txn(struct httpd_ctx *c);
/* A KV entry as Consul's DirEntry JSON (Value base64 or null). */
json_t *httpd_kv_entry_json(const struct kv_entry *e);
/* /v1/session/... (httpd_session.c). */
void httpd_session_create(struct httpd_ctx *c);
void httpd_session_destroy(struct httpd_ctx *c);
void httpd_session_renew(struct httpd_ctx *c);
void httpd_session_info(struct httpd_ctx *c);
void httpd_session_node(struct httpd_ctx *c);
void httpd_session_list(struct httpd_ctx *c);
/* Before forwarding a session create: record this agent's node name
 * (the default Node) in a request header, unless one is there. */
void httpd_session_mark_origin(struct httpd_ctx *c);
void httpd_status_leader(struct httpd_ctx *c);
void httpd_status_peers(struct httpd_ctx *c);
void httpd_agent_self(struct httpd_ctx *c);
void httpd_agent_version(struct httpd_ctx *c);
void httpd_agent_reload(struct httpd_ctx *c);
/* GET /v1/agent/monitor: stream log lines (httpd_monitor.c). */
void httpd_agent_monitor(struct httpd_ctx *c);
/* GET /v1/agent/metrics (httpd_metrics.c). */
void httpd_agent_metrics(struct httpd_ctx *c);
/* Agent stopping: end every monitor stream with its final chunk. */
void httpd_monitor_stop_all(struct httpd *h);
void httpd_agent_members(struct httpd_ctx *c);
/* httpd_event.c */
void httpd_event_fire(struct httpd_ctx *c);   /* /v1/event/fire/<name> */
void httpd_event_list(struct httpd_ctx *c);
void httpd_agent_join(struct httpd_ctx *c);
void httpd_agent_leave(struct httpd_ctx *c);
void httpd_agent_force_leave(struct httpd_ctx *c);
/* Local services and checks (httpd_agent_svc.c). */
void httpd_agent_services(struct httpd_ctx *c);
void httpd_agent_service(struct httpd_ctx *c);
void httpd_agent_checks(struct httpd_ctx *c);
void httpd_agent_check(struct httpd_ctx *c);
void httpd_agent_maintenance(struct httpd_ctx *c);
void httpd_agent_health_service(struct httpd_ctx *c);
void httpd_operator_raft_config(struct httpd_ctx *c);
void httpd_operator_raft_peer(struct httpd_ctx *c);
void httpd_operator_transfer(struct httpd_ctx *c);
void httpd_operator_autopilot_config(struct httpd_ctx *c);
void httpd_operator_autopilot_health(struct httpd_ctx *c);
void httpd_internal_raft_state(struct httpd_ctx *c);
/* Linearizable reads served by a follower (httpd_readidx.c): then(c)
 * runs once this server applied everything the leader had when asked
 * (at once on the leader); c->data is used meanwhile. */
void httpd_read_index(struct httpd_ctx *c, void (*then)(struct httpd_ctx *c));
void httpd_internal_read_index(struct httpd_ctx *c);
/* Does this route (c->route) serve default reads on a follower through
 * httpd_read_index rather than by forwarding? (GET /v1/snapshot) */
bool httpd_route_reads_index(const void *route);
void httpd_internal_vote(struct httpd_ctx *c);
void httpd_internal_commit(struct httpd_ctx *c);
void httpd_catalog_register(struct httpd_ctx *c);
void httpd_catalog_deregister(struct httpd_ctx *c);
void httpd_catalog_datacenters(struct httpd_ctx *c);
void httpd_catalog_nodes(struct httpd_ctx *c);
void httpd_catalog_node(struct httpd_ctx *c);
void httpd_catalog_node_services(struct httpd_ctx *c);
void httpd_catalog_services(struct httpd_ctx *c);
void httpd_catalog_service(struct httpd_ctx *c);
void httpd_health_node(struct httpd_ctx *c);
void httpd_health_checks(struct httpd_ctx *c);
void httpd_health_service(struct httpd_ctx *c);
void httpd_health_state(struct httpd_ctx *c);

/* Catalog and health read options (httpd_catalog.c): ?filter, every
 * ?tag and ?node-meta=k:v, ?passing. Lives in the request pool; the
 * filter is freed with it. */
struct jfilter;
enum {
    HTTPD_CATQ_FILTER = 1,
    HTTPD_CATQ_TAGS = 2,
    HTTPD_CATQ_META = 4,
    HTTPD_CATQ_PASSING = 8,
};
struct httpd_catq {
    const char *name;       /* c->rest: the node, service or state */
    struct jfilter *filter; /* NULL without ?filter */
    int ntags, nmeta;
    const char *tags[HTTPD_MAX_QUERY];
    const char *meta_key[HTTPD_MAX_QUERY], *meta_val[HTTPD_MAX_QUERY];
    bool passing;
};
/* httpd_read_opts, then the options in `which` (HTTPD_CATQ_*) into a
 * struct httpd_catq at c->data, then httpd_blocking_read. Answers 400
 * itself on bad input, or when missing != NULL and the path has no name
 * (missing is the message: "Missing node name"). */
void httpd_catq_read(struct httpd_ctx *c, unsigned which,
                     const char *missing, httpd_index_fn index_fn,
                     httpd_respond_fn respond_fn);
/* Does a node's "Meta" object (may be NULL) have every ?node-meta pair,
 * a ServiceTags array every ?tag (case-insensitive), obj pass ?filter? */
bool httpd_catq_meta_ok(const struct httpd_catq *q, const json_t *meta);
bool httpd_catq_tags_ok(const struct httpd_catq *q, const json_t *tags);
bool httpd_catq_filter_ok(const struct httpd_catq *q, const json_t *obj);
/* The elements of arr (taken; NULL reads as []) that pass ?filter: arr
 * itself without a filter, else a new array. */
json_t *httpd_catq_filter_array(const struct httpd_catq *q,
                                json_t *arr /* takes */);

/* This agent's entry of /v1/agent/members (NULL without gossip). */
json_t *httpd_member_self(struct agent *a);

/* Percent-decode n bytes of s into pool memory; NULL on a bad escape.
 * plus_is_space for query strings. */
char *httpd_unescape(h2o_mem_pool_t *pool, const char *s, size_t n,
                     bool plus_is_space, size_t *out_len);

/* httpd_ui.c: the web UI (GET/HEAD /ui and /ui/<file>, path decoded,
 * n its length); httpd_ui_enabled: -ui, ui_config.enabled or .dir. */
bool httpd_ui_enabled(const struct agent *a);
void httpd_ui(struct httpd_ctx *c, const char *path, size_t n);
/* A UI file name: one segment of [A-Za-z0-9._-], not starting with '.',
 * 1..128 bytes (s need not be NUL-terminated). */
bool httpd_ui_name_ok(const char *s, size_t n);
/* Content-Type for a file name, by extension (static string). */
const char *httpd_ui_content_type(const char *name);
/* The compiled-in file named by n bytes of name: its bytes (static),
 * length and quoted ETag; NULL if there is none. */
const void *httpd_ui_embedded(const char *name, size_t n, size_t *len,
                              const char **etag);

#endif

/* cfg_build.c - merged tree -> struct cfg: deprecations, defaults, checks.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Owns: every string and list in struct cfg (heap), and c->raw.
 * Steps, as Consul's builder: type-check the user tree (unknown keys are
 * warned about and dropped), map deprecated keys, lay it over the
 * defaults (and -dev defaults), read the struct, validate. Warnings are
 * held back and handed to the callback only when the build succeeds.
 * Tests: t/unit/check_cfg.c
 */
#include "cfg.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfg_int.h"
#include "hcl.h"
#include "log.h"

/* Consul's agent/config/default.go DefaultSource, in our key space;
 * gossip values are memberlist's LAN/WAN configs. */
static const char defaults_hcl[] =
    "acl {\n"
    "  enabled = false  default_policy = \"allow\"\n"
    "  down_policy = \"extend-cache\"  token_ttl = \"30s\"\n"
    "  policy_ttl = \"30s\"  role_ttl = \"30s\"\n"
    "}\n"
    "autopilot {\n"
    "  cleanup_dead_servers = true  last_contact_threshold = \"200ms\"\n"
    "  max_trailing_logs = 250  min_quorum = 0\n"
    "  server_stabilization_time = \"10s\"\n"
    "}\n"
    "bind_addr = \"0.0.0.0\"  client_addr = \"127.0.0.1\"\n"
    "bootstrap = false  bootstrap_expect = 0  server = false\n"
    "datacenter = \"dc1\"  domain = \"consul.\"  log_level = \"INFO\"\n"
    "default_query_time = \"300s\"  max_query_time = \"600s\"\n"
    "gossip_lan {\n"
    "  gossip_interval = \"200ms\"  gossip_nodes = 3  probe_interval = \"1s\"\n"
    "  probe_timeout = \"500ms\"  retransmit_mult = 4  suspicion_mult = 4\n"
    "}\n"
    "gossip_wan {\n"
    "  gossip_interval = \"500ms\"  gossip_nodes = 4  probe_interval = \"5s\"\n"
    "  probe_timeout = \"3s\"  retransmit_mult = 4  suspicion_mult = 6\n"
    "}\n"
    "limits {\n"
    "  http_max_conns_per_client = 200  rpc_max_conns_per_client = 100\n"
    "  kv_max_value_size = 524288  txn_max_req_len = 524288\n"
    "  snapshot_max_bytes = 1073741824\n"
    "}\n"
    "performance {\n"
    "  leave_drain_time = \"5s\"  raft_multiplier = 5\n"
    "  rpc_hold_timeout = \"7s\"\n"
    "}\n"
    "ports {\n"
    "  dns = 8600  http = 8500  https = -1  grpc = -1\n"
    "  serf_lan = 8301  serf_wan = 8302  server = 8300\n"
    "}\n"
    "raft_snapshot_interval = \"30s\"  raft_snapshot_threshold = 16384\n"
    "raft_trailing_logs = 10240\n"
    "retry_interval = \"30s\"  retry_interval_wan = \"30s\"  retry_max = 0\n"
    "syslog_facility = \"LOCAL0\"\n"
    "telemetry { disable_hostname = false  metrics_prefix = \"consul\" }\n"
    "ui_config { enabled = false }\n";

/* Consul's DevSource, plus bootstrap: a dev agent elects itself. */
static const char dev_hcl[] =
    "bind_addr = \"127.0.0.1\"  server = true  bootstrap = true\n"
    "connect { enabled = true }\n"
    "disable_anonymous_signature = true  disable_keyring_file = true\n"
    "enable_debug = true  log_level = \"DEBUG\"\n"
    "gossip_lan {\n"
    "  gossip_interval = \"100ms\"  probe_interval = \"100ms\"\n"
    "  probe_timeout = \"100ms\"  suspicion_mult = 3\n"
    "}\n"
    "gossip_wan {\n"
    "  gossip_interval = \"100ms\"  probe_interval = \"100ms\"\n"
    "  probe_timeout = \"100ms\"  suspicion_mult = 3\n"
    "}\n"
    "performance { raft_multiplier = 1 }\n"
    "ports { grpc = 8502 }\n"
    "ui_config { enabled = true }\n";

/* Not configurable in Consul; memberlist's LAN/WAN push/pull intervals. */
#define PUSH_PULL_LAN_MS 30000
#define PUSH_PULL_WAN_MS 60000
#define MAX_RAFT_MULTIPLIER 10
#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512

enum dep_how { D_PLAIN, D_APPEND, D_ACL_ON, D_REPL_ON, D_IGNORE, D_REMOVE,
               D_BOLTDB };

/* agent/config/deprecated.go, in its order; ui* from the builder. */
static const struct dep {
    const char *old, *new;
    enum dep_how how;
} deps[] = {
    {"acl.tokens.agent_master", "acl.tokens.agent_recovery", D_PLAIN},
    {"acl_agent_master_token", "acl.tokens.agent_recovery", D_PLAIN},
    {"acl_agent_token", "acl.tokens.agent", D_PLAIN},
    {"acl_token", "acl.tokens.default", D_PLAIN},
    {"acl.tokens.master", "acl.tokens.initial_management", D_PLAIN},
    {"acl_master_token", "acl.tokens.initial_management", D_PLAIN},
    {"acl_replication_token", "acl.tokens.replication", D_REPL_ON},
    {"enable_acl_replication", "acl.enable_token_replication", D_PLAIN},
    {"acl_datacenter", "primary_datacenter", D_ACL_ON},
    {"acl_default_policy", "acl.default_policy", D_PLAIN},
    {"acl_down_policy", "acl.down_policy", D_PLAIN},
    {"acl_ttl", "acl.token_ttl", D_PLAIN},
    {"acl_enable_key_list_policy", "acl.enable_key_list_policy", D_PLAIN},
    {"start_join", "retry_join", D_APPEND},
    {"start_join_wan", "retry_join_wan", D_APPEND},
    {"raft_boltdb", "raft_logstore.boltdb", D_BOLTDB},
    {"ca_file", "tls.defaults.ca_file", D_PLAIN},
    {"ca_path", "tls.defaults.ca_path", D_PLAIN},
    {"cert_file", "tls.defaults.cert_file", D_PLAIN},
    {"key_file", "tls.defaults.key_file", D_PLAIN},
    {"tls_cipher_suites", "tls.defaults.tls_cipher_suites", D_PLAIN},
    {"tls_min_version", "tls.defaults.tls_min_version", D_PLAIN},
    {"verify_incoming", "tls.defaults.verify_incoming", D_PLAIN},
    {"verify_incoming_https", "tls.https.verify_incoming", D_PLAIN},
    {"verify_incoming_rpc", "tls.internal_rpc.verify_incoming", D_PLAIN},
    {"verify_outgoing", "tls.defaults.verify_outgoing", D_PLAIN},
    {"verify_server_hostname", "tls.internal_rpc.verify_server_hostname",
     D_PLAIN},
    {"tls_prefer_server_cipher_suites", NULL, D_IGNORE},
    {"ui", "ui_config.enabled", D_PLAIN},
    {"ui_dir", "ui_config.dir", D_PLAIN},
    {"ui_content_path", "ui_config.content_path", D_PLAIN},
    {"acl_enforce_version_8", NULL, D_REMOVE},
};

struct bctx {
    json_t *eff; /* defaults < dev defaults < user tree */
    struct cfg_warns w;
    bool oom;
    char *err;
};

static int nomem(char *err)
{
    return err_set(err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
}

/* ---- deprecated keys -------------------------------------------------- */

/* Set a dotted path in t, creating objects; steals v. */
static int set_raw(json_t *t, const char *path, json_t *v)
{
    const char *dot;
    char seg[128];
    json_t *x;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(seg, sizeof(seg), "%.*s", (int)(dot - path), path);
        if (!json_is_object(x = json_object_get(t, seg))) {
            if (json_object_set_new(t, seg, x = json_object()) != 0) {
                json_decref(v);
                return ERR_NOMEM;
            }
        }
        t = x;
        path = dot + 1;
    }
    return json_object_set_new(t, path, v) == 0 ? 0 : ERR_NOMEM;
}

static void del_path(json_t *t, const char *path)
{
    const char *dot = strrchr(path, '.');
    char parent[128];

    if (dot != NULL) {
        snprintf(parent, sizeof(parent), "%.*s", (int)(dot - path), path);
        t = cfg_get_path(t, parent);
        path = dot + 1;
    }
    if (json_is_object(t))
        json_object_del(t, path);
}

static int map_special(json_t *t, const struct dep *d, json_t *old,
                       struct cfg_warns *w)
{
    json_t *nfs;

    switch (d->how) {
    case D_APPEND:
        if (json_array_size(old) == 0)
            return 0;
        if (!json_is_array(cfg_get_path(t, d->new)) &&
            set_raw(t, d->new, json_array()) != 0)
            return ERR_NOMEM;
        if (json_array_extend(cfg_get_path(t, d->new), old) != 0)
            return ERR_NOMEM;
        break;
    case D_IGNORE:
        cfg_warns_add(w, "The '%s' field is deprecated and will be ignored.",
                      d->old);
        return 0;
    case D_REMOVE:
        cfg_warns_add(w, "config key \"%s\" is deprecated and should be "
                      "removed", d->old);
        return 0;
    default: /* D_BOLTDB */
        nfs = json_object_get(old, "NoFreelistSync");
        if (nfs != NULL &&
            !cfg_get_path(t, "raft_logstore.boltdb.no_freelist_sync") &&
            set_raw(t, "raft_logstore.boltdb.no_freelist_sync",
                    json_incref(nfs)) != 0)
            return ERR_NOMEM;
        break;
    }
    cfg_warns_add(w, "The '%s' field is deprecated. Use the '%s' field "
                  "instead.", d->old, d->new);
    return 0;
}

static int map_one(json_t *t, const struct dep *d, json_t *old,
                   struct cfg_warns *w)
{
    if (d->how != D_PLAIN && d->how != D_ACL_ON && d->how != D_REPL_ON)
        return map_special(t, d, old, w);
    if (cfg_get_path(t, d->new) == NULL &&
        set_raw(t, d->new, json_incref(old)) != 0)
        return ERR_NOMEM;
    /* Consul forces these on whatever the new keys say. */
    if (d->how == D_ACL_ON && set_raw(t, "acl.enabled", json_true()) != 0)
        return ERR_NOMEM;
    if (d->how == D_REPL_ON &&
        set_raw(t, "acl.enable_token_replication", json_true()) != 0)
        return ERR_NOMEM;
    cfg_warns_add(w, "The '%s' field is deprecated. Use the '%s' field "
                  "instead.", d->old, d->new);
    return 0;
}

static int map_deprecated(json_t *t, struct cfg_warns *w, char *err)
{
    for (size_t i = 0; i < sizeof(deps) / sizeof(*deps); i++) {
        json_t *old = cfg_get_path(t, deps[i].old);
        int rc;

        if (old == NULL)
            continue;
        json_incref(old);
        del_path(t, deps[i].old);
        rc = map_one(t, &deps[i], old, w);
        json_decref(old);
        if (rc != 0)
            return nomem(err);
    }
    return 0;
}

/* ---- effective tree --------------------------------------------------- */

/* Built-in sources must pass the same checks as the user's. */
static int builtin(const char *text, size_t len, json_t **out, char *err)
{
    struct cfg_warns w = {0};
    int rc = hcl_parse(text, len, "<defaults>", false, out, err);

    if (rc == 0)
        rc = cfg_schema_check(*out, &w, err);
    if (rc == 0 && w.n > 0)
        rc = err_set(err, ERR_INTERNAL, "built-in defaults: %s", w.msg[0]);
    cfg_warns_release(&w);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static int prepare(json_t *user, struct bctx *b)
{
    json_t *dev = NULL;
    int rc;

    if (cfg_lift_singular(user) != 0)
        return nomem(b->err);
    if ((rc = cfg_schema_check(user, &b->w, b->err)) != 0 ||
        (rc = map_deprecated(user, &b->w, b->err)) != 0)
        return rc;
    if ((rc = builtin(defaults_hcl, sizeof(defaults_hcl) - 1, &b->eff,
                      b->err)) != 0)
        return rc;
    if (json_is_true(json_object_get(user, "dev"))) {
        if ((rc = builtin(dev_hcl, sizeof(dev_hcl) - 1, &dev, b->err)) != 0)
            return rc;
        cfg_merge_plain(b->eff, dev);
        json_decref(dev);
    }
    cfg_merge_plain(b->eff, user);
    return 0;
}

/* ---- reading the effective tree ---------------------------------------- */

static json_t *at(const struct bctx *b, const char *path)
{
    return cfg_get_path(b->eff, path);
}

static char *dup_at(struct bctx *b, const char *path, const char *def)
{
    json_t *v = at(b, path);
    const char *s = json_is_string(v) ? json_string_value(v) : def;
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        b->oom = true;
    return d;
}

static int64_t int_at(const struct bctx *b, const char *path)
{
    return (int64_t)json_integer_value(at(b, path));
}

static bool bool_at(const struct bctx *b, const char *path)
{
    return json_is_true(at(b, path));
}

/* Values were checked by cfg_schema_check; absent means 0. */
static int64_t dur_at(const struct bctx *b, const char *path)
{
    int64_t ms = 0;

    if (cfg_dur_value(at(b, path), &ms) != 0)
        ms = 0;
    return ms;
}

static char *lower(char *s)
{
    for (char *p = s; p != NULL && *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

static char **dup_list(struct bctx *b, const char *path, int *n)
{
    json_t *a = at(b, path);
    size_t i, len = json_array_size(a);
    char **v;

    *n = 0;
    if (len == 0 || len > INT_MAX)
        return NULL;
    if ((v = calloc(len, sizeof(*v))) == NULL) {
        b->oom = true;
        return NULL;
    }
    for (i = 0; i < len; i++) {
        const char *s = json_string_value(json_array_get(a, i));

        if ((v[i] = strdup(s != NULL ? s : "")) == NULL)
            b->oom = true;
    }
    *n = (int)len;
    return v;
}

/* ---- filling struct cfg ----------------------------------------------- */

static int node_name(struct cfg *c, struct bctx *b)
{
    char host[256], *s, *e;

    c->node_name = dup_at(b, "node_name", NULL);
    if (c->node_name == NULL || c->node_name[0] == '\0') {
        free(c->node_name);
        if (gethostname(host, sizeof(host)) != 0)
            return err_set(b->err, ERR_INVAL, "node_name: cannot get the "
                           "host name");
        host[sizeof(host) - 1] = '\0';
        c->node_name = strdup(host);
    }
    if ((s = c->node_name) == NULL) {
        b->oom = true;
        return 0;
    }
    /* Consul trims white space around the name. */
    while (isspace((unsigned char)*s))
        s++;
    memmove(c->node_name, s, strlen(s) + 1);
    for (e = c->node_name + strlen(c->node_name);
         e > c->node_name && isspace((unsigned char)e[-1]); e--)
        e[-1] = '\0';
    return 0;
}

static void fill_core(struct cfg *c, struct bctx *b)
{
    int64_t e = int_at(b, "bootstrap_expect");

    c->dev = bool_at(b, "dev");
    c->server = bool_at(b, "server");
    c->bootstrap = bool_at(b, "bootstrap");
    c->bootstrap_expect = e < 0 ? -1 : e > INT_MAX ? INT_MAX : (int)e;
    c->datacenter = lower(dup_at(b, "datacenter", "dc1"));
    c->primary_datacenter = lower(dup_at(b, "primary_datacenter", ""));
    c->node_id = dup_at(b, "node_id", NULL);
    c->data_dir = dup_at(b, "data_dir", NULL);
    c->advertise_addr = dup_at(b, "advertise_addr", NULL);
    c->advertise_addr_wan = dup_at(b, "advertise_addr_wan", NULL);
    c->ui = bool_at(b, "ui_config.enabled");
    c->ui_dir = dup_at(b, "ui_config.dir", NULL);
    c->pid_file = dup_at(b, "pid_file", NULL);
    c->encrypt = dup_at(b, "encrypt", NULL);
    c->domain = dup_at(b, "domain", "consul.");
    c->leave_on_terminate = at(b, "leave_on_terminate")
                                ? bool_at(b, "leave_on_terminate")
                                : !c->server;
    c->skip_leave_on_interrupt = at(b, "skip_leave_on_interrupt")
                                     ? bool_at(b, "skip_leave_on_interrupt")
                                     : c->server;
    c->rejoin_after_leave = bool_at(b, "rejoin_after_leave");
    c->enable_script_checks = bool_at(b, "enable_script_checks");
    c->enable_local_script_checks = bool_at(b, "enable_local_script_checks");
    c->disable_update_check = bool_at(b, "disable_update_check");
}

/* A space-separated address list; a go-sockaddr template stays whole. */
static int split_addrs(struct bctx *b, const char *key, const char *s,
                       char **out, int *n)
{
    const char *e;

    *n = 0;
    if (s == NULL)
        return 0;
    if (strstr(s, "{{") != NULL) {
        if ((out[(*n)++] = strdup(s)) == NULL)
            b->oom = true;
        return 0;
    }
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return 0;
        for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
            ;
        if (*n == CFG_MAX_ADDRS)
            return err_set(b->err, ERR_INVAL, "%s: too many addresses "
                           "(at most %d)", key, CFG_MAX_ADDRS);
        if ((out[(*n)++] = strndup(s, (size_t)(e - s))) == NULL)
            b->oom = true;
        s = e;
    }
}

static bool is_any_addr(const char *s)
{
    return s != NULL && (strcmp(s, "0.0.0.0") == 0 || strcmp(s, "::") == 0 ||
                         strcmp(s, "[::]") == 0);
}

static int fill_addrs(struct cfg *c, struct bctx *b)
{
    const char *ca = json_string_value(at(b, "client_addr"));
    const char *ha = json_string_value(at(b, "addresses.http"));
    int rc;

    c->bind_addr = dup_at(b, "bind_addr", "0.0.0.0");
    if (c->bind_addr != NULL && c->bind_addr[0] == '\0')
        return err_set(b->err, ERR_INVAL, "bind_addr cannot be empty");
    if (c->bind_addr != NULL && strstr(c->bind_addr, "{{") == NULL &&
        strpbrk(c->bind_addr, " \t\r\n") != NULL)
        return err_set(b->err, ERR_INVAL, "bind_addr cannot contain "
                       "multiple addresses. Use 'addresses.{dns,http,https}' "
                       "instead.");
    if (is_any_addr(c->advertise_addr))
        return err_set(b->err, ERR_INVAL,
                       "Advertise address cannot be 0.0.0.0, :: or [::]");
    if (is_any_addr(c->advertise_addr_wan))
        return err_set(b->err, ERR_INVAL,
                       "Advertise WAN address cannot be 0.0.0.0, :: or [::]");
    if ((rc = split_addrs(b, "client_addr", ca, c->client_addr,
                          &c->n_client_addr)) != 0)
        return rc;
    if (ha != NULL)
        return split_addrs(b, "addresses.http", ha, c->http_addrs,
                           &c->n_http_addrs);
    for (int i = 0; i < c->n_client_addr; i++)
        if ((c->http_addrs[i] = strdup(c->client_addr[i])) == NULL)
            b->oom = true;
    c->n_http_addrs = c->n_client_addr;
    return 0;
}

/* Consul's portVal: <= 0 disables (-1), past 65535 is an error. */
static int port(struct bctx *b, const char *key, int *out)
{
    int64_t v = int_at(b, key);

    if (v > 65535)
        return err_set(b->err, ERR_INVAL, "%s: invalid port: %lld", key,
                       (long long)v);
    *out = v <= 0 ? -1 : (int)v;
    return 0;
}

static int fill_ports(struct cfg *c, struct bctx *b)
{
    struct cfg_ports *p = &c->ports;
    int rc;

    if ((rc = port(b, "ports.dns", &p->dns)) != 0 ||
        (rc = port(b, "ports.http", &p->http)) != 0 ||
        (rc = port(b, "ports.https", &p->https)) != 0 ||
        (rc = port(b, "ports.grpc", &p->grpc)) != 0 ||
        (rc = port(b, "ports.serf_lan", &p->serf_lan)) != 0 ||
        (rc = port(b, "ports.serf_wan", &p->serf_wan)) != 0 ||
        (rc = port(b, "ports.server", &p->server)) != 0)
        return rc;
    return 0;
}

static int fill_timing(struct cfg *c, struct bctx *b)
{
    c->retry_join = dup_list(b, "retry_join", &c->n_retry_join);
    c->retry_join_wan = dup_list(b, "retry_join_wan", &c->n_retry_join_wan);
    c->retry_interval_ms = dur_at(b, "retry_interval");
    c->retry_interval_wan_ms = dur_at(b, "retry_interval_wan");
    c->retry_max = int_at(b, "retry_max");
    c->raft_multiplier = int_at(b, "performance.raft_multiplier");
    if (c->raft_multiplier == 0)
        c->raft_multiplier = 5;
    if (c->raft_multiplier < 1 || c->raft_multiplier > MAX_RAFT_MULTIPLIER)
        return err_set(b->err, ERR_INVAL, "performance.raft_multiplier cannot "
                       "be %lld. Must be between 1 and %d",
                       (long long)c->raft_multiplier, MAX_RAFT_MULTIPLIER);
    c->raft_snapshot_threshold = int_at(b, "raft_snapshot_threshold");
    c->raft_snapshot_interval_ms = dur_at(b, "raft_snapshot_interval");
    c->raft_trailing_logs = int_at(b, "raft_trailing_logs");
    c->default_query_time_ms = dur_at(b, "default_query_time");
    c->max_query_time_ms = dur_at(b, "max_query_time");
    c->kv_max_value_size = int_at(b, "limits.kv_max_value_size");
    c->txn_max_req_len = int_at(b, "limits.txn_max_req_len");
    c->snapshot_max_bytes = int_at(b, "limits.snapshot_max_bytes");
    c->http_max_conns_per_client =
        int_at(b, "limits.http_max_conns_per_client");
    c->prometheus_retention_ms =
        dur_at(b, "telemetry.prometheus_retention_time");
    c->telemetry_disable_hostname = bool_at(b, "telemetry.disable_hostname");
    c->telemetry_metrics_prefix = dup_at(b, "telemetry.metrics_prefix",
                                         "consul");
    return 0;
}

static bool is_name_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* structs.ValidateMetadata's rules and messages. */
static const char *meta_problem(const char *k, const char *v)
{
    if (*k == '\0')
        return "Key cannot be blank";
    for (const char *p = k; *p != '\0'; p++)
        if (!is_name_char((unsigned char)*p))
            return "Key contains invalid characters";
    if (strlen(k) > META_KEY_MAX)
        return "Key is too long (limit: 128 characters)";
    if (strncmp(k, "consul-", 7) == 0)
        return "Key prefix 'consul-' is reserved for internal use";
    if (strlen(v) > META_VALUE_MAX)
        return "Value is too long (limit: 512 characters)";
    return NULL;
}

static int fill_meta(struct cfg *c, struct bctx *b)
{
    json_t *m = at(b, "node_meta"), *v;
    size_t n = json_object_size(m);
    const char *k, *s, *why;

    if (n == 0)
        return 0;
    if (n > META_MAX_PAIRS)
        return err_set(b->err, ERR_INVAL, "node_meta invalid: Node metadata "
                       "cannot contain more than %d key/value pairs",
                       META_MAX_PAIRS);
    c->node_meta_keys = calloc(n, sizeof(char *));
    c->node_meta_vals = calloc(n, sizeof(char *));
    if (c->node_meta_keys == NULL || c->node_meta_vals == NULL) {
        b->oom = true;
        return 0;
    }
    json_object_foreach(m, k, v) {
        s = json_is_string(v) ? json_string_value(v) : "";
        if ((why = meta_problem(k, s)) != NULL)
            return err_set(b->err, ERR_INVAL, "node_meta invalid: %s", why);
        c->node_meta_keys[c->n_node_meta] = strdup(k);
        c->node_meta_vals[c->n_node_meta] = strdup(s);
        if (c->node_meta_keys[c->n_node_meta] == NULL ||
            c->node_meta_vals[c->n_node_meta] == NULL)
            b->oom = true;
        c->n_node_meta++;
    }
    return 0;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set != NULL; set++)
        if (s != NULL && strcmp(s, *set) == 0)
            return true;
    return false;
}

static void fill_tokens(struct cfg_acl_tokens *t, struct bctx *b)
{
    t->initial_management = dup_at(b, "acl.tokens.initial_management", NULL);
    t->agent = dup_at(b, "acl.tokens.agent", NULL);
    t->agent_recovery = dup_at(b, "acl.tokens.agent_recovery", NULL);
    t->default_token = dup_at(b, "acl.tokens.default", NULL);
    t->replication = dup_at(b, "acl.tokens.replication", NULL);
    t->dns = dup_at(b, "acl.tokens.dns", NULL);
    t->config_file_service_registration =
        dup_at(b, "acl.tokens.config_file_service_registration", NULL);
}

static int fill_acl(struct cfg *c, struct bctx *b)
{
    static const char *const defp[] = {"allow", "deny", NULL};
    static const char *const downp[] = {"allow", "deny", "extend-cache",
                                        "async-cache", NULL};
    struct cfg_acl *a = &c->acl;
    char q[ERR_QUOTE_MAX + 1];

    a->enabled = bool_at(b, "acl.enabled");
    a->default_policy = dup_at(b, "acl.default_policy", "allow");
    a->down_policy = dup_at(b, "acl.down_policy", "extend-cache");
    a->enable_token_persistence = bool_at(b, "acl.enable_token_persistence");
    a->enable_key_list_policy = bool_at(b, "acl.enable_key_list_policy");
    a->enable_token_replication = bool_at(b, "acl.enable_token_replication");
    a->token_ttl_ms = dur_at(b, "acl.token_ttl");
    fill_tokens(&a->tokens, b);
    if (a->default_policy != NULL && !one_of(a->default_policy, defp))
        return err_set(b->err, ERR_INVAL, "acl.default_policy must be "
                       "\"allow\" or \"deny\", got \"%s\"",
                       err_quote(q, sizeof(q), a->default_policy));
    if (a->down_policy != NULL && !one_of(a->down_policy, downp))
        return err_set(b->err, ERR_INVAL, "acl.down_policy must be one of "
                       "\"allow\", \"deny\", \"extend-cache\", "
                       "\"async-cache\", got \"%s\"",
                       err_quote(q, sizeof(q), a->down_policy));
    return 0;
}

static const char *key_in(char *buf, size_t n, const char *pfx,
                          const char *f)
{
    snprintf(buf, n, "%s.%s", pfx, f);
    return buf;
}

static void fill_gossip(struct bctx *b, const char *pfx, struct cfg_gossip *g,
                        int64_t push_pull_ms)
{
    char k[64];

    g->gossip_interval_ms = dur_at(b, key_in(k, sizeof(k), pfx,
                                             "gossip_interval"));
    g->probe_interval_ms = dur_at(b, key_in(k, sizeof(k), pfx,
                                            "probe_interval"));
    g->probe_timeout_ms = dur_at(b, key_in(k, sizeof(k), pfx,
                                           "probe_timeout"));
    g->gossip_nodes = int_at(b, key_in(k, sizeof(k), pfx, "gossip_nodes"));
    g->retransmit_mult = int_at(b, key_in(k, sizeof(k), pfx,
                                          "retransmit_mult"));
    g->suspicion_mult = int_at(b, key_in(k, sizeof(k), pfx,
                                         "suspicion_mult"));
    g->push_pull_interval_ms = push_pull_ms;
}

static int fill_autopilot(struct cfg *c, struct bctx *b)
{
    struct cfg_autopilot *ap = &c->autopilot;

    ap->cleanup_dead_servers = bool_at(b, "autopilot.cleanup_dead_servers");
    ap->last_contact_threshold_ms =
        dur_at(b, "autopilot.last_contact_threshold");
    ap->max_trailing_logs = int_at(b, "autopilot.max_trailing_logs");
    ap->min_quorum = int_at(b, "autopilot.min_quorum");
    ap->server_stabilization_time_ms =
        dur_at(b, "autopilot.server_stabilization_time");
    if (ap->max_trailing_logs < 0)
        return err_set(b->err, ERR_INVAL, "autopilot.max_trailing_logs cannot "
                       "be %lld. Must be greater than or equal to zero",
                       (long long)ap->max_trailing_logs);
    fill_gossip(b, "gossip_lan", &c->gossip_lan, PUSH_PULL_LAN_MS);
    fill_gossip(b, "gossip_wan", &c->gossip_wan, PUSH_PULL_WAN_MS);
    return 0;
}

static int fill_log_level(struct cfg *c, struct bctx *b)
{
    const char *s = json_string_value(at(b, "log_level"));
    char q[ERR_QUOTE_MAX + 1];
    int lvl = log_level_parse(s);

    if (lvl < 0 || lvl >= LOG_LVL_OFF)
        return err_set(b->err, ERR_INVAL, "Invalid log level: %s. Valid log "
                       "levels are: [TRACE DEBUG INFO WARN ERR]",
                       err_quote(q, sizeof(q), s));
    if ((c->log_level = strdup(log_level_name(lvl))) == NULL)
        b->oom = true;
    return 0;
}

/* Consul's logging.Setup: a zero rotation duration means 24 h; a
 * negative one (which Consul would take as "rotate on every line") and
 * a facility go-syslog would refuse at start are errors here. */
static int fill_logging(struct cfg *c, struct bctx *b)
{
    char q[ERR_QUOTE_MAX + 1];

    c->log_json = bool_at(b, "log_json");
    c->log_file = dup_at(b, "log_file", NULL);
    c->log_rotate_bytes = int_at(b, "log_rotate_bytes");
    c->log_rotate_duration_ms = dur_at(b, "log_rotate_duration");
    c->log_rotate_max_files = int_at(b, "log_rotate_max_files");
    c->enable_syslog = bool_at(b, "enable_syslog");
    c->syslog_facility = dup_at(b, "syslog_facility", "LOCAL0");
    if (c->log_rotate_duration_ms < 0)
        return err_set(b->err, ERR_INVAL, "log_rotate_duration must not "
                       "be negative");
    if (c->log_rotate_duration_ms == 0)
        c->log_rotate_duration_ms = 24LL * 3600 * 1000;
    if (c->enable_syslog && c->syslog_facility != NULL &&
        log_syslog_facility(c->syslog_facility) < 0)
        return err_set(b->err, ERR_INVAL, "syslog_facility: invalid syslog "
                       "facility \"%s\" (KERN, USER, MAIL, DAEMON, AUTH, "
                       "SYSLOG, LPR, NEWS, UUCP, CRON, AUTHPRIV, FTP or "
                       "LOCAL0 to LOCAL7)",
                       err_quote(q, sizeof(q), c->syslog_facility));
    return 0;
}

/* ---- validation ------------------------------------------------------- */

static bool basic_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_name_char((unsigned char)*s) || (*s >= 'A' && *s <= 'Z'))
            return false;
    return true;
}

static void warn_node_name(const char *name, struct cfg_warns *w)
{
    char q[ERR_QUOTE_MAX + 1];
    const char *p;

    for (p = name; *p != '\0'; p++)
        if (!is_name_char((unsigned char)*p) || *p == '_')
            break;
    err_quote(q, sizeof(q), name);
    if (*p != '\0')
        cfg_warns_add(w, "Node name \"%s\" will not be discoverable via DNS "
                      "due to invalid characters. Valid characters include "
                      "all alpha-numerics and dashes.", q);
    else if (strlen(name) > 63)
        cfg_warns_add(w, "Node name \"%s\" will not be discoverable via DNS "
                      "due to it being too long. Valid lengths are between "
                      "1 and 63 bytes.", q);
}

static int validate_names(struct cfg *c, struct bctx *b)
{
    if (!basic_name(c->datacenter))
        return err_set(b->err, ERR_INVAL, "Datacenter must be alpha-numeric "
                       "with underscores and hyphens only");
    if (c->primary_datacenter[0] != '\0' &&
        !basic_name(c->primary_datacenter))
        return err_set(b->err, ERR_INVAL, "Primary datacenter must be "
                       "alpha-numeric with underscores and hyphens only");
    if (!c->dev && (c->data_dir == NULL || c->data_dir[0] == '\0'))
        return err_set(b->err, ERR_INVAL, "data_dir cannot be empty");
    if (c->node_name[0] == '\0')
        return err_set(b->err, ERR_INVAL, "node_name cannot be empty");
    warn_node_name(c->node_name, &b->w);
    return 0;
}

static void warn_mode(const struct cfg *c, struct cfg_warns *w)
{
    int n = c->bootstrap_expect;

    if (!c->server)
        return;
    if (!c->dev && !c->bootstrap && n == 2)
        cfg_warns_add(w, "bootstrap_expect = 2: A cluster with 2 servers "
                      "will provide no failure tolerance. See "
                      "https://www.consul.io/docs/internals/"
                      "consensus.html#deployment-table");
    if (!c->bootstrap && n > 2 && n % 2 == 0)
        cfg_warns_add(w, "bootstrap_expect is even number: A cluster with an "
                      "even number of servers does not achieve optimum "
                      "fault tolerance. See https://www.consul.io/docs/"
                      "internals/consensus.html#deployment-table");
    /* -dev turns bootstrap on itself; Consul's dev mode does not warn. */
    if (!c->dev && c->bootstrap && n == 0)
        cfg_warns_add(w, "bootstrap = true: do not enable unless necessary");
    if (!c->dev && !c->bootstrap && n > 1)
        cfg_warns_add(w, "bootstrap_expect > 0: expecting %d servers", n);
}

static int validate_mode(struct cfg *c, struct bctx *b)
{
    if (c->bootstrap_expect == 1) {
        c->bootstrap = true;
        c->bootstrap_expect = 0;
        cfg_warns_add(&b->w, "BootstrapExpect is set to 1; this is the same "
                      "as Bootstrap mode.");
    }
    if (c->bootstrap && !c->server)
        return err_set(b->err, ERR_INVAL,
                       "Bootstrap mode requires Server mode");
    if (c->bootstrap_expect < 0)
        return err_set(b->err, ERR_INVAL,
                       "BootstrapExpect cannot be negative");
    if (c->bootstrap_expect > 0 && !c->server)
        return err_set(b->err, ERR_INVAL,
                       "BootstrapExpect mode requires Server mode");
    if (c->bootstrap_expect > 0 && c->dev)
        return err_set(b->err, ERR_INVAL,
                       "BootstrapExpect mode cannot be enabled in dev mode");
    if (c->bootstrap_expect > 0 && c->bootstrap)
        return err_set(b->err, ERR_INVAL, "BootstrapExpect mode and "
                       "Bootstrap mode are mutually exclusive");
    if (!c->dev && c->ui && c->ui_dir != NULL)
        return err_set(b->err, ERR_INVAL, "Both the ui_config.enabled and "
                       "ui_config.dir (or -ui and -ui-dir) were specified, "
                       "please provide only one.");
    warn_mode(c, &b->w);
    return 0;
}

static int fill(struct cfg *c, struct bctx *b)
{
    int rc;

    fill_core(c, b);
    if ((rc = node_name(c, b)) != 0)
        return rc;
    if (b->oom)
        return nomem(b->err);
    if ((rc = validate_names(c, b)) != 0 || (rc = fill_log_level(c, b)) ||
        (rc = fill_logging(c, b)) != 0 ||
        (rc = fill_addrs(c, b)) != 0 || (rc = fill_ports(c, b)) != 0 ||
        (rc = fill_timing(c, b)) != 0 || (rc = fill_meta(c, b)) != 0 ||
        (rc = fill_acl(c, b)) != 0 || (rc = fill_autopilot(c, b)) != 0)
        return rc;
    return validate_mode(c, b);
}

static int check_watches(const json_t *root, char *err)
{
    const json_t *list = json_object_get(root, "watches"), *w;
    size_t i;
    int rc;

    json_array_foreach(list, i, w) {
        if ((rc = cfg_watch_check(w, true, err)) != 0) {
            err_prefix(err, "watches[%zu]", i);
            return ERR_INVAL;
        }
    }
    return 0;
}

int cfg_build(const json_t *tree, struct cfg *c, cfg_warn_fn warn,
              void *ctx, char *err)
{
    struct bctx b = {.err = err};
    json_t *user;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!json_is_object(tree))
        return err_set(err, ERR_INVAL, "configuration must be an object");
    if ((user = json_deep_copy(tree)) == NULL)
        return nomem(err);
    rc = prepare(user, &b);
    if (rc == 0)
        rc = fill(c, &b);
    if (rc == 0)
        rc = check_watches(user, err);
    if (rc == 0 && (b.oom || b.w.oom))
        rc = nomem(err);
    json_decref(b.eff);
    if (rc == 0) {
        c->raw = user;
        for (int i = 0; warn != NULL && i < b.w.n; i++)
            warn(ctx, b.w.msg[i]);
    } else {
        json_decref(user);
        cfg_release(c);
    }
    cfg_warns_release(&b.w);
    return rc;
}

static void free_strv(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

static void release_acl(struct cfg_acl *a)
{
    struct cfg_acl_tokens *t = &a->tokens;

    free(a->default_policy);
    free(a->down_policy);
    free(t->initial_management);
    free(t->agent);
    free(t->agent_recovery);
    free(t->default_token);
    free(t->replication);
    free(t->dns);
    free(t->config_file_service_registration);
}

void cfg_release(struct cfg *c)
{
    if (c == NULL)
        return;
    json_decref(c->raw);
    free(c->datacenter);
    free(c->primary_datacenter);
    free(c->node_name);
    free(c->node_id);
    free(c->data_dir);
    free(c->bind_addr);
    free(c->advertise_addr);
    free(c->advertise_addr_wan);
    for (int i = 0; i < CFG_MAX_ADDRS; i++) {
        free(c->client_addr[i]);
        free(c->http_addrs[i]);
    }
    free_strv(c->retry_join, c->n_retry_join);
    free_strv(c->retry_join_wan, c->n_retry_join_wan);
    free(c->ui_dir);
    free(c->log_level);
    free(c->log_file);
    free(c->syslog_facility);
    free(c->pid_file);
    free(c->encrypt);
    free(c->domain);
    free(c->telemetry_metrics_prefix);
    free_strv(c->node_meta_keys, c->n_node_meta);
    free_strv(c->node_meta_vals, c->n_node_meta);
    release_acl(&c->acl);
    memset(c, 0, sizeof(*c));
}

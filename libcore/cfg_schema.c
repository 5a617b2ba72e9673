/* cfg_schema.c - Consul's configuration keys and their types.
 *
 * Layer: codec (uses util, jansson). Thread: any (tables are const).
 * Owns: the key tables; cfg_schema_check() edits the tree it is given.
 * Key list from Consul's agent/config/config.go (1.17 era) plus "dev";
 * deprecated names stay listed so their types are checked before
 * cfg_build maps them.
 * Tests: t/unit/check_cfg.c
 */
#include "cfg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opt.h"

#define K(n, t) {n, CFG_K_##t, NULL}
#define O(n, s) {n, CFG_K_OBJ, s}
#define END {NULL, CFG_K_ANY, NULL}

static const struct cfg_key acl_tokens[] = {
    K("agent", STR), K("agent_master", STR), K("agent_recovery", STR),
    K("config_file_service_registration", STR), K("default", STR),
    K("dns", STR), K("initial_management", STR),
    K("managed_service_provider", OBJLIST), K("master", STR),
    K("replication", STR), END,
};

static const struct cfg_key acl[] = {
    K("default_policy", STR), K("disabled_ttl", DUR),
    K("down_policy", STR), K("enable_key_list_policy", BOOL),
    K("enable_token_persistence", BOOL), K("enable_token_replication", BOOL),
    K("enabled", BOOL), K("msp_disable_bootstrap", BOOL),
    K("policy_ttl", DUR), K("role_ttl", DUR), K("token_ttl", DUR),
    O("tokens", acl_tokens), END,
};

static const struct cfg_key addresses[] = {
    K("dns", STR), K("grpc", STR), K("grpc_tls", STR), K("http", STR),
    K("https", STR), END,
};

static const struct cfg_key auto_encrypt[] = {
    K("allow_tls", BOOL), K("dns_san", STRLIST), K("ip_san", STRLIST),
    K("tls", BOOL), END,
};

static const struct cfg_key autopilot[] = {
    K("cleanup_dead_servers", BOOL), K("disable_upgrade_migration", BOOL),
    K("last_contact_threshold", DUR), K("max_trailing_logs", INT),
    K("min_quorum", UINT), K("redundancy_zone_tag", STR),
    K("server_stabilization_time", DUR), K("upgrade_version_tag", STR), END,
};

static const struct cfg_key cache[] = {
    K("entry_fetch_max_burst", INT), K("entry_fetch_rate", FLOAT), END,
};

static const struct cfg_key config_entries[] = {
    K("bootstrap", OBJLIST), END,
};

static const struct cfg_key connect[] = {
    K("ca_config", ANYOBJ), K("ca_provider", STR), K("enabled", BOOL),
    K("enable_mesh_gateway_wan_federation", BOOL),
    K("enable_serverless_plugin", BOOL),
    K("test_ca_leaf_root_change_spread", DUR), END,
};

static const struct cfg_key dns_soa[] = {
    K("expire", UINT), K("min_ttl", UINT), K("refresh", UINT),
    K("retry", UINT), END,
};

static const struct cfg_key dns_config[] = {
    K("a_record_limit", INT), K("allow_stale", BOOL),
    K("cache_max_age", DUR), K("disable_compression", BOOL),
    K("enable_additional_node_meta_txt", BOOL), K("enable_truncate", BOOL),
    K("max_stale", DUR), K("node_ttl", DUR), K("only_passing", BOOL),
    K("prefer_namespace", BOOL), K("recursor_strategy", STR),
    K("recursor_timeout", DUR), K("service_ttl", MAP), O("soa", dns_soa),
    K("udp_answer_limit", INT), K("use_cache", BOOL), END,
};

static const struct cfg_key gossip[] = {
    K("gossip_interval", DUR), K("gossip_nodes", INT),
    K("probe_interval", DUR), K("probe_timeout", DUR),
    K("retransmit_mult", INT), K("suspicion_mult", INT), END,
};

static const struct cfg_key http_config[] = {
    K("allow_write_http_from", STRLIST), K("block_endpoints", STRLIST),
    K("max_header_bytes", INT), K("response_headers", MAP),
    K("use_cache", BOOL), END,
};

static const struct cfg_key limits[] = {
    K("http_max_conns_per_client", INT), K("https_handshake_timeout", DUR),
    K("kv_max_value_size", UINT), K("request_limits", ANYOBJ),
    K("rpc_client_timeout", DUR), K("rpc_handshake_timeout", DUR),
    K("rpc_max_burst", INT), K("rpc_max_conns_per_client", INT),
    K("rpc_rate", FLOAT), K("snapshot_max_bytes", UINT),
    K("txn_max_req_len", UINT), END,
};

static const struct cfg_key performance[] = {
    K("grpc_keepalive_interval", DUR), K("grpc_keepalive_timeout", DUR),
    K("leave_drain_time", DUR), K("raft_multiplier", INT),
    K("rpc_hold_timeout", DUR), END,
};

static const struct cfg_key peering[] = {
    K("enabled", BOOL), K("test_allow_peer_registrations", BOOL), END,
};

static const struct cfg_key ports[] = {
    K("dns", INT), K("expose_max_port", INT), K("expose_min_port", INT),
    K("grpc", INT), K("grpc_tls", INT), K("http", INT), K("https", INT),
    K("proxy_max_port", INT), K("proxy_min_port", INT), K("serf_lan", INT),
    K("serf_wan", INT), K("server", INT), K("sidecar_max_port", INT),
    K("sidecar_min_port", INT), END,
};

static const struct cfg_key rpc[] = {
    K("enable_streaming", BOOL), END,
};

static const struct cfg_key telemetry[] = {
    K("circonus_api_app", STR), K("circonus_api_token", STR),
    K("circonus_api_url", STR), K("circonus_broker_id", STR),
    K("circonus_broker_select_tag", STR),
    K("circonus_check_display_name", STR),
    K("circonus_check_force_metric_activation", STR),
    K("circonus_check_id", STR), K("circonus_check_instance_id", STR),
    K("circonus_check_search_tag", STR), K("circonus_check_tags", STR),
    K("circonus_submission_interval", STR),
    K("circonus_submission_url", STR), K("disable_compat_1.9", BOOL),
    K("disable_hostname", BOOL), K("disable_per_tenancy_usage_metrics", BOOL),
    K("dogstatsd_addr", STR), K("dogstatsd_tags", STRLIST),
    K("enable_host_metrics", BOOL), K("filter_default", BOOL),
    K("metrics_prefix", STR), K("prefix_filter", STRLIST),
    K("prometheus_retention_time", DUR), K("retry_failed_connection", BOOL),
    K("statsd_address", STR), K("statsite_address", STR), END,
};

static const struct cfg_key tls_proto[] = {
    K("ca_file", STR), K("ca_path", STR), K("cert_file", STR),
    K("key_file", STR), K("tls_cipher_suites", STR),
    K("tls_min_version", STR), K("use_auto_cert", BOOL),
    K("verify_incoming", BOOL), K("verify_outgoing", BOOL),
    K("verify_server_hostname", BOOL), END,
};

static const struct cfg_key tls[] = {
    O("defaults", tls_proto), O("grpc", tls_proto), O("https", tls_proto),
    O("internal_rpc", tls_proto), END,
};

static const struct cfg_key ui_config[] = {
    K("content_path", STR), K("dashboard_url_templates", MAP),
    K("dir", STR), K("enabled", BOOL), K("metrics_provider", STR),
    K("metrics_provider_files", STRLIST),
    K("metrics_provider_options_json", STR), K("metrics_proxy", ANYOBJ),
    END,
};

static const struct cfg_key unix_sockets[] = {
    K("group", STR), K("mode", STR), K("user", STR), END,
};

static const struct cfg_key xds[] = {
    K("update_max_per_second", FLOAT), END,
};

static const struct cfg_key root_a_d[] = {
    O("acl", acl), K("acl_agent_master_token", STR),
    K("acl_agent_token", STR), K("acl_datacenter", STR),
    K("acl_default_policy", STR), K("acl_down_policy", STR),
    K("acl_enable_key_list_policy", BOOL), K("acl_enforce_version_8", ANY),
    K("acl_master_token", STR), K("acl_replication_token", STR),
    K("acl_token", STR), K("acl_ttl", DUR), O("addresses", addresses),
    K("advertise_addr", STR), K("advertise_addr_ipv4", STR),
    K("advertise_addr_ipv6", STR), K("advertise_addr_wan", STR),
    K("advertise_addr_wan_ipv4", STR), K("advertise_addr_wan_ipv6", STR),
    K("advertise_reconnect_timeout", DUR), K("alt_domain", STR),
    K("audit", ANYOBJ), K("auto_config", ANYOBJ),
    O("auto_encrypt", auto_encrypt), K("auto_reload_config", BOOL),
    O("autopilot", autopilot), K("bind_addr", STR), K("bootstrap", BOOL),
    K("bootstrap_expect", INT), K("ca_file", STR), K("ca_path", STR),
    O("cache", cache), K("cert_file", STR), K("check", ANY),
    K("check_output_max_size", INT), K("check_update_interval", DUR),
    K("checks", OBJLIST), K("client_addr", STR), K("cloud", ANYOBJ),
    O("config_entries", config_entries), O("connect", connect),
    K("consul", ANYOBJ), K("data_dir", STR), K("datacenter", STR),
    K("default_query_time", DUR), K("dev", BOOL),
    K("disable_anonymous_signature", BOOL), K("disable_coordinates", BOOL),
    K("disable_host_node_id", BOOL),
    K("disable_http_unprintable_char_filter", BOOL),
    K("disable_keyring_file", BOOL), K("disable_remote_exec", BOOL),
    K("disable_update_check", BOOL), K("discard_check_output", BOOL),
    K("discovery_max_stale", DUR), O("dns_config", dns_config),
    K("domain", STR), END,
};

static const struct cfg_key root_e_r[] = {
    K("enable_acl_replication", BOOL), K("enable_agent_tls_for_checks", BOOL),
    K("enable_central_service_config", BOOL), K("enable_debug", BOOL),
    K("enable_local_script_checks", BOOL), K("enable_script_checks", BOOL),
    K("enable_syslog", BOOL), K("encrypt", STR),
    K("encrypt_verify_incoming", BOOL), K("encrypt_verify_outgoing", BOOL),
    K("experiments", STRLIST), O("gossip_lan", gossip),
    O("gossip_wan", gossip), O("http_config", http_config),
    K("key_file", STR), K("leave_on_terminate", BOOL),
    K("license_path", STR), O("limits", limits), K("locality", ANYOBJ),
    K("log_file", STR), K("log_json", BOOL), K("log_level", STR),
    K("log_rotate_bytes", UINT), K("log_rotate_duration", DUR),
    K("log_rotate_max_files", INT), K("max_query_time", DUR),
    K("node_id", STR), K("node_meta", MAP), K("node_name", STR),
    K("non_voting_server", BOOL), O("peering", peering),
    O("performance", performance), K("pid_file", STR), O("ports", ports),
    K("primary_datacenter", STR), K("primary_gateways", STRLIST),
    K("primary_gateways_interval", DUR), K("protocol", INT),
    K("raft_boltdb", ANYOBJ), K("raft_logstore", ANYOBJ),
    K("raft_protocol", INT), K("raft_snapshot_interval", DUR),
    K("raft_snapshot_threshold", INT), K("raft_trailing_logs", INT),
    K("read_replica", BOOL), K("reconnect_timeout", DUR),
    K("reconnect_timeout_wan", DUR), K("recursors", STRLIST),
    K("rejoin_after_leave", BOOL), K("reporting", ANYOBJ),
    K("retry_interval", DUR), K("retry_interval_wan", DUR),
    K("retry_join", STRLIST), K("retry_join_wan", STRLIST),
    K("retry_max", INT), K("retry_max_wan", INT), O("rpc", rpc), END,
};

static const struct cfg_key root_s_z[] = {
    K("segment", STR), K("segments", OBJLIST), K("serf_lan", STR),
    K("serf_lan_allowed_cidrs", STRLIST), K("serf_wan", STR),
    K("serf_wan_allowed_cidrs", STRLIST), K("server", BOOL),
    K("server_name", STR), K("server_rejoin_age_max", DUR),
    K("service", ANY), K("services", OBJLIST), K("session_ttl_min", DUR),
    K("skip_leave_on_interrupt", BOOL), K("snapshot_agent", ANYOBJ),
    K("start_join", STRLIST), K("start_join_wan", STRLIST),
    K("syslog_facility", STR), K("tagged_addresses", MAP),
    O("telemetry", telemetry), O("tls", tls), K("tls_cipher_suites", STR),
    K("tls_min_version", STR), K("tls_prefer_server_cipher_suites", BOOL),
    K("translate_wan_addrs", BOOL), K("ui", BOOL), O("ui_config", ui_config),
    K("ui_content_path", STR), K("ui_dir", STR),
    O("unix_sockets", unix_sockets), K("use_streaming_backend", BOOL),
    K("verify_incoming", BOOL), K("verify_incoming_https", BOOL),
    K("verify_incoming_rpc", BOOL), K("verify_outgoing", BOOL),
    K("verify_server_hostname", BOOL), K("watches", OBJLIST), O("xds", xds),
    END,
};

/* The root table is split only to keep each initializer readable. */
static const struct cfg_key *const roots[] = {root_a_d, root_e_r, root_s_z};

static const struct cfg_key *find_in(const struct cfg_key *tab,
                                     const char *name, size_t n)
{
    for (; tab != NULL && tab->name != NULL; tab++)
        if (strlen(tab->name) == n && memcmp(tab->name, name, n) == 0)
            return tab;
    return NULL;
}

static const struct cfg_key *find_key(const struct cfg_key *tab,
                                      const char *name, size_t n)
{
    const struct cfg_key *k = NULL;

    if (tab != NULL)
        return find_in(tab, name, n);
    for (size_t i = 0; k == NULL && i < sizeof(roots) / sizeof(*roots); i++)
        k = find_in(roots[i], name, n);
    return k;
}

const struct cfg_key *cfg_schema_find(const char *path)
{
    const struct cfg_key *tab = NULL, *k = NULL;
    const char *seg = path, *dot;

    if (path == NULL || *path == '\0')
        return NULL;
    for (;;) {
        dot = strchr(seg, '.');
        k = find_key(tab, seg, dot ? (size_t)(dot - seg) : strlen(seg));
        if (k == NULL || dot == NULL)
            return k;
        if (k->type != CFG_K_OBJ)
            return NULL;
        tab = k->sub;
        seg = dot + 1;
    }
}

void cfg_warns_add(struct cfg_warns *w, const char *fmt, ...)
{
    char buf[2 * ERR_LEN];
    va_list ap;

    if (w->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 8;
        char **m = realloc(w->msg, (size_t)cap * sizeof(*m));

        if (m == NULL) {
            w->oom = true;
            return;
        }
        w->msg = m;
        w->cap = cap;
    }
    if ((w->msg[w->n] = strdup(buf)) == NULL)
        w->oom = true;
    else
        w->n++;
}

void cfg_warns_release(struct cfg_warns *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->msg[i]);
    free(w->msg);
    memset(w, 0, sizeof(*w));
}

/* ---- durations ------------------------------------------------------- */

int cfg_dur_value(const json_t *v, int64_t *ms)
{
    double d;

    if (json_is_string(v))
        return opt_parse_duration(json_string_value(v), false, ms);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i > INT64_MAX / 1000 || i < -(INT64_MAX / 1000))
            return ERR_INVAL;
        *ms = (int64_t)i * 1000;
        return 0;
    }
    if (!json_is_real(v))
        return ERR_INVAL;
    d = json_real_value(v) * 1000.0;
    if (!(d < 9.2e18 && d > -9.2e18))
        return ERR_INVAL;
    *ms = (int64_t)d;
    return 0;
}

/* ---- tree check ------------------------------------------------------- */

struct walk {
    struct cfg_warns *w;
    char *err;
    char path[256];
};

static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "list";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

static int type_err(struct walk *wk, const char *want, const json_t *v)
{
    char q[ERR_QUOTE_MAX + 1];

    return err_set(wk->err, ERR_INVAL, "'%s' must be %s, got %s",
                   err_quote(q, sizeof(q), wk->path), want, kind(v));
}

static size_t push(struct walk *wk, const char *fmt, const char *key,
                   size_t idx)
{
    size_t len = strlen(wk->path);

    if (key != NULL)
        snprintf(wk->path + len, sizeof(wk->path) - len, fmt,
                 len ? "." : "", key);
    else
        snprintf(wk->path + len, sizeof(wk->path) - len, "[%zu]", idx);
    return len;
}

/* Integral reals (8500.0, 1e3) become integers; others are refused. */
static int check_int(struct walk *wk, json_t *obj, const char *key,
                     json_t *v, bool uns)
{
    char q[ERR_QUOTE_MAX + 1];
    double d;

    if (json_is_real(v)) {
        d = json_real_value(v);
        if (d != (double)(json_int_t)d || d > 9.2e18 || d < -9.2e18)
            return type_err(wk, "a whole number", v);
        if (json_object_set_new(obj, key, json_integer((json_int_t)d)))
            return err_set(wk->err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
        v = json_object_get(obj, key);
    }
    if (!json_is_integer(v))
        return type_err(wk, "a number", v);
    if (uns && json_integer_value(v) < 0)
        return err_set(wk->err, ERR_INVAL, "'%s' must not be negative",
                       err_quote(q, sizeof(q), wk->path));
    return 0;
}

static int check_dur(struct walk *wk, const json_t *v)
{
    char q[ERR_QUOTE_MAX + 1], qv[ERR_QUOTE_MAX + 1];
    int64_t ms;

    if (!json_is_string(v) && !json_is_number(v))
        return type_err(wk, "a duration", v);
    if (cfg_dur_value(v, &ms) == 0)
        return 0;
    if (!json_is_string(v))
        return err_set(wk->err, ERR_INVAL, "%s: invalid duration",
                       err_quote(q, sizeof(q), wk->path));
    return err_set(wk->err, ERR_INVAL, "%s: invalid duration: \"%s\"",
                   err_quote(q, sizeof(q), wk->path),
                   err_quote(qv, sizeof(qv), json_string_value(v)));
}

static int check_list(struct walk *wk, const json_t *v, bool objs)
{
    const char *want = objs ? "an object" : "a string";
    size_t i, len;
    json_t *e;
    int rc = 0;

    if (!json_is_array(v))
        return type_err(wk, objs ? "a list of objects" : "a list of strings",
                        v);
    json_array_foreach(v, i, e) {
        if (objs ? json_is_object(e) : json_is_string(e))
            continue;
        len = push(wk, NULL, NULL, i);
        rc = type_err(wk, want, e);
        wk->path[len] = '\0';
        break;
    }
    return rc;
}

static int check_map(struct walk *wk, const json_t *v)
{
    const char *k;
    json_t *e;
    size_t len;
    int rc;

    if (!json_is_object(v))
        return type_err(wk, "an object", v);
    json_object_foreach((json_t *)v, k, e) {
        if (json_is_string(e))
            continue;
        len = push(wk, "%s%s", k, 0);
        rc = type_err(wk, "a string", e);
        wk->path[len] = '\0';
        return rc;
    }
    return 0;
}

/* Repeated blocks (a list of objects) of an object key merge in order. */
static json_t *as_object(struct walk *wk, json_t *obj, const char *key,
                         json_t *v, int *rc)
{
    json_t *m, *e;
    size_t i;

    *rc = 0;
    if (json_is_object(v))
        return v;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        *rc = type_err(wk, "an object", v);
        return NULL;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_object(e)) {
            *rc = type_err(wk, "an object", v);
            return NULL;
        }
    }
    /* v is replaced in obj below; keep it alive while merging it. */
    json_incref(v);
    if ((m = json_object()) == NULL || json_object_set_new(obj, key, m)) {
        json_decref(v);
        *rc = err_set(wk->err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
        return NULL;
    }
    json_array_foreach(v, i, e)
        cfg_merge_plain(m, e);
    json_decref(v);
    return m;
}

static int check_obj(struct walk *wk, json_t *obj, const struct cfg_key *tab);

static int check_key(struct walk *wk, json_t *obj, const char *key,
                     json_t *v, const struct cfg_key *k)
{
    int rc;

    switch (k->type) {
    case CFG_K_STR:
        return json_is_string(v) ? 0 : type_err(wk, "a string", v);
    case CFG_K_INT:
    case CFG_K_UINT:
        return check_int(wk, obj, key, v, k->type == CFG_K_UINT);
    case CFG_K_FLOAT:
        return json_is_number(v) ? 0 : type_err(wk, "a number", v);
    case CFG_K_BOOL:
        return json_is_boolean(v) ? 0 : type_err(wk, "a boolean", v);
    case CFG_K_DUR: return check_dur(wk, v);
    case CFG_K_STRLIST: return check_list(wk, v, false);
    case CFG_K_MAP: return check_map(wk, v);
    case CFG_K_OBJLIST:
        if (cfg_wrap_list(obj, key) != 0)
            return err_set(wk->err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
        return check_list(wk, json_object_get(obj, key), true);
    case CFG_K_OBJ:
    case CFG_K_ANYOBJ:
        if ((v = as_object(wk, obj, key, v, &rc)) == NULL)
            return rc;
        return k->type == CFG_K_OBJ ? check_obj(wk, v, k->sub) : 0;
    case CFG_K_ANY: return 0;
    }
    return 0;
}

/* tab NULL: the root tables. */
static int check_obj(struct walk *wk, json_t *obj, const struct cfg_key *tab)
{
    char q[ERR_QUOTE_MAX + 1];
    const char *key;
    json_t *v;
    void *tmp;
    size_t len;
    int rc = 0;

    json_object_foreach_safe(obj, tmp, key, v) {
        const struct cfg_key *k = find_key(tab, key, strlen(key));

        len = push(wk, "%s%s", key, 0);
        if (k == NULL)
            cfg_warns_add(wk->w, "config: unknown key '%s' (ignored)",
                          err_quote(q, sizeof(q), wk->path));
        if (k == NULL || json_is_null(v))
            json_object_del(obj, key);
        else
            rc = check_key(wk, obj, key, v, k);
        wk->path[len] = '\0';
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cfg_schema_check(json_t *tree, struct cfg_warns *w, char *err)
{
    struct walk wk = {.w = w, .err = err};

    return check_obj(&wk, tree, NULL);
}

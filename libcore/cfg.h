/* cfg.h - agent configuration: HCL and JSON files, merge, defaults.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Every source (file, directory, flags) becomes a jansson object in
 * Consul's key space (snake_case, nested objects); sources are merged in
 * order (later scalars override, arrays append, objects merge), then
 * cfg_build() maps deprecated keys, warns once per unknown key, applies
 * defaults and validates into struct cfg.
 * Tests: t/unit/check_cfg.c
 */
#ifndef PROCONSUL_CFG_H
#define PROCONSUL_CFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

enum cfg_format { CFG_AUTO, CFG_JSON, CFG_HCL };

/* Warnings (unknown keys, deprecated names, bootstrap_expect advice) go
 * through this callback, one message per call, no trailing newline. */
typedef void (*cfg_warn_fn)(void *ctx, const char *msg);

/* Parse one document. JSON accepts //, # and block comments; HCL is
 * HCL 1 as Consul uses it: `k = v`, `k { ... }`, `k "label" { ... }`,
 * lists, heredocs, numbers, bools, comments. A repeated block key gives a
 * list of objects. name is used in messages: "<name>:<line>:<col>: ...".
 * On success *out is a new reference to an object. */
int cfg_parse(const char *text, size_t len, const char *name,
              enum cfg_format fmt, json_t **out, char *err);

/* Read and parse a file; the format comes from the suffix (.json/.hcl)
 * unless fmt is given. */
int cfg_load_file(const char *path, enum cfg_format fmt, json_t **out,
                  char *err);

/* Load *.hcl and *.json directly inside dir (no sub-directories), in
 * lexical order of file name, merging each into acc. A missing or
 * unreadable dir is an error. */
int cfg_load_dir(const char *dir, json_t *acc, char *err);

/* Merge src into dst: scalars replace, arrays append, objects recurse.
 * src is deep-copied (dst never shares nodes with it). At the top level
 * `service` and `check` (an object or a list) are appended to `services`
 * and `checks`, as Consul does per source, so a directory with one
 * service per file keeps them all. */
void cfg_merge(json_t *dst, const json_t *src);

/* Set a dotted key ("ports.http") to a value in obj, creating objects;
 * takes a reference to val (steals). For list keys (retry_join ...)
 * appends instead. Used for command-line flags. The reference moves only
 * on success; on error the caller still owns val. */
int cfg_set_path(json_t *obj, const char *path, json_t *val, char *err);

/* cfg_set_path for a flag's text: s is converted by the key's type in
 * Consul's schema (numbers, Go bools "true|false|1|0|t|f", durations are
 * checked and kept as strings, lists append one item, node_meta-style
 * maps take "key:value"). Unknown keys and bad values are ERR_INVAL:
 * "'ports.http' must be a number, got \"x\"". */
int cfg_set_flag(json_t *obj, const char *path, const char *s, char *err);

#define CFG_MAX_ADDRS 16

struct cfg_acl_tokens {
    char *initial_management; /* alias: master, acl_master_token */
    char *agent;
    char *agent_recovery;     /* alias: agent_master */
    char *default_token;      /* key: "default" */
    char *replication;
    char *dns;
    char *config_file_service_registration;
};

struct cfg_acl {
    bool enabled;
    char *default_policy;     /* "allow" | "deny" */
    char *down_policy;        /* "extend-cache" default */
    bool enable_token_persistence;
    bool enable_key_list_policy;
    bool enable_token_replication;
    int64_t token_ttl_ms;
    struct cfg_acl_tokens tokens;
};

struct cfg_ports {
    int dns, http, https, grpc, serf_lan, serf_wan, server;
};

struct cfg_autopilot {
    bool cleanup_dead_servers;
    int64_t last_contact_threshold_ms;
    int64_t max_trailing_logs;
    int64_t min_quorum;
    int64_t server_stabilization_time_ms;
};

struct cfg_gossip {
    int64_t gossip_interval_ms, probe_interval_ms, probe_timeout_ms;
    int64_t gossip_nodes, retransmit_mult, suspicion_mult;
    int64_t push_pull_interval_ms;
};

struct cfg {
    json_t *raw;              /* the merged tree, deprecated keys mapped */

    bool dev;
    bool server;
    bool bootstrap;
    int bootstrap_expect;
    char *datacenter;         /* "dc1" */
    char *primary_datacenter; /* "" when unset */
    char *node_name;          /* hostname by default */
    char *node_id;            /* may be NULL: read or made in data_dir */
    char *data_dir;           /* required unless dev */
    char *bind_addr;          /* "0.0.0.0" */
    char *advertise_addr;     /* NULL: same as bind */
    char *advertise_addr_wan;
    char *client_addr[CFG_MAX_ADDRS]; /* "127.0.0.1" */
    int n_client_addr;
    char *http_addrs[CFG_MAX_ADDRS];  /* addresses.http, else client */
    int n_http_addrs;
    struct cfg_ports ports;
    char **retry_join;        /* start_join appended here */
    int n_retry_join;
    char **retry_join_wan;
    int n_retry_join_wan;
    int64_t retry_interval_ms;  /* 30 s */
    int64_t retry_interval_wan_ms; /* 30 s */
    int64_t retry_max;          /* 0 = forever */
    bool ui;                  /* ui_config.enabled, legacy ui */
    char *ui_dir;
    char *log_level;          /* "INFO" */
    bool log_json;
    char *log_file;           /* NULL: none */
    int64_t log_rotate_bytes;         /* 0: no size limit */
    int64_t log_rotate_duration_ms;   /* 0 in the config -> 24 h */
    int64_t log_rotate_max_files;     /* 0 keep all, < 0 keep none */
    bool enable_syslog;
    char *syslog_facility;    /* "LOCAL0"; checked when enable_syslog */
    char *pid_file;
    char *encrypt;
    bool leave_on_terminate;
    bool skip_leave_on_interrupt;
    bool rejoin_after_leave;
    bool enable_script_checks;
    bool enable_local_script_checks;
    bool disable_update_check;
    char *domain;             /* "consul." */
    int64_t raft_multiplier;  /* performance.raft_multiplier; 0 -> 5 */
    int64_t raft_snapshot_threshold;  /* 16384 */
    int64_t raft_snapshot_interval_ms;
    int64_t raft_trailing_logs;       /* 10240 */
    int64_t default_query_time_ms;    /* 300 s */
    int64_t max_query_time_ms;        /* 600 s */
    int64_t kv_max_value_size;        /* limits.kv_max_value_size 512 KiB */
    int64_t txn_max_req_len;
    int64_t snapshot_max_bytes;       /* limits.snapshot_max_bytes 1 GiB:
                                       * largest PUT /v1/snapshot body */
    int64_t http_max_conns_per_client;
    int64_t prometheus_retention_ms;  /* telemetry.prometheus_retention_time */
    bool telemetry_disable_hostname;
    char *telemetry_metrics_prefix;   /* "consul" */
    char **node_meta_keys, **node_meta_vals;
    int n_node_meta;
    struct cfg_acl acl;
    struct cfg_autopilot autopilot;
    struct cfg_gossip gossip_lan, gossip_wan;
};

/* Build the runtime config from a merged tree (borrowed; cfg keeps its
 * own reference in c->raw). Applies -dev defaults when tree has
 * "dev": true. Validation errors (bad types, bootstrap_expect without
 * server, ...) fill err and return ERR_INVAL; warnings go to warn.
 * c->raw is a copy of tree with deprecated keys mapped, unknown keys and
 * nulls dropped, repeated blocks of object keys merged and service/check
 * moved into services/checks; defaults are not in it. Durations may be
 * Go strings ("1m30s") or numbers of seconds. Warnings are delivered
 * only when the build succeeds (warn may be NULL); on failure c is left
 * zeroed. Warnings and errors never quote an ACL token or the gossip
 * encryption key. */
int cfg_build(const json_t *tree, struct cfg *c, cfg_warn_fn warn,
              void *ctx, char *err);
void cfg_release(struct cfg *c);

/* ---- watches (cfg_watch.c) ----
 * Check one watch definition (an object with Consul's watch keys);
 * need_handler: it must have args or handler (the agent's `watches`).
 * Messages as Consul's ("Must specify a single key to watch",
 * "Unsupported watch type: x", ...). cfg_build checks every entry of
 * `watches` with it ("watches[1]: ..."). */
int cfg_watch_check(const json_t *w, bool need_handler, char *err);
/* The arguments after "proconsul watch" that run the checked watch w:
 * its flags, then "-shell=false -- args..." or "-- handler". The token
 * is not among them (pass it in the environment). A NULL-terminated
 * heap array of heap strings, or NULL when out of memory. */
char **cfg_watch_argv(const json_t *w, char *err);
void cfg_watch_argv_free(char **v);

#endif

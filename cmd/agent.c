/* agent.c - `proconsul agent`: run an agent (server or client).
 *
 * Flags become a config tree merged after every -config-file/-config-dir
 * (processed in command-line order), so flags win and lists append, as
 * in Consul. Exit codes: 0 after a graceful stop (SIGINT, SIGTERM,
 * SIGQUIT), 1 on a config or startup error, 2 on a usage error.
 * Logging (-log-*, -syslog) is set up right after the config is built,
 * before anything else logs; the config's warnings wait for it. SIGHUP
 * (and /v1/agent/reload) reopens the log file and applies log_level.
 * Endpoints served: see libcore/httpd.c; DNS: libcore/dns.h.
 * Tests: t/t0002-agent-signals.sh, t/t0003-agent-config.sh, t/t1*.sh,
 *        t/t7004-logs.sh
 */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent_watches.h"
#include "cmd.h"
#include "cfg.h"
#include "dns.h"
#include "err.h"
#include "httpd.h"
#include "log.h"
#include "opt.h"
#include "version.h"

/* How a flag maps into the config tree. */
enum kind { K_STR, K_INT, K_BOOL, K_LIST, K_SOURCE, K_HCL, K_META };

struct flagmap {
    const char *flag, *key;
    enum kind kind;
    const char *arg, *help;
};

static const struct flagmap flagmaps[] = {
    {"advertise", "advertise_addr", K_STR, "<addr>",
     "Sets the advertise address to use."},
    {"advertise-wan", "advertise_addr_wan", K_STR, "<addr>",
     "Sets address to advertise on WAN instead of -advertise address."},
    {"bind", "bind_addr", K_STR, "<addr>",
     "Sets the bind address for cluster communication."},
    {"bootstrap", "bootstrap", K_BOOL, NULL,
     "Sets server to bootstrap mode."},
    {"bootstrap-expect", "bootstrap_expect", K_INT, "<n>",
     "Sets server to expect bootstrap mode."},
    {"client", "client_addr", K_STR, "<addr>",
     "Sets the address to bind for client access (HTTP, DNS).\n"
     "     Space-separated list."},
    {"config-dir", NULL, K_SOURCE, "<dir>",
     "Path to a directory to read configuration files from (.hcl and\n"
     "     .json, lexical order). Repeatable."},
    {"config-file", NULL, K_SOURCE, "<file>",
     "Path to a file in JSON or HCL format. Repeatable."},
    {"data-dir", "data_dir", K_STR, "<path>",
     "Path to a data directory to store agent state."},
    {"datacenter", "datacenter", K_STR, "<dc>",
     "Datacenter of the agent."},
    {"default-query-time", "default_query_time", K_STR, "<dur>",
     "The amount of time a blocking query will wait by default."},
    {"dev", "dev", K_BOOL, NULL,
     "Starts the agent in development mode (in-memory data, one server)."},
    {"dns-port", "ports.dns", K_INT, "<port>", "DNS port to use."},
    {"domain", "domain", K_STR, "<domain>", "Domain to use for DNS."},
    {"enable-local-script-checks", "enable_local_script_checks", K_BOOL,
     NULL, "Enables health check scripts from configuration file."},
    {"enable-script-checks", "enable_script_checks", K_BOOL, NULL,
     "Enables health check scripts."},
    {"encrypt", "encrypt", K_STR, "<key>",
     "Provides the gossip encryption key."},
    {"grpc-port", "ports.grpc", K_INT, "<port>", "gRPC port (-1 off)."},
    {"hcl", NULL, K_HCL, "<fragment>",
     "HCL configuration fragment. Repeatable."},
    {"http-port", "ports.http", K_INT, "<port>", "HTTP API port."},
    {"https-port", "ports.https", K_INT, "<port>", "HTTPS API port."},
    {"join", "retry_join", K_LIST, "<addr>",
     "Deprecated alias of -retry-join. Repeatable."},
    {"join-wan", "retry_join_wan", K_LIST, "<addr>",
     "Deprecated alias of -retry-join-wan. Repeatable."},
    {"log-file", "log_file", K_STR, "<path>",
     "Path to the file the logs get written to (also to stderr); a\n"
     "     directory or a path ending in / gets consul.log."},
    {"log-json", "log_json", K_BOOL, NULL, "Output logs in JSON format."},
    {"log-level", "log_level", K_STR, "<level>",
     "Log level: trace, debug, info, warn, error."},
    {"log-rotate-bytes", "log_rotate_bytes", K_INT, "<n>",
     "Maximum number of bytes that should be written to a log file\n"
     "     (0: no limit)."},
    {"log-rotate-duration", "log_rotate_duration", K_STR, "<dur>",
     "Time after which log rotation needs to be performed (24h)."},
    {"log-rotate-max-files", "log_rotate_max_files", K_INT, "<n>",
     "Maximum number of log file archives to keep (0: all, -1: none)."},
    {"max-query-time", "max_query_time", K_STR, "<dur>",
     "The maximum amount of time a blocking query can wait."},
    {"node", "node_name", K_STR, "<name>", "Name of this node."},
    {"node-id", "node_id", K_STR, "<uuid>",
     "A unique ID for this node (persisted in the data dir otherwise)."},
    {"node-meta", NULL, K_META, "<key:value>",
     "Arbitrary metadata key/value pair. Repeatable."},
    {"pid-file", "pid_file", K_STR, "<path>",
     "Path to file to store agent PID."},
    {"primary-datacenter", "primary_datacenter", K_STR, "<dc>",
     "The datacenter authoritative for ACLs."},
    {"rejoin", "rejoin_after_leave", K_BOOL, NULL,
     "Ignores a previous leave and attempts to rejoin the cluster."},
    {"retry-interval", "retry_interval", K_STR, "<dur>",
     "Time to wait between join attempts."},
    {"retry-interval-wan", "retry_interval_wan", K_STR, "<dur>",
     "Time to wait between WAN join attempts."},
    {"retry-join", "retry_join", K_LIST, "<addr>",
     "Address of an agent to join, retried until it works. Repeatable."},
    {"retry-join-wan", "retry_join_wan", K_LIST, "<addr>",
     "Address of a WAN server to join. Repeatable."},
    {"retry-max", "retry_max", K_INT, "<n>",
     "Maximum number of join attempts (0 = forever)."},
    {"serf-lan-port", "ports.serf_lan", K_INT, "<port>",
     "Serf LAN port."},
    {"serf-wan-port", "ports.serf_wan", K_INT, "<port>",
     "Serf WAN port."},
    {"server", "server", K_BOOL, NULL, "Switches agent to server mode."},
    {"server-port", "ports.server", K_INT, "<port>",
     "Server RPC (and Raft) port."},
    {"syslog", "enable_syslog", K_BOOL, NULL,
     "Enables logging to syslog (facility: syslog_facility, LOCAL0)."},
    {"ui", "ui_config.enabled", K_BOOL, NULL,
     "Enables the built-in static web UI server."},
    {"ui-dir", "ui_config.dir", K_STR, "<path>",
     "Serves the web UI from this directory instead of the built-in files."},
};
#define N_FLAGS (sizeof(flagmaps) / sizeof(flagmaps[0]))

struct source {
    bool is_dir, is_hcl;
    const char *val;
};

#define MAX_HELD_WARNINGS 64

struct agent_args {
    json_t *flags;                 /* tree built from flags */
    struct source src[256];
    int n_src;
    int argc;
    char **argv;
    /* Config warnings wait until the log outputs are set up. */
    bool hold_warnings;
    char *held[MAX_HELD_WARNINGS];
    int n_held;
};

static int flag_cb(void *ctx, const char *name, const char *val, char *err)
{
    struct agent_args *aa = ctx;
    const struct flagmap *m = NULL;
    json_t *j = NULL;
    bool b;

    for (size_t i = 0; i < N_FLAGS && m == NULL; i++)
        if (strcmp(flagmaps[i].flag, name) == 0)
            m = &flagmaps[i];
    if (m == NULL)
        return err_set(err, ERR_INVAL, "flag provided but not defined: -%s",
                       name);
    switch (m->kind) {
    case K_SOURCE:
    case K_HCL:
        if (aa->n_src >= 256)
            return err_set(err, ERR_TOOBIG, "too many config sources");
        aa->src[aa->n_src].is_dir = strcmp(name, "config-dir") == 0;
        aa->src[aa->n_src].is_hcl = m->kind == K_HCL;
        aa->src[aa->n_src++].val = val;
        return 0;
    case K_META:
        return cfg_set_flag(aa->flags, "node_meta", val, err);
    case K_BOOL:
        if (val != NULL && opt_parse_bool(val, &b) != 0)
            return err_set(err, ERR_INVAL, "invalid boolean value \"%s\" "
                           "for -%s", val, name);
        j = json_boolean(val == NULL ? true : b);
        break;
    case K_INT: {
        char *end;
        long long v = strtoll(val, &end, 10);

        if (*val == '\0' || *end != '\0')
            return err_set(err, ERR_INVAL, "invalid value \"%s\" for flag "
                           "-%s: parse error", val, name);
        j = json_integer(v);
        break;
    }
    case K_LIST:
        j = json_array();
        json_array_append_new(j, json_string(val));
        break;
    case K_STR:
        j = json_string(val);
        break;
    }
    if (cfg_set_path(aa->flags, m->key, j, err) != 0) {
        json_decref(j); /* still ours when the set failed */
        return ERR_INVAL;
    }
    return 0;
}

static void build_opts(struct opt *opts, struct agent_args *aa)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        memset(&opts[i], 0, sizeof(opts[i]));
        opts[i].name = flagmaps[i].flag;
        opts[i].type = OPT_FUNC;
        opts[i].dst = aa;
        opts[i].fn = flag_cb;
        opts[i].is_bool = flagmaps[i].kind == K_BOOL;
        opts[i].arg = flagmaps[i].arg;
        opts[i].help = flagmaps[i].help;
    }
}

static void warn_cb(void *ctx, const char *msg)
{
    struct agent_args *aa = ctx;
    char *dup;

    if (!aa->hold_warnings) {
        LOG_WARN("agent", "%s", msg);
    } else if (aa->n_held == MAX_HELD_WARNINGS ||
               (dup = strdup(msg)) == NULL) {
        LOG_WARN("agent", "%s", msg); /* early, as text, but not lost */
    } else {
        aa->held[aa->n_held++] = dup;
    }
}

/* Log (when emit is true) and free the held warnings. */
static void release_warnings(struct agent_args *aa, bool emit)
{
    for (int i = 0; i < aa->n_held; i++) {
        if (emit)
            LOG_WARN("agent", "%s", aa->held[i]);
        free(aa->held[i]);
    }
    aa->n_held = 0;
    aa->hold_warnings = false;
}

/* Consul's logging.Setup: level, format, then file and syslog. */
static int setup_logging(const struct cfg *c, char *err)
{
    struct log_file_opts o = {
        .path = c->log_file,
        .rotate_bytes = c->log_rotate_bytes,
        .rotate_ms = c->log_rotate_duration_ms,
        .max_files = c->log_rotate_max_files,
    };
    int lvl = log_level_parse(c->log_level);

    if (lvl >= 0)
        log_set_level((enum log_level)lvl);
    log_set_json(c->log_json);
    if (c->log_file != NULL && c->log_file[0] != '\0' &&
        log_file_open(&o, err) != 0) {
        err_prefix(err, "Failed to setup logging");
        return ERR_IO;
    }
    if (c->enable_syslog &&
        log_syslog_open(c->syslog_facility, err) != 0) {
        err_prefix(err, "Failed to setup logging");
        log_file_close();
        return ERR_INVAL;
    }
    return 0;
}

static void close_logging(void)
{
    log_file_close();
    log_syslog_close();
}

static bool str_differs(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

/* Only log_level is reloadable, as in Consul; say so when others moved. */
static void warn_log_changes(const struct cfg *old, const struct cfg *nc)
{
    if (old->log_json != nc->log_json ||
        str_differs(old->log_file, nc->log_file) ||
        old->log_rotate_bytes != nc->log_rotate_bytes ||
        old->log_rotate_duration_ms != nc->log_rotate_duration_ms ||
        old->log_rotate_max_files != nc->log_rotate_max_files ||
        old->enable_syslog != nc->enable_syslog ||
        (nc->enable_syslog &&
         str_differs(old->syslog_facility, nc->syslog_facility)))
        LOG_WARN("agent", "log_json, log_file, log_rotate_*, enable_syslog "
                 "and syslog_facility changes take effect at restart only");
}

/* Merge every source in order, then the flags; build the config. */
static int load_config(struct agent_args *aa, struct cfg *c, char *err)
{
    json_t *tree = json_object(), *one;
    int rc = 0;

    for (int i = 0; i < aa->n_src && rc == 0; i++) {
        const struct source *s = &aa->src[i];

        if (s->is_dir) {
            rc = cfg_load_dir(s->val, tree, err);
            continue;
        }
        one = NULL;
        rc = s->is_hcl ? cfg_parse(s->val, strlen(s->val), "-hcl", CFG_HCL,
                                   &one, err)
                       : cfg_load_file(s->val, CFG_AUTO, &one, err);
        if (rc == 0)
            cfg_merge(tree, one);
        json_decref(one);
    }
    if (rc == 0) {
        cfg_merge(tree, aa->flags);
        rc = cfg_build(tree, c, warn_cb, aa, err);
    }
    json_decref(tree);
    return rc;
}

static int reload(struct agent *a, void *ctx, char *err)
{
    struct agent_args *aa = ctx;
    struct cfg nc;
    int rc;

    /* An external logrotate moved the file away: start a new one. */
    if (log_file_reopen(err) != 0)
        LOG_ERROR("agent", "%s", err);
    memset(&nc, 0, sizeof(nc));
    rc = load_config(aa, &nc, err);
    if (rc == 0) {
        warn_log_changes(&a->cfg, &nc);
        rc = agent_reload_config(a, &nc, err);
    }
    cfg_release(&nc);
    return rc;
}

static void banner(struct agent *a)
{
    const struct cfg *c = &a->cfg;
    char addrs[512] = "";

    for (int i = 0; i < c->n_client_addr; i++) {
        strncat(addrs, i ? " " : "", sizeof(addrs) - strlen(addrs) - 1);
        strncat(addrs, c->client_addr[i], sizeof(addrs) - strlen(addrs) - 1);
    }
    printf("==> Starting Consul agent...\n"
           "               Version: '%s'\n"
           "               Node ID: '%s'\n"
           "             Node name: '%s'\n"
           "            Datacenter: '%s' (Segment: '%s')\n"
           "                Server: %s (Bootstrap: %s)\n"
           "           Client Addr: [%s] (HTTP: %d, HTTPS: %d, gRPC: %d, "
           "DNS: %d)\n"
           "          Cluster Addr: %s (LAN: %d, WAN: %d)\n"
           "     Gossip Encryption: %s\n"
           "           ACL Enabled: %s\n"
           "              Data Dir: %s\n\n"
           "==> Log data will now stream in as it occurs:\n\n",
           VERSION_HUMAN, a->node_id, c->node_name, c->datacenter,
           c->server ? "<all>" : "", c->server ? "true" : "false",
           c->bootstrap ? "true" : "false", addrs, c->ports.http,
           c->ports.https, c->ports.grpc, c->ports.dns, a->advertise,
           c->ports.serf_lan, c->ports.serf_wan,
           c->encrypt != NULL && c->encrypt[0] ? "true" : "false",
           c->acl.enabled ? "true" : "false", a->data_dir);
    fflush(stdout);
}

static int write_pid(const char *path, char *err)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fprintf(f, "%ld", (long)getpid()) < 0 ||
        fclose(f) != 0)
        return err_set(err, ERR_IO, "writing pid file '%s': %s", path,
                       strerror(errno));
    return 0;
}

static uv_loop_t loop;
static struct agent the_agent;
static struct agent_args args;

static int usage_and_parse(int argc, char **argv)
{
    struct opt opts[N_FLAGS];
    char err[ERR_LEN];
    int rest = 0, rc;

    build_opts(opts, &args);
    rc = opt_parse(opts, (int)N_FLAGS, argc, argv, &rest, err);
    if (rc == OPT_HELP) {
        opt_usage(stdout, "consul agent [options]",
                  "Starts the Consul agent and runs until an interrupt is "
                  "received.\n  The agent represents a single node in a "
                  "cluster.", opts, (int)N_FLAGS);
        return 0;
    }
    if (rc == 0 && rest < argc) {
        snprintf(err, sizeof(err), "unexpected argument '%s'", argv[rest]);
        rc = ERR_INVAL;
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return 1; /* Consul exits 1 on a flag error */
    }
    return -1;
}

static int run(void)
{
    char err[ERR_LEN];
    struct cfg c;
    struct httpd *h = NULL;
    struct dns *dns = NULL;
    int rc;

    memset(&c, 0, sizeof(c));
    args.hold_warnings = true;
    if (load_config(&args, &c, err) != 0 || setup_logging(&c, err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        release_warnings(&args, false);
        cfg_release(&c);
        return 1;
    }
    release_warnings(&args, true);
    uv_loop_init(&loop);
    if (agent_init(&the_agent, &loop, &c, err) != 0) {
        fprintf(stderr, "==> %s\n", err);
        cfg_release(&c);
        close_logging();
        return 1;
    }
    agent_set_reload(&the_agent, reload, &args);
    banner(&the_agent);
    rc = (h = httpd_new(&the_agent, err)) == NULL ? ERR_NOMEM : 0;
    if (rc == 0 && (dns = dns_new(&the_agent, err)) == NULL)
        rc = ERR_INVAL;
    if (rc == 0)
        rc = agent_start(&the_agent, err);
    if (rc == 0)
        rc = httpd_start(h, err);
    if (rc == 0)
        rc = dns_start(dns, err);
    if (rc == 0)
        rc = agent_watches_start(&the_agent, err);
    if (rc == 0 && the_agent.cfg.pid_file != NULL &&
        the_agent.cfg.pid_file[0] != '\0')
        rc = write_pid(the_agent.cfg.pid_file, err);
    if (rc != 0) {
        LOG_ERROR("agent", "%s", err);
        agent_stop(&the_agent);
        agent_run(&the_agent);
        rc = 1;
    } else {
        rc = agent_run(&the_agent);
    }
    if (the_agent.cfg.pid_file != NULL && the_agent.cfg.pid_file[0] != '\0')
        unlink(the_agent.cfg.pid_file);
    agent_release(&the_agent);
    httpd_free(h);
    dns_free(dns);
    close_logging();
    return rc;
}

/* Blocking queries hold a connection each: take every descriptor the
 * hard limit allows, as Consul does. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int cmd_agent(int argc, char **argv)
{
    int rc;

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    memset(&args, 0, sizeof(args));
    args.flags = json_object();
    args.argc = argc;
    args.argv = argv;
    rc = usage_and_parse(argc, argv);
    if (rc < 0)
        rc = run();
    json_decref(args.flags);
    return rc;
}

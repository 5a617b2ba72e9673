/* bootstrap.c - "consul bootstrap": the reference deployment's files for
 * a whole cluster, consistent by construction (ours; Consul has none).
 *
 * Offline: no endpoint. For each server (and -clients host) it writes
 * <out>/<node>/config/auth.hcl (mode 0600: holds the management token),
 * <out>/<node>/config/consulha.hcl and <out>/<node>/consul.ini (the
 * supervisor program section), plus <out>/management.token (0600). One
 * freshly generated UUIDv4 is the master token of every server; it is
 * never printed. "bootstrap check" is in bootstrap_check.c.
 * Exit codes: 0 ok (also "-h"); 1 refused input (even server count,
 * duplicate or malformed address, empty list, non-empty -out without
 * -force) or a write error; 2 usage error (bad flag, missing -servers or
 * -out, extra arguments).
 * Tests: t/t7002-bootstrap-ping.sh
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootstrap_cli.h"
#include "cmd.h"
#include "err.h"
#include "opt.h"
#include "util_fs.h"
#include "util_rand.h"

#define NAME_LEN 64

struct node {
    char name[NAME_LEN];
    const char *ip;
    bool server;
};

struct plan {
    char ips[BS_MAX_NODES][BS_IP_LEN];
    struct node nodes[BS_MAX_NODES];
    int n, n_servers;
    const char *dc, *prefix, *data_dir, *config_dir, *binary, *out;
    bool force;
    char token[UTIL_UUID_LEN + 1];
};

typedef void (*emit_fn)(FILE *f, const struct plan *p,
                        const struct node *nd);

static const char synopsis[] =
    "consul bootstrap -servers <ip,...> -out <dir> [options]\n"
    "       consul bootstrap check [options]";
static const char description[] =
    "  Writes the configuration of a new cluster as the reference\n"
    "  deployment lays it out: for each node <out>/<node>/config/auth.hcl,\n"
    "  <out>/<node>/config/consulha.hcl and <out>/<node>/consul.ini (a\n"
    "  supervisor program), and <out>/management.token. Every server gets\n"
    "  the same freshly generated management token; it is never printed.\n\n"
    "Subcommands:\n"
    "    check    Checks that a running cluster is what was meant: voters,\n"
    "             one agreed leader, Raft indexes in step";

/* ---- address lists -------------------------------------------------- */

static int parse_one(const char *flag, const char *item, size_t len,
                     char ips[][BS_IP_LEN], int *n, char *err)
{
    unsigned char bin[16];
    char ip[BS_IP_LEN] = "";

    if (len == 0)
        return err_set(err, ERR_INVAL, "-%s has an empty entry: separate "
                       "the addresses with single commas", flag);
    if (len < BS_IP_LEN) {
        memcpy(ip, item, len);
        ip[len] = '\0';
    }
    if (len >= BS_IP_LEN || (inet_pton(AF_INET, ip, bin) != 1 &&
                             inet_pton(AF_INET6, ip, bin) != 1))
        return err_set(err, ERR_INVAL, "-%s: '%.*s' is not an IP address: "
                       "give each host's own -bind address, like "
                       "192.168.1.1", flag, (int)(len > 64 ? 64 : len),
                       item);
    if (strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0)
        return err_set(err, ERR_INVAL, "-%s: '%s' cannot be a -bind "
                       "address: give the host's own IP", flag, ip);
    for (int i = 0; i < *n; i++)
        if (strcmp(ips[i], ip) == 0)
            return err_set(err, ERR_INVAL, "-%s: '%s' is listed twice: "
                           "each node needs its own address", flag, ip);
    if (*n >= BS_MAX_NODES)
        return err_set(err, ERR_INVAL, "more than %d addresses",
                       BS_MAX_NODES);
    memcpy(ips[(*n)++], ip, sizeof(ip));
    return 0;
}

int bootstrap_parse_ips(const char *flag, const char *s,
                        char ips[][BS_IP_LEN], int *n, char *err)
{
    const char *p = s;

    while (*p == ' ')
        p++;
    if (*p == '\0')
        return err_set(err, ERR_INVAL, "-%s is empty: give the IP "
                       "addresses, like -%s 192.168.1.1,192.168.1.2,"
                       "192.168.1.3", flag, flag);
    for (;;) {
        size_t len = strcspn(p, ",");
        size_t t = len;

        while (t > 0 && p[t - 1] == ' ')
            t--;
        if (parse_one(flag, p, t, ips, n, err) != 0)
            return ERR_INVAL;
        if (p[len] == '\0')
            return 0;
        p += len + 1;
        while (*p == ' ')
            p++;
    }
}

/* ---- input checks --------------------------------------------------- */

/* Letters, digits and the extra characters allowed, first one alnum. */
static bool word_ok(const char *s, const char *extra, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max || !((*s >= 'a' && *s <= 'z') ||
                               (*s >= 'A' && *s <= 'Z') ||
                               (*s >= '0' && *s <= '9')))
        return false;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
            return false;
    return true;
}

static int check_path(const char *flag, const char *v, char *err)
{
    if (v[0] != '/')
        return err_set(err, ERR_INVAL, "-%s '%s' must be an absolute path",
                       flag, v);
    if (strpbrk(v, " \t\n\r\"';%") != NULL)
        return err_set(err, ERR_INVAL, "-%s '%s': choose a path without "
                       "spaces, quotes, ';' or '%%' (it goes into the "
                       "supervisor command line)", flag, v);
    return 0;
}

static int check_counts(const struct plan *p, char *err)
{
    int n = p->n_servers;

    if (n % 2 == 0)
        return err_set(err, ERR_INVAL, "%d servers cannot tolerate more "
                       "failures than %d: use %d or %d", n, n - 1, n - 1,
                       n + 1);
    if (n > 7)
        return err_set(err, ERR_INVAL, "%d servers slow every write down "
                       "(Raft replicates to each): use 3, 5 or 7 and make "
                       "the other hosts -clients", n);
    return 0;
}

static int check_names(const struct plan *p, char *err)
{
    if (!word_ok(p->dc, "-_", 64))
        return err_set(err, ERR_INVAL, "-datacenter '%s': use letters, "
                       "digits, '-' and '_' only, like dc1", p->dc);
    if (!word_ok(p->prefix, "-", NAME_LEN - 8))
        return err_set(err, ERR_INVAL, "-node-prefix '%s': use letters, "
                       "digits and '-' only (a DNS label), like n",
                       p->prefix);
    if (check_path("data-dir", p->data_dir, err) != 0 ||
        check_path("config-dir", p->config_dir, err) != 0 ||
        check_path("binary", p->binary, err) != 0)
        return ERR_INVAL;
    return 0;
}

/* The -out directory must be new or empty, unless -force. */
static int check_out(const struct plan *p, char *err)
{
    struct dirent *e;
    bool empty = true;
    DIR *d = opendir(p->out);

    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return err_set(err, ERR_IO, "-out '%s': %s", p->out,
                       strerror(errno));
    }
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty && !p->force)
        return err_set(err, ERR_INVAL, "-out '%s' is not empty: choose a "
                       "new directory, or add -force to overwrite the files "
                       "of these nodes", p->out);
    return 0;
}

/* ---- file contents -------------------------------------------------- */

static void emit_auth(FILE *f, const struct plan *p, const struct node *nd)
{
    fprintf(f, "// auth.hcl - ACLs of %s (%s) in datacenter \"%s\", "
            "written by\n// `consul bootstrap`. JSON syntax with // "
            "comments, as the reference\n// deployment has it.\n{\n"
            "  \"acl\": {\n"
            "    \"enabled\": true, // enable ACLs\n"
            "    \"default_policy\": \"deny\", // deny everything not "
            "explicitly allowed\n"
            "    \"enable_token_persistence\": true%s // tokens survive "
            "restarts\n", nd->name, nd->ip, p->dc, nd->server ? "," : "");
    if (nd->server)
        fprintf(f, "    \"tokens\": {\n"
                "      \"master\": \"%s\" // the cluster's management "
                "token, the same on every server\n    }\n", p->token);
    else
        fprintf(f, "    // a client holds no management token: once the "
                "cluster runs, give it\n    // an agent token with "
                "`consul acl set-agent-token agent <token>`\n");
    fprintf(f, "  }\n}\n");
}

static void emit_ha(FILE *f, const struct plan *p, const struct node *nd)
{
    fprintf(f, "# consulha.hcl - %s (%s), written by `consul bootstrap`.\n"
            "# retry_join names every server's -bind address.\n"
            "server = %s\nretry_join = [", nd->name, nd->ip,
            nd->server ? "true" : "false");
    for (int i = 0; i < p->n_servers; i++)
        fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", p->nodes[i].ip);
    fprintf(f, "]\n");
}

static void emit_ini(FILE *f, const struct plan *p, const struct node *nd)
{
    const char *slash = strrchr(p->binary, '/');
    int dlen = slash == p->binary ? 1 : (int)(slash - p->binary);

    fprintf(f, "; consul.ini - supervisor program of %s (%s), from\n"
            "; `consul bootstrap`. Install as "
            "/etc/supervisord.d/consul.ini, then: supervisorctl update\n"
            "[program:consul]\ncommand=%s agent%s -http-port=8500 "
            "-data-dir=%s -node=%s -bind=%s", nd->name, nd->ip, p->binary,
            nd->server ? " -server" : "", p->data_dir, nd->name, nd->ip);
    if (nd->server)
        fprintf(f, " -bootstrap-expect=%d", p->n_servers);
    fprintf(f, " -client=0.0.0.0 -datacenter=%s%s -config-dir=%s\n", p->dc,
            nd->server ? " -ui" : "", p->config_dir);
    fprintf(f, "process_name=%%(program_name)s\nnumprocs=1\n"
            "directory=%.*s\nautostart=true\nautorestart=true\n"
            "startsecs=5\nstartretries=3\nstopsignal=QUIT\nstopwaitsecs=5\n"
            "; no user=root (a security risk): create a user and add "
            "user=consul\nredirect_stderr=true\n"
            "stdout_logfile=/var/log/consul.log\n"
            "stdout_logfile_maxbytes=10MB\nstdout_logfile_backups=5\n",
            dlen, p->binary);
}

/* ---- writing -------------------------------------------------------- */

static int write_file(const char *path, mode_t mode, emit_fn emit,
                      const struct plan *p, const struct node *nd,
                      char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
    FILE *f;
    int bad;

    if (fd < 0)
        return err_set(err, ERR_IO, "writing '%s': %s", path,
                       strerror(errno));
    if (fchmod(fd, mode) != 0 || (f = fdopen(fd, "w")) == NULL) {
        err_set(err, ERR_IO, "writing '%s': %s", path, strerror(errno));
        close(fd);
        return ERR_IO;
    }
    if (emit != NULL)
        emit(f, p, nd);
    else
        fprintf(f, "%s\n", p->token);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return err_set(err, ERR_IO, "writing '%s': %s", path,
                       strerror(errno ? errno : EIO));
    return 0;
}

static int write_node(const struct plan *p, const struct node *nd,
                      char *err)
{
    char dir[4096], path[4200];

    snprintf(dir, sizeof(dir), "%s/%s/config", p->out, nd->name);
    if (util_mkdir_p(dir, 0700, err) != 0)
        return ERR_IO;
    snprintf(path, sizeof(path), "%s/auth.hcl", dir);
    if (write_file(path, 0600, emit_auth, p, nd, err) != 0)
        return ERR_IO;
    snprintf(path, sizeof(path), "%s/consulha.hcl", dir);
    if (write_file(path, 0644, emit_ha, p, nd, err) != 0)
        return ERR_IO;
    snprintf(path, sizeof(path), "%s/%s/consul.ini", p->out, nd->name);
    return write_file(path, 0644, emit_ini, p, nd, err);
}

static int write_all(const struct plan *p, char *err)
{
    char path[4200];

    if (util_mkdir_p(p->out, 0755, err) != 0)
        return ERR_IO;
    for (int i = 0; i < p->n; i++)
        if (write_node(p, &p->nodes[i], err) != 0)
            return ERR_IO;
    snprintf(path, sizeof(path), "%s/management.token", p->out);
    return write_file(path, 0600, NULL, p, NULL, err);
}

static void summary(const struct plan *p)
{
    printf("Wrote a %d-server cluster for datacenter \"%s\" to %s:\n",
           p->n_servers, p->dc, p->out);
    for (int i = 0; i < p->n; i++)
        printf("  %-8s %-15s %-6s  %s/%s/\n", p->nodes[i].name,
               p->nodes[i].ip, p->nodes[i].server ? "server" : "client",
               p->out, p->nodes[i].name);
    printf("Each node directory holds consul.ini and config/auth.hcl, "
           "config/consulha.hcl.\nThe management token is in "
           "%s/management.token (mode 0600), the same\nin every server's "
           "auth.hcl; it is not shown here.\n"
           "On each host: copy <node>/config/ to %s,\n"
           "<node>/consul.ini to /etc/supervisord.d/ and the binary to %s;\n"
           "open TCP 8300, 8301, 8302, 8500 and UDP 8301, 8302; then run\n"
           "  supervisorctl update && supervisorctl start consul\n"
           "Then check the cluster with\n"
           "  consul bootstrap check -http-addr=%s:8500 \\\n"
           "      -token-file=%s/management.token\n", p->out, p->config_dir,
           p->binary, p->nodes[0].ip, p->out);
}

/* ---- the command ---------------------------------------------------- */

static int make_plan(struct plan *p, const char *servers,
                     const char *clients, char *err)
{
    int rc;

    if (bootstrap_parse_ips("servers", servers, p->ips, &p->n, err) != 0)
        return ERR_INVAL;
    p->n_servers = p->n;
    if (clients != NULL &&
        bootstrap_parse_ips("clients", clients, p->ips, &p->n, err) != 0)
        return ERR_INVAL;
    if ((rc = check_counts(p, err)) != 0 || (rc = check_names(p, err)) != 0
        || (rc = check_out(p, err)) != 0)
        return rc;
    for (int i = 0; i < p->n; i++) {
        p->nodes[i].ip = p->ips[i];
        p->nodes[i].server = i < p->n_servers;
        snprintf(p->nodes[i].name, NAME_LEN, "%s%d", p->prefix, i + 1);
    }
    return util_uuid(p->token, err);
}

static int generate(int argc, char **argv)
{
    struct plan p = {.dc = "dc1", .prefix = "n",
                     .data_dir = "/data/data/consul/",
                     .config_dir = "/opt/app/consul/config/",
                     .binary = "/opt/app/consul/consul"};
    const char *servers = NULL, *clients = NULL;
    char err[ERR_LEN];
    struct opt o[] = {
        {.name = "servers", .type = OPT_STR, .dst = &servers,
         .arg = "<ip,...>", .help = "The servers' -bind addresses, comma "
         "separated; an odd number (3 or 5). Required."},
        {.name = "clients", .type = OPT_STR, .dst = &clients,
         .arg = "<ip,...>", .help = "Client agents' -bind addresses."},
        {.name = "datacenter", .type = OPT_STR, .dst = &p.dc,
         .arg = "<name>", .help = "Datacenter name (dc1)."},
        {.name = "out", .type = OPT_STR, .dst = &p.out, .arg = "<dir>",
         .help = "Directory to write to; new or empty. Required."},
        {.name = "force", .type = OPT_BOOL, .dst = &p.force,
         .help = "Write into a non-empty -out directory."},
        {.name = "node-prefix", .type = OPT_STR, .dst = &p.prefix,
         .arg = "<prefix>", .help = "Node names are <prefix>1..N (n)."},
        {.name = "data-dir", .type = OPT_STR, .dst = &p.data_dir,
         .arg = "<path>", .help = "The agents' -data-dir."},
        {.name = "config-dir", .type = OPT_STR, .dst = &p.config_dir,
         .arg = "<path>", .help = "Where config/ goes on each host."},
        {.name = "binary", .type = OPT_STR, .dst = &p.binary,
         .arg = "<path>", .help = "The agent binary on each host."},
    };
    int rest, rc = opt_parse_cli(o, (int)(sizeof(o) / sizeof(o[0])), argc,
                                 argv, synopsis, description, &rest);

    if (rc >= 0)
        return rc == 0 ? 0 : 2;
    if (rest < argc) {
        fprintf(stderr, "Unknown verb or extra argument '%s' (expected "
                "no arguments, or the verb \"check\")\n", argv[rest]);
        return 2;
    }
    if (servers == NULL || p.out == NULL || p.out[0] == '\0') {
        fprintf(stderr, "Missing %s: consul bootstrap -servers "
                "192.168.1.1,192.168.1.2,192.168.1.3 -out DIR\n",
                servers == NULL ? "-servers" : "-out");
        return 2;
    }
    if (make_plan(&p, servers, clients, err) != 0 ||
        write_all(&p, err) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    summary(&p);
    return 0;
}

int cmd_bootstrap(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return bootstrap_check(argc - 1, argv + 1);
    return generate(argc, argv);
}

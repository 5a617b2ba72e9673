/* operator.c - "consul operator raft|autopilot ...": cluster-level tools.
 *
 * Endpoints: GET /v1/operator/raft/configuration and
 *            GET /v1/operator/autopilot/health (raft list-peers; health
 *            alone for autopilot state), DELETE /v1/operator/raft/peer
 *            ?address=|?id=, POST /v1/operator/raft/transfer-leader[?id=],
 *            GET and PUT /v1/operator/autopilot/configuration[?cas=N].
 * "raft recover" is ours and offline: it reads <data-dir>/node-id and
 * <data-dir>/server-map.json (kept by the agent) and writes Consul's raft
 * v3 recovery file <data-dir>/raft/peers.json.
 * Output and messages follow Consul 1.17's command/operator/raft and
 * command/operator/autopilot (list-peers through ryanuber/columnize);
 * "autopilot state" prints Consul's pretty layout from the health
 * endpoint.
 * Exit codes: 0 ok (also "-h"); 1 transport or API error, CAS refused,
 * recovery refused or failed; 2 usage error (bad flag, missing or
 * conflicting arguments, missing or unknown verb).
 * Tests: t/t4900-operator-cli.sh
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

#define MAX_COLS 8
#define CELL 256

/* ---- shared helpers ------------------------------------------------- */

/* -h, flag parse, no positional arguments. Returns -1 to go on, else the
 * exit code: 0 after help, 2 on a usage error. */
static int parse(const char *synopsis, const char *desc,
                 const struct opt *opts, int n, int argc, char **argv)
{
    int rest, rc = opt_parse_cli(opts, n, argc, argv, synopsis, desc, &rest);

    if (rc >= 0)
        return rc == 0 ? 0 : 2;
    if (rest < argc) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n",
                argc - rest);
        return 2;
    }
    return -1;
}

/* Add the HTTP flags (opts has room for HTTPC_N_FLAGS more), parse,
 * connect. Returns -1 with c ready (httpc_release it), else the exit
 * code. */
static int http_verb(const char *synopsis, const char *desc,
                     struct opt *opts, int n, int argc, char **argv,
                     struct httpc *c)
{
    struct httpc_flags hf = {0};
    char err[ERR_LEN];
    int rc;

    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = parse(synopsis, desc, opts, n, argc, argv)) >= 0)
        return rc;
    if (httpc_init(c, &hf, err) == 0)
        return -1;
    fprintf(stderr, "Error initializing client: %s\n", err);
    return 1;
}

/* "key=<escaped val>" into q (ERR_LEN bytes); false when out of memory. */
static bool query1(char *q, const char *key, const char *val)
{
    char *esc = httpc_escape(val);

    if (esc == NULL) {
        fprintf(stderr, "out of memory\n");
        return false;
    }
    snprintf(q, ERR_LEN, "%s=%s", key, esc);
    free(esc);
    return true;
}

/* One request. On status 200 (or also_ok, 0 for none) returns 0 and, if
 * out is set, the decoded body (any JSON value); otherwise -1 with the
 * transport error or Consul's "Unexpected response code: N (body)". */
static int call(struct httpc *c, const char *method, const char *path,
                const char *query, const char *body, long also_ok,
                json_t **out, char *err)
{
    struct httpc_resp r;
    json_error_t je;
    int rc;

    if (httpc_do(c, method, path, query, body, body ? strlen(body) : 0, &r,
                 err) != 0)
        return -1;
    rc = 0;
    if (r.status != 200 && (also_ok == 0 || r.status != also_ok)) {
        httpc_format_status(&r, err, ERR_LEN);
        rc = -1;
    } else if (out != NULL) {
        *out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &je);
        if (*out == NULL) {
            snprintf(err, ERR_LEN, "invalid JSON from the agent: %s",
                     je.text);
            rc = -1;
        }
    }
    httpc_resp_release(&r);
    return rc;
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jbool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k)) ? "true" : "false";
}

/* Go's %q for the strings we print (UTF-8 passes through). */
static void print_quoted(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *e = *p != '\0' ? strchr("\n\t\r", *p) : NULL;

        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (e != NULL)
            printf("\\%c", "ntr"[e - "\n\t\r"]);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* A ReadableDuration field: a Go duration string, or nanoseconds. */
static void jduration(const json_t *o, const char *k, char *out, size_t n)
{
    const json_t *v = json_object_get(o, k);
    int64_t ms;

    if (json_is_integer(v))
        opt_format_duration(json_integer_value(v) / 1000000, out, n);
    else if (opt_parse_duration(jstr(o, k), false, &ms) == 0)
        opt_format_duration(ms, out, n);
    else
        snprintf(out, n, "%s", jstr(o, k));
}

/* ---- columnize (ryanuber/columnize defaults) ------------------------ */

struct row {
    char col[MAX_COLS][CELL];
    int n;
};

/* Columns joined by two spaces, left aligned; the last element of each
 * row unpadded, rows may be shorter than others. */
static void columnize(const struct row *rows, size_t nrows)
{
    size_t w[MAX_COLS] = {0};

    for (size_t i = 0; i < nrows; i++)
        for (int j = 0; j < rows[i].n; j++)
            if (strlen(rows[i].col[j]) > w[j])
                w[j] = strlen(rows[i].col[j]);
    for (size_t i = 0; i < nrows; i++) {
        for (int j = 0; j < rows[i].n - 1; j++)
            printf("%-*s  ", (int)w[j], rows[i].col[j]);
        if (rows[i].n > 0)
            printf("%s", rows[i].col[rows[i].n - 1]);
        putchar('\n');
    }
}

static void set_row(struct row *r, int n, const char *const *cols)
{
    r->n = n;
    for (int j = 0; j < n; j++)
        snprintf(r->col[j], CELL, "%s", cols[j]);
}

/* ---- raft list-peers ------------------------------------------------ */

static const json_t *health_of(const json_t *health, const char *id)
{
    const json_t *srv = json_object_get(health, "Servers"), *s;
    size_t i;

    json_array_foreach(srv, i, s)
        if (strcmp(jstr(s, "ID"), id) == 0)
            return s;
    return NULL;
}

/* The leader's LastIndex as autopilot reports it, 0 if unknown. */
static long long leader_index(const json_t *cfg, const json_t *health)
{
    const json_t *s, *h;
    size_t i;

    json_array_foreach(json_object_get(cfg, "Servers"), i, s) {
        if (json_is_true(json_object_get(s, "Leader")) &&
            (h = health_of(health, jstr(s, "ID"))) != NULL)
            return jint(h, "LastIndex");
    }
    return 0;
}

static void peer_row(struct row *r, const json_t *s, const json_t *health,
                     long long lead)
{
    const json_t *h = health_of(health, jstr(s, "ID"));
    const char *proto = jstr(s, "ProtocolVersion");
    bool leader = json_is_true(json_object_get(s, "Leader"));
    char idx[32] = "_", trail[48] = "_";
    long long by;
    const char *cols[MAX_COLS] = {
        jstr(s, "Node"), jstr(s, "ID"), jstr(s, "Address"),
        leader ? "leader" : "follower", jbool(s, "Voter"),
        proto[0] != '\0' ? proto : "<=1", idx, trail};

    if (h == NULL) { /* as Consul: "_" and no last column */
        set_row(r, 7, cols);
        return;
    }
    snprintf(idx, sizeof(idx), "%lld", jint(h, "LastIndex"));
    by = lead - jint(h, "LastIndex");
    if (by < 0)
        by = 0;
    if (!leader)
        snprintf(trail, sizeof(trail), "%lld Commit%s", by,
                 by <= 1 ? "" : "s");
    set_row(r, 8, cols);
}

static int print_peers(const json_t *cfg, const json_t *health)
{
    static const char *const hdr[MAX_COLS] = {
        "Node", "ID", "Address", "State", "Voter", "RaftProtocol",
        "Commit Index", "Trails Leader By"};
    const json_t *srv = json_object_get(cfg, "Servers"), *s;
    size_t n = json_array_size(srv), i;
    long long lead = leader_index(cfg, health);
    struct row *rows = calloc(n + 1, sizeof(*rows));

    if (rows == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    set_row(&rows[0], MAX_COLS, hdr);
    json_array_foreach(srv, i, s)
        peer_row(&rows[i + 1], s, health, lead);
    columnize(rows, n + 1);
    free(rows);
    return 0;
}

static int raft_list_peers(int argc, char **argv)
{
    struct opt opts[HTTPC_N_FLAGS];
    char err[ERR_LEN], herr[ERR_LEN];
    json_t *cfg = NULL, *health = NULL;
    struct httpc c;
    int rc;

    rc = http_verb("consul operator raft list-peers [options]",
                   "  Displays the current Raft peer configuration.", opts,
                   0, argc, argv, &c);
    if (rc >= 0)
        return rc;
    rc = call(&c, "GET", "/v1/operator/raft/configuration", NULL, NULL, 0,
              &cfg, err);
    if (rc == 0 && !json_is_array(json_object_get(cfg, "Servers"))) {
        snprintf(err, sizeof(err), "invalid JSON from the agent: no "
                 "\"Servers\" array");
        rc = -1;
    }
    /* 429 is autopilot's "unhealthy" and still carries the report; any
     * other failure leaves the last two columns as "_". */
    if (rc == 0 && call(&c, "GET", "/v1/operator/autopilot/health", NULL,
                        NULL, 429, &health, herr) != 0)
        health = NULL;
    httpc_release(&c);
    if (rc != 0)
        fprintf(stderr, "Error getting peers: Failed to retrieve raft "
                        "configuration: %s\n", err);
    else
        rc = print_peers(cfg, health);
    json_decref(cfg);
    json_decref(health);
    return rc != 0 ? 1 : 0;
}

/* ---- raft remove-peer / transfer-leader ----------------------------- */

static const char remove_help[] =
    "  Remove the Consul server with given -address from the Raft "
    "configuration.\n\n"
    "  There are rare cases where a peer may be left behind in the Raft "
    "quorum even\n"
    "  though the server is no longer present and known to the cluster. "
    "This command\n"
    "  can be used to remove the failed server so that it no longer affects "
    "the Raft\n"
    "  quorum. If the server still shows in the output of the \"consul "
    "members\" command,\n"
    "  it is preferable to clean up by simply running \"consul "
    "force-leave\" instead of\n"
    "  this command.";

static int raft_remove_peer(int argc, char **argv)
{
    const char *address = "", *id = "", *key, *val;
    struct opt opts[2 + HTTPC_N_FLAGS];
    char err[ERR_LEN], q[ERR_LEN];
    struct httpc c;
    int rc;

    opts[0] = (struct opt){.name = "address", .type = OPT_STR,
        .dst = &address, .arg = "<string>",
        .help = "The address to remove from the Raft configuration."};
    opts[1] = (struct opt){.name = "id", .type = OPT_STR, .dst = &id,
        .arg = "<string>",
        .help = "The ID to remove from the Raft configuration."};
    rc = http_verb("consul operator raft remove-peer [options]",
                   remove_help, opts, 2, argc, argv, &c);
    if (rc >= 0)
        return rc;
    key = address[0] != '\0' ? "address" : "id";
    val = address[0] != '\0' ? address : id;
    if ((address[0] == '\0') == (id[0] == '\0')) {
        fprintf(stderr, "Error removing peer: %s\n", address[0] == '\0'
                ? "an address or id is required for the peer to remove"
                : "cannot give both an address and id");
        rc = 2;
    } else if (!query1(q, key, val)) {
        rc = 1;
    } else if (call(&c, "DELETE", "/v1/operator/raft/peer", q, NULL, 0,
                    NULL, err) != 0) {
        fprintf(stderr, "Error removing peer: %s\n", err);
        rc = 1;
    } else {
        printf("Removed peer with %s ", key);
        print_quoted(val);
        putchar('\n');
        rc = 0;
    }
    httpc_release(&c);
    return rc;
}

static int raft_transfer_leader(int argc, char **argv)
{
    const char *id = "";
    struct opt opts[1 + HTTPC_N_FLAGS];
    char err[ERR_LEN], q[ERR_LEN] = "";
    json_t *resp = NULL;
    struct httpc c;
    int rc;

    opts[0] = (struct opt){.name = "id", .type = OPT_STR, .dst = &id,
        .arg = "<string>",
        .help = "The ID of the node to transfer leadership to. Without "
                "it, the leader picks a voter."};
    rc = http_verb("consul operator raft transfer-leader [options]",
                   "  Transfer raft leadership to another node.", opts, 1,
                   argc, argv, &c);
    if (rc >= 0)
        return rc;
    if (id[0] != '\0' && !query1(q, "id", id))
        rc = 1;
    else
        rc = call(&c, "POST", "/v1/operator/raft/transfer-leader",
                  q[0] != '\0' ? q : NULL, NULL, 0, &resp, err);
    httpc_release(&c);
    /* Consul's wording, typo and missing colon included. */
    if (rc < 0)
        fprintf(stderr, "Error transfering leadership: Failed to transfer "
                        "leadership %s\n", err);
    else if (rc == 0 && !json_is_true(json_object_get(resp, "Success")))
        fprintf(stderr, "Error transfering leadership: Failed to transfer "
                        "leadership\n");
    else if (rc == 0)
        printf("Success\n");
    rc = rc == 0 && json_is_true(json_object_get(resp, "Success")) ? 0 : 1;
    json_decref(resp);
    return rc;
}

/* ---- raft recover (offline) ----------------------------------------- */

struct server {
    const char *id, *node, *address; /* borrowed from the map */
    bool picked;
};

struct recovery {
    const char *dir;
    char node_id[64];
    json_t *map;
    struct server *srv;
    size_t n;
    long long index;
    struct server *self;
};

static int fail_recover(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* "Error recovering Raft configuration: <message>" on stderr; returns 1. */
static int fail_recover(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "Error recovering Raft configuration: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static bool uuid_ok(const char *s)
{
    static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (strlen(s) != sizeof(pat) - 1)
        return false;
    for (size_t i = 0; pat[i] != '\0'; i++)
        if (pat[i] == '-' ? s[i] != '-'
                          : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
            return false;
    return true;
}

/* The agent's lock: held means an agent runs on dir. *fd keeps it. */
static int take_lock(const struct recovery *rv, bool dry_run, int *fd)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/agent.lock", rv->dir);
    *fd = open(path, O_RDWR | O_CLOEXEC | (dry_run ? 0 : O_CREAT), 0600);
    if (*fd < 0 && errno == ENOENT && dry_run)
        return 0;
    if (*fd < 0)
        return fail_recover("cannot open '%s': %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    if (errno == EWOULDBLOCK)
        return fail_recover("an agent is running on %s; stop it first",
                            rv->dir);
    return fail_recover("cannot lock '%s': %s", path, strerror(errno));
}

static int read_node_id(struct recovery *rv)
{
    char path[4200], buf[64] = "";
    FILE *f;

    snprintf(path, sizeof(path), "%s/node-id", rv->dir);
    if ((f = fopen(path, "r")) == NULL)
        return fail_recover("cannot read '%s': %s (is this a server's "
                            "data directory?)", path, strerror(errno));
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, " \t\r\n")] = '\0';
    if (!uuid_ok(buf))
        return fail_recover("%s:1: not a node id (UUID): '%s'", path, buf);
    snprintf(rv->node_id, sizeof(rv->node_id), "%s", buf);
    return 0;
}

/* One "Servers" entry; 0 or the exit code after the message. */
static int map_entry(struct recovery *rv, const char *path, size_t i,
                     const json_t *s)
{
    struct server *sv = &rv->srv[i];
    char what[64];

    snprintf(what, sizeof(what), "Servers[%zu]", i);
    if (!json_is_object(s))
        return fail_recover("%s: %s is not an object", path, what);
    sv->id = jstr(s, "ID");
    sv->node = jstr(s, "Node");
    sv->address = jstr(s, "Address");
    if (sv->id[0] == '\0')
        return fail_recover("%s: %s has no \"ID\"", path, what);
    if (strchr(sv->address, ':') == NULL)
        return fail_recover("%s: %s has no \"Address\" (ip:port)", path,
                            what);
    for (size_t j = 0; j < i; j++)
        if (strcmp(rv->srv[j].id, sv->id) == 0)
            return fail_recover("%s: ID '%s' appears twice", path, sv->id);
    if (strcmp(sv->id, rv->node_id) == 0)
        rv->self = sv;
    return 0;
}

static int read_map(struct recovery *rv)
{
    char path[4200];
    json_error_t je;
    const json_t *servers;

    snprintf(path, sizeof(path), "%s/server-map.json", rv->dir);
    rv->map = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (rv->map == NULL && access(path, F_OK) != 0)
        return fail_recover("cannot read '%s': %s (has this server ever "
                            "been part of a Raft cluster?)", path,
                            strerror(errno));
    if (rv->map == NULL) {
        fprintf(stderr, "Error recovering Raft configuration: %s:%d:%d: "
                "%s\n", path, je.line, je.column, je.text);
        return 1;
    }
    servers = json_object_get(rv->map, "Servers");
    if (!json_is_array(servers) || json_array_size(servers) == 0)
        return fail_recover("%s: no \"Servers\" array with at least one "
                            "server", path);
    rv->index = jint(rv->map, "Index");
    rv->n = json_array_size(servers);
    if ((rv->srv = calloc(rv->n, sizeof(*rv->srv))) == NULL)
        return fail_recover("out of memory");
    for (size_t i = 0; i < rv->n; i++)
        if (map_entry(rv, path, i, json_array_get(servers, i)) != 0)
            return 1;
    if (rv->self == NULL)
        return fail_recover("this server (node id %s) is not in %s",
                            rv->node_id, path);
    return 0;
}

/* A -servers word: node name, node ID or address ("ip" alone matches
 * "ip:port" when only one server has that ip). */
static struct server *resolve(const struct recovery *rv, const char *w)
{
    struct server *hit = NULL;
    size_t wl = strlen(w);
    int hits = 0;

    for (size_t i = 0; i < rv->n; i++) {
        struct server *s = &rv->srv[i];
        if (strcmp(s->node, w) == 0 || strcmp(s->id, w) == 0 ||
            strcmp(s->address, w) == 0)
            return s;
        if (strncmp(s->address, w, wl) == 0 && s->address[wl] == ':')
            hit = s, hits++;
    }
    return hits == 1 ? hit : NULL;
}

static int pick_servers(struct recovery *rv, const struct opt_list *l)
{
    char word[512];

    rv->self->picked = true;
    if (l->n == 0)
        return 0;
    rv->self->picked = false;
    for (int i = 0; i < l->n; i++) {
        for (const char *p = l->items[i]; *p != '\0';) {
            size_t len = strcspn(p, ",");
            struct server *s;
            snprintf(word, sizeof(word), "%.*s", (int)len, p);
            p += len + (p[len] == ',');
            if (word[strspn(word, " ")] == '\0')
                continue;
            if ((s = resolve(rv, word + strspn(word, " "))) == NULL)
                return fail_recover("unknown server '%s': not a node name, "
                                    "ID or address in %s/server-map.json",
                                    word + strspn(word, " "), rv->dir);
            s->picked = true;
        }
    }
    if (!rv->self->picked)
        return fail_recover("this server ('%s', %s) must be one of "
                            "-servers: it is the one that restarts first",
                            rv->self->node, rv->self->id);
    return 0;
}

/* Consul's raft v3 peers.json, two-space indented. */
static char *peers_json(const struct recovery *rv)
{
    json_t *arr = json_array(), *o;
    char *s;

    for (size_t i = 0; arr != NULL && i < rv->n; i++) {
        if (!rv->srv[i].picked)
            continue;
        o = json_pack("{s:s, s:s, s:b}", "id", rv->srv[i].id, "address",
                      rv->srv[i].address, "non_voter", 0);
        json_array_append_new(arr, o); /* steals o */
    }
    s = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(arr);
    return s;
}

/* tmp file + fsync + rename + fsync of the directory. */
static int write_peers(const struct recovery *rv, const char *json)
{
    char dir[4200], tmp[4300], dst[4300];
    int fd, dfd;

    snprintf(dir, sizeof(dir), "%s/raft", rv->dir);
    snprintf(dst, sizeof(dst), "%s/peers.json", dir);
    snprintf(tmp, sizeof(tmp), "%s/.peers.json.%ld.tmp", dir, (long)getpid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail_recover("cannot create '%s': %s", dir, strerror(errno));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_recover("cannot create '%s': %s", tmp, strerror(errno));
    if (fchmod(fd, 0600) != 0 || dprintf(fd, "%s\n", json) < 0 ||
        fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return fail_recover("cannot write '%s': %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, dst) != 0) {
        int e = errno;
        unlink(tmp);
        return fail_recover("cannot rename to '%s': %s", dst, strerror(e));
    }
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static const char *label(const struct server *s)
{
    return s->node[0] != '\0' ? s->node : s->id;
}

/* The kept (or dropped) servers' names but this one, comma separated;
 * how many. */
static size_t list_servers(const struct recovery *rv, bool picked)
{
    size_t k = 0;

    for (size_t i = 0; i < rv->n; i++) {
        if (rv->srv[i].picked != picked || &rv->srv[i] == rv->self)
            continue;
        printf("%s%s", k++ > 0 ? ", " : "", label(&rv->srv[i]));
    }
    return k;
}

static void print_procedure(const struct recovery *rv)
{
    int step = 2;

    printf("\nNext steps:\n"
           "  1. Start this server (%s) first. It reads raft/peers.json, "
           "makes the\n"
           "     listed servers its whole Raft configuration, deletes the "
           "file, and\n"
           "     becomes their leader once a majority of them is up (at "
           "once when it\n"
           "     is the only one).\n", label(rv->self));
    printf("  %d. Other listed servers: ", step);
    if (list_servers(rv, true) > 0) {
        printf("\n     Stop each, write the same file there (run this "
               "command with the same\n     -servers, or copy this "
               "peers.json to its <data-dir>/raft/), start it.\n");
        printf("  %d. Servers not listed: ", ++step);
    } else {
        printf("none.\n  %d. Servers not listed: ", ++step);
    }
    if (list_servers(rv, false) == 0) {
        printf("none.\n");
        return;
    }
    printf("\n     Remove their <data-dir>/raft before they start again, so "
           "they rejoin\n     as new members: their Raft log may hold "
           "entries the recovered cluster\n     never committed, or lack "
           "ones it commits from now on, and a stale log\n     cannot be "
           "merged safely.\n");
}

static void print_recovery(const struct recovery *rv, const char *json,
                           bool dry_run)
{
    size_t k = 0;

    for (size_t i = 0; i < rv->n; i++)
        k += rv->srv[i].picked;
    if (dry_run)
        printf("Dry run: nothing written. %s/raft/peers.json would be:\n",
               rv->dir);
    else
        printf("Wrote %s/raft/peers.json:\n", rv->dir);
    printf("%s\n\nKeeping %zu of the %zu servers of the Raft configuration "
           "at index %lld.\n", json, k, rv->n, rv->index);
    print_procedure(rv);
}

static int recover_run(struct recovery *rv, const struct opt_list *servers,
                       bool dry_run)
{
    struct stat st;
    char *json;
    int fd = -1, rc;

    if (stat(rv->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail_recover("'%s' is not a directory", rv->dir);
    rc = take_lock(rv, dry_run, &fd);
    if (rc == 0)
        rc = read_node_id(rv);
    if (rc == 0)
        rc = read_map(rv);
    if (rc == 0)
        rc = pick_servers(rv, servers);
    if (rc == 0 && (json = peers_json(rv)) == NULL)
        rc = fail_recover("out of memory");
    if (rc == 0) {
        rc = dry_run ? 0 : write_peers(rv, json);
        if (rc == 0)
            print_recovery(rv, json, dry_run);
        free(json);
    }
    if (fd >= 0)
        close(fd); /* releases the lock */
    return rc;
}

static int raft_recover(int argc, char **argv)
{
    const char *dir = "";
    struct opt_list servers = {NULL, 0};
    bool dry_run = false;
    struct recovery rv;
    struct opt opts[3];
    int n = 0, rc;

    opts[n++] = (struct opt){.name = "data-dir", .type = OPT_STR,
        .dst = &dir, .arg = "<path>", .help = "Data directory of the "
        "stopped server to recover (required)."};
    opts[n++] = (struct opt){.name = "dry-run", .type = OPT_BOOL,
        .dst = &dry_run, .help = "Print the peers.json that would be "
        "written, and write nothing."};
    opts[n++] = (struct opt){.name = "servers", .type = OPT_STRLIST,
        .dst = &servers, .arg = "<list>", .help = "Comma-separated "
        "servers to keep, as node names, node IDs or addresses from the "
        "last known Raft configuration; repeatable. Must include this "
        "server. Default: this server alone."};
    rc = parse("consul operator raft recover -data-dir=<path> "
               "[-servers=<list>] [-dry-run]",
               "  Offline recovery of a cluster that lost its quorum "
               "(Proconsul only).\n\n"
               "  With this server's agent stopped, writes "
               "<data-dir>/raft/peers.json (Consul's\n"
               "  raft v3 recovery file) listing the servers to keep, "
               "taken from the last\n"
               "  Raft configuration this server saw "
               "(<data-dir>/server-map.json). Start this\n"
               "  server first; servers left out must have their "
               "<data-dir>/raft removed\n"
               "  before they start again. See proconsul-operator(1).",
               opts, n, argc, argv);
    if (rc < 0 && dir[0] == '\0') {
        fprintf(stderr, "Error recovering Raft configuration: -data-dir is "
                        "required\n");
        rc = 2;
    }
    if (rc >= 0) {
        opt_release(opts, n);
        return rc;
    }
    memset(&rv, 0, sizeof(rv));
    rv.dir = dir;
    rc = recover_run(&rv, &servers, dry_run);
    free(rv.srv);
    json_decref(rv.map);
    opt_release(opts, n);
    return rc;
}

/* ---- autopilot get-config / set-config ------------------------------ */

static void print_autopilot(const json_t *c)
{
    char d[64];

    printf("CleanupDeadServers = %s\n", jbool(c, "CleanupDeadServers"));
    jduration(c, "LastContactThreshold", d, sizeof(d));
    printf("LastContactThreshold = %s\n", d);
    printf("MaxTrailingLogs = %lld\n", jint(c, "MaxTrailingLogs"));
    printf("MinQuorum = %lld\n", jint(c, "MinQuorum"));
    jduration(c, "ServerStabilizationTime", d, sizeof(d));
    printf("ServerStabilizationTime = %s\n", d);
    printf("RedundancyZoneTag = ");
    print_quoted(jstr(c, "RedundancyZoneTag"));
    printf("\nDisableUpgradeMigration = %s\n",
           jbool(c, "DisableUpgradeMigration"));
    printf("UpgradeVersionTag = ");
    print_quoted(jstr(c, "UpgradeVersionTag"));
    putchar('\n');
}

static int autopilot_get(int argc, char **argv)
{
    struct opt opts[HTTPC_N_FLAGS];
    char err[ERR_LEN];
    json_t *conf = NULL;
    struct httpc c;
    int rc;

    rc = http_verb("consul operator autopilot get-config [options]",
                   "  Displays the current Autopilot configuration.", opts,
                   0, argc, argv, &c);
    if (rc >= 0)
        return rc;
    rc = call(&c, "GET", "/v1/operator/autopilot/configuration", NULL, NULL,
              0, &conf, err);
    httpc_release(&c);
    if (rc != 0) {
        fprintf(stderr, "Error querying Autopilot configuration: %s\n", err);
        return 1;
    }
    print_autopilot(conf);
    json_decref(conf);
    return 0;
}

struct ap_flags {
    bool cleanup;
    uint64_t trailing, quorum;
    int64_t contact_ms, stabilization_ms;
    bool seen[5];
};

static int dur_flag(void *ctx, const char *name, const char *val, char *err)
{
    if (opt_parse_duration(val, false, ctx) == 0)
        return 0;
    return err_set(err, ERR_INVAL, "invalid value \"%s\" for flag -%s: "
                   "time: invalid duration \"%s\"", val, name, val);
}

static void set_dur(json_t *conf, const char *k, int64_t ms)
{
    char d[64];

    opt_format_duration(ms, d, sizeof(d));
    json_object_set_new(conf, k, json_string(d)); /* steals */
}

/* Consul's Merge: only the flags given change the fetched config. */
static void merge_flags(json_t *conf, const struct ap_flags *f)
{
    if (f->seen[0])
        json_object_set_new(conf, "CleanupDeadServers",
                            json_boolean(f->cleanup));
    if (f->seen[1])
        json_object_set_new(conf, "MaxTrailingLogs",
                            json_integer((json_int_t)f->trailing));
    if (f->seen[2])
        json_object_set_new(conf, "MinQuorum",
                            json_integer((json_int_t)f->quorum));
    if (f->seen[3])
        set_dur(conf, "LastContactThreshold", f->contact_ms);
    if (f->seen[4])
        set_dur(conf, "ServerStabilizationTime", f->stabilization_ms);
}

/* The CE flags of Consul's set-config (the Enterprise-only ones,
 * -redundancy-zone-tag, -disable-upgrade-migration and
 * -upgrade-version-tag, are left out). */
static void set_flags(struct opt *opts, int *n, struct ap_flags *f)
{
#define F(nm, t, d, i, h) opts[(*n)++] = (struct opt){.name = nm, \
    .type = t, .dst = d, .seen = &f->seen[i], .help = h, \
    .fn = t == OPT_FUNC ? dur_flag : NULL}
    F("cleanup-dead-servers", OPT_BOOL, &f->cleanup, 0,
      "Controls whether Consul will automatically remove dead servers "
      "when new ones are successfully added. Must be one of `true|false`.");
    F("max-trailing-logs", OPT_UINT64, &f->trailing, 1,
      "Controls the maximum number of log entries that a server can trail "
      "the leader by before being considered unhealthy.");
    F("min-quorum", OPT_UINT64, &f->quorum, 2,
      "Sets the minimum number of servers required in a cluster before "
      "autopilot is allowed to prune dead servers.");
    F("last-contact-threshold", OPT_FUNC, &f->contact_ms, 3,
      "Controls the maximum amount of time a server can go without contact "
      "from the leader before being considered unhealthy. Must be a "
      "duration value such as `200ms`.");
    F("server-stabilization-time", OPT_FUNC, &f->stabilization_ms, 4,
      "Controls the minimum amount of time a server must be stable in the "
      "'healthy' state before being added to the cluster. Only takes "
      "effect if all servers are running Raft protocol version 3 or "
      "higher. Must be a duration value such as `10s`.");
#undef F
}

/* GET, merge, PUT ?cas=ModifyIndex; the exit code. */
static int cas_config(struct httpc *c, const struct ap_flags *f)
{
    char err[ERR_LEN], q[48];
    json_t *conf = NULL, *ok = NULL;
    char *body;
    int rc;

    if (call(c, "GET", "/v1/operator/autopilot/configuration", NULL, NULL,
             0, &conf, err) != 0 || !json_is_object(conf)) {
        if (conf != NULL)
            snprintf(err, sizeof(err), "invalid JSON from the agent");
        fprintf(stderr, "Error querying Autopilot configuration: %s\n", err);
        json_decref(conf);
        return 1;
    }
    merge_flags(conf, f);
    snprintf(q, sizeof(q), "cas=%lld", jint(conf, "ModifyIndex"));
    body = json_dumps(conf, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(conf);
    if (body == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    rc = call(c, "PUT", "/v1/operator/autopilot/configuration", q, body, 0,
              &ok, err);
    free(body);
    if (rc != 0) {
        fprintf(stderr, "Error setting Autopilot configuration: %s\n", err);
        return 1;
    }
    rc = json_is_true(ok) ? 0 : 1;
    json_decref(ok);
    printf("%s\n", rc == 0 ? "Configuration updated!"
                           : "Configuration could not be atomically "
                             "updated, please try again");
    return rc;
}

static int autopilot_set(int argc, char **argv)
{
    struct ap_flags f = {0};
    struct opt opts[5 + HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rc;

    set_flags(opts, &n, &f);
    rc = http_verb("consul operator autopilot set-config [options]",
                   "  Modifies the current Autopilot configuration.", opts,
                   n, argc, argv, &c);
    if (rc >= 0)
        return rc;
    rc = cas_config(&c, &f);
    httpc_release(&c);
    return rc;
}

/* ---- autopilot state ------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(jstr(*(json_t *const *)a, "ID"),
                  jstr(*(json_t *const *)b, "ID"));
}

static void print_server(const json_t *s)
{
    const char *status = json_is_true(json_object_get(s, "Leader"))
                             ? "leader"
                             : json_is_true(json_object_get(s, "Voter"))
                                   ? "voter"
                                   : "non-voter";
    char d[64];

    jduration(s, "LastContact", d, sizeof(d));
    printf("   %s\n", jstr(s, "ID"));
    printf("      Name:            %s\n", jstr(s, "Name"));
    printf("      Address:         %s\n", jstr(s, "Address"));
    printf("      Version:         %s\n", jstr(s, "Version"));
    printf("      Status:          %s\n", status);
    printf("      Node Status:     %s\n", jstr(s, "SerfStatus"));
    printf("      Healthy:         %s\n", jbool(s, "Healthy"));
    printf("      Last Contact:    %s\n", d);
    printf("      Last Term:       %lld\n", jint(s, "LastTerm"));
    printf("      Last Index:      %lld\n", jint(s, "LastIndex"));
    if (jstr(s, "StableSince")[0] != '\0')
        printf("      Stable Since:    %s\n", jstr(s, "StableSince"));
}

/* Consul's "pretty" layout, servers sorted by ID. */
static int print_state(const json_t *h)
{
    const json_t *srv = json_object_get(h, "Servers");
    size_t n = json_array_size(srv);
    json_t **v = calloc(n + 1, sizeof(*v));
    const char *leader = "";

    if (v == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = json_array_get(srv, i);
        if (json_is_true(json_object_get(v[i], "Leader")))
            leader = jstr(v[i], "ID");
    }
    qsort(v, n, sizeof(*v), cmp_id);
    printf("Healthy:                      %s\n", jbool(h, "Healthy"));
    printf("Failure Tolerance:            %lld\n",
           jint(h, "FailureTolerance"));
    printf("Leader:                       %s\nVoters:\n", leader);
    for (size_t i = 0; i < n; i++)
        if (json_is_true(json_object_get(v[i], "Voter")))
            printf("   %s\n", jstr(v[i], "ID"));
    printf("Servers:\n");
    for (size_t i = 0; i < n; i++)
        print_server(v[i]);
    free(v);
    return 0;
}

static int autopilot_state(int argc, char **argv)
{
    const char *format = "pretty";
    struct opt opts[1 + HTTPC_N_FLAGS];
    char err[ERR_LEN], *s;
    json_t *h = NULL;
    struct httpc c;
    int rc;

    opts[0] = (struct opt){.name = "format", .type = OPT_STR,
        .dst = &format, .arg = "<string>",
        .help = "Output format {pretty|json}"};
    rc = http_verb("consul operator autopilot state [options]",
                   "  Displays the current Autopilot state: overall health, "
                   "failure tolerance,\n  and the health of each server.",
                   opts, 1, argc, argv, &c);
    if (rc >= 0)
        return rc;
    rc = -1;
    if (strcmp(format, "pretty") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "Unknown format: %s\n", format);
        rc = 2;
    } else if (call(&c, "GET", "/v1/operator/autopilot/health", NULL, NULL,
                    429, &h, err) != 0) { /* 429: unhealthy, a report */
        fprintf(stderr, "Error querying Autopilot state: %s\n", err);
        rc = 1;
    }
    httpc_release(&c);
    if (rc > 0)
        return rc;
    if (strcmp(format, "json") == 0) {
        s = json_dumps(h, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        rc = s != NULL ? (printf("%s\n", s), 0) : 1;
        free(s);
    } else {
        rc = print_state(h);
    }
    json_decref(h);
    return rc;
}

/* ---- verb tables ---------------------------------------------------- */


static const struct opt_verb raft_verbs[] = {
    {"list-peers", raft_list_peers,
     "Display the current Raft peer configuration"},
    {"recover", raft_recover,
     "Write a peers.json recovery configuration (offline)"},
    {"remove-peer", raft_remove_peer,
     "Remove a Consul server from the Raft configuration"},
    {"transfer-leader", raft_transfer_leader,
     "Transfer raft leadership to another node"},
};

static const struct opt_verb autopilot_verbs[] = {
    {"get-config", autopilot_get,
     "Display the current Autopilot configuration"},
    {"set-config", autopilot_set,
     "Modify the current Autopilot configuration"},
    {"state", autopilot_state, "Display the current Autopilot state"},
};

static const struct opt_group raft_group = {
    "consul operator raft <subcommand> [options]",
    "  The Raft operator command is used to interact with Consul's Raft "
    "subsystem. The\n"
    "  command can be used to verify Raft peers or in rare cases to recover "
    "quorum by\n"
    "  removing invalid peers.",
    raft_verbs, (int)(sizeof(raft_verbs) / sizeof(raft_verbs[0])), 2, true};

static const struct opt_group autopilot_group = {
    "consul operator autopilot <subcommand> [options]",
    "  The Autopilot operator command is used to interact with Consul's "
    "Autopilot\n"
    "  subsystem. The command can be used to view or modify the current "
    "configuration.",
    autopilot_verbs,
    (int)(sizeof(autopilot_verbs) / sizeof(autopilot_verbs[0])), 2, true};

static int run_raft(int argc, char **argv)
{
    return opt_group_run(&raft_group, argc, argv);
}

static int run_autopilot(int argc, char **argv)
{
    return opt_group_run(&autopilot_group, argc, argv);
}

static const struct opt_verb operator_verbs[] = {
    {"autopilot", run_autopilot,
     "Provides tools for modifying Autopilot configuration"},
    {"raft", run_raft, "Provides cluster-level tools for Consul operators"},
};

static const struct opt_group operator_group = {
    "consul operator <subcommand> [options]",
    "  Provides cluster-level tools for Consul operators, such as "
    "interacting with\n"
    "  the Raft subsystem. NOTE: Use this command with extreme caution, as "
    "improper\n"
    "  use could lead to a Consul outage and even loss of data.\n\n"
    "  If ACLs are enabled then a token with operator privileges may be "
    "required in\n"
    "  order to use this command. Requests are forwarded internally to the "
    "leader\n"
    "  if required, so this can be run from any Consul node in a cluster.\n\n"
    "  Run consul operator <subcommand> with no arguments for help on that\n"
    "  subcommand.",
    operator_verbs,
    (int)(sizeof(operator_verbs) / sizeof(operator_verbs[0])), 2, true};

int cmd_operator(int argc, char **argv)
{
    return opt_group_run(&operator_group, argc, argv);
}

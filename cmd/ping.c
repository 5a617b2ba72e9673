/* ping.c - "consul ping": can this host reach every agent's ports?
 * (ours; Consul has none: the runbook's `ping -I` checks only ICMP)
 *
 * Endpoint: GET /v1/agent/members on the local agent, unless hosts are
 * given. For every member not "left" (or every host given) it probes,
 * from this host and optionally from the -I source address: TCP 8300
 * (servers: RPC and Raft), TCP 8301 and UDP 8301 (LAN gossip; UDP is a
 * real memberlist ping that must be acked), TCP 8302 (servers: WAN
 * gossip, reported but never a failure: only federation needs it) and
 * HTTP 8500 (GET /v1/status/leader; required on servers). The ports are
 * the members' own (Port, Tags.port) when the agent knows them. Prints
 * a matrix, then one actionable line per problem.
 * Exit codes: 0 every required port answers (also "-h"); 1 a required
 * port failed, or the agent cannot be asked for its members; 2 usage
 * error (bad flag, bad -I or -timeout, unknown host).
 * Tests: t/t7002-bootstrap-ping.sh, t/t7005-ping-netns.sh
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"
#include "ping_cli.h"

#define MAX_TARGETS 512
#define CELL 24

enum col { C_RPC, C_LAN, C_UDP, C_WAN, C_HTTP, NCOL };

struct target {
    char ip[INET6_ADDRSTRLEN];
    char name[130];
    char hostport[INET6_ADDRSTRLEN + 8];
    bool server;
    bool member;          /* from /v1/agent/members: name is its node */
    int port[NCOL];
    int probe[NCOL];      /* index in the probe array, -1: not probed */
};

struct run {
    struct target t[MAX_TARGETS];
    size_t n;
    struct ping_probe *p;
    size_t np;
    int http_port;
    const char *token;
};

static const char synopsis[] = "consul ping [options] [host ...]";
static const char description[] =
    "  Probes, from this host, the ports of every member the local agent\n"
    "  knows (or of the hosts given): TCP 8300 (servers), TCP and UDP\n"
    "  8301 (UDP: a memberlist ping), TCP 8302 (servers; not required)\n"
    "  and HTTP 8500. Prints a host x port matrix and one line per\n"
    "  problem; exits 1 when a required port fails.";

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

static bool col_needed(const struct target *t, int c)
{
    return c == C_LAN || c == C_UDP || ((c == C_RPC || c == C_HTTP) &&
                                        t->server);
}

static void set_ports(struct target *t, int lan, int rpc, int http)
{
    t->port[C_RPC] = rpc > 0 && rpc < 65536 ? rpc : 8300;
    t->port[C_LAN] = t->port[C_UDP] = lan > 0 && lan < 65536 ? lan : 8301;
    t->port[C_WAN] = 8302;
    t->port[C_HTTP] = http;
    snprintf(t->hostport, sizeof(t->hostport), strchr(t->ip, ':') ?
             "[%s]:%d" : "%s:%d", t->ip, http);
}

/* ---- targets -------------------------------------------------------- */

static int cmp_target(const void *x, const void *y)
{
    const struct target *a = x, *b = y;

    if (a->server != b->server)
        return a->server ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void add_member(struct run *r, const json_t *m)
{
    const json_t *tags = json_object_get(m, "Tags");
    struct target *t;

    if (r->n >= MAX_TARGETS ||
        json_integer_value(json_object_get(m, "Status")) == 3) /* left */
        return;
    t = &r->t[r->n++];
    snprintf(t->ip, sizeof(t->ip), "%s", jstr(m, "Addr"));
    snprintf(t->name, sizeof(t->name), "%s", jstr(m, "Name"));
    t->server = strcmp(jstr(tags, "role"), "consul") == 0;
    t->member = true;
    set_ports(t, (int)json_integer_value(json_object_get(m, "Port")),
              atoi(jstr(tags, "port")), r->http_port);
}

static int from_members(struct run *r, struct httpc *c)
{
    char err[ERR_LEN];
    struct httpc_resp resp;
    json_error_t je;
    json_t *arr, *m;
    size_t i;

    if (httpc_do(c, "GET", "/v1/agent/members", NULL, NULL, 0, &resp,
                 err) != 0) {
        fprintf(stderr, "Error retrieving members: %s (give hosts to "
                "probe, or -http-addr of a running agent)\n", err);
        return 1;
    }
    if (resp.status != 200) {
        httpc_format_status(&resp, err, sizeof(err));
        fprintf(stderr, "Error retrieving members: %s\n", err);
        httpc_resp_release(&resp);
        return 1;
    }
    arr = json_loadb(resp.body, resp.len, 0, &je);
    httpc_resp_release(&resp);
    json_array_foreach(arr, i, m)
        add_member(r, m);
    json_decref(arr);
    qsort(r->t, r->n, sizeof(r->t[0]), cmp_target);
    return 0;
}

static int from_hosts(struct run *r, int argc, char **argv)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int rc;

    for (int i = 0; i < argc && r->n < MAX_TARGETS; i++) {
        struct target *t = &r->t[r->n++];

        if ((rc = getaddrinfo(argv[i], NULL, &hints, &ai)) != 0) {
            fprintf(stderr, "Error: host '%s': %s\n", argv[i],
                    gai_strerror(rc));
            return 2;
        }
        getnameinfo(ai->ai_addr, ai->ai_addrlen, t->ip, sizeof(t->ip),
                    NULL, 0, NI_NUMERICHOST);
        freeaddrinfo(ai);
        snprintf(t->name, sizeof(t->name), "%s", argv[i]);
        t->server = true;
        set_ports(t, 0, 0, r->http_port);
    }
    return 0;
}

/* ---- probes --------------------------------------------------------- */

static bool sockaddr_of(const char *ip, int port,
                        struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof(*a4);
        return true;
    }
    if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return true;
    }
    return false;
}

static int build_probes(struct run *r)
{
    static const enum ping_kind kinds[NCOL] = {PING_TCP, PING_TCP, PING_UDP,
                                               PING_TCP, PING_HTTP};

    r->p = calloc(r->n * NCOL + 1, sizeof(*r->p));
    if (r->p == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        struct target *t = &r->t[i];

        for (int c = 0; c < NCOL; c++) {
            struct ping_probe *p = &r->p[r->np];

            t->probe[c] = -1;
            if (!t->server && (c == C_RPC || c == C_WAN))
                continue;
            if (!sockaddr_of(t->ip, t->port[c], &p->to, &p->to_len))
                continue;
            p->kind = kinds[c];
            p->node = t->member ? t->name : "";
            p->host = t->hostport;
            p->token = r->token;
            t->probe[c] = (int)r->np++;
        }
    }
    return 0;
}

/* ---- output --------------------------------------------------------- */

static void cell(const struct run *r, const struct target *t, int c,
                 char *out)
{
    const struct ping_probe *p;

    if (t->probe[c] < 0) {
        snprintf(out, CELL, "-");
        return;
    }
    p = &r->p[t->probe[c]];
    switch (p->res) {
    case PING_OK:
        snprintf(out, CELL, p->rtt_ms < 10 ? "ok %.1fms" : "ok %.0fms",
                 p->rtt_ms);
        break;
    case PING_REFUSED:
        snprintf(out, CELL, "refused");
        break;
    case PING_TIMEOUT:
        snprintf(out, CELL, "timeout");
        break;
    default:
        snprintf(out, CELL, "%.*s", CELL - 1, p->detail);
    }
}

#define MCOLS (3 + NCOL)

/* Row i of the matrix (0 is the header) into row[MCOLS][CELL]. */
static void matrix_row(const struct run *r, size_t i, char row[][CELL])
{
    static const char *const kind[NCOL] = {"TCP", "TCP", "UDP", "TCP",
                                           "HTTP"};
    static const int std[NCOL] = {8300, 8301, 8301, 8302, 0};
    const struct target *t = i > 0 ? &r->t[i - 1] : NULL;

    if (t == NULL) {
        snprintf(row[0], CELL, "Node");
        snprintf(row[1], CELL, "Address");
        snprintf(row[2], CELL, "Role");
        for (int c = 0; c < NCOL; c++)
            snprintf(row[3 + c], CELL, "%s %d", kind[c],
                     std[c] ? std[c] : r->http_port);
        return;
    }
    snprintf(row[0], CELL, "%.*s", CELL - 1, t->name);
    snprintf(row[1], CELL, "%.*s", CELL - 1, t->ip);
    snprintf(row[2], CELL, "%s",
             !t->member ? "host" : t->server ? "server" : "client");
    for (int c = 0; c < NCOL; c++)
        cell(r, t, c, row[3 + c]);
}

/* Columns joined by two spaces, left aligned, the last one bare. */
static void matrix(const struct run *r)
{
    char (*rows)[MCOLS][CELL] = calloc(r->n + 1, sizeof(*rows));
    size_t w[MCOLS] = {0};

    if (rows == NULL)
        return;
    for (size_t i = 0; i <= r->n; i++) {
        matrix_row(r, i, rows[i]);
        for (int c = 0; c < MCOLS; c++)
            if (strlen(rows[i][c]) > w[c])
                w[c] = strlen(rows[i][c]);
    }
    for (size_t i = 0; i <= r->n; i++) {
        for (int c = 0; c < MCOLS - 1; c++)
            printf("%-*s  ", (int)w[c], rows[i][c]);
        printf("%s\n", rows[i][MCOLS - 1]);
    }
    free(rows);
}

/* What the failure of column c means, and what to do about it. */
static const char *advice(int c, enum ping_result res, int port, char *buf,
                          size_t n)
{
    bool to = res == PING_TIMEOUT;

    switch (c) {
    case C_RPC:
        snprintf(buf, n, to ? "the server RPC port is filtered; Raft "
                 "cannot replicate; open TCP %d" : "the server RPC port is "
                 "closed; Raft cannot replicate (agent down, or not "
                 "-server?)", port);
        break;
    case C_LAN:
        snprintf(buf, n, to ? "joins and push/pull sync fail; open TCP %d"
                 : "nothing listens for LAN gossip; joins fail (agent "
                 "down, or another -bind?)", port);
        break;
    case C_UDP:
        snprintf(buf, n, "gossip will flap%s; open UDP %d",
                 to ? "" : " (members marked failed)", port);
        break;
    case C_WAN:
        snprintf(buf, n, "WAN gossip is closed; only multi-datacenter "
                 "federation needs it (not a failure)");
        break;
    default:
        snprintf(buf, n, to ? "open TCP %d for the API and the UI" :
                 "the API is not served on this address; set -client="
                 "0.0.0.0 (or this IP) and check -http-port", port);
    }
    return buf;
}

static int problems(const struct run *r)
{
    static const char *const kind[NCOL] = {"TCP", "TCP", "UDP", "TCP",
                                           "HTTP"};
    int failed = 0, shown = 0;
    char buf[256];

    for (size_t i = 0; i < r->n; i++) {
        const struct target *t = &r->t[i];

        for (int c = 0; c < NCOL; c++) {
            const struct ping_probe *p;

            if (t->probe[c] < 0 || (p = &r->p[t->probe[c]])->res == PING_OK)
                continue;
            if (shown++ == 0)
                putchar('\n');
            failed += col_needed(t, c);
            printf("%s %d to %s %s: %s\n", kind[c], t->port[c], t->ip,
                   p->res == PING_REFUSED ? "refused" :
                   p->res == PING_TIMEOUT ? "timed out" : p->detail,
                   advice(c, p->res, t->port[c], buf, sizeof(buf)));
        }
    }
    if (r->n == 0)
        printf("no members to probe\n");
    return failed > 0 ? 1 : 0;
}

/* ---- the command ---------------------------------------------------- */

/* -I must be an address of this host: one a socket can be bound to. */
static int parse_source(const char *src, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    int fd, ok;

    if (src == NULL)
        return 0;
    ok = sockaddr_of(src, 0, ss, len);
    if (ok) {
        fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && bind(fd, (struct sockaddr *)ss, *len) == 0;
        if (fd >= 0)
            close(fd);
    }
    if (!ok) {
        fprintf(stderr, "Error: -I '%s' is not an IP address of this "
                "host\n", src);
        return 2;
    }
    return 0;
}

static int probe_all(struct run *r, const char *src, int timeout_ms)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    char err[ERR_LEN];
    int rc;

    if ((rc = parse_source(src, &ss, &sl)) != 0)
        return rc;
    if (build_probes(r) != 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (ping_run(r->p, r->np, src ? &ss : NULL, sl, timeout_ms, err) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    if (src != NULL)
        printf("From %s:\n", src);
    matrix(r);
    return problems(r);
}

int cmd_ping(int argc, char **argv)
{
    struct run *r = calloc(1, sizeof(*r));
    const char *src = NULL, *timeout = "1s";
    struct httpc_flags hf = {0};
    struct opt o[3 + HTTPC_N_FLAGS];
    int n = 0, rest, rc;
    char err[ERR_LEN];
    struct httpc c;
    int64_t ms;

    if (r == NULL)
        return 1;
    r->http_port = 8500;
    o[n++] = (struct opt){.name = "I", .type = OPT_STR, .dst = &src,
        .arg = "<source-ip>", .help = "Send every probe from this local "
        "address (like ping -I)."};
    o[n++] = (struct opt){.name = "timeout", .type = OPT_STR,
        .dst = &timeout, .arg = "<duration>", .help = "Limit for each "
        "probe (1s)."};
    o[n++] = (struct opt){.name = "http-port", .type = OPT_INT,
        .dst = &r->http_port, .arg = "<port>", .help = "HTTP API port to "
        "probe (8500)."};
    httpc_add_flags(o, &n, &hf, false);
    httpc_add_tls_flags(o, &n, &hf);
    rc = opt_parse_cli(o, n, argc, argv, synopsis, description, &rest);
    if (rc < 0 && (opt_parse_duration(timeout, false, &ms) != 0 || ms <= 0
                   || ms > 600000 || r->http_port <= 0 ||
                   r->http_port > 65535)) {
        fprintf(stderr, "Error: bad -timeout or -http-port\n");
        rc = 1;
    }
    if (rc >= 0) {
        free(r);
        return rc == 0 ? 0 : 2;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        free(r);
        return 1;
    }
    r->token = c.token;
    rc = rest < argc ? from_hosts(r, argc - rest, argv + rest)
                     : from_members(r, &c);
    if (rc == 0)
        rc = probe_all(r, src, (int)ms);
    httpc_release(&c);
    free(r->p);
    free(r);
    return rc;
}

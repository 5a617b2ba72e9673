/* bootstrap_check.c - "consul bootstrap check": is a running cluster what
 * "consul bootstrap" meant it to be? (ours; Consul has none)
 *
 * Endpoints: GET /v1/operator/raft/configuration on the agent of
 * -http-addr (falling back to GET /v1/status/peers), then on every
 * server, at <ip>:<-http-port>: GET /v1/status/leader and
 * GET /v1/agent/self (Stats.raft commit_index and applied_index,
 * Stats.consul leader).
 * Prints one line per check: "ok|FAIL servers|leader|indexes: ...".
 * Exit codes: 0 every check passed (also "-h"); 1 the agent cannot be
 * reached or refuses (bad token); 2 usage error; 3 an expected server is
 * missing, not a voter or does not answer; 4 no leader, several, or the
 * servers disagree on it; 5 the Raft indexes diverge beyond
 * -index-tolerance. When several checks fail, the first one's code.
 * Tests: t/t7002-bootstrap-ping.sh
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bootstrap_cli.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

struct srv {
    char ip[BS_IP_LEN];
    char node[128];
    bool in_cfg, voter, expected, reached, is_leader, has_idx, has_self;
    char leader[128];
    long long commit, applied;
    char why[160];
};

struct check {
    struct srv s[BS_MAX_NODES];
    int n, expect, port, tol, timeout_ms;
    const char *scheme;
    const struct httpc_flags *hf;
};

static const char synopsis[] = "consul bootstrap check [options]";
static const char description[] =
    "  Checks a running cluster: every expected server is a Raft voter and\n"
    "  answers, there is exactly one leader that every server agrees on,\n"
    "  and the servers' Raft indexes agree. One line per check, \"ok\" or\n"
    "  \"FAIL\". Exit codes: 0 all ok, 1 cannot reach the agent, 3 a server\n"
    "  is missing or not a voter, 4 no leader or disagreement, 5 indexes\n"
    "  diverge.";

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

/* A Stats value: Consul sends strings ("42"), accept numbers too. */
static bool jnum(const json_t *o, const char *k, long long *out)
{
    const json_t *v = json_object_get(o, k);
    char *end;

    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    *out = strtoll(json_string_value(v), &end, 10);
    return end != json_string_value(v) && *end == '\0';
}

static int get_json(struct httpc *c, const char *path, json_t **out,
                    char *err)
{
    struct httpc_resp r;
    json_error_t je;

    if (httpc_do(c, "GET", path, NULL, NULL, 0, &r, err) != 0)
        return ERR_IO;
    if (r.status != 200) {
        httpc_format_status(&r, err, ERR_LEN);
        httpc_resp_release(&r);
        return ERR_INVAL;
    }
    *out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &je);
    httpc_resp_release(&r);
    if (*out == NULL)
        return err_set(err, ERR_PARSE, "invalid JSON from %s", path);
    return 0;
}

static struct srv *find_or_add(struct check *k, const char *ip)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->s[i].ip, ip) == 0)
            return &k->s[i];
    if (k->n >= BS_MAX_NODES)
        return NULL;
    memset(&k->s[k->n], 0, sizeof(k->s[0]));
    snprintf(k->s[k->n].ip, BS_IP_LEN, "%s", ip);
    return &k->s[k->n++];
}

/* "ip:port" or "[ip6]:port" -> ip. */
static void host_of(const char *addr, char *ip, size_t n)
{
    const char *colon = strrchr(addr, ':');
    size_t len = colon != NULL ? (size_t)(colon - addr) : strlen(addr);

    if (addr[0] == '[' && len >= 2) {
        addr++;
        len -= 2;
    }
    snprintf(ip, n, "%.*s", (int)len, addr);
}

static void add_peer(struct check *k, const char *addr, const char *node,
                     bool voter)
{
    char ip[BS_IP_LEN];
    struct srv *s;

    host_of(addr, ip, sizeof(ip));
    if ((s = find_or_add(k, ip)) == NULL)
        return;
    s->in_cfg = true;
    s->voter = voter;
    snprintf(s->node, sizeof(s->node), "%s", node);
}

/* The Raft configuration as the agent knows it. Returns 0, or the exit
 * code 1 with the reason printed. */
static int read_config(struct check *k, struct httpc *c)
{
    char err[ERR_LEN], err2[ERR_LEN];
    json_t *j = NULL, *v;
    size_t i;
    int rc = get_json(c, "/v1/operator/raft/configuration", &j, err);

    if (rc == 0) {
        json_array_foreach(json_object_get(j, "Servers"), i, v)
            add_peer(k, jstr(v, "Address"), jstr(v, "Node"),
                     json_is_true(json_object_get(v, "Voter")));
        json_decref(j);
        return 0;
    }
    if (rc != ERR_IO && get_json(c, "/v1/status/peers", &j, err2) == 0) {
        json_array_foreach(j, i, v)
            add_peer(k, json_string_value(v) ? json_string_value(v) : "",
                     "", true);
        json_decref(j);
        return 0;
    }
    fprintf(stderr, "Error: cannot read the Raft configuration from the "
            "agent at %s: %s%s\n", c->host != NULL ? c->host : c->base, err,
            strstr(err, "403") != NULL ? " (give a token with operator:read"
            ": -token or -token-file)" : "");
    return 1;
}

/* ---- per server ----------------------------------------------------- */

/* Bounded TCP connect, so that a dead host costs -timeout, not the
 * kernel's connect timeout, before libcurl tries it. */
static bool port_open(const char *ip, int port, int timeout_ms, char *why,
                      size_t n)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST}, *ai;
    char ps[16];
    int fd, e = 0, rc;
    socklen_t el = sizeof(e);
    struct pollfd pf;

    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(ip, ps, &hints, &ai) != 0) {
        snprintf(why, n, "bad address");
        return false;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc != 0 && fd >= 0 && errno == EINPROGRESS) {
        pf = (struct pollfd){.fd = fd, .events = POLLOUT};
        rc = poll(&pf, 1, timeout_ms);
        if (rc == 0)
            e = ETIMEDOUT;
        else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el))
            e = errno;
    } else if (rc != 0) {
        e = errno;
    }
    if (fd >= 0)
        close(fd);
    if (e != 0)
        snprintf(why, n, "does not answer on port %d (%s)", port,
                 e == ETIMEDOUT ? "timeout" : strerror(e));
    return e == 0;
}

static void read_self(struct srv *s, const json_t *self)
{
    const json_t *stats = json_object_get(self, "Stats");
    const json_t *raft = json_object_get(stats, "raft");
    const json_t *consul = json_object_get(stats, "consul");

    s->has_self = json_is_object(consul);
    s->is_leader = strcmp(jstr(consul, "leader"), "true") == 0;
    s->has_idx = jnum(raft, "commit_index", &s->commit) &&
                 jnum(raft, "applied_index", &s->applied);
}

static void probe_server(struct check *k, struct srv *s)
{
    struct httpc_flags f = *k->hf;
    char addr[BS_IP_LEN + 32], err[ERR_LEN];
    struct httpc c;
    json_t *j = NULL;

    if (!port_open(s->ip, k->port, k->timeout_ms, s->why, sizeof(s->why)))
        return;
    snprintf(addr, sizeof(addr), strchr(s->ip, ':') ? "%s[%s]:%d"
             : "%s%s:%d", k->scheme, s->ip, k->port);
    f.http_addr = addr;
    if (httpc_init(&c, &f, err) != 0) {
        snprintf(s->why, sizeof(s->why), "%.120s", err);
        return;
    }
    if (get_json(&c, "/v1/status/leader", &j, err) == 0) {
        s->reached = true;
        snprintf(s->leader, sizeof(s->leader), "%s",
                 json_string_value(j) ? json_string_value(j) : "");
        json_decref(j);
        if (get_json(&c, "/v1/agent/self", &j, err) == 0) {
            read_self(s, j);
            json_decref(j);
        }
    } else {
        snprintf(s->why, sizeof(s->why), "HTTP: %.120s", err);
    }
    httpc_release(&c);
}

/* ---- the three checks ----------------------------------------------- */

static void append(char *buf, size_t n, const char *fmt, const char *a,
                   const char *b)
{
    size_t used = strlen(buf);

    if (used > 0 && used < n - 2)
        snprintf(buf + used, n - used, "; ");
    used = strlen(buf);
    snprintf(buf + used, n - used, fmt, a, b);
}

static bool check_servers(const struct check *k)
{
    char bad[1024] = "", cnt[32];
    int voters = 0, ok = 0;

    for (int i = 0; i < k->n; i++) {
        const struct srv *s = &k->s[i];

        voters += s->voter;
        if (!s->in_cfg)
            append(bad, sizeof(bad), "%s is not in the Raft configuration"
                   "%s: start it and check retry_join", s->ip, "");
        else if (!s->voter)
            append(bad, sizeof(bad), "%s is not a voter%s", s->ip, "");
        else if (!s->reached)
            append(bad, sizeof(bad), "%s %s", s->ip, s->why);
        else
            ok++;
    }
    if (voters != k->expect) {
        snprintf(cnt, sizeof(cnt), "%d", voters);
        append(bad, sizeof(bad), "%s voters in the Raft configuration%s",
               cnt, ", not as many as expected");
    }
    if (bad[0] != '\0')
        printf("FAIL servers: %s\n", bad);
    else
        printf("ok servers: %d of %d expected servers are voters and "
               "answer\n", ok, k->expect);
    return bad[0] == '\0';
}

static bool check_leader(const struct check *k)
{
    const char *common = NULL;
    int leaders = 0, reached = 0, selfs = 0;
    bool agree = true;

    for (int i = 0; i < k->n; i++) {
        if (!k->s[i].reached)
            continue;
        reached++;
        selfs += k->s[i].has_self;
        leaders += k->s[i].is_leader;
        if (common == NULL)
            common = k->s[i].leader;
        else if (strcmp(common, k->s[i].leader) != 0)
            agree = false;
    }
    if (reached == 0)
        printf("FAIL leader: no server answered\n");
    else if (!agree)
        printf("FAIL leader: the servers name different leaders (see "
               "/v1/status/leader on each): a partition or an election\n");
    else if (common[0] == '\0')
        printf("FAIL leader: no leader: fewer than a majority of the "
               "servers can reach each other\n");
    else if (selfs > 0 && leaders != 1)
        printf("FAIL leader: %d servers say they lead\n", leaders);
    else
        printf("ok leader: %s, agreed by %d server%s\n", common, reached,
               reached == 1 ? "" : "s");
    return reached > 0 && agree && common[0] != '\0' &&
           (selfs == 0 || leaders == 1);
}

static bool check_indexes(const struct check *k)
{
    long long cmin = -1, cmax = -1, lag = 0;
    const char *worst = "";

    for (int i = 0; i < k->n; i++) {
        const struct srv *s = &k->s[i];

        if (!s->reached || !s->has_idx)
            continue;
        if (cmin < 0 || s->commit < cmin)
            cmin = s->commit;
        if (s->commit > cmax)
            cmax = s->commit;
        if (s->commit - s->applied > lag) {
            lag = s->commit - s->applied;
            worst = s->ip;
        }
    }
    if (cmin < 0) {
        printf("FAIL indexes: no server reported its Raft indexes "
               "(Stats.raft in /v1/agent/self: give a token with "
               "agent:read)\n");
        return false;
    }
    if (cmax - cmin > k->tol || lag > k->tol) {
        printf("FAIL indexes: commit index %lld..%lld, %s applies %lld "
               "behind (tolerance %d): a server is not replicating\n", cmin,
               cmax, worst[0] ? worst : "none", lag, k->tol);
        return false;
    }
    printf("ok indexes: commit index %lld..%lld, applied within %lld "
           "(tolerance %d)\n", cmin, cmax, lag, k->tol);
    return true;
}

/* ---- the verb ------------------------------------------------------- */

static int run(struct check *k, const char *servers, struct httpc *c)
{
    char ips[BS_MAX_NODES][BS_IP_LEN], err[ERR_LEN];
    int n = 0, rc, code;

    if (servers != NULL &&
        bootstrap_parse_ips("servers", servers, ips, &n, err) != 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 2;
    }
    if ((rc = read_config(k, c)) != 0)
        return rc;
    for (int i = 0; i < n; i++) {
        struct srv *s = find_or_add(k, ips[i]);

        if (s != NULL)
            s->expected = true;
    }
    if (k->expect <= 0)
        k->expect = n > 0 ? n : k->n;
    for (int i = 0; i < k->n; i++)
        probe_server(k, &k->s[i]);
    code = check_servers(k) ? 0 : 3;
    if (!check_leader(k) && code == 0)
        code = 4;
    if (!check_indexes(k) && code == 0)
        code = 5;
    return code;
}

int bootstrap_check(int argc, char **argv)
{
    struct check k = {.port = 8500, .tol = 5};
    struct httpc_flags hf = {0};
    const char *servers = NULL, *timeout = "2s";
    struct opt o[5 + HTTPC_N_FLAGS] = {
        {.name = "servers", .type = OPT_STR, .dst = &servers,
         .arg = "<ip,...>", .help = "The servers that must be voters "
         "(default: those of the Raft configuration)."},
        {.name = "expect", .type = OPT_INT, .dst = &k.expect, .arg = "<n>",
         .help = "How many voters there must be (default: as many as "
         "-servers, else the Raft configuration's)."},
        {.name = "index-tolerance", .type = OPT_INT, .dst = &k.tol,
         .arg = "<n>", .help = "How far Raft indexes may differ (5)."},
        {.name = "timeout", .type = OPT_STR, .dst = &timeout,
         .arg = "<duration>", .help = "Connect timeout per server (2s)."},
        {.name = "http-port", .type = OPT_INT, .dst = &k.port,
         .arg = "<port>", .help = "The servers' HTTP port (8500)."},
    };
    int n = 5, rest, rc;
    int64_t ms;
    struct httpc c;
    char err[ERR_LEN];

    httpc_add_flags(o, &n, &hf, false);
    httpc_add_tls_flags(o, &n, &hf);
    rc = opt_parse_cli(o, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc == 0 ? 0 : 2;
    if (rest < argc || opt_parse_duration(timeout, false, &ms) != 0 ||
        ms <= 0 || k.tol < 0 || k.port <= 0 || k.port > 65535) {
        fprintf(stderr, "Usage: %s\n", synopsis);
        return 2;
    }
    k.timeout_ms = (int)(ms > 600000 ? 600000 : ms);
    k.hf = &hf;
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    k.scheme = strncmp(c.base, "https://", 8) == 0 ? "https://" : "http://";
    rc = run(&k, servers, &c);
    httpc_release(&c);
    return rc;
}

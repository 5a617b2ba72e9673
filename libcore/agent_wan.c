/* agent_wan.c - the WAN gossip pool of a server: every server of every
 * datacenter, named "<node>.<dc>", on ports.serf_wan (8302).
 *
 * Layer: agent (uses util, codec, replication). Thread: loop only.
 * Owns: the second gossip instance (a->wan), its retry-join timer and
 * its snapshot <data-dir>/serf/remote.snapshot.
 * Tests: t/unit/check_agent_wan.c, t/t9001-multidc.sh
 *
 * The pool is a plain gossip object like the LAN one, with memberlist's
 * DefaultWANConfig timings (gossip_wan in the config; TCP timeout 30 s,
 * gossip to the dead 60 s). Client agents do not join it. It answers
 * three questions: which datacenters exist (/v1/catalog/datacenters),
 * which server of another datacenter a ?dc= request goes to, and how
 * far each datacenter is. Consul estimates distance from Vivaldi network
 * coordinates; we use the smoothed round-trip time of our own direct
 * WAN probes of each server (gossip_member_rtt_us): a datacenter's
 * distance is the median over its alive servers we have measured.
 */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define WAN_TCP_TIMEOUT_MS 30000
#define WAN_GOSSIP_TO_DEAD_MS 60000
#define WAN_MAX_SRV 1024

/* ---- pure helpers (unit-tested) ---- */

bool agent_wan_split(const char *name, char *node, size_t nn, char *dc,
                     size_t dn)
{
    const char *dot = strrchr(name, '.');
    size_t nl;

    if (dot == NULL || dot == name || dot[1] == '\0')
        return false;
    nl = (size_t)(dot - name);
    if (nl >= nn || strlen(dot + 1) >= dn)
        return false;
    memcpy(node, name, nl);
    node[nl] = '\0';
    snprintf(dc, dn, "%s", dot + 1);
    return true;
}

static const char *sort_local;

static int dc_cmp(const void *x, const void *y)
{
    const struct agent_dc *a = x, *b = y;
    bool la = strcmp(a->name, sort_local) == 0;
    bool lb = strcmp(b->name, sort_local) == 0;

    if (la != lb)
        return la ? -1 : 1;
    if (a->rtt_us != b->rtt_us)
        return a->rtt_us < b->rtt_us ? -1 : 1;
    return strcmp(a->name, b->name);
}

void agent_dc_sort(struct agent_dc *d, size_t n, const char *local)
{
    sort_local = local != NULL ? local : "";
    qsort(d, n, sizeof(*d), dc_cmp);
}

int agent_wan_choose(const struct agent_wan_srv *s, size_t n, const char *dc,
                     const char *avoid, unsigned rnd, bool *known)
{
    size_t alive = 0, k;
    int fallback = -1;

    *known = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].dc, dc) != 0)
            continue;
        *known = true;
        if (!s[i].alive)
            continue;
        if (avoid != NULL && strcmp(s[i].addr, avoid) == 0)
            fallback = (int)i;
        else
            alive++;
    }
    if (alive == 0)
        return fallback;
    k = rnd % alive;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].dc, dc) != 0 || !s[i].alive ||
            (avoid != NULL && strcmp(s[i].addr, avoid) == 0))
            continue;
        if (k-- == 0)
            return (int)i;
    }
    return fallback; /* not reached */
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

size_t agent_dc_list(const struct agent_wan_srv *s, size_t n,
                     const char *local, struct agent_dc *out, size_t max)
{
    size_t nd = 0;
    uint64_t *rtts = malloc((n > 0 ? n : 1) * sizeof(*rtts));

    if (local != NULL && local[0] != '\0' && max > 0) {
        snprintf(out[0].name, sizeof(out[0].name), "%s", local);
        out[0].rtt_us = 0;
        nd = 1;
    }
    for (size_t i = 0; i < n && nd < max; i++) {
        size_t j, nr = 0;

        for (j = 0; j < nd && strcmp(out[j].name, s[i].dc) != 0; j++)
            ;
        if (j < nd)
            continue;
        snprintf(out[nd].name, sizeof(out[nd].name), "%s", s[i].dc);
        for (size_t k = i; rtts != NULL && k < n; k++)
            if (strcmp(s[k].dc, s[i].dc) == 0 && s[k].alive &&
                s[k].rtt_us > 0)
                rtts[nr++] = s[k].rtt_us;
        if (nr > 0) {
            qsort(rtts, nr, sizeof(*rtts), u64_cmp);
            out[nd].rtt_us = rtts[nr / 2];
        } else {
            out[nd].rtt_us = UINT64_MAX; /* never measured */
        }
        nd++;
    }
    free(rtts);
    agent_dc_sort(out, nd, local);
    return nd;
}

/* ---- the pool's servers ---- */

struct collect {
    struct agent *a;
    struct agent_wan_srv *s;
    size_t n, cap;
};

static void add_srv(void *ctx, const struct gossip_member *m)
{
    struct collect *c = ctx;
    const char *dc = gossip_member_tag(m, "dc");
    const char *port = gossip_member_tag(m, "port");
    const char *role = gossip_member_tag(m, "role");
    char node[GOSSIP_NAME_MAX + 1], ndc[AGENT_DC_MAX + 1];
    struct agent_wan_srv *w;

    if (role == NULL || strcmp(role, "consul") != 0 || c->n >= WAN_MAX_SRV)
        return;
    if (dc == NULL) {
        if (!agent_wan_split(m->name, node, sizeof(node), ndc, sizeof(ndc)))
            return;
        dc = ndc;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct agent_wan_srv *ns = realloc(c->s, cap * sizeof(*ns));

        if (ns == NULL)
            return;
        c->s = ns;
        c->cap = cap;
    }
    w = &c->s[c->n++];
    memset(w, 0, sizeof(*w));
    snprintf(w->dc, sizeof(w->dc), "%s", dc);
    snprintf(w->addr, sizeof(w->addr),
             strchr(m->addr, ':') ? "[%s]:%s" : "%s:%s", m->addr,
             port != NULL ? port : "8300");
    w->alive = m->status == GOSSIP_ALIVE;
    w->rtt_us = gossip_member_rtt_us(c->a->wan, m->name);
}

/* Every server of the pool; *out is malloc'd (NULL when none). */
static size_t wan_servers(struct agent *a, struct agent_wan_srv **out)
{
    struct collect c = {a, NULL, 0, 0};

    if (a->wan != NULL)
        gossip_members(a->wan, add_srv, &c);
    *out = c.s;
    return c.n;
}

size_t agent_wan_dcs(struct agent *a, struct agent_dc *out, size_t max)
{
    struct agent_wan_srv *s;
    size_t n = wan_servers(a, &s), nd;

    nd = agent_dc_list(s, n, a->cfg.datacenter, out, max);
    free(s);
    return nd;
}

int agent_wan_pick(struct agent *a, const char *dc, const char *avoid,
                   char *addr, size_t len)
{
    struct agent_wan_srv *s;
    size_t n = wan_servers(a, &s);
    bool known;
    int i = agent_wan_choose(s, n, dc, avoid, (unsigned)rand(), &known);
    int rc = 0;

    if (i >= 0)
        snprintf(addr, len, "%s", s[i].addr);
    else
        rc = known ? ERR_UNREACHABLE : ERR_NOTFOUND;
    free(s);
    return rc;
}

/* ---- lifecycle ---- */

static void wan_try_join(struct agent *a);

static void on_wan_retry(uv_timer_t *t)
{
    wan_try_join(t->data);
}

static void wan_join_done(void *ctx, int n_joined,
                          const struct gossip_join_result *res, size_t n)
{
    struct agent *a = ctx;

    if (a->stopping || a->wan == NULL)
        return;
    if (n_joined > 0) {
        a->wan_joined = true;
        LOG_INFO("agent", "Join cluster completed. Synced with %d initial "
                          "agents: cluster=WAN", n_joined);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (res[i].rc != 0)
            LOG_WARN("agent", "WAN join attempt %lld: %s",
                     (long long)a->wan_join_attempts,
                     res[i].err != NULL ? res[i].err : err_str(res[i].rc));
    LOG_WARN("agent", "Join cluster failed, will retry: cluster=WAN "
                      "retry_interval=%lldms",
             (long long)a->cfg.retry_interval_wan_ms);
    uv_timer_start(&a->wan_timer, on_wan_retry,
                   a->cfg.retry_interval_wan_ms > 0
                       ? (uint64_t)a->cfg.retry_interval_wan_ms : 30000,
                   0);
}

static void wan_try_join(struct agent *a)
{
    char err[ERR_LEN];

    if (a->wan == NULL || a->stopping || a->wan_joined)
        return;
    a->wan_join_attempts++;
    LOG_INFO("agent", "Joining cluster... cluster=WAN attempt %lld",
             (long long)a->wan_join_attempts);
    if (gossip_join(a->wan, (const char *const *)a->cfg.retry_join_wan,
                    (size_t)a->cfg.n_retry_join_wan, wan_join_done, a,
                    err) != 0) {
        LOG_WARN("agent", "WAN join: %s", err);
        uv_timer_start(&a->wan_timer, on_wan_retry,
                       a->cfg.retry_interval_wan_ms > 0
                           ? (uint64_t)a->cfg.retry_interval_wan_ms : 30000,
                       0);
    }
}

static void wan_timing(const struct cfg_gossip *c, struct gossip_timing *t)
{
    t->tcp_timeout = WAN_TCP_TIMEOUT_MS;
    t->gossip_to_dead = WAN_GOSSIP_TO_DEAD_MS;
    if (c->gossip_interval_ms > 0)
        t->gossip_interval = (unsigned)c->gossip_interval_ms;
    if (c->probe_interval_ms > 0)
        t->probe_interval = (unsigned)c->probe_interval_ms;
    if (c->probe_timeout_ms > 0)
        t->probe_timeout = (unsigned)c->probe_timeout_ms;
    if (c->gossip_nodes > 0)
        t->gossip_nodes = (unsigned)c->gossip_nodes;
    if (c->retransmit_mult > 0)
        t->retransmit_mult = (unsigned)c->retransmit_mult;
    if (c->suspicion_mult > 0)
        t->suspicion_mult = (unsigned)c->suspicion_mult;
    if (c->push_pull_interval_ms > 0)
        t->push_pull_interval = (unsigned)c->push_pull_interval_ms;
}

static int wan_new(struct agent *a, char *err)
{
    struct gossip_opts o;
    struct gossip_tagset ts;
    struct gossip_consul_info ci;
    char snap[4200], name[GOSSIP_NAME_MAX + 1];
    int rc;

    if ((size_t)snprintf(name, sizeof(name), "%s.%s", a->cfg.node_name,
                         a->cfg.datacenter) >= sizeof(name))
        return err_set(err, ERR_INVAL, "WAN member name '%s.%s' is too long",
                       a->cfg.node_name, a->cfg.datacenter);
    agent_consul_info(a, &ci);
    ci.server = true;
    gossip_tagset_init(&ts);
    if ((rc = gossip_tagset_consul(&ts, &ci, err)) != 0)
        return rc;
    gossip_opts_init(&o);
    o.node_name = name;
    o.node_id = a->node_id;
    o.bind_addr = a->cfg.bind_addr != NULL ? a->cfg.bind_addr : "0.0.0.0";
    o.port = (uint16_t)a->cfg.ports.serf_wan;
    o.advertise_addr = a->cfg.advertise_addr_wan != NULL
                           ? a->cfg.advertise_addr_wan : a->advertise;
    o.tags = ts.tags;
    o.n_tags = ts.n;
    wan_timing(&a->cfg.gossip_wan, &o.timing);
    snprintf(snap, sizeof(snap), "%s/serf/remote.snapshot", a->data_dir);
    o.snapshot_path = a->cfg.dev ? NULL : snap;
    o.rejoin_after_leave = a->cfg.rejoin_after_leave;
    o.any_dc = true;
    a->wan = gossip_new(a->loop, &o, err);
    if (a->wan == NULL)
        return ERR_INVAL;
    return gossip_start(a->wan, err);
}

int agent_wan_start(struct agent *a, char *err)
{
    if (!a->cfg.server || a->cfg.ports.serf_wan <= 0)
        return 0;
    uv_timer_init(a->loop, &a->wan_timer);
    a->wan_timer.data = a;
    a->wan_timer_on = true;
    if (wan_new(a, err) != 0) {
        err_prefix(err, "starting WAN gossip");
        return ERR_IO;
    }
    LOG_INFO("agent", "Started WAN gossip on %s:%d as '%s.%s'",
             a->cfg.bind_addr, a->cfg.ports.serf_wan, a->cfg.node_name,
             a->cfg.datacenter);
    if (a->cfg.n_retry_join_wan > 0)
        wan_try_join(a);
    return 0;
}

static void wan_timer_closed(uv_handle_t *h)
{
    struct agent *a = h->data;

    a->wan_done(a);
}

static void wan_closed(void *ctx)
{
    struct agent *a = ctx;

    a->wan = NULL;
    uv_close((uv_handle_t *)&a->wan_timer, wan_timer_closed);
}

/* Deferred: gossip_close must not run inside gossip's own callbacks. */
static void on_wan_close(uv_timer_t *t)
{
    struct agent *a = t->data;

    gossip_close(a->wan, wan_closed, a);
}

bool agent_wan_stop(struct agent *a, void (*done)(struct agent *a))
{
    if (!a->wan_timer_on)
        return false;
    a->wan_timer_on = false;
    a->wan_done = done;
    uv_timer_stop(&a->wan_timer);
    if (a->wan == NULL) {
        uv_close((uv_handle_t *)&a->wan_timer, wan_timer_closed);
        return true;
    }
    uv_timer_start(&a->wan_timer, on_wan_close, 0, 0);
    return true;
}

static void wan_left(void *ctx, int rc)
{
    (void)ctx;
    if (rc != 0 && rc != ERR_SHUTDOWN)
        LOG_WARN("agent", "WAN leave: %s", err_str(rc));
}

void agent_wan_leave(struct agent *a)
{
    char err[ERR_LEN];

    if (a->wan == NULL)
        return;
    uv_timer_stop(&a->wan_timer);
    a->wan_joined = true; /* no more retry_join_wan */
    if (gossip_leave(a->wan, wan_left, a, err) != 0)
        LOG_WARN("agent", "WAN leave: %s", err);
}

int agent_wan_join(struct agent *a, const char *const *addrs, size_t n,
                   gossip_join_cb cb, void *ctx, char *err)
{
    if (a->wan == NULL)
        return err_set(err, ERR_INVAL, a->cfg.server
                       ? "WAN gossip is not running"
                       : "Must be a server to join WAN cluster");
    return gossip_join(a->wan, addrs, n, cb, ctx, err);
}

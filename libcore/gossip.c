/* gossip.c - public API of the LAN gossip pool on the agent's uv loop.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Glue between the callers, the core (gossip_state.c and friends, which
 * only know g->now) and the libuv transport (gossip_net.c): one uv
 * timer drives the core's clock, joins resolve host names with
 * uv_getaddrinfo, the snapshot's pool is rejoined at start, and close
 * waits for every handle and request before freeing.
 * Owns: the core timer, pending name resolutions, the rejoin walk.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct gossip_resolve {
    uv_getaddrinfo_t req;
    struct gossip_resolve *next;
    struct gossip *g;
    struct gossip_join *j;
    size_t idx;
    uint16_t port;
    char node[GOSSIP_NAME_MAX + 1];
};

struct rejoin {
    struct gossip *g;
    char **names, **addrs;
    size_t n, i;
};

void gossip_opts_init(struct gossip_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = GOSSIP_DEFAULT_PORT;
    o->timing = (struct gossip_timing){
        .probe_interval = 1000, .probe_timeout = 500, .suspicion_mult = 4,
        .suspicion_max_mult = 6, .indirect_checks = 3,
        .gossip_interval = 200, .gossip_nodes = 3, .gossip_to_dead = 30000,
        .retransmit_mult = 4, .push_pull_interval = 30000,
        .tcp_timeout = 10000, .dead_reclaim = 30000, .reap_interval = 15000,
        .reconnect_interval = 30000, .reconnect_timeout = 72u * 3600 * 1000,
        .tombstone_timeout = 24u * 3600 * 1000, .broadcast_timeout = 5000,
        .leave_propagate = 1000,
    };
}

/* ---- Consul's tags ---- */

void gossip_tagset_init(struct gossip_tagset *s)
{
    memset(s, 0, sizeof(*s));
}

static const char *stash(struct gossip_tagset *s, const char *v)
{
    size_t n = strlen(v) + 1;
    char *p;

    if (n > sizeof(s->buf) - s->used)
        return NULL;
    p = s->buf + s->used;
    memcpy(p, v, n);
    s->used += n;
    return p;
}

int gossip_tagset_set(struct gossip_tagset *s, const char *key,
                      const char *val, char *err)
{
    const char *k, *v;
    size_t i;

    for (i = 0; i < s->n && strcmp(s->tags[i].key, key) != 0; i++)
        ;
    if (i == GOSSIP_TAGSET_MAX)
        return err_set(err, ERR_TOOBIG, "too many tags");
    k = i < s->n ? s->tags[i].key : stash(s, key);
    v = stash(s, val ? val : "");
    if (k == NULL || v == NULL)
        return err_set(err, ERR_TOOBIG, "tags too large");
    s->tags[i].key = k;
    s->tags[i].val = v;
    if (i == s->n)
        s->n++;
    return 0;
}

int gossip_tagset_consul(struct gossip_tagset *s,
                         const struct gossip_consul_info *ci, char *err)
{
    char num[24];
    int rc = 0;

#define SET(k, v)                                                       \
    do {                                                                \
        if (rc == 0)                                                    \
            rc = gossip_tagset_set(s, k, v, err);                       \
    } while (0)
    SET("role", ci->server ? "consul" : "node");
    SET("dc", ci->dc ? ci->dc : "dc1");
    SET("segment", "");
    SET("id", ci->node_id ? ci->node_id : "");
    SET("vsn", "2");
    SET("vsn_min", "2");
    SET("vsn_max", "3");
    SET("build", ci->build ? ci->build : "");
    if (ci->server) {
        snprintf(num, sizeof(num), "%u", (unsigned)ci->server_port);
        SET("port", num);
        SET("raft_vsn", "3");
        if (ci->expect > 0) {
            snprintf(num, sizeof(num), "%d", ci->expect);
            SET("expect", num);
        }
        if (ci->bootstrap)
            SET("bootstrap", "1");
    }
#undef SET
    return rc;
}

/* ---- lifecycle ---- */

struct gossip *gossip_new(uv_loop_t *loop, const struct gossip_opts *o,
                          char *err)
{
    struct gossip_tp tp = {NULL, NULL};
    struct gossip *g = gossip_sm_new(o, &tp, err);

    if (g == NULL)
        return NULL;
    g->loop = loop;
    g->armed_at = UINT64_MAX;
    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    g->open_handles = 1;
    return g;
}

static void rejoin_next(struct rejoin *rj);

static void rejoin_free(struct rejoin *rj)
{
    for (size_t i = 0; i < rj->n; i++) {
        free(rj->names[i]);
        free(rj->addrs[i]);
    }
    free(rj->names);
    free(rj->addrs);
    free(rj);
}

static void rejoin_cb(void *ctx, int n, const struct gossip_join_result *res,
                      size_t nres)
{
    struct rejoin *rj = ctx;

    if (n > 0) {
        LOG_INFO("gossip", "re-joined to previously known node '%s' at %s",
                 rj->names[rj->i], rj->addrs[rj->i]);
    } else if (!rj->g->closing) {
        rj->i++;
        rejoin_next(rj);
        return;
    }
    rejoin_free(rj);
}

/* serf's handleRejoin: previous members one at a time until one works. */
static void rejoin_next(struct rejoin *rj)
{
    struct gossip *g = rj->g;
    struct gossip_addr a;
    struct gossip_join *j;

    for (; rj->i < rj->n; rj->i++) {
        const char *addr = rj->addrs[rj->i];

        if (gossip_addr_parse(addr, g->bind.port, &a) != 0)
            continue;
        LOG_INFO("gossip", "attempting re-join to previously known node "
                 "'%s' at %s", rj->names[rj->i], addr);
        j = gossip_sm_join_new(g, &addr, 1, rejoin_cb, rj);
        if (j == NULL)
            break;
        j->internal = j->started = true;
        gossip_sm_join_one(g, j, 0, &a, rj->names[rj->i]);
        return;
    }
    if (rj->n > 0)
        LOG_WARN("gossip", "failed to re-join any previously known node");
    rejoin_free(rj);
}

static void start_rejoin(struct gossip *g)
{
    struct rejoin *rj = calloc(1, sizeof(*rj));

    if (rj == NULL)
        return;
    rj->g = g;
    rj->n = gossip_snap_previous(g, &rj->names, &rj->addrs);
    if (rj->n == 0) {
        rejoin_free(rj);
        return;
    }
    rejoin_next(rj);
}

int gossip_start(struct gossip *g, char *err)
{
    char where[80];
    int rc;

    if (g->started || g->closing)
        return err_set(err, ERR_INVAL, "gossip already started");
    rc = gossip_net_open(g, err);
    if (rc != 0)
        return rc;
    rc = gossip_sm_start(g, uv_now(g->loop), err);
    if (rc != 0)
        return rc;
    g->started = true;
    gossip_addr_str(&g->adv, where, sizeof(where));
    LOG_INFO("gossip", "node '%s' gossiping on %s", g->name, where);
    start_rejoin(g);
    gossip_net_exit(g);
    return 0;
}

static void core_closed(uv_handle_t *h)
{
    struct gossip *g = h->data;

    g->open_handles--;
    gossip_net_maybe_done(g);
}

void gossip_net_maybe_done(struct gossip *g)
{
    gossip_close_cb cb = g->close_cb;
    void *ctx = g->close_ctx;
    gossip_done_cb lcb = g->leave_cb;

    if (!g->closing || g->open_handles > 0 || g->n_resolving > 0)
        return;
    g->leave_cb = NULL;
    if (lcb != NULL)
        lcb(g->leave_ctx, ERR_SHUTDOWN);
    gossip_net_free(g);
    gossip_sm_free(g);
    if (cb != NULL)
        cb(ctx);
}

void gossip_close(struct gossip *g, gossip_close_cb cb, void *ctx)
{
    if (g == NULL || g->closing)
        return;
    g->closing = true;
    g->close_cb = cb;
    g->close_ctx = ctx;
    for (struct gossip_resolve *r = g->resolves; r != NULL; r = r->next)
        uv_cancel((uv_req_t *)&r->req);
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, core_closed);
    gossip_net_close(g);
}

/* ---- joins ---- */

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res)
{
    struct gossip_resolve *r = req->data, **pp;
    struct gossip *g = r->g;
    struct gossip_addr a;
    char why[160];
    bool ok = false;

    for (pp = &g->resolves; *pp != NULL; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    g->n_resolving--;
    gossip_net_enter(g);
    for (struct addrinfo *ai = res; status == 0 && ai && !ok; ai = ai->ai_next)
        ok = gossip_net_from_sockaddr(ai->ai_addr, &a);
    if (ok && !g->closing) {
        a.port = r->port;
        gossip_sm_join_one(g, r->j, r->idx, &a, r->node[0] ? r->node : NULL);
    } else {
        snprintf(why, sizeof(why), "failed to resolve: %s",
                 status == 0 ? "no address" : uv_strerror(status));
        gossip_sm_join_fail(g, r->j, r->idx, g->closing ? ERR_SHUTDOWN
                                                        : ERR_NOTFOUND, why);
    }
    uv_freeaddrinfo(res);
    free(r);
    gossip_net_exit(g);
    gossip_net_maybe_done(g);
}

/* "host[:port]" that is not an IP literal: look it up. */
static int resolve(struct gossip *g, struct gossip_join *j, size_t idx,
                   const char *s, const char *node)
{
    struct gossip_resolve *r = calloc(1, sizeof(*r));
    char host[256], *colon;
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};

    if (r == NULL || strlen(s) >= sizeof(host)) {
        free(r);
        return ERR_INVAL;
    }
    snprintf(host, sizeof(host), "%s", s);
    r->port = g->bind.port;
    colon = strrchr(host, ':');
    if (colon != NULL && strchr(host, ':') == colon) {
        long p = strtol(colon + 1, NULL, 10);

        if (p <= 0 || p > 65535) {
            free(r);
            return ERR_INVAL;
        }
        r->port = (uint16_t)p;
        *colon = '\0';
    }
    /* Our sockets are bound to one family: only it is reachable. */
    hints.ai_family = g->bind.len == 16 ? AF_INET6 : AF_INET;
    r->g = g;
    r->j = j;
    r->idx = idx;
    r->req.data = r;
    snprintf(r->node, sizeof(r->node), "%s", node ? node : "");
    if (host[0] == '\0' ||
        uv_getaddrinfo(g->loop, &r->req, on_resolved, host, NULL,
                       &hints) != 0) {
        free(r);
        return ERR_INVAL;
    }
    r->next = g->resolves;
    g->resolves = r;
    g->n_resolving++;
    return 0;
}

/* One address: "[name/]ip[:port]" or "[name/]host[:port]". */
static void join_addr(struct gossip *g, struct gossip_join *j, size_t idx,
                      const char *s)
{
    char node[GOSSIP_NAME_MAX + 1] = "";
    const char *slash = strchr(s, '/');
    struct gossip_addr a;

    if (slash != NULL) {
        size_t n = (size_t)(slash - s);

        if (n == 0 || n > GOSSIP_NAME_MAX) {
            gossip_sm_join_fail(g, j, idx, ERR_INVAL, "empty or too long "
                                "node name provided");
            return;
        }
        memcpy(node, s, n);
        node[n] = '\0';
        s = slash + 1;
    }
    if (gossip_addr_parse(s, g->bind.port, &a) == 0)
        gossip_sm_join_one(g, j, idx, &a, node[0] ? node : NULL);
    else if (resolve(g, j, idx, s, node) != 0)
        gossip_sm_join_fail(g, j, idx, ERR_INVAL, "invalid address");
}

int gossip_join(struct gossip *g, const char *const *addrs, size_t n,
                gossip_join_cb cb, void *ctx, char *err)
{
    struct gossip_join *j;

    if (!g->started || g->closing)
        return err_set(err, ERR_SHUTDOWN, "gossip is not running");
    if (g->serf_state != GSERF_ALIVE)
        return err_set(err, ERR_INVAL, "cannot join after a leave");
    if (n == 0)
        return err_set(err, ERR_INVAL, "no address to join");
    gossip_net_enter(g);
    j = gossip_sm_join_new(g, addrs, n, cb, ctx);
    if (j == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    j->event_ignore = true;
    for (size_t i = 0; i < n; i++)
        join_addr(g, j, i, addrs[i]);
    j->started = true;
    gossip_sm_schedule(g, g->now);
    gossip_net_exit(g);
    return 0;
}

/* ---- leave, tags, events ---- */

int gossip_leave(struct gossip *g, gossip_done_cb cb, void *ctx, char *err)
{
    int rc;

    if (!g->started || g->closing)
        return err_set(err, ERR_SHUTDOWN, "gossip is not running");
    if (g->leave_cb != NULL || g->serf_state == GSERF_LEAVING)
        return err_set(err, ERR_EXISTS, "leave already in progress");
    gossip_net_enter(g);
    g->leave_cb = cb;
    g->leave_ctx = ctx;
    if (g->serf_state == GSERF_LEFT) {
        g->leave_rc = 0;
        g->leave_phase = GL_PROPAGATE;
        g->leave_deadline = g->now;
        rc = 0;
    } else {
        rc = gossip_serf_leave_start(g);
    }
    if (rc != 0) {
        g->leave_cb = NULL;
        err_set(err, rc, "leave: %s", err_str(rc));
    }
    gossip_sm_schedule(g, g->leave_deadline);
    gossip_net_exit(g);
    return rc;
}

int gossip_force_leave(struct gossip *g, const char *node, bool prune,
                       char *err)
{
    int rc;

    if (g->closing)
        return err_set(err, ERR_SHUTDOWN, "gossip is closing");
    gossip_net_enter(g);
    rc = gossip_serf_force_leave(g, node, prune, err);
    gossip_net_exit(g);
    return rc;
}

int gossip_set_tags(struct gossip *g, const struct gossip_tag *tags,
                    size_t n, char *err)
{
    int rc;

    if (g->closing)
        return err_set(err, ERR_SHUTDOWN, "gossip is closing");
    if (!g->started)
        return gossip_sm_set_tags(g, tags, n, err);
    gossip_net_enter(g);
    rc = gossip_sm_set_tags(g, tags, n, err);
    gossip_net_exit(g);
    return rc;
}

int gossip_user_event(struct gossip *g, const char *name,
                      const void *payload, size_t len, bool coalesce,
                      char *err)
{
    int rc;

    if (!g->started || g->closing)
        return err_set(err, ERR_SHUTDOWN, "gossip is not running");
    gossip_net_enter(g);
    rc = gossip_serf_user_event(g, name, payload, len, coalesce, err);
    gossip_net_exit(g);
    return rc;
}

/* ---- queries ---- */

static int cmp_member(const void *a, const void *b)
{
    const struct gossip_member_st *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

void gossip_members(struct gossip *g, gossip_member_fn fn, void *ctx)
{
    struct gossip_member_st **v;
    struct gossip_member m;
    size_t n = g->n_members;

    v = malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL)
        return;
    memcpy(v, g->members, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_member);
    for (size_t i = 0; i < n; i++) {
        gossip_member_view(v[i], &m);
        fn(ctx, &m);
    }
    free(v);
}

int gossip_member_get(struct gossip *g, const char *name,
                      struct gossip_member *out)
{
    struct gossip_member_st *m = gossip_member_st_get(g, name);

    if (m == NULL)
        return ERR_NOTFOUND;
    gossip_member_view(m, out);
    return 0;
}

size_t gossip_num_members(struct gossip *g) { return g->n_members; }

uint64_t gossip_member_rtt_us(struct gossip *g, const char *name)
{
    struct gossip_node *n = gossip_node_get(g, name);

    return n != NULL ? n->rtt_us : 0;
}

const char *gossip_member_tag(const struct gossip_member *m, const char *key)
{
    for (size_t i = 0; i < m->n_tags; i++)
        if (strcmp(m->tags[i].key, key) == 0)
            return m->tags[i].val;
    return NULL;
}

const struct metrics_label gossip_lan_label[1] = {{"network", "lan"}};

void gossip_metrics(struct gossip *g)
{
    static const char *const states[] = {"alive", "suspect", "dead", "left"};
    struct metrics_label l[2] = {gossip_lan_label[0], {"node_state", ""}};
    size_t count[4] = {0};

    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->state >= GN_ALIVE && g->nodes[i]->state <= GN_LEFT)
            count[g->nodes[i]->state]++;
    for (size_t i = 0; i < 4; i++) {
        l[1].value = states[i];
        metrics_gauge_l("memberlist.node.instances", (double)count[i], l, 2);
    }
    metrics_gauge_l("memberlist.health.score", (double)g->awareness,
                    gossip_lan_label, 1);
}

void gossip_stats(struct gossip *g, struct gossip_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->members = g->n_members;
    for (size_t i = 0; i < g->n_members; i++) {
        st->failed += g->members[i]->status == GOSSIP_FAILED;
        st->left += g->members[i]->status == GOSSIP_LEFT;
    }
    st->health_score = (uint64_t)g->awareness;
    st->member_time = g->clock;
    st->event_time = g->event_clock;
    st->query_time = g->query_clock;
    st->intent_queue = g->q_intent.n;
    st->event_queue = g->q_event.n;
    st->query_queue = g->q_query.n;
    st->dropped = g->dropped;
    st->udp_blocked = g->udp_blocked;
}

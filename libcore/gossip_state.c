/* gossip_state.c - SWIM node states: alive, suspect, dead, left.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Follows memberlist: a node's incarnation orders the claims about it;
 * a suspicion times out after suspicion_mult * max(1, log10(n)) probe
 * intervals, shortened towards that from suspicion_max_mult times it as
 * independent peers confirm it; an accusation about ourselves is refuted
 * with a higher incarnation. Every change is re-broadcast through the
 * memberlist queue and reported to the serf layer.
 * Owns: the node table and its suspicion timers.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define LOG_EVERY_MS 60000

uint32_t gossip_rand(struct gossip *g)
{
    /* xorshift64* */
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return (uint32_t)((g->rng * 2685821657736338717ull) >> 32);
}

void gossip_addr_str(const struct gossip_addr *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (a->len == 4)
        inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
    else if (a->len == 16)
        inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
    snprintf(out, n, a->len == 16 ? "[%s]:%u" : "%s:%u", ip,
             (unsigned)a->port);
}

/* "ip", "ip:port", "[v6]" or "[v6]:port" (literal addresses only). */
int gossip_addr_parse(const char *s, uint16_t def_port, struct gossip_addr *a)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port = NULL, *colon = strrchr(s, ':');
    size_t hl;

    memset(a, 0, sizeof(*a));
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
            return ERR_INVAL;
        hl = (size_t)(rb - s - 1);
        port = rb[1] == ':' ? rb + 2 : NULL;
        s++;
    } else if (colon != NULL && strchr(s, ':') == colon) {
        hl = (size_t)(colon - s);
        port = colon + 1;
    } else {
        hl = strlen(s);
    }
    if (hl == 0 || hl >= sizeof(host))
        return ERR_INVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (inet_pton(AF_INET, host, a->ip) == 1)
        a->len = 4;
    else if (inet_pton(AF_INET6, host, a->ip) == 1)
        a->len = 16;
    else
        return ERR_INVAL;
    a->port = def_port;
    if (port != NULL) {
        char *end;
        unsigned long p = strtoul(port, &end, 10);

        if (*port == '\0' || *end != '\0' || p == 0 || p > 65535)
            return ERR_INVAL;
        a->port = (uint16_t)p;
    }
    return 0;
}

static bool addr_eq(const struct gossip_addr *x, const struct gossip_addr *y)
{
    return x->len == y->len && x->port == y->port &&
           memcmp(x->ip, y->ip, x->len) == 0;
}

void gossip_sm_schedule(struct gossip *g, uint64_t when)
{
    if (when < g->next_wake)
        g->next_wake = when;
}

void gossip_sm_awareness(struct gossip *g, int delta)
{
    int max = 8;    /* memberlist AwarenessMaxMultiplier */

    g->awareness += delta;
    if (g->awareness < 0)
        g->awareness = 0;
    if (g->awareness > max - 1)
        g->awareness = max - 1;
}

unsigned gossip_sm_retransmit_limit(const struct gossip *g, size_t nodes)
{
    double scale = ceil(log10((double)nodes + 1.0));

    return g->t.retransmit_mult * (unsigned)scale;
}

void gossip_sm_drop(struct gossip *g, const char *what, int rc)
{
    g->dropped++;
    if (g->last_drop_log == 0 || g->now - g->last_drop_log >= LOG_EVERY_MS) {
        g->last_drop_log = g->now ? g->now : 1;
        LOG_WARN("gossip", "dropped %s: %s (%llu dropped so far)", what,
                 rc == GOSSIP_MORE ? "truncated" : err_str(rc),
                 (unsigned long long)g->dropped);
    } else {
        LOG_DEBUG("gossip", "dropped %s: %s", what,
                  rc == GOSSIP_MORE ? "truncated" : err_str(rc));
    }
}

/* ---- node table ---- */

struct gossip_node *gossip_node_get(struct gossip *g, const char *name)
{
    return gossip_tab_get(&g->node_tab, name);
}

static struct gossip_node *node_add(struct gossip *g, const char *name)
{
    struct gossip_node *n;
    size_t off;

    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
        struct gossip_node **nn = realloc(g->nodes, cap * sizeof(*nn));

        if (nn == NULL)
            return NULL;
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    snprintf(n->name, sizeof(n->name), "%s", name);
    n->state = GN_DEAD;
    if (gossip_tab_put(&g->node_tab, n) != 0) {
        free(n);
        return NULL;
    }
    /* A random slot keeps the expected probe delay low for newcomers. */
    off = g->n_nodes ? gossip_rand(g) % g->n_nodes : 0;
    g->nodes[g->n_nodes] = g->nodes[off];
    g->nodes[off] = n;
    g->n_nodes++;
    return n;
}

static void susp_free(struct gossip *g, struct gossip_node *n)
{
    if (n->susp == NULL)
        return;
    free(n->susp->from);
    free(n->susp);
    n->susp = NULL;
    g->n_suspects--;
}

static void node_free(struct gossip *g, struct gossip_node *n)
{
    susp_free(g, n);
    free(n);
}

void gossip_sm_reset_nodes(struct gossip *g)
{
    size_t j = 0;

    for (size_t i = 0; i < g->n_nodes; i++) {
        struct gossip_node *n = g->nodes[i];

        if ((n->state == GN_DEAD || n->state == GN_LEFT) &&
            strcmp(n->name, g->name) != 0 &&
            g->now - n->state_change > g->t.gossip_to_dead) {
            gossip_tab_del(&g->node_tab, n->name);
            node_free(g, n);
            continue;
        }
        g->nodes[j++] = n;
    }
    g->n_nodes = j;
    for (size_t i = j; i > 1; i--) {
        size_t k = gossip_rand(g) % i;
        struct gossip_node *t = g->nodes[i - 1];

        g->nodes[i - 1] = g->nodes[k];
        g->nodes[k] = t;
    }
}

size_t gossip_sm_alive_others(struct gossip *g)
{
    size_t c = 0;

    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->state != GN_DEAD && g->nodes[i]->state != GN_LEFT &&
            strcmp(g->nodes[i]->name, g->name) != 0)
            c++;
    return c;
}

void gossip_sm_node_alive(const struct gossip_node *n, struct gm_alive *a)
{
    memset(a, 0, sizeof(*a));
    a->inc = n->inc;
    snprintf(a->node, sizeof(a->node), "%s", n->name);
    a->addr = n->addr;
    memcpy(a->meta, n->meta, n->meta_len);
    a->meta_len = n->meta_len;
    memcpy(a->vsn, n->vsn, 6);
    a->vsn_len = 6;
    a->state = n->state;
}

void gossip_sm_local_alive(const struct gossip *g, struct gm_alive *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->node, sizeof(a->node), "%s", g->name);
    a->addr = g->adv;
    memcpy(a->meta, g->meta, g->meta_len);
    a->meta_len = g->meta_len;
    a->vsn[0] = GOSSIP_PMIN;
    a->vsn[1] = GOSSIP_PMAX;
    a->vsn[2] = GOSSIP_PCUR;
    a->vsn[3] = GOSSIP_DMIN;
    a->vsn[4] = GOSSIP_DMAX;
    a->vsn[5] = GOSSIP_DCUR;
    a->vsn_len = 6;
}

/* ---- broadcasts ---- */

static void bcast_alive(struct gossip *g, const struct gm_alive *a,
                        int notify)
{
    struct gossip_buf b;

    gossip_buf_init(&b, 0);
    if (gossip_enc_alive(&b, a) == 0)
        gossip_q_push(g, &g->q_ml, a->node, b.p, b.len, notify);
    gossip_buf_release(&b);
}

static void bcast_suspect(struct gossip *g, int type,
                          const struct gm_suspect *s, int notify)
{
    struct gossip_buf b;

    gossip_buf_init(&b, 0);
    if (gossip_enc_suspect(&b, type, s) == 0)
        gossip_q_push(g, &g->q_ml, s->node, b.p, b.len, notify);
    gossip_buf_release(&b);
}

void gossip_sm_refute(struct gossip *g, struct gossip_node *me,
                      uint32_t accused)
{
    struct gm_alive a;
    uint32_t inc = ++g->inc;

    if (accused >= inc)
        inc = g->inc = accused + 1;
    me->inc = inc;
    gossip_sm_awareness(g, 1);
    gossip_sm_node_alive(me, &a);
    a.state = 0;
    bcast_alive(g, &a, GB_NONE);
}

/* ---- alive ---- */

static bool vsn_bad(const struct gm_alive *a)
{
    return a->vsn_len >= 3 &&
           (a->vsn[0] == 0 || a->vsn[1] == 0 || a->vsn[0] > a->vsn[1]);
}

/* The value of one tag in an encoded meta, if set and not empty. */
bool gossip_meta_tag(const uint8_t *meta, size_t n, const char *key,
                     char *out, size_t outn)
{
    struct gossip_tag *t;
    size_t nt;
    bool found = false;

    if (gossip_tags_decode(meta, n, &t, &nt) != 0)
        return false;
    for (size_t i = 0; i < nt && !found; i++)
        if (strcmp(t[i].key, key) == 0 && t[i].val[0] != '\0') {
            snprintf(out, outn, "%s", t[i].val);
            found = true;
        }
    free(t);
    return found;
}

/* Our own tag value, or NULL. */
const char *gossip_own_tag(const struct gossip *g, const char *key)
{
    for (size_t i = 0; i < g->n_tags; i++)
        if (strcmp(g->tags[i].key, key) == 0)
            return g->tags[i].val;
    return NULL;
}

/* Name of a live member (not `name`) already using this node id. */
const char *gossip_sm_id_owner(struct gossip *g, const char *id,
                               const char *name)
{
    if (g->node_id != NULL && strcmp(id, g->node_id) == 0 &&
        strcmp(name, g->name) != 0)
        return g->name;
    for (size_t i = 0; i < g->n_members; i++) {
        struct gossip_member_st *m = g->members[i];

        if (strcmp(m->name, name) == 0 ||
            (m->status != GOSSIP_ALIVE && m->status != GOSSIP_LEAVING))
            continue;
        for (size_t j = 0; j < m->n_tags; j++)
            if (strcmp(m->tags[j].key, "id") == 0 &&
                strcmp(m->tags[j].val, id) == 0)
                return m->name;
    }
    return NULL;
}

static void log_refused(struct gossip *g, const char *fmt, const char *a,
                        const char *b, const char *c)
{
    if (g->last_conflict_log != 0 &&
        g->now - g->last_conflict_log < LOG_EVERY_MS)
        return;
    g->last_conflict_log = g->now ? g->now : 1;
    LOG_WARN("gossip", fmt, a, b, c);
}

/* memberlist's alive delegate, as Consul uses it: a newcomer from
 * another datacenter, or carrying a node id some live member already
 * has, is ignored. */
static bool alive_refused(struct gossip *g, const struct gm_alive *a,
                          const struct gossip_node *n)
{
    char v[80];
    const char *owner, *dc = gossip_own_tag(g, "dc");

    if (n != NULL && n->state != GN_DEAD && n->state != GN_LEFT)
        return false;
    if (!g->any_dc && dc != NULL && dc[0] != '\0' &&
        gossip_meta_tag(a->meta, a->meta_len, "dc", v, sizeof(v)) &&
        strcmp(v, dc) != 0) {
        log_refused(g, "ignoring node '%s' of datacenter '%s' (we are "
                    "'%s')", a->node, v, dc);
        return true;
    }
    if (!gossip_meta_tag(a->meta, a->meta_len, "id", v, sizeof(v)))
        return false;
    owner = gossip_sm_id_owner(g, v, a->node);
    if (owner == NULL)
        return false;
    log_refused(g, "ignoring node '%s': its node id '%s' is already used "
                "by member '%s'", a->node, v, owner);
    return true;
}

/* Address change of a known node: allowed when it left, or died long
 * enough ago; otherwise two nodes claim one name. */
static bool addr_change_ok(struct gossip *g, struct gossip_node *n,
                           const struct gm_alive *a)
{
    char mine[80], theirs[80];

    if (n->state == GN_LEFT || (n->state == GN_DEAD && g->t.dead_reclaim &&
                                g->now - n->state_change > g->t.dead_reclaim))
        return true;
    gossip_addr_str(&n->addr, mine, sizeof(mine));
    gossip_addr_str(&a->addr, theirs, sizeof(theirs));
    if (g->last_conflict_log == 0 ||
        g->now - g->last_conflict_log >= LOG_EVERY_MS) {
        g->last_conflict_log = g->now ? g->now : 1;
        LOG_ERROR("gossip", "node name '%s' is claimed by both %s and %s; "
                  "node names must be unique, keeping %s", n->name, mine,
                  theirs, mine);
    }
    return false;
}

static void apply_alive(struct gossip *g, struct gossip_node *n,
                        const struct gm_alive *a)
{
    if (a->vsn_len > 0)
        memcpy(n->vsn, a->vsn, 6);
    n->inc = a->inc;
    memcpy(n->meta, a->meta, a->meta_len);
    n->meta_len = a->meta_len;
    n->addr = a->addr;
    if (n->state != GN_ALIVE) {
        n->state = GN_ALIVE;
        n->state_change = g->now;
    }
}

static bool local_same(const struct gossip_node *n, const struct gm_alive *a)
{
    return a->inc == n->inc && a->meta_len == n->meta_len &&
           memcmp(a->meta, n->meta, n->meta_len) == 0 &&
           (a->vsn_len == 0 || memcmp(a->vsn, n->vsn, 6) == 0);
}

void gossip_sm_alive(struct gossip *g, const struct gm_alive *a,
                     bool bootstrap, int notify)
{
    struct gossip_node *n = gossip_node_get(g, a->node);
    bool local = strcmp(a->node, g->name) == 0, updates = false;
    int old_state;
    uint8_t old_meta[GOSSIP_META_MAX];
    uint16_t old_meta_len;

    if ((g->left && local) || vsn_bad(a) || alive_refused(g, a, n))
        return;
    if (n == NULL) {
        n = node_add(g, a->node);
        if (n == NULL)
            return;
        n->addr = a->addr;
        if (a->vsn_len)
            memcpy(n->vsn, a->vsn, 6);
    } else if (!addr_eq(&n->addr, &a->addr)) {
        if (!addr_change_ok(g, n, a))
            return;
        updates = true;
    }
    if (a->inc <= n->inc && !local && !updates)
        return;
    if (a->inc < n->inc && local)
        return;
    susp_free(g, n);
    old_state = n->state;
    old_meta_len = n->meta_len;
    memcpy(old_meta, n->meta, n->meta_len);
    if (!bootstrap && local) {
        if (local_same(n, a))
            return;
        gossip_sm_refute(g, n, a->inc);
        LOG_WARN("gossip", "refuting an alive message for ourselves");
        return;
    }
    bcast_alive(g, a, notify);
    apply_alive(g, n, a);
    if (old_state == GN_DEAD || old_state == GN_LEFT)
        gossip_serf_node_join(g, n);
    else if (old_meta_len != n->meta_len ||
             memcmp(old_meta, n->meta, n->meta_len) != 0)
        gossip_serf_node_update(g, n);
}

/* ---- suspicion ---- */

static uint64_t susp_timeout(const struct gossip *g, size_t n)
{
    double scale = fmax(1.0, log10(fmax(1.0, (double)n)));

    return (uint64_t)(g->t.suspicion_mult * (uint64_t)(scale * 1000.0) *
                      g->t.probe_interval / 1000);
}

static uint64_t susp_remaining_at(const struct gossip_susp *s)
{
    double frac = log((double)s->n + 1.0) / log((double)s->k + 1.0);
    double raw = (double)s->max - frac * (double)(s->max - s->min);
    uint64_t t = raw <= 0 ? 0 : (uint64_t)floor(raw);

    if (t < s->min)
        t = s->min;
    return s->start + t;
}

static int susp_start(struct gossip *g, struct gossip_node *n,
                      const char *from)
{
    struct gossip_susp *s = calloc(1, sizeof(*s));
    uint32_t k = g->t.suspicion_mult > 2 ? g->t.suspicion_mult - 2 : 0;

    if (s == NULL)
        return ERR_NOMEM;
    if (g->n_nodes < 2 || g->n_nodes - 2 < k)
        k = 0;
    s->from = calloc(k + 1, sizeof(*s->from));
    if (s->from == NULL) {
        free(s);
        return ERR_NOMEM;
    }
    s->k = k;
    s->min = susp_timeout(g, g->n_nodes);
    s->max = (uint64_t)g->t.suspicion_max_mult * s->min;
    s->start = g->now;
    s->deadline = g->now + (k < 1 ? s->min : s->max);
    snprintf(s->from[0], sizeof(s->from[0]), "%s", from);
    s->n_from = 1;
    n->susp = s;
    g->n_suspects++;
    gossip_sm_schedule(g, s->deadline);
    return 0;
}

/* An independent confirmation shortens the timeout; true if new. */
static bool susp_confirm(struct gossip *g, struct gossip_susp *s,
                         const char *from)
{
    if (s->n >= s->k)
        return false;
    for (uint32_t i = 0; i < s->n_from; i++)
        if (strcmp(s->from[i], from) == 0)
            return false;
    snprintf(s->from[s->n_from], sizeof(s->from[0]), "%s", from);
    s->n_from++;
    s->n++;
    s->deadline = susp_remaining_at(s);
    if (s->deadline < g->now)
        s->deadline = g->now;
    gossip_sm_schedule(g, s->deadline);
    return true;
}

void gossip_sm_suspect(struct gossip *g, const struct gm_suspect *s)
{
    struct gossip_node *n = gossip_node_get(g, s->node);

    if (n == NULL || s->inc < n->inc)
        return;
    if (n->susp != NULL) {
        if (susp_confirm(g, n->susp, s->from))
            bcast_suspect(g, GM_SUSPECT, s, GB_NONE);
        return;
    }
    if (n->state != GN_ALIVE)
        return;
    if (strcmp(n->name, g->name) == 0) {
        gossip_sm_refute(g, n, s->inc);
        LOG_WARN("gossip", "refuting a suspect message from '%s'", s->from);
        return;
    }
    bcast_suspect(g, GM_SUSPECT, s, GB_NONE);
    metrics_incr_l("memberlist.msg.suspect", 1, gossip_lan_label, 1);
    n->inc = s->inc;
    n->state = GN_SUSPECT;
    n->state_change = g->now;
    susp_start(g, n, s->from);
}

void gossip_sm_susp_tick(struct gossip *g)
{
    for (size_t i = 0; i < g->n_nodes && g->n_suspects > 0; i++) {
        struct gossip_node *n = g->nodes[i];
        struct gm_suspect d;

        if (n->susp == NULL)
            continue;
        if (n->susp->deadline > g->now) {
            gossip_sm_schedule(g, n->susp->deadline);
            continue;
        }
        LOG_INFO("gossip", "marking '%s' as failed, suspect timeout "
                 "reached (%u peer confirmations)", n->name, n->susp->n);
        memset(&d, 0, sizeof(d));
        d.inc = n->inc;
        snprintf(d.node, sizeof(d.node), "%s", n->name);
        snprintf(d.from, sizeof(d.from), "%s", g->name);
        susp_free(g, n);
        gossip_sm_dead(g, &d, GB_NONE);
    }
}

/* ---- dead ---- */

void gossip_sm_dead(struct gossip *g, const struct gm_suspect *d, int notify)
{
    struct gossip_node *n = gossip_node_get(g, d->node);
    bool local;

    if (n == NULL || d->inc < n->inc)
        return;
    susp_free(g, n);
    if (n->state == GN_DEAD || n->state == GN_LEFT)
        return;
    local = strcmp(n->name, g->name) == 0;
    if (local && !g->left) {
        gossip_sm_refute(g, n, d->inc);
        LOG_WARN("gossip", "refuting a dead message from '%s'", d->from);
        return;
    }
    bcast_suspect(g, GM_DEAD, d, local ? GB_LEAVE_DEAD : notify);
    metrics_incr_l("memberlist.msg.dead", 1, gossip_lan_label, 1);
    n->inc = d->inc;
    n->state = strcmp(d->node, d->from) == 0 ? GN_LEFT : GN_DEAD;
    n->state_change = g->now;
    gossip_serf_node_leave(g, n);
}

/* ---- lifecycle ---- */

static int copy_tags(struct gossip *g, const struct gossip_tag *t, size_t n,
                     char *err)
{
    struct gossip_buf b;
    int rc;

    gossip_buf_init(&b, GOSSIP_META_MAX);
    rc = gossip_tags_encode(&b, t, n);
    if (rc == ERR_TOOBIG) {
        gossip_buf_release(&b);
        return err_set(err, ERR_TOOBIG, "encoded length of tags exceeds "
                       "limit of %d bytes", GOSSIP_META_MAX);
    }
    if (rc == 0) {
        struct gossip_tag *nt;
        size_t nn;

        rc = gossip_tags_decode(b.p, b.len, &nt, &nn);
        if (rc == 0) {
            free(g->tags);
            g->tags = nt;
            g->n_tags = nn;
            memcpy(g->meta, b.p, b.len);
            g->meta_len = (uint16_t)b.len;
        }
    }
    gossip_buf_release(&b);
    return rc == 0 ? 0 : err_set(err, rc, "encoding tags: %s", err_str(rc));
}

int gossip_sm_set_tags(struct gossip *g, const struct gossip_tag *t,
                       size_t n, char *err)
{
    struct gm_alive a;
    int rc = copy_tags(g, t, n, err);

    if (rc != 0 || gossip_node_get(g, g->name) == NULL)
        return rc;
    gossip_sm_local_alive(g, &a);
    a.inc = ++g->inc;
    gossip_sm_alive(g, &a, true, GB_NONE);
    return 0;
}

static void fill_timing(struct gossip_timing *t, const struct gossip_timing *o)
{
    struct gossip_opts d;

    gossip_opts_init(&d);
    *t = *o;
#define DEF(f)                                                          \
    do {                                                                \
        if (t->f == 0)                                                  \
            t->f = d.timing.f;                                          \
    } while (0)
    DEF(probe_interval);
    DEF(probe_timeout);
    DEF(suspicion_mult);
    DEF(suspicion_max_mult);
    DEF(gossip_interval);
    DEF(gossip_nodes);
    DEF(retransmit_mult);
    DEF(push_pull_interval);
    DEF(tcp_timeout);
    DEF(reap_interval);
    DEF(reconnect_interval);
    DEF(reconnect_timeout);
    DEF(tombstone_timeout);
    DEF(broadcast_timeout);
#undef DEF
}

static int check_opts(const struct gossip_opts *o, char *err)
{
    char q[ERR_QUOTE_MAX + 1];

    if (o->node_name == NULL || o->node_name[0] == '\0')
        return err_set(err, ERR_INVAL, "node name is required");
    if (strlen(o->node_name) > GOSSIP_NAME_MAX)
        return err_set(err, ERR_INVAL, "node name '%s' is longer than %d "
                       "bytes", err_quote(q, sizeof(q), o->node_name),
                       GOSSIP_NAME_MAX);
    if (o->bind_addr == NULL)
        return err_set(err, ERR_INVAL, "bind address is required");
    return 0;
}

static int parse_addrs(struct gossip *g, const struct gossip_opts *o,
                       char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    const char *adv = o->advertise_addr ? o->advertise_addr : o->bind_addr;
    static const uint8_t zero[16];

    if (gossip_addr_parse(o->bind_addr, o->port, &g->bind) != 0)
        return err_set(err, ERR_INVAL, "bind address '%s' is not an IP "
                       "address", err_quote(q, sizeof(q), o->bind_addr));
    if (gossip_addr_parse(adv, o->advertise_port ? o->advertise_port
                                                 : o->port, &g->adv) != 0)
        return err_set(err, ERR_INVAL, "advertise address '%s' is not an "
                       "IP address", err_quote(q, sizeof(q), adv));
    g->bind.port = o->port;
    if (memcmp(g->adv.ip, zero, g->adv.len) == 0)
        return err_set(err, ERR_INVAL, "an advertise address is needed "
                       "when binding to '%s'",
                       err_quote(q, sizeof(q), o->bind_addr));
    return 0;
}

struct gossip *gossip_sm_new(const struct gossip_opts *o,
                             const struct gossip_tp *tp, char *err)
{
    struct gossip *g;

    if (check_opts(o, err) != 0)
        return NULL;
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(g->name, sizeof(g->name), "%s", o->node_name);
    g->tp = *tp;
    g->sops.next = g->sops.prev = &g->sops;
    fill_timing(&g->t, &o->timing);
    g->rng = o->seed ? o->seed : 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)g;
    g->node_id = o->node_id ? strdup(o->node_id) : NULL;
    g->snap_path = o->snapshot_path ? strdup(o->snapshot_path) : NULL;
    g->evbuf = calloc(GOSSIP_EVENT_BUF, sizeof(*g->evbuf));
    g->qbuf = calloc(GOSSIP_EVENT_BUF, sizeof(*g->qbuf));
    g->on_event = o->on_event;
    g->on_user = o->on_user;
    g->cb_ctx = o->ctx;
    g->rejoin_after_leave = o->rejoin_after_leave;
    g->any_dc = o->any_dc;
    g->clock = g->event_clock = g->query_clock = 1;
    if ((o->node_id && !g->node_id) || !g->evbuf || !g->qbuf ||
        (o->snapshot_path && !g->snap_path)) {
        err_set(err, ERR_NOMEM, "out of memory");
        gossip_sm_free(g);
        return NULL;
    }
    if (parse_addrs(g, o, err) != 0 ||
        copy_tags(g, o->tags, o->n_tags, err) != 0) {
        gossip_sm_free(g);
        return NULL;
    }
    return g;
}

void gossip_sm_free(struct gossip *g)
{
    if (g == NULL)
        return;
    while (g->sops.next != &g->sops) {
        struct gossip_sop *op = g->sops.next;

        gossip_sm_stream_done(g, op, ERR_SHUTDOWN, NULL, 0, NULL);
    }
    gossip_sm_join_tick(g);
    while (g->joins != NULL) {
        struct gossip_join *j = g->joins;

        j->started = true;
        j->pending = 0;
        gossip_sm_join_tick(g);
        if (g->joins == j)
            break;
    }
    gossip_snap_close(g);
    gossip_serf_free(g);
    for (size_t i = 0; i < g->n_nodes; i++)
        node_free(g, g->nodes[i]);
    free(g->nodes);
    gossip_tab_release(&g->node_tab);
    while (g->relays != NULL) {
        struct gossip_relay *r = g->relays;

        g->relays = r->next;
        free(r);
    }
    gossip_q_release(NULL, &g->q_ml);
    gossip_q_release(NULL, &g->q_intent);
    gossip_q_release(NULL, &g->q_event);
    gossip_q_release(NULL, &g->q_query);
    free(g->tags);
    free(g->node_id);
    free(g->evbuf);
    free(g->qbuf);
    free(g->snap_path);
    free(g);
}

static uint64_t stagger(struct gossip *g, unsigned interval)
{
    return g->now + (interval ? gossip_rand(g) % interval : 0);
}

/* memberlist setAlive + serf's start: announce ourselves, then rejoin
 * what the snapshot remembers. */
int gossip_sm_start(struct gossip *g, uint64_t now, char *err)
{
    struct gm_alive a;

    g->now = now;
    if (g->snap_path != NULL) {
        int rc = gossip_snap_open(g, g->snap_path, err);

        if (rc != 0)
            return rc;
    }
    gossip_sm_local_alive(g, &a);
    a.inc = ++g->inc;
    gossip_sm_alive(g, &a, true, GB_NONE);
    g->t_probe = stagger(g, g->t.probe_interval);
    g->t_gossip = stagger(g, g->t.gossip_interval);
    g->t_pushpull = stagger(g, g->t.push_pull_interval);
    g->t_reap = now + g->t.reap_interval;
    g->t_reconnect = now + g->t.reconnect_interval;
    g->t_snap = now + 500;
    g->next_wake = now;
    return 0;
}

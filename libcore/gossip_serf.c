/* gossip_serf.c - serf members: status, intents, leave, reaping.
 *
 * Layer: replication (uses util). Thread: loop only.
 * memberlist says a node is alive or gone; serf adds intents ordered by
 * a Lamport clock, so a graceful leave (leave intent, then the node's
 * own "dead") shows as "left" while a silent death shows as "failed".
 * Intents about nodes not yet seen are kept for a while and applied when
 * the node appears. Failed members are retried now and then and
 * forgotten after reconnect_timeout; left ones after tombstone_timeout.
 * Owns: the member table, the recent-intent table.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define INTENT_TIMEOUT_MS (5u * 60 * 1000)
#define QUEUE_MAX 4096      /* serf MaxQueueDepth */

void gossip_witness(uint64_t *clock, uint64_t t)
{
    if (t >= *clock)
        *clock = t + 1;
}

const char *gossip_status_name(enum gossip_status s)
{
    static const char *const names[] = {"none", "alive", "leaving", "left",
                                        "failed"};

    return (unsigned)s < 5 ? names[s] : "unknown";
}

/* ---- member table ---- */

struct gossip_member_st *gossip_member_st_get(struct gossip *g,
                                              const char *name)
{
    return gossip_tab_get(&g->member_tab, name);
}

static struct gossip_member_st *member_add(struct gossip *g,
                                           const char *name)
{
    struct gossip_member_st *m;

    if (g->n_members == g->cap_members) {
        size_t cap = g->cap_members ? g->cap_members * 2 : 16;
        struct gossip_member_st **nm = realloc(g->members,
                                               cap * sizeof(*nm));

        if (nm == NULL)
            return NULL;
        g->members = nm;
        g->cap_members = cap;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    snprintf(m->name, sizeof(m->name), "%s", name);
    if (gossip_tab_put(&g->member_tab, m) != 0) {
        free(m);
        return NULL;
    }
    g->members[g->n_members++] = m;
    return m;
}

void gossip_member_view(const struct gossip_member_st *m,
                        struct gossip_member *out)
{
    memset(out, 0, sizeof(*out));
    out->name = m->name;
    if (m->addr.len == 4)
        inet_ntop(AF_INET, m->addr.ip, out->addr, sizeof(out->addr));
    else if (m->addr.len == 16)
        inet_ntop(AF_INET6, m->addr.ip, out->addr, sizeof(out->addr));
    out->port = m->addr.port;
    out->tags = m->tags;
    out->n_tags = m->n_tags;
    out->status = (enum gossip_status)m->status;
    out->pmin = m->vsn[0];
    out->pmax = m->vsn[1];
    out->pcur = m->vsn[2];
    out->dmin = m->vsn[3];
    out->dmax = m->vsn[4];
    out->dcur = m->vsn[5];
}

static void emit(struct gossip *g, enum gossip_event ev,
                 const struct gossip_member_st *m)
{
    struct gossip_member v;

    if (g->on_event == NULL)
        return;
    gossip_member_view(m, &v);
    g->on_event(g->cb_ctx, ev, &v);
}

static void erase(struct gossip *g, struct gossip_member_st *m)
{
    LOG_INFO("gossip", "member '%s' reaped", m->name);
    emit(g, GOSSIP_EVENT_REAP, m);
    gossip_tab_del(&g->member_tab, m->name);
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i] == m) {
            g->members[i] = g->members[--g->n_members];
            break;
        }
    free(m->tags);
    free(m);
}

static void set_tags(struct gossip_member_st *m, const struct gossip_node *n)
{
    struct gossip_tag *t;
    size_t nt;

    if (gossip_tags_decode(n->meta, n->meta_len, &t, &nt) != 0) {
        LOG_WARN("gossip", "member '%s' has undecodable tags", n->name);
        t = NULL;
        nt = 0;
    }
    free(m->tags);
    m->tags = t;
    m->n_tags = nt;
}

/* ---- intents ---- */

static struct gossip_intent *intent_get(struct gossip *g, const char *name)
{
    return gossip_tab_get(&g->intent_tab, name);
}

static bool upsert_intent(struct gossip *g, const char *name, int type,
                          uint64_t ltime)
{
    struct gossip_intent *in = intent_get(g, name);

    if (in != NULL && ltime <= in->ltime)
        return false;
    if (in == NULL) {
        if (g->n_intents == g->cap_intents) {
            size_t cap = g->cap_intents ? g->cap_intents * 2 : 16;
            struct gossip_intent **ni = realloc(g->intents,
                                                cap * sizeof(*ni));

            if (ni == NULL)
                return false;
            g->intents = ni;
            g->cap_intents = cap;
        }
        in = calloc(1, sizeof(*in));
        if (in == NULL)
            return false;
        snprintf(in->name, sizeof(in->name), "%s", name);
        if (gossip_tab_put(&g->intent_tab, in) != 0) {
            free(in);
            return false;
        }
        g->intents[g->n_intents++] = in;
    }
    in->type = type;
    in->wall = g->now;
    in->ltime = ltime;
    return true;
}

static void reap_intents(struct gossip *g)
{
    for (size_t i = 0; i < g->n_intents;) {
        struct gossip_intent *in = g->intents[i];

        if (g->now - in->wall <= INTENT_TIMEOUT_MS) {
            i++;
            continue;
        }
        gossip_tab_del(&g->intent_tab, in->name);
        g->intents[i] = g->intents[--g->n_intents];
        free(in);
    }
}

/* ---- memberlist notifications ---- */

void gossip_serf_node_join(struct gossip *g, const struct gossip_node *n)
{
    struct gossip_member_st *m = gossip_member_st_get(g, n->name);
    struct gossip_intent *in;
    char where[80];

    if (m == NULL) {
        m = member_add(g, n->name);
        if (m == NULL)
            return;
        m->status = GOSSIP_ALIVE;
        in = intent_get(g, n->name);
        if (in != NULL && in->type == GS_JOIN)
            m->status_ltime = in->ltime;
        if (in != NULL && in->type == GS_LEAVE) {
            m->status = GOSSIP_LEAVING;
            m->status_ltime = in->ltime;
        }
    } else {
        /* serf's flap: back within its FlapTimeout (60 s) of failing */
        if (m->status == GOSSIP_FAILED && g->now - m->leave_time < 60000)
            metrics_incr_l("serf.member.flap", 1, gossip_lan_label, 1);
        m->status = GOSSIP_ALIVE;
        m->leave_time = 0;
    }
    m->prune_at = 0;
    m->addr = n->addr;
    set_tags(m, n);
    memcpy(m->vsn, n->vsn, 6);
    gossip_addr_str(&n->addr, where, sizeof(where));
    LOG_INFO("gossip", "member '%s' joined at %s", m->name, where);
    gossip_snap_alive(g, m->name, &m->addr);
    metrics_incr_l("serf.member.join", 1, gossip_lan_label, 1);
    emit(g, GOSSIP_EVENT_JOIN, m);
}

void gossip_serf_node_leave(struct gossip *g, const struct gossip_node *n)
{
    struct gossip_member_st *m = gossip_member_st_get(g, n->name);
    enum gossip_event ev;

    if (m == NULL)
        return;
    if (m->status == GOSSIP_LEAVING) {
        m->status = GOSSIP_LEFT;
        ev = GOSSIP_EVENT_LEAVE;
    } else if (m->status == GOSSIP_ALIVE) {
        m->status = GOSSIP_FAILED;
        ev = GOSSIP_EVENT_FAILED;
    } else {
        LOG_WARN("gossip", "member '%s': leave in state %s", m->name,
                 gossip_status_name((enum gossip_status)m->status));
        return;
    }
    m->leave_time = g->now;
    if (ev == GOSSIP_EVENT_LEAVE)
        LOG_INFO("gossip", "member '%s' left", m->name);
    else
        LOG_INFO("gossip", "member '%s' failed", m->name);
    gossip_snap_not_alive(g, m->name);
    metrics_incr_l(ev == GOSSIP_EVENT_LEAVE ? "serf.member.left"
                                            : "serf.member.failed",
                   1, gossip_lan_label, 1);
    emit(g, ev, m);
}

void gossip_serf_node_update(struct gossip *g, const struct gossip_node *n)
{
    struct gossip_member_st *m = gossip_member_st_get(g, n->name);

    if (m == NULL)
        return;
    m->addr = n->addr;
    set_tags(m, n);
    memcpy(m->vsn, n->vsn, 6);
    LOG_INFO("gossip", "member '%s' updated", m->name);
    metrics_incr_l("serf.member.update", 1, gossip_lan_label, 1);
    emit(g, GOSSIP_EVENT_UPDATE, m);
}

/* ---- intents from the wire ---- */

static void prune(struct gossip *g, struct gossip_member_st *m)
{
    if (m->status == GOSSIP_LEAVING) {
        /* Let its own leave finish spreading first. */
        m->prune_at = g->now + g->t.broadcast_timeout + g->t.leave_propagate;
        gossip_sm_schedule(g, m->prune_at);
        return;
    }
    erase(g, m);
}

static void queue_intent(struct gossip *g, int type, const struct gs_join *m,
                         int notify)
{
    struct gossip_buf b;

    gossip_buf_init(&b, 0);
    if ((type == GS_JOIN ? gossip_enc_sjoin(&b, m)
                         : gossip_enc_sleave(&b, m)) == 0)
        gossip_q_push(g, &g->q_intent, NULL, b.p, b.len, notify);
    gossip_buf_release(&b);
}

int gossip_serf_broadcast_join(struct gossip *g)
{
    struct gs_join m;

    memset(&m, 0, sizeof(m));
    m.ltime = g->clock;
    snprintf(m.node, sizeof(m.node), "%s", g->name);
    gossip_witness(&g->clock, m.ltime);
    gossip_serf_join_intent(g, &m);
    queue_intent(g, GS_JOIN, &m, GB_NONE);
    return 0;
}

bool gossip_serf_leave_intent(struct gossip *g, const struct gs_join *msg)
{
    struct gossip_member_st *m = gossip_member_st_get(g, msg->node);

    gossip_witness(&g->clock, msg->ltime);
    if (m == NULL)
        return upsert_intent(g, msg->node, GS_LEAVE, msg->ltime);
    if (msg->ltime <= m->status_ltime)
        return false;
    if (strcmp(msg->node, g->name) == 0 && g->serf_state == GSERF_ALIVE) {
        LOG_DEBUG("gossip", "refuting an older leave intent");
        gossip_serf_broadcast_join(g);
        return false;
    }
    m->status_ltime = msg->ltime;
    switch (m->status) {
    case GOSSIP_ALIVE:
        m->status = GOSSIP_LEAVING;
        break;
    case GOSSIP_FAILED:
        m->status = GOSSIP_LEFT;
        LOG_INFO("gossip", "member '%s' left (forced)", m->name);
        emit(g, GOSSIP_EVENT_LEAVE, m);
        break;
    case GOSSIP_LEAVING:
    case GOSSIP_LEFT:
        break;
    default:
        return false;
    }
    if (msg->prune)
        prune(g, m);
    return true;
}

bool gossip_serf_join_intent(struct gossip *g, const struct gs_join *msg)
{
    struct gossip_member_st *m = gossip_member_st_get(g, msg->node);

    gossip_witness(&g->clock, msg->ltime);
    if (m == NULL)
        return upsert_intent(g, msg->node, GS_JOIN, msg->ltime);
    if (msg->ltime <= m->status_ltime)
        return false;
    m->status_ltime = msg->ltime;
    if (m->status == GOSSIP_LEAVING)
        m->status = GOSSIP_ALIVE;
    return true;
}

static bool has_alive_members(struct gossip *g)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->status == GOSSIP_ALIVE &&
            strcmp(g->members[i]->name, g->name) != 0)
            return true;
    return false;
}

int gossip_serf_force_leave(struct gossip *g, const char *node, bool prune_it,
                            char *err)
{
    struct gs_join m;
    char q[ERR_QUOTE_MAX + 1];

    if (gossip_member_st_get(g, node) == NULL)
        return err_set(err, ERR_NOTFOUND, "no node found with name '%s'",
                       err_quote(q, sizeof(q), node));
    memset(&m, 0, sizeof(m));
    m.ltime = g->clock++;
    snprintf(m.node, sizeof(m.node), "%s", node);
    m.prune = prune_it;
    gossip_serf_leave_intent(g, &m);
    if (has_alive_members(g))
        queue_intent(g, GS_LEAVE, &m, GB_NONE);
    return 0;
}

/* ---- our own leave ---- */

/* memberlist Leave: announce our own death, then wait for it. */
static void ml_leave(struct gossip *g)
{
    struct gossip_node *me = gossip_node_get(g, g->name);
    struct gm_suspect d;

    g->left = true;
    g->leave_phase = GL_PROPAGATE;
    g->leave_deadline = g->now + g->t.leave_propagate;
    if (me == NULL)
        return;
    memset(&d, 0, sizeof(d));
    d.inc = me->inc;
    snprintf(d.node, sizeof(d.node), "%s", g->name);
    snprintf(d.from, sizeof(d.from), "%s", g->name);
    if (gossip_sm_alive_others(g) > 0) {
        g->leave_phase = GL_DEAD;
        g->leave_deadline = g->now + g->t.broadcast_timeout;
    }
    gossip_sm_dead(g, &d, GB_NONE);
}

int gossip_serf_leave_start(struct gossip *g)
{
    struct gs_join m;

    if (g->serf_state == GSERF_LEAVING)
        return ERR_EXISTS;
    if (g->serf_state != GSERF_ALIVE)
        return ERR_SHUTDOWN;
    g->serf_state = GSERF_LEAVING;
    g->leave_rc = 0;
    gossip_snap_leave(g);
    memset(&m, 0, sizeof(m));
    m.ltime = g->clock++;
    snprintf(m.node, sizeof(m.node), "%s", g->name);
    gossip_serf_leave_intent(g, &m);
    if (has_alive_members(g)) {
        queue_intent(g, GS_LEAVE, &m, GB_LEAVE_INTENT);
        g->leave_phase = GL_INTENT;
        g->leave_deadline = g->now + g->t.broadcast_timeout;
    } else {
        ml_leave(g);
    }
    gossip_sm_schedule(g, g->leave_deadline);
    return 0;
}

void gossip_sm_bcast_done(struct gossip *g, int notify)
{
    if (notify == GB_LEAVE_INTENT && g->leave_phase == GL_INTENT) {
        ml_leave(g);
    } else if (notify == GB_LEAVE_DEAD && g->leave_phase == GL_DEAD) {
        g->leave_phase = GL_PROPAGATE;
        g->leave_deadline = g->now + g->t.leave_propagate;
    } else {
        return;
    }
    gossip_sm_schedule(g, g->leave_deadline);
}

void gossip_serf_leave_tick(struct gossip *g)
{
    gossip_done_cb cb;

    if (g->leave_phase == GL_NONE || g->leave_phase == GL_DONE)
        return;
    if (g->now < g->leave_deadline) {
        gossip_sm_schedule(g, g->leave_deadline);
        return;
    }
    if (g->leave_phase == GL_INTENT) {
        LOG_WARN("gossip", "timeout while waiting for the leave intent to "
                 "propagate");
        g->leave_rc = ERR_TIMEOUT;
        ml_leave(g);
    } else if (g->leave_phase == GL_DEAD) {
        LOG_WARN("gossip", "timeout waiting for the leave broadcast");
        g->leave_rc = ERR_TIMEOUT;
        g->leave_phase = GL_PROPAGATE;
        g->leave_deadline = g->now + g->t.leave_propagate;
    } else {
        g->leave_phase = GL_DONE;
        g->serf_state = GSERF_LEFT;
        LOG_INFO("gossip", "left the pool");
        cb = g->leave_cb;
        g->leave_cb = NULL;
        if (cb != NULL)
            cb(g->leave_ctx, g->leave_rc);
        return;
    }
    gossip_sm_schedule(g, g->leave_deadline);
}

/* ---- housekeeping ---- */

void gossip_serf_prune_tick(struct gossip *g)
{
    for (size_t i = 0; i < g->n_members;) {
        struct gossip_member_st *m = g->members[i];

        if (m->prune_at == 0) {
            i++;
        } else if (m->prune_at <= g->now) {
            erase(g, m);
        } else {
            gossip_sm_schedule(g, m->prune_at);
            i++;
        }
    }
}

void gossip_serf_reap_tick(struct gossip *g)
{
    for (size_t i = 0; i < g->n_members;) {
        struct gossip_member_st *m = g->members[i];
        uint64_t age = g->now - m->leave_time;

        if ((m->status == GOSSIP_FAILED && age > g->t.reconnect_timeout) ||
            (m->status == GOSSIP_LEFT && age > g->t.tombstone_timeout &&
             strcmp(m->name, g->name) != 0))
            erase(g, m);
        else
            i++;
    }
    reap_intents(g);
    gossip_q_prune(g, &g->q_intent, QUEUE_MAX);
    gossip_q_prune(g, &g->q_event, QUEUE_MAX);
    gossip_q_prune(g, &g->q_query, QUEUE_MAX);
}

/* Try one failed member again, more often when many have failed. */
void gossip_serf_reconnect_tick(struct gossip *g)
{
    size_t failed = 0, alive, pick;
    struct gossip_member_st *m = NULL;
    struct gossip_join *j;
    char addr[80];
    const char *a = addr;

    for (size_t i = 0; i < g->n_members; i++)
        failed += g->members[i]->status == GOSSIP_FAILED;
    if (failed == 0 || g->serf_state != GSERF_ALIVE)
        return;
    alive = g->n_members - failed;
    if ((double)(gossip_rand(g) % 10000) / 10000.0 >
        (double)failed / (double)(alive ? alive : 1))
        return;
    pick = gossip_rand(g) % failed;
    for (size_t i = 0; i < g->n_members && m == NULL; i++)
        if (g->members[i]->status == GOSSIP_FAILED && pick-- == 0)
            m = g->members[i];
    gossip_addr_str(&m->addr, addr, sizeof(addr));
    LOG_INFO("gossip", "attempting reconnect to '%s' at %s", m->name, addr);
    j = gossip_sm_join_new(g, &a, 1, NULL, NULL);
    if (j != NULL) {
        j->internal = j->started = true;
        gossip_sm_join_one(g, j, 0, &m->addr, m->name);
    }
}

void gossip_serf_free(struct gossip *g)
{
    for (size_t i = 0; i < g->n_members; i++) {
        free(g->members[i]->tags);
        free(g->members[i]);
    }
    free(g->members);
    gossip_tab_release(&g->member_tab);
    for (size_t i = 0; i < g->n_intents; i++)
        free(g->intents[i]);
    free(g->intents);
    gossip_tab_release(&g->intent_tab);
    for (size_t i = 0; g->evbuf != NULL && i < GOSSIP_EVENT_BUF; i++) {
        for (size_t k = 0; k < g->evbuf[i].n; k++) {
            free(g->evbuf[i].ev[k].name);
            free(g->evbuf[i].ev[k].payload);
        }
        free(g->evbuf[i].ev);
    }
    for (size_t i = 0; g->qbuf != NULL && i < GOSSIP_EVENT_BUF; i++)
        free(g->qbuf[i].ids);
}

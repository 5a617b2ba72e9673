/* gossip_serfev.c - serf user messages: intents, events, queries, state.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Every serf message arrives as a memberlist user message. Intents,
 * events and queries are re-broadcast once when new to us; events and
 * queries are de-duplicated over the last 512 Lamport times as serf
 * does. We answer queries' acks and the internal "_serf_conflict" query
 * (so serf's name-conflict resolution can count us) and ignore other
 * queries' payloads. serf's push/pull state (clocks, status times, left
 * members, recent events) is built and merged here.
 * Owns: the event and query de-duplication buffers.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <msgpack.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define INTERNAL_PREFIX "_serf_"
/* Bounds on what one Lamport time may hold (serf has none). */
#define SLOT_EVENTS_MAX 64
#define SLOT_QUERIES_MAX 256

/* ---- user events ---- */

static bool event_seen(struct gossip_evslot *s, const struct gs_event *e)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->ev[i].name) == e->name.len &&
            (e->name.len == 0 ||
             memcmp(s->ev[i].name, e->name.p, e->name.len) == 0) &&
            s->ev[i].len == e->payload.len &&
            (e->payload.len == 0 ||
             memcmp(s->ev[i].payload, e->payload.p, e->payload.len) == 0))
            return true;
    return false;
}

static void slot_reset(struct gossip_evslot *s, uint64_t ltime)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->ev[i].name);
        free(s->ev[i].payload);
    }
    free(s->ev);
    s->ev = NULL;
    s->n = 0;
    s->ltime = ltime;
}

static bool slot_add(struct gossip_evslot *s, const struct gs_event *e)
{
    struct gossip_evrec *ne = realloc(s->ev, (s->n + 1) * sizeof(*ne));
    struct gossip_evrec *r;

    if (ne == NULL)
        return false;
    s->ev = ne;
    r = &s->ev[s->n];
    /* An empty name may come with no pointer at all. */
    r->name = e->name.len > 0 ? strndup((const char *)e->name.p, e->name.len)
                              : strdup("");
    r->payload = malloc(e->payload.len ? e->payload.len : 1);
    r->len = e->payload.len;
    if (r->name == NULL || r->payload == NULL) {
        free(r->name);
        free(r->payload);
        return false;
    }
    if (e->payload.len)
        memcpy(r->payload, e->payload.p, e->payload.len);
    s->n++;
    return true;
}

static bool handle_event(struct gossip *g, const struct gs_event *e)
{
    struct gossip_evslot *s;

    gossip_witness(&g->event_clock, e->ltime);
    if (e->ltime < g->event_min)
        return false;
    if (g->event_clock > GOSSIP_EVENT_BUF &&
        e->ltime < g->event_clock - GOSSIP_EVENT_BUF) {
        LOG_WARN("gossip", "received old event from time %llu (current: "
                 "%llu)", (unsigned long long)e->ltime,
                 (unsigned long long)g->event_clock);
        return false;
    }
    s = &g->evbuf[e->ltime % GOSSIP_EVENT_BUF];
    if (s->ltime == e->ltime && s->n > 0) {
        if (event_seen(s, e) || s->n >= SLOT_EVENTS_MAX)
            return false;
    } else {
        slot_reset(s, e->ltime);
    }
    if (!slot_add(s, e))
        return false;
    gossip_snap_event_clock(g, e->ltime);
    if (g->on_user != NULL)
        g->on_user(g->cb_ctx, s->ev[s->n - 1].name, e->payload.p,
                   e->payload.len, e->ltime);
    return true;
}

int gossip_serf_user_event(struct gossip *g, const char *name,
                           const void *payload, size_t len, bool cc,
                           char *err)
{
    struct gs_event e;
    struct gossip_buf b;
    int rc;

    if (strlen(name) + len > GOSSIP_EVENT_SIZE_MAX)
        return err_set(err, ERR_TOOBIG, "user event exceeds configured "
                       "limit of %d bytes before encoding",
                       GOSSIP_EVENT_SIZE_MAX);
    memset(&e, 0, sizeof(e));
    e.ltime = g->event_clock;
    e.name.p = (const uint8_t *)name;
    e.name.len = strlen(name);
    e.payload.p = payload;
    e.payload.len = len;
    e.cc = cc;
    gossip_buf_init(&b, 0);
    rc = gossip_enc_sevent(&b, &e);
    if (rc == 0 && b.len > GOSSIP_EVENT_SIZE_MAX)
        rc = err_set(err, ERR_TOOBIG, "encoded user event exceeds "
                     "configured limit of %d bytes after encoding",
                     GOSSIP_EVENT_SIZE_MAX);
    else if (rc != 0)
        err_set(err, rc, "encoding event: %s", err_str(rc));
    if (rc == 0) {
        g->event_clock++;
        handle_event(g, &e);
        rc = gossip_q_push(g, &g->q_event, NULL, b.p, b.len, GB_NONE);
        if (rc != 0)
            err_set(err, rc, "queueing event: %s", err_str(rc));
    }
    gossip_buf_release(&b);
    return rc;
}

/* ---- queries ---- */

static bool tag_matches(struct gossip *g, const struct gossip_slice *tag,
                        const struct gossip_slice *expr)
{
    char *t = strndup((const char *)tag->p, tag->len);
    char *e = strndup((const char *)expr->p, expr->len);
    regex_t re;
    bool ok = false;

    for (size_t i = 0; t != NULL && e != NULL && i < g->n_tags; i++) {
        if (strcmp(g->tags[i].key, t) != 0)
            continue;
        if (regcomp(&re, e, REG_EXTENDED | REG_NOSUB) == 0) {
            ok = regexec(&re, g->tags[i].val, 0, NULL, 0) == 0;
            regfree(&re);
        }
    }
    free(t);
    free(e);
    return ok;
}

/* One filter: type byte, then a list of names or {Tag, Expr}. */
static bool filter_ok(struct gossip *g, const struct gossip_slice *f)
{
    struct gossip_mpr r;
    struct gossip_slice k, tag = {0}, expr = {0};
    char name[GOSSIP_NAME_MAX + 1];
    uint32_t n;
    bool hit = false;

    if (f->len < 1)
        return false;
    gossip_mpr_init(&r, f->p + 1, f->len - 1);
    if (f->p[0] == 0) {
        if (!gossip_mpr_array(&r, &n))
            return false;
        for (uint32_t i = 0; i < n && gossip_mpr_name(&r, name); i++)
            hit = hit || strcmp(name, g->name) == 0;
        return hit && r.rc == 0;
    }
    if (f->p[0] != 1 || !gossip_mpr_map(&r, &n))
        return false;
    for (uint32_t i = 0; i < n && gossip_mpr_key(&r, &k); i++) {
        if (gossip_key_is(&k, "Tag"))
            gossip_mpr_bytes(&r, &tag);
        else if (gossip_key_is(&k, "Expr"))
            gossip_mpr_bytes(&r, &expr);
        else
            gossip_mpr_skip(&r);
    }
    return r.rc == 0 && tag_matches(g, &tag, &expr);
}

static bool should_process(struct gossip *g, const struct gs_query *q)
{
    struct gossip_mpr r;
    struct gossip_slice f;

    gossip_mpr_init(&r, q->filters.p, q->filters.len);
    for (uint32_t i = 0; i < q->filters.n; i++)
        if (!gossip_mpr_bytes(&r, &f) || !filter_ok(g, &f))
            return false;
    return true;
}

/* A query response goes straight to the asker as a user message. */
static void respond(struct gossip *g, const struct gs_query *q,
                    uint32_t flags, const uint8_t *payload, size_t n)
{
    struct gs_qresp resp;
    struct gossip_buf b;

    if (q->addr.len == 0)
        return;
    memset(&resp, 0, sizeof(resp));
    resp.ltime = q->ltime;
    resp.id = q->id;
    snprintf(resp.from, sizeof(resp.from), "%s", g->name);
    resp.flags = flags;
    resp.payload.p = payload;
    resp.payload.len = n;
    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    gossip_buf_byte(&b, GM_USER);
    if (gossip_enc_sqresp(&b, &resp) == 0)
        g->tp.send(g, &q->addr, b.p, b.len);
    gossip_buf_release(&b);
}

/* serf's Member struct, for "_serf_conflict" answers. */
static void pack_member(struct gossip_buf *b,
                        const struct gossip_member_st *m)
{
    msgpack_packer pk;
    static const char *const vk[] = {"DelegateCur", "DelegateMax",
                                     "DelegateMin"};

    gossip_pk_init(&pk, b);
    if (m == NULL) {
        msgpack_pack_nil(&pk);
        return;
    }
    msgpack_pack_map(&pk, 11);
    gossip_pk_str(&pk, "Addr");
    gossip_pk_bytes(&pk, m->addr.ip, m->addr.len);
    for (int i = 0; i < 3; i++) {
        gossip_pk_str(&pk, vk[i]);
        msgpack_pack_uint8(&pk, m->vsn[5 - i]);
    }
    gossip_pk_str(&pk, "Name");
    gossip_pk_str(&pk, m->name);
    gossip_pk_str(&pk, "Port");
    msgpack_pack_uint16(&pk, m->addr.port);
    gossip_pk_str(&pk, "ProtocolCur");
    msgpack_pack_uint8(&pk, m->vsn[2]);
    gossip_pk_str(&pk, "ProtocolMax");
    msgpack_pack_uint8(&pk, m->vsn[1]);
    gossip_pk_str(&pk, "ProtocolMin");
    msgpack_pack_uint8(&pk, m->vsn[0]);
    gossip_pk_str(&pk, "Status");
    msgpack_pack_int(&pk, m->status);
    gossip_pk_str(&pk, "Tags");
    msgpack_pack_map(&pk, m->n_tags);
    for (size_t i = 0; i < m->n_tags; i++) {
        gossip_pk_str(&pk, m->tags[i].key);
        gossip_pk_str(&pk, m->tags[i].val);
    }
}

static void internal_query(struct gossip *g, const struct gs_query *q)
{
    const char *name = (const char *)q->name.p + strlen(INTERNAL_PREFIX);
    size_t nlen = q->name.len - strlen(INTERNAL_PREFIX);
    char node[GOSSIP_NAME_MAX + 1];
    struct gossip_buf b;

    if (nlen != 8 || memcmp(name, "conflict", 8) != 0 ||
        q->payload.len > GOSSIP_NAME_MAX)
        return;
    if (q->payload.len > 0)
        memcpy(node, q->payload.p, q->payload.len);
    node[q->payload.len] = '\0';
    if (strcmp(node, g->name) == 0)
        return;
    gossip_buf_init(&b, GOSSIP_UDP_MAX);
    gossip_buf_byte(&b, GS_CONFLICT);
    pack_member(&b, gossip_member_st_get(g, node));
    if (b.err == 0)
        respond(g, q, 0, b.p, b.len);
    gossip_buf_release(&b);
}

static bool query_seen(struct gossip *g, const struct gs_query *q)
{
    struct gossip_qslot *s = &g->qbuf[q->ltime % GOSSIP_EVENT_BUF];
    uint32_t *ni;

    if (s->ltime == q->ltime) {
        for (size_t i = 0; i < s->n; i++)
            if (s->ids[i] == q->id)
                return true;
        if (s->n >= SLOT_QUERIES_MAX)
            return true;
    } else {
        free(s->ids);
        s->ids = NULL;
        s->n = 0;
        s->ltime = q->ltime;
    }
    ni = realloc(s->ids, (s->n + 1) * sizeof(*ni));
    if (ni == NULL)
        return true;
    s->ids = ni;
    s->ids[s->n++] = q->id;
    return false;
}

static bool handle_query(struct gossip *g, const struct gs_query *q)
{
    size_t pl = strlen(INTERNAL_PREFIX);

    gossip_witness(&g->query_clock, q->ltime);
    if (q->ltime < g->query_min)
        return false;
    if (g->query_clock > GOSSIP_EVENT_BUF &&
        q->ltime < g->query_clock - GOSSIP_EVENT_BUF)
        return false;
    if (query_seen(g, q))
        return false;
    gossip_snap_query_clock(g, q->ltime);
    if (!should_process(g, q))
        return !(q->flags & GS_QUERY_NO_BROADCAST);
    if (q->flags & GS_QUERY_ACK)
        respond(g, q, GS_QUERY_ACK, NULL, 0);
    if (q->name.len > pl && memcmp(q->name.p, INTERNAL_PREFIX, pl) == 0)
        internal_query(g, q);
    return !(q->flags & GS_QUERY_NO_BROADCAST);
}

/* serf relays a query response through a third node. */
static void handle_relay(struct gossip *g, struct gossip_mpr *r)
{
    struct gossip_slice k, k2;
    struct gossip_addr to = {.len = 0};
    uint32_t n, n2;
    uint8_t pkt[GOSSIP_PKT_MAX];

    if (!gossip_mpr_map(r, &n))
        goto bad;
    for (uint32_t i = 0; i < n && gossip_mpr_key(r, &k); i++) {
        if (!gossip_key_is(&k, "DestAddr")) {
            gossip_mpr_skip(r);
            continue;
        }
        if (!gossip_mpr_map(r, &n2))
            goto bad;
        for (uint32_t j = 0; j < n2 && gossip_mpr_key(r, &k2); j++) {
            if (gossip_key_is(&k2, "IP"))
                gossip_mpr_ip(r, &to);
            else if (gossip_key_is(&k2, "Port"))
                gossip_mpr_u16(r, &to.port);
            else
                gossip_mpr_skip(r);
        }
    }
    if (r->rc != 0 || to.len == 0 || (size_t)(r->end - r->p) + 1 >
                                         sizeof(pkt))
        goto bad;
    pkt[0] = GM_USER;
    memcpy(pkt + 1, r->p, (size_t)(r->end - r->p));
    g->tp.send(g, &to, pkt, (size_t)(r->end - r->p) + 1);
    return;
bad:
    gossip_sm_drop(g, "serf relay message", r->rc ? r->rc : ERR_PARSE);
}

static struct gossip_queue *dispatch(struct gossip *g, int type,
                                     struct gossip_mpr *r, bool *again)
{
    struct gs_join j;
    struct gs_event e;
    struct gs_query q;
    struct gs_qresp qr;

    *again = false;
    switch (type) {
    case GS_LEAVE:
        if (gossip_dec_sleave(r, &j) == 0)
            *again = gossip_serf_leave_intent(g, &j);
        return &g->q_intent;
    case GS_JOIN:
        if (gossip_dec_sjoin(r, &j) == 0)
            *again = gossip_serf_join_intent(g, &j);
        return &g->q_intent;
    case GS_EVENT:
        if (gossip_dec_sevent(r, &e) == 0)
            *again = handle_event(g, &e);
        return &g->q_event;
    case GS_QUERY:
        if (gossip_dec_squery(r, &q) == 0)
            *again = handle_query(g, &q);
        return &g->q_query;
    case GS_QRESP:
        gossip_dec_sqresp(r, &qr);  /* we run no queries */
        return NULL;
    case GS_RELAY:
        handle_relay(g, r);
        return NULL;
    default:
        r->rc = ERR_UNSUPPORTED;
        return NULL;
    }
}

void gossip_serf_user_msg(struct gossip *g, const uint8_t *p, size_t n)
{
    struct gossip_mpr r;
    struct gossip_queue *q;
    bool again;

    if (n == 0)
        return;
    gossip_mpr_init(&r, p + 1, n - 1);
    q = dispatch(g, p[0], &r, &again);
    if (r.rc != 0) {
        gossip_sm_drop(g, "serf message", r.rc);
        return;
    }
    if (again && q != NULL)
        gossip_q_push(g, q, NULL, p, n, GB_NONE);
}

/* ---- push/pull user state ---- */

static void pack_events(struct gossip *g, msgpack_packer *pk)
{
    size_t n = 0;

    for (size_t i = 0; i < GOSSIP_EVENT_BUF; i++)
        n += g->evbuf[i].n > 0;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < GOSSIP_EVENT_BUF; i++) {
        const struct gossip_evslot *s = &g->evbuf[i];

        if (s->n == 0)
            continue;
        msgpack_pack_map(pk, 2);
        gossip_pk_str(pk, "Events");
        msgpack_pack_array(pk, s->n);
        for (size_t k = 0; k < s->n; k++) {
            msgpack_pack_map(pk, 2);
            gossip_pk_str(pk, "Name");
            gossip_pk_str(pk, s->ev[k].name);
            gossip_pk_str(pk, "Payload");
            gossip_pk_bytes(pk, s->ev[k].payload, s->ev[k].len);
        }
        gossip_pk_str(pk, "LTime");
        msgpack_pack_uint64(pk, s->ltime);
    }
}

int gossip_serf_local_state(struct gossip *g, struct gossip_buf *b)
{
    msgpack_packer pk;
    size_t left = 0;

    gossip_buf_byte(b, GS_PUSHPULL);
    gossip_pk_init(&pk, b);
    msgpack_pack_map(&pk, 6);
    gossip_pk_str(&pk, "EventLTime");
    msgpack_pack_uint64(&pk, g->event_clock);
    gossip_pk_str(&pk, "Events");
    pack_events(g, &pk);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, g->clock);
    gossip_pk_str(&pk, "LeftMembers");
    for (size_t i = 0; i < g->n_members; i++)
        left += g->members[i]->status == GOSSIP_LEFT;
    msgpack_pack_array(&pk, left);
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->status == GOSSIP_LEFT)
            gossip_pk_str(&pk, g->members[i]->name);
    gossip_pk_str(&pk, "QueryLTime");
    msgpack_pack_uint64(&pk, g->query_clock);
    gossip_pk_str(&pk, "StatusLTimes");
    msgpack_pack_map(&pk, g->n_members);
    for (size_t i = 0; i < g->n_members; i++) {
        gossip_pk_str(&pk, g->members[i]->name);
        msgpack_pack_uint64(&pk, g->members[i]->status_ltime);
    }
    return b->err;
}

static bool in_names(const struct gossip_slice *s, const char *name)
{
    struct gossip_mpr it;
    char n[GOSSIP_NAME_MAX + 1];

    gossip_mpr_init(&it, s->p, s->len);
    for (uint32_t i = 0; i < s->n && gossip_spp_left(&it, n); i++)
        if (strcmp(n, name) == 0)
            return true;
    return false;
}

static uint64_t status_of(const struct gossip_slice *s, const char *name)
{
    struct gossip_mpr it;
    char n[GOSSIP_NAME_MAX + 1];
    uint64_t t;

    gossip_mpr_init(&it, s->p, s->len);
    for (uint32_t i = 0; i < s->n && gossip_spp_status(&it, n, &t); i++)
        if (strcmp(n, name) == 0)
            return t;
    return 0;
}

static void merge_intents(struct gossip *g, const struct gs_pushpull *pp)
{
    struct gossip_mpr it;
    struct gs_join m;

    /* Left members first, one past their status time. */
    memset(&m, 0, sizeof(m));
    gossip_mpr_init(&it, pp->left.p, pp->left.len);
    for (uint32_t i = 0; i < pp->left.n && gossip_spp_left(&it, m.node);
         i++) {
        m.ltime = status_of(&pp->status, m.node) + 1;
        gossip_serf_leave_intent(g, &m);
    }
    gossip_mpr_init(&it, pp->status.p, pp->status.len);
    for (uint32_t i = 0;
         i < pp->status.n && gossip_spp_status(&it, m.node, &m.ltime); i++)
        if (!in_names(&pp->left, m.node))
            gossip_serf_join_intent(g, &m);
}

static void merge_events(struct gossip *g, const struct gs_pushpull *pp)
{
    struct gossip_mpr it, ev;
    struct gossip_slice evs;
    struct gs_event e;

    memset(&e, 0, sizeof(e));
    gossip_mpr_init(&it, pp->events.p, pp->events.len);
    for (uint32_t i = 0;
         i < pp->events.n && gossip_spp_events(&it, &e.ltime, &evs); i++) {
        gossip_mpr_init(&ev, evs.p, evs.len);
        for (uint32_t k = 0;
             k < evs.n && gossip_spp_event(&ev, &e.name, &e.payload); k++)
            handle_event(g, &e);
    }
}

void gossip_serf_merge_state(struct gossip *g, const uint8_t *p, size_t n,
                             bool join)
{
    struct gossip_mpr r;
    struct gs_pushpull pp;
    int rc;

    if (n == 0 || p[0] != GS_PUSHPULL) {
        gossip_sm_drop(g, "serf state", ERR_PARSE);
        return;
    }
    gossip_mpr_init(&r, p + 1, n - 1);
    rc = gossip_dec_spp(&r, &pp);
    if (rc != 0) {
        gossip_sm_drop(g, "serf state", rc);
        return;
    }
    if (pp.ltime > 0)
        gossip_witness(&g->clock, pp.ltime - 1);
    if (pp.event_ltime > 0)
        gossip_witness(&g->event_clock, pp.event_ltime - 1);
    if (pp.query_ltime > 0)
        gossip_witness(&g->query_clock, pp.query_ltime - 1);
    merge_intents(g, &pp);
    if (join && g->event_join_ignore && pp.event_ltime > g->event_min)
        g->event_min = pp.event_ltime;
    merge_events(g, &pp);
}

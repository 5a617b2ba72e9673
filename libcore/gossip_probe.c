/* gossip_probe.c - packets in, probes and gossip rounds out, timers.
 *
 * Layer: replication (uses util). Thread: loop only.
 * One probe at a time, round-robin over a shuffled node list: a UDP
 * ping; after probe_timeout, indirect pings through indirect_checks
 * peers (who nack if they hear nothing) plus a TCP ping; at the end of
 * the (health-scaled) probe interval, no ack means suspect. A peer that
 * answers only the TCP ping is not suspected, and we say once that its
 * UDP port looks blocked. Gossip rounds send queued broadcasts to
 * gossip_nodes random peers; pings and acks carry them too.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define COMPOUND_OVERHEAD 2
#define TCP_GRACE_MS 1000

/* ---- sending ---- */

static void raw_send(struct gossip *g, const struct gossip_node *to,
                     const struct gossip_addr *addr, const uint8_t *msg,
                     size_t len)
{
    uint8_t pkt[GOSSIP_PKT_MAX];
    uint32_t crc;

    if (to == NULL || to->vsn[1] < 5 || len + 5 > sizeof(pkt)) {
        g->tp.send(g, addr, msg, len);
        return;
    }
    crc = gossip_crc32(msg, len);
    pkt[0] = GM_CRC;
    pkt[1] = (uint8_t)(crc >> 24);
    pkt[2] = (uint8_t)(crc >> 16);
    pkt[3] = (uint8_t)(crc >> 8);
    pkt[4] = (uint8_t)crc;
    memcpy(pkt + 5, msg, len);
    g->tp.send(g, addr, pkt, len + 5);
}

static size_t serf_nodes(const struct gossip *g)
{
    return g->n_members;
}

/* memberlist's broadcasts first, then serf's intents, queries, events
 * (each as a memberlist user message). */
static void fill_broadcasts(struct gossip *g, size_t limit,
                            struct gossip_parts *pt)
{
    unsigned tl = gossip_sm_retransmit_limit(g, g->n_nodes);
    unsigned ts = gossip_sm_retransmit_limit(g, serf_nodes(g));
    size_t used = gossip_q_get(g, &g->q_ml, tl, COMPOUND_OVERHEAD, limit,
                               -1, pt);
    size_t avail = limit - used;

    if (avail <= COMPOUND_OVERHEAD + 1)
        return;
    avail -= gossip_q_get(g, &g->q_intent, ts, COMPOUND_OVERHEAD, avail,
                          GM_USER, pt);
    avail -= gossip_q_get(g, &g->q_query, ts, COMPOUND_OVERHEAD, avail,
                          GM_USER, pt);
    gossip_q_get(g, &g->q_event, ts, COMPOUND_OVERHEAD, avail, GM_USER, pt);
}

static void send_parts(struct gossip *g, const struct gossip_node *to,
                       const struct gossip_addr *addr,
                       const struct gossip_parts *pt)
{
    struct gossip_buf b;

    if (pt->n == 1) {
        raw_send(g, to, addr, pt->part[0].p, pt->part[0].len);
        return;
    }
    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    if (gossip_compound_build(&b, pt->part, pt->n) == 0)
        raw_send(g, to, addr, b.p, b.len);
    gossip_buf_release(&b);
}

/* Send msg, piggybacking whatever broadcasts still fit. */
void gossip_sm_send(struct gossip *g, const struct gossip_node *to,
                    const struct gossip_addr *addr, const uint8_t *msg,
                    size_t len)
{
    struct gossip_parts *pt;

    if (len + COMPOUND_OVERHEAD >= GOSSIP_UDP_MAX) {
        raw_send(g, to, addr, msg, len);
        return;
    }
    pt = malloc(sizeof(*pt));
    if (pt == NULL) {
        raw_send(g, to, addr, msg, len);
        return;
    }
    pt->n = pt->used = 0;
    gossip_parts_add(pt, -1, msg, len);
    fill_broadcasts(g, GOSSIP_UDP_MAX - len - COMPOUND_OVERHEAD, pt);
    send_parts(g, to, addr, pt);
    free(pt);
}

static void send_ack(struct gossip *g, const struct gossip_addr *to,
                     uint32_t seq)
{
    struct gossip_buf b;

    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    if (gossip_enc_ack(&b, seq, NULL, 0) == 0)
        gossip_sm_send(g, NULL, to, b.p, b.len);
    gossip_buf_release(&b);
}

static void send_nack(struct gossip *g, const struct gossip_addr *to,
                      uint32_t seq)
{
    struct gossip_buf b;

    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    if (gossip_enc_nack(&b, seq) == 0)
        gossip_sm_send(g, NULL, to, b.p, b.len);
    gossip_buf_release(&b);
}

/* ---- random peers ---- */

typedef bool (*skip_fn)(struct gossip *g, const struct gossip_node *n,
                        const void *ctx);

/* memberlist's kRandomNodes (3n random tries), then a walk from a
 * random place so that k eligible peers are always found if they exist. */
static size_t k_random(struct gossip *g, size_t k, skip_fn skip,
                       const void *ctx, struct gossip_node **out)
{
    size_t got = 0, n = g->n_nodes, start = n ? gossip_rand(g) % n : 0;

    for (size_t i = 0; i < 4 * n && got < k; i++) {
        struct gossip_node *c = g->nodes[i < 3 * n ? gossip_rand(g) % n
                                                   : (start + i) % n];
        bool dup = false;

        if (skip(g, c, ctx))
            continue;
        for (size_t j = 0; j < got && !dup; j++)
            dup = out[j] == c;
        if (!dup)
            out[got++] = c;
    }
    return got;
}

static bool skip_not_alive(struct gossip *g, const struct gossip_node *n,
                           const void *ctx)
{
    const char *target = ctx;

    return n->state != GN_ALIVE || strcmp(n->name, g->name) == 0 ||
           (target != NULL && strcmp(n->name, target) == 0);
}

static bool skip_gossip(struct gossip *g, const struct gossip_node *n,
                        const void *ctx)
{
    if (strcmp(n->name, g->name) == 0)
        return true;
    if (n->state == GN_ALIVE || n->state == GN_SUSPECT)
        return false;
    return n->state != GN_DEAD ||
           g->now - n->state_change > g->t.gossip_to_dead;
}

/* ---- handlers ---- */

static void handle_ping(struct gossip *g, struct gossip_mpr *r,
                        const struct gossip_addr *from)
{
    struct gm_ping m;
    int rc = gossip_dec_ping(r, &m);

    if (rc != 0) {
        gossip_sm_drop(g, "ping", rc);
        return;
    }
    if (m.node[0] != '\0' && strcmp(m.node, g->name) != 0) {
        LOG_DEBUG("gossip", "got ping for unexpected node '%s'", m.node);
        return;
    }
    send_ack(g, m.src.len && m.src.port ? &m.src : from, m.seq);
}

static void add_relay(struct gossip *g, struct gossip_relay *rl)
{
    struct gossip_relay **pp = &g->relays;

    if (g->n_relays >= GOSSIP_MAX_RELAYS) {
        /* Forget the oldest (the list tail). */
        while ((*pp)->next != NULL)
            pp = &(*pp)->next;
        free(*pp);
        *pp = NULL;
        g->n_relays--;
    }
    rl->next = g->relays;
    g->relays = rl;
    g->n_relays++;
    gossip_sm_schedule(g, rl->deadline);
}

static void handle_indirect(struct gossip *g, struct gossip_mpr *r,
                            const struct gossip_addr *from)
{
    struct gm_indirect m;
    struct gm_ping p;
    struct gossip_relay *rl;
    struct gossip_buf b;
    int rc = gossip_dec_indirect(r, &m);

    if (rc != 0 || m.target.len == 0) {
        gossip_sm_drop(g, "indirect ping", rc ? rc : ERR_PARSE);
        return;
    }
    if (m.target.port == 0)
        m.target.port = g->bind.port;
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return;
    memset(&p, 0, sizeof(p));
    p.seq = rl->seq = ++g->seq;
    rl->orig_seq = m.seq;
    rl->reply_to = m.src.len && m.src.port ? m.src : *from;
    rl->nack = m.nack;
    rl->deadline = g->now + g->t.probe_timeout;
    add_relay(g, rl);
    snprintf(p.node, sizeof(p.node), "%s", m.node);
    p.src = g->adv;
    snprintf(p.src_node, sizeof(p.src_node), "%s", g->name);
    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    if (gossip_enc_ping(&b, &p) == 0)
        gossip_sm_send(g, gossip_node_get(g, m.node), &m.target, b.p, b.len);
    gossip_buf_release(&b);
}

static void probe_ok(struct gossip *g)
{
    struct gossip_node *n = gossip_node_get(g, g->probe.node);

    if (n != NULL) {
        uint64_t us = (metrics_now_ns() - g->probe.start_ns) / 1000;

        n->udp_warned = false;
        /* Smoothed like TCP's SRTT (1/8 of each new sample). */
        n->rtt_us = n->rtt_us == 0 ? (us > 0 ? us : 1)
                                   : n->rtt_us - n->rtt_us / 8 + us / 8;
    }
    gossip_sm_awareness(g, -1);
    g->probe.phase = GP_IDLE;
    metrics_sample_l("memberlist.probeNode",
                     metrics_since_ms(g->probe.start_ns), gossip_lan_label, 1);
}

static void handle_ack(struct gossip *g, struct gossip_mpr *r)
{
    struct gm_ack m;
    struct gossip_relay **pp;
    int rc = gossip_dec_ack(r, &m);

    if (rc != 0) {
        gossip_sm_drop(g, "ack", rc);
        return;
    }
    if (g->probe.phase != GP_IDLE && m.seq == g->probe.seq) {
        probe_ok(g);
        return;
    }
    for (pp = &g->relays; *pp != NULL; pp = &(*pp)->next) {
        struct gossip_relay *rl = *pp;

        if (rl->seq != m.seq)
            continue;
        *pp = rl->next;
        g->n_relays--;
        send_ack(g, &rl->reply_to, rl->orig_seq);
        free(rl);
        return;
    }
}

static void handle_nack(struct gossip *g, struct gossip_mpr *r)
{
    uint32_t seq;
    int rc = gossip_dec_nack(r, &seq);

    if (rc != 0)
        gossip_sm_drop(g, "nack", rc);
    else if (g->probe.phase == GP_INDIRECT && seq == g->probe.seq)
        g->probe.nacks++;
}

static void handle_state(struct gossip *g, int type, struct gossip_mpr *r)
{
    struct gm_alive a;
    struct gm_suspect s;
    int rc;

    if (type == GM_ALIVE) {
        rc = gossip_dec_alive(r, &a);
        if (rc == 0 && a.addr.len == 0)
            rc = ERR_PARSE;
        if (rc != 0) {
            gossip_sm_drop(g, "alive message", rc);
            return;
        }
        if (a.addr.port == 0)
            a.addr.port = g->bind.port;
        gossip_sm_alive(g, &a, false, GB_NONE);
        return;
    }
    rc = gossip_dec_suspect(r, &s);
    if (rc == 0 && s.node[0] == '\0')
        rc = ERR_PARSE;
    if (rc != 0)
        gossip_sm_drop(g, type == GM_DEAD ? "dead message"
                                          : "suspect message", rc);
    else if (type == GM_DEAD)
        gossip_sm_dead(g, &s, GB_NONE);
    else
        gossip_sm_suspect(g, &s);
}

static void handle(struct gossip *g, const uint8_t *p, size_t n,
                   const struct gossip_addr *from, int depth);

static void handle_wrapped(struct gossip *g, const uint8_t *p, size_t n,
                           const struct gossip_addr *from, int depth)
{
    struct gossip_slice parts[255], buf;
    struct gossip_mpr r;
    size_t np, trunc;
    uint8_t *out;
    int rc;

    if (p[0] == GM_CRC) {
        if (n < 5 || gossip_crc32(p + 5, n - 5) !=
                         ((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                          (uint32_t)p[3] << 8 | p[4])) {
            gossip_sm_drop(g, "packet with a bad checksum", ERR_PARSE);
            return;
        }
        handle(g, p + 5, n - 5, from, depth + 1);
    } else if (p[0] == GM_COMPOUND) {
        rc = gossip_compound_parse(p + 1, n - 1, parts, &np, &trunc);
        if (rc != 0 || trunc > 0)
            gossip_sm_drop(g, "compound message", rc ? rc : GOSSIP_MORE);
        for (size_t i = 0; i < np; i++)
            handle(g, parts[i].p, parts[i].len, from, depth + 1);
    } else {
        gossip_mpr_init(&r, p + 1, n - 1);
        rc = gossip_dec_compress(&r, &buf);
        if (rc == 0)
            rc = gossip_lzw_decode(buf.p, buf.len, GOSSIP_UNZIP_UDP_MAX,
                                   &out, &np);
        if (rc != 0) {
            gossip_sm_drop(g, "compressed message", rc);
            return;
        }
        handle(g, out, np, from, depth + 1);
        free(out);
    }
}

static void handle(struct gossip *g, const uint8_t *p, size_t n,
                   const struct gossip_addr *from, int depth)
{
    struct gossip_mpr r;

    if (n < 1 || depth > GOSSIP_MAX_DEPTH) {
        gossip_sm_drop(g, n < 1 ? "empty message" : "nested message",
                       ERR_PARSE);
        return;
    }
    gossip_mpr_init(&r, p + 1, n - 1);
    switch (p[0]) {
    case GM_CRC:
    case GM_COMPOUND:
    case GM_COMPRESS:
        handle_wrapped(g, p, n, from, depth);
        break;
    case GM_PING:
        handle_ping(g, &r, from);
        break;
    case GM_INDIRECT:
        handle_indirect(g, &r, from);
        break;
    case GM_ACK:
        handle_ack(g, &r);
        break;
    case GM_NACK:
        handle_nack(g, &r);
        break;
    case GM_ALIVE:
    case GM_SUSPECT:
    case GM_DEAD:
        handle_state(g, p[0], &r);
        break;
    case GM_USER:
        gossip_serf_user_msg(g, p + 1, n - 1);
        break;
    case GM_ENCRYPT:
        if (!g->warned_encrypt)
            LOG_WARN("gossip", "got an encrypted packet but gossip "
                     "encryption is not configured here");
        g->warned_encrypt = true;
        gossip_sm_drop(g, "encrypted packet", ERR_UNSUPPORTED);
        break;
    default:
        gossip_sm_drop(g, "packet of unknown type", ERR_UNSUPPORTED);
        break;
    }
}

void gossip_sm_packet(struct gossip *g, const uint8_t *p, size_t n,
                      const struct gossip_addr *from)
{
    handle(g, p, n, from, 0);
}

/* ---- probes ---- */

static uint64_t probe_interval(const struct gossip *g)
{
    return (uint64_t)g->t.probe_interval * (uint64_t)(g->awareness + 1);
}

static void fill_ping(struct gossip *g, const struct gossip_node *n,
                      struct gm_ping *p)
{
    memset(p, 0, sizeof(*p));
    p->seq = g->probe.seq;
    snprintf(p->node, sizeof(p->node), "%s", n->name);
    p->src = g->adv;
    snprintf(p->src_node, sizeof(p->src_node), "%s", g->name);
}

/* A suspect gets the accusation along with the ping, to refute it. */
static void ping_suspect(struct gossip *g, struct gossip_node *n,
                         const struct gossip_buf *ping)
{
    struct gossip_buf s, c;
    struct gm_suspect sus;
    struct gossip_slice parts[2];

    memset(&sus, 0, sizeof(sus));
    sus.inc = n->inc;
    snprintf(sus.node, sizeof(sus.node), "%s", n->name);
    snprintf(sus.from, sizeof(sus.from), "%s", g->name);
    gossip_buf_init(&s, GOSSIP_PKT_MAX);
    gossip_buf_init(&c, GOSSIP_PKT_MAX);
    if (gossip_enc_suspect(&s, GM_SUSPECT, &sus) == 0) {
        parts[0] = (struct gossip_slice){ping->p, ping->len, 0};
        parts[1] = (struct gossip_slice){s.p, s.len, 0};
        if (gossip_compound_build(&c, parts, 2) == 0)
            raw_send(g, n, &n->addr, c.p, c.len);
    }
    gossip_buf_release(&s);
    gossip_buf_release(&c);
}

static void probe_node(struct gossip *g, struct gossip_node *n)
{
    struct gossip_buf b;
    struct gm_ping p;

    memset(&g->probe, 0, sizeof(g->probe));
    g->probe.phase = GP_DIRECT;
    snprintf(g->probe.node, sizeof(g->probe.node), "%s", n->name);
    g->probe.seq = ++g->seq;
    g->probe.timeout_at = g->now + g->t.probe_timeout;
    g->probe.deadline = g->now + probe_interval(g);
    g->probe.start_ns = metrics_now_ns();
    fill_ping(g, n, &p);
    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    if (gossip_enc_ping(&b, &p) == 0) {
        if (n->state == GN_ALIVE)
            gossip_sm_send(g, n, &n->addr, b.p, b.len);
        else
            ping_suspect(g, n, &b);
    }
    gossip_buf_release(&b);
    gossip_sm_schedule(g, g->probe.timeout_at);
}

void gossip_sm_probe_tick(struct gossip *g)
{
    g->t_probe = g->now + probe_interval(g);
    if (g->probe.phase != GP_IDLE || g->left)
        return;
    for (size_t checked = 0; checked <= g->n_nodes;) {
        struct gossip_node *n;

        if (g->probe_index >= g->n_nodes) {
            gossip_sm_reset_nodes(g);
            g->probe_index = 0;
            checked++;
            continue;
        }
        n = g->nodes[g->probe_index++];
        if (strcmp(n->name, g->name) == 0 || n->state == GN_DEAD ||
            n->state == GN_LEFT) {
            checked++;
            continue;
        }
        probe_node(g, n);
        return;
    }
}

static void go_indirect(struct gossip *g, struct gossip_node *n)
{
    struct gossip_node *peers[16];
    size_t k = g->t.indirect_checks < 16 ? g->t.indirect_checks : 16;
    struct gm_indirect ind;
    struct gossip_buf b;

    LOG_DEBUG("gossip", "failed UDP ping: '%s' (timeout reached)", n->name);
    k = k_random(g, k, skip_not_alive, n->name, peers);
    memset(&ind, 0, sizeof(ind));
    ind.seq = g->probe.seq;
    ind.target = n->addr;
    snprintf(ind.node, sizeof(ind.node), "%s", n->name);
    ind.src = g->adv;
    snprintf(ind.src_node, sizeof(ind.src_node), "%s", g->name);
    gossip_buf_init(&b, GOSSIP_PKT_MAX);
    for (size_t i = 0; i < k; i++) {
        ind.nack = peers[i]->vsn[1] >= 4;
        g->probe.expected_nacks += ind.nack;
        gossip_buf_reset(&b);
        if (gossip_enc_indirect(&b, &ind) == 0)
            gossip_sm_send(g, peers[i], &peers[i]->addr, b.p, b.len);
    }
    gossip_buf_release(&b);
    g->probe.phase = GP_INDIRECT;
    if (n->vsn[1] >= 3) {
        struct gossip_sop *op = gossip_sm_sop_new(g, GSOP_PING, &n->addr);
        struct gm_ping p;

        if (op == NULL)
            return;
        fill_ping(g, n, &p);
        op->seq = p.seq;
        snprintf(op->node, sizeof(op->node), "%s", n->name);
        gossip_buf_init(&b, GOSSIP_PKT_MAX);
        gossip_enc_ping(&b, &p);
        op->req = b.p;
        op->req_len = b.len;
        op->deadline = g->probe.deadline;
        g->probe.tcp = GT_PENDING;
        gossip_sm_sop_start(g, op);
    }
}

static void udp_blocked(struct gossip *g, struct gossip_node *n)
{
    char where[80];

    g->udp_blocked++;
    if (n->udp_warned)
        return;
    n->udp_warned = true;
    gossip_addr_str(&n->addr, where, sizeof(where));
    LOG_WARN("gossip", "member '%s' at %s answers TCP pings but no UDP "
             "probes: UDP port %u is blocked between us (gossip needs UDP "
             "and TCP on port %u both ways); not marking it failed",
             n->name, where, (unsigned)n->addr.port,
             (unsigned)n->addr.port);
}

static void probe_finish(struct gossip *g, struct gossip_node *n)
{
    int delta = 1;
    struct gm_suspect s;

    g->probe.phase = GP_IDLE;
    metrics_sample_l("memberlist.probeNode",
                     metrics_since_ms(g->probe.start_ns), gossip_lan_label, 1);
    if (g->probe.tcp == GT_OK) {
        udp_blocked(g, n);
        gossip_sm_awareness(g, -1);
        return;
    }
    if (g->probe.expected_nacks > 0)
        delta = g->probe.nacks < g->probe.expected_nacks
                    ? g->probe.expected_nacks - g->probe.nacks : 0;
    gossip_sm_awareness(g, delta);
    LOG_INFO("gossip", "suspect '%s' has failed, no acks received",
             n->name);
    memset(&s, 0, sizeof(s));
    s.inc = n->inc;
    snprintf(s.node, sizeof(s.node), "%s", n->name);
    snprintf(s.from, sizeof(s.from), "%s", g->name);
    gossip_sm_suspect(g, &s);
}

void gossip_sm_probe_timers(struct gossip *g)
{
    struct gossip_probe *pr = &g->probe;
    struct gossip_node *n;

    if (pr->phase == GP_IDLE)
        return;
    n = gossip_node_get(g, pr->node);
    if (n == NULL) {
        pr->phase = GP_IDLE;
        return;
    }
    if (pr->phase == GP_DIRECT && g->now >= pr->timeout_at)
        go_indirect(g, n);
    if (pr->phase == GP_INDIRECT && g->now >= pr->deadline &&
        (pr->tcp != GT_PENDING || g->now >= pr->deadline + TCP_GRACE_MS))
        probe_finish(g, n);
    if (pr->phase == GP_DIRECT)
        gossip_sm_schedule(g, pr->timeout_at);
    else if (pr->phase == GP_INDIRECT)
        gossip_sm_schedule(g, g->now < pr->deadline
                                  ? pr->deadline
                                  : pr->deadline + TCP_GRACE_MS);
}

/* The TCP fallback ping finished. */
void gossip_sm_probe_tcp(struct gossip *g, uint32_t seq, bool ok)
{
    struct gossip_node *n;

    if (g->probe.phase != GP_INDIRECT || g->probe.seq != seq)
        return;
    g->probe.tcp = ok ? GT_OK : GT_FAIL;
    n = gossip_node_get(g, g->probe.node);
    if (n != NULL && g->now >= g->probe.deadline)
        probe_finish(g, n);
}

static void relay_timers(struct gossip *g)
{
    struct gossip_relay **pp = &g->relays;

    while (*pp != NULL) {
        struct gossip_relay *rl = *pp;

        if (rl->deadline > g->now) {
            gossip_sm_schedule(g, rl->deadline);
            pp = &rl->next;
            continue;
        }
        *pp = rl->next;
        g->n_relays--;
        if (rl->nack)
            send_nack(g, &rl->reply_to, rl->orig_seq);
        free(rl);
    }
}

/* ---- gossip and push/pull rounds ---- */

void gossip_sm_gossip_tick(struct gossip *g)
{
    struct gossip_node *peers[16];
    size_t k = g->t.gossip_nodes < 16 ? g->t.gossip_nodes : 16;
    struct gossip_parts *pt;
    uint64_t t0 = metrics_now_ns();

    g->t_gossip = g->now + g->t.gossip_interval;
    if (g->n_nodes == 0)
        return;
    k = k_random(g, k, skip_gossip, NULL, peers);
    pt = malloc(sizeof(*pt));
    if (pt == NULL)
        return;
    for (size_t i = 0; i < k; i++) {
        pt->n = pt->used = 0;
        fill_broadcasts(g, GOSSIP_UDP_MAX - COMPOUND_OVERHEAD, pt);
        if (pt->n == 0)
            break;
        send_parts(g, peers[i], &peers[i]->addr, pt);
    }
    free(pt);
    metrics_sample_l("memberlist.gossip", metrics_since_ms(t0),
                     gossip_lan_label, 1);
}

static uint64_t pushpull_scale(const struct gossip *g)
{
    double n = (double)g->n_nodes, mult;

    if (g->n_nodes <= 32)
        return g->t.push_pull_interval;
    mult = ceil(log2(n) - log2(32.0)) + 1.0;
    return (uint64_t)mult * g->t.push_pull_interval;
}

void gossip_sm_pushpull_tick(struct gossip *g)
{
    struct gossip_node *peer;
    struct gossip_sop *op;
    struct gossip_buf b;

    g->t_pushpull = g->now + pushpull_scale(g);
    if (g->n_nodes == 0 || k_random(g, 1, skip_not_alive, NULL, &peer) == 0)
        return;
    op = gossip_sm_sop_new(g, GSOP_PUSHPULL, &peer->addr);
    if (op == NULL)
        return;
    snprintf(op->node, sizeof(op->node), "%s", peer->name);
    gossip_buf_init(&b, 0);
    if (gossip_sm_encode_state(g, false, &b) != 0) {
        gossip_buf_release(&b);
        gossip_sm_stream_done(g, op, ERR_NOMEM, NULL, 0, NULL);
        return;
    }
    op->req = b.p;
    op->req_len = b.len;
    gossip_sm_sop_start(g, op);
}

/* ---- the clock ---- */

static void periodic(struct gossip *g)
{
    if (g->now >= g->t_probe)
        gossip_sm_probe_tick(g);
    if (g->now >= g->t_gossip)
        gossip_sm_gossip_tick(g);
    if (g->now >= g->t_pushpull)
        gossip_sm_pushpull_tick(g);
    if (g->now >= g->t_reap) {
        g->t_reap = g->now + g->t.reap_interval;
        gossip_serf_reap_tick(g);
    }
    if (g->now >= g->t_reconnect) {
        g->t_reconnect = g->now + g->t.reconnect_interval;
        gossip_serf_reconnect_tick(g);
    }
    if (g->now >= g->t_snap) {
        g->t_snap = g->now + 500;
        gossip_snap_tick(g);
    }
    gossip_sm_schedule(g, g->t_probe);
    gossip_sm_schedule(g, g->t_gossip);
    gossip_sm_schedule(g, g->t_pushpull);
    gossip_sm_schedule(g, g->t_reap);
    gossip_sm_schedule(g, g->t_reconnect);
    gossip_sm_schedule(g, g->t_snap);
}

/* Run everything due at `now`; returns when to come back. */
uint64_t gossip_sm_advance(struct gossip *g, uint64_t now)
{
    if (now > g->now)
        g->now = now;
    for (int round = 0; round < 16; round++) {
        g->next_wake = UINT64_MAX;
        periodic(g);
        gossip_sm_probe_timers(g);
        relay_timers(g);
        gossip_sm_susp_tick(g);
        gossip_serf_prune_tick(g);
        gossip_serf_leave_tick(g);
        gossip_sm_join_tick(g);
        if (g->next_wake > g->now)
            break;
    }
    return g->next_wake;
}

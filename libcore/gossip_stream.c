/* gossip_stream.c - the TCP side of the protocol, transport-agnostic.
 *
 * Layer: replication (uses util). Thread: loop only.
 * A stream carries one message each way: push/pull (joins and the
 * periodic sync), a fallback ping, or a user message. memberlist may
 * wrap it in one LZW "compress" message, which we unwrap (we send
 * plain). Outbound exchanges are gossip_sop records the transport
 * completes through gossip_sm_stream_done(); inbound bytes go through
 * gossip_sm_stream_in(), which says whether more are needed.
 * Owns: every gossip_sop and gossip_join until it completes.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

struct gossip_sop *gossip_sm_sop_new(struct gossip *g, int kind,
                                     const struct gossip_addr *to)
{
    struct gossip_sop *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return NULL;
    op->kind = kind;
    op->to = *to;
    op->deadline = g->now + g->t.tcp_timeout;
    op->next = &g->sops;
    op->prev = g->sops.prev;
    g->sops.prev->next = op;
    g->sops.prev = op;
    return op;
}

void gossip_sm_sop_start(struct gossip *g, struct gossip_sop *op)
{
    g->tp.stream(g, op);
}

/* How much of a stream message is here: 0 complete, GOSSIP_MORE, or
 * ERR_PARSE. Only the outer layer is checked for compressed ones. */
int gossip_stream_need(const uint8_t *p, size_t n)
{
    struct gossip_mpr r;
    struct gossip_ppview v;
    struct gossip_slice s;
    struct gm_ping ping;
    struct gm_ack ack;
    char msg[8];
    int64_t len;

    if (n < 1)
        return GOSSIP_MORE;
    gossip_mpr_init(&r, p + 1, n - 1);
    switch (p[0]) {
    case GM_COMPRESS:
        return gossip_dec_compress(&r, &s);
    case GM_PUSHPULL:
        return gossip_pp_parse(p + 1, n - 1, &v);
    case GM_PING:
        return gossip_dec_ping(&r, &ping);
    case GM_ACK:
        return gossip_dec_ack(&r, &ack);
    case GM_ERR:
        return gossip_dec_err(&r, msg, sizeof(msg));
    case GM_USER:
        if (gossip_dec_user_hdr(&r, &len) != 0)
            return r.rc;
        return (uint64_t)(r.end - r.p) < (uint64_t)len ? GOSSIP_MORE : 0;
    case GM_ENCRYPT:
        return 0;   /* refused by the caller */
    default:
        return ERR_PARSE;
    }
}

/* Strip compression: *type and *body describe the inner message; *tmp
 * is what to free. why gets a message on failure. */
static int unwrap(const uint8_t *p, size_t n, int *type, const uint8_t **body,
                  size_t *blen, uint8_t **tmp, char *why)
{
    struct gossip_mpr r;
    struct gossip_slice s;
    size_t out_len;
    int rc;

    *tmp = NULL;
    if (p[0] == GM_ENCRYPT)
        return err_set(why, ERR_UNSUPPORTED, "remote state is encrypted "
                       "and encryption is not configured");
    if (p[0] != GM_COMPRESS) {
        *type = p[0];
        *body = p + 1;
        *blen = n - 1;
        return 0;
    }
    gossip_mpr_init(&r, p + 1, n - 1);
    rc = gossip_dec_compress(&r, &s);
    if (rc == 0)
        rc = gossip_lzw_decode(s.p, s.len, GOSSIP_STREAM_MAX, tmp, &out_len);
    if (rc == 0 && out_len < 1)
        rc = ERR_PARSE;
    if (rc != 0) {
        free(*tmp);
        *tmp = NULL;
        return err_set(why, ERR_PARSE, "bad compressed stream: %s",
                       err_str(rc == GOSSIP_MORE ? ERR_PARSE : rc));
    }
    *type = (*tmp)[0];
    *body = *tmp + 1;
    *blen = out_len - 1;
    return 0;
}

static int in_pushpull(struct gossip *g, const uint8_t *p, size_t n,
                       struct gossip_buf *reply, char *why)
{
    struct gossip_ppview v;
    bool join;
    int rc = gossip_pp_parse(p, n, &v);

    if (rc != 0)
        return err_set(why, ERR_PARSE, "malformed push/pull state");
    if (v.h.join && gossip_sm_check_conflicts(g, p, n, true, why) != 0) {
        LOG_WARN("gossip", "refused a join: %s", why);
        return ERR_CONFLICT;
    }
    rc = gossip_sm_encode_state(g, v.h.join, reply);
    if (rc != 0)
        return err_set(why, rc, "encoding our state: %s", err_str(rc));
    rc = gossip_sm_merge_state(g, p, n, &join, why);
    if (rc != 0)
        LOG_ERROR("gossip", "push/pull merge failed: %s", why);
    return 0;
}

static int in_ping(struct gossip *g, const uint8_t *p, size_t n,
                   struct gossip_buf *reply, char *why)
{
    struct gossip_mpr r;
    struct gm_ping m;
    int rc;

    gossip_mpr_init(&r, p, n);
    rc = gossip_dec_ping(&r, &m);
    if (rc != 0)
        return err_set(why, ERR_PARSE, "malformed ping");
    if (m.node[0] != '\0' && strcmp(m.node, g->name) != 0)
        return err_set(why, ERR_INVAL, "got ping for unexpected node '%s'",
                       m.node);
    return gossip_enc_ack(reply, m.seq, NULL, 0);
}

static int in_user(struct gossip *g, const uint8_t *p, size_t n, char *why)
{
    struct gossip_mpr r;
    int64_t len;

    gossip_mpr_init(&r, p, n);
    if (gossip_dec_user_hdr(&r, &len) != 0 ||
        (uint64_t)(r.end - r.p) < (uint64_t)len)
        return err_set(why, ERR_PARSE, "malformed user message");
    if (len > 0)
        gossip_serf_user_msg(g, r.p, (size_t)len);
    return 0;
}

/* One inbound message. GOSSIP_MORE: read on. 0: write reply (maybe
 * empty) and close. < 0: write reply (an error message, maybe) and
 * close; the failure is counted. */
int gossip_sm_stream_in(struct gossip *g, const uint8_t *p, size_t n,
                        struct gossip_buf *reply)
{
    char why[ERR_LEN] = "";
    const uint8_t *body;
    size_t blen;
    uint8_t *tmp = NULL;
    int type, rc = gossip_stream_need(p, n);

    if (rc == GOSSIP_MORE)
        return rc;
    if (rc == 0)
        rc = unwrap(p, n, &type, &body, &blen, &tmp, why);
    else
        err_set(why, ERR_PARSE, "malformed stream message");
    if (rc == 0) {
        if (type == GM_PUSHPULL)
            rc = in_pushpull(g, body, blen, reply, why);
        else if (type == GM_PING)
            rc = in_ping(g, body, blen, reply, why);
        else if (type == GM_USER)
            rc = in_user(g, body, blen, why);
        else
            rc = err_set(why, ERR_PARSE, "unexpected stream message type "
                         "%d", type);
    }
    free(tmp);
    if (rc != 0 && rc != ERR_CONFLICT)
        gossip_sm_drop(g, "stream", rc);
    if (rc != 0 && why[0] != '\0') {
        gossip_buf_reset(reply);
        gossip_enc_err(reply, why);
    }
    return rc;
}

/* ---- outbound completions ---- */

/* The reply to one of our requests: its type and body. */
static int reply_body(const uint8_t *p, size_t n, int want, uint8_t **tmp,
                      const uint8_t **body, size_t *blen, char *why)
{
    struct gossip_mpr r;
    char msg[ERR_LEN - 32];
    int type, rc;

    if (n < 1 || gossip_stream_need(p, n) != 0)
        return err_set(why, ERR_PARSE, "malformed reply");
    rc = unwrap(p, n, &type, body, blen, tmp, why);
    if (rc != 0)
        return rc;
    if (type == GM_ERR) {
        gossip_mpr_init(&r, *body, *blen);
        gossip_dec_err(&r, msg, sizeof(msg));
        return err_set(why, ERR_DENIED, "remote error: %s", msg);
    }
    if (type != want)
        return err_set(why, ERR_PARSE, "unexpected reply type %d", type);
    return 0;
}

static void done_ping(struct gossip *g, struct gossip_sop *op, int rc,
                      const uint8_t *p, size_t n)
{
    char why[ERR_LEN];
    const uint8_t *body;
    size_t blen;
    uint8_t *tmp = NULL;
    struct gossip_mpr r;
    struct gm_ack ack;
    bool ok = false;

    if (rc == 0 && reply_body(p, n, GM_ACK, &tmp, &body, &blen, why) == 0) {
        gossip_mpr_init(&r, body, blen);
        ok = gossip_dec_ack(&r, &ack) == 0 && ack.seq == op->seq;
    }
    free(tmp);
    if (rc != ERR_SHUTDOWN)
        gossip_sm_probe_tcp(g, op->seq, ok);
}

/* A push/pull answer: check (joins), then merge. */
static int merge_reply(struct gossip *g, struct gossip_sop *op,
                       const uint8_t *p, size_t n, char *why)
{
    const uint8_t *body;
    size_t blen;
    uint8_t *tmp = NULL;
    bool join;
    int rc = reply_body(p, n, GM_PUSHPULL, &tmp, &body, &blen, why);

    if (rc == 0 && op->kind == GSOP_JOIN)
        rc = gossip_sm_check_conflicts(g, body, blen, false, why);
    if (rc == 0) {
        g->event_join_ignore = op->ignore_old;
        rc = gossip_sm_merge_state(g, body, blen, &join, why);
        g->event_join_ignore = false;
    }
    free(tmp);
    return rc;
}

static void join_step(struct gossip *g, struct gossip_join *j, size_t idx,
                      int rc, const char *why);

void gossip_sm_stream_done(struct gossip *g, struct gossip_sop *op, int rc,
                           const uint8_t *p, size_t n, const char *why_in)
{
    char why[ERR_LEN];

    op->prev->next = op->next;
    op->next->prev = op->prev;
    snprintf(why, sizeof(why), "%s", why_in ? why_in : err_str(rc));
    if (op->kind == GSOP_PING) {
        done_ping(g, op, rc, p, n);
    } else {
        if (rc == 0)
            rc = merge_reply(g, op, p, n, why);
        if (op->kind == GSOP_JOIN)
            join_step(g, op->join, op->join_idx, rc, why);
        else if (rc != 0 && rc != ERR_SHUTDOWN)
            LOG_ERROR("gossip", "push/pull with '%s' failed: %s", op->node,
                      why);
    }
    free(op->req);
    free(op);
}

/* ---- joins ---- */

static void join_free(struct gossip_join *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->addr[i]);
        free(j->msg[i]);
    }
    free(j->addr);
    free(j->msg);
    free(j->rc);
    free(j);
}

static void join_finish(struct gossip *g, struct gossip_join *j)
{
    struct gossip_join_result *res = calloc(j->n ? j->n : 1, sizeof(*res));
    struct gossip_join **pp;

    for (pp = &g->joins; *pp != NULL; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (j->joined > 0 && !j->internal && !g->closing &&
        g->serf_state == GSERF_ALIVE)
        gossip_serf_broadcast_join(g);
    for (size_t i = 0; res != NULL && i < j->n; i++) {
        res[i].addr = j->addr[i];
        res[i].rc = j->rc[i];
        res[i].err = j->msg[i];
    }
    if (j->cb != NULL)
        j->cb(j->ctx, j->joined, res, res ? j->n : 0);
    free(res);
    join_free(j);
}

/* Run the callbacks of joins that are complete; always from the clock
 * (or at shutdown), never inside the call that started them. */
void gossip_sm_join_tick(struct gossip *g)
{
    for (int guard = 0; guard < 1024; guard++) {
        struct gossip_join *j = g->joins;

        while (j != NULL && (!j->started || j->pending > 0))
            j = j->next;
        if (j == NULL)
            return;
        join_finish(g, j);
    }
}

/* Record the outcome for address idx. */
static void join_step(struct gossip *g, struct gossip_join *j, size_t idx,
                      int rc, const char *why)
{
    char buf[ERR_LEN + 160];

    j->rc[idx] = rc;
    if (rc == 0) {
        j->joined++;
    } else {
        snprintf(buf, sizeof(buf), "Error joining address '%s': %s",
                 j->addr[idx], why);
        free(j->msg[idx]);
        j->msg[idx] = strdup(buf);
        if (rc != ERR_SHUTDOWN)
            LOG_DEBUG("gossip", "%s", buf);
    }
    if (j->pending > 0)
        j->pending--;
    gossip_sm_schedule(g, g->now);
}

void gossip_sm_join_fail(struct gossip *g, struct gossip_join *j, size_t idx,
                         int rc, const char *why)
{
    join_step(g, j, idx, rc, why);
}

/* Start a join push/pull to addrs[idx] (already resolved). */
int gossip_sm_join_one(struct gossip *g, struct gossip_join *j, size_t idx,
                       const struct gossip_addr *to, const char *node)
{
    struct gossip_sop *op = gossip_sm_sop_new(g, GSOP_JOIN, to);
    struct gossip_buf b;
    int rc;

    if (op == NULL) {
        join_step(g, j, idx, ERR_NOMEM, "out of memory");
        return ERR_NOMEM;
    }
    if (j->event_ignore)
        op->ignore_old = true;
    op->join = j;
    op->join_idx = idx;
    if (node != NULL)
        snprintf(op->node, sizeof(op->node), "%s", node);
    gossip_buf_init(&b, 0);
    rc = gossip_sm_encode_state(g, true, &b);
    if (rc != 0) {
        gossip_buf_release(&b);
        gossip_sm_stream_done(g, op, rc, NULL, 0, "encoding our state");
        return rc;
    }
    op->req = b.p;
    op->req_len = b.len;
    gossip_sm_sop_start(g, op);
    return 0;
}

/* A join record for n addresses; every address must then be either
 * started with gossip_sm_join_one or failed with gossip_sm_join_fail,
 * and j->started set once that is done (the callback waits for it). */
struct gossip_join *gossip_sm_join_new(struct gossip *g,
                                       const char *const *addrs, size_t n,
                                       gossip_join_cb cb, void *ctx)
{
    struct gossip_join *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return NULL;
    j->g = g;
    j->cb = cb;
    j->ctx = ctx;
    j->n = j->pending = n;
    j->addr = calloc(n ? n : 1, sizeof(char *));
    j->msg = calloc(n ? n : 1, sizeof(char *));
    j->rc = calloc(n ? n : 1, sizeof(int));
    if (j->addr == NULL || j->msg == NULL || j->rc == NULL) {
        join_free(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if ((j->addr[i] = strdup(addrs[i])) == NULL) {
            join_free(j);
            return NULL;
        }
    j->next = g->joins;
    g->joins = j;
    return j;
}

/* httpd_readidx.c - a linearizable read served by a follower itself:
 * the leader confirms its leadership with a barrier and tells its
 * applied index; the follower answers once it has applied as far.
 *
 * Layer: http. Thread: loop only.
 * Owns: struct ridx (in the request's pool) while the follower waits.
 * Tests: t/t5002-snapshot-cluster.sh (GET /v1/snapshot on a follower)
 *
 * Used where relaying the leader's answer would mean holding a large
 * body in memory (a snapshot): the follower streams its own state, which
 * then contains every write acknowledged before the request arrived.
 *   GET /v1/internal/proconsul/read-index  (port 8300 only)
 *     leader: barrier, then 200 {"Index": <applied index>}
 *     else: 500 No cluster leader
 * While no leader is known the request is held and retried every
 * RETRY_MS up to HOLD_MS (as forwarding does), then 500 "No cluster
 * leader"; a follower that cannot catch up within HOLD_MS answers 500.
 */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define RETRY_MS 100
#define CATCHUP_POLL_MS 5
#define HOLD_MS 7000
#define CALL_MS 5000
#define TARGET "/v1/internal/proconsul/read-index"

struct ridx {
    void (*then)(struct httpd_ctx *c);
    uint64_t deadline;
    uint64_t want;
    bool have;
};

/* ---- leader side ---- */

static void barrier_done(void *ctx, int rc)
{
    struct httpd_ctx *c = httpd_async_end(ctx);

    if (c == NULL)
        return;
    if (rc != 0 || !agent_is_leader(c->a)) {
        httpd_error(c, 500, "no_leader", "No cluster leader");
        return;
    }
    httpd_send_json(c, 200, json_pack("{s:I}", "Index",
                                      (json_int_t)c->a->fsm.last_index));
}

void httpd_internal_read_index(struct httpd_ctx *c)
{
    struct httpd_pending *p;
    char err[ERR_LEN];

    if (!c->a->has_raft || !agent_is_leader(c->a)) {
        httpd_error(c, 500, "no_leader", "No cluster leader");
        return;
    }
    if ((p = httpd_async_begin(c)) == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    if (agent_barrier(c->a, barrier_done, p, err) != 0) {
        c = httpd_async_end(p);
        if (c != NULL)
            httpd_error(c, 500, "no_leader", "No cluster leader");
    }
}

/* ---- follower side ---- */

static void step(struct httpd_ctx *c);

static void on_reply(void *ctx, int rc, const struct rpc_response *r,
                     const char *err)
{
    struct httpd_ctx *c = httpd_async_end(ctx);
    struct ridx *x;
    json_t *o;

    if (c == NULL)
        return;
    x = c->data;
    if (rc == 0 && r->status == 200 &&
        (o = json_loadb(r->body, r->body_len, 0, NULL)) != NULL) {
        json_int_t idx = json_integer_value(json_object_get(o, "Index"));

        json_decref(o);
        if (idx > 0) {
            x->want = (uint64_t)idx;
            x->have = true;
            step(c);
            return;
        }
    }
    LOG_DEBUG("http", "read index from the leader failed: %s",
              rc != 0 ? err : "bad answer");
    httpd_later(c, RETRY_MS, step);
}

static void ask(struct httpd_ctx *c, const char *addr)
{
    struct httpd_pending *p = httpd_async_begin(c);
    char err[ERR_LEN];

    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    if (rpc_http_call(c->a->rpcc, addr, "GET", TARGET, NULL, 0, NULL, 0,
                      CALL_MS, on_reply, p, NULL, err) != 0) {
        c = httpd_async_end(p);
        if (c != NULL)
            httpd_later(c, RETRY_MS, step);
    }
}

static void step(struct httpd_ctx *c)
{
    struct ridx *x = c->data;
    const char *addr;

    if (agent_is_leader(c->a)) {
        x->then(c);
        return;
    }
    if (x->have && c->a->fsm.last_index >= x->want) {
        x->then(c);
        return;
    }
    if (uv_now(c->a->loop) >= x->deadline) {
        httpd_error(c, 500, "no_leader", x->have
                    ? "timed out catching up with the leader"
                    : "No cluster leader");
        return;
    }
    if (x->have) {
        httpd_later(c, CATCHUP_POLL_MS, step);
        return;
    }
    addr = agent_leader(c->a);
    if (addr == NULL || agent_leader_pending(c->a)) {
        httpd_later(c, RETRY_MS, step);
        return;
    }
    ask(c, addr);
}

void httpd_read_index(struct httpd_ctx *c, void (*then)(struct httpd_ctx *c))
{
    struct ridx *x = h2o_mem_alloc_pool(&c->req->pool, sizeof(*x));

    memset(x, 0, sizeof(*x));
    x->then = then;
    x->deadline = uv_now(c->a->loop) + HOLD_MS;
    c->data = x;
    step(c);
}

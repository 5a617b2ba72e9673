/* raftglue.c - libraft with its uv I/O and TCP transport on our loop.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Owns: struct raft, raft_io, transport, the poll timer.
 * Tests: t/t1004-kv-persist.sh, t/t3*.sh
 * The FSM adapter and entry framing are in raftglue_fsm.c.
 */
#include "raftglue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "util_fs.h"

#define POLL_MS 50

struct apply_req {
    struct raft_apply req;
    struct raftglue *rg;
    raftglue_apply_cb cb;
    void *ctx;
};

struct barrier_req {
    struct raft_barrier req;
    raftglue_barrier_cb cb;
    void *ctx;
};

static void tracer_emit(struct raft_tracer *t, const char *file, int line,
                        const char *message)
{
    (void)t;
    LOG_TRACE("raft", "%s:%d %s", file, line, message);
}

static const char *state_name(int state)
{
    switch (state) {
    case RAFT_LEADER: return "Leader";
    case RAFT_FOLLOWER: return "Follower";
    case RAFT_CANDIDATE: return "Candidate";
    default: return "Unavailable";
    }
}

static void poll_cb(uv_timer_t *t)
{
    struct raftglue *rg = t->data;
    int st = raft_state(&rg->raft);
    int old = rg->last_state;

    if (raftglue_leader_address(rg) != NULL)
        rg->last_contact_ms = uv_now(rg->loop);
    if (st == old)
        return;
    rg->last_state = st;
    LOG_INFO("raft", "entering %s state (term %llu)", state_name(st),
             (unsigned long long)rg->raft.current_term);
    if (rg->on_state != NULL)
        rg->on_state(rg->state_ctx, old, st);
}

int raftglue_init(struct raftglue *rg, uv_loop_t *loop, struct fsm *fsm,
                  const char *dir, raft_id id, const char *address,
                  const struct raftglue_opts *opts, char *err)
{
    int rv;

    memset(rg, 0, sizeof(*rg));
    rg->loop = loop;
    rg->fsm = fsm;
    rg->last_state = RAFT_UNAVAILABLE;
    snprintf(rg->address, sizeof(rg->address), "%s", address);
    if (util_mkdir_p(dir, 0700, err) != 0)
        return ERR_IO;
    raftglue_fsm_init(&rg->gfsm, fsm, &rg->raft);
    rv = raft_uv_tcp_init(&rg->transport, loop);
    if (rv != 0)
        return err_set(err, ERR_IO, "raft transport: %s", raft_strerror(rv));
    rv = raft_uv_init(&rg->io, loop, dir, &rg->transport);
    if (rv != 0) {
        err_set(err, ERR_IO, "raft storage in '%s': %s", dir,
                rg->io.errmsg);
        raft_uv_tcp_close(&rg->transport);
        return ERR_IO;
    }
    rg->tracer.impl = rg;
    rg->tracer.enabled = log_get_level() <= LOG_LVL_TRACE;
    rg->tracer.emit = tracer_emit;
    raft_uv_set_tracer(&rg->io, &rg->tracer);
    rv = raft_init(&rg->raft, &rg->io, &rg->gfsm.iface, id, address);
    if (rv != 0) {
        err_set(err, ERR_IO, "raft init: %s", raft_errmsg(&rg->raft));
        raft_uv_close(&rg->io);
        raft_uv_tcp_close(&rg->transport);
        return ERR_IO;
    }
    rg->raft.tracer = &rg->tracer;
    rg->raft.data = rg;
    raft_set_election_timeout(&rg->raft, opts->election_timeout_ms);
    raft_set_heartbeat_timeout(&rg->raft, opts->heartbeat_timeout_ms);
    raft_set_snapshot_threshold(&rg->raft, opts->snapshot_threshold);
    raft_set_snapshot_trailing(&rg->raft, opts->snapshot_trailing);
    raft_set_pre_vote(&rg->raft, true);
    return 0;
}

int raftglue_bootstrap_self(struct raftglue *rg, char *err)
{
    struct raft_configuration conf;
    int rv;

    raft_configuration_init(&conf);
    rv = raft_configuration_add(&conf, rg->raft.id, rg->address, RAFT_VOTER);
    if (rv == 0)
        rv = raft_bootstrap(&rg->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP)
        return 0; /* state exists already: never bootstrap twice */
    if (rv != 0)
        return err_set(err, ERR_IO, "raft bootstrap: %s",
                       raft_errmsg(&rg->raft));
    LOG_INFO("raft", "bootstrapped a new cluster with this server as its "
                     "only voter");
    return 0;
}

int raftglue_start(struct raftglue *rg, char *err)
{
    int rv = raft_start(&rg->raft);

    if (rv != 0)
        return err_set(err, ERR_IO, "raft start: %s",
                       raft_errmsg(&rg->raft));
    rg->started = true;
    uv_timer_init(rg->loop, &rg->poll);
    rg->poll.data = rg;
    uv_timer_start(&rg->poll, poll_cb, 0, POLL_MS);
    return 0;
}

static int map_raft_err(int rv)
{
    switch (rv) {
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST:
        return ERR_NOLEADER;
    case RAFT_SHUTDOWN:
    case RAFT_CANCELED:
        return ERR_SHUTDOWN;
    case RAFT_NOMEM:
        return ERR_NOMEM;
    case RAFT_TOOBIG:
        return ERR_TOOBIG;
    default:
        return ERR_IO;
    }
}

static void apply_done(struct raft_apply *req, int status, void *result)
{
    struct apply_req *ar = req->data;
    struct fsm_result res;

    if (status == 0 && result != NULL) {
        res = *(struct fsm_result *)result;
        ar->cb(ar->ctx, 0, &res);
    } else {
        ar->cb(ar->ctx, status == 0 ? ERR_INTERNAL : map_raft_err(status),
               NULL);
    }
    free(ar);
}

int raftglue_apply(struct raftglue *rg, void *buf, size_t len,
                   raftglue_apply_cb cb, void *ctx, char *err)
{
    struct raft_buffer rb;
    struct apply_req *ar;
    int rv;

    if (rg->closing)
        return err_set(err, ERR_SHUTDOWN, "agent is shutting down");
    ar = calloc(1, sizeof(*ar));
    if (ar == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (raftglue_frame(buf, len, &rb, err) != 0) {
        free(ar);
        return ERR_NOMEM;
    }
    ar->rg = rg;
    ar->cb = cb;
    ar->ctx = ctx;
    ar->req.data = ar;
    rv = raft_apply(&rg->raft, &ar->req, &rb, 1, apply_done);
    if (rv != 0) {
        free(ar);
        raft_free(rb.base);
        return err_set(err, map_raft_err(rv), "%s",
                       rv == RAFT_NOTLEADER ? "No cluster leader"
                                            : raft_strerror(rv));
    }
    raft_free(buf); /* the framed copy went to raft */
    return 0;
}

static void barrier_done(struct raft_barrier *req, int status)
{
    struct barrier_req *br = req->data;

    br->cb(br->ctx, status == 0 ? 0 : map_raft_err(status));
    free(br);
}

int raftglue_barrier(struct raftglue *rg, raftglue_barrier_cb cb, void *ctx,
                     char *err)
{
    struct barrier_req *br;
    int rv;

    if (rg->closing)
        return err_set(err, ERR_SHUTDOWN, "agent is shutting down");
    br = calloc(1, sizeof(*br));
    if (br == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    br->cb = cb;
    br->ctx = ctx;
    br->req.data = br;
    rv = raft_barrier(&rg->raft, &br->req, barrier_done);
    if (rv != 0) {
        free(br);
        return err_set(err, map_raft_err(rv), "%s",
                       rv == RAFT_NOTLEADER ? "No cluster leader"
                                            : raft_strerror(rv));
    }
    return 0;
}

bool raftglue_is_leader(struct raftglue *rg)
{
    return rg->started && !rg->closing &&
           raft_state(&rg->raft) == RAFT_LEADER;
}

const char *raftglue_leader_address(struct raftglue *rg)
{
    raft_id id = 0;
    const char *addr = NULL;

    if (!rg->started || rg->closing)
        return NULL;
    raft_leader(&rg->raft, &id, &addr);
    return id == 0 ? NULL : addr;
}

const char *raftglue_state_name(struct raftglue *rg)
{
    return state_name(rg->started ? raft_state(&rg->raft)
                                  : RAFT_UNAVAILABLE);
}

uint64_t raftglue_last_contact(struct raftglue *rg)
{
    uint64_t now = uv_now(rg->loop);

    if (raftglue_is_leader(rg) || rg->last_contact_ms == 0)
        return 0;
    return now > rg->last_contact_ms ? now - rg->last_contact_ms : 0;
}

void raftglue_stats(struct raftglue *rg, struct raftglue_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->term = rg->raft.current_term;
    st->commit_index = rg->raft.commit_index;
    st->applied_index = raft_last_applied(&rg->raft);
    st->last_log_index = raft_last_index(&rg->raft);
    st->last_snapshot_index = rg->raft.log.snapshot.last_index;
    st->num_peers = rg->raft.configuration.n > 0
                        ? rg->raft.configuration.n - 1 : 0;
}

void raftglue_servers(struct raftglue *rg, raftglue_server_fn fn, void *ctx)
{
    const struct raft_configuration *c = &rg->raft.configuration;

    for (unsigned i = 0; i < c->n; i++)
        fn(ctx, c->servers[i].id, c->servers[i].address,
           c->servers[i].role == RAFT_VOTER);
}

void raftglue_set_state_cb(struct raftglue *rg, raftglue_state_cb cb,
                           void *ctx)
{
    rg->on_state = cb;
    rg->state_ctx = ctx;
}

static void poll_closed(uv_handle_t *h)
{
    struct raftglue *rg = h->data;

    if (rg->close_cb != NULL)
        rg->close_cb(rg);
}

static void raft_closed(struct raft *r)
{
    struct raftglue *rg = r->data;

    raft_uv_close(&rg->io);
    raft_uv_tcp_close(&rg->transport);
    if (rg->started) {
        uv_timer_stop(&rg->poll);
        uv_close((uv_handle_t *)&rg->poll, poll_closed);
    } else if (rg->close_cb != NULL) {
        rg->close_cb(rg);
    }
}

void raftglue_close(struct raftglue *rg, raftglue_close_cb cb)
{
    if (rg->closing)
        return;
    rg->closing = true;
    rg->close_cb = cb;
    rg->raft.data = rg;
    raft_close(&rg->raft, raft_closed);
}

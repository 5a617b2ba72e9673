/* raftglue.c - libraft with its uv I/O and TCP transport on our loop.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Owns: struct raft, raft_io, transport, the poll timer.
 * Tests: t/t1004-kv-persist.sh
 *
 * Index of an applied command: libraft calls fsm->apply before it bumps
 * last_applied, so inside apply the entry's index is last_applied + 1.
 * Log entries are framed: libraft 0.15 pads entry data to 8 bytes on
 * disk but reads back unpadded lengths, so a command whose length is not
 * a multiple of 8 corrupts the segment it lands in. Every entry is
 * therefore "PCR1" + u32 payload length (little endian) + payload +
 * zero padding to a multiple of 8.
 * Apply results live in rg->last_result: libraft hands the pointer to the
 * request callback synchronously, and on followers (no callback) nothing
 * needs freeing.
 */
#include "raftglue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "util_fs.h"

#define POLL_MS 50
#define FRAME_MAGIC 0x31524350u /* "PCR1" read as little endian */
#define FRAME_HDR 8

static void put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Unframe an entry; returns 0 and the payload, or -1. */
static int unframe(const struct raft_buffer *buf, const void **data,
                   size_t *len)
{
    const unsigned char *p = buf->base;
    uint32_t n;

    if (buf->len < FRAME_HDR || get_u32le(p) != FRAME_MAGIC)
        return -1;
    n = get_u32le(p + 4);
    if (n > buf->len - FRAME_HDR)
        return -1;
    *data = p + FRAME_HDR;
    *len = n;
    return 0;
}

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

static int fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
                        void **result)
{
    struct raftglue *rg = rf->data;
    uint64_t index = raft_last_applied(&rg->raft) + 1;
    char err[ERR_LEN];
    int rc;

    const void *data;
    size_t len;

    memset(&rg->last_result, 0, sizeof(rg->last_result));
    rc = unframe(buf, &data, &len) != 0
             ? err_set(err, ERR_PARSE, "bad entry frame")
             : fsm_apply(rg->fsm, index, data, len, &rg->last_result, err);
    if (rc != 0) {
        /* A command we cannot decode must not wedge the log. */
        LOG_ERROR("raft", "skipping entry %llu: %s",
                  (unsigned long long)index, err);
        rg->last_result.rc = rc;
        rg->last_result.index = index;
        rg->fsm->last_index = index;
    }
    *result = &rg->last_result;
    return 0;
}

static int fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
                           unsigned *n_bufs)
{
    struct raftglue *rg = rf->data;
    char err[ERR_LEN];
    void *data = NULL;
    size_t len = 0;

    *bufs = raft_malloc(sizeof(**bufs));
    if (*bufs == NULL)
        return RAFT_NOMEM;
    if (fsm_snapshot(rg->fsm, raft_malloc, &data, &len, err) != 0) {
        LOG_ERROR("raft", "snapshot failed: %s", err);
        raft_free(*bufs);
        *bufs = NULL;
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = data;
    (*bufs)[0].len = len;
    *n_bufs = 1;
    LOG_INFO("raft", "snapshot of state at index %llu: %zu bytes",
             (unsigned long long)rg->fsm->last_index, len);
    return 0;
}

static int fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct raftglue *rg = rf->data;
    char err[ERR_LEN];

    if (fsm_restore(rg->fsm, buf->base, buf->len, err) != 0) {
        LOG_ERROR("raft", "restoring snapshot failed: %s", err);
        return RAFT_CORRUPT;
    }
    raft_free(buf->base); /* ownership moved to us on success */
    LOG_INFO("raft", "restored state from snapshot at index %llu",
             (unsigned long long)rg->fsm->last_index);
    return 0;
}

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

static void init_fsm_iface(struct raftglue *rg)
{
    memset(&rg->fsm_iface, 0, sizeof(rg->fsm_iface));
    rg->fsm_iface.version = 1;
    rg->fsm_iface.data = rg;
    rg->fsm_iface.apply = fsm_apply_cb;
    rg->fsm_iface.snapshot = fsm_snapshot_cb;
    rg->fsm_iface.restore = fsm_restore_cb;
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
    init_fsm_iface(rg);
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
    rv = raft_init(&rg->raft, &rg->io, &rg->fsm_iface, id, address);
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
    if (len > UINT32_MAX - 16)
        return err_set(err, ERR_TOOBIG, "command too large");
    rb.len = FRAME_HDR + ((len + 7) & ~(size_t)7);
    rb.base = raft_calloc(1, rb.len);
    ar = calloc(1, sizeof(*ar));
    if (ar == NULL || rb.base == NULL) {
        free(ar);
        raft_free(rb.base);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    put_u32le(rb.base, FRAME_MAGIC);
    put_u32le((unsigned char *)rb.base + 4, (uint32_t)len);
    memcpy((unsigned char *)rb.base + FRAME_HDR, buf, len);
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

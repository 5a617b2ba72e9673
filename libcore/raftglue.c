/* raftglue.c - libraft with its uv I/O and the rpc transport on our loop.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Owns: struct raft, raft_io, transport, the poll timer.
 * Tests: t/t1004-kv-persist.sh, t/t4*.sh
 * The FSM adapter and entry framing are in raftglue_fsm.c.
 */
#include "raftglue.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "mem_nofork.h"
#include "metrics.h"
#include "util_fs.h"

#define POLL_MS 50

/* Commands are not handed to libraft one by one: raft_apply sends
 * every follower an AppendEntries (a writev each) at once and starts a
 * log write, so at 16 connections the leader made two sends and a write
 * per request, and each follower a read, a write and an answer.
 * raftglue_apply queues the command; a check handle (run once per loop
 * turn, after the I/O callbacks) gives libraft all of the turn's
 * commands in one raft_apply: one message per follower, one log write.
 * libraft 0.15 calls a request's callback when its FIRST entry is
 * applied, so each command is completed from the FSM's apply (on_applied
 * below, in index order), and only while this server is still the
 * leader of the term it appended them in: after that, an index may hold
 * another leader's entry, and every pending command fails with
 * ERR_LOSTLEADER (it may still commit, as before). */
struct batch;

struct batch_item {
    raftglue_apply_cb cb;      /* NULL once completed */
    void *ctx;
    uint64_t start_ns;
    uint64_t index;
    struct batch *b;
    struct batch_item *next;   /* rg->pend_head queue, by index */
};

struct batch {
    struct raft_apply req;
    struct raftglue *rg;
    uint64_t term;
    unsigned refs;             /* items not completed + libraft's cb */
    struct batch_item items[];
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

static void append_flush_held(struct raftglue *rg);
static void pend_fail_all(struct raftglue *rg, int code);
static void on_applied(void *ctx, uint64_t index,
                       const struct fsm_result *res);

/* xorshift64 for timer jitter (snapshot checks, elections): no secret,
 * and no OpenSSL at start */
static uint64_t jitter(struct raftglue *rg, uint64_t below)
{
    uint64_t x = rg->jitter_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rg->jitter_state = x;
    return below == 0 ? 0 : x % below;
}

static void snap_barrier_done(void *ctx, int rc)
{
    (void)ctx;
    (void)rc; /* lost leadership: the new leader's entries will do */
}

/* RAFTGLUE_SNAP_BYTES: libraft looks at its threshold after applying,
 * so lower it to what is already applied; a barrier from the leader is
 * an entry for every server to apply. */
static void snap_bytes(struct raftglue *rg, raft_index applied,
                       raft_index snap)
{
    uint64_t held = rg->gfsm.bytes_applied - rg->snap_bytes_mark;
    raft_index n = applied - snap;
    char err[ERR_LEN];

    if (rg->snap_bytes_asked || held < RAFTGLUE_SNAP_BYTES || n == 0 ||
        fsm_restore_pending(rg->fsm)) /* no snapshot while staging */
        return;
    rg->snap_bytes_asked = true;
    LOG_INFO("raft", "%llu MiB of commands since the last snapshot: "
             "taking one", (unsigned long long)(held >> 20));
    /* After a restore, keep only the entries after its commit: libraft
     * keeps a count of entries past a snapshot, and the restore's 1 MiB
     * pieces would stay in memory (a million keys: 290 MB per server).
     * The count is set back once the snapshot is done. */
    if (rg->gfsm.stage_end_index > snap && rg->gfsm.after_trailing != 0 &&
        applied - rg->gfsm.stage_end_index + 1 < rg->gfsm.after_trailing)
        raft_set_snapshot_trailing(
            &rg->raft, (unsigned)(applied - rg->gfsm.stage_end_index + 1));
    raft_set_snapshot_threshold(&rg->raft,
                                n > UINT_MAX ? UINT_MAX : (unsigned)n);
    if (raft_state(&rg->raft) == RAFT_LEADER)
        raftglue_barrier(rg, snap_barrier_done, NULL, err);
}

/* When raft_snapshot_interval is set (raftglue_opts), libraft's
 * threshold stays at the memory ceiling and is lowered to
 * raft_snapshot_threshold here, from the 50 ms poll, when the check
 * HashiCorp Raft makes every interval..2 x interval (30-60 s by
 * default) finds at least threshold entries applied since the last
 * snapshot; the delay is counted from the last snapshot and drawn per
 * server, so the servers seldom snapshot together. raftglue_fsm.c
 * raises it again once the snapshot is taken. libraft alone snapshots
 * at the threshold: every 2 s under a heavy write load, all three
 * servers at the same index. (Snapshotting as soon as a server fell
 * idle was tried: the idle leader's barrier made all three snapshot at
 * once, and with a million keys a snapshot restore started at such a
 * moment failed with leadership lost.) */
static void snap_pace(struct raftglue *rg)
{
    uint64_t now = uv_now(rg->loop);
    raft_index applied = rg->raft.last_applied;
    raft_index snap = rg->raft.log.snapshot.last_index;
    bool due;

    if (snap != rg->snap_index) { /* one taken: the clock restarts */
        rg->snap_index = snap;
        rg->snap_due_ms = 0;
        rg->snap_bytes_mark = rg->gfsm.bytes_applied;
        rg->snap_bytes_asked = false;
    }
    snap_bytes(rg, applied, snap);
    if (rg->snap_interval_ms == 0)
        return;
    if (rg->snap_due_ms != 0 && now < rg->snap_due_ms)
        return;
    due = rg->snap_due_ms != 0; /* 0: only (re)starting the clock */
    rg->snap_due_ms = now + rg->snap_interval_ms +
                      jitter(rg, rg->snap_interval_ms);
    if (due && applied - snap >= rg->snap_threshold)
        raft_set_snapshot_threshold(&rg->raft, rg->snap_threshold);
}

/* A follower that staged every piece of a restore has its commit
 * coming. The leader applies it first, and the swap holds the leader's
 * loop, heartbeats included, for as long as it takes (seconds with a
 * million keys); only then does the commit reach the followers, whose
 * own swap then holds them (raftglue_fsm.c restarts their election
 * timer after it). Waiting out the leader's swap with the timer running
 * would make them campaign in the middle of a restore, so meanwhile the
 * timer is kept restarted, for RESTORE_HOLD_MS at most: a leader that
 * died for good is then found that much later, unless its connection
 * closed (peer_gone), which ends the hold at once. */
#define RESTORE_HOLD_MS 15000

static void hold_for_restore(struct raftglue *rg)
{
    struct raft *r = &rg->raft;
    uint64_t now = uv_now(rg->loop);

    if (r->state != RAFT_FOLLOWER || rg->leader_gone != 0 ||
        r->follower_state.current_leader.id == 0 ||
        !fsm_restore_complete(rg->fsm)) {
        rg->restore_hold_since = 0;
        return;
    }
    if (rg->restore_hold_since == 0) {
        rg->restore_hold_since = now;
        LOG_INFO("raft", "every piece of a restore is staged: waiting for "
                 "its commit (election timer held up to %d s)",
                 RESTORE_HOLD_MS / 1000);
    }
    if (now - rg->restore_hold_since < RESTORE_HOLD_MS)
        r->election_timer_start = now;
}

static void poll_cb(uv_timer_t *t)
{
    struct raftglue *rg = t->data;
    int st, old = rg->last_state;

    append_flush_held(rg);
    if (rg->pend_head != NULL && rg->raft.state != RAFT_LEADER)
        pend_fail_all(rg, ERR_LOSTLEADER);
    hold_for_restore(rg);
    raftglue_fsm_hold(&rg->gfsm);
    snap_pace(rg);
    raftglue_fsm_trim(&rg->gfsm);
    st = raft_state(&rg->raft);

    if (raftglue_leader_address(rg) != NULL)
        rg->last_contact_ms = uv_now(rg->loop);
    if (st == old)
        return;
    rg->last_state = st;
    LOG_INFO("raft", "entering %s state (term %llu)", state_name(st),
             (unsigned long long)rg->raft.current_term);
    if (st == RAFT_LEADER)
        metrics_incr("raft.state.leader", 1);
    else if (st == RAFT_FOLLOWER)
        metrics_incr("raft.state.follower", 1);
    else if (st == RAFT_CANDIDATE)
        metrics_incr("raft.state.candidate", 1);
    if (rg->on_state != NULL)
        rg->on_state(rg->state_ctx, old, st);
}

#define RG_OF(io) \
    ((struct raftglue *)((char *)(io) - offsetof(struct raftglue, io)))

static void heard_from(struct raftglue *rg, uint64_t id)
{
    size_t i, free_slot = RAFTGLUE_MAX_HEARD;

    for (i = 0; i < RAFTGLUE_MAX_HEARD; i++) {
        if (rg->heard[i].id == id)
            break;
        if (rg->heard[i].id == 0 && free_slot == RAFTGLUE_MAX_HEARD)
            free_slot = i;
    }
    if (i == RAFTGLUE_MAX_HEARD)
        i = free_slot;
    if (i == RAFTGLUE_MAX_HEARD)
        return;
    rg->heard[i].id = id;
    rg->heard[i].ms = uv_now(rg->loop);
}

static uint64_t heard_ms(const struct raftglue *rg, uint64_t id)
{
    for (size_t i = 0; i < RAFTGLUE_MAX_HEARD; i++)
        if (rg->heard[i].id == id)
            return rg->heard[i].ms;
    return 0;
}

/* The thesis (4.2.3) has a follower refuse votes only "within the
 * minimum election timeout of hearing from a current leader"; libraft
 * 0.15 refuses them for as long as it knows a leader, i.e. until its
 * own randomized timer (1-2 election timeouts) expires. After a leader
 * dies that makes the election wait for the slowest survivor's timer
 * (the max of two randomized timeouts with three servers) instead of
 * the first one's. A vote request reaching a follower that has not
 * heard from its leader for an election timeout is let through as
 * libraft lets a leadership transfer through; safety does not depend on
 * this check, only liveness does. */
static void unstick_vote(struct raftglue *rg, struct raft_message *msg)
{
    struct raft *r = &rg->raft;
    uint64_t last;

    if (msg->type != RAFT_IO_REQUEST_VOTE ||
        msg->request_vote.disrupt_leader || r->state != RAFT_FOLLOWER ||
        r->follower_state.current_leader.id == 0)
        return;
    last = heard_ms(rg, r->follower_state.current_leader.id);
    if (last != 0 && uv_now(rg->loop) - last < r->election_timeout &&
        r->follower_state.current_leader.id != rg->leader_gone)
        return;
    msg->request_vote.disrupt_leader = true;
}

/* The stream we opened to server id read EOF or a reset
 * (rpc_raft_on_peer_gone). When id is our leader its process most
 * likely died: a killed or crashed process has its sockets closed by
 * the kernel at once, and every follower sees it within a round trip.
 * Waiting out the randomized election timeout (1-2 x 1 s) then only
 * adds downtime, so the election timer is cut to LEADER_GONE_SPREAD_MS
 * from now, drawn per server so that the two survivors of three seldom
 * campaign together, and votes are let through (unstick_vote) since no
 * leader can be heard any more. Safety never rests on timers; if the
 * leader is in fact alive (only this connection broke), the other
 * followers, still hearing it, refuse the pre-vote and its next
 * heartbeat makes this server a follower again. A leader that hangs or
 * is cut off without its sockets closing is still found by the timeout. */
#define LEADER_GONE_SPREAD_MS 300

static void peer_gone(void *ctx, uint64_t id)
{
    struct raftglue *rg = ctx;
    struct raft *r = &rg->raft;
    raft_time now;
    uint64_t left;

    if (!rg->started || rg->closing || r->state != RAFT_FOLLOWER ||
        r->follower_state.current_leader.id != id)
        return;
    rg->leader_gone = id;
    now = uv_now(rg->loop);
    left = 1 + jitter(rg, LEADER_GONE_SPREAD_MS);
    if (now - r->election_timer_start + left <
        r->follower_state.randomized_election_timeout)
        r->follower_state.randomized_election_timeout =
            (unsigned)(now - r->election_timer_start + left);
    LOG_INFO("raft", "the connection to the leader closed: electing a new "
             "one in %llu ms unless it is heard again",
             (unsigned long long)left);
}

/* A state change shows within the loop turn that made it, not at the
 * next poll: becoming leader starts the barrier that opens writes. */
static void state_check(struct raftglue *rg)
{
    if (rg->started && !rg->closing &&
        raft_state(&rg->raft) != rg->last_state)
        uv_timer_start(&rg->poll, poll_cb, 0, POLL_MS);
}

static void recv_wrap(struct raft_io *io, struct raft_message *msg)
{
    struct raftglue *rg = RG_OF(io);

    heard_from(rg, msg->server_id);
    if (msg->server_id == rg->leader_gone)
        rg->leader_gone = 0; /* it speaks again */
    unstick_vote(rg, msg);
    if (msg->type == RAFT_IO_INSTALL_SNAPSHOT) {
        /* the end of the install is fsm_restore_cb's "restored state" */
        const struct raft_install_snapshot *is = &msg->install_snapshot;

        LOG_INFO("raft", "installing a snapshot from %s: index %llu, "
                 "term %llu, %zu bytes", msg->server_address,
                 (unsigned long long)is->last_index,
                 (unsigned long long)is->last_term, is->data.len);
    }
    rg->raft_recv(io, msg);
    state_check(rg);
}

static void tick_wrap(struct raft_io *io)
{
    struct raftglue *rg = RG_OF(io);

    rg->raft_tick(io);
    state_check(rg);
}

/* A vote request or answer (or a TimeoutNow) whose write failed (the
 * connection to that peer was stale: it restarted) is sent once more;
 * libraft queues it until it has reconnected, instead of the election
 * waiting for another randomized timeout. These messages hold no
 * pointers, so a copy is enough. The others are left to libraft's own
 * retries (heartbeats). */
struct vote_send {
    struct raft_io_send req;
    struct raftglue *rg;
    struct raft_io_send *orig;
    raft_io_send_cb cb;
    struct raft_message msg;
    bool retried;
    char addr[];
};

static void vote_sent(struct raft_io_send *req, int status)
{
    struct vote_send *vs = req->data;
    struct raftglue *rg = vs->rg;

    if (status != 0 && status != RAFT_CANCELED && !vs->retried &&
        !rg->closing) {
        vs->retried = true;
        LOG_DEBUG("raft", "message %d to %s failed; sending it again",
                  vs->msg.type, vs->addr);
        if (rg->io_send(&rg->io, &vs->req, &vs->msg, vote_sent) == 0)
            return;
    }
    if (vs->cb != NULL)
        vs->cb(vs->orig, status);
    free(vs);
}

static int send_wrap(struct raft_io *io, struct raft_io_send *req,
                     const struct raft_message *msg, raft_io_send_cb cb)
{
    struct raftglue *rg = RG_OF(io);
    struct vote_send *vs;
    size_t alen;
    int rv;

    if (msg->type != RAFT_IO_REQUEST_VOTE &&
        msg->type != RAFT_IO_REQUEST_VOTE_RESULT &&
        msg->type != RAFT_IO_TIMEOUT_NOW)
        return rg->io_send(io, req, msg, cb);
    alen = strlen(msg->server_address) + 1;
    vs = malloc(sizeof(*vs) + alen);
    if (vs == NULL)
        return rg->io_send(io, req, msg, cb);
    memset(vs, 0, sizeof(*vs));
    vs->rg = rg;
    vs->orig = req;
    vs->cb = cb;
    vs->msg = *msg;
    memcpy(vs->addr, msg->server_address, alen);
    vs->msg.server_address = vs->addr;
    vs->req.data = vs;
    req->cb = cb;
    rv = rg->io_send(io, &vs->req, &vs->msg, vote_sent);
    if (rv != 0)
        free(vs);
    return rv;
}

/* A write of the Raft log failed (disk full, I/O error): libraft's uv
 * I/O then refuses every later append, so this server could never
 * persist an entry again while it kept answering. Stop it through the
 * FSM's fatal path (the agent exits 1); started again once there is
 * room, it catches up from its log and the leader. */
static void append_failed(struct raftglue *rg, int status)
{
    if (rg->closing || status == RAFT_CANCELED || rg->append_failed)
        return;
    rg->append_failed = true;
    LOG_ERROR("raft", "writing the Raft log in %s failed (%s); stopping: "
              "free room in the data dir and start the agent again",
              rg->dir, rg->io.errmsg[0] != '\0' ? rg->io.errmsg
                                                 : raft_strerror(status));
    if (rg->fsm != NULL && rg->fsm->on_change != NULL)
        rg->fsm->on_change(rg->fsm->ctx, "fatal", rg->fsm->last_index);
}

/* Each append goes through a small wrapper request (kept on a free list
 * of up to APPEND_FREE_MAX, so the hot path does not allocate). */
#define APPEND_FREE_MAX 64

struct append_wrap {
    struct raft_io_append req;    /* what libraft's uv I/O sees */
    struct raft_io_append *orig;  /* libraft's own request */
    raft_io_append_cb cb;
    struct raftglue *rg;
    struct append_wrap *next_free; /* also: next held failure */
    int status;
};

static void append_release(struct raftglue *rg, struct append_wrap *w)
{
    if (rg->append_nfree < APPEND_FREE_MAX) {
        w->next_free = rg->append_free;
        rg->append_free = w;
        rg->append_nfree++;
    } else {
        free(w);
    }
}

/* Failed appends go back to libraft newest first. A leader's failed
 * append truncates its in-memory log from the entry's index on, and
 * libraft 0.15 does that for each failure as it comes: the oldest
 * first, every later truncation is past the end of the log and crashes
 * it (a NULL read, seen in t7006 when the leader's disk filled). So
 * failures are held (newest on top) until the next poll or the close,
 * which both run before libraft goes on. */
static void append_flush_held(struct raftglue *rg)
{
    while (rg->append_held != NULL) {
        struct append_wrap *w = rg->append_held;
        struct raft_io_append *orig = w->orig;
        raft_io_append_cb cb = w->cb;
        int status = w->status;

        rg->append_held = w->next_free;
        append_release(rg, w);
        cb(orig, status);
    }
}

static void append_done(struct raft_io_append *req, int status)
{
    struct append_wrap *w = req->data;
    struct raft_io_append *orig = w->orig;
    raft_io_append_cb cb = w->cb;
    struct raftglue *rg = w->rg;

    if (status != 0 && !rg->closing) {
        w->status = status;
        w->next_free = rg->append_held;
        rg->append_held = w;
        append_failed(rg, status);
        return;
    }
    /* Closing after a failed write: the appends still queued come back
     * cancelled, oldest first, the same crash as above. raft_close made
     * the server unavailable, where libraft ignores a write's outcome
     * but for that truncation: report them done instead (libraft then
     * only releases their entries; nothing is persisted or answered). */
    if (status != 0 && rg->append_failed &&
        raft_state(&rg->raft) == RAFT_UNAVAILABLE)
        status = 0;
    append_release(rg, w);
    cb(orig, status);
}

static int append_wrap(struct raft_io *io, struct raft_io_append *req,
                       const struct raft_entry entries[], unsigned n,
                       raft_io_append_cb cb)
{
    struct raftglue *rg = RG_OF(io);
    struct append_wrap *w = rg->append_free;
    int rv;

    if (w != NULL) {
        rg->append_free = w->next_free;
        rg->append_nfree--;
    } else if ((w = malloc(sizeof(*w))) == NULL) {
        return RAFT_NOMEM;
    }
    w->req.data = w;
    w->orig = req;
    w->cb = cb;
    w->rg = rg;
    rv = rg->io_append(io, &w->req, entries, n, append_done);
    if (rv != 0) {
        append_release(rg, w);
        if (rv == RAFT_IOERR)
            append_failed(rg, rv);
    }
    return rv;
}

static void append_free_all(struct raftglue *rg)
{
    while (rg->append_free != NULL) {
        struct append_wrap *w = rg->append_free;

        rg->append_free = w->next_free;
        free(w);
    }
    rg->append_nfree = 0;
}

static int start_wrap(struct raft_io *io, unsigned msecs,
                      raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    struct raftglue *rg = RG_OF(io);

    rg->raft_recv = recv;
    rg->raft_tick = tick;
    return rg->io_start(io, msecs, tick_wrap, recv_wrap);
}

int raftglue_init(struct raftglue *rg, uv_loop_t *loop, struct fsm *fsm,
                  const char *dir, raft_id id, const char *address,
                  const struct raftglue_opts *opts, struct rpc_server *srv,
                  char *err)
{
    int rv;

    memset(rg, 0, sizeof(*rg));
    rg->loop = loop;
    rg->fsm = fsm;
    rg->last_state = RAFT_UNAVAILABLE;
    snprintf(rg->address, sizeof(rg->address), "%s", address);
    snprintf(rg->dir, sizeof(rg->dir), "%s", dir);
    if (util_mkdir_p(dir, 0700, err) != 0)
        return ERR_IO;
    raftglue_fsm_init(&rg->gfsm, fsm, &rg->raft);
    rg->gfsm.on_applied = on_applied;
    rg->gfsm.applied_ctx = rg;
    rg->gfsm.loop = loop;
    if (rpc_raft_transport_init(&rg->transport, loop, srv, err) != 0)
        return ERR_IO;
    rpc_raft_on_peer_gone(&rg->transport, peer_gone, rg);
    rv = raft_uv_init(&rg->io, loop, dir, &rg->transport);
    if (rv != 0) {
        err_set(err, ERR_IO, "raft storage in '%s': %s", dir,
                rg->io.errmsg);
        rpc_raft_transport_release(&rg->transport);
        return ERR_IO;
    }
    /* libraft 0.15's uv I/O implements async_work (uv_queue_work) but
     * still says version 1, and raft_init wants 2 for an FSM with
     * snapshot_async (raftglue_fsm.c). */
    if (rg->io.async_work != NULL && rg->io.version < 2)
        rg->io.version = 2;
    rg->io_start = rg->io.start;
    rg->io.start = start_wrap;
    rg->io_send = rg->io.send;
    rg->io.send = send_wrap;
    rg->io_append = rg->io.append;
    rg->io.append = append_wrap;
    rg->tracer.impl = rg;
    rg->tracer.enabled = log_get_level() <= LOG_LVL_TRACE;
    rg->tracer.emit = tracer_emit;
    raft_uv_set_tracer(&rg->io, &rg->tracer);
    rv = raft_init(&rg->raft, &rg->io, &rg->gfsm.iface, id, address);
    if (rv != 0) {
        err_set(err, ERR_IO, "raft init: %s", raft_errmsg(&rg->raft));
        raft_uv_close(&rg->io);
        rpc_raft_transport_release(&rg->transport);
        return ERR_IO;
    }
    rg->raft.tracer = &rg->tracer;
    rg->raft.data = rg;
    raft_set_election_timeout(&rg->raft, opts->election_timeout_ms);
    raft_set_heartbeat_timeout(&rg->raft, opts->heartbeat_timeout_ms);
    raft_set_snapshot_threshold(&rg->raft, opts->snapshot_threshold);
    rg->jitter_state = (id ^ uv_hrtime()) | 1;
    if (opts->snapshot_interval_ms > 0 && opts->snapshot_threshold > 0) {
        uint64_t t = opts->snapshot_threshold;

        t = t * RAFTGLUE_SNAP_CEILING + jitter(rg, t);
        rg->gfsm.after_threshold = t > UINT_MAX ? UINT_MAX : (unsigned)t;
        rg->snap_threshold = opts->snapshot_threshold;
        rg->snap_interval_ms = opts->snapshot_interval_ms;
        raft_set_snapshot_threshold(&rg->raft, rg->gfsm.after_threshold);
    } else {
        rg->gfsm.after_threshold = opts->snapshot_threshold;
    }
    raft_set_snapshot_trailing(&rg->raft, opts->snapshot_trailing);
    rg->gfsm.after_trailing = opts->snapshot_trailing;
    raft_set_pre_vote(&rg->raft, true);
    raft_uv_set_connect_retry_delay(&rg->io, opts->heartbeat_timeout_ms);
    return 0;
}

static int make_conf(struct raft_configuration *conf,
                     const struct raftglue_server *sv, size_t n)
{
    int rv = 0;

    raft_configuration_init(conf);
    for (size_t i = 0; i < n && rv == 0; i++)
        rv = raft_configuration_add(conf, sv[i].id, sv[i].address,
                                    sv[i].voter ? RAFT_VOTER : RAFT_STANDBY);
    return rv;
}

int raftglue_bootstrap(struct raftglue *rg, const struct raftglue_server *sv,
                       size_t n, char *err)
{
    struct raft_configuration conf;
    int rv = make_conf(&conf, sv, n);

    if (rv == 0)
        rv = raft_bootstrap(&rg->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP)
        return 0; /* state exists already: never bootstrap twice */
    if (rv != 0)
        return err_set(err, ERR_IO, "raft bootstrap: %s",
                       raft_errmsg(&rg->raft));
    LOG_INFO("raft", "bootstrapped a new cluster of %zu server%s", n,
             n == 1 ? "" : "s");
    return 0;
}

int raftglue_bootstrap_self(struct raftglue *rg, char *err)
{
    struct raftglue_server me = {rg->raft.id, rg->address, true};

    return raftglue_bootstrap(rg, &me, 1, err);
}

int raftglue_recover(struct raftglue *rg, const struct raftglue_server *sv,
                     size_t n, char *err)
{
    struct raft_configuration conf;
    int rv = make_conf(&conf, sv, n);

    if (rv == 0)
        rv = raft_recover(&rg->raft, &conf);
    raft_configuration_close(&conf);
    if (rv != 0)
        return err_set(err, ERR_IO, "raft recover: %s",
                       raft_errmsg(&rg->raft)[0] != '\0'
                           ? raft_errmsg(&rg->raft) : raft_strerror(rv));
    return 0;
}

/* Names libraft gives its files: open-N, N-M (closed segments),
 * snapshot-T-I-TS(.meta). metadata1/2 alone hold no log. */
static bool state_file(const char *name)
{
    if (strncmp(name, "open-", 5) == 0 || strncmp(name, "snapshot-", 9) == 0)
        return true;
    return name[0] >= '0' && name[0] <= '9' && strchr(name, '-') != NULL;
}

/* ---- libraft's memory --------------------------------------------------- */

static void *heap_malloc(void *data, size_t n)
{
    (void)data;
    return mem_nofork_malloc(n);
}

static void heap_free(void *data, void *p)
{
    (void)data;
    mem_nofork_free(p);
}

static void *heap_calloc(void *data, size_t nmemb, size_t size)
{
    (void)data;
    return mem_nofork_calloc(nmemb, size);
}

static void *heap_realloc(void *data, void *p, size_t n)
{
    (void)data;
    return mem_nofork_realloc(p, n);
}

static void *heap_aligned_alloc(void *data, size_t alignment, size_t n)
{
    (void)data;
    return mem_nofork_aligned_alloc(alignment, n);
}

static void heap_aligned_free(void *data, size_t alignment, void *p)
{
    (void)data;
    (void)alignment;
    mem_nofork_free(p);
}

void raftglue_use_nofork_heap(void)
{
    static struct raft_heap heap = {
        .malloc = heap_malloc,
        .free = heap_free,
        .calloc = heap_calloc,
        .realloc = heap_realloc,
        .aligned_alloc = heap_aligned_alloc,
        .aligned_free = heap_aligned_free,
    };

    raft_heap_set(&heap);
}

bool raftglue_dir_has_state(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;

    if (d == NULL)
        return false;
    while (!found && (e = readdir(d)) != NULL)
        found = state_file(e->d_name);
    closedir(d);
    return found;
}

int raftglue_start(struct raftglue *rg, char *err)
{
    int rv = raft_start(&rg->raft);

    if (rv != 0)
        return err_set(err, ERR_IO, "raft start: %s",
                       raft_errmsg(&rg->raft));
    rg->started = true;
    if (!raftglue_aio_deferred())
        LOG_WARN("raft", "closing a log segment will hold the loop while "
                 "the kernel destroys its AIO context");
    uv_check_init(rg->loop, &rg->flush);
    rg->flush.data = rg;
    uv_timer_init(rg->loop, &rg->poll);
    rg->poll.data = rg;
    uv_timer_start(&rg->poll, poll_cb, 0, POLL_MS);
    return 0;
}

static int map_raft_err(int rv)
{
    switch (rv) {
    case RAFT_NOTLEADER:
        return ERR_NOLEADER;
    case RAFT_LEADERSHIPLOST:
        return ERR_LOSTLEADER; /* may still commit: not "not written" */
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

static void batch_unref(struct batch *b)
{
    if (--b->refs == 0)
        free(b);
}

/* Complete one pending command (res NULL: failed with code). */
static void item_finish(struct batch_item *it, int code,
                        const struct fsm_result *res)
{
    raftglue_apply_cb cb = it->cb;
    struct fsm_result copy;

    it->cb = NULL;
    if (res != NULL) {
        metrics_sample("raft.commitTime", metrics_since_ms(it->start_ns));
        copy = *res;
        cb(it->ctx, 0, &copy);
    } else {
        cb(it->ctx, code, NULL);
    }
    batch_unref(it->b);
}

static struct batch_item *pend_pop(struct raftglue *rg)
{
    struct batch_item *it = rg->pend_head;

    rg->pend_head = it->next;
    if (rg->pend_head == NULL)
        rg->pend_tail = NULL;
    return it;
}

/* Fail every pending command (leadership lost, shutdown). */
static void pend_fail_all(struct raftglue *rg, int code)
{
    while (rg->pend_head != NULL)
        item_finish(pend_pop(rg), code, NULL);
}

/* raftglue_fsm.c: entry index was applied with res. */
static void on_applied(void *ctx, uint64_t index,
                       const struct fsm_result *res)
{
    struct raftglue *rg = ctx;

    if (rg->pend_head == NULL)
        return;
    if (rg->raft.state != RAFT_LEADER ||
        rg->pend_head->b->term != rg->raft.current_term) {
        pend_fail_all(rg, ERR_LOSTLEADER);
        return;
    }
    while (rg->pend_head != NULL && rg->pend_head->index <= index) {
        struct batch_item *it = pend_pop(rg);

        item_finish(it, ERR_INTERNAL, it->index == index ? res : NULL);
    }
}

/* libraft's callback: status 0 when the first entry was applied (the
 * items complete in on_applied), else the batch failed before that. */
static void batch_done(struct raft_apply *req, int status, void *result)
{
    struct batch *b = req->data;
    struct raftglue *rg = b->rg;

    (void)result;
    if (status != 0) {
        /* none of it was applied: take its items out of the queue */
        struct batch_item **pp = &rg->pend_head, *last = NULL;

        while (*pp != NULL) {
            struct batch_item *it = *pp;

            if (it->b == b) { /* libraft's ref keeps b alive here */
                *pp = it->next;
                item_finish(it, map_raft_err(status), NULL);
            } else {
                last = it;
                pp = &it->next;
            }
        }
        rg->pend_tail = last;
    }
    batch_unref(b);
}

/* The check handle: the loop turn's commands to libraft at once. */
static void flush_cb(uv_check_t *h)
{
    struct raftglue *rg = h->data;
    unsigned n = rg->q_n;
    struct batch *b;
    int rv;

    uv_check_stop(h);
    rg->q_n = 0;
    if (n == 0)
        return;
    b = calloc(1, sizeof(*b) + n * sizeof(b->items[0]));
    rv = b == NULL ? RAFT_NOMEM : 0;
    if (b != NULL) {
        b->rg = rg;
        b->refs = n + 1;
        b->term = rg->raft.current_term;
        b->req.data = b;
        rv = raft_apply(&rg->raft, &b->req, rg->q_bufs, n, batch_done);
    }
    if (rv != 0) {
        for (unsigned i = 0; i < n; i++) {
            raft_free(rg->q_bufs[i].base);
            rg->q_items[i].cb(rg->q_items[i].ctx, map_raft_err(rv), NULL);
        }
        free(b);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        struct batch_item *it = &b->items[i];

        *it = rg->q_items[i];
        it->index = b->req.index + i;
        it->b = b;
        it->next = NULL;
        if (rg->pend_tail != NULL)
            rg->pend_tail->next = it;
        else
            rg->pend_head = it;
        rg->pend_tail = it;
    }
    metrics_incr("raft.apply", (double)n);
}

int raftglue_apply(struct raftglue *rg, void *buf, size_t len,
                   raftglue_apply_cb cb, void *ctx, char *err)
{
    struct raft_buffer rb;
    struct batch_item *it;

    if (rg->closing || !rg->started)
        return err_set(err, ERR_SHUTDOWN, "agent is shutting down");
    if (rg->raft.state != RAFT_LEADER || rg->raft.transfer != NULL)
        return err_set(err, ERR_NOLEADER, "No cluster leader");
    if (rg->q_n == rg->q_cap) {
        unsigned cap = rg->q_cap ? rg->q_cap * 2 : 64;
        struct raft_buffer *nb = realloc(rg->q_bufs, cap * sizeof(*nb));
        struct batch_item *ni;

        if (nb == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        rg->q_bufs = nb;
        ni = realloc(rg->q_items, cap * sizeof(*ni));
        if (ni == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        rg->q_items = ni;
        rg->q_cap = cap;
    }
    if (raftglue_frame(buf, len, &rb, err) != 0)
        return ERR_NOMEM;
    rg->q_bufs[rg->q_n] = rb;
    it = &rg->q_items[rg->q_n];
    memset(it, 0, sizeof(*it));
    it->cb = cb;
    it->ctx = ctx;
    it->start_ns = metrics_now_ns();
    if (rg->q_n++ == 0)
        uv_check_start(&rg->flush, flush_cb);
    raft_free(buf); /* the framed copy goes to raft */
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

/* Term of the newest entry in the in-memory log, else of the snapshot. */
static uint64_t last_term(const struct raft_log *l)
{
    if (l->size == 0 || l->front == l->back)
        return l->snapshot.last_term;
    return l->entries[(l->back == 0 ? l->size : l->back) - 1].term;
}

void raftglue_stats(struct raftglue *rg, struct raftglue_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->term = rg->raft.current_term;
    st->commit_index = rg->raft.commit_index;
    st->applied_index = raft_last_applied(&rg->raft);
    st->last_log_index = raft_last_index(&rg->raft);
    st->last_snapshot_index = rg->raft.log.snapshot.last_index;
    st->last_snapshot_term = rg->raft.log.snapshot.last_term;
    st->last_log_term = last_term(&rg->raft.log);
    st->num_peers = rg->raft.configuration.n > 0
                        ? rg->raft.configuration.n - 1 : 0;
}

void raftglue_metrics(struct raftglue *rg)
{
    const struct raft_configuration *c = &rg->raft.configuration;
    uint64_t now = uv_now(rg->loop);

    if (!rg->started || rg->closing)
        return;
    metrics_gauge("raft.applied_index", (double)raft_last_applied(&rg->raft));
    metrics_gauge("raft.last_index", (double)raft_last_index(&rg->raft));
    metrics_gauge("raft.commit_index", (double)rg->raft.commit_index);
    metrics_gauge("raft.term", (double)rg->raft.current_term);
    if (raft_state(&rg->raft) != RAFT_LEADER)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == rg->raft.id)
            continue;
        for (size_t j = 0; j < RAFTGLUE_MAX_HEARD; j++)
            if (rg->heard[j].id == c->servers[i].id && rg->heard[j].ms > 0)
                metrics_sample("raft.leader.lastContact",
                               (double)(now > rg->heard[j].ms
                                            ? now - rg->heard[j].ms : 0));
    }
}

void raftglue_servers(struct raftglue *rg, raftglue_server_fn fn, void *ctx)
{
    const struct raft_configuration *c = &rg->raft.configuration;

    for (unsigned i = 0; i < c->n; i++)
        fn(ctx, c->servers[i].id, c->servers[i].address,
           c->servers[i].role == RAFT_VOTER);
}

struct change_req {
    struct raft_change req;
    struct raft_transfer xfer;
    struct raftglue *rg;
    raftglue_done_cb cb;
    void *ctx;
};

static void change_done(struct raft_change *req, int status)
{
    struct change_req *cr = req->data;

    cr->cb(cr->ctx, status == 0 ? 0 : map_raft_err(status));
    free(cr);
}

int raftglue_change(struct raftglue *rg, enum raftglue_change_op op,
                    uint64_t id, const char *address, raftglue_done_cb cb,
                    void *ctx, char *err)
{
    static const int roles[] = {0, RAFT_STANDBY, RAFT_VOTER, 0};
    struct change_req *cr;
    int rv;

    if (!raftglue_is_leader(rg))
        return err_set(err, ERR_NOLEADER, "No cluster leader");
    cr = calloc(1, sizeof(*cr));
    if (cr == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    cr->rg = rg;
    cr->cb = cb;
    cr->ctx = ctx;
    cr->req.data = cr;
    if (op == RAFTGLUE_ADD)
        rv = raft_add(&rg->raft, &cr->req, id, address, change_done);
    else if (op == RAFTGLUE_REMOVE)
        rv = raft_remove(&rg->raft, &cr->req, id, change_done);
    else
        rv = raft_assign(&rg->raft, &cr->req, id, roles[op], change_done);
    if (rv != 0) {
        free(cr);
        return err_set(err, rv == RAFT_CANTCHANGE ? ERR_CONFLICT
                            : rv == RAFT_NOTLEADER ? ERR_NOLEADER
                            : rv == RAFT_BADID || rv == RAFT_NOTFOUND
                                ? ERR_NOTFOUND : ERR_INVAL,
                       "%s", raft_errmsg(&rg->raft)[0] != '\0'
                                 ? raft_errmsg(&rg->raft)
                                 : raft_strerror(rv));
    }
    return 0;
}

static void transfer_done(struct raft_transfer *req)
{
    struct change_req *cr = req->data;
    raft_id lid = 0;
    const char *addr = NULL;

    raft_leader(&cr->rg->raft, &lid, &addr);
    cr->cb(cr->ctx, lid != 0 && lid != cr->rg->raft.id ? 0 : ERR_TIMEOUT);
    free(cr);
}

int raftglue_transfer(struct raftglue *rg, uint64_t id, raftglue_done_cb cb,
                      void *ctx, char *err)
{
    struct change_req *cr;
    int rv;

    if (!raftglue_is_leader(rg))
        return err_set(err, ERR_NOLEADER, "No cluster leader");
    cr = calloc(1, sizeof(*cr));
    if (cr == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    cr->rg = rg;
    cr->cb = cb;
    cr->ctx = ctx;
    cr->xfer.data = cr;
    rv = raft_transfer(&rg->raft, &cr->xfer, id, transfer_done);
    if (rv != 0) {
        free(cr);
        return err_set(err, rv == RAFT_BADID || rv == RAFT_NOTFOUND
                                ? ERR_NOTFOUND : ERR_CONFLICT,
                       "cannot transfer leadership: %s",
                       rv == RAFT_NOTFOUND ? "no other voter to take over"
                       : rv == RAFT_BADID ? "not a voting follower"
                       : raft_strerror(rv));
    }
    return 0;
}

bool raftglue_progress(struct raftglue *rg, uint64_t id,
                       struct raftglue_progress *out)
{
    const struct raft_configuration *c = &rg->raft.configuration;

    memset(out, 0, sizeof(*out));
    if (!raftglue_is_leader(rg) || rg->raft.leader_state.progress == NULL)
        return false;
    for (unsigned i = 0; i < c->n; i++) {
        const struct raft_progress *p = &rg->raft.leader_state.progress[i];

        if (c->servers[i].id != id)
            continue;
        out->match_index = p->match_index;
        out->recent_recv = p->recent_recv;
        out->last_send_ms = p->last_send;
        return true;
    }
    return false;
}

uint64_t raftglue_leader_id(struct raftglue *rg)
{
    raft_id id = 0;
    const char *addr = NULL;

    if (!rg->started || rg->closing)
        return 0;
    raft_leader(&rg->raft, &id, &addr);
    return id;
}

uint64_t raftglue_config_index(struct raftglue *rg)
{
    return rg->raft.configuration_uncommitted_index != 0
               ? rg->raft.configuration_uncommitted_index
               : rg->raft.configuration_index;
}

int raftglue_role(struct raftglue *rg, uint64_t id)
{
    const struct raft_configuration *c = &rg->raft.configuration;

    for (unsigned i = 0; i < c->n; i++)
        if (c->servers[i].id == id)
            return c->servers[i].role;
    return -1;
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

    if (--rg->open_handles > 0)
        return;
    free(rg->q_bufs);
    free(rg->q_items);
    rg->q_bufs = NULL;
    rg->q_items = NULL;
    if (rg->close_cb != NULL)
        rg->close_cb(rg);
}

static void raft_closed(struct raft *r)
{
    struct raftglue *rg = r->data;

    raft_uv_close(&rg->io);
    append_free_all(rg); /* every append finished before raft_close's cb */
    rpc_raft_transport_release(&rg->transport);
    if (rg->started) {
        rg->open_handles = 2;
        uv_timer_stop(&rg->poll);
        uv_close((uv_handle_t *)&rg->poll, poll_closed);
        uv_check_stop(&rg->flush);
        uv_close((uv_handle_t *)&rg->flush, poll_closed);
    } else if (rg->close_cb != NULL) {
        rg->close_cb(rg);
    }
}

void raftglue_close(struct raftglue *rg, raftglue_close_cb cb)
{
    if (rg->closing)
        return;
    append_flush_held(rg); /* before libraft closes its log */
    rg->closing = true;
    rg->close_cb = cb;
    rg->raft.data = rg;
    raftglue_fsm_abort_snapshot(&rg->gfsm);
    for (unsigned i = 0; i < rg->q_n; i++) { /* never given to libraft */
        raft_free(rg->q_bufs[i].base);
        rg->q_items[i].cb(rg->q_items[i].ctx, ERR_SHUTDOWN, NULL);
    }
    rg->q_n = 0;
    raft_close(&rg->raft, raft_closed);
    pend_fail_all(rg, ERR_SHUTDOWN);
}

/* raftglue_fsm.c - libraft FSM callbacks over struct fsm, entry framing.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Tests: t/unit/check_raftglue.c
 *
 * Index of an applied command: libraft calls fsm->apply before it bumps
 * last_applied, so inside apply the entry's index is last_applied + 1.
 * Apply results live in gf->last_result: libraft hands the pointer to the
 * request callback synchronously, and on followers (no callback) nothing
 * needs freeing.
 *
 * Raft snapshots (libraft FSM version 3): snapshot() forks, on the loop,
 * a child that streams the state as of that instant (its copy-on-write
 * image) into an unlinked file of the data dir and exits; the loop goes
 * on applying meanwhile. snapshot_async() waits for the child in a
 * thread-pool thread and maps the file read-only; libraft writes that
 * buffer out; snapshot_finalize() unmaps and closes it. So the state is
 * never encoded into memory beside itself and the loop never stops for
 * the size of the state (fsm_snapshot would do both).
 *
 * Some applies do hold the loop: the commit of a snapshot restore swaps
 * the whole state in (seconds with a million keys), on every server at
 * about the same time, and so does installing a Raft snapshot. A
 * follower's election timer kept running meanwhile, and libuv runs
 * timers before it reads the leader's heartbeats waiting in the socket:
 * both followers would campaign as soon as they are done, and the
 * leader, as busy as they were, would lose its place for nothing. So a
 * follower restarts its election timer after an apply or restore that
 * held the loop RAFTGLUE_STALL_MS or more, as if it had just heard the
 * leader, which it had: the entry came from it. Only timers move: a
 * leader that died meanwhile is found one timeout later (or at once, by
 * the closed connection: raftglue.c peer_gone). The leader is the first
 * to apply an entry, and the followers learn that it is committed only
 * from the heartbeats after it: after a stall of T ms a leader's check
 * that a majority still answers (libraft steps down without one, each
 * election timeout) is held for 2T (at most RAFTGLUE_HOLD_MAX_MS), the
 * time the followers take to apply the same entry.
 */
#include "raftglue_fsm.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util_fs.h"

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
int raftglue_unframe(const struct raft_buffer *buf, const void **data,
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

#define RAFTGLUE_STALL_MS 200
#define RAFTGLUE_HOLD_MAX_MS 30000

/* After an apply or restore that took ms. */
static void after_stall(struct raftglue_fsm *gf, uint64_t ms)
{
    struct raft *r = gf->raft;
    uint64_t hold;

    if (ms < RAFTGLUE_STALL_MS || r == NULL ||
        (r->state != RAFT_FOLLOWER && r->state != RAFT_LEADER))
        return;
    if (gf->loop != NULL)
        uv_update_time(gf->loop); /* raft_uv's clock is uv_now */
    r->election_timer_start = r->io->time(r->io);
    if (r->state == RAFT_FOLLOWER) {
        LOG_INFO("raft", "applying held the loop for %llu ms: election "
                 "timer restarted", (unsigned long long)ms);
        return;
    }
    hold = 2 * ms < RAFTGLUE_HOLD_MAX_MS ? 2 * ms : RAFTGLUE_HOLD_MAX_MS;
    gf->hold_until = r->election_timer_start + hold;
    LOG_INFO("raft", "applying held the loop for %llu ms: the followers "
             "apply it now; stepping down for want of their answers is "
             "held for %llu ms", (unsigned long long)ms,
             (unsigned long long)hold);
}

void raftglue_fsm_hold(struct raftglue_fsm *gf)
{
    struct raft *r = gf->raft;
    raft_time now;

    if (gf->hold_until == 0 || r == NULL)
        return;
    now = r->io->time(r->io);
    if (r->state != RAFT_LEADER || now >= gf->hold_until)
        gf->hold_until = 0;
    else
        r->election_timer_start = now;
}

static int fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
                        void **result)
{
    struct raftglue_fsm *gf = rf->data;
    uint64_t index = raft_last_applied(gf->raft) + 1;
    char err[ERR_LEN];
    int rc;

    const void *data;
    size_t len;

    uint64_t t0 = metrics_now_ns();
    bool staged = fsm_restore_pending(gf->fsm);
    double ms;

    memset(&gf->last_result, 0, sizeof(gf->last_result));
    gf->bytes_applied += buf->len;
    rc = raftglue_unframe(buf, &data, &len) != 0
             ? err_set(err, ERR_PARSE, "bad entry frame")
             : fsm_apply(gf->fsm, index, data, len, &gf->last_result, err);
    if (rc != 0) {
        /* A command we cannot decode must not wedge the log. */
        LOG_ERROR("raft", "skipping entry %llu: %s",
                  (unsigned long long)index, err);
        gf->last_result.rc = rc;
        gf->last_result.index = index;
        gf->fsm->last_index = index;
    }
    if (staged && !fsm_restore_pending(gf->fsm))
        gf->stage_end_index = index;
    *result = &gf->last_result;
    ms = metrics_since_ms(t0);
    metrics_sample("raft.fsm.apply", ms);
    after_stall(gf, (uint64_t)ms);
    if (gf->on_applied != NULL)
        gf->on_applied(gf->applied_ctx, index, &gf->last_result);
    return 0;
}

/* In the forked child: the state into fd, then leave. */
static void snapshot_child(struct fsm *f, int fd)
{
    char err[ERR_LEN];

    signal(SIGPIPE, SIG_IGN);
    _exit(fsm_snapshot_stream(f, NULL, util_fd_out, &fd, err) == 0 ? 0 : 1);
}

static void snap_reset(struct raftglue_fsm *gf)
{
    atomic_store_explicit(&gf->snap_out_len, 0, memory_order_relaxed);
    if (gf->snap_pid > 0) {
        kill(gf->snap_pid, SIGKILL);
        while (waitpid(gf->snap_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (gf->snap_map != NULL)
        util_unmap(gf->snap_map, gf->snap_len);
    if (gf->snap_fd >= 0)
        close(gf->snap_fd);
    gf->snap_pid = 0;
    gf->snap_fd = -1;
    gf->snap_map = NULL;
    gf->snap_len = 0;
}

#define SNAP_RETRY_NS (10 * 1000000000LL)

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
                           unsigned *n_bufs)
{
    struct raftglue_fsm *gf = rf->data;
    char err[ERR_LEN];
    pid_t pid;
    int fd;

    if (fsm_restore_pending(gf->fsm)) { /* staged pieces: later */
        LOG_INFO("raft", "snapshot postponed: a restore is being staged");
        return RAFT_BUSY;
    }
    if (gf->snap_pid != 0 || gf->snap_fd >= 0)
        return RAFT_BUSY;
    if (gf->snap_retry_ns != 0 && mono_ns() < gf->snap_retry_ns)
        return RAFT_BUSY; /* the last one failed: not yet */
    if ((*bufs = raft_calloc(1, sizeof(**bufs))) == NULL)
        return RAFT_NOMEM;
    if ((fd = util_tmpfile(gf->fsm->tmp_dir, err)) < 0 ||
        (pid = fork()) < 0) {
        LOG_ERROR("raft", "snapshot not taken: %s; next try in 10 s",
                  fd < 0 ? err : strerror(errno));
        gf->snap_retry_ns = mono_ns() + SNAP_RETRY_NS;
        if (fd >= 0)
            close(fd);
        raft_free(*bufs);
        *bufs = NULL;
        return RAFT_IOERR;
    }
    if (pid == 0)
        snapshot_child(gf->fsm, fd);
    gf->snap_pid = pid;
    gf->snap_fd = fd;
    *n_bufs = 1;
    LOG_INFO("raft", "taking a snapshot of the state at index %llu",
             (unsigned long long)gf->fsm->last_index);
    return 0;
}

/* In a thread-pool thread: wait for the child, map what it wrote. */
static int fsm_snapshot_async_cb(struct raft_fsm *rf,
                                 struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    struct raftglue_fsm *gf = rf->data;
    char err[ERR_LEN];
    struct stat st;
    int status = 0;
    pid_t pid = gf->snap_pid;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    gf->snap_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        fstat(gf->snap_fd, &st) != 0 ||
        util_map(gf->snap_fd, (size_t)st.st_size, &gf->snap_map, err) != 0)
        return RAFT_IOERR;
    gf->snap_len = (size_t)st.st_size;
    (*bufs)[0].base = (void *)gf->snap_map;
    (*bufs)[0].len = gf->snap_len;
    *n_bufs = 1;
    atomic_store_explicit(&gf->snap_out_len, gf->snap_len,
                          memory_order_release);
    return 0;
}

void raftglue_fsm_trim(struct raftglue_fsm *gf)
{
    size_t len = atomic_load_explicit(&gf->snap_out_len,
                                      memory_order_acquire);

    if (len > 0) /* PROT_READ and MAP_PRIVATE: nothing of ours is lost */
        madvise((void *)gf->snap_map, len, MADV_DONTNEED);
}

static int fsm_snapshot_finalize_cb(struct raft_fsm *rf,
                                    struct raft_buffer *bufs[],
                                    unsigned *n_bufs)
{
    struct raftglue_fsm *gf = rf->data;

    struct statvfs vfs;

    if (gf->snap_len > 0) {
        LOG_INFO("raft", "snapshot taken: %zu bytes", gf->snap_len);
        gf->snap_retry_ns = 0;
    } else {
        /* the child says only that it failed: a full disk is the usual
         * reason, and the one an operator can act on */
        bool full = gf->snap_fd >= 0 && fstatvfs(gf->snap_fd, &vfs) == 0 &&
                    vfs.f_bavail == 0;

        LOG_ERROR("raft", "snapshot failed: its writer did not finish%s; "
                  "next try in 10 s",
                  full ? " (no room left in the data dir)" : "");
        gf->snap_retry_ns = mono_ns() + SNAP_RETRY_NS;
    }
    snap_reset(gf);
    if (gf->after_threshold != 0)
        raft_set_snapshot_threshold(gf->raft, gf->after_threshold);
    if (gf->after_trailing != 0)
        raft_set_snapshot_trailing(gf->raft, gf->after_trailing);
    raft_free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

void raftglue_fsm_abort_snapshot(struct raftglue_fsm *gf)
{
    if (gf->snap_pid > 0)
        kill(gf->snap_pid, SIGKILL); /* the waiting thread reaps it */
}

static int fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct raftglue_fsm *gf = rf->data;
    uint64_t t0 = metrics_now_ns();
    char err[ERR_LEN];

    if (fsm_restore(gf->fsm, buf->base, buf->len, err) != 0) {
        LOG_ERROR("raft", "restoring snapshot failed: %s", err);
        return RAFT_CORRUPT;
    }
    raft_free(buf->base); /* ownership moved to us on success */
    LOG_INFO("raft", "restored state from snapshot at index %llu",
             (unsigned long long)gf->fsm->last_index);
    after_stall(gf, (uint64_t)metrics_since_ms(t0));
    return 0;
}

void raftglue_fsm_init(struct raftglue_fsm *gf, struct fsm *fsm,
                       struct raft *raft)
{
    memset(gf, 0, sizeof(*gf));
    gf->fsm = fsm;
    gf->raft = raft;
    gf->snap_fd = -1;
    gf->iface.version = 3;
    gf->iface.data = gf;
    gf->iface.apply = fsm_apply_cb;
    gf->iface.snapshot = fsm_snapshot_cb;
    gf->iface.restore = fsm_restore_cb;
    gf->iface.snapshot_finalize = fsm_snapshot_finalize_cb;
    gf->iface.snapshot_async = fsm_snapshot_async_cb;
}

int raftglue_frame(const void *buf, size_t len, struct raft_buffer *out,
                   char *err)
{
    if (len > UINT32_MAX - 16)
        return err_set(err, ERR_TOOBIG, "command too large");
    out->len = FRAME_HDR + ((len + 7) & ~(size_t)7);
    out->base = raft_calloc(1, out->len);
    if (out->base == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    put_u32le(out->base, FRAME_MAGIC);
    put_u32le((unsigned char *)out->base + 4, (uint32_t)len);
    if (len > 0)
        memcpy((unsigned char *)out->base + FRAME_HDR, buf, len);
    return 0;
}

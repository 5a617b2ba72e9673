/* check_raftglue.c - unit tests for the Raft FSM adapter
 * (libcore/raftglue_fsm.c) on libraft's in-memory raft_fixture.
 *
 * Covers entry framing, then struct fsm replicated by three servers:
 * convergence, CAS and delete semantics, leader loss, partitions, catch-up
 * through InstallSnapshot, and entries the FSM cannot decode; an apply
 * that holds the loop (really: the change callback sleeps) restarts the
 * followers' election timers, and the leader's check that a majority
 * answers waits twice that long, and no longer.
 * Each server's raft_fsm is a tap that forwards every call unchanged to
 * its struct raftglue_fsm and records the result it gave for each index,
 * so tests can check that all replicas agree entry by entry. Time moves
 * only by fixture steps and every wait is bounded in fixture msecs.
 */
#include <check.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "fsm.h"
#include "kv.h"
#include "log.h"
#include "raftglue_fsm.h"
#include "unit.h"

/* ck_assert records a checkpoint through a pipe on every call; hot
 * loops and callbacks use this instead. */
#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

#define NSRV 3
#define MAX_INDEX 512
#define MAX_REQS 256
/* Fixture msecs: ten election timeouts (1000 ms each in the fixture). */
#define LONG_WAIT 10000

struct tap {
    struct raft_fsm iface;
    unsigned i;
    unsigned restores;
};

struct req {
    struct raft_apply a;
    bool done;
    int status;
    bool has_res;
    struct fsm_result res;
};

static struct raft_fixture f;
static unsigned n_srv;
static struct fsm fsms[NSRV];
static struct raftglue_fsm gfs[NSRV];
static struct tap taps[NSRV];
static int changes[NSRV];
static bool applied[NSRV][MAX_INDEX];
static struct fsm_result seen[NSRV][MAX_INDEX];
/* Requests must outlive raft_fixture_close, which fails pending ones. */
static struct req reqs[MAX_REQS];
static unsigned n_reqs;
static unsigned skip_lines;
static char err[ERR_LEN];

/* When set, every change callback holds the applying server this many
 * real milliseconds (an apply that holds the loop). */
static unsigned stall_ms;
static unsigned restarted_lines, held_lines;

static void on_change(void *ctx, const char *kind, uint64_t index)
{
    struct timespec ts = {(time_t)(stall_ms / 1000),
                          (long)(stall_ms % 1000) * 1000000L};

    (void)kind;
    (void)index;
    (*(int *)ctx)++;
    if (stall_ms > 0)
        nanosleep(&ts, NULL);
}

static void log_sink(void *ctx, enum log_level lvl, const char *line)
{
    (void)ctx;
    if (lvl == LOG_LVL_ERROR && strstr(line, "skipping entry") != NULL)
        skip_lines++;
    if (strstr(line, "election timer restarted") != NULL)
        restarted_lines++;
    if (strstr(line, "stepping down for want of their answers is held") !=
        NULL)
        held_lines++;
}

/* ---- the tap ---- */

static int tap_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
                     void **result)
{
    struct tap *t = rf->data;
    struct raftglue_fsm *gf = &gfs[t->i];
    raft_index index = raft_last_applied(gf->raft) + 1;
    int rc = gf->iface.apply(&gf->iface, buf, result);

    /* Returning non-zero would make libraft retry the entry forever. */
    REQUIRE(rc == 0);
    REQUIRE(*result == &gf->last_result);
    REQUIRE(index < MAX_INDEX);
    REQUIRE(gf->last_result.index == index);
    REQUIRE(fsms[t->i].last_index == index);
    REQUIRE(!applied[t->i][index]);
    applied[t->i][index] = true;
    seen[t->i][index] = gf->last_result;
    return rc;
}

/* The fixture's I/O (version 1) cannot run async snapshots: the tap is
 * a version 2 FSM that runs the glue's two halves back to back. */
static int tap_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct tap *t = rf->data;
    struct raftglue_fsm *gf = &gfs[t->i];
    int rc = gf->iface.snapshot(&gf->iface, bufs, n_bufs);

    if (rc == 0 && gf->iface.snapshot_async(&gf->iface, bufs, n_bufs) != 0)
        (*bufs)[0].len = 0; /* finalize still runs and cleans up */
    return rc;
}

static int tap_snapshot_finalize(struct raft_fsm *rf,
                                 struct raft_buffer *bufs[],
                                 unsigned *n_bufs)
{
    struct tap *t = rf->data;

    return gfs[t->i].iface.snapshot_finalize(&gfs[t->i].iface, bufs,
                                             n_bufs);
}

static int tap_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct tap *t = rf->data;
    int rc = gfs[t->i].iface.restore(&gfs[t->i].iface, buf);

    if (rc == 0)
        t->restores++;
    return rc;
}

/* ---- cluster ---- */

static struct raft *srv(unsigned i) { return raft_fixture_get(&f, i); }

static void cluster_start(unsigned n, void (*tune)(struct raft *r))
{
    struct raft_configuration conf;
    unsigned i;

    ck_assert_uint_le(n, NSRV);
    /* 0.15's raft_fixture_initialize() does not zero n or leader_id. */
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(raft_fixture_initialize(&f), 0);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(fsm_init(&fsms[i], err), 0);
        fsms[i].on_change = on_change;
        fsms[i].ctx = &changes[i];
        /* raft_fixture_get(&f, i) asserts i < n until the grow. */
        raftglue_fsm_init(&gfs[i], &fsms[i], NULL);
        taps[i] = (struct tap){
            .iface = {.version = 2, .data = &taps[i], .apply = tap_apply,
                      .snapshot = tap_snapshot, .restore = tap_restore,
                      .snapshot_finalize = tap_snapshot_finalize},
            .i = i,
        };
        ck_assert_int_eq(raft_fixture_grow(&f, &taps[i].iface), 0);
        gfs[i].raft = srv(i);
        n_srv = i + 1;
        if (tune != NULL)
            tune(srv(i));
    }
    ck_assert_int_eq(raft_fixture_configuration(&f, n, &conf), 0);
    ck_assert_int_eq(raft_fixture_bootstrap(&f, &conf), 0);
    raft_configuration_close(&conf);
    ck_assert_int_eq(raft_fixture_start(&f), 0);
}

static void setup(void)
{
    stall_ms = 0;
    restarted_lines = held_lines = 0;
    log_set_level(LOG_LVL_OFF);
    log_set_sink(log_sink, NULL);
}

static void teardown(void)
{
    unsigned i;

    if (n_srv > 0)
        raft_fixture_close(&f);
    for (i = 0; i < n_srv; i++)
        fsm_release(&fsms[i]);
    n_srv = 0;
    /* Nothing may stay reachable only through these, so LSan sees it. */
    memset(&f, 0, sizeof(f));
    memset(fsms, 0, sizeof(fsms));
    log_set_sink(NULL, NULL);
}

static unsigned leader(void)
{
    unsigned l = raft_fixture_leader_index(&f);

    ck_assert_msg(l < n_srv, "no stable leader at %llu ms",
                  (unsigned long long)raft_fixture_time(&f));
    return l;
}

/* f.leader_id is only recomputed by a step: right after a kill it still
 * names the dead server, so wait for it to go away first. */
static unsigned wait_new_leader(unsigned old)
{
    unsigned l;

    ck_assert(raft_fixture_step_until_has_no_leader(&f, LONG_WAIT));
    ck_assert(raft_fixture_step_until_has_leader(&f, LONG_WAIT));
    l = leader();
    ck_assert_uint_ne(l, old);
    return l;
}

/* Cut server i off from (or reconnect it to) every other server; unlike
 * raft_fixture_kill it keeps ticking, so it notices it is alone. */
static void isolate(unsigned i, bool on)
{
    unsigned j;

    for (j = 0; j < n_srv; j++) {
        if (j == i)
            continue;
        if (on) {
            raft_fixture_saturate(&f, i, j);
            raft_fixture_saturate(&f, j, i);
        } else {
            raft_fixture_desaturate(&f, i, j);
            raft_fixture_desaturate(&f, j, i);
        }
    }
}

/* ---- requests ---- */

static void apply_cb(struct raft_apply *a, int status, void *result)
{
    struct req *q = a->data;

    REQUIRE(!q->done);
    REQUIRE((status == 0) == (result != NULL));
    q->done = true;
    q->status = status;
    if (result != NULL) {
        q->res = *(const struct fsm_result *)result;
        q->has_res = true;
    }
}

/* Hand buf (raft_malloc'd) to server i. On failure the buffer is still
 * ours and is freed here. */
static int try_submit(unsigned i, struct raft_buffer buf, struct req **out)
{
    struct req *q;
    int rc;

    REQUIRE(n_reqs < MAX_REQS);
    q = &reqs[n_reqs];
    memset(q, 0, sizeof(*q));
    q->a.data = q;
    rc = raft_apply(srv(i), &q->a, &buf, 1, apply_cb);
    if (rc != 0) {
        raft_free(buf.base);
        return rc;
    }
    n_reqs++;
    *out = q;
    return 0;
}

static struct req *submit_buf(unsigned i, struct raft_buffer buf)
{
    struct req *q = NULL;
    int rc = try_submit(i, buf, &q);

    ck_assert_msg(rc == 0, "raft_apply on %u: %s", i, raft_strerror(rc));
    return q;
}

static struct raft_buffer frame_of(const void *data, size_t len)
{
    struct raft_buffer b;

    ck_assert_int_eq(raftglue_frame(data, len, &b, err), 0);
    return b;
}

static struct raft_buffer raw_buf(const void *data, size_t len)
{
    struct raft_buffer b = {raft_malloc(len), len};

    ck_assert_ptr_nonnull(b.base);
    memcpy(b.base, data, len);
    return b;
}

static struct raft_buffer kv_cmd(enum fsm_kv_verb verb, const char *key,
                                 const void *val, size_t len, uint64_t cas,
                                 size_t *cmd_len)
{
    struct fsm_kv_op op = {verb, key, val, len, 0, cas};
    struct raft_buffer b;
    void *cmd;
    size_t n;

    ck_assert_int_eq(fsm_encode_kv(&op, raft_malloc, &cmd, &n, err), 0);
    b = frame_of(cmd, n);
    raft_free(cmd);
    if (cmd_len != NULL)
        *cmd_len = n;
    return b;
}

static struct req *submit_kv(unsigned i, enum fsm_kv_verb verb,
                             const char *key, const char *val, uint64_t cas)
{
    return submit_buf(i, kv_cmd(verb, key, val, val ? strlen(val) : 0, cas,
                                NULL));
}

static bool req_done(struct raft_fixture *fx, void *arg)
{
    (void)fx;
    return ((struct req *)arg)->done;
}

static void wait_req(struct req *q)
{
    ck_assert_msg(raft_fixture_step_until(&f, req_done, q, LONG_WAIT),
                  "entry %llu never completed",
                  (unsigned long long)q->a.index);
}

/* Commit one KV command through server i; it must be applied. */
static struct fsm_result commit_kv(unsigned i, enum fsm_kv_verb verb,
                                   const char *key, const char *val,
                                   uint64_t cas)
{
    struct req *q = submit_kv(i, verb, key, val, cas);

    wait_req(q);
    ck_assert_msg(q->status == 0, "entry %llu: %s",
                  (unsigned long long)q->a.index, raft_strerror(q->status));
    ck_assert(q->has_res);
    ck_assert_int_eq(q->res.rc, 0);
    ck_assert_uint_eq(q->res.index, q->a.index);
    return q->res;
}

static void wait_applied(unsigned i, raft_index index)
{
    ck_assert_msg(raft_fixture_step_until_applied(&f, i, index, LONG_WAIT),
                  "server %u applied %llu, wanted %llu", i,
                  (unsigned long long)raft_last_applied(srv(i)),
                  (unsigned long long)index);
}

/* ---- state comparison ---- */

struct pair {
    const struct kv_store *other;
    int n;
};

static int same_entry(void *ctx, const struct kv_entry *e)
{
    struct pair *p = ctx;
    const struct kv_entry *o = kv_peek(p->other, e->key);

    REQUIRE(o != NULL);
    REQUIRE(o->len == e->len);
    REQUIRE((o->val == NULL) == (e->val == NULL));
    REQUIRE(e->len == 0 || memcmp(o->val, e->val, e->len) == 0);
    REQUIRE(o->flags == e->flags);
    REQUIRE(o->create_index == e->create_index);
    REQUIRE(o->modify_index == e->modify_index);
    REQUIRE(o->lock_index == e->lock_index);
    p->n++;
    return 0;
}

static int same_tomb(void *ctx, const char *key, uint64_t index)
{
    struct pair *p = ctx;

    REQUIRE(kv_peek(p->other, key) == NULL);
    REQUIRE(kv_key_index(p->other, key) == index);
    p->n++;
    return 0;
}

static void assert_same_state(unsigned a, unsigned b)
{
    const struct fsm *x = &fsms[a], *y = &fsms[b];
    struct pair p = {y->kv, 0};

    ck_assert_uint_eq(x->last_index, y->last_index);
    ck_assert_uint_eq(kv_table_index(x->kv), kv_table_index(y->kv));
    ck_assert_uint_eq(kv_count(x->kv), kv_count(y->kv));
    ck_assert_uint_eq(kv_tombstone_count(x->kv), kv_tombstone_count(y->kv));
    ck_assert_int_eq(kv_walk_prefix(x->kv, "", same_entry, &p), 0);
    ck_assert_int_eq(kv_walk_tombstones(x->kv, same_tomb, &p), 0);
    ck_assert_int_eq(p.n, (int)(kv_count(x->kv) + kv_tombstone_count(x->kv)));
    ck_assert_int_eq(kv_verify(x->kv, err), 0);
    ck_assert_int_eq(kv_verify(y->kv, err), 0);
}

/* All servers hold the same state, and each index applied by more than
 * one of them gave the same result everywhere. */
static void assert_converged(void)
{
    unsigned s, idx;
    int first;

    for (s = 1; s < n_srv; s++)
        assert_same_state(0, s);
    for (idx = 1; idx < MAX_INDEX; idx++) {
        first = -1;
        for (s = 0; s < n_srv; s++) {
            if (!applied[s][idx])
                continue;
            if (first < 0) {
                first = (int)s;
                continue;
            }
            REQUIRE(seen[s][idx].rc == seen[first][idx].rc);
            REQUIRE(seen[s][idx].ok == seen[first][idx].ok);
            REQUIRE(seen[s][idx].index == seen[first][idx].index);
        }
    }
}

/* ---- framing and callbacks, without a cluster ---- */

START_TEST(frame_round_trip)
{
    unsigned char data[300];
    struct raft_buffer b;
    const unsigned char *p;
    const void *out;
    size_t len, n, i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 1);
    for (len = 0; len < sizeof(data); len++) {
        REQUIRE(raftglue_frame(len ? data : NULL, len, &b, err) == 0);
        p = b.base;
        REQUIRE(b.len % 8 == 0);
        REQUIRE(b.len >= 8 + len && b.len < 16 + len);
        REQUIRE(memcmp(p, "PCR1", 4) == 0);
        REQUIRE(p[4] == (len & 0xff) && p[5] == (len >> 8) && p[6] == 0 &&
                p[7] == 0);
        for (i = 8 + len; i < b.len; i++)
            REQUIRE(p[i] == 0);
        out = NULL;
        n = 99999;
        REQUIRE(raftglue_unframe(&b, &out, &n) == 0);
        REQUIRE(n == len);
        REQUIRE(out == p + 8);
        REQUIRE(len == 0 || memcmp(out, data, len) == 0);
        raft_free(b.base);
    }
}
END_TEST

START_TEST(unframe_rejects_bad_frames)
{
    unsigned char raw[64];
    static const uint32_t claims[] = {17,         18,         24,
                                      100,        0x100,      0x10000,
                                      0x7fffffff, 0x80000000, 0xfffffff8,
                                      0xffffffff};
    struct raft_buffer b, c;
    const void *out;
    size_t n, i;

    b = frame_of("0123456789a", 11);
    ck_assert_uint_eq(b.len, 24);
    memcpy(raw, b.base, b.len);
    c.base = raw;
    /* Shorter than a header, even with the right magic. */
    for (c.len = 0; c.len < 8; c.len++)
        ck_assert_int_eq(raftglue_unframe(&c, &out, &n), -1);
    c.len = b.len;
    /* Any damage to the magic. */
    for (i = 0; i < 4; i++) {
        raw[i] ^= 0x20;
        ck_assert_int_eq(raftglue_unframe(&c, &out, &n), -1);
        raw[i] ^= 0x20;
    }
    /* A length past the end of the buffer, up to 0xffffffff. */
    for (i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        raw[4] = (unsigned char)claims[i];
        raw[5] = (unsigned char)(claims[i] >> 8);
        raw[6] = (unsigned char)(claims[i] >> 16);
        raw[7] = (unsigned char)(claims[i] >> 24);
        ck_assert_msg(raftglue_unframe(&c, &out, &n) == -1, "claim %u",
                      (unsigned)claims[i]);
    }
    /* The payload may stop anywhere inside the buffer, padding included
     * (16 = 24 - header), and the header alone is an empty payload. */
    raw[4] = 16;
    raw[5] = raw[6] = raw[7] = 0;
    ck_assert_int_eq(raftglue_unframe(&c, &out, &n), 0);
    ck_assert_uint_eq(n, 16);
    c.len = 8;
    raw[4] = 0;
    ck_assert_int_eq(raftglue_unframe(&c, &out, &n), 0);
    ck_assert_uint_eq(n, 0);
    /* Too large to frame: refused before anything is read or allocated. */
    ck_assert_int_eq(raftglue_frame(raw, (size_t)UINT32_MAX, &c, err),
                     ERR_TOOBIG);
    raft_free(b.base);
}
END_TEST

/* The callbacks called directly, as libraft 0.15 does (a version 3
 * FSM): snapshot forks the writer, snapshot_async waits for it and maps
 * its file, snapshot_finalize releases both; a restored buffer belongs
 * to the FSM on success only. */
START_TEST(snapshot_and_restore_callbacks)
{
    static const char junk[] = "\x85not a snapshot";
    struct raftglue_fsm src_gf, dst_gf;
    struct fsm src, dst;
    struct raft_buffer *bufs, bad, copy;
    unsigned n_bufs = 0;
    int changes_dst = 0;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    ck_assert_int_eq(fsm_init(&dst, err), 0);
    dst.on_change = on_change;
    dst.ctx = &changes_dst;
    raftglue_fsm_init(&src_gf, &src, NULL);
    raftglue_fsm_init(&dst_gf, &dst, NULL);
    ck_assert_int_eq(src_gf.iface.version, 3);
    ck_assert_ptr_eq(src_gf.iface.data, &src_gf);
    ck_assert_int_eq(kv_put(src.kv, "a", "1", 1, 0, 5, err), 0);
    ck_assert_int_eq(kv_put(src.kv, "b", "22", 2, 0, 6, err), 0);
    ck_assert_int_eq(kv_delete(src.kv, "a", 7, err), 0);
    src.last_index = 8;
    ck_assert_int_eq(kv_put(dst.kv, "old", "x", 1, 0, 99, err), 0);
    ck_assert_int_eq(src_gf.iface.snapshot(&src_gf.iface, &bufs, &n_bufs), 0);
    ck_assert_uint_eq(n_bufs, 1);
    /* the state may change while the child writes: it has its own copy */
    ck_assert_int_eq(kv_put(src.kv, "later", "x", 1, 0, 9, err), 0);
    ck_assert_int_eq(src_gf.iface.snapshot_async(&src_gf.iface, &bufs,
                                                 &n_bufs), 0);
    ck_assert_uint_eq(n_bufs, 1);
    ck_assert_uint_gt(bufs[0].len, 0);
    copy = raw_buf(bufs[0].base, bufs[0].len); /* as libraft reads it */
    ck_assert_int_eq(src_gf.iface.snapshot_finalize(&src_gf.iface, &bufs,
                                                    &n_bufs), 0);
    ck_assert_ptr_null(bufs);
    ck_assert_int_eq(src_gf.snap_fd, -1);
    ck_assert_int_eq(src_gf.snap_pid, 0);
    /* Failure: nothing changes and the buffer is still the caller's. */
    bad = raw_buf(junk, sizeof(junk) - 1);
    ck_assert_int_eq(dst_gf.iface.restore(&dst_gf.iface, &bad), RAFT_CORRUPT);
    raft_free(bad.base);
    ck_assert_ptr_nonnull(kv_peek(dst.kv, "old"));
    ck_assert_int_eq(changes_dst, 0);
    /* Success: the glue frees the buffer (ASan: no leak, no double). */
    ck_assert_int_eq(dst_gf.iface.restore(&dst_gf.iface, &copy), 0);
    ck_assert_ptr_null(kv_peek(dst.kv, "old"));
    ck_assert_ptr_null(kv_peek(dst.kv, "later"));
    ck_assert_ptr_null(kv_peek(dst.kv, "a"));
    ck_assert_uint_eq(kv_key_index(dst.kv, "a"), 7);
    ck_assert_uint_eq(kv_peek(dst.kv, "b")->modify_index, 6);
    ck_assert_uint_eq(dst.last_index, 8);
    ck_assert_int_eq(changes_dst, 1);
    fsm_release(&src);
    fsm_release(&dst);
}
END_TEST

/* A snapshot that could not be taken is not tried again for 10 s
 * (libraft asks at every entry applied past its threshold, and each try
 * forks): the next calls answer RAFT_BUSY without forking. */
START_TEST(failed_snapshot_backs_off)
{
    struct raftglue_fsm gf;
    struct fsm st;
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;

    ck_assert_int_eq(fsm_init(&st, err), 0);
    st.tmp_dir = "/nonexistent/proconsul-check";
    raftglue_fsm_init(&gf, &st, NULL);
    ck_assert_int_eq(gf.iface.snapshot(&gf.iface, &bufs, &n_bufs),
                     RAFT_IOERR);
    ck_assert_ptr_null(bufs);
    ck_assert_int_eq(gf.snap_pid, 0);
    ck_assert_int_gt(gf.snap_retry_ns, 0);
    st.tmp_dir = NULL; /* room again: still not before the delay */
    ck_assert_int_eq(gf.iface.snapshot(&gf.iface, &bufs, &n_bufs),
                     RAFT_BUSY);
    ck_assert_int_eq(gf.snap_pid, 0);
    gf.snap_retry_ns = 1; /* the delay is over */
    ck_assert_int_eq(gf.iface.snapshot(&gf.iface, &bufs, &n_bufs), 0);
    ck_assert_int_eq(gf.iface.snapshot_async(&gf.iface, &bufs, &n_bufs), 0);
    ck_assert_int_eq(gf.iface.snapshot_finalize(&gf.iface, &bufs, &n_bufs),
                     0);
    ck_assert_int_eq(gf.snap_retry_ns, 0);
    fsm_release(&st);
}
END_TEST

/* ---- replication ---- */

static size_t value_of(unsigned i, unsigned char *val)
{
    size_t len = 1 + (i * 37) % 200, j;

    for (j = 0; j < len; j++)
        val[j] = (unsigned char)(i * 31 + j * 7);
    return len;
}

START_TEST(replicate_odd_lengths_and_converge)
{
    struct req *q[100], *nope;
    unsigned char val[256];
    const struct kv_entry *e;
    char key[32];
    size_t cmd_len, vlen;
    unsigned i, s, l, unaligned = 0;
    raft_index last;

    cluster_start(3, NULL);
    ck_assert(raft_fixture_step_until_has_leader(&f, LONG_WAIT));
    l = leader();
    /* A follower refuses and the buffer stays ours (ASan: no double free). */
    ck_assert_int_eq(try_submit((l + 1) % 3, kv_cmd(FSM_KV_SET, "x", "y", 1,
                                                   0, NULL), &nope),
                     RAFT_NOTLEADER);
    /* The first 60 in flight together, the rest one at a time. */
    for (i = 0; i < 100; i++) {
        vlen = value_of(i, val);
        snprintf(key, sizeof(key), "odd/%03u", i);
        q[i] = submit_buf(l, kv_cmd(FSM_KV_SET, key, val, vlen, 0, &cmd_len));
        unaligned += cmd_len % 8 != 0;
        if (i >= 60)
            wait_req(q[i]);
    }
    ck_assert_uint_ge(unaligned, 80);
    for (i = 0; i < 100; i++) {
        wait_req(q[i]);
        REQUIRE(q[i]->status == 0 && q[i]->has_res);
        REQUIRE(q[i]->res.rc == 0 && q[i]->res.ok);
        REQUIRE(q[i]->res.index == q[i]->a.index);
        REQUIRE(i == 0 || q[i]->a.index == q[i - 1]->a.index + 1);
    }
    last = q[99]->a.index;
    for (s = 0; s < 3; s++)
        wait_applied(s, last);
    for (s = 0; s < 3; s++) {
        ck_assert_uint_eq(fsms[s].last_index, last);
        ck_assert_uint_eq(raft_last_applied(srv(s)), last);
        ck_assert_uint_eq(kv_count(fsms[s].kv), 100);
        ck_assert_int_eq(changes[s], 100);
        for (i = 0; i < 100; i++) {
            vlen = value_of(i, val);
            snprintf(key, sizeof(key), "odd/%03u", i);
            e = kv_peek(fsms[s].kv, key);
            REQUIRE(e != NULL && e->len == vlen);
            REQUIRE(memcmp(e->val, val, vlen) == 0);
            REQUIRE(e->create_index == q[i]->a.index);
            REQUIRE(e->modify_index == q[i]->a.index);
        }
    }
    assert_converged();
}
END_TEST

START_TEST(cas_and_deletes_agree_on_all_replicas)
{
    struct fsm_result set, cas, stale, exists, fresh, dstale, tree, gone,
        dmiss, none;
    unsigned s;

    cluster_start(3, NULL);
    raft_fixture_elect(&f, 0);
    set = commit_kv(0, FSM_KV_SET, "k", "v1", 0);
    cas = commit_kv(0, FSM_KV_CAS, "k", "v2", set.index);
    ck_assert(cas.ok);
    stale = commit_kv(0, FSM_KV_CAS, "k", "v3", set.index);
    ck_assert(!stale.ok);
    exists = commit_kv(0, FSM_KV_CAS, "k", "v4", 0);
    ck_assert(!exists.ok);
    fresh = commit_kv(0, FSM_KV_CAS, "new", "n", 0);
    ck_assert(fresh.ok);
    dstale = commit_kv(0, FSM_KV_DELETE_CAS, "k", NULL, set.index);
    ck_assert(!dstale.ok);
    commit_kv(0, FSM_KV_SET, "tree/a", "1", 0);
    commit_kv(0, FSM_KV_SET, "tree/b", "2", 0);
    commit_kv(0, FSM_KV_SET, "tree/c/d", "3", 0);
    commit_kv(0, FSM_KV_SET, "treehouse", "4", 0);
    tree = commit_kv(0, FSM_KV_DELETE_TREE, "tree/", NULL, 0);
    none = commit_kv(0, FSM_KV_DELETE_TREE, "tree/", NULL, 0);
    gone = commit_kv(0, FSM_KV_DELETE_CAS, "k", NULL, cas.index);
    ck_assert(gone.ok);
    dmiss = commit_kv(0, FSM_KV_DELETE_CAS, "missing", NULL, 3);
    ck_assert(dmiss.ok);
    for (s = 0; s < 3; s++)
        wait_applied(s, dmiss.index);
    for (s = 0; s < 3; s++) {
        const struct fsm *g = &fsms[s];

        /* What each replica itself computed, not only the leader. */
        ck_assert(applied[s][stale.index] && !seen[s][stale.index].ok);
        ck_assert(!seen[s][exists.index].ok && !seen[s][dstale.index].ok);
        ck_assert(seen[s][cas.index].ok && seen[s][gone.index].ok);
        ck_assert_int_eq(seen[s][stale.index].rc, 0);
        ck_assert_ptr_null(kv_peek(g->kv, "k"));
        ck_assert_uint_eq(kv_key_index(g->kv, "k"), gone.index);
        ck_assert_uint_eq(kv_peek(g->kv, "new")->modify_index, fresh.index);
        ck_assert_ptr_null(kv_peek(g->kv, "tree/a"));
        ck_assert_ptr_null(kv_peek(g->kv, "tree/c/d"));
        ck_assert_uint_eq(kv_key_index(g->kv, "tree/c/d"), tree.index);
        ck_assert_uint_eq(kv_prefix_index(g->kv, "tree/"), tree.index);
        ck_assert_ptr_nonnull(kv_peek(g->kv, "treehouse"));
        ck_assert_uint_eq(kv_count(g->kv), 2);
        ck_assert_uint_eq(kv_tombstone_count(g->kv), 4);
        ck_assert_uint_eq(g->last_index, dmiss.index);
        /* Failed CASes and no-op deletes fire no change anywhere. */
        ck_assert_int_eq(changes[s], 9);
    }
    ck_assert(none.ok);
    assert_converged();
}
END_TEST

/* ---- leader loss ---- */

START_TEST(leader_killed_new_leader_and_old_catches_up)
{
    struct fsm_result r;
    raft_time t0;
    raft_term term;
    char key[16];
    unsigned i, l;

    cluster_start(3, NULL);
    raft_fixture_elect(&f, 0);
    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "a/%u", i);
        commit_kv(0, FSM_KV_SET, key, "before", 0);
    }
    term = srv(0)->current_term;
    t0 = raft_fixture_time(&f);
    raft_fixture_kill(&f, 0);
    l = wait_new_leader(0);
    /* raft_fixture_elect leaves both followers with the same maximal
     * randomized timeout (2000 ms), which heartbeats do not re-draw, so
     * the first failover is a split vote: two rounds, term + 2. */
    ck_assert_uint_le(raft_fixture_time(&f) - t0, 4000);
    ck_assert_uint_gt(srv(l)->current_term, term);
    for (i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "b/%u", i);
        r = commit_kv(l, FSM_KV_SET, key, "after", 0);
    }
    wait_applied(3 - l, r.index);
    /* The dead server still believes it leads its old term. */
    ck_assert_int_eq(raft_state(srv(0)), RAFT_LEADER);
    ck_assert_uint_lt(raft_last_applied(srv(0)), r.index);
    raft_fixture_revive(&f, 0);
    wait_applied(0, r.index);
    ck_assert_int_eq(raft_state(srv(0)), RAFT_FOLLOWER);
    ck_assert_uint_eq(srv(0)->current_term, srv(l)->current_term);
    ck_assert_uint_eq(leader(), l);
    ck_assert_uint_eq(kv_count(fsms[0].kv), 10);
    assert_converged();
}
END_TEST

static bool followers_stored(struct raft_fixture *fx, void *arg)
{
    raft_index index = *(const raft_index *)arg;

    (void)fx;
    return srv(1)->last_stored >= index && srv(2)->last_stored >= index;
}

/* RAFT_LEADERSHIPLOST does not mean "not written": the entry reached a
 * majority before its leader died, and the next leader commits it. */
START_TEST(leadership_lost_write_is_still_applied)
{
    struct fsm_result r;
    struct req *q;
    raft_index index;
    unsigned s, l;

    cluster_start(3, NULL);
    raft_fixture_elect(&f, 0);
    commit_kv(0, FSM_KV_SET, "warm", "up", 0);
    q = submit_kv(0, FSM_KV_SET, "lost", "maybe", 0);
    index = q->a.index;
    ck_assert(raft_fixture_step_until(&f, followers_stored, &index, 1000));
    ck_assert_uint_lt(srv(0)->commit_index, index);
    ck_assert(!q->done);
    raft_fixture_kill(&f, 0);
    l = wait_new_leader(0);
    /* A write in the new term commits everything before it. (0.15 also
     * commits the old-term entry on the first heartbeat round without
     * one, against Raft 5.4.2; not relied on here.) */
    r = commit_kv(l, FSM_KV_SET, "next", "term", 0);
    ck_assert_uint_gt(r.index, index);
    wait_applied(3 - l, r.index);
    raft_fixture_revive(&f, 0);
    wait_req(q);
    ck_assert_int_eq(q->status, RAFT_LEADERSHIPLOST);
    ck_assert(!q->has_res);
    wait_applied(0, r.index);
    for (s = 0; s < 3; s++) {
        ck_assert_ptr_nonnull(kv_peek(fsms[s].kv, "lost"));
        ck_assert_uint_eq(kv_peek(fsms[s].kv, "lost")->modify_index, index);
        ck_assert(applied[s][index] && seen[s][index].ok);
    }
    assert_converged();
}
END_TEST

/* ---- partitions ---- */

static void tune_pre_vote(struct raft *r) { raft_set_pre_vote(r, true); }

/* _i: 0 without pre-vote (the libraft default), 1 with it. */
START_TEST(partitioned_leader_cannot_commit)
{
    bool pre_vote = _i == 1;
    struct fsm_result y;
    struct req *x;
    raft_term t_old, t_new;
    unsigned s, l;

    cluster_start(3, pre_vote ? tune_pre_vote : NULL);
    raft_fixture_elect(&f, 0);
    commit_kv(0, FSM_KV_SET, "base", "1", 0);
    commit_kv(0, FSM_KV_SET, "base", "2", 0);
    t_old = srv(0)->current_term;
    isolate(0, true);
    /* Still leader as far as it knows, so raft_apply takes the entry. */
    x = submit_kv(0, FSM_KV_SET, "minority", "lost", 0);
    wait_req(x);
    ck_assert_int_eq(x->status, RAFT_LEADERSHIPLOST);
    ck_assert_int_ne(raft_state(srv(0)), RAFT_LEADER);
    ck_assert_uint_lt(srv(0)->commit_index, x->a.index);
    ck_assert(!applied[0][x->a.index]);
    ck_assert(raft_fixture_step_until_has_leader(&f, LONG_WAIT));
    l = leader();
    ck_assert_uint_ne(l, 0);
    y = commit_kv(l, FSM_KV_SET, "majority", "won", 0);
    /* The majority reused the index of the minority's entry. */
    ck_assert_uint_eq(y.index, x->a.index);
    wait_applied(3 - l, y.index);
    ck_assert_ptr_null(kv_peek(fsms[0].kv, "majority"));
    ck_assert_ptr_null(kv_peek(fsms[0].kv, "minority"));
    raft_fixture_step_until_elapsed(&f, 3000);
    t_new = srv(l)->current_term;
    if (pre_vote)
        ck_assert_uint_eq(srv(0)->current_term, t_old);
    else
        ck_assert_uint_gt(srv(0)->current_term, t_new);
    isolate(0, false);
    wait_applied(0, y.index);
    ck_assert(raft_fixture_step_until_has_leader(&f, LONG_WAIT));
    for (s = 0; s < 3; s++) {
        ck_assert_ptr_null(kv_peek(fsms[s].kv, "minority"));
        ck_assert_ptr_nonnull(kv_peek(fsms[s].kv, "majority"));
        ck_assert_uint_eq(raft_last_index(srv(s)), raft_last_index(srv(l)));
    }
    if (pre_vote) {
        /* The rejoining server did not disturb the healthy majority. */
        ck_assert_uint_eq(leader(), l);
        ck_assert_uint_eq(srv(l)->current_term, t_new);
    } else {
        /* Its inflated term forced a new election. */
        ck_assert_uint_gt(srv(leader())->current_term, t_new);
    }
    commit_kv(leader(), FSM_KV_SET, "healed", "yes", 0);
    for (s = 0; s < 3; s++)
        wait_applied(s, raft_last_index(srv(leader())));
    assert_converged();
}
END_TEST

/* ---- snapshots ---- */

/* With pre-vote, as a revived server's election timer has long expired:
 * without it, it stands at once with a higher term and deposes the
 * leader (same catch-up, but ~1.5 s instead of ~0.3 s). */
static void tune_snapshots(struct raft *r)
{
    raft_set_snapshot_threshold(r, 16);
    raft_set_snapshot_trailing(r, 4);
    raft_set_pre_vote(r, true);
}

static bool snapshot_past(struct raft_fixture *fx, void *arg)
{
    (void)fx;
    return srv(0)->log.snapshot.last_index > *(raft_index *)arg + 1;
}

START_TEST(follower_catches_up_through_snapshot)
{
    struct fsm_result r = {0};
    raft_term term;
    raft_index stale;
    unsigned installs, i, s;
    char key[16];

    cluster_start(3, tune_snapshots);
    raft_fixture_elect(&f, 0);
    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "s/%02u", i);
        commit_kv(0, FSM_KV_SET, key, "first", 0);
    }
    wait_applied(2, raft_last_index(srv(0)));
    raft_fixture_kill(&f, 2);
    stale = srv(2)->last_stored;
    for (i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "s/%02u", (i * 7) % 50);
        r = commit_kv(0, i % 5 ? FSM_KV_SET : FSM_KV_DELETE, key, "second",
                      0);
    }
    /* The leader no longer has the entries server 2 needs next (its
     * snapshots are written in the background: let them finish). */
    ck_assert(raft_fixture_step_until(&f, snapshot_past, &stale,
                                      LONG_WAIT));
    ck_assert_uint_gt(srv(0)->log.snapshot.last_index, stale + 1);
    ck_assert_uint_gt(raft_last_index(srv(0)), stale);
    installs = raft_fixture_n_recv(&f, 2, RAFT_IO_INSTALL_SNAPSHOT);
    term = srv(0)->current_term;
    ck_assert_uint_eq(taps[2].restores, 0);
    raft_fixture_revive(&f, 2);
    wait_applied(2, r.index);
    ck_assert_uint_gt(raft_fixture_n_recv(&f, 2, RAFT_IO_INSTALL_SNAPSHOT),
                      installs);
    ck_assert_uint_ge(taps[2].restores, 1);
    ck_assert_uint_eq(taps[0].restores + taps[1].restores, 0);
    ck_assert_uint_eq(srv(2)->log.snapshot.last_index,
                      srv(0)->log.snapshot.last_index);
    ck_assert_uint_eq(leader(), 0);
    ck_assert_uint_eq(srv(0)->current_term, term);
    /* Entries inside the snapshot were never applied one by one there. */
    ck_assert(!applied[2][stale + 1]);
    ck_assert_uint_eq(fsms[2].last_index, r.index);
    assert_converged();
    /* Indexes stay right after a restore. */
    r = commit_kv(0, FSM_KV_SET, "post/restore", "x", 0);
    for (s = 0; s < 3; s++)
        wait_applied(s, r.index);
    for (s = 0; s < 3; s++)
        ck_assert_uint_eq(
            kv_peek(fsms[s].kv, "post/restore")->create_index, r.index);
    assert_converged();
}
END_TEST

/* ---- bad entries ---- */

START_TEST(undecodable_entries_do_not_wedge_the_log)
{
    static const char hdr_overlong[16] = "PCR1\x64\0\0\0payload!";
    struct req *g[5];
    struct raft_buffer b;
    struct fsm_result before, after;
    unsigned i, s;

    cluster_start(3, NULL);
    raft_fixture_elect(&f, 0);
    before = commit_kv(0, FSM_KV_SET, "before", "1", 0);
    g[0] = submit_buf(0, raw_buf("not framed at all!!", 19));
    g[1] = submit_buf(0, frame_of("\xc1\xc1\xc1", 3));
    g[2] = submit_buf(0, frame_of(NULL, 0));
    g[3] = submit_buf(0, raw_buf(hdr_overlong, sizeof(hdr_overlong)));
    b = kv_cmd(FSM_KV_SET, "wrong/magic", "v", 1, 0, NULL);
    ((unsigned char *)b.base)[0] ^= 0xff;
    g[4] = submit_buf(0, b);
    for (i = 0; i < 5; i++) {
        wait_req(g[i]);
        ck_assert_int_eq(g[i]->status, 0);
        ck_assert(g[i]->has_res);
        ck_assert_int_eq(g[i]->res.rc, ERR_PARSE);
        ck_assert(!g[i]->res.ok);
        ck_assert_uint_eq(g[i]->res.index, g[i]->a.index);
    }
    for (s = 0; s < 3; s++)
        wait_applied(s, g[4]->a.index);
    for (s = 0; s < 3; s++) {
        /* Skipped entries still count as applied. */
        ck_assert_uint_eq(fsms[s].last_index, g[4]->a.index);
        ck_assert_uint_eq(kv_count(fsms[s].kv), 1);
        ck_assert_int_eq(changes[s], 1);
        for (i = 0; i < 5; i++)
            ck_assert_int_eq(seen[s][g[i]->a.index].rc, ERR_PARSE);
    }
    ck_assert_uint_eq(skip_lines, 5 * 3);
    after = commit_kv(0, FSM_KV_SET, "after", "2", 0);
    ck_assert(after.ok);
    ck_assert_uint_eq(after.index, g[4]->a.index + 1);
    for (s = 0; s < 3; s++)
        wait_applied(s, after.index);
    for (s = 0; s < 3; s++) {
        ck_assert_uint_eq(kv_peek(fsms[s].kv, "after")->modify_index,
                          after.index);
        ck_assert_uint_eq(kv_peek(fsms[s].kv, "before")->modify_index,
                          before.index);
        ck_assert_uint_eq(fsms[s].last_index, after.index);
    }
    assert_converged();
}
END_TEST

/* ---- an apply that holds the loop ---- */

static void tune_fast(struct raft *r)
{
    raft_set_heartbeat_timeout(r, 20);
    raft_set_election_timeout(r, 200);
    raft_set_pre_vote(r, true);
}

START_TEST(stalled_apply_keeps_the_leader)
{
    struct fsm_result r;
    raft_time t0, until;
    unsigned i;

    cluster_start(3, tune_fast);
    raft_fixture_elect(&f, 0);
    r = commit_kv(0, FSM_KV_SET, "warm", "up", 0);
    wait_applied(1, r.index);
    wait_applied(2, r.index);
    ck_assert_uint_eq(restarted_lines + held_lines, 0);
    stall_ms = 300; /* each server, at this entry: 1.5 election timeouts */
    r = commit_kv(0, FSM_KV_SET, "slow", "apply", 0);
    wait_applied(1, r.index);
    wait_applied(2, r.index);
    stall_ms = 0;
    ck_assert_uint_eq(restarted_lines, 2); /* both followers */
    ck_assert_uint_eq(held_lines, 1);      /* the leader */
    t0 = srv(0)->election_timer_start;
    until = gfs[0].hold_until;
    ck_assert_uint_ge(until, t0 + 2 * 300);
    /* No follower answers any more: without the hold the leader would
     * step down one election timeout (200) after the stall. */
    isolate(0, true);
    for (i = 0; i < 100000 && raft_fixture_time(&f) + 30 < until; i++) {
        raft_fixture_step(&f);
        raftglue_fsm_hold(&gfs[0]);
        ck_assert_msg(raft_state(srv(0)) == RAFT_LEADER,
                      "stepped down at %llu, held until %llu",
                      (unsigned long long)raft_fixture_time(&f),
                      (unsigned long long)until);
    }
    ck_assert_uint_ge(raft_fixture_time(&f) + 30, until);
    /* ...and no longer than that. */
    for (i = 0; i < 100000 && raft_state(srv(0)) == RAFT_LEADER &&
                raft_fixture_time(&f) < until + 2 * 200;
         i++) {
        raft_fixture_step(&f);
        raftglue_fsm_hold(&gfs[0]);
    }
    ck_assert_int_ne(raft_state(srv(0)), RAFT_LEADER);
    ck_assert_uint_eq(gfs[0].hold_until, 0);
    isolate(0, false);
}
END_TEST

static Suite *raftglue_suite(void)
{
    Suite *s = suite_create("raftglue");
    TCase *frame = tcase_create("frame");
    TCase *cluster = tcase_create("cluster");

    tcase_add_checked_fixture(frame, setup, teardown);
    tcase_add_test(frame, frame_round_trip);
    tcase_add_test(frame, unframe_rejects_bad_frames);
    tcase_add_test(frame, snapshot_and_restore_callbacks);
    tcase_add_test(frame, failed_snapshot_backs_off);
    suite_add_tcase(s, frame);
    tcase_add_checked_fixture(cluster, setup, teardown);
    tcase_set_timeout(cluster, 60);
    tcase_add_test(cluster, replicate_odd_lengths_and_converge);
    tcase_add_test(cluster, cas_and_deletes_agree_on_all_replicas);
    tcase_add_test(cluster, leader_killed_new_leader_and_old_catches_up);
    tcase_add_test(cluster, leadership_lost_write_is_still_applied);
    tcase_add_loop_test(cluster, partitioned_leader_cannot_commit, 0, 2);
    tcase_add_test(cluster, follower_catches_up_through_snapshot);
    tcase_add_test(cluster, undecodable_entries_do_not_wedge_the_log);
    tcase_add_test(cluster, stalled_apply_keeps_the_leader);
    suite_add_tcase(s, cluster);
    return s;
}

Suite *unit_suite(void)
{
    return raftglue_suite();
}

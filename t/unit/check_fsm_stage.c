/* check_fsm_stage.c - unit tests for the snapshot stream and the
 * replicated restore (libcore/fsm_snap.c streaming and statistics,
 * libcore/fsm_stage.c).
 *
 * Covers: the streamed snapshot is byte for byte fsm_snapshot's, in any
 * chunking; its statistics; a restore staged in pieces swaps the state
 * in at commit, and every way it can go wrong (bad hash, missing piece,
 * piece out of order, commit of another id, abort) leaves the running
 * state untouched; a staged restore blocks fsm_snapshot; a server that
 * cannot write its staging file fails its pieces and reports "fatal" at
 * the commit instead of parting from the others; fsm_restore without
 * room for its backup still swaps (beside the old state), and a bad
 * stream restored after the backup brings the old state back.
 */
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fsm.h"
#include "kv.h"
#include "unit.h"

static struct fsm f, g;
static char err[ERR_LEN];
static uint64_t next_index;

static void *alloc_fn(size_t n)
{
    return malloc(n);
}

static void apply_buf(struct fsm *t, void *buf, size_t len,
                      struct fsm_result *res)
{
    ck_assert_int_eq(fsm_apply(t, ++next_index, buf, len, res, err), 0);
    free(buf);
}

static void put(struct fsm *t, const char *key, const char *val)
{
    struct fsm_kv_op op = {FSM_KV_SET, key, val, strlen(val), 0, 0};
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err), 0);
    apply_buf(t, buf, len, &res);
    ck_assert_int_eq(res.rc, 0);
}

static void setup(void)
{
    ck_assert_int_eq(fsm_init(&f, err), 0);
    ck_assert_int_eq(fsm_init(&g, err), 0);
    next_index = 0;
}

static void teardown(void)
{
    fsm_release(&f);
    fsm_release(&g);
}

/* ---- streaming ---- */

struct sink {
    char *p;
    size_t len, cap, piece;
    uint64_t size;
    int calls;
};

static int sink_size(void *ctx, uint64_t size)
{
    struct sink *s = ctx;

    s->size = size;
    s->cap = (size_t)size;
    s->p = malloc(s->cap ? s->cap : 1);
    return s->p == NULL;
}

static int sink_out(void *ctx, const void *p, size_t n)
{
    struct sink *s = ctx;

    s->calls++;
    if (s->len + n > s->cap)
        return -1;
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return 0;
}

static void fill(struct fsm *t, int n)
{
    char key[32], val[300];

    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "k/%05d", i);
        val[i % 200] = (char)('a' + i % 26);
        put(t, key, val);
    }
}

START_TEST(stream_equals_snapshot)
{
    struct sink s = {0};
    void *buf;
    size_t len;

    fill(&f, 500);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_snapshot_stream(&f, sink_size, sink_out, &s, err),
                     0);
    ck_assert_uint_eq(s.size, len);
    ck_assert_uint_eq(s.len, len);
    ck_assert(memcmp(s.p, buf, len) == 0);
    ck_assert_int_gt(s.calls, 1); /* more than one 64 KiB piece */
    free(buf);
    free(s.p);
}
END_TEST

static int refuse_size(void *ctx, uint64_t size)
{
    (void)ctx;
    (void)size;
    return 1;
}

static int refuse_out(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return -1;
}

START_TEST(stream_aborts)
{
    struct sink s = {0};

    fill(&f, 3);
    ck_assert_int_eq(fsm_snapshot_stream(&f, refuse_size, sink_out, &s,
                                         err), ERR_IO);
    ck_assert_int_eq(fsm_snapshot_stream(&f, sink_size, refuse_out, &s,
                                         err), ERR_IO);
    free(s.p);
}
END_TEST

START_TEST(stats_count_records)
{
    json_t *st = NULL;
    void *buf;
    size_t len;

    fill(&f, 7);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_snapshot_stats(buf, len, &st, err), 0);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(st, 0), "Name")), "Header");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(st, 1), "Name")), "KVS");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(st, 1), "Count")), 7);
    json_decref(st);
    ck_assert_int_eq(fsm_snapshot_stats(buf, len / 2, &st, err), ERR_PARSE);
    ck_assert_ptr_null(st);
    free(buf);
}
END_TEST

/* ---- staged restore ---- */

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;

    EVP_Digest(p, n, md, &ml, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int stage(struct fsm *t, const char *op, const char *id,
                 uint64_t num, const char *sha, const void *p, size_t n)
{
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_restore(op, id, num, sha, p, n, alloc_fn,
                                        &buf, &len, err), 0);
    apply_buf(t, buf, len, &res);
    snprintf(err, sizeof(err), "%s", res.msg);
    return res.rc;
}

static char *state_of(struct fsm *t, size_t *len)
{
    void *buf;

    ck_assert_int_eq(fsm_snapshot(t, alloc_fn, &buf, len, err), 0);
    return buf;
}

/* Stage f's state into g in pieces of `piece` bytes. */
static void stage_all(const char *id, const char *snap, size_t len,
                      size_t piece, const char *sha)
{
    ck_assert_int_eq(stage(&g, "begin", id, len, sha, NULL, 0), 0);
    for (size_t off = 0; off < len; off += piece)
        ck_assert_int_eq(stage(&g, "chunk", id, off, NULL, snap + off,
                               len - off < piece ? len - off : piece), 0);
}

START_TEST(restore_in_pieces)
{
    size_t len;
    char *snap, sha[65];
    const struct kv_entry *e;

    fill(&f, 300);
    put(&g, "old", "x");
    snap = state_of(&f, &len);
    sha_hex(snap, len, sha);
    stage_all("r1", snap, len, 4096, sha);
    ck_assert(fsm_restore_pending(&g));
    ck_assert_ptr_nonnull(kv_peek(g.kv, "old")); /* not yet */
    ck_assert_int_eq(stage(&g, "commit", "r1", 0, NULL, NULL, 0), 0);
    ck_assert(!fsm_restore_pending(&g));
    ck_assert_ptr_null(kv_peek(g.kv, "old"));
    e = kv_peek(g.kv, "k/00299");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(g.last_index, next_index);
    free(snap);
}
END_TEST

START_TEST(restore_bad_hash_changes_nothing)
{
    size_t len;
    char *snap, sha[65];

    fill(&f, 20);
    put(&g, "old", "x");
    snap = state_of(&f, &len);
    sha_hex(snap, len, sha);
    sha[0] = sha[0] == '0' ? '1' : '0';
    stage_all("r2", snap, len, 1000, sha);
    ck_assert_int_eq(stage(&g, "commit", "r2", 0, NULL, NULL, 0), ERR_INVAL);
    ck_assert(strstr(err, "hash") != NULL);
    ck_assert_ptr_nonnull(kv_peek(g.kv, "old"));
    ck_assert(!fsm_restore_pending(&g));
    free(snap);
}
END_TEST

START_TEST(restore_refuses_holes_and_strangers)
{
    size_t len;
    char *snap, sha[65];

    fill(&f, 20);
    put(&g, "old", "x");
    snap = state_of(&f, &len);
    sha_hex(snap, len, sha);
    ck_assert_int_eq(stage(&g, "begin", "r3", len, sha, NULL, 0), 0);
    /* a piece out of place gives up the whole restore */
    ck_assert_int_eq(stage(&g, "chunk", "r3", 10, NULL, snap + 10, 5),
                     ERR_INVAL);
    ck_assert(!fsm_restore_pending(&g));
    ck_assert_int_eq(stage(&g, "commit", "r3", 0, NULL, NULL, 0), ERR_INVAL);
    /* short, then committed: incomplete */
    ck_assert_int_eq(stage(&g, "begin", "r4", len, sha, NULL, 0), 0);
    ck_assert_int_eq(stage(&g, "chunk", "r4", 0, NULL, snap, len - 1), 0);
    ck_assert_int_eq(stage(&g, "commit", "other", 0, NULL, NULL, 0),
                     ERR_INVAL);
    ck_assert(fsm_restore_pending(&g));
    ck_assert_int_eq(stage(&g, "commit", "r4", 0, NULL, NULL, 0), ERR_INVAL);
    ck_assert(strstr(err, "incomplete") != NULL);
    /* abort drops it */
    ck_assert_int_eq(stage(&g, "begin", "r5", len, sha, NULL, 0), 0);
    ck_assert_int_eq(stage(&g, "abort", "r5", 0, NULL, NULL, 0), 0);
    ck_assert(!fsm_restore_pending(&g));
    ck_assert_ptr_nonnull(kv_peek(g.kv, "old"));
    free(snap);
}
END_TEST

START_TEST(staged_restore_blocks_snapshots)
{
    size_t len;
    char *snap, sha[65];
    void *buf;

    fill(&f, 5);
    snap = state_of(&f, &len);
    sha_hex(snap, len, sha);
    ck_assert_int_eq(stage(&g, "begin", "r6", len, sha, NULL, 0), 0);
    ck_assert_int_eq(fsm_snapshot(&g, alloc_fn, &buf, &len, err),
                     ERR_CONFLICT);
    /* a new begin replaces a restore left behind */
    ck_assert_int_eq(stage(&g, "begin", "r7", len, sha, NULL, 0), 0);
    ck_assert_int_eq(stage(&g, "abort", "r7", 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(fsm_snapshot(&g, alloc_fn, &buf, &len, err), 0);
    free(buf);
    free(snap);
}
END_TEST

static int fatals;

static void count_fatal(void *ctx, const char *kind, uint64_t index)
{
    (void)ctx;
    (void)index;
    fatals += strcmp(kind, "fatal") == 0;
}

START_TEST(unwritable_stage_is_fatal_at_commit)
{
    size_t len;
    char *snap, sha[65];

    fill(&f, 50);
    put(&g, "old", "x");
    snap = state_of(&f, &len);
    sha_hex(snap, len, sha);
    g.tmp_dir = "/nonexistent/proconsul-test";
    g.on_change = count_fatal;
    fatals = 0;
    ck_assert_int_eq(stage(&g, "begin", "r8", len, sha, NULL, 0), ERR_IO);
    ck_assert(strstr(err, "/nonexistent/proconsul-test") != NULL);
    ck_assert(fsm_restore_pending(&g)); /* kept, marked broken */
    ck_assert_int_eq(stage(&g, "chunk", "r8", 0, NULL, snap, len), ERR_IO);
    ck_assert(fsm_restore_pending(&g));
    ck_assert_int_eq(fatals, 0);
    ck_assert_int_ne(stage(&g, "commit", "r8", 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(fatals, 1);
    ck_assert(!fsm_restore_pending(&g));
    ck_assert_ptr_nonnull(kv_peek(g.kv, "old")); /* nothing half-done */
    /* an abort of a broken stage is quiet */
    ck_assert_int_eq(stage(&g, "begin", "r9", len, sha, NULL, 0), ERR_IO);
    ck_assert_int_eq(stage(&g, "abort", "r9", 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(fatals, 1);
    /* a piece out of place is still refused as everywhere else */
    ck_assert_int_eq(stage(&g, "begin", "r10", len, sha, NULL, 0), ERR_IO);
    ck_assert_int_eq(stage(&g, "chunk", "r10", 3, NULL, snap, 5),
                     ERR_INVAL);
    ck_assert(!fsm_restore_pending(&g));
    free(snap);
}
END_TEST

START_TEST(restore_without_room_for_a_backup)
{
    size_t len, blen;
    char *snap, *bad;

    fill(&f, 40);
    put(&g, "old", "x");
    snap = state_of(&f, &len);
    g.tmp_dir = "/nonexistent/proconsul-test";
    /* a bad stream changes nothing */
    bad = malloc(len);
    memcpy(bad, snap, len);
    blen = len - 1;
    ck_assert_int_eq(fsm_restore(&g, bad, blen, err), ERR_PARSE);
    ck_assert_ptr_nonnull(kv_peek(g.kv, "old"));
    /* a good one swaps in */
    ck_assert_int_eq(fsm_restore(&g, snap, len, err), 0);
    ck_assert_ptr_null(kv_peek(g.kv, "old"));
    ck_assert_ptr_nonnull(kv_peek(g.kv, "k/00039"));
    free(bad);
    free(snap);
}
END_TEST

START_TEST(failed_restore_brings_the_old_state_back)
{
    size_t len, glen, after_len;
    char *snap, *before, *after;

    fill(&f, 60);
    fill(&g, 7);
    put(&g, "old", "x");
    before = state_of(&g, &glen);
    snap = state_of(&f, &len);
    /* the end record is last: cutting it fails only after every entry
     * was decoded, i.e. after the old state was freed */
    ck_assert_int_eq(fsm_restore(&g, snap, len - 1, err), ERR_PARSE);
    after = state_of(&g, &after_len);
    ck_assert_uint_eq(after_len, glen);
    ck_assert(memcmp(before, after, glen) == 0);
    ck_assert_uint_eq(g.last_index, next_index);
    free(before);
    free(after);
    free(snap);
}
END_TEST

START_TEST(encoder_refuses_bad_input)
{
    void *buf;
    size_t len;
    char big;

    ck_assert_int_eq(fsm_encode_restore("begin", "BAD ID", 1, NULL, NULL, 0,
                                        alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_int_eq(fsm_encode_restore("begin", "ok", 1, "abc", NULL, 0,
                                        alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_int_eq(fsm_encode_restore("chunk", "ok", 0, NULL, &big, 0,
                                        alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_int_eq(fsm_encode_restore("frob", "ok", 0, NULL, NULL, 0,
                                        alloc_fn, &buf, &len, err),
                     ERR_INVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("fsm_stage");
    TCase *t = tcase_create("stream");
    TCase *r = tcase_create("restore");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, stream_equals_snapshot);
    tcase_add_test(t, stream_aborts);
    tcase_add_test(t, stats_count_records);
    suite_add_tcase(s, t);
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, restore_in_pieces);
    tcase_add_test(r, restore_bad_hash_changes_nothing);
    tcase_add_test(r, restore_refuses_holes_and_strangers);
    tcase_add_test(r, staged_restore_blocks_snapshots);
    tcase_add_test(r, encoder_refuses_bad_input);
    tcase_add_test(r, unwritable_stage_is_fatal_at_commit);
    tcase_add_test(r, restore_without_room_for_a_backup);
    tcase_add_test(r, failed_restore_brings_the_old_state_back);
    suite_add_tcase(s, r);
    return s;
}

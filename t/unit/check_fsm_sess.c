/* check_fsm_sess.c - unit tests for sessions in the state machine
 * (libcore/fsm_sess.c): the session command (create with Consul's
 * catalog checks, destroy with release / delete behavior and lock
 * delay, acquire / release), invalidation by catalog writes, the
 * change callbacks, and the snapshot records.
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fsm.h"
#include "kv.h"
#include "sess.h"
#include "unit.h"

#define ID1 "adf4238a-882b-9ddc-4a9d-5b6758e4159e"
#define ID2 "0e6c4f3c-2f3a-4d1b-9d7e-1f2a3b4c5d6e"

static struct fsm f;
static char err[ERR_LEN];
static int kv_changes, sess_changes, cat_changes;

static void on_change(void *ctx, const char *kind, uint64_t index)
{
    if (strcmp(kind, "kv") == 0)
        kv_changes++;
    else if (strcmp(kind, "session") == 0)
        sess_changes++;
    else if (strcmp(kind, "catalog") == 0)
        cat_changes++;
}

static void *alloc_fn(size_t n) { return malloc(n > 0 ? n : 1); }

static json_t *jtext(const char *t)
{
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);

    ck_assert_msg(j != NULL, "bad test JSON: %s", je.text);
    return j;
}

static struct fsm_result apply_enc(void *buf, size_t len, uint64_t index)
{
    struct fsm_result res;

    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    free(buf);
    return res;
}

static struct fsm_result cat(const char *op, const char *text,
                             uint64_t index)
{
    json_t *req = jtext(text);
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_catalog(op, req, alloc_fn, &buf, &len, err),
                     0);
    json_decref(req);
    return apply_enc(buf, len, index);
}

static struct fsm_result sess(const char *op, const char *text,
                              const char *val, uint64_t index)
{
    json_t *req = jtext(text);
    void *buf;
    size_t len;

    ck_assert_msg(fsm_encode_session(op, req, val, val ? strlen(val) : 0,
                                     alloc_fn, &buf, &len, err) == 0,
                  "encode: %s", err);
    json_decref(req);
    return apply_enc(buf, len, index);
}

#define NODE_REG                                                        \
    "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Checks\":[{\"CheckID\":" \
    "\"serfHealth\",\"Name\":\"Serf\",\"Status\":\"passing\"},"          \
    "{\"CheckID\":\"c2\",\"Name\":\"c2\",\"Status\":\"passing\"}]}"

static void setup(void)
{
    ck_assert_int_eq(fsm_init(&f, err), 0);
    f.on_change = on_change;
    f.ctx = &f;
    ck_assert(cat("register", NODE_REG, 1).ok);
    kv_changes = sess_changes = cat_changes = 0;
}

static void teardown(void) { fsm_release(&f); }

static struct fsm_result create(const char *id, const char *extra,
                                uint64_t index)
{
    char t[512];

    snprintf(t, sizeof(t), "{\"ID\":\"%s\",\"Node\":\"n1\"%s}", id, extra);
    return sess("create", t, NULL, index);
}

static struct fsm_result lock(const char *op, const char *key,
                              const char *id, const char *val,
                              uint64_t index)
{
    char t[256];

    snprintf(t, sizeof(t), "{\"Key\":\"%s\",\"Session\":\"%s\"}", key, id);
    return sess(op, t, val, index);
}

START_TEST(create_checks_catalog)
{
    struct fsm_result r;

    r = sess("create", "{\"ID\":\"" ID1 "\",\"Node\":\"nx\"}", NULL, 2);
    ck_assert_int_eq(r.rc, ERR_INVAL);
    ck_assert_str_eq(r.msg, "Missing node registration");
    r = create(ID1, ",\"NodeChecks\":[\"nope\"]", 3);
    ck_assert_str_eq(r.msg, "Missing check 'nope' registration");
    ck_assert(cat("register", "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                  "\"Check\":{\"CheckID\":\"c2\",\"Name\":\"c2\","
                  "\"Status\":\"critical\"}}", 4).ok);
    r = create(ID1, ",\"NodeChecks\":[\"serfHealth\",\"c2\"]", 5);
    ck_assert_str_eq(r.msg, "Check 'c2' is in critical state");
    ck_assert_uint_eq(sess_count(f.sess), 0);
    ck_assert_int_eq(sess_changes, 0);
    r = create(ID1, ",\"NodeChecks\":[\"serfHealth\"],\"TTL\":\"10s\"", 6);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(r.ok);
    ck_assert_int_eq(sess_changes, 1);
    ck_assert_uint_eq(sess_peek(f.sess, ID1)->create_index, 6);
    ck_assert_uint_eq(sess_table_index(f.sess), 6);
    /* A duplicate ID is a per-command error. */
    r = create(ID1, "", 7);
    ck_assert_int_eq(r.rc, ERR_EXISTS);
    ck_assert_uint_eq(f.last_index, 7);
}
END_TEST

START_TEST(acquire_and_release)
{
    struct fsm_result r;
    const struct kv_entry *e;

    r = lock("acquire", "k", ID1, "v", 2);
    ck_assert_int_eq(r.rc, ERR_NOTFOUND);
    ck_assert_str_eq(r.msg, "invalid session \"" ID1 "\"");
    ck_assert_ptr_null(kv_peek(f.kv, "k"));
    ck_assert(create(ID1, "", 3).ok);
    ck_assert(create(ID2, "", 4).ok);
    kv_changes = 0;
    r = lock("acquire", "k", ID1, "v", 5);
    ck_assert(r.ok);
    ck_assert_int_eq(kv_changes, 1);
    e = kv_peek(f.kv, "k");
    ck_assert_str_eq(e->session, ID1);
    ck_assert_uint_eq(e->lock_index, 1);
    r = lock("acquire", "k", ID2, "w", 6);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(!r.ok);
    ck_assert_int_eq(kv_changes, 1);
    r = lock("release", "k", ID2, "w", 7);
    ck_assert(!r.ok);
    r = lock("release", "k", ID1, "done", 8);
    ck_assert(r.ok);
    ck_assert_int_eq(kv_changes, 2);
    e = kv_peek(f.kv, "k");
    ck_assert_ptr_null(e->session);
    ck_assert_int_eq(memcmp(e->val, "done", 4), 0);
    /* Release of an unknown session is just false (Consul). */
    r = lock("release", "k", "x", "", 9);
    ck_assert_int_eq(r.rc, 0);
    ck_assert(!r.ok);
}
END_TEST

START_TEST(destroy_release_and_delete)
{
    struct fsm_result r;
    const struct kv_entry *e;

    ck_assert(create(ID1, ",\"LockDelay\":0", 2).ok);
    ck_assert(create(ID2, ",\"Behavior\":\"delete\","
                     "\"LockDelay\":5000000000", 3).ok);
    ck_assert(lock("acquire", "a/1", ID1, "one", 4).ok);
    ck_assert(lock("acquire", "a/2", ID1, "two", 5).ok);
    ck_assert(lock("acquire", "b/1", ID2, "three", 6).ok);
    kv_changes = sess_changes = 0;
    r = sess("destroy", "{\"ID\":\"" ID1 "\"}", NULL, 7);
    ck_assert(r.ok);
    ck_assert_int_eq(sess_changes, 1);
    ck_assert_int_eq(kv_changes, 1);
    ck_assert_ptr_null(sess_peek(f.sess, ID1));
    e = kv_peek(f.kv, "a/2");
    ck_assert_ptr_null(e->session);
    ck_assert_uint_eq(e->modify_index, 7);
    ck_assert_uint_eq(e->lock_index, 1);
    ck_assert_int_eq(memcmp(e->val, "two", 3), 0);
    ck_assert_ptr_null(kv_peek(f.kv, "a/1")->session);
    ck_assert_int_eq(sess_lock_delay_left(f.sess, "a/1", 0), 0);
    r = sess("destroy", "{\"ID\":\"" ID2 "\"}", NULL, 8);
    ck_assert(r.ok);
    ck_assert_ptr_null(kv_peek(f.kv, "b/1"));
    ck_assert_uint_eq(kv_key_index(f.kv, "b/1"), 8);
    ck_assert_int_gt(sess_lock_delay_left(f.sess, "b/1", 0), 0);
    ck_assert_uint_eq(sess_table_index(f.sess), 8);
    /* Unknown: fine, nothing changes. */
    sess_changes = 0;
    r = sess("destroy", "{\"ID\":\"" ID2 "\"}", NULL, 9);
    ck_assert(r.ok);
    ck_assert_int_eq(sess_changes, 0);
    ck_assert_uint_eq(sess_table_index(f.sess), 8);
}
END_TEST

START_TEST(catalog_invalidates)
{
    ck_assert(create(ID1, ",\"NodeChecks\":[\"serfHealth\"]", 2).ok);
    ck_assert(create(ID2, ",\"NodeChecks\":[\"c2\"]", 3).ok);
    ck_assert(lock("acquire", "k", ID1, "v", 4).ok);
    kv_changes = sess_changes = 0;
    /* A passing re-registration changes nothing. */
    ck_assert(cat("register", "{\"Node\":\"n1\",\"Address\":\"10.0.0.2\"}",
                  5).ok);
    ck_assert_uint_eq(sess_count(f.sess), 2);
    /* serfHealth critical: ID1 goes, its lock is released. */
    ck_assert(cat("register", "{\"Node\":\"n1\",\"Address\":\"10.0.0.2\","
                  "\"Check\":{\"CheckID\":\"serfHealth\",\"Name\":\"Serf\","
                  "\"Status\":\"critical\"}}", 6).ok);
    ck_assert_ptr_null(sess_peek(f.sess, ID1));
    ck_assert_ptr_nonnull(sess_peek(f.sess, ID2));
    ck_assert_ptr_null(kv_peek(f.kv, "k")->session);
    ck_assert_int_eq(sess_changes, 1);
    ck_assert_int_eq(kv_changes, 1);
    /* Deregistering the check takes ID2. */
    ck_assert(cat("deregister", "{\"Node\":\"n1\",\"CheckID\":\"c2\"}",
                  7).ok);
    ck_assert_uint_eq(sess_count(f.sess), 0);
    ck_assert_uint_eq(sess_table_index(f.sess), 7);
}
END_TEST

START_TEST(node_deregister_invalidates)
{
    ck_assert(create(ID1, ",\"NodeChecks\":[]", 2).ok);
    ck_assert(cat("deregister", "{\"Node\":\"n1\"}", 3).ok);
    ck_assert_uint_eq(sess_count(f.sess), 0);
}
END_TEST

START_TEST(encode_rejects)
{
    json_t *req = jtext("{\"ID\":\"x\"}");
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(fsm_encode_session("nope", req, NULL, 0, alloc_fn,
                                        &buf, &len, err), ERR_INVAL);
    ck_assert_int_eq(fsm_encode_session("create", req, NULL, 0, alloc_fn,
                                        &buf, &len, err), ERR_INVAL);
    ck_assert_int_eq(fsm_encode_session("acquire", req, NULL, 0, alloc_fn,
                                        &buf, &len, err), ERR_INVAL);
    json_decref(req);
    req = jtext("{\"ID\":1}");
    ck_assert_int_eq(fsm_encode_session("destroy", req, NULL, 0, alloc_fn,
                                        &buf, &len, err), ERR_INVAL);
    json_decref(req);
    ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(snapshot_round_trip)
{
    struct fsm g;
    void *buf;
    size_t len;
    const struct sess_entry *e;
    json_t *a, *b;

    ck_assert(create(ID1, ",\"Name\":\"x\",\"TTL\":\"15s\","
                     "\"ServiceChecks\":null,\"NodeChecks\":[\"serfHealth\"]",
                     2).ok);
    ck_assert(create(ID2, ",\"Behavior\":\"delete\"", 3).ok);
    ck_assert(lock("acquire", "k", ID2, "v", 4).ok);
    ck_assert(sess("destroy", "{\"ID\":\"" ID2 "\"}", NULL, 9).ok);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_init(&g, err), 0);
    g.on_change = on_change;
    sess_changes = 0;
    ck_assert_msg(fsm_restore(&g, buf, len, err) == 0, "%s", err);
    ck_assert_int_eq(sess_changes, 1);
    ck_assert_uint_eq(sess_count(g.sess), 1);
    ck_assert_uint_eq(sess_table_index(g.sess), 9);
    e = sess_peek(g.sess, ID1);
    a = sess_to_json(e, true);
    b = sess_to_json(sess_peek(f.sess, ID1), true);
    ck_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    free(buf);
    /* A state without sessions writes no session record, and restoring
     * it empties the sessions. */
    fsm_release(&g);
    ck_assert_int_eq(fsm_init(&g, err), 0);
    ck_assert_int_eq(fsm_snapshot(&g, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_uint_eq(sess_count(f.sess), 0);
    ck_assert_uint_eq(sess_table_index(f.sess), 0);
    free(buf);
    fsm_release(&g);
}
END_TEST

START_TEST(snapshot_stats_names_sessions)
{
    void *buf;
    size_t len;
    json_t *st;
    size_t i;
    json_t *v;
    bool seen = false;

    ck_assert(create(ID1, "", 2).ok);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_snapshot_stats(buf, len, &st, err), 0);
    json_array_foreach(st, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "Name")),
                   "Session") == 0)
            seen = json_integer_value(json_object_get(v, "Count")) == 1;
    }
    ck_assert(seen);
    json_decref(st);
    free(buf);
}
END_TEST

/* A stream: header, then the given records (packed by fn), then the
 * end record counting n of them. */
static void pack_str(msgpack_packer *pk, const char *t)
{
    msgpack_pack_str(pk, strlen(t));
    msgpack_pack_str_body(pk, t, strlen(t));
}

static void header(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    pack_str(pk, "format");
    pack_str(pk, "proconsul-state");
    pack_str(pk, "version");
    msgpack_pack_uint64(pk, 1);
    pack_str(pk, "last_index");
    msgpack_pack_uint64(pk, 50);
    pack_str(pk, "kv_table_index");
    msgpack_pack_uint64(pk, 0);
}

static void sess_rec(msgpack_packer *pk, const char *json)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, 7);
    pack_str(pk, json);
}

static void index_rec(msgpack_packer *pk, uint64_t index)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, 8);
    msgpack_pack_uint64(pk, index);
}

static void end_rec(msgpack_packer *pk, uint64_t n)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, 0);
    msgpack_pack_uint64(pk, n);
}

#define GOOD_REC                                                        \
    "{\"ID\":\"" ID2 "\",\"Name\":\"\",\"Node\":\"n1\",\"LockDelay\":0,"  \
    "\"Behavior\":\"release\",\"TTL\":\"\",\"NodeChecks\":null,"         \
    "\"ServiceChecks\":null,\"CreateIndex\":4,\"ModifyIndex\":4}"

START_TEST(restore_checks_session_records)
{
    static const char *const bad[] = {
        "not json",
        "[]",
        "{\"ID\":\"" ID2 "\",\"Node\":\"n1\"}",   /* no indexes */
        "{\"ID\":\"x\",\"Node\":\"n1\",\"CreateIndex\":1,"
        "\"ModifyIndex\":1}",
        "{\"ID\":\"" ID2 "\",\"Node\":\"n1\",\"CreateIndex\":5,"
        "\"ModifyIndex\":4}",
    };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t i;
    int k;

    ck_assert(create(ID1, "", 2).ok);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) + 3; i++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        header(&pk);
        if (i < sizeof(bad) / sizeof(bad[0])) {
            sess_rec(&pk, bad[i]);
            end_rec(&pk, 1);
        } else if (i == sizeof(bad) / sizeof(bad[0])) {
            /* a session after the index */
            index_rec(&pk, 9);
            sess_rec(&pk, GOOD_REC);
            end_rec(&pk, 2);
        } else if (i == sizeof(bad) / sizeof(bad[0]) + 1) {
            /* the same ID twice */
            sess_rec(&pk, GOOD_REC);
            sess_rec(&pk, GOOD_REC);
            end_rec(&pk, 2);
        } else {
            /* an index below what the sessions imply */
            sess_rec(&pk, GOOD_REC);
            index_rec(&pk, 3);
            end_rec(&pk, 2);
        }
        k = fsm_restore(&f, sb.data, sb.size, err);
        ck_assert_msg(k == ERR_PARSE, "case %zu: rc %d (%s)", i, k, err);
        /* the running state is untouched */
        ck_assert_ptr_nonnull(sess_peek(f.sess, ID1));
        ck_assert_uint_eq(sess_count(f.sess), 1);
        msgpack_sbuffer_destroy(&sb);
    }
    /* and the good one restores */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    header(&pk);
    sess_rec(&pk, GOOD_REC);
    index_rec(&pk, 9);
    end_rec(&pk, 2);
    ck_assert_msg(fsm_restore(&f, sb.data, sb.size, err) == 0, "%s", err);
    ck_assert_ptr_null(sess_peek(f.sess, ID1));
    ck_assert_uint_eq(sess_peek(f.sess, ID2)->create_index, 4);
    ck_assert_uint_eq(sess_table_index(f.sess), 9);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(lock_flags_keep_64_bits)
{
    char t[256];
    json_t *req;
    void *buf;
    size_t len;

    ck_assert(create(ID1, "", 2).ok);
    /* Consul's semaphore flags, above INT64_MAX, travel as int64 */
    snprintf(t, sizeof(t), "{\"Key\":\"s/.lock\",\"Session\":\"%s\","
             "\"Flags\":%lld}", ID1,
             (long long)(int64_t)UINT64_C(0xe0f69a2baa414de0));
    req = jtext(t);
    ck_assert_int_eq(fsm_encode_session("acquire", req, "v", 1, alloc_fn,
                                        &buf, &len, err), 0);
    json_decref(req);
    ck_assert(apply_enc(buf, len, 3).ok);
    ck_assert_uint_eq(kv_peek(f.kv, "s/.lock")->flags,
                      UINT64_C(0xe0f69a2baa414de0));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *su = suite_create("fsm_sess");
    TCase *tc = tcase_create("sessions");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_checks_catalog);
    tcase_add_test(tc, acquire_and_release);
    tcase_add_test(tc, destroy_release_and_delete);
    tcase_add_test(tc, catalog_invalidates);
    tcase_add_test(tc, node_deregister_invalidates);
    tcase_add_test(tc, encode_rejects);
    tcase_add_test(tc, snapshot_round_trip);
    tcase_add_test(tc, snapshot_stats_names_sessions);
    tcase_add_test(tc, restore_checks_session_records);
    tcase_add_test(tc, lock_flags_keep_64_bits);
    suite_add_tcase(su, tc);
    return su;
}

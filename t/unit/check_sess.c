/* check_sess.c - unit tests for the session store (libcore/sess.c) and
 * the kv store's lock calls (kv_acquire, kv_release, kv_session_clear).
 *
 * Covers the canonical JSON shape both ways and its validation, insert
 * / remove / walk order and the table index, restore's index checks,
 * lock delays, and Consul's KVLock / KVUnlock rules.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kv.h"
#include "sess.h"
#include "unit.h"

#define ID1 "adf4238a-882b-9ddc-4a9d-5b6758e4159e"
#define ID2 "0e6c4f3c-2f3a-4d1b-9d7e-1f2a3b4c5d6e"

static struct sess_store *s;
static struct kv_store *kv;
static char err[ERR_LEN];

static void setup(void)
{
    s = sess_new();
    kv = kv_new();
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(kv);
    err[0] = '\0';
}

static void teardown(void)
{
    sess_free(s);
    kv_free(kv);
}

static json_t *jtext(const char *t)
{
    json_error_t je;
    json_t *j = json_loads(t, 0, &je);

    ck_assert_msg(j != NULL, "bad test JSON: %s", je.text);
    return j;
}

static struct sess_entry *parse(const char *t, bool with_indexes, int want)
{
    json_t *j = jtext(t);
    struct sess_entry *e = NULL;
    int rc = sess_entry_from_json(j, with_indexes, &e, err);

    json_decref(j);
    ck_assert_msg(rc == want, "rc %d (%s), want %d: %s", rc, err, want, t);
    if (want != 0)
        ck_assert_ptr_null(e);
    return e;
}

static void insert(const char *id, const char *node, uint64_t index)
{
    char t[256];
    struct sess_entry *e;

    snprintf(t, sizeof(t), "{\"ID\":\"%s\",\"Node\":\"%s\"}", id, node);
    e = parse(t, false, 0);
    ck_assert_int_eq(sess_insert(s, e, index, err), 0);
}

START_TEST(json_round_trip)
{
    static const char full[] =
        "{\"ID\":\"" ID1 "\",\"Name\":\"lock\",\"Node\":\"n1\","
        "\"LockDelay\":15000000000,\"Behavior\":\"delete\",\"TTL\":\"30s\","
        "\"NodeChecks\":[\"serfHealth\"],\"ServiceChecks\":[{\"ID\":\"c1\","
        "\"Namespace\":\"\"}]}";
    struct sess_entry *e = parse(full, false, 0);
    json_t *j, *want = jtext(full);

    ck_assert_str_eq(e->id, ID1);
    ck_assert_str_eq(e->name, "lock");
    ck_assert_int_eq(e->behavior, SESS_DELETE);
    ck_assert_int_eq(e->ttl_ms, 30000);
    ck_assert_int_eq(e->lock_delay_ns, 15000000000LL);
    ck_assert_uint_eq(e->n_node_checks, 1);
    ck_assert_uint_eq(e->n_svc_checks, 1);
    ck_assert_uint_eq(e->n_checks, 0);
    j = sess_to_json(e, false);
    ck_assert_msg(json_equal(j, want), "round trip differs");
    json_decref(j);
    json_decref(want);
    e->create_index = 3;
    e->modify_index = 3;
    j = sess_to_json(e, true);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "CreateIndex")),
                     3);
    ck_assert_ptr_null(json_object_get(j, "Checks"));
    json_decref(j);
    sess_entry_free(e);
}
END_TEST

START_TEST(json_defaults_and_nulls)
{
    struct sess_entry *e = parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\"}",
                                 false, 0);
    json_t *j = sess_to_json(e, false);

    ck_assert_str_eq(e->name, "");
    ck_assert_str_eq(e->ttl, "");
    ck_assert_int_eq(e->behavior, SESS_RELEASE);
    ck_assert_int_eq(e->lock_delay_ns, 0);
    ck_assert_ptr_null(e->node_checks);
    ck_assert(json_is_null(json_object_get(j, "NodeChecks")));
    ck_assert(json_is_null(json_object_get(j, "ServiceChecks")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "Behavior")),
                     "release");
    json_decref(j);
    sess_entry_free(e);
    /* An empty list stays an empty list, not null. */
    e = parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"NodeChecks\":[],"
              "\"Checks\":[\"a\"]}", false, 0);
    j = sess_to_json(e, false);
    ck_assert(json_is_array(json_object_get(j, "NodeChecks")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "Checks")), 1);
    json_decref(j);
    sess_entry_free(e);
}
END_TEST

START_TEST(json_rejects)
{
    static const char *const bad[] = {
        "[]",
        "{\"Node\":\"n\"}",
        "{\"ID\":\"nope\",\"Node\":\"n\"}",
        "{\"ID\":\"" ID1 "\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"Extra\":1}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"Behavior\":\"keep\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"LockDelay\":-1}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"LockDelay\":\"15s\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"LockDelay\":60000000001}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"TTL\":\"ten\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"NodeChecks\":\"a\"}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"NodeChecks\":[1]}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"ServiceChecks\":[{\"X\":1}]}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"ServiceChecks\":[\"a\"]}",
        "{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"CreateIndex\":1}",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse(bad[i], false, ERR_INVAL);
    /* With indexes: both required, 1 <= create <= modify. */
    parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"CreateIndex\":1}", true,
          ERR_INVAL);
    parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"CreateIndex\":0,"
          "\"ModifyIndex\":1}", true, ERR_INVAL);
    parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"CreateIndex\":3,"
          "\"ModifyIndex\":2}", true, ERR_INVAL);
    sess_entry_free(parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\","
                          "\"CreateIndex\":2,\"ModifyIndex\":3}", true, 0));
}
END_TEST

static int collect(void *ctx, const struct sess_entry *e)
{
    json_t *a = ctx;

    json_array_append_new(a, json_string(e->id));
    return 0;
}

START_TEST(insert_peek_remove)
{
    const struct sess_entry *e;
    struct sess_entry *dup;
    json_t *ids = json_array();
    bool existed;

    ck_assert_uint_eq(sess_table_index(s), 0);
    insert(ID1, "n1", 5);
    insert(ID2, "n2", 7);
    ck_assert_uint_eq(sess_count(s), 2);
    ck_assert_uint_eq(sess_table_index(s), 7);
    e = sess_peek(s, ID1);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->node, "n1");
    ck_assert_uint_eq(e->create_index, 5);
    ck_assert_uint_eq(e->modify_index, 5);
    ck_assert_ptr_null(sess_peek(s, "nope"));
    /* A duplicate ID is refused and stays the caller's. */
    dup = parse("{\"ID\":\"" ID1 "\",\"Node\":\"x\"}", false, 0);
    ck_assert_int_eq(sess_insert(s, dup, 9, err), ERR_EXISTS);
    sess_entry_free(dup);
    ck_assert_str_eq(sess_peek(s, ID1)->node, "n1");
    /* Walk in ID order. */
    ck_assert_int_eq(sess_walk(s, collect, ids), 0);
    ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), ID2);
    ck_assert_str_eq(json_string_value(json_array_get(ids, 1)), ID1);
    json_decref(ids);
    sess_remove(s, ID2, 10, &existed);
    ck_assert(existed);
    ck_assert_uint_eq(sess_table_index(s), 10);
    sess_remove(s, ID2, 11, &existed);
    ck_assert(!existed);
    ck_assert_uint_eq(sess_table_index(s), 10);
    ck_assert_uint_eq(sess_count(s), 1);
}
END_TEST

START_TEST(many_sessions_stay_sorted)
{
    char id[SESS_ID_LEN + 1];
    const char *prev = "";
    int i;
    bool existed;
    json_t *ids = json_array();
    size_t k;
    json_t *v;

    for (i = 0; i < 300; i++) {
        snprintf(id, sizeof(id), "%08x-0000-4000-8000-000000000000",
                 (unsigned)(i * 2654435761u));
        insert(id, "n", (uint64_t)i + 1);
    }
    for (i = 0; i < 300; i += 3) {
        snprintf(id, sizeof(id), "%08x-0000-4000-8000-000000000000",
                 (unsigned)(i * 2654435761u));
        sess_remove(s, id, 1000, &existed);
        ck_assert(existed);
    }
    ck_assert_uint_eq(sess_count(s), 200);
    sess_walk(s, collect, ids);
    json_array_foreach(ids, k, v) {
        ck_assert_int_lt(strcmp(prev, json_string_value(v)), 0);
        prev = json_string_value(v);
        ck_assert_ptr_nonnull(sess_peek(s, prev));
    }
    json_decref(ids);
}
END_TEST

START_TEST(restore_keeps_indexes)
{
    struct sess_entry *e = parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\","
                                 "\"CreateIndex\":4,\"ModifyIndex\":6}",
                                 true, 0);

    ck_assert_int_eq(sess_restore(s, e, err), 0);
    ck_assert_uint_eq(sess_peek(s, ID1)->create_index, 4);
    ck_assert_uint_eq(sess_table_index(s), 6);
    sess_set_table_index(s, 20);
    sess_set_table_index(s, 8);
    ck_assert_uint_eq(sess_table_index(s), 20);
    e = parse("{\"ID\":\"" ID1 "\",\"Node\":\"n\",\"CreateIndex\":4,"
              "\"ModifyIndex\":6}", true, 0);
    ck_assert_int_eq(sess_restore(s, e, err), ERR_EXISTS);
    sess_entry_free(e);
}
END_TEST

START_TEST(lock_delay)
{
    ck_assert_int_eq(sess_lock_delay_left(s, "k", 100), 0);
    ck_assert_int_eq(sess_lock_delay_set(s, "k", 1100, err), 0);
    ck_assert_int_eq(sess_lock_delay_set(s, "j", 500, err), 0);
    ck_assert_int_eq(sess_lock_delay_left(s, "k", 100), 1000);
    ck_assert_int_eq(sess_lock_delay_left(s, "x", 100), 0);
    /* A shorter delay does not shorten a longer one. */
    ck_assert_int_eq(sess_lock_delay_set(s, "k", 600, err), 0);
    ck_assert_int_eq(sess_lock_delay_left(s, "k", 1000), 100);
    ck_assert_int_eq(sess_lock_delay_left(s, "j", 1000), 0);
    ck_assert_int_eq(sess_lock_delay_left(s, "k", 1100), 0);
    ck_assert_int_eq(sess_lock_delay_left(s, "k", 100), 0);
}
END_TEST

START_TEST(kv_acquire_rules)
{
    const struct kv_entry *e;
    bool ok;

    /* Absent key: created, lock index 1. */
    ck_assert_int_eq(kv_acquire(kv, "k", "v1", 2, 7, ID1, 3, &ok, err), 0);
    ck_assert(ok);
    e = kv_peek(kv, "k");
    ck_assert_str_eq(e->session, ID1);
    ck_assert_uint_eq(e->lock_index, 1);
    ck_assert_uint_eq(e->flags, 7);
    ck_assert_uint_eq(e->create_index, 3);
    /* Same session again: value updated, lock index kept. */
    ck_assert_int_eq(kv_acquire(kv, "k", "v2", 2, 0, ID1, 4, &ok, err), 0);
    ck_assert(ok);
    e = kv_peek(kv, "k");
    ck_assert_uint_eq(e->lock_index, 1);
    ck_assert_uint_eq(e->modify_index, 4);
    ck_assert_int_eq(memcmp(e->val, "v2", 2), 0);
    /* Another session: refused, nothing changes. */
    ck_assert_int_eq(kv_acquire(kv, "k", "xx", 2, 0, ID2, 5, &ok, err), 0);
    ck_assert(!ok);
    e = kv_peek(kv, "k");
    ck_assert_str_eq(e->session, ID1);
    ck_assert_uint_eq(e->modify_index, 4);
    ck_assert_uint_eq(kv_table_index(kv), 4);
    /* Release by the wrong session: refused. */
    ck_assert_int_eq(kv_release(kv, "k", "r", 1, 0, ID2, 6, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_int_eq(kv_release(kv, "nope", "r", 1, 0, ID1, 6, &ok, err),
                     0);
    ck_assert(!ok);
    ck_assert_ptr_null(kv_peek(kv, "nope"));
    /* Release by the holder: value set, session cleared, index kept. */
    ck_assert_int_eq(kv_release(kv, "k", "r", 1, 0, ID1, 6, &ok, err), 0);
    ck_assert(ok);
    e = kv_peek(kv, "k");
    ck_assert_ptr_null(e->session);
    ck_assert_uint_eq(e->lock_index, 1);
    ck_assert_uint_eq(e->modify_index, 6);
    ck_assert_uint_eq(e->create_index, 3);
    /* A free existing key: lock index + 1. */
    ck_assert_int_eq(kv_acquire(kv, "k", NULL, 0, 0, ID2, 8, &ok, err), 0);
    ck_assert(ok);
    e = kv_peek(kv, "k");
    ck_assert_uint_eq(e->lock_index, 2);
    ck_assert_str_eq(e->session, ID2);
    ck_assert_ptr_null(e->val);
    /* A plain put keeps the lock. */
    ck_assert_int_eq(kv_put(kv, "k", "p", 1, 0, 9, err), 0);
    ck_assert_str_eq(kv_peek(kv, "k")->session, ID2);
    ck_assert_int_eq(kv_verify(kv, err), 0);
    /* Bad input. */
    ck_assert_int_eq(kv_acquire(kv, "", "v", 1, 0, ID1, 10, &ok, err),
                     ERR_INVAL);
    ck_assert_int_eq(kv_acquire(kv, "k", "v", 1, 0, "", 10, &ok, err),
                     ERR_INVAL);
    ck_assert_int_eq(kv_release(kv, "k", "v", 1, 0, NULL, 10, &ok, err),
                     ERR_INVAL);
}
END_TEST

START_TEST(kv_session_clear_keeps_value)
{
    const struct kv_entry *e;
    char key[16];
    bool ok;
    int i;

    for (i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        ck_assert_int_eq(kv_put(kv, key, "x", 1, 0, (uint64_t)i + 1, err),
                         0);
    }
    ck_assert_int_eq(kv_acquire(kv, "k17", "v", 1, 3, ID1, 60, &ok, err),
                     0);
    ck_assert(!kv_session_clear(kv, "k17", ID2, 61));
    ck_assert(!kv_session_clear(kv, "k18", ID1, 61));
    ck_assert(kv_session_clear(kv, "k17", ID1, 62));
    e = kv_peek(kv, "k17");
    ck_assert_ptr_null(e->session);
    ck_assert_uint_eq(e->modify_index, 62);
    ck_assert_uint_eq(e->lock_index, 1);
    ck_assert_uint_eq(e->flags, 3);
    ck_assert_int_eq(memcmp(e->val, "v", 1), 0);
    ck_assert_uint_eq(kv_prefix_index(kv, "k1"), 62);
    ck_assert_uint_eq(kv_prefix_index(kv, "k2"), 30);
    ck_assert_uint_eq(kv_table_index(kv), 62);
    ck_assert_int_eq(kv_verify(kv, err), 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *su = suite_create("sess");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_round_trip);
    tcase_add_test(tc, json_defaults_and_nulls);
    tcase_add_test(tc, json_rejects);
    tcase_add_test(tc, insert_peek_remove);
    tcase_add_test(tc, many_sessions_stay_sorted);
    tcase_add_test(tc, restore_keeps_indexes);
    tcase_add_test(tc, lock_delay);
    tcase_add_test(tc, kv_acquire_rules);
    tcase_add_test(tc, kv_session_clear_keeps_value);
    suite_add_tcase(su, tc);
    return su;
}

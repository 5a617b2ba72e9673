/* check_kv.c - unit tests for the ordered kv store (libcore/kv.c).
 *
 * Covers put/cas/delete semantics and indexes, tombstones, prefix walks
 * and byte order, prefix indexes, restore calls, and a randomized run
 * checked against a simple model and the tree invariants.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kv.h"
#include "unit.h"

/* ck_assert records a checkpoint through a pipe on every call; hot
 * loops use this instead, which costs nothing until it fails. */
#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

static struct kv_store *st;
static char err[ERR_LEN];

static void setup(void)
{
    st = kv_new();
    ck_assert_ptr_nonnull(st);
    err[0] = '\0';
}

static void teardown(void) { kv_free(st); }

static void put(const char *key, const char *val, uint64_t index)
{
    REQUIRE(kv_put(st, key, val, strlen(val), 0, index, err) == 0);
}

static void verify(void)
{
    ck_assert_msg(kv_verify(st, err) == 0, "invariant: %s", err);
}

START_TEST(put_then_get)
{
    const struct kv_entry *e;

    ck_assert_int_eq(kv_put(st, "a/b", "v", 1, 42, 1, err), 0);
    e = kv_peek(st, "a/b");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->key, "a/b");
    ck_assert_uint_eq(e->len, 1);
    ck_assert_int_eq(memcmp(e->val, "v", 1), 0);
    ck_assert_uint_eq(e->flags, 42);
    ck_assert_uint_eq(e->create_index, 1);
    ck_assert_uint_eq(e->modify_index, 1);
    ck_assert_uint_eq(e->lock_index, 0);
    ck_assert_ptr_null(e->session);
    ck_assert_uint_eq(kv_count(st), 1);
    ck_assert_uint_eq(kv_table_index(st), 1);
    ck_assert_ptr_null(kv_peek(st, "a"));
    ck_assert_ptr_null(kv_peek(st, "a/b/"));
    verify();
}
END_TEST

START_TEST(overwrite_keeps_create_index)
{
    const struct kv_entry *e;

    put("k", "one", 3);
    put("k", "two!", 5);
    e = kv_peek(st, "k");
    ck_assert_uint_eq(e->create_index, 3);
    ck_assert_uint_eq(e->modify_index, 5);
    ck_assert_uint_eq(e->len, 4);
    ck_assert_int_eq(memcmp(e->val, "two!", 4), 0);
    /* An unchanged value still counts as a write. */
    put("k", "two!", 9);
    ck_assert_uint_eq(kv_peek(st, "k")->modify_index, 9);
    ck_assert_uint_eq(kv_table_index(st), 9);
    ck_assert_uint_eq(kv_count(st), 1);
    verify();
}
END_TEST

START_TEST(empty_and_binary_values)
{
    const struct kv_entry *e;
    const unsigned char bin[] = {0, 1, 0, 255};

    ck_assert_int_eq(kv_put(st, "e", NULL, 0, 0, 1, err), 0);
    e = kv_peek(st, "e");
    ck_assert_ptr_null(e->val);
    ck_assert_uint_eq(e->len, 0);
    ck_assert_int_eq(kv_put(st, "e", "", 0, 0, 2, err), 0);
    ck_assert_ptr_null(kv_peek(st, "e")->val);
    ck_assert_int_eq(kv_put(st, "b", bin, sizeof(bin), 0, 3, err), 0);
    ck_assert_int_eq(memcmp(kv_peek(st, "b")->val, bin, sizeof(bin)), 0);
    verify();
}
END_TEST

START_TEST(bad_keys_rejected)
{
    char *big = malloc(KV_MAX_KEY + 2);
    bool ok;

    memset(big, 'k', KV_MAX_KEY + 1);
    big[KV_MAX_KEY + 1] = '\0';
    ck_assert_int_eq(kv_put(st, "", "v", 1, 0, 1, err), ERR_INVAL);
    ck_assert_int_eq(kv_put(st, big, "v", 1, 0, 1, err), ERR_INVAL);
    ck_assert_int_eq(kv_put(st, "k", NULL, 3, 0, 1, err), ERR_INVAL);
    ck_assert_int_eq(kv_cas(st, "", "v", 1, 0, 0, 1, &ok, err), ERR_INVAL);
    ck_assert_int_eq(kv_delete(st, "", 1, err), ERR_INVAL);
    ck_assert_int_eq(kv_delete_cas(st, "", 1, 1, &ok, err), ERR_INVAL);
    ck_assert_int_eq(kv_delete_tree(st, big, 1, err), ERR_INVAL);
    ck_assert_uint_eq(kv_count(st), 0);
    ck_assert_uint_eq(kv_table_index(st), 0);
    big[KV_MAX_KEY] = '\0';
    ck_assert_int_eq(kv_put(st, big, "v", 1, 0, 2, err), 0);
    ck_assert_ptr_nonnull(kv_peek(st, big));
    free(big);
    verify();
}
END_TEST

START_TEST(cas_zero_is_create_only)
{
    bool ok = false;

    ck_assert_int_eq(kv_cas(st, "k", "a", 1, 0, 0, 4, &ok, err), 0);
    ck_assert(ok);
    ck_assert_uint_eq(kv_peek(st, "k")->create_index, 4);
    ck_assert_int_eq(kv_cas(st, "k", "b", 1, 0, 0, 5, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_uint_eq(kv_peek(st, "k")->modify_index, 4);
    ck_assert_int_eq(kv_peek(st, "k")->val[0], 'a');
    ck_assert_uint_eq(kv_table_index(st), 4);
}
END_TEST

START_TEST(cas_mismatch)
{
    bool ok = true;

    put("k", "a", 3);
    ck_assert_int_eq(kv_cas(st, "k", "b", 1, 7, 2, 10, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_uint_eq(kv_peek(st, "k")->modify_index, 3);
    ck_assert_int_eq(kv_cas(st, "k", "b", 1, 7, 3, 11, &ok, err), 0);
    ck_assert(ok);
    ck_assert_uint_eq(kv_peek(st, "k")->modify_index, 11);
    ck_assert_uint_eq(kv_peek(st, "k")->create_index, 3);
    ck_assert_uint_eq(kv_peek(st, "k")->flags, 7);
    /* A non-zero cas on a missing key does not create it. */
    ck_assert_int_eq(kv_cas(st, "m", "b", 1, 0, 5, 12, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_ptr_null(kv_peek(st, "m"));
    ck_assert_uint_eq(kv_table_index(st), 11);
}
END_TEST

START_TEST(delete_leaves_tombstone)
{
    const struct kv_entry *e;

    put("a/x", "1", 1);
    put("a/y", "2", 2);
    ck_assert_int_eq(kv_delete(st, "a/x", 5, err), 0);
    ck_assert_ptr_null(kv_peek(st, "a/x"));
    ck_assert_uint_eq(kv_count(st), 1);
    ck_assert_uint_eq(kv_tombstone_count(st), 1);
    ck_assert_uint_eq(kv_key_index(st, "a/x"), 5);
    ck_assert_uint_eq(kv_key_index(st, "a/y"), 2);
    ck_assert_uint_eq(kv_key_index(st, "a/z"), 0);
    ck_assert_uint_eq(kv_table_index(st), 5);
    ck_assert_uint_eq(kv_prefix_index(st, "a/"), 5);
    /* Deleting a missing key changes nothing. */
    ck_assert_int_eq(kv_delete(st, "nope", 6, err), 0);
    ck_assert_int_eq(kv_delete(st, "a/x", 7, err), 0);
    ck_assert_uint_eq(kv_table_index(st), 5);
    ck_assert_uint_eq(kv_tombstone_count(st), 1);
    ck_assert_uint_eq(kv_key_index(st, "a/x"), 5);
    /* Recreating drops the tombstone and starts a new life. */
    put("a/x", "3", 8);
    e = kv_peek(st, "a/x");
    ck_assert_uint_eq(e->create_index, 8);
    ck_assert_uint_eq(kv_tombstone_count(st), 0);
    verify();
}
END_TEST

START_TEST(delete_cas)
{
    bool ok = false;

    put("k", "v", 4);
    ck_assert_int_eq(kv_delete_cas(st, "k", 0, 5, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_int_eq(kv_delete_cas(st, "k", 3, 5, &ok, err), 0);
    ck_assert(!ok);
    ck_assert_ptr_nonnull(kv_peek(st, "k"));
    ck_assert_uint_eq(kv_table_index(st), 4);
    ck_assert_int_eq(kv_delete_cas(st, "k", 4, 6, &ok, err), 0);
    ck_assert(ok);
    ck_assert_ptr_null(kv_peek(st, "k"));
    ck_assert_uint_eq(kv_key_index(st, "k"), 6);
    /* As in Consul, nothing to delete is a success that changes nothing. */
    ok = false;
    ck_assert_int_eq(kv_delete_cas(st, "k", 6, 7, &ok, err), 0);
    ck_assert(ok);
    ck_assert_uint_eq(kv_table_index(st), 6);
    verify();
}
END_TEST

static const char *const tree_keys[] = {
    "a", "a/", "a/b", "a/c/d", "a0", "ab", "b", "a.", "a/\xff",
};
#define NTREE (sizeof(tree_keys) / sizeof(tree_keys[0]))

START_TEST(delete_tree_prefix)
{
    size_t i;

    for (i = 0; i < NTREE; i++)
        put(tree_keys[i], "v", i + 1);
    ck_assert_int_eq(kv_delete_tree(st, "a/", 20, err), 0);
    ck_assert_uint_eq(kv_count(st), NTREE - 4);
    ck_assert_uint_eq(kv_tombstone_count(st), 4);
    ck_assert_ptr_null(kv_peek(st, "a/"));
    ck_assert_ptr_null(kv_peek(st, "a/\xff"));
    ck_assert_ptr_nonnull(kv_peek(st, "a"));
    ck_assert_ptr_nonnull(kv_peek(st, "a0"));
    ck_assert_ptr_nonnull(kv_peek(st, "ab"));
    ck_assert_ptr_nonnull(kv_peek(st, "a."));
    ck_assert_uint_eq(kv_key_index(st, "a/c/d"), 20);
    /* No match: nothing changes. */
    ck_assert_int_eq(kv_delete_tree(st, "zz", 21, err), 0);
    ck_assert_uint_eq(kv_table_index(st), 20);
    ck_assert_int_eq(kv_delete_tree(st, "", 22, err), 0);
    ck_assert_uint_eq(kv_count(st), 0);
    ck_assert_uint_eq(kv_tombstone_count(st), NTREE);
    ck_assert_uint_eq(kv_key_index(st, "a/b"), 20);
    ck_assert_uint_eq(kv_key_index(st, "b"), 22);
    ck_assert_uint_eq(kv_table_index(st), 22);
    verify();
}
END_TEST

struct collect {
    const char *keys[64];
    size_t n;
    size_t stop_at;
};

static int collect_fn(void *ctx, const struct kv_entry *e)
{
    struct collect *c = ctx;

    ck_assert_uint_lt(c->n, 64);
    c->keys[c->n++] = e->key;
    return c->n == c->stop_at ? 7 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

START_TEST(walk_prefix_order_and_bounds)
{
    static const char *const keys[] = {
        "b",   "a/b/c", "a0",   "a/\xff", "ab",   "a/",    "a",
        "a/b", "a.",    "a/\x01", "\xc3\xa9", "a/B", "a/b0", "~",
    };
    static const char *const want[] = {
        "a/", "a/\x01", "a/B", "a/b", "a/b/c", "a/b0", "a/\xff",
    };
    const size_t nk = sizeof(keys) / sizeof(keys[0]);
    const char *sorted[sizeof(keys) / sizeof(keys[0])];
    struct collect c = {{0}, 0, 0};
    size_t i;

    for (i = 0; i < nk; i++)
        put(keys[i], "v", i + 1);
    ck_assert_int_eq(kv_walk_prefix(st, "a/", collect_fn, &c), 0);
    ck_assert_uint_eq(c.n, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < c.n; i++)
        ck_assert_str_eq(c.keys[i], want[i]);
    /* Byte order over everything: 0xc3 sorts after '~' (0x7e). */
    memcpy(sorted, keys, sizeof(keys));
    qsort(sorted, nk, sizeof(sorted[0]), cmp_str);
    c.n = 0;
    ck_assert_int_eq(kv_walk_prefix(st, "", collect_fn, &c), 0);
    ck_assert_uint_eq(c.n, nk);
    for (i = 0; i < nk; i++)
        ck_assert_str_eq(c.keys[i], sorted[i]);
    ck_assert_str_eq(c.keys[nk - 1], "\xc3\xa9");
    c.n = 0;
    ck_assert_int_eq(kv_walk_prefix(st, "a/b/c/", collect_fn, &c), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(kv_walk_prefix(st, "zz", collect_fn, &c), 0);
    ck_assert_uint_eq(c.n, 0);
    /* A non-zero return stops the walk and is passed back. */
    c.stop_at = 2;
    ck_assert_int_eq(kv_walk_prefix(st, "a", collect_fn, &c), 7);
    ck_assert_uint_eq(c.n, 2);
}
END_TEST

START_TEST(prefix_index_counts_tombstones)
{
    ck_assert_uint_eq(kv_prefix_index(st, ""), 0);
    put("a/x", "1", 5);
    put("b/y", "1", 9);
    put("a/z", "1", 7);
    put("a0", "1", 30);
    put("ab", "1", 31);
    ck_assert_uint_eq(kv_prefix_index(st, "a/"), 7);
    ck_assert_int_eq(kv_delete(st, "a/z", 12, err), 0);
    ck_assert_uint_eq(kv_prefix_index(st, "a/"), 12);
    ck_assert_uint_eq(kv_prefix_index(st, "a/z"), 12);
    ck_assert_uint_eq(kv_prefix_index(st, "a/x"), 5);
    ck_assert_uint_eq(kv_prefix_index(st, "b/"), 9);
    ck_assert_uint_eq(kv_prefix_index(st, "c"), 0);
    ck_assert_uint_eq(kv_prefix_index(st, "a"), 31);
    ck_assert_uint_eq(kv_prefix_index(st, ""), 31);
    kv_reap_tombstones(st, 12);
    ck_assert_uint_eq(kv_prefix_index(st, "a/"), 5);
    ck_assert_uint_eq(kv_table_index(st), 31);
    verify();
}
END_TEST

START_TEST(table_index_only_rises)
{
    ck_assert_uint_eq(kv_table_index(st), 0);
    kv_set_table_index(st, 100);
    ck_assert_uint_eq(kv_table_index(st), 100);
    kv_set_table_index(st, 50);
    ck_assert_uint_eq(kv_table_index(st), 100);
    put("k", "v", 101);
    ck_assert_uint_eq(kv_table_index(st), 101);
    ck_assert_int_eq(kv_delete(st, "k", 102, err), 0);
    kv_reap_tombstones(st, 1000);
    ck_assert_uint_eq(kv_table_index(st), 102);
    ck_assert_uint_eq(kv_prefix_index(st, ""), 0);
}
END_TEST

static int tomb_collect(void *ctx, const char *key, uint64_t index)
{
    uint64_t *sum = ctx;

    *sum += index;
    return 0;
}

START_TEST(reap_tombstones)
{
    char key[16];
    uint64_t sum = 0;
    int i;

    for (i = 1; i <= 100; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        put(key, "v", i);
    }
    for (i = 1; i <= 100; i++) {
        snprintf(key, sizeof(key), "k%03d", (i * 37) % 100 + 1);
        ck_assert_int_eq(kv_delete(st, key, 100 + i, err), 0);
    }
    ck_assert_uint_eq(kv_tombstone_count(st), 100);
    kv_reap_tombstones(st, 150);
    ck_assert_uint_eq(kv_tombstone_count(st), 50);
    verify();
    ck_assert_int_eq(kv_walk_tombstones(st, tomb_collect, &sum), 0);
    ck_assert_uint_eq(sum, (151 + 200) * 50 / 2);
    snprintf(key, sizeof(key), "k%03d", 37 % 100 + 1);
    ck_assert_uint_eq(kv_key_index(st, key), 0);
    kv_reap_tombstones(st, 0);
    ck_assert_uint_eq(kv_tombstone_count(st), 50);
    kv_reap_tombstones(st, UINT64_MAX);
    ck_assert_uint_eq(kv_tombstone_count(st), 0);
    verify();
}
END_TEST

START_TEST(restore_entry_and_tombstone)
{
    struct kv_entry e = {"lock/k", (unsigned char *)"xy", 2, 9, 2, 4, 3,
                         "sess-1"};
    const struct kv_entry *g;

    ck_assert_int_eq(kv_restore_entry(st, &e, err), 0);
    g = kv_peek(st, "lock/k");
    ck_assert_ptr_ne(g, &e);
    ck_assert_uint_eq(g->flags, 9);
    ck_assert_uint_eq(g->create_index, 2);
    ck_assert_uint_eq(g->modify_index, 4);
    ck_assert_uint_eq(g->lock_index, 3);
    ck_assert_str_eq(g->session, "sess-1");
    ck_assert_ptr_ne(g->session, e.session);
    ck_assert_uint_eq(kv_table_index(st), 4);
    ck_assert_int_eq(kv_restore_entry(st, &e, err), ERR_EXISTS);
    ck_assert_int_eq(kv_restore_tombstone(st, "lock/k", 1, err), ERR_EXISTS);
    ck_assert_int_eq(kv_restore_tombstone(st, "gone", 8, err), 0);
    ck_assert_int_eq(kv_restore_tombstone(st, "gone", 8, err), ERR_EXISTS);
    e.key = "gone";
    ck_assert_int_eq(kv_restore_entry(st, &e, err), ERR_EXISTS);
    e.key = "";
    ck_assert_int_eq(kv_restore_entry(st, &e, err), ERR_INVAL);
    ck_assert_uint_eq(kv_key_index(st, "gone"), 8);
    ck_assert_uint_eq(kv_table_index(st), 8);
    /* A plain put keeps the session and lock index. */
    put("lock/k", "z", 10);
    g = kv_peek(st, "lock/k");
    ck_assert_str_eq(g->session, "sess-1");
    ck_assert_uint_eq(g->lock_index, 3);
    ck_assert_uint_eq(g->create_index, 2);
    verify();
}
END_TEST

/* ---- randomized run against a model ---- */

#define NKEYS 6000
#define NOPS 200000

struct model {
    char *keys[NKEYS];      /* sorted, unique */
    uint64_t live[NKEYS];   /* modify index, 0 if absent */
    uint64_t create[NKEYS];
    uint64_t tomb[NKEYS];   /* tombstone index, 0 if none */
    size_t nkeys;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void model_keys(struct model *m)
{
    static const char alpha[] = "ab/\xff";
    char buf[16];
    size_t i, j, n;

    for (i = 0; i < NKEYS; i++) {
        n = 1 + rnd() % 10;
        for (j = 0; j < n; j++)
            buf[j] = alpha[rnd() % 4];
        buf[n] = '\0';
        m->keys[i] = strdup(buf);
    }
    qsort(m->keys, NKEYS, sizeof(char *), cmp_str);
    for (i = j = 0; i < NKEYS; i++) {
        if (j > 0 && strcmp(m->keys[j - 1], m->keys[i]) == 0)
            free(m->keys[i]);
        else
            m->keys[j++] = m->keys[i];
    }
    m->nkeys = j;
}

static void model_op(struct model *m, uint64_t index)
{
    size_t k = rnd() % m->nkeys, i;
    unsigned r = rnd() % 1000;

    if (r < 600) {
        put(m->keys[k], m->keys[k], index);
        if (m->live[k] == 0)
            m->create[k] = index;
        m->live[k] = index;
        m->tomb[k] = 0;
    } else if (r < 998) {
        REQUIRE(kv_delete(st, m->keys[k], index, err) == 0);
        if (m->live[k] != 0)
            m->tomb[k] = index;
        m->live[k] = 0;
    } else {
        ck_assert_int_eq(kv_delete_tree(st, m->keys[k], index, err), 0);
        for (i = 0; i < m->nkeys; i++) {
            if (m->live[i] != 0 &&
                strncmp(m->keys[i], m->keys[k], strlen(m->keys[k])) == 0) {
                m->live[i] = 0;
                m->tomb[i] = index;
            }
        }
    }
}

struct check_walk {
    struct model *m;
    size_t pos;
};

static int check_walk_fn(void *ctx, const struct kv_entry *e)
{
    struct check_walk *w = ctx;

    while (w->pos < w->m->nkeys && w->m->live[w->pos] == 0)
        w->pos++;
    REQUIRE(w->pos < w->m->nkeys);
    REQUIRE(strcmp(e->key, w->m->keys[w->pos]) == 0);
    REQUIRE(e->modify_index == w->m->live[w->pos]);
    REQUIRE(e->create_index == w->m->create[w->pos]);
    REQUIRE(e->len == strlen(e->key));
    w->pos++;
    return 0;
}

static void model_compare(struct model *m)
{
    struct check_walk w = {m, 0};
    size_t i, live = 0, tombs = 0;
    uint64_t want, got;
    const char *p;

    for (i = 0; i < m->nkeys; i++) {
        live += m->live[i] != 0;
        tombs += m->tomb[i] != 0;
    }
    ck_assert_uint_eq(kv_count(st), live);
    ck_assert_uint_eq(kv_tombstone_count(st), tombs);
    ck_assert_int_eq(kv_walk_prefix(st, "", check_walk_fn, &w), 0);
    while (w.pos < m->nkeys && m->live[w.pos] == 0)
        w.pos++;
    ck_assert_uint_eq(w.pos, m->nkeys);
    for (i = 0; i < 50; i++) {
        p = i == 0 ? "" : m->keys[rnd() % m->nkeys];
        want = 0;
        for (size_t j = 0; j < m->nkeys; j++) {
            if (strncmp(m->keys[j], p, strlen(p)) != 0)
                continue;
            want = m->live[j] > want ? m->live[j] : want;
            want = m->tomb[j] > want ? m->tomb[j] : want;
        }
        got = kv_prefix_index(st, p);
        ck_assert_uint_eq(got, want);
    }
}

START_TEST(many_random_ops)
{
    struct model *m = calloc(1, sizeof(*m));
    uint64_t index;
    size_t i;

    model_keys(m);
    for (index = 1; index <= NOPS; index++) {
        model_op(m, index);
        if (index % 20000 == 0) {
            verify();
            model_compare(m);
        }
    }
    kv_reap_tombstones(st, NOPS / 2);
    for (i = 0; i < m->nkeys; i++)
        if (m->tomb[i] <= NOPS / 2)
            m->tomb[i] = 0;
    verify();
    model_compare(m);
    for (i = 0; i < m->nkeys; i++)
        free(m->keys[i]);
    free(m);
}
END_TEST

/* 200k distinct keys inserted in random order, every other one deleted
 * in another random order; then ranges, indexes and a big delete-tree. */
START_TEST(many_shuffled_keys)
{
    const size_t n = 200000;
    size_t *perm = malloc(n * sizeof(*perm)), i, j, t;
    struct collect c = {{0}, 0, 3};
    char key[32];

    for (i = 0; i < n; i++)
        perm[i] = i;
    for (i = n - 1; i > 0; i--) {
        j = rnd() % (i + 1);
        t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "seq/%08zu", perm[i]);
        put(key, "v", perm[i] + 1);
    }
    verify();
    for (i = 0; i < n; i++) {
        if (perm[n - 1 - i] % 2 != 0)
            continue;
        snprintf(key, sizeof(key), "seq/%08zu", perm[n - 1 - i]);
        REQUIRE(kv_delete(st, key, 200001 + perm[n - 1 - i], err) == 0);
    }
    verify();
    ck_assert_uint_eq(kv_count(st), n / 2);
    ck_assert_uint_eq(kv_tombstone_count(st), n / 2);
    ck_assert_uint_eq(kv_prefix_index(st, "seq/0000001"), 200011 + 8);
    ck_assert_int_eq(kv_walk_prefix(st, "seq/0000001", collect_fn, &c), 7);
    ck_assert_str_eq(c.keys[0], "seq/00000011");
    ck_assert_str_eq(c.keys[2], "seq/00000015");
    ck_assert_int_eq(kv_delete_tree(st, "seq/", 500000, err), 0);
    ck_assert_uint_eq(kv_count(st), 0);
    ck_assert_uint_eq(kv_tombstone_count(st), n);
    kv_reap_tombstones(st, 400000);
    ck_assert_uint_eq(kv_tombstone_count(st), n / 2);
    verify();
    free(perm);
}
END_TEST

static Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *tc = tcase_create("core");
    TCase *big = tcase_create("big");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, put_then_get);
    tcase_add_test(tc, overwrite_keeps_create_index);
    tcase_add_test(tc, empty_and_binary_values);
    tcase_add_test(tc, bad_keys_rejected);
    tcase_add_test(tc, cas_zero_is_create_only);
    tcase_add_test(tc, cas_mismatch);
    tcase_add_test(tc, delete_leaves_tombstone);
    tcase_add_test(tc, delete_cas);
    tcase_add_test(tc, delete_tree_prefix);
    tcase_add_test(tc, walk_prefix_order_and_bounds);
    tcase_add_test(tc, prefix_index_counts_tombstones);
    tcase_add_test(tc, table_index_only_rises);
    tcase_add_test(tc, reap_tombstones);
    tcase_add_test(tc, restore_entry_and_tombstone);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(big, setup, teardown);
    tcase_set_timeout(big, 120);
    tcase_add_test(big, many_random_ops);
    tcase_add_test(big, many_shuffled_keys);
    suite_add_tcase(s, big);
    return s;
}

Suite *unit_suite(void)
{
    return kv_suite();
}

/* check_lincheck.c - unit tests for the linearizability checker
 * (t/lincheck/lincheck.c): hand-made Consul KV histories that must pass
 * and ones that must fail, indeterminate operations, the search limit,
 * the shrunk failing sub-history and history syntax errors.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lincheck/lincheck.h"
#include "unit.h"

static struct lc_stats st;

/* verdict: parse the history in text (lines) and check it. */
static enum lc_verdict verdict_limit(const char *text, long limit)
{
    char err[LC_ERR_LEN], line[256];
    struct lc_history *h = lc_history_new();
    const char *p = text;

    while (*p) {
        size_t n = strcspn(p, "\n");
        ck_assert_uint_lt(n, sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        if (lc_history_add_line(h, line, err) < 0)
            ck_abort_msg("line '%s': %s", line, err);
        p += n + (p[n] == '\n');
    }
    enum lc_verdict v = lc_check(h, limit, NULL, &st);
    lc_history_free(h);
    return v;
}

static enum lc_verdict verdict(const char *text)
{
    return verdict_limit(text, 1000000);
}

#define OK(h) ck_assert_int_eq(verdict(h), LC_LINEARIZABLE)
#define BAD(h) ck_assert_int_eq(verdict(h), LC_NOT_LINEARIZABLE)

START_TEST(sequential_ok)
{
    OK("1 a invoke read k\n2 a ok read k - 0\n"
       "3 a invoke write k v1\n4 a ok write k\n"
       "5 a invoke read k\n6 a ok read k v1 7\n"
       "7 a invoke cas k v2 7\n8 a ok cas k true\n"
       "9 a invoke read k\n10 a ok read k v2 9\n"
       "11 a invoke cas k v3 7\n12 a ok cas k false\n"
       "13 a invoke read k\n14 a ok read k v2 9\n");
    ck_assert_int_eq(st.ops, 7);
    ck_assert_int_eq(st.keys, 1);
}
END_TEST

START_TEST(stale_read_after_write)
{
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 a invoke read k\n4 a ok read k v1 5\n"
        "5 a invoke write k v2\n6 a ok write k\n"
        "7 b invoke read k\n8 b ok read k v1 5\n");
    ck_assert_int_eq(st.bad_keys, 1);
}
END_TEST

START_TEST(lost_write)
{
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 b invoke read k\n4 b ok read k - 0\n");
}
END_TEST

START_TEST(cas_twice_on_one_index)
{
    const char *pre = "1 a invoke write k v1\n2 a ok write k\n"
                      "3 a invoke read k\n4 a ok read k v1 5\n";
    char h[512];

    /* one after the other, then overlapping: both cannot see index 5 */
    snprintf(h, sizeof(h), "%s%s", pre,
             "5 a invoke cas k v2 5\n6 a ok cas k true\n"
             "7 b invoke cas k v3 5\n8 b ok cas k true\n");
    BAD(h);
    snprintf(h, sizeof(h), "%s%s", pre,
             "5 a invoke cas k v2 5\n5 b invoke cas k v3 5\n"
             "8 b ok cas k true\n9 a ok cas k true\n");
    BAD(h);
    /* one wins, one loses: fine in either order */
    snprintf(h, sizeof(h), "%s%s", pre,
             "5 a invoke cas k v2 5\n5 b invoke cas k v3 5\n"
             "8 b ok cas k false\n9 a ok cas k true\n"
             "10 a invoke read k\n11 a ok read k v2 8\n");
    OK(h);
    snprintf(h, sizeof(h), "%s%s", pre,
             "5 a invoke cas k v2 5\n5 b invoke cas k v3 5\n"
             "8 b ok cas k true\n9 a ok cas k false\n"
             "10 a invoke read k\n11 a ok read k v3 8\n");
    OK(h);
}
END_TEST

START_TEST(cas_false_on_matching_index)
{
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 a invoke read k\n4 a ok read k v1 5\n"
        "5 a invoke cas k v2 5\n6 a ok cas k false\n");
    OK("1 a invoke cas k v1 0\n2 a ok cas k true\n"
       "3 a invoke cas k v2 0\n4 a ok cas k false\n"
       "5 a invoke read k\n6 a ok read k v1 3\n");
}
END_TEST

START_TEST(concurrent_both_orders)
{
    /* a read overlapping a write may see either value */
    const char *base = "1 a invoke write k v1\n2 a ok write k\n"
                       "3 a invoke read k\n4 a ok read k v1 5\n"
                       "10 a invoke write k v2\n";
    char h[512];

    snprintf(h, sizeof(h), "%s%s", base,
             "11 b invoke read k\n12 b ok read k v1 5\n"
             "13 c invoke read k\n14 c ok read k v2 9\n20 a ok write k\n");
    OK(h);
    snprintf(h, sizeof(h), "%s%s", base,
             "11 b invoke read k\n12 b ok read k v2 9\n"
             "13 c invoke read k\n14 c ok read k v2 9\n20 a ok write k\n");
    OK(h);
    /* but once v2 was seen, v1 cannot come back */
    snprintf(h, sizeof(h), "%s%s", base,
             "11 b invoke read k\n12 b ok read k v2 9\n"
             "13 c invoke read k\n14 c ok read k v1 5\n20 a ok write k\n");
    BAD(h);
    /* two overlapping writes, the later-invoked one first */
    OK("1 a invoke write k v1\n2 b invoke write k v2\n3 a ok write k\n"
       "4 b ok write k\n5 c invoke read k\n6 c ok read k v1 8\n");
    OK("1 a invoke write k v1\n2 b invoke write k v2\n3 a ok write k\n"
       "4 b ok write k\n5 c invoke read k\n6 c ok read k v2 8\n");
}
END_TEST

START_TEST(indeterminate_write)
{
    /* a timed-out write seen later, long after */
    OK("1 a invoke write k v1\n2 a info write k\n"
       "3 b invoke read k\n4 b ok read k - 0\n"
       "50 b invoke read k\n51 b ok read k v1 7\n");
    /* never seen: it did not happen */
    OK("1 a invoke write k v1\n2 a info write k\n"
       "3 b invoke read k\n4 b ok read k - 0\n"
       "50 b invoke read k\n51 b ok read k - 0\n");
    /* never completed at all: the same */
    OK("1 a invoke write k v1\n"
       "3 b invoke read k\n4 b ok read k - 0\n");
    /* seen, then gone: it cannot happen twice nor be undone */
    BAD("1 a invoke write k v1\n2 a info write k\n"
        "3 b invoke read k\n4 b ok read k v1 7\n"
        "5 b invoke read k\n6 b ok read k - 0\n");
    /* it cannot take effect before its invocation */
    BAD("1 b invoke read k\n2 b ok read k v1 7\n"
        "3 a invoke write k v1\n4 a info write k\n");
    /* a timeout nobody read explains a CAS answered false (the checker
     * first tries without such writes, then with them) */
    OK("1 a invoke write k v1\n2 a ok write k\n"
       "3 a invoke read k\n4 a ok read k v1 5\n"
       "5 b invoke write k v2\n6 b info write k\n"
       "7 a invoke cas k v3 5\n8 a ok cas k false\n");
    /* a failed write did not happen */
    BAD("1 a invoke write k v1\n2 a fail write k\n"
        "3 b invoke read k\n4 b ok read k v1 7\n");
}
END_TEST

START_TEST(indeterminate_cas)
{
    OK("1 a invoke write k v1\n2 a ok write k\n"
       "3 a invoke read k\n4 a ok read k v1 5\n"
       "5 a invoke cas k v2 5\n6 a info cas k\n"
       "7 b invoke read k\n8 b ok read k v1 5\n"
       "9 b invoke read k\n10 b ok read k v2 9\n");
    /* a CAS on a stale index never takes effect, even indeterminate */
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 a invoke read k\n4 a ok read k v1 5\n"
        "5 a invoke write k v2\n6 a ok write k\n"
        "7 a invoke read k\n8 a ok read k v2 6\n"
        "9 a invoke cas k v3 5\n10 a info cas k\n"
        "11 b invoke read k\n12 b ok read k v3 11\n");
}
END_TEST

START_TEST(index_order)
{
    /* ModifyIndex grows with the writes */
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 a invoke write k v2\n4 a ok write k\n"
        "5 b invoke read k\n6 b ok read k v2 5\n"
        "7 c invoke write k v3\n8 c ok write k\n"
        "9 b invoke read k\n10 b ok read k v3 4\n");
    /* a read sees the index of the value it returns */
    BAD("1 a invoke write k v1\n2 a ok write k\n"
        "3 b invoke read k\n4 b ok read k v1 5\n"
        "5 b invoke read k\n6 b ok read k v1 6\n");
    /* a value nobody wrote */
    BAD("1 a invoke read k\n2 a ok read k zz 3\n");
}
END_TEST

START_TEST(keys_are_independent)
{
    OK("1 a invoke write x v1\n2 b invoke write y v1\n3 a ok write x\n"
       "4 b ok write y\n5 a invoke read x\n6 a ok read x v1 3\n"
       "7 b invoke read y\n8 b ok read y v1 4\n");
    ck_assert_int_eq(st.keys, 2);
    BAD("1 a invoke write x v1\n2 a ok write x\n"
        "3 a invoke read y\n4 a ok read y - 0\n"
        "5 a invoke read x\n6 a ok read x - 0\n");
    ck_assert_int_eq(st.bad_keys, 1);
}
END_TEST

/* 4 writers and 4 readers, 200 rounds, then a lost write at the end:
 * the shrunk history keeps the few ops that show it. */
static char *long_history(bool broken, int clients)
{
    size_t cap = 1 << 20, len = 0;
    char *h = malloc(cap);
    long t = 1;
    int idx = 1;

    ck_assert_ptr_nonnull(h);
    for (int round = 0; round < 200; round++) {
        for (int c = 0; c < clients; c++)
            len += (size_t)snprintf(h + len, cap - len,
                                    "%ld w%d invoke write k r%dc%d\n", t,
                                    c, round, c);
        for (int c = 0; c < clients; c++)
            len += (size_t)snprintf(h + len, cap - len,
                                    "%ld r%d invoke read k\n", t + 1, c);
        idx += clients;
        for (int c = 0; c < clients; c++)
            len += (size_t)snprintf(h + len, cap - len, "%ld w%d ok write k\n",
                                    t + 2, c);
        /* the last write (c = clients-1) is linearized last */
        for (int c = 0; c < clients; c++)
            len += (size_t)snprintf(h + len, cap - len,
                                    "%ld r%d ok read k r%dc%d %d\n", t + 3,
                                    c, round, clients - 1, idx);
        t += 10;
    }
    if (broken)
        len += (size_t)snprintf(h + len, cap - len,
                                "%ld z invoke read k\n%ld z ok read k "
                                "r3c%d %d\n",
                                t, t + 1, clients - 1, 4 * clients + 1);
    ck_assert_uint_lt(len, cap);
    return h;
}

START_TEST(long_history_fast_and_shrunk)
{
    char *h = long_history(false, 4);

    OK(h);
    ck_assert_int_eq(st.ops, 200 * 8);
    free(h);
    h = long_history(true, 4);
    BAD(h);
    ck_assert_int_le(st.min_ops, 4);
    ck_assert_int_ge(st.min_ops, 2);
    free(h);
}
END_TEST

START_TEST(search_limit_unknown)
{
    char *h = long_history(false, 6);

    ck_assert_int_eq(verdict_limit(h, 50), LC_UNKNOWN);
    ck_assert_int_eq(st.unknown_keys, 1);
    free(h);
}
END_TEST

START_TEST(syntax_errors)
{
    char err[LC_ERR_LEN];
    struct lc_history *h = lc_history_new();

    ck_assert_int_eq(lc_history_add_line(h, "# comment only", err), 0);
    ck_assert_int_eq(lc_history_add_line(h, "", err), 0);
    ck_assert_int_eq(lc_history_add_line(h, "x a invoke read k", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "1 a invoke frob k", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "1 a begin read k", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "1 a invoke cas k v", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "1 a ok read k", err), -1);
    ck_assert_str_eq(err, "process 'a' completes nothing");
    ck_assert_int_eq(lc_history_add_line(h, "1 a invoke read k # c", err), 0);
    ck_assert_int_eq(lc_history_add_line(h, "2 a invoke read k", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "2 a ok write k", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "2 a ok read k v", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "2 a ok read k - 3", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "0 a ok read k - 0", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "2 a ok read k - 0", err), 0);
    ck_assert_int_eq(lc_history_add_line(h, "3 a invoke cas k v 1", err), 0);
    ck_assert_int_eq(lc_history_add_line(h, "4 a ok cas k maybe", err), -1);
    ck_assert_int_eq(lc_history_add_line(h, "4 a info cas k", err), 0);
    lc_history_free(h);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("lincheck");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sequential_ok);
    tcase_add_test(tc, stale_read_after_write);
    tcase_add_test(tc, lost_write);
    tcase_add_test(tc, cas_twice_on_one_index);
    tcase_add_test(tc, cas_false_on_matching_index);
    tcase_add_test(tc, concurrent_both_orders);
    tcase_add_test(tc, indeterminate_write);
    tcase_add_test(tc, indeterminate_cas);
    tcase_add_test(tc, index_order);
    tcase_add_test(tc, keys_are_independent);
    tcase_add_test(tc, long_history_fast_and_shrunk);
    tcase_add_test(tc, search_limit_unknown);
    tcase_add_test(tc, syntax_errors);
    suite_add_tcase(s, tc);
    return s;
}

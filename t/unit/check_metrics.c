/* check_metrics.c - unit tests for the telemetry registry
 * (libcore/metrics*.c): interval aggregates (count, rate, sum, min, max,
 * mean, stddev), interval rollover, hostname on gauges, JSON shape and
 * Go's number forms, Prometheus names, escaping, summaries and retention
 * expiry, thread ownership, a full registry.
 * Time is a fake wall clock advanced by the tests.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_int.h"
#include "unit.h"

/* 2026-11-24 18:20:00 UTC, the start of a 10 s interval */
#define T0 1795544400000LL

static int64_t now_ms;
static struct metrics *m;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return now_ms;
}

static struct metrics *make(const char *host, int64_t retention)
{
    struct metrics_opts o = {.prefix = "consul", .hostname = host,
                             .prom_retention_ms = retention,
                             .now_ms = fake_clock};

    return metrics_new(&o);
}

static void setup(void)
{
    now_ms = T0 + 1234;
    m = make(NULL, 60000);
    ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
    metrics_free(m);
}

static json_t *render_json(void)
{
    size_t len;
    char *s = metrics_render_json(m, &len);
    json_error_t je;
    json_t *j;

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), len);
    j = json_loads(s, 0, &je);
    ck_assert_msg(j != NULL, "bad JSON: %s: %s", je.text, s);
    free(s);
    return j;
}

static char *render_prom(void)
{
    size_t len;
    char *s = metrics_render_prometheus(m, &len);

    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(strlen(s), len);
    return s;
}

/* The element of array arr (of the summary) whose Name is name. */
static json_t *find(json_t *j, const char *arr, const char *name)
{
    json_t *a = json_object_get(j, arr), *e;
    size_t i;

    json_array_foreach(a, i, e)
        if (strcmp(json_string_value(json_object_get(e, "Name")), name) == 0)
            return e;
    return NULL;
}

static double num(json_t *e, const char *f)
{
    return json_number_value(json_object_get(e, f));
}

START_TEST(counter_and_sample_math)
{
    json_t *j, *c, *s;

    metrics_counter_add(m, "raft.apply", 1, NULL, 0);
    metrics_counter_add(m, "raft.apply", 2, NULL, 0);
    metrics_counter_add(m, "raft.apply", 3, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 2, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 4, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 4, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 4, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 5, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 5, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 7, NULL, 0);
    metrics_sample_add(m, "raft.commitTime", 9, NULL, 0);
    j = render_json();
    ck_assert_str_eq(json_string_value(json_object_get(j, "Timestamp")),
                     "2026-11-24 18:20:00 +0000 UTC");
    ck_assert_int_eq(json_array_size(json_object_get(j, "Points")), 0);
    c = find(j, "Counters", "consul.raft.apply");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "Count")), 3);
    ck_assert_double_eq(num(c, "Sum"), 6);
    ck_assert_double_eq(num(c, "Min"), 1);
    ck_assert_double_eq(num(c, "Max"), 3);
    ck_assert_double_eq(num(c, "Mean"), 2);
    ck_assert_double_eq_tol(num(c, "Stddev"), 1, 1e-12);
    ck_assert_double_eq_tol(num(c, "Rate"), 0.6, 1e-12);
    ck_assert_int_eq(json_object_size(json_object_get(c, "Labels")), 0);
    s = find(j, "Samples", "consul.raft.commitTime");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "Count")), 8);
    ck_assert_double_eq(num(s, "Mean"), 5);
    /* sample standard deviation: sqrt(32 / 7) */
    ck_assert_double_eq_tol(num(s, "Stddev"), sqrt(32.0 / 7.0), 1e-12);
    ck_assert_double_eq(num(s, "Min"), 2);
    ck_assert_double_eq(num(s, "Max"), 9);
    json_decref(j);
}
END_TEST

START_TEST(one_value_has_no_stddev)
{
    json_t *j;

    metrics_sample_add(m, "x", 3, NULL, 0);
    j = render_json();
    ck_assert_double_eq(num(find(j, "Samples", "consul.x"), "Stddev"), 0);
    json_decref(j);
}
END_TEST

START_TEST(interval_rollover)
{
    json_t *j;

    metrics_counter_add(m, "serf.member.join", 1, NULL, 0);
    metrics_gauge_set(m, "g", 5, NULL, 0);
    now_ms += 10000; /* next interval: the finished one is shown */
    metrics_counter_add(m, "serf.member.join", 7, NULL, 0);
    j = render_json();
    ck_assert_str_eq(json_string_value(json_object_get(j, "Timestamp")),
                     "2026-11-24 18:20:00 +0000 UTC");
    ck_assert_double_eq(num(find(j, "Counters", "consul.serf.member.join"),
                            "Sum"), 1);
    ck_assert_double_eq(num(find(j, "Gauges", "consul.g"), "Value"), 5);
    json_decref(j);
    now_ms += 10000;
    j = render_json();
    ck_assert_str_eq(json_string_value(json_object_get(j, "Timestamp")),
                     "2026-11-24 18:20:10 +0000 UTC");
    ck_assert_double_eq(num(find(j, "Counters", "consul.serf.member.join"),
                            "Sum"), 7);
    ck_assert_ptr_null(find(j, "Gauges", "consul.g")); /* not set then */
    json_decref(j);
    /* quiet for a while: the last interval seen before now is shown */
    now_ms += 60000;
    j = render_json();
    ck_assert_str_eq(json_string_value(json_object_get(j, "Timestamp")),
                     "2026-11-24 18:20:20 +0000 UTC");
    ck_assert_int_eq(json_array_size(json_object_get(j, "Counters")), 0);
    json_decref(j);
}
END_TEST

START_TEST(hostname_only_on_gauges_and_labels)
{
    struct metrics_label l[] = {{"method", "GET"}, {"path", "v1_kv_"}};
    json_t *j, *e;

    metrics_free(m);
    m = make("web-1", 60000);
    metrics_gauge_set(m, "runtime.alloc_bytes", 1024, NULL, 0);
    metrics_sample_add(m, "api.http", 1.5, l, 2);
    metrics_counter_add(m, "raft.apply", 1, NULL, 0);
    j = render_json();
    ck_assert_ptr_nonnull(
        find(j, "Gauges", "consul.web-1.runtime.alloc_bytes"));
    ck_assert_ptr_nonnull(find(j, "Counters", "consul.raft.apply"));
    e = find(j, "Samples", "consul.api.http");
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "Labels"), "path")), "v1_kv_");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "Labels"), "method")), "GET");
    json_decref(j);
}
END_TEST

START_TEST(json_text_is_gos)
{
    struct metrics_label l[] = {{"b", "2"}, {"a", "x<y"}};
    size_t len;
    char *s;

    metrics_gauge_set(m, "g", 0.1, NULL, 0);
    metrics_counter_add(m, "c", 0.1, l, 2);
    s = metrics_render_json(m, &len);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s,
        "{\"Timestamp\":\"2026-11-24 18:20:00 +0000 UTC\","
        "\"Gauges\":[{\"Name\":\"consul.g\",\"Value\":0.1,\"Labels\":{}}],"
        "\"Points\":[],"
        "\"Counters\":[{\"Name\":\"consul.c\",\"Count\":1,"
        "\"Rate\":0.010000000149011612,\"Sum\":0.10000000149011612,"
        "\"Min\":0.10000000149011612,\"Max\":0.10000000149011612,"
        "\"Mean\":0.10000000149011612,\"Stddev\":0,"
        "\"Labels\":{\"a\":\"x\\u003cy\",\"b\":\"2\"}}],"
        "\"Samples\":[]}");
    free(s);
}
END_TEST

START_TEST(sorted_by_key)
{
    struct metrics_label a[] = {{"path", "b"}}, b[] = {{"path", "a"}};
    json_t *j, *arr;

    metrics_counter_add(m, "zz", 1, NULL, 0);
    metrics_counter_add(m, "aa", 1, a, 1);
    metrics_counter_add(m, "aa", 1, b, 1);
    j = render_json();
    arr = json_object_get(j, "Counters");
    ck_assert_int_eq(json_array_size(arr), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
        json_array_get(arr, 0), "Labels"), "path")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
        json_array_get(arr, 1), "Labels"), "path")), "b");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(arr, 2), "Name")), "consul.zz");
    json_decref(j);
}
END_TEST

START_TEST(go_float_forms)
{
    static const struct { double v; const char *s; } t[] = {
        {0, "0"}, {1, "1"}, {-1, "-1"}, {1.5, "1.5"}, {100, "100"},
        {123456, "123456"}, {1e6, "1e+06"}, {12345678, "1.2345678e+07"},
        {0.0001, "0.0001"}, {0.00001, "1e-05"}, {0.1, "0.1"},
        {1e21, "1e+21"}, {-2.5e-7, "-2.5e-07"},
    };
    char buf[48];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        metrics_fmt_go_g(t[i].v, buf, sizeof(buf));
        ck_assert_str_eq(buf, t[i].s);
    }
    metrics_fmt_go_g(NAN, buf, sizeof(buf));
    ck_assert_str_eq(buf, "NaN");
    metrics_fmt_go_g(INFINITY, buf, sizeof(buf));
    ck_assert_str_eq(buf, "+Inf");
}
END_TEST

START_TEST(prometheus_names_types_and_escaping)
{
    struct metrics_label l[] = {{"path", "a\"b\\c\nd"}, {"method", "GET"}};
    char *s;

    metrics_counter_add(m, "raft.apply", 2, NULL, 0);
    metrics_counter_add(m, "raft.apply", 3, NULL, 0);
    metrics_gauge_set(m, "runtime.alloc_bytes", 12345678, NULL, 0);
    metrics_counter_add(m, "odd-name/x y=z", 1, l, 2);
    s = render_prom();
    ck_assert_msg(strstr(s, "# HELP consul_raft_apply Writes the leader "
                            "accepted into the Raft log.\n"
                            "# TYPE consul_raft_apply counter\n"
                            "consul_raft_apply 5\n") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "# TYPE consul_runtime_alloc_bytes gauge\n"
                            "consul_runtime_alloc_bytes 1.2345678e+07\n")
                      != NULL, "%s", s);
    ck_assert_msg(strstr(s, "# HELP consul_odd_name_x_y_z "
                            "consul_odd_name_x_y_z\n") != NULL, "%s", s);
    ck_assert_msg(strstr(s, "consul_odd_name_x_y_z{method=\"GET\","
                            "path=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL, "%s",
                  s);
    /* families sorted by name */
    ck_assert(strstr(s, "consul_odd") < strstr(s, "consul_raft"));
    ck_assert(strstr(s, "consul_raft") < strstr(s, "consul_runtime"));
    ck_assert_ptr_null(strstr(s, "_total"));
    free(s);
}
END_TEST

START_TEST(prometheus_summary)
{
    char *s;

    for (int i = 1; i <= 100; i++)
        metrics_sample_add(m, "raft.commitTime", i, NULL, 0);
    s = render_prom();
    ck_assert_msg(strstr(s, "# TYPE consul_raft_commitTime summary\n"
                            "consul_raft_commitTime{quantile=\"0.5\"} 50\n"
                            "consul_raft_commitTime{quantile=\"0.9\"} 90\n"
                            "consul_raft_commitTime{quantile=\"0.99\"} 99\n"
                            "consul_raft_commitTime_sum 5050\n"
                            "consul_raft_commitTime_count 100\n") != NULL,
                  "%s", s);
    free(s);
    /* 10 s later the quantiles have no observations; sum and count stay */
    now_ms += 10000;
    s = render_prom();
    ck_assert_msg(strstr(s, "consul_raft_commitTime{quantile=\"0.5\"} NaN\n")
                      != NULL, "%s", s);
    ck_assert_msg(strstr(s, "consul_raft_commitTime_count 100\n") != NULL,
                  "%s", s);
    free(s);
}
END_TEST

START_TEST(retention_expiry)
{
    char *s;

    metrics_counter_add(m, "serf.member.join", 4, NULL, 0);
    now_ms += 60000; /* exactly the retention: still there */
    s = render_prom();
    ck_assert_ptr_nonnull(strstr(s, "consul_serf_member_join 4\n"));
    free(s);
    now_ms += 1;
    s = render_prom();
    ck_assert_ptr_null(strstr(s, "consul_serf_member_join"));
    free(s);
    metrics_counter_add(m, "serf.member.join", 1, NULL, 0);
    s = render_prom();
    ck_assert_ptr_nonnull(strstr(s, "consul_serf_member_join 1\n"));
    free(s);
}
END_TEST

START_TEST(no_retention_no_prometheus_state)
{
    char *s;

    metrics_free(m);
    m = make(NULL, 0);
    ck_assert_int_eq(metrics_prometheus_enabled(m), 0);
    metrics_counter_add(m, "raft.apply", 1, NULL, 0);
    s = render_prom();
    ck_assert_ptr_null(strstr(s, "consul_raft_apply"));
    free(s);
}
END_TEST

static void *other_thread(void *arg)
{
    metrics_counter_add(arg, "from.elsewhere", 1, NULL, 0);
    return NULL;
}

START_TEST(other_threads_are_dropped)
{
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, other_thread, m), 0);
    pthread_join(t, NULL);
    ck_assert_uint_eq(metrics_count(m), 0);
    ck_assert_uint_eq(metrics_dropped(m), 1);
}
END_TEST

START_TEST(global_is_optional)
{
    metrics_incr("nothing.happens", 1); /* no global yet: a no-op */
    metrics_set_global(m);
    metrics_incr("raft.apply", 1);
    metrics_gauge("g", 1);
    metrics_sample("s", 1);
    ck_assert_uint_eq(metrics_count(m), 3);
    metrics_free(m);
    ck_assert_ptr_null(metrics_global());
    m = NULL;
}
END_TEST

START_TEST(bad_input_and_full_registry)
{
    struct metrics_label bad[] = {{"", "v"}};
    char name[32];

    metrics_counter_add(m, "", 1, NULL, 0);
    metrics_counter_add(m, "x\n", 1, NULL, 0);
    metrics_counter_add(m, "x", 1, bad, 1);
    metrics_sample_add(m, "x", NAN, NULL, 0);
    ck_assert_uint_eq(metrics_count(m), 0);
    ck_assert_uint_eq(metrics_dropped(m), 4);
    for (int i = 0; i < METRICS_MAX_ENTRIES + 10; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        metrics_counter_add(m, name, 1, NULL, 0);
    }
    ck_assert_uint_eq(metrics_count(m), METRICS_MAX_ENTRIES);
    ck_assert_uint_eq(metrics_dropped(m), 14);
    metrics_counter_add(m, "n0", 1, NULL, 0); /* known ones still count */
    ck_assert_uint_eq(metrics_dropped(m), 14);
}
END_TEST

START_TEST(process_stats)
{
    struct metrics_proc p;
    char *s;

    metrics_proc_read(&p);
    ck_assert(p.rss_bytes > 0);
    ck_assert(p.threads >= 1);
    ck_assert(p.open_fds >= 3);
    ck_assert(p.max_fds >= p.open_fds);
    ck_assert(p.heap_bytes > 0);
    metrics_proc_gauges(m, &p);
    metrics_free(m);
    m = NULL;
    {
        struct metrics_opts o = {.prefix = "consul", .prom_retention_ms = 1,
                                 .now_ms = fake_clock, .process_metrics = 1};

        m = metrics_new(&o);
    }
    s = render_prom();
    ck_assert_ptr_nonnull(strstr(s, "# TYPE process_open_fds gauge\n"));
    ck_assert_ptr_nonnull(
        strstr(s, "# TYPE process_cpu_seconds_total counter"));
    free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *r = tcase_create("registry"), *p = tcase_create("prometheus");

    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, counter_and_sample_math);
    tcase_add_test(r, one_value_has_no_stddev);
    tcase_add_test(r, interval_rollover);
    tcase_add_test(r, hostname_only_on_gauges_and_labels);
    tcase_add_test(r, json_text_is_gos);
    tcase_add_test(r, sorted_by_key);
    tcase_add_test(r, other_threads_are_dropped);
    tcase_add_test(r, global_is_optional);
    tcase_add_test(r, bad_input_and_full_registry);
    suite_add_tcase(s, r);
    tcase_add_checked_fixture(p, setup, teardown);
    tcase_add_test(p, go_float_forms);
    tcase_add_test(p, prometheus_names_types_and_escaping);
    tcase_add_test(p, prometheus_summary);
    tcase_add_test(p, retention_expiry);
    tcase_add_test(p, no_retention_no_prometheus_state);
    tcase_add_test(p, process_stats);
    suite_add_tcase(s, p);
    return s;
}

Suite *unit_suite(void)
{
    return metrics_suite();
}

/* check_cfg_watch.c - unit tests for libcore/cfg_watch.c: watch
 * definitions checked with Consul's messages, and the command line of
 * `proconsul watch` built from one.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "err.h"
#include "unit.h"

static int check(const char *js, bool need, char *err)
{
    json_t *w = json_loads(js, 0, NULL);
    int rc;

    ck_assert_ptr_nonnull(w);
    rc = cfg_watch_check(w, need, err);
    json_decref(w);
    return rc;
}

#define BAD(js, need, msg)                                                 \
    do {                                                                   \
        char e_[ERR_LEN];                                                  \
        ck_assert_int_ne(check(js, need, e_), 0);                          \
        ck_assert_str_eq(e_, msg);                                         \
    } while (0)

START_TEST(valid_definitions)
{
    char err[ERR_LEN];

    ck_assert_int_eq(check("{\"type\":\"key\",\"key\":\"a/b\"}", false, err),
                     0);
    ck_assert_int_eq(check("{\"type\":\"keyprefix\",\"prefix\":\"\"}", false,
                           err), 0);
    ck_assert_int_eq(check("{\"type\":\"services\",\"args\":[\"x\"]}", true,
                           err), 0);
    ck_assert_int_eq(check("{\"type\":\"service\",\"service\":\"web\","
                           "\"tag\":[\"a\",\"b\"],\"passingonly\":true,"
                           "\"handler\":\"cat\"}", true, err), 0);
    ck_assert_int_eq(check("{\"type\":\"checks\",\"state\":\"critical\","
                           "\"handler_type\":\"script\",\"args\":[\"x\"],"
                           "\"token\":\"t\",\"datacenter\":\"dc1\"}", true,
                           err), 0);
    ck_assert_int_eq(check("{\"type\":\"event\",\"name\":\"deploy\","
                           "\"stale\":true}", false, err), 0);
}
END_TEST

START_TEST(consul_messages)
{
    BAD("{}", false, "Watch type must be specified");
    BAD("{\"type\":\"bogus\"}", false, "Unsupported watch type: bogus");
    BAD("{\"type\":\"key\"}", false, "Must specify a single key to watch");
    BAD("{\"type\":\"keyprefix\"}", false,
        "Must specify a single prefix to watch");
    BAD("{\"type\":\"service\"}", false,
        "Must specify a single service to watch");
    BAD("{\"type\":\"checks\",\"service\":\"a\",\"state\":\"any\"}", false,
        "Cannot specify service and state");
    BAD("{\"type\":\"nodes\",\"key\":\"x\"}", false,
        "Invalid parameters: [key]");
    BAD("{\"type\":\"nodes\"}", true, "Must define a watch handler");
    BAD("{\"type\":\"nodes\",\"handler\":\"a\",\"args\":[\"b\"]}", true,
        "Only one watch handler allowed");
    BAD("{\"type\":\"nodes\",\"args\":\"b\"}", true,
        "Watch args must be a list of strings");
    BAD("{\"type\":\"nodes\",\"handler\":1}", true,
        "Watch handler must be a string");
    BAD("{\"type\":\"nodes\",\"handler_type\":\"carrier\",\"args\":[\"x\"]}",
        true, "Handler type 'carrier' not supported");
    BAD("{\"type\":\"key\",\"key\":1}", false,
        "Expecting key to be a string");
    BAD("{\"type\":\"service\",\"service\":\"a\",\"passingonly\":\"y\"}",
        false, "Expecting passingonly to be a boolean");
    BAD("{\"type\":\"checks\",\"state\":\"sad\"}", false,
        "Invalid state 'sad'");
}
END_TEST

START_TEST(http_handler_refused)
{
    char err[ERR_LEN];

    ck_assert_int_eq(check("{\"type\":\"nodes\",\"handler_type\":\"http\"}",
                           true, err), ERR_UNSUPPORTED);
}
END_TEST

static char *joined(const char *js)
{
    json_t *w = json_loads(js, 0, NULL);
    char err[ERR_LEN], **v = cfg_watch_argv(w, err);
    size_t len = 0;
    char *out;

    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; v[i] != NULL; i++)
        len += strlen(v[i]) + 1;
    out = calloc(1, len + 1);
    for (size_t i = 0; v[i] != NULL; i++) {
        strcat(out, i ? "|" : "");
        strcat(out, v[i]);
    }
    cfg_watch_argv_free(v);
    json_decref(w);
    return out;
}

START_TEST(argv_of_definitions)
{
    char *s = joined("{\"type\":\"service\",\"service\":\"web\","
                     "\"tag\":[\"a\",\"b\"],\"passingonly\":true,"
                     "\"token\":\"secret\",\"args\":[\"/bin/x\",\"-v\"]}");

    ck_assert_str_eq(s, "-type=service|-service=web|-tag=a|-tag=b|"
                        "-passingonly|-shell=false|--|/bin/x|-v");
    ck_assert_ptr_null(strstr(s, "secret"));
    free(s);
    s = joined("{\"type\":\"key\",\"key\":\"k\",\"stale\":true,"
               "\"handler\":\"echo hi\"}");
    ck_assert_str_eq(s, "-type=key|-key=k|-stale|--|echo hi");
    free(s);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("cfg_watch");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, valid_definitions);
    tcase_add_test(tc, consul_messages);
    tcase_add_test(tc, http_handler_refused);
    tcase_add_test(tc, argv_of_definitions);
    suite_add_tcase(s, tc);
    return s;
}

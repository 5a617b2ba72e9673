/* check_opt.c - unit tests for the Go-style flag parser (libcore/opt.c).
 *
 * Covers every accepted flag form, boolean forms, stop rules, Go's error
 * texts, numbers in strconv base-0 syntax, lists, OPT_FUNC, help
 * detection, usage layout, durations and booleans.
 */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opt.h"
#include "util_rand.h"
#include "util_time.h"
#include "unit.h"

static bool b_flag, seen_b;
static const char *s_flag;
static int i_flag;
static uint64_t u_flag;
static struct opt_list l_flag;
static char fn_got[64];
static int fn_calls;

static int fn_cb(void *ctx, const char *name, const char *val, char *err)
{
    (void)ctx;
    fn_calls++;
    snprintf(fn_got, sizeof(fn_got), "%s=%s", name, val ? val : "(null)");
    if (val != NULL && strcmp(val, "bad") == 0)
        return err_set(err, ERR_INVAL, "not acceptable");
    if (val != NULL && strcmp(val, "quiet") == 0)
        return ERR_INVAL;
    return 0;
}

static const struct opt opts[] = {
    {.name = "b", .type = OPT_BOOL, .dst = &b_flag, .help = "a bool",
     .seen = &seen_b},
    {.name = "str", .type = OPT_STR, .dst = &s_flag, .help = "a string"},
    {.name = "n", .type = OPT_INT, .dst = &i_flag, .help = "an int"},
    {.name = "u", .type = OPT_UINT64, .dst = &u_flag, .help = "a uint64"},
    {.name = "l", .type = OPT_STRLIST, .dst = &l_flag, .help = "a list"},
    {.name = "f", .type = OPT_FUNC, .fn = fn_cb, .help = "a func"},
    {.name = "fb", .type = OPT_FUNC, .fn = fn_cb, .is_bool = true,
     .help = "a bool func"},
    {.name = "hidden", .type = OPT_BOOL, .dst = &b_flag},
};
#define N_OPTS ((int)(sizeof(opts) / sizeof(opts[0])))

static char err[ERR_LEN];
static int rest;

static void setup(void)
{
    b_flag = seen_b = false;
    s_flag = NULL;
    i_flag = 0;
    u_flag = 0;
    memset(&l_flag, 0, sizeof(l_flag));
    fn_got[0] = '\0';
    fn_calls = 0;
    err[0] = '\0';
    rest = -1;
}

static void teardown(void)
{
    opt_release(opts, N_OPTS);
}

/* Parse a NULL-terminated list of arguments after a command name. */
static int parse(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;

    argv[argc++] = (char *)"cmd";
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return opt_parse(opts, N_OPTS, argc, argv, &rest, err);
}

START_TEST(forms_of_string_flag)
{
    ck_assert_int_eq(parse("-str=a", NULL), 0);
    ck_assert_str_eq(s_flag, "a");
    ck_assert_int_eq(parse("-str", "b", NULL), 0);
    ck_assert_str_eq(s_flag, "b");
    ck_assert_int_eq(parse("--str=c", NULL), 0);
    ck_assert_str_eq(s_flag, "c");
    ck_assert_int_eq(parse("--str", "d", "pos", NULL), 0);
    ck_assert_str_eq(s_flag, "d");
    ck_assert_int_eq(rest, 3);
    ck_assert_int_eq(parse("-str=", NULL), 0);
    ck_assert_str_eq(s_flag, "");
    ck_assert_int_eq(parse("-str=x=y", NULL), 0);
    ck_assert_str_eq(s_flag, "x=y");
    /* the next argument is the value even if it looks like a flag */
    ck_assert_int_eq(parse("-str", "-b", NULL), 0);
    ck_assert_str_eq(s_flag, "-b");
    ck_assert(!b_flag);
}
END_TEST

START_TEST(bool_forms)
{
    ck_assert_int_eq(parse("-b", NULL), 0);
    ck_assert(b_flag);
    ck_assert(seen_b);
    ck_assert_int_eq(parse("-b=false", NULL), 0);
    ck_assert(!b_flag);
    ck_assert_int_eq(parse("--b=T", NULL), 0);
    ck_assert(b_flag);
    ck_assert_int_eq(parse("-b=0", NULL), 0);
    ck_assert(!b_flag);
}
END_TEST

START_TEST(bool_never_takes_next_arg)
{
    ck_assert_int_eq(parse("-b", "false", NULL), 0);
    ck_assert(b_flag);
    ck_assert_int_eq(rest, 2); /* "false" is positional */
}
END_TEST

START_TEST(bad_bool)
{
    ck_assert_int_eq(parse("-b=yes", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid boolean value \"yes\" for -b: parse error");
    ck_assert_int_eq(parse("-b=", NULL), ERR_INVAL);
}
END_TEST

START_TEST(stop_rules)
{
    ck_assert_int_eq(parse("pos", "-b", NULL), 0);
    ck_assert_int_eq(rest, 1);
    ck_assert(!b_flag);
    ck_assert_int_eq(parse("-b", "--", "-n", "3", NULL), 0);
    ck_assert_int_eq(rest, 3);
    ck_assert_int_eq(i_flag, 0);
    b_flag = false;
    ck_assert_int_eq(parse("-", "-b", NULL), 0);
    ck_assert_int_eq(rest, 1);
    ck_assert(!b_flag);
    ck_assert_int_eq(parse(NULL), 0);
    ck_assert_int_eq(rest, 1);
    ck_assert_int_eq(parse("-b", NULL), 0);
    ck_assert_int_eq(rest, 2);
}
END_TEST

START_TEST(unknown_flag)
{
    ck_assert_int_eq(parse("-nope=1", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "flag provided but not defined: -nope");
    ck_assert_int_eq(parse("--zz", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "flag provided but not defined: -zz");
}
END_TEST

START_TEST(bad_syntax)
{
    ck_assert_int_eq(parse("---x", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "bad flag syntax: ---x");
    ck_assert_int_eq(parse("-=x", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "bad flag syntax: -=x");
}
END_TEST

START_TEST(missing_value)
{
    ck_assert_int_eq(parse("-str", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "flag needs an argument: -str");
    ck_assert_int_eq(parse("-b", "--n", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "flag needs an argument: -n");
}
END_TEST

START_TEST(ints)
{
    ck_assert_int_eq(parse("-n=-42", NULL), 0);
    ck_assert_int_eq(i_flag, -42);
    ck_assert_int_eq(parse("-n", "0x1f", NULL), 0);
    ck_assert_int_eq(i_flag, 31);
    ck_assert_int_eq(parse("-n=010", NULL), 0);
    ck_assert_int_eq(i_flag, 8);
    ck_assert_int_eq(parse("-n=0b101", NULL), 0);
    ck_assert_int_eq(i_flag, 5);
    ck_assert_int_eq(parse("-n=1_000", NULL), 0);
    ck_assert_int_eq(i_flag, 1000);
    ck_assert_int_eq(parse("-n=-2147483648", NULL), 0);
    ck_assert_int_eq(i_flag, -2147483647 - 1);
    ck_assert_int_eq(parse("-n=abc", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid value \"abc\" for flag -n: parse error");
    ck_assert_int_eq(parse("-n=1__0", NULL), ERR_INVAL);
    ck_assert_int_eq(parse("-n=08", NULL), ERR_INVAL);
    ck_assert_int_eq(parse("-n=", NULL), ERR_INVAL);
    ck_assert_int_eq(parse("-n=99999999999", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid value \"99999999999\" for flag -n: "
                          "value out of range");
}
END_TEST

START_TEST(uint64s)
{
    ck_assert_int_eq(parse("-u=18446744073709551615", NULL), 0);
    ck_assert(u_flag == UINT64_MAX);
    ck_assert_int_eq(parse("-u=0", NULL), 0);
    ck_assert(u_flag == 0);
    ck_assert_int_eq(parse("-u=18446744073709551616", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid value \"18446744073709551616\" for flag "
                          "-u: value out of range");
    ck_assert_int_eq(parse("-u=-1", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid value \"-1\" for flag -u: parse error");
}
END_TEST

START_TEST(string_list_repeats)
{
    ck_assert_int_eq(parse("-l=a", "-l", "b", "--l=c", NULL), 0);
    ck_assert_int_eq(l_flag.n, 3);
    ck_assert_str_eq(l_flag.items[0], "a");
    ck_assert_str_eq(l_flag.items[1], "b");
    ck_assert_str_eq(l_flag.items[2], "c");
    opt_release(opts, N_OPTS);
    ck_assert_int_eq(l_flag.n, 0);
    ck_assert_ptr_null(l_flag.items);
}
END_TEST

START_TEST(func_flags)
{
    ck_assert_int_eq(parse("-f", "v1", NULL), 0);
    ck_assert_str_eq(fn_got, "f=v1");
    ck_assert_int_eq(parse("-fb", NULL), 0);
    ck_assert_str_eq(fn_got, "fb=(null)");
    ck_assert_int_eq(parse("-fb=false", "x", NULL), 0);
    ck_assert_str_eq(fn_got, "fb=false");
    ck_assert_int_eq(rest, 2);
    ck_assert_int_eq(parse("-f=bad", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "not acceptable"); /* verbatim */
    ck_assert_int_eq(parse("-fb=bad", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "not acceptable");
    ck_assert_int_eq(parse("-f=quiet", NULL), ERR_INVAL);
    ck_assert_str_eq(err, "invalid value \"quiet\" for flag -f: parse error");
}
END_TEST

START_TEST(help_flags)
{
    ck_assert_int_eq(parse("-h", NULL), OPT_HELP);
    ck_assert_int_eq(parse("-help", NULL), OPT_HELP);
    ck_assert_int_eq(parse("--help", NULL), OPT_HELP);
    ck_assert_int_eq(parse("-b", "-h", NULL), OPT_HELP);
    ck_assert_int_eq(parse("pos", "-h", NULL), 0);
}
END_TEST

START_TEST(help_requested_anywhere)
{
    char *a1[] = {"kv", "put", "k", "-h", NULL};
    char *a2[] = {"kv", "put", "--", "-h", NULL};
    char *a3[] = {"kv", "-helpx", NULL};

    ck_assert(opt_help_requested(4, a1));
    ck_assert(!opt_help_requested(4, a2));
    ck_assert(!opt_help_requested(2, a3));
}
END_TEST

/* Read everything written to a tmpfile. */
static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);

    rewind(f);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    return buf;
}

START_TEST(usage_layout)
{
    static bool rec, st;
    static const char *addr;
    const struct opt u[] = {
        {.name = "recurse", .type = OPT_BOOL, .dst = &rec,
         .help = "Recurse into the prefix."},
        {.name = "http-addr", .type = OPT_STR, .dst = &addr,
         .help = "The `address` of the agent."},
        {.name = "stale", .type = OPT_BOOL, .dst = &st, .help = "Be stale."},
        {.name = "zz", .type = OPT_STR, .dst = &addr},
    };
    FILE *f = tmpfile();
    char *out;

    opt_usage(f, "consul kv get [options] KEY", "  Gets a key.", u, 4);
    out = slurp(f);
    ck_assert_str_eq(out, "Usage: consul kv get [options] KEY\n\n"
                          "  Gets a key.\n\n"
                          "HTTP API Options\n\n"
                          "  -http-addr=<address>\n"
                          "     The `address` of the agent.\n\n"
                          "  -stale\n"
                          "     Be stale.\n\n"
                          "Command Options\n\n"
                          "  -recurse\n"
                          "     Recurse into the prefix.\n");
    free(out);
}
END_TEST

START_TEST(usage_wraps_at_72)
{
    static const char *sep = "/";
    const struct opt u[] = {
        {.name = "separator", .type = OPT_STR, .dst = &sep,
         .help = "String to use as a separator between keys. The default "
                 "value is \"/\", but this option is only taken into "
                 "account when paired with the -keys flag."},
    };
    FILE *f = tmpfile();
    char *out;

    opt_usage(f, "x", NULL, u, 1);
    out = slurp(f);
    ck_assert_str_eq(out, "Usage: x\n\nCommand Options\n\n"
                          "  -separator=<string>\n"
                          "     String to use as a separator between keys. "
                          "The default value is\n"
                          "     \"/\", but this option is only taken into "
                          "account when paired with\n"
                          "     the -keys flag.\n");
    free(out);
}
END_TEST

START_TEST(print_defaults_like_go)
{
    static const char *sep = "/";
    static bool r;
    static uint64_t fl = 0;
    const struct opt u[] = {
        {.name = "separator", .type = OPT_STR, .dst = &sep, .help = "Sep."},
        {.name = "r", .type = OPT_BOOL, .dst = &r, .help = "Rec."},
        {.name = "flags", .type = OPT_UINT64, .dst = &fl, .help = "Fl."},
        {.name = "http-addr", .type = OPT_STR, .dst = &sep,
         .help = "The `address`."},
    };
    FILE *f = tmpfile();
    char *out;

    opt_print_defaults(f, u, 4);
    out = slurp(f);
    ck_assert_str_eq(out, "  -flags uint\n    \tFl.\n"
                          "  -http-addr address\n    \tThe address.\n"
                          "  -r\tRec.\n"
                          "  -separator string\n    \tSep. (default \"/\")\n");
    free(out);
}
END_TEST

static int64_t dur(const char *s, bool bare, int *rc)
{
    int64_t ms = -12345;
    *rc = opt_parse_duration(s, bare, &ms);
    return ms;
}

START_TEST(durations)
{
    int rc;

    ck_assert_int_eq(dur("300ms", false, &rc), 300);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(dur("1.5s", false, &rc), 1500);
    ck_assert_int_eq(dur("5m", false, &rc), 300000);
    ck_assert_int_eq(dur("1h2m3.5s", false, &rc), 3723500);
    ck_assert_int_eq(dur("0", false, &rc), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(dur("-1s", false, &rc), -1000);
    ck_assert_int_eq(dur("+2s", false, &rc), 2000);
    ck_assert_int_eq(dur("1500us", false, &rc), 1);
    ck_assert_int_eq(dur("2000\xc2\xb5s", false, &rc), 2);
    ck_assert_int_eq(dur("2000\xce\xbcs", false, &rc), 2);
    ck_assert_int_eq(dur("3000000ns", false, &rc), 3);
    ck_assert_int_eq(dur(".5s", false, &rc), 500);
    ck_assert_int_eq(dur("1.s", false, &rc), 1000);
    ck_assert_int_eq(dur("10", true, &rc), 10000);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(dur("2562047h", false, &rc), 2562047LL * 3600000);
    ck_assert_int_eq(rc, 0);
}
END_TEST

START_TEST(bad_durations)
{
    const char *bad[] = {"", "10", "1x", "s", ".s", "-", "1h-2m", "1..5s",
                         "3000000h", "9223372036854775808ns"};
    int rc;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(dur(bad[i], false, &rc), -12345);
        ck_assert_msg(rc == ERR_INVAL, "accepted '%s'", bad[i]);
    }
}
END_TEST

START_TEST(bools)
{
    const char *t[] = {"1", "t", "T", "TRUE", "true", "True"};
    const char *f[] = {"0", "f", "F", "FALSE", "false", "False"};
    const char *bad[] = {"", "yes", "tRUE", "2", "on"};
    bool v;

    for (size_t i = 0; i < 6; i++) {
        v = false;
        ck_assert_int_eq(opt_parse_bool(t[i], &v), 0);
        ck_assert(v);
        ck_assert_int_eq(opt_parse_bool(f[i], &v), 0);
        ck_assert(!v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(opt_parse_bool(bad[i], &v), ERR_INVAL);
}
END_TEST

START_TEST(uuids_are_v4_and_distinct)
{
    char a[UTIL_UUID_LEN + 1], b[UTIL_UUID_LEN + 1], e[ERR_LEN];

    ck_assert_int_eq(util_uuid(a, e), 0);
    ck_assert_int_eq(util_uuid(b, e), 0);
    ck_assert(util_uuid_valid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '4');
    ck_assert(strchr("89ab", a[19]) != NULL);
    ck_assert(util_uuid_valid("00000000-0000-0000-0000-00000000000A"));
    ck_assert(!util_uuid_valid("00000000-0000-0000-0000-00000000000"));
    ck_assert(!util_uuid_valid("00000000x0000-0000-0000-000000000000"));
    ck_assert(!util_uuid_valid("g0000000-0000-0000-0000-000000000000"));
    ck_assert(!util_uuid_valid(NULL));
}
END_TEST

START_TEST(rfc3339_round_trip)
{
    char out[UTIL_RFC3339_LEN], e[ERR_LEN];
    int64_t ns = 0;

    util_rfc3339(INT64_C(1556209715012345678), out);
    ck_assert_str_eq(out, "2019-04-25T16:28:35.012345678Z");
    util_rfc3339(INT64_C(1556209715000000000), out);
    ck_assert_str_eq(out, "2019-04-25T16:28:35Z");
    util_rfc3339(INT64_C(1556209715120000000), out);
    ck_assert_str_eq(out, "2019-04-25T16:28:35.12Z");
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25T16:28:35.012345678Z",
                                        &ns, e), 0);
    ck_assert(ns == INT64_C(1556209715012345678));
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25T18:28:35+02:00", &ns,
                                        e), 0);
    ck_assert(ns == INT64_C(1556209715000000000));
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25 16:28:35Z", &ns, e),
                     ERR_INVAL);
    ck_assert_int_eq(util_parse_rfc3339("2019-13-25T16:28:35Z", &ns, e),
                     ERR_INVAL);
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25T16:28:35", &ns, e),
                     ERR_INVAL);
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25T16:28:35.Z", &ns, e),
                     ERR_INVAL);
    ck_assert_int_eq(util_parse_rfc3339("2019-04-25T16:28:35.1234567891Z",
                                        &ns, e), ERR_INVAL);
    ck_assert(util_now_ns() > INT64_C(1556209715000000000));
}
END_TEST

static Suite *opt_suite(void)
{
    Suite *s = suite_create("opt");
    TCase *p = tcase_create("parse"), *u = tcase_create("usage");
    TCase *v = tcase_create("values");

    tcase_add_checked_fixture(p, setup, teardown);
    tcase_add_test(p, forms_of_string_flag);
    tcase_add_test(p, bool_forms);
    tcase_add_test(p, bool_never_takes_next_arg);
    tcase_add_test(p, bad_bool);
    tcase_add_test(p, stop_rules);
    tcase_add_test(p, unknown_flag);
    tcase_add_test(p, bad_syntax);
    tcase_add_test(p, missing_value);
    tcase_add_test(p, ints);
    tcase_add_test(p, uint64s);
    tcase_add_test(p, string_list_repeats);
    tcase_add_test(p, func_flags);
    tcase_add_test(p, help_flags);
    tcase_add_test(p, help_requested_anywhere);
    suite_add_tcase(s, p);
    tcase_add_test(u, usage_layout);
    tcase_add_test(u, usage_wraps_at_72);
    tcase_add_test(u, print_defaults_like_go);
    suite_add_tcase(s, u);
    tcase_add_test(v, durations);
    tcase_add_test(v, bad_durations);
    tcase_add_test(v, bools);
    tcase_add_test(v, uuids_are_v4_and_distinct);
    tcase_add_test(v, rfc3339_round_trip);
    suite_add_tcase(s, v);
    return s;
}

Suite *unit_suite(void)
{
    return opt_suite();
}

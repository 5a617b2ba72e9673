/* check_log.c - unit tests for libcore/log.c and libcore/log_file.c.
 *
 * Covers hclog's JSON escaping and line format, the text format, the
 * monitor subscriptions in both forms, syslog facility names, and the
 * log file: naming, rotation by size and by age (a fake clock), pruning
 * to max files, appending on open, and failures (a file size limit for
 * a full disk, a descriptor limit for a failing open, a file removed
 * under it), each reported once with no line lost. Runs in a temporary
 * directory; fork mode keeps the rlimits of one test out of the others.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h> /* facilities; its LOG_DEBUG/LOG_INFO give way below */
#include <unistd.h>

#undef LOG_DEBUG
#undef LOG_INFO

#include "err.h"
#include "log.h"
#include "unit.h"

#define T0 1795544400123456789LL /* 2026-11-24T18:20:00.123456789Z */
#define MS 1000000LL

static char dir[64];
static char out_path[128]; /* what the logger writes to its fd */
static int out_fd = -1;
static int64_t fake_ns;

static int64_t fake_now(void) { return fake_ns; }

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_log.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out_path, sizeof(out_path), "%s.out", dir);
    out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ck_assert_int_ge(out_fd, 0);
    log_set_fd(out_fd);
    log_set_level(LOG_LVL_INFO);
    log_set_json(true);
    fake_ns = T0;
}

static void teardown(void)
{
    DIR *d;
    struct dirent *e;
    char p[512];

    log_file_close();
    log_set_fd(2);
    log_set_json(false);
    if ((d = opendir(dir)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    close(out_fd);
    unlink(out_path);
}

/* ---- helpers ----------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    return buf;
}

/* The fd as a pipe, for a test whose file-size limit would cut the
 * output file too; drain() gets what was written. */
static int pipe_rd = -1;

static void out_to_pipe(void)
{
    int p[2];

    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    pipe_rd = p[0];
    log_set_fd(p[1]);
}

static char *drain(void)
{
    static char buf[65536];
    ssize_t k;
    size_t n = 0;

    while (n < sizeof(buf) - 1 &&
           (k = read(pipe_rd, buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    return strdup(buf);
}

static int count_lines(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The archives "<base>-<digits><ext>" in dir, oldest first. */
static int archives(const char *base, const char *ext, int64_t *ns, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t bl = strlen(base), el = strlen(ext);
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL && n < max) {
        size_t l = strlen(e->d_name);
        char *end;

        if (l <= bl + 1 + el || strncmp(e->d_name, base, bl) != 0 ||
            e->d_name[bl] != '-' || strcmp(e->d_name + l - el, ext) != 0)
            continue;
        ns[n] = strtoll(e->d_name + bl + 1, &end, 10);
        if (end == e->d_name + l - el)
            n++;
    }
    closedir(d);
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    return n;
}

static void open_file(const char *name, int64_t bytes, int64_t ms,
                      int64_t max_files)
{
    char path[256], err[ERR_LEN] = "";
    struct log_file_opts o = {.path = path, .rotate_bytes = bytes,
                              .rotate_ms = ms, .max_files = max_files,
                              .now_ns = fake_now};

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_msg(log_file_open(&o, err) == 0, "%s", err);
}

/* Lines "line 000", "line 001"... one fake microsecond apart. */
static void write_lines(int from, int to)
{
    for (int i = from; i < to; i++) {
        fake_ns += 1000;
        LOG_INFO("test", "line %03d", i);
    }
}

/* Check that text is JSON lines whose messages continue *next. */
static void expect_sequence(const char *text, int *next)
{
    char want[32];
    const char *p = text, *nl;

    for (; *p != '\0'; p = nl + 1) {
        json_error_t je;
        json_t *j;
        const char *m;

        nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        j = json_loadb(p, (size_t)(nl - p), 0, &je);
        ck_assert_msg(j != NULL, "not JSON: %.*s", (int)(nl - p), p);
        m = json_string_value(json_object_get(j, "@message"));
        ck_assert_ptr_nonnull(m);
        if (strncmp(m, "line ", 5) == 0) {
            snprintf(want, sizeof(want), "line %03d", (*next)++);
            ck_assert_str_eq(m, want);
        }
        json_decref(j);
    }
}

/* ---- JSON -------------------------------------------------------------- */

static void esc_is(const char *in, size_t n, const char *want)
{
    char out[256];

    ck_assert_uint_eq(log_json_escape(out, sizeof(out), in, n),
                      strlen(want));
    ck_assert_str_eq(out, want);
}

/* The length of a literal, embedded NULs included. */
#define ESC_IS(lit, want) esc_is(lit, sizeof(lit) - 1, want)

START_TEST(json_escape_as_go)
{
    ESC_IS("plain text", "plain text");
    ESC_IS("a\"b\\c", "a\\\"b\\\\c");
    ESC_IS("l1\nl2\r\t.", "l1\\nl2\\r\\t.");
    ESC_IS("\x01\x1f\x7f", "\\u0001\\u001f\x7f");
    ESC_IS("<a href=\"x\">&</a>",
           "\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e");
    ESC_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    ESC_IS("\xe2\x80\xa8|\xe2\x80\xa9", "\\u2028|\\u2029");
    /* Invalid UTF-8: each bad byte is one U+FFFD. */
    ESC_IS("a\xff" "b", "a\\ufffdb");
    ESC_IS("\xc0\x80", "\\ufffd\\ufffd");           /* overlong */
    ESC_IS("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"); /* surrogate */
    ESC_IS("\xe2\x82", "\\ufffd\\ufffd");           /* cut short */
    ESC_IS("\xf4\x90\x80\x80",
           "\\ufffd\\ufffd\\ufffd\\ufffd");            /* > U+10FFFF */
    ESC_IS("nul\0in", "nul\\u0000in");
}
END_TEST

START_TEST(json_escape_reports_overflow)
{
    char out[8];

    ck_assert_uint_eq(log_json_escape(out, sizeof(out), "1234567", 7), 7);
    ck_assert_uint_eq(log_json_escape(out, sizeof(out), "12345678", 8),
                      (size_t)-1);
    ck_assert_uint_eq(log_json_escape(out, sizeof(out), "\n\n\n\n", 4),
                      (size_t)-1);
    ck_assert_uint_eq(log_json_escape(out, sizeof(out), "<", 1), 6);
}
END_TEST

START_TEST(json_line_is_hclog)
{
    char out[512];
    size_t n = log_json_line(out, sizeof(out), LOG_LVL_WARN, "agent.server",
                             "say \"hi\"\n", T0);

    ck_assert_str_eq(out, "{\"@level\":\"warn\",\"@message\":\"say "
                          "\\\"hi\\\"\\n\",\"@module\":\"agent.server\","
                          "\"@timestamp\":\"2026-11-24T18:20:00.123456Z\"}");
    ck_assert_uint_eq(n, strlen(out));
    ck_assert_uint_eq(log_json_line(out, 40, LOG_LVL_INFO, "m", "x", T0),
                      (size_t)-1);
}
END_TEST

START_TEST(json_write_one_object_per_line)
{
    char *s;
    json_t *j;
    json_error_t je;
    regex_t re;

    LOG_WARN("agent", "tab\there, newline\nthere, token <hidden> & co");
    LOG_DEBUG("agent", "below the level");
    s = slurp(out_path);
    ck_assert_int_eq(count_lines(s, "\n"), 1);
    j = json_loads(s, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", je.text, s);
    ck_assert_uint_eq(json_object_size(j), 4);
    ck_assert_str_eq(json_string_value(json_object_get(j, "@level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(j, "@module")),
                     "agent");
    ck_assert_str_eq(json_string_value(json_object_get(j, "@message")),
                     "tab\there, newline\nthere, token <hidden> & co");
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
                                  "[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regexec(&re, json_string_value(json_object_get(
                                      j, "@timestamp")), 0, NULL, 0), 0);
    ck_assert_ptr_nonnull(strstr(s, "\\u003chidden\\u003e \\u0026 co"));
    regfree(&re);
    json_decref(j);
    free(s);
}
END_TEST

START_TEST(text_format_unchanged)
{
    char *s;
    regex_t re;

    log_set_json(false);
    LOG_INFO("agent", "two\nlines");
    LOG_ERROR("raft", "boom");
    s = slurp(out_path);
    ck_assert_int_eq(regcomp(&re, "^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z "
                                  "\\[INFO\\]  agent: two\\?lines\n"
                                  "[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z "
                                  "\\[ERROR\\] raft: boom\n$",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, s, 0, NULL, 0) == 0, "got: %s", s);
    regfree(&re);
    free(s);
}
END_TEST

/* ---- subscribers ------------------------------------------------------- */

static char got_text[512], got_json[512];
static int n_text, n_json;

static void on_text(void *ctx, enum log_level lvl, const char *line)
{
    (void)ctx;
    (void)lvl;
    n_text++;
    snprintf(got_text, sizeof(got_text), "%s", line);
}

static void on_json(void *ctx, enum log_level lvl, const char *line)
{
    (void)ctx;
    (void)lvl;
    n_json++;
    snprintf(got_json, sizeof(got_json), "%s", line);
}

START_TEST(subscribers_get_their_format)
{
    char *s;

    log_set_json(false);
    ck_assert_int_eq(log_subscribe(on_text, NULL, LOG_LVL_DEBUG, 0), 0);
    ck_assert_int_eq(log_subscribe(on_json, NULL, LOG_LVL_INFO,
                                   LOG_SUB_JSON), 0);
    LOG_DEBUG("agent", "debug line");
    ck_assert_int_eq(n_text, 1);
    ck_assert_int_eq(n_json, 0);
    ck_assert_ptr_nonnull(strstr(got_text, "[DEBUG] agent: debug line"));
    LOG_INFO("agent", "info \"line\"");
    ck_assert_int_eq(n_text, 2);
    ck_assert_int_eq(n_json, 1);
    ck_assert_ptr_nonnull(strstr(got_json, "{\"@level\":\"info\","
                                           "\"@message\":\"info "
                                           "\\\"line\\\"\",\"@module\":"
                                           "\"agent\",\"@timestamp\":\""));
    ck_assert_ptr_null(strchr(got_json, '\n'));
    log_unsubscribe(on_text, NULL);
    log_unsubscribe(on_json, NULL);
    LOG_INFO("agent", "after");
    ck_assert_int_eq(n_text, 2);
    ck_assert_int_eq(n_json, 1);
    /* The fd got only what passed the level, as text. */
    s = slurp(out_path);
    ck_assert_int_eq(count_lines(s, "\n"), 2);
    ck_assert_ptr_null(strstr(s, "debug line"));
    ck_assert_ptr_null(strstr(s, "@level"));
    free(s);
}
END_TEST

/* ---- syslog ------------------------------------------------------------ */

START_TEST(syslog_facilities)
{
    char err[ERR_LEN];

    ck_assert_int_eq(log_syslog_facility("LOCAL0"), LOG_LOCAL0);
    ck_assert_int_eq(log_syslog_facility("local7"), LOG_LOCAL7);
    ck_assert_int_eq(log_syslog_facility("Daemon"), LOG_DAEMON);
    ck_assert_int_eq(log_syslog_facility("AUTHPRIV"), LOG_AUTHPRIV);
    ck_assert_int_eq(log_syslog_facility("LOCAL8"), -1);
    ck_assert_int_eq(log_syslog_facility(""), -1);
    ck_assert_int_eq(log_syslog_facility(NULL), -1);
    ck_assert_int_eq(log_syslog_open("bogus", err), ERR_INVAL);
    ck_assert_str_eq(err, "invalid syslog facility: \"bogus\"");
    /* Without a syslog daemon the lines are dropped, nothing fails. */
    ck_assert_int_eq(log_syslog_open("local0", err), 0);
    LOG_INFO("agent", "to syslog too");
    log_syslog_close();
    log_syslog_close();
}
END_TEST

/* ---- log file: names ---------------------------------------------------- */

START_TEST(file_name_defaults_to_consul_log)
{
    char want[256], arch[256];
    struct stat st;
    int64_t ns[4];

    open_file("", 0, 0, 0); /* "dir/" */
    snprintf(want, sizeof(want), "%s/consul.log", dir);
    ck_assert_str_eq(log_file_path(), want);
    LOG_INFO("agent", "one");
    ck_assert_int_eq(stat(want, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    /* A directory named without the slash is the same. */
    log_file_close();
    ck_assert_ptr_null(log_file_path());
    {
        char err[ERR_LEN];
        struct log_file_opts o = {.path = dir, .rotate_bytes = 1,
                                  .now_ns = fake_now};

        ck_assert_int_eq(log_file_open(&o, err), 0);
    }
    ck_assert_str_eq(log_file_path(), want);
    fake_ns = T0 + 5;
    LOG_INFO("agent", "two"); /* past 1 byte: rotates */
    ck_assert_int_eq(archives("consul", ".log", ns, 4), 1);
    ck_assert_int_eq(ns[0], T0 + 5);
    snprintf(arch, sizeof(arch), "%s/consul-%lld.log", dir, T0 + 5);
    ck_assert_int_eq(stat(arch, &st), 0);
}
END_TEST

START_TEST(file_names_keep_the_extension)
{
    char p[256];
    int64_t ns[4];
    struct stat st;

    open_file("agent", 1, 0, 0);
    LOG_INFO("agent", "one");
    fake_ns = T0 + 7;
    LOG_INFO("agent", "two");
    ck_assert_int_eq(archives("agent", ".log", ns, 4), 1);
    ck_assert_int_eq(ns[0], T0 + 7);
    snprintf(p, sizeof(p), "%s/agent", dir);
    ck_assert_int_eq(stat(p, &st), 0);
    log_file_close();
    open_file("proconsul.txt", 1, 0, 0);
    LOG_INFO("agent", "one");
    LOG_INFO("agent", "two");
    ck_assert_int_eq(archives("proconsul", ".txt", ns, 4), 1);
}
END_TEST

START_TEST(file_open_fails_cleanly)
{
    char err[ERR_LEN], p[256];
    struct log_file_opts o = {.path = p};

    snprintf(p, sizeof(p), "%s/no/such/dir/consul.log", dir);
    ck_assert_int_eq(log_file_open(&o, err), ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "opening '"));
    ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
    ck_assert_ptr_null(log_file_path());
    LOG_INFO("agent", "still to the fd");
}
END_TEST

/* ---- log file: rotation ------------------------------------------------- */

START_TEST(rotation_by_size_keeps_max_files)
{
    char p[256], *s;
    int64_t ns[64];
    struct stat st;
    int n;

    open_file("consul.log", 300, 0, 2);
    write_lines(0, 100);
    n = archives("consul", ".log", ns, 64);
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/consul-%" PRId64 ".log", dir, ns[i]);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert_int_le(st.st_size, 300);
        ck_assert_int_gt(st.st_size, 150);
    }
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    ck_assert_ptr_nonnull(strstr(s, "line 099"));
    ck_assert_int_le((int)strlen(s), 300);
    free(s);
}
END_TEST

START_TEST(rotation_loses_no_line)
{
    char p[256], *s;
    int64_t ns[128];
    int n, next = 0;

    open_file("consul.log", 300, 0, 0);
    write_lines(0, 200);
    n = archives("consul", ".log", ns, 128);
    ck_assert_int_gt(n, 50);
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/consul-%" PRId64 ".log", dir, ns[i]);
        s = slurp(p);
        expect_sequence(s, &next);
        free(s);
    }
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    expect_sequence(s, &next);
    free(s);
    ck_assert_int_eq(next, 200);
    /* Every line also went to the fd. */
    s = slurp(out_path);
    ck_assert_int_eq(count_lines(s, "\"line "), 200);
    free(s);
}
END_TEST

START_TEST(rotation_by_age)
{
    int64_t ns[8];

    open_file("consul.log", 0, 1000, 0);
    LOG_INFO("agent", "first");
    fake_ns += 999 * MS;
    LOG_INFO("agent", "same file");
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 0);
    fake_ns += 1 * MS;
    LOG_INFO("agent", "new file");
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 1);
    ck_assert_int_eq(ns[0], T0 + 1000 * MS);
    /* Idle past the age: the next line rotates once, not twice. */
    fake_ns += 5000 * MS;
    LOG_INFO("agent", "after a pause");
    LOG_INFO("agent", "and one more");
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 2);
}
END_TEST

START_TEST(rotation_skips_an_empty_file)
{
    int64_t ns[8];

    open_file("consul.log", 0, 1000, 0);
    fake_ns += 3000 * MS;
    LOG_INFO("agent", "first line, late");
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 0);
    fake_ns += 999 * MS;
    LOG_INFO("agent", "age counts from the renewal");
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 0);
}
END_TEST

START_TEST(rotation_negative_max_keeps_none)
{
    int64_t ns[8];
    char p[256], *s;

    open_file("consul.log", 200, 0, -1);
    write_lines(0, 30);
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 0);
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    ck_assert_ptr_nonnull(strstr(s, "line 029"));
    free(s);
}
END_TEST

START_TEST(rotation_names_never_collide)
{
    int64_t ns[16];

    open_file("consul.log", 1, 0, 0);
    for (int i = 0; i < 5; i++)
        LOG_INFO("agent", "same instant %d", i); /* fake clock stands */
    ck_assert_int_eq(archives("consul", ".log", ns, 16), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(ns[i], T0 + i);
}
END_TEST

START_TEST(open_appends_and_prunes)
{
    char p[256], *s;
    int64_t ns[16];
    FILE *f;

    /* Five archives, one current file, two files that only look alike. */
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/consul-%d.log", dir, 1000 + i);
        ck_assert_ptr_nonnull(f = fopen(p, "w"));
        fclose(f);
    }
    snprintf(p, sizeof(p), "%s/consul-old.log", dir);
    ck_assert_ptr_nonnull(f = fopen(p, "w"));
    fclose(f);
    snprintf(p, sizeof(p), "%s/consul-12.txt", dir);
    ck_assert_ptr_nonnull(f = fopen(p, "w"));
    fclose(f);
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    ck_assert_ptr_nonnull(f = fopen(p, "w"));
    fputs("from before\n", f);
    fclose(f);
    open_file("consul.log", 0, 0, 2);
    ck_assert_int_eq(archives("consul", ".log", ns, 16), 2);
    ck_assert_int_eq(ns[0], 1003);
    ck_assert_int_eq(ns[1], 1004);
    snprintf(p, sizeof(p), "%s/consul-old.log", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/consul-12.txt", dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    LOG_INFO("agent", "appended");
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    ck_assert_int_eq(strncmp(s, "from before\n{", 13), 0);
    free(s);
}
END_TEST

/* ---- log file: failures ------------------------------------------------ */

START_TEST(disk_full_reported_once)
{
    struct rlimit rl;
    char p[256], *s, *first;
    size_t one;

    signal(SIGXFSZ, SIG_IGN);
    out_to_pipe();
    open_file("consul.log", 0, 0, 0);
    LOG_INFO("agent", "fits");
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    one = strlen(s);
    free(s);
    /* The next line gets half in, then nothing. */
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = (rlim_t)(one + one / 2);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    for (int i = 0; i < 5; i++)
        LOG_INFO("agent", "does not fit %d", i);
    rl.rlim_cur = rl.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    LOG_INFO("agent", "fits again");
    s = slurp(p);
    first = strstr(s, "\n");
    ck_assert_ptr_nonnull(first);
    ck_assert_uint_eq((size_t)(first - s) + 1, one); /* no partial line */
    ck_assert_ptr_nonnull(strstr(first + 1, "fits again"));
    ck_assert_int_eq(count_lines(s, "\n"), 2);
    free(s);
    s = drain();
    ck_assert_int_eq(count_lines(s, "does not fit"), 5);
    ck_assert_int_eq(count_lines(s, "log file: writing to '"), 2);
    ck_assert_int_eq(count_lines(s, "File too large; lines go only to "
                                    "stderr until it works again"), 1);
    ck_assert_int_eq(count_lines(s, "\"@level\":\"error\",\"@message\":"
                                    "\"log file: writing"), 1);
    ck_assert_int_eq(count_lines(s, "' again\""), 1);
    free(s);
}
END_TEST

START_TEST(failed_open_keeps_writing_the_rotated_file)
{
    struct rlimit rl, saved;
    char p[256], *s;
    int64_t ns[8];
    int probe, next = 0;

    open_file("consul.log", 300, 0, 0);
    write_lines(0, 2);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    probe = dup(0);
    close(probe);
    rl = saved;
    rl.rlim_cur = (rlim_t)probe; /* no new descriptor from here */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    write_lines(2, 10); /* rotates: renamed, but no new file */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    write_lines(10, 12); /* less than a second later: still the old one */
    fake_ns += 1000 * MS;
    write_lines(12, 14); /* opens the new file */
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 1);
    snprintf(p, sizeof(p), "%s/consul-%" PRId64 ".log", dir, ns[0]);
    s = slurp(p);
    expect_sequence(s, &next);
    free(s);
    ck_assert_int_eq(next, 12);
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    s = slurp(p);
    expect_sequence(s, &next);
    free(s);
    ck_assert_int_eq(next, 14);
    s = slurp(out_path);
    ck_assert_int_eq(count_lines(s, "log file: opening '"), 1);
    ck_assert_int_eq(count_lines(s, "writing on to the rotated file"), 1);
    free(s);
}
END_TEST

START_TEST(removed_file_reported_then_reopened)
{
    char p[256], err[ERR_LEN], *s;

    open_file("consul.log", 200, 0, 0);
    write_lines(0, 2);
    snprintf(p, sizeof(p), "%s/consul.log", dir);
    ck_assert_int_eq(unlink(p), 0);
    write_lines(2, 12); /* due several times: the rename fails */
    ck_assert_int_eq(log_file_reopen(err), 0);
    write_lines(12, 13);
    s = slurp(p);
    ck_assert_ptr_nonnull(strstr(s, "line 012"));
    ck_assert_int_eq(count_lines(s, "\n"), 1);
    free(s);
    s = slurp(out_path);
    ck_assert_int_eq(count_lines(s, "log file: rotating '"), 1);
    ck_assert_int_eq(count_lines(s, "\"line "), 13);
    free(s);
}
END_TEST

START_TEST(reopen_without_file_is_a_noop)
{
    char err[ERR_LEN] = "";

    ck_assert_int_eq(log_file_reopen(err), 0);
    ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(forked_child_never_rotates)
{
    int64_t ns[8];
    pid_t pid;
    int st;

    open_file("consul.log", 1, 0, 0);
    LOG_INFO("agent", "parent");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        LOG_INFO("agent", "child one");
        LOG_INFO("agent", "child two");
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 0);
    LOG_INFO("agent", "parent again"); /* the parent does */
    ck_assert_int_eq(archives("consul", ".log", ns, 8), 1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_escape_as_go);
    tcase_add_test(tc, json_escape_reports_overflow);
    tcase_add_test(tc, json_line_is_hclog);
    tcase_add_test(tc, json_write_one_object_per_line);
    tcase_add_test(tc, text_format_unchanged);
    tcase_add_test(tc, subscribers_get_their_format);
    tcase_add_test(tc, syslog_facilities);
    tcase_add_test(tc, file_name_defaults_to_consul_log);
    tcase_add_test(tc, file_names_keep_the_extension);
    tcase_add_test(tc, file_open_fails_cleanly);
    tcase_add_test(tc, rotation_by_size_keeps_max_files);
    tcase_add_test(tc, rotation_loses_no_line);
    tcase_add_test(tc, rotation_by_age);
    tcase_add_test(tc, rotation_skips_an_empty_file);
    tcase_add_test(tc, rotation_negative_max_keeps_none);
    tcase_add_test(tc, rotation_names_never_collide);
    tcase_add_test(tc, open_appends_and_prunes);
    tcase_add_test(tc, disk_full_reported_once);
    tcase_add_test(tc, failed_open_keeps_writing_the_rotated_file);
    tcase_add_test(tc, removed_file_reported_then_reopened);
    tcase_add_test(tc, reopen_without_file_is_a_noop);
    tcase_add_test(tc, forked_child_never_rotates);
    suite_add_tcase(s, tc);
    return s;
}

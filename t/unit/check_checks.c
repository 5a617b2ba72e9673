/* check_checks.c - unit tests for the health check runners
 * (libcore/checks*.c).
 *
 * Covers HTTP (200/429/500, refused, timeout, method/headers/body sent,
 * redirects followed or not, body kept to its last 4 KiB, bad scheme),
 * TCP (connect, refused, bad address), scripts (exit 0/1/2, stdout and
 * stderr together, truncation, timeout with the process group killed,
 * not found, disabled), TTL (update, expiry, errors), definition
 * validation, SuccessBeforePassing / FailuresBefore* counters, replace,
 * remove while running, close with a script and a request in flight.
 * A tiny HTTP server on 127.0.0.1 (ephemeral port) runs on the same
 * loop; scripts are /bin/sh. Timing is shortened with
 * checks_set_timing(); waits are loop timers, never sleeps. Every test
 * closes all handles and ends with uv_loop_close() == 0.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checks.h"
#include "err.h"
#include "log.h"
#include "unit.h"

static uv_loop_t loop;
static struct checks *ck;
static char err[ERR_LEN];
static uv_timer_t guard, tick;
static bool timed_out, closed;

/* ---- loop helpers ---- */

static void on_guard(uv_timer_t *t)
{
    (void)t;
    timed_out = true;
    uv_stop(&loop);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uv_stop(&loop);
}

/* Run the loop until pred() holds (ms at most); pred is also polled
 * every 5 ms, for conditions outside the loop (files, /proc). */
static void run_until_at(bool (*pred)(void), uint64_t ms, int line)
{
    timed_out = false;
    uv_timer_start(&guard, on_guard, ms, 0);
    uv_timer_start(&tick, on_tick, 5, 5);
    while (!pred() && !timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    uv_timer_stop(&tick);
    ck_assert_msg(!timed_out, "timed out waiting (line %d)", line);
}
#define run_until(pred, ms) run_until_at(pred, ms, __LINE__)

/* Let the loop run for ms. */
static void run_for(uint64_t ms)
{
    timed_out = false;
    uv_timer_start(&guard, on_guard, ms, 0);
    while (!timed_out)
        uv_run(&loop, UV_RUN_ONCE);
}

/* ---- update recorder ---- */

#define MAX_EV 64
struct ev {
    char id[32], status[16];
    char *output;
    uint64_t at; /* loop time */
};
static struct ev evs[MAX_EV];
static int n_evs;
static void on_closed(void *ctx);

/* What on_update does when a check turns passing. */
static enum { A_NONE, A_REMOVE, A_CLOSE } on_pass;

static void on_update(void *ctx, const char *id, const char *status,
                      const char *output)
{
    (void)ctx;
    ck_assert_msg(!closed, "update after close");
    ck_assert_int_lt(n_evs, MAX_EV);
    snprintf(evs[n_evs].id, sizeof(evs[n_evs].id), "%s", id);
    snprintf(evs[n_evs].status, sizeof(evs[n_evs].status), "%s", status);
    evs[n_evs].output = strdup(output);
    evs[n_evs].at = uv_now(&loop);
    n_evs++;
    uv_stop(&loop);
    if (on_pass != A_NONE && strcmp(status, "passing") == 0) {
        if (on_pass == A_REMOVE)
            ck_assert_int_eq(checks_remove(ck, id), 0);
        else
            checks_close(ck, on_closed, NULL);
        on_pass = A_NONE;
    }
}

static int want_evs;
static bool have_evs(void)
{
    return n_evs >= want_evs;
}

#define wait_evs(n, ms) (want_evs = (n), run_until(have_evs, ms))

static const struct ev *last(void)
{
    ck_assert_int_gt(n_evs, 0);
    return &evs[n_evs - 1];
}

static void on_closed(void *ctx)
{
    (void)ctx;
    closed = true;
    uv_stop(&loop);
}

static bool is_closed(void)
{
    return closed;
}

/* ---- tiny HTTP server ---- */

enum smode { S_200, S_429, S_500, S_SILENT, S_REDIRECT, S_BIG };

#define MAX_CONN 16
struct sconn {
    uv_tcp_t tcp;
    int slot;
    size_t len;
    char buf[8192];
};

static uv_tcp_t listener;
static bool listening;
static int port;
static enum smode smode;
static struct sconn *conns[MAX_CONN];
static int n_reqs;
static uint64_t req_at[8];
static char last_req[8192];

static void conn_closed(uv_handle_t *h)
{
    struct sconn *s = h->data;

    conns[s->slot] = NULL;
    free(s);
}

static void conn_close(struct sconn *s)
{
    if (!uv_is_closing((uv_handle_t *)&s->tcp))
        uv_close((uv_handle_t *)&s->tcp, conn_closed);
}

struct swrite {
    uv_write_t w;
    struct sconn *s;
    char data[];
};

static void written(uv_write_t *w, int status)
{
    struct swrite *sw = (struct swrite *)w;

    (void)status;
    conn_close(sw->s);
    free(sw);
}

static void reply(struct sconn *s, int code, const char *reason,
                  const char *extra, const char *body)
{
    size_t blen = strlen(body), cap = blen + 512;
    struct swrite *sw = malloc(sizeof(*sw) + cap);
    uv_buf_t b;
    int n;

    ck_assert_ptr_nonnull(sw);
    n = snprintf(sw->data, cap,
                 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s"
                 "Connection: close\r\n\r\n%s",
                 code, reason, blen, extra, body);
    sw->s = s;
    b = uv_buf_init(sw->data, (unsigned)n);
    ck_assert_int_eq(uv_write(&sw->w, (uv_stream_t *)&s->tcp, &b, 1, written),
                     0);
}

static void respond(struct sconn *s)
{
    static char big[10001];

    switch (smode) {
    case S_200: reply(s, 200, "OK", "", "ok"); break;
    case S_429: reply(s, 429, "Too Many Requests", "", "slow down"); break;
    case S_500: reply(s, 500, "Internal Server Error", "", "boom"); break;
    case S_REDIRECT:
        if (strncmp(s->buf, "GET /final ", 11) == 0) {
            reply(s, 200, "OK", "", "final");
        } else if (strncmp(s->buf, "GET /abs ", 9) == 0) {
            char loc[128];
            snprintf(loc, sizeof(loc),
                     "Location: http://localhost:%d/final\r\n", port);
            reply(s, 307, "Temporary Redirect", loc, "");
        } else {
            reply(s, 302, "Found", "Location: /final\r\n", "");
        }
        break;
    case S_BIG:
        for (int i = 0; i < 10000; i++)
            big[i] = (char)('a' + i % 26);
        big[9999] = 'Z';
        reply(s, 200, "OK", "", big);
        break;
    case S_SILENT:
    default: break;
    }
}

static void s_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct sconn *s = h->data;

    (void)sugg;
    b->base = s->buf + s->len;
    b->len = sizeof(s->buf) - 1 - s->len;
}

static void s_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct sconn *s = st->data;
    char *end, *cl;
    size_t need;

    (void)b;
    if (n < 0) {
        conn_close(s);
        return;
    }
    s->len += (size_t)n;
    s->buf[s->len] = '\0';
    end = strstr(s->buf, "\r\n\r\n");
    if (end == NULL)
        return;
    need = (size_t)(end + 4 - s->buf);
    cl = strcasestr(s->buf, "Content-Length: ");
    if (cl != NULL && cl < end)
        need += strtoul(cl + 16, NULL, 10);
    if (s->len < need)
        return;
    if (n_reqs < 8)
        req_at[n_reqs] = uv_now(&loop);
    n_reqs++;
    snprintf(last_req, sizeof(last_req), "%s", s->buf);
    uv_read_stop(st);
    respond(s);
}

static void on_conn(uv_stream_t *l, int status)
{
    struct sconn *s = calloc(1, sizeof(*s));
    int i;

    ck_assert_int_eq(status, 0);
    ck_assert_ptr_nonnull(s);
    for (i = 0; i < MAX_CONN && conns[i] != NULL; i++)
        ;
    ck_assert_int_lt(i, MAX_CONN);
    conns[i] = s;
    s->slot = i;
    uv_tcp_init(&loop, &s->tcp);
    s->tcp.data = s;
    ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&s->tcp), 0);
    ck_assert_int_eq(
        uv_read_start((uv_stream_t *)&s->tcp, s_alloc, s_read), 0);
}

static void listen_server(void)
{
    struct sockaddr_in sa;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &listener);
    ck_assert_int_eq(uv_tcp_bind(&listener, (struct sockaddr *)&sa, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 16, on_conn), 0);
    uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    listening = true;
}

/* A port nothing listens on: bound, never listened, closed. */
static int dead_port(void)
{
    uv_tcp_t t;
    struct sockaddr_in sa;
    struct sockaddr_storage ss;
    int len = sizeof(ss), p;

    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &t);
    ck_assert_int_eq(uv_tcp_bind(&t, (struct sockaddr *)&sa, 0), 0);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    run_for(5);
    return p;
}

/* ---- fixture ---- */

static struct checks_opts opts;

static void new_checks(void)
{
    ck = checks_new(&loop, &opts, on_update, NULL, err);
    ck_assert_ptr_nonnull(ck);
    checks_set_timing(ck, 0, false);
}

static void setup(void)
{
    log_set_level(LOG_LVL_OFF);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    uv_timer_init(&loop, &tick);
    memset(evs, 0, sizeof(evs));
    n_evs = 0;
    closed = false;
    on_pass = A_NONE;
    n_reqs = 0;
    listening = false;
    smode = S_200;
    memset(&opts, 0, sizeof(opts));
    opts.enable_script_checks = true;
    new_checks();
    listen_server();
}

static void teardown(void)
{
    if (ck != NULL && !closed) {
        checks_close(ck, on_closed, NULL);
        run_until(is_closed, 5000);
    }
    ck = NULL;
    for (int i = 0; i < MAX_CONN; i++)
        if (conns[i] != NULL)
            conn_close(conns[i]);
    if (listening)
        uv_close((uv_handle_t *)&listener, NULL);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
        ;
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < n_evs; i++)
        free(evs[i].output);
}

/* checks_add from a JSON text. */
static int add(const char *id, const char *js, bool from_config)
{
    json_error_t je;
    json_t *def = json_loads(js, 0, &je);
    int r;

    ck_assert_msg(def != NULL, "bad test json: %s", je.text);
    r = checks_add(ck, id, def, from_config, err);
    json_decref(def);
    return r;
}

static int validate(const char *js, bool from_config)
{
    json_t *def = json_loads(js, 0, NULL);
    int r;

    ck_assert_ptr_nonnull(def);
    r = checks_validate(ck, def, from_config, err);
    json_decref(def);
    return r;
}

static void add_http(const char *path, const char *extra)
{
    char js[1024];

    snprintf(js, sizeof(js),
             "{\"HTTP\":\"http://127.0.0.1:%d%s\",\"Interval\":\"10s\"%s}",
             port, path, extra);
    ck_assert_int_eq(add("web", js, false), 0);
}

/* The update after the initial one. */
static const struct ev *first_result(void)
{
    wait_evs(2, 5000);
    ck_assert_str_eq(evs[0].status, "critical");
    ck_assert_str_eq(evs[0].output, "");
    return &evs[1];
}

/* ---- HTTP ---- */

START_TEST(http_200_passing)
{
    const struct ev *e;
    char want[256];

    add_http("/health", "");
    ck_assert_int_eq(n_evs, 1); /* the initial status, from checks_add */
    ck_assert_str_eq(evs[0].id, "web");
    e = first_result();
    snprintf(want, sizeof(want),
             "HTTP GET http://127.0.0.1:%d/health: 200 OK Output: ok", port);
    ck_assert_str_eq(e->status, "passing");
    ck_assert_str_eq(e->output, want);
}
END_TEST

START_TEST(http_429_warning_500_critical)
{
    char want[256];

    smode = S_429;
    add_http("/", "");
    ck_assert_str_eq(first_result()->status, "warning");
    snprintf(want, sizeof(want),
             "HTTP GET http://127.0.0.1:%d/: 429 Too Many Requests Output: "
             "slow down",
             port);
    ck_assert_str_eq(last()->output, want);
    smode = S_500;
    ck_assert_int_eq(add("web2", "{\"HTTP\":\"http://127.0.0.1:1/\","
                                 "\"Interval\":\"10s\"}",
                         false),
                     0);
    ck_assert_int_eq(checks_remove(ck, "web2"), 0);
    ck_assert_int_eq(n_evs, 3); /* web2's initial status */
    add_http("/x", ""); /* replaces "web", which starts afresh */
    wait_evs(5, 5000);
    ck_assert_str_eq(evs[3].id, "web");
    ck_assert_str_eq(evs[3].status, "critical");
    ck_assert_str_eq(evs[3].output, "");
    snprintf(want, sizeof(want),
             "HTTP GET http://127.0.0.1:%d/x: 500 Internal Server Error "
             "Output: boom",
             port);
    ck_assert_str_eq(evs[4].status, "critical");
    ck_assert_str_eq(evs[4].output, want);
}
END_TEST

START_TEST(http_refused)
{
    int p = dead_port();
    char js[256], want[256];

    snprintf(js, sizeof(js),
             "{\"http\":\"http://127.0.0.1:%d/h\",\"interval\":\"10s\"}", p);
    ck_assert_int_eq(add("web", js, true), 0);
    wait_evs(2, 5000);
    snprintf(want, sizeof(want),
             "Get \"http://127.0.0.1:%d/h\": dial tcp 127.0.0.1:%d: connect: "
             "connection refused",
             p, p);
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output, want);

    /* url.Error hides the password. */
    snprintf(js, sizeof(js),
             "{\"HTTP\":\"http://u:pw@127.0.0.1:%d/\",\"Interval\":\"9s\"}",
             p);
    ck_assert_int_eq(add("pw", js, false), 0);
    wait_evs(4, 5000);
    snprintf(want, sizeof(want),
             "Get \"http://u:***@127.0.0.1:%d/\": dial tcp 127.0.0.1:%d: "
             "connect: connection refused",
             p, p);
    ck_assert_str_eq(last()->output, want);
}
END_TEST

START_TEST(http_timeout)
{
    char want[256];
    uint64_t t0;

    smode = S_SILENT;
    add_http("/slow", ",\"Timeout\":\"200ms\"");
    t0 = uv_now(&loop);
    wait_evs(2, 5000);
    ck_assert_uint_ge(uv_now(&loop) - t0, 150);
    snprintf(want, sizeof(want),
             "Get \"http://127.0.0.1:%d/slow\": context deadline exceeded "
             "(Client.Timeout exceeded while awaiting headers)",
             port);
    ck_assert_str_eq(last()->output, want);
}
END_TEST

START_TEST(http_method_headers_body)
{
    add_http("/put", ",\"Method\":\"PUT\",\"Body\":\"hello\","
                     "\"Header\":{\"X-Token\":[\"a\",\"b\"],"
                     "\"User-Agent\":[\"\"],"
                     "\"Host\":[\"example.test\"]}");
    ck_assert_str_eq(first_result()->status, "passing");
    ck_assert_msg(strncmp(last_req, "PUT /put HTTP/1.1\r\n", 19) == 0, "%s",
                  last_req);
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nX-Token: a\r\n"));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nX-Token: b\r\n"));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nHost: example.test\r\n"));
    ck_assert_ptr_nonnull(
        strstr(last_req, "\r\nUser-Agent: Consul Health Check\r\n"));
    ck_assert_ptr_nonnull(
        strstr(last_req, "\r\nAccept: text/plain, text/*, */*\r\n"));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nConnection: close\r\n"));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nContent-Length: 5\r\n"));
    ck_assert_ptr_null(strcasestr(last_req, "Content-Type"));
    ck_assert_ptr_null(strcasestr(last_req, "Expect:"));
    ck_assert_str_eq(strstr(last_req, "\r\n\r\n") + 4, "hello");
    ck_assert_msg(strstr(last()->output, "HTTP PUT ") == last()->output,
                  "%s", last()->output);
}
END_TEST

START_TEST(http_redirects)
{
    char want[256];

    smode = S_REDIRECT;
    add_http("/start", ",\"Header\":{\"Authorization\":[\"Bearer t\"],"
                       "\"Host\":[\"h.test\"]}");
    snprintf(want, sizeof(want),
             "HTTP GET http://127.0.0.1:%d/start: 200 OK Output: final", port);
    ck_assert_str_eq(first_result()->output, want);
    ck_assert_int_eq(n_reqs, 2);
    /* Relative Location, same host: Host and credentials kept. */
    ck_assert_ptr_nonnull(strstr(last_req, "GET /final "));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nHost: h.test\r\n"));
    ck_assert_ptr_nonnull(strstr(last_req, "\r\nAuthorization: Bearer t"));
    ck_assert_int_eq(checks_remove(ck, "web"), 0);

    /* Absolute Location to another host: both dropped. */
    add_http("/abs", ",\"Header\":{\"Authorization\":[\"Bearer t\"],"
                     "\"Host\":[\"h.test\"]}");
    wait_evs(4, 5000);
    ck_assert_str_eq(last()->status, "passing");
    ck_assert_int_eq(n_reqs, 4);
    ck_assert_ptr_nonnull(strstr(last_req, "GET /final "));
    snprintf(want, sizeof(want), "\r\nHost: localhost:%d\r\n", port);
    ck_assert_ptr_nonnull(strstr(last_req, want));
    ck_assert_ptr_null(strstr(last_req, "Authorization"));
    ck_assert_int_eq(checks_remove(ck, "web"), 0);
    add_http("/start", ",\"DisableRedirects\":true");
    wait_evs(6, 5000);
    snprintf(want, sizeof(want),
             "HTTP GET http://127.0.0.1:%d/start: 302 Found Output: ", port);
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output, want);
}
END_TEST

START_TEST(http_body_last_4k_and_bad_scheme)
{
    const char *o, *body;

    smode = S_BIG;
    add_http("/big", "");
    o = first_result()->output;
    body = strstr(o, "Output: ") + 8;
    ck_assert_uint_eq(strlen(body), 4096);
    ck_assert_int_eq(body[4095], 'Z');
    ck_assert_int_eq(body[0], 'a' + (10000 - 4096) % 26);
    ck_assert_int_eq(add("ftp", "{\"HTTP\":\"ftp://x/\",\"Interval\":\"9s\"}",
                         false),
                     0);
    wait_evs(4, 5000);
    ck_assert_str_eq(last()->id, "ftp");
    ck_assert_str_eq(last()->output,
                     "Get \"ftp://x/\": unsupported protocol scheme \"ftp\"");
}
END_TEST

/* ---- TCP ---- */

START_TEST(tcp_ok_refused_bad)
{
    char js[256], want[256];
    int p = dead_port();

    snprintf(js, sizeof(js), "{\"TCP\":\"127.0.0.1:%d\",\"Interval\":\"5s\"}",
             port);
    ck_assert_int_eq(add("tcp", js, false), 0);
    wait_evs(2, 5000);
    snprintf(want, sizeof(want), "TCP connect 127.0.0.1:%d: Success", port);
    ck_assert_str_eq(last()->status, "passing");
    ck_assert_str_eq(last()->output, want);

    /* A name: every address tried in turn (::1 refused, then 127.0.0.1). */
    snprintf(js, sizeof(js), "{\"TCP\":\"localhost:%d\",\"Interval\":\"5s\"}",
             port);
    ck_assert_int_eq(add("name", js, false), 0);
    wait_evs(4, 5000);
    snprintf(want, sizeof(want), "TCP connect localhost:%d: Success", port);
    ck_assert_str_eq(last()->status, "passing");
    ck_assert_str_eq(last()->output, want);
    ck_assert_int_eq(checks_remove(ck, "name"), 0);
    n_evs -= 2;
    free(evs[n_evs].output);
    free(evs[n_evs + 1].output);

    snprintf(js, sizeof(js), "{\"TCP\":\"127.0.0.1:%d\",\"Interval\":\"5s\"}",
             p);
    ck_assert_int_eq(add("tcp", js, false), 0);
    wait_evs(4, 5000);
    snprintf(want, sizeof(want),
             "dial tcp 127.0.0.1:%d: connect: connection refused", p);
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output, want);

    ck_assert_int_eq(add("tcp", "{\"TCP\":\"nocolon\",\"Interval\":\"5s\"}",
                         false),
                     0);
    wait_evs(5, 5000);
    run_for(30);
    ck_assert_int_eq(n_evs, 6);
    ck_assert_str_eq(last()->output,
                     "dial tcp: address nocolon: missing port in address");
}
END_TEST

/* ---- scripts ---- */

static void add_sh(const char *id, const char *script, const char *extra)
{
    json_t *def = json_pack("{s:[s,s,s],s:s}", "Args", "/bin/sh", "-c",
                            script, "Interval", "10s");
    json_t *more = json_loads(extra, 0, NULL);

    ck_assert_ptr_nonnull(def);
    ck_assert_ptr_nonnull(more);
    json_object_update(def, more);
    ck_assert_int_eq(checks_add(ck, id, def, false, err), 0);
    json_decref(def);
    json_decref(more);
}

START_TEST(script_exit_codes)
{
    add_sh("s0", "echo out; echo err >&2; exit 0", "{}");
    ck_assert_str_eq(first_result()->status, "passing");
    ck_assert_str_eq(last()->output, "out\nerr\n");
    add_sh("s1", "echo warn; exit 1", "{}");
    wait_evs(4, 5000);
    ck_assert_str_eq(last()->status, "warning");
    ck_assert_str_eq(last()->output, "warn\n");
    add_sh("s2", "printf 'a\\377b'; exit 2", "{\"Status\":\"passing\"}");
    wait_evs(6, 5000);
    ck_assert_str_eq(evs[4].status, "passing"); /* initial from Status */
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output, "a\xEF\xBF\xBD" "b"); /* U+FFFD */
}
END_TEST

START_TEST(script_truncated)
{
    const char *o;

    add_sh("big", "i=0; while [ $i -lt 1000 ]; do echo 123456789; "
                  "i=$((i+1)); done; printf END",
           "{}");
    o = first_result()->output;
    ck_assert_msg(strncmp(o, "Captured 4096 of 10003 bytes\n...\n", 33) == 0,
                  "%.60s", o);
    ck_assert_uint_eq(strlen(o + 33), 4096);
    ck_assert_str_eq(o + strlen(o) - 4, "\nEND");
}
END_TEST

static bool gone(pid_t pid)
{
    char path[64], buf[256], *rp;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return true;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    rp = strrchr(buf, ')');
    return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

static pid_t bg_pid;
static bool bg_gone(void)
{
    return gone(bg_pid);
}

START_TEST(script_timeout_kills_group)
{
    char path[] = "/tmp/check_checks_XXXXXX", script[256];
    int fd = mkstemp(path);
    FILE *f;
    uint64_t t0;

    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(script, sizeof(script),
             "echo partial; sleep 30 & echo $! > %s; wait", path);
    add_sh("slow", script, "{\"Timeout\":\"300ms\"}");
    t0 = uv_now(&loop);
    wait_evs(2, 5000);
    ck_assert_uint_ge(uv_now(&loop) - t0, 250);
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output,
                     "Timed out (300ms) running check\n\npartial\n");
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%d", &bg_pid), 1);
    fclose(f);
    unlink(path);
    run_until(bg_gone, 3000); /* the background sleep died with sh */
}
END_TEST

START_TEST(script_not_found_and_disabled)
{
    ck_assert_int_eq(add("nf", "{\"Args\":[\"no-such-cmd-xyz\"],"
                               "\"Interval\":\"10s\"}",
                         false),
                     0);
    wait_evs(2, 5000);
    ck_assert_str_eq(last()->output, "exec: \"no-such-cmd-xyz\": executable "
                                     "file not found in $PATH");
    ck_assert_int_eq(add("nf2", "{\"Args\":[\"/no/such\"],"
                                "\"Interval\":\"10s\"}",
                         false),
                     0);
    wait_evs(4, 5000);
    ck_assert_str_eq(last()->output,
                     "fork/exec /no/such: no such file or directory");
    checks_close(ck, on_closed, NULL);
    run_until(is_closed, 5000);

    opts.enable_script_checks = false;
    closed = false;
    new_checks();
    ck_assert_int_eq(validate("{\"Args\":[\"true\"],\"Interval\":\"1s\"}",
                              false),
                     ERR_INVAL);
    ck_assert_str_eq(err, "Scripts are disabled on this agent from remote "
                          "calls; to enable, configure "
                          "'enable_script_checks' to true");
    ck_assert_int_eq(validate("{\"Args\":[\"true\"],\"Interval\":\"1s\"}",
                              true),
                     ERR_INVAL);
    ck_assert_str_eq(err, "Scripts are disabled on this agent; to enable, "
                          "configure 'enable_script_checks' or "
                          "'enable_local_script_checks' to true");
    ck_assert_int_eq(add("x", "{\"Args\":[\"true\"],\"Interval\":\"1s\"}",
                         true),
                     ERR_INVAL);
    checks_close(ck, on_closed, NULL);
    run_until(is_closed, 5000);

    opts.enable_local_script_checks = true;
    closed = false;
    new_checks();
    ck_assert_int_eq(validate("{\"script_args\":[\"true\"],"
                              "\"interval\":\"1s\"}",
                              true),
                     0);
    ck_assert_int_eq(validate("{\"ScriptArgs\":[\"true\"],"
                              "\"Interval\":\"1s\"}",
                              false),
                     ERR_INVAL);
    ck_assert_int_eq(n_evs, 4);
}
END_TEST

/* ---- TTL ---- */

START_TEST(ttl_update_then_expiry)
{
    char big[5000];

    ck_assert_int_eq(add("ttl", "{\"TTL\":\"150ms\"}", false), 0);
    ck_assert_int_eq(n_evs, 1);
    ck_assert_int_eq(checks_ttl_update(ck, "ttl", "passing", "ok", err), 0);
    ck_assert_int_eq(n_evs, 2);
    ck_assert_str_eq(last()->status, "passing");
    ck_assert_str_eq(last()->output, "ok");
    ck_assert_int_eq(checks_ttl_update(ck, "ttl", "passing", "ok", err), 0);
    ck_assert_int_eq(n_evs, 2); /* unchanged: no callback */
    wait_evs(3, 2000);
    ck_assert_str_eq(last()->status, "critical");
    ck_assert_str_eq(last()->output,
                     "TTL expired (last output before timeout follows): ok");

    ck_assert_int_eq(add("t2", "{\"TTL\":\"50ms\",\"Status\":\"warning\"}",
                         false),
                     0);
    ck_assert_str_eq(last()->status, "warning");
    wait_evs(5, 2000);
    ck_assert_str_eq(last()->output, "TTL expired");

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(checks_ttl_update(ck, "t2", "warning", big, err), 0);
    ck_assert_uint_eq(strlen(last()->output),
                      4096 + strlen(" ... (captured 4096 of 4999 bytes)"));
    ck_assert_str_eq(last()->output + 4096,
                     " ... (captured 4096 of 4999 bytes)");

    ck_assert_int_eq(checks_ttl_update(ck, "nope", "passing", "", err),
                     ERR_NOTFOUND);
    ck_assert_str_eq(err, "CheckID \"nope\" does not have associated TTL");
    add_http("/", "");
    ck_assert_int_eq(checks_ttl_update(ck, "web", "passing", "", err),
                     ERR_INVAL);
    ck_assert_str_eq(err, "CheckID \"web\" does not have associated TTL");
    ck_assert_int_eq(checks_ttl_update(ck, "ttl", "ok", "", err), ERR_INVAL);
    ck_assert_str_eq(err, "Invalid check status: 'ok'");
    ck_assert_int_eq(checks_remove(ck, "nope"), ERR_NOTFOUND);
}
END_TEST

/* ---- validation ---- */

START_TEST(validation_messages)
{
    static const struct {
        const char *js;
        int rc;
        const char *msg;
    } cases[] = {
        {"{\"HTTP\":\"http://x/\"}", ERR_INVAL,
         "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or "
         "OSService checks"},
        {"{\"TCP\":\"x:1\",\"Interval\":\"-1s\"}", ERR_INVAL,
         "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or "
         "OSService checks"},
        {"{}", ERR_INVAL, "TTL must be > 0 for TTL checks"},
        {"{\"Name\":\"x\",\"Interval\":\"10s\"}", ERR_INVAL,
         "TTL must be > 0 for TTL checks"},
        {"{\"TTL\":\"10s\",\"Interval\":\"10s\"}", ERR_INVAL,
         "Interval and TTL cannot both be specified"},
        {"{\"TTL\":\"1s\",\"Status\":\"ok\"}", ERR_INVAL, "Bad check status"},
        {"{\"TTL\":\"1s\",\"FailuresBeforeWarning\":3,"
         "\"FailuresBeforeCritical\":2}",
         ERR_INVAL,
         "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"},
        {"{\"TTL\":\"1s\",\"OutputMaxSize\":-1}", ERR_INVAL,
         "MaxOutputMaxSize must be positive"},
        {"{\"TTL\":\"ten\"}", ERR_INVAL, "time: invalid duration \"ten\""},
        {"{\"TTL\":\"10\"}", ERR_INVAL,
         "time: missing unit in duration \"10\""},
        {"{\"TTL\":true}", ERR_INVAL,
         "json: cannot unmarshal bool into Go struct field "
         "CheckDefinition.TTL of type time.Duration"},
        {"{\"HTTP\":5,\"Interval\":\"1s\"}", ERR_INVAL,
         "json: cannot unmarshal number into Go struct field "
         "CheckDefinition.HTTP of type string"},
        {"{\"GRPC\":\"x:1\",\"Interval\":\"1s\"}", ERR_UNSUPPORTED,
         "GRPC checks are not supported by this agent"},
        {"{\"AliasService\":\"web\"}", ERR_UNSUPPORTED,
         "Alias checks are not supported by this agent"},
        {"{\"AliasService\":\"web\",\"TTL\":\"1s\"}", ERR_INVAL,
         "TTL must be not be set for Alias checks"},
        {"[1]", ERR_INVAL, "check definition must be an object"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        ck_assert_int_eq(validate(cases[i].js, false), cases[i].rc);
        ck_assert_str_eq(err, cases[i].msg);
    }
    /* Accepted: snake_case, numbers as ns (API) or s (config). */
    ck_assert_int_eq(validate("{\"tcp\":\"x:1\",\"interval\":1000000000}",
                              false),
                     0);
    ck_assert_int_eq(validate("{\"ttl\":5,\"tls_skip_verify\":true}", true),
                     0);
    ck_assert_int_eq(validate("{\"HTTP\":\"http://x/\",\"Interval\":\"1s\","
                              "\"Header\":{\"A\":[\"b\"]},"
                              "\"SuccessBeforePassing\":2}",
                              false),
                     0);
    ck_assert_int_eq(add("", "{\"TTL\":\"1s\"}", false), ERR_INVAL);
    ck_assert_str_eq(err, "CheckID missing");
    ck_assert_int_eq(n_evs, 0);
}
END_TEST

/* ---- thresholds ---- */

/* A script whose nth run (n from 1) prints n and exits with codes[n-1]. */
static char counter[64];

static void add_seq(const char *codes, const char *extra)
{
    char path[] = "/tmp/check_checks_XXXXXX", script[512];
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(counter, sizeof(counter), "%s", path);
    snprintf(script, sizeof(script),
             "n=$(($(cat %s 2>/dev/null || echo 0) + 1)); echo $n > %s; "
             "printf $n; set -- %s; shift $((n-1)); exit ${1:-2}",
             path, path, codes);
    add_sh("seq", script, extra);
}

START_TEST(success_before_passing_failures_before_critical)
{
    add_seq("2 0 0 2 2",
            "{\"Interval\":\"20ms\",\"SuccessBeforePassing\":2,"
            "\"FailuresBeforeCritical\":2}");
    wait_evs(4, 5000);
    unlink(counter);
    ck_assert_str_eq(evs[1].status, "critical"); /* run 1: counts at once */
    ck_assert_str_eq(evs[1].output, "1");
    ck_assert_str_eq(evs[2].status, "passing"); /* run 3: 2nd success */
    ck_assert_str_eq(evs[2].output, "3");
    ck_assert_str_eq(evs[3].status, "critical"); /* run 5: 2nd failure */
    ck_assert_str_eq(evs[3].output, "5");
}
END_TEST

START_TEST(failures_before_warning)
{
    add_seq("0 2 2 2",
            "{\"Interval\":\"20ms\",\"FailuresBeforeWarning\":1,"
            "\"FailuresBeforeCritical\":3}");
    wait_evs(5, 5000);
    unlink(counter);
    ck_assert_str_eq(evs[1].status, "passing");
    ck_assert_str_eq(evs[2].status, "warning");
    ck_assert_str_eq(evs[2].output, "2");
    ck_assert_str_eq(evs[3].status, "warning");
    ck_assert_str_eq(evs[3].output, "3");
    ck_assert_str_eq(evs[4].status, "critical");
    ck_assert_str_eq(evs[4].output, "4");
}
END_TEST

/* ---- remove / close while running ---- */

static bool got_req(void)
{
    return n_reqs > 0;
}

/* A shell whose background sleep's pid lands in a file. */
static void add_sleeper(const char *id, char *path)
{
    char script[256];
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(script, sizeof(script), "sleep 10 & echo $! > %s; wait", path);
    add_sh(id, script, "{\"Timeout\":\"20s\"}");
}

static char sleeper_path[64];
static bool sleeper_started(void)
{
    FILE *f = fopen(sleeper_path, "r");
    int n = 0;

    if (f != NULL) {
        n = fscanf(f, "%d", &bg_pid);
        fclose(f);
    }
    return n == 1;
}

START_TEST(remove_while_running)
{
    uint64_t t0;

    snprintf(sleeper_path, sizeof(sleeper_path), "/tmp/check_checks_XXXXXX");
    add_sleeper("sleepy", sleeper_path);
    smode = S_SILENT;
    add_http("/hang", "");
    run_until(got_req, 3000);
    run_until(sleeper_started, 3000);
    unlink(sleeper_path);
    ck_assert_int_eq(checks_remove(ck, "sleepy"), 0);
    ck_assert_int_eq(checks_remove(ck, "web"), 0);
    ck_assert_int_eq(checks_remove(ck, "web"), ERR_NOTFOUND);
    run_until(bg_gone, 3000); /* the group was killed */
    run_for(50);
    ck_assert_int_eq(n_evs, 2); /* initial statuses only */
    t0 = uv_now(&loop);
    checks_close(ck, on_closed, NULL);
    run_until(is_closed, 3000);
    ck_assert_uint_lt(uv_now(&loop) - t0, 1000);
}
END_TEST

START_TEST(close_with_script_and_http_in_flight)
{
    uint64_t t0;

    snprintf(sleeper_path, sizeof(sleeper_path), "/tmp/check_checks_XXXXXX");
    add_sleeper("sleepy", sleeper_path);
    smode = S_SILENT;
    add_http("/hang", "");
    run_until(got_req, 3000);
    run_until(sleeper_started, 3000);
    unlink(sleeper_path);
    ck_assert_int_eq(n_evs, 2); /* initial statuses only */
    t0 = uv_now(&loop);
    checks_close(ck, on_closed, NULL);
    ck_assert(!closed); /* never from inside checks_close */
    run_until(is_closed, 3000);
    ck_assert_uint_lt(uv_now(&loop) - t0, 2000);
    ck_assert_int_eq(n_evs, 2);
    run_until(bg_gone, 3000);
}
END_TEST

START_TEST(remove_from_update_callback)
{
    on_pass = A_REMOVE; /* on_update removes the check once passing */
    add_http("/", ",\"Interval\":\"30ms\"");
    wait_evs(2, 5000);
    run_for(150);
    ck_assert_int_eq(n_evs, 2);
    ck_assert_int_eq(n_reqs, 1);
    ck_assert_int_eq(checks_remove(ck, "web"), ERR_NOTFOUND);
}
END_TEST

START_TEST(close_from_update_callback)
{
    snprintf(sleeper_path, sizeof(sleeper_path), "/tmp/check_checks_XXXXXX");
    add_sleeper("sleepy", sleeper_path);
    run_until(sleeper_started, 3000);
    unlink(sleeper_path);
    on_pass = A_CLOSE; /* on_update closes everything once passing */
    add_http("/", "");
    run_until(is_closed, 3000);
    ck_assert_int_eq(n_evs, 3);
    ck_assert_str_eq(last()->status, "passing");
    run_until(bg_gone, 3000);
}
END_TEST

static bool two_reqs(void)
{
    return n_reqs >= 2;
}

START_TEST(interval_floor_and_stagger)
{
    uint64_t t0 = uv_now(&loop);

    checks_set_timing(ck, 400, true); /* floor 400 ms, random first run */
    add_http("/", ",\"Interval\":\"10ms\"");
    run_until(two_reqs, 3000);
    ck_assert_uint_lt(req_at[0] - t0, 400 + 300); /* slack for slow CI */
    ck_assert_uint_ge(req_at[1] - req_at[0], 390);
    ck_assert_int_eq(n_evs, 2); /* same result twice: one update */
}
END_TEST

static Suite *checks_suite(void)
{
    Suite *s = suite_create("checks");
    TCase *tc = tcase_create("checks");

    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, http_200_passing);
    tcase_add_test(tc, http_429_warning_500_critical);
    tcase_add_test(tc, http_refused);
    tcase_add_test(tc, http_timeout);
    tcase_add_test(tc, http_method_headers_body);
    tcase_add_test(tc, http_redirects);
    tcase_add_test(tc, http_body_last_4k_and_bad_scheme);
    tcase_add_test(tc, tcp_ok_refused_bad);
    tcase_add_test(tc, script_exit_codes);
    tcase_add_test(tc, script_truncated);
    tcase_add_test(tc, script_timeout_kills_group);
    tcase_add_test(tc, script_not_found_and_disabled);
    tcase_add_test(tc, ttl_update_then_expiry);
    tcase_add_test(tc, validation_messages);
    tcase_add_test(tc, success_before_passing_failures_before_critical);
    tcase_add_test(tc, failures_before_warning);
    tcase_add_test(tc, remove_while_running);
    tcase_add_test(tc, close_with_script_and_http_in_flight);
    tcase_add_test(tc, remove_from_update_callback);
    tcase_add_test(tc, close_from_update_callback);
    tcase_add_test(tc, interval_floor_and_stagger);
    suite_add_tcase(s, tc);
    return s;
}

Suite *unit_suite(void)
{
    return checks_suite();
}

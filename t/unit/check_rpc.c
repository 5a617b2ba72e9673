/* check_rpc.c - unit tests for the RPC port (libcore/rpc*.c).
 *
 * Covers first-byte classification (HTTP handed over untouched, garbage
 * and EOF dropped and counted, close while classifying), the Raft
 * handshake (id, address and the following bytes intact, even when they
 * arrive in one segment; bad handshakes; no listen()), the transport's
 * connect (success, refused port, cancelled by close), and the HTTP
 * client: Content-Length, chunked, until-close, 1xx and HEAD framing,
 * keep-alive reuse, a pooled connection closed by the server (noticed
 * while idle, and the retry when it is not), no retry on a new
 * connection, timeout, cancel, close with a pending call, too-big and
 * malformed responses, bad arguments.
 * Uses 127.0.0.1 with ephemeral ports (port 0) and uv timers, no sleeps;
 * every test closes all handles and ends with uv_loop_close() == 0.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "rpc.h"
#include "unit.h"

static uv_loop_t loop;
static struct rpc_server *srv;
static struct rpc_client *cli;
static char addr[64];
static char err[ERR_LEN];
static uv_timer_t guard;
static bool timed_out;

/* ---- loop helpers ---- */

/* Set a flag run_until() waits for; uv_stop() so that a flag set from a
 * timer callback is seen before the loop blocks in poll again. */
static void set_flag(bool *f)
{
    *f = true;
    uv_stop(&loop);
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
    set_flag(&timed_out);
}

/* Run the loop until *flag is set (3 s at most). */
static void run_until(const bool *flag)
{
    timed_out = false;
    uv_timer_start(&guard, on_guard, 3000, 0);
    while (!*flag && !timed_out)
        uv_run(&loop, UV_RUN_ONCE);
    uv_timer_stop(&guard);
    ck_assert_msg(!timed_out, "timed out waiting");
}

/* Close a handle that lives on the caller's stack, and wait for it. */
static bool local_closed;
static void on_local_closed(uv_handle_t *h)
{
    (void)h;
    set_flag(&local_closed);
}

static void close_local(uv_timer_t *t)
{
    local_closed = false;
    uv_close((uv_handle_t *)t, on_local_closed);
    run_until(&local_closed);
}

static bool server_closed, client_closed;

static void on_server_closed(void *ctx)
{
    (void)ctx;
    set_flag(&server_closed);
}

static void on_client_closed(void *ctx)
{
    (void)ctx;
    set_flag(&client_closed);
}

/* ---- test HTTP responder, served on the handed-over connections ---- */

enum mode {
    M_CL, M_CHUNKED, M_SLOW_CHUNKED, M_UNTIL_CLOSE, M_CONTINUE, M_ECHO,
    M_CLOSE_AFTER, M_SILENT, M_DROP, M_TOOBIG, M_GARBAGE, M_HEAD,
    M_CONN_CLOSE,
};

#define MAX_HC 16
struct hconn {
    uv_tcp_t *tcp;
    uv_timer_t drip; /* M_SLOW_CHUNKED */
    int slot, step;
    size_t len;
    char buf[8192];
};

static enum mode mode;
static struct hconn *hcs[MAX_HC];
static int n_http, n_req, n_eof;
static char first_req[4096];
static void (*on_request_hook)(void);

static void hc_tcp_closed(uv_handle_t *h)
{
    free(h); /* rpc.h: the conn is malloc'd, freed by its close cb */
}

static void hc_drip_closed(uv_handle_t *h)
{
    struct hconn *hc = h->data;

    hcs[hc->slot] = NULL;
    free(hc);
}

static void hc_close(struct hconn *hc)
{
    if (uv_is_closing((uv_handle_t *)hc->tcp))
        return;
    uv_close((uv_handle_t *)hc->tcp, hc_tcp_closed);
    uv_close((uv_handle_t *)&hc->drip, hc_drip_closed);
}

struct hwrite {
    uv_write_t w;
    struct hconn *hc;
    bool close_after;
    char data[];
};

static void hc_written(uv_write_t *w, int status)
{
    struct hwrite *hw = (struct hwrite *)w;

    if (status == 0 && hw->close_after)
        hc_close(hw->hc);
    free(hw);
}

static void hc_send(struct hconn *hc, const char *s, size_t n, bool close)
{
    struct hwrite *hw = malloc(sizeof(*hw) + n);
    uv_buf_t b;

    ck_assert_ptr_nonnull(hw);
    memcpy(hw->data, s, n);
    hw->hc = hc;
    hw->close_after = close;
    b = uv_buf_init(hw->data, (unsigned)n);
    ck_assert_int_eq(uv_write(&hw->w, (uv_stream_t *)hc->tcp, &b, 1,
                              hc_written), 0);
}

static void hc_puts(struct hconn *hc, const char *s, bool close)
{
    hc_send(hc, s, strlen(s), close);
}

static const char *const drips[] = {
    "HTTP/1.1 200 OK\r\nTransfer-", "Encoding: chunked\r\n\r\n",
    "3\r\nabc\r", "\n1", "0\r\n0123456789ABCDEF\r\n0\r\n", "\r\n",
};

static void on_drip(uv_timer_t *t)
{
    struct hconn *hc = t->data;

    hc_puts(hc, drips[hc->step++], false);
    if (hc->step < (int)(sizeof(drips) / sizeof(drips[0])))
        uv_timer_start(&hc->drip, on_drip, 2, 0);
}

static void respond(struct hconn *hc, const char *body, size_t blen)
{
    char out[512];
    size_t n;

    switch (mode) {
    case M_CL:
        hc_puts(hc, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                    "X-Test:  yes \r\n\r\nhello", false);
        break;
    case M_CHUNKED:
        hc_puts(hc, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                    "\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n"
                    "X-Trailer: t\r\n\r\n", false);
        break;
    case M_SLOW_CHUNKED:
        uv_timer_start(&hc->drip, on_drip, 2, 0);
        break;
    case M_UNTIL_CLOSE:
        hc_puts(hc, "HTTP/1.0 200 OK\r\n\r\nuntil close", true);
        break;
    case M_CONTINUE:
        hc_puts(hc, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing"
                    "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                false);
        break;
    case M_ECHO:
        n = (size_t)snprintf(out, sizeof(out),
                             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
                             blen);
        ck_assert_uint_lt(n + blen, sizeof(out));
        memcpy(out + n, body, blen);
        hc_send(hc, out, n + blen, false);
        break;
    case M_CLOSE_AFTER:
        hc_puts(hc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true);
        break;
    case M_DROP:
        hc_close(hc);
        break;
    case M_TOOBIG:
        hc_puts(hc, "HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n",
                false);
        break;
    case M_GARBAGE:
        hc_puts(hc, "SSH-2.0-OpenSSH\r\n\r\n", false);
        break;
    case M_HEAD:
        hc_puts(hc, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
                false);
        break;
    case M_CONN_CLOSE:
        hc_puts(hc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\nok", false);
        break;
    case M_SILENT:
    default:
        break;
    }
}

/* Serve every complete request in hc->buf. */
static void hc_serve(struct hconn *hc)
{
    for (;;) {
        char *end = memmem(hc->buf, hc->len, "\r\n\r\n", 4);
        char *cl;
        size_t hl, blen = 0, total;

        if (end == NULL)
            return;
        hl = (size_t)(end + 4 - hc->buf);
        cl = memmem(hc->buf, hl, "Content-Length: ", 16);
        if (cl != NULL)
            blen = strtoul(cl + 16, NULL, 10);
        total = hl + blen;
        if (hc->len < total)
            return;
        if (n_req++ == 0)
            snprintf(first_req, sizeof(first_req), "%.*s", (int)total,
                     hc->buf);
        respond(hc, hc->buf + hl, blen);
        if (on_request_hook != NULL)
            on_request_hook();
        if (uv_is_closing((uv_handle_t *)hc->tcp))
            return;
        memmove(hc->buf, hc->buf + total, hc->len - total);
        hc->len -= total;
    }
}

static void hc_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct hconn *hc = h->data;

    (void)sugg;
    b->base = hc->buf + hc->len;
    b->len = sizeof(hc->buf) - hc->len;
}

static void hc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct hconn *hc = st->data;

    (void)b;
    if (n < 0) {
        n_eof++;
        hc_close(hc);
        return;
    }
    hc->len += (size_t)n;
    hc_serve(hc);
}

static void on_http(void *ctx, uv_tcp_t *conn)
{
    struct hconn *hc = calloc(1, sizeof(*hc));
    int i;

    (void)ctx;
    ck_assert_ptr_nonnull(hc);
    for (i = 0; i < MAX_HC && hcs[i] != NULL; i++)
        ;
    ck_assert_int_lt(i, MAX_HC);
    hcs[i] = hc;
    hc->slot = i;
    hc->tcp = conn;
    conn->data = hc;
    uv_timer_init(&loop, &hc->drip);
    hc->drip.data = hc;
    n_http++;
    ck_assert_int_eq(uv_read_start((uv_stream_t *)conn, hc_alloc, hc_read),
                     0);
}

/* ---- fixture ---- */

static void setup(void)
{
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    srv = rpc_server_new(&loop, err);
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(rpc_server_listen(srv, "127.0.0.1", 0, err), 0);
    ck_assert_int_gt(rpc_server_port(srv), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", rpc_server_port(srv));
    rpc_server_set_http(srv, on_http, NULL);
    cli = rpc_client_new(&loop, err);
    ck_assert_ptr_nonnull(cli);
    mode = M_CL;
    on_request_hook = NULL;
    n_http = n_req = n_eof = 0;
    memset(hcs, 0, sizeof(hcs));
    server_closed = client_closed = false;
}

/* Close whatever the test left open; the loop must then be empty. */
static void finish(void)
{
    if (cli != NULL && !client_closed)
        rpc_client_close(cli, on_client_closed, NULL);
    if (srv != NULL && !server_closed)
        rpc_server_close(srv, on_server_closed, NULL);
    for (int i = 0; i < MAX_HC; i++)
        if (hcs[i] != NULL)
            hc_close(hcs[i]);
    uv_close((uv_handle_t *)&guard, NULL);
    while (uv_run(&loop, UV_RUN_DEFAULT) != 0)
        ;
    ck_assert(server_closed);
    ck_assert(client_closed);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static struct rpc_server_stats stats(void)
{
    struct rpc_server_stats st;

    rpc_server_stats(srv, &st);
    return st;
}

/* ---- call results ---- */

struct res {
    bool done;
    int rc, status;
    size_t body_len, n_headers;
    char body[256], x_test[64], err[ERR_LEN];
};

static void on_resp(void *ctx, int rc, const struct rpc_response *resp,
                    const char *e)
{
    struct res *r = ctx;

    ck_assert(!r->done);
    set_flag(&r->done);
    r->rc = rc;
    if (rc != 0) {
        ck_assert_ptr_null(resp);
        ck_assert_ptr_nonnull(e);
        snprintf(r->err, sizeof(r->err), "%s", e);
        return;
    }
    r->status = resp->status;
    r->body_len = resp->body_len;
    r->n_headers = resp->n_headers;
    ck_assert_int_eq(resp->body[resp->body_len], '\0');
    snprintf(r->body, sizeof(r->body), "%s", resp->body);
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, "X-Test") == 0)
            snprintf(r->x_test, sizeof(r->x_test), "%s",
                     resp->headers[i].value);
}

static struct res r1, r2;

static void call(struct res *r, const char *method, uint64_t timeout_ms,
                 struct rpc_call **c)
{
    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(rpc_http_call(cli, addr, method, "/v1/kv/a?stale", NULL,
                                   0, NULL, 0, timeout_ms, on_resp, r, c,
                                   err),
                     0);
}

/* rpc_http_call with what the tests vary (no timeout); r is reset. */
static int req(struct res *r, const char *a, const char *method,
               const char *target, const struct rpc_header *h, size_t nh,
               const char *body, size_t len, rpc_http_cb cb)
{
    memset(r, 0, sizeof(*r));
    return rpc_http_call(cli, a, method, target, h, nh, body, len, 0, cb, r,
                         NULL, err);
}

/* One call in the current mode. */
static void one_call(const char *method)
{
    call(&r1, method, 0, NULL);
    run_until(&r1.done);
}

/* ---- HTTP classification and client framing ---- */

START_TEST(http_handed_over_untouched)
{
    struct rpc_header h[] = { { "X-Consul-Token", "abc" } };
    struct rpc_server_stats st;
    char want[512];

    ck_assert_int_eq(
        req(&r1, addr, "GET", "/v1/kv/a?stale", h, 1, NULL, 0, on_resp), 0);
    run_until(&r1.done);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_str_eq(r1.body, "hello");
    ck_assert_uint_eq(r1.body_len, 5);
    ck_assert_str_eq(r1.x_test, "yes");
    ck_assert_uint_eq(r1.n_headers, 2);
    snprintf(want, sizeof(want),
             "GET /v1/kv/a?stale HTTP/1.1\r\nHost: %s\r\n"
             "X-Consul-Token: abc\r\nContent-Length: 0\r\n"
             "Connection: keep-alive\r\n\r\n",
             addr);
    ck_assert_str_eq(first_req, want);
    st = stats();
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.http, 1);
    ck_assert_uint_eq(st.raft + st.dropped, 0);
    finish();
}
END_TEST

START_TEST(post_body_echoed)
{
    mode = M_ECHO;
    ck_assert_int_eq(
        req(&r1, addr, "PUT", "/v1/kv/k", NULL, 0, "value\0x", 7, on_resp), 0);
    run_until(&r1.done);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_uint_eq(r1.body_len, 7);
    ck_assert_str_eq(r1.body, "value");
    ck_assert_ptr_nonnull(strstr(first_req, "Content-Length: 7\r\n"));
    finish();
}
END_TEST

START_TEST(chunked_response)
{
    mode = M_CHUNKED;
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r1.status, 201);
    ck_assert_str_eq(r1.body, "hello world");
    ck_assert_uint_eq(r1.body_len, 11);
    /* trailer consumed: the connection is reused */
    one_call("GET");
    ck_assert_str_eq(r1.body, "hello world");
    ck_assert_int_eq(n_http, 1);
    finish();
}
END_TEST

START_TEST(chunked_response_in_pieces)
{
    mode = M_SLOW_CHUNKED;
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_str_eq(r1.body, "abc0123456789ABCDEF");
    finish();
}
END_TEST

START_TEST(until_close_response)
{
    mode = M_UNTIL_CLOSE;
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_str_eq(r1.body, "until close");
    one_call("GET"); /* not reusable: a second connection */
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(n_http, 2);
    finish();
}
END_TEST

START_TEST(informational_skipped_head_has_no_body)
{
    mode = M_CONTINUE;
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r1.status, 200);
    ck_assert_str_eq(r1.body, "ok");
    mode = M_HEAD;
    one_call("HEAD");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_uint_eq(r1.body_len, 0);
    one_call("HEAD"); /* and the connection stays usable */
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(n_http, 1);
    finish();
}
END_TEST

START_TEST(connection_close_not_reused)
{
    mode = M_CONN_CLOSE;
    one_call("GET");
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(n_http, 2);
    finish();
}
END_TEST

/* ---- keep-alive and the pool ---- */

static void second_call_from_cb(void *ctx, int rc,
                                const struct rpc_response *resp,
                                const char *e)
{
    on_resp(ctx, rc, resp, e);
    call(&r2, "GET", 0, NULL);
}

START_TEST(keepalive_reuses_connection)
{
    ck_assert_int_eq(
        req(&r1, addr, "GET", "/", NULL, 0, NULL, 0, second_call_from_cb), 0);
    run_until(&r2.done);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r2.rc, 0);
    ck_assert_str_eq(r2.body, "hello");
    ck_assert_int_eq(n_http, 1);
    ck_assert_int_eq(n_req, 2);
    ck_assert_uint_eq(stats().accepted, 1);
    finish();
}
END_TEST

static bool tick;
static void on_tick(uv_timer_t *t)
{
    (void)t;
    set_flag(&tick);
}

static void wait_ms(uint64_t ms)
{
    uv_timer_t t;

    tick = false;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_tick, ms, 0);
    run_until(&tick);
    close_local(&t);
}

/* Counts the client's "retrying" debug lines. */
static int n_retries;
static void count_retries(void *ctx, enum log_level lvl, const char *line)
{
    (void)ctx;
    (void)lvl;
    if (strstr(line, "retrying") != NULL)
        n_retries++;
}

START_TEST(idle_connection_closed_by_server)
{
    n_retries = 0;
    log_set_sink(count_retries, NULL);
    mode = M_CLOSE_AFTER; /* keep-alive response, then the server closes */
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    wait_ms(50); /* the client sees the close while the conn is idle */
    one_call("GET");
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_str_eq(r1.body, "ok");
    ck_assert_int_eq(n_http, 2);
    ck_assert_int_eq(n_retries, 0);
    finish();
}
END_TEST

START_TEST(stale_pooled_connection_retried)
{
    n_retries = 0;
    log_set_sink(count_retries, NULL);
    mode = M_CLOSE_AFTER;
    memset(&r1, 0, sizeof(r1));
    /* the second call goes out on the pooled connection before the
     * client has seen the server's close: it fails before any byte of
     * response and is retried on a new connection */
    ck_assert_int_eq(rpc_http_call(cli, addr, "GET", "/", NULL, 0, NULL, 0,
                                   0, second_call_from_cb, &r1, NULL, err),
                     0);
    run_until(&r2.done);
    ck_assert_int_eq(r1.rc, 0);
    ck_assert_int_eq(r2.rc, 0);
    ck_assert_str_eq(r2.body, "ok");
    ck_assert_int_eq(n_http, 2);
    ck_assert_int_eq(n_retries, 1);
    finish();
}
END_TEST

START_TEST(no_retry_on_new_connection)
{
    mode = M_DROP;
    one_call("GET");
    ck_assert_int_eq(r1.rc, ERR_IO);
    wait_ms(20);
    ck_assert_int_eq(n_http, 1);
    finish();
}
END_TEST

/* ---- failures ---- */

static uv_tcp_t closed_port; /* bound, never listening: connects refused */

static void refused_addr(char *out, size_t n)
{
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    uv_tcp_init(&loop, &closed_port);
    uv_ip4_addr("127.0.0.1", 0, &sin);
    ck_assert_int_eq(uv_tcp_bind(&closed_port, (struct sockaddr *)&sin, 0),
                     0);
    ck_assert_int_eq(uv_tcp_getsockname(&closed_port, (struct sockaddr *)&ss,
                                        &len),
                     0);
    snprintf(out, n, "127.0.0.1:%d",
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

START_TEST(unreachable)
{
    char a[64];

    refused_addr(a, sizeof(a));
    ck_assert_int_eq(req(&r1, a, "GET", "/", NULL, 0, NULL, 0, on_resp), 0);
    run_until(&r1.done);
    ck_assert_int_eq(r1.rc, ERR_UNREACHABLE);
    ck_assert_ptr_nonnull(strstr(r1.err, a));
    uv_close((uv_handle_t *)&closed_port, NULL);
    finish();
}
END_TEST

START_TEST(call_timeout)
{
    mode = M_SILENT;
    call(&r1, "GET", 50, NULL);
    run_until(&r1.done);
    ck_assert_int_eq(r1.rc, ERR_TIMEOUT);
    finish();
}
END_TEST

static struct rpc_call *pending;
static void cancel_hook(void)
{
    rpc_call_cancel(pending);
    pending = NULL;
}

static bool eof_seen;
static void on_eof_check(uv_timer_t *t)
{
    if (n_eof > 0)
        set_flag(&eof_seen);
    else
        uv_timer_start(t, on_eof_check, 2, 0);
}

START_TEST(cancel_closes_connection)
{
    uv_timer_t t;

    mode = M_SILENT;
    on_request_hook = cancel_hook;
    call(&r1, "GET", 0, &pending);
    /* the server sees the connection close; the callback never runs */
    eof_seen = false;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_eof_check, 2, 0);
    run_until(&eof_seen);
    close_local(&t);
    ck_assert(!r1.done);
    ck_assert_ptr_null(pending);
    finish();
    ck_assert(!r1.done);
}
END_TEST

static void close_client_hook(void)
{
    rpc_client_close(cli, on_client_closed, NULL);
    ck_assert(r1.done); /* ERR_SHUTDOWN delivered from inside close */
    ck_assert(!client_closed);
}

START_TEST(close_with_pending_call)
{
    mode = M_SILENT;
    on_request_hook = close_client_hook;
    call(&r1, "GET", 0, NULL);
    run_until(&client_closed);
    ck_assert_int_eq(r1.rc, ERR_SHUTDOWN);
    /* a fresh client closed by finish() with a call still connecting */
    cli = rpc_client_new(&loop, err);
    client_closed = false;
    call(&r2, "GET", 0, NULL);
    finish();
    ck_assert_int_eq(r2.rc, ERR_SHUTDOWN);
}
END_TEST

START_TEST(too_big_and_malformed)
{
    mode = M_TOOBIG;
    one_call("GET");
    ck_assert_int_eq(r1.rc, ERR_TOOBIG);
    mode = M_GARBAGE;
    one_call("GET");
    ck_assert_int_eq(r1.rc, ERR_PARSE);
    finish();
}
END_TEST

START_TEST(bad_arguments)
{
    static const struct rpc_header host[] = { { "Host", "x" } };
    static const struct rpc_header crlf[] = { { "X-A", "a\r\nB: c" } };
    static const struct {
        const char *addr, *method, *target;
        const struct rpc_header *h;
    } bad[] = {
        { "localhost:80", "GET", "/", NULL }, { "[::1]:0", "GET", "/", NULL },
        { NULL, "G T", "/", NULL },          { NULL, "GET", "/a b", NULL },
        { NULL, "GET", "/", host },          { NULL, "GET", "/", crlf },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(req(&r1, bad[i].addr ? bad[i].addr : addr,
                             bad[i].method, bad[i].target, bad[i].h,
                             bad[i].h != NULL, NULL, 0, on_resp),
                         ERR_INVAL);
    finish();
}
END_TEST

/* ---- raw connections: garbage, EOF, raft handshakes ---- */

struct raw {
    uv_tcp_t tcp;
    uv_connect_t c;
    uv_write_t w;
    const char *data;
    size_t len;
    bool hold; /* send nothing, keep the connection open */
    bool eof;
};

static void raw_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    static char sink[256];

    (void)h;
    (void)sugg;
    b->base = sink;
    b->len = sizeof(sink);
}

static void raw_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct raw *r = st->data;

    (void)b;
    if (n < 0) {
        set_flag(&r->eof);
        uv_close((uv_handle_t *)&r->tcp, NULL);
    }
}

static void raw_connected(uv_connect_t *c, int status)
{
    struct raw *r = c->data;
    uv_buf_t b = uv_buf_init((char *)r->data, (unsigned)r->len);

    ck_assert_int_eq(status, 0);
    if (r->hold) {
        uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
        return;
    }
    if (r->len == 0) { /* connect and close at once */
        set_flag(&r->eof);
        uv_close((uv_handle_t *)&r->tcp, NULL);
        return;
    }
    ck_assert_int_eq(uv_write(&r->w, (uv_stream_t *)&r->tcp, &b, 1, NULL),
                     0);
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_start(struct raw *r, const char *data, size_t len)
{
    struct sockaddr_storage ss;

    memset(r, 0, sizeof(*r));
    r->data = data;
    r->len = len;
    r->hold = data == NULL;
    uv_tcp_init(&loop, &r->tcp);
    r->tcp.data = r->c.data = r;
    uv_ip4_addr("127.0.0.1", rpc_server_port(srv), (struct sockaddr_in *)&ss);
    ck_assert_int_eq(uv_tcp_connect(&r->c, &r->tcp, (struct sockaddr *)&ss,
                                    raw_connected),
                     0);
}

/* Wait until a server counter reaches n (checked every 2 ms). */
static bool stat_reached;
static uint64_t stat_want;
static const uint64_t *stat_field;
static struct rpc_server_stats stat_now;

static void on_stat_check(uv_timer_t *t)
{
    rpc_server_stats(srv, &stat_now);
    if (*stat_field >= stat_want)
        set_flag(&stat_reached);
    else
        uv_timer_start(t, on_stat_check, 2, 0);
}

static void wait_stat(const uint64_t *field, uint64_t n)
{
    uv_timer_t t;

    stat_field = field;
    stat_want = n;
    stat_reached = false;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, on_stat_check, 0, 0);
    run_until(&stat_reached);
    close_local(&t);
}

static void wait_dropped(uint64_t n)
{
    wait_stat(&stat_now.dropped, n);
}

START_TEST(garbage_and_eof_dropped)
{
    struct raw a, b, c;
    struct rpc_server_stats st;

    raw_start(&a, "\x00garbage", 8);
    raw_start(&b, "get / HTTP/1.1\r\n\r\n", 18); /* lowercase: not ours */
    raw_start(&c, "", 0);
    run_until(&a.eof);
    run_until(&b.eof);
    wait_dropped(3);
    st = stats();
    ck_assert_uint_eq(st.accepted, 3);
    ck_assert_uint_eq(st.dropped, 3);
    ck_assert_uint_eq(st.http + st.raft, 0);
    ck_assert_int_eq(n_http, 0);
    finish();
}
END_TEST

START_TEST(close_while_classifying)
{
    struct raw a;

    /* a connection that sends nothing, closed with the server */
    raw_start(&a, NULL, 0);
    wait_stat(&stat_now.accepted, 1);
    finish();
    ck_assert(a.eof);
    ck_assert_uint_eq(stat_now.dropped, 0);
}
END_TEST

/* Raft: a receiving transport on srv, a dialing one without a server. */
static struct raft_uv_transport rx, tx;
static bool rx_closed, tx_closed, dial_started;
static struct raft_uv_connect creq;
static uv_stream_t *dialed;
static int dial_status = -1;
static bool dial_done;

static uint64_t acc_id;
static char acc_addr[300], acc_data[64];
static size_t acc_len;
static uv_stream_t *acc_stream;
static bool acc_got;
static size_t acc_want;

static void free_stream(uv_handle_t *h)
{
    raft_free(h);
}

static void acc_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    (void)h;
    (void)sugg;
    b->base = acc_data + acc_len;
    b->len = sizeof(acc_data) - 1 - acc_len;
}

static void acc_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n <= 0)
        return;
    acc_len += (size_t)n;
    if (acc_len >= acc_want) {
        uv_read_stop(st);
        set_flag(&acc_got);
    }
}

static void on_raft_accept(struct raft_uv_transport *t, raft_id id,
                           const char *address, struct uv_stream_s *stream)
{
    ck_assert_ptr_eq(t, &rx);
    acc_id = id;
    snprintf(acc_addr, sizeof(acc_addr), "%s", address);
    acc_stream = stream;
    uv_read_start(stream, acc_alloc, acc_read);
}

static void on_dial(struct raft_uv_connect *req, struct uv_stream_s *stream,
                    int status)
{
    ck_assert_ptr_eq(req, &creq);
    dialed = stream;
    dial_status = status;
    set_flag(&dial_done);
    ck_assert(!tx_closed);
}

static void on_rx_closed(struct raft_uv_transport *t)
{
    (void)t;
    set_flag(&rx_closed);
}

static void on_tx_closed(struct raft_uv_transport *t)
{
    (void)t;
    ck_assert(dial_done || !dial_started); /* connect cbs run first */
    set_flag(&tx_closed);
}

static void raft_setup(void)
{
    setup();
    rx_closed = tx_closed = dial_done = dial_started = acc_got = false;
    acc_len = 0;
    acc_want = 4;
    acc_stream = dialed = NULL;
    dial_status = -1;
    memset(acc_data, 0, sizeof(acc_data));
    ck_assert_int_eq(rpc_raft_transport_init(&rx, &loop, srv, err), 0);
    ck_assert_int_eq(rx.init(&rx, 1, addr), 0);
    ck_assert_int_eq(rpc_raft_transport_init(&tx, &loop, NULL, err), 0);
    ck_assert_int_eq(tx.init(&tx, 2, "10.0.0.2:8300"), 0);
}

/* Close both transports (as raft_close would), then everything else. */
static void raft_finish(void)
{
    if (acc_stream != NULL)
        uv_close((uv_handle_t *)acc_stream, free_stream);
    if (dialed != NULL)
        uv_close((uv_handle_t *)dialed, free_stream);
    rx.close(&rx, on_rx_closed);
    if (!tx_closed)
        tx.close(&tx, on_tx_closed);
    ck_assert(!rx_closed); /* never from inside close() */
    run_until(&rx_closed);
    run_until(&tx_closed);
    rpc_raft_transport_release(&rx);
    rpc_raft_transport_release(&tx);
    finish();
}

START_TEST(raft_connect_and_accept)
{
    uv_buf_t b = uv_buf_init("NEXT", 4);
    uv_write_t w;

    ck_assert_int_eq(rx.listen(&rx, on_raft_accept), 0);
    ck_assert_int_eq(tx.connect(&tx, &creq, 1, addr, on_dial), 0);
    dial_started = true;
    ck_assert(!dial_done);
    run_until(&dial_done);
    ck_assert_int_eq(dial_status, 0);
    ck_assert_ptr_nonnull(dialed);
    ck_assert_int_eq(uv_write(&w, dialed, &b, 1, NULL), 0);
    run_until(&acc_got);
    ck_assert_uint_eq(acc_id, 2);
    ck_assert_str_eq(acc_addr, "10.0.0.2:8300");
    ck_assert_str_eq(acc_data, "NEXT");
    ck_assert_uint_eq(stats().raft, 1);
    raft_finish();
}
END_TEST

static size_t make_hs(char *out, uint64_t version, uint64_t id,
                      const char *a)
{
    uint64_t n = strlen(a), f[3] = { version, id, n };

    out[0] = 0x01;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 8; j++)
            out[1 + 8 * i + j] = (char)(f[i] >> (8 * j));
    memcpy(out + 25, a, n);
    return 25 + n;
}

START_TEST(raft_handshake_and_data_in_one_segment)
{
    static char buf[128];
    size_t n = make_hs(buf, 1, 77, "[::1]:8300");
    struct raw a;

    memcpy(buf + n, "NEXTmore", 8);
    acc_want = 8;
    ck_assert_int_eq(rx.listen(&rx, on_raft_accept), 0);
    raw_start(&a, buf, n + 8);
    run_until(&acc_got);
    ck_assert_uint_eq(acc_id, 77);
    ck_assert_str_eq(acc_addr, "[::1]:8300");
    ck_assert_str_eq(acc_data, "NEXTmore");
    uv_close((uv_handle_t *)acc_stream, free_stream);
    acc_stream = NULL;
    run_until(&a.eof);
    raft_finish();
}
END_TEST

START_TEST(raft_bad_handshakes_dropped)
{
    static char v2[64], id0[64], noaddr[64];
    size_t n1 = make_hs(v2, 2, 5, "1.2.3.4:1");
    size_t n2 = make_hs(id0, 1, 0, "1.2.3.4:1");
    size_t n3 = make_hs(noaddr, 1, 5, "");
    struct raw a, b, c;

    ck_assert_int_eq(rx.listen(&rx, on_raft_accept), 0);
    raw_start(&a, v2, n1);
    raw_start(&b, id0, n2);
    raw_start(&c, noaddr, n3);
    run_until(&a.eof);
    run_until(&b.eof);
    run_until(&c.eof);
    wait_dropped(3);
    ck_assert_uint_eq(stats().raft, 0);
    ck_assert_ptr_null(acc_stream);
    raft_finish();
}
END_TEST

START_TEST(raft_before_listen_dropped)
{
    static char hs[64];
    size_t n = make_hs(hs, 1, 5, "1.2.3.4:1");
    struct raw a;

    raw_start(&a, hs, n);
    run_until(&a.eof);
    wait_dropped(1);
    ck_assert_uint_eq(stats().raft, 0);
    raft_finish();
}
END_TEST

START_TEST(raft_connect_refused)
{
    char a[64];

    refused_addr(a, sizeof(a));
    ck_assert_int_eq(tx.connect(&tx, &creq, 1, a, on_dial), 0);
    dial_started = true;
    run_until(&dial_done);
    ck_assert_int_eq(dial_status, RAFT_NOCONNECTION);
    ck_assert_ptr_null(dialed);
    ck_assert_int_eq(tx.connect(&tx, &creq, 1, "nonsense", on_dial),
                     RAFT_NOCONNECTION);
    uv_close((uv_handle_t *)&closed_port, NULL);
    raft_finish();
}
END_TEST

START_TEST(raft_close_cancels_connect)
{
    ck_assert_int_eq(tx.connect(&tx, &creq, 1, addr, on_dial), 0);
    dial_started = true;
    tx.close(&tx, on_tx_closed);
    ck_assert(!dial_done); /* not from inside close() */
    run_until(&tx_closed);
    ck_assert_int_eq(dial_status, RAFT_CANCELED);
    ck_assert_ptr_null(dialed);
    raft_finish();
}
END_TEST

static Suite *rpc_suite(void)
{
    Suite *s = suite_create("rpc");
    TCase *http = tcase_create("http");
    TCase *raft = tcase_create("raft");

    tcase_add_checked_fixture(http, setup, NULL);
    tcase_add_test(http, http_handed_over_untouched);
    tcase_add_test(http, post_body_echoed);
    tcase_add_test(http, chunked_response);
    tcase_add_test(http, chunked_response_in_pieces);
    tcase_add_test(http, until_close_response);
    tcase_add_test(http, informational_skipped_head_has_no_body);
    tcase_add_test(http, connection_close_not_reused);
    tcase_add_test(http, keepalive_reuses_connection);
    tcase_add_test(http, idle_connection_closed_by_server);
    tcase_add_test(http, stale_pooled_connection_retried);
    tcase_add_test(http, no_retry_on_new_connection);
    tcase_add_test(http, unreachable);
    tcase_add_test(http, call_timeout);
    tcase_add_test(http, cancel_closes_connection);
    tcase_add_test(http, close_with_pending_call);
    tcase_add_test(http, too_big_and_malformed);
    tcase_add_test(http, bad_arguments);
    tcase_add_test(http, garbage_and_eof_dropped);
    tcase_add_test(http, close_while_classifying);
    suite_add_tcase(s, http);
    tcase_add_checked_fixture(raft, raft_setup, NULL);
    tcase_add_test(raft, raft_connect_and_accept);
    tcase_add_test(raft, raft_handshake_and_data_in_one_segment);
    tcase_add_test(raft, raft_bad_handshakes_dropped);
    tcase_add_test(raft, raft_before_listen_dropped);
    tcase_add_test(raft, raft_connect_refused);
    tcase_add_test(raft, raft_close_cancels_connect);
    suite_add_tcase(s, raft);
    return s;
}

Suite *unit_suite(void)
{
    return rpc_suite();
}

/* rpc_client.c - pooled HTTP/1.1 client for forwarding and internal calls.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Owns: every call until its callback ran or it was cancelled, and every
 * connection (struct conn: a uv_tcp_t and a uv_timer_t, freed when both
 * closed). A connection serves one call at a time; between calls it sits
 * in the idle pool (at most RPC_IDLE_PER_ADDR per address, RPC_IDLE_MS
 * each) and keeps reading, so a peer's close or stray bytes close it.
 * Its timer is the call's deadline while busy and the idle expiry while
 * idle. A call on a pooled connection that fails before any response
 * byte arrived (the peer closed it while idle) is retried once on a new
 * connection; a call on a new connection never is.
 *
 * Responses: status line parsed here, header lines by picohttpparser
 * (exported by libh2o, which installs no header: the prototypes below
 * are picohttpparser's stable API), body by Content-Length, chunked
 * transfer coding (phr_decode_chunked, trailers consumed) or until
 * close. 1xx responses are skipped; HEAD, 204 and 304 have no body.
 * Header block at most RPC_HDR_MAX bytes and RPC_MAX_HEADERS lines
 * (obsolete folded lines are ignored); body at most RPC_MAX_BODY.
 * A connection is reused only after a complete, framed response with no
 * stray bytes, HTTP/1.1 without "Connection: close" (or 1.0 with
 * keep-alive), and the request fully written.
 * Limits: numeric addresses only (no DNS); no pipelining.
 * Tests: t/unit/check_rpc.c
 */
#include "rpc_int.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "log.h"

/* picohttpparser, as built into libh2o. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_headers(const char *buf, size_t len, struct phr_header *headers,
                      size_t *num_headers, size_t last_len);
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char hex_count_;
    char state_;
};
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf,
                           size_t *bufsz);

#define RPC_HDR_MAX (64 * 1024)
#define RPC_MAX_HEADERS 128
#define RPC_IDLE_PER_ADDR 8
#define READ_CHUNK (64 * 1024)
#define BUF_MAX ((size_t)RPC_HDR_MAX + RPC_MAX_BODY + READ_CHUNK + 1)

enum cstate { C_CONNECTING, C_ACTIVE, C_IDLE, C_CLOSING };
enum bmode { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };

struct conn {
    struct rpc_link link; /* c->conns */
    struct rpc_link idle; /* c->idle while C_IDLE */
    struct rpc_client *c;
    struct rpc_call *call;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    enum cstate state;
    int nopen;
    bool reused;  /* the current call took it from the pool */
    bool writing; /* a write of the current call is in flight */
    char addr[RPC_ADDR_MAX];
    char scratch[64];
};

struct rpc_call {
    struct rpc_link link; /* c->calls */
    struct rpc_client *c;
    struct conn *conn;
    rpc_http_cb cb;
    void *ctx;
    char addr[RPC_ADDR_MAX];
    struct sockaddr_storage sa;
    char *req;
    size_t req_len;
    const char *body;   /* borrowed (RPC_BORROW_MIN or more), else NULL */
    size_t blen;
    uint64_t deadline, timeout_ms; /* loop ms; 0: none */
    bool head, retried, got;       /* got: a response byte arrived */
    /* response being read: in[0, in_len), header block in[0, hdr_len) */
    char *in;
    size_t in_len, in_cap, hdr_len, sl_len, body_len;
    int status, minor;
    enum bmode mode;
    uint64_t clen;
    bool keep;
    struct phr_chunked_decoder dec;
    struct phr_header ph[RPC_MAX_HEADERS];
};

struct rpc_client {
    uv_loop_t *loop;
    struct rpc_link calls, conns, idle;
    bool closing, closer_done;
    uv_timer_t closer; /* never started: closed only to defer close_cb */
    rpc_close_cb close_cb;
    void *close_ctx;
};

static void call_process(struct rpc_call *k);

/* ---- connections ---- */

static void client_maybe_finish(struct rpc_client *c)
{
    rpc_close_cb cb;
    void *ctx;

    if (!c->closing || !c->closer_done || !rpc_list_empty(&c->conns))
        return;
    cb = c->close_cb;
    ctx = c->close_ctx;
    free(c);
    if (cb != NULL)
        cb(ctx);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *cn = h->data;
    struct rpc_client *c = cn->c;

    if (--cn->nopen > 0)
        return;
    rpc_list_remove(&cn->link);
    free(cn);
    client_maybe_finish(c);
}

/* The caller has detached any call. */
static void conn_close(struct conn *cn)
{
    if (cn->state == C_CLOSING)
        return;
    if (cn->state == C_IDLE)
        rpc_list_remove(&cn->idle);
    cn->state = C_CLOSING;
    cn->call = NULL;
    uv_close((uv_handle_t *)&cn->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&cn->timer, on_conn_handle_closed);
}

static size_t idle_count(struct rpc_client *c, const char *addr)
{
    size_t n = 0;

    for (struct rpc_link *l = c->idle.next; l != &c->idle; l = l->next)
        if (strcmp(RPC_CONTAINER(l, struct conn, idle)->addr, addr) == 0)
            n++;
    return n;
}

static void on_conn_timer(uv_timer_t *t);

static void conn_idle(struct conn *cn)
{
    struct rpc_client *c = cn->c;

    if (c->closing || idle_count(c, cn->addr) >= RPC_IDLE_PER_ADDR) {
        conn_close(cn);
        return;
    }
    cn->state = C_IDLE;
    cn->reused = false;
    rpc_list_push(&c->idle, &cn->idle);
    uv_timer_start(&cn->timer, on_conn_timer, RPC_IDLE_MS, 0);
}

/* ---- finishing a call ---- */

static void call_free(struct rpc_call *k)
{
    free(k->req);
    free(k->in);
    free(k);
}

static struct conn *call_detach(struct rpc_call *k)
{
    struct conn *cn = k->conn;

    if (cn != NULL)
        cn->call = NULL;
    k->conn = NULL;
    rpc_list_remove(&k->link);
    return cn;
}

static void call_fail(struct rpc_call *k, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void call_fail(struct rpc_call *k, int rc, const char *fmt, ...)
{
    struct conn *cn = call_detach(k);
    char err[ERR_LEN];
    va_list ap;

    if (cn != NULL)
        conn_close(cn);
    va_start(ap, fmt);
    vsnprintf(err, sizeof(err), fmt, ap);
    va_end(ap);
    k->cb(k->ctx, rc, NULL, err);
    call_free(k);
}

/* Trim the trailing blanks older picohttpparsers leave in values. */
static size_t value_len(const struct phr_header *h)
{
    size_t n = h->value_len;

    while (n > 0 && (h->value[n - 1] == ' ' || h->value[n - 1] == '\t'))
        n--;
    return n;
}

static void call_complete(struct rpc_call *k)
{
    struct conn *cn = call_detach(k);
    struct rpc_header *hv;
    struct rpc_response resp;
    size_t nh = RPC_MAX_HEADERS, n = 0;

    if (k->keep && !cn->writing)
        conn_idle(cn);
    else
        conn_close(cn);
    /* Parse the header block again: k->in may have moved since. */
    phr_parse_headers(k->in + k->sl_len, k->hdr_len - k->sl_len, k->ph, &nh,
                      0);
    hv = calloc(nh + 1, sizeof(*hv));
    if (hv == NULL) {
        k->cb(k->ctx, ERR_IO, NULL, "out of memory reading response");
        call_free(k);
        return;
    }
    for (size_t i = 0; i < nh; i++) {
        struct phr_header *h = &k->ph[i];
        size_t vl = value_len(h);

        if (h->name == NULL)
            continue;
        ((char *)h->name)[h->name_len] = '\0';
        ((char *)h->value)[vl] = '\0';
        hv[n].name = h->name;
        hv[n++].value = h->value;
    }
    assert(k->hdr_len + k->body_len < k->in_cap);
    k->in[k->hdr_len + k->body_len] = '\0';
    resp.status = k->status;
    resp.headers = hv;
    resp.n_headers = n;
    resp.body = k->in + k->hdr_len;
    resp.body_len = k->body_len;
    k->cb(k->ctx, 0, &resp, NULL);
    free(hv);
    call_free(k);
}

/* ---- starting a call on a connection ---- */

static void on_conn_timer(uv_timer_t *t)
{
    struct conn *cn = t->data;
    struct rpc_call *k = cn->call;

    if (k != NULL)
        call_fail(k, ERR_TIMEOUT, "no response from '%s' within %llu ms",
                  k->addr, (unsigned long long)k->timeout_ms);
    else if (cn->state == C_IDLE)
        conn_close(cn);
}

static void arm_deadline(struct rpc_call *k)
{
    struct conn *cn = k->conn;
    uint64_t now = uv_now(k->c->loop);

    if (k->deadline == 0)
        uv_timer_stop(&cn->timer);
    else
        uv_timer_start(&cn->timer, on_conn_timer,
                       k->deadline > now ? k->deadline - now : 0, 0);
}

static void reset_response(struct rpc_call *k)
{
    k->in_len = k->hdr_len = k->sl_len = k->body_len = 0;
    k->got = false;
}

static void on_written(uv_write_t *w, int status);

static int call_send(struct rpc_call *k)
{
    uv_buf_t buf[2] = {uv_buf_init(k->req, (unsigned)k->req_len),
                       uv_buf_init((char *)k->body, (unsigned)k->blen)};
    int rv;

    rv = uv_write(&k->conn->wreq, (uv_stream_t *)&k->conn->tcp, buf,
                  k->body != NULL ? 2 : 1, on_written);
    k->conn->writing = rv == 0;
    return rv;
}

static void on_connected(uv_connect_t *r, int status);
static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Open a new connection for k; on failure k is left unattached. */
static int call_dial(struct rpc_call *k)
{
    struct rpc_client *c = k->c;
    struct conn *cn = calloc(1, sizeof(*cn));
    int rv;

    if (cn == NULL)
        return UV_ENOMEM;
    cn->c = c;
    snprintf(cn->addr, sizeof(cn->addr), "%s", k->addr);
    uv_tcp_init(c->loop, &cn->tcp);
    uv_timer_init(c->loop, &cn->timer);
    cn->tcp.data = cn->timer.data = cn->creq.data = cn->wreq.data = cn;
    cn->nopen = 2;
    cn->state = C_CONNECTING;
    rpc_list_push(&c->conns, &cn->link);
    rv = uv_tcp_connect(&cn->creq, &cn->tcp, (struct sockaddr *)&k->sa,
                        on_connected);
    if (rv != 0) {
        conn_close(cn);
        return rv;
    }
    cn->call = k;
    k->conn = cn;
    arm_deadline(k);
    return 0;
}

/* Put k on an idle connection to its address; false if none took it. */
static bool call_reuse(struct rpc_call *k)
{
    struct rpc_client *c = k->c;
    struct rpc_link *l, *next;

    for (l = c->idle.next; l != &c->idle; l = next) {
        struct conn *cn = RPC_CONTAINER(l, struct conn, idle);

        next = l->next;
        if (strcmp(cn->addr, k->addr) != 0)
            continue;
        rpc_list_remove(&cn->idle);
        cn->state = C_ACTIVE;
        cn->call = k;
        cn->reused = true;
        k->conn = cn;
        if (call_send(k) == 0) {
            arm_deadline(k);
            return true;
        }
        k->conn = NULL;
        conn_close(cn);
    }
    return false;
}

/* The pooled connection k was on died before any response byte. */
static void call_retry(struct rpc_call *k, const char *why)
{
    struct conn *old = k->conn;
    int rv;

    LOG_DEBUG("rpc", "pooled connection to '%s' closed (%s), retrying",
              k->addr, why);
    old->call = NULL;
    k->conn = NULL;
    conn_close(old);
    k->retried = true;
    reset_response(k);
    rv = call_dial(k);
    if (rv != 0)
        call_fail(k, ERR_UNREACHABLE, "connect to '%s': %s", k->addr,
                  uv_strerror(rv));
}

static bool may_retry(const struct rpc_call *k)
{
    return k->conn->reused && !k->retried && !k->got;
}

static void on_written(uv_write_t *w, int status)
{
    struct conn *cn = w->data;
    struct rpc_call *k = cn->call;

    cn->writing = false;
    if (k == NULL || status == 0)
        return;
    if (may_retry(k))
        call_retry(k, uv_strerror(status));
    else
        call_fail(k, ERR_IO, "sending to '%s': %s", k->addr,
                  uv_strerror(status));
}

static void on_connected(uv_connect_t *r, int status)
{
    struct conn *cn = r->data;
    struct rpc_call *k = cn->call;

    if (cn->state == C_CLOSING || k == NULL)
        return;
    if (status < 0) {
        call_fail(k, ERR_UNREACHABLE, "connect to '%s': %s", k->addr,
                  uv_strerror(status));
        return;
    }
    cn->state = C_ACTIVE;
    uv_tcp_nodelay(&cn->tcp, 1);
    status = uv_read_start((uv_stream_t *)&cn->tcp, conn_alloc, conn_read);
    if (status == 0)
        status = call_send(k);
    if (status != 0)
        call_fail(k, ERR_IO, "sending to '%s': %s", k->addr,
                  uv_strerror(status));
}

/* ---- reading ---- */

static bool reserve(struct rpc_call *k, size_t need)
{
    size_t cap = k->in_cap * 2;
    char *p;

    if (need <= k->in_cap)
        return true;
    if (cap < need)
        cap = need;
    if (cap > BUF_MAX)
        cap = need;
    p = realloc(k->in, cap);
    if (p == NULL)
        return false;
    k->in = p;
    k->in_cap = cap;
    return true;
}

/* How many bytes the next read may bring. */
static size_t room(const struct rpc_call *k)
{
    size_t lim;

    if (k->hdr_len == 0)
        return RPC_HDR_MAX - k->in_len;
    if (k->mode == B_LENGTH)
        return k->hdr_len + (size_t)k->clen - k->in_len;
    /* chunked bodies are decoded after every read, so in_len stays
     * within a read of hdr_len + body_len */
    lim = k->hdr_len + RPC_MAX_BODY + 1;
    if (k->mode == B_CLOSE && lim - k->in_len < READ_CHUNK)
        return lim - k->in_len;
    return READ_CHUNK;
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *cn = h->data;
    struct rpc_call *k = cn->call;
    size_t n;

    (void)suggested;
    if (k == NULL) {
        buf->base = cn->scratch;
        buf->len = sizeof(cn->scratch);
        return;
    }
    n = room(k);
    if (n == 0 || !reserve(k, k->in_len + n + 1)) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = k->in + k->in_len;
    buf->len = n;
}

static void conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *cn = st->data;
    struct rpc_call *k = cn->call;

    (void)buf;
    if (nread == 0 || cn->state == C_CLOSING)
        return;
    if (k == NULL) { /* idle: the peer closed it, or sent stray bytes */
        conn_close(cn);
        return;
    }
    if (nread > 0) {
        k->in_len += (size_t)nread;
        k->got = true;
        call_process(k);
    } else if (nread == UV_ENOBUFS) {
        call_fail(k, ERR_IO, "out of memory reading from '%s'", k->addr);
    } else if (may_retry(k)) {
        call_retry(k, uv_strerror((int)nread));
    } else if (nread == UV_EOF && k->hdr_len > 0 && k->mode == B_CLOSE) {
        k->keep = false;
        call_complete(k);
    } else {
        call_fail(k, ERR_IO, "connection to '%s' lost %s: %s", k->addr,
                  k->got ? "mid-response" : "before a response",
                  uv_strerror((int)nread));
    }
}

/* ---- parsing ---- */

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Parse the status line and header block in k->in; >0 is the header
 * block length, -2 incomplete, -1 malformed. */
static int parse_head(struct rpc_call *k, size_t *nh)
{
    const char *p = k->in, *eol = memchr(p, '\n', k->in_len);
    size_t ll;
    int r;

    if (eol == NULL)
        return k->in_len > 1024 ? -1 : -2;
    ll = (size_t)(eol - p);
    if (ll > 0 && p[ll - 1] == '\r')
        ll--;
    if (ll < 12 || memcmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) ||
        p[8] != ' ' || !is_digit(p[9]) || !is_digit(p[10]) ||
        !is_digit(p[11]) || (ll > 12 && p[12] != ' '))
        return -1;
    k->minor = p[7] - '0';
    k->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    k->sl_len = (size_t)(eol + 1 - p);
    *nh = RPC_MAX_HEADERS;
    r = phr_parse_headers(p + k->sl_len, k->in_len - k->sl_len, k->ph, nh,
                          0);
    if (r < 0)
        return r;
    return (int)k->sl_len + r;
}

/* Whether comma-separated value v (length n) holds token tok. */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;

    while (i < n) {
        size_t s, e;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
            return true;
    }
    return false;
}

static bool name_is(const struct phr_header *h, const char *name)
{
    return h->name != NULL && h->name_len == strlen(name) &&
           strncasecmp(h->name, name, h->name_len) == 0;
}

static int parse_clen(const struct phr_header *h, uint64_t *out)
{
    size_t n = value_len(h);
    uint64_t v = 0;

    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(h->value[i]))
            return -1;
        v = v * 10 + (uint64_t)(h->value[i] - '0');
    }
    if (*out != UINT64_MAX && *out != v)
        return -1;
    *out = v;
    return 0;
}

/* Decide framing and reuse from the final header block; 0 or an rc. */
static int interpret(struct rpc_call *k, size_t nh)
{
    bool te = false, chunked = false, shut = false, alive = false;
    uint64_t clen = UINT64_MAX;

    for (size_t i = 0; i < nh; i++) {
        const struct phr_header *h = &k->ph[i];

        if (name_is(h, "Content-Length")) {
            if (parse_clen(h, &clen) != 0)
                return ERR_PARSE;
        } else if (name_is(h, "Transfer-Encoding")) {
            size_t n = value_len(h);
            te = true;
            chunked = n >= 7 && strncasecmp(h->value + n - 7, "chunked",
                                            7) == 0;
        } else if (name_is(h, "Connection")) {
            shut |= has_token(h->value, value_len(h), "close");
            alive |= has_token(h->value, value_len(h), "keep-alive");
        }
    }
    if (k->head || k->status == 204 || k->status == 304)
        k->mode = B_NONE;
    else if (te)
        k->mode = chunked ? B_CHUNKED : B_CLOSE;
    else if (clen != UINT64_MAX)
        k->mode = B_LENGTH;
    else
        k->mode = B_CLOSE;
    if (k->mode == B_LENGTH && clen > RPC_MAX_BODY)
        return ERR_TOOBIG;
    k->clen = clen;
    k->keep = !shut && (k->minor >= 1 || alive) && k->mode != B_CLOSE;
    memset(&k->dec, 0, sizeof(k->dec));
    k->dec.consume_trailer = 1;
    return 0;
}

/* Headers of the final response: 0 parsed, 1 wait, else an rc. */
static int process_head(struct rpc_call *k)
{
    size_t nh;
    int r;

    for (;;) {
        r = parse_head(k, &nh);
        if (r == -2)
            return k->in_len >= RPC_HDR_MAX ? ERR_TOOBIG : 1;
        if (r < 0)
            return ERR_PARSE;
        if (k->status < 100)
            return ERR_PARSE;
        if (k->status >= 200) {
            k->hdr_len = (size_t)r;
            return interpret(k, nh);
        }
        if (k->status == 101)
            return ERR_PARSE;
        /* 1xx: drop it, parse what follows */
        memmove(k->in, k->in + r, k->in_len - (size_t)r);
        k->in_len -= (size_t)r;
        if (k->in_len == 0)
            return 1;
    }
}

/* Body: 0 complete, 1 wait, else an rc. */
static int process_body(struct rpc_call *k)
{
    size_t have = k->in_len - k->hdr_len, sz;
    ssize_t r;

    switch (k->mode) {
    case B_NONE:
        k->keep &= have == 0;
        return 0;
    case B_LENGTH:
        if (have < k->clen)
            return reserve(k, k->hdr_len + (size_t)k->clen + 1) ? 1
                                                                 : ERR_IO;
        k->body_len = (size_t)k->clen;
        k->keep &= have == k->clen;
        return 0;
    case B_CHUNKED:
        sz = have - k->body_len;
        r = phr_decode_chunked(&k->dec, k->in + k->hdr_len + k->body_len,
                               &sz);
        if (r == -1)
            return ERR_PARSE;
        k->body_len += sz;
        k->in_len = k->hdr_len + k->body_len;
        if (k->body_len > RPC_MAX_BODY)
            return ERR_TOOBIG;
        if (r == -2)
            return 1;
        k->keep &= r == 0;
        return 0;
    case B_CLOSE:
    default:
        k->body_len = have;
        return have > RPC_MAX_BODY ? ERR_TOOBIG : 1;
    }
}

static void call_process(struct rpc_call *k)
{
    int rc = 0;

    if (k->hdr_len == 0)
        rc = process_head(k);
    if (rc == 0)
        rc = process_body(k);
    if (rc == 0)
        call_complete(k);
    else if (rc == ERR_TOOBIG)
        call_fail(k, rc, "response from '%s' too large", k->addr);
    else if (rc == ERR_PARSE)
        call_fail(k, rc, "malformed http response from '%s'", k->addr);
    else if (rc != 1)
        call_fail(k, rc, "out of memory reading from '%s'", k->addr);
}

/* ---- building a request ---- */

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           is_digit((char)ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* No control characters (tab allowed in values), no spaces in targets. */
static bool is_clean(const char *s, bool space_ok)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == 0x7f || (ch < 0x20 && !(space_ok && ch == '\t')) ||
            (ch == ' ' && !space_ok))
            return false;
    }
    return true;
}

static int check_request(const char *method, const char *target,
                         const struct rpc_header *h, size_t nh, char *err)
{
    static const char *const reserved[] = {
        "Host", "Content-Length", "Connection", "Transfer-Encoding",
    };
    char q[ERR_LEN];

    if (!is_token(method))
        return err_set(err, ERR_INVAL, "bad method '%s'",
                       err_quote(q, sizeof(q), method));
    if (*target == '\0' || !is_clean(target, false))
        return err_set(err, ERR_INVAL, "bad request target '%s'",
                       err_quote(q, sizeof(q), target));
    for (size_t i = 0; i < nh; i++) {
        if (h[i].name == NULL || h[i].value == NULL || !is_token(h[i].name) ||
            !is_clean(h[i].value, true))
            return err_set(err, ERR_INVAL, "bad header '%s'",
                           err_quote(q, sizeof(q), h[i].name));
        for (size_t j = 0; j < sizeof(reserved) / sizeof(reserved[0]); j++)
            if (strcasecmp(h[i].name, reserved[j]) == 0)
                return err_set(err, ERR_INVAL,
                               "header '%s' is set by the client",
                               reserved[j]);
    }
    return 0;
}

/* The request's head, and its body unless body is NULL (then len is
 * only announced in Content-Length). */
static char *build_request(const char *addr, const char *method,
                           const char *target, const struct rpc_header *h,
                           size_t nh, const void *body, size_t len,
                           size_t *out_len)
{
    size_t n = strlen(method) + strlen(target) + strlen(addr) + 128 +
               (body != NULL ? len : 0);
    size_t off;
    char *p;

    for (size_t i = 0; i < nh; i++)
        n += strlen(h[i].name) + strlen(h[i].value) + 4;
    p = malloc(n);
    if (p == NULL)
        return NULL;
    off = (size_t)snprintf(p, n, "%s %s HTTP/1.1\r\nHost: %s\r\n", method,
                           target, addr);
    for (size_t i = 0; i < nh; i++)
        off += (size_t)snprintf(p + off, n - off, "%s: %s\r\n", h[i].name,
                                h[i].value);
    off += (size_t)snprintf(p + off, n - off,
                            "Content-Length: %zu\r\n"
                            "Connection: keep-alive\r\n\r\n",
                            len);
    if (body == NULL) {
        *out_len = off;
        return p;
    }
    assert(off + len <= n);
    if (len > 0)
        memcpy(p + off, body, len);
    *out_len = off + len;
    return p;
}

/* ---- public API ---- */

struct rpc_client *rpc_client_new(uv_loop_t *loop, char *err)
{
    struct rpc_client *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->loop = loop;
    rpc_list_init(&c->calls);
    rpc_list_init(&c->conns);
    rpc_list_init(&c->idle);
    return c;
}

int rpc_http_call(struct rpc_client *c, const char *addr, const char *method,
                  const char *target, const struct rpc_header *h, size_t nh,
                  const void *body, size_t len, uint64_t timeout_ms,
                  rpc_http_cb cb, void *ctx, struct rpc_call **call,
                  char *err)
{
    struct rpc_call *k;
    int rv;

    if (c->closing)
        return err_set(err, ERR_SHUTDOWN, "rpc client closed");
    if (cb == NULL || method == NULL || target == NULL ||
        (nh > 0 && h == NULL) || (len > 0 && body == NULL))
        return err_set(err, ERR_INVAL, "rpc call: missing argument");
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rv = rpc_addr_parse(addr, &k->sa, err);
    if (rv == 0)
        rv = check_request(method, target, h, nh, err);
    if (rv == 0 && len >= RPC_BORROW_MIN) {
        if (len > UINT_MAX)
            rv = err_set(err, ERR_TOOBIG, "request body over 4 GiB");
        k->body = body;
        k->blen = len;
    }
    if (rv == 0) {
        k->req = build_request(addr, method, target, h, nh,
                               k->body != NULL ? NULL : body, len,
                               &k->req_len);
        if (k->req == NULL)
            rv = err_set(err, ERR_NOMEM, "out of memory");
    }
    if (rv != 0) {
        call_free(k);
        return rv;
    }
    k->c = c;
    k->cb = cb;
    k->ctx = ctx;
    snprintf(k->addr, sizeof(k->addr), "%s", addr);
    k->head = strcmp(method, "HEAD") == 0;
    k->timeout_ms = timeout_ms;
    k->deadline = timeout_ms > 0 ? uv_now(c->loop) + timeout_ms : 0;
    rpc_list_push(&c->calls, &k->link);
    if (!call_reuse(k) && (rv = call_dial(k)) != 0) {
        rpc_list_remove(&k->link);
        call_free(k);
        return err_set(err, ERR_UNREACHABLE, "connect to '%s': %s", addr,
                       uv_strerror(rv));
    }
    if (call != NULL)
        *call = k;
    return 0;
}

void rpc_call_cancel(struct rpc_call *k)
{
    struct conn *cn;

    if (k == NULL)
        return;
    cn = call_detach(k);
    if (cn != NULL)
        conn_close(cn);
    call_free(k);
}

static void on_closer_closed(uv_handle_t *h)
{
    struct rpc_client *c = h->data;

    c->closer_done = true;
    client_maybe_finish(c);
}

void rpc_client_close(struct rpc_client *c, rpc_close_cb cb, void *ctx)
{
    struct rpc_link *l;

    if (c == NULL)
        return;
    assert(!c->closing);
    c->closing = true;
    c->close_cb = cb;
    c->close_ctx = ctx;
    while (!rpc_list_empty(&c->calls))
        call_fail(RPC_CONTAINER(c->calls.next, struct rpc_call, link),
                  ERR_SHUTDOWN, "rpc client closed");
    for (l = c->conns.next; l != &c->conns; l = l->next)
        conn_close(RPC_CONTAINER(l, struct conn, link));
    uv_timer_init(c->loop, &c->closer);
    c->closer.data = c;
    uv_close((uv_handle_t *)&c->closer, on_closer_closed);
}

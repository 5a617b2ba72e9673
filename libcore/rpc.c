/* rpc.c - the server RPC port: listener, first-byte classification and
 * the Raft handshake of accepted connections; address parsing.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Owns: the listener and every accepted connection until it is handed
 * on or dropped: a struct pconn holding three handles (the accepted
 * uv_tcp_t, from raft_malloc; a uv_poll_t on a dup() of its fd; a
 * uv_timer_t), freed once every handle it still owns has closed.
 *
 * Classification consumes nothing: the poll watches the dup'd fd for
 * readability and recv(MSG_PEEK) looks at the first byte. The poll is
 * then closed, and the dup'd fd is closed in the poll's close callback
 * (its epoll registration is gone by then), and only after that is the
 * verdict acted on, so the uv_tcp_t goes on exactly as accepted: never
 * read from, never registered with the loop.
 * A Raft connection is then read with buffers sized to exactly the
 * handshake bytes still missing (layout in rpc_int.h), and reading stops
 * as soon as the handshake is complete, so libraft's first message is
 * still in the socket when the stream reaches it.
 * Deadline: RPC_CLASSIFY_MS from accept covers the first byte and the
 * whole handshake. At most RPC_MAX_PENDING connections are being
 * classified at a time; more are dropped.
 * Stats: accepted = raft + http + dropped + (still being classified).
 * Tests: t/unit/check_rpc.c
 */
#include "rpc_int.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define RPC_CLASSIFY_MS 10000
#define RPC_MAX_PENDING 1024
#define RPC_BACKLOG 511

enum pstate {
    P_PEEK,          /* poll armed, waiting for the first byte */
    P_PEEK_CLOSING,  /* verdict taken, poll closing */
    P_HANDSHAKE,     /* reading the Raft handshake */
    P_DONE,          /* handed on or dropped; handles closing */
};

enum verdict { V_DROP, V_HTTP, V_RAFT };

struct pconn {
    struct rpc_link link; /* s->pending */
    struct rpc_server *s;
    uv_tcp_t *tcp;        /* NULL once handed on or closed */
    uv_poll_t poll;
    uv_timer_t timer;
    int dupfd;
    int nopen;            /* our handles not yet closed */
    enum pstate state;
    enum verdict verdict;
    size_t got, need;
    uint8_t hs[RPC_HS_MAX];
};

struct rpc_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listener_open, listening, closing;
    rpc_http_conn_fn http_fn;
    void *http_ctx;
    struct rpc_raft *raft;
    struct rpc_link pending;
    size_t npending;
    struct rpc_server_stats st;
    rpc_close_cb close_cb;
    void *close_ctx;
};

/* ---- little-endian helpers, handshake, addresses ---- */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

size_t rpc_hs_encode(uint8_t *out, uint64_t id, const char *address)
{
    size_t n = strlen(address);

    if (n == 0 || n > RPC_HS_ADDR_MAX)
        return 0;
    out[0] = RPC_BYTE_RAFT;
    put_u64(out + 1, RPC_HS_VERSION);
    put_u64(out + 9, id);
    put_u64(out + 17, n);
    memcpy(out + RPC_HS_FIXED, address, n);
    return RPC_HS_FIXED + n;
}

static int parse_port(const char *p, int *port)
{
    long v = 0;

    if (*p == '\0' || strlen(p) > 5)
        return -1;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int rpc_addr_parse(const char *addr, struct sockaddr_storage *ss, char *err)
{
    char host[RPC_ADDR_MAX], q[ERR_LEN];
    const char *colon;
    size_t hl;
    int port, rv;

    memset(ss, 0, sizeof(*ss));
    if (addr == NULL || strlen(addr) >= RPC_ADDR_MAX)
        goto bad;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (rb == NULL || rb[1] != ':')
            goto bad;
        hl = (size_t)(rb - addr - 1);
        memcpy(host, addr + 1, hl);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            goto bad;
        hl = (size_t)(colon - addr);
        memcpy(host, addr, hl);
    }
    host[hl] = '\0';
    if (hl == 0 || parse_port(colon + 1, &port) != 0)
        goto bad;
    if (addr[0] == '[')
        rv = uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    else
        rv = uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
    if (rv == 0)
        return 0;
bad:
    return err_set(err, ERR_INVAL,
                   "bad address '%s' (want ip:port or [ip6]:port)",
                   err_quote(q, sizeof(q), addr));
}

/* ---- pending connections ---- */

static void server_maybe_finish(struct rpc_server *s)
{
    rpc_close_cb cb;
    void *ctx;

    if (!s->closing || s->listener_open || !rpc_list_empty(&s->pending))
        return;
    cb = s->close_cb;
    ctx = s->close_ctx;
    free(s);
    if (cb != NULL)
        cb(ctx);
}

static void pconn_maybe_free(struct pconn *pc)
{
    struct rpc_server *s = pc->s;

    if (pc->nopen > 0)
        return;
    rpc_list_remove(&pc->link);
    s->npending--;
    free(pc);
    server_maybe_finish(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;

    pc->nopen--;
    pconn_maybe_free(pc);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;

    raft_free(h);
    pc->tcp = NULL;
    pc->nopen--;
    pconn_maybe_free(pc);
}

static void close_timer(struct pconn *pc)
{
    if (!uv_is_closing((uv_handle_t *)&pc->timer))
        uv_close((uv_handle_t *)&pc->timer, on_handle_closed);
}

/* Close the connection (the poll, if still open, closes on its own
 * path: see end_peek). */
static void drop(struct pconn *pc, const char *why)
{
    LOG_DEBUG("rpc", "dropping connection: %s", why);
    pc->state = P_DONE;
    pc->s->st.dropped++;
    if (pc->tcp != NULL && !uv_is_closing((uv_handle_t *)pc->tcp))
        uv_close((uv_handle_t *)pc->tcp, on_tcp_closed);
    close_timer(pc);
}

/* The tcp is no longer ours: forget it before calling out. */
static uv_tcp_t *detach_tcp(struct pconn *pc)
{
    uv_tcp_t *tcp = pc->tcp;

    pc->state = P_DONE;
    pc->tcp = NULL;
    pc->nopen--;
    tcp->data = NULL;
    close_timer(pc);
    return tcp;
}

static void hs_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct pconn *pc = h->data;

    (void)suggested;
    buf->base = (char *)pc->hs + pc->got;
    buf->len = pc->need - pc->got;
}

/* Validate the fixed part; returns the address length or 0. */
static size_t hs_fixed_ok(const struct pconn *pc)
{
    uint64_t n = get_u64(pc->hs + 17);

    if (pc->hs[0] != RPC_BYTE_RAFT || get_u64(pc->hs + 1) != RPC_HS_VERSION ||
        get_u64(pc->hs + 9) == 0 || n == 0 || n > RPC_HS_ADDR_MAX)
        return 0;
    return (size_t)n;
}

static void hs_complete(struct pconn *pc)
{
    struct rpc_server *s = pc->s;
    char addr[RPC_HS_ADDR_MAX + 1];
    size_t n = pc->need - RPC_HS_FIXED;
    uint64_t id = get_u64(pc->hs + 9);
    uv_tcp_t *tcp;

    uv_read_stop((uv_stream_t *)pc->tcp);
    for (size_t i = 0; i < n; i++) {
        uint8_t b = pc->hs[RPC_HS_FIXED + i];
        if (b < 0x21 || b > 0x7e) {
            drop(pc, "raft handshake: bad address");
            return;
        }
    }
    memcpy(addr, pc->hs + RPC_HS_FIXED, n);
    addr[n] = '\0';
    if (s->raft == NULL || !rpc_raft_listening(s->raft)) {
        drop(pc, "raft is not listening");
        return;
    }
    tcp = detach_tcp(pc);
    s->st.raft++;
    uv_tcp_nodelay(tcp, 1);
    rpc_raft_deliver(s->raft, id, addr, (uv_stream_t *)tcp);
}

static void hs_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct pconn *pc = st->data;
    size_t n;

    (void)buf;
    if (pc == NULL || pc->state != P_HANDSHAKE || nread == 0)
        return;
    if (nread < 0) {
        drop(pc, "closed during raft handshake");
        return;
    }
    pc->got += (size_t)nread;
    if (pc->got < pc->need)
        return;
    if (pc->need == RPC_HS_FIXED) {
        n = hs_fixed_ok(pc);
        if (n == 0)
            drop(pc, "bad raft handshake");
        else
            pc->need += n; /* libuv reads on: hs_alloc asks for the rest */
        return;
    }
    hs_complete(pc);
}

static void start_handshake(struct pconn *pc)
{
    pc->state = P_HANDSHAKE;
    pc->got = 0;
    pc->need = RPC_HS_FIXED;
    pc->tcp->data = pc;
    if (uv_read_start((uv_stream_t *)pc->tcp, hs_alloc, hs_read) != 0)
        drop(pc, "cannot read raft handshake");
}

/* The poll is closed and the dup'd fd with it: act on the verdict. */
static void act(struct pconn *pc)
{
    struct rpc_server *s = pc->s;
    uv_tcp_t *tcp;

    if (pc->state != P_PEEK_CLOSING)
        return;
    if (s->closing) {
        drop(pc, "server closing");
        return;
    }
    switch (pc->verdict) {
    case V_HTTP:
        if (s->http_fn == NULL) {
            drop(pc, "no http handler");
            return;
        }
        tcp = detach_tcp(pc);
        s->st.http++;
        s->http_fn(s->http_ctx, tcp);
        return;
    case V_RAFT:
        if (s->raft == NULL || !rpc_raft_listening(s->raft)) {
            drop(pc, "raft is not listening");
            return;
        }
        start_handshake(pc);
        return;
    case V_DROP:
    default:
        drop(pc, "bad first byte, eof or timeout");
        return;
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    struct pconn *pc = h->data;

    close(pc->dupfd);
    pc->dupfd = -1;
    pc->nopen--;
    act(pc);
    pconn_maybe_free(pc);
}

static void end_peek(struct pconn *pc, enum verdict v)
{
    pc->verdict = v;
    pc->state = P_PEEK_CLOSING;
    uv_timer_stop(&pc->timer);
    uv_poll_stop(&pc->poll);
    uv_close((uv_handle_t *)&pc->poll, on_poll_closed);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct pconn *pc = p->data;
    unsigned char b;
    ssize_t n;

    (void)events;
    if (pc->state != P_PEEK)
        return;
    if (status < 0) {
        end_peek(pc, V_DROP);
        return;
    }
    n = recv(pc->dupfd, &b, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n != 1)
        end_peek(pc, V_DROP);
    else if (b == RPC_BYTE_RAFT)
        end_peek(pc, V_RAFT);
    else if (b >= 'A' && b <= 'Z')
        end_peek(pc, V_HTTP);
    else
        end_peek(pc, V_DROP);
}

static void on_timer(uv_timer_t *t)
{
    struct pconn *pc = t->data;

    if (pc->state == P_PEEK)
        end_peek(pc, V_DROP);
    else if (pc->state == P_HANDSHAKE)
        drop(pc, "raft handshake timed out");
}

void rpc_conn_close_cb(uv_handle_t *h)
{
    raft_free(h);
}

/* Wrap an accepted tcp; on failure close it (counted as dropped). */
static void pconn_start(struct rpc_server *s, uv_tcp_t *tcp)
{
    struct pconn *pc = NULL;
    uv_os_fd_t fd;
    int dupfd = -1;

    if (s->npending >= RPC_MAX_PENDING)
        goto fail;
    pc = calloc(1, sizeof(*pc));
    if (pc == NULL || uv_fileno((uv_handle_t *)tcp, &fd) != 0)
        goto fail;
    dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dupfd < 0 || uv_poll_init(s->loop, &pc->poll, dupfd) != 0)
        goto fail;
    uv_timer_init(s->loop, &pc->timer);
    pc->s = s;
    pc->tcp = tcp;
    pc->dupfd = dupfd;
    pc->nopen = 3;
    pc->state = P_PEEK;
    pc->poll.data = pc->timer.data = tcp->data = pc;
    rpc_list_push(&s->pending, &pc->link);
    s->npending++;
    uv_timer_start(&pc->timer, on_timer, RPC_CLASSIFY_MS, 0);
    if (uv_poll_start(&pc->poll, UV_READABLE, on_poll) != 0)
        end_peek(pc, V_DROP);
    return;
fail:
    LOG_DEBUG("rpc", "dropping connection: cannot watch it");
    if (dupfd >= 0)
        close(dupfd);
    free(pc);
    s->st.dropped++;
    uv_close((uv_handle_t *)tcp, rpc_conn_close_cb);
}

static void on_accept(uv_stream_t *ls, int status)
{
    struct rpc_server *s = ls->data;
    uv_tcp_t *tcp;

    if (status < 0) {
        LOG_WARN("rpc", "accept: %s", uv_strerror(status));
        return;
    }
    tcp = raft_malloc(sizeof(*tcp));
    if (tcp == NULL) {
        LOG_ERROR("rpc", "accept: out of memory");
        return;
    }
    uv_tcp_init(s->loop, tcp);
    if (uv_accept(ls, (uv_stream_t *)tcp) != 0) {
        uv_close((uv_handle_t *)tcp, rpc_conn_close_cb);
        return;
    }
    s->st.accepted++;
    pconn_start(s, tcp);
}

/* ---- public API ---- */

struct rpc_server *rpc_server_new(uv_loop_t *loop, char *err)
{
    struct rpc_server *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->loop = loop;
    rpc_list_init(&s->pending);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = true;
    return s;
}

int rpc_server_listen(struct rpc_server *s, const char *ip, int port,
                      char *err)
{
    struct sockaddr_storage ss;
    char q[ERR_LEN];
    int rv;

    err_quote(q, sizeof(q), ip);
    if (s->listening || s->closing)
        return err_set(err, ERR_INVAL, "rpc server already listening");
    if (port < 0 || port > 65535)
        return err_set(err, ERR_INVAL, "bad port %d", port);
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
        return err_set(err, ERR_INVAL, "bad listen address '%s'", q);
    rv = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&s->listener, RPC_BACKLOG, on_accept);
    if (rv != 0)
        return err_set(err, ERR_IO, "listen on '%s' port %d: %s", q, port,
                       uv_strerror(rv));
    s->listening = true;
    return 0;
}

int rpc_server_port(struct rpc_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    if (!s->listening ||
        uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void rpc_server_set_http(struct rpc_server *s, rpc_http_conn_fn fn,
                         void *ctx)
{
    s->http_fn = fn;
    s->http_ctx = ctx;
}

void rpc_server_stats(struct rpc_server *s, struct rpc_server_stats *st)
{
    *st = s->st;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct rpc_server *s = h->data;

    s->listener_open = false;
    server_maybe_finish(s);
}

void rpc_server_close(struct rpc_server *s, rpc_close_cb cb, void *ctx)
{
    struct rpc_link *l, *next;

    if (s == NULL)
        return;
    assert(!s->closing);
    s->closing = true;
    s->close_cb = cb;
    s->close_ctx = ctx;
    if (s->raft != NULL) {
        rpc_raft_server_gone(s->raft);
        s->raft = NULL;
    }
    for (l = s->pending.next; l != &s->pending; l = next) {
        struct pconn *pc = RPC_CONTAINER(l, struct pconn, link);

        next = l->next;
        if (pc->state == P_PEEK)
            end_peek(pc, V_DROP);
        else if (pc->state == P_HANDSHAKE)
            drop(pc, "server closing");
    }
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

int rpc_server_raft_attach(struct rpc_server *s, struct rpc_raft *r,
                           char *err)
{
    if (s->closing)
        return err_set(err, ERR_SHUTDOWN, "rpc server closing");
    if (s->raft != NULL && s->raft != r)
        return err_set(err, ERR_EXISTS,
                       "rpc server already has a raft transport");
    s->raft = r;
    return 0;
}

void rpc_server_raft_detach(struct rpc_server *s, struct rpc_raft *r)
{
    struct rpc_link *l, *next;

    if (s->raft != r)
        return;
    s->raft = NULL;
    for (l = s->pending.next; l != &s->pending; l = next) {
        struct pconn *pc = RPC_CONTAINER(l, struct pconn, link);

        next = l->next;
        if (pc->state == P_HANDSHAKE)
            drop(pc, "raft transport closed");
    }
}

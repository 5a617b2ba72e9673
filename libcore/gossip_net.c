/* gossip_net.c - libuv transport: UDP datagrams and TCP streams.
 *
 * Layer: replication (uses util). Thread: loop only.
 * One UDP socket and one TCP listener on bind:port. A stream
 * connection (ours or a peer's) carries one request and one reply and
 * is bounded by tcp_timeout (a fallback ping by its probe deadline) and
 * GOSSIP_STREAM_MAX bytes; at most NET_MAX_IN inbound ones at a time.
 * Every callback into the core is bracketed by gossip_net_enter/exit,
 * which set the core's clock and re-arm its timer.
 * Owns: the sockets, every connection (two uv handles each, freed when
 * both close callbacks ran) and in-flight UDP sends.
 * Tests: t/unit/check_gossip.c (core only); interop checked by hand
 */
#include "gossip_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define NET_MAX_IN 64

struct conn {
    struct conn *prev, *next;
    struct gossip_net *net;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    struct gossip_buf in, out;
    struct gossip_sop *op;      /* NULL for inbound */
    int open;                   /* uv handles not yet closed */
    int dial_rc;                /* uv_tcp_connect failed at once */
    bool closing, inbound;
};

struct gossip_net {
    struct gossip *g;
    uv_udp_t udp;
    uv_tcp_t tcp;
    struct conn conns;          /* list head */
    size_t n_in;
    bool udp_busy;
    uint8_t rbuf[GOSSIP_PKT_MAX];
};

struct usend {
    uv_udp_send_t req;
    struct gossip *g;
    uint8_t data[];
};

/* ---- clock and timer glue ---- */

static void on_core_timer(uv_timer_t *t);

void gossip_net_enter(struct gossip *g)
{
    uint64_t now = uv_now(g->loop);

    if (now > g->now)
        g->now = now;
}

/* Re-arm the core's timer if something now wants it earlier. */
void gossip_net_exit(struct gossip *g)
{
    uint64_t now = uv_now(g->loop);

    if (g->closing || !g->started || g->next_wake >= g->armed_at)
        return;
    g->armed_at = g->next_wake;
    uv_timer_start(&g->timer, on_core_timer,
                   g->next_wake > now ? g->next_wake - now : 0, 0);
}

static void on_core_timer(uv_timer_t *t)
{
    struct gossip *g = t->data;
    uint64_t next;

    g->armed_at = UINT64_MAX;
    next = gossip_sm_advance(g, uv_now(g->loop));
    g->next_wake = next;
    gossip_net_exit(g);
}

/* ---- addresses ---- */

void gossip_net_sockaddr(const struct gossip_addr *a,
                         struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->len == 16) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
    }
}

bool gossip_net_from_sockaddr(const struct sockaddr *sa,
                              struct gossip_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        memcpy(a->ip, &s4->sin_addr, 4);
        a->len = 4;
        a->port = ntohs(s4->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        memcpy(a->ip, &s6->sin6_addr, 16);
        a->len = 16;
        a->port = ntohs(s6->sin6_port);
        return true;
    }
    return false;
}

/* ---- UDP ---- */

static void on_usend(uv_udp_send_t *req, int status)
{
    free(req->data);
}

static void net_send(struct gossip *g, const struct gossip_addr *to,
                     const uint8_t *buf, size_t len)
{
    struct gossip_net *net = g->net;
    struct sockaddr_storage ss;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    struct usend *us;
    int rc;

    if (net == NULL || g->closing || to->len == 0)
        return;
    gossip_net_sockaddr(to, &ss);
    rc = uv_udp_try_send(&net->udp, &b, 1, (struct sockaddr *)&ss);
    if (rc >= 0 || (rc != UV_EAGAIN && rc != UV_ENOSYS)) {
        if (rc < 0)
            LOG_DEBUG("gossip", "udp send: %s", uv_strerror(rc));
        return;
    }
    us = malloc(sizeof(*us) + len);
    if (us == NULL)
        return;
    us->g = g;
    us->req.data = us;
    memcpy(us->data, buf, len);
    b = uv_buf_init((char *)us->data, (unsigned)len);
    if (uv_udp_send(&us->req, &net->udp, &b, 1, (struct sockaddr *)&ss,
                    on_usend) != 0)
        free(us);
}

static void on_ualloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct gossip_net *net = h->data;

    if (net->udp_busy) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    net->udp_busy = true;
    *buf = uv_buf_init((char *)net->rbuf, sizeof(net->rbuf));
}

static void on_urecv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                     const struct sockaddr *from, unsigned flags)
{
    struct gossip_net *net = h->data;
    struct gossip *g = net->g;
    struct gossip_addr a;

    if (buf->base == (char *)net->rbuf)
        net->udp_busy = false;
    if (n <= 0 || from == NULL || g->closing || !g->started)
        return;
    gossip_net_enter(g);
    if (flags & UV_UDP_PARTIAL)
        gossip_sm_drop(g, "oversized packet", ERR_TOOBIG);
    else if (gossip_net_from_sockaddr(from, &a))
        gossip_sm_packet(g, (const uint8_t *)buf->base, (size_t)n, &a);
    gossip_net_exit(g);
}

/* ---- connections ---- */

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct gossip *g = c->net->g;

    if (--c->open > 0)
        return;
    gossip_buf_release(&c->in);
    gossip_buf_release(&c->out);
    free(c);
    g->open_handles--;
    gossip_net_maybe_done(g);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->prev->next = c->next;
    c->next->prev = c->prev;
    if (c->inbound)
        c->net->n_in--;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    uv_close((uv_handle_t *)&c->timer, conn_closed);
}

/* Hand an outbound exchange's result to the core, then close. */
static void conn_finish(struct conn *c, int rc, const char *why)
{
    struct gossip *g = c->net->g;
    struct gossip_sop *op = c->op;

    c->op = NULL;
    conn_close(c);
    if (op != NULL) {
        gossip_net_enter(g);
        gossip_sm_stream_done(g, op, rc, c->in.p, c->in.len, why);
        gossip_net_exit(g);
    }
}

static void fail_uv(struct conn *c, const char *what, int status)
{
    char why[160], addr[80];

    if (c->op != NULL)
        gossip_addr_str(&c->op->to, addr, sizeof(addr));
    else
        snprintf(addr, sizeof(addr), "peer");
    snprintf(why, sizeof(why), "%s %s: %s", what, addr,
             status == UV_EOF ? "EOF" : uv_strerror(status));
    conn_finish(c, status == UV_ETIMEDOUT ? ERR_TIMEOUT : ERR_IO, why);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct conn *c = t->data;

    if (c->inbound)
        conn_close(c);
    else if (c->dial_rc != 0)
        fail_uv(c, "dial tcp", c->dial_rc);
    else
        fail_uv(c, "i/o timeout talking to", UV_ETIMEDOUT);
}

static struct conn *conn_new(struct gossip_net *net, bool inbound)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct gossip *g = net->g;

    if (c == NULL)
        return NULL;
    c->net = net;
    c->inbound = inbound;
    gossip_buf_init(&c->in, GOSSIP_STREAM_MAX);
    gossip_buf_init(&c->out, 0);
    if (uv_tcp_init(g->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    uv_timer_init(g->loop, &c->timer);
    c->tcp.data = c->timer.data = c->creq.data = c->wreq.data = c;
    c->open = 2;
    g->open_handles++;
    c->next = &net->conns;
    c->prev = net->conns.prev;
    net->conns.prev->next = c;
    net->conns.prev = c;
    if (inbound)
        net->n_in++;
    return c;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct conn *c = h->data;
    size_t cap = c->in.len + 64 * 1024;

    /* One byte past the limit, so on_read can see it was exceeded. */
    if (cap > GOSSIP_STREAM_MAX + 1)
        cap = GOSSIP_STREAM_MAX + 1;
    if (c->in.cap < cap) {
        uint8_t *np = realloc(c->in.p, cap);

        if (np != NULL) {
            c->in.p = np;
            c->in.cap = cap;
        }
    }
    if (c->in.cap <= c->in.len) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    *buf = uv_buf_init((char *)c->in.p + c->in.len,
                       (unsigned)(c->in.cap - c->in.len));
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = req->data;

    if (c->inbound)
        conn_close(c);
    else if (status < 0)
        fail_uv(c, "write to", status);
}

static int conn_write(struct conn *c, const uint8_t *p, size_t n)
{
    uv_buf_t b;

    gossip_buf_reset(&c->out);
    if (gossip_buf_put(&c->out, p, n) != 0)
        return c->out.err;
    b = uv_buf_init((char *)c->out.p, (unsigned)c->out.len);
    return uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* Inbound: feed the core until it has a whole message. */
static void inbound_data(struct conn *c)
{
    struct gossip *g = c->net->g;
    struct gossip_buf reply;
    int rc;

    gossip_buf_init(&reply, 0);
    gossip_net_enter(g);
    rc = gossip_sm_stream_in(g, c->in.p, c->in.len, &reply);
    gossip_net_exit(g);
    if (rc != GOSSIP_MORE) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (reply.len == 0 || conn_write(c, reply.p, reply.len) != 0)
            conn_close(c);
    }
    gossip_buf_release(&reply);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    int need;

    if (c->closing)
        return;
    if (n < 0) {
        if (c->inbound)
            conn_close(c);
        else
            fail_uv(c, "read from", (int)n);
        return;
    }
    c->in.len += (size_t)n;
    if (c->in.len > GOSSIP_STREAM_MAX) {
        gossip_sm_drop(c->net->g, "oversized stream", ERR_TOOBIG);
        conn_finish(c, ERR_TOOBIG, "stream larger than the limit");
        return;
    }
    if (c->inbound) {
        inbound_data(c);
        return;
    }
    need = gossip_stream_need(c->in.p, c->in.len);
    if (need == 0)
        conn_finish(c, 0, NULL);
    else if (need != GOSSIP_MORE)
        conn_finish(c, ERR_PARSE, "malformed reply");
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;

    if (c->closing)
        return;
    if (status < 0) {
        fail_uv(c, "dial tcp", status);
        return;
    }
    if (conn_write(c, c->op->req, c->op->req_len) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        fail_uv(c, "write to", UV_EIO);
}

static void net_stream(struct gossip *g, struct gossip_sop *op)
{
    struct gossip_net *net = g->net;
    struct sockaddr_storage ss;
    struct conn *c = net && !g->closing ? conn_new(net, false) : NULL;
    uint64_t now = uv_now(g->loop);

    if (c == NULL) {
        op->net = NULL;
        gossip_sm_stream_done(g, op, g->closing ? ERR_SHUTDOWN : ERR_NOMEM,
                              NULL, 0, NULL);
        return;
    }
    c->op = op;
    op->net = c;
    gossip_net_sockaddr(&op->to, &ss);
    uv_timer_start(&c->timer, on_conn_timer,
                   op->deadline > now ? op->deadline - now : 0, 0);
    c->dial_rc = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&ss,
                                on_connect);
    if (c->dial_rc != 0)
        uv_timer_start(&c->timer, on_conn_timer, 0, 0);
}

static void on_accept(uv_stream_t *server, int status)
{
    struct gossip_net *net = server->data;
    struct gossip *g = net->g;
    struct conn *c;

    if (status < 0 || g->closing || !g->started)
        return;
    c = conn_new(net, true);
    if (c == NULL)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        net->n_in > NET_MAX_IN) {
        if (net->n_in > NET_MAX_IN)
            LOG_WARN("gossip", "too many pending stream connections");
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_conn_timer, g->t.tcp_timeout, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

/* ---- lifecycle ---- */

static void net_closed(uv_handle_t *h)
{
    struct gossip *g = h->data;

    g->open_handles--;
    gossip_net_maybe_done(g);
}

static int bind_all(struct gossip_net *net, char *err)
{
    struct gossip *g = net->g;
    struct sockaddr_storage ss;
    char where[80];
    int rc;

    gossip_net_sockaddr(&g->bind, &ss);
    gossip_addr_str(&g->bind, where, sizeof(where));
    rc = uv_udp_bind(&net->udp, (struct sockaddr *)&ss, UV_UDP_REUSEADDR);
    if (rc == 0)
        rc = uv_udp_recv_start(&net->udp, on_ualloc, on_urecv);
    if (rc != 0)
        return err_set(err, ERR_IO, "binding UDP %s: %s", where,
                       uv_strerror(rc));
    rc = uv_tcp_bind(&net->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&net->tcp, 128, on_accept);
    if (rc != 0)
        return err_set(err, ERR_IO, "binding TCP %s: %s", where,
                       uv_strerror(rc));
    return 0;
}

int gossip_net_open(struct gossip *g, char *err)
{
    struct gossip_net *net = calloc(1, sizeof(*net));

    if (net == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    net->g = g;
    net->conns.next = net->conns.prev = &net->conns;
    g->net = net;
    g->tp.send = net_send;
    g->tp.stream = net_stream;
    uv_udp_init(g->loop, &net->udp);
    uv_tcp_init(g->loop, &net->tcp);
    net->udp.data = net->tcp.data = net;
    g->open_handles += 2;
    return bind_all(net, err);
}

/* Finish outbound exchanges (ERR_SHUTDOWN) and close every handle. */
void gossip_net_close(struct gossip *g)
{
    struct gossip_net *net = g->net;

    if (net == NULL)
        return;
    while (net->conns.next != &net->conns) {
        struct conn *c = net->conns.next;

        if (c->op != NULL)
            conn_finish(c, ERR_SHUTDOWN, "shutting down");
        else
            conn_close(c);
    }
    net->udp.data = net->tcp.data = g;
    uv_close((uv_handle_t *)&net->udp, net_closed);
    uv_close((uv_handle_t *)&net->tcp, net_closed);
}

void gossip_net_free(struct gossip *g)
{
    free(g->net);
    g->net = NULL;
}

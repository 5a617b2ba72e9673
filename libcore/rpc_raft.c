/* rpc_raft.c - libraft transport over the RPC port.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Owns: the transport state (t->impl, malloc'd) and every outgoing
 * connect until its callback ran (struct dial, with a raft_malloc'd
 * uv_tcp_t that goes to libraft on success).
 *
 * Contract, as libraft 0.15's own TCP transport behaves:
 * - connect() that returns non-zero never calls cb (libraft retries
 *   after its connect_retry_delay); otherwise cb runs exactly once: with
 *   the stream and 0 once the handshake is written, with NULL and
 *   RAFT_NOCONNECTION if the TCP connect or the handshake write failed,
 *   with NULL and RAFT_CANCELED if close() came first. It never runs from
 *   inside connect() or close().
 * - Incoming streams are accepted and handshaken by the rpc_server
 *   (rpc.c) and delivered to the callback given to listen(); before
 *   listen() and after close() they are dropped there, so the accept
 *   callback is never called after close().
 * - close() drops handshakes in progress, cancels connects, and calls
 *   its callback (from the loop, never from inside close()) once every
 *   connect callback has run and every handle of ours is closed.
 * libraft 0.15's struct raft_uv_transport has no version field (newer
 * releases add one, which must then be set to 1).
 * Tests: t/unit/check_rpc.c
 */
#include "rpc_int.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct rpc_raft {
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    struct rpc_server *s;
    uint64_t id;
    char address[RPC_HS_ADDR_MAX + 1];
    raft_uv_accept_cb accept_cb;
    struct rpc_link dials;
    bool closing, closer_done;
    uv_timer_t closer; /* never started: closed only to defer close_cb */
    raft_uv_transport_close_cb close_cb;
    rpc_raft_peer_gone_cb gone_cb;
    void *gone_ctx;
};

/* An outgoing stream: libraft owns it once connected and frees it with
 * raft_free, which frees the whole of this (tcp comes first). */
struct peer_tcp {
    uv_tcp_t tcp;
    struct rpc_raft *r;
    uint64_t id;
};

struct dial {
    struct rpc_link link; /* r->dials */
    struct rpc_raft *r;
    struct raft_uv_connect *req;
    uv_tcp_t *tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    bool aborting;
    int status; /* for cb once the tcp closed */
    size_t hs_len;
    uint8_t hs[RPC_HS_MAX];
};

static void maybe_finish(struct rpc_raft *r)
{
    raft_uv_transport_close_cb cb = r->close_cb;

    if (!r->closing || !r->closer_done || !rpc_list_empty(&r->dials) ||
        cb == NULL)
        return;
    r->close_cb = NULL;
    cb(r->t);
}

static void on_dial_closed(uv_handle_t *h)
{
    struct dial *d = h->data;
    struct rpc_raft *r = d->r;
    struct raft_uv_connect *req = d->req;
    int status = d->status;

    raft_free(h);
    rpc_list_remove(&d->link);
    free(d);
    req->cb(req, NULL, status);
    maybe_finish(r);
}

static void dial_abort(struct dial *d, int status)
{
    d->aborting = true;
    d->status = status;
    uv_close((uv_handle_t *)d->tcp, on_dial_closed);
}

/* No buffer: libuv then reads nothing itself and only tells us the
 * stream is readable (UV_ENOBUFS). Had libuv read the EOF or the reset,
 * it would mark the stream unwritable, uv_write would fail at once, and
 * libraft turns a send that fails synchronously into a fatal error. */
static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(NULL, 0);
}

/* libraft never reads an outgoing stream, so it learns that the peer
 * went away (a killed server: FIN, then nothing) only when a write
 * fails, and the first write after that still "succeeds" into the
 * kernel and is lost: after a restart the first vote request or answer
 * to it vanished, and an election waited for the next randomized
 * timeout. Watching the stream tells at once; shutting our side makes
 * the next write fail (in its callback), so libraft reconnects, and
 * raftglue sends a failed vote message again. */
static void on_peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct peer_tcp *pt = (struct peer_tcp *)s; /* ours: tp_connect */
    char sink[256]; /* libraft's peers never write back */
    uv_os_fd_t fd;
    ssize_t got;

    (void)n;
    (void)buf;
    if (uv_fileno((uv_handle_t *)s, &fd) != 0)
        return;
    do
        got = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
    while (got > 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                    errno == EINTR))
        return;
    uv_read_stop(s); /* EOF or reset */
    shutdown(fd, SHUT_WR);
    if (pt->r->gone_cb != NULL && !pt->r->closing)
        pt->r->gone_cb(pt->r->gone_ctx, pt->id);
}

static void on_written(uv_write_t *w, int status)
{
    struct dial *d = w->data;
    struct raft_uv_connect *req = d->req;
    uv_tcp_t *tcp = d->tcp;

    if (d->aborting)
        return;
    if (status < 0) {
        snprintf(d->r->t->errmsg, sizeof(d->r->t->errmsg),
                 "raft handshake write: %s", uv_strerror(status));
        dial_abort(d, RAFT_NOCONNECTION);
        return;
    }
    rpc_list_remove(&d->link);
    free(d);
    tcp->data = NULL;
    uv_tcp_nodelay(tcp, 1);
    uv_read_start((uv_stream_t *)tcp, peer_alloc, on_peer_read);
    req->cb(req, (uv_stream_t *)tcp, 0);
}

static void on_connected(uv_connect_t *c, int status)
{
    struct dial *d = c->data;
    uv_buf_t buf;
    int rv;

    if (d->aborting)
        return;
    rv = status;
    if (rv == 0) {
        buf = uv_buf_init((char *)d->hs, (unsigned)d->hs_len);
        rv = uv_write(&d->wreq, (uv_stream_t *)d->tcp, &buf, 1, on_written);
    }
    if (rv != 0) {
        snprintf(d->r->t->errmsg, sizeof(d->r->t->errmsg), "connect: %s",
                 uv_strerror(rv));
        dial_abort(d, RAFT_NOCONNECTION);
    }
}

static int tp_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
                      raft_id id, const char *address, raft_uv_connect_cb cb)
{
    struct rpc_raft *r = t->impl;
    struct sockaddr_storage ss;
    struct peer_tcp *pt;
    struct dial *d;
    int rv;

    if (r->closing)
        return RAFT_CANCELED;
    if (rpc_addr_parse(address, &ss, t->errmsg) != 0)
        return RAFT_NOCONNECTION;
    d = calloc(1, sizeof(*d));
    if (d == NULL || (pt = raft_malloc(sizeof(*pt))) == NULL) {
        free(d);
        snprintf(t->errmsg, sizeof(t->errmsg), "out of memory");
        return RAFT_NOMEM;
    }
    pt->r = r;
    pt->id = id;
    d->tcp = &pt->tcp;
    d->hs_len = rpc_hs_encode(d->hs, r->id, r->address);
    assert(d->hs_len > 0); /* tp_init checked the address */
    d->r = r;
    d->req = req;
    req->cb = cb;
    uv_tcp_init(r->loop, d->tcp);
    d->tcp->data = d->creq.data = d->wreq.data = d;
    rv = uv_tcp_connect(&d->creq, d->tcp, (struct sockaddr *)&ss,
                        on_connected);
    if (rv != 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "connect to %s: %s", address,
                 uv_strerror(rv));
        uv_close((uv_handle_t *)d->tcp, rpc_conn_close_cb);
        free(d);
        return RAFT_NOCONNECTION;
    }
    rpc_list_push(&r->dials, &d->link);
    return 0;
}

static int tp_init(struct raft_uv_transport *t, raft_id id,
                   const char *address)
{
    struct rpc_raft *r = t->impl;
    size_t n = address != NULL ? strlen(address) : 0;

    if (id == 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "server id is zero");
        return RAFT_BADID;
    }
    if (n == 0 || n > RPC_HS_ADDR_MAX) {
        snprintf(t->errmsg, sizeof(t->errmsg),
                 "address empty or over %d bytes", RPC_HS_ADDR_MAX);
        return RAFT_INVALID;
    }
    r->id = id;
    memcpy(r->address, address, n + 1);
    return 0;
}

static int tp_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct rpc_raft *r = t->impl;

    if (r->closing)
        return RAFT_CANCELED;
    r->accept_cb = cb;
    if (r->s == NULL)
        LOG_DEBUG("rpc", "raft transport has no rpc server: "
                         "no incoming connections");
    return 0;
}

static void on_closer_closed(uv_handle_t *h)
{
    struct rpc_raft *r = h->data;

    r->closer_done = true;
    maybe_finish(r);
}

static void tp_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    struct rpc_raft *r = t->impl;
    struct rpc_link *l;

    assert(!r->closing);
    r->closing = true;
    r->close_cb = cb;
    r->accept_cb = NULL;
    if (r->s != NULL)
        rpc_server_raft_detach(r->s, r);
    r->s = NULL;
    for (l = r->dials.next; l != &r->dials; l = l->next) {
        struct dial *d = RPC_CONTAINER(l, struct dial, link);

        if (!d->aborting)
            dial_abort(d, RAFT_CANCELED);
    }
    uv_timer_init(r->loop, &r->closer);
    r->closer.data = r;
    uv_close((uv_handle_t *)&r->closer, on_closer_closed);
}

int rpc_raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                            struct rpc_server *s, char *err)
{
    void *data = t->data;
    struct rpc_raft *r;

    memset(t, 0, sizeof(*t));
    t->data = data;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    r->t = t;
    r->loop = loop;
    rpc_list_init(&r->dials);
    if (s != NULL) {
        int rv = rpc_server_raft_attach(s, r, err);
        if (rv != 0) {
            free(r);
            return rv;
        }
    }
    r->s = s;
    t->impl = r;
    t->init = tp_init;
    t->listen = tp_listen;
    t->connect = tp_connect;
    t->close = tp_close;
    return 0;
}

void rpc_raft_on_peer_gone(struct raft_uv_transport *t,
                           rpc_raft_peer_gone_cb cb, void *ctx)
{
    struct rpc_raft *r = t->impl;

    r->gone_cb = cb;
    r->gone_ctx = ctx;
}

void rpc_raft_transport_release(struct raft_uv_transport *t)
{
    struct rpc_raft *r = t->impl;

    if (r == NULL)
        return;
    assert(rpc_list_empty(&r->dials));
    if (r->s != NULL)
        rpc_server_raft_detach(r->s, r);
    free(r);
    t->impl = NULL;
}

bool rpc_raft_listening(const struct rpc_raft *r)
{
    return r->accept_cb != NULL && !r->closing;
}

void rpc_raft_deliver(struct rpc_raft *r, uint64_t id, const char *address,
                      uv_stream_t *stream)
{
    r->accept_cb(r->t, id, address, stream);
}

void rpc_raft_server_gone(struct rpc_raft *r)
{
    r->s = NULL;
}

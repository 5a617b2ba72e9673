/* ping_probe.c - the probe engine of "consul ping": TCP connects, HTTP
 * GETs and memberlist UDP pings, all on non-blocking sockets driven by
 * one poll() loop, each bounded by its own deadline. No threads.
 *
 * The UDP probe is a real memberlist ping: type byte 0 then the msgpack
 * map {Node, SeqNo} (memberlist's net.go ping; keys in go-msgpack's
 * sorted order, as libcore/gossip_codec.c writes them), answered by an
 * ack (type 2, {Payload, SeqNo}) that may come CRC-wrapped (12),
 * inside a compound packet (7) with piggybacked gossip, or
 * LZW-compressed (9: taken as an answer, its SeqNo unread). The socket
 * stays unconnected, so an ICMP "port unreachable" is not seen and a
 * closed UDP port reads as a timeout, as it would through a firewall.
 * Tests: t/t7002-bootstrap-ping.sh, t/t7005-ping-netns.sh
 */
#include <errno.h>
#include <msgpack.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ping_cli.h"
#include "util_rand.h"

#define BATCH 200
#define MAX_DEPTH 4

enum {
    MT_PING = 0, MT_ACK = 2, MT_COMPOUND = 7, MT_COMPRESS = 9, MT_CRC = 12
};

static int64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void finish(struct ping_probe *p, enum ping_result res,
                   const char *detail)
{
    p->res = res;
    p->rtt_ms = (double)(now_us() - p->start_us) / 1000.0;
    snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

static void finish_errno(struct ping_probe *p, int e)
{
    if (e == ECONNREFUSED)
        finish(p, PING_REFUSED, NULL);
    else if (e == ETIMEDOUT)
        finish(p, PING_TIMEOUT, NULL);
    else
        finish(p, PING_ERROR, strerror(e));
}

/* ---- memberlist packets --------------------------------------------- */

static bool key_is(const msgpack_object *k, const char *lit)
{
    size_t n = strlen(lit);

    if (k->type == MSGPACK_OBJECT_STR)
        return k->via.str.size == n && memcmp(k->via.str.ptr, lit, n) == 0;
    if (k->type == MSGPACK_OBJECT_BIN)
        return k->via.bin.size == n && memcmp(k->via.bin.ptr, lit, n) == 0;
    return false;
}

static bool ack_body(const uint8_t *p, size_t n, uint32_t seq)
{
    msgpack_unpacked u;
    bool ok = false;

    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *)p, n, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *m = &u.data.via.map;

        for (uint32_t i = 0; i < m->size; i++)
            if (key_is(&m->ptr[i].key, "SeqNo") &&
                m->ptr[i].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                m->ptr[i].val.via.u64 == seq)
                ok = true;
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

static bool is_ack(const uint8_t *p, size_t n, uint32_t seq, int depth)
{
    size_t off;

    if (n == 0 || depth > MAX_DEPTH)
        return false;
    switch (p[0]) {
    case MT_ACK:
        return ack_body(p + 1, n - 1, seq);
    case MT_CRC:
        return n > 5 && is_ack(p + 5, n - 5, seq, depth + 1);
    case MT_COMPRESS:
        return true;
    case MT_COMPOUND:
        if (n < 2 || n < 2 + 2 * (size_t)p[1])
            return false;
        off = 2 + 2 * (size_t)p[1];
        for (size_t i = 0; i < p[1]; i++) {
            size_t len = (size_t)p[2 + 2 * i] << 8 | p[3 + 2 * i];

            if (off + len > n)
                return false;
            if (is_ack(p + off, len, seq, depth + 1))
                return true;
            off += len;
        }
        return false;
    default:
        return false;
    }
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static int send_ping(struct ping_probe *p)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    unsigned char type = MT_PING;
    ssize_t rc;

    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, (const char *)&type, 1);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "Node");
    pack_str(&pk, p->node != NULL ? p->node : "");
    pack_str(&pk, "SeqNo");
    msgpack_pack_uint32(&pk, p->seq);
    rc = sendto(p->fd, sb.data, sb.size, 0, (struct sockaddr *)&p->to,
                p->to_len);
    msgpack_sbuffer_destroy(&sb);
    return rc < 0 ? errno : 0;
}

static bool same_addr(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void on_udp(struct ping_probe *p)
{
    uint8_t pkt[65536];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n;

    while ((n = recvfrom(p->fd, pkt, sizeof(pkt), 0,
                         (struct sockaddr *)&from, &fl)) >= 0) {
        if (same_addr(&from, &p->to) && is_ack(pkt, (size_t)n, p->seq, 0)) {
            finish(p, PING_OK, NULL);
            return;
        }
        fl = sizeof(from);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        finish_errno(p, errno);
}

/* ---- TCP and HTTP --------------------------------------------------- */

static void send_get(struct ping_probe *p)
{
    char req[1024];
    bool tok = p->token != NULL && p->token[0] != '\0' &&
               strpbrk(p->token, "\r\n") == NULL;
    int n = snprintf(req, sizeof(req), "GET /v1/status/leader HTTP/1.1\r\n"
                     "Host: %s\r\nUser-Agent: proconsul-ping\r\n"
                     "%s%s%sConnection: close\r\n\r\n", p->host,
                     tok ? "X-Consul-Token: " : "", tok ? p->token : "",
                     tok ? "\r\n" : "");

    if (n < 0 || (size_t)n >= sizeof(req)) {
        finish(p, PING_ERROR, "request too long");
        return;
    }
    if (send(p->fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        finish_errno(p, errno ? errno : EIO);
    else
        p->sent = true;
}

static void on_connected(struct ping_probe *p)
{
    if (p->kind == PING_TCP)
        finish(p, PING_OK, NULL);
    else
        send_get(p);
}

/* The status line of the answer: 200 is success. */
static void on_http(struct ping_probe *p)
{
    ssize_t n = recv(p->fd, p->buf + p->got, sizeof(p->buf) - 1 - p->got,
                     0);
    char detail[64];
    int code;

    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            finish_errno(p, errno);
        return;
    }
    p->got += (size_t)n;
    p->buf[p->got] = '\0';
    if (strchr(p->buf, '\n') == NULL && n > 0 &&
        p->got < sizeof(p->buf) - 1)
        return;
    if (sscanf(p->buf, "HTTP/%*d.%*d %d", &code) != 1) {
        finish(p, PING_ERROR, n == 0 ? "connection closed without an "
               "answer" : "not an HTTP answer");
        return;
    }
    snprintf(detail, sizeof(detail), "HTTP %d", code);
    finish(p, code == 200 ? PING_OK : PING_ERROR, detail);
}

static void on_event(struct ping_probe *p, short revents)
{
    int e = 0;
    socklen_t el = sizeof(e);

    if (p->kind == PING_UDP) {
        on_udp(p);
    } else if (!p->sent) {
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
            e = errno;
        if (e != 0)
            finish_errno(p, e);
        else if (revents & POLLOUT)
            on_connected(p);
    } else {
        on_http(p);
    }
}

/* ---- the loop ------------------------------------------------------- */

static void start(struct ping_probe *p, const struct sockaddr_storage *src,
                  socklen_t src_len)
{
    int type = p->kind == PING_UDP ? SOCK_DGRAM : SOCK_STREAM;
    char err[ERR_LEN];
    int e;

    p->res = PING_PENDING;
    p->sent = false;
    p->got = 0;
    p->start_us = now_us();
    if (util_random((unsigned char *)&p->seq, sizeof(p->seq), err) != 0)
        p->seq = (uint32_t)p->start_us;
    p->fd = socket(p->to.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        finish(p, PING_ERROR, strerror(errno));
        return;
    }
    if (src != NULL && bind(p->fd, (const struct sockaddr *)src, src_len)) {
        snprintf(err, sizeof(err), "bind to -I: %s", strerror(errno));
        finish(p, PING_ERROR, err);
        return;
    }
    if (p->kind == PING_UDP) {
        if ((e = send_ping(p)) != 0)
            finish_errno(p, e);
        return;
    }
    if (connect(p->fd, (struct sockaddr *)&p->to, p->to_len) == 0)
        on_connected(p);
    else if (errno != EINPROGRESS)
        finish_errno(p, errno);
}

/* One poll() round over the pending probes; false when none is left. */
static bool round_once(struct ping_probe *p, size_t n, int64_t deadline)
{
    struct pollfd fds[BATCH];
    size_t idx[BATCH], k = 0;
    int64_t wait;

    for (size_t i = 0; i < n; i++) {
        if (p[i].res != PING_PENDING)
            continue;
        fds[k] = (struct pollfd){.fd = p[i].fd, .events =
            p[i].kind != PING_UDP && !p[i].sent ? POLLOUT : POLLIN};
        idx[k++] = i;
    }
    if (k == 0)
        return false;
    wait = (deadline - now_us() + 999) / 1000;
    if (wait > 0 && poll(fds, k, (int)wait) > 0) {
        for (size_t j = 0; j < k; j++)
            if (fds[j].revents != 0)
                on_event(&p[idx[j]], fds[j].revents);
        return true;
    }
    if (now_us() < deadline)
        return true; /* EINTR, or woken a little early */
    for (size_t j = 0; j < k; j++)
        finish(&p[idx[j]], PING_TIMEOUT, NULL);
    return false;
}

int ping_run(struct ping_probe *p, size_t n,
             const struct sockaddr_storage *src, socklen_t src_len,
             int timeout_ms, char *err)
{
    for (size_t b = 0; b < n; b += BATCH) {
        size_t m = n - b < BATCH ? n - b : BATCH;
        int64_t deadline;

        for (size_t i = 0; i < m; i++)
            start(&p[b + i], src, src_len);
        deadline = now_us() + (int64_t)timeout_ms * 1000;
        while (round_once(p + b, m, deadline))
            ;
    }
    (void)err;
    return 0;
}

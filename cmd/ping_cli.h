/* ping_cli.h - what cmd/ping.c and cmd/ping_probe.c share: the probe
 * engine (non-blocking sockets, one poll() loop, a deadline per probe).
 *
 * Included only by those two files; the engine is cmd/ping_probe.c.
 */
#ifndef PROCONSUL_PING_CLI_H
#define PROCONSUL_PING_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "err.h"

enum ping_kind {
    PING_TCP,    /* connect() answered */
    PING_UDP,    /* a memberlist ping, acked */
    PING_HTTP,   /* GET /v1/status/leader answered 200 */
};

enum ping_result {
    PING_PENDING,
    PING_OK,
    PING_REFUSED,
    PING_TIMEOUT,
    PING_ERROR,  /* detail says what */
};

struct ping_probe {
    /* Set by the caller. */
    enum ping_kind kind;
    struct sockaddr_storage to;
    socklen_t to_len;
    const char *node;     /* PING_UDP: the memberlist name, or "" */
    const char *host;     /* PING_HTTP: Host header */
    const char *token;    /* PING_HTTP: X-Consul-Token, may be NULL */
    /* Results. */
    enum ping_result res;
    double rtt_ms;
    char detail[96];
    /* The engine's. */
    int fd;
    int64_t start_us;
    uint32_t seq;
    bool sent;
    size_t got;
    char buf[256];
};

/* Run the probes, all at once (in batches that fit the fd limit), each
 * bounded by timeout_ms; src (may be NULL) is the address every socket
 * binds to first (like ping -I). Fills res, rtt_ms and detail of each.
 * Returns 0, or ERR_IO (err filled) when the setup itself fails. */
int ping_run(struct ping_probe *p, size_t n,
             const struct sockaddr_storage *src, socklen_t src_len,
             int timeout_ms, char *err);

#endif

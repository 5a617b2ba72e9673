/* httpc.h - the CLI's HTTP client for the agent API (libcurl).
 *
 * Layer: http (uses util, codec only). Thread: caller's; blocking.
 * Address resolution as Consul's api package: -http-addr flag, else
 * CONSUL_HTTP_ADDR, else http://127.0.0.1:8500; "host:port", "http://",
 * "https://" and "unix:///path" forms. Token: -token, else -token-file,
 * else CONSUL_HTTP_TOKEN, else CONSUL_HTTP_TOKEN_FILE; sent as
 * X-Consul-Token and never printed.
 * Tests: t/t0*.sh, t/t1*.sh
 */
#ifndef PROCONSUL_HTTPC_H
#define PROCONSUL_HTTPC_H

#include <stddef.h>
#include <stdio.h>

#include "opt.h"

struct httpc_flags {
    const char *http_addr;
    const char *token;
    const char *token_file;
    const char *datacenter;
    bool stale;
};

/* Append the shared HTTP flags (-http-addr, -token, -token-file,
 * -datacenter, -stale when with_stale) to opts, which has room for
 * *n + 5 entries. */
void httpc_add_flags(struct opt *opts, int *n, struct httpc_flags *f,
                     bool with_stale);

struct httpc {
    char *base;      /* "http://127.0.0.1:8500" (no trailing slash) */
    char *unix_path; /* set for unix:// addresses */
    char *token;     /* may be NULL */
    char *dc;        /* may be NULL */
    void *curl;
};

struct httpc_resp {
    long status;
    char *body;      /* NUL-terminated, heap */
    size_t len;
    unsigned long long index; /* X-Consul-Index, 0 if absent */
};

/* Resolve address and token from flags and environment. */
int httpc_init(struct httpc *c, const struct httpc_flags *f, char *err);
void httpc_release(struct httpc *c);

/* Send one request. path begins with "/v1/"; query is appended with '?'
 * or '&' and must already be escaped (may be NULL). body may be NULL.
 * Transport failures return ERR_IO with a message like Consul's:
 * "Get \"http://127.0.0.1:8500/v1/kv/x\": dial tcp 127.0.0.1:8500:
 * connect: connection refused". Any HTTP status is success (0); check
 * resp->status. */
int httpc_do(struct httpc *c, const char *method, const char *path,
             const char *query, const void *body, size_t body_len,
             struct httpc_resp *resp, char *err);
void httpc_resp_release(struct httpc_resp *r);

/* URL-escape a key path, keeping '/' (for /v1/kv/<key>). Heap result. */
char *httpc_escape_path(const char *s);
/* URL-escape a query value. Heap result. */
char *httpc_escape(const char *s);

/* Write Consul's "Unexpected response code: 404 (body)" for resp. */
void httpc_format_status(const struct httpc_resp *r, char *out, size_t n);

#endif

/* httpc.h - the CLI's HTTP client for the agent API (libcurl).
 *
 * Layer: http (uses util, codec only). Thread: caller's; blocking.
 * Address resolution as Consul's api package: -http-addr flag, else
 * CONSUL_HTTP_ADDR, else http://127.0.0.1:8500; "host:port", "http://",
 * "https://" and "unix:///path" forms; CONSUL_HTTP_SSL=true makes the
 * default scheme https. Token as Consul >= 1.15 (api.NewClient):
 * -token-file, else -token, else CONSUL_HTTP_TOKEN_FILE, else
 * CONSUL_HTTP_TOKEN (a token file's contents are trimmed; an empty file
 * falls back to the token); sent as X-Consul-Token and never printed.
 * TLS from the -ca-file/-ca-path/-client-cert/-client-key/-tls-server-name
 * flags or CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT,
 * CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME, CONSUL_HTTP_SSL_VERIFY;
 * basic auth from CONSUL_HTTP_AUTH ("user:pass").
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
    /* Set by httpc_add_tls_flags. */
    const char *ca_file;
    const char *ca_path;
    const char *client_cert;
    const char *client_key;
    const char *tls_server_name;
};

/* Total number of entries httpc_add_flags + httpc_add_tls_flags append. */
#define HTTPC_N_FLAGS 10

/* Append the shared HTTP flags (-http-addr, -token, -token-file,
 * -datacenter, -stale when with_stale) to opts, which has room for
 * *n + 5 entries. */
void httpc_add_flags(struct opt *opts, int *n, struct httpc_flags *f,
                     bool with_stale);
/* Append Consul's TLS client flags (-ca-file, -ca-path, -client-cert,
 * -client-key, -tls-server-name); opts has room for *n + 5 entries. */
void httpc_add_tls_flags(struct opt *opts, int *n, struct httpc_flags *f);

struct httpc {
    char *base;      /* "http://127.0.0.1:8500" (no trailing slash) */
    char *unix_path; /* set for unix:// addresses */
    char *token;     /* may be NULL */
    char *dc;        /* may be NULL */
    void *curl;
    bool stale;      /* add ?stale to GET requests */
    char *req_base;  /* base used on the wire (differs for unix://) */
    char *host;      /* "host:port" as given, for transport errors */
    char *ca_file, *ca_path, *client_cert, *client_key, *tls_server_name;
    char *auth;      /* CONSUL_HTTP_AUTH, may be NULL */
    bool insecure;   /* CONSUL_HTTP_SSL_VERIFY=false */
};

struct httpc_resp {
    long status;
    char *body;      /* NUL-terminated, heap */
    size_t len;
    unsigned long long index; /* X-Consul-Index, 0 if absent */
};

/* Resolve address and token from flags and environment. Errors carry
 * Consul's text ("Unknown protocol scheme: ftp", "Error loading token
 * file <f> : open <f>: no such file or directory"); callers prefix them
 * with "Error connecting to Consul agent: ". On failure nothing needs
 * releasing; on success call httpc_release. f may be NULL. */
int httpc_init(struct httpc *c, const struct httpc_flags *f, char *err);
void httpc_release(struct httpc *c);

/* The start of a CLI command without arguments, as Consul's: parse opts
 * (which already hold the flags of hf), refuse positional arguments
 * ("Too many arguments (expected 0, got N)"), connect to the agent.
 * Returns -1 with c ready (httpc_release it), or the exit status after
 * printing usage or the error. */
int httpc_cli_start(const struct opt *opts, int n, int argc, char **argv,
                    const char *synopsis, const char *description,
                    const struct httpc_flags *hf, struct httpc *c);

/* Send one request. path begins with "/v1/" and must already be escaped
 * (httpc_escape_path); query is "k=v&k2" with escaped values (may be
 * NULL). Like Go's url.Values.Encode, parameters are sent sorted by key,
 * each as "k=v" ("recurse" goes out as "recurse="); ?dc= is added when a
 * datacenter is set and ?stale= for GET when stale is set. body may be
 * NULL (a PUT then sends an empty body).
 * Transport failures return ERR_IO with a message like Consul's:
 * "Get \"http://127.0.0.1:8500/v1/kv/x\": dial tcp 127.0.0.1:8500:
 * connect: connection refused". Any HTTP status is success (0); check
 * resp->status. */
int httpc_do(struct httpc *c, const char *method, const char *path,
             const char *query, const void *body, size_t body_len,
             struct httpc_resp *resp, char *err);
void httpc_resp_release(struct httpc_resp *r);

/* Streaming bodies (snapshots), without holding them in memory. progress
 * (may be NULL) sees the running byte count of the streamed body;
 * non-zero aborts the transfer (ERR_IO, "aborted"). */
typedef int (*httpc_progress_fn)(void *ctx, unsigned long long bytes);

/* GET like httpc_do, but a 200 response's body is written to fd as it
 * arrives (resp->body stays "", resp->len 0);
 * any other status keeps the first 64 KiB of its body in resp->body for
 * httpc_format_status and writes nothing. A failed write ("writing the
 * response body: <errno text>") or a transport error is ERR_IO; fd may
 * then hold part of the body. */
int httpc_get_to_fd(struct httpc *c, const char *path, const char *query,
                    int fd, httpc_progress_fn progress, void *pctx,
                    struct httpc_resp *resp, char *err);

/* PUT like httpc_do with the body read from fd: size bytes from its
 * current offset, sent as application/octet-stream with a
 * Content-Length. A failed or short read ("reading the request body:
 * ...") is ERR_IO. */
int httpc_put_from_fd(struct httpc *c, const char *path, const char *query,
                      int fd, unsigned long long size,
                      httpc_progress_fn progress, void *pctx,
                      struct httpc_resp *resp, char *err);

/* URL-escape a key path, keeping '/' (for /v1/kv/<key>). Heap result. */
char *httpc_escape_path(const char *s);
/* URL-escape a query value. Heap result. */
char *httpc_escape(const char *s);

/* Write Consul's "Unexpected response code: 404 (body)" for resp. */
void httpc_format_status(const struct httpc_resp *r, char *out, size_t n);

#endif

/* rpc.h - the server RPC port (8300): one TCP listener whose connections
 * are told apart by their first byte, a libraft transport on top of it,
 * and a small pooled HTTP/1.1 client that servers and client agents use
 * to forward API requests and make internal calls.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Owns: the listening socket, every accepted connection until it is
 * classified, outgoing Raft connects, the client's pooled connections.
 *
 * First byte of an accepted connection (read with MSG_PEEK, so nothing
 * is consumed):
 *   0x01        Raft (Consul's rpcRaft byte): the transport reads our
 *               handshake (see rpc.c) and hands the stream to libraft.
 *   'A'..'Z'    HTTP/1.1: a forwarded API request or an internal call;
 *               the connection goes, untouched, to the http callback.
 *   other       closed and counted in rpc_server_stats().dropped.
 * A connection that sends nothing within 10 s is closed (a Raft one
 * must also finish its handshake within those 10 s).
 * Tests: t/unit/check_rpc.c, t/t4*.sh
 */
#ifndef PROCONSUL_RPC_H
#define PROCONSUL_RPC_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

#define RPC_BYTE_RAFT 0x01
#define RPC_DEFAULT_PORT 8300

/* ---- server ---- */

struct rpc_server;

/* An accepted connection whose first byte looks like HTTP. conn is an
 * initialised uv_tcp_t of the server's loop from raft_malloc (the agent
 * installs its own allocator, raftglue_use_nofork_heap) that nothing has
 * read from; the callee owns it and must uv_close() it with
 * rpc_conn_close_cb (h2o_uv_socket_create(conn, rpc_conn_close_cb)). */
typedef void (*rpc_http_conn_fn)(void *ctx, uv_tcp_t *conn /* takes */);

/* The close callback for such a conn, and for any handle from raft_malloc
 * (the transport's own): raft_free()s it. raft_free takes
 * malloc's pointers too, so one callback serves handles from either. */
void rpc_conn_close_cb(uv_handle_t *h);

/* Allocate; nothing is bound yet. */
struct rpc_server *rpc_server_new(uv_loop_t *loop, char *err);
/* Bind and listen on ip:port ("0.0.0.0", "127.0.0.1", "::1"); port 0
 * picks a free one (see rpc_server_port). */
int rpc_server_listen(struct rpc_server *s, const char *ip, int port,
                      char *err);
/* The bound port, or -1 when not listening. */
int rpc_server_port(struct rpc_server *s);
void rpc_server_set_http(struct rpc_server *s, rpc_http_conn_fn fn,
                         void *ctx);

/* accepted = raft + http + dropped + those still being classified;
 * raft counts streams handed to libraft, http those handed to the http
 * callback, dropped every other close (bad first byte, EOF, timeout,
 * bad handshake, raft not listening, no http callback, server close). */
struct rpc_server_stats {
    uint64_t accepted, raft, http, dropped;
};
void rpc_server_stats(struct rpc_server *s, struct rpc_server_stats *st);

/* Close the listener and every connection still being classified; cb
 * runs once every handle is closed (s is freed before cb). Connections
 * already handed to raft or to the http callback are theirs. Does not
 * close the raft transport: raft_close() does that. */
typedef void (*rpc_close_cb)(void *ctx);
void rpc_server_close(struct rpc_server *s, rpc_close_cb cb, void *ctx);

/* ---- Raft transport ----
 * Fill t (caller memory, lives as long as the raft instance) with a
 * transport whose listen() takes Raft connections from s and whose
 * connect() dials "ip:port", sends RPC_BYTE_RAFT and the handshake.
 * Streams given to libraft come from raft_malloc (libraft frees them).
 * The transport's close (called by libraft from raft_close) cancels
 * pending connects (their cb runs with RAFT_CANCELED) and handshakes.
 * s may be NULL (dial only). s should outlive raft's close; if it closes
 * first the transport just receives nothing more. The handshake layout
 * is in rpc_int.h. Fails with ERR_EXISTS if s already has a transport. */
int rpc_raft_transport_init(struct raft_uv_transport *t, uv_loop_t *loop,
                            struct rpc_server *s, char *err);
/* cb(ctx, id) when the stream we opened to server id reads EOF or a
 * reset: its process went away (kill -9 closes its sockets at once) or
 * the connection broke. */
typedef void (*rpc_raft_peer_gone_cb)(void *ctx, uint64_t id);
void rpc_raft_on_peer_gone(struct raft_uv_transport *t,
                           rpc_raft_peer_gone_cb cb, void *ctx);
/* Free what rpc_raft_transport_init allocated, after raft closed it
 * (or when raft_init was never reached). */
void rpc_raft_transport_release(struct raft_uv_transport *t);

/* ---- HTTP client ---- */

struct rpc_client;

struct rpc_header {
    const char *name;
    const char *value;
};

struct rpc_response {
    int status;
    const struct rpc_header *headers; /* as received, in order */
    size_t n_headers;
    const char *body;                 /* NUL-terminated for convenience */
    size_t body_len;
};

/* rc is 0 with resp set (status >= 200; 1xx responses are skipped), or:
 * ERR_UNREACHABLE (connect failed: the
 * request was certainly not delivered), ERR_IO (connection lost after
 * the request was sent: it may or may not have been processed),
 * ERR_TIMEOUT, ERR_TOOBIG (response over RPC_MAX_BODY), ERR_PARSE (not
 * HTTP), ERR_SHUTDOWN (client closed). err describes it (lowercase, no
 * final period). resp and err are borrowed for the call. */
typedef void (*rpc_http_cb)(void *ctx, int rc,
                            const struct rpc_response *resp,
                            const char *err);

#define RPC_MAX_BODY (64u * 1024 * 1024)

struct rpc_client *rpc_client_new(uv_loop_t *loop, char *err);

struct rpc_call;
/* Send one request to addr ("ip:port", "[v6]:port"). target is the
 * request target ("/v1/kv/a?stale"); headers are sent as given (plus
 * Host, Content-Length and Connection: keep-alive, which must not be in
 * h). Idle connections to the same addr are reused (kept at most
 * RPC_IDLE_MS, fewer than the server's keep-alive timeout); a request
 * whose reused connection turns out closed before anything came back is
 * retried once on a new connection. timeout_ms covers the whole call
 * (0: none). On success the call belongs to the client until cb has run;
 * *call (may be NULL) lets the caller cancel it. cb never runs from
 * inside rpc_http_call. If it fails (ERR_INVAL: bad addr, method, target
 * or header; ERR_SHUTDOWN: client closing; ERR_UNREACHABLE: the connect
 * could not even start; ERR_NOMEM), cb never runs. addr is numeric: no
 * name resolution. */
#define RPC_IDLE_MS 4000
/* A body of at least this many bytes is not copied: it must stay valid
 * until cb has run or the call was cancelled. */
#define RPC_BORROW_MIN (1024u * 1024)
int rpc_http_call(struct rpc_client *c, const char *addr, const char *method,
                  const char *target, const struct rpc_header *h, size_t nh,
                  const void *body, size_t len, uint64_t timeout_ms,
                  rpc_http_cb cb, void *ctx, struct rpc_call **call,
                  char *err);
/* Cancel a call whose cb has not run yet: it never will; its
 * connection is closed. NULL is a no-op. */
void rpc_call_cancel(struct rpc_call *call);

/* Cancel every call (their cb runs with ERR_SHUTDOWN), close every
 * connection; cb runs when all handles are closed and c is freed. */
void rpc_client_close(struct rpc_client *c, rpc_close_cb cb, void *ctx);

#endif

/* rpc_int.h - internals shared by rpc.c, rpc_raft.c and rpc_client.c.
 *
 * Layer: replication (uses util). Thread: loop only.
 * The module splits as: rpc.c (listener, first-byte classification,
 * reading the Raft handshake of accepted connections, address parsing),
 * rpc_raft.c (the struct raft_uv_transport: outgoing connects and the
 * hand-over of accepted streams to libraft), rpc_client.c (the pooled
 * HTTP/1.1 client).
 * Tests: t/unit/check_rpc.c
 */
#ifndef PROCONSUL_RPC_INT_H
#define PROCONSUL_RPC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "rpc.h"

/* Raft handshake, sent by the dialing side right after connecting
 * (all integers little-endian):
 *   offset  size  field
 *   0       1     RPC_BYTE_RAFT (0x01)
 *   1       8     protocol version, RPC_HS_VERSION (1)
 *   9       8     raft server id of the dialer (non-zero)
 *   17      8     address length n, 1..RPC_HS_ADDR_MAX
 *   25      n     dialer's raft address ("ip:port"), printable ASCII, no NUL
 * Nothing follows but libraft's own messages. */
#define RPC_HS_VERSION 1
#define RPC_HS_FIXED 25
#define RPC_HS_ADDR_MAX 255
#define RPC_HS_MAX (RPC_HS_FIXED + RPC_HS_ADDR_MAX)

/* Longest "ip:port" / "[v6%zone]:port" accepted. */
#define RPC_ADDR_MAX 128

/* Intrusive doubly-linked list with a sentinel head. */
struct rpc_link {
    struct rpc_link *prev, *next;
};

static inline void rpc_list_init(struct rpc_link *h)
{
    h->prev = h->next = h;
}

static inline bool rpc_list_empty(const struct rpc_link *h)
{
    return h->next == h;
}

/* Insert l right after h (at the head of the list). */
static inline void rpc_list_push(struct rpc_link *h, struct rpc_link *l)
{
    l->next = h->next;
    l->prev = h;
    h->next->prev = l;
    h->next = l;
}

static inline void rpc_list_remove(struct rpc_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}

#define RPC_CONTAINER(ptr, type, member)                                \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Parse "a.b.c.d:port" or "[v6]:port" (numeric only, port 1..65535). */
int rpc_addr_parse(const char *addr, struct sockaddr_storage *ss, char *err);

/* Encode the handshake into out (RPC_HS_MAX bytes); returns its length,
 * 0 if address is empty or longer than RPC_HS_ADDR_MAX. */
size_t rpc_hs_encode(uint8_t *out, uint64_t id, const char *address);

/* The transport implementation (rpc_raft.c). */
struct rpc_raft;

/* Server side of the link between a server and its transport. attach
 * fails (ERR_EXISTS) when another transport is attached; detach drops
 * every connection still sending its handshake and delivers nothing
 * more. */
int rpc_server_raft_attach(struct rpc_server *s, struct rpc_raft *r,
                           char *err);
void rpc_server_raft_detach(struct rpc_server *s, struct rpc_raft *r);

/* Transport side: whether listen() was called (and close() was not);
 * hand an accepted, handshaken stream (raft_malloc'd) to libraft; be
 * told that the server is going away. */
bool rpc_raft_listening(const struct rpc_raft *r);
void rpc_raft_deliver(struct rpc_raft *r, uint64_t id, const char *address,
                      uv_stream_t *stream);
void rpc_raft_server_gone(struct rpc_raft *r);

#endif

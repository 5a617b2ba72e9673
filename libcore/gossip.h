/* gossip.h - LAN gossip pool, wire-compatible with memberlist + serf.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Owns: the member table, its broadcast queues, the UDP socket and TCP
 * listener on bind:port (8301), every stream connection, the serf
 * snapshot file (<data-dir>/serf/local.snapshot).
 * Speaks HashiCorp memberlist protocol 2 (understands 1-5; CRC, TCP ping,
 * nacks, LZW-compressed input) with serf delegate protocol 4 (2-5), so a
 * stock `serf agent` is a real peer: join, probe, suspect, dead, leave
 * and push/pull all interoperate. No encryption yet: encrypted packets
 * are dropped and counted.
 * Tests: t/unit/check_gossip.c
 *
 * Lifecycle: gossip_new() (nothing bound yet) -> gossip_start() (bind,
 * replay the snapshot and rejoin what it remembers) -> gossip_join() /
 * gossip_leave() / ... -> gossip_close(), whose callback runs after every
 * uv handle is closed and all memory is freed. Callbacks given in opts
 * run on the loop and must not call gossip_close().
 */
#ifndef PROCONSUL_GOSSIP_H
#define PROCONSUL_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

struct gossip;

/* Longest node name accepted from the wire or from opts. */
#define GOSSIP_NAME_MAX 128
/* memberlist's limit on the encoded tags ("meta") of one node. */
#define GOSSIP_META_MAX 512
#define GOSSIP_DEFAULT_PORT 8301

/* serf MemberStatus; the numbers are those of /v1/agent/members. */
enum gossip_status {
    GOSSIP_NONE = 0,
    GOSSIP_ALIVE = 1,
    GOSSIP_LEAVING = 2,
    GOSSIP_LEFT = 3,
    GOSSIP_FAILED = 4,
};

/* "none", "alive", "leaving", "left", "failed". */
const char *gossip_status_name(enum gossip_status s);

struct gossip_tag {
    const char *key;
    const char *val;
};

/* Timings in ms; gossip_opts_init() fills memberlist's LAN defaults. A
 * zero falls back to the default, except for indirect_checks,
 * gossip_to_dead, dead_reclaim and leave_propagate where 0 means none. */
struct gossip_timing {
    unsigned probe_interval;      /* 1000: one node probed per interval */
    unsigned probe_timeout;       /* 500: wait for a direct UDP ack */
    unsigned suspicion_mult;      /* 4: suspect -> dead after mult *
                                   * max(1, log10(n)) * probe_interval */
    unsigned suspicion_max_mult;  /* 6: upper bound while unconfirmed */
    unsigned indirect_checks;     /* 3: peers asked for indirect pings */
    unsigned gossip_interval;     /* 200 */
    unsigned gossip_nodes;        /* 3: peers per gossip round */
    unsigned gossip_to_dead;      /* 30000: keep gossiping to the dead */
    unsigned retransmit_mult;     /* 4: sends = mult * ceil(log10(n+1)) */
    unsigned push_pull_interval;  /* 30000: full state sync over TCP */
    unsigned tcp_timeout;         /* 10000: stream connect/read limit */
    unsigned dead_reclaim;        /* 30000: a dead node's name may move */
    unsigned reap_interval;       /* 15000 */
    unsigned reconnect_interval;  /* 30000: retry one failed member */
    unsigned reconnect_timeout;   /* 72 h: forget failed members */
    unsigned tombstone_timeout;   /* 24 h: forget left members */
    unsigned broadcast_timeout;   /* 5000: leave waits this long */
    unsigned leave_propagate;     /* 1000: extra wait after leaving */
};

/* Member table changes, as serf reports them. */
enum gossip_event {
    GOSSIP_EVENT_JOIN,
    GOSSIP_EVENT_LEAVE,
    GOSSIP_EVENT_FAILED,
    GOSSIP_EVENT_UPDATE,
    GOSSIP_EVENT_REAP,
};

/* One member. Everything is borrowed until the table next changes. */
struct gossip_member {
    const char *name;
    char addr[64];          /* "127.0.0.1" or "::1" */
    uint16_t port;
    const struct gossip_tag *tags;
    size_t n_tags;          /* sorted by key */
    enum gossip_status status;
    uint8_t pmin, pmax, pcur; /* memberlist protocol */
    uint8_t dmin, dmax, dcur; /* serf (delegate) protocol */
};

typedef void (*gossip_event_fn)(void *ctx, enum gossip_event ev,
                                const struct gossip_member *m);
/* A serf user event (`serf event name payload`), delivered once. */
typedef void (*gossip_user_fn)(void *ctx, const char *name,
                               const void *payload, size_t len,
                               uint64_t ltime);

struct gossip_opts {
    const char *node_name;      /* required, <= GOSSIP_NAME_MAX bytes */
    const char *node_id;        /* tag "id"; checked for conflicts */
    const char *bind_addr;      /* IPv4/IPv6 literal; required */
    uint16_t port;              /* GOSSIP_DEFAULT_PORT */
    const char *advertise_addr; /* NULL: bind_addr (must not be 0.0.0.0) */
    uint16_t advertise_port;    /* 0: port */
    const struct gossip_tag *tags;
    size_t n_tags;
    struct gossip_timing timing;
    const char *snapshot_path;  /* "<data-dir>/serf/local.snapshot" (serf's
                                 * format); NULL: remember nothing (-dev) */
    bool rejoin_after_leave;    /* rejoin from the snapshot after leave */
    bool any_dc;                /* a WAN pool: accept members whose "dc"
                                 * tag differs from ours (a LAN pool
                                 * refuses them, as Consul's does) */
    uint64_t seed;              /* 0: random */
    gossip_event_fn on_event;
    gossip_user_fn on_user;
    void *ctx;                  /* for both callbacks */
};

/* Zero o and fill defaults (port, LAN timings). */
void gossip_opts_init(struct gossip_opts *o);

/* Tags the way Consul's agents set them (role=consul|node, dc, segment,
 * id, vsn, vsn_min, vsn_max, build; servers also port, raft_vsn,
 * expect, bootstrap). The strings live in the set itself. */
#define GOSSIP_TAGSET_MAX 24
struct gossip_tagset {
    struct gossip_tag tags[GOSSIP_TAGSET_MAX];
    size_t n;
    char buf[GOSSIP_META_MAX * 2];
    size_t used;
};
struct gossip_consul_info {
    bool server;
    const char *dc;
    const char *node_id;
    const char *build;          /* "0.1.0:abcdef" */
    uint16_t server_port;       /* 8300; servers only */
    int expect;                 /* bootstrap_expect; 0 = unset */
    bool bootstrap;
};
void gossip_tagset_init(struct gossip_tagset *s);
/* Add or replace one tag (copied). ERR_TOOBIG when full. */
int gossip_tagset_set(struct gossip_tagset *s, const char *key,
                      const char *val, char *err);
int gossip_tagset_consul(struct gossip_tagset *s,
                         const struct gossip_consul_info *ci, char *err);

/* Validate opts and allocate; binds nothing. The opts strings and tags
 * are copied. */
struct gossip *gossip_new(uv_loop_t *loop, const struct gossip_opts *o,
                          char *err);
/* Bind UDP and TCP on bind_addr:port, open the snapshot (its parent,
 * <data-dir>/serf, is created if missing), announce ourselves, start
 * the timers and, when the snapshot remembers a pool, rejoin it one
 * member at a time. On failure g stays valid: gossip_close() it. */
int gossip_start(struct gossip *g, char *err);

/* Result of one address given to gossip_join. */
struct gossip_join_result {
    const char *addr;   /* as given */
    int rc;             /* 0 or a negative ERR_* */
    const char *err;    /* "Error joining address '<a>': <why>" or NULL */
};
typedef void (*gossip_join_cb)(void *ctx, int n_joined,
                               const struct gossip_join_result *res,
                               size_t n);
/* Join through each address ("ip", "ip:port", "[v6]:port", "host:port",
 * optionally "name/" in front): a TCP push/pull with each. cb runs once
 * when every address succeeded or failed; results are borrowed for the
 * call. A newcomer whose name or node id is already taken by a live
 * member is refused by that member with a clear error. */
int gossip_join(struct gossip *g, const char *const *addrs, size_t n,
                gossip_join_cb cb, void *ctx, char *err);

typedef void (*gossip_done_cb)(void *ctx, int rc);
/* Graceful leave: broadcast serf's leave intent and memberlist's
 * self-dead, wait for both to propagate (broadcast_timeout each), then
 * leave_propagate; cb(ctx, 0) once we are "left". rc ERR_TIMEOUT when a
 * broadcast did not finish in time (we are left anyway). */
int gossip_leave(struct gossip *g, gossip_done_cb cb, void *ctx, char *err);

/* `force-leave`: mark a failed member left (prune: forget it now). */
int gossip_force_leave(struct gossip *g, const char *node, bool prune,
                       char *err);

/* Replace our tags and announce them (encoded size <= GOSSIP_META_MAX). */
int gossip_set_tags(struct gossip *g, const struct gossip_tag *tags,
                    size_t n, char *err);

/* Send a serf user event to the pool (name + payload <= 512 bytes). */
int gossip_user_event(struct gossip *g, const char *name,
                      const void *payload, size_t len, bool coalesce,
                      char *err);

/* Every member serf knows (ourselves included), in name order. fn must
 * not change the pool. */
typedef void (*gossip_member_fn)(void *ctx, const struct gossip_member *m);
void gossip_members(struct gossip *g, gossip_member_fn fn, void *ctx);
/* The value of tag key of m (borrowed like m), or NULL. */
const char *gossip_member_tag(const struct gossip_member *m,
                              const char *key);
/* One member by name; ERR_NOTFOUND when unknown. */
int gossip_member_get(struct gossip *g, const char *name,
                      struct gossip_member *out);
size_t gossip_num_members(struct gossip *g);
/* The smoothed round-trip time of our direct probes of a member, in
 * microseconds (1/8 weight per new sample); 0 when it was never
 * measured (ourselves, or not probed successfully yet). */
uint64_t gossip_member_rtt_us(struct gossip *g, const char *name);

struct gossip_stats {
    uint64_t members, failed, left;
    uint64_t health_score;
    uint64_t member_time, event_time, query_time;
    uint64_t intent_queue, event_queue, query_queue;
    uint64_t dropped;       /* malformed or unsupported packets/streams */
    uint64_t udp_blocked;   /* peers reached only through TCP */
};
void gossip_stats(struct gossip *g, struct gossip_stats *st);

/* Record the pool's gauges (memberlist.health.score and
 * memberlist.node.instances by node_state) in the process-wide metrics
 * registry; member events and probe timings are recorded as they
 * happen. */
void gossip_metrics(struct gossip *g);

typedef void (*gossip_close_cb)(void *ctx);
/* Stop everything (no leave: call gossip_leave first for that), close
 * every uv handle and free g; cb runs afterwards. Pending join/leave
 * callbacks run first with ERR_SHUTDOWN. */
void gossip_close(struct gossip *g, gossip_close_cb cb, void *ctx);

#endif

/* gossip_int.h - internals shared by gossip*.c and check_gossip.c.
 *
 * Layer: replication (uses util). Thread: loop only.
 * The module splits as: gossip_codec.c (msgpack reader/writer, every
 * memberlist message), gossip_serfmsg.c (serf messages, tags),
 * gossip_lzw.c (CRC-32, LZW), gossip_queue.c (transmit-limited
 * broadcast queues, name tables), gossip_state.c (SWIM node states,
 * suspicion), gossip_merge.c (push/pull state, conflict checks),
 * gossip_probe.c (packet dispatch, probes, gossip rounds, the clock),
 * gossip_stream.c (TCP exchanges, joins), gossip_serf.c (serf members,
 * intents, leave), gossip_serfev.c (serf user messages, events,
 * queries, serf state), gossip_snap.c (snapshot file), gossip_net.c
 * (libuv UDP/TCP), gossip.c (public API, timers, name resolution).
 * The core (everything but gossip_net.c and the uv parts of gossip.c)
 * never reads a clock or touches a socket: time is g->now, set by
 * gossip_sm_advance(), and I/O goes through struct gossip_tp, so the
 * unit test drives it with a fake clock and a fake transport.
 * Tests: t/unit/check_gossip.c
 */
#ifndef PROCONSUL_GOSSIP_INT_H
#define PROCONSUL_GOSSIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "gossip.h"
#include "metrics.h"

/* memberlist message types (first byte of a packet or stream). */
enum {
    GM_PING = 0, GM_INDIRECT = 1, GM_ACK = 2, GM_SUSPECT = 3,
    GM_ALIVE = 4, GM_DEAD = 5, GM_PUSHPULL = 6, GM_COMPOUND = 7,
    GM_USER = 8, GM_COMPRESS = 9, GM_ENCRYPT = 10, GM_NACK = 11,
    GM_CRC = 12, GM_ERR = 13,
};
/* serf message types (first byte of a memberlist user message). */
enum {
    GS_LEAVE = 0, GS_JOIN = 1, GS_PUSHPULL = 2, GS_EVENT = 3,
    GS_QUERY = 4, GS_QRESP = 5, GS_CONFLICT = 6, GS_KEYREQ = 7,
    GS_KEYRESP = 8, GS_RELAY = 9,
};
/* memberlist node states (pushNodeState.State). */
enum { GN_ALIVE = 0, GN_SUSPECT = 1, GN_DEAD = 2, GN_LEFT = 3 };

/* Our protocol versions: memberlist 1..5 speaking 2, serf 2..5
 * speaking 4 (what Consul runs). */
#define GOSSIP_PMIN 1
#define GOSSIP_PMAX 5
#define GOSSIP_PCUR 2
#define GOSSIP_DMIN 2
#define GOSSIP_DMAX 5
#define GOSSIP_DCUR 4

#define GOSSIP_UDP_MAX 1400         /* memberlist UDPBufferSize */
#define GOSSIP_PKT_MAX 65536        /* largest datagram read */
#define GOSSIP_UNZIP_UDP_MAX (256u * 1024)
#define GOSSIP_STREAM_MAX (16u * 1024 * 1024)
#define GOSSIP_EVENT_SIZE_MAX 512   /* serf UserEventSizeLimit */
#define GOSSIP_EVENT_BUF 512        /* serf EventBuffer / QueryBuffer */
#define GOSSIP_MAX_RELAYS 256
#define GOSSIP_MAX_DEPTH 4          /* compound/compress nesting */

/* Codec result besides 0 and ERR_PARSE: the input ends early (a stream
 * needs more bytes; for a datagram it is malformed). */
#define GOSSIP_MORE 1

/* ---- codec ---- */

struct gossip_addr {
    uint8_t ip[16];
    uint8_t len;        /* 4, 16, or 0 when absent */
    uint16_t port;
};

/* A slice of the input buffer. */
struct gossip_slice {
    const uint8_t *p;
    size_t len;
    uint32_t n;         /* element count for containers */
};

struct gossip_mpr {
    const uint8_t *p, *end;
    int rc;             /* 0, GOSSIP_MORE or ERR_PARSE; sticks */
};

/* Growable output buffer; errors stick in err (ERR_NOMEM/ERR_TOOBIG). */
struct gossip_buf {
    uint8_t *p;
    size_t len, cap, max;   /* max 0: GOSSIP_STREAM_MAX */
    int err;
};

struct gm_ping {
    uint32_t seq;
    char node[GOSSIP_NAME_MAX + 1];
    struct gossip_addr src;
    char src_node[GOSSIP_NAME_MAX + 1];
};
struct gm_indirect {
    uint32_t seq;
    struct gossip_addr target;
    char node[GOSSIP_NAME_MAX + 1];
    bool nack;
    struct gossip_addr src;
    char src_node[GOSSIP_NAME_MAX + 1];
};
struct gm_ack {
    uint32_t seq;
    struct gossip_slice payload;
};
/* suspect and dead share a shape. */
struct gm_suspect {
    uint32_t inc;
    char node[GOSSIP_NAME_MAX + 1];
    char from[GOSSIP_NAME_MAX + 1];
};
/* alive, and pushNodeState (which adds state). */
struct gm_alive {
    uint32_t inc;
    char node[GOSSIP_NAME_MAX + 1];
    struct gossip_addr addr;
    uint8_t meta[GOSSIP_META_MAX];
    uint16_t meta_len;
    uint8_t vsn[6];
    uint8_t vsn_len;    /* 0 or 6 */
    int state;
};
struct gm_pphdr {
    int64_t nodes;
    int64_t user_len;
    bool join;
};

void gossip_mpr_init(struct gossip_mpr *r, const void *p, size_t n);
bool gossip_mpr_map(struct gossip_mpr *r, uint32_t *n);
bool gossip_mpr_array(struct gossip_mpr *r, uint32_t *n);
bool gossip_mpr_bytes(struct gossip_mpr *r, struct gossip_slice *s);
bool gossip_mpr_uint(struct gossip_mpr *r, uint64_t *v);
bool gossip_mpr_int(struct gossip_mpr *r, int64_t *v);
bool gossip_mpr_bool(struct gossip_mpr *r, bool *v);
bool gossip_mpr_skip(struct gossip_mpr *r);
/* Helpers for struct fields. */
bool gossip_mpr_key(struct gossip_mpr *r, struct gossip_slice *k);
bool gossip_mpr_name(struct gossip_mpr *r, char *out);
bool gossip_mpr_u32(struct gossip_mpr *r, uint32_t *v);
bool gossip_mpr_u16(struct gossip_mpr *r, uint16_t *v);
bool gossip_mpr_u8(struct gossip_mpr *r, uint8_t *v);
bool gossip_mpr_ip(struct gossip_mpr *r, struct gossip_addr *a);
bool gossip_key_is(const struct gossip_slice *k, const char *lit);

void gossip_buf_init(struct gossip_buf *b, size_t max);
void gossip_buf_release(struct gossip_buf *b);
void gossip_buf_reset(struct gossip_buf *b);
int gossip_buf_put(struct gossip_buf *b, const void *p, size_t n);
int gossip_buf_byte(struct gossip_buf *b, uint8_t c);
/* The msgpack-c packer writing into b (sticky errors in b->err). */
void gossip_pk_init(void *pk, struct gossip_buf *b);
void gossip_pk_str(void *pk, const char *s);
void gossip_pk_bytes(void *pk, const void *p, size_t n);

/* Each decoder reads one message body (after the type byte). */
int gossip_dec_ping(struct gossip_mpr *r, struct gm_ping *m);
int gossip_dec_indirect(struct gossip_mpr *r, struct gm_indirect *m);
int gossip_dec_ack(struct gossip_mpr *r, struct gm_ack *m);
int gossip_dec_nack(struct gossip_mpr *r, uint32_t *seq);
int gossip_dec_suspect(struct gossip_mpr *r, struct gm_suspect *m);
int gossip_dec_alive(struct gossip_mpr *r, struct gm_alive *m);
int gossip_dec_pnode(struct gossip_mpr *r, struct gm_alive *m);
int gossip_dec_pphdr(struct gossip_mpr *r, struct gm_pphdr *m);
int gossip_dec_err(struct gossip_mpr *r, char *msg, size_t n);
int gossip_dec_compress(struct gossip_mpr *r, struct gossip_slice *buf);
int gossip_dec_user_hdr(struct gossip_mpr *r, int64_t *len);

/* Each encoder appends the type byte and the body. */
int gossip_enc_ping(struct gossip_buf *b, const struct gm_ping *m);
int gossip_enc_indirect(struct gossip_buf *b, const struct gm_indirect *m);
int gossip_enc_ack(struct gossip_buf *b, uint32_t seq, const void *payload,
                   size_t n);
int gossip_enc_nack(struct gossip_buf *b, uint32_t seq);
int gossip_enc_suspect(struct gossip_buf *b, int type,
                       const struct gm_suspect *m);
int gossip_enc_alive(struct gossip_buf *b, const struct gm_alive *m);
int gossip_enc_pnode(struct gossip_buf *b, const struct gm_alive *m);
int gossip_enc_pphdr(struct gossip_buf *b, const struct gm_pphdr *m);
int gossip_enc_err(struct gossip_buf *b, const char *msg);

/* Compound: up to 255 parts, each < 64 KiB. trunc counts parts whose
 * bytes were missing (memberlist keeps the complete ones). */
int gossip_compound_parse(const uint8_t *p, size_t n,
                          struct gossip_slice *parts, size_t *n_parts,
                          size_t *trunc);
int gossip_compound_build(struct gossip_buf *b,
                          const struct gossip_slice *parts, size_t n);

uint32_t gossip_crc32(const uint8_t *p, size_t n);
/* Go compress/lzw, LSB order, 8-bit literals; out is malloc'd. */
int gossip_lzw_decode(const uint8_t *in, size_t n, size_t max_out,
                      uint8_t **out, size_t *out_len);

/* A parsed push/pull body (after the type byte). */
struct gossip_ppview {
    struct gm_pphdr h;
    const uint8_t *nodes;   /* encoded pushNodeStates */
    size_t nodes_len;
    const uint8_t *user;    /* serf state, h.user_len bytes */
    size_t user_len;
    const uint8_t *end;
};
/* 0, GOSSIP_MORE (stream: read on) or ERR_PARSE. */
int gossip_pp_parse(const uint8_t *p, size_t n, struct gossip_ppview *v);

/* ---- serf messages (gossip_serfmsg.c) ---- */

struct gs_join {
    uint64_t ltime;
    char node[GOSSIP_NAME_MAX + 1];
    bool prune;         /* leave only */
};
struct gs_event {
    uint64_t ltime;
    struct gossip_slice name, payload;
    bool cc;
};
struct gs_query {
    uint64_t ltime;
    uint32_t id;
    struct gossip_addr addr;
    char src[GOSSIP_NAME_MAX + 1];
    struct gossip_slice filters;    /* array items */
    uint32_t flags;
    uint8_t relay;
    int64_t timeout_ns;
    struct gossip_slice name, payload;
};
struct gs_qresp {
    uint64_t ltime;
    uint32_t id;
    char from[GOSSIP_NAME_MAX + 1];
    uint32_t flags;
    struct gossip_slice payload;
};
/* serf push/pull: the three containers stay encoded; walk them with the
 * gossip_spp_* iterators. */
struct gs_pushpull {
    uint64_t ltime, event_ltime, query_ltime;
    struct gossip_slice status;     /* map name -> ltime */
    struct gossip_slice left;       /* array of names */
    struct gossip_slice events;     /* array of nil | userEvents */
};
#define GS_QUERY_ACK 1u
#define GS_QUERY_NO_BROADCAST 2u

int gossip_dec_sjoin(struct gossip_mpr *r, struct gs_join *m);
int gossip_dec_sleave(struct gossip_mpr *r, struct gs_join *m);
int gossip_dec_sevent(struct gossip_mpr *r, struct gs_event *m);
int gossip_dec_squery(struct gossip_mpr *r, struct gs_query *m);
int gossip_dec_sqresp(struct gossip_mpr *r, struct gs_qresp *m);
int gossip_dec_spp(struct gossip_mpr *r, struct gs_pushpull *m);
bool gossip_spp_status(struct gossip_mpr *it, char *name, uint64_t *ltime);
bool gossip_spp_left(struct gossip_mpr *it, char *name);
/* One userEvents entry: ltime and its events (a slice to walk with
 * gossip_spp_event); nil entries give ltime 0 and no events. */
bool gossip_spp_events(struct gossip_mpr *it, uint64_t *ltime,
                       struct gossip_slice *evs);
bool gossip_spp_event(struct gossip_mpr *it, struct gossip_slice *name,
                      struct gossip_slice *payload);

/* Serf encoders append [GM_USER?] type byte + body; with_user adds the
 * memberlist user-message byte in front. */
int gossip_enc_sjoin(struct gossip_buf *b, const struct gs_join *m);
int gossip_enc_sleave(struct gossip_buf *b, const struct gs_join *m);
int gossip_enc_sevent(struct gossip_buf *b, const struct gs_event *m);
int gossip_enc_squery(struct gossip_buf *b, const struct gs_query *m);
int gossip_enc_sqresp(struct gossip_buf *b, const struct gs_qresp *m);

/* Tags as serf's node meta: 0xff then a msgpack map (keys sorted). */
int gossip_tags_encode(struct gossip_buf *b, const struct gossip_tag *t,
                       size_t n);
/* Decode meta into one malloc'd block (array then strings), sorted by
 * key; meta without the magic byte becomes {"role": meta}. */
int gossip_tags_decode(const uint8_t *meta, size_t n,
                       struct gossip_tag **out, size_t *n_out);

/* ---- name table and broadcast queues (gossip_queue.c) ---- */

/* Open-addressing index of objects that start with their name. */
struct gossip_tab {
    void **slot;
    size_t cap, n, used;
};
void *gossip_tab_get(const struct gossip_tab *t, const char *name);
int gossip_tab_put(struct gossip_tab *t, void *item);
void gossip_tab_del(struct gossip_tab *t, const char *name);
void gossip_tab_release(struct gossip_tab *t);

/* Something to do when a broadcast is done (sent enough or replaced). */
enum { GB_NONE, GB_LEAVE_INTENT, GB_LEAVE_DEAD };

struct gossip_bcast {
    char name[GOSSIP_NAME_MAX + 1]; /* "" = never replaced */
    uint8_t *msg;
    size_t len;
    unsigned transmits;
    uint64_t id;
    uint32_t round;     /* last gossip_q_get that took it */
    int notify;
};
struct gossip_queue {
    struct gossip_bcast **item;
    size_t n, cap;
    uint64_t id_gen;
    uint32_t round;
};

/* Messages picked for one packet: copied bytes plus part slices. */
#define GOSSIP_PARTS_MAX 64
struct gossip_parts {
    uint8_t data[GOSSIP_UDP_MAX * 2];
    size_t used;
    struct gossip_slice part[GOSSIP_PARTS_MAX];
    size_t n;
};

struct gossip;
/* Queue msg (copied); a named broadcast replaces the older one of that
 * name. notify fires through gossip_sm_bcast_done(). */
int gossip_q_push(struct gossip *g, struct gossip_queue *q, const char *name,
                  const uint8_t *msg, size_t len, int notify);
/* Move broadcasts that fit in limit bytes (overhead counted per
 * message) into parts; extra_prefix is prepended to each copy (the user
 * message byte for serf queues). Returns bytes used. */
size_t gossip_q_get(struct gossip *g, struct gossip_queue *q,
                    unsigned limit_tx, size_t overhead, size_t limit,
                    int extra_prefix, struct gossip_parts *out);
void gossip_q_prune(struct gossip *g, struct gossip_queue *q, size_t keep);
void gossip_q_release(struct gossip *g, struct gossip_queue *q);
void gossip_parts_add(struct gossip_parts *pt, int prefix, const uint8_t *p,
                      size_t n);

/* ---- state ---- */

struct gossip_susp {
    uint32_t k, n;
    uint64_t min, max, start, deadline;
    char (*from)[GOSSIP_NAME_MAX + 1];  /* k + 1 confirmers */
    uint32_t n_from;
};

struct gossip_node {
    char name[GOSSIP_NAME_MAX + 1];     /* first: gossip_tab key */
    struct gossip_addr addr;
    uint8_t meta[GOSSIP_META_MAX];
    uint16_t meta_len;
    uint8_t vsn[6];
    uint32_t inc;
    int state;
    uint64_t state_change;
    struct gossip_susp *susp;
    bool udp_warned;
    uint64_t rtt_us;    /* smoothed probe round trip; 0: none yet */
};

struct gossip_member_st {
    char name[GOSSIP_NAME_MAX + 1];     /* first: gossip_tab key */
    struct gossip_addr addr;
    struct gossip_tag *tags;
    size_t n_tags;
    int status;
    uint64_t status_ltime;
    uint64_t leave_time;
    uint64_t prune_at;
    uint8_t vsn[6];
};

struct gossip_intent {
    char name[GOSSIP_NAME_MAX + 1];     /* first: gossip_tab key */
    int type;           /* GS_JOIN or GS_LEAVE */
    uint64_t wall, ltime;
};

struct gossip_evslot {
    uint64_t ltime;
    struct gossip_evrec {
        char *name;
        uint8_t *payload;
        size_t len;
    } *ev;
    size_t n;
};
struct gossip_qslot {
    uint64_t ltime;
    uint32_t *ids;
    size_t n;
};

/* A stream (TCP) exchange the core asked the transport for. */
enum { GSOP_JOIN, GSOP_PUSHPULL, GSOP_PING };
struct gossip_join;
struct gossip_sop {
    struct gossip_sop *prev, *next;
    int kind;
    struct gossip_addr to;
    char node[GOSSIP_NAME_MAX + 1];
    uint8_t *req;
    size_t req_len;
    uint64_t deadline;          /* absolute, ms */
    uint32_t seq;               /* GSOP_PING */
    struct gossip_join *join;
    size_t join_idx;
    bool ignore_old;            /* a user join: old events not replayed */
    void *net;                  /* transport's handle */
};

struct gossip_relay {
    struct gossip_relay *next;
    uint32_t seq, orig_seq;
    struct gossip_addr reply_to;
    bool nack;
    uint64_t deadline;
};

enum { GP_IDLE, GP_DIRECT, GP_INDIRECT };
enum { GT_NONE, GT_PENDING, GT_OK, GT_FAIL };
struct gossip_probe {
    int phase;
    char node[GOSSIP_NAME_MAX + 1];
    uint32_t seq;
    uint64_t timeout_at, deadline;
    int expected_nacks, nacks;
    int tcp;
    uint64_t start_ns;   /* metrics_now_ns() at the ping: probeNode */
};

/* Consul labels its memberlist and serf metrics with the pool. */
extern const struct metrics_label gossip_lan_label[1];

/* What the core needs from the outside world. */
struct gossip_tp {
    void (*send)(struct gossip *g, const struct gossip_addr *to,
                 const uint8_t *buf, size_t len);
    /* Connect to op->to, write op->req, read one reply message (see
     * gossip_stream_need) and finish with gossip_sm_stream_done(),
     * exactly once (from inside this call only when it cannot start). */
    void (*stream)(struct gossip *g, struct gossip_sop *op);
};

struct gossip_join {
    struct gossip *g;
    gossip_join_cb cb;
    void *ctx;
    size_t n, pending;
    int joined;
    char **addr;
    char **msg;
    int *rc;
    struct gossip_join *next;   /* in g->joins */
    bool internal;              /* snapshot rejoin / reconnect */
    bool started;               /* every address handed out */
    bool event_ignore;          /* skip user events older than the pool's */
};

enum { GL_NONE, GL_INTENT, GL_DEAD, GL_PROPAGATE, GL_DONE };
enum { GSERF_ALIVE, GSERF_LEAVING, GSERF_LEFT, GSERF_SHUTDOWN };

struct gossip_snap;

struct gossip {
    /* configuration (copied) */
    char name[GOSSIP_NAME_MAX + 1];
    char *node_id;
    struct gossip_addr bind, adv;
    struct gossip_timing t;
    struct gossip_tag *tags;    /* one block, sorted by key */
    size_t n_tags;
    uint8_t meta[GOSSIP_META_MAX];
    uint16_t meta_len;
    bool rejoin_after_leave;
    bool any_dc;        /* WAN pool: members of every datacenter */
    gossip_event_fn on_event;
    gossip_user_fn on_user;
    void *cb_ctx;

    /* core */
    uint64_t now, rng;
    struct gossip_tp tp;
    struct gossip_tab node_tab;
    struct gossip_node **nodes;
    size_t n_nodes, cap_nodes, probe_index;
    uint32_t seq, inc;
    int awareness;
    bool left;                  /* memberlist: we left */
    struct gossip_probe probe;
    struct gossip_relay *relays;
    size_t n_relays;
    size_t n_suspects;
    struct gossip_queue q_ml, q_intent, q_event, q_query;
    struct gossip_sop sops;     /* list head */
    struct gossip_join *joins;
    uint64_t t_probe, t_gossip, t_pushpull, t_reap, t_reconnect, t_snap;
    uint64_t next_wake, armed_at;
    bool event_join_ignore;

    /* serf */
    int serf_state;
    uint64_t clock, event_clock, query_clock;
    uint64_t event_min, query_min;
    struct gossip_tab member_tab;
    struct gossip_member_st **members;
    size_t n_members, cap_members;
    struct gossip_tab intent_tab;
    struct gossip_intent **intents;
    size_t n_intents, cap_intents;
    struct gossip_evslot *evbuf;
    struct gossip_qslot *qbuf;
    struct gossip_snap *snap;
    char *snap_path;

    /* leave */
    int leave_phase;
    uint64_t leave_deadline;
    int leave_rc;
    gossip_done_cb leave_cb;
    void *leave_ctx;

    /* counters */
    uint64_t dropped, udp_blocked;
    uint64_t last_drop_log, last_conflict_log;
    bool warned_encrypt;

    /* uv glue (gossip.c / gossip_net.c); unused by the core */
    uv_loop_t *loop;
    struct gossip_net *net;
    uv_timer_t timer;
    bool started, closing;
    int open_handles;
    int n_resolving;
    struct gossip_resolve *resolves;
    gossip_close_cb close_cb;
    void *close_ctx;
};

/* gossip_state.c */
struct gossip *gossip_sm_new(const struct gossip_opts *o,
                             const struct gossip_tp *tp, char *err);
void gossip_sm_free(struct gossip *g);
int gossip_sm_start(struct gossip *g, uint64_t now, char *err);
uint32_t gossip_rand(struct gossip *g);
struct gossip_node *gossip_node_get(struct gossip *g, const char *name);
void gossip_sm_alive(struct gossip *g, const struct gm_alive *a,
                     bool bootstrap, int notify);
void gossip_sm_suspect(struct gossip *g, const struct gm_suspect *s);
void gossip_sm_dead(struct gossip *g, const struct gm_suspect *d,
                    int notify);
/* Replace our tags; once started, announce them (memberlist's
 * UpdateNode: a new incarnation). */
int gossip_sm_set_tags(struct gossip *g, const struct gossip_tag *t,
                       size_t n, char *err);
bool gossip_meta_tag(const uint8_t *meta, size_t n, const char *key,
                     char *out, size_t outn);
const char *gossip_own_tag(const struct gossip *g, const char *key);
const char *gossip_sm_id_owner(struct gossip *g, const char *id,
                               const char *name);
void gossip_sm_refute(struct gossip *g, struct gossip_node *me,
                      uint32_t accused);
size_t gossip_sm_alive_others(struct gossip *g);
void gossip_sm_local_alive(const struct gossip *g, struct gm_alive *a);
void gossip_sm_node_alive(const struct gossip_node *n, struct gm_alive *a);
void gossip_sm_susp_tick(struct gossip *g);
void gossip_sm_reset_nodes(struct gossip *g);
int gossip_sm_encode_state(struct gossip *g, bool join,
                           struct gossip_buf *b);
int gossip_sm_merge_state(struct gossip *g, const uint8_t *p, size_t n,
                          bool *join, char *err);
int gossip_sm_check_conflicts(struct gossip *g, const uint8_t *p, size_t n,
                              bool inbound, char *err);
unsigned gossip_sm_retransmit_limit(const struct gossip *g, size_t nodes);
void gossip_sm_awareness(struct gossip *g, int delta);
void gossip_sm_schedule(struct gossip *g, uint64_t when);
void gossip_sm_bcast_done(struct gossip *g, int notify);
void gossip_sm_drop(struct gossip *g, const char *what, int rc);
void gossip_addr_str(const struct gossip_addr *a, char *out, size_t n);
int gossip_addr_parse(const char *s, uint16_t def_port,
                      struct gossip_addr *a);

/* gossip_probe.c */
void gossip_sm_packet(struct gossip *g, const uint8_t *p, size_t n,
                      const struct gossip_addr *from);
uint64_t gossip_sm_advance(struct gossip *g, uint64_t now);
void gossip_sm_send(struct gossip *g, const struct gossip_node *to,
                    const struct gossip_addr *addr, const uint8_t *msg,
                    size_t len);
int gossip_sm_stream_in(struct gossip *g, const uint8_t *p, size_t n,
                        struct gossip_buf *reply);
int gossip_stream_need(const uint8_t *p, size_t n);
void gossip_sm_stream_done(struct gossip *g, struct gossip_sop *op, int rc,
                           const uint8_t *p, size_t n, const char *why);
struct gossip_sop *gossip_sm_sop_new(struct gossip *g, int kind,
                                     const struct gossip_addr *to);
void gossip_sm_sop_start(struct gossip *g, struct gossip_sop *op);
void gossip_sm_probe_tick(struct gossip *g);
void gossip_sm_probe_timers(struct gossip *g);
void gossip_sm_gossip_tick(struct gossip *g);
void gossip_sm_pushpull_tick(struct gossip *g);
struct gossip_join *gossip_sm_join_new(struct gossip *g,
                                       const char *const *addrs, size_t n,
                                       gossip_join_cb cb, void *ctx);
int gossip_sm_join_one(struct gossip *g, struct gossip_join *j, size_t idx,
                       const struct gossip_addr *to, const char *node);
void gossip_sm_join_fail(struct gossip *g, struct gossip_join *j, size_t idx,
                         int rc, const char *why);
void gossip_sm_join_tick(struct gossip *g);
void gossip_sm_probe_tcp(struct gossip *g, uint32_t seq, bool ok);

/* gossip_serf.c */
void gossip_serf_node_join(struct gossip *g, const struct gossip_node *n);
void gossip_serf_node_leave(struct gossip *g, const struct gossip_node *n);
void gossip_serf_node_update(struct gossip *g, const struct gossip_node *n);
void gossip_serf_user_msg(struct gossip *g, const uint8_t *p, size_t n);
int gossip_serf_local_state(struct gossip *g, struct gossip_buf *b);
void gossip_serf_merge_state(struct gossip *g, const uint8_t *p, size_t n,
                             bool join);
bool gossip_serf_join_intent(struct gossip *g, const struct gs_join *m);
bool gossip_serf_leave_intent(struct gossip *g, const struct gs_join *m);
int gossip_serf_broadcast_join(struct gossip *g);
int gossip_serf_leave_start(struct gossip *g);
int gossip_serf_force_leave(struct gossip *g, const char *node, bool prune,
                            char *err);
int gossip_serf_user_event(struct gossip *g, const char *name,
                           const void *payload, size_t len, bool cc,
                           char *err);
void gossip_serf_reap_tick(struct gossip *g);
void gossip_serf_leave_tick(struct gossip *g);
void gossip_serf_reconnect_tick(struct gossip *g);
void gossip_serf_prune_tick(struct gossip *g);
void gossip_serf_free(struct gossip *g);
struct gossip_member_st *gossip_member_st_get(struct gossip *g,
                                              const char *name);
void gossip_member_view(const struct gossip_member_st *m,
                        struct gossip_member *out);
void gossip_witness(uint64_t *clock, uint64_t t);

/* gossip_snap.c */
int gossip_snap_open(struct gossip *g, const char *path, char *err);
void gossip_snap_close(struct gossip *g);
void gossip_snap_alive(struct gossip *g, const char *name,
                       const struct gossip_addr *a);
void gossip_snap_not_alive(struct gossip *g, const char *name);
void gossip_snap_event_clock(struct gossip *g, uint64_t t);
void gossip_snap_query_clock(struct gossip *g, uint64_t t);
void gossip_snap_leave(struct gossip *g);
void gossip_snap_tick(struct gossip *g);
/* Previously alive members (name, "ip:port"), random order. */
size_t gossip_snap_previous(struct gossip *g, char ***names, char ***addrs);

/* gossip_net.c (libuv) */
int gossip_net_open(struct gossip *g, char *err);
void gossip_net_close(struct gossip *g);
void gossip_net_free(struct gossip *g);
void gossip_net_enter(struct gossip *g);
void gossip_net_exit(struct gossip *g);
void gossip_net_sockaddr(const struct gossip_addr *a,
                         struct sockaddr_storage *ss);
bool gossip_net_from_sockaddr(const struct sockaddr *sa,
                              struct gossip_addr *a);
/* gossip.c: free g once closing and nothing is open any more. */
void gossip_net_maybe_done(struct gossip *g);

#endif

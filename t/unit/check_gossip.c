/* check_gossip.c - unit tests for the gossip module (libcore/gossip*.c).
 *
 * Covers the codec against packets captured from Debian's serf 0.9.4
 * on loopback (127.0.77.x; decode, byte-exact re-encode, CRC, LZW,
 * compound), malformed input (every truncation, wrong types, huge
 * lengths, random mutations: dropped and counted), the SWIM state
 * machine on a fake clock and a fake transport (suspicion timing and
 * confirmations, refutation, probes with indirect pings, nacks and the
 * TCP fallback), serf intents and leave, push/pull and the name/id
 * conflict checks, the snapshot, and a five-node pool on a simulated
 * network. No sockets, no sleeps.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "gossip.h"
#include "gossip_int.h"
#include "log.h"
#include "unit.h"

#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

#define T0 1000u

/* Captured from `serf agent` (0.9.4, Debian) on 127.0.77.1-3:8301. */
static const char FX_PING[] =
    "0085a44e6f6465a161a55365714e6f02aa536f7572636541646472a47f004d0c"
    "aa536f757263654e6f6465a162aa536f75726365506f7274cd206d";
static const char FX_INDIRECT[] =
    "0188a44e61636bc3a44e6f6465a161a4506f7274cd206da55365714e6f03aa53"
    "6f7572636541646472a47f004d0daa536f757263654e6f6465a163aa536f7572"
    "6365506f7274cd206da6546172676574a47f004d0b";
static const char FX_ACK[] =
    "0282a75061796c6f6164da00820184aa41646a7573746d656e74cb3f1dc05fb9"
    "cb7e9ea54572726f72cb3ff6fe08acbf0f15a6486569676874cb3ee4f8b588e3"
    "68f1a356656398cbbf1acf25dab3ac72cb3edff1434f6afa05cbbf25bff20625"
    "fff9cbbf317835d8ab6beecb3f1d1d8280377e5bcbbf30749df361b54ecbbf39"
    "aa675447196ccbbf32d99088b5706ba55365714e6f02";
static const char FX_NACK[] =
    "0b81a55365714e6f20";
static const char FX_CRC_SUSPECT[] =
    "0c5f3537e30383a446726f6da163ab496e6361726e6174696f6e01a44e6f6465"
    "a161";
static const char FX_CRC_DEAD[] =
    "0cce54e77a0583a446726f6da163ab496e6361726e6174696f6e01a44e6f6465"
    "a161";
static const char FX_CRC_ALIVE[] =
    "0c58ea3d060486a441646472a47f004d0dab496e6361726e6174696f6e01a44d"
    "657461acff81a4726f6c65a46e6f6465a44e6f6465a163a4506f7274cd206da3"
    "56736ea6010502020505";
static const char FX_CRC_COMPOUND[] =
    "0c9bba20500703004c004700110486a441646472a47f004d0bab496e6361726e"
    "6174696f6e01a44d657461b3ff82a4726f6c65a46e6f6465a26463a3646331a4"
    "4e6f6465a161a4506f7274cd206da356736ea60105020205050486a441646472"
    "a47f004d0cab496e6361726e6174696f6e01a44d657461aeff81a4726f6c65a6"
    "636f6e73756ca44e6f6465a162a4506f7274cd206da356736ea6010502020505"
    "080182a54c54696d6501a44e6f6465a161";
static const char FX_COMPOUND_PING_SUSPECT[] =
    "0702003b001d0085a44e6f6465a162a55365714e6f05aa536f75726365416464"
    "72a47f004d0daa536f757263654e6f6465a163aa536f75726365506f7274cd20"
    "6d0383a446726f6da163ab496e6361726e6174696f6e01a44e6f6465a161";
static const char FX_COMPRESS_UDP[] =
    "0982a4416c676f00a3427566da00620005083a05254c1e366fc290d106405000"
    "42aa82905153670e9d3665dcd05906a0a3c78ea58ac891f346ceb21ff83e7634"
    "85a44c9a336836fa2087af16a27168e28db252660c268e2a3b020d3a5465d18f"
    "473d26151a9469d35253cac471f2264040";
static const char FX_CRC_LEAVE[] =
    "0c8b32dc6a080083a54c54696d6503a44e6f6465a163a55072756e65c2";
static const char FX_CRC_EVENT[] =
    "0cd0174c71080384a24343c3a54c54696d6501a44e616d65a66465706c6f79a7"
    "5061796c6f6164ad68656c6c6f2d7061796c6f6164";
static const char FX_CRC_QUERY[] =
    "0cebd0be0408048ba441646472a47f004d0ba746696c74657273c0a5466c6167"
    "7301a24944ce1f3d1077a54c54696d6501a44e616d65a677686f616d69a75061"
    "796c6f6164ac70696e672d7061796c6f6164a4506f7274cd206dab52656c6179"
    "466163746f7200aa536f757263654e6f6465a161a754696d656f7574ce773594"
    "00";
static const char FX_TCP_PUSHPULL[] =
    "0982a4416c676f00a3427566da00d7000d0c22a5e44d1a37c34a397943a6cc9c"
    "00acaacc2923670a9d3074ca3029e3a69980248748052143460ea93f009a2c58"
    "95c4cd983072dc604cf3c64d00524dca5c9cf54f1029396fd89421e586611951"
    "64c68c4a1a839493306dca840a430aca1b39749a816853ca22c63200465999e3"
    "c6548002020414406b4855113b1ce930a192266a00536fe3cee1260000b0bf80"
    "030b1e4cb8b0e1c388132b5eccb8b1e3c790234b9e4cb9b2e5cb98336bdeccb9"
    "71a9b975cb0458b5d10c9d9c6dc4509c034955943a14f380b6cbca2b9d3a7366"
    "3b0c34154040";

static char err[ERR_LEN];

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;

        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ---- fake transport ---- */

struct sent {
    struct gossip *g;
    struct gossip_addr to;
    uint8_t *data;
    size_t len;
};

#define MAX_SENT 20000
static struct sent sent[MAX_SENT];
static size_t n_sent;
static struct gossip_sop *ops[256];
static struct gossip *op_owner[256];
static size_t n_ops;
static char events[64][160];
static size_t n_events;
static char user_events[16][64];
static size_t n_user;
static int leave_rc = 99;

static void fake_send(struct gossip *g, const struct gossip_addr *to,
                      const uint8_t *buf, size_t len)
{
    REQUIRE(n_sent < MAX_SENT);
    sent[n_sent].g = g;
    sent[n_sent].to = *to;
    sent[n_sent].data = malloc(len);
    memcpy(sent[n_sent].data, buf, len);
    sent[n_sent].len = len;
    n_sent++;
}

static void fake_stream(struct gossip *g, struct gossip_sop *op)
{
    REQUIRE(n_ops < 256);
    op_owner[n_ops] = g;
    ops[n_ops++] = op;
}

static void clear_sent(void)
{
    for (size_t i = 0; i < n_sent; i++)
        free(sent[i].data);
    n_sent = 0;
}

static void on_event(void *ctx, enum gossip_event ev,
                     const struct gossip_member *m)
{
    static const char *const names[] = {"join", "leave", "failed",
                                        "update", "reap"};

    if (n_events < 64)
        snprintf(events[n_events++], sizeof(events[0]), "%s:%s %s",
                 (const char *)ctx, names[ev], m->name);
}

static void on_user(void *ctx, const char *name, const void *p, size_t n,
                    uint64_t ltime)
{
    if (n_user < 16)
        snprintf(user_events[n_user++], sizeof(user_events[0]), "%s=%.*s",
                 name, (int)n, (const char *)p);
}

static bool saw_event(const char *what)
{
    for (size_t i = 0; i < n_events; i++)
        if (strcmp(events[i], what) == 0)
            return true;
    return false;
}

static const struct gossip_tp fake_tp = {fake_send, fake_stream};

static struct gossip *core_opts(struct gossip_opts *o)
{
    struct gossip *g = gossip_sm_new(o, &fake_tp, err);

    ck_assert_msg(g != NULL, "new: %s", err);
    ck_assert_msg(gossip_sm_start(g, T0, err) == 0, "start: %s", err);
    return g;
}

/* A core named name bound to ip:8301; events are tagged with name. */
static struct gossip *core(const char *name, const char *ip, uint64_t seed)
{
    struct gossip_opts o;

    gossip_opts_init(&o);
    o.node_name = name;
    o.bind_addr = ip;
    o.seed = seed;
    o.on_event = on_event;
    o.on_user = on_user;
    o.ctx = (void *)name;
    return core_opts(&o);
}

/* Only the rounds a test drives itself. */
static void quiet(struct gossip *g)
{
    g->t_probe = g->t_pushpull = g->t_reconnect = UINT64_MAX / 2;
}

static void setup(void)
{
    log_set_level(LOG_LVL_OFF);
    n_sent = n_ops = n_events = n_user = 0;
    leave_rc = 99;
}

static void teardown(void) { clear_sent(); }

static struct gossip_addr ip4(const char *s)
{
    struct gossip_addr a;

    REQUIRE(gossip_addr_parse(s, 8301, &a) == 0);
    return a;
}

static void feed(struct gossip *g, const struct gossip_buf *b,
                 const char *from)
{
    struct gossip_addr a = ip4(from);

    gossip_sm_packet(g, b->p, b->len, &a);
}

static void feed_alive_tags(struct gossip *g, const char *name,
                            const char *ip, uint32_t inc,
                            const struct gossip_tag *t, size_t nt)
{
    struct gossip_buf b, meta;
    struct gm_alive a;

    memset(&a, 0, sizeof(a));
    snprintf(a.node, sizeof(a.node), "%s", name);
    a.inc = inc;
    a.addr = ip4(ip);
    gossip_buf_init(&meta, GOSSIP_META_MAX);
    gossip_tags_encode(&meta, t, nt);
    memcpy(a.meta, meta.p, meta.len);
    a.meta_len = (uint16_t)meta.len;
    gossip_buf_release(&meta);
    memcpy(a.vsn, (uint8_t[]){1, 5, 2, 2, 5, 4}, 6);
    a.vsn_len = 6;
    gossip_buf_init(&b, 0);
    gossip_enc_alive(&b, &a);
    feed(g, &b, ip);
    gossip_buf_release(&b);
}

static void feed_alive(struct gossip *g, const char *name, const char *ip,
                       uint32_t inc)
{
    struct gossip_tag t[2] = {{"role", "node"}, {"id", name}};

    feed_alive_tags(g, name, ip, inc, t, 2);
}

static void feed_suspect(struct gossip *g, int type, const char *node,
                         uint32_t inc, const char *from)
{
    struct gossip_buf b;
    struct gm_suspect s;

    memset(&s, 0, sizeof(s));
    snprintf(s.node, sizeof(s.node), "%s", node);
    snprintf(s.from, sizeof(s.from), "%s", from);
    s.inc = inc;
    gossip_buf_init(&b, 0);
    gossip_enc_suspect(&b, type, &s);
    feed(g, &b, "127.0.0.99");
    gossip_buf_release(&b);
}

static void feed_serf(struct gossip *g, int type, const char *node,
                      uint64_t ltime, bool prune)
{
    struct gossip_buf b;
    struct gs_join m;

    memset(&m, 0, sizeof(m));
    snprintf(m.node, sizeof(m.node), "%s", node);
    m.ltime = ltime;
    m.prune = prune;
    gossip_buf_init(&b, 0);
    gossip_buf_byte(&b, GM_USER);
    if (type == GS_JOIN)
        gossip_enc_sjoin(&b, &m);
    else
        gossip_enc_sleave(&b, &m);
    feed(g, &b, "127.0.0.99");
    gossip_buf_release(&b);
}

static int node_state(struct gossip *g, const char *name)
{
    struct gossip_node *n = gossip_node_get(g, name);

    return n ? n->state : -1;
}

static int member_status(struct gossip *g, const char *name)
{
    struct gossip_member_st *m = gossip_member_st_get(g, name);

    return m ? m->status : -1;
}

/* Every message (unwrapping CRC and compound) in what g sent to `to`
 * (NULL: anyone) of one type; copies the body of the k-th into out. */
static size_t find_msgs(const uint8_t *p, size_t n, int type, int k,
                        uint8_t *out, size_t *out_len)
{
    struct gossip_slice parts[255];
    size_t np, trunc, found = 0;

    if (n == 0)
        return 0;
    if (p[0] == GM_CRC)
        return find_msgs(p + 5, n - 5, type, k, out, out_len);
    if (p[0] == GM_COMPOUND) {
        REQUIRE(gossip_compound_parse(p + 1, n - 1, parts, &np, &trunc) == 0);
        for (size_t i = 0; i < np; i++)
            found += find_msgs(parts[i].p, parts[i].len, type,
                               k - (int)found, out, out_len);
        return found;
    }
    if (p[0] != type)
        return 0;
    if (k == 0 && out != NULL) {
        memcpy(out, p + 1, n - 1);
        *out_len = n - 1;
    }
    return 1;
}

static size_t count_sent(struct gossip *g, const char *to, int type,
                         int k, uint8_t *out, size_t *out_len)
{
    size_t c = 0;
    struct gossip_addr a;

    if (to != NULL)
        a = ip4(to);
    for (size_t i = 0; i < n_sent; i++) {
        if (sent[i].g != g || (to != NULL && memcmp(&sent[i].to, &a,
                                                    sizeof(a)) != 0))
            continue;
        c += find_msgs(sent[i].data, sent[i].len, type, k - (int)c, out,
                       out_len);
    }
    return c;
}

/* ---- codec against captured bytes ---- */

static uint8_t fx[4096];
static size_t fx_len;

static void load(const char *hex) { fx_len = unhex(hex, fx); }

/* The re-encoding of a decoded message equals the capture. */
static void same_bytes(const struct gossip_buf *b, const uint8_t *want,
                       size_t n)
{
    ck_assert_uint_eq(b->len, n);
    ck_assert_int_eq(memcmp(b->p, want, n), 0);
}

START_TEST(codec_ping_indirect_nack)
{
    struct gossip_mpr r;
    struct gm_ping p;
    struct gm_indirect ind;
    struct gossip_buf b;
    uint32_t seq;
    char where[80];

    gossip_buf_init(&b, 0);
    load(FX_PING);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_ping(&r, &p), 0);
    ck_assert_uint_eq(p.seq, 2);
    ck_assert_str_eq(p.node, "a");
    ck_assert_str_eq(p.src_node, "b");
    gossip_addr_str(&p.src, where, sizeof(where));
    ck_assert_str_eq(where, "127.0.77.12:8301");
    gossip_enc_ping(&b, &p);
    same_bytes(&b, fx, fx_len);

    load(FX_INDIRECT);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_indirect(&r, &ind), 0);
    ck_assert(ind.nack);
    ck_assert_uint_eq(ind.seq, 3);
    ck_assert_str_eq(ind.node, "a");
    ck_assert_str_eq(ind.src_node, "c");
    gossip_addr_str(&ind.target, where, sizeof(where));
    ck_assert_str_eq(where, "127.0.77.11:8301");
    gossip_buf_reset(&b);
    gossip_enc_indirect(&b, &ind);
    same_bytes(&b, fx, fx_len);

    load(FX_NACK);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_nack(&r, &seq), 0);
    ck_assert_uint_eq(seq, 32);
    gossip_buf_reset(&b);
    gossip_enc_nack(&b, seq);
    same_bytes(&b, fx, fx_len);
    gossip_buf_release(&b);
}
END_TEST

START_TEST(codec_ack_payload)
{
    struct gossip_mpr r;
    struct gm_ack a, a2;
    struct gossip_buf b;

    load(FX_ACK);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_ack(&r, &a), 0);
    ck_assert_uint_eq(a.seq, 2);
    ck_assert_uint_eq(a.payload.len, 130);  /* serf's coordinate */
    ck_assert_uint_eq(a.payload.p[0], 1);
    gossip_buf_init(&b, 0);
    gossip_enc_ack(&b, a.seq, a.payload.p, a.payload.len);
    gossip_mpr_init(&r, b.p + 1, b.len - 1);
    ck_assert_int_eq(gossip_dec_ack(&r, &a2), 0);
    ck_assert_uint_eq(a2.seq, 2);
    ck_assert_int_eq(memcmp(a2.payload.p, a.payload.p, 130), 0);
    gossip_buf_release(&b);
}
END_TEST

static uint32_t crc_of(const uint8_t *p)
{
    return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 8 | p[4];
}

START_TEST(codec_crc_suspect_dead_alive)
{
    static const char *const hx[] = {FX_CRC_SUSPECT, FX_CRC_DEAD};
    struct gossip_mpr r;
    struct gm_suspect s;
    struct gm_alive a;
    struct gossip_buf b;

    gossip_buf_init(&b, 0);
    for (int i = 0; i < 2; i++) {
        load(hx[i]);
        ck_assert_uint_eq(fx[0], GM_CRC);
        ck_assert_uint_eq(gossip_crc32(fx + 5, fx_len - 5), crc_of(fx));
        ck_assert_uint_eq(fx[5], i ? GM_DEAD : GM_SUSPECT);
        gossip_mpr_init(&r, fx + 6, fx_len - 6);
        ck_assert_int_eq(gossip_dec_suspect(&r, &s), 0);
        ck_assert_uint_eq(s.inc, 1);
        ck_assert_str_eq(s.node, "a");
        ck_assert_str_eq(s.from, "c");
        gossip_buf_reset(&b);
        gossip_enc_suspect(&b, fx[5], &s);
        same_bytes(&b, fx + 5, fx_len - 5);
    }
    load(FX_CRC_ALIVE);
    ck_assert_uint_eq(gossip_crc32(fx + 5, fx_len - 5), crc_of(fx));
    gossip_mpr_init(&r, fx + 6, fx_len - 6);
    ck_assert_int_eq(gossip_dec_alive(&r, &a), 0);
    ck_assert_str_eq(a.node, "c");
    ck_assert_uint_eq(a.inc, 1);
    ck_assert_uint_eq(a.addr.port, 8301);
    ck_assert_uint_eq(a.vsn_len, 6);
    ck_assert_int_eq(memcmp(a.vsn, "\1\5\2\2\5\5", 6), 0);
    ck_assert_uint_eq(a.meta_len, 12);
    gossip_buf_reset(&b);
    gossip_enc_alive(&b, &a);
    same_bytes(&b, fx + 5, fx_len - 5);
    gossip_buf_release(&b);
}
END_TEST

START_TEST(codec_compound)
{
    struct gossip_slice parts[255];
    struct gossip_buf b;
    struct gossip_mpr r;
    struct gs_join j;
    size_t np, trunc;

    load(FX_CRC_COMPOUND);
    ck_assert_uint_eq(gossip_crc32(fx + 5, fx_len - 5), crc_of(fx));
    ck_assert_uint_eq(fx[5], GM_COMPOUND);
    ck_assert_int_eq(gossip_compound_parse(fx + 6, fx_len - 6, parts, &np,
                                           &trunc), 0);
    ck_assert_uint_eq(np, 3);
    ck_assert_uint_eq(trunc, 0);
    ck_assert_uint_eq(parts[0].len, 76);
    ck_assert_uint_eq(parts[2].p[0], GM_USER);
    ck_assert_uint_eq(parts[2].p[1], GS_JOIN);
    gossip_mpr_init(&r, parts[2].p + 2, parts[2].len - 2);
    ck_assert_int_eq(gossip_dec_sjoin(&r, &j), 0);
    ck_assert_uint_eq(j.ltime, 1);
    ck_assert_str_eq(j.node, "a");
    gossip_buf_init(&b, 0);
    gossip_compound_build(&b, parts, np);
    same_bytes(&b, fx + 5, fx_len - 5);
    /* The last part cut short: the others survive, one is counted. */
    ck_assert_int_eq(gossip_compound_parse(fx + 6, fx_len - 7, parts, &np,
                                           &trunc), 0);
    ck_assert_uint_eq(np, 2);
    ck_assert_uint_eq(trunc, 1);
    gossip_buf_release(&b);
}
END_TEST

START_TEST(codec_lzw_udp_and_stream)
{
    struct gossip_mpr r;
    struct gossip_slice buf;
    struct gossip_ppview v;
    struct gm_alive a;
    struct gm_ack ack;
    uint8_t *out;
    size_t n;

    load(FX_COMPRESS_UDP);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_compress(&r, &buf), 0);
    ck_assert_int_eq(gossip_lzw_decode(buf.p, buf.len, 65536, &out, &n), 0);
    ck_assert_uint_eq(out[0], GM_ACK);
    gossip_mpr_init(&r, out + 1, n - 1);
    ck_assert_int_eq(gossip_dec_ack(&r, &ack), 0);
    ck_assert_uint_eq(ack.seq, 1);
    free(out);
    /* A too small output limit is an error, not a truncation. */
    ck_assert_int_eq(gossip_lzw_decode(buf.p, buf.len, 10, &out, &n),
                     ERR_TOOBIG);
    ck_assert_int_eq(gossip_lzw_decode(buf.p, buf.len - 1, 65536, &out, &n),
                     ERR_PARSE);

    load(FX_TCP_PUSHPULL);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    ck_assert_int_eq(gossip_dec_compress(&r, &buf), 0);
    ck_assert_int_eq(gossip_lzw_decode(buf.p, buf.len, 1 << 20, &out, &n), 0);
    ck_assert_uint_eq(out[0], GM_PUSHPULL);
    ck_assert_int_eq(gossip_pp_parse(out + 1, n - 1, &v), 0);
    ck_assert(v.h.join);
    ck_assert_int_eq(v.h.nodes, 1);
    ck_assert_uint_eq(v.user_len, 585);
    gossip_mpr_init(&r, v.nodes, v.nodes_len);
    ck_assert_int_eq(gossip_dec_pnode(&r, &a), 0);
    ck_assert_str_eq(a.node, "a");
    ck_assert_int_eq(a.state, GN_ALIVE);
    free(out);
}
END_TEST

START_TEST(codec_serf_pushpull)
{
    struct gossip_mpr r, it;
    struct gossip_slice buf, evs;
    struct gossip_ppview v;
    struct gs_pushpull pp;
    char name[GOSSIP_NAME_MAX + 1];
    uint64_t t;
    uint8_t *out;
    size_t n, nil_events = 0;

    load(FX_TCP_PUSHPULL);
    gossip_mpr_init(&r, fx + 1, fx_len - 1);
    gossip_dec_compress(&r, &buf);
    ck_assert_int_eq(gossip_lzw_decode(buf.p, buf.len, 1 << 20, &out, &n), 0);
    ck_assert_int_eq(gossip_pp_parse(out + 1, n - 1, &v), 0);
    ck_assert_uint_eq(v.user[0], GS_PUSHPULL);
    gossip_mpr_init(&r, v.user + 1, v.user_len - 1);
    ck_assert_int_eq(gossip_dec_spp(&r, &pp), 0);
    ck_assert_uint_eq(pp.ltime, 1);
    ck_assert_uint_eq(pp.event_ltime, 1);
    ck_assert_uint_eq(pp.query_ltime, 1);
    ck_assert_uint_eq(pp.left.n, 0);
    ck_assert_uint_eq(pp.status.n, 1);
    gossip_mpr_init(&it, pp.status.p, pp.status.len);
    ck_assert(gossip_spp_status(&it, name, &t));
    ck_assert_str_eq(name, "a");
    ck_assert_uint_eq(t, 0);
    ck_assert_uint_eq(pp.events.n, 512);    /* serf's whole ring */
    gossip_mpr_init(&it, pp.events.p, pp.events.len);
    for (uint32_t i = 0; i < pp.events.n; i++) {
        REQUIRE(gossip_spp_events(&it, &t, &evs));
        nil_events += evs.n == 0;
    }
    ck_assert_uint_eq(nil_events, 512);
    free(out);
}
END_TEST

START_TEST(codec_serf_messages)
{
    struct gossip_mpr r;
    struct gs_join j;
    struct gs_event e;
    struct gs_query q;
    struct gossip_buf b;

    gossip_buf_init(&b, 0);
    load(FX_CRC_LEAVE);
    ck_assert_uint_eq(gossip_crc32(fx + 5, fx_len - 5), crc_of(fx));
    ck_assert_uint_eq(fx[6], GS_LEAVE);
    gossip_mpr_init(&r, fx + 7, fx_len - 7);
    ck_assert_int_eq(gossip_dec_sleave(&r, &j), 0);
    ck_assert_uint_eq(j.ltime, 3);
    ck_assert_str_eq(j.node, "c");
    ck_assert(!j.prune);
    gossip_enc_sleave(&b, &j);
    same_bytes(&b, fx + 6, fx_len - 6);

    load(FX_CRC_EVENT);
    gossip_mpr_init(&r, fx + 7, fx_len - 7);
    ck_assert_int_eq(gossip_dec_sevent(&r, &e), 0);
    ck_assert(e.cc);
    ck_assert_uint_eq(e.ltime, 1);
    ck_assert_int_eq(memcmp(e.name.p, "deploy", 6), 0);
    ck_assert_uint_eq(e.payload.len, 13);
    gossip_buf_reset(&b);
    gossip_enc_sevent(&b, &e);
    same_bytes(&b, fx + 6, fx_len - 6);

    load(FX_CRC_QUERY);
    gossip_mpr_init(&r, fx + 7, fx_len - 7);
    ck_assert_int_eq(gossip_dec_squery(&r, &q), 0);
    ck_assert_uint_eq(q.id, 524095607u);
    ck_assert_uint_eq(q.flags, GS_QUERY_ACK);
    ck_assert_int_eq(q.timeout_ns, 2000000000);
    ck_assert_str_eq(q.src, "a");
    ck_assert_uint_eq(q.addr.port, 8301);
    ck_assert_uint_eq(q.filters.n, 0);
    gossip_buf_reset(&b);
    gossip_enc_squery(&b, &q);
    same_bytes(&b, fx + 6, fx_len - 6);
    gossip_buf_release(&b);
}
END_TEST

START_TEST(codec_tags)
{
    static const struct gossip_tag in[] = {
        {"role", "consul"}, {"dc", "dc1"}, {"port", "8300"}};
    struct gossip_tag *t;
    size_t n;
    struct gossip_buf b;
    struct gossip_tagset ts;
    struct gossip_consul_info ci = {.server = true, .dc = "dc2",
                                    .node_id = "x", .build = "0.1.0:ab",
                                    .server_port = 8300, .expect = 3};

    load(FX_CRC_ALIVE);     /* meta = ff 81 "role" "node" */
    ck_assert_int_eq(gossip_tags_decode(fx + 36, 12, &t, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(t[0].key, "role");
    ck_assert_str_eq(t[0].val, "node");
    free(t);
    gossip_buf_init(&b, GOSSIP_META_MAX);
    ck_assert_int_eq(gossip_tags_encode(&b, in, 3), 0);
    ck_assert_uint_eq(b.p[0], 0xff);
    ck_assert_int_eq(gossip_tags_decode(b.p, b.len, &t, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t[0].key, "dc");   /* sorted */
    ck_assert_str_eq(t[2].val, "consul");
    free(t);
    /* serf protocol < 3: the whole meta is the role. */
    ck_assert_int_eq(gossip_tags_decode((const uint8_t *)"web", 3, &t, &n),
                     0);
    ck_assert_str_eq(t[0].key, "role");
    ck_assert_str_eq(t[0].val, "web");
    free(t);
    ck_assert_int_ne(gossip_tags_decode((const uint8_t *)"\xff\x81\x01", 3,
                                        &t, &n), 0);
    gossip_tagset_init(&ts);
    ck_assert_int_eq(gossip_tagset_consul(&ts, &ci, err), 0);
    gossip_buf_reset(&b);
    ck_assert_int_eq(gossip_tags_encode(&b, ts.tags, ts.n), 0);
    ck_assert_int_eq(gossip_tags_decode(b.p, b.len, &t, &n), 0);
    ck_assert_uint_eq(n, 11);
    ck_assert_str_eq(t[0].key, "build");
    ck_assert_str_eq(t[3].key, "id");
    ck_assert_str_eq(t[6].key, "role");
    ck_assert_str_eq(t[6].val, "consul");
    free(t);
    gossip_buf_release(&b);
}
END_TEST

/* ---- malformed input ---- */

static const char *const udp_fx[] = {
    FX_PING, FX_INDIRECT, FX_ACK, FX_NACK, FX_CRC_SUSPECT, FX_CRC_DEAD,
    FX_CRC_ALIVE, FX_CRC_COMPOUND, FX_COMPOUND_PING_SUSPECT,
    FX_COMPRESS_UDP, FX_CRC_LEAVE, FX_CRC_EVENT, FX_CRC_QUERY,
};
#define N_UDP_FX (sizeof(udp_fx) / sizeof(udp_fx[0]))

static void feed_raw(struct gossip *g, const uint8_t *p, size_t n)
{
    struct gossip_addr a = ip4("127.0.0.99");

    gossip_sm_packet(g, p, n, &a);
}

START_TEST(malformed_every_truncation_counted)
{
    struct gossip *g = core("x", "127.0.0.1", 1);

    quiet(g);
    for (size_t f = 0; f < N_UDP_FX; f++) {
        load(udp_fx[f]);
        for (size_t cut = 0; cut < fx_len; cut++) {
            uint64_t before = g->dropped;
            uint8_t *copy = malloc(cut ? cut : 1);

            memcpy(copy, fx, cut);
            feed_raw(g, copy, cut);     /* exact size: ASan sees overreads */
            free(copy);
            if (g->dropped <= before)
                ck_abort_msg("fixture %zu cut at %zu not counted", f, cut);
        }
    }
    gossip_sm_free(g);
}
END_TEST

START_TEST(malformed_stream_truncations)
{
    struct gossip *g = core("x", "127.0.0.1", 1);
    struct gossip_buf reply;

    quiet(g);
    load(FX_TCP_PUSHPULL);
    for (size_t cut = 0; cut < fx_len; cut++)
        REQUIRE(gossip_stream_need(fx, cut) == GOSSIP_MORE);
    ck_assert_int_eq(gossip_stream_need(fx, fx_len), 0);
    gossip_buf_init(&reply, 0);
    for (size_t cut = 1; cut < fx_len; cut++)
        REQUIRE(gossip_sm_stream_in(g, fx, cut, &reply) == GOSSIP_MORE);
    /* The whole capture is serf's join: we answer with our state. */
    ck_assert_int_eq(gossip_sm_stream_in(g, fx, fx_len, &reply), 0);
    ck_assert_uint_eq(reply.p[0], GM_PUSHPULL);
    ck_assert_int_eq(member_status(g, "a"), GOSSIP_ALIVE);
    gossip_buf_release(&reply);
    gossip_sm_free(g);
}
END_TEST

struct bad {
    const char *what, *hex;
};

/* Each is dropped and counted once. */
static const struct bad bad_packets[] = {
    {"empty map ok but bad key type", "0081" "01" "01"},
    {"SeqNo as string", "0081a55365714e6fa178"},
    {"Node as int", "0081a44e6f646505"},
    {"SeqNo too big", "0081a55365714e6fcf0000000100000000"},
    {"map16 of 65535 entries", "00deffff"},
    {"map32 of 4G entries", "00dfffffffff"},
    {"str32 of 4G bytes", "0081a44e6f6465dbffffffff41"},
    {"array32 of 4G items", "0081a178ddffffffff"},
    {"nested arrays", "0081a178919191919191919191919191919191919191919191"
                      "91919191919191919191919191919191919100"},
    {"reserved byte 0xc1", "0081a178c1"},
    {"alive with a 5-byte Addr", "0482a441646472a57f00000001a44e6f6465a161"},
    {"alive with a 3-byte Vsn", "0483a441646472a47f000001a44e6f6465a161"
                                "a356736ea3010502"},
    {"alive without a name", "0481a441646472a47f000001"},
    {"alive with Meta too long", "0482a44e6f6465a161a44d657461da0201"},
    {"suspect without node", "0381ab496e6361726e6174696f6e01"},
    {"compound of 255 parts, 3 bytes", "07ff0001"},
    {"compress with Algo 1", "0982a4416c676f01a3427566a10a"},
    {"compress with garbage", "0982a4416c676f00a3427566a3ffffff"},
    {"encrypted", "0a00000000"},
    {"unknown type", "63"},
    {"bad checksum", "0c00000000" "0b81a55365714e6f20"},
    {"serf type unknown", "0863"},
    {"serf join with string LTime", "080182a54c54696d65a131a44e6f6465a161"},
    {"serf event with int Name", "080381a44e616d6501"},
    {"indirect without target", "0181a55365714e6f01"},
};

START_TEST(malformed_types_and_lengths)
{
    struct gossip *g = core("x", "127.0.0.1", 1);
    uint8_t p[512];

    quiet(g);
    for (size_t i = 0; i < sizeof(bad_packets) / sizeof(bad_packets[0]);
         i++) {
        char hex[600];
        size_t k = 0, n;
        uint64_t before = g->dropped;

        for (const char *c = bad_packets[i].hex; *c; c++)
            if (*c != ' ')
                hex[k++] = *c;
        hex[k] = '\0';
        n = unhex(hex, p);
        feed_raw(g, p, n);
        ck_assert_msg(g->dropped > before, "not dropped: %s",
                      bad_packets[i].what);
    }
    ck_assert_uint_eq(g->n_nodes, 1);
    ck_assert_uint_eq(g->n_members, 1);
    gossip_sm_free(g);
}
END_TEST

START_TEST(malformed_big_meta_and_nesting)
{
    struct gossip *g = core("x", "127.0.0.1", 1);
    static const uint8_t head[] = {GM_ALIVE, 0x83, 0xa4, 'N', 'o', 'd', 'e',
                                   0xa1, 'a', 0xa4, 'A', 'd', 'd', 'r',
                                   0xa4, 127, 0, 0, 7, 0xa4, 'M', 'e', 't',
                                   'a', 0xda, 0x02, 0x01};
    uint8_t p[1024] = {0};
    struct gossip_buf b, c;
    struct gossip_slice part;
    uint64_t before;

    quiet(g);
    memcpy(p, head, sizeof(head));
    before = g->dropped;
    feed_raw(g, p, sizeof(head) + 513);
    ck_assert_uint_eq(g->dropped, before + 1);
    ck_assert_ptr_null(gossip_node_get(g, "a"));
    /* Compounds nested deeper than GOSSIP_MAX_DEPTH. */
    gossip_buf_init(&b, 0);
    gossip_enc_nack(&b, 7);
    for (int i = 0; i < GOSSIP_MAX_DEPTH + 2; i++) {
        gossip_buf_init(&c, 0);
        part = (struct gossip_slice){b.p, b.len, 0};
        gossip_compound_build(&c, &part, 1);
        gossip_buf_release(&b);
        b = c;
    }
    before = g->dropped;
    feed_raw(g, b.p, b.len);
    ck_assert_uint_eq(g->dropped, before + 1);
    gossip_buf_release(&b);
    gossip_sm_free(g);
}
END_TEST

START_TEST(malformed_stream_lies)
{
    struct gossip *g = core("x", "127.0.0.1", 1);
    struct gossip_buf reply, b;
    struct gm_pphdr h = {.nodes = 1000000, .user_len = 0, .join = true};
    uint8_t huge[] = {GM_PUSHPULL, 0x83, 0xa4, 'J', 'o', 'i', 'n', 0xc3,
                      0xa5, 'N', 'o', 'd', 'e', 's', 0x00, 0xac, 'U', 's',
                      'e', 'r', 'S', 't', 'a', 't', 'e', 'L', 'e', 'n',
                      0xcf, 0, 0, 1, 0, 0, 0, 0, 0};

    quiet(g);
    gossip_buf_init(&reply, 0);
    ck_assert_int_eq(gossip_sm_stream_in(g, huge, sizeof(huge), &reply),
                     ERR_PARSE);
    ck_assert_uint_eq(reply.p[0], GM_ERR);  /* told why */
    /* A million nodes announced, none sent: wait for more, no alloc. */
    gossip_buf_init(&b, 0);
    gossip_enc_pphdr(&b, &h);
    ck_assert_int_eq(gossip_stream_need(b.p, b.len), GOSSIP_MORE);
    gossip_buf_reset(&reply);
    ck_assert_int_eq(gossip_sm_stream_in(g, (const uint8_t *)"\x0a", 1,
                                         &reply), ERR_UNSUPPORTED);
    ck_assert_uint_eq(reply.p[0], GM_ERR);
    gossip_buf_release(&reply);
    gossip_buf_release(&b);
    gossip_sm_free(g);
}
END_TEST

/* Random damage to real packets: never a crash or a leak (ASan). */
START_TEST(malformed_random_mutations)
{
    struct gossip *g = core("x", "127.0.0.1", 1);
    struct gossip_buf reply;
    uint64_t rng = 0x1234567;
    uint8_t p[1024];

    quiet(g);
    gossip_buf_init(&reply, 0);
    for (int it = 0; it < 20000; it++) {
        const char *src = it % 7 == 0 ? FX_TCP_PUSHPULL
                                      : udp_fx[(size_t)it % N_UDP_FX];
        size_t n = unhex(src, p);
        int muts = 1 + (int)(rng % 4);

        for (int m = 0; m < muts; m++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            p[(rng >> 33) % n] ^= (uint8_t)(1u << ((rng >> 20) % 8));
            if ((rng >> 40) % 5 == 0)
                p[(rng >> 24) % n] = (uint8_t)(rng >> 50);
        }
        if ((rng >> 45) % 3 == 0)
            n = (size_t)(rng >> 10) % n + 1;
        if (it % 7 == 0) {
            gossip_buf_reset(&reply);
            gossip_sm_stream_in(g, p, n, &reply);
        } else {
            feed_raw(g, p, n);
        }
    }
    gossip_buf_release(&reply);
    gossip_sm_free(g);
}
END_TEST

/* ---- suspicion and refutation on a fake clock ---- */

static void five(struct gossip *g)
{
    feed_alive(g, "p2", "127.0.0.2", 1);
    feed_alive(g, "p3", "127.0.0.3", 1);
    feed_alive(g, "p4", "127.0.0.4", 1);
    feed_alive(g, "p5", "127.0.0.5", 1);
}

START_TEST(suspect_to_dead_timing)
{
    struct gossip *g = core("x", "127.0.0.1", 7);

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    ck_assert(saw_event("x:join p2"));
    feed_suspect(g, GM_SUSPECT, "p2", 1, "zz");
    ck_assert_int_eq(node_state(g, "p2"), GN_SUSPECT);
    /* Two nodes: no confirmations expected, 4 * 1 s. */
    ck_assert_uint_eq(gossip_node_get(g, "p2")->susp->k, 0);
    gossip_sm_advance(g, T0 + 3999);
    ck_assert_int_eq(node_state(g, "p2"), GN_SUSPECT);
    ck_assert_int_eq(member_status(g, "p2"), GOSSIP_ALIVE);
    gossip_sm_advance(g, T0 + 4000);
    ck_assert_int_eq(node_state(g, "p2"), GN_DEAD);
    ck_assert_int_eq(member_status(g, "p2"), GOSSIP_FAILED);
    ck_assert(saw_event("x:failed p2"));
    gossip_sm_free(g);
}
END_TEST

START_TEST(suspect_confirmations_shorten)
{
    struct gossip *g = core("x", "127.0.0.1", 7);
    struct gossip_susp *s;

    quiet(g);
    five(g);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "p3");
    s = gossip_node_get(g, "p2")->susp;
    ck_assert_uint_eq(s->k, 2);
    ck_assert_uint_eq(s->min, 4000);
    ck_assert_uint_eq(s->deadline, T0 + 24000);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "p4");
    ck_assert_uint_eq(s->n, 1);
    /* max - log(2)/log(3) * (max - min) */
    ck_assert_uint_eq(s->deadline, T0 + 11381);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "p4");    /* same peer again */
    ck_assert_uint_eq(s->n, 1);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "p5");
    ck_assert_uint_eq(s->deadline, T0 + 4000);
    gossip_sm_advance(g, T0 + 3999);
    ck_assert_int_eq(node_state(g, "p2"), GN_SUSPECT);
    gossip_sm_advance(g, T0 + 4000);
    ck_assert_int_eq(node_state(g, "p2"), GN_DEAD);
    gossip_sm_free(g);
}
END_TEST

START_TEST(refute_by_higher_incarnation)
{
    struct gossip *g = core("x", "127.0.0.1", 7);

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "zz");
    feed_alive(g, "p2", "127.0.0.2", 1);    /* not newer: ignored */
    ck_assert_int_eq(node_state(g, "p2"), GN_SUSPECT);
    feed_suspect(g, GM_SUSPECT, "p2", 0, "zz");    /* older: ignored */
    feed_alive(g, "p2", "127.0.0.2", 2);
    ck_assert_int_eq(node_state(g, "p2"), GN_ALIVE);
    ck_assert_ptr_null(gossip_node_get(g, "p2")->susp);
    gossip_sm_advance(g, T0 + 30000);
    ck_assert_int_eq(node_state(g, "p2"), GN_ALIVE);
    ck_assert_int_eq(member_status(g, "p2"), GOSSIP_ALIVE);
    /* A dead claim for an old incarnation does nothing either. */
    feed_suspect(g, GM_DEAD, "p2", 1, "zz");
    ck_assert_int_eq(node_state(g, "p2"), GN_ALIVE);
    gossip_sm_free(g);
}
END_TEST

START_TEST(refute_accusations_about_us)
{
    struct gossip *g = core("x", "127.0.0.1", 7);
    struct gossip_node *me = gossip_node_get(g, "x");

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    ck_assert_uint_eq(me->inc, 1);
    feed_suspect(g, GM_SUSPECT, "x", 1, "p2");
    ck_assert_int_eq(me->state, GN_ALIVE);
    ck_assert_uint_eq(me->inc, 2);
    ck_assert_uint_eq(g->awareness, 1);
    feed_suspect(g, GM_DEAD, "x", 5, "p2");
    ck_assert_int_eq(me->state, GN_ALIVE);
    ck_assert_uint_eq(me->inc, 6);
    /* The refutation is queued as an alive message about us. */
    ck_assert_str_eq(g->q_ml.item[g->q_ml.n - 1]->name, "x");
    ck_assert_uint_eq(g->q_ml.item[g->q_ml.n - 1]->msg[0], GM_ALIVE);
    /* Someone claiming our name from elsewhere does not move us. */
    feed_alive(g, "x", "127.0.0.9", 9);
    ck_assert_uint_eq(me->addr.ip[3], 1);
    gossip_sm_free(g);
}
END_TEST

START_TEST(set_tags_announces)
{
    struct gossip *g = core("x", "127.0.0.1", 7);
    struct gossip_tag t = {"role", "consul"};
    struct gossip_member m;

    quiet(g);
    ck_assert_int_eq(gossip_sm_set_tags(g, &t, 1, err), 0);
    ck_assert_uint_eq(gossip_node_get(g, "x")->inc, 2);
    ck_assert(saw_event("x:update x"));
    ck_assert_int_eq(gossip_member_get(g, "x", &m), 0);
    ck_assert_uint_eq(m.n_tags, 1);
    ck_assert_str_eq(m.tags[0].val, "consul");
    ck_assert_uint_eq(m.pmax, 5);
    ck_assert_uint_eq(m.dcur, 4);
    ck_assert_str_eq(m.addr, "127.0.0.1");
    ck_assert_uint_eq(gossip_num_members(g), 1);
    ck_assert_int_eq(gossip_member_get(g, "nope", &m), ERR_NOTFOUND);
    ck_assert_str_eq(g->q_ml.item[g->q_ml.n - 1]->name, "x");
    gossip_sm_free(g);
}
END_TEST

/* ---- probes ---- */

/* Start a probe at T0; returns the probed node's name. */
static const char *probe_start(struct gossip *g, uint32_t *seq)
{
    static char name[GOSSIP_NAME_MAX + 1];
    uint8_t body[256];
    size_t n;
    struct gossip_mpr r;
    struct gm_ping p;

    quiet(g);
    five(g);
    clear_sent();
    g->t_probe = g->now;
    gossip_sm_advance(g, T0);
    ck_assert_uint_eq(count_sent(g, NULL, GM_PING, 0, body, &n), 1);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_ping(&r, &p), 0);
    snprintf(name, sizeof(name), "%s", p.node);
    *seq = p.seq;
    ck_assert_str_eq(p.src_node, "x");
    g->t_probe = UINT64_MAX / 2;
    return name;
}

START_TEST(probe_indirect_then_suspect)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    uint32_t seq;
    const char *target = probe_start(g, &seq);
    uint8_t body[256];
    size_t n;
    struct gossip_mpr r;
    struct gm_indirect ind;

    gossip_sm_advance(g, T0 + 499);
    ck_assert_uint_eq(count_sent(g, NULL, GM_INDIRECT, 0, NULL, NULL), 0);
    gossip_sm_advance(g, T0 + 500);
    ck_assert_uint_eq(count_sent(g, NULL, GM_INDIRECT, 0, body, &n), 3);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_indirect(&r, &ind), 0);
    ck_assert_str_eq(ind.node, target);
    ck_assert_uint_eq(ind.seq, seq);
    ck_assert(ind.nack);
    ck_assert_uint_eq(n_ops, 1);
    ck_assert_int_eq(ops[0]->kind, GSOP_PING);
    ck_assert_str_eq(ops[0]->node, target);
    gossip_sm_stream_done(g, ops[0], ERR_IO, NULL, 0, "refused");
    gossip_sm_advance(g, T0 + 999);
    ck_assert_int_eq(node_state(g, target), GN_ALIVE);
    gossip_sm_advance(g, T0 + 1000);
    ck_assert_int_eq(node_state(g, target), GN_SUSPECT);
    ck_assert_int_eq(g->awareness, 3);  /* three nacks missing */
    gossip_sm_free(g);
}
END_TEST

START_TEST(probe_saved_by_indirect_ack)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    uint32_t seq;
    const char *target = probe_start(g, &seq);
    struct gossip_buf b;

    gossip_sm_advance(g, T0 + 500);
    gossip_buf_init(&b, 0);
    gossip_enc_nack(&b, seq);
    feed(g, &b, "127.0.0.3");
    gossip_buf_reset(&b);
    gossip_enc_ack(&b, seq, NULL, 0);
    feed(g, &b, "127.0.0.4");   /* relayed by a peer */
    gossip_buf_release(&b);
    ck_assert_int_eq(g->probe.phase, GP_IDLE);
    gossip_sm_stream_done(g, ops[0], ERR_SHUTDOWN, NULL, 0, NULL);
    gossip_sm_advance(g, T0 + 1000);
    ck_assert_int_eq(node_state(g, target), GN_ALIVE);
    ck_assert_int_eq(g->awareness, 0);
    gossip_sm_free(g);
}
END_TEST

START_TEST(probe_nacks_count)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    uint32_t seq;
    struct gossip_buf b;

    probe_start(g, &seq);
    gossip_sm_advance(g, T0 + 500);
    gossip_buf_init(&b, 0);
    gossip_enc_nack(&b, seq);
    feed(g, &b, "127.0.0.3");
    gossip_buf_release(&b);
    gossip_sm_stream_done(g, ops[0], ERR_IO, NULL, 0, "refused");
    gossip_sm_advance(g, T0 + 1000);
    ck_assert_int_eq(g->awareness, 2);
    gossip_sm_free(g);
}
END_TEST

START_TEST(probe_tcp_only_is_udp_blocked)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    uint32_t seq;
    const char *target = probe_start(g, &seq);
    struct gossip_buf b;

    gossip_sm_advance(g, T0 + 500);
    gossip_buf_init(&b, 0);
    gossip_enc_ack(&b, ops[0]->seq, NULL, 0);
    gossip_sm_stream_done(g, ops[0], 0, b.p, b.len, NULL);
    gossip_buf_release(&b);
    gossip_sm_advance(g, T0 + 1000);
    ck_assert_int_eq(node_state(g, target), GN_ALIVE);
    ck_assert_uint_eq(g->udp_blocked, 1);
    ck_assert(gossip_node_get(g, target)->udp_warned);
    ck_assert_int_eq(g->awareness, 0);
    gossip_sm_free(g);
}
END_TEST

START_TEST(probe_of_a_suspect_carries_the_suspicion)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    uint8_t body[256];
    size_t n;
    struct gossip_mpr r;
    struct gm_suspect s;

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    feed_suspect(g, GM_SUSPECT, "p2", 1, "zz");
    clear_sent();
    g->t_probe = g->now;
    gossip_sm_advance(g, T0);
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_PING, 0, NULL, NULL), 1);
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_SUSPECT, 0, body, &n),
                      1);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_suspect(&r, &s), 0);
    ck_assert_str_eq(s.node, "p2");
    ck_assert_str_eq(s.from, "x");
    /* p2 speaks protocol 5: the packet carries a CRC. */
    ck_assert_uint_eq(sent[0].data[0], GM_CRC);
    gossip_sm_free(g);
}
END_TEST

START_TEST(relay_indirect_ping)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    struct gm_indirect ind;
    struct gossip_buf b;
    uint8_t body[256];
    size_t n;
    struct gossip_mpr r;
    struct gm_ping p;
    struct gm_ack a;
    uint32_t seq;

    quiet(g);
    five(g);
    clear_sent();
    memset(&ind, 0, sizeof(ind));
    ind.seq = 77;
    ind.target = ip4("127.0.0.3");
    snprintf(ind.node, sizeof(ind.node), "p3");
    ind.nack = true;
    ind.src = ip4("127.0.0.2");
    snprintf(ind.src_node, sizeof(ind.src_node), "p2");
    gossip_buf_init(&b, 0);
    gossip_enc_indirect(&b, &ind);
    feed(g, &b, "127.0.0.2");
    ck_assert_uint_eq(count_sent(g, "127.0.0.3", GM_PING, 0, body, &n), 1);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_ping(&r, &p), 0);
    ck_assert_str_eq(p.node, "p3");
    gossip_buf_reset(&b);
    gossip_enc_ack(&b, p.seq, NULL, 0);
    feed(g, &b, "127.0.0.3");
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_ACK, 0, body, &n), 1);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_ack(&r, &a), 0);
    ck_assert_uint_eq(a.seq, 77);
    /* Unanswered: a nack goes back after probe_timeout. */
    gossip_buf_reset(&b);
    ind.seq = 78;
    gossip_enc_indirect(&b, &ind);
    feed(g, &b, "127.0.0.2");
    gossip_buf_release(&b);
    gossip_sm_advance(g, T0 + 499);
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_NACK, 0, NULL, NULL), 0);
    gossip_sm_advance(g, T0 + 500);
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_NACK, 0, body, &n), 1);
    gossip_mpr_init(&r, body, n);
    ck_assert_int_eq(gossip_dec_nack(&r, &seq), 0);
    ck_assert_uint_eq(seq, 78);
    gossip_sm_free(g);
}
END_TEST

START_TEST(ping_gets_ack_with_piggyback)
{
    struct gossip *g = core("x", "127.0.0.1", 11);
    struct gm_ping p;
    struct gossip_buf b;
    uint8_t body[256];
    size_t n;

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    clear_sent();
    memset(&p, 0, sizeof(p));
    p.seq = 9;
    snprintf(p.node, sizeof(p.node), "x");
    p.src = ip4("127.0.0.2");
    gossip_buf_init(&b, 0);
    gossip_enc_ping(&b, &p);
    feed(g, &b, "127.0.0.2");
    ck_assert_uint_eq(count_sent(g, "127.0.0.2", GM_ACK, 0, body, &n), 1);
    /* p2's alive rides along. */
    ck_assert_uint_ge(count_sent(g, "127.0.0.2", GM_ALIVE, 0, NULL, NULL), 1);
    /* A ping for another name is ignored. */
    clear_sent();
    snprintf(p.node, sizeof(p.node), "someone-else");
    gossip_buf_reset(&b);
    gossip_enc_ping(&b, &p);
    feed(g, &b, "127.0.0.2");
    ck_assert_uint_eq(count_sent(g, NULL, GM_ACK, 0, NULL, NULL), 0);
    gossip_buf_release(&b);
    gossip_sm_free(g);
}
END_TEST

/* ---- serf intents ---- */

START_TEST(serf_leave_vs_fail)
{
    struct gossip *g = core("x", "127.0.0.1", 3);

    quiet(g);
    five(g);
    feed_serf(g, GS_LEAVE, "p2", 5, false);
    ck_assert_int_eq(member_status(g, "p2"), GOSSIP_LEAVING);
    ck_assert_uint_eq(g->clock, 6);     /* Lamport: witnessed 5 */
    feed_suspect(g, GM_DEAD, "p2", 1, "p2");
    ck_assert_int_eq(member_status(g, "p2"), GOSSIP_LEFT);
    ck_assert_int_eq(node_state(g, "p2"), GN_LEFT);
    ck_assert(saw_event("x:leave p2"));
    feed_suspect(g, GM_DEAD, "p3", 1, "p4");
    ck_assert_int_eq(member_status(g, "p3"), GOSSIP_FAILED);
    ck_assert(saw_event("x:failed p3"));
    /* force-leave turns failed into left; unknown names are errors. */
    ck_assert_int_eq(gossip_serf_force_leave(g, "p3", false, err), 0);
    ck_assert_int_eq(member_status(g, "p3"), GOSSIP_LEFT);
    ck_assert_int_eq(gossip_serf_force_leave(g, "nope", false, err),
                     ERR_NOTFOUND);
    ck_assert_str_eq(err, "no node found with name 'nope'");
    /* A stale join intent (older Lamport time) changes nothing. */
    feed_serf(g, GS_JOIN, "p4", 1, false);
    feed_serf(g, GS_LEAVE, "p4", 20, false);
    feed_serf(g, GS_JOIN, "p4", 10, false);
    ck_assert_int_eq(member_status(g, "p4"), GOSSIP_LEAVING);
    feed_serf(g, GS_JOIN, "p4", 21, false);
    ck_assert_int_eq(member_status(g, "p4"), GOSSIP_ALIVE);
    /* Prune erases a left member right away. */
    ck_assert_int_eq(gossip_serf_force_leave(g, "p3", true, err), 0);
    ck_assert_ptr_null(gossip_member_st_get(g, "p3"));
    ck_assert(saw_event("x:reap p3"));
    gossip_sm_free(g);
}
END_TEST

START_TEST(serf_intent_before_member)
{
    struct gossip *g = core("x", "127.0.0.1", 3);
    size_t q;

    quiet(g);
    feed_serf(g, GS_LEAVE, "p9", 4, false);
    feed_alive(g, "p9", "127.0.0.9", 1);
    ck_assert_int_eq(member_status(g, "p9"), GOSSIP_LEAVING);
    /* An old leave intent about us while alive: refuted with a join. */
    q = g->q_intent.n;
    feed_serf(g, GS_LEAVE, "x", 50, false);
    ck_assert_int_eq(member_status(g, "x"), GOSSIP_ALIVE);
    ck_assert_uint_eq(g->q_intent.n, q + 1);
    ck_assert_uint_eq(g->q_intent.item[q]->msg[0], GS_JOIN);
    gossip_sm_free(g);
}
END_TEST

START_TEST(serf_user_events_once)
{
    struct gossip *g = core("x", "127.0.0.1", 3);
    struct gossip_buf b;
    struct gs_event e;

    quiet(g);
    memset(&e, 0, sizeof(e));
    e.ltime = 3;
    e.name = (struct gossip_slice){(const uint8_t *)"deploy", 6, 0};
    e.payload = (struct gossip_slice){(const uint8_t *)"v2", 2, 0};
    gossip_buf_init(&b, 0);
    gossip_buf_byte(&b, GM_USER);
    gossip_enc_sevent(&b, &e);
    feed(g, &b, "127.0.0.2");
    feed(g, &b, "127.0.0.3");
    gossip_buf_release(&b);
    ck_assert_uint_eq(n_user, 1);
    ck_assert_str_eq(user_events[0], "deploy=v2");
    ck_assert_uint_eq(g->q_event.n, 1);     /* re-broadcast once */
    ck_assert_uint_eq(g->event_clock, 4);
    ck_assert_int_eq(gossip_serf_user_event(g, "n", "p", 1, false, err), 0);
    ck_assert_uint_eq(n_user, 2);
    ck_assert_int_eq(gossip_serf_user_event(g, "big", fx, 600, false, err),
                     ERR_TOOBIG);
    gossip_sm_free(g);
}
END_TEST

/* ---- push/pull and conflicts ---- */

/* b pushes its state (join) to a the way a TCP join does; returns
 * stream_in's result and leaves a's answer merged into b. */
static int join_via(struct gossip *b, struct gossip *a, char *why)
{
    struct gossip_buf req, reply;
    bool join;
    int rc;

    gossip_buf_init(&req, 0);
    gossip_buf_init(&reply, 0);
    ck_assert_int_eq(gossip_sm_encode_state(b, true, &req), 0);
    rc = gossip_sm_stream_in(a, req.p, req.len, &reply);
    why[0] = '\0';
    if (rc == 0) {
        ck_assert_uint_eq(reply.p[0], GM_PUSHPULL);
        ck_assert_int_eq(gossip_sm_check_conflicts(b, reply.p + 1,
                                                   reply.len - 1, false,
                                                   why), 0);
        ck_assert_int_eq(gossip_sm_merge_state(b, reply.p + 1,
                                               reply.len - 1, &join, why),
                         0);
        ck_assert(join);
    } else if (reply.len > 0) {
        struct gossip_mpr r;

        ck_assert_uint_eq(reply.p[0], GM_ERR);
        gossip_mpr_init(&r, reply.p + 1, reply.len - 1);
        gossip_dec_err(&r, why, ERR_LEN);
    }
    gossip_buf_release(&req);
    gossip_buf_release(&reply);
    return rc;
}

static struct gossip *core_id(const char *name, const char *ip,
                              const char *id)
{
    struct gossip_opts o;
    struct gossip_tag t = {"id", id};

    gossip_opts_init(&o);
    o.node_name = name;
    o.bind_addr = ip;
    o.node_id = id;
    o.tags = &t;
    o.n_tags = 1;
    o.seed = 5;
    return core_opts(&o);
}

START_TEST(pushpull_join_and_conflicts)
{
    struct gossip *a = core_id("a", "127.0.0.1", "id-a");
    struct gossip *b = core_id("b", "127.0.0.2", "id-b");
    struct gossip *c = core_id("b", "127.0.0.3", "id-c");
    struct gossip *d = core_id("d", "127.0.0.4", "id-a");
    char why[ERR_LEN];

    ck_assert_int_eq(join_via(b, a, why), 0);
    ck_assert_int_eq(member_status(a, "b"), GOSSIP_ALIVE);
    ck_assert_int_eq(member_status(b, "a"), GOSSIP_ALIVE);
    ck_assert_uint_eq(gossip_member_st_get(b, "a")->n_tags, 1);
    /* Same name from another address: refused, with the reason. */
    ck_assert_int_eq(join_via(c, a, why), ERR_CONFLICT);
    ck_assert_str_eq(why, "node name 'b' is already taken by a live member "
                          "at 127.0.0.2:8301; node names must be unique");
    ck_assert_int_eq(member_status(a, "b"), GOSSIP_ALIVE);
    /* Same node id under another name: refused too. */
    ck_assert_int_eq(join_via(d, a, why), ERR_CONFLICT);
    ck_assert_str_eq(why, "Member 'd' has conflicting node ID 'id-a' with "
                          "this agent's ID");
    ck_assert_ptr_null(gossip_member_st_get(a, "d"));
    /* The joiner's own check: the pool already has its name. */
    {
        struct gossip_buf st;

        gossip_buf_init(&st, 0);
        gossip_sm_encode_state(a, true, &st);
        ck_assert_int_eq(gossip_sm_check_conflicts(c, st.p + 1, st.len - 1,
                                                   false, why),
                         ERR_CONFLICT);
        ck_assert_ptr_nonnull(strstr(why, "127.0.0.2:8301"));
        gossip_buf_release(&st);
    }
    /* A rejoin from the same address is fine. */
    ck_assert_int_eq(join_via(b, a, why), 0);
    gossip_sm_free(a);
    gossip_sm_free(b);
    gossip_sm_free(c);
    gossip_sm_free(d);
}
END_TEST

START_TEST(pushpull_other_datacenter)
{
    struct gossip_opts o;
    struct gossip_tag t1 = {"dc", "dc1"}, t2 = {"dc", "dc2"};
    struct gossip *a, *b;
    char why[ERR_LEN];

    gossip_opts_init(&o);
    o.node_name = "a";
    o.bind_addr = "127.0.0.1";
    o.tags = &t1;
    o.n_tags = 1;
    a = core_opts(&o);
    o.node_name = "b";
    o.bind_addr = "127.0.0.2";
    o.tags = &t2;
    b = core_opts(&o);
    ck_assert_int_eq(join_via(b, a, why), ERR_CONFLICT);
    ck_assert_str_eq(why, "Member 'b' part of wrong datacenter 'dc2'");
    /* Nor does its gossip get in; no dc tag at all is fine. */
    quiet(a);
    feed_alive_tags(a, "p2", "127.0.0.3", 1, &t2, 1);
    ck_assert_ptr_null(gossip_node_get(a, "p2"));
    feed_alive(a, "p3", "127.0.0.4", 1);
    ck_assert_ptr_nonnull(gossip_node_get(a, "p3"));
    gossip_sm_free(a);
    gossip_sm_free(b);
}
END_TEST

START_TEST(pushpull_protocol_versions)
{
    struct gossip *a = core("a", "127.0.0.1", 3);
    struct gossip_buf b;
    struct gm_pphdr h = {.nodes = 1, .user_len = 0, .join = false};
    struct gm_alive n;
    bool join;

    quiet(a);
    memset(&n, 0, sizeof(n));
    snprintf(n.node, sizeof(n.node), "old");
    n.addr = ip4("127.0.0.5");
    n.inc = 1;
    memcpy(n.vsn, (uint8_t[]){1, 1, 1, 2, 5, 4}, 6);
    n.vsn_len = 6;
    gossip_buf_init(&b, 0);
    gossip_enc_pphdr(&b, &h);
    gossip_enc_pnode(&b, &n);
    ck_assert_int_eq(gossip_sm_merge_state(a, b.p + 1, b.len - 1, &join, err),
                     ERR_CONFLICT);
    ck_assert_str_eq(err, "node 'a' protocol version (2) is incompatible: "
                          "[1, 1]");
    ck_assert_ptr_null(gossip_node_get(a, "old"));
    gossip_buf_release(&b);
    gossip_sm_free(a);
}
END_TEST

/* ---- leave ---- */

static void leave_done(void *ctx, int rc) { leave_rc = rc; }

START_TEST(leave_sequence)
{
    struct gossip *g = core("x", "127.0.0.1", 3);
    uint64_t t = T0;

    quiet(g);
    feed_alive(g, "p2", "127.0.0.2", 1);
    g->leave_cb = leave_done;
    ck_assert_int_eq(gossip_serf_leave_start(g), 0);
    ck_assert_int_eq(member_status(g, "x"), GOSSIP_LEAVING);
    ck_assert_int_eq(gossip_serf_leave_start(g), ERR_EXISTS);
    while (leave_rc == 99 && t < T0 + 20000)
        gossip_sm_advance(g, t += 50);
    ck_assert_int_eq(leave_rc, 0);
    ck_assert_uint_lt(t, T0 + 4000);
    ck_assert_int_eq(member_status(g, "x"), GOSSIP_LEFT);
    ck_assert_int_eq(node_state(g, "x"), GN_LEFT);
    ck_assert_uint_ge(count_sent(g, "127.0.0.2", GM_DEAD, 0, NULL, NULL), 1);
    ck_assert(saw_event("x:leave x"));
    /* We do not come back from our own alive messages. */
    feed_alive(g, "x", "127.0.0.1", 99);
    ck_assert_int_eq(node_state(g, "x"), GN_LEFT);
    gossip_sm_free(g);
}
END_TEST

START_TEST(leave_alone_is_quick)
{
    struct gossip *g = core("x", "127.0.0.1", 3);

    quiet(g);
    g->leave_cb = leave_done;
    ck_assert_int_eq(gossip_serf_leave_start(g), 0);
    gossip_sm_advance(g, T0 + 999);
    ck_assert_int_eq(leave_rc, 99);
    gossip_sm_advance(g, T0 + 1000);    /* leave_propagate */
    ck_assert_int_eq(leave_rc, 0);
    gossip_sm_free(g);
}
END_TEST

/* ---- snapshot ---- */

static char tmpdir[64];

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(s, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(snapshot_replay_and_record)
{
    struct gossip_opts o;
    struct gossip *g;
    char path[128], **names, **addrs;
    size_t n;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_gossip.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/serf", tmpdir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/serf/local.snapshot", tmpdir);
    write_file(path, "alive: old 127.0.0.8:8301\nleave\n"
                     "alive: web 1 127.0.0.9:8301\nalive: db 127.0.0.10:8301\n"
                     "not-alive: db\nclock: 7\nevent-clock: 3\n# note\n"
                     "bogus line\n");
    gossip_opts_init(&o);
    o.node_name = "x";
    o.bind_addr = "127.0.0.1";
    o.snapshot_path = path;
    o.seed = 3;
    g = core_opts(&o);
    quiet(g);
    ck_assert_uint_eq(g->clock, 8);
    ck_assert_uint_eq(g->event_min, 4);
    n = gossip_snap_previous(g, &names, &addrs);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(names[0], "web 1");    /* names may hold spaces */
    ck_assert_str_eq(addrs[0], "127.0.0.9:8301");
    free(names[0]);
    free(addrs[0]);
    free(names);
    free(addrs);
    feed_alive(g, "p2", "127.0.0.2", 1);
    gossip_sm_advance(g, T0 + 600);
    ck_assert_ptr_nonnull(strstr(read_file(path),
                                 "alive: p2 127.0.0.2:8301\n"));
    g->leave_cb = leave_done;
    gossip_serf_leave_start(g);
    feed_alive(g, "p3", "127.0.0.3", 1);
    gossip_sm_free(g);
    {
        const char *f = read_file(path), *p2 = strstr(f, "alive: p2");

        ck_assert_ptr_null(strstr(f, "p3"));
        ck_assert_ptr_nonnull(p2);
        ck_assert_ptr_nonnull(strstr(p2, "\nleave\n"));
        ck_assert_str_eq(f + strlen(f) - 6, "leave\n");
    }
    unlink(path);
    snprintf(path, sizeof(path), "%s/serf", tmpdir);
    rmdir(path);
    rmdir(tmpdir);
}
END_TEST

/* ---- a pool of five on a simulated network ---- */

#define SIM_N 5
static struct gossip *sim[SIM_N];
static bool sim_down[SIM_N];
static size_t sim_sent_at, sim_ops_at;
static int sim_joined;

static int sim_find(const struct gossip_addr *a)
{
    for (int i = 0; i < SIM_N; i++)
        if (sim[i] != NULL && memcmp(&sim[i]->adv, a, sizeof(*a)) == 0)
            return i;
    return -1;
}

static int sim_index(const struct gossip *g)
{
    for (int i = 0; i < SIM_N; i++)
        if (sim[i] == g)
            return i;
    return -1;
}

static void sim_stream(struct gossip *g, struct gossip_sop *op)
{
    struct gossip_buf reply;
    int dst = sim_find(&op->to), rc;

    if (dst < 0 || sim_down[dst] || sim_down[sim_index(g)]) {
        gossip_sm_stream_done(g, op, ERR_IO, NULL, 0, "connection refused");
        return;
    }
    gossip_buf_init(&reply, 0);
    rc = gossip_sm_stream_in(sim[dst], op->req, op->req_len, &reply);
    if (rc == 0 || reply.len > 0)
        gossip_sm_stream_done(g, op, 0, reply.p, reply.len, NULL);
    else
        gossip_sm_stream_done(g, op, ERR_IO, NULL, 0, "EOF");
    gossip_buf_release(&reply);
}

/* Deliver datagrams and stream exchanges until all is quiet. */
static void sim_deliver(void)
{
    for (int guard = 0; guard < 100; guard++) {
        bool any = false;

        while (sim_sent_at < n_sent) {
            struct sent *s = &sent[sim_sent_at++];
            int src = sim_index(s->g), dst = sim_find(&s->to);

            any = true;
            if (dst >= 0 && !sim_down[dst] && !sim_down[src])
                gossip_sm_packet(sim[dst], s->data, s->len, &sim[src]->adv);
        }
        while (sim_ops_at < n_ops) {
            any = true;
            sim_stream(op_owner[sim_ops_at], ops[sim_ops_at]);
            sim_ops_at++;
        }
        if (!any)
            break;
    }
    if (sim_sent_at == n_sent) {
        clear_sent();
        sim_sent_at = 0;
    }
    if (sim_ops_at == n_ops)
        sim_ops_at = n_ops = 0;
}

static void sim_step(uint64_t now)
{
    for (int i = 0; i < SIM_N; i++)
        if (!sim_down[i])
            gossip_sm_advance(sim[i], now);
    sim_deliver();
}

static void sim_join_cb(void *ctx, int n, const struct gossip_join_result *r,
                        size_t nr)
{
    sim_joined += n;
}

static bool all_see(int who, int status)
{
    for (int i = 0; i < SIM_N; i++)
        if (i != who && !sim_down[i] &&
            member_status(sim[i], sim[who]->name) != status)
            return false;
    return true;
}

static uint64_t sim_until(uint64_t t, uint64_t limit, int who, int status)
{
    while (t < limit && !all_see(who, status))
        sim_step(t += 10);
    return t;
}

START_TEST(sim_five_nodes_detect_failure_and_leave)
{
    static const char *const names[SIM_N] = {"n1", "n2", "n3", "n4", "n5"};
    static const char *const ips[SIM_N] = {"127.0.0.1", "127.0.0.2",
                                           "127.0.0.3", "127.0.0.4",
                                           "127.0.0.5"};
    const char *seed_addr = "127.0.0.1";
    struct gossip_addr a = ip4(seed_addr);
    uint64_t t = T0, killed;

    for (int i = 0; i < SIM_N; i++) {
        sim[i] = core(names[i], ips[i], 100 + (uint64_t)i);
        sim[i]->tp.stream = fake_stream;
    }
    for (int i = 1; i < SIM_N; i++) {
        struct gossip_join *j = gossip_sm_join_new(sim[i], &seed_addr, 1,
                                                   sim_join_cb, NULL);

        gossip_sm_join_one(sim[i], j, 0, &a, NULL);
        j->started = true;
        sim_deliver();
    }
    sim_step(t);
    ck_assert_int_eq(sim_joined, SIM_N - 1);
    t = sim_until(t, T0 + 10000, 4, GOSSIP_ALIVE);
    for (int i = 0; i < SIM_N; i++)
        ck_assert_int_eq(all_see(i, GOSSIP_ALIVE), true);
    t += 3000;
    sim_step(t);
    /* Kill n3: every other member marks it failed within 10 s. */
    sim_down[2] = true;
    killed = t;
    t = sim_until(t, killed + 30000, 2, GOSSIP_FAILED);
    ck_assert_msg(all_see(2, GOSSIP_FAILED), "not all saw n3 fail");
    ck_assert_msg(t - killed <= 10000, "took %llu ms",
                  (unsigned long long)(t - killed));
    /* A graceful leave shows as left everywhere. */
    sim[3]->leave_cb = leave_done;
    ck_assert_int_eq(gossip_serf_leave_start(sim[3]), 0);
    t = sim_until(t, t + 10000, 3, GOSSIP_LEFT);
    ck_assert(all_see(3, GOSSIP_LEFT));
    while (leave_rc == 99 && t < killed + 60000)
        sim_step(t += 10);
    ck_assert_int_eq(leave_rc, 0);
    for (int i = 0; i < SIM_N; i++) {
        gossip_sm_free(sim[i]);
        sim[i] = NULL;
    }
}
END_TEST

/* ---- queues, options, lifecycle ---- */

START_TEST(queue_order_limit_replace)
{
    struct gossip_queue q = {0};
    struct gossip_parts pt;
    uint8_t m1[10] = {1}, m2[20] = {2}, m3[30] = {3};

    ck_assert_int_eq(gossip_q_push(NULL, &q, "a", m1, 10, GB_NONE), 0);
    ck_assert_int_eq(gossip_q_push(NULL, &q, "b", m2, 20, GB_NONE), 0);
    ck_assert_int_eq(gossip_q_push(NULL, &q, "a", m3, 30, GB_NONE), 0);
    ck_assert_uint_eq(q.n, 2);  /* "a" replaced */
    pt.n = pt.used = 0;
    /* Longest first; 30 + 2 fits, 20 + 2 more does not in 40. */
    ck_assert_uint_eq(gossip_q_get(NULL, &q, 2, 2, 40, -1, &pt), 32);
    ck_assert_uint_eq(pt.n, 1);
    ck_assert_uint_eq(pt.part[0].p[0], 3);
    pt.n = pt.used = 0;
    /* Least sent first, then the other one; each only once per get. */
    gossip_q_get(NULL, &q, 2, 2, 1000, GM_USER, &pt);
    ck_assert_uint_eq(pt.n, 2);
    ck_assert_uint_eq(pt.part[0].p[0], GM_USER);
    ck_assert_uint_eq(pt.part[0].p[1], 2);
    ck_assert_uint_eq(q.n, 1);  /* "a" sent twice: done */
    gossip_q_release(NULL, &q);
}
END_TEST

START_TEST(options_rejected)
{
    struct gossip_opts o;
    struct gossip_tag big[40];
    char v[40][32];

    gossip_opts_init(&o);
    ck_assert_ptr_null(gossip_sm_new(&o, &fake_tp, err));
    ck_assert_str_eq(err, "node name is required");
    o.node_name = "x";
    o.bind_addr = "not-an-ip";
    ck_assert_ptr_null(gossip_sm_new(&o, &fake_tp, err));
    ck_assert_str_eq(err, "bind address 'not-an-ip' is not an IP address");
    o.bind_addr = "0.0.0.0";
    ck_assert_ptr_null(gossip_sm_new(&o, &fake_tp, err));
    o.bind_addr = "127.0.0.1";
    for (int i = 0; i < 40; i++) {
        snprintf(v[i], sizeof(v[i]), "k%02d-xxxxxxxxxxxx", i);
        big[i].key = v[i];
        big[i].val = v[i];
    }
    o.tags = big;
    o.n_tags = 40;
    ck_assert_ptr_null(gossip_sm_new(&o, &fake_tp, err));
    ck_assert_str_eq(err, "encoded length of tags exceeds limit of 512 "
                          "bytes");
}
END_TEST

static int closed;

static void on_closed(void *ctx) { closed++; }

START_TEST(uv_new_and_close)
{
    uv_loop_t loop;
    struct gossip_opts o;
    struct gossip *g;

    ck_assert_int_eq(uv_loop_init(&loop), 0);
    gossip_opts_init(&o);
    o.node_name = "x";
    o.bind_addr = "127.0.0.1";
    g = gossip_new(&loop, &o, err);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gossip_join(g, &o.bind_addr, 1, NULL, NULL, err),
                     ERR_SHUTDOWN);
    gossip_close(g, on_closed, NULL);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(closed, 1);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *gossip_suite(void)
{
    Suite *s = suite_create("gossip");
    TCase *codec = tcase_create("codec");
    TCase *bad = tcase_create("malformed");
    TCase *sm = tcase_create("state");
    TCase *pool = tcase_create("pool");

    tcase_add_checked_fixture(codec, setup, teardown);
    tcase_add_test(codec, codec_ping_indirect_nack);
    tcase_add_test(codec, codec_ack_payload);
    tcase_add_test(codec, codec_crc_suspect_dead_alive);
    tcase_add_test(codec, codec_compound);
    tcase_add_test(codec, codec_lzw_udp_and_stream);
    tcase_add_test(codec, codec_serf_pushpull);
    tcase_add_test(codec, codec_serf_messages);
    tcase_add_test(codec, codec_tags);
    tcase_add_test(codec, queue_order_limit_replace);
    suite_add_tcase(s, codec);
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_set_timeout(bad, 120);
    tcase_add_test(bad, malformed_every_truncation_counted);
    tcase_add_test(bad, malformed_stream_truncations);
    tcase_add_test(bad, malformed_types_and_lengths);
    tcase_add_test(bad, malformed_big_meta_and_nesting);
    tcase_add_test(bad, malformed_stream_lies);
    tcase_add_test(bad, malformed_random_mutations);
    suite_add_tcase(s, bad);
    tcase_add_checked_fixture(sm, setup, teardown);
    tcase_add_test(sm, suspect_to_dead_timing);
    tcase_add_test(sm, suspect_confirmations_shorten);
    tcase_add_test(sm, refute_by_higher_incarnation);
    tcase_add_test(sm, refute_accusations_about_us);
    tcase_add_test(sm, set_tags_announces);
    tcase_add_test(sm, probe_indirect_then_suspect);
    tcase_add_test(sm, probe_saved_by_indirect_ack);
    tcase_add_test(sm, probe_nacks_count);
    tcase_add_test(sm, probe_tcp_only_is_udp_blocked);
    tcase_add_test(sm, probe_of_a_suspect_carries_the_suspicion);
    tcase_add_test(sm, relay_indirect_ping);
    tcase_add_test(sm, ping_gets_ack_with_piggyback);
    tcase_add_test(sm, serf_leave_vs_fail);
    tcase_add_test(sm, serf_intent_before_member);
    tcase_add_test(sm, serf_user_events_once);
    tcase_add_test(sm, leave_sequence);
    tcase_add_test(sm, leave_alone_is_quick);
    suite_add_tcase(s, sm);
    tcase_add_checked_fixture(pool, setup, teardown);
    tcase_set_timeout(pool, 120);
    tcase_add_test(pool, pushpull_join_and_conflicts);
    tcase_add_test(pool, pushpull_other_datacenter);
    tcase_add_test(pool, pushpull_protocol_versions);
    tcase_add_test(pool, snapshot_replay_and_record);
    tcase_add_test(pool, sim_five_nodes_detect_failure_and_leave);
    tcase_add_test(pool, options_rejected);
    tcase_add_test(pool, uv_new_and_close);
    suite_add_tcase(s, pool);
    return s;
}

Suite *unit_suite(void)
{
    return gossip_suite();
}

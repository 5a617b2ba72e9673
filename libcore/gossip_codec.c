/* gossip_codec.c - msgpack reader/writer and memberlist messages.
 *
 * Layer: replication (uses util). Thread: any (no shared state).
 * memberlist encodes Go structs with go-msgpack as maps keyed by field
 * name, keys sorted, []byte as msgpack str. Our reader never allocates
 * and checks every length against the bytes left, so a truncated or
 * lying packet ends in GOSSIP_MORE or ERR_PARSE, never in a read past
 * the end; a stream reader tells the two apart to wait for more bytes.
 * Writing goes through msgpack-c's packer into a gossip_buf.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define SKIP_DEPTH 32

/* ---- reader ---- */

enum { K_NIL, K_BOOL, K_UINT, K_INT, K_FLOAT, K_STR, K_BIN, K_ARRAY,
       K_MAP, K_EXT };

void gossip_mpr_init(struct gossip_mpr *r, const void *p, size_t n)
{
    r->p = p;
    r->end = p != NULL ? r->p + n : r->p; /* no offset on NULL (UB) */
    r->rc = 0;
}

static bool fail(struct gossip_mpr *r)
{
    if (r->rc == 0)
        r->rc = ERR_PARSE;
    return false;
}

static bool need(struct gossip_mpr *r, uint64_t n)
{
    if (r->rc != 0)
        return false;
    if ((uint64_t)(r->end - r->p) < n) {
        r->rc = GOSSIP_MORE;
        return false;
    }
    return true;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Read n big-endian bytes. */
static bool rd_be(struct gossip_mpr *r, int n, uint64_t *v)
{
    if (!need(r, (uint64_t)n))
        return false;
    *v = be(r->p, n);
    r->p += n;
    return true;
}

static int fixed_kind(uint8_t c, uint64_t *v)
{
    if (c <= 0x7f) {
        *v = c;
        return K_UINT;
    }
    if (c >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)c;
        return K_INT;
    }
    *v = c & (c < 0x90 ? 0x0f : c < 0xa0 ? 0x0f : 0x1f);
    return c < 0x90 ? K_MAP : c < 0xa0 ? K_ARRAY : K_STR;
}

/* Width in bytes of the value/length that follows a tag byte. */
static int tag_width(uint8_t c, int *kind)
{
    static const struct { uint8_t c; int kind, w; } t[] = {
        {0xc0, K_NIL, 0},   {0xc2, K_BOOL, 0},  {0xc3, K_BOOL, 0},
        {0xc4, K_BIN, 1},   {0xc5, K_BIN, 2},   {0xc6, K_BIN, 4},
        {0xc7, K_EXT, 1},   {0xc8, K_EXT, 2},   {0xc9, K_EXT, 4},
        {0xca, K_FLOAT, 4}, {0xcb, K_FLOAT, 8}, {0xcc, K_UINT, 1},
        {0xcd, K_UINT, 2},  {0xce, K_UINT, 4},  {0xcf, K_UINT, 8},
        {0xd0, K_INT, 1},   {0xd1, K_INT, 2},   {0xd2, K_INT, 4},
        {0xd3, K_INT, 8},   {0xd4, K_EXT, -1},  {0xd5, K_EXT, -2},
        {0xd6, K_EXT, -4},  {0xd7, K_EXT, -8},  {0xd8, K_EXT, -16},
        {0xd9, K_STR, 1},   {0xda, K_STR, 2},   {0xdb, K_STR, 4},
        {0xdc, K_ARRAY, 2}, {0xdd, K_ARRAY, 4}, {0xde, K_MAP, 2},
        {0xdf, K_MAP, 4},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].c == c) {
            *kind = t[i].kind;
            return t[i].w;
        }
    return -100;        /* 0xc1: never used */
}

/* Read one tag: kind plus its value (ints, bools) or length (strings,
 * containers, ext payload). */
static bool head(struct gossip_mpr *r, int *kind, uint64_t *v)
{
    uint8_t c;
    int w;

    if (!need(r, 1))
        return false;
    c = *r->p++;
    if (c <= 0x7f || c >= 0xe0 || c < 0xc0) {
        *kind = fixed_kind(c, v);
        return true;
    }
    w = tag_width(c, kind);
    if (w == -100)
        return fail(r);
    if (*kind == K_BOOL) {
        *v = c == 0xc3;
        return true;
    }
    if (w <= 0) {
        *v = (uint64_t)-w;  /* fixext: payload size */
        return true;
    }
    if (!rd_be(r, w, v))
        return false;
    if (*kind == K_INT && w < 8) {
        int sh = 64 - 8 * w;
        *v = (uint64_t)((int64_t)(*v << sh) >> sh);
    }
    return true;
}

bool gossip_mpr_map(struct gossip_mpr *r, uint32_t *n)
{
    int k;
    uint64_t v;

    if (!head(r, &k, &v))
        return false;
    if (k == K_NIL) {
        *n = 0;
        return true;
    }
    if (k != K_MAP)
        return fail(r);
    /* Each entry takes at least two bytes. */
    if (!need(r, v * 2))
        return false;
    *n = (uint32_t)v;
    return true;
}

bool gossip_mpr_array(struct gossip_mpr *r, uint32_t *n)
{
    int k;
    uint64_t v;

    if (!head(r, &k, &v))
        return false;
    if (k == K_NIL) {
        *n = 0;
        return true;
    }
    if (k != K_ARRAY)
        return fail(r);
    if (!need(r, v))
        return false;
    *n = (uint32_t)v;
    return true;
}

bool gossip_mpr_bytes(struct gossip_mpr *r, struct gossip_slice *s)
{
    int k;
    uint64_t v;

    if (!head(r, &k, &v))
        return false;
    s->n = 0;
    if (k == K_NIL) {
        s->p = NULL;
        s->len = 0;
        return true;
    }
    if (k != K_STR && k != K_BIN)
        return fail(r);
    if (!need(r, v))
        return false;
    s->p = r->p;
    s->len = (size_t)v;
    r->p += v;
    return true;
}

bool gossip_mpr_uint(struct gossip_mpr *r, uint64_t *v)
{
    int k;

    if (!head(r, &k, v))
        return false;
    if (k == K_UINT || (k == K_INT && (int64_t)*v >= 0))
        return true;
    return fail(r);
}

bool gossip_mpr_int(struct gossip_mpr *r, int64_t *v)
{
    int k;
    uint64_t u;

    if (!head(r, &k, &u))
        return false;
    if (k == K_INT || (k == K_UINT && u <= (uint64_t)INT64_MAX)) {
        *v = (int64_t)u;
        return true;
    }
    return fail(r);
}

/* go-msgpack also takes fixnums 0 and 1 for a bool. */
bool gossip_mpr_bool(struct gossip_mpr *r, bool *b)
{
    int k;
    uint64_t v;

    if (!head(r, &k, &v))
        return false;
    if (k == K_BOOL || (k == K_UINT && v <= 1)) {
        *b = v != 0;
        return true;
    }
    return fail(r);
}

static bool skip_depth(struct gossip_mpr *r, int depth)
{
    int k;
    uint64_t v;

    if (depth > SKIP_DEPTH)
        return fail(r);
    if (!head(r, &k, &v))
        return false;
    switch (k) {
    case K_FLOAT:
        return rd_be(r, (int)v, &v);
    case K_STR:
    case K_BIN:
    case K_EXT:
        v += k == K_EXT;    /* the ext type byte */
        if (!need(r, v))
            return false;
        r->p += v;
        return true;
    case K_MAP:
        v *= 2;
        /* fallthrough */
    case K_ARRAY:
        if (!need(r, v))
            return false;
        for (uint64_t i = 0; i < v; i++)
            if (!skip_depth(r, depth + 1))
                return false;
        return true;
    default:
        return true;
    }
}

bool gossip_mpr_skip(struct gossip_mpr *r) { return skip_depth(r, 0); }

bool gossip_mpr_key(struct gossip_mpr *r, struct gossip_slice *k)
{
    return gossip_mpr_bytes(r, k) && (k->p != NULL || fail(r));
}

bool gossip_key_is(const struct gossip_slice *k, const char *lit)
{
    size_t n = strlen(lit);

    return k->len == n && memcmp(k->p, lit, n) == 0;
}

bool gossip_mpr_name(struct gossip_mpr *r, char *out)
{
    struct gossip_slice s;

    if (!gossip_mpr_bytes(r, &s))
        return false;
    if (s.len > GOSSIP_NAME_MAX || memchr(s.p ? s.p : (const uint8_t *)"",
                                          0, s.len) != NULL)
        return fail(r);
    if (s.len > 0)
        memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

static bool rd_range(struct gossip_mpr *r, uint64_t max, uint64_t *v)
{
    return gossip_mpr_uint(r, v) && (*v <= max || fail(r));
}

bool gossip_mpr_u32(struct gossip_mpr *r, uint32_t *v)
{
    uint64_t x;

    if (!rd_range(r, UINT32_MAX, &x))
        return false;
    *v = (uint32_t)x;
    return true;
}

bool gossip_mpr_u16(struct gossip_mpr *r, uint16_t *v)
{
    uint64_t x;

    if (!rd_range(r, UINT16_MAX, &x))
        return false;
    *v = (uint16_t)x;
    return true;
}

bool gossip_mpr_u8(struct gossip_mpr *r, uint8_t *v)
{
    uint64_t x;

    if (!rd_range(r, UINT8_MAX, &x))
        return false;
    *v = (uint8_t)x;
    return true;
}

bool gossip_mpr_ip(struct gossip_mpr *r, struct gossip_addr *a)
{
    struct gossip_slice s;

    if (!gossip_mpr_bytes(r, &s))
        return false;
    if (s.len != 0 && s.len != 4 && s.len != 16)
        return fail(r);
    if (s.len > 0)
        memcpy(a->ip, s.p, s.len);
    a->len = (uint8_t)s.len;
    return true;
}

/* ---- writer ---- */

void gossip_buf_init(struct gossip_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : GOSSIP_STREAM_MAX;
}

void gossip_buf_release(struct gossip_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void gossip_buf_reset(struct gossip_buf *b)
{
    b->len = 0;
    b->err = 0;
}

int gossip_buf_put(struct gossip_buf *b, const void *p, size_t n)
{
    if (b->err != 0)
        return b->err;
    if (n > b->max - b->len)
        return b->err = ERR_TOOBIG;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *np;

        while (cap < b->len + n)
            cap *= 2;
        np = realloc(b->p, cap);
        if (np == NULL)
            return b->err = ERR_NOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int gossip_buf_byte(struct gossip_buf *b, uint8_t c)
{
    return gossip_buf_put(b, &c, 1);
}

static int pk_write(void *data, const char *p, size_t n)
{
    return gossip_buf_put(data, p, n) == 0 ? 0 : -1;
}

void gossip_pk_init(void *pk, struct gossip_buf *b)
{
    msgpack_packer_init(pk, b, pk_write);
}

void gossip_pk_str(void *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Go encodes a nil []byte as nil and a set one as str. */
void gossip_pk_bytes(void *pk, const void *p, size_t n)
{
    if (n == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, p, n);
}

static void pk_ip(msgpack_packer *pk, const struct gossip_addr *a)
{
    gossip_pk_bytes(pk, a->ip, a->len);
}

/* ---- memberlist messages ---- */

#define FOR_KEYS(r, k)                                                  \
    uint32_t nk_;                                                       \
    if (!gossip_mpr_map((r), &nk_))                                     \
        return (r)->rc;                                                 \
    for (uint32_t i_ = 0; i_ < nk_ && gossip_mpr_key((r), &(k)); i_++)

#define KEY(k, lit) gossip_key_is(&(k), lit)

int gossip_dec_ping(struct gossip_mpr *r, struct gm_ping *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "SeqNo"))
            gossip_mpr_u32(r, &m->seq);
        else if (KEY(k, "Node"))
            gossip_mpr_name(r, m->node);
        else if (KEY(k, "SourceAddr"))
            gossip_mpr_ip(r, &m->src);
        else if (KEY(k, "SourcePort"))
            gossip_mpr_u16(r, &m->src.port);
        else if (KEY(k, "SourceNode"))
            gossip_mpr_name(r, m->src_node);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

int gossip_dec_indirect(struct gossip_mpr *r, struct gm_indirect *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "SeqNo"))
            gossip_mpr_u32(r, &m->seq);
        else if (KEY(k, "Target"))
            gossip_mpr_ip(r, &m->target);
        else if (KEY(k, "Port"))
            gossip_mpr_u16(r, &m->target.port);
        else if (KEY(k, "Node"))
            gossip_mpr_name(r, m->node);
        else if (KEY(k, "Nack"))
            gossip_mpr_bool(r, &m->nack);
        else if (KEY(k, "SourceAddr"))
            gossip_mpr_ip(r, &m->src);
        else if (KEY(k, "SourcePort"))
            gossip_mpr_u16(r, &m->src.port);
        else if (KEY(k, "SourceNode"))
            gossip_mpr_name(r, m->src_node);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

int gossip_dec_ack(struct gossip_mpr *r, struct gm_ack *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "SeqNo"))
            gossip_mpr_u32(r, &m->seq);
        else if (KEY(k, "Payload"))
            gossip_mpr_bytes(r, &m->payload);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

int gossip_dec_nack(struct gossip_mpr *r, uint32_t *seq)
{
    struct gossip_slice k;

    *seq = 0;
    FOR_KEYS(r, k) {
        if (KEY(k, "SeqNo"))
            gossip_mpr_u32(r, seq);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

int gossip_dec_suspect(struct gossip_mpr *r, struct gm_suspect *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "Incarnation"))
            gossip_mpr_u32(r, &m->inc);
        else if (KEY(k, "Node"))
            gossip_mpr_name(r, m->node);
        else if (KEY(k, "From"))
            gossip_mpr_name(r, m->from);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

/* Meta and Vsn of alive and pushNodeState. */
static bool rd_meta(struct gossip_mpr *r, struct gm_alive *m)
{
    struct gossip_slice s;

    if (!gossip_mpr_bytes(r, &s))
        return false;
    if (s.len > GOSSIP_META_MAX)
        return fail(r);
    if (s.len > 0)
        memcpy(m->meta, s.p, s.len);
    m->meta_len = (uint16_t)s.len;
    return true;
}

static bool rd_vsn(struct gossip_mpr *r, struct gm_alive *m)
{
    struct gossip_slice s;
    uint32_t n;

    if (r->p < r->end && (*r->p & 0xf0) == 0x90) {
        /* An encoder that writes []uint8 as an array of ints. */
        if (!gossip_mpr_array(r, &n))
            return false;
        if (n != 0 && n < 6)
            return fail(r);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t v;

            if (!gossip_mpr_u8(r, &v))
                return false;
            if (i < 6)
                m->vsn[i] = v;
        }
        m->vsn_len = n ? 6 : 0;
        return true;
    }
    if (!gossip_mpr_bytes(r, &s))
        return false;
    if (s.len != 0 && s.len < 6)
        return fail(r);
    if (s.len > 0)
        memcpy(m->vsn, s.p, 6);
    m->vsn_len = s.len ? 6 : 0;
    return true;
}

static int dec_alive_common(struct gossip_mpr *r, struct gm_alive *m,
                            const char *name_key)
{
    struct gossip_slice k;
    int64_t st;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "Incarnation"))
            gossip_mpr_u32(r, &m->inc);
        else if (KEY(k, name_key))
            gossip_mpr_name(r, m->node);
        else if (KEY(k, "Addr"))
            gossip_mpr_ip(r, &m->addr);
        else if (KEY(k, "Port"))
            gossip_mpr_u16(r, &m->addr.port);
        else if (KEY(k, "Meta"))
            rd_meta(r, m);
        else if (KEY(k, "Vsn"))
            rd_vsn(r, m);
        else if (KEY(k, "State") && gossip_mpr_int(r, &st))
            m->state = st < 0 || st > GN_LEFT ? -1 : (int)st;
        else if (!KEY(k, "State"))
            gossip_mpr_skip(r);
    }
    if (r->rc == 0 && (m->node[0] == '\0' || m->state < 0))
        r->rc = ERR_PARSE;
    return r->rc;
}

int gossip_dec_alive(struct gossip_mpr *r, struct gm_alive *m)
{
    return dec_alive_common(r, m, "Node");
}

int gossip_dec_pnode(struct gossip_mpr *r, struct gm_alive *m)
{
    return dec_alive_common(r, m, "Name");
}

int gossip_dec_pphdr(struct gossip_mpr *r, struct gm_pphdr *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "Nodes"))
            gossip_mpr_int(r, &m->nodes);
        else if (KEY(k, "UserStateLen"))
            gossip_mpr_int(r, &m->user_len);
        else if (KEY(k, "Join"))
            gossip_mpr_bool(r, &m->join);
        else
            gossip_mpr_skip(r);
    }
    if (r->rc == 0 && (m->nodes < 0 || m->user_len < 0 ||
                       m->user_len > (int64_t)GOSSIP_STREAM_MAX))
        r->rc = ERR_PARSE;
    return r->rc;
}

int gossip_dec_err(struct gossip_mpr *r, char *msg, size_t n)
{
    struct gossip_slice k, s;

    msg[0] = '\0';
    FOR_KEYS(r, k) {
        if (KEY(k, "Error") && gossip_mpr_bytes(r, &s)) {
            size_t m = s.len < n - 1 ? s.len : n - 1;

            if (m > 0)
                memcpy(msg, s.p, m);
            msg[m] = '\0';
        } else if (!KEY(k, "Error")) {
            gossip_mpr_skip(r);
        }
    }
    return r->rc;
}

int gossip_dec_compress(struct gossip_mpr *r, struct gossip_slice *buf)
{
    struct gossip_slice k;
    uint64_t algo = 0;

    memset(buf, 0, sizeof(*buf));
    FOR_KEYS(r, k) {
        if (KEY(k, "Algo"))
            gossip_mpr_uint(r, &algo);
        else if (KEY(k, "Buf"))
            gossip_mpr_bytes(r, buf);
        else
            gossip_mpr_skip(r);
    }
    if (r->rc == 0 && algo != 0)
        r->rc = ERR_UNSUPPORTED;
    return r->rc;
}

int gossip_dec_user_hdr(struct gossip_mpr *r, int64_t *len)
{
    struct gossip_slice k;

    *len = 0;
    FOR_KEYS(r, k) {
        if (KEY(k, "UserMsgLen"))
            gossip_mpr_int(r, len);
        else
            gossip_mpr_skip(r);
    }
    if (r->rc == 0 && (*len < 0 || *len > (int64_t)GOSSIP_STREAM_MAX))
        r->rc = ERR_PARSE;
    return r->rc;
}

/* Encoders: keys in go-msgpack's sorted order. */

static msgpack_packer *start(msgpack_packer *pk, struct gossip_buf *b,
                             int type, size_t nkeys)
{
    gossip_buf_byte(b, (uint8_t)type);
    gossip_pk_init(pk, b);
    msgpack_pack_map(pk, nkeys);
    return pk;
}

int gossip_enc_ping(struct gossip_buf *b, const struct gm_ping *m)
{
    msgpack_packer pk;
    bool src = m->src.len > 0;

    start(&pk, b, GM_PING, 2 + (src ? 2 : 0) + (m->src_node[0] != 0));
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    gossip_pk_str(&pk, "SeqNo");
    msgpack_pack_uint32(&pk, m->seq);
    if (src) {
        gossip_pk_str(&pk, "SourceAddr");
        pk_ip(&pk, &m->src);
    }
    if (m->src_node[0] != '\0') {
        gossip_pk_str(&pk, "SourceNode");
        gossip_pk_str(&pk, m->src_node);
    }
    if (src) {
        gossip_pk_str(&pk, "SourcePort");
        msgpack_pack_uint16(&pk, m->src.port);
    }
    return b->err;
}

int gossip_enc_indirect(struct gossip_buf *b, const struct gm_indirect *m)
{
    msgpack_packer pk;
    bool src = m->src.len > 0;

    start(&pk, b, GM_INDIRECT, 5 + (src ? 2 : 0) + (m->src_node[0] != 0));
    gossip_pk_str(&pk, "Nack");
    if (m->nack)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    gossip_pk_str(&pk, "Port");
    msgpack_pack_uint16(&pk, m->target.port);
    gossip_pk_str(&pk, "SeqNo");
    msgpack_pack_uint32(&pk, m->seq);
    if (src) {
        gossip_pk_str(&pk, "SourceAddr");
        pk_ip(&pk, &m->src);
    }
    if (m->src_node[0] != '\0') {
        gossip_pk_str(&pk, "SourceNode");
        gossip_pk_str(&pk, m->src_node);
    }
    if (src) {
        gossip_pk_str(&pk, "SourcePort");
        msgpack_pack_uint16(&pk, m->src.port);
    }
    gossip_pk_str(&pk, "Target");
    pk_ip(&pk, &m->target);
    return b->err;
}

int gossip_enc_ack(struct gossip_buf *b, uint32_t seq, const void *payload,
                   size_t n)
{
    msgpack_packer pk;

    start(&pk, b, GM_ACK, 2);
    gossip_pk_str(&pk, "Payload");
    gossip_pk_bytes(&pk, payload, n);
    gossip_pk_str(&pk, "SeqNo");
    msgpack_pack_uint32(&pk, seq);
    return b->err;
}

int gossip_enc_nack(struct gossip_buf *b, uint32_t seq)
{
    msgpack_packer pk;

    start(&pk, b, GM_NACK, 1);
    gossip_pk_str(&pk, "SeqNo");
    msgpack_pack_uint32(&pk, seq);
    return b->err;
}

/* type is GM_SUSPECT or GM_DEAD. */
int gossip_enc_suspect(struct gossip_buf *b, int type,
                       const struct gm_suspect *m)
{
    msgpack_packer pk;

    start(&pk, b, type, 3);
    gossip_pk_str(&pk, "From");
    gossip_pk_str(&pk, m->from);
    gossip_pk_str(&pk, "Incarnation");
    msgpack_pack_uint32(&pk, m->inc);
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    return b->err;
}

static void pk_vsn(msgpack_packer *pk, const struct gm_alive *m)
{
    gossip_pk_str(pk, "Vsn");
    gossip_pk_bytes(pk, m->vsn, m->vsn_len);
}

int gossip_enc_alive(struct gossip_buf *b, const struct gm_alive *m)
{
    msgpack_packer pk;

    start(&pk, b, GM_ALIVE, 6);
    gossip_pk_str(&pk, "Addr");
    pk_ip(&pk, &m->addr);
    gossip_pk_str(&pk, "Incarnation");
    msgpack_pack_uint32(&pk, m->inc);
    gossip_pk_str(&pk, "Meta");
    gossip_pk_bytes(&pk, m->meta, m->meta_len);
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    gossip_pk_str(&pk, "Port");
    msgpack_pack_uint16(&pk, m->addr.port);
    pk_vsn(&pk, m);
    return b->err;
}

/* A pushNodeState: no type byte, it follows the push/pull header. */
int gossip_enc_pnode(struct gossip_buf *b, const struct gm_alive *m)
{
    msgpack_packer pk;

    gossip_pk_init(&pk, b);
    msgpack_pack_map(&pk, 7);
    gossip_pk_str(&pk, "Addr");
    pk_ip(&pk, &m->addr);
    gossip_pk_str(&pk, "Incarnation");
    msgpack_pack_uint32(&pk, m->inc);
    gossip_pk_str(&pk, "Meta");
    gossip_pk_bytes(&pk, m->meta, m->meta_len);
    gossip_pk_str(&pk, "Name");
    gossip_pk_str(&pk, m->node);
    gossip_pk_str(&pk, "Port");
    msgpack_pack_uint16(&pk, m->addr.port);
    gossip_pk_str(&pk, "State");
    msgpack_pack_int(&pk, m->state);
    pk_vsn(&pk, m);
    return b->err;
}

int gossip_enc_pphdr(struct gossip_buf *b, const struct gm_pphdr *m)
{
    msgpack_packer pk;

    start(&pk, b, GM_PUSHPULL, 3);
    gossip_pk_str(&pk, "Join");
    if (m->join)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    gossip_pk_str(&pk, "Nodes");
    msgpack_pack_int64(&pk, m->nodes);
    gossip_pk_str(&pk, "UserStateLen");
    msgpack_pack_int64(&pk, m->user_len);
    return b->err;
}

int gossip_enc_err(struct gossip_buf *b, const char *msg)
{
    msgpack_packer pk;

    start(&pk, b, GM_ERR, 1);
    gossip_pk_str(&pk, "Error");
    gossip_pk_str(&pk, msg);
    return b->err;
}

/* ---- compound ---- */

int gossip_compound_parse(const uint8_t *p, size_t n,
                          struct gossip_slice *parts, size_t *n_parts,
                          size_t *trunc)
{
    size_t cnt, off;

    *n_parts = 0;
    *trunc = 0;
    if (n < 1)
        return ERR_PARSE;
    cnt = p[0];
    if (n < 1 + cnt * 2)
        return ERR_PARSE;
    off = 1 + cnt * 2;
    for (size_t i = 0; i < cnt; i++) {
        size_t len = (size_t)p[1 + i * 2] << 8 | p[2 + i * 2];

        if (n - off < len) {
            *trunc = cnt - i;
            break;
        }
        parts[i].p = p + off;
        parts[i].len = len;
        parts[i].n = 0;
        off += len;
        (*n_parts)++;
    }
    return 0;
}

int gossip_compound_build(struct gossip_buf *b,
                          const struct gossip_slice *parts, size_t n)
{
    if (n > 255)
        return b->err = ERR_TOOBIG;
    gossip_buf_byte(b, GM_COMPOUND);
    gossip_buf_byte(b, (uint8_t)n);
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > 0xffff)
            return b->err = ERR_TOOBIG;
        gossip_buf_byte(b, (uint8_t)(parts[i].len >> 8));
        gossip_buf_byte(b, (uint8_t)parts[i].len);
    }
    for (size_t i = 0; i < n; i++)
        gossip_buf_put(b, parts[i].p, parts[i].len);
    return b->err;
}

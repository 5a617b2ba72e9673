/* gossip_serfmsg.c - serf's messages and node tags on the wire.
 *
 * Layer: replication (uses util). Thread: any.
 * serf rides in memberlist user messages: one serf type byte, then a
 * go-msgpack map like memberlist's. Tags (the node "meta") are the
 * magic byte 255 followed by a msgpack map of strings.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define FOR_KEYS(r, k)                                                  \
    uint32_t nk_;                                                       \
    if (!gossip_mpr_map((r), &nk_))                                     \
        return (r)->rc;                                                 \
    for (uint32_t i_ = 0; i_ < nk_ && gossip_mpr_key((r), &(k)); i_++)

#define KEY(k, lit) gossip_key_is(&(k), lit)
#define TAG_MAGIC 0xff

static int dec_join_leave(struct gossip_mpr *r, struct gs_join *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "LTime"))
            gossip_mpr_uint(r, &m->ltime);
        else if (KEY(k, "Node"))
            gossip_mpr_name(r, m->node);
        else if (KEY(k, "Prune"))
            gossip_mpr_bool(r, &m->prune);
        else
            gossip_mpr_skip(r);
    }
    if (r->rc == 0 && m->node[0] == '\0')
        r->rc = ERR_PARSE;
    return r->rc;
}

int gossip_dec_sjoin(struct gossip_mpr *r, struct gs_join *m)
{
    return dec_join_leave(r, m);
}

int gossip_dec_sleave(struct gossip_mpr *r, struct gs_join *m)
{
    return dec_join_leave(r, m);
}

int gossip_dec_sevent(struct gossip_mpr *r, struct gs_event *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "LTime"))
            gossip_mpr_uint(r, &m->ltime);
        else if (KEY(k, "Name"))
            gossip_mpr_bytes(r, &m->name);
        else if (KEY(k, "Payload"))
            gossip_mpr_bytes(r, &m->payload);
        else if (KEY(k, "CC"))
            gossip_mpr_bool(r, &m->cc);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

/* Filters: an array of byte strings; only its bounds are kept. */
static bool rd_filters(struct gossip_mpr *r, struct gossip_slice *f)
{
    uint32_t n;
    struct gossip_slice s;

    if (!gossip_mpr_array(r, &n))
        return false;
    f->p = r->p;
    f->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (!gossip_mpr_bytes(r, &s))
            return false;
    f->len = (size_t)(r->p - f->p);
    return true;
}

int gossip_dec_squery(struct gossip_mpr *r, struct gs_query *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "LTime"))
            gossip_mpr_uint(r, &m->ltime);
        else if (KEY(k, "ID"))
            gossip_mpr_u32(r, &m->id);
        else if (KEY(k, "Addr"))
            gossip_mpr_ip(r, &m->addr);
        else if (KEY(k, "Port"))
            gossip_mpr_u16(r, &m->addr.port);
        else if (KEY(k, "SourceNode"))
            gossip_mpr_name(r, m->src);
        else if (KEY(k, "Filters"))
            rd_filters(r, &m->filters);
        else if (KEY(k, "Flags"))
            gossip_mpr_u32(r, &m->flags);
        else if (KEY(k, "RelayFactor"))
            gossip_mpr_u8(r, &m->relay);
        else if (KEY(k, "Timeout"))
            gossip_mpr_int(r, &m->timeout_ns);
        else if (KEY(k, "Name"))
            gossip_mpr_bytes(r, &m->name);
        else if (KEY(k, "Payload"))
            gossip_mpr_bytes(r, &m->payload);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

int gossip_dec_sqresp(struct gossip_mpr *r, struct gs_qresp *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "LTime"))
            gossip_mpr_uint(r, &m->ltime);
        else if (KEY(k, "ID"))
            gossip_mpr_u32(r, &m->id);
        else if (KEY(k, "From"))
            gossip_mpr_name(r, m->from);
        else if (KEY(k, "Flags"))
            gossip_mpr_u32(r, &m->flags);
        else if (KEY(k, "Payload"))
            gossip_mpr_bytes(r, &m->payload);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

/* Record where a container's items start and check them all now, so
 * the iterators below cannot fail later. */
static bool keep_map(struct gossip_mpr *r, struct gossip_slice *s)
{
    uint32_t n;
    char name[GOSSIP_NAME_MAX + 1];
    uint64_t t;

    if (!gossip_mpr_map(r, &n))
        return false;
    s->p = r->p;
    s->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (!gossip_mpr_name(r, name) || !gossip_mpr_uint(r, &t))
            return false;
    s->len = (size_t)(r->p - s->p);
    return true;
}

static bool keep_names(struct gossip_mpr *r, struct gossip_slice *s)
{
    uint32_t n;
    char name[GOSSIP_NAME_MAX + 1];

    if (!gossip_mpr_array(r, &n))
        return false;
    s->p = r->p;
    s->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (!gossip_mpr_name(r, name))
            return false;
    s->len = (size_t)(r->p - s->p);
    return true;
}

static bool keep_events(struct gossip_mpr *r, struct gossip_slice *s)
{
    uint32_t n;
    uint64_t lt;
    struct gossip_slice evs, name, payload;

    if (!gossip_mpr_array(r, &n))
        return false;
    s->p = r->p;
    s->n = n;
    for (uint32_t i = 0; i < n; i++) {
        if (!gossip_spp_events(r, &lt, &evs))
            return false;
        struct gossip_mpr er;

        gossip_mpr_init(&er, evs.p, evs.len);
        for (uint32_t j = 0; j < evs.n; j++)
            if (!gossip_spp_event(&er, &name, &payload)) {
                r->rc = er.rc;
                return false;
            }
    }
    s->len = (size_t)(r->p - s->p);
    return true;
}

int gossip_dec_spp(struct gossip_mpr *r, struct gs_pushpull *m)
{
    struct gossip_slice k;

    memset(m, 0, sizeof(*m));
    FOR_KEYS(r, k) {
        if (KEY(k, "LTime"))
            gossip_mpr_uint(r, &m->ltime);
        else if (KEY(k, "EventLTime"))
            gossip_mpr_uint(r, &m->event_ltime);
        else if (KEY(k, "QueryLTime"))
            gossip_mpr_uint(r, &m->query_ltime);
        else if (KEY(k, "StatusLTimes"))
            keep_map(r, &m->status);
        else if (KEY(k, "LeftMembers"))
            keep_names(r, &m->left);
        else if (KEY(k, "Events"))
            keep_events(r, &m->events);
        else
            gossip_mpr_skip(r);
    }
    return r->rc;
}

bool gossip_spp_status(struct gossip_mpr *it, char *name, uint64_t *ltime)
{
    return gossip_mpr_name(it, name) && gossip_mpr_uint(it, ltime);
}

bool gossip_spp_left(struct gossip_mpr *it, char *name)
{
    return gossip_mpr_name(it, name);
}

bool gossip_spp_events(struct gossip_mpr *it, uint64_t *ltime,
                       struct gossip_slice *evs)
{
    struct gossip_slice k;
    uint32_t n, ne;

    *ltime = 0;
    memset(evs, 0, sizeof(*evs));
    if (!gossip_mpr_map(it, &n))
        return false;
    for (uint32_t i = 0; i < n && gossip_mpr_key(it, &k); i++) {
        if (KEY(k, "LTime")) {
            gossip_mpr_uint(it, ltime);
        } else if (KEY(k, "Events") && gossip_mpr_array(it, &ne)) {
            evs->p = it->p;
            evs->n = ne;
            for (uint32_t j = 0; j < ne; j++)
                if (!gossip_mpr_skip(it))
                    return false;
            evs->len = (size_t)(it->p - evs->p);
        } else if (!KEY(k, "Events")) {
            gossip_mpr_skip(it);
        }
    }
    return it->rc == 0;
}

bool gossip_spp_event(struct gossip_mpr *it, struct gossip_slice *name,
                      struct gossip_slice *payload)
{
    struct gossip_slice k;
    uint32_t n;

    memset(name, 0, sizeof(*name));
    memset(payload, 0, sizeof(*payload));
    if (!gossip_mpr_map(it, &n))
        return false;
    for (uint32_t i = 0; i < n && gossip_mpr_key(it, &k); i++) {
        if (KEY(k, "Name"))
            gossip_mpr_bytes(it, name);
        else if (KEY(k, "Payload"))
            gossip_mpr_bytes(it, payload);
        else
            gossip_mpr_skip(it);
    }
    return it->rc == 0;
}

/* ---- encoders ---- */

static void start(msgpack_packer *pk, struct gossip_buf *b, int type,
                  size_t nkeys)
{
    gossip_buf_byte(b, (uint8_t)type);
    gossip_pk_init(pk, b);
    msgpack_pack_map(pk, nkeys);
}

static void pk_bool(msgpack_packer *pk, bool v)
{
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

int gossip_enc_sjoin(struct gossip_buf *b, const struct gs_join *m)
{
    msgpack_packer pk;

    start(&pk, b, GS_JOIN, 2);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, m->ltime);
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    return b->err;
}

int gossip_enc_sleave(struct gossip_buf *b, const struct gs_join *m)
{
    msgpack_packer pk;

    start(&pk, b, GS_LEAVE, 3);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, m->ltime);
    gossip_pk_str(&pk, "Node");
    gossip_pk_str(&pk, m->node);
    gossip_pk_str(&pk, "Prune");
    pk_bool(&pk, m->prune);
    return b->err;
}

static void pk_slice(msgpack_packer *pk, const struct gossip_slice *s)
{
    gossip_pk_bytes(pk, s->p, s->len);
}

int gossip_enc_sevent(struct gossip_buf *b, const struct gs_event *m)
{
    msgpack_packer pk;

    start(&pk, b, GS_EVENT, 4);
    gossip_pk_str(&pk, "CC");
    pk_bool(&pk, m->cc);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, m->ltime);
    gossip_pk_str(&pk, "Name");
    msgpack_pack_str(&pk, m->name.len);
    msgpack_pack_str_body(&pk, m->name.p, m->name.len);
    gossip_pk_str(&pk, "Payload");
    pk_slice(&pk, &m->payload);
    return b->err;
}

int gossip_enc_squery(struct gossip_buf *b, const struct gs_query *m)
{
    msgpack_packer pk;

    start(&pk, b, GS_QUERY, 11);
    gossip_pk_str(&pk, "Addr");
    gossip_pk_bytes(&pk, m->addr.ip, m->addr.len);
    gossip_pk_str(&pk, "Filters");
    if (m->filters.n == 0) {
        msgpack_pack_nil(&pk);
    } else {
        msgpack_pack_array(&pk, m->filters.n);
        gossip_buf_put(b, m->filters.p, m->filters.len);
    }
    gossip_pk_str(&pk, "Flags");
    msgpack_pack_uint32(&pk, m->flags);
    gossip_pk_str(&pk, "ID");
    msgpack_pack_uint32(&pk, m->id);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, m->ltime);
    gossip_pk_str(&pk, "Name");
    msgpack_pack_str(&pk, m->name.len);
    msgpack_pack_str_body(&pk, m->name.p, m->name.len);
    gossip_pk_str(&pk, "Payload");
    pk_slice(&pk, &m->payload);
    gossip_pk_str(&pk, "Port");
    msgpack_pack_uint16(&pk, m->addr.port);
    gossip_pk_str(&pk, "RelayFactor");
    msgpack_pack_uint8(&pk, m->relay);
    gossip_pk_str(&pk, "SourceNode");
    gossip_pk_str(&pk, m->src);
    gossip_pk_str(&pk, "Timeout");
    msgpack_pack_int64(&pk, m->timeout_ns);
    return b->err;
}

int gossip_enc_sqresp(struct gossip_buf *b, const struct gs_qresp *m)
{
    msgpack_packer pk;

    start(&pk, b, GS_QRESP, 5);
    gossip_pk_str(&pk, "Flags");
    msgpack_pack_uint32(&pk, m->flags);
    gossip_pk_str(&pk, "From");
    gossip_pk_str(&pk, m->from);
    gossip_pk_str(&pk, "ID");
    msgpack_pack_uint32(&pk, m->id);
    gossip_pk_str(&pk, "LTime");
    msgpack_pack_uint64(&pk, m->ltime);
    gossip_pk_str(&pk, "Payload");
    pk_slice(&pk, &m->payload);
    return b->err;
}

/* ---- tags ---- */

static int cmp_tag(const void *a, const void *b)
{
    const struct gossip_tag *x = a, *y = b;

    return strcmp(x->key, y->key);
}

int gossip_tags_encode(struct gossip_buf *b, const struct gossip_tag *t,
                       size_t n)
{
    msgpack_packer pk;
    struct gossip_tag *s = n ? malloc(n * sizeof(*s)) : NULL;

    if (n > 0 && s == NULL)
        return b->err = ERR_NOMEM;
    if (n > 0)
        memcpy(s, t, n * sizeof(*s));
    if (n > 1)
        qsort(s, n, sizeof(*s), cmp_tag);
    gossip_buf_byte(b, TAG_MAGIC);
    gossip_pk_init(&pk, b);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        gossip_pk_str(&pk, s[i].key);
        gossip_pk_str(&pk, s[i].val ? s[i].val : "");
    }
    free(s);
    return b->err;
}

/* key/value slices, in wire order. */
struct kv {
    struct gossip_slice k, v;
    uint32_t idx;
};

static int cmp_kv(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    size_t n = x->k.len < y->k.len ? x->k.len : y->k.len;
    int c = n ? memcmp(x->k.p, y->k.p, n) : 0;

    if (c != 0)
        return c;
    if (x->k.len != y->k.len)
        return x->k.len < y->k.len ? -1 : 1;
    return x->idx < y->idx ? -1 : 1;
}

static bool has_nul(const struct gossip_slice *s)
{
    return s->len > 0 && memchr(s->p, 0, s->len) != NULL;
}

static int read_kvs(const uint8_t *meta, size_t n, struct kv **out,
                    uint32_t *cnt)
{
    struct gossip_mpr r;
    struct kv *kv;

    gossip_mpr_init(&r, meta + 1, n - 1);
    if (!gossip_mpr_map(&r, cnt))
        return ERR_PARSE;
    kv = calloc(*cnt ? *cnt : 1, sizeof(*kv));
    if (kv == NULL)
        return ERR_NOMEM;
    for (uint32_t i = 0; i < *cnt; i++) {
        kv[i].idx = i;
        if (!gossip_mpr_key(&r, &kv[i].k) ||
            !gossip_mpr_bytes(&r, &kv[i].v) || has_nul(&kv[i].k) ||
            has_nul(&kv[i].v)) {
            free(kv);
            return ERR_PARSE;
        }
    }
    *out = kv;
    return 0;
}

/* Sorted, duplicates resolved as Go does (the last one wins). */
static int pack_tags(struct kv *kv, uint32_t cnt, struct gossip_tag **out,
                     size_t *n_out)
{
    size_t bytes = 0, m = 0;
    struct gossip_tag *t;
    char *s;

    if (cnt > 1)
        qsort(kv, cnt, sizeof(*kv), cmp_kv);
    for (uint32_t i = 0; i < cnt; i++)
        bytes += kv[i].k.len + kv[i].v.len + 2;
    t = malloc(cnt * sizeof(*t) + bytes + 1);
    if (t == NULL)
        return ERR_NOMEM;
    s = (char *)(t + cnt);
    for (uint32_t i = 0; i < cnt; i++) {
        if (i + 1 < cnt && kv[i + 1].k.len == kv[i].k.len &&
            (kv[i].k.len == 0 ||
             memcmp(kv[i + 1].k.p, kv[i].k.p, kv[i].k.len) == 0))
            continue;
        t[m].key = s;
        if (kv[i].k.len)
            memcpy(s, kv[i].k.p, kv[i].k.len);
        s += kv[i].k.len;
        *s++ = '\0';
        t[m].val = s;
        if (kv[i].v.len)
            memcpy(s, kv[i].v.p, kv[i].v.len);
        s += kv[i].v.len;
        *s++ = '\0';
        m++;
    }
    *out = t;
    *n_out = m;
    return 0;
}

int gossip_tags_decode(const uint8_t *meta, size_t n,
                       struct gossip_tag **out, size_t *n_out)
{
    struct kv *kv, role;
    uint32_t cnt;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (n == 0 || meta[0] != TAG_MAGIC) {
        /* Protocol < 3: the meta is the role itself. */
        role.k.p = (const uint8_t *)"role";
        role.k.len = 4;
        role.v.p = meta;
        role.v.len = n;
        role.idx = 0;
        if (has_nul(&role.v))
            return ERR_PARSE;
        return pack_tags(&role, 1, out, n_out);
    }
    rc = read_kvs(meta, n, &kv, &cnt);
    if (rc != 0)
        return rc;
    rc = pack_tags(kv, cnt, out, n_out);
    free(kv);
    return rc;
}

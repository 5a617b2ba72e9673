/* fsm.c - the replicated state machine: command codec, apply, snapshot.
 *
 * Layer: store (uses util, kv). Thread: loop only.
 * Owns: f->kv. Command and snapshot buffers come from the caller's alloc
 * function and belong to the caller.
 * Tests: t/unit/check_fsm.c
 *
 * Command, version 1: one msgpack map and nothing after it.
 *   "v"     uint  1             required; other versions are refused
 *   "t"     str   "kv"          required; the table the command is for
 *   "verb"  uint  fsm_kv_verb   required; 1 set, 2 cas, 3 delete,
 *                               4 delete-cas, 5 delete-tree
 *   "key"   str                 required; at most KV_MAX_KEY bytes, no
 *                               NUL, non-empty except for delete-tree
 *   "val"   bin                 optional, default empty
 *   "flags" uint                optional, default 0
 *   "cas"   uint                optional, default 0
 * The encoder writes all seven fields in this order. An unknown or
 * repeated field, a wrong type, a truncated map or bytes after it make
 * the buffer undecodable (ERR_PARSE, nothing changes); a bad key is a
 * per-command ERR_INVAL in the result. A new field or meaning bumps "v",
 * and old versions stay decodable because the Raft log may hold them.
 *
 * Snapshot, version 1: a stream of msgpack objects.
 *   header  {"format":"proconsul-state", "version":1,
 *            "last_index":uint, "kv_table_index":uint}
 *   entry   [1, key str, val bin|nil, flags uint, create_index uint,
 *            modify_index uint, lock_index uint, session str|nil]
 *   tomb    [2, key str, index uint]
 *   end     [0, number of entry and tomb records]
 * The writer emits entries then tombstones, each in key order; the
 * reader does not rely on order. Nothing may follow the end record, so
 * a cut stream never passes for a complete one. Restore decodes into a
 * new kv_store and swaps it in only when every record checked out.
 *
 * msgpack-c sizes arrays and maps from their declared counts before it
 * has seen the elements, so a forged count would make it allocate
 * gigabytes; span() first proves that each object is complete inside
 * the buffer, and only then is msgpack_unpack_next() run on it.
 */
#include "fsm.h"

#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define CMD_VERSION 1
#define SNAP_FORMAT "proconsul-state"
#define SNAP_VERSION 1

enum { REC_END = 0, REC_ENTRY = 1, REC_TOMB = 2 };

/* ---- msgpack helpers ---- */

/* Formats 0xc0..0xdf: fixed payload bytes (ext type byte included),
 * length-field bytes, kind. */
enum { K_BAD, K_SCALAR, K_RAW, K_ARRAY, K_MAP };
static const struct {
    unsigned char fixed, lenb, kind;
} fmts[32] = {
    {0, 0, K_SCALAR}, {0, 0, K_BAD}, {0, 0, K_SCALAR},  /* nil, -, false */
    {0, 0, K_SCALAR}, {0, 1, K_RAW}, {0, 2, K_RAW},     /* true, bin8/16 */
    {0, 4, K_RAW}, {1, 1, K_RAW}, {1, 2, K_RAW},        /* bin32, ext8/16 */
    {1, 4, K_RAW}, {4, 0, K_SCALAR}, {8, 0, K_SCALAR},  /* ext32, floats */
    {1, 0, K_SCALAR}, {2, 0, K_SCALAR},                 /* uint8/16 */
    {4, 0, K_SCALAR}, {8, 0, K_SCALAR},                 /* uint32/64 */
    {1, 0, K_SCALAR}, {2, 0, K_SCALAR},                 /* int8/16 */
    {4, 0, K_SCALAR}, {8, 0, K_SCALAR},                 /* int32/64 */
    {2, 0, K_SCALAR}, {3, 0, K_SCALAR}, {5, 0, K_SCALAR}, /* fixext1/2/4 */
    {9, 0, K_SCALAR}, {17, 0, K_SCALAR},                /* fixext8/16 */
    {0, 1, K_RAW}, {0, 2, K_RAW}, {0, 4, K_RAW},        /* str8/16/32 */
    {0, 2, K_ARRAY}, {0, 4, K_ARRAY},                   /* array16/32 */
    {0, 2, K_MAP}, {0, 4, K_MAP},                       /* map16/32 */
};

/* Header byte b: kind, and for fix formats the count or length; -1 for
 * the 0xc0..0xdf formats, which the fmts table describes. */
static int classify(unsigned char b, uint64_t *n)
{
    *n = 0;
    if (b <= 0x7f || b >= 0xe0)
        return K_SCALAR;
    if (b >= 0xc0)
        return -1;
    if (b >= 0xa0) {
        *n = b & 0x1f;
        return K_RAW;
    }
    *n = b & 0x0f;
    return b >= 0x90 ? K_ARRAY : K_MAP;
}

/* Set *end past the one complete object starting at off; -1 if it is
 * cut off, uses the reserved byte, or declares more elements than bytes
 * remain (every element takes at least one). */
static int span(const unsigned char *p, size_t len, size_t off, size_t *end)
{
    uint64_t pending = 1, n;
    unsigned i;
    int kind;

    while (pending > 0) {
        if (off >= len)
            return -1;
        pending--;
        kind = classify(p[off], &n);
        if (kind < 0) {
            unsigned f = p[off] - 0xc0;
            kind = fmts[f].kind;
            if (kind == K_BAD || fmts[f].lenb > len - off - 1)
                return -1;
            for (i = 0; i < fmts[f].lenb; i++)
                n = n << 8 | p[off + 1 + i];
            off += 1 + fmts[f].lenb + fmts[f].fixed;
        } else {
            off++;
        }
        if (off > len)
            return -1;
        if (kind == K_RAW && n > len - off)
            return -1;
        if (kind == K_RAW)
            off += n;
        else if (kind == K_ARRAY || kind == K_MAP)
            pending += kind == K_MAP ? 2 * n : n;
        if (pending > len - off)
            return -1;
    }
    *end = off;
    return 0;
}

/* Decode the object at *off into u and advance *off past it. */
static int unpack_at(msgpack_unpacked *u, const char *buf, size_t len,
                     size_t *off, char *err)
{
    size_t start = *off, end;

    if (start >= len)
        return err_set(err, ERR_PARSE, "unexpected end of data at byte %zu",
                       start);
    if (span((const unsigned char *)buf, len, start, &end) != 0)
        return err_set(err, ERR_PARSE,
                       "truncated or malformed msgpack at byte %zu", start);
    if (msgpack_unpack_next(u, buf, end, off) != MSGPACK_UNPACK_SUCCESS ||
        *off != end)
        return err_set(err, ERR_PARSE, "malformed msgpack at byte %zu",
                       start);
    return 0;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);

    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Copy a msgpack str into out as a C string: 1..max bytes, no NUL. */
static int to_cstr(const msgpack_object *o, char *out, size_t max,
                   const char *what, char *err)
{
    const msgpack_object_str *s = &o->via.str;

    if (o->type != MSGPACK_OBJECT_STR)
        return err_set(err, ERR_PARSE, "%s is not a string", what);
    if (s->size == 0)
        return err_set(err, ERR_INVAL, "missing %s", what);
    if (s->size > max)
        return err_set(err, ERR_INVAL, "%s longer than %zu bytes", what, max);
    if (memchr(s->ptr, '\0', s->size) != NULL)
        return err_set(err, ERR_INVAL, "%s contains a NUL byte", what);
    memcpy(out, s->ptr, s->size);
    out[s->size] = '\0';
    return 0;
}

/* Packer sink: counts bytes when p is NULL, else fills p up to cap. */
struct out {
    char *p;
    size_t len, cap;
};

static int out_write(void *data, const char *b, size_t n)
{
    struct out *o = data;

    if (n == 0)
        return 0;
    if (o->p != NULL) {
        if (n > o->cap - o->len)
            return -1;
        memcpy(o->p + o->len, b, n);
    }
    o->len += n;
    return 0;
}

typedef int (*emit_fn)(msgpack_packer *pk, const void *arg);

/* Run emit once to size the output and once into an exact buffer from
 * alloc, so nothing is copied or reallocated. emit must be a pure
 * function of arg; the second pass cannot fail. */
static int pack_exact(emit_fn emit, const void *arg, fsm_alloc_fn alloc,
                      void **buf, size_t *len, char *err)
{
    struct out o = {NULL, 0, 0};
    msgpack_packer pk;
    int rc;

    msgpack_packer_init(&pk, &o, out_write);
    if (emit(&pk, arg) != 0)
        return err_set(err, ERR_INTERNAL, "msgpack encoding failed");
    o.cap = o.len;
    o.len = 0;
    if ((o.p = alloc(o.cap)) == NULL)
        return err_set(err, ERR_NOMEM, "allocating %zu bytes", o.cap);
    rc = emit(&pk, arg);
    assert(rc == 0 && o.len == o.cap);
    (void)rc;
    *buf = o.p;
    *len = o.len;
    return 0;
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* ---- commands ---- */

enum { F_V, F_T, F_VERB, F_KEY, F_VAL, F_FLAGS, F_CAS, F_COUNT };
static const char *const field_names[F_COUNT] = {
    "v", "t", "verb", "key", "val", "flags", "cas",
};
static const msgpack_object_type field_types[F_COUNT] = {
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_BIN,              MSGPACK_OBJECT_POSITIVE_INTEGER,
    MSGPACK_OBJECT_POSITIVE_INTEGER,
};
#define REQUIRED_FIELDS \
    (1u << F_V | 1u << F_T | 1u << F_VERB | 1u << F_KEY)

struct cmd {
    const msgpack_object *f[F_COUNT];
};

static bool verb_valid(uint64_t v)
{
    return v >= FSM_KV_SET && v <= FSM_KV_DELETE_TREE;
}

static int check_op_key(const char *key, size_t len, uint64_t verb,
                        char *err)
{
    if (len == 0 && verb != FSM_KV_DELETE_TREE)
        return err_set(err, ERR_INVAL, "missing key name");
    if (len > KV_MAX_KEY)
        return err_set(err, ERR_INVAL, "key longer than %d bytes",
                       KV_MAX_KEY);
    if (len > 0 && memchr(key, '\0', len) != NULL)
        return err_set(err, ERR_INVAL, "key contains a NUL byte");
    return 0;
}

static int emit_cmd(msgpack_packer *pk, const void *arg)
{
    const struct fsm_kv_op *op = arg;

    return msgpack_pack_map(pk, F_COUNT) || pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, CMD_VERSION) || pack_cstr(pk, "t") ||
           pack_cstr(pk, "kv") || pack_cstr(pk, "verb") ||
           msgpack_pack_uint64(pk, (uint64_t)op->verb) ||
           pack_cstr(pk, "key") || pack_cstr(pk, op->key) ||
           pack_cstr(pk, "val") ||
           msgpack_pack_bin_with_body(pk, op->val, op->len) ||
           pack_cstr(pk, "flags") || msgpack_pack_uint64(pk, op->flags) ||
           pack_cstr(pk, "cas") || msgpack_pack_uint64(pk, op->cas);
}

int fsm_encode_kv(const struct fsm_kv_op *op, fsm_alloc_fn alloc,
                  void **buf, size_t *len, char *err)
{
    int rc;

    if (!verb_valid((uint64_t)op->verb))
        return err_set(err, ERR_INVAL, "unknown kv verb %d", (int)op->verb);
    if (op->key == NULL)
        return err_set(err, ERR_INVAL, "missing key name");
    rc = check_op_key(op->key, strnlen(op->key, KV_MAX_KEY + 1), op->verb,
                      err);
    if (rc != 0)
        return rc;
    if (op->val == NULL && op->len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       op->len);
    return pack_exact(emit_cmd, op, alloc, buf, len, err);
}

static int field_index(const msgpack_object *k)
{
    int i;

    for (i = 0; i < F_COUNT; i++)
        if (str_is(k, field_names[i]))
            return i;
    return -1;
}

static int decode_cmd(const char *buf, size_t len, msgpack_unpacked *u,
                      struct cmd *c, char *err)
{
    const msgpack_object_map *m;
    unsigned seen = 0;
    uint32_t i;
    int fi, rc;
    size_t off = 0;

    memset(c, 0, sizeof(*c));
    if ((rc = unpack_at(u, buf, len, &off, err)) != 0)
        return rc;
    if (off != len)
        return err_set(err, ERR_PARSE, "%zu bytes after the command",
                       len - off);
    if (u->data.type != MSGPACK_OBJECT_MAP)
        return err_set(err, ERR_PARSE, "command is not a map");
    m = &u->data.via.map;
    for (i = 0; i < m->size; i++) {
        if ((fi = field_index(&m->ptr[i].key)) < 0)
            return err_set(err, ERR_PARSE, "unknown command field");
        if (seen & 1u << fi)
            return err_set(err, ERR_PARSE, "field '%s' given twice",
                           field_names[fi]);
        if (m->ptr[i].val.type != field_types[fi])
            return err_set(err, ERR_PARSE, "field '%s' has the wrong type",
                           field_names[fi]);
        seen |= 1u << fi;
        c->f[fi] = &m->ptr[i].val;
    }
    if ((seen & REQUIRED_FIELDS) != REQUIRED_FIELDS)
        return err_set(err, ERR_PARSE, "command lacks a required field");
    if (c->f[F_V]->via.u64 != CMD_VERSION)
        return err_set(err, ERR_PARSE, "unsupported command version %llu",
                       (unsigned long long)c->f[F_V]->via.u64);
    if (!str_is(c->f[F_T], "kv"))
        return err_set(err, ERR_PARSE, "unknown command type");
    if (!verb_valid(c->f[F_VERB]->via.u64))
        return err_set(err, ERR_PARSE, "unknown kv verb %llu",
                       (unsigned long long)c->f[F_VERB]->via.u64);
    return 0;
}

static uint64_t opt_u64(const struct cmd *c, int fi)
{
    return c->f[fi] != NULL ? c->f[fi]->via.u64 : 0;
}

/* Run a decoded command; *changed says whether the store may differ. */
static int run_kv(struct kv_store *kv, uint64_t index, const struct cmd *c,
                  const char *key, bool *ok, bool *changed, char *err)
{
    const void *val = NULL;
    size_t len = 0, n;
    bool existed = kv_peek(kv, key) != NULL;
    uint64_t flags = opt_u64(c, F_FLAGS), cas = opt_u64(c, F_CAS);
    int rc = 0;

    if (c->f[F_VAL] != NULL && c->f[F_VAL]->via.bin.size > 0) {
        val = c->f[F_VAL]->via.bin.ptr;
        len = c->f[F_VAL]->via.bin.size;
    }
    *ok = true;
    switch (c->f[F_VERB]->via.u64) {
    case FSM_KV_SET:
        rc = kv_put(kv, key, val, len, flags, index, err);
        *changed = true;
        break;
    case FSM_KV_CAS:
        rc = kv_cas(kv, key, val, len, flags, cas, index, ok, err);
        *changed = *ok;
        break;
    case FSM_KV_DELETE:
        rc = kv_delete(kv, key, index, err);
        *changed = existed;
        break;
    case FSM_KV_DELETE_CAS:
        rc = kv_delete_cas(kv, key, cas, index, ok, err);
        *changed = existed && *ok;
        break;
    default:
        n = kv_count(kv);
        rc = kv_delete_tree(kv, key, index, err);
        *changed = kv_count(kv) != n;
        break;
    }
    if (rc != 0)
        *ok = *changed = false;
    return rc;
}

int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_result *res, char *err)
{
    char key[KV_MAX_KEY + 1];
    msgpack_unpacked u;
    struct cmd c;
    const msgpack_object_str *k;
    bool changed = false;
    int rc;

    res->rc = 0;
    res->ok = false;
    res->index = index;
    msgpack_unpacked_init(&u);
    rc = decode_cmd(buf, len, &u, &c, err);
    if (rc != 0) {
        msgpack_unpacked_destroy(&u);
        err_prefix(err, "decoding command at index %llu",
                   (unsigned long long)index);
        return res->rc = rc;
    }
    k = &c.f[F_KEY]->via.str;
    res->rc = check_op_key(k->ptr, k->size, c.f[F_VERB]->via.u64, err);
    if (res->rc == 0) {
        if (k->size > 0)
            memcpy(key, k->ptr, k->size);
        key[k->size] = '\0';
        res->rc = run_kv(f->kv, index, &c, key, &res->ok, &changed, err);
    }
    msgpack_unpacked_destroy(&u);
    f->last_index = index;
    if (changed && f->on_change != NULL)
        f->on_change(f->ctx, "kv", index);
    return 0;
}

/* ---- lifecycle ---- */

int fsm_init(struct fsm *f, char *err)
{
    memset(f, 0, sizeof(*f));
    if ((f->kv = kv_new()) == NULL)
        return err_set(err, ERR_NOMEM, "creating the kv store");
    return 0;
}

void fsm_release(struct fsm *f)
{
    kv_free(f->kv);
    f->kv = NULL;
}

/* ---- snapshot ---- */

struct emitter {
    msgpack_packer *pk;
    uint64_t records;
};

static int emit_entry(void *ctx, const struct kv_entry *e)
{
    struct emitter *em = ctx;
    msgpack_packer *pk = em->pk;

    em->records++;
    return msgpack_pack_array(pk, 8) || msgpack_pack_uint8(pk, REC_ENTRY) ||
           pack_cstr(pk, e->key) ||
           (e->val != NULL ? msgpack_pack_bin_with_body(pk, e->val, e->len)
                           : msgpack_pack_nil(pk)) ||
           msgpack_pack_uint64(pk, e->flags) ||
           msgpack_pack_uint64(pk, e->create_index) ||
           msgpack_pack_uint64(pk, e->modify_index) ||
           msgpack_pack_uint64(pk, e->lock_index) ||
           (e->session != NULL ? pack_cstr(pk, e->session)
                               : msgpack_pack_nil(pk));
}

static int emit_tomb(void *ctx, const char *key, uint64_t index)
{
    struct emitter *em = ctx;

    em->records++;
    return msgpack_pack_array(em->pk, 3) ||
           msgpack_pack_uint8(em->pk, REC_TOMB) || pack_cstr(em->pk, key) ||
           msgpack_pack_uint64(em->pk, index);
}

static int emit_header(msgpack_packer *pk, const struct fsm *f)
{
    return msgpack_pack_map(pk, 4) || pack_cstr(pk, "format") ||
           pack_cstr(pk, SNAP_FORMAT) || pack_cstr(pk, "version") ||
           msgpack_pack_uint64(pk, SNAP_VERSION) ||
           pack_cstr(pk, "last_index") ||
           msgpack_pack_uint64(pk, f->last_index) ||
           pack_cstr(pk, "kv_table_index") ||
           msgpack_pack_uint64(pk, kv_table_index(f->kv));
}

/* The whole stream as one walk that emits records; a streaming writer
 * only needs a packer whose callback writes out chunks. */
static int emit_snapshot(msgpack_packer *pk, const void *arg)
{
    const struct fsm *f = arg;
    struct emitter em = {pk, 0};

    if (emit_header(pk, f) != 0 ||
        kv_walk_prefix(f->kv, "", emit_entry, &em) != 0 ||
        kv_walk_tombstones(f->kv, emit_tomb, &em) != 0)
        return -1;
    return msgpack_pack_array(pk, 2) || msgpack_pack_uint8(pk, REC_END) ||
           msgpack_pack_uint64(pk, em.records);
}

int fsm_snapshot(const struct fsm *f, fsm_alloc_fn alloc, void **buf,
                 size_t *len, char *err)
{
    int rc = pack_exact(emit_snapshot, f, alloc, buf, len, err);

    if (rc != 0)
        err_prefix(err, "writing snapshot");
    return rc;
}

/* ---- restore ---- */

struct snap_header {
    uint64_t version;
    uint64_t last_index;
    uint64_t table_index;
};

static const msgpack_object *map_get(const msgpack_object_map *m,
                                     const char *name)
{
    uint32_t i;

    for (i = 0; i < m->size; i++)
        if (str_is(&m->ptr[i].key, name))
            return &m->ptr[i].val;
    return NULL;
}

static bool is_uint(const msgpack_object *o)
{
    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* Format and version first, so that a newer snapshot is reported as
 * such rather than as a header with unknown fields. */
static int check_header(const msgpack_object *o, struct snap_header *h,
                        char *err)
{
    const msgpack_object_map *m = &o->via.map;
    const msgpack_object *fmt, *ver, *li, *ti;

    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, ERR_PARSE, "header is not a map");
    fmt = map_get(m, "format");
    ver = map_get(m, "version");
    if (fmt == NULL || !str_is(fmt, SNAP_FORMAT))
        return err_set(err, ERR_PARSE, "not a %s snapshot", SNAP_FORMAT);
    if (!is_uint(ver))
        return err_set(err, ERR_PARSE, "header lacks a version");
    if (ver->via.u64 < 1 || ver->via.u64 > SNAP_VERSION)
        return err_set(err, ERR_PARSE, "unsupported snapshot version %llu",
                       (unsigned long long)ver->via.u64);
    li = map_get(m, "last_index");
    ti = map_get(m, "kv_table_index");
    if (m->size != 4 || !is_uint(li) || !is_uint(ti))
        return err_set(err, ERR_PARSE, "malformed version %d header",
                       SNAP_VERSION);
    h->version = ver->via.u64;
    h->last_index = li->via.u64;
    h->table_index = ti->via.u64;
    return 0;
}

static int restore_entry(struct kv_store *st, const msgpack_object *a,
                         char *key, char *sess, char *err)
{
    struct kv_entry e;
    const msgpack_object *v = &a[2], *s = &a[7];
    int i, rc;

    for (i = 3; i < 7; i++)
        if (!is_uint(&a[i]))
            return err_set(err, ERR_PARSE, "entry field %d is not a uint",
                           i);
    if (v->type != MSGPACK_OBJECT_BIN && v->type != MSGPACK_OBJECT_NIL)
        return err_set(err, ERR_PARSE, "entry value is not bin or nil");
    if ((rc = to_cstr(&a[1], key, KV_MAX_KEY, "key", err)) != 0)
        return rc;
    if (s->type != MSGPACK_OBJECT_NIL &&
        (rc = to_cstr(s, sess, KV_MAX_KEY, "session", err)) != 0)
        return rc;
    memset(&e, 0, sizeof(e));
    e.key = key;
    if (v->type == MSGPACK_OBJECT_BIN && v->via.bin.size > 0) {
        e.val = (unsigned char *)v->via.bin.ptr;
        e.len = v->via.bin.size;
    }
    e.flags = a[3].via.u64;
    e.create_index = a[4].via.u64;
    e.modify_index = a[5].via.u64;
    e.lock_index = a[6].via.u64;
    e.session = s->type == MSGPACK_OBJECT_NIL ? NULL : sess;
    return kv_restore_entry(st, &e, err);
}

static int restore_tomb(struct kv_store *st, const msgpack_object *a,
                        char *key, char *err)
{
    int rc;

    if (!is_uint(&a[2]))
        return err_set(err, ERR_PARSE, "tombstone index is not a uint");
    if ((rc = to_cstr(&a[1], key, KV_MAX_KEY, "key", err)) != 0)
        return rc;
    return kv_restore_tombstone(st, key, a[2].via.u64, err);
}

/* Apply one record; *done is set by the end record. */
static int restore_record(struct kv_store *st, const msgpack_object *o,
                          uint64_t count, bool *done, char *bufs, char *err)
{
    static const uint32_t sizes[] = {2, 8, 3};
    const msgpack_object *a;
    uint64_t type;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
        !is_uint(&o->via.array.ptr[0]))
        return err_set(err, ERR_PARSE, "not a typed record");
    a = o->via.array.ptr;
    type = a[0].via.u64;
    if (type > REC_TOMB)
        return err_set(err, ERR_PARSE, "unknown record type %llu",
                       (unsigned long long)type);
    if (o->via.array.size != sizes[type])
        return err_set(err, ERR_PARSE, "type %llu record has %u fields",
                       (unsigned long long)type,
                       (unsigned)o->via.array.size);
    if (type == REC_ENTRY)
        return restore_entry(st, a, bufs, bufs + KV_MAX_KEY + 1, err);
    if (type == REC_TOMB)
        return restore_tomb(st, a, bufs, err);
    if (!is_uint(&a[1]) || a[1].via.u64 != count)
        return err_set(err, ERR_PARSE,
                       "end record does not count %llu records",
                       (unsigned long long)count);
    *done = true;
    return 0;
}

/* Read records after the header into st, up to and including the end
 * record, which must be the last byte. */
static int restore_records(struct kv_store *st, const char *buf, size_t len,
                           size_t off, char *err)
{
    char *bufs = malloc(2 * (KV_MAX_KEY + 1));
    msgpack_unpacked u;
    uint64_t count = 0;
    bool done = false;
    int rc = 0;

    if (bufs == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    msgpack_unpacked_init(&u);
    while (!done) {
        if (off == len) {
            rc = err_set(err, ERR_PARSE, "missing end record");
            break;
        }
        if ((rc = unpack_at(&u, buf, len, &off, err)) != 0 ||
            (rc = restore_record(st, &u.data, count, &done, bufs, err)) != 0) {
            err_prefix(err, "record %llu", (unsigned long long)count + 1);
            break;
        }
        count += !done;
    }
    if (rc == 0 && off != len)
        rc = err_set(err, ERR_PARSE, "%zu bytes after the end record",
                     len - off);
    msgpack_unpacked_destroy(&u);
    free(bufs);
    return rc;
}

static int decode_snapshot(struct kv_store *st, const char *buf, size_t len,
                           struct snap_header *h, char *err)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc;

    msgpack_unpacked_init(&u);
    rc = unpack_at(&u, buf, len, &off, err);
    if (rc == 0)
        rc = check_header(&u.data, h, err);
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        err_prefix(err, "header");
        return rc;
    }
    rc = restore_records(st, buf, len, off, err);
    if (rc == 0)
        kv_set_table_index(st, h->table_index);
    return rc;
}

int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err)
{
    struct kv_store *st = kv_new();
    struct snap_header h = {0, 0, 0};
    int rc;

    if (st == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    rc = decode_snapshot(st, buf, len, &h, err);
    if (rc != 0) {
        kv_free(st);
        err_prefix(err, "restoring snapshot");
        return rc == ERR_NOMEM ? rc : ERR_PARSE;
    }
    kv_free(f->kv);
    f->kv = st;
    f->last_index = h.last_index;
    if (f->on_change != NULL)
        f->on_change(f->ctx, "kv", h.last_index);
    return 0;
}

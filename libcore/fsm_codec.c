/* fsm_codec.c - msgpack helpers of the state machine: a bounds check in
 * front of msgpack-c, strict scalar accessors, exact-size packing.
 *
 * Layer: store (uses util, msgpack). Thread: any (no state).
 * Owns: nothing; buffers come from the caller's alloc function.
 * Tests: t/unit/check_fsm.c
 *
 * msgpack-c sizes arrays and maps from their declared counts before it
 * has seen the elements, so a forged count would make it allocate
 * gigabytes; span() first proves that each object is complete inside
 * the buffer, and only then is msgpack_unpack_next() run on it.
 */
#include "fsm_int.h"

#include <assert.h>
#include <string.h>

#include "err.h"

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
int fsm_unpack_at(msgpack_unpacked *u, const char *buf, size_t len,
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

bool fsm_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);

    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* Copy a msgpack str into out as a C string: 1..max bytes, no NUL. */
int fsm_to_cstr(const msgpack_object *o, char *out, size_t max,
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

/* Nothing is copied or reallocated. */
int fsm_pack_exact(fsm_emit_fn emit, const void *arg, fsm_alloc_fn alloc,
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

int fsm_pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

const msgpack_object *fsm_map_get(const msgpack_object_map *m,
                                  const char *name)
{
    uint32_t i;

    for (i = 0; i < m->size; i++)
        if (fsm_str_is(&m->ptr[i].key, name))
            return &m->ptr[i].val;
    return NULL;
}

bool fsm_is_uint(const msgpack_object *o)
{
    return o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

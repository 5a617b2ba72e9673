/* fsm.c - the replicated state machine: command codec, apply, snapshot.
 *
 * Layer: store (uses util, kv). Thread: loop only.
 * Owns: f->kv, f->autopilot. Command and snapshot buffers come from the
 * caller's alloc function and belong to the caller.
 * Tests: t/unit/check_fsm.c
 *
 * Command, version 1: one msgpack map and nothing after it. "v" and "t"
 * are common to every command; "t" selects the table, and with it the
 * other fields. A new table is a new "t" value under the same "v" (the
 * commands of the older tables keep their bytes): an agent that predates
 * a table refuses its commands as undecodable, which raftglue logs and
 * skips, so every server must know a table before it is written.
 *   "v"     uint  1             required; other versions are refused
 *   "t"     str   "kv" | "autopilot"   required
 * "t":"kv", a key/value write:
 *   "verb"  uint  fsm_kv_verb   required; 1 set, 2 cas, 3 delete,
 *                               4 delete-cas, 5 delete-tree
 *   "key"   str                 required; at most KV_MAX_KEY bytes, no
 *                               NUL, non-empty except for delete-tree
 *   "val"   bin                 optional, default empty
 *   "flags" uint                optional, default 0
 *   "cas"   uint                optional, default 0
 * The encoder writes all seven fields in this order.
 * "t":"autopilot", a write of the whole autopilot configuration (what
 * Consul logs as AutopilotRequestType):
 *   "cleanup_dead_servers"          bool  required
 *   "last_contact_threshold_ms"     int   required
 *   "max_trailing_logs"             int   required
 *   "min_quorum"                    int   required
 *   "server_stabilization_time_ms"  int   required
 *   "cas"                           uint  optional; when present the
 *                               write applies only if it equals the
 *                               current modify_index (0: only if never
 *                               set), else the result is ok=false
 * The encoder writes them in this order, "cas" last and only for a CAS.
 * "int" is a msgpack integer of either sign: a negative value, or a
 * duration above FSM_MAX_DURATION_MS, is a per-command ERR_INVAL (the
 * encoder never writes one).
 * An unknown or repeated field, a field of another table, a wrong type,
 * a truncated map or bytes after it make the buffer undecodable
 * (ERR_PARSE, nothing changes); a bad key or autopilot value is a
 * per-command ERR_INVAL in the result. A new field or meaning within a
 * table bumps "v", and old versions stay decodable because the Raft log
 * may hold them.
 *
 * Snapshot, version 1: a stream of msgpack objects.
 *   header  {"format":"proconsul-state", "version":1,
 *            "last_index":uint, "kv_table_index":uint}
 *   entry   [1, key str, val bin|nil, flags uint, create_index uint,
 *            modify_index uint, lock_index uint, session str|nil]
 *   tomb    [2, key str, index uint]
 *   autopilot [3, cleanup_dead_servers bool, last_contact_threshold_ms
 *            uint, max_trailing_logs uint, min_quorum uint,
 *            server_stabilization_time_ms uint, create_index uint,
 *            modify_index uint]
 *   end     [0, number of records between the header and it]
 * The writer emits entries then tombstones, each in key order, then the
 * autopilot record if the configuration was ever set; the reader does
 * not rely on order. The autopilot record is optional, at most one, and
 * its values are checked as a command's are, with 1 <= create_index <=
 * modify_index; without it the configuration restores as unset. So a
 * snapshot of a state that never had one is byte for byte what earlier
 * writers produced, and the version stays 1; a reader that predates the
 * record refuses a stream that has one ("unknown record type 3").
 * Nothing may follow the end record, so a cut stream never passes for a
 * complete one. Restore decodes into a new kv_store and autopilot value
 * and swaps them in only when every record checked out.
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

enum { REC_END = 0, REC_ENTRY = 1, REC_TOMB = 2, REC_AUTOPILOT = 3 };

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

enum {
    F_V, F_T, F_VERB, F_KEY, F_VAL, F_FLAGS, F_CAS,
    F_CLEANUP, F_CONTACT, F_TRAILING, F_QUORUM, F_STABLE, F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "v", "t", "verb", "key", "val", "flags", "cas",
    "cleanup_dead_servers", "last_contact_threshold_ms",
    "max_trailing_logs", "min_quorum", "server_stabilization_time_ms",
};
/* NEGATIVE_INTEGER stands for an integer of either sign. */
static const msgpack_object_type field_types[F_COUNT] = {
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_BIN,              MSGPACK_OBJECT_POSITIVE_INTEGER,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_BOOLEAN,
    MSGPACK_OBJECT_NEGATIVE_INTEGER, MSGPACK_OBJECT_NEGATIVE_INTEGER,
    MSGPACK_OBJECT_NEGATIVE_INTEGER, MSGPACK_OBJECT_NEGATIVE_INTEGER,
};

#define BIT(fi) (1u << (fi))
#define AP_VALUES                                                       \
    (BIT(F_CLEANUP) | BIT(F_CONTACT) | BIT(F_TRAILING) | BIT(F_QUORUM) | \
     BIT(F_STABLE))

enum { T_KV, T_AUTOPILOT, T_COUNT };
static const struct {
    const char *name;
    unsigned allowed, required;
} tables[T_COUNT] = {
    {"kv",
     BIT(F_V) | BIT(F_T) | BIT(F_VERB) | BIT(F_KEY) | BIT(F_VAL) |
         BIT(F_FLAGS) | BIT(F_CAS),
     BIT(F_V) | BIT(F_T) | BIT(F_VERB) | BIT(F_KEY)},
    {"autopilot", BIT(F_V) | BIT(F_T) | AP_VALUES | BIT(F_CAS),
     BIT(F_V) | BIT(F_T) | AP_VALUES},
};

struct cmd {
    const msgpack_object *f[F_COUNT];
    int table;
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

    return msgpack_pack_map(pk, 7) || pack_cstr(pk, "v") ||
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

/* The four numbers of an autopilot configuration, in command order. */
static void ap_numbers(const struct fsm_autopilot *ap, int64_t v[4])
{
    v[0] = ap->last_contact_threshold_ms;
    v[1] = ap->max_trailing_logs;
    v[2] = ap->min_quorum;
    v[3] = ap->server_stabilization_time_ms;
}

static int check_autopilot(const struct fsm_autopilot *ap, char *err)
{
    int64_t v[4];
    int i;

    ap_numbers(ap, v);
    for (i = 0; i < 4; i++) {
        if (v[i] < 0)
            return err_set(err, ERR_INVAL, "autopilot %s is negative",
                           field_names[F_CONTACT + i]);
        if ((i == 0 || i == 3) && v[i] > FSM_MAX_DURATION_MS)
            return err_set(err, ERR_INVAL, "autopilot %s is longer than "
                           "a Go duration", field_names[F_CONTACT + i]);
    }
    return 0;
}

struct ap_cmd {
    const struct fsm_autopilot *ap;
    bool use_cas;
    uint64_t cas;
};

static int emit_autopilot_cmd(msgpack_packer *pk, const void *arg)
{
    const struct ap_cmd *a = arg;
    int64_t v[4];
    int i, rc;

    ap_numbers(a->ap, v);
    rc = msgpack_pack_map(pk, a->use_cas ? 8 : 7) || pack_cstr(pk, "v") ||
         msgpack_pack_uint64(pk, CMD_VERSION) || pack_cstr(pk, "t") ||
         pack_cstr(pk, "autopilot") ||
         pack_cstr(pk, field_names[F_CLEANUP]) ||
         (a->ap->cleanup_dead_servers ? msgpack_pack_true(pk)
                                      : msgpack_pack_false(pk));
    for (i = 0; i < 4 && rc == 0; i++)
        rc = pack_cstr(pk, field_names[F_CONTACT + i]) ||
             msgpack_pack_uint64(pk, (uint64_t)v[i]);
    if (rc == 0 && a->use_cas)
        rc = pack_cstr(pk, "cas") || msgpack_pack_uint64(pk, a->cas);
    return rc;
}

int fsm_encode_autopilot(const struct fsm_autopilot *ap, bool use_cas,
                         uint64_t cas, fsm_alloc_fn alloc, void **buf,
                         size_t *len, char *err)
{
    struct ap_cmd a = {ap, use_cas, cas};
    int rc = check_autopilot(ap, err);

    if (rc != 0)
        return rc;
    return pack_exact(emit_autopilot_cmd, &a, alloc, buf, len, err);
}

static int field_index(const msgpack_object *k)
{
    int i;

    for (i = 0; i < F_COUNT; i++)
        if (str_is(k, field_names[i]))
            return i;
    return -1;
}

static bool type_ok(int fi, const msgpack_object *o)
{
    return o->type == field_types[fi] ||
           (field_types[fi] == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
            o->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
}

/* Version, table, and the fields the table allows and requires. */
static int check_fields(struct cmd *c, unsigned seen, char *err)
{
    unsigned extra;
    int t, fi;

    if ((seen & (BIT(F_V) | BIT(F_T))) != (BIT(F_V) | BIT(F_T)))
        return err_set(err, ERR_PARSE, "command lacks a required field");
    if (c->f[F_V]->via.u64 != CMD_VERSION)
        return err_set(err, ERR_PARSE, "unsupported command version %llu",
                       (unsigned long long)c->f[F_V]->via.u64);
    for (t = 0; t < T_COUNT && !str_is(c->f[F_T], tables[t].name); t++)
        ;
    if (t == T_COUNT)
        return err_set(err, ERR_PARSE, "unknown command type");
    c->table = t;
    if ((extra = seen & ~tables[t].allowed) != 0) {
        for (fi = 0; !(extra & BIT(fi)); fi++)
            ;
        return err_set(err, ERR_PARSE, "%s command with field '%s'",
                       tables[t].name, field_names[fi]);
    }
    if ((seen & tables[t].required) != tables[t].required)
        return err_set(err, ERR_PARSE, "command lacks a required field");
    if (t == T_KV && !verb_valid(c->f[F_VERB]->via.u64))
        return err_set(err, ERR_PARSE, "unknown kv verb %llu",
                       (unsigned long long)c->f[F_VERB]->via.u64);
    return 0;
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
        if (seen & BIT(fi))
            return err_set(err, ERR_PARSE, "field '%s' given twice",
                           field_names[fi]);
        if (!type_ok(fi, &m->ptr[i].val))
            return err_set(err, ERR_PARSE, "field '%s' has the wrong type",
                           field_names[fi]);
        seen |= BIT(fi);
        c->f[fi] = &m->ptr[i].val;
    }
    return check_fields(c, seen, err);
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

static int apply_kv(struct fsm *f, uint64_t index, const struct cmd *c,
                    bool *ok, bool *changed, char *err)
{
    char key[KV_MAX_KEY + 1];
    const msgpack_object_str *k = &c->f[F_KEY]->via.str;
    int rc = check_op_key(k->ptr, k->size, c->f[F_VERB]->via.u64, err);

    if (rc != 0)
        return rc;
    if (k->size > 0)
        memcpy(key, k->ptr, k->size);
    key[k->size] = '\0';
    return run_kv(f->kv, index, c, key, ok, changed, err);
}

static int apply_autopilot(struct fsm *f, uint64_t index,
                           const struct cmd *c, bool *ok, bool *changed,
                           char *err)
{
    struct fsm_autopilot ap, *cur = &f->autopilot;
    int64_t v[4];
    int i, rc;

    for (i = 0; i < 4; i++) {
        const msgpack_object *o = c->f[F_CONTACT + i];

        if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return err_set(err, ERR_INVAL, "autopilot %s is negative",
                           field_names[F_CONTACT + i]);
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return err_set(err, ERR_INVAL, "autopilot %s is too large",
                           field_names[F_CONTACT + i]);
        v[i] = (int64_t)o->via.u64;
    }
    memset(&ap, 0, sizeof(ap));
    ap.cleanup_dead_servers = c->f[F_CLEANUP]->via.boolean;
    ap.last_contact_threshold_ms = v[0];
    ap.max_trailing_logs = v[1];
    ap.min_quorum = v[2];
    ap.server_stabilization_time_ms = v[3];
    if ((rc = check_autopilot(&ap, err)) != 0)
        return rc;
    /* A CAS that does not match is not an error: ok stays false. */
    if (c->f[F_CAS] != NULL &&
        c->f[F_CAS]->via.u64 != (cur->set ? cur->modify_index : 0))
        return 0;
    ap.set = true;
    ap.create_index = cur->set ? cur->create_index : index;
    ap.modify_index = index;
    *cur = ap;
    *ok = *changed = true;
    return 0;
}

int fsm_apply(struct fsm *f, uint64_t index, const void *buf, size_t len,
              struct fsm_result *res, char *err)
{
    msgpack_unpacked u;
    struct cmd c;
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
    if (c.table == T_KV)
        res->rc = apply_kv(f, index, &c, &res->ok, &changed, err);
    else
        res->rc = apply_autopilot(f, index, &c, &res->ok, &changed, err);
    msgpack_unpacked_destroy(&u);
    f->last_index = index;
    if (changed && f->on_change != NULL)
        f->on_change(f->ctx, tables[c.table].name, index);
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

static int emit_autopilot(msgpack_packer *pk, const struct fsm_autopilot *ap)
{
    int64_t v[4];
    int i, rc;

    ap_numbers(ap, v);
    rc = msgpack_pack_array(pk, 8) ||
         msgpack_pack_uint8(pk, REC_AUTOPILOT) ||
         (ap->cleanup_dead_servers ? msgpack_pack_true(pk)
                                   : msgpack_pack_false(pk));
    for (i = 0; i < 4 && rc == 0; i++)
        rc = msgpack_pack_uint64(pk, (uint64_t)v[i]);
    return rc || msgpack_pack_uint64(pk, ap->create_index) ||
           msgpack_pack_uint64(pk, ap->modify_index);
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
    if (f->autopilot.set) {
        if (emit_autopilot(pk, &f->autopilot) != 0)
            return -1;
        em.records++;
    }
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

/* What a restore builds before it swaps it in. */
struct restore {
    struct kv_store *st;
    struct fsm_autopilot ap;
    char *bufs;  /* key and session, KV_MAX_KEY + 1 bytes each */
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

static int restore_autopilot(struct fsm_autopilot *out,
                             const msgpack_object *a, char *err)
{
    struct fsm_autopilot ap;
    int i;

    if (out->set)
        return err_set(err, ERR_PARSE, "a second autopilot record");
    if (a[1].type != MSGPACK_OBJECT_BOOLEAN)
        return err_set(err, ERR_PARSE, "autopilot field 1 is not a bool");
    for (i = 2; i < 8; i++)
        if (!is_uint(&a[i]) || (i < 6 && a[i].via.u64 > INT64_MAX))
            return err_set(err, ERR_PARSE, "autopilot field %d is not a "
                           "uint%s", i, i < 6 ? " up to 2^63-1" : "");
    memset(&ap, 0, sizeof(ap));
    ap.cleanup_dead_servers = a[1].via.boolean;
    ap.last_contact_threshold_ms = (int64_t)a[2].via.u64;
    ap.max_trailing_logs = (int64_t)a[3].via.u64;
    ap.min_quorum = (int64_t)a[4].via.u64;
    ap.server_stabilization_time_ms = (int64_t)a[5].via.u64;
    ap.create_index = a[6].via.u64;
    ap.modify_index = a[7].via.u64;
    if (check_autopilot(&ap, err) != 0)
        return ERR_PARSE;
    if (ap.create_index == 0 || ap.create_index > ap.modify_index)
        return err_set(err, ERR_PARSE, "autopilot create index %llu and "
                       "modify index %llu do not fit",
                       (unsigned long long)ap.create_index,
                       (unsigned long long)ap.modify_index);
    ap.set = true;
    *out = ap;
    return 0;
}

/* Apply one record; *done is set by the end record. */
static int restore_record(struct restore *r, const msgpack_object *o,
                          uint64_t count, bool *done, char *err)
{
    static const uint32_t sizes[] = {2, 8, 3, 8};
    const msgpack_object *a;
    uint64_t type;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
        !is_uint(&o->via.array.ptr[0]))
        return err_set(err, ERR_PARSE, "not a typed record");
    a = o->via.array.ptr;
    type = a[0].via.u64;
    if (type > REC_AUTOPILOT)
        return err_set(err, ERR_PARSE, "unknown record type %llu",
                       (unsigned long long)type);
    if (o->via.array.size != sizes[type])
        return err_set(err, ERR_PARSE, "type %llu record has %u fields",
                       (unsigned long long)type,
                       (unsigned)o->via.array.size);
    if (type == REC_ENTRY)
        return restore_entry(r->st, a, r->bufs, r->bufs + KV_MAX_KEY + 1,
                             err);
    if (type == REC_TOMB)
        return restore_tomb(r->st, a, r->bufs, err);
    if (type == REC_AUTOPILOT)
        return restore_autopilot(&r->ap, a, err);
    if (!is_uint(&a[1]) || a[1].via.u64 != count)
        return err_set(err, ERR_PARSE,
                       "end record does not count %llu records",
                       (unsigned long long)count);
    *done = true;
    return 0;
}

/* Read records after the header into r, up to and including the end
 * record, which must be the last byte. */
static int restore_records(struct restore *r, const char *buf, size_t len,
                           size_t off, char *err)
{
    msgpack_unpacked u;
    uint64_t count = 0;
    bool done = false;
    int rc = 0;

    if ((r->bufs = malloc(2 * (KV_MAX_KEY + 1))) == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    msgpack_unpacked_init(&u);
    while (!done) {
        if (off == len) {
            rc = err_set(err, ERR_PARSE, "missing end record");
            break;
        }
        if ((rc = unpack_at(&u, buf, len, &off, err)) != 0 ||
            (rc = restore_record(r, &u.data, count, &done, err)) != 0) {
            err_prefix(err, "record %llu", (unsigned long long)count + 1);
            break;
        }
        count += !done;
    }
    if (rc == 0 && off != len)
        rc = err_set(err, ERR_PARSE, "%zu bytes after the end record",
                     len - off);
    msgpack_unpacked_destroy(&u);
    free(r->bufs);
    r->bufs = NULL;
    return rc;
}

static int decode_snapshot(struct restore *r, const char *buf, size_t len,
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
    rc = restore_records(r, buf, len, off, err);
    if (rc == 0)
        kv_set_table_index(r->st, h->table_index);
    return rc;
}

int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err)
{
    struct restore r = {kv_new(), {0}, NULL};
    struct snap_header h = {0, 0, 0};
    bool had_autopilot = f->autopilot.set;
    int rc;

    if (r.st == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    rc = decode_snapshot(&r, buf, len, &h, err);
    if (rc != 0) {
        kv_free(r.st);
        err_prefix(err, "restoring snapshot");
        return rc == ERR_NOMEM ? rc : ERR_PARSE;
    }
    kv_free(f->kv);
    f->kv = r.st;
    f->autopilot = r.ap;
    f->last_index = h.last_index;
    if (f->on_change != NULL) {
        f->on_change(f->ctx, "kv", h.last_index);
        if (had_autopilot || r.ap.set)
            f->on_change(f->ctx, "autopilot", h.last_index);
    }
    return 0;
}

/* fsm_cmd.c - the command codec: field table, KV and autopilot
 * encoders, and the strict decoder every command goes through.
 *
 * Layer: store (uses util, msgpack, kv). Thread: any (no state).
 * Owns: nothing; buffers come from the caller's alloc function.
 * Tests: t/unit/check_fsm.c
 *
 * The format is documented in fsm.c. A field is known by name, has one
 * msgpack type, and belongs to the tables whose masks include it; the
 * decoder refuses unknown, repeated or foreign fields before any table
 * sees the command.
 */
#include "fsm_int.h"

#include <string.h>

#include "err.h"
#include "kv.h"

const char *const fsm_field_names[F_COUNT] = {
    "v", "t", "verb", "key", "val", "flags", "cas",
    "cleanup_dead_servers", "last_contact_threshold_ms",
    "max_trailing_logs", "min_quorum", "server_stabilization_time_ms",
    "op", "req", "ops",
};
/* NEGATIVE_INTEGER stands for an integer of either sign. */
static const msgpack_object_type field_types[F_COUNT] = {
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_BIN,              MSGPACK_OBJECT_POSITIVE_INTEGER,
    MSGPACK_OBJECT_POSITIVE_INTEGER, MSGPACK_OBJECT_BOOLEAN,
    MSGPACK_OBJECT_NEGATIVE_INTEGER, MSGPACK_OBJECT_NEGATIVE_INTEGER,
    MSGPACK_OBJECT_NEGATIVE_INTEGER, MSGPACK_OBJECT_NEGATIVE_INTEGER,
    MSGPACK_OBJECT_STR,              MSGPACK_OBJECT_STR,
    MSGPACK_OBJECT_ARRAY,
};

#define BIT(fi) (1u << (fi))
#define AP_VALUES                                                       \
    (BIT(F_CLEANUP) | BIT(F_CONTACT) | BIT(F_TRAILING) | BIT(F_QUORUM) | \
     BIT(F_STABLE))

const char *const fsm_table_names[T_COUNT] = {
    "kv", "autopilot", "catalog", "acl", "restore", "session", "txn"};

/* Fields each table allows and requires, in fsm_table_names order. */
static const struct {
    unsigned allowed, required;
} tables[T_COUNT] = {
    {BIT(F_V) | BIT(F_T) | BIT(F_VERB) | BIT(F_KEY) | BIT(F_VAL) |
         BIT(F_FLAGS) | BIT(F_CAS),
     BIT(F_V) | BIT(F_T) | BIT(F_VERB) | BIT(F_KEY)},
    {BIT(F_V) | BIT(F_T) | AP_VALUES | BIT(F_CAS),
     BIT(F_V) | BIT(F_T) | AP_VALUES},
    {BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ),
     BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ)},
    {BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ),
     BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ)},
    {BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ) | BIT(F_VAL),
     BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ)},
    {BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ) | BIT(F_VAL),
     BIT(F_V) | BIT(F_T) | BIT(F_OP) | BIT(F_REQ)},
    {BIT(F_V) | BIT(F_T) | BIT(F_OPS), BIT(F_V) | BIT(F_T) | BIT(F_OPS)},
};

static bool verb_valid(uint64_t v)
{
    return v >= FSM_KV_SET && v <= FSM_KV_DELETE_TREE;
}

int fsm_check_op_key(const char *key, size_t len, uint64_t verb,
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

    return msgpack_pack_map(pk, 7) || fsm_pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, FSM_CMD_VERSION) || fsm_pack_cstr(pk, "t") ||
           fsm_pack_cstr(pk, "kv") || fsm_pack_cstr(pk, "verb") ||
           msgpack_pack_uint64(pk, (uint64_t)op->verb) ||
           fsm_pack_cstr(pk, "key") || fsm_pack_cstr(pk, op->key) ||
           fsm_pack_cstr(pk, "val") ||
           msgpack_pack_bin_with_body(pk, op->val, op->len) ||
           fsm_pack_cstr(pk, "flags") || msgpack_pack_uint64(pk, op->flags) ||
           fsm_pack_cstr(pk, "cas") || msgpack_pack_uint64(pk, op->cas);
}

int fsm_encode_kv(const struct fsm_kv_op *op, fsm_alloc_fn alloc,
                  void **buf, size_t *len, char *err)
{
    int rc;

    if (!verb_valid((uint64_t)op->verb))
        return err_set(err, ERR_INVAL, "unknown kv verb %d", (int)op->verb);
    if (op->key == NULL)
        return err_set(err, ERR_INVAL, "missing key name");
    rc = fsm_check_op_key(op->key, strnlen(op->key, KV_MAX_KEY + 1), op->verb,
                      err);
    if (rc != 0)
        return rc;
    if (op->val == NULL && op->len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       op->len);
    return fsm_pack_exact(emit_cmd, op, alloc, buf, len, err);
}

/* The four numbers of an autopilot configuration, in command order. */
void fsm_ap_numbers(const struct fsm_autopilot *ap, int64_t v[4])
{
    v[0] = ap->last_contact_threshold_ms;
    v[1] = ap->max_trailing_logs;
    v[2] = ap->min_quorum;
    v[3] = ap->server_stabilization_time_ms;
}

int fsm_check_autopilot(const struct fsm_autopilot *ap, char *err)
{
    int64_t v[4];
    int i;

    fsm_ap_numbers(ap, v);
    for (i = 0; i < 4; i++) {
        if (v[i] < 0)
            return err_set(err, ERR_INVAL, "autopilot %s is negative",
                           fsm_field_names[F_CONTACT + i]);
        if ((i == 0 || i == 3) && v[i] > FSM_MAX_DURATION_MS)
            return err_set(err, ERR_INVAL, "autopilot %s is longer than "
                           "a Go duration", fsm_field_names[F_CONTACT + i]);
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

    fsm_ap_numbers(a->ap, v);
    rc = msgpack_pack_map(pk, a->use_cas ? 8 : 7) || fsm_pack_cstr(pk, "v") ||
         msgpack_pack_uint64(pk, FSM_CMD_VERSION) || fsm_pack_cstr(pk, "t") ||
         fsm_pack_cstr(pk, "autopilot") ||
         fsm_pack_cstr(pk, fsm_field_names[F_CLEANUP]) ||
         (a->ap->cleanup_dead_servers ? msgpack_pack_true(pk)
                                      : msgpack_pack_false(pk));
    for (i = 0; i < 4 && rc == 0; i++)
        rc = fsm_pack_cstr(pk, fsm_field_names[F_CONTACT + i]) ||
             msgpack_pack_uint64(pk, (uint64_t)v[i]);
    if (rc == 0 && a->use_cas)
        rc = fsm_pack_cstr(pk, "cas") || msgpack_pack_uint64(pk, a->cas);
    return rc;
}

int fsm_encode_autopilot(const struct fsm_autopilot *ap, bool use_cas,
                         uint64_t cas, fsm_alloc_fn alloc, void **buf,
                         size_t *len, char *err)
{
    struct ap_cmd a = {ap, use_cas, cas};
    int rc = fsm_check_autopilot(ap, err);

    if (rc != 0)
        return rc;
    return fsm_pack_exact(emit_autopilot_cmd, &a, alloc, buf, len, err);
}

static int field_index(const msgpack_object *k)
{
    int i;

    for (i = 0; i < F_COUNT; i++)
        if (fsm_str_is(k, fsm_field_names[i]))
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
static int check_fields(struct fsm_cmd *c, unsigned seen, char *err)
{
    unsigned extra;
    int t, fi;

    if ((seen & (BIT(F_V) | BIT(F_T))) != (BIT(F_V) | BIT(F_T)))
        return err_set(err, ERR_PARSE, "command lacks a required field");
    if (c->f[F_V]->via.u64 != FSM_CMD_VERSION)
        return err_set(err, ERR_PARSE, "unsupported command version %llu",
                       (unsigned long long)c->f[F_V]->via.u64);
    for (t = 0; t < T_COUNT && !fsm_str_is(c->f[F_T], fsm_table_names[t]); t++)
        ;
    if (t == T_COUNT)
        return err_set(err, ERR_PARSE, "unknown command type");
    c->table = t;
    if ((extra = seen & ~tables[t].allowed) != 0) {
        for (fi = 0; !(extra & BIT(fi)); fi++)
            ;
        return err_set(err, ERR_PARSE, "%s command with field '%s'",
                       fsm_table_names[t], fsm_field_names[fi]);
    }
    if ((seen & tables[t].required) != tables[t].required)
        return err_set(err, ERR_PARSE, "command lacks a required field");
    if (t == T_KV && !verb_valid(c->f[F_VERB]->via.u64))
        return err_set(err, ERR_PARSE, "unknown kv verb %llu",
                       (unsigned long long)c->f[F_VERB]->via.u64);
    if (t == T_CATALOG && fsm_cat_op(c->f[F_OP]) < 0)
        return err_set(err, ERR_PARSE, "unknown catalog op");
    if (t == T_ACL && fsm_acl_op(c->f[F_OP]) < 0)
        return err_set(err, ERR_PARSE, "unknown acl op");
    if (t == T_RESTORE && fsm_stage_op(c->f[F_OP]) < 0)
        return err_set(err, ERR_PARSE, "unknown restore op");
    if (t == T_SESSION && fsm_sess_op(c->f[F_OP]) < 0)
        return err_set(err, ERR_PARSE, "unknown session op");
    if (t == T_SESSION && c->f[F_VAL] != NULL &&
        fsm_sess_op(c->f[F_OP]) < FSM_SESS_ACQUIRE)
        return err_set(err, ERR_PARSE, "session command with field 'val'");
    if (t == T_TXN)
        return fsm_txn_check_ops(c->f[F_OPS], err);
    return 0;
}

int fsm_decode_cmd(const char *buf, size_t len, msgpack_unpacked *u,
                   struct fsm_cmd *c, char *err)
{
    const msgpack_object_map *m;
    unsigned seen = 0;
    uint32_t i;
    int fi, rc;
    size_t off = 0;

    memset(c, 0, sizeof(*c));
    if ((rc = fsm_unpack_at(u, buf, len, &off, err)) != 0)
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
                           fsm_field_names[fi]);
        if (!type_ok(fi, &m->ptr[i].val))
            return err_set(err, ERR_PARSE, "field '%s' has the wrong type",
                           fsm_field_names[fi]);
        seen |= BIT(fi);
        c->f[fi] = &m->ptr[i].val;
    }
    return check_fields(c, seen, err);
}

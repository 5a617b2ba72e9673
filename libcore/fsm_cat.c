/* fsm_cat.c - the catalog in the state machine: its command (encode,
 * apply) and its snapshot records (write, restore).
 *
 * Layer: store (uses util, codec: jansson, msgpack, cat). Thread: loop
 * only.
 * Owns: the JSON texts of a snapshot being written (fsm_cat_dump).
 * Tests: t/unit/check_fsm.c
 *
 * Formats in fsm.c. Requests and records travel as JSON text: the
 * catalog already validates that shape field by field, and the HTTP
 * API speaks it, so no second schema lives here.
 */
#include "fsm_int.h"

#include <stdlib.h>
#include <string.h>

#include "cat.h"
#include "err.h"

static const char *const ops[FSM_CAT_NOPS] = {"register", "deregister"};

int fsm_cat_op(const msgpack_object *o)
{
    int i;

    for (i = 0; i < FSM_CAT_NOPS; i++)
        if (fsm_str_is(o, ops[i]))
            return i;
    return -1;
}

/* ---- command ---- */

struct cat_cmd {
    const char *op;
    const char *json;
};

static int emit_cat_cmd(msgpack_packer *pk, const void *arg)
{
    const struct cat_cmd *c = arg;

    return msgpack_pack_map(pk, 4) || fsm_pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, FSM_CMD_VERSION) ||
           fsm_pack_cstr(pk, "t") || fsm_pack_cstr(pk, "catalog") ||
           fsm_pack_cstr(pk, "op") || fsm_pack_cstr(pk, c->op) ||
           fsm_pack_cstr(pk, "req") || fsm_pack_cstr(pk, c->json);
}

int fsm_encode_catalog(const char *op, const json_t *req,
                       fsm_alloc_fn alloc, void **buf, size_t *len,
                       char *err)
{
    struct cat_cmd c = {op, NULL};
    char *json;
    int rc;

    if (op != NULL && strcmp(op, ops[FSM_CAT_REGISTER]) == 0)
        rc = cat_check_register(req, err);
    else if (op != NULL && strcmp(op, ops[FSM_CAT_DEREGISTER]) == 0)
        rc = cat_check_deregister(req, err);
    else
        return err_set(err, ERR_INVAL, "unknown catalog op");
    if (rc != 0)
        return rc;
    if ((json = json_dumps(req, JSON_COMPACT)) == NULL)
        return err_set(err, ERR_NOMEM, "encoding the catalog request");
    c.json = json;
    rc = fsm_pack_exact(emit_cat_cmd, &c, alloc, buf, len, err);
    free(json);
    return rc;
}

int fsm_apply_catalog(struct fsm *f, uint64_t index,
                      const struct fsm_cmd *c, bool *ok, bool *changed,
                      char *err)
{
    const msgpack_object_str *s = &c->f[F_REQ]->via.str;
    uint64_t before = cat_max_index(f->cat);
    json_error_t je;
    json_t *req;
    int rc;

    /* No NUL anywhere: records keep parts of the request (Definition)
     * and must read back from a snapshot. */
    req = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, &je);
    if (req == NULL)
        return err_set(err, ERR_INVAL, "Request decode failed: %s", je.text);
    if (fsm_cat_op(c->f[F_OP]) == FSM_CAT_REGISTER)
        rc = cat_register(f->cat, index, req, err);
    else
        rc = cat_deregister(f->cat, index, req, err);
    json_decref(req);
    *ok = rc == 0;
    *changed = cat_max_index(f->cat) != before;
    return rc;
}

/* ---- snapshot records ---- */

struct dump_rec {
    int type;        /* FSM_REC_CAT or FSM_REC_CAT_INDEX */
    int kind;        /* table or index kind */
    const char *name; /* node or service name, borrowed from the store */
    char *json;      /* record text (FSM_REC_CAT) */
    uint64_t index;  /* FSM_REC_CAT_INDEX */
};

struct fsm_cat_dump {
    struct dump_rec *v;
    size_t n, cap;
};

static int dump_add(struct fsm_cat_dump *d, const struct dump_rec *r)
{
    struct dump_rec *nv;

    if (d->n == d->cap) {
        d->cap = d->cap != 0 ? 2 * d->cap : 64;
        if ((nv = realloc(d->v, d->cap * sizeof(*nv))) == NULL)
            return -1;
        d->v = nv;
    }
    d->v[d->n++] = *r;
    return 0;
}

static int dump_rec_fn(void *ctx, enum cat_table t, const char *node,
                       const json_t *rec)
{
    struct dump_rec r = {FSM_REC_CAT, (int)t, node, NULL, 0};

    if ((r.json = json_dumps(rec, JSON_COMPACT)) == NULL)
        return -1;
    if (dump_add(ctx, &r) != 0) {
        free(r.json);
        return -1;
    }
    return 0;
}

static int dump_idx_fn(void *ctx, enum cat_index_kind k, const char *name,
                       uint64_t index)
{
    struct dump_rec r = {FSM_REC_CAT_INDEX, (int)k, name, NULL, index};

    return dump_add(ctx, &r);
}

void fsm_cat_dump_free(struct fsm_cat_dump *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        free(d->v[i].json);
    free(d->v);
    free(d);
}

int fsm_cat_dump_new(const struct cat_store *cat, struct fsm_cat_dump **out,
                     char *err)
{
    struct fsm_cat_dump *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL || cat_foreach(cat, dump_rec_fn, d) != 0 ||
        cat_foreach_index(cat, dump_idx_fn, d) != 0) {
        fsm_cat_dump_free(d);
        return err_set(err, ERR_NOMEM, "serializing the catalog");
    }
    *out = d;
    return 0;
}

static int pack_opt_str(msgpack_packer *pk, const char *s)
{
    return s != NULL ? fsm_pack_cstr(pk, s) : msgpack_pack_nil(pk);
}

int fsm_cat_emit(msgpack_packer *pk, const struct fsm_cat_dump *d,
                 uint64_t *records)
{
    const struct dump_rec *r;
    size_t i;

    for (i = 0; i < d->n; i++) {
        r = &d->v[i];
        if (msgpack_pack_array(pk, 4) ||
            msgpack_pack_uint8(pk, (uint8_t)r->type) ||
            msgpack_pack_uint8(pk, (uint8_t)r->kind) ||
            pack_opt_str(pk, r->name) ||
            (r->type == FSM_REC_CAT ? fsm_pack_cstr(pk, r->json)
                                    : msgpack_pack_uint64(pk, r->index)))
            return -1;
    }
    *records += d->n;
    return 0;
}

/* ---- restore ---- */

/* A str that may be nil, as a new C string (NULL for nil). */
static int opt_cstr(const msgpack_object *o, char **out, char *err)
{
    const msgpack_object_str *s = &o->via.str;

    *out = NULL;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR)
        return err_set(err, ERR_PARSE, "catalog name is not a string");
    if (s->size == 0 || memchr(s->ptr, '\0', s->size) != NULL)
        return err_set(err, ERR_PARSE, "empty or NUL catalog name");
    if ((*out = strndup(s->ptr, s->size)) == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    return 0;
}

static int restore_rec(struct cat_store *cat, const msgpack_object *a,
                       const char *name, char *err)
{
    const msgpack_object_str *s = &a[3].via.str;
    json_error_t je;
    json_t *rec;
    int rc;

    if (a[1].via.u64 >= CAT_NTABLES)
        return err_set(err, ERR_PARSE, "unknown catalog table %llu",
                       (unsigned long long)a[1].via.u64);
    if ((a[1].via.u64 == CAT_NODES) != (name == NULL))
        return err_set(err, ERR_PARSE, "catalog record with%s a node name",
                       name != NULL ? "" : "out");
    if (a[3].type != MSGPACK_OBJECT_STR)
        return err_set(err, ERR_PARSE, "catalog record is not a string");
    rec = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, &je);
    if (rec == NULL)
        return err_set(err, ERR_PARSE, "catalog record: %s", je.text);
    rc = cat_restore_record(cat, (enum cat_table)a[1].via.u64, name, rec,
                            err);
    json_decref(rec);
    return rc;
}

int fsm_cat_restore(struct cat_store *cat, const msgpack_object *a,
                    uint32_t n, bool *indexes_begun, char *err)
{
    char *name = NULL;
    int rc;

    if (n != 4)
        return err_set(err, ERR_PARSE, "type %llu record has %u fields",
                       (unsigned long long)a[0].via.u64, (unsigned)n);
    if (!fsm_is_uint(&a[1]))
        return err_set(err, ERR_PARSE, "catalog kind is not a uint");
    if ((rc = opt_cstr(&a[2], &name, err)) != 0)
        return rc;
    if (a[0].via.u64 == FSM_REC_CAT && *indexes_begun)
        rc = err_set(err, ERR_PARSE, "catalog record after its indexes");
    else if (a[0].via.u64 == FSM_REC_CAT)
        rc = restore_rec(cat, a, name, err);
    else if (!fsm_is_uint(&a[3]) || a[1].via.u64 >= CAT_IDX_COUNT)
        rc = err_set(err, ERR_PARSE, "malformed catalog index");
    else
        rc = cat_restore_index(cat, (enum cat_index_kind)a[1].via.u64, name,
                               a[3].via.u64, err);
    if (a[0].via.u64 == FSM_REC_CAT_INDEX)
        *indexes_begun = true;
    free(name);
    return rc == ERR_NOMEM || rc == 0 ? rc : ERR_PARSE;
}

/* fsm_acl.c - the ACL state in the state machine: its command (encode,
 * apply) and its snapshot records (write, restore).
 *
 * Layer: store (uses util, codec: jansson, msgpack, acl). Thread: loop
 * only.
 * Owns: the JSON texts of a snapshot being written (fsm_acl_dump).
 * Tests: t/unit/check_fsm.c
 *
 * Formats in fsm.c. As for the catalog, requests and records travel as
 * JSON text: the ACL store validates that shape field by field, so no
 * second schema lives here. Record texts hold SecretIDs and the cluster
 * secret: they are wiped before they are freed, and a JSON error is
 * reported by position only (jansson's text quotes the input).
 */
#include "fsm_int.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"

static const char *const ops[] = {
    "token-set", "token-delete", "policy-set", "policy-delete",
    "role-set",  "role-delete",  "bootstrap",  "init",
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

int fsm_acl_op(const msgpack_object *o)
{
    size_t i;

    for (i = 0; i < NOPS; i++)
        if (fsm_str_is(o, ops[i]))
            return (int)i;
    return -1;
}

/* ---- command ---- */

struct acl_cmd {
    const char *op;
    const char *json;
};

static int emit_acl_cmd(msgpack_packer *pk, const void *arg)
{
    const struct acl_cmd *c = arg;

    return msgpack_pack_map(pk, 4) || fsm_pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, FSM_CMD_VERSION) ||
           fsm_pack_cstr(pk, "t") || fsm_pack_cstr(pk, "acl") ||
           fsm_pack_cstr(pk, "op") || fsm_pack_cstr(pk, c->op) ||
           fsm_pack_cstr(pk, "req") || fsm_pack_cstr(pk, c->json);
}

static void free_secret_text(char *s)
{
    if (s != NULL)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int fsm_encode_acl(const char *op, const json_t *req, fsm_alloc_fn alloc,
                   void **buf, size_t *len, char *err)
{
    struct acl_cmd c = {op, NULL};
    char *json;
    int rc;

    if ((rc = acl_store_check(op, req, err)) != 0)
        return rc;
    if ((json = json_dumps(req, JSON_COMPACT)) == NULL)
        return err_set(err, ERR_NOMEM, "encoding the acl request");
    c.json = json;
    rc = fsm_pack_exact(emit_acl_cmd, &c, alloc, buf, len, err);
    free_secret_text(json);
    return rc;
}

int fsm_apply_acl(struct fsm *f, uint64_t index, const struct fsm_cmd *c,
                  bool *ok, bool *changed, char *err)
{
    const msgpack_object_str *s = &c->f[F_REQ]->via.str;
    const char *op = ops[fsm_acl_op(c->f[F_OP])];
    json_error_t je;
    json_t *req;
    int rc;

    req = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, &je);
    if (req == NULL)
        return err_set(err, ERR_INVAL, "Request decode failed: invalid "
                       "JSON at byte %d", je.position);
    rc = acl_store_apply(f->acl, index, op, req, changed, err);
    json_decref(req);
    *ok = rc == 0;
    return rc;
}

/* ---- snapshot records ---- */

struct fsm_acl_dump {
    char **v;
    size_t n, cap;
};

static int dump_fn(void *ctx, const json_t *rec)
{
    struct fsm_acl_dump *d = ctx;
    char **nv, *text;

    if (d->n == d->cap) {
        d->cap = d->cap != 0 ? 2 * d->cap : 64;
        if ((nv = realloc(d->v, d->cap * sizeof(*nv))) == NULL)
            return -1;
        d->v = nv;
    }
    if ((text = json_dumps(rec, JSON_COMPACT)) == NULL)
        return -1;
    d->v[d->n++] = text;
    return 0;
}

void fsm_acl_dump_free(struct fsm_acl_dump *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        free_secret_text(d->v[i]);
    free(d->v);
    free(d);
}

int fsm_acl_dump_new(const struct acl_store *acl, struct fsm_acl_dump **out,
                     char *err)
{
    struct fsm_acl_dump *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL || acl_store_foreach(acl, dump_fn, d) != 0) {
        fsm_acl_dump_free(d);
        return err_set(err, ERR_NOMEM, "serializing the ACL state");
    }
    *out = d;
    return 0;
}

int fsm_acl_emit(msgpack_packer *pk, const struct fsm_acl_dump *d,
                 uint64_t *records)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        if (msgpack_pack_array(pk, 2) ||
            msgpack_pack_uint8(pk, FSM_REC_ACL) ||
            fsm_pack_cstr(pk, d->v[i]))
            return -1;
    *records += d->n;
    return 0;
}

int fsm_acl_restore(struct acl_store *acl, const msgpack_object *a,
                    uint32_t n, char *err)
{
    const msgpack_object_str *s = &a[1].via.str;
    json_error_t je;
    json_t *rec;
    int rc;

    if (n != 2)
        return err_set(err, ERR_PARSE, "type %d record has %u fields",
                       FSM_REC_ACL, (unsigned)n);
    if (a[1].type != MSGPACK_OBJECT_STR)
        return err_set(err, ERR_PARSE, "acl record is not a string");
    rec = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, &je);
    if (rec == NULL)
        return err_set(err, ERR_PARSE, "acl record: invalid JSON at byte "
                       "%d", je.position);
    if (!json_is_object(rec))
        rc = err_set(err, ERR_PARSE, "acl record is not an object");
    else
        rc = acl_store_restore_record(acl, rec, err);
    json_decref(rec);
    return rc == ERR_NOMEM || rc == 0 ? rc : ERR_PARSE;
}

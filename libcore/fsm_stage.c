/* fsm_stage.c - a snapshot restore replicated through Raft: the state
 * stream (state.bin) travels in pieces, each server stages it, and a
 * commit swaps it in whole (fsm_restore) once its size and SHA-256
 * match; anything else leaves the running state as it was.
 *
 * Layer: store (uses util, msgpack, OpenSSL). Thread: loop only.
 * Owns: the staging buffer (struct fsm_stage) between begin and
 * commit/abort.
 * Tests: t/unit/check_fsm.c, t/t5002-snapshot-cluster.sh
 *
 * Command table "restore" (format in fsm.c): op "begin" with req
 * {"ID","Size","SHA256"}, "chunk" with req {"ID","Offset"} and the bytes
 * in "val", "commit" and "abort" with req {"ID"}. A begin replaces any
 * restore still staged (its leader died). While one is staged the FSM
 * refuses to be snapshotted (ERR_CONFLICT): a Raft snapshot taken then
 * would lose the staged pieces on a server that installs it.
 */
#include "fsm_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct fsm_stage {
    char id[FSM_RESTORE_ID_MAX + 1];
    unsigned char sha[32];
    char *buf;
    uint64_t size, len;
};

static const char *const ops[] = {"begin", "chunk", "commit", "abort"};
enum { OP_BEGIN, OP_CHUNK, OP_COMMIT, OP_ABORT, NOPS };

int fsm_stage_op(const msgpack_object *o)
{
    for (int i = 0; i < NOPS; i++)
        if (fsm_str_is(o, ops[i]))
            return i;
    return -1;
}

void fsm_stage_free(struct fsm *f)
{
    if (f->stage == NULL)
        return;
    free(f->stage->buf);
    free(f->stage);
    f->stage = NULL;
}

bool fsm_restore_pending(const struct fsm *f)
{
    return f->stage != NULL;
}

const char *fsm_restore_staged(const struct fsm *f, uint64_t *received)
{
    if (f->stage == NULL)
        return NULL;
    *received = f->stage->len;
    return f->stage->id;
}

/* ---- encoding ---- */

struct stage_cmd {
    const char *op;
    const char *req;
    const void *val;
    size_t n;
};

static int emit_stage_cmd(msgpack_packer *pk, const void *arg)
{
    const struct stage_cmd *c = arg;

    return msgpack_pack_map(pk, c->val != NULL ? 5 : 4) ||
           fsm_pack_cstr(pk, "v") ||
           msgpack_pack_uint64(pk, FSM_CMD_VERSION) ||
           fsm_pack_cstr(pk, "t") || fsm_pack_cstr(pk, "restore") ||
           fsm_pack_cstr(pk, "op") || fsm_pack_cstr(pk, c->op) ||
           fsm_pack_cstr(pk, "req") || fsm_pack_cstr(pk, c->req) ||
           (c->val != NULL &&
            (fsm_pack_cstr(pk, "val") ||
             msgpack_pack_bin_with_body(pk, c->val, c->n)));
}

static bool id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n > FSM_RESTORE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
              (id[i] >= 'a' && id[i] <= 'z')))
            return false;
    return true;
}

int fsm_encode_restore(const char *op, const char *id, uint64_t num,
                       const char *sha_hex, const void *p, size_t n,
                       fsm_alloc_fn alloc, void **buf, size_t *len,
                       char *err)
{
    struct stage_cmd c = {op, NULL, NULL, 0};
    char req[256];
    int rc;

    if (!id_ok(id))
        return err_set(err, ERR_INVAL, "bad restore id");
    if (strcmp(op, "begin") == 0) {
        if (sha_hex == NULL || strlen(sha_hex) != 64)
            return err_set(err, ERR_INVAL, "bad restore hash");
        snprintf(req, sizeof(req), "{\"ID\":\"%s\",\"Size\":%llu,"
                 "\"SHA256\":\"%s\"}", id, (unsigned long long)num, sha_hex);
    } else if (strcmp(op, "chunk") == 0) {
        if (p == NULL || n == 0 || n > FSM_RESTORE_CHUNK)
            return err_set(err, ERR_INVAL, "bad restore chunk");
        snprintf(req, sizeof(req), "{\"ID\":\"%s\",\"Offset\":%llu}", id,
                 (unsigned long long)num);
        c.val = p;
        c.n = n;
    } else if (strcmp(op, "commit") == 0 || strcmp(op, "abort") == 0) {
        snprintf(req, sizeof(req), "{\"ID\":\"%s\"}", id);
    } else {
        return err_set(err, ERR_INVAL, "unknown restore op");
    }
    c.req = req;
    rc = fsm_pack_exact(emit_stage_cmd, &c, alloc, buf, len, err);
    return rc;
}

/* ---- apply ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static int parse_req(const struct fsm_cmd *c, json_t **req, char *id,
                     char *err)
{
    const msgpack_object_str *s = &c->f[F_REQ]->via.str;
    const char *v;

    *req = json_loadb(s->ptr, s->size, JSON_REJECT_DUPLICATES, NULL);
    v = json_string_value(json_object_get(*req, "ID"));
    if (*req == NULL || !id_ok(v)) {
        json_decref(*req);
        return err_set(err, ERR_INVAL, "bad restore request");
    }
    snprintf(id, FSM_RESTORE_ID_MAX + 1, "%s", v);
    return 0;
}

static int begin(struct fsm *f, const json_t *req, const char *id,
                 char *err)
{
    const char *hex = json_string_value(json_object_get(req, "SHA256"));
    json_int_t size = json_integer_value(json_object_get(req, "Size"));
    struct fsm_stage *st;

    if (hex == NULL || strlen(hex) != 64 || size < 0 ||
        (uint64_t)size > FSM_RESTORE_MAX)
        return err_set(err, ERR_INVAL, "bad restore request");
    fsm_stage_free(f);
    if ((st = calloc(1, sizeof(*st))) == NULL ||
        (st->buf = malloc(size > 0 ? (size_t)size : 1)) == NULL) {
        free(st);
        return err_set(err, ERR_NOMEM, "staging a %lld-byte restore",
                       (long long)size);
    }
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            free(st->buf);
            free(st);
            return err_set(err, ERR_INVAL, "bad restore hash");
        }
        st->sha[i] = (unsigned char)(hi * 16 + lo);
    }
    snprintf(st->id, sizeof(st->id), "%s", id);
    st->size = (uint64_t)size;
    f->stage = st;
    return 0;
}

static int chunk(struct fsm *f, const struct fsm_cmd *c, const json_t *req,
                 char *err)
{
    struct fsm_stage *st = f->stage;
    json_int_t off = json_integer_value(json_object_get(req, "Offset"));
    const msgpack_object *val = c->f[F_VAL];
    uint32_t n = val != NULL ? val->via.bin.size : 0;

    if (off < 0 || (uint64_t)off != st->len || n == 0 ||
        st->len + n > st->size)
        return err_set(err, ERR_INVAL, "restore piece out of place");
    memcpy(st->buf + st->len, val->via.bin.ptr, n);
    st->len += n;
    return 0;
}

static int commit(struct fsm *f, char *err)
{
    struct fsm_stage *st = f->stage;
    unsigned char md[32];
    unsigned int mdlen = 0;

    if (st->len != st->size)
        return err_set(err, ERR_INVAL, "restore incomplete: %llu of %llu "
                       "bytes", (unsigned long long)st->len,
                       (unsigned long long)st->size);
    if (EVP_Digest(st->buf, st->len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32 || CRYPTO_memcmp(md, st->sha, 32) != 0)
        return err_set(err, ERR_INVAL, "restored state does not match its "
                       "hash");
    return fsm_restore(f, st->buf, st->len, err);
}

int fsm_apply_stage(struct fsm *f, const struct fsm_cmd *c, bool *ok,
                    char *err)
{
    int op = fsm_stage_op(c->f[F_OP]), rc;
    char id[FSM_RESTORE_ID_MAX + 1];
    json_t *req;

    if ((rc = parse_req(c, &req, id, err)) != 0)
        return rc;
    if (op == OP_BEGIN) {
        rc = begin(f, req, id, err);
    } else if (f->stage == NULL || strcmp(f->stage->id, id) != 0) {
        rc = op == OP_ABORT ? 0 : err_set(err, ERR_INVAL, "no restore %s "
                                          "in progress", id);
    } else if (op == OP_CHUNK) {
        rc = chunk(f, c, req, err);
    } else {
        rc = op == OP_COMMIT ? commit(f, err) : 0;
        fsm_stage_free(f);
    }
    if (rc != 0 && op == OP_CHUNK)
        fsm_stage_free(f); /* a hole can never be filled: give up */
    json_decref(req);
    *ok = rc == 0;
    return rc;
}

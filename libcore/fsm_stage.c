/* fsm_stage.c - a snapshot restore replicated through Raft: the state
 * stream (state.bin) travels in pieces, each server stages it, and a
 * commit swaps it in whole (fsm_restore) once its size and SHA-256
 * match; anything else leaves the running state as it was.
 *
 * Layer: store (uses util, msgpack, OpenSSL). Thread: loop only.
 * Owns: the staging file (struct fsm_stage) between begin and
 * commit/abort: an unlinked file in f->tmp_dir, its space reserved at
 * the begin, hashed as the pieces arrive; the commit maps it read-only
 * for fsm_restore, so the stream never sits in memory.
 *
 * Results must be the same on every server. A piece out of place, a
 * wrong size or hash is (same bytes everywhere). A file that cannot be
 * written is not: the stage stays, marked broken, and its pieces fail;
 * on the leader that makes the restore abort for everyone, on a
 * follower the commit can then not be applied here, which is reported
 * as on_change(ctx, "fatal") rather than letting this server's state
 * silently part from the others.
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

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util_fs.h"
#include "util_time.h"

struct fsm_stage {
    char id[FSM_RESTORE_ID_MAX + 1];
    unsigned char sha[32];
    int fd;
    EVP_MD_CTX *md;
    uint64_t size, len;
    char broken[ERR_LEN];  /* why this server cannot stage it ("": ok) */
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
    if (f->stage->fd >= 0)
        close(f->stage->fd);
    EVP_MD_CTX_free(f->stage->md);
    free(f->stage);
    f->stage = NULL;
}

bool fsm_restore_pending(const struct fsm *f)
{
    return f->stage != NULL;
}

bool fsm_restore_complete(const struct fsm *f)
{
    return f->stage != NULL && f->stage->len == f->stage->size &&
           f->stage->broken[0] == '\0';
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

static int parse_sha(const char *hex, unsigned char *sha)
{
    for (int i = 0; i < 32; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        sha[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

/* The file for st->size bytes, its space reserved; else st->broken. */
static void open_file(struct fsm *f, struct fsm_stage *st)
{
    char err[ERR_LEN];
    int rc;

    st->fd = util_tmpfile(f->tmp_dir, err);
    if (st->fd < 0) {
        snprintf(st->broken, sizeof(st->broken), "%s", err);
        return;
    }
    rc = st->size > 0 ? posix_fallocate(st->fd, 0, (off_t)st->size) : 0;
    if (rc != 0) {
        snprintf(st->broken, sizeof(st->broken), "no room for a %llu-byte "
                 "restore in '%s': %s", (unsigned long long)st->size,
                 f->tmp_dir != NULL ? f->tmp_dir : "/tmp", strerror(rc));
        close(st->fd);
        st->fd = -1;
    }
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
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return err_set(err, ERR_NOMEM, "staging a restore");
    st->fd = -1;
    if (parse_sha(hex, st->sha) != 0) {
        free(st);
        return err_set(err, ERR_INVAL, "bad restore hash");
    }
    snprintf(st->id, sizeof(st->id), "%s", id);
    st->size = (uint64_t)size;
    f->stage = st;
    if ((st->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1)
        snprintf(st->broken, sizeof(st->broken), "out of memory");
    else
        open_file(f, st);
    if (st->broken[0] != '\0') {
        LOG_ERROR("fsm", "cannot stage restore %s: %s", id, st->broken);
        return err_set(err, ERR_IO, "%s", st->broken);
    }
    return 0;
}

static int chunk(struct fsm *f, const struct fsm_cmd *c, const json_t *req,
                 char *err)
{
    struct fsm_stage *st = f->stage;
    json_int_t off = json_integer_value(json_object_get(req, "Offset"));
    const msgpack_object *val = c->f[F_VAL];
    uint32_t n = val != NULL ? val->via.bin.size : 0;
    int e;

    if (off < 0 || (uint64_t)off != st->len || n == 0 ||
        st->len + n > st->size)
        return err_set(err, ERR_INVAL, "restore piece out of place");
    st->len += n; /* counted even when broken: the check above must
                   * answer as on the other servers */
    if (st->broken[0] != '\0')
        return err_set(err, ERR_IO, "%s", st->broken);
    e = util_pwrite_all(st->fd, val->via.bin.ptr, n, (uint64_t)off);
    if (e != 0 || EVP_DigestUpdate(st->md, val->via.bin.ptr, n) != 1) {
        snprintf(st->broken, sizeof(st->broken), "writing restore %s: %s",
                 st->id, e != 0 ? strerror(e) : "hash failed");
        LOG_ERROR("fsm", "%s", st->broken);
        return err_set(err, ERR_IO, "%s", st->broken);
    }
    return 0;
}

/* The staged stream, checked and swapped in. *fatal when this server
 * cannot follow a restore the others apply. */
static int commit(struct fsm *f, bool *fatal, char *err)
{
    struct fsm_stage *st = f->stage;
    unsigned char md[32];
    unsigned int mdlen = 0;
    const void *p;
    int64_t t0;
    int rc;

    if (st->len != st->size)
        return err_set(err, ERR_INVAL, "restore incomplete: %llu of %llu "
                       "bytes", (unsigned long long)st->len,
                       (unsigned long long)st->size);
    if (st->broken[0] != '\0') {
        *fatal = true;
        return err_set(err, ERR_IO, "restore %s was committed but could "
                       "not be staged here: %s", st->id, st->broken);
    }
    if (EVP_DigestFinal_ex(st->md, md, &mdlen) != 1 || mdlen != 32 ||
        CRYPTO_memcmp(md, st->sha, 32) != 0)
        return err_set(err, ERR_INVAL, "restored state does not match its "
                       "hash");
    if ((rc = util_map(st->fd, (size_t)st->size, &p, err)) != 0) {
        *fatal = true;
        return rc;
    }
    t0 = util_now_ns();
    rc = fsm_restore(f, p, (size_t)st->size, err);
    util_unmap(p, (size_t)st->size);
    if (rc == 0)
        LOG_INFO("fsm", "restore %s: swapped in %llu bytes of state in "
                 "%lld ms", st->id, (unsigned long long)st->size,
                 (long long)((util_now_ns() - t0) / 1000000));
    return rc;
}

int fsm_apply_stage(struct fsm *f, const struct fsm_cmd *c, bool *ok,
                    char *err)
{
    int op = fsm_stage_op(c->f[F_OP]), rc;
    char id[FSM_RESTORE_ID_MAX + 1];
    bool fatal = false;
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
        rc = op == OP_COMMIT ? commit(f, &fatal, err) : 0;
        fsm_stage_free(f);
    }
    if (rc == ERR_INVAL && op == OP_CHUNK)
        fsm_stage_free(f); /* a hole can never be filled: give up */
    if (fatal) {
        LOG_ERROR("fsm", "%s: this server's state no longer follows the "
                  "log; it stops (free room in '%s' and start it again)",
                  err, f->tmp_dir != NULL ? f->tmp_dir : "/tmp");
        if (f->on_change != NULL)
            f->on_change(f->ctx, "fatal", f->last_index);
    }
    json_decref(req);
    *ok = rc == 0;
    return rc;
}

/* fsm_snap.c - the state machine's snapshot: one msgpack stream of
 * the whole state, written in one buffer or streamed.
 *
 * Layer: store (uses util, msgpack, kv, cat, acl). Thread: loop only.
 * Owns: what a restore builds until it is swapped in.
 * Tests: t/unit/check_fsm.c
 *
 * The format is documented in fsm.c; fsm_restore.c reads it back.
 */
#include "fsm_int.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cat.h"
#include "err.h"
#include "kv.h"
#include "sess.h"

struct emitter {
    msgpack_packer *pk;
    uint64_t records;
};

static int emit_entry(void *ctx, const struct kv_entry *e)
{
    struct emitter *em = ctx;
    msgpack_packer *pk = em->pk;

    em->records++;
    return msgpack_pack_array(pk, 8) || msgpack_pack_uint8(pk, FSM_REC_ENTRY) ||
           fsm_pack_cstr(pk, e->key) ||
           (e->val != NULL ? msgpack_pack_bin_with_body(pk, e->val, e->len)
                           : msgpack_pack_nil(pk)) ||
           msgpack_pack_uint64(pk, e->flags) ||
           msgpack_pack_uint64(pk, e->create_index) ||
           msgpack_pack_uint64(pk, e->modify_index) ||
           msgpack_pack_uint64(pk, e->lock_index) ||
           (e->session != NULL ? fsm_pack_cstr(pk, e->session)
                               : msgpack_pack_nil(pk));
}

static int emit_tomb(void *ctx, const char *key, uint64_t index)
{
    struct emitter *em = ctx;

    em->records++;
    return msgpack_pack_array(em->pk, 3) ||
           msgpack_pack_uint8(em->pk, FSM_REC_TOMB) ||
           fsm_pack_cstr(em->pk, key) ||
           msgpack_pack_uint64(em->pk, index);
}

static int emit_autopilot(msgpack_packer *pk, const struct fsm_autopilot *ap)
{
    int64_t v[4];
    int i, rc;

    fsm_ap_numbers(ap, v);
    rc = msgpack_pack_array(pk, 8) ||
         msgpack_pack_uint8(pk, FSM_REC_AUTOPILOT) ||
         (ap->cleanup_dead_servers ? msgpack_pack_true(pk)
                                   : msgpack_pack_false(pk));
    for (i = 0; i < 4 && rc == 0; i++)
        rc = msgpack_pack_uint64(pk, (uint64_t)v[i]);
    return rc || msgpack_pack_uint64(pk, ap->create_index) ||
           msgpack_pack_uint64(pk, ap->modify_index);
}

static int emit_header(msgpack_packer *pk, const struct fsm *f)
{
    return msgpack_pack_map(pk, 4) || fsm_pack_cstr(pk, "format") ||
           fsm_pack_cstr(pk, FSM_SNAP_FORMAT) || fsm_pack_cstr(pk, "version") ||
           msgpack_pack_uint64(pk, FSM_SNAP_VERSION) ||
           fsm_pack_cstr(pk, "last_index") ||
           msgpack_pack_uint64(pk, f->last_index) ||
           fsm_pack_cstr(pk, "kv_table_index") ||
           msgpack_pack_uint64(pk, kv_table_index(f->kv));
}

struct snap_arg {
    const struct fsm *f;
    const struct fsm_cat_dump *cat;
    const struct fsm_acl_dump *acl;
    const struct fsm_sess_dump *sess;
};

/* The whole stream as one walk that emits records; a streaming writer
 * only needs a packer whose callback writes out chunks. */
static int emit_snapshot(msgpack_packer *pk, const void *arg)
{
    const struct snap_arg *a = arg;
    const struct fsm *f = a->f;
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
    if (fsm_cat_emit(pk, a->cat, &em.records) != 0 ||
        fsm_acl_emit(pk, a->acl, &em.records) != 0 ||
        fsm_sess_emit(pk, a->sess, sess_table_index(f->sess),
                      &em.records) != 0)
        return -1;
    return msgpack_pack_array(pk, 2) || msgpack_pack_uint8(pk, FSM_REC_END) ||
           msgpack_pack_uint64(pk, em.records);
}

int fsm_snapshot(const struct fsm *f, fsm_alloc_fn alloc, void **buf,
                 size_t *len, char *err)
{
    struct snap_arg a = {f, NULL, NULL, NULL};
    struct fsm_cat_dump *d = NULL;
    struct fsm_acl_dump *ad = NULL;
    struct fsm_sess_dump *sd = NULL;
    int rc;

    if (fsm_restore_pending(f))
        return err_set(err, ERR_CONFLICT, "a restore is being staged");
    rc = fsm_cat_dump_new(f->cat, &d, err);
    if (rc == 0 && (rc = fsm_acl_dump_new(f->acl, &ad, err)) == 0 &&
        (rc = fsm_sess_dump_new(f->sess, &sd, err)) == 0) {
        a.cat = d;
        a.acl = ad;
        a.sess = sd;
        rc = fsm_pack_exact(emit_snapshot, &a, alloc, buf, len, err);
    }
    fsm_sess_dump_free(sd);
    fsm_acl_dump_free(ad);
    fsm_cat_dump_free(d);
    if (rc != 0)
        err_prefix(err, "writing snapshot");
    return rc;
}

/* ---- streaming ---- */

#define STREAM_CHUNK (64 * 1024)

struct stream {
    fsm_out_fn out;
    void *ctx;
    uint64_t n;         /* bytes counted or written */
    bool counting;
    bool failed;
    size_t used;
    char buf[STREAM_CHUNK];
};

static int stream_flush(struct stream *s)
{
    if (s->used > 0 && !s->failed && s->out(s->ctx, s->buf, s->used) != 0)
        s->failed = true;
    s->used = 0;
    return s->failed ? -1 : 0;
}

static int stream_write(void *data, const char *b, size_t n)
{
    struct stream *s = data;

    s->n += n;
    if (s->counting)
        return 0;
    while (n > 0) {
        size_t k = STREAM_CHUNK - s->used;

        if (k > n)
            k = n;
        memcpy(s->buf + s->used, b, k);
        s->used += k;
        b += k;
        n -= k;
        if (s->used == STREAM_CHUNK && stream_flush(s) != 0)
            return -1;
    }
    return 0;
}

int fsm_snapshot_stream(const struct fsm *f, fsm_size_fn size_fn,
                        fsm_out_fn out, void *ctx, char *err)
{
    struct snap_arg a = {f, NULL, NULL, NULL};
    struct fsm_cat_dump *d = NULL;
    struct fsm_acl_dump *ad = NULL;
    struct fsm_sess_dump *sd = NULL;
    struct stream *s = calloc(1, sizeof(*s));
    msgpack_packer pk;
    int rc = s == NULL ? err_set(err, ERR_NOMEM, "out of memory") : 0;

    if (rc == 0 && (rc = fsm_cat_dump_new(f->cat, &d, err)) == 0 &&
        (rc = fsm_acl_dump_new(f->acl, &ad, err)) == 0 &&
        (rc = fsm_sess_dump_new(f->sess, &sd, err)) == 0) {
        a.cat = d;
        a.acl = ad;
        a.sess = sd;
        s->out = out;
        s->ctx = ctx;
        s->counting = true;
        msgpack_packer_init(&pk, s, stream_write);
        if (size_fn == NULL)
            ; /* no counting pass */
        else if (emit_snapshot(&pk, &a) != 0)
            rc = err_set(err, ERR_INTERNAL, "msgpack encoding failed");
        else if (size_fn(ctx, s->n) != 0)
            rc = err_set(err, ERR_IO, "writing snapshot: aborted");
    }
    if (rc == 0) {
        s->counting = false;
        s->n = 0;
        if (emit_snapshot(&pk, &a) != 0 || stream_flush(s) != 0)
            rc = err_set(err, ERR_IO, "writing snapshot: aborted");
    }
    fsm_sess_dump_free(sd);
    fsm_acl_dump_free(ad);
    fsm_cat_dump_free(d);
    free(s);
    return rc;
}

uint64_t fsm_snapshot_version(void)
{
    return FSM_SNAP_VERSION;
}

/* ---- statistics (snapshot inspect) ---- */

static const char *rec_name(const msgpack_object *o)
{
    static const char *const cat_names[] = {"CatalogNode", "CatalogService",
                                            "CatalogCheck"};
    const msgpack_object *a = o->via.array.ptr;
    const char *kind;
    json_t *j;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2 ||
        !fsm_is_uint(&a[0]))
        return NULL;
    switch (a[0].via.u64) {
    case FSM_REC_ENTRY: return "KVS";
    case FSM_REC_TOMB: return "Tombstone";
    case FSM_REC_AUTOPILOT: return "Autopilot";
    case FSM_REC_CAT_INDEX: return "Index";
    case FSM_REC_SESSION: return "Session";
    case FSM_REC_SESSION_INDEX: return "Index";
    case FSM_REC_END: return "";
    case FSM_REC_CAT:
        return fsm_is_uint(&a[1]) && a[1].via.u64 < 3 ? cat_names[a[1].via.u64]
                                                     : NULL;
    case FSM_REC_ACL:
        if (a[1].type != MSGPACK_OBJECT_STR)
            return NULL;
        j = json_loadb(a[1].via.str.ptr, a[1].via.str.size, 0, NULL);
        kind = json_string_value(json_object_get(j, "Kind"));
        kind = kind == NULL ? NULL
               : strcmp(kind, "token") == 0  ? "ACLToken"
               : strcmp(kind, "policy") == 0 ? "ACLPolicy"
               : strcmp(kind, "role") == 0   ? "ACLRole"
                                             : "ACLMeta";
        json_decref(j);
        return kind;
    default: return NULL;
    }
}

static void count_rec(json_t *out, const char *name, size_t bytes)
{
    size_t i;
    json_t *e;

    json_array_foreach(out, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "Name")), name) == 0) {
            json_object_set_new(e, "Count", json_integer(
                json_integer_value(json_object_get(e, "Count")) + 1));
            json_object_set_new(e, "Size", json_integer(
                json_integer_value(json_object_get(e, "Size")) +
                (json_int_t)bytes));
            return;
        }
    }
    json_array_append_new(out, json_pack("{s:s, s:i, s:I}", "Name", name,
                                         "Count", 1, "Size",
                                         (json_int_t)bytes));
}

int fsm_snapshot_stats(const void *buf, size_t len, json_t **out,
                       char *err)
{
    struct fsm_snap_header h;
    msgpack_unpacked u;
    size_t off = 0, start;
    int rc;

    *out = json_array();
    msgpack_unpacked_init(&u);
    rc = fsm_unpack_at(&u, buf, len, &off, err);
    if (rc == 0 && (rc = fsm_check_header(&u.data, &h, err)) == 0)
        count_rec(*out, "Header", off);
    while (rc == 0 && off < len) {
        const char *name;

        start = off;
        if ((rc = fsm_unpack_at(&u, buf, len, &off, err)) != 0)
            break;
        if ((name = rec_name(&u.data)) == NULL)
            rc = err_set(err, ERR_PARSE, "unknown record at byte %zu",
                         start);
        else if (name[0] != '\0')
            count_rec(*out, name, off - start);
    }
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
        return ERR_PARSE;
    }
    return 0;
}

/* fsm_snap.c - the state machine's snapshot: one msgpack stream of
 * the whole state, and its strict restore.
 *
 * Layer: store (uses util, msgpack, kv, cat, acl). Thread: loop only.
 * Owns: what a restore builds until it is swapped in.
 * Tests: t/unit/check_fsm.c
 *
 * The format is documented in fsm.c. Restore decodes into a new
 * kv_store, cat_store, acl_store and autopilot value and swaps them in
 * only when every record checked out, so a bad snapshot leaves the
 * running state untouched.
 */
#include "fsm_int.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cat.h"
#include "err.h"
#include "kv.h"

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
        fsm_acl_emit(pk, a->acl, &em.records) != 0)
        return -1;
    return msgpack_pack_array(pk, 2) || msgpack_pack_uint8(pk, FSM_REC_END) ||
           msgpack_pack_uint64(pk, em.records);
}

int fsm_snapshot(const struct fsm *f, fsm_alloc_fn alloc, void **buf,
                 size_t *len, char *err)
{
    struct snap_arg a = {f, NULL, NULL};
    struct fsm_cat_dump *d = NULL;
    struct fsm_acl_dump *ad = NULL;
    int rc;

    if (fsm_restore_pending(f))
        return err_set(err, ERR_CONFLICT, "a restore is being staged");
    rc = fsm_cat_dump_new(f->cat, &d, err);
    if (rc == 0 && (rc = fsm_acl_dump_new(f->acl, &ad, err)) == 0) {
        a.cat = d;
        a.acl = ad;
        rc = fsm_pack_exact(emit_snapshot, &a, alloc, buf, len, err);
    }
    fsm_acl_dump_free(ad);
    fsm_cat_dump_free(d);
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
    struct cat_store *cat;
    struct acl_store *acl;
    struct fsm_autopilot ap;
    bool cat_indexes;  /* a catalog index record was seen */
    char *bufs;  /* key and session, KV_MAX_KEY + 1 bytes each */
};

/* Format and version first, so that a newer snapshot is reported as
 * such rather than as a header with unknown fields. */
static int check_header(const msgpack_object *o, struct snap_header *h,
                        char *err)
{
    const msgpack_object_map *m = &o->via.map;
    const msgpack_object *fmt, *ver, *li, *ti;

    if (o->type != MSGPACK_OBJECT_MAP)
        return err_set(err, ERR_PARSE, "header is not a map");
    fmt = fsm_map_get(m, "format");
    ver = fsm_map_get(m, "version");
    if (fmt == NULL || !fsm_str_is(fmt, FSM_SNAP_FORMAT))
        return err_set(err, ERR_PARSE, "not a %s snapshot", FSM_SNAP_FORMAT);
    if (!fsm_is_uint(ver))
        return err_set(err, ERR_PARSE, "header lacks a version");
    if (ver->via.u64 < 1 || ver->via.u64 > FSM_SNAP_VERSION)
        return err_set(err, ERR_PARSE, "unsupported snapshot version %llu",
                       (unsigned long long)ver->via.u64);
    li = fsm_map_get(m, "last_index");
    ti = fsm_map_get(m, "kv_table_index");
    if (m->size != 4 || !fsm_is_uint(li) || !fsm_is_uint(ti))
        return err_set(err, ERR_PARSE, "malformed version %d header",
                       FSM_SNAP_VERSION);
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
        if (!fsm_is_uint(&a[i]))
            return err_set(err, ERR_PARSE, "entry field %d is not a uint",
                           i);
    if (v->type != MSGPACK_OBJECT_BIN && v->type != MSGPACK_OBJECT_NIL)
        return err_set(err, ERR_PARSE, "entry value is not bin or nil");
    if ((rc = fsm_to_cstr(&a[1], key, KV_MAX_KEY, "key", err)) != 0)
        return rc;
    if (s->type != MSGPACK_OBJECT_NIL &&
        (rc = fsm_to_cstr(s, sess, KV_MAX_KEY, "session", err)) != 0)
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

    if (!fsm_is_uint(&a[2]))
        return err_set(err, ERR_PARSE, "tombstone index is not a uint");
    if ((rc = fsm_to_cstr(&a[1], key, KV_MAX_KEY, "key", err)) != 0)
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
        if (!fsm_is_uint(&a[i]) || (i < 6 && a[i].via.u64 > INT64_MAX))
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
    if (fsm_check_autopilot(&ap, err) != 0)
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
        !fsm_is_uint(&o->via.array.ptr[0]))
        return err_set(err, ERR_PARSE, "not a typed record");
    a = o->via.array.ptr;
    type = a[0].via.u64;
    if (type >= FSM_REC_COUNT)
        return err_set(err, ERR_PARSE, "unknown record type %llu",
                       (unsigned long long)type);
    if (type == FSM_REC_CAT || type == FSM_REC_CAT_INDEX)
        return fsm_cat_restore(r->cat, a, o->via.array.size,
                               &r->cat_indexes, err);
    if (type == FSM_REC_ACL)
        return fsm_acl_restore(r->acl, a, o->via.array.size, err);
    if (o->via.array.size != sizes[type])
        return err_set(err, ERR_PARSE, "type %llu record has %u fields",
                       (unsigned long long)type,
                       (unsigned)o->via.array.size);
    if (type == FSM_REC_ENTRY)
        return restore_entry(r->st, a, r->bufs, r->bufs + KV_MAX_KEY + 1,
                             err);
    if (type == FSM_REC_TOMB)
        return restore_tomb(r->st, a, r->bufs, err);
    if (type == FSM_REC_AUTOPILOT)
        return restore_autopilot(&r->ap, a, err);
    if (!fsm_is_uint(&a[1]) || a[1].via.u64 != count)
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
        if ((rc = fsm_unpack_at(&u, buf, len, &off, err)) != 0 ||
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
    rc = fsm_unpack_at(&u, buf, len, &off, err);
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

static void restore_free(struct restore *r)
{
    kv_free(r->st);
    cat_free(r->cat);
    acl_store_free(r->acl);
}

/* Has the ACL state anything to report a change of? */
static bool acl_any(const struct acl_store *acl)
{
    return acl_store_max_index(acl) != 0 || acl_store_secret(acl) != NULL;
}

int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err)
{
    struct restore r;
    struct snap_header h = {0, 0, 0};
    bool had_autopilot = f->autopilot.set;
    bool had_catalog = cat_max_index(f->cat) != 0;
    bool had_acl = acl_any(f->acl);
    int rc;

    memset(&r, 0, sizeof(r));
    r.st = kv_new();
    r.cat = cat_new(cat_datacenter(f->cat));
    r.acl = acl_store_new();
    if (r.st == NULL || r.cat == NULL || r.acl == NULL) {
        restore_free(&r);
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    }
    rc = decode_snapshot(&r, buf, len, &h, err);
    if (rc != 0) {
        restore_free(&r);
        err_prefix(err, "restoring snapshot");
        return rc == ERR_NOMEM ? rc : ERR_PARSE;
    }
    kv_free(f->kv);
    f->kv = r.st;
    cat_free(f->cat);
    f->cat = r.cat;
    acl_store_free(f->acl);
    f->acl = r.acl;
    f->autopilot = r.ap;
    f->last_index = h.last_index;
    if (f->on_change != NULL) {
        f->on_change(f->ctx, "kv", h.last_index);
        if (had_autopilot || r.ap.set)
            f->on_change(f->ctx, "autopilot", h.last_index);
        if (had_catalog || cat_max_index(f->cat) != 0)
            f->on_change(f->ctx, "catalog", h.last_index);
        if (had_acl || acl_any(f->acl))
            f->on_change(f->ctx, "acl", h.last_index);
    }
    return 0;
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
    struct snap_arg a = {f, NULL, NULL};
    struct fsm_cat_dump *d = NULL;
    struct fsm_acl_dump *ad = NULL;
    struct stream *s = calloc(1, sizeof(*s));
    msgpack_packer pk;
    int rc = s == NULL ? err_set(err, ERR_NOMEM, "out of memory") : 0;

    if (rc == 0 && (rc = fsm_cat_dump_new(f->cat, &d, err)) == 0 &&
        (rc = fsm_acl_dump_new(f->acl, &ad, err)) == 0) {
        a.cat = d;
        a.acl = ad;
        s->out = out;
        s->ctx = ctx;
        s->counting = true;
        msgpack_packer_init(&pk, s, stream_write);
        if (emit_snapshot(&pk, &a) != 0)
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
    struct snap_header h;
    msgpack_unpacked u;
    size_t off = 0, start;
    int rc;

    *out = json_array();
    msgpack_unpacked_init(&u);
    rc = fsm_unpack_at(&u, buf, len, &off, err);
    if (rc == 0 && (rc = check_header(&u.data, &h, err)) == 0)
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

/* fsm_restore.c - replace the whole state with a snapshot stream
 * (format in fsm.c), strictly: every record is checked, and a stream
 * that fails anywhere leaves the running state as it was.
 *
 * Layer: store (uses util, msgpack, kv, cat, acl, sess). Thread: loop only.
 * Owns: what a restore builds until it is swapped in, and the backup of
 * the old state while it runs.
 * Tests: t/unit/check_fsm.c
 *
 * One copy of the state in memory: before decoding, the running state
 * is streamed to an unlinked backup file in f->tmp_dir and freed; the
 * new state is decoded in its place. If the new stream turns out bad,
 * the partial state is freed and the old one decoded back from the
 * backup (our own stream: it cannot fail but for memory). When the
 * backup cannot be written (no space), the restore decodes beside the
 * running state and swaps at the end instead (two copies, same result).
 * The stream is read from buf, which may be a file mapping (fsm_stage.c
 * maps the staged file): it is only read, in order.
 */
#include "fsm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "cat.h"
#include "err.h"
#include "kv.h"
#include "sess.h"
#include "log.h"
#include "util_fs.h"

/* What a restore builds before it is swapped in. */
struct restore {
    struct kv_store *st;
    struct cat_store *cat;
    struct acl_store *acl;
    struct sess_store *sess;
    struct fsm_autopilot ap;
    bool cat_indexes;  /* a catalog index record was seen */
    bool sess_index;   /* the session index record was seen */
    char *bufs;  /* key and session, KV_MAX_KEY + 1 bytes each */
};

/* Format and version first, so that a newer snapshot is reported as
 * such rather than as a header with unknown fields. */
int fsm_check_header(const msgpack_object *o, struct fsm_snap_header *h,
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
    if (type == FSM_REC_SESSION || type == FSM_REC_SESSION_INDEX)
        return fsm_sess_restore(r->sess, a, o->via.array.size,
                                &r->sess_index, err);
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
                           struct fsm_snap_header *h, char *err)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc;

    msgpack_unpacked_init(&u);
    rc = fsm_unpack_at(&u, buf, len, &off, err);
    if (rc == 0)
        rc = fsm_check_header(&u.data, h, err);
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
    sess_free(r->sess);
    memset(r, 0, sizeof(*r));
}

/* Decode buf into new stores (r); nothing is left in r on failure. */
static int decode_new(struct restore *r, const char *dc, const void *buf,
                      size_t len, struct fsm_snap_header *h, char *err)
{
    int rc;

    memset(r, 0, sizeof(*r));
    r->st = kv_new();
    r->cat = cat_new(dc);
    r->acl = acl_store_new();
    r->sess = sess_new();
    if (r->st == NULL || r->cat == NULL || r->acl == NULL ||
        r->sess == NULL) {
        restore_free(r);
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    }
    rc = decode_snapshot(r, buf, len, h, err);
    if (rc != 0) {
        restore_free(r);
        err_prefix(err, "restoring snapshot");
        return rc == ERR_NOMEM ? rc : ERR_PARSE;
    }
    return 0;
}

static void drop_state(struct fsm *f)
{
    kv_free(f->kv);
    cat_free(f->cat);
    acl_store_free(f->acl);
    sess_free(f->sess);
    f->kv = NULL;
    f->cat = NULL;
    f->acl = NULL;
    f->sess = NULL;
}

static void install(struct fsm *f, struct restore *r,
                    const struct fsm_snap_header *h)
{
    f->kv = r->st;
    f->cat = r->cat;
    f->acl = r->acl;
    f->sess = r->sess;
    f->autopilot = r->ap;
    f->last_index = h->last_index;
    memset(r, 0, sizeof(*r));
}

/* Has the ACL state anything to report a change of? */
static bool acl_any(const struct acl_store *acl)
{
    return acl_store_max_index(acl) != 0 || acl_store_secret(acl) != NULL;
}

/* Stream the running state to a new unlinked file: its fd, or -1. */
static int backup(const struct fsm *f, size_t *len, char *err)
{
    int fd = util_tmpfile(f->tmp_dir, err);
    off_t end;

    if (fd < 0)
        return -1;
    if (fsm_snapshot_stream(f, NULL, util_fd_out, &fd, err) != 0 ||
        (end = lseek(fd, 0, SEEK_END)) < 0) {
        err_prefix(err, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    *len = (size_t)end;
    return fd;
}

/* The new stream failed after the old state was freed: decode the old
 * one back from its backup. */
static int bring_back(struct fsm *f, const char *dc, int fd, size_t len)
{
    struct fsm_snap_header h = {0, 0, 0};
    struct restore r;
    const void *p;
    char err[ERR_LEN];
    int rc = util_map(fd, len, &p, err);

    if (rc == 0) {
        rc = decode_new(&r, dc, p, len, &h, err);
        util_unmap(p, len);
    }
    if (rc != 0) {
        LOG_ERROR("fsm", "the state before the failed restore could not "
                  "be brought back: %s", err);
        return rc;
    }
    install(f, &r, &h);
    return 0;
}

/* Replace the state with buf's, one copy at a time when a backup could
 * be written. On failure the old state is in place (or rc is fatal). */
static int replace(struct fsm *f, const char *dc, const void *buf,
                   size_t len, struct fsm_snap_header *h, bool *fatal,
                   char *err)
{
    struct restore r;
    size_t blen = 0;
    char berr[ERR_LEN] = "";
    int bfd = backup(f, &blen, berr), rc;

    if (bfd < 0) {
        LOG_WARN("fsm", "restore: no backup of the running state (%s): "
                 "decoding beside it", berr);
        if ((rc = decode_new(&r, dc, buf, len, h, err)) != 0)
            return rc;
        drop_state(f);
        install(f, &r, h);
        return 0;
    }
    drop_state(f);
    rc = decode_new(&r, dc, buf, len, h, err);
    if (rc == 0)
        install(f, &r, h);
    else if (bring_back(f, dc, bfd, blen) != 0) {
        *fatal = true; /* keep the agent from touching freed stores */
        f->kv = kv_new();
        f->cat = cat_new(dc);
        f->acl = acl_store_new();
        f->sess = sess_new();
    }
    close(bfd);
    return rc;
}

int fsm_restore(struct fsm *f, const void *buf, size_t len, char *err)
{
    struct fsm_snap_header h = {0, 0, 0};
    bool had_autopilot = f->autopilot.set;
    bool had_catalog = cat_max_index(f->cat) != 0;
    bool had_acl = acl_any(f->acl);
    bool had_sess = sess_table_index(f->sess) != 0;
    bool fatal = false;
    char *dc = strdup(cat_datacenter(f->cat));
    msgpack_unpacked u;
    size_t off = 0;
    int rc;

    if (dc == NULL)
        return err_set(err, ERR_NOMEM, "restoring snapshot");
    /* A stream of another format or version changes nothing. */
    msgpack_unpacked_init(&u);
    rc = fsm_unpack_at(&u, buf, len, &off, err);
    if (rc == 0)
        rc = fsm_check_header(&u.data, &h, err);
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        free(dc);
        err_prefix(err, "restoring snapshot: header");
        return ERR_PARSE;
    }
    rc = replace(f, dc, buf, len, &h, &fatal, err);
    free(dc);
    if (fatal) {
        if (f->on_change != NULL)
            f->on_change(f->ctx, "fatal", f->last_index);
        return rc;
    }
    if (rc != 0)
        return rc;
    if (f->on_change != NULL) {
        f->on_change(f->ctx, "kv", h.last_index);
        if (had_autopilot || f->autopilot.set)
            f->on_change(f->ctx, "autopilot", h.last_index);
        if (had_catalog || cat_max_index(f->cat) != 0)
            f->on_change(f->ctx, "catalog", h.last_index);
        if (had_acl || acl_any(f->acl))
            f->on_change(f->ctx, "acl", h.last_index);
        if (had_sess || sess_table_index(f->sess) != 0)
            f->on_change(f->ctx, "session", h.last_index);
    }
    return 0;
}

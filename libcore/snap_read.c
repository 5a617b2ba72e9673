/* snap_read.c - reading and verifying the snapshot archive.
 *
 * Layer: store (uses util, codec; libarchive, zlib, OpenSSL).
 * Thread: any.
 * Owns: a read in progress (buffers, libarchive handle, hash state).
 * Tests: t/unit/check_snap.c
 *
 * gzip is decoded here with zlib, not by libarchive, so that we know
 * exactly where the gzip member ends: a truncated stream, a bad CRC and
 * any byte after the member are all errors. libarchive sees plain tar.
 * Its tar reader reads ahead, so the end is checked by position: what
 * the tar reader consumed (its last header plus both zero blocks) must
 * be every byte the gzip stream held, as Consul's concludeGzipRead
 * insists.
 */
#include "snap.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"

/* The newest state.bin encoding (meta.json FormatVersion) we read. */
#define SNAP_MAX_FORMAT_VERSION 1
#define META_MAX (1u << 20)
#define SUMS_MAX 4096
#define SHA_LEN 32
#define BUF_LEN (64u * 1024)
#define TAR_BLOCK 512

enum { M_META, M_STATE, M_SUMS, M_COUNT };
static const char *const names[M_COUNT] = {"meta.json", "state.bin",
                                           "SHA256SUMS"};

/* The gzip layer under libarchive. */
struct gz {
    snap_in_fn in;
    void *ctx;
    z_stream z;
    bool z_ready, in_eof, end;
    uint64_t raw;  /* compressed bytes read */
    uint64_t out;  /* uncompressed bytes handed to libarchive */
    unsigned char magic[2];
    int rc;        /* first error, with msg */
    char msg[ERR_LEN];
    unsigned char ibuf[BUF_LEN], obuf[BUF_LEN];
};

struct rd {
    struct gz *g;
    struct archive *a;
    snap_state_fn state;
    void *state_ctx;
    EVP_MD_CTX *sha;
    unsigned char hash[M_SUMS][SHA_LEN];
    char *meta_buf;
    size_t meta_len;
    char sums[SUMS_MAX + 1];
    size_t sums_len;
    uint64_t sums_end; /* tar offset after SHA256SUMS' data */
    struct snap_meta m;
};

/* ---- gzip ---- */

static int gz_fail(struct gz *g, int rc, const char *msg)
{
    if (g->rc == 0) {
        g->rc = rc;
        snprintf(g->msg, sizeof(g->msg), "%s", msg);
    }
    return -1;
}

static int gz_input(struct gz *g)
{
    ssize_t r = g->in(g->ctx, g->ibuf, sizeof(g->ibuf));

    if (r < 0)
        return gz_fail(g, ERR_IO, "reading the snapshot failed");
    if (r == 0) {
        g->in_eof = true;
        return 0;
    }
    for (size_t i = 0; i < (size_t)r && g->raw + i < 2; i++)
        g->magic[g->raw + i] = g->ibuf[i];
    g->raw += (uint64_t)r;
    if (g->magic[0] != 0x1f || (g->raw > 1 && g->magic[1] != 0x8b))
        return gz_fail(g, ERR_PARSE,
                       "snapshot archive is not gzip-compressed");
    g->z.next_in = g->ibuf;
    g->z.avail_in = (uInt)r;
    return 0;
}

static int gz_zerr(struct gz *g, int zr)
{
    char m[ERR_LEN];

    if (zr == Z_MEM_ERROR)
        return gz_fail(g, ERR_NOMEM, "out of memory");
    snprintf(m, sizeof(m), "snapshot archive is corrupt (gzip: %s)",
             g->z.msg != NULL ? g->z.msg : "data error");
    return gz_fail(g, ERR_PARSE, m);
}

/* Up to BUF_LEN uncompressed bytes into obuf: how many, 0 at the end of
 * the gzip member, -1 on an error (in g->rc, g->msg). */
static ssize_t gz_fill(struct gz *g)
{
    int zr;

    if (g->rc != 0)
        return -1;
    if (g->end)
        return 0;
    g->z.next_out = g->obuf;
    g->z.avail_out = sizeof(g->obuf);
    while (g->z.avail_out == sizeof(g->obuf)) {
        if (g->z.avail_in == 0 && !g->in_eof && gz_input(g) != 0)
            return -1;
        if (g->z.avail_in == 0 && g->in_eof)
            return gz_fail(g, ERR_PARSE, g->raw == 0
                           ? "snapshot archive is empty"
                           : "snapshot archive is truncated");
        zr = inflate(&g->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            g->end = true;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return gz_zerr(g, zr);
    }
    g->out += sizeof(g->obuf) - g->z.avail_out;
    return (ssize_t)(sizeof(g->obuf) - g->z.avail_out);
}

static la_ssize_t gz_read_cb(struct archive *a, void *ud, const void **p)
{
    struct gz *g = ud;
    ssize_t n = gz_fill(g);

    if (n < 0) {
        archive_set_error(a, EINVAL, "%s", g->msg);
        return -1;
    }
    *p = g->obuf;
    return n;
}

static struct gz *gz_new(snap_in_fn in, void *ctx, char *err)
{
    struct gz *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->in = in;
    g->ctx = ctx;
    if (inflateInit2(&g->z, 16 + MAX_WBITS) != Z_OK) {
        free(g);
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->z_ready = true;
    return g;
}

static void gz_free(struct gz *g)
{
    if (g == NULL)
        return;
    if (g->z_ready)
        inflateEnd(&g->z);
    free(g);
}

/* After the tar end: the rest of the gzip member must be empty, and no
 * byte may follow it. tar_end is where the tar reader stopped. */
static int gz_finish(struct gz *g, uint64_t tar_end, char *err)
{
    uint64_t extra = g->out - tar_end;
    ssize_t n;

    while ((n = gz_fill(g)) > 0)
        extra += (uint64_t)n;
    if (n < 0)
        return err_set(err, g->rc, "%s", g->msg);
    if (extra != 0)
        return err_set(err, ERR_PARSE,
                       "%llu unread uncompressed bytes remain after the "
                       "tar archive",
                       (unsigned long long)extra);
    if (g->z.avail_in == 0 && !g->in_eof && gz_input(g) != 0)
        return err_set(err, g->rc, "%s", g->msg);
    if (g->z.avail_in != 0)
        return err_set(err, ERR_PARSE,
                       "trailing data after the snapshot archive");
    return 0;
}

/* ---- meta.json ---- */

static const struct {
    const char *key;
    size_t off;
} u64_fields[] = {
    {"Version", offsetof(struct snap_meta, version)},
    {"FormatVersion", offsetof(struct snap_meta, format_version)},
    {"Index", offsetof(struct snap_meta, index)},
    {"Term", offsetof(struct snap_meta, term)},
    {"Size", offsetof(struct snap_meta, size)},
    {"ConfigurationIndex", offsetof(struct snap_meta, configuration_index)},
};

/* Every field present and well typed is filled; strict also wants
 * all but ConfigurationIndex and Configuration, and no bad types. */
static int meta_fill(json_t *o, struct snap_meta *m, bool strict, char *err)
{
    size_t nf = sizeof(u64_fields) / sizeof(u64_fields[0]);
    json_t *v;

    for (size_t i = 0; i < nf; i++) {
        v = json_object_get(o, u64_fields[i].key);
        if (v != NULL && json_is_integer(v) && json_integer_value(v) >= 0)
            *(uint64_t *)((char *)m + u64_fields[i].off) =
                (uint64_t)json_integer_value(v);
        else if (strict && (v != NULL || i + 1 < nf))
            return err_set(err, ERR_PARSE, "meta.json: '%s' is %s",
                           u64_fields[i].key,
                           v == NULL ? "missing"
                                     : "not a non-negative integer");
    }
    v = json_object_get(o, "ID");
    if (json_is_string(v) && json_string_length(v) < sizeof(m->id))
        memcpy(m->id, json_string_value(v), json_string_length(v) + 1);
    else if (json_is_string(v) && !strict)
        snprintf(m->id, sizeof(m->id), "%s", json_string_value(v));
    else if (strict)
        return err_set(err, ERR_PARSE, "meta.json: 'ID' is %s",
                       v == NULL ? "missing" : "not a short string");
    v = json_object_get(o, "Configuration");
    if (json_is_object(v))
        m->configuration = json_incref(v);
    else if (strict && v != NULL && !json_is_null(v))
        return err_set(err, ERR_PARSE,
                       "meta.json: 'Configuration' is not an object");
    return 0;
}

static uint64_t u64_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) && json_integer_value(v) > 0
               ? (uint64_t)json_integer_value(v)
               : 0;
}

/* What this build can restore, before any field is required: a
 * Consul snapshot is refused for being one, not for its fields. */
static int meta_check(json_t *o, char *err)
{
    json_t *f = json_object_get(o, "Format");
    uint64_t v = u64_of(o, "Version"), fv = u64_of(o, "FormatVersion");
    char q[ERR_QUOTE_MAX];

    if (v > SNAP_VERSION)
        return err_set(err, ERR_PARSE,
                       "snapshot version %llu is newer than this build "
                       "knows (%d)",
                       (unsigned long long)v, SNAP_VERSION);
    if (f == NULL)
        return err_set(err, ERR_PARSE, "snapshot has no Format in "
                                       "meta.json: not a proconsul "
                                       "snapshot");
    if (!json_is_string(f) || strcmp(json_string_value(f), SNAP_FORMAT))
        return err_set(err, ERR_PARSE,
                       "snapshot format '%s' is not '%s'",
                       json_is_string(f)
                           ? err_quote(q, sizeof(q), json_string_value(f))
                           : "(not a string)",
                       SNAP_FORMAT);
    if (fv > SNAP_MAX_FORMAT_VERSION)
        return err_set(err, ERR_PARSE,
                       "snapshot format version %llu is newer than this "
                       "build knows (%d)",
                       (unsigned long long)fv, SNAP_MAX_FORMAT_VERSION);
    return 0;
}

static json_t *meta_load(const char *buf, size_t len, bool strict,
                         char *err)
{
    json_error_t je;
    json_t *o = json_loadb(buf, len, strict ? JSON_REJECT_DUPLICATES : 0,
                           &je);

    if (o == NULL) {
        err_set(err, ERR_PARSE, "meta.json is not valid JSON: %s (line %d)",
                je.text, je.line);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        err_set(err, ERR_PARSE, "meta.json is not a JSON object");
        return NULL;
    }
    return o;
}

/* ---- the tar members ---- */

static int arc_err(struct rd *r, char *err)
{
    const char *s = archive_error_string(r->a);

    if (r->g->rc != 0)
        return err_set(err, r->g->rc, "%s", r->g->msg);
    return err_set(err, ERR_PARSE, "snapshot archive is corrupt (tar: %s)",
                   s != NULL ? s : "unknown error");
}

/* A small member whole into buf (cap bytes at most). */
static int read_small(struct rd *r, struct archive_entry *e, char *buf,
                      size_t cap, size_t *len, char *err)
{
    int64_t size = archive_entry_size(e);
    size_t got = 0;
    la_ssize_t n;

    if (!archive_entry_size_is_set(e) || size < 0 || (uint64_t)size > cap)
        return err_set(err, ERR_PARSE,
                       "%s is too large (%lld bytes, at most %zu)",
                       archive_entry_pathname(e), (long long)size, cap);
    while (got < (size_t)size) {
        n = archive_read_data(r->a, buf + got, (size_t)size - got);
        if (n < 0)
            return arc_err(r, err);
        if (n == 0)
            return err_set(err, ERR_PARSE, "snapshot archive is truncated");
        got += (size_t)n;
    }
    *len = got;
    return 0;
}

static int sha_of(const void *p, size_t n, unsigned char *d, char *err)
{
    unsigned int dn = 0;

    if (EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL) != 1 || dn != SHA_LEN)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    return 0;
}

static int read_meta(struct rd *r, struct archive_entry *e, char *err)
{
    json_t *o;
    int rc;

    if ((r->meta_buf = malloc(META_MAX)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = read_small(r, e, r->meta_buf, META_MAX, &r->meta_len, err);
    if (rc == 0)
        rc = sha_of(r->meta_buf, r->meta_len, r->hash[M_META], err);
    if (rc != 0)
        return rc;
    if ((o = meta_load(r->meta_buf, r->meta_len, true, err)) == NULL)
        return ERR_PARSE;
    rc = meta_check(o, err);
    if (rc == 0)
        rc = meta_fill(o, &r->m, true, err);
    json_decref(o);
    return rc;
}

static int state_chunk(struct rd *r, const void *p, size_t n, char *err)
{
    int rc;

    if (EVP_DigestUpdate(r->sha, p, n) != 1)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    if (r->state == NULL || (rc = r->state(r->state_ctx, p, n)) == 0)
        return 0;
    rc = rc < 0 ? rc : ERR_INVAL;
    return err_set(err, rc, "state.bin consumer failed: %s", err_str(rc));
}

static int read_state(struct rd *r, struct archive_entry *e, char *err)
{
    int64_t size = archive_entry_size(e), off;
    uint64_t got = 0;
    unsigned int dn = 0;
    const void *p;
    size_t n;
    int ar, rc;

    if (!archive_entry_size_is_set(e) || size < 0 ||
        (uint64_t)size != r->m.size)
        return err_set(err, ERR_PARSE,
                       "state.bin is %lld bytes but meta.json says %llu",
                       (long long)size, (unsigned long long)r->m.size);
    if ((r->sha = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(r->sha, EVP_sha256(), NULL) != 1)
        return err_set(err, ERR_NOMEM, "out of memory");
    while ((ar = archive_read_data_block(r->a, &p, &n, &off)) ==
           ARCHIVE_OK) {
        if (off < 0 || (uint64_t)off != got)
            return err_set(err, ERR_PARSE, "state.bin has a hole");
        if (n > 0 && (rc = state_chunk(r, p, n, err)) != 0)
            return rc;
        got += n;
    }
    if (ar != ARCHIVE_EOF)
        return arc_err(r, err);
    if (got != r->m.size)
        return err_set(err, ERR_PARSE, "snapshot archive is truncated");
    if (EVP_DigestFinal_ex(r->sha, r->hash[M_STATE], &dn) != 1 ||
        dn != SHA_LEN)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    return 0;
}

static int unhex(const char *s, unsigned char *d)
{
    for (size_t i = 0; i < 2 * SHA_LEN; i++) {
        const char *p = strchr("0123456789abcdef", s[i]);

        if (s[i] == '\0' || p == NULL)
            return -1;
        if (i % 2 == 0)
            d[i / 2] = (unsigned char)((p - "0123456789abcdef") << 4);
        else
            d[i / 2] |= (unsigned char)(p - "0123456789abcdef");
    }
    return 0;
}

/* One "<64 hex>  <name>\n" line at *s; which member it names (or -1
 * after filling err). */
static int sums_line(const char **s, int line, unsigned char *d, char *err)
{
    const char *p = *s, *nl = strchr(p, '\n');
    size_t len = nl != NULL ? (size_t)(nl - p) : 0;
    char q[ERR_QUOTE_MAX], name[64];

    if (nl == NULL || len < 2 * SHA_LEN + 3 || unhex(p, d) != 0 ||
        memcmp(p + 2 * SHA_LEN, "  ", 2) != 0 ||
        len - 2 * SHA_LEN - 2 >= sizeof(name)) {
        err_set(err, ERR_PARSE, "SHA256SUMS line %d is malformed", line);
        return -1;
    }
    memcpy(name, p + 2 * SHA_LEN + 2, len - 2 * SHA_LEN - 2);
    name[len - 2 * SHA_LEN - 2] = '\0';
    *s = nl + 1;
    for (int k = M_META; k < M_SUMS; k++)
        if (strcmp(name, names[k]) == 0)
            return k;
    err_set(err, ERR_PARSE, "SHA256SUMS lists unexpected file '%s'",
            err_quote(q, sizeof(q), name));
    return -1;
}

/* Strictly: one line per hashed member, any order, nothing else. */
static int check_sums(struct rd *r, char *err)
{
    unsigned char d[SHA_LEN];
    const char *s = r->sums;
    bool seen[M_SUMS] = {false, false};
    int k;

    if (memchr(r->sums, '\0', r->sums_len) != NULL)
        return err_set(err, ERR_PARSE, "SHA256SUMS contains a NUL byte");
    for (int line = 1; *s != '\0'; line++) {
        if ((k = sums_line(&s, line, d, err)) < 0)
            return ERR_PARSE;
        if (seen[k])
            return err_set(err, ERR_PARSE, "SHA256SUMS lists '%s' twice",
                           names[k]);
        seen[k] = true;
        if (memcmp(d, r->hash[k], SHA_LEN) != 0)
            return err_set(err, ERR_PARSE, "hash check failed for '%s'",
                           names[k]);
    }
    for (k = M_META; k < M_SUMS; k++)
        if (!seen[k])
            return err_set(err, ERR_PARSE,
                           "SHA256SUMS has no hash for '%s'", names[k]);
    return 0;
}

/* A directory's name ends in '/': it is then refused by its type. */
static bool is_name(const char *name, const char *want)
{
    size_t n = strlen(want);

    return strncmp(name, want, n) == 0 &&
           (name[n] == '\0' || strcmp(name + n, "/") == 0);
}

static int member(struct rd *r, struct archive_entry *e, int next,
                  char *err)
{
    const char *name = archive_entry_pathname(e);
    char q[ERR_QUOTE_MAX];
    int k = -1;

    for (int i = 0; i < M_COUNT && name != NULL; i++)
        if (is_name(name, names[i]))
            k = i;
    if (k < 0)
        return err_set(err, ERR_PARSE, "unexpected file '%s' in snapshot",
                       err_quote(q, sizeof(q), name ? name : ""));
    if (k < next)
        return err_set(err, ERR_PARSE, "file '%s' appears twice in snapshot",
                       names[k]);
    if (k > next)
        return err_set(err, ERR_PARSE,
                       "expected '%s' but found '%s' in snapshot (missing "
                       "or out of order)",
                       names[next], names[k]);
    if (archive_entry_filetype(e) != AE_IFREG ||
        archive_entry_hardlink(e) != NULL || archive_entry_symlink(e) != NULL)
        return err_set(err, ERR_PARSE,
                       "'%s' in snapshot is not a regular file", names[k]);
    if (k == M_META)
        return read_meta(r, e, err);
    if (k == M_STATE)
        return read_state(r, e, err);
    return read_small(r, e, r->sums, SUMS_MAX, &r->sums_len, err);
}

static int read_members(struct rd *r, char *err)
{
    struct archive_entry *e;
    int64_t end, pos;
    int ar, rc, next;

    for (next = 0;; next++) {
        ar = archive_read_next_header(r->a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar != ARCHIVE_OK)
            return arc_err(r, err);
        if ((rc = member(r, e, next, err)) != 0)
            return rc;
    }
    if (next < M_COUNT)
        return err_set(err, ERR_PARSE, "file '%s' is missing from snapshot",
                       names[next]);
    /* Where the end-of-archive blocks began and where the reader
     * stopped: both zero blocks must be there. */
    end = archive_read_header_position(r->a);
    pos = archive_filter_bytes(r->a, 0);
    if (end < 0 || pos != end + 2 * TAR_BLOCK)
        return err_set(err, ERR_PARSE, "snapshot archive is truncated "
                                       "(incomplete tar end marker)");
    r->sums[r->sums_len] = '\0';
    if ((rc = check_sums(r, err)) != 0)
        return rc;
    return gz_finish(r->g, (uint64_t)pos, err);
}

static int rd_open(struct rd *r, snap_in_fn in, void *in_ctx, char *err)
{
    if ((r->g = gz_new(in, in_ctx, err)) == NULL)
        return ERR_NOMEM;
    if ((r->a = archive_read_new()) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
        archive_read_open(r->a, r->g, NULL, gz_read_cb, NULL) != ARCHIVE_OK)
        return arc_err(r, err);
    return 0;
}

static void rd_close(struct rd *r)
{
    archive_read_free(r->a);
    gz_free(r->g);
    EVP_MD_CTX_free(r->sha);
    free(r->meta_buf);
}

int snap_read(snap_in_fn in, void *in_ctx, snap_state_fn state,
              void *state_ctx, struct snap_meta *meta, char *err)
{
    struct rd r;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(meta, 0, sizeof(*meta));
    r.state = state;
    r.state_ctx = state_ctx;
    rc = rd_open(&r, in, in_ctx, err);
    if (rc == 0)
        rc = read_members(&r, err);
    rd_close(&r);
    if (rc != 0) {
        snap_meta_release(&r.m);
        return rc;
    }
    *meta = r.m;
    return 0;
}

struct mem_in {
    const char *p;
    size_t len, off;
};

static ssize_t mem_read(void *ctx, void *p, size_t n)
{
    struct mem_in *m = ctx;

    if (n > m->len - m->off)
        n = m->len - m->off;
    if (n > 0)
        memcpy(p, m->p + m->off, n);
    m->off += n;
    return (ssize_t)n;
}

int snap_read_mem(const void *buf, size_t len, snap_state_fn state,
                  void *state_ctx, struct snap_meta *meta, char *err)
{
    struct mem_in m = {buf, len, 0};

    return snap_read(mem_read, &m, state, state_ctx, meta, err);
}

static ssize_t fd_read(void *ctx, void *p, size_t n)
{
    ssize_t r;

    do
        r = read(*(int *)ctx, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

int snap_read_fd(int fd, snap_state_fn state, void *state_ctx,
                 struct snap_meta *meta, char *err)
{
    return snap_read(fd_read, &fd, state, state_ctx, meta, err);
}

static int first_meta(struct rd *r, json_t **o, char *err)
{
    struct archive_entry *e;
    const char *name;
    char q[ERR_QUOTE_MAX];
    int ar, rc;

    ar = archive_read_next_header(r->a, &e);
    if (ar == ARCHIVE_EOF)
        return err_set(err, ERR_PARSE, "snapshot archive has no meta.json");
    if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN)
        return arc_err(r, err);
    name = archive_entry_pathname(e);
    if (name == NULL || strcmp(name, names[M_META]) != 0)
        return err_set(err, ERR_PARSE, "snapshot archive does not start "
                       "with meta.json (found '%s')",
                       err_quote(q, sizeof(q), name ? name : ""));
    if ((r->meta_buf = malloc(META_MAX)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = read_small(r, e, r->meta_buf, META_MAX, &r->meta_len, err);
    if (rc == 0 && (*o = meta_load(r->meta_buf, r->meta_len, false,
                                   err)) == NULL)
        rc = ERR_PARSE;
    return rc;
}

int snap_read_meta_fd(int fd, struct snap_meta *meta, json_t **raw,
                      char *err)
{
    struct rd r;
    json_t *o = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(meta, 0, sizeof(*meta));
    if (raw != NULL)
        *raw = NULL;
    rc = rd_open(&r, fd_read, &fd, err);
    if (rc == 0)
        rc = first_meta(&r, &o, err);
    if (rc == 0)
        rc = meta_fill(o, meta, false, err);
    rd_close(&r);
    if (rc != 0) {
        json_decref(o);
        snap_meta_release(meta);
        return rc;
    }
    if (raw != NULL)
        *raw = o;
    else
        json_decref(o);
    return 0;
}

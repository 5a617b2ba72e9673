/* snap.c - writing the snapshot archive: a gzip'd tar of meta.json,
 * state.bin and SHA256SUMS, streamed to a sink.
 *
 * Layer: store (uses util, codec; libarchive, OpenSSL). Thread: any.
 * Owns: a writer's libarchive handle and hash state.
 * Tests: t/unit/check_snap.c
 *
 * The layout follows Consul's snapshot/archive.go: members in that
 * order, mode 0600, ModTime now; meta.json is hashicorp/raft's
 * SnapshotMeta as Go's json.Encoder writes it (fields in declaration
 * order, compact, a final newline) plus our Format and FormatVersion.
 * state.bin's tar header carries meta->size up front, so the state
 * streams through without being buffered. The tar stream ends with the
 * two zero blocks and nothing else, and the gzip stream is not padded:
 * Consul refuses an archive with uncompressed bytes after the tar end
 * or with garbage after the gzip stream. Reading is in snap_read.c.
 */
#include "snap.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

/* archive_write_data is handed at most this much at a time. */
#define CHUNK (1u << 20)
#define SHA_LEN 32

struct snap_writer {
    struct archive *a;
    snap_out_fn out;
    void *ctx;
    EVP_MD_CTX *sha;
    uint64_t size, written;
    char meta_hex[2 * SHA_LEN + 1];
    bool failed;    /* a write failed: only free is left */
    bool abandoned; /* being freed: emit nothing more */
};

void snap_meta_release(struct snap_meta *m)
{
    if (m == NULL)
        return;
    json_decref(m->configuration);
    memset(m, 0, sizeof(*m));
}

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

static int set_u64(json_t *o, const char *key, uint64_t v, char *err)
{
    if (v > (uint64_t)INT64_MAX)
        return err_set(err, ERR_INVAL, "snapshot meta %s is too large", key);
    if (json_object_set_new(o, key, json_integer((json_int_t)v)) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static json_t *configuration_of(const struct snap_meta *m)
{
    if (m->configuration != NULL)
        return json_incref(m->configuration);
    return json_pack("{s:[]}", "Servers");
}

/* meta.json's bytes, in raft.SnapshotMeta's field order. */
static int meta_fields(const struct snap_meta *m, json_t *o, char *err)
{
    int rc = set_u64(o, "Version", m->version, err);
    if (rc == 0 && json_object_set_new(o, "ID", json_string(m->id)) != 0)
        rc = err_set(err, ERR_INVAL, "snapshot ID is not valid UTF-8");
    if (rc == 0)
        rc = set_u64(o, "Index", m->index, err);
    if (rc == 0)
        rc = set_u64(o, "Term", m->term, err);
    if (rc == 0 && json_object_set_new(o, "Configuration",
                                       configuration_of(m)) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = set_u64(o, "ConfigurationIndex", m->configuration_index, err);
    if (rc == 0)
        rc = set_u64(o, "Size", m->size, err);
    if (rc == 0 && json_object_set_new(o, "Format",
                                       json_string(SNAP_FORMAT)) != 0)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = set_u64(o, "FormatVersion", m->format_version, err);
    return rc;
}

/* Go's json.Encoder ends the document with a newline. */
static int meta_encode(const struct snap_meta *m, char **out, char *err)
{
    json_t *o = json_object();
    char *s = NULL, *t;
    int rc;

    if (o == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = meta_fields(m, o, err);
    if (rc == 0 &&
        (s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    json_decref(o);
    if (rc != 0)
        return rc;
    if ((t = realloc(s, strlen(s) + 2)) == NULL) {
        free(s);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    strcat(t, "\n");
    *out = t;
    return 0;
}

static la_ssize_t write_cb(struct archive *a, void *ud, const void *p,
                           size_t n)
{
    struct snap_writer *w = ud;

    if (w->abandoned)
        return (la_ssize_t)n;
    if (w->out(w->ctx, p, n) != 0) {
        archive_set_error(a, EIO, "output refused the data");
        return -1;
    }
    return (la_ssize_t)n;
}

static int arc_fail(struct snap_writer *w, char *err)
{
    const char *s = archive_error_string(w->a);

    w->failed = true;
    return err_set(err, ERR_IO, "writing snapshot: %s",
                   s != NULL ? s : "unknown libarchive error");
}

static int put_header(struct snap_writer *w, const char *name,
                      uint64_t size, char *err)
{
    struct archive_entry *e = archive_entry_new();
    int rc;

    if (e == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, time(NULL), 0);
    rc = archive_write_header(w->a, e);
    archive_entry_free(e);
    return rc == ARCHIVE_OK ? 0 : arc_fail(w, err);
}

static int put_data(struct snap_writer *w, const void *p, size_t n,
                    char *err)
{
    const char *c = p;

    while (n > 0) {
        size_t k = n < CHUNK ? n : CHUNK;
        la_ssize_t r = archive_write_data(w->a, c, k);

        if (r < 0 || (size_t)r != k)
            return arc_fail(w, err);
        c += k;
        n -= k;
    }
    return 0;
}

/* A whole small member: header and bytes. */
static int put_member(struct snap_writer *w, const char *name,
                      const char *s, char *err)
{
    size_t n = strlen(s);
    int rc = put_header(w, name, n, err);

    return rc != 0 ? rc : put_data(w, s, n, err);
}

static int sha_hex(const void *p, size_t n, char *hex, char *err)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;

    if (EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL) != 1 || dn != SHA_LEN)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    to_hex(d, SHA_LEN, hex);
    return 0;
}

static int writer_open(struct snap_writer *w, char *err)
{
    if ((w->a = archive_write_new()) == NULL ||
        (w->sha = EVP_MD_CTX_new()) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    /* pax_restricted is plain ustar unless a size needs more than
     * ustar's 11 octal digits (state.bin over 8 GiB), as in Go. */
    if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(w->a) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
        archive_write_open(w->a, w, NULL, write_cb, NULL) != ARCHIVE_OK)
        return arc_fail(w, err);
    return 0;
}

int snap_writer_new(const struct snap_meta *meta, snap_out_fn out,
                    void *ctx, struct snap_writer **wp, char *err)
{
    struct snap_writer *w;
    char *js = NULL;
    int rc;

    *wp = NULL;
    if (memchr(meta->id, '\0', sizeof(meta->id)) == NULL)
        return err_set(err, ERR_INVAL, "snapshot ID is not terminated");
    if ((rc = meta_encode(meta, &js, err)) != 0)
        return rc;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        free(js);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    w->out = out;
    w->ctx = ctx;
    w->size = meta->size;
    rc = sha_hex(js, strlen(js), w->meta_hex, err);
    if (rc == 0)
        rc = writer_open(w, err);
    if (rc == 0)
        rc = put_member(w, "meta.json", js, err);
    if (rc == 0)
        rc = put_header(w, "state.bin", w->size, err);
    free(js);
    if (rc != 0) {
        snap_writer_free(w);
        return rc;
    }
    *wp = w;
    return 0;
}

int snap_writer_state(struct snap_writer *w, const void *p, size_t n,
                      char *err)
{
    if (w->failed)
        return err_set(err, ERR_INVAL, "snapshot writer already failed");
    if (n > w->size - w->written)
        return err_set(err, ERR_INVAL,
                       "state.bin would exceed the %llu bytes announced "
                       "in meta.json",
                       (unsigned long long)w->size);
    if (n == 0)
        return 0;
    if (EVP_DigestUpdate(w->sha, p, n) != 1) {
        w->failed = true;
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    }
    w->written += n;
    return put_data(w, p, n, err);
}

static int writer_close(struct snap_writer *w, char *err)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    char hex[2 * SHA_LEN + 1], sums[4 * SHA_LEN + 32];
    int rc;

    if (EVP_DigestFinal_ex(w->sha, d, &dn) != 1 || dn != SHA_LEN)
        return err_set(err, ERR_INTERNAL, "sha-256 failed");
    to_hex(d, SHA_LEN, hex);
    snprintf(sums, sizeof(sums), "%s  meta.json\n%s  state.bin\n",
             w->meta_hex, hex);
    rc = put_member(w, "SHA256SUMS", sums, err);
    if (rc == 0 && archive_write_close(w->a) != ARCHIVE_OK)
        rc = arc_fail(w, err);
    return rc;
}

int snap_writer_finish(struct snap_writer *w, char *err)
{
    int rc;

    if (w->failed) {
        rc = err_set(err, ERR_INVAL, "snapshot writer already failed");
    } else if (w->written != w->size) {
        rc = err_set(err, ERR_INVAL,
                     "state.bin has %llu of the %llu bytes announced in "
                     "meta.json",
                     (unsigned long long)w->written,
                     (unsigned long long)w->size);
    } else {
        rc = writer_close(w, err);
    }
    snap_writer_free(w);
    return rc;
}

void snap_writer_free(struct snap_writer *w)
{
    if (w == NULL)
        return;
    /* archive_write_free closes an open archive, which would flush a
     * half-written gzip stream into the sink. */
    w->abandoned = true;
    archive_write_free(w->a);
    EVP_MD_CTX_free(w->sha);
    free(w);
}

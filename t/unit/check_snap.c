/* check_snap.c - unit tests for the snapshot archive (libcore/snap.c,
 * libcore/snap_read.c).
 *
 * Covers round trips (0 bytes, 1 byte, 1 MiB written in odd pieces,
 * through memory and a file), the exact container Consul expects
 * (member order and names, meta.json fields, SHA256SUMS lines, no tar
 * or gzip padding), the writer's size contract and sink errors, and
 * every refusal of the reader: truncation at many offsets, bit flips
 * at many offsets, members extra, missing, repeated, reordered or not
 * regular, bad SHA256SUMS, size mismatch, newer versions, a foreign
 * Format, trailing bytes, empty and non-gzip input. Archives the writer
 * cannot produce are built here with libarchive and zlib directly.
 * snap_read_meta_fd is checked on Consul's own meta.json shape.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"
#include "snap.h"
#include "unit.h"

#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

struct obuf {
    unsigned char *p;
    size_t len, cap;
};

static struct obuf arc, got, tmp;
static struct snap_meta rm;
static char err[ERR_LEN];

static void setup(void)
{
    memset(&arc, 0, sizeof(arc));
    memset(&got, 0, sizeof(got));
    memset(&tmp, 0, sizeof(tmp));
    memset(&rm, 0, sizeof(rm));
    err[0] = '\0';
}

static void teardown(void)
{
    free(arc.p);
    free(got.p);
    free(tmp.p);
    snap_meta_release(&rm);
}

static void put(struct obuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        REQUIRE(b->p != NULL);
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static int out_fn(void *ctx, const void *p, size_t n)
{
    put(ctx, p, n);
    return 0;
}

static int state_fn(void *ctx, const void *p, size_t n)
{
    put(ctx, p, n);
    return 0;
}

/* Deterministic bytes that do not compress. */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 2654435761u + 88172645463325252ull;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static void make_meta(struct snap_meta *m, uint64_t size)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "2-13-1602222343947");
    m->size = size;
    m->index = 13;
    m->term = 2;
    m->version = SNAP_VERSION;
    m->format_version = 1;
    m->configuration_index = 1;
    m->configuration = json_pack(
        "{s:[{s:i, s:s, s:s}], s:i}", "Servers", "Suffrage", 0, "ID",
        "a577b288-b354-770e-e909-da0972eb20e8", "Address", "127.0.0.1:8300",
        "Index", 1);
    REQUIRE(m->configuration != NULL);
}

/* An archive of state (n bytes) into arc, fed in pieces of 1, 7, 4093,
 * 65537, ... bytes. */
static void write_archive(const unsigned char *state, size_t n)
{
    static const size_t pieces[] = {1, 7, 4093, 65537, 3, 100003};
    struct snap_meta m;
    struct snap_writer *w;
    size_t off = 0;

    make_meta(&m, n);
    ck_assert_msg(snap_writer_new(&m, out_fn, &arc, &w, err) == 0, "%s",
                  err);
    for (size_t i = 0; off < n; i++) {
        size_t k = pieces[i % 6] < n - off ? pieces[i % 6] : n - off;

        ck_assert_msg(snap_writer_state(w, state + off, k, err) == 0, "%s",
                      err);
        off += k;
    }
    ck_assert_msg(snap_writer_finish(w, err) == 0, "%s", err);
    snap_meta_release(&m);
}

static void standard_archive(size_t n)
{
    unsigned char *state = malloc(n + 1);

    REQUIRE(state != NULL);
    fill_random(state, n, n);
    write_archive(state, n);
    free(state);
}

static void round_trip(size_t n)
{
    unsigned char *state = malloc(n + 1);

    REQUIRE(state != NULL);
    fill_random(state, n, n + 1);
    write_archive(state, n);
    ck_assert_msg(snap_read_mem(arc.p, arc.len, state_fn, &got, &rm, err) ==
                      0,
                  "%s", err);
    ck_assert_uint_eq(got.len, n);
    ck_assert(n == 0 || memcmp(got.p, state, n) == 0);
    ck_assert_str_eq(rm.id, "2-13-1602222343947");
    ck_assert_uint_eq(rm.size, n);
    ck_assert_uint_eq(rm.index, 13);
    ck_assert_uint_eq(rm.term, 2);
    ck_assert_uint_eq(rm.version, 1);
    ck_assert_uint_eq(rm.format_version, 1);
    ck_assert_uint_eq(rm.configuration_index, 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
                         json_object_get(rm.configuration, "Servers"), 0),
                         "Address")),
                     "127.0.0.1:8300");
    free(state);
}

/* The whole gzip'd input through snap_read_mem: must fail with
 * ERR_PARSE and a message containing frag. */
static void read_fails(const void *p, size_t n, const char *frag)
{
    struct snap_meta m;
    int rc;

    err[0] = '\0';
    rc = snap_read_mem(p, n, NULL, NULL, &m, err);
    ck_assert_msg(rc == ERR_PARSE, "rc %d (%s), want ERR_PARSE (%s)", rc,
                  err, frag);
    ck_assert_msg(strstr(err, frag) != NULL, "got \"%s\", want \"%s\"", err,
                  frag);
}

static void gunzip(const struct obuf *in, struct obuf *out)
{
    unsigned char buf[16384];
    z_stream z;
    int zr;

    memset(&z, 0, sizeof(z));
    REQUIRE(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    do {
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        zr = inflate(&z, Z_NO_FLUSH);
        REQUIRE(zr == Z_OK || zr == Z_STREAM_END);
        put(out, buf, sizeof(buf) - z.avail_out);
    } while (zr != Z_STREAM_END);
    REQUIRE(z.avail_in == 0);
    inflateEnd(&z);
}

static void gzip_to(const struct obuf *in, struct obuf *out)
{
    unsigned char buf[16384];
    z_stream z;
    int zr;

    memset(&z, 0, sizeof(z));
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = in->p;
    z.avail_in = (uInt)in->len;
    do {
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        zr = deflate(&z, Z_FINISH);
        REQUIRE(zr == Z_OK || zr == Z_STREAM_END);
        put(out, buf, sizeof(buf) - z.avail_out);
    } while (zr != Z_STREAM_END);
    deflateEnd(&z);
}

/* ---- hand-built archives ---- */

struct memb {
    const char *name;
    const char *data; /* NULL: a directory */
    size_t len;       /* of data */
};

static la_ssize_t tar_cb(struct archive *a, void *ud, const void *p,
                         size_t n)
{
    put(ud, p, n);
    return (la_ssize_t)n;
}

/* A plain tar of ms (ustar, no block padding) into tmp. */
static void build_tar(const struct memb *ms, size_t k)
{
    struct archive *a = archive_write_new();

    REQUIRE(archive_write_set_format_ustar(a) == ARCHIVE_OK);
    REQUIRE(archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK);
    REQUIRE(archive_write_open(a, &tmp, NULL, tar_cb, NULL) == ARCHIVE_OK);
    for (size_t i = 0; i < k; i++) {
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, ms[i].name);
        archive_entry_set_filetype(e, ms[i].data ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_size(e, ms[i].data ? (la_int64_t)ms[i].len : 0);
        REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
        if (ms[i].data != NULL && ms[i].len > 0)
            REQUIRE(archive_write_data(a, ms[i].data, ms[i].len) ==
                    (la_ssize_t)ms[i].len);
        archive_entry_free(e);
    }
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
}

static void build(const struct memb *ms, size_t k)
{
    build_tar(ms, k);
    gzip_to(&tmp, &arc);
}

static const char state_data[] = "some state bytes\n";

static char meta_buf[1024], sums_buf[256];

static void sha_hex(const void *p, size_t n, char *hex)
{
    unsigned char d[32];
    unsigned int dn = 0;

    REQUIRE(EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL) == 1);
    for (unsigned int i = 0; i < dn; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
}

/* meta.json with these Version/Format/FormatVersion/Size fragments. */
static const char *meta_text(const char *extra, size_t size)
{
    snprintf(meta_buf, sizeof(meta_buf),
             "{\"Version\":1,\"ID\":\"2-13-1\",\"Index\":13,\"Term\":2,"
             "\"Configuration\":{\"Servers\":[]},\"ConfigurationIndex\":1,"
             "\"Size\":%zu%s}\n",
             size, extra);
    return meta_buf;
}

static const char *sums_text(const char *meta, const char *state, size_t n)
{
    char h1[65], h2[65];

    sha_hex(meta, strlen(meta), h1);
    sha_hex(state, n, h2);
    snprintf(sums_buf, sizeof(sums_buf), "%s  meta.json\n%s  state.bin\n",
             h1, h2);
    return sums_buf;
}

#define OURS ",\"Format\":\"proconsul-state\",\"FormatVersion\":1"

/* The three members as the writer makes them, from a meta.json text. */
static void build_with_meta(const char *meta)
{
    char m[1024];
    struct memb ms[3];

    snprintf(m, sizeof(m), "%s", meta);
    ms[0] = (struct memb){"meta.json", m, strlen(m)};
    ms[1] = (struct memb){"state.bin", state_data, strlen(state_data)};
    ms[2] = (struct memb){"SHA256SUMS", sums_text(m, state_data,
                                                  strlen(state_data)),
                          0};
    ms[2].len = strlen(ms[2].data);
    build(ms, 3);
}

static void build_with_sums(const char *sums)
{
    const char *m = meta_text(OURS, strlen(state_data));
    struct memb ms[3] = {
        {"meta.json", m, strlen(m)},
        {"state.bin", state_data, strlen(state_data)},
        {"SHA256SUMS", sums, strlen(sums)},
    };

    build(ms, 3);
}

/* The standard members, in order, with one change. */
static void build_members(const char *const *order, size_t k)
{
    const char *m = meta_text(OURS, strlen(state_data));
    const char *s = sums_text(m, state_data, strlen(state_data));
    struct memb ms[8];

    for (size_t i = 0; i < k; i++) {
        const char *d = strcmp(order[i], "meta.json") == 0   ? m
                        : strcmp(order[i], "SHA256SUMS") == 0 ? s
                                                              : state_data;

        ms[i] = (struct memb){order[i], d, strlen(d)};
    }
    build(ms, k);
}

/* ---- round trips ---- */

START_TEST(round_trip_empty)
{
    round_trip(0);
}
END_TEST

START_TEST(round_trip_one_byte)
{
    round_trip(1);
}
END_TEST

START_TEST(round_trip_one_mib_odd_pieces)
{
    round_trip(1u << 20);
}
END_TEST

START_TEST(round_trip_through_fd)
{
    FILE *f = tmpfile();
    unsigned char state[5000];
    struct snap_meta m;

    REQUIRE(f != NULL);
    fill_random(state, sizeof(state), 9);
    write_archive(state, sizeof(state));
    REQUIRE(fwrite(arc.p, 1, arc.len, f) == arc.len && fflush(f) == 0);
    REQUIRE(lseek(fileno(f), 0, SEEK_SET) == 0);
    ck_assert_msg(snap_read_fd(fileno(f), state_fn, &got, &rm, err) == 0,
                  "%s", err);
    ck_assert_uint_eq(got.len, sizeof(state));
    ck_assert(memcmp(got.p, state, sizeof(state)) == 0);
    /* verify only */
    REQUIRE(lseek(fileno(f), 0, SEEK_SET) == 0);
    ck_assert_int_eq(snap_read_fd(fileno(f), NULL, NULL, &m, err), 0);
    snap_meta_release(&m);
    fclose(f);
}
END_TEST

/* What Consul's reader expects: three ustar members in order, meta.json
 * as Go writes it, SHA256SUMS lines, the tar ending right after its two
 * zero blocks (no block padding) inside the gzip stream. */
START_TEST(container_is_consuls)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    static const char *const want[] = {"meta.json", "state.bin",
                                       "SHA256SUMS"};
    char buf[4096], h[65];
    la_ssize_t n;
    size_t tar_len = 0;
    json_t *o;

    standard_archive(1000);
    gunzip(&arc, &tmp);
    REQUIRE(archive_read_support_format_tar(a) == ARCHIVE_OK);
    REQUIRE(archive_read_open_memory(a, tmp.p, tmp.len) == ARCHIVE_OK);
    for (int i = 0; i < 3; i++) {
        REQUIRE(archive_read_next_header(a, &e) == ARCHIVE_OK);
        ck_assert_str_eq(archive_entry_pathname(e), want[i]);
        ck_assert_int_eq(archive_entry_filetype(e), AE_IFREG);
        ck_assert_int_eq(archive_entry_perm(e), 0600);
        tar_len += 512 + ((size_t)archive_entry_size(e) + 511) / 512 * 512;
        n = archive_read_data(a, buf, sizeof(buf) - 1);
        REQUIRE(n >= 0);
        buf[n] = '\0';
        if (i == 0) {
            ck_assert(n > 0 && buf[n - 1] == '\n');
            o = json_loads(buf, 0, NULL);
            REQUIRE(o != NULL);
            ck_assert_int_eq(json_integer_value(json_object_get(o, "Size")),
                             1000);
            ck_assert_str_eq(json_string_value(json_object_get(o, "Format")),
                             SNAP_FORMAT);
            ck_assert_ptr_nonnull(json_object_get(o, "ConfigurationIndex"));
            json_decref(o);
            sha_hex(buf, (size_t)n, h);
        } else if (i == 2) {
            ck_assert_int_eq(n, 2 * (64 + 2) + 10 + 10);
            ck_assert(strncmp(buf, h, 64) == 0);
            ck_assert(strncmp(buf + 64, "  meta.json\n", 12) == 0);
            ck_assert(strncmp(buf + 66 + 64 + 10, "  state.bin\n", 12) == 0);
        }
    }
    ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_EOF);
    archive_read_free(a);
    ck_assert_uint_eq(tmp.len, tar_len + 1024);
}
END_TEST

/* ---- the writer's contract ---- */

START_TEST(writer_refuses_more_than_size)
{
    struct snap_meta m;
    struct snap_writer *w;

    make_meta(&m, 10);
    ck_assert_int_eq(snap_writer_new(&m, out_fn, &arc, &w, err), 0);
    ck_assert_int_eq(snap_writer_state(w, "0123456", 7, err), 0);
    ck_assert_int_eq(snap_writer_state(w, "0123", 4, err), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "would exceed the 10 bytes"));
    /* the refused piece changed nothing */
    ck_assert_int_eq(snap_writer_state(w, "789", 3, err), 0);
    ck_assert_int_eq(snap_writer_state(w, "x", 1, err), ERR_INVAL);
    ck_assert_msg(snap_writer_finish(w, err) == 0, "%s", err);
    ck_assert_int_eq(snap_read_mem(arc.p, arc.len, state_fn, &got, &rm, err),
                     0);
    ck_assert_uint_eq(got.len, 10);
    ck_assert(memcmp(got.p, "0123456789", 10) == 0);
    snap_meta_release(&m);
}
END_TEST

START_TEST(writer_finish_refuses_fewer)
{
    struct snap_meta m;
    struct snap_writer *w;

    make_meta(&m, 10);
    ck_assert_int_eq(snap_writer_new(&m, out_fn, &arc, &w, err), 0);
    ck_assert_int_eq(snap_writer_state(w, "01234", 5, err), 0);
    ck_assert_int_eq(snap_writer_finish(w, err), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "state.bin has 5 of the 10 bytes"));
    /* whatever reached the sink is not a valid snapshot */
    ck_assert_int_ne(snap_read_mem(arc.p, arc.len, NULL, NULL, &rm, err), 0);
    snap_meta_release(&m);
}
END_TEST

static int refusing_out(void *ctx, const void *p, size_t n)
{
    int *budget = ctx;

    return (*budget -= 1) < 0 ? -1 : 0;
}

START_TEST(writer_sink_error_is_io)
{
    static unsigned char big[1u << 20];
    struct snap_meta m;
    struct snap_writer *w;
    int budget = 1, rc = 0;

    fill_random(big, sizeof(big), 3);
    make_meta(&m, 8 * sizeof(big));
    ck_assert_int_eq(snap_writer_new(&m, refusing_out, &budget, &w, err), 0);
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = snap_writer_state(w, big, sizeof(big), err);
    ck_assert_int_eq(rc, ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "writing snapshot"));
    ck_assert_int_ne(snap_writer_finish(w, err), 0);
    snap_writer_free(NULL);
    snap_meta_release(&m);
}
END_TEST

START_TEST(writer_free_abandons)
{
    struct snap_meta m;
    struct snap_writer *w;
    size_t before;

    make_meta(&m, 10);
    ck_assert_int_eq(snap_writer_new(&m, out_fn, &arc, &w, err), 0);
    ck_assert_int_eq(snap_writer_state(w, "01234", 5, err), 0);
    before = arc.len;
    snap_writer_free(w);
    ck_assert_uint_eq(arc.len, before);
    snap_meta_release(&m);
}
END_TEST

/* ---- damaged input ---- */

START_TEST(truncated_anywhere)
{
    standard_archive(20000);
    read_fails(arc.p, 0, "snapshot archive is empty");
    for (size_t n = 1; n < arc.len; n += 97)
        read_fails(arc.p, n, "snapshot archive is truncated");
    read_fails(arc.p, arc.len - 1, "snapshot archive is truncated");
}
END_TEST

/* A flip must never yield different content: it is refused, or (where
 * gzip reads no bit: MTIME, XFL and OS in header bytes 4-9, the padding
 * bits of stored-block headers and after the last block) the same
 * state and meta come back. Such spots are few. */
static bool flip_once(size_t off, const unsigned char *want, size_t n)
{
    unsigned char bit = (unsigned char)(1u << (off % 8));
    struct snap_meta m;
    int rc;

    arc.p[off] ^= bit;
    got.len = 0;
    err[0] = '\0';
    rc = snap_read_mem(arc.p, arc.len, state_fn, &got, &m, err);
    arc.p[off] ^= bit;
    if (rc != 0) {
        ck_assert_msg(rc == ERR_PARSE && err[0] != '\0',
                      "offset %zu: rc %d", off, rc);
        return false;
    }
    ck_assert_msg(got.len == n && memcmp(got.p, want, n) == 0 &&
                      m.size == n && m.index == 13 &&
                      strcmp(m.id, "2-13-1602222343947") == 0,
                  "offset %zu: accepted with different content", off);
    snap_meta_release(&m);
    return true;
}

START_TEST(bit_flips_anywhere)
{
    unsigned char want[3000];
    size_t tried = 0, passed = 0;

    fill_random(want, sizeof(want), sizeof(want));
    standard_archive(sizeof(want));
    for (size_t off = 0; off < arc.len; off += off < 64 ? 1 : 7) {
        bool ok = flip_once(off, want, sizeof(want));

        ck_assert_msg(!ok || (off >= 4 && off <= 9) || off + 9 > arc.len ||
                          off > 100,
                      "offset %zu: flip accepted", off);
        tried++;
        passed += ok;
    }
    for (size_t off = 4; off <= 9; off++)
        ck_assert(flip_once(off, want, sizeof(want)));
    ck_assert_msg(passed <= 6 + tried / 50, "%zu of %zu flips accepted",
                  passed, tried);
}
END_TEST

START_TEST(bit_flip_messages)
{
    standard_archive(3000);
    arc.p[arc.len - 6] ^= 1; /* the CRC-32 */
    read_fails(arc.p, arc.len, "corrupt (gzip: incorrect data check)");
    arc.p[arc.len - 6] ^= 1;
    arc.p[arc.len - 2] ^= 1; /* ISIZE */
    read_fails(arc.p, arc.len, "corrupt (gzip: incorrect length check)");
}
END_TEST

START_TEST(tar_checksum)
{
    const char *m = meta_text(OURS, strlen(state_data));
    struct memb ms[3] = {
        {"meta.json", m, strlen(m)},
        {"state.bin", state_data, strlen(state_data)},
        {"SHA256SUMS", sums_text(m, state_data, strlen(state_data)), 0},
    };

    ms[2].len = strlen(ms[2].data);
    build_tar(ms, 3);
    tmp.p[1024 + 10] ^= 4; /* a name byte of state.bin's header */
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "corrupt (tar: ");
}
END_TEST

START_TEST(trailing_bytes)
{
    standard_archive(100);
    put(&arc, "", 1);
    read_fails(arc.p, arc.len, "trailing data after the snapshot archive");
    arc.len--;
    put(&arc, "garbage", 7);
    read_fails(arc.p, arc.len, "trailing data after the snapshot archive");
}
END_TEST

START_TEST(second_gzip_member)
{
    size_t n;

    standard_archive(100);
    n = arc.len;
    put(&arc, arc.p, n);
    read_fails(arc.p, arc.len, "trailing data after the snapshot archive");
}
END_TEST

START_TEST(tar_padding_inside_gzip)
{
    static const char zeros[512];

    build_members((const char *const[]){"meta.json", "state.bin",
                                        "SHA256SUMS"},
                  3);
    ck_assert_int_eq(snap_read_mem(arc.p, arc.len, NULL, NULL, &rm, err), 0);
    arc.len = 0;
    put(&tmp, zeros, sizeof(zeros));
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "512 unread uncompressed bytes remain");
}
END_TEST

START_TEST(tar_end_marker_incomplete)
{
    build_members((const char *const[]){"meta.json", "state.bin",
                                        "SHA256SUMS"},
                  3);
    tmp.len -= 512;
    arc.len = 0;
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "incomplete tar end marker");
    tmp.len -= 512;
    arc.len = 0;
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "snapshot archive is truncated");
}
END_TEST

START_TEST(empty_and_not_gzip)
{
    static const char text[] = "this is not a snapshot at all\n";
    unsigned char zero[1] = {0};

    read_fails("", 0, "snapshot archive is empty");
    read_fails(text, strlen(text), "snapshot archive is not gzip-compressed");
    read_fails(zero, 1, "snapshot archive is not gzip-compressed");
    read_fails("\x1f", 1, "snapshot archive is truncated");
    /* gzip, but of no tar */
    put(&tmp, text, strlen(text));
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "corrupt (tar: ");
}
END_TEST

/* ---- members ---- */

#define ORDER(...) (const char *const[]){__VA_ARGS__}, \
    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

START_TEST(hand_built_is_accepted)
{
    build_members(ORDER("meta.json", "state.bin", "SHA256SUMS"));
    ck_assert_msg(snap_read_mem(arc.p, arc.len, state_fn, &got, &rm, err) ==
                      0,
                  "%s", err);
    ck_assert_uint_eq(got.len, strlen(state_data));
    ck_assert_str_eq(rm.id, "2-13-1");
}
END_TEST

START_TEST(extra_member)
{
    build_members(ORDER("meta.json", "state.bin", "SHA256SUMS", "extra"));
    read_fails(arc.p, arc.len, "unexpected file 'extra' in snapshot");
    arc.len = tmp.len = 0;
    build_members(ORDER("meta.json", "notes.txt", "state.bin",
                        "SHA256SUMS"));
    read_fails(arc.p, arc.len, "unexpected file 'notes.txt' in snapshot");
}
END_TEST

START_TEST(missing_member)
{
    build_members(ORDER("meta.json", "state.bin"));
    read_fails(arc.p, arc.len, "file 'SHA256SUMS' is missing from snapshot");
    arc.len = tmp.len = 0;
    build_members(ORDER("meta.json", "SHA256SUMS"));
    read_fails(arc.p, arc.len, "expected 'state.bin' but found "
                               "'SHA256SUMS' in snapshot (missing or out "
                               "of order)");
    arc.len = tmp.len = 0;
    build_members(ORDER("state.bin", "SHA256SUMS"));
    read_fails(arc.p, arc.len, "expected 'meta.json' but found 'state.bin'");
    arc.len = tmp.len = 0;
    build_tar(NULL, 0);
    gzip_to(&tmp, &arc);
    read_fails(arc.p, arc.len, "file 'meta.json' is missing from snapshot");
}
END_TEST

START_TEST(members_out_of_order)
{
    build_members(ORDER("meta.json", "SHA256SUMS", "state.bin"));
    read_fails(arc.p, arc.len, "expected 'state.bin' but found "
                               "'SHA256SUMS'");
    arc.len = tmp.len = 0;
    build_members(ORDER("SHA256SUMS", "meta.json", "state.bin"));
    read_fails(arc.p, arc.len, "expected 'meta.json' but found "
                               "'SHA256SUMS'");
}
END_TEST

START_TEST(repeated_member)
{
    build_members(ORDER("meta.json", "meta.json", "state.bin",
                        "SHA256SUMS"));
    read_fails(arc.p, arc.len, "file 'meta.json' appears twice in snapshot");
    arc.len = tmp.len = 0;
    build_members(ORDER("meta.json", "state.bin", "SHA256SUMS",
                        "SHA256SUMS"));
    read_fails(arc.p, arc.len, "file 'SHA256SUMS' appears twice");
}
END_TEST

START_TEST(member_not_regular)
{
    const char *m = meta_text(OURS, 0);
    struct memb ms[2] = {{"meta.json", m, strlen(m)},
                         {"state.bin", NULL, 0}};

    build(ms, 2);
    read_fails(arc.p, arc.len, "'state.bin' in snapshot is not a regular "
                               "file");
}
END_TEST

/* ---- SHA256SUMS ---- */

START_TEST(wrong_hash)
{
    char s[256];

    build_members(ORDER("meta.json", "state.bin", "SHA256SUMS"));
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%s", sums_text(meta_text(OURS, 17), state_data,
                                           strlen(state_data)));
    s[76 + 3] = s[76 + 3] == '0' ? '1' : '0';
    build_with_sums(s);
    read_fails(arc.p, arc.len, "hash check failed for 'state.bin'");
    arc.len = tmp.len = 0;
    s[76 + 3] = s[76 + 3] == '0' ? '1' : '0';
    s[0] = s[0] == 'a' ? 'b' : 'a';
    build_with_sums(s);
    read_fails(arc.p, arc.len, "hash check failed for 'meta.json'");
}
END_TEST

START_TEST(sums_strict)
{
    char good[256], s[400];
    size_t half;

    snprintf(good, sizeof(good), "%s", sums_text(meta_text(OURS, 17),
                                                 state_data, 17));
    half = strlen(good) / 2;
    /* the two lines swapped are fine (Go's map order) */
    snprintf(s, sizeof(s), "%s%.*s", good + half, (int)half, good);
    build_with_sums(s);
    ck_assert_msg(snap_read_mem(arc.p, arc.len, NULL, NULL, &rm, err) == 0,
                  "%s", err);
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%.*s", (int)half, good);
    build_with_sums(s);
    read_fails(arc.p, arc.len, "SHA256SUMS has no hash for 'state.bin'");
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%.*s%.*s", (int)half, good, (int)half, good);
    build_with_sums(s);
    read_fails(arc.p, arc.len, "SHA256SUMS lists 'meta.json' twice");
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%.*s", (int)(strlen(good) - 1), good);
    build_with_sums(s);
    read_fails(arc.p, arc.len, "SHA256SUMS line 2 is malformed");
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%s", good);
    s[5] = 'G';
    build_with_sums(s);
    read_fails(arc.p, arc.len, "SHA256SUMS line 1 is malformed");
    arc.len = tmp.len = 0;
    snprintf(s, sizeof(s), "%s%.64s  other\n", good, good);
    build_with_sums(s);
    read_fails(arc.p, arc.len, "SHA256SUMS lists unexpected file 'other'");
}
END_TEST

/* ---- meta.json ---- */

START_TEST(size_mismatch)
{
    build_with_meta(meta_text(OURS, strlen(state_data) + 1));
    read_fails(arc.p, arc.len, "state.bin is 17 bytes but meta.json says 18");
}
END_TEST

START_TEST(newer_versions)
{
    char m[1024];

    snprintf(m, sizeof(m), "%s", meta_text(OURS, 17));
    memcpy(strstr(m, "\"Version\":1"), "\"Version\":2", 11);
    build_with_meta(m);
    read_fails(arc.p, arc.len,
               "snapshot version 2 is newer than this build knows (1)");
    arc.len = tmp.len = 0;
    build_with_meta(meta_text(",\"Format\":\"proconsul-state\","
                              "\"FormatVersion\":7",
                              17));
    read_fails(arc.p, arc.len, "snapshot format version 7 is newer than "
                               "this build knows (1)");
    arc.len = tmp.len = 0;
    build_with_meta(meta_text(",\"Format\":\"proconsul-state\","
                              "\"FormatVersion\":2",
                              17));
    read_fails(arc.p, arc.len, "snapshot format version 2 is newer");
}
END_TEST

START_TEST(foreign_format)
{
    build_with_meta(meta_text(",\"Format\":\"consul\",\"FormatVersion\":1",
                              17));
    read_fails(arc.p, arc.len,
               "snapshot format 'consul' is not 'proconsul-state'");
    arc.len = tmp.len = 0;
    build_with_meta(meta_text("", 17));
    read_fails(arc.p, arc.len, "not a proconsul snapshot");
}
END_TEST

START_TEST(meta_malformed)
{
    build_with_meta("{\"Version\":1,");
    read_fails(arc.p, arc.len, "meta.json is not valid JSON");
    arc.len = tmp.len = 0;
    build_with_meta("[1]");
    read_fails(arc.p, arc.len, "meta.json is not a JSON object");
    arc.len = tmp.len = 0;
    build_with_meta(meta_text(OURS ",\"Index\":-1", 17));
    read_fails(arc.p, arc.len, "meta.json is not valid JSON"); /* dup key */
    arc.len = tmp.len = 0;
    build_with_meta("{\"Version\":1,\"ID\":\"x\",\"Index\":\"13\"" OURS
                    "}");
    read_fails(arc.p, arc.len, "'Index' is not a non-negative integer");
    arc.len = tmp.len = 0;
    build_with_meta("{\"Version\":1,\"ID\":\"x\",\"Index\":13" OURS "}");
    read_fails(arc.p, arc.len, "'Term' is missing");
}
END_TEST

START_TEST(meta_too_large)
{
    size_t n = (1u << 20) + 1;
    char *big = malloc(n);
    struct memb ms[1];

    REQUIRE(big != NULL);
    memset(big, ' ', n);
    ms[0] = (struct memb){"meta.json", big, n};
    build(ms, 1);
    read_fails(arc.p, arc.len, "meta.json is too large (1048577 bytes");
    free(big);
}
END_TEST

/* ---- the state callback ---- */

static int abort_state(void *ctx, const void *p, size_t n)
{
    (*(int *)ctx)++;
    return ERR_NOMEM;
}

START_TEST(state_callback_aborts)
{
    struct snap_meta m;
    int calls = 0;

    standard_archive(200000);
    ck_assert_int_eq(snap_read_mem(arc.p, arc.len, abort_state, &calls, &m,
                                   err),
                     ERR_NOMEM);
    ck_assert_int_eq(calls, 1);
    ck_assert_ptr_nonnull(strstr(err, "state.bin consumer failed"));
}
END_TEST

/* ---- snap_read_meta_fd ---- */

static const char consul_meta[] =
    "{\"Version\":1,\"ID\":\"2-13-1602222343947\",\"Index\":13,\"Term\":2,"
    "\"Peers\":\"ka4xMjcuMC4wLjE6ODMwMA==\",\"Configuration\":{\"Servers\":"
    "[{\"Suffrage\":0,\"ID\":\"a577b288-b354-770e-e909-da0972eb20e8\","
    "\"Address\":\"127.0.0.1:8300\"}]},\"ConfigurationIndex\":1,"
    "\"Size\":17}\n";

static int to_file(const struct obuf *b)
{
    FILE *f = tmpfile();
    int fd;

    REQUIRE(f != NULL);
    REQUIRE(fwrite(b->p, 1, b->len, f) == b->len && fflush(f) == 0);
    fd = dup(fileno(f));
    fclose(f);
    REQUIRE(fd >= 0 && lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

START_TEST(meta_fd_reads_consuls_shape)
{
    json_t *raw = NULL;
    int fd;

    build_with_meta(consul_meta);
    fd = to_file(&arc);
    ck_assert_msg(snap_read_meta_fd(fd, &rm, &raw, err) == 0, "%s", err);
    ck_assert_str_eq(rm.id, "2-13-1602222343947");
    ck_assert_uint_eq(rm.size, 17);
    ck_assert_uint_eq(rm.index, 13);
    ck_assert_uint_eq(rm.term, 2);
    ck_assert_uint_eq(rm.version, 1);
    ck_assert_uint_eq(rm.format_version, 0);
    ck_assert_uint_eq(rm.configuration_index, 1);
    ck_assert_ptr_nonnull(rm.configuration);
    ck_assert_str_eq(json_string_value(json_object_get(raw, "Peers")),
                     "ka4xMjcuMC4wLjE6ODMwMA==");
    ck_assert_ptr_null(json_object_get(raw, "Format"));
    json_decref(raw);
    /* the strict reader refuses it, naming why */
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    snap_meta_release(&rm);
    ck_assert_int_eq(snap_read_fd(fd, NULL, NULL, &rm, err), ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err, "not a proconsul snapshot"));
    close(fd);
}
END_TEST

START_TEST(meta_fd_reads_ours_and_partial)
{
    json_t *raw = NULL;
    int fd;

    standard_archive(4321);
    fd = to_file(&arc);
    ck_assert_msg(snap_read_meta_fd(fd, &rm, NULL, err) == 0, "%s", err);
    ck_assert_uint_eq(rm.size, 4321);
    ck_assert_uint_eq(rm.format_version, 1);
    close(fd);
    snap_meta_release(&rm);
    /* lenient: odd types are skipped, only meta.json is needed */
    arc.len = tmp.len = 0;
    build_members(ORDER("meta.json"));
    arc.len = tmp.len = 0;
    {
        static const char m[] = "{\"ID\":\"x\",\"Index\":\"13\",\"Term\":4}";
        struct memb ms[1] = {{"meta.json", m, sizeof(m) - 1}};

        build(ms, 1);
    }
    fd = to_file(&arc);
    ck_assert_msg(snap_read_meta_fd(fd, &rm, &raw, err) == 0, "%s", err);
    ck_assert_str_eq(rm.id, "x");
    ck_assert_uint_eq(rm.index, 0);
    ck_assert_uint_eq(rm.term, 4);
    ck_assert_ptr_null(rm.configuration);
    json_decref(raw);
    close(fd);
}
END_TEST

START_TEST(meta_fd_refuses)
{
    int fd;
    json_t *raw = (json_t *)&fd;

    build_members(ORDER("state.bin", "meta.json"));
    fd = to_file(&arc);
    ck_assert_int_eq(snap_read_meta_fd(fd, &rm, &raw, err), ERR_PARSE);
    ck_assert_ptr_null(raw);
    ck_assert_ptr_nonnull(strstr(err, "does not start with meta.json "
                                      "(found 'state.bin')"));
    close(fd);
    arc.len = tmp.len = 0;
    build_with_meta("not json");
    fd = to_file(&arc);
    ck_assert_int_eq(snap_read_meta_fd(fd, &rm, NULL, err), ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err, "meta.json is not valid JSON"));
    close(fd);
    put(&got, "plain text", 10);
    fd = to_file(&got);
    ck_assert_int_eq(snap_read_meta_fd(fd, &rm, NULL, err), ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(err, "not gzip-compressed"));
    close(fd);
}
END_TEST

static Suite *snap_suite(void)
{
    Suite *s = suite_create("snap");
    TCase *tc = tcase_create("core");
    TCase *big = tcase_create("damage");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip_empty);
    tcase_add_test(tc, round_trip_one_byte);
    tcase_add_test(tc, round_trip_one_mib_odd_pieces);
    tcase_add_test(tc, round_trip_through_fd);
    tcase_add_test(tc, container_is_consuls);
    tcase_add_test(tc, writer_refuses_more_than_size);
    tcase_add_test(tc, writer_finish_refuses_fewer);
    tcase_add_test(tc, writer_sink_error_is_io);
    tcase_add_test(tc, writer_free_abandons);
    tcase_add_test(tc, bit_flip_messages);
    tcase_add_test(tc, tar_checksum);
    tcase_add_test(tc, trailing_bytes);
    tcase_add_test(tc, second_gzip_member);
    tcase_add_test(tc, tar_padding_inside_gzip);
    tcase_add_test(tc, tar_end_marker_incomplete);
    tcase_add_test(tc, empty_and_not_gzip);
    tcase_add_test(tc, hand_built_is_accepted);
    tcase_add_test(tc, extra_member);
    tcase_add_test(tc, missing_member);
    tcase_add_test(tc, members_out_of_order);
    tcase_add_test(tc, repeated_member);
    tcase_add_test(tc, member_not_regular);
    tcase_add_test(tc, wrong_hash);
    tcase_add_test(tc, sums_strict);
    tcase_add_test(tc, size_mismatch);
    tcase_add_test(tc, newer_versions);
    tcase_add_test(tc, foreign_format);
    tcase_add_test(tc, meta_malformed);
    tcase_add_test(tc, meta_too_large);
    tcase_add_test(tc, state_callback_aborts);
    tcase_add_test(tc, meta_fd_reads_consuls_shape);
    tcase_add_test(tc, meta_fd_reads_ours_and_partial);
    tcase_add_test(tc, meta_fd_refuses);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(big, setup, teardown);
    tcase_set_timeout(big, 120);
    tcase_add_test(big, truncated_anywhere);
    tcase_add_test(big, bit_flips_anywhere);
    suite_add_tcase(s, big);
    return s;
}

Suite *unit_suite(void)
{
    return snap_suite();
}

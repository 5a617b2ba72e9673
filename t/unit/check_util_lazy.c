/* check_util_lazy.c - libcurl and libarchive through the loading shims
 * (libcore/util_lazy.c): nothing loaded before the first call, then the
 * calls, the variadic ones included, reach the libraries. */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "util_lazy.h"

START_TEST(curl_loads_on_first_call)
{
    CURLU *u;
    char *host = NULL;

    ck_assert(!util_lazy_loaded(UTIL_LAZY_LIB_CURL));
    u = curl_url();
    ck_assert_ptr_nonnull(u);
    ck_assert(util_lazy_loaded(UTIL_LAZY_LIB_CURL));
    ck_assert_int_eq(curl_url_set(u, CURLUPART_URL, "http://h.example:81/x",
                                  0), CURLUE_OK);
    ck_assert_int_eq(curl_url_get(u, CURLUPART_HOST, &host, 0), CURLUE_OK);
    ck_assert_str_eq(host, "h.example");
    curl_free(host);
    curl_url_cleanup(u);
    ck_assert(!util_lazy_loaded(UTIL_LAZY_LIB_ARCHIVE));
}
END_TEST

START_TEST(curl_variadic_forwarding)
{
    CURL *e;
    char *priv = NULL;
    static char tag[] = "tag";

    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    e = curl_easy_init();
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(curl_easy_setopt(e, CURLOPT_PRIVATE, tag), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1500L),
                     CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                      (curl_off_t)3), CURLE_OK);
    ck_assert_int_eq(curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv),
                     CURLE_OK);
    ck_assert_ptr_eq(priv, tag);
    ck_assert_str_eq(curl_easy_strerror(CURLE_OK), "No error");
    curl_easy_cleanup(e);
    curl_global_cleanup();
}
END_TEST

struct mem {
    char buf[4096];
    size_t len, off;
};

static la_ssize_t mem_write(struct archive *a, void *ctx, const void *p,
                            size_t n)
{
    struct mem *m = ctx;

    if (m->len + n > sizeof(m->buf)) {
        archive_set_error(a, ENOSPC, "full after %zu bytes", m->len);
        return -1;
    }
    memcpy(m->buf + m->len, p, n);
    m->len += n;
    return (la_ssize_t)n;
}

static la_ssize_t mem_read(struct archive *a, void *ctx, const void **p)
{
    struct mem *m = ctx;
    size_t n = m->len - m->off;

    (void)a;
    *p = m->buf + m->off;
    m->off = m->len;
    return (la_ssize_t)n;
}

START_TEST(archive_round_trip)
{
    struct mem m = {.len = 0};
    struct archive *w, *r;
    struct archive_entry *e;
    char data[16];

    ck_assert(!util_lazy_loaded(UTIL_LAZY_LIB_ARCHIVE));
    w = archive_write_new();
    ck_assert(util_lazy_loaded(UTIL_LAZY_LIB_ARCHIVE));
    archive_write_add_filter_gzip(w);
    archive_write_set_format_pax_restricted(w);
    archive_write_set_bytes_in_last_block(w, 1);
    ck_assert_int_eq(archive_write_open(w, &m, NULL, mem_write, NULL),
                     ARCHIVE_OK);
    e = archive_entry_new();
    archive_entry_set_pathname(e, "meta.json");
    archive_entry_set_size(e, 5);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ck_assert_int_eq(archive_write_header(w, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(w, "hello", 5), 5);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);

    r = archive_read_new();
    archive_read_support_format_tar(r);
    ck_assert_int_eq(archive_read_open(r, &m, NULL, mem_read, NULL),
                     ARCHIVE_FATAL); /* gzip filter not enabled */
    archive_read_free(r);
    m.off = 0;
    /* A plain tar reads back: write one without the filter. */
    m.len = 0;
    w = archive_write_new();
    archive_write_set_format_pax_restricted(w);
    archive_write_set_bytes_in_last_block(w, 1);
    ck_assert_int_eq(archive_write_open(w, &m, NULL, mem_write, NULL),
                     ARCHIVE_OK);
    e = archive_entry_new();
    archive_entry_set_pathname(e, "meta.json");
    archive_entry_set_size(e, 5);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    ck_assert_int_eq(archive_write_header(w, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(w, "hello", 5), 5);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
    r = archive_read_new();
    archive_read_support_format_tar(r);
    ck_assert_int_eq(archive_read_open(r, &m, NULL, mem_read, NULL),
                     ARCHIVE_OK);
    ck_assert_int_eq(archive_read_next_header(r, &e), ARCHIVE_OK);
    ck_assert_str_eq(archive_entry_pathname(e), "meta.json");
    ck_assert_int_eq(archive_entry_size(e), 5);
    ck_assert_int_eq(archive_read_data(r, data, sizeof(data)), 5);
    ck_assert(memcmp(data, "hello", 5) == 0);
    archive_read_free(r);
}
END_TEST

START_TEST(archive_set_error_formats)
{
    struct archive *a = archive_write_new();

    archive_set_error(a, EINVAL, "bad %s %d", "piece", 7);
    ck_assert_str_eq(archive_error_string(a), "bad piece 7");
    archive_write_free(a);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("util_lazy");
    TCase *t = tcase_create("lazy");

    tcase_add_test(t, curl_loads_on_first_call);
    tcase_add_test(t, curl_variadic_forwarding);
    tcase_add_test(t, archive_round_trip);
    tcase_add_test(t, archive_set_error_formats);
    suite_add_tcase(s, t);
    return s;
}

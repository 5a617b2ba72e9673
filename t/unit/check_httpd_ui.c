/* check_httpd_ui.c - the web UI's file names, content types and the
 * compiled-in files (libcore/httpd_ui.c). */
#include <string.h>

#include "httpd_int.h"
#include "unit.h"

static bool ok(const char *s)
{
    return httpd_ui_name_ok(s, strlen(s));
}

START_TEST(names_are_one_plain_segment)
{
    ck_assert(ok("index.html"));
    ck_assert(ok("app.js"));
    ck_assert(ok("logo-2_x.svg"));
    ck_assert(ok("a"));
}
END_TEST

START_TEST(names_that_could_leave_the_dir_are_refused)
{
    static const char *const bad[] = {
        "", ".", "..", "../etc/passwd", "a/b", "/etc/passwd", ".hidden",
        "..%2f", "a\\b", "index.html/", "a b", "a\nb", "%2e%2e", "~root",
        "C:", "a?b", "a#b",
    };
    char longname[200];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!ok(bad[i]), "accepted '%s'", bad[i]);
    ck_assert(!httpd_ui_name_ok("a\0b", 3));
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert(!ok(longname));
    longname[128] = '\0';
    ck_assert(ok(longname));
}
END_TEST

START_TEST(content_types_by_extension)
{
    ck_assert_str_eq(httpd_ui_content_type("index.html"),
                     "text/html; charset=utf-8");
    ck_assert_str_eq(httpd_ui_content_type("app.js"),
                     "text/javascript; charset=utf-8");
    ck_assert_str_eq(httpd_ui_content_type("app.css"),
                     "text/css; charset=utf-8");
    ck_assert_str_eq(httpd_ui_content_type("x.svg"), "image/svg+xml");
    ck_assert_str_eq(httpd_ui_content_type("x.png"), "image/png");
    ck_assert_str_eq(httpd_ui_content_type("README"),
                     "application/octet-stream");
    ck_assert_str_eq(httpd_ui_content_type("x.html.bak"),
                     "application/octet-stream");
}
END_TEST

START_TEST(share_ui_is_compiled_in)
{
    static const char *const files[] = {"index.html", "app.js", "app.css"};
    const char *etag, *other;
    size_t len, len2;
    const char *d;

    for (size_t i = 0; i < 3; i++) {
        d = httpd_ui_embedded(files[i], strlen(files[i]), &len, &etag);
        ck_assert_msg(d != NULL, "%s not embedded", files[i]);
        ck_assert_uint_gt(len, 100);
        ck_assert_uint_gt(strlen(etag), 2);
        ck_assert(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
    }
    d = httpd_ui_embedded("index.html", 10, &len, &etag);
    ck_assert(strncmp(d, "<!DOCTYPE html>", 15) == 0);
    httpd_ui_embedded("app.js", 6, &len2, &other);
    ck_assert_str_ne(etag, other);
    ck_assert_ptr_null(httpd_ui_embedded("nope.js", 7, &len, &etag));
    ck_assert_ptr_null(httpd_ui_embedded("index.htm", 9, &len, &etag));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("httpd_ui");
    TCase *t = tcase_create("files");

    tcase_add_test(t, names_are_one_plain_segment);
    tcase_add_test(t, names_that_could_leave_the_dir_are_refused);
    tcase_add_test(t, content_types_by_extension);
    tcase_add_test(t, share_ui_is_compiled_in);
    suite_add_tcase(s, t);
    return s;
}

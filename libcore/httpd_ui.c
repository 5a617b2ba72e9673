/* httpd_ui.c - the web UI's static files under /ui/ (-ui, ui_config).
 *
 * Layer: http. Thread: loop only.
 * Owns: nothing; embedded files are const data, a file read from
 * ui_config.dir lives in the request pool.
 * Tests: t/t8301-ui.sh
 *
 * The files of share/ui/ are compiled in: the Makefile turns them into
 * build/gen/ui_assets.inc (scripts/gen-ui-assets.pl), so the binary
 * needs no install path. ui_config.dir (Consul's -ui-dir) serves a
 * directory instead, read on each request. Names are one path segment
 * of [A-Za-z0-9._-] not starting with '.', so no request can leave the
 * directory (no "..", no '/', no hidden file) whatever its escapes.
 */
#include "httpd_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One embedded file; etag is quoted, a digest of the content. */
struct ui_asset {
    const char *name;
    const unsigned char *data;
    size_t len;
    const char *etag;
};

/* Generated, not a libcore module (hence the angle brackets): defines
 * ui_assets[] from share/ui/. */
#include <ui_assets.inc>

#define N_ASSETS (sizeof(ui_assets) / sizeof(ui_assets[0]))
#define UI_MAX_FILE ((off_t)16 * 1024 * 1024)

/* Strict: only this origin's files and API, nothing inline, never in a
 * frame. */
static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool httpd_ui_enabled(const struct agent *a)
{
    return a->cfg.ui || a->cfg.ui_dir != NULL;
}

const char *httpd_ui_content_type(const char *name)
{
    static const struct { const char *ext, *type; } tab[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot != NULL && i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(dot, tab[i].ext) == 0)
            return tab[i].type;
    return "application/octet-stream";
}

bool httpd_ui_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static void security_headers(struct httpd_ctx *c)
{
    httpd_header(c, "Content-Security-Policy", csp);
    httpd_header(c, "X-Content-Type-Options", "nosniff");
    httpd_header(c, "X-Frame-Options", "DENY");
    httpd_header(c, "Referrer-Policy", "no-referrer");
}

static void send_file(struct httpd_ctx *c, const char *name,
                      const void *data, size_t len, const char *etag)
{
    const h2o_req_t *req = c->req;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);

    security_headers(c);
    /* revalidate on each load: an upgraded agent serves new files at
     * once, an unchanged one answers 304 */
    httpd_header(c, "Cache-Control", "no-cache");
    httpd_header(c, "ETag", etag);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;

        if (h2o_memis(v.base, v.len, etag, strlen(etag)) ||
            h2o_memis(v.base, v.len, H2O_STRLIT("*"))) {
            httpd_send_body(c, 304, NULL, "", 0);
            return;
        }
    }
    httpd_send_body(c, 200, httpd_ui_content_type(name), data, len);
}

static void not_found(struct httpd_ctx *c)
{
    security_headers(c);
    httpd_error(c, 404, "not_found", "Invalid URL path: no such UI file");
}

/* name from ui_config.dir: a regular file, symlinks not followed. */
static void serve_dir(struct httpd_ctx *c, const char *name)
{
    const char *dir = c->a->cfg.ui_dir;
    size_t plen = strlen(dir) + strlen(name) + 2;
    char *path = h2o_mem_alloc_pool(&c->req->pool, plen), *buf, etag[80];
    struct stat st;
    size_t got = 0;
    int fd;

    snprintf(path, plen, "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        not_found(c);
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > UI_MAX_FILE) {
        close(fd);
        not_found(c);
        return;
    }
    buf = h2o_mem_alloc_pool(&c->req->pool, (size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx\"",
             (unsigned long long)st.st_ino, (unsigned long long)got,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    send_file(c, name, buf, got, etag);
}

const void *httpd_ui_embedded(const char *name, size_t n, size_t *len,
                              const char **etag)
{
    for (size_t i = 0; i < N_ASSETS; i++) {
        if (strlen(ui_assets[i].name) == n &&
            memcmp(ui_assets[i].name, name, n) == 0) {
            *len = ui_assets[i].len;
            *etag = ui_assets[i].etag;
            return ui_assets[i].data;
        }
    }
    return NULL;
}

void httpd_ui(struct httpd_ctx *c, const char *path, size_t n)
{
    const void *data;
    const char *etag;
    size_t len;
    const char *name;
    size_t nlen;

    if (n == 3) { /* "/ui" */
        httpd_header(c, "Location", "/ui/");
        httpd_send_body(c, 301, "text/html; charset=utf-8", "", 0);
        return;
    }
    if ((c->method & (HTTPD_GET | HTTPD_HEAD)) == 0) {
        httpd_header(c, "Allow", "GET,HEAD");
        httpd_error(c, 405, "method_not_allowed", "method not allowed");
        return;
    }
    name = path + 4;
    nlen = n - 4;
    if (nlen == 0) {
        name = "index.html";
        nlen = strlen(name);
    }
    if (!httpd_ui_name_ok(name, nlen)) {
        not_found(c);
        return;
    }
    if (c->a->cfg.ui_dir != NULL) {
        serve_dir(c, h2o_strdup(&c->req->pool, name, nlen).base);
        return;
    }
    data = httpd_ui_embedded(name, nlen, &len, &etag);
    if (data == NULL) {
        not_found(c);
        return;
    }
    send_file(c, h2o_strdup(&c->req->pool, name, nlen).base, data, len,
              etag);
}

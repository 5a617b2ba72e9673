/* util_lazy.c - libcurl and libarchive, loaded on first use.
 *
 * Layer: util. Thread: any (each library is loaded under pthread_once).
 * Owns: the dlopen handles and the resolved entry points.
 * Tests: t/unit/check_util_lazy.c, t/t1201 (HTTP checks), t/t5001
 * (snapshot archives).
 *
 * Linked as DT_NEEDED, libcurl and libarchive cost an idle agent about
 * 6 MiB of RSS before either is called: their own dependencies (GnuTLS
 * through librtmp, p11-kit, Kerberos, LDAP, ICU and libstdc++ through
 * libxml2, ...) are mapped and relocated, and GnuTLS and p11-kit run
 * constructors at load. Most agents never run an HTTP check and only
 * servers asked for a snapshot touch libarchive. The binary therefore
 * does not link them; each function below has the library's name and
 * prototype, loads the library on its first call (every entry point at
 * once) and forwards. A library that cannot be loaded is fatal, as it
 * was when the dynamic linker refused to start the binary without it.
 */
#define CURL_DISABLE_TYPECHECK 1
#include "util_lazy.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef UTIL_LAZY_CURL
#define UTIL_LAZY_CURL "libcurl.so.4"
#endif
#ifndef UTIL_LAZY_ARCHIVE
#define UTIL_LAZY_ARCHIVE "libarchive.so.13"
#endif

/* X(return type, name, (parameters), (arguments)) */
#define CURL_FNS(X)                                                        \
    X(void, curl_easy_cleanup, (CURL *h), (h))                             \
    X(CURL *, curl_easy_init, (void), ())                                  \
    X(CURLcode, curl_easy_perform, (CURL *h), (h))                         \
    X(void, curl_easy_reset, (CURL *h), (h))                               \
    X(const char *, curl_easy_strerror, (CURLcode c), (c))                 \
    X(void, curl_free, (void *p), (p))                                     \
    X(void, curl_global_cleanup, (void), ())                               \
    X(CURLcode, curl_global_init, (long f), (f))                           \
    X(CURLMcode, curl_multi_add_handle, (CURLM *m, CURL *h), (m, h))       \
    X(CURLMcode, curl_multi_assign, (CURLM *m, curl_socket_t s, void *p),  \
      (m, s, p))                                                           \
    X(CURLMcode, curl_multi_cleanup, (CURLM *m), (m))                      \
    X(CURLMsg *, curl_multi_info_read, (CURLM *m, int *n), (m, n))         \
    X(CURLM *, curl_multi_init, (void), ())                                \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *m, CURL *h), (m, h))    \
    X(CURLMcode, curl_multi_socket_action,                                 \
      (CURLM *m, curl_socket_t s, int ev, int *run), (m, s, ev, run))      \
    X(struct curl_slist *, curl_slist_append,                              \
      (struct curl_slist *l, const char *d), (l, d))                       \
    X(void, curl_slist_free_all, (struct curl_slist *l), (l))              \
    X(CURLU *, curl_url, (void), ())                                       \
    X(void, curl_url_cleanup, (CURLU *u), (u))                             \
    X(CURLUcode, curl_url_get,                                             \
      (CURLU *u, CURLUPart w, char **p, unsigned int f), (u, w, p, f))     \
    X(CURLUcode, curl_url_set,                                             \
      (CURLU *u, CURLUPart w, const char *p, unsigned int f), (u, w, p, f))

/* The three variadic ones take exactly one argument after the option: a
 * long, a pointer or a curl_off_t, all passed alike (one integer
 * register) on the 64-bit ABIs we build for; it is forwarded as such. */
#define CURL_VAR(X)                                                        \
    X(CURLcode, curl_easy_setopt, CURL, CURLoption)                        \
    X(CURLcode, curl_easy_getinfo, CURL, CURLINFO)                         \
    X(CURLMcode, curl_multi_setopt, CURLM, CURLMoption)

#define ARCHIVE_FNS(X)                                                     \
    X(mode_t, archive_entry_filetype, (struct archive_entry *e), (e))      \
    X(void, archive_entry_free, (struct archive_entry *e), (e))            \
    X(const char *, archive_entry_hardlink, (struct archive_entry *e),     \
      (e))                                                                 \
    X(struct archive_entry *, archive_entry_new, (void), ())               \
    X(const char *, archive_entry_pathname, (struct archive_entry *e),     \
      (e))                                                                 \
    X(void, archive_entry_set_filetype,                                    \
      (struct archive_entry *e, unsigned int t), (e, t))                   \
    X(void, archive_entry_set_mtime,                                       \
      (struct archive_entry *e, time_t t, long ns), (e, t, ns))            \
    X(void, archive_entry_set_pathname,                                    \
      (struct archive_entry *e, const char *p), (e, p))                    \
    X(void, archive_entry_set_perm, (struct archive_entry *e, mode_t m),   \
      (e, m))                                                              \
    X(void, archive_entry_set_size, (struct archive_entry *e, la_int64_t s), \
      (e, s))                                                              \
    X(la_int64_t, archive_entry_size, (struct archive_entry *e), (e))      \
    X(int, archive_entry_size_is_set, (struct archive_entry *e), (e))      \
    X(const char *, archive_entry_symlink, (struct archive_entry *e), (e)) \
    X(const char *, archive_error_string, (struct archive *a), (a))        \
    X(la_int64_t, archive_filter_bytes, (struct archive *a, int n), (a, n)) \
    X(la_ssize_t, archive_read_data, (struct archive *a, void *b, size_t n), \
      (a, b, n))                                                           \
    X(int, archive_read_data_block,                                        \
      (struct archive *a, const void **b, size_t *n, la_int64_t *o),       \
      (a, b, n, o))                                                        \
    X(int, archive_read_free, (struct archive *a), (a))                    \
    X(la_int64_t, archive_read_header_position, (struct archive *a), (a))  \
    X(struct archive *, archive_read_new, (void), ())                      \
    X(int, archive_read_next_header,                                       \
      (struct archive *a, struct archive_entry **e), (a, e))               \
    X(int, archive_read_open,                                              \
      (struct archive *a, void *d, archive_open_callback *o,               \
       archive_read_callback *r, archive_close_callback *c),               \
      (a, d, o, r, c))                                                     \
    X(int, archive_read_support_format_tar, (struct archive *a), (a))      \
    X(int, archive_write_add_filter_gzip, (struct archive *a), (a))        \
    X(int, archive_write_close, (struct archive *a), (a))                  \
    X(la_ssize_t, archive_write_data,                                      \
      (struct archive *a, const void *b, size_t n), (a, b, n))             \
    X(int, archive_write_free, (struct archive *a), (a))                   \
    X(int, archive_write_header,                                           \
      (struct archive *a, struct archive_entry *e), (a, e))                \
    X(struct archive *, archive_write_new, (void), ())                     \
    X(int, archive_write_open,                                             \
      (struct archive *a, void *d, archive_open_callback *o,               \
       archive_write_callback *w, archive_close_callback *c),              \
      (a, d, o, w, c))                                                     \
    X(int, archive_write_set_bytes_in_last_block,                          \
      (struct archive *a, int n), (a, n))                                  \
    X(int, archive_write_set_format_pax_restricted, (struct archive *a),   \
      (a))

#define PTR_FIELD(ret, name, params, args) ret(*name) params;
#define VAR_FIELD(ret, name, h, o) ret (*name)(h *, o, ...);

static struct {
    CURL_FNS(PTR_FIELD)
    CURL_VAR(VAR_FIELD)
    void (*archive_set_error)(struct archive *, int, const char *, ...);
    ARCHIVE_FNS(PTR_FIELD)
} fn;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_once_t archive_once = PTHREAD_ONCE_INIT;
static bool curl_loaded, archive_loaded;

static void *lib_open(const char *soname)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

    if (h == NULL) {
        fprintf(stderr, "proconsul: cannot load %s: %s\n", soname,
                dlerror());
        exit(1);
    }
    return h;
}

static void *lib_sym(void *h, const char *soname, const char *name)
{
    void *p = dlsym(h, name);

    if (p == NULL) {
        fprintf(stderr, "proconsul: %s has no %s\n", soname, name);
        exit(1);
    }
    return p;
}

#define LOAD(ret, name, params, args) \
    *(void **)&fn.name = lib_sym(h, soname, #name);
#define LOAD_VAR(ret, name, hh, o) \
    *(void **)&fn.name = lib_sym(h, soname, #name);

static void curl_load(void)
{
    const char *soname = UTIL_LAZY_CURL;
    void *h = lib_open(soname);

    CURL_FNS(LOAD)
    CURL_VAR(LOAD_VAR)
    curl_loaded = true;
}

static void archive_load(void)
{
    const char *soname = UTIL_LAZY_ARCHIVE;
    void *h = lib_open(soname);

    ARCHIVE_FNS(LOAD)
    LOAD(void, archive_set_error, , )
    archive_loaded = true;
}

bool util_lazy_loaded(enum util_lazy_lib lib)
{
    return lib == UTIL_LAZY_LIB_CURL ? curl_loaded : archive_loaded;
}

#define CURL_FWD(ret, name, params, args)         \
    ret(name) params                              \
    {                                             \
        pthread_once(&curl_once, curl_load);      \
        return fn.name args;                      \
    }
#define CURL_FWD_VAR(ret, name, h, o)             \
    ret(name)(h * handle, o opt, ...)             \
    {                                             \
        va_list ap;                               \
        void *arg;                                \
                                                  \
        pthread_once(&curl_once, curl_load);      \
        va_start(ap, opt);                        \
        arg = va_arg(ap, void *);                 \
        va_end(ap);                               \
        return fn.name(handle, opt, arg);         \
    }
#define ARCHIVE_FWD(ret, name, params, args)      \
    ret(name) params                              \
    {                                             \
        pthread_once(&archive_once, archive_load); \
        return fn.name args;                      \
    }

CURL_FNS(CURL_FWD)
CURL_VAR(CURL_FWD_VAR)
ARCHIVE_FNS(ARCHIVE_FWD)

void(archive_set_error)(struct archive *a, int err, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    pthread_once(&archive_once, archive_load);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn.archive_set_error(a, err, "%s", msg);
}

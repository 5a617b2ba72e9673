/* log_file.c - the agent's log file, rotated and pruned as Consul does.
 *
 * Layer: util. Thread: any (one mutex around the file's state).
 * Owns: the file's descriptor and path strings, from log_file_open to
 * log_file_close.
 * Rotation happens on the writing thread, under the lock, before the
 * line that is due: rename, open, then a scan of the directory for the
 * archives to prune; a few system calls on a local disk. After a
 * failure, opening is retried at most once a second. Each kind of
 * failure is reported once (log_report) until it clears.
 * Tests: t/unit/check_log.c, t/t7004-logs.sh
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "log_int.h"

#define DEFAULT_ROTATE_MS (24LL * 3600 * 1000)
#define RETRY_NS 1000000000LL
#define DEFAULT_NAME "consul.log"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static struct {
    bool on;
    int fd;
    char *dir;   /* "" or ending in '/' */
    char *path;  /* dir + name */
    char *base;  /* archives: dir + base + "-" + nanoseconds + ext */
    char *ext;
    int64_t rotate_bytes, rotate_ns, max_files;
    int64_t (*now)(void);
    int64_t bytes, opened_ns, last_arch_ns, retry_ns;
    bool pending_open;        /* fd is the renamed archive */
    bool write_failing, rotate_failing, open_failing;
} lf = {.fd = -1};

/* One report per line at most, made after the lock is released. */
struct report {
    enum log_level lvl;
    char msg[2 * ERR_LEN + 64];
    bool set;
};

static void report(struct report *r, enum log_level lvl, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));

static void report(struct report *r, enum log_level lvl, const char *fmt,
                   ...)
{
    va_list ap;

    if (r->set)
        return;
    r->set = true;
    r->lvl = lvl;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
}

void log_file_lock(void) { pthread_mutex_lock(&mu); }
void log_file_unlock(void) { pthread_mutex_unlock(&mu); }

static int64_t real_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- names ------------------------------------------------------------ */

static void free_names(void)
{
    free(lf.dir);
    free(lf.path);
    free(lf.base);
    free(lf.ext);
    lf.dir = lf.path = lf.base = lf.ext = NULL;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);

    if (s != NULL) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

/* Split path as Consul does (filepath.Split, "consul.log" when the name
 * is empty); an existing directory counts as "path/". */
static int set_names(const char *path, char *err)
{
    struct stat st;
    const char *slash = strrchr(path, '/'), *name, *dot;
    char *dir;

    if (path[0] != '\0' && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        dir = cat3(path, path[strlen(path) - 1] == '/' ? "" : "/", "");
        name = DEFAULT_NAME;
    } else {
        size_t dl = slash != NULL ? (size_t)(slash - path) + 1 : 0;

        if ((dir = malloc(dl + 1)) != NULL) {
            memcpy(dir, path, dl);
            dir[dl] = '\0';
        }
        name = path[dl] != '\0' ? path + dl : DEFAULT_NAME;
    }
    lf.dir = dir;
    dot = strrchr(name, '.');
    lf.ext = strdup(dot != NULL ? dot : ".log");
    lf.base = strndup(name, dot != NULL ? (size_t)(dot - name)
                                        : strlen(name));
    lf.path = dir != NULL ? cat3(dir, name, "") : NULL;
    if (lf.dir == NULL || lf.ext == NULL || lf.base == NULL ||
        lf.path == NULL) {
        free_names();
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Nanoseconds of an archive's name ("<base>-<digits><ext>"), or -1. */
static int64_t archive_ns(const char *name)
{
    size_t bl = strlen(lf.base), el = strlen(lf.ext), nl = strlen(name);
    int64_t v = 0;
    size_t i;

    if (nl < bl + 2 + el || strncmp(name, lf.base, bl) != 0 ||
        name[bl] != '-' || strcmp(name + nl - el, lf.ext) != 0)
        return -1;
    for (i = bl + 1; i < nl - el; i++) {
        if (name[i] < '0' || name[i] > '9' ||
            v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static void archive_name(char *out, size_t cap, int64_t ns)
{
    snprintf(out, cap, "%s%s-%" PRId64 "%s", lf.dir, lf.base, ns, lf.ext);
}

/* ---- pruning ---------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static int list_archives(int64_t **out, size_t *n)
{
    DIR *d = opendir(lf.dir[0] != '\0' ? lf.dir : ".");
    struct dirent *e;
    size_t cap = 0;
    int64_t ns, *v = NULL, *nv;

    *n = 0;
    if (d == NULL)
        return errno;
    while ((e = readdir(d)) != NULL) {
        if ((ns = archive_ns(e->d_name)) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
                free(v);
                closedir(d);
                return ENOMEM;
            }
            v = nv;
        }
        v[(*n)++] = ns;
    }
    closedir(d);
    *out = v;
    return 0;
}

/* Keep the newest max_files archives (0: all, < 0: none); errno or 0. */
static int prune(void)
{
    char name[PATH_MAX];
    int64_t *v = NULL;
    size_t n, drop;
    int rc;

    if (lf.max_files == 0)
        return 0;
    if ((rc = list_archives(&v, &n)) != 0)
        return rc;
    drop = lf.max_files < 0 ? n
           : n > (size_t)lf.max_files ? n - (size_t)lf.max_files : 0;
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_i64);
    for (size_t i = 0; i < drop && rc == 0; i++) {
        archive_name(name, sizeof(name), v[i]);
        if (unlink(name) != 0 && errno != ENOENT)
            rc = errno;
    }
    free(v);
    return rc;
}

/* ---- opening and rotating --------------------------------------------- */

static int open_path(int64_t *size)
{
    struct stat st;
    int fd = open(lf.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

    if (fd < 0)
        return -errno;
    *size = fstat(fd, &st) == 0 ? (int64_t)st.st_size : 0;
    return fd;
}

static void use_fd(int fd, int64_t size, int64_t now)
{
    if (lf.fd >= 0 && lf.fd != fd)
        close(lf.fd);
    lf.fd = fd;
    lf.bytes = size;
    lf.opened_ns = now;
    lf.pending_open = false;
}

/* After the rename: the new file, then the pruning. */
static void open_new(int64_t now, struct report *r)
{
    int64_t size;
    int fd = open_path(&size), e;

    if (fd < 0) {
        lf.pending_open = true;
        lf.retry_ns = now + RETRY_NS;
        if (!lf.open_failing)
            report(r, LOG_LVL_ERROR, "log file: opening '%s': %s; writing "
                   "on to the rotated file", lf.path, strerror(-fd));
        lf.open_failing = true;
        return;
    }
    use_fd(fd, size, now);
    lf.open_failing = false;
    if ((e = prune()) != 0)
        report(r, LOG_LVL_WARN, "log file: removing old files of '%s': %s",
               lf.path, strerror(e));
}

static void rotate(int64_t now, struct report *r)
{
    char arch[PATH_MAX];
    struct stat st;
    int64_t ns = now > lf.last_arch_ns ? now : lf.last_arch_ns + 1;

    /* Never over an existing archive (two rotations in one tick). */
    for (archive_name(arch, sizeof(arch), ns); lstat(arch, &st) == 0;
         archive_name(arch, sizeof(arch), ++ns))
        ;
    if (rename(lf.path, arch) != 0) {
        if (!lf.rotate_failing)
            report(r, LOG_LVL_ERROR, "log file: rotating '%s': %s; writing "
                   "on to it", lf.path, strerror(errno));
        lf.rotate_failing = true;
        lf.bytes = 0; /* next attempt after another full file */
        lf.opened_ns = now;
        return;
    }
    lf.rotate_failing = false;
    lf.last_arch_ns = ns;
    open_new(now, r);
}

static void maybe_rotate(size_t n, struct report *r)
{
    int64_t now = lf.now();

    if (lf.pending_open) {
        if (now >= lf.retry_ns)
            open_new(now, r);
        return;
    }
    if (now - lf.opened_ns < lf.rotate_ns &&
        (lf.rotate_bytes <= 0 || lf.bytes + (int64_t)n <= lf.rotate_bytes))
        return;
    if (lf.bytes == 0) /* an empty file is not archived, only renewed */
        lf.opened_ns = now;
    else
        rotate(now, r);
}

/* A short write that then fails is cut off, so the next line starts on
 * a line of its own. */
static void write_line(const char *line, size_t n, struct report *r)
{
    size_t done = 0;
    struct stat st;
    int e = 0;

    while (done < n) {
        ssize_t k = write(lf.fd, line + done, n - done);

        if (k > 0)
            done += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else {
            e = k < 0 ? errno : ENOSPC;
            break;
        }
    }
    if (done == n) {
        lf.bytes += (int64_t)n;
        if (lf.write_failing)
            report(r, LOG_LVL_INFO, "log file: writing to '%s' again",
                   lf.path);
        lf.write_failing = false;
        return;
    }
    if (done > 0 && fstat(lf.fd, &st) == 0 && st.st_size >= (off_t)done &&
        ftruncate(lf.fd, st.st_size - (off_t)done) != 0) {
        /* The partial line stays; nothing better to do. */
    }
    if (!lf.write_failing)
        report(r, LOG_LVL_ERROR, "log file: writing to '%s': %s; lines go "
               "only to stderr until it works again", lf.path, strerror(e));
    lf.write_failing = true;
}

void log_file_line(const char *line, size_t n)
{
    struct report r = {.set = false};

    pthread_mutex_lock(&mu);
    if (lf.on) {
        if (!log_in_child())
            maybe_rotate(n, &r);
        write_line(line, n, &r);
    }
    pthread_mutex_unlock(&mu);
    if (r.set)
        log_report(r.lvl, "%s", r.msg);
}

/* ---- API -------------------------------------------------------------- */

static void close_locked(void)
{
    if (lf.fd >= 0)
        close(lf.fd);
    lf.fd = -1;
    lf.on = false;
    free_names();
}

int log_file_open(const struct log_file_opts *o, char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    int64_t size;
    int fd, e;

    pthread_mutex_lock(&mu);
    close_locked();
    memset(&lf, 0, sizeof(lf));
    lf.fd = -1;
    if (set_names(o->path, err) != 0) {
        pthread_mutex_unlock(&mu);
        return ERR_NOMEM;
    }
    lf.rotate_bytes = o->rotate_bytes;
    lf.rotate_ns = (o->rotate_ms > 0 ? o->rotate_ms : DEFAULT_ROTATE_MS) *
                   1000000;
    lf.max_files = o->max_files;
    lf.now = o->now_ns != NULL ? o->now_ns : real_now;
    if ((fd = open_path(&size)) < 0) {
        err_set(err, ERR_IO, "opening '%s': %s",
                err_quote(q, sizeof(q), lf.path), strerror(-fd));
        close_locked();
        pthread_mutex_unlock(&mu);
        return ERR_IO;
    }
    use_fd(fd, size, lf.now());
    if ((e = prune()) != 0) {
        err_set(err, ERR_IO, "removing old files of '%s': %s",
                err_quote(q, sizeof(q), lf.path), strerror(e));
        close_locked();
        pthread_mutex_unlock(&mu);
        return ERR_IO;
    }
    lf.on = true;
    pthread_mutex_unlock(&mu);
    log_atfork_init();
    return 0;
}

int log_file_reopen(char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    int64_t size;
    int fd, rc = 0;

    pthread_mutex_lock(&mu);
    if (lf.on) {
        if ((fd = open_path(&size)) < 0) {
            rc = err_set(err, ERR_IO, "reopening '%s': %s",
                         err_quote(q, sizeof(q), lf.path), strerror(-fd));
        } else {
            use_fd(fd, size, lf.now());
            lf.write_failing = lf.rotate_failing = lf.open_failing = false;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void log_file_close(void)
{
    pthread_mutex_lock(&mu);
    close_locked();
    pthread_mutex_unlock(&mu);
}

const char *log_file_path(void)
{
    return lf.on ? lf.path : NULL;
}

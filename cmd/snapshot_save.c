/* snapshot_save.c - "consul snapshot save": one file, or a rotated
 * directory of them for cron.
 *
 * Endpoints: GET /v1/snapshot[?stale] (the archive, streamed to disk),
 *            GET /v1/agent/self (-dir: the datacenter, unless
 *            -datacenter names it).
 * "save FILE" as Consul: download to FILE.unverified (0600), fsync, verify
 * the whole archive (libcore/snap.h), rename to FILE, fsync the
 * directory, print "Saved and verified snapshot to index N" (N from
 * meta.json). Any failure removes FILE.unverified.
 * "save -dir DIR [-keep N]" (ours): the file is DIR/<dc>-<UTC
 * YYYYMMDDTHHMMSSZ>-<index>.snap, downloaded as DIR/<dc>-<time>.unverified
 * (the index is known only once it is verified), then the oldest
 * "<dc>-<time>-<index>.snap" files beyond the newest N are removed: only
 * names of exactly that form, never the file just written, nothing at
 * all if the save failed. Made for cron: nothing on stdout or stderr on
 * success unless stderr is a terminal, exactly one line on stderr on
 * failure.
 * On a terminal, the download shows its progress on stderr.
 * Exit codes: 0 ok (also "-h"); 1 transport, API, disk or verification
 * error, or an old file that could not be removed; 2 usage error.
 * Tests: t/t5001-snapshot-cli.sh
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"
#include "snap.h"
#include "snapshot_cli.h"

#define TS_LEN 16 /* YYYYMMDDTHHMMSSZ */

static const struct snapc_help save_help = {
    "consul snapshot save [options] FILE\n"
    "       consul snapshot save [options] -dir DIR [-keep N]",
    "  Retrieves an atomic, point-in-time snapshot of the state of the "
    "Consul servers\n"
    "  which includes key/value entries, service catalog, sessions and "
    "ACLs, and\n"
    "  verifies it before it is given its name.\n\n"
    "  If ACLs are enabled, a management token must be supplied in order "
    "to perform\n"
    "  snapshot operations.\n\n"
    "  To create a snapshot from the leader server and save it to "
    "\"backup.snap\":\n\n"
    "    $ consul snapshot save backup.snap\n\n"
    "  To create a potentially stale snapshot from any available server "
    "(useful if no\n"
    "  leader is available):\n\n"
    "    $ consul snapshot save -stale backup.snap\n\n"
    "  For cron: save DIR/<dc>-<UTC time>-<index>.snap and keep the newest "
    "14 such\n"
    "  files; silent on success (unless stderr is a terminal), one line on "
    "stderr on\n"
    "  failure:\n\n"
    "    0 3 * * * consul snapshot save -dir /data/backup -keep 14 "
    "-token-file /opt/app/consul/backup.token"};

struct save {
    struct httpc c;
    const char *dir;
    int keep;          /* 0: keep every file */
    bool quiet;        /* -dir and stderr is not a terminal */
    char msg[SNAPC_MSG_LEN]; /* the one failure line */
};

/* ---- download and verify -------------------------------------------- */

static int fail(struct save *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct save *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
    return 1;
}

static int fetch(struct save *s, int fd)
{
    struct snapc_progress p;
    struct httpc_resp r;
    char err[ERR_LEN];
    int rc;

    snapc_progress_init(&p, "Downloading snapshot");
    rc = httpc_get_to_fd(&s->c, "/v1/snapshot", NULL, fd, snapc_progress_cb,
                         &p, &r, err);
    snapc_progress_done(&p);
    if (rc != 0)
        return fail(s, "Error saving snapshot: %s", err);
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        rc = fail(s, "Error saving snapshot: %s", err);
    }
    httpc_resp_release(&r);
    return rc;
}

/* Download into tmp (created 0600, replaced if it exists) and verify
 * it. On failure tmp is gone. */
static int fetch_verified(struct save *s, const char *tmp,
                          struct snap_meta *meta)
{
    char err[ERR_LEN];
    int fd, rc;

    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0600);
    if (fd < 0)
        return fail(s, "Error writing unverified snapshot file: open "
                    "%.128s: %s", tmp, strerror(errno));
    rc = fchmod(fd, 0600) != 0 ? fail(s, "Error writing unverified "
                                      "snapshot file: chmod %.128s: %s",
                                      tmp, strerror(errno))
                               : fetch(s, fd);
    if (rc == 0 && fsync(fd) != 0)
        rc = fail(s, "Error writing unverified snapshot file: sync "
                  "%.128s: %s", tmp, strerror(errno));
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
        rc = fail(s, "Error opening snapshot file for verify: %s",
                  strerror(errno));
    if (rc == 0 && snap_read_fd(fd, NULL, NULL, meta, err) != 0)
        rc = fail(s, "Error verifying snapshot file: %s", err);
    if (close(fd) != 0 && rc == 0) {
        snap_meta_release(meta);
        rc = fail(s, "Error closing snapshot file after verify: %s",
                  strerror(errno));
    }
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* rename, then make it durable: fsync the directory. */
static int install(struct save *s, const char *tmp, const char *final)
{
    char *copy = strdup(final);
    int dfd;

    if (rename(tmp, final) != 0) {
        fail(s, "Error renaming \"%.128s\" to \"%.128s\": %s", tmp, final,
             strerror(errno));
        unlink(tmp);
        free(copy);
        return 1;
    }
    dfd = copy != NULL ? open(dirname(copy), O_RDONLY | O_DIRECTORY |
                                                 O_CLOEXEC)
                       : -1;
    free(copy);
    if (dfd < 0 || fsync(dfd) != 0) {
        if (dfd >= 0)
            close(dfd);
        return fail(s, "Error syncing the directory of \"%.128s\": %s",
                    final, strerror(errno));
    }
    close(dfd);
    return 0;
}

static int save_file(struct save *s, const char *file)
{
    struct snap_meta meta;
    char *tmp = NULL;

    if (asprintf(&tmp, "%s.unverified", file) < 0)
        return fail(s, "out of memory");
    if (fetch_verified(s, tmp, &meta) != 0) {
        free(tmp);
        return 1;
    }
    if (install(s, tmp, file) != 0) {
        snap_meta_release(&meta);
        free(tmp);
        return 1;
    }
    printf("Saved and verified snapshot to index %llu\n",
           (unsigned long long)meta.index);
    snap_meta_release(&meta);
    free(tmp);
    return 0;
}

/* ---- -dir: naming and rotation -------------------------------------- */

/* -datacenter, else the agent's own datacenter; a name safe in a path. */
static int datacenter(struct save *s, const char *flag, char *dc, size_t n)
{
    struct httpc_resp r;
    char err[ERR_LEN];
    json_t *self = NULL;
    const char *v = flag;

    if (v == NULL || *v == '\0') {
        if (httpc_do(&s->c, "GET", "/v1/agent/self", NULL, NULL, 0, &r,
                     err) != 0)
            return fail(s, "Error connecting to Consul agent and fetching "
                        "datacenter: %s", err);
        if (r.status != 200)
            httpc_format_status(&r, err, sizeof(err));
        else if ((self = json_loadb(r.body, r.len, 0, NULL)) == NULL)
            snprintf(err, sizeof(err), "invalid JSON from the agent");
        httpc_resp_release(&r);
        v = json_string_value(json_object_get(
            json_object_get(self, "Config"), "Datacenter"));
        if (v == NULL) {
            json_decref(self);
            return fail(s, "Error fetching datacenter: %s", self != NULL
                        ? "no Config.Datacenter in /v1/agent/self" : err);
        }
    }
    snprintf(dc, n, "%s", v);
    json_decref(self);
    if (*dc == '\0' || strlen(dc) > 64 ||
        strspn(dc, "abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(dc))
        return fail(s, "Error: datacenter \"%.64s\" is not usable in a file "
                    "name", dc);
    return 0;
}

/* "<dc>-YYYYMMDDTHHMMSSZ-<index>.snap" exactly. */
static bool rotated_name(const char *name, const char *dc)
{
    size_t dl = strlen(dc), i;
    const char *p;

    if (strncmp(name, dc, dl) != 0 || name[dl] != '-')
        return false;
    p = name + dl + 1;
    for (i = 0; i < TS_LEN; i++) {
        char want = i == 8 ? 'T' : i == TS_LEN - 1 ? 'Z' : 0;
        if (want != 0 ? p[i] != want : (p[i] < '0' || p[i] > '9'))
            return false;
    }
    p += TS_LEN;
    if (*p++ != '-' || *p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return strcmp(p, ".snap") == 0;
}

/* Newest first: by time, then by index (names share the dc prefix). */
static int cmp_newest(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *tx = strrchr(x, '-'), *ty = strrchr(y, '-');
    unsigned long long ix, iy;
    int c;

    c = strncmp(ty - TS_LEN, tx - TS_LEN, TS_LEN);
    if (c != 0)
        return c;
    ix = strtoull(tx + 1, NULL, 10);
    iy = strtoull(ty + 1, NULL, 10);
    return ix == iy ? 0 : ix < iy ? 1 : -1;
}

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Every rotated file of dc in DIR. */
static int list_rotated(struct save *s, const char *dc, struct names *l)
{
    DIR *d = opendir(s->dir);
    struct dirent *e;
    char **nv;

    if (d == NULL)
        return fail(s, "Error listing old snapshots: opendir %.128s: %s",
                    s->dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (!rotated_name(e->d_name, dc))
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap != 0 ? 2 * l->cap : 32;
            if ((nv = realloc(l->v, l->cap * sizeof(*nv))) == NULL)
                break;
            l->v = nv;
        }
        if ((l->v[l->n] = strdup(e->d_name)) == NULL)
            break;
        l->n++;
    }
    closedir(d);
    if (e != NULL)
        return fail(s, "out of memory");
    qsort(l->v, l->n, sizeof(*l->v), cmp_newest);
    return 0;
}

/* Remove the oldest beyond the newest keep; mine (just written) counts
 * as kept whatever its place. Every removal is tried; the first failure
 * is the message. */
static int prune(struct save *s, const char *dc, const char *mine)
{
    struct names l = {0};
    int kept = 1, failed = 0, rc;
    char *path;

    if (s->keep <= 0)
        return 0;
    if ((rc = list_rotated(s, dc, &l)) != 0) {
        names_free(&l);
        return rc;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.v[i], mine) == 0)
            continue;
        if (kept < s->keep) {
            kept++;
            continue;
        }
        if (asprintf(&path, "%s/%s", s->dir, l.v[i]) < 0) {
            failed++;
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT && failed++ == 0)
            fail(s, "Error removing old snapshot %.128s: %s", path,
                 strerror(errno));
        else if (!s->quiet)
            printf("Removed old snapshot %s\n", path);
        free(path);
    }
    names_free(&l);
    return failed != 0 ? 1 : 0;
}

static int save_dir(struct save *s, const char *dc_flag)
{
    char dc[80], ts[TS_LEN + 1], *tmp = NULL, *final = NULL;
    struct snap_meta meta;
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    if ((rc = datacenter(s, dc_flag, dc, sizeof(dc))) != 0)
        return rc;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    if (asprintf(&tmp, "%s/%s-%s.unverified", s->dir, dc, ts) < 0)
        return fail(s, "out of memory");
    if ((rc = fetch_verified(s, tmp, &meta)) != 0) {
        free(tmp);
        return rc;
    }
    if (asprintf(&final, "%s/%s-%s-%llu.snap", s->dir, dc, ts,
                 (unsigned long long)meta.index) < 0) {
        unlink(tmp);
        rc = fail(s, "out of memory");
    } else {
        rc = install(s, tmp, final);
    }
    if (rc == 0 && !s->quiet)
        printf("Saved and verified snapshot to index %llu as %s\n",
               (unsigned long long)meta.index, final);
    if (rc == 0)
        rc = prune(s, dc, strrchr(final, '/') + 1);
    snap_meta_release(&meta);
    free(tmp);
    free(final);
    return rc;
}

/* ---- the verb ------------------------------------------------------- */

/* Arguments: FILE, or -dir without FILE; -keep only with -dir. */
static int check_args(const struct save *s, bool keep_seen, int argc,
                      int rest)
{
    if (s->dir == NULL && keep_seen) {
        fprintf(stderr, "-keep requires -dir\n");
        return 2;
    }
    if (s->dir == NULL)
        return snapc_one_file(argc, rest);
    if (*s->dir == '\0' || (keep_seen && s->keep < 1)) {
        fprintf(stderr, *s->dir == '\0' ? "-dir must not be empty\n"
                                        : "-keep must be at least 1\n");
        return 2;
    }
    if (argc > rest) {
        fprintf(stderr, "Too many arguments (expected 0 with -dir, got "
                "%d)\n", argc - rest);
        return 2;
    }
    return -1;
}

int snapshot_save(int argc, char **argv)
{
    struct save s = {.keep = 0};
    struct httpc_flags hf = {0};
    struct opt opts[SNAPC_MAX_OPTS];
    bool keep_seen = false;
    char err[ERR_LEN];
    int n = 0, rest, rc;

    opts[n++] = (struct opt){
        .name = "dir", .type = OPT_STR, .dst = &s.dir, .arg = "<dir>",
        .help = "Save into this directory as <dc>-<UTC "
                "YYYYMMDDTHHMMSSZ>-<index>.snap instead of FILE; silent "
                "on success unless stderr is a terminal (for cron)."};
    opts[n++] = (struct opt){
        .name = "keep", .type = OPT_INT, .dst = &s.keep, .arg = "<n>",
        .seen = &keep_seen,
        .help = "With -dir: after a successful save, remove the oldest "
                "<dc>-*.snap files of that form beyond the newest n."};
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = snapc_parse(&save_help, opts, n, argc, argv, &rest)) >= 0)
        return rc;
    if ((rc = check_args(&s, keep_seen, argc, rest)) >= 0)
        return rc;
    s.quiet = s.dir != NULL && isatty(STDERR_FILENO) != 1;
    if (httpc_init(&s.c, &hf, err) != 0) {
        snprintf(s.msg, sizeof(s.msg), "Error connecting to Consul agent: "
                 "%s", err);
        snapc_error_line(s.msg);
        return 1;
    }
    rc = s.dir != NULL ? save_dir(&s, hf.datacenter)
                       : save_file(&s, argv[rest]);
    httpc_release(&s.c);
    if (rc != 0)
        snapc_error_line(s.msg);
    return rc != 0 ? 1 : 0;
}

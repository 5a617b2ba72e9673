/* snapshot.c - "consul snapshot save|restore|inspect": the verb table,
 * restore, inspect, and the helpers snapshot_save.c shares.
 *
 * Endpoints: PUT /v1/snapshot (restore; the archive streamed as the
 *            body). save is in snapshot_save.c; inspect is offline.
 * restore verifies the whole file locally (libcore/snap.h) before it
 * contacts the agent, so a damaged file never reaches the servers.
 * inspect prints Consul's layout (command/snapshot/inspect: tabwriter
 * minwidth 8, padding 6; rows sorted by size then name; -format=json as
 * Go's MarshalIndent with 3 spaces); for a real Consul snapshot (no
 * "Format" in meta.json) only meta.json is shown.
 * Exit codes: 0 ok (also "-h"); 1 unreadable or damaged file, transport
 * or API error; 2 usage error (bad flag, missing or extra arguments,
 * unknown -format, missing or unknown verb).
 * Tests: t/t5001-snapshot-cli.sh
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
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
#include "fsm.h"
#include "httpc.h"
#include "opt.h"
#include "snap.h"
#include "snapshot_cli.h"

/* ---- shared helpers ------------------------------------------------- */

int snapc_parse(const struct snapc_help *h, const struct opt *opts, int n,
                int argc, char **argv, int *rest)
{
    int rc = opt_parse_cli(opts, n, argc, argv, h->synopsis, h->text, rest);

    if (rc >= 0)
        return rc == 0 ? 0 : 2;
    return -1;
}

int snapc_one_file(int argc, int rest)
{
    if (rest >= argc) {
        fprintf(stderr, "Missing FILE argument\n");
        return 2;
    }
    if (argc - rest > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n",
                argc - rest);
        return 2;
    }
    return -1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void snapc_progress_init(struct snapc_progress *p, const char *what)
{
    memset(p, 0, sizeof(*p));
    p->on = isatty(STDERR_FILENO) == 1;
    p->what = what;
    p->start_ms = p->last_ms = mono_ms();
}

int snapc_progress_cb(void *ctx, unsigned long long bytes)
{
    struct snapc_progress *p = ctx;
    int64_t now;
    char done[32], rate[32];
    double secs;

    if (!p->on)
        return 0;
    now = mono_ms();
    if (p->shown && now - p->last_ms < 100)
        return 0;
    p->last_ms = now;
    secs = (double)(now - p->start_ms) / 1000.0;
    snapc_bytesize(bytes, done, sizeof(done));
    if (secs < 0.05) { /* too early for a meaningful rate */
        fprintf(stderr, "\r%s: %s\033[K", p->what, done);
    } else {
        snapc_bytesize((unsigned long long)((double)bytes / secs), rate,
                       sizeof(rate));
        fprintf(stderr, "\r%s: %s (%s/s)\033[K", p->what, done, rate);
    }
    fflush(stderr);
    p->shown = true;
    return 0;
}

void snapc_progress_done(struct snapc_progress *p)
{
    if (p->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = false;
}

void snapc_bytesize(unsigned long long n, char *out, size_t len)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    size_t l;

    if (n == 0) {
        snprintf(out, len, "0");
        return;
    }
    while (u < 4 && n >= (1ULL << (10 * (u + 1))))
        u++;
    v /= (double)(1ULL << (10 * u));
    snprintf(out, len, "%.1f", v);
    l = strlen(out);
    if (l >= 2 && strcmp(out + l - 2, ".0") == 0)
        out[l - 2] = '\0';
    snprintf(out + strlen(out), len - strlen(out), "%s", unit[u]);
}

void snapc_error_line(const char *msg)
{
    char line[SNAPC_MSG_LEN];
    size_t i;

    snprintf(line, sizeof(line), "%s", msg);
    for (i = 0; line[i] != '\0'; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = ' ';
    fprintf(stderr, "%s\n", line);
}

/* ---- restore -------------------------------------------------------- */

static const struct snapc_help restore_help = {
    "consul snapshot restore [options] FILE",
    "  Restores an atomic, point-in-time snapshot of the state of the "
    "Consul servers\n"
    "  which includes key/value entries, service catalog, sessions and "
    "ACLs.\n\n"
    "  The file is verified first (gzip, tar, sizes, SHA-256 sums, no "
    "trailing bytes);\n"
    "  a damaged file is refused without contacting the agent.\n\n"
    "  Restores involve a potentially dangerous low-level Raft operation "
    "that is not\n"
    "  designed to handle server failures during a restore. This command "
    "is primarily\n"
    "  intended to be used when recovering from a disaster, restoring into "
    "a fresh\n"
    "  cluster of Consul servers.\n\n"
    "  If ACLs are enabled, a management token must be supplied in order "
    "to perform\n"
    "  snapshot operations.\n\n"
    "  To restore a snapshot from the file \"backup.snap\":\n\n"
    "    $ consul snapshot restore backup.snap"};

/* Open and fully verify path; the fd is back at offset 0. */
static int open_verified(const char *path, int *fd, off_t *size,
                         char *msg)
{
    struct snap_meta meta;
    char err[ERR_LEN];
    struct stat st;

    if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(msg, SNAPC_MSG_LEN, "Error opening snapshot file: open "
                 "%.128s: %s", path, strerror(errno));
        return 1;
    }
    if (snap_read_fd(*fd, NULL, NULL, &meta, err) != 0) {
        snprintf(msg, SNAPC_MSG_LEN, "Error verifying snapshot file: %s", err);
        close(*fd);
        return 1;
    }
    snap_meta_release(&meta);
    if (fstat(*fd, &st) != 0 || lseek(*fd, 0, SEEK_SET) != 0) {
        snprintf(msg, SNAPC_MSG_LEN, "Error opening snapshot file: %s",
                 strerror(errno));
        close(*fd);
        return 1;
    }
    *size = st.st_size;
    return 0;
}

static int restore_put(struct httpc *c, int fd, off_t size, char *msg)
{
    struct snapc_progress p;
    struct httpc_resp r;
    char err[ERR_LEN];
    int rc;

    snapc_progress_init(&p, "Uploading snapshot");
    rc = httpc_put_from_fd(c, "/v1/snapshot", NULL, fd,
                           (unsigned long long)size, snapc_progress_cb, &p,
                           &r, err);
    snapc_progress_done(&p);
    if (rc != 0) {
        snprintf(msg, SNAPC_MSG_LEN, "Error restoring snapshot: %s", err);
        return 1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        snprintf(msg, SNAPC_MSG_LEN, "Error restoring snapshot: %s", err);
        rc = 1;
    }
    httpc_resp_release(&r);
    return rc;
}

static int snapshot_restore(int argc, char **argv)
{
    struct opt opts[SNAPC_MAX_OPTS];
    struct httpc_flags hf = {0};
    char msg[SNAPC_MSG_LEN], err[ERR_LEN];
    struct httpc c;
    int n = 0, rest, rc, fd;
    off_t size;

    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = snapc_parse(&restore_help, opts, n, argc, argv, &rest)) >= 0)
        return rc;
    if ((rc = snapc_one_file(argc, rest)) >= 0)
        return rc;
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    rc = open_verified(argv[rest], &fd, &size, msg);
    if (rc == 0) {
        rc = restore_put(&c, fd, size, msg);
        close(fd);
    }
    httpc_release(&c);
    if (rc != 0) {
        snapc_error_line(msg);
        return 1;
    }
    printf("Restored snapshot\n");
    return 0;
}

/* ---- inspect -------------------------------------------------------- */

static const struct snapc_help inspect_help = {
    "consul snapshot inspect [options] FILE",
    "  Displays information about a snapshot file on disk: its metadata "
    "and, for\n"
    "  Proconsul snapshots (verified in full first), the records of each "
    "type with\n"
    "  their count and encoded size. For a snapshot written by Consul only "
    "meta.json\n"
    "  is read.\n\n"
    "  To inspect the file \"backup.snap\":\n\n"
    "    $ consul snapshot inspect backup.snap"};

struct grow {
    unsigned char *p;
    size_t len, cap;
};

static int collect(void *ctx, const void *p, size_t n)
{
    struct grow *g = ctx;
    unsigned char *np;
    size_t cap;

    if (n > SIZE_MAX / 2 - g->len)
        return -1;
    if (g->len + n > g->cap) {
        cap = g->cap != 0 ? g->cap : 65536;
        while (cap < g->len + n)
            cap *= 2;
        if ((np = realloc(g->p, cap)) == NULL)
            return -1;
        g->p = np;
        g->cap = cap;
    }
    memcpy(g->p + g->len, p, n);
    g->len += n;
    return 0;
}

static json_t *meta_json(const struct snap_meta *m)
{
    json_t *o = json_object();

    json_object_set_new(o, "ID", json_string(m->id));
    json_object_set_new(o, "Size", json_integer((json_int_t)m->size));
    json_object_set_new(o, "Index", json_integer((json_int_t)m->index));
    json_object_set_new(o, "Term", json_integer((json_int_t)m->term));
    json_object_set_new(o, "Version", json_integer((json_int_t)m->version));
    return o;
}

static void print_meta(const struct snap_meta *m)
{
    /* tabwriter: the widest label " Version" (8) + padding 6. */
    printf("%-14s%s\n", " ID", m->id);
    printf("%-14s%llu\n", " Size", (unsigned long long)m->size);
    printf("%-14s%llu\n", " Index", (unsigned long long)m->index);
    printf("%-14s%llu\n", " Term", (unsigned long long)m->term);
    printf("%-14s%llu\n", " Version", (unsigned long long)m->version);
}

static long long jnum(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jname(const json_t *o)
{
    const char *v = json_string_value(json_object_get(o, "Name"));

    return v != NULL ? v : "";
}

/* Consul's order: larger first, then by name. */
static int cmp_stat(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a;
    const json_t *y = *(const json_t *const *)b;
    long long sx = jnum(x, "Size"), sy = jnum(y, "Size");

    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(jname(x), jname(y));
}

/* The rows as Consul names them ({"Name","Sum","Count"}), sorted. */
static json_t *consul_stats(const json_t *stats, long long *total)
{
    size_t n = json_array_size(stats), i;
    const json_t **v = calloc(n + 1, sizeof(*v));
    json_t *out = json_array(), *s;

    *total = 0;
    if (v == NULL || out == NULL) {
        free(v);
        json_decref(out);
        return NULL;
    }
    for (i = 0; i < n; i++)
        v[i] = json_array_get(stats, i);
    qsort(v, n, sizeof(*v), cmp_stat);
    for (i = 0; i < n; i++) {
        s = json_object();
        json_object_set_new(s, "Name", json_string(jname(v[i])));
        json_object_set_new(s, "Sum", json_integer(jnum(v[i], "Size")));
        json_object_set_new(s, "Count", json_integer(jnum(v[i], "Count")));
        json_array_append_new(out, s);
        *total += jnum(v[i], "Size");
    }
    free(v);
    return out;
}

static size_t wmax(size_t w, size_t l)
{
    return l > w ? l : w;
}

/* Go's tabwriter (minwidth 8, padding 6) over the stats table; every
 * cell is tab-terminated, so all are padded but the last line's last. */
static void print_table(const json_t *rows, long long total)
{
    size_t w0 = strlen(" Total"), w1 = strlen("Count"), w2 = 4, i;
    char num[32], sz[32];
    const json_t *r;

    json_array_foreach(rows, i, r) {
        snprintf(num, sizeof(num), "%lld", jnum(r, "Count"));
        snapc_bytesize((unsigned long long)jnum(r, "Sum"), sz, sizeof(sz));
        w0 = wmax(w0, strlen(jname(r)) + 1);
        w1 = wmax(w1, strlen(num));
        w2 = wmax(w2, strlen(sz));
    }
    w0 = wmax(8, w0 + 6), w1 = wmax(8, w1 + 6), w2 = wmax(8, w2 + 6);
    printf("%-*s%-*s%-*s\n", (int)w0, " Type", (int)w1, "Count", (int)w2,
           "Size");
    printf("%-*s%-*s%-*s\n", (int)w0, " ----", (int)w1, "----", (int)w2,
           "----");
    json_array_foreach(rows, i, r) {
        snprintf(num, sizeof(num), "%lld", jnum(r, "Count"));
        snapc_bytesize((unsigned long long)jnum(r, "Sum"), sz, sizeof(sz));
        printf(" %-*s%-*s%-*s\n", (int)w0 - 1, jname(r), (int)w1, num,
               (int)w2, sz);
    }
    printf("%-*s%-*s%-*s\n", (int)w0, " ----", (int)w1, "----", (int)w2,
           "----");
    snapc_bytesize((unsigned long long)total, sz, sizeof(sz));
    printf("%-*s%-*s%s\n", (int)w0, " Total", (int)w1, "", sz);
}

static const char consul_note[] =
    "state.bin is Consul's encoding; only meta.json was read";

/* stats NULL: a Consul snapshot, meta.json only. */
static int print_inspect(const struct snap_meta *m, const json_t *stats,
                         bool json)
{
    long long total = 0;
    json_t *rows = stats != NULL ? consul_stats(stats, &total) : NULL;
    json_t *doc;
    char *text;

    if (stats != NULL && rows == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (!json) {
        print_meta(m);
        if (rows != NULL) {
            putchar('\n');
            print_table(rows, total);
        } else {
            printf("\n %s\n", consul_note);
        }
        json_decref(rows);
        return 0;
    }
    doc = json_object();
    json_object_set_new(doc, "Meta", meta_json(m));
    if (rows != NULL) {
        json_object_set_new(doc, "Stats", rows);
        json_object_set_new(doc, "TotalSize", json_integer(total));
    } else {
        json_object_set_new(doc, "Note", json_string(consul_note));
    }
    text = json_dumps(doc, JSON_INDENT(3) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

/* A Proconsul snapshot: verify it all, break state.bin down. */
static int inspect_full(int fd, bool json)
{
    struct grow g = {0};
    struct snap_meta meta;
    char err[ERR_LEN], msg[SNAPC_MSG_LEN];
    json_t *stats = NULL;
    int rc;

    if (lseek(fd, 0, SEEK_SET) != 0)
        rc = err_set(err, ERR_IO, "%s", strerror(errno));
    else
        rc = snap_read_fd(fd, collect, &g, &meta, err);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "Error reading snapshot: %s", err);
        free(g.p);
        snapc_error_line(msg);
        return 1;
    }
    rc = fsm_snapshot_stats(g.p, g.len, &stats, err);
    free(g.p);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "Error extracting snapshot data: %s",
                 err);
        snapc_error_line(msg);
    } else {
        rc = print_inspect(&meta, stats, json);
    }
    json_decref(stats);
    snap_meta_release(&meta);
    return rc != 0 ? 1 : 0;
}

static int inspect_file(const char *path, bool json)
{
    struct snap_meta meta;
    char err[ERR_LEN], msg[SNAPC_MSG_LEN];
    json_t *raw = NULL;
    int fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "Error opening snapshot file: open %.128s: %s\n",
                path, strerror(errno));
        return 1;
    }
    if (snap_read_meta_fd(fd, &meta, &raw, err) != 0) {
        snprintf(msg, sizeof(msg), "Error reading snapshot: %s", err);
        snapc_error_line(msg);
        close(fd);
        return 1;
    }
    if (json_object_get(raw, "Format") == NULL) {
        rc = print_inspect(&meta, NULL, json);
    } else {
        rc = inspect_full(fd, json);
    }
    json_decref(raw);
    snap_meta_release(&meta);
    close(fd);
    return rc;
}

static int snapshot_inspect(int argc, char **argv)
{
    const char *format = "pretty";
    struct opt opts[] = {
        {.name = "format", .type = OPT_STR, .dst = &format,
         .help = "Output format {pretty|json}"},
    };
    int rest, rc;

    if ((rc = snapc_parse(&inspect_help, opts, 1, argc, argv, &rest)) >= 0)
        return rc;
    if (strcmp(format, "pretty") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "Unknown format: %.128s\n", format);
        return 2;
    }
    if ((rc = snapc_one_file(argc, rest)) >= 0)
        return rc;
    return inspect_file(argv[rest], strcmp(format, "json") == 0);
}

/* ---- snapshot ------------------------------------------------------- */

static const struct opt_verb verbs[] = {
    {"inspect", snapshot_inspect,
     "Displays information about a Consul snapshot file"},
    {"restore", snapshot_restore, "Restores snapshot of Consul server state"},
    {"save", snapshot_save, "Saves snapshot of Consul server state"},
};
#define N_VERBS ((int)(sizeof(verbs) / sizeof(verbs[0])))

static const struct snapc_help snapshot_help = {
    "consul snapshot <subcommand> [options] [args]",
    "  This command has subcommands for saving, restoring, and inspecting "
    "the state\n"
    "  of the Consul servers for disaster recovery. These are atomic, "
    "point-in-time\n"
    "  snapshots which include key/value entries, service catalog, "
    "sessions, and ACLs.\n\n"
    "  If ACLs are enabled, a management token must be supplied in order "
    "to perform\n"
    "  snapshot operations.\n\n"
    "  Create a snapshot:\n\n"
    "      $ consul snapshot save backup.snap\n\n"
    "  Keep the newest 14 of a nightly snapshot (cron):\n\n"
    "      $ consul snapshot save -dir /data/backup -keep 14\n\n"
    "  Restore a snapshot:\n\n"
    "      $ consul snapshot restore backup.snap\n\n"
    "  Inspect a snapshot:\n\n"
    "      $ consul snapshot inspect backup.snap\n\n"
    "  For more examples, ask for subcommand help."};

int cmd_snapshot(int argc, char **argv)
{
    struct opt_group g = {snapshot_help.synopsis, snapshot_help.text, verbs,
                          N_VERBS, 2, true};

    return opt_group_run(&g, argc, argv);
}

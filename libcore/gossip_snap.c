/* gossip_snap.c - serf's snapshot file: who was alive, clock values.
 *
 * Layer: replication (uses util). Thread: loop only.
 * Same line format as serf's <data-dir>/serf/local.snapshot, so either
 * can read the other's: "alive: <name> <ip:port>", "not-alive: <name>",
 * "clock: N", "event-clock: N", "query-clock: N", "leave", "#...".
 * Lines are buffered and written every 500 ms (small writes on the
 * loop); "leave" is written and fsynced at once. The file is rewritten
 * (compacted) when it grows past twice its live size.
 * Owns: the file descriptor and the alive-node list.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"
#include "util_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define SNAP_MIN_COMPACT (128 * 1024)
#define SNAP_BYTES_PER_NODE 128
#define SNAP_READ_MAX (64u * 1024 * 1024)
#define SNAP_FLUSH_MS 500

struct gossip_snap {
    int fd;
    char *path;
    struct gossip_buf out;
    uint64_t offset;
    uint64_t last_clock, last_event, last_query;
    char **names, **addrs;
    size_t n, cap;
    bool failed;
    bool leaving;       /* after our leave nothing more is recorded */
    uint64_t last_flush;
};

static ssize_t find(const struct gossip_snap *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

static void forget(struct gossip_snap *s, const char *name)
{
    ssize_t i = find(s, name);

    if (i < 0)
        return;
    free(s->names[i]);
    free(s->addrs[i]);
    s->n--;
    s->names[i] = s->names[s->n];
    s->addrs[i] = s->addrs[s->n];
}

static void remember(struct gossip_snap *s, const char *name,
                     const char *addr)
{
    ssize_t i = find(s, name);
    char *a = strdup(addr), *nm;

    if (a == NULL)
        return;
    if (i >= 0) {
        free(s->addrs[i]);
        s->addrs[i] = a;
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **nn = realloc(s->names, cap * sizeof(*nn));
        char **na = nn ? realloc(s->addrs, cap * sizeof(*na)) : NULL;

        if (nn != NULL)
            s->names = nn;
        if (na == NULL) {
            free(a);
            return;
        }
        s->addrs = na;
        s->cap = cap;
    }
    nm = strdup(name);
    if (nm == NULL) {
        free(a);
        return;
    }
    s->names[s->n] = nm;
    s->addrs[s->n++] = a;
}

static void clear(struct gossip_snap *s)
{
    while (s->n > 0)
        forget(s, s->names[0]);
}

static bool num_line(const char *line, const char *prefix, uint64_t *v)
{
    size_t n = strlen(prefix);
    char *end;

    if (strncmp(line, prefix, n) != 0)
        return false;
    errno = 0;
    *v = strtoull(line + n, &end, 10);
    if (errno != 0 || *end != '\0' || end == line + n)
        LOG_WARN("gossip", "snapshot: bad clock line '%.60s'", line);
    return true;
}

static void replay_line(struct gossip *g, struct gossip_snap *s, char *line)
{
    char *sp;
    uint64_t v;

    if (strncmp(line, "alive: ", 7) == 0) {
        sp = strrchr(line + 7, ' ');
        if (sp == NULL || sp == line + 7) {
            LOG_WARN("gossip", "snapshot: bad line '%.60s'", line);
            return;
        }
        *sp = '\0';
        remember(s, line + 7, sp + 1);
    } else if (strncmp(line, "not-alive: ", 11) == 0) {
        forget(s, line + 11);
    } else if (num_line(line, "clock: ", &v)) {
        s->last_clock = v;
    } else if (num_line(line, "event-clock: ", &v)) {
        s->last_event = v;
    } else if (num_line(line, "query-clock: ", &v)) {
        s->last_query = v;
    } else if (strcmp(line, "leave") == 0) {
        if (g->rejoin_after_leave)
            return;
        clear(s);
        s->last_clock = s->last_event = s->last_query = 0;
    } else if (line[0] != '#' && strncmp(line, "coordinate: ", 12) != 0) {
        LOG_WARN("gossip", "snapshot: unrecognized line '%.60s'", line);
    }
}

static int read_all(int fd, struct gossip_buf *b)
{
    char chunk[65536];
    ssize_t r;

    while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ERR_IO;
        if (gossip_buf_put(b, chunk, (size_t)r) != 0)
            return b->err;
    }
    return 0;
}

static int replay(struct gossip *g, struct gossip_snap *s)
{
    struct gossip_buf b;
    size_t start = 0;
    int rc;

    gossip_buf_init(&b, SNAP_READ_MAX);
    rc = read_all(s->fd, &b);
    for (size_t i = 0; rc == 0 && i < b.len; i++) {
        if (b.p[i] != '\n')
            continue;
        b.p[i] = '\0';
        replay_line(g, s, (char *)b.p + start);
        start = i + 1;
    }
    s->offset = b.len;
    gossip_buf_release(&b);
    return rc;
}

static void mkdir_parent(const char *path)
{
    char *d = strdup(path), *sl;
    char err[ERR_LEN];

    if (d == NULL)
        return;
    sl = strrchr(d, '/');
    if (sl != NULL && sl != d) {
        *sl = '\0';
        if (util_mkdir_p(d, 0700, err) != 0)
            LOG_WARN("gossip", "snapshot: %s", err);
    }
    free(d);
}

int gossip_snap_open(struct gossip *g, const char *path, char *err)
{
    struct gossip_snap *s = calloc(1, sizeof(*s));
    char q[ERR_QUOTE_MAX + 1];

    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    gossip_buf_init(&s->out, 0);
    mkdir_parent(path);
    s->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0 || replay(g, s) != 0) {
        int e = errno;

        if (s->fd >= 0)
            close(s->fd);
        free(s->path);
        free(s);
        return err_set(err, ERR_IO, "opening snapshot '%s': %s",
                       err_quote(q, sizeof(q), path), strerror(e));
    }
    g->snap = s;
    gossip_witness(&g->clock, s->last_clock);
    gossip_witness(&g->event_clock, s->last_event);
    gossip_witness(&g->query_clock, s->last_query);
    g->event_min = s->last_event + 1;
    g->query_min = s->last_query + 1;
    return 0;
}

static void flush(struct gossip_snap *s);

/* Like serf: write at once unless we wrote less than 500 ms ago; the
 * tick writes the rest. */
static void append(struct gossip *g, struct gossip_snap *s,
                   const char *line)
{
    gossip_buf_put(&s->out, line, strlen(line));
    if (g->now - s->last_flush >= SNAP_FLUSH_MS || s->last_flush == 0) {
        s->last_flush = g->now ? g->now : 1;
        flush(s);
    }
}

static void flush(struct gossip_snap *s)
{
    size_t off = 0;

    while (off < s->out.len) {
        ssize_t w = write(s->fd, s->out.p + off, s->out.len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!s->failed)
                LOG_ERROR("gossip", "snapshot: write '%s': %s", s->path,
                          strerror(errno));
            s->failed = true;
            break;
        }
        off += (size_t)w;
        s->offset += (uint64_t)w;
    }
    gossip_buf_reset(&s->out);
}

static bool safe_name(const char *name)
{
    return strpbrk(name, "\r\n") == NULL;
}

void gossip_snap_alive(struct gossip *g, const char *name,
                       const struct gossip_addr *a)
{
    struct gossip_snap *s = g->snap;
    char addr[80], line[GOSSIP_NAME_MAX + 100];

    if (s == NULL || s->leaving || !safe_name(name))
        return;
    gossip_addr_str(a, addr, sizeof(addr));
    remember(s, name, addr);
    snprintf(line, sizeof(line), "alive: %s %s\n", name, addr);
    append(g, s, line);
}

void gossip_snap_not_alive(struct gossip *g, const char *name)
{
    struct gossip_snap *s = g->snap;
    char line[GOSSIP_NAME_MAX + 20];

    if (s == NULL || s->leaving || !safe_name(name))
        return;
    forget(s, name);
    snprintf(line, sizeof(line), "not-alive: %s\n", name);
    append(g, s, line);
}

static void clock_line(struct gossip *g, struct gossip_snap *s,
                       const char *what, uint64_t *last, uint64_t t)
{
    char line[64];

    if (t <= *last || s->leaving)
        return;
    *last = t;
    snprintf(line, sizeof(line), "%s: %" PRIu64 "\n", what, t);
    append(g, s, line);
}

void gossip_snap_event_clock(struct gossip *g, uint64_t t)
{
    if (g->snap != NULL)
        clock_line(g, g->snap, "event-clock", &g->snap->last_event, t);
}

void gossip_snap_query_clock(struct gossip *g, uint64_t t)
{
    if (g->snap != NULL)
        clock_line(g, g->snap, "query-clock", &g->snap->last_query, t);
}

void gossip_snap_leave(struct gossip *g)
{
    struct gossip_snap *s = g->snap;

    if (s == NULL)
        return;
    gossip_buf_put(&s->out, "leave\n", 6);
    s->leaving = true;
    flush(s);
    if (fsync(s->fd) != 0)
        LOG_ERROR("gossip", "snapshot: fsync '%s': %s", s->path,
                  strerror(errno));
}

static int write_compact(struct gossip_snap *s, const char *tmp)
{
    struct gossip_buf b;
    char line[GOSSIP_NAME_MAX + 100];
    int fd, rc = 0;

    gossip_buf_init(&b, 0);
    for (size_t i = 0; i < s->n; i++) {
        snprintf(line, sizeof(line), "alive: %s %s\n", s->names[i],
                 s->addrs[i]);
        gossip_buf_put(&b, line, strlen(line));
    }
    snprintf(line, sizeof(line), "clock: %" PRIu64 "\nevent-clock: %"
             PRIu64 "\nquery-clock: %" PRIu64 "\n", s->last_clock,
             s->last_event, s->last_query);
    gossip_buf_put(&b, line, strlen(line));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || b.err != 0 || write(fd, b.p, b.len) != (ssize_t)b.len ||
        fsync(fd) != 0)
        rc = ERR_IO;
    if (fd >= 0)
        close(fd);
    s->offset = b.len;
    gossip_buf_release(&b);
    return rc;
}

static void compact(struct gossip_snap *s)
{
    char tmp[4096];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.compact", s->path);
    if (write_compact(s, tmp) != 0 || rename(tmp, s->path) != 0) {
        LOG_ERROR("gossip", "snapshot: compaction of '%s' failed: %s",
                  s->path, strerror(errno));
        unlink(tmp);
        return;
    }
    fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0) {
        LOG_ERROR("gossip", "snapshot: reopen '%s': %s", s->path,
                  strerror(errno));
        return;
    }
    close(s->fd);
    s->fd = fd;
}

void gossip_snap_tick(struct gossip *g)
{
    struct gossip_snap *s = g->snap;
    uint64_t max;

    if (s == NULL)
        return;
    if (g->clock > 1)
        clock_line(g, s, "clock", &s->last_clock, g->clock - 1);
    flush(s);
    max = (uint64_t)s->n * SNAP_BYTES_PER_NODE * 2;
    if (max < SNAP_MIN_COMPACT)
        max = SNAP_MIN_COMPACT;
    if (s->offset > max && !s->leaving)
        compact(s);
}

void gossip_snap_close(struct gossip *g)
{
    struct gossip_snap *s = g->snap;

    if (s == NULL)
        return;
    gossip_snap_tick(g);
    if (fsync(s->fd) != 0)
        LOG_DEBUG("gossip", "snapshot: fsync: %s", strerror(errno));
    close(s->fd);
    clear(s);
    free(s->names);
    free(s->addrs);
    gossip_buf_release(&s->out);
    free(s->path);
    free(s);
    g->snap = NULL;
}

size_t gossip_snap_previous(struct gossip *g, char ***names, char ***addrs)
{
    struct gossip_snap *s = g->snap;
    size_t n = 0;

    *names = *addrs = NULL;
    if (s == NULL || s->n == 0)
        return 0;
    *names = calloc(s->n, sizeof(char *));
    *addrs = calloc(s->n, sizeof(char *));
    for (size_t i = 0; *names && *addrs && i < s->n; i++) {
        if (strcmp(s->names[i], g->name) == 0)
            continue;
        (*names)[n] = strdup(s->names[i]);
        (*addrs)[n] = strdup(s->addrs[i]);
        if ((*names)[n] == NULL || (*addrs)[n] == NULL) {
            free((*names)[n]);
            free((*addrs)[n]);
            break;
        }
        n++;
    }
    for (size_t i = n; i > 1; i--) {
        size_t k = gossip_rand(g) % i;
        char *t = (*names)[i - 1], *u = (*addrs)[i - 1];

        (*names)[i - 1] = (*names)[k];
        (*addrs)[i - 1] = (*addrs)[k];
        (*names)[k] = t;
        (*addrs)[k] = u;
    }
    return n;
}

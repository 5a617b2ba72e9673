/* metrics.c - the telemetry registry: recording, intervals, retention.
 *
 * Layer: util. Thread: the registry's owner (others' calls are dropped).
 * Owns: every entry and its strings; summary windows.
 * Tests: t/unit/check_metrics.c, t/t7003-metrics.sh
 *
 * Entries live in an open-addressing table keyed by a hash of kind, name
 * and labels, computed from the caller's strings: recording something
 * seen before hashes, compares and adds, with no allocation.
 */
#include "metrics_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define TAB_SIZE (2 * METRICS_MAX_ENTRIES) /* a power of two */
#define DEFAULT_INTERVAL_MS 10000

static struct metrics *global;

static int64_t wall_ms(void *ctx)
{
    struct timespec ts;

    (void)ctx;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t metrics_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double metrics_since_ms(uint64_t start_ns)
{
    uint64_t now = metrics_now_ns();

    return now > start_ns ? (double)(now - start_ns) / 1e6 : 0.0;
}

int64_t metrics_now(struct metrics *m)
{
    return m->now_fn(m->clock_ctx);
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

struct metrics *metrics_new(const struct metrics_opts *o)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->owner = pthread_self();
    m->prefix = dup_or_null(o->prefix);
    m->hostname = dup_or_null(o->hostname);
    m->retention_ms = o->prom_retention_ms > 0 ? o->prom_retention_ms : 0;
    m->interval_ms = o->interval_ms > 0 ? o->interval_ms
                                        : DEFAULT_INTERVAL_MS;
    m->now_fn = o->now_ms != NULL ? o->now_ms : wall_ms;
    m->clock_ctx = o->clock_ctx;
    m->process_metrics = o->process_metrics != 0;
    m->cur_start = m->prev_start = -1;
    m->rng = 0x9e3779b97f4a7c15u;
    m->tab = calloc(TAB_SIZE, sizeof(*m->tab));
    m->all = calloc(METRICS_MAX_ENTRIES, sizeof(*m->all));
    if (m->tab == NULL || m->all == NULL ||
        (o->prefix != NULL && o->prefix[0] != '\0' && m->prefix == NULL) ||
        (o->hostname != NULL && o->hostname[0] != '\0' &&
         m->hostname == NULL)) {
        metrics_free(m);
        return NULL;
    }
    return m;
}

static void entry_free(struct metrics_entry *e)
{
    free(e->sname);
    free(e->name);
    free(e->key);
    for (size_t i = 0; i < e->nl; i++) {
        free(e->lname[i]);
        free(e->lval[i]);
    }
    free(e->win);
    free(e);
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    if (global == m)
        global = NULL;
    for (size_t i = 0; m->all != NULL && i < m->n; i++)
        entry_free(m->all[i]);
    free(m->all);
    free(m->tab);
    free(m->prefix);
    free(m->hostname);
    free(m);
}

size_t metrics_count(const struct metrics *m)
{
    return m->n;
}

uint64_t metrics_dropped(const struct metrics *m)
{
    return m->dropped;
}

int metrics_prometheus_enabled(const struct metrics *m)
{
    return m->retention_ms > 0;
}

/* ---- lookup ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3u;
    }
    h ^= 0xff; /* separator: "ab","c" differs from "a","bc" */
    return h * 0x100000001b3u;
}

static uint64_t hash_of(enum metrics_kind k, const char *name,
                        const struct metrics_label *l, size_t nl)
{
    uint64_t h = 0xcbf29ce484222325u ^ (uint64_t)k;

    h = fnv(h, name);
    for (size_t i = 0; i < nl; i++)
        h = fnv(fnv(h, l[i].name), l[i].value);
    return h;
}

static bool same(const struct metrics_entry *e, enum metrics_kind k,
                 uint64_t h, const char *name, const struct metrics_label *l,
                 size_t nl)
{
    if (e->hash != h || e->kind != k || e->nl != nl ||
        strcmp(e->sname, name) != 0)
        return false;
    for (size_t i = 0; i < nl; i++)
        if (strcmp(e->lname[i], l[i].name) != 0 ||
            strcmp(e->lval[i], l[i].value) != 0)
            return false;
    return true;
}

/* The slot holding the entry, or the empty slot where it would go. */
static size_t slot_of(struct metrics *m, enum metrics_kind k, uint64_t h,
                      const char *name, const struct metrics_label *l,
                      size_t nl)
{
    size_t i = (size_t)h & (TAB_SIZE - 1);

    while (m->tab[i] != NULL && !same(m->tab[i], k, h, name, l, nl))
        i = (i + 1) & (TAB_SIZE - 1);
    return i;
}

/* Names: 1..METRICS_NAME_MAX-1 bytes, no control characters; label
 * values may be empty and hold anything (the renderers escape it). */
static bool valid_text(const char *s, bool is_value)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++)
        if ((!is_value && (unsigned char)s[n] < 0x20) ||
            n >= METRICS_NAME_MAX)
            return false;
    return is_value || n > 0;
}

/* s with spaces as '_' (go-metrics' spaceReplacer), appended to d. */
static void cat_nospace(char *d, const char *s)
{
    d += strlen(d);
    for (; *s != '\0'; s++)
        *d++ = *s == ' ' ? '_' : *s;
    *d = '\0';
}

static char *full_name(const struct metrics *m, enum metrics_kind k,
                       const char *name)
{
    size_t n = strlen(name) + 3 + (m->prefix ? strlen(m->prefix) : 0) +
               (m->hostname ? strlen(m->hostname) : 0);
    char *s = malloc(n);

    if (s == NULL)
        return NULL;
    s[0] = '\0';
    if (m->prefix != NULL) {
        cat_nospace(s, m->prefix);
        strcat(s, ".");
    }
    if (k == MK_GAUGE && m->hostname != NULL) {
        cat_nospace(s, m->hostname);
        strcat(s, ".");
    }
    cat_nospace(s, name);
    return s;
}

static char *sort_key(const struct metrics_entry *e)
{
    size_t n = strlen(e->name) + 1;
    char *s;

    for (size_t i = 0; i < e->nl; i++)
        n += strlen(e->lname[i]) + strlen(e->lval[i]) + 2;
    if ((s = malloc(n)) == NULL)
        return NULL;
    strcpy(s, e->name);
    for (size_t i = 0; i < e->nl; i++) {
        strcat(s, ";");
        cat_nospace(s, e->lname[i]);
        strcat(s, "=");
        cat_nospace(s, e->lval[i]);
    }
    return s;
}

static struct metrics_entry *entry_new(struct metrics *m,
                                       enum metrics_kind k, uint64_t h,
                                       const char *name,
                                       const struct metrics_label *l,
                                       size_t nl)
{
    struct metrics_entry *e = calloc(1, sizeof(*e));
    bool ok = e != NULL;

    if (!ok)
        return NULL;
    e->kind = k;
    e->hash = h;
    e->nl = nl;
    e->sname = strdup(name);
    e->name = full_name(m, k, name);
    for (size_t i = 0; i < nl; i++) {
        e->lname[i] = strdup(l[i].name);
        e->lval[i] = strdup(l[i].value);
        ok = ok && e->lname[i] != NULL && e->lval[i] != NULL;
    }
    ok = ok && e->sname != NULL && e->name != NULL;
    if (ok)
        ok = (e->key = sort_key(e)) != NULL;
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    return e;
}

static struct metrics_entry *get(struct metrics *m, enum metrics_kind k,
                                 const char *name,
                                 const struct metrics_label *l, size_t nl)
{
    uint64_t h;
    size_t i;

    if (!pthread_equal(pthread_self(), m->owner) || !valid_text(name, false) ||
        nl > METRICS_MAX_LABELS || (nl > 0 && l == NULL))
        return NULL;
    for (size_t j = 0; j < nl; j++)
        if (!valid_text(l[j].name, false) || !valid_text(l[j].value, true))
            return NULL;
    h = hash_of(k, name, l, nl);
    i = slot_of(m, k, h, name, l, nl);
    if (m->tab[i] != NULL)
        return m->tab[i];
    if (m->n >= METRICS_MAX_ENTRIES) {
        if (m->dropped == 0)
            LOG_WARN("metrics", "registry full (%d entries): dropping "
                     "new metrics such as '%s'", METRICS_MAX_ENTRIES, name);
        return NULL;
    }
    if ((m->tab[i] = entry_new(m, k, h, name, l, nl)) == NULL)
        return NULL;
    m->all[m->n++] = m->tab[i];
    return m->tab[i];
}

/* ---- intervals ---- */

void metrics_roll(struct metrics *m, int64_t now)
{
    int64_t start = now - now % (int64_t)m->interval_ms;

    if (start == m->cur_start)
        return;
    for (size_t i = 0; i < m->n; i++) {
        struct metrics_entry *e = m->all[i];

        e->prev = e->cur;
        memset(&e->cur, 0, sizeof(e->cur));
        e->gprev = e->gcur;
        e->gprev_set = e->gcur_set;
        e->gcur_set = false;
    }
    m->prev_start = m->cur_start;
    m->cur_start = start;
}

static void ingest(struct metrics_agg *a, double v)
{
    a->count++;
    a->sum += v;
    a->sumsq += v * v;
    if (a->count == 1 || v < a->min)
        a->min = v;
    if (a->count == 1 || v > a->max)
        a->max = v;
}

/* ---- Prometheus state ---- */

static uint64_t rnd(struct metrics *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static void window_add(struct metrics *m, struct metrics_window *w,
                       int64_t now, double v)
{
    int64_t bstart = now - now % MW_SPAN_MS;
    size_t b = (size_t)((now / MW_SPAN_MS) % MW_BUCKETS);

    if (w->start[b] != bstart) {
        w->start[b] = bstart;
        w->seen[b] = 0;
        w->n[b] = 0;
    }
    w->seen[b]++;
    if (w->n[b] < MW_CAP) {
        w->v[b][w->n[b]++] = (float)v;
    } else {
        uint64_t r = rnd(m) % w->seen[b]; /* reservoir sampling */

        if (r < MW_CAP)
            w->v[b][r] = (float)v;
    }
}

static void window_reset(struct metrics_window *w)
{
    for (size_t b = 0; b < MW_BUCKETS; b++) {
        w->start[b] = -1;
        w->n[b] = 0;
        w->seen[b] = 0;
    }
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? -1 : x > y;
}

double metrics_window_quantile(const struct metrics_window *w, int64_t now,
                               double q)
{
    float vals[MW_BUCKETS * MW_CAP];
    size_t n = 0, idx;

    for (size_t b = 0; w != NULL && b < MW_BUCKETS; b++) {
        if (w->start[b] < 0 || now - w->start[b] >= MW_BUCKETS * MW_SPAN_MS)
            continue;
        memcpy(vals + n, w->v[b], w->n[b] * sizeof(float));
        n += w->n[b];
    }
    if (n == 0)
        return NAN;
    qsort(vals, n, sizeof(vals[0]), cmp_float);
    idx = (size_t)ceil(q * (double)n);
    idx = idx > 0 ? idx - 1 : 0;
    return vals[idx < n ? idx : n - 1];
}

static void prom_record(struct metrics *m, struct metrics_entry *e,
                        int64_t now, double v)
{
    if (m->retention_ms <= 0)
        return;
    switch (e->kind) {
    case MK_COUNTER:
        if (v < 0)
            return; /* a Prometheus counter never goes down */
        e->total += v;
        break;
    case MK_GAUGE:
        break;
    case MK_SAMPLE:
        if (e->win == NULL) {
            if ((e->win = malloc(sizeof(*e->win))) == NULL)
                return;
            window_reset(e->win);
        }
        e->total += v;
        e->total_count++;
        window_add(m, e->win, now, v);
        break;
    }
    e->prom_live = true;
    e->updated_ms = now;
}

void metrics_expire(struct metrics *m, int64_t now)
{
    for (size_t i = 0; i < m->n; i++) {
        struct metrics_entry *e = m->all[i];

        if (!e->prom_live || now - e->updated_ms <= m->retention_ms)
            continue;
        e->prom_live = false;
        e->total = 0;
        e->total_count = 0;
        if (e->win != NULL)
            window_reset(e->win);
    }
}

/* ---- recording ---- */

static void record(struct metrics *m, enum metrics_kind k, const char *name,
                   double v, const struct metrics_label *l, size_t nl)
{
    struct metrics_entry *e;
    int64_t now;

    if (m == NULL)
        return;
    if (isnan(v) || (e = get(m, k, name, l, nl)) == NULL) {
        m->dropped++;
        return;
    }
    v = (double)(float)v; /* go-metrics takes float32 */
    now = metrics_now(m);
    metrics_roll(m, now);
    if (k == MK_GAUGE) {
        e->gcur = v;
        e->gcur_set = true;
    } else {
        ingest(&e->cur, v);
    }
    prom_record(m, e, now, v);
}

void metrics_counter_add(struct metrics *m, const char *name, double v,
                         const struct metrics_label *l, size_t nl)
{
    record(m, MK_COUNTER, name, v, l, nl);
}

void metrics_gauge_set(struct metrics *m, const char *name, double v,
                       const struct metrics_label *l, size_t nl)
{
    record(m, MK_GAUGE, name, v, l, nl);
}

void metrics_sample_add(struct metrics *m, const char *name, double v,
                        const struct metrics_label *l, size_t nl)
{
    record(m, MK_SAMPLE, name, v, l, nl);
}

/* ---- the process-wide registry ---- */

void metrics_set_global(struct metrics *m)
{
    global = m;
}

struct metrics *metrics_global(void)
{
    return global;
}

void metrics_incr(const char *name, double v)
{
    record(global, MK_COUNTER, name, v, NULL, 0);
}

void metrics_incr_l(const char *name, double v, const struct metrics_label *l,
                    size_t nl)
{
    record(global, MK_COUNTER, name, v, l, nl);
}

void metrics_gauge(const char *name, double v)
{
    record(global, MK_GAUGE, name, v, NULL, 0);
}

void metrics_gauge_l(const char *name, double v,
                     const struct metrics_label *l, size_t nl)
{
    record(global, MK_GAUGE, name, v, l, nl);
}

void metrics_sample(const char *name, double v)
{
    record(global, MK_SAMPLE, name, v, NULL, 0);
}

void metrics_sample_l(const char *name, double v,
                      const struct metrics_label *l, size_t nl)
{
    record(global, MK_SAMPLE, name, v, l, nl);
}

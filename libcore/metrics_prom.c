/* metrics_prom.c - the registry as Prometheus text format 0.0.4, the
 * way Consul's go-metrics Prometheus sink and client_golang's text
 * encoder print it: families sorted by name with HELP and TYPE lines,
 * counters without a _total suffix, samples as summaries (quantiles 0.5,
 * 0.9, 0.99, then _sum and _count), and client_golang's process_*
 * families.
 *
 * Layer: util. Thread: the registry's owner.
 * Tests: t/unit/check_metrics.c, t/t7003-metrics.sh
 */
#include "metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One sample line group to print. */
struct pline {
    char *name;            /* sanitised family name (malloc'd) */
    char *labels;          /* 'a="x",b="y"' sorted by name (malloc'd) */
    const char *help;      /* NULL: the name */
    enum metrics_kind kind;
    const struct metrics_entry *e; /* NULL for process_* */
    double value;
};

static void put_num(struct metrics_sb *o, double v)
{
    char buf[48];

    metrics_fmt_go_g(v, buf, sizeof(buf));
    metrics_sb_puts(o, buf);
}

/* A metric or label name Prometheus accepts: [a-zA-Z_:][a-zA-Z0-9_:]*
 * (no ':' in label names); everything else becomes '_'. */
static char *sanitise(const char *s, bool label)
{
    size_t n = strlen(s);
    char *d = malloc(n + 2), *w = d;

    if (d == NULL)
        return NULL;
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        *w++ = '_';
    for (; *s != '\0'; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' ||
                  (c == ':' && !label);

        *w++ = ok ? c : '_';
    }
    *w = '\0';
    return d;
}

static void put_escaped(struct metrics_sb *o, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            metrics_sb_puts(o, "\\\\");
        else if (*s == '\n')
            metrics_sb_puts(o, "\\n");
        else if (quote && *s == '"')
            metrics_sb_puts(o, "\\\"");
        else
            metrics_sb_put(o, s, 1);
    }
}

static char *label_text(const struct metrics_entry *e)
{
    struct metrics_sb o = {0};
    size_t idx[METRICS_MAX_LABELS], n = e->nl;
    char *names[METRICS_MAX_LABELS];

    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
        if ((names[i] = sanitise(e->lname[i], true)) == NULL)
            o.oom = true;
    }
    for (size_t i = 1; i < n && !o.oom; i++)
        for (size_t j = i; j > 0 && strcmp(names[idx[j - 1]],
                                           names[idx[j]]) > 0; j--) {
            size_t t = idx[j];

            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (size_t i = 0; i < n && !o.oom; i++) {
        if (i > 0 && strcmp(names[idx[i]], names[idx[i - 1]]) == 0)
            continue; /* a duplicate label name: keep the first */
        if (o.len > 0)
            metrics_sb_puts(&o, ",");
        metrics_sb_puts(&o, names[idx[i]]);
        metrics_sb_puts(&o, "=\"");
        put_escaped(&o, e->lval[idx[i]], true);
        metrics_sb_puts(&o, "\"");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return metrics_sb_done(&o, NULL);
}

static int cmp_line(const void *a, const void *b)
{
    const struct pline *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->labels, y->labels);
}

static const char *type_name(enum metrics_kind k)
{
    return k == MK_COUNTER ? "counter" : k == MK_GAUGE ? "gauge"
                                                       : "summary";
}

/* name{labels[,extra]} value */
static void put_line(struct metrics_sb *o, const char *name,
                     const char *suffix, const char *labels,
                     const char *extra, double v)
{
    metrics_sb_puts(o, name);
    metrics_sb_puts(o, suffix);
    if (labels[0] != '\0' || extra != NULL) {
        metrics_sb_puts(o, "{");
        metrics_sb_puts(o, labels);
        if (extra != NULL) {
            if (labels[0] != '\0')
                metrics_sb_puts(o, ",");
            metrics_sb_puts(o, extra);
        }
        metrics_sb_puts(o, "}");
    }
    metrics_sb_puts(o, " ");
    put_num(o, v);
    metrics_sb_puts(o, "\n");
}

static void put_metric(struct metrics_sb *o, const struct pline *l, int64_t now)
{
    static const double qs[] = {0.5, 0.9, 0.99};
    static const char *const qn[] = {"quantile=\"0.5\"", "quantile=\"0.9\"",
                                     "quantile=\"0.99\""};
    const struct metrics_entry *e = l->e;

    if (e == NULL) {
        put_line(o, l->name, "", l->labels, NULL, l->value);
    } else if (e->kind == MK_COUNTER) {
        put_line(o, l->name, "", l->labels, NULL, e->total);
    } else if (e->kind == MK_GAUGE) {
        put_line(o, l->name, "", l->labels, NULL, e->gcur); /* the last */
    } else {
        for (size_t i = 0; i < 3; i++)
            put_line(o, l->name, "", l->labels, qn[i],
                     metrics_window_quantile(e->win, now, qs[i]));
        put_line(o, l->name, "_sum", l->labels, NULL, e->total);
        put_line(o, l->name, "_count", l->labels, NULL,
                 (double)e->total_count);
    }
}

/* client_golang's process collector, from /proc. */
static size_t process_lines(struct pline *v, size_t n)
{
    static const struct {
        const char *name, *help;
        enum metrics_kind kind;
    } pm[] = {
        {"process_cpu_seconds_total",
         "Total user and system CPU time spent in seconds.", MK_COUNTER},
        {"process_max_fds", "Maximum number of open file descriptors.",
         MK_GAUGE},
        {"process_open_fds", "Number of open file descriptors.", MK_GAUGE},
        {"process_resident_memory_bytes", "Resident memory size in bytes.",
         MK_GAUGE},
        {"process_start_time_seconds",
         "Start time of the process since unix epoch in seconds.",
         MK_GAUGE},
        {"process_virtual_memory_bytes", "Virtual memory size in bytes.",
         MK_GAUGE},
    };
    struct metrics_proc p;
    double vals[6];

    metrics_proc_read(&p);
    vals[0] = p.cpu_seconds;
    vals[1] = p.max_fds;
    vals[2] = p.open_fds;
    vals[3] = p.rss_bytes;
    vals[4] = p.start_time_seconds;
    vals[5] = p.vsize_bytes;
    for (size_t i = 0; i < 6; i++) {
        struct pline *l = &v[n + i];

        memset(l, 0, sizeof(*l));
        l->name = strdup(pm[i].name);
        l->labels = strdup("");
        l->help = pm[i].help;
        l->kind = pm[i].kind;
        l->value = vals[i];
    }
    return n + 6;
}

static size_t collect(struct metrics *m, struct pline *v)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++) {
        const struct metrics_entry *e = m->all[i];

        if (!e->prom_live)
            continue;
        v[n].name = sanitise(e->name, false);
        v[n].labels = label_text(e);
        v[n].help = metrics_help_text(e->sname);
        v[n].kind = e->kind;
        v[n].e = e;
        n++;
    }
    if (m->process_metrics)
        n = process_lines(v, n);
    return n;
}

static void emit(struct metrics_sb *o, struct pline *v, size_t n, int64_t now)
{
    const char *fam = NULL;
    enum metrics_kind fkind = MK_COUNTER;

    for (size_t i = 0; i < n; i++) {
        struct pline *l = &v[i];

        if (fam == NULL || strcmp(fam, l->name) != 0) {
            fam = l->name;
            fkind = l->kind;
            metrics_sb_puts(o, "# HELP ");
            metrics_sb_puts(o, l->name);
            metrics_sb_puts(o, " ");
            put_escaped(o, l->help != NULL ? l->help : l->name, false);
            metrics_sb_puts(o, "\n# TYPE ");
            metrics_sb_puts(o, l->name);
            metrics_sb_puts(o, " ");
            metrics_sb_puts(o, type_name(l->kind));
            metrics_sb_puts(o, "\n");
        } else if (l->kind != fkind ||
                   strcmp(l->labels, v[i - 1].labels) == 0) {
            continue; /* the same name as another kind, or a duplicate */
        }
        put_metric(o, l, now);
    }
}

char *metrics_render_prometheus(struct metrics *m, size_t *len)
{
    struct pline *v = calloc(m->n + 8, sizeof(*v));
    struct metrics_sb o = {0};
    int64_t now = metrics_now(m);
    size_t n;

    if (v == NULL)
        return NULL;
    metrics_expire(m, now);
    n = collect(m, v);
    for (size_t i = 0; i < n; i++)
        if (v[i].name == NULL || v[i].labels == NULL)
            o.oom = true;
    if (!o.oom) {
        qsort(v, n, sizeof(*v), cmp_line);
        emit(&o, v, n, now);
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].labels);
    }
    free(v);
    return metrics_sb_done(&o, len);
}

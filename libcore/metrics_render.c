/* metrics_render.c - the registry as go-metrics' InmemSink summary (the
 * JSON of GET /v1/agent/metrics) and as Prometheus text format 0.0.4
 * (?format=prometheus), byte for byte as Consul's Go encoders print them
 * where that is observable: Go's shortest float forms, sort orders,
 * escaping.
 *
 * Layer: util. Thread: the registry's owner.
 * Tests: t/unit/check_metrics.c, t/t7003-metrics.sh
 */
#include "metrics_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growing text buffer (metrics_int.h) ---- */

void metrics_sb_put(struct metrics_sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void metrics_sb_puts(struct metrics_sb *b, const char *s)
{
    metrics_sb_put(b, s, strlen(s));
}

char *metrics_sb_done(struct metrics_sb *b, size_t *len)
{
    if (!b->oom && b->p == NULL)
        metrics_sb_put(b, "", 0);
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (len != NULL)
        *len = b->len;
    return b->p;
}

/* ---- Go's float forms ---- */

/* Shortest decimal digits that read back as v (as a float32 when f32):
 * digits into d (no dot, NUL-terminated), returns the decimal exponent
 * of the first digit. v must be finite and > 0. */
static int shortest(double v, bool f32, char d[24])
{
    char buf[40], *e;
    int exp, n = 0;

    for (int p = 1; p <= 17; p++) {
        double r;

        snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
        r = strtod(buf, NULL);
        if (f32 ? (float)r == (float)v : r == v)
            break;
    }
    e = strchr(buf, 'e');
    exp = atoi(e + 1);
    for (const char *s = buf; s < e; s++)
        if (*s >= '0' && *s <= '9')
            d[n++] = *s;
    while (n > 1 && d[n - 1] == '0')
        n--;
    d[n] = '\0';
    return exp;
}

static void put_fixed(struct metrics_sb *b, const char *d, int exp)
{
    int nd = (int)strlen(d);

    if (exp < 0) {
        metrics_sb_puts(b, "0.");
        for (int i = 0; i < -exp - 1; i++)
            metrics_sb_puts(b, "0");
        metrics_sb_puts(b, d);
    } else if (exp >= nd - 1) {
        metrics_sb_puts(b, d);
        for (int i = 0; i < exp - (nd - 1); i++)
            metrics_sb_puts(b, "0");
    } else {
        metrics_sb_put(b, d, (size_t)exp + 1);
        metrics_sb_puts(b, ".");
        metrics_sb_puts(b, d + exp + 1);
    }
}

/* d[.ddd]e+XX; Go's JSON then writes e-7 rather than e-07. */
static void put_exp(struct metrics_sb *b, const char *d, int exp, bool json)
{
    char tail[16];

    metrics_sb_put(b, d, 1);
    if (d[1] != '\0') {
        metrics_sb_puts(b, ".");
        metrics_sb_puts(b, d + 1);
    }
    if (json && exp < 0 && exp > -10)
        snprintf(tail, sizeof(tail), "e-%d", -exp);
    else
        snprintf(tail, sizeof(tail), "e%c%02d", exp < 0 ? '-' : '+',
                 exp < 0 ? -exp : exp);
    metrics_sb_puts(b, tail);
}

/* encoding/json's float64 (or float32) form. */
static void put_json_num(struct metrics_sb *b, double v, bool f32)
{
    char d[24];
    double a = fabs(v);
    int exp;

    if (!isfinite(v) || v == 0) {
        metrics_sb_puts(b, "0");
        return;
    }
    if (v < 0)
        metrics_sb_puts(b, "-");
    exp = shortest(a, f32, d);
    if (a < 1e-6 || a >= 1e21)
        put_exp(b, d, exp, true);
    else
        put_fixed(b, d, exp);
}

/* strconv.FormatFloat(v, 'g', -1, 64), as the Prometheus text encoder
 * writes sample values. */
static void put_prom_num(struct metrics_sb *b, double v)
{
    char d[24];
    int exp;

    if (isnan(v)) {
        metrics_sb_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        metrics_sb_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) {
        metrics_sb_puts(b, "0");
        return;
    }
    if (v < 0)
        metrics_sb_puts(b, "-");
    exp = shortest(fabs(v), false, d);
    if (exp < -4 || exp >= 6)
        put_exp(b, d, exp, false);
    else
        put_fixed(b, d, exp);
}

void metrics_fmt_go_g(double v, char *buf, size_t len)
{
    struct metrics_sb b = {0};

    put_prom_num(&b, v);
    snprintf(buf, len, "%s", b.oom || b.p == NULL ? "NaN" : b.p);
    free(b.p);
}

/* ---- JSON ---- */

static void put_json_str(struct metrics_sb *b, const char *s)
{
    char esc[8];

    metrics_sb_puts(b, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            metrics_sb_put(b, esc, 2);
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            metrics_sb_puts(b, esc);
        } else {
            metrics_sb_put(b, s, 1);
        }
    }
    metrics_sb_puts(b, "\"");
}

static void put_json_labels(struct metrics_sb *b, const struct metrics_entry *e)
{
    const char *names[METRICS_MAX_LABELS];
    size_t idx[METRICS_MAX_LABELS], n = 0;

    /* a Go map encodes with sorted keys; the last of a duplicate wins */
    for (size_t i = 0; i < e->nl; i++) {
        size_t j = 0;

        while (j < n && strcmp(names[j], e->lname[i]) != 0)
            j++;
        if (j == n)
            n++;
        names[j] = e->lname[i];
        idx[j] = i;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
             j--) {
            const char *t = names[j];
            size_t ti = idx[j];

            names[j] = names[j - 1];
            idx[j] = idx[j - 1];
            names[j - 1] = t;
            idx[j - 1] = ti;
        }
    metrics_sb_puts(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            metrics_sb_puts(b, ",");
        put_json_str(b, names[i]);
        metrics_sb_puts(b, ":");
        put_json_str(b, e->lval[idx[i]]);
    }
    metrics_sb_puts(b, "}");
}

static int cmp_key(const void *a, const void *b)
{
    const struct metrics_entry *x = *(const struct metrics_entry *const *)a;
    const struct metrics_entry *y = *(const struct metrics_entry *const *)b;

    return strcmp(x->key, y->key);
}

static void put_agg(struct metrics_sb *b, const struct metrics_entry *e,
                    const struct metrics_agg *a, double rate_denom)
{
    double n = (double)a->count, mean = a->sum / n;
    double div = n * (n - 1), num = n * a->sumsq - a->sum * a->sum;
    double sd = div > 0 && num > 0 ? sqrt(num / div) : 0;
    char cnt[32];

    metrics_sb_puts(b, "{\"Name\":");
    put_json_str(b, e->name);
    snprintf(cnt, sizeof(cnt), ",\"Count\":%llu,\"Rate\":",
             (unsigned long long)a->count);
    metrics_sb_puts(b, cnt);
    put_json_num(b, a->sum / rate_denom, false);
    metrics_sb_puts(b, ",\"Sum\":");
    put_json_num(b, a->sum, false);
    metrics_sb_puts(b, ",\"Min\":");
    put_json_num(b, a->min, false);
    metrics_sb_puts(b, ",\"Max\":");
    put_json_num(b, a->max, false);
    metrics_sb_puts(b, ",\"Mean\":");
    put_json_num(b, mean, false);
    metrics_sb_puts(b, ",\"Stddev\":");
    put_json_num(b, sd, false);
    metrics_sb_puts(b, ",\"Labels\":");
    put_json_labels(b, e);
    metrics_sb_puts(b, "}");
}

/* One of the three arrays: the entries of kind k with data in the
 * shown interval, by sort key. */
static void put_json_kind(struct metrics_sb *b, struct metrics *m,
                          const struct metrics_entry **v,
                          enum metrics_kind k, bool prev)
{
    size_t n = 0;

    for (size_t i = 0; i < m->n; i++) {
        const struct metrics_entry *e = m->all[i];
        bool has = k == MK_GAUGE
                       ? (prev ? e->gprev_set : e->gcur_set)
                       : (prev ? e->prev.count : e->cur.count) > 0;

        if (e->kind == k && has)
            v[n++] = e;
    }
    qsort(v, n, sizeof(*v), cmp_key);
    metrics_sb_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        const struct metrics_entry *e = v[i];

        if (i > 0)
            metrics_sb_puts(b, ",");
        if (k != MK_GAUGE) {
            put_agg(b, e, prev ? &e->prev : &e->cur,
                    (double)m->interval_ms / 1000.0);
            continue;
        }
        metrics_sb_puts(b, "{\"Name\":");
        put_json_str(b, e->name);
        metrics_sb_puts(b, ",\"Value\":");
        put_json_num(b, prev ? e->gprev : e->gcur, true);
        metrics_sb_puts(b, ",\"Labels\":");
        put_json_labels(b, e);
        metrics_sb_puts(b, "}");
    }
    metrics_sb_puts(b, "]");
}

char *metrics_render_json(struct metrics *m, size_t *len)
{
    struct metrics_sb b = {0};
    const struct metrics_entry **v = malloc((m->n + 1) * sizeof(*v));
    bool prev;
    time_t t;
    struct tm tm;
    char ts[64];

    if (v == NULL)
        return NULL;
    metrics_roll(m, metrics_now(m));
    prev = m->prev_start >= 0; /* the last finished interval, if any */
    t = (time_t)((prev ? m->prev_start : m->cur_start) / 1000);
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
    metrics_sb_puts(&b, "{\"Timestamp\":");
    put_json_str(&b, ts);
    metrics_sb_puts(&b, ",\"Gauges\":");
    put_json_kind(&b, m, v, MK_GAUGE, prev);
    metrics_sb_puts(&b, ",\"Points\":[],\"Counters\":");
    put_json_kind(&b, m, v, MK_COUNTER, prev);
    metrics_sb_puts(&b, ",\"Samples\":");
    put_json_kind(&b, m, v, MK_SAMPLE, prev);
    metrics_sb_puts(&b, "}");
    free(v);
    return metrics_sb_done(&b, len);
}

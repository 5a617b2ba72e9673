/* metrics_int.h - what metrics.c (registry) and metrics_render.c
 * (JSON and Prometheus text) share.
 *
 * Layer: util. Thread: the registry's owner.
 */
#ifndef PROCONSUL_METRICS_INT_H
#define PROCONSUL_METRICS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

enum metrics_kind { MK_COUNTER, MK_GAUGE, MK_SAMPLE };

/* go-metrics' AggregateSample for one interval. */
struct metrics_agg {
    uint64_t count;
    double sum, sumsq, min, max;
};

/* A summary's recent observations for the quantiles: MW_BUCKETS
 * buckets of MW_SPAN_MS each (client_golang: MaxAge 10 s, 5 age
 * buckets), each a reservoir of at most MW_CAP values. */
#define MW_BUCKETS 5
#define MW_SPAN_MS 2000
#define MW_CAP 128
struct metrics_window {
    int64_t start[MW_BUCKETS];   /* bucket start (ms), -1 unused */
    uint32_t seen[MW_BUCKETS];   /* observations offered */
    uint16_t n[MW_BUCKETS];      /* values kept */
    float v[MW_BUCKETS][MW_CAP];
};

struct metrics_entry {
    enum metrics_kind kind;
    uint64_t hash;
    char *sname;            /* name as recorded ("raft.apply") */
    char *name;             /* full name ("consul.raft.apply") */
    char *key;              /* name;l1=v1;l2=v2 (go-metrics' sort key) */
    size_t nl;
    char *lname[METRICS_MAX_LABELS], *lval[METRICS_MAX_LABELS];
    /* in-memory intervals */
    struct metrics_agg cur, prev;
    double gcur, gprev;
    bool gcur_set, gprev_set;
    /* Prometheus */
    bool prom_live;
    int64_t updated_ms;
    double total;           /* counter total, or summary sum */
    uint64_t total_count;   /* summary count */
    struct metrics_window *win;
};

struct metrics {
    pthread_t owner;
    char *prefix, *hostname;
    int64_t retention_ms;
    uint64_t interval_ms;
    int64_t (*now_fn)(void *ctx);
    void *clock_ctx;
    bool process_metrics;
    int64_t cur_start, prev_start;  /* interval starts (ms), -1: none */
    struct metrics_entry **tab;     /* open addressing, TAB_SIZE slots */
    struct metrics_entry **all;     /* in creation order */
    size_t n;
    uint64_t dropped;
    uint64_t rng;
};

int64_t metrics_now(struct metrics *m);
/* Start a new interval if the clock left the current one. */
void metrics_roll(struct metrics *m, int64_t now);
/* Forget the Prometheus state of entries idle for longer than the
 * retention time. */
void metrics_expire(struct metrics *m, int64_t now);
/* Quantile q of the window's observations within the last 10 s; NaN
 * when there are none. */
double metrics_window_quantile(const struct metrics_window *w, int64_t now,
                               double q);

/* Go's strconv.FormatFloat(v, 'g', -1, 64) (metrics_render.c). */
void metrics_fmt_go_g(double v, char *buf, size_t len);

/* A growing NUL-terminated text buffer for the renderers; on memory
 * failure it stops growing and metrics_sb_done frees it and returns
 * NULL. Zero-initialise before use. */
struct metrics_sb {
    char *p;
    size_t len, cap;
    bool oom;
};
void metrics_sb_put(struct metrics_sb *b, const char *s, size_t n);
void metrics_sb_puts(struct metrics_sb *b, const char *s);
/* The text (the caller frees it) and its length, or NULL. */
char *metrics_sb_done(struct metrics_sb *b, size_t *len);
/* HELP text of a family by recorded name (metrics_help.c); NULL: none
 * known, the name itself is used. */
const char *metrics_help_text(const char *name);

#endif

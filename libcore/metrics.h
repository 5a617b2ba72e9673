/* metrics.h - the agent's telemetry, after Consul's go-metrics setup:
 * counters, gauges and samples (timings in ms) recorded into one fixed
 * registry, shown as go-metrics' InmemSink summary (JSON) and, when a
 * Prometheus retention is set, as Prometheus text (format 0.0.4).
 *
 * Layer: util. Thread: the registry belongs to the thread that made it
 * (the agent's loop); a recording call from any other thread is dropped,
 * so a lower layer can record without knowing where it runs.
 * Owns: every entry's names and labels (copied the first time a name and
 * label set is seen; recording an existing one allocates nothing).
 * Tests: t/unit/check_metrics.c, t/t7003-metrics.sh
 *
 * Semantics, as Consul's sinks:
 * - Names are given without the prefix ("raft.apply"); the registry
 *   prepends "<prefix>." and, for gauges only, "<hostname>." when a
 *   hostname is set (Consul: telemetry.disable_hostname = false and a
 *   sink besides the in-memory one, here the Prometheus one).
 * - Intervals: aggregates are kept per interval (10 s, aligned on the
 *   wall clock). The JSON shows the last finished interval, or the
 *   current one when none finished yet (go-metrics' DisplayMetrics).
 *   Counter and sample aggregates: Count, Rate (Sum per second of the
 *   interval), Sum, Min, Max, Mean, Stddev (sample standard deviation).
 *   Values are rounded to float32 first, as go-metrics takes them.
 * - Prometheus: counters are running totals, gauges the last value,
 *   samples summaries (quantiles 0.5, 0.9 and 0.99 over the last 10 s,
 *   _sum and _count since the start). A metric not updated within the
 *   retention time is dropped (and starts from zero when it comes back).
 *   Names: '.', '-', ' ', '=' and '/' (and anything else that Prometheus
 *   does not allow) become '_'.
 */
#ifndef PROCONSUL_METRICS_H
#define PROCONSUL_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Registry size; later new names (or label sets) are dropped. */
#define METRICS_MAX_ENTRIES 2048
#define METRICS_MAX_LABELS 4
#define METRICS_NAME_MAX 256

struct metrics_label {
    const char *name;
    const char *value;
};

struct metrics_opts {
    const char *prefix;         /* "consul" (telemetry.metrics_prefix) */
    const char *hostname;       /* NULL or "": gauges carry no hostname */
    int64_t prom_retention_ms;  /* > 0: the Prometheus view is on */
    uint64_t interval_ms;       /* 0: 10000 */
    /* Wall clock in ms since the epoch; NULL: CLOCK_REALTIME. Tests set
     * it to drive intervals and retention. */
    int64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    int process_metrics;        /* add process_* families (Prometheus) */
};

struct metrics;

/* NULL when out of memory. The calling thread becomes the owner. */
struct metrics *metrics_new(const struct metrics_opts *o);
void metrics_free(struct metrics *m);

void metrics_counter_add(struct metrics *m, const char *name, double v,
                         const struct metrics_label *l, size_t nl);
void metrics_gauge_set(struct metrics *m, const char *name, double v,
                       const struct metrics_label *l, size_t nl);
void metrics_sample_add(struct metrics *m, const char *name, double v,
                        const struct metrics_label *l, size_t nl);

/* Number of entries, and of recordings dropped (full registry, bad
 * name, wrong thread). */
size_t metrics_count(const struct metrics *m);
uint64_t metrics_dropped(const struct metrics *m);
/* Whether the Prometheus view is on (retention > 0). */
int metrics_prometheus_enabled(const struct metrics *m);

/* Renderers; malloc'd NUL-terminated text (*len without the NUL), NULL
 * when out of memory. */
char *metrics_render_json(struct metrics *m, size_t *len);
/* With opts.process_metrics, the families of Prometheus' process
 * collector (process_open_fds, process_resident_memory_bytes, ...) are
 * read from /proc and included, as Consul's Go client adds them. */
char *metrics_render_prometheus(struct metrics *m, size_t *len);

/* ---- the process-wide registry ----
 * The agent makes one and sets it; until then, and in the CLI and the
 * unit tests of other modules, every call below does nothing. */
void metrics_set_global(struct metrics *m);
struct metrics *metrics_global(void);

void metrics_incr(const char *name, double v);
void metrics_incr_l(const char *name, double v, const struct metrics_label *l,
                    size_t nl);
void metrics_gauge(const char *name, double v);
void metrics_gauge_l(const char *name, double v,
                     const struct metrics_label *l, size_t nl);
void metrics_sample(const char *name, double v);
void metrics_sample_l(const char *name, double v,
                      const struct metrics_label *l, size_t nl);

/* Monotonic ns, for timings: metrics_since_ms(t0) is the ms since. */
uint64_t metrics_now_ns(void);
double metrics_since_ms(uint64_t start_ns);

/* ---- process statistics (metrics_proc.c) ---- */

struct metrics_proc {
    double rss_bytes, vsize_bytes, heap_bytes;
    double threads, open_fds, max_fds;
    double cpu_seconds, start_time_seconds;
};
/* Read /proc/self (and mallinfo2); fields it cannot read are 0. */
void metrics_proc_read(struct metrics_proc *p);
/* Set the runtime.* gauges Consul has (alloc_bytes: bytes malloc'd and
 * not freed; sys_bytes: RSS; num_goroutines: threads; total_gc_pause_ns
 * and total_gc_runs: 0, there is no GC) plus runtime.open_fds. */
void metrics_proc_gauges(struct metrics *m, const struct metrics_proc *p);

#endif

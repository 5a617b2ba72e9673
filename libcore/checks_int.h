/* checks_int.h - what checks.c, checks_http.c and checks_exec.c share.
 *
 * Layer: agent. Thread: loop only.
 * A runner (one per check id) owns two timers: `timer` (next run, or the
 * TTL) and `tmo` (the running TCP connect's or script's deadline). An
 * in-flight run is r->op; cancelling it detaches the op from the runner
 * (op->r = NULL) and the op frees itself once its own handles and child
 * are gone. Every runner, detached op, curl socket poll and the curl
 * timer counts in c->live; checks_close's callback runs when it is 0.
 */
#ifndef PROCONSUL_CHECKS_INT_H
#define PROCONSUL_CHECKS_INT_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "checks.h"

/* Consul: checks.DefaultBufSize and checks.MinInterval. */
#define CHECKS_BUF_DEFAULT 4096
#define CHECKS_MIN_INTERVAL_MS 1000
/* Defaults when Timeout is absent or <= 0 (Consul's). */
#define CHECKS_HTTP_TIMEOUT_MS 10000
#define CHECKS_TCP_TIMEOUT_MS 10000
#define CHECKS_SCRIPT_TIMEOUT_MS 30000
/* Go's http.Client stops after 10 redirects. */
#define CHECKS_MAX_REDIRECTS 10

enum checks_kind { CK_TTL, CK_HTTP, CK_TCP, CK_SCRIPT };

struct checks_hdr {
    char *name, *value;
};

/* A parsed, validated definition. */
struct checks_def {
    enum checks_kind kind;
    int64_t interval_ms, timeout_ms, ttl_ms;
    char *target;      /* HTTP URL or TCP "host:port" */
    char *method;      /* HTTP; never NULL ("GET" by default) */
    char *body;        /* HTTP; "" when none */
    struct checks_hdr *hdrs;
    size_t n_hdrs;
    bool skip_verify, no_redirects;
    char **args;       /* script argv, NULL-terminated */
    int sbp, fbw, fbc; /* SuccessBeforePassing, FailuresBefore... */
    size_t out_max;
    char status[16];   /* initial status */
};

/* Keeps the last cap bytes written, as Go's circbuf does. */
struct checks_ring {
    char *buf;
    size_t cap, len, head; /* head: index of the oldest byte */
    uint64_t total;
};

struct checks_runner {
    struct checks *c;
    struct checks_runner *next;
    char *id;
    struct checks_def d;
    char status[16];
    char *output;      /* last reported */
    char *ttl_last;    /* TTL: last output set by an update */
    int succ, fail;    /* Consul's StatusHandler counters */
    uv_timer_t timer, tmo;
    int open_handles;
    bool dead;         /* removed: reports nothing, runs nothing */
    void *op;          /* the in-flight run, kind-specific */
};

struct checks {
    uv_loop_t *loop;
    struct checks_opts o;
    checks_update_fn fn;
    void *ctx;
    struct checks_runner *runners; /* live ones; dying ones are unlinked */
    int live;
    CURLM *multi;
    uv_timer_t curl_timer;
    bool closing, tearing;
    checks_close_cb close_cb;
    void *close_ctx;
    uint64_t min_interval_ms;
    bool stagger;
    uint64_t rng;
};

/* checks.c */
/* A run's result, through the SuccessBeforePassing/FailuresBefore*
 * counters. */
void checks_result(struct checks_runner *r, const char *status,
                   const char *output);
/* Report directly, bypassing the counters (Consul does so for TTL
 * checks and for a script's timeout or spawn failure). */
void checks_notify(struct checks_runner *r, const char *status,
                   const char *output);
/* The run is over (after its last checks_result): arm the next one. */
void checks_run_done(struct checks_runner *r);
/* A detached op or a handle counted in c->live is gone. */
void checks_unref(struct checks *c);

/* Ring buffer; out_max == 0 is never used (parse sets 4096). */
int checks_ring_init(struct checks_ring *b, size_t cap);
void checks_ring_write(struct checks_ring *b, const char *p, size_t n);
/* Contents, oldest first, NUL-terminated, invalid UTF-8 replaced by
 * U+FFFD (as Go's JSON encoding of the string would show it); NULL on
 * OOM. */
char *checks_ring_str(const struct checks_ring *b);
void checks_ring_release(struct checks_ring *b);
/* Go's Duration.String() of ms. */
void checks_dur_str(int64_t ms, char *buf, size_t n);
/* asprintf that returns NULL on failure. */
char *checks_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* checks_http.c */
int checks_http_init(struct checks *c, char *err);
void checks_http_start(struct checks_runner *r);
void checks_http_cancel(struct checks_runner *r);
/* Close the curl timer; curl_multi_cleanup runs in its close callback. */
void checks_http_shutdown(struct checks *c);

/* checks_exec.c */
void checks_tcp_start(struct checks_runner *r);
void checks_tcp_cancel(struct checks_runner *r);
void checks_script_start(struct checks_runner *r);
void checks_script_cancel(struct checks_runner *r);

#endif

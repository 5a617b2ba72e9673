/* log.c - leveled logging to a file descriptor and an optional sink.
 *
 * Layer: util. Thread: any.
 * Tests: t/unit/check_log.c
 */
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

static enum log_level cur_level = LOG_LVL_INFO;
static int out_fd = 2;
static log_sink_fn sink_fn;
static void *sink_ctx;

struct sub {
    log_sink_fn fn;
    void *ctx;
    enum log_level lvl;
};
static struct sub subs[LOG_MAX_SUBSCRIBERS];
static int n_subs;
static enum log_level sub_min = LOG_LVL_OFF; /* lowest subscribed level */
static pthread_t sub_thread;                 /* set by the first one */
static bool sub_thread_set, in_subs;

static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN",
                                    "ERROR"};

void log_set_level(enum log_level lvl) { cur_level = lvl; }
enum log_level log_get_level(void) { return cur_level; }
void log_set_fd(int fd) { out_fd = fd; }

void log_set_sink(log_sink_fn fn, void *ctx)
{
    sink_fn = fn;
    sink_ctx = ctx;
}

static void sub_recompute(void)
{
    sub_min = LOG_LVL_OFF;
    for (int i = 0; i < n_subs; i++)
        if (subs[i].lvl < sub_min)
            sub_min = subs[i].lvl;
}

int log_subscribe(log_sink_fn fn, void *ctx, enum log_level lvl)
{
    if (n_subs == LOG_MAX_SUBSCRIBERS)
        return ERR_TOOBIG;
    if (!sub_thread_set) {
        sub_thread = pthread_self();
        sub_thread_set = true;
    }
    subs[n_subs++] = (struct sub){fn, ctx, lvl};
    sub_recompute();
    return 0;
}

void log_unsubscribe(log_sink_fn fn, void *ctx)
{
    for (int i = 0; i < n_subs; i++) {
        if (subs[i].fn == fn && subs[i].ctx == ctx) {
            subs[i] = subs[--n_subs];
            break;
        }
    }
    sub_recompute();
}

/* Only on the subscribing thread and never from inside a subscriber. */
static bool subs_want(enum log_level lvl)
{
    return lvl >= sub_min && sub_thread_set &&
           pthread_equal(pthread_self(), sub_thread) && !in_subs;
}

static void subs_deliver(enum log_level lvl, const char *line)
{
    in_subs = true;
    for (int i = 0; i < n_subs; i++)
        if (lvl >= subs[i].lvl)
            subs[i].fn(subs[i].ctx, lvl, line);
    in_subs = false;
}

const char *log_level_name(enum log_level lvl)
{
    return lvl < LOG_LVL_OFF ? names[lvl] : "OFF";
}

int log_level_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < LOG_LVL_OFF; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "err") == 0)
        return strcasecmp(s, "err") == 0 ? LOG_LVL_ERROR : LOG_LVL_WARN;
    return -1;
}

void log_vwrite(enum log_level lvl, const char *mod, const char *fmt,
                va_list ap)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int k;
    bool to_subs = subs_want(lvl);

    if (lvl < cur_level && sink_fn == NULL && !to_subs)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03dZ [%s]%s %s: ",
                 (int)(tv.tv_usec / 1000), log_level_name(lvl),
                 strlen(log_level_name(lvl)) < 5 ? " " : "", mod);
    n += (size_t)k;
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    n = k < 0 ? n : (n + (size_t)k >= sizeof(line) - 1 ? sizeof(line) - 2
                                                       : n + (size_t)k);
    /* One event, one line: control characters never split it. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = '?';
    line[n] = '\0';
    if (sink_fn != NULL)
        sink_fn(sink_ctx, lvl, line);
    if (to_subs)
        subs_deliver(lvl, line);
    if (lvl < cur_level)
        return;
    line[n] = '\n';
    if (write(out_fd, line, n + 1) < 0) {
        /* Nowhere left to report it. */
    }
}

void log_write(enum log_level lvl, const char *mod, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vwrite(lvl, mod, fmt, ap);
    va_end(ap);
}

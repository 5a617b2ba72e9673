/* log.h - leveled, one-line-per-event logging.
 *
 * Layer: util. Thread: any (a line is written with one write(2)).
 * Format as Consul's: "2026-11-24T09:00:00.123Z [INFO]  agent: message".
 * Never log secrets: tokens appear as accessor prefixes only.
 * Tests: t/unit/check_log.c
 */
#ifndef PROCONSUL_LOG_H
#define PROCONSUL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_TRACE, LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN,
                 LOG_LVL_ERROR, LOG_LVL_OFF };

/* Optional extra sink (e.g. /v1/agent/monitor); gets the finished line
 * without the trailing newline. */
typedef void (*log_sink_fn)(void *ctx, enum log_level lvl, const char *line);

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "trace|debug|info|warn|warning|error" (any case); -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level lvl);
/* Write to this fd (default 2). */
void log_set_fd(int fd);
void log_set_sink(log_sink_fn fn, void *ctx);

/* Subscribers (GET /v1/agent/monitor): fn gets every line at lvl or
 * above, whatever the log level, without the trailing newline. Only
 * lines written on the thread that made the first subscription (the
 * loop) are delivered, never two at once and never recursively: a
 * line a subscriber logs itself reaches no subscriber. fn must not
 * subscribe or unsubscribe. Returns 0, or ERR_TOOBIG when
 * LOG_MAX_SUBSCRIBERS are in use. */
#define LOG_MAX_SUBSCRIBERS 64
int log_subscribe(log_sink_fn fn, void *ctx, enum log_level lvl);
/* Remove the subscription fn/ctx (no-op when absent). */
void log_unsubscribe(log_sink_fn fn, void *ctx);

void log_write(enum log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vwrite(enum log_level lvl, const char *mod, const char *fmt,
                va_list ap);

#define LOG_TRACE(mod, ...) log_write(LOG_LVL_TRACE, mod, __VA_ARGS__)
#define LOG_DEBUG(mod, ...) log_write(LOG_LVL_DEBUG, mod, __VA_ARGS__)
#define LOG_INFO(mod, ...) log_write(LOG_LVL_INFO, mod, __VA_ARGS__)
#define LOG_WARN(mod, ...) log_write(LOG_LVL_WARN, mod, __VA_ARGS__)
#define LOG_ERROR(mod, ...) log_write(LOG_LVL_ERROR, mod, __VA_ARGS__)

#endif

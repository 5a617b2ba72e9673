/* log.h - leveled, one-line-per-event logging.
 *
 * Layer: util. Thread: any (a line is written with one write(2) per
 * destination).
 * Format as Consul's: "2026-11-24T09:00:00.123Z [INFO]  agent: message",
 * or with log_set_json(true) hclog's JSON, one object a line:
 * {"@level":"info","@message":"...","@module":"agent",
 *  "@timestamp":"2026-11-24T09:00:00.123456Z"}.
 * Lines at or above the log level go to the fd (stderr), and to the log
 * file (log_file.c) and syslog when those are open, as Consul writes to
 * all its outputs at once.
 * Never log secrets: tokens appear as accessor prefixes only.
 * Tests: t/unit/check_log.c, t/t7004-logs.sh
 */
#ifndef PROCONSUL_LOG_H
#define PROCONSUL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum log_level { LOG_LVL_TRACE, LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN,
                 LOG_LVL_ERROR, LOG_LVL_OFF };

/* Optional extra sink (tests); gets every finished text line, whatever
 * the level, without the trailing newline. */
typedef void (*log_sink_fn)(void *ctx, enum log_level lvl, const char *line);

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "trace|debug|info|warn|warning|error" (any case); -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level lvl);
/* Write to this fd (default 2). */
void log_set_fd(int fd);
void log_set_sink(log_sink_fn fn, void *ctx);
/* hclog's JSON lines instead of text on the fd, the file and syslog.
 * Set before other threads log. */
void log_set_json(bool on);

/* Subscribers (GET /v1/agent/monitor): fn gets every line at lvl or
 * above, whatever the log level, without the trailing newline; as JSON
 * with LOG_SUB_JSON in flags, else as text. Only lines written on the
 * thread that made the first subscription (the loop) are delivered,
 * never two at once and never recursively: a line a subscriber logs
 * itself reaches no subscriber. fn must not subscribe or unsubscribe.
 * Returns 0, or ERR_TOOBIG when LOG_MAX_SUBSCRIBERS are in use. */
#define LOG_MAX_SUBSCRIBERS 64
#define LOG_SUB_JSON 1u
int log_subscribe(log_sink_fn fn, void *ctx, enum log_level lvl,
                  unsigned flags);
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

/* The body of a JSON string for s[0..n), as Go's encoding/json writes
 * it (hclog's encoder): \" \\ \n \r \t, other control characters and
 * < > & as \u00XX, U+2028/U+2029 escaped, each byte of invalid UTF-8
 * as \ufffd. Writes at most cap bytes plus a NUL; returns the length,
 * or (size_t)-1 when it does not fit. 6 * n + 1 bytes always fit. */
size_t log_json_escape(char *out, size_t cap, const char *s, size_t n);

/* A whole JSON line (no newline) for one event; ts_ns is the time since
 * the epoch. Same return as log_json_escape. */
size_t log_json_line(char *out, size_t cap, enum log_level lvl,
                     const char *mod, const char *msg, int64_t ts_ns);

/* ---- log file with rotation (log_file.c) ------------------------------
 * Consul's -log-file: path "dir/name" writes dir/name ("dir/" or an
 * existing directory: dir/consul.log). The file is rotated before a
 * line would take it past rotate_bytes, or once rotate_ms passed since
 * it was opened: renamed to "<base>-<unix nanoseconds><ext>" (ext the
 * name's extension, ".log" when it has none) and a new file is opened.
 * Then only the newest max_files such archives are kept (0 keeps all,
 * < 0 none), as at open. Unlike Consul, an existing file is appended
 * to, not truncated. A failing write, rename or open is reported once
 * on the fd, lines keep going to the fd, and the file catches up when
 * it works again (a rename failure keeps the current file, an open
 * failure keeps writing the renamed one); a partial line is cut off.
 * Lines come from any thread; open, reopen and close from the one that
 * configures logging (start, reload, exit). Forked children write to
 * the file but never rotate it. */
struct log_file_opts {
    const char *path;
    int64_t rotate_bytes;   /* 0: no size limit */
    int64_t rotate_ms;      /* 0: 24 h */
    int64_t max_files;      /* archives kept: 0 all, < 0 none */
    int64_t (*now_ns)(void); /* clock for tests; NULL: CLOCK_REALTIME */
};

/* Open (or create, mode 0640) the file and prune old archives. Fails
 * with err filled ("open 'x': Permission denied"); nothing opened then.
 * Replaces a file opened before. */
int log_file_open(const struct log_file_opts *o, char *err);
/* Close and open the same path again (after an external logrotate);
 * the size and age count from the reopened file. No-op without a file. */
int log_file_reopen(char *err);
void log_file_close(void);
/* The file being written ("dir/consul.log"), or NULL. */
const char *log_file_path(void);

/* ---- syslog (log_syslog.c) ---------------------------------------------
 * Consul's enable_syslog: syslog(3) with ident "consul", the pid, and
 * the facility; each line's level maps to a priority as Consul's
 * (TRACE debug, DEBUG info, INFO notice, WARN warning, ERROR err). The
 * message is "<module>: <message>" (or the JSON line with log_json).
 * Without a syslog daemon, syslog(3) drops the lines. */

/* LOG_KERN ... LOG_LOCAL7 for Consul's names (KERN, USER, MAIL, DAEMON,
 * AUTH, SYSLOG, LPR, NEWS, UUCP, CRON, AUTHPRIV, FTP, LOCAL0-7, any
 * case), or -1. */
int log_syslog_facility(const char *name);
int log_syslog_open(const char *facility, char *err);
void log_syslog_close(void);

#endif

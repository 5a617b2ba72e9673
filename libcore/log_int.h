/* log_int.h - what log.c, log_file.c and log_syslog.c share; not API.
 *
 * Layer: util. Thread: any.
 * Tests: t/unit/check_log.c
 */
#ifndef PROCONSUL_LOG_INT_H
#define PROCONSUL_LOG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

/* Append one finished line (newline included) to the log file, if one
 * is open; rotates first when due. Reports its own failures. */
void log_file_line(const char *line, size_t n);

/* Around fork(): the file's lock is taken in the parent before and
 * released on both sides after, so a child never inherits it held. */
void log_file_lock(void);
void log_file_unlock(void);

/* To syslog, if open and not in a forked child: msg at lvl's priority. */
void log_syslog_line(enum log_level lvl, const char *msg);

/* Register the fork handlers (once; from open calls). */
void log_atfork_init(void);
/* True in a process forked from the one that opened the outputs. */
bool log_in_child(void);

/* A line about the outputs themselves (a failing log file), at lvl,
 * module "log": to the fd and syslog, never the file or subscribers. */
void log_report(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

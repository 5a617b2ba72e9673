/* err.h - error codes and error-message buffers.
 *
 * Layer: util. Thread: any.
 * Functions return 0 or a negative ERR_* code; calls that can fail take a
 * `char *err` of ERR_LEN bytes and fill it with a lowercase message.
 * Tests: t/unit/check_err.c
 */
#ifndef PROCONSUL_ERR_H
#define PROCONSUL_ERR_H

#include <stddef.h>

#define ERR_LEN 256
/* Longest user value quoted into a message. */
#define ERR_QUOTE_MAX 128

/* X(NAME, value, text) */
#define ERR_TABLE(X)                                                    \
    X(OK, 0, "ok")                                                      \
    X(NOMEM, -1, "out of memory")                                       \
    X(INVAL, -2, "invalid argument")                                    \
    X(NOTFOUND, -3, "not found")                                        \
    X(IO, -4, "i/o error")                                              \
    X(PARSE, -5, "parse error")                                         \
    X(CAS, -6, "check-and-set failed")                                  \
    X(TOOBIG, -7, "too large")                                          \
    X(NOLEADER, -8, "no cluster leader")                                \
    X(EXISTS, -9, "already exists")                                     \
    X(INTERNAL, -10, "internal error")                                  \
    X(SHUTDOWN, -11, "shutting down")                                   \
    X(TIMEOUT, -12, "timed out")                                        \
    X(DENIED, -13, "permission denied")                                 \
    X(UNSUPPORTED, -14, "not supported")                                \
    X(CONFLICT, -15, "conflict")                                        \
    X(UNREACHABLE, -16, "unreachable")                                  \
    X(LOSTLEADER, -17, "leadership lost while committing log")

enum {
#define ERR_ENUM(n, v, s) ERR_##n = (v),
    ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
};

/* "ERR_NOMEM" style name and fixed text for a code; never NULL. */
const char *err_name(int code);
const char *err_str(int code);

/* Fill err (ERR_LEN bytes) with a formatted message; returns code, so
 * `return err_set(err, ERR_INVAL, "bad key %s", q)` reads naturally.
 * err may be NULL. */
int err_set(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend "<context>: " to the message already in err. */
void err_prefix(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copy s into out (size n) for use inside a message: at most
 * ERR_QUOTE_MAX bytes ("..." appended when cut), control characters
 * replaced by '?'. Returns out. The caller adds the quotes. */
char *err_quote(char *out, size_t n, const char *s);

#endif

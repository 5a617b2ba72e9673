/* err.c - error codes and message buffers.
 *
 * Layer: util. Thread: any.
 * Tests: t/unit/check_err.c
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *err_name(int code)
{
    switch (code) {
#define ERR_NAME(n, v, s) case v: return "ERR_" #n;
        ERR_TABLE(ERR_NAME)
#undef ERR_NAME
    }
    return "ERR_UNKNOWN";
}

const char *err_str(int code)
{
    switch (code) {
#define ERR_STR(n, v, s) case v: return s;
        ERR_TABLE(ERR_STR)
#undef ERR_STR
    }
    return "unknown error";
}

int err_set(char *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    va_start(ap, fmt);
    vsnprintf(err, ERR_LEN, fmt, ap);
    va_end(ap);
    return code;
}

void err_prefix(char *err, const char *fmt, ...)
{
    char buf[ERR_LEN];
    size_t n, m;
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* "<context>: <old message>", cut at ERR_LEN - 1 bytes. */
    n = strlen(buf);
    if (n + 2 < sizeof(buf)) {
        memcpy(buf + n, ": ", 2);
        n += 2;
        m = strnlen(err, ERR_LEN - 1);
        if (m > sizeof(buf) - 1 - n)
            m = sizeof(buf) - 1 - n;
        memcpy(buf + n, err, m);
        n += m;
    }
    buf[n] = '\0';
    memcpy(err, buf, n + 1);
}

char *err_quote(char *out, size_t n, const char *s)
{
    size_t i, lim;

    if (n == 0)
        return out;
    if (s == NULL)
        s = "";
    lim = n - 1 < ERR_QUOTE_MAX ? n - 1 : ERR_QUOTE_MAX;
    for (i = 0; s[i] != '\0' && i < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[i] = '\0';
    if (s[i] != '\0' && i >= 3)
        memcpy(out + i - 3, "...", 3);
    return out;
}

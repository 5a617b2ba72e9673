/* util_time.c - wall-clock time in the formats Consul's JSON uses.
 *
 * Layer: util. Thread: any (gmtime_r, timegm).
 * Owns: nothing.
 * Tests: t/unit/check_opt.c
 */
#include "util_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t util_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void util_rfc3339(int64_t ns, char out[UTIL_RFC3339_LEN])
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    size_t n;

    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    gmtime_r(&sec, &tm);
    n = strftime(out, UTIL_RFC3339_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac != 0) {
        char f[16];
        int len = 9;

        snprintf(f, sizeof(f), "%09ld", frac);
        while (len > 0 && f[len - 1] == '0')
            len--;
        snprintf(out + n, UTIL_RFC3339_LEN - n, ".%.*s", len, f);
        n = strlen(out);
    }
    snprintf(out + n, UTIL_RFC3339_LEN - n, "Z");
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int month_days(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : n[m - 1];
}

static int expect(const char **p, char ch)
{
    if (**p != ch)
        return -1;
    (*p)++;
    return 0;
}

int util_parse_rfc3339(const char *s, int64_t *ns, char *err)
{
    const char *p = s;
    struct tm tm;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0, scale = 100000000;

    memset(&tm, 0, sizeof(tm));
    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) ||
        expect(&p, '-') || digits(&p, 2, &d) || (*p != 'T' && *p != 't') ||
        !++p || digits(&p, 2, &h) || expect(&p, ':') ||
        digits(&p, 2, &mi) || expect(&p, ':') || digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            goto bad;
        for (; isdigit((unsigned char)*p); p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
            if (scale == 0 && isdigit((unsigned char)p[1]))
                goto bad;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om))
            goto bad;
    } else {
        goto bad;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
        d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59 || oh > 23 ||
        om > 59)
        goto bad;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ns = ((int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60)) *
              1000000000 + frac;
    return 0;
bad:
    return err_set(err, ERR_INVAL, "invalid RFC 3339 time \"%.40s\"", s);
}

/* util_time.h - wall-clock time in the formats Consul's JSON uses.
 *
 * Layer: util. Thread: any.
 * Tests: t/unit/check_opt.c
 */
#ifndef PROCONSUL_UTIL_TIME_H
#define PROCONSUL_UTIL_TIME_H

#include <stdint.h>

#include "err.h"

#define UTIL_RFC3339_LEN 40

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
int64_t util_now_ns(void);

/* Go's time.Time JSON form in UTC: "2006-01-02T15:04:05.999999999Z"
 * (trailing zeros of the fraction dropped, no fraction when 0). */
void util_rfc3339(int64_t ns, char out[UTIL_RFC3339_LEN]);

/* Parse RFC 3339 ("Z" or "+hh:mm"/"-hh:mm", optional fraction of up to
 * 9 digits) into ns since the epoch. ERR_INVAL on anything else. */
int util_parse_rfc3339(const char *s, int64_t *ns, char *err);

#endif

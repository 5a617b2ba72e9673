/* util_rand.h - identifiers and secrets from OpenSSL's random generator.
 *
 * Layer: util. Thread: any.
 * Tests: t/unit/check_opt.c
 */
#ifndef PROCONSUL_UTIL_RAND_H
#define PROCONSUL_UTIL_RAND_H

#include <stddef.h>

#include "err.h"

#define UTIL_UUID_LEN 36

/* A random (version 4) UUID in lower-case hex, NUL-terminated in out
 * (UTIL_UUID_LEN + 1 bytes). ERR_INTERNAL when the generator fails:
 * never a weaker fallback, these become secrets. */
int util_uuid(char out[UTIL_UUID_LEN + 1], char *err);

/* n random bytes; ERR_INTERNAL when the generator fails. */
int util_random(unsigned char *out, size_t n, char *err);

/* Is s a UUID (8-4-4-4-12 hex digits, any case)? */
int util_uuid_valid(const char *s);

#endif

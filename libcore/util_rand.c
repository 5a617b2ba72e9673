/* util_rand.c - identifiers and secrets from the kernel's random
 * generator (getrandom(2)). OpenSSL's RAND_bytes gave the same quality
 * but initialised OpenSSL at agent start (its configuration, providers
 * and DRBG), which kept about 2 MiB of libcrypto resident in every
 * idle agent.
 *
 * Layer: util. Thread: any.
 * Owns: nothing.
 * Tests: t/unit/check_opt.c
 */
#include "util_rand.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int util_random(unsigned char *out, size_t n, char *err)
{
    size_t got = 0;
    ssize_t r;

    while (got < n) {
        r = getrandom(out + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return err_set(err, ERR_INTERNAL, "random generator failed: %s",
                           r < 0 ? strerror(errno) : "no bytes");
        got += (size_t)r;
    }
    return 0;
}

int util_uuid(char out[UTIL_UUID_LEN + 1], char *err)
{
    unsigned char b[16];
    int rc = util_random(b, sizeof(b), err);

    if (rc != 0)
        return rc;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, UTIL_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int util_uuid_valid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t i;
    int d = 0;

    if (s == NULL || strlen(s) != UTIL_UUID_LEN)
        return 0;
    for (i = 0; i < UTIL_UUID_LEN; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* keygen.c - "consul keygen": a new gossip encryption key.
 *
 * Endpoints: none. Output as Consul's command/keygen: 32 random bytes
 * (OpenSSL's generator, never a weaker fallback) in standard base64 with
 * padding, 44 characters, on one line.
 * Exit codes: 0 ok (also "-h"); 1 bad flag, extra arguments, or the
 * random generator failed.
 * Tests: t/t7001-ops-cli.sh
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "opt.h"
#include "util_rand.h"

#define KEY_LEN 32

static const char synopsis[] = "consul keygen";
static const char description[] =
    "  Generates a new encryption key that can be used to configure the\n"
    "  agent to encrypt traffic. The output of this command is already\n"
    "  in the proper format that the agent expects.";

/* Standard base64 with '=' padding; out holds 4 * ((n + 2) / 3) + 1. */
static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

int cmd_keygen(int argc, char **argv)
{
    unsigned char key[KEY_LEN];
    char err[ERR_LEN], out[4 * ((KEY_LEN + 2) / 3) + 1];
    int rest, rc;

    rc = opt_parse_cli(NULL, 0, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (rest < argc) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n",
                argc - rest);
        return 1;
    }
    if (util_random(key, sizeof(key), err) != 0) {
        fprintf(stderr, "Error reading random data: %s\n", err);
        return 1;
    }
    base64(key, sizeof(key), out);
    memset(key, 0, sizeof(key));
    printf("%s\n", out);
    return 0;
}

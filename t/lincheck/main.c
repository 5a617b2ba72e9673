/* main.c - lincheck: is a Consul KV history linearizable?
 *
 *	lincheck [-l STEPS] [HISTORY]	(standard input without HISTORY)
 *
 * Prints one summary line (and, per failing key, a small failing
 * sub-history). Exit 0 linearizable, 1 not, 3 unknown (the search
 * limit, STEPS per key, default 10000000, was reached), 2 usage or
 * history error. Format and model: lincheck.h.
 * Tests: t/unit/check_lincheck.c, t/t7006-faults.sh
 */
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

int main(int argc, char **argv)
{
    long limit = 10000000;
    int i = 1;
    char err[LC_ERR_LEN];

    if (i + 1 < argc && strcmp(argv[i], "-l") == 0) {
        char *end;
        limit = strtol(argv[i + 1], &end, 10);
        if (*end != '\0' || limit <= 0) {
            fprintf(stderr, "lincheck: bad step limit '%s'\n", argv[i + 1]);
            return 2;
        }
        i += 2;
    }
    if (argc - i > 1 || (i < argc && argv[i][0] == '-' && argv[i][1])) {
        fprintf(stderr, "usage: lincheck [-l STEPS] [HISTORY]\n");
        return 2;
    }
    FILE *f = i < argc && strcmp(argv[i], "-") != 0 ? fopen(argv[i], "r")
                                                     : stdin;
    if (f == NULL) {
        perror(argv[i]);
        return 2;
    }
    struct lc_history *h = lc_history_new();
    int rc = lc_history_read(h, f, err);
    if (f != stdin)
        fclose(f);
    if (rc < 0) {
        fprintf(stderr, "lincheck: %s\n", err);
        lc_history_free(h);
        return 2;
    }
    struct lc_stats st;
    enum lc_verdict v = lc_check(h, limit, stdout, &st);
    printf("%s: %d operations (%d indeterminate) on %d keys, %d keys not "
           "linearizable, %d unknown, %ld steps\n",
           v == LC_LINEARIZABLE       ? "linearizable"
           : v == LC_NOT_LINEARIZABLE ? "NOT linearizable"
                                      : "unknown",
           st.ops, st.info, st.keys, st.bad_keys, st.unknown_keys, st.steps);
    lc_history_free(h);
    return (int)v;
}

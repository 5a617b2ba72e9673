/* help.c - "proconsul help [COMMAND [ARGS...]]": help without flags.
 *
 * Endpoints: none. Not a Consul command (real Consul prints its command
 * list on stderr and exits 127 for "consul help"); ours prints the list
 * on stdout, or runs "COMMAND ARGS... -h" so every command keeps a single
 * help text ("proconsul help kv get" == "proconsul kv get -h").
 * Exit codes: 0 ok; 1 unknown command (message and list on stderr);
 * otherwise whatever "COMMAND ... -h" returns.
 * Tests: t/t0001-cli-basics.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opt.h"

int cmd_help(int argc, char **argv)
{
    const struct cmd *c;
    char **av;
    int rc;

    if (argc < 2) {
        cmd_print_usage(stdout);
        return 0;
    }
    if (opt_help_requested(2, argv)) {
        opt_usage(stdout, "consul help [COMMAND [SUBCOMMAND...]]",
                  "  Shows the list of commands, or the help of COMMAND "
                  "(the same text as\n  \"consul COMMAND -h\").", NULL, 0);
        return 0;
    }
    if ((c = cmd_lookup(argv[1])) == NULL) {
        fprintf(stderr, "Unknown command: '%s'\n\n", argv[1]);
        cmd_print_usage(stderr);
        return 1;
    }
    /* argv[1..] then "-h": the command sees itself as argv[0]. */
    av = calloc((size_t)argc + 1, sizeof(*av));
    if (av == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++)
        av[i - 1] = argv[i];
    av[argc - 1] = (char *)"-h";
    rc = c->fn(argc, av);
    free(av);
    return rc;
}

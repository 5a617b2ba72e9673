/* cmd.h - what every cmd/ file shares: the command table entry type.
 *
 * A cmd/ file never includes another cmd/ file's code; this header only
 * declares the table that main.c builds from cmdlist.h.
 */
#ifndef PROCONSUL_CMD_H
#define PROCONSUL_CMD_H

#include <stdio.h>

enum cmd_flags {
    CMD_LOCAL = 0,  /* works without an agent */
    CMD_HTTP = 1,   /* talks to an agent's HTTP API */
};

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    int flags;
    const char *summary;
};

/* Every command's entry point, from the one list. */
#define CMD(n, fl, sum) int cmd_##n(int argc, char **argv);
#include "cmdlist.h"
#undef CMD

/* The table, sorted by name, and its length (defined in main.c). */
extern const struct cmd cmd_table[];
extern const int cmd_count;

/* The entry for a command name as typed ("force-leave"), or NULL. */
const struct cmd *cmd_lookup(const char *name);

/* Print the top-level usage (list of commands) to out. */
void cmd_print_usage(FILE *out);

#endif

/* main.c - multi-call entry point: dispatch on argv[0] or argv[1].
 *
 * "proconsul CMD ..." and "consul CMD ..." look CMD up in the table;
 * a binary or symlink named "CMD" or "proconsul-CMD" runs CMD directly
 * (busybox style). Exit codes: 0 ok, 1 failure or unknown command,
 * 2 usage error (as returned by the command).
 * Tests: t/t0001-cli-basics.sh
 */
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

#define CMD(n, fl, sum) int cmd_##n(int, char **);
#include "cmdlist.h"
#undef CMD

const struct cmd cmd_table[] = {
#define CMD(n, fl, sum) {#n, cmd_##n, fl, sum},
#include "cmdlist.h"
#undef CMD
};
const int cmd_count = (int)(sizeof(cmd_table) / sizeof(cmd_table[0]));

/* Table names come from C identifiers, so "force_leave" stands for the
 * command "force-leave": a '_' in a name is typed (and shown) as '-'. */
static bool name_eq(const char *tab, const char *s)
{
    for (; *tab != '\0'; tab++, s++)
        if (*s != (*tab == '_' ? '-' : *tab))
            return false;
    return *s == '\0';
}

const struct cmd *cmd_lookup(const char *name)
{
    for (int i = 0; i < cmd_count; i++)
        if (name_eq(cmd_table[i].name, name))
            return &cmd_table[i];
    return NULL;
}

void cmd_print_usage(FILE *out)
{
    char name[64];

    fprintf(out, "Usage: consul [--version] [--help] <command> [<args>]\n\n"
                 "Available commands are:\n");
    for (int i = 0; i < cmd_count; i++) {
        snprintf(name, sizeof(name), "%s", cmd_table[i].name);
        for (char *p = name; *p != '\0'; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "    %-18s %s\n", name, cmd_table[i].summary);
    }
}

int main(int argc, char **argv)
{
    char self[4096];
    const struct cmd *c;
    const char *base;

    snprintf(self, sizeof(self), "%s", argc > 0 ? argv[0] : "proconsul");
    base = basename(self);
    if (strncmp(base, "proconsul-", 10) == 0)
        base += 10;
    if (strcmp(base, "proconsul") != 0 && strcmp(base, "consul") != 0) {
        c = cmd_lookup(base);
        if (c != NULL)
            return c->fn(argc, argv);
        fprintf(stderr, "proconsul: unknown applet name '%s'\n", base);
        return 1;
    }
    if (argc < 2) {
        cmd_print_usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        cmd_print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "-version") == 0 ||
        strcmp(argv[1], "--version") == 0)
        return cmd_lookup("version")->fn(argc - 1, argv + 1);
    c = cmd_lookup(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "Unknown command: '%s'\n\n", argv[1]);
        cmd_print_usage(stderr);
        return 1;
    }
    return c->fn(argc - 1, argv + 1);
}

/* opt.h - command-line flags with Go `flag` package syntax.
 *
 * Layer: util. Thread: any.
 * Accepted forms: -x=v, -x v, --x=v, --x v; booleans -x, -x=true|false
 * (never "-x false"). Parsing stops at the first non-flag argument, at
 * "-" alone, or after "--". "-h", "-help" and "--help" ask for usage.
 * Tests: t/unit/check_opt.c
 */
#ifndef PROCONSUL_OPT_H
#define PROCONSUL_OPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
    OPT_BOOL,    /* dst: bool * */
    OPT_STR,     /* dst: const char ** (points into argv, not copied) */
    OPT_INT,     /* dst: int * */
    OPT_UINT64,  /* dst: uint64_t * */
    OPT_STRLIST, /* dst: struct opt_list *; repeatable, appends */
    OPT_FUNC,    /* fn called with the value (NULL value for is_bool) */
};

/* Called for OPT_FUNC; returns 0 or a negative ERR_* and fills err with
 * the whole message (used verbatim as the parse error). val is NULL for a
 * bare "-x" of an is_bool flag, else the text after '=' or the next
 * argument. */
typedef int (*opt_fn)(void *ctx, const char *name, const char *val,
                      char *err);

struct opt_list {
    const char **items; /* heap array of pointers into argv */
    int n;
};

struct opt {
    const char *name;  /* without the dash: "http-addr" */
    enum opt_type type;
    void *dst;         /* see opt_type; for OPT_FUNC the ctx */
    opt_fn fn;         /* OPT_FUNC only */
    bool is_bool;      /* OPT_FUNC only: takes no separate value */
    const char *arg;   /* value placeholder in usage: "<addr>" */
    const char *help;  /* one or more lines; may be NULL (hidden) */
    bool *seen;        /* optional: set true when given */
};

/* opt_parse result when -h/-help/--help was given. */
#define OPT_HELP 1

/* Parse argv[1..argc-1] (argv[0] is the command name). On success *rest
 * is the index of the first positional argument and 0 is returned;
 * OPT_HELP if help was asked for; otherwise ERR_INVAL with a message like
 * Go's: "flag provided but not defined: -x", "flag needs an argument: -x",
 * "invalid boolean value \"y\" for -x", "invalid value \"z\" for flag -n". */
int opt_parse(const struct opt *opts, int n_opts, int argc, char **argv,
              int *rest, char *err);

/* Print "Usage: <synopsis>\n\n<description>\n\n" then each visible flag,
 * sorted by name, as Consul's help does. */
void opt_usage(FILE *out, const char *synopsis, const char *description,
               const struct opt *opts, int n_opts);

/* A command's parse step as Consul's CLI behaves: -h anywhere before
 * "--" prints usage to stdout and returns 0; a parse error prints Go's
 * message, "Usage:" and the flag list to stderr and returns 1; otherwise
 * returns -1 with *rest set. */
int opt_parse_cli(const struct opt *opts, int n_opts, int argc, char **argv,
                  const char *synopsis, const char *description, int *rest);

/* A command made of subcommands ("consul kv get"), as mitchellh/cli
 * runs them: argv[1] names a verb; -h/-help alone prints the usage,
 * the text and the "Subcommands:" list to stdout (status 0); anything
 * else prints them to stderr, after "Unknown subcommand: 'x'" when
 * name_unknown, and returns usage_rc. */
struct opt_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};
struct opt_group {
    const char *synopsis, *text;
    const struct opt_verb *verbs;
    int n;
    int usage_rc;
    bool name_unknown;
};
void opt_group_help(const struct opt_group *g, FILE *out);
int opt_group_run(const struct opt_group *g, int argc, char **argv);

/* Free the arrays of every OPT_STRLIST in opts. */
void opt_release(const struct opt *opts, int n_opts);

/* Parse a Go duration ("300ms", "1.5s", "5m", "1h2m", "0") into
 * milliseconds; a bare number is seconds when bare_is_seconds, else an
 * error. Returns 0 or ERR_INVAL. */
int opt_parse_duration(const char *s, bool bare_is_seconds, int64_t *ms);
/* Format ms as Go's time.Duration.String() would ("200ms", "10s",
 * "1m30s", "1h0m0s", "1.5s", "0s"). */
void opt_format_duration(int64_t ms, char *buf, size_t n);

/* Parse a Go bool ("1,t,T,TRUE,true,True,0,f,F,FALSE,false,False"). */
int opt_parse_bool(const char *s, bool *out);

/* True if argv[1..argc-1] holds "-h", "-help" or "--help" anywhere before
 * a "--": the CLI framework Consul uses shows a command's help then, even
 * after positional arguments ("consul kv put k -h"). */
bool opt_help_requested(int argc, char **argv);

/* Print the flags as Go's flag.PrintDefaults does ("  -name type\n    \t
 * help (default ...)"); Consul prints "<error>\nUsage:\n" and this to
 * stderr after a flag parse error. Defaults shown are the current values
 * of the destinations. */
void opt_print_defaults(FILE *out, const struct opt *opts, int n_opts);

#endif

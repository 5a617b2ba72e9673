/* validate.c - "consul validate": check configuration files offline.
 *
 * Endpoints: none. Each argument, a file or a directory (its *.hcl and
 * *.json, in lexical order), is loaded and merged in order, then built,
 * with the same libcore/cfg.h calls the agent uses for -config-file and
 * -config-dir; nothing is started. Output follows Consul's
 * command/validate: warnings to stderr, then "Configuration is valid!"
 * (neither with -quiet), or "Config validation failed: <error>" where
 * the error carries the file and line cfg reports.
 * Exit codes: 0 valid (also "-h"); 1 invalid, no argument, bad flag.
 * Tests: t/t7001-ops-cli.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cmd.h"
#include "err.h"
#include "opt.h"

static const char synopsis[] =
    "consul validate [options] FILE_OR_DIRECTORY...";
static const char description[] =
    "  Performs a thorough sanity test on Consul configuration files. For\n"
    "  each file or directory given, the validate command will attempt to\n"
    "  parse the contents just as the \"consul agent\" command would, and\n"
    "  catch any errors.\n"
    "\n"
    "  This is useful to do a test of the configuration only, without\n"
    "  actually starting the agent. This performs all of the validation\n"
    "  the agent would, so this should be given the complete set of\n"
    "  configuration files that are going to be loaded by the agent. This\n"
    "  command cannot operate on partial configuration fragments since\n"
    "  those won't pass the full agent validation.\n"
    "\n"
    "  Returns 0 if the configuration is valid, or 1 if there are\n"
    "  problems.";

static void warn_cb(void *ctx, const char *msg)
{
    if (!*(bool *)ctx)
        fprintf(stderr, "%s\n", msg);
}

/* Merge one file or directory into tree, as the agent loads it. */
static int load_one(const char *path, enum cfg_format fmt, json_t *tree,
                    char *err)
{
    struct stat st;
    json_t *one = NULL;
    int rc;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cfg_load_dir(path, tree, err);
    rc = cfg_load_file(path, fmt, &one, err);
    if (rc == 0)
        cfg_merge(tree, one);
    json_decref(one);
    return rc;
}

static int validate(char **paths, int n, enum cfg_format fmt, bool quiet)
{
    json_t *tree = json_object();
    char err[ERR_LEN] = "";
    struct cfg c;
    int rc = tree != NULL ? 0 : ERR_NOMEM;

    for (int i = 0; i < n && rc == 0; i++)
        rc = load_one(paths[i], fmt, tree, err);
    memset(&c, 0, sizeof(c));
    if (rc == 0) {
        rc = cfg_build(tree, &c, warn_cb, &quiet, err);
        cfg_release(&c);
    }
    json_decref(tree);
    if (rc != 0) {
        fprintf(stderr, "Config validation failed: %s\n",
                err[0] ? err : err_str(rc));
        return 1;
    }
    if (!quiet)
        printf("Configuration is valid!\n");
    return 0;
}

int cmd_validate(int argc, char **argv)
{
    bool quiet = false;
    const char *format = "";
    enum cfg_format fmt = CFG_AUTO;
    const struct opt opts[] = {
        {.name = "config-format", .type = OPT_STR, .dst = &format,
         .arg = "<string>", .help = "Config files are in this format "
         "irrespective of their extension. Must be 'hcl' or 'json'"},
        {.name = "quiet", .type = OPT_BOOL, .dst = &quiet,
         .help = "When given, a successful run will produce no output."},
    };
    int rest, rc;

    rc = opt_parse_cli(opts, 2, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (strcmp(format, "hcl") == 0) {
        fmt = CFG_HCL;
    } else if (strcmp(format, "json") == 0) {
        fmt = CFG_JSON;
    } else if (format[0] != '\0') {
        fprintf(stderr, "Config validation failed: -config-format must be "
                "either 'hcl' or 'json'\n");
        return 1;
    }
    if (rest >= argc) {
        fprintf(stderr, "Must specify at least one config file or "
                "directory\n");
        return 1;
    }
    return validate(argv + rest, argc - rest, fmt, quiet);
}

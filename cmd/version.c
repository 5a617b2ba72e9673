/* version.c - "consul version": the version block that scripts parse.
 *
 * Endpoints: none. Output as Consul's command/version: the pretty block
 * (with the UI's extra newline) or, with -format=json, the VersionInfo
 * object indented by three spaces. We speak Consul 1.17.0; our own
 * version rides in the prerelease field, so scripts that parse
 * "Consul v1.17.0" keep working: "Consul v1.17.0-proconsul.0.1.0".
 * Exit codes: 0 ok (also -h), 1 bad flag or unknown format.
 * Tests: t/t0001-cli-basics.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "opt.h"
#include "version.h"

#ifndef PROCONSUL_VERSION
#define PROCONSUL_VERSION "0.0.0"
#endif
#define CONSUL_VERSION "1.17.0"

/* RPC protocol versions Consul 1.17 reports. */
enum { RPC_DEFAULT = 2, RPC_MIN = 2, RPC_MAX = 3 };

/* RFC 3339 build date: PROCONSUL_BUILD_DATE if defined, else the
 * compiler's __DATE__ (which honours SOURCE_DATE_EPOCH) at midnight UTC. */
static void build_date(char *buf, size_t n)
{
#ifdef PROCONSUL_BUILD_DATE
    snprintf(buf, n, "%s", PROCONSUL_BUILD_DATE);
#else
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *d = __DATE__; /* "Nov 24 2026" */
    int mon = 1;

    for (int i = 0; i < 12; i++)
        if (strncmp(months + 3 * i, d, 3) == 0)
            mon = i + 1;
    snprintf(buf, n, "%.4s-%02d-%02dT00:00:00Z", d + 7, mon, atoi(d + 4));
#endif
}

static void print_pretty(const char *date)
{
    printf("Consul v%s-proconsul.%s\n", CONSUL_VERSION, PROCONSUL_VERSION);
    if (version_revision()[0] != '\0')
        printf("Revision %s\n", version_revision());
    printf("Build Date %s\n", date);
    printf("Protocol %d spoken by default, understands %d to %d", RPC_DEFAULT,
           RPC_MIN, RPC_MAX);
    if (RPC_DEFAULT < RPC_MAX)
        printf(" (agent will automatically use protocol >%d when speaking "
               "to compatible agents)", RPC_DEFAULT);
    printf("\n\n");
}

/* json.MarshalIndent(info, "", "   "); the strings need no escaping. */
static void print_json(const char *date)
{
    printf("{\n"
           "   \"Version\": \"%s\",\n"
           "   \"Revision\": \"%s\",\n"
           "   \"Prerelease\": \"proconsul.%s\",\n"
           "   \"BuildDate\": \"%s\",\n"
           "   \"RPC\": {\n"
           "      \"Default\": %d,\n"
           "      \"Min\": %d,\n"
           "      \"Max\": %d\n"
           "   }\n"
           "}\n",
           CONSUL_VERSION, version_revision(), PROCONSUL_VERSION, date,
           RPC_DEFAULT, RPC_MIN, RPC_MAX);
}

int cmd_version(int argc, char **argv)
{
    const char *format = "pretty";
    const struct opt opts[] = {
        {.name = "format", .type = OPT_STR, .dst = &format,
         .help = "Output format {pretty|json}"},
    };
    char err[ERR_LEN], date[64];
    int rest, rc;

    if (opt_help_requested(argc, argv)) {
        opt_usage(stdout, "consul version [options]", NULL, opts, 1);
        return 0;
    }
    rc = opt_parse(opts, 1, argc, argv, &rest, err);
    if (rc != 0) {
        if (rc != OPT_HELP)
            fprintf(stderr, "%s\n", err);
        fprintf(stderr, "Usage:\n");
        opt_print_defaults(stderr, opts, 1);
        return 1;
    }
    build_date(date, sizeof(date));
    if (strcmp(format, "pretty") == 0) {
        print_pretty(date);
    } else if (strcmp(format, "json") == 0) {
        print_json(date);
    } else {
        fprintf(stderr, "Unknown format: %s\n", format);
        return 1;
    }
    return 0;
}

/* monitor.c - "consul monitor": stream the agent's log.
 *
 * Endpoint: GET /v1/agent/monitor?loglevel=<level>[&logjson], a body
 * that never ends; it is copied to stdout as it arrives.
 * Output follows Consul's command/monitor: the log lines; when the agent
 * ends the stream, an empty line and "Remote side ended the monitor!
 * This usually means that the\nremote side has exited or crashed." and
 * exit 1. SIGINT or SIGTERM ends the command quietly with 0.
 * Exit codes: 0 interrupted (also "-h"); 1 bad flag, extra arguments,
 * transport or API error ("Error starting monitor: ..."), stream ended.
 * Tests: t/t7001-ops-cli.sh
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul monitor [options]";
static const char description[] =
    "  Shows recent log messages of a Consul agent, and attaches to the\n"
    "  agent, outputting log messages as they occur in real time. The\n"
    "  monitor lets you listen for log levels that may be filtered out of\n"
    "  the Consul agent. For example your agent may only be logging at\n"
    "  INFO level, but with the monitor you can see the DEBUG level logs.";

/* Everything already went to stdout with write(2): nothing to flush. */
static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

static int stream(struct httpc *c, const char *level, bool json)
{
    char err[ERR_LEN], query[256];
    struct httpc_resp r;
    char *lv = httpc_escape(level);

    if (lv == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    snprintf(query, sizeof(query), "loglevel=%s%s", lv,
             json ? "&logjson=" : "");
    free(lv);
    fflush(stdout);
    if (httpc_get_to_fd(c, "/v1/agent/monitor", query, STDOUT_FILENO,
                        NULL, NULL, &r, err) != 0) {
        fprintf(stderr, "Error starting monitor: %s\n", err);
        return 1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        httpc_resp_release(&r);
        fprintf(stderr, "Error starting monitor: %s\n", err);
        return 1;
    }
    httpc_resp_release(&r);
    printf("\nRemote side ended the monitor! This usually means that the\n"
           "remote side has exited or crashed.\n");
    return 1;
}

int cmd_monitor(int argc, char **argv)
{
    const char *level = "INFO";
    bool json = false;
    struct httpc_flags hf = {0};
    struct opt opts[2 + HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rc;

    opts[n++] = (struct opt){.name = "log-level", .type = OPT_STR,
        .dst = &level, .arg = "<string>", .help = "Log level of the agent."};
    opts[n++] = (struct opt){.name = "log-json", .type = OPT_BOOL,
        .dst = &json, .help = "Output logs in JSON format."};
    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = httpc_cli_start(opts, n, argc, argv, synopsis, description, &hf,
                         &c);
    if (rc >= 0)
        return rc;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = stream(&c, level, json);
    httpc_release(&c);
    return rc;
}

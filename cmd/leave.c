/* leave.c - "consul leave": make the agent leave the cluster gracefully
 * and shut down.
 *
 * Endpoint: PUT /v1/agent/leave.
 * Output follows Consul's command/leave.
 * Exit codes: 0 left (also "-h"); 1 bad flag, extra arguments, transport
 * or API error.
 * Tests: t/t2001-gossip-members.sh
 */
#include <stdbool.h>
#include <stdio.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul leave [options]";
static const char description[] =
    "  Causes the agent to gracefully leave the Consul cluster and "
    "shutdown.";

int cmd_leave(int argc, char **argv)
{
    struct httpc_flags hf = {0};
    struct opt opts[HTTPC_N_FLAGS];
    char err[ERR_LEN];
    struct httpc c;
    struct httpc_resp r;
    int n = 0, rest, rc;

    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (rest < argc) {
        fprintf(stderr, "This command takes no arguments\n");
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    rc = httpc_do(&c, "PUT", "/v1/agent/leave", NULL, NULL, 0, &r, err);
    httpc_release(&c);
    if (rc == 0) {
        if (r.status != 200) {
            httpc_format_status(&r, err, sizeof(err));
            rc = ERR_IO;
        }
        httpc_resp_release(&r);
    }
    if (rc != 0) {
        fprintf(stderr, "Error leaving: %s\n", err);
        return 1;
    }
    printf("Graceful leave complete\n");
    return 0;
}

/* reload.c - "consul reload": make the agent reload its configuration.
 *
 * Endpoint: PUT /v1/agent/reload.
 * Output follows Consul's command/reload: "Configuration reload
 * triggered" on success, "Error reloading: <why>" otherwise.
 * Exit codes: 0 ok (also "-h"); 1 bad flag, extra arguments, transport
 * or API error.
 * Tests: t/t7001-ops-cli.sh
 */
#include <stdbool.h>
#include <stdio.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul reload [options]";
static const char description[] =
    "  Causes the agent to reload configurations. This can be used instead\n"
    "  of sending the SIGHUP signal to the agent.";

static int do_reload(struct httpc *c)
{
    struct httpc_resp r;
    char err[ERR_LEN];

    if (httpc_do(c, "PUT", "/v1/agent/reload", NULL, NULL, 0, &r,
                 err) != 0) {
        fprintf(stderr, "Error reloading: %s\n", err);
        return 1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        httpc_resp_release(&r);
        fprintf(stderr, "Error reloading: %s\n", err);
        return 1;
    }
    httpc_resp_release(&r);
    printf("Configuration reload triggered\n");
    return 0;
}

int cmd_reload(int argc, char **argv)
{
    struct httpc_flags hf = {0};
    struct opt opts[HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rc;

    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = httpc_cli_start(opts, n, argc, argv, synopsis, description, &hf,
                         &c);
    if (rc >= 0)
        return rc;
    rc = do_reload(&c);
    httpc_release(&c);
    return rc;
}

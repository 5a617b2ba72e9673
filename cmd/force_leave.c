/* force_leave.c - "consul force-leave": mark a failed member as left.
 *
 * Endpoint: PUT /v1/agent/force-leave/<node>[?prune=1].
 * Output follows Consul's command/forceleave (nothing on success).
 * Exit codes: 0 ok (also "-h"); 1 bad flag, no node name, transport or
 * API error.
 * Tests: t/t2001-gossip-members.sh
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul force-leave [options] name";
static const char description[] =
    "  Forces a member of a Consul cluster to enter the \"left\" state. "
    "Note\n  that if the member is still actually alive, it will "
    "eventually rejoin\n  the cluster. The name given should be the node "
    "name, as shown by\n  \"consul members\".";

static int force_leave(struct httpc *c, const char *node, bool prune)
{
    char err[ERR_LEN], path[1100];
    char *esc = httpc_escape(node);
    struct httpc_resp r;
    int rc;

    if (esc == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    snprintf(path, sizeof(path), "/v1/agent/force-leave/%s", esc);
    free(esc);
    rc = httpc_do(c, "PUT", path, prune ? "prune=1" : NULL, NULL, 0, &r,
                  err);
    if (rc == 0) {
        if (r.status != 200) {
            httpc_format_status(&r, err, sizeof(err));
            rc = ERR_IO;
        }
        httpc_resp_release(&r);
    }
    if (rc != 0) {
        fprintf(stderr, "Error force leaving: %s\n", err);
        return 1;
    }
    return 0;
}

int cmd_force_leave(int argc, char **argv)
{
    bool prune = false;
    struct httpc_flags hf = {0};
    struct opt opts[1 + HTTPC_N_FLAGS];
    char err[ERR_LEN];
    struct httpc c;
    int n = 0, rest, rc;

    opts[n++] = (struct opt){.name = "prune", .type = OPT_BOOL,
        .dst = &prune, .help = "Remove agent forcibly from list of "
        "members. The default value is false."};
    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (argc - rest != 1) {
        fprintf(stderr, "A single node name must be specified to force "
                        "leave.\n");
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    rc = force_leave(&c, argv[rest], prune);
    httpc_release(&c);
    return rc;
}

/* join.c - "consul join": ask the agent to join other agents' pools.
 *
 * Endpoint: PUT /v1/agent/join/<addr>[?wan=1], once per address.
 * Output follows Consul's command/join.
 * Exit codes: 0 when at least one address was joined (also "-h"); 1 bad
 * flag, no address, transport error, or no address joined.
 * Tests: t/t2001-gossip-members.sh
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul join [options] address ...";
static const char description[] =
    "  Tells a running Consul agent (with \"consul agent\") to join the "
    "cluster\n  by specifying at least one existing member.";

static int join_one(struct httpc *c, const char *addr, bool wan)
{
    char err[ERR_LEN], path[1100];
    char *esc = httpc_escape(addr);
    struct httpc_resp r;
    int rc;

    if (esc == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    snprintf(path, sizeof(path), "/v1/agent/join/%s", esc);
    free(esc);
    rc = httpc_do(c, "PUT", path, wan ? "wan=1" : NULL, NULL, 0, &r, err);
    if (rc == 0) {
        if (r.status != 200) {
            httpc_format_status(&r, err, sizeof(err));
            rc = ERR_IO;
        }
        httpc_resp_release(&r);
    }
    if (rc != 0) {
        fprintf(stderr, "Error joining address '%s': %s\n", addr, err);
        return -1;
    }
    return 0;
}

int cmd_join(int argc, char **argv)
{
    bool wan = false;
    struct httpc_flags hf = {0};
    struct opt opts[1 + HTTPC_N_FLAGS];
    char err[ERR_LEN];
    struct httpc c;
    int n = 0, rest, rc, joined = 0;

    opts[n++] = (struct opt){.name = "wan", .type = OPT_BOOL, .dst = &wan,
        .help = "Joins a server to another server in the WAN pool. The "
        "default value is false."};
    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (rest >= argc) {
        fprintf(stderr, "At least one address to join must be specified.\n");
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    for (int i = rest; i < argc; i++)
        if (join_one(&c, argv[i], wan) == 0)
            joined++;
    httpc_release(&c);
    if (joined == 0) {
        fprintf(stderr, "Failed to join any nodes.\n");
        return 1;
    }
    printf("Successfully joined cluster by contacting %d nodes.\n", joined);
    return 0;
}

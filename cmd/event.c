/* event.c - "consul event": fire a user event through the agent.
 *
 * Endpoint: PUT /v1/event/fire/<name>?node=&service=&tag= (body: the
 * payload).
 * Output follows Consul's command/event: "Event ID: <uuid>".
 * Exit codes: 0 fired (also "-h"); 1 bad flag, missing name, bad filter,
 * too many arguments, transport or API error.
 * Tests: t/t8201-events.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "json_regex.h"
#include "opt.h"

static const char synopsis[] = "consul event [options] [payload]";
static const char description[] =
    "  Dispatches a custom user event across a datacenter. An event must "
    "provide\n  a name, but a payload is optional. Events support filtering "
    "using\n  regular expressions on node name, service, and service tags.";

struct ev_args {
    const char *name, *node, *service, *tag;
};

static int check_re(const char *pat, const char *what)
{
    regex_t re;
    char err[ERR_LEN];

    if (pat == NULL || pat[0] == '\0')
        return 0;
    if (json_regex_compile(&re, pat, strlen(pat), err) != 0) {
        fprintf(stderr, "Failed to compile %s filter regexp: %s\n", what,
                err);
        return -1;
    }
    regfree(&re);
    return 0;
}

static void add_q(char *q, size_t n, const char *k, const char *v)
{
    char *esc;
    size_t used = strlen(q);

    if (v == NULL || v[0] == '\0' || (esc = httpc_escape(v)) == NULL)
        return;
    snprintf(q + used, n - used, "%s%s=%s", used ? "&" : "", k, esc);
    free(esc);
}

static int fire(struct httpc *c, const struct ev_args *a, const char *pl)
{
    char err[ERR_LEN], path[1200], q[4096] = "";
    char *name = httpc_escape(a->name);
    struct httpc_resp r;
    json_t *j;
    const char *id;
    int rc;

    if (name == NULL)
        return -1;
    snprintf(path, sizeof(path), "/v1/event/fire/%s", name);
    free(name);
    add_q(q, sizeof(q), "node", a->node);
    add_q(q, sizeof(q), "service", a->service);
    add_q(q, sizeof(q), "tag", a->tag);
    rc = httpc_do(c, "PUT", path, q[0] ? q : NULL, pl,
                  pl != NULL ? strlen(pl) : 0, &r, err);
    if (rc != 0) {
        fprintf(stderr, "Error firing event: %s\n", err);
        return -1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        fprintf(stderr, "Error firing event: %s\n", err);
        httpc_resp_release(&r);
        return -1;
    }
    j = json_loads(r.body, 0, NULL);
    id = json_string_value(json_object_get(j, "ID"));
    if (id != NULL)
        printf("Event ID: %s\n", id);
    else
        fprintf(stderr, "Error firing event: no ID in the answer\n");
    rc = id != NULL ? 0 : -1;
    json_decref(j);
    httpc_resp_release(&r);
    return rc;
}

int cmd_event(int argc, char **argv)
{
    struct ev_args a = {0};
    struct httpc_flags hf = {0};
    struct opt opts[4 + HTTPC_N_FLAGS];
    char err[ERR_LEN];
    struct httpc c;
    int n = 0, rest, rc;

    opts[n++] = (struct opt){.name = "name", .type = OPT_STR, .dst = &a.name,
        .help = "Name of the event."};
    opts[n++] = (struct opt){.name = "node", .type = OPT_STR, .dst = &a.node,
        .help = "Regular expression to filter on node names."};
    opts[n++] = (struct opt){.name = "service", .type = OPT_STR,
        .dst = &a.service,
        .help = "Regular expression to filter on service instances."};
    opts[n++] = (struct opt){.name = "tag", .type = OPT_STR, .dst = &a.tag,
        .help = "Regular expression to filter on service tags. Must be "
        "used with -service."};
    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (a.name == NULL || a.name[0] == '\0') {
        fprintf(stderr, "Event name must be specified\n");
        return 1;
    }
    if (check_re(a.node, "node") != 0 ||
        check_re(a.service, "service") != 0 || check_re(a.tag, "tag") != 0)
        return 1;
    if (a.tag != NULL && a.tag[0] != '\0' &&
        (a.service == NULL || a.service[0] == '\0')) {
        fprintf(stderr, "Cannot provide tag filter without service "
                        "filter.\n");
        return 1;
    }
    if (argc - rest > 1) {
        fprintf(stderr, "Too many command line arguments.\n");
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    rc = fire(&c, &a, rest < argc ? argv[rest] : NULL);
    httpc_release(&c);
    return rc == 0 ? 0 : 1;
}

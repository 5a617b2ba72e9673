/* members.c - "consul members": the LAN gossip pool as this agent sees it.
 *
 * Endpoint: GET /v1/agent/members?segment=_all[&wan=1].
 * Output follows Consul's command/members: a table rendered like
 * ryanuber/columnize (columns joined by two spaces, left aligned, the
 * last one unpadded), servers first, then by node name; -detailed shows
 * every tag instead, sorted and joined by ','.
 * Exit codes: 0 ok (also "-h"); 1 bad flag, bad regexp, transport or API
 * error; 2 when no member matches -status.
 * Tests: t/t2001-gossip-members.sh
 */
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

#define NCOLS 9

struct row {
    char *col[NCOLS];
    bool server;
    const char *name;
};

struct table {
    struct row *rows;
    size_t n, cap;
    int ncols;
};

static const char synopsis[] = "consul members [options]";
static const char description[] =
    "  Outputs the members of a running Consul agent.";

static const char *jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return d;
}

static const char *status_name(json_int_t s)
{
    static const char *names[] = {"none", "alive", "leaving", "left",
                                  "failed"};

    return s >= 0 && s <= 4 ? names[s] : "unknown";
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* "k1=v1,k2=v2", keys sorted. */
static char *tags_line(const json_t *tags)
{
    const char *keys[64], *k;
    json_t *v;
    size_t n = 0, len = 1;
    char *out;

    json_object_foreach((json_t *)tags, k, v)
    {
        if (n < 64) {
            keys[n++] = k;
            len += strlen(k) + strlen(jstr(tags, k)) + 2;
        }
    }
    (void)v;
    qsort(keys, n, sizeof(keys[0]), cmp_key);
    out = calloc(1, len);
    if (out == NULL)
        return xstrdup("");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, keys[i]);
        strcat(out, "=");
        strcat(out, jstr(tags, keys[i]));
    }
    return out;
}

static void fill_row(struct row *r, const json_t *m, bool detailed)
{
    const json_t *tags = json_object_get(m, "Tags");
    const char *build = jstr(tags, "build");
    char addr[128], b[128];

    snprintf(addr, sizeof(addr), "%s:%lld",
             jstr(m, "Addr"),
             (long long)json_integer_value(json_object_get(m, "Port")));
    snprintf(b, sizeof(b), "%.*s", (int)strcspn(build, ":"), build);
    r->server = strcmp(jstr(tags, "role"), "consul") == 0;
    r->col[0] = xstrdup(r->name);
    r->col[1] = xstrdup(addr);
    r->col[2] = xstrdup(status_name(
        json_integer_value(json_object_get(m, "Status"))));
    if (detailed) {
        r->col[3] = tags_line(tags);
        return;
    }
    r->col[3] = xstrdup(r->server ? "server" : "client");
    r->col[4] = xstrdup(b);
    r->col[5] = xstrdup(jstr(tags, "vsn"));
    r->col[6] = xstrdup(jstr(tags, "dc"));
    r->col[7] = xstrdup("default");
    r->col[8] = xstrdup(jstr(tags, "segment")[0] != '\0'
                            ? jstr(tags, "segment")
                            : r->server ? "<all>" : "<default>");
}

static int cmp_row(const void *x, const void *y)
{
    const struct row *a = x, *b = y;

    if (a->server != b->server)
        return a->server ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* ryanuber/columnize with its defaults: glue "  ", last column bare. */
static void columnize(struct row *rows, size_t n, int ncols)
{
    size_t w[NCOLS] = {0};

    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < ncols; j++)
            if (strlen(rows[i].col[j]) > w[j])
                w[j] = strlen(rows[i].col[j]);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < ncols - 1; j++)
            printf("%-*s  ", (int)w[j], rows[i].col[j]);
        printf("%s\n", rows[i].col[ncols - 1]);
    }
}

static void free_rows(struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < NCOLS; j++)
            free(rows[i].col[j]);
    free(rows);
}

static int render(const json_t *arr, bool detailed, const regex_t *re)
{
    static const char *hdr[NCOLS] = {"Node", "Address", "Status", "Type",
                                     "Build", "Protocol", "DC",
                                     "Partition", "Segment"};
    static const char *dhdr[4] = {"Node", "Address", "Status", "Tags"};
    size_t n = json_array_size(arr), k = 0;
    struct row *rows = calloc(n + 1, sizeof(*rows));
    int ncols = detailed ? 4 : NCOLS;

    if (rows == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(arr, i);
        const char *st = status_name(
            json_integer_value(json_object_get(m, "Status")));

        if (!json_is_object(m) || regexec(re, st, 0, NULL, 0) != 0)
            continue;
        rows[k + 1].name = jstr(m, "Name");
        fill_row(&rows[k + 1], m, detailed);
        k++;
    }
    if (k == 0) {
        free_rows(rows, 1);
        return 2;
    }
    qsort(rows + 1, k, sizeof(rows[0]), cmp_row);
    for (int j = 0; j < ncols; j++)
        rows[0].col[j] = xstrdup(detailed ? dhdr[j] : hdr[j]);
    columnize(rows, k + 1, ncols);
    free_rows(rows, k + 1);
    return 0;
}

static int fetch(struct httpc *c, bool wan, const char *segment,
                 json_t **out)
{
    char err[ERR_LEN], query[512];
    struct httpc_resp r;
    char *seg = httpc_escape(segment);
    json_error_t je;
    int rc;

    snprintf(query, sizeof(query), "segment=%s%s", seg ? seg : "_all",
             wan ? "&wan=1" : "");
    free(seg);
    rc = httpc_do(c, "GET", "/v1/agent/members", query, NULL, 0, &r, err);
    if (rc != 0) {
        fprintf(stderr, "Error retrieving members: %s\n", err);
        return 1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        fprintf(stderr, "Error retrieving members: %s\n", err);
        httpc_resp_release(&r);
        return 1;
    }
    *out = json_loadb(r.body, r.len, 0, &je);
    httpc_resp_release(&r);
    if (!json_is_array(*out)) {
        json_decref(*out);
        fprintf(stderr, "Error retrieving members: bad JSON from agent\n");
        return 1;
    }
    return 0;
}

int cmd_members(int argc, char **argv)
{
    bool detailed = false, wan = false;
    const char *status = ".*", *segment = "_all";
    struct httpc_flags hf = {0};
    struct opt opts[4 + HTTPC_N_FLAGS];
    char err[ERR_LEN];
    struct httpc c;
    json_t *arr = NULL;
    regex_t re;
    int n = 0, rest, rc;

    opts[n++] = (struct opt){.name = "detailed", .type = OPT_BOOL,
        .dst = &detailed, .help = "Provides detailed information about "
        "nodes. The default value is false."};
    opts[n++] = (struct opt){.name = "segment", .type = OPT_STR,
        .dst = &segment, .arg = "<string>", .help = "(Enterprise-only) "
        "If provided, output is filtered to only nodes in the given "
        "segment."};
    opts[n++] = (struct opt){.name = "status", .type = OPT_STR,
        .dst = &status, .arg = "<string>", .help = "If provided, output "
        "is filtered to only nodes matching the regular expression for "
        "status."};
    opts[n++] = (struct opt){.name = "wan", .type = OPT_BOOL, .dst = &wan,
        .help = "If the agent is in server mode, this can be used to "
        "return the other peers in the WAN pool. The default value is "
        "false."};
    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (rest < argc) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n",
                argc - rest);
        return 1;
    }
    if (regcomp(&re, status, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "Failed to compile status regexp: '%s'\n", status);
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        regfree(&re);
        return 1;
    }
    rc = fetch(&c, wan, segment, &arr);
    if (rc == 0) {
        rc = render(arr, detailed, &re);
        json_decref(arr);
    }
    httpc_release(&c);
    regfree(&re);
    return rc;
}

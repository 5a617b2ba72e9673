/* info.c - "consul info": debugging information for operators.
 *
 * Endpoint: GET /v1/agent/self (its "Stats" object).
 * Output follows Consul's command/info: one "<section>:" line per
 * section (agent, build, consul, raft on servers, runtime, serf_lan),
 * then "\t<key> = <value>" for each of its keys; sections and keys
 * sorted bytewise.
 * Exit codes: 0 ok (also "-h"); 1 bad flag, extra arguments, transport
 * or API error, or a response without "Stats".
 * Tests: t/t7001-ops-cli.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul info [options]";
static const char description[] =
    "  Provides debugging information for operators";

static int cmp_key(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The keys of obj, sorted (heap array of borrowed strings). */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    const char **keys = calloc(json_object_size(obj) + 1, sizeof(*keys));
    const char *k;
    json_t *v;

    *n = 0;
    if (keys == NULL)
        return NULL;
    json_object_foreach((json_t *)obj, k, v)
        keys[(*n)++] = k;
    (void)v;
    qsort(keys, *n, sizeof(*keys), cmp_key);
    return keys;
}

/* Go's %v of a value decoded from JSON. */
static void print_value(const json_t *v)
{
    char *s;

    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
    } else if (json_is_null(v)) {
        fputs("<nil>", stdout);
    } else if ((s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)) != NULL) {
        fputs(s, stdout);
        free(s);
    }
}

static int print_stats(const json_t *stats)
{
    size_t n, m;
    const char **sec = sorted_keys(stats, &n), **keys;

    if (sec == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *sub = json_object_get(stats, sec[i]);

        printf("%s:\n", sec[i]);
        if (!json_is_object(sub) || (keys = sorted_keys(sub, &m)) == NULL)
            continue;
        for (size_t j = 0; j < m; j++) {
            printf("\t%s = ", keys[j]);
            print_value(json_object_get(sub, keys[j]));
            putchar('\n');
        }
        free(keys);
    }
    free(sec);
    return 0;
}

static int query(struct httpc *c, json_t **self)
{
    struct httpc_resp r;
    char err[ERR_LEN];
    json_error_t je;

    if (httpc_do(c, "GET", "/v1/agent/self", NULL, NULL, 0, &r, err) != 0) {
        fprintf(stderr, "Error querying agent: %s\n", err);
        return 1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        httpc_resp_release(&r);
        fprintf(stderr, "Error querying agent: %s\n", err);
        return 1;
    }
    *self = json_loadb(r.body, r.len, 0, &je);
    httpc_resp_release(&r);
    if (!json_is_object(*self)) {
        json_decref(*self);
        fprintf(stderr, "Error querying agent: invalid JSON: %s\n",
                je.text);
        return 1;
    }
    return 0;
}

int cmd_info(int argc, char **argv)
{
    struct httpc_flags hf = {0};
    struct opt opts[HTTPC_N_FLAGS];
    struct httpc c;
    json_t *self = NULL, *stats;
    int n = 0, rc;

    httpc_add_flags(opts, &n, &hf, false);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = httpc_cli_start(opts, n, argc, argv, synopsis, description, &hf,
                         &c);
    if (rc >= 0)
        return rc;
    rc = query(&c, &self);
    httpc_release(&c);
    if (rc != 0)
        return rc;
    stats = json_object_get(self, "Stats");
    if (!json_is_object(stats)) {
        fprintf(stderr, "Agent response did not contain 'Stats' key: "
                "map[]\n");
        rc = 1;
    } else {
        rc = print_stats(stats);
    }
    json_decref(self);
    return rc;
}

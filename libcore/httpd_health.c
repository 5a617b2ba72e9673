/* httpd_health.c - /v1/health/node/<n>, /v1/health/checks/<s>,
 * /v1/health/service/<s> (?tag, ?passing, ?node-meta) and
 * /v1/health/state/<any|passing|warning|critical>, all with ?filter.
 *
 * Layer: http. Thread: loop only.
 * Behaviour follows Consul's health_endpoint: always a list (`[]` for an
 * unknown node, service or state), blocking on the index of the node,
 * the service or the checks table.
 * Tests: t/t2101-catalog-api.sh
 */
#include "httpd_int.h"

#include <string.h>

#include "cat.h"

static struct cat_store *store(struct httpd_ctx *c)
{
    return c->a->fsm.cat;
}

static struct httpd_catq *query(struct httpd_ctx *c)
{
    return c->data;
}

static uint64_t node_index(struct httpd_ctx *c)
{
    return cat_node_index(store(c), query(c)->name);
}

static uint64_t service_index(struct httpd_ctx *c)
{
    return cat_service_index(store(c), query(c)->name);
}

/* With ?node-meta the node table matters too, as in Consul. */
static uint64_t checks_index(struct httpd_ctx *c)
{
    uint64_t idx = cat_index(store(c), CAT_CHECKS);
    uint64_t n = cat_index(store(c), CAT_NODES);

    return query(c)->nmeta > 0 && n > idx ? n : idx;
}

static void send_read(struct httpd_ctx *c, json_t *body)
{
    httpd_meta_headers(c, c->index_fn(c));
    httpd_send_json(c, 200, body != NULL ? body : json_array());
}

/* {node name: Meta} of every node, for ?node-meta on checks. */
static json_t *node_metas(struct httpd_ctx *c)
{
    json_t *nodes = cat_nodes(store(c)), *out = json_object(), *n;
    size_t i;

    json_array_foreach(nodes, i, n) {
        const char *name = json_string_value(json_object_get(n, "Node"));
        json_t *meta = json_object_get(n, "Meta");

        if (name != NULL && meta != NULL)
            json_object_set(out, name, meta);
    }
    json_decref(nodes);
    return out;
}

/* The checks of arr (taken) whose node has the ?node-meta pairs and
 * that pass ?filter. */
static json_t *select_checks(struct httpd_ctx *c, json_t *arr)
{
    const struct httpd_catq *q = query(c);
    json_t *metas, *out, *chk;
    size_t i;

    if (arr == NULL)
        return json_array();
    if (q->nmeta == 0)
        return httpd_catq_filter_array(q, arr);
    metas = node_metas(c);
    out = json_array();
    json_array_foreach(arr, i, chk) {
        const char *node = json_string_value(json_object_get(chk, "Node"));
        json_t *meta = node != NULL ? json_object_get(metas, node) : NULL;

        if (httpd_catq_meta_ok(q, meta) && httpd_catq_filter_ok(q, chk))
            json_array_append(out, chk);
    }
    json_decref(metas);
    json_decref(arr);
    return out;
}

static void node_respond(struct httpd_ctx *c)
{
    json_t *arr = cat_node_checks(store(c), query(c)->name);

    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_CHECKS,
                                  httpd_catq_filter_array(query(c), arr)));
}

static void checks_respond(struct httpd_ctx *c)
{
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_CHECKS, select_checks(
                     c, cat_service_checks(store(c), query(c)->name))));
}

static bool valid_state(const char *s)
{
    return strcmp(s, "any") == 0 || strcmp(s, "passing") == 0 ||
           strcmp(s, "warning") == 0 || strcmp(s, "critical") == 0;
}

/* Consul does not validate the state: an unknown one matches nothing. */
static void state_respond(struct httpd_ctx *c)
{
    const char *st = query(c)->name;

    if (!valid_state(st)) {
        send_read(c, json_array());
        return;
    }
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_CHECKS, select_checks(
                     c, cat_checks_in_state(store(c), st))));
}

static void service_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *all, *out, *e;
    size_t i;

    all = cat_service_health(store(c), q->name, NULL, q->passing);
    out = json_array();
    json_array_foreach(all, i, e) {
        json_t *node = json_object_get(e, "Node");
        json_t *svc = json_object_get(e, "Service");

        if (httpd_catq_meta_ok(q, json_object_get(node, "Meta")) &&
            httpd_catq_tags_ok(q, json_object_get(svc, "Tags")) &&
            httpd_catq_filter_ok(q, e))
            json_array_append(out, e);
    }
    json_decref(all);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_HEALTH, out));
}

void httpd_health_node(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER, "Missing node name", node_index,
                    node_respond);
}

void httpd_health_checks(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER | HTTPD_CATQ_META,
                    "Missing service name", service_index, checks_respond);
}

void httpd_health_service(struct httpd_ctx *c)
{
    unsigned which = HTTPD_CATQ_FILTER | HTTPD_CATQ_META | HTTPD_CATQ_TAGS |
                     HTTPD_CATQ_PASSING;

    httpd_catq_read(c, which, "Missing service name", service_index,
                    service_respond);
}

void httpd_health_state(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER | HTTPD_CATQ_META,
                    "Missing check state", checks_index, state_respond);
}

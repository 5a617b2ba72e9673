/* httpd_catalog.c - /v1/catalog/...: register, deregister, datacenters,
 * nodes, node/<n>, node-services/<n>, services, service/<s>; and the
 * read options shared with httpd_health.c (?filter, ?tag, ?node-meta,
 * ?passing).
 *
 * Layer: http. Thread: loop only.
 * Behaviour follows Consul's catalog_endpoint: empty lists rather than
 * null, `null` for an unknown node, X-Consul-Index of the table (or the
 * one service or node) read, so that a blocking query wakes only for
 * changes to what it shows.
 * Tests: t/t2101-catalog-api.sh
 */
#include "httpd_int.h"

#include <raft.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cat.h"
#include "json_filter.h"
#include "json_util.h"

/* ---- read options (shared with httpd_health.c) ---- */

static void catq_dispose(void *p)
{
    struct httpd_catq *q = p;

    jfilter_free(q->filter);
    q->filter = NULL;
}

/* Consul's ParseMetaPair: "k:v", or "k" for an empty value; a repeated
 * key keeps its last value (it is a map there). pair is a pool copy. */
static void add_meta(struct httpd_catq *q, char *pair)
{
    char *colon = strchr(pair, ':');
    const char *val = "";

    if (colon != NULL) {
        *colon = '\0';
        val = colon + 1;
    }
    for (int i = 0; i < q->nmeta; i++) {
        if (strcmp(q->meta_key[i], pair) == 0) {
            q->meta_val[i] = val;
            return;
        }
    }
    q->meta_key[q->nmeta] = pair;
    q->meta_val[q->nmeta++] = val;
}

/* Go's strconv.ParseBool; a bare "?passing" is true. */
static int parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"", "1", "t", "T", "true", "TRUE", "True"};
    static const char *no[] = {"0", "f", "F", "false", "FALSE", "False"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int parse_filter(struct httpd_ctx *c, struct httpd_catq *q)
{
    const char *f = httpd_q(c, "filter");
    char err[ERR_LEN], msg[ERR_LEN + 64];

    if (f == NULL || f[0] == '\0')
        return 0;
    err[0] = '\0';
    q->filter = jfilter_parse(f, err);
    if (q->filter != NULL)
        return 0;
    snprintf(msg, sizeof(msg), "%s%s", JFILTER_ERR_PREFIX, err);
    httpd_error(c, 400, "bad_filter", msg);
    return -1;
}

static struct httpd_catq *catq_parse(struct httpd_ctx *c, unsigned which,
                                     const char *missing)
{
    struct httpd_catq *q;
    const char *passing = httpd_q(c, "passing");

    if (httpd_read_opts(c) != 0)
        return NULL;
    if (missing != NULL && c->rest[0] == '\0') {
        httpd_error(c, 400, "bad_request", missing);
        return NULL;
    }
    q = h2o_mem_alloc_shared(&c->req->pool, sizeof(*q), catq_dispose);
    memset(q, 0, sizeof(*q));
    q->name = c->rest;
    for (int i = 0; i < c->q.n; i++) {
        if ((which & HTTPD_CATQ_TAGS) && strcmp(c->q.name[i], "tag") == 0)
            q->tags[q->ntags++] = c->q.val[i];
        else if ((which & HTTPD_CATQ_META) &&
                 strcmp(c->q.name[i], "node-meta") == 0)
            add_meta(q, h2o_strdup(&c->req->pool, c->q.val[i],
                                   SIZE_MAX).base);
    }
    if ((which & HTTPD_CATQ_PASSING) && passing != NULL &&
        parse_bool(passing, &q->passing) != 0) {
        httpd_error(c, 400, "bad_request", "Invalid value for ?passing");
        return NULL;
    }
    if ((which & HTTPD_CATQ_FILTER) && parse_filter(c, q) != 0)
        return NULL;
    c->data = q;
    return q;
}

bool httpd_catq_meta_ok(const struct httpd_catq *q, const json_t *meta)
{
    for (int i = 0; i < q->nmeta; i++) {
        const char *v = json_string_value(json_object_get(meta,
                                                          q->meta_key[i]));

        if (v == NULL || strcmp(v, q->meta_val[i]) != 0)
            return false;
    }
    return true;
}

/* Consul compares tags with strings.EqualFold. */
bool httpd_catq_tags_ok(const struct httpd_catq *q, const json_t *tags)
{
    for (int i = 0; i < q->ntags; i++) {
        size_t j;
        json_t *t;
        bool found = false;

        json_array_foreach(tags, j, t) {
            const char *s = json_string_value(t);

            if (s != NULL && strcasecmp(s, q->tags[i]) == 0) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

bool httpd_catq_filter_ok(const struct httpd_catq *q, const json_t *obj)
{
    return q->filter == NULL || jfilter_match(q->filter, obj);
}

json_t *httpd_catq_filter_array(const struct httpd_catq *q, json_t *arr)
{
    json_t *out;

    if (arr == NULL)
        return json_array();
    if (q->filter == NULL)
        return arr;
    out = jfilter_apply_array(q->filter, arr);
    json_decref(arr);
    return out != NULL ? out : json_array();
}

/* ---- reads ---- */

static struct cat_store *store(struct httpd_ctx *c)
{
    return c->a->fsm.cat;
}

static struct httpd_catq *query(struct httpd_ctx *c)
{
    return c->data;
}

static uint64_t nodes_index(struct httpd_ctx *c)
{
    return cat_index(store(c), CAT_NODES);
}

static uint64_t node_index(struct httpd_ctx *c)
{
    return cat_node_index(store(c), query(c)->name);
}

/* With ?node-meta the answer also depends on the nodes (Consul takes the
 * max of both tables there). */
static uint64_t services_index(struct httpd_ctx *c)
{
    uint64_t idx = cat_index(store(c), CAT_SERVICES);
    uint64_t n = cat_index(store(c), CAT_NODES);

    return query(c)->nmeta > 0 && n > idx ? n : idx;
}

static uint64_t service_index(struct httpd_ctx *c)
{
    return cat_service_index(store(c), query(c)->name);
}

static void send_read(struct httpd_ctx *c, json_t *body)
{
    httpd_meta_headers(c, c->index_fn(c));
    httpd_send_json(c, 200, body);
}

static void nodes_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *all = cat_nodes(store(c)), *out = json_array(), *n;
    size_t i;

    json_array_foreach(all, i, n) {
        if (httpd_catq_meta_ok(q, json_object_get(n, "Meta")) &&
            httpd_catq_filter_ok(q, n))
            json_array_append(out, n);
    }
    json_decref(all);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_NODES, out));
}

/* New containers only: the records inside may be shared with the
 * store, so nothing here modifies what cat_node returned. */
static void node_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *got = cat_node(store(c), q->name), *svcs, *out, *v;
    const char *id;

    if (got == NULL) {
        send_read(c, json_null());
        return;
    }
    svcs = json_object();
    json_object_foreach(json_object_get(got, "Services"), id, v) {
        if (httpd_catq_filter_ok(q, v))
            json_object_set(svcs, id, v);
    }
    out = json_object();
    json_object_set(out, "Node", json_object_get(got, "Node"));
    json_object_set_new(out, "Services", svcs);
    json_decref(got);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_NODE, out));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted (borrowed from obj); NULL when empty. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    const char **keys;
    const char *k;
    json_t *v;
    size_t i = 0;

    *n = json_object_size(obj);
    if (*n == 0 || (keys = malloc(*n * sizeof(*keys))) == NULL) {
        *n = 0;
        return NULL;
    }
    json_object_foreach((json_t *)obj, k, v)
        keys[i++] = k;
    qsort(keys, *n, sizeof(*keys), cmp_str);
    return keys;
}

/* Consul's NodeServiceList: services by ID; "Services" is null for a
 * node without any unless a filter ran; both null for an unknown node. */
static void node_services_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *got = cat_node(store(c), q->name), *map, *arr, *out;
    const char **ids;
    size_t n;

    out = json_object();
    if (got == NULL) {
        json_object_set_new(out, "Node", json_null());
        json_object_set_new(out, "Services", json_null());
        send_read(c, out);
        return;
    }
    map = json_object_get(got, "Services");
    ids = sorted_keys(map, &n);
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(map, ids[i]);

        if (httpd_catq_filter_ok(q, v))
            json_array_append(arr, v);
    }
    free(ids);
    if (n == 0 && q->filter == NULL) {
        json_decref(arr);
        arr = json_null();
    }
    json_object_set(out, "Node", json_object_get(got, "Node"));
    json_object_set_new(out, "Services", arr);
    json_decref(got);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_NODE_SERVICES, out));
}

static bool service_node_ok(const struct httpd_catq *q, const json_t *sn)
{
    return httpd_catq_meta_ok(q, json_object_get(sn, "NodeMeta")) &&
           httpd_catq_tags_ok(q, json_object_get(sn, "ServiceTags")) &&
           httpd_catq_filter_ok(q, sn);
}

/* Tags of the instances of `name` that pass the options, sorted and
 * deduplicated; NULL when none passes. */
static json_t *matching_tags(struct httpd_ctx *c, const char *name)
{
    json_t *sns = cat_service_nodes(store(c), name, NULL), *set, *sn, *t;
    json_t *out = NULL;
    const char **keys;
    size_t i, j, n;

    set = json_object();
    json_array_foreach(sns, i, sn) {
        if (!service_node_ok(query(c), sn))
            continue;
        if (out == NULL)
            out = json_array();
        json_array_foreach(json_object_get(sn, "ServiceTags"), j, t) {
            if (json_is_string(t))
                json_object_set_new(set, json_string_value(t), json_true());
        }
    }
    keys = sorted_keys(set, &n);
    for (i = 0; out != NULL && i < n; i++)
        json_array_append_new(out, json_string(keys[i]));
    free(keys);
    json_decref(set);
    json_decref(sns);
    return out;
}

/* Consul filters the service instances, then groups them by name. */
static void services_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *all = cat_services(store(c)), *out, *v;
    const char *name;

    if (q->nmeta == 0 && q->filter == NULL) {
        send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_SERVICE_MAP,
                                      all != NULL ? all : json_object()));
        return;
    }
    out = json_object();
    json_object_foreach(all, name, v) {
        json_t *tags = matching_tags(c, name);

        if (tags != NULL)
            json_object_set_new(out, name, tags);
    }
    json_decref(all);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_SERVICE_MAP, out));
}

static void service_respond(struct httpd_ctx *c)
{
    const struct httpd_catq *q = query(c);
    json_t *all = cat_service_nodes(store(c), q->name, NULL), *out, *sn;
    size_t i;

    out = json_array();
    json_array_foreach(all, i, sn) {
        if (service_node_ok(q, sn))
            json_array_append(out, sn);
    }
    json_decref(all);
    send_read(c, httpd_acl_filter(c, HTTPD_SHAPE_SERVICE_NODES, out));
}

void httpd_catq_read(struct httpd_ctx *c, unsigned which,
                     const char *missing, httpd_index_fn index_fn,
                     httpd_respond_fn respond_fn)
{
    if (catq_parse(c, which, missing) == NULL)
        return;
    httpd_blocking_read(c, index_fn, respond_fn);
}

void httpd_catalog_nodes(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER | HTTPD_CATQ_META, NULL, nodes_index,
                    nodes_respond);
}

void httpd_catalog_node(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER, "Missing node name", node_index,
                    node_respond);
}

void httpd_catalog_node_services(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER, "Missing node name", node_index,
                    node_services_respond);
}

void httpd_catalog_services(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER | HTTPD_CATQ_META, NULL,
                    services_index, services_respond);
}

void httpd_catalog_service(struct httpd_ctx *c)
{
    httpd_catq_read(c, HTTPD_CATQ_FILTER | HTTPD_CATQ_META | HTTPD_CATQ_TAGS,
                    "Missing service name", service_index, service_respond);
}

/* Only this datacenter until WAN federation exists; answered by any
 * agent, without a leader (as Consul's). */
void httpd_catalog_datacenters(struct httpd_ctx *c)
{
    json_t *arr = json_array();
    struct agent_dc dcs[256];
    size_t n = agent_wan_dcs(c->a, dcs, 256);

    /* Ours first, then nearest first (see agent_wan.c). */
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(dcs[i].name));
    httpd_send_json(c, 200, arr);
}

/* ---- writes ---- */

/* The body as Go's json.Decoder would take it for a struct: the first
 * value (trailing bytes ignored), null as an empty request. */
static json_t *decode_body(struct httpd_ctx *c, const char *gotype)
{
    const char *b = c->req->entity.base;
    size_t n = b != NULL ? c->req->entity.len : 0, i = 0;
    char msg[ERR_LEN + 128];
    json_error_t jerr;
    json_t *j;

    while (i < n && strchr(" \t\r\n", b[i]) != NULL)
        i++;
    if (i == n) {
        httpd_error(c, 400, "bad_request", "Request decode failed: EOF");
        return NULL;
    }
    j = json_loadb(b, n, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (j == NULL) {
        snprintf(msg, sizeof(msg), "Request decode failed: %s", jerr.text);
        httpd_error(c, 400, "bad_request", msg);
        return NULL;
    }
    if (json_is_null(j)) {
        json_decref(j);
        return json_object();
    }
    if (!json_is_object(j)) {
        snprintf(msg, sizeof(msg), "Request decode failed: json: cannot "
                 "unmarshal %s into Go value of type %s", json_go_kind(j),
                 gotype);
        json_decref(j);
        httpd_error(c, 400, "bad_request", msg);
        return NULL;
    }
    return j;
}

/* A request the catalog refuses ("Must provide node", ...): Consul's
 * server returns these from its RPC, so its HTTP API answers 500 with
 * the message; only decode errors are 400. */
static void rejected(struct httpd_ctx *c, int rc, const char *msg)
{
    if (rc == ERR_INVAL)
        httpd_error(c, 500, "rejected", msg);
    else
        httpd_error_rc(c, rc, msg);
}

static void write_done(struct httpd_ctx *c, int rc,
                       const struct fsm_result *res, const char *msg)
{
    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    if (res->rc != 0) {
        rejected(c, res->rc, res->msg[0] != '\0' ? res->msg
                                                 : err_str(res->rc));
        return;
    }
    httpd_send_json(c, 200, json_true());
}

/* ---- ACLs (Consul's vetRegister/vetDeregisterWithAuthorizer) ---- */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* The name of service id on node ("" when unknown). new_svc is the
 * request's own service, which may be the one meant. */
static const char *svc_name(const json_t *got, const json_t *new_svc,
                            const char *id)
{
    if (new_svc != NULL && strcmp(jstr(new_svc, "ID"), id) == 0)
        return jstr(new_svc, "Service");
    return jstr(json_object_get(json_object_get(got, "Services"), id),
                "Service");
}

static bool may_check(struct httpd_ctx *c, const json_t *got,
                      const json_t *svc, const char *node, const json_t *chk)
{
    const char *sid = jstr(chk, "ServiceID");

    if (sid[0] != '\0')
        return httpd_acl_require(c, ACL_RES_SERVICE,
                                 svc_name(got, svc, sid), ACL_WRITE);
    return httpd_acl_require(c, ACL_RES_NODE, node, ACL_WRITE);
}

/* Node-level data needs node:write unless it changes nothing (an agent
 * re-registering its node with a service-only token). */
static bool may_register(struct httpd_ctx *c, const json_t *req)
{
    const char *node = jstr(req, "Node");
    json_t *got = cat_node(store(c), node);
    const json_t *svc = json_object_get(req, "Service"), *chk;
    bool ok = true;
    size_t i;

    if (got == NULL || strcmp(jstr(json_object_get(got, "Node"), "Address"),
                              jstr(req, "Address")) != 0)
        ok = httpd_acl_require(c, ACL_RES_NODE, node, ACL_WRITE);
    if (ok && json_is_object(svc))
        ok = httpd_acl_require(c, ACL_RES_SERVICE, jstr(svc, "Service"),
                               ACL_WRITE);
    if (ok && json_is_object(json_object_get(req, "Check")))
        ok = may_check(c, got, svc, node, json_object_get(req, "Check"));
    json_array_foreach(json_object_get(req, "Checks"), i, chk) {
        if (ok)
            ok = may_check(c, got, svc, node, chk);
    }
    json_decref(got);
    return ok;
}

static bool may_deregister(struct httpd_ctx *c, const json_t *req)
{
    const char *node = jstr(req, "Node"), *sid = jstr(req, "ServiceID");
    const char *cid = jstr(req, "CheckID");
    json_t *got, *checks, *chk;
    bool ok;
    size_t i;

    if (sid[0] != '\0') {
        got = cat_node(store(c), node);
        ok = httpd_acl_require(c, ACL_RES_SERVICE, svc_name(got, NULL, sid),
                               ACL_WRITE);
        json_decref(got);
        return ok;
    }
    if (cid[0] != '\0') {
        checks = cat_node_checks(store(c), node);
        json_array_foreach(checks, i, chk) {
            if (strcmp(jstr(chk, "CheckID"), cid) == 0 &&
                jstr(chk, "ServiceName")[0] != '\0') {
                ok = httpd_acl_require(c, ACL_RES_SERVICE,
                                       jstr(chk, "ServiceName"), ACL_WRITE);
                json_decref(checks);
                return ok;
            }
        }
        json_decref(checks);
    }
    return httpd_acl_require(c, ACL_RES_NODE, node, ACL_WRITE);
}

static void catalog_write(struct httpd_ctx *c, const char *op,
                          const char *gotype)
{
    json_t *req = decode_body(c, gotype);
    const char *dc;
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;
    int rc;

    if (req == NULL)
        return;
    dc = json_string_value(json_object_get(req, "Datacenter"));
    if (dc != NULL && dc[0] != '\0' &&
        strcmp(dc, c->a->cfg.datacenter) != 0) {
        json_decref(req);
        httpd_error(c, 500, "no_path", "No path to datacenter");
        return;
    }
    if (!(strcmp(op, "register") == 0 ? may_register(c, req)
                                      : may_deregister(c, req))) {
        json_decref(req);
        return;
    }
    err[0] = '\0';
    rc = fsm_encode_catalog(op, req, raft_malloc, &buf, &len, err);
    json_decref(req);
    if (rc != 0) {
        rejected(c, rc, err[0] != '\0' ? err : err_str(rc));
        return;
    }
    httpd_apply(c, buf, len, write_done);
}

void httpd_catalog_register(struct httpd_ctx *c)
{
    catalog_write(c, "register", "structs.RegisterRequest");
}

void httpd_catalog_deregister(struct httpd_ctx *c)
{
    catalog_write(c, "deregister", "structs.DeregisterRequest");
}

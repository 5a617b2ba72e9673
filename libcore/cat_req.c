/* cat_req.c - catalog requests and record shapes: decoding Consul's
 * RegisterRequest/DeregisterRequest JSON into canonical records, and
 * checking records read back from a snapshot.
 *
 * Layer: store (uses util, codec: jansson). Thread: any (no state).
 * Owns: nothing beyond the records it returns.
 * Tests: t/unit/check_cat.c
 *
 * Field names match case-insensitively, an exact match first, and null
 * stands for an absent field, as Go's encoding/json decodes them; other
 * fields are ignored. A wrong type is Consul's "Request decode failed:
 * json: cannot unmarshal ..." message; semantic errors are its RPC
 * messages ("Must provide node", ...). Records are built in one fixed
 * field order so that equal states serialize to equal bytes.
 */
#include "cat_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "json_util.h"

/* Consul's metadata limits (agent/structs, validateMetadata). */
#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512

/* ---- decoding helpers ---- */

struct rd {
    const char *pfx; /* Go path of the struct being decoded */
    char *err;
};

static int bad_type(const struct rd *rd, const json_t *v, const char *name,
                    const char *gotype)
{
    return err_set(rd->err, ERR_INVAL,
                   "Request decode failed: json: cannot unmarshal %s into "
                   "Go struct field %s.%s of type %s",
                   json_go_kind(v), rd->pfx, name, gotype);
}

/* The member called name, case-insensitively; NULL if absent or null. */
static json_t *member(const json_t *o, const char *name)
{
    const char *k;
    json_t *v, *hit = NULL;

    if ((v = json_object_get(o, name)) != NULL)
        return json_is_null(v) ? NULL : v;
    json_object_foreach((json_t *)o, k, v) {
        if (strcasecmp(k, name) == 0)
            hit = v;
    }
    return hit != NULL && !json_is_null(hit) ? hit : NULL;
}

static bool has_nul(const json_t *str)
{
    return strlen(json_string_value(str)) != json_string_length(str);
}

static int rd_str(const struct rd *rd, const json_t *o, const char *name,
                  const char **out)
{
    json_t *v = member(o, name);

    *out = "";
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return bad_type(rd, v, name, "string");
    if (has_nul(v))
        return err_set(rd->err, ERR_INVAL, "Request decode failed: %s.%s "
                       "contains a NUL character", rd->pfx, name);
    *out = json_string_value(v);
    return 0;
}

static int rd_int(const struct rd *rd, const json_t *o, const char *name,
                  json_int_t *out)
{
    json_t *v = member(o, name);

    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return bad_type(rd, v, name, "int");
    *out = json_integer_value(v);
    return 0;
}

static int rd_bool(const struct rd *rd, const json_t *o, const char *name,
                   bool *out)
{
    json_t *v = member(o, name);

    *out = false;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return bad_type(rd, v, name, "bool");
    *out = json_is_true(v);
    return 0;
}

/* map[string]string: a new object, {} when absent. */
static int rd_strmap(const struct rd *rd, const json_t *o, const char *name,
                     json_t **out)
{
    json_t *v = member(o, name), *e;
    const char *k;

    *out = NULL;
    if (v != NULL && !json_is_object(v))
        return bad_type(rd, v, name, "map[string]string");
    if (v != NULL) {
        json_object_foreach(v, k, e) {
            if (!json_is_string(e) || has_nul(e))
                return bad_type(rd, e, name, "map[string]string");
        }
    }
    *out = v != NULL ? json_deep_copy(v) : json_object();
    return *out == NULL ? err_set(rd->err, ERR_NOMEM, "out of memory") : 0;
}

/* []string: a new array, [] when absent. */
static int rd_strarr(const struct rd *rd, const json_t *o, const char *name,
                     json_t **out)
{
    json_t *v = member(o, name), *e;
    size_t i;

    *out = NULL;
    if (v != NULL && !json_is_array(v))
        return bad_type(rd, v, name, "[]string");
    if (v != NULL) {
        json_array_foreach(v, i, e) {
            if (!json_is_string(e) || has_nul(e))
                return bad_type(rd, e, name, "[]string");
        }
    }
    *out = v != NULL ? json_deep_copy(v) : json_array();
    return *out == NULL ? err_set(rd->err, ERR_NOMEM, "out of memory") : 0;
}

/* ---- shared validation ---- */

bool cat_status_valid(const char *st)
{
    return strcmp(st, "passing") == 0 || strcmp(st, "warning") == 0 ||
           strcmp(st, "critical") == 0;
}

static bool is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* go-uuid's ParseUUID, with its messages. */
int cat_check_uuid(const char *id, char *err)
{
    size_t i;

    if (strlen(id) != 36)
        return err_set(err, ERR_INVAL,
                       "Bad node ID: uuid string is wrong length");
    for (i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? id[i] != '-' : !is_hex((unsigned char)id[i]))
            return err_set(err, ERR_INVAL,
                           "Bad node ID: uuid is improperly formatted");
    }
    return 0;
}

static bool meta_key_ok(const char *k)
{
    for (; *k != '\0'; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
              (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
            return false;
    return true;
}

/* Consul's validateMetadata for service meta; why gets the reason. */
static int check_meta(const json_t *meta, const char *kind, char *why,
                      size_t n)
{
    const char *k, *reason;
    json_t *v;
    char qk[ERR_QUOTE_MAX + 4], qv[ERR_QUOTE_MAX + 4];

    if (json_object_size(meta) > META_MAX_PAIRS) {
        snprintf(why, n, "Node metadata cannot contain more than %d "
                 "key/value pairs", META_MAX_PAIRS);
        return -1;
    }
    json_object_foreach((json_t *)meta, k, v) {
        reason = NULL;
        if (*k == '\0')
            reason = "Key cannot be blank";
        else if (!meta_key_ok(k))
            reason = "Key contains invalid characters";
        else if (strlen(k) > META_KEY_MAX)
            reason = "Key is too long (limit: 128 characters)";
        else if (strncmp(k, "consul-", 7) == 0 &&
                 !(strcmp(kind, "mesh-gateway") == 0 &&
                   strcmp(k, "consul-wan-federation") == 0))
            reason = "Key prefix 'consul-' is reserved for internal use";
        else if (json_string_length(v) > META_VALUE_MAX)
            reason = "Value is too long (limit: 512 characters)";
        if (reason != NULL) {
            snprintf(why, n, "Couldn't load metadata pair ('%s', '%s'): %s",
                     err_quote(qk, sizeof(qk), k),
                     err_quote(qv, sizeof(qv), json_string_value(v)),
                     reason);
            return -1;
        }
    }
    return 0;
}

/* ipaddr.IsAny */
static bool is_any_addr(const char *a)
{
    return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
           strcmp(a, "[::]") == 0;
}

const char *cat_str(const json_t *rec, const char *field)
{
    const char *v = json_string_value(json_object_get(rec, field));

    return v != NULL ? v : "";
}

/* Consul's CheckType.Type(), from the definition's fields. */
static const char *check_type(const json_t *def)
{
    static const struct {
        const char *field, *type;
    } kinds[] = {
        {"GRPC", "grpc"}, {"HTTP", "http"}, {"H2PING", "h2ping"},
        {"TTL", "ttl"}, {"TCP", "tcp"}, {"UDP", "udp"},
        {"AliasNode", "alias"}, {"AliasService", "alias"},
        {"DockerContainerID", "docker"}, {"ScriptArgs", "script"},
        {"OSService", "os_service"},
    };
    size_t i;
    json_t *v;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        v = member(def, kinds[i].field);
        if ((json_is_string(v) && json_string_length(v) > 0) ||
            (json_is_array(v) && json_array_size(v) > 0))
            return kinds[i].type;
    }
    return "";
}

/* ---- register ----
 *
 * As Consul does, the whole body is decoded first (so any type error
 * is reported before any semantic one), then checked in Consul's order:
 * node, address, node ID, service, checks. */

struct node_fields {
    const char *id, *node, *addr, *dc;
    json_t *tagged, *meta;
    bool skip;
};

struct svc_fields {
    const char *id, *name, *addr, *kind;
    json_t *tags, *tagged, *meta, *weights;
    json_int_t port;
    bool eto;
};

struct chk_fields {
    const char *node, *id, *name, *status, *notes, *output, *svc_id,
        *type, *interval, *timeout;
    const json_t *def;
};

struct decoded {
    struct node_fields n;
    struct svc_fields s;
    bool has_svc;
    struct chk_fields *c;
    size_t nc;
};

static void decoded_release(struct decoded *d)
{
    json_decref(d->n.tagged);
    json_decref(d->n.meta);
    json_decref(d->s.tags);
    json_decref(d->s.tagged);
    json_decref(d->s.meta);
    json_decref(d->s.weights);
    free(d->c);
}

static int decode_node(const json_t *req, struct node_fields *f, char *err)
{
    struct rd rd = {"RegisterRequest", err};
    int rc;

    if ((rc = rd_str(&rd, req, "Node", &f->node)) != 0 ||
        (rc = rd_str(&rd, req, "ID", &f->id)) != 0 ||
        (rc = rd_str(&rd, req, "Address", &f->addr)) != 0 ||
        (rc = rd_str(&rd, req, "Datacenter", &f->dc)) != 0 ||
        (rc = rd_bool(&rd, req, "SkipNodeUpdate", &f->skip)) != 0 ||
        (rc = rd_strmap(&rd, req, "TaggedAddresses", &f->tagged)) != 0)
        return rc;
    return rd_strmap(&rd, req, "NodeMeta", &f->meta);
}

/* Service TaggedAddresses: map[string]structs.ServiceAddress. */
static int rd_svc_addrs(const struct rd *rd, const json_t *o, json_t **out)
{
    struct rd sub = {"RegisterRequest.Service.TaggedAddresses", rd->err};
    json_t *v = member(o, "TaggedAddresses"), *e, *a;
    const char *k, *addr;
    json_int_t port;
    int rc;

    if (v != NULL && !json_is_object(v))
        return bad_type(rd, v, "TaggedAddresses",
                        "map[string]structs.ServiceAddress");
    if ((*out = json_object()) == NULL)
        return err_set(rd->err, ERR_NOMEM, "out of memory");
    if (v == NULL)
        return 0;
    json_object_foreach(v, k, e) {
        if (!json_is_object(e))
            return bad_type(rd, e, "TaggedAddresses",
                            "structs.ServiceAddress");
        if ((rc = rd_str(&sub, e, "Address", &addr)) != 0 ||
            (rc = rd_int(&sub, e, "Port", &port)) != 0)
            return rc;
        a = json_pack("{s:s, s:I}", "Address", addr, "Port", port);
        if (a == NULL || json_object_set_new(*out, k, a) != 0)
            return err_set(rd->err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int rd_weights(const struct rd *rd, const json_t *o, json_t **out)
{
    struct rd sub = {"RegisterRequest.Service.Weights", rd->err};
    json_t *v = member(o, "Weights");
    json_int_t pass = 1, warn = 1;
    int rc;

    *out = NULL;
    if (v != NULL && !json_is_object(v))
        return bad_type(rd, v, "Weights", "structs.Weights");
    if (v != NULL && ((rc = rd_int(&sub, v, "Passing", &pass)) != 0 ||
                      (rc = rd_int(&sub, v, "Warning", &warn)) != 0))
        return rc;
    *out = json_pack("{s:I, s:I}", "Passing", pass, "Warning", warn);
    return *out == NULL ? err_set(rd->err, ERR_NOMEM, "out of memory") : 0;
}

static int decode_svc(const json_t *req, struct decoded *d, char *err)
{
    struct rd rd = {"RegisterRequest.Service", err};
    json_t *v = member(req, "Service");
    struct svc_fields *f = &d->s;
    int rc;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return bad_type(&(struct rd){"RegisterRequest", err}, v, "Service",
                        "structs.NodeService");
    d->has_svc = true;
    if ((rc = rd_str(&rd, v, "ID", &f->id)) != 0 ||
        (rc = rd_str(&rd, v, "Service", &f->name)) != 0 ||
        (rc = rd_str(&rd, v, "Address", &f->addr)) != 0 ||
        (rc = rd_str(&rd, v, "Kind", &f->kind)) != 0 ||
        (rc = rd_int(&rd, v, "Port", &f->port)) != 0 ||
        (rc = rd_bool(&rd, v, "EnableTagOverride", &f->eto)) != 0 ||
        (rc = rd_strarr(&rd, v, "Tags", &f->tags)) != 0 ||
        (rc = rd_svc_addrs(&rd, v, &f->tagged)) != 0 ||
        (rc = rd_strmap(&rd, v, "Meta", &f->meta)) != 0)
        return rc;
    return rd_weights(&rd, v, &f->weights);
}

static int decode_chk(const json_t *v, struct chk_fields *f, char *err)
{
    struct rd rd = {"RegisterRequest.Checks", err};
    int rc;

    if (!json_is_object(v))
        return bad_type(&(struct rd){"RegisterRequest", err}, v, "Checks",
                        "structs.HealthCheck");
    if ((rc = rd_str(&rd, v, "Node", &f->node)) != 0 ||
        (rc = rd_str(&rd, v, "CheckID", &f->id)) != 0 ||
        (rc = rd_str(&rd, v, "Name", &f->name)) != 0 ||
        (rc = rd_str(&rd, v, "Status", &f->status)) != 0 ||
        (rc = rd_str(&rd, v, "Notes", &f->notes)) != 0 ||
        (rc = rd_str(&rd, v, "Output", &f->output)) != 0 ||
        (rc = rd_str(&rd, v, "ServiceID", &f->svc_id)) != 0 ||
        (rc = rd_str(&rd, v, "Type", &f->type)) != 0 ||
        (rc = rd_str(&rd, v, "Interval", &f->interval)) != 0 ||
        (rc = rd_str(&rd, v, "Timeout", &f->timeout)) != 0)
        return rc;
    f->def = member(v, "Definition");
    if (f->def != NULL && !json_is_object(f->def))
        return bad_type(&rd, f->def, "Definition",
                        "structs.HealthCheckDefinition");
    return 0;
}

/* "Checks" then "Check", the order Consul applies them in; null
 * elements are skipped. */
static int decode_chks(const json_t *req, struct decoded *d, char *err)
{
    json_t *arr = member(req, "Checks"), *one = member(req, "Check"), *v;
    size_t i, n, na;
    int rc;

    if (arr != NULL && !json_is_array(arr))
        return bad_type(&(struct rd){"RegisterRequest", err}, arr, "Checks",
                        "structs.HealthChecks");
    na = arr != NULL ? json_array_size(arr) : 0;
    if ((n = na + (one != NULL)) == 0)
        return 0;
    if ((d->c = calloc(n, sizeof(*d->c))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        v = i < na ? json_array_get(arr, i) : one;
        if (!json_is_null(v) && (rc = decode_chk(v, &d->c[d->nc++], err)))
            return rc;
    }
    return 0;
}

static int check_node(const struct node_fields *f, char *err)
{
    if (*f->node == '\0')
        return err_set(err, ERR_INVAL, "Must provide node");
    if (*f->addr == '\0' && !f->skip)
        return err_set(err, ERR_INVAL, "Must provide address if "
                       "SkipNodeUpdate is not set");
    return *f->id != '\0' ? cat_check_uuid(f->id, err) : 0;
}

static int check_svc(struct svc_fields *f, const char *node, char *err)
{
    char why[ERR_LEN], qn[ERR_QUOTE_MAX + 4], qs[ERR_QUOTE_MAX + 4];

    if (*f->id == '\0')
        f->id = f->name;
    if (*f->name == '\0')
        return err_set(err, ERR_INVAL, *f->id != '\0'
                       ? "Must provide service name (Service.Service) "
                         "when service ID is provided"
                       : "Must provide service name");
    if (is_any_addr(f->addr))
        return err_set(err, ERR_INVAL, "Invalid service address");
    if (check_meta(f->meta, f->kind, why, sizeof(why)) != 0)
        return err_set(err, ERR_INVAL, "failed inserting service: Invalid "
                       "Service Meta for node %s and serviceID %s: %s",
                       err_quote(qn, sizeof(qn), node),
                       err_quote(qs, sizeof(qs), f->id), why);
    return 0;
}

static int check_chk(struct chk_fields *f, const char *node, char *err)
{
    char q1[ERR_QUOTE_MAX + 4], q2[ERR_QUOTE_MAX + 4];

    if (*f->node == '\0')
        f->node = node;
    if (*f->id == '\0')
        f->id = f->name;
    if (strcasecmp(f->node, node) != 0)
        return err_set(err, ERR_INVAL, "check node \"%s\" does not match "
                       "node \"%s\"", err_quote(q1, sizeof(q1), f->node),
                       err_quote(q2, sizeof(q2), node));
    if (*f->id == '\0')
        return err_set(err, ERR_INVAL, "failed inserting check on node "
                       "\"%s\": Must provide check ID or name",
                       err_quote(q1, sizeof(q1), node));
    if (*f->status == '\0')
        f->status = "critical";
    if (!cat_status_valid(f->status))
        return err_set(err, ERR_INVAL, "Bad check status");
    if (*f->type == '\0' && f->def != NULL)
        f->type = check_type(f->def);
    return 0;
}

static json_t *build_node(const struct node_fields *f, const char *dc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:i, s:i}", "ID", f->id,
                     "Node", f->node, "Address", f->addr, "Datacenter",
                     *f->dc != '\0' ? f->dc : dc, "TaggedAddresses",
                     f->tagged, "Meta", f->meta, "CreateIndex", 0,
                     "ModifyIndex", 0);
}

static json_t *build_svc(const struct svc_fields *f)
{
    return json_pack("{s:s, s:s, s:O, s:s, s:O, s:O, s:I, s:O, s:b, s:s, "
                     "s:i, s:i}", "ID", f->id, "Service", f->name, "Tags",
                     f->tags, "Address", f->addr, "TaggedAddresses",
                     f->tagged, "Meta", f->meta, "Port", f->port, "Weights",
                     f->weights, "EnableTagOverride", (int)f->eto, "Kind",
                     f->kind, "CreateIndex", 0, "ModifyIndex", 0);
}

/* ServiceName and ServiceTags are the store's to fill in. */
static json_t *build_chk(const struct chk_fields *f)
{
    json_t *d = f->def != NULL ? json_deep_copy(f->def) : json_object(), *c;

    c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:s, "
                  "s:s, s:O, s:i, s:i}", "Node", f->node, "CheckID", f->id,
                  "Name", f->name, "Status", f->status, "Notes", f->notes,
                  "Output", f->output, "ServiceID", f->svc_id,
                  "ServiceName", "", "ServiceTags", "Type", f->type,
                  "Interval", f->interval, "Timeout", f->timeout,
                  "Definition", d, "CreateIndex", 0, "ModifyIndex", 0);
    json_decref(d);
    return c;
}

static int check_all(struct decoded *d, char *err)
{
    size_t i;
    int rc;

    if ((rc = check_node(&d->n, err)) != 0)
        return rc;
    if (d->has_svc && (rc = check_svc(&d->s, d->n.node, err)) != 0)
        return rc;
    for (i = 0; i < d->nc; i++)
        if ((rc = check_chk(&d->c[i], d->n.node, err)) != 0)
            return rc;
    return 0;
}

static int build_all(const struct decoded *d, const char *dc,
                     struct cat_reg *r, char *err)
{
    size_t i;

    r->skip_node_update = d->n.skip;
    if ((r->node = build_node(&d->n, dc)) == NULL ||
        (d->has_svc && (r->svc = build_svc(&d->s)) == NULL))
        return err_set(err, ERR_NOMEM, "out of memory");
    if (d->nc > 0 && (r->chks = calloc(d->nc, sizeof(*r->chks))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < d->nc; i++, r->nchks++)
        if ((r->chks[i] = build_chk(&d->c[i])) == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

void cat_reg_release(struct cat_reg *r)
{
    size_t i;

    json_decref(r->node);
    json_decref(r->svc);
    for (i = 0; i < r->nchks; i++)
        json_decref(r->chks[i]);
    free(r->chks);
    memset(r, 0, sizeof(*r));
}

int cat_parse_register(const json_t *req, const char *dc,
                       struct cat_reg *r, char *err)
{
    struct decoded d;
    int rc;

    memset(r, 0, sizeof(*r));
    memset(&d, 0, sizeof(d));
    if (!json_is_object(req))
        return err_set(err, ERR_INVAL, "Request decode failed: json: cannot "
                       "unmarshal %s into Go value of type "
                       "structs.RegisterRequest",
                       req != NULL ? json_go_kind(req) : "null");
    if ((rc = decode_node(req, &d.n, err)) != 0 ||
        (rc = decode_svc(req, &d, err)) != 0 ||
        (rc = decode_chks(req, &d, err)) != 0 ||
        (rc = check_all(&d, err)) != 0 || (rc = build_all(&d, dc, r, err)))
        cat_reg_release(r);
    decoded_release(&d);
    return rc;
}

int cat_parse_deregister(const json_t *req, struct cat_dereg *d, char *err)
{
    struct rd rd = {"DeregisterRequest", err};
    int rc;

    memset(d, 0, sizeof(*d));
    if (!json_is_object(req))
        return err_set(err, ERR_INVAL, "Request decode failed: json: cannot "
                       "unmarshal %s into Go value of type "
                       "structs.DeregisterRequest",
                       req != NULL ? json_go_kind(req) : "null");
    if ((rc = rd_str(&rd, req, "Node", &d->node)) != 0 ||
        (rc = rd_str(&rd, req, "ServiceID", &d->svc_id)) != 0 ||
        (rc = rd_str(&rd, req, "CheckID", &d->check_id)) != 0)
        return rc;
    if (*d->node == '\0')
        return err_set(err, ERR_INVAL, "Must provide node");
    return 0;
}

int cat_check_register(const json_t *req, char *err)
{
    struct cat_reg r;
    int rc = cat_parse_register(req, "", &r, err);

    if (rc == 0)
        cat_reg_release(&r);
    return rc;
}

int cat_check_deregister(const json_t *req, char *err)
{
    struct cat_dereg d;

    return cat_parse_deregister(req, &d, err);
}

/* ---- record helpers ---- */

json_t *cat_with_indexes(const json_t *rec, uint64_t create,
                         uint64_t modify)
{
    json_t *c = json_copy((json_t *)rec);

    if (c == NULL ||
        json_object_set_new(c, "CreateIndex",
                            json_integer((json_int_t)create)) != 0 ||
        json_object_set_new(c, "ModifyIndex",
                            json_integer((json_int_t)modify)) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

bool cat_same(const json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;

    if (json_object_size(a) != json_object_size(b))
        return false;
    json_object_foreach((json_t *)a, k, v) {
        if (strcmp(k, "CreateIndex") == 0 || strcmp(k, "ModifyIndex") == 0)
            continue;
        if (!json_equal(v, json_object_get(b, k)))
            return false;
    }
    return true;
}

/* ---- stored shapes, for restore ---- */

enum ftype { F_STR, F_INT, F_BOOL, F_IDX, F_STRMAP, F_STRARR, F_ADDRS,
             F_WEIGHTS, F_OBJ };

struct field {
    const char *name;
    enum ftype type;
};

static const struct field node_shape[] = {
    {"ID", F_STR}, {"Node", F_STR}, {"Address", F_STR},
    {"Datacenter", F_STR}, {"TaggedAddresses", F_STRMAP},
    {"Meta", F_STRMAP}, {"CreateIndex", F_IDX}, {"ModifyIndex", F_IDX},
    {NULL, F_STR},
};
static const struct field svc_shape[] = {
    {"ID", F_STR}, {"Service", F_STR}, {"Tags", F_STRARR},
    {"Address", F_STR}, {"TaggedAddresses", F_ADDRS}, {"Meta", F_STRMAP},
    {"Port", F_INT}, {"Weights", F_WEIGHTS}, {"EnableTagOverride", F_BOOL},
    {"Kind", F_STR}, {"CreateIndex", F_IDX}, {"ModifyIndex", F_IDX},
    {NULL, F_STR},
};
static const struct field chk_shape[] = {
    {"Node", F_STR}, {"CheckID", F_STR}, {"Name", F_STR},
    {"Status", F_STR}, {"Notes", F_STR}, {"Output", F_STR},
    {"ServiceID", F_STR}, {"ServiceName", F_STR}, {"ServiceTags", F_STRARR},
    {"Type", F_STR}, {"Interval", F_STR}, {"Timeout", F_STR},
    {"Definition", F_OBJ}, {"CreateIndex", F_IDX}, {"ModifyIndex", F_IDX},
    {NULL, F_STR},
};

static bool is_str(const json_t *v)
{
    return json_is_string(v) && !has_nul(v);
}

static bool all_of(const json_t *c, bool (*ok)(const json_t *))
{
    const char *k;
    size_t i;
    json_t *v;

    if (json_is_object(c)) {
        json_object_foreach((json_t *)c, k, v) {
            if (!ok(v))
                return false;
        }
        return true;
    }
    json_array_foreach(c, i, v) {
        if (!ok(v))
            return false;
    }
    return true;
}

static bool is_int(const json_t *v) { return json_is_integer(v); }

static bool is_addr(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 2 &&
           is_str(json_object_get(v, "Address")) &&
           json_is_integer(json_object_get(v, "Port"));
}

static bool field_ok(enum ftype t, const json_t *v)
{
    switch (t) {
    case F_STR: return is_str(v);
    case F_INT: return json_is_integer(v);
    case F_BOOL: return json_is_boolean(v);
    case F_IDX: return json_is_integer(v) && json_integer_value(v) >= 1;
    case F_STRMAP: return json_is_object(v) && all_of(v, is_str);
    case F_STRARR: return json_is_array(v) && all_of(v, is_str);
    case F_ADDRS: return json_is_object(v) && all_of(v, is_addr);
    case F_WEIGHTS:
        return json_is_object(v) && json_object_size(v) == 2 &&
               all_of(v, is_int) && json_object_get(v, "Passing") &&
               json_object_get(v, "Warning");
    default: return json_is_object(v);
    }
}

/* Exactly the listed fields, of their types, rebuilt in list order. */
static int canon(const struct field *fs, const json_t *rec, json_t **out,
                 char *err)
{
    json_t *v;
    size_t n = 0;

    if (!json_is_object(rec))
        return err_set(err, ERR_INVAL, "record is not an object");
    if ((*out = json_object()) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (; fs->name != NULL; fs++, n++) {
        v = json_object_get(rec, fs->name);
        if (v == NULL || !field_ok(fs->type, v))
            return err_set(err, ERR_INVAL, "record field '%s' is %s",
                           fs->name, v == NULL ? "missing" : "malformed");
        if (json_object_set_new(*out, fs->name, json_deep_copy(v)) != 0)
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (json_object_size(rec) != n)
        return err_set(err, ERR_INVAL, "record has unknown fields");
    return 0;
}

static int check_values(enum cat_table t, const json_t *r, char *err)
{
    char why[ERR_LEN];

    if (cat_rec_index(r, "CreateIndex") > cat_rec_index(r, "ModifyIndex"))
        return err_set(err, ERR_INVAL, "create index above modify index");
    switch (t) {
    case CAT_NODES:
        if (*cat_str(r, "Node") == '\0')
            return err_set(err, ERR_INVAL, "node without a name");
        if (*cat_str(r, "ID") != '\0')
            return cat_check_uuid(cat_str(r, "ID"), err);
        return 0;
    case CAT_SERVICES:
        if (*cat_str(r, "ID") == '\0' || *cat_str(r, "Service") == '\0')
            return err_set(err, ERR_INVAL, "service without ID or name");
        if (is_any_addr(cat_str(r, "Address")) ||
            check_meta(json_object_get(r, "Meta"), cat_str(r, "Kind"), why,
                       sizeof(why)) != 0)
            return err_set(err, ERR_INVAL, "invalid service address or meta");
        return 0;
    default:
        if (*cat_str(r, "CheckID") == '\0')
            return err_set(err, ERR_INVAL, "check without an ID");
        if (!cat_status_valid(cat_str(r, "Status")))
            return err_set(err, ERR_INVAL, "bad check status");
        return 0;
    }
}

int cat_canon_record(enum cat_table t, const json_t *rec, json_t **out,
                     char *err)
{
    const struct field *fs = t == CAT_NODES      ? node_shape
                             : t == CAT_SERVICES ? svc_shape
                                                 : chk_shape;
    int rc = canon(fs, rec, out, err);

    if (rc == 0)
        rc = check_values(t, *out, err);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

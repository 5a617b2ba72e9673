/* httpd_acl_obj.c - /v1/acl/policy[/...], /v1/acl/policies,
 * /v1/acl/role[/...], /v1/acl/roles, and the helpers the ACL endpoints
 * share (httpd_acl_int.h).
 *
 * Layer: http. Thread: loop only.
 * Behaviour follows Consul's agent/acl_endpoint.go and the ACL RPCs:
 * decode errors and URL/body mismatches are 400, refusals of the ACL
 * layer 500 with Consul's message, unknown objects on read 404
 * "Requested policy does not exist: ACL not found", on delete 404
 * "Cannot find policy to delete". Reads block on their table's index.
 * Tests: t/t3*.sh
 */
#include "httpd_acl_int.h"

#include <inttypes.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "opt.h"
#include "util_rand.h"
#include "json_util.h"

/* ---- body decoding ---- */

const struct httpd_acl_field httpd_acl_link_fields[] = {
    {"ID", HTTPD_ACL_F_STR, NULL, "string"},
    {"Name", HTTPD_ACL_F_STR, NULL, "string"},
    {NULL, 0, NULL, NULL},
};

const struct httpd_acl_field httpd_acl_svcid_fields[] = {
    {"ServiceName", HTTPD_ACL_F_STR, NULL, "string"},
    {"Datacenters", HTTPD_ACL_F_STRS, NULL, "[]string"},
    {NULL, 0, NULL, NULL},
};

const struct httpd_acl_field httpd_acl_nodeid_fields[] = {
    {"NodeName", HTTPD_ACL_F_STR, NULL, "string"},
    {"Datacenter", HTTPD_ACL_F_STR, NULL, "string"},
    {NULL, 0, NULL, NULL},
};

static int type_error(const json_t *v, const char *path,
                      const struct httpd_acl_field *f, char *err)
{
    return err_set(err, ERR_INVAL, "json: cannot unmarshal %s into Go "
                   "struct field %s.%s of type %s", json_go_kind(v), path,
                   f->name, f->gotype);
}

static int normalize(const json_t *in, const struct httpd_acl_field *fs,
                     const char *path, json_t **out, char *err);

static int norm_value(const json_t *v, const struct httpd_acl_field *f,
                      const char *path, json_t **out, char *err)
{
    char sub[128];
    size_t i;
    json_t *e, *n;

    switch (f->kind) {
    case HTTPD_ACL_F_STR:
        if (!json_is_string(v))
            return type_error(v, path, f, err);
        break;
    case HTTPD_ACL_F_BOOL:
        if (!json_is_boolean(v))
            return type_error(v, path, f, err);
        break;
    case HTTPD_ACL_F_UINT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return type_error(v, path, f, err);
        break;
    case HTTPD_ACL_F_DUR:
        if (!json_is_string(v) && !json_is_number(v))
            return type_error(v, path, f, err);
        break;
    case HTTPD_ACL_F_STRS:
        if (!json_is_array(v))
            return type_error(v, path, f, err);
        json_array_foreach(v, i, e)
            if (!json_is_string(e))
                return type_error(e, path, f, err);
        break;
    case HTTPD_ACL_F_OBJS:
        if (!json_is_array(v))
            return type_error(v, path, f, err);
        snprintf(sub, sizeof(sub), "%s.%s", path, f->name);
        *out = json_array();
        json_array_foreach(v, i, e) {
            if (!json_is_object(e) ||
                normalize(e, f->sub, sub, &n, err) != 0) {
                json_decref(*out);
                return json_is_object(e) ? ERR_INVAL
                                         : type_error(e, path, f, err);
            }
            json_array_append_new(*out, n);
        }
        return 0;
    }
    *out = json_deep_copy(v);
    return 0;
}

static int normalize(const json_t *in, const struct httpd_acl_field *fs,
                     const char *path, json_t **out, char *err)
{
    const char *key;
    json_t *v, *n = NULL;

    *out = json_object();
    json_object_foreach((json_t *)in, key, v) {
        const struct httpd_acl_field *f = fs;

        while (f->name != NULL && strcasecmp(f->name, key) != 0)
            f++;
        if (f->name == NULL || json_is_null(v))
            continue;
        if (norm_value(v, f, path, &n, err) != 0) {
            json_decref(*out);
            *out = NULL;
            return ERR_INVAL;
        }
        json_object_set_new(*out, f->name, n);
    }
    return 0;
}

static json_t *load_body(const char *b, size_t n, const char *gostruct,
                         char *err)
{
    size_t i = 0;
    json_error_t jerr;
    json_t *j;

    if (b == NULL)
        n = 0;
    while (i < n && strchr(" \t\r\n", b[i]) != NULL)
        i++;
    if (i == n)
        return json_object();
    j = json_loadb(b, n, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (j == NULL)
        err_set(err, ERR_INVAL, "%s", jerr.text);
    else if (json_is_null(j))
        return j;
    else if (!json_is_object(j)) {
        err_set(err, ERR_INVAL, "json: cannot unmarshal %s into Go value "
                "of type structs.%s", json_go_kind(j), gostruct);
        json_decref(j);
        return NULL;
    }
    return j;
}

int httpd_acl_body(const char *b, size_t n,
                   const struct httpd_acl_field *fields,
                   const char *gostruct, json_t **out, char *err)
{
    json_t *raw = load_body(b, n, gostruct, err);

    *out = NULL;
    if (raw != NULL && json_is_null(raw)) {
        json_decref(raw);
        *out = json_object();
    } else if (raw != NULL) {
        normalize(raw, fields, gostruct, out, err);
        json_decref(raw);
    }
    return *out != NULL ? 0 : ERR_INVAL;
}

json_t *httpd_acl_decode(struct httpd_ctx *c, const char *what,
                         const struct httpd_acl_field *fields,
                         const char *gostruct)
{
    char err[ERR_LEN] = "", msg[ERR_LEN + 64];
    json_t *out;

    if (httpd_acl_body(c->req->entity.base, c->req->entity.len, fields,
                       gostruct, &out, err) != 0) {
        snprintf(msg, sizeof(msg), "%s decoding failed: %s", what, err);
        httpd_error(c, 400, "bad_request", msg);
    }
    return out;
}

const char *httpd_acl_str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s != NULL ? s : "";
}

/* ---- shared checks ---- */

struct acl_store *httpd_acl_store(struct httpd_ctx *c)
{
    return c->a->fsm.acl;
}

bool httpd_acl_off(struct httpd_ctx *c)
{
    if (c->a->cfg.acl.enabled)
        return false;
    httpd_error(c, 401, "acl_disabled", "ACL support disabled");
    return true;
}

static bool has_id(const json_t *arr, const char *id)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e)
        if (strcmp(httpd_acl_str(e, "ID"), id) == 0)
            return true;
    return false;
}

int httpd_acl_links(struct acl_store *s, const json_t *in, bool roles,
                    json_t **out, char *err)
{
    const char *kind = roles ? "role" : "policy";
    char q[ERR_QUOTE_MAX + 4];
    size_t i;
    json_t *l;

    *out = json_array();
    json_array_foreach(in, i, l) {
        const char *id = httpd_acl_str(l, "ID");
        const char *name = httpd_acl_str(l, "Name");
        const json_t *o;

        if (id[0] != '\0')
            o = roles ? acl_store_role(s, id) : acl_store_policy(s, id);
        else
            o = roles ? acl_store_role_by_name(s, name)
                      : acl_store_policy_by_name(s, name);
        if (o == NULL) {
            json_decref(*out);
            *out = NULL;
            return err_set(err, ERR_NOTFOUND, "No such ACL %s with %s "
                           "\"%s\"", kind, id[0] != '\0' ? "ID" : "name",
                           err_quote(q, sizeof(q), id[0] ? id : name));
        }
        id = httpd_acl_str(o, "ID");
        if (!has_id(*out, id))
            json_array_append_new(*out, json_pack("{s:s,s:s}", "ID", id,
                                  "Name", httpd_acl_str(o, "Name")));
    }
    return 0;
}

/* Consul's validServiceIdentityName / validNodeIdentityName:
 * ^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$, at most 256 bytes. */
static bool identity_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool alnum = (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= '0' && s[i] <= '9');

        if (!alnum && ((s[i] != '-' && s[i] != '_') || i == 0 ||
                       i == n - 1))
            return false;
    }
    return true;
}

static bool has_service(const json_t *arr, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e)
        if (strcmp(httpd_acl_str(e, "ServiceName"), name) == 0)
            return true;
    return false;
}

static int service_ids(const json_t *in, json_t *out, const char *what,
                       bool local, char *err)
{
    char q[ERR_QUOTE_MAX + 4];
    size_t i;
    json_t *e;

    json_array_foreach(in, i, e) {
        const char *name = httpd_acl_str(e, "ServiceName");
        json_t *dcs = json_object_get(e, "Datacenters");

        if (name[0] == '\0')
            return err_set(err, ERR_INVAL, "Service identity is missing "
                           "the service name field on this %s", what);
        err_quote(q, sizeof(q), name);
        if (local && json_array_size(dcs) > 0)
            return err_set(err, ERR_INVAL, "Service identity \"%s\" "
                           "cannot specify a list of datacenters on a "
                           "local token", q);
        if (!identity_name_ok(name))
            return err_set(err, ERR_INVAL, "Service identity \"%s\" has "
                           "an invalid name. Only lowercase alphanumeric "
                           "characters, '-' and '_' are allowed", q);
        if (!has_service(out, name)) /* first one wins */
            json_array_append_new(out, json_pack("{s:s,s:O*}",
                                  "ServiceName", name, "Datacenters",
                                  json_array_size(dcs) ? dcs : NULL));
    }
    return 0;
}

static int node_ids(const json_t *in, json_t *out, const char *what,
                    char *err)
{
    size_t i, j;
    json_t *e, *o;

    json_array_foreach(in, i, e) {
        const char *name = httpd_acl_str(e, "NodeName");
        const char *dc = httpd_acl_str(e, "Datacenter");
        bool dup = false;

        if (name[0] == '\0' || dc[0] == '\0')
            return err_set(err, ERR_INVAL, "Node identity is missing the "
                           "%s field on this %s", name[0] == '\0' ?
                           "node name" : "datacenter", what);
        if (!identity_name_ok(name))
            return err_set(err, ERR_INVAL, "Node identity has an invalid "
                           "name. Only lowercase alphanumeric characters, "
                           "'-' and '_' are allowed");
        json_array_foreach(out, j, o)
            dup |= strcmp(httpd_acl_str(o, "NodeName"), name) == 0 &&
                   strcmp(httpd_acl_str(o, "Datacenter"), dc) == 0;
        if (!dup)
            json_array_append_new(out, json_pack("{s:s,s:s}", "NodeName",
                                  name, "Datacenter", dc));
    }
    return 0;
}

int httpd_acl_identities(const json_t *body, json_t *dst, const char *what,
                         bool local, char *err)
{
    json_t *svc = json_array(), *node = json_array();
    int rc;

    rc = service_ids(json_object_get(body, "ServiceIdentities"), svc, what,
                     local, err);
    if (rc == 0)
        rc = node_ids(json_object_get(body, "NodeIdentities"), node, what,
                      err);
    json_object_set_new(dst, "ServiceIdentities", svc);
    json_object_set_new(dst, "NodeIdentities", node);
    return rc;
}

/* ---- writes ---- */

void httpd_acl_refused(struct httpd_ctx *c, int rc, const char *msg)
{
    char buf[ERR_LEN + 32];

    switch (rc) {
    case ERR_DENIED:
        snprintf(buf, sizeof(buf), "Permission denied: %s", msg);
        httpd_error(c, 403, "permission_denied", buf);
        return;
    case ERR_INVAL:
    case ERR_EXISTS:
    case ERR_NOTFOUND:
    case ERR_CONFLICT:
        httpd_error(c, 500, "rejected", msg);
        return;
    default:
        httpd_error_rc(c, rc, msg);
    }
}

void httpd_acl_write(struct httpd_ctx *c, const char *op, json_t *req,
                     httpd_apply_fn done)
{
    char err[ERR_LEN] = "";
    void *buf = NULL;
    size_t len = 0;
    int rc = req != NULL ? acl_store_check(op, req, err) : ERR_NOMEM;

    if (rc == 0)
        rc = fsm_encode_acl(op, req, raft_malloc, &buf, &len, err);
    json_decref(req);
    if (rc != 0) {
        httpd_acl_refused(c, rc, err[0] != '\0' ? err : err_str(rc));
        return;
    }
    httpd_apply(c, buf, len, done);
}

bool httpd_acl_applied(struct httpd_ctx *c, int rc,
                       const struct fsm_result *res, const char *msg)
{
    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return false;
    }
    if (res->rc != 0) {
        httpd_acl_refused(c, res->rc, res->msg[0] != '\0'
                                          ? res->msg : err_str(res->rc));
        return false;
    }
    return true;
}

void httpd_acl_keep_id(struct httpd_ctx *c, const char *s)
{
    c->data = h2o_strdup(&c->req->pool, s, SIZE_MAX).base;
}

/* ---- policies and roles ---- */

/* The parts of the two object kinds that differ. */
struct objkind {
    const char *what;      /* "policy" */
    const char *gostruct;  /* "ACLPolicy" */
    const char *decoding;  /* "Policy" */
    const char *setop, *delop;
    enum acl_table table;
    const struct httpd_acl_field *fields;
    const char *const *hashed;
    const json_t *(*get)(const struct acl_store *s, const char *id);
    const json_t *(*by_name)(const struct acl_store *s, const char *name);
    json_t *(*view)(const struct acl_store *s, const json_t *o);
    int (*fill)(struct httpd_ctx *c, const json_t *b, json_t *o, char *err);
};

static const struct objkind policy_kind, role_kind;

static json_t *policy_view(const struct acl_store *s, const json_t *o)
{
    (void)s;
    return json_deep_copy(o);
}

static int policy_fill(struct httpd_ctx *c, const json_t *b, json_t *o,
                       char *err)
{
    json_t *dcs = json_object_get(b, "Datacenters");

    (void)c;
    (void)err;
    json_object_set_new(o, "Rules", json_string(httpd_acl_str(b, "Rules")));
    json_object_set_new(o, "Datacenters",
                        dcs != NULL ? json_deep_copy(dcs) : json_array());
    return 0;
}

static int role_fill(struct httpd_ctx *c, const json_t *b, json_t *o,
                     char *err)
{
    json_t *links;
    int rc = httpd_acl_links(httpd_acl_store(c),
                             json_object_get(b, "Policies"), false, &links,
                             err);

    if (rc != 0)
        return rc;
    json_object_set_new(o, "Policies", links);
    return httpd_acl_identities(b, o, "role", false, err);
}

const struct httpd_acl_field httpd_acl_policy_fields[] = {
    {"ID", HTTPD_ACL_F_STR, NULL, "string"},
    {"Name", HTTPD_ACL_F_STR, NULL, "string"},
    {"Description", HTTPD_ACL_F_STR, NULL, "string"},
    {"Rules", HTTPD_ACL_F_STR, NULL, "string"},
    {"Datacenters", HTTPD_ACL_F_STRS, NULL, "[]string"},
    {NULL, 0, NULL, NULL},
};

const struct httpd_acl_field httpd_acl_role_fields[] = {
    {"ID", HTTPD_ACL_F_STR, NULL, "string"},
    {"Name", HTTPD_ACL_F_STR, NULL, "string"},
    {"Description", HTTPD_ACL_F_STR, NULL, "string"},
    {"Policies", HTTPD_ACL_F_OBJS, httpd_acl_link_fields,
     "[]structs.ACLRolePolicyLink"},
    {"ServiceIdentities", HTTPD_ACL_F_OBJS, httpd_acl_svcid_fields,
     "structs.ACLServiceIdentities"},
    {"NodeIdentities", HTTPD_ACL_F_OBJS, httpd_acl_nodeid_fields,
     "structs.ACLNodeIdentities"},
    {NULL, 0, NULL, NULL},
};

static const char *const policy_hashed[] = ACL_POLICY_HASHED;
static const char *const role_hashed[] = ACL_ROLE_HASHED;

static const struct objkind policy_kind = {
    "policy", "ACLPolicy", "Policy", "policy-set", "policy-delete",
    ACL_T_POLICIES, httpd_acl_policy_fields, policy_hashed, acl_store_policy,
    acl_store_policy_by_name, policy_view, policy_fill,
};

static const struct objkind role_kind = {
    "role", "ACLRole", "Role", "role-set", "role-delete", ACL_T_ROLES,
    httpd_acl_role_fields, role_hashed, acl_store_role, acl_store_role_by_name,
    acl_store_role_view, role_fill,
};

/* c->data holds the kind until a write starts; then the written ID,
 * with the kind in this per-request struct. */
struct objreq {
    const struct objkind *k;
    const char *id;
};

static struct objreq *objreq_new(struct httpd_ctx *c,
                                 const struct objkind *k, const char *id)
{
    struct objreq *r = h2o_mem_alloc_pool(&c->req->pool, sizeof(*r));

    r->k = k;
    r->id = h2o_strdup(&c->req->pool, id, SIZE_MAX).base;
    c->data = r;
    return r;
}

static void obj_set_done(struct httpd_ctx *c, int rc,
                         const struct fsm_result *res, const char *msg)
{
    struct objreq *r = c->data;
    struct acl_store *s = httpd_acl_store(c);
    const json_t *o;

    if (!httpd_acl_applied(c, rc, res, msg))
        return;
    o = r->k->get(s, r->id);
    if (o == NULL) {
        httpd_error(c, 500, "internal", "Failed to retrieve the object "
                                        "after insertion");
        return;
    }
    httpd_send_json(c, 200, r->k->view(s, o));
}

/* Create (id NULL) or update one policy/role: PUT /v1/acl/<kind>[/id]. */
static int obj_build(struct httpd_ctx *c, const struct objkind *k,
                     const json_t *b, const char *id, json_t **out,
                     char *err)
{
    json_t *o = json_object();
    int rc;

    json_object_set_new(o, "ID", json_string(id));
    json_object_set_new(o, "Name", json_string(httpd_acl_str(b, "Name")));
    json_object_set_new(o, "Description",
                        json_string(httpd_acl_str(b, "Description")));
    rc = k->fill(c, b, o, err);
    if (rc == 0)
        rc = acl_hash(o, k->hashed, err);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* The ID to write, or -1 after answering. Consul's messages. */
static int obj_id(struct httpd_ctx *c, const struct objkind *k,
                  const json_t *b, const char *url_id, char id[40])
{
    const char *bid = httpd_acl_str(b, "ID");
    char err[ERR_LEN], q[ERR_QUOTE_MAX + 4];

    if (url_id == NULL && bid[0] != '\0' && k == &policy_kind) {
        httpd_error(c, 400, "bad_request", "Cannot specify the ID when "
                                           "creating a new policy");
        return -1;
    }
    if (bid[0] != '\0' && strcmp(bid, url_id != NULL ? url_id : "") != 0) {
        snprintf(err, sizeof(err), "%s ID in URL and payload do not match",
                 k->decoding);
        httpd_error(c, 400, "bad_request", err);
        return -1;
    }
    if (url_id == NULL) {
        if (util_uuid(id, err) == 0)
            return 0;
        httpd_error(c, 500, "internal", err);
        return -1;
    }
    if (!util_uuid_valid(url_id))
        snprintf(err, sizeof(err), "%s ID invalid UUID", k->decoding);
    else if (k->get(httpd_acl_store(c), url_id) == NULL)
        snprintf(err, sizeof(err), "cannot find %s %s", k->what,
                 err_quote(q, sizeof(q), url_id));
    else {
        snprintf(id, 40, "%s", url_id);
        return 0;
    }
    httpd_error(c, 500, "rejected", err);
    return -1;
}

static void obj_put(struct httpd_ctx *c, const struct objkind *k,
                    const char *url_id)
{
    json_t *b = httpd_acl_decode(c, k->decoding, k->fields, k->gostruct);
    json_t *o = NULL;
    char id[40], err[ERR_LEN];
    int rc;

    if (b == NULL)
        return;
    if (obj_id(c, k, b, url_id, id) != 0) {
        json_decref(b);
        return;
    }
    err[0] = '\0';
    rc = obj_build(c, k, b, id, &o, err);
    json_decref(b);
    if (rc != 0) {
        httpd_acl_refused(c, rc, err);
        return;
    }
    objreq_new(c, k, id);
    httpd_acl_write(c, k->setop, json_pack("{s:o}", k == &policy_kind
                                           ? "Policy" : "Role", o),
                    obj_set_done);
}

static void obj_delete_done(struct httpd_ctx *c, int rc,
                            const struct fsm_result *res, const char *msg)
{
    if (httpd_acl_applied(c, rc, res, msg))
        httpd_send_json(c, 200, json_true());
}

static void obj_delete(struct httpd_ctx *c, const struct objkind *k,
                       const char *id)
{
    char msg[64];

    if (k->get(httpd_acl_store(c), id) == NULL) {
        snprintf(msg, sizeof(msg), "Cannot find %s to delete", k->what);
        httpd_error(c, 404, "not_found", msg);
        return;
    }
    objreq_new(c, k, id);
    httpd_acl_write(c, k->delop, json_pack("{s:s}", "ID", id),
                    obj_delete_done);
}

/* ---- reads ---- */

struct objread {
    const struct objkind *k;
    const char *id, *name; /* one of them */
    const char *policy;    /* ?policy= of the role list */
};

static uint64_t obj_index(struct httpd_ctx *c)
{
    const struct objread *r = c->data;

    return acl_store_index(httpd_acl_store(c), r->k->table);
}

static void obj_respond(struct httpd_ctx *c)
{
    const struct objread *r = c->data;
    struct acl_store *s = httpd_acl_store(c);
    const json_t *o = r->id != NULL ? r->k->get(s, r->id)
                                    : r->k->by_name(s, r->name);
    char msg[64];

    httpd_meta_headers(c, obj_index(c));
    if (o == NULL) {
        snprintf(msg, sizeof(msg), "Requested %s does not exist: ACL not "
                 "found", r->k->what);
        httpd_error(c, 404, "not_found", msg);
        return;
    }
    httpd_send_json(c, 200, r->k->view(s, o));
}

static void list_respond(struct httpd_ctx *c)
{
    const struct objread *r = c->data;
    struct acl_store *s = httpd_acl_store(c);
    json_t *arr = r->k == &policy_kind ? acl_store_policy_list(s)
                                       : acl_store_role_list(s, r->policy);

    httpd_meta_headers(c, obj_index(c));
    httpd_send_json(c, 200, arr != NULL ? arr : json_array());
}

static void obj_read(struct httpd_ctx *c, const struct objkind *k,
                     const char *id, const char *name, httpd_respond_fn fn)
{
    struct objread *r;

    if (httpd_read_opts(c) != 0)
        return;
    r = h2o_mem_alloc_pool(&c->req->pool, sizeof(*r));
    r->k = k;
    r->id = id;
    r->name = name;
    r->policy = httpd_q(c, "policy");
    if (r->policy != NULL && r->policy[0] == '\0')
        r->policy = NULL;
    c->data = r;
    httpd_blocking_read(c, obj_index, fn);
}

/* /v1/acl/<kind>[/<id> | /name/<name>] */
static void obj_route(struct httpd_ctx *c, const struct objkind *k)
{
    const char *rest = c->rest;
    char msg[64];

    if (httpd_acl_off(c) ||
        !httpd_acl_require(c, ACL_RES_ACL, NULL,
                           c->method == HTTPD_GET ? ACL_READ : ACL_WRITE))
        return;
    if (c->method == HTTPD_PUT) {
        obj_put(c, k, rest[0] != '\0' ? rest : NULL);
        return;
    }
    if (c->method == HTTPD_GET && strncmp(rest, "name/", 5) == 0) {
        if (rest[5] != '\0') {
            obj_read(c, k, NULL, rest + 5, obj_respond);
            return;
        }
        snprintf(msg, sizeof(msg), "Missing %s Name", k->what);
    } else if (rest[0] == '\0') {
        snprintf(msg, sizeof(msg), "Missing %s ID", k->what);
    } else if (c->method == HTTPD_DELETE) {
        obj_delete(c, k, rest);
        return;
    } else {
        obj_read(c, k, rest, NULL, obj_respond);
        return;
    }
    httpd_error(c, 400, "bad_request", msg);
}

void httpd_acl_policy(struct httpd_ctx *c)
{
    obj_route(c, &policy_kind);
}

void httpd_acl_role(struct httpd_ctx *c)
{
    obj_route(c, &role_kind);
}

void httpd_acl_policies(struct httpd_ctx *c)
{
    if (httpd_acl_off(c) ||
        !httpd_acl_require(c, ACL_RES_ACL, NULL, ACL_READ))
        return;
    obj_read(c, &policy_kind, NULL, NULL, list_respond);
}

void httpd_acl_roles(struct httpd_ctx *c)
{
    if (httpd_acl_off(c) ||
        !httpd_acl_require(c, ACL_RES_ACL, NULL, ACL_READ))
        return;
    obj_read(c, &role_kind, NULL, NULL, list_respond);
}

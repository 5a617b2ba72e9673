/* acl_store_write.c - writes to the ACL state (the ops the FSM
 * applies) and its snapshot records (visit, restore).
 *
 * Layer: store (uses util, codec: jansson; OpenSSL). Thread: loop only.
 * Owns: what a write builds until it is linked into the tables.
 * Tests: t/unit/check_acl_store.c
 *
 * A write checks the request (acl_store_check.c), then the state, and
 * allocates everything and reserves room in the tables before it
 * touches anything, so it applies whole or not at all. It generates
 * nothing (IDs, secrets, times and hashes come in the request), so
 * every server that applies the same log reaches the same state.
 */
#include "acl.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "acl_store_int.h"

static const struct {
    const char *name, *key;
    enum acl_kind kind;
} ops[ACL_OP_COUNT] = {
    {"token-set", "Token", ACL_K_TOKEN},
    {"token-delete", "AccessorID", ACL_K_TOKEN},
    {"policy-set", "Policy", ACL_K_POLICY},
    {"policy-delete", "ID", ACL_K_POLICY},
    {"role-set", "Role", ACL_K_ROLE},
    {"role-delete", "ID", ACL_K_ROLE},
    {"bootstrap", "Token", ACL_K_TOKEN},
    {"init", "Secret", ACL_K_TOKEN},
};
static const char *const kinds[] = {"token", "policy", "role"};

static const char *str_of(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

/* ---- requests ---- */

void acl_req_release(struct acl_req *r)
{
    json_decref(r->obj);
    acl_rules_free(r->rules);
    OPENSSL_cleanse(r->secret, sizeof(r->secret));
    memset(r, 0, sizeof(*r));
}

static int req_keys(const struct acl_req *r, const json_t *req, char *err)
{
    char qk[ERR_QUOTE_MAX + 4];
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)req, k, v) {
        if (strcmp(k, ops[r->op].key) != 0 &&
            !(r->op == ACL_OP_BOOTSTRAP && strcmp(k, "ResetIndex") == 0))
            return err_set(err, ERR_INVAL, "Request decode failed: unknown "
                           "field \"%s\"", err_quote(qk, sizeof(qk), k));
    }
    if (json_object_get(req, ops[r->op].key) == NULL)
        return err_set(err, ERR_INVAL, "Request decode failed: missing %s",
                       ops[r->op].key);
    return 0;
}

static int req_body(struct acl_req *r, const json_t *req, char *err)
{
    const json_t *v = json_object_get(req, ops[r->op].key), *ri;
    char qv[ERR_QUOTE_MAX + 4];

    switch (r->op) {
    case ACL_OP_TOKEN_DELETE:
    case ACL_OP_POLICY_DELETE:
    case ACL_OP_ROLE_DELETE:
        r->id = json_string_value(v);
        if (r->id == NULL || strlen(r->id) != json_string_length(v) ||
            !acl_is_uuid(r->id))
            return err_set(err, ERR_INVAL, "Invalid %s \"%s\": not a UUID",
                           ops[r->op].key,
                           err_quote(qv, sizeof(qv), json_string_value(v)));
        return 0;
    case ACL_OP_INIT:
        if (!acl_decode_secret(json_string_value(v), r->secret))
            return err_set(err, ERR_INVAL, "Secret is not the base64 of "
                           "32 bytes");
        return 0;
    case ACL_OP_BOOTSTRAP:
        ri = json_object_get(req, "ResetIndex");
        if (ri != NULL &&
            (!json_is_integer(ri) || json_integer_value(ri) < 0))
            return err_set(err, ERR_INVAL, "ResetIndex must be a "
                           "non-negative integer");
        r->reset_index = (uint64_t)json_integer_value(ri);
        break;
    default:
        break;
    }
    return acl_check_obj(r->kind, v, false, &r->obj,
                         r->kind == ACL_K_POLICY ? &r->rules : NULL, err);
}

int acl_req_parse(const char *op, const json_t *req, struct acl_req *r,
                  char *err)
{
    char qo[ERR_QUOTE_MAX + 4];
    int i, rc;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < ACL_OP_COUNT && (op == NULL || strcmp(op, ops[i].name));
         i++)
        ;
    if (i == ACL_OP_COUNT)
        return err_set(err, ERR_INVAL, "unknown ACL operation \"%s\"",
                       err_quote(qo, sizeof(qo), op));
    r->op = (enum acl_op)i;
    r->kind = ops[i].kind;
    if (!json_is_object(req))
        return err_set(err, ERR_INVAL, "Request decode failed: the %s "
                       "request is not a JSON object", op);
    if ((rc = req_keys(r, req, err)) != 0)
        return rc;
    return req_body(r, req, err);
}

int acl_store_check(const char *op, const json_t *req, char *err)
{
    struct acl_req r;
    int rc = acl_req_parse(op, req, &r, err);

    acl_req_release(&r);
    return rc;
}

/* ---- sets ---- */

/* Point every link of obj[field] at a stored object, by ID. */
static int resolve_links(const struct acl_map *m, json_t *obj,
                         const char *field, const char *what, char *err)
{
    char k[ACL_ID_LEN + 1], qv[ERR_QUOTE_MAX + 4];
    struct acl_ent *e;
    json_t *l;
    size_t i;

    json_array_foreach(json_object_get(obj, field), i, l) {
        if (!acl_fold(k, sizeof(k), str_of(l, "ID")) ||
            (e = acl_map_get(m, k)) == NULL)
            return err_set(err, ERR_NOTFOUND, "cannot find %s %s", what,
                           err_quote(qv, sizeof(qv), str_of(l, "ID")));
        if (json_object_set(l, "ID", json_object_get(e->obj, "ID")) != 0 ||
            json_object_set(l, "Name", json_object_get(e->obj, "Name")) != 0)
            return err_set(err, ERR_NOMEM, "resolving links");
    }
    return 0;
}

/* Give obj its indexes and e the object; reserve room in two maps. */
static int finish(struct acl_ent *e, json_t *obj, const struct acl_ent *old,
                  uint64_t index, struct acl_map *a, struct acl_map *b,
                  char *err)
{
    json_int_t ci = old != NULL ? json_integer_value(json_object_get(
                                      old->obj, "CreateIndex"))
                                : (json_int_t)index;

    if (json_object_set_new(obj, "CreateIndex", json_integer(ci)) != 0 ||
        json_object_set_new(obj, "ModifyIndex",
                            json_integer((json_int_t)index)) != 0 ||
        acl_map_reserve(a, 1) != 0 || acl_map_reserve(b, 1) != 0)
        return err_set(err, ERR_NOMEM, "storing an ACL object");
    e->obj = json_incref(obj);
    return 0;
}

static int token_conflicts(const struct acl_store *s, const struct acl_ent *e,
                           const struct acl_ent *old, char *err)
{
    const struct acl_ent *holder = acl_map_get(&s->secrets, e->hex);

    if (holder != NULL && holder != old)
        return err_set(err, ERR_EXISTS,
                       "Invalid Token: SecretID is already in use");
    if (old != NULL &&
        CRYPTO_memcmp(old->digest, e->digest, ACL_DIGEST_LEN) != 0)
        return err_set(err, ERR_INVAL,
                       "Changing a token's SecretID is not permitted");
    return 0;
}

static int set_token(struct acl_store *s, uint64_t index, json_t *obj,
                     char *err)
{
    struct acl_ent *e = calloc(1, sizeof(*e)), *old;
    int rc;

    if (e == NULL)
        return err_set(err, ERR_NOMEM, "storing a token");
    acl_fold(e->id, sizeof(e->id), str_of(obj, "AccessorID"));
    acl_digest(str_of(obj, "SecretID"), e->digest, e->hex);
    old = acl_map_get(&s->tokens, e->id);
    if ((rc = token_conflicts(s, e, old, err)) != 0 ||
        (rc = resolve_links(&s->policies, obj, "Policies", "policy",
                            err)) != 0 ||
        (rc = resolve_links(&s->roles, obj, "Roles", "role", err)) != 0 ||
        (rc = finish(e, obj, old, index, &s->tokens, &s->secrets, err))) {
        acl_ent_free(e);
        return rc;
    }
    acl_store_link(s, ACL_K_TOKEN, e, old);
    s->index[ACL_T_TOKENS] = index;
    return 0;
}

static bool same(const json_t *a, const json_t *b, const char *field)
{
    return json_equal(json_object_get(a, field), json_object_get(b, field));
}

/* global-management keeps its Name, Rules and Datacenters. */
static int builtin_policy(const json_t *old, const json_t *obj, char *err)
{
    static const char *const fields[] = {"Name", "Rules", "Datacenters"};
    static const char *const fmt[] = {
        "Changing the Name of the builtin global-management policy is not "
        "permitted",
        "Changing the Rules for the builtin global-management policy is "
        "not permitted",
        "Changing the Datacenters of the builtin global-management policy "
        "is not permitted",
    };
    int i;

    for (i = 0; i < 3; i++)
        if (!same(old, obj, fields[i]))
            return err_set(err, ERR_DENIED, "%s", fmt[i]);
    return 0;
}

/* Policies and roles: unique Name; a role's links must resolve. */
static int named_checks(struct acl_store *s, enum acl_kind k,
                        const struct acl_ent *e, const struct acl_ent *old,
                        json_t *obj, char *err)
{
    const struct acl_map *names =
        k == ACL_K_POLICY ? &s->policy_names : &s->role_names;
    const struct acl_ent *holder = acl_map_get(names, e->name);
    char qn[ERR_QUOTE_MAX + 4];

    if (holder != NULL && holder != old)
        return err_set(err, ERR_EXISTS, "Invalid %s: A %s with Name \"%s\" "
                       "already exists", k == ACL_K_POLICY ? "Policy" : "Role",
                       k == ACL_K_POLICY ? "Policy" : "Role",
                       err_quote(qn, sizeof(qn), str_of(obj, "Name")));
    if (k == ACL_K_POLICY && old != NULL &&
        strcmp(e->id, ACL_GLOBAL_MGMT_ID) == 0)
        return builtin_policy(old->obj, obj, err);
    if (k == ACL_K_ROLE)
        return resolve_links(&s->policies, obj, "Policies", "policy", err);
    return 0;
}

static int set_named(struct acl_store *s, uint64_t index, enum acl_kind k,
                     struct acl_req *r, char *err)
{
    struct acl_map *ids = k == ACL_K_POLICY ? &s->policies : &s->roles;
    struct acl_map *names =
        k == ACL_K_POLICY ? &s->policy_names : &s->role_names;
    struct acl_ent *e = calloc(1, sizeof(*e)), *old;
    int rc;

    if (e == NULL)
        return err_set(err, ERR_NOMEM, "storing a %s", kinds[k]);
    acl_fold(e->id, sizeof(e->id), str_of(r->obj, "ID"));
    acl_fold(e->name, sizeof(e->name), str_of(r->obj, "Name"));
    old = acl_map_get(ids, e->id);
    if ((rc = named_checks(s, k, e, old, r->obj, err)) != 0 ||
        (rc = finish(e, r->obj, old, index, ids, names, err)) != 0) {
        acl_ent_free(e);
        return rc;
    }
    e->rules = r->rules;
    r->rules = NULL;
    acl_store_link(s, k, e, old);
    s->index[k == ACL_K_POLICY ? ACL_T_POLICIES : ACL_T_ROLES] = index;
    return 0;
}

/* ---- deletes ---- */

static int delete(struct acl_store *s, uint64_t index, enum acl_kind k,
                  const char *id, char *err)
{
    struct acl_map *ids = k == ACL_K_TOKEN ? &s->tokens
                          : k == ACL_K_POLICY ? &s->policies : &s->roles;
    char key[ACL_ID_LEN + 1], qv[ERR_QUOTE_MAX + 4];
    struct acl_ent *e;

    acl_fold(key, sizeof(key), id);
    if (k == ACL_K_TOKEN && strcmp(key, ACL_ANON_ACCESSOR) == 0)
        return err_set(err, ERR_DENIED, "Cannot delete the anonymous token");
    if (k == ACL_K_POLICY && strcmp(key, ACL_GLOBAL_MGMT_ID) == 0)
        return err_set(err, ERR_DENIED, "Deletion of the builtin "
                       "global-management policy is not permitted");
    if ((e = acl_map_del(ids, key)) == NULL)
        return err_set(err, ERR_NOTFOUND, "cannot find %s %s", kinds[k],
                       err_quote(qv, sizeof(qv), id));
    if (k == ACL_K_TOKEN)
        acl_map_del(&s->secrets, e->hex);
    else
        acl_map_del(k == ACL_K_POLICY ? &s->policy_names : &s->role_names,
                    e->name);
    acl_ent_free(e);
    s->index[k == ACL_K_TOKEN    ? ACL_T_TOKENS
             : k == ACL_K_POLICY ? ACL_T_POLICIES
                                 : ACL_T_ROLES] = index;
    return 0;
}

static int bootstrap(struct acl_store *s, uint64_t index,
                     const struct acl_req *r, char *err)
{
    int rc;

    if (s->bootstrap_index != 0 && r->reset_index != s->bootstrap_index)
        return err_set(err, ERR_DENIED, "ACL bootstrap no longer allowed "
                       "(reset index: %llu)",
                       (unsigned long long)s->bootstrap_index);
    if ((rc = set_token(s, index, r->obj, err)) == 0)
        s->bootstrap_index = index;
    return rc;
}

static int run(struct acl_store *s, uint64_t index, struct acl_req *r,
               bool *changed, char *err)
{
    switch (r->op) {
    case ACL_OP_TOKEN_SET: return set_token(s, index, r->obj, err);
    case ACL_OP_POLICY_SET:
    case ACL_OP_ROLE_SET: return set_named(s, index, r->kind, r, err);
    case ACL_OP_BOOTSTRAP: return bootstrap(s, index, r, err);
    case ACL_OP_INIT:
        if (!s->has_secret) {
            memcpy(s->secret, r->secret, sizeof(s->secret));
            s->has_secret = true;
        } else {
            *changed = false;
        }
        return 0;
    default: return delete(s, index, r->kind, r->id, err);
    }
}

int acl_store_apply(struct acl_store *s, uint64_t index, const char *op,
                    const json_t *req, bool *changed, char *err)
{
    struct acl_req r;
    int rc;

    *changed = false;
    if ((rc = acl_req_parse(op, req, &r, err)) == 0) {
        *changed = true;
        if ((rc = run(s, index, &r, changed, err)) != 0)
            *changed = false;
    }
    acl_req_release(&r);
    if (*changed)
        acl_store_changed(s);
    return rc;
}

/* ---- snapshot records ---- */

static int visit(const struct acl_map *m, const char *kind, acl_visit_fn fn,
                 void *ctx)
{
    json_t *rec;
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < m->n; i++) {
        if ((rec = json_pack("{s:s}", "Kind", kind)) == NULL ||
            json_object_update(rec, m->v[i]->obj) != 0)
            rc = ERR_NOMEM;
        else
            rc = fn(ctx, rec);
        json_decref(rec);
    }
    return rc;
}

static int visit_meta(const struct acl_store *s, acl_visit_fn fn, void *ctx)
{
    char b64[64];
    json_t *rec;
    int rc;

    rec = json_pack("{s:s,s:I,s:I,s:I,s:I}", "Kind", "meta",
                    "BootstrapIndex", (json_int_t)s->bootstrap_index,
                    "TokensIndex", (json_int_t)s->index[ACL_T_TOKENS],
                    "PoliciesIndex", (json_int_t)s->index[ACL_T_POLICIES],
                    "RolesIndex", (json_int_t)s->index[ACL_T_ROLES]);
    if (rec != NULL && s->has_secret &&
        (acl_encode_secret(s->secret, b64) != 0 ||
         json_object_set_new(rec, "Secret", json_string(b64)) != 0)) {
        json_decref(rec);
        rec = NULL;
    }
    rc = rec != NULL ? fn(ctx, rec) : ERR_NOMEM;
    json_decref(rec);
    OPENSSL_cleanse(b64, sizeof(b64));
    return rc;
}

int acl_store_foreach(const struct acl_store *s, acl_visit_fn fn, void *ctx)
{
    int rc;

    if ((rc = visit(&s->policies, "policy", fn, ctx)) != 0 ||
        (rc = visit(&s->roles, "role", fn, ctx)) != 0 ||
        (rc = visit(&s->tokens, "token", fn, ctx)) != 0)
        return rc;
    if (acl_store_max_index(s) == 0 && !s->has_secret)
        return 0;
    return visit_meta(s, fn, ctx);
}

static int restore_meta(struct acl_store *s, const json_t *rec, char *err)
{
    static const char *const f[] = {"TokensIndex", "PoliciesIndex",
                                    "RolesIndex", "BootstrapIndex"};
    uint64_t v[4];
    const json_t *sec = json_object_get(rec, "Secret");
    int i;

    if (json_object_size(rec) != 5u + (sec != NULL))
        return err_set(err, ERR_PARSE, "meta record with unknown fields");
    for (i = 0; i < 4; i++) {
        const json_t *n = json_object_get(rec, f[i]);

        if (!json_is_integer(n) || json_integer_value(n) < 0)
            return err_set(err, ERR_PARSE, "meta %s is not a uint", f[i]);
        v[i] = (uint64_t)json_integer_value(n);
        if (i < 3 && v[i] < s->index[i])
            return err_set(err, ERR_PARSE, "meta %s %llu is below the "
                           "records' %llu", f[i], (unsigned long long)v[i],
                           (unsigned long long)s->index[i]);
    }
    if (sec != NULL && !acl_decode_secret(json_string_value(sec), s->secret))
        return err_set(err, ERR_PARSE, "meta Secret is not valid");
    s->has_secret = sec != NULL;
    for (i = 0; i < 3; i++)
        s->index[i] = v[i];
    s->bootstrap_index = v[3];
    s->meta_restored = true;
    return 0;
}

/* A restored object must not share an ID, Name or SecretID. */
static int restore_unique(struct acl_store *s, enum acl_kind k,
                          const struct acl_ent *e, char *err)
{
    struct acl_map *ids = k == ACL_K_TOKEN ? &s->tokens
                          : k == ACL_K_POLICY ? &s->policies : &s->roles;
    struct acl_map *second = k == ACL_K_TOKEN ? &s->secrets
                             : k == ACL_K_POLICY ? &s->policy_names
                                                 : &s->role_names;

    if (acl_map_get(ids, e->id) != NULL)
        return err_set(err, ERR_PARSE, "a second %s %s", kinds[k], e->id);
    if (acl_map_get(second, k == ACL_K_TOKEN ? e->hex : e->name) != NULL)
        return err_set(err, ERR_PARSE, "%s %s: its %s is already used",
                       kinds[k], e->id, k == ACL_K_TOKEN ? "SecretID"
                                                         : "Name");
    if (acl_map_reserve(ids, 1) != 0 || acl_map_reserve(second, 1) != 0)
        return err_set(err, ERR_NOMEM, "restoring a %s", kinds[k]);
    return 0;
}

static int restore_obj(struct acl_store *s, enum acl_kind k, json_t *body,
                       char *err)
{
    struct acl_ent *e = calloc(1, sizeof(*e));
    uint64_t mi;
    int rc;

    if (e == NULL)
        return err_set(err, ERR_NOMEM, "restoring a %s", kinds[k]);
    rc = acl_check_obj(k, body, true, &e->obj,
                       k == ACL_K_POLICY ? &e->rules : NULL, err);
    if (rc == 0) {
        acl_fold(e->id, sizeof(e->id),
                 str_of(e->obj, k == ACL_K_TOKEN ? "AccessorID" : "ID"));
        if (k == ACL_K_TOKEN)
            acl_digest(str_of(e->obj, "SecretID"), e->digest, e->hex);
        else
            acl_fold(e->name, sizeof(e->name), str_of(e->obj, "Name"));
        rc = restore_unique(s, k, e, err);
    }
    if (rc != 0) {
        acl_ent_free(e);
        return rc == ERR_NOMEM ? rc : ERR_PARSE;
    }
    acl_store_link(s, k, e, NULL);
    mi = (uint64_t)json_integer_value(json_object_get(e->obj, "ModifyIndex"));
    if (mi > s->index[k])
        s->index[k] = mi;
    return 0;
}

int acl_store_restore_record(struct acl_store *s, const json_t *rec,
                             char *err)
{
    const char *kind = str_of(rec, "Kind");
    json_t *body;
    int k, rc;

    if (kind == NULL)
        return err_set(err, ERR_PARSE, "acl record without a Kind");
    if (s->meta_restored)
        return err_set(err, ERR_PARSE, "acl record after the meta record");
    if (strcmp(kind, "meta") == 0)
        return restore_meta(s, rec, err);
    for (k = 0; k < 3 && strcmp(kind, kinds[k]) != 0; k++)
        ;
    if (k == 3)
        return err_set(err, ERR_PARSE, "unknown acl record kind");
    if ((body = json_copy((json_t *)rec)) == NULL)
        return err_set(err, ERR_NOMEM, "restoring an acl record");
    json_object_del(body, "Kind");
    rc = restore_obj(s, (enum acl_kind)k, body, err);
    json_decref(body);
    acl_store_changed(s);
    return rc;
}

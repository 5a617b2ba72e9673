/* acl_store_check.c - the shapes of tokens, policies, roles and of the
 * write requests: validation and normalization, with Consul's
 * messages, before anything reaches the state or the Raft log.
 *
 * Layer: store (uses util, codec: jansson; OpenSSL for base64).
 * Thread: any (no state).
 * Owns: nothing; what it builds goes to the caller.
 * Tests: t/unit/check_acl_store.c
 *
 * One table per object kind lists its fields in the documented order
 * with a type and whether it is required; the stored object is rebuilt
 * from that table, so it always has exactly these fields in this order
 * whatever order the request had. Field names match exactly (the HTTP
 * layer decodes Consul's case-insensitive spellings before this);
 * unknown fields are refused. A SecretID is never quoted in a message.
 */
#include "acl.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_store_int.h"
#include "util_time.h"

#define MAX_STR 256 /* CreateTime, Hash, identity and datacenter names */

enum ftype {
    FT_UUID, FT_SECRET, FT_NAME, FT_DESC, FT_RULES, FT_STR, FT_BOOL,
    FT_TIME, FT_INDEX, FT_LINKS, FT_SVCIDS, FT_NODEIDS, FT_DCS
};
enum { F_REQ = 1, F_OMIT = 2 }; /* required; left out when absent */

struct field {
    const char *name;
    unsigned char type, flags;
};

static const struct field token_f[] = {
    {"AccessorID", FT_UUID, F_REQ},  {"SecretID", FT_SECRET, F_REQ},
    {"Description", FT_DESC, 0},     {"Policies", FT_LINKS, 0},
    {"Roles", FT_LINKS, 0},          {"ServiceIdentities", FT_SVCIDS, 0},
    {"NodeIdentities", FT_NODEIDS, 0}, {"Local", FT_BOOL, 0},
    {"ExpirationTime", FT_TIME, F_OMIT}, {"CreateTime", FT_STR, 0},
    {"Hash", FT_STR, 0},             {"CreateIndex", FT_INDEX, 0},
    {"ModifyIndex", FT_INDEX, 0},    {NULL, 0, 0},
};
static const struct field policy_f[] = {
    {"ID", FT_UUID, F_REQ},        {"Name", FT_NAME, F_REQ},
    {"Description", FT_DESC, 0},   {"Rules", FT_RULES, 0},
    {"Datacenters", FT_DCS, 0},    {"Hash", FT_STR, 0},
    {"CreateIndex", FT_INDEX, 0},  {"ModifyIndex", FT_INDEX, 0},
    {NULL, 0, 0},
};
static const struct field role_f[] = {
    {"ID", FT_UUID, F_REQ},          {"Name", FT_NAME, F_REQ},
    {"Description", FT_DESC, 0},     {"Policies", FT_LINKS, 0},
    {"ServiceIdentities", FT_SVCIDS, 0}, {"NodeIdentities", FT_NODEIDS, 0},
    {"Hash", FT_STR, 0},             {"CreateIndex", FT_INDEX, 0},
    {"ModifyIndex", FT_INDEX, 0},    {NULL, 0, 0},
};
static const struct field *const tables[] = {token_f, policy_f, role_f};
static const char *const labels[] = {"Token", "Policy", "Role"};

struct chk {
    enum acl_kind k;
    bool restore;
    struct acl_rules **rules;
    char *err;
};

/* "Invalid Policy: <message>", ERR_INVAL. */
static int bad(const struct chk *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int bad(const struct chk *c, const char *fmt, ...)
{
    char msg[ERR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(c->err, ERR_INVAL, "Invalid %s: %s", labels[c->k], msg);
}

static const char *q(char *buf, size_t n, const char *s)
{
    return err_quote(buf, n, s);
}

/* ---- scalars ---- */

bool acl_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    int i, d = 0;

    for (i = 0; i < ACL_ID_LEN; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return false;
            d++;
        } else if (!((s[i] >= '0' && s[i] <= '9') ||
                     (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return false;
        }
    }
    return s[ACL_ID_LEN] == '\0';
}

/* A JSON string without NUL of at most max bytes. */
static const char *str_ok(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) != json_string_length(v) || strlen(s) > max)
        return NULL;
    return s;
}

static bool name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return i >= 1 && i <= ACL_MAX_NAME;
}

/* Consul's service and node identity names: ^[a-z0-9]([a-z0-9-_]*
 * [a-z0-9])?$ */
static bool ident_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || s[0] == '-' || s[0] == '_' || s[n - 1] == '-' ||
        s[n - 1] == '_')
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static bool secret_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return i >= 1 && i <= ACL_MAX_SECRET;
}

bool acl_parse_time(const char *s, int64_t *ms)
{
    int64_t ns;

    if (util_parse_rfc3339(s, &ns, NULL) != 0)
        return false;
    *ms = ns / 1000000;
    return true;
}

bool acl_decode_secret(const char *b64, unsigned char out[32])
{
    unsigned char buf[33];
    size_t i;

    if (b64 == NULL || strlen(b64) != 44 || b64[43] != '=' ||
        b64[42] == '=')
        return false;
    for (i = 0; i < 43; i++)
        if (!((b64[i] >= 'A' && b64[i] <= 'Z') ||
              (b64[i] >= 'a' && b64[i] <= 'z') ||
              (b64[i] >= '0' && b64[i] <= '9') || b64[i] == '+' ||
              b64[i] == '/'))
            return false;
    if (EVP_DecodeBlock(buf, (const unsigned char *)b64, 44) != 33)
        return false;
    memcpy(out, buf, 32);
    OPENSSL_cleanse(buf, sizeof(buf));
    return true;
}

int acl_encode_secret(const unsigned char in[32], char out[64])
{
    return EVP_EncodeBlock((unsigned char *)out, in, 32) == 44 ? 0 : -1;
}

/* ---- nested values ---- */

/* Refuse keys of o outside the NULL-terminated list. */
static int only_keys(const struct chk *c, const json_t *o, const char *what,
                     const char *const *keys)
{
    const char *k;
    json_t *v;
    char qk[ERR_QUOTE_MAX + 4];
    int i;

    json_object_foreach((json_t *)o, k, v) {
        for (i = 0; keys[i] != NULL && strcmp(k, keys[i]) != 0; i++)
            ;
        if (keys[i] == NULL)
            return bad(c, "unknown field \"%s\" in %s",
                       q(qk, sizeof(qk), k), what);
    }
    return 0;
}

static int check_link(const struct chk *c, const json_t *l, const char *what,
                      json_t *out)
{
    static const char *const keys[] = {"ID", "Name", NULL};
    const char *id, *name = "";
    char qv[ERR_QUOTE_MAX + 4];
    int rc;

    if (!json_is_object(l))
        return bad(c, "%s entries must be objects", what);
    if ((rc = only_keys(c, l, what, keys)) != 0)
        return rc;
    if ((id = str_ok(json_object_get(l, "ID"), ACL_ID_LEN)) == NULL ||
        !acl_is_uuid(id))
        return bad(c, "%s link ID \"%s\" is not a valid UUID", what,
                   q(qv, sizeof(qv),
                     json_string_value(json_object_get(l, "ID"))));
    if (json_object_get(l, "Name") != NULL &&
        (name = str_ok(json_object_get(l, "Name"), MAX_STR)) == NULL)
        return bad(c, "%s link Name must be a string", what);
    return json_array_append_new(out, json_pack("{s:s,s:s}", "ID", id,
                                                "Name", name))
               ? err_set(c->err, ERR_NOMEM, "building a link")
               : 0;
}

/* Links, de-duplicated by ID (the first one stays). */
static int check_links(const struct chk *c, const json_t *v, const char *what,
                       json_t *out)
{
    char a[ACL_ID_LEN + 1], b[ACL_ID_LEN + 1];
    size_t i, j;
    int rc;

    if (!json_is_array(v))
        return bad(c, "%s must be an array", what);
    for (i = 0; i < json_array_size(v); i++) {
        if ((rc = check_link(c, json_array_get(v, i), what, out)) != 0)
            return rc;
        j = json_array_size(out) - 1;
        acl_fold(a, sizeof(a), json_string_value(
                                   json_object_get(json_array_get(out, j),
                                                   "ID")));
        while (j-- > 0) {
            acl_fold(b, sizeof(b), json_string_value(json_object_get(
                                       json_array_get(out, j), "ID")));
            if (strcmp(a, b) == 0) {
                json_array_remove(out, json_array_size(out) - 1);
                break;
            }
        }
    }
    return 0;
}

static int check_dcs(const struct chk *c, const json_t *v, const char *what)
{
    json_t *dc;
    size_t i;

    if (!json_is_array(v))
        return bad(c, "%s must be an array of strings", what);
    json_array_foreach(v, i, dc)
        if (str_ok(dc, MAX_STR) == NULL || json_string_length(dc) == 0)
            return bad(c, "%s must be an array of non-empty strings", what);
    return 0;
}

static int check_svcid(const struct chk *c, const json_t *o)
{
    static const char *const keys[] = {"ServiceName", "Datacenters", NULL};
    const char *n;
    char qv[ERR_QUOTE_MAX + 4];
    int rc;

    if (!json_is_object(o))
        return bad(c, "ServiceIdentities entries must be objects");
    if ((rc = only_keys(c, o, "ServiceIdentities", keys)) != 0)
        return rc;
    n = str_ok(json_object_get(o, "ServiceName"), MAX_STR);
    if (n == NULL || !ident_ok(n))
        return bad(c, "Service identity \"%s\" has an invalid name. Only "
                   "lowercase alphanumeric characters, '-' and '_' are "
                   "allowed", q(qv, sizeof(qv), json_string_value(
                                   json_object_get(o, "ServiceName"))));
    if (json_object_get(o, "Datacenters") != NULL)
        return check_dcs(c, json_object_get(o, "Datacenters"),
                         "ServiceIdentities Datacenters");
    return 0;
}

static int check_nodeid(const struct chk *c, const json_t *o)
{
    static const char *const keys[] = {"NodeName", "Datacenter", NULL};
    const char *n, *dc;
    char qv[ERR_QUOTE_MAX + 4];
    int rc;

    if (!json_is_object(o))
        return bad(c, "NodeIdentities entries must be objects");
    if ((rc = only_keys(c, o, "NodeIdentities", keys)) != 0)
        return rc;
    n = str_ok(json_object_get(o, "NodeName"), MAX_STR);
    if (n == NULL || !ident_ok(n))
        return bad(c, "Node identity \"%s\" has an invalid name. Only "
                   "lowercase alphanumeric characters, '-' and '_' are "
                   "allowed", q(qv, sizeof(qv), json_string_value(
                                   json_object_get(o, "NodeName"))));
    dc = str_ok(json_object_get(o, "Datacenter"), MAX_STR);
    if (dc == NULL || dc[0] == '\0')
        return bad(c, "Node identity is missing the datacenter field on "
                   "this %s", c->k == ACL_K_ROLE ? "role" : "token");
    return 0;
}

static int check_idents(const struct chk *c, const json_t *v, bool node)
{
    const char *what = node ? "NodeIdentities" : "ServiceIdentities";
    json_t *o;
    size_t i;
    int rc;

    if (!json_is_array(v))
        return bad(c, "%s must be an array", what);
    json_array_foreach(v, i, o)
        if ((rc = node ? check_nodeid(c, o) : check_svcid(c, o)) != 0)
            return rc;
    return 0;
}

/* ---- fields ---- */

static int check_rules(const struct chk *c, const json_t *v)
{
    struct acl_rules *r = NULL;
    char perr[ERR_LEN];
    const char *s = str_ok(v, ACL_MAX_RULES);
    int rc;

    if (s == NULL)
        return bad(c, "Rules must be a string of at most %d bytes",
                   ACL_MAX_RULES);
    if ((rc = acl_rules_parse(s, strlen(s), &r, perr)) != 0)
        return rc == ERR_NOMEM
                   ? err_set(c->err, rc, "%s", perr)
                   : bad(c, "failed to parse Rules: %s", perr);
    if (c->rules != NULL && *c->rules == NULL)
        *c->rules = r;
    else
        acl_rules_free(r);
    return 0;
}

static int check_string(const struct chk *c, const struct field *f,
                        const json_t *v)
{
    const char *s = str_ok(v, f->type == FT_DESC ? ACL_MAX_DESC : MAX_STR);
    char qv[ERR_QUOTE_MAX + 4];
    int64_t ms;

    if (s == NULL)
        return bad(c, "%s must be a string of at most %d bytes", f->name,
                   f->type == FT_DESC ? ACL_MAX_DESC : MAX_STR);
    if (f->type == FT_UUID && !acl_is_uuid(s))
        return bad(c, "%s \"%s\" is not a valid UUID", f->name,
                   q(qv, sizeof(qv), s));
    if (f->type == FT_NAME && !name_ok(s))
        return bad(c, "invalid Name. Only alphanumeric characters, '-' and "
                   "'_' are allowed");
    if (f->type == FT_TIME && !acl_parse_time(s, &ms))
        return bad(c, "%s \"%s\" is not an RFC 3339 time", f->name,
                   q(qv, sizeof(qv), s));
    return 0;
}

/* Check v (non-NULL) as field f; *nv gets the value to store (new). */
static int check_field(const struct chk *c, const struct field *f,
                       json_t *v, json_t **nv)
{
    int rc = 0;

    *nv = NULL;
    switch (f->type) {
    case FT_SECRET:
        if (str_ok(v, ACL_MAX_SECRET) == NULL ||
            !secret_ok(json_string_value(v)))
            return bad(c, "SecretID must be 1 to %d printable characters",
                       ACL_MAX_SECRET);
        break;
    case FT_RULES: rc = check_rules(c, v); break;
    case FT_BOOL:
        if (!json_is_boolean(v))
            return bad(c, "%s must be a boolean", f->name);
        break;
    case FT_INDEX:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(c, "%s must be a non-negative integer", f->name);
        break;
    case FT_LINKS:
        if ((*nv = json_array()) == NULL)
            return err_set(c->err, ERR_NOMEM, "building links");
        if ((rc = check_links(c, v, f->name, *nv)) != 0) {
            json_decref(*nv);
            *nv = NULL;
        }
        return rc;
    case FT_SVCIDS: rc = check_idents(c, v, false); break;
    case FT_NODEIDS: rc = check_idents(c, v, true); break;
    case FT_DCS: rc = check_dcs(c, v, f->name); break;
    default: rc = check_string(c, f, v); break;
    }
    if (rc == 0)
        *nv = json_deep_copy(v);
    return rc != 0 || *nv != NULL ? rc
                                  : err_set(c->err, ERR_NOMEM, "copying");
}

/* The value of an absent field; NULL (with 0) to leave it out. */
static int absent(const struct chk *c, const struct field *f, json_t **nv)
{
    *nv = NULL;
    if (f->flags & F_REQ)
        return bad(c, "missing %s", f->name);
    if (f->type == FT_INDEX && c->restore)
        return bad(c, "missing %s", f->name);
    if ((f->flags & F_OMIT) || f->type == FT_INDEX)
        return 0;
    switch (f->type) {
    case FT_BOOL: *nv = json_false(); break;
    case FT_LINKS: case FT_SVCIDS: case FT_NODEIDS: case FT_DCS:
        *nv = json_array();
        break;
    case FT_RULES:
        if ((*nv = json_string("")) != NULL && check_rules(c, *nv) != 0) {
            json_decref(*nv);
            return ERR_NOMEM;
        }
        break;
    default: *nv = json_string(""); break;
    }
    return *nv != NULL ? 0 : err_set(c->err, ERR_NOMEM, "defaults");
}

static int check_indexes(const struct chk *c, const json_t *o)
{
    json_int_t ci = json_integer_value(json_object_get(o, "CreateIndex"));
    json_int_t mi = json_integer_value(json_object_get(o, "ModifyIndex"));

    if (ci < 1 || ci > mi)
        return bad(c, "CreateIndex %lld and ModifyIndex %lld do not fit",
                   (long long)ci, (long long)mi);
    return 0;
}

static int build(const struct chk *c, const json_t *obj, json_t *o)
{
    const struct field *f;
    json_t *v, *nv;
    int rc;

    for (f = tables[c->k]; f->name != NULL; f++) {
        v = json_object_get(obj, f->name);
        if (v != NULL && json_is_null(v) && f->type == FT_TIME)
            v = NULL;
        rc = v != NULL ? check_field(c, f, v, &nv) : absent(c, f, &nv);
        if (rc != 0)
            return rc;
        if (nv != NULL && f->type == FT_INDEX && !c->restore)
            json_decref(nv);
        else if (nv != NULL && json_object_set_new(o, f->name, nv) != 0)
            return err_set(c->err, ERR_NOMEM, "building the %s",
                           labels[c->k]);
    }
    return c->restore ? check_indexes(c, o) : 0;
}

int acl_check_obj(enum acl_kind k, const json_t *obj, bool restore,
                  json_t **out, struct acl_rules **rules, char *err)
{
    struct chk c = {k, restore, rules, err};
    const struct field *f;
    const char *key;
    char qk[ERR_QUOTE_MAX + 4];
    json_t *v, *o;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (!json_is_object(obj))
        return bad(&c, "not a JSON object");
    json_object_foreach((json_t *)obj, key, v) {
        for (f = tables[k]; f->name != NULL && strcmp(f->name, key); f++)
            ;
        if (f->name == NULL)
            return bad(&c, "unknown field \"%s\"", q(qk, sizeof(qk), key));
    }
    if ((o = json_object()) == NULL)
        return err_set(err, ERR_NOMEM, "building the %s", labels[k]);
    if ((rc = build(&c, obj, o)) != 0 || out == NULL) {
        json_decref(o);
        if (rc != 0 && rules != NULL) {
            acl_rules_free(*rules);
            *rules = NULL;
        }
        return rc;
    }
    *out = o;
    return 0;
}

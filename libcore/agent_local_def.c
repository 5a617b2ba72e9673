/* agent_local_def.c - service and check definitions: key spelling,
 * decoding with Go-like type errors, Consul's validation, and the
 * NodeService / HealthCheck records built from them.
 *
 * Layer: agent. Thread: loop only.
 * Owns: nothing beyond the objects it returns.
 * Tests: t/t2102-agent-services.sh
 */
#include "agent_local_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "json_util.h"

#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VAL_MAX 512

static const char *const svc_keys[] = {
    "ID", "Name", "Tags", "Address", "TaggedAddresses", "Meta", "Port",
    "Kind", "Weights", "EnableTagOverride", "Check", "Checks", "Token",
    "Connect", "Proxy", "SocketPath", "Namespace", "Partition", "Locality",
    "PeerName", NULL,
};

static const char *const chk_keys[] = {
    "CheckID", "Name", "Interval", "Timeout", "HTTP", "Method", "Header",
    "Body", "TLSSkipVerify", "TLSServerName", "TCP", "TCPUseTLS", "UDP",
    "Args", "Script", "TTL", "Notes", "Status", "ServiceID",
    "DeregisterCriticalServiceAfter", "SuccessBeforePassing",
    "FailuresBeforeCritical", "FailuresBeforeWarning", "OutputMaxSize",
    "GRPC", "GRPCUseTLS", "DockerContainerID", "Shell", "AliasNode",
    "AliasService", "H2PING", "H2PingUseTLS", "DisableRedirects",
    "OSService", "Token", "Namespace", "Partition", NULL,
};

/* Other spellings: normalised name -> canonical key. */
static const char *const chk_alias[][2] = {
    {"id", "CheckID"}, {"scriptargs", "Args"}, {NULL, NULL},
};

static const char *const addr_keys[] = {"Address", "Port", NULL};
static const char *const weight_keys[] = {"Passing", "Warning", NULL};

/* Lower case without '_' and '-': "enable_tag_override" and
 * "EnableTagOverride" both give "enabletagoverride". */
static void norm(const char *s, char *out, size_t n)
{
    size_t o = 0;

    for (; *s != '\0' && o + 1 < n; s++)
        if (*s != '_' && *s != '-')
            out[o++] = (char)tolower((unsigned char)*s);
    out[o] = '\0';
}

/* The canonical spelling of key, or NULL when it is not a field. */
static const char *canon_name(const char *key, const char *const *tab,
                              const char *const (*alias)[2])
{
    char k[64], t[64];

    norm(key, k, sizeof(k));
    for (size_t i = 0; tab[i] != NULL; i++) {
        norm(tab[i], t, sizeof(t));
        if (strcmp(k, t) == 0)
            return tab[i];
    }
    for (size_t i = 0; alias != NULL && alias[i][0] != NULL; i++)
        if (strcmp(k, alias[i][0]) == 0)
            return alias[i][1];
    return NULL;
}

static int type_err(char *err, const json_t *v, const char *st,
                    const char *field, const char *gotype);

/* Copy obj renaming its keys (values shared). NULL with Go's decode
 * error for a non-object or an unknown key (Consul decodes strictly). */
static json_t *canon(const json_t *obj, const char *const *tab,
                     const char *const (*alias)[2], const char *gotype,
                     char *err)
{
    char q[ERR_QUOTE_MAX + 4];
    const char *k, *c;
    json_t *out, *v;

    if (!json_is_object(obj)) {
        err_set(err, ERR_INVAL, "Request decode failed: json: cannot "
                "unmarshal %s into Go value of type %s", json_go_kind(obj), gotype);
        return NULL;
    }
    out = json_object();
    json_object_foreach((json_t *)obj, k, v) {
        if ((c = canon_name(k, tab, alias)) == NULL) {
            json_decref(out);
            err_set(err, ERR_INVAL, "Request decode failed: json: unknown "
                    "field \"%s\"", err_quote(q, sizeof(q), k));
            return NULL;
        }
        if (!json_is_null(v))
            json_object_set(out, c, v);
    }
    return out;
}

/* Durations are parsed while decoding in Consul: a bad one is a decode
 * error with Go's time.ParseDuration text. */
static int check_durations(const json_t *c, char *err)
{
    static const char *const keys[] = {"Interval", "Timeout", "TTL",
                                       "DeregisterCriticalServiceAfter",
                                       NULL};
    char q[ERR_QUOTE_MAX + 4];
    const char *s;
    int64_t ms;

    for (size_t i = 0; keys[i] != NULL; i++) {
        s = json_string_value(json_object_get(c, keys[i]));
        if (s == NULL || *s == '\0' ||
            opt_parse_duration(s, false, &ms) == 0)
            continue;
        err_quote(q, sizeof(q), s);
        if (strspn(s, "0123456789.") == strlen(s))
            return err_set(err, ERR_INVAL, "Request decode failed: time: "
                           "missing unit in duration \"%s\"", q);
        return err_set(err, ERR_INVAL, "Request decode failed: time: "
                       "invalid duration \"%s\"", q);
    }
    return 0;
}

json_t *local_canon_check(const json_t *obj, char *err)
{
    json_t *c = canon(obj, chk_keys, chk_alias, "structs.CheckType", err);

    if (c != NULL && check_durations(c, err) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* Nested objects of a service: TaggedAddresses values and Weights. */
static int canon_nested(json_t *svc, char *err)
{
    json_t *ta = json_object_get(svc, "TaggedAddresses"), *w, *v, *a, *n;
    const char *k;

    if (json_is_object(ta)) {
        n = json_object();
        json_object_foreach(ta, k, v) {
            a = json_is_object(v) ? canon(v, addr_keys, NULL,
                                          "structs.ServiceAddress", err)
                                  : json_incref(v);
            if (a == NULL) {
                json_decref(n);
                return ERR_INVAL;
            }
            json_object_set_new(n, k, a);
        }
        json_object_set_new(svc, "TaggedAddresses", n);
    }
    w = json_object_get(svc, "Weights");
    if (json_is_object(w)) {
        if ((a = canon(w, weight_keys, NULL, "structs.Weights", err)) == NULL)
            return ERR_INVAL;
        json_object_set_new(svc, "Weights", a);
    }
    return 0;
}

/* "Check" (an object, or a list from repeated HCL blocks) or "Checks". */
static int canon_checks(json_t *s, const char *key, char *err)
{
    json_t *c = json_object_get(s, key), *x, *one, *list;
    size_t i;

    if (c == NULL)
        return 0;
    if (json_is_object(c)) {
        if ((one = local_canon_check(c, err)) == NULL)
            return ERR_INVAL;
        json_object_set_new(s, key, strcmp(key, "Checks") == 0
                                        ? json_pack("[o]", one) : one);
        return 0;
    }
    if (!json_is_array(c))
        return type_err(err, c, "ServiceDefinition", key,
                        "structs.CheckType");
    list = json_array();
    json_array_foreach(c, i, x) {
        if ((one = local_canon_check(x, err)) == NULL) {
            json_decref(list);
            return ERR_INVAL;
        }
        json_array_append_new(list, one);
    }
    json_object_set_new(s, key, list);
    return 0;
}

json_t *local_canon_service(const json_t *obj, char *err)
{
    json_t *s = canon(obj, svc_keys, NULL, "structs.ServiceDefinition", err);

    if (s != NULL && (canon_nested(s, err) != 0 ||
                      canon_checks(s, "Check", err) != 0 ||
                      canon_checks(s, "Checks", err) != 0)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- decoding with Go's error text ---- */

static int type_err(char *err, const json_t *v, const char *st,
                    const char *field, const char *gotype)
{
    return err_set(err, ERR_INVAL, "Request decode failed: json: cannot "
                   "unmarshal %s into Go struct field %s.%s of type %s",
                   json_go_kind(v), st, field, gotype);
}

static int get_str(const json_t *o, const char *k, const char *st,
                   const char **out, char *err)
{
    const json_t *v = json_object_get(o, k);

    *out = "";
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return type_err(err, v, st, k, "string");
    *out = json_string_value(v);
    return 0;
}

static int get_int(const json_t *o, const char *k, const char *st,
                   json_int_t *out, char *err)
{
    const json_t *v = json_object_get(o, k);

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return type_err(err, v, st, k, "int");
    *out = json_integer_value(v);
    return 0;
}

static int get_bool(const json_t *o, const char *k, const char *st,
                    bool *out, char *err)
{
    const json_t *v = json_object_get(o, k);

    *out = false;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return type_err(err, v, st, k, "bool");
    *out = json_is_true(v);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of obj with its keys sorted (Go marshals maps sorted). */
static json_t *sorted_copy(const json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = calloc(n + 1, sizeof(*keys));
    json_t *out = json_object(), *v;
    const char *k;

    if (keys == NULL)
        return out;
    json_object_foreach((json_t *)obj, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(obj, keys[i]));
    free(keys);
    return out;
}

/* Tags: []string. */
static int get_tags(const json_t *o, const char *st, json_t **out,
                    char *err)
{
    const json_t *v = json_object_get(o, "Tags"), *t;
    size_t i;

    *out = json_array();
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return type_err(err, v, st, "Tags", "[]string");
    json_array_foreach(v, i, t) {
        if (!json_is_string(t))
            return type_err(err, t, st, "Tags", "string");
        json_array_append(*out, (json_t *)t);
    }
    return 0;
}

static bool meta_key_ok(const char *k)
{
    if (*k == '\0')
        return false;
    for (; *k != '\0'; k++)
        if (!isalnum((unsigned char)*k) && *k != '_' && *k != '-')
            return false;
    return true;
}

/* Meta: map[string]string, validated as Consul's ValidateServiceMetadata
 * (consul- prefix reserved). */
static int get_meta(const json_t *o, const char *st, json_t **out,
                    char *err)
{
    const json_t *v = json_object_get(o, "Meta"), *x;
    json_t *tmp;
    const char *k, *why;
    char qk[ERR_QUOTE_MAX + 4], qv[ERR_QUOTE_MAX + 4];

    *out = json_object();
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return type_err(err, v, st, "Meta", "map[string]string");
    if (json_object_size(v) > META_MAX_PAIRS)
        return err_set(err, ERR_INVAL, "Invalid Service Meta: Node metadata "
                       "cannot contain more than %d key/value pairs",
                       META_MAX_PAIRS);
    tmp = sorted_copy(v);
    json_object_foreach(tmp, k, x) {
        if (!json_is_string(x)) {
            json_decref(tmp);
            return type_err(err, x, st, "Meta", "string");
        }
        why = *k == '\0' ? "Key cannot be blank"
            : !meta_key_ok(k) ? "Key contains invalid characters"
            : strlen(k) > META_KEY_MAX
                ? "Key is too long (limit: 128 characters)"
            : strncmp(k, "consul-", 7) == 0
                ? "Key prefix 'consul-' is reserved for internal use"
            : json_string_length(x) > META_VAL_MAX
                ? "Value is too long (limit: 512 characters)" : NULL;
        if (why != NULL) {
            err_set(err, ERR_INVAL, "Invalid Service Meta: Couldn't load "
                    "metadata pair ('%s', '%s'): %s",
                    err_quote(qk, sizeof(qk), k),
                    err_quote(qv, sizeof(qv), json_string_value(x)), why);
            json_decref(tmp);
            return ERR_INVAL;
        }
    }
    json_decref(*out);
    *out = tmp;
    return 0;
}

static bool addr_is(const char *s, int af)
{
    unsigned char buf[16];

    return inet_pton(af, s, buf) == 1;
}

/* TaggedAddresses: {name: {Address, Port}}, plus Consul's automatic
 * lan_ipv4/wan_ipv4 (or _ipv6) from a literal service address. */
static int get_tagged(const json_t *o, const char *addr, json_int_t port,
                      json_t **out, char *err)
{
    const json_t *v = json_object_get(o, "TaggedAddresses"), *x;
    json_t *m = json_object(), *tmp;
    const char *k, *a;
    json_int_t p;
    bool v4 = addr_is(addr, AF_INET), v6 = addr_is(addr, AF_INET6);

    *out = m;
    if (v != NULL && !json_is_null(v) && !json_is_object(v))
        return type_err(err, v, "ServiceDefinition", "TaggedAddresses",
                        "map[string]structs.ServiceAddress");
    json_object_foreach((json_t *)v, k, x) {
        if (!json_is_object(x))
            return type_err(err, x, "ServiceDefinition", "TaggedAddresses",
                            "structs.ServiceAddress");
        if (get_str(x, "Address", "ServiceAddress", &a, err) != 0 ||
            get_int(x, "Port", "ServiceAddress", &p, err) != 0)
            return ERR_INVAL;
        json_object_set_new(m, k, json_pack("{s:s, s:I}", "Address", a,
                                            "Port", p));
    }
    if ((v4 || v6) && json_object_get(m, v4 ? "lan_ipv4" : "lan_ipv6") ==
                          NULL)
        json_object_set_new(m, v4 ? "lan_ipv4" : "lan_ipv6",
                            json_pack("{s:s, s:I}", "Address", addr,
                                      "Port", port));
    if ((v4 || v6) && json_object_get(m, v4 ? "wan_ipv4" : "wan_ipv6") ==
                          NULL)
        json_object_set_new(m, v4 ? "wan_ipv4" : "wan_ipv6",
                            json_pack("{s:s, s:I}", "Address", addr,
                                      "Port", port));
    tmp = sorted_copy(m);
    json_decref(m);
    *out = tmp;
    return 0;
}

static int get_weights(const json_t *o, json_t **out, char *err)
{
    const json_t *v = json_object_get(o, "Weights");
    json_int_t p = 1, w = 1;

    *out = NULL;
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_object(v))
            return type_err(err, v, "ServiceDefinition", "Weights",
                            "structs.Weights");
        if (get_int(v, "Passing", "Weights", &p, err) != 0 ||
            get_int(v, "Warning", "Weights", &w, err) != 0)
            return ERR_INVAL;
        if (p < 1)
            return err_set(err, ERR_INVAL, "Invalid Weights: Passing must "
                           "be greater than 0");
        if (w < 0)
            return err_set(err, ERR_INVAL, "Invalid Weights: Warning must "
                           "be greater or equal than 0");
    }
    *out = json_pack("{s:I, s:I}", "Passing", p, "Warning", w);
    return 0;
}

/* ---- checks ---- */

static bool has_str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_string(v) && json_string_length(v) > 0;
}

static const char *check_type(const json_t *c)
{
    if (has_str(c, "TTL"))
        return "ttl";
    if (has_str(c, "HTTP"))
        return "http";
    if (has_str(c, "TCP"))
        return "tcp";
    if (has_str(c, "UDP"))
        return "udp";
    if (has_str(c, "GRPC"))
        return "grpc";
    if (has_str(c, "H2PING"))
        return "h2ping";
    if (has_str(c, "OSService"))
        return "os_service";
    if (has_str(c, "AliasService") || has_str(c, "AliasNode"))
        return "alias";
    if (has_str(c, "DockerContainerID"))
        return "docker";
    if (json_array_size(json_object_get(c, "Args")) > 0 ||
        has_str(c, "Script"))
        return "script";
    return "";
}

/* True when c holds nothing but empty values (Consul ignores an empty
 * "Check" of a service). */
static bool check_empty(const json_t *c)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)c, k, v) {
        if (json_is_string(v) && json_string_length(v) == 0)
            continue;
        if ((json_is_array(v) && json_array_size(v) == 0) ||
            (json_is_object(v) && json_object_size(v) == 0) ||
            json_is_false(v) || (json_is_integer(v) &&
                                 json_integer_value(v) == 0))
            continue;
        return false;
    }
    return true;
}

static bool status_ok(const char *s)
{
    return strcmp(s, "passing") == 0 || strcmp(s, "warning") == 0 ||
           strcmp(s, "critical") == 0;
}

/* Interval/Timeout of the record: the definition's text. */
static const char *dur_text(const json_t *c, const char *k)
{
    const json_t *v = json_object_get(c, k);

    return json_is_string(v) ? json_string_value(v) : "";
}

static int validate_runner(struct agent_local *l, const json_t *rdef,
                           bool from_config, char *err)
{
    char msg[ERR_LEN];

    if (checks_validate(l->checks, rdef, from_config, msg) == 0)
        return 0;
    if (strstr(msg, "Scripts are disabled") != NULL)
        return err_set(err, ERR_UNSUPPORTED, "%s", msg);
    return err_set(err, ERR_INVAL, "Invalid check: %s", msg);
}

/* Record + runner definition of one check. s: its service or NULL. */
static int build_check(struct agent_local *l, const json_t *c,
                       const json_t *s, const char *id, const char *name,
                       bool from_config, json_t **pair, char *err)
{
    const char *notes, *status, *sid = "", *sname = "";
    json_t *rec, *rdef;
    int rc;

    if (get_str(c, "Notes", "CheckType", &notes, err) != 0 ||
        get_str(c, "Status", "CheckType", &status, err) != 0)
        return ERR_INVAL;
    if (s != NULL) {
        sid = json_string_value(json_object_get(s, "ID"));
        sname = json_string_value(json_object_get(s, "Service"));
    }
    rdef = json_deep_copy(c);
    json_object_del(rdef, "Token"); /* kept apart (struct local_chk) */
    json_object_set_new(rdef, "CheckID", json_string(id));
    json_object_set_new(rdef, "Name", json_string(name));
    if (s != NULL)
        json_object_set_new(rdef, "ServiceID", json_string(sid));
    if ((rc = validate_runner(l, rdef, from_config, err)) != 0) {
        json_decref(rdef);
        return rc;
    }
    rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, "
                    "s:s, s:s}",
                    "Node", l->a->cfg.node_name, "CheckID", id, "Name", name,
                    "Status", *status != '\0' ? status : "critical",
                    "Notes", notes, "Output", "", "ServiceID", sid,
                    "ServiceName", sname, "ServiceTags",
                    s != NULL ? json_deep_copy(json_object_get(s, "Tags"))
                              : json_array(),
                    "Type", check_type(c), "Interval",
                    dur_text(c, "Interval"), "Timeout",
                    dur_text(c, "Timeout"));
    *pair = json_pack("[o, o]", rec, rdef);
    return 0;
}

/* Service checks: "Check" (object or list) then "Checks". */
static json_t *service_check_list(const json_t *def)
{
    json_t *all = json_array(), *c = json_object_get(def, "Check"), *x;
    size_t i;

    if (json_is_object(c) && !check_empty(c))
        json_array_append(all, c);
    json_array_foreach(json_is_array(c) ? c : NULL, i, x)
        if (json_is_object(x) && !check_empty(x))
            json_array_append(all, x);
    json_array_foreach(json_object_get(def, "Checks"), i, x)
        if (json_is_object(x))
            json_array_append(all, x);
    return all;
}

static int service_checks(struct agent_local *l, const json_t *def,
                          const json_t *svc, bool from_config,
                          json_t **out, char *err)
{
    json_t *list = service_check_list(def), *c, *pair;
    const char *sid = json_string_value(json_object_get(svc, "ID"));
    const char *sname = json_string_value(json_object_get(svc, "Service"));
    const char *cid, *name, *status;
    char idbuf[600], namebuf[600];
    size_t i, n = json_array_size(list);
    int rc = 0;

    *out = json_array();
    json_array_foreach(list, i, c) {
        if (get_str(c, "CheckID", "CheckType", &cid, err) != 0 ||
            get_str(c, "Name", "CheckType", &name, err) != 0 ||
            get_str(c, "Status", "CheckType", &status, err) != 0) {
            rc = ERR_INVAL;
            break;
        }
        if (*status != '\0' && !status_ok(status)) {
            rc = err_set(err, ERR_INVAL, "Status for checks must "
                         "'passing', 'warning', 'critical'");
            break;
        }
        if (*cid == '\0') {
            snprintf(idbuf, sizeof(idbuf), n > 1 ? "service:%s:%zu"
                                                 : "service:%s", sid, i + 1);
            cid = idbuf;
        }
        if (*name == '\0') {
            snprintf(namebuf, sizeof(namebuf), "Service '%s' check", sname);
            name = namebuf;
        }
        rc = build_check(l, c, svc, cid, name, from_config, &pair, err);
        if (rc != 0)
            break;
        json_array_append_new(*out, pair);
    }
    json_decref(list);
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static bool any_addr(const char *a)
{
    return strcmp(a, "0.0.0.0") == 0 || strcmp(a, "::") == 0 ||
           strcmp(a, "[::]") == 0;
}

/* The scalar fields of a service definition. */
struct svc_fields {
    const char *id, *name, *addr, *kind, *sock;
    json_int_t port;
    bool eto;
};

static int svc_scalars(const json_t *def, struct svc_fields *f, char *err)
{
    static const char st[] = "ServiceDefinition";

    if (!json_is_object(def))
        return err_set(err, ERR_INVAL, "Request decode failed: json: "
                       "cannot unmarshal %s into Go value of type "
                       "structs.ServiceDefinition", json_go_kind(def));
    if (get_str(def, "ID", st, &f->id, err) != 0 ||
        get_str(def, "Name", st, &f->name, err) != 0 ||
        get_str(def, "Address", st, &f->addr, err) != 0 ||
        get_str(def, "Kind", st, &f->kind, err) != 0 ||
        get_str(def, "SocketPath", st, &f->sock, err) != 0 ||
        get_int(def, "Port", st, &f->port, err) != 0 ||
        get_bool(def, "EnableTagOverride", st, &f->eto, err) != 0)
        return ERR_INVAL;
    if (*f->name == '\0')
        return err_set(err, ERR_INVAL, "Missing service name");
    if (any_addr(f->addr))
        return err_set(err, ERR_INVAL, "Invalid service address");
    if (*f->id == '\0')
        f->id = f->name;
    return 0;
}

int local_def_service(struct agent_local *l, const json_t *def,
                      bool from_config, json_t **svc, json_t **checks,
                      char *err)
{
    struct svc_fields f;
    json_t *tags = NULL, *meta = NULL, *tagged = NULL, *weights = NULL, *s;
    int rc;

    *svc = *checks = NULL;
    if ((rc = svc_scalars(def, &f, err)) != 0)
        return rc;
    if (get_tags(def, "ServiceDefinition", &tags, err) != 0 ||
        get_tagged(def, f.addr, f.port, &tagged, err) != 0 ||
        get_weights(def, &weights, err) != 0 ||
        get_meta(def, "ServiceDefinition", &meta, err) != 0) {
        json_decref(tags);
        json_decref(tagged);
        json_decref(weights);
        json_decref(meta);
        return ERR_INVAL;
    }
    s = json_pack("{s:s, s:s, s:o, s:o, s:I, s:s, s:o, s:o, s:b}",
                  "ID", f.id, "Service", f.name, "Tags", tags, "Meta", meta,
                  "Port", f.port, "Address", f.addr, "TaggedAddresses",
                  tagged, "Weights", weights, "EnableTagOverride", f.eto);
    if (*f.kind != '\0')
        json_object_set_new(s, "Kind", json_string(f.kind));
    if (*f.sock != '\0')
        json_object_set_new(s, "SocketPath", json_string(f.sock));
    if (json_is_object(json_object_get(def, "Proxy")))
        json_object_set(s, "Proxy", json_object_get(def, "Proxy"));
    if (json_is_object(json_object_get(def, "Connect")))
        json_object_set(s, "Connect", json_object_get(def, "Connect"));
    rc = service_checks(l, def, s, from_config, checks, err);
    if (rc != 0) {
        json_decref(s);
        return rc;
    }
    *svc = s;
    return 0;
}

int local_def_check(struct agent_local *l, const json_t *def,
                    bool from_config, json_t **chk, json_t **rdef,
                    char *err)
{
    const char *id, *name, *status, *sid;
    const struct local_svc *s = NULL;
    json_t *pair;
    int rc;

    *chk = *rdef = NULL;
    if (!json_is_object(def))
        return err_set(err, ERR_INVAL, "Request decode failed: json: "
                       "cannot unmarshal %s into Go value of type "
                       "structs.CheckDefinition", json_go_kind(def));
    if (get_str(def, "CheckID", "CheckDefinition", &id, err) != 0 ||
        get_str(def, "Name", "CheckDefinition", &name, err) != 0 ||
        get_str(def, "Status", "CheckDefinition", &status, err) != 0 ||
        get_str(def, "ServiceID", "CheckDefinition", &sid, err) != 0)
        return ERR_INVAL;
    if (*name == '\0')
        return err_set(err, ERR_INVAL, "Missing check name");
    if (*status != '\0' && !status_ok(status))
        return err_set(err, ERR_INVAL, "Bad check status");
    if (*id == '\0')
        id = name;
    if (*sid != '\0') {
        s = local_svc_get(l, sid);
        if (s == NULL || s->deleted)
            return err_set(err, ERR_NOTFOUND, "ServiceID \"%s\" does not "
                           "exist", sid);
    }
    rc = build_check(l, def, s != NULL ? s->svc : NULL, id, name,
                     from_config, &pair, err);
    if (rc != 0)
        return rc;
    *chk = json_incref(json_array_get(pair, 0));
    *rdef = json_incref(json_array_get(pair, 1));
    json_decref(pair);
    return 0;
}

json_t *local_maint_check(struct agent_local *l, const char *id,
                          const struct local_svc *s, const char *notes)
{
    const json_t *svc = s != NULL ? s->svc : NULL;

    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}",
        "Node", l->a->cfg.node_name, "CheckID", id, "Name",
        s != NULL ? "Service Maintenance Mode" : "Node Maintenance Mode",
        "Status", "critical", "Notes", notes, "Output", "", "ServiceID",
        s != NULL ? s->id : "", "ServiceName",
        svc != NULL ? json_string_value(json_object_get(svc, "Service"))
                    : "",
        "ServiceTags", svc != NULL ? json_deep_copy(json_object_get(svc,
                                                                    "Tags"))
                                   : json_array(),
        "Type", "maintenance", "Interval", "", "Timeout", "");
}

char *local_cut_output(const char *s)
{
    size_t n = strlen(s);
    char *out;

    if (n <= LOCAL_OUTPUT_MAX)
        return strdup(s);
    out = malloc(LOCAL_OUTPUT_MAX + 64);
    if (out != NULL)
        snprintf(out, LOCAL_OUTPUT_MAX + 64, "%.*s ... (captured %d of %zu "
                 "bytes)", LOCAL_OUTPUT_MAX, s, LOCAL_OUTPUT_MAX, n);
    return out;
}

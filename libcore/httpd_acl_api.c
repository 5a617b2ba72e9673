/* httpd_acl_api.c - /v1/acl/bootstrap, /v1/acl/token[/...],
 * /v1/acl/token/self, /v1/acl/tokens, and the internal bootstrap call
 * (/v1/internal/proconsul/acl-bootstrap on 8300).
 *
 * Layer: http. Thread: loop only.
 * Owns: struct boot_call (malloc'd) while a follower's bootstrap with a
 * reset file waits for the leader.
 * Behaviour follows Consul 1.x (agent/acl_endpoint.go, the ACL RPCs in
 * agent/consul/acl_endpoint.go): 401 "ACL support disabled" with ACLs
 * off; 403 "Permission denied: ACL bootstrap no longer allowed (reset
 * index: N)"; token reads 404 "Requested token does not exist: ACL not
 * found"; refusals of the ACL layer 500 with Consul's message. A
 * SecretID is shown only to holders of acl:write (else "<hidden>", as
 * Consul's ACL filter redacts it), in token reads and, as in Consul
 * 1.12+ whose ACLTokenListStub carries SecretID, in /v1/acl/tokens.
 *
 * Bootstrap reset: <data_dir>/acl-bootstrap-reset holding the reset
 * index is honoured on any server, not only the leader (Consul reads it
 * on the leader only, #6894). A follower proves to the leader that it
 * holds the file's index with an HMAC of the cluster secret, which only
 * servers know, and removes the file once the leader answered 200.
 * Tests: t/t3*.sh
 */
#include "httpd_acl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "opt.h"
#include "util_rand.h"
#include "util_time.h"

#define RESET_FILE "acl-bootstrap-reset"
#define BOOT_TARGET "/v1/internal/proconsul/acl-bootstrap"
#define BOOT_CALL_MS 30000
/* httpd_fwd.c's forwarding limit: a bootstrap forwarded that often
 * finds no leader. */
#define MAX_HOPS 5
/* Consul's ACLReservedPrefix and default token TTL bounds
 * (acl_token_min/max_expiration_ttl: 1m, 24h). */
#define RESERVED_PREFIX "00000000-0000-0000-0000-0000000000"
#define MIN_TTL_NS (INT64_C(60) * 1000000000)
#define MAX_TTL_NS (INT64_C(24) * 3600 * 1000000000)
#define NS_PER_MS 1000000

const struct httpd_acl_field httpd_acl_token_fields[] = {
    {"AccessorID", HTTPD_ACL_F_STR, NULL, "string"},
    {"SecretID", HTTPD_ACL_F_STR, NULL, "string"},
    {"Description", HTTPD_ACL_F_STR, NULL, "string"},
    {"Policies", HTTPD_ACL_F_OBJS, httpd_acl_link_fields,
     "[]structs.ACLTokenPolicyLink"},
    {"Roles", HTTPD_ACL_F_OBJS, httpd_acl_link_fields,
     "[]structs.ACLTokenRoleLink"},
    {"ServiceIdentities", HTTPD_ACL_F_OBJS, httpd_acl_svcid_fields,
     "structs.ACLServiceIdentities"},
    {"NodeIdentities", HTTPD_ACL_F_OBJS, httpd_acl_nodeid_fields,
     "structs.ACLNodeIdentities"},
    {"Local", HTTPD_ACL_F_BOOL, NULL, "bool"},
    {"ExpirationTime", HTTPD_ACL_F_STR, NULL, "time.Time"},
    {"ExpirationTTL", HTTPD_ACL_F_DUR, NULL, "time.Duration"},
    {NULL, 0, NULL, NULL},
};

static const char *const token_hashed[] = ACL_TOKEN_HASHED;

static struct acl_store *store(struct httpd_ctx *c)
{
    return httpd_acl_store(c);
}

static uint64_t tokens_index(struct httpd_ctx *c)
{
    return acl_store_index(store(c), ACL_T_TOKENS);
}

static bool expired(const json_t *tok)
{
    return acl_token_expired(tok, util_now_ns() / NS_PER_MS);
}

static json_t *jstr(const char *s)
{
    return json_string(s != NULL ? s : "");
}

/* A token object with SecretID replaced by "<hidden>", in its place. */
static json_t *redact(json_t *tok /* takes */)
{
    json_t *out = json_object(), *v;
    const char *k;

    json_object_foreach(tok, k, v) {
        if (strcmp(k, "SecretID") == 0)
            json_object_set_new(out, k, json_string(HTTPD_ACL_HIDDEN));
        else
            json_object_set(out, k, v);
    }
    json_decref(tok);
    return out;
}

/* ---- token bodies ---- */

/* ExpirationTTL in ns (0: none). A number is ns, as Go decodes it. */
static int body_ttl(const json_t *b, int64_t *ns, char *err)
{
    const json_t *v = json_object_get(b, "ExpirationTTL");
    char q[ERR_QUOTE_MAX + 4];
    int64_t ms;

    *ns = 0;
    if (json_is_number(v)) {
        double d = json_number_value(v);

        if (d > 9.2e18 || d < -9.2e18)
            return err_set(err, ERR_INVAL, "time: duration out of range");
        *ns = (int64_t)d;
        return 0;
    }
    if (v == NULL || json_string_value(v)[0] == '\0')
        return 0;
    if (opt_parse_duration(json_string_value(v), false, &ms) != 0)
        return err_set(err, ERR_INVAL, "time: invalid duration \"%s\"",
                       err_quote(q, sizeof(q), json_string_value(v)));
    *ns = ms * NS_PER_MS;
    return 0;
}

/* ExpirationTime in ns; false when absent. The text was checked. */
static bool body_exp(const json_t *b, int64_t *ns)
{
    const char *s = json_string_value(json_object_get(b, "ExpirationTime"));

    *ns = 0;
    return s != NULL && util_parse_rfc3339(s, ns, NULL) == 0;
}

/* What Go's decoder would already refuse: a bad time or duration. */
static int check_times(const json_t *b, char *err)
{
    const char *s = json_string_value(json_object_get(b, "ExpirationTime"));
    char q[ERR_QUOTE_MAX + 4];
    int64_t ns;

    if (s != NULL && util_parse_rfc3339(s, &ns, NULL) != 0)
        return err_set(err, ERR_INVAL, "parsing time \"%s\" as "
                       "\"2006-01-02T15:04:05Z07:00\": cannot parse",
                       err_quote(q, sizeof(q), s));
    return body_ttl(b, &ns, err);
}

static void set_time(json_t *tok, const char *field, int64_t ns)
{
    char buf[UTIL_RFC3339_LEN];

    util_rfc3339(ns, buf);
    json_object_set_new(tok, field, json_string(buf));
}

static int ttl_error(const char *what, int64_t limit, int64_t was,
                     char *err)
{
    char lim[32], w[32];

    opt_format_duration(limit / NS_PER_MS, lim, sizeof(lim));
    opt_format_duration(was / NS_PER_MS, w, sizeof(w));
    return err_set(err, ERR_INVAL, "ExpirationTime cannot be %s than %s "
                   "in the future (was %s)", what, lim, w);
}

/* Create: ExpirationTTL or ExpirationTime, Consul's bounds. */
static int create_expiry(const json_t *b, int64_t now, json_t *tok,
                         char *err)
{
    int64_t ttl, exp;
    bool has_exp = body_exp(b, &exp);
    char d[32];

    if (body_ttl(b, &ttl, err) != 0)
        return ERR_INVAL;
    if (ttl != 0) {
        opt_format_duration(ttl / NS_PER_MS, d, sizeof(d));
        if (ttl < 0)
            return err_set(err, ERR_INVAL, "Token Expiration TTL '%s' "
                           "should be > 0", d);
        if (has_exp)
            return err_set(err, ERR_INVAL, "Token Expiration TTL and "
                           "Expiration Time cannot both be set");
        exp = now + ttl;
    } else if (!has_exp) {
        return 0;
    }
    if (exp < now)
        return err_set(err, ERR_INVAL, "ExpirationTime cannot be before "
                       "CreateTime");
    if (exp - now > MAX_TTL_NS)
        return ttl_error("more", MAX_TTL_NS, exp - now, err);
    if (exp - now < MIN_TTL_NS)
        return ttl_error("less", MIN_TTL_NS, exp - now, err);
    set_time(tok, "ExpirationTime", exp);
    return 0;
}

/* A caller-chosen AccessorID or SecretID of a new token, or a new one. */
static int new_id(struct acl_store *s, const char *given, const char *field,
                  char out[UTIL_UUID_LEN + 1], char *err)
{
    if (given[0] == '\0')
        return util_uuid(out, err);
    if (!util_uuid_valid(given))
        return err_set(err, ERR_INVAL, "Invalid Token: %s is not a valid "
                       "UUID", field);
    if (acl_store_token(s, given) != NULL ||
        acl_store_token_by_secret(s, given) != NULL)
        return err_set(err, ERR_EXISTS, "Invalid Token: %s is already in "
                       "use", field);
    if (strncasecmp(given, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0)
        return err_set(err, ERR_INVAL, "Invalid Token: UUIDs with the "
                       "prefix \"%s\" are reserved", RESERVED_PREFIX);
    snprintf(out, UTIL_UUID_LEN + 1, "%s", given);
    return 0;
}

static int create_ids(struct acl_store *s, const json_t *b, int64_t now,
                      json_t *tok, char *err)
{
    char acc[UTIL_UUID_LEN + 1], sec[UTIL_UUID_LEN + 1];

    if (new_id(s, httpd_acl_str(b, "AccessorID"), "AccessorID", acc,
               err) != 0 ||
        new_id(s, httpd_acl_str(b, "SecretID"), "SecretID", sec, err) != 0)
        return ERR_INVAL;
    json_object_set_new(tok, "AccessorID", json_string(acc));
    json_object_set_new(tok, "SecretID", json_string(sec));
    OPENSSL_cleanse(sec, sizeof(sec));
    set_time(tok, "CreateTime", now);
    return create_expiry(b, now, tok, err);
}

/* Update: what may not change, Consul's messages. */
static int update_ids(struct acl_store *s, const json_t *b, const char *id,
                      json_t *tok, char *err)
{
    const json_t *old = acl_store_token(s, id);
    const char *sec = httpd_acl_str(b, "SecretID"), *oexp;
    char q[ERR_QUOTE_MAX + 4];
    int64_t ttl, e1, e2;

    err_quote(q, sizeof(q), id);
    if (!util_uuid_valid(id))
        return err_set(err, ERR_INVAL, "AccessorID is not a valid UUID");
    if (old == NULL || expired(old))
        return err_set(err, ERR_NOTFOUND, "Cannot find token \"%s\"", q);
    if (sec[0] != '\0' && strcmp(sec, httpd_acl_str(old, "SecretID")) != 0)
        return err_set(err, ERR_INVAL, "Changing a tokens SecretID is not "
                       "permitted");
    if (json_is_true(json_object_get(b, "Local")) !=
        json_is_true(json_object_get(old, "Local")))
        return err_set(err, ERR_INVAL, "cannot toggle local mode of %s", q);
    oexp = json_string_value(json_object_get(old, "ExpirationTime"));
    if (body_ttl(b, &ttl, err) != 0 || ttl != 0 ||
        (body_exp(b, &e1) && (oexp == NULL ||
                              util_parse_rfc3339(oexp, &e2, NULL) != 0 ||
                              e1 != e2)))
        return err_set(err, ERR_INVAL, "Cannot change expiration time of "
                       "%s", q);
    json_object_set_new(tok, "AccessorID", json_string(id));
    json_object_set(tok, "SecretID", json_object_get(old, "SecretID"));
    if (oexp != NULL)
        json_object_set_new(tok, "ExpirationTime", json_string(oexp));
    json_object_set(tok, "CreateTime", json_object_get(old, "CreateTime"));
    return 0;
}

/* The complete token to store (*out new), for token-set. */
static int token_build(struct httpd_ctx *c, const json_t *b,
                       const char *url_id, json_t **out, char *err)
{
    struct acl_store *s = store(c);
    bool local = json_is_true(json_object_get(b, "Local"));
    json_t *tok = json_object(), *pol = NULL, *rol = NULL;
    int rc;

    rc = url_id != NULL ? update_ids(s, b, url_id, tok, err)
                        : create_ids(s, b, util_now_ns(), tok, err);
    if (rc == 0)
        rc = httpd_acl_links(s, json_object_get(b, "Policies"), false,
                             &pol, err);
    if (rc == 0)
        rc = httpd_acl_links(s, json_object_get(b, "Roles"), true, &rol,
                             err);
    if (rc == 0) {
        json_object_set_new(tok, "Description",
                            jstr(httpd_acl_str(b, "Description")));
        json_object_set_new(tok, "Policies", pol);
        json_object_set_new(tok, "Roles", rol);
        pol = rol = NULL;
        rc = httpd_acl_identities(b, tok, "token", local, err);
    }
    json_object_set_new(tok, "Local", json_boolean(local));
    if (rc == 0)
        rc = acl_hash(tok, token_hashed, err);
    json_decref(pol);
    json_decref(rol);
    if (rc != 0) {
        json_decref(tok);
        return rc;
    }
    *out = tok;
    return 0;
}

/* ---- token writes ---- */

static void token_set_done(struct httpd_ctx *c, int rc,
                           const struct fsm_result *res, const char *msg)
{
    const json_t *tok;

    if (!httpd_acl_applied(c, rc, res, msg))
        return;
    tok = acl_store_token(store(c), c->data);
    if (tok == NULL) {
        httpd_error(c, 500, "internal", "Failed to retrieve the token "
                                        "after insertion");
        return;
    }
    httpd_send_json(c, 200, acl_store_token_view(store(c), tok));
}

/* Build from the (normalized) body b and write; takes b. */
static void token_write(struct httpd_ctx *c, json_t *b, const char *url_id)
{
    char err[ERR_LEN] = "";
    json_t *tok = NULL;
    int rc = token_build(c, b, url_id, &tok, err);

    json_decref(b);
    if (rc != 0) {
        httpd_acl_refused(c, rc, err);
        return;
    }
    httpd_acl_keep_id(c, httpd_acl_str(tok, "AccessorID"));
    httpd_acl_write(c, "token-set", json_pack("{s:o}", "Token", tok),
                    token_set_done);
}

/* PUT /v1/acl/token (url_id NULL) or /v1/acl/token/<AccessorID>. */
static void token_put(struct httpd_ctx *c, const char *url_id)
{
    json_t *b = httpd_acl_decode(c, "Token", httpd_acl_token_fields,
                                 "ACLToken");
    const char *bid;
    char err[ERR_LEN], msg[ERR_LEN + 32];

    if (b == NULL)
        return;
    bid = httpd_acl_str(b, "AccessorID");
    if (url_id != NULL && bid[0] != '\0' && strcmp(bid, url_id) != 0) {
        json_decref(b);
        httpd_error(c, 400, "bad_request", "Token Accessor ID in URL and "
                                           "payload do not match");
        return;
    }
    if (check_times(b, err) != 0) {
        json_decref(b);
        snprintf(msg, sizeof(msg), "Token decoding failed: %s", err);
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    token_write(c, b, url_id);
}

/* PUT /v1/acl/token/<AccessorID>/clone: body {"Description"}. */
static void token_clone(struct httpd_ctx *c, const char *id)
{
    json_t *b = httpd_acl_decode(c, "Token", httpd_acl_token_fields,
                                 "ACLToken"), *n;
    const json_t *old = acl_store_token(store(c), id);
    static const char *const copied[] = {
        "Description", "Policies", "Roles", "ServiceIdentities",
        "NodeIdentities", "Local", "ExpirationTime", NULL};

    if (b == NULL)
        return;
    if (old == NULL || expired(old)) {
        json_decref(b);
        httpd_error(c, 403, "acl_not_found", "ACL not found");
        return;
    }
    n = json_object();
    for (const char *const *f = copied; *f != NULL; f++)
        if (json_object_get(old, *f) != NULL)
            json_object_set(n, *f, json_object_get(old, *f));
    if (httpd_acl_str(b, "Description")[0] != '\0')
        json_object_set(n, "Description",
                        json_object_get(b, "Description"));
    json_decref(b);
    token_write(c, n, NULL);
}

static void token_delete_done(struct httpd_ctx *c, int rc,
                              const struct fsm_result *res, const char *msg)
{
    if (httpd_acl_applied(c, rc, res, msg))
        httpd_send_json(c, 200, json_true());
}

static bool same_secret(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static void token_delete(struct httpd_ctx *c, const char *id)
{
    const json_t *tok = acl_store_token(store(c), id);
    const char *msg = NULL;

    if (!util_uuid_valid(id))
        msg = "Accessor ID is missing or an invalid UUID";
    else if (strcmp(id, ACL_ANON_ACCESSOR) == 0)
        msg = "Delete operation not permitted on the anonymous token";
    else if (tok != NULL && c->token != NULL &&
             same_secret(c->token, httpd_acl_str(tok, "SecretID")))
        msg = "Deletion of the request's authorization token is not "
              "permitted";
    if (msg != NULL) {
        httpd_error(c, 500, "rejected", msg);
        return;
    }
    if (tok == NULL) {
        httpd_error(c, 404, "not_found", "Cannot find token to delete");
        return;
    }
    httpd_acl_keep_id(c, id);
    httpd_acl_write(c, "token-delete", json_pack("{s:s}", "AccessorID", id),
                    token_delete_done);
}

/* ---- token reads ---- */

static void token_respond(struct httpd_ctx *c)
{
    const json_t *tok = acl_store_token(store(c), c->data);
    json_t *v;

    httpd_meta_headers(c, tokens_index(c));
    if (tok == NULL || expired(tok)) {
        httpd_error(c, 404, "not_found", "Requested token does not exist: "
                                         "ACL not found");
        return;
    }
    v = acl_store_token_view(store(c), tok);
    if (!httpd_acl_can(c, ACL_RES_ACL, NULL, ACL_WRITE))
        v = redact(v);
    httpd_send_json(c, 200, v);
}

static void token_read(struct httpd_ctx *c, const char *id)
{
    if (httpd_read_opts(c) != 0)
        return;
    httpd_acl_keep_id(c, id);
    httpd_blocking_read(c, tokens_index, token_respond);
}

void httpd_acl_token(struct httpd_ctx *c)
{
    const char *rest = c->rest;
    size_t n = strlen(rest);

    if (httpd_acl_off(c) ||
        !httpd_acl_require(c, ACL_RES_ACL, NULL,
                           c->method == HTTPD_GET ? ACL_READ : ACL_WRITE))
        return;
    if (c->method == HTTPD_PUT) {
        if (n > 6 && strcmp(rest + n - 6, "/clone") == 0)
            token_clone(c, h2o_strdup(&c->req->pool, rest, n - 6).base);
        else
            token_put(c, n > 0 ? rest : NULL);
        return;
    }
    if (n == 0)
        httpd_error(c, 400, "bad_request", "Missing token AccessorID");
    else if (c->method == HTTPD_DELETE)
        token_delete(c, rest);
    else
        token_read(c, rest);
}

/* The request's own token: whoever holds a secret may read it. */
static void self_respond(struct httpd_ctx *c)
{
    const json_t *tok = httpd_acl_token_obj(c);

    httpd_meta_headers(c, tokens_index(c));
    if (tok == NULL) {
        httpd_error(c, 403, "acl_not_found", "ACL not found");
        return;
    }
    httpd_send_json(c, 200, acl_store_token_view(store(c), tok));
}

void httpd_acl_token_self(struct httpd_ctx *c)
{
    if (httpd_acl_off(c) || httpd_read_opts(c) != 0)
        return;
    httpd_blocking_read(c, tokens_index, self_respond);
}

static const char *qval(struct httpd_ctx *c, const char *name)
{
    const char *v = httpd_q(c, name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* Consul 1.12+ lists SecretID, redacted to "<hidden>" without
 * acl:write; expired tokens are left out. */
static void tokens_respond(struct httpd_ctx *c)
{
    bool secrets = httpd_acl_can(c, ACL_RES_ACL, NULL, ACL_WRITE);
    json_t *all = acl_store_token_list(store(c), qval(c, "policy"),
                                       qval(c, "role"), secrets);
    json_t *out = json_array(), *t;
    size_t i;

    json_array_foreach(all, i, t) {
        if (expired(t))
            continue;
        json_array_append_new(out, secrets ? json_incref(t)
                                           : redact(json_incref(t)));
    }
    json_decref(all);
    httpd_meta_headers(c, tokens_index(c));
    httpd_send_json(c, 200, out);
}

void httpd_acl_tokens(struct httpd_ctx *c)
{
    if (httpd_acl_off(c) ||
        !httpd_acl_require(c, ACL_RES_ACL, NULL, ACL_READ) ||
        httpd_read_opts(c) != 0)
        return;
    httpd_blocking_read(c, tokens_index, tokens_respond);
}

/* ---- bootstrap ---- */

struct boot {
    char accessor[UTIL_UUID_LEN + 1];
    bool remove_file;  /* the reset came from this server's file */
};

static void reset_path(struct agent *a, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", a->data_dir != NULL ? a->data_dir : ".",
             RESET_FILE);
}

static void remove_reset_file(struct agent *a)
{
    char path[4096];

    reset_path(a, path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT)
        LOG_WARN("acl", "cannot remove '%s': %s", path, strerror(errno));
}

/* The reset index in this server's reset file: 0 when there is none,
 * -1 with msg when it cannot be read or holds anything but an index. */
static int read_reset(struct agent *a, uint64_t *reset, char *msg, size_t n)
{
    char path[4096], buf[64], q[ERR_QUOTE_MAX + 4], qp[ERR_QUOTE_MAX + 4];
    ssize_t got;
    char *s, *e;
    int fd;

    *reset = 0;
    reset_path(a, path, sizeof(path));
    err_quote(qp, sizeof(qp), path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    got = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
    if (got < 0) {
        snprintf(msg, n, "cannot read ACL bootstrap reset file '%.132s': "
                 "%.64s", qp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    buf[got] = '\0';
    for (s = buf; *s != '\0' && strchr(" \t\r\n", *s) != NULL; s++)
        ;
    for (e = s + strlen(s); e > s && strchr(" \t\r\n", e[-1]) != NULL; e--)
        ;
    *e = '\0';
    if ((size_t)got < sizeof(buf) - 1 && httpd_parse_u64(s, reset) == 0 &&
        *reset > 0)
        return 0;
    snprintf(msg, n, "ACL bootstrap reset file '%.132s' must hold the "
             "reset index (a decimal number above 0), not \"%.63s\"", qp,
             err_quote(q, sizeof(q), s));
    return -1;
}

/* hex(HMAC-SHA256(cluster secret, "acl-bootstrap-reset:N")). */
static int reset_proof(const unsigned char *key, uint64_t reset,
                       char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "acl-bootstrap-reset:%" PRIu64,
                     reset);

    if (HMAC(EVP_sha256(), key, 32, (unsigned char *)msg, (size_t)n, mac,
             &len) == NULL || len != 32)
        return ERR_INTERNAL;
    for (unsigned int i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

static void boot_done(struct httpd_ctx *c, int rc,
                      const struct fsm_result *res, const char *msg)
{
    const struct boot *bt = c->data;
    const json_t *tok;
    json_t *v, *out;

    if (!httpd_acl_applied(c, rc, res, msg))
        return;
    if (bt->remove_file)
        remove_reset_file(c->a);
    LOG_INFO("acl", "bootstrap done: management token %.8s...",
             bt->accessor);
    tok = acl_store_token(store(c), bt->accessor);
    if (tok == NULL) {
        httpd_error(c, 500, "internal", "Failed to retrieve the token "
                                        "after insertion");
        return;
    }
    v = acl_store_token_view(store(c), tok);
    out = json_pack("{s:O}", "ID", json_object_get(v, "SecretID"));
    json_object_update(out, v); /* Consul's deprecated "ID" comes first */
    json_decref(v);
    httpd_send_json(c, 200, out);
}

static json_t *boot_token(const char *acc, const char *sec)
{
    json_t *t = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s}],s:[],s:[],s:[],s:b}",
                          "AccessorID", acc, "SecretID", sec,
                          "Description", "Bootstrap Token (Global "
                          "Management)", "Policies", "ID",
                          ACL_GLOBAL_MGMT_ID, "Name", ACL_GLOBAL_MGMT_NAME,
                          "Roles", "ServiceIdentities", "NodeIdentities",
                          "Local", 0);

    if (t != NULL)
        set_time(t, "CreateTime", util_now_ns());
    return t;
}

/* On the leader: reset is 0 or the index an operator wrote into a reset
 * file; secret the caller's BootstrapSecret or NULL. */
static void boot_leader(struct httpd_ctx *c, uint64_t reset,
                        const char *secret, bool from_file)
{
    uint64_t bi = acl_store_bootstrap_index(store(c));
    char err[ERR_LEN] = "", sec[UTIL_UUID_LEN + 1];
    struct boot *bt = h2o_mem_alloc_pool(&c->req->pool, sizeof(*bt));
    json_t *tok;

    if (bi != 0 && reset == 0) {
        snprintf(err, sizeof(err), "ACL bootstrap no longer allowed "
                 "(reset index: %" PRIu64 ")", bi);
        httpd_acl_refused(c, ERR_DENIED, err);
        return;
    }
    if (bi != 0 && reset != bi) {
        snprintf(err, sizeof(err), "Invalid bootstrap reset index "
                 "(specified %" PRIu64 ", reset index: %" PRIu64 ")",
                 reset, bi);
        httpd_acl_refused(c, ERR_INVAL, err);
        return;
    }
    if (secret != NULL && acl_store_token_by_secret(store(c), secret)) {
        httpd_acl_refused(c, ERR_EXISTS, "Provided token cannot be used "
                          "because a token with that secret already "
                          "exists.");
        return;
    }
    if (util_uuid(bt->accessor, err) != 0 ||
        (secret == NULL && util_uuid(sec, err) != 0)) {
        httpd_error(c, 500, "internal", err);
        return;
    }
    tok = boot_token(bt->accessor, secret != NULL ? secret : sec);
    OPENSSL_cleanse(sec, sizeof(sec));
    if (tok != NULL && acl_hash(tok, token_hashed, err) != 0) {
        json_decref(tok);
        tok = NULL;
    }
    bt->remove_file = from_file;
    c->data = bt;
    httpd_acl_write(c, "bootstrap", tok == NULL ? NULL :
                    json_pack("{s:o,s:I}", "Token", tok, "ResetIndex",
                              (json_int_t)(bi != 0 ? reset : 0)), boot_done);
}

/* ---- a follower with a reset file ---- */

struct boot_call {
    struct httpd_pending *p;
    struct agent *a;
};

static const char *resp_header(const struct rpc_response *r,
                               const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static void boot_reply(void *ctx, int rc, const struct rpc_response *r,
                       const char *err)
{
    struct boot_call *bc = ctx;
    struct httpd_ctx *c = httpd_async_end(bc->p);
    char msg[ERR_LEN + 32];

    if (rc == 0 && r->status == 200)
        remove_reset_file(bc->a); /* even if our client went away */
    if (c != NULL && rc == 0) {
        httpd_send_body(c, r->status, resp_header(r, "Content-Type"),
                        r->body, r->body_len);
    } else if (c != NULL) {
        snprintf(msg, sizeof(msg), "rpc error making call: %s", err);
        httpd_error(c, 500, "rpc_error", msg);
    }
    free(bc);
}

static char *boot_body(const unsigned char *key, uint64_t reset,
                       const char *secret)
{
    char proof[65];
    json_t *o;
    char *s;

    if (reset_proof(key, reset, proof) != 0)
        return NULL;
    o = json_pack("{s:I,s:s}", "ResetIndex", (json_int_t)reset, "Proof",
                  proof);
    if (o != NULL && secret != NULL)
        json_object_set_new(o, "BootstrapSecret", json_string(secret));
    s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    OPENSSL_cleanse(proof, sizeof(proof));
    return s;
}

static void boot_remote(struct httpd_ctx *c, uint64_t reset,
                        const char *secret)
{
    static const struct rpc_header h[] = {
        {"Content-Type", "application/json"}};
    const unsigned char *key = acl_store_secret(store(c));
    const char *leader = agent_leader(c->a);
    struct boot_call *bc;
    char err[ERR_LEN], *body;
    int rc;

    if (key == NULL) {
        httpd_error(c, 500, "not_ready", "ACL system not initialized yet");
        return;
    }
    if (leader == NULL || c->a->rpcc == NULL) {
        httpd_error(c, 500, "no_leader", "No cluster leader");
        return;
    }
    body = boot_body(key, reset, secret);
    bc = calloc(1, sizeof(*bc));
    if (body == NULL || bc == NULL ||
        (bc->p = httpd_async_begin(c)) == NULL) {
        free(body);
        free(bc);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    bc->a = c->a;
    rc = rpc_http_call(c->a->rpcc, leader, "POST", BOOT_TARGET, h, 1, body,
                       strlen(body), BOOT_CALL_MS, boot_reply, bc, NULL,
                       err);
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    if (rc != 0) {
        char msg[ERR_LEN + 32];

        c = httpd_async_end(bc->p);
        free(bc);
        snprintf(msg, sizeof(msg), "rpc error making call: %s", err);
        if (c != NULL)
            httpd_error(c, 500, "rpc_error", msg);
    }
}

/* A new leader creates the built-in policy and the configured management
 * token first (agent_acl_leader): until then a bootstrap waits, for up
 * to 5 s, rather than race it. */
#define BOOT_WAIT_MS 50
#define BOOT_WAIT_TRIES 100

void httpd_acl_bootstrap(struct httpd_ctx *c)
{
    static const struct httpd_acl_field fields[] = {
        {"BootstrapSecret", HTTPD_ACL_F_STR, NULL, "string"},
        {NULL, 0, NULL, NULL},
    };
    char secret[UTIL_UUID_LEN + 1] = "", msg[ERR_LEN + 64];
    uint64_t reset;
    json_t *b;

    if (httpd_acl_off(c))
        return;
    if (!c->a->has_raft) {
        httpd_error(c, 500, "no_servers", "No known Consul servers");
        return;
    }
    if ((b = httpd_acl_decode(c, "Request", fields, "BootstrapRequest")) ==
        NULL)
        return;
    if (httpd_acl_str(b, "BootstrapSecret")[0] != '\0' &&
        !util_uuid_valid(httpd_acl_str(b, "BootstrapSecret"))) {
        json_decref(b);
        httpd_error(c, 400, "bad_request", "Invalid BootstrapSecret: not a "
                                           "valid UUID");
        return;
    }
    snprintf(secret, sizeof(secret), "%s", httpd_acl_str(b,
                                                         "BootstrapSecret"));
    json_decref(b);
    if (agent_is_leader(c->a) && !agent_acl_ready(c->a)) {
        uintptr_t n = (uintptr_t)c->data;

        if (n >= BOOT_WAIT_TRIES) {
            httpd_error(c, 500, "not_ready", "ACL system not initialized "
                        "yet");
            return;
        }
        c->data = (void *)(n + 1);
        httpd_later(c, BOOT_WAIT_MS, httpd_acl_bootstrap);
        return;
    }
    if (read_reset(c->a, &reset, msg, sizeof(msg)) != 0)
        httpd_error(c, 500, "bad_reset_file", msg);
    else if (agent_is_leader(c->a))
        boot_leader(c, reset, secret[0] ? secret : NULL, reset != 0);
    else if (reset != 0)
        boot_remote(c, reset, secret[0] ? secret : NULL);
    else if (httpd_hops(c) >= MAX_HOPS)
        httpd_error(c, 500, "no_leader", "No cluster leader");
    else
        httpd_forward(c, httpd_acl_bootstrap);
    OPENSSL_cleanse(secret, sizeof(secret));
}

void httpd_internal_acl_bootstrap(struct httpd_ctx *c)
{
    static const struct httpd_acl_field fields[] = {
        {"ResetIndex", HTTPD_ACL_F_UINT, NULL, "uint64"},
        {"Proof", HTTPD_ACL_F_STR, NULL, "string"},
        {"BootstrapSecret", HTTPD_ACL_F_STR, NULL, "string"},
        {NULL, 0, NULL, NULL},
    };
    const unsigned char *key = acl_store_secret(store(c));
    char want[65] = "", secret[UTIL_UUID_LEN + 1];
    const char *proof, *sec;
    json_t *b;
    uint64_t reset;
    bool ok;

    if (httpd_acl_off(c))
        return;
    if (key == NULL) {
        httpd_error(c, 500, "not_ready", "ACL system not initialized yet");
        return;
    }
    if ((b = httpd_acl_decode(c, "Request", fields, "BootstrapRequest")) ==
        NULL)
        return;
    reset = (uint64_t)json_integer_value(json_object_get(b, "ResetIndex"));
    proof = httpd_acl_str(b, "Proof");
    sec = httpd_acl_str(b, "BootstrapSecret");
    ok = reset > 0 && strlen(proof) == 64 &&
         reset_proof(key, reset, want) == 0 &&
         CRYPTO_memcmp(want, proof, 64) == 0 &&
         (sec[0] == '\0' || util_uuid_valid(sec));
    snprintf(secret, sizeof(secret), "%s", sec);
    json_decref(b);
    OPENSSL_cleanse(want, sizeof(want));
    if (!ok)
        httpd_acl_refused(c, ERR_DENIED, "invalid ACL bootstrap reset "
                                         "proof");
    else if (!agent_is_leader(c->a))
        httpd_error(c, 500, "no_leader", "No cluster leader");
    else
        boot_leader(c, reset, secret[0] ? secret : NULL, false);
    OPENSSL_cleanse(secret, sizeof(secret));
}

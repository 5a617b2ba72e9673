/* acl_token.c - "consul acl token create|read|list|update|delete|clone".
 *
 * Endpoints: PUT /v1/acl/token, GET /v1/acl/token/<accessor>,
 *            GET /v1/acl/token/self, PUT /v1/acl/token/<accessor>,
 *            DELETE /v1/acl/token/<accessor>,
 *            PUT /v1/acl/token/<accessor>/clone {"Description"},
 *            GET /v1/acl/tokens (list, and to expand an ID prefix),
 *            GET /v1/acl/policies|roles (to expand -policy-id/-role-id).
 * Output and messages follow Consul 1.x's command/acl/token and its
 * formatter (18-column labels). -expanded is accepted and prints the
 * plain token. Exit codes as acl.c.
 * Tests: t/t3003-acl-cli.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_cli.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

struct tok_flags {
    const char *accessor, *secret, *description, *id, *accessor_id;
    struct opt_list pol_ids, pol_names, role_ids, role_names, svc, node;
    struct opt_list add_pol_ids, add_pol_names, add_role_ids,
        add_role_names, add_svc, add_node;
    bool local, self, expanded, merge_pol, merge_role, merge_svc,
        merge_node;
    int64_t ttl_ms;
};

/* ---- output --------------------------------------------------------- */

static void print_body(const json_t *t, bool meta, bool list_entry)
{
    const char *exp = aclc_str(t, "ExpirationTime");
    char when[128];

    printf("AccessorID:       %s\n", aclc_str(t, "AccessorID"));
    if (!list_entry || json_object_get(t, "SecretID") != NULL)
        printf("SecretID:         %s\n", aclc_str(t, "SecretID"));
    if (aclc_str(t, "Partition")[0] != '\0')
        printf("Partition:        %s\n", aclc_str(t, "Partition"));
    if (aclc_str(t, "Namespace")[0] != '\0')
        printf("Namespace:        %s\n", aclc_str(t, "Namespace"));
    printf("Description:      %s\n", aclc_str(t, "Description"));
    printf("Local:            %s\n",
           json_is_true(json_object_get(t, "Local")) ? "true" : "false");
    if (aclc_str(t, "AuthMethod")[0] != '\0')
        printf("Auth Method:      %s (Namespace: %s)\n",
               aclc_str(t, "AuthMethod"),
               aclc_str(t, "AuthMethodNamespace"));
    aclc_time(aclc_str(t, "CreateTime"), when, sizeof(when));
    printf("Create Time:      %s\n", when);
    if (exp[0] != '\0' && strncmp(exp, "0001-01-01T00:00:00", 19) != 0) {
        aclc_time(exp, when, sizeof(when));
        printf("Expiration Time:  %s\n", when);
    }
    if (meta)
        aclc_print_meta(t, "", 18);
    aclc_print_links(t, "Policies", "Policies:", "");
    aclc_print_links(t, "Roles", "Roles:", "");
    aclc_print_svc_idents(t, "");
    aclc_print_node_idents(t, "");
}

void aclc_print_token(const struct aclc_cmd *k, const json_t *t)
{
    if (aclc_json(k)) {
        aclc_print_json(t);
        return;
    }
    print_body(t, k->meta, false);
    putchar('\n');
}

static void print_list(const struct aclc_cmd *k, const json_t *list)
{
    const json_t *t;
    size_t i;

    if (aclc_json(k)) {
        aclc_print_json(list);
        return;
    }
    json_array_foreach(list, i, t) {
        if (i > 0)
            putchar('\n');
        print_body(t, k->meta, true);
    }
    if (json_array_size(list) > 0)
        putchar('\n');
}

/* ---- flags ---------------------------------------------------------- */

static int ttl_flag(void *ctx, const char *name, const char *val, char *err)
{
    if (opt_parse_duration(val, false, ctx) == 0)
        return 0;
    return err_set(err, ERR_INVAL, "invalid value \"%.128s\" for flag -%s: "
                   "parse error", val, name);
}

static void link_opts(struct aclc_cmd *k, struct tok_flags *f)
{
    aclc_opt(k, "description", OPT_STR, &f->description,
             "A description of the token.");
    aclc_opt(k, "policy-id", OPT_STRLIST, &f->pol_ids,
             "ID (or unique ID prefix) of a policy for this token. May be "
             "given more than once.");
    aclc_opt(k, "policy-name", OPT_STRLIST, &f->pol_names,
             "Name of a policy for this token. May be given more than "
             "once.");
    aclc_opt(k, "role-id", OPT_STRLIST, &f->role_ids,
             "ID (or unique ID prefix) of a role for this token. May be "
             "given more than once.");
    aclc_opt(k, "role-name", OPT_STRLIST, &f->role_names,
             "Name of a role for this token. May be given more than once.");
    aclc_opt(k, "service-identity", OPT_STRLIST, &f->svc,
             "A service identity for this token, SERVICENAME or "
             "SERVICENAME:DC1,DC2,... May be given more than once.");
    aclc_opt(k, "node-identity", OPT_STRLIST, &f->node,
             "A node identity for this token, NODENAME:DATACENTER. May be "
             "given more than once.");
}

static void accessor_opts(struct aclc_cmd *k, struct tok_flags *f,
                          const char *verb)
{
    static char help[160];

    snprintf(help, sizeof(help), "The Accessor ID of the token to %s. It "
             "may be a unique prefix of an Accessor ID.", verb);
    aclc_opt(k, "accessor-id", OPT_STR, &f->accessor_id, help);
    aclc_opt(k, "id", OPT_STR, &f->id, "DEPRECATED. Use -accessor-id "
             "instead.");
}

/* -accessor-id, else the deprecated -id (with Consul's warning), else
 * NULL after printing missing. */
static const char *accessor_of(const struct tok_flags *f,
                               const char *missing, const char *warn)
{
    if (f->accessor_id != NULL && f->accessor_id[0] != '\0')
        return f->accessor_id;
    if (f->id == NULL || f->id[0] == '\0') {
        fprintf(stderr, "%s\n", missing);
        return NULL;
    }
    fprintf(stderr, "%s\n", warn);
    return f->id;
}

/* Expand an accessor prefix; 1 after Consul's message. */
static int resolve(struct aclc_cmd *k, const char *partial, char *id,
                   const char *what)
{
    char err[ERR_LEN];

    if (aclc_resolve(k, ACLC_TOKEN, partial, id, err) == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", what, err);
    return 1;
}

/* ---- create --------------------------------------------------------- */

static const struct aclc_help create_help = {
    "consul acl token create [options]",
    "  Creates a token. Link policies and roles by name or by ID (a "
    "unique ID\n"
    "  prefix will do), and add service or node identities; at least one "
    "is\n"
    "  required.\n\n"
    "      $ consul acl token create -description \"web servers\" \\\n"
    "                                -policy-name web -role-id c630d4ef \\\n"
    "                                -service-identity \"web:dc1,dc2\""};

static bool has_grants(const struct tok_flags *f)
{
    return f->pol_ids.n + f->pol_names.n + f->role_ids.n + f->role_names.n +
               f->svc.n + f->node.n > 0;
}

/* Store an identity list (takes it); -1 if it is NULL (an error). */
static int set_idents(json_t *o, const char *key, json_t *list)
{
    if (list == NULL)
        return -1;
    json_object_set_new(o, key, list);
    return 0;
}

static void set_str(json_t *o, const char *key, const char *val)
{
    if (val != NULL && val[0] != '\0')
        json_object_set_new(o, key, json_string(val));
}

/* Identities, then policies, then roles, as Consul builds them; NULL
 * after printing the error. */
static json_t *create_body(struct aclc_cmd *k, const struct tok_flags *f)
{
    json_t *b = json_object(), *pol = json_array(), *roles = json_array();
    char err[ERR_LEN], ttl[64];
    int rc = 1;

    json_object_set_new(b, "Description",
                        json_string(f->description ? f->description : ""));
    json_object_set_new(b, "Local", json_boolean(f->local));
    set_str(b, "AccessorID", f->accessor);
    set_str(b, "SecretID", f->secret);
    if (f->ttl_ms > 0) {
        opt_format_duration(f->ttl_ms, ttl, sizeof(ttl));
        json_object_set_new(b, "ExpirationTTL", json_string(ttl));
    }
    json_object_set_new(b, "Policies", pol);
    json_object_set_new(b, "Roles", roles);
    if (set_idents(b, "ServiceIdentities", aclc_service_idents(&f->svc,
                                                               err)) != 0 ||
        set_idents(b, "NodeIdentities", aclc_node_idents(&f->node,
                                                         err)) != 0)
        fprintf(stderr, "%s\n", err);
    else
        rc = aclc_add_links(k, pol, ACLC_POLICY, &f->pol_names,
                            &f->pol_ids, false) ||
             aclc_add_links(k, roles, ACLC_ROLE, &f->role_names,
                            &f->role_ids, false);
    if (rc == 0)
        return b;
    json_decref(b);
    return NULL;
}

static int create_run(struct aclc_cmd *k, const struct tok_flags *f)
{
    json_t *body, *tok = NULL;
    char err[ERR_LEN];
    int rc;

    if (!has_grants(f)) {
        fprintf(stderr, "Cannot create a token without specifying "
                "-policy-name, -policy-id, -role-name, -role-id, "
                "-service-identity, or -node-identity at least once\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0 || (body = create_body(k, f)) == NULL)
        return 1;
    rc = aclc_call(k, "PUT", "/v1/acl/token", body, &tok, NULL, err);
    json_decref(body);
    if (rc != 0) {
        fprintf(stderr, "Failed to create new token: %s\n", err);
        return 1;
    }
    aclc_print_token(k, tok);
    json_decref(tok);
    return 0;
}

static int token_create(int argc, char **argv)
{
    struct tok_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    aclc_opt(&k, "accessor", OPT_STR, &f.accessor, "Create the token with "
             "this Accessor ID (a UUID). Generated if not given.");
    aclc_opt(&k, "secret", OPT_STR, &f.secret, "Create the token with this "
             "Secret ID (a UUID). Generated if not given.");
    aclc_opt(&k, "local", OPT_BOOL, &f.local, "Create this as a "
             "datacenter local token.");
    aclc_opt(&k, "expires-ttl", OPT_FUNC, &f.ttl_ms, "Duration of time "
             "this token should be valid for (\"15m\", \"24h\").");
    k.opts[k.n - 1].fn = ttl_flag;
    k.opts[k.n - 1].arg = "<duration>";
    link_opts(&k, &f);
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &create_help, argc, argv, &rest)) < 0)
        rc = create_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- read ----------------------------------------------------------- */

static const struct aclc_help read_help = {
    "consul acl token read [options] -accessor-id ACCESSOR",
    "  Prints one token, by Accessor ID (or a unique prefix of one), or "
    "the\n"
    "  token the request carries (-self).\n\n"
    "      $ consul acl token read -accessor-id 4be56c77-82\n"
    "      $ consul acl token read -self -token-file=/etc/consul/token"};

static int read_run(struct aclc_cmd *k, const struct tok_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN], q[ERR_LEN];
    const char *acc;
    json_t *tok = NULL;

    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (f->self && f->expanded) {
        fprintf(stderr, "Cannot use both -expanded and -self. Instead, use "
                "-expanded and -id=<accessor id>.\n");
        return 1;
    }
    if (f->self) {
        if (aclc_call(k, "GET", "/v1/acl/token/self", NULL, &tok, NULL,
                      err) != 0) {
            fprintf(stderr, "Error reading token: %s\n", err);
            return 1;
        }
    } else {
        acc = accessor_of(f, "Must specify the -accessor-id parameter",
                          "Use the -accessor-id parameter to specify token "
                          "by Accessor ID");
        if (acc == NULL || resolve(k, acc, id, "Error determining token "
                                               "ID") != 0)
            return 1;
        aclc_path(path, sizeof(path), "/v1/acl/token/", id, "");
        if (aclc_call(k, "GET", path, NULL, &tok, NULL, err) != 0) {
            aclc_quote(id, q, sizeof(q));
            fprintf(stderr, "Error reading token %s: %s\n", q, err);
            return 1;
        }
    }
    aclc_print_token(k, tok);
    json_decref(tok);
    return 0;
}

static int token_read(int argc, char **argv)
{
    struct tok_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    accessor_opts(&k, &f, "read");
    aclc_opt(&k, "self", OPT_BOOL, &f.self, "Read the token the request "
             "carries (-token, CONSUL_HTTP_TOKEN...) instead of one "
             "given by -accessor-id.");
    aclc_opt(&k, "expanded", OPT_BOOL, &f.expanded, "Accepted for "
             "compatibility; prints the token as without it.");
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &read_help, argc, argv, &rest)) < 0)
        rc = read_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- list ----------------------------------------------------------- */

static const struct aclc_help list_help = {
    "consul acl token list [options]",
    "  Lists every token the request's token may read.\n\n"
    "      $ consul acl token list"};

static int token_list(int argc, char **argv)
{
    struct aclc_cmd k;
    char err[ERR_LEN];
    json_t *list = NULL;
    int rc, rest;

    aclc_init(&k);
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &list_help, argc, argv, &rest)) >= 0)
        goto out;
    rc = 1;
    if (aclc_connect(&k, NULL) != 0)
        goto out;
    if (aclc_call(&k, "GET", "/v1/acl/tokens", NULL, &list, NULL,
                  err) != 0) {
        fprintf(stderr, "Failed to retrieve the token list: %s\n", err);
        goto out;
    }
    print_list(&k, list);
    rc = 0;
out:
    json_decref(list);
    aclc_release(&k);
    return rc;
}

/* ---- delete --------------------------------------------------------- */

static const struct aclc_help delete_help = {
    "consul acl token delete [options] -accessor-id ACCESSOR",
    "  Deletes a token by Accessor ID or a unique prefix of one.\n\n"
    "      $ consul acl token delete -accessor-id 4be56c77-82"};

static int delete_run(struct aclc_cmd *k, const struct tok_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN], q[ERR_LEN];
    const char *acc;

    acc = accessor_of(f, "Must specify the -accessor-id parameter",
                      "Use the -accessor-id parameter to specify token by "
                      "Accessor ID.");
    if (acc == NULL || aclc_connect(k, NULL) != 0 ||
        resolve(k, acc, id, "Error determining token ID") != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "");
    aclc_quote(id, q, sizeof(q));
    if (aclc_call(k, "DELETE", path, NULL, NULL, NULL, err) != 0) {
        fprintf(stderr, "Error deleting token %s: %s\n", q, err);
        return 1;
    }
    printf("Token %s deleted successfully\n", q);
    return 0;
}

static int token_delete(int argc, char **argv)
{
    struct tok_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    accessor_opts(&k, &f, "delete");
    if ((rc = aclc_parse(&k, &delete_help, argc, argv, &rest)) < 0)
        rc = delete_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- clone ---------------------------------------------------------- */

static const struct aclc_help clone_help = {
    "consul acl token clone [options] -accessor-id ACCESSOR",
    "  Copies a token's policies, roles and identities into a new token,\n"
    "  optionally with another description.\n\n"
    "      $ consul acl token clone -accessor-id abcd -description "
    "\"replication\""};

static int clone_run(struct aclc_cmd *k, const struct tok_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN];
    json_t *body, *tok = NULL;
    const char *acc;
    int rc;

    acc = accessor_of(f, "Cannot update a token without specifying the "
                      "-accessor-id parameter", "The -id parameter is "
                      "deprecated. Use the -accessor-id parameter instead.");
    if (acc == NULL || aclc_connect(k, NULL) != 0 ||
        resolve(k, acc, id, "Error determining token Accessor ID") != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "/clone");
    body = json_pack("{s:s}", "Description",
                     f->description != NULL ? f->description : "");
    rc = aclc_call(k, "PUT", path, body, &tok, NULL, err);
    json_decref(body);
    if (rc != 0) {
        fprintf(stderr, "Error cloning token: %s\n", err);
        return 1;
    }
    aclc_print_token(k, tok);
    json_decref(tok);
    return 0;
}

static int token_clone(int argc, char **argv)
{
    struct tok_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    accessor_opts(&k, &f, "clone");
    aclc_opt(&k, "description", OPT_STR, &f.description,
             "A description of the new cloned token.");
    aclc_format_opts(&k, false);
    if ((rc = aclc_parse(&k, &clone_help, argc, argv, &rest)) < 0)
        rc = clone_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- update --------------------------------------------------------- */

static const struct aclc_help update_help = {
    "consul acl token update [options] -accessor-id ACCESSOR",
    "  Updates a token. Its Local flag cannot change. -policy-*, -role-*, "
    "and\n"
    "  the identity flags replace the token's lists; the -append-* "
    "variants\n"
    "  (or the deprecated -merge-* switches) add to them. Service and "
    "node\n"
    "  identities are replaced even when no such flag is given, as "
    "Consul does.\n\n"
    "      $ consul acl token update -accessor-id abcd -description "
    "\"replication\" \\\n"
    "                                -append-policy-name "
    "\"token-replication\""};

/* The array under key in t, created (or emptied when reset). */
static json_t *list_of(json_t *t, const char *key, bool reset)
{
    json_t *a = json_object_get(t, key);

    if (reset || !json_is_array(a)) {
        a = json_array();
        json_object_set_new(t, key, a);
    }
    return a;
}

/* Policies or roles (kind) of token t as Consul's update changes them. */
static int update_links(struct aclc_cmd *k, json_t *t, enum aclc_kind kind,
                        const struct opt_list *const l[4], bool merge)
{
    const char *key = kind == ACLC_POLICY ? "Policies" : "Roles";
    const char *what = kind == ACLC_POLICY ? "policy" : "role";
    const char *many = kind == ACLC_POLICY ? "policies" : "roles";
    bool set = l[0]->n + l[1]->n > 0, add = l[2]->n + l[3]->n > 0;

    if (merge) {
        fprintf(stderr, "merge-%s is deprecated and will be removed in a "
                "future Consul version. Use `append-%s-name` or "
                "`append-%s-id` instead.\n",
                many, what, what);
        return aclc_add_links(k, list_of(t, key, false), kind, l[0], l[1],
                              true);
    }
    if (set && add) {
        fprintf(stderr, "Cannot combine the use of %s-id/%s-name flags "
                "with append- variants. To set or overwrite existing %s, "
                "use -%s-id or -%s-name. To append to existing %s, use "
                "-append-%s-id or -append-%s-name.\n", what, what, many,
                what, what, many, what, what);
        return 1;
    }
    return set ? aclc_add_links(k, list_of(t, key, true), kind, l[0], l[1],
                                false)
               : aclc_add_links(k, list_of(t, key, false), kind, l[2], l[3],
                                false);
}

static json_t *idents_of(bool node, const struct opt_list *l, char *err)
{
    return node ? aclc_node_idents(l, err) : aclc_service_idents(l, err);
}

static int update_idents(json_t *t, bool node, const struct opt_list *set,
                         const struct opt_list *add, bool merge)
{
    const char *key = node ? "NodeIdentities" : "ServiceIdentities";
    const char *what = node ? "node" : "service";
    json_t *parsed;
    char err[ERR_LEN];

    if (set->n > 0 && add->n > 0) {
        fprintf(stderr, "Cannot combine the use of %s-identity flag with "
                "append-%s-identity. To set or overwrite existing %s "
                "identities, use -%s-identity. To append to existing %s "
                "identities, use -append-%s-identity.\n", what, what, what,
                what, what, what);
        return 1;
    }
    if ((parsed = idents_of(node, add->n > 0 ? add : set, err)) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (!merge && add->n == 0) {
        json_object_set_new(t, key, parsed);
        return 0;
    }
    aclc_merge_idents(t, parsed, node);
    return 0;
}

static int update_apply(struct aclc_cmd *k, json_t *t,
                        const struct tok_flags *f)
{
    const struct opt_list *const pol[4] = {&f->pol_names, &f->pol_ids,
                                           &f->add_pol_names,
                                           &f->add_pol_ids};
    const struct opt_list *const roles[4] = {&f->role_names, &f->role_ids,
                                             &f->add_role_names,
                                             &f->add_role_ids};

    /* An empty -description keeps the current one, as Consul. */
    if (f->description != NULL && f->description[0] != '\0')
        json_object_set_new(t, "Description", json_string(f->description));
    if (update_idents(t, false, &f->svc, &f->add_svc, f->merge_svc) != 0 ||
        update_idents(t, true, &f->node, &f->add_node, f->merge_node) != 0)
        return 1;
    if (update_links(k, t, ACLC_POLICY, pol, f->merge_pol) != 0 ||
        update_links(k, t, ACLC_ROLE, roles, f->merge_role) != 0)
        return 1;
    return 0;
}

static int update_run(struct aclc_cmd *k, const struct tok_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN];
    json_t *tok = NULL, *out = NULL;
    const char *acc;
    int rc = 1;

    acc = accessor_of(f, "Cannot update a token without specifying the "
                      "-accessor-id parameter", "Use the -accessor-id "
                      "parameter to specify token by Accessor ID");
    if (acc == NULL || aclc_connect(k, NULL) != 0 ||
        resolve(k, acc, id, "Error determining token ID") != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "");
    if (aclc_call(k, "GET", path, NULL, &tok, NULL, err) != 0 ||
        !json_is_object(tok)) {
        fprintf(stderr, "Error when retrieving current token: %s\n",
                tok != NULL ? "not a token object" : err);
    } else if (update_apply(k, tok, f) == 0) {
        if (aclc_call(k, "PUT", path, tok, &out, NULL, err) != 0) {
            fprintf(stderr, "Failed to update token %s: %s\n", id, err);
        } else {
            aclc_print_token(k, out);
            rc = 0;
        }
    }
    json_decref(tok);
    json_decref(out);
    return rc;
}

static void update_opts(struct aclc_cmd *k, struct tok_flags *f)
{
    aclc_opt(k, "append-policy-id", OPT_STRLIST, &f->add_pol_ids,
             "ID of a policy to add to this token; it keeps its others.");
    aclc_opt(k, "append-policy-name", OPT_STRLIST, &f->add_pol_names,
             "Name of a policy to add to this token; it keeps its others.");
    aclc_opt(k, "append-role-id", OPT_STRLIST, &f->add_role_ids,
             "ID of a role to add to this token; it keeps its others.");
    aclc_opt(k, "append-role-name", OPT_STRLIST, &f->add_role_names,
             "Name of a role to add to this token; it keeps its others.");
    aclc_opt(k, "append-service-identity", OPT_STRLIST, &f->add_svc,
             "A service identity to add to this token; it keeps its "
             "others.");
    aclc_opt(k, "append-node-identity", OPT_STRLIST, &f->add_node,
             "A node identity to add to this token; it keeps its others.");
    aclc_opt(k, "merge-policies", OPT_BOOL, &f->merge_pol, "DEPRECATED. "
             "Use -append-policy-id or -append-policy-name instead.");
    aclc_opt(k, "merge-roles", OPT_BOOL, &f->merge_role, "DEPRECATED. "
             "Use -append-role-id or -append-role-name instead.");
    aclc_opt(k, "merge-service-identities", OPT_BOOL, &f->merge_svc,
             "DEPRECATED. Use -append-service-identity instead.");
    aclc_opt(k, "merge-node-identities", OPT_BOOL, &f->merge_node,
             "DEPRECATED. Use -append-node-identity instead.");
}

static int token_update(int argc, char **argv)
{
    struct tok_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    accessor_opts(&k, &f, "update");
    link_opts(&k, &f);
    update_opts(&k, &f);
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &update_help, argc, argv, &rest)) < 0)
        rc = update_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- group ---------------------------------------------------------- */

static const struct aclc_verb token_verbs[] = {
    {"clone", token_clone, "Clone an ACL token"},
    {"create", token_create, "Create an ACL token"},
    {"delete", token_delete, "Delete an ACL token"},
    {"list", token_list, "List ACL tokens"},
    {"read", token_read, "Read an ACL token"},
    {"update", token_update, "Update an ACL token"},
};

static const struct aclc_group token_group = {
    "consul acl token <subcommand> [options] [args]",
    "  Creates, reads, updates, clones, lists and deletes ACL tokens. "
    "Tokens are\n"
    "  named by their Accessor ID, or by a unique prefix of it.\n\n"
    "      $ consul acl token create -description \"web\" "
    "-policy-name web\n"
    "      $ consul acl token list\n"
    "      $ consul acl token read -accessor-id 986193\n"
    "      $ consul acl token read -self\n"
    "      $ consul acl token delete -accessor-id 986193",
    token_verbs, (int)(sizeof(token_verbs) / sizeof(token_verbs[0]))};

int aclc_token(int argc, char **argv)
{
    return aclc_run_group(&token_group, argc, argv);
}

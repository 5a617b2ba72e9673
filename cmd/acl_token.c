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
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl_cli.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

struct tok_flags {
    const char *accessor, *secret, *id, *accessor_id;
    struct aclc_grants g; /* and -role-id, -role-name: */
    struct opt_list role_ids, role_names;
    struct opt_list add_pol_ids, add_pol_names, add_role_ids,
        add_role_names, add_svc, add_node;
    bool local, self, expanded, merge_pol, merge_role, merge_svc,
        merge_node;
    int64_t ttl_ms;
};

/* ---- output --------------------------------------------------------- */

/* "2006-01-02T15:04:05.999999999Z07:00" into its parts; false if not. */
static bool parse_rfc3339(const char *s, struct tm *tm, char *frac,
                          int *off_min, bool *utc)
{
    int n = 0, oh, om;
    size_t fl = 0;

    memset(tm, 0, sizeof(*tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm->tm_year, &tm->tm_mon,
               &tm->tm_mday, &tm->tm_hour, &tm->tm_min, &tm->tm_sec,
               &n) != 6 || n != 19)
        return false;
    s += n;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s) && fl < 9; s++)
            frac[fl++] = *s;
    while (fl > 0 && frac[fl - 1] == '0') /* Go's .999999999 */
        fl--;
    frac[fl] = '\0';
    *utc = (*s == 'Z');
    *off_min = 0;
    if (!*utc && ((*s != '+' && *s != '-') ||
                  sscanf(s + 1, "%2d:%2d", &oh, &om) != 2))
        return false;
    if (!*utc)
        *off_min = (*s == '-' ? -1 : 1) * (oh * 60 + om);
    tm->tm_year -= 1900;
    tm->tm_mon -= 1;
    return true;
}

/* A JSON time (RFC 3339) as Go's time.Time %v prints it. */
static void go_time(const char *s, char *out, size_t n)
{
    char frac[16], zone[64], offs[8];
    struct tm tm, loc;
    bool utc;
    int off;
    time_t t;

    if (s == NULL || s[0] == '\0')
        s = "0001-01-01T00:00:00Z";
    if (!parse_rfc3339(s, &tm, frac, &off, &utc)) {
        snprintf(out, n, "%s", s);
        return;
    }
    /* Go keeps the zone name only when the offset is Local's then. */
    snprintf(offs, sizeof(offs), "%c%02d%02d", off < 0 ? '-' : '+',
             abs(off) / 60 % 100, abs(off) % 60);
    t = timegm(&tm) - (time_t)off * 60;
    if (utc)
        snprintf(zone, sizeof(zone), "+0000 UTC");
    else if (localtime_r(&t, &loc) != NULL && loc.tm_gmtoff == off * 60L &&
             loc.tm_zone != NULL)
        snprintf(zone, sizeof(zone), "%s %.32s", offs, loc.tm_zone);
    else
        snprintf(zone, sizeof(zone), "%s %s", offs, offs);
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d%s%s %s",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac[0] != '\0' ? "." : "", frac, zone);
}

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
    go_time(aclc_str(t, "CreateTime"), when, sizeof(when));
    printf("Create Time:      %s\n", when);
    if (exp[0] != '\0' && strncmp(exp, "0001-01-01T00:00:00", 19) != 0) {
        go_time(exp, when, sizeof(when));
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

static void print_entry(const struct aclc_cmd *k, const json_t *t)
{
    print_body(t, k->meta, true);
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
    aclc_grant_opts(k, &f->g, "token");
    aclc_opt(k, "role-id", OPT_STRLIST, &f->role_ids,
             "ID (or unique ID prefix) of a role for this token. May be "
             "given more than once.");
    aclc_opt(k, "role-name", OPT_STRLIST, &f->role_names,
             "Name of a role for this token. May be given more than once.");
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

/* Connect and expand the accessor (prefix) -accessor-id or -id names
 * into id; 1 after printing missing, or an error prefixed by what. */
static int find(struct aclc_cmd *k, const struct tok_flags *f,
                const char *missing, const char *warn, const char *what,
                char *id)
{
    const char *acc = accessor_of(f, missing, warn);
    char err[ERR_LEN];

    if (acc == NULL || aclc_connect(k, NULL) != 0)
        return 1;
    if (aclc_resolve(k, ACLC_TOKEN, acc, id, err) == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", what, err);
    return 1;
}

/* ---- create --------------------------------------------------------- */

static bool has_grants(const struct tok_flags *f)
{
    return f->g.pol_ids.n + f->g.pol_names.n + f->g.svc.n + f->g.node.n +
               f->role_ids.n + f->role_names.n > 0;
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
    const struct aclc_grants *g = &f->g;
    char err[ERR_LEN], ttl[64];
    int rc = 1;

    json_object_set_new(b, "Description",
                        json_string(g->description ? g->description : ""));
    json_object_set_new(b, "Local", json_boolean(f->local));
    set_str(b, "AccessorID", f->accessor);
    set_str(b, "SecretID", f->secret);
    if (f->ttl_ms > 0) {
        opt_format_duration(f->ttl_ms, ttl, sizeof(ttl));
        json_object_set_new(b, "ExpirationTTL", json_string(ttl));
    }
    json_object_set_new(b, "Policies", pol);
    json_object_set_new(b, "Roles", roles);
    if (set_idents(b, "ServiceIdentities",
                   aclc_service_idents(&g->svc, err)) != 0 ||
        set_idents(b, "NodeIdentities", aclc_node_idents(&g->node, err)) != 0)
        fprintf(stderr, "%s\n", err);
    else
        rc = aclc_add_links(k, pol, ACLC_POLICY, &g->pol_names, &g->pol_ids,
                            false) ||
             aclc_add_links(k, roles, ACLC_ROLE, &f->role_names,
                            &f->role_ids, false);
    if (rc == 0)
        return b;
    json_decref(b);
    return NULL;
}

static int create_run(struct aclc_cmd *k, void *flags)
{
    const struct tok_flags *f = flags;
    json_t *body;

    if (!has_grants(f)) {
        fprintf(stderr, "Cannot create a token without specifying "
                "-policy-name, -policy-id, -role-name, -role-id, "
                "-service-identity, or -node-identity at least once\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0 || (body = create_body(k, f)) == NULL)
        return 1;
    return aclc_send(k, "PUT", "/v1/acl/token", body, aclc_print_token,
                     "Failed to create new token");
}

static void create_opts(struct aclc_cmd *k, void *flags)
{
    struct tok_flags *f = flags;

    aclc_opt(k, "accessor", OPT_STR, &f->accessor, "Create the token with "
             "this Accessor ID (a UUID). Generated if not given.");
    aclc_opt(k, "secret", OPT_STR, &f->secret, "Create the token with "
             "this Secret ID (a UUID). Generated if not given.");
    aclc_opt(k, "local", OPT_BOOL, &f->local, "Create this as a "
             "datacenter local token.");
    aclc_opt(k, "expires-ttl", OPT_FUNC, &f->ttl_ms, "Duration of time "
             "this token should be valid for (\"15m\", \"24h\").");
    k->opts[k->n - 1].fn = ttl_flag;
    k->opts[k->n - 1].arg = "<duration>";
    link_opts(k, f);
}

static const struct aclc_flow create_flow = {
    .help = {"consul acl token create [options]",
             "  Creates a token. Link policies and roles by name or by ID "
             "(a unique ID\n"
             "  prefix will do), and add service or node identities; at "
             "least one is\n"
             "  required.\n\n"
             "      $ consul acl token create -description \"web "
             "servers\" \\\n"
             "                                -policy-name web -role-id "
             "c630d4ef \\\n"
             "                                -service-identity "
             "\"web:dc1,dc2\""},
    .setup = create_opts,
    .run = create_run,
    .flags_size = sizeof(struct tok_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- read ----------------------------------------------------------- */

static int read_run(struct aclc_cmd *k, void *flags)
{
    const struct tok_flags *f = flags;
    char id[ACLC_ID_LEN], path[1024], q[ERR_LEN];

    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (f->self && f->expanded) {
        fprintf(stderr, "Cannot use both -expanded and -self. Instead, use "
                "-expanded and -id=<accessor id>.\n");
        return 1;
    }
    if (f->self)
        return aclc_send(k, "GET", "/v1/acl/token/self", NULL,
                         aclc_print_token, "Error reading token");
    if (find(k, f, "Must specify the -accessor-id parameter",
             "Use the -accessor-id parameter to specify token by Accessor "
             "ID", "Error determining token ID", id) != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "");
    aclc_quote(id, q, sizeof(q));
    return aclc_send(k, "GET", path, NULL, aclc_print_token,
                     "Error reading token %s", q);
}

static void read_opts(struct aclc_cmd *k, void *flags)
{
    struct tok_flags *f = flags;

    accessor_opts(k, f, "read");
    aclc_opt(k, "self", OPT_BOOL, &f->self, "Read the token the request "
             "carries (-token, CONSUL_HTTP_TOKEN...) instead of one "
             "given by -accessor-id.");
    aclc_opt(k, "expanded", OPT_BOOL, &f->expanded, "Accepted for "
             "compatibility; prints the token as without it.");
}

static const struct aclc_flow read_flow = {
    .help = {"consul acl token read [options] -accessor-id ACCESSOR",
             "  Prints one token, by Accessor ID (or a unique prefix of "
             "one), or the\n"
             "  token the request carries (-self).\n\n"
             "      $ consul acl token read -accessor-id 4be56c77-82\n"
             "      $ consul acl token read -self "
             "-token-file=/etc/consul/token"},
    .setup = read_opts,
    .run = read_run,
    .flags_size = sizeof(struct tok_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- list ----------------------------------------------------------- */

static const struct aclc_flow list_flow = {
    .help = {"consul acl token list [options]",
             "  Lists every token the request's token may read.\n\n"
             "      $ consul acl token list"},
    .run = aclc_list,
    .fmt = ACLC_FORMAT_META,
    .kind = ACLC_TOKEN,
    .print = print_entry,
    .spaced = true,
};

/* ---- delete --------------------------------------------------------- */

static int delete_run(struct aclc_cmd *k, void *flags)
{
    char id[ACLC_ID_LEN];

    if (find(k, flags, "Must specify the -accessor-id parameter",
             "Use the -accessor-id parameter to specify token by Accessor "
             "ID.", "Error determining token ID", id) != 0)
        return 1;
    return aclc_delete(k, ACLC_TOKEN, id);
}

static void delete_opts(struct aclc_cmd *k, void *flags)
{
    accessor_opts(k, flags, "delete");
}

static const struct aclc_flow delete_flow = {
    .help = {"consul acl token delete [options] -accessor-id ACCESSOR",
             "  Deletes a token by Accessor ID or a unique prefix of "
             "one.\n\n"
             "      $ consul acl token delete -accessor-id 4be56c77-82"},
    .setup = delete_opts,
    .run = delete_run,
    .flags_size = sizeof(struct tok_flags),
};

/* ---- clone ---------------------------------------------------------- */

static int clone_run(struct aclc_cmd *k, void *flags)
{
    const struct tok_flags *f = flags;
    char id[ACLC_ID_LEN], path[1024];

    if (find(k, f, "Cannot update a token without specifying the "
             "-accessor-id parameter", "The -id parameter is deprecated. "
             "Use the -accessor-id parameter instead.",
             "Error determining token Accessor ID", id) != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "/clone");
    return aclc_send(k, "PUT", path,
                     json_pack("{s:s}", "Description",
                               f->g.description != NULL ? f->g.description
                                                      : ""),
                     aclc_print_token, "Error cloning token");
}

static void clone_opts(struct aclc_cmd *k, void *flags)
{
    struct tok_flags *f = flags;

    accessor_opts(k, f, "clone");
    aclc_opt(k, "description", OPT_STR, &f->g.description,
             "A description of the new cloned token.");
}

static const struct aclc_flow clone_flow = {
    .help = {"consul acl token clone [options] -accessor-id ACCESSOR",
             "  Copies a token's policies, roles and identities into a new "
             "token,\n"
             "  optionally with another description.\n\n"
             "      $ consul acl token clone -accessor-id abcd "
             "-description \"replication\""},
    .setup = clone_opts,
    .run = clone_run,
    .flags_size = sizeof(struct tok_flags),
    .fmt = ACLC_FORMAT,
};

/* ---- update --------------------------------------------------------- */

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
    const struct opt_list *const pol[4] = {&f->g.pol_names, &f->g.pol_ids,
                                           &f->add_pol_names,
                                           &f->add_pol_ids};
    const struct opt_list *const roles[4] = {&f->role_names, &f->role_ids,
                                             &f->add_role_names,
                                             &f->add_role_ids};

    /* An empty -description keeps the current one, as Consul. */
    if (aclc_given(f->g.description))
        json_object_set_new(t, "Description",
                            json_string(f->g.description));
    if (update_idents(t, false, &f->g.svc, &f->add_svc, f->merge_svc) != 0 ||
        update_idents(t, true, &f->g.node, &f->add_node, f->merge_node) != 0)
        return 1;
    if (update_links(k, t, ACLC_POLICY, pol, f->merge_pol) != 0 ||
        update_links(k, t, ACLC_ROLE, roles, f->merge_role) != 0)
        return 1;
    return 0;
}

static int update_run(struct aclc_cmd *k, void *flags)
{
    const struct tok_flags *f = flags;
    char id[ACLC_ID_LEN], path[1024], err[ERR_LEN];
    json_t *tok = NULL;

    if (find(k, f, "Cannot update a token without specifying the "
             "-accessor-id parameter", "Use the -accessor-id parameter to "
             "specify token by Accessor ID", "Error determining token ID",
             id) != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/token/", id, "");
    if (aclc_call(k, "GET", path, NULL, &tok, NULL, err) != 0 ||
        !json_is_object(tok))
        fprintf(stderr, "Error when retrieving current token: %s\n",
                tok != NULL ? "not a token object" : err);
    else if (update_apply(k, tok, f) == 0)
        return aclc_send(k, "PUT", path, tok, aclc_print_token,
                         "Failed to update token %s", id);
    json_decref(tok);
    return 1;
}

static void update_opts(struct aclc_cmd *k, void *flags)
{
    struct tok_flags *f = flags;

    accessor_opts(k, f, "update");
    link_opts(k, f);
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

static const struct aclc_flow update_flow = {
    .help = {"consul acl token update [options] -accessor-id ACCESSOR",
             "  Updates a token. Its Local flag cannot change. -policy-*, "
             "-role-*, and\n"
             "  the identity flags replace the token's lists; the "
             "-append-* variants\n"
             "  (or the deprecated -merge-* switches) add to them. Service "
             "and node\n"
             "  identities are replaced even when no such flag is given, "
             "as Consul does.\n\n"
             "      $ consul acl token update -accessor-id abcd "
             "-description \"replication\" \\\n"
             "                                -append-policy-name "
             "\"token-replication\""},
    .setup = update_opts,
    .run = update_run,
    .flags_size = sizeof(struct tok_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- group ---------------------------------------------------------- */

static const struct aclc_verb token_verbs[] = {
    {"clone", "Clone an ACL token", &clone_flow, NULL},
    {"create", "Create an ACL token", &create_flow, NULL},
    {"delete", "Delete an ACL token", &delete_flow, NULL},
    {"list", "List ACL tokens", &list_flow, NULL},
    {"read", "Read an ACL token", &read_flow, NULL},
    {"update", "Update an ACL token", &update_flow, NULL},
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

/* acl_role.c - "consul acl role create|read|list|update|delete".
 *
 * Endpoints: PUT /v1/acl/role, GET|PUT|DELETE /v1/acl/role/<id>,
 *            GET /v1/acl/role/name/<name>, GET /v1/acl/roles (list, and
 *            to expand an ID prefix), GET /v1/acl/policies (to expand
 *            -policy-id).
 * Output and messages follow Consul 1.x's command/acl/role and its
 * formatter. Exit codes as acl.c.
 * Tests: t/t3003-acl-cli.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_cli.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

struct role_flags {
    const char *id, *name, *description;
    struct opt_list pol_ids, pol_names, svc, node;
    bool no_merge;
};

/* ---- output --------------------------------------------------------- */

static void print_grants(const json_t *r, const char *ind)
{
    aclc_print_links(r, "Policies", "Policies:", ind);
    aclc_print_svc_idents(r, ind);
    aclc_print_node_idents(r, ind);
}

static void print_role(const struct aclc_cmd *k, const json_t *r)
{
    if (aclc_json(k)) {
        aclc_print_json(r);
        return;
    }
    printf("ID:           %s\n", aclc_str(r, "ID"));
    printf("Name:         %s\n", aclc_str(r, "Name"));
    if (aclc_str(r, "Partition")[0] != '\0')
        printf("Partition:    %s\n", aclc_str(r, "Partition"));
    if (aclc_str(r, "Namespace")[0] != '\0')
        printf("Namespace:    %s\n", aclc_str(r, "Namespace"));
    printf("Description:  %s\n", aclc_str(r, "Description"));
    if (k->meta)
        aclc_print_meta(r, "", 14);
    print_grants(r, "");
    putchar('\n');
}

static void print_list(const struct aclc_cmd *k, const json_t *list)
{
    const json_t *r;
    size_t i;

    if (aclc_json(k)) {
        aclc_print_json(list);
        return;
    }
    json_array_foreach(list, i, r) {
        printf("%s:\n", aclc_str(r, "Name"));
        printf("   ID:           %s\n", aclc_str(r, "ID"));
        if (aclc_str(r, "Partition")[0] != '\0')
            printf("   Partition:    %s\n", aclc_str(r, "Partition"));
        if (aclc_str(r, "Namespace")[0] != '\0')
            printf("   Namespace:    %s\n", aclc_str(r, "Namespace"));
        printf("   Description:  %s\n", aclc_str(r, "Description"));
        if (k->meta)
            aclc_print_meta(r, "   ", 14);
        print_grants(r, "   ");
    }
    if (json_array_size(list) > 0)
        putchar('\n');
}

/* ---- flags and lookups ---------------------------------------------- */

static void id_opts(struct aclc_cmd *k, struct role_flags *f,
                    const char *verb, bool with_name)
{
    static char idh[128], nameh[128];

    snprintf(idh, sizeof(idh), "The ID of the role to %s. It may be a "
             "unique prefix of an ID.", verb);
    snprintf(nameh, sizeof(nameh), "The name of the role to %s.", verb);
    aclc_opt(k, "id", OPT_STR, &f->id, idh);
    if (with_name)
        aclc_opt(k, "name", OPT_STR, &f->name, nameh);
}

static void grant_opts(struct aclc_cmd *k, struct role_flags *f)
{
    aclc_opt(k, "description", OPT_STR, &f->description,
             "A description of the role.");
    aclc_opt(k, "policy-id", OPT_STRLIST, &f->pol_ids,
             "ID (or unique ID prefix) of a policy for this role. May be "
             "given more than once.");
    aclc_opt(k, "policy-name", OPT_STRLIST, &f->pol_names,
             "Name of a policy for this role. May be given more than once.");
    aclc_opt(k, "service-identity", OPT_STRLIST, &f->svc,
             "A service identity for this role, SERVICENAME or "
             "SERVICENAME:DC1,DC2,... May be given more than once.");
    aclc_opt(k, "node-identity", OPT_STRLIST, &f->node,
             "A node identity for this role, NODENAME:DATACENTER. May be "
             "given more than once.");
}

static bool given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* GET one role by ID or (by_name) name; NULL after the error. */
static json_t *get_role(struct aclc_cmd *k, const char *key, bool by_name)
{
    char path[1024], err[ERR_LEN], q[ERR_LEN];
    json_t *r = NULL;
    long status;

    aclc_quote(key, q, sizeof(q));
    aclc_path(path, sizeof(path), by_name ? "/v1/acl/role/name/"
                                          : "/v1/acl/role/", key, "");
    if (aclc_call(k, "GET", path, NULL, &r, &status, err) != 0 &&
        status != 404)
        fprintf(stderr, "Error reading role %s: %s\n", q, err);
    else if (!json_is_object(r))
        fprintf(stderr, "Role not found with %s %s\n",
                by_name ? "name" : "ID", q);
    else
        return r;
    json_decref(r);
    return NULL;
}

/* ---- create --------------------------------------------------------- */

static const struct aclc_help create_help = {
    "consul acl role create -name NAME [options]",
    "  Creates a role: a named set of policies and identities tokens can "
    "link.\n\n"
    "      $ consul acl role create -name \"web\" \\\n"
    "                               -description \"web servers\" \\\n"
    "                               -policy-name web-kv \\\n"
    "                               -service-identity \"web:dc1\""};

/* Policies and identities from the flags into r; 1 after an error. */
static int add_grants(struct aclc_cmd *k, json_t *r,
                      const struct role_flags *f, bool merge)
{
    json_t *pol = json_object_get(r, "Policies"), *svc, *node;
    char err[ERR_LEN];

    if (!json_is_array(pol))
        json_object_set_new(r, "Policies", pol = json_array());
    if (aclc_add_links(k, pol, ACLC_POLICY, &f->pol_names, &f->pol_ids,
                       merge) != 0)
        return 1;
    if ((svc = aclc_service_idents(&f->svc, err)) == NULL ||
        (node = aclc_node_idents(&f->node, err)) == NULL) {
        json_decref(svc);
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (!merge) {
        json_object_set_new(r, "ServiceIdentities", svc);
        json_object_set_new(r, "NodeIdentities", node);
        return 0;
    }
    aclc_merge_idents(r, svc, false);
    aclc_merge_idents(r, node, true);
    return 0;
}

static int create_run(struct aclc_cmd *k, const struct role_flags *f)
{
    char err[ERR_LEN];
    json_t *body, *r = NULL;
    int rc;

    if (f->pol_ids.n + f->pol_names.n + f->svc.n + f->node.n == 0) {
        fprintf(stderr, "Cannot create a role without specifying "
                "-policy-name, -policy-id, -service-identity, or "
                "-node-identity at least once\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0)
        return 1;
    body = json_pack("{s:s, s:s}", "Name", f->name, "Description",
                     given(f->description) ? f->description : "");
    rc = add_grants(k, body, f, false);
    if (rc == 0 &&
        aclc_call(k, "PUT", "/v1/acl/role", body, &r, NULL, err) != 0) {
        fprintf(stderr, "Failed to create new role: %s\n", err);
        rc = 1;
    }
    if (rc == 0)
        print_role(k, r);
    json_decref(body);
    json_decref(r);
    return rc;
}

static int role_create(int argc, char **argv)
{
    struct role_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    aclc_opt(&k, "name", OPT_STR, &f.name,
             "The new role's name. This flag is required.");
    grant_opts(&k, &f);
    aclc_format_opts(&k, true);
    rc = aclc_parse(&k, &create_help, argc, argv, &rest);
    if (rc < 0 && !given(f.name)) {
        fprintf(stderr, "Missing require '-name' flag\n");
        aclc_usage_err(&k, &create_help);
        rc = 1;
    }
    if (rc < 0)
        rc = create_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- read ----------------------------------------------------------- */

static const struct aclc_help read_help = {
    "consul acl role read [options] -id ID|-name NAME",
    "  Prints one role, named by ID (or a unique prefix of one) or by "
    "name.\n\n"
    "      $ consul acl role read -id fdabbcb5\n"
    "      $ consul acl role read -name web"};

static int read_run(struct aclc_cmd *k, const struct role_flags *f)
{
    char id[ACLC_ID_LEN], err[ERR_LEN];
    json_t *r;

    if (!given(f->id) && !given(f->name)) {
        fprintf(stderr, "Must specify either the -id or -name "
                "parameters\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (given(f->id) && aclc_resolve(k, ACLC_ROLE, f->id, id, err) != 0) {
        fprintf(stderr, "Error determining role ID: %s\n", err);
        return 1;
    }
    r = given(f->id) ? get_role(k, id, false) : get_role(k, f->name, true);
    if (r == NULL)
        return 1;
    print_role(k, r);
    json_decref(r);
    return 0;
}

static int role_read(int argc, char **argv)
{
    struct role_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    id_opts(&k, &f, "read", true);
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &read_help, argc, argv, &rest)) < 0)
        rc = read_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- list ----------------------------------------------------------- */

static const struct aclc_help list_help = {
    "consul acl role list [options]",
    "  Lists every role.\n   $ consul acl role list"};

static int role_list(int argc, char **argv)
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
    if (aclc_call(&k, "GET", "/v1/acl/roles", NULL, &list, NULL,
                  err) != 0) {
        fprintf(stderr, "Failed to retrieve the role list: %s\n", err);
        goto out;
    }
    print_list(&k, list);
    rc = 0;
out:
    json_decref(list);
    aclc_release(&k);
    return rc;
}

/* ---- update --------------------------------------------------------- */

static const struct aclc_help update_help = {
    "consul acl role update [options] -id ID",
    "  Updates a role. The flags given are merged into the role: -name "
    "and\n"
    "  -description replace, policies and identities are added. With "
    "-no-merge\n"
    "  every field is replaced (the ID stays).\n\n"
    "      $ consul acl role update -id abcd -name \"better-name\"\n"
    "      $ consul acl role update -id abcd -policy-name web-kv"};

static json_t *updated(struct aclc_cmd *k, const struct role_flags *f,
                       const char *id)
{
    json_t *cur = get_role(k, id, false), *r;

    if (cur == NULL)
        return NULL;
    if (f->no_merge) {
        json_decref(cur);
        r = json_pack("{s:s, s:s, s:s}", "ID", id, "Name",
                      given(f->name) ? f->name : "", "Description",
                      given(f->description) ? f->description : "");
    } else {
        r = cur;
        if (given(f->name))
            json_object_set_new(r, "Name", json_string(f->name));
        if (given(f->description))
            json_object_set_new(r, "Description",
                                json_string(f->description));
    }
    if (add_grants(k, r, f, !f->no_merge) == 0)
        return r;
    json_decref(r);
    return NULL;
}

static int update_run(struct aclc_cmd *k, const struct role_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN], q[ERR_LEN];
    json_t *body, *r = NULL;
    int rc = 1;

    if (!given(f->id)) {
        fprintf(stderr, "Cannot update a role without specifying the -id "
                "parameter\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (aclc_resolve(k, ACLC_ROLE, f->id, id, err) != 0) {
        fprintf(stderr, "Error determining role ID: %s\n", err);
        return 1;
    }
    if ((body = updated(k, f, id)) == NULL)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/role/", id, "");
    aclc_quote(id, q, sizeof(q));
    if (aclc_call(k, "PUT", path, body, &r, NULL, err) != 0)
        fprintf(stderr, "Error updating role %s: %s\n", q, err);
    else
        rc = (print_role(k, r), 0);
    json_decref(body);
    json_decref(r);
    return rc;
}

static int role_update(int argc, char **argv)
{
    struct role_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    id_opts(&k, &f, "update", false);
    aclc_opt(&k, "name", OPT_STR, &f.name, "The role's new name.");
    grant_opts(&k, &f);
    aclc_opt(&k, "no-merge", OPT_BOOL, &f.no_merge, "Do not merge the "
             "current role with the flags given; replace every field "
             "but the ID.");
    aclc_format_opts(&k, true);
    if ((rc = aclc_parse(&k, &update_help, argc, argv, &rest)) < 0)
        rc = update_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- delete --------------------------------------------------------- */

static const struct aclc_help delete_help = {
    "consul acl role delete [options] -id ID|-name NAME",
    "  Deletes a role, named by ID (or a unique prefix of one) or by "
    "name.\n\n"
    "      $ consul acl role delete -id b6b85\n"
    "      $ consul acl role delete -name web"};

static int delete_run(struct aclc_cmd *k, const struct role_flags *f)
{
    char id[ACLC_ID_LEN], path[256], err[ERR_LEN], q[ERR_LEN];

    if (!given(f->id) && !given(f->name)) {
        fprintf(stderr, "Must specify the -id or -name parameters\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0 ||
        aclc_pick_id(k, ACLC_ROLE, f->id, f->name, id) != 0)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/role/", id, "");
    aclc_quote(id, q, sizeof(q));
    if (aclc_call(k, "DELETE", path, NULL, NULL, NULL, err) != 0) {
        fprintf(stderr, "Error deleting role %s: %s\n", q, err);
        return 1;
    }
    printf("Role %s deleted successfully\n", q);
    return 0;
}

static int role_delete(int argc, char **argv)
{
    struct role_flags f = {0};
    struct aclc_cmd k;
    int rc, rest;

    aclc_init(&k);
    id_opts(&k, &f, "delete", true);
    if ((rc = aclc_parse(&k, &delete_help, argc, argv, &rest)) < 0)
        rc = delete_run(&k, &f);
    aclc_release(&k);
    return rc;
}

/* ---- group ---------------------------------------------------------- */

static const struct aclc_verb role_verbs[] = {
    {"create", role_create, "Create an ACL role"},
    {"delete", role_delete, "Delete an ACL role"},
    {"list", role_list, "Lists ACL roles"},
    {"read", role_read, "Read an ACL role"},
    {"update", role_update, "Update an ACL role"},
};

static const struct aclc_group role_group = {
    "consul acl role <subcommand> [options] [args]",
    "  Creates, reads, updates, lists and deletes ACL roles. A role is "
    "named by\n"
    "  its ID (or a unique prefix of it) or by its name.\n\n"
    "      $ consul acl role create -name web -policy-name web-kv\n"
    "      $ consul acl role list\n"
    "      $ consul acl role read -name web\n"
    "      $ consul acl role delete -name web",
    role_verbs, (int)(sizeof(role_verbs) / sizeof(role_verbs[0]))};

int aclc_role(int argc, char **argv)
{
    return aclc_run_group(&role_group, argc, argv);
}

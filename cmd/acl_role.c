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
    const char *id, *name;
    struct aclc_grants g;
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

static void print_entry(const struct aclc_cmd *k, const json_t *r)
{
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

/* ---- create --------------------------------------------------------- */

/* Policies and identities from the flags into r; 1 after an error. */
static int add_grants(struct aclc_cmd *k, json_t *r,
                      const struct role_flags *f, bool merge)
{
    json_t *pol = json_object_get(r, "Policies"), *svc, *node;
    const struct aclc_grants *g = &f->g;
    char err[ERR_LEN];

    if (!json_is_array(pol))
        json_object_set_new(r, "Policies", pol = json_array());
    if (aclc_add_links(k, pol, ACLC_POLICY, &g->pol_names, &g->pol_ids,
                       merge) != 0)
        return 1;
    if ((svc = aclc_service_idents(&g->svc, err)) == NULL ||
        (node = aclc_node_idents(&g->node, err)) == NULL) {
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

static int create_run(struct aclc_cmd *k, void *flags)
{
    const struct role_flags *f = flags;
    json_t *body;

    if (aclc_need_name(k, f->name) != 0)
        return 1;
    if (f->g.pol_ids.n + f->g.pol_names.n + f->g.svc.n + f->g.node.n == 0) {
        fprintf(stderr, "Cannot create a role without specifying "
                "-policy-name, -policy-id, -service-identity, or "
                "-node-identity at least once\n");
        return 1;
    }
    if (aclc_connect(k, NULL) != 0)
        return 1;
    body = json_pack("{s:s, s:s}", "Name", f->name, "Description",
                     aclc_given(f->g.description) ? f->g.description : "");
    if (add_grants(k, body, f, false) != 0) {
        json_decref(body);
        return 1;
    }
    return aclc_send(k, "PUT", "/v1/acl/role", body, print_role,
                     "Failed to create new role");
}

static void create_opts(struct aclc_cmd *k, void *flags)
{
    struct role_flags *f = flags;

    aclc_opt(k, "name", OPT_STR, &f->name,
             "The new role's name. This flag is required.");
    aclc_grant_opts(k, &f->g, "role");
}

static const struct aclc_flow create_flow = {
    .help = {"consul acl role create -name NAME [options]",
             "  Creates a role: a named set of policies and identities "
             "tokens can link.\n\n"
             "      $ consul acl role create -name \"web\" \\\n"
             "                               -description \"web "
             "servers\" \\\n"
             "                               -policy-name web-kv \\\n"
             "                               -service-identity "
             "\"web:dc1\""},
    .setup = create_opts,
    .run = create_run,
    .flags_size = sizeof(struct role_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- read ----------------------------------------------------------- */

static int read_run(struct aclc_cmd *k, void *flags)
{
    const struct role_flags *f = flags;
    char id[ACLC_ID_LEN];
    json_t *r;

    if (aclc_given(f->id) || !aclc_given(f->name)) {
        if (aclc_find(k, ACLC_ROLE, f->id, NULL, "Must specify either the "
                      "-id or -name parameters", id) != 0)
            return 1;
        r = aclc_get(k, ACLC_ROLE, id, false);
    } else {
        if (aclc_connect(k, NULL) != 0)
            return 1;
        r = aclc_get(k, ACLC_ROLE, f->name, true);
    }
    if (r == NULL)
        return 1;
    print_role(k, r);
    json_decref(r);
    return 0;
}

static void read_opts(struct aclc_cmd *k, void *flags)
{
    id_opts(k, flags, "read", true);
}

static const struct aclc_flow read_flow = {
    .help = {"consul acl role read [options] -id ID|-name NAME",
             "  Prints one role, named by ID (or a unique prefix of one) "
             "or by name.\n\n"
             "      $ consul acl role read -id fdabbcb5\n"
             "      $ consul acl role read -name web"},
    .setup = read_opts,
    .run = read_run,
    .flags_size = sizeof(struct role_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- list ----------------------------------------------------------- */

static const struct aclc_flow list_flow = {
    .help = {"consul acl role list [options]",
             "  Lists every role.\n   $ consul acl role list"},
    .run = aclc_list,
    .fmt = ACLC_FORMAT_META,
    .kind = ACLC_ROLE,
    .print = print_entry,
};

/* ---- update --------------------------------------------------------- */

static json_t *updated(struct aclc_cmd *k, const struct role_flags *f,
                       const char *id)
{
    json_t *cur = aclc_get(k, ACLC_ROLE, id, false), *r;

    if (cur == NULL)
        return NULL;
    if (f->no_merge) {
        json_decref(cur);
        r = json_pack("{s:s, s:s, s:s}", "ID", id, "Name",
                      aclc_given(f->name) ? f->name : "", "Description",
                      aclc_given(f->g.description) ? f->g.description : "");
    } else {
        r = cur;
        if (aclc_given(f->name))
            json_object_set_new(r, "Name", json_string(f->name));
        if (aclc_given(f->g.description))
            json_object_set_new(r, "Description",
                                json_string(f->g.description));
    }
    if (add_grants(k, r, f, !f->no_merge) == 0)
        return r;
    json_decref(r);
    return NULL;
}

static int update_run(struct aclc_cmd *k, void *flags)
{
    const struct role_flags *f = flags;
    char id[ACLC_ID_LEN], path[1024], q[ERR_LEN];
    json_t *body;

    if (aclc_find(k, ACLC_ROLE, f->id, NULL, "Cannot update a role without "
                  "specifying the -id parameter", id) != 0 ||
        (body = updated(k, f, id)) == NULL)
        return 1;
    aclc_path(path, sizeof(path), "/v1/acl/role/", id, "");
    aclc_quote(id, q, sizeof(q));
    return aclc_send(k, "PUT", path, body, print_role,
                     "Error updating role %s", q);
}

static void update_opts(struct aclc_cmd *k, void *flags)
{
    struct role_flags *f = flags;

    id_opts(k, f, "update", false);
    aclc_opt(k, "name", OPT_STR, &f->name, "The role's new name.");
    aclc_grant_opts(k, &f->g, "role");
    aclc_opt(k, "no-merge", OPT_BOOL, &f->no_merge, "Do not merge the "
             "current role with the flags given; replace every field "
             "but the ID.");
}

static const struct aclc_flow update_flow = {
    .help = {"consul acl role update [options] -id ID",
             "  Updates a role. The flags given are merged into the role: "
             "-name and\n"
             "  -description replace, policies and identities are added. "
             "With -no-merge\n"
             "  every field is replaced (the ID stays).\n\n"
             "      $ consul acl role update -id abcd -name "
             "\"better-name\"\n"
             "      $ consul acl role update -id abcd -policy-name web-kv"},
    .setup = update_opts,
    .run = update_run,
    .flags_size = sizeof(struct role_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- delete --------------------------------------------------------- */

static int delete_run(struct aclc_cmd *k, void *flags)
{
    const struct role_flags *f = flags;
    char id[ACLC_ID_LEN];

    if (aclc_find(k, ACLC_ROLE, f->id, f->name, "Must specify the -id or "
                  "-name parameters", id) != 0)
        return 1;
    return aclc_delete(k, ACLC_ROLE, id);
}

static void delete_opts(struct aclc_cmd *k, void *flags)
{
    id_opts(k, flags, "delete", true);
}

static const struct aclc_flow delete_flow = {
    .help = {"consul acl role delete [options] -id ID|-name NAME",
             "  Deletes a role, named by ID (or a unique prefix of one) or "
             "by name.\n\n"
             "      $ consul acl role delete -id b6b85\n"
             "      $ consul acl role delete -name web"},
    .setup = delete_opts,
    .run = delete_run,
    .flags_size = sizeof(struct role_flags),
};

/* ---- group ---------------------------------------------------------- */

static const struct aclc_verb role_verbs[] = {
    {"create", "Create an ACL role", &create_flow, NULL},
    {"delete", "Delete an ACL role", &delete_flow, NULL},
    {"list", "Lists ACL roles", &list_flow, NULL},
    {"read", "Read an ACL role", &read_flow, NULL},
    {"update", "Update an ACL role", &update_flow, NULL},
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

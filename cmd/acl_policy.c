/* acl_policy.c - "consul acl policy create|read|list|update|delete".
 *
 * Endpoints: PUT /v1/acl/policy, GET|PUT|DELETE /v1/acl/policy/<id>,
 *            GET /v1/acl/policy/name/<name>, GET /v1/acl/policies (list,
 *            and to expand an ID prefix).
 * Output and messages follow Consul 1.x's command/acl/policy and its
 * formatter (14-column labels, rules printed as stored). Exit codes as
 * acl.c.
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

struct pol_flags {
    const char *id, *name, *description, *rules;
    struct opt_list dcs;
    bool no_merge, name_set, description_set, rules_set;
};

/* ---- output --------------------------------------------------------- */

static void print_dcs(const json_t *p)
{
    const json_t *dcs = json_object_get(p, "Datacenters");

    for (size_t i = 0; i < json_array_size(dcs); i++) {
        const char *dc = json_string_value(json_array_get(dcs, i));

        printf("%s%s", i > 0 ? ", " : "", dc != NULL ? dc : "");
    }
    putchar('\n');
}

static void print_policy(const struct aclc_cmd *k, const json_t *p)
{
    if (aclc_json(k)) {
        aclc_print_json(p);
        return;
    }
    printf("ID:           %s\n", aclc_str(p, "ID"));
    printf("Name:         %s\n", aclc_str(p, "Name"));
    if (aclc_str(p, "Namespace")[0] != '\0')
        printf("Namespace:    %s\n", aclc_str(p, "Namespace"));
    printf("Description:  %s\n", aclc_str(p, "Description"));
    printf("Datacenters:  ");
    print_dcs(p);
    if (k->meta)
        aclc_print_meta(p, "", 14);
    printf("Rules:\n%s\n", aclc_str(p, "Rules"));
}

static void print_entry(const struct aclc_cmd *k, const json_t *p)
{
    printf("%s:\n", aclc_str(p, "Name"));
    printf("   ID:           %s\n", aclc_str(p, "ID"));
    if (aclc_str(p, "Namespace")[0] != '\0')
        printf("   Namespace:    %s\n", aclc_str(p, "Namespace"));
    printf("   Description:  %s\n", aclc_str(p, "Description"));
    printf("   Datacenters:  ");
    print_dcs(p);
    if (k->meta)
        aclc_print_meta(p, "   ", 14);
}

/* ---- flags ---------------------------------------------------------- */

static void id_opts(struct aclc_cmd *k, struct pol_flags *f,
                    const char *verb)
{
    static char idh[128], nameh[128];

    snprintf(idh, sizeof(idh), "The ID of the policy to %s. It may be a "
             "unique prefix of an ID.", verb);
    snprintf(nameh, sizeof(nameh), "The name of the policy to %s.", verb);
    aclc_opt(k, "id", OPT_STR, &f->id, idh);
    aclc_opt(k, "name", OPT_STR, &f->name, nameh);
}

static void body_opts(struct aclc_cmd *k, struct pol_flags *f)
{
    aclc_opt(k, "description", OPT_STR, &f->description,
             "A description of the policy.");
    k->opts[k->n - 1].seen = &f->description_set;
    aclc_opt(k, "valid-datacenter", OPT_STRLIST, &f->dcs,
             "Datacenter that the policy should be valid within. May be "
             "given more than once.");
    aclc_opt(k, "rules", OPT_STR, &f->rules,
             "The policy rules (HCL or JSON): inline, \"@file\" to read a "
             "file, or \"-\" to read stdin.");
    k->opts[k->n - 1].seen = &f->rules_set;
}

static json_t *dcs_json(const struct opt_list *l)
{
    json_t *a = json_array();

    for (int i = 0; i < l->n; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

#define MISSING_ID "Must specify either the -id or -name parameters"

/* ---- create --------------------------------------------------------- */

static int create_run(struct aclc_cmd *k, void *flags)
{
    const struct pol_flags *f = flags;
    char err[ERR_LEN], *rules = NULL;
    json_t *body;

    if (aclc_need_name(k, f->name) != 0 || aclc_connect(k, NULL) != 0)
        return 1;
    if (aclc_load_data(f->rules ? f->rules : "", true, &rules, err) != 0) {
        fprintf(stderr, "Error loading rules: %s\n", err);
        return 1;
    }
    body = json_pack("{s:s, s:s, s:s}", "Name", f->name, "Description",
                     f->description ? f->description : "", "Rules", rules);
    free(rules);
    if (f->dcs.n > 0)
        json_object_set_new(body, "Datacenters", dcs_json(&f->dcs));
    return aclc_send(k, "PUT", "/v1/acl/policy", body, print_policy,
                     "Failed to create new policy");
}

static void create_opts(struct aclc_cmd *k, void *flags)
{
    struct pol_flags *f = flags;

    aclc_opt(k, "name", OPT_STR, &f->name,
             "The new policy's name. This flag is required.");
    body_opts(k, f);
}

static const struct aclc_flow create_flow = {
    .help = {"consul acl policy create -name NAME [options]",
             "  Creates a policy. -rules takes the rules inline, from a "
             "file (\"@file\")\n"
             "  or from stdin (\"-\").\n\n"
             "      $ consul acl policy create -name \"kv-app\" \\\n"
             "                                 -description \"app "
             "config\" \\\n"
             "                                 -valid-datacenter dc1 "
             "\\\n"
             "                                 -rules @kv-app.hcl"},
    .setup = create_opts,
    .run = create_run,
    .flags_size = sizeof(struct pol_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- read ----------------------------------------------------------- */

static int read_run(struct aclc_cmd *k, void *flags)
{
    const struct pol_flags *f = flags;
    char id[ACLC_ID_LEN];
    json_t *p;

    if (aclc_find(k, ACLC_POLICY, f->id, f->name, MISSING_ID, id) != 0 ||
        (p = aclc_get(k, ACLC_POLICY, id, false)) == NULL)
        return 1;
    print_policy(k, p);
    json_decref(p);
    return 0;
}

static void read_opts(struct aclc_cmd *k, void *flags)
{
    id_opts(k, flags, "read");
}

static const struct aclc_flow read_flow = {
    .help = {"consul acl policy read [options] -id ID|-name NAME",
             "  Prints one policy, named by ID (or a unique prefix of one) "
             "or by name.\n\n"
             "      $ consul acl policy read -id fdabbcb5\n"
             "      $ consul acl policy read -name kv-app"},
    .setup = read_opts,
    .run = read_run,
    .flags_size = sizeof(struct pol_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- list ----------------------------------------------------------- */

static const struct aclc_flow list_flow = {
    .help = {"consul acl policy list [options]",
             "  Lists every policy.\n   $ consul acl policy list"},
    .run = aclc_list,
    .fmt = ACLC_FORMAT_META,
    .kind = ACLC_POLICY,
    .print = print_entry,
};

/* ---- update --------------------------------------------------------- */

/* The new policy object for id; NULL after printing the error. */
static json_t *updated(struct aclc_cmd *k, const struct pol_flags *f,
                       const char *id, const char *rules)
{
    json_t *p;

    if (f->no_merge)
        return json_pack("{s:s, s:s, s:s, s:o, s:s}", "ID", id, "Name",
                         f->name ? f->name : "", "Description",
                         f->description ? f->description : "",
                         "Datacenters", dcs_json(&f->dcs), "Rules", rules);
    if ((p = aclc_get(k, ACLC_POLICY, id, false)) == NULL)
        return NULL;
    json_object_set_new(p, "ID", json_string(id));
    if (f->name_set)
        json_object_set_new(p, "Name", json_string(f->name));
    if (f->description_set)
        json_object_set_new(p, "Description",
                            json_string(f->description));
    if (f->rules_set)
        json_object_set_new(p, "Rules", json_string(rules));
    if (f->dcs.n > 0)
        json_object_set_new(p, "Datacenters", dcs_json(&f->dcs));
    return p;
}

static int update_run(struct aclc_cmd *k, void *flags)
{
    const struct pol_flags *f = flags;
    char id[ACLC_ID_LEN], path[1024], err[ERR_LEN], q[ERR_LEN];
    char *rules = NULL;
    json_t *body;
    int rc = 1;

    if (aclc_find(k, ACLC_POLICY, f->id, f->name, MISSING_ID, id) != 0)
        return 1;
    if (aclc_load_data(f->rules ? f->rules : "", true, &rules, err) != 0)
        fprintf(stderr, "Error loading rules: %s\n", err);
    else if ((body = updated(k, f, id, rules)) != NULL) {
        aclc_path(path, sizeof(path), "/v1/acl/policy/", id, "");
        aclc_quote(id, q, sizeof(q));
        rc = aclc_send(k, "PUT", path, body, print_policy,
                       "Error updating policy %s", q);
    }
    free(rules);
    return rc;
}

static void update_opts(struct aclc_cmd *k, void *flags)
{
    struct pol_flags *f = flags;

    id_opts(k, f, "update");
    k->opts[k->n - 1].seen = &f->name_set;
    k->opts[k->n - 1].help = "The policy's name: with -id, its new name; "
                             "alone, the policy to update.";
    body_opts(k, f);
    aclc_opt(k, "no-merge", OPT_BOOL, &f->no_merge, "Do not merge the "
             "current policy with the flags given; replace every "
             "field but the ID.");
}

static const struct aclc_flow update_flow = {
    .help = {"consul acl policy update [options] -id ID|-name NAME",
             "  Updates a policy. Fields not given keep their current "
             "value, unless\n"
             "  -no-merge is given: then every field is replaced (the ID "
             "stays). With\n"
             "  both -id and -name, -name renames the policy.\n\n"
             "      $ consul acl policy update -id abcd -name "
             "\"better-name\"\n"
             "      $ consul acl policy update -name kv-app -rules "
             "@kv-app.hcl"},
    .setup = update_opts,
    .run = update_run,
    .flags_size = sizeof(struct pol_flags),
    .fmt = ACLC_FORMAT_META,
};

/* ---- delete --------------------------------------------------------- */

static int delete_run(struct aclc_cmd *k, void *flags)
{
    const struct pol_flags *f = flags;
    char id[ACLC_ID_LEN];

    if (aclc_find(k, ACLC_POLICY, f->id, f->name, MISSING_ID, id) != 0)
        return 1;
    return aclc_delete(k, ACLC_POLICY, id);
}

static void delete_opts(struct aclc_cmd *k, void *flags)
{
    id_opts(k, flags, "delete");
}

static const struct aclc_flow delete_flow = {
    .help = {"consul acl policy delete [options] -id ID|-name NAME",
             "  Deletes a policy, named by ID (or a unique prefix of one) "
             "or by name.\n\n"
             "      $ consul acl policy delete -id b6b85\n"
             "      $ consul acl policy delete -name kv-app"},
    .setup = delete_opts,
    .run = delete_run,
    .flags_size = sizeof(struct pol_flags),
};

/* ---- group ---------------------------------------------------------- */

static const struct aclc_verb policy_verbs[] = {
    {"create", "Create an ACL policy", &create_flow, NULL},
    {"delete", "Delete an ACL policy", &delete_flow, NULL},
    {"list", "Lists ACL policies", &list_flow, NULL},
    {"read", "Read an ACL policy", &read_flow, NULL},
    {"update", "Update an ACL policy", &update_flow, NULL},
};

static const struct aclc_group policy_group = {
    "consul acl policy <subcommand> [options] [args]",
    "  Creates, reads, updates, lists and deletes ACL policies. A policy "
    "is named\n"
    "  by its ID (or a unique prefix of it) or by its name.\n\n"
    "      $ consul acl policy create -name \"kv-app\" -rules @kv-app.hcl\n"
    "      $ consul acl policy list\n"
    "      $ consul acl policy read -name kv-app\n"
    "      $ consul acl policy update -name kv-app -description \"app\"\n"
    "      $ consul acl policy delete -name kv-app",
    policy_verbs, (int)(sizeof(policy_verbs) / sizeof(policy_verbs[0]))};

int aclc_policy(int argc, char **argv)
{
    return aclc_run_group(&policy_group, argc, argv);
}

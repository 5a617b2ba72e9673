/* check_acl_store.c - unit tests for the replicated ACL state
 * (libcore/acl_store*.c).
 *
 * Covers set/get/update/delete of tokens, policies and roles, name and
 * SecretID uniqueness, lookups by secret, link views after renames and
 * deletes, sorted and filtered lists, a token's rules (via roles and
 * identities, management), the authorizer cache, bootstrap and its
 * reset index, the builtin objects' protections, expiry, the
 * validation of every field, and the snapshot records (round trip,
 * strict rejection). Rules parsing itself is tested in check_acl.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"
#include "unit.h"

#define P1 "11111111-1111-1111-1111-111111111111"
#define P2 "22222222-2222-2222-2222-222222222222"
#define R1 "33333333-3333-3333-3333-333333333333"
#define T1 "44444444-4444-4444-4444-444444444444"
#define T2 "55555555-5555-5555-5555-555555555555"
#define S1 "aaaaaaaa-0000-0000-0000-000000000001"
#define S2 "aaaaaaaa-0000-0000-0000-000000000002"
#define MGMT ACL_GLOBAL_MGMT_ID
#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static struct acl_store *st;
static char err[ERR_LEN];
static bool changed;

static void setup(void)
{
    st = acl_store_new();
    ck_assert_ptr_nonnull(st);
}

static void teardown(void) { acl_store_free(st); }

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    ck_assert_msg(v != NULL, "bad test json: %s: %s", je.text, text);
    return v;
}

static int apply_in(struct acl_store *s, uint64_t index, const char *op,
                    const char *text)
{
    json_t *req = js(text);
    int rc = acl_store_apply(s, index, op, req, &changed, err);

    json_decref(req);
    return rc;
}

static int apply(uint64_t index, const char *op, const char *text)
{
    return apply_in(st, index, op, text);
}

/* Valid rule texts, JSON-escaped for the request bodies. */
#define RULES_A "acl = \\\"read\\\""
#define RULES_B "operator = \\\"read\\\""

static int set_policy(uint64_t index, const char *id, const char *name,
                      const char *rules)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "{\"Policy\":{\"ID\":\"%s\",\"Name\":\"%s\","
             "\"Rules\":\"%s\"}}", id, name, rules);
    return apply(index, "policy-set", buf);
}

/* A token with extra JSON members (after a comma) or "". */
static int set_token(uint64_t index, const char *acc, const char *secret,
                     const char *extra)
{
    char buf[2048];

    snprintf(buf, sizeof(buf), "{\"Token\":{\"AccessorID\":\"%s\","
             "\"SecretID\":\"%s\"%s%s}}", acc, secret,
             extra[0] != '\0' ? "," : "", extra);
    return apply(index, "token-set", buf);
}

static char *dump(json_t *v)
{
    char *s;

    ck_assert_ptr_nonnull(v);
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

static void assert_json(json_t *v, const char *want)
{
    char *s = dump(v);

    ck_assert_str_eq(s, want);
    free(s);
}

static json_int_t int_of(const json_t *o, const char *f)
{
    return json_integer_value(json_object_get(o, f));
}

static const char *str_of(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(o, f));
}

/* ---- policies, roles, tokens ---- */

START_TEST(policy_set_get_update_delete)
{
    const json_t *p;

    ck_assert_int_eq(set_policy(5, P1, "p1", RULES_A), 0);
    ck_assert(changed);
    p = acl_store_policy(st, P1);
    ck_assert_ptr_nonnull(p);
    assert_json(json_incref((json_t *)p),
                "{\"ID\":\"" P1 "\",\"Name\":\"p1\",\"Description\":\"\","
                "\"Rules\":\"" RULES_A "\",\"Datacenters\":[],"
                "\"Hash\":\"\",\"CreateIndex\":5,\"ModifyIndex\":5}");
    ck_assert_ptr_eq(acl_store_policy_by_name(st, "P1"), p);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 5);
    ck_assert_uint_eq(acl_store_max_index(st), 5);
    /* Update: renamed, CreateIndex kept. */
    ck_assert_int_eq(set_policy(6, "11111111-1111-1111-1111-11111111111"
                                   "1", "p1b", ""), 0);
    p = acl_store_policy(st, P1);
    ck_assert_int_eq(int_of(p, "CreateIndex"), 5);
    ck_assert_int_eq(int_of(p, "ModifyIndex"), 6);
    ck_assert_ptr_null(acl_store_policy_by_name(st, "p1"));
    ck_assert_ptr_eq(acl_store_policy_by_name(st, "p1b"), p);
    ck_assert_int_eq(apply(7, "policy-delete", "{\"ID\":\"" P1 "\"}"), 0);
    ck_assert_ptr_null(acl_store_policy(st, P1));
    ck_assert_ptr_null(acl_store_policy_by_name(st, "p1b"));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 7);
    ck_assert_int_eq(apply(8, "policy-delete", "{\"ID\":\"" P1 "\"}"),
                     ERR_NOTFOUND);
    ck_assert(!changed);
    ck_assert_str_eq(err, "cannot find policy " P1);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 7);
}
END_TEST

START_TEST(role_set_get_update_delete)
{
    const json_t *r;

    ck_assert_int_eq(set_policy(1, P1, "p1", ""), 0);
    ck_assert_int_eq(apply(2, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r1\",\"Policies\":[{\"ID\":\"" P2
                           "\"}]}}"), ERR_NOTFOUND);
    ck_assert_str_eq(err, "cannot find policy " P2);
    ck_assert_ptr_null(acl_store_role(st, R1));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_ROLES), 0);
    ck_assert_int_eq(apply(3, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r1\",\"Description\":\"d\","
                           "\"Policies\":[{\"ID\":\"" P1 "\",\"Name\":"
                           "\"stale\"},{\"ID\":\"" P1 "\"}],"
                           "\"ServiceIdentities\":[{\"ServiceName\":\"web\""
                           "}]}}"), 0);
    r = acl_store_role(st, R1);
    assert_json(json_incref((json_t *)r),
                "{\"ID\":\"" R1 "\",\"Name\":\"r1\",\"Description\":\"d\","
                "\"Policies\":[{\"ID\":\"" P1 "\",\"Name\":\"p1\"}],"
                "\"ServiceIdentities\":[{\"ServiceName\":\"web\"}],"
                "\"NodeIdentities\":[],\"Hash\":\"\",\"CreateIndex\":3,"
                "\"ModifyIndex\":3}");
    ck_assert_ptr_eq(acl_store_role_by_name(st, "R1"), r);
    ck_assert_int_eq(apply(4, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r2\"}}"), 0);
    r = acl_store_role(st, R1);
    ck_assert_int_eq(int_of(r, "CreateIndex"), 3);
    ck_assert_ptr_null(acl_store_role_by_name(st, "r1"));
    ck_assert_int_eq(apply(5, "role-delete", "{\"ID\":\"" R1 "\"}"), 0);
    ck_assert_ptr_null(acl_store_role(st, R1));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_ROLES), 5);
    ck_assert_int_eq(apply(6, "role-delete", "{\"ID\":\"" R1 "\"}"),
                     ERR_NOTFOUND);
    ck_assert_str_eq(err, "cannot find role " R1);
}
END_TEST

START_TEST(token_set_get_update_delete)
{
    const json_t *t;

    ck_assert_int_eq(set_policy(1, P1, "p1", ""), 0);
    ck_assert_int_eq(set_token(2, T1, S1, "\"Description\":\"x\","
                               "\"Policies\":[{\"ID\":\"" P1 "\"}],"
                               "\"Local\":true,\"CreateTime\":"
                               "\"2024-01-01T00:00:00Z\",\"Hash\":\"aGk=\""),
                     0);
    t = acl_store_token(st, T1);
    assert_json(json_incref((json_t *)t),
                "{\"AccessorID\":\"" T1 "\",\"SecretID\":\"" S1 "\","
                "\"Description\":\"x\",\"Policies\":[{\"ID\":\"" P1 "\","
                "\"Name\":\"p1\"}],\"Roles\":[],\"ServiceIdentities\":[],"
                "\"NodeIdentities\":[],\"Local\":true,\"CreateTime\":"
                "\"2024-01-01T00:00:00Z\",\"Hash\":\"aGk=\",\"CreateIndex\":2,"
                "\"ModifyIndex\":2}");
    ck_assert_ptr_eq(acl_store_token_by_secret(st, S1), t);
    ck_assert_ptr_null(acl_store_token_by_secret(st, S2));
    ck_assert_ptr_null(acl_store_token_by_secret(st, NULL));
    /* The SecretID is exact; the AccessorID is not case-sensitive. */
    ck_assert_ptr_null(acl_store_token_by_secret(
        st, "AAAAAAAA-0000-0000-0000-000000000001"));
    ck_assert_ptr_eq(acl_store_token(st, "44444444-4444-4444-4444-44444444"
                                         "4444"), t);
    ck_assert_int_eq(set_token(3, T1, S1, "\"Description\":\"y\""), 0);
    t = acl_store_token(st, T1);
    ck_assert_int_eq(int_of(t, "CreateIndex"), 2);
    ck_assert_int_eq(int_of(t, "ModifyIndex"), 3);
    ck_assert_int_eq(set_token(4, T1, S2, ""), ERR_INVAL);
    ck_assert_ptr_null(strstr(err, S2));
    ck_assert_ptr_eq(acl_store_token(st, T1), t);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_TOKENS), 3);
    ck_assert_int_eq(apply(5, "token-delete", "{\"AccessorID\":\"" T1 "\"}"),
                     0);
    ck_assert_ptr_null(acl_store_token(st, T1));
    ck_assert_ptr_null(acl_store_token_by_secret(st, S1));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_TOKENS), 5);
    ck_assert_int_eq(apply(6, "token-delete", "{\"AccessorID\":\"" T1 "\"}"),
                     ERR_NOTFOUND);
    ck_assert_str_eq(err, "cannot find token " T1);
    /* The secret of a deleted token can be used again. */
    ck_assert_int_eq(set_token(7, T2, S1, ""), 0);
}
END_TEST

START_TEST(names_and_secrets_are_unique)
{
    ck_assert_int_eq(set_policy(1, P1, "same", ""), 0);
    ck_assert_int_eq(set_policy(2, P2, "SAME", ""), ERR_EXISTS);
    ck_assert_str_eq(err, "Invalid Policy: A Policy with Name \"SAME\" "
                          "already exists");
    ck_assert_ptr_null(acl_store_policy(st, P2));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 1);
    /* Roles have their own names. */
    ck_assert_int_eq(apply(3, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"same\"}}"), 0);
    ck_assert_int_eq(apply(4, "role-set", "{\"Role\":{\"ID\":\"" P2 "\","
                           "\"Name\":\"same\"}}"), ERR_EXISTS);
    ck_assert_str_eq(err, "Invalid Role: A Role with Name \"same\" already "
                          "exists");
    ck_assert_int_eq(set_token(5, T1, S1, ""), 0);
    ck_assert_int_eq(set_token(6, T2, S1, ""), ERR_EXISTS);
    ck_assert_str_eq(err, "Invalid Token: SecretID is already in use");
    ck_assert_ptr_null(acl_store_token(st, T2));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_TOKENS), 5);
}
END_TEST

/* ---- views and lists ---- */

static void build_links(void)
{
    ck_assert_int_eq(set_policy(1, P1, "zeta", RULES_A), 0);
    ck_assert_int_eq(set_policy(2, P2, "alpha", RULES_B), 0);
    ck_assert_int_eq(apply(3, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r\",\"Policies\":[{\"ID\":\"" P1
                           "\"},{\"ID\":\"" P2 "\"}]}}"), 0);
    ck_assert_int_eq(set_token(4, T2, S2, "\"Policies\":[{\"ID\":\"" P2
                               "\"}]"), 0);
    ck_assert_int_eq(set_token(5, T1, S1, "\"Policies\":[{\"ID\":\"" P1
                               "\"}],\"Roles\":[{\"ID\":\"" R1 "\"}]"), 0);
}

static void assert_links(json_t *view, const char *field, const char *want)
{
    ck_assert_ptr_nonnull(view);
    assert_json(json_incref(json_object_get(view, field)), want);
    json_decref(view);
}

START_TEST(views_follow_renames_and_deletes)
{
    const json_t *t, *r;
    json_t *v;

    build_links();
    ck_assert_int_eq(set_policy(6, P1, "omega", RULES_A), 0);
    t = acl_store_token(st, T1);
    r = acl_store_role(st, R1);
    /* Stored names are those of the write; views look them up. */
    ck_assert_str_eq(str_of(json_array_get(json_object_get(t, "Policies"), 0),
                            "Name"), "zeta");
    assert_links(acl_store_token_view(st, t), "Policies",
                 "[{\"ID\":\"" P1 "\",\"Name\":\"omega\"}]");
    assert_links(acl_store_token_view(st, t), "Roles",
                 "[{\"ID\":\"" R1 "\",\"Name\":\"r\"}]");
    assert_links(acl_store_role_view(st, r), "Policies",
                 "[{\"ID\":\"" P1 "\",\"Name\":\"omega\"},{\"ID\":\"" P2
                 "\",\"Name\":\"alpha\"}]");
    v = acl_store_token_view(st, t);
    ck_assert_str_eq(str_of(v, "SecretID"), S1);
    /* A view is the caller's. */
    json_object_set_new(json_array_get(json_object_get(v, "Policies"), 0),
                        "Name", json_string("mine"));
    json_object_del(v, "SecretID");
    json_decref(v);
    ck_assert_str_eq(str_of(t, "SecretID"), S1);
    ck_assert_int_eq(apply(7, "policy-delete", "{\"ID\":\"" P1 "\"}"), 0);
    t = acl_store_token(st, T1);
    r = acl_store_role(st, R1);
    assert_links(acl_store_token_view(st, t), "Policies", "[]");
    assert_links(acl_store_role_view(st, r), "Policies",
                 "[{\"ID\":\"" P2 "\",\"Name\":\"alpha\"}]");
    ck_assert_int_eq(apply(8, "role-delete", "{\"ID\":\"" R1 "\"}"), 0);
    assert_links(acl_store_token_view(st, acl_store_token(st, T1)), "Roles",
                 "[]");
    /* The dangling links stay stored; a policy with the same ID comes
     * back linked. */
    ck_assert_int_eq(set_policy(9, P1, "back", ""), 0);
    assert_links(acl_store_token_view(st, acl_store_token(st, T1)),
                 "Policies", "[{\"ID\":\"" P1 "\",\"Name\":\"back\"}]");
}
END_TEST

START_TEST(lists_are_sorted_and_filtered)
{
    json_t *l;

    build_links();
    l = acl_store_policy_list(st);
    ck_assert_uint_eq(json_array_size(l), 2);
    ck_assert_str_eq(str_of(json_array_get(l, 0), "Name"), "alpha");
    ck_assert_ptr_null(json_object_get(json_array_get(l, 0), "Rules"));
    ck_assert_ptr_nonnull(json_object_get(json_array_get(l, 0), "Hash"));
    json_decref(l);
    l = acl_store_token_list(st, NULL, NULL, false);
    ck_assert_uint_eq(json_array_size(l), 2);
    ck_assert_str_eq(str_of(json_array_get(l, 0), "AccessorID"), T1);
    ck_assert_ptr_null(json_object_get(json_array_get(l, 0), "SecretID"));
    json_decref(l);
    l = acl_store_token_list(st, NULL, NULL, true);
    ck_assert_str_eq(str_of(json_array_get(l, 1), "SecretID"), S2);
    json_decref(l);
    l = acl_store_token_list(st, P2, NULL, false);
    ck_assert_uint_eq(json_array_size(l), 1);
    ck_assert_str_eq(str_of(json_array_get(l, 0), "AccessorID"), T2);
    json_decref(l);
    l = acl_store_token_list(st, NULL, "33333333-3333-3333-3333-33333333333"
                                       "3", false);
    ck_assert_uint_eq(json_array_size(l), 1);
    ck_assert_str_eq(str_of(json_array_get(l, 0), "AccessorID"), T1);
    json_decref(l);
    l = acl_store_role_list(st, P2);
    ck_assert_uint_eq(json_array_size(l), 1);
    json_decref(l);
    /* A deleted policy no longer matches a filter. */
    ck_assert_int_eq(apply(9, "policy-delete", "{\"ID\":\"" P2 "\"}"), 0);
    l = acl_store_token_list(st, P2, NULL, false);
    ck_assert_uint_eq(json_array_size(l), 0);
    json_decref(l);
    l = acl_store_role_list(st, P2);
    ck_assert_uint_eq(json_array_size(l), 0);
    json_decref(l);
}
END_TEST

/* ---- rules and authorizers ---- */

static char *rules_of(const char *acc, bool *mgmt)
{
    return dump(acl_store_token_rules(st, acl_store_token(st, acc), mgmt));
}

START_TEST(token_rules_via_roles_and_identities)
{
    char *s, *want;
    bool mgmt;

    build_links();
    s = rules_of(T1, &mgmt);
    ck_assert_str_eq(s, "[\"acl = \\\"read\\\"\",\"operator = \\\"read\\\"\"]");
    ck_assert(!mgmt);
    free(s);
    ck_assert_int_eq(apply(6, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r\",\"Policies\":[{\"ID\":\"" P1
                           "\"}],\"NodeIdentities\":[{\"NodeName\":\"n1\","
                           "\"Datacenter\":\"dc1\"}]}}"), 0);
    ck_assert_int_eq(set_token(7, T1, S1, "\"Roles\":[{\"ID\":\"" R1 "\"}],"
                               "\"ServiceIdentities\":[{\"ServiceName\":"
                               "\"web\",\"Datacenters\":[\"dc1\"]}]"), 0);
    s = rules_of(T1, &mgmt);
    {
        json_t *a = json_array();
        char *svc = acl_service_identity_rules("web");
        char *node = acl_node_identity_rules("n1");

        json_array_append_new(a, json_string(svc));
        json_array_append_new(a, json_string("acl = \"read\""));
        json_array_append_new(a, json_string(node));
        want = dump(a);
        free(svc);
        free(node);
    }
    ck_assert_str_eq(s, want);
    free(s);
    free(want);
    /* Management via a role. */
    ck_assert_int_eq(set_policy(8, MGMT, ACL_GLOBAL_MGMT_NAME, RULES_A), 0);
    ck_assert_int_eq(apply(9, "role-set", "{\"Role\":{\"ID\":\"" R1 "\","
                           "\"Name\":\"r\",\"Policies\":[{\"ID\":\"" MGMT
                           "\"}]}}"), 0);
    s = rules_of(T1, &mgmt);
    ck_assert(mgmt);
    free(s);
    s = rules_of(T2, &mgmt);
    ck_assert(!mgmt);
    free(s);
}
END_TEST

START_TEST(authz_is_cached_until_a_change)
{
    const struct acl_authz *z1, *z2;
    const json_t *t;
    json_t *loose;

    build_links();
    ck_assert_int_eq(set_policy(6, MGMT, ACL_GLOBAL_MGMT_NAME, ""), 0);
    t = acl_store_token(st, T1);
    z1 = acl_store_authz(st, t, err);
    ck_assert_ptr_nonnull(z1);
    ck_assert(!acl_authz_management(z1));
    ck_assert_ptr_eq(acl_store_authz(st, t, err), z1);
    z2 = acl_store_authz(st, acl_store_token(st, T2), err);
    ck_assert_ptr_nonnull(z2);
    ck_assert_ptr_ne(z1, z2);
    ck_assert_ptr_eq(acl_store_authz(st, t, err), z1);
    /* A token that is not stored gets its own authorizer. */
    loose = json_pack("{s:s,s:[{s:s}]}", "AccessorID", T1, "Policies", "ID",
                      MGMT);
    ck_assert(acl_authz_management(acl_store_authz(st, loose, err)));
    json_decref(loose);
    ck_assert_ptr_eq(acl_store_authz(st, t, err), z1);
    /* A change recompiles. */
    ck_assert_int_eq(set_token(7, T1, S1, "\"Policies\":[{\"ID\":\"" MGMT
                               "\"}]"), 0);
    t = acl_store_token(st, T1);
    ck_assert(acl_authz_management(acl_store_authz(st, t, err)));
}
END_TEST

/* ---- bootstrap, builtins, expiry, init ---- */

START_TEST(bootstrap_once_then_reset)
{
    ck_assert_uint_eq(acl_store_bootstrap_index(st), 0);
    ck_assert_int_eq(set_policy(1, MGMT, ACL_GLOBAL_MGMT_NAME, ""), 0);
    ck_assert_int_eq(apply(10, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           T1 "\",\"SecretID\":\"" S1 "\",\"Policies\":[{"
                           "\"ID\":\"" MGMT "\"}]},\"ResetIndex\":0}"), 0);
    ck_assert_uint_eq(acl_store_bootstrap_index(st), 10);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_TOKENS), 10);
    ck_assert_ptr_nonnull(acl_store_token_by_secret(st, S1));
    ck_assert_int_eq(apply(11, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           T2 "\",\"SecretID\":\"" S2 "\"}}"), ERR_DENIED);
    ck_assert_str_eq(err, "ACL bootstrap no longer allowed (reset index: "
                          "10)");
    ck_assert(!changed);
    ck_assert_int_eq(apply(11, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           T2 "\",\"SecretID\":\"" S2 "\"},\"ResetIndex\":9}"),
                     ERR_DENIED);
    ck_assert_ptr_null(acl_store_token(st, T2));
    ck_assert_int_eq(apply(12, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           T2 "\",\"SecretID\":\"" S2 "\"},"
                           "\"ResetIndex\":10}"), 0);
    ck_assert_uint_eq(acl_store_bootstrap_index(st), 12);
    ck_assert_uint_eq(acl_store_max_index(st), 12);
    /* A bootstrap that fails on the token leaves the index. */
    ck_assert_int_eq(apply(13, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           P1 "\",\"SecretID\":\"" S2 "\"},"
                           "\"ResetIndex\":12}"), ERR_EXISTS);
    ck_assert_uint_eq(acl_store_bootstrap_index(st), 12);
}
END_TEST

START_TEST(builtins_are_protected)
{
    ck_assert_int_eq(set_policy(1, MGMT, ACL_GLOBAL_MGMT_NAME, RULES_A), 0);
    ck_assert_int_eq(apply(2, "policy-set", "{\"Policy\":{\"ID\":\"" MGMT
                           "\",\"Name\":\"" ACL_GLOBAL_MGMT_NAME "\","
                           "\"Rules\":\"" RULES_A "\",\"Description\":\"new\"}}"), 0);
    ck_assert_str_eq(str_of(acl_store_policy(st, MGMT), "Description"),
                     "new");
    ck_assert_int_eq(set_policy(3, MGMT, ACL_GLOBAL_MGMT_NAME, RULES_B),
                     ERR_DENIED);
    ck_assert_str_eq(err, "Changing the Rules for the builtin "
                          "global-management policy is not permitted");
    ck_assert_int_eq(set_policy(3, MGMT, "other", RULES_A), ERR_DENIED);
    ck_assert_int_eq(apply(4, "policy-delete", "{\"ID\":\"" MGMT "\"}"),
                     ERR_DENIED);
    ck_assert_str_eq(err, "Deletion of the builtin global-management policy "
                          "is not permitted");
    ck_assert_ptr_nonnull(acl_store_policy(st, MGMT));
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 2);
    ck_assert_int_eq(set_token(5, ACL_ANON_ACCESSOR, ACL_ANON_SECRET, ""), 0);
    ck_assert_int_eq(apply(6, "token-delete", "{\"AccessorID\":\""
                           ACL_ANON_ACCESSOR "\"}"), ERR_DENIED);
    ck_assert_str_eq(err, "Cannot delete the anonymous token");
    ck_assert_ptr_nonnull(acl_store_token_by_secret(st, ACL_ANON_SECRET));
}
END_TEST

START_TEST(expired_tokens)
{
    static const struct {
        const char *t;
        int64_t exp; /* ms since the epoch */
    } cases[] = {
        {"2020-01-01T00:00:00Z", 1577836800000},
        {"2020-01-01T01:00:00+01:00", 1577836800000},
        {"2019-12-31T23:30:00.25-00:30", 1577836800250},
        {"2024-02-29T12:00:00.123456789Z", 1709208000123},
    };
    char buf[128];
    json_t *t;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "{\"ExpirationTime\":\"%s\"}",
                 cases[i].t);
        t = js(buf);
        ck_assert_msg(!acl_token_expired(t, cases[i].exp), "%s", cases[i].t);
        ck_assert_msg(acl_token_expired(t, cases[i].exp + 1), "%s",
                      cases[i].t);
        json_decref(t);
    }
    t = js("{}");
    ck_assert(!acl_token_expired(t, INT64_MAX));
    json_decref(t);
    ck_assert_int_eq(set_token(1, T1, S1, "\"ExpirationTime\":"
                               "\"2020-01-01T00:00:00Z\""), 0);
    ck_assert(acl_token_expired(acl_store_token(st, T1), 1577836800001));
    ck_assert_int_eq(set_token(2, T2, S2, "\"ExpirationTime\":null"), 0);
    ck_assert_ptr_null(json_object_get(acl_store_token(st, T2),
                                       "ExpirationTime"));
}
END_TEST

START_TEST(init_sets_the_secret_once)
{
    const unsigned char *sec;
    int i;

    ck_assert_ptr_null(acl_store_secret(st));
    ck_assert_int_eq(apply(1, "init", "{\"Secret\":\"" SECRET_B64 "\"}"), 0);
    ck_assert(changed);
    sec = acl_store_secret(st);
    ck_assert_ptr_nonnull(sec);
    for (i = 0; i < 32; i++)
        ck_assert_int_eq(sec[i], i);
    ck_assert_int_eq(apply(2, "init", "{\"Secret\":\"AAAAAAAAAAAAAAAAAAAAAAA"
                           "AAAAAAAAAAAAAAAAAAAA=\"}"), 0);
    ck_assert(!changed);
    ck_assert_int_eq(acl_store_secret(st)[31], 31);
}
END_TEST

/* ---- validation ---- */

START_TEST(check_refuses_malformed_requests)
{
    static const struct {
        const char *op, *req, *msg;
    } bad[] = {
        {"token-update", "{}", "unknown ACL operation \"token-update\""},
        {NULL, "{}", "unknown ACL operation \"\""},
        {"token-set", "[]", "Request decode failed: the token-set request "
                            "is not a JSON object"},
        {"token-set", "{}", "Request decode failed: missing Token"},
        {"token-set", "{\"Token\":{},\"X\":1}",
         "Request decode failed: unknown field \"X\""},
        {"token-set", "{\"Token\":[]}", "Invalid Token: not a JSON object"},
        {"token-set", "{\"Token\":{\"SecretID\":\"s\"}}",
         "Invalid Token: missing AccessorID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\"}}",
         "Invalid Token: missing SecretID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"4444\",\"SecretID\":"
                      "\"s\"}}",
         "Invalid Token: AccessorID \"4444\" is not a valid UUID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "x\",\"SecretID\":"
                      "\"s\"}}", "Invalid Token: AccessorID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"g4444444-4444-4444-4444"
                      "-444444444444\",\"SecretID\":\"s\"}}",
         "Invalid Token: AccessorID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"a b\"}}",
         "Invalid Token: SecretID must be 1 to 128 printable characters"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "7}}", "Invalid Token: SecretID must be"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Legacy\":false}}",
         "Invalid Token: unknown field \"Legacy\""},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Local\":1}}",
         "Invalid Token: Local must be a boolean"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Description\":5}}",
         "Invalid Token: Description must be a string of at most 1024 "
         "bytes"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Policies\":{}}}",
         "Invalid Token: Policies must be an array"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Policies\":[\"x\"]}}",
         "Invalid Token: Policies entries must be objects"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Roles\":[{\"Name\":\"r\"}]}}",
         "Invalid Token: Roles link ID \"\" is not a valid UUID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Roles\":[{\"ID\":\"" R1 "\",\"X\":1}]}}",
         "Invalid Token: unknown field \"X\" in Roles"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"ServiceIdentities\":[{\"ServiceName\":"
                      "\"Web\"}]}}",
         "Invalid Token: Service identity \"Web\" has an invalid name. Only "
         "lowercase alphanumeric characters, '-' and '_' are allowed"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"ServiceIdentities\":[{\"ServiceName\":"
                      "\"web-\"}]}}", "Invalid Token: Service identity"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"ServiceIdentities\":[{\"ServiceName\":"
                      "\"web\",\"Datacenters\":[1]}]}}",
         "Invalid Token: ServiceIdentities Datacenters must be an array of "
         "non-empty strings"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"NodeIdentities\":[{\"NodeName\":\"n\"}]}}",
         "Invalid Token: Node identity is missing the datacenter field on "
         "this token"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"NodeIdentities\":[{\"NodeName\":\"n.1\","
                      "\"Datacenter\":\"d\"}]}}",
         "Invalid Token: Node identity \"n.1\" has an invalid name"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"ExpirationTime\":\"2020-02-30T00:00:00Z\"}}",
         "Invalid Token: ExpirationTime \"2020-02-30T00:00:00Z\" is not an "
         "RFC 3339 time"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"ExpirationTime\":\"2020-01-01 00:00:00Z\"}}",
         "Invalid Token: ExpirationTime"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"CreateIndex\":-1}}",
         "Invalid Token: CreateIndex must be a non-negative integer"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\",\"Hash\":true}}",
         "Invalid Token: Hash must be a string"},
        {"token-delete", "{\"AccessorID\":\"x\"}",
         "Invalid AccessorID \"x\": not a UUID"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\"}}",
         "Invalid Policy: missing Name"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"a b\"}}",
         "Invalid Policy: invalid Name. Only alphanumeric characters, '-' "
         "and '_' are allowed"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"\"}}",
         "Invalid Policy: invalid Name"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"p\","
                       "\"Rules\":7}}",
         "Invalid Policy: Rules must be a string of at most 65536 bytes"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"p\","
                       "\"Datacenters\":[\"\"]}}",
         "Invalid Policy: Datacenters must be an array of non-empty "
         "strings"},
        {"policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"p\","
                       "\"Roles\":[]}}",
         "Invalid Policy: unknown field \"Roles\""},
        {"policy-delete", "{\"ID\":1}", "Invalid ID \"\": not a UUID"},
        {"role-set", "{\"Role\":{\"ID\":\"" R1 "\",\"Name\":\"r\","
                     "\"Rules\":\"\"}}",
         "Invalid Role: unknown field \"Rules\""},
        {"role-set", "{\"Role\":{\"ID\":\"" R1 "\",\"Name\":\"r\","
                     "\"NodeIdentities\":[{\"NodeName\":\"n\"}]}}",
         "Invalid Role: Node identity is missing the datacenter field on "
         "this role"},
        {"role-delete", "{\"ID\":\"" R1 "\",\"Name\":\"r\"}",
         "Request decode failed: unknown field \"Name\""},
        {"bootstrap", "{\"Token\":{\"AccessorID\":\"" T1 "\",\"SecretID\":"
                      "\"s\"},\"ResetIndex\":\"1\"}",
         "ResetIndex must be a non-negative integer"},
        {"init", "{\"Secret\":\"AAAA\"}",
         "Secret is not the base64 of 32 bytes"},
        {"init", "{\"Secret\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                 "A\"}", "Secret is not the base64 of 32 bytes"},
    };
    char longdesc[ACL_MAX_DESC + 64];
    json_t *req;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req = js(bad[i].req);
        ck_assert_msg(acl_store_check(bad[i].op, req, err) == ERR_INVAL,
                      "%zu accepted", i);
        ck_assert_msg(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0,
                      "%zu: %s", i, err);
        ck_assert_int_eq(acl_store_apply(st, 1, bad[i].op, req, &changed,
                                         err), ERR_INVAL);
        ck_assert(!changed);
        json_decref(req);
    }
    memset(longdesc, 'd', ACL_MAX_DESC + 1);
    longdesc[ACL_MAX_DESC + 1] = '\0';
    req = json_pack("{s:{s:s,s:s,s:s}}", "Policy", "ID", P1, "Name", "p",
                    "Description", longdesc);
    ck_assert_int_eq(acl_store_check("policy-set", req, err), ERR_INVAL);
    json_decref(req);
    longdesc[ACL_MAX_DESC] = '\0';
    req = json_pack("{s:{s:s,s:s,s:s}}", "Policy", "ID", P1, "Name", "p",
                    "Description", longdesc);
    ck_assert_int_eq(acl_store_check("policy-set", req, err), 0);
    json_decref(req);
    ck_assert_uint_eq(acl_store_max_index(st), 0);
}
END_TEST

START_TEST(secrets_stay_out_of_messages)
{
    ck_assert_int_eq(set_token(1, T1, "topsecret", ""), 0);
    ck_assert_int_eq(set_token(2, T2, "topsecret", ""), ERR_EXISTS);
    ck_assert_ptr_null(strstr(err, "topsecret"));
    ck_assert_int_eq(set_token(3, T1, "othersecret", ""), ERR_INVAL);
    ck_assert_ptr_null(strstr(err, "secret\""));
    ck_assert_int_eq(set_token(4, T1, "top secret", ""), ERR_INVAL);
    ck_assert_ptr_null(strstr(err, "top secret"));
}
END_TEST

/* ---- snapshot records ---- */

static int collect(void *ctx, const json_t *rec)
{
    return json_array_append(ctx, (json_t *)rec);
}

static json_t *records_of(const struct acl_store *s)
{
    json_t *a = json_array();

    ck_assert_int_eq(acl_store_foreach(s, collect, a), 0);
    return a;
}

/* Everything a reader can see of s, as one text. */
static char *image(struct acl_store *s)
{
    json_t *all = json_pack("{s:o,s:o,s:o,s:o,s:[I,I,I,I]}", "tokens",
                            acl_store_token_list(s, NULL, NULL, true),
                            "policies", acl_store_policy_list(s), "roles",
                            acl_store_role_list(s, NULL), "records",
                            records_of(s), "indexes",
                            (json_int_t)acl_store_index(s, ACL_T_TOKENS),
                            (json_int_t)acl_store_index(s, ACL_T_POLICIES),
                            (json_int_t)acl_store_index(s, ACL_T_ROLES),
                            (json_int_t)acl_store_bootstrap_index(s));

    return dump(all);
}

static struct acl_store *restored(const json_t *recs)
{
    struct acl_store *s = acl_store_new();
    json_t *r;
    size_t i;

    json_array_foreach(recs, i, r)
        ck_assert_msg(acl_store_restore_record(s, r, err) == 0, "%s", err);
    return s;
}

START_TEST(foreach_restore_round_trip)
{
    struct acl_store *s;
    json_t *recs;
    char *a, *b;

    recs = records_of(st);
    ck_assert_uint_eq(json_array_size(recs), 0);
    json_decref(recs);
    build_links();
    ck_assert_int_eq(set_policy(6, MGMT, ACL_GLOBAL_MGMT_NAME, ""), 0);
    ck_assert_int_eq(apply(7, "bootstrap", "{\"Token\":{\"AccessorID\":\""
                           ACL_ANON_ACCESSOR "\",\"SecretID\":\"anonymous\","
                           "\"ServiceIdentities\":[{\"ServiceName\":\"w\"}],"
                           "\"ExpirationTime\":\"2030-01-01T00:00:00Z\"}}"),
                     0);
    ck_assert_int_eq(apply(8, "init", "{\"Secret\":\"" SECRET_B64 "\"}"), 0);
    ck_assert_int_eq(apply(9, "role-set", "{\"Role\":{\"ID\":\"" P2 "\","
                           "\"Name\":\"gone\"}}"), 0);
    ck_assert_int_eq(apply(20, "role-delete", "{\"ID\":\"" P2 "\"}"), 0);
    recs = records_of(st);
    ck_assert_str_eq(str_of(json_array_get(recs, 0), "Kind"), "policy");
    ck_assert_str_eq(str_of(json_array_get(recs, json_array_size(recs) - 1),
                            "Kind"), "meta");
    s = restored(recs);
    a = image(st);
    b = image(s);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    ck_assert_uint_eq(acl_store_index(s, ACL_T_ROLES), 20);
    ck_assert_int_eq(memcmp(acl_store_secret(s), acl_store_secret(st), 32),
                     0);
    ck_assert_ptr_eq(acl_store_token_by_secret(s, S1),
                     acl_store_token(s, T1));
    /* The restored store takes writes like the original. */
    ck_assert_int_eq(apply_in(s, 21, "bootstrap", "{\"Token\":{"
                              "\"AccessorID\":\"" T2 "\",\"SecretID\":"
                              "\"z\"}}"), ERR_DENIED);
    ck_assert_int_eq(set_policy(22, P1, "alpha", ""), ERR_EXISTS);
    json_decref(recs);
    acl_store_free(s);
}
END_TEST

START_TEST(restore_rejects_bad_records)
{
    static const char *const bad[] = {
        "{}",
        "{\"Kind\":\"user\"}",
        "{\"Kind\":\"policy\",\"ID\":\"" P1 "\",\"Name\":\"p\"}",
        "{\"Kind\":\"policy\",\"ID\":\"" P1 "\",\"Name\":\"p\","
        "\"CreateIndex\":0,\"ModifyIndex\":1}",
        "{\"Kind\":\"policy\",\"ID\":\"" P1 "\",\"Name\":\"p\","
        "\"CreateIndex\":3,\"ModifyIndex\":2}",
        "{\"Kind\":\"policy\",\"ID\":\"" P2 "\",\"Name\":\"q\","
        "\"CreateIndex\":1,\"ModifyIndex\":1}", /* duplicate ID */
        "{\"Kind\":\"policy\",\"ID\":\"" P1 "\",\"Name\":\"P\","
        "\"CreateIndex\":1,\"ModifyIndex\":1}", /* duplicate Name */
        "{\"Kind\":\"token\",\"AccessorID\":\"" T2 "\",\"SecretID\":\"" S1
        "\",\"CreateIndex\":1,\"ModifyIndex\":1}", /* duplicate secret */
        "{\"Kind\":\"meta\",\"BootstrapIndex\":0,\"TokensIndex\":1,"
        "\"PoliciesIndex\":4,\"RolesIndex\":0}", /* below the records */
        "{\"Kind\":\"meta\",\"BootstrapIndex\":0,\"TokensIndex\":9,"
        "\"PoliciesIndex\":9,\"RolesIndex\":0,\"X\":1}",
        "{\"Kind\":\"meta\",\"BootstrapIndex\":0,\"TokensIndex\":9,"
        "\"PoliciesIndex\":9,\"RolesIndex\":0,\"Secret\":\"AA==\"}",
        "{\"Kind\":\"meta\",\"BootstrapIndex\":-1,\"TokensIndex\":9,"
        "\"PoliciesIndex\":9,\"RolesIndex\":0}",
    };
    static const char good_p[] =
        "{\"Kind\":\"policy\",\"ID\":\"" P2 "\",\"Name\":\"p\",\"Description\""
        ":\"\",\"Rules\":\"\",\"Datacenters\":[],\"Hash\":\"\","
        "\"CreateIndex\":2,\"ModifyIndex\":5}";
    static const char good_t[] =
        "{\"Kind\":\"token\",\"AccessorID\":\"" T1 "\",\"SecretID\":\"" S1
        "\",\"Policies\":[{\"ID\":\"" P1 "\",\"Name\":\"dangling\"}],"
        "\"CreateIndex\":1,\"ModifyIndex\":1}";
    static const char meta[] =
        "{\"Kind\":\"meta\",\"BootstrapIndex\":0,\"TokensIndex\":9,"
        "\"PoliciesIndex\":9,\"RolesIndex\":0}";
    json_t *r;
    size_t i;

    r = js(good_p);
    ck_assert_int_eq(acl_store_restore_record(st, r, err), 0);
    json_decref(r);
    r = js(good_t);
    ck_assert_int_eq(acl_store_restore_record(st, r, err), 0);
    json_decref(r);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 5);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = js(bad[i]);
        ck_assert_msg(acl_store_restore_record(st, r, err) == ERR_PARSE,
                      "%zu accepted", i);
        json_decref(r);
    }
    ck_assert_ptr_null(acl_store_policy(st, P1));
    r = js(meta);
    ck_assert_int_eq(acl_store_restore_record(st, r, err), 0);
    ck_assert_int_eq(acl_store_restore_record(st, r, err), ERR_PARSE);
    json_decref(r);
    r = js(good_p);
    ck_assert_int_eq(acl_store_restore_record(st, r, err), ERR_PARSE);
    json_decref(r);
    ck_assert_uint_eq(acl_store_index(st, ACL_T_POLICIES), 9);
    /* Links are not checked, and views drop the dangling one. */
    r = acl_store_token_view(st, acl_store_token(st, T1));
    ck_assert_uint_eq(json_array_size(json_object_get(r, "Policies")), 0);
    json_decref(r);
}
END_TEST

static Suite *acl_store_suite(void)
{
    Suite *s = suite_create("acl_store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, policy_set_get_update_delete);
    tcase_add_test(tc, role_set_get_update_delete);
    tcase_add_test(tc, token_set_get_update_delete);
    tcase_add_test(tc, names_and_secrets_are_unique);
    tcase_add_test(tc, views_follow_renames_and_deletes);
    tcase_add_test(tc, lists_are_sorted_and_filtered);
    tcase_add_test(tc, token_rules_via_roles_and_identities);
    tcase_add_test(tc, authz_is_cached_until_a_change);
    tcase_add_test(tc, bootstrap_once_then_reset);
    tcase_add_test(tc, builtins_are_protected);
    tcase_add_test(tc, expired_tokens);
    tcase_add_test(tc, init_sets_the_secret_once);
    tcase_add_test(tc, check_refuses_malformed_requests);
    tcase_add_test(tc, secrets_stay_out_of_messages);
    tcase_add_test(tc, foreach_restore_round_trip);
    tcase_add_test(tc, restore_rejects_bad_records);
    suite_add_tcase(s, tc);
    return s;
}

Suite *unit_suite(void)
{
    return acl_store_suite();
}

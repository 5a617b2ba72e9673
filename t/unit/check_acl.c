/* check_acl.c - unit tests for ACL rules and authorizers
 * (libcore/acl_rules.c, libcore/acl_authz.c).
 *
 * Covers parsing (HCL and JSON shapes, every error class), merging
 * within and across policies, exact/longest-prefix lookup (checked
 * against a brute-force model), dispositions, the default policy, the
 * acl resource, management, recursive key writes, identity templates,
 * and a run of random mutations of a valid policy.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "err.h"
#include "unit.h"

/* ck_assert records a checkpoint through a pipe on every call; hot
 * loops use this instead, which costs nothing until it fails. */
#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

#define DECIDE(z, res, name, need) acl_authz_decide(z, ACL_RES_##res, name, \
                                                    ACL_##need)
#define ALLOW(z, res, name, need)                                       \
    ck_assert_int_eq(DECIDE(z, res, name, need), ACL_ALLOW)
#define DENY(z, res, name, need)                                        \
    ck_assert_int_eq(DECIDE(z, res, name, need), ACL_DENY)
#define DEFAULT(z, res, name, need)                                     \
    ck_assert_int_eq(DECIDE(z, res, name, need), ACL_DEFAULT)

static struct acl_authz *z, *z2;
static char err[ERR_LEN];

static void setup(void)
{
    z = z2 = NULL;
    err[0] = '\0';
}

static void teardown(void)
{
    acl_authz_free(z);
    acl_authz_free(z2);
}

static void add(struct acl_authz *a, const char *text)
{
    struct acl_rules *r = NULL;

    ck_assert_msg(acl_rules_parse(text, strlen(text), &r, err) == 0,
                  "parse: %s", err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(acl_authz_add(a, r, err), 0);
    acl_rules_free(r);
}

/* An authorizer of one or two policies (b may be NULL). */
static struct acl_authz *authz(const char *a, const char *b)
{
    struct acl_authz *x = acl_authz_new(false);

    ck_assert_ptr_nonnull(x);
    add(x, a);
    if (b != NULL)
        add(x, b);
    return x;
}

static void parse_fails(const char *text, const char *frag)
{
    struct acl_rules *r = NULL;
    int rc;

    err[0] = '\0';
    rc = acl_rules_parse(text, strlen(text), &r, err);
    ck_assert_msg(rc == ERR_INVAL, "%s: rc %d, want ERR_INVAL", text, rc);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, frag) != NULL, "%s: got \"%s\", want \"%s\"",
                  text, err, frag);
}

static const char example_hcl[] =
    "key_prefix \"\" { policy = \"read\" }\n"
    "key_prefix \"foo/\" { policy = \"write\" }\n"
    "key_prefix \"foo/private/\" { policy = \"deny\" }\n"
    "key \"foo/bar/secret\" { policy = \"deny\" }\n"
    "operator = \"read\"\n";

static const char example_json[] =
    "{\"key_prefix\": {\"\": {\"policy\": \"read\"},\n"
    "  \"foo/\": {\"policy\": \"write\"},\n"
    "  \"foo/private/\": {\"policy\": \"deny\"}},\n"
    " \"key\": {\"foo/bar/secret\": {\"policy\": \"deny\"}},\n"
    " \"operator\": \"read\"}";

/* ---- names and trivial cases ------------------------------------------ */

START_TEST(resource_names)
{
    ck_assert_str_eq(acl_res_name(ACL_RES_KEY), "key");
    ck_assert_str_eq(acl_res_name(ACL_RES_OPERATOR), "operator");
    ck_assert_str_eq(acl_res_name(ACL_RES_SESSION), "session");
    ck_assert_str_eq(acl_need_name(ACL_LIST), "list");
    ck_assert_str_eq(acl_need_name(ACL_WRITE), "write");
    ck_assert(acl_res_labeled(ACL_RES_KEY));
    ck_assert(acl_res_labeled(ACL_RES_QUERY));
    ck_assert(!acl_res_labeled(ACL_RES_ACL));
    ck_assert(!acl_res_labeled(ACL_RES_MESH));
    ck_assert(!acl_res_labeled(ACL_RES_PEERING));
}
END_TEST

START_TEST(empty_grants_nothing)
{
    struct acl_rules *r = NULL;

    ck_assert_int_eq(acl_rules_parse("", 0, &r, err), 0);
    ck_assert_ptr_nonnull(r);
    acl_rules_free(r);
    z = authz("  # only a comment\n\n", "{}");
    DEFAULT(z, KEY, "x", READ);
    DEFAULT(z, OPERATOR, NULL, READ);
    DEFAULT(z, ACL, NULL, READ);
    ck_assert(!acl_authz_management(z));
    acl_rules_free(NULL);
    acl_authz_free(NULL);
    ck_assert_int_eq(acl_authz_add(z, NULL, err), 0);
}
END_TEST

START_TEST(null_authz_is_default)
{
    ck_assert_int_eq(acl_authz_decide(NULL, ACL_RES_KEY, "a", ACL_READ),
                     ACL_DEFAULT);
    ck_assert(acl_allowed(NULL, true, ACL_RES_KEY, "a", ACL_WRITE));
    ck_assert(!acl_allowed(NULL, false, ACL_RES_KEY, "a", ACL_READ));
    ck_assert(!acl_allowed(NULL, true, ACL_RES_ACL, NULL, ACL_READ));
    ck_assert(!acl_authz_management(NULL));
}
END_TEST

/* ---- decisions -------------------------------------------------------- */

START_TEST(example_policy)
{
    z = authz(example_hcl, NULL);
    ALLOW(z, KEY, "x", READ);
    DENY(z, KEY, "x", WRITE);
    ALLOW(z, KEY, "foo/a", WRITE);
    DENY(z, KEY, "foo/private/z", READ);
    DENY(z, KEY, "foo/bar/secret", READ);
    ALLOW(z, KEY, "foo/bar/secretx", WRITE);
    ALLOW(z, KEY, "foo/private", WRITE); /* no slash: under foo/ */
    ALLOW(z, OPERATOR, NULL, READ);
    DENY(z, OPERATOR, NULL, WRITE);
    DEFAULT(z, SERVICE, "web", READ);
}
END_TEST

START_TEST(hcl_and_json_agree)
{
    static const char *names[] = {"", "x", "foo", "foo/", "foo/a",
                                  "foo/private/", "foo/private/z",
                                  "foo/bar/secret", "foo/bar/secre"};
    struct acl_authz *j;

    z = authz(example_hcl, NULL);
    z2 = j = authz(example_json, NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (int n = ACL_READ; n <= ACL_WRITE; n++)
            for (int r = 0; r < ACL_RES_COUNT; r++)
                REQUIRE(acl_authz_decide(z, r, names[i], n) ==
                        acl_authz_decide(j, r, names[i], n));
}
END_TEST

START_TEST(exact_beats_prefix)
{
    z = authz("key \"a/b\" { policy = \"write\" }\n"
              "key_prefix \"a/\" { policy = \"read\" }\n"
              "service \"web\" { policy = \"read\" }\n"
              "service_prefix \"web\" { policy = \"write\" }\n",
              NULL);
    ALLOW(z, KEY, "a/b", WRITE);
    DENY(z, KEY, "a/bc", WRITE);
    ALLOW(z, KEY, "a/bc", READ);
    DENY(z, SERVICE, "web", WRITE);
    ALLOW(z, SERVICE, "web", READ);
    ALLOW(z, SERVICE, "web2", WRITE);
    DEFAULT(z, SERVICE, "we", READ);
}
END_TEST

START_TEST(longest_prefix_wins)
{
    z = authz("node_prefix \"\" { policy = \"deny\" }\n"
              "node_prefix \"ab\" { policy = \"write\" }\n"
              "node_prefix \"abb\" { policy = \"read\" }\n"
              "node_prefix \"abz\" { policy = \"deny\" }\n"
              "node_prefix \"abc/d\" { policy = \"read\" }\n",
              NULL);
    ALLOW(z, NODE, "abc", WRITE);   /* abb, abc/d sort around it */
    ALLOW(z, NODE, "abc/x", WRITE); /* abc/d is not its prefix */
    DENY(z, NODE, "abc/de", WRITE);
    ALLOW(z, NODE, "abc/de", READ);
    DENY(z, NODE, "abbey", WRITE);
    DENY(z, NODE, "abzzz", READ);
    DENY(z, NODE, "a", READ);
    DENY(z, NODE, "", READ);
    ALLOW(z, NODE, "ab", WRITE);
}
END_TEST

START_TEST(empty_names)
{
    z = authz("key \"\" { policy = \"write\" }\n"
              "session_prefix \"\" { policy = \"write\" }\n",
              NULL);
    ALLOW(z, KEY, "", WRITE);
    DEFAULT(z, KEY, "a", READ);
    ALLOW(z, KEY, NULL, WRITE); /* NULL name reads as "" */
    ALLOW(z, SESSION, "", WRITE);
    ALLOW(z, SESSION, "anything/at/all", WRITE);
}
END_TEST

START_TEST(deny_wins_across_policies)
{
    z = authz("key_prefix \"a/\" { policy = \"write\" }\n"
              "operator = \"write\"",
              "key_prefix \"a/\" { policy = \"deny\" }\n"
              "operator = \"deny\"");
    DENY(z, KEY, "a/x", READ);
    DENY(z, OPERATOR, NULL, READ);
    z2 = authz("key_prefix \"a/\" { policy = \"deny\" }",
               "key_prefix \"a/\" { policy = \"write\" }");
    DENY(z2, KEY, "a/x", READ);
}
END_TEST

START_TEST(merge_precedence)
{
    z = authz("key_prefix \"a/\" { policy = \"read\" }\n"
              "key_prefix \"b/\" { policy = \"list\" }\n",
              "key_prefix \"a/\" { policy = \"list\" }\n"
              "key_prefix \"b/\" { policy = \"write\" }\n");
    ALLOW(z, KEY, "a/x", LIST);
    DENY(z, KEY, "a/x", WRITE);
    ALLOW(z, KEY, "b/x", WRITE);
    /* Inside one policy too, whatever the order. */
    z2 = authz("key \"k\" { policy = \"write\" }\n"
               "key \"k\" { policy = \"read\" }\n"
               "key_prefix \"p\" { policy = \"list\" }\n"
               "key_prefix \"p\" { policy = \"read\" }\n",
               NULL);
    ALLOW(z2, KEY, "k", WRITE);
    ALLOW(z2, KEY, "pq", LIST);
    DENY(z2, KEY, "pq", WRITE);
}
END_TEST

START_TEST(dispositions)
{
    z = authz("key_prefix \"l/\" { policy = \"list\" }\n"
              "key_prefix \"r/\" { policy = \"read\" }\n"
              "key_prefix \"w/\" { policy = \"write\" }\n"
              "key_prefix \"d/\" { policy = \"deny\" }\n",
              NULL);
    ALLOW(z, KEY, "l/x", READ);
    ALLOW(z, KEY, "l/x", LIST);
    DENY(z, KEY, "l/x", WRITE);
    ALLOW(z, KEY, "r/x", READ);
    DENY(z, KEY, "r/x", LIST);
    DENY(z, KEY, "r/x", WRITE);
    ALLOW(z, KEY, "w/x", READ);
    ALLOW(z, KEY, "w/x", LIST);
    ALLOW(z, KEY, "w/x", WRITE);
    DENY(z, KEY, "d/x", READ);
    DENY(z, KEY, "d/x", LIST);
}
END_TEST

START_TEST(unlabeled_resources)
{
    z = authz("operator = \"read\"\nkeyring = \"write\"\n"
              "mesh = \"deny\"\npeering = \"read\"\nacl = \"read\"",
              NULL);
    ALLOW(z, OPERATOR, "ignored", READ);
    DENY(z, OPERATOR, NULL, WRITE);
    ALLOW(z, KEYRING, NULL, WRITE);
    DENY(z, MESH, NULL, READ);
    ALLOW(z, PEERING, NULL, READ);
    ALLOW(z, ACL, NULL, READ);
    DENY(z, ACL, NULL, WRITE);
    ck_assert(acl_allowed(z, false, ACL_RES_ACL, NULL, ACL_READ));
}
END_TEST

START_TEST(default_policy)
{
    z = authz("key_prefix \"ro/\" { policy = \"read\" }", NULL);
    ck_assert(acl_allowed(z, true, ACL_RES_KEY, "other", ACL_WRITE));
    ck_assert(!acl_allowed(z, false, ACL_RES_KEY, "other", ACL_READ));
    ck_assert(!acl_allowed(z, true, ACL_RES_KEY, "ro/x", ACL_WRITE));
    ck_assert(acl_allowed(z, false, ACL_RES_KEY, "ro/x", ACL_READ));
    ck_assert(acl_allowed(z, true, ACL_RES_OPERATOR, NULL, ACL_WRITE));
    ck_assert(!acl_allowed(z, false, ACL_RES_OPERATOR, NULL, ACL_READ));
}
END_TEST

START_TEST(acl_resource_needs_management)
{
    z = authz("key_prefix \"\" { policy = \"write\" }", NULL);
    ck_assert(!acl_allowed(z, true, ACL_RES_ACL, NULL, ACL_READ));
    ck_assert(!acl_allowed(z, true, ACL_RES_ACL, NULL, ACL_WRITE));
    z2 = authz("acl = \"write\"", NULL);
    ck_assert(acl_allowed(z2, false, ACL_RES_ACL, NULL, ACL_WRITE));
}
END_TEST

START_TEST(management_allows_everything)
{
    z = acl_authz_new(true);
    ck_assert_ptr_nonnull(z);
    add(z, "key_prefix \"\" { policy = \"deny\" }\nacl = \"deny\"");
    ck_assert(acl_authz_management(z));
    for (int r = 0; r < ACL_RES_COUNT; r++)
        for (int n = ACL_READ; n <= ACL_WRITE; n++) {
            REQUIRE(acl_authz_decide(z, r, "x", n) == ACL_ALLOW);
            REQUIRE(acl_allowed(z, false, r, "x", n));
        }
    ck_assert(acl_key_write_prefix(z, false, ""));
}
END_TEST

START_TEST(deep_prefix_chain)
{
    static char text[ACL_MAX_RULES];
    char name[128];
    size_t off = 0;

    /* key_prefix a, aa, ... (100 a's): odd lengths write, even read, and
     * beside each a deny rule "a...ab" sorting between the links. */
    memset(name, 'a', sizeof(name));
    for (int i = 1; i <= 100; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off,
                                "key_prefix \"%.*s\" { policy = \"%s\" }\n"
                                "key_prefix \"%.*sb\" { policy = \"deny\" }\n",
                                i, name, i % 2 ? "write" : "read", i - 1,
                                name);
    z = authz(text, NULL);
    memcpy(name + 51, "c", 2); /* 51 a's and c */
    ALLOW(z, KEY, name, WRITE);
    memcpy(name + 50, "c", 2);
    DENY(z, KEY, name, WRITE);
    ALLOW(z, KEY, name, READ);
    memcpy(name + 50, "bz", 3);
    DENY(z, KEY, name, READ);
    DENY(z, KEY, "b", READ);
    DEFAULT(z, KEY, "c", READ);
}
END_TEST

START_TEST(rules_outlive_nothing)
{
    static const char t[] = "key_prefix \"k/\" { policy = \"write\" }";
    struct acl_rules *r = NULL;

    ck_assert_int_eq(acl_rules_parse(t, sizeof(t) - 1, &r, err), 0);
    z = acl_authz_new(false);
    z2 = acl_authz_new(false);
    ck_assert_int_eq(acl_authz_add(z, r, err), 0);
    ck_assert_int_eq(acl_authz_add(z2, r, err), 0);
    ck_assert_int_eq(acl_authz_add(z2, r, err), 0);
    acl_rules_free(r);
    ALLOW(z, KEY, "k/x", WRITE);
    ALLOW(z2, KEY, "k/x", WRITE);
    DEFAULT(z2, KEY, "j", READ);
}
END_TEST

/* ---- recursive key writes --------------------------------------------- */

START_TEST(key_write_prefix_rules_under)
{
    z = authz("key_prefix \"app/\" { policy = \"write\" }\n"
              "key_prefix \"app/ro/\" { policy = \"read\" }\n"
              "key \"app/x/locked\" { policy = \"deny\" }\n"
              "key_prefix \"app/y/\" { policy = \"write\" }\n",
              NULL);
    ck_assert(!acl_key_write_prefix(z, true, "app/"));
    ck_assert(!acl_key_write_prefix(z, true, "app/ro/"));
    ck_assert(!acl_key_write_prefix(z, true, "app/ro"));
    ck_assert(!acl_key_write_prefix(z, true, "app/x/"));
    ck_assert(acl_key_write_prefix(z, false, "app/y/"));
    ck_assert(acl_key_write_prefix(z, false, "app/z"));
    ck_assert(!acl_key_write_prefix(z, true, ""));
    /* app/ro/ sorts right after app/q but is not under it. */
    ck_assert(acl_key_write_prefix(z, false, "app/q"));
}
END_TEST

START_TEST(key_write_prefix_default_and_exact)
{
    z = authz("key \"a/\" { policy = \"write\" }\n"
              "key_prefix \"b/\" { policy = \"write\" }\n"
              "key_prefix \"b\" { policy = \"read\" }\n"
              "key \"b/\" { policy = \"write\" }\n",
              NULL);
    /* No prefix rule above a/: the default decides. */
    ck_assert(acl_key_write_prefix(z, true, "a/"));
    ck_assert(!acl_key_write_prefix(z, false, "a/"));
    ck_assert(acl_key_write_prefix(z, false, "b/"));
    ck_assert(acl_key_write_prefix(z, false, "b/c"));
    /* An exact write rule on the prefix covers one key, not the tree. */
    ck_assert(!acl_key_write_prefix(z, true, "b"));
    z2 = authz("key_prefix \"c\" { policy = \"read\" }\n"
               "key \"c/\" { policy = \"write\" }\n",
               NULL);
    ck_assert(!acl_key_write_prefix(z2, true, "c/"));
    ck_assert(acl_allowed(z2, false, ACL_RES_KEY, "c/", ACL_WRITE));
}
END_TEST

/* ---- identities ------------------------------------------------------- */

START_TEST(service_identity)
{
    char *t = acl_service_identity_rules("web");

    ck_assert_ptr_nonnull(t);
    z = authz(t, NULL);
    free(t);
    ALLOW(z, SERVICE, "web", WRITE);
    ALLOW(z, SERVICE, "web-sidecar-proxy", WRITE);
    DENY(z, SERVICE, "web2", WRITE);
    ALLOW(z, SERVICE, "db", READ);
    ALLOW(z, NODE, "n1", READ);
    DENY(z, NODE, "n1", WRITE);
    DEFAULT(z, KEY, "x", READ);
}
END_TEST

START_TEST(node_identity)
{
    char *t = acl_node_identity_rules("n1");

    ck_assert_ptr_nonnull(t);
    z = authz(t, NULL);
    free(t);
    ALLOW(z, NODE, "n1", WRITE);
    DEFAULT(z, NODE, "n2", READ);
    ALLOW(z, SERVICE, "db", READ);
    DENY(z, SERVICE, "db", WRITE);
}
END_TEST

START_TEST(identity_bad_names)
{
    static const char *bad[] = {"a\"b", "a\\b", "a\nb", "a\tb", "a${x}",
                                "a\x7f"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_null(acl_service_identity_rules(bad[i]));
        ck_assert_ptr_null(acl_node_identity_rules(bad[i]));
    }
    ck_assert_ptr_null(acl_service_identity_rules(NULL));
    ck_assert_ptr_null(acl_node_identity_rules(NULL));
}
END_TEST

/* ---- shapes ----------------------------------------------------------- */

START_TEST(repeated_block_shapes)
{
    z = authz("key \"a\" { policy = \"read\" }\n"
              "key \"b\" { policy = \"write\" }\n"
              "key \"a\" { policy = \"write\" }\n"
              "key { \"c\" = { policy = \"write\" } }\n",
              NULL);
    ALLOW(z, KEY, "a", WRITE);
    ALLOW(z, KEY, "b", WRITE);
    ALLOW(z, KEY, "c", WRITE);
    z2 = authz("{\"key\": [{\"a\": {\"policy\": \"read\"}},\n"
               "          {\"b\": [{\"policy\": \"read\"},\n"
               "                   {\"policy\": \"deny\"}]}]}",
               NULL);
    ALLOW(z2, KEY, "a", READ);
    DENY(z2, KEY, "b", READ);
}
END_TEST

START_TEST(service_intentions)
{
    z = authz("service \"a\" { policy = \"write\" intentions = \"read\" }\n"
              "service_prefix \"\" { policy = \"read\"\n"
              "  intentions = \"deny\" }\n",
              NULL);
    ALLOW(z, SERVICE, "a", WRITE);
    ALLOW(z, SERVICE, "b", READ);
    parse_fails("service \"a\" { policy = \"read\" intentions = \"x\" }",
                "invalid service \"a\" intentions \"x\"");
    parse_fails("service \"a\" { policy = \"read\" intentions = \"list\" }",
                "\"list\" is only valid for key_prefix");
    parse_fails("service \"a\" { intentions = \"read\" }",
                "missing policy in service \"a\"");
    parse_fails("node \"a\" { policy = \"read\" intentions = \"read\" }",
                "unknown field \"intentions\" in node \"a\"");
}
END_TEST

/* ---- errors ----------------------------------------------------------- */

START_TEST(bad_dispositions)
{
    parse_fails("key_prefix \"foo/\" { policy = \"wrte\" }",
                "invalid key_prefix \"foo/\" policy \"wrte\"");
    parse_fails("{\"key\": {\"k\": {\"policy\": \"READ\"}}}",
                "invalid key \"k\" policy \"READ\"");
    parse_fails("operator = \"admin\"", "invalid operator policy \"admin\"");
    parse_fails("key \"a\" { policy = \"list\" }",
                "\"list\" is only valid for key_prefix");
    parse_fails("service_prefix \"\" { policy = \"list\" }",
                "\"list\" is only valid for key_prefix");
    parse_fails("operator = \"list\"", "\"list\" is only valid for key_prefix");
    parse_fails("key \"a\" { policy = \"\" }", "invalid key \"a\" policy \"\"");
}
END_TEST

START_TEST(unknown_resources_and_fields)
{
    parse_fails("kye \"a\" { policy = \"read\" }",
                "unknown ACL resource \"kye\"");
    parse_fails("operator_prefix = \"read\"",
                "unknown ACL resource \"operator_prefix\"");
    parse_fails("_prefix \"a\" { policy = \"read\" }",
                "unknown ACL resource \"_prefix\"");
    parse_fails("{\"namespace\": {}}", "unknown ACL resource \"namespace\"");
    parse_fails("key \"a\" { polcy = \"read\" }",
                "unknown field \"polcy\" in key \"a\"");
    parse_fails("agent_prefix \"\" { }", "missing policy in agent_prefix \"\"");
}
END_TEST

START_TEST(syntax_and_size)
{
    char *big;

    parse_fails("key \"a\" { policy = \"read\" ", "rules:1:");
    parse_fails("\n\nkey \"a\" { policy = read }", "rules:3:");
    parse_fails("{\"key\": }", "rules:1:");
    big = malloc(ACL_MAX_RULES + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', ACL_MAX_RULES + 1);
    big[ACL_MAX_RULES + 1] = '\0';
    parse_fails(big, "rules too long");
    big[ACL_MAX_RULES] = '\0'; /* exactly the limit: blank, valid */
    z = authz(big, NULL);
    free(big);
}
END_TEST

START_TEST(nested_junk)
{
    parse_fails("key = \"read\"", "invalid key: expected blocks");
    parse_fails("key = [1, 2]", "invalid key: expected blocks");
    parse_fails("key = 3", "invalid key: expected blocks");
    parse_fails("operator { policy = \"read\" }",
                "invalid operator: expected a string");
    parse_fails("operator = [\"read\"]", "invalid operator: expected a string");
    parse_fails("key \"a\" { policy = 1 }",
                "invalid key \"a\" policy: expected a string");
    parse_fails("key \"a\" { policy = [\"read\"] }",
                "invalid key \"a\" policy: expected a string");
    parse_fails("key \"a\" \"b\" { policy = \"read\" }",
                "unknown field \"b\" in key \"a\"");
    parse_fails("{\"key\": {\"a\": \"read\"}}",
                "invalid key \"a\": expected a block");
    parse_fails("{\"key\": {\"a\": [1]}}",
                "invalid key \"a\": expected a block");
    parse_fails("{\"key\": [[]]}", "invalid key: expected blocks");
    parse_fails("{\"key\": null}", "invalid key: expected blocks");
    parse_fails("{\"operator\": null}", "invalid operator: expected a string");
    parse_fails("{\"key\": {\"a\": {\"policy\": {\"x\": 1}}}}",
                "invalid key \"a\" policy: expected a string");
    parse_fails("{\"key\": {\"a\": {\"policy\": \"read\\u0000x\"}}}",
                "rules:1:");
}
END_TEST

/* ---- randomized ------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void rnd_name(char *buf)
{
    static const char alpha[] = "ab/";
    int n = (int)rnd(5);

    for (int i = 0; i < n; i++)
        buf[i] = alpha[rnd(3)];
    buf[n] = '\0';
}

static const char *const lvls[] = {"read", "list", "write", "deny"};

/* The model: the level index (0..3) of the best rule, -1 for none. */
struct mrule {
    char name[8];
    bool prefix;
    int lvl;
};

static int model(const struct mrule *m, int n, const char *name)
{
    int best = -1, blen = -1;

    for (int i = 0; i < n; i++)
        if (!m[i].prefix && strcmp(m[i].name, name) == 0 && m[i].lvl > best)
            best = m[i].lvl;
    if (best >= 0)
        return best;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(m[i].name);

        if (m[i].prefix && strncmp(m[i].name, name, (size_t)l) == 0 &&
            (l > blen || (l == blen && m[i].lvl > best))) {
            best = m[i].lvl;
            blen = l;
        }
    }
    return best;
}

static enum acl_decision model_decide(int lvl, enum acl_need need)
{
    static const bool grant[4][3] = {
        {true, false, false}, {true, true, false}, {true, true, true},
        {false, false, false}};

    if (lvl < 0)
        return ACL_DEFAULT;
    return grant[lvl][need] ? ACL_ALLOW : ACL_DENY;
}

START_TEST(lookup_matches_model)
{
    struct mrule m[24];
    char text[4096], name[8];

    for (int round = 0; round < 300; round++) {
        int n = 1 + (int)rnd(24);
        size_t off = 0;

        for (int i = 0; i < n; i++) {
            rnd_name(m[i].name);
            m[i].prefix = rnd(2);
            m[i].lvl = (int)rnd(4);
            if (m[i].lvl == 1 && !m[i].prefix) /* list: key_prefix only */
                m[i].lvl = 0;
            off += (size_t)snprintf(text + off, sizeof(text) - off,
                                    "key%s \"%s\" { policy = \"%s\" }\n",
                                    m[i].prefix ? "_prefix" : "",
                                    m[i].name, lvls[m[i].lvl]);
        }
        acl_authz_free(z);
        z = authz(text, NULL);
        for (int q = 0; q < 40; q++) {
            int want;

            rnd_name(name);
            want = model(m, n, name);
            for (int need = ACL_READ; need <= ACL_WRITE; need++)
                REQUIRE(acl_authz_decide(z, ACL_RES_KEY, name, need) ==
                        model_decide(want, need));
        }
    }
}
END_TEST

START_TEST(random_mutations_never_crash)
{
    static const char junk[] = "{}[]\"=#/\\\n ,:0xk_$";
    char *buf = malloc(sizeof(example_json) + sizeof(example_hcl));
    struct acl_rules *r;
    int ok = 0;

    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 4000; i++) {
        const char *src = (i & 1) ? example_json : example_hcl;
        size_t len = strlen(src);

        memcpy(buf, src, len);
        for (int k = 1 + (int)rnd(4); k > 0 && len > 0; k--) {
            size_t at = rnd((uint32_t)len);

            switch (rnd(3)) {
            case 0: /* replace */
                buf[at] = junk[rnd(sizeof(junk) - 1)];
                break;
            case 1: /* delete */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            default: /* truncate */
                len = at;
            }
        }
        r = NULL;
        if (acl_rules_parse(buf, len, &r, err) == 0) {
            REQUIRE(r != NULL);
            acl_rules_free(r);
            ok++;
        } else {
            REQUIRE(r == NULL && err[0] != '\0');
        }
    }
    free(buf);
    ck_assert_int_gt(ok, 0);
}
END_TEST

static Suite *acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = tcase_create("rules");
    TCase *rnd_tc = tcase_create("random");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, resource_names);
    tcase_add_test(tc, empty_grants_nothing);
    tcase_add_test(tc, null_authz_is_default);
    tcase_add_test(tc, example_policy);
    tcase_add_test(tc, hcl_and_json_agree);
    tcase_add_test(tc, exact_beats_prefix);
    tcase_add_test(tc, longest_prefix_wins);
    tcase_add_test(tc, empty_names);
    tcase_add_test(tc, deep_prefix_chain);
    tcase_add_test(tc, rules_outlive_nothing);
    tcase_add_test(tc, deny_wins_across_policies);
    tcase_add_test(tc, merge_precedence);
    tcase_add_test(tc, dispositions);
    tcase_add_test(tc, unlabeled_resources);
    tcase_add_test(tc, default_policy);
    tcase_add_test(tc, acl_resource_needs_management);
    tcase_add_test(tc, management_allows_everything);
    tcase_add_test(tc, key_write_prefix_rules_under);
    tcase_add_test(tc, key_write_prefix_default_and_exact);
    tcase_add_test(tc, service_identity);
    tcase_add_test(tc, node_identity);
    tcase_add_test(tc, identity_bad_names);
    tcase_add_test(tc, repeated_block_shapes);
    tcase_add_test(tc, service_intentions);
    tcase_add_test(tc, bad_dispositions);
    tcase_add_test(tc, unknown_resources_and_fields);
    tcase_add_test(tc, syntax_and_size);
    tcase_add_test(tc, nested_junk);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(rnd_tc, setup, teardown);
    tcase_set_timeout(rnd_tc, 60);
    tcase_add_test(rnd_tc, lookup_matches_model);
    tcase_add_test(rnd_tc, random_mutations_never_crash);
    suite_add_tcase(s, rnd_tc);
    return s;
}

Suite *unit_suite(void)
{
    return acl_suite();
}

/* check_json_filter.c - unit tests for libcore/json_filter.c and
 * libcore/json_regex.c (Consul `?filter=` expressions).
 *
 * Covers the examples of Consul's "Filtering" API page (agent services,
 * catalog service, health node), each operator with go-bexpr's
 * missing-value rules, "any" over arrays, value literals and Go's
 * strconv coercions, precedence, pigeon-style syntax errors, limits,
 * the RE2 -> POSIX translation, and a bounded random/mutation loop that
 * must never crash.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_filter.h"
#include "unit.h"

/* The three documents of Consul's filtering page. */
static const char agent_services[] =
    "{\"redis1\": {\"ID\": \"redis1\", \"Service\": \"redis\","
    " \"Tags\": [\"primary\", \"production\"],"
    " \"Meta\": {\"env\": \"production\", \"foo\": \"bar\"}, \"Port\": 1234,"
    " \"Address\": \"\", \"Weights\": {\"Passing\": 1, \"Warning\": 1},"
    " \"EnableTagOverride\": false},"
    " \"redis2\": {\"ID\": \"redis2\", \"Service\": \"redis\","
    " \"Tags\": [\"secondary\", \"production\"],"
    " \"Meta\": {\"env\": \"production\", \"foo\": \"bar\"}, \"Port\": 1235,"
    " \"Address\": \"\", \"Weights\": {\"Passing\": 1, \"Warning\": 1},"
    " \"EnableTagOverride\": false},"
    " \"redis3\": {\"ID\": \"redis3\", \"Service\": \"redis\","
    " \"Tags\": [\"primary\", \"qa\"], \"Meta\": {\"env\": \"qa\"},"
    " \"Port\": 1234, \"Address\": \"\","
    " \"Weights\": {\"Passing\": 1, \"Warning\": 1},"
    " \"EnableTagOverride\": false}}";

static const char catalog_service[] =
    "[{\"ID\": \"b4f64e8c\", \"Node\": \"node-1\", \"Address\": "
    "\"198.18.0.1\", \"Datacenter\": \"dc1\", \"TaggedAddresses\": null,"
    " \"NodeMeta\": {\"agent\": \"true\", \"arch\": \"i386\", \"os\": "
    "\"darwin\"}, \"ServiceKind\": \"\", \"ServiceID\": \"api-internal\","
    " \"ServiceName\": \"api-internal\", \"ServiceTags\": [\"tag\"],"
    " \"ServiceAddress\": \"\", \"ServiceWeights\": {\"Passing\": 1,"
    " \"Warning\": 1}, \"ServiceMeta\": {\"environment\": \"qa\"},"
    " \"ServicePort\": 9090, \"ServiceEnableTagOverride\": false,"
    " \"ServiceProxy\": {}, \"ServiceConnect\": {}, \"CreateIndex\": 30,"
    " \"ModifyIndex\": 30},"
    " {\"ID\": \"b4faf93a\", \"Node\": \"node-2\", \"Address\": "
    "\"198.18.0.2\", \"Datacenter\": \"dc1\", \"TaggedAddresses\": null,"
    " \"NodeMeta\": {\"arch\": \"arm\", \"os\": \"linux\"},"
    " \"ServiceKind\": \"\", \"ServiceID\": \"api-internal\","
    " \"ServiceName\": \"api-internal\", \"ServiceTags\": [\"test\", "
    "\"tag\"], \"ServiceAddress\": \"\", \"ServiceWeights\": {\"Passing\": "
    "1, \"Warning\": 1}, \"ServiceMeta\": {\"environment\": "
    "\"production\"}, \"ServicePort\": 9090, \"ServiceEnableTagOverride\": "
    "false, \"ServiceProxy\": {}, \"ServiceConnect\": {}, \"CreateIndex\": "
    "29, \"ModifyIndex\": 29},"
    " {\"ID\": \"b4fbe7f4\", \"Node\": \"node-4\", \"Address\": "
    "\"198.18.0.4\", \"Datacenter\": \"dc1\", \"TaggedAddresses\": null,"
    " \"NodeMeta\": {\"arch\": \"i386\", \"os\": \"freebsd\"},"
    " \"ServiceKind\": \"\", \"ServiceID\": \"api-internal\","
    " \"ServiceName\": \"api-internal\", \"ServiceTags\": [],"
    " \"ServiceAddress\": \"\", \"ServiceWeights\": {\"Passing\": 1,"
    " \"Warning\": 1}, \"ServiceMeta\": {\"environment\": \"qa\"},"
    " \"ServicePort\": 9090, \"ServiceEnableTagOverride\": false,"
    " \"ServiceProxy\": {}, \"ServiceConnect\": {}, \"CreateIndex\": 28,"
    " \"ModifyIndex\": 28}]";

static const char health_node[] =
    "[{\"Node\": \"node-1\", \"CheckID\": \"node-health\", \"Name\": "
    "\"Node level check\", \"Status\": \"critical\", \"Notes\": \"\","
    " \"Output\": \"\", \"ServiceID\": \"\", \"ServiceName\": \"\","
    " \"ServiceTags\": [], \"Definition\": {}, \"CreateIndex\": 13,"
    " \"ModifyIndex\": 13},"
    " {\"Node\": \"node-1\", \"CheckID\": \"svc-web-health\", \"Name\": "
    "\"Service level check - web\", \"Status\": \"warning\", \"Notes\": "
    "\"\", \"Output\": \"\", \"ServiceID\": \"\", \"ServiceName\": \"web\","
    " \"ServiceTags\": [], \"Definition\": {}, \"CreateIndex\": 18,"
    " \"ModifyIndex\": 18}]";

/* A /v1/health/service entry: checks are an array of objects. */
static const char health_entry[] =
    "{\"Node\": {\"Node\": \"n1\", \"Meta\": {\"rack\": \"r1\","
    " \"odd key\": \"v\"}},"
    " \"Service\": {\"Service\": \"web\", \"Tags\": [\"v1\", \"blue\"],"
    " \"Port\": 80, \"Meta\": null, \"Weight\": 1.5, \"Enabled\": true},"
    " \"Checks\": [{\"CheckID\": \"serfHealth\", \"Status\": \"passing\"},"
    " {\"CheckID\": \"svc\", \"Status\": \"critical\","
    " \"Output\": \"line1\\nline2\"}]}";

static char err[ERR_LEN];

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &je);

    ck_assert_msg(j != NULL, "bad test JSON: %s", je.text);
    return j;
}

/* 1 match, 0 no match, -1 parse error (err filled). */
static int try(const char *expr, const char *doc)
{
    struct jfilter *f;
    json_t *j;
    int r;

    err[0] = '\0';
    f = jfilter_parse(expr, err);
    if (f == NULL) {
        ck_assert_msg(err[0] != '\0', "no error text for '%s'", expr);
        return -1;
    }
    j = load(doc);
    r = jfilter_match(f, j);
    json_decref(j);
    jfilter_free(f);
    return r;
}

#define MATCH(e, d) ck_assert_msg(try(e, d) == 1, "'%s' should match", e)
#define NOMATCH(e, d) ck_assert_msg(try(e, d) == 0, "'%s' should not match", e)
#define BAD(e) ck_assert_msg(try(e, "{}") == -1, "'%s' should not parse", e)

/* Keys of the members of an object filtered with expr, comma-joined. */
static const char *filter_keys(const char *expr, const char *doc)
{
    static char out[256];
    struct jfilter *f = jfilter_parse(expr, err);
    json_t *j = load(doc), *r, *v;
    const char *k;

    ck_assert_msg(f != NULL, "'%s': %s", expr, err);
    r = jfilter_apply_object(f, j);
    ck_assert_ptr_nonnull(r);
    out[0] = '\0';
    json_object_foreach(r, k, v) {
        if (out[0] != '\0')
            strcat(out, ",");
        strcat(out, k);
        ck_assert_int_eq(v->refcount, 2);
    }
    json_decref(r);
    json_decref(j);
    jfilter_free(f);
    return out;
}

/* The given field of each element of a filtered array, comma-joined. */
static const char *filter_field(const char *expr, const char *doc,
                                const char *field)
{
    static char out[256];
    struct jfilter *f = jfilter_parse(expr, err);
    json_t *j = load(doc), *r, *v;
    size_t i;

    ck_assert_msg(f != NULL, "'%s': %s", expr, err);
    r = jfilter_apply_array(f, j);
    ck_assert_ptr_nonnull(r);
    out[0] = '\0';
    json_array_foreach(r, i, v) {
        if (out[0] != '\0')
            strcat(out, ",");
        strcat(out, json_string_value(json_object_get(v, field)));
    }
    json_decref(r);
    json_decref(j);
    jfilter_free(f);
    return out;
}

/* ---- Consul's documented examples ---- */

START_TEST(docs_agent_services)
{
    ck_assert_str_eq(filter_keys("Meta.env == \"qa\"", agent_services),
                     "redis3");
    ck_assert_str_eq(filter_keys("Meta[\"env\"] == qa", agent_services),
                     "redis3");
    ck_assert_str_eq(filter_keys("Tags contains primary", agent_services),
                     "redis1,redis3");
    ck_assert_str_eq(filter_keys("\"production\" in Tags and "
                                 "\"secondary\" not in Tags",
                                 agent_services),
                     "redis1");
    ck_assert_str_eq(filter_keys("Port == 1235 or ID == redis3",
                                 agent_services),
                     "redis2,redis3");
    ck_assert_str_eq(filter_keys("Meta.foo is empty", agent_services),
                     "redis3");
    ck_assert_str_eq(filter_keys("foo in Meta", agent_services),
                     "redis1,redis2");
    ck_assert_str_eq(filter_keys("Weights.Passing == 1 and "
                                 "EnableTagOverride == false and "
                                 "Address is empty",
                                 agent_services),
                     "redis1,redis2,redis3");
    ck_assert_str_eq(filter_keys("Service != redis", agent_services), "");
}
END_TEST

START_TEST(docs_catalog_service)
{
    const char *d = catalog_service;

    ck_assert_str_eq(filter_field("NodeMeta.os == \"linux\"", d, "Node"),
                     "node-2");
    ck_assert_str_eq(filter_field("ServiceTags is empty", d, "Node"),
                     "node-4");
    ck_assert_str_eq(filter_field("ServiceTags is not empty", d, "Node"),
                     "node-1,node-2");
    ck_assert_str_eq(filter_field("\"test\" in ServiceTags", d, "Node"),
                     "node-2");
    ck_assert_str_eq(filter_field("NodeMeta[\"arch\"] == i386 and "
                                  "ServiceMeta.environment == qa",
                                  d, "Node"),
                     "node-1,node-4");
    ck_assert_str_eq(filter_field("NodeMeta contains agent", d, "Node"),
                     "node-1");
    ck_assert_str_eq(filter_field("NodeMeta.agent == \"true\"", d, "Node"),
                     "node-1");
    ck_assert_str_eq(filter_field("TaggedAddresses is empty", d, "Node"),
                     "node-1,node-2,node-4");
    ck_assert_str_eq(filter_field("Node matches \"^node-[12]$\"", d, "Node"),
                     "node-1,node-2");
    ck_assert_str_eq(filter_field("Address contains \"18.0.4\"", d, "Node"),
                     "node-4");
    ck_assert_str_eq(filter_field("ServicePort == 9090 and CreateIndex == 29",
                                  d, "Node"),
                     "node-2");
    ck_assert_str_eq(filter_field("ServiceProxy is empty", d, "Node"),
                     "node-1,node-2,node-4");
}
END_TEST

START_TEST(docs_health_node)
{
    ck_assert_str_eq(filter_field("ServiceName != \"\"", health_node,
                                  "CheckID"),
                     "svc-web-health");
    ck_assert_str_eq(filter_field("Status == critical or Status == passing",
                                  health_node, "CheckID"),
                     "node-health");
    ck_assert_str_eq(filter_field("Name contains \"- web\"", health_node,
                                  "CheckID"),
                     "svc-web-health");
}
END_TEST

/* ---- selectors and "any" over arrays ---- */

START_TEST(nested_and_any)
{
    const char *d = health_entry;

    MATCH("Node.Node == n1", d);
    MATCH("Node.Meta.rack == r1", d);
    MATCH("Node.Meta[\"odd key\"] == v", d);
    MATCH("Node.Meta[`odd key`] == v", d);
    MATCH("Service.Tags contains blue", d);
    MATCH("Checks.Status == critical", d);
    MATCH("Checks.Status == passing", d);
    MATCH("Checks.Status != passing", d); /* any check not passing */
    NOMATCH("Checks.Status == warning", d);
    MATCH("Checks.Status not matches \"^pass\"", d);
    MATCH("Checks.Output contains line2", d);
    MATCH("Checks is not empty", d);
    NOMATCH("not (Checks.Status == critical)", d);
    /* field names are case-sensitive, like Consul's */
    NOMATCH("node.Node == n1", d);
    NOMATCH("Node.node == n1", d);
    /* an empty array never matches "any", even negated operators */
    NOMATCH("Checks.Status != x", "{\"Checks\": []}");
    NOMATCH("Checks.Status is empty", "{\"Checks\": []}");
    MATCH("not (Checks.Status == x)", "{\"Checks\": []}");
    /* arrays of arrays flatten, as in go-bexpr */
    MATCH("A.B == 2", "{\"A\": [[{\"B\": 1}], [{\"B\": 2}]]}");
    /* the top-level value may itself be an array */
    MATCH("B == 2", "[{\"B\": 1}, {\"B\": 2}]");
}
END_TEST

START_TEST(missing_values)
{
    const char *d = health_entry;

    /* unknown selector, null member, member of a null, into a scalar */
    static const char *const sels[] = {"Nope", "Service.Meta",
                                       "Service.Meta.x", "Service.Port.x",
                                       "Node.Meta.nope"};

    for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
        char e[128];

#define CASE(fmt, want)                                                  \
    do {                                                                 \
        snprintf(e, sizeof(e), fmt, sels[i]);                            \
        ck_assert_msg(try(e, d) == (want), "'%s' should give %d", e,     \
                      want);                                             \
    } while (0)
        CASE("%s == x", 0);
        CASE("%s != x", 1);
        CASE("%s contains x", 0);
        CASE("%s not contains x", 1);
        CASE("x in %s", 0);
        CASE("x not in %s", 1);
        CASE("%s is empty", 1);
        CASE("%s is not empty", 0);
        CASE("%s matches \".*\"", 0);
        CASE("%s not matches \".*\"", 1);
#undef CASE
    }
}
END_TEST

/* ---- operators by type ---- */

START_TEST(operators_by_type)
{
    const char *d = "{\"S\": \"hello world\", \"E\": \"\", \"N\": 42,"
                    " \"F\": 1.5, \"T\": true, \"A\": [\"x\", 7, true, 2.5],"
                    " \"O\": {\"k\": 1}, \"EO\": {}, \"EA\": []}";

    MATCH("S contains \"lo wo\"", d);
    MATCH("S contains \"\"", d);
    NOMATCH("S contains \"xyz\"", d);
    MATCH("E is empty", d);
    MATCH("S is not empty", d);
    MATCH("EO is empty", d);
    MATCH("EA is empty", d);
    MATCH("O is not empty", d);
    MATCH("k in O", d);
    NOMATCH("j in O", d);
    MATCH("x in A", d);
    MATCH("7 in A", d);
    MATCH("\"7\" in A", d);
    MATCH("true in A", d);
    MATCH("2.5 in A", d);
    NOMATCH("y in A", d);
    /* type mismatches: positive false, negated true */
    NOMATCH("A == x", d);
    MATCH("A != x", d);
    NOMATCH("N matches 4", d);
    MATCH("N not matches 4", d);
    NOMATCH("N contains 4", d);
    NOMATCH("N is empty", d);
    NOMATCH("O == k", d);
    NOMATCH("N == abc", d);
    MATCH("N != abc", d);
}
END_TEST

START_TEST(coercions)
{
    const char *d = "{\"N\": 1234, \"Neg\": -5, \"F\": 1.5, \"T\": true,"
                    " \"Fa\": false, \"Z\": 0, \"S\": \"1234\"}";

    MATCH("N == 1234", d);
    MATCH("N == \"1234\"", d);
    MATCH("N == \"0x4d2\"", d); /* strconv.ParseInt base 0 */
    MATCH("N == \"0X4D2\"", d);
    MATCH("N == \"02322\"", d);
    MATCH("N == \"0o2322\"", d);
    MATCH("N == \"0b10011010010\"", d);
    MATCH("N == \"1_234\"", d);
    MATCH("N == \"+1234\"", d);
    NOMATCH("N == \"1__234\"", d);
    NOMATCH("N == \"_1234\"", d);
    NOMATCH("N == \" 1234\"", d);
    MATCH("N == 1234.0", d); /* lenient: Consul would refuse this */
    MATCH("N != 1235", d);
    MATCH("Neg == -5", d);
    MATCH("Z == 0", d);
    MATCH("Z == \"-0\"", d);
    NOMATCH("N == \"99999999999999999999\"", d);
    MATCH("F == 1.5", d);
    MATCH("F == \"1.50\"", d);
    MATCH("F == \"15e-1\"", d);
    NOMATCH("F == 1", d);
    MATCH("T == true", d);
    MATCH("T == \"True\"", d);
    MATCH("T == T", d);
    MATCH("T == 1", d);
    MATCH("Fa == false", d);
    MATCH("Fa == 0", d);
    MATCH("Fa == F", d);
    NOMATCH("T == yes", d);
    MATCH("T != yes", d);
    NOMATCH("T == \"tRUE\"", d);
    /* strings compare as text only */
    MATCH("S == 1234", d);
    NOMATCH("S == \"01234\"", d);
}
END_TEST

/* ---- literals ---- */

START_TEST(literals)
{
    const char *d = "{\"Tab\": \"a\\tb\", \"Bs\": \"a\\\\tb\", \"U\": "
                    "\"caf\\u00e9\", \"Q\": \"say \\\"hi\\\"\", \"Nul\": "
                    "\"a\\u0000b\", \"Path\": \"a.b\", \"Key\": \"v\","
                    " \"M\": {\"a.b\": 1, \"x\": 2}, \"Emoji\": "
                    "\"\\ud83d\\ude00\"}";

    MATCH("Tab == \"a\\tb\"", d);
    MATCH("Bs == `a\\tb`", d);
    MATCH("Bs == \"a\\\\tb\"", d);
    MATCH("U == \"caf\\u00e9\"", d);
    MATCH("U == \"caf\\xc3\\xa9\"", d);
    MATCH("U == \"caf\\303\\251\"", d);
    MATCH("U == \"café\"", d);
    MATCH("Emoji == \"\\U0001F600\"", d);
    MATCH("Q == `say \"hi\"`", d);
    MATCH("Nul == \"a\\x00b\"", d);
    NOMATCH("Nul == \"a\"", d);
    MATCH("Nul contains \"\\x00\"", d);
    NOMATCH("\"x\\x00y\" in M", d);
    NOMATCH("M[\"x\\x00y\"] == 2", d);
    MATCH("x in M", d);
    MATCH("M[\"a.b\"] == 1", d);
    NOMATCH("M.a.b == 1", d);
    /* an unquoted selector value is its dotted text */
    MATCH("Path == a.b", d);
    MATCH("Path == a[\"b\"]", d);
    MATCH("Key == v", d);
    /* raw strings drop \r, as Go's strconv.Unquote does */
    MATCH("Key == `v\r`", d);
    /* whitespace is free around == and needed around words */
    MATCH("Key==v", d);
    MATCH(" \t\r\nKey\n==\tv\n", d);
    MATCH("(Key == v)", d);
    MATCH("( Key == v )", d);
}
END_TEST

START_TEST(keywords_as_names)
{
    const char *d = "{\"not\": 1, \"and\": \"x\", \"or\": [\"a\"],"
                    " \"notes\": \"n\", \"is\": {}, \"in\": \"i\"}";

    MATCH("not == 1", d);
    NOMATCH("not not == 1", d); /* not (not == 1), as the PEG reads it */
    MATCH("not not == 2 and and == x", d);
    MATCH("and == x", d);
    MATCH("a in or", d);
    MATCH("notes == n", d);
    MATCH("not notes == m", d);
    MATCH("is is empty", d);
    MATCH("in == i", d);
    MATCH("i in in", d);
}
END_TEST

/* ---- boolean structure ---- */

START_TEST(precedence)
{
    const char *d = "{\"a\": 1, \"b\": 2, \"c\": 3}";

    /* <1> and not <2> or <3> == (<1> and (not <2>)) or <3> */
    MATCH("a == 1 and not b == 2 or c == 3", d);
    NOMATCH("a == 1 and not b == 2 or c == 4", d);
    NOMATCH("a == 1 and not (b == 2 or c == 3)", d);
    MATCH("a == 0 or b == 2 and c == 3", d);
    NOMATCH("(a == 0 or b == 2) and c == 4", d);
    MATCH("not not a == 1", d);
    NOMATCH("not not not a == 1", d);
    MATCH("not (a == 2)", d);
    MATCH("((((a == 1))))", d);
    MATCH("a == 0 or a == 0 or a == 0 or c == 3", d);
    NOMATCH("a == 1 and b == 2 and c == 3 and a == 2", d);
    MATCH("(a == 1 and b == 2) or (a == 2 and b == 1)", d);
}
END_TEST

/* ---- errors ---- */

START_TEST(syntax_errors_like_consul)
{
    /* texts from Consul issues #7338, #9441, #6467 */
    BAD("foo");
    ck_assert_str_eq(err, "1:4 (3): no match found, expected: \"!=\", "
                          "\".\", \"==\", \"[\", [ \\t\\r\\n] or "
                          "[a-zA-Z0-9_]");
    BAD("Address == 10.10.10.10 ");
    ck_assert_str_eq(err, "1:17 (16): rule \"number\": Invalid number "
                          "literal");
    BAD("Node==host-name");
    ck_assert_str_eq(err, "1:11 (10): no match found, expected: \".\", "
                          "\"[\", [ \\t\\r\\n], [a-zA-Z0-9_] or EOF");
    ck_assert_str_eq(JFILTER_ERR_PREFIX,
                     "Failed to create boolean expression evaluator: ");
}
END_TEST

START_TEST(syntax_errors)
{
    BAD("   ");
    BAD("a ==");
    BAD("a == ");
    BAD("== 1");
    BAD("a = 1");
    BAD("a == 1 and");
    BAD("a == 1 or or b == 2");
    BAD("a == 1 b == 2");
    BAD("a == 1and b == 2");
    BAD("a == 1 )");
    BAD("not(a == 1)"); /* "not" needs whitespace after it */
    BAD("(a == 1)and(b == 2)");
    BAD("a contains");
    BAD("a containsx");
    BAD("a is");
    BAD("a is nil");
    BAD("a.1 == 2");
    BAD("a. == 2");
    BAD("_a == 1");
    BAD("a == 007");
    BAD("a == 1.");
    BAD("a == .5");
    BAD("a == 1e5");
    BAD("a == 0x10");
    BAD("a == 'x'");
    BAD("a == \"x\" \"y\"");
    BAD("\"/a/b\" == 1"); /* JSON-pointer selectors came after v0.1.2 */
    BAD("any a as x { x == 1 }");

    BAD("a == \"x");
    ck_assert_str_eq(err, "1:8 (7): rule \"string\": Unterminated string "
                          "literal");
    BAD("a == `x");
    ck_assert_str_eq(err, "1:8 (7): rule \"string\": Unterminated string "
                          "literal");
    BAD("a == \"\\q\"");
    ck_assert_str_eq(err, "1:6 (5): rule \"string\": invalid syntax");
    BAD("a == \"\\'\"");
    BAD("a == \"x\\\" and b == \"y\""); /* \" cannot appear inside "..." */
    BAD("a == \"\\u12\"");
    BAD("a == \"\\ud800\"");
    BAD("a == \"\\400\"");
    BAD("a == \"line\nbreak\"");
    BAD("(a == 1");
    ck_assert_str_eq(err, "1:8 (7): rule \"grouping\": Unmatched "
                          "parentheses");
    BAD("a[1] == 2");
    ck_assert_str_eq(err, "1:3 (2): rule \"index\": Invalid index");
    BAD("a[\"x\" == 2");
    ck_assert_str_eq(err, "1:7 (6): rule \"index\": Unclosed index "
                          "expression");
    BAD("\"x\" in 5");
    ck_assert_str_eq(err, "1:8 (7): rule \"match\": Invalid selector");
    BAD("a == 1 and\n b ==");
    ck_assert_msg(strncmp(err, "2:6 (16): ", 10) == 0, "%s", err);
}
END_TEST

START_TEST(limits)
{
    char *e = malloc(JFILTER_MAX_EXPR + 64);
    size_t n = 0;
    struct jfilter *f;

    /* JFILTER_MAX_DEPTH parentheses parse, one more does not */
    for (int i = 0; i < JFILTER_MAX_DEPTH; i++)
        e[n++] = '(';
    n += (size_t)sprintf(e + n, "a == 1");
    for (int i = 0; i < JFILTER_MAX_DEPTH; i++)
        e[n++] = ')';
    e[n] = '\0';
    ck_assert_int_eq(try(e, "{\"a\": 1}"), 1);
    memmove(e + 1, e, n + 1);
    e[0] = '(';
    strcat(e, ")");
    ck_assert_int_eq(try(e, "{}"), -1);
    ck_assert_ptr_nonnull(strstr(err, "nested deeper"));

    /* a long chain of "not" is depth too */
    for (n = 0; n < 4 * (JFILTER_MAX_DEPTH + 1); n += 4)
        memcpy(e + n, "not ", 4);
    strcpy(e + n, "a == 1");
    ck_assert_int_eq(try(e, "{}"), -1);

    /* a long flat chain is fine */
    for (n = 0; n + 20 < JFILTER_MAX_EXPR;)
        n += (size_t)sprintf(e + n, "a == %d or ", (int)n % 1000);
    strcpy(e + n, "a == -1");
    ck_assert_int_eq(try(e, "{\"a\": -1}"), 1);

    /* JFILTER_MAX_DEPTH selector parts, then one too many */
    for (n = 0; n < 2 * JFILTER_MAX_DEPTH; n += 2)
        memcpy(e + n, "a.", 2);
    strcpy(e + n - 1, " is empty");
    ck_assert_int_eq(try(e, "{}"), 1);
    memmove(e + 2, e, strlen(e) + 1);
    memcpy(e, "a.", 2);
    ck_assert_int_eq(try(e, "{}"), -1);

    /* too long */
    memset(e, ' ', JFILTER_MAX_EXPR + 1);
    memcpy(e, "a == 1", 6);
    e[JFILTER_MAX_EXPR + 1] = '\0';
    ck_assert_int_eq(try(e, "{}"), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than"));
    free(e);

    /* empty means no filter; NULL filter matches everything */
    f = jfilter_parse("", err);
    ck_assert_ptr_nonnull(f);
    ck_assert(jfilter_match(f, json_null()));
    jfilter_free(f);
    ck_assert(jfilter_match(NULL, json_null()));
    jfilter_free(NULL);
}
END_TEST

START_TEST(deep_json)
{
    /* 200 nested arrays around the object: bounded walk, no crash */
    char *d = malloc(1000);
    size_t n = 0;

    for (int i = 0; i < 200; i++)
        d[n++] = '[';
    n += (size_t)sprintf(d + n, "{\"a\": 1}");
    for (int i = 0; i < 200; i++)
        d[n++] = ']';
    d[n] = '\0';
    ck_assert_int_eq(try("a == 1", d), 0);
    ck_assert_int_eq(try("a == 1", "[[[{\"a\": 1}]]]"), 1);
    free(d);
}
END_TEST

START_TEST(apply_shapes)
{
    struct jfilter *f = jfilter_parse("a == 1", err);
    json_t *o = load("{\"x\": {\"a\": 1}, \"y\": {\"a\": 2}, \"z\": 3}");
    json_t *a = load("[{\"a\": 1}, null, {\"a\": 1}, 5]");
    json_t *r;

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_null(jfilter_apply_array(f, o));
    ck_assert_ptr_null(jfilter_apply_object(f, a));
    r = jfilter_apply_array(f, a);
    ck_assert_int_eq(json_array_size(r), 2);
    ck_assert_ptr_eq(json_array_get(r, 0), json_array_get(a, 0));
    json_decref(r);
    r = jfilter_apply_object(f, o);
    ck_assert_int_eq(json_object_size(r), 1);
    ck_assert_ptr_eq(json_object_get(r, "x"), json_object_get(o, "x"));
    json_decref(r);
    r = jfilter_apply_array(NULL, a);
    ck_assert_int_eq(json_array_size(r), 4);
    json_decref(r);
    json_decref(o);
    json_decref(a);
    jfilter_free(f);
}
END_TEST

/* ---- regular expressions ---- */

static int re(const char *pattern, const char *subject)
{
    char e[512], d[256];
    json_t *s = json_string(subject);
    char *dump;

    dump = json_dumps(s, JSON_ENCODE_ANY);
    snprintf(d, sizeof(d), "{\"S\": %s}", dump);
    free(dump);
    json_decref(s);
    snprintf(e, sizeof(e), "S matches `%s`", pattern);
    return try(e, d);
}

START_TEST(regex_translation)
{
    ck_assert_int_eq(re("^\\d+$", "12345"), 1);
    ck_assert_int_eq(re("^\\d+$", "12a45"), 0);
    ck_assert_int_eq(re("^\\D+$", "abc"), 1);
    ck_assert_int_eq(re("^\\d{3}$", "123"), 1);
    ck_assert_int_eq(re("^\\d{3}$", "1234"), 0);
    ck_assert_int_eq(re("^[\\d.]+$", "10.0.0.1"), 1);
    ck_assert_int_eq(re("^[\\w.-]+@[\\w.]+$", "a.b-c@x.org"), 1);
    ck_assert_int_eq(re("^[\\s]+$", " \t"), 1);
    ck_assert_int_eq(re("\\w+", "..."), 0);
    ck_assert_int_eq(re("\\bweb\\b", "a web b"), 1);
    ck_assert_int_eq(re("\\bweb\\b", "webby"), 0);
    ck_assert_int_eq(re("(?i)^WEB", "web-1"), 1);
    ck_assert_int_eq(re("^WEB", "web-1"), 0);
    ck_assert_int_eq(re("^(?:ab)+$", "ababab"), 1);
    ck_assert_int_eq(re("^(?P<x>a)b$", "ab"), 1);
    ck_assert_int_eq(re("^a\\.b$", "a.b"), 1);
    ck_assert_int_eq(re("^a\\.b$", "axb"), 0);
    ck_assert_int_eq(re("^[\\]]$", "]"), 1);
    ck_assert_int_eq(re("^[a\\-z]+$", "-a-z"), 1);
    ck_assert_int_eq(re("^[a\\-z]+$", "b"), 0);
    ck_assert_int_eq(re("^[\\^x]+$", "^x"), 1);
    ck_assert_int_eq(re("^[\\[]$", "["), 1);
    ck_assert_int_eq(re("^\\<a\\>$", "<a>"), 1);
    ck_assert_int_eq(re("^a{$", "a{"), 1);
    ck_assert_int_eq(re("^a{x}$", "a{x}"), 1);
    ck_assert_int_eq(re("^a{2,}$", "aaa"), 1);
    ck_assert_int_eq(re("^a{2,3}$", "aaaa"), 0);
    ck_assert_int_eq(re("\\Aab\\z", "ab"), 1);
    ck_assert_int_eq(re("\\Aab\\z", "abc"), 0);
    ck_assert_int_eq(re("a\\nb", "a\nb"), 1);
    ck_assert_int_eq(re("^[[:alpha:]]+$", "abc"), 1);
    ck_assert_int_eq(re("a*?b", "aab"), 1);
    ck_assert_int_eq(re("", "anything"), 1);
    ck_assert_int_eq(re("x|", "anything"), 1);
    ck_assert_int_eq(re("\\$\\(\\)\\*\\+\\?\\|\\{\\}", "$()*+?|{}"), 1);
    ck_assert_int_eq(re("b$", "nul\\u0000b"), 1); /* via JSON escape */
    ck_assert_int_eq(try("S matches \"b$\"", "{\"S\": \"a\\u0000b\"}"), 1);
    ck_assert_int_eq(try("S matches \"^a$\"", "{\"S\": \"a\\u0000b\"}"), 0);
    ck_assert_int_eq(re("^a{1000}$", "a"), 0);
}
END_TEST

START_TEST(regex_errors)
{
    ck_assert_int_eq(re("(", "x"), -1);
    ck_assert_msg(strncmp(err, "Failed to compile regular expression "
                               "\"(\": ", 42) == 0, "%s", err);
    ck_assert_int_eq(re("a)", "x"), -1);
    ck_assert_int_eq(re("[a", "x"), -1);
    ck_assert_int_eq(re("(a)\\1", "aa"), -1); /* RE2 has no backrefs */
    ck_assert_int_eq(re("\\pL", "x"), -1);
    ck_assert_int_eq(re("\\x41", "A"), -1);
    ck_assert_int_eq(re("\\Qa\\E", "a"), -1);
    ck_assert_int_eq(re("a(?i)b", "ab"), -1);
    ck_assert_int_eq(re("a{1001}", "a"), -1);
    ck_assert_int_eq(re("a{3,2}", "a"), -1);
    ck_assert_int_eq(re("{2}", "a"), -1);
    ck_assert_int_eq(re("(a{1000}){1000}", "a"), -1);
    ck_assert_ptr_nonnull(strstr(err, "too large"));
    ck_assert_int_eq(re("((a{100}){100}){100}", "a"), -1);
    ck_assert_int_eq(re("(a{1000}){3}", "a"), -1); /* our 2000-node cap */
    ck_assert_int_eq(re("(a{1000}){2}", "a"), 0);
    /* a+ is two copies of a in glibc, so each stacked + doubles the
     * tree: 40 of them took all memory (fuzz_json_filter) */
    ck_assert_int_eq(re("a++++++++++++++++++++++++++++++++++++++++", "a"),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "nested repetition"));
    /* stacked operators are refused as by Go's regexp; 9 + and 25 *
     * in a row kept glibc's regcomp busy past libFuzzer's timeout */
    ck_assert_int_eq(re("8+++++++++*************************", "8"), -1);
    ck_assert_int_eq(re("a**", "a"), -1);
    ck_assert_int_eq(re("a*{2}", "a"), -1);
    ck_assert_int_eq(re("a{2}+", "aa"), -1);
    ck_assert_int_eq(re("a*?b", "aab"), 1); /* lazy: one ? allowed */
    ck_assert_int_eq(re("a{2}?", "aa"), 1);
    ck_assert_int_eq(re("x\\{*", "x{{"), 1); /* literal { then * */
    ck_assert_int_eq(re("((a{600})+)+", "a"), -1);
    ck_assert_int_eq(re("a+b+(c+)+", "abc"), 1);
    ck_assert_int_eq(re("a\\", "a"), -1);
    ck_assert_int_eq(re("[[:nope:]]", "a"), -1);
    ck_assert_int_eq(try("S matches \"a\\x00\"", "{}"), -1);
}
END_TEST

/* ---- never crash ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const toks[] = {
    "Service", "Tags", "Meta", ".", "env", "[\"k\"]", "[", "]", "==", "!=",
    "contains", "not", "in", "is", "empty", "matches", "and", "or", "(",
    ")", "\"v\"", "`raw`", "\"", "`", "1", "-2.5", "0", "007", "\"\\u00e9\"",
    "\"(a|b)*\"", "\"[\"", "\"\\\\d{2,}\"", " ", "  ", "\n", "true",
    "Checks", "Status", "\\", "x", "{", "}", "\"a{1000}\"", "\"(?i)x\"",
};

static json_t *fuzz_docs[4];

static void fuzz_one(const char *e)
{
    struct jfilter *f = jfilter_parse(e, err);

    if (f == NULL) {
        ck_assert(err[0] != '\0');
        ck_assert(strlen(err) < ERR_LEN);
        return;
    }
    for (int i = 0; i < 4; i++)
        (void)jfilter_match(f, fuzz_docs[i]);
    jfilter_free(f);
}

START_TEST(fuzz_random_and_mutated)
{
    static const char *const seeds[] = {
        "Service == web and Tags contains \"v1\"",
        "Checks.Status != passing or not (Meta[\"env\"] is empty)",
        "\"x\" not in Service.Tags and Node.Meta.os matches `^lin`",
        "(Port == 80 or Port == \"443\") and Weight == 1.5",
    };
    char e[512];

    fuzz_docs[0] = load(health_entry);
    fuzz_docs[1] = load(catalog_service);
    fuzz_docs[2] = load(agent_services);
    fuzz_docs[3] = json_null();
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;

        if (iter % 2 == 0) {
            int k = 1 + (int)rnd(12);

            for (int i = 0; i < k; i++) {
                const char *t = toks[rnd(sizeof(toks) / sizeof(toks[0]))];

                n += (size_t)snprintf(e + n, sizeof(e) - n, "%s%s", t,
                                      rnd(3) ? " " : "");
            }
        } else {
            strcpy(e, seeds[rnd(4)]);
            n = strlen(e);
            for (int k = 1 + (int)rnd(4); k > 0 && n > 0; k--) {
                size_t at = rnd((unsigned)n);

                if (rnd(3) == 0)
                    memmove(e + at, e + at + 1, n - at), n--;
                else
                    e[at] = (char)(1 + rnd(255));
            }
        }
        e[n] = '\0';
        fuzz_one(e);
    }
    for (int i = 0; i < 4; i++)
        json_decref(fuzz_docs[i]);
}
END_TEST

START_TEST(fuzz_regex)
{
    static const char alphabet[] = "ab()[]{}*+?|^$\\.-:,0123dDwsbBAzn<>iP";
    char pat[32], e[128];

    fuzz_docs[0] = load("{\"S\": \"ab0(-)\", \"T\": [\"a\", \"b\"]}");
    for (int i = 1; i < 4; i++)
        fuzz_docs[i] = json_null();
    for (int iter = 0; iter < 20000; iter++) {
        int k = (int)rnd(16);

        for (int i = 0; i < k; i++)
            pat[i] = alphabet[rnd(sizeof(alphabet) - 1)];
        pat[k] = '\0';
        snprintf(e, sizeof(e), "S matches `%s` or T.x not matches `%s`",
                 pat, pat);
        fuzz_one(e);
    }
    json_decref(fuzz_docs[0]);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("json_filter");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, docs_agent_services);
    tcase_add_test(tc, docs_catalog_service);
    tcase_add_test(tc, docs_health_node);
    tcase_add_test(tc, nested_and_any);
    tcase_add_test(tc, missing_values);
    tcase_add_test(tc, operators_by_type);
    tcase_add_test(tc, coercions);
    tcase_add_test(tc, literals);
    tcase_add_test(tc, keywords_as_names);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, syntax_errors_like_consul);
    tcase_add_test(tc, syntax_errors);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, deep_json);
    tcase_add_test(tc, apply_shapes);
    tcase_add_test(tc, regex_translation);
    tcase_add_test(tc, regex_errors);
    tcase_add_test(tc, fuzz_random_and_mutated);
    tcase_add_test(tc, fuzz_regex);
    suite_add_tcase(s, tc);
    return s;
}

Suite *unit_suite(void)
{
    return suite();
}

/* check_cat.c - unit tests for the catalog store (libcore/cat*.c).
 *
 * Covers register/deregister semantics and Consul's validation
 * messages, the table, node and service-name indexes (unchanged
 * re-registration bumps nothing; a change bumps only what it touches),
 * checks following their service, node ID renames, case-insensitive
 * names, the query shapes and orders, tag and passing filters, and the
 * snapshot side: visit, restore, strict rejection of bad records.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cat.h"
#include "err.h"
#include "unit.h"

#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

static struct cat_store *st;
static char err[ERR_LEN];

static void setup(void)
{
    st = cat_new("dc7");
    ck_assert_ptr_nonnull(st);
}

static void teardown(void) { cat_free(st); }

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    ck_assert_msg(v != NULL, "bad test json: %s: %s", je.text, text);
    return v;
}

static int reg_in(struct cat_store *s, uint64_t index, const char *text)
{
    json_t *req = js(text);
    int rc = cat_register(s, index, req, err);

    json_decref(req);
    return rc;
}

static int reg(uint64_t index, const char *text)
{
    return reg_in(st, index, text);
}

static int dereg(uint64_t index, const char *text)
{
    json_t *req = js(text);
    int rc = cat_deregister(st, index, req, err);

    json_decref(req);
    return rc;
}

/* Compact JSON text of v (freed by the caller), sorted keys. */
static char *dump(json_t *v)
{
    char *s;

    ck_assert_ptr_nonnull(v);
    s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

static void assert_json(json_t *v, const char *want)
{
    json_t *w = js(want);
    char *got = dump(v), *exp = dump(w);

    ck_assert_str_eq(got, exp);
    free(got);
    free(exp);
}

static uint64_t idx(enum cat_table t) { return cat_index(st, t); }

#define WEB1                                                            \
    "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":{\"ID\":"     \
    "\"web1\",\"Service\":\"web\",\"Tags\":[\"v1\"],\"Port\":80},"       \
    "\"Checks\":[{\"CheckID\":\"web-alive\",\"Name\":\"alive\","          \
    "\"ServiceID\":\"web1\",\"Status\":\"passing\"}]}"

/* ---- register basics ---- */

START_TEST(register_node_service_check)
{
    json_t *n;

    ck_assert_int_eq(reg(5, WEB1), 0);
    assert_json(cat_nodes(st),
                "[{\"ID\":\"\",\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                "\"Datacenter\":\"dc7\",\"TaggedAddresses\":{},\"Meta\":{},"
                "\"CreateIndex\":5,\"ModifyIndex\":5}]");
    n = cat_node(st, "n1");
    ck_assert_ptr_nonnull(n);
    assert_json(json_incref(json_object_get(json_object_get(n, "Services"),
                                            "web1")),
                "{\"ID\":\"web1\",\"Service\":\"web\",\"Tags\":[\"v1\"],"
                "\"Address\":\"\",\"TaggedAddresses\":{},\"Meta\":{},"
                "\"Port\":80,\"Weights\":{\"Passing\":1,\"Warning\":1},"
                "\"EnableTagOverride\":false,\"Kind\":\"\","
                "\"CreateIndex\":5,\"ModifyIndex\":5}");
    json_decref(n);
    assert_json(cat_node_checks(st, "n1"),
                "[{\"Node\":\"n1\",\"CheckID\":\"web-alive\",\"Name\":"
                "\"alive\",\"Status\":\"passing\",\"Notes\":\"\","
                "\"Output\":\"\",\"ServiceID\":\"web1\",\"ServiceName\":"
                "\"web\",\"ServiceTags\":[\"v1\"],\"Type\":\"\","
                "\"Interval\":\"\",\"Timeout\":\"\",\"Definition\":{},"
                "\"CreateIndex\":5,\"ModifyIndex\":5}]");
    ck_assert_uint_eq(idx(CAT_NODES), 5);
    ck_assert_uint_eq(idx(CAT_SERVICES), 5);
    ck_assert_uint_eq(idx(CAT_CHECKS), 5);
    ck_assert_uint_eq(cat_max_index(st), 5);
    ck_assert_uint_eq(cat_service_index(st, "web"), 5);
    ck_assert_uint_eq(cat_node_index(st, "n1"), 5);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 1);
    ck_assert_uint_eq(cat_count(st, CAT_CHECKS), 1);
    ck_assert_ptr_null(cat_node(st, "nope"));
    ck_assert_str_eq(cat_datacenter(st), "dc7");
}
END_TEST

START_TEST(register_defaults)
{
    const char *req =
        "{\"node\":\"n2\",\"address\":\"a\",\"Datacenter\":\"east\","
        "\"NodeMeta\":{\"rack\":\"r1\"},\"TaggedAddresses\":{\"wan\":\"w\"},"
        "\"ID\":\"40E4A748-2192-161A-0510-9BF59FE950B5\","
        "\"Service\":{\"Service\":\"db\",\"Weights\":null,\"Meta\":{\"a\":"
        "\"b\"},\"TaggedAddresses\":{\"lan\":{\"Address\":\"1.2.3.4\","
        "\"Port\":5}},\"unknown\":[1]},"
        "\"Check\":{\"Name\":\"serfHealth\",\"Definition\":{\"HTTP\":"
        "\"http://x\"}},\"Extra\":true}";
    json_t *c;

    ck_assert_int_eq(reg(3, req), 0);
    assert_json(cat_nodes(st),
                "[{\"ID\":\"40E4A748-2192-161A-0510-9BF59FE950B5\","
                "\"Node\":\"n2\",\"Address\":\"a\",\"Datacenter\":\"east\","
                "\"TaggedAddresses\":{\"wan\":\"w\"},\"Meta\":{\"rack\":"
                "\"r1\"},\"CreateIndex\":3,\"ModifyIndex\":3}]");
    assert_json(cat_service_nodes(st, "db", NULL),
                "[{\"ID\":\"40E4A748-2192-161A-0510-9BF59FE950B5\","
                "\"Node\":\"n2\",\"Address\":\"a\",\"Datacenter\":\"east\","
                "\"TaggedAddresses\":{\"wan\":\"w\"},\"NodeMeta\":{\"rack\":"
                "\"r1\"},\"ServiceKind\":\"\",\"ServiceID\":\"db\","
                "\"ServiceName\":\"db\",\"ServiceTags\":[],"
                "\"ServiceAddress\":\"\",\"ServiceTaggedAddresses\":{\"lan\":"
                "{\"Address\":\"1.2.3.4\",\"Port\":5}},\"ServiceWeights\":"
                "{\"Passing\":1,\"Warning\":1},\"ServiceMeta\":{\"a\":\"b\"},"
                "\"ServicePort\":0,\"ServiceEnableTagOverride\":false,"
                "\"CreateIndex\":3,\"ModifyIndex\":3}]");
    c = cat_node_checks(st, "n2");
    /* CheckID from Name, status critical, type from the definition. */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "CheckID")), "serfHealth");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "Status")), "critical");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "Type")), "http");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "Node")), "n2");
    json_decref(c);
}
END_TEST

START_TEST(validation_messages)
{
    static const struct {
        const char *req, *msg;
    } cases[] = {
        {"[]", "Request decode failed: json: cannot unmarshal array into "
               "Go value of type structs.RegisterRequest"},
        {"{\"Address\":\"a\"}", "Must provide node"},
        {"{\"Node\":\"\",\"Address\":\"a\"}", "Must provide node"},
        {"{\"Node\":\"n\"}",
         "Must provide address if SkipNodeUpdate is not set"},
        {"{\"Node\":5,\"Address\":\"a\"}",
         "Request decode failed: json: cannot unmarshal number into Go "
         "struct field RegisterRequest.Node of type string"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"ID\":\"abc\"}",
         "Bad node ID: uuid string is wrong length"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"ID\":"
         "\"40e4a748x2192-161a-0510-9bf59fe950b5\"}",
         "Bad node ID: uuid is improperly formatted"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"ID\":"
         "\"40e4a748-2192-161a-0510-9bf59fe950bg\"}",
         "Bad node ID: uuid is improperly formatted"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{}}",
         "Must provide service name"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"ID\":\"x\"}}",
         "Must provide service name (Service.Service) when service ID is "
         "provided"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Address\":\"0.0.0.0\"}}", "Invalid service address"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Port\":\"80\"}}",
         "Request decode failed: json: cannot unmarshal string into Go "
         "struct field RegisterRequest.Service.Port of type int"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Port\":1.5}}",
         "Request decode failed: json: cannot unmarshal number into Go "
         "struct field RegisterRequest.Service.Port of type int"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Tags\":[1]}}",
         "Request decode failed: json: cannot unmarshal number into Go "
         "struct field RegisterRequest.Service.Tags of type []string"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Meta\":{\"a b\":\"x\"}}}",
         "failed inserting service: Invalid Service Meta for node n and "
         "serviceID s: Couldn't load metadata pair ('a b', 'x'): Key "
         "contains invalid characters"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{\"Service\":\"s\","
         "\"Meta\":{\"consul-x\":\"x\"}}}",
         "failed inserting service: Invalid Service Meta for node n and "
         "serviceID s: Couldn't load metadata pair ('consul-x', 'x'): Key "
         "prefix 'consul-' is reserved for internal use"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Check\":{\"Name\":\"c\","
         "\"Status\":\"ok\"}}", "Bad check status"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Check\":{\"Name\":\"c\","
         "\"Node\":\"m\"}}", "check node \"m\" does not match node \"n\""},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Check\":{\"Status\":"
         "\"passing\"}}", "failed inserting check on node \"n\": Must "
         "provide check ID or name"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Check\":{\"Name\":\"c\","
         "\"ServiceID\":\"nope\"}}",
         "failed inserting check on node \"n\": Missing service "
         "registration"},
        {"{\"Node\":\"n\",\"Address\":\"a\",\"Checks\":{}}",
         "Request decode failed: json: cannot unmarshal object into Go "
         "struct field RegisterRequest.Checks of type "
         "structs.HealthChecks"},
    };
    size_t i;
    json_t *req;

    ck_assert_int_eq(reg(2, "{\"Node\":\"x\",\"Address\":\"a\"}"), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(reg(10 + i, cases[i].req) == ERR_INVAL, "case %zu",
                      i);
        ck_assert_str_eq(err, cases[i].msg);
        /* The state-free ones are caught before the log, too. */
        req = js(cases[i].req);
        if (strstr(cases[i].msg, "Missing service") == NULL)
            ck_assert_int_eq(cat_check_register(req, err), ERR_INVAL);
        else
            ck_assert_int_eq(cat_check_register(req, err), 0);
        json_decref(req);
    }
    /* Nothing of any of them went in. */
    ck_assert_uint_eq(cat_max_index(st), 2);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    /* SkipNodeUpdate allows an empty address. */
    ck_assert_int_eq(reg(40, "{\"Node\":\"x\",\"SkipNodeUpdate\":true}"), 0);
    ck_assert_uint_eq(cat_max_index(st), 2);
    ck_assert_int_eq(dereg(41, "{\"ServiceID\":\"x\"}"), ERR_INVAL);
    ck_assert_str_eq(err, "Must provide node");
    req = js("{\"Node\":\"x\",\"CheckID\":3}");
    ck_assert_int_eq(cat_check_deregister(req, err), ERR_INVAL);
    json_decref(req);
    ck_assert_int_eq(cat_register(st, 42, NULL, err), ERR_INVAL);
}
END_TEST

START_TEST(register_edge_cases)
{
    json_t *c;

    /* Decoding comes first: a type error wins over a missing node. */
    ck_assert_int_eq(reg(2, "{\"Address\":\"a\",\"Checks\":[{\"Status\":"
                            "7}]}"), ERR_INVAL);
    ck_assert_str_eq(err, "Request decode failed: json: cannot unmarshal "
                          "number into Go struct field "
                          "RegisterRequest.Checks.Status of type string");
    /* SkipNodeUpdate still creates an unknown node. */
    ck_assert_int_eq(reg(3, "{\"Node\":\"n\",\"SkipNodeUpdate\":true}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    /* A later check with the same ID wins; "Check" comes after "Checks";
     * null elements are skipped. */
    ck_assert_int_eq(reg(4, "{\"Node\":\"n\",\"SkipNodeUpdate\":true,"
                            "\"Service\":{\"Service\":\"s\"},"
                            "\"Check\":{\"CheckID\":\"C\",\"Status\":"
                            "\"warning\"},\"Checks\":[{\"CheckID\":\"c\","
                            "\"Status\":\"passing\",\"ServiceID\":\"s\"},"
                            "null]}"), 0);
    c = cat_node_checks(st, "n");
    ck_assert_uint_eq(json_array_size(c), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "Status")), "warning");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "ServiceName")), "");
    json_decref(c);
    ck_assert_uint_eq(cat_service_index(st, "s"), 4);
    /* A check moves from node level to a service and back. */
    ck_assert_int_eq(reg(5, "{\"Node\":\"n\",\"SkipNodeUpdate\":true,"
                            "\"Check\":{\"CheckID\":\"c\",\"Status\":"
                            "\"warning\",\"ServiceID\":\"s\"}}"), 0);
    assert_json(cat_service_health(st, "s", NULL, true), "[]");
    c = cat_service_checks(st, "s");
    ck_assert_uint_eq(json_array_size(c), 1);
    json_decref(c);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n\",\"SkipNodeUpdate\":true,"
                            "\"Check\":{\"CheckID\":\"c\",\"Status\":"
                            "\"passing\"}}"), 0);
    assert_json(cat_service_checks(st, "s"), "[]");
    c = cat_service_health(st, "s", NULL, true);
    ck_assert_uint_eq(json_array_size(c), 1);
    json_decref(c);
    ck_assert_uint_eq(cat_service_index(st, "s"), 6);
    /* Deregistering the service leaves the (now node-level) check. */
    ck_assert_int_eq(dereg(7, "{\"Node\":\"n\",\"ServiceID\":\"s\"}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_CHECKS), 1);
}
END_TEST

START_TEST(failed_register_changes_nothing)
{
    char *before, *after;

    ck_assert_int_eq(reg(5, WEB1), 0);
    before = dump(cat_service_health(st, "web", NULL, false));
    /* Valid node and service changes, then a bad check: all or nothing. */
    ck_assert_int_eq(reg(6, "{\"Node\":\"n1\",\"Address\":\"10.9.9.9\","
                            "\"Service\":{\"ID\":\"web1\",\"Service\":"
                            "\"web\",\"Tags\":[\"v2\"]},\"Checks\":[{"
                            "\"CheckID\":\"c\",\"ServiceID\":\"zz\"}]}"),
                     ERR_INVAL);
    after = dump(cat_service_health(st, "web", NULL, false));
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(cat_max_index(st), 5);
    free(before);
    free(after);
}
END_TEST

/* ---- indexes ---- */

START_TEST(unchanged_reregistration_keeps_indexes)
{
    json_t *n;

    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n2\",\"Address\":\"b\"}"), 0);
    ck_assert_int_eq(reg(7, WEB1), 0);
    ck_assert_int_eq(reg(8, WEB1), 0);
    ck_assert_uint_eq(idx(CAT_NODES), 6);
    ck_assert_uint_eq(idx(CAT_SERVICES), 5);
    ck_assert_uint_eq(idx(CAT_CHECKS), 5);
    ck_assert_uint_eq(cat_service_index(st, "web"), 5);
    ck_assert_uint_eq(cat_node_index(st, "n1"), 5);
    n = cat_node(st, "n1");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(n, "Node"), "ModifyIndex")), 5);
    json_decref(n);
    /* Key order and null vs absent do not count as changes. */
    ck_assert_int_eq(reg(9, "{\"Checks\":[{\"Status\":\"passing\","
                            "\"ServiceID\":\"web1\",\"Name\":\"alive\","
                            "\"CheckID\":\"web-alive\",\"Notes\":null}],"
                            "\"Service\":{\"Port\":80,\"Tags\":[\"v1\"],"
                            "\"Service\":\"web\",\"ID\":\"web1\"},"
                            "\"Address\":\"10.0.0.1\",\"Node\":\"n1\","
                            "\"NodeMeta\":{}}"), 0);
    ck_assert_uint_eq(cat_max_index(st), 6);
}
END_TEST

START_TEST(node_change_bumps_node_and_its_names)
{
    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n2\",\"Address\":\"b\",\"Service\":"
                            "{\"Service\":\"db\"}}"), 0);
    ck_assert_int_eq(reg(7, "{\"Node\":\"n1\",\"Address\":\"10.0.0.2\"}"),
                     0);
    ck_assert_uint_eq(idx(CAT_NODES), 7);
    ck_assert_uint_eq(idx(CAT_SERVICES), 6);
    ck_assert_uint_eq(idx(CAT_CHECKS), 5);
    ck_assert_uint_eq(cat_node_index(st, "n1"), 7);
    ck_assert_uint_eq(cat_node_index(st, "n2"), 6);
    ck_assert_uint_eq(cat_service_index(st, "web"), 7);
    ck_assert_uint_eq(cat_service_index(st, "db"), 6);
    /* Services and checks stay: a node update is not a replacement. */
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 2);
    ck_assert_uint_eq(cat_count(st, CAT_CHECKS), 1);
    /* SkipNodeUpdate leaves the node as it is. */
    ck_assert_int_eq(reg(8, "{\"Node\":\"n1\",\"Address\":\"other\","
                            "\"SkipNodeUpdate\":true}"), 0);
    ck_assert_uint_eq(idx(CAT_NODES), 7);
}
END_TEST

START_TEST(service_change_bumps_and_checks_follow)
{
    json_t *c;

    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n2\",\"Address\":\"b\",\"Service\":"
                            "{\"Service\":\"db\"}}"), 0);
    ck_assert_int_eq(reg(7, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"ID\":\"web1\",\"Service\":"
                            "\"web\",\"Tags\":[\"v2\",\"canary\"],\"Port\":"
                            "80}}"), 0);
    ck_assert_uint_eq(idx(CAT_NODES), 6);
    ck_assert_uint_eq(idx(CAT_SERVICES), 7);
    ck_assert_uint_eq(idx(CAT_CHECKS), 7);
    ck_assert_uint_eq(cat_service_index(st, "web"), 7);
    ck_assert_uint_eq(cat_service_index(st, "db"), 6);
    c = cat_service_checks(st, "web");
    assert_json(json_incref(json_object_get(json_array_get(c, 0),
                                            "ServiceTags")),
                "[\"v2\",\"canary\"]");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(c, 0), "ModifyIndex")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(c, 0), "CreateIndex")), 5);
    json_decref(c);
    /* A port change does not touch the checks. */
    ck_assert_int_eq(reg(8, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"ID\":\"web1\",\"Service\":"
                            "\"web\",\"Tags\":[\"v2\",\"canary\"],\"Port\":"
                            "81}}"), 0);
    ck_assert_uint_eq(idx(CAT_SERVICES), 8);
    ck_assert_uint_eq(idx(CAT_CHECKS), 7);
    /* A rename moves the instance and its checks to the new name. */
    ck_assert_int_eq(reg(9, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"ID\":\"web1\",\"Service\":"
                            "\"www\"}}"), 0);
    assert_json(cat_service_nodes(st, "web", NULL), "[]");
    ck_assert_uint_eq(cat_service_index(st, "web"), 9);
    ck_assert_uint_eq(cat_service_index(st, "www"), 9);
    c = cat_service_checks(st, "www");
    ck_assert_uint_eq(json_array_size(c), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(c, 0), "ServiceName")), "www");
    json_decref(c);
    assert_json(cat_service_checks(st, "web"), "[]");
}
END_TEST

START_TEST(check_status_bumps_only_its_service)
{
    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"Service\":\"db\"}}"), 0);
    ck_assert_int_eq(reg(7, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Check\":{\"CheckID\":\"web-alive\","
                            "\"Name\":\"alive\",\"ServiceID\":\"web1\","
                            "\"Status\":\"critical\",\"Output\":\"down\"}}"),
                     0);
    ck_assert_uint_eq(idx(CAT_CHECKS), 7);
    ck_assert_uint_eq(idx(CAT_SERVICES), 6);
    ck_assert_uint_eq(idx(CAT_NODES), 5);
    ck_assert_uint_eq(cat_service_index(st, "web"), 7);
    ck_assert_uint_eq(cat_service_index(st, "db"), 6);
    ck_assert_uint_eq(cat_node_index(st, "n1"), 7);
    /* A node-level check touches every service on the node. */
    ck_assert_int_eq(reg(8, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Check\":{\"Name\":\"maint\"}}"), 0);
    ck_assert_uint_eq(cat_service_index(st, "web"), 8);
    ck_assert_uint_eq(cat_service_index(st, "db"), 8);
    /* Same status again: nothing. */
    ck_assert_int_eq(reg(9, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Check\":{\"Name\":\"maint\"}}"), 0);
    ck_assert_uint_eq(cat_max_index(st), 8);
}
END_TEST

START_TEST(deregister_semantics)
{
    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"ID\":\"web2\",\"Service\":"
                            "\"web\"},\"Check\":{\"Name\":\"serfHealth\","
                            "\"Status\":\"passing\"}}"), 0);
    ck_assert_int_eq(reg(7, "{\"Node\":\"n2\",\"Address\":\"b\",\"Service\":"
                            "{\"Service\":\"db\"}}"), 0);
    /* Unknown things are no-ops. */
    ck_assert_int_eq(dereg(8, "{\"Node\":\"zz\"}"), 0);
    ck_assert_int_eq(dereg(8, "{\"Node\":\"n1\",\"ServiceID\":\"zz\"}"), 0);
    ck_assert_int_eq(dereg(8, "{\"Node\":\"n1\",\"CheckID\":\"zz\"}"), 0);
    ck_assert_uint_eq(cat_max_index(st), 7);
    /* A service takes its checks along; the name stays (web2). */
    ck_assert_int_eq(dereg(9, "{\"Node\":\"n1\",\"ServiceID\":\"WEB1\","
                              "\"CheckID\":\"serfHealth\"}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 2);
    ck_assert_uint_eq(cat_count(st, CAT_CHECKS), 1);
    ck_assert_uint_eq(idx(CAT_SERVICES), 9);
    ck_assert_uint_eq(idx(CAT_CHECKS), 9);
    ck_assert_uint_eq(idx(CAT_NODES), 7);
    ck_assert_uint_eq(cat_service_index(st, "web"), 9);
    ck_assert_uint_eq(cat_service_index(st, "db"), 7);
    /* A check alone. */
    ck_assert_int_eq(dereg(10, "{\"Node\":\"n1\",\"CheckID\":"
                               "\"serfhealth\"}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_CHECKS), 0);
    ck_assert_uint_eq(cat_service_index(st, "web"), 10);
    /* The last instance: the name goes, its index is the extinction. */
    ck_assert_int_eq(dereg(11, "{\"Node\":\"n1\",\"ServiceID\":\"web2\"}"),
                     0);
    ck_assert_uint_eq(cat_service_index(st, "web"), 11);
    ck_assert_uint_eq(cat_service_index(st, "never"), 11);
    ck_assert_uint_eq(cat_service_index(st, "db"), 7);
    /* The whole node. */
    ck_assert_int_eq(dereg(12, "{\"Node\":\"N2\"}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 0);
    ck_assert_uint_eq(idx(CAT_NODES), 12);
    ck_assert_uint_eq(idx(CAT_SERVICES), 12);
    ck_assert_uint_eq(cat_node_index(st, "n2"), 12);
    ck_assert_uint_eq(cat_service_index(st, "db"), 12);
    ck_assert_uint_eq(cat_node_index(st, "n1"), 11);
    assert_json(cat_services(st), "{}");
}
END_TEST

START_TEST(indexes_of_unknown_names)
{
    ck_assert_uint_eq(cat_service_index(st, "x"), 0);
    ck_assert_uint_eq(cat_node_index(st, "x"), 0);
    ck_assert_int_eq(reg(5, WEB1), 0);
    /* Never anything extinct: the table index. */
    ck_assert_uint_eq(cat_service_index(st, "x"), 5);
    ck_assert_uint_eq(cat_node_index(st, "x"), 5);
}
END_TEST

/* ---- names, IDs ---- */

START_TEST(names_are_case_insensitive)
{
    json_t *n;

    ck_assert_int_eq(reg(5, WEB1), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"N1\",\"Address\":\"10.0.0.1\","
                            "\"Service\":{\"ID\":\"WEB1\",\"Service\":"
                            "\"Web\",\"Tags\":[\"v1\"],\"Port\":80}}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 1);
    n = cat_node(st, "n1");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(n, "Node"), "Node")), "N1");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(n, "Services"),
                                          "WEB1"));
    json_decref(n);
    n = cat_service_nodes(st, "WEB", "V1");
    ck_assert_uint_eq(json_array_size(n), 1);
    json_decref(n);
    ck_assert_uint_eq(cat_service_index(st, "wEb"), 6);
    ck_assert_int_eq(dereg(7, "{\"Node\":\"n1\",\"ServiceID\":\"Web1\"}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_SERVICES), 0);
}
END_TEST

#define UUID_A "\"ID\":\"11111111-2222-3333-4444-555555555555\""
#define UUID_B "\"ID\":\"aaaaaaaa-2222-3333-4444-555555555555\""

START_TEST(node_id_renames)
{
    ck_assert_int_eq(reg(5, "{\"Node\":\"old\",\"Address\":\"a\"," UUID_A
                            ",\"Service\":{\"Service\":\"s\"}}"), 0);
    /* Same ID, new name: the old name and its services go. */
    ck_assert_int_eq(reg(6, "{\"Node\":\"new\",\"Address\":\"a\"," UUID_A
                            "}"), 0);
    assert_json(cat_services(st), "{}");
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    ck_assert_ptr_null(cat_node(st, "old"));
    ck_assert_uint_eq(cat_node_index(st, "old"), 6);
    /* Another ID may take a name whose node is not alive... */
    ck_assert_int_eq(reg(7, "{\"Node\":\"new\",\"Address\":\"b\"," UUID_B
                            "}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 1);
    /* ...but not one whose serfHealth passes. */
    ck_assert_int_eq(reg(8, "{\"Node\":\"new\",\"Address\":\"b\"," UUID_B
                            ",\"Check\":{\"Name\":\"serfHealth\","
                            "\"Status\":\"passing\"}}"), 0);
    ck_assert_int_eq(reg(9, "{\"Node\":\"new\",\"Address\":\"c\"," UUID_A
                            "}"), ERR_INVAL);
    ck_assert_str_eq(err, "failed inserting node: Error while renaming "
                          "Node ID: \"11111111-2222-3333-4444-555555555555\""
                          ": Node name new is reserved by node "
                          "aaaaaaaa-2222-3333-4444-555555555555 with name "
                          "new (b)");
    ck_assert_int_eq(reg(9, "{\"Node\":\"other\",\"Address\":\"c\"," UUID_A
                            "}"), 0);
    ck_assert_int_eq(reg(10, "{\"Node\":\"new\",\"Address\":\"c\"," UUID_A
                             "}"), ERR_INVAL);
    ck_assert_msg(strstr(err, "(c): Node name new is reserved") != NULL,
                  "%s", err);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 2);
    /* The ID index follows an ID change in place. */
    ck_assert_int_eq(reg(11, "{\"Node\":\"other\",\"Address\":\"c\"}"), 0);
    ck_assert_int_eq(reg(12, "{\"Node\":\"third\",\"Address\":\"d\"," UUID_A
                             "}"), 0);
    ck_assert_uint_eq(cat_count(st, CAT_NODES), 3);
}
END_TEST

/* ---- queries ---- */

static void three_nodes(void)
{
    ck_assert_int_eq(reg(5, "{\"Node\":\"b\",\"Address\":\"2\",\"Service\":"
                            "{\"ID\":\"w2\",\"Service\":\"web\",\"Tags\":"
                            "[\"Blue\",\"x\"]}}"), 0);
    ck_assert_int_eq(reg(6, "{\"Node\":\"a\",\"Address\":\"1\",\"Service\":"
                            "{\"ID\":\"w1\",\"Service\":\"web\",\"Tags\":"
                            "[\"green\",\"x\"]}}"), 0);
    ck_assert_int_eq(reg(7, "{\"Node\":\"C\",\"Address\":\"3\",\"Service\":"
                            "{\"ID\":\"w3\",\"Service\":\"web\"}}"), 0);
    ck_assert_int_eq(reg(8, "{\"Node\":\"a\",\"Address\":\"1\",\"Service\":"
                            "{\"ID\":\"w0\",\"Service\":\"web\",\"Tags\":"
                            "[\"blue\"]}}"), 0);
    ck_assert_int_eq(reg(9, "{\"Node\":\"a\",\"Address\":\"1\",\"Checks\":["
                            "{\"Name\":\"serfHealth\",\"Status\":"
                            "\"passing\"},{\"CheckID\":\"c-w1\","
                            "\"ServiceID\":\"w1\",\"Status\":\"passing\"},"
                            "{\"CheckID\":\"b-w0\",\"ServiceID\":\"w0\","
                            "\"Status\":\"warning\"}]}"), 0);
    ck_assert_int_eq(reg(10, "{\"Node\":\"b\",\"Address\":\"2\",\"Checks\":"
                             "[{\"Name\":\"serfHealth\",\"Status\":"
                             "\"critical\"},{\"CheckID\":\"c-w2\","
                             "\"ServiceID\":\"w2\",\"Status\":\"passing\"}]"
                             "}"), 0);
}

static char *field_list(json_t *arr, const char *outer, const char *f)
{
    static char buf[512];
    json_t *e;
    size_t i;

    buf[0] = '\0';
    json_array_foreach(arr, i, e) {
        json_t *o = outer != NULL ? json_object_get(e, outer) : e;

        strcat(buf, json_string_value(json_object_get(o, f)));
        strcat(buf, " ");
    }
    json_decref(arr);
    return buf;
}

START_TEST(query_orders_and_filters)
{
    three_nodes();
    ck_assert_str_eq(field_list(cat_nodes(st), NULL, "Node"), "a b C ");
    ck_assert_str_eq(field_list(cat_service_nodes(st, "web", NULL), NULL,
                                "ServiceID"), "w0 w1 w2 w3 ");
    ck_assert_str_eq(field_list(cat_service_nodes(st, "web", "BLUE"), NULL,
                                "ServiceID"), "w0 w2 ");
    ck_assert_str_eq(field_list(cat_service_nodes(st, "web", "nope"), NULL,
                                "ServiceID"), "");
    ck_assert_str_eq(field_list(cat_service_health(st, "web", NULL, false),
                                "Service", "ID"), "w0 w1 w2 w3 ");
    /* w0 has a warning, w2's node fails serfHealth. */
    ck_assert_str_eq(field_list(cat_service_health(st, "web", NULL, true),
                                "Service", "ID"), "w1 w3 ");
    ck_assert_str_eq(field_list(cat_service_health(st, "web", "x", true),
                                "Service", "ID"), "w1 ");
    ck_assert_str_eq(field_list(cat_service_checks(st, "web"), NULL,
                                "CheckID"), "b-w0 c-w1 c-w2 ");
    ck_assert_str_eq(field_list(cat_checks_in_state(st, "any"), NULL,
                                "CheckID"),
                     "b-w0 c-w1 serfHealth c-w2 serfHealth ");
    ck_assert_str_eq(field_list(cat_checks_in_state(st, "passing"), NULL,
                                "CheckID"), "c-w1 serfHealth c-w2 ");
    ck_assert_str_eq(field_list(cat_checks_in_state(st, "critical"), NULL,
                                "Node"), "b ");
    ck_assert_ptr_null(cat_checks_in_state(st, "bogus"));
    ck_assert_str_eq(field_list(cat_node_checks(st, "A"), NULL, "CheckID"),
                     "b-w0 c-w1 serfHealth ");
    assert_json(cat_node_checks(st, "zz"), "[]");
    assert_json(cat_service_health(st, "zz", NULL, false), "[]");
    assert_json(cat_service_checks(st, "zz"), "[]");
    assert_json(cat_services(st), "{\"web\":[\"Blue\",\"blue\",\"green\","
                                  "\"x\"]}");
}
END_TEST

START_TEST(health_entry_shape)
{
    json_t *h, *e;

    three_nodes();
    h = cat_service_health(st, "web", NULL, false);
    e = json_array_get(h, 1); /* w1 on a */
    ck_assert_uint_eq(json_object_size(e), 3);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "Node"), "Address")), "1");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(e, "Service"), "ID")), "w1");
    /* Node-level checks first, then the service's. */
    ck_assert_str_eq(field_list(json_incref(json_object_get(e, "Checks")),
                                NULL, "CheckID"), "serfHealth c-w1 ");
    json_decref(h);
}
END_TEST

/* ---- snapshot side ---- */

struct copy {
    struct cat_store *dst;
    int n;
};

static int copy_rec(void *ctx, enum cat_table t, const char *node,
                    const json_t *rec)
{
    struct copy *c = ctx;

    REQUIRE(cat_restore_record(c->dst, t, node, rec, err) == 0);
    c->n++;
    return 0;
}

static int copy_idx(void *ctx, enum cat_index_kind k, const char *name,
                    uint64_t index)
{
    struct copy *c = ctx;

    ck_assert_msg(cat_restore_index(c->dst, k, name, index, err) == 0,
                  "%d %s: %s", (int)k, name ? name : "-", err);
    return 0;
}

/* Every read of a and b agrees, and so do their indexes. */
static void assert_same_store(struct cat_store *a, struct cat_store *b)
{
    static const char *const names[] = {"web", "db", "www", "x", "gone"};
    static const char *const nodes[] = {"a", "b", "C", "n1", "zz"};
    size_t i;
    char *x, *y;

#define SAME(expr_a, expr_b)                                            \
    do {                                                                \
        x = dump(expr_a);                                               \
        y = dump(expr_b);                                               \
        ck_assert_str_eq(x, y);                                         \
        free(x);                                                        \
        free(y);                                                        \
    } while (0)
    SAME(cat_nodes(a), cat_nodes(b));
    SAME(cat_services(a), cat_services(b));
    SAME(cat_checks_in_state(a, "any"), cat_checks_in_state(b, "any"));
    for (i = 0; i < 5; i++) {
        SAME(cat_service_health(a, names[i], NULL, false),
             cat_service_health(b, names[i], NULL, false));
        SAME(cat_node_checks(a, nodes[i]), cat_node_checks(b, nodes[i]));
        ck_assert_uint_eq(cat_service_index(a, names[i]),
                          cat_service_index(b, names[i]));
        ck_assert_uint_eq(cat_node_index(a, nodes[i]),
                          cat_node_index(b, nodes[i]));
    }
    for (i = 0; i < CAT_NTABLES; i++)
        ck_assert_uint_eq(cat_index(a, (enum cat_table)i),
                          cat_index(b, (enum cat_table)i));
#undef SAME
}

static struct cat_store *copy_store(struct cat_store *src, bool indexes)
{
    struct copy c = {cat_new("dc7"), 0};

    ck_assert_int_eq(cat_foreach(src, copy_rec, &c), 0);
    if (indexes)
        ck_assert_int_eq(cat_foreach_index(src, copy_idx, &c), 0);
    return c.dst;
}

START_TEST(restore_round_trip)
{
    struct cat_store *dst;

    three_nodes();
    ck_assert_int_eq(reg(11, "{\"Node\":\"n1\",\"Address\":\"z\",\"Service\":"
                             "{\"Service\":\"gone\"}}"), 0);
    ck_assert_int_eq(dereg(12, "{\"Node\":\"n1\",\"ServiceID\":\"gone\"}"),
                     0);
    ck_assert_int_eq(dereg(13, "{\"Node\":\"b\",\"CheckID\":\"c-w2\"}"), 0);
    dst = copy_store(st, true);
    assert_same_store(st, dst);
    /* Both continue identically. */
    ck_assert_int_eq(reg_in(dst, 20, WEB1), 0);
    ck_assert_int_eq(reg(20, WEB1), 0);
    assert_same_store(st, dst);
    cat_free(dst);
    /* Without the index records, indexes fall back to the records'. */
    dst = copy_store(st, false);
    ck_assert_uint_eq(cat_index(dst, CAT_NODES), 20);
    ck_assert_uint_eq(cat_service_index(dst, "web"), 20);
    ck_assert_uint_eq(cat_index(dst, CAT_CHECKS), 20);
    cat_free(dst);
}
END_TEST

static const char node_rec[] =
    "{\"ID\":\"\",\"Node\":\"n\",\"Address\":\"a\",\"Datacenter\":\"d\","
    "\"TaggedAddresses\":{},\"Meta\":{},\"CreateIndex\":2,"
    "\"ModifyIndex\":3}";
static const char node_rec_m[] =
    "{\"ID\":\"\",\"Node\":\"m\",\"Address\":\"a\",\"Datacenter\":\"d\","
    "\"TaggedAddresses\":{},\"Meta\":{},\"CreateIndex\":2,"
    "\"ModifyIndex\":3}";
static const char svc_rec[] =
    "{\"ID\":\"s1\",\"Service\":\"s\",\"Tags\":[\"t\"],\"Address\":\"\","
    "\"TaggedAddresses\":{},\"Meta\":{},\"Port\":1,\"Weights\":{"
    "\"Passing\":1,\"Warning\":1},\"EnableTagOverride\":false,\"Kind\":"
    "\"\",\"CreateIndex\":4,\"ModifyIndex\":4}";
static const char chk_rec[] =
    "{\"Node\":\"n\",\"CheckID\":\"c\",\"Name\":\"\",\"Status\":"
    "\"passing\",\"Notes\":\"\",\"Output\":\"\",\"ServiceID\":\"s1\","
    "\"ServiceName\":\"s\",\"ServiceTags\":[\"t\"],\"Type\":\"\","
    "\"Interval\":\"\",\"Timeout\":\"\",\"Definition\":{},\"CreateIndex\":5,"
    "\"ModifyIndex\":5}";

/* Restore rec (text) after a node n and service s1; expect rc. */
static int try_restore(enum cat_table t, const char *node, const char *rec)
{
    struct cat_store *s = cat_new(NULL);
    json_t *n = js(node_rec), *sv = js(svc_rec), *r = js(rec);
    int rc;

    ck_assert_int_eq(cat_restore_record(s, CAT_NODES, NULL, n, err), 0);
    ck_assert_int_eq(cat_restore_record(s, CAT_SERVICES, "n", sv, err), 0);
    rc = cat_restore_record(s, t, node, r, err);
    json_decref(n);
    json_decref(sv);
    json_decref(r);
    cat_free(s);
    return rc;
}

/* Replace the first occurrence of from in a record text. */
static char *edit(const char *rec, const char *from, const char *to)
{
    static char buf[1024];
    const char *p = strstr(rec, from);

    ck_assert_ptr_nonnull(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - rec), rec, to,
             p + strlen(from));
    return buf;
}

START_TEST(restore_rejects_bad_records)
{
    static const struct {
        int t;
        const char *from, *to;
    } bad[] = {
        {0, "\"Node\":\"m\"", "\"Node\":\"\""},
        {0, "\"Node\":\"m\"", "\"Node\":1"},
        {0, "\"ID\":\"\"", "\"ID\":\"x\""},
        {0, "\"CreateIndex\":2", "\"CreateIndex\":0"},
        {0, "\"CreateIndex\":2", "\"CreateIndex\":4"},
        {0, "\"Meta\":{}", "\"Meta\":{\"a\":1}"},
        {0, "\"Meta\":{}", "\"Meta\":{},\"X\":1"},
        {0, "\"Meta\":{},", ""},
        {1, "\"ID\":\"s1\"", "\"ID\":\"\""},
        {1, "\"Tags\":[\"t\"]", "\"Tags\":[1]"},
        {1, "\"Port\":1", "\"Port\":1.0"},
        {1, "\"Passing\":1,", ""},
        {1, "\"TaggedAddresses\":{}",
         "\"TaggedAddresses\":{\"x\":{\"Address\":\"a\"}}"},
        {1, "\"Meta\":{}", "\"Meta\":{\"consul-x\":\"1\"}"},
        {2, "\"Status\":\"passing\"", "\"Status\":\"ok\""},
        {2, "\"ServiceID\":\"s1\"", "\"ServiceID\":\"s9\""},
        {2, "\"ServiceName\":\"s\"", "\"ServiceName\":\"q\""},
        {2, "\"ServiceTags\":[\"t\"]", "\"ServiceTags\":[]"},
        {2, "\"Node\":\"n\"", "\"Node\":\"m\""},
        {2, "\"Definition\":{}", "\"Definition\":[]"},
    };
    const char *base[] = {node_rec_m, svc_rec, chk_rec};
    size_t i;

    ck_assert_int_eq(try_restore(CAT_NODES, NULL, node_rec_m), 0);
    ck_assert_int_eq(try_restore(CAT_CHECKS, "n", chk_rec), 0);
    ck_assert_int_eq(try_restore(CAT_CHECKS, "N", chk_rec), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *rec = edit(base[bad[i].t], bad[i].from, bad[i].to);
        int t = bad[i].t;

        ck_assert_msg(try_restore((enum cat_table)t, t ? "n" : NULL, rec) ==
                          ERR_INVAL, "case %zu: %s", i, rec);
    }
    /* Duplicates, unknown nodes, a check before its service. */
    ck_assert_int_eq(try_restore(CAT_NODES, NULL, node_rec), ERR_INVAL);
    ck_assert_int_eq(try_restore(CAT_SERVICES, "n", svc_rec), ERR_INVAL);
    ck_assert_int_eq(try_restore(CAT_SERVICES, "zz", svc_rec), ERR_INVAL);
    ck_assert_int_eq(try_restore(CAT_SERVICES, NULL, svc_rec), ERR_INVAL);
    ck_assert_int_eq(try_restore((enum cat_table)7, "n", svc_rec),
                     ERR_INVAL);
}
END_TEST

START_TEST(restore_index_rules)
{
    struct cat_store *dst;

    three_nodes();
    dst = copy_store(st, false);
    /* Below what the records imply, zero, twice, unknown names. */
    ck_assert_uint_eq(cat_index(dst, CAT_NODES), 7);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODES, NULL, 6, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODE_GONE, NULL, 0,
                                       err), ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODES, NULL, 11, err),
                     0);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODES, NULL, 12, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODE, "zz", 12, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_SERVICE, "zz", 12, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODE, NULL, 12, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_NODES, "a", 12, err),
                     ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, (enum cat_index_kind)9, NULL, 12,
                                       err), ERR_INVAL);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_SERVICE, "WEB", 30,
                                       err), 0);
    ck_assert_int_eq(cat_restore_index(dst, CAT_IDX_SERVICE, "web", 31,
                                       err), ERR_INVAL);
    ck_assert_uint_eq(cat_service_index(dst, "web"), 30);
    cat_free(dst);
}
END_TEST

/* Pseudo-random churn: two stores fed the same commands stay equal,
 * and a restored copy equals the original. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

START_TEST(churn_is_deterministic)
{
    struct cat_store *twin = cat_new("dc7"), *dst;
    static const char *const status[] = {"passing", "warning", "critical"};
    char req[512];
    uint64_t i;
    int a, b;

    for (i = 1; i <= 3000; i++) {
        unsigned node = rnd(60), svc = rnd(8), op = rnd(10);
        json_t *j;

        if (op < 7)
            snprintf(req, sizeof(req),
                     "{\"Node\":\"node-%u\",\"Address\":\"10.0.%u.1\","
                     "\"Service\":{\"ID\":\"s%u\",\"Service\":\"svc%u\","
                     "\"Tags\":[\"t%u\"]},\"Checks\":[{\"CheckID\":\"c%u\","
                     "\"ServiceID\":\"s%u\",\"Status\":\"%s\"},{\"Name\":"
                     "\"serfHealth\",\"Status\":\"%s\"}]}",
                     node, rnd(2), svc, rnd(5), rnd(2), svc, svc,
                     status[rnd(3)], status[rnd(2)]);
        else if (op < 9)
            snprintf(req, sizeof(req), "{\"Node\":\"node-%u\",\"ServiceID\":"
                     "\"s%u\"}", node, svc);
        else
            snprintf(req, sizeof(req), "{\"Node\":\"node-%u\"}", node);
        j = js(req);
        if (op < 7) {
            a = cat_register(st, i, j, err);
            b = cat_register(twin, i, j, err);
        } else {
            a = cat_deregister(st, i, j, err);
            b = cat_deregister(twin, i, j, err);
        }
        json_decref(j);
        REQUIRE(a == 0 && b == 0);
    }
    assert_same_store(st, twin);
    dst = copy_store(st, true);
    assert_same_store(st, dst);
    ck_assert_uint_eq(cat_count(dst, CAT_NODES), cat_count(st, CAT_NODES));
    ck_assert_uint_eq(cat_count(dst, CAT_CHECKS), cat_count(st, CAT_CHECKS));
    cat_free(dst);
    cat_free(twin);
}
END_TEST

START_TEST(many_nodes_stay_ordered)
{
    char req[128], prev[32] = "", *got;
    json_t *nodes, *e;
    size_t i;
    unsigned k;

    for (k = 0; k < 5000; k++) {
        snprintf(req, sizeof(req), "{\"Node\":\"n%05u\",\"Address\":\"a\","
                 "\"Service\":{\"Service\":\"s\"}}", (k * 7919u) % 5000u);
        REQUIRE(reg(k + 1, req) == 0);
    }
    for (k = 0; k < 5000; k += 2) {
        snprintf(req, sizeof(req), "{\"Node\":\"n%05u\"}", k);
        REQUIRE(dereg(6000 + k, req) == 0);
    }
    nodes = cat_nodes(st);
    ck_assert_uint_eq(json_array_size(nodes), 2500);
    json_array_foreach(nodes, i, e) {
        got = (char *)json_string_value(json_object_get(e, "Node"));
        REQUIRE(strcmp(prev, got) < 0);
        snprintf(prev, sizeof(prev), "%s", got);
    }
    json_decref(nodes);
    nodes = cat_service_nodes(st, "s", NULL);
    ck_assert_uint_eq(json_array_size(nodes), 2500);
    json_decref(nodes);
}
END_TEST

static Suite *cat_suite(void)
{
    Suite *s = suite_create("cat");
    TCase *w = tcase_create("write");
    TCase *r = tcase_create("read");
    TCase *sn = tcase_create("snapshot");

    tcase_add_checked_fixture(w, setup, teardown);
    tcase_add_test(w, register_node_service_check);
    tcase_add_test(w, register_defaults);
    tcase_add_test(w, validation_messages);
    tcase_add_test(w, register_edge_cases);
    tcase_add_test(w, failed_register_changes_nothing);
    tcase_add_test(w, unchanged_reregistration_keeps_indexes);
    tcase_add_test(w, node_change_bumps_node_and_its_names);
    tcase_add_test(w, service_change_bumps_and_checks_follow);
    tcase_add_test(w, check_status_bumps_only_its_service);
    tcase_add_test(w, deregister_semantics);
    tcase_add_test(w, indexes_of_unknown_names);
    tcase_add_test(w, names_are_case_insensitive);
    tcase_add_test(w, node_id_renames);
    suite_add_tcase(s, w);
    tcase_add_checked_fixture(r, setup, teardown);
    tcase_add_test(r, query_orders_and_filters);
    tcase_add_test(r, health_entry_shape);
    suite_add_tcase(s, r);
    tcase_add_checked_fixture(sn, setup, teardown);
    tcase_set_timeout(sn, 60);
    tcase_add_test(sn, restore_round_trip);
    tcase_add_test(sn, restore_rejects_bad_records);
    tcase_add_test(sn, restore_index_rules);
    tcase_add_test(sn, churn_is_deterministic);
    tcase_add_test(sn, many_nodes_stay_ordered);
    suite_add_tcase(s, sn);
    return s;
}

Suite *unit_suite(void)
{
    return cat_suite();
}

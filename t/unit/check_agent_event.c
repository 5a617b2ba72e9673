/* check_agent_event.c - unit tests for the pure half of
 * libcore/agent_event.c: Consul's UserEvent msgpack codec, the
 * validation of a fire, the receiver's node/service/tag filters,
 * uuidToUint64 and the JSON shape.
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_event.h"
#include "err.h"
#include "unit.h"

static void fill(struct agent_uevent *e, const char *name, const char *pl,
                 const char *nf, const char *sf, const char *tf)
{
    memset(e, 0, sizeof(*e));
    strcpy(e->id, "3f2a1b4c-5d6e-7f80-9a1b-2c3d4e5f6a7b");
    e->name = strdup(name);
    if (pl != NULL) {
        e->len = strlen(pl);
        e->payload = (unsigned char *)strdup(pl);
    }
    e->node_filter = nf ? strdup(nf) : NULL;
    e->service_filter = sf ? strdup(sf) : NULL;
    e->tag_filter = tf ? strdup(tf) : NULL;
    e->version = 1;
}

START_TEST(round_trip)
{
    struct agent_uevent e, d;
    unsigned char *buf;
    size_t len;
    char err[ERR_LEN];

    fill(&e, "deploy", "v1.2", "^web", "api", "prod");
    ck_assert_int_eq(agent_uevent_encode(&e, &buf, &len, err), 0);
    ck_assert_int_eq(agent_uevent_decode(buf, len, &d, err), 0);
    ck_assert_str_eq(d.id, e.id);
    ck_assert_str_eq(d.name, "deploy");
    ck_assert_uint_eq(d.len, 4);
    ck_assert_mem_eq(d.payload, "v1.2", 4);
    ck_assert_str_eq(d.node_filter, "^web");
    ck_assert_str_eq(d.service_filter, "api");
    ck_assert_str_eq(d.tag_filter, "prod");
    ck_assert_int_eq(d.version, 1);
    free(buf);
    agent_uevent_release(&d);
    agent_uevent_release(&e);
}
END_TEST

/* Go omits empty omitempty fields: the map has ID, n and v only. */
START_TEST(empty_fields_omitted)
{
    struct agent_uevent e, d;
    unsigned char *buf;
    size_t len, off = 0;
    char err[ERR_LEN];
    msgpack_unpacked u;

    fill(&e, "x", NULL, NULL, "", NULL);
    ck_assert_int_eq(agent_uevent_encode(&e, &buf, &len, err), 0);
    msgpack_unpacked_init(&u);
    ck_assert_int_eq(msgpack_unpack_next(&u, (const char *)buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_MAP);
    ck_assert_uint_eq(u.data.via.map.size, 3);
    msgpack_unpacked_destroy(&u);
    ck_assert_int_eq(agent_uevent_decode(buf, len, &d, err), 0);
    ck_assert_ptr_null(d.payload);
    ck_assert_ptr_null(d.node_filter);
    free(buf);
    agent_uevent_release(&d);
    agent_uevent_release(&e);
}
END_TEST

static void pk_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* What another encoder may send: the payload as str, keys in another
 * order, an unknown key, a nil filter. */
START_TEST(decode_foreign_shapes)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct agent_uevent d;
    char err[ERR_LEN];

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pk_s(&pk, "v");
    msgpack_pack_int(&pk, 2);
    pk_s(&pk, "p");
    pk_s(&pk, "hi");
    pk_s(&pk, "zz");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 7);
    pk_s(&pk, "nf");
    msgpack_pack_nil(&pk);
    pk_s(&pk, "n");
    pk_s(&pk, "ev");
    pk_s(&pk, "ID");
    pk_s(&pk, "3f2a1b4c-5d6e-7f80-9a1b-2c3d4e5f6a7b");
    ck_assert_int_eq(agent_uevent_decode(sb.data, sb.size, &d, err), 0);
    ck_assert_str_eq(d.name, "ev");
    ck_assert_uint_eq(d.len, 2);
    ck_assert_mem_eq(d.payload, "hi", 2);
    ck_assert_int_eq(d.version, 2);
    ck_assert_str_eq(d.node_filter, "");
    agent_uevent_release(&d);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(decode_garbage)
{
    struct agent_uevent d;
    char err[ERR_LEN];
    static const unsigned char junk[] = {0x93, 1, 2, 3};
    static const unsigned char trunc[] = {0x82, 0xa1, 'n'};
    static const unsigned char noname[] = {0x81, 0xa1, 'v', 1};
    static const unsigned char badname[] = {0x81, 0xa1, 'n', 7};

    ck_assert_int_eq(agent_uevent_decode(junk, sizeof(junk), &d, err),
                     ERR_PARSE);
    agent_uevent_release(&d);
    ck_assert_int_eq(agent_uevent_decode(trunc, sizeof(trunc), &d, err),
                     ERR_PARSE);
    agent_uevent_release(&d);
    ck_assert_int_eq(agent_uevent_decode(noname, sizeof(noname), &d, err),
                     ERR_PARSE);
    agent_uevent_release(&d);
    ck_assert_int_eq(agent_uevent_decode(badname, sizeof(badname), &d, err),
                     ERR_PARSE);
    agent_uevent_release(&d);
    ck_assert_int_eq(agent_uevent_decode("", 0, &d, err), ERR_PARSE);
    agent_uevent_release(&d);
}
END_TEST

START_TEST(validate_like_consul)
{
    struct agent_uevent e;
    char err[ERR_LEN];

    fill(&e, "", NULL, NULL, NULL, NULL);
    ck_assert_int_eq(agent_uevent_validate(&e, err), ERR_INVAL);
    ck_assert_str_eq(err, "User event missing name");
    agent_uevent_release(&e);
    fill(&e, "x", NULL, NULL, NULL, "v1");
    ck_assert_int_eq(agent_uevent_validate(&e, err), ERR_INVAL);
    ck_assert_str_eq(err, "Cannot provide tag filter without service "
                          "filter");
    agent_uevent_release(&e);
    fill(&e, "x", NULL, "a(", NULL, NULL);
    ck_assert_int_eq(agent_uevent_validate(&e, err), ERR_INVAL);
    ck_assert_msg(strncmp(err, "Invalid node filter: ", 21) == 0, "%s", err);
    agent_uevent_release(&e);
    fill(&e, "x", NULL, "^n[0-9]+$", "web", "^v\\d$");
    ck_assert_int_eq(agent_uevent_validate(&e, err), 0);
    agent_uevent_release(&e);
}
END_TEST

START_TEST(filters)
{
    struct agent_uevent e;
    json_t *svcs = json_pack("{s:{s:s, s:[s,s]}, s:{s:s, s:[]}}",
                             "web-1", "Service", "web", "Tags", "v2",
                             "blue", "db", "Service", "db", "Tags");

    fill(&e, "x", NULL, NULL, NULL, NULL);
    ck_assert(agent_uevent_match(&e, "n1", NULL));
    agent_uevent_release(&e);
    fill(&e, "x", NULL, "^n[12]$", NULL, NULL);
    ck_assert(agent_uevent_match(&e, "n1", svcs));
    ck_assert(!agent_uevent_match(&e, "n3", svcs));
    agent_uevent_release(&e);
    /* service by name or by ID */
    fill(&e, "x", NULL, NULL, "^web$", NULL);
    ck_assert(agent_uevent_match(&e, "n1", svcs));
    ck_assert(!agent_uevent_match(&e, "n1", NULL));
    agent_uevent_release(&e);
    fill(&e, "x", NULL, NULL, "^web-1$", NULL);
    ck_assert(agent_uevent_match(&e, "n1", svcs));
    agent_uevent_release(&e);
    fill(&e, "x", NULL, NULL, "cache", NULL);
    ck_assert(!agent_uevent_match(&e, "n1", svcs));
    agent_uevent_release(&e);
    /* the tag must be on a service that matches */
    fill(&e, "x", NULL, NULL, "web", "^blu");
    ck_assert(agent_uevent_match(&e, "n1", svcs));
    agent_uevent_release(&e);
    fill(&e, "x", NULL, NULL, "db", "blue");
    ck_assert(!agent_uevent_match(&e, "n1", svcs));
    agent_uevent_release(&e);
    /* node and service both apply */
    fill(&e, "x", NULL, "n2", "web", NULL);
    ck_assert(!agent_uevent_match(&e, "n1", svcs));
    agent_uevent_release(&e);
    /* a filter that does not compile never matches */
    fill(&e, "x", NULL, "a(", NULL, NULL);
    ck_assert(!agent_uevent_match(&e, "a(", svcs));
    agent_uevent_release(&e);
    json_decref(svcs);
}
END_TEST

START_TEST(uuid_index)
{
    ck_assert_uint_eq(agent_uevent_index(
                          "3f2a1b4c-5d6e-7f80-9a1b-2c3d4e5f6a7b"),
                      11903356248909747707ULL);
    ck_assert_uint_eq(agent_uevent_index(
                          "00000000-0000-0000-0000-000000000001"), 1);
    ck_assert_uint_eq(agent_uevent_index("nope"), 0);
    ck_assert_uint_eq(agent_uevent_index(
                          "zz000000-0000-0000-0000-000000000001"), 0);
    ck_assert_uint_eq(agent_uevent_index(NULL), 0);
}
END_TEST

START_TEST(json_shape)
{
    struct agent_uevent e;
    json_t *j;

    fill(&e, "deploy", "hello", NULL, "web", NULL);
    e.ltime = 42;
    j = agent_uevent_json(&e);
    ck_assert_str_eq(json_string_value(json_object_get(j, "Payload")),
                     "aGVsbG8=");
    ck_assert_str_eq(json_string_value(json_object_get(j, "NodeFilter")), "");
    ck_assert_str_eq(json_string_value(json_object_get(j, "ServiceFilter")),
                     "web");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "LTime")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "Version")), 1);
    ck_assert_uint_eq(json_object_size(j), 8);
    json_decref(j);
    agent_uevent_release(&e);
    fill(&e, "deploy", NULL, NULL, NULL, NULL);
    j = agent_uevent_json(&e);
    ck_assert(json_is_null(json_object_get(j, "Payload")));
    json_decref(j);
    agent_uevent_release(&e);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("agent_event");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, empty_fields_omitted);
    tcase_add_test(tc, decode_foreign_shapes);
    tcase_add_test(tc, decode_garbage);
    tcase_add_test(tc, validate_like_consul);
    tcase_add_test(tc, filters);
    tcase_add_test(tc, uuid_index);
    tcase_add_test(tc, json_shape);
    suite_add_tcase(s, tc);
    return s;
}

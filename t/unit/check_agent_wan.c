/* check_agent_wan.c - unit tests for the pure parts of the WAN pool
 * (libcore/agent_wan.c): "node.dc" names, the datacenter list and its
 * RTT order, the choice of a server of another datacenter.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "unit.h"

START_TEST(split_names)
{
    char node[32], dc[16];

    ck_assert(agent_wan_split("s1.dc2", node, sizeof(node), dc, sizeof(dc)));
    ck_assert_str_eq(node, "s1");
    ck_assert_str_eq(dc, "dc2");
    /* node names may hold dots: the datacenter is after the last */
    ck_assert(agent_wan_split("web.example.com.eu-west", node, sizeof(node),
                              dc, sizeof(dc)));
    ck_assert_str_eq(node, "web.example.com");
    ck_assert_str_eq(dc, "eu-west");
    ck_assert(!agent_wan_split("nodot", node, sizeof(node), dc, sizeof(dc)));
    ck_assert(!agent_wan_split(".dc1", node, sizeof(node), dc, sizeof(dc)));
    ck_assert(!agent_wan_split("s1.", node, sizeof(node), dc, sizeof(dc)));
    /* too long for the buffers: refused, not truncated */
    ck_assert(!agent_wan_split("a-very-long-node-name-indeed-yes.dc1", node,
                               8, dc, sizeof(dc)));
    ck_assert(!agent_wan_split("s1.a-very-long-datacenter-name", node,
                               sizeof(node), dc, 8));
}
END_TEST

static struct agent_wan_srv srv(const char *dc, const char *addr, bool alive,
                                uint64_t rtt)
{
    struct agent_wan_srv s;

    memset(&s, 0, sizeof(s));
    snprintf(s.dc, sizeof(s.dc), "%s", dc);
    snprintf(s.addr, sizeof(s.addr), "%s", addr);
    s.alive = alive;
    s.rtt_us = rtt;
    return s;
}

START_TEST(sort_local_first_then_rtt_then_name)
{
    struct agent_dc d[5] = {
        {"far", 9000}, {"near", 100}, {"dc1", 0}, {"unknown", UINT64_MAX},
        {"also-near", 100},
    };

    agent_dc_sort(d, 5, "dc1");
    ck_assert_str_eq(d[0].name, "dc1");
    ck_assert_str_eq(d[1].name, "also-near");
    ck_assert_str_eq(d[2].name, "near");
    ck_assert_str_eq(d[3].name, "far");
    ck_assert_str_eq(d[4].name, "unknown");
}
END_TEST

START_TEST(dc_list_median_of_alive)
{
    struct agent_wan_srv s[] = {
        srv("dc3", "10.0.3.1:8300", true, 5000),
        srv("dc1", "10.0.1.1:8300", true, 0),
        srv("dc2", "10.0.2.1:8300", true, 900),
        srv("dc3", "10.0.3.2:8300", true, 7000),
        srv("dc2", "10.0.2.2:8300", true, 1000),
        srv("dc3", "10.0.3.3:8300", true, 6000),
        srv("dc2", "10.0.2.3:8300", false, 1), /* dead: not counted */
        srv("dc4", "10.0.4.1:8300", true, 0),  /* never measured */
    };
    struct agent_dc d[8];
    size_t n = agent_dc_list(s, 8, "dc1", d, 8);

    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(d[0].name, "dc1");
    ck_assert_uint_eq(d[0].rtt_us, 0);
    ck_assert_str_eq(d[1].name, "dc2");
    ck_assert_uint_eq(d[1].rtt_us, 1000); /* median of 900, 1000 (upper) */
    ck_assert_str_eq(d[2].name, "dc3");
    ck_assert_uint_eq(d[2].rtt_us, 6000);
    ck_assert_str_eq(d[3].name, "dc4");
    ck_assert_uint_eq(d[3].rtt_us, UINT64_MAX);
    /* max bounds the list; ours is always there */
    ck_assert_uint_eq(agent_dc_list(s, 8, "dc1", d, 2), 2);
    ck_assert_str_eq(d[0].name, "dc1");
    ck_assert_uint_eq(agent_dc_list(NULL, 0, "dc9", d, 8), 1);
    ck_assert_str_eq(d[0].name, "dc9");
}
END_TEST

START_TEST(choose_alive_server_of_dc)
{
    struct agent_wan_srv s[] = {
        srv("dc1", "a:8300", true, 0),
        srv("dc2", "b1:8300", true, 0),
        srv("dc2", "b2:8300", false, 0),
        srv("dc2", "b3:8300", true, 0),
        srv("dc3", "c1:8300", false, 0),
    };
    bool known;
    int seen_b1 = 0, seen_b3 = 0;

    for (unsigned r = 0; r < 8; r++) {
        int i = agent_wan_choose(s, 5, "dc2", NULL, r, &known);

        ck_assert(known);
        ck_assert(i == 1 || i == 3); /* never the dead b2 */
        seen_b1 += i == 1;
        seen_b3 += i == 3;
    }
    ck_assert_int_eq(seen_b1, 4); /* rnd spreads evenly */
    ck_assert_int_eq(seen_b3, 4);
    /* after a failure on b1, b3 (the other alive one) */
    for (unsigned r = 0; r < 4; r++)
        ck_assert_int_eq(agent_wan_choose(s, 5, "dc2", "b1:8300", r, &known),
                         3);
    /* unknown datacenter: none, not known */
    ck_assert_int_eq(agent_wan_choose(s, 5, "dc9", NULL, 0, &known), -1);
    ck_assert(!known);
    /* every server dead: none, but known */
    ck_assert_int_eq(agent_wan_choose(s, 5, "dc3", NULL, 0, &known), -1);
    ck_assert(known);
}
END_TEST

START_TEST(choose_only_the_avoided_one)
{
    struct agent_wan_srv s[] = {srv("dc2", "b1:8300", true, 0)};
    bool known;

    /* the one that just failed is still better than no answer */
    ck_assert_int_eq(agent_wan_choose(s, 1, "dc2", "b1:8300", 7, &known), 0);
    ck_assert(known);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("agent_wan");
    TCase *t = tcase_create("wan");

    tcase_add_test(t, split_names);
    tcase_add_test(t, sort_local_first_then_rtt_then_name);
    tcase_add_test(t, dc_list_median_of_alive);
    tcase_add_test(t, choose_alive_server_of_dc);
    tcase_add_test(t, choose_only_the_avoided_one);
    suite_add_tcase(s, t);
    return s;
}

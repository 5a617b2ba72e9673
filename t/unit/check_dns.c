/* check_dns.c - unit tests for the DNS interface's pure parts
 * (libcore/dns_name.c, dns_msg.c, dns_wire.c): settings, packet checks,
 * question names, answers from catalog JSON, truncation. No network.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "dns_int.h"
#include "err.h"
#include "unit.h"

static struct cfg acfg;
static struct dns_cfg c;
static uint64_t rng = 42;

static void load(const char *json)
{
    char err[ERR_LEN];
    json_error_t jerr;
    json_t *t = json_loads(json, 0, &jerr);

    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(cfg_build(t, &acfg, NULL, NULL, err), 0);
    json_decref(t);
    ck_assert_msg(dns_cfg_load(&c, &acfg, err) == 0, "%s", err);
}

static void setup(void)
{
    load("{\"data_dir\":\"/tmp/x\",\"node_name\":\"n1\"}");
}

static void teardown(void)
{
    dns_cfg_release(&c);
    cfg_release(&acfg);
}

static void parse(const char *name, uint16_t t, struct dns_query *q)
{
    dns_parse(&c, name, t, q);
}

/* ---- settings ---- */

START_TEST(defaults_like_consul)
{
    ck_assert_str_eq(c.domain, "consul.");
    ck_assert_str_eq(c.dc, "dc1");
    ck_assert_int_eq(c.udp_answer_limit, 3);
    ck_assert_int_eq(c.node_ttl, 0);
    ck_assert(!c.only_passing);
    ck_assert(!c.enable_truncate);
    ck_assert(c.node_meta_txt);
    ck_assert_int_eq(c.port, 8600);
    ck_assert_int_eq(c.n_addrs, 1);
    ck_assert_str_eq(c.addrs[0], "127.0.0.1");
    ck_assert_int_eq(c.soa_refresh, 3600);
    ck_assert_int_eq(c.soa_retry, 600);
    ck_assert_int_eq(c.soa_expire, 86400);
}
END_TEST

START_TEST(settings_from_config)
{
    dns_cfg_release(&c);
    cfg_release(&acfg);
    load("{\"data_dir\":\"/tmp/x\",\"domain\":\"Example.\","
         "\"datacenter\":\"EU1\",\"addresses\":{\"dns\":\"127.0.0.2 ::1\"},"
         "\"ports\":{\"dns\":8653},\"dns_config\":{\"node_ttl\":\"30s\","
         "\"only_passing\":true,\"enable_truncate\":true,"
         "\"udp_answer_limit\":5,\"service_ttl\":{\"*\":\"5s\","
         "\"db*\":\"10s\",\"db-main\":\"1m\"}}}");
    ck_assert_str_eq(c.domain, "example.");
    ck_assert_str_eq(c.dc, "eu1");
    ck_assert_int_eq(c.port, 8653);
    ck_assert_int_eq(c.n_addrs, 2);
    ck_assert_str_eq(c.addrs[1], "::1");
    ck_assert_int_eq(c.node_ttl, 30);
    ck_assert(c.only_passing && c.enable_truncate);
    ck_assert_int_eq(c.udp_answer_limit, 5);
    ck_assert_int_eq(dns_service_ttl(&c, "web"), 5);
    ck_assert_int_eq(dns_service_ttl(&c, "dbx"), 10);
    ck_assert_int_eq(dns_service_ttl(&c, "db-main"), 60);
}
END_TEST

/* ---- packets and names ---- */

START_TEST(header_checks)
{
    uint8_t p[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    uint8_t out[12];

    ck_assert_int_eq(dns_check(p, 11), DNS_V_DROP);
    ck_assert_int_eq(dns_check(p, 12), DNS_V_OK);
    p[2] = 0x81; /* a response */
    ck_assert_int_eq(dns_check(p, 12), DNS_V_DROP);
    p[2] = 0x01 | (2 << 3); /* STATUS */
    ck_assert_int_eq(dns_check(p, 12), DNS_V_NOTIMP);
    p[2] = 0x01;
    p[5] = 2; /* two questions */
    ck_assert_int_eq(dns_check(p, 12), DNS_V_FORMERR);
    p[5] = 1;
    p[3] = 0x40; /* Z */
    ck_assert_int_eq(dns_check(p, 12), DNS_V_FORMERR);
    ck_assert_int_eq(dns_reject(p, LDNS_RCODE_FORMERR, out), 12);
    ck_assert_int_eq(out[0], 0x12);
    ck_assert_int_eq(out[1], 0x34);
    ck_assert_int_eq(out[2], 0x80);
    ck_assert_int_eq(out[3], LDNS_RCODE_FORMERR);
    ck_assert_int_eq(out[5], 0);
}
END_TEST

START_TEST(name_text)
{
    static const uint8_t w[] = {3, 'W', 'e', 'B', 3, 'a', '.', 0x01,
                                6, 'c', 'o', 'n', 's', 'u', 'l', 0};
    static const uint8_t bad[] = {3, 'a', 'b'};
    static const uint8_t root[] = {0};
    char out[DNS_NAME_MAX];

    ck_assert_int_eq(dns_name_text(w, sizeof(w), out, sizeof(out)), 0);
    ck_assert_str_eq(out, "web.a??.consul.");
    ck_assert_int_eq(dns_name_text(bad, sizeof(bad), out, sizeof(out)),
                     ERR_PARSE);
    ck_assert_int_eq(dns_name_text(root, 1, out, sizeof(out)), 0);
    ck_assert_str_eq(out, ".");
}
END_TEST

START_TEST(parse_nodes)
{
    struct dns_query q;

    parse("foo.node.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NODE);
    ck_assert_str_eq(q.name, "foo");
    ck_assert_str_eq(q.dc, "dc1");
    ck_assert_str_eq(q.domain, "consul.");
    parse("foo.bar.node.dc1.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NODE);
    ck_assert_str_eq(q.name, "foo.bar");
    parse("foo.node.dc1.dc.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NODE);
    parse("foo.node.dc2.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NODE); /* looked up in dc2 */
    ck_assert_str_eq(q.dc, "dc2");
    parse("foo.node.p.peer.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("node.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("what.ever.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
}
END_TEST

START_TEST(parse_services)
{
    struct dns_query q;

    parse("web.service.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_str_eq(q.name, "web");
    ck_assert_str_eq(q.tag, "");
    parse("v1.primary.web.service.dc1.consul.", LDNS_RR_TYPE_SRV, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_str_eq(q.name, "web");
    ck_assert_str_eq(q.tag, "v1.primary");
    parse("_web._tcp.service.consul.", LDNS_RR_TYPE_SRV, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_str_eq(q.name, "web");
    ck_assert_str_eq(q.tag, "");
    parse("_web._primary.service.dc1.consul.", LDNS_RR_TYPE_SRV, &q);
    ck_assert_str_eq(q.name, "web");
    ck_assert_str_eq(q.tag, "primary");
    /* the "service" label is optional for SRV only */
    parse("_web._tcp.consul.", LDNS_RR_TYPE_SRV, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_str_eq(q.name, "web");
    parse("_web._tcp.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("web.service.other.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_str_eq(q.dc, "other");
    parse("web.query.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("web.virtual.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_EMPTY);
}
END_TEST

START_TEST(parse_other)
{
    struct dns_query q;

    parse("example.com.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_REFUSED);
    parse("notconsul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_REFUSED);
    parse("web.service.consul.", LDNS_RR_TYPE_SOA, &q);
    ck_assert_int_eq(q.kind, DNS_K_SOA);
    parse("consul.", LDNS_RR_TYPE_NS, &q);
    ck_assert_int_eq(q.kind, DNS_K_NS);
    parse("consul.", LDNS_RR_TYPE_AXFR, &q);
    ck_assert_int_eq(q.kind, DNS_K_NOTIMP);
    parse("7f000001.addr.dc1.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_ADDR);
    ck_assert_int_eq(q.ip_len, 4);
    ck_assert_int_eq(q.ip[0], 127);
    ck_assert_int_eq(q.ip[3], 1);
    parse("7f00001.addr.consul.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(q.kind, DNS_K_NXDOMAIN);
    parse("4.3.2.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, &q);
    ck_assert_int_eq(q.kind, DNS_K_PTR);
    ck_assert_int_eq(q.ip_len, 4);
    ck_assert_int_eq(q.ip[0], 10);
    ck_assert_int_eq(q.ip[3], 4);
    parse("x.in-addr.arpa.", LDNS_RR_TYPE_PTR, &q);
    ck_assert_int_eq(q.kind, DNS_K_PTR);
    ck_assert_int_eq(q.ip_len, 0);
}
END_TEST

/* ---- answers ---- */

static ldns_pkt *query(const char *name, ldns_rr_type t, bool edns,
                       uint16_t size)
{
    ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), t,
                                     LDNS_RR_CLASS_IN, LDNS_RD);

    ck_assert_ptr_nonnull(p);
    ldns_pkt_set_id(p, 4711);
    if (edns)
        ldns_pkt_set_edns_udp_size(p, size);
    return p;
}

static const ldns_rdf *owner_of(const ldns_pkt *p)
{
    return ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p), 0));
}

/* Answer req with a from entries, serialise, parse back. */
static ldns_pkt *roundtrip(const ldns_pkt *req, struct dns_answer *a,
                           bool tcp)
{
    uint8_t *wire;
    size_t len;
    ldns_pkt *r = NULL;

    ck_assert_int_eq(dns_finish(&c, req, a, tcp, &wire, &len), 0);
    ck_assert_int_eq(ldns_wire2pkt(&r, wire, len), LDNS_STATUS_OK);
    ck_assert(tcp || len <= 512 || ldns_pkt_edns(req));
    free(wire);
    return r;
}

static json_t *entry(const char *node, const char *addr, const char *saddr,
                     int port, const char *status, const char *tag)
{
    json_t *e = json_pack(
        "{s:{s:s,s:s,s:s,s:{},s:{s:s}},s:{s:s,s:s,s:s,s:i,s:[s],"
        "s:{s:i,s:i}},s:[{s:s,s:s,s:s}]}",
        "Node", "Node", node, "Address", addr, "Datacenter", "dc1",
        "TaggedAddresses", "Meta", "rack", "r1",
        "Service", "ID", "web", "Service", "web", "Address", saddr, "Port",
        port, "Tags", tag, "Weights", "Passing", 10, "Warning", 1,
        "Checks", "Status", status, "ServiceName", "web", "CheckID", "c");

    ck_assert_ptr_nonnull(e);
    return e;
}

static json_t *three(void)
{
    json_t *a = json_array();

    json_array_append_new(a, entry("n1", "10.0.0.1", "", 80, "passing",
                                   "Primary"));
    json_array_append_new(a, entry("n2", "10.0.0.2", "", 81, "warning",
                                   "secondary"));
    json_array_append_new(a, entry("n3", "10.0.0.3", "", 82, "critical",
                                   "primary"));
    return a;
}

static int count_type(const ldns_rr_list *l, ldns_rr_type t)
{
    int n = 0;

    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        n += ldns_rr_get_type(ldns_rr_list_rr(l, i)) == t;
    return n;
}

static ldns_pkt *ask_service(const char *name, ldns_rr_type t,
                             const json_t *entries, bool tcp)
{
    ldns_pkt *req = query(name, t, false, 0), *r;
    char text[DNS_NAME_MAX];
    struct dns_query q;
    struct dns_answer a;

    ck_assert_int_eq(dns_name_text(ldns_rdf_data(owner_of(req)),
                                   ldns_rdf_size(owner_of(req)), text,
                                   sizeof(text)), 0);
    dns_parse(&c, text, t, &q);
    ck_assert_int_eq(q.kind, DNS_K_SERVICE);
    ck_assert_int_eq(dns_answer_init(&a), 0);
    ck_assert_int_eq(dns_answer_service(&c, &q, owner_of(req), entries, &rng,
                                        &a), 0);
    r = roundtrip(req, &a, tcp);
    dns_answer_release(&a);
    ldns_pkt_free(req);
    return r;
}

START_TEST(service_a_excludes_critical)
{
    json_t *e = three();
    ldns_pkt *r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e,
                              false);

    ck_assert_int_eq(ldns_pkt_id(r), 4711);
    ck_assert(ldns_pkt_qr(r) && ldns_pkt_aa(r) && !ldns_pkt_ra(r));
    ck_assert(ldns_pkt_rd(r));
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
    ck_assert_int_eq(ldns_pkt_ancount(r), 2); /* passing + warning */
    ck_assert_int_eq(count_type(ldns_pkt_answer(r), LDNS_RR_TYPE_A), 2);
    ck_assert_int_eq(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(r), 0)), 0);
    ldns_pkt_free(r);
    c.only_passing = true;
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e, false);
    ck_assert_int_eq(ldns_pkt_ancount(r), 1);
    ldns_pkt_free(r);
    json_decref(e);
}
END_TEST

START_TEST(service_srv_with_additional)
{
    json_t *e = three();
    ldns_pkt *r = ask_service("web.service.consul.", LDNS_RR_TYPE_SRV, e,
                              false);
    ldns_rr *srv = NULL;
    char *s;

    ck_assert_int_eq(ldns_pkt_ancount(r), 2);
    ck_assert_int_eq(count_type(ldns_pkt_additional(r), LDNS_RR_TYPE_A), 2);
    ck_assert_int_eq(count_type(ldns_pkt_additional(r), LDNS_RR_TYPE_TXT),
                     2); /* node meta */
    for (size_t i = 0; i < 2; i++) {
        ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(r), i);

        if (ldns_rdf2native_int16(ldns_rr_rdf(rr, 2)) == 80)
            srv = rr;
    }
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(ldns_rdf2native_int16(ldns_rr_rdf(srv, 0)), 1);
    ck_assert_int_eq(ldns_rdf2native_int16(ldns_rr_rdf(srv, 1)), 10);
    s = ldns_rdf2str(ldns_rr_rdf(srv, 3));
    ck_assert_str_eq(s, "n1.node.dc1.consul.");
    free(s);
    ldns_pkt_free(r);
    json_decref(e);
}
END_TEST

START_TEST(service_tag_and_rfc2782)
{
    json_t *e = three();
    ldns_pkt *r = ask_service("primary.web.service.consul.", LDNS_RR_TYPE_A,
                              e, false);
    char *s;

    /* n1 "Primary" matches case-insensitively; n3 is critical */
    ck_assert_int_eq(ldns_pkt_ancount(r), 1);
    s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0));
    ck_assert_str_eq(s, "10.0.0.1");
    free(s);
    ldns_pkt_free(r);
    r = ask_service("_web._secondary.service.consul.", LDNS_RR_TYPE_SRV, e,
                    false);
    ck_assert_int_eq(ldns_pkt_ancount(r), 1);
    /* a warning instance weighs Weights.Warning */
    ck_assert_int_eq(ldns_rdf2native_int16(ldns_rr_rdf(
                         ldns_rr_list_rr(ldns_pkt_answer(r), 0), 1)), 1);
    ldns_pkt_free(r);
    r = ask_service("nope.web.service.consul.", LDNS_RR_TYPE_A, e, false);
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
    ck_assert_int_eq(count_type(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
    ldns_pkt_free(r);
    json_decref(e);
}
END_TEST

START_TEST(service_nodata_and_addresses)
{
    json_t *e = json_array();
    ldns_pkt *r;
    char *s;

    json_array_append_new(e, entry("n1", "10.0.0.1", "192.168.1.5", 80,
                                   "passing", "x"));
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_AAAA, e, false);
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
    ck_assert_int_eq(ldns_pkt_ancount(r), 0);
    ck_assert_int_eq(count_type(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
    ldns_pkt_free(r);
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_SRV, e, false);
    s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 3));
    ck_assert_str_eq(s, "c0a80105.addr.dc1.consul.");
    free(s);
    ldns_pkt_free(r);
    json_array_clear(e);
    json_array_append_new(e, entry("n1", "10.0.0.1", "db.example.com", 80,
                                   "passing", "x"));
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e, false);
    ck_assert_int_eq(count_type(ldns_pkt_answer(r), LDNS_RR_TYPE_CNAME), 1);
    ldns_pkt_free(r);
    json_array_clear(e);
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e, false);
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
    ldns_pkt_free(r);
    json_decref(e);
}
END_TEST

static json_t *many(int n)
{
    json_t *a = json_array();

    for (int i = 0; i < n; i++) {
        char node[32], addr[32];

        snprintf(node, sizeof(node), "node-number-%02d", i);
        snprintf(addr, sizeof(addr), "10.1.0.%d", i + 1);
        json_array_append_new(a, entry(node, addr, "", 8000 + i, "passing",
                                       "t"));
    }
    return a;
}

START_TEST(udp_limit_and_truncation)
{
    json_t *e = many(30);
    ldns_pkt *r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e,
                              false);

    ck_assert_int_eq(ldns_pkt_ancount(r), 3); /* udp_answer_limit */
    ck_assert(!ldns_pkt_tc(r));               /* enable_truncate off */
    ldns_pkt_free(r);
    c.enable_truncate = true;
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e, false);
    ck_assert_int_eq(ldns_pkt_ancount(r), 3);
    ck_assert(ldns_pkt_tc(r));
    ldns_pkt_free(r);
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_A, e, true);
    ck_assert_int_eq(ldns_pkt_ancount(r), 30);
    ck_assert(!ldns_pkt_tc(r));
    ldns_pkt_free(r);
    r = ask_service("web.service.consul.", LDNS_RR_TYPE_SRV, e, false);
    ck_assert_int_eq(ldns_pkt_ancount(r), 3);
    /* additional only for the targets kept: A + meta TXT each */
    ck_assert_int_eq(count_type(ldns_pkt_additional(r), LDNS_RR_TYPE_A), 3);
    ldns_pkt_free(r);
    json_decref(e);
}
END_TEST

START_TEST(edns_size_bounds_answer)
{
    json_t *e = many(60);
    ldns_pkt *req = query("web.service.consul.", LDNS_RR_TYPE_SRV, true,
                          1232);
    struct dns_query q;
    struct dns_answer a;
    uint8_t *wire;
    size_t len;
    ldns_pkt *r = NULL;

    c.enable_truncate = true;
    dns_parse(&c, "web.service.consul.", LDNS_RR_TYPE_SRV, &q);
    ck_assert_int_eq(dns_answer_init(&a), 0);
    ck_assert_int_eq(dns_answer_service(&c, &q, owner_of(req), e, &rng, &a),
                     0);
    ck_assert_int_eq(dns_finish(&c, req, &a, false, &wire, &len), 0);
    ck_assert_uint_le(len, 1232 - 8);
    ck_assert_int_eq(ldns_wire2pkt(&r, wire, len), LDNS_STATUS_OK);
    ck_assert(ldns_pkt_tc(r));
    ck_assert(ldns_pkt_edns(r));
    ck_assert_int_eq(ldns_pkt_edns_udp_size(r), 1232);
    ck_assert_int_gt(ldns_pkt_ancount(r), 3);
    ck_assert_int_lt(ldns_pkt_ancount(r), 60);
    ck_assert_int_eq(count_type(ldns_pkt_additional(r), LDNS_RR_TYPE_A),
                     ldns_pkt_ancount(r));
    free(wire);
    ldns_pkt_free(r);
    dns_answer_release(&a);
    ldns_pkt_free(req);
    json_decref(e);
}
END_TEST

static ldns_pkt *ask_node(const char *name, ldns_rr_type t,
                          const json_t *node)
{
    ldns_pkt *req = query(name, t, false, 0), *r;
    struct dns_query q;
    struct dns_answer a;

    dns_parse(&c, name, t, &q);
    ck_assert_int_eq(q.kind, DNS_K_NODE);
    ck_assert_int_eq(dns_answer_init(&a), 0);
    ck_assert_int_eq(dns_answer_node(&c, &q, owner_of(req), node, &a), 0);
    r = roundtrip(req, &a, false);
    dns_answer_release(&a);
    ldns_pkt_free(req);
    return r;
}

START_TEST(node_answers)
{
    json_t *n = json_pack("{s:{s:s,s:s,s:{s:s,s:s}},s:{}}", "Node", "Node",
                          "foo", "Address", "10.9.8.7", "Meta", "a=b", "v",
                          "rfc1035-x", "raw", "Services");
    ldns_pkt *r;
    char *s;

    ck_assert_ptr_nonnull(n);
    r = ask_node("foo.node.consul.", LDNS_RR_TYPE_A, n);
    ck_assert_int_eq(ldns_pkt_ancount(r), 1);
    s = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(r), 0));
    ck_assert_str_eq(s, "foo.node.consul.\t0\tIN\tA\t10.9.8.7\n");
    free(s);
    ck_assert_int_eq(count_type(ldns_pkt_additional(r), LDNS_RR_TYPE_TXT), 2);
    ldns_pkt_free(r);
    r = ask_node("foo.node.consul.", LDNS_RR_TYPE_TXT, n);
    ck_assert_int_eq(count_type(ldns_pkt_answer(r), LDNS_RR_TYPE_TXT), 2);
    s = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(r), 0));
    ck_assert_msg(strstr(s, "\"a`=b=v\"") != NULL, "%s", s); /* RFC 1464 */
    free(s);
    ldns_pkt_free(r);
    r = ask_node("foo.node.consul.", LDNS_RR_TYPE_AAAA, n);
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
    ck_assert_int_eq(ldns_pkt_ancount(r), 0);
    ldns_pkt_free(r);
    r = ask_node("bar.node.consul.", LDNS_RR_TYPE_A, json_null());
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
    ck_assert_int_eq(count_type(ldns_pkt_authority(r), LDNS_RR_TYPE_SOA), 1);
    s = ldns_rr2str(ldns_rr_list_rr(ldns_pkt_authority(r), 0));
    ck_assert_msg(strncmp(s, "consul.\t0\tIN\tSOA\tns.consul. "
                             "hostmaster.consul. ", 43) == 0, "%s", s);
    free(s);
    ldns_pkt_free(r);
    json_decref(n);
}
END_TEST

START_TEST(refused_outside_domain)
{
    ldns_pkt *req = query("example.com.", LDNS_RR_TYPE_A, false, 0), *r;
    struct dns_query q;
    struct dns_answer a;

    dns_parse(&c, "example.com.", LDNS_RR_TYPE_A, &q);
    ck_assert_int_eq(dns_answer_init(&a), 0);
    ck_assert_int_eq(dns_answer_static(&c, &q, owner_of(req), &a), 0);
    r = roundtrip(req, &a, false);
    ck_assert_int_eq(ldns_pkt_get_rcode(r), LDNS_RCODE_REFUSED);
    ck_assert(!ldns_pkt_aa(r));
    ck_assert_int_eq(ldns_pkt_qdcount(r), 1);
    ldns_pkt_free(r);
    dns_answer_release(&a);
    ldns_pkt_free(req);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *t = tcase_create("names");
    TCase *u = tcase_create("answers");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, defaults_like_consul);
    tcase_add_test(t, settings_from_config);
    tcase_add_test(t, header_checks);
    tcase_add_test(t, name_text);
    tcase_add_test(t, parse_nodes);
    tcase_add_test(t, parse_services);
    tcase_add_test(t, parse_other);
    suite_add_tcase(s, t);
    tcase_add_checked_fixture(u, setup, teardown);
    tcase_add_test(u, service_a_excludes_critical);
    tcase_add_test(u, service_srv_with_additional);
    tcase_add_test(u, service_tag_and_rfc2782);
    tcase_add_test(u, service_nodata_and_addresses);
    tcase_add_test(u, udp_limit_and_truncation);
    tcase_add_test(u, edns_size_bounds_answer);
    tcase_add_test(u, node_answers);
    tcase_add_test(u, refused_outside_domain);
    suite_add_tcase(s, u);
    return s;
}

Suite *unit_suite(void)
{
    return dns_suite();
}

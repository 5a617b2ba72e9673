/* fuzz_dns_query.c - libFuzzer target: one DNS message from a client,
 * handled as dns.c's handle() does, minus the sockets: dns_check, ldns's
 * parser, the question name (dns_name_text), its classification
 * (dns_parse), the answer built (dns_answer) from a small fixed
 * catalog (three "web" instances, the "consul" server, two nodes) and
 * the reply encoded (dns_finish), over UDP and over TCP.
 * `make fuzz` builds and runs it (-max_len=1024); seeds in
 * t/fuzz/dns_query/.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_int.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cfg_json[] =
    "{\"data_dir\":\"/tmp/x\",\"node_name\":\"n1\","
    "\"alt_domain\":\"alt.\",\"dns_config\":{\"enable_truncate\":true,"
    "\"service_ttl\":{\"*\":\"5s\",\"web\":\"10s\"},\"node_ttl\":\"1s\","
    "\"a_record_limit\":2}}";

#define NODE(n, a)                                                        \
    "{\"ID\":\"\",\"Node\":\"" n "\",\"Address\":\"" a "\","              \
    "\"Datacenter\":\"dc1\",\"TaggedAddresses\":{\"lan\":\"" a "\","      \
    "\"wan\":\"" a "\"},\"Meta\":{\"rack\":\"r1\",\"k\":\"v=w\"}}"
#define SVC(id, name, addr, port)                                         \
    "{\"ID\":\"" id "\",\"Service\":\"" name "\",\"Tags\":[\"v1\","       \
    "\"primary\"],\"Address\":\"" addr "\",\"Port\":" port ","            \
    "\"Meta\":{},\"Weights\":{\"Passing\":1,\"Warning\":1}}"
#define CHK(st) "[{\"CheckID\":\"c\",\"Status\":\"" st "\"}]"

static const char web_json[] =
    "[{\"Node\":" NODE("n1", "10.0.0.1") ",\"Service\":"
    SVC("web1", "web", "", "80") ",\"Checks\":" CHK("passing") "},"
    "{\"Node\":" NODE("n2", "fe80::1") ",\"Service\":"
    SVC("web2", "web", "web.example.com", "8080") ",\"Checks\":"
    CHK("warning") "},"
    "{\"Node\":" NODE("n3", "10.0.0.3") ",\"Service\":"
    SVC("web3", "web", "10.1.0.3", "81") ",\"Checks\":" CHK("critical")
    "}]";
static const char consul_json[] =
    "[{\"Node\":" NODE("n1", "10.0.0.1") ",\"Service\":"
    SVC("consul", "consul", "", "8300") ",\"Checks\":" CHK("passing")
    "}]";
static const char node_json[] =
    "{\"Node\":" NODE("n1", "10.0.0.1") ",\"Services\":{\"web1\":"
    SVC("web1", "web", "", "80") "}}";
static const char nodes_json[] =
    "[" NODE("n1", "10.0.0.1") "," NODE("n2", "fe80::1") "]";

static struct cfg acfg;
static struct dns_cfg dcfg;
static json_t *web, *consul, *node, *nodes, *none;
static uint64_t rng = 42;

static bool setup(void)
{
    char err[ERR_LEN];
    json_t *t = json_loads(cfg_json, 0, NULL);

    log_set_level(LOG_LVL_OFF);
    if (t == NULL || cfg_build(t, &acfg, NULL, NULL, err) != 0 ||
        dns_cfg_load(&dcfg, &acfg, err) != 0)
        abort();
    json_decref(t);
    web = json_loads(web_json, 0, NULL);
    consul = json_loads(consul_json, 0, NULL);
    node = json_loads(node_json, 0, NULL);
    nodes = json_loads(nodes_json, 0, NULL);
    none = json_array();
    if (web == NULL || consul == NULL || node == NULL || nodes == NULL ||
        none == NULL)
        abort();
    return true;
}

/* The lookup result dns.c would fetch for q (json_null(): none needed). */
static const json_t *lookup(const struct dns_query *q)
{
    switch (q->kind) {
    case DNS_K_SERVICE:
        return strcmp(q->name, "web") == 0 ? web : none;
    case DNS_K_NODE:
        return strcmp(q->name, "n1") == 0 ? node : json_null();
    case DNS_K_SOA:
    case DNS_K_NS:
        return consul;
    case DNS_K_PTR:
        return nodes;
    default:
        return json_null();
    }
}

static void answer(const ldns_pkt *pkt, const ldns_rdf *owner,
                   const struct dns_query *q, bool tcp)
{
    const json_t *data = lookup(q);
    struct dns_answer a;
    uint8_t *wire = NULL;
    size_t len = 0;
    int rc;

    if (dns_answer_init(&a) != 0)
        return;
    rc = dns_answer(&dcfg, q, owner, data, &rng, &a);
    if (rc == 0 && dns_finish(&dcfg, pkt, &a, tcp, &wire, &len) == 0) {
        if (len < 12 || (!tcp && len > DNS_UDP_MAX))
            abort();
        free(wire);
    }
    dns_answer_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    enum dns_verdict v;
    ldns_pkt *pkt = NULL;
    const ldns_rr *qr;
    char qname[DNS_NAME_MAX];
    struct dns_query q;
    uint8_t hdr[12];

    if (!ready)
        ready = setup();
    v = dns_check(data, size);
    if (v == DNS_V_DROP)
        return 0;
    if (v != DNS_V_OK) {
        (void)dns_reject(data, LDNS_RCODE_FORMERR, hdr);
        return 0;
    }
    if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK ||
        (qr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) == NULL ||
        dns_name_text(ldns_rdf_data(ldns_rr_owner(qr)),
                      ldns_rdf_size(ldns_rr_owner(qr)), qname,
                      sizeof(qname)) != 0) {
        ldns_pkt_free(pkt);
        return 0;
    }
    dns_parse(&dcfg, qname, ldns_rr_get_type(qr), &q);
    answer(pkt, ldns_rr_owner(qr), &q, false);
    answer(pkt, ldns_rr_owner(qr), &q, true);
    ldns_pkt_free(pkt);
    return 0;
}

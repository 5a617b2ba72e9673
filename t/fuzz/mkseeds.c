/* mkseeds.c - writes the binary seed inputs of fuzz_fsm_apply (Raft log
 * entries: each a 2-byte big-endian length and the entry) and
 * fuzz_dns_query (DNS queries) into t/fuzz/fsm_apply/ and
 * t/fuzz/dns_query/, from the real encoders, so the seeds follow the
 * formats. Not part of any build; after `make fuzz-build`, from the top
 * directory:
 *
 *   clang -std=c11 -D_GNU_SOURCE -Ilibcore -fsanitize=address,undefined \
 *       t/fuzz/mkseeds.c build/fuzz/libcore.a \
 *       $(pkg-config --libs libuv raft libh2o jansson msgpack openssl \
 *       libcurl libarchive zlib yaml-0.1 ldns) -lm -o build/fuzz/mkseeds \
 *       && build/fuzz/mkseeds
 */
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "fsm.h"
#include "raftglue_fsm.h"

static char err[ERR_LEN];

static void put(FILE *f, const void *p, size_t n)
{
    unsigned char h[2] = {(unsigned char)(n >> 8), (unsigned char)n};

    if (n > 0xffff || fwrite(h, 1, 2, f) != 2 || fwrite(p, 1, n, f) != n)
        abort();
}

static FILE *out(const char *dir, const char *name)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "t/fuzz/%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL) {
        perror(path);
        exit(1);
    }
    return f;
}

static void kv(FILE *f, enum fsm_kv_verb verb, const char *key,
               const char *val, uint64_t cas)
{
    struct fsm_kv_op op = {verb, key, val, val ? strlen(val) : 0, 42, cas};
    void *buf;
    size_t len;

    if (fsm_encode_kv(&op, malloc, &buf, &len, err) != 0)
        abort();
    put(f, buf, len);
    free(buf);
}

static void cat(FILE *f, const char *op, const char *req)
{
    json_t *j = json_loads(req, 0, NULL);
    void *buf;
    size_t len;

    if (j == NULL || fsm_encode_catalog(op, j, malloc, &buf, &len, err))
        abort();
    json_decref(j);
    put(f, buf, len);
    free(buf);
}

static void acl(FILE *f, const char *op, const char *req)
{
    json_t *j = json_loads(req, 0, NULL);
    void *buf;
    size_t len;

    if (j == NULL || fsm_encode_acl(op, j, malloc, &buf, &len, err)) {
        fprintf(stderr, "%s: %s\n", op, err);
        abort();
    }
    json_decref(j);
    put(f, buf, len);
    free(buf);
}

static void txn(FILE *f, const struct fsm_txn_op *ops, size_t n)
{
    void *buf;
    size_t len;

    if (fsm_encode_txn(ops, n, malloc, &buf, &len, err) != 0)
        abort();
    put(f, buf, len);
    free(buf);
}

#define P1 "165d4317-e379-f732-ce70-86278c4558f7"
#define T1 "6a1253d2-1785-24fd-91c2-f8e78c745511"
#define S1 "45a3bd52-07c7-47a4-52fd-0745e0cfe967"

static void fsm_seeds(void)
{
    FILE *f;
    struct fsm_autopilot ap = {0};
    struct raft_buffer b;
    void *buf;
    size_t len;

    f = out("fsm_apply", "kv");
    kv(f, FSM_KV_SET, "app/port", "8080", 0);
    kv(f, FSM_KV_CAS, "app/port", "8081", 1);
    kv(f, FSM_KV_SET, "app/name", "x", 0);
    kv(f, FSM_KV_DELETE_CAS, "app/name", NULL, 3);
    kv(f, FSM_KV_DELETE_TREE, "app/", NULL, 0);
    kv(f, FSM_KV_DELETE, "nope", NULL, 0);
    fclose(f);

    f = out("fsm_apply", "autopilot");
    ap.cleanup_dead_servers = true;
    ap.last_contact_threshold_ms = 200;
    ap.max_trailing_logs = 250;
    ap.server_stabilization_time_ms = 10000;
    if (fsm_encode_autopilot(&ap, true, 0, malloc, &buf, &len, err))
        abort();
    put(f, buf, len);
    free(buf);
    fclose(f);

    f = out("fsm_apply", "catalog");
    cat(f, "register", "{\"Datacenter\":\"dc1\",\"Node\":\"n1\","
        "\"Address\":\"10.0.0.1\",\"NodeMeta\":{\"r\":\"1\"},"
        "\"Service\":{\"ID\":\"web1\",\"Service\":\"web\",\"Tags\":"
        "[\"v1\"],\"Port\":80},\"Checks\":[{\"CheckID\":\"c1\","
        "\"Status\":\"passing\",\"ServiceID\":\"web1\"},{\"CheckID\":"
        "\"serfHealth\",\"Status\":\"critical\"}]}");
    cat(f, "register", "{\"Node\":\"n2\",\"Address\":\"10.0.0.2\"}");
    cat(f, "deregister", "{\"Node\":\"n1\",\"CheckID\":\"c1\"}");
    cat(f, "deregister", "{\"Node\":\"n1\",\"ServiceID\":\"web1\"}");
    cat(f, "deregister", "{\"Node\":\"n2\"}");
    fclose(f);

    f = out("fsm_apply", "acl");
    acl(f, "policy-set", "{\"Policy\":{\"ID\":\"" P1 "\",\"Name\":\"p\","
        "\"Rules\":\"key_prefix \\\"\\\" { policy = \\\"read\\\" }\","
        "\"Hash\":\"aGFzaA==\",\"CreateIndex\":0,\"ModifyIndex\":0}}");
    acl(f, "token-set", "{\"Token\":{\"AccessorID\":\"" T1 "\","
        "\"SecretID\":\"" S1 "\",\"Policies\":[{\"ID\":\"" P1 "\","
        "\"Name\":\"p\"}],\"CreateTime\":\"2024-01-01T00:00:00Z\","
        "\"Hash\":\"aGFzaA==\"}}");
    acl(f, "token-delete", "{\"AccessorID\":\"" T1 "\"}");
    acl(f, "policy-delete", "{\"ID\":\"" P1 "\"}");
    fclose(f);

    /* one entry framed as raftglue_apply sends it */
    f = out("fsm_apply", "framed");
    {
        struct fsm_kv_op op = {FSM_KV_SET, "k", "v", 1, 0, 0};

        if (fsm_encode_kv(&op, malloc, &buf, &len, err) != 0 ||
            raftglue_frame(buf, len, &b, err) != 0)
            abort();
        put(f, b.base, b.len);
        free(buf);
        raft_free(b.base);
    }
    fclose(f);

    /* a transaction that commits, then one whose 3rd op fails (the
     * rollback path) */
    f = out("fsm_apply", "txn");
    {
        const struct fsm_txn_op ok[5] = {
            {.verb = "set", .key = "t/a", .val = "1", .len = 1, .flags = 3},
            {.verb = "cas", .key = "t/b", .val = "2", .len = 1},
            {.verb = "get-tree", .key = "t/"},
            {.verb = "check-index", .key = "t/a", .index = 1},
            {.verb = "check-session", .key = "t/a", .session = "s"},
        };
        const struct fsm_txn_op bad[4] = {
            {.verb = "delete", .key = "t/a"},
            {.verb = "delete-tree", .key = ""},
            {.verb = "delete-cas", .key = "t/b", .index = 99},
            {.verb = "check-not-exists", .key = "t/c"},
        };

        const struct fsm_txn_op catget[2] = {
            {.kind = FSM_TXN_NODE, .verb = "get", .key = "n1"},
            {.kind = FSM_TXN_CHECK, .verb = "get", .key = "n1", .id = "c"},
        };

        txn(f, ok, 4);
        txn(f, bad, 4);
        txn(f, ok + 4, 1);
        txn(f, catget, 2);
    }
    fclose(f);

    f = out("fsm_apply", "restore");
    if (fsm_encode_restore("begin", "r1", 4, "0000000000000000000000000000"
                           "000000000000000000000000000000000000", NULL, 0,
                           malloc, &buf, &len, err))
        abort();
    put(f, buf, len);
    free(buf);
    if (fsm_encode_restore("abort", "r1", 0, NULL, NULL, 0, malloc, &buf,
                           &len, err))
        abort();
    put(f, buf, len);
    free(buf);
    fclose(f);
}

static void query(const char *file, const char *name, ldns_rr_type t,
                  bool edns)
{
    ldns_pkt *p = NULL;
    uint8_t *wire;
    size_t len;
    FILE *f;

    if (ldns_pkt_query_new_frm_str(&p, name, t, LDNS_RR_CLASS_IN,
                                   LDNS_RD) != LDNS_STATUS_OK)
        abort();
    ldns_pkt_set_id(p, 0x1234);
    if (edns)
        ldns_pkt_set_edns_udp_size(p, 4096);
    if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK)
        abort();
    f = out("dns_query", file);
    if (fwrite(wire, 1, len, f) != len)
        abort();
    fclose(f);
    free(wire);
    ldns_pkt_free(p);
}

static void dns_seeds(void)
{
    query("srv", "web.service.consul.", LDNS_RR_TYPE_SRV, false);
    query("a-tag", "v1.web.service.dc1.consul.", LDNS_RR_TYPE_A, true);
    query("rfc2782", "_web._tcp.service.consul.", LDNS_RR_TYPE_SRV, true);
    query("any", "web.service.alt.", LDNS_RR_TYPE_ANY, false);
    query("node", "n1.node.consul.", LDNS_RR_TYPE_A, false);
    query("node-txt", "N1.node.dc1.consul.", LDNS_RR_TYPE_TXT, true);
    query("aaaa", "n1.node.consul.", LDNS_RR_TYPE_AAAA, false);
    query("soa", "consul.", LDNS_RR_TYPE_SOA, false);
    query("ns", "consul.", LDNS_RR_TYPE_NS, true);
    query("addr", "0a000001.addr.dc1.consul.", LDNS_RR_TYPE_A, false);
    query("addr6", "fe800000000000000000000000000001.addr.consul.",
          LDNS_RR_TYPE_AAAA, false);
    query("ptr", "1.0.0.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, false);
    query("refused", "example.com.", LDNS_RR_TYPE_A, false);
    query("axfr", "consul.", LDNS_RR_TYPE_AXFR, false);
    query("virtual", "web.virtual.consul.", LDNS_RR_TYPE_A, false);
    query("query", "db.query.consul.", LDNS_RR_TYPE_A, false);
}

int main(void)
{
    fsm_seeds();
    dns_seeds();
    return 0;
}

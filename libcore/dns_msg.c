/* dns_msg.c - DNS answers from catalog data, and the reply on the wire.
 *
 * Layer: http (uses util, codec; ldns). Thread: any (no globals).
 * Owns: the records of a struct dns_answer.
 * Tests: t/unit/check_dns.c, t/t2103-dns.sh
 *
 * Follows Consul's agent/dns.go: instances with a critical check are
 * left out (also warning ones with only_passing), the rest shuffled;
 * A/AAAA answers use the service address, else the node's (lan_ipv4 /
 * lan_ipv6 tagged addresses first for A / AAAA); an SRV answer targets
 * <node>.node.<dc>.<domain> (or <hex>.addr.<dc>.<domain> when the
 * address is the service's own) with that address in the additional
 * section; a host name becomes a CNAME (SRV: the target), not resolved
 * further (no recursors). Node meta goes in TXT records.
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- small helpers ---- */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* 4 for IPv4 (also v4-mapped IPv6, as Go's To4 sees it), 16, else 0. */
static int parse_ip(const char *s, uint8_t ip[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0xff, 0xff};

    if (inet_pton(AF_INET, s, ip) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, ip) != 1)
        return 0;
    if (memcmp(ip, mapped, 12) == 0) {
        memmove(ip, ip + 12, 4);
        return 4;
    }
    return 16;
}

/* A name from text: labels split at '.', final dot optional. */
static ldns_rdf *dname(const char *text)
{
    uint8_t w[256];
    size_t o = 0;
    const char *s = text;

    while (*s != '\0') {
        const char *e = strchr(s, '.');
        size_t l = e != NULL ? (size_t)(e - s) : strlen(s);

        if (l == 0 || l > 63 || o + l + 2 > sizeof(w))
            return NULL;
        w[o++] = (uint8_t)l;
        memcpy(w + o, s, l);
        o += l;
        s += l;
        if (*s == '.')
            s++;
    }
    w[o++] = 0;
    return ldns_dname_new_frm_data((uint16_t)o, w);
}

static ldns_rr *rr_new(ldns_rdf *owner /* takes */, ldns_rr_type t,
                       uint32_t ttl)
{
    ldns_rr *rr;

    if (owner == NULL)
        return NULL;
    rr = ldns_rr_new();
    if (rr == NULL) {
        ldns_rdf_deep_free(owner);
        return NULL;
    }
    ldns_rr_set_owner(rr, owner);
    ldns_rr_set_type(rr, t);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);
    return rr;
}

/* Push rdf onto rr; on failure free both and return NULL. */
static ldns_rr *rr_push(ldns_rr *rr, ldns_rdf *rdf)
{
    if (rr == NULL || rdf == NULL || !ldns_rr_push_rdf(rr, rdf)) {
        ldns_rr_free(rr);
        ldns_rdf_deep_free(rdf);
        return NULL;
    }
    return rr;
}

static ldns_rdf *clone_or_name(const ldns_rdf *owner, const char *name)
{
    return name != NULL ? dname(name) : ldns_rdf_clone(owner);
}

/* Consul's makeARecord: A for IPv4 when SRV/A/ANY/NS/TXT was asked,
 * AAAA for IPv6 when SRV/AAAA/ANY/NS/TXT; else NULL (no error). */
static bool ip_fits(uint16_t qtype, int len)
{
    bool common = qtype == LDNS_RR_TYPE_SRV || qtype == LDNS_RR_TYPE_ANY ||
                  qtype == LDNS_RR_TYPE_NS || qtype == LDNS_RR_TYPE_TXT;

    return common || (len == 4 && qtype == LDNS_RR_TYPE_A) ||
           (len == 16 && qtype == LDNS_RR_TYPE_AAAA);
}

static ldns_rr *ip_rr(ldns_rdf *owner /* takes */, const uint8_t *ip,
                      int len, uint32_t ttl)
{
    ldns_rr *rr = rr_new(owner, len == 4 ? LDNS_RR_TYPE_A
                                         : LDNS_RR_TYPE_AAAA, ttl);

    return rr_push(rr, ldns_rdf_new_frm_data(len == 4 ? LDNS_RDF_TYPE_A
                                                      : LDNS_RDF_TYPE_AAAA,
                                             (size_t)len, ip));
}

static ldns_rr *name_rr(ldns_rdf *owner /* takes */, ldns_rr_type t,
                        uint32_t ttl, const char *target)
{
    return rr_push(rr_new(owner, t, ttl), dname(target));
}

static ldns_rr *srv_rr(const ldns_rdf *owner, uint32_t ttl, int weight,
                       int port, const char *target)
{
    ldns_rr *rr = rr_new(ldns_rdf_clone(owner), LDNS_RR_TYPE_SRV, ttl);

    weight = weight < 0 ? 0 : weight > 65535 ? 65535 : weight;
    port = port < 0 ? 0 : port > 65535 ? 65535 : port;
    rr = rr_push(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 1));
    rr = rr_push(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16,
                                           (uint16_t)weight));
    rr = rr_push(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16,
                                           (uint16_t)port));
    return rr_push(rr, dname(target));
}

/* A TXT record of one string, split into 255-byte character-strings. */
static ldns_rr *txt_rr(ldns_rdf *owner /* takes */, uint32_t ttl,
                       const char *s)
{
    ldns_rr *rr = rr_new(owner, LDNS_RR_TYPE_TXT, ttl);
    size_t n = strlen(s), off = 0;

    do {
        uint8_t buf[256];
        size_t l = n - off > 255 ? 255 : n - off;

        buf[0] = (uint8_t)l;
        memcpy(buf + 1, s + off, l);
        rr = rr_push(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, l + 1,
                                               buf));
        off += l;
    } while (rr != NULL && off < n);
    return rr;
}

/* Append rr unless an equal record is there; false only on NULL. */
static bool push_unique(ldns_rr_list *l, ldns_rr *rr)
{
    if (rr == NULL)
        return false;
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
        if (ldns_rr_compare(ldns_rr_list_rr(l, i), rr) == 0) {
            ldns_rr_free(rr);
            return true;
        }
    }
    if (!ldns_rr_list_push_rr(l, rr)) {
        ldns_rr_free(rr);
        return false;
    }
    return true;
}

static bool push(ldns_rr_list *l, ldns_rr *rr)
{
    if (rr == NULL)
        return false;
    if (!ldns_rr_list_push_rr(l, rr)) {
        ldns_rr_free(rr);
        return false;
    }
    return true;
}

/* ---- address translation (Consul's translateAddressAccept) ---- */

enum { ACC_V4 = 1, ACC_V6 = 2, ACC_ANY = 4, ACC_DOMAIN = 8 };

static unsigned accept_for(uint16_t qtype)
{
    if (qtype == LDNS_RR_TYPE_A)
        return ACC_V4 | ACC_DOMAIN;
    if (qtype == LDNS_RR_TYPE_AAAA)
        return ACC_V6 | ACC_DOMAIN;
    return ACC_ANY | ACC_DOMAIN;
}

static const char *translate(unsigned acc, const char *def, const char *v4,
                             const char *v6)
{
    uint8_t ip[16];
    int len;

    if ((acc & ACC_V6) && v6[0] != '\0')
        return v6;
    if ((acc & ACC_V4) && v4[0] != '\0')
        return v4;
    if ((acc & ACC_ANY) && def[0] != '\0')
        return def;
    len = parse_ip(def, ip);
    if ((len == 4 && (acc & ACC_V4)) || (len == 16 && (acc & ACC_V6)) ||
        (len == 0 && (acc & ACC_DOMAIN)))
        return def;
    return "";
}

static const char *node_addr(const json_t *node, unsigned acc)
{
    const json_t *t = json_object_get(node, "TaggedAddresses");

    return translate(acc, jstr(node, "Address"), jstr(t, "lan_ipv4"),
                     jstr(t, "lan_ipv6"));
}

static const char *svc_addr(const json_t *svc, unsigned acc)
{
    const json_t *t = json_object_get(svc, "TaggedAddresses");

    return translate(acc, jstr(svc, "Address"),
                     jstr(json_object_get(t, "lan_ipv4"), "Address"),
                     jstr(json_object_get(t, "lan_ipv6"), "Address"));
}

/* ---- health ---- */

/* Consul's CheckServiceNodes.Filter: no critical check (nor, with
 * only_passing, any non-passing one). */
static bool healthy(const json_t *e, bool only_passing)
{
    const json_t *chk;
    size_t i;

    json_array_foreach(json_object_get(e, "Checks"), i, chk) {
        const char *st = jstr(chk, "Status");

        if (strcmp(st, "critical") == 0 ||
            (only_passing && strcmp(st, "passing") != 0))
            return false;
    }
    return true;
}

static bool has_tag(const json_t *e, const char *tag)
{
    const json_t *t;
    size_t i;

    if (tag[0] == '\0')
        return true;
    json_array_foreach(json_object_get(json_object_get(e, "Service"),
                                       "Tags"), i, t) {
        if (json_is_string(t) && strcasecmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

/* Consul's findWeight: Weights.Warning when a check of the node or of
 * this service warns, else Weights.Passing (default 1 each). */
static int weight(const json_t *e)
{
    const json_t *svc = json_object_get(e, "Service"), *chk;
    const json_t *w = json_object_get(svc, "Weights");
    const char *name = jstr(svc, "Service");
    bool warn = false;
    size_t i;

    json_array_foreach(json_object_get(e, "Checks"), i, chk) {
        const char *sn = jstr(chk, "ServiceName");

        if ((sn[0] == '\0' || strcmp(sn, name) == 0) &&
            strcmp(jstr(chk, "Status"), "warning") == 0)
            warn = true;
    }
    w = json_object_get(w, warn ? "Warning" : "Passing");
    return json_is_integer(w) ? (int)json_integer_value(w) : 1;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s != 0 ? *s : 0x9e3779b97f4a7c15ULL;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* The usable entries, shuffled; *n their count. NULL on no memory. */
static const json_t **usable(const json_t *entries, const char *tag,
                             bool only_passing, uint64_t *rng, size_t *n)
{
    size_t total = json_array_size(entries), i;
    const json_t **v = calloc(total + 1, sizeof(*v)), *e;

    *n = 0;
    if (v == NULL)
        return NULL;
    json_array_foreach(entries, i, e) {
        if (json_is_object(json_object_get(e, "Node")) &&
            json_is_object(json_object_get(e, "Service")) &&
            healthy(e, only_passing) && has_tag(e, tag))
            v[(*n)++] = e;
    }
    for (i = *n; i > 1; i--) {
        size_t j = (size_t)(next_rand(rng) % i);
        const json_t *t = v[i - 1];

        v[i - 1] = v[j];
        v[j] = t;
    }
    return v;
}

/* ---- records for one instance (Consul's makeNodeServiceRecords) ---- */

struct build {
    const struct dns_cfg *c;
    const struct dns_query *q;
    const ldns_rdf *owner;
    uint32_t ttl;
    ldns_rr_list *an, *ar; /* this instance's records */
};

static void hex_addr(const uint8_t *ip, int len, char *out)
{
    for (int i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", ip[i]);
}

/* An address record for the instance; SRV points at target. */
static bool from_ip(struct build *b, const json_t *e, const uint8_t *ip,
                    int len, const char *target)
{
    const json_t *svc = json_object_get(e, "Service");

    if (!ip_fits(b->q->qtype, len))
        return true;
    if (b->q->qtype != LDNS_RR_TYPE_SRV)
        return push(b->an, ip_rr(ldns_rdf_clone(b->owner), ip, len, b->ttl));
    return push(b->an, srv_rr(b->owner, b->ttl, weight(e),
                              (int)json_integer_value(
                                  json_object_get(svc, "Port")),
                              target)) &&
           push(b->ar, ip_rr(dname(target), ip, len, b->ttl));
}

static bool from_fqdn(struct build *b, const json_t *e, const char *host)
{
    const json_t *svc = json_object_get(e, "Service");

    if (b->q->qtype == LDNS_RR_TYPE_SRV)
        return push(b->an, srv_rr(b->owner, b->ttl, weight(e),
                                  (int)json_integer_value(
                                      json_object_get(svc, "Port")),
                                  host));
    return push(b->an, name_rr(ldns_rdf_clone(b->owner),
                               LDNS_RR_TYPE_CNAME, b->ttl, host));
}

/* The service address names the question itself (Consul then uses the
 * node's address). */
static bool names_question(const struct build *b, const char *host)
{
    char q[DNS_NAME_MAX];
    size_t n = strlen(host);

    if (dns_name_text(ldns_rdf_data(b->owner), ldns_rdf_size(b->owner), q,
                      sizeof(q)) != 0 || strncasecmp(q, host, n) != 0)
        return false;
    return strcmp(q + n, ".") == 0 || (n > 0 && host[n - 1] == '.' &&
                                       q[n] == '\0');
}

static bool by_node_name(struct build *b, const json_t *e, const uint8_t *ip,
                         int len)
{
    char target[3 * DNS_NAME_MAX];

    snprintf(target, sizeof(target), "%s.node.%s.%s",
             jstr(json_object_get(e, "Node"), "Node"), b->q->dc,
             b->q->domain);
    return from_ip(b, e, ip, len, target);
}

static bool by_addr_name(struct build *b, const json_t *e, const uint8_t *ip,
                         int len)
{
    char target[3 * DNS_NAME_MAX], hex[33];

    hex_addr(ip, len, hex);
    snprintf(target, sizeof(target), "%s.addr.%s.%s", hex, b->q->dc,
             b->q->domain);
    return from_ip(b, e, ip, len, target);
}

static bool instance_records(struct build *b, const json_t *e)
{
    const json_t *node = json_object_get(e, "Node");
    unsigned acc = accept_for(b->q->qtype);
    const char *sa = svc_addr(json_object_get(e, "Service"), acc);
    const char *na = node_addr(node, acc);
    uint8_t nip[16], sip[16];
    int nlen = parse_ip(na, nip), slen = parse_ip(sa, sip);

    if (sa[0] == '\0' && na[0] == '\0')
        return true;
    if (sa[0] == '\0' && nlen > 0)
        return strcmp(jstr(node, "Address"), na) != 0
                   ? by_addr_name(b, e, nip, nlen) /* a tagged address */
                   : by_node_name(b, e, nip, nlen);
    if (sa[0] == '\0')
        return from_fqdn(b, e, na);
    if (slen > 0)
        return by_addr_name(b, e, sip, slen);
    if (nlen > 0 && names_question(b, sa))
        return by_node_name(b, e, nip, nlen);
    return from_fqdn(b, e, sa);
}

/* ---- node meta as TXT (RFC 1464) ---- */

static void rfc1464(const char *k, const char *v, char *out, size_t n)
{
    size_t o = 0, kl = strlen(k), lead = 0, trail = 0;

#define PUT(ch) do { if (o + 1 < n) out[o++] = (ch); } while (0)
    while (lead < kl && k[lead] == ' ')
        lead++;
    while (trail < kl - lead && k[kl - 1 - trail] == ' ')
        trail++;
    for (size_t i = 0; i < kl; i++) {
        if (i < lead || i >= kl - trail) {
            PUT('`');
            PUT(' ');
            continue;
        }
        if (k[i] == '`' || k[i] == '=')
            PUT('`');
        PUT(k[i]);
    }
    PUT('=');
    for (; *v != '\0'; v++) {
        if (*v == '`')
            PUT('`');
        PUT(*v);
    }
#undef PUT
    out[o] = '\0';
}

/* TXT records of node's Meta, owned by name (NULL: owner). */
static bool meta_txt(const json_t *node, const ldns_rdf *owner,
                     const char *name, uint32_t ttl, ldns_rr_list *out)
{
    const char *k;
    const json_t *v;

    json_object_foreach(json_object_get(node, "Meta"), k, v) {
        char buf[2048];

        if (!json_is_string(v))
            continue;
        if (strncasecmp(k, "rfc1035-", 8) == 0)
            snprintf(buf, sizeof(buf), "%s", json_string_value(v));
        else
            rfc1464(k, json_string_value(v), buf, sizeof(buf));
        if (!push_unique(out, txt_rr(clone_or_name(owner, name), ttl, buf)))
            return false;
    }
    return true;
}

/* ---- answers ---- */

int dns_answer_init(struct dns_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->aa = true;
    a->an = ldns_rr_list_new();
    a->ns = ldns_rr_list_new();
    a->ar = ldns_rr_list_new();
    if (a->an == NULL || a->ns == NULL || a->ar == NULL) {
        dns_answer_release(a);
        return ERR_NOMEM;
    }
    return 0;
}

void dns_answer_release(struct dns_answer *a)
{
    ldns_rr_list_deep_free(a->an);
    ldns_rr_list_deep_free(a->ns);
    ldns_rr_list_deep_free(a->ar);
    a->an = a->ns = a->ar = NULL;
}

void dns_answer_rcode(struct dns_answer *a, int rcode)
{
    a->rcode = rcode;
}

static ldns_rr *soa_rr(const struct dns_cfg *c, const char *domain)
{
    char ns[DNS_NAME_MAX + 16], mbox[DNS_NAME_MAX + 16];
    ldns_rr *rr = rr_new(dname(domain), LDNS_RR_TYPE_SOA, c->soa_minttl);
    uint32_t vals[5] = {(uint32_t)time(NULL), c->soa_refresh, c->soa_retry,
                        c->soa_expire, c->soa_minttl};

    snprintf(ns, sizeof(ns), "ns.%s", domain);
    snprintf(mbox, sizeof(mbox), "hostmaster.%s", domain);
    rr = rr_push(rr, dname(ns));
    rr = rr_push(rr, dname(mbox));
    rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, vals[0]));
    for (int i = 1; i < 5; i++)
        rr = rr_push(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD,
                                               vals[i]));
    return rr;
}

static int with_soa(const struct dns_cfg *c, const struct dns_query *q,
                    struct dns_answer *a, int rcode)
{
    a->rcode = rcode;
    return push(a->ns, soa_rr(c, q->domain)) ? 0 : ERR_NOMEM;
}

/* One instance into a: dedup as Consul does (A: by the first record;
 * SRV: by node, address and port); *cname keeps the first CNAME set,
 * used only when no address answer came. */
static bool add_instance(struct build *b, const json_t *e,
                         struct dns_answer *a, ldns_rr_list **cname,
                         int *count)
{
    size_t n;
    bool ok = true;

    if (!instance_records(b, e))
        return false;
    n = ldns_rr_list_rr_count(b->an);
    if (n == 0)
        return true;
    if (b->q->qtype == LDNS_RR_TYPE_SRV) {
        for (size_t i = 0; ok && i < n; i++)
            ok = push(a->an, ldns_rr_clone(ldns_rr_list_rr(b->an, i)));
        for (size_t i = 0; ok && i < ldns_rr_list_rr_count(b->ar); i++)
            ok = push_unique(a->ar,
                             ldns_rr_clone(ldns_rr_list_rr(b->ar, i)));
        return ok;
    }
    for (size_t i = 0; i < ldns_rr_list_rr_count(a->an); i++)
        if (ldns_rr_compare(ldns_rr_list_rr(a->an, i),
                            ldns_rr_list_rr(b->an, 0)) == 0)
            return true;
    if (ldns_rr_get_type(ldns_rr_list_rr(b->an, 0)) == LDNS_RR_TYPE_CNAME) {
        if (*cname == NULL)
            *cname = ldns_rr_list_clone(b->an);
        return *cname != NULL;
    }
    for (size_t i = 0; ok && i < n; i++)
        ok = push(a->an, ldns_rr_clone(ldns_rr_list_rr(b->an, i)));
    (*count)++;
    return ok;
}

/* "node:address:port" of an SRV instance, for Consul's dedup. */
static void srv_key(const json_t *e, char *out, size_t n)
{
    const json_t *svc = json_object_get(e, "Service");

    snprintf(out, n, "%s:%s:%lld", jstr(json_object_get(e, "Node"), "Node"),
             svc_addr(svc, ACC_ANY | ACC_DOMAIN),
             (long long)json_integer_value(json_object_get(svc, "Port")));
}

static bool seen_key(char **keys, size_t n, const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

static int service_loop(struct build *b, const json_t **v, size_t nv,
                        struct dns_answer *a, ldns_rr_list **cname)
{
    char **keys = calloc(nv + 1, sizeof(*keys));
    size_t nk = 0;
    int count = 0, rc = keys != NULL ? 0 : ERR_NOMEM;

    for (size_t i = 0; rc == 0 && i < nv; i++) {
        char key[3 * DNS_NAME_MAX];

        if (b->q->qtype == LDNS_RR_TYPE_SRV) {
            srv_key(v[i], key, sizeof(key));
            if (seen_key(keys, nk, key))
                continue;
            if ((keys[nk] = strdup(key)) == NULL) {
                rc = ERR_NOMEM;
                break;
            }
            nk++;
        }
        b->an = ldns_rr_list_new();
        b->ar = ldns_rr_list_new();
        if (b->an == NULL || b->ar == NULL || !add_instance(b, v[i], a,
                                                            cname, &count))
            rc = ERR_NOMEM;
        ldns_rr_list_deep_free(b->an);
        ldns_rr_list_deep_free(b->ar);
        if (rc == 0 && b->q->qtype == LDNS_RR_TYPE_SRV &&
            b->c->node_meta_txt) {
            const json_t *node = json_object_get(v[i], "Node");
            char name[3 * DNS_NAME_MAX];

            snprintf(name, sizeof(name), "%s.node.%s.%s", jstr(node, "Node"),
                     b->q->dc, b->q->domain);
            if (!meta_txt(node, NULL, name, b->ttl, a->ar))
                rc = ERR_NOMEM;
        }
        if (b->q->qtype != LDNS_RR_TYPE_SRV && b->c->a_record_limit > 0 &&
            count >= b->c->a_record_limit)
            break;
    }
    for (size_t i = 0; i < nk; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

int dns_answer_service(const struct dns_cfg *c, const struct dns_query *q,
                       const ldns_rdf *owner, const json_t *entries,
                       uint64_t *rng, struct dns_answer *a)
{
    struct build b = {c, q, owner, dns_service_ttl(c, q->name), NULL, NULL};
    ldns_rr_list *cname = NULL;
    size_t nv;
    const json_t **v = usable(entries, q->tag, c->only_passing, rng, &nv);
    int rc;

    if (v == NULL)
        return ERR_NOMEM;
    if (nv == 0) {
        free(v);
        return with_soa(c, q, a, LDNS_RCODE_NXDOMAIN);
    }
    rc = service_loop(&b, v, nv, a, &cname);
    free(v);
    if (rc == 0 && ldns_rr_list_rr_count(a->an) == 0 && cname != NULL) {
        ldns_rr_list_deep_free(a->an);
        a->an = cname;
        cname = NULL;
    }
    ldns_rr_list_deep_free(cname);
    if (rc == 0 && ldns_rr_list_rr_count(a->an) == 0)
        rc = with_soa(c, q, a, LDNS_RCODE_NOERROR); /* no data */
    return rc;
}

/* Consul's makeRecordFromNode: A/AAAA of the node's address, or a CNAME
 * to it when it is a host name. name NULL: owner. */
static bool node_record(const json_t *node, uint16_t qtype,
                        const ldns_rdf *owner, const char *name,
                        uint32_t ttl, ldns_rr_list *out)
{
    const char *addr = node_addr(node, accept_for(qtype));
    uint8_t ip[16];
    int len = parse_ip(addr, ip);

    if (len == 0)
        return addr[0] == '\0' ||
               push(out, name_rr(clone_or_name(owner, name),
                                 LDNS_RR_TYPE_CNAME, ttl, addr));
    if (!ip_fits(qtype, len))
        return true;
    return push(out, ip_rr(clone_or_name(owner, name), ip, len, ttl));
}

int dns_answer_node(const struct dns_cfg *c, const struct dns_query *q,
                    const ldns_rdf *owner, const json_t *node,
                    struct dns_answer *a)
{
    uint16_t t = q->qtype;
    const json_t *n = json_object_get(node, "Node");
    bool txt = t == LDNS_RR_TYPE_TXT || t == LDNS_RR_TYPE_ANY;

    if (t != LDNS_RR_TYPE_ANY && t != LDNS_RR_TYPE_A &&
        t != LDNS_RR_TYPE_AAAA && t != LDNS_RR_TYPE_TXT)
        return 0; /* NOERROR, nothing: as Consul */
    if (!json_is_object(n))
        return with_soa(c, q, a, LDNS_RCODE_NXDOMAIN);
    if (t != LDNS_RR_TYPE_TXT &&
        !node_record(n, t, owner, NULL, c->node_ttl, a->an))
        return ERR_NOMEM;
    if ((c->node_meta_txt || txt) &&
        !meta_txt(n, owner, NULL, c->node_ttl, txt ? a->an : a->ar))
        return ERR_NOMEM;
    return 0;
}

static bool valid_ns_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '-')
            return false;
    return true;
}

int dns_answer_soa_ns(const struct dns_cfg *c, const struct dns_query *q,
                      const ldns_rdf *owner, const json_t *entries,
                      uint64_t *rng, struct dns_answer *a)
{
    size_t nv, added = 0;
    const json_t **v = usable(entries, "", c->only_passing, rng, &nv);
    ldns_rr_list *ns = q->kind == DNS_K_SOA ? a->ns : a->an;
    bool ok = v != NULL;

    (void)owner;
    if (ok && q->kind == DNS_K_SOA)
        ok = push(a->an, soa_rr(c, q->domain));
    for (size_t i = 0; ok && i < nv && added < 3; i++) {
        const json_t *node = json_object_get(v[i], "Node");
        char fqdn[3 * DNS_NAME_MAX];
        const char *dc = jstr(node, "Datacenter");

        if (!valid_ns_name(jstr(node, "Node")))
            continue;
        snprintf(fqdn, sizeof(fqdn), "%s.node.%s.%s", jstr(node, "Node"),
                 dc[0] != '\0' ? dc : c->dc, q->domain);
        for (char *p = fqdn; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        ok = push(ns, name_rr(dname(q->domain), LDNS_RR_TYPE_NS,
                              c->node_ttl, fqdn)) &&
             node_record(node, LDNS_RR_TYPE_ANY, NULL, fqdn, c->node_ttl,
                         a->ar);
        added++;
    }
    free(v);
    return ok ? 0 : ERR_NOMEM;
}

int dns_answer_ptr(const struct dns_cfg *c, const struct dns_query *q,
                   const ldns_rdf *owner, const json_t *nodes,
                   struct dns_answer *a)
{
    const json_t *n;
    size_t i;

    json_array_foreach(nodes, i, n) {
        uint8_t ip[16];
        char target[3 * DNS_NAME_MAX];
        const char *dc = jstr(n, "Datacenter");

        if (q->ip_len == 0 || parse_ip(jstr(n, "Address"), ip) != q->ip_len ||
            memcmp(ip, q->ip, (size_t)q->ip_len) != 0)
            continue;
        snprintf(target, sizeof(target), "%s.node.%s.%s", jstr(n, "Node"),
                 dc[0] != '\0' ? dc : c->dc, c->domain);
        return push(a->an, name_rr(ldns_rdf_clone(owner), LDNS_RR_TYPE_PTR,
                                   0, target))
                   ? 0
                   : ERR_NOMEM;
    }
    return with_soa(c, q, a, LDNS_RCODE_NXDOMAIN);
}

int dns_answer_static(const struct dns_cfg *c, const struct dns_query *q,
                      const ldns_rdf *owner, struct dns_answer *a)
{
    switch (q->kind) {
    case DNS_K_REFUSED:
        a->aa = false; /* miekg/dns's answer for an unhandled zone */
        a->rcode = LDNS_RCODE_REFUSED;
        return 0;
    case DNS_K_NOTIMP:
        a->rcode = LDNS_RCODE_NOTIMPL;
        return 0;
    case DNS_K_EMPTY:
        return 0;
    case DNS_K_ADDR:
        if (q->qtype == LDNS_RR_TYPE_ANY ||
            q->qtype == (q->ip_len == 4 ? LDNS_RR_TYPE_A
                                        : LDNS_RR_TYPE_AAAA))
            return push(a->an, ip_rr(ldns_rdf_clone(owner), q->ip, q->ip_len,
                                     c->node_ttl))
                       ? 0
                       : ERR_NOMEM;
        return push(a->ar, ip_rr(ldns_rdf_clone(owner), q->ip, q->ip_len,
                                 c->node_ttl))
                   ? 0
                   : ERR_NOMEM;
    default:
        return with_soa(c, q, a, LDNS_RCODE_NXDOMAIN);
    }
}

int dns_answer(const struct dns_cfg *c, const struct dns_query *q,
               const ldns_rdf *owner, const json_t *data, uint64_t *rng,
               struct dns_answer *a)
{
    switch (q->kind) {
    case DNS_K_SERVICE:
        return dns_answer_service(c, q, owner, data, rng, a);
    case DNS_K_NODE:
        return dns_answer_node(c, q, owner, data, a);
    case DNS_K_PTR:
        return dns_answer_ptr(c, q, owner, data, a);
    case DNS_K_SOA:
    case DNS_K_NS:
        return dns_answer_soa_ns(c, q, owner, data, rng, a);
    default:
        return dns_answer_static(c, q, owner, a);
    }
}

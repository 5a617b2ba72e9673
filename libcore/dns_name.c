/* dns_name.c - DNS settings, first look at a packet, question names.
 *
 * Layer: http (uses util, codec). Thread: any (no globals).
 * Owns: the strings of a struct dns_cfg.
 * Tests: t/unit/check_dns.c, t/t2103-dns.sh
 *
 * Name parsing follows Consul's agent/dns.go dispatch: the rightmost
 * label among service/connect/virtual/ingress/node/query/addr decides
 * the kind (for SRV a label starting with '_' implies "service"); labels
 * before it are the query, labels after it the locality ("<dc>",
 * "<dc>.dc"; peers are not supported and name nothing).
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

#define MAX_LABELS 128

/* ---- settings ---- */

static int json_dur_s(const json_t *v, const char *key, uint32_t *out,
                      char *err)
{
    int64_t ms = 0;

    if (v == NULL)
        return 0;
    if (json_is_string(v)) {
        if (opt_parse_duration(json_string_value(v), false, &ms) != 0)
            return err_set(err, ERR_INVAL, "dns_config.%s: invalid "
                           "duration", key);
    } else if (json_is_number(v)) {
        ms = (int64_t)(json_number_value(v) * 1000);
    } else {
        return err_set(err, ERR_INVAL, "dns_config.%s: invalid duration",
                       key);
    }
    if (ms < 0)
        ms = 0;
    *out = ms / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ms / 1000);
    return 0;
}

static void json_bool_at(const json_t *o, const char *key, bool *out)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_boolean(v))
        *out = json_is_true(v);
}

static void json_int_at(const json_t *o, const char *key, int *out)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *out = i > 65535 ? 65535 : i < 0 ? 0 : (int)i;
    }
}

static void json_u32_at(const json_t *o, const char *key, uint32_t *out)
{
    const json_t *v = json_object_get(o, key);

    if (json_is_integer(v) && json_integer_value(v) >= 0)
        *out = json_integer_value(v) > UINT32_MAX
                   ? UINT32_MAX
                   : (uint32_t)json_integer_value(v);
}

/* Lowercase, final dot; "" stays "" (unset). */
static int fqdn_lower(const char *s, char *out, const char *key, char *err)
{
    size_t n = strlen(s);

    while (n > 1 && s[0] == '.') {
        s++;
        n--;
    }
    if (n == 0 || (n == 1 && s[0] == '.')) {
        out[0] = '\0';
        return 0;
    }
    if (n + 2 > DNS_NAME_MAX || strstr(s, "..") != NULL)
        return err_set(err, ERR_INVAL, "invalid %s", key);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    if (out[n - 1] != '.')
        out[n++] = '.';
    out[n] = '\0';
    return 0;
}

static int load_ttls(struct dns_cfg *c, const json_t *m, char *err)
{
    const char *k;
    const json_t *v;
    size_t n = json_object_size(m);

    if (n == 0)
        return 0;
    c->svc_ttl = calloc(n, sizeof(*c->svc_ttl));
    if (c->svc_ttl == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    json_object_foreach((json_t *)m, k, v) {
        struct dns_ttl_rule *r = &c->svc_ttl[c->n_svc_ttl];
        size_t kl = strlen(k);

        if (json_dur_s(v, "service_ttl", &r->ttl, err) != 0)
            return ERR_INVAL;
        r->prefix = kl > 0 && k[kl - 1] == '*';
        r->key = strndup(k, r->prefix ? kl - 1 : kl);
        if (r->key == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        for (char *p = r->key; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        c->n_svc_ttl++;
    }
    return 0;
}

static int load_addrs(struct dns_cfg *out, const struct cfg *c, char *err)
{
    const json_t *a = json_object_get(json_object_get(c->raw, "addresses"),
                                      "dns");
    const char *s = json_string_value(a);

    if (s == NULL) {
        for (int i = 0; i < c->n_client_addr; i++)
            if ((out->addrs[out->n_addrs++] = strdup(c->client_addr[i])) ==
                NULL)
                return err_set(err, ERR_NOMEM, "out of memory");
        return 0;
    }
    for (;;) {
        const char *e;

        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            return 0;
        for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
            ;
        if (out->n_addrs == CFG_MAX_ADDRS)
            return err_set(err, ERR_INVAL, "addresses.dns: too many "
                           "addresses (at most %d)", CFG_MAX_ADDRS);
        out->addrs[out->n_addrs] = strndup(s, (size_t)(e - s));
        if (out->addrs[out->n_addrs++] == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        s = e;
    }
}

static int load_dns_config(struct dns_cfg *out, const json_t *d, char *err)
{
    const json_t *soa = json_object_get(d, "soa");

    if (json_dur_s(json_object_get(d, "node_ttl"), "node_ttl",
                   &out->node_ttl, err) != 0)
        return ERR_INVAL;
    json_bool_at(d, "only_passing", &out->only_passing);
    json_bool_at(d, "enable_truncate", &out->enable_truncate);
    json_bool_at(d, "enable_additional_node_meta_txt", &out->node_meta_txt);
    json_int_at(d, "udp_answer_limit", &out->udp_answer_limit);
    json_int_at(d, "a_record_limit", &out->a_record_limit);
    json_u32_at(soa, "refresh", &out->soa_refresh);
    json_u32_at(soa, "retry", &out->soa_retry);
    json_u32_at(soa, "expire", &out->soa_expire);
    json_u32_at(soa, "min_ttl", &out->soa_minttl);
    return load_ttls(out, json_object_get(d, "service_ttl"), err);
}

int dns_cfg_load(struct dns_cfg *out, const struct cfg *c, char *err)
{
    const json_t *alt = json_object_get(c->raw, "alt_domain");
    const json_t *rec = json_object_get(c->raw, "recursors");
    int rc;

    memset(out, 0, sizeof(*out));
    out->node_meta_txt = true;
    out->udp_answer_limit = 3;
    out->soa_refresh = 3600;
    out->soa_retry = 600;
    out->soa_expire = 86400;
    out->port = c->ports.dns;
    out->n_recursors = json_is_array(rec) ? (int)json_array_size(rec)
                                          : json_is_string(rec) ? 1 : 0;
    if ((rc = fqdn_lower(c->domain != NULL ? c->domain : "consul.",
                         out->domain, "domain", err)) != 0 ||
        (rc = fqdn_lower(json_is_string(alt) ? json_string_value(alt) : "",
                         out->alt_domain, "alt_domain", err)) != 0 ||
        (rc = fqdn_lower(c->datacenter != NULL ? c->datacenter : "dc1",
                         out->dc, "datacenter", err)) != 0 ||
        (rc = load_dns_config(out, json_object_get(c->raw, "dns_config"),
                              err)) != 0 ||
        (rc = load_addrs(out, c, err)) != 0) {
        dns_cfg_release(out);
        return rc;
    }
    if (out->domain[0] == '\0')
        snprintf(out->domain, sizeof(out->domain), "consul.");
    out->dc[strlen(out->dc) - 1] = '\0'; /* no final dot in a dc */
    if (strcmp(out->alt_domain, out->domain) == 0)
        out->alt_domain[0] = '\0';
    return 0;
}

void dns_cfg_release(struct dns_cfg *c)
{
    for (size_t i = 0; i < c->n_svc_ttl; i++)
        free(c->svc_ttl[i].key);
    free(c->svc_ttl);
    c->svc_ttl = NULL;
    c->n_svc_ttl = 0;
    for (int i = 0; i < c->n_addrs; i++)
        free(c->addrs[i]);
    c->n_addrs = 0;
}

uint32_t dns_service_ttl(const struct dns_cfg *c, const char *name)
{
    const struct dns_ttl_rule *best = NULL;

    for (size_t i = 0; i < c->n_svc_ttl; i++)
        if (!c->svc_ttl[i].prefix && strcmp(c->svc_ttl[i].key, name) == 0)
            return c->svc_ttl[i].ttl;
    for (size_t i = 0; i < c->n_svc_ttl; i++) {
        const struct dns_ttl_rule *r = &c->svc_ttl[i];

        if (r->prefix && strncmp(r->key, name, strlen(r->key)) == 0 &&
            (best == NULL || strlen(r->key) > strlen(best->key)))
            best = r;
    }
    return best != NULL ? best->ttl : 0;
}

/* ---- packets ---- */

enum dns_verdict dns_check(const uint8_t *p, size_t len)
{
    unsigned opcode;

    if (len < 12 || (p[2] & 0x80) != 0)
        return DNS_V_DROP; /* no header, or a response: never answer */
    opcode = (p[2] >> 3) & 0xf;
    if (opcode != LDNS_PACKET_QUERY)
        return DNS_V_NOTIMP;
    if ((p[3] & 0x40) != 0)
        return DNS_V_FORMERR; /* Z bit */
    if (p[4] != 0 || p[5] != 1 || p[6] != 0 || p[7] != 0 || p[8] != 0 ||
        p[9] != 0 || p[10] != 0 || p[11] > 2)
        return DNS_V_FORMERR; /* one question, no answers, <= 2 extra */
    return DNS_V_OK;
}

size_t dns_reject(const uint8_t *p, int rcode, uint8_t out[12])
{
    memset(out, 0, 12);
    out[0] = p[0];
    out[1] = p[1];
    out[2] = 0x80; /* QR */
    if (rcode == LDNS_RCODE_NOTIMPL)
        out[2] |= p[2] & 0x78; /* keep the opcode */
    out[3] = (uint8_t)(rcode & 0xf);
    return 12;
}

/* ---- names ---- */

int dns_name_text(const uint8_t *wire, size_t len, char *out, size_t n)
{
    size_t i = 0, o = 0;

    if (n < DNS_NAME_MAX)
        return ERR_INVAL;
    while (i < len) {
        size_t l = wire[i++];

        if (l == 0) {
            if (o == 0)
                out[o++] = '.';
            out[o] = '\0';
            return i == len ? 0 : ERR_PARSE;
        }
        if (l > 63 || i + l > len || o + l + 2 > DNS_NAME_MAX)
            return ERR_PARSE;
        for (size_t k = 0; k < l; k++) {
            unsigned char ch = wire[i + k];

            out[o++] = ch <= ' ' || ch > '~' || ch == '.'
                           ? '?'
                           : (char)tolower(ch);
        }
        out[o++] = '.';
        i += l;
    }
    return ERR_PARSE;
}

static bool ends_with_domain(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);

    if (d == 0 || n < d)
        return false;
    if (n == d)
        return strcmp(name, domain) == 0;
    return name[n - d - 1] == '.' && strcmp(name + n - d, domain) == 0;
}

/* The reverse name of an address: a.b.c.d.in-addr.arpa. or 32 nibbles
 * then ip6.arpa. */
static int parse_arpa(const char *name, uint8_t ip[16])
{
    const char *v4 = ".in-addr.arpa.", *v6 = ".ip6.arpa.";
    size_t n = strlen(name);
    unsigned a[4];
    char tail[16];

    if (n > strlen(v4) && strcmp(name + n - strlen(v4), v4) == 0) {
        if (sscanf(name, "%3u.%3u.%3u.%3u%15s", &a[3], &a[2], &a[1], &a[0],
                   tail) != 5 || strcmp(tail, v4) != 0 || a[0] > 255 ||
            a[1] > 255 || a[2] > 255 || a[3] > 255)
            return 0;
        for (int i = 0; i < 4; i++)
            ip[i] = (uint8_t)a[i];
        return 4;
    }
    if (n != 64 + strlen(v6) || strcmp(name + 64, v6) != 0)
        return 0;
    memset(ip, 0, 16);
    for (int i = 0; i < 32; i++) {
        char ch = name[2 * i];
        int v = isdigit((unsigned char)ch) ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;

        if (v < 0 || name[2 * i + 1] != '.')
            return 0;
        ip[15 - i / 2] |= (uint8_t)(i % 2 == 0 ? v : v << 4);
    }
    return 16;
}

/* Consul's parseLocality: "", "<dc>", "<dc>.dc", "<peer>.peer"; the
 * lookup's datacenter goes to q->dc. False when it names nothing here
 * (a peer, or a malformed locality). */
static bool locality(const struct dns_cfg *c, char **l, int n,
                     struct dns_query *q)
{
    const char *dc = c->dc;
    bool peer = false;

    if (n == 1) {
        dc = l[0];
    } else if (n == 2 || n == 4) {
        for (int i = 0; i < n; i += 2) {
            if (strcmp(l[i + 1], "dc") == 0)
                dc = l[i];
            else if (strcmp(l[i + 1], "peer") == 0)
                peer = true;
            else
                return false;
        }
    } else if (n != 0) {
        return false;
    }
    if (peer)
        return false; /* cluster peering is not supported */
    snprintf(q->dc, sizeof(q->dc), "%s", dc);
    /* Another datacenter is looked up there (dns.c: through a server,
     * with ?dc=); one without a path answers NXDOMAIN, as Consul's
     * ErrNoDCPath does. */
    return true;
}

static void join(char **l, int n, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, o < size ? size - o : 0, "%s%s",
                              i > 0 ? "." : "", l[i]);
}

static void parse_service(char **parts, int n, struct dns_query *q)
{
    if (n == 2 && parts[0][0] == '_' && parts[1][0] == '_') {
        snprintf(q->name, sizeof(q->name), "%s", parts[0] + 1);
        snprintf(q->tag, sizeof(q->tag), "%s",
                 strcmp(parts[1] + 1, "tcp") == 0 ? "" : parts[1] + 1);
        return;
    }
    snprintf(q->name, sizeof(q->name), "%s", parts[n - 1]);
    join(parts, n - 1, q->tag, sizeof(q->tag));
}

static void parse_addr(char **parts, int n, struct dns_query *q)
{
    size_t len = n == 1 ? strlen(parts[0]) : 0;

    q->kind = DNS_K_NXDOMAIN;
    if (len != 8 && len != 32)
        return;
    for (size_t i = 0; i < len; i += 2) {
        unsigned v;

        if (!isxdigit((unsigned char)parts[0][i]) ||
            !isxdigit((unsigned char)parts[0][i + 1]) ||
            sscanf(parts[0] + i, "%2x", &v) != 1)
            return;
        q->ip[i / 2] = (uint8_t)v;
    }
    q->ip_len = (int)len / 2;
    q->kind = DNS_K_ADDR;
}

static void dispatch(const struct dns_cfg *c, char **l, int n,
                     struct dns_query *q)
{
    static const char *kinds[] = {"service", "connect", "virtual", "ingress",
                                  "node", "query", "addr"};
    const char *kind = NULL;
    int np = 0, sfx = 0; /* parts l[0..np), locality l[sfx..n) */

    q->kind = DNS_K_NXDOMAIN;
    for (int i = n - 1; i >= 0 && kind == NULL; i--) {
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            if (strcmp(l[i], kinds[k]) == 0) {
                kind = kinds[k];
                np = i;
                sfx = i + 1;
            }
        }
        if (kind == NULL && q->qtype == LDNS_RR_TYPE_SRV && l[i][0] == '_') {
            kind = "service"; /* the "service" label is optional for SRV */
            np = i + 1;
            sfx = i + 1;
        }
    }
    if (kind == NULL || np < 1)
        return;
    if (strcmp(kind, "addr") == 0) {
        parse_addr(l, np, q); /* the locality is ignored, as in Consul */
        return;
    }
    if (!locality(c, l + sfx, n - sfx, q))
        return;
    if (strcmp(kind, "service") == 0) {
        parse_service(l, np, q);
        q->kind = DNS_K_SERVICE;
    } else if (strcmp(kind, "node") == 0) {
        join(l, np, q->name, sizeof(q->name));
        q->kind = DNS_K_NODE;
    } else if (strcmp(kind, "virtual") == 0) {
        q->kind = DNS_K_EMPTY; /* no virtual IPs without Connect */
    } /* connect, ingress: no such instances; query: no prepared queries */
}

void dns_parse(const struct dns_cfg *c, const char *qname, uint16_t qtype,
               struct dns_query *q)
{
    char buf[DNS_NAME_MAX], *l[MAX_LABELS + 1];
    const char *dom = NULL;
    size_t n = strlen(qname), rest;
    int nl = 0;

    memset(q, 0, sizeof(*q));
    q->qtype = qtype;
    q->kind = DNS_K_REFUSED;
    if (ends_with_domain(qname, c->domain))
        dom = c->domain;
    if (c->alt_domain[0] != '\0' && ends_with_domain(qname, c->alt_domain) &&
        (dom == NULL || strlen(c->alt_domain) > strlen(dom)))
        dom = c->alt_domain;
    if (dom == NULL) {
        if (ends_with_domain(qname, "arpa.")) {
            q->kind = DNS_K_PTR;
            q->ip_len = parse_arpa(qname, q->ip);
            snprintf(q->domain, sizeof(q->domain), "%s", c->domain);
        }
        return;
    }
    snprintf(q->domain, sizeof(q->domain), "%s", dom);
    if (qtype == LDNS_RR_TYPE_SOA || qtype == LDNS_RR_TYPE_NS ||
        qtype == LDNS_RR_TYPE_AXFR) {
        q->kind = qtype == LDNS_RR_TYPE_SOA  ? DNS_K_SOA
                  : qtype == LDNS_RR_TYPE_NS ? DNS_K_NS
                                             : DNS_K_NOTIMP;
        return;
    }
    q->kind = DNS_K_NXDOMAIN;
    rest = n - strlen(dom);
    if (rest == 0 || n >= sizeof(buf))
        return;
    memcpy(buf, qname, rest - 1); /* without the dot before the domain */
    buf[rest - 1] = '\0';
    for (char *s = buf, *e; nl < MAX_LABELS; s = e + 1) {
        l[nl++] = s;
        if ((e = strchr(s, '.')) == NULL)
            break;
        *e = '\0';
    }
    l[nl] = NULL;
    dispatch(c, l, nl, q);
}

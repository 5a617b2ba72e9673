/* dns_int.h - pieces shared by dns.c, dns_name.c, dns_msg.c and the unit
 * test: the DNS settings, question-name parsing and answer building.
 *
 * Layer: http (uses util, codec; ldns for the wire format). Thread: any
 * (no globals; pure functions of their arguments, except the SOA serial
 * which is the current time).
 * Internal to dns*.c; not part of the libcore API.
 * Tests: t/unit/check_dns.c
 *
 * Names are handled as lowercase presentation text with the final dot
 * ("web.service.consul."). A label byte that is not printable ASCII, or
 * is a '.', becomes '?', so such a name can only ever be "not found".
 * Lookup results come in Consul's HTTP JSON shapes, whether read from the
 * local catalog (servers) or fetched from a server (client agents):
 * /v1/health/service/<name> entries, /v1/catalog/node/<node> and
 * /v1/catalog/nodes.
 */
#ifndef PROCONSUL_DNS_INT_H
#define PROCONSUL_DNS_INT_H

#include <jansson.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "err.h"

#define DNS_NAME_MAX 256 /* presentation text of a name, final dot, NUL */
#define DNS_UDP_MIN 512
/* Consul's maxUDPDatagramSize: 65535 - 68 */
#define DNS_UDP_MAX 65467
#define DNS_TCP_MAX 65523
/* Consul's maxUDPAnswerLimit: a hard cap on udp_answer_limit */
#define DNS_UDP_ANSWER_CAP 8

/* dns_config.service_ttl: "name" (exact) or "prefix*" -> seconds. */
struct dns_ttl_rule {
    char *key;    /* without the '*' */
    bool prefix;
    uint32_t ttl;
};

/* What the DNS server needs from the agent config (dns_config, domain,
 * alt_domain, datacenter, addresses.dns, ports.dns). */
struct dns_cfg {
    char domain[DNS_NAME_MAX];     /* "consul.": lowercase, final dot */
    char alt_domain[DNS_NAME_MAX]; /* "" when unset */
    char dc[DNS_NAME_MAX];         /* lowercase */
    uint32_t node_ttl;             /* seconds; default 0 */
    struct dns_ttl_rule *svc_ttl;
    size_t n_svc_ttl;
    bool only_passing;             /* false: passing and warning */
    bool enable_truncate;          /* set TC when answers were cut */
    bool node_meta_txt;            /* enable_additional_node_meta_txt */
    int udp_answer_limit;          /* 3 */
    int a_record_limit;            /* 0: no limit */
    uint32_t soa_refresh, soa_retry, soa_expire, soa_minttl;
    int n_recursors;               /* configured but not supported */
    char *addrs[CFG_MAX_ADDRS];    /* addresses.dns, else client_addr */
    int n_addrs;
    int port;                      /* -1: disabled */
};

/* Read the settings from c (its raw tree for dns_config.*); defaults as
 * in Consul. ERR_INVAL for a bad duration or domain. On failure out is
 * released. */
int dns_cfg_load(struct dns_cfg *out, const struct cfg *c, char *err);
void dns_cfg_release(struct dns_cfg *c);
/* TTL of answers about service `name` (lowercase): an exact service_ttl
 * key, else the longest matching "prefix*", else 0. */
uint32_t dns_service_ttl(const struct dns_cfg *c, const char *name);

/* ---- question names ---- */

enum dns_kind {
    DNS_K_REFUSED,  /* outside our domains: recursion is not offered */
    DNS_K_NXDOMAIN, /* in our domain but names nothing we serve */
    DNS_K_EMPTY,    /* NOERROR without records (.virtual lookups) */
    DNS_K_NOTIMP,   /* AXFR */
    DNS_K_SOA,      /* qtype SOA for any name in the domain */
    DNS_K_NS,       /* qtype NS for any name in the domain */
    DNS_K_NODE,     /* <node>.node[.<dc>].<domain> */
    DNS_K_SERVICE,  /* [<tag>.]<svc>.service[.<dc>], _<svc>._<tag>... */
    DNS_K_ADDR,     /* <hex ip>.addr[.<dc>].<domain> */
    DNS_K_PTR,      /* *.in-addr.arpa., *.ip6.arpa. */
};

struct dns_query {
    enum dns_kind kind;
    uint16_t qtype;
    char name[DNS_NAME_MAX];   /* node or service name */
    char tag[DNS_NAME_MAX];    /* "" when none */
    char dc[DNS_NAME_MAX];     /* datacenter of the lookup */
    char domain[DNS_NAME_MAX]; /* the domain the question used */
    uint8_t ip[16];            /* ADDR, PTR */
    int ip_len;                /* 4, 16, or 0 (PTR: not an address) */
};

/* Text of a wire-format name (len bytes at wire), as described above,
 * into out (n >= DNS_NAME_MAX). ERR_PARSE for a malformed name. */
int dns_name_text(const uint8_t *wire, size_t len, char *out, size_t n);
/* Classify a question as Consul's DNS server does. */
void dns_parse(const struct dns_cfg *c, const char *qname, uint16_t qtype,
               struct dns_query *q);

/* ---- answers ---- */

struct dns_answer {
    int rcode;         /* LDNS_RCODE_* */
    bool aa;           /* authoritative (not on REFUSED) */
    ldns_rr_list *an, *ns, *ar;
};

int dns_answer_init(struct dns_answer *a);
void dns_answer_release(struct dns_answer *a);

/* Each fills a (initialised, empty) from a lookup result; owner is the
 * question's name as asked (records about it keep its case); rng is
 * the state of the shuffle's generator. 0 or ERR_NOMEM. */
/* entries: /v1/health/service/<q->name> (all instances, any health). */
int dns_answer_service(const struct dns_cfg *c, const struct dns_query *q,
                       const ldns_rdf *owner, const json_t *entries,
                       uint64_t *rng, struct dns_answer *a);
/* node: /v1/catalog/node/<q->name> ({"Node":..,"Services":..} or null) */
int dns_answer_node(const struct dns_cfg *c, const struct dns_query *q,
                    const ldns_rdf *owner, const json_t *node,
                    struct dns_answer *a);
/* SOA and NS: entries are the "consul" service's (the servers). */
int dns_answer_soa_ns(const struct dns_cfg *c, const struct dns_query *q,
                      const ldns_rdf *owner, const json_t *entries,
                      uint64_t *rng, struct dns_answer *a);
/* nodes: /v1/catalog/nodes. */
int dns_answer_ptr(const struct dns_cfg *c, const struct dns_query *q,
                   const ldns_rdf *owner, const json_t *nodes,
                   struct dns_answer *a);
/* Lookups that need no data: REFUSED, NXDOMAIN, EMPTY, NOTIMP, ADDR. */
int dns_answer_static(const struct dns_cfg *c, const struct dns_query *q,
                      const ldns_rdf *owner, struct dns_answer *a);
/* The one of the above that q's kind calls for (data: the lookup
 * result, ignored by dns_answer_static). */
int dns_answer(const struct dns_cfg *c, const struct dns_query *q,
               const ldns_rdf *owner, const json_t *data, uint64_t *rng,
               struct dns_answer *a);
/* rcode only (SERVFAIL when the lookup failed). */
void dns_answer_rcode(struct dns_answer *a, int rcode);

/* Build the reply to req: header, question, EDNS (when req had it), a's
 * sections trimmed as Consul does for UDP (udp_answer_limit without
 * EDNS, then 512 bytes or the EDNS size) or TCP (64 KiB); TC set when
 * answers were cut and enable_truncate is on. *wire is malloc'd. */
int dns_finish(const struct dns_cfg *c, const ldns_pkt *req,
               struct dns_answer *a, bool tcp, uint8_t **wire, size_t *len);

/* First look at a packet, before parsing it (miekg/dns's default accept
 * function, which Consul uses): */
enum dns_verdict {
    DNS_V_OK,      /* parse and answer it */
    DNS_V_DROP,    /* shorter than a header, or a response: no reply */
    DNS_V_FORMERR, /* reply with the header only (dns_reject) */
    DNS_V_NOTIMP,  /* opcode other than QUERY */
};
enum dns_verdict dns_check(const uint8_t *p, size_t len);
/* A 12-byte header-only reply to p (len >= 12) with rcode; returns 12. */
size_t dns_reject(const uint8_t *p, int rcode, uint8_t out[12]);

#endif

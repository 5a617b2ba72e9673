/* dns_wire.c - the reply on the wire: header, EDNS, truncation.
 *
 * Layer: http (uses util; ldns). Thread: any (no globals).
 * Owns: nothing past a call (the reply packet is built around shallow
 * lists that borrow the answer's records).
 * Tests: t/unit/check_dns.c, t/t2103-dns.sh
 *
 * Truncation is Consul's (trimUDPResponse / trimTCPResponse): over UDP
 * without EDNS at most min(udp_answer_limit, 8) answers, then as many as
 * fit in 512 bytes (measured uncompressed) or in the EDNS buffer size
 * (compressed; at most 65467); over TCP as many as fit in 65523 bytes
 * (at most 4096 answers, 1024 SRV). Cutting answers first drops the
 * authority section and keeps, of the additional records, only the
 * first one named after each remaining SRV target. TC is set only with
 * enable_truncate (as in Consul: a client sees a short answer otherwise).
 */
#include "dns_int.h"

#include <stdlib.h>
#include <string.h>

struct view {
    const struct dns_answer *a;
    size_t n_an;   /* answers kept */
    bool keep_ns;
    bool sync_ar;  /* additional restricted to SRV targets */
};

static size_t rr_size(const ldns_rr *rr)
{
    size_t n = ldns_rdf_size(ldns_rr_owner(rr)) + 10;

    for (size_t i = 0; i < ldns_rr_rd_count(rr); i++)
        n += ldns_rdf_size(ldns_rr_rdf(rr, i));
    return n;
}

/* Additional record r is the first one named after a kept SRV target
 * (Consul's syncExtra keeps one record per target: the address). */
static bool targeted(const struct view *v, const ldns_rr *r)
{
    const ldns_rr_list *ar = v->a->ar;

    for (size_t i = 0; i < v->n_an; i++) {
        const ldns_rr *an = ldns_rr_list_rr(v->a->an, i);

        if (ldns_rr_get_type(an) != LDNS_RR_TYPE_SRV ||
            ldns_rr_rd_count(an) != 4 ||
            ldns_dname_compare(ldns_rr_rdf(an, 3), ldns_rr_owner(r)) != 0)
            continue;
        for (size_t k = 0; k < ldns_rr_list_rr_count(ar); k++) {
            const ldns_rr *x = ldns_rr_list_rr(ar, k);

            if (ldns_dname_compare(ldns_rr_owner(x), ldns_rr_owner(r)) == 0)
                return x == r;
        }
    }
    return false;
}

/* Shallow lists for the view (they borrow the records). */
static int view_lists(const struct view *v, ldns_rr_list *l[3])
{
    const ldns_rr_list *src[3] = {v->a->an, v->a->ns, v->a->ar};

    for (int s = 0; s < 3; s++) {
        size_t n = ldns_rr_list_rr_count(src[s]);

        if ((l[s] = ldns_rr_list_new()) == NULL)
            return ERR_NOMEM;
        if (s == 0)
            n = v->n_an;
        if (s == 1 && !v->keep_ns)
            n = 0;
        for (size_t i = 0; i < n; i++) {
            ldns_rr *rr = ldns_rr_list_rr(src[s], i);

            if (s == 2 && v->sync_ar && !targeted(v, rr))
                continue;
            if (!ldns_rr_list_push_rr(l[s], rr))
                return ERR_NOMEM;
        }
    }
    return 0;
}

static void set_sections(ldns_pkt *p, ldns_rr_list *l[3])
{
    ldns_pkt_set_answer(p, l[0]);
    ldns_pkt_set_authority(p, l[1]);
    ldns_pkt_set_additional(p, l[2]);
    ldns_pkt_set_ancount(p, (uint16_t)ldns_rr_list_rr_count(l[0]));
    ldns_pkt_set_nscount(p, (uint16_t)ldns_rr_list_rr_count(l[1]));
    ldns_pkt_set_arcount(p, (uint16_t)ldns_rr_list_rr_count(l[2]));
}

static void free_lists(ldns_rr_list *l[3])
{
    for (int s = 0; s < 3; s++) {
        ldns_rr_list_free(l[s]); /* shallow: the records are borrowed */
        l[s] = NULL;
    }
}

/* Wire size of p with view v; compressed or not. 0 on failure. With
 * wire non-NULL the packet is kept there (malloc'd). */
static size_t measure(ldns_pkt *p, const struct view *v, bool compress,
                      uint8_t **wire)
{
    ldns_rr_list *l[3] = {NULL, NULL, NULL};
    size_t len = 0;

    if (view_lists(v, l) != 0) {
        free_lists(l);
        return 0;
    }
    set_sections(p, l);
    if (!compress) {
        len = 12 + (ldns_pkt_edns(p) ? 11 : 0);
        for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_question(p));
             i++)
            len += ldns_rdf_size(ldns_rr_owner(
                       ldns_rr_list_rr(ldns_pkt_question(p), i))) + 4;
        for (int s = 0; s < 3; s++)
            for (size_t i = 0; i < ldns_rr_list_rr_count(l[s]); i++)
                len += rr_size(ldns_rr_list_rr(l[s], i));
    } else {
        uint8_t *w = NULL;

        if (ldns_pkt2wire(&w, p, &len) != LDNS_STATUS_OK)
            len = 0;
        if (wire != NULL && len > 0)
            *wire = w;
        else
            free(w);
    }
    ldns_pkt_set_answer(p, NULL);
    ldns_pkt_set_authority(p, NULL);
    ldns_pkt_set_additional(p, NULL);
    free_lists(l);
    return len;
}

/* Largest count of answers (>= 1) whose reply fits in max. */
static size_t fit(ldns_pkt *p, struct view *v, bool compress, size_t max)
{
    size_t lo = 1, hi = v->n_an;

    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;

        v->n_an = mid;
        if (measure(p, v, compress, NULL) <= max)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Consul's trim: returns true when answers were cut. */
static bool trim(const struct dns_cfg *c, const ldns_pkt *req, ldns_pkt *p,
                 struct view *v, bool tcp)
{
    size_t n0 = v->n_an, max;
    bool compress = true;

    if (tcp) {
        const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(req), 0);
        size_t cap = q != NULL && ldns_rr_get_type(q) == LDNS_RR_TYPE_SRV
                         ? 1024  /* more SRV never fit in 64 KiB */
                         : 4096;

        max = DNS_TCP_MAX;
        if (v->n_an > cap) {
            v->n_an = cap;
            v->sync_ar = true;
        }
    } else {
        int lim = c->udp_answer_limit < DNS_UDP_ANSWER_CAP
                      ? c->udp_answer_limit
                      : DNS_UDP_ANSWER_CAP;

        max = DNS_UDP_MIN;
        if (ldns_pkt_edns(req) && ldns_pkt_edns_udp_size(req) > max)
            max = ldns_pkt_edns_udp_size(req);
        if (max > DNS_UDP_MAX)
            max = DNS_UDP_MAX;
        if (max == DNS_UDP_MIN) {
            compress = false; /* stay under 512 even uncompressed */
            if (lim < 1)
                lim = 1;
            if (v->n_an > (size_t)lim) {
                v->n_an = (size_t)lim;
                v->sync_ar = true;
            }
        }
        max -= 8; /* Consul's allowance for the UDP header */
    }
    if (v->n_an > 1 && measure(p, v, compress, NULL) > max) {
        v->keep_ns = false;
        v->sync_ar = true;
        v->n_an = fit(p, v, compress, max);
    }
    return v->n_an < n0;
}

static int header(ldns_pkt *p, const ldns_pkt *req, const struct dns_answer *a)
{
    ldns_rr_list *q = ldns_pkt_question(req);

    ldns_pkt_set_id(p, ldns_pkt_id(req));
    ldns_pkt_set_qr(p, true);
    ldns_pkt_set_opcode(p, ldns_pkt_get_opcode(req));
    ldns_pkt_set_aa(p, a->aa);
    ldns_pkt_set_rd(p, ldns_pkt_rd(req));
    ldns_pkt_set_cd(p, ldns_pkt_cd(req));
    ldns_pkt_set_ra(p, false); /* no recursors */
    ldns_pkt_set_rcode(p, (uint8_t)a->rcode);
    if (ldns_rr_list_rr_count(q) > 0) {
        ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(q, 0));

        if (rr == NULL ||
            !ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, rr)) {
            ldns_rr_free(rr);
            return ERR_NOMEM;
        }
    }
    if (ldns_pkt_edns(req))
        ldns_pkt_set_edns_udp_size(p, ldns_pkt_edns_udp_size(req) > 0
                                          ? ldns_pkt_edns_udp_size(req)
                                          : DNS_UDP_MIN);
    return 0;
}

int dns_finish(const struct dns_cfg *c, const ldns_pkt *req,
               struct dns_answer *a, bool tcp, uint8_t **wire, size_t *len)
{
    ldns_pkt *p = ldns_pkt_new();
    struct view v = {a, ldns_rr_list_rr_count(a->an), true, false};
    int rc = p != NULL ? header(p, req, a) : ERR_NOMEM;

    *wire = NULL;
    *len = 0;
    if (rc == 0) {
        /* ldns_pkt_new made empty lists; views replace them */
        ldns_rr_list_free(ldns_pkt_answer(p));
        ldns_rr_list_free(ldns_pkt_authority(p));
        ldns_rr_list_free(ldns_pkt_additional(p));
        ldns_pkt_set_answer(p, NULL);
        ldns_pkt_set_authority(p, NULL);
        ldns_pkt_set_additional(p, NULL);
        if (trim(c, req, p, &v, tcp) && c->enable_truncate)
            ldns_pkt_set_tc(p, true);
        *len = measure(p, &v, true, wire);
        if (*len == 0)
            rc = ERR_NOMEM;
    }
    ldns_pkt_free(p);
    return rc;
}

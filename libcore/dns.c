/* dns.c - the DNS server: UDP and TCP sockets, lookups, shutdown.
 *
 * Layer: http (uses every lower layer; ldns). Thread: loop only.
 * Owns: the listening handles, every TCP connection (its handle, idle
 * timer and buffers) until both handles closed and no lookup refers to
 * it, every lookup still waiting for a server's reply.
 * Tests: t/t2103-dns.sh
 *
 * A packet is first checked as miekg/dns does (a response or a runt is
 * dropped, anything else malformed gets a header-only FORMERR), then
 * parsed with ldns and answered from the local catalog (servers) or a
 * server's reply (client agents). TCP carries length-prefixed messages,
 * several per connection; replies may come back in any order (RFC 7766);
 * a connection idle for DNS_TCP_IDLE_MS is closed.
 */
#include "dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cat.h"
#include "dns_int.h"
#include "log.h"

#define DNS_TCP_IDLE_MS 8000    /* miekg/dns's idle timeout */
#define DNS_TCP_MAX_CONNS 512
#define DNS_TCP_MAX_PENDING 16  /* lookups in flight per connection */
#define DNS_RPC_TIMEOUT_MS 4000 /* under a resolver's usual 5 s */

struct dns_conn {
    struct dns_conn *prev, *next;
    struct dns *d;
    uv_tcp_t tcp;
    uv_timer_t idle;
    uint8_t *buf;
    size_t len, cap;
    int pending;   /* lookups that will answer on this connection */
    int open;      /* handles not closed yet */
    bool closing;
    bool paused;   /* reading stopped: too many lookups in flight */
    bool draining; /* inside conn_drain */
};

struct dns_req {
    struct dns_req *prev, *next;
    struct dns *d;
    ldns_pkt *pkt;
    struct dns_query q;
    struct dns_conn *conn;      /* TCP, else UDP: */
    uv_udp_t *udp;
    struct sockaddr_storage peer;
    struct rpc_call *call;
    char server[80];            /* the server asked last */
    int tries;
};

struct dns {
    struct agent *a;
    struct dns_cfg cfg;
    uv_udp_t udp[CFG_MAX_ADDRS];
    int n_udp;
    uv_tcp_t tcp[CFG_MAX_ADDRS];
    int n_tcp;
    struct dns_conn *conns;
    int n_conns;
    struct dns_req *reqs;       /* forwarded, waiting */
    uint64_t rng;
    bool stopped;
    uint8_t rbuf[65536];        /* UDP datagrams, one at a time */
};

struct udp_send {
    uv_udp_send_t req;
    uint8_t *wire;
};

struct tcp_write {
    uv_write_t req;
    struct dns_conn *conn;
    uint8_t *buf;
};

static void conn_close(struct dns_conn *c);
static void conn_settle(struct dns_conn *c);

/* ---- sending ---- */

static void on_udp_sent(uv_udp_send_t *req, int status)
{
    struct udp_send *s = (struct udp_send *)req;

    (void)status;
    free(s->wire);
    free(s);
}

static void send_udp(uv_udp_t *h, const struct sockaddr *peer,
                     uint8_t *wire /* takes */, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)wire, (unsigned)len);
    struct udp_send *s;

    if (uv_udp_try_send(h, &b, 1, peer) == (int)len) {
        free(wire);
        return;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        free(wire);
        return;
    }
    s->wire = wire;
    if (uv_udp_send(&s->req, h, &b, 1, peer, on_udp_sent) != 0) {
        free(wire);
        free(s);
    }
}

static void on_tcp_written(uv_write_t *req, int status)
{
    struct tcp_write *w = (struct tcp_write *)req;

    struct dns_conn *c = w->conn;

    free(w->buf);
    free(w);
    if (status != 0)
        conn_close(c);
    else if (!c->closing)
        uv_timer_again(&c->idle);
    c->pending--;
    conn_settle(c);
}

static void send_tcp(struct dns_conn *c, const uint8_t *wire, size_t len)
{
    struct tcp_write *w;
    uv_buf_t b;

    if (c->closing || len > 65535)
        return;
    w = calloc(1, sizeof(*w));
    if (w == NULL || (w->buf = malloc(len + 2)) == NULL) {
        free(w);
        return;
    }
    w->conn = c;
    w->buf[0] = (uint8_t)(len >> 8);
    w->buf[1] = (uint8_t)len;
    memcpy(w->buf + 2, wire, len);
    b = uv_buf_init((char *)w->buf, (unsigned)len + 2);
    c->pending++; /* the write holds the connection */
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1,
                 on_tcp_written) != 0) {
        c->pending--;
        free(w->buf);
        free(w);
        conn_close(c);
    }
}

/* ---- lookups ---- */

static void req_free(struct dns_req *r)
{
    struct dns_conn *c = r->conn;

    ldns_pkt_free(r->pkt);
    free(r);
    if (c != NULL) {
        c->pending--;
        conn_settle(c);
    }
}

static void req_unlink(struct dns_req *r)
{
    struct dns *d = r->d;

    if (r->prev != NULL)
        r->prev->next = r->next;
    else if (d->reqs == r)
        d->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void reply(struct dns_req *r, struct dns_answer *ans)
{
    uint8_t *wire = NULL;
    size_t len = 0;

    if (dns_finish(&r->d->cfg, r->pkt, ans, r->conn != NULL, &wire, &len) !=
        0)
        return;
    if (r->conn != NULL) {
        send_tcp(r->conn, wire, len);
        free(wire);
    } else {
        send_udp(r->udp, (const struct sockaddr *)&r->peer, wire, len);
    }
}

/* Answer r from data (a lookup result; NULL when the lookup failed),
 * then free r. */
static void req_answer(struct dns_req *r, const json_t *data)
{
    const struct dns_cfg *c = &r->d->cfg;
    const ldns_rdf *owner = ldns_rr_owner(
        ldns_rr_list_rr(ldns_pkt_question(r->pkt), 0));
    struct dns_answer ans;
    int rc;

    if (dns_answer_init(&ans) != 0) {
        req_free(r);
        return;
    }
    if (data == NULL)
        rc = (dns_answer_rcode(&ans, LDNS_RCODE_SERVFAIL), 0);
    else
        rc = dns_answer(c, &r->q, owner, data, &r->d->rng, &ans);
    if (rc != 0) {
        dns_answer_release(&ans);
        if (dns_answer_init(&ans) != 0) {
            req_free(r);
            return;
        }
        dns_answer_rcode(&ans, LDNS_RCODE_SERVFAIL);
    }
    reply(r, &ans);
    dns_answer_release(&ans);
    req_free(r);
}

static bool needs_data(const struct dns_query *q)
{
    return q->kind == DNS_K_SERVICE || q->kind == DNS_K_NODE ||
           q->kind == DNS_K_SOA || q->kind == DNS_K_NS ||
           (q->kind == DNS_K_PTR && q->ip_len > 0);
}

/* The service whose instances answer q ("consul": the servers). */
static const char *service_of(const struct dns_query *q)
{
    return q->kind == DNS_K_SERVICE ? q->name : "consul";
}

static bool may_read(const struct agent_acl_who *w, enum acl_res res,
                     const json_t *o, const char *field)
{
    const char *name = json_string_value(json_object_get(o, field));

    return acl_allowed(w->z, w->default_allow, res, name ? name : "",
                       ACL_READ);
}

/* Servers answer from their own catalog: filter it by what the DNS
 * token (else the default one, else anonymous) may read, as the server
 * a client agent asks does. Takes data. */
static json_t *acl_filter(struct dns *d, const struct dns_query *q,
                          json_t *data)
{
    struct agent_acl_who w;
    json_t *out, *e;
    bool fetch;
    size_t i;

    if (!agent_acl_enabled(d->a) || data == NULL || json_is_null(data))
        return data;
    if (agent_acl_who(d->a, agent_token(d->a, AGENT_TOKEN_DNS), &w,
                      &fetch) != 0 || fetch) {
        json_decref(data);
        return q->kind == DNS_K_NODE ? json_null() : json_array();
    }
    if (q->kind == DNS_K_NODE) {
        if (may_read(&w, ACL_RES_NODE, json_object_get(data, "Node"),
                     "Node"))
            return data;
        json_decref(data);
        return json_null();
    }
    out = json_array();
    json_array_foreach(data, i, e) {
        if (q->kind == DNS_K_PTR ? may_read(&w, ACL_RES_NODE, e, "Node")
            : may_read(&w, ACL_RES_NODE, json_object_get(e, "Node"), "Node")
              && may_read(&w, ACL_RES_SERVICE, json_object_get(e, "Service"),
                          "Service"))
            json_array_append(out, e);
    }
    json_decref(data);
    return out;
}

static void lookup_local(struct dns_req *r)
{
    struct cat_store *cat = r->d->a->fsm.cat;
    json_t *data;

    if (r->q.kind == DNS_K_NODE)
        data = cat_node(cat, r->q.name);
    else if (r->q.kind == DNS_K_PTR)
        data = cat_nodes(cat);
    else
        data = cat_service_health(cat, service_of(&r->q), NULL, false);
    if (data == NULL && r->q.kind == DNS_K_NODE)
        data = json_null();
    data = acl_filter(r->d, &r->q, data);
    req_answer(r, data);
    json_decref(data);
}

static void lookup_remote(struct dns_req *r);

/* A lookup in another datacenter (<svc>.service.<dc>.<domain>). */
static bool other_dc(const struct dns_req *r)
{
    return r->q.kind != DNS_K_PTR && r->q.dc[0] != '\0' &&
           strcmp(r->q.dc, r->d->cfg.dc) != 0;
}

/* Log why a lookup failed (it is answered SERVFAIL). */
static void lookup_failed(const struct dns_req *r, const char *why)
{
    const char *what = r->q.kind == DNS_K_NODE  ? r->q.name
                       : r->q.kind == DNS_K_PTR ? "(node list)"
                                                : service_of(&r->q);
    char q[ERR_QUOTE_MAX + 4];

    LOG_WARN("dns", "lookup of '%s' failed: %s", err_quote(q, sizeof(q), what),
             why);
}

static void on_rpc(void *ctx, int rc, const struct rpc_response *resp,
                   const char *err)
{
    struct dns_req *r = ctx;
    json_t *data = NULL;
    json_error_t jerr;

    r->call = NULL;
    req_unlink(r);
    if (rc == ERR_UNREACHABLE && r->tries < 2) {
        lookup_remote(r); /* another server, if there is one */
        return;
    }
    if (rc != 0) {
        lookup_failed(r, err);
    } else if (resp->status == 404 && r->q.kind == DNS_K_NODE) {
        data = json_null();
    } else if (resp->status == 500 &&
               strstr(resp->body, "No path to datacenter") != NULL) {
        /* An unknown datacenter, or none of its servers alive: as
         * Consul, NXDOMAIN. */
        data = r->q.kind == DNS_K_NODE ? json_null() : json_array();
    } else if (resp->status != 200) {
        snprintf(jerr.text, sizeof(jerr.text), "HTTP %d", resp->status);
        lookup_failed(r, jerr.text);
    } else if ((data = json_loadb(resp->body, resp->body_len,
                                  JSON_DECODE_ANY, &jerr)) == NULL) {
        lookup_failed(r, jerr.text);
    }
    req_answer(r, data);
    json_decref(data);
}

/* Percent-encode s (a DNS label's text) into out for a URL path. */
static void url_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0' && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
            ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static void lookup_remote(struct dns_req *r)
{
    struct dns *d = r->d;
    const char *addr = agent_pick_server(d->a, r->tries > 0 ? r->server
                                                          : NULL);
    char target[4 * DNS_NAME_MAX + 64], esc[3 * DNS_NAME_MAX + 1];
    char err[ERR_LEN];
    const char *tok = agent_token(d->a, AGENT_TOKEN_DNS);
    struct rpc_header h[1] = {{"X-Consul-Token", tok != NULL ? tok
                               : agent_token(d->a, AGENT_TOKEN_DEFAULT)}};

    size_t tl;

    if (r->q.kind == DNS_K_NODE) {
        url_escape(r->q.name, esc, sizeof(esc));
        snprintf(target, sizeof(target), "/v1/catalog/node/%s?stale", esc);
    } else if (r->q.kind == DNS_K_PTR) {
        snprintf(target, sizeof(target), "/v1/catalog/nodes?stale");
    } else {
        url_escape(service_of(&r->q), esc, sizeof(esc));
        snprintf(target, sizeof(target), "/v1/health/service/%s?stale",
                 esc);
    }
    if (other_dc(r)) { /* the server forwards it there (httpd_fwd.c) */
        url_escape(r->q.dc, esc, sizeof(esc));
        tl = strlen(target);
        if (tl + 4 + strlen(esc) < sizeof(target))
            memcpy(target + tl, "&dc=", 4), strcpy(target + tl + 4, esc);
    }
    if (addr == NULL || d->a->rpcc == NULL) {
        lookup_failed(r, "No known Consul servers");
        req_answer(r, NULL);
        return;
    }
    snprintf(r->server, sizeof(r->server), "%s", addr);
    r->tries++;
    if (rpc_http_call(d->a->rpcc, addr, "GET", target, h,
                      h[0].value != NULL ? 1 : 0, NULL, 0,
                      DNS_RPC_TIMEOUT_MS, on_rpc, r, &r->call, err) != 0) {
        lookup_failed(r, err);
        req_answer(r, NULL);
        return;
    }
    r->next = d->reqs;
    if (d->reqs != NULL)
        d->reqs->prev = r;
    d->reqs = r;
}

/* ---- packets ---- */

static void reply_raw(struct dns_conn *c, uv_udp_t *udp,
                      const struct sockaddr *peer, const uint8_t *p,
                      int rcode)
{
    uint8_t hdr[12], *w;

    dns_reject(p, rcode, hdr);
    if (c != NULL) {
        send_tcp(c, hdr, sizeof(hdr));
    } else if ((w = malloc(sizeof(hdr))) != NULL) {
        memcpy(w, hdr, sizeof(hdr));
        send_udp(udp, peer, w, sizeof(hdr));
    }
}

/* One DNS message from a client: over TCP (c) or UDP (udp, peer). */
static void handle(struct dns *d, const uint8_t *p, size_t len,
                   struct dns_conn *c, uv_udp_t *udp,
                   const struct sockaddr *peer)
{
    enum dns_verdict v = dns_check(p, len);
    char qname[DNS_NAME_MAX];
    struct dns_req *r;
    const ldns_rr *q;

    if (d->stopped || v == DNS_V_DROP)
        return;
    if (v != DNS_V_OK) {
        reply_raw(c, udp, peer, p, v == DNS_V_NOTIMP
                                          ? LDNS_RCODE_NOTIMPL
                                          : LDNS_RCODE_FORMERR);
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return;
    r->d = d;
    if (ldns_wire2pkt(&r->pkt, p, len) != LDNS_STATUS_OK ||
        (q = ldns_rr_list_rr(ldns_pkt_question(r->pkt), 0)) == NULL ||
        dns_name_text(ldns_rdf_data(ldns_rr_owner(q)),
                      ldns_rdf_size(ldns_rr_owner(q)), qname,
                      sizeof(qname)) != 0) {
        ldns_pkt_free(r->pkt);
        free(r);
        reply_raw(c, udp, peer, p, LDNS_RCODE_FORMERR);
        return;
    }
    dns_parse(&d->cfg, qname, ldns_rr_get_type(q), &r->q);
    LOG_DEBUG("dns", "request from %s: %s type %u", c != NULL ? "tcp"
              : "udp", qname, (unsigned)ldns_rr_get_type(q));
    if (c != NULL) {
        r->conn = c;
        c->pending++;
    } else {
        r->udp = udp;
        memcpy(&r->peer, peer, peer->sa_family == AF_INET6
                                   ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in));
    }
    if (!needs_data(&r->q))
        req_answer(r, json_null());
    else if (d->a->has_raft && !other_dc(r))
        lookup_local(r);
    else
        lookup_remote(r);
}

/* ---- UDP ---- */

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dns *d = h->data;

    (void)suggested;
    *buf = uv_buf_init((char *)d->rbuf, sizeof(d->rbuf));
}

static void on_udp(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                   const struct sockaddr *addr, unsigned flags)
{
    if (n <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL) != 0)
        return;
    handle(h->data, (const uint8_t *)buf->base, (size_t)n, NULL, h, addr);
}

/* ---- TCP ---- */

static void conn_unlink(struct dns_conn *c)
{
    struct dns *d = c->d;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (d->conns == c)
        d->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    d->n_conns--;
}

static void conn_maybe_free(struct dns_conn *c)
{
    if (c->open > 0 || c->pending > 0)
        return;
    free(c->buf);
    free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct dns_conn *c = h->data;

    c->open--;
    conn_maybe_free(c);
}

static void conn_close(struct dns_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    conn_unlink(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_idle(uv_timer_t *t)
{
    struct dns_conn *c = t->data;

    if (c->pending == 0)
        conn_close(c);
}

static void tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct dns_conn *c = h->data;
    size_t want = c->len + 4096;
    uint8_t *nb;

    (void)suggested;
    if (want > 65535 + 2)
        want = 65535 + 2;
    if (c->cap < want) {
        nb = realloc(c->buf, want);
        if (nb == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->buf = nb;
        c->cap = want;
    }
    *buf = uv_buf_init((char *)c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Handle every complete message in the buffer, as long as fewer than
 * DNS_TCP_MAX_PENDING lookups and writes are in flight; reading stops
 * meanwhile. */
static void conn_drain(struct dns_conn *c)
{
    size_t off = 0;

    c->draining = true;
    while (!c->closing && c->len - off >= 2 &&
           c->pending < DNS_TCP_MAX_PENDING) {
        size_t m = ((size_t)c->buf[off] << 8) | c->buf[off + 1];

        if (m == 0) {
            conn_close(c);
            break;
        }
        if (c->len - off < m + 2)
            break;
        handle(c->d, c->buf + off + 2, m, c, NULL, NULL);
        off += m + 2;
    }
    c->draining = false;
    if (c->closing)
        return;
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    if (c->pending >= DNS_TCP_MAX_PENDING && !c->paused) {
        c->paused = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    } else if (c->pending < DNS_TCP_MAX_PENDING && c->paused) {
        c->paused = false;
        if (uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc,
                          on_tcp_read) != 0)
            conn_close(c);
    }
}

/* A lookup or write of c finished. */
static void conn_settle(struct dns_conn *c)
{
    if (c->closing)
        conn_maybe_free(c);
    else if (c->paused && !c->draining && c->pending < DNS_TCP_MAX_PENDING)
        conn_drain(c);
}

static void on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct dns_conn *c = s->data;

    (void)buf;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    c->len += (size_t)n;
    uv_timer_again(&c->idle);
    conn_drain(c);
}

static void on_accept(uv_stream_t *l, int status)
{
    struct dns *d = l->data;
    struct dns_conn *c;

    if (status != 0 || d->stopped)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->d = d;
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->open = 2;
    c->next = d->conns;
    if (d->conns != NULL)
        d->conns->prev = c;
    d->conns = c;
    d->n_conns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 ||
        d->n_conns > DNS_TCP_MAX_CONNS ||
        uv_read_start((uv_stream_t *)&c->tcp, tcp_alloc, on_tcp_read) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->idle, on_idle, DNS_TCP_IDLE_MS, DNS_TCP_IDLE_MS);
}

/* ---- lifecycle ---- */

struct dns *dns_new(struct agent *a, char *err)
{
    struct dns *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->a = a;
    d->rng = uv_hrtime() | 1;
    if (dns_cfg_load(&d->cfg, &a->cfg, err) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

static void on_agent_stop(void *ctx)
{
    struct dns *d = ctx;

    if (d->stopped)
        return;
    d->stopped = true;
    while (d->reqs != NULL) {
        struct dns_req *r = d->reqs;

        req_unlink(r);
        rpc_call_cancel(r->call);
        req_free(r);
    }
    for (int i = 0; i < d->n_udp; i++)
        uv_close((uv_handle_t *)&d->udp[i], NULL);
    for (int i = 0; i < d->n_tcp; i++)
        uv_close((uv_handle_t *)&d->tcp[i], NULL);
    while (d->conns != NULL)
        conn_close(d->conns);
}

static int listen_one(struct dns *d, const char *ip, int port, char *err)
{
    struct sockaddr_storage ss;
    uv_udp_t *u = &d->udp[d->n_udp];
    uv_tcp_t *t = &d->tcp[d->n_tcp];
    int rv;

    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&ss) != 0)
        return err_set(err, ERR_INVAL, "invalid DNS address '%s'", ip);
    uv_udp_init(d->a->loop, u);
    u->data = d;
    d->n_udp++;
    rv = uv_udp_bind(u, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_udp_recv_start(u, udp_alloc, on_udp);
    if (rv != 0)
        return err_set(err, ERR_IO, "listening on %s:%d (udp): %s", ip,
                       port, uv_strerror(rv));
    LOG_INFO("agent", "Started DNS server on %s:%d (udp)", ip, port);
    uv_tcp_init(d->a->loop, t);
    t->data = d;
    d->n_tcp++;
    rv = uv_tcp_bind(t, (struct sockaddr *)&ss, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)t, 128, on_accept);
    if (rv != 0)
        return err_set(err, ERR_IO, "listening on %s:%d (tcp): %s", ip,
                       port, uv_strerror(rv));
    LOG_INFO("agent", "Started DNS server on %s:%d (tcp)", ip, port);
    return 0;
}

int dns_start(struct dns *d, char *err)
{
    if (d->cfg.port < 0)
        return 0;
    if (d->cfg.n_recursors > 0)
        LOG_WARN("dns", "recursors are not supported: names outside "
                 "'%s' are refused", d->cfg.domain);
    for (int i = 0; i < d->cfg.n_addrs; i++) {
        if (listen_one(d, d->cfg.addrs[i], d->cfg.port, err) != 0) {
            on_agent_stop(d);
            return ERR_IO;
        }
    }
    if (agent_add_shutdown_hook(d->a, on_agent_stop, d) != 0) {
        on_agent_stop(d);
        return err_set(err, ERR_TOOBIG, "dns: no room for a shutdown hook");
    }
    return 0;
}

void dns_free(struct dns *d)
{
    if (d == NULL)
        return;
    dns_cfg_release(&d->cfg);
    free(d);
}

/* httpd_monitor.c - GET /v1/agent/monitor: stream the agent's log.
 *
 * Layer: http. Thread: loop only.
 * ?loglevel=<trace|debug|info|warn|error> (default info; anything else
 * is 400 "Unknown log level: x"), ?logjson for hclog's JSON lines (made
 * by log_, as with -log-json). The response is 200 with the headers
 * sent at once, then one log line per line, chunked, until the client
 * goes away or the agent stops. The
 * chunks are framed here: h2o's chunked filter turns an empty send into
 * a deferred proceed, which would hold the headers back until the first
 * line; without the filter an empty send writes them.
 * Lines arrive through a log_ subscription and are only buffered there;
 * a zero timeout sends them from the loop, one write in flight at a
 * time. While a write is in flight new lines wait in a buffer capped at
 * MON_BUF_MAX; past it they are counted and replaced by one
 * "... N lines dropped" line, so a slow client cannot grow memory.
 * Owns: one malloc'd struct httpd_monitor per stream, freed when h2o stops the
 * generator (client gone) or after the final send (agent stopping).
 * Tests: t/t7001-ops-cli.sh, t/t3001-acl-matrix.sh
 */
#include "httpd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MON_BUF_MAX (256u * 1024)
#define MON_MARKER 64 /* room kept for the drop marker */

struct httpd_monitor {
    h2o_generator_t gen;      /* first: h2o hands it back */
    struct httpd *h;
    h2o_req_t *req;
    struct httpd_monitor *next;         /* h->monitors */
    h2o_timeout_entry_t kick; /* zero timeout: send what is pending */
    bool json, sending, closing, chunked;
    char chunk_hdr[24];       /* "<hex>\r\n" of the chunk in flight */
    unsigned long long dropped;
    char *pend, *out;         /* waiting lines; the chunk in flight */
    size_t plen, pcap, ocap;
};

static void mon_unlink(struct httpd_monitor *m)
{
    for (struct httpd_monitor **p = &m->h->monitors; *p != NULL;
         p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            break;
        }
    }
}

static void on_line(void *ctx, enum log_level lvl, const char *line);

static void mon_free(struct httpd_monitor *m)
{
    log_unsubscribe(on_line, m);
    if (h2o_timeout_is_linked(&m->kick))
        h2o_timeout_unlink(&m->kick);
    mon_unlink(m);
    free(m->pend);
    free(m->out);
    free(m);
}

/* Append n bytes to the pending buffer; false past limit (or with no
 * memory), when the caller counts the line as dropped. */
static bool pend_add(struct httpd_monitor *m, const char *s, size_t n,
                     size_t limit)
{
    if (m->plen + n > limit)
        return false;
    if (m->plen + n > m->pcap) {
        size_t cap = m->pcap ? m->pcap : 4096;
        char *p;

        while (cap < m->plen + n)
            cap *= 2;
        if (cap > MON_BUF_MAX)
            cap = MON_BUF_MAX;
        if ((p = realloc(m->pend, cap)) == NULL)
            return false;
        m->pend = p;
        m->pcap = cap;
    }
    memcpy(m->pend + m->plen, s, n);
    m->plen += n;
    return true;
}

/* Send the pending lines (and the drop marker) as one chunk. May free m
 * when h2o stops the request from inside h2o_send: nothing touches m
 * after it. */
static void flush(struct httpd_monitor *m)
{
    char marker[MON_MARKER];
    h2o_iovec_t iov[3];
    char *t;
    size_t tc;

    if (m->req == NULL || m->sending)
        return;
    if (m->dropped > 0) {
        int k = snprintf(marker, sizeof(marker), "... %llu lines dropped\n",
                         m->dropped);

        if (pend_add(m, marker, (size_t)k, MON_BUF_MAX))
            m->dropped = 0;
    }
    if (m->plen == 0)
        return;
    t = m->out, tc = m->ocap;
    m->out = m->pend, m->ocap = m->pcap;
    iov[1] = h2o_iovec_init(m->out, m->plen);
    iov[0] = h2o_iovec_init(m->chunk_hdr, 0);
    iov[2] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    if (m->chunked)
        iov[0].len = (size_t)snprintf(m->chunk_hdr, sizeof(m->chunk_hdr),
                                      "%zx\r\n", m->plen);
    m->pend = t, m->pcap = tc, m->plen = 0;
    m->sending = true;
    if (m->chunked)
        h2o_send(m->req, iov, 3, H2O_SEND_STATE_IN_PROGRESS);
    else
        h2o_send(m->req, iov + 1, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_kick(h2o_timeout_entry_t *e)
{
    flush(H2O_STRUCT_FROM_MEMBER(struct httpd_monitor, kick, e));
}

static void on_line(void *ctx, enum log_level lvl, const char *line)
{
    struct httpd_monitor *m = ctx;
    size_t n = strlen(line);

    (void)lvl;
    if (m->req == NULL || m->closing)
        return;
    /* The line and its newline, or neither. */
    if (!pend_add(m, line, n + 1, MON_BUF_MAX - MON_MARKER))
        m->dropped++;
    else
        m->pend[m->plen - 1] = '\n';
    if (!m->sending && !h2o_timeout_is_linked(&m->kick))
        h2o_timeout_link(m->h->ctx.loop, &m->h->ctx.zero_timeout,
                         &m->kick);
}

/* The final (empty) chunk; m goes first, h2o forgets the generator. */
static void finish(struct httpd_monitor *m)
{
    h2o_iovec_t last = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
    h2o_req_t *req = m->req;
    bool chunked = m->chunked;

    mon_free(m);
    h2o_send(req, &last, chunked ? 1 : 0, H2O_SEND_STATE_FINAL);
}

static void mon_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct httpd_monitor *m = (struct httpd_monitor *)g;

    (void)req;
    m->sending = false;
    if (m->closing)
        finish(m);
    else
        flush(m);
}

static void mon_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    mon_free((struct httpd_monitor *)g);
}

void httpd_monitor_stop_all(struct httpd *h)
{
    while (h->monitors != NULL) {
        struct httpd_monitor *m = h->monitors;

        h->monitors = m->next;
        m->next = NULL;
        m->closing = true;
        log_unsubscribe(on_line, m);
        if (!m->sending)
            finish(m);
    }
}

static struct httpd_monitor *mon_new(struct httpd_ctx *c, int lvl)
{
    struct httpd_monitor *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->h = c->h;
    m->req = c->req;
    m->json = httpd_qhas(c, "logjson");
    m->kick.cb = on_kick;
    m->gen.proceed = mon_proceed;
    m->gen.stop = mon_stop;
    if (log_subscribe(on_line, m, (enum log_level)lvl,
                      m->json ? LOG_SUB_JSON : 0) != 0) {
        free(m);
        return NULL;
    }
    m->next = c->h->monitors;
    c->h->monitors = m;
    return m;
}

void httpd_agent_monitor(struct httpd_ctx *c)
{
    const char *ls = httpd_q(c, "loglevel");
    int lvl = ls == NULL || ls[0] == '\0' ? LOG_LVL_INFO
                                          : log_level_parse(ls);
    struct httpd_monitor *m;
    char msg[200];

    if (lvl < 0) {
        snprintf(msg, sizeof(msg), "Unknown log level: %.128s", ls);
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    if (c->method == HTTPD_HEAD || c->h->stopped) {
        httpd_send_body(c, c->h->stopped ? 503 : 200, "text/plain", "", 0);
        return;
    }
    if ((m = mon_new(c, lvl)) == NULL) {
        httpd_error(c, 503, "unavailable", "too many monitors");
        return;
    }
    httpd_header(c, "Content-Type", m->json ? "application/json"
                                            : "text/plain");
    if ((m->chunked = c->req->version == 0x101))
        h2o_add_header(&c->req->pool, &c->req->res.headers,
                       H2O_TOKEN_TRANSFER_ENCODING, NULL,
                       H2O_STRLIT("chunked"));
    c->req->res.status = 200;
    c->req->res.reason = "OK";
    h2o_start_response(c->req, &m->gen);
    m->sending = true; /* the headers, at once */
    h2o_send(c->req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
}

/* httpd_metrics.c - GET /v1/agent/metrics: the agent's telemetry as
 * Consul serves it, JSON (go-metrics' InmemSink summary of the last
 * finished 10 s interval) or, with ?format=prometheus or a Prometheus
 * Accept header, Prometheus text format 0.0.4 when
 * telemetry.prometheus_retention_time is positive (else 415 with
 * Consul's message). ACL: agent:read on this agent's node (route table).
 *
 * Layer: http. Thread: loop only.
 * Tests: t/t7003-metrics.sh, t/t3001-acl-matrix.sh
 */
#include "httpd_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define PROM_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* One media range of an Accept header, from s up to ',' (n bytes): its
 * type, lowercased, and its first parameter, trimmed. */
static void media_range(const char *s, size_t n, char *type, size_t tlen,
                        char *param, size_t plen)
{
    size_t i = 0, o = 0;

    while (i < n && s[i] == ' ')
        i++;
    for (; i < n && s[i] != ';' && o + 1 < tlen; i++)
        type[o++] = (char)tolower((unsigned char)s[i]);
    while (o > 0 && type[o - 1] == ' ')
        o--;
    type[o] = '\0';
    while (i < n && s[i] != ';')
        i++;
    o = 0;
    if (i < n)
        i++;
    while (i < n && s[i] == ' ')
        i++;
    for (; i < n && s[i] != ';' && o + 1 < plen; i++)
        param[o++] = s[i];
    while (o > 0 && param[o - 1] == ' ')
        o--;
    param[o] = '\0';
}

/* Consul's acceptsOpenMetricsMimeType: application/openmetrics-text, or
 * text/plain whose first parameter is version=0.4.0 (what Consul
 * compares with) or version=0.0.4 (the format's real version). */
static bool accepts_prometheus(const char *accept, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t j = i;
        char type[64], param[64];

        while (j < len && accept[j] != ',')
            j++;
        media_range(accept + i, j - i, type, sizeof(type), param,
                    sizeof(param));
        if (strcmp(type, "application/openmetrics-text") == 0)
            return true;
        if (strcmp(type, "text/plain") == 0 &&
            (strcmp(param, "version=0.4.0") == 0 ||
             strcmp(param, "version=0.0.4") == 0))
            return true;
        i = j + 1;
    }
    return false;
}

static bool wants_prometheus(struct httpd_ctx *c, int *bad)
{
    const char *f = httpd_q(c, "format");
    ssize_t h;

    *bad = 0;
    if (f != NULL && f[0] != '\0') {
        if (strcmp(f, "prometheus") == 0)
            return true;
        *bad = 1;
        return false;
    }
    h = h2o_find_header(&c->req->headers, H2O_TOKEN_ACCEPT, -1);
    return h != -1 &&
           accepts_prometheus(c->req->headers.entries[h].value.base,
                              c->req->headers.entries[h].value.len);
}

static void send_owned(struct httpd_ctx *c, const char *ctype, char *text,
                       size_t len)
{
    if (text == NULL) {
        httpd_error(c, 500, "internal", "out of memory rendering metrics");
        return;
    }
    httpd_send_body(c, 200, ctype, text, len);
    free(text);
}

void httpd_agent_metrics(struct httpd_ctx *c)
{
    struct metrics *m = c->a->metrics;
    int bad;
    bool prom = wants_prometheus(c, &bad);
    size_t len = 0;
    char *text;

    if (bad) {
        httpd_error(c, 400, "bad_request", "Invalid format: only "
                    "'prometheus' is supported (or none, for JSON)");
        return;
    }
    if (m == NULL) {
        httpd_error(c, 500, "internal", "metrics are not initialised");
        return;
    }
    if (prom) {
        if (!metrics_prometheus_enabled(m)) {
            httpd_error(c, 415, "prometheus_disabled",
                        "Prometheus is not enabled since its retention "
                        "time is not positive");
            return;
        }
        text = metrics_render_prometheus(m, &len);
        send_owned(c, PROM_CTYPE, text, len);
        return;
    }
    text = metrics_render_json(m, &len);
    if (text != NULL && c->pretty) {
        json_t *j = json_loads(text, 0, NULL);

        free(text);
        if (j != NULL) {
            httpd_send_json(c, 200, j);
            return;
        }
        text = NULL;
    }
    send_owned(c, "application/json", text, len);
}

/* checks_http.c - HTTP checks: libcurl's multi interface on the uv loop.
 *
 * Layer: agent (uses util, libuv, libcurl). Thread: loop only.
 * Owns: the curl multi handle, one uv_poll_t per socket curl watches
 * (struct sock, freed in its close callback), the curl timer, and each
 * run's easy handle (struct http_op).
 * Mirrors Consul's CheckHTTP (agent/checks/check.go) on Go's http.Client:
 * Method (default GET), Header, Body, "User-Agent: Consul Health Check",
 * Consul's Accept (plain text first) unless given, keep-alives off
 * ("Connection: close"), gzip asked for and decoded, Timeout (default
 * 10 s) over the whole exchange, redirects followed as Go does (at most
 * 10; 301/302/303 turn other methods into a body-less GET, 307/308 keep
 * method and body) unless DisableRedirects. 2xx passing, 429 warning,
 * else critical, Output "HTTP GET <url>: 200 OK Output: <last 4 KiB of
 * the body>". Transport errors are critical with Go's url.Error text
 * ("Get \"<url>\": dial tcp 127.0.0.1:1: connect: connection refused").
 * Not done: TLSServerName, the agent's own CA/cert for HTTPS checks.
 * Tests: t/unit/check_checks.c
 */
#include "checks_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

struct sock {
    struct checks *c;
    uv_poll_t poll;
    curl_socket_t fd;
};

struct http_op {
    struct checks_runner *r;
    CURL *e;
    struct curl_slist *hdrs;
    struct checks_ring body;
    char *url;         /* this request's (changes with redirects) */
    char *method;      /* this request's */
    bool with_body;
    int hops;
    uint64_t deadline; /* loop time, ms */
    char status[128];  /* Go's resp.Status of the last response */
    char *location;    /* its Location header, as sent */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- messages ---------------------------------------------------------- */

/* Go's %q, enough for URLs and header names. */
static void goq(char *out, size_t n, const char *s)
{
    size_t o = 0;

    if (n < 3)
        return;
    out[o++] = '"';
    for (; *s != '\0' && o + 6 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            o += (size_t)snprintf(out + o, n - o, "\\%c", ch);
        else if (ch == '\n')
            o += (size_t)snprintf(out + o, n - o, "\\n");
        else if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* url.Error's Op: "Get", "Post". */
static void go_op(const char *method, char *op, size_t n)
{
    size_t i;

    for (i = 0; method[i] != '\0' && i + 1 < n; i++)
        op[i] = (char)(i == 0 ? toupper((unsigned char)method[i])
                              : tolower((unsigned char)method[i]));
    op[i] = '\0';
}

static const char *status_text(long code)
{
    static const struct {
        long code;
        const char *text;
    } t[] = {
        {200, "OK"}, {201, "Created"}, {202, "Accepted"},
        {204, "No Content"}, {206, "Partial Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
        {304, "Not Modified"}, {307, "Temporary Redirect"},
        {308, "Permanent Redirect"}, {400, "Bad Request"},
        {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {408, "Request Timeout"},
        {409, "Conflict"}, {410, "Gone"}, {429, "Too Many Requests"},
        {500, "Internal Server Error"}, {501, "Not Implemented"},
        {502, "Bad Gateway"}, {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].code == code)
            return t[i].text;
    return "";
}

static void addr_str(const char *ip, long port, char *out, size_t n)
{
    if (strchr(ip, ':') != NULL)
        snprintf(out, n, "[%s]:%ld", ip, port);
    else
        snprintf(out, n, "%s:%ld", ip, port);
}

/* The URL's host (brackets stripped) and port (scheme default). */
static void url_host(const char *url, char *out, size_t n, long *port)
{
    CURLU *u = curl_url();
    char *h = NULL, *p = NULL;
    size_t l;

    snprintf(out, n, "%s", url);
    *port = 0;
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) {
        l = strlen(h);
        if (l >= 2 && h[0] == '[' && h[l - 1] == ']')
            snprintf(out, n, "%.*s", (int)(l - 2), h + 1);
        else
            snprintf(out, n, "%s", h);
        if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
            CURLUE_OK)
            *port = strtol(p, NULL, 10);
    }
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
}

static void io_err(CURL *e, const char *op, long oserr, char *buf, size_t n)
{
    char *lip = NULL, *rip = NULL, la[80], ra[80];
    long lport = 0, rport = 0;

    if (oserr == 0) {
        snprintf(buf, n, "EOF");
        return;
    }
    curl_easy_getinfo(e, CURLINFO_LOCAL_IP, &lip);
    curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &lport);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &rip);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &rport);
    addr_str(lip != NULL ? lip : "", lport, la, sizeof(la));
    addr_str(rip != NULL ? rip : "", rport, ra, sizeof(ra));
    snprintf(buf, n, "%s tcp %s->%s: %s: %s", op, la, ra, op,
             uv_strerror((int)-oserr));
}

/* The Err of Go's url.Error for a failed exchange. */
static void transport_err(struct http_op *op, CURLcode rc, char *buf,
                          size_t n)
{
    char *ip = NULL, a[300], host[256];
    long port = 0, oserr = 0;

    curl_easy_getinfo(op->e, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(op->e, CURLINFO_PRIMARY_IP, &ip);
        curl_easy_getinfo(op->e, CURLINFO_PRIMARY_PORT, &port);
        if (ip == NULL || *ip == '\0' || port == 0) {
            url_host(op->url, host, sizeof(host), &port);
            ip = host;
        }
        addr_str(ip, port, a, sizeof(a));
        snprintf(buf, n, "dial tcp %s: connect: %s", a,
                 uv_strerror(oserr != 0 ? (int)-oserr : UV_ECONNREFUSED));
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        url_host(op->url, host, sizeof(host), &port);
        snprintf(buf, n, "dial tcp: lookup %s: no such host", host);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(buf, n, "context deadline exceeded (Client.Timeout "
                         "exceeded while awaiting headers)");
        return;
    case CURLE_GOT_NOTHING:
        snprintf(buf, n, "EOF");
        return;
    case CURLE_RECV_ERROR:
        io_err(op->e, "read", oserr, buf, n);
        return;
    case CURLE_SEND_ERROR:
        io_err(op->e, "write", oserr, buf, n);
        return;
    case CURLE_SSL_CONNECT_ERROR:
        if (strstr(op->errbuf, "wrong version number") != NULL) {
            snprintf(buf, n, "http: server gave HTTP response to HTTPS "
                             "client");
            return;
        }
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        if (strstr(op->errbuf, "self-signed") != NULL ||
            strstr(op->errbuf, "self signed") != NULL ||
            strstr(op->errbuf, "local issuer") != NULL)
            snprintf(buf, n, "tls: failed to verify certificate: x509: "
                             "certificate signed by unknown authority");
        else
            snprintf(buf, n, "tls: failed to verify certificate: %s",
                     op->errbuf);
        return;
    default:
        break;
    }
    snprintf(buf, n, "%s",
             op->errbuf[0] != '\0' ? op->errbuf : curl_easy_strerror(rc));
}

/* ---- request checks Go's http.NewRequest and Transport make ---------- */

static bool token_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f && strchr("()<>@,;:\\\"/[]?={}", ch) == NULL;
}

static bool valid_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!token_char((unsigned char)*s))
            return false;
    return true;
}

static bool valid_value(const char *s)
{
    for (; *s != '\0'; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return false;
    return true;
}

/* Go's getScheme: a letter, then letters, digits, '+', '-', '.'. */
static bool scheme_char(char ch, size_t i)
{
    if (isalpha((unsigned char)ch))
        return true;
    return i > 0 && ch != '\0' &&
           (isdigit((unsigned char)ch) || strchr("+-.", ch) != NULL);
}

/* 0, or fills msg with the error Consul would report. */
static int precheck(const struct checks_def *d, char *msg, size_t n)
{
    const char *u = d->target, *p;
    char q[600], op[32], scheme[32];
    size_t i;

    go_op(d->method, op, sizeof(op));
    goq(q, sizeof(q), d->target);
    if (!valid_token(d->method)) {
        goq(q, sizeof(q), d->method);
        snprintf(msg, n, "net/http: invalid method %s", q);
        return -1;
    }
    for (i = 0; scheme_char(u[i], i); i++)
        ;
    if (u[i] == ':' && i == 0) {
        snprintf(msg, n, "parse %s: missing protocol scheme", q);
        return -1;
    }
    if (u[i] != ':') {
        p = strpbrk(u, ":/");
        if (p != NULL && *p == ':') {
            snprintf(msg, n, "parse %s: first path segment in URL cannot "
                             "contain colon", q);
            return -1;
        }
        i = 0;
    }
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(i < 31 ? i : 31), u);
    for (char *s = scheme; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        snprintf(msg, n, "%s %s: unsupported protocol scheme \"%s\"", op, q,
                 scheme);
        return -1;
    }
    if (strncmp(u + i + 1, "//", 2) != 0 ||
        strchr("/?#", u[i + 3]) != NULL) {
        snprintf(msg, n, "%s %s: http: no Host in request URL", op, q);
        return -1;
    }
    for (i = 0; i < d->n_hdrs; i++) {
        char hq[300];
        goq(hq, sizeof(hq), d->hdrs[i].name);
        if (!valid_token(d->hdrs[i].name)) {
            snprintf(msg, n, "%s %s: net/http: invalid header field name %s",
                     op, q, hq);
            return -1;
        }
        if (!valid_value(d->hdrs[i].value)) {
            snprintf(msg, n, "%s %s: net/http: invalid header field value "
                             "for %s", op, q, hq);
            return -1;
        }
    }
    return 0;
}

static bool has_hdr(const struct checks_def *d, const char *name)
{
    for (size_t i = 0; i < d->n_hdrs; i++)
        if (strcasecmp(d->hdrs[i].name, name) == 0)
            return true;
    return false;
}

/* Go's Header.Get(name) != "": the first value counts. */
static bool hdr_set(const struct checks_def *d, const char *name)
{
    for (size_t i = 0; i < d->n_hdrs; i++)
        if (strcasecmp(d->hdrs[i].name, name) == 0)
            return *d->hdrs[i].value != '\0';
    return false;
}

static int push(struct curl_slist **l, const char *s)
{
    struct curl_slist *n = curl_slist_append(*l, s);

    if (n == NULL)
        return -1;
    *l = n;
    return 0;
}

static bool secret_hdr(const char *name)
{
    return strcasecmp(name, "Authorization") == 0 ||
           strcasecmp(name, "WWW-Authenticate") == 0 ||
           strcasecmp(name, "Cookie") == 0 || strcasecmp(name, "Cookie2") == 0;
}

/* The request's header list. A redirect may drop the custom Host and, to
 * another domain, the credentials (Go's Client.do and
 * shouldCopyHeaderOnRedirect). */
static int build_headers(const struct checks_def *d, struct curl_slist **l,
                         bool with_host, bool with_secrets)
{
    bool host_done = !with_host;

    for (size_t i = 0; i < d->n_hdrs; i++) {
        const struct checks_hdr *h = &d->hdrs[i];
        char *s;
        int r;

        if (!with_secrets && secret_hdr(h->name))
            continue;
        /* Go takes the first Host value as req.Host, and replaces a
         * User-Agent or Accept whose first value is empty. */
        if (strcasecmp(h->name, "Host") == 0) {
            if (host_done)
                continue;
            host_done = true;
        }
        if ((strcasecmp(h->name, "User-Agent") == 0 ||
             strcasecmp(h->name, "Accept") == 0) &&
            !hdr_set(d, h->name))
            continue;
        s = *h->value == '\0' ? checks_fmt("%s;", h->name)
                              : checks_fmt("%s: %s", h->name, h->value);
        r = s == NULL ? -1 : push(l, s);
        free(s);
        if (r != 0)
            return -1;
    }
    if (!hdr_set(d, "User-Agent") &&
        push(l, "User-Agent: Consul Health Check") != 0)
        return -1;
    if (!hdr_set(d, "Accept") &&
        push(l, "Accept: text/plain, text/*, */*") != 0)
        return -1;
    if (!has_hdr(d, "Connection") && push(l, "Connection: close") != 0)
        return -1;
    /* No curl defaults Go would not send. */
    if (!has_hdr(d, "Content-Type") && push(l, "Content-Type:") != 0)
        return -1;
    return push(l, "Expect:");
}

/* ---- one exchange ------------------------------------------------------ */

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct http_op *op = ud;

    checks_ring_write(&op->body, p, sz * nm);
    return sz * nm;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    struct http_op *op = ud;
    size_t n = sz * nm, i;
    long code;

    if (n > 9 && strncasecmp(p, "Location:", 9) == 0) {
        for (i = 9; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
            ;
        while (n > i && (p[n - 1] == '\r' || p[n - 1] == '\n' ||
                         p[n - 1] == ' '))
            n--;
        free(op->location);
        op->location = checks_fmt("%.*s", (int)(n - i), p + i);
        return sz * nm;
    }
    if (n < 5 || strncmp(p, "HTTP/", 5) != 0)
        return n;
    free(op->location);
    op->location = NULL;
    for (i = 0; i < n && p[i] != ' '; i++)
        ;
    while (i < n && p[i] == ' ')
        i++;
    while (n > i && (p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    snprintf(op->status, sizeof(op->status), "%.*s", (int)(n - i), p + i);
    if (strncmp(p, "HTTP/1", 6) != 0) { /* h2/h3: no reason phrase */
        code = strtol(op->status, NULL, 10);
        snprintf(op->status, sizeof(op->status), "%ld %s", code,
                 status_text(code));
    }
    return sz * nm;
}

static int multi_start(struct checks *c);

static int setup(struct http_op *op)
{
    struct checks *c = op->r->c;
    const struct checks_def *d = &op->r->d;
    CURL *e = op->e;
    uint64_t now = uv_now(c->loop);
    long rem = op->deadline > now ? (long)(op->deadline - now) : 1;

    curl_easy_reset(e);
    op->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, op->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, op);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->hdrs);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rem);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    if (!has_hdr(d, "Accept-Encoding"))
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (d->skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(op->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(op->method, "GET") == 0 && !op->with_body) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, op->method);
        if (op->with_body || strcmp(op->method, "POST") == 0 ||
            strcmp(op->method, "PUT") == 0 ||
            strcmp(op->method, "PATCH") == 0) {
            const char *b = op->with_body ? d->body : "";
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, b);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(b));
        }
    }
    return curl_multi_add_handle(c->multi, e) == CURLM_OK ? 0 : -1;
}

static void op_free(struct http_op *op)
{
    struct checks *c = op->r->c;

    if (op->e != NULL) {
        curl_multi_remove_handle(c->multi, op->e);
        curl_easy_cleanup(op->e);
    }
    curl_slist_free_all(op->hdrs);
    free(op->location);
    checks_ring_release(&op->body);
    free(op->url);
    free(op->method);
    free(op);
}

static void finish(struct http_op *op, const char *status, const char *out)
{
    struct checks_runner *r = op->r;

    r->op = NULL;
    op_free(op);
    checks_result(r, status, out);
    checks_run_done(r);
}

/* Go's url.Error shows "user:***@" for "user:pass@". */
static void strip_password(const char *url, char *out, size_t n)
{
    const char *a = strstr(url, "://"), *end, *at, *colon;

    snprintf(out, n, "%s", url);
    if (a == NULL)
        return;
    a += 3;
    end = a + strcspn(a, "/?#");
    at = NULL; /* the userinfo ends at the authority's last '@' */
    for (const char *x = a; x < end; x++)
        if (*x == '@')
            at = x;
    if (at == NULL)
        return;
    colon = memchr(a, ':', (size_t)(at - a));
    if (colon == NULL)
        return;
    snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

/* A transport error: Go's url.Error, Op from the first request. */
static void fail(struct http_op *op, const char *url, const char *why)
{
    char q[600], o[32], u[512], *msg;

    go_op(op->r->d.method, o, sizeof(o));
    strip_password(url, u, sizeof(u));
    goq(q, sizeof(q), u);
    msg = checks_fmt("%s %s: %s", o, q, why);
    finish(op, "critical", msg != NULL ? msg : why);
    free(msg);
}

static bool is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 ||
           code == 308;
}

/* host is host or a subdomain of it (Go's isDomainOrSubdomain). */
static bool same_domain(const char *sub, const char *host)
{
    size_t ls = strlen(sub), lh = strlen(host);

    if (strcasecmp(sub, host) == 0)
        return true;
    return ls > lh && sub[ls - lh - 1] == '.' &&
           strcasecmp(sub + ls - lh, host) == 0;
}

/* Headers for the request to url, redirected from op's last one. */
static int redo_headers(struct http_op *op, const char *url)
{
    const struct checks_def *d = &op->r->d;
    struct curl_slist *l = NULL;
    char h0[256], h1[256];
    long p0, p1;
    size_t i = 0;
    bool relative;

    url_host(d->target, h0, sizeof(h0), &p0);
    url_host(url, h1, sizeof(h1), &p1);
    /* url.IsAbs(): the Location had a scheme. */
    relative = true;
    if (op->location != NULL) {
        while (scheme_char(op->location[i], i))
            i++;
        relative = !(i > 0 && op->location[i] == ':');
    }
    if (build_headers(d, &l, relative, same_domain(h1, h0)) != 0) {
        curl_slist_free_all(l);
        return -1;
    }
    curl_slist_free_all(op->hdrs);
    op->hdrs = l;
    return 0;
}

/* Go's Client.do: 0 when the next request is under way. */
static int follow(struct http_op *op, long code, const char *loc)
{
    char *url = strdup(loc), *m;

    if (url == NULL)
        return -1;
    if (op->hops >= CHECKS_MAX_REDIRECTS) {
        fail(op, url, "stopped after 10 redirects");
        free(url);
        return 0;
    }
    m = op->method;
    if (code <= 303) {
        op->with_body = false;
        if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
            m = "GET";
    }
    if ((m = strdup(m)) == NULL) {
        free(url);
        return -1;
    }
    if (redo_headers(op, url) != 0) {
        free(url);
        free(m);
        return -1;
    }
    curl_multi_remove_handle(op->r->c->multi, op->e);
    free(op->url);
    free(op->method);
    op->url = url;
    op->method = m;
    op->hops++;
    op->status[0] = '\0';
    op->body.len = op->body.head = 0;
    op->body.total = 0;
    if (setup(op) != 0)
        fail(op, url, "cannot start the request");
    return 0;
}

static void http_done(struct http_op *op, CURLcode rc)
{
    const struct checks_def *d = &op->r->d;
    char why[512], *body, *out;
    const char *st;
    long code = 0;

    curl_easy_getinfo(op->e, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && is_redirect(code) && !d->no_redirects) {
        char *loc = NULL;
        curl_easy_getinfo(op->e, CURLINFO_REDIRECT_URL, &loc);
        if (loc != NULL && follow(op, code, loc) == 0)
            return;
    }
    if (code < 200 || (rc != CURLE_OK && op->status[0] == '\0')) {
        transport_err(op, rc, why, sizeof(why));
        fail(op, op->url, why);
        return;
    }
    if (rc != CURLE_OK)
        LOG_WARN("agent", "Check error while reading body: check=%s "
                          "error=\"%s\"",
                 op->r->id, curl_easy_strerror(rc));
    body = checks_ring_str(&op->body);
    out = checks_fmt("HTTP %s %s: %s Output: %s", d->method, d->target,
                     op->status, body != NULL ? body : "");
    st = code <= 299 ? "passing" : code == 429 ? "warning" : "critical";
    finish(op, st, out != NULL ? out : "out of memory");
    free(body);
    free(out);
}

void checks_http_start(struct checks_runner *r)
{
    struct http_op *op;
    char msg[1024];

    if (precheck(&r->d, msg, sizeof(msg)) != 0) {
        checks_result(r, "critical", msg);
        checks_run_done(r);
        return;
    }
    if (multi_start(r->c) != 0) {
        checks_result(r, "critical", "cannot initialise libcurl");
        checks_run_done(r);
        return;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL)
        goto oom;
    op->r = r;
    if (checks_ring_init(&op->body, r->d.out_max) != 0 ||
        (op->url = strdup(r->d.target)) == NULL ||
        (op->method = strdup(r->d.method)) == NULL ||
        build_headers(&r->d, &op->hdrs, true, true) != 0 ||
        (op->e = curl_easy_init()) == NULL) {
        op_free(op);
        goto oom;
    }
    op->with_body = *r->d.body != '\0';
    op->deadline = uv_now(r->c->loop) +
                   (uint64_t)(r->d.timeout_ms > 0 ? r->d.timeout_ms
                                                  : CHECKS_HTTP_TIMEOUT_MS);
    r->op = op;
    if (setup(op) != 0)
        fail(op, op->url, "cannot start the request");
    return;
oom:
    LOG_ERROR("agent", "Check failed to setup: check=%s error=\"out of "
                       "memory\"", r->id);
    checks_result(r, "critical", "out of memory");
    checks_run_done(r);
}

void checks_http_cancel(struct checks_runner *r)
{
    struct http_op *op = r->op;

    r->op = NULL;
    if (op != NULL)
        op_free(op);
}

/* ---- curl multi on libuv ---------------------------------------------- */

static void drain(struct checks *c)
{
    CURLMsg *m;
    int left;

    /* Cleanup happens only in a close callback, so c->multi stays valid
     * while a result's callback runs and maybe closes everything. */
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        struct http_op *op = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &op);
        http_done(op, m->data.result);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    struct checks *c = s->c;
    int flags = 0, running;

    if (c->multi == NULL)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    drain(c);
}

static void on_poll_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct checks *c = s->c;

    free(s);
    checks_unref(c);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp,
                     void *sockp)
{
    struct checks *c = userp;
    struct sock *s = sockp;
    int ev = 0;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, on_poll_closed);
            if (!c->tearing)
                curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL)
            return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->c = c;
        s->fd = fd;
        s->poll.data = s;
        c->live++;
        curl_multi_assign(c->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    return uv_poll_start(&s->poll, ev, on_poll) == 0 ? 0 : -1;
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct checks *c = t->data;
    int running;

    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(c);
}

static int on_timer_request(CURLM *m, long ms, void *userp)
{
    struct checks *c = userp;

    (void)m;
    if (c->closing)
        return 0;
    if (ms < 0)
        uv_timer_stop(&c->curl_timer);
    else
        uv_timer_start(&c->curl_timer, on_curl_timeout, (uint64_t)ms, 0);
    return 0;
}

/* The multi handle is made by the first HTTP check: libcurl (and what
 * it loads) stays out of agents that never run one (util_lazy.c). */
static int multi_start(struct checks *c)
{
    if (c->multi != NULL)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    c->multi = curl_multi_init();
    if (c->multi == NULL) {
        curl_global_cleanup();
        return -1;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer_request);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return 0;
}

int checks_http_init(struct checks *c, char *err)
{
    (void)err;
    uv_timer_init(c->loop, &c->curl_timer);
    c->curl_timer.data = c;
    c->live++;
    return 0;
}

static void on_curl_timer_closed(uv_handle_t *h)
{
    struct checks *c = h->data;

    /* Any socket left is closed here (its poll closes via on_socket). */
    c->tearing = true;
    if (c->multi != NULL) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        curl_global_cleanup();
    }
    checks_unref(c);
}

void checks_http_shutdown(struct checks *c)
{
    uv_close((uv_handle_t *)&c->curl_timer, on_curl_timer_closed);
}

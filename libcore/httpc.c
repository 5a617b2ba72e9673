/* httpc.c - the CLI's HTTP client for the agent API (libcurl).
 *
 * Layer: http (uses util only). Thread: caller's; blocking.
 * Mirrors what scripts can observe of Consul's Go api package: address
 * and token resolution (api.NewClient), query encoding (url.Values.Encode:
 * sorted "k=v"), URL escaping (url.URL.EscapedPath, url.QueryEscape) and
 * transport errors in Go's words ("Get \"<url>\": dial tcp <ip:port>:
 * connect: connection refused"). The token never reaches any message.
 * Tests: t/t0*.sh, t/t1*.sh
 */
#include "httpc.h"

#include <ctype.h>
#include <stdio.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "err.h"

/* ---- flags ---------------------------------------------------------- */

static void add(struct opt *opts, int *n, const char *name,
                enum opt_type type, void *dst, const char *help)
{
    opts[(*n)++] = (struct opt){
        .name = name, .type = type, .dst = dst, .help = help};
}

void httpc_add_flags(struct opt *opts, int *n, struct httpc_flags *f,
                     bool with_stale)
{
    add(opts, n, "http-addr", OPT_STR, &f->http_addr,
        "The `address` and port of the agent's HTTP API: host:port, "
        "http://host:port, https://host:port or unix:///path/to/socket. "
        "Also read from the CONSUL_HTTP_ADDR environment variable. The "
        "default is http://127.0.0.1:8500; CONSUL_HTTP_SSL=true makes the "
        "default scheme https.");
    add(opts, n, "token", OPT_STR, &f->token,
        "ACL token to send with the request. Also read from the "
        "CONSUL_HTTP_TOKEN environment variable. Without one, the agent "
        "uses its own default token.");
    add(opts, n, "token-file", OPT_STR, &f->token_file,
        "File holding the ACL token to send; it takes precedence over "
        "-token and CONSUL_HTTP_TOKEN. Also read from the "
        "CONSUL_HTTP_TOKEN_FILE environment variable.");
    add(opts, n, "datacenter", OPT_STR, &f->datacenter,
        "Datacenter to query. Defaults to the datacenter of the agent at "
        "the HTTP address.");
    if (with_stale)
        add(opts, n, "stale", OPT_BOOL, &f->stale,
            "Let any server, not only the leader, answer reads. This lowers "
            "latency and raises throughput but the data can be stale. No "
            "effect on writes. The default value is false.");
}

void httpc_add_tls_flags(struct opt *opts, int *n, struct httpc_flags *f)
{
    add(opts, n, "ca-file", OPT_STR, &f->ca_file,
        "Path to a CA certificate file for TLS connections to the agent. "
        "Also read from the CONSUL_CACERT environment variable.");
    add(opts, n, "ca-path", OPT_STR, &f->ca_path,
        "Path to a directory of CA certificates for TLS connections to the "
        "agent. Also read from the CONSUL_CAPATH environment variable.");
    add(opts, n, "client-cert", OPT_STR, &f->client_cert,
        "Path to a client certificate, for agents that verify incoming "
        "TLS connections. Also read from the CONSUL_CLIENT_CERT "
        "environment variable.");
    add(opts, n, "client-key", OPT_STR, &f->client_key,
        "Path to the key of the client certificate. Also read from the "
        "CONSUL_CLIENT_KEY environment variable.");
    add(opts, n, "tls-server-name", OPT_STR, &f->tls_server_name,
        "Server name to use for SNI and certificate verification on TLS "
        "connections. Also read from the CONSUL_TLS_SERVER_NAME "
        "environment variable.");
}

/* ---- small helpers -------------------------------------------------- */

static char *xasprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static const char *flag_or_env(const char *flag, const char *name)
{
    return flag != NULL && *flag != '\0' ? flag : env(name);
}

/* Go's text for an errno: strerror with a lowercase first letter. */
static const char *go_errno(int e, char *buf, size_t n)
{
    snprintf(buf, n, "%s", strerror(e));
    buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

/* Escape s keeping alphanumerics, "-_.~" and the bytes in keep; space
 * becomes '+' when plus. Heap result. */
static char *escape(const char *s, const char *keep, bool plus)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-_.~", ch) != NULL ||
            (ch != '\0' && strchr(keep, ch) != NULL)) {
            *o++ = (char)ch;
        } else if (ch == ' ' && plus) {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}

char *httpc_escape_path(const char *s)
{
    return escape(s, "$&+,/:;=@", false);
}

char *httpc_escape(const char *s)
{
    return escape(s, "", true);
}

/* ---- init ----------------------------------------------------------- */

/* Split "scheme://rest" as api.NewClient does. */
static int set_address(struct httpc *c, const char *addr, bool ssl,
                       char *err)
{
    const char *scheme = ssl ? "https" : "http", *rest = addr, *slash;
    const char *sep = strstr(addr, "://");
    size_t plen;

    if (sep != NULL) {
        size_t sl = (size_t)(sep - addr);
        rest = sep + 3;
        if (sl == 5 && memcmp(addr, "https", 5) == 0) {
            scheme = "https";
        } else if (sl == 4 && memcmp(addr, "unix", 4) == 0) {
            char *h = escape(rest, "!$&'()*+,;=:[]<>\"", false);
            c->unix_path = strdup(rest);
            c->host = strdup(rest);
            c->base = h != NULL ? xasprintf("%s://%s", scheme, h) : NULL;
            c->req_base = xasprintf("%s://localhost", scheme);
            free(h);
            return 0;
        } else if (!(sl == 4 && memcmp(addr, "http", 4) == 0)) {
            return err_set(err, ERR_INVAL, "Unknown protocol scheme: %.*s",
                           (int)(sl > 64 ? 64 : sl), addr);
        }
    }
    slash = strchr(rest, '/');
    c->host = slash != NULL ? strndup(rest, (size_t)(slash - rest))
                            : strdup(rest);
    plen = slash != NULL ? strlen(slash) : 0;
    while (plen > 0 && slash[plen - 1] == '/')
        plen--; /* "http://h:8500/" would double the slash of /v1/ */
    c->base = xasprintf("%s://%s%.*s", scheme, c->host ? c->host : "",
                        (int)plen, slash != NULL ? slash : "");
    c->req_base = dup_or_null(c->base);
    return 0;
}

/* Read and trim a token file; *tok stays NULL for an empty file. */
static int read_token_file(const char *path, char **tok, char *err)
{
    char buf[4096], e[128];
    FILE *f = fopen(path, "r");
    size_t n, a = 0, b;

    if (f == NULL)
        return err_set(err, ERR_IO, "Error loading token file %s : open "
                       "%s: %s", path, path, go_errno(errno, e, sizeof(e)));
    n = fread(buf, 1, sizeof(buf) - 1, f);
    if (ferror(f)) {
        int saved = errno;
        fclose(f);
        return err_set(err, ERR_IO, "Error loading token file %s : read "
                       "%s: %s", path, path, go_errno(saved, e, sizeof(e)));
    }
    fclose(f);
    buf[n] = '\0';
    while (a < n && isspace((unsigned char)buf[a]))
        a++;
    for (b = n; b > a && isspace((unsigned char)buf[b - 1]); b--)
        ;
    *tok = b > a ? strndup(buf + a, b - a) : NULL;
    return 0;
}

/* api.NewClient (Consul >= 1.15): -token-file, -token,
 * CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_TOKEN. */
static int resolve_token(struct httpc *c, const struct httpc_flags *f,
                         char *err)
{
    const char *et = env("CONSUL_HTTP_TOKEN");
    const char *ef = env("CONSUL_HTTP_TOKEN_FILE");
    const char *tok = flag_or_env(f->token, "CONSUL_HTTP_TOKEN");
    const char *file = flag_or_env(f->token_file, "CONSUL_HTTP_TOKEN_FILE");
    char *t = NULL;
    int r;

    if (file != NULL && (ef == NULL || strcmp(file, ef) != 0)) {
        r = read_token_file(file, &t, err);
    } else if (tok != NULL && (et == NULL || strcmp(tok, et) != 0)) {
        r = 0;
    } else if (ef != NULL) {
        r = read_token_file(ef, &t, err);
    } else {
        r = 0;
        tok = et;
    }
    if (r != 0)
        return r;
    c->token = t != NULL ? t : dup_or_null(tok);
    return 0;
}

static int resolve_tls(struct httpc *c, const struct httpc_flags *f,
                       char *err)
{
    const char *v = env("CONSUL_HTTP_SSL_VERIFY");
    bool verify = true;

    c->ca_file = dup_or_null(flag_or_env(f->ca_file, "CONSUL_CACERT"));
    c->ca_path = dup_or_null(flag_or_env(f->ca_path, "CONSUL_CAPATH"));
    c->client_cert =
        dup_or_null(flag_or_env(f->client_cert, "CONSUL_CLIENT_CERT"));
    c->client_key =
        dup_or_null(flag_or_env(f->client_key, "CONSUL_CLIENT_KEY"));
    c->tls_server_name = dup_or_null(
        flag_or_env(f->tls_server_name, "CONSUL_TLS_SERVER_NAME"));
    if (v != NULL && opt_parse_bool(v, &verify) == 0 && !verify)
        c->insecure = true;
    if ((c->client_cert == NULL) != (c->client_key == NULL))
        return err_set(err, ERR_INVAL,
                       "both client cert and client key must be provided");
    c->auth = dup_or_null(env("CONSUL_HTTP_AUTH"));
    return 0;
}

int httpc_init(struct httpc *c, const struct httpc_flags *f, char *err)
{
    static const struct httpc_flags none;
    const char *addr, *ssl = env("CONSUL_HTTP_SSL");
    bool use_ssl = false;
    int r;

    memset(c, 0, sizeof(*c));
    if (f == NULL)
        f = &none;
    addr = flag_or_env(f->http_addr, "CONSUL_HTTP_ADDR");
    if (ssl != NULL && opt_parse_bool(ssl, &use_ssl) != 0)
        use_ssl = false;
    r = set_address(c, addr != NULL ? addr : "127.0.0.1:8500", use_ssl, err);
    if (r == 0)
        r = resolve_token(c, f, err);
    if (r == 0)
        r = resolve_tls(c, f, err);
    if (r == 0 && f->datacenter != NULL && *f->datacenter != '\0')
        c->dc = strdup(f->datacenter);
    c->stale = f->stale;
    if (r == 0 && (c->base == NULL || c->req_base == NULL || !c->host))
        r = err_set(err, ERR_NOMEM, "out of memory");
    if (r == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        r = err_set(err, ERR_INTERNAL, "cannot initialise libcurl");
    if (r == 0 && (c->curl = curl_easy_init()) == NULL) {
        curl_global_cleanup();
        r = err_set(err, ERR_NOMEM, "cannot create a libcurl handle");
    }
    if (r != 0) {
        c->curl = NULL;
        httpc_release(c);
    }
    return r;
}

void httpc_release(struct httpc *c)
{
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    if (c->token != NULL)
        memset(c->token, 0, strlen(c->token));
    free(c->base);
    free(c->unix_path);
    free(c->token);
    free(c->dc);
    free(c->req_base);
    free(c->host);
    free(c->ca_file);
    free(c->ca_path);
    free(c->client_cert);
    free(c->client_key);
    free(c->tls_server_name);
    free(c->auth);
    memset(c, 0, sizeof(*c));
}

/* ---- query encoding ------------------------------------------------- */

struct param {
    const char *k, *v;
    int kl, vl;
};

#define MAX_PARAMS 32

static int split_query(const char *q, struct param *p, int n)
{
    while (q != NULL && *q != '\0' && n < MAX_PARAMS) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        if (end > q) {
            p[n].k = q;
            p[n].kl = (int)((eq ? eq : end) - q);
            p[n].v = eq ? eq + 1 : "";
            p[n].vl = eq ? (int)(end - eq - 1) : 0;
            n++;
        }
        q = amp ? amp + 1 : NULL;
    }
    return n;
}

static bool has_key(const struct param *p, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if ((size_t)p[i].kl == strlen(k) && memcmp(p[i].k, k, p[i].kl) == 0)
            return true;
    return false;
}

static int cmp_key(const struct param *a, const struct param *b)
{
    int r = memcmp(a->k, b->k, (size_t)(a->kl < b->kl ? a->kl : b->kl));
    return r != 0 ? r : a->kl - b->kl;
}

/* url.Values.Encode of query plus dc and stale. Heap result ("" if none). */
static char *encode_query(const struct httpc *c, const char *method,
                          const char *query)
{
    struct param p[MAX_PARAMS + 2], t;
    char *dc = c->dc != NULL ? httpc_escape(c->dc) : NULL, *out, *o;
    size_t len = 1;
    int n = split_query(query, p, 0);

    if (dc != NULL && !has_key(p, n, "dc"))
        p[n++] = (struct param){"dc", dc, 2, (int)strlen(dc)};
    if (c->stale && strcmp(method, "GET") == 0 && !has_key(p, n, "stale"))
        p[n++] = (struct param){"stale", "", 5, 0};
    for (int i = 1; i < n; i++) /* stable insertion sort by key */
        for (int j = i; j > 0 && cmp_key(&p[j - 1], &p[j]) > 0; j--) {
            t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        len += (size_t)(p[i].kl + p[i].vl + 2);
    out = o = malloc(len);
    for (int i = 0; out != NULL && i < n; i++)
        o += sprintf(o, "%s%.*s=%.*s", i > 0 ? "&" : "", p[i].kl, p[i].k,
                     p[i].vl, p[i].v);
    if (out != NULL)
        *o = '\0';
    free(dc);
    return out;
}

/* ---- request -------------------------------------------------------- */

struct sink {
    struct httpc_resp *r;
    size_t cap;
    bool oom;
    /* Streaming (httpc_get_to_fd, httpc_put_from_fd); fds -1 if unused. */
    CURL *h;
    int out_fd, in_fd;
    unsigned long long moved, in_size;
    httpc_progress_fn progress;
    void *pctx;
    int io_errno;  /* a failed read or write, else 0 */
    bool aborted;  /* progress said stop, or a short read */
};

/* Non-200 bodies kept by httpc_get_to_fd, for the error message. */
#define ERR_BODY_MAX 65536

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;

    if (s->r->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        char *b;
        while (cap < s->r->len + n + 1)
            cap *= 2;
        b = realloc(s->r->body, cap);
        if (b == NULL) {
            s->oom = true;
            return 0;
        }
        s->r->body = b;
        s->cap = cap;
    }
    memcpy(s->r->body + s->r->len, data, n);
    s->r->len += n;
    s->r->body[s->r->len] = '\0';
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    static const char name[] = "x-consul-index:";
    char num[32];

    if (n > sizeof(name) - 1 && n - (sizeof(name) - 1) < sizeof(num) &&
        strncasecmp(data, name, sizeof(name) - 1) == 0) {
        memcpy(num, data + sizeof(name) - 1, n - (sizeof(name) - 1));
        num[n - (sizeof(name) - 1)] = '\0';
        s->r->index = strtoull(num, NULL, 10);
    }
    return n;
}

static bool report(struct sink *s, size_t n)
{
    s->moved += n;
    if (s->progress != NULL && s->progress(s->pctx, s->moved) != 0)
        s->aborted = true;
    return !s->aborted;
}

/* httpc_get_to_fd: a 200 body goes to the file, others to memory. */
static size_t on_body_fd(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb, done = 0;
    long status = 0;
    ssize_t w;

    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return s->r->len + n > ERR_BODY_MAX ? n : on_body(data, size, nmemb,
                                                          ud);
    while (done < n) {
        w = write(s->out_fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->io_errno = w < 0 ? errno : EIO;
            return 0;
        }
        done += (size_t)w;
    }
    return report(s, n) ? n : 0;
}

/* httpc_put_from_fd: the request body, in_size bytes of in_fd. */
static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    ssize_t r;

    if (s->in_size - s->moved < n)
        n = (size_t)(s->in_size - s->moved);
    if (n == 0)
        return 0;
    do
        r = read(s->in_fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r <= 0) { /* a file shorter than its size: never send less */
        s->io_errno = r < 0 ? errno : 0;
        s->aborted = r == 0;
        return CURL_READFUNC_ABORT;
    }
    return report(s, (size_t)r) ? (size_t)r : CURL_READFUNC_ABORT;
}

static const char *content_type(const char *path, bool body)
{
    if (!body)
        return NULL;
    return strncmp(path, "/v1/kv/", 7) == 0
               ? "Content-Type: application/octet-stream"
               : "Content-Type: application/json";
}

static struct curl_slist *headers(const struct httpc *c, const char *ctype)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    char *tok;

    if (h != NULL && ctype != NULL)
        h = curl_slist_append(h, ctype);
    if (h != NULL && c->token != NULL) {
        tok = xasprintf("X-Consul-Token: %s", c->token);
        if (tok != NULL) {
            h = curl_slist_append(h, tok);
            memset(tok, 0, strlen(tok));
            free(tok);
        }
    }
    return h;
}

/* "host:port" with the port (default per scheme) split off. */
static void split_port(const struct httpc *c, char *host, size_t n,
                       long *port)
{
    const char *h = c->host, *colon = strrchr(h, ':');

    if (colon != NULL && strchr(colon, ']') == NULL) {
        snprintf(host, n, "%.*s", (int)(colon - h), h);
        *port = strtol(colon + 1, NULL, 10);
    } else {
        snprintf(host, n, "%s", h);
        *port = strncmp(c->base, "https", 5) == 0 ? 443 : 80;
    }
}

static void set_tls(const struct httpc *c, CURL *h, struct curl_slist **ct)
{
    char host[256], *entry;
    long port;

    if (c->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->ca_path != NULL)
        curl_easy_setopt(h, CURLOPT_CAPATH, c->ca_path);
    if (c->client_cert != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
    }
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->tls_server_name == NULL || c->unix_path != NULL ||
        strncmp(c->base, "https", 5) != 0)
        return;
    /* The URL names the server; CONNECT_TO dials the real address. */
    split_port(c, host, sizeof(host), &port);
    entry = xasprintf("%s:%ld:%s:%ld", c->tls_server_name, port, host, port);
    if (entry != NULL)
        *ct = curl_slist_append(NULL, entry);
    free(entry);
    if (*ct != NULL)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, *ct);
}

static char *wire_base(const struct httpc *c)
{
    char host[256];
    long port;
    const char *prefix;

    if (c->tls_server_name == NULL || c->unix_path != NULL ||
        strncmp(c->base, "https", 5) != 0)
        return strdup(c->req_base);
    split_port(c, host, sizeof(host), &port);
    prefix = c->base + strlen("https://") + strlen(c->host);
    return xasprintf("https://%s:%ld%s", c->tls_server_name, port, prefix);
}

static void set_method(CURL *h, const char *method, const void *body,
                       size_t len)
{
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (body != NULL || strcmp(method, "PUT") == 0 ||
        strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body != NULL ? len : 0));
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/* "tcp 127.0.0.1:8500" / "unix /path": Go's network and address. */
static void dial_target(const struct httpc *c, CURL *h, char *buf, size_t n)
{
    char *ip = NULL, host[256];
    long port = 0;

    if (c->unix_path != NULL) {
        snprintf(buf, n, "unix %.128s", c->unix_path);
        return;
    }
    curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    if (ip == NULL || *ip == '\0') {
        split_port(c, host, sizeof(host), &port);
        ip = host;
    }
    snprintf(buf, n, strchr(ip, ':') != NULL && ip[0] != '['
                         ? "tcp [%.128s]:%ld" : "tcp %.128s:%ld", ip, port);
}

/* Go's io error for a broken connection: "read tcp L->R: read: <errno>" */
static void conn_error(const struct httpc *c, CURL *h, const char *op,
                       long oserr, char *buf, size_t n)
{
    char target[160], *lip = NULL, e[128];
    long lport = 0;

    if (oserr == 0) {
        snprintf(buf, n, "EOF");
        return;
    }
    dial_target(c, h, target, sizeof(target));
    curl_easy_getinfo(h, CURLINFO_LOCAL_IP, &lip);
    curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &lport);
    if (c->unix_path != NULL || lip == NULL)
        snprintf(buf, n, "%s %s: %s: %s", op, target, op,
                 go_errno((int)oserr, e, sizeof(e)));
    else
        snprintf(buf, n, "%s tcp %s:%ld->%s: %s: %s", op, lip, lport,
                 target + 4, op, go_errno((int)oserr, e, sizeof(e)));
}

static void transport_error(const struct httpc *c, CURL *h, CURLcode rc,
                            const char *ebuf, char *buf, size_t n)
{
    char target[160], host[256], e[128];
    long oserr = 0, port;

    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        dial_target(c, h, target, sizeof(target));
        snprintf(buf, n, "dial %s: connect: %s", target,
                 go_errno(oserr != 0 ? (int)oserr : ECONNREFUSED, e,
                          sizeof(e)));
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
        split_port(c, host, sizeof(host), &port);
        snprintf(buf, n, "dial tcp: lookup %s: no such host", host);
        return;
    case CURLE_GOT_NOTHING:
        snprintf(buf, n, "EOF");
        return;
    case CURLE_RECV_ERROR:
        conn_error(c, h, "read", oserr, buf, n);
        return;
    case CURLE_SEND_ERROR:
        conn_error(c, h, "write", oserr, buf, n);
        return;
    case CURLE_SSL_CONNECT_ERROR:
        if (strstr(ebuf, "wrong version number") != NULL) {
            snprintf(buf, n, "http: server gave HTTP response to HTTPS "
                             "client");
            return;
        }
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(buf, n, "tls: failed to verify certificate: %s", ebuf);
        return;
    default:
        break;
    }
    snprintf(buf, n, "%s", *ebuf ? ebuf : curl_easy_strerror(rc));
}

/* "Get", "Put", "Delete": url.Error's Op. */
static void go_op(const char *method, char *op, size_t n)
{
    size_t i;

    for (i = 0; method[i] != '\0' && i + 1 < n; i++)
        op[i] = (char)(i == 0 ? toupper((unsigned char)method[i])
                              : tolower((unsigned char)method[i]));
    op[i] = '\0';
}

/* The body source: memory (set_method) or in_fd (an upload). */
static void set_body(CURL *h, const char *method, const void *body,
                     size_t len, struct sink *s)
{
    if (s->in_fd < 0) {
        set_method(h, method, body, len);
        return;
    }
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, s);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->in_size);
}

static CURLcode perform(struct httpc *c, const char *method,
                        const char *url, const char *path, const void *body,
                        size_t body_len, struct sink *s, char *ebuf)
{
    CURL *h = c->curl;
    struct curl_slist *hdr, *ct = NULL;
    CURLcode rc;

    curl_easy_reset(h);
    hdr = headers(c, s->in_fd >= 0
                         ? "Content-Type: application/octet-stream"
                         : content_type(path, body != NULL ||
                                                  strcmp(method, "PUT") == 0));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
                     s->out_fd >= 0 ? on_body_fd : on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (c->unix_path != NULL)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
    if (c->auth != NULL) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, c->auth);
    }
    set_tls(c, h, &ct);
    set_body(h, method, body, body_len, s);
    rc = curl_easy_perform(h);
    /* Keep no pointer to the token list or the stack once they are gone. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
    curl_slist_free_all(hdr);
    curl_slist_free_all(ct);
    return rc;
}

/* A failed transfer's message: the stream's own failure, else Go's. */
static void fail_detail(struct httpc *c, const struct sink *s, CURLcode rc,
                        const char *ebuf, char *detail, size_t n)
{
    char e[128];

    if (s->io_errno != 0)
        snprintf(detail, n, "%s the %s body: %s",
                 s->out_fd >= 0 ? "writing" : "reading",
                 s->out_fd >= 0 ? "response" : "request",
                 go_errno(s->io_errno, e, sizeof(e)));
    else if (s->aborted && s->in_fd >= 0 && s->moved < s->in_size)
        snprintf(detail, n, "reading the request body: unexpected EOF");
    else if (s->aborted)
        snprintf(detail, n, "aborted");
    else
        transport_error(c, c->curl, s->oom ? CURLE_OUT_OF_MEMORY : rc, ebuf,
                        detail, n);
}

static int request(struct httpc *c, const char *method, const char *path,
                   const char *query, const void *body, size_t body_len,
                   struct sink *sk, char *err)
{
    char ebuf[CURL_ERROR_SIZE] = "", detail[2 * ERR_LEN], op[16];
    char *q = encode_query(c, method, query), *wb = wire_base(c);
    char *url = NULL, *shown = NULL;
    struct httpc_resp *resp = sk->r;
    struct sink s = *sk;
    CURLcode rc;

    memset(resp, 0, sizeof(*resp));
    s.h = c->curl;
    if (c->token != NULL && strpbrk(c->token, "\r\n") != NULL) {
        free(q);
        free(wb);
        go_op(method, op, sizeof(op));
        return err_set(err, ERR_INVAL, "%s \"%s%s\": net/http: invalid "
                       "header field value for \"X-Consul-Token\"", op,
                       c->base, path);
    }
    if (q != NULL && wb != NULL) {
        url = xasprintf("%s%s%s%s", wb, path, *q ? "?" : "", q);
        shown = xasprintf("%s%s%s%s", c->base, path, *q ? "?" : "", q);
    }
    free(wb);
    if (url == NULL || shown == NULL) {
        free(q);
        free(url);
        free(shown);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    rc = perform(c, method, url, path, body, body_len, &s, ebuf);
    free(url);
    free(q);
    if (rc != CURLE_OK || s.oom) {
        go_op(method, op, sizeof(op));
        fail_detail(c, &s, rc, ebuf, detail, sizeof(detail));
        err_set(err, ERR_IO, "%s \"%s\": %s", op, shown, detail);
        free(shown);
        httpc_resp_release(resp);
        return ERR_IO;
    }
    free(shown);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (resp->body == NULL && (resp->body = calloc(1, 1)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

int httpc_do(struct httpc *c, const char *method, const char *path,
             const char *query, const void *body, size_t body_len,
             struct httpc_resp *resp, char *err)
{
    struct sink s = {.r = resp, .out_fd = -1, .in_fd = -1};

    return request(c, method, path, query, body, body_len, &s, err);
}

int httpc_get_to_fd(struct httpc *c, const char *path, const char *query,
                    int fd, httpc_progress_fn progress, void *pctx,
                    struct httpc_resp *resp, char *err)
{
    struct sink s = {.r = resp, .out_fd = fd, .in_fd = -1,
                     .progress = progress, .pctx = pctx};

    return request(c, "GET", path, query, NULL, 0, &s, err);
}

int httpc_put_from_fd(struct httpc *c, const char *path, const char *query,
                      int fd, unsigned long long size,
                      httpc_progress_fn progress, void *pctx,
                      struct httpc_resp *resp, char *err)
{
    struct sink s = {.r = resp, .out_fd = -1, .in_fd = fd, .in_size = size,
                     .progress = progress, .pctx = pctx};

    return request(c, "PUT", path, query, NULL, 0, &s, err);
}

void httpc_resp_release(struct httpc_resp *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void httpc_format_status(const struct httpc_resp *r, char *out, size_t n)
{
    const char *b = r->body != NULL ? r->body : "";
    size_t len = r->body != NULL ? r->len : 0;

    while (len > 0 && isspace((unsigned char)*b)) {
        b++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)b[len - 1]))
        len--;
    snprintf(out, n, "Unexpected response code: %ld (%.*s)", r->status,
             (int)len, b);
}

int httpc_cli_start(const struct opt *opts, int n, int argc, char **argv,
                    const char *synopsis, const char *description,
                    const struct httpc_flags *hf, struct httpc *c)
{
    char err[ERR_LEN];
    int rest, rc;

    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0)
        return rc;
    if (rest < argc) {
        fprintf(stderr, "Too many arguments (expected 0, got %d)\n",
                argc - rest);
        return 1;
    }
    if (httpc_init(c, hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    return -1;
}

/* checks.c - check definitions, runner lifecycle, status thresholds, TTL.
 *
 * Layer: agent (uses util, libuv). Thread: loop only.
 * Owns: every runner (struct checks_runner) and, through it, the runs in
 * flight (checks_http.c, checks_exec.c).
 * Behaviour follows Consul's agent/checks/check.go and agent/agent.go:
 * interval checks first run after a random stagger in [0, Interval)
 * (lib.RandomStagger), then Interval after each run ends; Interval below
 * 1 s is raised to 1 s with a warning; results go through Consul's
 * StatusHandler (counters start at their thresholds, so the first result
 * counts at once); TTL updates and expiry bypass it, as in Consul.
 * Tests: t/unit/check_checks.c
 */
#include "checks_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "opt.h"
#include "json_util.h"

/* ---- small helpers -------------------------------------------------- */

char *checks_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

void checks_dur_str(int64_t ms, char *buf, size_t n)
{
    opt_format_duration(ms, buf, n);
}

static bool valid_status(const char *s)
{
    return strcmp(s, "passing") == 0 || strcmp(s, "warning") == 0 ||
           strcmp(s, "critical") == 0;
}

static uint64_t rnd(struct checks *c)
{
    /* xorshift64*: only spreads first runs, no security use. */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * UINT64_C(2685821657736338717);
}

/* ---- ring buffer (Go's armon/circbuf) -------------------------------- */

int checks_ring_init(struct checks_ring *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
    b->buf = malloc(cap);
    return b->buf == NULL ? ERR_NOMEM : 0;
}

void checks_ring_write(struct checks_ring *b, const char *p, size_t n)
{
    b->total += n;
    if (n >= b->cap) {
        memcpy(b->buf, p + n - b->cap, b->cap);
        b->head = 0;
        b->len = b->cap;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t at = (b->head + b->len) % b->cap;
        b->buf[at] = p[i];
        if (b->len < b->cap)
            b->len++;
        else
            b->head = (b->head + 1) % b->cap;
    }
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

char *checks_ring_str(const struct checks_ring *b)
{
    char *lin = malloc(b->len + 1), *out;
    size_t o = 0;

    if (lin == NULL)
        return NULL;
    for (size_t i = 0; i < b->len; i++)
        lin[i] = b->buf[(b->head + i) % b->cap];
    out = malloc(b->len * 3 + 1);
    if (out == NULL) {
        free(lin);
        return NULL;
    }
    for (size_t i = 0; i < b->len;) {
        size_t k = lin[i] == '\0'
                       ? 0
                       : utf8_len((unsigned char *)lin + i, b->len - i);
        if (k == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(out + o, lin + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
    free(lin);
    return out;
}

void checks_ring_release(struct checks_ring *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

/* ---- definitions ----------------------------------------------------- */

/* Consul decodes with Go's case-insensitive JSON and accepts snake_case
 * aliases: compare keys lowercased with '_' dropped. */
static const json_t *field(const json_t *def, const char *want)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)def, k, v) {
        const char *p = k, *w = want; /* k drives the iteration */
        for (; *p != '\0'; p++) {
            if (*p == '_')
                continue;
            if (tolower((unsigned char)*p) != *w)
                break;
            w++;
        }
        if (*p == '\0' && *w == '\0' && !json_is_null(v))
            return v;
    }
    return NULL;
}

static int type_err(char *err, const json_t *v, const char *name,
                    const char *want)
{
    return err_set(err, ERR_INVAL,
                   "json: cannot unmarshal %s into Go struct field "
                   "CheckDefinition.%s of type %s",
                   json_go_kind(v), name, want);
}

static int get_str(const json_t *def, const char *key, const char *name,
                   const char **out, char *err)
{
    const json_t *v = field(def, key);

    *out = "";
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return type_err(err, v, name, "string");
    *out = json_string_value(v);
    return 0;
}

static int get_bool(const json_t *def, const char *key, const char *name,
                    bool *out, char *err)
{
    const json_t *v = field(def, key);

    *out = false;
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return type_err(err, v, name, "bool");
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *def, const char *key, const char *name,
                   int64_t *out, char *err)
{
    const json_t *v = field(def, key);

    *out = 0;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) > INT_MAX ||
        json_integer_value(v) < INT_MIN)
        return type_err(err, v, name, "int");
    *out = json_integer_value(v);
    return 0;
}

/* A duration: a Go string ("10s"), or a number: nanoseconds from the API
 * (Go's time.Duration), seconds from config files (cfg's rule). */
static int get_dur(const json_t *def, const char *key, const char *name,
                   bool from_config, int64_t *ms, char *err)
{
    const json_t *v = field(def, key);
    char q[ERR_QUOTE_MAX + 8];
    const char *s;

    *ms = 0;
    if (v == NULL)
        return 0;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        d = from_config ? d * 1000.0 : d / 1e6;
        /* Sub-millisecond but positive stays positive, as in Go. */
        *ms = d > 0 && d < 1 ? 1 : (int64_t)d;
        return 0;
    }
    if (!json_is_string(v))
        return type_err(err, v, name, "time.Duration");
    s = json_string_value(v);
    if (*s == '\0')
        return 0; /* Consul leaves "" at zero */
    if (opt_parse_duration(s, false, ms) == 0) {
        if (*ms == 0 && strpbrk(s, "123456789") != NULL)
            *ms = *s == '-' ? -1 : 1;
        return 0;
    }
    err_quote(q, sizeof(q), s);
    if (strspn(s, "+-0123456789.") == strlen(s))
        return err_set(err, ERR_INVAL, "time: missing unit in duration \"%s\"",
                       q);
    return err_set(err, ERR_INVAL, "time: invalid duration \"%s\"", q);
}

static int get_args(const json_t *def, struct checks_def *d, char *err)
{
    const json_t *v = field(def, "scriptargs");
    size_t i, n;

    if (v == NULL || (json_is_array(v) && json_array_size(v) == 0))
        v = field(def, "args");
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return type_err(err, v, "ScriptArgs", "[]string");
    n = json_array_size(v);
    if (n == 0)
        return 0;
    d->args = calloc(n + 1, sizeof(char *));
    if (d->args == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        const json_t *a = json_array_get(v, i);
        if (!json_is_string(a))
            return type_err(err, a, "ScriptArgs", "string");
        if ((d->args[i] = strdup(json_string_value(a))) == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int add_hdr(struct checks_def *d, const char *k, const char *v)
{
    struct checks_hdr *h =
        realloc(d->hdrs, (d->n_hdrs + 1) * sizeof(*d->hdrs));

    if (h == NULL)
        return ERR_NOMEM;
    d->hdrs = h;
    h[d->n_hdrs].name = strdup(k);
    h[d->n_hdrs].value = strdup(v);
    d->n_hdrs++;
    if (h[d->n_hdrs - 1].name == NULL || h[d->n_hdrs - 1].value == NULL)
        return ERR_NOMEM;
    return 0;
}

static int get_headers(const json_t *def, struct checks_def *d, char *err)
{
    const json_t *v = field(def, "header"), *vals;
    const char *k;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return type_err(err, v, "Header", "map[string][]string");
    json_object_foreach((json_t *)v, k, vals) {
        size_t i;
        const json_t *s;
        if (!json_is_array(vals))
            return type_err(err, vals, "Header", "[]string");
        json_array_foreach(vals, i, s) {
            if (!json_is_string(s))
                return type_err(err, s, "Header", "string");
            if (add_hdr(d, k, json_string_value(s)) != 0)
                return err_set(err, ERR_NOMEM, "out of memory");
        }
    }
    return 0;
}

static void def_release(struct checks_def *d)
{
    free(d->target);
    free(d->method);
    free(d->body);
    for (size_t i = 0; i < d->n_hdrs; i++) {
        free(d->hdrs[i].name);
        free(d->hdrs[i].value);
    }
    free(d->hdrs);
    for (size_t i = 0; d->args != NULL && d->args[i] != NULL; i++)
        free(d->args[i]);
    free(d->args);
    memset(d, 0, sizeof(*d));
}

/* The raw values Validate() and the kind choice look at. */
struct raw {
    const char *http, *tcp, *udp, *grpc, *h2ping, *docker, *ossvc,
        *alias_node, *alias_svc, *status, *method, *body;
    int64_t out_max, sbp, fbw, fbc;
};

static int get_raw(const json_t *def, bool from_config, struct raw *w,
                   struct checks_def *d, char *err)
{
    static const struct {
        const char *key, *name;
        size_t off;
    } strs[] = {
#define S(k, n, f) {k, n, offsetof(struct raw, f)}
        S("http", "HTTP", http), S("tcp", "TCP", tcp), S("udp", "UDP", udp),
        S("grpc", "GRPC", grpc), S("h2ping", "H2PING", h2ping),
        S("dockercontainerid", "DockerContainerID", docker),
        S("osservice", "OSService", ossvc),
        S("aliasnode", "AliasNode", alias_node),
        S("aliasservice", "AliasService", alias_svc),
        S("status", "Status", status), S("method", "Method", method),
        S("body", "Body", body),
#undef S
    };
    int r = 0;

    for (size_t i = 0; r == 0 && i < sizeof(strs) / sizeof(strs[0]); i++)
        r = get_str(def, strs[i].key, strs[i].name,
                    (const char **)((char *)w + strs[i].off), err);
    if (r == 0)
        r = get_int(def, "outputmaxsize", "OutputMaxSize", &w->out_max, err);
    if (r == 0)
        r = get_int(def, "successbeforepassing", "SuccessBeforePassing",
                    &w->sbp, err);
    if (r == 0)
        r = get_int(def, "failuresbeforewarning", "FailuresBeforeWarning",
                    &w->fbw, err);
    if (r == 0)
        r = get_int(def, "failuresbeforecritical", "FailuresBeforeCritical",
                    &w->fbc, err);
    if (r == 0)
        r = get_dur(def, "interval", "Interval", from_config, &d->interval_ms,
                    err);
    if (r == 0)
        r = get_dur(def, "timeout", "Timeout", from_config, &d->timeout_ms,
                    err);
    if (r == 0)
        r = get_dur(def, "ttl", "TTL", from_config, &d->ttl_ms, err);
    if (r == 0)
        r = get_bool(def, "tlsskipverify", "TLSSkipVerify", &d->skip_verify,
                     err);
    if (r == 0)
        r = get_bool(def, "disableredirects", "DisableRedirects",
                     &d->no_redirects, err);
    if (r == 0)
        r = get_args(def, d, err);
    if (r == 0)
        r = get_headers(def, d, err);
    return r;
}

/* structs.CheckType.Validate(), then agent.addCheck's script rule. */
static int validate(const struct checks *c, const struct raw *w,
                    const struct checks_def *d, bool from_config, char *err)
{
    bool script = d->args != NULL;
    bool alias = *w->alias_node != '\0' || *w->alias_svc != '\0';
    bool ivl = script || *w->http != '\0' || *w->tcp != '\0' ||
               *w->udp != '\0' || *w->grpc != '\0' || *w->h2ping != '\0' ||
               *w->ossvc != '\0';

    if (*w->status != '\0' && !valid_status(w->status))
        return err_set(err, ERR_INVAL, "Bad check status");
    if (d->interval_ms > 0 && d->ttl_ms > 0)
        return err_set(err, ERR_INVAL,
                       "Interval and TTL cannot both be specified");
    if (ivl && d->interval_ms <= 0)
        return err_set(err, ERR_INVAL,
                       "Interval must be > 0 for Script, HTTP, H2PING, TCP, "
                       "UDP or OSService checks");
    if (ivl && alias)
        return err_set(err, ERR_INVAL,
                       "Interval cannot be set for Alias checks");
    if (alias && d->ttl_ms > 0)
        return err_set(err, ERR_INVAL,
                       "TTL must be not be set for Alias checks");
    if (!ivl && !alias && d->ttl_ms <= 0)
        return err_set(err, ERR_INVAL, "TTL must be > 0 for TTL checks");
    if (w->out_max < 0)
        return err_set(err, ERR_INVAL, "MaxOutputMaxSize must be positive");
    if (w->fbw > w->fbc)
        return err_set(err, ERR_INVAL, "FailuresBeforeWarning can't be "
                                       "higher than FailuresBeforeCritical");
    if (script && from_config && !c->o.enable_local_script_checks &&
        !c->o.enable_script_checks)
        return err_set(err, ERR_INVAL,
                       "Scripts are disabled on this agent; to enable, "
                       "configure 'enable_script_checks' or "
                       "'enable_local_script_checks' to true");
    if (script && !from_config && !c->o.enable_script_checks)
        return err_set(err, ERR_INVAL,
                       "Scripts are disabled on this agent from remote "
                       "calls; to enable, configure 'enable_script_checks' "
                       "to true");
    return 0;
}

/* agent.addCheck's switch order: TTL, HTTP, TCP, UDP, GRPC, Docker,
 * OSService, script, H2PING, Alias. */
static int pick_kind(const struct raw *w, struct checks_def *d, char *err)
{
    const char *no = NULL;

    if (d->ttl_ms > 0)
        d->kind = CK_TTL;
    else if (*w->http != '\0')
        d->kind = CK_HTTP;
    else if (*w->tcp != '\0')
        d->kind = CK_TCP;
    else if (*w->udp != '\0')
        no = "UDP";
    else if (*w->grpc != '\0')
        no = "GRPC";
    else if (d->args != NULL && *w->docker != '\0')
        no = "Docker";
    else if (*w->ossvc != '\0')
        no = "OSService";
    else if (d->args != NULL)
        d->kind = CK_SCRIPT;
    else if (*w->h2ping != '\0')
        no = "H2PING";
    else if (*w->alias_node != '\0' || *w->alias_svc != '\0')
        no = "Alias";
    else
        return err_set(err, ERR_INVAL, "Check type is not valid");
    if (no != NULL)
        return err_set(err, ERR_UNSUPPORTED,
                       "%s checks are not supported by this agent", no);
    return 0;
}

static int parse_def(const struct checks *c, const json_t *def,
                     bool from_config, struct checks_def *d, char *err)
{
    struct raw w;
    int r;

    memset(d, 0, sizeof(*d));
    if (!json_is_object(def))
        return err_set(err, ERR_INVAL, "check definition must be an object");
    r = get_raw(def, from_config, &w, d, err);
    if (r == 0)
        r = validate(c, &w, d, from_config, err);
    if (r == 0)
        r = pick_kind(&w, d, err);
    if (r != 0) {
        def_release(d);
        return r;
    }
    d->sbp = (int)w.sbp;
    d->fbc = (int)w.fbc;
    d->fbw = w.fbw == 0 ? d->fbc : (int)w.fbw; /* agent.go's default */
    d->out_max = CHECKS_BUF_DEFAULT;
    if (w.out_max > 0 && w.out_max < CHECKS_BUF_DEFAULT)
        d->out_max = (size_t)w.out_max;
    snprintf(d->status, sizeof(d->status), "%s",
             *w.status != '\0' ? w.status : "critical");
    d->method = strdup(*w.method != '\0' ? w.method : "GET");
    d->body = strdup(w.body);
    d->target = strdup(d->kind == CK_HTTP ? w.http : w.tcp);
    if (d->method == NULL || d->body == NULL || d->target == NULL) {
        def_release(d);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

int checks_validate(const struct checks *c, const json_t *def,
                    bool from_config, char *err)
{
    struct checks_def d;
    int r = parse_def(c, def, from_config, &d, err);

    if (r == 0)
        def_release(&d);
    return r;
}

/* ---- lifecycle ------------------------------------------------------- */

struct checks *checks_new(uv_loop_t *loop, const struct checks_opts *o,
                          checks_update_fn fn, void *ctx, char *err)
{
    struct checks *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    c->loop = loop;
    if (o != NULL)
        c->o = *o;
    c->fn = fn;
    c->ctx = ctx;
    c->min_interval_ms = CHECKS_MIN_INTERVAL_MS;
    c->stagger = true;
    c->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)c;
    if (c->rng == 0)
        c->rng = 1;
    if (checks_http_init(c, err) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void checks_set_timing(struct checks *c, uint64_t min_interval_ms,
                       bool stagger)
{
    c->min_interval_ms = min_interval_ms;
    c->stagger = stagger;
}

void checks_unref(struct checks *c)
{
    c->live--;
    if (c->closing && c->live == 0) {
        checks_close_cb cb = c->close_cb;
        void *ctx = c->close_ctx;
        free(c);
        if (cb != NULL)
            cb(ctx);
    }
}

static struct checks_runner **find(struct checks *c, const char *id)
{
    struct checks_runner **p;

    for (p = &c->runners; *p != NULL; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0)
            return p;
    return NULL;
}

static void on_runner_handle_closed(uv_handle_t *h)
{
    struct checks_runner *r = h->data;
    struct checks *c = r->c;

    if (--r->open_handles > 0)
        return;
    def_release(&r->d);
    free(r->id);
    free(r->output);
    free(r->ttl_last);
    free(r);
    checks_unref(c);
}

/* Stop r for good: no more runs or reports; freed once its handles are
 * closed (a detached run cleans up after itself). */
static void kill_runner(struct checks_runner *r)
{
    r->dead = true;
    if (r->op != NULL) {
        switch (r->d.kind) {
        case CK_HTTP: checks_http_cancel(r); break;
        case CK_TCP: checks_tcp_cancel(r); break;
        case CK_SCRIPT: checks_script_cancel(r); break;
        case CK_TTL: break;
        }
    }
    r->op = NULL;
    uv_close((uv_handle_t *)&r->timer, on_runner_handle_closed);
    uv_close((uv_handle_t *)&r->tmo, on_runner_handle_closed);
}

/* Tell the caller, when status or output changed. */
static void notify(struct checks_runner *r, const char *status,
                   const char *output)
{
    char *dup;

    if (r->dead || r->c->closing)
        return;
    if (strcmp(r->status, status) == 0 && r->output != NULL &&
        strcmp(r->output, output) == 0)
        return;
    dup = strdup(output);
    if (dup == NULL) {
        LOG_ERROR("agent", "out of memory recording check output: check=%s",
                  r->id);
        return;
    }
    snprintf(r->status, sizeof(r->status), "%s", status);
    free(r->output);
    r->output = dup;
    if (r->c->fn != NULL)
        r->c->fn(r->c->ctx, r->id, status, output);
}

/* Consul's StatusHandler.updateCheck. */
void checks_result(struct checks_runner *r, const char *status,
                   const char *output)
{
    if (r->dead)
        return;
    if (strcmp(status, "critical") != 0) {
        if (r->succ < INT_MAX)
            r->succ++;
        r->fail = 0;
        if (r->succ >= r->d.sbp) {
            LOG_DEBUG("agent", "Check status updated: check=%s status=%s",
                      r->id, status);
            notify(r, status, output);
            return;
        }
        LOG_WARN("agent", "Check passed but has not reached success "
                          "threshold: check=%s status=%s success_count=%d "
                          "success_threshold=%d",
                 r->id, status, r->succ, r->d.sbp);
        return;
    }
    if (r->fail < INT_MAX)
        r->fail++;
    r->succ = 0;
    if (r->fail >= r->d.fbc) {
        LOG_WARN("agent", "Check is now critical: check=%s", r->id);
        notify(r, "critical", output);
    } else if (r->fail >= r->d.fbw) {
        LOG_WARN("agent", "Check is now warning: check=%s", r->id);
        notify(r, "warning", output);
    } else {
        LOG_WARN("agent", "Check failed but has not reached warning/failure "
                          "threshold: check=%s status=%s failure_count=%d "
                          "warning_threshold=%d failure_threshold=%d",
                 r->id, status, r->fail, r->d.fbw, r->d.fbc);
    }
}

void checks_notify(struct checks_runner *r, const char *status,
                   const char *output)
{
    notify(r, status, output);
}

static void on_tick(uv_timer_t *t)
{
    struct checks_runner *r = t->data;

    if (r->dead || r->op != NULL)
        return;
    switch (r->d.kind) {
    case CK_HTTP: checks_http_start(r); break;
    case CK_TCP: checks_tcp_start(r); break;
    case CK_SCRIPT: checks_script_start(r); break;
    case CK_TTL: break;
    }
}

void checks_run_done(struct checks_runner *r)
{
    r->op = NULL;
    if (!r->dead)
        uv_timer_start(&r->timer, on_tick, (uint64_t)r->d.interval_ms, 0);
}

static void on_ttl(uv_timer_t *t)
{
    struct checks_runner *r = t->data;
    char *out;

    LOG_WARN("agent", "Check missed TTL, is now critical: check=%s", r->id);
    if (r->ttl_last == NULL || *r->ttl_last == '\0') {
        notify(r, "critical", "TTL expired");
        return;
    }
    out = checks_fmt("TTL expired (last output before timeout follows): %s",
                     r->ttl_last);
    notify(r, "critical", out != NULL ? out : "TTL expired");
    free(out);
}

static void arm_first(struct checks_runner *r)
{
    struct checks *c = r->c;
    uint64_t delay = 0;

    if (r->d.kind == CK_TTL) {
        uv_timer_start(&r->timer, on_ttl, (uint64_t)r->d.ttl_ms, 0);
        return;
    }
    if ((uint64_t)r->d.interval_ms < c->min_interval_ms) {
        char min[32];
        checks_dur_str((int64_t)c->min_interval_ms, min, sizeof(min));
        LOG_WARN("agent", "check has interval below minimum: check=%s "
                          "minimum_interval=%s",
                 r->id, min);
        r->d.interval_ms = (int64_t)c->min_interval_ms;
    }
    if (c->stagger && r->d.interval_ms > 0)
        delay = rnd(c) % (uint64_t)r->d.interval_ms;
    uv_timer_start(&r->timer, on_tick, delay, 0);
}

int checks_add(struct checks *c, const char *id, const json_t *def,
               bool from_config, char *err)
{
    struct checks_runner *r, **old;
    struct checks_def d;
    int rc;

    if (c->closing)
        return err_set(err, ERR_SHUTDOWN, "shutting down");
    if (id == NULL || *id == '\0')
        return err_set(err, ERR_INVAL, "CheckID missing");
    rc = parse_def(c, def, from_config, &d, err);
    if (rc != 0)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->id = strdup(id)) == NULL) {
        free(r);
        def_release(&d);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    r->c = c;
    r->d = d;
    r->succ = d.sbp; /* NewStatusHandler: counters start at thresholds */
    r->fail = d.fbc;
    uv_timer_init(c->loop, &r->timer);
    uv_timer_init(c->loop, &r->tmo);
    r->timer.data = r->tmo.data = r;
    r->open_handles = 2;
    c->live++;
    if ((old = find(c, id)) != NULL) {
        struct checks_runner *o = *old;
        *old = o->next;
        kill_runner(o);
    }
    r->next = c->runners;
    c->runners = r;
    arm_first(r);
    notify(r, r->d.status, "");
    return 0;
}

int checks_remove(struct checks *c, const char *id)
{
    struct checks_runner **p = find(c, id), *r;

    if (p == NULL)
        return ERR_NOTFOUND;
    r = *p;
    *p = r->next;
    kill_runner(r);
    return 0;
}

int checks_ttl_update(struct checks *c, const char *id, const char *status,
                      const char *output, char *err)
{
    struct checks_runner **p = find(c, id), *r;
    char q[ERR_QUOTE_MAX + 8], *out, *last;
    size_t total;

    if (p == NULL || (*p)->d.kind != CK_TTL)
        return err_set(err, p == NULL ? ERR_NOTFOUND : ERR_INVAL,
                       "CheckID \"%s\" does not have associated TTL",
                       err_quote(q, sizeof(q), id));
    if (status == NULL || !valid_status(status))
        return err_set(err, ERR_INVAL, "Invalid check status: '%s'",
                       err_quote(q, sizeof(q), status ? status : ""));
    r = *p;
    if (output == NULL)
        output = "";
    total = strlen(output);
    if (total > r->d.out_max)
        out = checks_fmt("%.*s ... (captured %zu of %zu bytes)",
                         (int)r->d.out_max, output, r->d.out_max, total);
    else
        out = strdup(output);
    last = out != NULL ? strdup(out) : NULL;
    if (out == NULL || last == NULL) {
        free(out);
        free(last);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    LOG_DEBUG("agent", "Check status updated: check=%s status=%s", id,
              status);
    free(r->ttl_last);
    r->ttl_last = last;
    uv_timer_start(&r->timer, on_ttl, (uint64_t)r->d.ttl_ms, 0);
    notify(r, status, out);
    free(out);
    return 0;
}

void checks_close(struct checks *c, checks_close_cb cb, void *ctx)
{
    if (c == NULL || c->closing)
        return;
    c->closing = true;
    c->close_cb = cb;
    c->close_ctx = ctx;
    while (c->runners != NULL) {
        struct checks_runner *r = c->runners;
        c->runners = r->next;
        kill_runner(r);
    }
    checks_http_shutdown(c);
}

/* opt.c - command-line flags with Go `flag` package semantics.
 *
 * Layer: util. Thread: any (no global state).
 * Parsing follows Go's flag.FlagSet.parseOne, numbers follow strconv's
 * base-0 syntax, and the error texts are Go's. opt_usage lays help out as
 * Consul's command/flags.Usage does: "HTTP API Options" then "Command
 * Options", each flag's help wrapped at 72 columns with the minimal
 * raggedness algorithm of github.com/kr/text.
 * Tests: t/unit/check_opt.c
 */
#include "opt.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* opt_parse internal: stop at this argument (not a flag). */
#define STOP 2

/* Consul's shared HTTP client and server flags, listed under their own
 * heading in help (command/flags/http.go). */
static const char *const http_names[] = {
    "ca-file",    "ca-path", "client-cert",     "client-key", "datacenter",
    "http-addr",  "stale",   "tls-server-name", "token",      "token-file",
};

static bool is_http(const char *name)
{
    for (size_t i = 0; i < sizeof(http_names) / sizeof(http_names[0]); i++)
        if (strcmp(http_names[i], name) == 0)
            return true;
    return false;
}

static bool is_boolish(const struct opt *o)
{
    return o->type == OPT_BOOL || (o->type == OPT_FUNC && o->is_bool);
}

static const struct opt *find(const struct opt *opts, int n,
                              const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len &&
            memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* strconv.underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s)
{
    char saw = '^';
    bool hex = false;
    size_t i = 0;

    if (*s == '-' || *s == '+')
        s++;
    if (s[0] == '0' && s[1] != '\0' && strchr("bBoOxX", s[1]) != NULL) {
        i = 2;
        saw = '0';
        hex = s[1] == 'x' || s[1] == 'X';
    }
    for (; s[i] != '\0'; i++) {
        if (isdigit((unsigned char)s[i]) ||
            (hex && isxdigit((unsigned char)s[i]))) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

static int digit_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return 99;
}

/* strconv.ParseUint(s, 0, 64). Returns 0, -1 (syntax) or -2 (range). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    const char *p = s;
    int base = 10;
    bool under = false;
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    if (s[0] == '0') {
        base = 8;
        p = s + 1;
        if (strlen(s) >= 3 && strchr("bBoOxX", s[1]) != NULL) {
            base = s[1] == 'b' || s[1] == 'B' ? 2 : s[1] == 'x' || s[1] == 'X'
                                                          ? 16 : 8;
            p = s + 2;
        }
    }
    for (; *p != '\0'; p++) {
        int d;
        if (*p == '_') {
            under = true;
            continue;
        }
        d = digit_val(*p);
        if (d >= base)
            return -1;
        if (v > (max - (uint64_t)d) / (uint64_t)base)
            return -2;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (under && !underscore_ok(s))
        return -1;
    *out = v;
    return 0;
}

/* strconv.ParseInt(s, 0, <bits of int>). */
static int parse_int(const char *s, int *out)
{
    bool neg = *s == '-';
    uint64_t u;
    int r;

    if (*s == '-' || *s == '+')
        s++;
    r = parse_u64(s, UINT64_MAX, &u);
    if (r != 0)
        return r;
    if ((!neg && u > (uint64_t)INT_MAX) ||
        (neg && u > (uint64_t)INT_MAX + 1))
        return -2;
    if (neg)
        *out = u == (uint64_t)INT_MAX + 1 ? INT_MIN : -(int)u;
    else
        *out = (int)u;
    return 0;
}

static int bad_value(const struct opt *o, const char *val, const char *why,
                     char *err)
{
    char q[ERR_QUOTE_MAX + 4];

    err_quote(q, sizeof(q), val);
    if (is_boolish(o))
        return err_set(err, ERR_INVAL, "invalid boolean value \"%s\" for "
                       "-%s: %s", q, o->name, why);
    return err_set(err, ERR_INVAL, "invalid value \"%s\" for flag -%s: %s",
                   q, o->name, why);
}

static int append_list(const struct opt *o, const char *val)
{
    struct opt_list *l = o->dst;
    const char **items;

    items = realloc(l->items, sizeof(*items) * (size_t)(l->n + 1));
    if (items == NULL)
        return ERR_NOMEM;
    items[l->n++] = val;
    l->items = items;
    return 0;
}

/* The callback's message is used verbatim; only when it left none is a
 * Go-style one made up. */
static int call_fn(const struct opt *o, const char *val, char *err)
{
    char ferr[ERR_LEN] = "";
    int r = o->fn(o->dst, o->name, val, ferr);

    if (r == 0)
        return 0;
    if (ferr[0] != '\0')
        return err_set(err, r, "%s", ferr);
    if (val == NULL)
        return err_set(err, r, "invalid boolean flag %s: parse error",
                       o->name);
    bad_value(o, val, "parse error", err);
    return r;
}

static int set_value(const struct opt *o, const char *val, char *err)
{
    int r = 0;

    switch (o->type) {
    case OPT_BOOL:
        if (val == NULL)
            *(bool *)o->dst = true;
        else if (opt_parse_bool(val, o->dst) != 0)
            return bad_value(o, val, "parse error", err);
        return 0;
    case OPT_STR:
        *(const char **)o->dst = val;
        return 0;
    case OPT_INT:
        r = parse_int(val, o->dst);
        break;
    case OPT_UINT64:
        r = parse_u64(val, UINT64_MAX, o->dst);
        break;
    case OPT_STRLIST:
        if (append_list(o, val) != 0)
            return err_set(err, ERR_NOMEM, "out of memory");
        return 0;
    case OPT_FUNC:
        return call_fn(o, val, err);
    }
    if (r == -1)
        return bad_value(o, val, "parse error", err);
    if (r == -2)
        return bad_value(o, val, "value out of range", err);
    return 0;
}

static int not_defined(const char *name, size_t len, char *err)
{
    char raw[ERR_QUOTE_MAX + 1], q[ERR_QUOTE_MAX + 4];

    if (len > ERR_QUOTE_MAX)
        len = ERR_QUOTE_MAX;
    memcpy(raw, name, len);
    raw[len] = '\0';
    err_quote(q, sizeof(q), raw);
    return err_set(err, ERR_INVAL, "flag provided but not defined: -%s", q);
}

/* One step of Go's FlagSet.parseOne: 0 (flag consumed), STOP, OPT_HELP or
 * a negative error. *idx moves past what was consumed. */
static int parse_one(const struct opt *opts, int n_opts, int argc,
                     char **argv, int *idx, char *err)
{
    const char *s = argv[*idx], *name = s + 1, *eq, *val = NULL;
    const struct opt *o;
    size_t len;
    int r;

    if (s[0] != '-' || s[1] == '\0')
        return STOP;
    if (name[0] == '-' && name[1] == '\0') {
        (*idx)++;
        return STOP;
    }
    if (name[0] == '-')
        name++;
    if (name[0] == '-' || name[0] == '=') {
        char q[ERR_QUOTE_MAX + 4];
        return err_set(err, ERR_INVAL, "bad flag syntax: %s",
                       err_quote(q, sizeof(q), s));
    }
    (*idx)++;
    eq = strchr(name, '=');
    len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (eq != NULL)
        val = eq + 1;
    o = find(opts, n_opts, name, len);
    if (o == NULL) {
        if ((len == 4 && memcmp(name, "help", 4) == 0) ||
            (len == 1 && name[0] == 'h'))
            return OPT_HELP;
        return not_defined(name, len, err);
    }
    if (!is_boolish(o) && val == NULL) {
        if (*idx >= argc)
            return err_set(err, ERR_INVAL, "flag needs an argument: -%s",
                           o->name);
        val = argv[(*idx)++];
    }
    r = set_value(o, val, err);
    if (r == 0 && o->seen != NULL)
        *o->seen = true;
    return r;
}

int opt_parse(const struct opt *opts, int n_opts, int argc, char **argv,
              int *rest, char *err)
{
    int i = 1;

    while (i < argc) {
        int r = parse_one(opts, n_opts, argc, argv, &i, err);
        if (r == STOP)
            break;
        if (r != 0)
            return r;
    }
    *rest = i;
    return 0;
}

bool opt_help_requested(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "-help") == 0 ||
            strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

void opt_group_help(const struct opt_group *g, FILE *out)
{
    int w = 0;

    opt_usage(out, g->synopsis, g->text, NULL, 0);
    for (int i = 0; i < g->n; i++)
        if ((int)strlen(g->verbs[i].name) > w)
            w = (int)strlen(g->verbs[i].name);
    fprintf(out, "\nSubcommands:\n");
    for (int i = 0; i < g->n; i++)
        fprintf(out, "    %-*s    %s\n", w, g->verbs[i].name,
                g->verbs[i].synopsis);
}

int opt_group_run(const struct opt_group *g, int argc, char **argv)
{
    for (int i = 0; argc > 1 && i < g->n; i++)
        if (strcmp(argv[1], g->verbs[i].name) == 0)
            return g->verbs[i].run(argc - 1, argv + 1);
    if (opt_help_requested(argc, argv)) {
        opt_group_help(g, stdout);
        return 0;
    }
    if (argc > 1 && g->name_unknown)
        fprintf(stderr, "Unknown subcommand: '%.128s'\n\n", argv[1]);
    opt_group_help(g, stderr);
    return g->usage_rc;
}

void opt_release(const struct opt *opts, int n_opts)
{
    for (int i = 0; i < n_opts; i++) {
        struct opt_list *l = opts[i].dst;
        if (opts[i].type != OPT_STRLIST || l == NULL)
            continue;
        free(l->items);
        l->items = NULL;
        l->n = 0;
    }
}

/* ---- usage ---------------------------------------------------------- */

static int cmp_opt(const void *a, const void *b)
{
    const struct opt *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Visible flags sorted by name (Go's VisitAll order); caller frees. */
static const struct opt **sorted(const struct opt *opts, int n, int *out_n)
{
    const struct opt **v = calloc((size_t)n + 1, sizeof(*v));
    int k = 0;

    if (v == NULL) {
        *out_n = 0;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (opts[i].help != NULL)
            v[k++] = &opts[i];
    qsort(v, (size_t)k, sizeof(*v), cmp_opt);
    *out_n = k;
    return v;
}

/* flag.UnquoteUsage's name: a `quoted` word of the help, else the arg
 * placeholder, else one derived from the type ("" for booleans). */
static void placeholder(const struct opt *o, char *buf, size_t n)
{
    const char *h = o->help != NULL ? o->help : "";
    const char *a = strchr(h, '`'), *b = a != NULL ? strchr(a + 1, '`') : NULL;

    if (b != NULL) {
        snprintf(buf, n, "%.*s", (int)(b - a - 1), a + 1);
    } else if (o->arg != NULL) {
        size_t len = strlen(o->arg);
        if (len >= 2 && o->arg[0] == '<' && o->arg[len - 1] == '>')
            snprintf(buf, n, "%.*s", (int)(len - 2), o->arg + 1);
        else
            snprintf(buf, n, "%s", o->arg);
    } else if (is_boolish(o)) {
        snprintf(buf, n, "%s", "");
    } else if (o->type == OPT_STR && !is_http(o->name)) {
        snprintf(buf, n, "%s", "string");
    } else if (o->type == OPT_INT) {
        snprintf(buf, n, "%s", "int");
    } else if (o->type == OPT_UINT64) {
        snprintf(buf, n, "%s", "uint");
    } else {
        snprintf(buf, n, "%s", "value");
    }
}

struct word {
    const char *p;
    size_t len;
};

/* Split s at single spaces after trimming and turning newlines into
 * spaces, as kr/text.WrapBytes does. Caller frees *words and *copy. */
static int split_words(const char *s, char **copy, struct word **words)
{
    size_t len;
    char *c;
    int n = 1;

    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    c = strndup(s, len);
    if (c == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (c[i] == '\n')
            c[i] = ' ';
        if (c[i] == ' ')
            n++;
    }
    *words = calloc((size_t)n, sizeof(**words));
    if (*words == NULL) {
        free(c);
        return -1;
    }
    n = 0;
    for (char *p = c, *sp;; p = sp + 1) {
        sp = strchr(p, ' ');
        (*words)[n].p = p;
        (*words)[n++].len = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (sp == NULL)
            break;
    }
    *copy = c;
    return n;
}

/* kr/text.WrapWords: break points with minimal raggedness; nbrk[i] is the
 * word after the line that starts at word i. */
static void wrap_words(const struct word *w, int n, long long lim,
                       int *nbrk)
{
    long long *cost = calloc((size_t)n, sizeof(*cost));

    if (cost == NULL) {
        for (int i = 0; i < n; i++)
            nbrk[i] = i + 1;
        return;
    }
    for (int i = n - 1; i >= 0; i--) {
        long long total = (long long)w[i].len;
        for (int j = i + 1; j < n; j++)
            total += 1 + (long long)w[j].len;
        cost[i] = INT_MAX;
        if (total <= lim || i == n - 1) {
            cost[i] = 0;
            nbrk[i] = n;
            continue;
        }
        long long len = (long long)w[i].len;
        for (int j = i + 1; j < n; j++) {
            long long d = lim - len, c = d * d + cost[j];
            if (len > lim)
                c += 100000;
            if (c < cost[i]) {
                cost[i] = c;
                nbrk[i] = j;
            }
            len += 1 + (long long)w[j].len;
        }
    }
    free(cost);
}

/* Consul's wrapAtLength(s, pad): wrap at 72 - pad, indent by pad. */
static void print_wrapped(FILE *out, const char *s, int pad)
{
    struct word *w = NULL;
    char *copy = NULL;
    int n = split_words(s, &copy, &w), *nbrk;

    nbrk = n > 0 ? calloc((size_t)n, sizeof(*nbrk)) : NULL;
    if (nbrk == NULL) {
        fprintf(out, "%*s%s", pad, "", s);
        free(w);
        free(copy);
        return;
    }
    wrap_words(w, n, 72 - pad, nbrk);
    for (int i = 0; i < n; i = nbrk[i]) {
        if (i > 0)
            fputc('\n', out);
        fprintf(out, "%*s", pad, "");
        for (int j = i; j < nbrk[i]; j++)
            fprintf(out, "%s%.*s", j > i ? " " : "", (int)w[j].len, w[j].p);
    }
    free(nbrk);
    free(w);
    free(copy);
}

/* Every block is preceded by a blank line; Consul's trailing newlines are
 * trimmed, so the text ends right after the last flag's help. */
static void usage_section(FILE *out, const char *title,
                          const struct opt **v, int n, bool http)
{
    bool any = false;
    char ph[64];

    for (int i = 0; i < n; i++) {
        if (is_http(v[i]->name) != http)
            continue;
        if (!any)
            fprintf(out, "\n\n%s", title);
        any = true;
        placeholder(v[i], ph, sizeof(ph));
        if (ph[0] != '\0')
            fprintf(out, "\n\n  -%s=<%s>\n", v[i]->name, ph);
        else
            fprintf(out, "\n\n  -%s\n", v[i]->name);
        print_wrapped(out, v[i]->help, 5);
    }
}

void opt_usage(FILE *out, const char *synopsis, const char *description,
               const struct opt *opts, int n_opts)
{
    const struct opt **v;
    int n;
    size_t dl;

    fprintf(out, "Usage: %s", synopsis);
    if (description != NULL) {
        dl = strlen(description);
        while (dl > 0 && description[dl - 1] == '\n')
            dl--;
        if (dl > 0)
            fprintf(out, "\n\n%.*s", (int)dl, description);
    }
    v = sorted(opts, n_opts, &n);
    if (v != NULL) {
        usage_section(out, "HTTP API Options", v, n, true);
        usage_section(out, "Command Options", v, n, false);
        free(v);
    }
    fputc('\n', out);
}

/* The default Go would print, or "" when it is the type's zero value. */
static void default_text(const struct opt *o, char *buf, size_t n)
{
    buf[0] = '\0';
    if (o->dst == NULL)
        return;
    switch (o->type) {
    case OPT_BOOL:
        if (*(bool *)o->dst)
            snprintf(buf, n, " (default true)");
        break;
    case OPT_STR: {
        const char *s = *(const char **)o->dst;
        if (s != NULL && *s != '\0' && !is_http(o->name))
            snprintf(buf, n, " (default \"%s\")", s);
        break;
    }
    case OPT_INT:
        if (*(int *)o->dst != 0)
            snprintf(buf, n, " (default %d)", *(int *)o->dst);
        break;
    case OPT_UINT64:
        if (*(uint64_t *)o->dst != 0)
            snprintf(buf, n, " (default %llu)",
                     (unsigned long long)*(uint64_t *)o->dst);
        break;
    default:
        break;
    }
}

/* Help with the first `quoted` word unquoted, newlines re-indented. */
static void print_go_help(FILE *out, const char *h)
{
    const char *a = strchr(h, '`'), *b = a != NULL ? strchr(a + 1, '`') : NULL;

    for (const char *p = h; *p != '\0'; p++) {
        if (b != NULL && (p == a || p == b))
            continue;
        if (*p == '\n')
            fputs("\n    \t", out);
        else
            fputc(*p, out);
    }
}

void opt_print_defaults(FILE *out, const struct opt *opts, int n_opts)
{
    int n;
    const struct opt **v = sorted(opts, n_opts, &n);
    char ph[64], def[128];

    if (v == NULL)
        return;
    for (int i = 0; i < n; i++) {
        int len;
        placeholder(v[i], ph, sizeof(ph));
        len = fprintf(out, "  -%s%s%s", v[i]->name, ph[0] ? " " : "", ph);
        fputs(len <= 4 ? "\t" : "\n    \t", out);
        print_go_help(out, v[i]->help);
        default_text(v[i], def, sizeof(def));
        fprintf(out, "%s\n", def);
    }
    free(v);
}

/* ---- values --------------------------------------------------------- */

int opt_parse_bool(const char *s, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return ERR_INVAL;
}

/* Nanoseconds per unit, as time.ParseDuration's unitMap. */
static uint64_t unit_ns(const char *u, size_t len)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},
        {"us", 1000ULL},
        {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000ULL}, /* U+03BC greek mu */
        {"ms", 1000000ULL},
        {"s", 1000000000ULL},
        {"m", 60ULL * 1000000000ULL},
        {"h", 3600ULL * 1000000000ULL},
    };

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, u, len) == 0)
            return units[i].ns;
    return 0;
}

#define DUR_MAX (1ULL << 63)

/* One "<number><unit>" term of a duration; adds nanoseconds to *d. */
static int dur_term(const char **sp, uint64_t *d)
{
    const char *s = *sp, *u;
    uint64_t v = 0, f = 0, unit;
    double scale = 1;
    bool pre = false, post = false;

    for (; isdigit((unsigned char)*s); s++, pre = true) {
        if (v > DUR_MAX / 10)
            return ERR_INVAL;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > DUR_MAX)
            return ERR_INVAL;
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, post = true) {
            if (f > (DUR_MAX - 9) / 10)
                continue; /* extra precision is dropped, as in Go */
            f = f * 10 + (uint64_t)(*s - '0');
            scale *= 10;
        }
    }
    if (!pre && !post)
        return ERR_INVAL;
    for (u = s; *s != '\0' && *s != '.' && !isdigit((unsigned char)*s); s++)
        ;
    unit = unit_ns(u, (size_t)(s - u));
    if (unit == 0 || v > DUR_MAX / unit)
        return ERR_INVAL;
    v *= unit;
    if (f > 0) {
        v += (uint64_t)((double)f * ((double)unit / scale));
        if (v > DUR_MAX)
            return ERR_INVAL;
    }
    *d += v;
    if (*d > DUR_MAX)
        return ERR_INVAL;
    *sp = s;
    return 0;
}

static int parse_dur_ns(const char *s, int64_t *ns)
{
    bool neg = false;
    uint64_t d = 0;

    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (*s == '\0')
        return ERR_INVAL;
    while (*s != '\0')
        if (dur_term(&s, &d) != 0)
            return ERR_INVAL;
    if (neg) {
        *ns = d == DUR_MAX ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > DUR_MAX - 1)
        return ERR_INVAL;
    *ns = (int64_t)d;
    return 0;
}

int opt_parse_duration(const char *s, bool bare_is_seconds, int64_t *ms)
{
    int64_t ns;
    int r;

    if (s == NULL)
        return ERR_INVAL;
    if (bare_is_seconds && *s != '\0' &&
        strspn(s, "+-0123456789.") == strlen(s)) {
        char buf[64];
        if (snprintf(buf, sizeof(buf), "%ss", s) >= (int)sizeof(buf))
            return ERR_INVAL;
        r = parse_dur_ns(buf, &ns);
    } else {
        r = parse_dur_ns(s, &ns);
    }
    if (r != 0)
        return r;
    *ms = ns / 1000000;
    return 0;
}

int opt_parse_cli(const struct opt *opts, int n_opts, int argc, char **argv,
                  const char *synopsis, const char *description, int *rest)
{
    char err[ERR_LEN];
    int rc;

    if (opt_help_requested(argc, argv)) {
        opt_usage(stdout, synopsis, description, opts, n_opts);
        return 0;
    }
    rc = opt_parse(opts, n_opts, argc, argv, rest, err);
    if (rc == 0)
        return -1;
    if (rc != OPT_HELP)
        fprintf(stderr, "%s\n", err);
    fprintf(stderr, "Usage:\n");
    opt_print_defaults(stderr, opts, n_opts);
    return 1;
}

void opt_format_duration(int64_t ms, char *buf, size_t n)
{
    const char *sign = ms < 0 ? "-" : "";
    uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    uint64_t h = v / 3600000, m = v / 60000 % 60, s = v / 1000 % 60;
    unsigned frac = (unsigned)(v % 1000);
    char sec[32];

    if (v == 0) {
        snprintf(buf, n, "0s");
        return;
    }
    if (v < 1000) {
        snprintf(buf, n, "%s%ums", sign, frac);
        return;
    }
    if (frac == 0)
        snprintf(sec, sizeof(sec), "%llus", (unsigned long long)s);
    else if (frac % 100 == 0)
        snprintf(sec, sizeof(sec), "%llu.%us", (unsigned long long)s,
                 frac / 100);
    else if (frac % 10 == 0)
        snprintf(sec, sizeof(sec), "%llu.%02us", (unsigned long long)s,
                 frac / 10);
    else
        snprintf(sec, sizeof(sec), "%llu.%03us", (unsigned long long)s, frac);
    if (h > 0)
        snprintf(buf, n, "%s%lluh%llum%s", sign, (unsigned long long)h,
                 (unsigned long long)m, sec);
    else if (m > 0)
        snprintf(buf, n, "%s%llum%s", sign, (unsigned long long)m, sec);
    else
        snprintf(buf, n, "%s%s", sign, sec);
}

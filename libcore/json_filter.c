/* json_filter.c - Consul/go-bexpr filter expressions over jansson values.
 *
 * Layer: codec (uses util, jansson). Thread: any; filters are immutable
 * once parsed (glibc's regexec may be called concurrently).
 * Owns: the parsed tree, in one arena per filter, and its regexes.
 * Tests: t/unit/check_json_filter.c
 *
 * The parser is a hand-written equivalent of go-bexpr's PEG grammar that
 * never re-parses a sub-expression (PEG alternatives are left-factored),
 * so time is linear in the input; recursion is bounded by
 * JFILTER_MAX_DEPTH. Errors mimic pigeon's: the farthest position where
 * parsing failed with the sorted set of tokens expected there, or the
 * first "rule" error (unterminated string, bad number, ...).
 */
#include "json_filter.h"

#include "json_regex.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { N_AND, N_OR, N_NOT, N_MATCH };
enum op { OP_EQ, OP_IN, OP_EMPTY, OP_MATCHES };

struct part {
    const char *s; /* NUL-terminated copy; may hold NULs from escapes */
    size_t n;
};

struct node {
    enum kind kind;
    enum op op;
    bool neg;          /* !=, not in, not contains, is not empty, ... */
    struct node *kid;  /* AND/OR: first operand; NOT: the operand */
    struct node *next; /* next operand of the parent AND/OR */
    int npart;
    struct part *part;
    const char *val; /* raw value text; NULL for is (not) empty */
    size_t vlen;
    regex_t *re;
};

struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t mem[];
};

struct relist {
    regex_t re;
    struct relist *next;
};

struct jfilter {
    struct chunk *chunks;
    struct relist *res;
    struct node *root; /* NULL: match everything */
};

/* ---- arena ---- */

static void *alloc(struct jfilter *f, size_t n)
{
    struct chunk *c = f->chunks;
    void *p;

    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) *
        sizeof(max_align_t);
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 4096 ? n : 4096;

        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->next = f->chunks;
        c->used = 0;
        c->cap = cap;
        f->chunks = c;
    }
    p = (char *)c->mem + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

/* ---- parser state and errors ---- */

#define MAX_EXPECT 32
#define MAX_PARTS JFILTER_MAX_DEPTH

struct parser {
    const char *s;
    size_t n;
    struct jfilter *f;
    size_t far;                  /* farthest failure position */
    const char *exp[MAX_EXPECT]; /* tokens expected there */
    int nexp;
    int depth;
    bool bad; /* msg holds a final error; stop parsing */
    char msg[ERR_LEN];
};

struct value {
    const char *s;
    size_t n;
};

/* pigeon's "line:col (offset)"; col counts UTF-8 characters from 1. */
static void where(const struct parser *p, size_t pos, char *out, size_t n)
{
    int line = 1, col = 1;

    for (size_t i = 0; i < pos && i < p->n; i++) {
        unsigned char c = (unsigned char)p->s[i];

        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    snprintf(out, n, "%d:%d (%zu)", line, col, pos);
}

static void expect(struct parser *p, size_t pos, const char *what)
{
    if (pos < p->far)
        return;
    if (pos > p->far) {
        p->far = pos;
        p->nexp = 0;
    }
    for (int i = 0; i < p->nexp; i++)
        if (strcmp(p->exp[i], what) == 0)
            return;
    if (p->nexp < MAX_EXPECT)
        p->exp[p->nexp++] = what;
}

static void fail_rule(struct parser *p, size_t pos, const char *rule,
                      const char *msg)
{
    char at[64];

    if (p->bad)
        return;
    p->bad = true;
    where(p, pos, at, sizeof(at));
    snprintf(p->msg, sizeof(p->msg), "%s: rule \"%s\": %s", at, rule, msg);
}

static void *fail_nomem(struct parser *p)
{
    if (!p->bad)
        snprintf(p->msg, sizeof(p->msg), "%s", err_str(ERR_NOMEM));
    p->bad = true;
    return NULL;
}

static char *copy(struct parser *p, const char *s, size_t n)
{
    char *d = alloc(p->f, n + 1);

    if (d == NULL)
        return fail_nomem(p);
    memcpy(d, s, n);
    return d;
}

/* ---- tokens ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* `_` ([ \t\r\n]+) when required, `_?` otherwise. */
static bool ws(struct parser *p, size_t *pos, bool required)
{
    size_t q = *pos;

    while (q < p->n && is_ws(p->s[q]))
        q++;
    expect(p, q, "[ \\t\\r\\n]");
    if (required && q == *pos)
        return false;
    *pos = q;
    return true;
}

/* name is the literal as pigeon shows it: the word in double quotes. */
static bool lit(struct parser *p, size_t *pos, const char *name)
{
    size_t k = strlen(name) - 2;

    if (p->n - *pos >= k && memcmp(p->s + *pos, name + 1, k) == 0) {
        *pos += k;
        return true;
    }
    expect(p, *pos, name);
    return false;
}

struct opseq {
    enum op op;
    bool neg;
    const char *tok[7]; /* "_", "_?" or a quoted literal */
};

static const struct opseq sel_ops[] = {
    {OP_EQ, false, {"_?", "\"==\"", "_?"}},
    {OP_EQ, true, {"_?", "\"!=\"", "_?"}},
    {OP_IN, false, {"_", "\"contains\"", "_"}},
    {OP_IN, true, {"_", "\"not\"", "_", "\"contains\"", "_"}},
    {OP_MATCHES, false, {"_", "\"matches\"", "_"}},
    {OP_MATCHES, true, {"_", "\"not\"", "_", "\"matches\"", "_"}},
};
static const struct opseq empty_ops[] = {
    {OP_EMPTY, false, {"_", "\"is\"", "_", "\"empty\""}},
    {OP_EMPTY, true, {"_", "\"is\"", "_", "\"not\"", "_", "\"empty\""}},
};
static const struct opseq in_ops[] = {
    {OP_IN, false, {"_", "\"in\"", "_"}},
    {OP_IN, true, {"_", "\"not\"", "_", "\"in\"", "_"}},
};

/* Index of the first operator of t[0..n) found at *pos, or -1. */
static int ops(struct parser *p, size_t *pos, const struct opseq *t, int n)
{
    for (int i = 0; i < n; i++) {
        size_t q = *pos;
        bool ok = true;

        for (int k = 0; ok && k < 7 && t[i].tok[k] != NULL; k++) {
            const char *tok = t[i].tok[k];

            ok = tok[0] == '_' ? ws(p, &q, tok[1] != '?') : lit(p, &q, tok);
        }
        if (ok) {
            *pos = q;
            return i;
        }
    }
    return -1;
}

/* ---- literals ---- */

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool put_utf8(uint32_t r, char *out, size_t *o)
{
    unsigned char *u = (unsigned char *)out + *o;

    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        return false;
    if (r < 0x80) {
        u[0] = (unsigned char)r;
        *o += 1;
    } else if (r < 0x800) {
        u[0] = (unsigned char)(0xC0 | r >> 6);
        u[1] = (unsigned char)(0x80 | (r & 0x3F));
        *o += 2;
    } else if (r < 0x10000) {
        u[0] = (unsigned char)(0xE0 | r >> 12);
        u[1] = (unsigned char)(0x80 | (r >> 6 & 0x3F));
        u[2] = (unsigned char)(0x80 | (r & 0x3F));
        *o += 3;
    } else {
        u[0] = (unsigned char)(0xF0 | r >> 18);
        u[1] = (unsigned char)(0x80 | (r >> 12 & 0x3F));
        u[2] = (unsigned char)(0x80 | (r >> 6 & 0x3F));
        u[3] = (unsigned char)(0x80 | (r & 0x3F));
        *o += 4;
    }
    return true;
}

/* One escape of Go's strconv.Unquote for "..." (after the backslash). */
static bool unescape(const char *s, size_t n, size_t *i, char *out,
                     size_t *o)
{
    static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
    char c = s[(*i)++];
    const char *m = strchr(simple, c);
    uint32_t v = 0;
    size_t k;

    if (c != '\0' && m != NULL && (m - simple) % 2 == 0) {
        out[(*o)++] = m[1];
        return true;
    }
    if (c >= '0' && c <= '7') {
        if (n - *i < 2 || s[*i] < '0' || s[*i] > '7' || s[*i + 1] < '0' ||
            s[*i + 1] > '7')
            return false;
        v = (uint32_t)((c - '0') << 6 | (s[*i] - '0') << 3 |
                       (s[*i + 1] - '0'));
        *i += 2;
        if (v > 255)
            return false;
        out[(*o)++] = (char)v;
        return true;
    }
    k = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (k == 0 || n - *i < k)
        return false;
    for (size_t j = 0; j < k; j++) {
        int h = hexval(s[*i + j]);

        if (h < 0)
            return false;
        v = v << 4 | (uint32_t)h;
    }
    *i += k;
    if (c != 'x')
        return put_utf8(v, out, o);
    out[(*o)++] = (char)v;
    return true;
}

/* Body of a string literal into out (room for n bytes); false on Go's
 * "invalid syntax". */
static bool unquote(const char *s, size_t n, char q, char *out, size_t *outn)
{
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        if (q == '`') {
            if (s[i] != '\r')
                out[o++] = s[i];
            i++;
        } else if (s[i] == '\n') {
            return false;
        } else if (s[i] != '\\') {
            out[o++] = s[i++];
        } else if (++i >= n || !unescape(s, n, &i, out, &o)) {
            return false;
        }
    }
    *outn = o;
    return true;
}

static bool string_lit(struct parser *p, size_t *pos, struct value *v)
{
    size_t q = *pos, end;
    char qc = q < p->n ? p->s[q] : '\0';
    char *buf;

    if (qc != '"' && qc != '`') {
        expect(p, q, "\"\\\"\"");
        expect(p, q, "\"`\"");
        return false;
    }
    for (end = q + 1; end < p->n && p->s[end] != qc; end++)
        ;
    if (end >= p->n) {
        expect(p, end, qc == '"' ? "\"\\\"\"" : "\"`\"");
        fail_rule(p, end, "string", "Unterminated string literal");
        return false;
    }
    buf = alloc(p->f, end - q);
    if (buf == NULL)
        return fail_nomem(p);
    if (!unquote(p->s + q + 1, end - q - 1, qc, buf, &v->n)) {
        fail_rule(p, q, "string", "invalid syntax");
        return false;
    }
    v->s = buf;
    *pos = end + 1;
    return true;
}

static size_t digits(const struct parser *p, size_t q)
{
    while (q < p->n && is_digit(p->s[q]))
        q++;
    return q;
}

/* "-"? ("0" / [1-9][0-9]*) ("." [0-9]+)? followed by WS, ")" or EOF. */
static bool number_lit(struct parser *p, size_t *pos, struct value *v)
{
    size_t q = *pos, r;

    if (q < p->n && p->s[q] == '-')
        q++;
    else
        expect(p, q, "\"-\"");
    if (q < p->n && p->s[q] == '0') {
        q++;
    } else if (q < p->n && p->s[q] >= '1' && p->s[q] <= '9') {
        q = digits(p, q + 1);
        expect(p, q, "[0-9]");
    } else {
        expect(p, q, "\"0\"");
        expect(p, q, "[1-9]");
        return false;
    }
    r = q + 1;
    if (q < p->n && p->s[q] == '.' && r < p->n && is_digit(p->s[r]))
        q = digits(p, r);
    expect(p, q < p->n && p->s[q] == '.' ? r : q,
           q < p->n && p->s[q] == '.' ? "[0-9]" : "\".\"");
    if (q == p->n || is_ws(p->s[q]) || p->s[q] == ')') {
        v->s = copy(p, p->s + *pos, q - *pos);
        v->n = q - *pos;
        *pos = q;
        return v->s != NULL;
    }
    expect(p, q, "[ \\t\\r\\n]");
    expect(p, q, "\")\"");
    expect(p, q, "EOF");
    fail_rule(p, q, "number", "Invalid number literal");
    return false;
}

/* ---- selectors and values ---- */

static bool ident(struct parser *p, size_t *pos, struct part *out)
{
    size_t q = *pos;

    if (q >= p->n || !is_alpha(p->s[q])) {
        expect(p, q, "[a-zA-Z]");
        return false;
    }
    for (q++; q < p->n && (is_alpha(p->s[q]) || is_digit(p->s[q]) ||
                           p->s[q] == '_');
         q++)
        ;
    expect(p, q, "[a-zA-Z0-9_]");
    out->n = q - *pos;
    out->s = copy(p, p->s + *pos, out->n);
    *pos = q;
    return out->s != NULL;
}

/* "[" _? string _? "]" at *pos (which holds '['). */
static bool index_expr(struct parser *p, size_t *pos, struct part *out)
{
    size_t q = *pos + 1;
    struct value v;

    ws(p, &q, false);
    if (!string_lit(p, &q, &v)) {
        fail_rule(p, q, "index", "Invalid index");
        return false;
    }
    ws(p, &q, false);
    if (q >= p->n || p->s[q] != ']') {
        expect(p, q, "\"]\"");
        fail_rule(p, q, "index", "Unclosed index expression");
        return false;
    }
    out->s = v.s;
    out->n = v.n;
    *pos = q + 1;
    return true;
}

static bool selector(struct parser *p, size_t *pos, struct part *parts,
                     int *np)
{
    size_t q = *pos, r;
    int n = 0;

    if (!ident(p, &q, &parts[n++]))
        return false;
    for (;;) {
        if (n == MAX_PARTS && q < p->n &&
            (p->s[q] == '.' || p->s[q] == '[')) {
            fail_rule(p, q, "selector", "Too many selector parts");
            return false;
        }
        r = q + 1;
        if (q < p->n && p->s[q] == '.' && ident(p, &r, &parts[n])) {
            n++;
            q = r;
            continue;
        }
        expect(p, q, "\".\"");
        if (q < p->n && p->s[q] == '[' && !p->bad) {
            r = q;
            if (!index_expr(p, &r, &parts[n++]))
                return false;
            q = r;
            continue;
        }
        expect(p, q, "\"[\"");
        break;
    }
    *np = n;
    *pos = q;
    return !p->bad;
}

/* Value <- Selector / Number / String; a selector's text is its parts
 * joined by '.'. */
static bool value(struct parser *p, size_t *pos, struct value *v)
{
    struct part parts[MAX_PARTS];
    size_t q = *pos, len = 0;
    int np;
    char *s;

    if (selector(p, &q, parts, &np)) {
        for (int i = 0; i < np; i++)
            len += parts[i].n + 1;
        s = alloc(p->f, len);
        if (s == NULL)
            return fail_nomem(p);
        v->s = s;
        v->n = len - 1;
        for (int i = 0; i < np; i++) {
            memcpy(s, parts[i].s, parts[i].n);
            s += parts[i].n;
            if (i + 1 < np)
                *s++ = '.';
        }
        *pos = q;
        return true;
    }
    q = *pos;
    if (!p->bad && number_lit(p, &q, v)) {
        *pos = q;
        return true;
    }
    q = *pos;
    if (!p->bad && string_lit(p, &q, v)) {
        *pos = q;
        return true;
    }
    return false;
}

static bool compile_re(struct parser *p, struct node *m)
{
    struct relist *r = alloc(p->f, sizeof(*r));
    char q[ERR_QUOTE_MAX + 4];

    if (r == NULL)
        return fail_nomem(p);
    if (json_regex_compile(&r->re, m->val, m->vlen, p->msg) != 0) {
        p->bad = true;
        err_prefix(p->msg, "Failed to compile regular expression \"%s\"",
                   err_quote(q, sizeof(q), m->val));
        return false;
    }
    r->next = p->f->res;
    p->f->res = r;
    m->re = &r->re;
    return true;
}

/* ---- expressions ---- */

static struct node *mk_match(struct parser *p, const struct opseq *o,
                             const struct part *parts, int np,
                             const struct value *v)
{
    struct node *m = alloc(p->f, sizeof(*m));
    struct part *pp = alloc(p->f, (size_t)np * sizeof(*pp));

    if (m == NULL || pp == NULL)
        return fail_nomem(p);
    memcpy(pp, parts, (size_t)np * sizeof(*pp));
    m->kind = N_MATCH;
    m->op = o->op;
    m->neg = o->neg;
    m->part = pp;
    m->npart = np;
    if (v != NULL) {
        m->val = v->s;
        m->vlen = v->n;
    }
    if (m->op == OP_MATCHES && !compile_re(p, m))
        return NULL;
    return m;
}

/* MatchSelectorOpValue / MatchSelectorOp / MatchValueOpSelector */
static struct node *match(struct parser *p, size_t *pos)
{
    struct part parts[MAX_PARTS];
    struct value v;
    size_t q = *pos, r;
    int np, i;

    if (selector(p, &q, parts, &np)) {
        r = q;
        if ((i = ops(p, &r, sel_ops, 6)) >= 0 && value(p, &r, &v)) {
            *pos = r;
            return mk_match(p, &sel_ops[i], parts, np, &v);
        }
        r = q;
        if (!p->bad && (i = ops(p, &r, empty_ops, 2)) >= 0) {
            *pos = r;
            return mk_match(p, &empty_ops[i], parts, np, NULL);
        }
    }
    q = *pos;
    if (p->bad || !value(p, &q, &v) || (i = ops(p, &q, in_ops, 2)) < 0)
        return NULL;
    r = q;
    if (!selector(p, &r, parts, &np)) {
        fail_rule(p, q, "match", "Invalid selector");
        return NULL;
    }
    *pos = r;
    return mk_match(p, &in_ops[i], parts, np, &v);
}

static bool deeper(struct parser *p, size_t pos)
{
    char at[64];

    if (p->depth < JFILTER_MAX_DEPTH) {
        p->depth++;
        return true;
    }
    if (!p->bad) {
        where(p, pos, at, sizeof(at));
        snprintf(p->msg, sizeof(p->msg),
                 "%s: expression nested deeper than %d levels", at,
                 JFILTER_MAX_DEPTH);
    }
    p->bad = true;
    return false;
}

static struct node *list_expr(struct parser *p, size_t *pos, bool is_or);

static struct node *paren(struct parser *p, size_t *pos)
{
    size_t q = *pos + 1;
    struct node *k;

    ws(p, &q, false);
    if (!deeper(p, q))
        return NULL;
    k = list_expr(p, &q, true);
    p->depth--;
    if (k == NULL)
        return NULL;
    ws(p, &q, false);
    if (q < p->n && p->s[q] == ')') {
        *pos = q + 1;
        return k;
    }
    expect(p, q, "\")\"");
    fail_rule(p, q, "grouping", "Unmatched parentheses");
    return NULL;
}

/* "not" _ NotExpression / "(" ... ")" / MatchExpression; a failed "not"
 * falls back to a selector named "not", as the PEG does. */
static struct node *not_expr(struct parser *p, size_t *pos)
{
    size_t q = *pos;
    struct node *k, *n;

    if (lit(p, &q, "\"not\"") && ws(p, &q, true)) {
        if (!deeper(p, q))
            return NULL;
        k = not_expr(p, &q);
        p->depth--;
        if (k != NULL) {
            if ((n = alloc(p->f, sizeof(*n))) == NULL)
                return fail_nomem(p);
            n->kind = N_NOT;
            n->kid = k;
            *pos = q;
            return n;
        }
        if (p->bad)
            return NULL;
    }
    q = *pos;
    if (q < p->n && p->s[q] == '(')
        return paren(p, pos);
    expect(p, q, "\"(\"");
    return match(p, pos);
}

/* Or <- And (_ "or" _ And)*, And <- Not (_ "and" _ Not)*; one n-ary
 * node per chain keeps evaluation iterative. */
static struct node *list_expr(struct parser *p, size_t *pos, bool is_or)
{
    const char *kw = is_or ? "\"or\"" : "\"and\"";
    struct node *first, *last, *k, *n;
    size_t q = *pos, r;

    first = is_or ? list_expr(p, &q, false) : not_expr(p, &q);
    if (first == NULL)
        return NULL;
    for (last = first;; last = k, q = r) {
        r = q;
        if (!ws(p, &r, true) || !lit(p, &r, kw) || !ws(p, &r, true))
            break;
        k = is_or ? list_expr(p, &r, false) : not_expr(p, &r);
        if (k == NULL)
            break;
        last->next = k;
    }
    if (p->bad)
        return NULL;
    *pos = q;
    if (last == first)
        return first;
    if ((n = alloc(p->f, sizeof(*n))) == NULL)
        return fail_nomem(p);
    n->kind = is_or ? N_OR : N_AND;
    n->kid = first;
    return n;
}

/* pigeon sorts the expected tokens but lists EOF last. */
static int cmp_expect(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;

    if (strcmp(x, "EOF") == 0 || strcmp(y, "EOF") == 0)
        return (strcmp(x, "EOF") == 0) - (strcmp(y, "EOF") == 0);
    return strcmp(x, y);
}

static void report(struct parser *p, char *err)
{
    char at[64];
    size_t o;
    int k;

    if (p->bad || err == NULL) {
        err_set(err, ERR_PARSE, "%s", p->msg);
        return;
    }
    qsort(p->exp, (size_t)p->nexp, sizeof(p->exp[0]), cmp_expect);
    where(p, p->far, at, sizeof(at));
    k = snprintf(err, ERR_LEN, "%s: no match found%s", at,
                 p->nexp > 0 ? ", expected: " : "");
    o = k > 0 ? (size_t)k : 0;
    for (int i = 0; i < p->nexp && o < ERR_LEN; i++) {
        k = snprintf(err + o, ERR_LEN - o, "%s%s",
                     i == 0 ? "" : i + 1 == p->nexp ? " or " : ", ",
                     p->exp[i]);
        o += k > 0 ? (size_t)k : 0;
    }
}

struct jfilter *jfilter_parse(const char *expr, char *err)
{
    struct parser p = {.s = expr};
    size_t pos = 0;
    struct jfilter *f;

    p.n = expr == NULL ? 0 : strnlen(expr, JFILTER_MAX_EXPR + 1);
    if (p.n > JFILTER_MAX_EXPR) {
        err_set(err, ERR_TOOBIG, "expression longer than %d bytes",
                JFILTER_MAX_EXPR);
        return NULL;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL) {
        err_set(err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
        return NULL;
    }
    if (p.n == 0)
        return f;
    p.f = f;
    ws(&p, &pos, false);
    f->root = list_expr(&p, &pos, true);
    if (f->root != NULL) {
        ws(&p, &pos, false);
        if (pos == p.n)
            return f;
        expect(&p, pos, "EOF");
    }
    report(&p, err);
    jfilter_free(f);
    return NULL;
}

void jfilter_free(struct jfilter *f)
{
    struct chunk *c, *cn;

    if (f == NULL)
        return;
    for (struct relist *r = f->res; r != NULL; r = r->next)
        regfree(&r->re);
    for (c = f->chunks; c != NULL; c = cn) {
        cn = c->next;
        free(c);
    }
    free(f);
}

/* ---- evaluation: Go strconv coercions of the raw value ---- */

static bool go_bool(const char *s, size_t n, bool *b)
{
    static const char *const names[] = {"1", "t", "T", "TRUE", "true",
                                        "True", "0", "f", "F", "FALSE",
                                        "false", "False"};

    for (int i = 0; i < 12; i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            *b = i < 6;
            return true;
        }
    }
    return false;
}

/* Go's underscoreOK: '_' only between digits or after a base prefix. */
static bool underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    bool hex = false;

    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        s++, n--;
    if (n >= 2 && s[0] == '0' && strchr("bBoOxX", s[1]) != NULL) {
        i = 2;
        saw = '0';
        hex = (s[1] | 0x20) == 'x';
    }
    for (; i < n; i++) {
        if (is_digit(s[i]) || (hex && hexval(s[i]) >= 0)) {
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

/* strconv.ParseInt(s, 0, 64) */
static bool go_int(const char *s, size_t n, long long *out)
{
    size_t i = 0, body;
    unsigned long long v = 0, lim;
    bool neg = false, us = false;
    int base = 10;

    if (n > 0 && (s[0] == '+' || s[0] == '-'))
        neg = s[i++] == '-';
    if (i >= n)
        return false;
    body = i;
    if (s[i] == '0') {
        char c = n - i >= 3 ? (char)(s[i + 1] | 0x20) : '\0';

        base = c == 'x' ? 16 : c == 'b' ? 2 : 8;
        i += c == 'x' || c == 'b' || c == 'o' ? 2 : 1;
    }
    for (; i < n; i++) {
        int d = s[i] == '_' ? -2 : is_alpha(s[i]) ? (s[i] | 0x20) - 'a' + 10
                              : is_digit(s[i]) ? s[i] - '0' : -1;

        if (d == -2) {
            us = true;
            continue;
        }
        if (d < 0 || d >= base || v > (ULLONG_MAX - (unsigned)d) / base)
            return false;
        v = v * (unsigned)base + (unsigned)d;
    }
    if (us && !underscore_ok(s + body, n - body))
        return false;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    if (v > lim)
        return false;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

/* strconv.ParseFloat(s, 64), approximated with strtod. */
static bool go_float(const char *s, size_t n, double *out)
{
    char buf[64], *end;

    if (n == 0 || n >= sizeof(buf) || is_ws(s[0]) || memchr(s, 0, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    return *end == '\0' && !(errno == ERANGE && isinf(*out));
}

static bool eq_scalar(const json_t *v, const char *raw, size_t n)
{
    long long i;
    double d;
    bool b;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) == n &&
               memcmp(json_string_value(v), raw, n) == 0;
    case JSON_INTEGER:
        if (go_int(raw, n, &i))
            return i == json_integer_value(v);
        return go_float(raw, n, &d) && d == (double)json_integer_value(v);
    case JSON_REAL:
        return go_float(raw, n, &d) && d == json_real_value(v);
    case JSON_TRUE:
    case JSON_FALSE:
        return go_bool(raw, n, &b) && b == json_is_true(v);
    default:
        return false;
    }
}

static const json_t *member(const json_t *obj, const char *k, size_t n)
{
#if JANSSON_VERSION_HEX >= 0x020e00
    return json_object_getn(obj, k, n);
#else
    return memchr(k, '\0', n) == NULL ? json_object_get(obj, k) : NULL;
#endif
}

static bool contains(const json_t *v, const char *raw, size_t n)
{
    const json_t *e;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return memmem(json_string_value(v), json_string_length(v), raw, n) !=
               NULL;
    case JSON_ARRAY:
        json_array_foreach(v, i, e) if (eq_scalar(e, raw, n)) return true;
        return false;
    case JSON_OBJECT:
        return member(v, raw, n) != NULL;
    default:
        return false;
    }
}

/* The positive form of the operator on a present value. */
static bool positive(const struct node *m, const json_t *v)
{
    switch (m->op) {
    case OP_EQ:
        return eq_scalar(v, m->val, m->vlen);
    case OP_IN:
        return contains(v, m->val, m->vlen);
    case OP_EMPTY:
        return (json_is_string(v) && json_string_length(v) == 0) ||
               (json_is_array(v) && json_array_size(v) == 0) ||
               (json_is_object(v) && json_object_size(v) == 0);
    case OP_MATCHES:
        return json_is_string(v) &&
               json_regex_match(m->re, json_string_value(v),
                                json_string_length(v));
    }
    return false;
}

/* go-bexpr's NotPresentDisposition: nothing equals, contains or matches
 * a missing value, and it is empty. */
static bool absent(const struct node *m)
{
    return (m->op == OP_EMPTY) != m->neg;
}

/* Follow the selector from part i; arrays on the way are "any". */
static bool walk(const struct node *m, int i, const json_t *v, int nest)
{
    const json_t *e;
    size_t k;

    if (v == NULL || json_is_null(v))
        return absent(m);
    if (i < m->npart && json_is_array(v)) {
        if (nest >= JFILTER_MAX_DEPTH)
            return false;
        json_array_foreach(v, k, e) if (walk(m, i, e, nest + 1)) return true;
        return false;
    }
    if (i == m->npart)
        return positive(m, v) != m->neg;
    if (!json_is_object(v))
        return absent(m);
    return walk(m, i + 1, member(v, m->part[i].s, m->part[i].n), nest);
}

static bool eval(const struct node *n, const json_t *v)
{
    const struct node *k;

    switch (n->kind) {
    case N_AND:
        for (k = n->kid; k != NULL; k = k->next)
            if (!eval(k, v))
                return false;
        return true;
    case N_OR:
        for (k = n->kid; k != NULL; k = k->next)
            if (eval(k, v))
                return true;
        return false;
    case N_NOT:
        return !eval(n->kid, v);
    case N_MATCH:
        return walk(n, 0, v, 0);
    }
    return false;
}

bool jfilter_match(const struct jfilter *f, const json_t *obj)
{
    if (f == NULL || f->root == NULL)
        return true;
    return eval(f->root, obj);
}

json_t *jfilter_apply_array(const struct jfilter *f, const json_t *arr)
{
    const json_t *e;
    json_t *out;
    size_t i;

    if (!json_is_array(arr) || (out = json_array()) == NULL)
        return NULL;
    json_array_foreach(arr, i, e) {
        if (jfilter_match(f, e) && json_array_append(out, (json_t *)e)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *jfilter_apply_object(const struct jfilter *f, const json_t *obj)
{
    json_t *o = (json_t *)obj; /* jansson's iterators are not const */
    json_t *out, *v;
    void *it;

    if (!json_is_object(obj) || (out = json_object()) == NULL)
        return NULL;
    for (it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        v = json_object_iter_value(it);
        if (!jfilter_match(f, v))
            continue;
#if JANSSON_VERSION_HEX >= 0x020e00
        if (json_object_setn(out, json_object_iter_key(it),
                             json_object_iter_key_len(it), v) == 0)
            continue;
#else
        if (json_object_set(out, json_object_iter_key(it), v) == 0)
            continue;
#endif
        json_decref(out);
        return NULL;
    }
    return out;
}

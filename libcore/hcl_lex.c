/* hcl_lex.c - tokenizer for HCL 1 and JSON with comments.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Owns: the look-ahead token's text until the parser steals it.
 * Never reads past end: the input need not be NUL-terminated.
 * Tests: t/unit/check_cfg.c
 */
#include "hcl_int.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct sbuf {
    char *b;
    size_t n, cap;
    bool oom;
};

/* A line of a heredoc, without its newline. */
struct span {
    const char *s;
    size_t n;
};

static void sb_putc(struct sbuf *sb, char c)
{
    if (sb->oom)
        return;
    if (sb->n + 1 >= sb->cap) {
        size_t cap = sb->cap ? sb->cap * 2 : 64;
        char *nb = realloc(sb->b, cap);
        if (nb == NULL) {
            sb->oom = true;
            return;
        }
        sb->b = nb;
        sb->cap = cap;
    }
    sb->b[sb->n++] = c;
    sb->b[sb->n] = '\0';
}

static void sb_put(struct sbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(sb, s[i]);
}

static void sb_put_utf8(struct sbuf *sb, uint32_t cp)
{
    if (cp < 0x80) {
        sb_putc(sb, (char)cp);
    } else if (cp < 0x800) {
        sb_putc(sb, (char)(0xC0 | (cp >> 6)));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sb_putc(sb, (char)(0xE0 | (cp >> 12)));
        sb_putc(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    } else {
        sb_putc(sb, (char)(0xF0 | (cp >> 18)));
        sb_putc(sb, (char)(0x80 | ((cp >> 12) & 0x3F)));
        sb_putc(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sb_putc(sb, (char)(0x80 | (cp & 0x3F)));
    }
}

/* RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF;
 * the same rules jansson applies, so its constructors cannot refuse. */
static bool utf8_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = u[i];
        size_t k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((u[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static int peekc(const struct hcl_lex *lx, size_t off)
{
    if ((size_t)(lx->end - lx->p) <= off)
        return -1;
    return (unsigned char)lx->p[off];
}

/* Columns count characters: continuation bytes do not move them. */
static void adv(struct hcl_lex *lx)
{
    unsigned char c = (unsigned char)*lx->p++;

    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        lx->col++;
    }
}

static void adv_n(struct hcl_lex *lx, size_t n)
{
    while (n-- > 0 && lx->p < lx->end)
        adv(lx);
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static bool is_ident_char(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.';
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hcl_fail(struct hcl_lex *lx, int line, int col, const char *fmt, ...)
{
    char msg[ERR_LEN], q[ERR_QUOTE_MAX + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(lx->err, ERR_PARSE, "%s:%d:%d: %s",
                   err_quote(q, sizeof(q), lx->name), line, col, msg);
}

static int nomem(struct hcl_lex *lx)
{
    return err_set(lx->err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
}

const char *hcl_tok_desc(const struct hcl_tok *t, char *buf, size_t n)
{
    switch (t->t) {
    case HCL_T_EOF: return "end of input";
    case HCL_T_LBRACE: return "'{'";
    case HCL_T_RBRACE: return "'}'";
    case HCL_T_LBRACK: return "'['";
    case HCL_T_RBRACK: return "']'";
    case HCL_T_COMMA: return "','";
    case HCL_T_EQUAL: return "'='";
    case HCL_T_COLON: return "':'";
    case HCL_T_STRING: return "string";
    case HCL_T_NUMBER: return "number";
    case HCL_T_IDENT:
        /* An unquoted value may be a token: name only the keywords. */
        if (strcmp(t->s, "true") != 0 && strcmp(t->s, "false") != 0 &&
            strcmp(t->s, "null") != 0)
            return "a bare word";
        snprintf(buf, n, "'%s'", t->s);
        return buf;
    }
    return "token";
}

void hcl_tok_clear(struct hcl_tok *t)
{
    free(t->s);
    json_decref(t->num);
    memset(t, 0, sizeof(*t));
}

void hcl_lex_init(struct hcl_lex *lx, const char *text, size_t len,
                  const char *name, bool json, char *err)
{
    memset(lx, 0, sizeof(*lx));
    lx->p = text;
    lx->end = text + len;
    lx->name = name != NULL ? name : "<input>";
    lx->line = 1;
    lx->col = 1;
    lx->json = json;
    lx->err = err;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        lx->p += 3;
}

static int skip_block_comment(struct hcl_lex *lx)
{
    int line = lx->line, col = lx->col;

    adv_n(lx, 2);
    for (;;) {
        if (lx->p >= lx->end)
            return hcl_fail(lx, line, col, "comment not terminated");
        if (*lx->p == '*' && peekc(lx, 1) == '/') {
            adv_n(lx, 2);
            return 0;
        }
        adv(lx);
    }
}

int hcl_skip_space(struct hcl_lex *lx)
{
    while (lx->p < lx->end) {
        int c = (unsigned char)*lx->p;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            adv(lx);
        } else if (c == '#' || (c == '/' && peekc(lx, 1) == '/')) {
            while (lx->p < lx->end && *lx->p != '\n')
                adv(lx);
        } else if (c == '/' && peekc(lx, 1) == '*') {
            if (skip_block_comment(lx) != 0)
                return ERR_PARSE;
        } else {
            break;
        }
    }
    return 0;
}

static int read_hex(struct hcl_lex *lx, int ndig, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < ndig; i++) {
        int h = hexval(peekc(lx, 0));

        if (h < 0)
            return -1;
        v = v * 16 + (uint32_t)h;
        adv(lx);
    }
    *out = v;
    return 0;
}

static int lex_unicode(struct hcl_lex *lx, struct sbuf *sb, int ndig,
                       int line, int col)
{
    uint32_t cp, lo;

    if (read_hex(lx, ndig, &cp) != 0)
        return hcl_fail(lx, line, col, "invalid unicode escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (peekc(lx, 0) != '\\' || peekc(lx, 1) != 'u')
            return hcl_fail(lx, line, col, "unpaired surrogate in escape");
        adv_n(lx, 2);
        if (read_hex(lx, 4, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return hcl_fail(lx, line, col, "unpaired surrogate in escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return hcl_fail(lx, line, col, "unpaired surrogate in escape");
    }
    if (cp == 0)
        return hcl_fail(lx, line, col, "NUL character in string");
    if (cp > 0x10FFFF)
        return hcl_fail(lx, line, col, "invalid unicode escape");
    sb_put_utf8(sb, cp);
    return 0;
}

/* Go's escapes (HCL 1 unquotes like Go): \a \v \x \NNN \U besides JSON's. */
static int lex_go_escape(struct hcl_lex *lx, struct sbuf *sb, int c,
                         int line, int col)
{
    uint32_t v;

    switch (c) {
    case 'a': sb_putc(sb, '\a'); return 0;
    case 'v': sb_putc(sb, '\v'); return 0;
    case 'U': return lex_unicode(lx, sb, 8, line, col);
    case 'x':
        if (read_hex(lx, 2, &v) != 0 || v == 0)
            break;
        sb_putc(sb, (char)v);
        return 0;
    }
    if (c >= '0' && c <= '7') {
        int d1 = peekc(lx, 0), d2 = peekc(lx, 1);

        if (d1 < '0' || d1 > '7' || d2 < '0' || d2 > '7')
            return hcl_fail(lx, line, col, "invalid octal escape");
        v = (uint32_t)((c - '0') * 64 + (d1 - '0') * 8 + (d2 - '0'));
        adv_n(lx, 2);
        if (v == 0 || v > 255)
            return hcl_fail(lx, line, col, "invalid octal escape");
        sb_putc(sb, (char)v);
        return 0;
    }
    return hcl_fail(lx, line, col, "invalid escape sequence '\\%c'",
                    c > 0x20 && c < 0x7f ? c : '?');
}

static int lex_escape(struct hcl_lex *lx, struct sbuf *sb)
{
    int line = lx->line, col = lx->col, c;

    adv(lx); /* the backslash */
    c = peekc(lx, 0);
    if (c < 0)
        return hcl_fail(lx, line, col, "invalid escape sequence");
    adv(lx);
    switch (c) {
    case '"':
    case '\\':
    case '/': sb_putc(sb, (char)c); return 0;
    case 'b': sb_putc(sb, '\b'); return 0;
    case 'f': sb_putc(sb, '\f'); return 0;
    case 'n': sb_putc(sb, '\n'); return 0;
    case 'r': sb_putc(sb, '\r'); return 0;
    case 't': sb_putc(sb, '\t'); return 0;
    case 'u': return lex_unicode(lx, sb, 4, line, col);
    }
    if (lx->json)
        return hcl_fail(lx, line, col, "invalid escape sequence '\\%c'",
                        c > 0x20 && c < 0x7f ? c : '?');
    return lex_go_escape(lx, sb, c, line, col);
}

static int tok_text(struct hcl_lex *lx, struct hcl_tok *t, struct sbuf *sb)
{
    if (sb->oom) {
        free(sb->b);
        return nomem(lx);
    }
    if (!utf8_ok(sb->b, sb->n)) {
        free(sb->b);
        return hcl_fail(lx, t->line, t->col, "invalid UTF-8 in %s",
                        t->t == HCL_T_IDENT ? "name" : "string");
    }
    if (sb->b == NULL && (sb->b = calloc(1, 1)) == NULL)
        return nomem(lx);
    t->s = sb->b;
    t->n = sb->n;
    return 0;
}

/* One character of a string body; HCL keeps quotes inside ${...}. */
static int string_char(struct hcl_lex *lx, struct sbuf *sb, int *braces)
{
    int c = peekc(lx, 0);

    if (c == '\\')
        return lex_escape(lx, sb);
    if (c == 0)
        return hcl_fail(lx, lx->line, lx->col, "NUL byte in string");
    if (lx->json && c < 0x20)
        return hcl_fail(lx, lx->line, lx->col,
                        "control character in string");
    if (!lx->json) {
        if (c == '$' && peekc(lx, 1) == '{') {
            sb_put(sb, "${", 2);
            adv_n(lx, 2);
            (*braces)++;
            return 0;
        }
        if (*braces > 0 && c == '{')
            (*braces)++;
        else if (*braces > 0 && c == '}')
            (*braces)--;
    }
    sb_putc(sb, (char)c);
    adv(lx);
    return 0;
}

static int lex_string(struct hcl_lex *lx, struct hcl_tok *t)
{
    struct sbuf sb = {0};
    int braces = 0, c;

    t->t = HCL_T_STRING;
    adv(lx);
    for (;;) {
        c = peekc(lx, 0);
        if (c < 0 || c == '\n') {
            free(sb.b);
            return hcl_fail(lx, t->line, t->col, "string not terminated");
        }
        if (c == '"' && braces == 0) {
            adv(lx);
            break;
        }
        if (string_char(lx, &sb, &braces) != 0) {
            free(sb.b);
            return ERR_PARSE;
        }
    }
    return tok_text(lx, t, &sb);
}

/* Lines after the marker up to the closing one; that line's leading
 * white space is *pre. */
static int heredoc_lines(struct hcl_lex *lx, struct hcl_tok *t,
                         const char *mark, size_t mlen, struct span **ls,
                         size_t *nl, struct span *pre)
{
    size_t cap = 0;

    for (;;) {
        const char *s = lx->p, *e = s, *b;
        size_t n;

        if (s >= lx->end)
            return hcl_fail(lx, t->line, t->col, "heredoc not terminated");
        while (e < lx->end && *e != '\n')
            e++;
        n = (size_t)(e - s);
        if (n > 0 && s[n - 1] == '\r')
            n--;
        for (b = s; b < s + n && (*b == ' ' || *b == '\t'); b++)
            ;
        if ((size_t)(s + n - b) == mlen && memcmp(b, mark, mlen) == 0) {
            pre->s = s;
            pre->n = (size_t)(b - s);
            adv_n(lx, (size_t)(e - s));
            return 0;
        }
        if (*nl == cap) {
            struct span *nls;

            cap = cap ? cap * 2 : 16;
            if ((nls = realloc(*ls, cap * sizeof(**ls))) == NULL)
                return nomem(lx);
            *ls = nls;
        }
        (*ls)[(*nl)++] = (struct span){s, n};
        adv_n(lx, (size_t)(e - s) + 1);
    }
}

static int heredoc_body(struct hcl_lex *lx, struct hcl_tok *t,
                        const char *mark, size_t mlen, bool indent)
{
    struct span *ls = NULL, pre = {NULL, 0};
    struct sbuf sb = {0};
    size_t nl = 0, cut = 0;
    int rc = heredoc_lines(lx, t, mark, mlen, &ls, &nl, &pre);

    if (rc != 0) {
        free(ls);
        return rc;
    }
    if (indent) {
        cut = pre.n;
        for (size_t i = 0; i < nl; i++)
            if (ls[i].n < pre.n || memcmp(ls[i].s, pre.s, pre.n) != 0)
                cut = 0;
    }
    for (size_t i = 0; i < nl; i++) {
        sb_put(&sb, ls[i].s + cut, ls[i].n - cut);
        sb_putc(&sb, '\n');
    }
    free(ls);
    return tok_text(lx, t, &sb);
}

static bool is_word(int c) { return is_alpha(c) || is_digit(c) || c == '-'; }

static int lex_heredoc(struct hcl_lex *lx, struct hcl_tok *t)
{
    const char *mark;
    size_t mlen = 0;
    bool indent = false;

    t->t = HCL_T_STRING;
    adv_n(lx, 2);
    if (peekc(lx, 0) == '-') {
        indent = true;
        adv(lx);
    }
    mark = lx->p;
    while (is_word(peekc(lx, 0)) && peekc(lx, 0) < 0x80) {
        adv(lx);
        mlen++;
    }
    if (mlen == 0)
        return hcl_fail(lx, t->line, t->col, "heredoc marker missing");
    if (peekc(lx, 0) == '\r')
        adv(lx);
    if (peekc(lx, 0) != '\n')
        return hcl_fail(lx, lx->line, lx->col,
                        "heredoc marker must end the line");
    adv(lx);
    return heredoc_body(lx, t, mark, mlen, indent);
}

static size_t scan_digits(const char *s, size_t i, size_t n, bool hex)
{
    while (i < n && (hex ? hexval((unsigned char)s[i]) >= 0
                         : is_digit((unsigned char)s[i])))
        i++;
    return i;
}

/* Length of the number at s (0: malformed); *flt, *base describe it. */
static size_t scan_number(const char *s, size_t n, bool json, bool *flt,
                          int *base)
{
    size_t i = s[0] == '-' ? 1 : 0, d;

    *flt = false;
    *base = 10;
    if (i >= n || !is_digit((unsigned char)s[i]))
        return 0;
    if (!json && s[i] == '0' && i + 1 < n && (s[i + 1] | 0x20) == 'x') {
        d = i + 2;
        i = scan_digits(s, d, n, true);
        *base = 16;
        return i == d ? 0 : i;
    }
    if (!json && s[i] == '0' && i + 1 < n && is_digit((unsigned char)s[i + 1]))
        *base = 8;
    i = json && s[i] == '0' ? i + 1 : scan_digits(s, i, n, false);
    if (i < n && s[i] == '.') {
        d = i + 1;
        if ((i = scan_digits(s, d, n, false)) == d)
            return 0;
        *flt = true;
    }
    if (i < n && (s[i] | 0x20) == 'e') {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        if ((i = scan_digits(s, d, n, false)) == d)
            return 0;
        *flt = true;
    }
    if (*flt)
        *base = 10;
    return i;
}

static int make_number(struct hcl_lex *lx, struct hcl_tok *t, const char *buf,
                       bool flt, int base)
{
    char *e;

    errno = 0;
    if (flt) {
        double d = strtod(buf, &e);

        if (*e != '\0')
            return hcl_fail(lx, t->line, t->col, "invalid number");
        if (d > DBL_MAX || d < -DBL_MAX)
            return hcl_fail(lx, t->line, t->col, "number out of range");
        t->num = json_real(d);
    } else {
        long long v = strtoll(buf, &e, base);

        if (*e != '\0')
            return hcl_fail(lx, t->line, t->col, "invalid number");
        if (errno == ERANGE)
            return hcl_fail(lx, t->line, t->col, "number out of range");
        t->num = json_integer((json_int_t)v);
    }
    return t->num != NULL ? 0 : nomem(lx);
}

static int lex_number(struct hcl_lex *lx, struct hcl_tok *t)
{
    size_t avail = (size_t)(lx->end - lx->p), n;
    bool flt;
    int base, rc;
    char *buf;

    t->t = HCL_T_NUMBER;
    n = scan_number(lx->p, avail, lx->json, &flt, &base);
    if (n == 0 || (n < avail && is_ident_char((unsigned char)lx->p[n])))
        return hcl_fail(lx, t->line, t->col, "invalid number");
    if ((buf = malloc(n + 1)) == NULL)
        return nomem(lx);
    memcpy(buf, lx->p, n);
    buf[n] = '\0';
    rc = make_number(lx, t, buf, flt, base);
    free(buf);
    adv_n(lx, n);
    return rc;
}

static int lex_ident(struct hcl_lex *lx, struct hcl_tok *t)
{
    struct sbuf sb = {0};
    int rc;

    t->t = HCL_T_IDENT;
    while (is_ident_char(peekc(lx, 0))) {
        sb_putc(&sb, *lx->p);
        adv(lx);
    }
    if ((rc = tok_text(lx, t, &sb)) != 0)
        return rc;
    if (lx->json && strcmp(t->s, "true") != 0 &&
        strcmp(t->s, "false") != 0 && strcmp(t->s, "null") != 0)
        return hcl_fail(lx, t->line, t->col, "invalid literal (strings "
                        "need double quotes)");
    return 0;
}

static int punct(struct hcl_lex *lx, enum hcl_tt tt)
{
    lx->tok.t = tt;
    adv(lx);
    return 0;
}

static int unexpected_char(struct hcl_lex *lx, int c)
{
    if (c > 0x20 && c < 0x7f)
        return hcl_fail(lx, lx->line, lx->col, "unexpected character '%c'",
                        c);
    return hcl_fail(lx, lx->line, lx->col, "unexpected byte 0x%02x", c);
}

int hcl_lex_next(struct hcl_lex *lx)
{
    struct hcl_tok *t = &lx->tok;
    int c;

    hcl_tok_clear(t);
    if (hcl_skip_space(lx) != 0)
        return ERR_PARSE;
    t->line = lx->line;
    t->col = lx->col;
    c = peekc(lx, 0);
    switch (c) {
    case -1: t->t = HCL_T_EOF; return 0;
    case '{': return punct(lx, HCL_T_LBRACE);
    case '}': return punct(lx, HCL_T_RBRACE);
    case '[': return punct(lx, HCL_T_LBRACK);
    case ']': return punct(lx, HCL_T_RBRACK);
    case ',': return punct(lx, HCL_T_COMMA);
    case '=':
        if (lx->json)
            break;
        return punct(lx, HCL_T_EQUAL);
    case ':':
        if (!lx->json)
            break;
        return punct(lx, HCL_T_COLON);
    case '"': return lex_string(lx, t);
    case '<':
        if (!lx->json && peekc(lx, 1) == '<')
            return lex_heredoc(lx, t);
        break;
    case '-':
        if (is_digit(peekc(lx, 1)))
            return lex_number(lx, t);
        break;
    }
    if (is_digit(c))
        return lex_number(lx, t);
    if (is_alpha(c))
        return lex_ident(lx, t);
    return unexpected_char(lx, c);
}

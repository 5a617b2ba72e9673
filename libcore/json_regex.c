/* json_regex.c - Go (RE2) regular expressions on POSIX regcomp.
 *
 * Layer: codec (uses util). Thread: any.
 * Owns: nothing.
 * Tests: t/unit/check_json_filter.c
 *
 * One pass over the pattern copies it to POSIX ERE, rewriting RE2 forms
 * and keeping a size estimate (nodes after glibc expands counted
 * repeats and '+', which it builds as copies) per open group, so a pattern that would make regcomp build a
 * huge automaton is refused before regcomp sees it.
 */
#include "json_regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_REGEX_MAX_DEPTH 64

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#define RE_MAX_REPEAT 1000
#define RE_MAX_SIZE 2000

struct retr {
    const char *in;
    size_t n, i;
    char *out;
    size_t o;
    int depth;
    long w[JSON_REGEX_MAX_DEPTH + 1]; /* size of each open group so far */
    long last;                     /* size of the last atom, 0: none */
    int rep;                       /* repetition operators just before */
    const char *why;
};

static void put(struct retr *t, const char *s)
{
    size_t k = strlen(s);

    memcpy(t->out + t->o, s, k);
    t->o += k;
}

static void putch(struct retr *t, char c)
{
    t->out[t->o++] = c;
}

static void atom(struct retr *t, long w)
{
    t->last = w;
    t->w[t->depth] += w;
    if (t->w[t->depth] > RE_MAX_SIZE)
        t->why = "expression too large";
}

static const char *ctl_char(char c)
{
    switch (c) {
    case 'n': return "\n";
    case 't': return "\t";
    case 'r': return "\r";
    case 'f': return "\f";
    case 'v': return "\v";
    }
    return NULL;
}

static bool is_punct(char c)
{
    return c > ' ' && c < 0x7f && !is_alpha(c) && !is_digit(c);
}

/* An escape outside brackets; t->i is at the backslash. */
static void re_escape(struct retr *t)
{
    char c = t->i + 1 < t->n ? t->in[t->i + 1] : '\0';
    static const char special[] = ".[]()*+?{}|^$\\";

    t->i += 2;
    if (c == 'd' || c == 'D') {
        put(t, c == 'd' ? "[0-9]" : "[^0-9]");
    } else if (c != '\0' && strchr("wWsSbB", c) != NULL) {
        putch(t, '\\'); /* GNU extensions with RE2's meaning */
        putch(t, c);
    } else if (c == 'A' || c == 'z') {
        put(t, c == 'A' ? "\\`" : "\\'");
    } else if (c != '\0' && ctl_char(c) != NULL) {
        put(t, ctl_char(c));
    } else if (c != '\0' && strchr(special, c) != NULL) {
        putch(t, '\\');
        putch(t, c);
    } else if (is_punct(c)) {
        putch(t, '['); /* \< \> \` \' are GNU operators: use a class */
        putch(t, c);
        putch(t, ']');
    } else {
        t->why = c == '\0' ? "trailing backslash at end of expression"
                           : "invalid or unsupported escape sequence";
    }
    atom(t, 1);
}

/* An escape inside brackets, where POSIX has no escapes at all. */
static size_t class_escape(struct retr *t, size_t i)
{
    char c = i + 1 < t->n ? t->in[i + 1] : '\0';

    if (c == 'd')
        put(t, "0-9");
    else if (c == 's')
        put(t, "[:space:]");
    else if (c == 'w')
        put(t, "[:alnum:]_");
    else if (c != '\0' && ctl_char(c) != NULL)
        put(t, ctl_char(c));
    else if (c == ']' || c == '-' || c == '^' || c == '[')
        put(t, c == ']' ? "[.].]" : c == '-' ? "[.-.]"
                                  : c == '^' ? "[.^.]" : "[.[.]");
    else if (is_punct(c))
        putch(t, c);
    else
        t->why = "invalid or unsupported escape sequence in class";
    return i + 2;
}

static void re_class(struct retr *t)
{
    size_t i = t->i + 1;
    const char *e;

    putch(t, '[');
    if (i < t->n && t->in[i] == '^')
        putch(t, t->in[i++]);
    for (bool first = true; t->why == NULL; first = false) {
        if (i >= t->n) {
            t->why = "missing closing ]";
            return;
        }
        if (t->in[i] == ']' && !first)
            break;
        if (t->in[i] == '[' && i + 1 < t->n && t->in[i + 1] == ':') {
            e = memmem(t->in + i + 2, t->n - i - 2, ":]", 2);
            if (e == NULL) {
                t->why = "missing closing :]";
                return;
            }
            memcpy(t->out + t->o, t->in + i, (size_t)(e + 2 - (t->in + i)));
            t->o += (size_t)(e + 2 - (t->in + i));
            i = (size_t)(e + 2 - t->in);
        } else if (t->in[i] == '[') {
            put(t, "[.[.]");
            i++;
        } else if (t->in[i] == '\\') {
            i = class_escape(t, i);
        } else {
            putch(t, t->in[i++]);
        }
    }
    putch(t, ']');
    t->i = i + 1;
    atom(t, 1);
}

static void re_group(struct retr *t)
{
    size_t i = t->i + 1;
    const char *e;

    if (i < t->n && t->in[i] == '?') {
        if (i + 1 < t->n && t->in[i + 1] == ':') {
            i += 2;
        } else if (i + 1 < t->n &&
                   (t->in[i + 1] == '<' || t->in[i + 1] == 'P') &&
                   (e = memchr(t->in + i, '>', t->n - i)) != NULL) {
            i = (size_t)(e + 1 - t->in);
        } else {
            t->why = "unsupported group flags";
            return;
        }
    }
    if (t->depth >= JSON_REGEX_MAX_DEPTH) {
        t->why = "expression nests too deeply";
        return;
    }
    t->w[++t->depth] = 0;
    t->last = 0;
    putch(t, '(');
    t->i = i;
}

static bool re_count(const struct retr *t, size_t *i, long *v)
{
    if (*i >= t->n || !is_digit(t->in[*i]))
        return false;
    for (*v = 0; *i < t->n && is_digit(t->in[*i]); (*i)++)
        *v = *v > 100000 ? *v : *v * 10 + (t->in[*i] - '0');
    return true;
}

/* The last atom repeated: glibc's regcomp builds mult copies of it. */
static void grow(struct retr *t, long mult)
{
    t->w[t->depth] += t->last * (mult - 1);
    t->last *= mult;
    if (t->w[t->depth] > RE_MAX_SIZE || t->last > RE_MAX_SIZE)
        t->why = "expression too large";
}

/* {n} {n,} {n,m} are repeats; any other '{' is a literal, as in RE2. */
static void re_repeat(struct retr *t)
{
    size_t i = t->i + 1;
    long lo = 0, hi = -1, mult;
    bool ok = re_count(t, &i, &lo);

    if (ok && i < t->n && t->in[i] == ',') {
        i++;
        if (!re_count(t, &i, &hi))
            hi = -1;
    } else {
        hi = lo;
    }
    if (!ok || i >= t->n || t->in[i] != '}') {
        put(t, "\\{");
        t->i++;
        atom(t, 1);
        return;
    }
    if (lo > RE_MAX_REPEAT || hi > RE_MAX_REPEAT || (hi >= 0 && hi < lo)) {
        t->why = "invalid repeat count";
        return;
    }
    if (t->last == 0) {
        t->why = "missing argument to repetition operator";
        return;
    }
    if (t->rep > 0) {
        t->why = "invalid nested repetition operator";
        return;
    }
    /* glibc expands a{n,m} into max(n+1, m) copies of a */
    mult = hi < 0 ? lo + 1 : hi > 0 ? hi : 1;
    grow(t, mult);
    memcpy(t->out + t->o, t->in + t->i, i + 1 - t->i);
    t->o += i + 1 - t->i;
    t->i = i + 1;
}

/* A leading (?flags): i maps to REG_ICASE; m, s, U are accepted and
 * ignored (see the header). */
static void re_flags(struct retr *t, int *cflags)
{
    size_t i = 2;

    if (t->n < 4 || memcmp(t->in, "(?", 2) != 0)
        return;
    while (i < t->n && t->in[i] != '\0' && strchr("imsU", t->in[i]) != NULL)
        i++;
    if (i == 2 || i >= t->n || t->in[i] != ')')
        return;
    if (memchr(t->in + 2, 'i', i - 2) != NULL)
        *cflags |= REG_ICASE;
    t->i = i + 1;
}

static void re_close(struct retr *t)
{
    long w;

    if (t->depth == 0) {
        t->why = "unexpected )";
        return;
    }
    w = t->w[t->depth--];
    putch(t, ')');
    t->i++;
    atom(t, w > 0 ? w : 1);
}

static void re_translate(struct retr *t)
{
    while (t->why == NULL && t->i < t->n) {
        char c = t->in[t->i];
        int rep = 0;

        if (c == '\\') {
            re_escape(t);
        } else if (c == '[') {
            re_class(t);
        } else if (c == '(') {
            re_group(t);
        } else if (c == ')') {
            re_close(t);
        } else if (c == '{') {
            size_t at = t->i;

            re_repeat(t);
            rep = t->i - at > 1; /* a literal { moves on by one */
        } else if (c == '*' || c == '+' || c == '?') {
            /* As Go's regexp (Consul's): one operator, optionally made
             * lazy by a ?; a**, a+* or a*{2} are refused. Stacked
             * operators also make glibc's regcomp exponential. */
            if (t->rep > 1 || (t->rep == 1 && c != '?')) {
                t->why = "invalid nested repetition operator";
                break;
            }
            putch(t, c);
            t->i++;
            if (c == '+')
                grow(t, 2); /* a+ is a a* */
            rep = t->rep + 1;
        } else {
            putch(t, c);
            t->i++;
            if (c == '|' || c == '^' || c == '$')
                t->last = 0;
            else
                atom(t, 1);
        }
        t->rep = rep;
    }
    if (t->why == NULL && t->depth > 0)
        t->why = "missing closing )";
    t->out[t->o] = '\0';
}

int json_regex_compile(regex_t *re, const char *pat, size_t len, char *err)
{
    struct retr t = {.in = pat, .n = len};
    int cflags = REG_EXTENDED | REG_NOSUB, rc;

    if (memchr(pat, '\0', len) != NULL)
        return err_set(err, ERR_INVAL, "NUL byte in expression");
    t.out = malloc(6 * len + 16); /* worst case: \] -> [.].] */
    if (t.out == NULL)
        return err_set(err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
    re_flags(&t, &cflags);
    re_translate(&t);
    if (t.why != NULL) {
        free(t.out);
        return err_set(err, ERR_INVAL, "%s", t.why);
    }
    rc = regcomp(re, t.out, cflags);
    free(t.out);
    if (rc != 0) {
        if (err != NULL)
            regerror(rc, re, err, ERR_LEN);
        return ERR_INVAL;
    }
    return 0;
}

bool json_regex_match(const regex_t *re, const char *s, size_t len)
{
    regmatch_t m[1];

    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    return regexec(re, s, 1, m, REG_STARTEND) == 0;
}

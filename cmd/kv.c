/* kv.c - "consul kv get|put|delete": the key/value store from the CLI
 * (export and import: kv_port.c).
 *
 * Endpoints: GET /v1/kv/<key> [?recurse= | ?keys=&separator=],
 *            PUT /v1/kv/<key> [?flags=N] [?cas=N | ?acquire=S | ?release=S],
 *            DELETE /v1/kv/<key> [?recurse= | ?cas=N].
 * Output, messages and checks follow Consul's command/kv/{get,put,del};
 * "-detailed" reproduces Go's text/tabwriter (minwidth 0, tabwidth 2,
 * padding 6, ' '), and -base64 Go's base64.StdEncoding, partial decodes
 * included.
 * Exit codes: 0 ok (also "-h": help on stdout); 1 anything else: bad flag
 * (Go's message then "Usage:" and the flag list on stderr), bad arguments,
 * transport or API error, missing key, CAS or lock refused, "kv" without
 * a known verb (help on stderr).
 * Tests: t/t1*.sh
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "kv_cli.h"
#include "opt.h"

struct help {
    const char *synopsis;
    const char *text;
};


/* One api.KVPair as decoded from the agent's JSON. */
struct pair {
    const char *key;
    struct kvc_bytes val;
    unsigned long long flags, create, modify, lock;
    const char *session;
};

/* ---- flags ---------------------------------------------------------- */

static void add(struct opt *opts, int *n, const char *name,
                enum opt_type type, void *dst, const char *help)
{
    opts[(*n)++] = (struct opt){
        .name = name, .type = type, .dst = dst, .help = help};
}

/* -h anywhere, or parse. Returns -1 to go on (*rest set), else the exit
 * code. A parse error prints what Go's flag package prints. */
int kvc_parse(const char *synopsis, const char *text, const struct opt *opts,
              int n, int argc, char **argv, int *rest)
{
    char err[ERR_LEN];
    int r;

    if (opt_help_requested(argc, argv)) {
        opt_usage(stdout, synopsis, text, opts, n);
        return 0;
    }
    r = opt_parse(opts, n, argc, argv, rest, err);
    if (r == 0)
        return -1;
    if (r != OPT_HELP)
        fprintf(stderr, "%s\n", err);
    fprintf(stderr, "Usage:\n");
    opt_print_defaults(stderr, opts, n);
    return 1;
}

int kvc_connect(struct httpc *c, const struct httpc_flags *hf)
{
    char err[ERR_LEN];

    if (httpc_init(c, hf, err) == 0)
        return 0;
    fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
    return 1;
}

/* fwrite that accepts (NULL, 0) for an empty value. */
static void put_bytes(FILE *out, const void *p, size_t n)
{
    if (n > 0)
        fwrite(p, 1, n, out);
}

/* ---- base64 (Go's base64.StdEncoding) ------------------------------- */

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

static size_t skip_nl(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Padding met after j sextets, as Go's decodeQuantum: false if the
 * padding itself is wrong (the quantum then yields nothing). Trailing
 * garbage after good padding is an error that keeps the bytes. */
static bool b64_pad(const char *s, size_t n, size_t *si, int j, long *bad)
{
    if (j < 2) {
        *bad = (long)*si - 1;
        return false;
    }
    if (j == 2) {
        *si = skip_nl(s, n, *si);
        if (*si == n) {
            *bad = (long)n;
            return false;
        }
        if (s[*si] != '=') {
            *bad = (long)*si - 1;
            return false;
        }
        (*si)++;
    }
    *si = skip_nl(s, n, *si);
    if (*si < n)
        *bad = (long)*si;
    return true;
}

/* One quantum; returns bytes written to dst, sets *bad on an error. */
static size_t b64_quantum(const char *s, size_t n, size_t *si,
                          unsigned char *dst, long *bad)
{
    int d[4] = {0, 0, 0, 0}, j, dlen = 4;
    unsigned v;

    for (j = 0; j < 4; j++) {
        unsigned char in;
        if (*si == n) {
            if (j > 0)
                *bad = (long)(*si - (size_t)j);
            return 0;
        }
        in = (unsigned char)s[(*si)++];
        if ((d[j] = b64_val(in)) >= 0)
            continue;
        d[j] = 0;
        if (in == '\n' || in == '\r') {
            j--;
            continue;
        }
        if (in != '=') {
            *bad = (long)*si - 1;
            return 0;
        }
        if (!b64_pad(s, n, si, j, bad))
            return 0;
        dlen = j;
        break;
    }
    v = (unsigned)d[0] << 18 | (unsigned)d[1] << 12 | (unsigned)d[2] << 6 |
        (unsigned)d[3];
    dst[0] = (unsigned char)(v >> 16);
    dst[1] = (unsigned char)(v >> 8);
    dst[2] = (unsigned char)v;
    return (size_t)dlen - 1;
}

/* DecodeString: the bytes decoded before any error; *bad is the offset
 * Go reports ("illegal base64 data at input byte N") or -1. */
int kvc_b64_decode(const char *s, size_t n, struct kvc_bytes *out,
                   long *bad)
{
    size_t si = 0;

    *bad = -1;
    out->len = 0;
    out->p = malloc(n / 4 * 3 + 4);
    if (out->p == NULL)
        return ERR_NOMEM;
    while (si < n && *bad < 0)
        out->len += b64_quantum(s, n, &si, out->p + out->len, bad);
    return 0;
}

char *kvc_b64_encode(const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrst"
                            "uvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = t[v >> 18 & 63];
        *o++ = t[v >> 12 & 63];
        *o++ = i + 1 < n ? t[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? t[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* ---- Go text/tabwriter --------------------------------------------- */

struct tw_cell {
    size_t off, size;
    int width;
};

struct tw {
    const char *text;
    struct tw_cell *cells; /* all cells, line after line */
    int *first;            /* first[i]: index of line i's first cell */
    int nlines;
    int widths[16];
};

static int rune_count(const char *s, size_t n)
{
    int r = 0;

    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            r++;
    return r;
}

static int tw_ncells(const struct tw *t, int line)
{
    return t->first[line + 1] - t->first[line];
}

static void tw_write_lines(const struct tw *t, FILE *out, int l0, int l1,
                           int nw)
{
    for (int i = l0; i < l1; i++) {
        for (int j = 0; j < tw_ncells(t, i); j++) {
            const struct tw_cell *c = &t->cells[t->first[i] + j];
            put_bytes(out, t->text + c->off, c->size);
            if (j < nw)
                fprintf(out, "%*s", t->widths[j] - c->width, "");
        }
        if (i + 1 < t->nlines)
            fputc('\n', out);
    }
}

/* Go's Writer.format: a column block is a run of lines that have a
 * tab-terminated cell in this column; its width is the widest + 6. */
static void tw_format(struct tw *t, FILE *out, int l0, int l1, int col)
{
    for (int this = l0; this < l1; this++) {
        int width = 0;
        if (col >= tw_ncells(t, this) - 1)
            continue;
        tw_write_lines(t, out, l0, this, col);
        l0 = this;
        for (; this < l1 && col < tw_ncells(t, this) - 1; this++) {
            int w = t->cells[t->first[this] + col].width + 6;
            if (w > width)
                width = w;
        }
        if (col < 16) {
            t->widths[col] = width;
            tw_format(t, out, l0, this, col + 1);
        } else {
            tw_write_lines(t, out, l0, this, col);
        }
        l0 = this;
    }
    tw_write_lines(t, out, l0, l1, col);
}

/* Cells end at '\t' and '\n'; the text after the last newline is a cell
 * only if it is not empty (Go's Flush). */
static void tw_print(FILE *out, const char *text, size_t len)
{
    size_t ncell = 2, start = 0;
    struct tw t = {.text = text};
    int nl = 1, k = 0;

    for (size_t i = 0; i < len; i++)
        ncell += text[i] == '\t' || text[i] == '\n';
    for (size_t i = 0; i < len; i++)
        nl += text[i] == '\n';
    t.cells = calloc(ncell, sizeof(*t.cells));
    t.first = calloc((size_t)nl + 1, sizeof(*t.first));
    if (t.cells == NULL || t.first == NULL) {
        put_bytes(out, text, len);
        goto out;
    }
    for (size_t i = 0; i <= len; i++) {
        bool end = i == len, tab = !end && text[i] == '\t';
        bool eol = !end && text[i] == '\n';
        if (!tab && !eol && !(end && i > start))
            continue;
        t.cells[k] = (struct tw_cell){start, i - start, 0};
        t.cells[k].width = rune_count(text + start, i - start);
        k++;
        start = i + 1;
        if (eol)
            t.first[++t.nlines] = k;
    }
    t.first[++t.nlines] = k;
    tw_format(&t, out, 0, t.nlines, 0);
out:
    free(t.cells);
    free(t.first);
}

/* ---- kv get --------------------------------------------------------- */

static char *kv_path(const char *key)
{
    char *esc = httpc_escape_path(key), *p = NULL;

    if (esc != NULL && asprintf(&p, "/v1/kv/%s", esc) < 0)
        p = NULL;
    free(esc);
    return p;
}

/* One request; Go api's error text in err unless the status is 200 (or
 * 404 when ok404). */
static int call(struct httpc *c, const char *method, const char *key,
                const char *query, const struct kvc_bytes *body, bool ok404,
                struct httpc_resp *r, char *err)
{
    char *path = kv_path(key);
    int rc;

    if (path == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = httpc_do(c, method, path, query, body ? body->p : NULL,
                  body ? body->len : 0, r, err);
    free(path);
    if (rc != 0)
        return rc;
    if (r->status == 200 || (ok404 && r->status == 404))
        return 0;
    httpc_format_status(r, err, ERR_LEN);
    httpc_resp_release(r);
    return ERR_IO;
}

/* A uint64 field; values past INT64_MAX arrive as strings (big_ints). */
static unsigned long long num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    if (json_is_string(v))
        return strtoull(json_string_value(v), NULL, 10);
    return json_is_integer(v) ? (unsigned long long)json_integer_value(v)
                              : 0;
}

static int decode_pair(const json_t *o, struct pair *p, char *err)
{
    const char *v = json_string_value(json_object_get(o, "Value"));
    long bad = -1;

    memset(p, 0, sizeof(*p));
    p->key = json_string_value(json_object_get(o, "Key"));
    if (p->key == NULL)
        p->key = "";
    p->session = json_string_value(json_object_get(o, "Session"));
    p->flags = num(o, "Flags");
    p->create = num(o, "CreateIndex");
    p->modify = num(o, "ModifyIndex");
    p->lock = num(o, "LockIndex");
    if (v == NULL)
        return 0;
    if (kvc_b64_decode(v, strlen(v), &p->val, &bad) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (bad < 0)
        return 0;
    free(p->val.p);
    p->val.p = NULL;
    return err_set(err, ERR_PARSE, "illegal base64 data at input byte %ld",
                   bad);
}

/* Copy of s with every integer literal longer than 18 digits quoted:
 * Consul's Flags is a uint64, which jansson cannot hold as a number. */
static char *big_ints(const char *s, size_t n, size_t *out_n)
{
    char *out = malloc(n * 2 + 1), *o = out;
    bool in_str = false;

    for (size_t i = 0; out != NULL && i < n;) {
        size_t d = 0;
        if (!in_str && s[i] >= '0' && s[i] <= '9')
            while (i + d < n && s[i + d] >= '0' && s[i + d] <= '9')
                d++;
        if (d > 18) {
            *o++ = '"';
            memcpy(o, s + i, d);
            o += d;
            *o++ = '"';
            i += d;
            continue;
        }
        if (d > 0) {
            memcpy(o, s + i, d);
            o += d;
            i += d;
            continue;
        }
        if (in_str && s[i] == '\\' && i + 1 < n)
            *o++ = s[i++];
        else if (s[i] == '"')
            in_str = !in_str;
        *o++ = s[i++];
    }
    *out_n = out != NULL ? (size_t)(o - out) : 0;
    return out;
}

json_t *kvc_parse_list(const struct httpc_resp *r, char *err)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, JSON_ALLOW_NUL, &je);
    size_t n;
    char *fixed;

    if (j == NULL && strstr(je.text, "too big") != NULL &&
        (fixed = big_ints(r->body, r->len, &n)) != NULL) {
        j = json_loadb(fixed, n, JSON_ALLOW_NUL, &je);
        free(fixed);
    }
    if (j == NULL)
        err_set(err, ERR_PARSE, "%s", je.text);
    else if (!json_is_array(j)) {
        json_decref(j);
        j = NULL;
        err_set(err, ERR_PARSE, "json: cannot unmarshal into a list");
    }
    return j;
}

static void print_value(const struct kvc_bytes *v, bool b64)
{
    char *enc;

    if (!b64) {
        put_bytes(stdout, v->p, v->len);
        return;
    }
    enc = kvc_b64_encode(v->p, v->len);
    if (enc != NULL)
        fputs(enc, stdout);
    free(enc);
}

/* prettyKVPair: a tabwriter block, then the UI's newline. keys_only
 * (-keys -recurse -detailed) leaves out the Value line, so the block ends
 * with an empty line. */
static void print_detailed(const struct pair *p, bool b64, bool keys_only)
{
    char *buf = NULL, *enc = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);

    if (m == NULL)
        return;
    fprintf(m, "CreateIndex\t%llu\nFlags\t%llu\nKey\t%s\nLockIndex\t%llu\n"
               "ModifyIndex\t%llu\nSession\t%s\n",
            p->create, p->flags, p->key, p->lock, p->modify,
            p->session != NULL && *p->session ? p->session : "-");
    if (!keys_only && b64) {
        enc = kvc_b64_encode(p->val.p, p->val.len);
        fprintf(m, "Value\t%s", enc != NULL ? enc : "");
    } else if (!keys_only) {
        fputs("Value\t", m);
        put_bytes(m, p->val.p, p->val.len);
    }
    fclose(m);
    tw_print(stdout, buf, len);
    fputc('\n', stdout);
    free(enc);
    free(buf);
}

struct get_opts {
    bool base64, detailed, keys, recurse;
    const char *separator;
};

/* One pair as kv get prints it in its mode. */
static void print_pair(const struct pair *p, const struct get_opts *g,
                       bool single)
{
    if (g->detailed) {
        print_detailed(p, g->base64, g->keys);
        return;
    }
    if (g->keys) { /* -keys -recurse */
        printf("%s\n", p->key);
        return;
    }
    if (!single)
        printf("%s:", p->key);
    print_value(&p->val, g->base64);
    fputc('\n', stdout);
}

/* Decode the list in r and print it (only the first pair when single);
 * *found is false for an empty list. */
static int print_list(const struct httpc_resp *r, const struct get_opts *g,
                      bool single, bool *found, char *err)
{
    json_t *j = kvc_parse_list(r, err), *o;
    struct pair p;
    size_t i;
    int rc = 0;

    if (j == NULL)
        return ERR_PARSE;
    *found = json_array_size(j) > 0;
    json_array_foreach(j, i, o) {
        if (g->keys && !g->recurse) { /* ?keys: a list of strings */
            const char *k = json_string_value(o);
            printf("%s\n", k != NULL ? k : "");
            continue;
        }
        if ((rc = decode_pair(o, &p, err)) != 0)
            break;
        if (g->detailed && i > 0)
            fputc('\n', stdout);
        print_pair(&p, g, single);
        free(p.val.p);
        if (single)
            break;
    }
    json_decref(j);
    return rc;
}

static const char *get_query(const struct get_opts *g, char **q)
{
    char *sep;

    *q = NULL;
    if (g->recurse) /* also -keys -recurse: keys of a full listing */
        return "recurse";
    if (!g->keys)
        return NULL;
    if (g->separator[0] == '\0')
        return "keys";
    sep = httpc_escape(g->separator);
    if (sep == NULL || asprintf(q, "keys&separator=%s", sep) < 0)
        *q = NULL;
    free(sep);
    return *q != NULL ? *q : "keys";
}

/* 0 printed, 1 nothing there (404 or empty list), 2 error reported. */
static int get_run(struct httpc *c, const char *key, const struct get_opts *g)
{
    char err[ERR_LEN], *q;
    const char *query = get_query(g, &q);
    bool single = !g->keys && !g->recurse, found = false;
    struct httpc_resp r;
    int rc;

    if (key[0] == '/')
        key++; /* the api package trims one more '/' */
    rc = call(c, "GET", key, query, NULL, true, &r, err);
    free(q);
    if (rc == 0 && r.status == 404) {
        httpc_resp_release(&r);
        return 1;
    }
    if (rc == 0) {
        rc = print_list(&r, g, single, &found, err);
        httpc_resp_release(&r);
    }
    if (rc != 0) {
        fprintf(stderr, "Error querying Consul agent: %s\n", err);
        return 2;
    }
    return found ? 0 : 1;
}

static const struct help get_help = {
    "consul kv get [options] [KEY_OR_PREFIX]",
    "  Retrieves the value stored at KEY in the key/value store. A missing "
    "key is\n"
    "  an error; a key that exists without data prints an empty line. "
    "Without a\n"
    "  name the root of the store (\"\") is used.\n\n"
    "  Print the raw value of the key \"foo\":\n\n"
    "      $ consul kv get foo\n\n"
    "  Show the metadata as well (ModifyIndex, flags, session):\n\n"
    "      $ consul kv get -detailed foo\n\n"
    "  Print every pair under a prefix, or only the key names:\n\n"
    "      $ consul kv get -recurse foo\n"
    "      $ consul kv get -keys foo\n\n"
    "  See the Consul documentation for all options and more examples."};

/* The optional single KEY argument, its leading '/' stripped. */
static int one_key(int argc, char **argv, int rest, const char **key)
{
    if (argc - rest > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n",
                argc - rest);
        return -1;
    }
    if (argc - rest == 1)
        *key = argv[rest];
    if ((*key)[0] == '/')
        (*key)++;
    return 0;
}

static int kv_get(int argc, char **argv)
{
    struct get_opts g = {.separator = "/"};
    struct httpc_flags hf = {0};
    struct opt opts[5 + HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rest, rc;
    const char *key = "";

    add(opts, &n, "base64", OPT_BOOL, &g.base64,
        "Print values base64-encoded. The default value is false.");
    add(opts, &n, "detailed", OPT_BOOL, &g.detailed,
        "Print the metadata of each pair (CreateIndex, ModifyIndex, "
        "LockIndex, flags, session) as well as its value. The default "
        "value is false.");
    add(opts, &n, "keys", OPT_BOOL, &g.keys,
        "List the keys that start with the given prefix, without values. "
        "Usually combined with -separator. The default value is false.");
    add(opts, &n, "recurse", OPT_BOOL, &g.recurse,
        "Print every pair whose key starts with the given prefix. The "
        "default value is false.");
    add(opts, &n, "separator", OPT_STR, &g.separator,
        "With -keys, list keys only up to the next occurrence of this "
        "string, so that \"directories\" are listed once. The default "
        "value is \"/\".");
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = kvc_parse(get_help.synopsis, get_help.text, opts, n, argc,
                        argv, &rest)) >= 0)
        return rc;
    if (one_key(argc, argv, rest, &key) != 0)
        return 1;
    if (key[0] == '\0' && !g.recurse && !g.keys) {
        fprintf(stderr, "Error! Missing KEY argument\n");
        return 1;
    }
    if (kvc_connect(&c, &hf) != 0)
        return 1;
    rc = get_run(&c, key, &g);
    httpc_release(&c);
    if (rc == 1 && (g.keys || g.recurse))
        rc = 0; /* an empty listing is not an error */
    else if (rc == 1)
        fprintf(stderr, "Error! No key exists at: %s\n", key);
    return rc != 0 ? 1 : 0;
}

/* ---- kv put --------------------------------------------------------- */

static int read_all(FILE *f, struct kvc_bytes *out)
{
    size_t cap = 0;
    unsigned char *p;

    out->p = NULL;
    out->len = 0;
    for (;;) {
        size_t got;
        if (out->len == cap) {
            cap = cap ? cap * 2 : 8192;
            if ((p = realloc(out->p, cap)) == NULL)
                return ENOMEM;
            out->p = p;
        }
        got = fread(out->p + out->len, 1, cap - out->len, f);
        out->len += got;
        if (got == 0)
            return ferror(f) ? (errno ? errno : EIO) : 0;
    }
}

/* Go's text for an errno: strerror with a lowercase first letter. */
static const char *go_err(int e)
{
    static char buf[128];

    snprintf(buf, sizeof(buf), "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

/* helpers.LoadDataSource: "" is empty, "@path" a file, "-" stdin, any
 * other text (even "-x") the value itself. */
int kvc_load_data(const char *arg, struct kvc_bytes *out, char *err)
{
    FILE *f;
    int e;

    if (arg[0] == '@') {
        if ((f = fopen(arg + 1, "rb")) == NULL)
            return err_set(err, ERR_IO, "Failed to read file: open %s: %s",
                           arg + 1, go_err(errno));
        e = read_all(f, out);
        fclose(f);
        if (e != 0)
            return err_set(err, ERR_IO, "Failed to read file: read %s: %s",
                           arg + 1, go_err(e));
        return 0;
    }
    if (strcmp(arg, "-") == 0) {
        if ((e = read_all(stdin, out)) != 0)
            return err_set(err, ERR_IO, "Failed to read stdin: read "
                           "/dev/stdin: %s", go_err(e));
        return 0;
    }
    out->len = strlen(arg);
    out->p = (unsigned char *)strdup(arg);
    return out->p != NULL ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

struct put_opts {
    bool cas, base64, acquire, release;
    uint64_t flags, modify_index;
    const char *session;
};

/* api.KV's parameters: flags when non-zero, then cas, acquire or
 * release. Heap result. */
static char *put_query(const struct put_opts *po)
{
    char *sess = httpc_escape(po->session), *q = NULL, fl[40] = "";
    int r = -1;

    if (po->flags != 0)
        snprintf(fl, sizeof(fl), "flags=%llu&",
                 (unsigned long long)po->flags);
    if (sess == NULL)
        return NULL;
    if (po->cas)
        r = asprintf(&q, "%scas=%llu", fl,
                     (unsigned long long)po->modify_index);
    else if (po->acquire || po->release)
        r = asprintf(&q, "%s%s=%s", fl, po->acquire ? "acquire" : "release",
                     sess);
    else
        r = asprintf(&q, "%s", fl);
    free(sess);
    return r < 0 ? NULL : q;
}

/* PUT and the "true"/"false" answer; 0 with *ok, else err filled. */
static int put_call(struct httpc *c, const char *key,
                    const struct put_opts *po, const struct kvc_bytes *data,
                    bool *ok, char *err)
{
    char *q;
    struct httpc_resp r;
    int rc;

    if (key[0] == '/')
        return err_set(err, ERR_INVAL, "Invalid key. Key must not begin "
                       "with a '/': %s", key);
    if ((q = put_query(po)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = call(c, "PUT", key, q, data, false, &r, err);
    free(q);
    if (rc != 0)
        return rc;
    *ok = memmem(r.body, r.len, "true", 4) != NULL;
    httpc_resp_release(&r);
    return 0;
}

static int put_run(struct httpc *c, const char *key,
                   const struct put_opts *po, const struct kvc_bytes *data)
{
    char err[ERR_LEN];
    bool ok = false;
    int rc = put_call(c, key, po, data, &ok, err);

    if (po->cas) {
        if (rc != 0)
            fprintf(stderr, "Error! Did not write to %s: %s\n", key, err);
        else if (!ok && po->modify_index == 0)
            fprintf(stderr, "Error! Did not write to %s: CAS performed "
                    "with index=0 and key already exists.\n", key);
        else if (!ok)
            fprintf(stderr, "Error! Did not write to %s: CAS failed\n", key);
    } else if (po->acquire || po->release) {
        if (rc != 0) /* Consul prints the key here for -release */
            fprintf(stderr, "Error! Failed writing data: %s\n",
                    po->acquire ? err : key);
        else if (!ok)
            fprintf(stderr, "Error! Did not %s lock\n",
                    po->acquire ? "acquire" : "release");
    } else if (rc != 0) {
        fprintf(stderr, "Error! Failed writing data: %s\n", err);
    } else {
        ok = true; /* a plain write ignores the answer */
    }
    if (rc != 0 || !ok)
        return 1;
    if (po->acquire && !po->cas)
        printf("Success! Lock acquired on: %s\n", key);
    else if (po->release && !po->cas)
        printf("Success! Lock released on: %s\n", key);
    else
        printf("Success! Data written to: %s\n", key);
    return 0;
}

static const struct help put_help = {
    "consul kv put [options] KEY [DATA]",
    "  Writes DATA, which can be anything, at KEY in the key/value store.\n\n"
    "      $ consul kv put config/redis/maxconns 5\n\n"
    "  DATA can be read from a file by prefixing the path with \"@\":\n\n"
    "      $ consul kv put config/program/license @license.lic\n\n"
    "  or from stdin by giving \"-\":\n\n"
    "      $ echo \"abcd1234\" | consul kv put config/program/license -\n\n"
    "  Without DATA the key is created with an empty value:\n\n"
    "      $ consul kv put webapp/beta/active\n\n"
    "  With -base64, DATA is base64-decoded before it is stored.\n\n"
    "  For a check-and-set write, give -cas and the -modify-index the key "
    "must\n"
    "  still have (0: the key must not exist yet):\n\n"
    "      $ consul kv put -cas -modify-index=844 config/redis/maxconns 5\n\n"
    "  The options below cover locks (-acquire, -release) and flags."};

static void put_flags(struct opt *opts, int *n, struct put_opts *po)
{
    add(opts, n, "acquire", OPT_BOOL, &po->acquire,
        "Take the lock on the key for the session given with -session, "
        "creating the key if needed. The default value is false.");
    add(opts, n, "base64", OPT_BOOL, &po->base64,
        "Treat DATA as base64-encoded. The default value is false.");
    add(opts, n, "cas", OPT_BOOL, &po->cas,
        "Write only if the key's ModifyIndex still equals -modify-index "
        "(check-and-set). The default value is false.");
    add(opts, n, "flags", OPT_UINT64, &po->flags,
        "Unsigned integer stored with the pair for the client's own use; "
        "Consul does not interpret it. The default value is 0.");
    add(opts, n, "modify-index", OPT_UINT64, &po->modify_index,
        "The ModifyIndex the key must have for -cas to write.");
    add(opts, n, "release", OPT_BOOL, &po->release,
        "Give up the lock that the session given with -session holds on the "
        "key. The default value is false.");
    add(opts, n, "session", OPT_STR, &po->session,
        "ID of the session for -acquire and -release. The default value is "
        "empty (no session).");
}

/* Key and value from the arguments, base64 applied. Exit code or -1. */
static int put_args(int nargs, char **args, const struct put_opts *po,
                    struct kvc_bytes *data)
{
    char err[ERR_LEN];
    struct kvc_bytes raw;
    long bad;

    if (nargs == 0 || nargs > 2) {
        if (nargs == 0)
            fprintf(stderr, "Error! Missing KEY argument\n");
        else
            fprintf(stderr, "Error! Too many arguments (expected 1 or 2, "
                    "got %d)\n", nargs);
        return 1;
    }
    if (kvc_load_data(nargs == 2 ? args[1] : "", data, err) != 0) {
        fprintf(stderr, "Error! %s\n", err);
        return 1;
    }
    if (!po->base64)
        return -1;
    raw = *data;
    if (kvc_b64_decode((const char *)raw.p, raw.len, data, &bad) != 0)
        bad = -1, *data = (struct kvc_bytes){NULL, 0};
    free(raw.p);
    if (bad >= 0) {
        /* Consul prints this and then writes what it could decode; a
         * half-decoded value is never what the operator meant, so we
         * write nothing and fail. */
        fprintf(stderr, "Error! Cannot base 64 decode data: illegal base64 "
                "data at input byte %ld\n", bad);
        free(data->p);
        *data = (struct kvc_bytes){NULL, 0};
        return 1;
    }
    return -1;
}

static int kv_put(int argc, char **argv)
{
    struct put_opts po = {.session = ""};
    struct httpc_flags hf = {0};
    struct opt opts[7 + HTTPC_N_FLAGS];
    struct kvc_bytes data = {NULL, 0};
    struct httpc c;
    int n = 0, rest, rc;

    put_flags(opts, &n, &po);
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = kvc_parse(put_help.synopsis, put_help.text, opts, n, argc,
                        argv, &rest)) >= 0)
        return rc;
    if ((rc = put_args(argc - rest, argv + rest, &po, &data)) >= 0)
        return rc;
    if ((po.release || po.acquire) && po.session[0] == '\0') {
        fprintf(stderr, "Error! Missing -session (required with -acquire "
                "and -release)\n");
        free(data.p);
        return 1;
    }
    if (kvc_connect(&c, &hf) != 0) {
        free(data.p);
        return 1;
    }
    rc = put_run(&c, argv[rest], &po, &data);
    httpc_release(&c);
    free(data.p);
    return rc;
}

/* ---- kv delete ------------------------------------------------------ */

struct del_opts {
    bool cas, recurse;
    uint64_t modify_index;
};

static int del_run(struct httpc *c, const char *key, const struct del_opts *d)
{
    char err[ERR_LEN], q[32];
    const char *query = NULL;
    struct httpc_resp r;
    bool ok = false;
    int rc;

    if (d->recurse)
        query = "recurse";
    else if (d->cas)
        snprintf(q, sizeof(q), "cas=%llu",
                 (unsigned long long)d->modify_index), query = q;
    rc = call(c, "DELETE", key[0] == '/' ? key + 1 : key, query, NULL,
              false, &r, err);
    if (rc == 0) {
        ok = memmem(r.body, r.len, "true", 4) != NULL;
        httpc_resp_release(&r);
    }
    if (d->recurse && rc != 0)
        fprintf(stderr, "Error! Did not delete prefix %s: %s\n", key, err);
    else if (d->cas && rc != 0)
        fprintf(stderr, "Error! Did not delete key %s: %s\n", key, err);
    else if (d->cas && !ok)
        fprintf(stderr, "Error! Did not delete key %s: CAS failed\n", key);
    else if (rc != 0)
        fprintf(stderr, "Error deleting key %s: %s\n", key, err);
    else if (d->recurse)
        printf("Success! Deleted keys with prefix: %s\n", key);
    else
        printf("Success! Deleted key: %s\n", key);
    return rc != 0 || (d->cas && !ok) ? 1 : 0;
}

static const struct help del_help = {
    "consul kv delete [options] KEY_OR_PREFIX",
    "  Removes the value at the given path from the key/value store. "
    "Nothing\n"
    "  happens if no key exists there.\n\n"
    "  Delete the key \"foo\":\n\n"
    "      $ consul kv delete foo\n\n"
    "  Delete every key that starts with \"foo\" (\"foo\", \"food\", "
    "\"foo/bar/zip\"):\n\n"
    "      $ consul kv delete -recurse foo"};

/* Consul's checks, in its order; the message, or NULL. */
static const char *del_check(const char *key, const struct del_opts *d)
{
    if (key[0] == '\0' && !d->recurse)
        return "Error! Missing KEY argument";
    if (d->cas && d->modify_index == 0)
        return "Cannot delete a key that does not exist. Provide a "
               "-modify-index greater than than 0.";
    if (d->modify_index != 0 && !d->cas)
        return "Cannot specify -modify-index without -cas!";
    if (d->recurse && d->cas)
        return "Cannot specify both -cas and -recurse!";
    return NULL;
}

static int kv_delete(int argc, char **argv)
{
    struct del_opts d = {false, false, 0};
    struct httpc_flags hf = {0};
    struct opt opts[3 + HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rest, rc;
    const char *key = "", *msg;

    add(opts, &n, "cas", OPT_BOOL, &d.cas,
        "Delete only if the key's ModifyIndex still equals -modify-index "
        "(check-and-set). The default value is false.");
    add(opts, &n, "modify-index", OPT_UINT64, &d.modify_index,
        "The ModifyIndex the key must have for -cas to delete it.");
    add(opts, &n, "recurse", OPT_BOOL, &d.recurse,
        "Delete every key that starts with the given prefix. The default "
        "value is false.");
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = kvc_parse(del_help.synopsis, del_help.text, opts, n, argc,
                        argv, &rest)) >= 0)
        return rc;
    if (one_key(argc, argv, rest, &key) != 0)
        return 1;
    if ((msg = del_check(key, &d)) != NULL) {
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    if (kvc_connect(&c, &hf) != 0)
        return 1;
    rc = del_run(&c, key, &d);
    httpc_release(&c);
    return rc;
}

/* ---- kv ------------------------------------------------------------- */

static const struct opt_verb verbs[] = {
    {"delete", kv_delete, "Removes data from the KV store"},
    {"export", kvc_export, "Exports a tree from the KV store as JSON"},
    {"get", kv_get, "Retrieves or lists data from the KV store"},
    {"import", kvc_import, "Imports a tree stored as JSON to the KV store"},
    {"put", kv_put, "Sets or updates data in the KV store"},
};
#define N_VERBS ((int)(sizeof(verbs) / sizeof(verbs[0])))

static const struct help kv_help = {
    "consul kv <subcommand> [options] [args]",
    "  Reads and writes Consul's key/value store through the subcommands "
    "below.\n"
    "  A few examples; each subcommand's help has more.\n\n"
    "  Create or update the key \"redis/config/connections\" with the value "
    "\"5\":\n\n"
    "      $ consul kv put redis/config/connections 5\n\n"
    "  Read it back, then with its metadata:\n\n"
    "      $ consul kv get redis/config/connections\n"
    "      $ consul kv get -detailed redis/config/connections\n\n"
    "  Delete it:\n\n"
    "      $ consul kv delete redis/config/connections"};

int cmd_kv(int argc, char **argv)
{
    struct opt_group g = {kv_help.synopsis, kv_help.text, verbs, N_VERBS, 1,
                          false};

    return opt_group_run(&g, argc, argv);
}

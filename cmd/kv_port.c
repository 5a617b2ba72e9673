/* kv_port.c - "consul kv export" and "consul kv import": a KV tree as
 * Consul's JSON ([{"key", "flags", "value" (base64)}]) and back.
 *
 * Endpoints: GET /v1/kv/<prefix>?recurse= (export),
 *            PUT /v1/txn (import: 64 "set" operations per transaction).
 * export prints what Consul's json.MarshalIndent(entries, "", "\t")
 * prints (Go's escaping of <, >, &, U+2028/9 and bad UTF-8 included).
 * import reads DATA, @file or - (stdin), checks every entry and value
 * first (nothing is written if one is bad), then writes them in batches
 * of up to 64, each one transaction: a batch is all or nothing, and the
 * batches before a failed one stay written. "Imported: KEY" is printed
 * for each key once its batch committed. -prefix P puts every key under
 * P ("P/KEY"; a key's trailing slash is kept, unlike Consul 1.10+ whose
 * filepath.Join drops it).
 * Exit codes: 0 ok (also "-h"); 1 bad flag or arguments, unreadable or
 * bad data, transport or API error, a refused batch.
 * Tests: t/t8101-txn.sh
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "kv_cli.h"
#include "opt.h"

#define BATCH 64

/* ---- export --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3
                 : s[0] < 0xf5 ? 4 : 0;
    unsigned cp;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    cp = len == 2 ? (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu)
       : len == 3 ? (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 |
                        (s[2] & 0x3fu)
                  : (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 |
                        (s[2] & 0x3fu) << 6 | (s[3] & 0x3fu);
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* s as Go's encoding/json writes a string (HTML-safe escaping). */
static void go_json_str(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), i = 0, l;

    fputc('"', out);
    while (i < n) {
        unsigned char ch = s[i];

        if (ch == '"' || ch == '\\') {
            fprintf(out, "\\%c", ch);
        } else if (ch == '\n') {
            fputs("\\n", out);
        } else if (ch == '\r') {
            fputs("\\r", out);
        } else if (ch == '\t') {
            fputs("\\t", out);
        } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
            fprintf(out, "\\u00%02x", ch);
        } else if (ch >= 0x80) {
            if ((l = utf8_len(s + i, n - i)) == 0) {
                fputs("\\ufffd", out);
                i++;
                continue;
            }
            if (l == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 &&
                (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
                fprintf(out, "\\u202%c", s[i + 2] == 0xa8 ? '8' : '9');
            else
                fwrite(s + i, 1, l, out);
            i += l;
            continue;
        } else {
            fputc(ch, out);
        }
        i++;
    }
    fputc('"', out);
}

static void print_entries(const json_t *arr)
{
    size_t i, n = json_array_size(arr);
    const json_t *o;

    if (n == 0) {
        printf("[]\n");
        return;
    }
    printf("[\n");
    json_array_foreach(arr, i, o) {
        const json_t *fl = json_object_get(o, "Flags");
        const char *v = json_string_value(json_object_get(o, "Value"));
        const char *k = json_string_value(json_object_get(o, "Key"));

        printf("\t{\n\t\t\"key\": ");
        go_json_str(stdout, k != NULL ? k : "");
        if (json_is_string(fl)) /* past INT64_MAX (kvc_parse_list) */
            printf(",\n\t\t\"flags\": %s,\n", json_string_value(fl));
        else
            printf(",\n\t\t\"flags\": %lld,\n",
                   (long long)json_integer_value(fl));
        printf("\t\t\"value\": \"%s\"\n\t}%s\n", v != NULL ? v : "",
               i + 1 < n ? "," : "");
    }
    printf("]\n");
}

static int export_run(struct httpc *c, const char *key)
{
    char err[ERR_LEN], *esc = httpc_escape_path(key), *path = NULL;
    struct httpc_resp r;
    json_t *arr = NULL;
    int rc;

    if (esc == NULL || asprintf(&path, "/v1/kv/%s", esc) < 0) {
        free(esc);
        fprintf(stderr, "Error querying Consul agent: out of memory\n");
        return 1;
    }
    free(esc);
    rc = httpc_do(c, "GET", path, "recurse", NULL, 0, &r, err);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "Error querying Consul agent: %s\n", err);
        return 1;
    }
    if (r.status == 404) {
        arr = json_array();
    } else if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        rc = ERR_IO;
    } else if ((arr = kvc_parse_list(&r, err)) == NULL) {
        rc = ERR_PARSE;
    }
    httpc_resp_release(&r);
    if (rc != 0) {
        fprintf(stderr, "Error querying Consul agent: %s\n", err);
        return 1;
    }
    print_entries(arr);
    json_decref(arr);
    return 0;
}

int kvc_export(int argc, char **argv)
{
    static const char synopsis[] = "consul kv export [KEY_OR_PREFIX]";
    static const char text[] =
        "  Retrieves key-value pairs for the given prefix from Consul's "
        "key-value store,\n"
        "  and writes a JSON representation to stdout. This can be used "
        "with the command\n"
        "  \"consul kv import\" to move entire trees between Consul "
        "clusters.\n\n"
        "      $ consul kv export vault";
    struct httpc_flags hf = {0};
    struct opt opts[HTTPC_N_FLAGS];
    struct httpc c;
    int n = 0, rest, rc;
    const char *key = "";

    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = kvc_parse(synopsis, text, opts, n, argc, argv, &rest)) >= 0)
        return rc;
    if (argc - rest > 1) {
        fprintf(stderr, "Too many arguments (expected 1, got %d)\n",
                argc - rest);
        return 1;
    }
    if (argc - rest == 1)
        key = argv[rest];
    if (key[0] == '/')
        key++;
    if (kvc_connect(&c, &hf) != 0)
        return 1;
    rc = export_run(&c, key);
    httpc_release(&c);
    return rc;
}

/* ---- import --------------------------------------------------------- */

struct entry {
    char *key;   /* with the prefix */
    json_int_t flags;
    const char *value; /* base64, borrowed from the parsed data */
};

/* A member by case-insensitive name, as Go's decoder matches. */
static const json_t *member(const json_t *o, const char *name)
{
    const char *k;
    const json_t *v;

    json_object_foreach((json_t *)o, k, v)
        if (strcasecmp(k, name) == 0)
            return v;
    return NULL;
}

static char *with_prefix(const char *prefix, const char *key)
{
    size_t pl = strlen(prefix);
    char *out = NULL;

    if (pl == 0)
        return strdup(key);
    while (pl > 0 && prefix[pl - 1] == '/')
        pl--;
    while (key[0] == '/')
        key++;
    if (asprintf(&out, "%.*s/%s", (int)pl, prefix, key) < 0)
        return NULL;
    return out;
}

/* Check every entry (shape, base64) before anything is written. */
static int load_entries(const json_t *arr, const char *prefix,
                        struct entry *out)
{
    size_t i;
    const json_t *o;

    json_array_foreach((json_t *)arr, i, o) {
        const json_t *k = member(o, "key"), *f = member(o, "flags"),
                     *v = member(o, "value");
        struct kvc_bytes b;
        long bad = -1;

        if (!json_is_object(o) || (k && !json_is_string(k) &&
                                   !json_is_null(k)) ||
            (f && !json_is_integer(f) && !json_is_null(f)) ||
            (v && !json_is_string(v) && !json_is_null(v)) ||
            json_integer_value(f) < 0) {
            fprintf(stderr, "Cannot unmarshal data: entry %zu is not "
                    "{\"key\": string, \"flags\": uint64, \"value\": "
                    "string}\n", i);
            return -1;
        }
        out[i].value = v != NULL && json_is_string(v)
                           ? json_string_value(v) : "";
        out[i].flags = json_integer_value(f);
        if (kvc_b64_decode(out[i].value, strlen(out[i].value), &b, &bad)
            != 0)
            return -1;
        free(b.p);
        if (bad >= 0) {
            fprintf(stderr, "Error base 64 decoding value for key %s: "
                    "illegal base64 data at input byte %ld\n",
                    k ? json_string_value(k) : "", bad);
            return -1;
        }
        if ((out[i].key = with_prefix(prefix, k ? json_string_value(k)
                                                : "")) == NULL)
            return -1;
    }
    return 0;
}

/* The transaction of entries [from, to). */
static char *batch_body(const struct entry *e, size_t from, size_t to)
{
    json_t *ops = json_array();
    char *body;

    for (size_t i = from; i < to; i++)
        json_array_append_new(ops, json_pack(
            "{s:{s:s, s:s, s:I, s:s}}", "KV", "Verb", "set", "Key",
            e[i].key, "Flags", e[i].flags, "Value", e[i].value));
    body = json_dumps(ops, JSON_COMPACT);
    json_decref(ops);
    return body;
}

/* What a refused batch says: its first error's key and What. */
static void batch_error(const struct httpc_resp *r, const struct entry *e,
                        size_t from, size_t to, char *err)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const json_t *first = json_array_get(json_object_get(j, "Errors"), 0);
    json_int_t op = json_integer_value(json_object_get(first, "OpIndex"));
    const char *what = json_string_value(json_object_get(first, "What"));

    if (r->status == 409 && what != NULL && op >= 0 &&
        (size_t)op < to - from)
        fprintf(stderr, "Error! Failed writing data for key %s: %s\n",
                e[from + (size_t)op].key, what);
    else
        fprintf(stderr, "Error! Failed writing data for key %s: %s\n",
                e[from].key, err);
    json_decref(j);
}

static int import_run(struct httpc *c, const struct entry *e, size_t n)
{
    char err[ERR_LEN];

    for (size_t from = 0; from < n; from += BATCH) {
        size_t to = from + BATCH < n ? from + BATCH : n;
        char *body = batch_body(e, from, to);
        struct httpc_resp r;
        int rc;

        if (body == NULL) {
            fprintf(stderr, "Error! out of memory\n");
            return 1;
        }
        rc = httpc_do(c, "PUT", "/v1/txn", NULL, body, strlen(body), &r,
                      err);
        free(body);
        if (rc != 0) {
            fprintf(stderr, "Error! Failed writing data for key %s: %s\n",
                    e[from].key, err);
            return 1;
        }
        if (r.status != 200) {
            httpc_format_status(&r, err, sizeof(err));
            batch_error(&r, e, from, to, err);
            httpc_resp_release(&r);
            return 1;
        }
        httpc_resp_release(&r);
        for (size_t i = from; i < to; i++)
            printf("Imported: %s\n", e[i].key);
        fflush(stdout);
    }
    return 0;
}

/* DATA into a JSON array; NULL after the message. */
static json_t *read_data(int argc, char **argv, int rest)
{
    char err[ERR_LEN];
    struct kvc_bytes data = {NULL, 0};
    json_error_t je;
    json_t *j;

    if (argc - rest != 1) {
        if (argc == rest)
            fprintf(stderr, "Error! Missing DATA argument\n");
        else
            fprintf(stderr, "Error! Too many arguments (expected 1, got "
                    "%d)\n", argc - rest);
        return NULL;
    }
    if (argv[rest][0] == '\0') {
        fprintf(stderr, "Error! Empty DATA argument\n");
        return NULL;
    }
    if (kvc_load_data(argv[rest], &data, err) != 0) {
        fprintf(stderr, "Error! %s\n", err);
        return NULL;
    }
    j = json_loadb((const char *)data.p, data.len, 0, &je);
    free(data.p);
    if (j == NULL || !json_is_array(j)) {
        fprintf(stderr, "Cannot unmarshal data: %s\n",
                j == NULL ? je.text
                          : "json: cannot unmarshal into a list of entries");
        json_decref(j);
        return NULL;
    }
    return j;
}

int kvc_import(int argc, char **argv)
{
    static const char synopsis[] = "consul kv import [options] [DATA]";
    static const char text[] =
        "  Imports key-value pairs to the key-value store from the JSON "
        "representation\n"
        "  generated by the \"consul kv export\" command, in transactions "
        "of up to 64\n"
        "  keys each (each one all or nothing).\n\n"
        "  The data can be read from a file by prefixing the filename with "
        "the \"@\"\n"
        "  symbol. For example:\n\n"
        "      $ consul kv import @filename.json\n\n"
        "  Or it can be read from stdin using the \"-\" symbol:\n\n"
        "      $ cat filename.json | consul kv import -\n\n"
        "  Alternatively the data may be provided as the final parameter "
        "to the command,\n"
        "  though care must be taken with regards to shell escaping.";
    struct httpc_flags hf = {0};
    struct opt opts[1 + HTTPC_N_FLAGS];
    const char *prefix = "";
    struct entry *e = NULL;
    struct httpc c;
    int n = 0, rest, rc;
    size_t cnt = 0;
    json_t *arr;

    opts[n++] = (struct opt){.name = "prefix", .type = OPT_STR,
                             .dst = &prefix,
                             .help = "Key prefix for imported data."};
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    if ((rc = kvc_parse(synopsis, text, opts, n, argc, argv, &rest)) >= 0)
        return rc;
    if ((arr = read_data(argc, argv, rest)) == NULL)
        return 1;
    cnt = json_array_size(arr);
    rc = 1;
    if ((e = calloc(cnt + 1, sizeof(*e))) != NULL &&
        load_entries(arr, prefix, e) == 0 && kvc_connect(&c, &hf) == 0) {
        rc = import_run(&c, e, cnt);
        httpc_release(&c);
    }
    for (size_t i = 0; e != NULL && i < cnt; i++)
        free(e[i].key);
    free(e);
    json_decref(arr);
    return rc;
}

/* acl.c - "consul acl ...": the verb tree, "acl bootstrap",
 * "acl set-agent-token", and the helpers acl_token.c, acl_policy.c and
 * acl_role.c share (acl_cli.h).
 *
 * Endpoints: PUT /v1/acl/bootstrap [{"BootstrapSecret"}],
 *            PUT /v1/agent/token/<kind> {"Token"}; for ID prefixes
 *            GET /v1/acl/tokens|policies|roles; for names
 *            GET /v1/acl/policy/name/<name>, GET /v1/acl/role/name/<name>.
 * Output and messages follow Consul 1.x's command/acl (the token,
 * policy and role formatters; Create Time as Go's time.Time prints).
 * Exit codes, as Consul's: 0 ok (also "-h", help on stdout); 1 anything
 * else: bad flag (Go's message, "Usage:" and the flag list on stderr),
 * bad or missing arguments, unknown -format, transport or API error,
 * "acl" or a group without a known verb (help on stderr).
 * Tests: t/t3003-acl-cli.sh
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl_cli.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

#define ANON_TOKEN_ID "00000000-0000-0000-0000-000000000002"
#define MGMT_POLICY_ID "00000000-0000-0000-0000-000000000001"

/* ---- flags ---------------------------------------------------------- */

void aclc_init(struct aclc_cmd *k)
{
    memset(k, 0, sizeof(*k));
}

void aclc_opt(struct aclc_cmd *k, const char *name, enum opt_type type,
              void *dst, const char *help)
{
    if (k->n >= ACLC_MAX_OPTS)
        return; /* a programming error; the flag is then unknown */
    k->opts[k->n++] = (struct opt){
        .name = name, .type = type, .dst = dst, .help = help};
}

void aclc_format_opts(struct aclc_cmd *k, bool with_meta)
{
    k->format = "pretty";
    aclc_opt(k, "format", OPT_STR, &k->format,
             "Output format {pretty|json}");
    if (with_meta)
        aclc_opt(k, "meta", OPT_BOOL, &k->meta,
                 "Indicates that metadata such as the content hash and "
                 "Raft indices should be shown for each entry.");
}

int aclc_parse(struct aclc_cmd *k, const struct aclc_help *h, int argc,
               char **argv, int *rest)
{
    char err[ERR_LEN];
    int r;

    httpc_add_flags(k->opts, &k->n, &k->hf, true);
    httpc_add_tls_flags(k->opts, &k->n, &k->hf);
    if (opt_help_requested(argc, argv)) {
        opt_usage(stdout, h->synopsis, h->text, k->opts, k->n);
        return 0;
    }
    r = opt_parse(k->opts, k->n, argc, argv, rest, err);
    if (r != 0) {
        if (r != OPT_HELP)
            fprintf(stderr, "%s\n", err);
        fprintf(stderr, "Usage:\n");
        opt_print_defaults(stderr, k->opts, k->n);
        return 1;
    }
    if (k->format != NULL && strcmp(k->format, "pretty") != 0 &&
        strcmp(k->format, "json") != 0) {
        fprintf(stderr, "Unknown format: %s\n", k->format);
        return 1;
    }
    return -1;
}

void aclc_usage_err(const struct aclc_cmd *k, const struct aclc_help *h)
{
    opt_usage(stderr, h->synopsis, h->text, k->opts, k->n);
}

int aclc_connect(struct aclc_cmd *k, const char *what)
{
    char err[ERR_LEN];

    if (httpc_init(&k->c, &k->hf, err) == 0) {
        k->connected = true;
        return 0;
    }
    fprintf(stderr, "%s: %s\n",
            what != NULL ? what : "Error connecting to Consul agent", err);
    return 1;
}

void aclc_release(struct aclc_cmd *k)
{
    opt_release(k->opts, k->n);
    if (k->connected)
        httpc_release(&k->c);
    k->connected = false;
}

bool aclc_json(const struct aclc_cmd *k)
{
    return k->format != NULL && strcmp(k->format, "json") == 0;
}

/* ---- requests ------------------------------------------------------- */

int aclc_call(struct aclc_cmd *k, const char *method, const char *path,
              const json_t *body, json_t **out, long *status, char *err)
{
    struct httpc_resp r;
    json_error_t je;
    char *text = NULL;
    int rc = 0;

    if (status != NULL)
        *status = 0;
    if (out != NULL)
        *out = NULL;
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = httpc_do(&k->c, method, path, NULL, text,
                  text != NULL ? strlen(text) : 0, &r, err);
    free(text);
    if (rc != 0)
        return rc;
    if (status != NULL)
        *status = r.status;
    if (r.status != 200) {
        httpc_format_status(&r, err, ERR_LEN);
        rc = ERR_IO;
    } else if (out != NULL) {
        *out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &je);
        if (*out == NULL)
            rc = err_set(err, ERR_PARSE, "invalid JSON from the agent: %s",
                         je.text);
    }
    httpc_resp_release(&r);
    return rc;
}

void aclc_path(char *out, size_t n, const char *prefix, const char *id,
               const char *suffix)
{
    char *esc = httpc_escape(id);

    snprintf(out, n, "%s%s%s", prefix, esc != NULL ? esc : "", suffix);
    free(esc);
}

static const struct kind_info {
    const char *list, *key, *label, *one;
} kinds[] = {
    [ACLC_TOKEN] = {"/v1/acl/tokens", "AccessorID", "token", "token"},
    [ACLC_POLICY] = {"/v1/acl/policies", "ID", "policy", "policy"},
    [ACLC_ROLE] = {"/v1/acl/roles", "ID", "role", "role"},
};

int aclc_resolve(struct aclc_cmd *k, enum aclc_kind kind,
                 const char *partial, char *id, char *err)
{
    const struct kind_info *ki = &kinds[kind];
    size_t plen = strlen(partial), i;
    json_t *list;
    const json_t *e;
    int found = 0;

    if (kind == ACLC_TOKEN && strcmp(partial, "anonymous") == 0)
        partial = ANON_TOKEN_ID;
    if (kind == ACLC_POLICY && strcmp(partial, "global-management") == 0)
        partial = MGMT_POLICY_ID;
    if (strlen(partial) == 36) {
        snprintf(id, ACLC_ID_LEN, "%s", partial);
        return 0;
    }
    if (aclc_call(k, "GET", ki->list, NULL, &list, NULL, err) != 0)
        return ERR_IO;
    json_array_foreach(list, i, e) {
        if (strncmp(aclc_str(e, ki->key), partial, plen) != 0)
            continue;
        if (found++ > 0)
            break;
        snprintf(id, ACLC_ID_LEN, "%s", aclc_str(e, ki->key));
    }
    json_decref(list);
    if (found > 1)
        return err_set(err, ERR_INVAL, "Partial %s ID is not unique",
                       ki->label);
    if (found == 0)
        return err_set(err, ERR_NOTFOUND, "No such %s ID with prefix: %.128s",
                       ki->label, partial);
    return 0;
}

int aclc_by_name(struct aclc_cmd *k, enum aclc_kind kind, const char *name,
                 json_t **out, char *err)
{
    char path[1024], prefix[64];
    long status;

    snprintf(prefix, sizeof(prefix), "/v1/acl/%s/name/", kinds[kind].one);
    aclc_path(path, sizeof(path), prefix, name, "");
    if (aclc_call(k, "GET", path, NULL, out, &status, err) == 0) {
        if (json_is_object(*out))
            return 0;
        json_decref(*out); /* null: not found */
        *out = NULL;
        return 0;
    }
    return status == 404 ? 0 : ERR_IO;
}

int aclc_pick_id(struct aclc_cmd *k, enum aclc_kind kind, const char *id,
                 const char *name, char *out)
{
    char err[ERR_LEN];
    json_t *o = NULL;
    int rc;

    if (id != NULL && id[0] != '\0') {
        rc = aclc_resolve(k, kind, id, out, err);
    } else if ((rc = aclc_by_name(k, kind, name, &o, err)) == 0 &&
               o == NULL) {
        rc = err_set(err, ERR_NOTFOUND, "No such %s with name %.128s",
                     kinds[kind].label, name);
    } else if (rc == 0) {
        snprintf(out, ACLC_ID_LEN, "%s", aclc_str(o, "ID"));
    }
    json_decref(o);
    if (rc != 0)
        fprintf(stderr, "Error determining %s ID: %s\n", kinds[kind].label,
                err);
    return rc != 0 ? 1 : 0;
}

/* ---- identities and links ------------------------------------------- */

/* strings.Split(s, sep) as a JSON array of strings. */
static json_t *split(const char *s, char sep)
{
    json_t *a = json_array();
    const char *p;

    for (;;) {
        p = strchr(s, sep);
        json_array_append_new(a, json_stringn(s, p != NULL
                                                     ? (size_t)(p - s)
                                                     : strlen(s)));
        if (p == NULL)
            return a;
        s = p + 1;
    }
}

static json_t *ident(const char *raw, bool node, char *err)
{
    json_t *parts = split(raw, ':'), *o = NULL;
    const char *a = json_string_value(json_array_get(parts, 0));
    const char *b = json_string_value(json_array_get(parts, 1));
    size_t n = json_array_size(parts);
    char q[ERR_LEN];

    if (!node && (n == 1 || n == 2)) {
        o = json_pack("{s:s}", "ServiceName", a);
        if (n == 2)
            json_object_set_new(o, "Datacenters", split(b, ','));
    } else if (node && n == 2) {
        o = json_pack("{s:s, s:s}", "NodeName", a, "Datacenter", b);
    } else {
        aclc_quote(raw, q, sizeof(q));
        err_set(err, ERR_INVAL, "Malformed -%s-identity argument: %s",
                node ? "node" : "service", q);
    }
    json_decref(parts);
    return o;
}

static json_t *idents(const struct opt_list *l, bool node, char *err)
{
    json_t *a = json_array(), *o;

    for (int i = 0; i < l->n; i++) {
        if ((o = ident(l->items[i], node, err)) == NULL) {
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, o);
    }
    return a;
}

json_t *aclc_service_idents(const struct opt_list *l, char *err)
{
    return idents(l, false, err);
}

json_t *aclc_node_idents(const struct opt_list *l, char *err)
{
    return idents(l, true, err);
}

/* Index in arr of an identity with the same name (and, for nodes, the
 * same datacenter), or -1. */
static int find_ident(const json_t *arr, const json_t *id, bool node)
{
    const char *nk = node ? "NodeName" : "ServiceName";
    const json_t *e;
    size_t i;

    json_array_foreach(arr, i, e) {
        if (strcmp(aclc_str(e, nk), aclc_str(id, nk)) == 0 &&
            (!node || strcmp(aclc_str(e, "Datacenter"),
                             aclc_str(id, "Datacenter")) == 0))
            return (int)i;
    }
    return -1;
}

void aclc_merge_idents(json_t *o, json_t *parsed, bool node)
{
    const char *key = node ? "NodeIdentities" : "ServiceIdentities";
    json_t *arr = json_object_get(o, key), *e;
    size_t i;
    int at;

    if (!json_is_array(arr))
        json_object_set_new(o, key, arr = json_array());
    json_array_foreach(parsed, i, e) {
        if ((at = find_ident(arr, e, node)) < 0)
            json_array_append(arr, e);
        else if (!node)
            json_array_set(arr, (size_t)at, e);
    }
    json_decref(parsed);
}

static bool has_link(const json_t *arr, const char *key, const char *val)
{
    const json_t *e;
    size_t i;

    json_array_foreach(arr, i, e)
        if (strcmp(aclc_str(e, key), val) == 0)
            return true;
    return false;
}

int aclc_add_links(struct aclc_cmd *k, json_t *arr, enum aclc_kind kind,
                   const struct opt_list *names, const struct opt_list *ids,
                   bool skip_dups)
{
    char id[ACLC_ID_LEN], err[ERR_LEN];

    for (int i = 0; i < names->n; i++)
        if (!skip_dups || !has_link(arr, "Name", names->items[i]))
            json_array_append_new(arr, json_pack("{s:s}", "Name",
                                                 names->items[i]));
    for (int i = 0; i < ids->n; i++) {
        if (aclc_resolve(k, kind, ids->items[i], id, err) != 0) {
            fprintf(stderr, "Error resolving %s ID %s: %s\n",
                    kinds[kind].label, ids->items[i], err);
            return 1;
        }
        if (!skip_dups || !has_link(arr, "ID", id))
            json_array_append_new(arr, json_pack("{s:s}", "ID", id));
    }
    return 0;
}

/* ---- data sources --------------------------------------------------- */

/* strerror as Go's syscall errors read: "no such file or directory". */
static const char *go_strerror(int e, char *buf, size_t n)
{
    snprintf(buf, n, "%s", strerror(e));
    buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

static int read_all(FILE *f, char **out)
{
    size_t cap = 4096, len = 0, got;
    char *buf = malloc(cap), *nb;

    if (buf == NULL)
        return ENOMEM;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            if ((nb = realloc(buf, cap * 2)) == NULL) {
                free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    if (ferror(f)) {
        free(buf);
        return errno != 0 ? errno : EIO;
    }
    *out = buf;
    return 0;
}

int aclc_load_data(const char *data, bool raw_ok, char **out, char *err)
{
    FILE *f;
    const char *path = data;
    char eb[128];
    int e;

    if (data[0] == '\0' && !raw_ok)
        return err_set(err, ERR_INVAL, "Failed to load data: must specify "
                       "a file path or '-' for stdin");
    if (strcmp(data, "-") == 0) {
        if ((e = read_all(stdin, out)) != 0)
            return err_set(err, ERR_IO, "Failed to read stdin: read "
                           "/dev/stdin: %s", go_strerror(e, eb, sizeof(eb)));
        return 0;
    }
    if (raw_ok && data[0] != '@') {
        *out = strdup(data);
        return *out != NULL ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    }
    if (raw_ok)
        path++;
    errno = 0;
    if ((f = fopen(path, "r")) == NULL)
        return err_set(err, ERR_IO, "Failed to read file: open %.128s: %s",
                       path, go_strerror(errno, eb, sizeof(eb)));
    e = read_all(f, out);
    fclose(f);
    if (e != 0)
        return err_set(err, ERR_IO, "Failed to read file: read %.128s: %s",
                       path, go_strerror(e, eb, sizeof(eb)));
    return 0;
}

/* ---- text ----------------------------------------------------------- */

void aclc_quote(const char *s, char *out, size_t n)
{
    size_t j = 0;

    if (n < 3) {
        if (n > 0)
            out[0] = '\0';
        return;
    }
    out[j++] = '"';
    for (const unsigned char *p = (const unsigned char *)s;
         *p != '\0' && j + 6 < n; p++) {
        if (*p == '"' || *p == '\\')
            j += (size_t)snprintf(out + j, n - j, "\\%c", *p);
        else if (*p == '\n')
            j += (size_t)snprintf(out + j, n - j, "\\n");
        else if (*p == '\t')
            j += (size_t)snprintf(out + j, n - j, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            j += (size_t)snprintf(out + j, n - j, "\\x%02x", *p);
        else
            out[j++] = (char)*p;
    }
    out[j++] = '"';
    out[j] = '\0';
}

const char *aclc_str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v != NULL ? v : "";
}

/* "2006-01-02T15:04:05.999999999Z07:00" into its parts; false if not. */
static bool parse_rfc3339(const char *s, struct tm *tm, char *frac,
                          int *off_min, bool *utc)
{
    int n = 0, oh, om;
    size_t fl = 0;

    memset(tm, 0, sizeof(*tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm->tm_year, &tm->tm_mon,
               &tm->tm_mday, &tm->tm_hour, &tm->tm_min, &tm->tm_sec,
               &n) != 6 || n != 19)
        return false;
    s += n;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s) && fl < 9; s++)
            frac[fl++] = *s;
    while (fl > 0 && frac[fl - 1] == '0') /* Go's .999999999 */
        fl--;
    frac[fl] = '\0';
    *utc = (*s == 'Z');
    *off_min = 0;
    if (!*utc && ((*s != '+' && *s != '-') ||
                  sscanf(s + 1, "%2d:%2d", &oh, &om) != 2))
        return false;
    if (!*utc)
        *off_min = (*s == '-' ? -1 : 1) * (oh * 60 + om);
    tm->tm_year -= 1900;
    tm->tm_mon -= 1;
    return true;
}

void aclc_time(const char *s, char *out, size_t n)
{
    char frac[16], zone[64], offs[8];
    struct tm tm, loc;
    bool utc;
    int off;
    time_t t;

    if (s == NULL || s[0] == '\0')
        s = "0001-01-01T00:00:00Z";
    if (!parse_rfc3339(s, &tm, frac, &off, &utc)) {
        snprintf(out, n, "%s", s);
        return;
    }
    /* Go keeps the zone name only when the offset is Local's then. */
    snprintf(offs, sizeof(offs), "%c%02d%02d", off < 0 ? '-' : '+',
             abs(off) / 60 % 100, abs(off) % 60);
    t = timegm(&tm) - (time_t)off * 60;
    if (utc)
        snprintf(zone, sizeof(zone), "+0000 UTC");
    else if (localtime_r(&t, &loc) != NULL && loc.tm_gmtoff == off * 60L &&
             loc.tm_zone != NULL)
        snprintf(zone, sizeof(zone), "%s %.32s", offs, loc.tm_zone);
    else
        snprintf(zone, sizeof(zone), "%s %s", offs, offs);
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d%s%s %s",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac[0] != '\0' ? "." : "", frac, zone);
}

void aclc_print_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(4) | JSON_PRESERVE_ORDER |
                                JSON_ENCODE_ANY);

    printf("%s\n", s != NULL ? s : "null");
    free(s);
}

static int b64(unsigned char c)
{
    const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789+/";
    const char *p = c != '\0' ? strchr(tab, c) : NULL;

    return p != NULL ? (int)(p - tab) : -1;
}

/* Go's []byte is base64 in JSON; %x prints it as hex. */
static void print_hex_of_b64(const char *s)
{
    unsigned acc = 0;
    int bits = 0, v;

    for (; *s != '\0'; s++) {
        if ((v = b64((unsigned char)*s)) < 0)
            continue;
        acc = (acc << 6) | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            printf("%02x", (acc >> bits) & 0xffu);
        }
    }
}

void aclc_print_meta(const json_t *o, const char *ind, int width)
{
    printf("%s%-*s", ind, width, "Hash:");
    print_hex_of_b64(aclc_str(o, "Hash"));
    printf("\n%s%-*s%lld\n", ind, width, "Create Index:",
           (long long)json_integer_value(json_object_get(o, "CreateIndex")));
    printf("%s%-*s%lld\n", ind, width, "Modify Index:",
           (long long)json_integer_value(json_object_get(o, "ModifyIndex")));
}

void aclc_print_links(const json_t *o, const char *key, const char *title,
                      const char *ind)
{
    const json_t *arr = json_object_get(o, key), *e;
    size_t i;

    if (json_array_size(arr) == 0)
        return;
    printf("%s%s\n", ind, title);
    json_array_foreach(arr, i, e)
        printf("%s   %s - %s\n", ind, aclc_str(e, "ID"),
               aclc_str(e, "Name"));
}

void aclc_print_svc_idents(const json_t *o, const char *ind)
{
    const json_t *arr = json_object_get(o, "ServiceIdentities"), *e, *dcs;
    size_t i, j;

    if (json_array_size(arr) == 0)
        return;
    printf("%sService Identities:\n", ind);
    json_array_foreach(arr, i, e) {
        dcs = json_object_get(e, "Datacenters");
        printf("%s   %s (Datacenters: ", ind, aclc_str(e, "ServiceName"));
        if (json_array_size(dcs) == 0)
            printf("all");
        for (j = 0; j < json_array_size(dcs); j++)
            printf("%s%s", j > 0 ? ", " : "",
                   json_string_value(json_array_get(dcs, j)) != NULL
                       ? json_string_value(json_array_get(dcs, j))
                       : "");
        printf(")\n");
    }
}

void aclc_print_node_idents(const json_t *o, const char *ind)
{
    const json_t *arr = json_object_get(o, "NodeIdentities"), *e;
    size_t i;

    if (json_array_size(arr) == 0)
        return;
    printf("%sNode Identities:\n", ind);
    json_array_foreach(arr, i, e)
        printf("%s   %s (Datacenter: %s)\n", ind, aclc_str(e, "NodeName"),
               aclc_str(e, "Datacenter"));
}

/* ---- verb groups ---------------------------------------------------- */

static void print_group(const struct aclc_group *g, FILE *out)
{
    int w = 0;

    opt_usage(out, g->usage, g->text, NULL, 0);
    for (int i = 0; i < g->n; i++)
        if ((int)strlen(g->verbs[i].name) > w)
            w = (int)strlen(g->verbs[i].name);
    fprintf(out, "\nSubcommands:\n");
    for (int i = 0; i < g->n; i++)
        fprintf(out, "    %-*s    %s\n", w, g->verbs[i].name,
                g->verbs[i].synopsis);
}

int aclc_run_group(const struct aclc_group *g, int argc, char **argv)
{
    for (int i = 0; argc > 1 && i < g->n; i++)
        if (strcmp(argv[1], g->verbs[i].name) == 0)
            return g->verbs[i].run(argc - 1, argv + 1);
    if (opt_help_requested(argc, argv)) {
        print_group(g, stdout);
        return 0;
    }
    print_group(g, stderr);
    return 1;
}

/* ---- acl bootstrap -------------------------------------------------- */

static const struct aclc_help bootstrap_help = {
    "consul acl bootstrap [options] [FILE|-]",
    "  Asks the servers to create the first management token and prints "
    "it. This\n"
    "  works once; afterwards the servers answer 403 with the reset index. "
    "To\n"
    "  bootstrap again, write that index to <data-dir>/acl-bootstrap-reset "
    "on any\n"
    "  server (Consul: only on the leader) and run this command again.\n\n"
    "  FILE (or \"-\" for stdin) may hold the SecretID the new token "
    "should have.\n\n"
    "      $ consul acl bootstrap\n"
    "      $ consul acl bootstrap -format=json secret.txt"};

static int bootstrap_run(struct aclc_cmd *k, const char *secret)
{
    json_t *body = NULL, *tok = NULL;
    char err[ERR_LEN];
    int rc;

    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (secret[0] != '\0')
        body = json_pack("{s:s}", "BootstrapSecret", secret);
    rc = aclc_call(k, "PUT", "/v1/acl/bootstrap", body, &tok, NULL, err);
    json_decref(body);
    if (rc != 0) {
        fprintf(stderr, "Failed ACL bootstrapping: %s\n", err);
        return 1;
    }
    aclc_print_token(k, tok);
    json_decref(tok);
    return 0;
}

static int acl_bootstrap(int argc, char **argv)
{
    struct aclc_cmd k;
    char *secret = NULL, err[ERR_LEN], *p;
    int rc, rest;

    aclc_init(&k);
    aclc_format_opts(&k, false);
    if ((rc = aclc_parse(&k, &bootstrap_help, argc, argv, &rest)) >= 0)
        goto out;
    rc = 1;
    if (argc - rest > 1) {
        fprintf(stderr, "This command takes up to one argument\n");
        goto out;
    }
    if (argc - rest == 1 && aclc_load_data(argv[rest], false, &secret,
                                           err) != 0) {
        fprintf(stderr, "Error reading provided token: %s\n", err);
        goto out;
    }
    /* strings.TrimSpace: a secret from stdin ends with a newline. */
    for (p = secret; p != NULL && isspace((unsigned char)*p); p++)
        ;
    if (p != NULL)
        memmove(secret, p, strlen(p) + 1);
    for (size_t n = secret ? strlen(secret) : 0;
         n > 0 && isspace((unsigned char)secret[n - 1]); n--)
        secret[n - 1] = '\0';
    rc = bootstrap_run(&k, secret != NULL ? secret : "");
out:
    free(secret);
    aclc_release(&k);
    return rc;
}

/* ---- acl set-agent-token -------------------------------------------- */

static const struct agent_kind {
    const char *name, *path;
} agent_kinds[] = {
    {"default", "default"},
    {"agent", "agent"},
    {"recovery", "agent_recovery"},
    {"agent_master", "agent_recovery"},
    {"master", "agent_recovery"},
    {"replication", "replication"},
    {"config_file_service_registration", "config_file_service_registration"},
    {"dns", "dns"},
};
#define N_AGENT_KINDS ((int)(sizeof(agent_kinds) / sizeof(agent_kinds[0])))

static const struct agent_kind *agent_kind(const char *name)
{
    for (int i = 0; i < N_AGENT_KINDS; i++)
        if (strcmp(agent_kinds[i].name, name) == 0)
            return &agent_kinds[i];
    return NULL;
}

static const struct aclc_help agent_token_help = {
    "consul acl set-agent-token [options] TYPE TOKEN",
    "  Sets one of the tokens the agent itself uses. TOKEN may be \"-\" "
    "(stdin)\n"
    "  or \"@file\". Tokens set this way are kept across restarts only "
    "with\n"
    "  acl.enable_token_persistence.\n\n"
    "  Token types:\n\n"
    "    default       used for requests that carry no token, and for the\n"
    "                  agent's own work when no agent token is set\n"
    "    agent         used for the agent's own work (registration, "
    "anti-entropy)\n"
    "    recovery      opens the agent's /v1/agent endpoints when the "
    "servers\n"
    "                  cannot be reached (old names: master, "
    "agent_master)\n"
    "    replication   used to replicate ACLs from the primary "
    "datacenter\n"
    "    config_file_service_registration\n"
    "                  used to register services from config files\n"
    "    dns           used for DNS queries\n\n"
    "      $ consul acl set-agent-token default "
    "c4d0f8df-3aba-4ab6-a7a0-35b760dc29a1"};

/* Consul's dataFromArgs: "Error! ..." messages. */
static int agent_token_args(int n, char **args, char **token, char *err)
{
    if (n == 0)
        return err_set(err, ERR_INVAL, "Missing TYPE and TOKEN arguments");
    if (n == 1)
        return err_set(err, ERR_INVAL, agent_kind(args[0]) != NULL
                                           ? "Missing TOKEN argument"
                                           : "MISSING TYPE argument");
    if (n > 2)
        return err_set(err, ERR_INVAL, "Too many arguments: expected 2 "
                       "got %d", n);
    return aclc_load_data(args[1], true, token, err);
}

static int agent_token_put(struct aclc_cmd *k, const char *type,
                           const char *token)
{
    const struct agent_kind *ak = agent_kind(type);
    char path[128], err[ERR_LEN], q[ERR_LEN];
    json_t *body;
    int rc;

    if (ak == NULL) {
        fprintf(stderr, "Unknown token type\n");
        return 1;
    }
    snprintf(path, sizeof(path), "/v1/agent/token/%s", ak->path);
    body = json_pack("{s:s}", "Token", token);
    rc = aclc_call(k, "PUT", path, body, NULL, NULL, err);
    json_decref(body);
    aclc_quote(type, q, sizeof(q));
    if (rc != 0) {
        fprintf(stderr, "Failed to set ACL token %s: %s\n", q, err);
        return 1;
    }
    printf("ACL token %s set successfully\n", q);
    return 0;
}

static int acl_set_agent_token(int argc, char **argv)
{
    struct aclc_cmd k;
    char err[ERR_LEN], *token = NULL;
    int rc, rest;

    aclc_init(&k);
    if ((rc = aclc_parse(&k, &agent_token_help, argc, argv, &rest)) >= 0)
        goto out;
    rc = 1;
    if (agent_token_args(argc - rest, argv + rest, &token, err) != 0)
        fprintf(stderr, "Error! %s\n", err);
    else if (aclc_connect(&k, "Error connecting to Consul Agent") == 0)
        rc = agent_token_put(&k, argv[rest], token);
out:
    free(token);
    aclc_release(&k);
    return rc;
}

/* ---- acl ------------------------------------------------------------ */

static const struct aclc_verb acl_verbs[] = {
    {"bootstrap", acl_bootstrap, "Bootstrap Consul's ACL system"},
    {"policy", aclc_policy, "Manage Consul's ACL policies"},
    {"role", aclc_role, "Manage Consul's ACL roles"},
    {"set-agent-token", acl_set_agent_token,
     "Assign tokens for the Consul Agent's usage"},
    {"token", aclc_token, "Manage Consul's ACL tokens"},
};

static const struct aclc_group acl_group = {
    "consul acl <subcommand> [options] [args]",
    "  Manages Consul's ACL system: bootstrap, tokens, policies, roles and "
    "the\n"
    "  agent's own tokens. Each subcommand's help has more examples.\n\n"
    "  Bootstrap the ACL system:\n\n"
    "      $ consul acl bootstrap\n\n"
    "  List every token:\n\n"
    "      $ consul acl token list\n\n"
    "  Create a policy from a rules file:\n\n"
    "      $ consul acl policy create -name \"app\" -rules @app.hcl\n\n"
    "  Give the agent its default token:\n\n"
    "      $ consul acl set-agent-token default "
    "0bc6bc46-f25e-4262-b2d9-ffbe1d96be6f",
    acl_verbs, (int)(sizeof(acl_verbs) / sizeof(acl_verbs[0]))};

int cmd_acl(int argc, char **argv)
{
    return aclc_run_group(&acl_group, argc, argv);
}

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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_cli.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

#define ANON_TOKEN_ID "00000000-0000-0000-0000-000000000002"
#define MGMT_POLICY_ID "00000000-0000-0000-0000-000000000001"

/* ---- flags ---------------------------------------------------------- */

void aclc_opt(struct aclc_cmd *k, const char *name, enum opt_type type,
              void *dst, const char *help)
{
    if (k->n >= ACLC_MAX_OPTS)
        return; /* a programming error; the flag is then unknown */
    k->opts[k->n++] = (struct opt){
        .name = name, .type = type, .dst = dst, .help = help};
}

void aclc_grant_opts(struct aclc_cmd *k, struct aclc_grants *g,
                     const char *noun)
{
    static char desc[64], pid[128], pname[128], svc[160], node[128];

    snprintf(desc, sizeof(desc), "A description of the %s.", noun);
    snprintf(pid, sizeof(pid), "ID (or unique ID prefix) of a policy for "
             "this %s. May be given more than once.", noun);
    snprintf(pname, sizeof(pname), "Name of a policy for this %s. May be "
             "given more than once.", noun);
    snprintf(svc, sizeof(svc), "A service identity for this %s, "
             "SERVICENAME or SERVICENAME:DC1,DC2,... May be given more "
             "than once.", noun);
    snprintf(node, sizeof(node), "A node identity for this %s, "
             "NODENAME:DATACENTER. May be given more than once.", noun);
    aclc_opt(k, "description", OPT_STR, &g->description, desc);
    aclc_opt(k, "policy-id", OPT_STRLIST, &g->pol_ids, pid);
    aclc_opt(k, "policy-name", OPT_STRLIST, &g->pol_names, pname);
    aclc_opt(k, "service-identity", OPT_STRLIST, &g->svc, svc);
    aclc_opt(k, "node-identity", OPT_STRLIST, &g->node, node);
}

/* -format (default "pretty") and, if with_meta, -meta. */
static void format_opts(struct aclc_cmd *k, bool with_meta)
{
    k->format = "pretty";
    aclc_opt(k, "format", OPT_STR, &k->format,
             "Output format {pretty|json}");
    if (with_meta)
        aclc_opt(k, "meta", OPT_BOOL, &k->meta,
                 "Indicates that metadata such as the content hash and "
                 "Raft indices should be shown for each entry.");
}

/* Add the HTTP flags and parse. Returns -1 to go on (k->args set),
 * else the exit code: 0 after -h (usage on stdout), 1 on a bad flag
 * (Go's message, "Usage:" and the flag list on stderr) or an unknown
 * -format. */
static int parse(struct aclc_cmd *k, const struct aclc_help *h, int argc,
                 char **argv)
{
    char err[ERR_LEN];
    int r, rest;

    httpc_add_flags(k->opts, &k->n, &k->hf, true);
    httpc_add_tls_flags(k->opts, &k->n, &k->hf);
    if (opt_help_requested(argc, argv)) {
        opt_usage(stdout, h->synopsis, h->text, k->opts, k->n);
        return 0;
    }
    r = opt_parse(k->opts, k->n, argc, argv, &rest, err);
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
    k->nargs = argc - rest;
    k->args = argv + rest;
    return -1;
}

bool aclc_given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

int aclc_need_name(const struct aclc_cmd *k, const char *name)
{
    const struct aclc_help *h = &k->flow->help;

    if (aclc_given(name))
        return 0;
    fprintf(stderr, "Missing require '-name' flag\n");
    opt_usage(stderr, h->synopsis, h->text, k->opts, k->n);
    return 1;
}

int aclc_connect(struct aclc_cmd *k, const char *what)
{
    char err[ERR_LEN];

    if (k->connected)
        return 0;
    if (httpc_init(&k->c, &k->hf, err) == 0) {
        k->connected = true;
        return 0;
    }
    fprintf(stderr, "%s: %s\n",
            what != NULL ? what : "Error connecting to Consul agent", err);
    return 1;
}

static void release(struct aclc_cmd *k)
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

int aclc_run_flow(const struct aclc_flow *fl, int argc, char **argv)
{
    void *flags = calloc(1, fl->flags_size > 0 ? fl->flags_size : 1);
    struct aclc_cmd k;
    int rc;

    if (flags == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    memset(&k, 0, sizeof(k));
    k.flow = fl;
    if (fl->setup != NULL)
        fl->setup(&k, flags);
    if (fl->fmt != ACLC_NO_FORMAT)
        format_opts(&k, fl->fmt == ACLC_FORMAT_META);
    if ((rc = parse(&k, &fl->help, argc, argv)) < 0)
        rc = fl->run(&k, flags);
    release(&k); /* before flags: it frees the lists in them */
    free(flags);
    return rc;
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

int aclc_send(struct aclc_cmd *k, const char *method, const char *path,
              json_t *body, aclc_print_fn print, const char *fmt, ...)
{
    char err[ERR_LEN], what[ERR_LEN];
    json_t *out = NULL;
    va_list ap;
    int rc;

    rc = aclc_call(k, method, path, body, &out, NULL, err);
    json_decref(body);
    if (rc != 0) {
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        fprintf(stderr, "%s: %s\n", what, err);
        return 1;
    }
    print(k, out);
    json_decref(out);
    return 0;
}

/* Consul's nouns: list path, ID key, label, title ("Policy"), and
 * whether its API client reads a 404 as "not found". */
static const struct kind_info {
    const char *list, *key, *label, *title;
    bool soft404;
} kinds[] = {
    [ACLC_TOKEN] = {"/v1/acl/tokens", "AccessorID", "token", "Token", false},
    [ACLC_POLICY] = {"/v1/acl/policies", "ID", "policy", "Policy", false},
    [ACLC_ROLE] = {"/v1/acl/roles", "ID", "role", "Role", true},
};

/* "/v1/acl/<kind>/<sub><escaped key>" into out (n bytes). */
static void kind_path(char *out, size_t n, enum aclc_kind kind,
                      const char *sub, const char *key)
{
    char prefix[64];

    snprintf(prefix, sizeof(prefix), "/v1/acl/%s/%s", kinds[kind].label,
             sub);
    aclc_path(out, n, prefix, key, "");
}

int aclc_delete(struct aclc_cmd *k, enum aclc_kind kind, const char *id)
{
    char path[1024], err[ERR_LEN], q[ERR_LEN];

    kind_path(path, sizeof(path), kind, "", id);
    aclc_quote(id, q, sizeof(q));
    if (aclc_call(k, "DELETE", path, NULL, NULL, NULL, err) != 0) {
        fprintf(stderr, "Error deleting %s %s: %s\n", kinds[kind].label, q,
                err);
        return 1;
    }
    printf("%s %s deleted successfully\n", kinds[kind].title, q);
    return 0;
}

json_t *aclc_get(struct aclc_cmd *k, enum aclc_kind kind, const char *key,
                 bool by_name)
{
    const struct kind_info *ki = &kinds[kind];
    char path[1024], err[ERR_LEN], q[ERR_LEN];
    json_t *o = NULL;
    long status;

    aclc_quote(key, q, sizeof(q));
    kind_path(path, sizeof(path), kind, by_name ? "name/" : "", key);
    if (aclc_call(k, "GET", path, NULL, &o, &status, err) != 0 &&
        (status != 404 || !ki->soft404))
        fprintf(stderr, "Error reading %s %s: %s\n", ki->label, q, err);
    else if (!json_is_object(o))
        fprintf(stderr, "%s not found with %s %s\n", ki->title,
                by_name ? "name" : "ID", q);
    else
        return o;
    json_decref(o);
    return NULL;
}

static void print_list(const struct aclc_cmd *k, const json_t *list)
{
    const json_t *e;
    size_t i;

    if (aclc_json(k)) {
        aclc_print_json(list);
        return;
    }
    json_array_foreach(list, i, e) {
        if (i > 0 && k->flow->spaced)
            putchar('\n');
        k->flow->print(k, e);
    }
    if (json_array_size(list) > 0)
        putchar('\n');
}

int aclc_list(struct aclc_cmd *k, void *flags)
{
    const struct kind_info *ki = &kinds[k->flow->kind];
    char err[ERR_LEN];
    json_t *list;

    if (aclc_connect(k, NULL) != 0)
        return 1;
    if (aclc_call(k, "GET", ki->list, NULL, &list, NULL, err) != 0) {
        fprintf(stderr, "Failed to retrieve the %s list: %s\n", ki->label,
                err);
        return 1;
    }
    print_list(k, list);
    json_decref(list);
    return 0;
}

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

/* GET /v1/acl/<kind>/name/<name>: 0 with *out (NULL when not found),
 * or -1 with err. */
static int by_name(struct aclc_cmd *k, enum aclc_kind kind, const char *name,
                   json_t **out, char *err)
{
    char path[1024];
    long status;

    kind_path(path, sizeof(path), kind, "name/", name);
    if (aclc_call(k, "GET", path, NULL, out, &status, err) == 0) {
        if (json_is_object(*out))
            return 0;
        json_decref(*out); /* null: not found */
        *out = NULL;
        return 0;
    }
    return status == 404 ? 0 : ERR_IO;
}

/* The ID named by -id (a prefix) or else -name, into out; 1 after
 * Consul's "Error determining <kind> ID: ..." message. */
static int pick_id(struct aclc_cmd *k, enum aclc_kind kind, const char *id,
                   const char *name, char *out)
{
    char err[ERR_LEN];
    json_t *o = NULL;
    int rc;

    if (id != NULL && id[0] != '\0') {
        rc = aclc_resolve(k, kind, id, out, err);
    } else if ((rc = by_name(k, kind, name, &o, err)) == 0 &&
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

int aclc_find(struct aclc_cmd *k, enum aclc_kind kind, const char *id,
              const char *name, const char *missing, char *out)
{
    if (!aclc_given(id) && !aclc_given(name)) {
        fprintf(stderr, "%s\n", missing);
        return 1;
    }
    if (aclc_connect(k, NULL) != 0)
        return 1;
    return pick_id(k, kind, id, name, out);
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
    const struct aclc_verb *v;

    for (int i = 0; argc > 1 && i < g->n; i++) {
        v = &g->verbs[i];
        if (strcmp(argv[1], v->name) != 0)
            continue;
        return v->flow != NULL ? aclc_run_flow(v->flow, argc - 1, argv + 1)
                               : v->group(argc - 1, argv + 1);
    }
    if (opt_help_requested(argc, argv)) {
        print_group(g, stdout);
        return 0;
    }
    print_group(g, stderr);
    return 1;
}

/* ---- acl bootstrap -------------------------------------------------- */

/* strings.TrimSpace: a secret from stdin ends with a newline. */
static void trim_space(char *s)
{
    char *p = s;
    size_t n;

    while (isspace((unsigned char)*p))
        p++;
    memmove(s, p, strlen(p) + 1);
    for (n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]); n--)
        s[n - 1] = '\0';
}

static int bootstrap_run(struct aclc_cmd *k, void *flags)
{
    char *secret = NULL, err[ERR_LEN];
    json_t *body = NULL;

    if (k->nargs > 1) {
        fprintf(stderr, "This command takes up to one argument\n");
        return 1;
    }
    if (k->nargs == 1 &&
        aclc_load_data(k->args[0], false, &secret, err) != 0) {
        fprintf(stderr, "Error reading provided token: %s\n", err);
        free(secret);
        return 1;
    }
    if (secret != NULL)
        trim_space(secret);
    if (aclc_connect(k, NULL) != 0) {
        free(secret);
        return 1;
    }
    if (secret != NULL && secret[0] != '\0')
        body = json_pack("{s:s}", "BootstrapSecret", secret);
    free(secret);
    return aclc_send(k, "PUT", "/v1/acl/bootstrap", body, aclc_print_token,
                     "Failed ACL bootstrapping");
}

static const struct aclc_flow bootstrap_flow = {
    .help = {"consul acl bootstrap [options] [FILE|-]",
             "  Asks the servers to create the first management token and "
             "prints it. This\n"
             "  works once; afterwards the servers answer 403 with the "
             "reset index. To\n"
             "  bootstrap again, write that index to "
             "<data-dir>/acl-bootstrap-reset on any\n"
             "  server (Consul: only on the leader) and run this command "
             "again.\n\n"
             "  FILE (or \"-\" for stdin) may hold the SecretID the new "
             "token should have.\n\n"
             "      $ consul acl bootstrap\n"
             "      $ consul acl bootstrap -format=json secret.txt"},
    .run = bootstrap_run,
    .fmt = ACLC_FORMAT,
};

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

static int agent_token_run(struct aclc_cmd *k, void *flags)
{
    char err[ERR_LEN], *token = NULL;
    int rc = 1;

    if (agent_token_args(k->nargs, k->args, &token, err) != 0)
        fprintf(stderr, "Error! %s\n", err);
    else if (aclc_connect(k, "Error connecting to Consul Agent") == 0)
        rc = agent_token_put(k, k->args[0], token);
    free(token);
    return rc;
}

static const struct aclc_flow agent_token_flow = {
    .run = agent_token_run,
    .help = {"consul acl set-agent-token [options] TYPE TOKEN",
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
    "c4d0f8df-3aba-4ab6-a7a0-35b760dc29a1"}};

/* ---- acl ------------------------------------------------------------ */

static const struct aclc_verb acl_verbs[] = {
    {"bootstrap", "Bootstrap Consul's ACL system", &bootstrap_flow, NULL},
    {"policy", "Manage Consul's ACL policies", NULL, aclc_policy},
    {"role", "Manage Consul's ACL roles", NULL, aclc_role},
    {"set-agent-token", "Assign tokens for the Consul Agent's usage",
     &agent_token_flow, NULL},
    {"token", "Manage Consul's ACL tokens", NULL, aclc_token},
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

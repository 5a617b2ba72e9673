/* acl_rules.c - ACL policy rules: parsing a Rules text (HCL or JSON) into
 * sorted rule tables, the identity templates, and the resource names.
 *
 * Layer: store (uses util, codec: hcl, jansson). Thread: any.
 * Owns: every struct acl_rules and the names in its tables.
 * Tests: t/unit/check_acl.c
 *
 * hcl_parse gives `key "a" {policy = "read"}` as {"key":{"a":{...}}},
 * a block repeated with the same label as {"key":{"a":[{...},{...}]}},
 * and a bare `key {...}` after labeled ones as a list of label maps; the
 * JSON form may use the same shapes. So a resource's value is a label
 * map or a list of them, and a label's value is a block or a list of
 * blocks. Anything else is an error naming the resource. Rules for the
 * same (resource, exact|prefix, name) merge as they do across policies.
 */
#include "acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_rules_int.h"
#include "hcl.h"

/* ---- names ------------------------------------------------------------ */

static const char *const res_names[ACL_RES_COUNT] = {
    [ACL_RES_ACL] = "acl",         [ACL_RES_AGENT] = "agent",
    [ACL_RES_EVENT] = "event",     [ACL_RES_KEY] = "key",
    [ACL_RES_KEYRING] = "keyring", [ACL_RES_MESH] = "mesh",
    [ACL_RES_NODE] = "node",       [ACL_RES_OPERATOR] = "operator",
    [ACL_RES_PEERING] = "peering", [ACL_RES_QUERY] = "query",
    [ACL_RES_SERVICE] = "service", [ACL_RES_SESSION] = "session",
};

const char *acl_res_name(enum acl_res r)
{
    return (unsigned)r < ACL_RES_COUNT ? res_names[r] : "unknown";
}

const char *acl_need_name(enum acl_need n)
{
    switch (n) {
    case ACL_READ:
        return "read";
    case ACL_LIST:
        return "list";
    case ACL_WRITE:
        return "write";
    }
    return "unknown";
}

bool acl_res_labeled(enum acl_res r)
{
    switch (r) {
    case ACL_RES_AGENT:
    case ACL_RES_EVENT:
    case ACL_RES_KEY:
    case ACL_RES_NODE:
    case ACL_RES_QUERY:
    case ACL_RES_SERVICE:
    case ACL_RES_SESSION:
        return true;
    default:
        return false;
    }
}

/* ---- tables ----------------------------------------------------------- */

size_t acl_rset_lower(const struct acl_rset *s, const char *name,
                      bool *found)
{
    size_t lo = 0, hi = s->n, mid;
    int c;

    *found = false;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(s->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void rset_release(struct acl_rset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int acl_tab_put(struct acl_tab *t, enum acl_res res, bool prefix,
                const char *name, enum acl_lvl lvl)
{
    struct acl_rset *s = prefix ? &t->prefix[res] : &t->exact[res];
    struct acl_rule *v;
    bool found;
    size_t i = acl_rset_lower(s, name, &found);
    char *dup;

    if (found) {
        if (lvl > s->v[i].lvl)
            s->v[i].lvl = (unsigned char)lvl;
        return 0;
    }
    if ((dup = strdup(name)) == NULL)
        return ERR_NOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;

        if ((v = realloc(s->v, cap * sizeof(*v))) == NULL) {
            free(dup);
            return ERR_NOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = (struct acl_rule){dup, strlen(dup), -1, (unsigned char)lvl};
    s->n++;
    return 0;
}

static bool is_prefix_of(const struct acl_rule *a, const struct acl_rule *b)
{
    return a->len < b->len && memcmp(a->name, b->name, a->len) == 0;
}

/* v[i]'s longest proper prefix is v[i-1] or in v[i-1]'s chain: any
 * longer prefix of v[i] would sort between v[i-1] and v[i]. */
static void link_set(struct acl_rset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        long j = (long)i - 1;

        while (j >= 0 && !is_prefix_of(&s->v[j], &s->v[i]))
            j = s->v[j].up;
        s->v[i].up = j;
    }
}

void acl_tab_link(struct acl_tab *t)
{
    for (int r = 0; r < ACL_RES_COUNT; r++)
        link_set(&t->prefix[r]);
}

/* out = a merged with b, every name copied; a and b are untouched. */
static int merge_set(struct acl_rset *out, const struct acl_rset *a,
                     const struct acl_rset *b)
{
    size_t i = 0, j = 0;

    memset(out, 0, sizeof(*out));
    if (a->n + b->n == 0)
        return 0;
    if ((out->v = calloc(a->n + b->n, sizeof(*out->v))) == NULL)
        return ERR_NOMEM;
    out->cap = a->n + b->n;
    while (i < a->n || j < b->n) {
        int c = i == a->n   ? 1
                : j == b->n ? -1
                            : strcmp(a->v[i].name, b->v[j].name);
        struct acl_rule r = c <= 0 ? a->v[i] : b->v[j];

        if (c == 0 && b->v[j].lvl > r.lvl)
            r.lvl = b->v[j].lvl;
        i += c <= 0;
        j += c >= 0;
        if ((r.name = strdup(r.name)) == NULL) {
            rset_release(out);
            return ERR_NOMEM;
        }
        r.up = -1;
        out->v[out->n++] = r;
    }
    return 0;
}

int acl_tab_merge(struct acl_tab *dst, const struct acl_tab *src)
{
    struct acl_rset ex[ACL_RES_COUNT], pf[ACL_RES_COUNT];
    int r, k;

    for (r = 0; r < ACL_RES_COUNT; r++) {
        if (merge_set(&ex[r], &dst->exact[r], &src->exact[r]) != 0)
            goto fail;
        if (merge_set(&pf[r], &dst->prefix[r], &src->prefix[r]) != 0) {
            rset_release(&ex[r]);
            goto fail;
        }
    }
    for (r = 0; r < ACL_RES_COUNT; r++) {
        rset_release(&dst->exact[r]);
        rset_release(&dst->prefix[r]);
        dst->exact[r] = ex[r];
        dst->prefix[r] = pf[r];
        if (src->flat[r] > dst->flat[r])
            dst->flat[r] = src->flat[r];
    }
    acl_tab_link(dst);
    return 0;
fail:
    for (k = 0; k < r; k++) {
        rset_release(&ex[k]);
        rset_release(&pf[k]);
    }
    return ERR_NOMEM;
}

void acl_tab_release(struct acl_tab *t)
{
    for (int r = 0; r < ACL_RES_COUNT; r++) {
        rset_release(&t->exact[r]);
        rset_release(&t->prefix[r]);
    }
    memset(t->flat, 0, sizeof(t->flat));
}

/* ---- parsing ---------------------------------------------------------- */

struct pctx {
    struct acl_tab *t;
    char *err;
    const char *rk; /* the resource as written: "key_prefix" */
    enum acl_res res;
    bool prefix;
    const char *name; /* the block label */
};

#define PREFIX_SUFFIX "_prefix"

/* A string without embedded NUL, or NULL. */
static const char *str_of(const json_t *v)
{
    const char *s = json_string_value(v);

    return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

static int lvl_parse(const char *s, enum acl_lvl *out)
{
    static const struct {
        const char *s;
        enum acl_lvl l;
    } tab[] = {{"read", ACL_LVL_READ},
               {"list", ACL_LVL_LIST},
               {"write", ACL_LVL_WRITE},
               {"deny", ACL_LVL_DENY}};

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(s, tab[i].s) == 0) {
            *out = tab[i].l;
            return 0;
        }
    return -1;
}

/* "key_prefix \"foo/\"" or "operator", for messages. */
static const char *where(const struct pctx *c, char *buf, size_t n)
{
    char q[ERR_QUOTE_MAX / 2];

    if (c->name == NULL)
        snprintf(buf, n, "%s", c->rk);
    else
        snprintf(buf, n, "%s \"%s\"", c->rk, err_quote(q, sizeof(q), c->name));
    return buf;
}

/* Check a disposition; what is "policy" or "intentions". */
static int level(struct pctx *c, const char *what, const json_t *v,
                 enum acl_lvl *out)
{
    char w[ERR_QUOTE_MAX], q[ERR_QUOTE_MAX / 2];
    const char *s = str_of(v);

    if (s == NULL)
        return err_set(c->err, ERR_INVAL, "invalid %s %s: expected a string",
                       where(c, w, sizeof(w)), what);
    if (lvl_parse(s, out) != 0)
        return err_set(c->err, ERR_INVAL, "invalid %s %s \"%s\"",
                       where(c, w, sizeof(w)), what,
                       err_quote(q, sizeof(q), s));
    if (*out == ACL_LVL_LIST && !(c->res == ACL_RES_KEY && c->prefix))
        return err_set(c->err, ERR_INVAL,
                       "invalid %s %s \"list\": \"list\" is only valid for "
                       "key_prefix",
                       where(c, w, sizeof(w)), what);
    return 0;
}

static int parse_block(struct pctx *c, const json_t *body)
{
    char w[ERR_QUOTE_MAX], q[ERR_QUOTE_MAX / 2];
    enum acl_lvl lvl = ACL_LVL_NONE, ign;
    const char *k;
    json_t *v;
    int rc;

    if (!json_is_object(body))
        return err_set(c->err, ERR_INVAL, "invalid %s: expected a block",
                       where(c, w, sizeof(w)));
    json_object_foreach((json_t *)body, k, v) {
        if (strcmp(k, "policy") == 0)
            rc = level(c, k, v, &lvl);
        else if (strcmp(k, "intentions") == 0 && c->res == ACL_RES_SERVICE)
            rc = level(c, k, v, &ign); /* checked, not enforced here */
        else
            rc = err_set(c->err, ERR_INVAL, "unknown field \"%s\" in %s",
                         err_quote(q, sizeof(q), k), where(c, w, sizeof(w)));
        if (rc != 0)
            return rc;
    }
    if (lvl == ACL_LVL_NONE)
        return err_set(c->err, ERR_INVAL, "missing policy in %s",
                       where(c, w, sizeof(w)));
    if (acl_tab_put(c->t, c->res, c->prefix, c->name, lvl) != 0)
        return err_set(c->err, ERR_NOMEM, "out of memory");
    return 0;
}

/* A label map: {"name": block | [block, ...], ...}. */
static int parse_labels(struct pctx *c, const json_t *map)
{
    char w[ERR_QUOTE_MAX];
    const char *name;
    json_t *body, *b;
    size_t i;
    int rc = 0;

    if (!json_is_object(map))
        return err_set(c->err, ERR_INVAL,
                       "invalid %s: expected blocks like %s \"name\" "
                       "{ policy = \"read\" }",
                       where(c, w, sizeof(w)), c->rk);
    json_object_foreach((json_t *)map, name, body) {
        c->name = name;
        if (json_is_array(body)) {
            json_array_foreach(body, i, b) {
                if ((rc = parse_block(c, b)) != 0)
                    break;
            }
        } else {
            rc = parse_block(c, body);
        }
        c->name = NULL;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int parse_unlabeled(struct pctx *c, const json_t *v)
{
    enum acl_lvl lvl;
    int rc;

    if (!json_is_string(v))
        return err_set(c->err, ERR_INVAL,
                       "invalid %s: expected a string like %s = \"read\"",
                       c->rk, c->rk);
    if ((rc = level(c, "policy", v, &lvl)) != 0)
        return rc;
    if (lvl > c->t->flat[c->res])
        c->t->flat[c->res] = (unsigned char)lvl;
    return 0;
}

/* Resolve "key_prefix" to (ACL_RES_KEY, prefix); -1 when unknown. */
static int resolve(const char *k, enum acl_res *res, bool *prefix)
{
    size_t n = strlen(k), sl = strlen(PREFIX_SUFFIX);

    *prefix = n > sl && strcmp(k + n - sl, PREFIX_SUFFIX) == 0;
    if (*prefix)
        n -= sl;
    for (int r = 0; r < ACL_RES_COUNT; r++)
        if (strlen(res_names[r]) == n && memcmp(k, res_names[r], n) == 0) {
            *res = (enum acl_res)r;
            return *prefix && !acl_res_labeled(*res) ? -1 : 0;
        }
    return -1;
}

static int parse_top(struct acl_tab *t, const json_t *root, char *err)
{
    struct pctx c = {.t = t, .err = err};
    char q[ERR_QUOTE_MAX + 1];
    const char *k;
    json_t *v, *e;
    size_t i;
    int rc = 0;

    json_object_foreach((json_t *)root, k, v) {
        if (resolve(k, &c.res, &c.prefix) != 0)
            return err_set(err, ERR_INVAL, "unknown ACL resource \"%s\"",
                           err_quote(q, sizeof(q), k));
        c.rk = k;
        if (!acl_res_labeled(c.res)) {
            rc = parse_unlabeled(&c, v);
        } else if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if ((rc = parse_labels(&c, e)) != 0)
                    break;
            }
        } else {
            rc = parse_labels(&c, v);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int acl_rules_parse(const char *text, size_t len, struct acl_rules **out,
                    char *err)
{
    struct acl_rules *r;
    json_t *root = NULL;
    int rc;

    *out = NULL;
    if (len > ACL_MAX_RULES)
        return err_set(err, ERR_INVAL, "rules too long (%zu bytes, max %d)",
                       len, ACL_MAX_RULES);
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (len == 0) {
        *out = r;
        return 0;
    }
    rc = hcl_parse(text, len, "rules", hcl_is_json(text, len), &root, err);
    if (rc == 0 && !json_is_object(root))
        rc = err_set(err, ERR_INVAL, "rules: expected an object");
    if (rc == 0)
        rc = parse_top(&r->t, root, err);
    json_decref(root);
    if (rc != 0) {
        acl_rules_free(r);
        return rc == ERR_NOMEM ? ERR_NOMEM : ERR_INVAL;
    }
    acl_tab_link(&r->t);
    *out = r;
    return 0;
}

void acl_rules_free(struct acl_rules *r)
{
    if (r == NULL)
        return;
    acl_tab_release(&r->t);
    free(r);
}

/* ---- identities ------------------------------------------------------- */

/* Safe inside an HCL string: no quote, backslash, control character or
 * interpolation. */
static bool quotable(const char *s)
{
    if (s == NULL)
        return false;
    for (const unsigned char *p = (const void *)s; *p != '\0'; p++)
        if (*p == '"' || *p == '\\' || *p < 0x20 || *p == 0x7f ||
            (p[0] == '$' && p[1] == '{'))
            return false;
    return true;
}

char *acl_service_identity_rules(const char *service)
{
    char *s;

    if (!quotable(service))
        return NULL;
    if (asprintf(&s,
                 "service \"%s\" {\n\tpolicy = \"write\"\n}\n"
                 "service \"%s-sidecar-proxy\" {\n\tpolicy = \"write\"\n}\n"
                 "service_prefix \"\" {\n\tpolicy = \"read\"\n}\n"
                 "node_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
                 service, service) < 0)
        return NULL;
    return s;
}

char *acl_node_identity_rules(const char *node)
{
    char *s;

    if (!quotable(node))
        return NULL;
    if (asprintf(&s,
                 "node \"%s\" {\n\tpolicy = \"write\"\n}\n"
                 "service_prefix \"\" {\n\tpolicy = \"read\"\n}\n",
                 node) < 0)
        return NULL;
    return s;
}

/* acl_store.c - the replicated ACL state: tables, lookups, views,
 * lists, a token's rules and its cached authorizer.
 *
 * Layer: store (uses util, codec: jansson; OpenSSL for SHA-256 and
 * constant-time comparison). Thread: loop only.
 * Owns: every acl_ent (token, policy, role) with its JSON and compiled
 * rules, the compiled authorizers of tokens (dropped on any change).
 * Tests: t/unit/check_acl_store.c
 * Split: acl_store_check.c (shapes, validation), acl_store_write.c
 * (apply, snapshot records); the tables are described in
 * acl_store_int.h.
 *
 * Stored link Names are those of the time of the write; readers get
 * views, where they are looked up afresh and links to deleted objects
 * are dropped, so a rename or a delete never has to touch the tokens
 * and roles that link to the object.
 */
#include "acl.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl_store_int.h"

/* ---- tables ---- */

static const char *ent_key(const struct acl_map *m, const struct acl_ent *e)
{
    switch (m->key) {
    case ACL_KEY_ID: return e->id;
    case ACL_KEY_NAME: return e->name;
    default: return e->hex;
    }
}

/* First slot whose key is >= key. */
static size_t lower_bound(const struct acl_map *m, const char *key,
                          bool *found)
{
    size_t lo = 0, hi = m->n, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (strcmp(ent_key(m, m->v[mid]), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && strcmp(ent_key(m, m->v[lo]), key) == 0;
    return lo;
}

void acl_map_init(struct acl_map *m, enum acl_key key)
{
    memset(m, 0, sizeof(*m));
    m->key = key;
}

struct acl_ent *acl_map_get(const struct acl_map *m, const char *key)
{
    bool found;
    size_t i = lower_bound(m, key, &found);

    return found ? m->v[i] : NULL;
}

int acl_map_reserve(struct acl_map *m, size_t n)
{
    struct acl_ent **nv;
    size_t cap = m->cap != 0 ? m->cap : 16;

    if (m->n + n <= m->cap)
        return 0;
    while (cap < m->n + n)
        cap *= 2;
    if ((nv = realloc(m->v, cap * sizeof(*nv))) == NULL)
        return -1;
    m->v = nv;
    m->cap = cap;
    return 0;
}

struct acl_ent *acl_map_put(struct acl_map *m, struct acl_ent *e)
{
    bool found;
    size_t i = lower_bound(m, ent_key(m, e), &found);
    struct acl_ent *old;

    if (found) {
        old = m->v[i];
        m->v[i] = e;
        return old;
    }
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(m->v[0]));
    m->v[i] = e;
    m->n++;
    return NULL;
}

struct acl_ent *acl_map_del(struct acl_map *m, const char *key)
{
    bool found;
    size_t i = lower_bound(m, key, &found);
    struct acl_ent *old;

    if (!found)
        return NULL;
    old = m->v[i];
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(m->v[0]));
    m->n--;
    return old;
}

bool acl_fold(char *out, size_t n, const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        if (i + 1 >= n)
            return false;
        out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 'a' - 'A')
                                             : s[i];
    }
    out[i] = '\0';
    return true;
}

void acl_digest(const char *secret, unsigned char d[ACL_DIGEST_LEN],
                char hex[2 * ACL_DIGEST_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;

    SHA256((const unsigned char *)secret, strlen(secret), d);
    for (i = 0; i < ACL_DIGEST_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * ACL_DIGEST_LEN] = '\0';
}

void acl_ent_free(struct acl_ent *e)
{
    if (e == NULL)
        return;
    json_decref(e->obj);
    acl_rules_free(e->rules);
    OPENSSL_cleanse(e, sizeof(*e));
    free(e);
}

static struct acl_map *id_map(struct acl_store *s, enum acl_kind k)
{
    return k == ACL_K_TOKEN ? &s->tokens
           : k == ACL_K_POLICY ? &s->policies : &s->roles;
}

void acl_store_link(struct acl_store *s, enum acl_kind k, struct acl_ent *e,
                    struct acl_ent *old)
{
    struct acl_map *second = k == ACL_K_TOKEN ? &s->secrets
                             : k == ACL_K_POLICY ? &s->policy_names
                                                 : &s->role_names;

    if (old != NULL)
        acl_map_del(second, ent_key(second, old));
    acl_map_put(id_map(s, k), e);
    acl_map_put(second, e);
    acl_ent_free(old);
}

/* ---- lifecycle ---- */

struct zent {
    const json_t *tok; /* NULL: a token that is not stored */
    struct acl_authz *z;
};

struct acl_zcache {
    struct zent *v;
    size_t n, cap;
};

struct acl_store *acl_store_new(void)
{
    struct acl_store *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->zcache = calloc(1, sizeof(*s->zcache))) == NULL) {
        free(s);
        return NULL;
    }
    acl_map_init(&s->tokens, ACL_KEY_ID);
    acl_map_init(&s->secrets, ACL_KEY_HEX);
    acl_map_init(&s->policies, ACL_KEY_ID);
    acl_map_init(&s->policy_names, ACL_KEY_NAME);
    acl_map_init(&s->roles, ACL_KEY_ID);
    acl_map_init(&s->role_names, ACL_KEY_NAME);
    return s;
}

void acl_store_changed(struct acl_store *s)
{
    size_t i;

    for (i = 0; i < s->zcache->n; i++)
        acl_authz_free(s->zcache->v[i].z);
    s->zcache->n = 0;
}

static void free_map(struct acl_map *m, bool ents)
{
    size_t i;

    for (i = 0; ents && i < m->n; i++)
        acl_ent_free(m->v[i]);
    free(m->v);
}

void acl_store_free(struct acl_store *s)
{
    if (s == NULL)
        return;
    acl_store_changed(s);
    free(s->zcache->v);
    free(s->zcache);
    free_map(&s->tokens, true);
    free_map(&s->secrets, false);
    free_map(&s->policies, true);
    free_map(&s->policy_names, false);
    free_map(&s->roles, true);
    free_map(&s->role_names, false);
    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    free(s);
}

uint64_t acl_store_index(const struct acl_store *s, enum acl_table t)
{
    return t < ACL_T_COUNT ? s->index[t] : 0;
}

uint64_t acl_store_max_index(const struct acl_store *s)
{
    uint64_t m = s->bootstrap_index;
    int t;

    for (t = 0; t < ACL_T_COUNT; t++)
        if (s->index[t] > m)
            m = s->index[t];
    return m;
}

uint64_t acl_store_bootstrap_index(const struct acl_store *s)
{
    return s->bootstrap_index;
}

const unsigned char *acl_store_secret(const struct acl_store *s)
{
    return s->has_secret ? s->secret : NULL;
}

/* ---- lookups ---- */

static const json_t *find(const struct acl_map *m, const char *key)
{
    char k[ACL_MAX_NAME + 1];
    struct acl_ent *e;

    if (key == NULL || !acl_fold(k, sizeof(k), key))
        return NULL;
    e = acl_map_get(m, k);
    return e != NULL ? e->obj : NULL;
}

const json_t *acl_store_token(const struct acl_store *s, const char *accessor)
{
    return find(&s->tokens, accessor);
}

const json_t *acl_store_token_by_secret(const struct acl_store *s,
                                        const char *secret)
{
    unsigned char d[ACL_DIGEST_LEN];
    char hex[2 * ACL_DIGEST_LEN + 1];
    struct acl_ent *e;

    if (secret == NULL)
        return NULL;
    acl_digest(secret, d, hex);
    e = acl_map_get(&s->secrets, hex);
    if (e == NULL || CRYPTO_memcmp(e->digest, d, sizeof(d)) != 0)
        return NULL;
    return e->obj;
}

const json_t *acl_store_policy(const struct acl_store *s, const char *id)
{
    return find(&s->policies, id);
}

const json_t *acl_store_policy_by_name(const struct acl_store *s,
                                       const char *name)
{
    return find(&s->policy_names, name);
}

const json_t *acl_store_role(const struct acl_store *s, const char *id)
{
    return find(&s->roles, id);
}

const json_t *acl_store_role_by_name(const struct acl_store *s,
                                     const char *name)
{
    return find(&s->role_names, name);
}

/* ---- views ---- */

static const char *str_of(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

/* The live links of `links` as a new array of {"ID","Name"}. */
static json_t *links_view(const struct acl_map *m, const json_t *links)
{
    json_t *arr = json_array(), *l;
    const json_t *o;
    size_t i;

    if (arr == NULL)
        return NULL;
    json_array_foreach(links, i, l) {
        if ((o = find(m, str_of(l, "ID"))) == NULL)
            continue;
        if (json_array_append_new(arr, json_pack("{s:O,s:O}", "ID",
                                                 json_object_get(o, "ID"),
                                                 "Name",
                                                 json_object_get(o, "Name")))
            != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *view(const struct acl_store *s, const json_t *obj, bool roles)
{
    json_t *v = json_deep_copy(obj);

    if (v == NULL)
        return NULL;
    if (json_object_set_new(v, "Policies",
                            links_view(&s->policies,
                                       json_object_get(obj, "Policies")))
        != 0 ||
        (roles && json_object_set_new(v, "Roles",
                                      links_view(&s->roles, json_object_get(
                                                                obj, "Roles")))
                      != 0)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *acl_store_token_view(const struct acl_store *s, const json_t *tok)
{
    return view(s, tok, true);
}

json_t *acl_store_role_view(const struct acl_store *s, const json_t *role)
{
    return view(s, role, false);
}

/* Does the view v link (field) to the object with this id? */
static bool links_to(const json_t *v, const char *field, const char *id)
{
    char a[ACL_MAX_NAME + 1], b[ACL_MAX_NAME + 1];
    json_t *l;
    size_t i;

    if (id == NULL)
        return true;
    if (!acl_fold(a, sizeof(a), id))
        return false;
    json_array_foreach(json_object_get(v, field), i, l)
        if (acl_fold(b, sizeof(b), str_of(l, "ID")) && strcmp(a, b) == 0)
            return true;
    return false;
}

json_t *acl_store_token_list(const struct acl_store *s, const char *policy_id,
                             const char *role_id, bool with_secrets)
{
    json_t *arr = json_array(), *v;
    size_t i;

    for (i = 0; arr != NULL && i < s->tokens.n; i++) {
        if ((v = view(s, s->tokens.v[i]->obj, true)) == NULL) {
            json_decref(arr);
            return NULL;
        }
        if (!with_secrets)
            json_object_del(v, "SecretID");
        if (links_to(v, "Policies", policy_id) &&
            links_to(v, "Roles", role_id))
            json_array_append(arr, v);
        json_decref(v);
    }
    return arr;
}

json_t *acl_store_policy_list(const struct acl_store *s)
{
    json_t *arr = json_array(), *v;
    size_t i;

    for (i = 0; arr != NULL && i < s->policy_names.n; i++) {
        if ((v = json_deep_copy(s->policy_names.v[i]->obj)) == NULL ||
            json_object_del(v, "Rules") != 0 ||
            json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *acl_store_role_list(const struct acl_store *s, const char *policy_id)
{
    json_t *arr = json_array(), *v;
    size_t i;

    for (i = 0; arr != NULL && i < s->role_names.n; i++) {
        if ((v = view(s, s->role_names.v[i]->obj, false)) == NULL) {
            json_decref(arr);
            return NULL;
        }
        if (links_to(v, "Policies", policy_id))
            json_array_append(arr, v);
        json_decref(v);
    }
    return arr;
}

bool acl_token_expired(const json_t *tok, int64_t now_ms)
{
    const char *t = str_of(tok, "ExpirationTime");
    int64_t ms;

    return t != NULL && acl_parse_time(t, &ms) && ms < now_ms;
}

/* ---- what a token holds ---- */

/* Called once per distinct policy (pol) or per identity (pol NULL,
 * text the synthesized rules, malloc'd, or NULL for no memory). */
typedef int (*grant_fn)(void *ctx, const struct acl_ent *pol,
                        const char *text);

struct walk {
    const struct acl_store *s;
    const struct acl_ent **seen;
    size_t n, cap;
    bool management;
    grant_fn fn;
    void *ctx;
};

static int grant_policy(struct walk *w, const char *id)
{
    char k[ACL_MAX_NAME + 1];
    const struct acl_ent *e, **nv;
    size_t i;

    if (id == NULL || !acl_fold(k, sizeof(k), id) ||
        (e = acl_map_get(&w->s->policies, k)) == NULL)
        return 0;
    for (i = 0; i < w->n; i++)
        if (w->seen[i] == e)
            return 0;
    if (w->n == w->cap) {
        w->cap = w->cap != 0 ? 2 * w->cap : 8;
        if ((nv = realloc(w->seen, w->cap * sizeof(*nv))) == NULL)
            return ERR_NOMEM;
        w->seen = nv;
    }
    w->seen[w->n++] = e;
    if (strcmp(e->id, ACL_GLOBAL_MGMT_ID) == 0)
        w->management = true;
    return w->fn != NULL ? w->fn(w->ctx, e, NULL) : 0;
}

static int grant_identities(struct walk *w, const json_t *obj)
{
    json_t *id;
    size_t i;
    int rc = 0;

    if (w->fn == NULL)
        return 0;
    json_array_foreach(json_object_get(obj, "ServiceIdentities"), i, id)
        if (rc == 0)
            rc = w->fn(w->ctx, NULL, acl_service_identity_rules(
                                         str_of(id, "ServiceName")));
    json_array_foreach(json_object_get(obj, "NodeIdentities"), i, id)
        if (rc == 0)
            rc = w->fn(w->ctx, NULL,
                       acl_node_identity_rules(str_of(id, "NodeName")));
    return rc;
}

static int grant_links(struct walk *w, const json_t *obj)
{
    json_t *l;
    size_t i;
    int rc = 0;

    json_array_foreach(json_object_get(obj, "Policies"), i, l)
        if (rc == 0)
            rc = grant_policy(w, str_of(l, "ID"));
    return rc != 0 ? rc : grant_identities(w, obj);
}

/* Visit what tok grants: its policies, its identities, then each of
 * its roles' policies and identities. */
static int walk_grants(struct walk *w, const json_t *tok)
{
    const json_t *role;
    json_t *l;
    size_t i;
    int rc = grant_links(w, tok);

    json_array_foreach(json_object_get(tok, "Roles"), i, l)
        if (rc == 0 && (role = find(&w->s->roles, str_of(l, "ID"))) != NULL)
            rc = grant_links(w, role);
    free(w->seen);
    w->seen = NULL;
    w->n = w->cap = 0;
    return rc;
}

static int add_text(void *ctx, const struct acl_ent *pol, const char *text)
{
    json_t *t;

    if (pol != NULL)
        t = json_incref(json_object_get(pol->obj, "Rules"));
    else
        t = text != NULL ? json_string(text) : NULL;
    free((char *)text);
    return json_array_append_new(ctx, t) != 0 ? ERR_NOMEM : 0;
}

json_t *acl_store_token_rules(const struct acl_store *s, const json_t *tok,
                              bool *management)
{
    json_t *arr = json_array();
    struct walk w = {s, NULL, 0, 0, false, add_text, arr};

    *management = false;
    if (arr == NULL || walk_grants(&w, tok) != 0) {
        json_decref(arr);
        return NULL;
    }
    *management = w.management;
    return arr;
}

/* ---- authorizers ---- */

struct zctx {
    struct acl_authz *z;
    char *err;
};

static int add_rules(void *ctx, const struct acl_ent *pol, const char *text)
{
    struct zctx *c = ctx;
    struct acl_rules *r = NULL;
    int rc;

    if (pol != NULL)
        return acl_authz_add(c->z, pol->rules, c->err);
    if (text == NULL)
        return err_set(c->err, ERR_NOMEM, "compiling an identity");
    rc = acl_rules_parse(text, strlen(text), &r, c->err);
    free((char *)text);
    if (rc == 0)
        rc = acl_authz_add(c->z, r, c->err);
    acl_rules_free(r);
    return rc;
}

static struct acl_authz *compile(const struct acl_store *s, const json_t *tok,
                                 char *err)
{
    struct walk w = {s, NULL, 0, 0, false, NULL, NULL};
    struct zctx c = {NULL, err};
    int rc;

    if ((rc = walk_grants(&w, tok)) != 0) {
        err_set(err, rc, "compiling a token");
        return NULL;
    }
    if ((c.z = acl_authz_new(w.management)) == NULL) {
        err_set(err, ERR_NOMEM, "compiling a token");
        return NULL;
    }
    w.fn = add_rules;
    w.ctx = &c;
    if (walk_grants(&w, tok) != 0) {
        acl_authz_free(c.z);
        return NULL;
    }
    return c.z;
}

/* Slot of tok in the cache (sorted by address), or where it goes. */
static size_t zfind(const struct acl_zcache *c, const json_t *tok,
                    bool *found)
{
    size_t lo = 0, hi = c->n, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if ((uintptr_t)c->v[mid].tok < (uintptr_t)tok)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = tok != NULL && lo < c->n && c->v[lo].tok == tok;
    return lo;
}

const struct acl_authz *acl_store_authz(struct acl_store *s,
                                        const json_t *tok, char *err)
{
    struct acl_zcache *c = s->zcache;
    struct acl_authz *z;
    struct zent *nv;
    const json_t *key;
    bool found;
    size_t i;

    /* Only stored tokens are cached by address: they stay alive until
     * the store changes, which empties the cache. Others are kept
     * until then too, under NULL, so the result stays borrowed. */
    key = acl_store_token(s, str_of(tok, "AccessorID")) == tok ? tok : NULL;
    i = zfind(c, key, &found);
    if (found)
        return c->v[i].z;
    if (c->n == c->cap) {
        size_t cap = c->cap != 0 ? 2 * c->cap : 16;

        if ((nv = realloc(c->v, cap * sizeof(*nv))) == NULL) {
            err_set(err, ERR_NOMEM, "caching an authorizer");
            return NULL;
        }
        c->v = nv;
        c->cap = cap;
    }
    if ((z = compile(s, tok, err)) == NULL)
        return NULL;
    memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(c->v[0]));
    c->v[i].tok = key;
    c->v[i].z = z;
    c->n++;
    return c->v[i].z;
}

/* acl_authz.c - authorizers: the merged rules of one token and the
 * decisions taken from them.
 *
 * Layer: store (uses util). Thread: any; an authorizer is read-only
 * once built, so checks may run concurrently.
 * Owns: every struct acl_authz and its rule table (copied from the
 * policies merged in).
 * Tests: t/unit/check_acl.c
 *
 * A check is on the request path: it allocates nothing and costs one
 * binary search in the exact rules plus one binary search and a walk up
 * the prefix chain (see acl_rules_int.h) in the prefix rules.
 */
#include "acl.h"

#include <stdlib.h>
#include <string.h>

#include "acl_rules_int.h"

struct acl_authz {
    bool management;
    struct acl_tab t;
};

struct acl_authz *acl_authz_new(bool management)
{
    struct acl_authz *z = calloc(1, sizeof(*z));

    if (z != NULL)
        z->management = management;
    return z;
}

int acl_authz_add(struct acl_authz *z, const struct acl_rules *r, char *err)
{
    if (r == NULL)
        return 0;
    if (acl_tab_merge(&z->t, &r->t) != 0)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

void acl_authz_free(struct acl_authz *z)
{
    if (z == NULL)
        return;
    acl_tab_release(&z->t);
    free(z);
}

bool acl_authz_management(const struct acl_authz *z)
{
    return z != NULL && z->management;
}

/* The longest rule in prefix set s that is a prefix of name, or NULL.
 * v[i-1], the last rule <= name, shares m leading bytes with name; a
 * longer matching prefix would sort between it and name, so the answer
 * is the longest of v[i-1]'s own prefixes no longer than m. */
static const struct acl_rule *longest(const struct acl_rset *s,
                                      const char *name)
{
    const struct acl_rule *r;
    bool found;
    size_t i = acl_rset_lower(s, name, &found), m = 0;
    long j;

    if (found)
        return &s->v[i];
    if (i == 0)
        return NULL;
    r = &s->v[i - 1];
    while (m < r->len && r->name[m] == name[m])
        m++;
    if (m == r->len)
        return r;
    for (j = r->up; j >= 0 && s->v[j].len > m; j = s->v[j].up)
        ;
    return j >= 0 ? &s->v[j] : NULL;
}

static enum acl_lvl lookup(const struct acl_tab *t, enum acl_res res,
                           const char *name)
{
    const struct acl_rset *ex = &t->exact[res];
    const struct acl_rule *r;
    bool found;
    size_t i;

    if (!acl_res_labeled(res))
        return (enum acl_lvl)t->flat[res];
    if (name == NULL)
        name = "";
    i = acl_rset_lower(ex, name, &found);
    if (found)
        return (enum acl_lvl)ex->v[i].lvl;
    r = longest(&t->prefix[res], name);
    return r != NULL ? (enum acl_lvl)r->lvl : ACL_LVL_NONE;
}

static bool grants(enum acl_lvl lvl, enum acl_need need)
{
    switch (lvl) {
    case ACL_LVL_WRITE:
        return true;
    case ACL_LVL_LIST:
        return need == ACL_READ || need == ACL_LIST;
    case ACL_LVL_READ:
        return need == ACL_READ;
    default:
        return false;
    }
}

enum acl_decision acl_authz_decide(const struct acl_authz *z,
                                   enum acl_res res, const char *name,
                                   enum acl_need need)
{
    enum acl_lvl lvl;

    if (z == NULL || (unsigned)res >= ACL_RES_COUNT)
        return ACL_DEFAULT;
    if (z->management)
        return ACL_ALLOW;
    lvl = lookup(&z->t, res, name);
    if (lvl == ACL_LVL_NONE)
        return ACL_DEFAULT;
    return grants(lvl, need) ? ACL_ALLOW : ACL_DENY;
}

bool acl_allowed(const struct acl_authz *z, bool default_allow,
                 enum acl_res res, const char *name, enum acl_need need)
{
    enum acl_decision d;

    if (acl_authz_management(z))
        return true;
    d = acl_authz_decide(z, res, name, need);
    if (d == ACL_DEFAULT)
        return res == ACL_RES_ACL ? false : default_allow;
    return d == ACL_ALLOW;
}

/* Does every rule of s whose name starts with prefix grant write? They
 * sort together, from the first name >= prefix on. */
static bool all_write_under(const struct acl_rset *s, const char *prefix)
{
    size_t n = strlen(prefix);
    bool found;

    for (size_t i = acl_rset_lower(s, prefix, &found); i < s->n; i++) {
        if (strncmp(s->v[i].name, prefix, n) != 0)
            break;
        if (s->v[i].lvl != ACL_LVL_WRITE)
            return false;
    }
    return true;
}

/* As Consul: the keys under prefix are governed by the rules under it
 * (the one for prefix itself included) and, above it, by the longest
 * prefix rule; an exact rule for prefix covers only that one key. */
bool acl_key_write_prefix(const struct acl_authz *z, bool default_allow,
                          const char *prefix)
{
    const struct acl_rule *r;

    if (z == NULL)
        return default_allow;
    if (z->management)
        return true;
    if (prefix == NULL)
        prefix = "";
    if (!all_write_under(&z->t.exact[ACL_RES_KEY], prefix) ||
        !all_write_under(&z->t.prefix[ACL_RES_KEY], prefix))
        return false;
    r = longest(&z->t.prefix[ACL_RES_KEY], prefix);
    if (r == NULL)
        return default_allow;
    return r->lvl == ACL_LVL_WRITE;
}

/* acl_rules_int.h - the compiled rule tables shared by acl_rules.c (which
 * builds them) and acl_authz.c (which merges and queries them).
 *
 * Layer: store. Thread: any (plain data).
 * A table holds, per resource, the exact rules and the prefix rules as
 * arrays sorted by name (strcmp order, so a name's prefixes sort before
 * it), and one level per unlabeled resource. In a prefix set each rule
 * links ("up") to its longest proper prefix in the same set, which makes
 * a longest-prefix lookup one binary search plus a short walk.
 */
#ifndef PROCONSUL_ACL_RULES_INT_H
#define PROCONSUL_ACL_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "acl.h"

/* Ordered by precedence: a merge keeps the highest. */
enum acl_lvl {
    ACL_LVL_NONE,
    ACL_LVL_READ,
    ACL_LVL_LIST,
    ACL_LVL_WRITE,
    ACL_LVL_DENY
};

struct acl_rule {
    char *name;
    size_t len;
    long up; /* prefix sets: index of the longest proper prefix, or -1 */
    unsigned char lvl;
};

struct acl_rset {
    struct acl_rule *v;
    size_t n, cap;
};

struct acl_tab {
    struct acl_rset exact[ACL_RES_COUNT];
    struct acl_rset prefix[ACL_RES_COUNT];
    unsigned char flat[ACL_RES_COUNT]; /* unlabeled resources */
};

struct acl_rules {
    struct acl_tab t;
};

/* Index of the first rule whose name is >= name; *found when equal. */
size_t acl_rset_lower(const struct acl_rset *s, const char *name,
                      bool *found);
/* Add or merge one rule (name copied). 0 or ERR_NOMEM. Call
 * acl_tab_link before looking anything up. */
int acl_tab_put(struct acl_tab *t, enum acl_res res, bool prefix,
                const char *name, enum acl_lvl lvl);
/* Merge every rule of src into dst and link dst. 0 or ERR_NOMEM (dst
 * then unchanged). */
int acl_tab_merge(struct acl_tab *dst, const struct acl_tab *src);
/* Recompute the "up" links of every prefix set. */
void acl_tab_link(struct acl_tab *t);
void acl_tab_release(struct acl_tab *t);

#endif

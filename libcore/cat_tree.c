/* cat_tree.c - the intrusive AVL tree under every catalog index.
 *
 * Layer: store (uses nothing). Thread: loop only.
 * Owns: nothing; links live inside the catalog objects, which is what
 * lets one object sit in several trees without extra allocations.
 * Tests: t/unit/check_cat.c
 *
 * Insert and remove recurse along one path (depth is at most ~1.44
 * log2 n); walks use an explicit stack. Neither allocates, so a write
 * that prepared its objects beforehand cannot fail half way.
 */
#include "cat_int.h"

#include <assert.h>
#include <stddef.h>

static int height(const struct cat_link *l) { return l == NULL ? 0 : l->h; }

static void fix(struct cat_link *l)
{
    int a = height(l->kid[0]), b = height(l->kid[1]);

    l->h = 1 + (a > b ? a : b);
}

/* Lift the child on side !d into l's place. */
static struct cat_link *rotate(struct cat_link *l, int d)
{
    struct cat_link *c = l->kid[!d];

    l->kid[!d] = c->kid[d];
    c->kid[d] = l;
    fix(l);
    fix(c);
    return c;
}

static struct cat_link *balance(struct cat_link *l)
{
    int bf;

    fix(l);
    bf = height(l->kid[0]) - height(l->kid[1]);
    if (bf > 1) {
        if (height(l->kid[0]->kid[0]) < height(l->kid[0]->kid[1]))
            l->kid[0] = rotate(l->kid[0], 0);
        return rotate(l, 1);
    }
    if (bf < -1) {
        if (height(l->kid[1]->kid[1]) < height(l->kid[1]->kid[0]))
            l->kid[1] = rotate(l->kid[1], 1);
        return rotate(l, 0);
    }
    return l;
}

void cat_tree_init(struct cat_tree *t, cat_cmp_fn cmp)
{
    t->root = NULL;
    t->count = 0;
    t->cmp = cmp;
}

struct cat_link *cat_tree_find(const struct cat_tree *t, const void *key)
{
    struct cat_link *l = t->root;
    int c;

    while (l != NULL && (c = t->cmp(key, l)) != 0)
        l = l->kid[c > 0];
    return l;
}

static struct cat_link *insert(const struct cat_tree *t, struct cat_link *l,
                               const void *key, struct cat_link *nl,
                               struct cat_link **dup)
{
    int c;

    if (l == NULL) {
        nl->kid[0] = nl->kid[1] = NULL;
        nl->h = 1;
        return nl;
    }
    if ((c = t->cmp(key, l)) == 0) {
        *dup = l;
        return l;
    }
    l->kid[c > 0] = insert(t, l->kid[c > 0], key, nl, dup);
    return *dup != NULL ? l : balance(l);
}

struct cat_link *cat_tree_insert(struct cat_tree *t, const void *key,
                                 struct cat_link *l)
{
    struct cat_link *dup = NULL;

    t->root = insert(t, t->root, key, l, &dup);
    if (dup == NULL)
        t->count++;
    return dup;
}

static struct cat_link *remove_min(struct cat_link *l, struct cat_link **out)
{
    if (l->kid[0] == NULL) {
        *out = l;
        return l->kid[1];
    }
    l->kid[0] = remove_min(l->kid[0], out);
    return balance(l);
}

static struct cat_link *remove_key(const struct cat_tree *t,
                                   struct cat_link *l, const void *key,
                                   struct cat_link **out)
{
    struct cat_link *m, *r;
    int c;

    if (l == NULL)
        return NULL;
    if ((c = t->cmp(key, l)) != 0) {
        l->kid[c > 0] = remove_key(t, l->kid[c > 0], key, out);
        return *out != NULL ? balance(l) : l;
    }
    *out = l;
    if (l->kid[1] == NULL)
        return l->kid[0];
    r = remove_min(l->kid[1], &m);
    m->kid[0] = l->kid[0];
    m->kid[1] = r;
    return balance(m);
}

struct cat_link *cat_tree_remove(struct cat_tree *t, const void *key)
{
    struct cat_link *out = NULL;

    t->root = remove_key(t, t->root, key, &out);
    if (out != NULL) {
        assert(t->count > 0);
        t->count--;
        out->kid[0] = out->kid[1] = NULL;
    }
    return out;
}

static void push_left(struct cat_iter *it, struct cat_link *l)
{
    for (; l != NULL; l = l->kid[0]) {
        assert(it->n < CAT_MAX_DEPTH);
        it->stk[it->n++] = l;
    }
}

struct cat_link *cat_iter_first(struct cat_iter *it, const struct cat_tree *t)
{
    it->n = 0;
    push_left(it, t->root);
    return it->n > 0 ? it->stk[it->n - 1] : NULL;
}

struct cat_link *cat_iter_next(struct cat_iter *it)
{
    struct cat_link *l;

    if (it->n == 0)
        return NULL;
    l = it->stk[--it->n];
    push_left(it, l->kid[1]);
    return it->n > 0 ? it->stk[it->n - 1] : NULL;
}

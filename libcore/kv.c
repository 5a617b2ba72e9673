/* kv.c - key/value half of the state store.
 *
 * Layer: store (uses util). Thread: loop only.
 * Owns: every kv_entry (node, key, value, session); values are copied in.
 * Tests: t/unit/check_kv.c, t/t1*.sh
 *
 * Two AVL trees ordered by strcmp (byte order): live entries and
 * tombstones. A node carries its key inline and the max modify index of
 * each child's subtree, so kv_prefix_index is a range-max query in
 * O(log n) instead of a walk. A delete moves the node from one tree to
 * the other and a put over a tombstone moves it back, so neither
 * allocates a node.
 * Insert, upsert and delete recurse along one path (depth is at most
 * ~1.44 log2 n); walks use an explicit stack.
 */
#include "kv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Height bound of an AVL tree with fewer than 2^64 nodes is ~92. */
#define MAX_DEPTH 96

/* The key sits right after the links, so a descent mostly touches one
 * or two cache lines per level; the entry lives in its own block with
 * the value appended, and a tombstone has none. A node keeps the height
 * and max index of each child's subtree, so rebalancing on the way back
 * up reads only nodes on the path, never their siblings. */
struct node {
    struct node *kid[2];
    struct kv_entry *e; /* NULL in a tombstone */
    uint64_t idx;       /* modify index, or the tombstone's index */
    uint64_t kmax[2];   /* max idx in each child's subtree, 0 if none */
    signed char kh[2];  /* height of each child's subtree */
    char key[];
};

struct tree {
    struct node *root;
    size_t count;
};

struct kv_store {
    struct tree live;
    struct tree tombs;
    uint64_t table_index;
};

struct iter {
    const struct node *stk[MAX_DEPTH];
    int n;
};

static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int height(const struct node *n)
{
    return n == NULL ? 0 : 1 + (n->kh[0] > n->kh[1] ? n->kh[0] : n->kh[1]);
}

static uint64_t submax(const struct node *n)
{
    return n == NULL ? 0 : max2(n->idx, max2(n->kmax[0], n->kmax[1]));
}

/* Refresh n's summary of side d from the child there. */
static void pull(struct node *n, int d)
{
    n->kh[d] = (signed char)height(n->kid[d]);
    n->kmax[d] = submax(n->kid[d]);
}

static void make_leaf(struct node *n)
{
    n->kid[0] = n->kid[1] = NULL;
    n->kh[0] = n->kh[1] = 0;
    n->kmax[0] = n->kmax[1] = 0;
}

/* d = 0 lifts the right child (left rotation), d = 1 the left child. */
static struct node *rotate(struct node *n, int d)
{
    struct node *c = n->kid[!d];

    n->kid[!d] = c->kid[d];
    n->kh[!d] = c->kh[d];
    n->kmax[!d] = c->kmax[d];
    c->kid[d] = n;
    pull(c, d);
    return c;
}

static struct node *balance(struct node *n)
{
    int bf = n->kh[0] - n->kh[1];

    if (bf > 1) {
        if (n->kid[0]->kh[0] < n->kid[0]->kh[1]) {
            n->kid[0] = rotate(n->kid[0], 0);
            pull(n, 0);
        }
        return rotate(n, 1);
    }
    if (bf < -1) {
        if (n->kid[1]->kh[1] < n->kid[1]->kh[0]) {
            n->kid[1] = rotate(n->kid[1], 1);
            pull(n, 1);
        }
        return rotate(n, 0);
    }
    return n;
}

/* After side d of n changed. */
static struct node *repair(struct node *n, int d)
{
    pull(n, d);
    return balance(n);
}

/* Insert nn; if its key is present, set *dup and change nothing. */
static struct node *insert(struct node *n, struct node *nn, bool *dup)
{
    int c;

    if (n == NULL) {
        make_leaf(nn);
        return nn;
    }
    c = strcmp(nn->key, n->key);
    if (c == 0) {
        *dup = true;
        return n;
    }
    n->kid[c > 0] = insert(n->kid[c > 0], nn, dup);
    return repair(n, c > 0);
}

static struct node *remove_min(struct node *n, struct node **out)
{
    if (n->kid[0] == NULL) {
        *out = n;
        return n->kid[1];
    }
    n->kid[0] = remove_min(n->kid[0], out);
    return repair(n, 0);
}

/* Unlink key's node (into *out, left NULL if absent); new subtree root. */
static struct node *unlink_key(struct node *n, const char *key,
                               struct node **out)
{
    struct node *m, *r;
    int c;

    if (n == NULL)
        return NULL;
    c = strcmp(key, n->key);
    if (c != 0) {
        n->kid[c > 0] = unlink_key(n->kid[c > 0], key, out);
        return repair(n, c > 0);
    }
    *out = n;
    if (n->kid[0] == NULL)
        return n->kid[1];
    if (n->kid[1] == NULL)
        return n->kid[0];
    r = remove_min(n->kid[1], &m);
    m->kid[0] = n->kid[0];
    m->kh[0] = n->kh[0];
    m->kmax[0] = n->kmax[0];
    m->kid[1] = r;
    return repair(m, 1);
}

static struct node *find(const struct tree *t, const char *key)
{
    struct node *n = t->root;

    while (n != NULL) {
        int c = strcmp(key, n->key);
        if (c == 0)
            return n;
        n = n->kid[c > 0];
    }
    return NULL;
}

static bool tree_insert(struct tree *t, struct node *n)
{
    bool dup = false;

    t->root = insert(t->root, n, &dup);
    if (!dup)
        t->count++;
    return !dup;
}

static struct node *tree_unlink(struct tree *t, const char *key)
{
    struct node *out = NULL;

    t->root = unlink_key(t->root, key, &out);
    if (out != NULL)
        t->count--;
    return out;
}

/* An entry and its value in one block; key and indexes are set later. */
static struct kv_entry *entry_new(const void *val, size_t len)
{
    struct kv_entry *e = malloc(sizeof(*e) + len);

    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    if (len > 0) {
        e->val = (unsigned char *)(e + 1);
        memcpy(e->val, val, len);
        e->len = len;
    }
    return e;
}

static void entry_free(struct kv_entry *e)
{
    if (e == NULL)
        return;
    free(e->session);
    free(e);
}

static void attach(struct node *n, struct kv_entry *e)
{
    n->e = e;
    e->key = n->key;
    n->idx = e->modify_index;
}

static struct node *node_new(const char *key)
{
    size_t klen = strlen(key);
    struct node *n = malloc(sizeof(*n) + klen + 1);

    if (n == NULL)
        return NULL;
    memset(n, 0, sizeof(*n));
    memcpy(n->key, key, klen + 1);
    return n;
}

static void free_node(struct node *n)
{
    if (n == NULL)
        return;
    entry_free(n->e);
    free(n);
}

static void free_tree(struct node *n)
{
    if (n == NULL)
        return;
    free_tree(n->kid[0]);
    free_tree(n->kid[1]);
    free_node(n);
}

/* A put in one descent: replace the entry of an existing node, or at
 * the leaf adopt the key's tombstone node or a fresh one. */
struct upsert {
    struct kv_store *st;
    const char *key;
    struct kv_entry *e; /* the new entry, consumed unless rc != 0 */
    uint64_t index;
    int rc;
};

static struct node *adopt(struct upsert *u)
{
    struct node *n = tree_unlink(&u->st->tombs, u->key);

    if (n == NULL && (n = node_new(u->key)) == NULL) {
        u->rc = ERR_NOMEM;
        return NULL;
    }
    make_leaf(n);
    u->e->create_index = u->index;
    u->e->modify_index = u->index;
    attach(n, u->e);
    u->st->live.count++;
    return n;
}

static void replace(struct node *n, struct upsert *u)
{
    struct kv_entry *old = n->e;

    u->e->create_index = old->create_index;
    u->e->modify_index = u->index;
    u->e->lock_index = old->lock_index;
    u->e->session = old->session;
    old->session = NULL;
    entry_free(old);
    attach(n, u->e);
}

static struct node *upsert(struct node *n, struct upsert *u)
{
    int c;

    if (n == NULL)
        return adopt(u);
    c = strcmp(u->key, n->key);
    if (c == 0) {
        replace(n, u);
        return n;
    }
    n->kid[c > 0] = upsert(n->kid[c > 0], u);
    return repair(n, c > 0);
}

/* In-order iteration: the stack holds the current node on top and, below
 * it, the ancestors whose left subtree we are in. */
static void iter_seek(struct iter *it, const struct node *n, const char *key)
{
    it->n = 0;
    while (n != NULL) {
        if (strcmp(n->key, key) >= 0) {
            assert(it->n < MAX_DEPTH);
            it->stk[it->n++] = n;
            n = n->kid[0];
        } else {
            n = n->kid[1];
        }
    }
}

static const struct node *iter_cur(const struct iter *it)
{
    return it->n > 0 ? it->stk[it->n - 1] : NULL;
}

static void iter_next(struct iter *it)
{
    const struct node *n = it->stk[--it->n]->kid[1];

    while (n != NULL) {
        assert(it->n < MAX_DEPTH);
        it->stk[it->n++] = n;
        n = n->kid[0];
    }
}

/* Max index over keys with the prefix: find the topmost node inside the
 * range, then follow its two inner boundaries, taking whole subtrees
 * that lie inside. */
static uint64_t range_max(const struct node *n, const char *p)
{
    size_t plen = strlen(p);
    const struct node *s;
    uint64_t m;

    while (n != NULL) {
        int c = strncmp(n->key, p, plen);
        if (c == 0)
            break;
        n = n->kid[c < 0];
    }
    if (n == NULL)
        return 0;
    m = n->idx;
    for (s = n->kid[0]; s != NULL;) {
        if (strncmp(s->key, p, plen) < 0) {
            s = s->kid[1];
        } else {
            m = max2(m, max2(s->idx, s->kmax[1]));
            s = s->kid[0];
        }
    }
    for (s = n->kid[1]; s != NULL;) {
        if (strncmp(s->key, p, plen) > 0) {
            s = s->kid[0];
        } else {
            m = max2(m, max2(s->idx, s->kmax[0]));
            s = s->kid[1];
        }
    }
    return m;
}

static int check_key(const char *key, bool allow_empty, char *err)
{
    size_t len = strnlen(key, KV_MAX_KEY + 1);

    if (len == 0 && !allow_empty)
        return err_set(err, ERR_INVAL, "missing key name");
    if (len > KV_MAX_KEY)
        return err_set(err, ERR_INVAL, "key longer than %d bytes",
                       KV_MAX_KEY);
    return 0;
}

struct kv_store *kv_new(void)
{
    return calloc(1, sizeof(struct kv_store));
}

void kv_free(struct kv_store *st)
{
    if (st == NULL)
        return;
    free_tree(st->live.root);
    free_tree(st->tombs.root);
    free(st);
}

size_t kv_count(const struct kv_store *st) { return st->live.count; }

size_t kv_tombstone_count(const struct kv_store *st)
{
    return st->tombs.count;
}

const struct kv_entry *kv_peek(const struct kv_store *st, const char *key)
{
    struct node *n = find(&st->live, key);

    return n != NULL ? n->e : NULL;
}

static void note_index(struct kv_store *st, uint64_t index)
{
    st->table_index = max2(st->table_index, index);
}

int kv_put(struct kv_store *st, const char *key, const void *val,
           size_t len, uint64_t flags, uint64_t index, char *err)
{
    struct upsert u = {st, key, NULL, index, 0};
    int rc;

    if ((rc = check_key(key, false, err)) != 0)
        return rc;
    if (val == NULL && len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       len);
    if ((u.e = entry_new(val, len)) == NULL)
        return err_set(err, ERR_NOMEM, "storing a %zu byte value", len);
    u.e->flags = flags;
    st->live.root = upsert(st->live.root, &u);
    if (u.rc != 0) {
        entry_free(u.e);
        return err_set(err, u.rc, "storing a key");
    }
    note_index(st, index);
    return 0;
}

int kv_cas(struct kv_store *st, const char *key, const void *val,
           size_t len, uint64_t flags, uint64_t cas, uint64_t index,
           bool *ok, char *err)
{
    const struct node *n;
    int rc;

    *ok = false;
    if ((rc = check_key(key, false, err)) != 0)
        return rc;
    n = find(&st->live, key);
    if (cas == 0 ? n != NULL : n == NULL || n->idx != cas)
        return 0;
    if ((rc = kv_put(st, key, val, len, flags, index, err)) != 0)
        return rc;
    *ok = true;
    return 0;
}

static int check_session(const char *session, char *err)
{
    if (session == NULL || session[0] == '\0')
        return err_set(err, ERR_INVAL, "missing session");
    return 0;
}

int kv_acquire(struct kv_store *st, const char *key, const void *val,
               size_t len, uint64_t flags, const char *session,
               uint64_t index, bool *ok, char *err)
{
    const struct node *n;
    uint64_t lock_index = 1;
    struct kv_entry *e;
    char *copy = NULL;
    int rc;

    *ok = false;
    if ((rc = check_key(key, false, err)) != 0 ||
        (rc = check_session(session, err)) != 0)
        return rc;
    if ((n = find(&st->live, key)) != NULL) {
        if (n->e->session != NULL && strcmp(n->e->session, session) != 0)
            return 0;
        lock_index = n->e->lock_index + (n->e->session == NULL);
    }
    if ((n == NULL || n->e->session == NULL) &&
        (copy = strdup(session)) == NULL)
        return err_set(err, ERR_NOMEM, "storing a session");
    if ((rc = kv_put(st, key, val, len, flags, index, err)) != 0) {
        free(copy);
        return rc;
    }
    e = find(&st->live, key)->e;
    e->lock_index = lock_index;
    if (copy != NULL) {
        free(e->session);
        e->session = copy;
    }
    *ok = true;
    return 0;
}

int kv_release(struct kv_store *st, const char *key, const void *val,
               size_t len, uint64_t flags, const char *session,
               uint64_t index, bool *ok, char *err)
{
    const struct node *n;
    struct kv_entry *e;
    int rc;

    *ok = false;
    if ((rc = check_key(key, false, err)) != 0 ||
        (rc = check_session(session, err)) != 0)
        return rc;
    n = find(&st->live, key);
    if (n == NULL || n->e->session == NULL ||
        strcmp(n->e->session, session) != 0)
        return 0;
    if ((rc = kv_put(st, key, val, len, flags, index, err)) != 0)
        return rc;
    e = find(&st->live, key)->e;
    free(e->session);
    e->session = NULL;
    *ok = true;
    return 0;
}

/* Modify index changes: fix the subtree maxima along the key's path. */
static void touch(struct node *n, const char *key, uint64_t index)
{
    int c = strcmp(key, n->key);

    if (c == 0) {
        n->idx = n->e->modify_index = index;
        return;
    }
    touch(n->kid[c > 0], key, index);
    pull(n, c > 0);
}

bool kv_session_clear(struct kv_store *st, const char *key,
                      const char *session, uint64_t index)
{
    struct node *n = find(&st->live, key);

    if (n == NULL || n->e->session == NULL ||
        strcmp(n->e->session, session) != 0)
        return false;
    free(n->e->session);
    n->e->session = NULL;
    touch(st->live.root, key, index);
    note_index(st, index);
    return true;
}

/* Move an unlinked live node to the tombstone tree. */
static void bury(struct kv_store *st, struct node *n, uint64_t index)
{
    bool added;

    entry_free(n->e);
    n->e = NULL;
    n->idx = index;
    added = tree_insert(&st->tombs, n);
    assert(added);
    (void)added;
    note_index(st, index);
}

int kv_delete(struct kv_store *st, const char *key, uint64_t index,
              char *err)
{
    struct node *n;
    int rc;

    if ((rc = check_key(key, false, err)) != 0)
        return rc;
    n = tree_unlink(&st->live, key);
    if (n != NULL)
        bury(st, n, index);
    return 0;
}

int kv_delete_cas(struct kv_store *st, const char *key, uint64_t cas,
                  uint64_t index, bool *ok, char *err)
{
    const struct node *n;
    int rc;

    *ok = false;
    if ((rc = check_key(key, false, err)) != 0)
        return rc;
    n = find(&st->live, key);
    if (n == NULL) {
        /* As Consul: nothing to delete counts as success. */
        *ok = true;
        return 0;
    }
    if (n->idx != cas)
        return 0;
    bury(st, tree_unlink(&st->live, key), index);
    *ok = true;
    return 0;
}

int kv_delete_tree(struct kv_store *st, const char *prefix, uint64_t index,
                   char *err)
{
    size_t plen;
    struct iter it;
    const struct node *c;
    int rc;

    if ((rc = check_key(prefix, true, err)) != 0)
        return rc;
    plen = strlen(prefix);
    for (;;) {
        iter_seek(&it, st->live.root, prefix);
        c = iter_cur(&it);
        if (c == NULL || strncmp(c->key, prefix, plen) != 0)
            break;
        bury(st, tree_unlink(&st->live, c->key), index);
    }
    return 0;
}

int kv_walk_prefix(const struct kv_store *st, const char *prefix,
                   kv_walk_fn fn, void *ctx)
{
    size_t plen = strlen(prefix);
    struct iter it;
    const struct node *c;
    int rc;

    iter_seek(&it, st->live.root, prefix);
    while ((c = iter_cur(&it)) != NULL &&
           strncmp(c->key, prefix, plen) == 0) {
        if ((rc = fn(ctx, c->e)) != 0)
            return rc;
        iter_next(&it);
    }
    return 0;
}

uint64_t kv_table_index(const struct kv_store *st) { return st->table_index; }

uint64_t kv_prefix_index(const struct kv_store *st, const char *prefix)
{
    return max2(range_max(st->live.root, prefix),
                range_max(st->tombs.root, prefix));
}

uint64_t kv_key_index(const struct kv_store *st, const char *key)
{
    const struct node *n = find(&st->live, key);

    if (n == NULL)
        n = find(&st->tombs, key);
    return n != NULL ? n->idx : 0;
}

/* Build a perfectly balanced tree from the first n nodes of a list
 * linked through kid[1]; advances *list. */
static struct node *build(struct node **list, size_t n)
{
    struct node *l, *root;

    if (n == 0)
        return NULL;
    l = build(list, n / 2);
    root = *list;
    *list = root->kid[1];
    root->kid[0] = l;
    root->kid[1] = build(list, n - n / 2 - 1);
    pull(root, 0);
    pull(root, 1);
    return root;
}

/* One O(n) pass: flatten in order, free the reaped, rebuild balanced. */
void kv_reap_tombstones(struct kv_store *st, uint64_t upto)
{
    struct node *stk[MAX_DEPTH], *n = st->tombs.root, *next;
    struct node *head = NULL, **tail = &head;
    size_t kept = 0;
    int sp = 0;

    while (n != NULL || sp > 0) {
        while (n != NULL) {
            assert(sp < MAX_DEPTH);
            stk[sp++] = n;
            n = n->kid[0];
        }
        n = stk[--sp];
        next = n->kid[1];
        if (n->idx <= upto) {
            free_node(n);
        } else {
            *tail = n;
            tail = &n->kid[1];
            kept++;
        }
        n = next;
    }
    *tail = NULL;
    st->tombs.root = build(&head, kept);
    st->tombs.count = kept;
}

void kv_set_table_index(struct kv_store *st, uint64_t index)
{
    note_index(st, index);
}

void kv_reset_table_index(struct kv_store *st, uint64_t index)
{
    st->table_index = index;
}

void kv_forget(struct kv_store *st, const char *key)
{
    free_node(tree_unlink(&st->live, key));
    free_node(tree_unlink(&st->tombs, key));
}

int kv_walk_tombstones(const struct kv_store *st, kv_tomb_fn fn, void *ctx)
{
    struct iter it;
    const struct node *c;
    int rc;

    iter_seek(&it, st->tombs.root, "");
    while ((c = iter_cur(&it)) != NULL) {
        if ((rc = fn(ctx, c->key, c->idx)) != 0)
            return rc;
        iter_next(&it);
    }
    return 0;
}

static int dup_key(const char *key, char *err)
{
    char q[ERR_QUOTE_MAX + 1];

    return err_set(err, ERR_EXISTS, "duplicate key '%s'",
                   err_quote(q, sizeof(q), key));
}

int kv_restore_tombstone(struct kv_store *st, const char *key,
                         uint64_t index, char *err)
{
    struct node *n;
    int rc;

    if ((rc = check_key(key, false, err)) != 0)
        return rc;
    if (find(&st->live, key) != NULL)
        return dup_key(key, err);
    if ((n = node_new(key)) == NULL)
        return err_set(err, ERR_NOMEM, "restoring a tombstone");
    n->idx = index;
    if (!tree_insert(&st->tombs, n)) {
        free_node(n);
        return dup_key(key, err);
    }
    note_index(st, index);
    return 0;
}

static struct kv_entry *entry_dup(const struct kv_entry *src)
{
    struct kv_entry *e = entry_new(src->val, src->len);

    if (e == NULL)
        return NULL;
    if (src->session != NULL && (e->session = strdup(src->session)) == NULL) {
        free(e);
        return NULL;
    }
    e->flags = src->flags;
    e->create_index = src->create_index;
    e->modify_index = src->modify_index;
    e->lock_index = src->lock_index;
    return e;
}

int kv_restore_entry(struct kv_store *st, const struct kv_entry *e,
                     char *err)
{
    struct kv_entry *copy;
    struct node *n;
    int rc;

    if ((rc = check_key(e->key, false, err)) != 0)
        return rc;
    if (e->val == NULL && e->len > 0)
        return err_set(err, ERR_INVAL, "value is null but length is %zu",
                       e->len);
    if (find(&st->tombs, e->key) != NULL)
        return dup_key(e->key, err);
    if ((n = node_new(e->key)) == NULL || (copy = entry_dup(e)) == NULL) {
        free_node(n);
        return err_set(err, ERR_NOMEM, "restoring an entry");
    }
    attach(n, copy);
    if (!tree_insert(&st->live, n)) {
        free_node(n);
        return dup_key(e->key, err);
    }
    note_index(st, e->modify_index);
    return 0;
}

/* Returns the subtree height (and its max index in *max), or -1 with
 * err filled. */
static int verify_node(const struct node *n, const struct node *lo,
                       const struct node *hi, bool live, uint64_t *max,
                       char *err)
{
    uint64_t ml = 0, mr = 0;
    int hl, hr;

    *max = 0;
    if (n == NULL)
        return 0;
    if ((lo != NULL && strcmp(lo->key, n->key) >= 0) ||
        (hi != NULL && strcmp(n->key, hi->key) >= 0))
        return err_set(err, -1, "key order broken at '%.64s'", n->key);
    if ((hl = verify_node(n->kid[0], lo, n, live, &ml, err)) < 0 ||
        (hr = verify_node(n->kid[1], n, hi, live, &mr, err)) < 0)
        return -1;
    if (hl - hr > 1 || hr - hl > 1)
        return err_set(err, -1, "unbalanced at '%.64s'", n->key);
    if (n->kh[0] != hl || n->kh[1] != hr)
        return err_set(err, -1, "bad child height at '%.64s'", n->key);
    if (n->kmax[0] != ml || n->kmax[1] != mr)
        return err_set(err, -1, "bad subtree max at '%.64s'", n->key);
    if (live != (n->e != NULL) ||
        (live && (n->e->key != n->key || n->e->modify_index != n->idx ||
                  (n->e->val == NULL) != (n->e->len == 0))))
        return err_set(err, -1, "bad entry fields at '%.64s'", n->key);
    *max = max2(n->idx, max2(ml, mr));
    return 1 + (hl > hr ? hl : hr);
}

static size_t count_nodes(const struct node *n)
{
    return n == NULL ? 0 : 1 + count_nodes(n->kid[0]) + count_nodes(n->kid[1]);
}

static int disjoint_fn(void *ctx, const char *key, uint64_t index)
{
    return kv_peek(ctx, key) != NULL;
}

int kv_verify(const struct kv_store *st, char *err)
{
    size_t nl = count_nodes(st->live.root), nt = count_nodes(st->tombs.root);
    uint64_t m;

    if (verify_node(st->live.root, NULL, NULL, true, &m, err) < 0 ||
        verify_node(st->tombs.root, NULL, NULL, false, &m, err) < 0)
        return ERR_INTERNAL;
    if (nl != st->live.count || nt != st->tombs.count)
        return err_set(err, ERR_INTERNAL, "counts %zu/%zu, trees %zu/%zu",
                       st->live.count, st->tombs.count, nl, nt);
    if (submax(st->live.root) > st->table_index ||
        submax(st->tombs.root) > st->table_index)
        return err_set(err, ERR_INTERNAL, "table index below an entry");
    if (kv_walk_tombstones(st, disjoint_fn, (void *)st) != 0)
        return err_set(err, ERR_INTERNAL, "key both live and tombstoned");
    return 0;
}

/* cat.c - the service catalog: objects, indexes, register/deregister.
 *
 * Layer: store (uses util, codec: jansson). Thread: loop only.
 * Owns: every catalog object and record (see cat_int.h for the trees).
 * Tests: t/unit/check_cat.c, t/t2*.sh
 *
 * A register runs in two steps. prepare() decodes the request, looks
 * everything up, decides what changes and allocates every object and
 * record the change needs, touching nothing; commit() then only links,
 * swaps and frees, which cannot fail. So a bad or unsatisfiable request
 * (or running out of memory) leaves the store as it was, and a request
 * that changes nothing bumps no index at all: anti-entropy re-registers
 * the same data every minute and blocking queries must not wake for it.
 *
 * Indexes, as in Consul's state store: a node change bumps the nodes
 * table, the node and every service name on the node (health results
 * carry node fields); a service change bumps the services table, the
 * node and its name (both names when it is renamed); a check change
 * bumps the checks table, the node and the name of its service, or
 * every name on the node for a node-level check. A name whose last
 * instance goes is dropped and the store's service extinction index
 * takes the deletion's index, so a watcher of a vanished name wakes
 * while memory stays bounded by what is registered; nodes likewise.
 */
#include "cat.h"

#include <stdlib.h>
#include <string.h>

#include "cat_int.h"

/* ---- keys and trees ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

char *cat_fold(const char *s)
{
    char *d = strdup(s), *p;

    if (d != NULL)
        for (p = d; *p != '\0'; p++)
            *p = (char)lower((unsigned char)*p);
    return d;
}

/* strcmp(fold(a), b) for an already folded b, without folding a. */
int cat_fold_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const void *)a, *y = (const void *)b;
    int c;

    for (;; x++, y++) {
        if ((c = lower(*x) - *y) != 0 || *y == '\0')
            return c;
    }
}

static int node_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_node, link)->key);
}

static int node_id_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_node, id_link)->id);
}

static int name_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_name, link)->key);
}

static int svc_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_svc, link)->key);
}

static int chk_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_chk, link)->key);
}

static int chk_s_cmp(const void *k, const struct cat_link *l)
{
    return cat_fold_cmp(k, CAT_OF(l, struct cat_chk, slink)->key);
}

static int inst_cmp(const void *k, const struct cat_link *l)
{
    const struct cat_inst_key *ik = k;
    const struct cat_svc *sv = CAT_OF(l, struct cat_svc, nlink);
    int c = cat_fold_cmp(ik->node, sv->node->key);

    return c != 0 ? c : cat_fold_cmp(ik->svc, sv->key);
}

struct cat_node *cat_find_node(const struct cat_store *s, const char *name)
{
    struct cat_link *l = cat_tree_find(&s->nodes, name);

    return l != NULL ? CAT_OF(l, struct cat_node, link) : NULL;
}

static struct cat_node *find_node_id(const struct cat_store *s,
                                     const char *id)
{
    struct cat_link *l = cat_tree_find(&s->node_ids, id);

    return l != NULL ? CAT_OF(l, struct cat_node, id_link) : NULL;
}

struct cat_name *cat_find_name(const struct cat_store *s, const char *name)
{
    struct cat_link *l = cat_tree_find(&s->names, name);

    return l != NULL ? CAT_OF(l, struct cat_name, link) : NULL;
}

struct cat_svc *cat_find_svc(const struct cat_node *n, const char *id)
{
    struct cat_link *l = cat_tree_find(&n->svcs, id);

    return l != NULL ? CAT_OF(l, struct cat_svc, link) : NULL;
}

struct cat_chk *cat_find_chk(const struct cat_node *n, const char *id)
{
    struct cat_link *l = cat_tree_find(&n->checks, id);

    return l != NULL ? CAT_OF(l, struct cat_chk, link) : NULL;
}

uint64_t cat_rec_index(const json_t *rec, const char *field)
{
    json_int_t v = json_integer_value(json_object_get(rec, field));

    return v > 0 ? (uint64_t)v : 0;
}

/* ---- objects ---- */

struct cat_node *cat_node_alloc(const char *name, const char *id)
{
    struct cat_node *n = calloc(1, sizeof(*n));

    if (n == NULL || (n->key = cat_fold(name)) == NULL ||
        (*id != '\0' && (n->id = cat_fold(id)) == NULL)) {
        cat_node_free(n);
        return NULL;
    }
    cat_tree_init(&n->svcs, svc_cmp);
    cat_tree_init(&n->checks, chk_cmp);
    cat_tree_init(&n->nchecks, chk_s_cmp);
    return n;
}

struct cat_svc *cat_svc_alloc(const char *id)
{
    struct cat_svc *sv = calloc(1, sizeof(*sv));

    if (sv == NULL || (sv->key = cat_fold(id)) == NULL) {
        free(sv);
        return NULL;
    }
    cat_tree_init(&sv->checks, chk_s_cmp);
    return sv;
}

struct cat_chk *cat_chk_alloc(const char *id)
{
    struct cat_chk *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->key = cat_fold(id)) == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

struct cat_name *cat_name_alloc(const char *name)
{
    struct cat_name *nm = calloc(1, sizeof(*nm));

    if (nm == NULL || (nm->key = cat_fold(name)) == NULL) {
        free(nm);
        return NULL;
    }
    cat_tree_init(&nm->inst, inst_cmp);
    return nm;
}

static void chk_free(struct cat_chk *c)
{
    if (c == NULL)
        return;
    json_decref(c->rec);
    free(c->key);
    free(c);
}

static void svc_free(struct cat_svc *sv)
{
    if (sv == NULL)
        return;
    json_decref(sv->rec);
    free(sv->key);
    free(sv);
}

void cat_name_free(struct cat_name *nm)
{
    if (nm == NULL)
        return;
    free(nm->key);
    free(nm);
}

/* Post-order, so nothing is read after it is freed. */
static void free_svcs(struct cat_link *l)
{
    if (l == NULL)
        return;
    free_svcs(l->kid[0]);
    free_svcs(l->kid[1]);
    svc_free(CAT_OF(l, struct cat_svc, link));
}

static void free_chks(struct cat_link *l)
{
    if (l == NULL)
        return;
    free_chks(l->kid[0]);
    free_chks(l->kid[1]);
    chk_free(CAT_OF(l, struct cat_chk, link));
}

/* The node and everything on it; it must be unlinked from the store. */
void cat_node_free(struct cat_node *n)
{
    if (n == NULL)
        return;
    free_svcs(n->svcs.root);
    free_chks(n->checks.root);
    json_decref(n->rec);
    free(n->key);
    free(n->id);
    free(n);
}

static void free_nodes(struct cat_link *l)
{
    if (l == NULL)
        return;
    free_nodes(l->kid[0]);
    free_nodes(l->kid[1]);
    cat_node_free(CAT_OF(l, struct cat_node, link));
}

static void free_names(struct cat_link *l)
{
    if (l == NULL)
        return;
    free_names(l->kid[0]);
    free_names(l->kid[1]);
    cat_name_free(CAT_OF(l, struct cat_name, link));
}

void cat_node_link(struct cat_store *s, struct cat_node *n)
{
    struct cat_link *dup = cat_tree_insert(&s->nodes, n->key, &n->link);

    (void)dup;
    if (n->id != NULL)
        dup = cat_tree_insert(&s->node_ids, n->id, &n->id_link);
}

/* nm must be in store.names already. */
void cat_svc_link(struct cat_store *s, struct cat_node *n,
                  struct cat_svc *sv, struct cat_name *nm)
{
    struct cat_inst_key k = {n->key, sv->key};

    (void)s;
    sv->node = n;
    sv->name = nm;
    cat_tree_insert(&n->svcs, sv->key, &sv->link);
    cat_tree_insert(&nm->inst, &k, &sv->nlink);
}

void cat_chk_link(struct cat_node *n, struct cat_svc *sv, struct cat_chk *c)
{
    c->node = n;
    c->svc = sv;
    cat_tree_insert(&n->checks, c->key, &c->link);
    cat_tree_insert(sv != NULL ? &sv->checks : &n->nchecks, c->key,
                    &c->slink);
}

/* ---- lifecycle and indexes ---- */

struct cat_store *cat_new(const char *dc)
{
    struct cat_store *s = calloc(1, sizeof(*s));

    if (s == NULL || (s->dc = strdup(dc != NULL ? dc : "dc1")) == NULL) {
        free(s);
        return NULL;
    }
    cat_tree_init(&s->nodes, node_cmp);
    cat_tree_init(&s->node_ids, node_id_cmp);
    cat_tree_init(&s->names, name_cmp);
    return s;
}

void cat_free(struct cat_store *s)
{
    if (s == NULL)
        return;
    free_nodes(s->nodes.root);
    free_names(s->names.root);
    free(s->dc);
    free(s);
}

const char *cat_datacenter(const struct cat_store *s) { return s->dc; }

uint64_t cat_index(const struct cat_store *s, enum cat_table t)
{
    return t < CAT_NTABLES ? s->index[t] : 0;
}

uint64_t cat_max_index(const struct cat_store *s)
{
    uint64_t m = s->index[0];
    int t;

    for (t = 1; t < CAT_NTABLES; t++)
        if (s->index[t] > m)
            m = s->index[t];
    return m;
}

uint64_t cat_service_index(const struct cat_store *s, const char *name)
{
    struct cat_name *nm = cat_find_name(s, name);

    if (nm != NULL)
        return nm->index;
    return s->svc_gone != 0 ? s->svc_gone : s->index[CAT_SERVICES];
}

uint64_t cat_node_index(const struct cat_store *s, const char *name)
{
    struct cat_node *n = cat_find_node(s, name);

    if (n != NULL)
        return n->index;
    return s->node_gone != 0 ? s->node_gone : s->index[CAT_NODES];
}

size_t cat_count(const struct cat_store *s, enum cat_table t)
{
    struct cat_iter it;
    struct cat_link *l;
    size_t n = 0;

    if (t == CAT_NODES)
        return s->nodes.count;
    for (l = cat_iter_first(&it, &s->nodes); l != NULL;
         l = cat_iter_next(&it)) {
        struct cat_node *nd = CAT_OF(l, struct cat_node, link);

        n += t == CAT_SERVICES ? nd->svcs.count : nd->checks.count;
    }
    return n;
}

static void touch(struct cat_store *s, enum cat_table t, struct cat_node *n,
                  uint64_t index)
{
    s->index[t] = index;
    if (n != NULL)
        n->index = index;
}

/* Every service name with an instance on n. */
static void touch_names(struct cat_node *n, uint64_t index)
{
    struct cat_iter it;
    struct cat_link *l;

    for (l = cat_iter_first(&it, &n->svcs); l != NULL; l = cat_iter_next(&it))
        CAT_OF(l, struct cat_svc, link)->name->index = index;
}

/* ---- deletions (cannot fail) ---- */

static void del_chk(struct cat_store *s, struct cat_chk *c, uint64_t index)
{
    struct cat_node *n = c->node;

    cat_tree_remove(&n->checks, c->key);
    cat_tree_remove(c->svc != NULL ? &c->svc->checks : &n->nchecks, c->key);
    touch(s, CAT_CHECKS, n, index);
    if (c->svc != NULL)
        c->svc->name->index = index;
    else
        touch_names(n, index);
    chk_free(c);
}

/* Take sv out of its name's instances, dropping a name left empty. */
static void leave_name(struct cat_store *s, struct cat_svc *sv,
                       uint64_t index)
{
    struct cat_name *nm = sv->name;
    struct cat_inst_key k = {sv->node->key, sv->key};

    cat_tree_remove(&nm->inst, &k);
    sv->name = NULL;
    if (nm->inst.count > 0) {
        nm->index = index;
        return;
    }
    cat_tree_remove(&s->names, nm->key);
    cat_name_free(nm);
    s->svc_gone = index;
}

static void del_svc(struct cat_store *s, struct cat_svc *sv, uint64_t index)
{
    struct cat_node *n = sv->node;
    struct cat_link *l;

    while ((l = sv->checks.root) != NULL)
        del_chk(s, CAT_OF(l, struct cat_chk, slink), index);
    cat_tree_remove(&n->svcs, sv->key);
    leave_name(s, sv, index);
    touch(s, CAT_SERVICES, n, index);
    svc_free(sv);
}

static void del_node(struct cat_store *s, struct cat_node *n, uint64_t index)
{
    struct cat_link *l;

    while ((l = n->svcs.root) != NULL)
        del_svc(s, CAT_OF(l, struct cat_svc, link), index);
    while ((l = n->checks.root) != NULL)
        del_chk(s, CAT_OF(l, struct cat_chk, link), index);
    cat_tree_remove(&s->nodes, n->key);
    if (n->id != NULL)
        cat_tree_remove(&s->node_ids, n->id);
    touch(s, CAT_NODES, NULL, index);
    s->node_gone = index;
    cat_node_free(n);
}

int cat_deregister(struct cat_store *s, uint64_t index, const json_t *req,
                   char *err)
{
    struct cat_dereg d;
    struct cat_node *n;
    struct cat_svc *sv;
    struct cat_chk *c;
    int rc = cat_parse_deregister(req, &d, err);

    if (rc != 0)
        return rc;
    if ((n = cat_find_node(s, d.node)) == NULL)
        return 0;
    if (*d.svc_id != '\0') {
        if ((sv = cat_find_svc(n, d.svc_id)) != NULL)
            del_svc(s, sv, index);
    } else if (*d.check_id != '\0') {
        if ((c = cat_find_chk(n, d.check_id)) != NULL)
            del_chk(s, c, index);
    } else {
        del_node(s, n, index);
    }
    return 0;
}

/* ---- register: prepare ---- */

struct chk_plan {
    json_t *rec;            /* the new record; NULL: unchanged */
    struct cat_chk *old;    /* the check it replaces */
    struct cat_chk *fresh;  /* allocated when there is none */
    struct cat_svc *svc;    /* an existing service it belongs to */
    bool req_svc;           /* it belongs to the request's service */
    bool skip;              /* a later check of the request has its ID */
};

struct plan {
    struct cat_reg r;
    uint64_t index;
    struct cat_node *node;  /* the node by name, if registered */
    struct cat_node *gone;  /* the node its ID moves away from */
    struct cat_node *fresh; /* the new node when node is NULL */
    json_t *node_rec;       /* new node record; NULL: unchanged */
    bool id_moves;
    char *new_id;           /* folded new node ID (NULL: none) */
    struct cat_svc *svc;    /* the service by ID, if registered */
    struct cat_svc *svc_fresh;
    struct cat_name *name_fresh; /* in case the name has no entry */
    json_t *svc_rec;        /* the service as it will be */
    bool svc_changed;
    json_t **follow;        /* svc's checks with its new name and tags */
    size_t nfollow;
    struct chk_plan *c;
};

static void plan_release(struct plan *p)
{
    size_t i;

    json_decref(p->node_rec);
    cat_node_free(p->fresh);
    free(p->new_id);
    svc_free(p->svc_fresh);
    cat_name_free(p->name_fresh);
    json_decref(p->svc_rec);
    for (i = 0; i < p->nfollow; i++)
        json_decref(p->follow[i]);
    free(p->follow);
    for (i = 0; p->c != NULL && i < p->r.nchks; i++) {
        json_decref(p->c[i].rec);
        chk_free(p->c[i].fresh);
    }
    free(p->c);
    cat_reg_release(&p->r);
}

static int nomem(char *err)
{
    return err_set(err, ERR_NOMEM, "out of memory");
}

static bool serf_healthy(const struct cat_node *n)
{
    struct cat_chk *c = cat_find_chk(n, "serfHealth");

    return c != NULL && strcmp(cat_str(c->rec, "Status"), "critical") != 0;
}

/* Consul's ensureNodeTxn rules for node IDs: a node that registers its
 * ID under a new name is renamed (the old name goes), and a new ID may
 * take over a name, unless that name belongs to another node that is
 * alive (its serfHealth check is not critical). */
static int node_ids(const struct cat_store *s, struct plan *p, char *err)
{
    const json_t *rec = p->r.node;
    const char *id = cat_str(rec, "ID");
    struct cat_node *byid, *n = p->node;
    char q[5][ERR_QUOTE_MAX + 4];

    if (*id == '\0')
        return 0;
    byid = find_node_id(s, id);
    if (byid == n || n == NULL || !serf_healthy(n) ||
        (byid == NULL && n->id == NULL)) {
        p->gone = byid != n ? byid : NULL;
        return 0;
    }
    err_quote(q[0], sizeof(q[0]), id);
    err_quote(q[1], sizeof(q[1]), cat_str(rec, "Node"));
    err_quote(q[2], sizeof(q[2]), cat_str(n->rec, "ID"));
    err_quote(q[3], sizeof(q[3]), cat_str(n->rec, "Node"));
    err_quote(q[4], sizeof(q[4]), cat_str(n->rec, "Address"));
    if (byid != NULL)
        return err_set(err, ERR_INVAL, "failed inserting node: Error while "
                       "renaming Node ID: \"%s\" (%s): Node name %s is "
                       "reserved by node %s with name %s (%s)", q[0],
                       cat_str(rec, "Address"), q[1], q[2], q[3], q[4]);
    return err_set(err, ERR_INVAL, "failed inserting node: Error while "
                   "renaming Node ID: \"%s\": Node name %s is reserved by "
                   "node %s with name %s (%s)", q[0], q[1], q[2], q[3], q[4]);
}

static int prepare_node(const struct cat_store *s, struct plan *p,
                        char *err)
{
    const json_t *rec = p->r.node;
    const char *id = cat_str(rec, "ID");
    struct cat_node *n;
    uint64_t create = p->index;
    int rc;

    n = p->node = cat_find_node(s, cat_str(rec, "Node"));
    if (n != NULL && p->r.skip_node_update)
        return 0;
    if ((rc = node_ids(s, p, err)) != 0)
        return rc;
    if (n != NULL && cat_same(rec, n->rec))
        return 0;
    if (n != NULL)
        create = cat_rec_index(n->rec, "CreateIndex");
    if ((p->node_rec = cat_with_indexes(rec, create, p->index)) == NULL)
        return nomem(err);
    if (n == NULL) {
        p->fresh = cat_node_alloc(cat_str(rec, "Node"), id);
        return p->fresh == NULL ? nomem(err) : 0;
    }
    p->id_moves = strcasecmp(id, cat_str(n->rec, "ID")) != 0;
    if (p->id_moves && *id != '\0' && (p->new_id = cat_fold(id)) == NULL)
        return nomem(err);
    return 0;
}

/* New records for svc's checks when its name or tags change. */
static int prepare_follow(struct plan *p, char *err)
{
    const json_t *old = p->svc->rec, *nw = p->svc_rec;
    struct cat_iter it;
    struct cat_link *l;
    json_t *r;

    if (p->svc->checks.count == 0 ||
        (strcmp(cat_str(old, "Service"), cat_str(nw, "Service")) == 0 &&
         json_equal(json_object_get(old, "Tags"),
                    json_object_get(nw, "Tags"))))
        return 0;
    p->follow = calloc(p->svc->checks.count, sizeof(*p->follow));
    if (p->follow == NULL)
        return nomem(err);
    for (l = cat_iter_first(&it, &p->svc->checks); l != NULL;
         l = cat_iter_next(&it)) {
        const json_t *c = CAT_OF(l, struct cat_chk, slink)->rec;

        r = cat_with_indexes(c, cat_rec_index(c, "CreateIndex"), p->index);
        if (r == NULL)
            return nomem(err);
        p->follow[p->nfollow++] = r;
        if (json_object_set(r, "ServiceName",
                            json_object_get(nw, "Service")) != 0 ||
            json_object_set(r, "ServiceTags", json_object_get(nw, "Tags")))
            return nomem(err);
    }
    return 0;
}

static int prepare_svc(const struct cat_store *s, struct plan *p, char *err)
{
    const json_t *rec = p->r.svc;
    const char *name;
    struct cat_svc *sv = NULL;
    uint64_t create = p->index;

    if (rec == NULL)
        return 0;
    name = cat_str(rec, "Service");
    if (p->node != NULL)
        sv = p->svc = cat_find_svc(p->node, cat_str(rec, "ID"));
    if (sv != NULL && cat_same(rec, sv->rec)) {
        p->svc_rec = json_incref(sv->rec);
        return 0;
    }
    p->svc_changed = true;
    if (sv != NULL)
        create = cat_rec_index(sv->rec, "CreateIndex");
    if ((p->svc_rec = cat_with_indexes(rec, create, p->index)) == NULL)
        return nomem(err);
    /* The renamed-away node may hold the name's last instances. */
    if ((cat_find_name(s, name) == NULL || p->gone != NULL) &&
        (p->name_fresh = cat_name_alloc(name)) == NULL)
        return nomem(err);
    if (sv == NULL)
        return (p->svc_fresh = cat_svc_alloc(cat_str(rec, "ID"))) == NULL
                   ? nomem(err)
                   : 0;
    return prepare_follow(p, err);
}

struct by_id {
    const char *id;
    size_t i;
};

static int by_id_cmp(const void *a, const void *b)
{
    const struct by_id *x = a, *y = b;
    int c = strcasecmp(x->id, y->id);

    return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/* A later check with the same ID replaces an earlier one, as applying
 * them in order would. */
static int supersede(struct plan *p, char *err)
{
    struct by_id *v;
    size_t i, n = p->r.nchks;

    if (n < 2)
        return 0;
    if ((v = malloc(n * sizeof(*v))) == NULL)
        return nomem(err);
    for (i = 0; i < n; i++) {
        v[i].id = cat_str(p->r.chks[i], "CheckID");
        v[i].i = i;
    }
    qsort(v, n, sizeof(*v), by_id_cmp);
    for (i = 0; i + 1 < n; i++)
        if (strcasecmp(v[i].id, v[i + 1].id) == 0)
            p->c[v[i].i].skip = true;
    free(v);
    return 0;
}

static int prepare_chk(struct plan *p, size_t i, char *err)
{
    struct chk_plan *cp = &p->c[i];
    const json_t *rec = p->r.chks[i], *svc_rec = NULL;
    const char *sid = cat_str(rec, "ServiceID");
    uint64_t create = p->index;
    char q[ERR_QUOTE_MAX + 4];
    json_t *r;

    if (*sid != '\0' && p->r.svc != NULL &&
        strcasecmp(sid, cat_str(p->r.svc, "ID")) == 0) {
        cp->req_svc = true;
        svc_rec = p->svc_rec;
    } else if (*sid != '\0') {
        if (p->node != NULL)
            cp->svc = cat_find_svc(p->node, sid);
        if (cp->svc == NULL)
            return err_set(err, ERR_INVAL, "failed inserting check on node "
                           "\"%s\": Missing service registration",
                           err_quote(q, sizeof(q), cat_str(rec, "Node")));
        svc_rec = cp->svc->rec;
    }
    if (p->node != NULL)
        cp->old = cat_find_chk(p->node, cat_str(rec, "CheckID"));
    if (cp->old != NULL)
        create = cat_rec_index(cp->old->rec, "CreateIndex");
    if ((r = cat_with_indexes(rec, create, p->index)) == NULL)
        return nomem(err);
    cp->rec = r;
    if (svc_rec != NULL &&
        (json_object_set(r, "ServiceName",
                         json_object_get(svc_rec, "Service")) != 0 ||
         json_object_set(r, "ServiceTags", json_object_get(svc_rec, "Tags"))))
        return nomem(err);
    if (cp->old != NULL && cat_same(r, cp->old->rec)) {
        json_decref(r);
        cp->rec = NULL;
        return 0;
    }
    if (cp->old == NULL &&
        (cp->fresh = cat_chk_alloc(cat_str(rec, "CheckID"))) == NULL)
        return nomem(err);
    return 0;
}

static int prepare(const struct cat_store *s, struct plan *p, char *err)
{
    size_t i;
    int rc;

    if (p->r.nchks > 0 &&
        (p->c = calloc(p->r.nchks, sizeof(*p->c))) == NULL)
        return nomem(err);
    if ((rc = prepare_node(s, p, err)) != 0 ||
        (rc = prepare_svc(s, p, err)) != 0 || (rc = supersede(p, err)) != 0)
        return rc;
    for (i = 0; i < p->r.nchks; i++)
        if (!p->c[i].skip && (rc = prepare_chk(p, i, err)) != 0)
            return rc;
    return 0;
}

/* ---- register: commit (cannot fail) ---- */

static struct cat_node *commit_node(struct cat_store *s, struct plan *p)
{
    struct cat_node *n = p->node;

    if (p->node_rec == NULL)
        return n;
    if (n == NULL) {
        n = p->fresh;
        p->fresh = NULL;
        cat_node_link(s, n);
    } else {
        json_decref(n->rec);
        touch_names(n, p->index);
    }
    n->rec = p->node_rec;
    p->node_rec = NULL;
    if (p->id_moves) {
        if (n->id != NULL)
            cat_tree_remove(&s->node_ids, n->id);
        free(n->id);
        n->id = p->new_id;
        p->new_id = NULL;
        if (n->id != NULL)
            cat_tree_insert(&s->node_ids, n->id, &n->id_link);
    }
    touch(s, CAT_NODES, n, p->index);
    return n;
}

static void commit_follow(struct cat_store *s, struct plan *p,
                          struct cat_svc *sv)
{
    struct cat_iter it;
    struct cat_link *l;
    size_t i = 0;

    for (l = cat_iter_first(&it, &sv->checks); l != NULL && i < p->nfollow;
         l = cat_iter_next(&it)) {
        struct cat_chk *c = CAT_OF(l, struct cat_chk, slink);

        json_decref(c->rec);
        c->rec = p->follow[i];
        p->follow[i++] = NULL;
    }
    if (p->nfollow > 0)
        touch(s, CAT_CHECKS, sv->node, p->index);
}

/* Returns the request's service as registered now, or NULL. */
static struct cat_svc *commit_svc(struct cat_store *s, struct plan *p,
                                  struct cat_node *n)
{
    struct cat_svc *sv = p->svc;
    struct cat_name *nm;
    struct cat_inst_key k;

    if (!p->svc_changed)
        return sv;
    nm = cat_find_name(s, cat_str(p->svc_rec, "Service"));
    if (sv != NULL && sv->name != nm)
        leave_name(s, sv, p->index);
    if (nm == NULL) {
        nm = p->name_fresh;
        p->name_fresh = NULL;
        cat_tree_insert(&s->names, nm->key, &nm->link);
    }
    if (sv == NULL) {
        sv = p->svc_fresh;
        p->svc_fresh = NULL;
        cat_svc_link(s, n, sv, nm);
    } else {
        json_decref(sv->rec);
        if (sv->name == NULL) {
            k.node = n->key;
            k.svc = sv->key;
            sv->name = nm;
            cat_tree_insert(&nm->inst, &k, &sv->nlink);
        }
        commit_follow(s, p, sv);
    }
    sv->rec = p->svc_rec;
    p->svc_rec = NULL;
    nm->index = p->index;
    touch(s, CAT_SERVICES, n, p->index);
    return sv;
}

static void commit_chk(struct cat_store *s, struct plan *p,
                       struct chk_plan *cp, struct cat_node *n,
                       struct cat_svc *target)
{
    struct cat_chk *c = cp->old;

    if (c == NULL) {
        c = cp->fresh;
        cp->fresh = NULL;
        cat_chk_link(n, target, c);
    } else {
        if (c->svc != target) {
            cat_tree_remove(c->svc != NULL ? &c->svc->checks : &n->nchecks,
                            c->key);
            if (c->svc != NULL)
                c->svc->name->index = p->index;
            c->svc = target;
            cat_tree_insert(target != NULL ? &target->checks : &n->nchecks,
                            c->key, &c->slink);
        }
        json_decref(c->rec);
    }
    c->rec = cp->rec;
    cp->rec = NULL;
    touch(s, CAT_CHECKS, n, p->index);
    if (target != NULL)
        target->name->index = p->index;
    else
        touch_names(n, p->index);
}

static void commit(struct cat_store *s, struct plan *p)
{
    struct cat_node *n;
    struct cat_svc *sv;
    size_t i;

    if (p->gone != NULL)
        del_node(s, p->gone, p->index);
    n = commit_node(s, p);
    sv = commit_svc(s, p, n);
    for (i = 0; i < p->r.nchks; i++)
        if (p->c[i].rec != NULL)
            commit_chk(s, p, &p->c[i], n,
                       p->c[i].req_svc ? sv : p->c[i].svc);
}

int cat_register(struct cat_store *s, uint64_t index, const json_t *req,
                 char *err)
{
    struct plan p;
    int rc;

    memset(&p, 0, sizeof(p));
    p.index = index;
    if ((rc = cat_parse_register(req, s->dc, &p.r, err)) != 0)
        return rc;
    if ((rc = prepare(s, &p, err)) == 0)
        commit(s, &p);
    plan_release(&p);
    return rc;
}

/* cat_read.c - catalog queries in Consul's response shapes, and the
 * snapshot side: visiting every record and index, restoring them.
 *
 * Layer: store (uses util, codec: jansson). Thread: loop only.
 * Owns: nothing; results are new references whose records are shared
 * with the store (see cat.h).
 * Tests: t/unit/check_cat.c
 *
 * Every query walks only the index it needs: a service's instances come
 * from its name's tree in (node, service ID) order, health entries add
 * the node-level checks kept apart on each node, and nothing is sorted
 * at read time except the tag sets of /v1/catalog/services.
 */
#include "cat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cat_int.h"

#define FOR_EACH(l, it, tree)                                           \
    for ((l) = cat_iter_first((it), (tree)); (l) != NULL;              \
         (l) = cat_iter_next(it))

/* Append (a new reference to) v; false when out of memory. */
static bool push(json_t *arr, json_t *v)
{
    return v != NULL && json_array_append(arr, v) == 0;
}

static bool push_new(json_t *arr, json_t *v)
{
    return v != NULL && json_array_append_new(arr, v) == 0;
}

static json_t *fail(json_t *v)
{
    json_decref(v);
    return NULL;
}

json_t *cat_nodes(const struct cat_store *s)
{
    json_t *out = json_array();
    struct cat_iter it;
    struct cat_link *l;

    if (out == NULL)
        return NULL;
    FOR_EACH(l, &it, &s->nodes)
        if (!push(out, CAT_OF(l, struct cat_node, link)->rec))
            return fail(out);
    return out;
}

json_t *cat_node(const struct cat_store *s, const char *node)
{
    struct cat_node *n = cat_find_node(s, node);
    json_t *svcs, *out;
    struct cat_iter it;
    struct cat_link *l;

    if (n == NULL || (svcs = json_object()) == NULL)
        return NULL;
    FOR_EACH(l, &it, &n->svcs) {
        json_t *r = CAT_OF(l, struct cat_svc, link)->rec;

        if (json_object_set(svcs, cat_str(r, "ID"), r) != 0)
            return fail(svcs);
    }
    out = json_pack("{s:O, s:O}", "Node", n->rec, "Services", svcs);
    json_decref(svcs);
    return out;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A tag set (object used as a set) as a sorted array. */
static json_t *sorted_keys(json_t *set)
{
    size_t n = json_object_size(set), i = 0;
    const char **keys = malloc((n > 0 ? n : 1) * sizeof(*keys));
    json_t *arr = json_array(), *v;
    const char *k;

    if (keys == NULL || arr == NULL) {
        free(keys);
        return fail(arr);
    }
    json_object_foreach(set, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof(*keys), str_cmp);
    for (i = 0; i < n; i++)
        if (!push_new(arr, json_string(keys[i]))) {
            free(keys);
            return fail(arr);
        }
    free(keys);
    return arr;
}

/* Add sv's tags to the set of its exact service name in sets. */
static bool add_tags(json_t *sets, const json_t *rec)
{
    const char *name = cat_str(rec, "Service");
    json_t *set = json_object_get(sets, name), *tag;
    size_t i;

    if (set == NULL && (set = json_object()) != NULL &&
        json_object_set_new(sets, name, set) != 0)
        return false;
    if (set == NULL)
        return false;
    json_array_foreach(json_object_get(rec, "Tags"), i, tag) {
        if (json_object_set(set, json_string_value(tag), json_true()) != 0)
            return false;
    }
    return true;
}

json_t *cat_services(const struct cat_store *s)
{
    json_t *out = json_object(), *set, *arr;
    struct cat_iter it, it2;
    struct cat_link *l, *m;
    const char *k;

    if (out == NULL)
        return NULL;
    FOR_EACH(l, &it, &s->names) {
        FOR_EACH(m, &it2, &CAT_OF(l, struct cat_name, link)->inst)
            if (!add_tags(out, CAT_OF(m, struct cat_svc, nlink)->rec))
                return fail(out);
    }
    json_object_foreach(out, k, set) {
        if ((arr = sorted_keys(set)) == NULL ||
            json_object_set_new(out, k, arr) != 0)
            return fail(out);
    }
    return out;
}

/* Consul matches tags case-insensitively. */
static bool has_tag(const json_t *rec, const char *tag)
{
    json_t *t;
    size_t i;

    if (tag == NULL)
        return true;
    json_array_foreach(json_object_get(rec, "Tags"), i, t) {
        if (strcasecmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

static json_t *service_node(const struct cat_svc *sv)
{
    const json_t *n = sv->node->rec, *r = sv->rec;

#define N(f) json_object_get(n, f)
#define S(f) json_object_get(r, f)
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, "
                     "s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
                     "ID", N("ID"), "Node", N("Node"), "Address",
                     N("Address"), "Datacenter", N("Datacenter"),
                     "TaggedAddresses", N("TaggedAddresses"), "NodeMeta",
                     N("Meta"), "ServiceKind", S("Kind"), "ServiceID",
                     S("ID"), "ServiceName", S("Service"), "ServiceTags",
                     S("Tags"), "ServiceAddress", S("Address"),
                     "ServiceTaggedAddresses", S("TaggedAddresses"),
                     "ServiceWeights", S("Weights"), "ServiceMeta",
                     S("Meta"), "ServicePort", S("Port"),
                     "ServiceEnableTagOverride", S("EnableTagOverride"),
                     "CreateIndex", S("CreateIndex"), "ModifyIndex",
                     S("ModifyIndex"));
#undef N
#undef S
}

json_t *cat_service_nodes(const struct cat_store *s, const char *name,
                          const char *tag)
{
    struct cat_name *nm = cat_find_name(s, name);
    json_t *out = json_array();
    struct cat_iter it;
    struct cat_link *l;

    if (out == NULL || nm == NULL)
        return out;
    FOR_EACH(l, &it, &nm->inst) {
        struct cat_svc *sv = CAT_OF(l, struct cat_svc, nlink);

        if (has_tag(sv->rec, tag) && !push_new(out, service_node(sv)))
            return fail(out);
    }
    return out;
}

static bool push_checks(json_t *out, const struct cat_tree *t,
                        const char *state)
{
    struct cat_iter it;
    struct cat_link *l;

    FOR_EACH(l, &it, t) {
        json_t *r = CAT_OF(l, struct cat_chk, slink)->rec;

        if ((state == NULL || strcmp(cat_str(r, "Status"), state) == 0) &&
            !push(out, r))
            return false;
    }
    return true;
}

json_t *cat_node_checks(const struct cat_store *s, const char *node)
{
    struct cat_node *n = cat_find_node(s, node);
    json_t *out = json_array();
    struct cat_iter it;
    struct cat_link *l;

    if (out == NULL || n == NULL)
        return out;
    FOR_EACH(l, &it, &n->checks)
        if (!push(out, CAT_OF(l, struct cat_chk, link)->rec))
            return fail(out);
    return out;
}

static int chk_key_cmp(const void *a, const void *b)
{
    const struct cat_chk *x = *(const struct cat_chk *const *)a;
    const struct cat_chk *y = *(const struct cat_chk *const *)b;

    return strcmp(x->key, y->key);
}

/* Checks of the instances [from, to) of one node, in check ID order. */
static bool push_node_run(json_t *out, struct cat_svc **run, size_t n)
{
    struct cat_chk **v;
    struct cat_iter it;
    struct cat_link *l;
    size_t i, k = 0, total = 0;
    bool ok = true;

    if (n == 1)
        return push_checks(out, &run[0]->checks, NULL);
    for (i = 0; i < n; i++)
        total += run[i]->checks.count;
    if ((v = malloc((total > 0 ? total : 1) * sizeof(*v))) == NULL)
        return false;
    for (i = 0; i < n; i++)
        FOR_EACH(l, &it, &run[i]->checks)
            v[k++] = CAT_OF(l, struct cat_chk, slink);
    qsort(v, k, sizeof(*v), chk_key_cmp);
    for (i = 0; i < k && ok; i++)
        ok = push(out, v[i]->rec);
    free(v);
    return ok;
}

json_t *cat_service_checks(const struct cat_store *s, const char *name)
{
    struct cat_name *nm = cat_find_name(s, name);
    json_t *out = json_array();
    struct cat_svc **run;
    struct cat_iter it;
    struct cat_link *l;
    size_t n = 0;
    bool ok = true;

    if (out == NULL || nm == NULL)
        return out;
    if ((run = malloc(nm->inst.count * sizeof(*run))) == NULL)
        return fail(out);
    FOR_EACH(l, &it, &nm->inst) {
        struct cat_svc *sv = CAT_OF(l, struct cat_svc, nlink);

        if (n > 0 && run[n - 1]->node != sv->node) {
            ok = ok && push_node_run(out, run, n);
            n = 0;
        }
        run[n++] = sv;
    }
    ok = ok && push_node_run(out, run, n);
    free(run);
    return ok ? out : fail(out);
}

json_t *cat_checks_in_state(const struct cat_store *s, const char *state)
{
    bool any = strcmp(state, "any") == 0;
    json_t *out;
    struct cat_iter it, it2;
    struct cat_link *l, *m;

    if (!any && !cat_status_valid(state))
        return NULL;
    if ((out = json_array()) == NULL)
        return NULL;
    FOR_EACH(l, &it, &s->nodes) {
        FOR_EACH(m, &it2, &CAT_OF(l, struct cat_node, link)->checks) {
            json_t *r = CAT_OF(m, struct cat_chk, link)->rec;

            if ((any || strcmp(cat_str(r, "Status"), state) == 0) &&
                !push(out, r))
                return fail(out);
        }
    }
    return out;
}

static bool all_passing(const struct cat_tree *t)
{
    struct cat_iter it;
    struct cat_link *l;

    FOR_EACH(l, &it, t)
        if (strcmp(cat_str(CAT_OF(l, struct cat_chk, slink)->rec, "Status"),
                   "passing") != 0)
            return false;
    return true;
}

static json_t *health_entry(const struct cat_svc *sv)
{
    json_t *checks = json_array(), *out;

    if (checks == NULL || !push_checks(checks, &sv->node->nchecks, NULL) ||
        !push_checks(checks, &sv->checks, NULL))
        return fail(checks);
    out = json_pack("{s:O, s:O, s:O}", "Node", sv->node->rec, "Service",
                    sv->rec, "Checks", checks);
    json_decref(checks);
    return out;
}

json_t *cat_service_health(const struct cat_store *s, const char *name,
                           const char *tag, bool passing_only)
{
    struct cat_name *nm = cat_find_name(s, name);
    json_t *out = json_array();
    struct cat_iter it;
    struct cat_link *l;

    if (out == NULL || nm == NULL)
        return out;
    FOR_EACH(l, &it, &nm->inst) {
        struct cat_svc *sv = CAT_OF(l, struct cat_svc, nlink);

        if (!has_tag(sv->rec, tag) ||
            (passing_only && (!all_passing(&sv->node->nchecks) ||
                              !all_passing(&sv->checks))))
            continue;
        if (!push_new(out, health_entry(sv)))
            return fail(out);
    }
    return out;
}

/* ---- snapshot ---- */

int cat_foreach(const struct cat_store *s, cat_visit_fn fn, void *ctx)
{
    struct cat_iter it, it2;
    struct cat_link *l, *m;
    int rc, t;

    FOR_EACH(l, &it, &s->nodes)
        if ((rc = fn(ctx, CAT_NODES, NULL,
                     CAT_OF(l, struct cat_node, link)->rec)) != 0)
            return rc;
    for (t = CAT_SERVICES; t <= CAT_CHECKS; t++) {
        FOR_EACH(l, &it, &s->nodes) {
            struct cat_node *n = CAT_OF(l, struct cat_node, link);
            const char *name = cat_str(n->rec, "Node");

            if (t == CAT_SERVICES) {
                FOR_EACH(m, &it2, &n->svcs)
                    if ((rc = fn(ctx, CAT_SERVICES, name,
                                 CAT_OF(m, struct cat_svc, link)->rec)) != 0)
                        return rc;
            } else {
                FOR_EACH(m, &it2, &n->checks)
                    if ((rc = fn(ctx, CAT_CHECKS, name,
                                 CAT_OF(m, struct cat_chk, link)->rec)) != 0)
                        return rc;
            }
        }
    }
    return 0;
}

int cat_foreach_index(const struct cat_store *s, cat_index_fn fn, void *ctx)
{
    struct cat_iter it;
    struct cat_link *l;
    int rc, t;

    for (t = 0; t < CAT_NTABLES; t++)
        if (s->index[t] != 0 &&
            (rc = fn(ctx, (enum cat_index_kind)t, NULL, s->index[t])) != 0)
            return rc;
    FOR_EACH(l, &it, &s->nodes) {
        const struct cat_node *n = CAT_OF(l, struct cat_node, link);

        if ((rc = fn(ctx, CAT_IDX_NODE, cat_str(n->rec, "Node"),
                     n->index)) != 0)
            return rc;
    }
    FOR_EACH(l, &it, &s->names) {
        const struct cat_name *nm = CAT_OF(l, struct cat_name, link);
        struct cat_iter first;
        const struct cat_svc *sv = CAT_OF(cat_iter_first(&first, &nm->inst),
                                          struct cat_svc, nlink);

        if ((rc = fn(ctx, CAT_IDX_SERVICE, cat_str(sv->rec, "Service"),
                     nm->index)) != 0)
            return rc;
    }
    if (s->node_gone != 0 &&
        (rc = fn(ctx, CAT_IDX_NODE_GONE, NULL, s->node_gone)) != 0)
        return rc;
    if (s->svc_gone != 0 &&
        (rc = fn(ctx, CAT_IDX_SERVICE_GONE, NULL, s->svc_gone)) != 0)
        return rc;
    return 0;
}

static uint64_t max2(uint64_t a, uint64_t b) { return a > b ? a : b; }

static int restore_node(struct cat_store *s, json_t *rec, char *err)
{
    const char *id = cat_str(rec, "ID");
    struct cat_node *n;

    if (cat_find_node(s, cat_str(rec, "Node")) != NULL)
        return err_set(err, ERR_INVAL, "duplicate node");
    if (*id != '\0' && cat_tree_find(&s->node_ids, id) != NULL)
        return err_set(err, ERR_INVAL, "duplicate node ID");
    if ((n = cat_node_alloc(cat_str(rec, "Node"), id)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    n->rec = json_incref(rec);
    n->index = cat_rec_index(rec, "ModifyIndex");
    cat_node_link(s, n);
    s->index[CAT_NODES] = max2(s->index[CAT_NODES], n->index);
    return 0;
}

static int restore_svc(struct cat_store *s, struct cat_node *n, json_t *rec,
                       char *err)
{
    const char *name = cat_str(rec, "Service");
    struct cat_name *nm = cat_find_name(s, name), *fresh = NULL;
    struct cat_svc *sv;
    uint64_t ix = cat_rec_index(rec, "ModifyIndex");

    if (cat_find_svc(n, cat_str(rec, "ID")) != NULL)
        return err_set(err, ERR_INVAL, "duplicate service");
    if (nm == NULL && (nm = fresh = cat_name_alloc(name)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if ((sv = cat_svc_alloc(cat_str(rec, "ID"))) == NULL) {
        cat_name_free(fresh);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (fresh != NULL)
        cat_tree_insert(&s->names, nm->key, &nm->link);
    sv->rec = json_incref(rec);
    cat_svc_link(s, n, sv, nm);
    nm->index = max2(nm->index, ix);
    n->index = max2(n->index, ix);
    s->index[CAT_SERVICES] = max2(s->index[CAT_SERVICES], ix);
    return 0;
}

static int restore_chk(struct cat_store *s, struct cat_node *n, json_t *rec,
                       char *err)
{
    const char *sid = cat_str(rec, "ServiceID");
    struct cat_svc *sv = NULL;
    struct cat_chk *c;
    uint64_t ix = cat_rec_index(rec, "ModifyIndex");
    struct cat_iter it;
    struct cat_link *l;

    if (strcasecmp(cat_str(rec, "Node"), cat_str(n->rec, "Node")) != 0)
        return err_set(err, ERR_INVAL, "check of another node");
    if (cat_find_chk(n, cat_str(rec, "CheckID")) != NULL)
        return err_set(err, ERR_INVAL, "duplicate check");
    if (*sid != '\0' && (sv = cat_find_svc(n, sid)) == NULL)
        return err_set(err, ERR_INVAL, "check of an unknown service");
    if (sv != NULL ? strcmp(cat_str(rec, "ServiceName"),
                            cat_str(sv->rec, "Service")) != 0 ||
                         !json_equal(json_object_get(rec, "ServiceTags"),
                                     json_object_get(sv->rec, "Tags"))
                   : *cat_str(rec, "ServiceName") != '\0' ||
                         json_array_size(json_object_get(rec, "ServiceTags")))
        return err_set(err, ERR_INVAL, "check disagrees with its service");
    if ((c = cat_chk_alloc(cat_str(rec, "CheckID"))) == NULL ||
        (sv != NULL && json_object_set(rec, "ServiceTags",
                                       json_object_get(sv->rec, "Tags")))) {
        free(c != NULL ? c->key : NULL);
        free(c);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    c->rec = json_incref(rec);
    cat_chk_link(n, sv, c);
    n->index = max2(n->index, ix);
    s->index[CAT_CHECKS] = max2(s->index[CAT_CHECKS], ix);
    if (sv != NULL)
        sv->name->index = max2(sv->name->index, ix);
    else
        FOR_EACH(l, &it, &n->svcs) {
            struct cat_name *nm = CAT_OF(l, struct cat_svc, link)->name;

            nm->index = max2(nm->index, ix);
        }
    return 0;
}

int cat_restore_record(struct cat_store *s, enum cat_table t,
                       const char *node, const json_t *rec, char *err)
{
    struct cat_node *n = NULL;
    json_t *c;
    int rc;

    if (t >= CAT_NTABLES)
        return err_set(err, ERR_INVAL, "unknown catalog table %d", (int)t);
    if (t != CAT_NODES &&
        (node == NULL || (n = cat_find_node(s, node)) == NULL))
        return err_set(err, ERR_INVAL, "%s of an unknown node",
                       t == CAT_SERVICES ? "service" : "check");
    if ((rc = cat_canon_record(t, rec, &c, err)) != 0)
        return rc;
    if (t == CAT_NODES)
        rc = restore_node(s, c, err);
    else if (t == CAT_SERVICES)
        rc = restore_svc(s, n, c, err);
    else
        rc = restore_chk(s, n, c, err);
    json_decref(c);
    return rc;
}

void cat_set_index(struct cat_store *s, enum cat_table t, uint64_t index)
{
    if (t < CAT_NTABLES)
        s->index[t] = max2(s->index[t], index);
}

int cat_restore_index(struct cat_store *s, enum cat_index_kind k,
                      const char *name, uint64_t index, char *err)
{
    struct cat_node *n;
    struct cat_name *nm;
    uint64_t *slot;
    bool *seen;

    if ((int)k < 0 || k >= CAT_IDX_COUNT)
        return err_set(err, ERR_INVAL, "unknown catalog index kind %d",
                       (int)k);
    if ((k == CAT_IDX_NODE || k == CAT_IDX_SERVICE) != (name != NULL))
        return err_set(err, ERR_INVAL, "catalog index %d %s a name", (int)k,
                       name != NULL ? "with" : "without");
    if ((int)k < (int)CAT_NTABLES) {
        slot = &s->index[k];
        seen = &s->idx_seen[k];
    } else if (k == CAT_IDX_NODE_GONE || k == CAT_IDX_SERVICE_GONE) {
        slot = k == CAT_IDX_NODE_GONE ? &s->node_gone : &s->svc_gone;
        seen = &s->idx_seen[k];
    } else if (k == CAT_IDX_NODE) {
        if ((n = cat_find_node(s, name)) == NULL)
            return err_set(err, ERR_INVAL, "index of an unknown node");
        slot = &n->index;
        seen = &n->idx_restored;
    } else {
        if ((nm = cat_find_name(s, name)) == NULL)
            return err_set(err, ERR_INVAL, "index of an unknown service");
        slot = &nm->index;
        seen = &nm->idx_restored;
    }
    if (*seen)
        return err_set(err, ERR_INVAL, "catalog index %d given twice",
                       (int)k);
    if (index == 0 || index < *slot)
        return err_set(err, ERR_INVAL, "catalog index %d below its records",
                       (int)k);
    *slot = index;
    *seen = true;
    return 0;
}

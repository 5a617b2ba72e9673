/* cat_int.h - internals shared by cat.c, cat_req.c, cat_read.c and
 * cat_tree.c; nothing outside the cat module includes it.
 *
 * Layer: store. Thread: loop only.
 *
 * Every lookup key is the name folded to ASCII lower case, as Consul's
 * indexes are case-insensitive ("Web" and "web" are one service name,
 * "Node1" and "node1" one node); records keep the spelling they were
 * registered with. Objects sit in several intrusive AVL trees at once:
 *
 *   store.nodes     cat_node by key            (name order)
 *   store.node_ids  cat_node by folded ID      (only nodes with an ID)
 *   store.names     cat_name by key            (service-name index)
 *   node.svcs       cat_svc by key             (service ID order)
 *   node.checks     cat_chk by key             (all checks of the node)
 *   node.nchecks    cat_chk by key, via slink  (node-level checks)
 *   svc.checks      cat_chk by key, via slink  (the service's checks)
 *   name.inst       cat_svc by (node key, service key), via nlink
 *
 * so that every read walks only what it returns (plus the node-level
 * checks of the nodes involved) and every write is O(log n) plus the
 * size of the node it touches.
 */
#ifndef PROCONSUL_CAT_INT_H
#define PROCONSUL_CAT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cat.h"

/* Height bound of an AVL tree with fewer than 2^64 links is ~92. */
#define CAT_MAX_DEPTH 96

struct cat_link {
    struct cat_link *kid[2];
    int h; /* height of the subtree rooted here */
};

/* <0, 0, >0 as key sorts before, at or after the link's object. */
typedef int (*cat_cmp_fn)(const void *key, const struct cat_link *l);

struct cat_tree {
    struct cat_link *root;
    size_t count;
    cat_cmp_fn cmp;
};

struct cat_iter {
    struct cat_link *stk[CAT_MAX_DEPTH];
    int n;
};

#define CAT_OF(ptr, type, member)                                       \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

void cat_tree_init(struct cat_tree *t, cat_cmp_fn cmp);
struct cat_link *cat_tree_find(const struct cat_tree *t, const void *key);
/* Insert l under key; NULL, or the link already there (l not added). */
struct cat_link *cat_tree_insert(struct cat_tree *t, const void *key,
                                 struct cat_link *l);
/* Unlink and return the link with key, or NULL. */
struct cat_link *cat_tree_remove(struct cat_tree *t, const void *key);
/* In-order walk; the tree must not change during it. */
struct cat_link *cat_iter_first(struct cat_iter *it, const struct cat_tree *t);
struct cat_link *cat_iter_next(struct cat_iter *it);

struct cat_name;

struct cat_node {
    struct cat_link link;     /* store.nodes */
    struct cat_link id_link;  /* store.node_ids, when id != NULL */
    char *key;
    char *id;                 /* folded node ID, or NULL */
    json_t *rec;
    struct cat_tree svcs, checks, nchecks;
    uint64_t index;           /* last change to it, its services, checks */
    bool idx_restored;
};

struct cat_svc {
    struct cat_link link;     /* node.svcs */
    struct cat_link nlink;    /* name.inst */
    char *key;
    struct cat_node *node;
    struct cat_name *name;
    json_t *rec;
    struct cat_tree checks;
};

struct cat_chk {
    struct cat_link link;     /* node.checks */
    struct cat_link slink;    /* svc.checks or node.nchecks */
    char *key;
    struct cat_node *node;
    struct cat_svc *svc;      /* NULL for a node-level check */
    json_t *rec;
};

struct cat_name {
    struct cat_link link;     /* store.names */
    char *key;
    struct cat_tree inst;
    uint64_t index;           /* last change to an instance or its checks */
    bool idx_restored;
};

struct cat_store {
    char *dc;
    struct cat_tree nodes, node_ids, names;
    uint64_t index[CAT_NTABLES];
    uint64_t node_gone, svc_gone; /* last node / service-name extinction */
    bool idx_seen[CAT_IDX_COUNT]; /* restore: store-wide indexes given */
};

/* Key of an instance in name.inst. */
struct cat_inst_key {
    const char *node, *svc;
};

/* cat.c: objects and trees */
char *cat_fold(const char *s);
int cat_fold_cmp(const char *a, const char *b);
struct cat_node *cat_find_node(const struct cat_store *s, const char *name);
struct cat_name *cat_find_name(const struct cat_store *s, const char *name);
struct cat_svc *cat_find_svc(const struct cat_node *n, const char *id);
struct cat_chk *cat_find_chk(const struct cat_node *n, const char *id);
struct cat_node *cat_node_alloc(const char *name, const char *id);
struct cat_svc *cat_svc_alloc(const char *id);
struct cat_chk *cat_chk_alloc(const char *id);
struct cat_name *cat_name_alloc(const char *name);
void cat_node_link(struct cat_store *s, struct cat_node *n);
void cat_svc_link(struct cat_store *s, struct cat_node *n,
                  struct cat_svc *sv, struct cat_name *nm);
void cat_chk_link(struct cat_node *n, struct cat_svc *sv,
                  struct cat_chk *c);
void cat_node_free(struct cat_node *n);
void cat_name_free(struct cat_name *nm);
uint64_t cat_rec_index(const json_t *rec, const char *field);

/* cat_req.c: requests and stored shapes */
struct cat_reg {
    json_t *node;           /* canonical node record, indexes 0 */
    bool skip_node_update;
    json_t *svc;            /* canonical service record or NULL */
    json_t **chks;          /* canonical check records */
    size_t nchks;
};
int cat_parse_register(const json_t *req, const char *dc,
                       struct cat_reg *r, char *err);
void cat_reg_release(struct cat_reg *r);
struct cat_dereg {
    const char *node, *svc_id, *check_id; /* borrowed from req; "" unset */
};
int cat_parse_deregister(const json_t *req, struct cat_dereg *d,
                         char *err);
/* Validate a stored record (as restored) and make *out its canonical
 * copy (fields in canonical order); ERR_INVAL or ERR_NOMEM. */
int cat_canon_record(enum cat_table t, const json_t *rec, json_t **out,
                     char *err);
bool cat_status_valid(const char *st);
int cat_check_uuid(const char *id, char *err);
const char *cat_str(const json_t *rec, const char *field);
/* A copy of rec with CreateIndex/ModifyIndex set. */
json_t *cat_with_indexes(const json_t *rec, uint64_t create,
                         uint64_t modify);
/* Equal apart from CreateIndex/ModifyIndex. */
bool cat_same(const json_t *a, const json_t *b);

#endif

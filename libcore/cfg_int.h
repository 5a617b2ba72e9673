/* cfg_int.h - pieces shared by cfg.c, cfg_schema.c and cfg_build.c.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Internal to cfg_*.c; not part of the libcore API.
 * Tests: t/unit/check_cfg.c
 */
#ifndef PROCONSUL_CFG_INT_H
#define PROCONSUL_CFG_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum cfg_ktype {
    CFG_K_STR,
    CFG_K_INT,
    CFG_K_UINT,    /* integer >= 0 */
    CFG_K_FLOAT,
    CFG_K_BOOL,
    CFG_K_DUR,     /* Go duration string, or a number of seconds */
    CFG_K_STRLIST,
    CFG_K_OBJ,     /* keys checked against sub */
    CFG_K_MAP,     /* free-form object of strings (node_meta) */
    CFG_K_OBJLIST, /* list of objects; one object is a list of one */
    CFG_K_ANYOBJ,  /* object, contents not checked */
    CFG_K_ANY,     /* anything */
};

struct cfg_key {
    const char *name;
    enum cfg_ktype type;
    const struct cfg_key *sub; /* CFG_K_OBJ: table ending in {NULL} */
};

/* Schema entry for a dotted path ("ports.http"), or NULL. */
const struct cfg_key *cfg_schema_find(const char *path);

/* Warnings collected during cfg_build, handed out only on success. */
struct cfg_warns {
    char **msg;
    int n, cap;
    bool oom;
};

void cfg_warns_add(struct cfg_warns *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cfg_warns_release(struct cfg_warns *w);

/* Check every known key's type in tree (a user tree, modified in place):
 * unknown keys are warned about and removed, nulls removed, repeated
 * blocks of an object key merged, single objects of a list key wrapped.
 * Returns 0 or ERR_INVAL with a message naming the dotted key. */
int cfg_schema_check(json_t *tree, struct cfg_warns *w, char *err);

/* A CFG_K_DUR value: a Go duration string ("1m30s", "200ms"; a bare
 * number string is refused, as Go does), or a JSON number of seconds. */
int cfg_dur_value(const json_t *v, int64_t *ms);

/* Object merge without cfg_merge's top-level service/check handling. */
void cfg_merge_plain(json_t *dst, const json_t *src);
/* If obj[key] is an object (say one `services { }` block), make it a
 * list of that one object. 0 or ERR_NOMEM. */
int cfg_wrap_list(json_t *obj, const char *key);
/* Move top-level "service"/"check" (object or list) onto the end of
 * "services"/"checks". 0 or ERR_NOMEM. */
int cfg_lift_singular(json_t *top);

/* Dotted-path lookup that does not create anything. */
json_t *cfg_get_path(const json_t *tree, const char *path);

#endif

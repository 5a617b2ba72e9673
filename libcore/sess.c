/* sess.c - the session store: sessions ordered by ID, and lock delays.
 *
 * Layer: store (uses util, codec: jansson). Thread: loop only.
 * Owns: every sess_entry and lock-delay entry.
 * Tests: t/unit/check_sess.c
 *
 * A sorted array of entry pointers (binary search, memmove on insert
 * and removal): sessions number in the thousands at most, and walks in
 * ID order are what the HTTP reads and the snapshot want. Lock delays
 * are a small unsorted array, pruned of expired entries by lookups.
 */
#include "sess.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opt.h"
#include "util_rand.h"

struct delay {
    char *key;
    int64_t until_ms;
};

struct sess_store {
    struct sess_entry **v;
    size_t n, cap;
    uint64_t table_index;
    struct delay *d;
    size_t nd, capd;
};

struct sess_store *sess_new(void)
{
    return calloc(1, sizeof(struct sess_store));
}

static void free_list(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sess_entry_free(struct sess_entry *e)
{
    size_t i;

    if (e == NULL)
        return;
    free(e->id);
    free(e->name);
    free(e->node);
    free(e->ttl);
    free_list(e->checks, e->n_checks);
    free_list(e->node_checks, e->n_node_checks);
    for (i = 0; i < e->n_svc_checks; i++) {
        free(e->svc_checks[i].id);
        free(e->svc_checks[i].ns);
    }
    free(e->svc_checks);
    free(e);
}

void sess_free(struct sess_store *s)
{
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++)
        sess_entry_free(s->v[i]);
    free(s->v);
    for (i = 0; i < s->nd; i++)
        free(s->d[i].key);
    free(s->d);
    free(s);
}

size_t sess_count(const struct sess_store *s) { return s->n; }

/* Position of id, or where it would go (*found false). */
static size_t search(const struct sess_store *s, const char *id, bool *found)
{
    size_t lo = 0, hi = s->n;

    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, s->v[mid]->id);

        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

const struct sess_entry *sess_peek(const struct sess_store *s,
                                   const char *id)
{
    bool found;
    size_t i = search(s, id, &found);

    return found ? s->v[i] : NULL;
}

/* ---- JSON ---- */

static const char *const fields[] = {
    "ID", "Name", "Node", "LockDelay", "Behavior", "TTL", "Checks",
    "NodeChecks", "ServiceChecks", "CreateIndex", "ModifyIndex",
};

static int dup_str(const json_t *j, const char *what, bool required,
                   char **out, char *err)
{
    const char *v;

    *out = NULL;
    if (j == NULL || json_is_null(j)) {
        if (required)
            return err_set(err, ERR_INVAL, "Missing %s", what);
        v = "";
    } else if (!json_is_string(j)) {
        return err_set(err, ERR_INVAL, "%s is not a string", what);
    } else {
        v = json_string_value(j);
        if (json_string_length(j) > SESS_MAX_NAME ||
            strlen(v) != json_string_length(j))
            return err_set(err, ERR_INVAL, "%s is too long or holds a "
                           "NUL", what);
        if (required && v[0] == '\0')
            return err_set(err, ERR_INVAL, "Missing %s", what);
    }
    if ((*out = strdup(v)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

/* A JSON array of strings (or null: *v NULL, *n 0). */
static int read_list(const json_t *j, const char *what, char ***v, size_t *n,
                     char *err)
{
    size_t i;
    int rc;

    *v = NULL;
    *n = 0;
    if (j == NULL || json_is_null(j))
        return 0;
    if (!json_is_array(j))
        return err_set(err, ERR_INVAL, "%s is not an array", what);
    if (json_array_size(j) > SESS_MAX_CHECKS)
        return err_set(err, ERR_INVAL, "more than %d %s", SESS_MAX_CHECKS,
                       what);
    if ((*v = calloc(json_array_size(j) + 1, sizeof(char *))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < json_array_size(j); i++) {
        if ((rc = dup_str(json_array_get(j, i), what, true, &(*v)[i],
                          err)) != 0)
            return rc;
        (*n)++;
    }
    return 0;
}

static int read_svc_checks(const json_t *j, struct sess_entry *e, char *err)
{
    size_t i;
    int rc;

    if (j == NULL || json_is_null(j))
        return 0;
    if (!json_is_array(j))
        return err_set(err, ERR_INVAL, "ServiceChecks is not an array");
    if (json_array_size(j) > SESS_MAX_CHECKS)
        return err_set(err, ERR_INVAL, "more than %d ServiceChecks",
                       SESS_MAX_CHECKS);
    e->svc_checks = calloc(json_array_size(j) + 1, sizeof(*e->svc_checks));
    if (e->svc_checks == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (i = 0; i < json_array_size(j); i++) {
        const json_t *c = json_array_get(j, i);
        const char *k;
        json_t *v;

        if (!json_is_object(c))
            return err_set(err, ERR_INVAL, "ServiceChecks entry is not an "
                           "object");
        json_object_foreach((json_t *)c, k, v) {
            if (strcmp(k, "ID") != 0 && strcmp(k, "Namespace") != 0)
                return err_set(err, ERR_INVAL, "ServiceChecks entry has "
                               "an unknown field");
        }
        e->n_svc_checks++;
        if ((rc = dup_str(json_object_get(c, "ID"), "service check ID",
                          true, &e->svc_checks[i].id, err)) != 0 ||
            (rc = dup_str(json_object_get(c, "Namespace"), "Namespace",
                          false, &e->svc_checks[i].ns, err)) != 0)
            return rc;
    }
    return 0;
}

static int read_index(const json_t *j, const char *what, uint64_t *out,
                      char *err)
{
    if (!json_is_integer(j) || json_integer_value(j) < 1)
        return err_set(err, ERR_INVAL, "%s is not a positive integer", what);
    *out = (uint64_t)json_integer_value(j);
    return 0;
}

static int read_indexes(const json_t *j, struct sess_entry *e, char *err)
{
    int rc;

    if ((rc = read_index(json_object_get(j, "CreateIndex"), "CreateIndex",
                         &e->create_index, err)) != 0 ||
        (rc = read_index(json_object_get(j, "ModifyIndex"), "ModifyIndex",
                         &e->modify_index, err)) != 0)
        return rc;
    if (e->create_index > e->modify_index)
        return err_set(err, ERR_INVAL, "CreateIndex above ModifyIndex");
    return 0;
}

static int check_fields(const json_t *j, bool with_indexes, char *err)
{
    size_t n = sizeof(fields) / sizeof(fields[0]) - (with_indexes ? 0 : 2);
    const char *k;
    json_t *v;
    size_t i;

    if (!json_is_object(j))
        return err_set(err, ERR_INVAL, "session is not an object");
    json_object_foreach((json_t *)j, k, v) {
        for (i = 0; i < n && strcmp(k, fields[i]) != 0; i++)
            ;
        if (i == n)
            return err_set(err, ERR_INVAL, "session has an unknown field");
    }
    return 0;
}

static int read_scalars(const json_t *j, struct sess_entry *e, char *err)
{
    const json_t *ld = json_object_get(j, "LockDelay");
    const json_t *b = json_object_get(j, "Behavior");
    const char *bs = json_string_value(b);

    if (ld != NULL && !json_is_null(ld)) {
        if (!json_is_integer(ld) || json_integer_value(ld) < 0 ||
            json_integer_value(ld) > SESS_MAX_LOCK_DELAY_NS)
            return err_set(err, ERR_INVAL, "LockDelay is not a duration "
                           "of 0 to 60s in ns");
        e->lock_delay_ns = json_integer_value(ld);
    }
    if (b == NULL || json_is_null(b) || (bs != NULL && (bs[0] == '\0' ||
                                         strcmp(bs, "release") == 0)))
        e->behavior = SESS_RELEASE;
    else if (bs != NULL && strcmp(bs, "delete") == 0)
        e->behavior = SESS_DELETE;
    else
        return err_set(err, ERR_INVAL, "Invalid Behavior setting");
    if (e->ttl[0] != '\0' &&
        opt_parse_duration(e->ttl, false, &e->ttl_ms) != 0)
        return err_set(err, ERR_INVAL, "Session TTL is not a duration");
    return 0;
}

int sess_entry_from_json(const json_t *j, bool with_indexes,
                         struct sess_entry **out, char *err)
{
    struct sess_entry *e;
    int rc;

    *out = NULL;
    if ((rc = check_fields(j, with_indexes, err)) != 0)
        return rc;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if ((rc = dup_str(json_object_get(j, "ID"), "session ID", true, &e->id,
                      err)) == 0 && !util_uuid_valid(e->id))
        rc = err_set(err, ERR_INVAL, "session ID is not a UUID");
    if (rc == 0)
        rc = dup_str(json_object_get(j, "Name"), "Name", false, &e->name,
                     err);
    if (rc == 0)
        rc = dup_str(json_object_get(j, "Node"), "Node", true, &e->node,
                     err);
    if (rc == 0)
        rc = dup_str(json_object_get(j, "TTL"), "TTL", false, &e->ttl, err);
    if (rc == 0)
        rc = read_list(json_object_get(j, "Checks"), "Checks", &e->checks,
                       &e->n_checks, err);
    if (rc == 0)
        rc = read_list(json_object_get(j, "NodeChecks"), "NodeChecks",
                       &e->node_checks, &e->n_node_checks, err);
    if (rc == 0)
        rc = read_svc_checks(json_object_get(j, "ServiceChecks"), e, err);
    if (rc == 0)
        rc = read_scalars(j, e, err);
    if (rc == 0 && with_indexes)
        rc = read_indexes(j, e, err);
    if (rc != 0) {
        sess_entry_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static json_t *list_json(char **v, size_t n)
{
    json_t *a;
    size_t i;

    if (v == NULL)
        return json_null();
    a = json_array();
    for (i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *svc_json(const struct sess_entry *e)
{
    json_t *a;
    size_t i;

    if (e->svc_checks == NULL)
        return json_null();
    a = json_array();
    for (i = 0; a != NULL && i < e->n_svc_checks; i++)
        if (json_array_append_new(
                a, json_pack("{s:s, s:s}", "ID", e->svc_checks[i].id,
                             "Namespace", e->svc_checks[i].ns)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *sess_to_json(const struct sess_entry *e, bool with_indexes)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "ID", e->id,
                          "Name", e->name, "Node", e->node, "LockDelay",
                          (json_int_t)e->lock_delay_ns, "Behavior",
                          e->behavior == SESS_DELETE ? "delete" : "release",
                          "TTL", e->ttl);
    int rc = j == NULL;

    if (rc == 0 && e->n_checks > 0)
        rc = json_object_set_new(j, "Checks",
                                 list_json(e->checks, e->n_checks));
    if (rc == 0)
        rc = json_object_set_new(j, "NodeChecks",
                                 list_json(e->node_checks,
                                           e->n_node_checks)) ||
             json_object_set_new(j, "ServiceChecks", svc_json(e));
    if (rc == 0 && with_indexes)
        rc = json_object_set_new(j, "CreateIndex",
                                 json_integer((json_int_t)e->create_index)) ||
             json_object_set_new(j, "ModifyIndex",
                                 json_integer((json_int_t)e->modify_index));
    if (rc != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- writes ---- */

static int put(struct sess_store *s, struct sess_entry *e, char *err)
{
    bool found;
    size_t i = search(s, e->id, &found);
    struct sess_entry **nv;

    if (found)
        return err_set(err, ERR_EXISTS, "Session '%s' already exists",
                       e->id);
    if (s->n == s->cap) {
        size_t cap = s->cap != 0 ? 2 * s->cap : 16;

        if ((nv = realloc(s->v, cap * sizeof(*nv))) == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        s->v = nv;
        s->cap = cap;
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = e;
    s->n++;
    if (e->modify_index > s->table_index)
        s->table_index = e->modify_index;
    return 0;
}

int sess_insert(struct sess_store *s, struct sess_entry *e, uint64_t index,
                char *err)
{
    uint64_t c = e->create_index, m = e->modify_index;
    int rc;

    e->create_index = e->modify_index = index;
    if ((rc = put(s, e, err)) != 0) {
        e->create_index = c;
        e->modify_index = m;
    }
    return rc;
}

int sess_restore(struct sess_store *s, struct sess_entry *e, char *err)
{
    if (e->create_index == 0 || e->create_index > e->modify_index)
        return err_set(err, ERR_INVAL, "session indexes do not fit");
    return put(s, e, err);
}

void sess_remove(struct sess_store *s, const char *id, uint64_t index,
                 bool *existed)
{
    bool found;
    size_t i = search(s, id, &found);

    *existed = found;
    if (!found)
        return;
    sess_entry_free(s->v[i]);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
    if (index > s->table_index)
        s->table_index = index;
}

int sess_walk(const struct sess_store *s, sess_walk_fn fn, void *ctx)
{
    size_t i;
    int rc;

    for (i = 0; i < s->n; i++)
        if ((rc = fn(ctx, s->v[i])) != 0)
            return rc;
    return 0;
}

uint64_t sess_table_index(const struct sess_store *s)
{
    return s->table_index;
}

void sess_set_table_index(struct sess_store *s, uint64_t index)
{
    if (index > s->table_index)
        s->table_index = index;
}

/* ---- lock delay ---- */

int64_t sess_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop_delay(struct sess_store *s, size_t i)
{
    free(s->d[i].key);
    s->d[i] = s->d[--s->nd];
}

int sess_lock_delay_set(struct sess_store *s, const char *key,
                        int64_t until_ms, char *err)
{
    struct delay *nd;
    size_t i;

    for (i = 0; i < s->nd; i++)
        if (strcmp(s->d[i].key, key) == 0) {
            if (until_ms > s->d[i].until_ms)
                s->d[i].until_ms = until_ms;
            return 0;
        }
    if (s->nd == s->capd) {
        size_t cap = s->capd != 0 ? 2 * s->capd : 16;

        if ((nd = realloc(s->d, cap * sizeof(*nd))) == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        s->d = nd;
        s->capd = cap;
    }
    if ((s->d[s->nd].key = strdup(key)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    s->d[s->nd++].until_ms = until_ms;
    return 0;
}

int64_t sess_lock_delay_left(struct sess_store *s, const char *key,
                             int64_t now_ms)
{
    size_t i = 0;
    int64_t left = 0;

    while (i < s->nd) {
        if (s->d[i].until_ms <= now_ms) {
            drop_delay(s, i);
            continue;
        }
        if (strcmp(s->d[i].key, key) == 0)
            left = s->d[i].until_ms - now_ms;
        i++;
    }
    return left;
}

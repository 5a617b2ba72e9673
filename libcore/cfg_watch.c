/* cfg_watch.c - Consul watch definitions: checks and the command line
 * of `proconsul watch` that runs one.
 *
 * Layer: codec (uses util, jansson). Thread: any.
 * Owns: nothing; cfg_watch_argv's result belongs to the caller.
 * A definition is Consul's watch parameter map (`watches` in the agent
 * config, or what `proconsul watch` builds from its flags): type, key,
 * prefix, service, tag, passingonly, state, name, datacenter, token,
 * stale, handler_type ("script"), args or the older handler string.
 * Messages follow Consul's watch.Parse and agent.reloadWatches.
 * Tests: t/unit/check_cfg_watch.c, t/t8202-watch.sh
 */
#include "cfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const char *const types[] = {"key", "keyprefix", "services",
                                    "nodes", "service", "checks", "event"};

/* Parameters each type takes beyond the common ones. */
static const char *const type_keys[][4] = {
    {"key"},
    {"prefix"},
    {NULL},
    {NULL},
    {"service", "tag", "passingonly"},
    {"service", "state"},
    {"name"},
};

static const char *const common_keys[] = {
    "type", "datacenter", "token", "stale", "handler_type", "args",
    "handler", "http_handler_config",
};

static int type_index(const char *t)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i], t) == 0)
            return (int)i;
    return -1;
}

static bool known_key(int ti, const char *k)
{
    for (size_t i = 0; i < sizeof(common_keys) / sizeof(common_keys[0]); i++)
        if (strcmp(common_keys[i], k) == 0)
            return true;
    for (size_t i = 0; i < 4 && type_keys[ti][i] != NULL; i++)
        if (strcmp(type_keys[ti][i], k) == 0)
            return true;
    return false;
}

static const char *str_of(const json_t *w, const char *k)
{
    return json_string_value(json_object_get(w, k));
}

static int want_str(const json_t *w, const char *k, char *err)
{
    const json_t *v = json_object_get(w, k);

    if (v != NULL && !json_is_string(v))
        return err_set(err, ERR_INVAL, "Expecting %s to be a string", k);
    return 0;
}

static int check_tag(const json_t *w, char *err)
{
    const json_t *t = json_object_get(w, "tag"), *e;
    size_t i;

    if (t == NULL || json_is_string(t))
        return 0;
    if (!json_is_array(t))
        return err_set(err, ERR_INVAL, "tag must be a string or a list of "
                       "strings");
    json_array_foreach(t, i, e)
        if (!json_is_string(e))
            return err_set(err, ERR_INVAL, "tag must be a string or a list "
                           "of strings");
    return 0;
}

static int check_type(const json_t *w, int ti, char *err)
{
    const char *k = str_of(w, "key"), *p = str_of(w, "prefix");
    const char *s = str_of(w, "service"), *st = str_of(w, "state");
    const json_t *po = json_object_get(w, "passingonly");

    switch (ti) {
    case 0:
        if (k == NULL || k[0] == '\0')
            return err_set(err, ERR_INVAL, "Must specify a single key to "
                           "watch");
        break;
    case 1:
        if (p == NULL)
            return err_set(err, ERR_INVAL, "Must specify a single prefix "
                           "to watch");
        break;
    case 4:
        if (s == NULL || s[0] == '\0')
            return err_set(err, ERR_INVAL, "Must specify a single service "
                           "to watch");
        if (po != NULL && !json_is_boolean(po))
            return err_set(err, ERR_INVAL, "Expecting passingonly to be a "
                           "boolean");
        return check_tag(w, err);
    case 5:
        if (s != NULL && st != NULL && s[0] != '\0' && st[0] != '\0')
            return err_set(err, ERR_INVAL, "Cannot specify service and "
                           "state");
        if (st != NULL && st[0] != '\0' && strcmp(st, "any") != 0 &&
            strcmp(st, "passing") != 0 && strcmp(st, "warning") != 0 &&
            strcmp(st, "critical") != 0)
            return err_set(err, ERR_INVAL, "Invalid state '%s'", st);
        break;
    default:
        break;
    }
    return 0;
}

static int check_handler(const json_t *w, bool need_handler, char *err)
{
    const char *ht = str_of(w, "handler_type");
    const json_t *args = json_object_get(w, "args"), *e;
    const json_t *h = json_object_get(w, "handler");
    size_t i;

    if (ht != NULL && strcmp(ht, "script") != 0) {
        if (strcmp(ht, "http") == 0)
            return err_set(err, ERR_UNSUPPORTED, "Handler type 'http' is "
                           "not supported yet: use handler_type \"script\"");
        return err_set(err, ERR_INVAL, "Handler type '%s' not supported",
                       ht);
    }
    if (h != NULL && !json_is_string(h))
        return err_set(err, ERR_INVAL, "Watch handler must be a string");
    if (args != NULL) {
        if (!json_is_array(args))
            return err_set(err, ERR_INVAL, "Watch args must be a list of "
                           "strings");
        json_array_foreach(args, i, e)
            if (!json_is_string(e))
                return err_set(err, ERR_INVAL, "Watch args must be a list "
                               "of strings");
    }
    if (h != NULL && args != NULL)
        return err_set(err, ERR_INVAL, "Only one watch handler allowed");
    if (need_handler && h == NULL &&
        (args == NULL || json_array_size(args) == 0))
        return err_set(err, ERR_INVAL, "Must define a watch handler");
    return 0;
}

int cfg_watch_check(const json_t *w, bool need_handler, char *err)
{
    static const char *const strs[] = {"type", "key", "prefix", "service",
                                       "state", "name", "datacenter",
                                       "token", "handler_type"};
    const char *k, *t;
    const json_t *v;
    int ti, rc;

    if (!json_is_object(w))
        return err_set(err, ERR_INVAL, "a watch must be an object");
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if ((rc = want_str(w, strs[i], err)) != 0)
            return rc;
    v = json_object_get(w, "stale");
    if (v != NULL && !json_is_boolean(v))
        return err_set(err, ERR_INVAL, "Expecting stale to be a boolean");
    t = str_of(w, "type");
    if (t == NULL || t[0] == '\0')
        return err_set(err, ERR_INVAL, "Watch type must be specified");
    if ((ti = type_index(t)) < 0)
        return err_set(err, ERR_INVAL, "Unsupported watch type: %.64s", t);
    json_object_foreach((json_t *)w, k, v)
        if (!known_key(ti, k))
            return err_set(err, ERR_INVAL, "Invalid parameters: [%.64s]", k);
    if ((rc = check_type(w, ti, err)) != 0)
        return rc;
    return check_handler(w, need_handler, err);
}

/* ---- argv ---- */

struct av {
    char **v;
    size_t n, cap;
    bool oom;
};

static void push(struct av *a, const char *fmt, const char *s1,
                 const char *s2)
{
    char *s = NULL;

    if (a->oom)
        return;
    if (a->n + 2 > a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        char **nv = realloc(a->v, nc * sizeof(*nv));

        if (nv == NULL) {
            a->oom = true;
            return;
        }
        a->v = nv;
        a->cap = nc;
    }
    if (asprintf(&s, fmt, s1, s2) < 0) {
        a->oom = true;
        return;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void push_opt(struct av *a, const json_t *w, const char *k)
{
    const char *s = str_of(w, k);

    if (s != NULL)
        push(a, "-%s=%s", k, s);
}

char **cfg_watch_argv(const json_t *w, char *err)
{
    struct av a = {0};
    const json_t *tag = json_object_get(w, "tag"), *e;
    const json_t *args = json_object_get(w, "args");
    static const char *const ks[] = {"type", "key", "prefix", "service",
                                     "state", "name", "datacenter"};
    size_t i;

    for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++)
        push_opt(&a, w, ks[k]);
    if (json_is_string(tag))
        push(&a, "-tag=%s", json_string_value(tag), NULL);
    json_array_foreach(tag, i, e)
        push(&a, "-tag=%s", json_string_value(e), NULL);
    if (json_is_true(json_object_get(w, "passingonly")))
        push(&a, "%s", "-passingonly", NULL);
    if (json_is_true(json_object_get(w, "stale")))
        push(&a, "%s", "-stale", NULL);
    if (json_is_array(args)) {
        push(&a, "%s", "-shell=false", NULL);
        push(&a, "%s", "--", NULL);
        json_array_foreach(args, i, e)
            push(&a, "%s", json_string_value(e), NULL);
    } else if (str_of(w, "handler") != NULL) {
        push(&a, "%s", "--", NULL);
        push(&a, "%s", str_of(w, "handler"), NULL);
    }
    if (a.oom || a.v == NULL) {
        cfg_watch_argv_free(a.v);
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    return a.v;
}

void cfg_watch_argv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

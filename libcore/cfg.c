/* cfg.c - configuration sources: parse, load files and dirs, merge, flags.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Owns: nothing; trees returned belong to the caller, trees merged in
 * are deep-copied so dst never shares nodes with src.
 * Tests: t/unit/check_cfg.c
 */
#include "cfg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg_int.h"
#include "hcl.h"
#include "opt.h"

/* Larger config files are refused rather than read into memory. */
#define CFG_MAX_FILE (16 * 1024 * 1024)

static int nomem(char *err)
{
    return err_set(err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
}

int cfg_parse(const char *text, size_t len, const char *name,
              enum cfg_format fmt, json_t **out, char *err)
{
    bool json;

    if (text == NULL)
        text = "", len = 0;
    json = fmt == CFG_JSON || hcl_is_json(text, len);
    return hcl_parse(text, len, name, json, out, err);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);

    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int read_all(FILE *f, const char *path, char **buf, size_t *len,
                    char *err)
{
    char q[ERR_QUOTE_MAX + 1], *b = NULL, *nb;
    size_t n = 0, cap = 0, got;

    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            if (cap > CFG_MAX_FILE + 1) {
                free(b);
                return err_set(err, ERR_TOOBIG, "config file '%s' is larger "
                               "than %d bytes", err_quote(q, sizeof(q), path),
                               CFG_MAX_FILE);
            }
            if ((nb = realloc(b, cap)) == NULL) {
                free(b);
                return nomem(err);
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (ferror(f)) {
        free(b);
        return err_set(err, ERR_IO, "cannot read '%s': %s",
                       err_quote(q, sizeof(q), path), strerror(errno));
    }
    *buf = b;
    *len = n;
    return 0;
}

int cfg_load_file(const char *path, enum cfg_format fmt, json_t **out,
                  char *err)
{
    char q[ERR_QUOTE_MAX + 1], *buf = NULL;
    size_t len = 0;
    FILE *f;
    int rc;

    *out = NULL;
    if ((f = fopen(path, "rb")) == NULL)
        return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
                       "cannot open '%s': %s",
                       err_quote(q, sizeof(q), path), strerror(errno));
    rc = read_all(f, path, &buf, &len, err);
    fclose(f);
    if (rc != 0)
        return rc;
    if (fmt == CFG_AUTO)
        fmt = has_suffix(path, ".json") ? CFG_JSON : CFG_HCL;
    rc = cfg_parse(buf, len, path, fmt, out, err);
    free(buf);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    while (n > 0)
        free(names[--n]);
    free(names);
}

/* Sorted *.hcl / *.json entry names of dir. */
static int list_dir(const char *dir, char ***names, size_t *n, char *err)
{
    char q[ERR_QUOTE_MAX + 1], **v = NULL, **nv;
    size_t cap = 0;
    struct dirent *de;
    DIR *d;

    *n = 0;
    if ((d = opendir(dir)) == NULL)
        return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO,
                       "cannot open config directory '%s': %s",
                       err_quote(q, sizeof(q), dir), strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (!has_suffix(de->d_name, ".hcl") && !has_suffix(de->d_name, ".json"))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
                break;
            v = nv;
        }
        if ((v[*n] = strdup(de->d_name)) == NULL)
            break;
        (*n)++;
    }
    closedir(d);
    if (de != NULL) {
        free_names(v, *n);
        return nomem(err);
    }
    if (*n > 0)
        qsort(v, *n, sizeof(*v), cmp_names);
    *names = v;
    return 0;
}

/* Parse dir/name into *doc, or leave *doc NULL for a sub-directory. */
static int load_entry(const char *dir, const char *name, json_t **doc,
                      char *err)
{
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    char q[ERR_QUOTE_MAX + 1], *path;
    struct stat st;
    int rc;

    *doc = NULL;
    if ((path = malloc(dl + strlen(name) + 2)) == NULL)
        return nomem(err);
    sprintf(path, "%s%s%s", dir, slash ? "" : "/", name);
    if (stat(path, &st) != 0)
        rc = err_set(err, ERR_IO, "cannot read '%s': %s",
                     err_quote(q, sizeof(q), path), strerror(errno));
    else
        rc = S_ISDIR(st.st_mode) ? 0 : cfg_load_file(path, CFG_AUTO, doc, err);
    free(path);
    return rc;
}

int cfg_load_dir(const char *dir, json_t *acc, char *err)
{
    char **names = NULL;
    json_t **docs;
    size_t n, i;
    int rc;

    if (!json_is_object(acc))
        return err_set(err, ERR_INVAL, "cfg_load_dir: acc is not an object");
    if ((rc = list_dir(dir, &names, &n, err)) != 0)
        return rc;
    /* Parse everything first so a bad file leaves acc untouched. */
    if ((docs = calloc(n + 1, sizeof(*docs))) == NULL) {
        free_names(names, n);
        return nomem(err);
    }
    for (i = 0; i < n && rc == 0; i++)
        rc = load_entry(dir, names[i], &docs[i], err);
    for (i = 0; i < n; i++) {
        if (rc == 0 && docs[i] != NULL)
            cfg_merge(acc, docs[i]);
        json_decref(docs[i]);
    }
    free(docs);
    free_names(names, n);
    return rc;
}

/* ---- merging ---------------------------------------------------------- */

void cfg_merge_plain(json_t *dst, const json_t *src)
{
    const char *k;
    json_t *sv, *dv;

    if (dst == src || !json_is_object(dst) || !json_is_object(src))
        return;
    /* jansson's iterators take non-const pointers; src is only read. */
    json_object_foreach((json_t *)src, k, sv) {
        dv = json_object_get(dst, k);
        if (json_is_object(dv) && json_is_object(sv)) {
            cfg_merge_plain(dv, sv);
        } else if (json_is_array(dv) && json_is_array(sv) && dv != sv) {
            size_t i, n = json_array_size(sv);

            for (i = 0; i < n; i++)
                json_array_append_new(
                    dv, json_deep_copy(json_array_get(sv, i)));
        } else {
            json_object_set_new(dst, k, json_deep_copy(sv));
        }
    }
}

/* Append v (or v's items) to top[many], making it a list; copy or move. */
static int append_to(json_t *top, const char *many, json_t *v, bool copy)
{
    json_t *list = json_object_get(top, many), *nl;
    size_t i, n = json_is_array(v) ? json_array_size(v) : 1;
    int rc = 0;

    if (!json_is_array(list)) {
        if ((nl = json_array()) == NULL ||
            (list != NULL && json_array_append(nl, list) != 0) ||
            json_object_set_new(top, many, nl) != 0)
            return ERR_NOMEM;
        list = nl;
    }
    for (i = 0; i < n && rc == 0; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;

        rc = json_array_append_new(list, copy ? json_deep_copy(e)
                                              : json_incref(e));
    }
    return rc == 0 ? 0 : ERR_NOMEM;
}

static const char *const singular[][2] = {
    {"service", "services"},
    {"check", "checks"},
};
#define N_SINGULAR (sizeof(singular) / sizeof(*singular))

int cfg_wrap_list(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key), *l;

    if (!json_is_object(v))
        return 0;
    if ((l = json_array()) == NULL || json_array_append(l, v) != 0) {
        json_decref(l);
        return ERR_NOMEM;
    }
    return json_object_set_new(obj, key, l) == 0 ? 0 : ERR_NOMEM;
}

int cfg_lift_singular(json_t *top)
{
    for (size_t i = 0; i < N_SINGULAR; i++) {
        json_t *v = json_object_get(top, singular[i][0]);

        if (cfg_wrap_list(top, singular[i][1]) != 0)
            return ERR_NOMEM;
        if (v == NULL)
            continue;
        if (append_to(top, singular[i][1], v, false) != 0)
            return ERR_NOMEM;
        json_object_del(top, singular[i][0]);
    }
    return 0;
}

void cfg_merge(json_t *dst, const json_t *src)
{
    json_t *rest;
    size_t i;

    if (dst == src || !json_is_object(dst) || !json_is_object(src))
        return;
    /* Consul gathers each source's `service`/`check` into the lists
     * before merging, so one-service-per-file directories add up. rest
     * is a shallow copy: only its own slots change, never src. */
    if (cfg_lift_singular(dst) != 0)
        return;
    if ((rest = json_copy((json_t *)src)) == NULL)
        return;
    for (i = 0; i < N_SINGULAR; i++) {
        json_object_del(rest, singular[i][0]);
        if (cfg_wrap_list(rest, singular[i][1]) != 0) {
            json_decref(rest);
            return;
        }
    }
    cfg_merge_plain(dst, rest);
    json_decref(rest);
    for (i = 0; i < N_SINGULAR; i++) {
        json_t *v = json_object_get(src, singular[i][0]);

        if (v != NULL)
            append_to(dst, singular[i][1], v, true);
    }
}

/* ---- paths and flags -------------------------------------------------- */

json_t *cfg_get_path(const json_t *tree, const char *path)
{
    const char *dot;
    json_t *cur = (json_t *)tree;
    char seg[128];

    while (cur != NULL && path != NULL) {
        size_t n;

        dot = strchr(path, '.');
        n = dot ? (size_t)(dot - path) : strlen(path);
        if (!json_is_object(cur) || n >= sizeof(seg))
            return NULL;
        memcpy(seg, path, n);
        seg[n] = '\0';
        cur = json_object_get(cur, seg);
        path = dot ? dot + 1 : NULL;
    }
    return cur;
}

/* Non-empty segments, each shorter than max. */
static bool path_ok(const char *path, size_t max)
{
    size_t n = 0;

    for (;; path++) {
        if (*path == '.' || *path == '\0') {
            if (n == 0 || n >= max)
                return false;
            if (*path == '\0')
                return true;
            n = 0;
        } else {
            n++;
        }
    }
}

/* Walk to the object holding path's last segment, copied into last.
 * Without create, stop quietly (*parent NULL) at the first missing one. */
static int walk_path(json_t *obj, const char *path, bool create,
                     json_t **parent, char *last, size_t lastsz, char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    const char *seg = path, *dot;
    json_t *x;

    *parent = NULL;
    if (!path_ok(path, lastsz))
        return err_set(err, ERR_INVAL, "invalid config key '%s'",
                       err_quote(q, sizeof(q), path));
    while ((dot = strchr(seg, '.')) != NULL) {
        size_t n = (size_t)(dot - seg);

        memcpy(last, seg, n);
        last[n] = '\0';
        if ((x = json_object_get(obj, last)) == NULL) {
            if (!create)
                return 0;
            if (json_object_set_new(obj, last, x = json_object()) != 0)
                return nomem(err);
        } else if (!json_is_object(x)) {
            snprintf(last, lastsz, "%.*s", (int)(dot - path), path);
            return err_set(err, ERR_INVAL, "'%s' is not an object",
                           err_quote(q, sizeof(q), last));
        }
        obj = x;
        seg = dot + 1;
    }
    strcpy(last, seg);
    *parent = obj;
    return 0;
}

int cfg_set_path(json_t *obj, const char *path, json_t *val, char *err)
{
    const struct cfg_key *k;
    json_t *parent;
    char last[128];
    int rc;

    if (!json_is_object(obj) || val == NULL || path == NULL)
        return err_set(err, ERR_INVAL, "cfg_set_path: bad arguments");
    /* Check the whole path before creating anything. */
    if ((rc = walk_path(obj, path, false, &parent, last, sizeof(last),
                        err)) != 0 ||
        (rc = walk_path(obj, path, true, &parent, last, sizeof(last),
                        err)) != 0)
        return rc;
    k = cfg_schema_find(path);
    if (k != NULL && (k->type == CFG_K_STRLIST || k->type == CFG_K_OBJLIST))
        rc = append_to(parent, last, val, false);
    else
        rc = json_object_set(parent, last, val) == 0 ? 0 : ERR_NOMEM;
    if (rc != 0)
        return nomem(err);
    json_decref(val);
    return 0;
}

/* "key:value" (Consul's -node-meta); no colon means an empty value. */
static int set_map_pair(json_t *obj, const char *path, const char *s,
                        char *err)
{
    char q[ERR_QUOTE_MAX + 1];
    const char *colon = strchr(s, ':');
    json_t *m = cfg_get_path(obj, path), *nm;
    char *key;
    int rc = 0;

    if (m == NULL) {
        if ((nm = json_object()) == NULL)
            return nomem(err);
        if ((rc = cfg_set_path(obj, path, nm, err)) != 0) {
            json_decref(nm);
            return rc;
        }
        m = nm;
    } else if (!json_is_object(m)) {
        return err_set(err, ERR_INVAL, "'%s' is not an object",
                       err_quote(q, sizeof(q), path));
    }
    if ((key = strndup(s, colon ? (size_t)(colon - s) : strlen(s))) == NULL)
        return nomem(err);
    if (json_object_set_new(m, key, json_string(colon ? colon + 1 : "")))
        rc = err_set(err, ERR_INVAL, "'%s': invalid value",
                     err_quote(q, sizeof(q), path));
    free(key);
    return rc;
}

static json_t *flag_number(const char *s, enum cfg_ktype t)
{
    char *end;

    errno = 0;
    if (t == CFG_K_FLOAT) {
        double d = strtod(s, &end);

        return *s && !*end && errno == 0 ? json_real(d) : NULL;
    }
    long long v = strtoll(s, &end, 10);

    if (!*s || *end || errno != 0 || (t == CFG_K_UINT && v < 0))
        return NULL;
    return json_integer((json_int_t)v);
}

static json_t *flag_value(const struct cfg_key *k, const char *s,
                          const char **want)
{
    int64_t ms;
    bool b;

    switch (k->type) {
    case CFG_K_STR:
    case CFG_K_STRLIST:
        *want = "valid UTF-8";
        return json_string(s);
    case CFG_K_DUR:
        *want = "a duration";
        return opt_parse_duration(s, false, &ms) == 0 ? json_string(s)
                                                       : NULL;
    case CFG_K_INT:
    case CFG_K_FLOAT:
        *want = "a number";
        return flag_number(s, k->type);
    case CFG_K_UINT:
        *want = "a non-negative number";
        return flag_number(s, k->type);
    case CFG_K_BOOL:
        *want = "a boolean";
        return opt_parse_bool(s, &b) == 0 ? json_boolean(b) : NULL;
    default:
        return NULL;
    }
}

int cfg_set_flag(json_t *obj, const char *path, const char *s, char *err)
{
    char q[ERR_QUOTE_MAX + 1], qv[ERR_QUOTE_MAX + 1];
    const struct cfg_key *k = cfg_schema_find(path);
    const char *want = "";
    json_t *v;
    int rc;

    if (k == NULL)
        return err_set(err, ERR_INVAL, "unknown config key '%s'",
                       err_quote(q, sizeof(q), path));
    if (s == NULL)
        s = "";
    if (k->type == CFG_K_MAP)
        return set_map_pair(obj, path, s, err);
    if (k->type == CFG_K_OBJ || k->type == CFG_K_OBJLIST ||
        k->type == CFG_K_ANYOBJ || k->type == CFG_K_ANY)
        return err_set(err, ERR_INVAL, "'%s' cannot be set from a flag",
                       err_quote(q, sizeof(q), path));
    if ((v = flag_value(k, s, &want)) == NULL) {
        if (k->type == CFG_K_STR || k->type == CFG_K_STRLIST)
            return err_set(err, ERR_INVAL, "'%s' must be %s",
                           err_quote(q, sizeof(q), path), want);
        return err_set(err, ERR_INVAL, "'%s' must be %s, got \"%s\"",
                       err_quote(q, sizeof(q), path), want,
                       err_quote(qv, sizeof(qv), s));
    }
    if ((rc = cfg_set_path(obj, path, v, err)) != 0)
        json_decref(v);
    return rc;
}

/* agent_local_persist.c - loading config definitions, and the state file
 * <data-dir>/local-state.json of API-registered services and checks.
 *
 * Layer: agent. Thread: loop only (writes block briefly: small file).
 * Owns: the state file. Written whole, to a temporary file (mode 0600:
 * it holds ACL secrets) that is fsynced then renamed over the old one, so
 * a crash leaves the old or the new state, never a mix. A file that
 * cannot be parsed is set aside as local-state.json.bad (logged) and the
 * agent starts without it.
 * On a reload, config entries are re-read: new and changed ones are
 * registered, those gone from the config removed.
 * Format (ours): {"Version":1,"Services":[{"Service":NodeService
 * [,"Token":secret]}], "Checks":[{"Check":HealthCheck,"Definition":
 * runner def|null[,"Token":secret]}],
 * "TTLState":{id:{"Status","Output","Expires":wall ms}}}.
 * Tests: t/t2102-agent-services.sh, t/t3004-acl-anti-entropy.sh
 */
#include "agent_local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* e with "Token": token when there is one. */
static json_t *with_token(json_t *e, const char *token)
{
    if (token != NULL)
        json_object_set_new(e, "Token", json_string(token));
    return e;
}

static json_t *state_json(struct agent_local *l)
{
    json_t *svcs = json_array(), *chks = json_array(), *ttl = json_object();

    for (size_t i = 0; i < l->n_svcs; i++) {
        const struct local_svc *s = l->svcs[i];

        if (!s->deleted && !s->from_config)
            json_array_append_new(svcs, with_token(
                json_pack("{s:O}", "Service", s->svc), s->token));
    }
    for (size_t i = 0; i < l->n_chks; i++) {
        const struct local_chk *c = l->chks[i];

        if (c->deleted)
            continue;
        if (!c->from_config)
            json_array_append_new(chks, with_token(json_pack(
                "{s:O, s:O}", "Check", c->chk, "Definition",
                c->def != NULL ? c->def : json_null()), c->token));
        if (c->is_ttl && c->ttl_expires > 0)
            json_object_set_new(ttl, c->id, json_pack(
                "{s:O, s:O, s:I}", "Status",
                json_object_get(c->chk, "Status"), "Output",
                json_object_get(c->chk, "Output"), "Expires",
                (json_int_t)c->ttl_expires));
    }
    return json_pack("{s:i, s:o, s:o, s:o}", "Version", 1, "Services", svcs,
                     "Checks", chks, "TTLState", ttl);
}

/* All of text to fd, then fsync; -1 with errno on failure. */
static int write_all(int fd, const char *text)
{
    size_t len = strlen(text), off = 0;
    ssize_t w;

    while (off < len) {
        w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    return fsync(fd);
}

/* path.tmp, created 0600 (fchmod also fixes one a crash left behind
 * with other bits), written and fsynced, then renamed over path. */
static int write_file(const char *path, const char *text, char *err)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    int fd, rc = 0;

    if (tmp == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(tmp, n, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0600);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write_all(fd, text) != 0) {
        rc = err_set(err, ERR_IO, "writing '%s': %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(tmp);
    } else if (close(fd) != 0 || rename(tmp, path) != 0) {
        rc = err_set(err, ERR_IO, "writing '%s': %s", path,
                     strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

int local_persist(struct agent_local *l, char *err)
{
    json_t *st;
    char *text;
    int rc;

    if (l->state_path == NULL)
        return 0;
    st = state_json(l);
    text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(st);
    if (text == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    rc = write_file(l->state_path, text, err);
    memset(text, 0, strlen(text)); /* it holds secrets */
    free(text);
    if (rc != 0)
        err_prefix(err, "persisting local services and checks");
    return rc;
}

/* ---- loading ---- */

/* The IDs of a parsed service and of its checks go into keep. */
static void keep_ids(json_t *keep, const json_t *svc, const json_t *checks)
{
    const json_t *pair;
    size_t i;

    json_object_set_new(json_object_get(keep, "s"), sget(svc, "ID"),
                        json_true());
    json_array_foreach(checks, i, pair)
        json_object_set_new(json_object_get(keep, "c"),
                            sget(json_array_get(pair, 0), "CheckID"),
                            json_true());
}

/* The "token" of a canonical definition (NULL: none). */
static const char *def_token(const json_t *c)
{
    return json_string_value(json_object_get(c, "Token"));
}

/* keep: {"s":{}, "c":{}} to collect IDs (reload), or NULL. */
static int load_config_services(struct agent_local *l, const json_t *raw,
                                json_t *keep, char *err)
{
    json_t *list = json_object_get(raw, "services"), *def, *c;
    json_t *svc, *checks;
    size_t i;
    int rc = 0;

    json_array_foreach(list, i, def) {
        c = local_canon_service(def, err);
        rc = c == NULL ? ERR_INVAL
                       : local_def_service(l, c, true, &svc, &checks, err);
        if (rc == 0 && keep != NULL)
            keep_ids(keep, svc, checks);
        if (rc == 0)
            rc = local_add_service(l, svc, checks, true, keep != NULL,
                                   def_token(c), err);
        if (rc != 0)
            err_prefix(err, "service '%s'", c != NULL ? sget(c, "Name")
                                                      : sget(def, "name"));
        json_decref(c);
        if (rc != 0)
            return ERR_INVAL;
    }
    return 0;
}

static int load_config_checks(struct agent_local *l, const json_t *raw,
                              json_t *keep, char *err)
{
    json_t *list = json_object_get(raw, "checks"), *def, *c;
    json_t *chk, *rdef;
    size_t i;
    int rc = 0;

    json_array_foreach(list, i, def) {
        c = local_canon_check(def, err);
        rc = c == NULL ? ERR_INVAL
                       : local_def_check(l, c, true, &chk, &rdef, err);
        if (rc == 0 && keep != NULL)
            json_object_set_new(json_object_get(keep, "c"),
                                sget(chk, "CheckID"), json_true());
        if (rc == 0)
            rc = local_chk_put(l, chk, rdef, true, def_token(c), err);
        if (rc != 0)
            err_prefix(err, "check '%s'", c != NULL ? sget(c, "Name")
                                                    : sget(def, "name"));
        json_decref(c);
        if (rc != 0)
            return ERR_INVAL;
    }
    return 0;
}

/* Config services and checks that the new config no longer has. */
static void prune_config(struct agent_local *l, const json_t *keep)
{
    const json_t *ks = json_object_get(keep, "s");
    const json_t *kc = json_object_get(keep, "c");
    char err[ERR_LEN];

    for (size_t i = l->n_svcs; i-- > 0;) {
        const struct local_svc *s = l->svcs[i];

        if (s->from_config && !s->deleted &&
            json_object_get(ks, s->id) == NULL) {
            LOG_INFO("agent", "service '%s' left the config: removed",
                     s->id);
            local_remove_service(l, s->id);
        }
    }
    for (size_t i = l->n_chks; i-- > 0;) {
        const struct local_chk *c = l->chks[i];

        if (c->from_config && !c->deleted &&
            json_object_get(kc, c->id) == NULL)
            agent_local_deregister_check(l, c->id, err);
    }
}

int agent_local_reload(struct agent_local *l, const json_t *raw, char *err)
{
    json_t *keep = json_pack("{s:{}, s:{}}", "s", "c");
    int rc = load_config_services(l, raw, keep, err);

    if (rc == 0)
        rc = load_config_checks(l, raw, keep, err);
    if (rc == 0)
        prune_config(l, keep);
    json_decref(keep);
    if (local_persist(l, err) != 0)
        LOG_ERROR("agent", "%s", err);
    local_sync_kick(l);
    return rc;
}

static void restore_services(struct agent_local *l, const json_t *list)
{
    const json_t *e, *svc;
    size_t i;

    json_array_foreach(list, i, e) {
        svc = json_object_get(e, "Service");
        if (!json_is_object(svc) || *sget(svc, "ID") == '\0')
            continue;
        if (local_svc_get(l, sget(svc, "ID")) != NULL) {
            LOG_WARN("agent", "service '%s' exists in the config, not "
                     "restoring it from the state file", sget(svc, "ID"));
            continue;
        }
        if (local_svc_put(l, json_deep_copy(svc), false,
                          def_token(e)) == NULL)
            LOG_ERROR("agent", "restoring service '%s': out of memory",
                      sget(svc, "ID"));
    }
}

static void restore_check(struct agent_local *l, const json_t *e)
{
    const json_t *chk = json_object_get(e, "Check");
    const json_t *def = json_object_get(e, "Definition");
    const struct local_svc *s;
    const char *id = sget(chk, "CheckID"), *sid = sget(chk, "ServiceID");
    char err[ERR_LEN];
    json_t *c;

    if (*id == '\0' || local_chk_get(l, id) != NULL)
        return;
    s = *sid != '\0' ? local_svc_get(l, sid) : NULL;
    if (*sid != '\0' && (s == NULL || s->deleted)) {
        LOG_WARN("agent", "not restoring check '%s': its service '%s' is "
                 "gone", id, sid);
        return;
    }
    c = json_deep_copy(chk);
    if (json_is_object(def)) {
        /* A runner starts from the definition's initial status. */
        json_object_set_new(c, "Status", json_string(
            *sget(def, "Status") ? sget(def, "Status") : "critical"));
        json_object_set_new(c, "Output", json_string(""));
    }
    if (local_chk_put(l, c, json_is_object(def) ? json_deep_copy(def) : NULL,
                      false, def_token(e), err) != 0)
        LOG_ERROR("agent", "restoring check '%s': %s", id, err);
}

static void restore_ttl(struct agent_local *l, const json_t *ttl)
{
    const char *id;
    json_t *v;
    struct local_chk *c;
    char err[ERR_LEN];
    json_int_t exp;

    json_object_foreach((json_t *)ttl, id, v) {
        c = local_chk_get(l, id);
        exp = json_integer_value(json_object_get(v, "Expires"));
        if (c == NULL || c->deleted || !c->is_ttl || exp <= wall_ms())
            continue;
        if (checks_ttl_update(l->checks, id, sget(v, "Status"),
                              sget(v, "Output"), err) != 0) {
            LOG_WARN("agent", "restoring the state of check '%s': %s", id,
                     err);
            continue;
        }
        local_chk_status(l, c, sget(v, "Status"), sget(v, "Output"));
        c->ttl_expires = (uint64_t)exp;
    }
}

static void set_aside(const char *path)
{
    size_t n = strlen(path) + 8;
    char *bad = malloc(n);

    if (bad == NULL)
        return;
    snprintf(bad, n, "%s.bad", path);
    if (rename(path, bad) != 0)
        LOG_ERROR("agent", "renaming '%s': %s", path, strerror(errno));
    free(bad);
}

static void load_state(struct agent_local *l)
{
    json_error_t jerr;
    json_t *root, *e;
    size_t i;

    if (l->state_path == NULL || access(l->state_path, F_OK) != 0)
        return;
    root = json_load_file(l->state_path, 0, &jerr);
    if (!json_is_object(root)) {
        LOG_ERROR("agent", "ignoring '%s' (set aside as .bad): %s",
                  l->state_path, root == NULL ? jerr.text : "not an object");
        json_decref(root);
        set_aside(l->state_path);
        return;
    }
    restore_services(l, json_object_get(root, "Services"));
    json_array_foreach(json_object_get(root, "Checks"), i, e)
        restore_check(l, e);
    restore_ttl(l, json_object_get(root, "TTLState"));
    json_decref(root);
}

int local_load(struct agent_local *l, char *err)
{
    if (load_config_services(l, l->a->cfg.raw, NULL, err) != 0 ||
        load_config_checks(l, l->a->cfg.raw, NULL, err) != 0)
        return ERR_INVAL;
    load_state(l);
    return 0;
}

/* agent_local.c - the agent's local services and checks: records, the
 * changes of the agent API, runner updates, views, start and close.
 *
 * Layer: agent (uses util, codec, replication, checks). Thread: loop only.
 * Owns: struct agent_local and every record (see agent_local_int.h).
 * Tests: t/t2102-agent-services.sh
 */
#include "agent_local_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "opt.h"

#define DEFAULT_SVC_MAINT "Maintenance mode is enabled for this service, " \
    "but no reason was provided. This is a default message."
#define DEFAULT_NODE_MAINT "Maintenance mode is enabled for this node, " \
    "but no reason was provided. This is a default message."

/* ---- record arrays (sorted by id) ---- */

/* Index of id in a sorted array of records whose first member is the
 * id, or the insertion point (negative - 1). */
#define FIND(arr, n, key, out)                                          \
    do {                                                                \
        size_t lo_ = 0, hi_ = (n);                                      \
        (out) = -1 - (long)(n);                                         \
        while (lo_ < hi_) {                                             \
            size_t mid_ = (lo_ + hi_) / 2;                              \
            int c_ = strcmp((arr)[mid_]->id, (key));                    \
            if (c_ == 0) {                                              \
                (out) = (long)mid_;                                     \
                break;                                                  \
            }                                                           \
            if (c_ < 0)                                                 \
                lo_ = mid_ + 1;                                         \
            else                                                        \
                hi_ = mid_;                                             \
            (out) = -1 - (long)lo_;                                     \
        }                                                               \
    } while (0)

static long svc_index(struct agent_local *l, const char *id)
{
    long i;

    FIND(l->svcs, l->n_svcs, id, i);
    return i;
}

static long chk_index(struct agent_local *l, const char *id)
{
    long i;

    FIND(l->chks, l->n_chks, id, i);
    return i;
}

struct local_svc *local_svc_get(struct agent_local *l, const char *id)
{
    long i = svc_index(l, id);

    return i >= 0 ? l->svcs[i] : NULL;
}

struct local_chk *local_chk_get(struct agent_local *l, const char *id)
{
    long i = chk_index(l, id);

    return i >= 0 ? l->chks[i] : NULL;
}

static int grow(void ***arr, size_t *cap, size_t n)
{
    void **p;
    size_t nc;

    if (n < *cap)
        return 0;
    nc = *cap ? *cap * 2 : 16;
    p = realloc(*arr, nc * sizeof(*p));
    if (p == NULL)
        return ERR_NOMEM;
    *arr = p;
    *cap = nc;
    return 0;
}

void local_token_free(char *token)
{
    if (token == NULL)
        return;
    memset(token, 0, strlen(token));
    free(token);
}

int local_token_set(char **slot, const char *token)
{
    char *t = NULL;

    if (token != NULL && *token != '\0' && (t = strdup(token)) == NULL) {
        local_token_free(*slot);
        *slot = NULL;
        return ERR_NOMEM;
    }
    local_token_free(*slot);
    *slot = t;
    return 0;
}

/* local_token_set; out of memory leaves the record without a token
 * (anti-entropy then falls back to the agent's default token). */
static void token_put(char **slot, const char *token, const char *what,
                      const char *id)
{
    if (local_token_set(slot, token) != 0)
        LOG_ERROR("agent", "%s '%s': out of memory for its token", what,
                  id);
}

/* Same secret (NULL and "" are none)? */
static bool token_eq(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static void svc_free(struct local_svc *s)
{
    if (s == NULL)
        return;
    json_decref(s->svc);
    local_token_free(s->token);
    free(s->id);
    free(s);
}

static void chk_free(struct local_chk *c)
{
    if (c == NULL)
        return;
    json_decref(c->chk);
    json_decref(c->def);
    local_token_free(c->token);
    free(c->id);
    free(c);
}

void local_svc_drop(struct agent_local *l, const char *id)
{
    long i = svc_index(l, id);

    if (i < 0)
        return;
    svc_free(l->svcs[i]);
    memmove(&l->svcs[i], &l->svcs[i + 1],
            (l->n_svcs - (size_t)i - 1) * sizeof(*l->svcs));
    l->n_svcs--;
}

void local_chk_drop(struct agent_local *l, const char *id)
{
    long i = chk_index(l, id);

    if (i < 0)
        return;
    if (l->chks[i]->def != NULL && !l->chks[i]->deleted)
        checks_remove(l->checks, id);
    chk_free(l->chks[i]);
    memmove(&l->chks[i], &l->chks[i + 1],
            (l->n_chks - (size_t)i - 1) * sizeof(*l->chks));
    l->n_chks--;
}

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

/* The service's name and tags changed: its checks follow. */
static void checks_follow(struct agent_local *l, const struct local_svc *s)
{
    for (size_t i = 0; i < l->n_chks; i++) {
        struct local_chk *c = l->chks[i];

        if (c->deleted || strcmp(sget(c->chk, "ServiceID"), s->id) != 0)
            continue;
        json_object_set(c->chk, "ServiceName",
                        json_object_get(s->svc, "Service"));
        json_object_set_new(c->chk, "ServiceTags",
                            json_deep_copy(json_object_get(s->svc, "Tags")));
    }
}

struct local_svc *local_svc_put(struct agent_local *l, json_t *svc,
                                bool from_config, const char *token)
{
    const char *id = sget(svc, "ID");
    long i = svc_index(l, id);
    struct local_svc *s;

    if (i >= 0 && !l->svcs[i]->deleted &&
        json_equal(l->svcs[i]->svc, svc) &&
        token_eq(l->svcs[i]->token, token)) {
        /* Unchanged: nothing to sync. */
        l->svcs[i]->from_config = from_config;
        json_decref(svc);
        return l->svcs[i];
    }
    if (i >= 0) {
        s = l->svcs[i];
        json_decref(s->svc);
    } else {
        s = calloc(1, sizeof(*s));
        if (s == NULL || (s->id = strdup(id)) == NULL ||
            grow((void ***)&l->svcs, &l->cap_svcs, l->n_svcs) != 0) {
            svc_free(s);
            json_decref(svc);
            return NULL;
        }
        i = -1 - i;
        memmove(&l->svcs[i + 1], &l->svcs[i],
                (l->n_svcs - (size_t)i) * sizeof(*l->svcs));
        l->svcs[i] = s;
        l->n_svcs++;
    }
    s->svc = svc;
    token_put(&s->token, token, "service", s->id);
    s->from_config = from_config;
    s->deleted = false;
    s->in_sync = false;
    s->gen++;
    checks_follow(l, s);
    return s;
}

static uint64_t now_ms(struct agent_local *l)
{
    return uv_now(l->a->loop);
}

static int64_t dereg_after(const json_t *def)
{
    const char *s = sget(def, "DeregisterCriticalServiceAfter");
    int64_t ms = 0;

    if (*s == '\0' || opt_parse_duration(s, false, &ms) != 0 || ms < 0)
        return 0;
    return ms;
}

static struct local_chk *chk_slot(struct agent_local *l, const char *id)
{
    long i = chk_index(l, id);
    struct local_chk *c;

    if (i >= 0)
        return l->chks[i];
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->id = strdup(id)) == NULL ||
        grow((void ***)&l->chks, &l->cap_chks, l->n_chks) != 0) {
        chk_free(c);
        return NULL;
    }
    i = -1 - i;
    memmove(&l->chks[i + 1], &l->chks[i],
            (l->n_chks - (size_t)i) * sizeof(*l->chks));
    l->chks[i] = c;
    l->n_chks++;
    return c;
}

/* A live check c re-registered as chk/def: as Consul, it keeps its
 * state. True when nothing else changed. */
static bool chk_same(struct local_chk *c, json_t *chk, const json_t *def)
{
    json_object_set(chk, "Status", json_object_get(c->chk, "Status"));
    json_object_set(chk, "Output", json_object_get(c->chk, "Output"));
    return json_equal(c->chk, chk) &&
           (c->def == def || (c->def != NULL && def != NULL &&
                              json_equal(c->def, def)));
}

int local_chk_put(struct agent_local *l, json_t *chk, json_t *def,
                  bool from_config, const char *token, char *err)
{
    const char *id = sget(chk, "CheckID");
    struct local_chk *c = chk_slot(l, id);
    bool had_runner, carried = false;
    int rc;

    if (c == NULL) {
        json_decref(chk);
        json_decref(def);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    had_runner = c->def != NULL && !c->deleted;
    carried = c->chk != NULL && !c->deleted;
    if (carried && chk_same(c, chk, def)) {
        /* Unchanged: the runner and the sync state stay; a new token
         * alone is written with it again. */
        c->from_config = from_config;
        json_decref(chk);
        json_decref(def);
        if (!token_eq(c->token, token)) {
            token_put(&c->token, token, "check", c->id);
            c->in_sync = false;
            c->gen++;
        }
        return 0;
    }
    if (!carried)
        c->critical_since = 0;
    json_decref(c->chk);
    json_decref(c->def);
    c->chk = chk;
    c->def = def;
    token_put(&c->token, token, "check", c->id);
    c->from_config = from_config;
    c->deleted = false;
    c->in_sync = false;
    c->output_due = 0;
    c->gen++;
    c->is_ttl = def != NULL && *sget(def, "TTL") != '\0';
    c->dereg_after_ms = def != NULL ? dereg_after(def) : 0;
    if (strcmp(sget(chk, "Status"), "critical") != 0)
        c->critical_since = 0;
    else if (c->critical_since == 0)
        c->critical_since = now_ms(l);
    if (def == NULL) {
        if (had_runner)
            checks_remove(l->checks, id);
        return 0;
    }
    /* The runner announces its initial status at once: not over a
     * state carried over. */
    l->quiet_id = carried ? c->id : NULL;
    rc = checks_add(l->checks, id, def, from_config, err);
    l->quiet_id = NULL;
    if (rc != 0)
        local_chk_drop(l, id);
    return rc;
}

/* ---- runner updates ---- */

void local_chk_status(struct agent_local *l, struct local_chk *c,
                      const char *status, const char *output)
{
    bool changed = strcmp(sget(c->chk, "Status"), status) != 0;

    if (!changed && strcmp(sget(c->chk, "Output"), output) == 0)
        return;
    json_object_set_new(c->chk, "Output", json_string(output));
    c->gen++;
    if (!changed) {
        /* Output alone: Consul defers it (check_update_interval). */
        if (c->in_sync && c->output_due == 0)
            c->output_due = now_ms(l) + 5 * 60 * 1000;
        return;
    }
    json_object_set_new(c->chk, "Status", json_string(status));
    c->critical_since = strcmp(status, "critical") == 0 ? now_ms(l) : 0;
    c->in_sync = false;
    c->output_due = 0;
    local_sync_kick(l);
}

static void on_check_update(void *ctx, const char *id, const char *status,
                            const char *output)
{
    struct agent_local *l = ctx;
    struct local_chk *c;

    if (l->closing || (c = local_chk_get(l, id)) == NULL || c->deleted ||
        (l->quiet_id != NULL && strcmp(l->quiet_id, id) == 0))
        return;
    local_chk_status(l, c, status, output != NULL ? output : "");
}

/* ---- changes ---- */

static void persist_logged(struct agent_local *l)
{
    char err[ERR_LEN];

    if (local_persist(l, err) != 0)
        LOG_ERROR("agent", "%s", err);
}

static int persist_rc(struct agent_local *l, char *err)
{
    return local_persist(l, err);
}

/* Checks of service sid that are not in keep (an array of pairs). */
static void drop_missing_checks(struct agent_local *l, const char *sid,
                                const json_t *keep)
{
    for (size_t i = l->n_chks; i-- > 0;) {
        struct local_chk *c = l->chks[i];
        bool found = false;
        size_t k;
        json_t *pair;

        if (c->deleted || strcmp(sget(c->chk, "ServiceID"), sid) != 0 ||
            strncmp(c->id, LOCAL_MAINT_SVC, strlen(LOCAL_MAINT_SVC)) == 0)
            continue;
        json_array_foreach(keep, k, pair)
            if (strcmp(sget(json_array_get(pair, 0), "CheckID"), c->id) == 0)
                found = true;
        if (!found)
            local_chk_drop(l, c->id);
    }
}

int local_add_service(struct agent_local *l, json_t *svc, json_t *checks,
                      bool from_config, bool replace, const char *token,
                      char *err)
{
    struct local_svc *s = local_svc_put(l, svc, from_config, token);
    json_t *pair;
    size_t i;
    int rc = 0;

    if (s == NULL) {
        json_decref(checks);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (replace)
        drop_missing_checks(l, s->id, checks);
    json_array_foreach(checks, i, pair) {
        rc = local_chk_put(l, json_incref(json_array_get(pair, 0)),
                           json_incref(json_array_get(pair, 1)), from_config,
                           token, err);
        if (rc != 0)
            break;
    }
    json_decref(checks);
    local_sync_kick(l);
    return rc;
}

int agent_local_register_service(struct agent_local *l, const json_t *def,
                                 bool replace_existing_checks,
                                 const char *token, char *err)
{
    json_t *c = local_canon_service(def, err), *svc, *checks;
    int rc;

    if (c == NULL)
        return ERR_INVAL;
    rc = local_def_service(l, c, false, &svc, &checks, err);
    json_decref(c);
    if (rc != 0)
        return rc;
    rc = local_add_service(l, svc, checks, false, replace_existing_checks,
                           token, err);
    if (rc != 0) {
        persist_logged(l);
        return rc;
    }
    return persist_rc(l, err);
}

static int unknown_service(const char *id, char *err)
{
    char q[ERR_QUOTE_MAX + 4];

    return err_set(err, ERR_NOTFOUND, "Unknown service ID \"%s\". Ensure "
                   "that the service ID is passed, not the service name.",
                   err_quote(q, sizeof(q), id));
}

static int unknown_check(const char *id, char *err)
{
    char q[ERR_QUOTE_MAX + 4];

    return err_set(err, ERR_NOTFOUND, "Unknown check ID \"%s\". Ensure "
                   "that the check ID is passed, not the check name.",
                   err_quote(q, sizeof(q), id));
}

/* Tombstone a service and forget its checks (the catalog drops them with
 * the service). */
void local_remove_service(struct agent_local *l, const char *id)
{
    struct local_svc *s = local_svc_get(l, id);

    if (s == NULL || s->deleted)
        return;
    for (size_t i = l->n_chks; i-- > 0;)
        if (strcmp(sget(l->chks[i]->chk, "ServiceID"), id) == 0)
            local_chk_drop(l, l->chks[i]->id);
    s->deleted = true;
    s->in_sync = false;
    s->gen++;
    local_sync_kick(l);
}

int agent_local_deregister_service(struct agent_local *l, const char *id,
                                   char *err)
{
    struct local_svc *s = local_svc_get(l, id);

    if (s == NULL || s->deleted)
        return unknown_service(id, err);
    local_remove_service(l, id);
    LOG_DEBUG("agent", "removed service '%s'", id);
    return persist_rc(l, err);
}

int agent_local_register_check(struct agent_local *l, const json_t *def,
                               const char *token, char *err)
{
    json_t *c = local_canon_check(def, err), *chk, *rdef;
    int rc;

    if (c == NULL)
        return ERR_INVAL;
    rc = local_def_check(l, c, false, &chk, &rdef, err);
    json_decref(c);
    if (rc != 0)
        return rc;
    rc = local_chk_put(l, chk, rdef, false, token, err);
    local_sync_kick(l);
    if (rc != 0)
        return rc;
    return persist_rc(l, err);
}

static void tombstone_check(struct agent_local *l, struct local_chk *c)
{
    if (c->def != NULL)
        checks_remove(l->checks, c->id);
    c->deleted = true;
    c->in_sync = false;
    c->gen++;
    local_sync_kick(l);
}

int agent_local_deregister_check(struct agent_local *l, const char *id,
                                 char *err)
{
    struct local_chk *c = local_chk_get(l, id);

    if (c == NULL || c->deleted)
        return unknown_check(id, err);
    tombstone_check(l, c);
    return persist_rc(l, err);
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agent_local_update_ttl(struct agent_local *l, const char *id,
                           const char *status, const char *output,
                           char *err)
{
    struct local_chk *c = local_chk_get(l, id);
    char q[ERR_QUOTE_MAX + 4], msg[ERR_LEN];
    char *cut;
    int64_t ttl = 0;

    if (c == NULL || c->deleted)
        return unknown_check(id, err);
    if (!c->is_ttl)
        return err_set(err, ERR_UNSUPPORTED, "CheckID \"%s\" does not have "
                       "associated TTL", err_quote(q, sizeof(q), id));
    cut = local_cut_output(output != NULL ? output : "");
    if (cut == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (checks_ttl_update(l->checks, id, status, cut, msg) != 0) {
        free(cut);
        return err_set(err, ERR_UNSUPPORTED, "CheckID \"%s\" does not "
                       "have associated TTL", err_quote(q, sizeof(q), id));
    }
    local_chk_status(l, c, status, cut);
    free(cut);
    opt_parse_duration(sget(c->def, "TTL"), false, &ttl);
    c->ttl_expires = (uint64_t)(wall_ms() + ttl);
    return persist_rc(l, err);
}

int agent_local_service_maintenance(struct agent_local *l, const char *id,
                                    bool enable, const char *reason,
                                    char *err)
{
    struct local_svc *s = local_svc_get(l, id);
    char cid[700];
    struct local_chk *c;
    int rc;

    if (s == NULL || s->deleted)
        return unknown_service(id, err);
    snprintf(cid, sizeof(cid), "%s%s", LOCAL_MAINT_SVC, id);
    c = local_chk_get(l, cid);
    if (enable == (c != NULL && !c->deleted))
        return 0;
    if (!enable) {
        tombstone_check(l, c);
        LOG_INFO("agent", "Service left maintenance mode: service='%s'", id);
        return persist_rc(l, err);
    }
    rc = local_chk_put(l, local_maint_check(l, cid, s,
                                            reason != NULL && *reason
                                                ? reason : DEFAULT_SVC_MAINT),
                       NULL, false, NULL, err);
    if (rc != 0)
        return rc;
    LOG_INFO("agent", "Service entered maintenance mode: service='%s'", id);
    local_sync_kick(l);
    return persist_rc(l, err);
}

void agent_local_node_maintenance(struct agent_local *l, bool enable,
                                  const char *reason)
{
    struct local_chk *c = local_chk_get(l, LOCAL_MAINT_NODE);
    char err[ERR_LEN];

    if (enable == (c != NULL && !c->deleted))
        return;
    if (!enable) {
        tombstone_check(l, c);
        LOG_INFO("agent", "Node left maintenance mode");
    } else {
        if (local_chk_put(l, local_maint_check(l, LOCAL_MAINT_NODE, NULL,
                                               reason != NULL && *reason
                                                   ? reason
                                                   : DEFAULT_NODE_MAINT),
                          NULL, false, NULL, err) != 0) {
            LOG_ERROR("agent", "node maintenance: %s", err);
            return;
        }
        LOG_INFO("agent", "Node entered maintenance mode");
        local_sync_kick(l);
    }
    persist_logged(l);
}

/* ---- views ---- */

static json_t *agent_service(struct agent_local *l, const struct local_svc *s)
{
    const json_t *v = s->svc, *ta = json_object_get(v, "TaggedAddresses");
    json_t *o = json_object();

    if (json_object_get(v, "Kind") != NULL)
        json_object_set(o, "Kind", json_object_get(v, "Kind"));
    json_object_set(o, "ID", json_object_get(v, "ID"));
    json_object_set(o, "Service", json_object_get(v, "Service"));
    json_object_set_new(o, "Tags", json_deep_copy(json_object_get(v,
                                                                  "Tags")));
    json_object_set_new(o, "Meta", json_deep_copy(json_object_get(v,
                                                                  "Meta")));
    json_object_set(o, "Port", json_object_get(v, "Port"));
    json_object_set(o, "Address", json_object_get(v, "Address"));
    if (json_object_get(v, "SocketPath") != NULL)
        json_object_set(o, "SocketPath", json_object_get(v, "SocketPath"));
    if (json_object_size(ta) > 0)
        json_object_set_new(o, "TaggedAddresses", json_deep_copy(ta));
    json_object_set_new(o, "Weights", json_deep_copy(json_object_get(v,
                                                                 "Weights")));
    json_object_set(o, "EnableTagOverride",
                    json_object_get(v, "EnableTagOverride"));
    if (json_object_get(v, "Proxy") != NULL)
        json_object_set_new(o, "Proxy",
                            json_deep_copy(json_object_get(v, "Proxy")));
    if (json_object_get(v, "Connect") != NULL)
        json_object_set_new(o, "Connect",
                            json_deep_copy(json_object_get(v, "Connect")));
    json_object_set_new(o, "Datacenter", json_string(l->a->cfg.datacenter));
    return o;
}

json_t *agent_local_services(struct agent_local *l)
{
    json_t *m = json_object();

    for (size_t i = 0; i < l->n_svcs; i++)
        if (!l->svcs[i]->deleted)
            json_object_set_new(m, l->svcs[i]->id,
                                agent_service(l, l->svcs[i]));
    return m;
}

json_t *agent_local_service(struct agent_local *l, const char *id)
{
    struct local_svc *s = local_svc_get(l, id);

    return s != NULL && !s->deleted ? agent_service(l, s) : NULL;
}

json_t *agent_local_checks(struct agent_local *l)
{
    json_t *m = json_object(), *c;

    for (size_t i = 0; i < l->n_chks; i++) {
        if (l->chks[i]->deleted)
            continue;
        c = json_deep_copy(l->chks[i]->chk);
        json_object_set_new(c, "ExposedPort", json_integer(0));
        json_object_set_new(c, "Definition", json_object());
        json_object_set_new(c, "CreateIndex", json_integer(0));
        json_object_set_new(c, "ModifyIndex", json_integer(0));
        json_object_set_new(m, l->chks[i]->id, c);
    }
    return m;
}

void agent_local_stats(struct agent_local *l, struct agent_local_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < l->n_svcs; i++)
        st->services += !l->svcs[i]->deleted;
    for (size_t i = 0; i < l->n_chks; i++) {
        const struct local_chk *c = l->chks[i];

        if (c->deleted)
            continue;
        st->checks++;
        st->check_ttls += c->is_ttl;
        st->check_monitors += strcmp(sget(c->chk, "Type"), "script") == 0;
    }
}

/* ---- start and close ---- */

static void free_all(struct agent_local *l)
{
    for (size_t i = 0; i < l->n_svcs; i++)
        svc_free(l->svcs[i]);
    for (size_t i = 0; i < l->n_chks; i++)
        chk_free(l->chks[i]);
    free(l->svcs);
    free(l->chks);
    json_decref(l->ops);
    json_decref(l->cat_node);
    free(l->state_path);
    free(l);
}

void local_close_step(void *ctx)
{
    struct agent_local *l = ctx;
    agent_local_closed_fn cb;
    void *cb_ctx;

    if (--l->close_pending > 0)
        return;
    cb = l->closed_cb;
    cb_ctx = l->closed_ctx;
    if (l->a->local == l)
        l->a->local = NULL;
    free_all(l);
    if (cb != NULL)
        cb(cb_ctx);
}

void agent_local_close(struct agent_local *l, agent_local_closed_fn cb,
                       void *ctx)
{
    if (l->closing)
        return;
    l->closing = true;
    l->closed_cb = cb;
    l->closed_ctx = ctx;
    l->close_pending = 1;
    local_sync_close(l);
    if (l->checks != NULL) {
        l->close_pending++;
        checks_close(l->checks, local_close_step, l);
        l->checks = NULL;
    }
    local_close_step(l);
}

int agent_local_start(struct agent *a, char *err)
{
    struct agent_local *l = calloc(1, sizeof(*l));
    struct checks_opts o;
    size_t n;

    if (l == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    l->a = a;
    memset(&o, 0, sizeof(o));
    o.enable_script_checks = a->cfg.enable_script_checks;
    o.enable_local_script_checks = a->cfg.enable_local_script_checks;
    l->checks = checks_new(a->loop, &o, on_check_update, l, err);
    if (l->checks == NULL) {
        free(l);
        return ERR_NOMEM;
    }
    if (!a->cfg.dev) {
        n = strlen(a->data_dir) + sizeof("/local-state.json");
        l->state_path = malloc(n);
        if (l->state_path != NULL)
            snprintf(l->state_path, n, "%s/local-state.json", a->data_dir);
    }
    a->local = l; /* from here on agent_stop closes it */
    if (local_load(l, err) != 0)
        return ERR_INVAL;
    return local_sync_start(l, err);
}

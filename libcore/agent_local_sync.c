/* agent_local_sync.c - anti-entropy: the catalog's view of this node
 * follows the local services and checks (see agent_local.h).
 *
 * Layer: agent. Thread: loop only.
 * Owns: the sync timer, the one catalog call in flight and the queue of
 * operations (l->ops, jansson: {"kind","method","path","body",marks}).
 * One sync at a time: a full one reads the catalog first ("get-node",
 * "get-checks") then queues the writes its diff finds; a partial one
 * queues writes for what the local flags say is out of sync. A write
 * marks records in sync only if their gen did not move meanwhile; any
 * failure drops the rest of the queue and retries after a backoff.
 * The timer ticks at least once a second while running: it polls for a
 * leader (a server, on a client) appearing or changing, runs the
 * DeregisterCriticalServiceAfter reaper every 30 s and releases deferred
 * check outputs.
 * Tokens: an op carries none; send_next picks the secret of the record
 * its kind and mark name (op_token), so no secret sits in l->ops or
 * reaches a log line. A write refused with 403 is "blocked by ACLs":
 * logged, its records counted in sync, and the queue goes on.
 * Tests: t/t2102-agent-services.sh, t/t3004-acl-anti-entropy.sh
 */
#include "agent_local_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "opt.h"

#define DEBOUNCE_MS 100
#define TICK_MS 1000
#define FULL_MS 60000
#define STAGGER_MS 10000
#define REAP_MS 30000
#define REAP_MIN_MS 60000
#define CALL_MS 15000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 15000
#define WARN_EVERY_MS 60000

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

static uint64_t now(struct agent_local *l)
{
    return uv_now(l->a->loop);
}

/* Where catalog calls go: the leader (servers), any server (clients). */
static const char *target(struct agent_local *l)
{
    if (l->a->has_raft)
        return agent_leader(l->a);
    return agent_pick_server(l->a, NULL);
}

static void on_timer(uv_timer_t *t);

static void arm(struct agent_local *l)
{
    uint64_t n = now(l), delay = TICK_MS, d;

    if (!l->timer_on || l->closing)
        return;
    /* While a sync runs, its end re-arms: a 0 ms timer here would spin
     * (libuv runs it again before any I/O, so the call never ends). */
    if (l->change_due != 0 && !l->busy) {
        d = l->change_due > n ? l->change_due - n : 0;
        if (l->retry_at > n && l->retry_at - n > d)
            d = l->retry_at - n;
        if (d < delay)
            delay = d;
    }
    uv_timer_start(&l->timer, on_timer, delay > 0 ? delay : 1, 0);
}

void local_sync_kick(struct agent_local *l)
{
    if (l->closing)
        return;
    if (l->change_due == 0)
        l->change_due = now(l) + DEBOUNCE_MS;
    arm(l);
}

/* ---- tokens ---- */

static const char *fallback_token(struct agent_local *l, bool from_config)
{
    const char *t = from_config
        ? agent_token(l->a, AGENT_TOKEN_CFG_REGISTRATION) : NULL;

    return t != NULL ? t : agent_token(l->a, AGENT_TOKEN_DEFAULT);
}

const char *local_svc_token(struct agent_local *l,
                            const struct local_svc *s)
{
    if (s != NULL && s->token != NULL)
        return s->token;
    return fallback_token(l, s != NULL && s->from_config);
}

const char *local_chk_token(struct agent_local *l,
                            const struct local_chk *c)
{
    const struct local_svc *s;

    if (c == NULL)
        return fallback_token(l, false);
    if (c->token != NULL)
        return c->token;
    s = local_svc_get(l, sget(c->chk, "ServiceID"));
    if (s != NULL && s->token != NULL)
        return s->token;
    return fallback_token(l, c->from_config);
}

static bool same_token(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* ---- request bodies ---- */

static bool is_v4(const char *s)
{
    unsigned char b[4];

    return inet_pton(AF_INET, s, b) == 1;
}

static json_t *node_tagged(struct agent_local *l)
{
    const char *lan = l->a->advertise;
    const char *wan = l->a->cfg.advertise_addr_wan != NULL &&
                              l->a->cfg.advertise_addr_wan[0] != '\0'
                          ? l->a->cfg.advertise_addr_wan : lan;
    json_t *t = json_object();

    json_object_set_new(t, "lan", json_string(lan));
    if (is_v4(lan))
        json_object_set_new(t, "lan_ipv4", json_string(lan));
    json_object_set_new(t, "wan", json_string(wan));
    if (is_v4(wan))
        json_object_set_new(t, "wan_ipv4", json_string(wan));
    return t;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *node_meta(struct agent_local *l)
{
    const struct cfg *c = &l->a->cfg;
    json_t *m = json_object(), *out = json_object();
    const char **keys;
    const char *k;
    json_t *v;
    size_t n = 0;

    json_object_set_new(m, "consul-network-segment", json_string(""));
    for (int i = 0; i < c->n_node_meta; i++)
        json_object_set_new(m, c->node_meta_keys[i],
                            json_string(c->node_meta_vals[i]));
    keys = calloc(json_object_size(m) + 1, sizeof(*keys));
    if (keys == NULL)
        return m;
    json_object_foreach(m, k, v)
        keys[n++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str);
    for (size_t i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(m, keys[i]));
    free(keys);
    json_decref(m);
    return out;
}

/* RegisterRequest with the node fields. */
static json_t *reg_base(struct agent_local *l)
{
    struct agent *a = l->a;

    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}",
                     "Datacenter", a->cfg.datacenter, "ID", a->node_id,
                     "Node", a->cfg.node_name, "Address", a->advertise,
                     "TaggedAddresses", node_tagged(l), "NodeMeta",
                     node_meta(l));
}

static void add_op(json_t *ops, const char *kind, const char *method,
                   const char *path, json_t *body /* takes */)
{
    json_t *op = json_pack("{s:s, s:s, s:s}", "kind", kind, "method", method,
                           "path", path);

    if (body != NULL)
        json_object_set_new(op, "body", body);
    json_array_append_new(ops, op);
}

static json_t *mark(const char *id, uint64_t gen)
{
    return json_pack("[s, I]", id, (json_int_t)gen);
}

static void add_dereg(struct agent_local *l, json_t *ops, const char *field,
                      const char *id, uint64_t gen)
{
    json_t *b = json_pack("{s:s, s:s, s:s}", "Datacenter",
                          l->a->cfg.datacenter, "Node", l->a->cfg.node_name,
                          field, id);
    add_op(ops, strcmp(field, "ServiceID") == 0 ? "dereg-svc" : "dereg-chk",
           "PUT", "/v1/catalog/deregister", b);
    json_object_set_new(json_array_get(ops, json_array_size(ops) - 1),
                        "mark", mark(id, gen));
}

/* A service with every live check of it written with the same token
 * (as Consul: a check never rides on another token's rights); their
 * IDs go into covered. */
static void add_service_reg(struct agent_local *l, json_t *ops,
                            struct local_svc *s, json_t *covered)
{
    json_t *b = reg_base(l), *list = json_array(), *marks = json_array();
    const char *tok = local_svc_token(l, s);
    json_t *op;

    json_object_set(b, "Service", s->svc);
    for (size_t i = 0; i < l->n_chks; i++) {
        struct local_chk *c = l->chks[i];

        if (c->deleted || strcmp(sget(c->chk, "ServiceID"), s->id) != 0 ||
            !same_token(local_chk_token(l, c), tok))
            continue;
        json_array_append(list, c->chk);
        json_array_append_new(marks, mark(c->id, c->gen));
        json_object_set_new(covered, c->id, json_true());
    }
    json_object_set_new(b, "Checks", list);
    if (l->node_in_sync)
        json_object_set_new(b, "SkipNodeUpdate", json_true());
    add_op(ops, "reg-svc", "PUT", "/v1/catalog/register", b);
    op = json_array_get(ops, json_array_size(ops) - 1);
    json_object_set_new(op, "mark", mark(s->id, s->gen));
    json_object_set_new(op, "checks", marks);
}

static void add_check_reg(struct agent_local *l, json_t *ops,
                          struct local_chk *c)
{
    json_t *b = reg_base(l);
    struct local_svc *s = local_svc_get(l, sget(c->chk, "ServiceID"));

    json_object_set(b, "Check", c->chk);
    if (s != NULL && !s->deleted)
        json_object_set(b, "Service", s->svc);
    if (l->node_in_sync)
        json_object_set_new(b, "SkipNodeUpdate", json_true());
    add_op(ops, "reg-chk", "PUT", "/v1/catalog/register", b);
    json_object_set_new(json_array_get(ops, json_array_size(ops) - 1),
                        "mark", mark(c->id, c->gen));
}

/* The writes the local flags call for, in Consul's order: deletions
 * (a tombstone in sync is one whose deregistration ACLs blocked), node,
 * services (with their checks), remaining checks. */
static void build_ops(struct agent_local *l, json_t *ops)
{
    json_t *covered = json_object();

    for (size_t i = 0; i < l->n_svcs; i++)
        if (l->svcs[i]->deleted && !l->svcs[i]->in_sync)
            add_dereg(l, ops, "ServiceID", l->svcs[i]->id, l->svcs[i]->gen);
    for (size_t i = 0; i < l->n_chks; i++)
        if (l->chks[i]->deleted && !l->chks[i]->in_sync)
            add_dereg(l, ops, "CheckID", l->chks[i]->id, l->chks[i]->gen);
    if (!l->node_in_sync)
        add_op(ops, "node", "PUT", "/v1/catalog/register", reg_base(l));
    for (size_t i = 0; i < l->n_svcs; i++) {
        struct local_svc *s = l->svcs[i];

        if (!s->deleted && !s->in_sync)
            add_service_reg(l, ops, s, covered);
    }
    for (size_t i = 0; i < l->n_chks; i++) {
        struct local_chk *c = l->chks[i];

        if (c->deleted || c->in_sync ||
            json_object_get(covered, c->id) != NULL)
            continue;
        add_check_reg(l, ops, c);
    }
    json_decref(covered);
}

/* ---- comparing with the catalog ---- */

static bool empty_ish(const json_t *v)
{
    return v == NULL || json_is_null(v) || json_is_false(v) ||
           (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0) ||
           (json_is_string(v) && json_string_length(v) == 0) ||
           (json_is_integer(v) && json_integer_value(v) == 0);
}

static const json_t *get_ci(const json_t *o, const char *key)
{
    const char *k;
    json_t *v;

    if (json_object_get(o, key) != NULL)
        return json_object_get(o, key);
    json_object_foreach((json_t *)o, k, v)
        if (strcasecmp(k, key) == 0)
            return v;
    return NULL;
}

/* Equal up to null/empty and the case of object keys. */
static bool loose_eq(const json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;
    size_t i;

    if (empty_ish(a) && empty_ish(b))
        return true;
    if (json_is_object(a) && json_is_object(b)) {
        json_object_foreach((json_t *)a, k, v)
            if (!loose_eq(v, get_ci(b, k)))
                return false;
        json_object_foreach((json_t *)b, k, v)
            if (get_ci(a, k) == NULL && !empty_ish(v))
                return false;
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        json_array_foreach(a, i, v)
            if (!loose_eq(v, json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return a != NULL && b != NULL && json_equal((json_t *)a, (json_t *)b);
}

/* Keys of local that the catalog has are equal (a key the catalog does
 * not keep at all is not ours to fight over). */
static bool same_fields(const json_t *local, const json_t *cat,
                        const char *const *only)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)local, k, v) {
        bool wanted = only == NULL;

        for (size_t i = 0; only != NULL && only[i] != NULL; i++)
            wanted |= strcmp(only[i], k) == 0;
        if (wanted && get_ci(cat, k) != NULL && !loose_eq(v, get_ci(cat, k)))
            return false;
    }
    return true;
}

static bool node_same(struct agent_local *l, const json_t *node)
{
    json_t *t = node_tagged(l), *m = node_meta(l);
    bool same = strcmp(sget(node, "Address"), l->a->advertise) == 0 &&
                loose_eq(t, get_ci(node, "TaggedAddresses")) &&
                loose_eq(m, get_ci(node, "Meta")) &&
                (*sget(node, "ID") == '\0' ||
                 strcasecmp(sget(node, "ID"), l->a->node_id) == 0);

    json_decref(t);
    json_decref(m);
    return same;
}

static void diff_services(struct agent_local *l, const json_t *cat,
                          json_t *ops, json_t *gone)
{
    const char *id;
    json_t *v;

    for (size_t i = 0; i < l->n_svcs; i++) {
        struct local_svc *s = l->svcs[i];
        const json_t *cs = json_object_get(cat, s->id);

        if (s->deleted) {
            if (cs == NULL) /* the catalog has forgotten it already */
                local_svc_drop(l, s->id), i--;
            else /* try again (ACLs may have blocked it) */
                s->in_sync = false;
            continue;
        }
        if (cs != NULL && json_is_true(json_object_get(s->svc,
                                                       "EnableTagOverride")))
            json_object_set_new(s->svc, "Tags", json_deep_copy(
                get_ci(cs, "Tags") != NULL ? get_ci(cs, "Tags")
                                           : json_array()));
        s->in_sync = cs != NULL && same_fields(s->svc, cs, NULL);
    }
    json_object_foreach((json_t *)cat, id, v) {
        const struct local_svc *s = local_svc_get(l, id);

        if (s != NULL || strcmp(id, "consul") == 0)
            continue;
        add_dereg(l, ops, "ServiceID", id, 0);
        json_object_set_new(gone, id, json_true());
    }
}

static void diff_checks(struct agent_local *l, const json_t *cat,
                        json_t *ops, const json_t *gone)
{
    static const char *const cmp[] = {"Name", "Status", "Notes", "ServiceID",
                                      "ServiceName", NULL};
    json_t *seen = json_object(), *cc;
    size_t i;

    json_array_foreach(cat, i, cc) {
        const char *id = sget(cc, "CheckID");
        struct local_chk *c = local_chk_get(l, id);

        json_object_set_new(seen, id, json_true());
        if (strcmp(id, "serfHealth") == 0)
            continue;
        if (c != NULL) {
            c->in_sync = !c->deleted && same_fields(c->chk, cc, cmp);
            continue;
        }
        if (c == NULL &&
            json_object_get(gone, sget(cc, "ServiceID")) == NULL)
            add_dereg(l, ops, "CheckID", id, 0);
    }
    for (i = 0; i < l->n_chks; i++) {
        struct local_chk *c = l->chks[i];

        if (json_object_get(seen, c->id) != NULL)
            continue;
        if (c->deleted)
            local_chk_drop(l, c->id), i--;
        else
            c->in_sync = false;
    }
    json_decref(seen);
}

/* Both reads are in: compare, queue the writes. */
static int diff(struct agent_local *l, const json_t *checks, char *err)
{
    const json_t *nodeinfo = l->cat_node;
    const json_t *node = json_object_get(nodeinfo, "Node");
    const json_t *svcs = json_object_get(nodeinfo, "Services");
    json_t *gone = json_object();

    if (!json_is_array(checks) && !json_is_null(checks))
        return err_set(err, ERR_PARSE, "unexpected health/node answer");
    l->node_in_sync = json_is_object(node) && node_same(l, node);
    diff_services(l, json_is_object(svcs) ? svcs : NULL, l->ops, gone);
    diff_checks(l, checks, l->ops, gone);
    json_decref(gone);
    build_ops(l, l->ops);
    return 0;
}

/* ---- running the queue ---- */

static void send_next(struct agent_local *l);

static bool any_out_of_sync(struct agent_local *l)
{
    if (!l->node_in_sync)
        return true;
    for (size_t i = 0; i < l->n_svcs; i++)
        if (!l->svcs[i]->in_sync)
            return true;
    for (size_t i = 0; i < l->n_chks; i++)
        if (!l->chks[i]->in_sync)
            return true;
    return false;
}

static void finish(struct agent_local *l, int rc, const char *msg)
{
    uint64_t n = now(l);
    bool was_full = l->in_full;

    json_decref(l->ops);
    json_decref(l->cat_node);
    l->ops = l->cat_node = NULL;
    l->busy = l->in_full = false;
    if (rc == 0) {
        if (l->fail_since != 0)
            LOG_INFO("agent", "synced remote state again after %llu ms of "
                     "failures", (unsigned long long)(n - l->fail_since));
        l->fail_since = l->last_warn = 0;
        l->backoff_ms = 0;
        l->retry_at = 0;
        if (was_full)
            l->full_pending = false;
        if (any_out_of_sync(l) && l->change_due == 0)
            l->change_due = n + DEBOUNCE_MS;
        arm(l);
        return;
    }
    l->backoff_ms = l->backoff_ms == 0 ? BACKOFF_MIN_MS
                                       : l->backoff_ms * 2;
    if (l->backoff_ms > BACKOFF_MAX_MS)
        l->backoff_ms = BACKOFF_MAX_MS;
    l->retry_at = n + (uint64_t)l->backoff_ms +
                  (uint64_t)(rand() % (l->backoff_ms / 4 + 1));
    if (l->fail_since == 0)
        l->fail_since = n;
    if (l->last_warn == 0 || n - l->last_warn >= WARN_EVERY_MS) {
        LOG_WARN("agent", "failed to sync remote state: %s", msg);
        l->last_warn = n;
    } else {
        LOG_DEBUG("agent", "failed to sync remote state: %s", msg);
    }
    snprintf(l->last_err, sizeof(l->last_err), "%s", msg);
    if (!was_full && l->change_due == 0)
        l->change_due = l->retry_at;
    arm(l);
}

static void log_done(const json_t *op)
{
    const char *kind = sget(op, "kind");
    const char *id = json_string_value(json_array_get(json_object_get(op,
                                                                "mark"), 0));

    if (strcmp(kind, "node") == 0)
        LOG_INFO("agent", "Synced node info");
    else if (strcmp(kind, "reg-svc") == 0)
        LOG_INFO("agent", "Synced service: service=%s", id);
    else if (strcmp(kind, "reg-chk") == 0)
        LOG_INFO("agent", "Synced check: check=%s", id);
    else if (strcmp(kind, "dereg-svc") == 0)
        LOG_INFO("agent", "Deregistered service: service=%s", id);
    else if (strcmp(kind, "dereg-chk") == 0)
        LOG_INFO("agent", "Deregistered check: check=%s", id);
}

static const char *mark_id(const json_t *m)
{
    const char *s = json_string_value(json_array_get(m, 0));

    return s != NULL ? s : "";
}

static bool gen_is(const json_t *m, uint64_t gen)
{
    return (uint64_t)json_integer_value(json_array_get(m, 1)) == gen;
}

static void mark_check(struct agent_local *l, const json_t *m)
{
    struct local_chk *c = local_chk_get(l, mark_id(m));

    if (c != NULL && !c->deleted && gen_is(m, c->gen)) {
        c->in_sync = true;
        c->output_due = 0;
    }
}

/* A write succeeded: what it carried is in the catalog now. */
static void apply_marks(struct agent_local *l, const json_t *op)
{
    const char *kind = sget(op, "kind");
    const json_t *m = json_object_get(op, "mark"), *cm;
    struct local_svc *s;
    struct local_chk *c;
    size_t i;

    if (strcmp(kind, "node") == 0) {
        l->node_in_sync = true;
    } else if (strcmp(kind, "dereg-svc") == 0) {
        s = local_svc_get(l, mark_id(m));
        if (s != NULL && s->deleted && gen_is(m, s->gen))
            local_svc_drop(l, mark_id(m));
    } else if (strcmp(kind, "dereg-chk") == 0) {
        c = local_chk_get(l, mark_id(m));
        if (c != NULL && c->deleted && gen_is(m, c->gen))
            local_chk_drop(l, mark_id(m));
    } else if (strcmp(kind, "reg-svc") == 0) {
        s = local_svc_get(l, mark_id(m));
        if (s != NULL && !s->deleted && gen_is(m, s->gen))
            s->in_sync = true;
        json_array_foreach(json_object_get(op, "checks"), i, cm)
            mark_check(l, cm);
    } else if (strcmp(kind, "reg-chk") == 0) {
        mark_check(l, m);
    }
}

/* Node info and the full sync's reads: the agent token, else the
 * default one (Consul's anti-entropy). */
static const char *sync_token(struct agent_local *l)
{
    const char *t = agent_token(l->a, AGENT_TOKEN_AGENT);

    return t != NULL ? t : agent_token(l->a, AGENT_TOKEN_DEFAULT);
}

/* The secret op is sent with: that of the record it writes (a record we
 * no longer have: the default token). */
static const char *op_token(struct agent_local *l, const json_t *op)
{
    const char *kind = sget(op, "kind");
    const char *id = mark_id(json_object_get(op, "mark"));

    if (strcmp(kind, "reg-svc") == 0 || strcmp(kind, "dereg-svc") == 0)
        return local_svc_token(l, local_svc_get(l, id));
    if (strcmp(kind, "reg-chk") == 0 || strcmp(kind, "dereg-chk") == 0)
        return local_chk_token(l, local_chk_get(l, id));
    return sync_token(l);
}

/* How much of a reply body goes into a message. */
static int reply_len(const struct rpc_response *r)
{
    return (int)(r->body_len < 160 ? r->body_len : 160);
}

/* A write the catalog refused with 403 (permission denied, ACL not
 * found): as Consul, warn and count its records in sync until the next
 * full sync, so the others still go through. The catalog's message names
 * an accessor at most, never a secret. */
static void blocked(struct agent_local *l, const json_t *op,
                    const struct rpc_response *r)
{
    const char *kind = sget(op, "kind");
    const json_t *m = json_object_get(op, "mark");
    bool svc = strstr(kind, "svc") != NULL;
    bool dereg = strncmp(kind, "dereg-", 6) == 0;
    struct local_svc *s;
    struct local_chk *c;

    if (strcmp(kind, "node") == 0)
        LOG_WARN("agent", "Node info update blocked by ACLs: %.*s",
                 reply_len(r), r->body);
    else
        LOG_WARN("agent", "%s %s blocked by ACLs: %s=%s: %.*s",
                 svc ? "Service" : "Check",
                 dereg ? "deregistration" : "registration",
                 svc ? "service" : "check", mark_id(m), reply_len(r),
                 r->body);
    if (!dereg) {
        apply_marks(l, op);
    } else if (svc) {
        s = local_svc_get(l, mark_id(m));
        if (s != NULL && s->deleted && gen_is(m, s->gen))
            s->in_sync = true;
    } else {
        c = local_chk_get(l, mark_id(m));
        if (c != NULL && c->deleted && gen_is(m, c->gen))
            c->in_sync = true;
    }
}

static void on_reply(void *ctx, int rc, const struct rpc_response *r,
                     const char *err);

static void send_next(struct agent_local *l)
{
    struct rpc_header h[2] = {{"Content-Type", "application/json"},
                              {"X-Consul-Token", NULL}};
    const json_t *op;
    const char *addr;
    char msg[ERR_LEN], *body = NULL;
    int rc;

    if (json_array_size(l->ops) == 0) {
        finish(l, 0, NULL);
        return;
    }
    op = json_array_get(l->ops, 0);
    if (l->a->rpcc == NULL) {
        finish(l, ERR_SHUTDOWN, "agent is shutting down");
        return;
    }
    if ((addr = target(l)) == NULL) {
        finish(l, ERR_NOLEADER, l->a->has_raft ? "No cluster leader"
                                               : "No known Consul servers");
        return;
    }
    h[1].value = op_token(l, op);
    if (json_object_get(op, "body") != NULL)
        body = json_dumps(json_object_get(op, "body"), JSON_COMPACT);
    rc = rpc_http_call(l->a->rpcc, addr, sget(op, "method"),
                       sget(op, "path"), h, h[1].value != NULL ? 2 : 1,
                       body, body != NULL ? strlen(body) : 0, CALL_MS,
                       on_reply, l, &l->call, msg);
    free(body);
    if (rc != 0)
        finish(l, rc, msg);
}

/* The answer of a read: JSON; a 404 counts as "nothing there". */
static int read_body(const struct rpc_response *r, json_t **out, char *err)
{
    json_error_t jerr;

    *out = r->status == 404 ? json_null()
         : json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
    if (*out == NULL)
        return err_set(err, ERR_PARSE, "bad catalog answer: %s", jerr.text);
    return 0;
}

static void on_reply(void *ctx, int rc, const struct rpc_response *r,
                     const char *err)
{
    struct agent_local *l = ctx;
    json_t *op, *body = NULL;
    const char *kind;
    char msg[ERR_LEN];
    bool read;

    l->call = NULL;
    if (l->closing)
        return;
    if (rc != 0) {
        finish(l, rc, err);
        return;
    }
    op = json_incref(json_array_get(l->ops, 0));
    kind = sget(op, "kind");
    read = strncmp(kind, "get-", 4) == 0;
    if (r->status != 200 && !(read && r->status == 404)) {
        if (r->status == 403 && !read) {
            json_array_remove(l->ops, 0);
            blocked(l, op, r);
            json_decref(op);
            send_next(l);
            return;
        }
        snprintf(msg, sizeof(msg), "%s %s: %d %.*s", sget(op, "method"),
                 sget(op, "path"), r->status, reply_len(r), r->body);
        json_decref(op);
        finish(l, ERR_IO, msg);
        return;
    }
    json_array_remove(l->ops, 0);
    rc = read ? read_body(r, &body, msg) : 0;
    if (rc == 0 && strcmp(kind, "get-node") == 0) {
        l->cat_node = body;
    } else if (rc == 0 && strcmp(kind, "get-checks") == 0) {
        rc = diff(l, body, msg);
        json_decref(body);
    } else if (rc == 0) {
        apply_marks(l, op);
        log_done(op);
    }
    json_decref(op);
    if (rc != 0) {
        finish(l, rc, msg);
        return;
    }
    send_next(l);
}

static void run(struct agent_local *l, json_t *ops)
{
    l->ops = ops;
    l->busy = true;
    send_next(l);
}

static void url_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0' && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static void start_full(struct agent_local *l)
{
    json_t *ops = json_array();
    char esc[800], path[900];

    url_escape(l->a->cfg.node_name, esc, sizeof(esc));
    snprintf(path, sizeof(path), "/v1/catalog/node/%s", esc);
    add_op(ops, "get-node", "GET", path, NULL);
    snprintf(path, sizeof(path), "/v1/health/node/%s", esc);
    add_op(ops, "get-checks", "GET", path, NULL);
    l->in_full = true;
    run(l, ops);
}

static void start_partial(struct agent_local *l)
{
    json_t *ops = json_array();

    build_ops(l, ops);
    if (json_array_size(ops) == 0) {
        json_decref(ops);
        return;
    }
    run(l, ops);
}

/* ---- the tick ---- */

/* A leader (a server, for a client) appeared or the leader changed: what
 * the catalog holds may be older than what we wrote, read it again. */
static void watch_leader(struct agent_local *l)
{
    const char *t = target(l);

    if (t == NULL) {
        l->had_server = false;
        l->last_leader[0] = '\0';
        return;
    }
    if (!l->had_server ||
        (l->a->has_raft && strcmp(t, l->last_leader) != 0)) {
        l->full_pending = true;
        l->retry_at = 0;
        l->backoff_ms = 0;
    }
    l->had_server = true;
    snprintf(l->last_leader, sizeof(l->last_leader), "%s", t);
}

/* DeregisterCriticalServiceAfter (at least a minute, as Consul). */
static void reap(struct agent_local *l)
{
    uint64_t n = now(l);
    json_t *victims = json_array(), *v;
    char err[ERR_LEN];
    size_t i;

    for (i = 0; i < l->n_chks; i++) {
        const struct local_chk *c = l->chks[i];
        uint64_t tmo = (uint64_t)c->dereg_after_ms;

        if (c->deleted || c->dereg_after_ms <= 0 || c->critical_since == 0 ||
            *sget(c->chk, "ServiceID") == '\0')
            continue;
        if (tmo < REAP_MIN_MS)
            tmo = REAP_MIN_MS;
        if (n - c->critical_since >= tmo)
            json_array_append_new(victims, json_pack(
                "[s, s]", sget(c->chk, "ServiceID"), c->id));
    }
    json_array_foreach(victims, i, v) {
        const char *sid = json_string_value(json_array_get(v, 0));
        const struct local_svc *s = local_svc_get(l, sid);

        if (s == NULL || s->deleted)
            continue;
        LOG_INFO("agent", "Check critical for too long, deregistering "
                 "service: check=%s service=%s",
                 json_string_value(json_array_get(v, 1)), sid);
        local_remove_service(l, sid);
    }
    if (json_array_size(victims) > 0 && local_persist(l, err) != 0)
        LOG_ERROR("agent", "%s", err);
    json_decref(victims);
}

/* Deferred check outputs whose time has come. */
static void release_outputs(struct agent_local *l, uint64_t n)
{
    for (size_t i = 0; i < l->n_chks; i++) {
        struct local_chk *c = l->chks[i];

        if (c->output_due == 0 || n < c->output_due)
            continue;
        c->output_due = 0;
        c->in_sync = false;
        if (l->change_due == 0)
            l->change_due = n;
    }
}

static void on_timer(uv_timer_t *t)
{
    struct agent_local *l = t->data;
    uint64_t n = now(l);

    if (l->closing)
        return;
    watch_leader(l);
    if (n >= l->reap_due) {
        reap(l);
        l->reap_due = n + REAP_MS;
    }
    release_outputs(l, n);
    if (n >= l->full_due) {
        l->full_pending = true;
        l->full_due = n + FULL_MS + (uint64_t)(rand() % STAGGER_MS);
    }
    if (!l->busy && n >= l->retry_at) {
        if (l->full_pending) {
            l->change_due = 0;
            start_full(l);
        } else if (l->change_due != 0 && n >= l->change_due) {
            l->change_due = 0;
            start_partial(l);
        }
    }
    arm(l);
}

int local_sync_start(struct agent_local *l, char *err)
{
    uint64_t n = now(l);

    (void)err;
    uv_timer_init(l->a->loop, &l->timer);
    l->timer.data = l;
    l->timer_on = true;
    l->full_pending = true;
    l->full_due = n + FULL_MS + (uint64_t)(rand() % STAGGER_MS);
    l->reap_due = n + REAP_MS;
    uv_timer_start(&l->timer, on_timer, 0, 0);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    local_close_step(h->data);
}

void local_sync_close(struct agent_local *l)
{
    if (l->call != NULL) {
        rpc_call_cancel(l->call);
        l->call = NULL;
    }
    l->busy = false;
    if (l->timer_on) {
        l->timer_on = false;
        l->close_pending++;
        uv_timer_stop(&l->timer);
        uv_close((uv_handle_t *)&l->timer, timer_closed);
    }
}

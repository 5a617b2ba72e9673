/* agent_acl_repl.c - ACL replication from primary_datacenter: the leader
 * of another datacenter, acl.enable_token_replication on, copies the
 * primary's policies, roles and (global) tokens into its own Raft log.
 *
 * Layer: agent (uses util, codec, store, replication). Thread: loop only.
 * Owns: struct agent_acl_repl: the fetch in flight, the writes pending,
 * the status served at /v1/acl/replication.
 * Tests: t/t9002-multidc-acl.sh
 *
 * Each round (REPL_EVERY_MS, on the leader tick) asks a server of the
 * primary, over port 8300, with the replication token (else the agent
 * token; it must be a management token there):
 *   GET /v1/internal/proconsul/acl-state
 *   200 {"PolicyIndex","RoleIndex","TokenIndex","Records":[{"Kind",...}]}
 * then writes, through the ordinary ACL commands (policy-set, role-set,
 * token-set, then token-, role-, policy-delete), every object whose
 * content differs from ours and deletes what the primary no longer has.
 * Local tokens (Local: true) are neither copied nor deleted. Every server
 * of the datacenter then resolves replicated tokens from its own state
 * (agent_acl_who), also while the primary is unreachable. Records hold
 * SecretIDs: the response body is wiped once parsed (jansson's own copies
 * are not), and no record is ever logged.
 */
#include "agent.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "log.h"
#include "util_time.h"

#define REPL_EVERY_MS 1000
#define REPL_TIMEOUT_MS 10000

struct agent_acl_repl {
    struct rpc_call *call;
    int pending;           /* writes of this round not yet applied */
    bool round_failed;
    uint64_t last_start_ms;
    uint64_t idx[3];       /* policy, role, token index of the last round */
    uint64_t got[3];       /* those of the round being applied */
    int64_t last_success_ns, last_error_ns;
    char last_error[ERR_LEN];
    bool done_once;
};

static struct agent_acl_repl *repl(struct agent *a)
{
    if (a->acl_repl == NULL)
        a->acl_repl = calloc(1, sizeof(*a->acl_repl));
    return a->acl_repl;
}

bool agent_acl_repl_enabled(const struct agent *a)
{
    return agent_acl_remote(a) && a->cfg.acl.enable_token_replication;
}

static void failed(struct agent_acl_repl *r, const char *why)
{
    r->last_error_ns = util_now_ns();
    snprintf(r->last_error, sizeof(r->last_error), "%s", why);
}

static void round_end(struct agent_acl_repl *r)
{
    if (r->round_failed)
        return;
    memcpy(r->idx, r->got, sizeof(r->idx));
    r->last_success_ns = util_now_ns();
    r->done_once = true;
}

static void write_done(void *ctx, int rc, const struct fsm_result *res)
{
    struct agent *a = ctx;
    struct agent_acl_repl *r = a->acl_repl;

    if (r == NULL)
        return;
    if (rc != 0 || (res != NULL && res->rc != 0)) {
        r->round_failed = true;
        failed(r, rc != 0 ? "the write was not applied"
                          : res->msg);
        LOG_WARN("acl", "acl replication: a write failed: %s",
                 r->last_error);
    }
    if (--r->pending == 0)
        round_end(r);
}

static void submit(struct agent *a, const char *op, json_t *req)
{
    struct agent_acl_repl *r = a->acl_repl;
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    if (req == NULL || fsm_encode_acl(op, req, raft_malloc, &buf, &len,
                                      err) != 0) {
        r->round_failed = true;
        failed(r, req == NULL ? "out of memory" : err);
        json_decref(req);
        return;
    }
    json_decref(req);
    if (agent_apply(a, buf, len, write_done, a, err) != 0) {
        raft_free(buf);
        r->round_failed = true;
        failed(r, err);
        return;
    }
    r->pending++;
}

/* obj without its Raft indexes (they differ between datacenters). */
static json_t *content(const json_t *o)
{
    json_t *c = json_copy((json_t *)o);

    if (c != NULL) {
        json_object_del(c, "CreateIndex");
        json_object_del(c, "ModifyIndex");
        json_object_del(c, "Kind");
    }
    return c;
}

static const json_t *local_of(struct agent *a, const char *kind,
                              const char *id)
{
    if (id == NULL)
        return NULL;
    if (strcmp(kind, "token") == 0)
        return acl_store_token(a->fsm.acl, id);
    if (strcmp(kind, "policy") == 0)
        return acl_store_policy(a->fsm.acl, id);
    return acl_store_role(a->fsm.acl, id);
}

static const char *id_field(const char *kind)
{
    return strcmp(kind, "token") == 0 ? "AccessorID" : "ID";
}

static bool is_local_token(const json_t *o)
{
    return json_is_true(json_object_get(o, "Local"));
}

/* Sets of one kind: what differs from ours. */
static void sets(struct agent *a, const json_t *recs, const char *kind,
                 const char *op, const char *key)
{
    size_t i;
    json_t *rec;

    json_array_foreach(recs, i, rec) {
        const char *k = json_string_value(json_object_get(rec, "Kind"));
        const char *id;
        const json_t *mine;
        json_t *want, *have;
        bool eq;

        if (k == NULL || strcmp(k, kind) != 0 || is_local_token(rec))
            continue;
        id = json_string_value(json_object_get(rec, id_field(kind)));
        mine = local_of(a, kind, id);
        want = content(rec);
        have = mine != NULL ? content(mine) : NULL;
        eq = want != NULL && have != NULL && json_equal(want, have);
        json_decref(have);
        if (want == NULL || eq) {
            json_decref(want);
            continue;
        }
        submit(a, op, json_pack("{s:o}", key, want));
    }
}

static bool remote_has(const json_t *recs, const char *kind, const char *id)
{
    size_t i;
    json_t *rec;

    json_array_foreach(recs, i, rec) {
        const char *k = json_string_value(json_object_get(rec, "Kind"));
        const char *rid =
            json_string_value(json_object_get(rec, id_field(kind)));

        if (k != NULL && rid != NULL && strcmp(k, kind) == 0 &&
            strcasecmp(rid, id) == 0)
            return true;
    }
    return false;
}

struct del_ctx {
    const json_t *recs;
    const char *kind;
    json_t *ids;
};

static int collect(void *ctx, const json_t *rec)
{
    struct del_ctx *d = ctx;
    const char *k = json_string_value(json_object_get(rec, "Kind"));
    const char *id;

    if (k == NULL || strcmp(k, d->kind) != 0 || is_local_token(rec))
        return 0;
    id = json_string_value(json_object_get(rec, id_field(d->kind)));
    if (id != NULL && !remote_has(d->recs, d->kind, id))
        return json_array_append_new(d->ids, json_string(id)) != 0 ? -1 : 0;
    return 0;
}

/* Deletes of one kind: ours that the primary no longer has. */
static void deletes(struct agent *a, const json_t *recs, const char *kind,
                    const char *op, const char *key)
{
    struct del_ctx d = {recs, kind, json_array()};
    size_t i;
    json_t *id;

    if (d.ids == NULL || acl_store_foreach(a->fsm.acl, collect, &d) != 0) {
        failed(a->acl_repl, "out of memory");
        a->acl_repl->round_failed = true;
        json_decref(d.ids);
        return;
    }
    json_array_foreach(d.ids, i, id) {
        const char *s = json_string_value(id);

        /* never the builtin objects every datacenter has */
        if (strcasecmp(s, ACL_ANON_ACCESSOR) == 0 ||
            strcasecmp(s, ACL_GLOBAL_MGMT_ID) == 0)
            continue;
        submit(a, op, json_pack("{s:s}", key, s));
    }
    json_decref(d.ids);
}

static uint64_t u64_at(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));

    return v > 0 ? (uint64_t)v : 0;
}

static void apply_state(struct agent *a, const char *body, size_t len)
{
    struct agent_acl_repl *r = a->acl_repl;
    json_error_t je;
    json_t *st = json_loadb(body, len, 0, &je), *recs;

    recs = json_object_get(st, "Records");
    if (!json_is_array(recs)) {
        failed(r, "the primary's ACL state is not valid JSON");
        json_decref(st);
        return;
    }
    r->got[0] = u64_at(st, "PolicyIndex");
    r->got[1] = u64_at(st, "RoleIndex");
    r->got[2] = u64_at(st, "TokenIndex");
    r->round_failed = false;
    r->pending = 0;
    sets(a, recs, "policy", "policy-set", "Policy");
    sets(a, recs, "role", "role-set", "Role");
    sets(a, recs, "token", "token-set", "Token");
    deletes(a, recs, "token", "token-delete", "AccessorID");
    deletes(a, recs, "role", "role-delete", "RoleID");
    deletes(a, recs, "policy", "policy-delete", "PolicyID");
    json_decref(st);
    if (r->pending == 0)
        round_end(r);
}

static void on_state(void *ctx, int rc, const struct rpc_response *resp,
                     const char *err)
{
    struct agent *a = ctx;
    struct agent_acl_repl *r = a->acl_repl;
    char why[ERR_LEN];

    if (r == NULL)
        return;
    r->call = NULL;
    if (rc != 0) {
        failed(r, err);
        return;
    }
    if (resp->status != 200) {
        snprintf(why, sizeof(why), "the primary answered %d: %.*s",
                 resp->status, (int)(resp->body_len < 200 ? resp->body_len
                                                          : 200),
                 resp->body);
        failed(r, why);
        return;
    }
    if (agent_is_leader(a))
        apply_state(a, resp->body, resp->body_len);
    OPENSSL_cleanse((char *)resp->body, resp->body_len);
}

void agent_acl_repl_tick(struct agent *a)
{
    struct rpc_header h[1] = {{"X-Consul-Token", NULL}};
    struct agent_acl_repl *r;
    uint64_t now = util_now_ns() / 1000000;
    char addr[80], err[ERR_LEN];
    const char *tok;

    if (!agent_acl_repl_enabled(a) || !agent_is_leader(a) ||
        (r = repl(a)) == NULL || r->call != NULL || r->pending > 0 ||
        now - r->last_start_ms < REPL_EVERY_MS)
        return;
    r->last_start_ms = now;
    tok = agent_token(a, AGENT_TOKEN_REPLICATION);
    if (tok == NULL || tok[0] == '\0')
        tok = agent_token(a, AGENT_TOKEN_AGENT);
    if (tok == NULL || tok[0] == '\0') {
        failed(r, "no replication token (acl.tokens.replication)");
        return;
    }
    h[0].value = tok;
    if (a->rpcc == NULL ||
        agent_wan_pick(a, a->cfg.primary_datacenter, NULL, addr,
                       sizeof(addr)) != 0) {
        failed(r, "No path to datacenter");
        return;
    }
    if (rpc_http_call(a->rpcc, addr, "GET",
                      "/v1/internal/proconsul/acl-state", h, 1, NULL, 0,
                      REPL_TIMEOUT_MS, on_state, a, &r->call, err) != 0)
        failed(r, err);
}

static json_t *when(int64_t ns)
{
    char t[UTIL_RFC3339_LEN];

    if (ns == 0)
        return json_string("0001-01-01T00:00:00Z");
    util_rfc3339(ns, t);
    return json_string(t);
}

json_t *agent_acl_repl_status(struct agent *a)
{
    struct agent_acl_repl *r = a->acl_repl;
    bool on = agent_acl_repl_enabled(a);
    static const struct agent_acl_repl zero;

    if (r == NULL)
        r = (struct agent_acl_repl *)&zero;
    return json_pack("{s:b, s:b, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:s}",
                     "Enabled", on, "Running", on && agent_is_leader(a),
                     "SourceDatacenter",
                     on ? a->cfg.primary_datacenter : "",
                     "ReplicationType", on ? "tokens" : "",
                     "ReplicatedIndex", (json_int_t)r->idx[0],
                     "ReplicatedRoleIndex", (json_int_t)r->idx[1],
                     "ReplicatedTokenIndex", (json_int_t)r->idx[2],
                     "LastSuccess", when(r->last_success_ns),
                     "LastError", when(r->last_error_ns),
                     "LastErrorMessage", r->last_error);
}

void agent_acl_repl_release(struct agent *a)
{
    if (a->acl_repl == NULL)
        return;
    rpc_call_cancel(a->acl_repl->call);
    free(a->acl_repl);
    a->acl_repl = NULL;
}

/* agent_servers.c - the servers of our datacenter: the table gossip
 * gives us, cluster formation for bootstrap_expect, autopilot on the
 * leader, peers.json recovery and <data-dir>/server-map.json.
 *
 * Layer: agent (uses util, codec, replication). Thread: loop only.
 * Owns: the server table, the known-id table, the formation/autopilot
 * timer, the bootstrap vote state.
 * Tests: t/t4001-raft-cluster.sh .. t/t4004-raft-five.sh
 *
 * Formation (bootstrap_expect = N, fresh data dir). Raft is not started
 * until one of two things happens:
 *  - some server answers that it already holds Raft state: we start
 *    empty and wait for its leader to add us (autopilot below);
 *  - we are the coordinator: at least N alive servers with the same
 *    expect are in gossip, ours is the lowest node ID among them, and
 *    every other one granted us its bootstrap vote. A vote is binding
 *    for VOTE_MS: a server endorses one coordinator at a time and never
 *    while it holds state. Two coordinators would each need N - 1
 *    endorsements from disjoint sets, so with fewer than 2N fresh
 *    servers of one expect in a datacenter only one cluster can form.
 *    The coordinator then sends the exact configuration (those N
 *    servers, all voters) to every endorser, which bootstraps with it
 *    and starts; identical bootstrap configurations are safe in Raft.
 *    An endorser that misses that message finds the new cluster on its
 *    next poll and joins it empty.
 * Autopilot (leader, every tick): one membership change at a time. Add
 * alive servers that are not in the configuration (as spares, then
 * standbys that replicate), promote a standby to voter once it has been
 * alive for server_stabilization_time and trails the leader by at most
 * max_trailing_logs (at once while the cluster has fewer voters than
 * bootstrap_expect), remove servers that left, and with
 * cleanup_dead_servers remove failed ones - never below min_quorum and
 * never as many as half the voters at once.
 */
#include "agent.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define TICK_MS 500
#define VOTE_MS 30000
#define WAIT_LOG_MS 10000
#define CALL_MS 3000

uint64_t agent_raft_id(const char *node_id)
{
    uint64_t id = raft_digest(node_id, 0);

    return id == 0 ? 1 : id;
}

/* ---- known ids ---- */

static void remember(struct agent *a, uint64_t raft_id, const char *node_id,
                     const char *name, const char *addr)
{
    struct agent_known *k = NULL;

    for (size_t i = 0; i < a->n_known; i++)
        if (a->known[i].raft_id == raft_id)
            k = &a->known[i];
    if (k == NULL) {
        if (a->n_known == a->cap_known) {
            size_t cap = a->cap_known ? a->cap_known * 2 : 8;
            struct agent_known *n = realloc(a->known, cap * sizeof(*n));

            if (n == NULL)
                return;
            a->known = n;
            a->cap_known = cap;
        }
        k = &a->known[a->n_known++];
        memset(k, 0, sizeof(*k));
        k->raft_id = raft_id;
    }
    snprintf(k->node_id, sizeof(k->node_id), "%s", node_id);
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->addr, sizeof(k->addr), "%s", addr);
}

bool agent_server_names(struct agent *a, uint64_t raft_id,
                        const char **node_id, const char **name)
{
    for (size_t i = 0; i < a->n_known; i++) {
        if (a->known[i].raft_id == raft_id) {
            *node_id = a->known[i].node_id;
            *name = a->known[i].name;
            return true;
        }
    }
    return false;
}

/* ---- the server table ---- */

struct rebuild {
    struct agent *a;
    struct agent_server *old;
    size_t n_old;
};

static void add_member(void *ctx, const struct gossip_member *m)
{
    struct rebuild *rb = ctx;
    struct agent *a = rb->a;
    const char *role = gossip_member_tag(m, "role"), *dc = gossip_member_tag(m, "dc");
    const char *id = gossip_member_tag(m, "id"), *port = gossip_member_tag(m, "port");
    const char *expect = gossip_member_tag(m, "expect");
    struct agent_server *s;

    if (role == NULL || strcmp(role, "consul") != 0 || dc == NULL ||
        strcmp(dc, a->cfg.datacenter) != 0 || id == NULL || id[0] == '\0')
        return;
    if (a->n_servers == a->cap_servers) {
        size_t cap = a->cap_servers ? a->cap_servers * 2 : 8;
        struct agent_server *n = realloc(a->servers, cap * sizeof(*n));

        if (n == NULL)
            return;
        a->servers = n;
        a->cap_servers = cap;
    }
    s = &a->servers[a->n_servers++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", m->name);
    snprintf(s->node_id, sizeof(s->node_id), "%s", id);
    s->raft_id = agent_raft_id(id);
    snprintf(s->addr, sizeof(s->addr), strchr(m->addr, ':') ? "[%s]:%s"
                                                             : "%s:%s",
             m->addr, port != NULL ? port : "8300");
    s->status = m->status;
    s->expect = expect != NULL ? atoi(expect) : 0;
    s->alive_since_ms = uv_now(a->loop);
    for (size_t i = 0; i < rb->n_old; i++) {
        if (strcmp(rb->old[i].node_id, s->node_id) == 0 &&
            rb->old[i].status == GOSSIP_ALIVE && s->status == GOSSIP_ALIVE)
            s->alive_since_ms = rb->old[i].alive_since_ms;
    }
    remember(a, s->raft_id, s->node_id, s->name, s->addr);
}

void agent_servers_changed(struct agent *a)
{
    struct rebuild rb = {a, a->servers, a->n_servers};

    if (a->gossip == NULL)
        return;
    a->servers = NULL;
    a->n_servers = a->cap_servers = 0;
    gossip_members(a->gossip, add_member, &rb);
    free(rb.old);
    a->members_dirty = true;
}

const struct agent_server *agent_server_by_raft_id(struct agent *a,
                                                   uint64_t id)
{
    for (size_t i = 0; i < a->n_servers; i++)
        if (a->servers[i].raft_id == id)
            return &a->servers[i];
    return NULL;
}

const char *agent_pick_server(struct agent *a, const char *avoid)
{
    const char *pick = NULL, *fallback = NULL;
    int n = 0;

    for (size_t i = 0; i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];

        if (s->status != GOSSIP_ALIVE)
            continue;
        if (avoid != NULL && strcmp(s->addr, avoid) == 0) {
            fallback = s->addr;
            continue;
        }
        if (rand() % ++n == 0) /* each candidate equally likely */
            pick = s->addr;
    }
    return pick != NULL ? pick : fallback;
}

/* ---- server-map.json ---- */

static char *map_path(struct agent *a)
{
    size_t n = strlen(a->data_dir) + sizeof("/server-map.json");
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/server-map.json", a->data_dir);
    return p;
}

static void load_map(struct agent *a)
{
    char *path = map_path(a);
    json_error_t je;
    json_t *root, *arr, *it;
    size_t i;

    if (path == NULL)
        return;
    root = json_load_file(path, 0, &je);
    if (root == NULL) {
        if (access(path, F_OK) == 0)
            LOG_WARN("raft", "ignoring '%s': line %d: %s", path, je.line,
                     je.text);
        free(path);
        return;
    }
    arr = json_object_get(root, "Servers");
    json_array_foreach(arr, i, it) {
        const char *id = json_string_value(json_object_get(it, "ID"));
        const char *node = json_string_value(json_object_get(it, "Node"));
        const char *addr = json_string_value(json_object_get(it, "Address"));

        if (id != NULL && node != NULL && addr != NULL && strlen(id) < 40)
            remember(a, agent_raft_id(id), id, node, addr);
    }
    json_decref(root);
    free(path);
}

struct map_ctx {
    struct agent *a;
    json_t *arr;
};

static void map_server(void *ctx, uint64_t id, const char *address,
                       bool voter)
{
    struct map_ctx *m = ctx;
    const char *node_id = "", *name = "";
    json_t *o = json_object();

    agent_server_names(m->a, id, &node_id, &name);
    json_object_set_new(o, "ID", json_string(node_id));
    json_object_set_new(o, "Node", json_string(name));
    json_object_set_new(o, "Address", json_string(address));
    json_object_set_new(o, "Voter", json_boolean(voter));
    json_array_append_new(m->arr, o);
}

/* Keep the latest configuration, with names, where an offline
 * `operator raft recover` can read it. */
static void save_map(struct agent *a)
{
    struct map_ctx m = {a, json_array()};
    json_t *root = json_object();
    char *text, *path, tmp[4300];
    size_t n;
    FILE *f;

    json_object_set_new(root, "Index",
                        json_integer((json_int_t)raftglue_config_index(&a->rg)));
    raftglue_servers(&a->rg, map_server, &m);
    n = json_array_size(m.arr);
    json_object_set_new(root, "Servers", m.arr);
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (text == NULL || n == 0 ||
        (a->map_json != NULL && strcmp(text, a->map_json) == 0) ||
        (path = map_path(a)) == NULL) {
        free(text);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        LOG_WARN("raft", "writing '%s': %s", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        free(text);
        free(path);
        return;
    }
    free(path);
    free(a->map_json);
    a->map_json = text;
}

/* ---- peers.json (Consul's outage recovery) ---- */

static int peer_entry(struct agent *a, json_t *it,
                      struct raftglue_server *s, char *err)
{
    const char *addr;

    if (json_is_string(it)) { /* raft protocol 2: ["ip:port", ...] */
        addr = json_string_value(it);
        for (size_t i = 0; i < a->n_known; i++)
            if (strcmp(a->known[i].addr, addr) == 0)
                s->id = a->known[i].raft_id;
        if (s->id == 0)
            return err_set(err, ERR_INVAL, "no known server ID for "
                           "address '%s': use the {\"id\": ...} form", addr);
        s->address = addr;
        s->voter = true;
        return 0;
    }
    addr = json_string_value(json_object_get(it, "address"));
    if (!json_is_string(json_object_get(it, "id")) || addr == NULL)
        return err_set(err, ERR_INVAL, "every entry needs \"id\" and "
                                       "\"address\" strings");
    s->id = agent_raft_id(json_string_value(json_object_get(it, "id")));
    s->address = addr;
    s->voter = !json_is_true(json_object_get(it, "non_voter"));
    return 0;
}

static int recover_peers(struct agent *a, char *err)
{
    char path[4200];
    json_error_t je;
    json_t *root, *it;
    struct raftglue_server *sv;
    size_t i, n;
    int rc = 0;

    snprintf(path, sizeof(path), "%s/raft/peers.json", a->data_dir);
    if (access(path, F_OK) != 0)
        return 0;
    root = json_load_file(path, 0, &je);
    if (root == NULL)
        return err_set(err, ERR_INVAL, "%s:%d: %s", path, je.line, je.text);
    n = json_array_size(root);
    if (!json_is_array(root) || n == 0) {
        json_decref(root);
        return err_set(err, ERR_INVAL, "%s: must be a non-empty list of "
                                       "servers", path);
    }
    sv = calloc(n, sizeof(*sv));
    json_array_foreach(root, i, it) {
        if (rc == 0 && sv != NULL)
            rc = peer_entry(a, it, &sv[i], err);
    }
    if (sv == NULL)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = raftglue_recover(&a->rg, sv, n, err);
    if (rc == 0 && unlink(path) != 0)
        rc = err_set(err, ERR_IO, "removing '%s': %s", path,
                     strerror(errno));
    if (rc == 0)
        LOG_WARN("raft", "recovered the Raft configuration from "
                         "peers.json (%zu servers); deleted it", n);
    else
        err_prefix(err, "%s", path);
    free(sv);
    json_decref(root);
    return rc;
}

/* ---- starting Raft ---- */

static int start_raft(struct agent *a, const char *why, char *err)
{
    if (a->raft_started)
        return 0;
    if (raftglue_start(&a->rg, err) != 0)
        return ERR_IO;
    a->raft_started = true;
    LOG_INFO("raft", "started Raft (%s)", why);
    return 0;
}

static bool has_state(struct agent *a)
{
    return a->raft_started &&
           (a->rg.raft.configuration.n > 0 ||
            raft_last_index(&a->rg.raft) > 0);
}

void agent_raft_state(struct agent *a, struct agent_raft_state *st)
{
    memset(st, 0, sizeof(*st));
    st->started = a->raft_started;
    st->has_state = a->has_raft && has_state(a);
    st->expect = a->cfg.bootstrap_expect;
}

static void on_tick(uv_timer_t *t);

static void abort_done(void *ctx, int rc, const struct fsm_result *res)
{
    (void)ctx;
    (void)rc;
    (void)res;
}

/* Leader: a snapshot restore that has not moved for STAGE_IDLE_MS was
 * left by a leader that died halfway; drop it, or it would keep Raft
 * from taking snapshots (fsm_stage.c). */
#define STAGE_IDLE_MS 60000
static void drop_stale_restore(struct agent *a)
{
    uint64_t got = 0, now = uv_now(a->loop);
    const char *id = fsm_restore_staged(&a->fsm, &got);
    char err[ERR_LEN];
    void *buf;
    size_t len;

    if (id == NULL || !agent_is_leader(a)) {
        a->stage_id[0] = '\0';
        return;
    }
    if (strcmp(a->stage_id, id) != 0 || a->stage_len != got) {
        snprintf(a->stage_id, sizeof(a->stage_id), "%s", id);
        a->stage_len = got;
        a->stage_since_ms = now;
        return;
    }
    if (now - a->stage_since_ms < STAGE_IDLE_MS)
        return;
    LOG_WARN("snapshot", "dropping restore %s, idle for %d s", id,
             STAGE_IDLE_MS / 1000);
    a->stage_since_ms = now;
    if (fsm_encode_restore("abort", id, 0, NULL, NULL, 0, raft_malloc, &buf,
                           &len, err) == 0 &&
        agent_apply(a, buf, len, abort_done, NULL, err) != 0)
        raft_free(buf);
}

static void ready_done(void *ctx, int rc)
{
    struct agent *a = ctx;

    if (rc != 0 || a->stopping || !raftglue_is_leader(&a->rg))
        return;
    a->ready_term = a->rg.raft.current_term;
    LOG_INFO("raft", "leader ready: entries of term %llu committed",
             (unsigned long long)a->ready_term);
    uv_timer_start(&a->srv_timer, on_tick, 0, TICK_MS);
}

/* A new leader commits a barrier of its own term before it serves. */
static void on_raft_state(void *ctx, int old, int st)
{
    struct agent *a = ctx;
    char err[ERR_LEN];

    (void)old;
    if (st != RAFT_LEADER || a->stopping)
        return;
    if (raftglue_barrier(&a->rg, ready_done, a, err) != 0)
        LOG_WARN("raft", "leader barrier: %s", err);
}

int agent_servers_start(struct agent *a, char *err)
{
    char dir[4200];
    int rc;

    load_map(a);
    uv_timer_init(a->loop, &a->srv_timer);
    a->srv_timer.data = a;
    a->srv_timer_on = true;
    uv_timer_start(&a->srv_timer, on_tick, TICK_MS, TICK_MS);
    if (!a->has_raft)
        return 0;
    raftglue_set_state_cb(&a->rg, on_raft_state, a);
    snprintf(dir, sizeof(dir), "%s/raft", a->data_dir);
    if ((rc = recover_peers(a, err)) != 0)
        return rc;
    if (raftglue_dir_has_state(dir))
        return start_raft(a, "existing state", err);
    if (a->cfg.bootstrap || a->cfg.dev) {
        if (raftglue_bootstrap_self(&a->rg, err) != 0)
            return ERR_IO;
        return start_raft(a, "bootstrap", err);
    }
    if (a->cfg.bootstrap_expect <= 0)
        return start_raft(a, "joining: no bootstrap_expect", err);
    LOG_INFO("raft", "waiting for %d servers with bootstrap_expect = %d "
                     "before bootstrapping", a->cfg.bootstrap_expect,
             a->cfg.bootstrap_expect);
    return 0;
}

/* ---- formation: internal calls ---- */

static void start_or_log(struct agent *a, const char *why)
{
    char err[ERR_LEN];

    if (start_raft(a, why, err) != 0)
        LOG_ERROR("raft", "%s", err);
}

static void state_reply(void *ctx, int rc, const struct rpc_response *r,
                        const char *err)
{
    struct agent *a = ctx;
    json_t *root;

    if (rc != 0 || a->stopping || r->status != 200)
        return;
    root = json_loadb(r->body, r->body_len, 0, NULL);
    if (json_is_true(json_object_get(root, "HasState")) && !a->raft_started)
        start_or_log(a, "found an existing cluster; waiting to be added "
                        "by its leader");
    json_decref(root);
}

static void call(struct agent *a, const char *addr, const char *method,
                 const char *target, const char *body, rpc_http_cb cb)
{
    char err[ERR_LEN];

    if (rpc_http_call(a->rpcc, addr, method, target, NULL, 0, body,
                      body != NULL ? strlen(body) : 0, CALL_MS, cb, a,
                      NULL, err) != 0)
        LOG_DEBUG("raft", "call to %s: %s", addr, err);
}

static void collect_done(struct agent *a);

static void vote_reply(void *ctx, int rc, const struct rpc_response *r,
                       const char *err)
{
    struct agent *a = ctx;
    json_t *root = NULL;

    a->votes_pending--;
    if (rc == 0 && r->status == 200)
        root = json_loadb(r->body, r->body_len, 0, NULL);
    if (json_is_true(json_object_get(root, "HasState"))) {
        a->votes_failed = true;
        if (!a->stopping)
            start_or_log(a, "found an existing cluster; waiting to be "
                            "added by its leader");
    } else if (json_is_true(json_object_get(root, "Granted"))) {
        a->votes_granted++;
    } else {
        const char *why = json_string_value(json_object_get(root, "Reason"));

        LOG_INFO("raft", "bootstrap vote refused: %s",
                 why != NULL ? why : err != NULL ? err : "no answer");
        a->votes_failed = true;
    }
    json_decref(root);
    if (a->votes_pending == 0)
        collect_done(a);
}

/* Servers alive in gossip with our expect; sorted not needed. Fills
 * *lowest with the smallest node ID. Returns the count, or -1 when an
 * expect value conflicts (logged). */
static int alive_peers(struct agent *a, const char **lowest)
{
    int n = 0;

    *lowest = NULL;
    for (size_t i = 0; i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];

        if (s->status != GOSSIP_ALIVE)
            continue;
        if (s->expect != 0 && s->expect != a->cfg.bootstrap_expect) {
            uint64_t now = uv_now(a->loop);

            if (now - a->last_wait_log_ms >= WAIT_LOG_MS) {
                a->last_wait_log_ms = now;
                LOG_ERROR("raft", "Member '%s' has a conflicting expect "
                          "value (%d, ours %d). All nodes should expect the "
                          "same number; not bootstrapping", s->name,
                          s->expect, a->cfg.bootstrap_expect);
            }
            snprintf(a->waiting_reason, sizeof(a->waiting_reason),
                     "member '%s' has bootstrap_expect = %d, ours is %d",
                     s->name, s->expect, a->cfg.bootstrap_expect);
            return -1;
        }
        n++;
        if (*lowest == NULL || strcmp(s->node_id, *lowest) < 0)
            *lowest = s->node_id;
    }
    return n;
}

static void formation_tick(struct agent *a)
{
    const char *lowest;
    char target[160];
    int n;

    if (a->collecting || !a->has_raft)
        return;
    n = alive_peers(a, &lowest);
    for (size_t i = 0; n >= 0 && i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];

        if (s->status == GOSSIP_ALIVE && strcmp(s->node_id, a->node_id) != 0)
            call(a, s->addr, "GET", "/v1/internal/proconsul/raft-state",
                 NULL, state_reply);
    }
    if (n < 0)
        return;
    if (n < a->cfg.bootstrap_expect) {
        uint64_t now = uv_now(a->loop);

        snprintf(a->waiting_reason, sizeof(a->waiting_reason),
                 "waiting for %d servers with bootstrap_expect = %d, "
                 "see %d", a->cfg.bootstrap_expect,
                 a->cfg.bootstrap_expect, n);
        if (now - a->last_wait_log_ms >= WAIT_LOG_MS) {
            a->last_wait_log_ms = now;
            LOG_INFO("raft", "%s", a->waiting_reason);
        }
        return;
    }
    if (lowest == NULL || strcmp(lowest, a->node_id) != 0)
        return; /* the lowest node ID coordinates */
    if (a->vote_for[0] != '\0' && strcmp(a->vote_for, a->node_id) != 0 &&
        uv_now(a->loop) < a->vote_until_ms)
        return; /* we endorsed someone else */
    snprintf(a->vote_for, sizeof(a->vote_for), "%s", a->node_id);
    a->vote_until_ms = uv_now(a->loop) + VOTE_MS;
    a->collecting = true;
    a->votes_granted = a->votes_pending = 0;
    a->votes_needed = n - 1;
    a->votes_failed = false;
    snprintf(target, sizeof(target),
             "/v1/internal/proconsul/bootstrap-vote?coordinator=%s&expect=%d",
             a->node_id, a->cfg.bootstrap_expect);
    for (size_t i = 0; i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];

        if (s->status != GOSSIP_ALIVE || strcmp(s->node_id, a->node_id) == 0)
            continue;
        a->votes_pending++;
        call(a, s->addr, "POST", target, NULL, vote_reply);
    }
    if (a->votes_pending == 0)
        collect_done(a);
}

static void commit_reply(void *ctx, int rc, const struct rpc_response *r,
                         const char *err)
{
    (void)ctx;
    if (rc != 0 || r->status != 200)
        LOG_WARN("raft", "bootstrap commit: %s",
                 rc != 0 ? err : r->body);
}

static void collect_done(struct agent *a)
{
    struct raftglue_server *sv;
    char err[ERR_LEN], target[160];
    json_t *arr;
    char *body;
    size_t n = 0;

    a->collecting = false;
    if (a->stopping || a->raft_started || a->votes_failed ||
        a->votes_granted < a->votes_needed)
        return;
    sv = calloc(a->n_servers, sizeof(*sv));
    arr = json_array();
    for (size_t i = 0; sv != NULL && i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];
        json_t *o;

        if (s->status != GOSSIP_ALIVE)
            continue;
        sv[n].id = s->raft_id;
        sv[n].address = s->addr;
        sv[n++].voter = true;
        o = json_object();
        json_object_set_new(o, "NodeID", json_string(s->node_id));
        json_object_set_new(o, "Address", json_string(s->addr));
        json_array_append_new(arr, o);
    }
    body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (sv == NULL || body == NULL) {
        free(sv);
        free(body);
        return;
    }
    LOG_INFO("raft", "all %zu servers agreed: bootstrapping the cluster",
             n);
    if (raftglue_bootstrap(&a->rg, sv, n, err) != 0 ||
        start_raft(a, "bootstrapped as coordinator", err) != 0) {
        LOG_ERROR("raft", "%s", err);
    } else {
        snprintf(target, sizeof(target),
                 "/v1/internal/proconsul/bootstrap-commit?coordinator=%s",
                 a->node_id);
        for (size_t i = 0; i < a->n_servers; i++) {
            const struct agent_server *s = &a->servers[i];

            if (s->status == GOSSIP_ALIVE &&
                strcmp(s->node_id, a->node_id) != 0)
                call(a, s->addr, "POST", target, body, commit_reply);
        }
    }
    free(sv);
    free(body);
}

bool agent_bootstrap_vote(struct agent *a, const char *coordinator, int n,
                          char *why, size_t why_len)
{
    uint64_t now = uv_now(a->loop);

    if (!a->has_raft || has_state(a) || a->raft_started) {
        snprintf(why, why_len, "already part of a cluster");
        return false;
    }
    if (n != a->cfg.bootstrap_expect) {
        snprintf(why, why_len, "conflicting bootstrap_expect: ours is %d, "
                 "the coordinator's %d", a->cfg.bootstrap_expect, n);
        return false;
    }
    if (strcmp(coordinator, a->node_id) >= 0) {
        snprintf(why, why_len, "coordinator's node ID is not lower than "
                               "ours");
        return false;
    }
    if (a->vote_for[0] != '\0' && strcmp(a->vote_for, coordinator) != 0 &&
        now < a->vote_until_ms) {
        snprintf(why, why_len, "vote already given to %s", a->vote_for);
        return false;
    }
    snprintf(a->vote_for, sizeof(a->vote_for), "%s", coordinator);
    a->vote_until_ms = now + VOTE_MS;
    return true;
}

int agent_bootstrap_commit(struct agent *a, const char *coordinator,
                           const struct raftglue_server *s, size_t n,
                           char *err)
{
    bool self = false;

    if (!a->has_raft || a->raft_started)
        return err_set(err, ERR_CONFLICT, "Raft already started");
    if (strcmp(a->vote_for, coordinator) != 0)
        return err_set(err, ERR_DENIED, "no vote was given to '%s'",
                       coordinator);
    for (size_t i = 0; i < n; i++)
        self = self || s[i].id == a->rg.raft.id;
    if (!self)
        return err_set(err, ERR_INVAL, "this server is not in the "
                                       "configuration");
    if (raftglue_bootstrap(&a->rg, s, n, err) != 0)
        return ERR_IO;
    return start_raft(a, "bootstrapped by the coordinator", err);
}

/* ---- autopilot (leader) ---- */

static void change_done(void *ctx, int rc)
{
    struct agent *a = ctx;

    a->change_busy = false;
    if (rc != 0 && !a->stopping)
        LOG_WARN("raft", "membership change failed: %s", err_str(rc));
    if (!a->stopping && a->srv_timer_on)
        uv_timer_start(&a->srv_timer, on_tick, 0, TICK_MS);
}

static void change(struct agent *a, enum raftglue_change_op op,
                   const struct agent_server *s, uint64_t id,
                   const char *what)
{
    char err[ERR_LEN];

    if (raftglue_change(&a->rg, op, id, s != NULL ? s->addr : NULL,
                        change_done, a, err) != 0) {
        LOG_WARN("raft", "%s: %s", what, err);
        return;
    }
    a->change_busy = true;
    LOG_INFO("raft", "%s", what);
}

struct census {
    struct agent *a;
    bool cleanup;         /* autopilot settings in force */
    int64_t min_quorum;
    int voters, failed_voters;
    uint64_t remove_id, promote_id;
    int promote_role;
    const char *why;
    char name[GOSSIP_NAME_MAX + 1];
};

static bool stable(struct agent *a, const struct agent_server *s,
                   int voters)
{
    struct raftglue_progress p;
    uint64_t now = uv_now(a->loop), last = raft_last_index(&a->rg.raft);
    struct cfg_autopilot buf;
    const struct cfg_autopilot *ap = agent_autopilot(a, &buf);
    uint64_t trail = (uint64_t)ap->max_trailing_logs;

    if (s->status != GOSSIP_ALIVE ||
        !raftglue_progress(&a->rg, s->raft_id, &p) || !p.recent_recv ||
        p.match_index + trail < last)
        return false;
    /* Fewer voters than expected: no stabilization wait. */
    return voters < a->cfg.bootstrap_expect ||
           now - s->alive_since_ms >=
               (uint64_t)ap->server_stabilization_time_ms;
}

static void census_server(void *ctx, uint64_t id, const char *address,
                          bool voter)
{
    struct census *c = ctx;
    const struct agent_server *s = agent_server_by_raft_id(c->a, id);

    (void)address;
    if (voter)
        c->voters++;
    if (s == NULL || id == c->a->rg.raft.id)
        return;
    if (voter && s->status == GOSSIP_FAILED)
        c->failed_voters++;
    if (c->remove_id == 0 && (s->status == GOSSIP_LEFT ||
                              (s->status == GOSSIP_FAILED &&
                               c->cleanup))) {
        c->remove_id = id;
        c->why = s->status == GOSSIP_LEFT ? "left" : "failed";
        snprintf(c->name, sizeof(c->name), "%s", s->name);
    }
}

static void promote_server(void *ctx, uint64_t id, const char *address,
                           bool voter)
{
    struct census *c = ctx;
    const struct agent_server *s = agent_server_by_raft_id(c->a, id);
    int role = raftglue_role(&c->a->rg, id);

    (void)address;
    if (voter || s == NULL || c->promote_id != 0 ||
        s->status != GOSSIP_ALIVE)
        return;
    if (role == RAFT_SPARE) {
        c->promote_id = id;
        c->promote_role = RAFTGLUE_STANDBY;
    } else if (stable(c->a, s, c->voters)) {
        c->promote_id = id;
        c->promote_role = RAFTGLUE_VOTER;
    }
    if (c->promote_id != 0)
        snprintf(c->name, sizeof(c->name), "%s", s->name);
}

static bool may_remove(struct agent *a, const struct census *c)
{
    int role = raftglue_role(&a->rg, c->remove_id);

    if (role != RAFT_VOTER)
        return true;
    if (c->voters - 1 < c->min_quorum || c->voters - 1 < 1)
        return false;
    /* Never remove when half the voters or more look failed: that is a
     * partition seen from our side, not dead servers. */
    return c->failed_voters * 2 < c->voters;
}

static void reconcile(struct agent *a)
{
    struct cfg_autopilot buf;
    const struct cfg_autopilot *ap;
    struct census c;
    char what[300];

    if (a->change_busy || !agent_is_leader(a))
        return;
    memset(&c, 0, sizeof(c));
    c.a = a;
    ap = agent_autopilot(a, &buf);
    c.cleanup = ap->cleanup_dead_servers;
    c.min_quorum = ap->min_quorum;
    raftglue_servers(&a->rg, census_server, &c);
    if (c.remove_id != 0 && may_remove(a, &c)) {
        snprintf(what, sizeof(what), "removing server '%s' (%s) from the "
                 "Raft configuration", c.name, c.why);
        change(a, RAFTGLUE_REMOVE, NULL, c.remove_id, what);
        return;
    }
    raftglue_servers(&a->rg, promote_server, &c);
    if (c.promote_id != 0) {
        snprintf(what, sizeof(what), "promoting server '%s' to %s", c.name,
                 c.promote_role == RAFTGLUE_VOTER ? "voter" : "standby");
        change(a, c.promote_role, NULL, c.promote_id, what);
        return;
    }
    for (size_t i = 0; i < a->n_servers; i++) {
        const struct agent_server *s = &a->servers[i];

        if (s->status != GOSSIP_ALIVE ||
            raftglue_role(&a->rg, s->raft_id) >= 0)
            continue;
        snprintf(what, sizeof(what), "adding server '%s' (%s) to the Raft "
                 "configuration", s->name, s->addr);
        change(a, RAFTGLUE_ADD, s, s->raft_id, what);
        return;
    }
}

static void on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;

    if (a->stopping)
        return;
    if (a->has_raft && !a->raft_started && a->cfg.bootstrap_expect > 0) {
        formation_tick(a);
        return;
    }
    if (!a->has_raft || !a->raft_started)
        return;
    if (raftglue_leader_id(&a->rg) != 0)
        a->waiting_reason[0] = '\0';
    reconcile(a);
    agent_members_reconcile(a);
    agent_acl_leader(a);
    agent_acl_repl_tick(a);
    agent_sess_tick(a);
    drop_stale_restore(a);
    save_map(a);
}

void agent_servers_release(struct agent *a)
{
    free(a->servers);
    free(a->known);
    free(a->map_json);
    a->servers = NULL;
    a->known = NULL;
    a->map_json = NULL;
    a->n_servers = a->n_known = 0;
}

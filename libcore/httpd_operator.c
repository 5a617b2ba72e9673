/* httpd_operator.c - /v1/operator/raft/... and /v1/operator/autopilot/...,
 * and the internal server-to-server calls of cluster formation.
 *
 * Layer: http. Thread: loop only.
 * Tests: t/t4001-raft-cluster.sh, t/t4003-raft-membership.sh,
 * t/t4900-operator-cli.sh
 */
#include "httpd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opt.h"

static json_t *jstr(const char *s)
{
    return json_string(s != NULL ? s : "");
}

static bool need_raft(struct httpd_ctx *c)
{
    if (c->a->has_raft)
        return true;
    httpd_error(c, 500, "no_servers", "No known Consul servers");
    return false;
}

/* ---- /v1/operator/raft/configuration ---- */

struct conf_ctx {
    struct agent *a;
    json_t *arr;
    uint64_t leader;
};

static void conf_server(void *ctx, uint64_t id, const char *address,
                        bool voter)
{
    struct conf_ctx *cc = ctx;
    const char *node_id = "", *name = "";
    json_t *o = json_object();

    agent_server_names(cc->a, id, &node_id, &name);
    json_object_set_new(o, "ID", jstr(node_id));
    json_object_set_new(o, "Node", jstr(name));
    json_object_set_new(o, "Address", jstr(address));
    json_object_set_new(o, "Leader", json_boolean(id == cc->leader));
    json_object_set_new(o, "ProtocolVersion", jstr("3"));
    json_object_set_new(o, "Voter", json_boolean(voter));
    json_array_append_new(cc->arr, o);
}

static uint64_t conf_index(struct httpd_ctx *c)
{
    return raftglue_config_index(&c->a->rg);
}

static void conf_respond(struct httpd_ctx *c)
{
    struct conf_ctx cc = {c->a, json_array(),
                          raftglue_leader_id(&c->a->rg)};
    json_t *o = json_object();

    raftglue_servers(&c->a->rg, conf_server, &cc);
    json_object_set_new(o, "Servers", cc.arr);
    json_object_set_new(o, "Index", httpd_json_u64(conf_index(c)));
    httpd_meta_headers(c, conf_index(c));
    httpd_send_json(c, 200, o);
}

void httpd_operator_raft_config(struct httpd_ctx *c)
{
    if (!need_raft(c) || httpd_read_opts(c) != 0)
        return;
    c->min_index = 0; /* not a blocking endpoint */
    httpd_blocking_read(c, conf_index, conf_respond);
}

/* ---- DELETE /v1/operator/raft/peer ---- */

struct find_ctx {
    const char *address;
    uint64_t id;
    uint64_t found;
};

static void find_server(void *ctx, uint64_t id, const char *address,
                        bool voter)
{
    struct find_ctx *f = ctx;

    (void)voter;
    if ((f->id != 0 && f->id == id) ||
        (f->address != NULL && strcmp(f->address, address) == 0))
        f->found = id;
}

static void change_answer(void *ctx, int rc)
{
    struct httpd_ctx *c = httpd_async_end(ctx);

    if (c == NULL)
        return;
    if (rc != 0)
        httpd_error_rc(c, rc, NULL);
    else
        httpd_send_body(c, 200, NULL, "", 0);
}

void httpd_operator_raft_peer(struct httpd_ctx *c)
{
    const char *id = httpd_q(c, "id"), *addr = httpd_q(c, "address");
    struct find_ctx f = {NULL, 0, 0};
    struct httpd_pending *p;
    char err[ERR_LEN], msg[300];

    if (!need_raft(c))
        return;
    if ((id == NULL || id[0] == '\0') == (addr == NULL || addr[0] == '\0')) {
        httpd_error(c, 400, "bad_request", "Must specify either ?id with "
                    "the server's ID or ?address with IP:port of peer to "
                    "remove");
        return;
    }
    if (id != NULL && id[0] != '\0') {
        f.id = raft_digest(id, 0);
        if (f.id == 0)
            f.id = 1;
    } else {
        f.address = addr;
    }
    raftglue_servers(&c->a->rg, find_server, &f);
    if (f.found == 0) {
        snprintf(msg, sizeof(msg), "%s \"%.128s\" was not found in the Raft "
                 "configuration", f.address != NULL ? "address" : "id",
                 f.address != NULL ? addr : id);
        httpd_error(c, 500, "not_found", msg);
        return;
    }
    p = httpd_async_begin(c);
    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    if (raftglue_change(&c->a->rg, RAFTGLUE_REMOVE, f.found, NULL,
                        change_answer, p, err) != 0) {
        c = httpd_async_end(p);
        if (c != NULL)
            httpd_error(c, 500, "raft", err);
    }
}

/* ---- POST /v1/operator/raft/transfer-leader ---- */

static void transfer_answer(void *ctx, int rc)
{
    struct httpd_ctx *c = httpd_async_end(ctx);

    if (c == NULL)
        return;
    if (rc != 0) {
        httpd_error(c, 500, "raft", "leadership transfer did not complete "
                                    "in time");
        return;
    }
    httpd_send_json(c, 200, json_pack("{s:b}", "Success", 1));
}

void httpd_operator_transfer(struct httpd_ctx *c)
{
    const char *id = httpd_q(c, "id");
    struct find_ctx f = {NULL, 0, 0};
    struct httpd_pending *p;
    char err[ERR_LEN];

    if (!need_raft(c))
        return;
    if (id != NULL && id[0] != '\0') {
        f.id = raft_digest(id, 0);
        raftglue_servers(&c->a->rg, find_server, &f);
        if (f.found == 0) {
            httpd_error(c, 400, "bad_request",
                        "cannot find server with that ID in the Raft "
                        "configuration");
            return;
        }
    }
    p = httpd_async_begin(c);
    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    if (raftglue_transfer(&c->a->rg, f.found, transfer_answer, p, err) != 0) {
        c = httpd_async_end(p);
        if (c != NULL)
            httpd_error(c, 500, "raft", err);
    }
}

/* ---- autopilot ---- */

static json_t *dur(int64_t ms)
{
    char buf[64];

    opt_format_duration(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *autopilot_json(struct agent *a)
{
    const struct cfg_autopilot *ap = &a->cfg.autopilot;
    json_t *o = json_object();

    json_object_set_new(o, "CleanupDeadServers",
                        json_boolean(ap->cleanup_dead_servers));
    json_object_set_new(o, "LastContactThreshold",
                        dur(ap->last_contact_threshold_ms));
    json_object_set_new(o, "MaxTrailingLogs",
                        json_integer(ap->max_trailing_logs));
    json_object_set_new(o, "MinQuorum", json_integer(ap->min_quorum));
    json_object_set_new(o, "ServerStabilizationTime",
                        dur(ap->server_stabilization_time_ms));
    json_object_set_new(o, "RedundancyZoneTag", jstr(""));
    json_object_set_new(o, "DisableUpgradeMigration", json_false());
    json_object_set_new(o, "UpgradeVersionTag", jstr(""));
    json_object_set_new(o, "CreateIndex", json_integer(0));
    json_object_set_new(o, "ModifyIndex", json_integer(0));
    return o;
}

void httpd_operator_autopilot_config(struct httpd_ctx *c)
{
    if (!need_raft(c))
        return;
    if (c->method == HTTPD_PUT) {
        httpd_error(c, 500, "unsupported", "changing the autopilot "
                    "configuration through the API is not supported yet: "
                    "set autopilot {} in the server configuration");
        return;
    }
    httpd_send_json(c, 200, autopilot_json(c->a));
}

struct health_ctx {
    struct agent *a;
    json_t *arr;
    uint64_t leader, last_index, term;
    int voters, healthy_voters;
    bool all_healthy;
};

static json_t *rfc3339(struct agent *a, uint64_t since_ms)
{
    uint64_t now = uv_now(a->loop);
    time_t t = time(NULL) - (time_t)((now - since_ms) / 1000);
    struct tm tm;
    char buf[64];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static void health_server(void *ctx, uint64_t id, const char *address,
                          bool voter)
{
    struct health_ctx *h = ctx;
    const struct agent_server *s = agent_server_by_raft_id(h->a, id);
    const char *node_id = "", *name = "";
    struct raftglue_progress p;
    bool is_leader = id == h->leader, healthy;
    uint64_t idx = h->last_index;
    int64_t contact = 0;
    json_t *o = json_object();

    agent_server_names(h->a, id, &node_id, &name);
    if (!is_leader) {
        bool known = raftglue_progress(&h->a->rg, id, &p);

        idx = known ? p.match_index : 0;
        contact = known && p.recent_recv ? 0 : -1;
    }
    healthy = s != NULL && s->status == GOSSIP_ALIVE && contact >= 0 &&
              idx + (uint64_t)h->a->cfg.autopilot.max_trailing_logs >=
                  h->last_index;
    json_object_set_new(o, "ID", jstr(node_id));
    json_object_set_new(o, "Name", jstr(name));
    json_object_set_new(o, "Address", jstr(address));
    json_object_set_new(o, "SerfStatus",
                        jstr(s != NULL ? gossip_status_name(s->status)
                                       : "none"));
    json_object_set_new(o, "Version", jstr("1.17.0"));
    json_object_set_new(o, "Leader", json_boolean(is_leader));
    json_object_set_new(o, "LastContact",
                        jstr(contact >= 0 ? "0s" : "-1ns"));
    json_object_set_new(o, "LastTerm", httpd_json_u64(h->term));
    json_object_set_new(o, "LastIndex", httpd_json_u64(idx));
    json_object_set_new(o, "Healthy", json_boolean(healthy));
    json_object_set_new(o, "Voter", json_boolean(voter));
    json_object_set_new(o, "StableSince",
                        s != NULL ? rfc3339(h->a, s->alive_since_ms)
                                  : jstr("0001-01-01T00:00:00Z"));
    json_array_append_new(h->arr, o);
    if (voter) {
        h->voters++;
        h->healthy_voters += healthy;
    }
    h->all_healthy = h->all_healthy && healthy;
}

void httpd_operator_autopilot_health(struct httpd_ctx *c)
{
    struct raftglue_stats st;
    struct health_ctx h;
    json_t *o;
    int tolerance;

    if (!need_raft(c))
        return;
    if (!agent_is_leader(c->a)) {
        httpd_error(c, 500, "no_leader", "No cluster leader");
        return;
    }
    raftglue_stats(&c->a->rg, &st);
    memset(&h, 0, sizeof(h));
    h.a = c->a;
    h.arr = json_array();
    h.leader = raftglue_leader_id(&c->a->rg);
    h.last_index = st.last_log_index;
    h.term = st.term;
    h.all_healthy = true;
    raftglue_servers(&c->a->rg, health_server, &h);
    tolerance = h.healthy_voters - (h.voters / 2 + 1);
    o = json_object();
    json_object_set_new(o, "Healthy",
                        json_boolean(h.all_healthy && tolerance >= 0));
    json_object_set_new(o, "FailureTolerance",
                        json_integer(tolerance > 0 ? tolerance : 0));
    json_object_set_new(o, "Servers", h.arr);
    httpd_send_json(c, h.all_healthy && tolerance >= 0 ? 200 : 429, o);
}

/* ---- internal: cluster formation (only through port 8300) ---- */

void httpd_internal_raft_state(struct httpd_ctx *c)
{
    struct agent_raft_state st;

    agent_raft_state(c->a, &st);
    httpd_send_json(c, 200, json_pack("{s:s, s:s, s:b, s:b, s:i}",
                                      "NodeID", c->a->node_id,
                                      "Node", c->a->cfg.node_name,
                                      "HasState", st.has_state,
                                      "Started", st.started,
                                      "Expect", st.expect));
}

void httpd_internal_vote(struct httpd_ctx *c)
{
    const char *coord = httpd_q(c, "coordinator");
    const char *expect = httpd_q(c, "expect");
    struct agent_raft_state st;
    char why[200] = "";
    bool granted;

    if (coord == NULL || expect == NULL) {
        httpd_error(c, 400, "bad_request", "coordinator and expect needed");
        return;
    }
    agent_raft_state(c->a, &st);
    granted = agent_bootstrap_vote(c->a, coord, atoi(expect), why,
                                   sizeof(why));
    httpd_send_json(c, 200, json_pack("{s:b, s:b, s:s}", "Granted", granted,
                                      "HasState", st.has_state,
                                      "Reason", why));
}

void httpd_internal_commit(struct httpd_ctx *c)
{
    const char *coord = httpd_q(c, "coordinator");
    struct raftglue_server *sv = NULL;
    char err[ERR_LEN];
    json_t *root, *it;
    size_t i, n;
    int rc;

    root = json_loadb(c->req->entity.base, c->req->entity.len, 0, NULL);
    n = json_array_size(root);
    if (coord == NULL || n == 0 || n > 64) {
        json_decref(root);
        httpd_error(c, 400, "bad_request", "a coordinator and a list of "
                                           "servers are needed");
        return;
    }
    sv = calloc(n, sizeof(*sv));
    json_array_foreach(root, i, it) {
        const char *id = json_string_value(json_object_get(it, "NodeID"));

        if (sv == NULL || id == NULL)
            continue;
        sv[i].id = raft_digest(id, 0) != 0 ? raft_digest(id, 0) : 1;
        sv[i].address = json_string_value(json_object_get(it, "Address"));
        sv[i].voter = true;
    }
    rc = ERR_INVAL;
    for (i = 0; sv != NULL && i < n && sv[i].address != NULL; i++)
        ;
    if (sv == NULL)
        rc = err_set(err, ERR_NOMEM, "out of memory");
    else if (i < n)
        err_set(err, ERR_INVAL, "every server needs NodeID and Address");
    else
        rc = agent_bootstrap_commit(c->a, coord, sv, n, err);
    free(sv);
    json_decref(root);
    if (rc != 0)
        httpd_error(c, rc == ERR_INVAL ? 400 : 409, "conflict", err);
    else
        httpd_send_json(c, 200, json_true());
}

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
        f.id = agent_raft_id(id);
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
        f.id = agent_raft_id(id);
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
    const struct fsm_autopilot *fa = &a->fsm.autopilot;
    struct cfg_autopilot buf;
    const struct cfg_autopilot *ap = agent_autopilot(a, &buf);
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
    json_object_set_new(o, "CreateIndex",
                        httpd_json_u64(fa->set ? fa->create_index : 0));
    json_object_set_new(o, "ModifyIndex",
                        httpd_json_u64(fa->set ? fa->modify_index : 0));
    return o;
}

/* The PUT body is decoded as Consul decodes it into an
 * api.AutopilotConfiguration: fields start at NewAutopilotConfiguration()
 * (so an absent field takes its default, not its current value), names
 * match case-insensitively, an unknown field is an error, null leaves a
 * field alone except that it zeroes a duration, and durations are Go
 * strings or numbers of nanoseconds. The Enterprise-only fields and the
 * indexes are checked for type and dropped. Unlike Go, negative
 * durations and bytes after the object are refused. */
enum ap_kind { AP_BOOL, AP_DUR, AP_UINT, AP_STR };

static const struct {
    const char *name;
    enum ap_kind kind;
    const char *go_type;
} ap_fields[] = {
    {"CleanupDeadServers", AP_BOOL, "bool"},
    {"LastContactThreshold", AP_DUR, "api.ReadableDuration"},
    {"MaxTrailingLogs", AP_UINT, "uint64"},
    {"MinQuorum", AP_UINT, "uint"},
    {"ServerStabilizationTime", AP_DUR, "api.ReadableDuration"},
    {"RedundancyZoneTag", AP_STR, "string"},
    {"DisableUpgradeMigration", AP_BOOL, "bool"},
    {"UpgradeVersionTag", AP_STR, "string"},
    {"CreateIndex", AP_UINT, "uint64"},
    {"ModifyIndex", AP_UINT, "uint64"},
};
#define AP_N_FIELDS (int)(sizeof(ap_fields) / sizeof(ap_fields[0]))

/* Where field i goes in ap; NULL for the dropped ones. */
static void *ap_dest(struct fsm_autopilot *ap, int i)
{
    void *d[] = {&ap->cleanup_dead_servers, &ap->last_contact_threshold_ms,
                 &ap->max_trailing_logs, &ap->min_quorum,
                 &ap->server_stabilization_time_ms};

    return i < (int)(sizeof(d) / sizeof(d[0])) ? d[i] : NULL;
}

static int ap_type_error(int i, const json_t *v, char *err)
{
    static const char *const kinds[] = {
        [JSON_OBJECT] = "object", [JSON_ARRAY] = "array",
        [JSON_STRING] = "string", [JSON_INTEGER] = "number",
        [JSON_REAL] = "number",   [JSON_TRUE] = "bool",
        [JSON_FALSE] = "bool",    [JSON_NULL] = "null",
    };
    char num[40] = "";

    if (json_is_integer(v))
        snprintf(num, sizeof(num), " %" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else if (json_is_real(v))
        snprintf(num, sizeof(num), " %g", json_real_value(v));
    return err_set(err, ERR_INVAL, "json: cannot unmarshal %s%s into Go "
                   "struct field AutopilotConfiguration.%s of type %s",
                   kinds[json_typeof(v)], num, ap_fields[i].name,
                   ap_fields[i].go_type);
}

static int ap_duration(int i, const json_t *v, int64_t *ms, char *err)
{
    char q[ERR_QUOTE_MAX + 4];
    double ns;

    *ms = 0;
    if (json_is_string(v)) {
        if (opt_parse_duration(json_string_value(v), false, ms) != 0)
            return err_set(err, ERR_INVAL, "time: invalid duration \"%s\"",
                           err_quote(q, sizeof(q), json_string_value(v)));
        ns = (double)*ms;
    } else if (json_is_number(v)) {
        ns = json_number_value(v);
        if (ns >= 9.2e18)
            return err_set(err, ERR_INVAL, "%s is out of range",
                           ap_fields[i].name);
        *ms = ns < 0 ? 0 : (int64_t)ns / 1000000;
    } else if (!json_is_null(v)) {
        return ap_type_error(i, v, err);
    } else {
        ns = 0;
    }
    if (ns < 0)
        return err_set(err, ERR_INVAL, "%s must not be negative",
                       ap_fields[i].name);
    return 0;
}

static int ap_field(struct fsm_autopilot *ap, int i, const json_t *v,
                    char *err)
{
    void *dst = ap_dest(ap, i);
    int64_t ms;

    if (ap_fields[i].kind == AP_DUR) {
        if (ap_duration(i, v, &ms, err) != 0)
            return ERR_INVAL;
        *(int64_t *)dst = ms;
        return 0;
    }
    if (json_is_null(v))
        return 0;
    switch (ap_fields[i].kind) {
    case AP_BOOL:
        if (!json_is_boolean(v))
            return ap_type_error(i, v, err);
        if (dst != NULL)
            *(bool *)dst = json_is_true(v);
        return 0;
    case AP_UINT:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return ap_type_error(i, v, err);
        if (dst != NULL)
            *(int64_t *)dst = json_integer_value(v);
        return 0;
    default:
        return json_is_string(v) ? 0 : ap_type_error(i, v, err);
    }
}

static int autopilot_parse(const char *body, size_t len,
                           struct fsm_autopilot *ap, char *err)
{
    char q[ERR_QUOTE_MAX + 4];
    json_error_t jerr;
    const char *key;
    json_t *root, *v;
    size_t i;
    int f, rc = 0;

    memset(ap, 0, sizeof(*ap));
    ap->cleanup_dead_servers = true;
    ap->last_contact_threshold_ms = 200;
    ap->max_trailing_logs = 250;
    ap->server_stabilization_time_ms = 10000;
    for (i = 0; i < len && strchr(" \t\r\n", body[i]) != NULL; i++)
        ;
    if (i == len)
        return err_set(err, ERR_INVAL, "EOF");
    root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return err_set(err, ERR_INVAL, "%s at line %d, column %d",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root) && !json_is_null(root))
        rc = err_set(err, ERR_INVAL, "json: cannot unmarshal %s into Go "
                     "value of type api.AutopilotConfiguration",
                     json_is_array(root) ? "array" : "scalar");
    json_object_foreach(root, key, v) {
        for (f = 0; f < AP_N_FIELDS &&
                    strcasecmp(key, ap_fields[f].name) != 0; f++)
            ;
        if (rc == 0 && f == AP_N_FIELDS)
            rc = err_set(err, ERR_INVAL, "json: unknown field \"%s\"",
                         err_quote(q, sizeof(q), key));
        if (rc == 0)
            rc = ap_field(ap, f, v, err);
    }
    json_decref(root);
    return rc;
}

static void autopilot_put_done(struct httpd_ctx *c, int rc,
                               const struct fsm_result *res, const char *msg)
{
    if (rc != 0) {
        httpd_error_rc(c, rc, msg);
        return;
    }
    if (res->rc != 0) {
        httpd_error_rc(c, res->rc, err_str(res->rc));
        return;
    }
    /* Consul answers true to a write without ?cas whatever happened. */
    httpd_send_json(c, 200, json_boolean(!httpd_qhas(c, "cas") || res->ok));
}

static void autopilot_put(struct httpd_ctx *c)
{
    const char *cas = httpd_q(c, "cas");
    char err[ERR_LEN], msg[ERR_LEN], q[ERR_QUOTE_MAX + 4];
    struct fsm_autopilot ap;
    uint64_t cas_index = 0;
    void *buf = NULL;
    size_t len = 0;

    if (autopilot_parse(c->req->entity.base, c->req->entity.len, &ap,
                        err) != 0) {
        err_prefix(err, "Error parsing autopilot config");
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    if (cas != NULL && httpd_parse_u64(cas, &cas_index) != 0) {
        snprintf(msg, sizeof(msg), "Error parsing cas value: "
                 "strconv.ParseUint: parsing \"%s\": invalid syntax",
                 err_quote(q, sizeof(q), cas));
        httpd_error(c, 400, "bad_request", msg);
        return;
    }
    if (fsm_encode_autopilot(&ap, cas != NULL, cas_index, raft_malloc, &buf,
                             &len, err) != 0) {
        httpd_error(c, 400, "bad_request", err);
        return;
    }
    httpd_apply(c, buf, len, autopilot_put_done);
}

static uint64_t autopilot_index(struct httpd_ctx *c)
{
    return c->a->fsm.autopilot.modify_index;
}

static void autopilot_respond(struct httpd_ctx *c)
{
    httpd_send_json(c, 200, autopilot_json(c->a));
}

void httpd_operator_autopilot_config(struct httpd_ctx *c)
{
    if (!need_raft(c) || httpd_read_opts(c) != 0)
        return;
    if (c->method == HTTPD_PUT) {
        autopilot_put(c);
        return;
    }
    c->min_index = 0; /* not a blocking endpoint */
    httpd_blocking_read(c, autopilot_index, autopilot_respond);
}

struct health_ctx {
    struct agent *a;
    int64_t max_trailing;
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
              idx + (uint64_t)h->max_trailing >=
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
    struct cfg_autopilot ap;
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
    h.max_trailing = agent_autopilot(c->a, &ap)->max_trailing_logs;
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
        sv[i].id = agent_raft_id(id);
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

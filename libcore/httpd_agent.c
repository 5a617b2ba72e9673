/* httpd_agent.c - /v1/status/{leader,peers}, /v1/agent/self,
 * /v1/agent/reload.
 *
 * Layer: http. Thread: loop only.
 * Tests: t/t1002-kv-http-api.sh, t/t0002-agent-signals.sh
 */
#include "httpd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent_local.h"
#include "opt.h"
#include "version.h"

static const char *nz(const char *s)
{
    return s != NULL ? s : "";
}

static json_t *jstr(const char *s)
{
    return json_string(s != NULL ? s : "");
}

static json_t *u64s(uint64_t v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

void httpd_status_leader(struct httpd_ctx *c)
{
    const char *l = agent_leader(c->a);

    if (!c->a->has_raft) {
        httpd_error(c, 500, "no_servers", "No known Consul servers");
        return;
    }
    httpd_send_json(c, 200, jstr(l));
}

static void add_peer(void *ctx, uint64_t id, const char *address, bool voter)
{
    (void)id;
    if (voter)
        json_array_append_new(ctx, jstr(address));
}

void httpd_status_peers(struct httpd_ctx *c)
{
    json_t *arr;

    if (!c->a->has_raft) {
        httpd_error(c, 500, "no_servers", "No known Consul servers");
        return;
    }
    arr = json_array();
    raftglue_servers(&c->a->rg, add_peer, arr);
    httpd_send_json(c, 200, arr);
}

static json_t *member_tags(struct agent *a)
{
    json_t *t = json_object();
    char buf[64];

    json_object_set_new(t, "acls", jstr(a->cfg.acl.enabled ? "1" : "0"));
    json_object_set_new(t, "build",
                        jstr(VERSION_HUMAN ":" PROCONSUL_REVISION));
    json_object_set_new(t, "dc", jstr(a->cfg.datacenter));
    if (a->cfg.server) {
        if (a->cfg.bootstrap)
            json_object_set_new(t, "bootstrap", jstr("1"));
        if (a->cfg.bootstrap_expect > 0) {
            snprintf(buf, sizeof(buf), "%d", a->cfg.bootstrap_expect);
            json_object_set_new(t, "expect", jstr(buf));
        }
        snprintf(buf, sizeof(buf), "%d", a->cfg.ports.server);
        json_object_set_new(t, "port", jstr(buf));
        json_object_set_new(t, "raft_vsn", jstr("3"));
        snprintf(buf, sizeof(buf), "%d", a->cfg.ports.serf_wan);
        json_object_set_new(t, "wan_join_port", jstr(buf));
    }
    json_object_set_new(t, "id", jstr(a->node_id));
    json_object_set_new(t, "role", jstr(a->cfg.server ? "consul" : "node"));
    json_object_set_new(t, "segment", jstr(""));
    json_object_set_new(t, "vsn", jstr("2"));
    json_object_set_new(t, "vsn_max", jstr("3"));
    json_object_set_new(t, "vsn_min", jstr("2"));
    return t;
}

static json_t *member_json(struct agent *a)
{
    json_t *m = httpd_member_self(a);

    if (m != NULL)
        return m;
    return json_pack("{s:s, s:s, s:i, s:o, s:i, s:i, s:i, s:i, s:i, s:i, "
                     "s:i}",
                     "Name", nz(a->cfg.node_name), "Addr", a->advertise,
                     "Port", a->cfg.ports.serf_lan, "Tags", member_tags(a),
                     "Status", 1, "ProtocolMin", 1, "ProtocolMax", 5,
                     "ProtocolCur", 2, "DelegateMin", 2, "DelegateMax", 5,
                     "DelegateCur", 4);
}

static json_t *string_list(char *const *v, int n)
{
    json_t *arr = json_array();

    for (int i = 0; i < n; i++)
        json_array_append_new(arr, jstr(v[i]));
    return arr;
}

static json_t *debug_config(struct agent *a)
{
    const struct cfg *g = &a->cfg;
    json_t *d = json_object();

    json_object_set_new(d, "ACLsEnabled", json_boolean(g->acl.enabled));
    json_object_set_new(d, "ACLDefaultPolicy", jstr(g->acl.default_policy));
    json_object_set_new(d, "ACLInitialManagementToken",
                        jstr(g->acl.tokens.initial_management != NULL
                                 ? "hidden" : ""));
    json_object_set_new(d, "AdvertiseAddrLAN", jstr(a->advertise));
    json_object_set_new(d, "BindAddr", jstr(g->bind_addr));
    json_object_set_new(d, "Bootstrap", json_boolean(g->bootstrap));
    json_object_set_new(d, "BootstrapExpect",
                        json_integer(g->bootstrap_expect));
    json_object_set_new(d, "ClientAddrs",
                        string_list(g->client_addr, g->n_client_addr));
    json_object_set_new(d, "DataDir", jstr(a->data_dir));
    json_object_set_new(d, "Datacenter", jstr(g->datacenter));
    json_object_set_new(d, "DevMode", json_boolean(g->dev));
    json_object_set_new(d, "HTTPAddrs",
                        string_list(g->http_addrs, g->n_http_addrs));
    json_object_set_new(d, "HTTPPort", json_integer(g->ports.http));
    json_object_set_new(d, "LogLevel", jstr(g->log_level));
    json_object_set_new(d, "NodeID", jstr(a->node_id));
    json_object_set_new(d, "NodeName", jstr(g->node_name));
    json_object_set_new(d, "PidFile", jstr(g->pid_file));
    json_object_set_new(d, "RaftSnapshotThreshold",
                        json_integer(g->raft_snapshot_threshold));
    json_object_set_new(d, "RaftTrailingLogs",
                        json_integer(g->raft_trailing_logs));
    json_object_set_new(d, "RetryJoinLAN",
                        string_list(g->retry_join, g->n_retry_join));
    json_object_set_new(d, "ServerMode", json_boolean(g->server));
    json_object_set_new(d, "ServerPort", json_integer(g->ports.server));
    json_object_set_new(d, "SerfPortLAN", json_integer(g->ports.serf_lan));
    json_object_set_new(d, "SerfPortWAN", json_integer(g->ports.serf_wan));
    json_object_set_new(d, "UIConfig", json_pack("{s:b}", "Enabled", g->ui));
    json_object_set_new(d, "Version", jstr(VERSION_HUMAN));
    return d;
}

static json_t *last_contact(struct agent *a)
{
    char buf[64];

    if (agent_is_leader(a))
        return jstr("0");
    if (agent_leader(a) == NULL)
        return jstr("never");
    opt_format_duration((int64_t)agent_last_contact_ms(a), buf, sizeof(buf));
    return jstr(buf);
}

static json_t *raft_stats(struct agent *a)
{
    struct raftglue_stats st;
    json_t *r = json_object();

    if (!a->has_raft)
        return r;
    raftglue_stats(&a->rg, &st);
    json_object_set_new(r, "applied_index", u64s(st.applied_index));
    json_object_set_new(r, "commit_index", u64s(st.commit_index));
    json_object_set_new(r, "last_log_index", u64s(st.last_log_index));
    json_object_set_new(r, "last_snapshot_index",
                        u64s(st.last_snapshot_index));
    json_object_set_new(r, "last_contact", last_contact(a));
    json_object_set_new(r, "latest_configuration_index",
                        u64s(raftglue_config_index(&a->rg)));
    if (a->waiting_reason[0] != '\0') /* ours: why no cluster yet */
        json_object_set_new(r, "formation", jstr(a->waiting_reason));
    json_object_set_new(r, "num_peers", u64s(st.num_peers));
    json_object_set_new(r, "protocol_version", jstr("3"));
    json_object_set_new(r, "state", jstr(raftglue_state_name(&a->rg)));
    json_object_set_new(r, "term", u64s(st.term));
    return r;
}

static json_t *stats_json(struct agent *a)
{
    struct utsname u;
    const char *leader = agent_leader(a);
    struct agent_local_stats ls;
    char cpus[16], n[4][16];

    memset(&ls, 0, sizeof(ls));
    if (a->local != NULL)
        agent_local_stats(a->local, &ls);
    snprintf(n[0], sizeof(n[0]), "%d", ls.check_monitors);
    snprintf(n[1], sizeof(n[1]), "%d", ls.check_ttls);
    snprintf(n[2], sizeof(n[2]), "%d", ls.checks);
    snprintf(n[3], sizeof(n[3]), "%d", ls.services);
    uname(&u);
    snprintf(cpus, sizeof(cpus), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    return json_pack(
        "{s:{s:s,s:s,s:s,s:s}, s:{s:s,s:s,s:s}, "
        "s:{s:s,s:s,s:s,s:s,s:s,s:s}, s:o, s:{s:s,s:s,s:s,s:s}}",
        "agent", "check_monitors", n[0], "check_ttls", n[1], "checks", n[2],
        "services", n[3],
        "build", "prerelease", "", "revision", PROCONSUL_REVISION,
        "version", VERSION_HUMAN,
        "consul", "acl", a->cfg.acl.enabled ? "enabled" : "disabled",
        "bootstrap", a->cfg.bootstrap ? "true" : "false",
        "known_datacenters", "1", "leader",
        agent_is_leader(a) ? "true" : "false", "leader_addr",
        leader != NULL ? leader : "", "server",
        a->cfg.server ? "true" : "false",
        "raft", raft_stats(a),
        "runtime", "arch", u.machine, "cpu_count", cpus, "os", "linux",
        "version", "C11");
}

void httpd_agent_self(struct httpd_ctx *c)
{
    struct agent *a = c->a;
    json_t *self = json_object();

    json_object_set_new(self, "Config", json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}",
        "Datacenter", nz(a->cfg.datacenter), "PrimaryDatacenter",
        a->cfg.primary_datacenter != NULL && a->cfg.primary_datacenter[0]
            ? a->cfg.primary_datacenter : nz(a->cfg.datacenter),
        "NodeName", nz(a->cfg.node_name), "NodeID", a->node_id,
        "Revision", PROCONSUL_REVISION, "Server", a->cfg.server,
        "Version", VERSION_HUMAN, "BuildDate", "1970-01-01T00:00:01Z"));
    json_object_set_new(self, "DebugConfig", debug_config(a));
    json_object_set_new(self, "Coord", json_pack(
        "{s:[f,f,f,f,f,f,f,f], s:f, s:f, s:f}", "Vec", 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, "Error", 1.5, "Adjustment", 0.0, "Height",
        1e-5));
    json_object_set_new(self, "Member", member_json(a));
    json_object_set_new(self, "Stats", stats_json(a));
    json_object_set_new(self, "Meta", json_pack(
        "{s:s}", "consul-network-segment", ""));
    httpd_send_json(c, 200, self);
}

void httpd_agent_version(struct httpd_ctx *c)
{
    httpd_send_json(c, 200, json_pack(
        "{s:s, s:s, s:s, s:s}", "SHA", PROCONSUL_REVISION, "BuildDate",
        "1970-01-01T00:00:01Z", "HumanVersion", VERSION_HUMAN, "FIPS", ""));
}

void httpd_agent_reload(struct httpd_ctx *c)
{
    char err[ERR_LEN];
    struct agent *a = c->a;

    if (a->reload_fn == NULL || a->reload_fn(a, a->reload_ctx, err) == 0) {
        httpd_send_body(c, 200, NULL, "", 0);
        return;
    }
    httpd_error(c, 500, "reload_failed", err);
}

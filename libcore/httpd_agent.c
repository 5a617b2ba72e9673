/* httpd_agent.c - /v1/status/{leader,peers}, /v1/agent/self,
 * /v1/agent/reload.
 *
 * Layer: http. Thread: loop only.
 * Stats follow Consul's agent.Stats() sections (string values): agent,
 * build, consul, raft (servers), runtime, serf_lan, serf_wan (servers);
 * "consul info" prints them.
 * Tests: t/t1002-kv-http-api.sh, t/t0002-agent-signals.sh,
 * t/t7001-ops-cli.sh
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
                        jstr(version_build()));
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
    json_object_set_new(d, "RetryJoinWAN",
                        string_list(g->retry_join_wan, g->n_retry_join_wan));
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

static void sset(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, jstr(v));
}

static void uset(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, u64s(v));
}

/* hashicorp/raft's fmt of []raft.Server:
 * "[{Suffrage:Voter ID:<uuid> Address:<ip:port>} ...]". */
struct conf_buf {
    struct agent *a;
    char s[1024];
    size_t n;
};

static void conf_server(void *ctx, uint64_t id, const char *address,
                        bool voter)
{
    struct conf_buf *b = ctx;
    const char *uuid = NULL, *name = NULL;
    char idbuf[32];
    int k;

    if (!agent_server_names(b->a, id, &uuid, &name) || uuid == NULL) {
        snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
        uuid = idbuf;
    }
    k = snprintf(b->s + b->n, sizeof(b->s) - b->n,
                 "%s{Suffrage:%s ID:%s Address:%s}", b->n > 1 ? " " : "",
                 voter ? "Voter" : "Nonvoter", uuid, address);
    if (k > 0 && (size_t)k < sizeof(b->s) - b->n)
        b->n += (size_t)k;
}

static json_t *latest_configuration(struct agent *a)
{
    struct conf_buf b = {.a = a, .s = "[", .n = 1};

    raftglue_servers(&a->rg, conf_server, &b);
    snprintf(b.s + b.n, sizeof(b.s) - b.n, "]");
    return jstr(b.s);
}

static json_t *raft_stats(struct agent *a)
{
    struct raftglue_stats st;
    json_t *r = json_object();

    if (!a->has_raft)
        return r;
    raftglue_stats(&a->rg, &st);
    uset(r, "applied_index", st.applied_index);
    uset(r, "commit_index", st.commit_index);
    uset(r, "fsm_pending", st.commit_index > st.applied_index
                               ? st.commit_index - st.applied_index : 0);
    uset(r, "last_log_index", st.last_log_index);
    uset(r, "last_log_term", st.last_log_term);
    uset(r, "last_snapshot_index", st.last_snapshot_index);
    uset(r, "last_snapshot_term", st.last_snapshot_term);
    json_object_set_new(r, "last_contact", last_contact(a));
    json_object_set_new(r, "latest_configuration", latest_configuration(a));
    uset(r, "latest_configuration_index", raftglue_config_index(&a->rg));
    if (a->waiting_reason[0] != '\0') /* ours: why no cluster yet */
        sset(r, "formation", a->waiting_reason);
    uset(r, "num_peers", st.num_peers);
    sset(r, "protocol_version", "3");
    sset(r, "protocol_version_max", "3");
    sset(r, "protocol_version_min", "0");
    sset(r, "snapshot_version_max", "1");
    sset(r, "snapshot_version_min", "0");
    sset(r, "state", raftglue_state_name(&a->rg));
    uset(r, "term", st.term);
    return r;
}

static json_t *agent_stats(struct agent *a)
{
    struct agent_local_stats ls;
    json_t *o = json_object();

    memset(&ls, 0, sizeof(ls));
    if (a->local != NULL)
        agent_local_stats(a->local, &ls);
    uset(o, "check_monitors", (uint64_t)ls.check_monitors);
    uset(o, "check_ttls", (uint64_t)ls.check_ttls);
    uset(o, "checks", (uint64_t)ls.checks);
    uset(o, "services", (uint64_t)ls.services);
    return o;
}

static json_t *consul_stats(struct agent *a)
{
    const char *leader = agent_leader(a);
    json_t *o = json_object();

    sset(o, "acl", a->cfg.acl.enabled ? "enabled" : "disabled");
    sset(o, "server", a->cfg.server ? "true" : "false");
    if (!a->cfg.server) {
        uset(o, "known_servers", leader != NULL ? 1 : 0);
        return o;
    }
    sset(o, "bootstrap", a->cfg.bootstrap ? "true" : "false");
    sset(o, "known_datacenters", "1");
    sset(o, "leader", agent_is_leader(a) ? "true" : "false");
    sset(o, "leader_addr", nz(leader));
    return o;
}

/* Go's GOARCH names for the machines we build on. */
static const char *go_arch(const char *machine)
{
    static const char *const map[][2] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"i686", "386"},
        {"i386", "386"}, {"armv7l", "arm"}, {"ppc64le", "ppc64le"},
        {"s390x", "s390x"}, {"riscv64", "riscv64"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(machine, map[i][0]) == 0)
            return map[i][1];
    return machine;
}

static json_t *runtime_stats(void)
{
    struct utsname u;
    json_t *o = json_object();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    uname(&u);
    sset(o, "arch", go_arch(u.machine));
    uset(o, "cpu_count", cpus > 0 ? (uint64_t)cpus : 1);
    uset(o, "max_procs", 1); /* one event loop thread */
    sset(o, "os", "linux");
#ifdef __VERSION__
    sset(o, "version", "C11 (cc " __VERSION__ ")");
#else
    sset(o, "version", "C11");
#endif
    return o;
}

static json_t *serf_stats(struct gossip *g)
{
    struct gossip_stats st;
    json_t *o = json_object();

    if (g == NULL)
        return o;
    gossip_stats(g, &st);
    sset(o, "encrypted", "false"); /* no gossip encryption yet */
    uset(o, "event_queue", st.event_queue);
    uset(o, "event_time", st.event_time);
    uset(o, "failed", st.failed);
    uset(o, "health_score", st.health_score);
    uset(o, "intent_queue", st.intent_queue);
    uset(o, "left", st.left);
    uset(o, "member_time", st.member_time);
    uset(o, "members", st.members);
    uset(o, "query_queue", st.query_queue);
    uset(o, "query_time", st.query_time);
    return o;
}

/* Stats as Consul's agent.Stats(): map of sections, string values. */
static json_t *stats_json(struct agent *a)
{
    json_t *s = json_object();

    json_object_set_new(s, "agent", agent_stats(a));
    json_object_set_new(s, "build", json_pack(
        "{s:s, s:s, s:s, s:s}", "prerelease", "", "revision",
        version_revision(), "version", VERSION_HUMAN, "version_metadata",
        ""));
    json_object_set_new(s, "consul", consul_stats(a));
    if (a->has_raft)
        json_object_set_new(s, "raft", raft_stats(a));
    json_object_set_new(s, "runtime", runtime_stats());
    if (a->gossip != NULL)
        json_object_set_new(s, "serf_lan", serf_stats(a->gossip));
    if (a->wan != NULL) /* servers: the WAN pool, as Consul's */
        json_object_set_new(s, "serf_wan", serf_stats(a->wan));
    return s;
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
        "Revision", version_revision(), "Server", a->cfg.server,
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
        "{s:s, s:s, s:s, s:s}", "SHA", version_revision(), "BuildDate",
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

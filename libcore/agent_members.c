/* agent_members.c - the leader keeps the catalog's nodes in line with
 * the LAN gossip pool: every member is a node with a "serfHealth" check
 * (passing while alive, critical once failed), a member that left is
 * deregistered, and a node that carries serfHealth but is no longer in
 * the pool at all (reaped) is deregistered too. As Consul's leader does.
 *
 * Layer: agent (uses util, codec, store, replication). Thread: loop only.
 * Owns: nothing but a count of its Raft writes in flight.
 * Tests: t/t2104-catalog-cluster.sh
 *
 * Runs on the leader's tick when gossip changed and every FULL_TICKS
 * ticks otherwise; a write is sent only when the catalog differs, so a
 * steady cluster writes nothing.
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_IN_FLIGHT 32
#define FULL_TICKS 10

static void write_done(void *ctx, int rc, const struct fsm_result *res)
{
    struct agent *a = ctx;

    a->member_writes--;
    if (rc != 0 || (res != NULL && res->rc != 0))
        a->members_dirty = true; /* try again on the next tick */
}

static void apply_req(struct agent *a, const char *op, json_t *req)
{
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    if (fsm_encode_catalog(op, req, raft_malloc, &buf, &len, err) != 0) {
        LOG_WARN("catalog", "%s: %s", op, err);
        return;
    }
    if (agent_apply(a, buf, len, write_done, a, err) != 0) {
        raft_free(buf);
        a->members_dirty = true;
        return;
    }
    a->member_writes++;
}

/* The serfHealth check of node in the catalog, or NULL (borrowed from
 * checks, which the caller frees). */
static const json_t *serf_check(json_t *checks)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c) {
        const char *id = json_string_value(json_object_get(c, "CheckID"));

        if (id != NULL && strcmp(id, "serfHealth") == 0)
            return c;
    }
    return NULL;
}

static bool same_str(const json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v != NULL && strcmp(v, want) == 0;
}

static void sync_member(void *ctx, const struct gossip_member *m)
{
    struct agent *a = ctx;
    const char *dc = gossip_member_tag(m, "dc"), *id = gossip_member_tag(m, "id");
    const char *role = gossip_member_tag(m, "role"), *port = gossip_member_tag(m, "port");
    bool alive = m->status == GOSSIP_ALIVE;
    const char *status = alive ? "passing" : "critical";
    const char *output = alive ? "Agent alive and reachable"
                               : "Agent not live or unreachable";
    json_t *node, *checks, *req;
    const json_t *chk;
    bool same, server;

    if (a->member_writes >= MAX_IN_FLIGHT ||
        (dc != NULL && strcmp(dc, a->cfg.datacenter) != 0))
        return;
    node = cat_node(a->fsm.cat, m->name);
    if (m->status == GOSSIP_LEFT) {
        if (node != NULL) {
            LOG_INFO("catalog", "deregistering node '%s': it left",
                     m->name);
            req = json_pack("{s:s}", "Node", m->name);
            apply_req(a, "deregister", req);
            json_decref(req);
        }
        json_decref(node);
        return;
    }
    if (m->status != GOSSIP_ALIVE && m->status != GOSSIP_FAILED) {
        json_decref(node);
        return; /* leaving: wait for the outcome */
    }
    checks = cat_node_checks(a->fsm.cat, m->name);
    chk = serf_check(checks);
    server = role != NULL && strcmp(role, "consul") == 0;
    same = node != NULL && chk != NULL &&
           same_str(json_object_get(node, "Node"), "Address", m->addr) &&
           same_str(chk, "Status", status) && same_str(chk, "Output", output) &&
           (!server || json_object_get(json_object_get(node, "Services"),
                                       "consul") != NULL);
    json_decref(checks);
    json_decref(node);
    if (same)
        return;
    req = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, "
                    "s:{s:s, s:s, s:s, s:s, s:s}}",
                    "Node", m->name, "ID", id != NULL ? id : "",
                    "Address", m->addr, "Datacenter", a->cfg.datacenter,
                    "TaggedAddresses", "lan", m->addr, "lan_ipv4", m->addr,
                    "wan", m->addr, "wan_ipv4", m->addr,
                    "Check", "Node", m->name, "CheckID", "serfHealth",
                    "Name", "Serf Health Status", "Status", status,
                    "Output", output);
    /* Servers also carry the "consul" service, as Consul's leader adds
     * it (DNS answers NS records and SOA glue from it). */
    if (req != NULL && server)
        json_object_set_new(req, "Service", json_pack(
            "{s:s, s:s, s:i, s:[]}", "ID", "consul", "Service", "consul",
            "Port", port != NULL ? atoi(port) : 8300, "Tags"));
    if (req != NULL)
        apply_req(a, "register", req);
    json_decref(req);
}

/* Catalog nodes with serfHealth whose member gossip forgot. */
static void reap(struct agent *a)
{
    json_t *nodes = cat_nodes(a->fsm.cat), *n;
    struct gossip_member m;
    size_t i;

    json_array_foreach(nodes, i, n) {
        const char *name = json_string_value(json_object_get(n, "Node"));
        json_t *checks, *req;
        bool ours;

        if (name == NULL || a->member_writes >= MAX_IN_FLIGHT ||
            gossip_member_get(a->gossip, name, &m) == 0)
            continue;
        checks = cat_node_checks(a->fsm.cat, name);
        ours = serf_check(checks) != NULL;
        json_decref(checks);
        if (!ours)
            continue; /* registered from outside: not gossip's to drop */
        LOG_INFO("catalog", "deregistering node '%s': no longer a member",
                 name);
        req = json_pack("{s:s}", "Node", name);
        apply_req(a, "deregister", req);
        json_decref(req);
    }
    json_decref(nodes);
}

void agent_members_reconcile(struct agent *a)
{
    if (a->gossip == NULL || a->fsm.cat == NULL || !agent_is_leader(a))
        return;
    if (!a->members_dirty && ++a->member_ticks < FULL_TICKS)
        return;
    if (a->member_writes > 0)
        return; /* let the last round land first */
    a->members_dirty = false;
    a->member_ticks = 0;
    gossip_members(a->gossip, sync_member, a);
    reap(a);
}

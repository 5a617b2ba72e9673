/* agent_metrics.c - the agent's telemetry registry and its 1 s gauge
 * tick (go-metrics' runtime stats loop and Consul's periodic gauges in
 * one timer).
 *
 * Layer: agent. Thread: loop only.
 * Owns: the registry (struct metrics, also set as the process-wide one
 * until release) and the tick timer.
 * Tests: t/t7003-metrics.sh
 */
#include "agent.h"

#include <string.h>
#include <unistd.h>

#include "cat.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"

#define TICK_MS 1000

struct member_count {
    double servers, clients;
};

static void count_member(void *ctx, const struct gossip_member *m)
{
    struct member_count *mc = ctx;
    const char *role = gossip_member_tag(m, "role");

    if (m->status != GOSSIP_ALIVE)
        return;
    if (role != NULL && strcmp(role, "consul") == 0)
        mc->servers++;
    else
        mc->clients++;
}

/* What only servers know: the state and the pool by role (Consul emits
 * these from servers only). */
static void server_gauges(struct agent *a)
{
    struct member_count mc = {0, 0};

    metrics_gauge("state.kv_entries", (double)kv_count(a->fsm.kv));
    metrics_gauge("state.nodes", (double)cat_count(a->fsm.cat, CAT_NODES));
    metrics_gauge("state.service_instances",
                  (double)cat_count(a->fsm.cat, CAT_SERVICES));
    if (a->gossip != NULL) {
        gossip_members(a->gossip, count_member, &mc);
        metrics_gauge("members.servers", mc.servers);
        metrics_gauge("members.clients", mc.clients);
    }
    metrics_gauge("server.isLeader", agent_is_leader(a) ? 1 : 0);
}

static void on_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    uint64_t now = metrics_now_ns();
    struct metrics_proc p;

    if (a->metrics_tick_ns != 0 && now > a->metrics_tick_ns) {
        double late = (double)(now - a->metrics_tick_ns) / 1e6 - TICK_MS;

        metrics_sample("runtime.loop_lag", late > 0 ? late : 0);
    }
    a->metrics_tick_ns = now;
    metrics_proc_read(&p);
    metrics_proc_gauges(a->metrics, &p);
    if (a->has_raft && a->raft_started)
        raftglue_metrics(&a->rg);
    if (a->gossip != NULL)
        gossip_metrics(a->gossip);
    if (a->cfg.server)
        server_gauges(a);
}

int agent_metrics_start(struct agent *a, char *err)
{
    struct metrics_opts o;
    char host[256] = "";

    memset(&o, 0, sizeof(o));
    o.prefix = a->cfg.telemetry_metrics_prefix;
    o.prom_retention_ms = a->cfg.prometheus_retention_ms;
    o.process_metrics = 1;
    /* go-metrics puts the hostname into gauge names only when a sink
     * besides the in-memory one is on (Consul: any; here Prometheus) */
    if (o.prom_retention_ms > 0 && !a->cfg.telemetry_disable_hostname &&
        gethostname(host, sizeof(host) - 1) == 0)
        o.hostname = host;
    a->metrics = metrics_new(&o);
    if (a->metrics == NULL)
        return err_set(err, ERR_NOMEM, "out of memory (metrics)");
    metrics_set_global(a->metrics);
    uv_timer_init(a->loop, &a->metrics_timer);
    a->metrics_timer.data = a;
    uv_timer_start(&a->metrics_timer, on_tick, 0, TICK_MS);
    a->metrics_timer_on = true;
    return 0;
}

void agent_metrics_stop(struct agent *a)
{
    if (!a->metrics_timer_on)
        return;
    a->metrics_timer_on = false;
    uv_timer_stop(&a->metrics_timer);
    uv_close((uv_handle_t *)&a->metrics_timer, NULL);
}

void agent_metrics_release(struct agent *a)
{
    metrics_free(a->metrics); /* also unsets the process-wide one */
    a->metrics = NULL;
}

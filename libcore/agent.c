/* agent.c - agent lifecycle: data dir, node id, Raft, gossip, signals,
 * stop.
 *
 * Layer: agent (uses util, codec, store, replication). Thread: loop only.
 * Owns: see agent.h.
 * Tests: t/t0002-agent-signals.sh, t/t1004-kv-persist.sh,
 * t/t2001-gossip-members.sh
 */
#include "agent.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_event.h"
#include "agent_local.h"
#include "agent_watches.h"
#include "log.h"
#include "util_fs.h"
#include "util_rand.h"
#include "version.h"

#define RAFT_MS_PER_MULT 200

static const int stop_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};

/* Read <data_dir>/node-id or create it (Consul keeps it there too). */
static int load_node_id(struct agent *a, char *err)
{
    char path[4200], buf[64] = "";
    FILE *f;

    if (a->cfg.node_id != NULL && a->cfg.node_id[0] != '\0') {
        if (!util_uuid_valid(a->cfg.node_id))
            return err_set(err, ERR_INVAL, "node_id must be a UUID");
        memcpy(a->node_id, a->cfg.node_id, 37);
        return 0;
    }
    snprintf(path, sizeof(path), "%s/node-id", a->data_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
        buf[strcspn(buf, " \r\n")] = '\0';
        if (!util_uuid_valid(buf))
            return err_set(err, ERR_INVAL,
                           "'%s' does not hold a valid node id", path);
        memcpy(a->node_id, buf, 37);
        return 0;
    }
    if (util_uuid(a->node_id, err) != 0)
        return ERR_INTERNAL;
    f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s", a->node_id) < 0 || fclose(f) != 0)
        return err_set(err, ERR_IO, "writing '%s': %s", path,
                       strerror(errno));
    chmod(path, 0600);
    return 0;
}

static int lock_data_dir(struct agent *a, char *err)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/agent.lock", a->data_dir);
    a->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (a->lock_fd < 0)
        return err_set(err, ERR_IO, "opening '%s': %s", path,
                       strerror(errno));
    if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return err_set(err, ERR_EXISTS,
                       "data_dir '%s' is in use by another agent",
                       a->data_dir);
    return 0;
}

static void pick_advertise(struct agent *a)
{
    const char *adv = a->cfg.advertise_addr;
    struct ifaddrs *ifs = NULL, *it;

    if (adv == NULL || adv[0] == '\0')
        adv = a->cfg.bind_addr;
    if (adv != NULL && strcmp(adv, "0.0.0.0") != 0 && strcmp(adv, "::") != 0) {
        snprintf(a->advertise, sizeof(a->advertise), "%s", adv);
        return;
    }
    snprintf(a->advertise, sizeof(a->advertise), "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (it = ifs; it != NULL; it = it->ifa_next) {
        struct sockaddr_in *sin = (struct sockaddr_in *)it->ifa_addr;

        if (sin == NULL || sin->sin_family != AF_INET ||
            (ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sin->sin_addr, a->advertise,
                  sizeof(a->advertise));
        break;
    }
    freeifaddrs(ifs);
}

static int prepare_data_dir(struct agent *a, char *err)
{
    if (a->cfg.dev) {
        char tmpl[] = "/tmp/proconsul-dev-XXXXXX";

        if (mkdtemp(tmpl) == NULL)
            return err_set(err, ERR_IO, "creating a dev data dir: %s",
                           strerror(errno));
        a->data_dir = strdup(tmpl);
        a->tmp_data_dir = true;
    } else {
        a->data_dir = strdup(a->cfg.data_dir);
    }
    if (a->data_dir == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (util_mkdir_p(a->data_dir, 0700, err) != 0)
        return ERR_IO;
    if (lock_data_dir(a, err) != 0)
        return ERR_EXISTS;
    return load_node_id(a, err);
}

static void fatal_closed(uv_handle_t *h)
{
    free(h);
}

static void fatal_stop(uv_timer_t *t)
{
    struct agent *a = t->data;

    uv_close((uv_handle_t *)t, fatal_closed);
    agent_stop(a);
}

/* The FSM cannot follow the log any more (fsm.h): stop, outside the Raft
 * callback that found it, and exit non-zero. */
static void fsm_fatal(struct agent *a)
{
    uv_timer_t *t;

    if (a->fatal)
        return;
    a->fatal = true;
    LOG_ERROR("agent", "stopping: this server's state cannot follow the "
              "cluster's log");
    if ((t = malloc(sizeof(*t))) == NULL) {
        agent_stop(a);
        return;
    }
    uv_timer_init(a->loop, t);
    t->data = a;
    uv_timer_start(t, fatal_stop, 0, 0);
}

void agent_watch_notify(struct agent *a, const char *kind, uint64_t index)
{
    struct agent_watch *w = a->watch_head.next, *next;

    while (w != &a->watch_head) {
        next = w->next;
        w->fn(w, kind, index);
        w = next;
    }
}

static void on_fsm_change(void *ctx, const char *kind, uint64_t index)
{
    struct agent *a = ctx;

    if (strcmp(kind, "fatal") == 0) {
        fsm_fatal(a);
        return;
    }
    agent_watch_notify(a, kind, index);
}

static int init_raft(struct agent *a, char *err)
{
    struct raftglue_opts o;
    char dir[4200];
    int64_t mult = a->cfg.raft_multiplier > 0 ? a->cfg.raft_multiplier : 5;
    raft_id id;

    memset(&o, 0, sizeof(o));
    /* Consul scales 1 s per multiplier unit (5 s by default); we scale
     * RAFT_MS_PER_MULT so that the default fails over in about a second
     * (the leader steps down after one election timeout without a
     * quorum, followers campaign after 1-2). Heartbeats every tenth. */
    o.election_timeout_ms = (unsigned)(RAFT_MS_PER_MULT * mult);
    o.heartbeat_timeout_ms = o.election_timeout_ms / 10;
    o.snapshot_threshold = (unsigned)a->cfg.raft_snapshot_threshold;
    o.snapshot_trailing = (unsigned)a->cfg.raft_trailing_logs;
    o.snapshot_interval_ms =
        a->cfg.raft_snapshot_interval_ms <= 0 ? 0
        : a->cfg.raft_snapshot_interval_ms > UINT_MAX
            ? UINT_MAX
            : (unsigned)a->cfg.raft_snapshot_interval_ms;
    snprintf(dir, sizeof(dir), "%s/raft", a->data_dir);
    snprintf(a->rpc_addr, sizeof(a->rpc_addr), "%s:%d", a->advertise,
             a->cfg.ports.server);
    id = agent_raft_id(a->node_id);
    a->rpc = rpc_server_new(a->loop, err);
    if (a->rpc == NULL)
        return ERR_NOMEM;
    if (raftglue_init(&a->rg, a->loop, &a->fsm, dir, id, a->rpc_addr, &o,
                      a->rpc, err) != 0)
        return ERR_IO;
    a->has_raft = true;
    return 0;
}

int agent_init(struct agent *a, uv_loop_t *loop, struct cfg *cfg,
               char *err)
{
    int rc;

    memset(a, 0, sizeof(*a));
    raftglue_use_nofork_heap();
    a->loop = loop;
    a->lock_fd = -1;
    a->watch_head.next = a->watch_head.prev = &a->watch_head;
    a->cfg = *cfg;
    a->start_ms = uv_now(loop);
    rc = log_level_parse(a->cfg.log_level);
    if (rc >= 0)
        log_set_level((enum log_level)rc);
    pick_advertise(a);
    rc = prepare_data_dir(a, err);
    if (rc == 0)
        rc = fsm_init_dc(&a->fsm, a->cfg.datacenter, err);
    if (rc == 0)
        rc = agent_acl_init(a, err);
    if (rc != 0) {
        agent_release(a);
        *cfg = a->cfg; /* on failure the caller keeps its config */
        memset(&a->cfg, 0, sizeof(a->cfg));
        return rc;
    }
    a->fsm.on_change = on_fsm_change;
    a->fsm.ctx = a;
    a->fsm.tmp_dir = a->data_dir;
    a->rpcc = rpc_client_new(loop, err);
    if (a->rpcc == NULL) {
        agent_release(a);
        *cfg = a->cfg;
        memset(&a->cfg, 0, sizeof(a->cfg));
        return ERR_NOMEM;
    }
    if (a->cfg.server && (rc = init_raft(a, err)) != 0) {
        agent_release(a);
        *cfg = a->cfg;
        memset(&a->cfg, 0, sizeof(a->cfg));
        return rc;
    }
    memset(cfg, 0, sizeof(*cfg));
    return 0;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGINT: return "interrupt";
    case SIGTERM: return "terminated";
    case SIGQUIT: return "quit";
    case SIGHUP: return "hangup";
    default: return "unknown";
    }
}

static void on_signal(uv_signal_t *h, int sig)
{
    struct agent *a = h->data;
    char err[ERR_LEN];

    LOG_INFO("agent", "Caught signal: %s", signame(sig));
    if (sig == SIGHUP) {
        if (a->reload_fn == NULL)
            return;
        if (a->reload_fn(a, a->reload_ctx, err) != 0)
            LOG_ERROR("agent", "Failed to reload configs: %s", err);
        else
            LOG_INFO("agent", "Reloaded configuration");
        return;
    }
    if (a->stopping) {
        LOG_WARN("agent", "second signal during shutdown: exiting now");
        uv_stop(a->loop);
        return;
    }
    agent_stop(a);
}

/* ---- gossip ---- */

static unsigned ms_u(int64_t v)
{
    return v > 0 && v < (int64_t)UINT32_MAX ? (unsigned)v : 0;
}

static void gossip_timing(const struct cfg_gossip *c, struct gossip_timing *t)
{
    if (ms_u(c->gossip_interval_ms))
        t->gossip_interval = ms_u(c->gossip_interval_ms);
    if (ms_u(c->probe_interval_ms))
        t->probe_interval = ms_u(c->probe_interval_ms);
    if (ms_u(c->probe_timeout_ms))
        t->probe_timeout = ms_u(c->probe_timeout_ms);
    if (ms_u(c->gossip_nodes))
        t->gossip_nodes = ms_u(c->gossip_nodes);
    if (ms_u(c->retransmit_mult))
        t->retransmit_mult = ms_u(c->retransmit_mult);
    if (ms_u(c->suspicion_mult))
        t->suspicion_mult = ms_u(c->suspicion_mult);
    if (ms_u(c->push_pull_interval_ms))
        t->push_pull_interval = ms_u(c->push_pull_interval_ms);
}

static void on_gossip_event(void *ctx, enum gossip_event ev,
                            const struct gossip_member *m)
{
    (void)ev;
    (void)m;
    agent_servers_changed(ctx);
}

void agent_consul_info(const struct agent *a, struct gossip_consul_info *ci)
{
    memset(ci, 0, sizeof(*ci));
    ci->server = a->cfg.server;
    ci->dc = a->cfg.datacenter;
    ci->node_id = a->node_id;
    ci->build = version_build();
    ci->server_port = (uint16_t)a->cfg.ports.server;
    ci->expect = a->cfg.bootstrap_expect;
    ci->bootstrap = a->cfg.bootstrap;
}

static int new_gossip(struct agent *a, char *err)
{
    struct gossip_opts o;
    struct gossip_tagset ts;
    struct gossip_consul_info ci;
    char snap[4200];
    int rc;

    agent_consul_info(a, &ci);
    gossip_tagset_init(&ts);
    if ((rc = gossip_tagset_consul(&ts, &ci, err)) != 0)
        return rc;
    gossip_opts_init(&o);
    o.node_name = a->cfg.node_name;
    o.node_id = a->node_id;
    o.bind_addr = a->cfg.bind_addr != NULL ? a->cfg.bind_addr : "0.0.0.0";
    o.port = (uint16_t)a->cfg.ports.serf_lan;
    o.advertise_addr = a->advertise;
    o.tags = ts.tags;
    o.n_tags = ts.n;
    gossip_timing(&a->cfg.gossip_lan, &o.timing);
    snprintf(snap, sizeof(snap), "%s/serf/local.snapshot", a->data_dir);
    o.snapshot_path = a->cfg.dev ? NULL : snap;
    o.rejoin_after_leave = a->cfg.rejoin_after_leave;
    o.on_event = on_gossip_event;
    o.on_user = agent_event_on_user;
    o.ctx = a;
    a->gossip = gossip_new(a->loop, &o, err);
    if (a->gossip == NULL)
        return ERR_INVAL;
    return gossip_start(a->gossip, err);
}

static void try_join(struct agent *a);

static void on_retry_timer(uv_timer_t *t)
{
    try_join(t->data);
}

static void join_failed(struct agent *a)
{
    if (a->cfg.retry_max > 0 && a->join_attempts >= a->cfg.retry_max) {
        LOG_ERROR("agent", "Join cluster failed: max join retry exhausted "
                           "after %lld attempts",
                  (long long)a->join_attempts);
        return;
    }
    LOG_WARN("agent", "Join cluster failed, will retry: retry_interval=%lldms",
             (long long)a->cfg.retry_interval_ms);
    uv_timer_start(&a->gossip_timer, on_retry_timer,
                   a->cfg.retry_interval_ms > 0
                       ? (uint64_t)a->cfg.retry_interval_ms : 30000,
                   0);
}

static void join_done(void *ctx, int n_joined,
                      const struct gossip_join_result *res, size_t n)
{
    struct agent *a = ctx;

    if (a->stopping || a->left)
        return;
    if (n_joined > 0) {
        a->joined = true;
        LOG_INFO("agent", "Join cluster completed. Synced with %d initial "
                          "agents", n_joined);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (res[i].rc != 0)
            LOG_WARN("agent", "attempt %lld: %s", (long long)a->join_attempts,
                     res[i].err != NULL ? res[i].err : err_str(res[i].rc));
    join_failed(a);
}

static void try_join(struct agent *a)
{
    char err[ERR_LEN];

    if (a->gossip == NULL || a->stopping || a->left || a->joined)
        return;
    a->join_attempts++;
    LOG_INFO("agent", "Joining cluster... attempt %lld",
             (long long)a->join_attempts);
    if (gossip_join(a->gossip, (const char *const *)a->cfg.retry_join,
                    (size_t)a->cfg.n_retry_join, join_done, a, err) != 0) {
        LOG_WARN("agent", "attempt %lld: %s", (long long)a->join_attempts,
                 err);
        join_failed(a);
    }
}

static int start_gossip(struct agent *a, char *err)
{
    uv_timer_init(a->loop, &a->gossip_timer);
    a->gossip_timer.data = a;
    a->gossip_timer_on = true;
    if (a->cfg.ports.serf_lan <= 0)
        return 0;
    if (new_gossip(a, err) != 0) {
        err_prefix(err, "starting gossip");
        return ERR_IO;
    }
    a->gossip_up = true;
    LOG_INFO("agent", "Started gossip on %s:%d (advertise %s)",
             a->cfg.bind_addr, a->cfg.ports.serf_lan, a->advertise);
    if (a->cfg.n_retry_join > 0)
        try_join(a);
    return 0;
}

int agent_start(struct agent *a, char *err)
{
    if (agent_metrics_start(a, err) != 0)
        return ERR_NOMEM;
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(int); i++) {
        uv_signal_init(a->loop, &a->sigs[i]);
        a->sigs[i].data = a;
        uv_signal_start(&a->sigs[i], on_signal, stop_signals[i]);
    }
    uv_timer_init(a->loop, &a->stop_timer);
    a->stop_timer.data = a;
    if (a->rpc != NULL &&
        rpc_server_listen(a->rpc, a->cfg.bind_addr != NULL
                                      ? a->cfg.bind_addr : "0.0.0.0",
                          a->cfg.ports.server, err) != 0) {
        err_prefix(err, "server RPC");
        return ERR_IO;
    }
    if (agent_servers_start(a, err) != 0)
        return ERR_IO;
    if (start_gossip(a, err) != 0)
        return ERR_IO;
    if (agent_wan_start(a, err) != 0)
        return ERR_IO;
    agent_servers_changed(a);
    if (agent_local_start(a, err) != 0)
        return ERR_INVAL;
    LOG_INFO("agent", "started: node '%s' (%s), datacenter '%s', server %s",
             a->cfg.node_name, a->node_id, a->cfg.datacenter,
             a->cfg.server ? "true" : "false");
    return 0;
}

int agent_leave(struct agent *a, gossip_done_cb cb, void *ctx, char *err)
{
    int rc;

    if (a->gossip == NULL || a->stopping)
        return err_set(err, ERR_SHUTDOWN, "agent is shutting down");
    rc = gossip_leave(a->gossip, cb, ctx, err);
    if (rc == 0) {
        a->left = true;
        uv_timer_stop(&a->gossip_timer);
        agent_wan_leave(a); /* a server leaves the WAN pool too */
    }
    return rc;
}

static void stop_timer_closed(uv_handle_t *h)
{
    (void)h;
}

/* Our handles are closed; h2o may still hold idle sockets, so the loop
 * is stopped explicitly after a short grace period. */
static void on_stop_timer(uv_timer_t *t)
{
    struct agent *a = t->data;

    uv_close((uv_handle_t *)t, stop_timer_closed);
    uv_stop(a->loop);
}

static void finish_stop(struct agent *a)
{
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(int); i++)
        uv_close((uv_handle_t *)&a->sigs[i], NULL);
    uv_timer_start(&a->stop_timer, on_stop_timer, 100, 0);
}

/* One of raft's or gossip's closes (or agent_stop itself) is done. */
static void close_done(struct agent *a)
{
    if (--a->pending_closes == 0)
        finish_stop(a);
}

static void rpc_closed(void *ctx)
{
    close_done(ctx);
}

static void raft_closed(struct raftglue *rg)
{
    struct agent *a = (struct agent *)((char *)rg -
                                       offsetof(struct agent, rg));

    LOG_INFO("agent", "raft stopped");
    /* The transport used the listener until now. */
    if (a->rpc != NULL) {
        struct rpc_server *s = a->rpc;

        a->rpc = NULL;
        rpc_server_close(s, rpc_closed, a);
        return;
    }
    close_done(a);
}

static void local_closed(void *ctx)
{
    close_done(ctx);
}

static void srv_timer_closed(uv_handle_t *h)
{
    close_done(h->data);
}

static void gossip_timer_closed(uv_handle_t *h)
{
    close_done(h->data);
}

static void gossip_closed(void *ctx)
{
    struct agent *a = ctx;

    a->gossip = NULL;
    LOG_INFO("agent", "gossip stopped");
    uv_close((uv_handle_t *)&a->gossip_timer, gossip_timer_closed);
}

/* Deferred by the timer: gossip_close must not run inside gossip's own
 * callbacks. */
static void on_gossip_close(uv_timer_t *t)
{
    struct agent *a = t->data;

    gossip_close(a->gossip, gossip_closed, a);
}

static void stop_leave_done(void *ctx, int rc)
{
    struct agent *a = ctx;

    if (rc == ERR_SHUTDOWN)
        return;
    if (rc != 0)
        LOG_WARN("agent", "leave: %s", err_str(rc));
    uv_timer_start(&a->gossip_timer, on_gossip_close, 0, 0);
}

static void stop_gossip(struct agent *a)
{
    char err[ERR_LEN];

    uv_timer_stop(&a->gossip_timer);
    if (a->gossip == NULL) {
        uv_close((uv_handle_t *)&a->gossip_timer, gossip_timer_closed);
        return;
    }
    if (a->cfg.leave_on_terminate && a->gossip_up && !a->left) {
        LOG_INFO("agent", "Requesting shutdown: leaving the cluster");
        a->left = true;
        if (gossip_leave(a->gossip, stop_leave_done, a, err) == 0)
            return;
        LOG_WARN("agent", "%s", err);
    }
    uv_timer_start(&a->gossip_timer, on_gossip_close, 0, 0);
}

void agent_stop(struct agent *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    LOG_INFO("agent", "Gracefully shutting down agent...");
    on_fsm_change(a, "shutdown", a->fsm.last_index);
    for (int i = 0; i < a->n_hooks; i++)
        a->hooks[i](a->hook_ctx[i]);
    agent_watches_stop(a);
    a->pending_closes = 1;
    if (a->srv_timer_on) {
        a->srv_timer_on = false;
        a->pending_closes++;
        uv_timer_stop(&a->srv_timer);
        uv_close((uv_handle_t *)&a->srv_timer, srv_timer_closed);
    }
    if (a->local != NULL) { /* before rpcc: it cancels its own call */
        a->pending_closes++;
        agent_local_close(a->local, local_closed, a);
    }
    if (a->rpcc != NULL) {
        struct rpc_client *c = a->rpcc;

        a->rpcc = NULL;
        a->pending_closes++;
        rpc_client_close(c, rpc_closed, a);
    }
    if (a->has_raft) {
        a->pending_closes++;
        raftglue_close(&a->rg, raft_closed);
    }
    if (a->gossip_timer_on) {
        a->pending_closes++;
        stop_gossip(a);
    }
    a->pending_closes++;
    if (!agent_wan_stop(a, close_done))
        a->pending_closes--;
    agent_metrics_stop(a);
    close_done(a);
}

int agent_run(struct agent *a)
{
    uv_run(a->loop, UV_RUN_DEFAULT);
    LOG_INFO("agent", "shutdown complete");
    return a->fatal ? 1 : 0;
}

static int rm_rf(const char *path)
{
    char cmd[4400];

    /* Only ever our own mkdtemp() directory. */
    if (strncmp(path, "/tmp/proconsul-dev-", 19) != 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
    return system(cmd);
}

static void closed_noop(void *ctx)
{
    (void)ctx;
}

void agent_release(struct agent *a)
{
    /* Only after a failed agent_init: agent_stop closed them otherwise. */
    if (a->rpc != NULL)
        rpc_server_close(a->rpc, closed_noop, NULL);
    if (a->rpcc != NULL)
        rpc_client_close(a->rpcc, closed_noop, NULL);
    if (a->rpc != NULL || a->rpcc != NULL)
        uv_run(a->loop, UV_RUN_DEFAULT);
    a->rpc = NULL;
    a->rpcc = NULL;
    if (a->tmp_data_dir && a->data_dir != NULL && rm_rf(a->data_dir) != 0)
        LOG_WARN("agent", "could not remove '%s'", a->data_dir);
    if (a->lock_fd >= 0)
        close(a->lock_fd);
    a->lock_fd = -1;
    fsm_release(&a->fsm);
    agent_acl_release(a);
    agent_sess_release(a);
    agent_servers_release(a);
    agent_metrics_release(a);
    agent_event_release(a);
    agent_watches_release(a);
    cfg_release(&a->cfg);
    free(a->data_dir);
    a->data_dir = NULL;
}

int agent_add_shutdown_hook(struct agent *a, agent_hook_fn fn, void *ctx)
{
    if (a->n_hooks >= AGENT_MAX_HOOKS)
        return ERR_TOOBIG;
    a->hooks[a->n_hooks] = fn;
    a->hook_ctx[a->n_hooks++] = ctx;
    return 0;
}

void agent_set_reload(struct agent *a, agent_reload_fn fn, void *ctx)
{
    a->reload_fn = fn;
    a->reload_ctx = ctx;
}

int agent_reload_config(struct agent *a, const struct cfg *nc, char *err)
{
    int lvl = log_level_parse(nc->log_level);
    char *dup;

    if (lvl < 0)
        return err_set(err, ERR_INVAL, "invalid log level");
    dup = strdup(nc->log_level);
    if (dup == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    free(a->cfg.log_level);
    a->cfg.log_level = dup;
    log_set_level((enum log_level)lvl);
    LOG_INFO("agent", "log level is now %s", log_level_name(lvl));
    if (a->local != NULL && agent_local_reload(a->local, nc->raw, err) != 0)
        return ERR_INVAL;
    if (agent_watches_reload(a, nc->raw, err) != 0)
        return ERR_INVAL;
    return 0;
}

void agent_watch_add(struct agent *a, struct agent_watch *w)
{
    if (w->linked)
        return;
    w->next = &a->watch_head;
    w->prev = a->watch_head.prev;
    a->watch_head.prev->next = w;
    a->watch_head.prev = w;
    w->linked = true;
}

void agent_watch_del(struct agent *a, struct agent_watch *w)
{
    (void)a;
    if (!w->linked)
        return;
    w->prev->next = w->next;
    w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

int agent_apply(struct agent *a, void *buf, size_t len,
                raftglue_apply_cb cb, void *ctx, char *err)
{
    if (!a->has_raft)
        return err_set(err, ERR_NOLEADER, "No known Consul servers");
    if (!agent_is_leader(a))
        return err_set(err, ERR_NOLEADER, "No cluster leader");
    return raftglue_apply(&a->rg, buf, len, cb, ctx, err);
}

int agent_barrier(struct agent *a, raftglue_barrier_cb cb, void *ctx,
                  char *err)
{
    if (!a->has_raft)
        return err_set(err, ERR_NOLEADER, "No known Consul servers");
    if (!raftglue_is_leader(&a->rg))
        return err_set(err, ERR_NOLEADER, "No cluster leader");
    return raftglue_barrier(&a->rg, cb, ctx, err);
}

bool agent_is_leader(struct agent *a)
{
    return a->has_raft && raftglue_is_leader(&a->rg) &&
           a->ready_term == a->rg.raft.current_term;
}

bool agent_leader_pending(struct agent *a)
{
    return a->has_raft && raftglue_is_leader(&a->rg) &&
           a->ready_term != a->rg.raft.current_term;
}

const char *agent_leader(struct agent *a)
{
    return a->has_raft ? raftglue_leader_address(&a->rg) : NULL;
}

uint64_t agent_last_contact_ms(struct agent *a)
{
    return a->has_raft ? raftglue_last_contact(&a->rg) : 0;
}

const struct cfg_autopilot *agent_autopilot(struct agent *a,
                                            struct cfg_autopilot *buf)
{
    const struct fsm_autopilot *ap = &a->fsm.autopilot;

    if (!ap->set)
        return &a->cfg.autopilot;
    buf->cleanup_dead_servers = ap->cleanup_dead_servers;
    buf->last_contact_threshold_ms = ap->last_contact_threshold_ms;
    buf->max_trailing_logs = ap->max_trailing_logs;
    buf->min_quorum = ap->min_quorum;
    buf->server_stabilization_time_ms = ap->server_stabilization_time_ms;
    return buf;
}

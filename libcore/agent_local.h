/* agent_local.h - this agent's own services and checks (Consul's "local
 * state"), their health check runners, and anti-entropy: keeping the
 * catalog's view of this node equal to them.
 *
 * Layer: agent (uses util, codec, replication: the rpc client, and the
 * check runners of checks.h). Thread: loop only.
 * Owns: every local service and check record (jansson objects in
 * Consul's shapes), the runners (through struct checks), the sync timer
 * and the one catalog call in flight, <data-dir>/local-state.json.
 * Tests: t/t2102-agent-services.sh, t/t3004-acl-anti-entropy.sh
 *
 * Sources: services and checks of the config files (cfg->raw "services"
 * and "checks") are loaded at start and never persisted; those registered
 * through the API are written to <data-dir>/local-state.json (atomically,
 * not in -dev mode) with TTL check states and maintenance checks, and
 * restored at the next start, so a restart loses nothing. A persisted
 * entry with the ID of a config one is dropped (the file wins).
 *
 * Definitions are Consul's service definition and check JSON; keys match
 * case-insensitively with or without underscores ("EnableTagOverride",
 * "enable_tag_override"). A service's "Check" then "Checks" get IDs
 * "service:<id>" (one check) or "service:<id>:<n>" (n from 1) unless they
 * carry "CheckID"/"ID", names "Service '<name>' check" unless named.
 * Maintenance is a critical check "_service_maintenance:<id>" or
 * "_node_maintenance" of type "maintenance".
 *
 * Anti-entropy, as Consul's agent/local: every change marks records out
 * of sync and a partial sync runs 100 ms later; a full sync (read the
 * node's services and checks from the catalog, register what differs,
 * deregister what is not local) runs at start, every 60 s plus a random
 * stagger, and whenever a leader (on a client: a server) appears after
 * none or the leader changes. Writes are Consul's RegisterRequest and
 * DeregisterRequest JSON, PUT /v1/catalog/register|deregister over the
 * rpc client to the leader (servers) or any server (clients). Failures
 * are retried with backoff (250 ms doubling to 15 s); a failure is logged
 * as a warning at most once a minute while it lasts. The "serfHealth"
 * check and the "consul" service belong to the leader and are never
 * touched. A check whose output alone changed is synced at the latest 5
 * minutes later (check_update_interval); a status change at once.
 *
 * ACL tokens, as Consul: a service or check is written (registered,
 * deregistered) with the token it was registered with (a check without
 * one: its service's), else, for config definitions without "token",
 * acl.tokens.config_file_service_registration, else acl.tokens.default;
 * node info and the full sync's reads use acl.tokens.agent, else the
 * default token. A write the catalog refuses with 403 (permission
 * denied, ACL not found) is logged ("Service registration blocked by
 * ACLs") and counted in sync until the next full sync, without holding
 * up the other records.
 */
#ifndef PROCONSUL_AGENT_LOCAL_H
#define PROCONSUL_AGENT_LOCAL_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

struct agent;
struct agent_local;

/* Create the local state of a (which must be started: gossip, Raft),
 * store it in a->local, load config and persisted definitions, start
 * their runners and the sync timer. An invalid config definition is an
 * error (ERR_INVAL, "service 'web': ..."); nothing is left running then. */
int agent_local_start(struct agent *a, char *err);
/* SIGHUP / PUT /v1/agent/reload: register the "services" and "checks"
 * of the new merged config tree raw (new or changed ones; a check keeps
 * its state) and remove the config ones it no longer has. Stops at the
 * first invalid definition (ERR_INVAL, "service 'web': ..."), keeping
 * what was applied before it. */
int agent_local_reload(struct agent_local *l, const json_t *raw, char *err);
/* Stop runners, timer and any catalog call; cb runs once everything is
 * closed and the state freed (a->local is NULL by then). */
typedef void (*agent_local_closed_fn)(void *ctx);
void agent_local_close(struct agent_local *l, agent_local_closed_fn cb,
                       void *ctx);

/* ---- changes (the agent HTTP API) ----
 * Errors: ERR_INVAL (HTTP 400) with Consul's message ("Missing service
 * name", "Invalid check: TTL must be > 0 for TTL checks", ...);
 * ERR_NOTFOUND (404: "Unknown service ID \"x\". Ensure that the service
 * ID is passed, not the service name."); ERR_UNSUPPORTED (500: scripts
 * disabled, a TTL update of a check without TTL); ERR_IO (500: the state
 * could not be persisted; the change is kept in memory).
 * token: the ACL secret of the registering request (NULL: none; copied).
 * Anti-entropy writes the service (and its checks) or the check with it,
 * as Consul does; a re-registration replaces it. It is persisted with
 * the record (local-state.json, mode 0600) and never shown in a view. */
int agent_local_register_service(struct agent_local *l, const json_t *def,
                                 bool replace_existing_checks,
                                 const char *token, char *err);
int agent_local_deregister_service(struct agent_local *l, const char *id,
                                   char *err);
int agent_local_register_check(struct agent_local *l, const json_t *def,
                               const char *token, char *err);
int agent_local_deregister_check(struct agent_local *l, const char *id,
                                 char *err);
/* pass/warn/fail/update: status "passing", "warning" or "critical";
 * output is cut to 4 KiB as Consul does. */
int agent_local_update_ttl(struct agent_local *l, const char *id,
                           const char *status, const char *output,
                           char *err);
/* reason NULL or "": Consul's default notes. */
int agent_local_service_maintenance(struct agent_local *l, const char *id,
                                    bool enable, const char *reason,
                                    char *err);
void agent_local_node_maintenance(struct agent_local *l, bool enable,
                                  const char *reason);

/* ---- views: new references, in Consul's shapes ---- */

/* /v1/agent/services: {id: AgentService}, IDs sorted. */
json_t *agent_local_services(struct agent_local *l);
/* One AgentService (no ContentHash), or NULL when unknown. */
json_t *agent_local_service(struct agent_local *l, const char *id);
/* /v1/agent/checks: {id: HealthCheck}, IDs sorted. */
json_t *agent_local_checks(struct agent_local *l);

/* Counters for /v1/agent/self "Stats.agent". */
struct agent_local_stats {
    int services, checks, check_ttls, check_monitors;
};
void agent_local_stats(struct agent_local *l, struct agent_local_stats *st);

#endif

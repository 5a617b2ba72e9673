/* agent_local_int.h - what agent_local*.c share: the records, the state
 * struct, definition parsing, persistence and sync entry points.
 *
 * Layer: agent. Thread: loop only.
 * Records live in two arrays sorted by ID (Consul's JSON maps are sorted
 * by key, so views come out in order for free). A deregistered record
 * stays as a tombstone (deleted) until the catalog has forgotten it.
 * Every change bumps the record's gen; a catalog write marks it in sync
 * only if gen did not move while the write was in flight.
 * Tokens: each record keeps the ACL secret it was registered with (the
 * request's, or the config definition's "token"; NULL: none), malloc'd
 * and wiped before it is freed; anti-entropy writes the record with it
 * (see local_svc_token). It never appears in a view.
 */
#ifndef PROCONSUL_AGENT_LOCAL_INT_H
#define PROCONSUL_AGENT_LOCAL_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent.h"
#include "agent_local.h"
#include "checks.h"

#define LOCAL_OUTPUT_MAX 4096
#define LOCAL_MAINT_NODE "_node_maintenance"
#define LOCAL_MAINT_SVC "_service_maintenance:"

struct local_svc {
    char *id;
    json_t *svc;          /* NodeService: ID, Service, Tags, Meta, Port,
                           * Address, TaggedAddresses, Weights,
                           * EnableTagOverride[, Kind, Proxy, Connect] */
    char *token;          /* ACL secret it was registered with; NULL */
    bool from_config;
    bool in_sync;
    bool deleted;
    uint64_t gen;
};

struct local_chk {
    char *id;
    json_t *chk;          /* HealthCheck: Node, CheckID, Name, Status,
                           * Notes, Output, ServiceID, ServiceName,
                           * ServiceTags, Type, Interval, Timeout */
    json_t *def;          /* runner definition; NULL: none (maintenance) */
    char *token;          /* ACL secret it was registered with; NULL */
    bool from_config;
    bool in_sync;
    bool deleted;
    bool is_ttl;
    uint64_t gen;
    uint64_t critical_since;  /* uv_now() ms; 0 unless critical */
    int64_t dereg_after_ms;   /* DeregisterCriticalServiceAfter; 0: none */
    uint64_t output_due;      /* output-only change: sync by then; 0 none */
    uint64_t ttl_expires;     /* wall ms the last TTL update runs out */
};

struct agent_local {
    struct agent *a;
    struct checks *checks;
    struct local_svc **svcs;
    size_t n_svcs, cap_svcs;
    struct local_chk **chks;
    size_t n_chks, cap_chks;
    char *state_path;      /* NULL: nothing persisted (-dev) */
    const char *quiet_id;  /* runner updates of this check are ignored */
    bool closing;
    int close_pending;
    agent_local_closed_fn closed_cb;
    void *closed_ctx;
    /* sync (agent_local_sync.c) */
    uv_timer_t timer;
    bool timer_on;
    uint64_t change_due;   /* partial sync due at (uv_now ms); 0: none */
    uint64_t full_due;     /* next periodic full sync */
    uint64_t reap_due;     /* next DeregisterCriticalServiceAfter pass */
    uint64_t retry_at;     /* after a failure, nothing before this */
    bool full_pending;
    bool node_in_sync;
    bool busy;
    bool in_full;          /* the sync in flight began with a read */
    struct rpc_call *call;
    json_t *ops;           /* catalog writes still to send, in order */
    json_t *cat_node;      /* full sync: the catalog's node and services */
    int backoff_ms;
    uint64_t fail_since, last_warn;
    char last_err[ERR_LEN];
    bool had_server;
    char last_leader[80];
};

/* ---- records (agent_local.c) ---- */
struct local_svc *local_svc_get(struct agent_local *l, const char *id);
struct local_chk *local_chk_get(struct agent_local *l, const char *id);
/* Drop a record at once (no tombstone). */
void local_svc_drop(struct agent_local *l, const char *id);
void local_chk_drop(struct agent_local *l, const char *id);
/* Replace the secret in *slot by a copy of token (NULL or "": none),
 * wiping the old one. ERR_NOMEM (then *slot is NULL). */
int local_token_set(char **slot, const char *token);
/* Wipe and free a secret; NULL is a no-op. */
void local_token_free(char *token);
/* Insert or replace a service record built by local_def_service; takes
 * svc. token (borrowed; NULL: none) replaces the record's; a new token
 * alone also makes it sync again. Returns the record or NULL (out of
 * memory; svc freed). */
struct local_svc *local_svc_put(struct agent_local *l, json_t *svc,
                                bool from_config, const char *token);
/* Insert or replace a check (takes chk and def): keeps the status and
 * output of a live check with the same ID, starts the runner when def
 * is set; token as for local_svc_put. ERR_UNSUPPORTED/ERR_INVAL from the
 * runner, record dropped. */
int local_chk_put(struct agent_local *l, json_t *chk, json_t *def,
                  bool from_config, const char *token, char *err);
/* A runner or TTL update: a status change syncs at once, an output
 * change within 5 minutes. */
void local_chk_status(struct agent_local *l, struct local_chk *c,
                      const char *status, const char *output);
/* Tombstone a service, forget its checks. */
void local_remove_service(struct agent_local *l, const char *id);
/* Register a parsed service and its checks (validated), all with token
 * (borrowed; NULL: none). */
int local_add_service(struct agent_local *l, json_t *svc, json_t *checks,
                      bool from_config, bool replace, const char *token,
                      char *err);

/* One of the closes of agent_local_close is done (ctx: l). */
void local_close_step(void *ctx);

/* ---- definitions (agent_local_def.c) ---- */
/* A copy of obj with its keys renamed to their canonical spelling;
 * NULL with ERR_INVAL's message in err (Consul's decode errors: "Request
 * decode failed: json: unknown field \"FTP\"", a bad duration). */
json_t *local_canon_service(const json_t *obj, char *err);
json_t *local_canon_check(const json_t *obj, char *err);
/* Service definition -> NodeService record (*svc) and an array of
 * [check record, runner definition] pairs (*checks). ERR_INVAL. */
int local_def_service(struct agent_local *l, const json_t *def,
                      bool from_config, json_t **svc, json_t **checks,
                      char *err);
/* Check definition (/v1/agent/check/register, config "checks") ->
 * record and runner definition. ERR_INVAL, ERR_NOTFOUND (ServiceID). */
int local_def_check(struct agent_local *l, const json_t *def,
                    bool from_config, json_t **chk, json_t **rdef,
                    char *err);
/* A HealthCheck record for a maintenance check. */
json_t *local_maint_check(struct agent_local *l, const char *id,
                          const struct local_svc *s, const char *notes);
/* A copy of s cut as Consul cuts check output. */
char *local_cut_output(const char *s);

/* ---- persistence (agent_local_persist.c) ---- */
/* Write every API record and TTL state; ERR_IO. */
int local_persist(struct agent_local *l, char *err);
/* Config definitions, then the state file. */
int local_load(struct agent_local *l, char *err);

/* ---- anti-entropy (agent_local_sync.c) ---- */
int local_sync_start(struct agent_local *l, char *err);
/* Something changed: sync soon. */
void local_sync_kick(struct agent_local *l);
/* The secret a catalog write of s (NULL: a service we do not have)
 * carries: its own token, else acl.tokens.config_file_service_
 * registration for a config one, else acl.tokens.default; NULL: none.
 * Borrowed until the record or the agent's tokens change. */
const char *local_svc_token(struct agent_local *l,
                            const struct local_svc *s);
/* The same for a check: its own, else its service's, else as above. */
const char *local_chk_token(struct agent_local *l,
                            const struct local_chk *c);
/* Stop: cancel the call, close the timer (counted in close_pending). */
void local_sync_close(struct agent_local *l);

#endif

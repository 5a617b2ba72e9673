/* checks.h - health check runners on the agent's loop: HTTP, TCP,
 * script (args) and TTL checks, as Consul's agent runs them.
 *
 * Layer: agent (uses util, codec, libuv, libcurl). Thread: loop only.
 * Owns: one runner per check id: its timers, child processes, sockets
 * and curl handles.
 * Tests: t/unit/check_checks.c, t/t2*.sh
 *
 * Definitions are Consul's check JSON (agent API and config files use the
 * same keys; key case and '_' are ignored, as Go's decoder and Consul's
 * snake_case aliases allow): "Name", "CheckID"/"ID", "Interval",
 * "Timeout", "HTTP", "Method", "Header" ({"K":["v"]}), "Body",
 * "TLSSkipVerify", "DisableRedirects", "TCP", "Args"/"ScriptArgs", "TTL",
 * "Notes", "Status" (initial), "ServiceID",
 * "DeregisterCriticalServiceAfter", "SuccessBeforePassing",
 * "FailuresBeforeWarning", "FailuresBeforeCritical", "OutputMaxSize"
 * (only lowers the 4 KiB cap). Name, Notes, ServiceID and
 * DeregisterCriticalServiceAfter are the agent's business, ignored here.
 * Durations are Go strings ("10s"); a JSON number is nanoseconds from the
 * API (Go's time.Duration) and seconds from config files (cfg's rule).
 * Running: an interval check first runs after a random delay in
 * [0, Interval) (Consul's lib.RandomStagger), then Interval after each
 * run ends; Interval is raised to 1 s at least (checks.MinInterval).
 * Results: HTTP 2xx passing, 429 warning, anything else (or no answer
 * within Timeout, default 10 s) critical, Output "HTTP GET <url>: 200 OK
 * Output: <body, last 4 KiB>", redirects followed (at most 10) unless
 * DisableRedirects; transport errors in Go's words ("Get \"<url>\": dial
 * tcp 127.0.0.1:1: connect: connection refused"). TCP "TCP connect
 * <addr>: Success" or critical "dial tcp <ip:port>: connect: ..." (i/o
 * timeout after Timeout, default 10 s). Script exit 0 passing, 1
 * warning, other critical, Output = combined stdout+stderr, last 4 KiB
 * ("Captured 4096 of N bytes\n...\n" before it when cut), killed
 * (SIGKILL to its process group) at Timeout (default 30 s): critical
 * "Timed out (30s) running check" (+ "\n\n" and the output so far). TTL
 * starts at the initial status and turns critical "TTL expired" (or "TTL
 * expired (last output before timeout follows): <output>") when it
 * lapses; checks_ttl_update() moves it and restarts the TTL.
 * SuccessBeforePassing / FailuresBeforeWarning / FailuresBeforeCritical
 * work as Consul's StatusHandler (the first result always counts; TTL
 * updates, a script's timeout or spawn failure bypass them, as in
 * Consul). Output is valid UTF-8 (bad bytes and NULs become U+FFFD,
 * as Go's JSON shows bad bytes). Nothing here blocks the loop.
 */
#ifndef PROCONSUL_CHECKS_H
#define PROCONSUL_CHECKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

struct checks;

struct checks_opts {
    bool enable_script_checks;        /* scripts from the API and files */
    bool enable_local_script_checks;  /* scripts from config files only */
};

/* A check's status changed (or its output did): status is "passing",
 * "warning" or "critical". Strings are borrowed for the call. It runs
 * once from inside checks_add (before it returns) with the initial
 * status and output "", then only when status or output differ from the
 * last call for that id. The callback may call any checks_* function,
 * checks_close included. */
typedef void (*checks_update_fn)(void *ctx, const char *check_id,
                                 const char *status, const char *output);

struct checks *checks_new(uv_loop_t *loop, const struct checks_opts *o,
                          checks_update_fn fn, void *ctx, char *err);

/* Tests: lower the 1 s floor on Interval and turn the random first-run
 * delay off (first run at once). Applies to checks added afterwards. */
void checks_set_timing(struct checks *c, uint64_t min_interval_ms,
                       bool stagger);

/* Validate a definition without starting it. from_config: it comes from
 * a config file (enable_local_script_checks applies). Messages are
 * Consul's, unprefixed (its HTTP API adds "Invalid check: ", its agent
 * "Check is not valid: "): ERR_INVAL "Interval must be > 0 for Script,
 * HTTP, H2PING, TCP, UDP or OSService checks", "TTL must be > 0 for TTL
 * checks", "Interval and TTL cannot both be specified", "Bad check
 * status", "FailuresBeforeWarning can't be higher than
 * FailuresBeforeCritical", "time: invalid duration \"x\"", Go's JSON
 * type errors, and for scripts "Scripts are disabled on this agent; to
 * enable, configure 'enable_script_checks' or
 * 'enable_local_script_checks' to true" (from_config) or "Scripts are
 * disabled on this agent from remote calls; to enable, configure
 * 'enable_script_checks' to true" (API). ERR_UNSUPPORTED for kinds
 * Consul has and we do not run (GRPC, UDP, H2PING, Docker, OSService,
 * Alias): "GRPC checks are not supported by this agent". */
int checks_validate(const struct checks *c, const json_t *def,
                    bool from_config, char *err);

/* Start running def under id (replacing a runner with the same id; the
 * new one starts from the definition's status). ERR_INVAL "CheckID
 * missing", the checks_validate errors, ERR_SHUTDOWN after checks_close.
 */
int checks_add(struct checks *c, const char *id, const json_t *def,
               bool from_config, char *err);
/* Stop and forget id (a running script is killed, a request dropped);
 * ERR_NOTFOUND when unknown. No update callback for id after this. */
int checks_remove(struct checks *c, const char *id);
/* TTL checks: set status ("passing"/"warning"/"critical") and output
 * (over 4 KiB: cut, "... (captured 4096 of N bytes)" appended),
 * restarting the TTL. ERR_NOTFOUND, or ERR_INVAL when id is not a TTL
 * check, both "CheckID \"<id>\" does not have associated TTL"; ERR_INVAL
 * "Invalid check status: '<s>'". */
int checks_ttl_update(struct checks *c, const char *id, const char *status,
                      const char *output, char *err);

/* Stop everything; cb runs after every handle and child is gone and c
 * is freed (always later, from the loop). No update callback runs after
 * checks_close. */
typedef void (*checks_close_cb)(void *ctx);
void checks_close(struct checks *c, checks_close_cb cb, void *ctx);

#endif

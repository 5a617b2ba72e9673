/* agent_watches.h - the `watches` of the agent config, run as child
 * processes (`proconsul watch ...` against this agent's HTTP API).
 *
 * Layer: agent (uses util, codec). Thread: loop only.
 * Owns: the children, their restart timers and command lines.
 * Tests: t/t8202-watch.sh
 */
#ifndef PROCONSUL_AGENT_WATCHES_H
#define PROCONSUL_AGENT_WATCHES_H

#include <jansson.h>

#include "err.h"

struct agent;

/* Start one child per entry of `watches` (checked by cfg_build). Call
 * once the HTTP API listens. */
int agent_watches_start(struct agent *a, char *err);
/* Stop every child (SIGTERM to its process group) and close the
 * handles; called by agent_stop. */
void agent_watches_stop(struct agent *a);
/* A reload: when the `watches` of raw differ from those running, stop
 * them and start the new list. */
int agent_watches_reload(struct agent *a, const json_t *raw, char *err);
/* Free what is left (agent_release). */
void agent_watches_release(struct agent *a);

#endif

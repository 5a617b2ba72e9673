/* agent_event.h - Consul user events (`consul event`, /v1/event/...).
 *
 * Layer: agent (uses util, codec, replication). Thread: loop only.
 * Owns: the ring of the last AGENT_EVENT_BUF events this agent received
 * (and that passed its filters), each event's strings and payload.
 * An event travels as a serf user event named "consul:event:<name>"
 * whose payload is Consul's UserEvent, msgpack-encoded as a map with the
 * keys "ID", "n" (name), "p" (payload, omitted when empty), "nf", "sf",
 * "tf" (node/service/tag regex filters, omitted when empty) and "v"
 * (version, 1). The receiver applies the filters, as Consul's agents do.
 * Tests: t/unit/check_agent_event.c, t/t8201-events.sh
 */
#ifndef PROCONSUL_AGENT_EVENT_H
#define PROCONSUL_AGENT_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util_rand.h"

struct agent;

#define AGENT_EVENT_BUF 256
#define AGENT_EVENT_PREFIX "consul:event:"
#define AGENT_EVENT_VERSION 1

struct agent_uevent {
    char id[UTIL_UUID_LEN + 1];
    char *name;               /* heap, never NULL once decoded */
    unsigned char *payload;   /* heap; NULL: none */
    size_t len;
    char *node_filter;        /* heap; NULL: none */
    char *service_filter;
    char *tag_filter;
    int64_t version;
    uint64_t ltime;
};

/* Free the strings of e (not e itself) and zero it. */
void agent_uevent_release(struct agent_uevent *e);

/* Consul's checks before a fire: a name, a tag filter only with a
 * service filter, each filter a valid regex. Messages as Consul's
 * ("User event missing name", "Invalid node filter: ..."). */
int agent_uevent_validate(const struct agent_uevent *e, char *err);

/* The serf payload for e: heap *out of *len bytes. */
int agent_uevent_encode(const struct agent_uevent *e, unsigned char **out,
                        size_t *len, char *err);
/* Decode a serf payload into out (zeroed first; release it even on
 * failure). Unknown keys are skipped; strings may come as str or bin. */
int agent_uevent_decode(const void *p, size_t n, struct agent_uevent *out,
                        char *err);

/* Does e pass its filters on node `node` with local services `services`
 * ({id: {"Service": name, "Tags": [...]}}, as /v1/agent/services; may be
 * NULL)? The service filter matches a service's ID or name; a bad regex
 * never matches. */
bool agent_uevent_match(const struct agent_uevent *e, const char *node,
                        const json_t *services);

/* Consul's uuidToUint64: the two 64-bit halves of the UUID XORed; 0
 * when id is not a UUID. */
uint64_t agent_uevent_index(const char *id);

/* Consul's JSON for e: {ID, Name, Payload (base64 or null), NodeFilter,
 * ServiceFilter, TagFilter, Version, LTime}. New reference. */
json_t *agent_uevent_json(const struct agent_uevent *e);

/* ---- the agent's ring ---- */

/* Fill e's ID and version, encode it and send it to the LAN pool as
 * "consul:event:<name>". e stays the caller's. ERR_TOOBIG with serf's
 * message when it does not fit in a user event. */
int agent_event_fire(struct agent *a, struct agent_uevent *e, char *err);

/* The gossip callback (gossip_user_fn, ctx = the agent): non-Consul
 * events are ignored; Consul's are decoded, filtered and kept, and
 * blocked queries are woken (watch kind "event"). */
void agent_event_on_user(void *ctx, const char *name, const void *payload,
                         size_t len, uint64_t ltime);

/* Events kept, oldest first; borrowed until the next event arrives. */
size_t agent_event_count(struct agent *a);
const struct agent_uevent *agent_event_get(struct agent *a, size_t i);

/* Free the ring (agent_release). */
void agent_event_release(struct agent *a);

#endif

/* cat.h - the service catalog: nodes, services and health checks.
 *
 * Layer: store (uses util, codec: jansson). Thread: loop only.
 * Owns: every node, service and check record (jansson objects in
 * Consul's JSON shapes), the per-table indexes and the per-node and
 * per-service-name indexes used by blocking queries.
 * Tests: t/unit/check_cat.c
 *
 * Records are kept as Consul shows them, so that the HTTP layer can hand
 * them out without a translation table:
 *   node     {"ID","Node","Address","Datacenter","TaggedAddresses":{},
 *             "Meta":{},"CreateIndex","ModifyIndex"}
 *   service  {"ID","Service","Tags":[],"Address","TaggedAddresses":{name:
 *             {"Address","Port"}},"Meta":{},"Port","Weights":{"Passing":1,
 *             "Warning":1},"EnableTagOverride":false,"Kind":"",
 *             "CreateIndex","ModifyIndex"}  (kept per node)
 *   check    {"Node","CheckID","Name","Status","Notes","Output",
 *             "ServiceID","ServiceName","ServiceTags":[],"Type",
 *             "Interval","Timeout","Definition":{},"CreateIndex",
 *             "ModifyIndex"}
 * always with exactly these fields, in this order. Status is "passing",
 * "warning" or "critical". A check's ServiceName and ServiceTags follow
 * its service (a renamed or retagged service rewrites them). Indexes
 * are Raft indexes (the index of the command that last changed the
 * record).
 *
 * Names are case-insensitive, as in Consul (ASCII folding): node names,
 * service IDs (per node), check IDs (per node), service names and node
 * IDs are looked up and ordered by their lower-case form; a record
 * keeps the spelling it was last registered with.
 *
 * Table indexes: cat_index(CAT_NODES / CAT_SERVICES / CAT_CHECKS) is the
 * highest index of any change (including deletions) in that table. A
 * write that changes nothing (anti-entropy re-registering the same
 * data) changes no index and no ModifyIndex. cat_service_index(name) is
 * the highest index of a change to an instance of that service name or
 * to one of its checks, including the node-level checks and the node
 * record of a node it runs on; so a watcher of one service is not woken
 * by another's changes. When the last instance of a name goes, the name
 * is forgotten and the store remembers that index as the "service
 * extinction" index, which cat_service_index returns for names it does
 * not know: a watcher of a vanished or not-yet-registered name wakes on
 * its (re)appearance and on extinctions, never misses a change, and
 * memory stays bounded by what is registered. Nodes likewise.
 *
 * Results of the reads are new references to new arrays/objects, but
 * the records inside them (and the arrays/objects inside ServiceNode
 * entries) are shared with the store: treat everything returned as
 * read-only, json_deep_copy() whatever you want to change. Removing
 * elements from the returned top-level array or object is fine.
 */
#ifndef PROCONSUL_CAT_H
#define PROCONSUL_CAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cat_store;

enum cat_table { CAT_NODES, CAT_SERVICES, CAT_CHECKS, CAT_NTABLES };

/* dc fills "Datacenter" of nodes registered without one (NULL: "dc1"). */
struct cat_store *cat_new(const char *dc);
void cat_free(struct cat_store *s);
const char *cat_datacenter(const struct cat_store *s);

uint64_t cat_index(const struct cat_store *s, enum cat_table t);
/* Max of the three table indexes. */
uint64_t cat_max_index(const struct cat_store *s);
/* Last change to service `name` (instances, their checks, their nodes);
 * for a name with no instance, the last service extinction index, or
 * the services table index when no name ever went extinct. */
uint64_t cat_service_index(const struct cat_store *s, const char *name);
/* Last change to node `name` (node, its services or checks); for an
 * unknown node the last node deletion index, else the nodes index. */
uint64_t cat_node_index(const struct cat_store *s, const char *name);
/* Number of records in a table. O(1) for nodes, O(nodes) otherwise. */
size_t cat_count(const struct cat_store *s, enum cat_table t);

/* ---- writes (called from FSM apply with the command's Raft index) ----
 *
 * Consul's RegisterRequest: {"Node" (required), "ID" (UUID), "Address"
 * (required unless SkipNodeUpdate), "Datacenter", "TaggedAddresses",
 * "NodeMeta", "Service": {...}, "Check": {...}, "Checks": [...],
 * "SkipNodeUpdate"}; field names match case-insensitively and unknown
 * fields are ignored, as Go decodes them. Service fields as in the
 * agent API ("ID" defaults to "Service"); a check's "CheckID" defaults
 * to its "Name", "Status" to "critical", "Node" to the request's; a
 * check with a "ServiceID" must name the request's service or one
 * already on that node. Everything is validated before anything
 * changes: ERR_INVAL with Consul's message and the store untouched.
 * Messages (Consul's server answers them as HTTP 500, decode errors as
 * 400):
 *   "Request decode failed: json: cannot unmarshal string into Go struct
 *    field RegisterRequest.Service.Port of type int"
 *   "Must provide node"
 *   "Must provide address if SkipNodeUpdate is not set"
 *   "Bad node ID: uuid string is wrong length" (or "...improperly
 *    formatted")
 *   "Must provide service name" / "Must provide service name
 *    (Service.Service) when service ID is provided"
 *   "Invalid service address" (0.0.0.0, ::)
 *   "failed inserting service: Invalid Service Meta for node N and
 *    serviceID S: Couldn't load metadata pair ('k', 'v'): Key contains
 *    invalid characters" (and Consul's other meta limits)
 *   "check node \"x\" does not match node \"y\""
 *   "Bad check status"
 *   "failed inserting check on node \"n\": Missing service registration"
 *   "failed inserting node: Error while renaming Node ID: ..." (a node ID
 *    held by another live node name)
 * A node ID registered under a new name renames the node: the old name
 * and everything on it is deregistered (Consul's rule). Unchanged
 * records keep their ModifyIndex and wake nobody. */
int cat_register(struct cat_store *s, uint64_t index, const json_t *req,
                 char *err);
/* DeregisterRequest {"Node", "ServiceID"?, "CheckID"?}: ServiceID wins
 * over CheckID; without either the node and everything on it goes; a
 * service takes its checks with it. "Must provide node". Unknown
 * node/service/check is not an error (nothing changes). */
int cat_deregister(struct cat_store *s, uint64_t index, const json_t *req,
                   char *err);
/* The state-independent part of the validation above (types, required
 * fields, formats), for use before a request goes into the Raft log. */
int cat_check_register(const json_t *req, char *err);
int cat_check_deregister(const json_t *req, char *err);

/* ---- reads: new references in Consul's response shapes ----
 * NULL only when out of memory (or as noted). Lookups by name are
 * case-insensitive. */

/* /v1/catalog/nodes: [node...] sorted by name. */
json_t *cat_nodes(const struct cat_store *s);
/* /v1/catalog/node/<n>: {"Node":node,"Services":{id:service}}, or NULL
 * for an unknown node. */
json_t *cat_node(const struct cat_store *s, const char *node);
/* /v1/catalog/services: {"name":[tags, deduplicated, sorted]}, names in
 * order. */
json_t *cat_services(const struct cat_store *s);
/* /v1/catalog/service/<name>[?tag=]: ServiceNode objects {"ID" (node
 * ID),"Node","Address","Datacenter","TaggedAddresses","NodeMeta",
 * "ServiceKind","ServiceID","ServiceName","ServiceTags",
 * "ServiceAddress","ServiceTaggedAddresses","ServiceWeights",
 * "ServiceMeta","ServicePort","ServiceEnableTagOverride","CreateIndex",
 * "ModifyIndex" (the service's)}, by node name then service ID. tag may
 * be NULL; it matches case-insensitively. [] for an unknown name. */
json_t *cat_service_nodes(const struct cat_store *s, const char *name,
                          const char *tag);
/* /v1/health/node/<n>: [check...] by check ID ([] if unknown). */
json_t *cat_node_checks(const struct cat_store *s, const char *node);
/* /v1/health/checks/<svc>: checks of the name's instances, by node then
 * check ID. */
json_t *cat_service_checks(const struct cat_store *s, const char *name);
/* /v1/health/state/<st> (st: "any", "passing", "warning", "critical"):
 * [check...] by node then check ID; NULL for any other st. */
json_t *cat_checks_in_state(const struct cat_store *s, const char *state);
/* /v1/health/service/<name>[?tag=][&passing]: [{"Node":node,
 * "Service":service,"Checks":[node-level checks, then the service's,
 * each by check ID]}] by node then service ID; passing_only drops
 * entries with any non-passing check (node-level ones included). */
json_t *cat_service_health(const struct cat_store *s, const char *name,
                           const char *tag, bool passing_only);

/* ---- snapshot ---- */

/* Visit every record (borrowed) in a stable order: all nodes (node is
 * NULL), then all services, then all checks (node is the node's name),
 * each group by node then ID. Stops at and returns fn's first non-zero
 * result. */
typedef int (*cat_visit_fn)(void *ctx, enum cat_table t, const char *node,
                            const json_t *rec);
int cat_foreach(const struct cat_store *s, cat_visit_fn fn, void *ctx);
/* Insert one record as visited (indexes kept) into a fresh store, in
 * cat_foreach's order (a node before its services, a service before its
 * checks); the table, node and service-name indexes rise to cover it.
 * ERR_INVAL for a record that is not exactly of its shape (fields,
 * types, 1 <= CreateIndex <= ModifyIndex, valid status, meta and node
 * ID), a duplicate, a service or check whose node is missing, or a
 * check whose service is missing or whose ServiceName/ServiceTags
 * disagree with it. */
int cat_restore_record(struct cat_store *s, enum cat_table t,
                       const char *node, const json_t *rec, char *err);
/* Raise a table index (they also cover deletions). */
void cat_set_index(struct cat_store *s, enum cat_table t, uint64_t index);

/* The indexes that records alone do not determine. The values are part
 * of the snapshot format: never renumber. */
enum cat_index_kind {
    CAT_IDX_NODES = CAT_NODES,       /* table indexes; name NULL */
    CAT_IDX_SERVICES = CAT_SERVICES,
    CAT_IDX_CHECKS = CAT_CHECKS,
    CAT_IDX_NODE = 3,                /* per node; name = node name */
    CAT_IDX_SERVICE = 4,             /* per service name; name = it */
    CAT_IDX_NODE_GONE = 5,           /* node extinction; name NULL */
    CAT_IDX_SERVICE_GONE = 6,        /* service extinction; name NULL */
    CAT_IDX_COUNT
};
/* Visit the non-zero table indexes, every node's and service name's
 * index, then the non-zero extinction indexes. */
typedef int (*cat_index_fn)(void *ctx, enum cat_index_kind k,
                            const char *name, uint64_t index);
int cat_foreach_index(const struct cat_store *s, cat_index_fn fn, void *ctx);
/* Set one index after all records are restored: ERR_INVAL for an
 * unknown kind, a name given or missing against the kind, an unknown
 * node or service name, a second value for the same index, 0, or a
 * value below what the restored records already imply. */
int cat_restore_index(struct cat_store *s, enum cat_index_kind k,
                      const char *name, uint64_t index, char *err);

#endif

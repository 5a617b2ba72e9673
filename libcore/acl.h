/* acl.h - ACL rules, authorizers and the replicated ACL state (tokens,
 * policies, roles, the bootstrap record).
 *
 * Layer: store (uses util, codec: hcl, jansson; OpenSSL for hashes).
 * Thread: loop only (a store); rules and authorizers are plain data.
 * Owns: every token, policy and role (jansson objects in Consul's JSON
 * shapes), their compiled rules, the bootstrap index and the cluster
 * secret.
 * Tests: t/unit/check_acl.c
 *
 * Model (Consul 1.x, the "new" ACL system):
 * - A policy's Rules are HCL or JSON. Labeled resources: agent, event,
 *   key, node, query, service, session, each as `res "name" {policy =
 *   "..."}` (exact) and `res_prefix "name" {...}` (prefix); unlabeled:
 *   acl, keyring, mesh, operator, peering (`operator = "read"`).
 *   Dispositions: read, write, deny, and list (key_prefix only).
 * - Lookup of (resource, name): an exact rule for name wins, else the
 *   longest prefix rule that is a prefix of name; no rule: "default".
 *   Rules of several policies for the same (resource, exact|prefix,
 *   name) merge with deny > write > list > read.
 * - Access: write grants read, list and write; list grants read and
 *   list; read grants read; deny grants nothing and stops the lookup.
 *   A "default" decision falls to the agent's default_policy, except
 *   for the acl resource, which without a rule needs a management token
 *   (Consul's allow-all authorizer does not manage ACLs).
 * - A management token (one holding the global-management policy)
 *   passes every check.
 */
#ifndef PROCONSUL_ACL_H
#define PROCONSUL_ACL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Built-in objects (Consul's IDs). */
#define ACL_GLOBAL_MGMT_ID "00000000-0000-0000-0000-000000000001"
#define ACL_GLOBAL_MGMT_NAME "global-management"
#define ACL_ANON_ACCESSOR "00000000-0000-0000-0000-000000000002"
#define ACL_ANON_SECRET "anonymous"

/* Longest Rules text, Description and Name accepted. */
#define ACL_MAX_RULES (64 * 1024)
#define ACL_MAX_NAME 128
#define ACL_MAX_DESC 1024

enum acl_res {
    ACL_RES_ACL,
    ACL_RES_AGENT,
    ACL_RES_EVENT,
    ACL_RES_KEY,
    ACL_RES_KEYRING,
    ACL_RES_MESH,
    ACL_RES_NODE,
    ACL_RES_OPERATOR,
    ACL_RES_PEERING,
    ACL_RES_QUERY,
    ACL_RES_SERVICE,
    ACL_RES_SESSION,
    ACL_RES_COUNT
};

enum acl_need { ACL_READ, ACL_LIST, ACL_WRITE };

enum acl_decision { ACL_DEFAULT, ACL_ALLOW, ACL_DENY };

/* "key", "operator", ...; "read", "list", "write". */
const char *acl_res_name(enum acl_res r);
const char *acl_need_name(enum acl_need n);
/* Does the resource take a name ("key" yes, "operator" no)? */
bool acl_res_labeled(enum acl_res r);

/* ---- rules (acl_rules.c) ---- */

/* One policy's compiled rules. */
struct acl_rules;

/* Parse a Rules text (HCL, or JSON when it starts with '{'). Errors
 * (ERR_INVAL, message in err) name what is wrong: "invalid key_prefix
 * \"foo/\" policy \"wrte\"", "unknown ACL resource \"kye\"", "list is
 * only valid for key_prefix", a syntax error with line:col. An empty
 * text is a valid policy that grants nothing. */
int acl_rules_parse(const char *text, size_t len, struct acl_rules **out,
                    char *err);
void acl_rules_free(struct acl_rules *r);

/* The synthesized rules of a service identity (service:write on name
 * and its sidecar "<name>-sidecar-proxy", service_prefix "" read,
 * node_prefix "" read) and of a node identity (node:write on name,
 * service_prefix "" read), as HCL text (malloc'd; NULL: no memory). */
char *acl_service_identity_rules(const char *service);
char *acl_node_identity_rules(const char *node);

/* ---- authorizers (acl_authz.c) ---- */

/* The merged rules of one token. */
struct acl_authz;

/* An authorizer granting nothing (or, with management, everything). */
struct acl_authz *acl_authz_new(bool management);
/* Merge r's rules into z (r is not kept). ERR_NOMEM. */
int acl_authz_add(struct acl_authz *z, const struct acl_rules *r, char *err);
void acl_authz_free(struct acl_authz *z);
bool acl_authz_management(const struct acl_authz *z);

/* z's own decision (never looks at the default policy). name is ignored
 * for unlabeled resources. A NULL z decides DEFAULT for everything. */
enum acl_decision acl_authz_decide(const struct acl_authz *z,
                                   enum acl_res res, const char *name,
                                   enum acl_need need);
/* acl_authz_decide with the default policy applied: true when allowed.
 * Management allows everything; DEFAULT becomes default_allow, except
 * for ACL_RES_ACL which then needs management. */
bool acl_allowed(const struct acl_authz *z, bool default_allow,
                 enum acl_res res, const char *name, enum acl_need need);
/* Write on every key under prefix (recursive delete): allowed only when
 * key write is allowed on prefix and no rule for a key or key_prefix
 * that starts with prefix (longer than it) grants less than write. */
bool acl_key_write_prefix(const struct acl_authz *z, bool default_allow,
                          const char *prefix);

/* ---- hashes (acl_hash.c) ---- */

/* The fields each kind's "Hash" covers (NULL-terminated). */
#define ACL_TOKEN_HASHED                                                 \
    {"Description", "Policies", "Roles", "ServiceIdentities",            \
     "NodeIdentities", "Local", "ExpirationTime", NULL}
#define ACL_POLICY_HASHED                                                \
    {"Name", "Description", "Rules", "Datacenters", NULL}
#define ACL_ROLE_HASHED                                                  \
    {"Name", "Description", "Policies", "ServiceIdentities",             \
     "NodeIdentities", NULL}

/* Set obj's "Hash": base64 of SHA-256 over the compact, key-sorted JSON
 * of the named fields (links reduced to their IDs, so a renamed policy
 * does not change the tokens that hold it). Not Consul's value (blake2b
 * over its Go struct): clients only compare hashes for change.
 * ERR_INTERNAL / ERR_NOMEM. */
int acl_hash(json_t *obj, const char *const *fields, char *err);

/* ---- the replicated state (acl_store.c) ---- */

struct acl_store;

/* Tables, each with its own index (highest Raft index of a change,
 * deletions included). */
enum acl_table { ACL_T_TOKENS, ACL_T_POLICIES, ACL_T_ROLES, ACL_T_COUNT };

struct acl_store *acl_store_new(void);
void acl_store_free(struct acl_store *s);
uint64_t acl_store_index(const struct acl_store *s, enum acl_table t);
/* Highest of the three, and of the bootstrap record. */
uint64_t acl_store_max_index(const struct acl_store *s);

/* Stored objects (borrowed until the store next changes), in Consul's
 * shapes:
 *   token  {"AccessorID","SecretID","Description","Policies":[{"ID",
 *           "Name"}],"Roles":[{"ID","Name"}],"ServiceIdentities":[
 *           {"ServiceName","Datacenters"?}],"NodeIdentities":[{"NodeName",
 *           "Datacenter"}],"Local","ExpirationTime"?,"CreateTime","Hash",
 *           "CreateIndex","ModifyIndex"}
 *   policy {"ID","Name","Description","Rules","Datacenters":[],"Hash",
 *           "CreateIndex","ModifyIndex"}
 *   role   {"ID","Name","Description","Policies":[{"ID","Name"}],
 *           "ServiceIdentities":[],"NodeIdentities":[],"Hash",
 *           "CreateIndex","ModifyIndex"}
 * Link names (Policies/Roles "Name") are filled from the current
 * objects when read through acl_store_token_view / _role_view; a link
 * to a deleted object is dropped there. */
const json_t *acl_store_token(const struct acl_store *s,
                              const char *accessor);
/* Lookup by SecretID, compared in constant time. NULL when unknown. */
const json_t *acl_store_token_by_secret(const struct acl_store *s,
                                        const char *secret);
const json_t *acl_store_policy(const struct acl_store *s, const char *id);
const json_t *acl_store_policy_by_name(const struct acl_store *s,
                                       const char *name);
const json_t *acl_store_role(const struct acl_store *s, const char *id);
const json_t *acl_store_role_by_name(const struct acl_store *s,
                                     const char *name);

/* New objects for the API: link names resolved, dangling links dropped.
 * acl_store_token_view leaves SecretID in; the caller redacts it. */
json_t *acl_store_token_view(const struct acl_store *s, const json_t *tok);
json_t *acl_store_role_view(const struct acl_store *s, const json_t *role);
/* Lists for the API, sorted by AccessorID / Name: arrays of new views.
 * Tokens list entries ("TokenListStub") omit SecretID unless
 * with_secrets. policy_id / role_id (NULL: any) filter tokens by link. */
json_t *acl_store_token_list(const struct acl_store *s, const char *policy_id,
                             const char *role_id, bool with_secrets);
json_t *acl_store_policy_list(const struct acl_store *s); /* no Rules */
json_t *acl_store_role_list(const struct acl_store *s, const char *policy_id);

/* Is the token expired at now_ms (ms since the epoch)? */
bool acl_token_expired(const json_t *tok, int64_t now_ms);

/* The Rules texts a token holds: its policies', its roles' policies',
 * and the synthesized texts of its (and its roles') service and node
 * identities (new array of strings), and whether one of its policies
 * (directly or via a role) is global-management. */
json_t *acl_store_token_rules(const struct acl_store *s, const json_t *tok,
                              bool *management);
/* The authorizer of a token, compiled from acl_store_token_rules and
 * cached until the store next changes (borrowed). NULL with err on a
 * policy whose rules no longer parse (cannot happen for stored
 * policies, which were parsed before they were stored) or ERR_NOMEM. */
const struct acl_authz *acl_store_authz(struct acl_store *s,
                                        const json_t *tok, char *err);

/* Bootstrap: 0 before the first bootstrap, else the Raft index of the
 * last one (Consul's "reset index"). */
uint64_t acl_store_bootstrap_index(const struct acl_store *s);
/* The cluster secret (32 bytes) set by the first leader's "init"
 * command; NULL before. Never shown by any API. */
const unsigned char *acl_store_secret(const struct acl_store *s);

/* Writes, applied by the FSM at Raft index `index` (ops below). Each
 * checks the request against the state and fails whole (ERR_INVAL /
 * ERR_EXISTS / ERR_NOTFOUND / ERR_DENIED, Consul's message in err) or
 * applies whole. *changed tells whether anything changed.
 *   "token-set"     {"Token":{complete token, CreateIndex/ModifyIndex
 *                    ignored}}: insert or replace by AccessorID; the
 *                    SecretID must be unique, and may not change on
 *                    update; every linked policy/role ID must exist.
 *   "token-delete"  {"AccessorID"}: not the anonymous token.
 *   "policy-set"    {"Policy":{...}}: Name unique, Rules must parse;
 *                    global-management keeps its Name and Rules (only
 *                    its Description may change).
 *   "policy-delete" {"ID"}: not global-management.
 *   "role-set"      {"Role":{...}}: Name unique, linked policies exist.
 *   "role-delete"   {"ID"}
 *   "bootstrap"     {"Token":{...},"ResetIndex":N}: allowed when no
 *                    bootstrap happened yet or ResetIndex equals the
 *                    bootstrap index; else ERR_DENIED "ACL bootstrap no
 *                    longer allowed (reset index: N)". Sets the
 *                    bootstrap index to `index` and stores the token.
 *   "init"          {"Secret":"<base64 of 32 bytes>"}: sets the cluster
 *                    secret if unset (a no-op otherwise).
 * Every set object gets ModifyIndex = index, and CreateIndex = index if
 * it is new (else the stored one). */
int acl_store_apply(struct acl_store *s, uint64_t index, const char *op,
                    const json_t *req, bool *changed, char *err);
/* Checks an op and its request as far as possible without the state
 * (names, types, sizes, rules syntax). */
int acl_store_check(const char *op, const json_t *req, char *err);

/* Snapshot: every object and the bootstrap/secret record as JSON
 * records {"Kind":"token"|"policy"|"role"|"meta", ...}, in an order
 * that restores (policies, roles, tokens, meta). fn returns non-zero to
 * stop. The "meta" record carries the bootstrap index, the secret and
 * the three table indexes. acl_store_restore_record adds one record to
 * a new, empty store (links are not checked; Rules must parse);
 * ERR_PARSE on a bad record. */
typedef int (*acl_visit_fn)(void *ctx, const json_t *rec);
int acl_store_foreach(const struct acl_store *s, acl_visit_fn fn, void *ctx);
int acl_store_restore_record(struct acl_store *s, const json_t *rec,
                             char *err);

#endif

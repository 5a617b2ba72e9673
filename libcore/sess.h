/* sess.h - the session half of the state store (Consul's "sessions"
 * table) and the in-memory lock-delay table.
 *
 * Layer: store (uses util, codec: jansson). Thread: loop only.
 * Owns: every sess_entry (strings copied in), the lock-delay entries.
 * Sessions are ordered by ID (byte order). Indexes are Raft log indexes
 * supplied by the caller (the FSM). The store knows nothing of the
 * catalog or the kv store: the FSM checks a new session's node and
 * checks, and releases or deletes the keys of a destroyed one
 * (fsm_sess.c).
 *
 * A session as Consul's HTTP API shows it (sess_to_json):
 *   {"ID","Name","Node","LockDelay" (ns),"Behavior" ("release"|
 *    "delete"),"TTL" ("" or a Go duration),"NodeChecks":[...]|null,
 *    "ServiceChecks":[{"ID","Namespace"}]|null,"CreateIndex",
 *    "ModifyIndex"}
 * plus "Checks":[...] (Consul's deprecated field) when it is not empty,
 * placed after "TTL" as Consul's json omitempty does.
 * Tests: t/unit/check_sess.c
 */
#ifndef PROCONSUL_SESS_H
#define PROCONSUL_SESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SESS_ID_LEN 36          /* a UUID */
#define SESS_MAX_NAME 1024      /* bytes of Name, Node, a check ID, TTL */
#define SESS_MAX_CHECKS 256     /* per list */

/* Consul's SessionTTLMin default and SessionTTLMax, in ms. */
#define SESS_TTL_MIN_MS INT64_C(10000)
#define SESS_TTL_MAX_MS (INT64_C(24) * 3600 * 1000)
/* Consul multiplies the TTL by this before invalidating (grace). */
#define SESS_TTL_MULTIPLIER 2
/* The default lock delay (ns) and the largest one Consul allows. */
#define SESS_DEFAULT_LOCK_DELAY_NS INT64_C(15000000000)
#define SESS_MAX_LOCK_DELAY_NS INT64_C(60000000000)

enum sess_behavior { SESS_RELEASE = 0, SESS_DELETE = 1 };

struct sess_svc_check {
    char *id;
    char *ns;   /* Namespace, "" in OSS */
};

struct sess_entry {
    char *id;
    char *name;
    char *node;
    char **checks;       /* deprecated "Checks"; n_checks may be 0 */
    size_t n_checks;
    char **node_checks;  /* NULL when JSON null */
    size_t n_node_checks;
    struct sess_svc_check *svc_checks; /* NULL when JSON null */
    size_t n_svc_checks;
    int64_t lock_delay_ns;
    enum sess_behavior behavior;
    char *ttl;           /* "" when none */
    int64_t ttl_ms;      /* ttl parsed, 0 when none */
    uint64_t create_index, modify_index;
};

struct sess_store;

struct sess_store *sess_new(void);
void sess_free(struct sess_store *s);

size_t sess_count(const struct sess_store *s);

/* Borrowed until the store next changes; NULL if absent. */
const struct sess_entry *sess_peek(const struct sess_store *s,
                                   const char *id);

/* Parse a session in the canonical shape above (what the FSM command
 * and the snapshot record carry). "ID" (a UUID) and "Node" are
 * required; "Name" and "TTL" default to "", "Behavior" to "release",
 * "LockDelay" (integer ns, 0..SESS_MAX_LOCK_DELAY_NS) to 0, the check
 * lists to null; "CreateIndex"/"ModifyIndex" are read only when
 * with_indexes (then required, 1 <= create <= modify). Unknown fields
 * are ERR_INVAL, as is a TTL that is not a Go duration. The result
 * belongs to the caller (sess_entry_free). */
int sess_entry_from_json(const json_t *j, bool with_indexes,
                         struct sess_entry **out, char *err);
void sess_entry_free(struct sess_entry *e);
/* A new JSON object in Consul's shape (see above); NULL on no memory.
 * Without indexes the result is what sess_entry_from_json(.., false)
 * reads back. */
json_t *sess_to_json(const struct sess_entry *e, bool with_indexes);

/* Add a session at index (create = modify = index). *e is consumed on
 * success (ownership moves: takes). ERR_EXISTS for a duplicate ID. */
int sess_insert(struct sess_store *s, struct sess_entry *e /* takes */,
                uint64_t index, char *err);
/* Insert as read from a snapshot (indexes kept; takes on success). */
int sess_restore(struct sess_store *s, struct sess_entry *e /* takes */,
                 char *err);
/* Remove a session at index; *existed tells whether it was there. The
 * table index moves to index only if it was. */
void sess_remove(struct sess_store *s, const char *id, uint64_t index,
                 bool *existed);

/* Iterate in ID order. fn returns 0 to go on, non-zero to stop (that
 * value is returned). The store must not change during the walk. */
typedef int (*sess_walk_fn)(void *ctx, const struct sess_entry *e);
int sess_walk(const struct sess_store *s, sess_walk_fn fn, void *ctx);

/* The "sessions" table index: max over every create and removal. */
uint64_t sess_table_index(const struct sess_store *s);
void sess_set_table_index(struct sess_store *s, uint64_t index);

/* ---- lock delay (Consul keeps it in memory only, per server) ----
 * After a session is invalidated its released keys cannot be acquired
 * until the lock delay passes. Times are in ms of sess_now_ms(). */
/* CLOCK_MONOTONIC in ms. */
int64_t sess_now_ms(void);
int sess_lock_delay_set(struct sess_store *s, const char *key,
                        int64_t until_ms, char *err);
/* ms until key's delay expires at now_ms (0: none); expired entries
 * are dropped as they are met. */
int64_t sess_lock_delay_left(struct sess_store *s, const char *key,
                             int64_t now_ms);

#endif

/* kv.h - the key/value half of the state store.
 *
 * Layer: store (uses util). Thread: loop only.
 * Owns: every kv_entry; keys and values are copied in. An ordered map
 * (balanced tree) keyed by byte-wise key order, plus tombstones for
 * deleted keys so that prefix indexes move forward on deletes (blocking
 * queries on a prefix wake on a delete, as in Consul).
 * Indexes are Raft log indexes supplied by the caller (the FSM).
 * Tests: t/unit/check_kv.c, t/t1*.sh
 */
#ifndef PROCONSUL_KV_H
#define PROCONSUL_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Keys are NUL-terminated and at most KV_MAX_KEY bytes. */
#define KV_MAX_KEY 4096

struct kv_entry {
    char *key;
    unsigned char *val; /* NULL when the value is empty (JSON null) */
    size_t len;
    uint64_t flags;
    uint64_t create_index;
    uint64_t modify_index;
    uint64_t lock_index;
    char *session;      /* NULL unless held by a session */
};

struct kv_store;

struct kv_store *kv_new(void);
void kv_free(struct kv_store *st);

size_t kv_count(const struct kv_store *st);

/* Borrowed until the store next changes; NULL if absent. */
const struct kv_entry *kv_peek(const struct kv_store *st, const char *key);

/* Set key (create or replace) at Raft index `index`. A new key gets
 * create_index = index; modify_index = index always (an unchanged value
 * still counts as a write); a tombstone for the key is dropped. An
 * existing key keeps its create_index, lock_index and session. len 0
 * stores a NULL value. Key errors (empty, too long) are ERR_INVAL. */
int kv_put(struct kv_store *st, const char *key, const void *val,
           size_t len, uint64_t flags, uint64_t index, char *err);

/* Check-and-set: cas 0 means "only if absent"; otherwise only if the
 * key exists with modify_index == cas. *ok tells whether it wrote. */
int kv_cas(struct kv_store *st, const char *key, const void *val,
           size_t len, uint64_t flags, uint64_t cas, uint64_t index,
           bool *ok, char *err);

/* Consul's KVLock: take key for session (NUL-terminated, non-empty),
 * setting val/flags at index. Absent key: created with lock_index 1.
 * Free key: taken, lock_index + 1. Held by the same session: value and
 * flags updated, lock_index unchanged. Held by another session: *ok =
 * false and nothing changes. The caller checks the session exists. */
int kv_acquire(struct kv_store *st, const char *key, const void *val,
               size_t len, uint64_t flags, const char *session,
               uint64_t index, bool *ok, char *err);

/* Consul's KVUnlock: only if key exists and is held by session: set
 * val/flags at index and clear the session (lock_index kept);
 * otherwise *ok = false and nothing changes. */
int kv_release(struct kv_store *st, const char *key, const void *val,
               size_t len, uint64_t flags, const char *session,
               uint64_t index, bool *ok, char *err);

/* A session's invalidation with behavior "release": clear key's session
 * at index, keeping value, flags and lock_index. No-op (returns false)
 * unless key is held by session. */
bool kv_session_clear(struct kv_store *st, const char *key,
                      const char *session, uint64_t index);

/* Delete key if present, leaving a tombstone at index. Deleting a missing
 * key succeeds and changes nothing. */
int kv_delete(struct kv_store *st, const char *key, uint64_t index,
              char *err);

/* Delete only if the key exists with modify_index == cas (cas > 0).
 * As in Consul, a missing key sets *ok = true (nothing to delete). */
int kv_delete_cas(struct kv_store *st, const char *key, uint64_t cas,
                  uint64_t index, bool *ok, char *err);

/* Delete every key starting with prefix ("" = all), tombstoning each. */
int kv_delete_tree(struct kv_store *st, const char *prefix, uint64_t index,
                   char *err);

/* Iterate in key order over keys starting with prefix. fn returns 0 to
 * go on, non-zero to stop (that value is returned). The store must not
 * change during the walk. */
typedef int (*kv_walk_fn)(void *ctx, const struct kv_entry *e);
int kv_walk_prefix(const struct kv_store *st, const char *prefix,
                   kv_walk_fn fn, void *ctx);

/* Max index over all entries and tombstones ("kvs" table index); 0 on
 * an empty, never-written store. */
uint64_t kv_table_index(const struct kv_store *st);
/* Max modify index over entries and tombstones under prefix; 0 if none.
 * O(log n): nodes carry their subtree's max index. */
uint64_t kv_prefix_index(const struct kv_store *st, const char *prefix);
/* Modify index of key, or of its tombstone; 0 if neither. */
uint64_t kv_key_index(const struct kv_store *st, const char *key);

/* Drop tombstones with index <= upto (tombstone GC). */
void kv_reap_tombstones(struct kv_store *st, uint64_t upto);
size_t kv_tombstone_count(const struct kv_store *st);

/* Raise the table index without an entry (used after a restore). */
void kv_set_table_index(struct kv_store *st, uint64_t index);

/* Undoing a transaction (fsm_txn.c): set the table index to exactly
 * index (it may go back), and drop key's entry and its tombstone
 * without leaving one, so that kv_restore_entry/kv_restore_tombstone
 * can put back what was there before. */
void kv_reset_table_index(struct kv_store *st, uint64_t index);
void kv_forget(struct kv_store *st, const char *key);

/* Tombstone iteration, for snapshots: fn gets key and index. */
typedef int (*kv_tomb_fn)(void *ctx, const char *key, uint64_t index);
int kv_walk_tombstones(const struct kv_store *st, kv_tomb_fn fn, void *ctx);
/* Insert a tombstone as read from a snapshot. Both restore calls fail
 * with ERR_EXISTS if the key is already live or tombstoned. */
int kv_restore_tombstone(struct kv_store *st, const char *key,
                         uint64_t index, char *err);
/* Insert an entry exactly as given (all indexes kept), for restore. */
int kv_restore_entry(struct kv_store *st, const struct kv_entry *e,
                     char *err);

/* Check internal invariants (order, balance, subtree maxima, counts,
 * live/tombstone disjointness); 0 or ERR_INTERNAL. For tests, O(n). */
int kv_verify(const struct kv_store *st, char *err);

#endif

/* acl_store_int.h - internals shared by acl_store.c (tables, reads),
 * acl_store_check.c (shapes and validation) and acl_store_write.c
 * (apply, snapshot records); nothing outside them includes it.
 *
 * Layer: store. Thread: loop only.
 *
 * Every object lives in one struct acl_ent that holds its JSON and its
 * lookup keys inline; the tables are sorted arrays of pointers to
 * entries, keyed by a string inside the entry, so that a lookup is a
 * binary search, a list comes out sorted, and once a table has room
 * (acl_map_reserve) putting an entry in it cannot fail: a write
 * allocates everything first, then commits without a failure path.
 * IDs and names are keyed folded to lower case (Consul's UUID and
 * name indexes ignore case); a SecretID is keyed by its SHA-256, and
 * compared as a digest with CRYPTO_memcmp.
 */
#ifndef PROCONSUL_ACL_STORE_INT_H
#define PROCONSUL_ACL_STORE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

#define ACL_ID_LEN 36      /* 8-4-4-4-12 */
#define ACL_DIGEST_LEN 32  /* SHA-256 */
#define ACL_MAX_SECRET 128 /* longest SecretID */

enum acl_kind { ACL_K_TOKEN, ACL_K_POLICY, ACL_K_ROLE };

struct acl_ent {
    json_t *obj;                 /* the stored object (owned) */
    struct acl_rules *rules;     /* a policy's compiled Rules */
    char id[ACL_ID_LEN + 1];     /* folded ID / AccessorID */
    char name[ACL_MAX_NAME + 1]; /* folded Name (policy, role) */
    char hex[2 * ACL_DIGEST_LEN + 1];        /* token: SecretID digest */
    unsigned char digest[ACL_DIGEST_LEN];
};

/* Which key of an entry a table sorts by. */
enum acl_key { ACL_KEY_ID, ACL_KEY_NAME, ACL_KEY_HEX };

struct acl_map {
    struct acl_ent **v;
    size_t n, cap;
    enum acl_key key;
};

struct acl_zcache;

struct acl_store {
    struct acl_map tokens, secrets;        /* by id, by hex */
    struct acl_map policies, policy_names; /* by id, by name */
    struct acl_map roles, role_names;      /* by id, by name */
    uint64_t index[ACL_T_COUNT];
    uint64_t bootstrap_index;
    bool has_secret;
    unsigned char secret[32];
    bool meta_restored;   /* restore: the meta record came */
    struct acl_zcache *zcache; /* compiled authorizers */
};

/* ---- acl_store.c ---- */

void acl_map_init(struct acl_map *m, enum acl_key key);
struct acl_ent *acl_map_get(const struct acl_map *m, const char *key);
/* Room for n more entries; -1 when out of memory. */
int acl_map_reserve(struct acl_map *m, size_t n);
/* Insert or replace (needs room reserved); returns the replaced entry. */
struct acl_ent *acl_map_put(struct acl_map *m, struct acl_ent *e);
struct acl_ent *acl_map_del(struct acl_map *m, const char *key);
/* Lower-case copy of s into out (size n); false when it does not fit. */
bool acl_fold(char *out, size_t n, const char *s);
void acl_digest(const char *secret, unsigned char d[ACL_DIGEST_LEN],
                char hex[2 * ACL_DIGEST_LEN + 1]);
void acl_ent_free(struct acl_ent *e);
/* Forget every compiled authorizer (after any change). */
void acl_store_changed(struct acl_store *s);
/* Put e in the tables of its kind, which must have room and hold no
 * other entry with e's keys; replaces (and frees) old, if not NULL. */
void acl_store_link(struct acl_store *s, enum acl_kind k, struct acl_ent *e,
                    struct acl_ent *old);

/* ---- acl_store_check.c ---- */

enum acl_op {
    ACL_OP_TOKEN_SET,
    ACL_OP_TOKEN_DELETE,
    ACL_OP_POLICY_SET,
    ACL_OP_POLICY_DELETE,
    ACL_OP_ROLE_SET,
    ACL_OP_ROLE_DELETE,
    ACL_OP_BOOTSTRAP,
    ACL_OP_INIT,
    ACL_OP_COUNT
};

/* A checked request. */
struct acl_req {
    enum acl_op op;
    enum acl_kind kind;         /* of obj, or of what id names */
    json_t *obj;                /* set ops: the stored shape (owned) */
    struct acl_rules *rules;    /* policy-set: compiled Rules (owned) */
    const char *id;             /* delete ops: borrowed from the request */
    uint64_t reset_index;       /* bootstrap */
    unsigned char secret[32];   /* init */
};

/* acl_store_check, keeping what it built; release r even on failure. */
int acl_req_parse(const char *op, const json_t *req, struct acl_req *r,
                  char *err);
void acl_req_release(struct acl_req *r);

/* Validate obj as an object of kind k and build its stored shape (new
 * object in the documented field order, defaults filled in; links as
 * {"ID","Name"} with Name "" when not given) in *out when out is not
 * NULL. With restore, CreateIndex and ModifyIndex are required (1 <=
 * create <= modify) and kept; otherwise they are type-checked and
 * left out. For a policy, *rules (if rules is not NULL) gets the
 * compiled Rules. ERR_INVAL (or ERR_NOMEM), "Invalid Token: ...". */
int acl_check_obj(enum acl_kind k, const json_t *obj, bool restore,
                  json_t **out, struct acl_rules **rules, char *err);
/* Is s a UUID (8-4-4-4-12 hex digits, any case)? */
bool acl_is_uuid(const char *s);
/* Milliseconds since the epoch of an RFC 3339 time; false if bad. */
bool acl_parse_time(const char *s, int64_t *ms);
/* Decode base64 of exactly 32 bytes; false otherwise. */
bool acl_decode_secret(const char *b64, unsigned char out[32]);
int acl_encode_secret(const unsigned char in[32], char out[64]);

#endif

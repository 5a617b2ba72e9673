/* lock_cli.h - what cmd/lock.c (the command, the session, the child,
 * the single-holder lock) and cmd/lock_sem.c (Consul's semaphore, -n >
 * 1) share.
 *
 * Tests: t/t8002-lock.sh
 */
#ifndef PROCONSUL_LOCK_CLI_H
#define PROCONSUL_LOCK_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "httpc.h"

/* Consul's api.LockFlagValue and api.SemaphoreFlagValue: the Flags of
 * the keys a lock and a semaphore write, so that the two never share a
 * prefix unnoticed. */
#define LOCKC_LOCK_FLAGS UINT64_C(0x2ddccbc058a50c18)
#define LOCKC_SEM_FLAGS UINT64_C(0xe0f69a2baa414de0)
#define LOCKC_KEY ".lock"     /* api.DefaultSemaphoreKey */

/* What the acquisition and monitor loops share. */
struct lockc {
    struct httpc c;
    const char *prefix;  /* without a leading '/' */
    char *key;           /* prefix/.lock */
    int limit;           /* -n */
    bool verbose;
    int64_t deadline_ms; /* acquisition deadline (-timeout), 0: none */
    int monitor_retry;
    char sid[64];        /* the session */
    int64_t renew_at_ms; /* next session renewal */
    bool lost;           /* the session is gone (renew answered 404) */
    uint64_t index;      /* blocking-query index of the monitor */
    int fails;           /* consecutive monitor errors */
};

/* Set by the signal handler: a shutdown was asked for. */
extern volatile sig_atomic_t lockc_stop;

int64_t lockc_now_ms(void);
void lockc_info(const struct lockc *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Renew the session when due; false once it is gone. */
bool lockc_keepalive(struct lockc *l);
/* The wait (ms) for the next blocking query: short enough to renew the
 * session and to notice the deadline and signals. */
int64_t lockc_wait_ms(const struct lockc *l);

/* GET path?query with index/wait; *out the decoded body (NULL for 404),
 * resp->index the X-Consul-Index. Integers above INT64_MAX (the
 * semaphore's Flags) decode as reals. 0, or -1 with err filled. */
int lockc_get(struct lockc *l, const char *key, bool recurse,
              uint64_t index, int64_t wait_ms, json_t **out,
              uint64_t *out_index, char *err);
/* PUT /v1/kv/<key>?<query> with body: *ok is the true/false answer. */
int lockc_put(struct lockc *l, const char *key, const char *query,
              const void *body, size_t len, bool *ok, char *err);
/* DELETE /v1/kv/<key>[?cas=N] (cas 0: plain). */
int lockc_delete(struct lockc *l, const char *key, uint64_t cas,
                 bool *ok, char *err);
/* An entry's Flags compared with a flag value (exact up to double
 * precision for the semaphore's value). */
bool lockc_flags_are(const json_t *entry, uint64_t flags);
/* An entry's Value, base64-decoded, as a new NUL-terminated string
 * ("" for null); NULL on bad base64. */
char *lockc_value(const json_t *entry);

/* ---- lock_sem.c: Consul's semaphore (api/semaphore.go) ----
 * 0 acquired; 1 timeout or shutdown; -1 error (err filled). */
int lockc_sem_acquire(struct lockc *l, char *err);
/* Still a holder? 1 yes, 0 no (lost), -1 could not tell. */
int lockc_sem_held(struct lockc *l, int64_t wait_ms);
int lockc_sem_release(struct lockc *l, char *err);
/* 0 cleaned up, 1 in use, -1 error. */
int lockc_sem_cleanup(struct lockc *l, char *err);

#endif

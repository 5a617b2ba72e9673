/* lock_sem.c - "consul lock -n N": Consul's semaphore (api/semaphore.go).
 *
 * Every contender holds PREFIX/<session> (acquired with its session,
 * Flags 0xe0f69a2baa414de0); PREFIX/.lock (same Flags) holds the JSON
 * {"Limit":N,"Holders":{"<session>":true,...}}, changed only by
 * check-and-set. A holder whose contender key is gone or no longer
 * locked (its session was invalidated) is pruned by whoever reads the
 * record next. A contender takes a slot when fewer than Limit holders
 * remain, and holds it while its session is in Holders.
 * Tests: t/t8002-lock.sh
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock_cli.h"

struct sem {
    json_t *holders;   /* object: session -> true */
    int64_t limit;
    uint64_t modify_index; /* 0: no record yet */
};

static char *dir_of(const struct lockc *l)
{
    size_t n = strlen(l->prefix);
    char *d = malloc(n + 2);

    if (d == NULL)
        return NULL;
    memcpy(d, l->prefix, n + 1);
    if (n > 0 && d[n - 1] != '/')
        strcat(d, "/");
    return d;
}

static const json_t *find_pair(const json_t *pairs, const char *key)
{
    size_t i;
    json_t *e;

    json_array_foreach(pairs, i, e) {
        const char *k = json_string_value(json_object_get(e, "Key"));

        if (k != NULL && strcmp(k, key) == 0)
            return e;
    }
    return NULL;
}

/* Decode the lock record (e may be NULL: a fresh semaphore); only an
 * acquisition insists on the same limit, as Consul's. */
static int decode(const struct lockc *l, const json_t *e, bool check_limit,
                  struct sem *s, char *err)
{
    char *v;
    json_t *j;

    s->limit = l->limit;
    s->modify_index = 0;
    s->holders = NULL;
    if (e == NULL) {
        s->holders = json_object();
        return 0;
    }
    if (!lockc_flags_are(e, LOCKC_SEM_FLAGS))
        return err_set(err, ERR_CONFLICT, "Existing key does not match "
                       "semaphore use"), -1;
    s->modify_index =
        (uint64_t)json_number_value(json_object_get(e, "ModifyIndex"));
    v = lockc_value(e);
    j = v != NULL ? json_loads(v, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(v);
    if (!json_is_object(j) ||
        !json_is_number(json_object_get(j, "Limit"))) {
        json_decref(j);
        return err_set(err, ERR_PARSE, "failed to read lock: bad "
                       "semaphore record"), -1;
    }
    s->limit = (int64_t)json_number_value(json_object_get(j, "Limit"));
    s->holders = json_object_get(j, "Holders");
    s->holders = json_is_object(s->holders) ? json_copy(s->holders)
                                            : json_object();
    json_decref(j);
    if (check_limit && s->limit != l->limit) {
        snprintf(err, ERR_LEN, "semaphore limit conflict (lock: %lld, "
                 "local: %d)", (long long)s->limit, l->limit);
        json_decref(s->holders);
        s->holders = NULL;
        return -1;
    }
    return 0;
}

/* Drop the holders whose contender key is gone or unlocked. */
static void prune(json_t *holders, const json_t *pairs, const char *dir)
{
    const char *k;
    json_t *v, *tmp;
    char key[512];

    json_object_foreach_safe(holders, tmp, k, v) {
        const json_t *p;
        const char *s;

        snprintf(key, sizeof(key), "%s%s", dir, k);
        p = find_pair(pairs, key);
        s = p != NULL ? json_string_value(json_object_get(p, "Session"))
                      : NULL;
        if (s == NULL || s[0] == '\0')
            json_object_del(holders, k);
    }
}

/* PUT the record with the holders, check-and-set. */
static int write_record(struct lockc *l, const struct sem *s, bool *ok,
                        char *err)
{
    json_t *rec = json_pack("{s:I, s:O}", "Limit", (json_int_t)s->limit,
                            "Holders", s->holders);
    char *text = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
    char q[96];
    int rc;

    json_decref(rec);
    if (text == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    snprintf(q, sizeof(q), "cas=%llu&flags=%llu",
             (unsigned long long)s->modify_index,
             (unsigned long long)LOCKC_SEM_FLAGS);
    rc = lockc_put(l, l->key, q, text, strlen(text), ok, err);
    free(text);
    return rc;
}

static int make_contender(struct lockc *l, const char *dir, char *err)
{
    char key[512], q[128];
    bool ok;

    snprintf(key, sizeof(key), "%s%s", dir, l->sid);
    snprintf(q, sizeof(q), "acquire=%s&flags=%llu", l->sid,
             (unsigned long long)LOCKC_SEM_FLAGS);
    if (lockc_put(l, key, q, NULL, 0, &ok, err) != 0)
        return -1;
    if (!ok)
        return err_set(err, ERR_CONFLICT, "failed to make contender "
                       "entry"), -1;
    return 0;
}

/* One look at the semaphore: 0 taken, 1 full (index: wait on it),
 * -1 error. */
static int try_take(struct lockc *l, const char *dir, uint64_t *index,
                    char *err)
{
    uint64_t ni;
    json_t *pairs;
    struct sem s;
    bool ok;
    int rc;

    if (lockc_get(l, dir, true, *index, lockc_wait_ms(l), &pairs, &ni,
                  err) != 0)
        return -1;
    rc = decode(l, find_pair(pairs, l->key), true, &s, err);
    if (rc == 0) {
        prune(s.holders, pairs, dir);
        if (json_object_size(s.holders) >= (size_t)s.limit) {
            *index = ni;
            rc = 1;
        } else {
            json_object_set_new(s.holders, l->sid, json_true());
            rc = write_record(l, &s, &ok, err);
            if (rc == 0 && !ok) {
                *index = 0; /* someone else wrote first: look again */
                rc = 1;
            }
        }
        json_decref(s.holders);
    }
    json_decref(pairs);
    return rc;
}

int lockc_sem_acquire(struct lockc *l, char *err)
{
    char *dir = dir_of(l);
    uint64_t index = 0;
    int rc = -1;

    if (dir == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    if (make_contender(l, dir, err) == 0) {
        rc = 1;
        while (rc == 1 && !lockc_stop &&
               (l->deadline_ms == 0 || lockc_now_ms() < l->deadline_ms)) {
            if (!lockc_keepalive(l)) {
                err_set(err, ERR_NOTFOUND, "session invalidated");
                rc = -1;
                break;
            }
            rc = try_take(l, dir, &index, err);
        }
    }
    free(dir);
    return rc;
}

int lockc_sem_held(struct lockc *l, int64_t wait_ms)
{
    char err[ERR_LEN];
    uint64_t ni;
    json_t *pairs;
    struct sem s;
    int held;

    if (lockc_get(l, l->key, false, l->index, wait_ms, &pairs, &ni,
                  err) != 0)
        return -1;
    l->index = ni;
    if (pairs == NULL)
        return 0;
    held = decode(l, json_array_get(pairs, 0), false, &s, err) == 0 &&
           json_object_get(s.holders, l->sid) != NULL;
    json_decref(s.holders);
    json_decref(pairs);
    return held;
}

int lockc_sem_release(struct lockc *l, char *err)
{
    char *dir = dir_of(l), key[512], scratch[ERR_LEN];
    uint64_t ni;
    json_t *pairs;
    struct sem s;
    bool ok = false;
    int tries, rc = 0;

    if (dir == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    for (tries = 0; tries < 20 && !ok && rc == 0; tries++) {
        if ((rc = lockc_get(l, l->key, false, 0, 0, &pairs, &ni, err)) != 0)
            break;
        if (pairs == NULL)
            break;
        rc = decode(l, json_array_get(pairs, 0), false, &s, err);
        json_decref(pairs);
        if (rc != 0)
            break;
        if (json_object_get(s.holders, l->sid) == NULL) {
            json_decref(s.holders);
            break;
        }
        json_object_del(s.holders, l->sid);
        rc = write_record(l, &s, &ok, err);
        json_decref(s.holders);
    }
    /* The contender entry goes whatever the record said. */
    snprintf(key, sizeof(key), "%s%s", dir, l->sid);
    free(dir);
    if (lockc_delete(l, key, 0, &ok, rc == 0 ? err : scratch) != 0 &&
        rc == 0)
        rc = -1;
    return rc;
}

int lockc_sem_cleanup(struct lockc *l, char *err)
{
    char *dir = dir_of(l);
    uint64_t ni;
    json_t *pairs = NULL;
    struct sem s;
    bool ok;
    int rc;

    if (dir == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    rc = lockc_get(l, dir, true, 0, 0, &pairs, &ni, err);
    if (rc == 0 && find_pair(pairs, l->key) == NULL) {
        json_decref(pairs);
        free(dir);
        return 0;
    }
    if (rc == 0 &&
        (rc = decode(l, find_pair(pairs, l->key), false, &s, err)) == 0) {
        prune(s.holders, pairs, dir);
        if (json_object_size(s.holders) > 0)
            rc = 1;
        else if ((rc = lockc_delete(l, l->key, s.modify_index, &ok, err)) ==
                     0 && !ok)
            rc = 1;
        json_decref(s.holders);
    }
    json_decref(pairs);
    free(dir);
    return rc;
}

/* agent_sess.c - session TTL timers, on the leader only (as Consul's
 * session_ttl.go): a session with a TTL is destroyed, through Raft,
 * once SESS_TTL_MULTIPLIER times its TTL passed without a renewal.
 *
 * Layer: agent (uses util, store, replication). Thread: loop only.
 * Owns: struct agent_sess (the deadlines, by session ID).
 * Tests: t/t8001-sessions.sh
 *
 * Renewals are not replicated: the leader keeps the deadlines in
 * memory, and a server that becomes leader starts every TTL session's
 * clock afresh (now + 2 x TTL), as Consul's initializeSessionTimers
 * does. The leader's tick (every 500 ms) merges the table with the
 * session store (both in ID order): new sessions get a deadline, gone
 * ones lose theirs; an expired one is destroyed, and retried after
 * RETRY_MS if that write fails.
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sess.h"

#define RETRY_MS 5000

struct deadline {
    char id[SESS_ID_LEN + 1];
    uint64_t at_ms;
};

struct agent_sess {
    struct deadline *v;
    size_t n, cap;
    bool leader;
};

static struct agent_sess *state(struct agent *a)
{
    if (a->sess == NULL)
        a->sess = calloc(1, sizeof(*a->sess));
    return a->sess;
}

static uint64_t fresh_deadline(struct agent *a, const struct sess_entry *e)
{
    return uv_now(a->loop) +
           (uint64_t)e->ttl_ms * SESS_TTL_MULTIPLIER;
}

struct merge {
    struct agent *a;
    struct agent_sess *s;
    struct deadline *out;
    size_t n, i; /* entries in out; position in the old table */
};

static int merge_fn(void *ctx, const struct sess_entry *e)
{
    struct merge *m = ctx;
    const struct agent_sess *s = m->s;
    int c = 1;

    if (e->ttl_ms <= 0 || strlen(e->id) > SESS_ID_LEN)
        return 0;
    while (m->i < s->n && (c = strcmp(s->v[m->i].id, e->id)) < 0)
        m->i++;
    memcpy(m->out[m->n].id, e->id, strlen(e->id) + 1);
    m->out[m->n].at_ms = c == 0 && m->i < s->n ? s->v[m->i].at_ms
                                               : fresh_deadline(m->a, e);
    m->n++;
    return 0;
}

/* Rebuild the table from the store, keeping known deadlines. */
static int sync_table(struct agent *a, struct agent_sess *s)
{
    size_t n = sess_count(a->fsm.sess);
    struct merge m = {a, s, NULL, 0, 0};

    if (n > 0 && (m.out = malloc(n * sizeof(*m.out))) == NULL)
        return -1;
    sess_walk(a->fsm.sess, merge_fn, &m);
    free(s->v);
    s->v = m.out;
    s->n = m.n;
    s->cap = n;
    return 0;
}

static void destroy_done(void *ctx, int rc, const struct fsm_result *res)
{
    (void)ctx;
    if (rc != 0 || (res != NULL && res->rc != 0))
        LOG_WARN("session", "invalidating an expired session failed: %s",
                 res != NULL && res->msg[0] != '\0' ? res->msg
                                                    : err_str(rc));
}

static void expire(struct agent *a, struct deadline *d)
{
    json_t *req = json_pack("{s:s}", "ID", d->id);
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    d->at_ms = uv_now(a->loop) + RETRY_MS;
    if (req == NULL)
        return;
    LOG_INFO("session", "session '%s' TTL expired: invalidating", d->id);
    if (fsm_encode_session("destroy", req, NULL, 0, raft_malloc, &buf, &len,
                           err) != 0 ||
        agent_apply(a, buf, len, destroy_done, a, err) != 0) {
        raft_free(buf);
        LOG_WARN("session", "invalidating session '%s': %s", d->id, err);
    }
    json_decref(req);
}

void agent_sess_tick(struct agent *a)
{
    struct agent_sess *s = a->sess;
    uint64_t now;
    size_t i;

    if (!agent_is_leader(a)) {
        if (s != NULL) {
            s->n = 0;
            s->leader = false;
        }
        return;
    }
    if ((s = state(a)) == NULL)
        return;
    if (!s->leader) {
        s->n = 0; /* a new term: every clock starts afresh */
        s->leader = true;
    }
    if (sync_table(a, s) != 0)
        return;
    now = uv_now(a->loop);
    for (i = 0; i < s->n; i++)
        if (s->v[i].at_ms <= now)
            expire(a, &s->v[i]);
}

int agent_sess_renew(struct agent *a, const char *id)
{
    const struct sess_entry *e = sess_peek(a->fsm.sess, id);
    struct agent_sess *s = a->sess;
    size_t i;

    if (e == NULL)
        return ERR_NOTFOUND;
    if (e->ttl_ms <= 0 || !agent_is_leader(a) || (s = state(a)) == NULL)
        return 0;
    if (!s->leader) {
        s->n = 0;
        s->leader = true;
    }
    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0) {
            s->v[i].at_ms = fresh_deadline(a, e);
            return 0;
        }
    /* Not in the table yet (just created): the next tick's merge keeps
     * this deadline. */
    if (sync_table(a, s) != 0)
        return ERR_NOMEM;
    for (i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            s->v[i].at_ms = fresh_deadline(a, e);
    return 0;
}

void agent_sess_release(struct agent *a)
{
    if (a->sess == NULL)
        return;
    free(a->sess->v);
    free(a->sess);
    a->sess = NULL;
}

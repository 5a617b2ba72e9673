/* gossip_queue.c - name index and transmit-limited broadcast queues.
 *
 * Layer: replication (uses util). Thread: loop only.
 * A broadcast is sent retransmit_mult * ceil(log10(n + 1)) times,
 * least-sent first, larger first among equals (memberlist's order), then
 * dropped; a named broadcast (memberlist's, one per node) replaces the
 * older one for that node. Finishing a broadcast may notify the leave
 * sequence through gossip_sm_bcast_done().
 * Owns: queued message copies; a gossip_tab owns nothing it indexes.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static char tomb_mark;
#define TOMB ((void *)&tomb_mark)

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s != '\0') {
        h ^= (uint8_t)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

/* Slot holding name, or the first free one on its probe path. */
static size_t find(const struct gossip_tab *t, const char *name, bool *hit)
{
    size_t mask = t->cap - 1, i = (size_t)fnv(name) & mask;
    size_t free_at = SIZE_MAX;

    *hit = false;
    for (size_t step = 0; step < t->cap; step++, i = (i + 1) & mask) {
        void *s = t->slot[i];

        if (s == NULL)
            return free_at != SIZE_MAX ? free_at : i;
        if (s == TOMB) {
            if (free_at == SIZE_MAX)
                free_at = i;
        } else if (strcmp((const char *)s, name) == 0) {
            *hit = true;
            return i;
        }
    }
    return free_at;
}

void *gossip_tab_get(const struct gossip_tab *t, const char *name)
{
    bool hit;
    size_t i;

    if (t->cap == 0)
        return NULL;
    i = find(t, name, &hit);
    return hit ? t->slot[i] : NULL;
}

static int grow(struct gossip_tab *t)
{
    struct gossip_tab nt;

    nt.cap = t->cap ? t->cap * 2 : 16;
    while (nt.cap < (t->n + 1) * 4)
        nt.cap *= 2;
    nt.slot = calloc(nt.cap, sizeof(void *));
    if (nt.slot == NULL)
        return ERR_NOMEM;
    nt.n = nt.used = 0;
    for (size_t i = 0; i < t->cap; i++) {
        bool hit;
        void *s = t->slot[i];

        if (s == NULL || s == TOMB)
            continue;
        nt.slot[find(&nt, s, &hit)] = s;
        nt.n++;
        nt.used++;
    }
    free(t->slot);
    *t = nt;
    return 0;
}

int gossip_tab_put(struct gossip_tab *t, void *item)
{
    bool hit;
    size_t i;

    if ((t->used + 1) * 4 > t->cap * 3 && grow(t) != 0)
        return ERR_NOMEM;
    i = find(t, item, &hit);
    if (!hit) {
        if (t->slot[i] == NULL)
            t->used++;
        t->n++;
    }
    t->slot[i] = item;
    return 0;
}

void gossip_tab_del(struct gossip_tab *t, const char *name)
{
    bool hit;
    size_t i;

    if (t->cap == 0)
        return;
    i = find(t, name, &hit);
    if (hit) {
        t->slot[i] = TOMB;
        t->n--;
    }
}

void gossip_tab_release(struct gossip_tab *t)
{
    free(t->slot);
    memset(t, 0, sizeof(*t));
}

/* ---- queues ---- */

static void finish(struct gossip *g, struct gossip_queue *q, size_t i)
{
    struct gossip_bcast *b = q->item[i];
    int notify = b->notify;

    q->item[i] = q->item[--q->n];
    free(b->msg);
    free(b);
    if (q->n == 0)
        q->id_gen = 0;
    if (notify != GB_NONE && g != NULL)
        gossip_sm_bcast_done(g, notify);
}

int gossip_q_push(struct gossip *g, struct gossip_queue *q, const char *name,
                  const uint8_t *msg, size_t len, int notify)
{
    struct gossip_bcast *b;

    if (name != NULL && name[0] != '\0')
        for (size_t i = 0; i < q->n; i++)
            if (strcmp(q->item[i]->name, name) == 0) {
                finish(g, q, i);
                break;
            }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct gossip_bcast **ni = realloc(q->item, cap * sizeof(*ni));

        if (ni == NULL)
            return ERR_NOMEM;
        q->item = ni;
        q->cap = cap;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL || (b->msg = malloc(len ? len : 1)) == NULL) {
        free(b);
        return ERR_NOMEM;
    }
    memcpy(b->msg, msg, len);
    b->len = len;
    b->id = ++q->id_gen;
    b->notify = notify;
    if (name != NULL)
        snprintf(b->name, sizeof(b->name), "%s", name);
    q->item[q->n++] = b;
    return 0;
}

void gossip_parts_add(struct gossip_parts *pt, int prefix, const uint8_t *p,
                      size_t n)
{
    size_t need = n + (prefix >= 0);

    if (pt->n >= GOSSIP_PARTS_MAX || need > sizeof(pt->data) - pt->used)
        return;
    pt->part[pt->n].p = pt->data + pt->used;
    pt->part[pt->n].len = need;
    pt->part[pt->n].n = 0;
    if (prefix >= 0)
        pt->data[pt->used++] = (uint8_t)prefix;
    memcpy(pt->data + pt->used, p, n);
    pt->used += n;
    pt->n++;
}

/* memberlist's order: fewest transmits, then longest, then newest. */
static bool better(const struct gossip_bcast *a, const struct gossip_bcast *b)
{
    if (b == NULL || a->transmits != b->transmits)
        return b == NULL || a->transmits < b->transmits;
    if (a->len != b->len)
        return a->len > b->len;
    return a->id > b->id;
}

size_t gossip_q_get(struct gossip *g, struct gossip_queue *q,
                    unsigned limit_tx, size_t overhead, size_t limit,
                    int prefix, struct gossip_parts *out)
{
    size_t used = 0, extra = prefix >= 0;
    uint32_t round = ++q->round;

    for (;;) {
        struct gossip_bcast *best = NULL;
        size_t bi = 0;

        if (out->n >= GOSSIP_PARTS_MAX)
            break;
        for (size_t i = 0; i < q->n; i++) {
            struct gossip_bcast *b = q->item[i];

            if (b->round == round ||
                used + overhead + extra + b->len > limit)
                continue;
            if (better(b, best)) {
                best = b;
                bi = i;
            }
        }
        if (best == NULL)
            break;
        gossip_parts_add(out, prefix, best->msg, best->len);
        used += overhead + extra + best->len;
        if (best->transmits + 1 >= limit_tx) {
            finish(g, q, bi);
        } else {
            best->transmits++;
            best->round = round;    /* once per packet */
        }
    }
    return used;
}

void gossip_q_prune(struct gossip *g, struct gossip_queue *q, size_t keep)
{
    while (q->n > keep) {
        size_t worst = 0;

        for (size_t i = 1; i < q->n; i++)
            if (better(q->item[worst], q->item[i]))
                worst = i;
        finish(g, q, worst);
    }
}

void gossip_q_release(struct gossip *g, struct gossip_queue *q)
{
    while (q->n > 0)
        finish(g, q, q->n - 1);
    free(q->item);
    memset(q, 0, sizeof(*q));
}

/* lincheck.c - Wing-Gong-Lowe linearizability search over a register
 * with a ModifyIndex (see lincheck.h for the history format and model).
 *
 * Layer: test tool (libc only). Thread: any, no globals.
 * Owns: the history (every event line is copied in).
 * Tests: t/unit/check_lincheck.c, t/t7006-faults.sh
 */
#include "lincheck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { F_READ, F_WRITE, F_CAS };
enum { R_PENDING, R_OK, R_FAIL, R_INFO };

#define T_INF INT64_MAX

struct op {
    int proc, f, key;
    int val;       /* write/cas: the value stored; read: the value seen */
    int64_t idx;   /* cas: the expected index; read: the index seen */
    bool swapped;  /* cas answered true */
    int res;
    int64_t tinv, tret;
    char *inv_line, *ret_line;
};

struct strtab {
    char **s;
    int n, cap;
    int *slot; /* open addressing: id + 1, 0 empty */
    int nslot;
};

struct lc_history {
    struct op *ops;
    int nops, cap;
    struct strtab procs, keys, vals;
    int *pending; /* per proc: op index or -1 */
    int npending;
    int lineno;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fprintf(stderr, "lincheck: out of memory\n");
        abort();
    }
    return q;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xrealloc(NULL, n), s, n);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void strtab_rehash(struct strtab *t)
{
    free(t->slot);
    t->nslot = t->nslot ? t->nslot * 2 : 64;
    t->slot = xrealloc(NULL, sizeof(int) * (size_t)t->nslot);
    memset(t->slot, 0, sizeof(int) * (size_t)t->nslot);
    for (int i = 0; i < t->n; i++) {
        size_t j = hash_str(t->s[i]) & (size_t)(t->nslot - 1);
        while (t->slot[j])
            j = (j + 1) & (size_t)(t->nslot - 1);
        t->slot[j] = i + 1;
    }
}

static int intern(struct strtab *t, const char *s)
{
    if (2 * (t->n + 1) > t->nslot)
        strtab_rehash(t);
    size_t j = hash_str(s) & (size_t)(t->nslot - 1);
    while (t->slot[j]) {
        if (strcmp(t->s[t->slot[j] - 1], s) == 0)
            return t->slot[j] - 1;
        j = (j + 1) & (size_t)(t->nslot - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->s = xrealloc(t->s, sizeof(char *) * (size_t)t->cap);
    }
    t->s[t->n] = xstrdup(s);
    t->slot[j] = t->n + 1;
    return t->n++;
}

static void strtab_release(struct strtab *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->s[i]);
    free(t->s);
    free(t->slot);
}

struct lc_history *lc_history_new(void)
{
    struct lc_history *h = xrealloc(NULL, sizeof(*h));

    memset(h, 0, sizeof(*h));
    intern(&h->vals, "-"); /* value 0: no key */
    return h;
}

void lc_history_free(struct lc_history *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->nops; i++) {
        free(h->ops[i].inv_line);
        free(h->ops[i].ret_line);
    }
    free(h->ops);
    free(h->pending);
    strtab_release(&h->procs);
    strtab_release(&h->keys);
    strtab_release(&h->vals);
    free(h);
}

static int fail(char *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, LC_ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_int(const char *s, int64_t *v)
{
    char *end;

    if (s == NULL || *s == '\0')
        return -1;
    *v = strtoll(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

static int parse_f(const char *s)
{
    if (strcmp(s, "read") == 0)
        return F_READ;
    if (strcmp(s, "write") == 0)
        return F_WRITE;
    if (strcmp(s, "cas") == 0)
        return F_CAS;
    return -1;
}

static int parse_type(const char *s)
{
    if (strcmp(s, "invoke") == 0)
        return R_PENDING;
    if (strcmp(s, "ok") == 0)
        return R_OK;
    if (strcmp(s, "fail") == 0)
        return R_FAIL;
    if (strcmp(s, "info") == 0)
        return R_INFO;
    return -1;
}

static int add_invoke(struct lc_history *h, int proc, int f, char **tok,
                      int ntok, int64_t t, const char *line, char *err)
{
    struct op o = {.proc = proc, .f = f, .res = R_PENDING, .tinv = t,
                   .tret = T_INF};
    int want = f == F_READ ? 5 : f == F_WRITE ? 6 : 7;

    if (ntok != want)
        return fail(err, "invoke %s takes %d fields, not %d", tok[3],
                    want, ntok);
    o.key = intern(&h->keys, tok[4]);
    if (f != F_READ)
        o.val = intern(&h->vals, tok[5]);
    if (f == F_CAS && (parse_int(tok[6], &o.idx) < 0 || o.idx < 0))
        return fail(err, "bad cas index '%s'", tok[6]);
    if (h->pending[proc] >= 0)
        return fail(err, "process '%s' invokes with an operation pending",
                    tok[1]);
    if (h->nops == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->ops = xrealloc(h->ops, sizeof(struct op) * (size_t)h->cap);
    }
    o.inv_line = xstrdup(line);
    h->pending[proc] = h->nops;
    h->ops[h->nops++] = o;
    return 0;
}

static int add_complete(struct lc_history *h, int proc, int f, int res,
                        char **tok, int ntok, int64_t t, const char *line,
                        char *err)
{
    if (h->pending[proc] < 0)
        return fail(err, "process '%s' completes nothing", tok[1]);
    struct op *o = &h->ops[h->pending[proc]];
    if (o->f != f || strcmp(h->keys.s[o->key], tok[4]) != 0)
        return fail(err, "completion does not match the invocation of "
                         "process '%s'", tok[1]);
    if (t < o->tinv)
        return fail(err, "completion before its invocation");
    if (res == R_OK && f == F_READ) {
        if (ntok != 7 || parse_int(tok[6], &o->idx) < 0 || o->idx < 0)
            return fail(err, "ok read takes KEY VALUE INDEX");
        o->val = intern(&h->vals, tok[5]);
        if ((o->val == 0) != (o->idx == 0))
            return fail(err, "a read of no key ('-') has index 0");
    } else if (res == R_OK && f == F_CAS) {
        if (ntok != 6 ||
            (strcmp(tok[5], "true") != 0 && strcmp(tok[5], "false") != 0))
            return fail(err, "ok cas takes KEY true|false");
        o->swapped = strcmp(tok[5], "true") == 0;
    } else if (ntok != 5 && !(res == R_OK && f == F_WRITE)) {
        return fail(err, "%s %s takes KEY only", tok[2], tok[3]);
    }
    o->res = res;
    o->tret = res == R_INFO ? T_INF : t;
    o->ret_line = xstrdup(line);
    h->pending[proc] = -1;
    return 0;
}

int lc_history_add_line(struct lc_history *h, const char *line, char *err)
{
    char buf[1024], *tok[8], *save = NULL, *p;
    int ntok = 0;
    int64_t t;

    if (strlen(line) >= sizeof(buf))
        return fail(err, "line too long");
    strcpy(buf, line);
    if ((p = strchr(buf, '#')) != NULL)
        *p = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    for (p = strtok_r(buf, " \t", &save); p != NULL;
         p = strtok_r(NULL, " \t", &save)) {
        if (ntok == 8)
            return fail(err, "too many fields");
        tok[ntok++] = p;
    }
    if (ntok == 0)
        return 0;
    if (ntok < 5)
        return fail(err, "want TIME PROC TYPE OP KEY ...");
    if (parse_int(tok[0], &t) < 0 || t < 0 || t == T_INF)
        return fail(err, "bad time '%s'", tok[0]);
    int type = parse_type(tok[2]), f = parse_f(tok[3]);
    if (type < 0)
        return fail(err, "bad type '%s' (invoke, ok, fail, info)", tok[2]);
    if (f < 0)
        return fail(err, "bad operation '%s' (read, write, cas)", tok[3]);
    int proc = intern(&h->procs, tok[1]);
    if (proc >= h->npending) {
        int n = h->npending ? h->npending * 2 : 16;
        while (n <= proc)
            n *= 2;
        h->pending = xrealloc(h->pending, sizeof(int) * (size_t)n);
        for (int i = h->npending; i < n; i++)
            h->pending[i] = -1;
        h->npending = n;
    }
    char clean[1024];
    snprintf(clean, sizeof(clean), "%s", line);
    clean[strcspn(clean, "\r\n")] = '\0';
    if (type == R_PENDING)
        return add_invoke(h, proc, f, tok, ntok, t, clean, err);
    return add_complete(h, proc, f, type, tok, ntok, t, clean, err);
}

int lc_history_read(struct lc_history *h, FILE *f, char *err)
{
    char line[1024], e[LC_ERR_LEN];

    while (fgets(line, sizeof(line), f) != NULL) {
        h->lineno++;
        if (lc_history_add_line(h, line, e) < 0)
            return fail(err, "line %d: %s", h->lineno, e);
    }
    if (ferror(f))
        return fail(err, "read error");
    return 0;
}

/* ------------------------------------------------------------------ */
/* One key: its operations, their known indexes, the search. */

struct key_ctx {
    struct op **ops;  /* the key's kept operations */
    int n;
    int64_t *known;   /* per op: its own ModifyIndex, -1 unknown */
    int64_t *claimed; /* sorted known indexes */
    int nclaimed;
    uint64_t *zob;    /* per op: Zobrist key */
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static bool is_claimed(const struct key_ctx *k, int64_t i)
{
    return bsearch(&i, k->claimed, (size_t)k->nclaimed, sizeof(int64_t),
                   cmp_i64) != NULL;
}

static bool writes(const struct op *o)
{
    return o->f == F_WRITE || (o->f == F_CAS && (o->swapped ||
                                                 o->res == R_INFO));
}

/* The index a read or CAS could see while `w` (-1: none) is the writer. */
static bool index_is(const struct key_ctx *k, int w, int64_t i)
{
    if (w < 0)
        return i == 0;
    if (k->known[w] >= 0)
        return k->known[w] == i;
    return i > 0 && !is_claimed(k, i);
}

static bool index_may_differ(const struct key_ctx *k, int w, int64_t i)
{
    if (w < 0)
        return i != 0;
    return k->known[w] < 0 || k->known[w] != i;
}

/* Can op o take effect now, the writer being w and maxidx the largest
 * index stored so far? */
static bool legal(const struct key_ctx *k, int o, int w, int64_t maxidx)
{
    const struct op *p = k->ops[o];
    bool mono = k->known[o] < 0 || k->known[o] > maxidx;

    switch (p->f) {
    case F_READ:
        return (w < 0 ? 0 : k->ops[w]->val) == p->val &&
               index_is(k, w, p->idx);
    case F_WRITE:
        return mono;
    default:
        if (writes(p))
            return mono && index_is(k, w, p->idx);
        return index_may_differ(k, w, p->idx);
    }
}

static void key_prepare(struct key_ctx *k)
{
    k->known = xrealloc(NULL, sizeof(int64_t) * (size_t)k->n);
    k->claimed = xrealloc(NULL, sizeof(int64_t) * (size_t)(k->n + 1));
    k->zob = xrealloc(NULL, sizeof(uint64_t) * (size_t)k->n);
    k->nclaimed = 0;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < k->n; i++) {
        k->known[i] = -1;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        k->zob[i] = x * 0x2545F4914F6CDD1DULL;
    }
    for (int r = 0; r < k->n; r++) {
        const struct op *p = k->ops[r];
        if (p->f != F_READ || p->val == 0)
            continue;
        int w = -1, nw = 0;
        for (int i = 0; i < k->n; i++)
            if (writes(k->ops[i]) && k->ops[i]->val == p->val)
                w = i, nw++;
        if (nw == 1 && k->known[w] < 0)
            k->known[w] = p->idx;
    }
    for (int i = 0; i < k->n; i++)
        if (k->known[i] >= 0)
            k->claimed[k->nclaimed++] = k->known[i];
    qsort(k->claimed, (size_t)k->nclaimed, sizeof(int64_t), cmp_i64);
}

static void key_release(struct key_ctx *k)
{
    free(k->ops);
    free(k->known);
    free(k->claimed);
    free(k->zob);
}

/* ------------------------------------------------------------------ */
/* The search over a subset `sel` of the key's operations. */

struct ent {
    int j;      /* position in sel */
    bool ret;
    int match;  /* the other event of the operation */
    int prev, next;
};

struct evsort {
    int64_t t;
    int ret, j;
};

static int cmp_ev(const void *a, const void *b)
{
    const struct evsort *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->ret != y->ret) /* calls first: equal times overlap */
        return x->ret - y->ret;
    return x->j - y->j;
}

/* Memo of (linearized set, writer): open addressing on the set's hash. */
struct memo {
    uint64_t *h;
    int *w;
    uint64_t *bits;
    size_t cap, n;
    int words;
};

static void memo_init(struct memo *m, int words)
{
    m->cap = 1024;
    m->n = 0;
    m->words = words;
    m->h = xrealloc(NULL, sizeof(uint64_t) * m->cap);
    memset(m->h, 0, sizeof(uint64_t) * m->cap);
    m->w = xrealloc(NULL, sizeof(int) * m->cap);
    m->bits = xrealloc(NULL, sizeof(uint64_t) * m->cap * (size_t)words);
}

static void memo_release(struct memo *m)
{
    free(m->h);
    free(m->w);
    free(m->bits);
}

static bool memo_put(struct memo *m, const uint64_t *bits, uint64_t h, int w,
                     bool check);

static void memo_grow(struct memo *m)
{
    struct memo old = *m;

    m->cap *= 2;
    m->n = 0;
    m->h = xrealloc(NULL, sizeof(uint64_t) * m->cap);
    memset(m->h, 0, sizeof(uint64_t) * m->cap);
    m->w = xrealloc(NULL, sizeof(int) * m->cap);
    m->bits = xrealloc(NULL, sizeof(uint64_t) * m->cap * (size_t)m->words);
    for (size_t i = 0; i < old.cap; i++)
        if (old.h[i])
            memo_put(m, old.bits + i * (size_t)old.words, old.h[i], old.w[i],
                     false);
    memo_release(&old);
}

/* memo_put: add the pair; false if it was there already. */
static bool memo_put(struct memo *m, const uint64_t *bits, uint64_t h, int w,
                     bool check)
{
    size_t words = (size_t)m->words;

    h = (h ^ ((uint64_t)(w + 2) * 0x9E3779B97F4A7C15ULL)) | 1;
    if (check && 2 * (m->n + 1) > m->cap)
        memo_grow(m);
    size_t i = h & (m->cap - 1);
    while (m->h[i]) {
        if (m->h[i] == h && m->w[i] == w &&
            memcmp(m->bits + i * words, bits, words * 8) == 0)
            return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->h[i] = h;
    m->w[i] = w;
    memcpy(m->bits + i * words, bits, words * 8);
    m->n++;
    return true;
}

static void lift(struct ent *e, int c)
{
    int r = e[c].match;

    e[e[c].prev].next = e[c].next;
    if (e[c].next >= 0)
        e[e[c].next].prev = e[c].prev;
    e[e[r].prev].next = e[r].next;
    if (e[r].next >= 0)
        e[e[r].next].prev = e[r].prev;
}

static void unlift(struct ent *e, int c)
{
    int r = e[c].match;

    e[e[r].prev].next = r;
    if (e[r].next >= 0)
        e[e[r].next].prev = r;
    e[e[c].prev].next = c;
    if (e[c].next >= 0)
        e[e[c].next].prev = c;
}

static struct ent *build_list(const struct key_ctx *k, const int *sel, int n)
{
    struct evsort *ev = xrealloc(NULL, sizeof(*ev) * (size_t)(2 * n));
    struct ent *e = xrealloc(NULL, sizeof(*e) * (size_t)(2 * n + 1));
    int *call = xrealloc(NULL, sizeof(int) * (size_t)(n + 1));

    for (int j = 0; j < n; j++) {
        ev[2 * j] = (struct evsort){k->ops[sel[j]]->tinv, 0, j};
        ev[2 * j + 1] = (struct evsort){k->ops[sel[j]]->tret, 1, j};
    }
    qsort(ev, (size_t)(2 * n), sizeof(*ev), cmp_ev);
    e[0] = (struct ent){-1, false, -1, -1, 2 * n > 0 ? 1 : -1};
    for (int i = 0; i < 2 * n; i++) {
        e[i + 1] = (struct ent){ev[i].j, ev[i].ret != 0, -1, i,
                                i + 2 <= 2 * n ? i + 2 : -1};
        if (!ev[i].ret) {
            call[ev[i].j] = i + 1;
        } else {
            e[i + 1].match = call[ev[i].j];
            e[call[ev[i].j]].match = i + 1;
        }
    }
    free(ev);
    free(call);
    return e;
}

struct frame {
    int ent, w;
    int64_t maxidx;
};

/* The search state: the entries left, the linearized set (bits, its
 * Zobrist hash), the model state (writer w, maxidx), the stack. */
struct search {
    const struct key_ctx *k;
    const int *sel;
    struct ent *e;
    uint64_t *bits, hash;
    struct frame *stack;
    int sp, w;
    int64_t maxidx;
    struct memo m;
};

/* try_call: linearize the call entry c now if the model allows it and
 * the resulting (set, state) is new; the next entry to look at. */
static int try_call(struct search *s, int c)
{
    const struct key_ctx *k = s->k;
    int j = s->e[c].j, o = s->sel[j];

    if (!legal(k, o, s->w, s->maxidx))
        return s->e[c].next;
    int nw = writes(k->ops[o]) ? o : s->w;
    s->bits[j / 64] |= 1ULL << (j % 64);
    if (!memo_put(&s->m, s->bits, s->hash ^ k->zob[o], nw, true)) {
        s->bits[j / 64] &= ~(1ULL << (j % 64));
        return s->e[c].next;
    }
    s->stack[s->sp++] = (struct frame){c, s->w, s->maxidx};
    s->w = nw;
    if (k->known[o] > s->maxidx)
        s->maxidx = k->known[o];
    s->hash ^= k->zob[o];
    lift(s->e, c);
    return s->e[0].next;
}

/* backtrack: undo the last linearization; the entry after it. */
static int backtrack(struct search *s)
{
    struct frame f = s->stack[--s->sp];
    int j = s->e[f.ent].j;

    s->w = f.w;
    s->maxidx = f.maxidx;
    s->bits[j / 64] &= ~(1ULL << (j % 64));
    s->hash ^= s->k->zob[s->sel[j]];
    unlift(s->e, f.ent);
    return s->e[f.ent].next;
}

static enum lc_verdict wgl(const struct key_ctx *k, const int *sel, int n,
                           long limit, long *steps)
{
    int words = n / 64 + 1;
    struct search s = {.k = k, .sel = sel, .w = -1};
    long used = 0;
    enum lc_verdict v = LC_LINEARIZABLE;

    s.e = build_list(k, sel, n);
    s.bits = xrealloc(NULL, sizeof(uint64_t) * (size_t)words);
    memset(s.bits, 0, sizeof(uint64_t) * (size_t)words);
    s.stack = xrealloc(NULL, sizeof(struct frame) * (size_t)(n + 1));
    memo_init(&s.m, words);
    for (int c = s.e[0].next; c >= 0;) {
        if (++used > limit) {
            v = LC_UNKNOWN;
            break;
        }
        if (!s.e[c].ret) {
            c = try_call(&s, c);
        } else if (k->ops[sel[s.e[c].j]]->res == R_INFO) {
            break; /* only indeterminate operations left: never happened */
        } else if (s.sp == 0) {
            v = LC_NOT_LINEARIZABLE;
            break;
        } else {
            c = backtrack(&s);
        }
    }
    *steps += used;
    memo_release(&s.m);
    free(s.stack);
    free(s.bits);
    free(s.e);
    return v;
}

/* ------------------------------------------------------------------ */
/* Shrinking a failing history: drop what keeps it failing. */

/* May cur[a..b) go? Reads and CAS answered false only constrain, so
 * dropping them keeps any linearization valid; a write can go only if
 * nothing left could have depended on it being the current value. */
static bool removable(const struct key_ctx *k, const int *cur, int n, int a,
                      int b)
{
    for (int x = a; x < b; x++) {
        int r = cur[x];
        if (!writes(k->ops[r]))
            continue;
        for (int y = 0; y < n; y++) {
            if (y >= a && y < b)
                continue;
            const struct op *p = k->ops[cur[y]];
            if (p->f == F_READ && p->val == k->ops[r]->val)
                return false;
            if (p->f != F_CAS)
                continue;
            if (writes(p) && (k->known[r] >= 0
                                  ? p->idx == k->known[r]
                                  : p->idx > 0 && !is_claimed(k, p->idx)))
                return false;
            if (!writes(p) && (p->idx == 0 || is_claimed(k, p->idx)))
                return false;
        }
    }
    return true;
}

/* ddmin over cur[0..lim) (the rest stays): drop ever smaller chunks
 * while the history keeps failing; the new length of cur. */
static int shrink_pass(const struct key_ctx *k, int *cur, int n, int lim,
                       int *cand, long limit, long *spent, long budget)
{
    for (int chunk = lim / 2 > 0 ? lim / 2 : 1; chunk >= 1; chunk /= 2) {
        for (int a = 0; a < lim && *spent < budget;) {
            int b = a + chunk < lim ? a + chunk : lim;
            if (removable(k, cur, n, a, b)) {
                int m = 0;
                for (int x = 0; x < n; x++)
                    if (x < a || x >= b)
                        cand[m++] = cur[x];
                if (wgl(k, cand, m, limit, spent) == LC_NOT_LINEARIZABLE) {
                    memcpy(cur, cand, sizeof(int) * (size_t)m);
                    n = m;
                    lim -= b - a;
                    continue;
                }
            }
            a = b;
        }
    }
    return n;
}

/* First the reads and the CAS answered false (dropping them is always
 * sound, and they pin the writes), then everything. The order of cur
 * does not matter: the report sorts by time. */
static int shrink(const struct key_ctx *k, int *cur, int n, long limit,
                  long *steps)
{
    int *cand = xrealloc(NULL, sizeof(int) * (size_t)(n + 1));
    long budget = 50 * limit, spent = 0;
    int nc = 0;

    for (int x = 0; x < n; x++)
        if (!writes(k->ops[cur[x]]))
            cand[nc++] = cur[x];
    for (int x = 0, m = nc; x < n; x++)
        if (writes(k->ops[cur[x]]))
            cand[m++] = cur[x];
    memcpy(cur, cand, sizeof(int) * (size_t)n);
    n = shrink_pass(k, cur, n, nc, cand, limit, &spent, budget);
    n = shrink_pass(k, cur, n, n, cand, limit, &spent, budget);
    *steps += spent;
    free(cand);
    return n;
}

struct line_at {
    int64_t t;
    int ret;
    const char *s;
};

static int cmp_line(const void *a, const void *b)
{
    const struct line_at *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->ret - y->ret;
}

static void print_ops(const struct key_ctx *k, const int *cur, int n,
                      FILE *out)
{
    struct line_at *l = xrealloc(NULL, sizeof(*l) * (size_t)(2 * n));
    int m = 0;

    for (int i = 0; i < n; i++) {
        const struct op *p = k->ops[cur[i]];
        l[m++] = (struct line_at){p->tinv, 0, p->inv_line};
        if (p->ret_line != NULL)
            l[m++] = (struct line_at){p->tret == T_INF ? p->tinv : p->tret,
                                      1, p->ret_line};
    }
    qsort(l, (size_t)m, sizeof(*l), cmp_line);
    for (int i = 0; i < m; i++)
        fprintf(out, "  %s\n", l[i].s);
    free(l);
}

/* An indeterminate write may never happen, so a linearization of the
 * history without some of them is one of the whole history. Timeouts
 * whose value nobody read are most of them and cost the most: try
 * without them first (only a success is conclusive). */
static enum lc_verdict first_without_unseen(const struct key_ctx *k, int *cur,
                                            long limit, long *steps)
{
    int m = 0, dropped = 0;

    for (int i = 0; i < k->n; i++) {
        const struct op *p = k->ops[i];
        bool seen = false;
        if (p->res == R_INFO && writes(p) && k->known[i] < 0) {
            for (int r = 0; r < k->n && !seen; r++)
                seen = k->ops[r]->f == F_READ && k->ops[r]->val == p->val;
            if (!seen) {
                dropped++;
                continue;
            }
        }
        cur[m++] = i;
    }
    if (dropped == 0)
        return LC_UNKNOWN;
    return wgl(k, cur, m, limit, steps);
}

static enum lc_verdict check_key(struct lc_history *h, int key, long limit,
                                 FILE *out, struct lc_stats *st)
{
    struct key_ctx k = {.ops = xrealloc(NULL, sizeof(struct op *) *
                                                  (size_t)(h->nops + 1))};

    for (int i = 0; i < h->nops; i++) {
        struct op *p = &h->ops[i];
        if (p->key != key || p->res == R_FAIL ||
            (p->res == R_INFO && p->f == F_READ))
            continue;
        k.ops[k.n++] = p;
        if (p->res == R_INFO && p->f == F_CAS)
            st->info++;
        if (p->res == R_INFO && p->f == F_WRITE)
            st->info++;
    }
    key_prepare(&k);
    int *cur = xrealloc(NULL, sizeof(int) * (size_t)(k.n + 1));
    for (int i = 0; i < k.n; i++)
        cur[i] = i;
    st->ops += k.n;
    enum lc_verdict v = first_without_unseen(&k, cur, limit, &st->steps);
    if (v != LC_LINEARIZABLE) {
        for (int i = 0; i < k.n; i++)
            cur[i] = i;
        v = wgl(&k, cur, k.n, limit, &st->steps);
    }
    if (v == LC_UNKNOWN) {
        st->unknown_keys++;
        if (out != NULL)
            fprintf(out, "key '%s': unknown (%d operations, search limit "
                         "%ld steps reached)\n",
                    h->keys.s[key], k.n, limit);
    } else if (v == LC_NOT_LINEARIZABLE) {
        st->bad_keys++;
        int n = shrink(&k, cur, k.n, limit, &st->steps);
        if (st->min_ops == 0 || n < st->min_ops)
            st->min_ops = n;
        if (out != NULL) {
            fprintf(out, "key '%s': not linearizable (%d operations); a "
                         "failing sub-history of %d:\n",
                    h->keys.s[key], k.n, n);
            print_ops(&k, cur, n, out);
        }
    }
    free(cur);
    key_release(&k);
    return v;
}

enum lc_verdict lc_check(struct lc_history *h, long limit, FILE *out,
                         struct lc_stats *st)
{
    struct lc_stats dummy;
    enum lc_verdict v = LC_LINEARIZABLE;

    if (st == NULL)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < h->nops; i++)
        if (h->ops[i].res == R_PENDING) {
            h->ops[i].res = R_INFO;
            h->ops[i].tret = T_INF;
        }
    st->keys = h->keys.n;
    for (int key = 0; key < h->keys.n; key++) {
        enum lc_verdict kv = check_key(h, key, limit, out, st);
        if (kv == LC_NOT_LINEARIZABLE)
            v = kv;
        else if (kv == LC_UNKNOWN && v == LC_LINEARIZABLE)
            v = kv;
    }
    return v;
}

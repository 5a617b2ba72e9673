/* mem_nofork.c - size-class allocator over MADV_DONTFORK chunks.
 *
 * Layer: util. Thread: any (one mutex).
 * Tests: t/unit/check_mem_nofork.c
 *
 * A chunk is CHUNK bytes aligned to CHUNK, with its header first, so a
 * block's chunk is the pointer rounded down. Which chunk bases are ours
 * is a bitmap per 16 GiB of address space (dir[]), so free() of a
 * pointer from malloc can be told apart without reading memory that may
 * not be mapped. A big block is a mapping of its own, also CHUNK-aligned
 * with the header first and the block at `off` (<= CHUNK / 2).
 *
 * Under AddressSanitizer free blocks and the slack after a request are
 * poisoned, a chunk is unpoisoned before it is unmapped, and chunks are
 * LeakSanitizer root regions (they hold the only pointers to some malloc
 * blocks); leaks of blocks from here are not reported. A forked child
 * does not have the chunks but inherits their shadow, so a library it
 * then maps there (a dlopen) would look poisoned: an atfork handler
 * unpoisons every mapping, known from a list kept in malloc's memory.
 */
#include "mem_nofork.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define ROOT_ADD(p, n) __lsan_register_root_region((p), (n))
#define ROOT_DEL(p, n) __lsan_unregister_root_region((p), (n))
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define ROOT_ADD(p, n) ((void)(p), (void)(n))
#define ROOT_DEL(p, n) ((void)(p), (void)(n))
#define NO_ASAN
#endif

#define CHUNK_SHIFT 20
#define CHUNK ((size_t)1 << CHUNK_SHIFT)
#define PAGE ((size_t)4096)
#define MIN_SHIFT 4  /* 16 B */
#define MAX_SHIFT 16 /* 64 KiB */
#define NCLASS (MAX_SHIFT - MIN_SHIFT + 1)
#define MAGIC 0x6e6f666bu /* "nofk" */
#define ADDR_BITS 47
#define DIR_SHIFT 14 /* chunks per bitmap: 2^14 (16 GiB) */
#define DIR_SIZE ((size_t)1 << (ADDR_BITS - CHUNK_SHIFT - DIR_SHIFT))

struct chunk {
    uint32_t magic;
    int cls;        /* size class, or -1 for a big block */
    size_t map_len; /* bytes mapped from the chunk's base */
    size_t off;     /* big: the block's offset; class: the first block's */
    struct chunk *prev, *next; /* the class's chunks with a free block */
    void *free_list;
    uint32_t used, bump, nblocks;
};

struct cls {
    struct chunk *partial;
    size_t nchunks;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cls classes[NCLASS];
static uint8_t *dir[DIR_SIZE];
static struct mem_nofork_stats stats;

/* ---- AddressSanitizer: the mappings, for a forked child -------------- */

#if defined(__SANITIZE_ADDRESS__)
struct mapping {
    void *base;
    size_t len;
};
static struct mapping *maps;
static size_t nmaps, maps_cap;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&mu); }
static void fork_parent(void) { pthread_mutex_unlock(&mu); }

static void fork_child(void)
{
    for (size_t i = 0; i < nmaps; i++) {
        ROOT_DEL(maps[i].base, maps[i].len);
        UNPOISON(maps[i].base, maps[i].len);
    }
    nmaps = 0;
    pthread_mutex_unlock(&mu);
}

static void atfork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static int maps_add(void *base, size_t len)
{
    pthread_once(&atfork_once, atfork_register);
    if (nmaps == maps_cap) {
        size_t cap = maps_cap ? maps_cap * 2 : 64;
        struct mapping *m = realloc(maps, cap * sizeof(*m));

        if (m == NULL)
            return -1;
        maps = m;
        maps_cap = cap;
    }
    maps[nmaps].base = base;
    maps[nmaps].len = len;
    nmaps++;
    return 0;
}

static void maps_del(void *base)
{
    for (size_t i = 0; i < nmaps; i++) {
        if (maps[i].base == base) {
            maps[i] = maps[--nmaps];
            return;
        }
    }
}
#else
static int maps_add(void *base, size_t len)
{
    (void)base;
    (void)len;
    return 0;
}

static void maps_del(void *base) { (void)base; }
#endif

/* ---- which chunk bases are ours -------------------------------------- */

static int dir_slot(const void *base, size_t *hi, size_t *bit)
{
    uintptr_t a = (uintptr_t)base;
    uintptr_t idx;

    if (a >> ADDR_BITS != 0)
        return -1;
    idx = a >> CHUNK_SHIFT;
    *hi = idx >> DIR_SHIFT;
    *bit = idx & (((uintptr_t)1 << DIR_SHIFT) - 1);
    return 0;
}

static int dir_has(const void *base)
{
    size_t hi, bit;

    if (dir_slot(base, &hi, &bit) != 0 || dir[hi] == NULL)
        return 0;
    return dir[hi][bit >> 3] >> (bit & 7) & 1;
}

static int dir_set(const void *base, int on)
{
    size_t hi, bit;

    if (dir_slot(base, &hi, &bit) != 0)
        return -1;
    if (dir[hi] == NULL &&
        (dir[hi] = calloc(1, ((size_t)1 << DIR_SHIFT) / 8)) == NULL)
        return -1;
    if (on)
        dir[hi][bit >> 3] |= (uint8_t)(1u << (bit & 7));
    else
        dir[hi][bit >> 3] &= (uint8_t)~(1u << (bit & 7));
    return 0;
}

/* ---- mappings -------------------------------------------------------- */

/* len bytes at a CHUNK-aligned address, not inherited by fork. */
static void *map_aligned(size_t len)
{
    unsigned char *raw, *base;
    size_t lead;

    if (len > SIZE_MAX - CHUNK)
        return NULL;
    raw = mmap(NULL, len + CHUNK, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    base = (unsigned char *)(((uintptr_t)raw + CHUNK - 1) & ~(CHUNK - 1));
    lead = (size_t)(base - raw);
    if (lead > 0)
        munmap(raw, lead);
    munmap(base + len, CHUNK - lead);
    if (madvise(base, len, MADV_DONTFORK) != 0 || maps_add(base, len) != 0)
        goto fail;
    if (dir_set(base, 1) != 0) {
        maps_del(base);
        goto fail;
    }
    stats.mapped += len;
    stats.chunks++;
    ROOT_ADD(base, len);
    return base;
fail:
    munmap(base, len);
    return NULL;
}

static void unmap_chunk(struct chunk *c)
{
    size_t len = c->map_len;

    ROOT_DEL(c, len);
    UNPOISON(c, len);
    maps_del(c);
    dir_set(c, 0);
    stats.mapped -= len;
    stats.chunks--;
    munmap(c, len);
}

/* ---- size classes ---------------------------------------------------- */

static int class_of(size_t n)
{
    int s;

    if (n <= ((size_t)1 << MIN_SHIFT))
        return 0;
    if (n > ((size_t)1 << MAX_SHIFT))
        return -1;
    s = (int)(sizeof(unsigned long) * 8) - __builtin_clzl((unsigned long)n - 1);
    return s - MIN_SHIFT;
}

static size_t class_size(int cls) { return (size_t)1 << (cls + MIN_SHIFT); }

static void partial_push(struct cls *k, struct chunk *c)
{
    c->prev = NULL;
    c->next = k->partial;
    if (k->partial != NULL)
        k->partial->prev = c;
    k->partial = c;
}

static void partial_unlink(struct cls *k, struct chunk *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        k->partial = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static struct chunk *chunk_new(int cls)
{
    size_t bs = class_size(cls);
    size_t hdr = (sizeof(struct chunk) + bs - 1) & ~(bs - 1);
    struct chunk *c = map_aligned(CHUNK);

    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->magic = MAGIC;
    c->cls = cls;
    c->map_len = CHUNK;
    c->off = hdr;
    c->nblocks = (uint32_t)((CHUNK - hdr) / bs);
    POISON((unsigned char *)c + hdr, CHUNK - hdr);
    classes[cls].nchunks++;
    partial_push(&classes[cls], c);
    return c;
}

/* The free list's links live in poisoned blocks. */
NO_ASAN static void *link_get(void *blk) { return *(void **)blk; }
NO_ASAN static void link_set(void *blk, void *next)
{
    *(void **)blk = next;
}

static void *class_alloc(int cls, size_t n)
{
    struct cls *k = &classes[cls];
    struct chunk *c = k->partial;
    size_t bs = class_size(cls);
    unsigned char *p;

    if (c == NULL && (c = chunk_new(cls)) == NULL)
        return NULL;
    if (c->free_list != NULL) {
        p = c->free_list;
        c->free_list = link_get(p);
    } else {
        p = (unsigned char *)c + c->off + (size_t)c->bump * bs;
        c->bump++;
    }
    if (++c->used == c->nblocks)
        partial_unlink(k, c);
    stats.used += bs;
    UNPOISON(p, n);
    return p;
}

static void class_free(struct chunk *c, void *p)
{
    struct cls *k = &classes[c->cls];
    size_t bs = class_size(c->cls);

    POISON(p, bs);
    link_set(p, c->free_list);
    c->free_list = p;
    if (c->used-- == c->nblocks)
        partial_push(k, c);
    stats.used -= bs;
    if (c->used == 0 && k->nchunks > 1) {
        partial_unlink(k, c);
        k->nchunks--;
        unmap_chunk(c);
    }
}

static void *big_alloc(size_t alignment, size_t n)
{
    size_t off = alignment > PAGE ? alignment : PAGE;
    size_t len;
    struct chunk *c;

    if (n > SIZE_MAX - off - PAGE)
        return NULL;
    len = (off + n + PAGE - 1) & ~(PAGE - 1);
    if ((c = map_aligned(len)) == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->magic = MAGIC;
    c->cls = -1;
    c->map_len = len;
    c->off = off;
    stats.used += len - off;
    POISON((unsigned char *)c + off + n, len - off - n);
    return (unsigned char *)c + off;
}

/* ---- locked entry points --------------------------------------------- */

static void *alloc_locked(size_t alignment, size_t n)
{
    size_t want = n > alignment ? n : alignment;
    int cls = class_of(want == 0 ? 1 : want);

    return cls >= 0 ? class_alloc(cls, n) : big_alloc(alignment, n);
}

/* Our chunk holding p, or NULL when p came from elsewhere. */
static struct chunk *owner(void *p)
{
    struct chunk *c = (struct chunk *)((uintptr_t)p & ~(CHUNK - 1));

    return dir_has(c) && c->magic == MAGIC ? c : NULL;
}

static size_t capacity(const struct chunk *c)
{
    return c->cls >= 0 ? class_size(c->cls) : c->map_len - c->off;
}

static void free_locked(struct chunk *c, void *p)
{
    if (c->cls >= 0) {
        class_free(c, p);
        return;
    }
    stats.used -= c->map_len - c->off;
    unmap_chunk(c);
}

void *mem_nofork_aligned_alloc(size_t alignment, size_t n)
{
    void *p;

    if (alignment == 0 || (alignment & (alignment - 1)) != 0 ||
        alignment > CHUNK / 2) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&mu);
    p = alloc_locked(alignment, n);
    pthread_mutex_unlock(&mu);
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

void *mem_nofork_malloc(size_t n)
{
    return mem_nofork_aligned_alloc(1, n);
}

void *mem_nofork_calloc(size_t nmemb, size_t size)
{
    void *p;

    if (size != 0 && nmemb > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    if ((p = mem_nofork_malloc(nmemb * size)) != NULL)
        memset(p, 0, nmemb * size);
    return p;
}

void mem_nofork_free(void *p)
{
    struct chunk *c;

    if (p == NULL)
        return;
    pthread_mutex_lock(&mu);
    if ((c = owner(p)) != NULL)
        free_locked(c, p);
    pthread_mutex_unlock(&mu);
    if (c == NULL)
        free(p); /* from malloc */
}

void *mem_nofork_realloc(void *p, size_t n)
{
    struct chunk *c;
    size_t cap;
    void *q;

    if (p == NULL)
        return mem_nofork_malloc(n);
    if (n == 0) {
        mem_nofork_free(p);
        return NULL;
    }
    pthread_mutex_lock(&mu);
    c = owner(p);
    cap = c != NULL ? capacity(c) : 0;
    if (c != NULL && n <= cap) {
        UNPOISON(p, n);
        POISON((unsigned char *)p + n, cap - n);
    }
    pthread_mutex_unlock(&mu);
    if (c == NULL)
        return realloc(p, n); /* from malloc: stays there */
    if (n <= cap)
        return p;
    if ((q = mem_nofork_malloc(n)) == NULL)
        return NULL;
    UNPOISON(p, cap); /* its tail past the old size too; freed next */
    memcpy(q, p, cap);
    mem_nofork_free(p);
    return q;
}

void mem_nofork_get_stats(struct mem_nofork_stats *st)
{
    pthread_mutex_lock(&mu);
    *st = stats;
    pthread_mutex_unlock(&mu);
}

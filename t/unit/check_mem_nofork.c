/* check_mem_nofork.c - the MADV_DONTFORK allocator (libcore/mem_nofork.c):
 * sizes and alignment, reuse, chunks given back, pointers from malloc,
 * threads, and that a forked child does not get the memory. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem_nofork.h"
#include "unit.h"

static size_t used_now(void)
{
    struct mem_nofork_stats st;

    mem_nofork_get_stats(&st);
    return st.used;
}

START_TEST(sizes_are_aligned_and_writable)
{
    static const size_t sizes[] = {0,    1,     15,    16,     17,
                                   100,  511,   512,   513,    4096,
                                   4097, 65535, 65536, 65537,  300000,
                                   1 << 20, (1 << 20) + 1};
    void *p[sizeof(sizes) / sizeof(sizes[0])];
    size_t base = used_now();

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i], want = 16;

        p[i] = mem_nofork_malloc(n);
        ck_assert_ptr_nonnull(p[i]);
        while (want < n && want < 4096)
            want <<= 1;
        ck_assert_uint_eq((uintptr_t)p[i] % want, 0);
        memset(p[i], (int)i, n);
    }
    ck_assert_uint_gt(used_now(), base);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        const unsigned char *b = p[i];

        for (size_t k = 0; k < sizes[i]; k += 97)
            ck_assert_uint_eq(b[k], (unsigned char)i);
        mem_nofork_free(p[i]);
    }
    ck_assert_uint_eq(used_now(), base);
}
END_TEST

START_TEST(aligned_alloc_and_bad_alignment)
{
    void *a = mem_nofork_aligned_alloc(4096, 100);
    void *b = mem_nofork_aligned_alloc(8192, 70000);
    void *c = mem_nofork_aligned_alloc(512, 8);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq((uintptr_t)a % 4096, 0);
    ck_assert_uint_eq((uintptr_t)b % 8192, 0);
    ck_assert_uint_eq((uintptr_t)c % 512, 0);
    memset(b, 1, 70000);
    mem_nofork_free(a);
    mem_nofork_free(b);
    mem_nofork_free(c);
    errno = 0;
    ck_assert_ptr_null(mem_nofork_aligned_alloc(3, 10));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(mem_nofork_aligned_alloc((size_t)1 << 21, 10));
    ck_assert_ptr_null(mem_nofork_calloc(SIZE_MAX / 2, 4));
    ck_assert_ptr_null(mem_nofork_malloc(SIZE_MAX - 100));
}
END_TEST

START_TEST(freed_blocks_are_reused)
{
    void *p = mem_nofork_malloc(300);
    void *q;

    mem_nofork_free(p);
    q = mem_nofork_malloc(260); /* same 512 B class: the block just freed */
    ck_assert_ptr_eq(p, q);
    mem_nofork_free(q);
}
END_TEST

START_TEST(calloc_zeroes_a_reused_block)
{
    unsigned char *p = mem_nofork_malloc(200);

    memset(p, 0xab, 200);
    mem_nofork_free(p);
    p = mem_nofork_calloc(20, 10);
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < 200; i++)
        ck_assert_uint_eq(p[i], 0);
    mem_nofork_free(p);
}
END_TEST

START_TEST(realloc_keeps_the_bytes)
{
    char *p = mem_nofork_realloc(NULL, 10);

    memcpy(p, "0123456789", 10);
    ck_assert_ptr_eq(mem_nofork_realloc(p, 16), p); /* fits its block */
    p = mem_nofork_realloc(p, 5000);
    ck_assert_ptr_nonnull(p);
    ck_assert(memcmp(p, "0123456789", 10) == 0);
    p = mem_nofork_realloc(p, 200000);
    ck_assert(memcmp(p, "0123456789", 10) == 0);
    p = mem_nofork_realloc(p, 3);
    ck_assert(memcmp(p, "012", 3) == 0);
    ck_assert_ptr_null(mem_nofork_realloc(p, 0)); /* freed */
}
END_TEST

START_TEST(pointers_from_malloc_go_back_to_libc)
{
    char *p = malloc(100);
    char *q;

    ck_assert_ptr_nonnull(p);
    memcpy(p, "abc", 4);
    q = mem_nofork_realloc(p, 200000);
    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(q, "abc");
    mem_nofork_free(q);
    mem_nofork_free(malloc(10));
    mem_nofork_free(NULL);
}
END_TEST

START_TEST(empty_chunks_are_unmapped)
{
    enum { N = 5000 }; /* 2.5 MB of 512 B blocks: three chunks */
    static void *p[N];
    struct mem_nofork_stats before, full, after;

    mem_nofork_get_stats(&before);
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(p[i] = mem_nofork_malloc(400));
    mem_nofork_get_stats(&full);
    ck_assert_uint_ge(full.chunks, before.chunks + 2);
    for (int i = 0; i < N; i++)
        mem_nofork_free(p[i]);
    mem_nofork_get_stats(&after);
    ck_assert_uint_le(after.chunks, before.chunks + 1); /* one kept */
    ck_assert_uint_lt(after.mapped, full.mapped);
    ck_assert_uint_eq(after.used, before.used);
}
END_TEST

/* write(2) of an unmapped address fails with EFAULT, where touching it
 * would kill the child. */
static int child_can_read(const void *p)
{
    int fds[2], status = 0;
    pid_t pid;

    if (pipe(fds) != 0)
        return -1;
    if ((pid = fork()) == 0)
        _exit(write(fds[1], p, 1) == 1 ? 0 : errno == EFAULT ? 2 : 3);
    close(fds[0]);
    close(fds[1]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(a_forked_child_does_not_get_the_memory)
{
    char *ours = mem_nofork_malloc(64);
    char *big = mem_nofork_malloc(200000);
    char *libc = malloc(64);

    ck_assert_ptr_nonnull(ours);
    ck_assert_ptr_nonnull(libc);
    ours[0] = big[0] = libc[0] = 'x';
    ck_assert_int_eq(child_can_read(libc), 0);
    ck_assert_int_eq(child_can_read(ours), 2);
    ck_assert_int_eq(child_can_read(big), 2);
    mem_nofork_free(ours);
    mem_nofork_free(big);
    free(libc);
}
END_TEST

/* The child does not have the chunks, so what it maps there later (a
 * dlopen'd library) must not look poisoned to ASan: memcmp of a page
 * mapped where a freed (poisoned) block was. */
START_TEST(a_child_can_use_the_address_range)
{
    unsigned char *p = mem_nofork_malloc(100);
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
    int status = 0;
    pid_t pid;

    ck_assert_ptr_nonnull(p);
    mem_nofork_free(p); /* poisoned under ASan */
    if ((pid = fork()) == 0) {
        unsigned char *q = mmap(page, 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS |
                                    MAP_FIXED_NOREPLACE, -1, 0);
        static const unsigned char zero[16];

        if (q == MAP_FAILED)
            _exit(2);
        _exit(memcmp(q + ((uintptr_t)p & 4095), zero, 16) == 0 ? 0 : 3);
    }
    ck_assert_int_gt(pid, 0);
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *slot[64] = {0};

    for (int i = 0; i < 20000; i++) {
        unsigned k = (seed = seed * 1103515245u + 12345u) >> 16;
        void **s = &slot[k % 64];

        if (*s != NULL) {
            ck_assert_uint_eq(*(unsigned char *)*s, (unsigned char)(k % 64));
            mem_nofork_free(*s);
            *s = NULL;
        } else {
            size_t n = 1 + (k >> 6) % 3000;

            *s = mem_nofork_malloc(n);
            ck_assert_ptr_nonnull(*s);
            memset(*s, (int)(k % 64), n);
        }
    }
    for (int i = 0; i < 64; i++)
        mem_nofork_free(slot[i]);
    return NULL;
}

START_TEST(threads_share_it)
{
    pthread_t th[4];
    size_t base = used_now();

    for (uintptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, churn, (void *)(i + 1)),
                         0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(used_now(), base);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("mem_nofork");
    TCase *t = tcase_create("mem_nofork");

    tcase_add_test(t, sizes_are_aligned_and_writable);
    tcase_add_test(t, aligned_alloc_and_bad_alignment);
    tcase_add_test(t, freed_blocks_are_reused);
    tcase_add_test(t, calloc_zeroes_a_reused_block);
    tcase_add_test(t, realloc_keeps_the_bytes);
    tcase_add_test(t, pointers_from_malloc_go_back_to_libc);
    tcase_add_test(t, empty_chunks_are_unmapped);
    tcase_add_test(t, a_forked_child_does_not_get_the_memory);
    tcase_add_test(t, a_child_can_use_the_address_range);
    tcase_add_test(t, threads_share_it);
    suite_add_tcase(s, t);
    return s;
}

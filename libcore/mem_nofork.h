/* mem_nofork.h - an allocator whose memory a forked child does not get.
 *
 * Layer: util. Thread: any (one mutex).
 * Tests: t/unit/check_mem_nofork.c
 *
 * Why: a Raft snapshot forks (raftglue_fsm.c) so that the child streams
 * a copy-on-write image of the state while the loop goes on. Every page
 * the parent writes after that fork faults and is copied, and Raft's log
 * (tens of thousands of entries, freed in one go when the snapshot
 * completes) is the bulk of those writes. Raft's memory is not state the
 * child needs, so it comes from here: 1 MiB chunks marked MADV_DONTFORK
 * are neither copied into the child's page tables nor write-protected in
 * the parent. A child that touched such memory would fault; nothing that
 * runs in one (snapshot writers, exec) does.
 *
 * Blocks are powers of two from 16 B to 64 KiB, carved from chunks of
 * one size class and naturally aligned to their size; bigger requests get
 * a mapping of their own. A chunk whose blocks are all free is unmapped
 * unless it is its class's last. mem_nofork_free and _realloc accept
 * pointers from malloc too (they hand those to libc), so switching a
 * library to this allocator cannot mix up frees.
 */
#ifndef PROCONSUL_MEM_NOFORK_H
#define PROCONSUL_MEM_NOFORK_H

#include <stddef.h>

void *mem_nofork_malloc(size_t n);
void *mem_nofork_calloc(size_t nmemb, size_t size);
void *mem_nofork_realloc(void *p, size_t n);
/* alignment: a power of two up to 512 KiB; NULL otherwise. */
void *mem_nofork_aligned_alloc(size_t alignment, size_t n);
void mem_nofork_free(void *p);

/* Bytes mapped for blocks and chunks, and bytes handed out (rounded up
 * to the block size). */
struct mem_nofork_stats {
    size_t mapped;
    size_t used;
    size_t chunks;
};
void mem_nofork_get_stats(struct mem_nofork_stats *st);

#endif

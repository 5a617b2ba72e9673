/* fuzz_fsm_apply.c - libFuzzer target: Raft log entries into a fresh
 * state machine. The input is a sequence of records, each a 2-byte
 * big-endian length and that many bytes; each record is one log entry,
 * unframed as the Raft glue does (raftglue_unframe) when it carries our
 * frame and taken as a bare command otherwise, then applied
 * (fsm_apply: the msgpack command decoder, every table's apply) at
 * index 1, 2, ... A final snapshot of the state must decode again
 * (fsm_snapshot_stats).
 * `make fuzz` builds and runs it (-max_len=65536); seeds in
 * t/fuzz/fsm_apply/ (made by t/fuzz/mkseeds.c).
 */
#include <raft.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fsm.h"
#include "log.h"
#include "raftglue_fsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fsm f;
    struct fsm_result res;
    char err[ERR_LEN];
    uint64_t index = 1;
    void *snap = NULL;
    size_t snap_len = 0;
    json_t *stats = NULL;

    log_set_level(LOG_LVL_OFF);
    if (fsm_init(&f, err) != 0)
        return 0;
    while (size >= 2) {
        size_t n = (size_t)data[0] << 8 | data[1];
        struct raft_buffer b;
        const void *p;
        size_t len;

        data += 2;
        size -= 2;
        if (n > size)
            n = size;
        b.base = (void *)data;
        b.len = n;
        if (raftglue_unframe(&b, &p, &len) != 0) {
            p = data;
            len = n;
        }
        (void)fsm_apply(&f, index++, p, len, &res, err);
        data += n;
        size -= n;
    }
    if (fsm_snapshot(&f, malloc, &snap, &snap_len, err) == 0) {
        if (fsm_snapshot_stats(snap, snap_len, &stats, err) != 0)
            abort();
        json_decref(stats);
        free(snap);
    }
    fsm_release(&f);
    return 0;
}

/* fuzz_snap_read.c - libFuzzer target: one input through the strict
 * snapshot reader (gzip, tar, meta.json, SHA256SUMS, trailing bytes),
 * its state.bin counted as it streams; when it verifies, the counted
 * bytes must equal meta.json's Size.
 * `make fuzz` builds and runs it (-max_len=1048576).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ctx, const void *p, size_t n)
{
    *(uint64_t *)ctx += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snap_meta m;
    char err[ERR_LEN];
    uint64_t got = 0;

    if (snap_read_mem(data, size, count, &got, &m, err) == 0) {
        if (got != m.size)
            abort();
        snap_meta_release(&m);
    }
    return 0;
}

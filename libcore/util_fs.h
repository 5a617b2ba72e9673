/* util_fs.h - small file-system helpers shared by the agent's modules.
 *
 * Layer: util. Thread: any.
 * Tests: t/t1004-kv-persist.sh (data dirs), t/t2001-gossip-members.sh
 */
#ifndef PROCONSUL_UTIL_FS_H
#define PROCONSUL_UTIL_FS_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Create path and any missing parents (like `mkdir -p`): parents with
 * mode 0755, the last component with `mode`. An existing directory is
 * fine. Returns 0 or ERR_INVAL / ERR_IO with err filled. */
int util_mkdir_p(const char *path, mode_t mode, char *err);

/* A new unlinked file in dir (NULL or "": /tmp), open read-write and
 * close-on-exec: its descriptor, or -1 with err filled (ERR_IO). */
int util_tmpfile(const char *dir, char *err);

/* Map fd's first len bytes read-only for one sequential pass (a shared
 * empty string when len is 0): 0 or ERR_IO. util_unmap undoes it. */
int util_map(int fd, size_t len, const void **p, char *err);
void util_unmap(const void *p, size_t len);

/* Write all n bytes (retrying short writes and EINTR): 0 or errno.
 * util_pwrite_all writes them at off without moving the file offset. */
int util_write_all(int fd, const void *p, size_t n);
int util_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
/* The same as a stream sink (fsm_out_fn, snap's writer): ctx points at
 * the int descriptor; 0, or -1 when the write failed. */
int util_fd_out(void *ctx, const void *p, size_t n);

#endif

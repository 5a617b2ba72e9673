/* util_fs.h - small file-system helpers shared by the agent's modules.
 *
 * Layer: util. Thread: any.
 * Tests: t/t1004-kv-persist.sh (data dirs), t/t2001-gossip-members.sh
 */
#ifndef PROCONSUL_UTIL_FS_H
#define PROCONSUL_UTIL_FS_H

#include <sys/types.h>

#include "err.h"

/* Create path and any missing parents (like `mkdir -p`): parents with
 * mode 0755, the last component with `mode`. An existing directory is
 * fine. Returns 0 or ERR_INVAL / ERR_IO with err filled. */
int util_mkdir_p(const char *path, mode_t mode, char *err);

#endif

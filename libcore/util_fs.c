/* util_fs.c - file-system helpers.
 *
 * Layer: util. Thread: any.
 * Tests: t/t1004-kv-persist.sh
 */
#include "util_fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int util_mkdir_p(const char *path, mode_t mode, char *err)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(tmp))
        return err_set(err, ERR_INVAL, "bad directory path");
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return err_set(err, ERR_IO, "creating '%s': %s", tmp,
                           strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return err_set(err, ERR_IO, "creating '%s': %s", tmp,
                       strerror(errno));
    return 0;
}

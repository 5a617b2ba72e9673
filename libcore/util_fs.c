/* util_fs.c - file-system helpers.
 *
 * Layer: util. Thread: any.
 * Tests: t/t1004-kv-persist.sh
 */
#include "util_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

int util_tmpfile(const char *dir, char *err)
{
    char path[4200];
    int fd;

    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
#endif
    snprintf(path, sizeof(path), "%s/.tmp-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        err_set(err, ERR_IO, "cannot create a file in '%s': %s", dir,
                strerror(errno));
        return -1;
    }
    unlink(path);
    return fd;
}

int util_map(int fd, size_t len, const void **p, char *err)
{
    void *m;

    if (len == 0) {
        *p = "";
        return 0;
    }
    m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return err_set(err, ERR_IO, "cannot map %zu bytes: %s", len,
                       strerror(errno));
    madvise(m, len, MADV_SEQUENTIAL);
    *p = m;
    return 0;
}

void util_unmap(const void *p, size_t len)
{
    if (len > 0)
        munmap((void *)p, len);
}

/* off < 0: write(2) at the file offset, else pwrite(2) at off. */
static int write_loop(int fd, const char *b, size_t n, int64_t off)
{
    while (n > 0) {
        ssize_t k = off < 0 ? write(fd, b, n) : pwrite(fd, b, n, (off_t)off);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? errno : EIO;
        b += k;
        n -= (size_t)k;
        if (off >= 0)
            off += k;
    }
    return 0;
}

int util_write_all(int fd, const void *p, size_t n)
{
    return write_loop(fd, p, n, -1);
}

int util_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    return write_loop(fd, p, n, (int64_t)off);
}

int util_fd_out(void *ctx, const void *p, size_t n)
{
    return util_write_all(*(const int *)ctx, p, n) == 0 ? 0 : -1;
}

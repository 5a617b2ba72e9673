/* metrics_proc.c - process statistics for the runtime.* gauges and the
 * process_* Prometheus families: /proc/self/stat, /proc/self/fd,
 * getrlimit, glibc's mallinfo2 and mem_nofork's count (Raft's memory).
 *
 * Layer: util. Thread: any (reads only); metrics_proc_gauges records, so
 * the registry's owner.
 * Tests: t/unit/check_metrics.c, t/t7003-metrics.sh
 */
#include "metrics.h"

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mem_nofork.h"
#if defined(__SANITIZE_ADDRESS__)
/* libasan's (GCC ships no header for it; clang's allocator_interface.h) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static double boot_time(void)
{
    char line[256];
    double bt = 0;
    FILE *f = fopen("/proc/stat", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %lf", &bt) == 1)
            break;
    fclose(f);
    return bt;
}

/* Fields 14 (utime), 15 (stime), 20 (threads), 22 (starttime), 23
 * (vsize) and 24 (rss) of /proc/self/stat. */
static void read_stat(struct metrics_proc *p)
{
    char buf[1024], *s;
    unsigned long long v[24] = {0};
    double tick = (double)sysconf(_SC_CLK_TCK), page;
    size_t n;
    FILE *f = fopen("/proc/self/stat", "r");

    if (f == NULL)
        return;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces: fields restart after its ')' */
    if ((s = strrchr(buf, ')')) == NULL)
        return;
    s++;
    for (int i = 3; i <= 24 && *s != '\0'; i++) {
        char *end;

        while (*s == ' ')
            s++;
        v[i - 1] = strtoull(s, &end, 10);
        if (end == s) /* the state letter (field 3) */
            while (*end != ' ' && *end != '\0')
                end++;
        s = end;
    }
    page = (double)sysconf(_SC_PAGESIZE);
    if (tick <= 0)
        tick = 100;
    p->cpu_seconds = (double)(v[13] + v[14]) / tick;
    p->threads = (double)v[19];
    p->start_time_seconds = boot_time() + (double)v[21] / tick;
    p->vsize_bytes = (double)v[22];
    p->rss_bytes = (double)v[23] * page;
}

static double count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    double n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the directory's own descriptor */
}

void metrics_proc_read(struct metrics_proc *p)
{
    struct rlimit rl;
    struct mem_nofork_stats nf;
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's allocator replaces glibc's, whose mallinfo2 then says 0 */
    double heap = (double)__sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    double heap = (double)(mi.uordblks + mi.hblkhd);
#endif

    mem_nofork_get_stats(&nf); /* the Raft log's blocks */
    heap += (double)nf.used;

    memset(p, 0, sizeof(*p));
    read_stat(p);
    p->open_fds = count_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        p->max_fds = (double)rl.rlim_cur;
    p->heap_bytes = heap;
}

void metrics_proc_gauges(struct metrics *m, const struct metrics_proc *p)
{
    metrics_gauge_set(m, "runtime.alloc_bytes", p->heap_bytes, NULL, 0);
    metrics_gauge_set(m, "runtime.sys_bytes", p->rss_bytes, NULL, 0);
    metrics_gauge_set(m, "runtime.num_goroutines", p->threads, NULL, 0);
    metrics_gauge_set(m, "runtime.total_gc_pause_ns", 0, NULL, 0);
    metrics_gauge_set(m, "runtime.total_gc_runs", 0, NULL, 0);
    metrics_gauge_set(m, "runtime.open_fds", p->open_fds, NULL, 0);
}

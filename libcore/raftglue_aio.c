/* raftglue_aio.c - libraft's io_destroy(2) runs off the loop.
 *
 * Layer: replication. Thread: any caller of syscall(3); one reaper
 * thread, started on first use.
 * Tests: t/t1004-kv-persist.sh (the agent finds this definition in
 * use); the effect, at each segment switch under load, is measured by
 * bench/etcd.sh.
 *
 * libraft 0.15 writes each open segment through its own kernel AIO
 * context and destroys it, on the loop, when the segment is closed
 * (uv_writer.c: uvWriterCleanUpAndFireCloseCb). io_destroy waits for an
 * RCU grace period before it returns: 20-40 ms on a busy 2-CPU machine,
 * during which the loop serves nothing. A server writing 7 MB/s of log
 * closes an 8 MiB segment every 1.1 s, and every request in flight then
 * waits that long. By then libraft has closed the segment's file and
 * has no request left on the context, so nothing waits for the result:
 * the context is handed to a thread that destroys it.
 *
 * libraft calls the kernel through syscall(3) from its shared library;
 * this definition, in the executable, takes its place (the dynamic
 * linker resolves libraft's reference to the executable first) and
 * passes every other call on to the C library's syscall. Like that one
 * it forwards six argument words, whatever the call takes. */
#include "raftglue.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/syscall.h>

typedef long (*syscall_fn)(long, ...);

#define REAP_MAX 64

static syscall_fn next_syscall;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long reap_q[REAP_MAX];
static unsigned reap_n;
static bool reaper_ok;

static void *reaper(void *arg)
{
    (void)arg;
    for (;;) {
        long ctx;

        pthread_mutex_lock(&mu);
        while (reap_n == 0)
            pthread_cond_wait(&cv, &mu);
        ctx = reap_q[--reap_n];
        pthread_mutex_unlock(&mu);
        next_syscall(SYS_io_destroy, ctx);
    }
    return NULL;
}

static void setup(void)
{
    pthread_attr_t at;
    pthread_t t;
    sigset_t all, old;

    next_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
    if (next_syscall == NULL || pthread_attr_init(&at) != 0)
        return;
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay with the loop */
    reaper_ok = pthread_create(&t, &at, reaper, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
}

/* Queue ctx for the reaper; false: destroy it here (queue full). */
static bool defer_destroy(long ctx)
{
    bool ok = false;

    pthread_mutex_lock(&mu);
    if (reaper_ok && reap_n < REAP_MAX) {
        reap_q[reap_n++] = ctx;
        ok = true;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

long syscall(long n, ...)
{
    va_list ap;
    long a1, a2, a3, a4, a5, a6;

    va_start(ap, n);
    a1 = va_arg(ap, long);
    a2 = va_arg(ap, long);
    a3 = va_arg(ap, long);
    a4 = va_arg(ap, long);
    a5 = va_arg(ap, long);
    a6 = va_arg(ap, long);
    va_end(ap);
    pthread_once(&once, setup);
    if (n == SYS_io_destroy && defer_destroy(a1))
        return 0;
    if (next_syscall == NULL) {
        errno = ENOSYS;
        return -1;
    }
    return next_syscall(n, a1, a2, a3, a4, a5, a6);
}

bool raftglue_aio_deferred(void)
{
    syscall_fn self = syscall;

    pthread_once(&once, setup);
    return reaper_ok && dlsym(RTLD_DEFAULT, "syscall") == (void *)self;
}

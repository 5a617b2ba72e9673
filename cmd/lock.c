/* lock.c - "consul lock": run a command while holding a lock (or, with
 * -n > 1, a slot of a semaphore) in the KV store.
 *
 * Endpoints: GET /v1/agent/self (the agent answers), PUT
 * /v1/session/create|renew|destroy, GET/PUT/DELETE /v1/kv/.
 * Follows Consul's command/lock and api/lock.go: a session (TTL 15s,
 * renewed every 7.5s, the agent's serfHealth check, Consul's default
 * lock-delay), the lock at PREFIX/.lock with Flags 0x2ddccbc058a50c18;
 * once held, CMD runs through $SHELL -c (default /bin/sh; -shell=false:
 * directly) in its own process group with CONSUL_LOCK_HELD=true and
 * stdin from /dev/null (-pass-stdin: ours). When the lock is lost, or
 * on SIGINT/SIGTERM, the child gets SIGTERM, then SIGKILL after 5 s.
 * Then the lock is released, the session destroyed and the lock key
 * deleted unless someone else holds it.
 * Output: errors on stderr ("Lock acquisition failed: ...", "Shutdown
 * triggered or timeout during lock acquisition", "Error running
 * handler: exit status 3"); -verbose progress on stdout.
 * Exit codes as Consul's: 0 ok (also when the child failed, unless
 * -child-exit-code: then 2), 1 bad flag or argument, agent
 * unreachable, acquisition failed or timed out, release failed.
 * Tests: t/t8002-lock.sh
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cmd.h"
#include "lock_cli.h"
#include "opt.h"

#define SESSION_TTL "15s"
#define RENEW_MS 7500          /* half the TTL, as api.RenewPeriodic */
#define MAX_WAIT_MS 5000       /* a blocking query's longest wait here */
#define KILL_GRACE_MS 5000     /* lockKillGracePeriod */
#define MONITOR_WAIT_MS 1000   /* the monitor also watches the child */
#define LOCK_RETRY_MS 5000     /* api.DefaultLockRetryTime (lock-delay) */

volatile sig_atomic_t lockc_stop;
static volatile sig_atomic_t child_pgid;

static const char synopsis[] = "consul lock [options] prefix child...";
static const char description[] =
    "  Acquires a lock or semaphore at a given path, and invokes a child "
    "process\n"
    "  when successful. The child process can assume the lock is held "
    "while it\n"
    "  executes. If the lock is lost or communication is disrupted the "
    "child\n"
    "  process will be sent a SIGTERM signal and given time to gracefully "
    "exit.\n"
    "  After the grace period expires the process will be hard "
    "terminated.\n\n"
    "  When -n=1, only a single lock holder or leader exists providing "
    "mutual\n"
    "  exclusion. Setting a higher value switches to a semaphore allowing "
    "multiple\n"
    "  holders to coordinate.\n\n"
    "  The prefix provided must have write privileges.";

int64_t lockc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lockc_info(const struct lockc *l, const char *fmt, ...)
{
    va_list ap;

    if (!l->verbose)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void on_signal(int sig)
{
    lockc_stop = 1;
    if (child_pgid > 0)
        kill(-child_pgid, sig); /* forwarded, as Consul does */
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !lockc_stop)
        ;
}

/* ---- HTTP helpers ---- */

static char *kv_path(const char *key)
{
    char *esc = httpc_escape_path(key), *p = NULL;

    if (esc != NULL && asprintf(&p, "/v1/kv/%s", esc) < 0)
        p = NULL;
    free(esc);
    return p;
}

static int api_err(const struct httpc_resp *r, char *err)
{
    httpc_format_status(r, err, ERR_LEN);
    return -1;
}

int lockc_get(struct lockc *l, const char *key, bool recurse,
              uint64_t index, int64_t wait_ms, json_t **out,
              uint64_t *out_index, char *err)
{
    char q[128], *path = kv_path(key);
    struct httpc_resp r;
    json_error_t je;
    int rc;

    *out = NULL;
    if (path == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    if (index > 0)
        snprintf(q, sizeof(q), "%sindex=%llu&wait=%lldms",
                 recurse ? "recurse&" : "", (unsigned long long)index,
                 (long long)(wait_ms > 0 ? wait_ms : 1));
    else
        snprintf(q, sizeof(q), "%s", recurse ? "recurse" : "");
    rc = httpc_do(&l->c, "GET", path, q[0] != '\0' ? q : NULL, NULL, 0, &r,
                  err);
    free(path);
    if (rc != 0)
        return -1;
    *out_index = r.index;
    if (r.status == 404) {
        httpc_resp_release(&r);
        return 0;
    }
    if (r.status != 200) {
        rc = api_err(&r, err);
        httpc_resp_release(&r);
        return rc;
    }
    *out = json_loadb(r.body, r.len, JSON_DECODE_INT_AS_REAL, &je);
    httpc_resp_release(&r);
    if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        snprintf(err, ERR_LEN, "unexpected answer from the agent");
        return -1;
    }
    return 0;
}

/* method on /v1/kv/<key>[?query]: 200 and a body starting "true" sets
 * *ok; another status is the agent's error. */
static int kv_bool(struct lockc *l, const char *method, const char *key,
                   const char *query, const void *body, size_t len, bool *ok,
                   char *err)
{
    char *path = kv_path(key);
    struct httpc_resp r;
    int rc;

    *ok = false;
    if (path == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    rc = httpc_do(&l->c, method, path, query, body, len, &r, err);
    free(path);
    if (rc != 0)
        return -1;
    if (r.status != 200) {
        rc = api_err(&r, err);
        httpc_resp_release(&r);
        return rc;
    }
    *ok = r.len >= 4 && strncmp(r.body, "true", 4) == 0;
    httpc_resp_release(&r);
    return 0;
}

int lockc_put(struct lockc *l, const char *key, const char *query,
              const void *body, size_t len, bool *ok, char *err)
{
    return kv_bool(l, "PUT", key, query, body, len, ok, err);
}

int lockc_delete(struct lockc *l, const char *key, uint64_t cas, bool *ok,
                 char *err)
{
    char q[64];

    snprintf(q, sizeof(q), "cas=%llu", (unsigned long long)cas);
    return kv_bool(l, "DELETE", key, cas > 0 ? q : NULL, NULL, 0, ok, err);
}

bool lockc_flags_are(const json_t *entry, uint64_t flags)
{
    const json_t *f = json_object_get(entry, "Flags");

    if (json_is_integer(f))
        return (uint64_t)json_integer_value(f) == flags;
    return json_is_real(f) && json_real_value(f) == (double)flags;
}

char *lockc_value(const json_t *entry)
{
    const char *v = json_string_value(json_object_get(entry, "Value"));
    size_t n = v != NULL ? strlen(v) : 0;
    unsigned char *out;
    int len;

    if (n == 0)
        return strdup("");
    if (n % 4 != 0 || (out = malloc(n / 4 * 3 + 1)) == NULL)
        return NULL;
    len = EVP_DecodeBlock(out, (const unsigned char *)v, (int)n);
    if (len < 0) {
        free(out);
        return NULL;
    }
    len -= (v[n - 1] == '=') + (v[n - 2] == '=');
    out[len] = '\0';
    return (char *)out;
}

/* ---- session ---- */

static int session_call(struct lockc *l, const char *verb, long *status,
                        char *err)
{
    char path[128];
    struct httpc_resp r;

    snprintf(path, sizeof(path), "/v1/session/%s/%s", verb, l->sid);
    if (httpc_do(&l->c, "PUT", path, NULL, NULL, 0, &r, err) != 0)
        return -1;
    *status = r.status;
    if (r.status != 200 && r.status != 404)
        api_err(&r, err);
    httpc_resp_release(&r);
    return r.status == 200 || r.status == 404 ? 0 : -1;
}

static int session_create(struct lockc *l, const char *name, char *err)
{
    json_t *body = json_pack("{s:s, s:s}", "Name", name, "TTL",
                             SESSION_TTL), *ans;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    struct httpc_resp r;
    const char *id;
    int rc;

    json_decref(body);
    if (text == NULL)
        return err_set(err, ERR_NOMEM, "out of memory"), -1;
    rc = httpc_do(&l->c, "PUT", "/v1/session/create", NULL, text,
                  strlen(text), &r, err);
    free(text);
    if (rc != 0)
        return -1;
    if (r.status != 200) {
        rc = api_err(&r, err);
        httpc_resp_release(&r);
        return rc;
    }
    ans = json_loadb(r.body, r.len, 0, NULL);
    httpc_resp_release(&r);
    id = json_string_value(json_object_get(ans, "ID"));
    if (id == NULL || strlen(id) >= sizeof(l->sid)) {
        json_decref(ans);
        snprintf(err, ERR_LEN, "unexpected answer to a session create");
        return -1;
    }
    snprintf(l->sid, sizeof(l->sid), "%s", id);
    json_decref(ans);
    l->renew_at_ms = lockc_now_ms() + RENEW_MS;
    return 0;
}

bool lockc_keepalive(struct lockc *l)
{
    char err[ERR_LEN];
    long status = 0;

    if (l->lost)
        return false;
    if (lockc_now_ms() < l->renew_at_ms)
        return true;
    if (session_call(l, "renew", &status, err) != 0) {
        /* Transient: api.RenewPeriodic retries until the TTL passes. */
        l->renew_at_ms = lockc_now_ms() + 1000;
        return true;
    }
    if (status == 404) {
        l->lost = true;
        return false;
    }
    l->renew_at_ms = lockc_now_ms() + RENEW_MS;
    return true;
}

int64_t lockc_wait_ms(const struct lockc *l)
{
    int64_t now = lockc_now_ms(), w = MAX_WAIT_MS;

    if (l->renew_at_ms - now < w)
        w = l->renew_at_ms - now;
    if (l->deadline_ms > 0 && l->deadline_ms - now < w)
        w = l->deadline_ms - now;
    return w > 10 ? w : 10;
}

/* ---- the single-holder lock (api/lock.go) ---- */

static bool timed_out(const struct lockc *l)
{
    return lockc_stop ||
           (l->deadline_ms > 0 && lockc_now_ms() >= l->deadline_ms);
}

static const char *session_of(const json_t *e)
{
    const char *s = json_string_value(json_object_get(e, "Session"));

    return s != NULL ? s : "";
}

/* 0 acquired; 1 timeout or shutdown; -1 error. */
static int lock_acquire(struct lockc *l, char *err)
{
    char q[128];
    uint64_t index = 0, ni;
    json_t *ans;
    const json_t *e;
    bool ok;

    snprintf(q, sizeof(q), "acquire=%s&flags=%llu", l->sid,
             (unsigned long long)LOCKC_LOCK_FLAGS);
    while (!timed_out(l)) {
        if (!lockc_keepalive(l))
            return err_set(err, ERR_NOTFOUND, "session invalidated"), -1;
        if (lockc_get(l, l->key, false, index, lockc_wait_ms(l), &ans, &ni,
                      err) != 0)
            return -1;
        e = json_array_get(ans, 0);
        if (e != NULL && !lockc_flags_are(e, LOCKC_LOCK_FLAGS)) {
            json_decref(ans);
            return err_set(err, ERR_CONFLICT, "Existing key does not match "
                           "lock use"), -1;
        }
        if (e != NULL && strcmp(session_of(e), l->sid) == 0) {
            json_decref(ans);
            return 0;
        }
        if (e != NULL && session_of(e)[0] != '\0') {
            index = ni; /* held: wait for a change */
            json_decref(ans);
            continue;
        }
        json_decref(ans);
        if (lockc_put(l, l->key, q, NULL, 0, &ok, err) != 0)
            return -1;
        if (ok)
            return 0;
        /* Not held but refused: a lock-delay; wait as Consul does. */
        lockc_info(l, "Lock refused (lock-delay?), retrying");
        sleep_ms(l->deadline_ms > 0 &&
                         l->deadline_ms - lockc_now_ms() < LOCK_RETRY_MS
                     ? l->deadline_ms - lockc_now_ms()
                     : LOCK_RETRY_MS);
        index = 0;
    }
    return 1;
}

/* 1 held, 0 lost, -1 could not tell. */
static int lock_held(struct lockc *l, int64_t wait_ms)
{
    char err[ERR_LEN];
    uint64_t ni;
    json_t *ans;
    int held;

    if (lockc_get(l, l->key, false, l->index, wait_ms, &ans, &ni, err) != 0)
        return -1;
    l->index = ni;
    held = ans != NULL &&
           strcmp(session_of(json_array_get(ans, 0)), l->sid) == 0;
    json_decref(ans);
    return held;
}

static int lock_release(struct lockc *l, char *err)
{
    char q[128];
    bool ok;

    snprintf(q, sizeof(q), "release=%s&flags=%llu", l->sid,
             (unsigned long long)LOCKC_LOCK_FLAGS);
    return lockc_put(l, l->key, q, NULL, 0, &ok, err);
}

/* 0 cleaned up (or nothing to do), 1 in use, -1 error. */
static int lock_cleanup(struct lockc *l, char *err)
{
    uint64_t ni;
    json_t *ans;
    const json_t *e;
    bool ok;
    int rc = 0;

    if (lockc_get(l, l->key, false, 0, 0, &ans, &ni, err) != 0)
        return -1;
    e = json_array_get(ans, 0);
    if (e != NULL && !lockc_flags_are(e, LOCKC_LOCK_FLAGS)) {
        err_set(err, ERR_CONFLICT, "Existing key does not match lock use");
        rc = -1;
    } else if (e != NULL && session_of(e)[0] != '\0')
        rc = 1;
    else if (e != NULL &&
             lockc_delete(l, l->key,
                          (uint64_t)json_number_value(
                              json_object_get(e, "ModifyIndex")),
                          &ok, err) != 0)
        rc = -1;
    json_decref(ans);
    return rc;
}

/* ---- the child ---- */

static pid_t start_child(int argc, char **argv, bool shell, bool pass_stdin,
                         struct lockc *l)
{
    const char *sh = getenv("SHELL");
    size_t len = 1;
    char *script;
    pid_t pid;
    int i, fd;

    for (i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if ((script = calloc(1, len)) == NULL)
        return -1;
    for (i = 0; i < argc; i++) {
        if (i > 0)
            strcat(script, " ");
        strcat(script, argv[i]);
    }
    lockc_info(l, "Starting handler");
    fflush(NULL);
    if ((pid = fork()) < 0) {
        free(script);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        setenv("CONSUL_LOCK_HELD", "true", 1);
        if (!pass_stdin && (fd = open("/dev/null", O_RDONLY)) >= 0) {
            dup2(fd, 0);
            close(fd);
        }
        if (shell)
            execl(sh != NULL && sh[0] != '\0' ? sh : "/bin/sh", "sh", "-c",
                  script, (char *)NULL);
        else
            execvp(argv[0], argv);
        fprintf(stderr, "Error executing handler: %s\n", strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    child_pgid = pid;
    free(script);
    return pid;
}

static void report_child(int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fprintf(stderr, "Error running handler: exit status %d\n",
                WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "Error running handler: signal: %s\n",
                strsignal(WTERMSIG(status)));
}

static bool child_failed(int status)
{
    return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

/* SIGTERM to the child's group, SIGKILL after the grace period. */
static void kill_child(struct lockc *l, pid_t pid, int *status)
{
    int64_t end = lockc_now_ms() + KILL_GRACE_MS;

    lockc_info(l, "Terminating child pid %d", (int)pid);
    kill(-pid, SIGTERM);
    while (lockc_now_ms() < end) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            lockc_info(l, "Child terminated");
            child_pgid = 0;
            report_child(*status);
            return;
        }
        sleep_ms(50);
    }
    lockc_info(l, "Child did not exit after grace period of 5s");
    lockc_info(l, "Killing child pid %d", (int)pid);
    kill(-pid, SIGKILL);
    waitpid(pid, status, 0);
    child_pgid = 0;
    report_child(*status);
}

/* Watch the child, the lock and the session. Returns 0 when the child
 * exited (*status), 1 when the lock was lost or a shutdown asked. */
static int monitor(struct lockc *l, pid_t pid, int *status)
{
    int held;

    l->index = 0;
    l->fails = 0;
    for (;;) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            child_pgid = 0;
            report_child(*status);
            lockc_info(l, "Child terminated, releasing lock");
            return 0;
        }
        if (lockc_stop) {
            lockc_info(l, "Shutdown triggered, killing child");
            return 1;
        }
        held = lockc_keepalive(l)
                   ? (l->limit == 1 ? lock_held(l, MONITOR_WAIT_MS)
                                    : lockc_sem_held(l, MONITOR_WAIT_MS))
                   : 0;
        if (held < 0 && l->fails++ < l->monitor_retry) {
            sleep_ms(1000); /* defaultMonitorRetryTime */
            continue;
        }
        if (held <= 0) {
            lockc_info(l, "Lock lost, killing child");
            return 1;
        }
        l->fails = 0;
    }
}

/* ---- the command ---- */

static int dur_flag(void *ctx, const char *name, const char *val, char *err)
{
    if (opt_parse_duration(val, false, ctx) == 0)
        return 0;
    return err_set(err, ERR_INVAL, "invalid value \"%s\" for flag -%s: "
                   "time: invalid duration \"%s\"", val, name, val);
}

struct flags {
    bool child_code, pass_stdin, shell, verbose;
    int n, monitor_retry;
    const char *name;
    int64_t timeout_ms;
};

static int parse(struct flags *f, struct httpc_flags *hf, int argc,
                 char **argv, int *rest)
{
    struct opt opts[10 + HTTPC_N_FLAGS] = {
        {"child-exit-code", OPT_BOOL, &f->child_code, NULL, false, NULL,
         "Exit 2 if the child process exited with an error if this is "
         "true, otherwise this doesn't propagate an error from the child. "
         "The default value is false.", NULL},
        {"monitor-retry", OPT_INT, &f->monitor_retry, NULL, false, NULL,
         "Number of times to retry if Consul returns a 500 error while "
         "monitoring the lock. This allows riding out brief periods of "
         "unavailability without causing leader elections, but increases "
         "the amount of time required to detect a lost lock in some "
         "cases. The default value is 3, with a 1s wait between retries. "
         "Set this value to 0 to disable retires.", NULL},
        {"n", OPT_INT, &f->n, NULL, false, NULL,
         "Optional limit on the number of concurrent lock holders. The "
         "underlying implementation switches from a lock to a semaphore "
         "when the value is greater than 1. The default value is 1.", NULL},
        {"name", OPT_STR, &f->name, NULL, false, NULL,
         "Optional name to associate with the lock session. It not "
         "provided, one is generated based on the provided child "
         "command.", NULL},
        {"pass-stdin", OPT_BOOL, &f->pass_stdin, NULL, false, NULL,
         "Pass stdin to the child process.", NULL},
        {"shell", OPT_BOOL, &f->shell, NULL, false, NULL,
         "Use a shell to run the command (can set a custom shell via the "
         "SHELL environment variable).", NULL},
        {"timeout", OPT_FUNC, &f->timeout_ms, dur_flag, false, NULL,
         "Maximum amount of time to wait to acquire the lock, specified "
         "as a duration like \"1s\" or \"3h\". The default value is 0.",
         NULL},
        {"try", OPT_FUNC, &f->timeout_ms, dur_flag, false, NULL,
         "DEPRECATED. Use -timeout instead.", NULL},
        {"verbose", OPT_BOOL, &f->verbose, NULL, false, NULL,
         "Enable verbose (debugging) output.", NULL},
    };
    int n = 9;

    httpc_add_flags(opts, &n, hf, true);
    httpc_add_tls_flags(opts, &n, hf);
    return opt_parse_cli(opts, n, argc, argv, synopsis, description, rest);
}

static int check_args(const struct flags *f, int nargs)
{
    if (f->n <= 0) {
        fprintf(stderr, "Lock holder limit must be positive\n");
        return 1;
    }
    if (nargs < 2) {
        fprintf(stderr, "Key prefix and child command must be specified\n");
        return 1;
    }
    if (f->timeout_ms < 0) {
        fprintf(stderr, "Timeout must be positive\n");
        return 1;
    }
    if (f->monitor_retry < 0) {
        fprintf(stderr, "Number for 'monitor-retry' must be >= 0\n");
        return 1;
    }
    return -1;
}

static char *default_name(int argc, char **argv, const char *prefix)
{
    size_t len = strlen(prefix) + 64;
    char *s;
    int i;

    for (i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if ((s = calloc(1, len)) == NULL)
        return NULL;
    strcat(s, "Consul lock for '");
    for (i = 0; i < argc; i++) {
        if (i > 0)
            strcat(s, " ");
        strcat(s, argv[i]);
    }
    strcat(s, "' at '");
    strcat(s, prefix);
    strcat(s, "'");
    return s;
}

static int agent_answers(struct lockc *l)
{
    struct httpc_resp r;
    char err[ERR_LEN];

    if (httpc_do(&l->c, "GET", "/v1/agent/self", NULL, NULL, 0, &r,
                 err) != 0) {
        fprintf(stderr, "Error querying Consul agent: %s\n", err);
        return -1;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        httpc_resp_release(&r);
        fprintf(stderr, "Error querying Consul agent: %s\n", err);
        return -1;
    }
    httpc_resp_release(&r);
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Release, destroy the session, clean the key up: 0, or 1 on failure. */
static int finish(struct lockc *l)
{
    char err[ERR_LEN];
    long status;
    int rc;

    rc = l->limit == 1 ? lock_release(l, err) : lockc_sem_release(l, err);
    /* api.RenewPeriodic destroys the session it renewed. */
    session_call(l, "destroy", &status, err);
    if (rc != 0) {
        fprintf(stderr, "Lock release failed: %s\n", err);
        return 1;
    }
    rc = l->limit == 1 ? lock_cleanup(l, err) : lockc_sem_cleanup(l, err);
    if (rc < 0) {
        fprintf(stderr, "Lock cleanup failed: %s\n", err);
        return 1;
    }
    lockc_info(l, rc == 1 ? "Cleanup aborted, lock in use"
                          : "Cleanup succeeded");
    return 0;
}

static int run(struct lockc *l, const struct flags *f, int argc, char **argv)
{
    char err[ERR_LEN];
    int status = 0, rc;
    pid_t pid;

    lockc_info(l, "Attempting lock acquisition");
    rc = l->limit == 1 ? lock_acquire(l, err) : lockc_sem_acquire(l, err);
    if (rc != 0) {
        if (rc > 0)
            fprintf(stderr, "Shutdown triggered or timeout during lock "
                    "acquisition\n");
        else
            fprintf(stderr, "Lock acquisition failed: %s\n", err);
        finish(l);
        return 1;
    }
    if (lockc_stop) {
        fprintf(stderr, "Shutdown triggered during lock acquisition\n");
        return finish(l);
    }
    if ((pid = start_child(argc, argv, f->shell, f->pass_stdin, l)) < 0) {
        fprintf(stderr, "Error starting handler: %s\n", strerror(errno));
        return finish(l) != 0 ? 1 : (f->child_code ? 2 : 0);
    }
    if (monitor(l, pid, &status) != 0)
        kill_child(l, pid, &status);
    else if (f->child_code && child_failed(status))
        rc = 2;
    if (finish(l) != 0)
        return 1;
    return rc;
}

int cmd_lock(int argc, char **argv)
{
    struct flags f = {.shell = true, .n = 1, .monitor_retry = 3};
    struct httpc_flags hf = {0};
    struct lockc l;
    char err[ERR_LEN], *name = NULL, *key = NULL;
    int rest, rc;

    if ((rc = parse(&f, &hf, argc, argv, &rest)) >= 0)
        return rc;
    if ((rc = check_args(&f, argc - rest)) >= 0)
        return rc;
    memset(&l, 0, sizeof(l));
    l.prefix = argv[rest][0] == '/' ? argv[rest] + 1 : argv[rest];
    l.limit = f.n;
    l.verbose = f.verbose;
    l.monitor_retry = f.monitor_retry;
    if (httpc_init(&l.c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        return 1;
    }
    name = f.name != NULL && f.name[0] != '\0'
               ? strdup(f.name)
               : default_name(argc - rest - 1, argv + rest + 1, l.prefix);
    if (asprintf(&key, "%s%s%s", l.prefix,
                 l.prefix[0] != '\0' && l.prefix[strlen(l.prefix) - 1] != '/'
                     ? "/" : "",
                 LOCKC_KEY) < 0)
        key = NULL;
    l.key = key;
    rc = 1;
    if (name == NULL || key == NULL)
        fprintf(stderr, "out of memory\n");
    else if (agent_answers(&l) == 0) {
        if (l.limit == 1)
            lockc_info(&l, "Setting up lock at path: %s", key);
        else
            lockc_info(&l, "Setting up semaphore (limit %d) at prefix: %s",
                       l.limit, l.prefix);
        install_signals();
        if (f.timeout_ms > 0)
            l.deadline_ms = lockc_now_ms() + f.timeout_ms;
        if (session_create(&l, name, err) != 0)
            fprintf(stderr, "Lock acquisition failed: failed to create "
                    "session: %s\n", err);
        else
            rc = run(&l, &f, argc - rest - 1, argv + rest + 1);
    }
    free(name);
    free(key);
    httpc_release(&l.c);
    return rc;
}

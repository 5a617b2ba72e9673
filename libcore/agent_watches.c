/* agent_watches.c - the `watches` of the agent config, each run as a
 * child `proconsul watch ...` against this agent's HTTP API.
 *
 * Layer: agent (uses util, codec). Thread: loop only.
 * Owns: struct agent_watches: one uv_process_t, restart timer and
 * argv per configured watch.
 * Each child is this binary (uv_exepath) run as
 *   proconsul watch -agent-pid=<our pid> -http-addr=<our HTTP address>
 *       <the watch's flags> [-shell=false] -- <handler>
 * with the watch's token (else the agent's default token) in
 * CONSUL_HTTP_TOKEN, never on the command line. It leads its own process
 * group, so that stopping it also stops a handler that is running. A
 * child that exits is started again after 1 s, doubling up to 60 s (back
 * to 1 s once one ran for a minute). agent_stop and a reload that changes
 * the list stop them (SIGTERM to the group); the child also ends itself
 * when its parent is no longer this agent.
 * Tests: t/t8202-watch.sh
 */
#include "agent_watches.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cfg.h"
#include "log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STABLE_MS 60000
#define KILL_MS 5000

extern char **environ;

struct wgen;

struct wchild {
    struct wgen *gen;
    size_t idx;
    uv_process_t proc;
    uv_timer_t timer;
    char **argv;          /* exe, "watch", flags..., NULL */
    char **env;
    bool running;         /* proc is initialised and not closed */
    bool timer_open;
    uint64_t started_ms;
    uint64_t backoff_ms;
};

/* One list of watches as started; a reload stops it and starts a new
 * one. A stopped generation frees itself once its handles are closed. */
struct wgen {
    struct agent *a;
    json_t *defs;         /* the list it runs (a copy) */
    struct wchild *kids;
    size_t n;
    bool stopping;
    int open_handles;     /* process and timer handles not yet closed */
};

struct agent_watches {
    struct wgen *cur;     /* NULL: none running */
};

static void free_strv(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

/* Our environment without CONSUL_HTTP_TOKEN*, plus the token. */
static char **child_env(const char *token)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n] != NULL)
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "CONSUL_HTTP_TOKEN", 17) == 0)
            continue;
        if ((env[k++] = strdup(environ[i])) == NULL)
            goto oom;
    }
    if (token != NULL && token[0] != '\0' &&
        asprintf(&env[k++], "CONSUL_HTTP_TOKEN=%s", token) < 0) {
        env[k - 1] = NULL;
        goto oom;
    }
    return env;
oom:
    free_strv(env);
    return NULL;
}

static int http_addr(struct agent *a, char *out, size_t n, char *err)
{
    const char *h = a->cfg.n_http_addrs > 0 ? a->cfg.http_addrs[0] : NULL;

    if (h != NULL && strncmp(h, "unix://", 7) == 0) {
        snprintf(out, n, "%s", h);
        return 0;
    }
    if (a->cfg.ports.http <= 0)
        return err_set(err, ERR_INVAL, "watches need the HTTP API, which "
                       "is disabled (ports.http)");
    if (h == NULL || strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    snprintf(out, n, strchr(h, ':') != NULL ? "http://[%s]:%d"
                                            : "http://%s:%d",
             h, a->cfg.ports.http);
    return 0;
}

static char **child_argv(struct agent *a, const json_t *def, char *err)
{
    char exe[4096], addr[300];
    size_t exe_len = sizeof(exe), n = 0;
    char **flags, **argv;

    if (uv_exepath(exe, &exe_len) != 0)
        return err_set(err, ERR_IO, "cannot find our own binary"), NULL;
    if (http_addr(a, addr, sizeof(addr), err) != 0)
        return NULL;
    if ((flags = cfg_watch_argv(def, err)) == NULL)
        return NULL;
    while (flags[n] != NULL)
        n++;
    argv = calloc(n + 5, sizeof(*argv));
    if (argv == NULL) {
        cfg_watch_argv_free(flags);
        return err_set(err, ERR_NOMEM, "out of memory"), NULL;
    }
    argv[0] = strdup(exe);
    argv[1] = strdup("watch");
    if (asprintf(&argv[2], "-agent-pid=%ld", (long)getpid()) < 0)
        argv[2] = NULL;
    if (asprintf(&argv[3], "-http-addr=%s", addr) < 0)
        argv[3] = NULL;
    memcpy(argv + 4, flags, n * sizeof(*flags));
    free(flags); /* the strings moved into argv */
    for (int i = 0; i < 4; i++)
        if (argv[i] == NULL) {
            free_strv(argv);
            return err_set(err, ERR_NOMEM, "out of memory"), NULL;
        }
    return argv;
}

static void gen_free(struct wgen *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free_strv(g->kids[i].argv);
        free_strv(g->kids[i].env);
    }
    free(g->kids);
    json_decref(g->defs);
    free(g);
}

static void handle_closed(uv_handle_t *h)
{
    struct wchild *k = h->data;

    struct wgen *g = k->gen;

    if (h == (uv_handle_t *)&k->proc)
        k->running = false;
    else
        k->timer_open = false;
    if (--g->open_handles == 0 && g->stopping)
        gen_free(g);
}

static void spawn(struct wchild *k);

static void on_restart(uv_timer_t *t)
{
    spawn(t->data);
}

static void child_exited(uv_process_t *p, int64_t status, int sig)
{
    struct wchild *k = p->data;
    struct agent *a = k->gen->a;
    uint64_t ran = uv_now(a->loop) - k->started_ms;

    uv_close((uv_handle_t *)p, handle_closed);
    if (k->gen->stopping) {
        if (k->timer_open && !uv_is_closing((uv_handle_t *)&k->timer)) {
            uv_timer_stop(&k->timer);
            uv_close((uv_handle_t *)&k->timer, handle_closed);
        }
        return;
    }
    if (ran >= STABLE_MS)
        k->backoff_ms = BACKOFF_MIN_MS;
    LOG_WARN("agent", "watch %zu (type %s) exited (status %lld, signal %d); "
             "restarting in %llu ms", k->idx,
             json_string_value(json_object_get(
                 json_array_get(k->gen->defs, k->idx), "type")),
             (long long)status, sig, (unsigned long long)k->backoff_ms);
    uv_timer_start(&k->timer, on_restart, k->backoff_ms, 0);
    k->backoff_ms = k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : k->backoff_ms * 2;
}

static void spawn(struct wchild *k)
{
    struct wgen *ws = k->gen;
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    int rc;

    if (ws->stopping || k->running)
        return;
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = 1;
    io[2].flags = UV_INHERIT_FD;
    io[2].data.fd = 2;
    o.file = k->argv[0];
    o.args = k->argv;
    o.env = k->env;
    o.exit_cb = child_exited;
    o.flags = UV_PROCESS_DETACHED; /* its own process group */
    o.stdio = io;
    o.stdio_count = 3;
    k->proc.data = k;
    rc = uv_spawn(ws->a->loop, &k->proc, &o);
    k->running = true;
    ws->open_handles++;
    k->started_ms = uv_now(ws->a->loop);
    if (rc != 0) {
        LOG_ERROR("agent", "watch %zu: cannot start '%s': %s", k->idx,
                  k->argv[0], uv_strerror(rc));
        child_exited(&k->proc, -1, 0);
        return;
    }
    LOG_DEBUG("agent", "watch %zu started (pid %d)", k->idx, k->proc.pid);
}

static void kill_fire(uv_timer_t *t)
{
    struct wchild *k = t->data;

    if (k->running && k->proc.pid > 0)
        kill(-k->proc.pid, SIGKILL);
}

/* Stop every child of g: SIGTERM to its group (the watch and a handler
 * it runs). reap: keep each process handle until the child exited (KILL
 * after KILL_MS), so that it is reaped; else close them now (the agent
 * is exiting). g frees itself once its handles are closed. */
static void gen_stop(struct wgen *g, bool reap)
{
    g->stopping = true;
    for (size_t i = 0; i < g->n; i++) {
        struct wchild *k = &g->kids[i];
        bool live = k->running && !uv_is_closing((uv_handle_t *)&k->proc);

        if (live && k->proc.pid > 0)
            kill(-k->proc.pid, SIGTERM);
        if (live && reap && k->timer_open) {
            uv_timer_stop(&k->timer);
            uv_timer_start(&k->timer, kill_fire, KILL_MS, 0);
            continue;
        }
        if (live)
            uv_close((uv_handle_t *)&k->proc, handle_closed);
        if (k->timer_open && !uv_is_closing((uv_handle_t *)&k->timer)) {
            uv_timer_stop(&k->timer);
            uv_close((uv_handle_t *)&k->timer, handle_closed);
        }
    }
    if (g->open_handles == 0)
        gen_free(g);
}

static int prepare(struct wgen *ws, char *err)
{
    struct agent *a = ws->a;
    const char *dtok = agent_token(a, AGENT_TOKEN_DEFAULT);
    size_t n = json_array_size(ws->defs);

    ws->kids = n > 0 ? calloc(n, sizeof(*ws->kids)) : NULL;
    if (n > 0 && ws->kids == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    ws->n = n;
    for (size_t i = 0; i < n; i++) {
        struct wchild *k = &ws->kids[i];
        const json_t *def = json_array_get(ws->defs, i);
        const char *tok = json_string_value(json_object_get(def, "token"));

        k->gen = ws;
        k->idx = i;
        k->backoff_ms = BACKOFF_MIN_MS;
        k->argv = child_argv(a, def, err);
        if (k->argv == NULL)
            return ERR_INVAL;
        k->env = child_env(tok != NULL && tok[0] != '\0' ? tok : dtok);
        if (k->env == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int start_list(struct agent *a, const json_t *defs, char *err)
{
    struct wgen *g = calloc(1, sizeof(*g));
    int rc;

    if (g == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    g->a = a;
    g->defs = defs != NULL ? json_deep_copy(defs) : json_array();
    if (g->defs == NULL || (rc = prepare(g, err)) != 0) {
        rc = g->defs == NULL ? err_set(err, ERR_NOMEM, "out of memory")
                             : ERR_INVAL;
        gen_free(g);
        return rc;
    }
    for (size_t i = 0; i < g->n; i++) {
        uv_timer_init(a->loop, &g->kids[i].timer);
        g->kids[i].timer.data = &g->kids[i];
        g->kids[i].timer_open = true;
        g->open_handles++;
        spawn(&g->kids[i]);
    }
    if (g->n > 0)
        LOG_INFO("agent", "started %zu watch%s", g->n,
                 g->n == 1 ? "" : "es");
    a->watches->cur = g;
    return 0;
}

/* The `watches` of raw; NULL when there are none. */
static const json_t *list_of(const json_t *raw)
{
    const json_t *l = json_object_get(raw, "watches");

    return json_array_size(l) > 0 ? l : NULL;
}

int agent_watches_start(struct agent *a, char *err)
{
    if (a->watches == NULL) {
        a->watches = calloc(1, sizeof(*a->watches));
        if (a->watches == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (a->watches->cur != NULL || a->stopping)
        return 0;
    return start_list(a, list_of(a->cfg.raw), err);
}

static void stop_cur(struct agent *a, bool reap)
{
    struct wgen *g = a->watches != NULL ? a->watches->cur : NULL;

    if (g == NULL)
        return;
    a->watches->cur = NULL;
    gen_stop(g, reap);
}

void agent_watches_stop(struct agent *a)
{
    stop_cur(a, false);
}

int agent_watches_reload(struct agent *a, const json_t *raw, char *err)
{
    struct wgen *g = a->watches != NULL ? a->watches->cur : NULL;

    if (a->watches == NULL || a->stopping)
        return 0; /* not started (yet) */
    if (g != NULL && (list_of(raw) != NULL
                          ? json_equal(g->defs, list_of(raw))
                          : json_array_size(g->defs) == 0))
        return 0;
    stop_cur(a, true);
    LOG_INFO("agent", "watches changed: restarting them");
    return start_list(a, list_of(raw), err);
}

void agent_watches_release(struct agent *a)
{
    if (a->watches == NULL)
        return;
    /* Only without agent_stop (a failed start): nothing to close then
     * but what gen_stop closes now; the loop is not run again. */
    if (a->watches->cur != NULL)
        gen_free(a->watches->cur);
    free(a->watches);
    a->watches = NULL;
}

/* watch.c - "consul watch": watch a view of the data with blocking
 * queries and print it, or run a handler on every change.
 *
 * Endpoints (GET, each with ?index=&wait= after the first answer):
 *   key       /v1/kv/<key>                 -> one entry or null
 *   keyprefix /v1/kv/<prefix>?recurse      -> list or null
 *   services  /v1/catalog/services         -> map
 *   nodes     /v1/catalog/nodes            -> list
 *   service   /v1/health/service/<s>?tag=&passing
 *   checks    /v1/health/checks/<s> or /v1/health/state/<state|any>
 *   event     /v1/event/list?name=         -> the events not seen yet
 * As Consul's watch plan: a result is handled when the index moved and
 * the data differs from the last handled (the first always); errors back
 * off 5 s * failures^2, at most 180 s. Without a handler the first result
 * is printed (indented) and the command exits 0, as Consul's does. With
 * one, it runs once per change (through sh -c unless -shell=false), the
 * JSON on its stdin and CONSUL_INDEX in its environment; a failing
 * handler ends the watch with exit 1. SIGTERM/SIGINT end it (their
 * default action); a handler still running is in the same process
 * group.
 * Exit codes: 0 printed (also "-h"); 1 bad flags or definition, handler
 * failure. Run by an agent for its config `watches` (hidden flag
 * -agent-pid), a failed handler is only reported, and the watch ends
 * when its parent is no longer that agent.
 * Tests: t/t8202-watch.sh
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_event.h"
#include "cfg.h"
#include "cmd.h"
#include "err.h"
#include "httpc.h"
#include "opt.h"

static const char synopsis[] = "consul watch [options] [child...]";
static const char description[] =
    "  Watches for changes in a given data view from Consul. If a child "
    "process\n  is specified, it will be invoked with the latest results "
    "on changes. Otherwise,\n  the latest values are dumped to stdout and "
    "the watch terminates.\n\n  Providing the watch type is required, and "
    "other parameters may be required\n  or supported depending on the "
    "watch type.";

#define RETRY_MS 5000
#define MAX_BACKOFF_MS 180000

struct wflags {
    const char *type, *key, *prefix, *service, *state, *name;
    struct opt_list tags;
    bool passingonly, shell;
};

struct plan {
    struct httpc *c;
    long agent_pid;       /* run by that agent: keep going, end with it */
    const json_t *w;
    const char *type;
    uint64_t last_index;  /* 0: nothing handled yet */
    json_t *last;         /* last handled result */
};

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

static json_t *params(const struct wflags *f, const struct httpc_flags *hf)
{
    json_t *w = json_object();

    set_str(w, "type", f->type);
    set_str(w, "key", f->key);
    set_str(w, "prefix", f->prefix);
    set_str(w, "service", f->service);
    set_str(w, "state", f->state);
    set_str(w, "name", f->name);
    if (f->tags.n == 1)
        set_str(w, "tag", f->tags.items[0]);
    if (f->tags.n > 1) {
        json_t *a = json_array();

        for (int i = 0; i < f->tags.n; i++)
            json_array_append_new(a, json_string(f->tags.items[i]));
        json_object_set_new(w, "tag", a);
    }
    if (f->passingonly)
        json_object_set_new(w, "passingonly", json_true());
    (void)hf;
    return w;
}

/* ---- one query ---- */

static void add_q(char *q, size_t n, const char *k, const char *v)
{
    size_t used = strlen(q);
    char *esc = v != NULL ? httpc_escape(v) : NULL;

    if (v != NULL && esc == NULL)
        return;
    snprintf(q + used, n - used, "%s%s%s%s", used ? "&" : "", k,
             v != NULL ? "=" : "", v != NULL ? esc : "");
    free(esc);
}

static void add_tags(const json_t *w, char *q, size_t n)
{
    const json_t *t = json_object_get(w, "tag"), *e;
    size_t i;

    if (json_is_string(t))
        add_q(q, n, "tag", json_string_value(t));
    json_array_foreach(t, i, e)
        add_q(q, n, "tag", json_string_value(e));
}

static char *path_for(const struct plan *p, char *q, size_t qn)
{
    const json_t *w = p->w;
    const char *t = p->type, *s = json_string_value(json_object_get(w,
                                                                   "service"));
    const char *st = json_string_value(json_object_get(w, "state"));
    const char *nm = json_string_value(json_object_get(w, "name"));
    char *esc = NULL, *out = NULL;

    if (strcmp(t, "key") == 0 || strcmp(t, "keyprefix") == 0) {
        esc = httpc_escape_path(json_string_value(json_object_get(
            w, t[3] == 'p' ? "prefix" : "key")));
        if (t[3] == 'p')
            add_q(q, qn, "recurse", NULL);
        if (esc != NULL && asprintf(&out, "/v1/kv/%s", esc) < 0)
            out = NULL;
    } else if (strcmp(t, "services") == 0) {
        out = strdup("/v1/catalog/services");
    } else if (strcmp(t, "nodes") == 0) {
        out = strdup("/v1/catalog/nodes");
    } else if (strcmp(t, "service") == 0 || (strcmp(t, "checks") == 0 &&
                                              s != NULL && s[0] != '\0')) {
        esc = httpc_escape(s);
        if (t[5] != 's') {
            add_tags(w, q, qn);
            if (json_is_true(json_object_get(w, "passingonly")))
                add_q(q, qn, "passing", NULL);
        }
        if (esc != NULL &&
            asprintf(&out, "/v1/health/%s/%s",
                     t[5] == 's' ? "checks" : "service", esc) < 0)
            out = NULL;
    } else if (strcmp(t, "checks") == 0) {
        esc = httpc_escape(st != NULL && st[0] != '\0' ? st : "any");
        if (esc != NULL && asprintf(&out, "/v1/health/state/%s", esc) < 0)
            out = NULL;
    } else {
        if (nm != NULL && nm[0] != '\0')
            add_q(q, qn, "name", nm);
        out = strdup("/v1/event/list");
    }
    free(esc);
    return out;
}

/* Shape the answer as Consul's watch functions do. Takes body. */
static json_t *shape(const struct plan *p, json_t *body)
{
    json_t *out;
    size_t i;

    if (strcmp(p->type, "key") == 0) {
        out = json_incref(json_array_get(body, 0));
        json_decref(body);
        return out != NULL ? out : json_null();
    }
    if (strcmp(p->type, "event") != 0 || p->last_index == 0)
        return body;
    /* Only the events after the last one handled. */
    for (i = 0; i < json_array_size(body); i++) {
        const char *id = json_string_value(
            json_object_get(json_array_get(body, i), "ID"));

        if (agent_uevent_index(id) == p->last_index) {
            out = json_array();
            for (size_t k = i + 1; k < json_array_size(body); k++)
                json_array_append(out, json_array_get(body, k));
            json_decref(body);
            return out;
        }
    }
    return body;
}

/* One blocking query: 0 with *res and *index, or -1 (message printed). */
static int query(struct plan *p, json_t **res, uint64_t *index)
{
    char q[2048] = "", err[ERR_LEN], num[24];
    char *path = path_for(p, q, sizeof(q));
    struct httpc_resp r;
    json_t *body;
    int rc;

    if (path == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    if (p->last_index > 0) {
        snprintf(num, sizeof(num), "%" PRIu64, p->last_index);
        add_q(q, sizeof(q), "index", num);
    }
    rc = httpc_do(p->c, "GET", path, q[0] ? q : NULL, NULL, 0, &r, err);
    free(path);
    if (rc != 0) {
        fprintf(stderr, "Watch (type: %s) errored: %s\n", p->type, err);
        return -1;
    }
    *index = r.index;
    if (r.status == 404 && strncmp(p->type, "key", 3) == 0) {
        httpc_resp_release(&r);
        *res = json_null();
        return 0;
    }
    if (r.status != 200) {
        httpc_format_status(&r, err, sizeof(err));
        fprintf(stderr, "Watch (type: %s) errored: %s\n", p->type, err);
        httpc_resp_release(&r);
        return -1;
    }
    body = json_loads(r.body, JSON_DECODE_ANY, NULL);
    httpc_resp_release(&r);
    if (body == NULL) {
        fprintf(stderr, "Watch (type: %s) errored: bad JSON\n", p->type);
        return -1;
    }
    *res = shape(p, body);
    return 0;
}

/* ---- handlers ---- */

static int run_handler(char **args, int nargs, bool shell, uint64_t idx,
                       const json_t *data)
{
    char *js = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY |
                                    JSON_PRESERVE_ORDER);
    int fds[2], status;
    pid_t pid;
    char num[24];

    if (js == NULL || pipe(fds) != 0) {
        free(js);
        fprintf(stderr, "Error executing handler: %s\n", strerror(errno));
        return -1;
    }
    snprintf(num, sizeof(num), "%" PRIu64, idx);
    pid = fork();
    if (pid == 0) {
        const char *shell_env = getenv("SHELL");
        char *sh[4] = {(char *)(shell_env != NULL && shell_env[0] != '\0'
                                    ? shell_env : "/bin/sh"),
                       "-c", NULL, NULL};
        size_t len = 0;
        char *cmd;

        dup2(fds[0], 0);
        close(fds[0]);
        close(fds[1]);
        setenv("CONSUL_INDEX", num, 1);
        if (!shell) {
            execvp(args[0], args);
            fprintf(stderr, "Error executing handler: %s: %s\n", args[0],
                    strerror(errno));
            _exit(127);
        }
        for (int i = 0; i < nargs; i++)
            len += strlen(args[i]) + 1;
        cmd = calloc(1, len + 1);
        for (int i = 0; cmd != NULL && i < nargs; i++) {
            strcat(cmd, args[i]);
            if (i + 1 < nargs)
                strcat(cmd, " ");
        }
        sh[2] = cmd;
        execv(sh[0], sh);
        fprintf(stderr, "Error executing handler: %s: %s\n", sh[0],
                strerror(errno));
        _exit(127);
    }
    close(fds[0]);
    if (pid > 0) {
        size_t n = strlen(js), off = 0;

        signal(SIGPIPE, SIG_IGN);
        while (off < n) {
            ssize_t w = write(fds[1], js + off, n - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (write(fds[1], "\n", 1) < 0) {
            /* a handler that does not read its input is fine */
        }
    }
    close(fds[1]);
    free(js);
    if (pid < 0) {
        fprintf(stderr, "Error executing handler: %s\n", strerror(errno));
        return -1;
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "Error executing handler: exit status %d\n",
                WEXITSTATUS(status));
    else
        fprintf(stderr, "Error executing handler: signal: %s\n",
                strsignal(WTERMSIG(status)));
    return -1;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Consul's plan loop; returns the exit status. */
static int run(struct plan *p, char **args, int nargs, bool shell)
{
    unsigned failures = 0;

    for (;;) {
        json_t *res = NULL;
        uint64_t idx = 0, old;

        int qrc = query(p, &res, &idx);

        if (p->agent_pid > 0 && getppid() != (pid_t)p->agent_pid) {
            json_decref(res);
            return 0; /* our agent is gone */
        }
        if (qrc != 0) {
            uint64_t ms;

            failures++;
            ms = (uint64_t)RETRY_MS * failures * failures;
            sleep_ms(ms > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : ms);
            p->last_index = 0;
            continue;
        }
        failures = 0;
        if (idx == 0)
            idx = 1; /* never block on 0: that would not block at all */
        if (p->last_index != 0 && p->last_index == idx) {
            json_decref(res);
            continue;
        }
        old = p->last_index;
        p->last_index = idx;
        if (old != 0 && p->last != NULL && json_equal(p->last, res)) {
            json_decref(res);
            continue;
        }
        json_decref(p->last);
        p->last = res;
        if (nargs == 0) {
            char *s = json_dumps(res, JSON_INDENT(4) | JSON_ENCODE_ANY |
                                          JSON_PRESERVE_ORDER);

            printf("%s\n", s != NULL ? s : "null");
            free(s);
            return 0;
        }
        /* Consul's agent logs a failed handler and goes on. */
        if (run_handler(args, nargs, shell, idx, res) != 0 &&
            p->agent_pid <= 0)
            return 1;
    }
}

int cmd_watch(int argc, char **argv)
{
    struct wflags f = {.shell = true};
    struct httpc_flags hf = {0};
    struct opt opts[11 + HTTPC_N_FLAGS];
    uint64_t agent_pid = 0;
    char err[ERR_LEN];
    struct httpc c;
    struct plan p = {0};
    json_t *w;
    int n = 0, rest, rc;

    opts[n++] = (struct opt){.name = "type", .type = OPT_STR, .dst = &f.type,
        .help = "Specifies the watch type. One of key, keyprefix, services, "
        "nodes, service, checks, or event."};
    opts[n++] = (struct opt){.name = "key", .type = OPT_STR, .dst = &f.key,
        .help = "Specifies the key to watch. Only for 'key' type."};
    opts[n++] = (struct opt){.name = "prefix", .type = OPT_STR,
        .dst = &f.prefix,
        .help = "Specifies the key prefix to watch. Only for 'keyprefix' "
        "type."};
    opts[n++] = (struct opt){.name = "service", .type = OPT_STR,
        .dst = &f.service,
        .help = "Specifies the service to watch. Required for 'service' "
        "type, optional for 'checks' type."};
    opts[n++] = (struct opt){.name = "tag", .type = OPT_STRLIST,
        .dst = &f.tags,
        .help = "Specifies the service tag(s) to filter on. Optional for "
        "'service' type. May be specified multiple times."};
    opts[n++] = (struct opt){.name = "passingonly", .type = OPT_BOOL,
        .dst = &f.passingonly,
        .help = "Specifies if only hosts passing all checks are displayed. "
        "Optional for 'service' type, defaults false."};
    opts[n++] = (struct opt){.name = "state", .type = OPT_STR,
        .dst = &f.state,
        .help = "Specifies the states to watch. Optional for 'checks' "
        "type."};
    opts[n++] = (struct opt){.name = "name", .type = OPT_STR, .dst = &f.name,
        .help = "Specifies an event name to watch. Only for 'event' type."};
    opts[n++] = (struct opt){.name = "shell", .type = OPT_BOOL,
        .dst = &f.shell,
        .help = "Use a shell to run the command (can set a custom shell "
        "via the SHELL environment variable). The default value is true."};
    /* Hidden: set by an agent running its config `watches`. */
    opts[n++] = (struct opt){.name = "agent-pid", .type = OPT_UINT64,
        .dst = &agent_pid};
    httpc_add_flags(opts, &n, &hf, true);
    httpc_add_tls_flags(opts, &n, &hf);
    rc = opt_parse_cli(opts, n, argc, argv, synopsis, description, &rest);
    if (rc >= 0) {
        opt_release(opts, n);
        return rc;
    }
    if (agent_pid > 0 && rest >= argc) {
        fprintf(stderr, "-agent-pid needs a handler\n");
        opt_release(opts, n);
        return 1;
    }
    if (f.type == NULL || f.type[0] == '\0') {
        fprintf(stderr, "Watch type must be specified\n");
        opt_release(opts, n);
        return 1;
    }
    w = params(&f, &hf);
    if (cfg_watch_check(w, false, err) != 0) {
        fprintf(stderr, "Error parsing watch parameters: %s\n", err);
        json_decref(w);
        opt_release(opts, n);
        return 1;
    }
    if (httpc_init(&c, &hf, err) != 0) {
        fprintf(stderr, "Error connecting to Consul agent: %s\n", err);
        json_decref(w);
        opt_release(opts, n);
        return 1;
    }
    p.c = &c;
    p.w = w;
    p.type = f.type;
    p.agent_pid = (long)agent_pid;
    rc = run(&p, argv + rest, argc - rest, f.shell);
    json_decref(p.last);
    json_decref(w);
    httpc_release(&c);
    opt_release(opts, n);
    return rc;
}

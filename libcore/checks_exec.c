/* checks_exec.c - TCP and script (Args) checks on the uv loop.
 *
 * Layer: agent (uses util, libuv). Thread: loop only.
 * Owns: each run (struct tcp_op, struct proc_op) until its handles are
 * closed and its child is reaped; a cancelled run detaches from its
 * runner and cleans up after itself (counted in c->live meanwhile).
 * TCP, as Consul's CheckTCP on Go's net.Dialer: "host:port" resolved off
 * the loop (uv_getaddrinfo), addresses tried in order, passing with
 * "TCP connect <addr>: Success", else critical with Go's error of the
 * first failed address ("dial tcp 127.0.0.1:1: connect: connection
 * refused", "... i/o timeout" after Timeout, default 10 s).
 * Script, as Consul's CheckMonitor: argv run without a shell in its own
 * process group (setsid), stdin /dev/null, stdout and stderr on one pipe
 * kept to its last 4 KiB ("Captured N of M bytes\n...\n" prefix when
 * cut); a run ends when the child exited and the pipe hit EOF; exit 0
 * passing, 1 warning, else critical. At Timeout (default 30 s) SIGKILL
 * goes to the group, "Timed out (30s) running check" is reported at
 * once and the next run waits for the exit. Timeout and spawn failures
 * bypass the SuccessBefore/FailuresBefore counters, as in Consul.
 * Tests: t/unit/check_checks.c
 */
#include "checks_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* ---- TCP ----------------------------------------------------------------- */

struct tcp_op;

struct tcp_try {
    struct tcp_op *op;
    uv_tcp_t tcp;
    uv_connect_t conn;
    char addr[80];
};

struct tcp_op {
    struct checks *c;
    struct checks_runner *r; /* NULL once finished or cancelled */
    uv_getaddrinfo_t gai;
    bool gai_busy;
    struct addrinfo *res, *next;
    struct tcp_try *cur;
    int open; /* tries whose handle is not closed yet */
    char host[256];
    char first_err[320];
};

/* Go's net.SplitHostPort; 0, or msg set. */
static int split_host_port(const char *s, char *host, size_t hn, char *port,
                           size_t pn, char *msg, size_t mn)
{
    const char *h = s, *he, *p;

    if (*s == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL) {
            snprintf(msg, mn, "address %s: missing ']' in address", s);
            return -1;
        }
        if (end[1] != ':') {
            snprintf(msg, mn, "address %s: %s", s,
                     end[1] == '\0' || strchr(end + 1, ':') == NULL
                         ? "missing port in address"
                         : "too many colons in address");
            return -1;
        }
        h = s + 1;
        he = end;
        p = end + 2;
    } else {
        const char *last = strrchr(s, ':');
        if (last == NULL) {
            snprintf(msg, mn, "address %s: missing port in address", s);
            return -1;
        }
        he = last;
        p = last + 1;
        if (memchr(s, ':', (size_t)(last - s)) != NULL) {
            snprintf(msg, mn, "address %s: too many colons in address", s);
            return -1;
        }
    }
    if (memchr(h, '[', (size_t)(he - h)) != NULL ||
        strchr(p, '[') != NULL) {
        snprintf(msg, mn, "address %s: unexpected '[' in address", s);
        return -1;
    }
    if (memchr(h, ']', (size_t)(he - h)) != NULL ||
        strchr(p, ']') != NULL) {
        snprintf(msg, mn, "address %s: unexpected ']' in address", s);
        return -1;
    }
    snprintf(host, hn, "%.*s", (int)(he - h), h);
    snprintf(port, pn, "%s", p);
    return 0;
}

static void sa_str(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[64] = "";

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(s6, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        uv_ip4_name(s4, ip, sizeof(ip));
        snprintf(out, n, "%s:%u", ip, ntohs(s4->sin_port));
    }
}

static void tcp_maybe_free(struct tcp_op *op)
{
    struct checks *c = op->c;

    if (op->r != NULL || op->gai_busy || op->open > 0)
        return;
    uv_freeaddrinfo(op->res);
    free(op);
    checks_unref(c);
}

static void on_try_closed(uv_handle_t *h)
{
    struct tcp_try *t = h->data;
    struct tcp_op *op = t->op;

    free(t);
    op->open--;
    tcp_maybe_free(op);
}

static void try_close(struct tcp_try *t)
{
    if (!uv_is_closing((uv_handle_t *)&t->tcp))
        uv_close((uv_handle_t *)&t->tcp, on_try_closed);
}

/* Stop whatever is under way; op frees itself once it is all gone. */
static void tcp_detach(struct tcp_op *op)
{
    if (op->r != NULL)
        op->r->op = NULL;
    op->r = NULL;
    if (op->cur != NULL)
        try_close(op->cur);
    op->cur = NULL;
    if (op->gai_busy)
        uv_cancel((uv_req_t *)&op->gai);
}

static void tcp_finish(struct tcp_op *op, const char *status,
                       const char *out)
{
    struct checks_runner *r = op->r;

    uv_timer_stop(&r->tmo);
    tcp_detach(op);
    checks_result(r, status, out);
    checks_run_done(r);
    tcp_maybe_free(op);
}

static void try_next(struct tcp_op *op);

static void on_connect(uv_connect_t *req, int status)
{
    struct tcp_try *t = req->data;
    struct tcp_op *op = t->op;
    char *msg;

    if (op->cur == t)
        op->cur = NULL;
    try_close(t);
    if (op->r == NULL)
        return;
    if (status == 0) {
        msg = checks_fmt("TCP connect %s: Success", op->r->d.target);
        tcp_finish(op, "passing", msg != NULL ? msg : "Success");
        free(msg);
        return;
    }
    if (op->first_err[0] == '\0')
        snprintf(op->first_err, sizeof(op->first_err),
                 "dial tcp %s: connect: %s", t->addr, uv_strerror(status));
    try_next(op);
}

static void try_next(struct tcp_op *op)
{
    while (op->next != NULL) {
        struct addrinfo *ai = op->next;
        struct tcp_try *t = calloc(1, sizeof(*t));
        int rc;

        op->next = ai->ai_next;
        if (t == NULL)
            break;
        t->op = op;
        sa_str(ai->ai_addr, t->addr, sizeof(t->addr));
        uv_tcp_init(op->c->loop, &t->tcp);
        t->tcp.data = t;
        t->conn.data = t;
        op->open++;
        rc = uv_tcp_connect(&t->conn, &t->tcp, ai->ai_addr, on_connect);
        if (rc == 0) {
            op->cur = t;
            return;
        }
        if (op->first_err[0] == '\0')
            snprintf(op->first_err, sizeof(op->first_err),
                     "dial tcp %s: connect: %s", t->addr, uv_strerror(rc));
        try_close(t);
    }
    tcp_finish(op, "critical",
               op->first_err[0] != '\0' ? op->first_err
                                        : "dial tcp: no suitable address "
                                          "found");
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res)
{
    struct tcp_op *op = req->data;
    char msg[400];

    op->gai_busy = false;
    if (op->r == NULL) {
        uv_freeaddrinfo(res);
        tcp_maybe_free(op);
        return;
    }
    if (status < 0) {
        if (status == UV_EAI_NONAME || status == UV_EAI_NODATA)
            snprintf(msg, sizeof(msg), "dial tcp: lookup %s: no such host",
                     op->host);
        else
            snprintf(msg, sizeof(msg), "dial tcp: lookup %s: %s", op->host,
                     uv_strerror(status));
        tcp_finish(op, "critical", msg);
        return;
    }
    op->res = op->next = res;
    try_next(op);
}

static void on_tcp_timeout(uv_timer_t *t)
{
    struct checks_runner *r = t->data;
    struct tcp_op *op = r->op;
    char msg[400];

    if (op == NULL)
        return;
    if (op->cur != NULL)
        snprintf(msg, sizeof(msg), "dial tcp %s: i/o timeout",
                 op->cur->addr);
    else
        snprintf(msg, sizeof(msg), "dial tcp: lookup %s: i/o timeout",
                 op->host);
    tcp_finish(op, "critical", msg);
}

void checks_tcp_start(struct checks_runner *r)
{
    struct checks *c = r->c;
    struct addrinfo hints;
    struct tcp_op *op;
    char port[64], msg[400], *m;
    int rc;

    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        checks_result(r, "critical", "out of memory");
        checks_run_done(r);
        return;
    }
    if (split_host_port(r->d.target, op->host, sizeof(op->host), port,
                        sizeof(port), msg, sizeof(msg)) != 0) {
        free(op);
        m = checks_fmt("dial tcp: %s", msg);
        checks_result(r, "critical", m != NULL ? m : msg);
        free(m);
        checks_run_done(r);
        return;
    }
    op->c = c;
    op->r = r;
    op->gai.data = op;
    r->op = op;
    c->live++;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    uv_timer_start(&r->tmo, on_tcp_timeout,
                   (uint64_t)(r->d.timeout_ms > 0 ? r->d.timeout_ms
                                                  : CHECKS_TCP_TIMEOUT_MS),
                   0);
    rc = uv_getaddrinfo(c->loop, &op->gai, on_resolved,
                        op->host[0] != '\0' ? op->host : NULL, port, &hints);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "dial tcp: lookup %s: %s", op->host,
                 uv_strerror(rc));
        tcp_finish(op, "critical", msg);
        return;
    }
    op->gai_busy = true;
}

void checks_tcp_cancel(struct checks_runner *r)
{
    struct tcp_op *op = r->op;

    if (op == NULL)
        return;
    tcp_detach(op);
    tcp_maybe_free(op);
}

/* ---- script -------------------------------------------------------------- */

struct proc_op {
    struct checks *c;
    struct checks_runner *r; /* NULL once finished or cancelled */
    uv_process_t proc;
    uv_pipe_t out;
    int handles;
    bool exited, eof, timed_out;
    int64_t exit_status;
    int term_signal;
    int pid;
    struct checks_ring ring;
    char rbuf[16384];
};

static void on_proc_handle_closed(uv_handle_t *h)
{
    struct proc_op *op = h->data;
    struct checks *c = op->c;

    if (--op->handles > 0)
        return;
    checks_ring_release(&op->ring);
    free(op);
    checks_unref(c);
}

static void close_pipe(struct proc_op *op)
{
    op->eof = true;
    if (!uv_is_closing((uv_handle_t *)&op->out))
        uv_close((uv_handle_t *)&op->out, on_proc_handle_closed);
}

static void kill_group(struct proc_op *op, const char *id)
{
    if (kill(-op->pid, SIGKILL) != 0 && errno != ESRCH) {
        LOG_WARN("agent", "Check failed to kill after timeout: check=%s "
                          "error=\"%s\"",
                 id, strerror(errno));
        if (!op->exited)
            uv_process_kill(&op->proc, SIGKILL);
    }
}

/* The captured output, with Consul's note when it was cut. */
static char *script_output(const struct proc_op *op)
{
    char *s = checks_ring_str(&op->ring), *o;

    if (s == NULL || op->ring.total <= op->ring.cap)
        return s;
    o = checks_fmt("Captured %zu of %llu bytes\n...\n%s", op->ring.cap,
                   (unsigned long long)op->ring.total, s);
    free(s);
    return o;
}

/* Both the exit and the pipe's EOF seen: report and arm the next run. */
static void script_complete(struct proc_op *op)
{
    struct checks_runner *r = op->r;
    const char *st;
    char *out;

    if (r == NULL || !op->exited || !op->eof)
        return;
    op->r = NULL;
    r->op = NULL;
    uv_timer_stop(&r->tmo);
    if (!op->timed_out) {
        st = op->term_signal == 0 && op->exit_status == 0   ? "passing"
             : op->term_signal == 0 && op->exit_status == 1 ? "warning"
                                                            : "critical";
        out = script_output(op);
        LOG_TRACE("agent", "Check output: check=%s output=\"%s\"", r->id,
                  out != NULL ? out : "");
        checks_result(r, st, out != NULL ? out : "");
        free(out);
    }
    checks_run_done(r);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
    struct proc_op *op = h->data;

    (void)sugg;
    *b = uv_buf_init(op->rbuf, sizeof(op->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct proc_op *op = s->data;

    if (n > 0) {
        checks_ring_write(&op->ring, b->base, (size_t)n);
        return;
    }
    if (n == 0)
        return;
    close_pipe(op);
    script_complete(op);
}

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct proc_op *op = p->data;

    op->exited = true;
    op->exit_status = status;
    op->term_signal = sig;
    uv_close((uv_handle_t *)p, on_proc_handle_closed);
    /* After a kill, a grandchild that left the group may still hold the
     * pipe: stop waiting for its EOF. */
    if (op->timed_out || op->r == NULL)
        close_pipe(op);
    script_complete(op);
}

static void on_script_timeout(uv_timer_t *t)
{
    struct checks_runner *r = t->data;
    struct proc_op *op = r->op;
    char dur[32], *out, *msg;

    if (op == NULL || op->timed_out)
        return;
    op->timed_out = true;
    kill_group(op, r->id);
    if (op->exited)
        close_pipe(op);
    checks_dur_str(r->d.timeout_ms > 0 ? r->d.timeout_ms
                                       : CHECKS_SCRIPT_TIMEOUT_MS,
                   dur, sizeof(dur));
    LOG_WARN("agent", "Timed out running check: check=%s timeout=%s", r->id,
             dur);
    out = script_output(op);
    if (out != NULL && *out != '\0')
        msg = checks_fmt("Timed out (%s) running check\n\n%s", dur, out);
    else
        msg = checks_fmt("Timed out (%s) running check", dur);
    checks_notify(r, "critical", msg != NULL ? msg : "Timed out");
    free(msg);
    free(out);
    script_complete(op);
}

/* Go's exec errors: LookPath's for a bare name, fork/exec's otherwise. */
static void spawn_err(const char *file, int rc, char *msg, size_t n)
{
    if (strchr(file, '/') == NULL && (rc == UV_ENOENT || rc == UV_EACCES))
        snprintf(msg, n, "exec: \"%s\": executable file not found in $PATH",
                 file);
    else
        snprintf(msg, n, "fork/exec %s: %s", file, uv_strerror(rc));
}

static int spawn(struct proc_op *op, char *const *args)
{
    uv_process_options_t o;
    uv_stdio_container_t io[3];
    uv_file fds[2];
    int rc;

    rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
    if (rc != 0)
        return rc;
    uv_pipe_init(op->c->loop, &op->out, 0);
    op->out.data = op->proc.data = op;
    op->handles = 1;
    rc = uv_pipe_open(&op->out, fds[0]);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    memset(&o, 0, sizeof(o));
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_INHERIT_FD;
    io[1].data.fd = fds[1];
    io[2] = io[1];
    o.file = args[0];
    o.args = (char **)args;
    o.exit_cb = on_child_exit;
    o.flags = UV_PROCESS_DETACHED; /* setsid: its own process group */
    o.stdio = io;
    o.stdio_count = 3;
    rc = uv_spawn(op->c->loop, &op->proc, &o);
    close(fds[1]);
    op->handles = 2; /* uv_spawn initialised proc even on failure */
    if (rc == 0)
        op->pid = op->proc.pid;
    return rc;
}

void checks_script_start(struct checks_runner *r)
{
    struct checks *c = r->c;
    struct proc_op *op;
    char msg[600];
    int rc;

    if (r->d.args[0][0] == '\0') {
        checks_notify(r, "critical", "exec: no command");
        checks_run_done(r);
        return;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL || checks_ring_init(&op->ring, r->d.out_max) != 0) {
        free(op);
        checks_notify(r, "critical", "out of memory");
        checks_run_done(r);
        return;
    }
    op->c = c;
    c->live++;
    rc = spawn(op, r->d.args);
    if (rc != 0) {
        spawn_err(r->d.args[0], rc, msg, sizeof(msg));
        LOG_ERROR("agent", "Check failed to invoke: check=%s error=\"%s\"",
                  r->id, msg);
        if (op->handles == 0) {
            checks_ring_release(&op->ring);
            free(op);
            checks_unref(c);
        } else {
            if (op->handles == 2)
                uv_close((uv_handle_t *)&op->proc, on_proc_handle_closed);
            uv_close((uv_handle_t *)&op->out, on_proc_handle_closed);
        }
        checks_notify(r, "critical", msg);
        checks_run_done(r);
        return;
    }
    op->r = r;
    r->op = op;
    uv_read_start((uv_stream_t *)&op->out, on_alloc, on_read);
    uv_timer_start(&r->tmo, on_script_timeout,
                   (uint64_t)(r->d.timeout_ms > 0
                                  ? r->d.timeout_ms
                                  : CHECKS_SCRIPT_TIMEOUT_MS),
                   0);
}

void checks_script_cancel(struct checks_runner *r)
{
    struct proc_op *op = r->op;

    if (op == NULL)
        return;
    op->r = NULL;
    r->op = NULL;
    if (!op->exited)
        kill_group(op, r->id);
    else
        close_pipe(op);
}

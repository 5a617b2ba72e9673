/* blockers.c - load client for bench/blocking.sh: holds N blocking
 * queries open on one agent, then wakes them with one write.
 *
 * Opens N keep-alive HTTP/1.1 connections (RATE a second, default 5000, at
 * most 128 connects in flight) and sends on each `GET PATH` (PATH carries
 * ?index=I&wait=...). Once every request is written it prints "ready N"
 * and waits for SIGUSR1 (the caller meanwhile measures the agent). Then,
 * on fresh connections:
 *   1. the unrelated write (-o); every blocker that returns from then until
 *      QUIET ms after its answer counts as a spurious wake-up;
 *   2. the waking write (-w); the time from sending it to the last blocker's
 *      answer is the wake-all time. Each answer must be a 200 whose
 *      X-Consul-Index is above I.
 * Prints one line, "BLOCK n=.. early=.. spurious=.. other_ms=..
 * wake_put_ms=.. first_ms=.. all_ms=.. ok=.. bad=.. lost=..", and exits.
 * Only Content-Length framed answers are understood (the agent's).
 *
 * Usage: blockers -n N -i I -g PATH [-o 'METHOD PATH' [-O BODY]]
 *                 -w 'METHOD PATH' [-W BODY] [-q QUIET_MS] [-r RATE]
 *                 [-t BOUND_S] IP PORT
 * Exit: 0 every blocker returned once, after the waking write, with 200 and
 * a higher index; 1 otherwise (or on a timeout: BOUND_S to get ready, and
 * again from SIGUSR1 to the end); 2 usage.
 * Build: cc -std=c11 -D_GNU_SOURCE -O2 blockers.c $(pkg-config --cflags --libs libuv)
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uv.h>

#define WINDOW 128 /* connects in flight */
#define TICK_MS 10  /* pacing of the connects */

enum phase { CONNECTING, READY, OTHER, QUIET, WAKE, DONE };
enum role { BLOCKER, WRITE_OTHER, WRITE_WAKE };

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    enum role role;
    bool answered, closed;
    char *buf; /* the answer so far */
    size_t len, cap;
};

struct answer {
    int status;
    bool has_index;
    uint64_t index;
};


static struct {
    uv_loop_t *loop;
    struct sockaddr_in addr;
    int n, started, inflight, sent, pending;
    long rate, budget; /* connects per second, left in this tick */
    uint64_t index;
    char *get_req, *other_req, *wake_req;
    long quiet_ms, bound_s;
    struct conn *conns, other, wake;
    enum phase phase;
    uv_timer_t bound, quiet, pace;
    uv_signal_t sig_go, sig_int, sig_term;
    uint64_t t_start, t_other, t_wake, t_first, t_last;
    double other_ms, wake_put_ms;
    int early, spurious, ok, bad, lost;
    int rc;
} B;

static char readbuf[65536];

static void start_next(void);
static void start_wake(void);

static double ms_between(uint64_t t0, uint64_t t1)
{
    return t0 != 0 && t1 >= t0 ? (double)(t1 - t0) / 1e6 : -1;
}

static void finish(int rc)
{
    if (B.phase == DONE)
        return;
    B.phase = DONE;
    B.rc = rc;
    printf("BLOCK n=%d early=%d spurious=%d other_ms=%.2f wake_put_ms=%.2f "
           "first_ms=%.2f all_ms=%.2f ok=%d bad=%d lost=%d\n",
           B.n, B.early, B.spurious, B.other_ms, B.wake_put_ms,
           ms_between(B.t_wake, B.t_first), ms_between(B.t_wake, B.t_last),
           B.ok, B.bad, B.lost);
    fflush(stdout);
    uv_stop(B.loop);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(readbuf, sizeof(readbuf));
}

static int append(struct conn *c, const char *p, size_t n)
{
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        char *nb;

        while (cap < c->len + n + 1)
            cap *= 2;
        nb = realloc(c->buf, cap);
        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return 0;
}

/* 1 complete (fills *a), 0 need more, -1 malformed or unsupported. */
static int parse(const struct conn *c, struct answer *a)
{
    const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *l;
    long long clen = -1;

    if (end == NULL)
        return 0;
    memset(a, 0, sizeof(*a));
    if (sscanf(c->buf, "HTTP/1.%*d %d", &a->status) != 1)
        return -1;
    for (l = strstr(c->buf, "\r\n"); l != NULL && l < end;
         l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;

        if (strncasecmp(h, "content-length:", 15) == 0) {
            clen = strtoll(h + 15, NULL, 10);
        } else if (strncasecmp(h, "x-consul-index:", 15) == 0) {
            a->index = strtoull(h + 15, NULL, 10);
            a->has_index = true;
        } else if (strncasecmp(h, "transfer-encoding:", 18) == 0) {
            return -1;
        }
    }
    if (clen < 0)
        return -1;
    return (size_t)(end + 4 - c->buf) + (size_t)clen <= c->len;
}

static void maybe_done(void)
{
    if (B.phase == WAKE && B.pending == 0 && B.wake.answered)
        finish(B.ok == B.n - B.spurious && B.lost == 0 ? 0 : 1);
}

static void blocker_answered(const struct answer *a)
{
    uint64_t now = uv_hrtime();

    B.pending--;
    switch (B.phase) {
    case OTHER:
    case QUIET:
        B.spurious++;
        return;
    case WAKE:
        if (B.t_first == 0)
            B.t_first = now;
        B.t_last = now;
        if (a->status == 200 && a->has_index && a->index > B.index)
            B.ok++;
        else if (B.bad++ == 0)
            fprintf(stderr, "blockers: a blocker got %d, index %" PRIu64
                    " (sent %" PRIu64 ")\n", a->status, a->index, B.index);
        maybe_done();
        return;
    default:
        B.early++;
        fprintf(stderr, "blockers: an answer (status %d) before any write\n",
                a->status);
        finish(1);
    }
}

static void on_quiet(uv_timer_t *t)
{
    (void)t;
    start_wake();
}

static void write_answered(struct conn *c, const struct answer *a)
{
    uint64_t now = uv_hrtime();

    if (a->status < 200 || a->status > 299) {
        fprintf(stderr, "blockers: the %s write answered %d\n",
                c->role == WRITE_OTHER ? "unrelated" : "waking", a->status);
        finish(1);
        return;
    }
    if (c->role == WRITE_OTHER) {
        B.other_ms = ms_between(B.t_other, now);
        B.phase = QUIET;
        uv_timer_start(&B.quiet, on_quiet, (uint64_t)B.quiet_ms, 0);
        return;
    }
    B.wake_put_ms = ms_between(B.t_wake, now);
    maybe_done();
}

static void lose(struct conn *c, const char *why)
{
    if (c->answered)
        return;
    c->answered = true;
    if (c->role != BLOCKER) {
        fprintf(stderr, "blockers: write connection: %s\n", why);
        finish(1);
        return;
    }
    B.lost++;
    B.pending--;
    if (B.lost == 1)
        fprintf(stderr, "blockers: a blocker was lost: %s\n", why);
    if (B.phase < OTHER)
        finish(1);
    else
        maybe_done();
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = s->data;
    struct answer a;
    int r;

    if (nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(s);
        lose(c, nread == UV_EOF ? "closed by the agent"
                                : uv_strerror((int)nread));
        return;
    }
    if (c->answered)
        return; /* nothing more is expected on this connection */
    if (append(c, buf->base, (size_t)nread) != 0) {
        lose(c, "out of memory");
        return;
    }
    r = parse(c, &a);
    if (r == 0)
        return;
    if (r < 0) {
        lose(c, "malformed or chunked answer");
        return;
    }
    c->answered = true;
    if (c->role == BLOCKER)
        blocker_answered(&a);
    else
        write_answered(c, &a);
}

static void on_written(uv_write_t *w, int status)
{
    struct conn *c = w->data;

    if (status != 0) {
        lose(c, uv_strerror(status));
        return;
    }
    if (c->role != BLOCKER || ++B.sent < B.n || B.phase != CONNECTING)
        return;
    B.phase = READY;
    uv_timer_stop(&B.bound);
    printf("ready %d\n", B.n);
    fflush(stdout);
}

static void send_req(struct conn *c, char *req)
{
    uv_buf_t b = uv_buf_init(req, (unsigned)strlen(req));
    int r;

    c->wreq.data = c;
    r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r == 0)
        r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (r != 0)
        lose(c, uv_strerror(r));
}

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;

    if (B.phase == DONE)
        return;
    if (status != 0) {
        fprintf(stderr, "blockers: connect: %s\n", uv_strerror(status));
        finish(1);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->role == BLOCKER) {
        B.inflight--;
        send_req(c, B.get_req);
        start_next();
        return;
    }
    send_req(c, c->role == WRITE_OTHER ? B.other_req : B.wake_req);
}

static int open_conn(struct conn *c, enum role role)
{
    int r;

    c->role = role;
    c->tcp.data = c;
    c->creq.data = c;
    uv_tcp_init(B.loop, &c->tcp);
    r = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&B.addr,
                       on_connect);
    if (r != 0) {
        fprintf(stderr, "blockers: connect: %s\n", uv_strerror(r));
        finish(1);
    }
    return r;
}

static void start_next(void)
{
    while (B.phase == CONNECTING && B.inflight < WINDOW && B.budget > 0 &&
           B.started < B.n) {
        B.budget--;
        B.inflight++;
        B.pending++;
        if (open_conn(&B.conns[B.started++], BLOCKER) != 0)
            return;
    }
}

/* Connects are paced (RATE a second, from the start): a burst overflows
 * the agent's accept queue, and a dropped SYN costs a 1 s retransmit. */
static void on_pace(uv_timer_t *t)
{
    uint64_t ms = (uv_hrtime() - B.t_start) / 1000000;

    B.budget = (long)((uint64_t)B.rate * (ms + TICK_MS) / 1000) - B.started;
    if (B.started == B.n)
        uv_timer_stop(t);
    else
        start_next();
}

static void start_wake(void)
{
    B.phase = WAKE;
    B.t_wake = uv_hrtime();
    open_conn(&B.wake, WRITE_WAKE);
}

static void on_bound(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "blockers: timed out after %ld s (%d of %d blockers "
            "written, %d still pending)\n", B.bound_s, B.sent, B.n,
            B.pending);
    finish(1);
}

static void on_go(uv_signal_t *h, int signum)
{
    (void)signum;
    if (B.phase != READY)
        return;
    uv_signal_stop(h);
    uv_timer_start(&B.bound, on_bound, (uint64_t)B.bound_s * 1000, 0);
    if (B.other_req == NULL) {
        start_wake();
        return;
    }
    B.phase = OTHER;
    B.t_other = uv_hrtime();
    open_conn(&B.other, WRITE_OTHER);
}

static void on_stop(uv_signal_t *h, int signum)
{
    (void)h;
    B.rc = 128 + signum;
    B.phase = DONE;
    uv_stop(B.loop);
}

/* A request for "METHOD PATH" with BODY (NULL: a GET without one). */
static char *request(const char *line, const char *body, const char *host,
                     int port)
{
    char *s = NULL;
    int r;

    if (body == NULL)
        r = asprintf(&s, "%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "User-Agent: proconsul-blockers\r\n\r\n", line, host,
                     port);
    else
        r = asprintf(&s, "%s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "User-Agent: proconsul-blockers\r\n"
                     "Content-Length: %zu\r\n\r\n%s", line, host, port,
                     strlen(body), body);
    return r < 0 ? NULL : s;
}

static int usage(void)
{
    fprintf(stderr, "usage: blockers -n N -i INDEX -g PATH "
            "[-o 'METHOD PATH' [-O BODY]] -w 'METHOD PATH' [-W BODY]\n"
            "                [-q QUIET_MS] [-r RATE] [-t BOUND_S] IP PORT\n");
    return 2;
}

struct args {
    const char *path, *other, *other_body, *wake, *wake_body;
};

static int parse_args(int argc, char **argv, struct args *a)
{
    int ch;

    B.quiet_ms = 2000;
    B.bound_s = 120;
    B.rate = 5000;
    while ((ch = getopt(argc, argv, "n:i:g:o:O:w:W:q:r:t:")) != -1) {
        switch (ch) {
        case 'n': B.n = atoi(optarg); break;
        case 'i': B.index = strtoull(optarg, NULL, 10); break;
        case 'g': a->path = optarg; break;
        case 'o': a->other = optarg; break;
        case 'O': a->other_body = optarg; break;
        case 'w': a->wake = optarg; break;
        case 'W': a->wake_body = optarg; break;
        case 'q': B.quiet_ms = atol(optarg); break;
        case 'r': B.rate = atol(optarg); break;
        case 't': B.bound_s = atol(optarg); break;
        default: return -1;
        }
    }
    if (argc - optind != 2 || B.n <= 0 || a->path == NULL ||
        a->wake == NULL || B.quiet_ms < 0 || B.bound_s <= 0 || B.rate <= 0)
        return -1;
    return 0;
}

static int setup(int argc, char **argv)
{
    struct args a = {0};
    const char *host;
    int port;
    char get[4096];

    if (parse_args(argc, argv, &a) != 0)
        return usage();
    host = argv[optind];
    port = atoi(argv[optind + 1]);
    if (uv_ip4_addr(host, port, &B.addr) != 0) {
        fprintf(stderr, "blockers: bad address %s:%s\n", host,
                argv[optind + 1]);
        return 2;
    }
    snprintf(get, sizeof(get), "GET %s", a.path);
    B.get_req = request(get, NULL, host, port);
    B.wake_req = request(a.wake, a.wake_body ? a.wake_body : "", host, port);
    if (a.other != NULL)
        B.other_req = request(a.other, a.other_body ? a.other_body : "",
                              host, port);
    B.conns = calloc((size_t)B.n, sizeof(*B.conns));
    if (B.get_req == NULL || B.wake_req == NULL || B.conns == NULL ||
        (a.other != NULL && B.other_req == NULL)) {
        fprintf(stderr, "blockers: out of memory\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int r;

    signal(SIGPIPE, SIG_IGN);
    if ((r = setup(argc, argv)) != 0)
        return r;
    B.loop = uv_default_loop();
    uv_timer_init(B.loop, &B.bound);
    uv_timer_init(B.loop, &B.quiet);
    uv_signal_init(B.loop, &B.sig_go);
    uv_signal_start(&B.sig_go, on_go, SIGUSR1);
    uv_signal_init(B.loop, &B.sig_int);
    uv_signal_start(&B.sig_int, on_stop, SIGINT);
    uv_signal_init(B.loop, &B.sig_term);
    uv_signal_start(&B.sig_term, on_stop, SIGTERM);
    uv_timer_start(&B.bound, on_bound, (uint64_t)B.bound_s * 1000, 0);
    uv_timer_init(B.loop, &B.pace);
    B.t_start = uv_hrtime();
    uv_timer_start(&B.pace, on_pace, 0, TICK_MS);
    uv_run(B.loop, UV_RUN_DEFAULT);
    /* Exiting closes the sockets; the loop's handles die with it. */
    return B.rc;
}

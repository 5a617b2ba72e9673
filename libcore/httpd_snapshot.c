/* httpd_snapshot.c - GET /v1/snapshot (save) and PUT /v1/snapshot
 * (restore).
 *
 * Layer: http. Thread: loop only (a save's writer runs in a forked
 * child, a restore's check of the archive in a libuv worker thread).
 * Owns: struct save (the child, its pipe, the streaming response) and
 * struct restore_job (the verified state stream being replicated).
 * Tests: t/t5001-snapshot-cli.sh, t/t5002-snapshot-cluster.sh
 *
 * Save forks: the child holds a copy-on-write image of the state as it
 * was at that instant and streams the archive (snap.h) into a pipe; the
 * parent keeps serving and relays the pipe to the client as it comes,
 * so neither side ever holds the state a second time, and the loop never
 * stops for the size of the state. A child that fails makes the response
 * end in an error (the client sees a cut-off body, never a short valid
 * archive: the archive's hashes come last).
 *
 * Restore verifies the whole archive first (snap_read: members, sizes,
 * hashes, versions, trailing bytes), keeping only state.bin, in an
 * unlinked file of the data dir. That takes seconds for a large state,
 * longer than a follower waits for a heartbeat, so it runs in a worker
 * thread, on a copy of the body in another unlinked file (the request,
 * and H2O's mapping of its body, may go away meanwhile); the thread
 * touches only its job. Then the loop replicates state.bin through
 * Raft as begin / chunk... / commit (fsm_stage.c), one piece in memory
 * at a time, and waits for a barrier. Every server swaps the new state
 * in whole at the commit or not at all. (The archive itself is H2O's
 * request body: past 32 MiB, a file mapping, see httpd.c.)
 */
#include "httpd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "snap.h"
#include "util_fs.h"
#include "util_time.h"

#define SAVE_BUF (64 * 1024)

/* ---- meta ---- */

struct conf_ctx {
    struct agent *a;
    json_t *arr;
};

static void conf_server(void *ctx, uint64_t id, const char *address,
                        bool voter)
{
    struct conf_ctx *cc = ctx;
    const char *node_id = "", *name = "";

    agent_server_names(cc->a, id, &node_id, &name);
    /* hashicorp/raft's ServerSuffrage is an int: 0 voter, 1 nonvoter. */
    json_array_append_new(cc->arr, json_pack(
        "{s:i, s:s, s:s}", "Suffrage", voter ? 0 : 1, "ID",
        node_id != NULL ? node_id : "", "Address", address ? address : ""));
}

static void fill_meta(struct agent *a, struct snap_meta *m)
{
    struct conf_ctx cc = {a, json_array()};

    memset(m, 0, sizeof(*m));
    m->index = a->fsm.last_index;
    m->term = a->rg.raft.current_term;
    m->version = SNAP_VERSION;
    m->format_version = fsm_snapshot_version();
    m->configuration_index = raftglue_config_index(&a->rg);
    snprintf(m->id, sizeof(m->id), "%" PRIu64 "-%" PRIu64 "-%" PRId64,
             m->term, m->index, util_now_ns() / 1000000);
    raftglue_servers(&a->rg, conf_server, &cc);
    m->configuration = json_pack("{s:o, s:I}", "Servers", cc.arr, "Index",
                                 (json_int_t)m->configuration_index);
}

/* ---- save: the child ---- */

struct child {
    int fd;
    struct snap_meta *meta;
    struct snap_writer *w;
};

static int child_size(void *ctx, uint64_t size)
{
    struct child *ch = ctx;
    char err[ERR_LEN];

    ch->meta->size = size;
    return snap_writer_new(ch->meta, util_fd_out, &ch->fd, &ch->w, err);
}

static int child_state(void *ctx, const void *p, size_t n)
{
    struct child *ch = ctx;
    char err[ERR_LEN];

    return snap_writer_state(ch->w, p, n, err);
}

/* In the forked child: write the archive to fd and leave. */
static void child_main(struct agent *a, struct snap_meta *meta, int fd)
{
    struct child ch = {fd, meta, NULL};
    char err[ERR_LEN];
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = fsm_snapshot_stream(&a->fsm, child_size, child_state, &ch, err);
    if (rc == 0)
        rc = snap_writer_finish(ch.w, err);
    else
        snap_writer_free(ch.w);
    _exit(rc == 0 ? 0 : 1);
}

/* ---- save: relaying the pipe ---- */

struct save {
    h2o_generator_t gen;     /* first: h2o hands it back */
    uv_pipe_t pipe;
    h2o_req_t *req;          /* NULL once stopped or finished */
    pid_t pid;
    bool eof, sending, closed;
    char buf[SAVE_BUF];
};

static void save_reap(struct save *s, bool kill_it)
{
    int st = 0;

    if (s->pid <= 0)
        return;
    if (kill_it)
        kill(s->pid, SIGKILL);
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!kill_it && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        LOG_ERROR("snapshot", "snapshot writer failed (status %d)", st);
    s->pid = -(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 1 : 2);
}

static void save_closed(uv_handle_t *h)
{
    free(h->data);
}

static void save_close(struct save *s)
{
    if (s->closed)
        return;
    s->closed = true;
    uv_close((uv_handle_t *)&s->pipe, save_closed);
}

static void save_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct save *s = h->data;

    (void)hint;
    *b = uv_buf_init(s->buf, sizeof(s->buf));
}

static void save_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct save *s = st->data;
    h2o_iovec_t iov;
    h2o_req_t *req = s->req;

    if (n == 0)
        return;
    uv_read_stop(st);
    if (n > 0 && req != NULL) {
        s->sending = true;
        iov = h2o_iovec_init(b->base, (size_t)n);
        h2o_send(req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
        return;
    }
    s->eof = true;
    save_reap(s, false);
    s->req = NULL;
    if (req != NULL)
        h2o_send(req, NULL, 0, s->pid == -1 ? H2O_SEND_STATE_FINAL
                                            : H2O_SEND_STATE_ERROR);
    save_close(s);
}

static void save_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct save *s = (struct save *)g;

    (void)req;
    s->sending = false;
    if (!s->eof && !s->closed)
        uv_read_start((uv_stream_t *)&s->pipe, save_alloc, save_read);
}

static void save_stop(h2o_generator_t *g, h2o_req_t *req)
{
    struct save *s = (struct save *)g;

    (void)req;
    s->req = NULL;
    if (!s->eof) {
        save_reap(s, true);
        save_close(s);
    }
}

static int start_child(struct httpd_ctx *c, struct snap_meta *m, int *rfd,
                       pid_t *pid)
{
    int fds[2];

    if (pipe(fds) != 0)
        return -1;
    *pid = fork();
    if (*pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (*pid == 0) {
        close(fds[0]);
        child_main(c->a, m, fds[1]);
    }
    close(fds[1]);
    *rfd = fds[0];
    return 0;
}

static void save(struct httpd_ctx *c)
{
    struct snap_meta m;
    struct save *s;
    int rfd = -1;
    char idx[32];

    fill_meta(c->a, &m);
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        start_child(c, &m, &rfd, &s->pid) != 0) {
        free(s);
        snap_meta_release(&m);
        httpd_error(c, 500, "internal", "cannot start the snapshot writer");
        return;
    }
    snap_meta_release(&m);
    uv_pipe_init(c->a->loop, &s->pipe, 0);
    s->pipe.data = s;
    uv_pipe_open(&s->pipe, rfd);
    s->gen.proceed = save_proceed;
    s->gen.stop = save_stop;
    s->req = c->req;
    snprintf(idx, sizeof(idx), "%" PRIu64, c->a->fsm.last_index);
    httpd_meta_headers(c, c->a->fsm.last_index);
    httpd_header(c, "Content-Type", "application/x-gzip");
    httpd_header(c, "X-Consul-Default-ACL-Policy",
                 agent_acl_default_allow(c->a) ? "allow" : "deny");
    c->req->res.status = 200;
    c->req->res.reason = "OK";
    h2o_start_response(c->req, &s->gen);
    uv_read_start((uv_stream_t *)&s->pipe, save_alloc, save_read);
    LOG_INFO("snapshot", "saving a snapshot at index %s", idx);
}

/* ---- restore ---- */

struct restore_job {
    struct agent *a;
    struct httpd_pending *p;
    char id[FSM_RESTORE_ID_MAX + 1];
    char sha[65];
    int fd;              /* state.bin, unlinked */
    uint64_t len, off;
    bool committing;
    uint64_t index;
    EVP_MD_CTX *md;
    /* The archive is read and checked in a libuv worker thread (a big
     * one takes seconds, which would cost the leader its heartbeats):
     * from a copy of the body, as the request may go away meanwhile. */
    uv_work_t work;
    int body_fd;
    size_t body_len;
    int read_rc;
    char read_err[ERR_LEN];
    char piece[FSM_RESTORE_CHUNK];
};

static int collect(void *ctx, const void *p, size_t n)
{
    struct restore_job *j = ctx;
    if (EVP_DigestUpdate(j->md, p, n) != 1)
        return -1;
    j->len += n;
    return util_write_all(j->fd, p, n) == 0 ? 0 : ERR_IO;
}

static void job_free(struct restore_job *j)
{
    EVP_MD_CTX_free(j->md);
    if (j->fd >= 0)
        close(j->fd);
    if (j->body_fd >= 0)
        close(j->body_fd);
    free(j);
}

/* The next n bytes of state.bin into j->piece. */
static int read_piece(struct restore_job *j, size_t n, char *err)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = pread(j->fd, j->piece + got, n - got,
                          (off_t)(j->off + got));

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return err_set(err, ERR_IO, "reading the staged state: %s",
                           k < 0 ? strerror(errno) : "short file");
        got += (size_t)k;
    }
    return 0;
}

/* Answer the request (if it is still there) and end the job. */
static void job_end_code(struct restore_job *j, int status,
                         const char *code, const char *msg)
{
    struct httpd_ctx *c = httpd_async_end(j->p);

    if (status != 200)
        LOG_ERROR("snapshot", "restore failed: %s", msg);
    else
        LOG_INFO("snapshot", "restored a snapshot (%" PRIu64 " bytes of "
                 "state)", j->len);
    if (c != NULL) {
        if (status == 200)
            httpd_send_body(c, 200, NULL, "", 0);
        else
            httpd_error(c, status, code, msg);
    }
    job_free(j);
}

static void job_end(struct restore_job *j, int status, const char *msg)
{
    job_end_code(j, status, "restore_failed", msg);
}

static void job_step(struct restore_job *j);

static void abort_done(void *ctx, int rc, const struct fsm_result *res)
{
    (void)ctx;
    (void)rc;
    (void)res;
}

/* Drop what the servers staged (best effort). */
static void job_abort(struct restore_job *j)
{
    char err[ERR_LEN];
    void *buf;
    size_t len;

    if (fsm_encode_restore("abort", j->id, 0, NULL, NULL, 0, raft_malloc,
                           &buf, &len, err) == 0 &&
        agent_apply(j->a, buf, len, abort_done, NULL, err) != 0)
        raft_free(buf);
}

static void barrier_done(void *ctx, int rc)
{
    struct restore_job *j = ctx;

    /* The commit was applied here, so it is committed: the restore
     * stands even if leadership moved (every server swapping a large
     * state at once can cost an election). */
    if (rc != 0)
        LOG_WARN("snapshot", "restore committed; the barrier after it "
                 "failed: %s", err_str(rc));
    job_end(j, 200, NULL);
}

static void step_done(void *ctx, int rc, const struct fsm_result *res)
{
    struct restore_job *j = ctx;
    char err[ERR_LEN];

    if (rc != 0 || res->rc != 0) {
        snprintf(err, sizeof(err), "%s", rc != 0 ? err_str(rc) : res->msg);
        if (!j->committing)
            job_abort(j);
        job_end(j, rc == ERR_NOLEADER || rc == ERR_LOSTLEADER ? 500
                   : res != NULL && res->rc == ERR_NOMEM ? 500 : 400, err);
        return;
    }
    if (j->committing) {
        if (agent_barrier(j->a, barrier_done, j, err) != 0)
            job_end(j, 500, err);
        return;
    }
    job_step(j);
}

/* The next command: a chunk, or the commit after the last one. */
static void job_step(struct restore_job *j)
{
    uint64_t left = j->len - j->off;
    size_t n = left > FSM_RESTORE_CHUNK ? FSM_RESTORE_CHUNK : (size_t)left;
    char err[ERR_LEN];
    void *buf;
    size_t blen;
    int rc;

    if (n == 0) {
        j->committing = true;
        rc = fsm_encode_restore("commit", j->id, 0, NULL, NULL, 0,
                                raft_malloc, &buf, &blen, err);
    } else if ((rc = read_piece(j, n, err)) == 0) {
        rc = fsm_encode_restore("chunk", j->id, j->off, NULL, j->piece, n,
                                raft_malloc, &buf, &blen, err);
        j->off += n;
    }
    if (rc == 0 && (rc = agent_apply(j->a, buf, blen, step_done, j, err))
                       != 0)
        raft_free(buf);
    if (rc != 0) {
        job_abort(j);
        job_end(j, 500, err);
    }
}

/* A job for c's body, copied to an unlinked file of the data dir (the
 * body may itself be a mapping of H2O's, gone with the request). */
static struct restore_job *job_new(struct httpd_ctx *c, char *err)
{
    struct restore_job *j = calloc(1, sizeof(*j));
    int e;

    if (j == NULL) {
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    j->fd = -1;
    j->body_fd = -1;
    if ((j->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(j->md, EVP_sha256(), NULL) != 1) {
        job_free(j);
        err_set(err, ERR_NOMEM, "out of memory");
        return NULL;
    }
    j->a = c->a;
    j->body_len = c->req->entity.len;
    if ((j->fd = util_tmpfile(c->a->data_dir, err)) < 0 ||
        (j->body_fd = util_tmpfile(c->a->data_dir, err)) < 0) {
        job_free(j);
        return NULL;
    }
    if ((e = util_write_all(j->body_fd, c->req->entity.base,
                            j->body_len)) != 0) {
        err_set(err, ERR_IO, "copying the snapshot to '%s': %s",
                c->a->data_dir, strerror(e));
        job_free(j);
        return NULL;
    }
    return j;
}

/* Worker thread: verify the archive, keep state.bin in j->fd. Touches
 * nothing but the job. */
static void read_work(uv_work_t *w)
{
    struct restore_job *j = w->data;
    struct snap_meta m;
    const void *p;
    unsigned char md[32];
    unsigned int mdlen = 0;

    j->read_rc = util_map(j->body_fd, j->body_len, &p, j->read_err);
    if (j->read_rc != 0)
        return;
    j->read_rc = snap_read_mem(p, j->body_len, collect, j, &m, j->read_err);
    util_unmap(p, j->body_len);
    if (j->read_rc != 0)
        return;
    j->index = m.index;
    snap_meta_release(&m);
    if (EVP_DigestFinal_ex(j->md, md, &mdlen) != 1 || mdlen != 32) {
        j->read_rc = err_set(j->read_err, ERR_NOMEM, "hashing the state");
        return;
    }
    for (int i = 0; i < 32; i++)
        snprintf(j->sha + 2 * i, 3, "%02x", md[i]);
}

/* Back on the loop: stage the verified state on every server. */
static void read_done(uv_work_t *w, int status)
{
    struct restore_job *j = w->data;
    struct agent *a = j->a;
    char err[ERR_LEN];
    void *buf;
    size_t len;

    close(j->body_fd);
    j->body_fd = -1;
    if (status != 0 || a->stopping) {
        job_end(j, 500, status != 0 ? uv_strerror(status)
                                    : "the agent is shutting down");
        return;
    }
    if (j->read_rc != 0) {
        job_end_code(j, j->read_rc == ERR_IO || j->read_rc == ERR_NOMEM
                            ? 500 : 400, "bad_snapshot", j->read_err);
        return;
    }
    snprintf(j->id, sizeof(j->id), "%" PRId64 "-%" PRIu64,
             util_now_ns() / 1000000, a->fsm.last_index);
    if (fsm_encode_restore("begin", j->id, j->len, j->sha, NULL, 0,
                           raft_malloc, &buf, &len, err) != 0) {
        job_end(j, 500, err);
        return;
    }
    if (agent_apply(a, buf, len, step_done, j, err) != 0) {
        raft_free(buf);
        job_end(j, 500, err);
        return;
    }
    LOG_INFO("snapshot", "restoring a snapshot of index %" PRIu64
             " (%" PRIu64 " bytes of state)", j->index, j->len);
}

static void restore(struct httpd_ctx *c)
{
    struct restore_job *j;
    char err[ERR_LEN];
    int rc;

    if (httpd_qhas(c, "stale")) {
        httpd_error(c, 400, "bad_request",
                    "stale reads are not allowed for a restore");
        return;
    }
    if (c->req->entity.base == NULL || c->req->entity.len == 0) {
        httpd_error(c, 400, "bad_request", "missing snapshot body");
        return;
    }
    if ((j = job_new(c, err)) == NULL) {
        httpd_error(c, 500, "internal", err);
        return;
    }
    if ((j->p = httpd_async_begin(c)) == NULL) {
        job_free(j);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    j->work.data = j;
    if ((rc = uv_queue_work(c->a->loop, &j->work, read_work, read_done))
        != 0)
        job_end(j, 500, uv_strerror(rc));
}

void httpd_snapshot(struct httpd_ctx *c)
{
    if (!c->a->has_raft) {
        httpd_error(c, 500, "no_servers", "No known Consul servers");
        return;
    }
    if (c->method == HTTPD_PUT) {
        restore(c);
        return;
    }
    if (httpd_read_opts(c) != 0)
        return;
    if (c->stale || agent_is_leader(c->a))
        save(c);
    else /* a follower streams its own state, as new as the leader's */
        httpd_read_index(c, save);
}

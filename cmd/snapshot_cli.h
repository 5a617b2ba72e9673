/* snapshot_cli.h - what cmd/snapshot.c (dispatch, restore, inspect) and
 * cmd/snapshot_save.c (save, -dir rotation) share.
 *
 * Tests: t/t5001-snapshot-cli.sh
 */
#ifndef PROCONSUL_SNAPSHOT_CLI_H
#define PROCONSUL_SNAPSHOT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "httpc.h"
#include "opt.h"

/* Room in an opt table for a verb's own flags plus the HTTP ones. */
#define SNAPC_MAX_OPTS (HTTPC_N_FLAGS + 4)

/* A whole error line: context plus an ERR_LEN message. */
#define SNAPC_MSG_LEN (2 * ERR_LEN)

struct snapc_help {
    const char *synopsis;
    const char *text;
};

/* -h, flag parse. Returns -1 to go on (*rest set), else the exit code:
 * 0 after help, 2 on a bad flag. */
int snapc_parse(const struct snapc_help *h, const struct opt *opts, int n,
                int argc, char **argv, int *rest);

/* Exactly one FILE argument at argv[rest]; else the message and 2. */
int snapc_one_file(int argc, int rest);

/* A transfer's progress on stderr when it is a terminal: one line,
 * rewritten with '\r', "<what>: 12.5MB (3.1MB/s)". */
struct snapc_progress {
    bool on;
    bool shown;
    const char *what;
    int64_t start_ms, last_ms;
};
void snapc_progress_init(struct snapc_progress *p, const char *what);
/* An httpc_progress_fn. */
int snapc_progress_cb(void *ctx, unsigned long long bytes);
/* Erase the progress line, if one was drawn. */
void snapc_progress_done(struct snapc_progress *p);

/* Consul's inspect ByteSize: "0", "512B", "1.5KB", "12MB". */
void snapc_bytesize(unsigned long long n, char *out, size_t len);

/* Print "msg\n" on stderr as one line: control characters (a response
 * body's newlines) become spaces. */
void snapc_error_line(const char *msg);

int snapshot_save(int argc, char **argv);

#endif

/* kv_cli.h - what cmd/kv.c (get, put, delete, dispatch) and
 * cmd/kv_port.c (export, import) share.
 *
 * Tests: t/t1001-kv-cli.sh, t/t8101-txn.sh
 */
#ifndef PROCONSUL_KV_CLI_H
#define PROCONSUL_KV_CLI_H

#include <jansson.h>
#include <stddef.h>

#include "httpc.h"

/* A byte string that may hold NULs. */
struct kvc_bytes {
    unsigned char *p;
    size_t len;
};

/* Go's base64.StdEncoding: decode n bytes of s into out->p (heap, the
 * caller frees it); *bad is -1, or the input byte Go reports as illegal
 * (out holds what decoded before it). ERR_NOMEM only. */
int kvc_b64_decode(const char *s, size_t n, struct kvc_bytes *out,
                   long *bad);
/* Encode; heap result, NULL on no memory. */
char *kvc_b64_encode(const unsigned char *p, size_t n);
/* A KV list response body as a JSON array (Flags past INT64_MAX become
 * strings of digits); NULL with err set. */
json_t *kvc_parse_list(const struct httpc_resp *r, char *err);
/* Consul's helpers.LoadDataSource: "@path" a file, "-" stdin, anything
 * else the text itself; out->p is heap. */
int kvc_load_data(const char *arg, struct kvc_bytes *out, char *err);

struct opt;
/* -h anywhere, or parse. Returns -1 to go on (*rest set), else the exit
 * code. A parse error prints what Go's flag package prints. */
int kvc_parse(const char *synopsis, const char *text, const struct opt *opts,
              int n, int argc, char **argv, int *rest);
/* httpc_init, or Consul's "Error connecting to Consul agent" and 1. */
int kvc_connect(struct httpc *c, const struct httpc_flags *hf);

/* The verbs of kv_port.c. */
int kvc_export(int argc, char **argv);
int kvc_import(int argc, char **argv);

#endif

/* acl_cli.h - what cmd/acl*.c share: flag plumbing, requests, ID
 * lookups and the pieces of Consul's ACL output formats.
 *
 * Included only by cmd/acl.c, cmd/acl_token.c, cmd/acl_policy.c and
 * cmd/acl_role.c (named so as not to shadow libcore/acl.h). The helpers
 * are defined in cmd/acl.c.
 */
#ifndef PROCONSUL_ACL_CLI_H
#define PROCONSUL_ACL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "err.h"
#include "httpc.h"
#include "opt.h"

#define ACLC_MAX_OPTS 40
#define ACLC_ID_LEN 128

/* One verb's run: its flags, the HTTP client and the output options. */
struct aclc_cmd {
    struct opt opts[ACLC_MAX_OPTS + HTTPC_N_FLAGS];
    int n;
    struct httpc_flags hf;
    struct httpc c;
    bool connected;
    const char *format; /* NULL when the verb has no -format */
    bool meta;
};

struct aclc_help {
    const char *synopsis;
    const char *text;
};

/* Start a verb: no flags yet. */
void aclc_init(struct aclc_cmd *k);
/* Append one flag (help may be NULL: hidden). */
void aclc_opt(struct aclc_cmd *k, const char *name, enum opt_type type,
              void *dst, const char *help);
/* Append -format (default "pretty") and, if with_meta, -meta. */
void aclc_format_opts(struct aclc_cmd *k, bool with_meta);
/* Add the HTTP flags and parse. Returns -1 to go on (*rest set), else
 * the exit code: 0 after -h (usage on stdout), 1 on a bad flag (Go's
 * message, "Usage:" and the flag list on stderr) or an unknown -format. */
int aclc_parse(struct aclc_cmd *k, const struct aclc_help *h, int argc,
               char **argv, int *rest);
/* Print the verb's usage to stderr (after "Missing require ..."). */
void aclc_usage_err(const struct aclc_cmd *k, const struct aclc_help *h);
/* Connect; 0, or 1 after printing "<what>: <error>" (what may be NULL
 * for Consul's "Error connecting to Consul agent"). */
int aclc_connect(struct aclc_cmd *k, const char *what);
/* Release flags and the client. */
void aclc_release(struct aclc_cmd *k);
bool aclc_json(const struct aclc_cmd *k);

/* One request: path already escaped, body may be NULL. On status 200
 * returns 0 and, if out is set, the decoded body; otherwise -1 with err
 * set (transport error or "Unexpected response code: N (body)") and
 * *status the HTTP status (0 for a transport error; status may be
 * NULL). */
int aclc_call(struct aclc_cmd *k, const char *method, const char *path,
              const json_t *body, json_t **out, long *status, char *err);
/* "<prefix><escaped id><suffix>" into out (n bytes). */
void aclc_path(char *out, size_t n, const char *prefix, const char *id,
               const char *suffix);

enum aclc_kind { ACLC_TOKEN, ACLC_POLICY, ACLC_ROLE };
/* Consul's Get*IDFromPartial: a full ID (36 chars) as is, else the one
 * list entry whose ID starts with partial. id has ACLC_ID_LEN bytes. */
int aclc_resolve(struct aclc_cmd *k, enum aclc_kind kind,
                 const char *partial, char *id, char *err);
/* GET /v1/acl/<kind>/name/<name>: 0 with *out (NULL when not found),
 * or -1 with err. */
int aclc_by_name(struct aclc_cmd *k, enum aclc_kind kind, const char *name,
                 json_t **out, char *err);
/* The ID named by -id (a prefix) or else -name, into out (ACLC_ID_LEN
 * bytes); 1 after Consul's "Error determining <kind> ID: ..." message. */
int aclc_pick_id(struct aclc_cmd *k, enum aclc_kind kind, const char *id,
                 const char *name, char *out);

/* -service-identity "name[:dc1,dc2]" and -node-identity "name:dc" lists
 * as Consul's JSON arrays; NULL with err on a malformed one. */
json_t *aclc_service_idents(const struct opt_list *l, char *err);
json_t *aclc_node_idents(const struct opt_list *l, char *err);
/* Merge identities (parsed; takes it) into o's list as Consul's update
 * does: a service identity replaces the one of the same name, a node
 * identity is added unless the same name and datacenter is there. */
void aclc_merge_idents(json_t *o, json_t *parsed, bool node);
/* Policy/role links from -x-name and -x-id flags (IDs resolved as
 * prefixes of kind's IDs), appended to arr; skip_dups leaves out links
 * already present (merge). Prints Consul's error and returns 1. */
int aclc_add_links(struct aclc_cmd *k, json_t *arr, enum aclc_kind kind,
                   const struct opt_list *names, const struct opt_list *ids,
                   bool skip_dups);

/* Consul's helpers.LoadDataSource: "" -> "", "@file", "-" (stdin), else
 * raw (raw_ok) or a file path. *out is heap. */
int aclc_load_data(const char *data, bool raw_ok, char **out, char *err);

/* Go's %q of s into out (n bytes). */
void aclc_quote(const char *s, char *out, size_t n);
const char *aclc_str(const json_t *o, const char *key);
/* A JSON time (RFC 3339) as Go's time.Time %v prints it. */
void aclc_time(const char *rfc3339, char *out, size_t n);

/* Output pieces, each line prefixed by ind. */
void aclc_print_json(const json_t *v);
void aclc_print_meta(const json_t *o, const char *ind, int width);
void aclc_print_links(const json_t *o, const char *key, const char *title,
                      const char *ind);
void aclc_print_svc_idents(const json_t *o, const char *ind);
void aclc_print_node_idents(const json_t *o, const char *ind);
/* A token as -format asks (acl_token.c): JSON, or Consul's pretty
 * layout followed by the blank line Consul's UI adds. */
void aclc_print_token(const struct aclc_cmd *k, const json_t *t);

/* Nested verbs, as mitchellh/cli: "-h" prints the group help on stdout
 * (exit 0); a missing or unknown verb prints it on stderr (exit 1). */
struct aclc_verb {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
};
struct aclc_group {
    const char *usage, *text;
    const struct aclc_verb *verbs;
    int n;
};
int aclc_run_group(const struct aclc_group *g, int argc, char **argv);

/* The verb groups of acl_token.c, acl_policy.c and acl_role.c. */
int aclc_token(int argc, char **argv);
int aclc_policy(int argc, char **argv);
int aclc_role(int argc, char **argv);

#endif

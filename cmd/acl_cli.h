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

struct aclc_flow;

/* One verb's run: its flags, the HTTP client and the output options. */
struct aclc_cmd {
    struct opt opts[ACLC_MAX_OPTS + HTTPC_N_FLAGS];
    int n;
    struct httpc_flags hf;
    struct httpc c;
    bool connected;
    const char *format; /* NULL when the verb has no -format */
    bool meta;
    int nargs; /* the arguments after the flags */
    char **args;
    const struct aclc_flow *flow;
};

struct aclc_help {
    const char *synopsis;
    const char *text;
};

enum aclc_kind { ACLC_TOKEN, ACLC_POLICY, ACLC_ROLE };
enum aclc_fmt { ACLC_NO_FORMAT, ACLC_FORMAT, ACLC_FORMAT_META };

/* Prints a token, policy or role (or a list entry) as k's -format asks. */
typedef void (*aclc_print_fn)(const struct aclc_cmd *k, const json_t *v);
/* Adds a verb's flags, pointing into flags (its zeroed flags struct). */
typedef void (*aclc_setup_fn)(struct aclc_cmd *k, void *flags);
/* Runs a verb after a good parse; returns the exit code. */
typedef int (*aclc_run_fn)(struct aclc_cmd *k, void *flags);

/* One verb: its help, its flags (setup may be NULL; -format, and -meta,
 * are added as fmt says) and its run. kind, print and spaced are for
 * aclc_list only. */
struct aclc_flow {
    struct aclc_help help;
    aclc_setup_fn setup;
    aclc_run_fn run;
    size_t flags_size;
    enum aclc_fmt fmt;
    enum aclc_kind kind;
    aclc_print_fn print; /* one list entry, pretty */
    bool spaced;         /* a blank line between list entries */
};

/* Run a verb: its flags, the HTTP flags, parse, run. Exit codes: run's;
 * 0 after -h (usage on stdout); 1 on a bad flag (Go's message, "Usage:"
 * and the flag list on stderr) or an unknown -format. */
int aclc_run_flow(const struct aclc_flow *fl, int argc, char **argv);
/* The run of a list verb: GET the kind's list and print it (JSON, or
 * each entry with fl->print and then a blank line); 1 after Consul's
 * "Failed to retrieve the <kind> list: ..." message. */
int aclc_list(struct aclc_cmd *k, void *flags);

/* Append one flag (help may be NULL: hidden). */
void aclc_opt(struct aclc_cmd *k, const char *name, enum opt_type type,
              void *dst, const char *help);
/* A create verb's required -name; 1 after Consul's "Missing require"
 * message and the verb's usage on stderr. */
int aclc_need_name(const struct aclc_cmd *k, const char *name);
bool aclc_given(const char *s);
/* Connect (once); 0, or 1 after printing "<what>: <error>" (what may be
 * NULL for Consul's "Error connecting to Consul agent"). */
int aclc_connect(struct aclc_cmd *k, const char *what);
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
/* Send body (may be NULL; taken) and print the answer with print; 1
 * after "<context>: <error>", the context formatted from fmt. */
int aclc_send(struct aclc_cmd *k, const char *method, const char *path,
              json_t *body, aclc_print_fn print, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* DELETE /v1/acl/<kind>/<id>; prints Consul's "<Kind> "id" deleted
 * successfully", or 1 after its "Error deleting <kind> ..." message. */
int aclc_delete(struct aclc_cmd *k, enum aclc_kind kind, const char *id);
/* GET /v1/acl/<kind>/<key> (by_name: .../name/<key>); NULL after
 * Consul's "Error reading <kind> ..." or "<Kind> not found with ..."
 * (a 404 is "not found" for roles only, as Consul's API client). */
json_t *aclc_get(struct aclc_cmd *k, enum aclc_kind kind, const char *key,
                 bool by_name);
/* Consul's Get*IDFromPartial: a full ID (36 chars) as is, else the one
 * list entry whose ID starts with partial. id has ACLC_ID_LEN bytes. */
int aclc_resolve(struct aclc_cmd *k, enum aclc_kind kind,
                 const char *partial, char *id, char *err);
/* Connect and find the ID named by -id (a prefix) or else -name, into
 * out (ACLC_ID_LEN bytes); 1 after printing missing (neither given), a
 * connection error or Consul's "Error determining <kind> ID: ...". */
int aclc_find(struct aclc_cmd *k, enum aclc_kind kind, const char *id,
              const char *name, const char *missing, char *out);

/* The flags a token and a role share: -description, -policy-id,
 * -policy-name, -service-identity and -node-identity. */
struct aclc_grants {
    const char *description;
    struct opt_list pol_ids, pol_names, svc, node;
};
/* Append them, their help naming noun ("token", "role"). */
void aclc_grant_opts(struct aclc_cmd *k, struct aclc_grants *g,
                     const char *noun);

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
 * (exit 0); a missing or unknown verb prints it on stderr (exit 1). A
 * verb is a flow, or else a nested group's run. */
struct aclc_verb {
    const char *name;
    const char *synopsis;
    const struct aclc_flow *flow;
    int (*group)(int argc, char **argv);
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

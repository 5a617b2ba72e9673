/* httpd_acl_int.h - what httpd_acl_api.c (bootstrap, tokens) and
 * httpd_acl_obj.c (policies, roles) share: body decoding, link and
 * identity resolution, hashes, the Raft write and its error mapping.
 *
 * Layer: http. Thread: loop only.
 */
#ifndef PROCONSUL_HTTPD_ACL_INT_H
#define PROCONSUL_HTTPD_ACL_INT_H

#include "httpd_int.h"

/* Consul's redaction of a SecretID for callers without acl:write. */
#define HTTPD_ACL_HIDDEN "<hidden>"

/* The fields of a request body, as Go's encoding/json would decode them
 * into Consul's struct: names match case-insensitively, null leaves a
 * field unset, unknown fields are ignored, a wrong type is an error. */
enum httpd_acl_fkind {
    HTTPD_ACL_F_STR,
    HTTPD_ACL_F_BOOL,
    HTTPD_ACL_F_UINT,
    HTTPD_ACL_F_STRS,   /* array of strings */
    HTTPD_ACL_F_OBJS,   /* array of objects described by sub */
    HTTPD_ACL_F_DUR,    /* Go duration string, or a number of ns */
};

struct httpd_acl_field {
    const char *name;   /* NULL ends a table */
    enum httpd_acl_fkind kind;
    const struct httpd_acl_field *sub;
    const char *gotype; /* for the error message */
};

extern const struct httpd_acl_field httpd_acl_link_fields[];
extern const struct httpd_acl_field httpd_acl_svcid_fields[];
extern const struct httpd_acl_field httpd_acl_nodeid_fields[];
/* The bodies of PUT /v1/acl/token, /v1/acl/policy, /v1/acl/role. */
extern const struct httpd_acl_field httpd_acl_token_fields[];
extern const struct httpd_acl_field httpd_acl_policy_fields[];
extern const struct httpd_acl_field httpd_acl_role_fields[];

/* The replicated ACL state. */
struct acl_store *httpd_acl_store(struct httpd_ctx *c);
/* ACLs disabled: answers 401 "ACL support disabled" and returns true. */
bool httpd_acl_off(struct httpd_ctx *c);

/* The body, normalized to the canonical field names of `fields` (new
 * object; an empty body or null is {}). On bad JSON or a wrong type
 * answers 400 "<what> decoding failed: ..." and returns NULL. gostruct
 * names the Go struct in type errors ("ACLToken"). */
json_t *httpd_acl_decode(struct httpd_ctx *c, const char *what,
                         const struct httpd_acl_field *fields,
                         const char *gostruct);
/* The same without a request (fuzz_http_req): n bytes at b (NULL: none)
 * into a new object in *out; ERR_INVAL with the details (without the
 * "<what> decoding failed: " prefix) in err. */
int httpd_acl_body(const char *b, size_t n,
                   const struct httpd_acl_field *fields,
                   const char *gostruct, json_t **out, char *err);
/* String field of a normalized body, "" when absent. */
const char *httpd_acl_str(const json_t *o, const char *name);

/* Resolve Policies (roles false) or Roles links of a body (may be
 * NULL) to a new array of {"ID","Name"} deduplicated by ID; ERR_NOTFOUND
 * with Consul's "No such ACL policy with name \"x\"". */
int httpd_acl_links(struct acl_store *s, const json_t *in, bool roles,
                    json_t **out, char *err);
/* Check and deduplicate ServiceIdentities and NodeIdentities of a body
 * into dst (always set, possibly []). what is "token" or "role". */
int httpd_acl_identities(const json_t *body, json_t *dst, const char *what,
                         bool local, char *err);

/* A request the ACL endpoint refuses (Consul's RPC errors): 403
 * "Permission denied: <msg>" for ERR_DENIED, 500 with the message for
 * ERR_INVAL / ERR_EXISTS / ERR_NOTFOUND / ERR_CONFLICT (Consul's ACL
 * RPCs return plain errors, which its HTTP layer answers with 500; only
 * body decoding and URL/body mismatches are 400), else
 * httpd_error_rc. */
void httpd_acl_refused(struct httpd_ctx *c, int rc, const char *msg);
/* Check (acl_store_check), encode (fsm_encode_acl) and replicate one
 * ACL op; done runs after the apply. Answers itself on failure. */
void httpd_acl_write(struct httpd_ctx *c, const char *op,
                     json_t *req /* takes */, httpd_apply_fn done);
/* In an apply callback: true if the op applied; else answered. */
bool httpd_acl_applied(struct httpd_ctx *c, int rc,
                       const struct fsm_result *res, const char *msg);
/* Pool copy of s, remembered in c->data for the apply callback. */
void httpd_acl_keep_id(struct httpd_ctx *c, const char *s);

#endif

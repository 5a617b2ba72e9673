/* fuzz_http_req.c - libFuzzer target: the parts of HTTP request handling
 * that need no socket. The first input byte picks what the rest is:
 *
 *   0  a request target "PATH[?QUERY]": the path unescaped and looked up
 *      in the route table (httpd_unescape, httpd_route_find), the query
 *      split (httpd_parse_query), ?filter= parsed (jfilter_parse) and
 *      ?index= read (httpd_parse_u64)
 *   1  PUT /v1/catalog/register body   } JSON decode, the request check
 *   2  PUT /v1/catalog/deregister body } (fsm_encode_catalog), applied
 *                                        to a fresh state machine
 *   3  PUT /v1/agent/service/register body (local_canon_service,
 *      local_def_service with its checks validated)
 *   4  PUT /v1/acl/token body  } httpd_acl_body, the identities check,
 *   5  PUT /v1/acl/policy body } then as "Token"/"Policy"/"Role" of an
 *   6  PUT /v1/acl/role body   } fsm_encode_acl request, applied
 *   7  PUT /v1/kv/KEY: "KEY\0VALUE" (fsm_encode_kv, applied); the
 *      second byte picks the verb
 *
 * `make fuzz` builds and runs it (-max_len=8192); seeds in
 * t/fuzz/http_req/ (a first byte of '0'..'7' works too).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_local_int.h"
#include "checks.h"
#include "fsm.h"
#include "httpd_acl_int.h"
#include "httpd_int.h"
#include "json_filter.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void target(const char *s, size_t n)
{
    h2o_mem_pool_t pool;
    struct httpd_query q;
    const char *qm = memchr(s, '?', n);
    size_t plen = qm != NULL ? (size_t)(qm - s) : n, dlen;
    char *path, err[ERR_LEN];
    unsigned methods;
    uint64_t u;

    h2o_mem_init_pool(&pool);
    path = httpd_unescape(&pool, s, plen, false, &dlen);
    if (path != NULL && strlen(path) == dlen)
        (void)httpd_route_find(path, dlen, &methods);
    memset(&q, 0, sizeof(q));
    if (qm != NULL &&
        httpd_parse_query(&pool, &q, qm + 1, n - plen - 1) == 0) {
        for (int i = 0; i < q.n; i++) {
            if (strcmp(q.name[i], "filter") == 0)
                jfilter_free(jfilter_parse(q.val[i], err));
            else if (strcmp(q.name[i], "index") == 0)
                (void)httpd_parse_u64(q.val[i], &u);
        }
    }
    h2o_mem_clear_pool(&pool);
}

static void apply(void *buf, size_t len)
{
    struct fsm f;
    struct fsm_result res;
    char err[ERR_LEN];

    if (fsm_init(&f, err) == 0) {
        (void)fsm_apply(&f, 1, buf, len, &res, err);
        fsm_release(&f);
    }
    free(buf);
}

/* A JSON object body as httpd_catalog.c decodes it; NULL otherwise. */
static json_t *body(const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK,
                           NULL);

    if (j != NULL && json_is_null(j)) {
        json_decref(j);
        return json_object();
    }
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static void catalog(const char *op, const char *s, size_t n)
{
    json_t *req = body(s, n);
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len;

    if (req != NULL &&
        fsm_encode_catalog(op, req, malloc, &buf, &len, err) == 0)
        apply(buf, len);
    json_decref(req);
}

static void agent_service(const char *s, size_t n)
{
    static struct agent a;
    static struct agent_local l;
    static uv_loop_t loop;
    json_t *def = json_loadb(s, n, JSON_DECODE_ANY, NULL), *c;
    json_t *svc = NULL, *checks = NULL;
    char err[ERR_LEN];

    if (l.a == NULL) {
        struct checks_opts o = {false, false};

        uv_loop_init(&loop);
        a.cfg.node_name = "fz";
        l.a = &a;
        if ((l.checks = checks_new(&loop, &o, NULL, NULL, err)) == NULL)
            abort();
    }
    if (def != NULL && (c = local_canon_service(def, err)) != NULL) {
        if (local_def_service(&l, c, false, &svc, &checks, err) == 0) {
            json_decref(svc);
            json_decref(checks);
        }
        json_decref(c);
    }
    json_decref(def);
}

static void acl(int kind, const char *s, size_t n)
{
    static const struct {
        const struct httpd_acl_field *fields;
        const char *gostruct, *member, *op, *ident;
    } k[] = {
        {httpd_acl_token_fields, "ACLToken", "Token", "token-set",
         "token"},
        {httpd_acl_policy_fields, "ACLPolicy", "Policy", "policy-set",
         NULL},
        {httpd_acl_role_fields, "ACLRole", "Role", "role-set", "role"},
    };
    json_t *o, *ids, *req;
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len;

    if (httpd_acl_body(s, n, k[kind].fields, k[kind].gostruct, &o, err) !=
        0)
        return;
    if (k[kind].ident != NULL) {
        if ((ids = json_object()) == NULL ||
            httpd_acl_identities(o, ids, k[kind].ident, false, err) != 0) {
            json_decref(ids);
            json_decref(o);
            return;
        }
        json_object_update(o, ids);
        json_decref(ids);
    }
    req = json_pack("{so}", k[kind].member, o);
    if (req != NULL &&
        fsm_encode_acl(k[kind].op, req, malloc, &buf, &len, err) == 0)
        apply(buf, len);
    json_decref(req);
}

static void kv(const char *s, size_t n)
{
    const char *nul;
    struct fsm_kv_op op;
    char *key;
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len;

    if (n < 1 || (nul = memchr(s + 1, '\0', n - 1)) == NULL)
        return;
    memset(&op, 0, sizeof(op));
    op.verb = (enum fsm_kv_verb)(FSM_KV_SET + (uint8_t)s[0] % 5);
    key = strndup(s + 1, (size_t)(nul - s - 1));
    op.key = key;
    op.val = nul + 1;
    op.len = n - (size_t)(nul + 1 - s);
    op.flags = op.len;
    op.cas = (uint8_t)s[0] >> 4;
    if (key != NULL && fsm_encode_kv(&op, malloc, &buf, &len, err) == 0)
        apply(buf, len);
    free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data + 1;
    size_t n = size - 1;

    if (size < 1)
        return 0;
    log_set_level(LOG_LVL_OFF);
    switch (data[0] % 8) {
    case 0: target(s, n); break;
    case 1: catalog("register", s, n); break;
    case 2: catalog("deregister", s, n); break;
    case 3: agent_service(s, n); break;
    case 4: case 5: case 6: acl(data[0] % 8 - 4, s, n); break;
    default: kv(s, n); break;
    }
    return 0;
}

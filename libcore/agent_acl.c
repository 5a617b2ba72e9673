/* agent_acl.c - the agent's ACL tokens, token resolution and the
 * leader's initialisation of the ACL state.
 *
 * Layer: agent (uses util, codec, store, replication). Thread: loop only.
 * Owns: struct agent_acl: the tokens in force, the static authorizers
 * (management, agent recovery), the client agent's token cache and its
 * fetches in flight.
 * Tests: t/t3001-acl-matrix.sh, t/t3002-acl-cluster.sh
 *
 * Secrets are never logged and are compared in constant time. The
 * cache is keyed by SHA-256 of the secret, so it holds no secret.
 *
 * Client agents resolve a secret through a server:
 *   GET /v1/internal/proconsul/acl-resolve  (port 8300, X-Consul-Token)
 *   200 {"AccessorID","Anonymous":bool,"Management":bool,"Rules":[text]}
 *   403 "ACL not found"
 * and keep the compiled answer for acl.token_ttl. The servers of a
 * datacenter other than primary_datacenter do the same with a server of
 * the primary datacenter (picked from the WAN pool): the primary holds
 * the only authoritative tokens and policies (Consul replicates them to
 * the other datacenters instead; see the README). When no server
 * answers, acl.down_policy decides: extend-cache / async-cache keep
 * using what the cache had (else deny), allow / deny decide everything
 * (but ACL management) for a second, then the next request asks again.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "log.h"
#include "util_rand.h"
#include "util_time.h"

#define CACHE_MAX 512
#define NEGATIVE_TTL_MS 1000
#define FETCH_TIMEOUT_MS 5000
#define TOKENS_FILE "acl-tokens.json"

enum { FB_NONE = -1, FB_DENY = 0, FB_ALLOW = 1 };

struct cache_ent {
    unsigned char key[SHA256_DIGEST_LENGTH];
    struct acl_authz *z;
    char accessor[40];
    bool used, anonymous, notfound;
    int fallback;
    uint64_t fetched_ms, ttl_ms;
};

struct waiter {
    struct waiter *next;
    unsigned char key[SHA256_DIGEST_LENGTH];
    agent_acl_cb cb;
    void *ctx;
};

struct fetch {
    struct fetch *next;
    struct agent *a;
    unsigned char key[SHA256_DIGEST_LENGTH];
    struct rpc_call *call;
};

struct agent_acl {
    char *tokens[AGENT_TOKEN_COUNT];
    struct acl_authz *mgmt, *recovery;
    struct cache_ent cache[CACHE_MAX];
    struct waiter *waiters;
    struct fetch *fetches;
    bool leader_busy;
    uint64_t warned_term;
};

static const char *const kind_names[AGENT_TOKEN_COUNT] = {
    "default", "agent", "agent_recovery", "replication",
    "config_file_service_registration", "dns",
};

static const struct {
    const char *name;
    enum agent_token_kind kind;
} legacy_kinds[] = {
    {"acl_token", AGENT_TOKEN_DEFAULT},
    {"acl_agent_token", AGENT_TOKEN_AGENT},
    {"agent_master", AGENT_TOKEN_RECOVERY},
    {"acl_agent_master_token", AGENT_TOKEN_RECOVERY},
    {"acl_replication_token", AGENT_TOKEN_REPLICATION},
};

int agent_token_kind(const char *name)
{
    for (int i = 0; i < AGENT_TOKEN_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof(legacy_kinds) / sizeof(legacy_kinds[0]);
         i++)
        if (strcmp(name, legacy_kinds[i].name) == 0)
            return (int)legacy_kinds[i].kind;
    return -1;
}

const char *agent_token_kind_name(enum agent_token_kind k)
{
    return k < AGENT_TOKEN_COUNT ? kind_names[k] : "unknown";
}

bool agent_acl_enabled(const struct agent *a)
{
    return a->cfg.acl.enabled;
}

bool agent_acl_default_allow(const struct agent *a)
{
    const char *p = a->cfg.acl.default_policy;

    return !a->cfg.acl.enabled || p == NULL || strcmp(p, "deny") != 0;
}

/* Constant time for equal lengths; the length itself is not secret. */
static bool secret_eq(const char *a, const char *b)
{
    size_t la, lb;

    if (a == NULL || b == NULL)
        return false;
    la = strlen(a);
    lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

const char *agent_token(const struct agent *a, enum agent_token_kind k)
{
    const char *t;

    if (a->acl == NULL || k >= AGENT_TOKEN_COUNT)
        return NULL;
    t = a->acl->tokens[k];
    return t != NULL && t[0] != '\0' ? t : NULL;
}

/* ---- persistence ---- */

static int tokens_path(const struct agent *a, char *out, size_t n)
{
    if (a->data_dir == NULL)
        return -1;
    snprintf(out, n, "%s/%s", a->data_dir, TOKENS_FILE);
    return 0;
}

static int save_tokens(struct agent *a, char *err)
{
    char path[4200], tmp[4300];
    json_t *o = json_object();
    char *text;
    int fd, rc = 0;

    if (o == NULL || tokens_path(a, path, sizeof(path)) != 0) {
        json_decref(o);
        return err_set(err, ERR_INVAL, "no data directory for tokens");
    }
    for (int k = 0; k < AGENT_TOKEN_COUNT; k++)
        if (a->acl->tokens[k] != NULL && a->acl->tokens[k][0] != '\0')
            json_object_set_new(o, kind_names[k],
                                json_string(a->acl->tokens[k]));
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        fsync(fd) != 0 || fchmod(fd, 0600) != 0)
        rc = err_set(err, ERR_IO, "writing '%s': %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = err_set(err, ERR_IO, "renaming '%s': %s", tmp, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    free(text);
    return rc;
}

/* Tokens set through the API earlier win over the config's, as in
 * Consul. A damaged file is reported and ignored: it must not keep the
 * agent from starting in an outage. */
static void load_tokens(struct agent *a)
{
    char path[4200];
    json_error_t jerr;
    json_t *o;
    const char *k;
    json_t *v;

    if (tokens_path(a, path, sizeof(path)) != 0 || access(path, F_OK) != 0)
        return;
    o = json_load_file(path, 0, &jerr);
    if (!json_is_object(o)) {
        LOG_WARN("acl", "%s:%d: ignoring persisted tokens: %s", path,
                 jerr.line, o == NULL ? jerr.text : "not a JSON object");
        json_decref(o);
        return;
    }
    json_object_foreach(o, k, v) {
        int kind = agent_token_kind(k);
        char *dup;

        if (kind < 0 || !json_is_string(v)) {
            LOG_WARN("acl", "%s: ignoring unknown entry \"%.40s\"", path, k);
            continue;
        }
        if ((dup = strdup(json_string_value(v))) == NULL)
            break;
        free(a->acl->tokens[kind]);
        a->acl->tokens[kind] = dup;
    }
    json_decref(o);
    LOG_INFO("acl", "loaded persisted agent tokens from %s", path);
}

int agent_set_token(struct agent *a, enum agent_token_kind k,
                    const char *secret, char *err)
{
    char *dup = NULL;

    if (a->acl == NULL || k >= AGENT_TOKEN_COUNT)
        return err_set(err, ERR_INVAL, "unknown token kind");
    if (secret != NULL && secret[0] != '\0' &&
        (dup = strdup(secret)) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    if (a->acl->tokens[k] != NULL)
        memset(a->acl->tokens[k], 0, strlen(a->acl->tokens[k]));
    free(a->acl->tokens[k]);
    a->acl->tokens[k] = dup;
    LOG_INFO("acl", "Updated agent's ACL token \"%s\"", kind_names[k]);
    if (a->cfg.acl.enable_token_persistence)
        return save_tokens(a, err);
    return 0;
}

/* ---- lifecycle ---- */

static char *cfg_token(const struct agent *a, enum agent_token_kind k)
{
    const struct cfg_acl_tokens *t = &a->cfg.acl.tokens;
    const char *v[AGENT_TOKEN_COUNT] = {
        t->default_token, t->agent, t->agent_recovery, t->replication,
        t->config_file_service_registration, t->dns,
    };

    return v[k] != NULL && v[k][0] != '\0' ? strdup(v[k]) : NULL;
}

static struct acl_authz *recovery_authz(const struct agent *a, char *err)
{
    char text[600];
    struct acl_rules *r = NULL;
    struct acl_authz *z;
    const char *node = a->cfg.node_name != NULL ? a->cfg.node_name : "";

    /* Agent recovery: write on this agent, read on every node. A node
     * name cannot hold a quote (Consul's node name rules, checked by
     * cfg). */
    snprintf(text, sizeof(text),
             "agent \"%.200s\" { policy = \"write\" }\n"
             "node_prefix \"\" { policy = \"read\" }\n", node);
    if (strpbrk(node, "\"\\") != NULL ||
        acl_rules_parse(text, strlen(text), &r, err) != 0)
        return acl_authz_new(false);
    z = acl_authz_new(false);
    if (z != NULL && acl_authz_add(z, r, err) != 0) {
        acl_authz_free(z);
        z = NULL;
    }
    acl_rules_free(r);
    return z;
}

int agent_acl_init(struct agent *a, char *err)
{
    struct agent_acl *acl = calloc(1, sizeof(*acl));

    if (acl == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    a->acl = acl;
    for (int k = 0; k < AGENT_TOKEN_COUNT; k++)
        acl->tokens[k] = cfg_token(a, (enum agent_token_kind)k);
    if (a->cfg.acl.enable_token_persistence)
        load_tokens(a);
    acl->mgmt = acl_authz_new(true);
    acl->recovery = recovery_authz(a, err);
    if (acl->mgmt == NULL || acl->recovery == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    return 0;
}

static void cache_clear(struct cache_ent *e)
{
    acl_authz_free(e->z);
    memset(e, 0, sizeof(*e));
}

void agent_acl_release(struct agent *a)
{
    struct agent_acl *acl = a->acl;

    agent_acl_repl_release(a);
    if (acl == NULL)
        return;
    for (int k = 0; k < AGENT_TOKEN_COUNT; k++) {
        if (acl->tokens[k] != NULL)
            memset(acl->tokens[k], 0, strlen(acl->tokens[k]));
        free(acl->tokens[k]);
    }
    for (int i = 0; i < CACHE_MAX; i++)
        cache_clear(&acl->cache[i]);
    while (acl->waiters != NULL) {
        struct waiter *w = acl->waiters;

        acl->waiters = w->next;
        free(w);
    }
    while (acl->fetches != NULL) {
        struct fetch *f = acl->fetches;

        acl->fetches = f->next;
        rpc_call_cancel(f->call);
        free(f);
    }
    acl_authz_free(acl->mgmt);
    acl_authz_free(acl->recovery);
    free(acl);
    a->acl = NULL;
}

/* ---- resolution ---- */

static void key_of(const char *secret, unsigned char key[SHA256_DIGEST_LENGTH])
{
    SHA256((const unsigned char *)secret, strlen(secret), key);
}

static struct cache_ent *cache_find(struct agent_acl *acl,
                                    const unsigned char *key)
{
    for (int i = 0; i < CACHE_MAX; i++)
        if (acl->cache[i].used &&
            CRYPTO_memcmp(acl->cache[i].key, key, SHA256_DIGEST_LENGTH) == 0)
            return &acl->cache[i];
    return NULL;
}

/* A free slot, else the one fetched longest ago. */
static struct cache_ent *cache_slot(struct agent_acl *acl)
{
    struct cache_ent *old = &acl->cache[0];

    for (int i = 0; i < CACHE_MAX; i++) {
        if (!acl->cache[i].used)
            return &acl->cache[i];
        if (acl->cache[i].fetched_ms < old->fetched_ms)
            old = &acl->cache[i];
    }
    cache_clear(old);
    return old;
}

static const char *effective_secret(const struct agent *a,
                                    const char *secret)
{
    if (secret != NULL && secret[0] != '\0')
        return secret;
    secret = agent_token(a, AGENT_TOKEN_DEFAULT);
    return secret != NULL ? secret : ACL_ANON_SECRET;
}

static void who_reset(const struct agent *a, struct agent_acl_who *w,
                      const char *secret)
{
    memset(w, 0, sizeof(*w));
    w->accessor = "";
    w->default_allow = agent_acl_default_allow(a);
    if (strcmp(secret, ACL_ANON_SECRET) == 0) {
        w->anonymous = true;
        w->accessor = ACL_ANON_ACCESSOR;
    }
}

static int who_server(struct agent *a, const char *secret,
                      struct agent_acl_who *w)
{
    const json_t *tok = acl_store_token_by_secret(a->fsm.acl, secret);
    char err[ERR_LEN];
    int64_t now_ms = util_now_ns() / 1000000;

    if (tok != NULL && !acl_token_expired(tok, now_ms)) {
        w->accessor = json_string_value(json_object_get(tok, "AccessorID"));
        if (w->accessor == NULL)
            w->accessor = "";
        w->z = acl_store_authz(a->fsm.acl, tok, err);
        if (w->z == NULL) {
            LOG_WARN("acl", "token %.8s: %s", w->accessor, err);
            w->default_allow = false; /* fail closed */
        }
        return 0;
    }
    if (tok == NULL && secret_eq(secret, a->cfg.acl.tokens.initial_management)) {
        w->z = a->acl->mgmt; /* configured, not yet written by the leader */
        return 0;
    }
    if (tok == NULL && w->anonymous)
        return 0; /* anonymous before the leader created it: no grants */
    return ERR_NOTFOUND;
}

static int who_client(struct agent *a, const char *secret,
                      struct agent_acl_who *w, bool *need_fetch)
{
    unsigned char key[SHA256_DIGEST_LENGTH];
    struct cache_ent *e;
    uint64_t now = uv_now(a->loop);

    key_of(secret, key);
    e = cache_find(a->acl, key);
    if (e == NULL || now - e->fetched_ms >= e->ttl_ms) {
        *need_fetch = true;
        return 0;
    }
    if (e->notfound)
        return ERR_NOTFOUND;
    if (e->fallback != FB_NONE) {
        w->default_allow = e->fallback == FB_ALLOW;
        return 0;
    }
    w->z = e->z;
    w->accessor = e->accessor;
    w->anonymous = e->anonymous;
    return 0;
}

int agent_acl_who(struct agent *a, const char *secret,
                  struct agent_acl_who *w, bool *need_fetch)
{
    *need_fetch = false;
    secret = effective_secret(a, secret);
    who_reset(a, w, secret);
    if (!agent_acl_enabled(a) || a->acl == NULL) {
        w->default_allow = true;
        w->z = a->acl != NULL ? a->acl->mgmt : NULL;
        return 0;
    }
    /* A server knows every token: one that exists keeps its own grants
     * even if it was also made the recovery token. A client agent takes
     * the recovery token at its word, so that it works with no server. */
    if (a->has_raft && (!agent_acl_remote(a) || agent_acl_repl_enabled(a)) &&
        who_server(a, secret, w) == 0)
        return 0; /* replicated: known here, even with the primary down */
    if (secret_eq(secret, agent_token(a, AGENT_TOKEN_RECOVERY))) {
        w->z = a->acl->recovery;
        w->accessor = "agent-recovery-token";
        return 0;
    }
    if (a->has_raft && !agent_acl_remote(a))
        return ERR_NOTFOUND;
    return who_client(a, secret, w, need_fetch);
}

/* ---- client fetches ---- */

static void wake(struct agent_acl *acl, const unsigned char *key)
{
    struct waiter **pp = &acl->waiters, *ready = NULL;

    while (*pp != NULL) {
        struct waiter *w = *pp;

        if (memcmp(w->key, key, SHA256_DIGEST_LENGTH) == 0) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    while (ready != NULL) {
        struct waiter *w = ready;

        ready = w->next;
        w->cb(w->ctx);
        free(w);
    }
}

static int compile_answer(struct cache_ent *e, const json_t *ans, char *err)
{
    const json_t *rules = json_object_get(ans, "Rules");
    const char *acc = json_string_value(json_object_get(ans, "AccessorID"));
    size_t i;
    json_t *t;

    e->z = acl_authz_new(json_is_true(json_object_get(ans, "Management")));
    if (e->z == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    snprintf(e->accessor, sizeof(e->accessor), "%s", acc ? acc : "");
    e->anonymous = json_is_true(json_object_get(ans, "Anonymous"));
    json_array_foreach(rules, i, t) {
        struct acl_rules *r = NULL;
        const char *text = json_string_value(t);
        int rc;

        if (text == NULL)
            return err_set(err, ERR_PARSE, "bad rules in the answer");
        rc = acl_rules_parse(text, strlen(text), &r, err);
        if (rc == 0)
            rc = acl_authz_add(e->z, r, err);
        acl_rules_free(r);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* No server answered: acl.down_policy decides. */
static void fetch_failed(struct agent *a, struct cache_ent *e,
                         const char *why)
{
    const char *dp = a->cfg.acl.down_policy;
    uint64_t now = uv_now(a->loop);

    LOG_WARN("acl", "cannot resolve token: %s (down_policy %s)", why,
             dp != NULL ? dp : "extend-cache");
    if ((dp == NULL || strcmp(dp, "extend-cache") == 0 ||
         strcmp(dp, "async-cache") == 0) && e->used && !e->notfound) {
        e->fetched_ms = now; /* keep what we had a while longer */
        return;
    }
    acl_authz_free(e->z);
    e->z = NULL;
    e->notfound = false;
    e->fallback = dp != NULL && strcmp(dp, "allow") == 0 ? FB_ALLOW
                                                         : FB_DENY;
    e->used = true;
    e->fetched_ms = now;
    e->ttl_ms = NEGATIVE_TTL_MS;
}

static void store_answer(struct agent *a, struct cache_ent *e, int status,
                         const char *body, size_t len)
{
    json_error_t jerr;
    json_t *ans;
    char err[ERR_LEN];

    acl_authz_free(e->z);
    e->z = NULL;
    e->used = true;
    e->notfound = status == 403;
    e->fallback = FB_NONE;
    e->fetched_ms = uv_now(a->loop);
    e->ttl_ms = status == 403 ? NEGATIVE_TTL_MS
                              : (uint64_t)(a->cfg.acl.token_ttl_ms > 0
                                               ? a->cfg.acl.token_ttl_ms
                                               : 30000);
    if (status == 403)
        return;
    ans = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(ans) || compile_answer(e, ans, err) != 0) {
        acl_authz_free(e->z);
        e->z = NULL;
        e->fallback = FB_DENY; /* fail closed */
        e->ttl_ms = NEGATIVE_TTL_MS;
        LOG_WARN("acl", "bad token answer from a server: %s",
                 ans == NULL ? jerr.text : err);
    }
    json_decref(ans);
}

static void unlink_fetch(struct agent_acl *acl, struct fetch *f)
{
    for (struct fetch **pp = &acl->fetches; *pp != NULL; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

static void on_fetch(void *ctx, int rc, const struct rpc_response *r,
                     const char *err)
{
    struct fetch *f = ctx;
    struct agent *a = f->a;
    struct cache_ent *e;

    f->call = NULL;
    if (a->acl == NULL) {
        free(f);
        return;
    }
    unlink_fetch(a->acl, f);
    e = cache_find(a->acl, f->key);
    if (e == NULL) {
        e = cache_slot(a->acl);
        memcpy(e->key, f->key, SHA256_DIGEST_LENGTH);
    }
    if (rc == 0 && (r->status == 200 || r->status == 403))
        store_answer(a, e, r->status, r->body, r->body_len);
    else
        fetch_failed(a, e, rc != 0 ? err : "server error");
    wake(a->acl, f->key);
    free(f);
}

static bool fetching(struct agent_acl *acl, const unsigned char *key)
{
    for (struct fetch *f = acl->fetches; f != NULL; f = f->next)
        if (memcmp(f->key, key, SHA256_DIGEST_LENGTH) == 0)
            return true;
    return false;
}

/* Settle the entry of key at once, as if its fetch had failed. */
static void settle_failed(struct agent *a, const unsigned char *key,
                          const char *why)
{
    struct cache_ent *e = cache_find(a->acl, key);

    if (e == NULL) {
        e = cache_slot(a->acl);
        memcpy(e->key, key, SHA256_DIGEST_LENGTH);
    }
    fetch_failed(a, e, why);
}

/* 0: started; 1: settled at once (no server); ERR_NOMEM. */
static int start_fetch(struct agent *a, const char *secret,
                       const unsigned char *key, char *err)
{
    struct rpc_header h[1] = {{"X-Consul-Token", secret}};
    const char *addr = NULL;
    char primary[80];
    struct fetch *f;

    if (!agent_acl_remote(a))
        addr = agent_pick_server(a, NULL);
    else if (agent_wan_pick(a, a->cfg.primary_datacenter, NULL, primary,
                            sizeof(primary)) == 0)
        addr = primary; /* a server of the primary datacenter */
    if (addr == NULL || a->rpcc == NULL) {
        settle_failed(a, key, agent_acl_remote(a) ? "No path to datacenter"
                                                   : "No known Consul servers");
        return 1;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    f->a = a;
    memcpy(f->key, key, SHA256_DIGEST_LENGTH);
    if (rpc_http_call(a->rpcc, addr, "GET",
                      "/v1/internal/proconsul/acl-resolve", h, 1, NULL, 0,
                      FETCH_TIMEOUT_MS, on_fetch, f, &f->call, err) != 0) {
        free(f);
        settle_failed(a, key, err);
        return 1;
    }
    f->next = a->acl->fetches;
    a->acl->fetches = f;
    return 0;
}

bool agent_acl_remote(const struct agent *a)
{
    const char *p = a->cfg.primary_datacenter;

    return a->has_raft && agent_acl_enabled(a) && p != NULL && p[0] != '\0' &&
           strcmp(p, a->cfg.datacenter) != 0;
}

int agent_acl_fetch(struct agent *a, const char *secret, agent_acl_cb cb,
                    void *ctx, char *err)
{
    unsigned char key[SHA256_DIGEST_LENGTH];
    struct waiter *w;
    int rc;

    secret = effective_secret(a, secret);
    key_of(secret, key);
    if (!fetching(a->acl, key) &&
        (rc = start_fetch(a, secret, key, err)) != 0)
        return rc;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    memcpy(w->key, key, sizeof(key));
    w->cb = cb;
    w->ctx = ctx;
    w->next = a->acl->waiters;
    a->acl->waiters = w;
    return 0;
}

void agent_acl_cancel(struct agent *a, agent_acl_cb cb, void *ctx)
{
    if (a->acl == NULL)
        return;
    for (struct waiter **pp = &a->acl->waiters; *pp != NULL;
         pp = &(*pp)->next) {
        if ((*pp)->cb == cb && (*pp)->ctx == ctx) {
            struct waiter *w = *pp;

            *pp = w->next;
            free(w);
            return;
        }
    }
}

/* ---- leader: the ACL state's first objects ---- */

static const char global_rules[] =
    "acl = \"write\"\n"
    "agent_prefix \"\" { policy = \"write\" }\n"
    "event_prefix \"\" { policy = \"write\" }\n"
    "key_prefix \"\" { policy = \"write\" }\n"
    "keyring = \"write\"\n"
    "node_prefix \"\" { policy = \"write\" }\n"
    "operator = \"write\"\n"
    "mesh = \"write\"\n"
    "peering = \"write\"\n"
    "query_prefix \"\" { policy = \"write\" }\n"
    "service_prefix \"\" { policy = \"write\" intentions = \"write\" }\n"
    "session_prefix \"\" { policy = \"write\" }\n";

static void leader_done(void *ctx, int rc, const struct fsm_result *res)
{
    struct agent *a = ctx;

    if (a->acl == NULL)
        return;
    a->acl->leader_busy = false;
    if (rc == 0 && res != NULL && res->rc != 0) {
        LOG_WARN("acl", "initialising the ACL state: %s", res->msg);
        return; /* the next tick tries again */
    }
    if (rc == 0)
        agent_acl_leader(a); /* the next step at once */
}

static void leader_apply(struct agent *a, const char *op, json_t *req)
{
    char err[ERR_LEN];
    void *buf = NULL;
    size_t len = 0;

    if (req == NULL)
        return;
    if (fsm_encode_acl(op, req, raft_malloc, &buf, &len, err) != 0) {
        LOG_WARN("acl", "initialising the ACL state (%s): %s", op, err);
        json_decref(req);
        return;
    }
    json_decref(req);
    if (agent_apply(a, buf, len, leader_done, a, err) != 0) {
        raft_free(buf);
        return;
    }
    a->acl->leader_busy = true;
}

static const char *const token_hashed[] = ACL_TOKEN_HASHED;
static const char *const policy_hashed[] = ACL_POLICY_HASHED;

/* Fill Hash (and a token's CreateTime); o is returned. */
static json_t *stamp(json_t *o)
{
    char t[UTIL_RFC3339_LEN], err[ERR_LEN];
    bool policy;

    if (o == NULL)
        return NULL;
    policy = json_object_get(o, "Rules") != NULL;
    if (!policy) {
        util_rfc3339(util_now_ns(), t);
        json_object_set_new(o, "CreateTime", json_string(t));
    }
    if (acl_hash(o, policy ? policy_hashed : token_hashed, err) != 0)
        LOG_WARN("acl", "%s", err);
    return o;
}

static json_t *mgmt_links(void)
{
    return json_pack("[{s:s, s:s}]", "ID", ACL_GLOBAL_MGMT_ID, "Name",
                     ACL_GLOBAL_MGMT_NAME);
}

static json_t *new_token(const char *accessor, const char *secret,
                         const char *desc, bool mgmt)
{
    return stamp(json_pack("{s:s, s:s, s:s, s:o, s:[], s:[], s:[], s:b}",
                           "AccessorID", accessor, "SecretID", secret,
                           "Description", desc, "Policies",
                           mgmt ? mgmt_links() : json_array(), "Roles",
                           "ServiceIdentities", "NodeIdentities", "Local",
                           0));
}

static void init_secret(struct agent *a)
{
    unsigned char b[32];
    char enc[64], err[ERR_LEN];

    if (util_random(b, sizeof(b), err) != 0) {
        LOG_ERROR("acl", "%s", err);
        return;
    }
    EVP_EncodeBlock((unsigned char *)enc, b, sizeof(b));
    leader_apply(a, "init", json_pack("{s:s}", "Secret", enc));
    OPENSSL_cleanse(b, sizeof(b));
    OPENSSL_cleanse(enc, sizeof(enc));
}

static void init_management(struct agent *a, const char *secret)
{
    char acc[UTIL_UUID_LEN + 1], err[ERR_LEN];
    json_t *tok;

    if (util_uuid(acc, err) != 0) {
        LOG_ERROR("acl", "%s", err);
        return;
    }
    tok = new_token(acc, secret, "Initial Management Token", true);
    if (tok == NULL)
        return;
    LOG_INFO("acl", "creating the initial management token %.8s from the "
             "configuration", acc);
    if (acl_store_bootstrap_index(a->fsm.acl) == 0)
        leader_apply(a, "bootstrap", json_pack("{s:o, s:i}", "Token", tok,
                                               "ResetIndex", 0));
    else
        leader_apply(a, "token-set", json_pack("{s:o}", "Token", tok));
}

bool agent_acl_ready(struct agent *a)
{
    struct acl_store *s = a->fsm.acl;
    /* replicated: the primary's tokens replace ours (no tug of war) */
    const char *im = agent_acl_repl_enabled(a)
                         ? NULL
                         : a->cfg.acl.tokens.initial_management;

    return acl_store_secret(s) != NULL &&
           acl_store_policy(s, ACL_GLOBAL_MGMT_ID) != NULL &&
           acl_store_token(s, ACL_ANON_ACCESSOR) != NULL &&
           (im == NULL || im[0] == '\0' ||
            acl_store_token_by_secret(s, im) != NULL);
}

void agent_acl_leader(struct agent *a)
{
    struct acl_store *s = a->fsm.acl;
    const char *im = agent_acl_repl_enabled(a)
                         ? NULL
                         : a->cfg.acl.tokens.initial_management;

    if (a->acl == NULL || !agent_acl_enabled(a) || a->acl->leader_busy ||
        !agent_is_leader(a))
        return;
    if (acl_store_secret(s) == NULL) {
        init_secret(a);
    } else if (acl_store_policy(s, ACL_GLOBAL_MGMT_ID) == NULL) {
        leader_apply(a, "policy-set", json_pack("{s:o}", "Policy", stamp(
            json_pack("{s:s, s:s, s:s, s:s, s:[]}", "ID",
                      ACL_GLOBAL_MGMT_ID, "Name", ACL_GLOBAL_MGMT_NAME,
                      "Description",
                      "Builtin Policy that grants unlimited access",
                      "Rules", global_rules, "Datacenters"))));
    } else if (acl_store_token(s, ACL_ANON_ACCESSOR) == NULL) {
        leader_apply(a, "token-set", json_pack("{s:o}", "Token", new_token(
            ACL_ANON_ACCESSOR, ACL_ANON_SECRET, "Anonymous Token", false)));
    } else if (im != NULL && im[0] != '\0' &&
               acl_store_token_by_secret(s, im) == NULL) {
        init_management(a, im);
    }
}

/* httpd_members.c - LAN and WAN membership: /v1/agent/members, /v1/agent/join/,
 * /v1/agent/leave, /v1/agent/force-leave/.
 *
 * Layer: http (uses the agent's gossip pool). Thread: loop only.
 * Owns: a small malloc'd struct per PUT /v1/agent/leave until gossip
 * reports the leave done.
 * Tests: t/t2001-gossip-members.sh, t/t2002-gossip-serf.sh
 */
#include "httpd_int.h"

#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "log.h"

static json_t *member_json(const struct gossip_member *m)
{
    json_t *tags = json_object();

    for (size_t i = 0; i < m->n_tags; i++)
        json_object_set_new(tags, m->tags[i].key,
                            json_string(m->tags[i].val));
    return json_pack("{s:s, s:s, s:i, s:o, s:i, s:i, s:i, s:i, s:i, s:i, "
                     "s:i}",
                     "Name", m->name, "Addr", m->addr, "Port", (int)m->port,
                     "Tags", tags, "Status", (int)m->status,
                     "ProtocolMin", (int)m->pmin, "ProtocolMax",
                     (int)m->pmax, "ProtocolCur", (int)m->pcur,
                     "DelegateMin", (int)m->dmin, "DelegateMax",
                     (int)m->dmax, "DelegateCur", (int)m->dcur);
}

json_t *httpd_member_self(struct agent *a)
{
    struct gossip_member m;

    if (a->gossip == NULL || a->cfg.node_name == NULL ||
        gossip_member_get(a->gossip, a->cfg.node_name, &m) != 0)
        return NULL;
    return member_json(&m);
}

struct members_ctx {
    json_t *arr;
    const char *segment; /* NULL: every segment */
};

static void add_member(void *ctx, const struct gossip_member *m)
{
    struct members_ctx *mc = ctx;
    const char *seg = gossip_member_tag(m, "segment");

    if (mc->segment != NULL && strcmp(seg != NULL ? seg : "",
                                      mc->segment) != 0)
        return;
    json_array_append_new(mc->arr, member_json(m));
}

void httpd_agent_members(struct httpd_ctx *c)
{
    struct members_ctx mc = {json_array(), httpd_q(c, "segment")};
    const char *wan = httpd_q(c, "wan");

    if (wan != NULL && strcmp(wan, "false") != 0 && strcmp(wan, "0") != 0) {
        /* A client agent has no WAN pool: an empty list, as Consul. */
        if (c->a->wan != NULL) {
            mc.segment = NULL;
            gossip_members(c->a->wan, add_member, &mc);
        }
        httpd_send_json(c, 200, httpd_acl_filter(c, HTTPD_SHAPE_WAN_MEMBERS,
                                                 mc.arr));
        return;
    }
    if (mc.segment != NULL && strcmp(mc.segment, "_all") == 0)
        mc.segment = NULL;
    if (c->a->gossip != NULL)
        gossip_members(c->a->gossip, add_member, &mc);
    httpd_send_json(c, 200, httpd_acl_filter(c, HTTPD_SHAPE_MEMBERS, mc.arr));
}

static void join_done(void *ctx, int n_joined,
                      const struct gossip_join_result *res, size_t n)
{
    struct httpd_ctx *c = httpd_async_end(ctx);
    const char *why = "no address could be joined";

    if (c == NULL)
        return;
    if (n_joined > 0) {
        httpd_send_body(c, 200, NULL, "", 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i].rc != 0) {
            why = res[i].err != NULL ? res[i].err : err_str(res[i].rc);
            break;
        }
    }
    httpd_error(c, 500, "join_failed", why);
}

void httpd_agent_join(struct httpd_ctx *c)
{
    char err[ERR_LEN];
    const char *addr = c->rest;
    const char *wan = httpd_q(c, "wan");
    bool is_wan = wan != NULL && strcmp(wan, "false") != 0 &&
                  strcmp(wan, "0") != 0;
    struct httpd_pending *p;

    if (c->rest_len == 0) {
        httpd_error(c, 400, "bad_request", "Missing address to join");
        return;
    }

    if (is_wan && c->a->wan == NULL) {
        httpd_error(c, 500, "join_failed", c->a->cfg.server
                    ? "WAN gossip is not running"
                    : "Must be a server to join WAN cluster");
        return;
    }
    if (c->a->gossip == NULL) {
        httpd_error(c, 500, "join_failed", "gossip is not running");
        return;
    }
    p = httpd_async_begin(c);
    if (p == NULL) {
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    if (gossip_join(is_wan ? c->a->wan : c->a->gossip, &addr, 1, join_done,
                    p, err) != 0) {
        c = httpd_async_end(p);
        httpd_error(c, 500, "join_failed", err);
    }
}

struct leave_req {
    struct httpd_pending *p;
    struct agent *a;
};

/* As Consul: answer once we have left, then shut the agent down. */
static void leave_done(void *ctx, int rc)
{
    struct leave_req *lr = ctx;
    struct agent *a = lr->a;
    struct httpd_ctx *c = httpd_async_end(lr->p);

    free(lr);
    if (rc != 0 && rc != ERR_SHUTDOWN)
        LOG_WARN("agent", "leave: %s", err_str(rc));
    if (c != NULL)
        httpd_send_body(c, 200, NULL, "", 0);
    if (rc != ERR_SHUTDOWN)
        agent_stop(a);
}

void httpd_agent_leave(struct httpd_ctx *c)
{
    char err[ERR_LEN];
    struct leave_req *lr = calloc(1, sizeof(*lr));

    if (lr == NULL || (lr->p = httpd_async_begin(c)) == NULL) {
        free(lr);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    lr->a = c->a;
    LOG_INFO("agent", "graceful leave requested through the HTTP API");
    if (agent_leave(c->a, leave_done, lr, err) != 0) {
        c = httpd_async_end(lr->p);
        free(lr);
        httpd_error(c, 500, "leave_failed", err);
    }
}

void httpd_agent_force_leave(struct httpd_ctx *c)
{
    char err[ERR_LEN];
    int rc;

    if (c->rest_len == 0) {
        httpd_error(c, 400, "bad_request", "Missing node name");
        return;
    }
    if (c->a->gossip == NULL) {
        httpd_error(c, 500, "force_leave_failed", "gossip is not running");
        return;
    }
    rc = gossip_force_leave(c->a->gossip, c->rest, httpd_qhas(c, "prune"),
                            err);
    if (rc == ERR_NOTFOUND) {
        httpd_error(c, 404, "not_found", err);
        return;
    }
    if (rc != 0) {
        httpd_error(c, 500, "force_leave_failed", err);
        return;
    }
    httpd_send_body(c, 200, NULL, "", 0);
}

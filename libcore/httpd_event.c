/* httpd_event.c - user events: PUT /v1/event/fire/<name>, GET
 * /v1/event/list.
 *
 * Layer: http (uses the agent's event ring). Thread: loop only.
 * Owns: nothing beyond the request.
 * As Consul's agent/event_endpoint.go: a fire is sent over LAN gossip
 * from this agent (only the local datacenter); the list is this agent's
 * last 256 events, oldest first, filtered by event:read and ?name=, and
 * blocks while X-Consul-Index (a hash of the last event's ID, 1 for no
 * event) equals ?index.
 * Tests: t/t8201-events.sh, t/t3001-acl-matrix.sh
 */
#include "httpd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_event.h"

static char *qdup(struct httpd_ctx *c, const char *name)
{
    const char *v = httpd_q(c, name);

    return v != NULL && v[0] != '\0' ? strdup(v) : NULL;
}

void httpd_event_fire(struct httpd_ctx *c)
{
    const char *dc = httpd_q(c, "dc");
    struct agent_uevent e;
    char err[ERR_LEN];
    size_t len = c->req->entity.base != NULL ? c->req->entity.len : 0;
    int rc;

    if (c->rest_len == 0) {
        httpd_error(c, 400, "bad_request", "Missing name");
        return;
    }
    if (dc != NULL && dc[0] != '\0' && strcmp(dc, c->a->cfg.datacenter) != 0) {
        httpd_error(c, 500, "no_path", "No path to datacenter");
        return;
    }
    memset(&e, 0, sizeof(e));
    e.name = strndup(c->rest, c->rest_len);
    e.node_filter = qdup(c, "node");
    e.service_filter = qdup(c, "service");
    e.tag_filter = qdup(c, "tag");
    if (len > 0 && (e.payload = malloc(len)) != NULL) {
        memcpy(e.payload, c->req->entity.base, len);
        e.len = len;
    }
    if (e.name == NULL || (len > 0 && e.payload == NULL)) {
        agent_uevent_release(&e);
        httpd_error(c, 500, "internal", "out of memory");
        return;
    }
    rc = agent_uevent_validate(&e, err);
    if (rc != 0)
        httpd_error(c, 400, "bad_request", err);
    else if ((rc = agent_event_fire(c->a, &e, err)) != 0)
        httpd_error(c, 500, "event_failed", err);
    else
        httpd_send_json(c, 200, agent_uevent_json(&e));
    agent_uevent_release(&e);
}

static bool listed(struct httpd_ctx *c, const struct agent_uevent *e,
                   bool *dropped)
{
    const char *name = httpd_q(c, "name");

    if (!httpd_acl_can(c, ACL_RES_EVENT, e->name, ACL_READ)) {
        *dropped = true;
        return false;
    }
    return name == NULL || name[0] == '\0' || strcmp(name, e->name) == 0;
}

static uint64_t list_index(struct httpd_ctx *c)
{
    size_t n = agent_event_count(c->a);
    bool dropped = false;

    for (size_t i = n; i > 0; i--) {
        const struct agent_uevent *e = agent_event_get(c->a, i - 1);

        if (listed(c, e, &dropped))
            return agent_uevent_index(e->id);
    }
    /* Not 0, so that a watch of no event does not spin. */
    return 1;
}

static void list_respond(struct httpd_ctx *c)
{
    json_t *arr = json_array();
    size_t n = agent_event_count(c->a);
    bool dropped = false;
    char idx[24];

    for (size_t i = 0; i < n; i++) {
        const struct agent_uevent *e = agent_event_get(c->a, i);

        if (listed(c, e, &dropped))
            json_array_append_new(arr, agent_uevent_json(e));
    }
    if (dropped)
        httpd_acl_filtered(c);
    snprintf(idx, sizeof(idx), "%" PRIu64, list_index(c));
    httpd_header(c, "X-Consul-Index", idx);
    httpd_send_json(c, 200, arr);
}

void httpd_event_list(struct httpd_ctx *c)
{
    if (httpd_read_opts(c) != 0)
        return;
    httpd_blocking_local(c, list_index, list_respond);
}

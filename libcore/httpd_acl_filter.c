/* httpd_acl_filter.c - list answers filtered by the request's token, as
 * Consul's servers filter them (filterACL): a node needs node:read, a
 * service instance node:read and service:read, a check node:read and,
 * when it belongs to a service, service:read.
 *
 * Layer: http. Thread: loop only.
 * Owns: nothing.
 * Tests: t/t3001-acl-matrix.sh
 */
#include "httpd_int.h"

#include <string.h>

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s != NULL ? s : "";
}

static bool node_ok(struct httpd_ctx *c, const char *node)
{
    return httpd_acl_can(c, ACL_RES_NODE, node, ACL_READ);
}

static bool service_ok(struct httpd_ctx *c, const char *svc)
{
    return httpd_acl_can(c, ACL_RES_SERVICE, svc, ACL_READ);
}

static bool check_ok(struct httpd_ctx *c, const json_t *chk)
{
    const char *svc = str(chk, "ServiceName");

    return node_ok(c, str(chk, "Node")) && (svc[0] == '\0' ||
                                            service_ok(c, svc));
}

static bool elem_ok(struct httpd_ctx *c, enum httpd_acl_shape shape,
                    const char *key, const json_t *v)
{
    switch (shape) {
    case HTTPD_SHAPE_NODES:
        return node_ok(c, str(v, "Node"));
    case HTTPD_SHAPE_SERVICE_NODES:
        return node_ok(c, str(v, "Node")) &&
               service_ok(c, str(v, "ServiceName"));
    case HTTPD_SHAPE_CHECKS:
    case HTTPD_SHAPE_AGENT_CHECKS:
        if (shape == HTTPD_SHAPE_AGENT_CHECKS && str(v, "Node")[0] == '\0')
            return str(v, "ServiceName")[0] == '\0' ||
                   service_ok(c, str(v, "ServiceName"));
        return check_ok(c, v);
    case HTTPD_SHAPE_SERVICE_MAP:
        return service_ok(c, key);
    case HTTPD_SHAPE_HEALTH:
        return node_ok(c, str(json_object_get(v, "Node"), "Node")) &&
               service_ok(c, str(json_object_get(v, "Service"), "Service"));
    case HTTPD_SHAPE_MEMBERS:
        return node_ok(c, str(v, "Name"));
    case HTTPD_SHAPE_WAN_MEMBERS: {
        /* As Consul: the node part of "node.dc". */
        char node[GOSSIP_NAME_MAX + 1], dc[AGENT_DC_MAX + 1];

        if (!agent_wan_split(str(v, "Name"), node, sizeof(node), dc,
                             sizeof(dc)))
            return node_ok(c, str(v, "Name"));
        return node_ok(c, node);
    }
    case HTTPD_SHAPE_AGENT_SERVICES:
    case HTTPD_SHAPE_NODE:
    case HTTPD_SHAPE_NODE_SERVICES:
        return service_ok(c, str(v, "Service"));
    }
    return false;
}

/* Arrays and objects: a new container holding what passes. */
static json_t *filter_container(struct httpd_ctx *c,
                                enum httpd_acl_shape shape, json_t *in,
                                bool *dropped)
{
    json_t *out, *v;
    const char *k;
    size_t i;

    if (json_is_array(in)) {
        out = json_array();
        json_array_foreach(in, i, v) {
            if (elem_ok(c, shape, NULL, v))
                json_array_append(out, v);
            else
                *dropped = true;
        }
        return out;
    }
    if (!json_is_object(in))
        return json_incref(in);
    out = json_object();
    json_object_foreach(in, k, v) {
        if (elem_ok(c, shape, k, v))
            json_object_set(out, k, v);
        else
            *dropped = true;
    }
    return out;
}

/* {"Node":{..},"Services":...}: all of it goes when the node may not be
 * read (Consul answers as for an unknown node). */
static json_t *filter_node(struct httpd_ctx *c, enum httpd_acl_shape shape,
                           json_t *body, bool *dropped)
{
    const json_t *node = json_object_get(body, "Node");
    json_t *out;

    if (!json_is_object(node))
        return json_incref(body);
    if (!node_ok(c, str(node, "Node"))) {
        *dropped = true;
        if (shape == HTTPD_SHAPE_NODE)
            return json_null();
        return json_pack("{s:n, s:n}", "Node", "Services");
    }
    out = json_object();
    json_object_set(out, "Node", (json_t *)node);
    json_object_set_new(out, "Services", filter_container(
        c, shape, json_object_get(body, "Services"), dropped));
    return out;
}

json_t *httpd_acl_filter(struct httpd_ctx *c, enum httpd_acl_shape shape,
                         json_t *body)
{
    bool dropped = false;
    json_t *out;

    if (!httpd_acl_enabled(c) || body == NULL)
        return body;
    if (shape == HTTPD_SHAPE_NODE || shape == HTTPD_SHAPE_NODE_SERVICES)
        out = filter_node(c, shape, body, &dropped);
    else
        out = filter_container(c, shape, body, &dropped);
    json_decref(body);
    if (dropped)
        httpd_acl_filtered(c);
    return out;
}

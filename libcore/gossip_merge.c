/* gossip_merge.c - push/pull: our full state out, a peer's merged in.
 *
 * Layer: replication (uses util). Thread: loop only.
 * A push/pull is the pushPullHeader, one pushNodeState per node we
 * know (dead ones included), then serf's user state. Merging follows
 * memberlist: protocol ranges are checked first, an alive entry is an
 * alive message, a left entry a dead one from the node itself, and a
 * dead or suspect entry only makes us suspect the node. Before a join
 * is accepted (either side) names and node ids are checked so that a
 * newcomer cannot take a live member's name or id.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

int gossip_sm_encode_state(struct gossip *g, bool join, struct gossip_buf *b)
{
    struct gossip_buf us;
    struct gm_pphdr h;
    struct gm_alive a;
    int rc;

    gossip_buf_init(&us, 0);
    rc = gossip_serf_local_state(g, &us);
    if (rc == 0) {
        h.join = join;
        h.nodes = (int64_t)g->n_nodes;
        h.user_len = (int64_t)us.len;
        gossip_enc_pphdr(b, &h);
        for (size_t i = 0; i < g->n_nodes; i++) {
            gossip_sm_node_alive(g->nodes[i], &a);
            gossip_enc_pnode(b, &a);
        }
        gossip_buf_put(b, us.p, us.len);
        rc = b->err;
    }
    gossip_buf_release(&us);
    return rc;
}

int gossip_pp_parse(const uint8_t *p, size_t n, struct gossip_ppview *v)
{
    struct gossip_mpr r;
    struct gm_alive a;
    int rc;

    memset(v, 0, sizeof(*v));
    gossip_mpr_init(&r, p, n);
    rc = gossip_dec_pphdr(&r, &v->h);
    if (rc != 0)
        return rc;
    v->nodes = r.p;
    for (int64_t i = 0; i < v->h.nodes; i++) {
        rc = gossip_dec_pnode(&r, &a);
        if (rc != 0)
            return rc;
    }
    v->nodes_len = (size_t)(r.p - v->nodes);
    if ((uint64_t)(r.end - r.p) < (uint64_t)v->h.user_len)
        return GOSSIP_MORE;
    v->user = r.p;
    v->user_len = (size_t)v->h.user_len;
    v->end = r.p + v->user_len;
    return 0;
}

/* Walk the already validated node entries. */
static bool next_node(struct gossip_mpr *it, struct gm_alive *a,
                      uint16_t def_port)
{
    if (it->p >= it->end || gossip_dec_pnode(it, a) != 0)
        return false;
    if (a->addr.port == 0)
        a->addr.port = def_port;
    return true;
}

struct vrange {
    uint8_t pmin, pmax, dmin, dmax;
};

static void widen(struct vrange *r, const uint8_t *v)
{
    if (v[0] > r->pmin)
        r->pmin = v[0];
    if (v[1] < r->pmax)
        r->pmax = v[1];
    if (v[3] > r->dmin)
        r->dmin = v[3];
    if (v[4] < r->dmax)
        r->dmax = v[4];
}

static int check_vsn(const struct vrange *r, const char *name,
                     uint8_t pcur, uint8_t dcur, char *err)
{
    char q[ERR_QUOTE_MAX + 1];

    if (pcur < r->pmin || pcur > r->pmax)
        return err_set(err, ERR_CONFLICT, "node '%s' protocol version "
                       "(%u) is incompatible: [%u, %u]",
                       err_quote(q, sizeof(q), name), pcur, r->pmin,
                       r->pmax);
    if (dcur < r->dmin || dcur > r->dmax)
        return err_set(err, ERR_CONFLICT, "node '%s' delegate protocol "
                       "version (%u) is incompatible: [%u, %u]",
                       err_quote(q, sizeof(q), name), dcur, r->dmin,
                       r->dmax);
    return 0;
}

/* memberlist verifyProtocol: everyone must speak inside the range
 * every live node understands. */
static int verify_protocol(struct gossip *g, const struct gossip_ppview *v,
                           char *err)
{
    struct vrange r = {0, 255, 0, 255};
    struct gossip_mpr it;
    struct gm_alive a;
    int rc = 0;

    gossip_mpr_init(&it, v->nodes, v->nodes_len);
    while (next_node(&it, &a, g->bind.port))
        if (a.state == GN_ALIVE && a.vsn_len > 0)
            widen(&r, a.vsn);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->state == GN_ALIVE)
            widen(&r, g->nodes[i]->vsn);
    gossip_mpr_init(&it, v->nodes, v->nodes_len);
    while (rc == 0 && next_node(&it, &a, g->bind.port))
        rc = check_vsn(&r, a.node, a.vsn_len ? a.vsn[2] : 0,
                       a.vsn_len ? a.vsn[5] : 0, err);
    for (size_t i = 0; rc == 0 && i < g->n_nodes; i++)
        rc = check_vsn(&r, g->nodes[i]->name, g->nodes[i]->vsn[2],
                       g->nodes[i]->vsn[5], err);
    return rc;
}

static bool same_addr(const struct gossip_addr *x, const struct gossip_addr *y)
{
    return x->len == y->len && x->port == y->port &&
           memcmp(x->ip, y->ip, x->len) == 0;
}

/* Consul keeps one datacenter per LAN pool: both sides tag "dc". */
static bool dc_differs(struct gossip *g, const struct gm_alive *a,
                       char *dc, size_t n)
{
    const char *ours = gossip_own_tag(g, "dc");

    return !g->any_dc && ours != NULL && ours[0] != '\0' &&
           gossip_meta_tag(a->meta, a->meta_len, "dc", dc, n) &&
           strcmp(dc, ours) != 0;
}

/* inbound: a newcomer's state (name it after our member); else the
 * pool's answer to our join (name it after the remote entry). */
static int conflict_one(struct gossip *g, const struct gm_alive *a,
                        bool inbound, char *err)
{
    char q[ERR_QUOTE_MAX + 1], id[80], where[80];
    const struct gossip_node *n = gossip_node_get(g, a->node);
    const char *owner;

    if (n != NULL && (n->state == GN_ALIVE || n->state == GN_SUSPECT) &&
        !same_addr(&n->addr, &a->addr)) {
        gossip_addr_str(inbound ? &n->addr : &a->addr, where,
                        sizeof(where));
        return err_set(err, ERR_CONFLICT, "node name '%s' is already "
                       "taken by a live member at %s; node names must "
                       "be unique", err_quote(q, sizeof(q), a->node),
                       where);
    }
    if (dc_differs(g, a, id, sizeof(id)))
        return err_set(err, ERR_CONFLICT, "Member '%s' part of wrong "
                       "datacenter '%s'", err_quote(q, sizeof(q), a->node),
                       id);
    if (!gossip_meta_tag(a->meta, a->meta_len, "id", id, sizeof(id)))
        return 0;
    owner = gossip_sm_id_owner(g, id, a->node);
    if (owner == NULL)
        return 0;
    if (strcmp(owner, g->name) == 0)
        return err_set(err, ERR_CONFLICT, "Member '%s' has conflicting "
                       "node ID '%s' with this agent's ID",
                       err_quote(q, sizeof(q), a->node), id);
    return err_set(err, ERR_CONFLICT, "Member '%s' has conflicting node ID "
                   "'%s' with member '%s'", err_quote(q, sizeof(q), a->node),
                   id, owner);
}

int gossip_sm_check_conflicts(struct gossip *g, const uint8_t *p, size_t n,
                              bool inbound, char *err)
{
    struct gossip_ppview v;
    struct gossip_mpr it;
    struct gm_alive a;
    int rc = gossip_pp_parse(p, n, &v);

    if (rc != 0)
        return err_set(err, ERR_PARSE, "malformed push/pull state");
    gossip_mpr_init(&it, v.nodes, v.nodes_len);
    while (rc == 0 && next_node(&it, &a, g->bind.port))
        if (a.state == GN_ALIVE || a.state == GN_SUSPECT)
            rc = conflict_one(g, &a, inbound, err);
    return rc;
}

static void merge_nodes(struct gossip *g, const struct gossip_ppview *v)
{
    struct gossip_mpr it;
    struct gm_alive a;
    struct gm_suspect s;

    gossip_mpr_init(&it, v->nodes, v->nodes_len);
    while (next_node(&it, &a, g->bind.port)) {
        memset(&s, 0, sizeof(s));
        s.inc = a.inc;
        snprintf(s.node, sizeof(s.node), "%s", a.node);
        switch (a.state) {
        case GN_ALIVE:
            gossip_sm_alive(g, &a, false, GB_NONE);
            break;
        case GN_LEFT:
            snprintf(s.from, sizeof(s.from), "%s", a.node);
            gossip_sm_dead(g, &s, GB_NONE);
            break;
        default:
            /* A remote "dead" only makes us suspect it. */
            snprintf(s.from, sizeof(s.from), "%s", g->name);
            gossip_sm_suspect(g, &s);
            break;
        }
    }
}

int gossip_sm_merge_state(struct gossip *g, const uint8_t *p, size_t n,
                          bool *join, char *err)
{
    struct gossip_ppview v;
    int rc = gossip_pp_parse(p, n, &v);

    if (rc != 0)
        return err_set(err, ERR_PARSE, "malformed push/pull state");
    *join = v.h.join;
    rc = verify_protocol(g, &v, err);
    if (rc != 0)
        return rc;
    merge_nodes(g, &v);
    if (v.user_len > 0)
        gossip_serf_merge_state(g, v.user, v.user_len, v.h.join);
    return 0;
}

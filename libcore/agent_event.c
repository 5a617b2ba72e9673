/* agent_event.c - Consul user events: codec, filters, the agent's ring.
 *
 * Layer: agent (uses util, codec, replication). Thread: loop only.
 * Owns: struct agent_events (the ring of received events).
 * Tests: t/unit/check_agent_event.c, t/t8201-events.sh
 */
#include "agent_event.h"

#include <inttypes.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent_local.h"
#include "gossip.h"
#include "json_regex.h"
#include "log.h"

struct agent_events {
    struct agent_uevent ring[AGENT_EVENT_BUF];
    size_t next;  /* slot the next event goes to */
    size_t n;     /* events kept (<= AGENT_EVENT_BUF) */
};

void agent_uevent_release(struct agent_uevent *e)
{
    free(e->name);
    free(e->payload);
    free(e->node_filter);
    free(e->service_filter);
    free(e->tag_filter);
    memset(e, 0, sizeof(*e));
}

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int check_re(const char *pat, const char *what, char *err)
{
    regex_t re;
    char why[ERR_LEN];

    if (!set(pat))
        return 0;
    if (json_regex_compile(&re, pat, strlen(pat), why) != 0)
        return err_set(err, ERR_INVAL, "Invalid %s filter: %s", what, why);
    regfree(&re);
    return 0;
}

int agent_uevent_validate(const struct agent_uevent *e, char *err)
{
    int rc;

    if (!set(e->name))
        return err_set(err, ERR_INVAL, "User event missing name");
    if (set(e->tag_filter) && !set(e->service_filter))
        return err_set(err, ERR_INVAL, "Cannot provide tag filter without "
                       "service filter");
    if ((rc = check_re(e->node_filter, "node", err)) != 0 ||
        (rc = check_re(e->service_filter, "service", err)) != 0)
        return rc;
    return check_re(e->tag_filter, "tag", err);
}

/* ---- msgpack ---- */

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void pk_kv(msgpack_packer *pk, const char *k, const char *v)
{
    pk_str(pk, k);
    pk_str(pk, v);
}

int agent_uevent_encode(const struct agent_uevent *e, unsigned char **out,
                        size_t *len, char *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n = 3 + (e->len > 0) + set(e->node_filter) +
                 set(e->service_filter) + set(e->tag_filter);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* Go's encoder writes the struct's fields in order. */
    msgpack_pack_map(&pk, n);
    pk_kv(&pk, "ID", e->id);
    pk_kv(&pk, "n", e->name != NULL ? e->name : "");
    if (e->len > 0) {
        pk_str(&pk, "p");
        msgpack_pack_bin(&pk, e->len);
        msgpack_pack_bin_body(&pk, e->payload, e->len);
    }
    if (set(e->node_filter))
        pk_kv(&pk, "nf", e->node_filter);
    if (set(e->service_filter))
        pk_kv(&pk, "sf", e->service_filter);
    if (set(e->tag_filter))
        pk_kv(&pk, "tf", e->tag_filter);
    pk_str(&pk, "v");
    msgpack_pack_int64(&pk, e->version);
    if (sb.data == NULL) {
        msgpack_sbuffer_destroy(&sb);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    *out = (unsigned char *)sb.data;
    *len = sb.size;
    return 0;
}

static bool raw_of(const msgpack_object *o, const char **p, size_t *n)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *n = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *n = o->via.bin.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NIL) {
        *p = "";
        *n = 0;
        return true;
    }
    return false;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    const char *p;
    size_t n;

    return raw_of(k, &p, &n) && n == strlen(s) && memcmp(p, s, n) == 0;
}

static int dup_str(const msgpack_object *o, char **dst, char *err)
{
    const char *p;
    size_t n;

    if (!raw_of(o, &p, &n))
        return err_set(err, ERR_PARSE, "event field is not a string");
    if (memchr(p, '\0', n) != NULL)
        return err_set(err, ERR_PARSE, "event string holds a NUL byte");
    free(*dst);
    *dst = strndup(p, n);
    return *dst != NULL ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

static int dec_field(const msgpack_object_kv *kv, struct agent_uevent *out,
                     char *err)
{
    const char *p;
    size_t n;

    if (key_is(&kv->key, "ID")) {
        if (!raw_of(&kv->val, &p, &n) || n >= sizeof(out->id))
            return err_set(err, ERR_PARSE, "bad event ID");
        memcpy(out->id, p, n);
        out->id[n] = '\0';
    } else if (key_is(&kv->key, "n")) {
        return dup_str(&kv->val, &out->name, err);
    } else if (key_is(&kv->key, "nf")) {
        return dup_str(&kv->val, &out->node_filter, err);
    } else if (key_is(&kv->key, "sf")) {
        return dup_str(&kv->val, &out->service_filter, err);
    } else if (key_is(&kv->key, "tf")) {
        return dup_str(&kv->val, &out->tag_filter, err);
    } else if (key_is(&kv->key, "p")) {
        if (!raw_of(&kv->val, &p, &n))
            return err_set(err, ERR_PARSE, "bad event payload");
        free(out->payload);
        out->payload = NULL;
        out->len = n;
        if (n > 0 && (out->payload = malloc(n)) == NULL)
            return err_set(err, ERR_NOMEM, "out of memory");
        if (n > 0)
            memcpy(out->payload, p, n);
    } else if (key_is(&kv->key, "v")) {
        if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            out->version = (int64_t)(kv->val.via.u64 & INT64_MAX);
        else if (kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            out->version = kv->val.via.i64;
        else
            return err_set(err, ERR_PARSE, "bad event version");
    }
    return 0;
}

int agent_uevent_decode(const void *p, size_t n, struct agent_uevent *out,
                        char *err)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&u);
        return err_set(err, ERR_PARSE, "event is not a msgpack map");
    }
    for (uint32_t i = 0; i < u.data.via.map.size && rc == 0; i++)
        rc = dec_field(&u.data.via.map.ptr[i], out, err);
    msgpack_unpacked_destroy(&u);
    if (rc == 0 && out->name == NULL)
        rc = err_set(err, ERR_PARSE, "event has no name");
    return rc;
}

/* ---- filters ---- */

static bool rx_match(const char *pat, const char *s)
{
    regex_t re;
    char why[ERR_LEN];
    bool ok;

    if (json_regex_compile(&re, pat, strlen(pat), why) != 0)
        return false;
    ok = json_regex_match(&re, s, strlen(s));
    regfree(&re);
    return ok;
}

static bool service_ok(const struct agent_uevent *e, const char *id,
                       const json_t *svc)
{
    const char *name = json_string_value(json_object_get(svc, "Service"));
    const json_t *tags = json_object_get(svc, "Tags");
    size_t i;
    json_t *t;

    if (!rx_match(e->service_filter, id) &&
        (name == NULL || !rx_match(e->service_filter, name)))
        return false;
    if (!set(e->tag_filter))
        return true;
    json_array_foreach(tags, i, t)
        if (json_is_string(t) && rx_match(e->tag_filter,
                                          json_string_value(t)))
            return true;
    return false;
}

bool agent_uevent_match(const struct agent_uevent *e, const char *node,
                        const json_t *services)
{
    const char *id;
    json_t *svc;

    if (set(e->node_filter) && !rx_match(e->node_filter, node))
        return false;
    if (!set(e->service_filter))
        return true;
    json_object_foreach((json_t *)services, id, svc)
        if (service_ok(e, id, svc))
            return true;
    return false;
}

static bool hex_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

uint64_t agent_uevent_index(const char *id)
{
    char lo[17], hi[17];
    uint64_t a, b;

    if (id == NULL || strlen(id) != 36)
        return 0;
    /* 8-4-4 hex digits, then 4-12. */
    memcpy(lo, id, 8);
    memcpy(lo + 8, id + 9, 4);
    memcpy(lo + 12, id + 14, 4);
    memcpy(hi, id + 19, 4);
    memcpy(hi + 4, id + 24, 12);
    if (!hex_u64(lo, 16, &a) || !hex_u64(hi, 16, &b))
        return 0;
    return a ^ b;
}

static json_t *str_or_empty(const char *s)
{
    return json_string(s != NULL ? s : "");
}

json_t *agent_uevent_json(const struct agent_uevent *e)
{
    json_t *o = json_object();
    json_t *pl = json_null();
    char *b;

    if (e->len > 0 && (b = malloc(4 * ((e->len + 2) / 3) + 1)) != NULL) {
        EVP_EncodeBlock((unsigned char *)b, e->payload, (int)e->len);
        json_decref(pl);
        pl = json_string(b);
        free(b);
    }
    json_object_set_new(o, "ID", json_string(e->id));
    json_object_set_new(o, "Name", str_or_empty(e->name));
    json_object_set_new(o, "Payload", pl);
    json_object_set_new(o, "NodeFilter", str_or_empty(e->node_filter));
    json_object_set_new(o, "ServiceFilter", str_or_empty(e->service_filter));
    json_object_set_new(o, "TagFilter", str_or_empty(e->tag_filter));
    json_object_set_new(o, "Version", json_integer(e->version));
    /* LTime is a uint64; in practice far below INT64_MAX. */
    json_object_set_new(o, "LTime",
                        json_integer((json_int_t)(e->ltime & INT64_MAX)));
    return o;
}

/* ---- the agent's ring ---- */

int agent_event_fire(struct agent *a, struct agent_uevent *e, char *err)
{
    char name[GOSSIP_META_MAX + 64];
    unsigned char *buf;
    size_t len;
    int rc;

    if ((rc = agent_uevent_validate(e, err)) != 0)
        return rc;
    if (a->gossip == NULL)
        return err_set(err, ERR_UNREACHABLE, "gossip is not running");
    if (strlen(e->name) + strlen(AGENT_EVENT_PREFIX) >= sizeof(name))
        return err_set(err, ERR_TOOBIG, "user event exceeds configured "
                       "limit of 512 bytes before encoding");
    if ((rc = util_uuid(e->id, err)) != 0)
        return rc;
    e->version = AGENT_EVENT_VERSION;
    if ((rc = agent_uevent_encode(e, &buf, &len, err)) != 0)
        return rc;
    snprintf(name, sizeof(name), "%s%s", AGENT_EVENT_PREFIX, e->name);
    rc = gossip_user_event(a->gossip, name, buf, len, false, err);
    free(buf);
    return rc;
}

static struct agent_events *ring(struct agent *a)
{
    if (a->events == NULL)
        a->events = calloc(1, sizeof(*a->events));
    return a->events;
}

static void keep(struct agent *a, struct agent_uevent *e /* takes */)
{
    struct agent_events *r = ring(a);

    if (r == NULL) {
        agent_uevent_release(e);
        return;
    }
    agent_uevent_release(&r->ring[r->next]);
    r->ring[r->next] = *e;
    r->next = (r->next + 1) % AGENT_EVENT_BUF;
    if (r->n < AGENT_EVENT_BUF)
        r->n++;
    agent_watch_notify(a, "event", agent_uevent_index(e->id));
}

void agent_event_on_user(void *ctx, const char *name, const void *payload,
                         size_t len, uint64_t ltime)
{
    struct agent *a = ctx;
    size_t pl = strlen(AGENT_EVENT_PREFIX);
    struct agent_uevent e;
    char err[ERR_LEN];
    json_t *svcs;
    bool ok;

    if (strncmp(name, AGENT_EVENT_PREFIX, pl) != 0)
        return;
    if (agent_uevent_decode(payload, len, &e, err) != 0) {
        LOG_ERROR("agent", "Failed to decode event: %s", err);
        agent_uevent_release(&e);
        return;
    }
    e.ltime = ltime;
    if (e.version > AGENT_EVENT_VERSION)
        LOG_WARN("agent", "Event version may have unsupported features: "
                 "version=%" PRId64 " event='%s'", e.version, e.name);
    svcs = a->local != NULL ? agent_local_services(a->local) : NULL;
    ok = agent_uevent_match(&e, a->cfg.node_name, svcs);
    json_decref(svcs);
    if (!ok) {
        agent_uevent_release(&e);
        return;
    }
    LOG_DEBUG("agent", "new event: event_name='%s' event_id=%s", e.name,
              e.id);
    keep(a, &e);
}

size_t agent_event_count(struct agent *a)
{
    return a->events != NULL ? a->events->n : 0;
}

const struct agent_uevent *agent_event_get(struct agent *a, size_t i)
{
    struct agent_events *r = a->events;

    if (r == NULL || i >= r->n)
        return NULL;
    return &r->ring[(r->next + AGENT_EVENT_BUF - r->n + i) %
                    AGENT_EVENT_BUF];
}

void agent_event_release(struct agent *a)
{
    if (a->events == NULL)
        return;
    for (size_t i = 0; i < AGENT_EVENT_BUF; i++)
        agent_uevent_release(&a->events->ring[i]);
    free(a->events);
    a->events = NULL;
}

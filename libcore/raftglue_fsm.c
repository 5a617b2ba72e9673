/* raftglue_fsm.c - libraft FSM callbacks over struct fsm, entry framing.
 *
 * Layer: replication (uses util, store). Thread: loop only.
 * Tests: t/unit/check_raftglue.c
 *
 * Index of an applied command: libraft calls fsm->apply before it bumps
 * last_applied, so inside apply the entry's index is last_applied + 1.
 * Apply results live in gf->last_result: libraft hands the pointer to the
 * request callback synchronously, and on followers (no callback) nothing
 * needs freeing.
 */
#include "raftglue_fsm.h"

#include <stdint.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

#define FRAME_MAGIC 0x31524350u /* "PCR1" read as little endian */
#define FRAME_HDR 8

static void put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Unframe an entry; returns 0 and the payload, or -1. */
int raftglue_unframe(const struct raft_buffer *buf, const void **data,
                   size_t *len)
{
    const unsigned char *p = buf->base;
    uint32_t n;

    if (buf->len < FRAME_HDR || get_u32le(p) != FRAME_MAGIC)
        return -1;
    n = get_u32le(p + 4);
    if (n > buf->len - FRAME_HDR)
        return -1;
    *data = p + FRAME_HDR;
    *len = n;
    return 0;
}

static int fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
                        void **result)
{
    struct raftglue_fsm *gf = rf->data;
    uint64_t index = raft_last_applied(gf->raft) + 1;
    char err[ERR_LEN];
    int rc;

    const void *data;
    size_t len;

    uint64_t t0 = metrics_now_ns();

    memset(&gf->last_result, 0, sizeof(gf->last_result));
    rc = raftglue_unframe(buf, &data, &len) != 0
             ? err_set(err, ERR_PARSE, "bad entry frame")
             : fsm_apply(gf->fsm, index, data, len, &gf->last_result, err);
    if (rc != 0) {
        /* A command we cannot decode must not wedge the log. */
        LOG_ERROR("raft", "skipping entry %llu: %s",
                  (unsigned long long)index, err);
        gf->last_result.rc = rc;
        gf->last_result.index = index;
        gf->fsm->last_index = index;
    }
    *result = &gf->last_result;
    metrics_sample("raft.fsm.apply", metrics_since_ms(t0));
    return 0;
}

static int fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
                           unsigned *n_bufs)
{
    struct raftglue_fsm *gf = rf->data;
    char err[ERR_LEN];
    void *data = NULL;
    size_t len = 0;
    int rc;

    *bufs = raft_malloc(sizeof(**bufs));
    if (*bufs == NULL)
        return RAFT_NOMEM;
    rc = fsm_snapshot(gf->fsm, raft_malloc, &data, &len, err);
    if (rc != 0) {
        raft_free(*bufs);
        *bufs = NULL;
        if (rc == ERR_CONFLICT) { /* a restore is staged: later */
            LOG_INFO("raft", "snapshot postponed: %s", err);
            return RAFT_BUSY;
        }
        LOG_ERROR("raft", "snapshot failed: %s", err);
        return RAFT_NOMEM;
    }
    (*bufs)[0].base = data;
    (*bufs)[0].len = len;
    *n_bufs = 1;
    LOG_INFO("raft", "snapshot of state at index %llu: %zu bytes",
             (unsigned long long)gf->fsm->last_index, len);
    return 0;
}

static int fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct raftglue_fsm *gf = rf->data;
    char err[ERR_LEN];

    if (fsm_restore(gf->fsm, buf->base, buf->len, err) != 0) {
        LOG_ERROR("raft", "restoring snapshot failed: %s", err);
        return RAFT_CORRUPT;
    }
    raft_free(buf->base); /* ownership moved to us on success */
    LOG_INFO("raft", "restored state from snapshot at index %llu",
             (unsigned long long)gf->fsm->last_index);
    return 0;
}

void raftglue_fsm_init(struct raftglue_fsm *gf, struct fsm *fsm,
                       struct raft *raft)
{
    memset(gf, 0, sizeof(*gf));
    gf->fsm = fsm;
    gf->raft = raft;
    gf->iface.version = 1;
    gf->iface.data = gf;
    gf->iface.apply = fsm_apply_cb;
    gf->iface.snapshot = fsm_snapshot_cb;
    gf->iface.restore = fsm_restore_cb;
}

int raftglue_frame(const void *buf, size_t len, struct raft_buffer *out,
                   char *err)
{
    if (len > UINT32_MAX - 16)
        return err_set(err, ERR_TOOBIG, "command too large");
    out->len = FRAME_HDR + ((len + 7) & ~(size_t)7);
    out->base = raft_calloc(1, out->len);
    if (out->base == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    put_u32le(out->base, FRAME_MAGIC);
    put_u32le((unsigned char *)out->base + 4, (uint32_t)len);
    if (len > 0)
        memcpy((unsigned char *)out->base + FRAME_HDR, buf, len);
    return 0;
}

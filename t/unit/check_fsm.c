/* check_fsm.c - unit tests for the state machine (libcore/fsm.c).
 *
 * Covers the command codec (golden bytes, every verb, results, indexes,
 * change callbacks), strict rejection of malformed commands, and the
 * snapshot: round trip, and rejection of damaged streams without
 * touching the running state; the same for the autopilot configuration
 * (its command with and without CAS, and its optional snapshot record)
 * and for the catalog (its command, results and messages, and its
 * snapshot records; the store itself is tested in check_cat.c) and the
 * ACL state (its command, results and codes, its snapshot records;
 * the store itself is tested in check_acl_store.c).
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "cat.h"
#include "err.h"
#include "fsm.h"
#include "kv.h"
#include "unit.h"

/* ck_assert records a checkpoint through a pipe on every call; hot
 * loops use this instead, which costs nothing until it fails. */
#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond))                                                    \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);      \
    } while (0)

static struct fsm f;
static char err[ERR_LEN];
static int changes, ap_changes, cat_changes, acl_changes;
static uint64_t change_index;

static void on_change(void *ctx, const char *kind, uint64_t index)
{
    ck_assert_ptr_eq(ctx, &f);
    if (strcmp(kind, "autopilot") == 0)
        ap_changes++;
    else if (strcmp(kind, "catalog") == 0)
        cat_changes++;
    else if (strcmp(kind, "acl") == 0)
        acl_changes++;
    else
        ck_assert_str_eq(kind, "kv");
    changes++;
    change_index = index;
}

static void setup(void)
{
    ck_assert_int_eq(fsm_init(&f, err), 0);
    f.on_change = on_change;
    f.ctx = &f;
    changes = ap_changes = cat_changes = acl_changes = 0;
    change_index = 0;
}

static void teardown(void) { fsm_release(&f); }

static void *alloc_fn(size_t n) { return malloc(n > 0 ? n : 1); }

static struct fsm_result apply_op(enum fsm_kv_verb verb, const char *key,
                                  const char *val, uint64_t flags,
                                  uint64_t cas, uint64_t index)
{
    struct fsm_kv_op op = {verb, key, val, val ? strlen(val) : 0, flags,
                           cas};
    struct fsm_result res;
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    ck_assert_uint_eq(res.index, index);
    ck_assert_uint_eq(f.last_index, index);
    free(buf);
    return res;
}

/* The whole state as bytes, to prove that a failed call changed nothing. */
struct image {
    void *buf;
    size_t len;
    uint64_t last_index;
};

static struct image image_of(const struct fsm *g)
{
    struct image im;

    ck_assert_int_eq(fsm_snapshot(g, alloc_fn, &im.buf, &im.len, err), 0);
    im.last_index = g->last_index;
    return im;
}

static void assert_unchanged(const struct image *before)
{
    struct image now;

    REQUIRE(fsm_snapshot(&f, alloc_fn, &now.buf, &now.len, err) == 0);
    REQUIRE(now.len == before->len);
    REQUIRE(memcmp(now.buf, before->buf, now.len) == 0);
    REQUIRE(f.last_index == before->last_index);
    free(now.buf);
}

static struct fsm_result apply_ap(const struct fsm_autopilot *ap,
                                  bool use_cas, uint64_t cas, uint64_t index)
{
    struct fsm_result res;
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(fsm_encode_autopilot(ap, use_cas, cas, alloc_fn, &buf,
                                          &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    ck_assert_uint_eq(res.index, index);
    ck_assert_uint_eq(f.last_index, index);
    free(buf);
    return res;
}

static const struct fsm_autopilot ap_a = {false, true, 200, 250, 0, 10000,
                                          0, 0};
static const struct fsm_autopilot ap_b = {false, false, 300, 100, 3, 1500,
                                          0, 0};

static void assert_ap_values(const struct fsm_autopilot *want,
                             const struct fsm_autopilot *got)
{
    ck_assert(got->cleanup_dead_servers == want->cleanup_dead_servers);
    ck_assert_int_eq(got->last_contact_threshold_ms,
                     want->last_contact_threshold_ms);
    ck_assert_int_eq(got->max_trailing_logs, want->max_trailing_logs);
    ck_assert_int_eq(got->min_quorum, want->min_quorum);
    ck_assert_int_eq(got->server_stabilization_time_ms,
                     want->server_stabilization_time_ms);
}

/* ---- commands ---- */

/* Version 1 of "set k=v": must stay decodable forever. */
static const unsigned char golden_set[] = {
    0x87, 0xa1, 'v', 0x01, 0xa1, 't', 0xa2, 'k', 'v', 0xa4, 'v', 'e', 'r',
    'b', 0x01, 0xa3, 'k', 'e', 'y', 0xa1, 'k', 0xa3, 'v', 'a', 'l', 0xc4,
    0x01, 'v', 0xa5, 'f', 'l', 'a', 'g', 's', 0x05, 0xa3, 'c', 'a', 's',
    0x00,
};

START_TEST(encode_golden_bytes)
{
    struct fsm_kv_op op = {FSM_KV_SET, "k", "v", 1, 5, 0};
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err), 0);
    ck_assert_uint_eq(len, sizeof(golden_set));
    ck_assert_int_eq(memcmp(buf, golden_set, len), 0);
    free(buf);
    ck_assert_int_eq(fsm_apply(&f, 3, golden_set, sizeof(golden_set), &res,
                               err), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_uint_eq(kv_peek(f.kv, "k")->flags, 5);
}
END_TEST

START_TEST(apply_set)
{
    struct fsm_result res = apply_op(FSM_KV_SET, "a/b", "hello", 7, 0, 10);
    const struct kv_entry *e = kv_peek(f.kv, "a/b");

    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->len, 5);
    ck_assert_int_eq(memcmp(e->val, "hello", 5), 0);
    ck_assert_uint_eq(e->flags, 7);
    ck_assert_uint_eq(e->create_index, 10);
    ck_assert_uint_eq(e->modify_index, 10);
    ck_assert_int_eq(changes, 1);
    ck_assert_uint_eq(change_index, 10);
    /* Same value again is still a modification. */
    res = apply_op(FSM_KV_SET, "a/b", "hello", 7, 0, 11);
    ck_assert_uint_eq(kv_peek(f.kv, "a/b")->modify_index, 11);
    ck_assert_uint_eq(kv_peek(f.kv, "a/b")->create_index, 10);
    ck_assert_int_eq(changes, 2);
    /* An empty value is stored as NULL. */
    apply_op(FSM_KV_SET, "empty", NULL, 0, 0, 12);
    ck_assert_ptr_null(kv_peek(f.kv, "empty")->val);
}
END_TEST

START_TEST(apply_cas)
{
    struct fsm_result res = apply_op(FSM_KV_CAS, "k", "1", 0, 0, 5);

    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_int_eq(changes, 1);
    res = apply_op(FSM_KV_CAS, "k", "2", 0, 0, 6);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(!res.ok);
    ck_assert_int_eq(changes, 1);
    ck_assert_uint_eq(kv_peek(f.kv, "k")->modify_index, 5);
    res = apply_op(FSM_KV_CAS, "k", "3", 0, 4, 7);
    ck_assert(!res.ok);
    res = apply_op(FSM_KV_CAS, "k", "3", 9, 5, 8);
    ck_assert(res.ok);
    ck_assert_uint_eq(kv_peek(f.kv, "k")->modify_index, 8);
    ck_assert_uint_eq(kv_peek(f.kv, "k")->flags, 9);
    ck_assert_int_eq(changes, 2);
    ck_assert_uint_eq(change_index, 8);
    ck_assert_uint_eq(f.last_index, 8);
}
END_TEST

START_TEST(apply_delete)
{
    struct fsm_result res;

    apply_op(FSM_KV_SET, "k", "v", 0, 0, 2);
    res = apply_op(FSM_KV_DELETE, "k", NULL, 0, 0, 3);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_ptr_null(kv_peek(f.kv, "k"));
    ck_assert_uint_eq(kv_key_index(f.kv, "k"), 3);
    ck_assert_int_eq(changes, 2);
    res = apply_op(FSM_KV_DELETE, "k", NULL, 0, 0, 4);
    ck_assert(res.ok);
    ck_assert_int_eq(changes, 2);
    ck_assert_uint_eq(kv_table_index(f.kv), 3);
    ck_assert_uint_eq(f.last_index, 4);
}
END_TEST

START_TEST(apply_delete_cas)
{
    struct fsm_result res;

    apply_op(FSM_KV_SET, "k", "v", 0, 0, 2);
    res = apply_op(FSM_KV_DELETE_CAS, "k", NULL, 0, 1, 3);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(!res.ok);
    ck_assert_ptr_nonnull(kv_peek(f.kv, "k"));
    ck_assert_int_eq(changes, 1);
    res = apply_op(FSM_KV_DELETE_CAS, "k", NULL, 0, 2, 4);
    ck_assert(res.ok);
    ck_assert_ptr_null(kv_peek(f.kv, "k"));
    ck_assert_uint_eq(kv_key_index(f.kv, "k"), 4);
    ck_assert_int_eq(changes, 2);
    ck_assert_uint_eq(change_index, 4);
}
END_TEST

START_TEST(apply_delete_tree)
{
    struct fsm_result res;

    apply_op(FSM_KV_SET, "a/1", "v", 0, 0, 1);
    apply_op(FSM_KV_SET, "a/2", "v", 0, 0, 2);
    apply_op(FSM_KV_SET, "a0", "v", 0, 0, 3);
    apply_op(FSM_KV_SET, "b", "v", 0, 0, 4);
    res = apply_op(FSM_KV_DELETE_TREE, "a/", NULL, 0, 0, 5);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_uint_eq(kv_count(f.kv), 2);
    ck_assert_uint_eq(kv_prefix_index(f.kv, "a/"), 5);
    ck_assert_int_eq(changes, 5);
    res = apply_op(FSM_KV_DELETE_TREE, "zz", NULL, 0, 0, 6);
    ck_assert(res.ok);
    ck_assert_int_eq(changes, 5);
    res = apply_op(FSM_KV_DELETE_TREE, "", NULL, 0, 0, 7);
    ck_assert_uint_eq(kv_count(f.kv), 0);
    ck_assert_uint_eq(kv_tombstone_count(f.kv), 4);
    ck_assert_int_eq(changes, 6);
}
END_TEST

START_TEST(encode_rejects_bad_ops)
{
    char *big = malloc(KV_MAX_KEY + 2);
    struct fsm_kv_op op = {FSM_KV_SET, "", NULL, 0, 0, 0};
    void *buf = NULL;
    size_t len;

    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    op.key = NULL;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    memset(big, 'k', KV_MAX_KEY + 1);
    big[KV_MAX_KEY + 1] = '\0';
    op.key = big;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    op.key = "k";
    op.verb = (enum fsm_kv_verb)0;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    op.verb = (enum fsm_kv_verb)6;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    op.verb = FSM_KV_SET;
    op.len = 3;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_ptr_null(buf);
    op.verb = FSM_KV_DELETE_TREE;
    op.key = "";
    op.len = 0;
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &buf, &len, err), 0);
    free(buf);
    free(big);
}
END_TEST

/* Hand-built commands, to reach what the encoder never produces. */
struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void mp_init(struct mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(struct mp *m, const char *s)
{
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

/* A set command with its key given as raw bytes. */
static void raw_set(struct mp *m, const char *key, size_t klen)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 4);
    mp_str(m, "v");
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "t");
    mp_str(m, "kv");
    mp_str(m, "verb");
    msgpack_pack_uint8(&m->pk, FSM_KV_SET);
    mp_str(m, "key");
    msgpack_pack_str_with_body(&m->pk, key, klen);
}

static void expect_inval_key(const char *key, size_t klen)
{
    uint64_t saved = f.last_index;
    struct image before;
    struct fsm_result res;
    struct mp m;

    /* The command is consumed: only last_index moves. */
    f.last_index = 50;
    before = image_of(&f);
    f.last_index = saved;
    raw_set(&m, key, klen);
    ck_assert_int_eq(fsm_apply(&f, 50, m.sb.data, m.sb.size, &res, err), 0);
    ck_assert_int_eq(res.rc, ERR_INVAL);
    ck_assert(!res.ok);
    ck_assert_int_eq(changes, 0);
    assert_unchanged(&before);
    msgpack_sbuffer_destroy(&m.sb);
    free(before.buf);
}

START_TEST(apply_validates_keys)
{
    char *big = malloc(KV_MAX_KEY + 2);
    struct fsm_result res;
    struct mp m;

    expect_inval_key("", 0);
    expect_inval_key("a\0b", 3);
    memset(big, 'k', KV_MAX_KEY + 1);
    expect_inval_key(big, KV_MAX_KEY + 1);
    raw_set(&m, big, KV_MAX_KEY);
    ck_assert_int_eq(fsm_apply(&f, 51, m.sb.data, m.sb.size, &res, err), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    big[KV_MAX_KEY] = '\0';
    ck_assert_ptr_nonnull(kv_peek(f.kv, big));
    msgpack_sbuffer_destroy(&m.sb);
    free(big);
}
END_TEST

static void expect_parse(const void *buf, size_t len)
{
    struct image before = image_of(&f);
    struct fsm_result res;
    int c = changes;

    REQUIRE(fsm_apply(&f, 99, buf, len, &res, err) == ERR_PARSE);
    REQUIRE(res.rc == ERR_PARSE);
    REQUIRE(changes == c);
    assert_unchanged(&before);
    free(before.buf);
}

START_TEST(apply_rejects_every_truncation)
{
    struct fsm_kv_op op = {FSM_KV_CAS, "some/key", "value", 5, 3, 1};
    unsigned char *buf, *cut;
    void *b;
    size_t len, i;

    apply_op(FSM_KV_SET, "x", "y", 0, 0, 1);
    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &b, &len, err), 0);
    buf = b;
    for (i = 0; i < len; i++) {
        /* A fresh copy of exactly i bytes, so ASan sees any overread. */
        cut = malloc(i + 1);
        memcpy(cut, buf, i);
        expect_parse(cut, i);
        free(cut);
    }
    cut = malloc(len + 1);
    memcpy(cut, buf, len);
    cut[len] = 0xc0;
    expect_parse(cut, len + 1);
    free(cut);
    free(buf);
}
END_TEST

static void pack_fields(struct mp *m, int skip, const char *extra)
{
    msgpack_pack_map(&m->pk, 4 - (skip >= 0) + (extra != NULL));
    if (skip != 0) {
        mp_str(m, "v");
        msgpack_pack_uint8(&m->pk, 1);
    }
    if (skip != 1) {
        mp_str(m, "t");
        mp_str(m, "kv");
    }
    if (skip != 2) {
        mp_str(m, "verb");
        msgpack_pack_uint8(&m->pk, 1);
    }
    if (skip != 3) {
        mp_str(m, "key");
        mp_str(m, "k");
    }
    if (extra != NULL)
        mp_str(m, extra);
}

START_TEST(apply_rejects_malformed)
{
#define RAW(s) {s, sizeof(s) - 1}
    static const struct {
        const char *s;
        size_t n;
    } raws[] = {
        RAW(""),
        RAW("\xc1"),
        RAW("\x90"),
        RAW("\x80"),
        RAW("\xdd\xff\xff\xff\xff"),         /* array32 claims 4G items */
        RAW("\xdf\xff\xff\xff\xff\x01\x02"), /* map32 claims 4G pairs */
        RAW("\xdb\xff\xff\xff\xf0"),         /* str32 past the end */
        RAW("\x81\xa1v\xdd\x7f\xff\xff\xff"),
        RAW("\x84\xa1v\x02\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"), /* v2 */
        RAW("\x84\xa1v\x01\xa1t\xa3" "cat\xa4verb\x01\xa3key\xa1k"),
        RAW("\x84\xa1v\x01\xa1t\xa2kv\xa4verb\x00\xa3key\xa1k"),
        RAW("\x84\xa1v\x01\xa1t\xa2kv\xa4verb\x06\xa3key\xa1k"),
        RAW("\x84\xa1v\x01\xa1t\xa2kv\xa4verb\xff\xa3key\xa1k"),
        RAW("\x84\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xc4\x01k"),
        RAW("\x84\xa1v\xa1\x31\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"),
        RAW("\x85\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"
            "\xa3val\xa1v"),
        RAW("\x85\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"
            "\xa3" "cas\xff"),
        RAW("\x85\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"
            "\xa3key\xa1j"),
        RAW("\x85\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"
            "\x01\x01"),
        RAW("\x94\xa1v\x01\xa1t\xa2kv"),
        RAW("\x84\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k\xc0"),
    };
#undef RAW
    struct mp m;
    size_t i;
    int skip;

    for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        unsigned char *b = malloc(raws[i].n + 1);
        memcpy(b, raws[i].s, raws[i].n);
        expect_parse(b, raws[i].n);
        free(b);
    }
    for (skip = 0; skip < 4; skip++) {
        mp_init(&m);
        pack_fields(&m, skip, NULL);
        expect_parse(m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    mp_init(&m);
    pack_fields(&m, -1, "bogus");
    msgpack_pack_uint8(&m.pk, 1);
    expect_parse(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
}
END_TEST

/* One value of every msgpack format, packed by msgpack-c. */
static void pack_kind(msgpack_packer *pk, int kind, const char *blob)
{
    static const size_t sizes[] = {1, 2, 3, 4, 8, 16, 300, 70000};
    size_t i;

    if (kind < 8) {
        msgpack_pack_str_with_body(pk, blob, sizes[kind] * 3 / 2);
    } else if (kind < 16) {
        msgpack_pack_bin_with_body(pk, blob, sizes[kind - 8]);
    } else if (kind < 24) {
        msgpack_pack_ext_with_body(pk, blob, sizes[kind - 16], 7);
    } else if (kind < 27) {
        msgpack_pack_array(pk, (size_t[]){3, 20, 70000}[kind - 24]);
        for (i = 0; i < (size_t[]){3, 20, 70000}[kind - 24]; i++)
            msgpack_pack_nil(pk);
    } else if (kind < 30) {
        msgpack_pack_map(pk, (size_t[]){3, 20, 70000}[kind - 27]);
        for (i = 0; i < (size_t[]){3, 20, 70000}[kind - 27]; i++) {
            msgpack_pack_int64(pk, -(int64_t)i * 1000003);
            msgpack_pack_array(pk, 1);
            msgpack_pack_double(pk, 0.5);
        }
    } else {
        switch (kind) {
        case 30: msgpack_pack_nil(pk); break;
        case 31: msgpack_pack_true(pk); break;
        case 32: msgpack_pack_float(pk, 1.5f); break;
        case 33: msgpack_pack_double(pk, 2.5); break;
        case 34: msgpack_pack_uint64(pk, UINT64_MAX); break;
        case 35: msgpack_pack_uint32(pk, 70000); break;
        case 36: msgpack_pack_uint16(pk, 300); break;
        case 37: msgpack_pack_uint8(pk, 200); break;
        case 38: msgpack_pack_int64(pk, INT64_MIN); break;
        case 39: msgpack_pack_int32(pk, -70000); break;
        case 40: msgpack_pack_int16(pk, -300); break;
        case 41: msgpack_pack_int8(pk, -100); break;
        default: msgpack_pack_int8(pk, -3); break;
        }
    }
}

/* The bounds check in front of msgpack-c must agree with it on the size
 * of every format: a whole command with an unknown field of any type is
 * rejected for the field, not as truncated or malformed. */
START_TEST(scanner_agrees_with_msgpack)
{
    char *blob = calloc(1, 110000);
    struct fsm_result res;
    struct mp m;
    int kind;

    for (kind = 0; kind < 43; kind++) {
        mp_init(&m);
        pack_fields(&m, -1, "zz");
        pack_kind(&m.pk, kind, blob);
        ck_assert_int_eq(fsm_apply(&f, 1, m.sb.data, m.sb.size, &res, err),
                         ERR_PARSE);
        ck_assert_msg(strstr(err, "unknown command field") != NULL,
                      "kind %d: %s", kind, err);
        /* One byte short is always cut off. */
        ck_assert_int_eq(fsm_apply(&f, 1, m.sb.data, m.sb.size - 1, &res,
                                   err), ERR_PARSE);
        ck_assert_msg(strstr(err, "truncated") != NULL, "kind %d: %s",
                      kind, err);
        msgpack_sbuffer_destroy(&m.sb);
    }
    free(blob);
}
END_TEST

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Anything goes except a crash, a leak, or a change on ERR_PARSE. */
static void fuzz_one(const unsigned char *buf, size_t len, uint64_t index)
{
    size_t count = kv_count(f.kv);
    uint64_t last = f.last_index;
    struct fsm_autopilot ap = f.autopilot;
    struct fsm_result res;
    int rc = fsm_apply(&f, index, buf, len, &res, err);

    REQUIRE(rc == 0 || rc == ERR_PARSE);
    if (rc == ERR_PARSE) {
        REQUIRE(kv_count(f.kv) == count);
        REQUIRE(f.last_index == last);
        REQUIRE(ap.set == f.autopilot.set &&
                ap.modify_index == f.autopilot.modify_index &&
                ap.min_quorum == f.autopilot.min_quorum);
    }
}

START_TEST(apply_survives_random_bytes)
{
    unsigned char buf[64];
    size_t i, j, len;

    for (i = 0; i < 20000; i++) {
        len = rnd() % sizeof(buf);
        for (j = 0; j < len; j++)
            buf[j] = (unsigned char)rnd();
        /* Often start like a map so the decoder gets further in. */
        if (len > 0 && i % 2 == 0)
            buf[0] = 0x80 | (buf[0] & 0x07);
        fuzz_one(buf, len, i + 1);
    }
}
END_TEST

START_TEST(apply_survives_byte_flips)
{
    struct fsm_kv_op op = {FSM_KV_SET, "k/1", "val", 3, 1, 2};
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;
    unsigned v;
    uint64_t index = 1;

    ck_assert_int_eq(fsm_encode_kv(&op, alloc_fn, &b, &len, err), 0);
    buf = b;
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        for (v = 0; v < 256; v++) {
            memcpy(copy, buf, len);
            copy[i] = (unsigned char)v;
            fuzz_one(copy, len, index++);
        }
    }
    ck_assert_int_eq(kv_verify(f.kv, err), 0);
    free(copy);
    free(buf);
}
END_TEST

/* ---- autopilot commands ---- */

#define AP_FIELDS "\xa1v\x01" AP_REST
#define AP_REST                                                          \
    "\xa1t\xa9" "autopilot"                                             \
    "\xb4" "cleanup_dead_servers" "\xc3"                                 \
    "\xb9" "last_contact_threshold_ms" "\xcc\xc8"                        \
    "\xb1" "max_trailing_logs" "\xcc\xfa"                                \
    "\xaa" "min_quorum" "\x00"                                           \
    "\xbc" "server_stabilization_time_ms" "\xcd\x27\x10"

/* Version 1 autopilot writes: must stay decodable forever. */
static const char golden_ap[] = "\x87" AP_FIELDS;
static const char golden_ap_cas[] = "\x88" AP_FIELDS "\xa3" "cas" "\x00";

START_TEST(autopilot_golden_bytes)
{
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_autopilot(&ap_a, false, 0, alloc_fn, &buf,
                                          &len, err), 0);
    ck_assert_uint_eq(len, sizeof(golden_ap) - 1);
    ck_assert_int_eq(memcmp(buf, golden_ap, len), 0);
    free(buf);
    ck_assert_int_eq(fsm_encode_autopilot(&ap_a, true, 0, alloc_fn, &buf,
                                          &len, err), 0);
    ck_assert_uint_eq(len, sizeof(golden_ap_cas) - 1);
    ck_assert_int_eq(memcmp(buf, golden_ap_cas, len), 0);
    free(buf);
    ck_assert(!f.autopilot.set);
    ck_assert_int_eq(fsm_apply(&f, 3, golden_ap_cas, sizeof(golden_ap_cas)
                               - 1, &res, err), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert(f.autopilot.set);
    assert_ap_values(&ap_a, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 3);
    ck_assert_uint_eq(f.autopilot.modify_index, 3);
    ck_assert_int_eq(fsm_apply(&f, 4, golden_ap, sizeof(golden_ap) - 1,
                               &res, err), 0);
    ck_assert(res.ok);
    ck_assert_uint_eq(f.autopilot.modify_index, 4);
}
END_TEST

START_TEST(autopilot_apply_and_cas)
{
    struct fsm_result res;

    /* A CAS on a never-set config only passes with 0. */
    res = apply_ap(&ap_b, true, 3, 5);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(!res.ok);
    ck_assert(!f.autopilot.set);
    ck_assert_int_eq(changes, 0);
    res = apply_ap(&ap_b, true, 0, 6);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert(f.autopilot.set);
    assert_ap_values(&ap_b, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 6);
    ck_assert_uint_eq(f.autopilot.modify_index, 6);
    ck_assert_int_eq(ap_changes, 1);
    ck_assert_uint_eq(change_index, 6);
    /* Now 0 and any stale index fail, and change nothing. */
    res = apply_ap(&ap_a, true, 0, 7);
    ck_assert(!res.ok);
    res = apply_ap(&ap_a, true, 5, 8);
    ck_assert(!res.ok);
    assert_ap_values(&ap_b, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.modify_index, 6);
    ck_assert_int_eq(ap_changes, 1);
    ck_assert_uint_eq(f.last_index, 8);
    res = apply_ap(&ap_a, true, 6, 9);
    ck_assert(res.ok);
    assert_ap_values(&ap_a, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 6);
    ck_assert_uint_eq(f.autopilot.modify_index, 9);
    /* Without CAS a write always applies. */
    res = apply_ap(&ap_b, false, 0, 10);
    ck_assert(res.ok);
    assert_ap_values(&ap_b, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 6);
    ck_assert_uint_eq(f.autopilot.modify_index, 10);
    ck_assert_int_eq(ap_changes, 3);
    ck_assert_int_eq(changes, 3);
    ck_assert_uint_eq(change_index, 10);
    ck_assert_uint_eq(kv_count(f.kv), 0);
    ck_assert_uint_eq(kv_table_index(f.kv), 0);
}
END_TEST

START_TEST(autopilot_encode_rejects_bad_values)
{
    struct fsm_autopilot ap;
    void *buf = NULL;
    size_t len;
    int i;

    for (i = 0; i < 6; i++) {
        ap = ap_a;
        switch (i) {
        case 0: ap.last_contact_threshold_ms = -1; break;
        case 1: ap.max_trailing_logs = -1; break;
        case 2: ap.min_quorum = INT64_MIN; break;
        case 3: ap.server_stabilization_time_ms = -5; break;
        case 4: ap.last_contact_threshold_ms = FSM_MAX_DURATION_MS + 1;
            break;
        default: ap.server_stabilization_time_ms = INT64_MAX; break;
        }
        ck_assert_int_eq(fsm_encode_autopilot(&ap, false, 0, alloc_fn,
                                              &buf, &len, err), ERR_INVAL);
        ck_assert_ptr_null(buf);
    }
    ap = ap_a;
    ap.last_contact_threshold_ms = FSM_MAX_DURATION_MS;
    ap.server_stabilization_time_ms = FSM_MAX_DURATION_MS;
    ap.max_trailing_logs = ap.min_quorum = INT64_MAX;
    apply_ap(&ap, false, 0, 2);
    assert_ap_values(&ap, &f.autopilot);
}
END_TEST

/* An autopilot command with the numbers packed by hand (v[1] replaced by
 * big when that is not 0). skip drops field 0..6 (-1: none);
 * string_field (2..6) is written with the wrong type; extra adds a
 * field. */
static void raw_ap(struct mp *m, const int64_t v[4], uint64_t big, int skip,
                   int string_field, const char *extra)
{
    static const char *const names[] = {
        "last_contact_threshold_ms", "max_trailing_logs", "min_quorum",
        "server_stabilization_time_ms",
    };
    int i;

    mp_init(m);
    msgpack_pack_map(&m->pk, 7 - (skip >= 0) + (extra != NULL));
    if (skip != 0) {
        mp_str(m, "v");
        msgpack_pack_uint8(&m->pk, 1);
    }
    if (skip != 1) {
        mp_str(m, "t");
        mp_str(m, "autopilot");
    }
    if (skip != 2) {
        mp_str(m, "cleanup_dead_servers");
        if (string_field == 2)
            msgpack_pack_uint8(&m->pk, 1);
        else
            msgpack_pack_false(&m->pk);
    }
    for (i = 0; i < 4; i++) {
        if (skip == 3 + i)
            continue;
        mp_str(m, names[i]);
        if (string_field == 3 + i)
            mp_str(m, "10");
        else if (big != 0 && i == 1)
            msgpack_pack_uint64(&m->pk, big);
        else
            msgpack_pack_int64(&m->pk, v[i]);
    }
    if (extra != NULL) {
        mp_str(m, extra);
        msgpack_pack_uint8(&m->pk, 1);
    }
}

/* A valid command with a bad value: consumed, ERR_INVAL, no change. */
static void expect_inval_ap(const int64_t v[4], uint64_t big)
{
    uint64_t saved = f.last_index;
    struct image before;
    struct fsm_result res;
    struct mp m;
    int c = changes;

    f.last_index = 60;
    before = image_of(&f);
    f.last_index = saved;
    raw_ap(&m, v, big, -1, -1, NULL);
    ck_assert_int_eq(fsm_apply(&f, 60, m.sb.data, m.sb.size, &res, err), 0);
    ck_assert_int_eq(res.rc, ERR_INVAL);
    ck_assert(!res.ok);
    ck_assert_int_eq(changes, c);
    assert_unchanged(&before);
    msgpack_sbuffer_destroy(&m.sb);
    free(before.buf);
}

START_TEST(autopilot_apply_validates_values)
{
    static const int64_t bad[][4] = {
        {-1, 250, 0, 10000},
        {200, -1, 0, 10000},
        {200, 250, -7, 10000},
        {200, 250, 0, INT64_MIN},
        {FSM_MAX_DURATION_MS + 1, 250, 0, 10000},
        {200, 250, 0, FSM_MAX_DURATION_MS + 1},
    };
    static const int64_t good[4] = {0, 0, 0, FSM_MAX_DURATION_MS};
    struct fsm_result res;
    struct mp m;
    size_t i;

    apply_ap(&ap_b, false, 0, 5);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_inval_ap(bad[i], 0);
        ck_assert_msg(strstr(err, i < 4 ? "is negative" : "Go duration") !=
                      NULL, "%zu: %s", i, err);
    }
    expect_inval_ap(good, (uint64_t)INT64_MAX + 1);
    expect_inval_ap(good, UINT64_MAX);
    assert_ap_values(&ap_b, &f.autopilot);
    raw_ap(&m, good, 0, -1, -1, NULL);
    ck_assert_int_eq(fsm_apply(&f, 70, m.sb.data, m.sb.size, &res, err), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert(!f.autopilot.cleanup_dead_servers);
    ck_assert_int_eq(f.autopilot.server_stabilization_time_ms,
                     FSM_MAX_DURATION_MS);
    ck_assert_uint_eq(f.autopilot.create_index, 5);
    ck_assert_uint_eq(f.autopilot.modify_index, 70);
    msgpack_sbuffer_destroy(&m.sb);
}
END_TEST

START_TEST(autopilot_rejects_malformed)
{
#define RAW(s) {s, sizeof(s) - 1}
    static const struct {
        const char *s;
        size_t n;
    } raws[] = {
        RAW("\x87\xa1v\x02" AP_REST),                     /* v2 */
        RAW("\x88" AP_FIELDS "\xa3" "cas\xff"),           /* negative cas */
        RAW("\x88" AP_FIELDS "\xa3" "cas\xc0"),           /* nil cas */
        RAW("\x88" AP_FIELDS "\xa3key\xa1k"),             /* kv field */
        RAW("\x88" AP_FIELDS "\xa4verb\x01"),
        RAW("\x88" AP_FIELDS "\xaamin_quorum\x00"),       /* repeated */
        RAW("\x88" AP_FIELDS "\xa3" "cas\x00\xc0"),       /* trailing */
        RAW("\x87" AP_FIELDS "\x00"),                     /* trailing */
        RAW("\x86" AP_FIELDS),                            /* short map */
        RAW("\x85\xa1v\x01\xa1t\xa2kv\xa4verb\x01\xa3key\xa1k"
            "\xaamin_quorum\x00"),                        /* ap field in kv */
    };
#undef RAW
    static const int64_t v[4] = {1, 2, 3, 4};
    struct mp m;
    size_t i;
    int n;

    apply_ap(&ap_b, false, 0, 2);
    for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        unsigned char *b = malloc(raws[i].n + 1);
        memcpy(b, raws[i].s, raws[i].n);
        expect_parse(b, raws[i].n);
        free(b);
    }
    for (n = 0; n < 7; n++) {
        raw_ap(&m, v, 0, n, -1, NULL);    /* a field missing */
        expect_parse(m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    for (n = 2; n < 7; n++) {
        raw_ap(&m, v, 0, -1, n, NULL);    /* a field of the wrong type */
        expect_parse(m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    raw_ap(&m, v, 0, -1, -1, "flags");
    expect_parse(m.sb.data, m.sb.size);
    ck_assert_msg(strstr(err, "autopilot command with field 'flags'") !=
                  NULL, "%s", err);
    msgpack_sbuffer_destroy(&m.sb);
    raw_ap(&m, v, 0, -1, -1, "bogus");
    expect_parse(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    assert_ap_values(&ap_b, &f.autopilot);
}
END_TEST

START_TEST(autopilot_rejects_every_truncation)
{
    unsigned char *buf, *cut;
    void *b;
    size_t len, i;

    apply_ap(&ap_b, false, 0, 2);
    ck_assert_int_eq(fsm_encode_autopilot(&ap_a, true, 2, alloc_fn, &b, &len,
                                          err), 0);
    buf = b;
    for (i = 0; i < len; i++) {
        cut = malloc(i + 1);
        memcpy(cut, buf, i);
        expect_parse(cut, i);
        free(cut);
    }
    free(buf);
    assert_ap_values(&ap_b, &f.autopilot);
}
END_TEST

START_TEST(autopilot_survives_byte_flips)
{
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;
    unsigned v;
    uint64_t index = 1;

    ck_assert_int_eq(fsm_encode_autopilot(&ap_b, true, 0, alloc_fn, &b, &len,
                                          err), 0);
    buf = b;
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        for (v = 0; v < 256; v++) {
            memcpy(copy, buf, len);
            copy[i] = (unsigned char)v;
            fuzz_one(copy, len, index++);
            REQUIRE(!f.autopilot.set ||
                    (f.autopilot.last_contact_threshold_ms >= 0 &&
                     f.autopilot.last_contact_threshold_ms <=
                         FSM_MAX_DURATION_MS &&
                     f.autopilot.max_trailing_logs >= 0 &&
                     f.autopilot.min_quorum >= 0 &&
                     f.autopilot.create_index <=
                         f.autopilot.modify_index));
        }
    }
    ck_assert(f.autopilot.set);
    free(copy);
    free(buf);
}
END_TEST

/* ---- snapshots ---- */

static void build_state(struct fsm *g)
{
    static const unsigned char bin[] = {0, 0xff, 'x', 0};
    struct kv_entry e = {"locked", (unsigned char *)"held", 4, 3, 2, 6, 4,
                         "adf4238a-882b-9ddc-4a9d-5b6758e4159e"};
    char key[32];
    int i;

    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "app/%02d", i);
        ck_assert_int_eq(kv_put(g->kv, key, key, strlen(key), i, 10 + i,
                                err), 0);
    }
    ck_assert_int_eq(kv_put(g->kv, "bin", bin, sizeof(bin), 0, 40, err), 0);
    ck_assert_int_eq(kv_put(g->kv, "empty", NULL, 0, 0, 41, err), 0);
    ck_assert_int_eq(kv_restore_entry(g->kv, &e, err), 0);
    ck_assert_int_eq(kv_delete(g->kv, "app/03", 42, err), 0);
    ck_assert_int_eq(kv_delete_tree(g->kv, "app/1", 43, err), 0);
    kv_set_table_index(g->kv, 44);
    g->last_index = 45;
}

struct pair {
    const struct kv_store *other;
    int n;
};

static int same_entry(void *ctx, const struct kv_entry *e)
{
    struct pair *p = ctx;
    const struct kv_entry *o = kv_peek(p->other, e->key);

    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(o->len, e->len);
    ck_assert((o->val == NULL) == (e->val == NULL));
    if (e->len > 0)
        ck_assert_int_eq(memcmp(o->val, e->val, e->len), 0);
    ck_assert_uint_eq(o->flags, e->flags);
    ck_assert_uint_eq(o->create_index, e->create_index);
    ck_assert_uint_eq(o->modify_index, e->modify_index);
    ck_assert_uint_eq(o->lock_index, e->lock_index);
    ck_assert((o->session == NULL) == (e->session == NULL));
    if (e->session != NULL)
        ck_assert_str_eq(o->session, e->session);
    p->n++;
    return 0;
}

static int same_tomb(void *ctx, const char *key, uint64_t index)
{
    struct pair *p = ctx;

    ck_assert_ptr_null(kv_peek(p->other, key));
    ck_assert_uint_eq(kv_key_index(p->other, key), index);
    p->n++;
    return 0;
}

static void assert_same_state(const struct fsm *a, const struct fsm *b)
{
    struct pair p = {b->kv, 0};

    ck_assert_uint_eq(a->last_index, b->last_index);
    ck_assert_uint_eq(kv_table_index(a->kv), kv_table_index(b->kv));
    ck_assert_uint_eq(kv_count(a->kv), kv_count(b->kv));
    ck_assert_uint_eq(kv_tombstone_count(a->kv), kv_tombstone_count(b->kv));
    ck_assert_int_eq(kv_walk_prefix(a->kv, "", same_entry, &p), 0);
    ck_assert_int_eq(kv_walk_tombstones(a->kv, same_tomb, &p), 0);
    ck_assert_int_eq(p.n, (int)(kv_count(a->kv) + kv_tombstone_count(a->kv)));
    ck_assert_int_eq(kv_verify(b->kv, err), 0);
}

START_TEST(snapshot_round_trip)
{
    struct fsm src;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_state(&src);
    ck_assert_uint_eq(kv_count(src.kv), 12);
    ck_assert_uint_eq(kv_tombstone_count(src.kv), 11);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &buf, &len, err), 0);
    apply_op(FSM_KV_SET, "old", "state", 0, 0, 1000);
    changes = 0;
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_int_eq(changes, 1);
    ck_assert_uint_eq(change_index, 45);
    ck_assert_ptr_null(kv_peek(f.kv, "old"));
    assert_same_state(&src, &f);
    ck_assert_uint_eq(f.last_index, 45);
    ck_assert_uint_eq(kv_table_index(f.kv), 44);
    ck_assert_str_eq(kv_peek(f.kv, "locked")->session,
                     "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
    ck_assert_ptr_null(kv_peek(f.kv, "empty")->val);
    free(buf);
    fsm_release(&src);
}
END_TEST

START_TEST(snapshot_of_empty_state)
{
    struct fsm src;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &buf, &len, err), 0);
    apply_op(FSM_KV_SET, "x", "y", 0, 0, 5);
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_uint_eq(kv_count(f.kv), 0);
    ck_assert_uint_eq(f.last_index, 0);
    ck_assert_uint_eq(kv_table_index(f.kv), 0);
    free(buf);
    fsm_release(&src);
}
END_TEST

/* Restore must fail with ERR_PARSE and leave the running state alone. */
static void expect_bad_snapshot(const void *buf, size_t len)
{
    struct image before = image_of(&f);
    int c = changes;

    REQUIRE(fsm_restore(&f, buf, len, err) == ERR_PARSE);
    REQUIRE(changes == c);
    assert_unchanged(&before);
    free(before.buf);
}

static void small_snapshot(void **buf, size_t *len)
{
    struct fsm src;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    ck_assert_int_eq(kv_put(src.kv, "a", "1", 1, 0, 2, err), 0);
    ck_assert_int_eq(kv_put(src.kv, "b", NULL, 0, 0, 3, err), 0);
    ck_assert_int_eq(kv_put(src.kv, "c", "3", 1, 0, 4, err), 0);
    ck_assert_int_eq(kv_delete(src.kv, "c", 5, err), 0);
    src.last_index = 6;
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, buf, len, err), 0);
    fsm_release(&src);
}

START_TEST(restore_rejects_truncation_and_trailing_bytes)
{
    unsigned char *buf, *cut;
    void *b;
    size_t len, i;

    small_snapshot(&b, &len);
    buf = b;
    apply_op(FSM_KV_SET, "live", "data", 0, 0, 77);
    for (i = 0; i < len; i++) {
        cut = malloc(i + 1);
        memcpy(cut, buf, i);
        expect_bad_snapshot(cut, i);
        free(cut);
    }
    cut = malloc(len + 1);
    memcpy(cut, buf, len);
    cut[len] = 0x00;
    expect_bad_snapshot(cut, len + 1);
    ck_assert_int_eq(fsm_restore(&f, cut, len, err), 0);
    ck_assert_uint_eq(f.last_index, 6);
    free(cut);
    free(buf);
}
END_TEST

/* Replace the first occurrence of a byte pattern; it must exist. */
static void patch(unsigned char *buf, size_t len, const char *from,
                  const char *to, size_t n)
{
    unsigned char *p = memmem(buf, len, from, n);

    ck_assert_ptr_nonnull(p);
    memcpy(p, to, n);
}

START_TEST(restore_rejects_detectable_flips)
{
    static const struct {
        const char *from, *to;
        size_t n;
    } flips[] = {
        {"\xa7version\x01", "\xa7version\x02", 9},
        {"\xa7version\x01", "\xa7version\x00", 9},
        {"\xa7version\x01", "\xa7version\xa1", 9},
        {"proconsul-state", "proconsul-stats", 15},
        {"last_index", "last_indey", 10},
        {"\x98\x01\xa1" "a", "\x98\x03\xa1" "a", 4},   /* record type */
        {"\x98\x01\xa1" "a", "\x97\x01\xa1" "a", 4},   /* field count */
        {"\x98\x01\xa1" "a", "\x98\x01\xa1" "\x00", 4}, /* NUL key */
        {"\x98\x01\xa1" "b", "\x98\x01\xa1" "a", 4},   /* duplicate key */
        {"\x93\x02\xa1" "c", "\x93\x02\xa1" "a", 4},   /* dup tombstone */
        {"\x93\x02\xa1" "c", "\x93\x02\xc4" "c", 4},   /* bin key */
        {"\x92\x00\x03", "\x92\x00\x04", 3},          /* end count */
        {"\x92\x00\x03", "\x92\x00\x02", 3},
        {"\x92\x00\x03", "\x92\x01\x03", 3},
        {"\x92\x00\x03", "\x92\x00\xc0", 3},
        {"\x92\x00\x03", "\x91\x00\x03", 3},
    };
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;

    small_snapshot(&b, &len);
    buf = b;
    copy = malloc(len);
    apply_op(FSM_KV_SET, "live", "data", 0, 0, 77);
    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(copy, buf, len);
        patch(copy, len, flips[i].from, flips[i].to, flips[i].n);
        expect_bad_snapshot(copy, len);
    }
    memcpy(copy, buf, len);
    patch(copy, len, "\xa7version\x01", "\xa7version\x02", 9);
    ck_assert_int_eq(fsm_restore(&f, copy, len, err), ERR_PARSE);
    ck_assert_msg(strstr(err, "unsupported snapshot version 2") != NULL,
                  "message: %s", err);
    free(copy);
    free(buf);
}
END_TEST

START_TEST(restore_survives_every_byte_flip)
{
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;
    unsigned x;
    int rc;

    small_snapshot(&b, &len);
    buf = b;
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        for (x = 1; x < 256; x <<= 1) {
            struct image before = image_of(&f);
            memcpy(copy, buf, len);
            copy[i] ^= (unsigned char)x;
            rc = fsm_restore(&f, copy, len, err);
            REQUIRE(rc == 0 || rc == ERR_PARSE);
            if (rc == ERR_PARSE)
                assert_unchanged(&before);
            REQUIRE(kv_verify(f.kv, err) == 0);
            free(before.buf);
        }
    }
    free(copy);
    free(buf);
}
END_TEST

/* A snapshot written by hand, to pin the documented format. */
static void hand_snapshot(struct mp *m, uint64_t version, bool end)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 4);
    mp_str(m, "format");
    mp_str(m, "proconsul-state");
    mp_str(m, "version");
    msgpack_pack_uint64(&m->pk, version);
    mp_str(m, "last_index");
    msgpack_pack_uint64(&m->pk, 30);
    mp_str(m, "kv_table_index");
    msgpack_pack_uint64(&m->pk, 29);
    msgpack_pack_array(&m->pk, 3);
    msgpack_pack_uint8(&m->pk, 2);
    mp_str(m, "t/gone");
    msgpack_pack_uint8(&m->pk, 20);
    msgpack_pack_array(&m->pk, 8);
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "t/key");
    msgpack_pack_bin_with_body(&m->pk, "val", 3);
    msgpack_pack_uint8(&m->pk, 1);
    msgpack_pack_uint8(&m->pk, 11);
    msgpack_pack_uint8(&m->pk, 12);
    msgpack_pack_uint8(&m->pk, 0);
    msgpack_pack_nil(&m->pk);
    if (end) {
        msgpack_pack_array(&m->pk, 2);
        msgpack_pack_uint8(&m->pk, 0);
        msgpack_pack_uint8(&m->pk, 2);
    }
}

START_TEST(restore_hand_written_snapshot)
{
    const struct kv_entry *e;
    struct mp m;

    apply_op(FSM_KV_SET, "live", "data", 0, 0, 77);
    hand_snapshot(&m, 2, true);
    expect_bad_snapshot(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    hand_snapshot(&m, 1, false);
    expect_bad_snapshot(m.sb.data, m.sb.size);
    ck_assert_msg(strstr(err, "missing end record") != NULL, "%s", err);
    msgpack_sbuffer_destroy(&m.sb);
    hand_snapshot(&m, 1, true);
    ck_assert_int_eq(fsm_restore(&f, m.sb.data, m.sb.size, err), 0);
    msgpack_sbuffer_destroy(&m.sb);
    ck_assert_uint_eq(f.last_index, 30);
    ck_assert_uint_eq(kv_table_index(f.kv), 29);
    ck_assert_uint_eq(kv_key_index(f.kv, "t/gone"), 20);
    e = kv_peek(f.kv, "t/key");
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->create_index, 11);
    ck_assert_uint_eq(e->modify_index, 12);
    ck_assert_ptr_null(kv_peek(f.kv, "live"));
}
END_TEST

START_TEST(snapshot_round_trip_with_autopilot)
{
    struct fsm src;
    void *buf, *plain;
    size_t len, plain_len;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_state(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &plain, &plain_len, err),
                     0);
    src.autopilot = ap_b;
    src.autopilot.set = true;
    src.autopilot.create_index = 7;
    src.autopilot.modify_index = 9;
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &buf, &len, err), 0);
    /* One more record, and nothing else differs. */
    ck_assert_uint_gt(len, plain_len);
    ck_assert_int_eq(memcmp(buf, plain, plain_len - 3), 0);
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_int_eq(changes, 2);
    ck_assert_int_eq(ap_changes, 1);
    assert_same_state(&src, &f);
    ck_assert(f.autopilot.set);
    assert_ap_values(&ap_b, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 7);
    ck_assert_uint_eq(f.autopilot.modify_index, 9);
    /* Without the record the configuration goes back to unset. */
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert(!f.autopilot.set);
    ck_assert_uint_eq(f.autopilot.modify_index, 0);
    ck_assert_int_eq(ap_changes, 2);
    ck_assert_int_eq(changes, 4);
    assert_same_state(&src, &f);
    /* Unset before and after: no autopilot change reported. */
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert_int_eq(ap_changes, 2);
    ck_assert_int_eq(changes, 5);
    free(buf);
    free(plain);
    fsm_release(&src);
}
END_TEST

/* A version 1 snapshot with one entry and n autopilot records of a
 * variant (0 is valid); the end record counts delta more than written. */
static void ap_snapshot(struct mp *m, int variant, int n, int delta)
{
    int i;

    mp_init(m);
    msgpack_pack_map(&m->pk, 4);
    mp_str(m, "format");
    mp_str(m, "proconsul-state");
    mp_str(m, "version");
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "last_index");
    msgpack_pack_uint8(&m->pk, 30);
    mp_str(m, "kv_table_index");
    msgpack_pack_uint8(&m->pk, 29);
    msgpack_pack_array(&m->pk, 3);
    msgpack_pack_uint8(&m->pk, 2);
    mp_str(m, "t/gone");
    msgpack_pack_uint8(&m->pk, 20);
    for (i = 0; i < n; i++) {
        msgpack_pack_array(&m->pk, variant == 1 ? 7 : variant == 2 ? 9 : 8);
        msgpack_pack_uint8(&m->pk, 3);
        if (variant == 3)
            msgpack_pack_uint8(&m->pk, 1);
        else
            msgpack_pack_false(&m->pk);
        msgpack_pack_int64(&m->pk, variant == 4 ? -1 : 300);
        msgpack_pack_uint64(&m->pk, variant == 5 ? UINT64_MAX : 100);
        if (variant == 10)
            mp_str(m, "3");
        else
            msgpack_pack_uint8(&m->pk, 3);
        msgpack_pack_int64(&m->pk, variant == 6 ? FSM_MAX_DURATION_MS + 1
                                                : 1500);
        msgpack_pack_uint8(&m->pk, variant == 7 ? 0 : variant == 8 ? 10 : 7);
        if (variant == 9)
            msgpack_pack_nil(&m->pk);
        else if (variant != 1)
            msgpack_pack_uint8(&m->pk, 9);
        if (variant == 2)
            msgpack_pack_nil(&m->pk);
    }
    msgpack_pack_array(&m->pk, 2);
    msgpack_pack_uint8(&m->pk, 0);
    msgpack_pack_uint8(&m->pk, (uint8_t)(1 + n + delta));
}

START_TEST(restore_checks_autopilot_record)
{
    struct mp m;
    int variant;

    apply_op(FSM_KV_SET, "live", "data", 0, 0, 77);
    apply_ap(&ap_a, false, 0, 78);
    for (variant = 1; variant <= 10; variant++) {
        ap_snapshot(&m, variant, 1, 0);
        expect_bad_snapshot(m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    ap_snapshot(&m, 0, 2, 0);   /* at most one record */
    expect_bad_snapshot(m.sb.data, m.sb.size);
    ck_assert_msg(strstr(err, "second autopilot record") != NULL, "%s", err);
    msgpack_sbuffer_destroy(&m.sb);
    ap_snapshot(&m, 0, 1, -1);  /* the end record counts it */
    expect_bad_snapshot(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    assert_ap_values(&ap_a, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.modify_index, 78);
    ap_snapshot(&m, 0, 1, 0);
    ck_assert_int_eq(fsm_restore(&f, m.sb.data, m.sb.size, err), 0);
    msgpack_sbuffer_destroy(&m.sb);
    assert_ap_values(&ap_b, &f.autopilot);
    ck_assert_uint_eq(f.autopilot.create_index, 7);
    ck_assert_uint_eq(f.autopilot.modify_index, 9);
    ck_assert_uint_eq(f.last_index, 30);
    ck_assert_ptr_null(kv_peek(f.kv, "live"));
    ck_assert_uint_eq(kv_key_index(f.kv, "t/gone"), 20);
}
END_TEST

START_TEST(restore_autopilot_truncations_and_flips)
{
    unsigned char *buf, *copy;
    struct mp m;
    size_t len, i;
    unsigned x;
    int rc;

    ap_snapshot(&m, 0, 1, 0);
    len = m.sb.size;
    buf = malloc(len);
    memcpy(buf, m.sb.data, len);
    msgpack_sbuffer_destroy(&m.sb);
    apply_op(FSM_KV_SET, "live", "data", 0, 0, 77);
    apply_ap(&ap_a, false, 0, 78);
    for (i = 0; i < len; i++) {
        copy = malloc(i + 1);
        memcpy(copy, buf, i);
        expect_bad_snapshot(copy, i);
        free(copy);
    }
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        for (x = 1; x < 256; x <<= 1) {
            struct image before = image_of(&f);
            memcpy(copy, buf, len);
            copy[i] ^= (unsigned char)x;
            rc = fsm_restore(&f, copy, len, err);
            REQUIRE(rc == 0 || rc == ERR_PARSE);
            if (rc == ERR_PARSE)
                assert_unchanged(&before);
            REQUIRE(!f.autopilot.set || (f.autopilot.create_index >= 1 &&
                                         f.autopilot.create_index <=
                                             f.autopilot.modify_index));
            free(before.buf);
        }
    }
    free(copy);
    free(buf);
}
END_TEST

/* ---- catalog commands ---- */

static json_t *jtext(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    ck_assert_msg(v != NULL, "bad test json: %s", text);
    return v;
}

static struct fsm_result apply_cat(const char *op, const char *text,
                                   uint64_t index)
{
    json_t *req = jtext(text);
    struct fsm_result res;
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(fsm_encode_catalog(op, req, alloc_fn, &buf, &len, err),
                     0);
    json_decref(req);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    ck_assert_uint_eq(res.index, index);
    ck_assert_uint_eq(f.last_index, index);
    free(buf);
    return res;
}

#define CAT_REG                                                         \
    "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":{\"ID\":"     \
    "\"web1\",\"Service\":\"web\",\"Port\":80},\"Check\":{\"Name\":"     \
    "\"alive\",\"ServiceID\":\"web1\",\"Status\":\"passing\"}}"

/* Version 1 of registering {"Node":"n1","Address":"a"}: must stay
 * decodable forever. */
static const char golden_cat[] =
    "\x84\xa1v\x01\xa1t\xa7" "catalog" "\xa2" "op" "\xa8" "register"
    "\xa3" "req" "\xbb" "{\"Node\":\"n1\",\"Address\":\"a\"}";

START_TEST(catalog_golden_bytes)
{
    json_t *req = jtext("{\"Node\":\"n1\",\"Address\":\"a\"}");
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_catalog("register", req, alloc_fn, &buf,
                                        &len, err), 0);
    json_decref(req);
    ck_assert_uint_eq(len, sizeof(golden_cat) - 1);
    ck_assert_int_eq(memcmp(buf, golden_cat, len), 0);
    free(buf);
    ck_assert_int_eq(fsm_apply(&f, 4, golden_cat, sizeof(golden_cat) - 1,
                               &res, err), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_str_eq(res.msg, "");
    ck_assert_uint_eq(cat_index(f.cat, CAT_NODES), 4);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(change_index, 4);
}
END_TEST

START_TEST(catalog_apply_results)
{
    struct fsm_result res = apply_cat("register", CAT_REG, 10);
    json_t *n;

    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(cat_service_index(f.cat, "web"), 10);
    n = cat_nodes(f.cat);
    /* The default datacenter of fsm_init. */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(n, 0), "Datacenter")), "dc1");
    json_decref(n);
    /* Unchanged: ok, but no change reported and no index moves. */
    res = apply_cat("register", CAT_REG, 11);
    ck_assert(res.ok);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(cat_max_index(f.cat), 10);
    /* A KV write never touches the catalog's indexes. */
    apply_op(FSM_KV_SET, "k", "v", 0, 0, 12);
    ck_assert_uint_eq(cat_max_index(f.cat), 10);
    ck_assert_uint_eq(cat_service_index(f.cat, "web"), 10);
    ck_assert_uint_eq(cat_node_index(f.cat, "n1"), 10);
    ck_assert_int_eq(cat_changes, 1);
    /* A refusal that needs the state: consumed, with Consul's text. */
    res = apply_cat("register",
                    "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Check\":"
                    "{\"Name\":\"c\",\"ServiceID\":\"db\"}}", 13);
    ck_assert_int_eq(res.rc, ERR_INVAL);
    ck_assert(!res.ok);
    ck_assert_str_eq(res.msg, "failed inserting check on node \"n1\": "
                              "Missing service registration");
    ck_assert_str_eq(err, res.msg);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(cat_max_index(f.cat), 10);
    /* Deregistering: the service and its check go. */
    res = apply_cat("deregister", "{\"Node\":\"n1\",\"ServiceID\":\"web1\"}",
                    14);
    ck_assert(res.ok);
    ck_assert_str_eq(res.msg, "");
    ck_assert_int_eq(cat_changes, 2);
    ck_assert_uint_eq(change_index, 14);
    ck_assert_uint_eq(cat_index(f.cat, CAT_CHECKS), 14);
    ck_assert_uint_eq(cat_index(f.cat, CAT_NODES), 10);
    /* A no-op deregistration reports nothing. */
    res = apply_cat("deregister", "{\"Node\":\"zz\"}", 15);
    ck_assert(res.ok);
    ck_assert_int_eq(cat_changes, 2);
    ck_assert_uint_eq(f.last_index, 15);
}
END_TEST

START_TEST(catalog_datacenter)
{
    struct fsm g;
    json_t *req = jtext("{\"Node\":\"n\",\"Address\":\"a\"}"), *n;
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_init_dc(&g, "east", err), 0);
    ck_assert_int_eq(fsm_encode_catalog("register", req, alloc_fn, &buf,
                                        &len, err), 0);
    ck_assert_int_eq(fsm_apply(&g, 1, buf, len, &res, NULL), 0);
    n = cat_nodes(g.cat);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(n, 0), "Datacenter")), "east");
    json_decref(n);
    /* A restore keeps the datacenter. */
    free(buf);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_restore(&g, buf, len, err), 0);
    ck_assert_str_eq(cat_datacenter(g.cat), "east");
    free(buf);
    json_decref(req);
    fsm_release(&g);
}
END_TEST

START_TEST(catalog_encode_rejects)
{
    static const struct {
        const char *op, *req, *msg;
    } bad[] = {
        {"update", "{\"Node\":\"n\"}", "unknown catalog op"},
        {NULL, "{\"Node\":\"n\"}", "unknown catalog op"},
        {"register", "{\"Node\":\"n\"}",
         "Must provide address if SkipNodeUpdate is not set"},
        {"register", "{\"Node\":\"n\",\"Address\":\"a\",\"Service\":{}}",
         "Must provide service name"},
        {"deregister", "{\"CheckID\":\"c\"}", "Must provide node"},
        {"deregister", "[1]",
         "Request decode failed: json: cannot unmarshal array into Go value "
         "of type structs.DeregisterRequest"},
    };
    size_t i, len;
    void *buf;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *req = jtext(bad[i].req);

        buf = NULL;
        ck_assert_int_eq(fsm_encode_catalog(bad[i].op, req, alloc_fn, &buf,
                                            &len, err), ERR_INVAL);
        ck_assert_str_eq(err, bad[i].msg);
        ck_assert_ptr_null(buf);
        json_decref(req);
    }
}
END_TEST

/* A catalog command with raw op and req, and an optional extra field. */
static void raw_cat(struct mp *m, const char *op, const char *req,
                    size_t req_len, const char *extra)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 4 + (extra != NULL) - (req == NULL));
    mp_str(m, "v");
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "t");
    mp_str(m, "catalog");
    mp_str(m, "op");
    mp_str(m, op);
    if (req != NULL) {
        mp_str(m, "req");
        msgpack_pack_str_with_body(&m->pk, req, req_len);
    }
    if (extra != NULL) {
        mp_str(m, extra);
        mp_str(m, "k");
    }
}

/* Consumed with a per-command ERR_INVAL: only last_index moves. */
static void expect_cat_inval(struct mp *m, const char *msg_prefix)
{
    uint64_t saved = f.last_index;
    struct image before;
    struct fsm_result res;
    int c = changes;

    f.last_index = 60;
    before = image_of(&f);
    f.last_index = saved;
    ck_assert_int_eq(fsm_apply(&f, 60, m->sb.data, m->sb.size, &res, err),
                     0);
    ck_assert_int_eq(res.rc, ERR_INVAL);
    ck_assert(!res.ok);
    ck_assert_msg(strncmp(res.msg, msg_prefix, strlen(msg_prefix)) == 0,
                  "%s", res.msg);
    ck_assert_int_eq(changes, c);
    assert_unchanged(&before);
    free(before.buf);
    msgpack_sbuffer_destroy(&m->sb);
}

START_TEST(catalog_rejects_malformed)
{
    static const char dup[] = "{\"Node\":\"a\",\"Node\":\"b\",\"Address\":"
                              "\"x\"}";
    static const char nul[] = "{\"Node\":\"a\\u0000b\",\"Address\":\"x\"}";
    static const char ok[] = "{\"Node\":\"n\",\"Address\":\"x\"}";
    static const char trail[] = "{\"Node\":\"n\",\"Address\":\"a\"}\0x";
    struct fsm_result res;
    struct mp m;

    apply_cat("register", CAT_REG, 5);
    raw_cat(&m, "update", ok, strlen(ok), NULL);
    expect_parse(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    raw_cat(&m, "register", NULL, 0, NULL);
    expect_parse(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    raw_cat(&m, "register", ok, strlen(ok), "key");
    expect_parse(m.sb.data, m.sb.size);
    ck_assert_msg(strstr(err, "catalog command with field 'key'") != NULL,
                  "%s", err);
    msgpack_sbuffer_destroy(&m.sb);
    /* req as bin is the wrong type. */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 4);
    mp_str(&m, "v");
    msgpack_pack_uint8(&m.pk, 1);
    mp_str(&m, "t");
    mp_str(&m, "catalog");
    mp_str(&m, "op");
    mp_str(&m, "register");
    mp_str(&m, "req");
    msgpack_pack_bin_with_body(&m.pk, ok, strlen(ok));
    expect_parse(m.sb.data, m.sb.size);
    msgpack_sbuffer_destroy(&m.sb);
    /* Decodable commands whose request the catalog refuses. */
    raw_cat(&m, "register", "not json", 8, NULL);
    expect_cat_inval(&m, "Request decode failed: ");
    raw_cat(&m, "register", dup, strlen(dup), NULL);
    expect_cat_inval(&m, "Request decode failed: ");
    raw_cat(&m, "register", nul, strlen(nul), NULL);
    expect_cat_inval(&m, "Request decode failed: ");
    raw_cat(&m, "register", trail, sizeof(trail) - 1, NULL);
    expect_cat_inval(&m, "Request decode failed: ");
    raw_cat(&m, "deregister", "[\"n1\"]", 6, NULL);
    expect_cat_inval(&m, "Request decode failed: json: cannot unmarshal "
                         "array");
    raw_cat(&m, "register", "{\"Address\":\"a\"}", 15, NULL);
    expect_cat_inval(&m, "Must provide node");
    /* A request nothing refuses goes in. */
    raw_cat(&m, "register", ok, strlen(ok), NULL);
    ck_assert_int_eq(fsm_apply(&f, 61, m.sb.data, m.sb.size, &res, NULL), 0);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_uint_eq(cat_node_index(f.cat, "n"), 61);
    msgpack_sbuffer_destroy(&m.sb);
}
END_TEST

START_TEST(catalog_rejects_every_truncation)
{
    json_t *req = jtext(CAT_REG);
    unsigned char *buf, *cut;
    void *b;
    size_t len, i;

    apply_cat("register", "{\"Node\":\"x\",\"Address\":\"a\"}", 1);
    ck_assert_int_eq(fsm_encode_catalog("register", req, alloc_fn, &b, &len,
                                        err), 0);
    json_decref(req);
    buf = b;
    for (i = 0; i < len; i++) {
        cut = malloc(i + 1);
        memcpy(cut, buf, i);
        expect_parse(cut, i);
        free(cut);
    }
    free(buf);
}
END_TEST

static void reset_fsm(void)
{
    fsm_release(&f);
    ck_assert_int_eq(fsm_init(&f, err), 0);
    f.on_change = on_change;
    f.ctx = &f;
}

/* Restore the state's own snapshot into a fresh fsm: a command must
 * never leave a state that cannot be restored. */
static void assert_restorable(const struct fsm *g)
{
    struct fsm h;
    void *buf, *again;
    size_t len, len2;

    REQUIRE(fsm_snapshot(g, alloc_fn, &buf, &len, err) == 0);
    REQUIRE(fsm_init(&h, err) == 0);
    REQUIRE(fsm_restore(&h, buf, len, err) == 0);
    REQUIRE(fsm_snapshot(&h, alloc_fn, &again, &len2, err) == 0);
    REQUIRE(len == len2 && memcmp(buf, again, len) == 0);
    free(buf);
    free(again);
    fsm_release(&h);
}

START_TEST(catalog_survives_byte_flips)
{
    json_t *req = jtext(CAT_REG);
    unsigned char *buf, *copy;
    struct fsm_result res;
    void *b;
    size_t len, i;
    unsigned v;
    uint64_t index = 1;
    int rc;

    ck_assert_int_eq(fsm_encode_catalog("register", req, alloc_fn, &b, &len,
                                        err), 0);
    json_decref(req);
    buf = b;
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        for (v = 0; v < 256; v++) {
            uint64_t last = f.last_index, cmax = cat_max_index(f.cat);
            size_t nodes = cat_count(f.cat, CAT_NODES);

            memcpy(copy, buf, len);
            copy[i] = (unsigned char)v;
            rc = fsm_apply(&f, index++, copy, len, &res, err);
            REQUIRE(rc == 0 || rc == ERR_PARSE);
            if (rc == ERR_PARSE)
                REQUIRE(f.last_index == last &&
                        cat_max_index(f.cat) == cmax &&
                        cat_count(f.cat, CAT_NODES) == nodes);
        }
        /* Start over now and then so flips meet a fresh catalog too. */
        if (i % 16 == 15) {
            assert_restorable(&f);
            reset_fsm();
        }
    }
    assert_restorable(&f);
    free(copy);
    free(buf);
}
END_TEST

/* ---- catalog snapshot records ---- */

static void build_catalog(struct fsm *g)
{
    static const char *const reqs[] = {
        CAT_REG,
        "{\"Node\":\"n2\",\"Address\":\"b\",\"ID\":"
        "\"11111111-2222-3333-4444-555555555555\",\"NodeMeta\":{\"r\":\"1\"},"
        "\"Service\":{\"Service\":\"db\",\"Tags\":[\"p\"],\"Meta\":{\"m\":"
        "\"v\"},\"TaggedAddresses\":{\"lan\":{\"Address\":\"1.1.1.1\","
        "\"Port\":5}}},\"Checks\":[{\"Name\":\"serfHealth\",\"Status\":"
        "\"passing\"},{\"CheckID\":\"db-tcp\",\"ServiceID\":\"db\","
        "\"Definition\":{\"TCP\":\"b:5\",\"Interval\":\"10s\",\"Ratio\":"
        "0.25}}]}",
        "{\"Node\":\"n3\",\"Address\":\"c\",\"Service\":{\"Service\":"
        "\"gone\"}}",
    };
    struct fsm_result res;
    size_t i;
    void *buf;
    size_t len;

    for (i = 0; i < 3; i++) {
        json_t *req = jtext(reqs[i]);

        ck_assert_int_eq(fsm_encode_catalog("register", req, alloc_fn, &buf,
                                            &len, err), 0);
        json_decref(req);
        ck_assert_int_eq(fsm_apply(g, 50 + i, buf, len, &res, err), 0);
        ck_assert_int_eq(res.rc, 0);
        free(buf);
    }
    {
        json_t *req = jtext("{\"Node\":\"n3\"}");

        ck_assert_int_eq(fsm_encode_catalog("deregister", req, alloc_fn,
                                            &buf, &len, err), 0);
        json_decref(req);
        ck_assert_int_eq(fsm_apply(g, 60, buf, len, &res, err), 0);
        free(buf);
    }
}

static char *dump_health(const struct cat_store *s)
{
    json_t *h = cat_service_health(s, "db", NULL, false);
    char *out = json_dumps(h, JSON_COMPACT);

    json_decref(h);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(snapshot_round_trip_with_catalog)
{
    struct fsm src;
    void *buf, *plain, *again;
    size_t len, plain_len, len2;
    char *a, *b;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_state(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &plain, &plain_len, err),
                     0);
    build_catalog(&src);
    src.last_index = 61;
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &buf, &len, err), 0);
    apply_cat("register", "{\"Node\":\"old\",\"Address\":\"o\"}", 1000);
    changes = cat_changes = 0;
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_int_eq(changes, 2);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(change_index, 61);
    assert_same_state(&src, &f);
    /* Same bytes again, so every index and record came back. */
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &again, &len2, err), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(buf, again, len), 0);
    free(again);
    a = dump_health(src.cat);
    b = dump_health(f.cat);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    ck_assert_ptr_null(cat_node(f.cat, "old"));
    ck_assert_uint_eq(cat_service_index(f.cat, "gone"), 60);
    ck_assert_uint_eq(cat_service_index(f.cat, "db"),
                      cat_service_index(src.cat, "db"));
    ck_assert_uint_eq(cat_node_index(f.cat, "n3"), 60);
    /* Without catalog records the catalog restores empty. */
    cat_changes = 0;
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert_int_eq(cat_changes, 1);
    ck_assert_uint_eq(cat_max_index(f.cat), 0);
    /* Empty before and after: no catalog change reported. */
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert_int_eq(cat_changes, 1);
    free(buf);
    free(plain);
    fsm_release(&src);
}
END_TEST

/* A snapshot holding catalog records of a variant (0 is valid). */
static void cat_snapshot(struct mp *m, int variant)
{
    static const char node[] =
        "{\"ID\":\"\",\"Node\":\"n\",\"Address\":\"a\",\"Datacenter\":\"d\","
        "\"TaggedAddresses\":{},\"Meta\":{},\"CreateIndex\":2,"
        "\"ModifyIndex\":3}";
    static const char svc[] =
        "{\"ID\":\"s\",\"Service\":\"s\",\"Tags\":[],\"Address\":\"\","
        "\"TaggedAddresses\":{},\"Meta\":{},\"Port\":0,\"Weights\":{"
        "\"Passing\":1,\"Warning\":1},\"EnableTagOverride\":false,\"Kind\":"
        "\"\",\"CreateIndex\":4,\"ModifyIndex\":4}";
    int records = 4;

    mp_init(m);
    msgpack_pack_map(&m->pk, 4);
    mp_str(m, "format");
    mp_str(m, "proconsul-state");
    mp_str(m, "version");
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "last_index");
    msgpack_pack_uint8(&m->pk, 30);
    mp_str(m, "kv_table_index");
    msgpack_pack_uint8(&m->pk, 0);
    /* service before its node (variant 1) */
    if (variant == 1) {
        msgpack_pack_array(&m->pk, 4);
        msgpack_pack_uint8(&m->pk, 4);
        msgpack_pack_uint8(&m->pk, 1);
        mp_str(m, "n");
        mp_str(m, svc);
        records++;
    }
    msgpack_pack_array(&m->pk, variant == 2 ? 3 : 4);
    msgpack_pack_uint8(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, variant == 3 ? 3 : 0);
    if (variant == 4)
        mp_str(m, "n");
    else
        msgpack_pack_nil(&m->pk);
    if (variant != 2)
        mp_str(m, variant == 5 ? "{\"Node\":" : node);
    if (variant == 9) { /* an index before the service record */
        msgpack_pack_array(&m->pk, 4);
        msgpack_pack_uint8(&m->pk, 5);
        msgpack_pack_uint8(&m->pk, 3);
        mp_str(m, "n");
        msgpack_pack_uint8(&m->pk, 9);
        records++;
    }
    msgpack_pack_array(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, 1);
    if (variant == 6)
        mp_str(m, "zz");
    else if (variant == 7)
        msgpack_pack_bin_with_body(&m->pk, "n", 1);
    else
        mp_str(m, "n");
    mp_str(m, svc);
    /* indexes: services table, then the service name's */
    msgpack_pack_array(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, 5);
    msgpack_pack_uint8(&m->pk, variant == 8 ? 7 : 1);
    if (variant == 10)
        mp_str(m, "s");
    else
        msgpack_pack_nil(&m->pk);
    msgpack_pack_uint8(&m->pk, variant == 11 ? 3 : 20);
    msgpack_pack_array(&m->pk, 4);
    msgpack_pack_uint8(&m->pk, 5);
    msgpack_pack_uint8(&m->pk, variant == 12 ? 1 : 4);
    if (variant == 12)
        msgpack_pack_nil(&m->pk);
    else
        mp_str(m, variant == 13 ? "t" : "S");
    if (variant == 14)
        mp_str(m, "20");
    else
        msgpack_pack_uint8(&m->pk, 21);
    msgpack_pack_array(&m->pk, 2);
    msgpack_pack_uint8(&m->pk, 0);
    msgpack_pack_uint8(&m->pk, (uint8_t)records);
}

START_TEST(restore_checks_catalog_records)
{
    struct mp m;
    int variant;

    apply_cat("register", CAT_REG, 5);
    for (variant = 1; variant <= 14; variant++) {
        cat_snapshot(&m, variant);
        expect_bad_snapshot(m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    ck_assert_uint_eq(cat_service_index(f.cat, "web"), 5);
    cat_snapshot(&m, 0);
    ck_assert_int_eq(fsm_restore(&f, m.sb.data, m.sb.size, err), 0);
    msgpack_sbuffer_destroy(&m.sb);
    ck_assert_uint_eq(cat_index(f.cat, CAT_SERVICES), 20);
    ck_assert_uint_eq(cat_index(f.cat, CAT_NODES), 3);
    ck_assert_uint_eq(cat_service_index(f.cat, "s"), 21);
    ck_assert_uint_eq(cat_node_index(f.cat, "n"), 4);
    ck_assert_uint_eq(cat_service_index(f.cat, "web"), 20);
}
END_TEST

START_TEST(restore_catalog_truncations_and_flips)
{
    struct fsm src;
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;
    int rc;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_catalog(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &b, &len, err), 0);
    fsm_release(&src);
    buf = b;
    apply_cat("register", CAT_REG, 5);
    for (i = 0; i < len; i += 3) {
        copy = malloc(i + 1);
        memcpy(copy, buf, i);
        expect_bad_snapshot(copy, i);
        free(copy);
    }
    copy = malloc(len);
    for (i = 0; i < len; i++) {
        struct image before = image_of(&f);

        memcpy(copy, buf, len);
        copy[i] ^= (unsigned char)(1u << (i % 8));
        rc = fsm_restore(&f, copy, len, err);
        REQUIRE(rc == 0 || rc == ERR_PARSE);
        if (rc == ERR_PARSE)
            assert_unchanged(&before);
        else
            assert_restorable(&f);
        free(before.buf);
    }
    free(copy);
    free(buf);
}
END_TEST

/* ---- acl ---- */

#define ACL_P1 "11111111-1111-1111-1111-111111111111"
#define ACL_T1 "44444444-4444-4444-4444-444444444444"
#define ACL_S1 "aaaaaaaa-0000-0000-0000-000000000001"

static struct fsm_result apply_acl_in(struct fsm *g, const char *op,
                                      const char *text, uint64_t index)
{
    json_t *req = jtext(text);
    struct fsm_result res;
    void *buf = NULL;
    size_t len = 0;

    ck_assert_int_eq(fsm_encode_acl(op, req, alloc_fn, &buf, &len, err), 0);
    json_decref(req);
    ck_assert_int_eq(fsm_apply(g, index, buf, len, &res, err), 0);
    ck_assert_uint_eq(res.index, index);
    free(buf);
    return res;
}

static struct fsm_result apply_acl(const char *op, const char *text,
                                   uint64_t index)
{
    return apply_acl_in(&f, op, text, index);
}

/* Version 1 of deleting token ACL_T1: must stay decodable forever. */
static const char golden_acl[] =
    "\x84\xa1v\x01\xa1t\xa3" "acl" "\xa2" "op" "\xac" "token-delete"
    "\xa3" "req" "\xd9\x35" "{\"AccessorID\":\"" ACL_T1 "\"}";

START_TEST(acl_golden_bytes)
{
    json_t *req = jtext("{\"AccessorID\":\"" ACL_T1 "\"}");
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_acl("token-delete", req, alloc_fn, &buf,
                                    &len, err), 0);
    json_decref(req);
    ck_assert_uint_eq(len, sizeof(golden_acl) - 1);
    ck_assert_int_eq(memcmp(buf, golden_acl, len), 0);
    free(buf);
    ck_assert_int_eq(fsm_apply(&f, 4, golden_acl, sizeof(golden_acl) - 1,
                               &res, err), 0);
    ck_assert_int_eq(res.rc, ERR_NOTFOUND);
    ck_assert_str_eq(res.msg, "cannot find token " ACL_T1);
    ck_assert_uint_eq(f.last_index, 4);
}
END_TEST

START_TEST(acl_apply_results)
{
    struct fsm_result res;

    res = apply_acl("policy-set", "{\"Policy\":{\"ID\":\"" ACL_P1 "\","
                    "\"Name\":\"p\"}}", 10);
    ck_assert_int_eq(res.rc, 0);
    ck_assert(res.ok);
    ck_assert_str_eq(res.msg, "");
    ck_assert_int_eq(acl_changes, 1);
    ck_assert_uint_eq(change_index, 10);
    ck_assert_ptr_nonnull(acl_store_policy_by_name(f.acl, "p"));
    res = apply_acl("bootstrap", "{\"Token\":{\"AccessorID\":\"" ACL_T1
                    "\",\"SecretID\":\"" ACL_S1 "\",\"Policies\":[{\"ID\":\""
                    ACL_P1 "\"}]}}", 11);
    ck_assert_int_eq(res.rc, 0);
    ck_assert_int_eq(acl_changes, 2);
    ck_assert_uint_eq(acl_store_bootstrap_index(f.acl), 11);
    /* Refusals that need the state: consumed, with code and message. */
    res = apply_acl("bootstrap", "{\"Token\":{\"AccessorID\":\"" ACL_P1
                    "\",\"SecretID\":\"x\"}}", 12);
    ck_assert_int_eq(res.rc, ERR_DENIED);
    ck_assert(!res.ok);
    ck_assert_str_eq(res.msg, "ACL bootstrap no longer allowed (reset "
                              "index: 11)");
    ck_assert_str_eq(err, res.msg);
    res = apply_acl("policy-set", "{\"Policy\":{\"ID\":\"" ACL_T1 "\","
                    "\"Name\":\"P\"}}", 13);
    ck_assert_int_eq(res.rc, ERR_EXISTS);
    ck_assert_int_eq(acl_changes, 2);
    ck_assert_uint_eq(f.last_index, 13);
    ck_assert_uint_eq(acl_store_max_index(f.acl), 11);
    /* init: once; the second changes nothing and reports nothing. */
    res = apply_acl("init", "{\"Secret\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
                    "GBkaGxwdHh8=\"}", 14);
    ck_assert(res.ok);
    ck_assert_int_eq(acl_changes, 3);
    res = apply_acl("init", "{\"Secret\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
                    "GBkaGxwdHh8=\"}", 15);
    ck_assert(res.ok);
    ck_assert_int_eq(acl_changes, 3);
}
END_TEST

START_TEST(acl_encode_rejects)
{
    static const struct {
        const char *op, *req, *msg;
    } bad[] = {
        {"token-update", "{}", "unknown ACL operation \"token-update\""},
        {NULL, "{}", "unknown ACL operation \"\""},
        {"policy-set", "{\"Policy\":{\"ID\":\"x\",\"Name\":\"p\"}}",
         "Invalid Policy: ID \"x\" is not a valid UUID"},
        {"token-set", "{\"Token\":{\"AccessorID\":\"" ACL_T1 "\","
                      "\"SecretID\":\"s\",\"Type\":\"client\"}}",
         "Invalid Token: unknown field \"Type\""},
    };
    size_t i, len;
    void *buf;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *req = jtext(bad[i].req);

        buf = NULL;
        ck_assert_int_eq(fsm_encode_acl(bad[i].op, req, alloc_fn, &buf,
                                        &len, err), ERR_INVAL);
        ck_assert_str_eq(err, bad[i].msg);
        ck_assert_ptr_null(buf);
        json_decref(req);
    }
}
END_TEST

/* An acl command with raw op and req. */
static void raw_acl(struct mp *m, const char *op, const char *req)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 4);
    mp_str(m, "v");
    msgpack_pack_uint8(&m->pk, 1);
    mp_str(m, "t");
    mp_str(m, "acl");
    mp_str(m, "op");
    mp_str(m, op);
    mp_str(m, "req");
    mp_str(m, req);
}

START_TEST(acl_rejects_malformed)
{
    static const char *const reqs[] = {
        "{\"ID\":", "{\"ID\":\"" ACL_P1 "\",\"ID\":\"" ACL_P1 "\"}",
        "{\"ID\":\"nope\"}",
    };
    struct image before;
    struct fsm_result res;
    struct mp m;
    size_t i;

    apply_acl("policy-set", "{\"Policy\":{\"ID\":\"" ACL_P1 "\","
              "\"Name\":\"p\"}}", 5);
    raw_acl(&m, "policy-update", "{}");
    expect_parse(m.sb.data, m.sb.size);
    ck_assert_msg(strstr(err, "unknown acl op") != NULL, "%s", err);
    msgpack_sbuffer_destroy(&m.sb);
    /* Decodable, refused by the store: consumed, nothing else moves. */
    for (i = 0; i < 3; i++) {
        f.last_index = 60;
        before = image_of(&f);
        raw_acl(&m, "policy-delete", reqs[i]);
        ck_assert_int_eq(fsm_apply(&f, 60, m.sb.data, m.sb.size, &res, err),
                         0);
        ck_assert_int_eq(res.rc, ERR_INVAL);
        ck_assert_int_eq(acl_changes, 1);
        assert_unchanged(&before);
        free(before.buf);
        msgpack_sbuffer_destroy(&m.sb);
    }
    ck_assert_ptr_nonnull(acl_store_policy(f.acl, ACL_P1));
}
END_TEST

static void build_acl(struct fsm *g)
{
    apply_acl_in(g, "policy-set", "{\"Policy\":{\"ID\":\"" ACL_P1 "\","
                 "\"Name\":\"p\",\"Rules\":\"key \\\"\\\" { policy = \\\"read\\\" }\"}}", 70);
    apply_acl_in(g, "role-set", "{\"Role\":{\"ID\":\"" ACL_T1 "\","
                 "\"Name\":\"r\",\"Policies\":[{\"ID\":\"" ACL_P1 "\"}]}}",
                 71);
    apply_acl_in(g, "bootstrap", "{\"Token\":{\"AccessorID\":\"" ACL_T1
                 "\",\"SecretID\":\"" ACL_S1 "\",\"Roles\":[{\"ID\":\""
                 ACL_T1 "\"}]}}", 72);
    apply_acl_in(g, "init", "{\"Secret\":\"AAECAwQFBgcICQoLDA0ODxAREhMUF"
                 "RYXGBkaGxwdHh8=\"}", 73);
}

START_TEST(snapshot_round_trip_with_acl)
{
    struct fsm src;
    void *buf, *plain, *again;
    size_t len, plain_len, len2;
    json_t *a, *b;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_state(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &plain, &plain_len, err),
                     0);
    build_acl(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_restore(&f, buf, len, err), 0);
    ck_assert_int_eq(acl_changes, 1);
    ck_assert_uint_eq(change_index, 73);
    ck_assert_int_eq(fsm_snapshot(&f, alloc_fn, &again, &len2, err), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(buf, again, len), 0);
    free(again);
    a = acl_store_token_list(src.acl, NULL, NULL, true);
    b = acl_store_token_list(f.acl, NULL, NULL, true);
    ck_assert(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    ck_assert_uint_eq(acl_store_bootstrap_index(f.acl), 72);
    ck_assert_ptr_nonnull(acl_store_secret(f.acl));
    ck_assert_ptr_nonnull(acl_store_token_by_secret(f.acl, ACL_S1));
    /* Without ACL records the ACL state restores empty. */
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert_int_eq(acl_changes, 2);
    ck_assert_ptr_null(acl_store_token(f.acl, ACL_T1));
    ck_assert_ptr_null(acl_store_secret(f.acl));
    /* Empty before and after: no acl change reported. */
    ck_assert_int_eq(fsm_restore(&f, plain, plain_len, err), 0);
    ck_assert_int_eq(acl_changes, 2);
    free(buf);
    free(plain);
    fsm_release(&src);
}
END_TEST

START_TEST(restore_rejects_bad_acl_records)
{
    static const struct {
        const char *from, *to;
    } flips[] = {
        {"\"Kind\":\"policy\"", "\"Kind\":\"polics\""},
        {"\"SecretID\":\"a", "\"SecretID\":\" "},  /* bad secret */
        {"\"ModifyIndex\":72", "\"ModifyIndex\":02"}, /* bad JSON */
        {"\"RolesIndex\":71", "\"RolesIndex\":70"},   /* below records */
        {"\"AccessorID\":\"4", "\"AccessorID\":\"x"},
    };
    struct fsm src;
    unsigned char *buf, *copy;
    void *b;
    size_t len, i;

    ck_assert_int_eq(fsm_init(&src, err), 0);
    build_acl(&src);
    ck_assert_int_eq(fsm_snapshot(&src, alloc_fn, &b, &len, err), 0);
    fsm_release(&src);
    buf = b;
    apply_acl("policy-set", "{\"Policy\":{\"ID\":\"" ACL_T1 "\","
              "\"Name\":\"mine\"}}", 5);
    copy = malloc(len);
    for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(copy, buf, len);
        patch(copy, len, flips[i].from, flips[i].to, strlen(flips[i].from));
        expect_bad_snapshot(copy, len);
    }
    ck_assert_ptr_nonnull(acl_store_policy_by_name(f.acl, "mine"));
    /* Every truncation and bit flip: refused untouched, or restorable. */
    for (i = 0; i < len; i += 2) {
        struct image before = image_of(&f);
        int rc;

        expect_bad_snapshot(buf, i);
        memcpy(copy, buf, len);
        copy[i] ^= (unsigned char)(1u << (i % 8));
        rc = fsm_restore(&f, copy, len, err);
        REQUIRE(rc == 0 || rc == ERR_PARSE);
        if (rc == ERR_PARSE)
            assert_unchanged(&before);
        else
            assert_restorable(&f);
        free(before.buf);
    }
    free(copy);
    free(buf);
}
END_TEST

static Suite *fsm_suite(void)
{
    Suite *s = suite_create("fsm");
    TCase *cmd = tcase_create("command");
    TCase *snap = tcase_create("snapshot");

    tcase_add_checked_fixture(cmd, setup, teardown);
    tcase_set_timeout(cmd, 60);
    tcase_add_test(cmd, encode_golden_bytes);
    tcase_add_test(cmd, apply_set);
    tcase_add_test(cmd, apply_cas);
    tcase_add_test(cmd, apply_delete);
    tcase_add_test(cmd, apply_delete_cas);
    tcase_add_test(cmd, apply_delete_tree);
    tcase_add_test(cmd, encode_rejects_bad_ops);
    tcase_add_test(cmd, apply_validates_keys);
    tcase_add_test(cmd, apply_rejects_every_truncation);
    tcase_add_test(cmd, apply_rejects_malformed);
    tcase_add_test(cmd, scanner_agrees_with_msgpack);
    tcase_add_test(cmd, apply_survives_random_bytes);
    tcase_add_test(cmd, apply_survives_byte_flips);
    tcase_add_test(cmd, autopilot_golden_bytes);
    tcase_add_test(cmd, autopilot_apply_and_cas);
    tcase_add_test(cmd, autopilot_encode_rejects_bad_values);
    tcase_add_test(cmd, autopilot_apply_validates_values);
    tcase_add_test(cmd, autopilot_rejects_malformed);
    tcase_add_test(cmd, autopilot_rejects_every_truncation);
    tcase_add_test(cmd, autopilot_survives_byte_flips);
    tcase_add_test(cmd, catalog_golden_bytes);
    tcase_add_test(cmd, catalog_apply_results);
    tcase_add_test(cmd, catalog_datacenter);
    tcase_add_test(cmd, catalog_encode_rejects);
    tcase_add_test(cmd, catalog_rejects_malformed);
    tcase_add_test(cmd, catalog_rejects_every_truncation);
    tcase_add_test(cmd, catalog_survives_byte_flips);
    tcase_add_test(cmd, acl_golden_bytes);
    tcase_add_test(cmd, acl_apply_results);
    tcase_add_test(cmd, acl_encode_rejects);
    tcase_add_test(cmd, acl_rejects_malformed);
    suite_add_tcase(s, cmd);
    tcase_add_checked_fixture(snap, setup, teardown);
    tcase_set_timeout(snap, 60);
    tcase_add_test(snap, snapshot_round_trip);
    tcase_add_test(snap, snapshot_of_empty_state);
    tcase_add_test(snap, restore_rejects_truncation_and_trailing_bytes);
    tcase_add_test(snap, restore_rejects_detectable_flips);
    tcase_add_test(snap, restore_survives_every_byte_flip);
    tcase_add_test(snap, restore_hand_written_snapshot);
    tcase_add_test(snap, snapshot_round_trip_with_autopilot);
    tcase_add_test(snap, restore_checks_autopilot_record);
    tcase_add_test(snap, restore_autopilot_truncations_and_flips);
    tcase_add_test(snap, snapshot_round_trip_with_catalog);
    tcase_add_test(snap, restore_checks_catalog_records);
    tcase_add_test(snap, restore_catalog_truncations_and_flips);
    tcase_add_test(snap, snapshot_round_trip_with_acl);
    tcase_add_test(snap, restore_rejects_bad_acl_records);
    suite_add_tcase(s, snap);
    return s;
}

Suite *unit_suite(void)
{
    return fsm_suite();
}

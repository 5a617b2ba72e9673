/* check_fsm_txn.c - unit tests for transactions (libcore/fsm_txn.c).
 *
 * Covers the "txn" command codec (encoder checks, strict decoder),
 * apply (results, errors with Consul's messages, one index for every
 * op, later ops seeing earlier ones, the change callback), the
 * rollback (a transaction whose 3rd op fails leaves the state and every
 * index byte for byte as it was, tombstones included), read-only runs
 * and the outcome hand-over (fsm_txn_take); catalog writes (node,
 * service, check set / cas / delete / delete-cas) committed with kv ops,
 * and a failed one leaving catalog and sessions byte for byte intact.
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "cat.h"
#include "fsm.h"
#include "kv.h"
#include "sess.h"
#include "unit.h"

static struct fsm f;
static char err[ERR_LEN];
static int changes;
static const char *last_kind;

static void on_change(void *ctx, const char *kind, uint64_t index)
{
    (void)ctx;
    (void)index;
    last_kind = kind;
    changes++;
}

static void setup(void)
{
    ck_assert_int_eq(fsm_init(&f, err), 0);
    f.on_change = on_change;
    changes = 0;
    last_kind = NULL;
}

static void teardown(void) { fsm_release(&f); }

#define OP(v, k) {.verb = (v), .key = (k)}

/* Encode and apply ops at index; returns the detached outcome. */
static struct fsm_txn_out *run(const struct fsm_txn_op *ops, size_t n,
                               uint64_t index, struct fsm_result *res)
{
    void *buf;
    size_t len;
    struct fsm_txn_out *o;

    ck_assert_int_eq(fsm_encode_txn(ops, n, malloc, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, res, err), 0);
    free(buf);
    ck_assert_int_eq(res->rc, 0);
    o = fsm_txn_take(&f, index);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(o->index, index);
    return o;
}

static void put(const char *key, const char *val, uint64_t index)
{
    struct fsm_kv_op op = {FSM_KV_SET, key, val, strlen(val), 0, 0};
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_kv(&op, malloc, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    free(buf);
}

static void del(const char *key, uint64_t index)
{
    struct fsm_kv_op op = {FSM_KV_DELETE, key, NULL, 0, 0, 0};
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_kv(&op, malloc, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    free(buf);
}

/* The whole state as a snapshot, with last_index pinned to 0. */
static void *state(size_t *len)
{
    uint64_t keep = f.last_index;
    void *buf;

    f.last_index = 0;
    ck_assert_int_eq(fsm_snapshot(&f, malloc, &buf, len, err), 0);
    f.last_index = keep;
    return buf;
}

START_TEST(txn_applies_in_order_with_one_index)
{
    struct fsm_txn_op ops[5] = {
        {.verb = "set", .key = "a", .val = "1", .len = 1, .flags = 7},
        OP("get", "a"),
        {.verb = "check-index", .key = "a", .index = 10},
        {.verb = "cas", .key = "a", .val = "2", .len = 1, .index = 10},
        OP("check-not-exists", "b"),
    };
    struct fsm_result res;
    struct fsm_txn_out *o = run(ops, 5, 10, &res);

    ck_assert(res.ok);
    ck_assert_uint_eq(o->nerr, 0);
    ck_assert_uint_eq(o->nres, 4);
    /* set: no value; get: the value; check-index and cas: no value */
    ck_assert_ptr_null(o->res[0].kv->val);
    ck_assert_uint_eq(o->res[0].kv->flags, 7);
    ck_assert_uint_eq(o->res[1].kv->len, 1);
    ck_assert_int_eq(o->res[1].kv->val[0], '1');
    ck_assert_ptr_null(o->res[3].kv->val);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_str_eq(o->res[i].kv->key, "a");
        ck_assert_uint_eq(o->res[i].kv->modify_index, 10);
    }
    ck_assert_int_eq(kv_peek(f.kv, "a")->val[0], '2');
    ck_assert_uint_eq(kv_table_index(f.kv), 10);
    ck_assert_int_eq(changes, 1);
    ck_assert_str_eq(last_kind, "kv");
    ck_assert_ptr_null(fsm_txn_take(&f, 10)); /* taken once */
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_get_tree_delete_tree_delete_cas)
{
    struct fsm_txn_op ops[3] = {
        OP("get-tree", "p/"),
        OP("delete-tree", "p/"),
        {.verb = "delete-cas", .key = "q", .index = 3},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;

    put("p/1", "x", 1);
    put("p/2", "y", 2);
    put("q", "z", 3);
    o = run(ops, 3, 4, &res);
    ck_assert(res.ok);
    ck_assert_uint_eq(o->nres, 2);
    ck_assert_str_eq(o->res[0].kv->key, "p/1");
    ck_assert_int_eq(o->res[1].kv->val[0], 'y');
    ck_assert_uint_eq(kv_count(f.kv), 0);
    ck_assert_uint_eq(kv_tombstone_count(f.kv), 3);
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_third_op_fails_state_byte_identical)
{
    struct fsm_txn_op ops[5] = {
        {.verb = "set", .key = "keep/a", .val = "new", .len = 3},
        OP("delete-tree", "keep/"),
        {.verb = "cas", .key = "keep/b", .val = "v", .len = 1, .index = 99},
        {.verb = "set", .key = "gone", .val = "back", .len = 4},
        {.verb = "set", .key = "fresh", .val = "f", .len = 1},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;
    void *before, *after;
    size_t blen, alen;
    uint64_t pidx;

    put("keep/a", "A", 1);
    put("keep/b", "B", 2);
    put("keep/c", "C", 3);
    put("gone", "G", 4);
    del("gone", 5); /* a tombstone the txn would replace */
    put("other", "O", 6);
    before = state(&blen);
    pidx = kv_prefix_index(f.kv, "keep/");
    changes = 0;
    o = run(ops, 5, 7, &res);
    ck_assert(!res.ok);
    ck_assert_uint_eq(o->nres, 0);
    ck_assert_uint_eq(o->nerr, 1);
    ck_assert_int_eq(o->err[0].op_index, 2);
    ck_assert_str_eq(o->err[0].what,
                     "failed to set key \"keep/b\", index is stale");
    after = state(&alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    ck_assert_uint_eq(kv_table_index(f.kv), 6);
    ck_assert_uint_eq(kv_prefix_index(f.kv, "keep/"), pidx);
    ck_assert_uint_eq(kv_key_index(f.kv, "gone"), 5);
    ck_assert_ptr_null(kv_peek(f.kv, "fresh"));
    ck_assert_uint_eq(kv_key_index(f.kv, "fresh"), 0);
    ck_assert_int_eq(kv_verify(f.kv, err), 0);
    ck_assert_int_eq(changes, 0); /* nobody woken */
    ck_assert_uint_eq(f.last_index, 7);
    free(before);
    free(after);
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_reports_every_error_with_consul_messages)
{
    struct fsm_txn_op ops[7] = {
        OP("get", "nope"),
        {.verb = "check-index", .key = "k", .index = 1},
        {.verb = "check-index", .key = "nope", .index = 1},
        {.verb = "check-session", .key = "k", .session = "s\"1"},
        OP("check-session", "nope"),
        OP("check-not-exists", "k"),
        {.verb = "delete-cas", .key = "k", .index = 1},
    };
    static const char *const want[7] = {
        "key \"nope\" doesn't exist",
        "failed index check for key \"k\", current modify index 2 != 1",
        "failed to check index, key \"nope\" doesn't exist",
        "failed session check for key \"k\", current session \"\" != "
        "\"s\\\"1\"",
        "failed to check session, key \"nope\" doesn't exist",
        "key \"k\" exists",
        "failed to delete key \"k\", index is stale",
    };
    struct fsm_result res;
    struct fsm_txn_out *o;

    put("k", "v", 2);
    o = run(ops, 7, 3, &res);
    ck_assert(!res.ok);
    ck_assert_uint_eq(o->nerr, 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(o->err[i].op_index, i);
        ck_assert_str_eq(o->err[i].what, want[i]);
    }
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_check_session_matches_held_key)
{
    struct kv_entry e = {.key = "held", .create_index = 1,
                         .modify_index = 1, .lock_index = 1,
                         .session = "abc"};
    struct fsm_txn_op ops[1] = {
        {.verb = "check-session", .key = "held", .session = "abc"},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;

    ck_assert_int_eq(kv_restore_entry(f.kv, &e, err), 0);
    o = run(ops, 1, 2, &res);
    ck_assert(res.ok);
    ck_assert_uint_eq(o->nres, 1);
    ck_assert_str_eq(o->res[0].kv->session, "abc");
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_encoder_refuses_bad_ops)
{
    struct fsm_txn_op ops[FSM_TXN_MAX_OPS + 1];
    void *buf = NULL;
    size_t len;

    for (size_t i = 0; i <= FSM_TXN_MAX_OPS; i++)
        ops[i] = (struct fsm_txn_op)OP("set", "k");
    ck_assert_int_eq(fsm_encode_txn(ops, 0, malloc, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_int_eq(fsm_encode_txn(ops, FSM_TXN_MAX_OPS + 1, malloc, &buf,
                                    &len, err), ERR_INVAL);
    ops[1].verb = "put";
    ck_assert_int_eq(fsm_encode_txn(ops, 2, malloc, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_str_eq(err, "operation 1: unknown KV verb \"put\"");
    ops[1] = (struct fsm_txn_op)OP("set", "");
    ck_assert_int_eq(fsm_encode_txn(ops, 2, malloc, &buf, &len, err),
                     ERR_INVAL);
    ops[1] = (struct fsm_txn_op)OP("delete-tree", "");
    ck_assert_int_eq(fsm_encode_txn(ops, 2, malloc, &buf, &len, err), 0);
    free(buf);
    ck_assert_ptr_null(NULL);
}
END_TEST

/* A hand-made txn command: one op map with the fields given. */
enum { M_OK, M_UNKNOWN_FIELD, M_WRONG_TYPE, M_BAD_VERB, M_BAD_KIND,
       M_NO_KEY, M_EMPTY_KEY, M_NOT_MAP, M_NO_OPS, M_TOO_MANY, M_DUP,
       M_NODE_SET };

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_op(msgpack_packer *pk, int m)
{
    int n = 3 + (m == M_UNKNOWN_FIELD || m == M_DUP) - (m == M_NO_KEY);

    if (m == M_NOT_MAP) {
        msgpack_pack_array(pk, 0);
        return;
    }
    msgpack_pack_map(pk, (size_t)n);
    pack_str(pk, "kind");
    pack_str(pk, m == M_BAD_KIND ? "nodes" : m == M_NODE_SET ? "node"
                                                            : "kv");
    pack_str(pk, "verb");
    if (m == M_WRONG_TYPE)
        msgpack_pack_uint64(pk, 1);
    else
        pack_str(pk, m == M_BAD_VERB ? "put" : "set");
    if (m != M_NO_KEY) {
        pack_str(pk, "key");
        pack_str(pk, m == M_EMPTY_KEY ? "" : "k");
    }
    if (m == M_UNKNOWN_FIELD) {
        pack_str(pk, "extra");
        msgpack_pack_uint64(pk, 1);
    }
    if (m == M_DUP) {
        pack_str(pk, "kind");
        pack_str(pk, "kv");
    }
}

static msgpack_sbuffer *make_cmd(int m)
{
    msgpack_sbuffer *sb = msgpack_sbuffer_new();
    msgpack_packer pk;
    size_t n = m == M_NO_OPS ? 0 : m == M_TOO_MANY ? 65 : 1;

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "v");
    msgpack_pack_uint64(&pk, 1);
    pack_str(&pk, "t");
    pack_str(&pk, "txn");
    pack_str(&pk, "ops");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        pack_op(&pk, m);
    return sb;
}

START_TEST(txn_decoder_refuses_malformed_commands)
{
    struct fsm_result res;

    for (int m = M_OK; m <= M_NODE_SET; m++) {
        msgpack_sbuffer *sb = make_cmd(m);
        int rc = fsm_apply(&f, 5, sb->data, sb->size, &res, err);

        if (m == M_OK) {
            ck_assert_int_eq(rc, 0);
            ck_assert(res.ok);
        } else {
            ck_assert_msg(rc == ERR_PARSE, "case %d: rc %d", m, rc);
            ck_assert_uint_eq(kv_count(f.kv), 1); /* from M_OK */
        }
        msgpack_sbuffer_free(sb);
    }
    ck_assert_int_eq(changes, 1);
}
END_TEST

START_TEST(txn_read_only_runs_without_index)
{
    struct fsm_txn_op ops[2] = {OP("get", "a"), OP("get-tree", "")};
    struct fsm_txn_op w[1] = {OP("delete", "a")};
    struct fsm_txn_out *o;

    put("a", "1", 1);
    ck_assert_int_eq(fsm_txn_read(&f, ops, 2, &o, err), 0);
    ck_assert_uint_eq(o->nres, 2);
    ck_assert_uint_eq(o->nerr, 0);
    fsm_txn_out_free(o);
    ck_assert_int_eq(fsm_txn_read(&f, w, 1, &o, err), ERR_INVAL);
    ck_assert_ptr_null(o);
    ck_assert(fsm_txn_is_write("delete-tree"));
    ck_assert(!fsm_txn_is_write("check-session"));
    ck_assert(!fsm_txn_is_write("bogus"));
}
END_TEST

START_TEST(txn_outcome_is_kept_for_its_index_only)
{
    struct fsm_txn_op ops[1] = {OP("set", "a")};
    struct fsm_result res;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err), 0);
    ck_assert_int_eq(fsm_apply(&f, 3, buf, len, &res, err), 0);
    ck_assert_int_eq(fsm_apply(&f, 4, buf, len, &res, err), 0);
    free(buf);
    ck_assert_ptr_null(fsm_txn_take(&f, 3)); /* replaced by 4's */
    /* left to fsm_release otherwise (no leak under ASan) */
}
END_TEST

#define S1 "11111111-2222-3333-4444-555555555551"
#define S2 "11111111-2222-3333-4444-555555555552"

/* A node n1 and a session id on it, through the real commands. */
static void make_session(const char *id, uint64_t index)
{
    char text[256];
    json_t *req;
    void *buf;
    size_t len;
    struct fsm_result res;

    req = json_loads("{\"Node\":\"n1\",\"Address\":\"10.0.0.1\"}", 0,
                     NULL);
    ck_assert_int_eq(fsm_encode_catalog("register", req, malloc, &buf, &len,
                                        err), 0);
    json_decref(req);
    ck_assert_int_eq(fsm_apply(&f, index, buf, len, &res, err), 0);
    free(buf);
    snprintf(text, sizeof(text), "{\"ID\":\"%s\",\"Node\":\"n1\"}", id);
    req = json_loads(text, 0, NULL);
    ck_assert_int_eq(fsm_encode_session("create", req, NULL, 0, malloc, &buf,
                                        &len, err), 0);
    json_decref(req);
    ck_assert_int_eq(fsm_apply(&f, index + 1, buf, len, &res, err), 0);
    ck_assert(res.ok);
    free(buf);
}

START_TEST(txn_lock_unlock_check_session)
{
    struct fsm_txn_op lock1[2] = {
        {.verb = "lock", .key = "l", .val = "v", .len = 1, .session = S1},
        {.verb = "check-session", .key = "l", .session = S1},
    };
    struct fsm_txn_op lock2[1] = {
        {.verb = "lock", .key = "l", .session = S2},
    };
    struct fsm_txn_op bad[3] = {
        {.verb = "lock", .key = "m"},
        {.verb = "lock", .key = "m", .session = "nope"},
        {.verb = "unlock", .key = "l", .session = S2},
    };
    struct fsm_txn_op unlock1[1] = {
        {.verb = "unlock", .key = "l", .val = "w", .len = 1, .session = S1},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;

    make_session(S1, 1);
    make_session(S2, 3);
    o = run(lock1, 2, 10, &res);
    ck_assert(res.ok);
    ck_assert_uint_eq(o->nres, 2);
    ck_assert_str_eq(o->res[0].kv->session, S1);
    ck_assert_uint_eq(o->res[0].kv->lock_index, 1);
    fsm_txn_out_free(o);
    o = run(lock2, 1, 11, &res);
    ck_assert(!res.ok);
    ck_assert_str_eq(o->err[0].what,
                     "failed to lock key \"l\", lock is already held");
    fsm_txn_out_free(o);
    o = run(bad, 3, 12, &res);
    ck_assert_uint_eq(o->nerr, 3);
    ck_assert_str_eq(o->err[0].what, "missing session");
    ck_assert_str_eq(o->err[1].what, "invalid session \"nope\"");
    ck_assert_str_eq(o->err[2].what, "failed to unlock key \"l\", lock "
                     "isn't held, or is held by another session");
    ck_assert_ptr_null(kv_peek(f.kv, "m"));
    ck_assert_uint_eq(kv_key_index(f.kv, "m"), 0);
    fsm_txn_out_free(o);
    o = run(unlock1, 1, 13, &res);
    ck_assert(res.ok);
    ck_assert_ptr_null(kv_peek(f.kv, "l")->session);
    ck_assert_int_eq(kv_peek(f.kv, "l")->val[0], 'w');
    ck_assert_uint_eq(kv_peek(f.kv, "l")->lock_index, 1);
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_rollback_restores_a_lock)
{
    struct fsm_txn_op ops[3] = {
        {.verb = "unlock", .key = "l", .session = S1},
        {.verb = "set", .key = "l", .val = "x", .len = 1},
        OP("get", "missing"),
    };
    struct fsm_txn_op lock1[1] = {
        {.verb = "lock", .key = "l", .val = "v", .len = 1, .session = S1},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;
    void *before, *after;
    size_t blen, alen;

    make_session(S1, 1);
    fsm_txn_out_free(run(lock1, 1, 5, &res));
    before = state(&blen);
    o = run(ops, 3, 6, &res);
    ck_assert(!res.ok);
    after = state(&alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    ck_assert_str_eq(kv_peek(f.kv, "l")->session, S1);
    free(before);
    free(after);
    fsm_txn_out_free(o);
}
END_TEST

START_TEST(txn_catalog_gets)
{
    struct fsm_txn_op ops[4] = {
        {.kind = FSM_TXN_NODE, .verb = "get", .key = "n1"},
        {.kind = FSM_TXN_SERVICE, .verb = "get", .key = "n1", .id = "web1"},
        {.kind = FSM_TXN_CHECK, .verb = "get", .key = "n1", .id = "c1"},
        {.verb = "set", .key = "k"},
    };
    struct fsm_txn_op bad[3] = {
        {.kind = FSM_TXN_NODE, .verb = "get", .key = "nope"},
        {.kind = FSM_TXN_SERVICE, .verb = "get", .key = "n1", .id = "x"},
        {.kind = FSM_TXN_CHECK, .verb = "get", .key = "n1", .id = "y"},
    };
    struct fsm_txn_op setop[1] = {
        {.kind = FSM_TXN_NODE, .verb = "set", .key = "n1"},
    };
    json_t *req = json_loads(
        "{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Service\":"
        "{\"ID\":\"web1\",\"Service\":\"web\",\"Port\":80},\"Check\":"
        "{\"CheckID\":\"c1\",\"Status\":\"passing\",\"ServiceID\":"
        "\"web1\"}}", 0, NULL);
    struct fsm_result res;
    struct fsm_txn_out *o;
    void *buf;
    size_t len;

    ck_assert_int_eq(fsm_encode_catalog("register", req, malloc, &buf, &len,
                                        err), 0);
    json_decref(req);
    ck_assert_int_eq(fsm_apply(&f, 1, buf, len, &res, err), 0);
    ck_assert(res.ok);
    free(buf);
    o = run(ops, 4, 2, &res);
    ck_assert(res.ok);
    ck_assert_uint_eq(o->nres, 4);
    ck_assert_int_eq(o->res[0].kind, FSM_TXN_NODE);
    ck_assert_str_eq(json_string_value(json_object_get(o->res[0].obj,
                                                       "Address")),
                     "10.0.0.1");
    ck_assert_str_eq(json_string_value(json_object_get(o->res[1].obj,
                                                       "Service")), "web");
    ck_assert_str_eq(json_string_value(json_object_get(o->res[2].obj,
                                                       "Status")),
                     "passing");
    ck_assert_int_eq(o->res[3].kind, FSM_TXN_KV);
    fsm_txn_out_free(o);
    ck_assert_int_eq(fsm_txn_read(&f, bad, 3, &o, err), 0);
    ck_assert_uint_eq(o->nerr, 3);
    ck_assert_str_eq(o->err[0].what, "node \"nope\" doesn't exist");
    ck_assert_str_eq(o->err[1].what,
                     "service \"x\" on node \"n1\" doesn't exist");
    ck_assert_str_eq(o->err[2].what,
                     "check \"y\" on node \"n1\" doesn't exist");
    fsm_txn_out_free(o);
    ck_assert_int_eq(fsm_encode_txn(setop, 1, malloc, &buf, &len, err),
                     ERR_INVAL);
}
END_TEST

#define NODE_REQ "{\"Node\":\"n2\",\"Address\":\"10.0.0.2\"," \
                 "\"Meta\":{\"a\":\"b\"},\"NodeMeta\":{\"a\":\"b\"}}"
#define SVC_REQ "{\"Node\":\"n2\",\"SkipNodeUpdate\":true,\"Service\":" \
                "{\"ID\":\"db1\",\"Service\":\"db\",\"Port\":5432}}"
#define CHK_REQ "{\"Node\":\"n2\",\"SkipNodeUpdate\":true,\"Check\":" \
                "{\"Node\":\"n2\",\"CheckID\":\"c2\",\"Name\":\"c2\"," \
                "\"Status\":\"passing\",\"ServiceID\":\"db1\"}}"

/* Node, service and check set with a kv set in one transaction; then
 * cas and delete-cas by index, stale and current. */
START_TEST(txn_catalog_writes_commit_together)
{
    struct fsm_txn_op ops[5] = {
        {.kind = FSM_TXN_NODE, .verb = "set", .key = "n2", .req = NODE_REQ},
        {.kind = FSM_TXN_SERVICE, .verb = "set", .key = "n2", .id = "db1",
         .req = SVC_REQ},
        {.kind = FSM_TXN_CHECK, .verb = "set", .key = "n2", .id = "c2",
         .req = CHK_REQ},
        {.kind = FSM_TXN_SERVICE, .verb = "get", .key = "n2", .id = "db1"},
        {.verb = "set", .key = "k", .val = "v", .len = 1},
    };
    struct fsm_txn_op stale[3] = {
        {.kind = FSM_TXN_SERVICE, .verb = "set", .key = "n2", .id = "db1",
         .req = "{\"Node\":\"n2\",\"SkipNodeUpdate\":true,\"Service\":"
                "{\"ID\":\"db1\",\"Service\":\"db2\",\"Tags\":[\"t\"]}}"},
        {.kind = FSM_TXN_NODE, .verb = "cas", .key = "n2", .index = 3,
         .req = NODE_REQ},
        {.kind = FSM_TXN_SERVICE, .verb = "delete-cas", .key = "n2",
         .id = "db1", .index = 4},
    };
    struct fsm_txn_op fresh[2] = {
        {.kind = FSM_TXN_CHECK, .verb = "delete-cas", .key = "n2",
         .id = "c2", .index = 5},
        {.kind = FSM_TXN_NODE, .verb = "delete", .key = "n2"},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;
    json_t *node, *checks;
    void *before, *after;
    size_t blen, alen;

    o = run(ops, 5, 5, &res);
    ck_assert_msg(res.ok, "%s", o->nerr ? o->err[0].what : "");
    ck_assert_uint_eq(o->nres, 5);
    ck_assert_int_eq(o->res[0].kind, FSM_TXN_NODE);
    ck_assert_uint_eq(json_integer_value(json_object_get(o->res[0].obj,
                                                         "ModifyIndex")), 5);
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(o->res[0].obj, "Meta"), "a")), "b");
    ck_assert_int_eq(o->res[1].kind, FSM_TXN_SERVICE);
    ck_assert_int_eq(o->res[2].kind, FSM_TXN_CHECK);
    ck_assert_str_eq(json_string_value(json_object_get(o->res[2].obj,
                                                       "ServiceName")), "db");
    ck_assert_int_eq(o->res[3].kind, FSM_TXN_SERVICE); /* sees the set */
    ck_assert_int_eq(o->res[4].kind, FSM_TXN_KV);
    fsm_txn_out_free(o);
    ck_assert_uint_eq(cat_index(f.cat, CAT_CHECKS), 5);
    ck_assert_ptr_nonnull(kv_peek(f.kv, "k"));
    ck_assert_int_eq(changes, 2); /* kv, catalog */

    /* a rename that rewrites the check's ServiceName, then stale ops:
     * nothing of it stays */
    before = state(&blen);
    o = run(stale, 3, 6, &res);
    ck_assert(!res.ok);
    ck_assert_uint_eq(o->nerr, 2);
    ck_assert_int_eq(o->err[0].op_index, 1);
    ck_assert_str_eq(o->err[0].what,
                     "failed to set node \"n2\", index is stale");
    ck_assert_str_eq(o->err[1].what, "failed to delete service \"db1\" on "
                     "node \"n2\", index is stale");
    fsm_txn_out_free(o);
    after = state(&alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    free(before);
    free(after);
    ck_assert_uint_eq(cat_max_index(f.cat), 5);

    o = run(fresh, 2, 7, &res);
    ck_assert(res.ok);
    ck_assert_uint_eq(o->nres, 0); /* deletes return nothing */
    fsm_txn_out_free(o);
    ck_assert_ptr_null(node = cat_node(f.cat, "n2"));
    checks = cat_node_checks(f.cat, "n2");
    ck_assert_uint_eq(json_array_size(checks), 0);
    json_decref(checks);
    ck_assert_int_eq(changes, 3);
    ck_assert_str_eq(last_kind, "catalog");
}
END_TEST

/* The last op fails: the node delete before it (which would invalidate
 * the session on n1) and the kv set leave no trace, sessions included;
 * the same delete alone commits and invalidates the session. */
START_TEST(txn_catalog_last_op_fails_state_byte_identical)
{
    struct fsm_txn_op ops[4] = {
        {.verb = "set", .key = "a", .val = "1", .len = 1},
        {.kind = FSM_TXN_NODE, .verb = "set", .key = "n2", .req = NODE_REQ},
        {.kind = FSM_TXN_NODE, .verb = "delete", .key = "n1"},
        {.kind = FSM_TXN_SERVICE, .verb = "set", .key = "zz", .id = "db1",
         .req = "{\"Node\":\"zz\",\"SkipNodeUpdate\":true,\"Service\":"
                "{\"ID\":\"db1\",\"Service\":\"db\"}}"},
    };
    struct fsm_result res;
    struct fsm_txn_out *o;
    void *before, *after;
    size_t blen, alen;
    int changes_before;

    make_session(S1, 1);
    ck_assert_uint_eq(sess_count(f.sess), 1);
    before = state(&blen);
    changes_before = changes;
    o = run(ops, 4, 9, &res);
    ck_assert(!res.ok);
    ck_assert_uint_eq(o->nerr, 1);
    ck_assert_int_eq(o->err[0].op_index, 3);
    ck_assert_str_eq(o->err[0].what, "Missing node registration");
    ck_assert_uint_eq(o->nres, 0);
    fsm_txn_out_free(o);
    after = state(&alen);
    ck_assert_uint_eq(alen, blen);
    ck_assert(memcmp(before, after, blen) == 0);
    ck_assert_uint_eq(sess_count(f.sess), 1);
    ck_assert_ptr_null(kv_peek(f.kv, "a"));
    ck_assert_int_eq(changes, changes_before);
    free(before);
    free(after);

    o = run(&ops[2], 1, 10, &res);
    ck_assert(res.ok);
    fsm_txn_out_free(o);
    ck_assert_uint_eq(sess_count(f.sess), 0);
}
END_TEST

START_TEST(txn_catalog_encoder_checks_requests)
{
    struct fsm_txn_op ops[1] = {
        {.kind = FSM_TXN_NODE, .verb = "set", .key = "n2", .req = "{"},
    };
    void *buf = NULL;
    size_t len;

    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err),
                     ERR_INVAL);
    ops[0].req = "{\"Address\":\"10.0.0.2\"}";
    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err),
                     ERR_INVAL);
    ck_assert_str_eq(err, "operation 0: Must provide node");
    ops[0].verb = "delete";
    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err),
                     ERR_INVAL);
    ops[0].req = NULL;
    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err), 0);
    free(buf);
    ops[0].verb = "lock";
    ck_assert_int_eq(fsm_encode_txn(ops, 1, malloc, &buf, &len, err),
                     ERR_INVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("fsm_txn");
    TCase *tc = tcase_create("txn");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, txn_applies_in_order_with_one_index);
    tcase_add_test(tc, txn_get_tree_delete_tree_delete_cas);
    tcase_add_test(tc, txn_third_op_fails_state_byte_identical);
    tcase_add_test(tc, txn_reports_every_error_with_consul_messages);
    tcase_add_test(tc, txn_check_session_matches_held_key);
    tcase_add_test(tc, txn_encoder_refuses_bad_ops);
    tcase_add_test(tc, txn_decoder_refuses_malformed_commands);
    tcase_add_test(tc, txn_read_only_runs_without_index);
    tcase_add_test(tc, txn_outcome_is_kept_for_its_index_only);
    tcase_add_test(tc, txn_lock_unlock_check_session);
    tcase_add_test(tc, txn_rollback_restores_a_lock);
    tcase_add_test(tc, txn_catalog_gets);
    tcase_add_test(tc, txn_catalog_writes_commit_together);
    tcase_add_test(tc, txn_catalog_last_op_fails_state_byte_identical);
    tcase_add_test(tc, txn_catalog_encoder_checks_requests);
    suite_add_tcase(s, tc);
    return s;
}

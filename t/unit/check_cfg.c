/* check_cfg.c - unit tests for cfg (HCL/JSON parsing, loading, merging,
 * flags, building struct cfg) and its parser hcl.
 *
 * Fork mode; files live in a fresh mkdtemp directory per test.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "cfg_int.h"
#include "hcl.h"
#include "opt.h"
#include "unit.h"

#define MAX_WARNS 64

static char *warns[MAX_WARNS];
static int n_warns;
static char tmpdir[64];
static struct cfg C;

static void collect(void *ctx, const char *msg)
{
    (void)ctx;
    if (n_warns < MAX_WARNS)
        warns[n_warns++] = strdup(msg);
}

static bool has_warn(const char *exact)
{
    for (int i = 0; i < n_warns; i++)
        if (strcmp(warns[i], exact) == 0)
            return true;
    return false;
}

static bool any_warn_contains(const char *needle)
{
    for (int i = 0; i < n_warns; i++)
        if (strstr(warns[i], needle) != NULL)
            return true;
    return false;
}

static void rm_tree(const char *dir)
{
    char path[512];
    struct dirent *de;
    struct stat st;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_cfg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    n_warns = 0;
    memset(&C, 0, sizeof(C));
}

static void teardown(void)
{
    cfg_release(&C);
    for (int i = 0; i < n_warns; i++)
        free(warns[i]);
    n_warns = 0;
    rm_tree(tmpdir);
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static json_t *parse_as(const char *text, const char *name,
                        enum cfg_format fmt)
{
    char err[ERR_LEN] = "";
    json_t *o = NULL;
    int rc = cfg_parse(text, strlen(text), name, fmt, &o, err);

    ck_assert_msg(rc == 0, "parse failed: %s", err);
    ck_assert(json_is_object(o));
    return o;
}

static json_t *parse(const char *text)
{
    return parse_as(text, "t.hcl", CFG_AUTO);
}

/* Compare a tree with JSON text, then drop the tree. */
static void expect_json(json_t *got, const char *want)
{
    json_error_t je;
    json_t *w = json_loads(want, 0, &je);
    char *g;

    ck_assert_msg(w != NULL, "bad expectation: %s", je.text);
    g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, w), "got %s want %s", g, want);
    free(g);
    json_decref(w);
    json_decref(got);
}

static void expect_parse_err(const char *text, const char *name,
                             enum cfg_format fmt, const char *want)
{
    char err[ERR_LEN] = "";
    json_t *o = (json_t *)1;

    ck_assert_int_eq(cfg_parse(text, strlen(text), name, fmt, &o, err),
                     ERR_PARSE);
    ck_assert_ptr_null(o);
    ck_assert_str_eq(err, want);
}

/* Parse HCL and build into C; returns cfg_build's code. */
static int build(const char *hcl, char *err)
{
    json_t *t = parse(hcl);
    int rc = cfg_build(t, &C, collect, NULL, err);

    json_decref(t);
    return rc;
}

static void build_ok(const char *hcl)
{
    char err[ERR_LEN] = "";

    ck_assert_msg(build(hcl, err) == 0, "build failed: %s", err);
}

static void expect_build_err(const char *hcl, const char *want)
{
    char err[ERR_LEN] = "";

    ck_assert_int_eq(build(hcl, err), ERR_INVAL);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(n_warns, 0);
    ck_assert_ptr_null(C.raw);
    ck_assert_ptr_null(C.datacenter);
}

/* ---- HCL -------------------------------------------------------------- */

START_TEST(hcl_scalars)
{
    expect_json(parse("a = \"x\"\nb = 42\nc = -7\nd = 1.5\ne = true\n"
                      "f = false\ng = 0x1F\nh = 010\ni = -2.5e2\n"),
                "{\"a\":\"x\",\"b\":42,\"c\":-7,\"d\":1.5,\"e\":true,"
                "\"f\":false,\"g\":31,\"h\":8,\"i\":-250.0}");
}
END_TEST

START_TEST(hcl_blocks_and_labels)
{
    expect_json(parse("ports { http = 1 }\n"
                      "service \"web\" { port = 80 }\n"
                      "key \"a\" \"b\" { x = 1 }\n"
                      "key \"a\" \"c\" { y = 2 }\n"
                      "\"quoted\" { \"k\" = \"v\" }\n"
                      "obj = { z = 3 }\n"),
                "{\"ports\":{\"http\":1},\"service\":{\"web\":{\"port\":80}},"
                "\"key\":{\"a\":{\"b\":{\"x\":1},\"c\":{\"y\":2}}},"
                "\"quoted\":{\"k\":\"v\"},\"obj\":{\"z\":3}}");
}
END_TEST

START_TEST(hcl_repeated_blocks_become_list)
{
    expect_json(parse("service { name = \"a\" }\n"
                      "service { name = \"b\" }\n"
                      "service = { name = \"c\" }\n"
                      "x = 1\nx = 2\n"
                      "l = [\"a\"]\nl = [\"b\"]\n"),
                "{\"service\":[{\"name\":\"a\"},{\"name\":\"b\"},"
                "{\"name\":\"c\"}],\"x\":2,\"l\":[\"a\",\"b\"]}");
}
END_TEST

START_TEST(hcl_lists)
{
    expect_json(parse("l = [1, 2, 3,]\n"
                      "m = [\n  \"a\", # one\n  \"b\", // two\n]\n"
                      "n = []\n"
                      "o = [{ a = 1 }, { b = [true, false] }]\n"
                      "p = [[1], [2, [3]]]\n"),
                "{\"l\":[1,2,3],\"m\":[\"a\",\"b\"],\"n\":[],"
                "\"o\":[{\"a\":1},{\"b\":[true,false]}],"
                "\"p\":[[1],[2,[3]]]}");
}
END_TEST

START_TEST(hcl_string_escapes)
{
    json_t *o = parse("s = \"q\\\"b\\\\s\\nn\\tt\\u00e9\\U0001F600\\x41"
                      "\\101\\/\"\n"
                      "t = \"${lookup(\"x\", \"y\")}\"\n"
                      "u = \"\"\n"
                      "v = \"tab\there\"\n");

    ck_assert_str_eq(json_string_value(json_object_get(o, "s")),
                     "q\"b\\s\nn\tt\xC3\xA9\xF0\x9F\x98\x80" "AA/");
    ck_assert_str_eq(json_string_value(json_object_get(o, "t")),
                     "${lookup(\"x\", \"y\")}");
    ck_assert_str_eq(json_string_value(json_object_get(o, "u")), "");
    ck_assert_str_eq(json_string_value(json_object_get(o, "v")),
                     "tab\there");
    json_decref(o);
}
END_TEST

START_TEST(hcl_heredocs)
{
    json_t *o = parse("a = <<EOF\nline1\n  line2\nEOF\n"
                      "b = <<-EOT\n    x\n      y\n    EOT\n"
                      "c = <<E\nE\n"
                      "d = <<EOF\r\nwin\r\nEOF\r\n"
                      "e = 1\n");

    ck_assert_str_eq(json_string_value(json_object_get(o, "a")),
                     "line1\n  line2\n");
    ck_assert_str_eq(json_string_value(json_object_get(o, "b")), "x\n  y\n");
    ck_assert_str_eq(json_string_value(json_object_get(o, "c")), "");
    ck_assert_str_eq(json_string_value(json_object_get(o, "d")), "win\n");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "e")), 1);
    json_decref(o);
}
END_TEST

START_TEST(hcl_comments_and_layout)
{
    expect_json(parse("# hash\n// slashes\n/* block\n spanning */ a = 1 "
                      "/* inline */ b = 2, c = 3 # trailing\n"
                      "ports { dns = 8600  http = 8500  https = -1 }\n"
                      "x { y = 1, z = 2, }\n"),
                "{\"a\":1,\"b\":2,\"c\":3,\"ports\":{\"dns\":8600,"
                "\"http\":8500,\"https\":-1},\"x\":{\"y\":1,\"z\":2}}");
}
END_TEST

START_TEST(hcl_empty_documents)
{
    expect_json(parse(""), "{}");
    expect_json(parse("  \n# nothing\n/* at all */\n"), "{}");
    expect_json(parse_as("  // only a comment\n", "t.json", CFG_JSON), "{}");
    expect_json(parse("\xEF\xBB\xBF" "a = 1\n"), "{\"a\":1}");
}
END_TEST

START_TEST(json_with_comments)
{
    const char *doc = "// leading\n# hash\n{\n"
                      "  \"a\": 1, // one\n"
                      "  /* block */ \"b\": [true, false, null],\n"
                      "  \"c\": {\"d\": \"\\u00e9\\ud83d\\ude00\"},\n"
                      "  \"e\": -0.5e1, \"a\": 2\n}\n";

    expect_json(parse_as(doc, "t.json", CFG_JSON),
                "{\"a\":2,\"b\":[true,false,null],"
                "\"c\":{\"d\":\"\xC3\xA9\xF0\x9F\x98\x80\"},\"e\":-5.0}");
    /* .hcl whose first real character is '{' is read as JSON. */
    expect_json(parse_as(doc, "t.hcl", CFG_HCL),
                "{\"a\":2,\"b\":[true,false,null],"
                "\"c\":{\"d\":\"\xC3\xA9\xF0\x9F\x98\x80\"},\"e\":-5.0}");
    ck_assert(hcl_is_json(doc, strlen(doc)) == true);
    ck_assert(hcl_is_json("a = {}", 6) == false);
}
END_TEST

struct perr {
    const char *text, *name;
    enum cfg_format fmt;
    const char *want;
};

static const struct perr perrs[] = {
    {"a = ", "t.hcl", CFG_HCL, "t.hcl:1:5: expected a value, got end of input"},
    {"a = \"x", "t.hcl", CFG_HCL, "t.hcl:1:5: string not terminated"},
    {"a = \"x\ny\"", "t.hcl", CFG_HCL, "t.hcl:1:5: string not terminated"},
    {"a { b = 1", "t.hcl", CFG_HCL,
     "t.hcl:1:10: expected '}', got end of input"},
    {"x = 1\ny = [1 2]", "t.hcl", CFG_HCL,
     "t.hcl:2:8: expected ',' or ']', got number"},
    {"x = 1\n  = 2", "t.hcl", CFG_HCL, "t.hcl:2:3: expected a key, got '='"},
    {"a = foo", "t.hcl", CFG_HCL,
     "t.hcl:1:5: expected a value, got a bare word (strings need "
     "quotes)"},
    {"a = 08", "t.hcl", CFG_HCL, "t.hcl:1:5: invalid number"},
    {"a = 12abc", "t.hcl", CFG_HCL, "t.hcl:1:5: invalid number"},
    {"a = 99999999999999999999", "t.hcl", CFG_HCL,
     "t.hcl:1:5: number out of range"},
    {"\n\n  /* x", "t.hcl", CFG_HCL, "t.hcl:3:3: comment not terminated"},
    {"a = \"\\q\"", "t.hcl", CFG_HCL,
     "t.hcl:1:6: invalid escape sequence '\\q'"},
    {"a = \"\\u12\"", "t.hcl", CFG_HCL, "t.hcl:1:6: invalid unicode escape"},
    {"a = \"\\ud800\"", "t.hcl", CFG_HCL,
     "t.hcl:1:6: unpaired surrogate in escape"},
    {"a = \"\\u0000\"", "t.hcl", CFG_HCL, "t.hcl:1:6: NUL character in string"},
    {"a = <<EOF\nx\n", "t.hcl", CFG_HCL, "t.hcl:1:5: heredoc not terminated"},
    {"a = << EOF\n", "t.hcl", CFG_HCL, "t.hcl:1:5: heredoc marker missing"},
    {"a = <<EOF x\nEOF\n", "t.hcl", CFG_HCL,
     "t.hcl:1:10: heredoc marker must end the line"},
    {"a @ 1", "t.hcl", CFG_HCL, "t.hcl:1:3: unexpected character '@'"},
    {"acl { tokens { master = b1c2-secret } }", "t.hcl", CFG_HCL,
     "t.hcl:1:25: expected a value, got a bare word (strings need quotes)"},
    {"l = [\"a\" b]", "t.hcl", CFG_HCL,
     "t.hcl:1:10: expected ',' or ']', got a bare word"},
    {"{\"master\": b1c2-secret}", "t.json", CFG_JSON,
     "t.json:1:12: invalid literal (strings need double quotes)"},
    {"a = \"\xC3\xA9\" @", "t.hcl", CFG_HCL,
     "t.hcl:1:9: unexpected character '@'"},
    {"# \xE4\xB8\xAD\xE6\x96\x87\nx = ", "t.hcl", CFG_HCL,
     "t.hcl:2:5: expected a value, got end of input"},
    {"a = \"\xFF\"", "t.hcl", CFG_HCL, "t.hcl:1:5: invalid UTF-8 in string"},
    {"a b = 1", "t.hcl", CFG_HCL,
     "t.hcl:1:5: expected '{' after block labels, got '='"},
    {"a 1", "t.hcl", CFG_HCL,
     "t.hcl:1:3: expected '=' or '{' after key, got number"},
    {"}", "t.hcl", CFG_HCL, "t.hcl:1:1: expected a key, got '}'"},
    {"a = null", "t.hcl", CFG_HCL,
     "t.hcl:1:5: expected a value, got 'null' (strings need quotes)"},
    {"a = [1,,2]", "t.hcl", CFG_HCL, "t.hcl:1:8: expected a value, got ','"},
    {"{\"a\": 1,}", "t.json", CFG_JSON,
     "t.json:1:9: expected a string key, got '}'"},
    {"{\"a\" 1}", "t.json", CFG_JSON,
     "t.json:1:6: expected ':' after key, got number"},
    {"{\"a\": 1} x", "t.json", CFG_JSON,
     "t.json:1:10: invalid literal (strings need double quotes)"},
    {"{\"a\": 1} {}", "t.json", CFG_JSON,
     "t.json:1:10: unexpected '{' after the top-level object"},
    {"{\"a\": 01}", "t.json", CFG_JSON, "t.json:1:7: invalid number"},
    {"{\"a\": [1 2]}", "t.json", CFG_JSON,
     "t.json:1:10: expected ',' or ']', got number"},
    {"{\"a\": 'x'}", "t.json", CFG_JSON,
     "t.json:1:7: unexpected character '''"},
    {"{\"a\": \"\\x41\"}", "t.json", CFG_JSON,
     "t.json:1:8: invalid escape sequence '\\x'"},
    {"{\"a\": \"\t\"}", "t.json", CFG_JSON,
     "t.json:1:8: control character in string"},
    {"{\n  \"acl\": {\n    \"enabled\": true,\n  }\n}", "t.hcl", CFG_AUTO,
     "t.hcl:4:3: expected a string key, got '}'"},
    {"[1]", "t.json", CFG_JSON, "t.json:1:1: expected '{', got '['"},
    {"a = 1", "t.json", CFG_JSON,
     "t.json:1:1: invalid literal (strings need double quotes)"},
};

START_TEST(parse_error_positions)
{
    const struct perr *p = &perrs[_i];

    expect_parse_err(p->text, p->name, p->fmt, p->want);
}
END_TEST

START_TEST(parse_nesting_limit)
{
    char buf[4096];
    size_t n = 0;

    n += (size_t)snprintf(buf, sizeof(buf), "a = ");
    for (int i = 0; i < 1000; i++)
        buf[n++] = '[';
    buf[n] = '\0';
    expect_parse_err(buf, "t.hcl", CFG_HCL, "t.hcl:1:105: nesting too deep");
    memset(buf, 0, sizeof(buf));
    for (n = 0; n < 2000; n += 5)
        memcpy(buf + n, "{\"a\":", 5);
    expect_parse_err(buf, "t.json", CFG_JSON,
                     "t.json:1:501: nesting too deep");
}
END_TEST

/* Deterministic mutation fuzzing: never a crash, leak or abort; every
 * result is either an object or ERR_PARSE with a positioned message. */
START_TEST(parse_fuzz)
{
    static const char *seeds[] = {
        "a = \"x\"\nports { http = 8500 }\nl = [1, \"b\", { c = true }]\n"
        "h = <<EOF\ntext\nEOF\nk \"l\" { m = -1.5e3 } # c\n",
        "{ \"acl\": { \"tokens\": { \"master\": \"x\" } }, // c\n"
        "  \"l\": [1, 2.5, null, \"\\u00e9\"] }\n",
        "s = \"${a(\"b\")}\" /* c */ t = <<-E\n  x\n  E\n",
    };
    static const char alphabet[] = "{}[]=,:\"\\<>-#/*\n $xuU0e.tf";
    unsigned seed = 12345;
    char buf[512], err[ERR_LEN];

    for (int it = 0; it < 20000; it++) {
        const char *s = seeds[it % 3];
        size_t n = strlen(s), cut;
        json_t *o = NULL;
        int rc;

        memcpy(buf, s, n);
        for (int m = 0; m < 1 + it % 4; m++) {
            seed = seed * 1103515245 + 12345;
            size_t pos = (seed >> 8) % n;
            seed = seed * 1103515245 + 12345;
            buf[pos] = (seed >> 16) % 4 == 0
                           ? (char)(seed >> 9)
                           : alphabet[(seed >> 9) % (sizeof(alphabet) - 1)];
        }
        seed = seed * 1103515245 + 12345;
        cut = it % 5 == 0 ? (seed >> 8) % (n + 1) : n;
        rc = cfg_parse(buf, cut, "f", CFG_AUTO, &o, err);
        ck_assert_msg(rc == 0 || rc == ERR_PARSE, "rc %d", rc);
        if (rc == 0)
            ck_assert(json_is_object(o));
        else
            ck_assert_msg(strncmp(err, "f:", 2) == 0, "%s", err);
        json_decref(o);
    }
}
END_TEST

/* ---- loading ---------------------------------------------------------- */

/* deployment.md step 3 and 4, verbatim. */
static const char auth_hcl[] =
    "{\n"
    "\"acl\": {\n"
    "\"enabled\": true, // enable ACLs\n"
    "\"default_policy\": \"deny\", // deny everything not explicitly "
    "allowed\n"
    "\"enable_token_persistence\": true, // tokens survive restarts\n"
    "\"tokens\": {\n"
    "\"master\": \"xiaopaluliulangji\" // the cluster's management token\n"
    "}\n"
    "}\n"
    "}\n";

static const char consulha_hcl[] =
    "server = true\n"
    "retry_join = [\"192.168.1.1\", \"192.168.1.2\", \"192.168.1.3\"]\n";

/* The same two files as in the original (Chinese) runbook. */
static const char auth_hcl_zh[] =
    "{\n"
    "\"acl\": {\n"
    "\"enabled\": true, // \xE5\x90\xAF\xE7\x94\xA8" "ACL\xE5\x8A\x9F\xE8\x83"
    "\xBD\n"
    "\"default_policy\": \"deny\", // \xE9\xBB\x98\xE8\xAE\xA4\xE7\xAD\x96"
    "\xE7\x95\xA5\xEF\xBC\x9A\xE6\x8B\x92\xE7\xBB\x9D\n"
    "\"enable_token_persistence\": true, // Token\xE6\x8C\x81\xE4\xB9\x85"
    "\xE5\x8C\x96\n"
    "\"tokens\": {\n"
    "\"master\": \"xiaopaluliulangji\" // (Master\xE6\x9D\x83\xE9\x99\x90"
    "Token)\n"
    "}\n"
    "}\n"
    "}\n";

static const char consulha_hcl_zh[] =
    "server = true # \xE5\x90\xAF\xE7\x94\xA8\xE6\x9C\x8D\xE5\x8A\xA1\xE5"
    "\x99\xA8\xE6\xA8\xA1\xE5\xBC\x8F\n"
    "retry_join = [\"192.168.1.1\", \"192.168.1.2\", \"192.168.1.3\"] # "
    "IP\n";

/* The consul.ini command line, as the agent would turn it into a tree. */
static void apply_runbook_flags(json_t *acc)
{
    static const char *const flags[][2] = {
        {"server", "true"},
        {"ports.http", "8500"},
        {"data_dir", "/data/data/consul/"},
        {"node_name", "192e168e1e1"},
        {"bind_addr", "192.168.1.1"},
        {"bootstrap_expect", "3"},
        {"client_addr", "0.0.0.0"},
        {"datacenter", "xiaopalu"},
        {"ui_config.enabled", "true"},
    };
    char err[ERR_LEN];

    for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++)
        ck_assert_msg(cfg_set_flag(acc, flags[i][0], flags[i][1], err) == 0,
                      "%s", err);
}

static void check_runbook_cfg(void)
{
    ck_assert(C.acl.enabled);
    ck_assert_str_eq(C.acl.default_policy, "deny");
    ck_assert(C.acl.enable_token_persistence);
    ck_assert_str_eq(C.acl.tokens.initial_management, "xiaopaluliulangji");
    ck_assert(has_warn("The 'acl.tokens.master' field is deprecated. Use "
                       "the 'acl.tokens.initial_management' field instead."));
    ck_assert(C.server);
    ck_assert_int_eq(C.n_retry_join, 3);
    ck_assert_str_eq(C.retry_join[0], "192.168.1.1");
    ck_assert_str_eq(C.retry_join[1], "192.168.1.2");
    ck_assert_str_eq(C.retry_join[2], "192.168.1.3");
    ck_assert(!any_warn_contains("xiaopaluliulangji"));
    ck_assert_ptr_null(cfg_get_path(C.raw, "acl.tokens.master"));
    ck_assert_str_eq(json_string_value(cfg_get_path(
                         C.raw, "acl.tokens.initial_management")),
                     "xiaopaluliulangji");
}

START_TEST(reference_deployment_dir)
{
    json_t *acc = json_object();
    char err[ERR_LEN];

    write_file("auth.hcl", auth_hcl);
    write_file("consulha.hcl", consulha_hcl);
    ck_assert_msg(cfg_load_dir(tmpdir, acc, err) == 0, "%s", err);
    ck_assert_msg(cfg_build(acc, &C, collect, NULL, err) == ERR_INVAL, "ok?");
    ck_assert_str_eq(err, "data_dir cannot be empty");
    apply_runbook_flags(acc);
    ck_assert_msg(cfg_build(acc, &C, collect, NULL, err) == 0, "%s", err);
    json_decref(acc);
    check_runbook_cfg();
    ck_assert_int_eq(C.bootstrap_expect, 3);
    ck_assert(!C.bootstrap);
    ck_assert(has_warn("bootstrap_expect > 0: expecting 3 servers"));
    ck_assert_int_eq(n_warns, 2);
    ck_assert_str_eq(C.datacenter, "xiaopalu");
    ck_assert_str_eq(C.node_name, "192e168e1e1");
    ck_assert_str_eq(C.bind_addr, "192.168.1.1");
    ck_assert_str_eq(C.data_dir, "/data/data/consul/");
    ck_assert_int_eq(C.n_client_addr, 1);
    ck_assert_str_eq(C.client_addr[0], "0.0.0.0");
    ck_assert_int_eq(C.n_http_addrs, 1);
    ck_assert_str_eq(C.http_addrs[0], "0.0.0.0");
    ck_assert_int_eq(C.ports.http, 8500);
    ck_assert(C.ui);
}
END_TEST

START_TEST(reference_deployment_original_comments)
{
    json_t *acc = json_object();
    char err[ERR_LEN], dir[128];

    /* -config-dir=/opt/app/consul/config/ has a trailing slash. */
    write_file("auth.hcl", auth_hcl_zh);
    write_file("consulha.hcl", consulha_hcl_zh);
    snprintf(dir, sizeof(dir), "%s/", tmpdir);
    ck_assert_msg(cfg_load_dir(dir, acc, err) == 0, "%s", err);
    apply_runbook_flags(acc);
    ck_assert_msg(cfg_build(acc, &C, collect, NULL, err) == 0, "%s", err);
    json_decref(acc);
    check_runbook_cfg();
}
END_TEST

START_TEST(load_dir_lexical_order_and_filter)
{
    json_t *acc = json_object();
    char err[ERR_LEN], sub[128];

    write_file("20-b.hcl", "datacenter = \"second\"\nretry_join = [\"b\"]\n");
    write_file("10-a.json", "{\"datacenter\": \"first\", "
                            "\"retry_join\": [\"a\"], \"node_name\": \"n\"}");
    write_file("30-c.hcl", "retry_join = [\"c\"]\n");
    write_file("README.md", "not = config = at all");
    write_file("x.hcl.bak", "{{{");
    snprintf(sub, sizeof(sub), "%s/conf.d", tmpdir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    write_file("conf.d/zz.hcl", "datacenter = \"nested\"\n");
    ck_assert_int_eq(mkdir(strcat(sub, ".hcl"), 0700), 0);
    ck_assert_msg(cfg_load_dir(tmpdir, acc, err) == 0, "%s", err);
    expect_json(acc, "{\"datacenter\":\"second\",\"node_name\":\"n\","
                     "\"retry_join\":[\"a\",\"b\",\"c\"]}");
}
END_TEST

START_TEST(load_dir_errors)
{
    json_t *acc = json_object();
    char err[ERR_LEN], want[ERR_LEN], missing[128];

    snprintf(missing, sizeof(missing), "%s/nope", tmpdir);
    ck_assert_int_eq(cfg_load_dir(missing, acc, err), ERR_NOTFOUND);
    snprintf(want, sizeof(want), "cannot open config directory '%s': "
                                 "No such file or directory", missing);
    ck_assert_str_eq(err, want);

    write_file("a.hcl", "datacenter = \"a\"\n");
    write_file("b.hcl", "ports {\n  http = 8500\n");
    ck_assert_int_eq(cfg_load_dir(tmpdir, acc, err), ERR_PARSE);
    snprintf(want, sizeof(want), "%s/b.hcl:3:1: expected '}', got end of "
                                 "input", tmpdir);
    ck_assert_str_eq(err, want);
    /* Nothing merged from a directory with a bad file. */
    expect_json(acc, "{}");
}
END_TEST

START_TEST(load_file_format_by_suffix)
{
    char err[ERR_LEN], path[128], want[ERR_LEN];
    json_t *o;

    write_file("hcl.json", "a = 1\n");
    snprintf(path, sizeof(path), "%s/hcl.json", tmpdir);
    ck_assert_int_eq(cfg_load_file(path, CFG_AUTO, &o, err), ERR_PARSE);
    snprintf(want, sizeof(want), "%s:1:1: invalid literal (strings need "
                                 "double quotes)", path);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(cfg_load_file(path, CFG_HCL, &o, err), 0);
    expect_json(o, "{\"a\":1}");

    write_file("json.hcl", "/* c */ {\"a\": [1]}");
    snprintf(path, sizeof(path), "%s/json.hcl", tmpdir);
    ck_assert_int_eq(cfg_load_file(path, CFG_AUTO, &o, err), 0);
    expect_json(o, "{\"a\":[1]}");

    snprintf(path, sizeof(path), "%s/absent.hcl", tmpdir);
    ck_assert_int_eq(cfg_load_file(path, CFG_AUTO, &o, err), ERR_NOTFOUND);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(cfg_load_file(tmpdir, CFG_AUTO, &o, err), ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "Is a directory"));
}
END_TEST

/* ---- merge and flags -------------------------------------------------- */

START_TEST(merge_rules)
{
    json_t *dst = parse("a = 1\nl = [\"x\"]\no { p = 1, q = [1] }\n"
                        "r = { s = 1 }\n");
    json_t *src = parse("a = 2\nl = [\"y\"]\no { q = [2], t = \"n\" }\n"
                        "r = 5\nnew = true\n");

    cfg_merge(dst, src);
    /* src is copied, not shared. */
    json_object_set_new(json_object_get(src, "o"), "p", json_integer(9));
    json_decref(src);
    expect_json(dst, "{\"a\":2,\"l\":[\"x\",\"y\"],\"o\":{\"p\":1,"
                     "\"q\":[1,2],\"t\":\"n\"},\"r\":5,\"new\":true}");
}
END_TEST

START_TEST(merge_gathers_services_and_checks)
{
    json_t *acc = json_object();
    char err[ERR_LEN];

    write_file("web.hcl", "service { name = \"web\" port = 80 }\n");
    write_file("db.json", "{\"service\": {\"name\": \"db\"}, "
                          "\"check\": {\"id\": \"c1\"}}");
    write_file("lone.hcl", "checks { id = \"c0\" }\n");
    write_file("more.hcl", "services = [{ name = \"a\" }]\n"
                           "service { name = \"b\" }\n"
                           "service { name = \"c\" }\n");
    ck_assert_msg(cfg_load_dir(tmpdir, acc, err) == 0, "%s", err);
    expect_json(acc, "{\"services\":[{\"name\":\"db\"},{\"name\":\"a\"},"
                     "{\"name\":\"b\"},{\"name\":\"c\"},"
                     "{\"name\":\"web\",\"port\":80}],"
                     "\"checks\":[{\"id\":\"c1\"},{\"id\":\"c0\"}]}");
}
END_TEST

START_TEST(set_path_rules)
{
    json_t *o = json_object(), *v;
    char err[ERR_LEN];

    ck_assert_int_eq(cfg_set_path(o, "ports.http", json_integer(1), err), 0);
    ck_assert_int_eq(cfg_set_path(o, "ports.http", json_integer(2), err), 0);
    ck_assert_int_eq(cfg_set_path(o, "retry_join", json_string("a"), err), 0);
    ck_assert_int_eq(cfg_set_path(o, "retry_join",
                                  json_pack("[ss]", "b", "c"), err), 0);
    ck_assert_int_eq(cfg_set_path(o, "start_join", json_string("d"), err), 0);
    ck_assert_int_eq(cfg_set_path(o, "datacenter", json_string("x"), err), 0);
    v = json_integer(3);
    ck_assert_int_eq(cfg_set_path(o, "datacenter.sub", v, err), ERR_INVAL);
    ck_assert_str_eq(err, "'datacenter' is not an object");
    ck_assert_int_eq(cfg_set_path(o, "a..b", v, err), ERR_INVAL);
    ck_assert_str_eq(err, "invalid config key 'a..b'");
    ck_assert_int_eq(cfg_set_path(o, "", v, err), ERR_INVAL);
    ck_assert_int_eq(cfg_set_path(o, "x.", v, err), ERR_INVAL);
    /* On failure nothing was created and the caller still owns v. */
    ck_assert_ptr_null(json_object_get(o, "a"));
    ck_assert_ptr_null(json_object_get(o, "x"));
    ck_assert_int_eq(v->refcount, 1);
    json_decref(v);
    expect_json(o, "{\"ports\":{\"http\":2},\"retry_join\":[\"a\",\"b\","
                   "\"c\"],\"start_join\":[\"d\"],\"datacenter\":\"x\"}");
}
END_TEST

START_TEST(set_flag_types)
{
    json_t *o = json_object();
    char err[ERR_LEN];

    ck_assert_int_eq(cfg_set_flag(o, "server", "true", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "bootstrap", "0", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "ports.dns", "-1", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "retry_interval", "1m30s", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "retry_join", "10.0.0.1", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "retry_join", "10.0.0.2", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "node_meta", "rack:r1", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "node_meta", "zone:a:b", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "limits.rpc_rate", "2.5", err), 0);
    ck_assert_int_eq(cfg_set_flag(o, "ports.http", "80x", err), ERR_INVAL);
    ck_assert_str_eq(err, "'ports.http' must be a number, got \"80x\"");
    ck_assert_int_eq(cfg_set_flag(o, "server", "yes", err), ERR_INVAL);
    ck_assert_str_eq(err, "'server' must be a boolean, got \"yes\"");
    ck_assert_int_eq(cfg_set_flag(o, "retry_max", "", err), ERR_INVAL);
    ck_assert_int_eq(cfg_set_flag(o, "autopilot.min_quorum", "-1", err),
                     ERR_INVAL);
    ck_assert_int_eq(cfg_set_flag(o, "max_query_time", "10", err), ERR_INVAL);
    ck_assert_str_eq(err, "'max_query_time' must be a duration, got \"10\"");
    ck_assert_int_eq(cfg_set_flag(o, "no_such_flag", "1", err), ERR_INVAL);
    ck_assert_str_eq(err, "unknown config key 'no_such_flag'");
    ck_assert_int_eq(cfg_set_flag(o, "acl", "x", err), ERR_INVAL);
    ck_assert_str_eq(err, "'acl' cannot be set from a flag");
    expect_json(o, "{\"server\":true,\"bootstrap\":false,"
                   "\"ports\":{\"dns\":-1},"
                   "\"retry_interval\":\"1m30s\",\"retry_join\":[\"10.0.0.1\","
                   "\"10.0.0.2\"],\"node_meta\":{\"rack\":\"r1\","
                   "\"zone\":\"a:b\"},\"limits\":{\"rpc_rate\":2.5}}");
}
END_TEST

START_TEST(flags_override_files)
{
    json_t *acc = json_object();
    char err[ERR_LEN];

    write_file("a.hcl", "data_dir = \"/d\"\nports { http = 1234 dns = 53 }\n"
                        "retry_join = [\"f1\"]\nlog_level = \"warn\"\n");
    ck_assert_int_eq(cfg_load_dir(tmpdir, acc, err), 0);
    ck_assert_int_eq(cfg_set_flag(acc, "ports.http", "8500", err), 0);
    ck_assert_int_eq(cfg_set_flag(acc, "retry_join", "flag1", err), 0);
    ck_assert_int_eq(cfg_set_flag(acc, "log_level", "trace", err), 0);
    ck_assert_msg(cfg_build(acc, &C, collect, NULL, err) == 0, "%s", err);
    json_decref(acc);
    ck_assert_int_eq(C.ports.http, 8500);
    ck_assert_int_eq(C.ports.dns, 53);
    ck_assert_int_eq(C.n_retry_join, 2);
    ck_assert_str_eq(C.retry_join[0], "f1");
    ck_assert_str_eq(C.retry_join[1], "flag1");
    ck_assert_str_eq(C.log_level, "TRACE");
}
END_TEST

/* ---- build ------------------------------------------------------------ */

START_TEST(build_defaults)
{
    char host[256] = "";

    build_ok("data_dir = \"/var/lib/proconsul\"\n");
    ck_assert_int_eq(n_warns, 0);
    ck_assert(!C.dev && !C.server && !C.bootstrap);
    ck_assert_int_eq(C.bootstrap_expect, 0);
    ck_assert_str_eq(C.datacenter, "dc1");
    ck_assert_str_eq(C.primary_datacenter, "");
    gethostname(host, sizeof(host) - 1);
    ck_assert_str_eq(C.node_name, host);
    ck_assert_ptr_null(C.node_id);
    ck_assert_str_eq(C.bind_addr, "0.0.0.0");
    ck_assert_ptr_null(C.advertise_addr);
    ck_assert_ptr_null(C.advertise_addr_wan);
    ck_assert_int_eq(C.n_client_addr, 1);
    ck_assert_str_eq(C.client_addr[0], "127.0.0.1");
    ck_assert_int_eq(C.n_http_addrs, 1);
    ck_assert_str_eq(C.http_addrs[0], "127.0.0.1");
    ck_assert_int_eq(C.ports.dns, 8600);
    ck_assert_int_eq(C.ports.http, 8500);
    ck_assert_int_eq(C.ports.https, -1);
    ck_assert_int_eq(C.ports.grpc, -1);
    ck_assert_int_eq(C.ports.serf_lan, 8301);
    ck_assert_int_eq(C.ports.serf_wan, 8302);
    ck_assert_int_eq(C.ports.server, 8300);
    ck_assert_int_eq(C.n_retry_join, 0);
    ck_assert_ptr_null(C.retry_join);
    ck_assert_int_eq(C.retry_interval_ms, 30000);
    ck_assert_int_eq(C.retry_max, 0);
    ck_assert(!C.ui);
    ck_assert_str_eq(C.log_level, "INFO");
    ck_assert(C.leave_on_terminate);
    ck_assert(!C.skip_leave_on_interrupt);
    ck_assert_str_eq(C.domain, "consul.");
    ck_assert_int_eq(C.raft_multiplier, 5);
    ck_assert_int_eq(C.raft_snapshot_threshold, 16384);
    ck_assert_int_eq(C.raft_snapshot_interval_ms, 30000);
    ck_assert_int_eq(C.raft_trailing_logs, 10240);
    ck_assert_int_eq(C.default_query_time_ms, 300000);
    ck_assert_int_eq(C.max_query_time_ms, 600000);
    ck_assert_int_eq(C.kv_max_value_size, 524288);
    ck_assert_int_eq(C.txn_max_req_len, 524288);
    ck_assert_int_eq(C.http_max_conns_per_client, 200);
    ck_assert_int_eq(C.prometheus_retention_ms, 0);
    ck_assert_int_eq(C.n_node_meta, 0);
}
END_TEST

START_TEST(build_defaults_acl_autopilot_gossip)
{
    build_ok("data_dir = \"/d\"\n");
    ck_assert(!C.acl.enabled);
    ck_assert_str_eq(C.acl.default_policy, "allow");
    ck_assert_str_eq(C.acl.down_policy, "extend-cache");
    ck_assert_int_eq(C.acl.token_ttl_ms, 30000);
    ck_assert_ptr_null(C.acl.tokens.initial_management);
    ck_assert(C.autopilot.cleanup_dead_servers);
    ck_assert_int_eq(C.autopilot.last_contact_threshold_ms, 200);
    ck_assert_int_eq(C.autopilot.max_trailing_logs, 250);
    ck_assert_int_eq(C.autopilot.min_quorum, 0);
    ck_assert_int_eq(C.autopilot.server_stabilization_time_ms, 10000);
    ck_assert_int_eq(C.gossip_lan.gossip_interval_ms, 200);
    ck_assert_int_eq(C.gossip_lan.gossip_nodes, 3);
    ck_assert_int_eq(C.gossip_lan.probe_interval_ms, 1000);
    ck_assert_int_eq(C.gossip_lan.probe_timeout_ms, 500);
    ck_assert_int_eq(C.gossip_lan.retransmit_mult, 4);
    ck_assert_int_eq(C.gossip_lan.suspicion_mult, 4);
    ck_assert_int_eq(C.gossip_lan.push_pull_interval_ms, 30000);
    ck_assert_int_eq(C.gossip_wan.gossip_interval_ms, 500);
    ck_assert_int_eq(C.gossip_wan.gossip_nodes, 4);
    ck_assert_int_eq(C.gossip_wan.probe_interval_ms, 5000);
    ck_assert_int_eq(C.gossip_wan.probe_timeout_ms, 3000);
    ck_assert_int_eq(C.gossip_wan.retransmit_mult, 4);
    ck_assert_int_eq(C.gossip_wan.suspicion_mult, 6);
    ck_assert_int_eq(C.gossip_wan.push_pull_interval_ms, 60000);
}
END_TEST

START_TEST(build_server_leave_defaults)
{
    build_ok("data_dir = \"/d\"\nserver = true\n");
    ck_assert(!C.leave_on_terminate);
    ck_assert(C.skip_leave_on_interrupt);
    cfg_release(&C);
    build_ok("data_dir = \"/d\"\nserver = true\nleave_on_terminate = true\n"
             "skip_leave_on_interrupt = false\n");
    ck_assert(C.leave_on_terminate);
    ck_assert(!C.skip_leave_on_interrupt);
}
END_TEST

START_TEST(build_dev)
{
    build_ok("dev = true\n");
    ck_assert_int_eq(n_warns, 0);
    ck_assert(C.dev && C.server && C.bootstrap && C.ui);
    ck_assert_ptr_null(C.data_dir);
    ck_assert_str_eq(C.bind_addr, "127.0.0.1");
    ck_assert_str_eq(C.log_level, "DEBUG");
    ck_assert_int_eq(C.raft_multiplier, 1);
    ck_assert_int_eq(C.ports.grpc, 8502);
    ck_assert_int_eq(C.gossip_lan.probe_interval_ms, 100);
    cfg_release(&C);
    /* Explicit settings win over -dev defaults. */
    build_ok("dev = true\nlog_level = \"warn\"\nbind_addr = \"10.0.0.5\"\n"
             "ui_config { enabled = false }\n"
             "performance { raft_multiplier = 3 }\n");
    ck_assert_str_eq(C.log_level, "WARN");
    ck_assert_str_eq(C.bind_addr, "10.0.0.5");
    ck_assert(!C.ui);
    ck_assert_int_eq(C.raft_multiplier, 3);
}
END_TEST

START_TEST(build_addresses)
{
    build_ok("data_dir = \"/d\"\nclient_addr = \" 127.0.0.1  ::1 \"\n");
    ck_assert_int_eq(C.n_client_addr, 2);
    ck_assert_str_eq(C.client_addr[0], "127.0.0.1");
    ck_assert_str_eq(C.client_addr[1], "::1");
    ck_assert_int_eq(C.n_http_addrs, 2);
    ck_assert_str_eq(C.http_addrs[1], "::1");
    cfg_release(&C);
    build_ok("data_dir = \"/d\"\nclient_addr = \"127.0.0.1\"\n"
             "addresses { http = \"0.0.0.0 unix:///tmp/c.sock\" }\n"
             "bind_addr = \"{{ GetPrivateIP }}\"\n"
             "advertise_addr = \"10.1.1.1\"\n");
    ck_assert_int_eq(C.n_client_addr, 1);
    ck_assert_int_eq(C.n_http_addrs, 2);
    ck_assert_str_eq(C.http_addrs[0], "0.0.0.0");
    ck_assert_str_eq(C.http_addrs[1], "unix:///tmp/c.sock");
    ck_assert_str_eq(C.bind_addr, "{{ GetPrivateIP }}");
    ck_assert_str_eq(C.advertise_addr, "10.1.1.1");
}
END_TEST

START_TEST(build_durations)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"30s", 30000}, {"1m30s", 90000}, {"200ms", 200}, {"1.5s", 1500},
        {"1h", 3600000}, {"0", 0}, {"-5s", -5000}, {"2h45m", 9900000},
        {"1500us", 1}, {"1.s", 1000}, {"87600h", 315360000000LL},
    };
    static const char *const bad[] = {"300", "abc", "", "5x", "s", "1..5s",
                                      "9999999999999999999h", "-", "1s2"};
    int64_t ms;

    for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
        ck_assert_msg(opt_parse_duration(ok[i].s, false, &ms) == 0, "%s",
                      ok[i].s);
        ck_assert_int_eq(ms, ok[i].ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ck_assert_msg(opt_parse_duration(bad[i], false, &ms) == ERR_INVAL,
                      "%s", bad[i]);
    build_ok("data_dir = \"/d\"\nretry_interval = 45\n"
             "max_query_time = \"10m\"\nacl { token_ttl = 1.5 }\n"
             "telemetry { prometheus_retention_time = \"60s\" }\n");
    ck_assert_int_eq(C.retry_interval_ms, 45000);
    ck_assert_int_eq(C.max_query_time_ms, 600000);
    ck_assert_int_eq(C.acl.token_ttl_ms, 1500);
    ck_assert_int_eq(C.prometheus_retention_ms, 60000);
}
END_TEST

START_TEST(build_logging)
{
    build_ok("data_dir = \"/d\"\n");
    ck_assert(!C.log_json);
    ck_assert_ptr_null(C.log_file);
    ck_assert_int_eq(C.log_rotate_bytes, 0);
    ck_assert_int_eq(C.log_rotate_duration_ms, 24LL * 3600 * 1000);
    ck_assert_int_eq(C.log_rotate_max_files, 0);
    ck_assert(!C.enable_syslog);
    ck_assert_str_eq(C.syslog_facility, "LOCAL0");
    cfg_release(&C);
    build_ok("data_dir = \"/d\"\nlog_json = true\nlog_file = \"/l/\"\n"
             "log_rotate_bytes = 1024\nlog_rotate_duration = \"90s\"\n"
             "log_rotate_max_files = -1\nenable_syslog = true\n"
             "syslog_facility = \"daemon\"\n");
    ck_assert(C.log_json);
    ck_assert_str_eq(C.log_file, "/l/");
    ck_assert_int_eq(C.log_rotate_bytes, 1024);
    ck_assert_int_eq(C.log_rotate_duration_ms, 90000);
    ck_assert_int_eq(C.log_rotate_max_files, -1);
    ck_assert(C.enable_syslog);
    ck_assert_str_eq(C.syslog_facility, "daemon");
    cfg_release(&C);
    /* "0s" is Consul's default, 24 h; a facility matters only in use. */
    build_ok("data_dir = \"/d\"\nlog_rotate_duration = \"0s\"\n"
             "syslog_facility = \"nope\"\n");
    ck_assert_int_eq(C.log_rotate_duration_ms, 24LL * 3600 * 1000);
}
END_TEST

START_TEST(build_unknown_keys_warn)
{
    build_ok("data_dir = \"/d\"\nfoo = 1\n"
             "acl { bogus = true\n tokens { nope = \"s3cr3t-value\" } }\n"
             "ports { htp = 1 }\n"
             "service { name = \"web\" anything = { goes = 1 } }\n"
             "node_meta { free_form = \"ok\" }\n");
    ck_assert_int_eq(n_warns, 4);
    ck_assert(has_warn("config: unknown key 'foo' (ignored)"));
    ck_assert(has_warn("config: unknown key 'acl.bogus' (ignored)"));
    ck_assert(has_warn("config: unknown key 'acl.tokens.nope' (ignored)"));
    ck_assert(has_warn("config: unknown key 'ports.htp' (ignored)"));
    ck_assert(!any_warn_contains("s3cr3t"));
    ck_assert_ptr_null(json_object_get(C.raw, "foo"));
    ck_assert_ptr_null(cfg_get_path(C.raw, "acl.bogus"));
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(C.raw, "services"),
                                        0), "name")), "web");
    ck_assert_ptr_null(json_object_get(C.raw, "service"));
    ck_assert_int_eq(C.n_node_meta, 1);
    ck_assert_str_eq(C.node_meta_keys[0], "free_form");
    ck_assert_str_eq(C.node_meta_vals[0], "ok");
}
END_TEST

START_TEST(build_deprecated_tokens)
{
    build_ok("data_dir = \"/d\"\n"
             "acl_master_token = \"m\"\nacl_agent_master_token = \"am\"\n"
             "acl_agent_token = \"ag\"\nacl_token = \"df\"\n"
             "acl_default_policy = \"deny\"\nacl_down_policy = \"allow\"\n"
             "acl_ttl = \"10s\"\nacl_enable_key_list_policy = true\n");
    ck_assert_str_eq(C.acl.tokens.initial_management, "m");
    ck_assert_str_eq(C.acl.tokens.agent_recovery, "am");
    ck_assert_str_eq(C.acl.tokens.agent, "ag");
    ck_assert_str_eq(C.acl.tokens.default_token, "df");
    ck_assert_str_eq(C.acl.default_policy, "deny");
    ck_assert_str_eq(C.acl.down_policy, "allow");
    ck_assert_int_eq(C.acl.token_ttl_ms, 10000);
    ck_assert(C.acl.enable_key_list_policy);
    ck_assert(!C.acl.enabled);
    ck_assert(has_warn("The 'acl_master_token' field is deprecated. Use the "
                       "'acl.tokens.initial_management' field instead."));
    ck_assert(has_warn("The 'acl_agent_master_token' field is deprecated. "
                       "Use the 'acl.tokens.agent_recovery' field instead."));
    ck_assert(has_warn("The 'acl_token' field is deprecated. Use the "
                       "'acl.tokens.default' field instead."));
    ck_assert(has_warn("The 'acl_ttl' field is deprecated. Use the "
                       "'acl.token_ttl' field instead."));
    ck_assert_int_eq(n_warns, 8);
    ck_assert_ptr_null(json_object_get(C.raw, "acl_master_token"));
}
END_TEST

START_TEST(build_deprecated_new_key_wins)
{
    build_ok("data_dir = \"/d\"\n"
             "acl { tokens { master = \"old\" initial_management = \"new\"\n"
             "  agent_master = \"o2\" agent_recovery = \"n2\" } }\n"
             "acl_master_token = \"older\"\n");
    ck_assert_str_eq(C.acl.tokens.initial_management, "new");
    ck_assert_str_eq(C.acl.tokens.agent_recovery, "n2");
    ck_assert(has_warn("The 'acl.tokens.agent_master' field is deprecated. "
                       "Use the 'acl.tokens.agent_recovery' field instead."));
    ck_assert_int_eq(n_warns, 3);
}
END_TEST

START_TEST(build_deprecated_side_effects)
{
    build_ok("data_dir = \"/d\"\nacl_datacenter = \"DC9\"\n"
             "acl { enabled = false }\n"
             "acl_replication_token = \"r\"\nenable_acl_replication = false\n"
             "start_join = [\"s1\", \"s2\"]\nretry_join = [\"r1\"]\n"
             "start_join_wan = [\"w1\"]\nui = true\nui_dir = \"/ui\"\n"
             "dev = true\nverify_outgoing = true\n"
             "tls_prefer_server_cipher_suites = true\n"
             "acl_enforce_version_8 = false\n");
    ck_assert(C.acl.enabled);
    ck_assert_str_eq(C.primary_datacenter, "dc9");
    ck_assert_str_eq(C.acl.tokens.replication, "r");
    ck_assert(C.acl.enable_token_replication);
    ck_assert_int_eq(C.n_retry_join, 3);
    ck_assert_str_eq(C.retry_join[0], "r1");
    ck_assert_str_eq(C.retry_join[2], "s2");
    ck_assert_int_eq(C.n_retry_join_wan, 1);
    ck_assert(C.ui);
    ck_assert_str_eq(C.ui_dir, "/ui");
    ck_assert(json_is_true(cfg_get_path(C.raw,
                                        "tls.defaults.verify_outgoing")));
    ck_assert(has_warn("The 'acl_datacenter' field is deprecated. Use the "
                       "'primary_datacenter' field instead."));
    ck_assert(has_warn("The 'start_join' field is deprecated. Use the "
                       "'retry_join' field instead."));
    ck_assert(has_warn("The 'ui' field is deprecated. Use the "
                       "'ui_config.enabled' field instead."));
    ck_assert(has_warn("The 'tls_prefer_server_cipher_suites' field is "
                       "deprecated and will be ignored."));
    ck_assert(has_warn("config key \"acl_enforce_version_8\" is deprecated "
                       "and should be removed"));
    ck_assert(!any_warn_contains("unknown"));
}
END_TEST

static const char *const verrs[][2] = {
    {"server = true\n", "data_dir cannot be empty"},
    {"data_dir = \"\"\n", "data_dir cannot be empty"},
    {"data_dir = \"/d\"\nbootstrap_expect = 3\n",
     "BootstrapExpect mode requires Server mode"},
    {"data_dir = \"/d\"\nserver = true\nbootstrap_expect = -1\n",
     "BootstrapExpect cannot be negative"},
    {"data_dir = \"/d\"\nserver = true\nbootstrap = true\n"
     "bootstrap_expect = 3\n",
     "BootstrapExpect mode and Bootstrap mode are mutually exclusive"},
    {"dev = true\nbootstrap_expect = 3\n",
     "BootstrapExpect mode cannot be enabled in dev mode"},
    {"data_dir = \"/d\"\nbootstrap = true\n",
     "Bootstrap mode requires Server mode"},
    {"data_dir = \"/d\"\nbootstrap_expect = 1\n",
     "Bootstrap mode requires Server mode"},
    {"data_dir = \"/d\"\nports { http = \"8500\" }\n",
     "'ports.http' must be a number, got string"},
    {"data_dir = \"/d\"\nserver = \"true\"\n",
     "'server' must be a boolean, got string"},
    {"data_dir = \"/d\"\nretry_join = \"a\"\n",
     "'retry_join' must be a list of strings, got string"},
    {"data_dir = \"/d\"\nretry_join = [\"a\", 1]\n",
     "'retry_join[1]' must be a string, got number"},
    {"data_dir = \"/d\"\nnode_meta { a = 1 }\n",
     "'node_meta.a' must be a string, got number"},
    {"data_dir = \"/d\"\nacl = 5\n", "'acl' must be an object, got number"},
    {"data_dir = \"/d\"\nacl { tokens { master = 5 } }\n",
     "'acl.tokens.master' must be a string, got number"},
    {"data_dir = \"/d\"\nservices = [1]\n",
     "'services[0]' must be an object, got number"},
    {"data_dir = \"/d\"\nretry_interval = \"abc\"\n",
     "retry_interval: invalid duration: \"abc\""},
    {"data_dir = \"/d\"\nautopilot { last_contact_threshold = \"200\" }\n",
     "autopilot.last_contact_threshold: invalid duration: \"200\""},
    {"data_dir = \"/d\"\nacl { token_ttl = true }\n",
     "'acl.token_ttl' must be a duration, got boolean"},
    {"data_dir = \"/d\"\nports { http = 1.5 }\n",
     "'ports.http' must be a whole number, got number"},
    {"data_dir = \"/d\"\nlimits { kv_max_value_size = -1 }\n",
     "'limits.kv_max_value_size' must not be negative"},
    {"data_dir = \"/d\"\nlog_level = \"loud\"\n",
     "Invalid log level: loud. Valid log levels are: [TRACE DEBUG INFO WARN "
     "ERR]"},
    {"data_dir = \"/d\"\nports { http = 70000 }\n",
     "ports.http: invalid port: 70000"},
    {"data_dir = \"/d\"\nperformance { raft_multiplier = 11 }\n",
     "performance.raft_multiplier cannot be 11. Must be between 1 and 10"},
    {"data_dir = \"/d\"\nautopilot { max_trailing_logs = -1 }\n",
     "autopilot.max_trailing_logs cannot be -1. Must be greater than or "
     "equal to zero"},
    {"data_dir = \"/d\"\ndatacenter = \"dc 1\"\n",
     "Datacenter must be alpha-numeric with underscores and hyphens only"},
    {"data_dir = \"/d\"\nbind_addr = \"1.1.1.1 2.2.2.2\"\n",
     "bind_addr cannot contain multiple addresses. Use "
     "'addresses.{dns,http,https}' instead."},
    {"data_dir = \"/d\"\nadvertise_addr = \"0.0.0.0\"\n",
     "Advertise address cannot be 0.0.0.0, :: or [::]"},
    {"data_dir = \"/d\"\nacl { default_policy = \"maybe\" }\n",
     "acl.default_policy must be \"allow\" or \"deny\", got \"maybe\""},
    {"data_dir = \"/d\"\nnode_meta { \"bad key\" = \"v\" }\n",
     "node_meta invalid: Key contains invalid characters"},
    {"data_dir = \"/d\"\nnode_meta { consul-x = \"v\" }\n",
     "node_meta invalid: Key prefix 'consul-' is reserved for internal use"},
    {"data_dir = \"/d\"\nclient_addr = \"a b c d e f g h i j k l m n o p "
     "q\"\n", "client_addr: too many addresses (at most 16)"},
    {"data_dir = \"/d\"\nlog_rotate_bytes = -1\n",
     "'log_rotate_bytes' must not be negative"},
    {"data_dir = \"/d\"\nlog_rotate_duration = \"-1h\"\n",
     "log_rotate_duration must not be negative"},
    {"data_dir = \"/d\"\nenable_syslog = true\n"
     "syslog_facility = \"LOCAL8\"\n",
     "syslog_facility: invalid syslog facility \"LOCAL8\" (KERN, USER, MAIL, "
     "DAEMON, AUTH, SYSLOG, LPR, NEWS, UUCP, CRON, AUTHPRIV, FTP or LOCAL0 "
     "to LOCAL7)"},
};

START_TEST(build_validation_errors)
{
    expect_build_err(verrs[_i][0], verrs[_i][1]);
}
END_TEST

START_TEST(build_errors_never_show_secrets)
{
    char err[ERR_LEN];

    ck_assert_int_eq(build("data_dir = \"/d\"\n"
                           "acl { tokens { initial_management = \"S3CRET\" }\n"
                           "      down_policy = \"S3CRET\" }\n", err),
                     ERR_INVAL);
    /* A policy is not a secret; a token is never quoted. */
    ck_assert_ptr_nonnull(strstr(err, "acl.down_policy"));
    ck_assert_int_eq(build("data_dir = \"/d\"\n"
                           "acl { tokens { agent = [\"S3CRET\"] } }\n", err),
                     ERR_INVAL);
    ck_assert_ptr_null(strstr(err, "S3CRET"));
    ck_assert_int_eq(n_warns, 0);
}
END_TEST

START_TEST(build_bootstrap_warnings)
{
    build_ok("data_dir = \"/d\"\nserver = true\nbootstrap_expect = 1\n");
    ck_assert(C.bootstrap);
    ck_assert_int_eq(C.bootstrap_expect, 0);
    ck_assert(has_warn("BootstrapExpect is set to 1; this is the same as "
                       "Bootstrap mode."));
    ck_assert(has_warn("bootstrap = true: do not enable unless necessary"));
    ck_assert_int_eq(n_warns, 2);
    teardown();
    setup();
    build_ok("data_dir = \"/d\"\nserver = true\nbootstrap_expect = 2\n");
    ck_assert(has_warn("bootstrap_expect = 2: A cluster with 2 servers will "
                       "provide no failure tolerance. See https://www.consul."
                       "io/docs/internals/consensus.html#deployment-table"));
    ck_assert(has_warn("bootstrap_expect > 0: expecting 2 servers"));
    ck_assert_int_eq(n_warns, 2);
    teardown();
    setup();
    build_ok("data_dir = \"/d\"\nserver = true\nbootstrap_expect = 4\n");
    ck_assert(has_warn("bootstrap_expect is even number: A cluster with an "
                       "even number of servers does not achieve optimum "
                       "fault tolerance. See https://www.consul.io/docs/"
                       "internals/consensus.html#deployment-table"));
    ck_assert(has_warn("bootstrap_expect > 0: expecting 4 servers"));
    ck_assert_int_eq(n_warns, 2);
    teardown();
    setup();
    build_ok("data_dir = \"/d\"\nserver = true\nbootstrap = true\n");
    ck_assert(has_warn("bootstrap = true: do not enable unless necessary"));
    ck_assert_int_eq(n_warns, 1);
}
END_TEST

START_TEST(build_no_warnings_on_failure)
{
    char err[ERR_LEN];

    /* Would warn (unknown key, deprecated key) but fails validation. */
    ck_assert_int_eq(build("foo = 1\nacl_token = \"t\"\n", err), ERR_INVAL);
    ck_assert_str_eq(err, "data_dir cannot be empty");
    ck_assert_int_eq(n_warns, 0);
}
END_TEST

START_TEST(build_normalizes_raw)
{
    json_t *t = parse("data_dir = \"/d\"\n"
                      "acl { enabled = true }\n"
                      "acl { default_policy = \"deny\" }\n"
                      "check { id = \"c\" }\n"
                      "watches { type = \"key\" key = \"k\" args = [\"true\"] }\n"
                      "ports { http = 8080.0 }\n");
    char err[ERR_LEN];

    json_object_set_new(t, "node_id", json_null());
    ck_assert_msg(cfg_build(t, &C, collect, NULL, err) == 0, "%s", err);
    /* The caller's tree is not modified. */
    ck_assert(json_is_array(json_object_get(t, "acl")));
    json_decref(t);
    ck_assert(C.acl.enabled);
    ck_assert_str_eq(C.acl.default_policy, "deny");
    ck_assert_int_eq(C.ports.http, 8080);
    ck_assert_ptr_null(C.node_id);
    expect_json(json_incref(C.raw),
                "{\"data_dir\":\"/d\",\"acl\":{\"enabled\":true,"
                "\"default_policy\":\"deny\"},\"checks\":[{\"id\":\"c\"}],"
                "\"watches\":[{\"type\":\"key\",\"key\":\"k\",\"args\":[\"true\"]}],\"ports\":{\"http\":8080}}");
}
END_TEST

START_TEST(build_ports_disable)
{
    build_ok("data_dir = \"/d\"\nports { http = 0 dns = -5 https = 8501 }\n");
    ck_assert_int_eq(C.ports.http, -1);
    ck_assert_int_eq(C.ports.dns, -1);
    ck_assert_int_eq(C.ports.https, 8501);
}
END_TEST

START_TEST(build_node_name_warning)
{
    build_ok("data_dir = \"/d\"\nnode_name = \"  web_1  \"\n"
             "datacenter = \"EU-West\"\n");
    ck_assert_str_eq(C.node_name, "web_1");
    ck_assert_str_eq(C.datacenter, "eu-west");
    ck_assert(has_warn("Node name \"web_1\" will not be discoverable via DNS "
                       "due to invalid characters. Valid characters include "
                       "all alpha-numerics and dashes."));
}
END_TEST

START_TEST(build_rejects_non_object)
{
    char err[ERR_LEN];
    json_t *a = json_array();

    ck_assert_int_eq(cfg_build(a, &C, collect, NULL, err), ERR_INVAL);
    ck_assert_int_eq(cfg_build(NULL, &C, collect, NULL, err), ERR_INVAL);
    json_decref(a);
}
END_TEST

START_TEST(release_tolerates_zeroed)
{
    struct cfg c;

    memset(&c, 0, sizeof(c));
    cfg_release(&c);
    cfg_release(&c);
    cfg_release(NULL);
    build_ok("data_dir = \"/d\"\n");
    cfg_release(&C);
    cfg_release(&C);
    ck_assert_ptr_null(C.raw);
}
END_TEST

static Suite *cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, hcl_scalars);
    tcase_add_test(tc, hcl_blocks_and_labels);
    tcase_add_test(tc, hcl_repeated_blocks_become_list);
    tcase_add_test(tc, hcl_lists);
    tcase_add_test(tc, hcl_string_escapes);
    tcase_add_test(tc, hcl_heredocs);
    tcase_add_test(tc, hcl_comments_and_layout);
    tcase_add_test(tc, hcl_empty_documents);
    tcase_add_test(tc, json_with_comments);
    tcase_add_loop_test(tc, parse_error_positions, 0,
                        (int)(sizeof(perrs) / sizeof(*perrs)));
    tcase_add_test(tc, parse_nesting_limit);
    tcase_add_test(tc, parse_fuzz);
    tcase_add_test(tc, reference_deployment_dir);
    tcase_add_test(tc, reference_deployment_original_comments);
    tcase_add_test(tc, load_dir_lexical_order_and_filter);
    tcase_add_test(tc, load_dir_errors);
    tcase_add_test(tc, load_file_format_by_suffix);
    tcase_add_test(tc, merge_rules);
    tcase_add_test(tc, merge_gathers_services_and_checks);
    tcase_add_test(tc, set_path_rules);
    tcase_add_test(tc, set_flag_types);
    tcase_add_test(tc, flags_override_files);
    tcase_add_test(tc, build_defaults);
    tcase_add_test(tc, build_defaults_acl_autopilot_gossip);
    tcase_add_test(tc, build_server_leave_defaults);
    tcase_add_test(tc, build_dev);
    tcase_add_test(tc, build_addresses);
    tcase_add_test(tc, build_durations);
    tcase_add_test(tc, build_logging);
    tcase_add_test(tc, build_unknown_keys_warn);
    tcase_add_test(tc, build_deprecated_tokens);
    tcase_add_test(tc, build_deprecated_new_key_wins);
    tcase_add_test(tc, build_deprecated_side_effects);
    tcase_add_loop_test(tc, build_validation_errors, 0,
                        (int)(sizeof(verrs) / sizeof(*verrs)));
    tcase_add_test(tc, build_errors_never_show_secrets);
    tcase_add_test(tc, build_bootstrap_warnings);
    tcase_add_test(tc, build_no_warnings_on_failure);
    tcase_add_test(tc, build_normalizes_raw);
    tcase_add_test(tc, build_ports_disable);
    tcase_add_test(tc, build_node_name_warning);
    tcase_add_test(tc, build_rejects_non_object);
    tcase_add_test(tc, release_tolerates_zeroed);
    suite_add_tcase(s, tc);
    return s;
}

Suite *unit_suite(void)
{
    return cfg_suite();
}

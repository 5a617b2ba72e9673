/* hcl.c - HCL 1 and JSON-with-comments parsers (see hcl.h).
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Owns: nothing past one call; the tree returned belongs to the caller.
 * Recursive descent over hcl_lex tokens; nesting is capped so hostile
 * input cannot exhaust the stack.
 * Tests: t/unit/check_cfg.c
 */
#include "hcl.h"

#include <stdlib.h>
#include <string.h>

#include "hcl_int.h"

#define MAX_DEPTH 100
#define MAX_LABELS 16

static int parse_value(struct hcl_lex *lx, json_t **out);
static int json_value(struct hcl_lex *lx, json_t **out);

static int nomem(struct hcl_lex *lx)
{
    return err_set(lx->err, ERR_NOMEM, "%s", err_str(ERR_NOMEM));
}

static int expected(struct hcl_lex *lx, const char *what)
{
    char buf[64];

    return hcl_fail(lx, lx->tok.line, lx->tok.col, "expected %s, got %s",
                    what, hcl_tok_desc(&lx->tok, buf, sizeof(buf)));
}

static int enter(struct hcl_lex *lx)
{
    if (++lx->depth > MAX_DEPTH)
        return hcl_fail(lx, lx->tok.line, lx->tok.col, "nesting too deep");
    return 0;
}

bool hcl_is_json(const char *text, size_t len)
{
    struct hcl_lex lx;

    hcl_lex_init(&lx, text, len, NULL, true, NULL);
    if (hcl_skip_space(&lx) != 0)
        return false;
    return lx.p < lx.end && *lx.p == '{';
}

/* The token as a scalar value, or NULL (not a scalar); ERR_* in *rc. */
static json_t *scalar(struct hcl_lex *lx, int *rc)
{
    struct hcl_tok *t = &lx->tok;
    json_t *v = NULL;

    *rc = 0;
    if (t->t == HCL_T_STRING) {
        v = json_stringn(t->s, t->n);
    } else if (t->t == HCL_T_NUMBER) {
        v = t->num;
        t->num = NULL;
    } else if (t->t == HCL_T_IDENT && strcmp(t->s, "true") == 0) {
        v = json_true();
    } else if (t->t == HCL_T_IDENT && strcmp(t->s, "false") == 0) {
        v = json_false();
    } else if (lx->json && t->t == HCL_T_IDENT) {
        v = json_null(); /* the lexer admits only true/false/null */
    } else {
        return NULL;
    }
    if (v == NULL)
        *rc = nomem(lx);
    else if ((*rc = hcl_lex_next(lx)) != 0)
        json_decref(v);
    return *rc == 0 ? v : NULL;
}

/* ---- HCL -------------------------------------------------------------- */

/* Walk or create the objects named by keys[0..n-2]. */
static json_t *descend(json_t *obj, char **keys, int n)
{
    for (int i = 0; i < n - 1; i++) {
        json_t *x = json_object_get(obj, keys[i]);

        if (json_is_array(x) && json_array_size(x) > 0)
            x = json_array_get(x, json_array_size(x) - 1);
        if (!json_is_object(x)) {
            x = json_object();
            if (json_object_set_new(obj, keys[i], x) != 0)
                return NULL;
        }
        obj = x;
    }
    return obj;
}

/* Store v (stolen) under keys: repeated blocks gather into a list, lists
 * append, anything else replaces. */
static int insert(struct hcl_lex *lx, json_t *obj, char **keys, int n,
                  json_t *v)
{
    json_t *old, *arr;
    int rc;

    if ((obj = descend(obj, keys, n)) == NULL) {
        json_decref(v);
        return nomem(lx);
    }
    old = json_object_get(obj, keys[n - 1]);
    if (json_is_object(v) && json_is_object(old)) {
        arr = json_array();
        if (arr == NULL || json_array_append(arr, old) != 0 ||
            json_array_append_new(arr, v) != 0) {
            json_decref(arr);
            return nomem(lx);
        }
        v = arr;
    } else if (json_is_array(old) && (json_is_object(v) || json_is_array(v))) {
        rc = json_is_array(v) ? json_array_extend(old, v)
                              : json_array_append(old, v);
        json_decref(v);
        return rc == 0 ? 0 : nomem(lx);
    }
    return json_object_set_new(obj, keys[n - 1], v) == 0 ? 0 : nomem(lx);
}

static int parse_body(struct hcl_lex *lx, json_t *obj, bool braced);

static int parse_object(struct hcl_lex *lx, json_t **out)
{
    json_t *obj;
    int rc;

    if ((rc = enter(lx)) != 0 || (rc = hcl_lex_next(lx)) != 0)
        return rc;
    if ((obj = json_object()) == NULL)
        return nomem(lx);
    if ((rc = parse_body(lx, obj, true)) != 0) {
        json_decref(obj);
        return rc;
    }
    lx->depth--;
    *out = obj;
    return 0;
}

static int parse_list(struct hcl_lex *lx, json_t **out)
{
    json_t *arr, *v;
    int rc;

    if ((rc = enter(lx)) != 0 || (rc = hcl_lex_next(lx)) != 0)
        return rc;
    if ((arr = json_array()) == NULL)
        return nomem(lx);
    while (lx->tok.t != HCL_T_RBRACK) {
        if ((rc = parse_value(lx, &v)) != 0)
            goto fail;
        if (json_array_append_new(arr, v) != 0) {
            rc = nomem(lx);
            goto fail;
        }
        if (lx->tok.t == HCL_T_COMMA)
            rc = hcl_lex_next(lx);
        else if (lx->tok.t != HCL_T_RBRACK)
            rc = expected(lx, "',' or ']'");
        if (rc != 0)
            goto fail;
    }
    if ((rc = hcl_lex_next(lx)) != 0)
        goto fail;
    lx->depth--;
    *out = arr;
    return 0;
fail:
    json_decref(arr);
    return rc;
}

static int parse_value(struct hcl_lex *lx, json_t **out)
{
    char buf[64];
    int rc;

    if ((*out = scalar(lx, &rc)) != NULL || rc != 0)
        return rc;
    if (lx->tok.t == HCL_T_LBRACK)
        return parse_list(lx, out);
    if (lx->tok.t == HCL_T_LBRACE)
        return parse_object(lx, out);
    if (lx->tok.t == HCL_T_IDENT)
        return hcl_fail(lx, lx->tok.line, lx->tok.col,
                        "expected a value, got %s (strings need quotes)",
                        hcl_tok_desc(&lx->tok, buf, sizeof(buf)));
    return expected(lx, "a value");
}

/* After the key(s): `= value` or `{ body }`. */
static int parse_item_rest(struct hcl_lex *lx, json_t *obj, char **keys,
                           int n)
{
    json_t *v;
    int rc;

    if (lx->tok.t == HCL_T_EQUAL && n == 1) {
        if ((rc = hcl_lex_next(lx)) != 0 || (rc = parse_value(lx, &v)) != 0)
            return rc;
    } else if (lx->tok.t == HCL_T_LBRACE) {
        if ((rc = parse_object(lx, &v)) != 0)
            return rc;
    } else {
        return expected(lx, n == 1 ? "'=' or '{' after key"
                                   : "'{' after block labels");
    }
    return insert(lx, obj, keys, n, v);
}

static int parse_item(struct hcl_lex *lx, json_t *obj)
{
    char *keys[MAX_LABELS];
    int n = 0, rc = 0;

    while (lx->tok.t == HCL_T_STRING || lx->tok.t == HCL_T_IDENT) {
        if (n == MAX_LABELS) {
            rc = hcl_fail(lx, lx->tok.line, lx->tok.col, "too many labels");
            break;
        }
        keys[n++] = lx->tok.s;
        lx->tok.s = NULL;
        if ((rc = hcl_lex_next(lx)) != 0)
            break;
    }
    if (rc == 0)
        rc = parse_item_rest(lx, obj, keys, n);
    while (n > 0)
        free(keys[--n]);
    return rc;
}

static int parse_body(struct hcl_lex *lx, json_t *obj, bool braced)
{
    int rc;

    for (;;) {
        switch (lx->tok.t) {
        case HCL_T_RBRACE:
            if (!braced)
                return expected(lx, "a key");
            return hcl_lex_next(lx);
        case HCL_T_EOF:
            return braced ? expected(lx, "'}'") : 0;
        case HCL_T_COMMA:
            rc = hcl_lex_next(lx);
            break;
        case HCL_T_STRING:
        case HCL_T_IDENT:
            rc = parse_item(lx, obj);
            break;
        default:
            return expected(lx, braced ? "a key or '}'" : "a key");
        }
        if (rc != 0)
            return rc;
    }
}

/* ---- JSON ------------------------------------------------------------- */

static int json_member(struct hcl_lex *lx, json_t *obj)
{
    char *key;
    json_t *v;
    int rc;

    if (lx->tok.t != HCL_T_STRING)
        return expected(lx, "a string key");
    key = lx->tok.s;
    lx->tok.s = NULL;
    if ((rc = hcl_lex_next(lx)) == 0 && lx->tok.t != HCL_T_COLON)
        rc = expected(lx, "':' after key");
    if (rc == 0 && (rc = hcl_lex_next(lx)) == 0 &&
        (rc = json_value(lx, &v)) == 0 && json_object_set_new(obj, key, v))
        rc = nomem(lx);
    free(key);
    return rc;
}

static int json_object_body(struct hcl_lex *lx, json_t *obj)
{
    int rc;

    if (lx->tok.t == HCL_T_RBRACE)
        return hcl_lex_next(lx);
    for (;;) {
        if ((rc = json_member(lx, obj)) != 0)
            return rc;
        if (lx->tok.t == HCL_T_RBRACE)
            return hcl_lex_next(lx);
        if (lx->tok.t != HCL_T_COMMA)
            return expected(lx, "',' or '}'");
        if ((rc = hcl_lex_next(lx)) != 0)
            return rc;
    }
}

static int json_array_body(struct hcl_lex *lx, json_t *arr)
{
    json_t *v;
    int rc;

    if (lx->tok.t == HCL_T_RBRACK)
        return hcl_lex_next(lx);
    for (;;) {
        if ((rc = json_value(lx, &v)) != 0)
            return rc;
        if (json_array_append_new(arr, v) != 0)
            return nomem(lx);
        if (lx->tok.t == HCL_T_RBRACK)
            return hcl_lex_next(lx);
        if (lx->tok.t != HCL_T_COMMA)
            return expected(lx, "',' or ']'");
        if ((rc = hcl_lex_next(lx)) != 0)
            return rc;
    }
}

static int json_value(struct hcl_lex *lx, json_t **out)
{
    bool is_obj = lx->tok.t == HCL_T_LBRACE;
    json_t *v;
    int rc;

    if ((*out = scalar(lx, &rc)) != NULL || rc != 0)
        return rc;
    if (!is_obj && lx->tok.t != HCL_T_LBRACK)
        return expected(lx, "a value");
    if ((rc = enter(lx)) != 0 || (rc = hcl_lex_next(lx)) != 0)
        return rc;
    if ((v = is_obj ? json_object() : json_array()) == NULL)
        return nomem(lx);
    rc = is_obj ? json_object_body(lx, v) : json_array_body(lx, v);
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    lx->depth--;
    *out = v;
    return 0;
}

static int parse_json_doc(struct hcl_lex *lx, json_t **out)
{
    char buf[64];
    int rc;

    if (lx->tok.t == HCL_T_EOF)
        return (*out = json_object()) != NULL ? 0 : nomem(lx);
    if (lx->tok.t != HCL_T_LBRACE)
        return expected(lx, "'{'");
    if ((rc = json_value(lx, out)) != 0)
        return rc;
    if (lx->tok.t != HCL_T_EOF) {
        rc = hcl_fail(lx, lx->tok.line, lx->tok.col,
                      "unexpected %s after the top-level object",
                      hcl_tok_desc(&lx->tok, buf, sizeof(buf)));
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int hcl_parse(const char *text, size_t len, const char *name, bool json,
              json_t **out, char *err)
{
    struct hcl_lex lx;
    json_t *doc = NULL;
    int rc;

    *out = NULL;
    if (text == NULL)
        text = "", len = 0;
    hcl_lex_init(&lx, text, len, name, json, err);
    if ((rc = hcl_lex_next(&lx)) == 0) {
        if (json) {
            rc = parse_json_doc(&lx, &doc);
        } else if ((doc = json_object()) == NULL) {
            rc = nomem(&lx);
        } else if ((rc = parse_body(&lx, doc, false)) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    hcl_tok_clear(&lx.tok);
    *out = doc;
    return rc;
}

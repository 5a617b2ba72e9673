/* hcl_int.h - tokenizer shared by the HCL and JSON parsers (hcl.c).
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * Internal to hcl_*.c; not part of the libcore API.
 * Tests: t/unit/check_cfg.c
 */
#ifndef PROCONSUL_HCL_INT_H
#define PROCONSUL_HCL_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum hcl_tt {
    HCL_T_EOF,
    HCL_T_LBRACE,
    HCL_T_RBRACE,
    HCL_T_LBRACK,
    HCL_T_RBRACK,
    HCL_T_COMMA,
    HCL_T_EQUAL,
    HCL_T_COLON,
    HCL_T_STRING, /* quoted string or heredoc; s holds the decoded text */
    HCL_T_NUMBER, /* num holds a json integer or real */
    HCL_T_IDENT,  /* bare word, incl. true/false/null */
};

struct hcl_tok {
    enum hcl_tt t;
    int line, col;
    char *s; /* HCL_T_STRING, HCL_T_IDENT: heap, NUL-terminated */
    size_t n;
    json_t *num; /* HCL_T_NUMBER */
};

struct hcl_lex {
    const char *p, *end;
    const char *name;
    int line, col; /* position of *p */
    bool json;
    int depth;
    char *err;
    struct hcl_tok tok; /* the look-ahead token */
};

/* Point lx at text; skips a UTF-8 byte-order mark. */
void hcl_lex_init(struct hcl_lex *lx, const char *text, size_t len,
                  const char *name, bool json, char *err);
/* Replace lx->tok by the next token. 0 or ERR_PARSE/ERR_NOMEM. */
int hcl_lex_next(struct hcl_lex *lx);
/* Free what lx->tok holds. */
void hcl_tok_clear(struct hcl_tok *t);
/* Skip white space and comments; 0 or ERR_PARSE (unterminated comment). */
int hcl_skip_space(struct hcl_lex *lx);
/* Fill lx->err with "<name>:<line>:<col>: <msg>"; returns ERR_PARSE. */
int hcl_fail(struct hcl_lex *lx, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "'{'", "string", "end of input", "a bare word"... for messages; never
 * the text of a string or bare word (it may be a secret). */
const char *hcl_tok_desc(const struct hcl_tok *t, char *buf, size_t n);

#endif

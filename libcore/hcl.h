/* hcl.h - HCL 1 and JSON-with-comments parsers producing jansson trees.
 *
 * Layer: codec (uses util, jansson). Thread: any (no globals).
 * The syntax half of cfg: no knowledge of Consul's keys. Both parsers
 * accept #, // and block comments and report errors as
 * "<name>:<line>:<col>: <what>" (1-based; col counts characters).
 * Tests: t/unit/check_cfg.c
 */
#ifndef PROCONSUL_HCL_H
#define PROCONSUL_HCL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* True when the first character that is not white space, a comment or a
 * UTF-8 byte-order mark is '{': HCL 1 reads such a document as JSON. */
bool hcl_is_json(const char *text, size_t len);

/* Parse text as JSON (json) or HCL 1 into a new object in *out.
 * HCL: `k = v`, `k { }`, `k "l1" "l2" { }` (nested {k:{l1:{l2:{}}}}),
 * lists with trailing commas, heredocs (<<EOF, <<-EOF), ints (decimal,
 * 0x hex, 0 octal), floats, bools. A key given twice with object values
 * (blocks) becomes a list of objects; lists given twice are appended;
 * other repeated keys keep the last value. JSON: strict apart from
 * comments; an empty document is {}; a repeated key keeps the last value.
 * Returns 0 or ERR_PARSE (message in err), ERR_NOMEM. */
int hcl_parse(const char *text, size_t len, const char *name, bool json,
              json_t **out, char *err);

#endif

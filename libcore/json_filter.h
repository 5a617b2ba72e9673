/* json_filter.h - Consul's `?filter=` boolean expressions over JSON.
 *
 * Layer: codec (uses util, jansson). Thread: any; a parsed filter is
 * read-only and may be shared between threads.
 * Owns: everything a jfilter points to; JSON inputs are borrowed.
 * Tests: t/unit/check_json_filter.c
 *
 * The language is go-bexpr v0.1.2, the version Consul pins, as documented
 * on Consul's "Filtering" API page:
 *
 *   expr     := or
 *   or       := and ( WS "or" WS and )*
 *   and      := not ( WS "and" WS not )*
 *   not      := "not" WS not | "(" WS? or WS? ")" | match
 *   match    := sel WS? ("==" | "!=") WS? value
 *             | sel WS ("contains" | "not" WS "contains") WS value
 *             | sel WS ("matches" | "not" WS "matches") WS value
 *             | sel WS "is" WS ("empty" | "not" WS "empty")
 *             | value WS ("in" | "not" WS "in") WS sel
 *   sel      := ident ( "." ident | "[" WS? string WS? "]" )*
 *   ident    := [a-zA-Z][a-zA-Z0-9_]*
 *   value    := sel (its text, parts joined by ".") | number | string
 *   number   := "-"? ("0" | [1-9][0-9]*) ("." [0-9]+)?, then WS, ")" or end
 *   string   := "..." (Go escapes: \a\b\f\n\r\t\v\\ \xHH \ooo \uHHHH
 *               \UHHHHHHHH; no raw newline, no \" since the first " ends
 *               it) | `raw` (no escapes, \r dropped)
 *   WS       := [ \t\r\n]+ ; keywords are case-sensitive and need WS
 *               on both sides, so `not(x == 1)` is a syntax error as in
 *               Consul. Precedence: not > and > or.
 *
 * Evaluation against a JSON value (go-bexpr semantics mapped to JSON):
 * - Selector parts name object members, case-sensitively (Consul's field
 *   names are the Go field names, which are also its JSON keys);
 *   `Meta.env` and `Meta["env"]` are the same.
 * - An array met while following a selector is an implicit "any": the
 *   rest of the selector and the operator are tried on every element and
 *   the match is true if one element matches (`Checks.Status != passing`
 *   is true when any check is not passing; an empty array never matches).
 * - A member that is missing or null, or a selector that runs into a
 *   string/number/bool before its end, is "not present": ==, contains,
 *   in, matches and "is not empty" are false; !=, not contains, not in,
 *   not matches and "is empty" are true (v0.1.2 also made a missing map
 *   key "match" anything; later go-bexpr fixed that, and so do we).
 *   Consul rejects unknown selectors with a 400 because it knows each
 *   endpoint's struct; we have no schema, so an unknown selector simply
 *   reads as not present.
 * - ==, != : strings compare bytes; numbers and bools coerce the value's
 *   raw text the way Go's strconv does (ParseInt base 0, ParseFloat,
 *   ParseBool: 1 t T TRUE true True / 0 f F FALSE false False), so
 *   `Port == 8080` and `Port == "8080"` agree. An integer member also
 *   equals a float literal of the same value (Consul would error).
 * - contains / in: substring for strings, element equality (same
 *   coercion) for arrays, key presence for objects.
 * - is empty: arrays, objects and strings of length 0 (v0.1.2 had no
 *   "is empty" on strings; later go-bexpr does).
 * - matches: the member must be a string; see REGEX below.
 * - Any other combination (e.g. `Tags == "x"`, `Port matches "8"`) is a
 *   type mismatch that Consul would reject at parse time; here the
 *   positive operator is false and its negation true.
 * - The "not" form of an operator is the negation of the positive one
 *   applied per element, not around the "any".
 *
 * REGEX: Consul uses Go's RE2 syntax; we translate the common RE2 forms
 * to POSIX ERE and use glibc's regcomp: see json_regex.h for what is
 * covered and the remaining differences. Bad patterns are parse errors,
 * as in Consul.
 *
 * Not supported from later go-bexpr versions (unused by Consul): JSON
 * pointer selectors ("/a/b"), "is nil", any/all collection expressions.
 */
#ifndef PROCONSUL_JSON_FILTER_H
#define PROCONSUL_JSON_FILTER_H

#include <stdbool.h>

#include <jansson.h>

#include "err.h"

/* Consul answers a bad filter with this text followed by the details
 * that jfilter_parse() leaves in err, e.g.
 * "Failed to create boolean expression evaluator: 1:4 (3): no match
 * found, expected: ..." (from go-bexpr's CreateFilter). */
#define JFILTER_ERR_PREFIX "Failed to create boolean expression evaluator: "

/* Longest accepted expression in bytes, and deepest nesting of
 * parentheses plus "not"s. */
#define JFILTER_MAX_EXPR 8192
#define JFILTER_MAX_DEPTH 64

struct jfilter;

/* Parse expr. Returns NULL and fills err (ERR_LEN) on a syntax error, a
 * bad regular expression, a too long or too deep expression, or no
 * memory. The details follow go-bexpr's ("line:col (offset): ..."); the
 * HTTP layer prepends JFILTER_ERR_PREFIX. An empty expr gives a filter
 * that matches everything (Consul ignores `filter=`); whitespace alone
 * is a syntax error, as in Consul. */
struct jfilter *jfilter_parse(const char *expr, char *err);

/* True when the value matches. A NULL filter matches everything. Never
 * fails: type mismatches are plain non-matches (see above). */
bool jfilter_match(const struct jfilter *f, const json_t *obj);

/* A new array holding (new references to) the elements of arr that
 * match, in order; NULL when arr is not an array or on no memory. */
json_t *jfilter_apply_array(const struct jfilter *f, const json_t *arr);

/* For map-shaped answers (/v1/agent/services, /v1/agent/checks): a new
 * object with the members of obj whose values match; NULL when obj is not
 * an object or on no memory. */
json_t *jfilter_apply_object(const struct jfilter *f, const json_t *obj);

void jfilter_free(struct jfilter *f);

#endif

/* json_regex.h - Go (RE2) regular expressions on POSIX regcomp.
 *
 * Layer: codec (uses util). Thread: any; a compiled regex may be matched
 * from several threads (glibc locks internally).
 * Owns: nothing; the caller owns the regex_t and calls regfree().
 * Tests: t/unit/check_json_filter.c (through `matches`)
 *
 * Consul's filters use Go's RE2 syntax; we compile with glibc's regcomp
 * (REG_EXTENDED | REG_NOSUB) after translating the common RE2-only forms:
 * \d \D, \s \w inside [], \A \z, \n \t \r \f \v, (?:...), (?P<n>...) and
 * (?<n>...), a leading (?i) (case-insensitive; leading m, s, U flags are
 * accepted and ignored), escaped punctuation inside [] (POSIX has no
 * escapes there), escaped punctuation that glibc would read as an
 * operator (\< \> \` \'), and a '{' that does not start a repeat (a
 * literal in RE2). \w \W \s \S \b \B are glibc's, with RE2's meaning.
 * Refused, as RE2 does: back-references, repeat counts over 1000, an
 * unmatched ')'. Also refused, unlike RE2: patterns whose counted
 * repeats and '+' expand past 2000 nodes (`(a{1000}){3}`, or `a+++...`
 * with 11 '+': each doubles what it repeats), because glibc expands
 * them and then needs seconds per match on a few KiB of text; RE2 is
 * linear-time, glibc is not (`((a+)+)+b` takes ~0.2 s on 8 KiB).
 * Not supported: \pN classes, \Q...\E, \x.. escapes, flags after the
 * start ((?i:...)). Known differences: POSIX is leftmost-longest (a
 * yes/no match is the same), '.' also matches '\n', and a few patterns
 * RE2 refuses (`a**`, `x{2}{3}`) are accepted.
 */
#ifndef PROCONSUL_JSON_REGEX_H
#define PROCONSUL_JSON_REGEX_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Compile the len bytes at pat. Returns 0, or ERR_INVAL with err
 * (ERR_LEN) saying why (no "regexp" prefix); re needs regfree() only
 * after success. */
int json_regex_compile(regex_t *re, const char *pat, size_t len, char *err);

/* True when the len bytes at s (NULs allowed) contain a match. */
bool json_regex_match(const regex_t *re, const char *s, size_t len);

#endif

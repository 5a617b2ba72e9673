/* lincheck.h - linearizability checker for Consul KV histories.
 *
 * Layer: test tool (no libcore). Used by t/lincheck/main.c (the
 * build/<variant>/t/lincheck/lincheck program that t/t7006-faults.sh runs)
 * and t/unit/check_lincheck.c.
 *
 * A history is a text file, one event a line (blank lines and text from
 * a '#' on are ignored):
 *
 *	TIME PROC invoke write KEY VALUE
 *	TIME PROC invoke cas   KEY VALUE INDEX	(PUT ?cas=INDEX)
 *	TIME PROC invoke read  KEY		(GET ?consistent)
 *	TIME PROC ok   write KEY
 *	TIME PROC ok   cas   KEY true|false	(the answer of the PUT)
 *	TIME PROC ok   read  KEY VALUE INDEX	(VALUE '-', INDEX 0: no key)
 *	TIME PROC fail OP    KEY		(certainly not applied)
 *	TIME PROC info OP    KEY		(indeterminate: a timeout, a 5xx)
 *
 * TIME is an integer from one monotonic clock (any unit); PROC names a
 * client that has at most one operation outstanding; a completion closes
 * the PROC's pending invocation. An invocation never completed is info.
 *
 * Model, one register per key (keys are checked independently, which
 * is sound for single-key operations): the value and its ModifyIndex;
 * initially no key (index 0). A write or a successful CAS stores the
 * value under a fresh Raft index, larger than any before; the index of
 * a write is known once a read returned its value (values should be
 * unique per key; a value written twice has no known index). A CAS
 * succeeds iff INDEX is the current ModifyIndex; a CAS answered false
 * saw another one. An info operation takes effect at most once, at
 * any point after its invocation, or never; info reads are dropped.
 *
 * Search: Wing & Gong's backtracking with Lowe's memoization of
 * (linearized set, state) pairs, the set a bitset hashed by Zobrist
 * keys; bounded by a step limit past which the verdict is "unknown".
 */
#ifndef PROCONSUL_LINCHECK_H
#define PROCONSUL_LINCHECK_H

#include <stdint.h>
#include <stdio.h>

#define LC_ERR_LEN 256

enum lc_verdict { LC_LINEARIZABLE = 0, LC_NOT_LINEARIZABLE = 1,
                  LC_UNKNOWN = 3 };

struct lc_history;

struct lc_history *lc_history_new(void);
void lc_history_free(struct lc_history *h);

/* lc_history_add_line: parse one event; 0, or -1 with err filled. */
int lc_history_add_line(struct lc_history *h, const char *line, char *err);

/* lc_history_read: every line of f; 0, or -1 with err naming the line. */
int lc_history_read(struct lc_history *h, FILE *f, char *err);

struct lc_stats {
    int ops;        /* operations kept (info reads and fails dropped) */
    int keys;
    int info;       /* indeterminate writes and CAS */
    int bad_keys;   /* keys not linearizable */
    int unknown_keys;
    int min_ops;    /* size of the minimal failing sub-history printed */
    long steps;     /* search steps, all keys */
};

/* lc_check: check every key with at most `limit` search steps each;
 * print one line per failing or unknown key to `out` (NULL: silent),
 * followed for a failing key by a small failing sub-history (the events
 * in history format, ops whose removal keeps the failure removed). */
enum lc_verdict lc_check(struct lc_history *h, long limit, FILE *out,
                         struct lc_stats *st);

#endif

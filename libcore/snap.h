/* snap.h - the snapshot archive: Consul's container (a gzip'd tar of
 * meta.json, state.bin, SHA256SUMS), written and read as a stream.
 *
 * Layer: store (uses util, codec; libarchive, zlib, OpenSSL).
 * Thread: any (no globals).
 * Owns: nothing beyond a writer or reader in progress.
 * Tests: t/unit/check_snap.c
 *
 * Archive members, in this order and nothing else:
 *   meta.json   {"ID","Size","Index","Term","Version","Configuration":
 *                {"Servers":[{"Suffrage","ID","Address"}],"Index"},
 *                "ConfigurationIndex","Format","FormatVersion"}
 *               Consul's fields (ID "<term>-<index>-<unix ms>", Size =
 *               bytes of state.bin, Version = snapshot format 1) plus
 *               ours: Format "proconsul-state", FormatVersion (the
 *               state.bin encoding's version, fsm.c).
 *   state.bin   the FSM's snapshot stream (fsm.c documents it).
 *   SHA256SUMS  "<hex>  meta.json\n<hex>  state.bin\n" (sha256sum -c
 *               format), as Consul writes it.
 * A reader refuses (ERR_PARSE, a message naming the problem) a
 * truncated or non-gzip input, a damaged tar, a member missing, extra,
 * repeated or out of order, a size that differs from meta.json's, a hash
 * that differs from SHA256SUMS, a Version or FormatVersion newer than
 * this build knows, a Format other than ours, and any byte after the
 * end of the gzip stream.
 */
#ifndef PROCONSUL_SNAP_H
#define PROCONSUL_SNAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SNAP_VERSION 1            /* meta.json "Version" (Consul's) */
#define SNAP_FORMAT "proconsul-state"

struct snap_meta {
    char id[80];
    uint64_t size;           /* state.bin bytes */
    uint64_t index, term;
    uint64_t version;        /* SNAP_VERSION */
    uint64_t format_version; /* the state.bin encoding's */
    json_t *configuration;   /* {"Servers":[...],"Index":N}; owned */
    uint64_t configuration_index;
};
void snap_meta_release(struct snap_meta *m);

/* Output sink: 0, or non-zero to abort (the writer then fails with
 * ERR_IO). */
typedef int (*snap_out_fn)(void *ctx, const void *p, size_t n);

struct snap_writer;

/* Start an archive whose state.bin will be exactly meta->size bytes;
 * writes meta.json at once. meta is copied. */
int snap_writer_new(const struct snap_meta *meta, snap_out_fn out,
                    void *ctx, struct snap_writer **w, char *err);
/* Append state.bin bytes (in any pieces). More than meta->size in total
 * is ERR_INVAL. */
int snap_writer_state(struct snap_writer *w, const void *p, size_t n,
                      char *err);
/* Exactly meta->size bytes were written: add SHA256SUMS, close the tar
 * and the gzip stream. Frees w whatever the result. */
int snap_writer_finish(struct snap_writer *w, char *err);
/* Abandon an archive (after an error). NULL is a no-op. */
void snap_writer_free(struct snap_writer *w);

/* Input source: fills up to n bytes, returns how many (0 at the end),
 * or -1 on a read error. */
typedef ssize_t (*snap_in_fn)(void *ctx, void *p, size_t n);
/* state.bin bytes as they are read (not yet verified!). Non-zero
 * aborts. May be NULL (verify only). */
typedef int (*snap_state_fn)(void *ctx, const void *p, size_t n);

/* Read and verify a whole archive. meta is filled (release it with
 * snap_meta_release) only on success. state (may be NULL) sees
 * state.bin as it streams: the caller must not use what it collected
 * unless snap_read returns 0, which it does only after every check
 * above passed. */
int snap_read(snap_in_fn in, void *in_ctx, snap_state_fn state,
              void *state_ctx, struct snap_meta *meta, char *err);
/* snap_read from a buffer / a file descriptor. */
int snap_read_mem(const void *buf, size_t len, snap_state_fn state,
                  void *state_ctx, struct snap_meta *meta, char *err);
int snap_read_fd(int fd, snap_state_fn state, void *state_ctx,
                 struct snap_meta *meta, char *err);

/* Only meta.json, leniently, for `snapshot inspect` of any Consul
 * snapshot too: the fields present are filled, others left 0; no hash
 * is checked. raw (may be NULL) gets the whole meta.json object. */
int snap_read_meta_fd(int fd, struct snap_meta *meta, json_t **raw,
                      char *err);

#endif

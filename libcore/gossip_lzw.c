/* gossip_lzw.c - CRC-32 and LZW as memberlist uses them.
 *
 * Layer: replication (uses util). Thread: any.
 * memberlist compresses by default (Go compress/lzw, LSB bit order,
 * 8-bit literals, codes up to 12 bits) and, towards peers speaking
 * protocol 5, prefixes packets with an IEEE CRC-32. We decode both and
 * bound the output so a small packet cannot expand without limit.
 * Tests: t/unit/check_gossip.c
 */
#include "gossip_int.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define LZW_CLEAR 256u
#define LZW_EOF 257u
#define LZW_MAXW 12u
#define LZW_SIZE (1u << LZW_MAXW)
#define LZW_NONE 0xffffu

/* Bitwise: packets are small and this needs no table. */
uint32_t gossip_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

struct lzw {
    uint16_t prefix[LZW_SIZE];
    uint8_t suffix[LZW_SIZE];
    uint8_t stack[LZW_SIZE + 1];
    unsigned width, hi, overflow, last;
};

static void lzw_reset(struct lzw *z)
{
    z->width = 9;
    z->hi = LZW_EOF;
    z->overflow = 1u << z->width;
    z->last = LZW_NONE;
}

/* Expand code (known to be <= hi) into z->stack; returns the start. */
static size_t expand(struct lzw *z, unsigned code)
{
    size_t sp = sizeof(z->stack);
    unsigned c = code;

    if (code == z->hi && z->last != LZW_NONE) {
        /* The code being defined: last's expansion plus its head. */
        c = z->last;
        while (c >= LZW_CLEAR)
            c = z->prefix[c];
        z->stack[--sp] = (uint8_t)c;
        c = z->last;
    }
    /* prefix[x] < x always holds, so the chain ends within 4096. */
    while (c >= LZW_CLEAR && sp > 1) {
        z->stack[--sp] = z->suffix[c];
        c = z->prefix[c];
    }
    z->stack[--sp] = (uint8_t)c;
    return sp;
}

/* One code; returns 1 at EOF, 0 to go on, or an error. */
static int step(struct lzw *z, unsigned code, struct gossip_buf *out)
{
    size_t sp;

    if (code == LZW_CLEAR) {
        lzw_reset(z);
        return 0;
    }
    if (code == LZW_EOF)
        return 1;
    if (code > z->hi)
        return ERR_PARSE;
    if (code < LZW_CLEAR) {
        z->stack[0] = (uint8_t)code;
        sp = 0;
        if (gossip_buf_put(out, z->stack, 1) != 0)
            return out->err;
    } else {
        sp = expand(z, code);
        if (gossip_buf_put(out, z->stack + sp, sizeof(z->stack) - sp) != 0)
            return out->err;
    }
    if (z->last != LZW_NONE) {
        z->suffix[z->hi] = z->stack[sp];
        z->prefix[z->hi] = (uint16_t)z->last;
    }
    z->last = code;
    z->hi++;
    if (z->hi >= z->overflow) {
        if (z->width == LZW_MAXW) {
            z->last = LZW_NONE;
            z->hi--;
        } else {
            z->width++;
            z->overflow = 1u << z->width;
        }
    }
    return 0;
}

int gossip_lzw_decode(const uint8_t *in, size_t n, size_t max_out,
                      uint8_t **out, size_t *out_len)
{
    struct lzw *z = calloc(1, sizeof(*z));
    struct gossip_buf ob;
    uint32_t bits = 0;
    unsigned nbits = 0;
    size_t i = 0;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    if (z == NULL)
        return ERR_NOMEM;
    gossip_buf_init(&ob, max_out);
    lzw_reset(z);
    while (rc == 0) {
        unsigned code;

        while (nbits < z->width && i < n) {
            bits |= (uint32_t)in[i++] << nbits;
            nbits += 8;
        }
        if (nbits < z->width) {
            rc = ERR_PARSE;     /* no EOF code */
            break;
        }
        code = bits & ((1u << z->width) - 1);
        bits >>= z->width;
        nbits -= z->width;
        rc = step(z, code, &ob);
    }
    free(z);
    if (rc < 0) {
        gossip_buf_release(&ob);
        return rc;
    }
    *out = ob.p;
    *out_len = ob.len;
    return 0;
}

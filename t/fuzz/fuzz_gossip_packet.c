/* fuzz_gossip_packet.c - libFuzzer target: one UDP packet into the
 * gossip state machine (memberlist + serf decoders, compound messages,
 * LZW, CRC, every message handler).
 *
 * Built and run by `make fuzz` (clang, ASan+UBSan); never part of
 * `make check`. The state machine runs on a fake transport: sends are
 * dropped and TCP streams fail at once, so each input is exactly one
 * packet arriving from 127.0.0.2:8301.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gossip_int.h"
#include "log.h"

static void drop_send(struct gossip *g, const struct gossip_addr *to,
                      const uint8_t *buf, size_t len)
{
    (void)g;
    (void)to;
    (void)buf;
    (void)len;
}

static void fail_stream(struct gossip *g, struct gossip_sop *op)
{
    gossip_sm_stream_done(g, op, -1, NULL, 0, "fuzz: no streams");
}

static const struct gossip_tp fuzz_tp = {drop_send, fail_stream};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gossip *g;
    static struct gossip_addr from;
    static uint64_t now = 1000;
    char err[ERR_LEN];

    if (g == NULL) {
        struct gossip_opts o;

        log_set_level(LOG_LVL_OFF);
        gossip_opts_init(&o);
        o.node_name = "fz";
        o.bind_addr = "127.0.0.1";
        o.seed = 1;
        g = gossip_sm_new(&o, &fuzz_tp, err);
        if (g == NULL || gossip_sm_start(g, now, err) != 0)
            return 0;
        gossip_addr_parse("127.0.0.2:8301", 8301, &from);
    }
    gossip_sm_packet(g, data, size, &from);
    now += 100;
    gossip_sm_advance(g, now);
    return 0;
}

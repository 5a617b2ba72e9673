/* fuzz_cfg_load.c - libFuzzer target: one agent configuration file from
 * bytes, loaded as the agent loads it: cfg_parse (HCL 1, or JSON when
 * the text starts with '{'), cfg_merge into an empty tree, cfg_build
 * (deprecated keys, defaults, validation) and, when it builds, the DNS
 * settings read from it (dns_cfg_load) and every service definition
 * canonicalised (local_canon_service), as the agent does at start.
 * `make fuzz` builds and runs it (-max_len=65536); seeds in
 * t/fuzz/cfg_load/.
 */
#include <stddef.h>
#include <stdint.h>

#include "agent_local_int.h"
#include "cfg.h"
#include "dns_int.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERR_LEN];
    json_t *one = NULL, *tree, *svcs, *v;
    struct cfg c;
    struct dns_cfg d;
    size_t i;

    log_set_level(LOG_LVL_OFF);
    if (cfg_parse((const char *)data, size, "fuzz.hcl", CFG_AUTO, &one,
                  err) != 0)
        return 0;
    if ((tree = json_object()) == NULL) {
        json_decref(one);
        return 0;
    }
    cfg_merge(tree, one);
    json_decref(one);
    if (cfg_build(tree, &c, no_warn, NULL, err) == 0) {
        if (dns_cfg_load(&d, &c, err) == 0)
            dns_cfg_release(&d);
        svcs = json_object_get(c.raw, "services");
        json_array_foreach(svcs, i, v) json_decref(
            local_canon_service(v, err));
        cfg_release(&c);
    }
    json_decref(tree);
    return 0;
}

/* fuzz_acl_rules.c - libFuzzer target: one ACL Rules text through the
 * parser (HCL or JSON, by its first character) and, when it parses, an
 * authorizer built from it and a few checks.
 * `make fuzz` builds and runs it (-max_len=65536).
 */
#include <stddef.h>
#include <stdint.h>

#include "acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"", "a", "foo/", "foo/bar"};
    struct acl_rules *r;
    struct acl_authz *z;
    char err[ERR_LEN];

    if (acl_rules_parse((const char *)data, size, &r, err) != 0)
        return 0;
    if ((z = acl_authz_new(false)) != NULL &&
        acl_authz_add(z, r, err) == 0 && acl_authz_add(z, r, err) == 0) {
        for (int res = 0; res < ACL_RES_COUNT; res++)
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                (void)acl_allowed(z, false, (enum acl_res)res, names[i],
                                  ACL_WRITE);
        (void)acl_key_write_prefix(z, true, "foo/");
    }
    acl_authz_free(z);
    acl_rules_free(r);
    return 0;
}

/* acl_hash.c - the "Hash" field of ACL tokens, policies and roles.
 *
 * Layer: store (uses util, jansson, OpenSSL). Thread: any.
 * Owns: nothing.
 * Tests: t/unit/check_acl.c
 */
#include "acl.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

int acl_hash(const json_t *obj, char *out, char *err)
{
    static const char *const skip[] = {"Hash", "SecretID", "CreateTime",
                                       "CreateIndex", "ModifyIndex"};
    unsigned char md[SHA256_DIGEST_LENGTH];
    json_t *copy = json_copy((json_t *)obj);
    char *text;

    if (copy == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        json_object_del(copy, skip[i]);
    text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    if (text == NULL)
        return err_set(err, ERR_NOMEM, "out of memory");
    SHA256((const unsigned char *)text, strlen(text), md);
    free(text);
    EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
    return 0;
}

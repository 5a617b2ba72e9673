/* acl_hash.c - the "Hash" field of ACL tokens, policies and roles.
 *
 * Layer: store (uses util, jansson, OpenSSL). Thread: any.
 * Owns: nothing.
 * Tests: t/t3003-acl-cli.sh (through the API)
 */
#include "acl.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static json_t *link_ids(const json_t *links)
{
    json_t *ids = json_array(), *l;
    size_t i;

    json_array_foreach(links, i, l)
        json_array_append(ids, json_object_get(l, "ID"));
    return ids;
}

int acl_hash(json_t *obj, const char *const *fields, char *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int mdlen = 0;
    json_t *canon = json_object();
    char *s;

    for (; canon != NULL && *fields != NULL; fields++) {
        json_t *v = json_object_get(obj, *fields);

        if (v == NULL)
            continue;
        if (strcmp(*fields, "Policies") == 0 ||
            strcmp(*fields, "Roles") == 0)
            json_object_set_new(canon, *fields, link_ids(v));
        else
            json_object_set(canon, *fields, v);
    }
    s = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(canon);
    if (s == NULL || EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(),
                                NULL) != 1) {
        free(s);
        return err_set(err, ERR_INTERNAL, "cannot hash the ACL object");
    }
    free(s);
    EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
    json_object_set_new(obj, "Hash", json_string(b64));
    return 0;
}

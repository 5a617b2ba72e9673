/* fuzz_json_filter.c - libFuzzer target: one ?filter= expression
 * (go-bexpr syntax, RE2 patterns translated for regcomp) through
 * jfilter_parse and, when it parses, evaluated against a fixed list of
 * health entries and a map of agent services (jfilter_apply_array,
 * jfilter_apply_object). The input stops at its first NUL, as a query
 * parameter would.
 * `make fuzz` builds and runs it (-max_len=8192); seeds in
 * t/fuzz/json_filter/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char entries_json[] =
    "[{\"Node\":{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Meta\":"
    "{\"env\":\"prod\",\"a.b\":\"\"}},\"Service\":{\"ID\":\"web1\","
    "\"Service\":\"web\",\"Tags\":[\"v1\",\"primary\"],\"Port\":8080,"
    "\"Weights\":{\"Passing\":1.5,\"Warning\":1},\"EnableTagOverride\":"
    "false,\"Meta\":{}},\"Checks\":[{\"Status\":\"passing\",\"Name\":"
    "\"c1\"},{\"Status\":\"critical\",\"Name\":\"\\u00e9\\n\"}]},"
    "{\"Node\":null,\"Service\":{\"Tags\":[],\"Port\":-1},\"Checks\":[]}]";
static const char services_json[] =
    "{\"web1\":{\"Service\":\"web\",\"Tags\":[\"a\",1,true,null,[]],"
    "\"Port\":0},\"db\":{\"Service\":\"db\",\"Port\":1e300,\"Tags\":{}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *entries, *services;
    char err[ERR_LEN];
    struct jfilter *f;
    char *expr;

    if (entries == NULL) {
        entries = json_loads(entries_json, 0, NULL);
        services = json_loads(services_json, 0, NULL);
        if (entries == NULL || services == NULL)
            abort();
    }
    if ((expr = strndup((const char *)data, size)) == NULL)
        return 0;
    err[0] = '\0';
    f = jfilter_parse(expr, err);
    free(expr);
    if (f == NULL) {
        if (err[0] == '\0')
            abort(); /* an error always says why */
        return 0;
    }
    json_decref(jfilter_apply_array(f, entries));
    json_decref(jfilter_apply_object(f, services));
    jfilter_free(f);
    return 0;
}

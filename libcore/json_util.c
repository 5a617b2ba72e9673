/* json_util.c - small helpers over jansson shared by the decoders.
 *
 * Layer: codec (uses jansson). Thread: any.
 * Owns: nothing.
 * Tests: t/t2101-catalog-api.sh, t/t2102-agent-services.sh (messages)
 */
#include "json_util.h"

const char *json_go_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "null";
    }
}

/* json_util.h - small helpers over jansson shared by the decoders.
 *
 * Layer: codec (uses jansson). Thread: any.
 * Tests: t/t2101-catalog-api.sh, t/t2102-agent-services.sh (messages)
 */
#ifndef PROCONSUL_JSON_UTIL_H
#define PROCONSUL_JSON_UTIL_H

#include <jansson.h>

/* What Go's encoding/json calls a JSON value in an UnmarshalTypeError
 * ("cannot unmarshal <kind> into Go value of type ..."): "object",
 * "array", "string", "number", "bool" or "null". */
const char *json_go_kind(const json_t *v);

#endif

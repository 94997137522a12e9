/* The Buffer argument check the addons share. */
#ifndef SLUICE_NAPI_BUFFER_H
#define SLUICE_NAPI_BUFFER_H
#include <node_api.h>
#include <stdint.h>

/* True, with its bytes and length, when `value` is a Buffer. */
static inline int bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_buffer = false;
  return napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer &&
         napi_get_buffer_info(env, value, (void **)data, length) == napi_ok;
}
#endif

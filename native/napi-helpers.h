/* What the single-purpose addons share: the Buffer argument check and exporting one function. */
#ifndef SLUICE_NAPI_HELPERS_H
#define SLUICE_NAPI_HELPERS_H
#include <node_api.h>
#include <stdint.h>

/* True, with its bytes and length, when `value` is a Buffer. */
static inline int bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_buffer = false;
  return napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer &&
         napi_get_buffer_info(env, value, (void **)data, length) == napi_ok;
}

/* Sets exports[name] to `function`; returns exports (a module init's result). */
static inline napi_value export_function(napi_env env, napi_value exports, const char *name, napi_callback function) {
  napi_property_descriptor method = {name, NULL, function, NULL, NULL, NULL, napi_default, NULL};
  napi_define_properties(env, exports, 1, &method);
  return exports;
}
#endif

/*
 * How much freed memory glibc's malloc keeps for reuse before it hands the top of the heap back
 * to the kernel. Node's socket reads and sealed VMess chunks are 32–64 KiB buffers outside V8's
 * heap, freed in batches when V8 collects their owners; V8 collects once roughly 64 MiB of such
 * memory is outstanding. With glibc's default (128 KiB) every batch was returned to the kernel
 * and the next buffers faulted their pages back in, zeroed: one minor fault per 4 KiB relayed
 * (220–350 per MB on a VMess client, measured here; under 1 per MB with 64 MiB kept).
 *
 * retainFreedMemory(bytes) -> boolean: mallopt(M_TRIM_THRESHOLD, bytes) on glibc; false where
 * the C library is not glibc (nothing is changed there).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "napi-helpers.h"
#include <stdbool.h>
#include <stdint.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value retain_freed_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t bytes = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int64(env, argv[0], &bytes) != napi_ok || bytes < 0 || bytes > INT32_MAX) {
    napi_throw_type_error(env, NULL, "heap: retainFreedMemory(bytes) takes a byte count from 0 to 2^31-1");
    return NULL;
  }
  bool applied = false;
#ifdef __GLIBC__
  applied = mallopt(M_TRIM_THRESHOLD, (int)bytes) == 1;
#endif
  napi_get_boolean(env, applied, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  return export_function(env, exports, "retainFreedMemory", retain_freed_memory);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

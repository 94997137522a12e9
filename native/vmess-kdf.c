/*
 * The VMess AEAD KDF (../shared/specs/vmess.md §3) on the SHA-256 of the OpenSSL that node:crypto
 * wraps: nested HMAC with "VMess AEAD KDF" at the root and each path element as the key of one
 * more HMAC level, the last one outermost. A connection needs four depth-3 and four depth-1 KDFs
 * per side, 16 and 4 nested digests each; in JavaScript (@noble/hashes, midstates reused) that
 * was about 100 µs of a connection's 750 µs of CPU per side, measured here.
 *
 * derive(key, ...path) -> Buffer: the 32-byte KDF of `key` under up to 8 path elements; key and
 * path elements are Buffers, each path element at most 64 bytes (one SHA-256 block, so the HMAC
 * key is used as it is). Throws a TypeError on anything else.
 *
 * Every level's hash of m is SHA-256 over the inner pads (key ⊕ 0x36) of the root and of each
 * level up to it, then m; finishing one level's hash takes two of its parent's: HMAC's inner
 * hash, then the outer one started from the parent's state after this level's outer pad.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#define NAPI_VERSION 8
#include <node_api.h>
#include "napi-helpers.h"
#include <openssl/sha.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 64
#define MAX_PATH 8
#define ROOT_KEY "VMess AEAD KDF"

typedef struct {
  /* SHA-256 after the inner pads of the root and of every level up to this one. */
  SHA256_CTX start;
  /* The parent's start after this level's outer pad. */
  SHA256_CTX outer;
} level_t;

/* Derives a level below `parent` (plain SHA-256 when NULL) keyed by key[0, length ≤ 64). */
static void add_level(level_t *level, const SHA256_CTX *parent, const uint8_t *key, size_t length) {
  uint8_t inner[BLOCK], outer[BLOCK];
  memset(inner, 0x36, BLOCK);
  memset(outer, 0x5c, BLOCK);
  for (size_t i = 0; i < length; i++) {
    inner[i] ^= key[i];
    outer[i] ^= key[i];
  }
  if (parent) {
    level->start = *parent;
    level->outer = *parent;
  } else {
    SHA256_Init(&level->start);
    SHA256_Init(&level->outer);
  }
  SHA256_Update(&level->start, inner, BLOCK);
  SHA256_Update(&level->outer, outer, BLOCK);
}

/* Finishes the hash of levels[depth] whose message `state` has absorbed (after the inner pads). */
static void finish(const level_t *levels, int depth, SHA256_CTX *state, uint8_t digest[SHA256_DIGEST_LENGTH]) {
  if (depth < 0) {
    SHA256_Final(digest, state);
    return;
  }
  uint8_t inner[SHA256_DIGEST_LENGTH];
  finish(levels, depth - 1, state, inner);
  SHA256_CTX outer = levels[depth].outer;
  SHA256_Update(&outer, inner, sizeof inner);
  finish(levels, depth - 1, &outer, digest);
}

static napi_value derive(napi_env env, napi_callback_info info) {
  size_t argc = MAX_PATH + 2;
  napi_value argv[MAX_PATH + 2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  uint8_t *key = NULL;
  size_t key_len = 0;
  if (argc < 1 || argc > MAX_PATH + 1 || !bytes(env, argv[0], &key, &key_len)) {
    napi_throw_type_error(env, NULL, "vmess kdf: derive(key, ...path) takes a key Buffer and up to 8 path Buffers");
    return NULL;
  }
  level_t levels[MAX_PATH + 1];
  add_level(&levels[0], NULL, (const uint8_t *)ROOT_KEY, sizeof ROOT_KEY - 1);
  for (size_t i = 1; i < argc; i++) {
    uint8_t *element = NULL;
    size_t length = 0;
    if (!bytes(env, argv[i], &element, &length) || length > BLOCK) {
      napi_throw_type_error(env, NULL, "vmess kdf: path elements are Buffers of at most 64 bytes");
      return NULL;
    }
    add_level(&levels[i], &levels[i - 1].start, element, length);
  }
  int depth = (int)argc - 1;
  SHA256_CTX state = levels[depth].start;
  SHA256_Update(&state, key, key_len);
  void *out = NULL;
  napi_value result;
  if (napi_create_buffer(env, SHA256_DIGEST_LENGTH, &out, &result) != napi_ok) return NULL;
  finish(levels, depth, &state, out);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  return export_function(env, exports, "derive", derive);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

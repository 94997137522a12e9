/*
 * AES-128-GCM and ChaCha20-Poly1305 seal/open into caller-owned buffers, on the OpenSSL that
 * node:crypto wraps, through its EVP interface, with one context per cipher and direction kept
 * per Node environment. VMess seals every body chunk with a fresh nonce; node:crypto needs a
 * cipher object per chunk for that, and its update() allocates and copies its output, which
 * together cost about as much as the cipher itself on 16–32 KiB chunks (22 µs against 9.5 µs for
 * a 32 KiB AES-128-GCM chunk, measured here).
 *
 * seal(cipher, key, nonce, plaintext, out, offset[, aad]): out[offset, +n) = ciphertext, then
 *   the tag; aad may be undefined.
 * open(cipher, key, nonce, ciphertext, tag, aad, out) -> boolean: verifies the 16-byte tag and
 *   decrypts into out[0, n); the ciphertext is one Buffer or an array of up to 64 (a chunk that
 *   arrived in pieces, so it need not be joined first); aad may be undefined. On a bad tag `out`
 *   is zeroed, never left half-decrypted.
 * cipher: 0 = aes-128-gcm (16-byte key), 1 = chacha20-poly1305 (32-byte key); nonce: 12 bytes;
 * aad: associated data.
 *
 * The tunnel's data messages (../shared/specs/pq-tunnel.md §3.4; §10 names AEAD in the native
 * addon as the data plane's scaling step) have calls of their own that take the message as the
 * spec lays it out, so a packet costs no nonce or view objects: a 16-byte header (type, receiver
 * index, LE64 counter) that is the associated data and supplies the nonce (4 zero bytes ||
 * counter), then the ciphertext, then the tag; ChaCha20-Poly1305, 32-byte key, in place.
 * sealTransport(key, message): encrypts message[16, length-16) and writes the tag after it.
 * openTransport(key, message) -> boolean: verifies and decrypts message[16, length-16); on a bad
 *   tag the body is zeroed.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "napi-helpers.h"
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TAG_LEN 16
#define NONCE_LEN 12
#define CIPHERS 2
#define MAX_PIECES 64
#define CHACHA 1
#define TRANSPORT_HEADER_LEN 16

typedef struct {
  EVP_CIPHER_CTX *seal[CIPHERS];
  EVP_CIPHER_CTX *open[CIPHERS];
} contexts_t;

/* One piece of a ciphertext that arrived in pieces. */
typedef struct {
  uint8_t *data;
  size_t length;
} piece_t;

static const size_t key_lengths[CIPHERS] = {16, 32};

static void free_contexts(napi_env env, void *data, void *hint) {
  contexts_t *contexts = data;
  for (int i = 0; i < CIPHERS; i++) {
    EVP_CIPHER_CTX_free(contexts->seal[i]);
    EVP_CIPHER_CTX_free(contexts->open[i]);
  }
  free(contexts);
}

/* The cipher index, key and nonce every call starts with, checked. */
static int cipher_args(napi_env env, napi_value *argv, int *cipher, uint8_t **key, uint8_t **nonce) {
  size_t key_len = 0, nonce_len = 0;
  if (napi_get_value_int32(env, argv[0], cipher) != napi_ok || *cipher < 0 || *cipher >= CIPHERS) return 0;
  return bytes(env, argv[1], key, &key_len) && key_len == key_lengths[*cipher] &&
         bytes(env, argv[2], nonce, &nonce_len) && nonce_len == NONCE_LEN;
}

/* The associated data at argv[index]: absent or undefined (NULL, 0), or a Buffer. */
static int aad_arg(napi_env env, napi_value *argv, size_t argc, size_t index, uint8_t **aad, size_t *aad_len) {
  napi_valuetype type = napi_undefined;
  *aad = NULL;
  *aad_len = 0;
  if (argc <= index) return 1;
  if (napi_typeof(env, argv[index], &type) != napi_ok) return 0;
  return type == napi_undefined || (bytes(env, argv[index], aad, aad_len) && *aad_len <= INT32_MAX);
}

/* Encrypts plain[0, length) into out (which may be plain itself) and writes the tag after it. */
static int encrypt(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
                   const uint8_t *plain, size_t length, uint8_t *out) {
  int written = 0, last = 0;
  return EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
         (aad_len == 0 || EVP_EncryptUpdate(ctx, NULL, &written, aad, (int)aad_len) == 1) &&
         EVP_EncryptUpdate(ctx, out, &written, plain, (int)length) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + written, &last) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, out + length) == 1;
}

static napi_value aead_seal(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  contexts_t *contexts;
  int cipher;
  uint8_t *key, *nonce, *plain, *out, *aad;
  size_t plain_len = 0, out_len = 0, aad_len;
  uint32_t offset = 0;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&contexts) == napi_ok && argc >= 6 &&
           cipher_args(env, argv, &cipher, &key, &nonce) && bytes(env, argv[3], &plain, &plain_len) &&
           bytes(env, argv[4], &out, &out_len) && napi_get_value_uint32(env, argv[5], &offset) == napi_ok &&
           aad_arg(env, argv, argc, 6, &aad, &aad_len) && plain_len <= INT32_MAX - TAG_LEN &&
           (size_t)offset + plain_len + TAG_LEN <= out_len;
  if (!ok) {
    napi_throw_type_error(env, NULL, "seal(cipher, key, nonce, plaintext, out, offset[, aad]): bad arguments or out too small");
    return NULL;
  }
  if (!encrypt(contexts->seal[cipher], key, nonce, aad, aad_len, plain, plain_len, out + offset)) {
    napi_throw_error(env, NULL, "seal: OpenSSL AEAD failed");
  }
  return NULL;
}

/* argv value: one Buffer or an array of up to MAX_PIECES Buffers (a chunk that arrived in pieces). */
static int pieces_arg(napi_env env, napi_value value, piece_t *pieces, uint32_t *count, size_t *total) {
  bool is_array = false;
  *total = 0;
  if (napi_is_array(env, value, &is_array) != napi_ok) return 0;
  if (!is_array) {
    *count = 1;
    if (!bytes(env, value, &pieces[0].data, &pieces[0].length)) return 0;
    *total = pieces[0].length;
    return *total <= INT32_MAX;
  }
  if (napi_get_array_length(env, value, count) != napi_ok || *count > MAX_PIECES) return 0;
  for (uint32_t i = 0; i < *count; i++) {
    napi_value element;
    if (napi_get_element(env, value, i, &element) != napi_ok || !bytes(env, element, &pieces[i].data, &pieces[i].length)) return 0;
    *total += pieces[i].length;
  }
  return *total <= INT32_MAX;
}

static napi_value aead_open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], result;
  contexts_t *contexts;
  int cipher;
  uint8_t *key, *nonce, *tag, *aad, *out;
  size_t tag_len = 0, aad_len, total, out_len = 0;
  piece_t pieces[MAX_PIECES];
  uint32_t count = 0;
  int ok = napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&contexts) == napi_ok && argc == 7 &&
           cipher_args(env, argv, &cipher, &key, &nonce) && pieces_arg(env, argv[3], pieces, &count, &total) &&
           bytes(env, argv[4], &tag, &tag_len) && tag_len == TAG_LEN && aad_arg(env, argv, argc, 5, &aad, &aad_len) &&
           bytes(env, argv[6], &out, &out_len) && out_len >= total;
  if (!ok) {
    napi_throw_type_error(env, NULL, "open(cipher, key, nonce, ciphertext, tag, aad, out): bad arguments or out too small");
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = contexts->open[cipher];
  int written = 0;
  size_t position = 0;
  ok = EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
       (aad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &written, aad, (int)aad_len) == 1);
  for (uint32_t i = 0; i < count && ok; i++) {
    ok = pieces[i].length == 0 || EVP_DecryptUpdate(ctx, out + position, &written, pieces[i].data, (int)pieces[i].length) == 1;
    position += pieces[i].length;
  }
  uint8_t final_block[16];
  ok = ok && EVP_DecryptFinal_ex(ctx, final_block, &written) == 1;
  if (!ok) memset(out, 0, total);
  napi_get_boolean(env, ok, &result);
  return result;
}

/* The key (32 bytes) and the message (header, body, tag) of a transport call, checked. */
static int transport_args(napi_env env, napi_callback_info info, contexts_t **contexts, uint8_t **key, uint8_t **message, size_t *length) {
  size_t argc = 2, key_len = 0;
  napi_value argv[2];
  return napi_get_cb_info(env, info, &argc, argv, NULL, (void **)contexts) == napi_ok && argc == 2 &&
         bytes(env, argv[0], key, &key_len) && key_len == key_lengths[CHACHA] && bytes(env, argv[1], message, length) &&
         *length >= TRANSPORT_HEADER_LEN + TAG_LEN && *length <= INT32_MAX;
}

static napi_value seal_transport(napi_env env, napi_callback_info info) {
  contexts_t *contexts;
  uint8_t *key, *message;
  size_t length;
  if (!transport_args(env, info, &contexts, &key, &message, &length)) {
    napi_throw_type_error(env, NULL, "sealTransport: a 32-byte key and a message of at least 32 bytes");
    return NULL;
  }
  uint8_t nonce[NONCE_LEN] = {0};
  memcpy(nonce + 4, message + 8, 8);
  uint8_t *body = message + TRANSPORT_HEADER_LEN;
  if (!encrypt(contexts->seal[CHACHA], key, nonce, message, TRANSPORT_HEADER_LEN, body, length - TRANSPORT_HEADER_LEN - TAG_LEN, body)) {
    napi_throw_error(env, NULL, "sealTransport: OpenSSL ChaCha20-Poly1305 failed");
  }
  return NULL;
}

static napi_value open_transport(napi_env env, napi_callback_info info) {
  contexts_t *contexts;
  uint8_t *key, *message;
  size_t length;
  napi_value result;
  int ok = transport_args(env, info, &contexts, &key, &message, &length);
  if (ok) {
    uint8_t nonce[NONCE_LEN] = {0};
    memcpy(nonce + 4, message + 8, 8);
    int body = (int)(length - TRANSPORT_HEADER_LEN - TAG_LEN), written = 0;
    EVP_CIPHER_CTX *ctx = contexts->open[CHACHA];
    ok = EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, message + length - TAG_LEN) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &written, message, TRANSPORT_HEADER_LEN) == 1 &&
         EVP_DecryptUpdate(ctx, message + TRANSPORT_HEADER_LEN, &written, message + TRANSPORT_HEADER_LEN, body) == 1 &&
         EVP_DecryptFinal_ex(ctx, message + TRANSPORT_HEADER_LEN + written, &written) == 1;
    if (!ok) memset(message + TRANSPORT_HEADER_LEN, 0, (size_t)body);
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  contexts_t *contexts = calloc(1, sizeof *contexts);
  if (!contexts) return NULL;
  const EVP_CIPHER *ciphers[CIPHERS] = {EVP_aes_128_gcm(), EVP_chacha20_poly1305()};
  int ok = 1;
  for (int i = 0; i < CIPHERS && ok; i++) {
    contexts->seal[i] = EVP_CIPHER_CTX_new();
    contexts->open[i] = EVP_CIPHER_CTX_new();
    ok = contexts->seal[i] && contexts->open[i] &&
         EVP_EncryptInit_ex(contexts->seal[i], ciphers[i], NULL, NULL, NULL) == 1 &&
         EVP_DecryptInit_ex(contexts->open[i], ciphers[i], NULL, NULL, NULL) == 1;
  }
  if (!ok) {
    free_contexts(env, contexts, NULL);
    napi_throw_error(env, NULL, "aead addon: OpenSSL lacks AES-128-GCM or ChaCha20-Poly1305");
    return NULL;
  }
  napi_property_descriptor methods[] = {
      {"seal", NULL, aead_seal, NULL, NULL, NULL, napi_default, contexts},
      {"open", NULL, aead_open, NULL, NULL, NULL, napi_default, contexts},
      {"sealTransport", NULL, seal_transport, NULL, NULL, NULL, napi_default, contexts},
      {"openTransport", NULL, open_transport, NULL, NULL, NULL, napi_default, contexts},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  napi_set_instance_data(env, contexts, free_contexts, NULL);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

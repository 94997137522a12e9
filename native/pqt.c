/*
 * ChaCha20-Poly1305 for PQT v1 transport data messages (../shared/specs/pq-tunnel.md §3.4; §10
 * names AEAD in the native addon as the data plane's scaling step): the OpenSSL that node:crypto
 * wraps, called through its EVP interface on a context kept per Node environment, so a packet
 * costs one cipher re-key instead of a node:crypto cipher object, its output and its tag buffer.
 *
 * A message is laid out as the spec has it: a 16-byte header (type, receiver index, LE64
 * counter) that is the AEAD's associated data and supplies the nonce (4 zero bytes || counter),
 * then the ciphertext, then the 16-byte tag. Both calls work in place on the caller's buffer.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_LEN 16
#define TAG_LEN 16
#define KEY_LEN 32

typedef struct {
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
} contexts_t;

static void free_contexts(napi_env env, void *data, void *hint) {
  contexts_t *contexts = data;
  EVP_CIPHER_CTX_free(contexts->seal);
  EVP_CIPHER_CTX_free(contexts->open);
  free(contexts);
}

/* The key (32 bytes) and the message (header, body, tag) of a call, checked. */
static int message_args(napi_env env, napi_callback_info info, contexts_t **contexts, uint8_t **key, uint8_t **message, size_t *length) {
  size_t argc = 2;
  napi_value argv[2];
  size_t key_len = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, (void **)contexts) != napi_ok || argc < 2) return 0;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) return 0;
  if (napi_get_buffer_info(env, argv[0], (void **)key, &key_len) != napi_ok || key_len != KEY_LEN) return 0;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) return 0;
  if (napi_get_buffer_info(env, argv[1], (void **)message, length) != napi_ok) return 0;
  return *length >= HEADER_LEN + TAG_LEN;
}

static napi_value boolean(napi_env env, int value) {
  napi_value result;
  napi_get_boolean(env, value, &result);
  return result;
}

/* seal(key, message): encrypts message[16, length-16) in place and writes the tag after it. */
static napi_value pqt_seal(napi_env env, napi_callback_info info) {
  contexts_t *contexts;
  uint8_t *key, *message;
  size_t length;
  if (!message_args(env, info, &contexts, &key, &message, &length)) {
    napi_throw_type_error(env, NULL, "seal: a 32-byte key and a message of at least 32 bytes");
    return NULL;
  }
  uint8_t nonce[12] = {0};
  memcpy(nonce + 4, message + 8, 8);
  int body = (int)(length - HEADER_LEN - TAG_LEN), written = 0, ok;
  EVP_CIPHER_CTX *ctx = contexts->seal;
  ok = EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
       EVP_EncryptUpdate(ctx, NULL, &written, message, HEADER_LEN) == 1 &&
       EVP_EncryptUpdate(ctx, message + HEADER_LEN, &written, message + HEADER_LEN, body) == 1 &&
       EVP_EncryptFinal_ex(ctx, message + HEADER_LEN + written, &written) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, message + length - TAG_LEN) == 1;
  if (!ok) {
    napi_throw_error(env, NULL, "seal: OpenSSL ChaCha20-Poly1305 failed");
    return NULL;
  }
  return NULL;
}

/*
 * open(key, message) -> boolean: verifies the tag and decrypts message[16, length-16) in place.
 * On a failed tag the body is zeroed, so no unauthenticated plaintext is left behind.
 */
static napi_value pqt_open(napi_env env, napi_callback_info info) {
  contexts_t *contexts;
  uint8_t *key, *message;
  size_t length;
  if (!message_args(env, info, &contexts, &key, &message, &length)) return boolean(env, 0);
  uint8_t nonce[12] = {0};
  memcpy(nonce + 4, message + 8, 8);
  int body = (int)(length - HEADER_LEN - TAG_LEN), written = 0;
  EVP_CIPHER_CTX *ctx = contexts->open;
  int ok = EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, message + length - TAG_LEN) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &written, message, HEADER_LEN) == 1 &&
           EVP_DecryptUpdate(ctx, message + HEADER_LEN, &written, message + HEADER_LEN, body) == 1 &&
           EVP_DecryptFinal_ex(ctx, message + HEADER_LEN + written, &written) == 1;
  if (!ok) memset(message + HEADER_LEN, 0, (size_t)body);
  return boolean(env, ok);
}

static napi_value init(napi_env env, napi_value exports) {
  contexts_t *contexts = calloc(1, sizeof *contexts);
  if (!contexts) return NULL;
  contexts->seal = EVP_CIPHER_CTX_new();
  contexts->open = EVP_CIPHER_CTX_new();
  int ok = contexts->seal && contexts->open &&
           EVP_EncryptInit_ex(contexts->seal, EVP_chacha20_poly1305(), NULL, NULL, NULL) == 1 &&
           EVP_DecryptInit_ex(contexts->open, EVP_chacha20_poly1305(), NULL, NULL, NULL) == 1;
  if (!ok) {
    free_contexts(env, contexts, NULL);
    napi_throw_error(env, NULL, "pqt addon: OpenSSL has no ChaCha20-Poly1305");
    return NULL;
  }
  napi_property_descriptor methods[] = {
      {"seal", NULL, pqt_seal, NULL, NULL, NULL, napi_default, contexts},
      {"open", NULL, pqt_open, NULL, NULL, NULL, napi_default, contexts},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  napi_set_instance_data(env, contexts, free_contexts, NULL);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

/*
 * A minimal Linux TUN binding for Node-API (see ../shared/specs/tun.md §4.3): opens a TUN
 * device (IFF_TUN | IFF_NO_PI, non-blocking), drains readable packets in batches into a
 * caller-owned buffer from a uv_poll watcher on the main loop and calls JS once per batch,
 * and writes packets. No threads, no global state.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CHECK(call)                                                                          \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      napi_throw_error(env, NULL, "tun addon: " #call " failed");                           \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

typedef struct {
  uv_poll_t poll;
  napi_env env;
  int fd;
  napi_ref callback;
  napi_ref buffer_ref;
  napi_ref lengths_ref;
  uint8_t *buffer;
  uint32_t *lengths;
  uint32_t slot_size;
  uint32_t slots;
  napi_async_context context;
  int closing;
} reader_t;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, msg, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  char code_text[32];
  snprintf(code_text, sizeof code_text, "E%d", err);
  const char *name = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == ENOENT ? "ENOENT"
                   : err == EBUSY ? "EBUSY" : err == EINVAL ? "EINVAL" : err == ENODEV ? "ENODEV" : code_text;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return NULL;
}

static int32_t int_arg(napi_env env, napi_value value) {
  int32_t out = -1;
  napi_get_value_int32(env, value, &out);
  return out;
}

/* open(name: string, multiQueue: boolean) -> [fd, actualName] */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  bool multi = false;
  napi_get_value_bool(env, argv[1], &multi);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, len < IFNAMSIZ ? len : IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  napi_value result, fd_value, name_value;
  CHECK(napi_create_array_with_length(env, 2, &result));
  CHECK(napi_create_int32(env, fd, &fd_value));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_value));
  CHECK(napi_set_element(env, result, 0, fd_value));
  CHECK(napi_set_element(env, result, 1, name_value));
  return result;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  reader_t *reader = (reader_t *)handle->data;
  if (reader->closing) return;
  napi_env env = reader->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (;;) {
    uint32_t count = 0;
    while (count < reader->slots) {
      ssize_t n = read(reader->fd, reader->buffer + (size_t)count * reader->slot_size, reader->slot_size);
      if (n < 0) break; /* EAGAIN (drained) or an error the next wake-up reports again */
      reader->lengths[count++] = (uint32_t)n;
    }
    if (count == 0) break;
    napi_value callback, global, argument, ignored;
    napi_get_reference_value(env, reader->callback, &callback);
    napi_get_global(env, &global);
    napi_create_uint32(env, count, &argument);
    napi_make_callback(env, reader->context, global, callback, 1, &argument, &ignored);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending || reader->closing || count < reader->slots) break;
  }
  napi_close_handle_scope(env, scope);
  (void)status;
  (void)events;
}

static void on_closed(uv_handle_t *handle) {
  reader_t *reader = (reader_t *)handle->data;
  napi_env env = reader->env;
  napi_delete_reference(env, reader->callback);
  napi_delete_reference(env, reader->buffer_ref);
  napi_delete_reference(env, reader->lengths_ref);
  napi_async_destroy(env, reader->context);
  free(reader);
}

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

/* startReading(fd, buffer: Buffer, lengths: Uint32Array, slotSize, onBatch(count)) -> handle */
static napi_value tun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *reader = calloc(1, sizeof *reader);
  if (!reader) return throw_errno(env, "startReading", ENOMEM);
  reader->env = env;
  reader->fd = int_arg(env, argv[0]);
  reader->slot_size = (uint32_t)int_arg(env, argv[3]);
  size_t buffer_len = 0;
  CHECK(napi_get_buffer_info(env, argv[1], (void **)&reader->buffer, &buffer_len));
  napi_typedarray_type type;
  size_t lengths_len = 0;
  void *lengths_data = NULL;
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &lengths_len, &lengths_data, NULL, NULL));
  if (type != napi_uint32_array || reader->slot_size == 0) {
    free(reader);
    napi_throw_type_error(env, NULL, "startReading: lengths must be a Uint32Array and slotSize positive");
    return NULL;
  }
  reader->lengths = (uint32_t *)lengths_data;
  reader->slots = (uint32_t)(buffer_len / reader->slot_size);
  if (reader->slots > lengths_len) reader->slots = (uint32_t)lengths_len;
  CHECK(napi_create_reference(env, argv[4], 1, &reader->callback));
  CHECK(napi_create_reference(env, argv[1], 1, &reader->buffer_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &reader->lengths_ref));
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "TunRead", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &reader->context));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int rc = uv_poll_init(loop, &reader->poll, reader->fd);
  if (rc == 0) rc = uv_poll_start(&reader->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    napi_delete_reference(env, reader->callback);
    napi_delete_reference(env, reader->buffer_ref);
    napi_delete_reference(env, reader->lengths_ref);
    napi_async_destroy(env, reader->context);
    free(reader);
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
  reader->poll.data = reader;
  napi_value handle;
  CHECK(napi_create_external(env, reader, reader_finalize, NULL, &handle));
  return handle;
}

static reader_t *reader_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) return NULL;
  return (reader_t *)data;
}

/* pause(handle) / resume(handle): backpressure */
static napi_value tun_pause(napi_env env, napi_callback_info info) {
  reader_t *reader = reader_arg(env, info);
  if (reader && !reader->closing) uv_poll_stop(&reader->poll);
  return NULL;
}

static napi_value tun_resume(napi_env env, napi_callback_info info) {
  reader_t *reader = reader_arg(env, info);
  if (reader && !reader->closing) uv_poll_start(&reader->poll, UV_READABLE, on_readable);
  return NULL;
}

/* stop(handle): no callback after this returns; memory is freed once libuv closes the watcher */
static napi_value tun_stop(napi_env env, napi_callback_info info) {
  reader_t *reader = reader_arg(env, info);
  if (reader && !reader->closing) {
    reader->closing = 1;
    uv_poll_stop(&reader->poll);
    uv_close((uv_handle_t *)&reader->poll, on_closed);
  }
  return NULL;
}

/* write(fd, buffer, offset, length) -> bytes written or -errno */
static napi_value tun_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  CHECK(napi_get_buffer_info(env, argv[1], (void **)&data, &len));
  int32_t offset = int_arg(env, argv[2]), length = int_arg(env, argv[3]);
  napi_value result;
  if (offset < 0 || length < 0 || (size_t)offset + (size_t)length > len) {
    CHECK(napi_create_int32(env, -EINVAL, &result));
    return result;
  }
  ssize_t n = write(int_arg(env, argv[0]), data + offset, (size_t)length);
  CHECK(napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result));
  return result;
}

/* close(fd) */
static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = int_arg(env, argv[0]);
  if (fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"open", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"startReading", NULL, tun_start_reading, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, tun_pause, NULL, NULL, NULL, napi_default, NULL},
      {"resume", NULL, tun_resume, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, tun_stop, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, tun_write, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tun_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

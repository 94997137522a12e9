/*
 * A minimal Linux TUN binding for Node-API (see ../shared/specs/tun.md §4.3): opens a TUN
 * device (IFF_TUN | IFF_NO_PI, non-blocking, optionally IFF_VNET_HDR with TCP segmentation
 * offload), drains readable packets in batches into a caller-owned buffer from a uv_poll
 * watcher on the main loop and calls JS once per batch, and writes batches of packets (merging
 * TCP segments into super-packets when offload is on; offload.c holds those codecs).
 * No threads, no global state.
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
#include <sys/uio.h>
#include <unistd.h>

#include "offload.h"

/* Counters shared with JS through a Float64Array (TunDevice.offloadStats). */
enum { STAT_SUPER_READ, STAT_SEGMENTS_READ, STAT_READ_DROPPED, STAT_WRITES, STAT_PACKETS_WRITTEN, STAT_WRITE_REFUSED, STAT_COUNT };

/* Largest read on an IFF_VNET_HDR fd: a 64 KiB super-packet and its header. */
#define SCRATCH_SIZE (65536 + 64)

/* Reads per wake-up before the loop gets a turn (uv_poll is level-triggered: it wakes again). */
#define MAX_READS_PER_WAKE 256

/* Largest batch writeBatch takes (coalesce_packets' limit). */
#define MAX_WRITE_BATCH 256

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
  napi_ref stats_ref;
  uint8_t *buffer;
  uint32_t *lengths;
  double *stats;
  uint8_t *scratch; /* IFF_VNET_HDR reads land here before split_packet */
  uint32_t slot_size;
  uint32_t slots;
  napi_async_context context;
  int vnet;
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

/* open(name: string, multiQueue: boolean, offload: boolean) -> [fd, actualName, vnetHeader, tcpOffload] */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = {0};
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  bool multi = false;
  napi_get_value_bool(env, argv[1], &multi);
  bool offload = false;
  napi_get_value_bool(env, argv[2], &offload);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi ? IFF_MULTI_QUEUE : 0) | (offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, len < IFNAMSIZ ? len : IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "TUNSETIFF", err);
  }
  /* TSO needs checksum offload; without either the fd still carries (empty) virtio-net headers. */
  bool tso = offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
  napi_value result, fd_value, name_value, vnet_value, tso_value;
  CHECK(napi_create_array_with_length(env, 4, &result));
  CHECK(napi_create_int32(env, fd, &fd_value));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ), &name_value));
  CHECK(napi_get_boolean(env, offload, &vnet_value));
  CHECK(napi_get_boolean(env, tso, &tso_value));
  CHECK(napi_set_element(env, result, 0, fd_value));
  CHECK(napi_set_element(env, result, 1, name_value));
  CHECK(napi_set_element(env, result, 2, vnet_value));
  CHECK(napi_set_element(env, result, 3, tso_value));
  return result;
}

/* Hands the filled slots to JS; returns 0 when reading must stop (closed, or JS threw). */
static int deliver(void *ctx, uint32_t *count) {
  reader_t *reader = (reader_t *)ctx;
  napi_env env = reader->env;
  napi_value callback, global, argument, ignored;
  napi_get_reference_value(env, reader->callback, &callback);
  napi_get_global(env, &global);
  napi_create_uint32(env, *count, &argument);
  napi_make_callback(env, reader->context, global, callback, 1, &argument, &ignored);
  *count = 0;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return !pending && !reader->closing;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  reader_t *reader = (reader_t *)handle->data;
  if (reader->closing) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(reader->env, &scope) != napi_ok) return;
  slots_t out = {reader->buffer, reader->slot_size, reader->slots, reader->lengths};
  uint32_t count = 0;
  int alive = 1;
  for (int reads = 0; alive && reads < MAX_READS_PER_WAKE; reads++) {
    if (count == reader->slots) alive = deliver(reader, &count);
    if (!alive) break;
    if (!reader->vnet) {
      ssize_t n = read(reader->fd, reader->buffer + (size_t)count * reader->slot_size, reader->slot_size);
      if (n < 0) break; /* EAGAIN (drained) or an error the next wake-up reports again */
      reader->lengths[count++] = (uint32_t)n;
      continue;
    }
    ssize_t n = read(reader->fd, reader->scratch, SCRATCH_SIZE);
    if (n < 0) break;
    uint8_t gso = n > (ssize_t)VNET_HDR_LEN ? ((struct virtio_net_hdr *)reader->scratch)->gso_type : 0;
    int produced = split_packet(reader->scratch, (size_t)n, &out, &count, deliver, reader);
    if (produced < 0) reader->stats[STAT_READ_DROPPED]++;
    else if (produced == 0) alive = 0;
    else if (gso != VIRTIO_NET_HDR_GSO_NONE) {
      reader->stats[STAT_SUPER_READ]++;
      reader->stats[STAT_SEGMENTS_READ] += produced;
    }
  }
  if (alive && count > 0) deliver(reader, &count);
  napi_close_handle_scope(reader->env, scope);
  (void)status;
  (void)events;
}

/* Releases a reader's references, async context and memory (its poll handle is closed or was never started). */
static void reader_free(reader_t *reader) {
  napi_env env = reader->env;
  napi_delete_reference(env, reader->callback);
  napi_delete_reference(env, reader->buffer_ref);
  napi_delete_reference(env, reader->lengths_ref);
  napi_delete_reference(env, reader->stats_ref);
  napi_async_destroy(env, reader->context);
  free(reader->scratch);
  free(reader);
}

static void on_closed(uv_handle_t *handle) { reader_free((reader_t *)handle->data); }

static void reader_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

/* Reads a typed array argument of the expected type; 0 when it is something else. */
static int typed_arg(napi_env env, napi_value value, napi_typedarray_type expected, void **data, size_t *length) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) == napi_ok && type == expected;
}

/* startReading(fd, vnet, buffer: Buffer, lengths: Uint32Array, slotSize, stats: Float64Array, onBatch(count)) -> handle */
static napi_value tun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  reader_t *reader = calloc(1, sizeof *reader);
  if (!reader) return throw_errno(env, "startReading", ENOMEM);
  reader->env = env;
  reader->fd = int_arg(env, argv[0]);
  bool vnet = false;
  napi_get_value_bool(env, argv[1], &vnet);
  reader->vnet = vnet;
  reader->slot_size = (uint32_t)int_arg(env, argv[4]);
  size_t buffer_len = 0, lengths_len = 0, stats_len = 0;
  void *lengths_data = NULL, *stats_data = NULL;
  CHECK(napi_get_buffer_info(env, argv[2], (void **)&reader->buffer, &buffer_len));
  if (!typed_arg(env, argv[3], napi_uint32_array, &lengths_data, &lengths_len) || !typed_arg(env, argv[5], napi_float64_array, &stats_data, &stats_len) ||
      stats_len < STAT_COUNT || reader->slot_size == 0 || buffer_len < reader->slot_size) {
    free(reader);
    napi_throw_type_error(env, NULL, "startReading: lengths must be a Uint32Array, stats a Float64Array(6), slotSize positive and at most the buffer");
    return NULL;
  }
  reader->scratch = vnet ? malloc(SCRATCH_SIZE) : NULL;
  if (vnet && !reader->scratch) {
    free(reader);
    return throw_errno(env, "startReading", ENOMEM);
  }
  reader->lengths = (uint32_t *)lengths_data;
  reader->stats = (double *)stats_data;
  reader->slots = (uint32_t)(buffer_len / reader->slot_size);
  if (reader->slots > lengths_len) reader->slots = (uint32_t)lengths_len;
  CHECK(napi_create_reference(env, argv[6], 1, &reader->callback));
  CHECK(napi_create_reference(env, argv[2], 1, &reader->buffer_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &reader->lengths_ref));
  CHECK(napi_create_reference(env, argv[5], 1, &reader->stats_ref));
  napi_value resource_name;
  CHECK(napi_create_string_utf8(env, "TunRead", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(napi_async_init(env, NULL, resource_name, &reader->context));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  reader->poll.data = reader;
  int rc = uv_poll_init(loop, &reader->poll, reader->fd);
  if (rc != 0) {
    reader_free(reader);
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
  rc = uv_poll_start(&reader->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    reader->closing = 1;
    uv_close((uv_handle_t *)&reader->poll, on_closed); /* an initialised handle is freed only once libuv lets go of it */
    napi_throw_error(env, NULL, uv_strerror(rc));
    return NULL;
  }
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

/* The batch arguments shared by writeBatch and coalesce: buffer, lengths, slotSize, count. */
typedef struct {
  uint8_t *packets[MAX_WRITE_BATCH];
  uint32_t lengths[MAX_WRITE_BATCH];
  uint32_t count;
} batch_t;

static int batch_args(napi_env env, napi_value *argv, batch_t *batch) {
  uint8_t *buffer;
  size_t buffer_len = 0, lengths_len = 0;
  void *lengths = NULL;
  if (napi_get_buffer_info(env, argv[0], (void **)&buffer, &buffer_len) != napi_ok || !typed_arg(env, argv[1], napi_uint32_array, &lengths, &lengths_len)) return 0;
  int32_t slot_size = int_arg(env, argv[2]), count = int_arg(env, argv[3]);
  if (slot_size <= 0 || count < 0 || count > MAX_WRITE_BATCH || (size_t)count > lengths_len) return 0;
  for (int32_t i = 0; i < count; i++) {
    size_t offset = (size_t)i * (size_t)slot_size, length = ((uint32_t *)lengths)[i];
    if (length > (size_t)slot_size || offset + length > buffer_len) return 0;
    batch->packets[i] = buffer + offset;
    batch->lengths[i] = (uint32_t)length;
  }
  batch->count = (uint32_t)count;
  return 1;
}

/*
 * writeBatch(fd, vnet, buffer, lengths: Uint32Array, slotSize, count, stats: Float64Array) -> packets the kernel took.
 * Packet i is lengths[i] bytes at i * slotSize. With vnet, TCP segments are merged (offload.c).
 */
static napi_value tun_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd = int_arg(env, argv[0]);
  bool vnet = false;
  napi_get_value_bool(env, argv[1], &vnet);
  batch_t batch;
  double *stats;
  size_t stats_len = 0;
  if (!batch_args(env, argv + 2, &batch) || !typed_arg(env, argv[6], napi_float64_array, (void **)&stats, &stats_len) || stats_len < STAT_COUNT) {
    napi_throw_type_error(env, NULL, "writeBatch: bad buffer, lengths, slotSize, count or stats");
    return NULL;
  }
  uint32_t accepted = 0;
  if (!vnet) {
    for (uint32_t i = 0; i < batch.count; i++) {
      stats[STAT_WRITES]++;
      if (write(fd, batch.packets[i], batch.lengths[i]) == (ssize_t)batch.lengths[i]) accepted++;
    }
  } else {
    gro_write_t writes[MAX_WRITE_BATCH];
    int32_t next[MAX_WRITE_BATCH];
    struct iovec iov[GRO_MAX_SEGMENTS + 1];
    uint32_t planned = coalesce_packets(batch.packets, batch.lengths, batch.count, writes, next);
    for (uint32_t k = 0; k < planned; k++) {
      int used = fill_iov(&writes[k], batch.packets, batch.lengths, next, iov);
      stats[STAT_WRITES]++;
      if (writev(fd, iov, used) > 0) accepted += writes[k].segments;
    }
  }
  stats[STAT_PACKETS_WRITTEN] += accepted;
  stats[STAT_WRITE_REFUSED] += batch.count - accepted;
  napi_value result;
  CHECK(napi_create_uint32(env, accepted, &result));
  return result;
}

/* Copies iovecs into one new Buffer (what a write would hand the kernel). */
static napi_value gather(napi_env env, const struct iovec *iov, int used) {
  size_t total = 0;
  for (int i = 0; i < used; i++) total += iov[i].iov_len;
  uint8_t *data;
  napi_value result;
  if (napi_create_buffer(env, total, (void **)&data, &result) != napi_ok) return NULL;
  for (int i = 0; i < used; i++) {
    memcpy(data, iov[i].iov_base, iov[i].iov_len);
    data += iov[i].iov_len;
  }
  return result;
}

/* segment(packet: Buffer with its virtio-net header, slotSize) -> Buffer[] or null: split_packet without a device */
static napi_value tun_segment(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *input;
  size_t input_len;
  CHECK(napi_get_buffer_info(env, argv[0], (void **)&input, &input_len));
  int32_t slot_size = int_arg(env, argv[1]);
  if (slot_size <= 0) {
    napi_throw_range_error(env, NULL, "segment: slotSize must be positive");
    return NULL;
  }
  /* A super-packet splits into at most payload / gso_size + 1 segments; anything else into one packet. */
  struct virtio_net_hdr hdr = {0};
  if (input_len > VNET_HDR_LEN) memcpy(&hdr, input, VNET_HDR_LEN);
  uint16_t gso_size = hdr.gso_size;
  uint32_t slots = gso_size ? (uint32_t)(input_len / gso_size) + 2 : 1;
  uint8_t *copy = malloc(input_len ? input_len : 1), *buffer = malloc((size_t)slots * (size_t)slot_size);
  uint32_t *lengths = malloc(slots * sizeof *lengths);
  napi_value result = NULL;
  if (copy && buffer && lengths) {
    memcpy(copy, input, input_len);
    slots_t out = {buffer, (uint32_t)slot_size, slots, lengths};
    uint32_t count = 0;
    int produced = split_packet(copy, input_len, &out, &count, NULL, NULL);
    if (produced < 0) {
      napi_get_null(env, &result);
    } else {
      napi_create_array_with_length(env, count, &result);
      for (uint32_t i = 0; i < count; i++) {
        struct iovec one = {buffer + (size_t)i * (size_t)slot_size, lengths[i]};
        napi_set_element(env, result, i, gather(env, &one, 1));
      }
    }
  }
  free(copy);
  free(buffer);
  free(lengths);
  if (!result) return throw_errno(env, "segment", ENOMEM);
  return result;
}

/* coalesce(buffer, lengths: Uint32Array, slotSize, count) -> Buffer[]: the writes writeBatch would make (headers rewritten in place) */
static napi_value tun_coalesce(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_t batch;
  if (!batch_args(env, argv, &batch)) {
    napi_throw_type_error(env, NULL, "coalesce: bad buffer, lengths, slotSize or count");
    return NULL;
  }
  gro_write_t writes[MAX_WRITE_BATCH];
  int32_t next[MAX_WRITE_BATCH];
  struct iovec iov[GRO_MAX_SEGMENTS + 1];
  uint32_t planned = coalesce_packets(batch.packets, batch.lengths, batch.count, writes, next);
  napi_value result;
  CHECK(napi_create_array_with_length(env, planned, &result));
  for (uint32_t k = 0; k < planned; k++) {
    int used = fill_iov(&writes[k], batch.packets, batch.lengths, next, iov);
    CHECK(napi_set_element(env, result, k, gather(env, iov, used)));
  }
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
      {"writeBatch", NULL, tun_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"segment", NULL, tun_segment, NULL, NULL, NULL, napi_default, NULL},
      {"coalesce", NULL, tun_coalesce, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, tun_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

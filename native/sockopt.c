/*
 * Socket options Node has no API for, on outgoing sockets (Linux):
 *
 * openSocket(family, kind, mark, device) -> fd: a non-blocking, close-on-exec TCP or UDP socket
 *   of family 4 or 6 with SO_MARK set to `mark` (when not 0; needs CAP_NET_ADMIN) and bound to
 *   the interface `device` with SO_BINDTODEVICE (when not empty; needs CAP_NET_RAW before Linux
 *   5.7). Both must be set before connect, so the socket is made here and handed to net.Socket
 *   or dgram, which connect it. Throws an Error naming the option and errno on failure.
 *
 * setKeepAlive(fd, idleSeconds, intervalSeconds, probes): SO_KEEPALIVE on, TCP_KEEPIDLE,
 *   TCP_KEEPINTVL and TCP_KEEPCNT (libuv sets the idle time only, and a 1 s interval).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "napi-helpers.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

/* Throws "sockopt: WHAT: strerror(errno)" with `code` set to the errno name's number. */
static napi_value throw_errno(napi_env env, const char *what, int error) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* Reads argument `index` as an int32 within [min, max]; throws a TypeError naming `usage` otherwise. */
static int int_argument(napi_env env, napi_value value, int32_t min, int32_t max, int32_t *out, const char *usage) {
  if (napi_get_value_int32(env, value, out) == napi_ok && *out >= min && *out <= max) return 1;
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

static const char open_usage[] = "sockopt: openSocket(family 4|6, kind 'tcp'|'udp', mark uint32 as int32, device string)";

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int32_t family = 0, mark = 0;
  char kind[4] = {0}, device[32] = {0};
  size_t kind_length = 0, device_length = 0;
  if (argc < 4 || !int_argument(env, argv[0], 4, 6, &family, open_usage) ||
      !int_argument(env, argv[2], INT32_MIN, INT32_MAX, &mark, open_usage))
    return NULL;
  if ((family != 4 && family != 6) ||
      napi_get_value_string_utf8(env, argv[1], kind, sizeof kind, &kind_length) != napi_ok ||
      (strcmp(kind, "tcp") != 0 && strcmp(kind, "udp") != 0) ||
      napi_get_value_string_utf8(env, argv[3], device, sizeof device, &device_length) != napi_ok || device_length >= 16) {
    napi_throw_type_error(env, NULL, open_usage);
    return NULL;
  }
#ifdef __linux__
  int type = strcmp(kind, "tcp") == 0 ? SOCK_STREAM : SOCK_DGRAM;
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "routing-mark (SO_MARK, needs CAP_NET_ADMIN)", error);
  }
  if (device_length > 0 && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)device_length + 1) != 0) {
    int error = errno;
    close(fd);
    char what[96];
    snprintf(what, sizeof what, "interface-name %s (SO_BINDTODEVICE)", device);
    return throw_errno(env, what, error);
  }
  napi_create_int32(env, fd, &result);
  return result;
#else
  napi_throw_error(env, NULL, "sockopt: routing-mark and interface-name are only supported on Linux");
  return NULL;
#endif
}

static const char keepalive_usage[] = "sockopt: setKeepAlive(fd, idleSeconds 1-32767, intervalSeconds 1-32767, probes 1-127)";

static napi_value set_keepalive(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int32_t fd = -1, idle = 0, interval = 0, probes = 0;
  if (argc < 4 || !int_argument(env, argv[0], 0, INT32_MAX, &fd, keepalive_usage) ||
      !int_argument(env, argv[1], 1, 32767, &idle, keepalive_usage) ||
      !int_argument(env, argv[2], 1, 32767, &interval, keepalive_usage) ||
      !int_argument(env, argv[3], 1, 127, &probes, keepalive_usage))
    return NULL;
#ifdef __linux__
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0) return throw_errno(env, "SO_KEEPALIVE", errno);
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0) return throw_errno(env, "TCP_KEEPIDLE", errno);
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0) return throw_errno(env, "TCP_KEEPINTVL", errno);
  if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes) != 0) return throw_errno(env, "TCP_KEEPCNT", errno);
  return NULL;
#else
  napi_throw_error(env, NULL, "sockopt: keep-alive intervals are only supported on Linux");
  return NULL;
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  export_function(env, exports, "openSocket", open_socket);
  return export_function(env, exports, "setKeepAlive", set_keepalive);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

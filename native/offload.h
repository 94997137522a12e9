/*
 * TUN offload codecs (tun.md §4.3, "GSO/GRO"): with IFF_VNET_HDR every packet crossing the
 * TUN fd carries a struct virtio_net_hdr. Reads may return TCP super-packets (TSO, up to 64 KiB)
 * and packets whose checksum the kernel left for the device to finish; writes may hand the
 * kernel one super-packet made of many consecutive TCP segments of one flow. These functions
 * are pure: they work on memory only and never touch a file descriptor.
 */
#ifndef SLUICE_OFFLOAD_H
#define SLUICE_OFFLOAD_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/** Bytes of the virtio-net header in front of every packet on an IFF_VNET_HDR fd. */
#define VNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr))

/** Most segments merged into one super-packet. */
#define GRO_MAX_SEGMENTS 64

/** Where split_packet puts its output: fixed-size slots and their lengths. */
typedef struct {
  uint8_t *base;     /* slot i starts at base + i * slot_size */
  uint32_t slot_size;
  uint32_t slots;
  uint32_t *lengths; /* length of the packet in slot i */
} slots_t;

/** Called when every slot is full; delivers them and resets *count to 0. Returns 0 to stop. */
typedef int (*flush_fn)(void *ctx, uint32_t *count);

/**
 * Turns one packet read from an IFF_VNET_HDR fd (header included, `n` bytes) into plain IP
 * packets with complete checksums, appended to `out` from slot *count on (calling `flush` when
 * the slots run out). Returns the number of packets produced, 0 when `flush` asked to stop,
 * -1 when the packet is malformed or does not fit a slot (nothing is produced then).
 */
int split_packet(uint8_t *in, size_t n, slots_t *out, uint32_t *count, flush_fn flush, void *ctx);

/** One write the coalescer plans: a virtio-net header and the iovecs that follow it. */
typedef struct {
  struct virtio_net_hdr hdr;
  uint32_t first;    /* index of the packet whose headers lead */
  uint32_t segments; /* packets merged (1: written as it is) */
} gro_write_t;

/**
 * Groups `count` plain IP packets (packet i at packets[i], lengths[i] bytes) into writes:
 * consecutive TCP segments of one flow whose checksums verify become one super-packet (the
 * leading packet's IP and TCP headers are rewritten in place); everything else is written as
 * it is. Per-flow order is kept. `writes` and `next` need room for `count` entries. Returns the
 * number of writes; fill_iov lays each one out.
 */
uint32_t coalesce_packets(uint8_t *const *packets, const uint32_t *lengths, uint32_t count, gro_write_t *writes, int32_t *next);

/**
 * Lays out write `w` as iovecs (header, the leading packet, then the payloads of the packets
 * merged into it); `iov` needs room for GRO_MAX_SEGMENTS + 1 entries. Returns the iovec count.
 */
int fill_iov(gro_write_t *w, uint8_t *const *packets, const uint32_t *lengths, const int32_t *next, struct iovec *iov);

#endif

/* TUN offload codecs: splitting TSO super-packets, finishing checksums, merging TCP segments. */
#include "offload.h"

#include <string.h>

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define MAX_IP_PACKET 65535u

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/*
 * One's-complement sum (RFC 1071) over words loaded in host order: the folded result, stored
 * back in host order, is the right checksum in network order on either endianness.
 */
static uint64_t sum_bytes(const uint8_t *p, size_t n, uint64_t acc) {
  while (n >= 4) {
    uint32_t word;
    memcpy(&word, p, 4);
    acc += word;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t half;
    memcpy(&half, p, 2);
    acc += half;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint8_t last[2] = {p[0], 0};
    uint16_t half;
    memcpy(&half, last, 2);
    acc += half;
  }
  return acc;
}

static uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

static void store_sum(uint8_t *at, uint16_t value) { memcpy(at, &value, 2); }

/* The TCP/UDP pseudo-header sum for an IPv4 or IPv6 packet carrying `l4_len` bytes of `proto`. */
static uint64_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4_len) {
  uint8_t tail[8] = {0};
  if (ip[0] >> 4 == 4) {
    tail[1] = proto;
    put16(tail + 2, l4_len);
    return sum_bytes(tail, 4, sum_bytes(ip + 12, 8, 0));
  }
  put32(tail, l4_len);
  tail[7] = proto;
  return sum_bytes(tail, 8, sum_bytes(ip + 8, 32, 0));
}

static void ipv4_header_checksum(uint8_t *ip) {
  ip[10] = ip[11] = 0;
  store_sum(ip + 10, (uint16_t)~fold(sum_bytes(ip, (size_t)(ip[0] & 0x0f) * 4, 0)));
}

static uint8_t *slot_at(slots_t *out, uint32_t i) { return out->base + (size_t)i * out->slot_size; }

/* Finishes a checksum the kernel left partial: the sum from csum_start on, stored at csum_offset. */
static int finish_checksum(uint8_t *packet, size_t len, const struct virtio_net_hdr *hdr) {
  size_t start = hdr->csum_start, at = start + hdr->csum_offset;
  if (at + 2 > len) return -1;
  uint16_t sum = (uint16_t)~fold(sum_bytes(packet + start, len - start, 0));
  store_sum(packet + at, sum ? sum : 0xffff);
  return 0;
}

/* Cuts a TCPv4/TCPv6 super-packet into gso_size segments with fresh lengths, IDs, sequence numbers and checksums. */
static int split_tcp(const uint8_t *packet, size_t len, const struct virtio_net_hdr *hdr, slots_t *out, uint32_t *count, flush_fn flush, void *ctx) {
  int v4 = packet[0] >> 4 == 4;
  size_t l4 = hdr->csum_start;
  if (len < 20 || (v4 ? (size_t)(packet[0] & 0x0f) * 4 != l4 : (packet[0] >> 4 != 6 || l4 < 40)) || l4 + 20 > len) return -1;
  size_t headers = l4 + (size_t)(packet[l4 + 12] >> 4) * 4;
  size_t mss = hdr->gso_size;
  if (headers > len || headers < l4 + 20 || mss == 0 || headers + mss > out->slot_size) return -1;
  size_t payload = len - headers;
  uint32_t seq = get32(packet + l4 + 4);
  uint16_t id = v4 ? get16(packet + 4) : 0;
  int produced = 0;
  for (size_t offset = 0; offset < payload; offset += mss) {
    if (*count == out->slots && (!flush || !flush(ctx, count))) return 0;
    size_t size = payload - offset < mss ? payload - offset : mss;
    size_t total = headers + size;
    uint8_t *segment = slot_at(out, *count);
    memcpy(segment, packet, headers);
    memcpy(segment + headers, packet + headers + offset, size);
    if (v4) {
      put16(segment + 2, (uint32_t)total);
      put16(segment + 4, (uint16_t)(id + produced));
      ipv4_header_checksum(segment);
    } else {
      put16(segment + 4, (uint32_t)(total - 40));
    }
    uint8_t *tcp = segment + l4;
    put32(tcp + 4, seq + (uint32_t)offset);
    if (offset + size < payload) tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (offset > 0) tcp[13] &= (uint8_t)~TCP_CWR;
    tcp[16] = tcp[17] = 0;
    store_sum(tcp + 16, (uint16_t)~fold(sum_bytes(tcp, total - l4, pseudo_sum(segment, 6, (uint32_t)(total - l4)))));
    out->lengths[(*count)++] = (uint32_t)total;
    produced++;
  }
  return produced;
}

int split_packet(uint8_t *in, size_t n, slots_t *out, uint32_t *count, flush_fn flush, void *ctx) {
  if (n <= VNET_HDR_LEN) return -1;
  struct virtio_net_hdr hdr;
  memcpy(&hdr, in, VNET_HDR_LEN);
  uint8_t *packet = in + VNET_HDR_LEN;
  size_t len = n - VNET_HDR_LEN;
  uint8_t gso = hdr.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) return split_tcp(packet, len, &hdr, out, count, flush, ctx);
  if (gso != VIRTIO_NET_HDR_GSO_NONE || len > out->slot_size) return -1;
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && finish_checksum(packet, len, &hdr) < 0) return -1;
  if (*count == out->slots && (!flush || !flush(ctx, count))) return 0;
  memcpy(slot_at(out, *count), packet, len);
  out->lengths[(*count)++] = (uint32_t)len;
  return 1;
}

/* What the coalescer knows of one packet. */
typedef struct {
  uint8_t tcp;       /* 0: not TCP; 1: TCP with known ports; 2: TCP-bearing fragment or extension header (ports unknown) */
  uint8_t mergeable; /* a plain ACK (or ACK+PSH) data segment with a valid checksum */
  uint8_t v4;
  uint16_t l4, headers;
  uint32_t payload;
} packet_info_t;

/* A write being built. */
typedef struct {
  uint32_t first, last, segments;
  uint32_t next_seq, total;
  uint16_t next_id;
  uint8_t open;
} group_t;

static packet_info_t inspect(const uint8_t *p, uint32_t len) {
  packet_info_t info = {0};
  if (len >= 20 && p[0] >> 4 == 4) {
    if (p[9] != 6) return info;
    info.v4 = 1;
    info.l4 = (uint16_t)((p[0] & 0x0f) * 4);
    if ((get16(p + 6) & 0x3fff) != 0 || info.l4 + 20u > len) {
      info.tcp = 2;
      return info;
    }
    info.tcp = 1;
    info.mergeable = info.l4 == 20 && get16(p + 2) == len;
  } else if (len >= 40 && p[0] >> 4 == 6) {
    if (p[6] == 17 || p[6] == 58) return info;
    info.tcp = 2;
    if (p[6] != 6 || len < 60) return info;
    info.tcp = 1;
    info.l4 = 40;
    info.mergeable = get16(p + 4) + 40u == len;
  } else {
    return info;
  }
  const uint8_t *tcp = p + info.l4;
  info.headers = (uint16_t)(info.l4 + (tcp[12] >> 4) * 4);
  if (info.headers < info.l4 + 20 || info.headers >= len || (tcp[13] & (uint8_t)~TCP_PSH) != TCP_ACK) info.mergeable = 0;
  if (!info.mergeable) return info;
  info.payload = len - info.headers;
  info.mergeable = fold(sum_bytes(tcp, len - info.l4, pseudo_sum(p, 6, len - info.l4))) == 0xffff;
  return info;
}

static int same_flow(const uint8_t *a, const uint8_t *b, const packet_info_t *ia, const packet_info_t *ib) {
  if (ia->v4 != ib->v4) return 0;
  if (ia->v4 ? memcmp(a + 12, b + 12, 8) : memcmp(a + 8, b + 8, 32)) return 0;
  if (ia->tcp == 2 || ib->tcp == 2) return 1;
  return memcmp(a + ia->l4, b + ib->l4, 4) == 0;
}

/* Whether packet b continues group g (led by packet a) as the next segment of the same super-packet. */
static int continues(const group_t *g, const uint8_t *a, const packet_info_t *ia, const uint8_t *b, const packet_info_t *ib, uint32_t gso_size) {
  if (!g->open || !ib->mergeable || ib->tcp != 1 || ia->tcp != 1 || ia->headers != ib->headers || ib->payload > gso_size) return 0;
  if (g->total + ib->payload > MAX_IP_PACKET || g->segments >= GRO_MAX_SEGMENTS) return 0;
  if (ia->v4 ? (a[1] != b[1] || a[8] != b[8] || (a[6] & 0x40) != (b[6] & 0x40) || get16(b + 4) != g->next_id)
             : (memcmp(a, b, 4) || a[7] != b[7]))
    return 0;
  const uint8_t *ta = a + ia->l4, *tb = b + ib->l4;
  return get32(tb + 4) == g->next_seq && memcmp(ta + 8, tb + 8, 4) == 0 && memcmp(ta + 14, tb + 14, 2) == 0 &&
         memcmp(ta + 20, tb + 20, ia->headers - ia->l4 - 20u) == 0;
}

/* Rewrites the leading packet's headers for a super-packet of `total` bytes and fills the virtio-net header. */
static void seal_group(uint8_t *lead, const packet_info_t *info, uint32_t total, uint8_t last_flags, gro_write_t *w) {
  if (info->v4) {
    put16(lead + 2, total);
    ipv4_header_checksum(lead);
  } else {
    put16(lead + 4, total - 40);
  }
  uint8_t *tcp = lead + info->l4;
  tcp[13] |= last_flags & TCP_PSH;
  tcp[16] = tcp[17] = 0;
  store_sum(tcp + 16, fold(pseudo_sum(lead, 6, total - info->l4)));
  w->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  w->hdr.gso_type = info->v4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  w->hdr.hdr_len = info->headers;
  w->hdr.gso_size = (uint16_t)info->payload;
  w->hdr.csum_start = info->l4;
  w->hdr.csum_offset = 16;
}

uint32_t coalesce_packets(uint8_t *const *packets, const uint32_t *lengths, uint32_t count, gro_write_t *writes, int32_t *next) {
  packet_info_t info[256];
  group_t groups[256];
  if (count > 256) count = 256;
  uint32_t planned = 0;
  for (uint32_t i = 0; i < count; i++) {
    info[i] = inspect(packets[i], lengths[i]);
    next[i] = -1;
    int joined = 0;
    if (info[i].tcp) {
      for (uint32_t k = planned; k-- > 0;) {
        uint32_t lead = groups[k].first;
        if (!info[lead].tcp || !same_flow(packets[lead], packets[i], &info[lead], &info[i])) continue;
        if (continues(&groups[k], packets[lead], &info[lead], packets[i], &info[i], info[lead].payload)) {
          group_t *g = &groups[k];
          next[g->last] = (int32_t)i;
          g->last = i;
          g->total += info[i].payload;
          g->next_seq += info[i].payload;
          g->next_id++;
          writes[k].segments = ++g->segments;
          if (info[i].payload < info[lead].payload || (packets[i][info[i].l4 + 13] & TCP_PSH)) g->open = 0;
          joined = 1;
        }
        break;
      }
    }
    if (joined) continue;
    group_t *g = &groups[planned];
    g->first = g->last = i;
    g->segments = 1;
    g->total = lengths[i];
    g->open = info[i].mergeable && !(packets[i][info[i].l4 + 13] & TCP_PSH);
    g->next_seq = g->open ? get32(packets[i] + info[i].l4 + 4) + info[i].payload : 0;
    g->next_id = (uint16_t)(g->open && info[i].v4 ? get16(packets[i] + 4) + 1 : 0);
    memset(&writes[planned], 0, sizeof writes[planned]);
    writes[planned].first = i;
    writes[planned].segments = 1;
    planned++;
  }
  for (uint32_t k = 0; k < planned; k++) {
    if (writes[k].segments < 2) continue;
    uint32_t lead = groups[k].first;
    seal_group(packets[lead], &info[lead], groups[k].total, packets[groups[k].last][info[groups[k].last].l4 + 13], &writes[k]);
  }
  return planned;
}

int fill_iov(gro_write_t *w, uint8_t *const *packets, const uint32_t *lengths, const int32_t *next, struct iovec *iov) {
  int used = 0;
  iov[used++] = (struct iovec){.iov_base = &w->hdr, .iov_len = VNET_HDR_LEN};
  uint32_t lead = w->first;
  uint32_t lead_len = w->segments > 1 ? w->hdr.hdr_len + (uint32_t)w->hdr.gso_size : lengths[lead];
  iov[used++] = (struct iovec){.iov_base = packets[lead], .iov_len = lead_len};
  for (int32_t i = next[lead]; i >= 0 && w->segments > 1; i = next[i]) {
    iov[used++] = (struct iovec){.iov_base = packets[i] + w->hdr.hdr_len, .iov_len = lengths[i] - w->hdr.hdr_len};
  }
  return used;
}

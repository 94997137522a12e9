/**
 * Pure IP packet helpers for the tunnel data path: addresses as IpWords without copying,
 * and TCP MSS clamping with the RFC 1624 incremental checksum update (tun.md §6.5).
 */
import { ipToBytes } from '../../common/ip.js';
import type { IpWords } from '../../route/match/ip-set.js';

const tcp = 6;
const mssOption = 2;

/** The destination address of an IPv4/IPv6 packet. */
export function destinationOf(packet: Buffer): IpWords {
  return addressAt(packet, packet[0]! >> 4 === 4 ? 16 : 24);
}

function addressAt(packet: Buffer, offset: number): IpWords {
  if (packet[0]! >> 4 === 4) return { family: 4, v4: packet.readUInt32BE(offset) };
  const v6 = new Uint32Array(4);
  for (let i = 0; i < 4; i++) v6[i] = packet.readUInt32BE(offset + i * 4);
  return { family: 6, v6 };
}

/** A map key for an address without allocating per packet: the IPv4 number, or the 16 IPv6 bytes as a latin1 string. */
export type AddressKey = number | string;

/** The key of a packet's source address. */
export function sourceKey(packet: Buffer): AddressKey {
  return packet[0]! >> 4 === 4 ? packet.readUInt32BE(12) : packet.toString('latin1', 8, 24);
}

/** The key of a packet's destination address. */
export function destinationKey(packet: Buffer): AddressKey {
  return packet[0]! >> 4 === 4 ? packet.readUInt32BE(16) : packet.toString('latin1', 24, 40);
}

/** The key of an IP literal, equal to the packet keys of the same address. */
export function addressKey(ip: string): AddressKey {
  const bytes = ipToBytes(ip);
  return bytes.length === 4 ? bytes.readUInt32BE(0) : bytes.toString('latin1');
}

/** True for a well-formed IPv4 or IPv6 header whose length field fits the buffer exactly. */
export function isIpPacket(packet: Buffer): boolean {
  const version = packet.length > 0 ? packet[0]! >> 4 : 0;
  if (version === 4) return packet.length >= 20 && (packet[0]! & 0x0f) >= 5 && packet.readUInt16BE(2) === packet.length;
  if (version === 6) return packet.length >= 40 && packet.readUInt16BE(4) + 40 === packet.length;
  return false;
}

/** The largest TCP MSS that fits a tunnel MTU: MTU minus the IP and TCP headers. */
export function mssFor(mtu: number, family: 4 | 6): number {
  return mtu - (family === 4 ? 40 : 60);
}

/**
 * Lowers the MSS option of a TCP SYN (or SYN-ACK) in place to `mss4`/`mss6`, fixing the TCP
 * checksum incrementally. Other packets, IPv4 fragments and IPv6 packets with extension
 * headers are left alone. Returns true when the packet changed.
 */
export function clampMss(packet: Buffer, mss4: number, mss6: number): boolean {
  const version = packet[0]! >> 4;
  let offset: number;
  let max: number;
  if (version === 4) {
    if (packet[9] !== tcp || (packet.readUInt16BE(6) & 0x1fff) !== 0) return false;
    offset = (packet[0]! & 0x0f) * 4;
    max = mss4;
  } else if (version === 6) {
    if (packet[6] !== tcp) return false;
    offset = 40;
    max = mss6;
  } else {
    return false;
  }
  if (packet.length < offset + 20 || (packet[offset + 13]! & 0x02) === 0) return false;
  const end = Math.min(packet.length, offset + (packet[offset + 12]! >> 4) * 4);
  let at = offset + 20;
  while (at < end) {
    const kind = packet[at]!;
    if (kind === 0) return false;
    if (kind === 1) {
      at++;
      continue;
    }
    const length = packet[at + 1];
    if (length === undefined || length < 2 || at + length > end) return false;
    if (kind === mssOption && length === 4) {
      const old = packet.readUInt16BE(at + 2);
      if (old <= max) return false;
      packet.writeUInt16BE(max, at + 2);
      // An MSS behind an odd number of NOPs straddles two checksum words: its bytes count swapped.
      const odd = (at + 2 - offset) % 2 === 1;
      const [before, after] = odd ? [swapBytes(old), swapBytes(max)] : [old, max];
      packet.writeUInt16BE(updateChecksum(packet.readUInt16BE(offset + 16), before, after), offset + 16);
      return true;
    }
    at += length;
  }
  return false;
}

/** RFC 1624 eqn. 3: the checksum after one 16-bit word changed from `old` to `now`. */
export function updateChecksum(checksum: number, old: number, now: number): number {
  let sum = (~checksum & 0xffff) + (~old & 0xffff) + now;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function swapBytes(word: number): number {
  return ((word & 0xff) << 8) | (word >>> 8);
}

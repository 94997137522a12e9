import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressKey, clampMss, destinationKey, destinationOf, isIpPacket, mssFor, sourceKey, updateChecksum } from '../../src/protocol/tun/packet.js';

/** The TCP checksum computed from scratch over the pseudo-header and segment (the reference). */
function tcpChecksum(packet: Buffer): number {
  const v4 = packet[0]! >> 4 === 4;
  const offset = v4 ? (packet[0]! & 0x0f) * 4 : 40;
  const segment = Buffer.from(packet.subarray(offset));
  segment.writeUInt16BE(0, 16);
  const pseudo = v4
    ? Buffer.concat([packet.subarray(12, 20), Buffer.from([0, 6, segment.length >> 8, segment.length & 0xff])])
    : Buffer.concat([packet.subarray(8, 40), Buffer.from([0, 0, segment.length >> 8, segment.length & 0xff, 0, 0, 0, 6])]);
  const all = Buffer.concat([pseudo, segment, Buffer.alloc(segment.length % 2)]);
  let sum = 0;
  for (let i = 0; i < all.length; i += 2) sum += all.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A TCP SYN with an MSS option among NOPs and a timestamp option, then a payload. */
function synPacket(family: 4 | 6, mss: number, nops: number, payload: Buffer, flags = 0x02): Buffer {
  const options = Buffer.concat([Buffer.alloc(nops, 1), Buffer.from([2, 4, mss >> 8, mss & 0xff]), Buffer.from([8, 10, 1, 2, 3, 4, 5, 6, 7, 8])]);
  const padded = Buffer.concat([options, Buffer.alloc((4 - (options.length % 4)) % 4)]);
  const tcp = Buffer.concat([Buffer.alloc(20), padded, payload]);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(443, 2);
  tcp[12] = ((20 + padded.length) / 4) << 4;
  tcp[13] = flags;
  const header = Buffer.alloc(family === 4 ? 20 : 40);
  if (family === 4) {
    header[0] = 0x45;
    header.writeUInt16BE(20 + tcp.length, 2);
    header[8] = 64;
    header[9] = 6;
    header.set([10, 66, 0, 2], 12);
    header.set([203, 0, 113, 10], 16);
  } else {
    header[0] = 0x60;
    header.writeUInt16BE(tcp.length, 4);
    header[6] = 6;
    header[7] = 64;
    header[23] = 2;
    header[39] = 10;
  }
  const packet = Buffer.concat([header, tcp]);
  packet.writeUInt16BE(tcpChecksum(packet), header.length + 16);
  return packet;
}

describe('IP packet helpers', () => {
  it('reads addresses and checks header lengths', () => {
    const packet = synPacket(4, 1460, 0, Buffer.alloc(0));
    expect(isIpPacket(packet)).toBe(true);
    expect(sourceKey(packet)).toBe(addressKey('10.66.0.2'));
    expect(destinationKey(packet)).toBe(addressKey('203.0.113.10'));
    expect(destinationOf(packet)).toEqual({ family: 4, v4: 0xcb00710a });
    expect(isIpPacket(packet.subarray(0, packet.length - 1)), 'length field larger than the packet').toBe(false);
    expect(isIpPacket(Buffer.from([0x45]))).toBe(false);
    const six = synPacket(6, 1440, 0, Buffer.alloc(0));
    expect(isIpPacket(six)).toBe(true);
    expect(destinationOf(six)).toEqual({ family: 6, v6: new Uint32Array([0, 0, 0, 10]) });
    expect(destinationKey(six)).toBe(addressKey('::a'));
    expect(sourceKey(six)).toBe(addressKey('::2'));
  });

  it('clamps the MSS of SYNs to the tunnel MTU and keeps the checksum exact (IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(fc.constantFrom(4 as const, 6 as const), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 41 }), fc.boolean(), (family, mss, nops, payload, synAck) => {
        const packet = synPacket(family, mss, nops, Buffer.from(payload), synAck ? 0x12 : 0x02);
        const limit = mssFor(1420, family);
        const changed = clampMss(packet, mssFor(1420, 4), mssFor(1420, 6));
        const at = (family === 4 ? 20 : 40) + 20 + nops + 2;
        expect(changed).toBe(mss > limit);
        expect(packet.readUInt16BE(at)).toBe(Math.min(mss, limit));
        expect(packet.readUInt16BE((family === 4 ? 20 : 40) + 16)).toBe(tcpChecksum(packet));
      }),
    );
  });

  it('leaves non-SYN segments, fragments and truncated options alone', () => {
    const ack = synPacket(4, 9000, 0, Buffer.alloc(0), 0x10);
    expect(clampMss(ack, 1380, 1360)).toBe(false);
    const fragment = synPacket(4, 9000, 0, Buffer.alloc(0));
    fragment.writeUInt16BE(0x0001, 6);
    expect(clampMss(fragment, 1380, 1360)).toBe(false);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
        const packet = Buffer.from(bytes);
        expect(() => clampMss(packet, 1380, 1360)).not.toThrow();
      }),
    );
  });

  it('updates a checksum incrementally exactly as a full recomputation would (RFC 1624)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 20 }), fc.nat(19), fc.integer({ min: 0, max: 0xffff }), (words, pick, value) => {
        const i = pick % words.length;
        const full = (list: number[]): number => {
          let sum = list.reduce((a, b) => a + b, 0);
          while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
          return ~sum & 0xffff;
        };
        const before = full(words);
        const after = [...words];
        after[i] = value;
        const incremental = updateChecksum(before, words[i]!, value);
        // 0x0000 and 0xffff are the same one's-complement number.
        expect(incremental % 0xffff).toBe(full(after) % 0xffff);
      }),
    );
  });
});

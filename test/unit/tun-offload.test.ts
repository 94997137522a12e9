/**
 * The TUN offload codecs in the addon (native/offload.c): cutting kernel TSO super-packets into
 * segments, finishing partial checksums, and merging consecutive TCP segments of a flow into
 * one super-packet for the kernel. Checksums here are computed independently of the addon.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tunAddon } from '../../src/protocol/tun/native.js';

const addon = tunAddon();
const slotSize = 1600;
const vnetHeaderLength = 10;
const gso = { none: 0, tcpv4: 1, tcpv6: 4 };
const needsChecksum = 1;
const flag = { fin: 0x01, syn: 0x02, psh: 0x08, ack: 0x10, cwr: 0x80 };

function sum16(data: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < data.length; i += 2) acc += data.readUInt16BE(i);
  if (data.length % 2) acc += data[data.length - 1]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

function pseudoSum(packet: Buffer, protocol: number, l4Length: number): number {
  const v4 = packet[0]! >> 4 === 4;
  const addresses = v4 ? packet.subarray(12, 20) : packet.subarray(8, 40);
  return sum16(addresses) + protocol + (l4Length >>> 16) + (l4Length & 0xffff);
}

const l4Offset = (packet: Buffer): number => (packet[0]! >> 4 === 4 ? (packet[0]! & 0x0f) * 4 : 40);

/** True when the packet's transport checksum (TCP or UDP) verifies. */
function transportChecksumValid(packet: Buffer, protocol = 6): boolean {
  const l4 = l4Offset(packet);
  return fold(pseudoSum(packet, protocol, packet.length - l4) + sum16(packet.subarray(l4))) === 0xffff;
}

function ipv4HeaderValid(packet: Buffer): boolean {
  return fold(sum16(packet.subarray(0, 20))) === 0xffff;
}

interface Segment {
  v6: boolean;
  source: number;
  sourcePort: number;
  seq: number;
  ack: number;
  id: number;
  flags: number;
  window: number;
  options: Buffer;
  payload: Buffer;
}

/** A TCP segment with valid checksums, from 10.0.0.<source> or fd00::<source> to a fixed peer. */
function tcpPacket(s: Segment): Buffer {
  const ipLength = s.v6 ? 40 : 20;
  const tcpLength = 20 + s.options.length;
  const packet = Buffer.alloc(ipLength + tcpLength + s.payload.length);
  if (s.v6) {
    packet.writeUInt32BE(0x60012345, 0);
    packet.writeUInt16BE(tcpLength + s.payload.length, 4);
    packet[6] = 6;
    packet[7] = 64;
    packet[23] = s.source;
    packet[8] = packet[24] = 0xfd;
    packet[39] = 200;
  } else {
    packet[0] = 0x45;
    packet.writeUInt16BE(packet.length, 2);
    packet.writeUInt16BE(s.id & 0xffff, 4);
    packet.writeUInt16BE(0x4000, 6);
    packet[8] = 64;
    packet[9] = 6;
    packet.set([10, 0, 0, s.source, 203, 0, 113, 10], 12);
    packet.writeUInt16BE(~fold(sum16(packet.subarray(0, 20))) & 0xffff, 10);
  }
  const tcp = packet.subarray(ipLength);
  tcp.writeUInt16BE(s.sourcePort, 0);
  tcp.writeUInt16BE(8080, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.ack >>> 0, 8);
  tcp[12] = (tcpLength / 4) << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(s.window, 14);
  s.options.copy(tcp, 20);
  s.payload.copy(tcp, tcpLength);
  tcp.writeUInt16BE(~fold(pseudoSum(packet, 6, tcp.length) + sum16(tcp)) & 0xffff, 16);
  return packet;
}

/** A flow's run of segments: full-size ones, then a shorter last one, PSH on the last when asked. */
function flowSegments(v6: boolean, source: number, mss: number, count: number, lastSize: number, push: boolean, seq: number, id: number): Buffer[] {
  const options = Buffer.from([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
  return Array.from({ length: count }, (_, i) => {
    const size = i === count - 1 ? lastSize : mss;
    const payload = Buffer.alloc(size, (source * 31 + i) & 0xff);
    if (size >= 2) payload.writeUInt16BE(i, 0);
    const flags = flag.ack | (push && i === count - 1 ? flag.psh : 0);
    return tcpPacket({ v6, source, sourcePort: 40000 + source, seq: seq + i * mss, ack: 77, id: id + i, flags, window: 512, options, payload });
  });
}

function batchOf(packets: Buffer[]): { buffer: Buffer; lengths: Uint32Array } {
  const buffer = Buffer.alloc(slotSize * packets.length);
  const lengths = new Uint32Array(packets.length);
  packets.forEach((packet, i) => {
    packet.copy(buffer, i * slotSize);
    lengths[i] = packet.length;
  });
  return { buffer, lengths };
}

/** What the kernel would make of the writes: super-packets cut into segments, plain packets as they are. */
function kernelView(writes: Buffer[]): Buffer[] {
  return writes.flatMap((write) => {
    if (write[1] === gso.none) {
      expect(write.subarray(0, vnetHeaderLength).equals(Buffer.alloc(vnetHeaderLength))).toBe(true);
      return [write.subarray(vnetHeaderLength)];
    }
    const segments = addon.segment(write, slotSize);
    expect(segments).not.toBeNull();
    return segments!;
  });
}

const sourceKey = (packet: Buffer): number => (packet[0]! >> 4 === 4 ? packet[15]! : packet[23]!);

/** Expected number of super-packets for a run of segments: as many as 64 segments and a 64 KiB IP packet allow. */
function expectedWrites(packets: Buffer[], headerLength: number): number {
  let writes = 0;
  let total = 0;
  let segments = 0;
  for (const packet of packets) {
    const payload = packet.length - headerLength;
    if (segments === 0 || segments === 64 || total + payload > 65535) {
      writes++;
      total = packet.length;
      segments = 1;
    } else {
      total += payload;
      segments++;
    }
  }
  return writes;
}

const flowArbitrary = fc.record({
  v6: fc.boolean(),
  mss: fc.integer({ min: 200, max: 1400 }),
  count: fc.integer({ min: 1, max: 60 }),
  lastSize: fc.integer({ min: 1, max: 1400 }),
  push: fc.boolean(),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  id: fc.integer({ min: 0, max: 0xffff }),
});

describe('TUN offload: merging TCP segments for the kernel (GRO)', () => {
  it('two interleaved flows come back from the kernel exactly as sent, in order, in as few super-packets as 64 KiB allows', () => {
    fc.assert(
      fc.property(flowArbitrary, flowArbitrary, fc.array(fc.boolean(), { minLength: 120, maxLength: 120 }), (a, b, picks) => {
        const flows = [a, b].map((f, i) => flowSegments(f.v6, i + 1, f.mss, f.count, Math.min(f.lastSize, f.mss), f.push, f.seq, f.id));
        const queues = flows.map((flow) => [...flow]);
        const interleaved: Buffer[] = [];
        for (let i = 0; queues[0]!.length + queues[1]!.length > 0; i++) {
          const preferred = picks[i % picks.length]! ? 0 : 1;
          interleaved.push((queues[preferred]!.length ? queues[preferred]! : queues[1 - preferred]!).shift()!);
        }
        const originals = interleaved.map((packet) => Buffer.from(packet));
        const { buffer, lengths } = batchOf(interleaved);
        const writes = addon.coalesce(buffer, lengths, slotSize, interleaved.length);
        const delivered = kernelView(writes);
        for (const source of [1, 2]) {
          const got = delivered.filter((p) => sourceKey(p) === source);
          const sent = originals.filter((p) => sourceKey(p) === source);
          expect(got.map((p) => p.length)).toEqual(sent.map((p) => p.length));
          expect(Buffer.concat(got).equals(Buffer.concat(sent)), `flow ${source} delivered byte for byte`).toBe(true);
        }
        const headerLength = (f: { v6: boolean }): number => (f.v6 ? 40 : 20) + 32;
        expect(writes.length).toBe(expectedWrites(flows[0]!, headerLength(a)) + expectedWrites(flows[1]!, headerLength(b)));
        for (const write of writes) {
          if (write[1] === gso.none) continue;
          const packet = write.subarray(vnetHeaderLength);
          const v4 = packet[0]! >> 4 === 4;
          const l4 = v4 ? 20 : 40;
          expect(write[0]).toBe(needsChecksum);
          expect(write[1]).toBe(v4 ? gso.tcpv4 : gso.tcpv6);
          expect(write.readUInt16LE(2)).toBe(l4 + 32);
          expect(write.readUInt16LE(6)).toBe(l4);
          expect(write.readUInt16LE(8)).toBe(16);
          expect(v4 ? packet.readUInt16BE(2) : packet.readUInt16BE(4) + 40).toBe(packet.length);
          if (v4) expect(ipv4HeaderValid(packet)).toBe(true);
          // A partial checksum: the folded pseudo-header sum over the whole TCP length, for the kernel to finish.
          expect(packet.readUInt16BE(l4 + 16)).toBe(fold(pseudoSum(packet, 6, packet.length - l4)));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a segment whose checksum fails is written alone and untouched; the kernel then drops it', () => {
    const flow = flowSegments(false, 3, 1000, 6, 1000, false, 1000, 5);
    flow[3]![100] ^= 0x40;
    const originals = flow.map((packet) => Buffer.from(packet));
    const { buffer, lengths } = batchOf(flow);
    const writes = addon.coalesce(buffer, lengths, slotSize, flow.length);
    expect(writes.map((write) => write[1])).toEqual([gso.tcpv4, gso.none, gso.tcpv4]);
    expect(writes[1]!.subarray(vnetHeaderLength)).toEqual(originals[3]);
    expect(kernelView(writes)).toEqual(originals);
  });

  it('SYN, FIN, pure ACKs, UDP, a PSH in the middle, a gap in sequence or IP ID, and another ack split runs where the kernel would', () => {
    const base = flowSegments(false, 4, 1000, 3, 1000, false, 1, 1);
    const fin = tcpPacket({ v6: false, source: 4, sourcePort: 40004, seq: 3001, ack: 77, id: 4, flags: flag.ack | flag.fin, window: 512, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]), payload: Buffer.alloc(10, 1) });
    const gap = flowSegments(false, 5, 1000, 4, 1000, false, 1, 1);
    gap.splice(2, 1);
    const idGap = flowSegments(false, 6, 1000, 3, 1000, false, 1, 1);
    const otherAck = [...flowSegments(false, 7, 1000, 2, 1000, false, 1, 1), tcpPacket({ v6: false, source: 7, sourcePort: 40007, seq: 2001, ack: 78, id: 3, flags: flag.ack, window: 512, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]), payload: Buffer.alloc(1000, 2) })];
    const middlePush = flowSegments(false, 8, 1000, 2, 1000, true, 1, 1).concat(flowSegments(false, 8, 1000, 2, 1000, false, 2001, 3));
    const udp = Buffer.from(flowSegments(false, 9, 100, 1, 100, false, 1, 1)[0]!);
    udp[9] = 17;
    idGap[2] = tcpPacket({ v6: false, source: 6, sourcePort: 40006, seq: 2001, ack: 77, id: 9, flags: flag.ack, window: 512, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]), payload: Buffer.alloc(1000, 3) });
    const packets = [...base, fin, ...gap, ...idGap, ...otherAck, ...middlePush, udp];
    const originals = packets.map((packet) => Buffer.from(packet));
    const { buffer, lengths } = batchOf(packets);
    const writes = addon.coalesce(buffer, lengths, slotSize, packets.length);
    const segmentsPerWrite = writes.map((write) => (write[1] === gso.none ? 1 : addon.segment(write, slotSize)!.length));
    expect(segmentsPerWrite).toEqual([3, 1, 2, 1, 2, 1, 2, 1, 2, 2, 1]);
    expect(kernelView(writes)).toEqual(originals);
  });
});

describe('TUN offload: reads from the kernel (TSO and partial checksums)', () => {
  /** A super-packet as the kernel hands it over: one TCP header, a partial checksum, a virtio-net header. */
  function superPacket(v6: boolean, mss: number, payload: Buffer, flags: number): Buffer {
    const packet = tcpPacket({ v6, source: 1, sourcePort: 41000, seq: 0xfffff000, ack: 5, id: 0xfffe, flags, window: 100, options: Buffer.alloc(0), payload });
    const l4 = v6 ? 40 : 20;
    if (!v6) packet.writeUInt16BE(packet.length > 0xffff ? 0 : packet.length, 2);
    packet.writeUInt16BE(fold(pseudoSum(packet, 6, packet.length - l4)), l4 + 16);
    const header = Buffer.alloc(vnetHeaderLength);
    header[0] = needsChecksum;
    header[1] = (v6 ? gso.tcpv6 : gso.tcpv4) | (flags & flag.cwr ? 0x80 : 0);
    header.writeUInt16LE(l4 + 20, 2);
    header.writeUInt16LE(mss, 4);
    header.writeUInt16LE(l4, 6);
    header.writeUInt16LE(16, 8);
    return Buffer.concat([header, packet]);
  }

  it('cuts a super-packet into valid segments: sequence and IP ID count on, FIN and PSH only on the last, CWR only on the first', () => {
    const pattern = Buffer.from(Array.from({ length: 65000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 100, max: 1400 }), fc.integer({ min: 1, max: 65000 }), (v6, mss, size) => {
        const payload = pattern.subarray(0, size);
        const segments = addon.segment(superPacket(v6, mss, payload, flag.ack | flag.psh | flag.fin | flag.cwr), slotSize)!;
        const count = Math.ceil(size / mss);
        expect(segments.length).toBe(count);
        const l4 = v6 ? 40 : 20;
        const indices = segments.map((_, i) => i);
        expect(segments.every((segment) => transportChecksumValid(segment)), 'TCP checksums').toBe(true);
        expect(segments.map((segment) => (v6 ? segment.readUInt16BE(4) + 40 : segment.readUInt16BE(2)))).toEqual(segments.map((segment) => segment.length));
        if (!v6) {
          expect(segments.every(ipv4HeaderValid), 'IPv4 header checksums').toBe(true);
          expect(segments.map((segment) => segment.readUInt16BE(4))).toEqual(indices.map((i) => (0xfffe + i) & 0xffff));
        }
        expect(segments.map((segment) => segment.readUInt32BE(l4 + 4))).toEqual(indices.map((i) => (0xfffff000 + i * mss) >>> 0));
        expect(segments.map((segment) => segment[l4 + 13])).toEqual(indices.map((i) => flag.ack | (i === count - 1 ? flag.psh | flag.fin : 0) | (i === 0 ? flag.cwr : 0)));
        expect(Buffer.concat(segments.map((segment) => segment.subarray(l4 + 20))).equals(payload)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('finishes a partial UDP checksum (a zero result goes out as 0xffff) and passes plain packets through', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1300 }), (data) => {
        const packet = Buffer.alloc(28 + data.length);
        packet[0] = 0x45;
        packet.writeUInt16BE(packet.length, 2);
        packet[8] = 64;
        packet[9] = 17;
        packet.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
        packet.writeUInt16BE(5353, 20);
        packet.writeUInt16BE(53, 22);
        packet.writeUInt16BE(8 + data.length, 24);
        packet.set(data, 28);
        packet.writeUInt16BE(fold(pseudoSum(packet, 17, 8 + data.length)), 26);
        const header = Buffer.alloc(vnetHeaderLength);
        header[0] = needsChecksum;
        header.writeUInt16LE(20, 6);
        header.writeUInt16LE(6, 8);
        const [out] = addon.segment(Buffer.concat([header, packet]), slotSize)!;
        expect(transportChecksumValid(out!, 17)).toBe(true);
        expect(out!.readUInt16BE(26)).not.toBe(0);
        expect(out!.subarray(0, 26)).toEqual(packet.subarray(0, 26));
        const plain = addon.segment(Buffer.concat([Buffer.alloc(vnetHeaderLength), packet]), slotSize)!;
        expect(plain).toEqual([packet]);
      }),
      { numRuns: 100 },
    );
  });

  it('never crashes on arbitrary reads or batches: malformed reads are refused, anything unmergeable is written as it came', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.array(fc.uint8Array({ minLength: 0, maxLength: 1600 }), { maxLength: 20 }), (read, packets) => {
        const segments = addon.segment(Buffer.from(read), slotSize);
        for (const segment of segments ?? []) expect(segment.length).toBeLessThanOrEqual(slotSize);
        const buffers = packets.map((p) => Buffer.from(p));
        const { buffer, lengths } = batchOf(buffers);
        const writes = addon.coalesce(buffer, lengths, slotSize, buffers.length);
        expect(writes.every((write) => write[1] === gso.none)).toBe(true);
        expect(writes.map((write) => write.subarray(vnetHeaderLength))).toEqual(buffers);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a super-packet whose segments would not fit a slot, and an unknown GSO type', () => {
    const big = superPacket(false, 1400, Buffer.alloc(5000, 1), flag.ack);
    expect(addon.segment(big, 1000)).toBeNull();
    const udpGso = superPacket(false, 1000, Buffer.alloc(5000, 1), flag.ack);
    udpGso[1] = 5;
    expect(addon.segment(udpGso, slotSize)).toBeNull();
  });
});

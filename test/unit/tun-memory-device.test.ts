import { describe, expect, it } from 'vitest';
import { MemoryTunDevice } from '../../src/protocol/tun/memory-device.js';

describe('MemoryTunDevice (the TUN seam without root)', () => {
  it('delivers injected packets in batches, holds them while paused, and records writes as copies', () => {
    const device = new MemoryTunDevice('t0', 100);
    const batches: number[][] = [];
    device.inject(Buffer.from([1]));
    device.onPackets((packets) => batches.push(packets.map((p) => p[0]!)));
    device.pause();
    device.inject(Buffer.from([2]), Buffer.from([3]));
    expect(batches).toEqual([[1]]);
    device.resume();
    expect(batches).toEqual([[1], [2, 3]]);
    const packet = Buffer.from([9, 9]);
    device.write(packet);
    packet[0] = 0;
    device.write(Buffer.alloc(101));
    expect(device.written).toEqual([Buffer.from([9, 9])]);
    expect(device.offloadStats()).toMatchObject({ packetsWritten: 1, dropped: 1 });
    device.close();
    device.inject(Buffer.from([4]));
    expect(batches).toHaveLength(2);
  });
});

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TunnelClient } from '../../src/protocol/pqtunnel/engine/client.js';
import { TunnelGateway } from '../../src/protocol/pqtunnel/engine/gateway.js';
import { x25519Generate } from '../../src/protocol/pqtunnel/crypto/primitives.js';
import { udpBind } from '../../src/protocol/pqtunnel/host/udp-bind.js';
import { eventually } from '../helpers/net.js';

function ipPacket(n: number, size = 1000): Buffer {
  const packet = Buffer.alloc(size, n & 0xff);
  packet[0] = 0x45;
  packet.writeUInt16BE(size, 2);
  packet.writeUInt32BE(n, 20);
  return packet;
}

/** A gateway and a client on real UDP sockets on loopback, and what each received. */
async function tunnelOverUdp() {
  const socket = async () => {
    const s = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  };
  const [gatewaySocket, clientSocket] = [await socket(), await socket()];
  const clientKey = x25519Generate();
  const gatewayKey = x25519Generate();
  const atGateway: Buffer[] = [];
  const atClient: Buffer[] = [];
  let datagrams = 0;
  const bind = udpBind(gatewaySocket);
  const gateway = new TunnelGateway({
    staticKey: gatewayKey,
    peers: [{ name: 'alice', publicKey: clientKey.publicKey, params: () => Buffer.alloc(32) }],
    bind: { ...bind, onReceive: (handler) => bind.onReceive((datagram, from) => (datagrams++, handler(datagram, from))) },
    onPacket: (_peer, packet) => atGateway.push(packet),
  });
  const client = new TunnelClient({
    staticKey: clientKey,
    gatewayPublic: gatewayKey.publicKey,
    endpoint: { host: '127.0.0.1', port: gatewaySocket.address().port },
    bind: udpBind(clientSocket),
    persistentKeepaliveMs: 0,
    onPacket: (packet) => atClient.push(packet),
  });
  return { gateway, client, atGateway, atClient, gatewayPort: gatewaySocket.address().port, received: () => datagrams };
}

describe('PQ tunnel client and gateway over real UDP sockets on loopback', () => {
  it('handshake, then a thousand packets each way arrive intact', async () => {
    const { gateway, client, atGateway, atClient } = await tunnelOverUdp();
    try {
      client.connect();
      expect(await eventually(() => client.isUp, 5000)).toBe(true);
      // The gateway sends with the new keys only after the client used them once (spec §6.3).
      let probed = false;
      expect(await eventually(() => (probed ||= gateway.send('alice', ipPacket(99_999))), 5000)).toBe(true);
      expect(await eventually(() => atClient.length === 1, 5000)).toBe(true);
      atClient.length = 0;
      for (let i = 0; i < 1000; i++) {
        client.send(ipPacket(i));
        expect(gateway.send('alice', ipPacket(100_000 + i))).toBe(true);
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      const arrived = await eventually(() => atGateway.length === 1000 && atClient.length === 1000, 5000);
      expect(arrived, `gateway got ${atGateway.length}, client got ${atClient.length}`).toBe(true);
      expect(atGateway.map((p) => p.readUInt32BE(20))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(atClient[999]).toEqual(ipPacket(100_999));
    } finally {
      client.close();
      gateway.close();
    }
  });

  it('under a flood of random datagrams (at least 50k/s, from another process) an honest client still connects', async () => {
    const { gateway, client, gatewayPort, received } = await tunnelOverUdp();
    // 65k/s: above the 50k/s the test claims, not whatever this machine can produce (an unbounded
    // flood of 150k/s overran the gateway's socket queue and the honest initiations with it, by chance).
    const flooder = spawn(process.execPath, [new URL('../helpers/udp-flood.mjs', import.meta.url).pathname, '127.0.0.1', String(gatewayPort), '15', '65000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let sent = 0;
    flooder.stdout!.on('data', (chunk: Buffer) => (sent = Number(/sent (\d+)\n$/.exec(chunk.toString())?.[1] ?? sent)));
    const exited = once(flooder, 'exit');
    try {
      expect(await eventually(() => received() > 10_000, 5000)).toBe(true);
      const started = performance.now();
      const [sentBefore, receivedBefore] = [sent, received()];
      client.connect();
      expect(await eventually(() => client.isUp, 11_000)).toBe(true);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - started))));
      const seconds = (performance.now() - started) / 1000;
      const [sentRate, receivedRate] = [(sent - sentBefore) / seconds, (received() - receivedBefore) / seconds];
      expect(sentRate, `flood of ${Math.round(sentRate)}/s (the gateway took ${Math.round(receivedRate)}/s)`).toBeGreaterThanOrEqual(50_000);
    } finally {
      flooder.kill();
      await exited;
      client.close();
      gateway.close();
    }
  }, 30_000);
});

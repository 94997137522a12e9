/**
 * Post-quantum tunnel benchmark: hybrid handshake time, gateway handshakes per second on
 * one core, and the data plane (1400-byte packets sealed here, sent over loopback UDP to
 * another process that opens them) next to plain UDP in the same run.
 */
import { report } from './report.js';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import {
  clientIdentity,
  clientMac1Key,
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  gatewayConstants,
  initiationMac1Valid,
} from '../src/protocol/pqtunnel/engine/handshake.js';
import { Keypair } from '../src/protocol/pqtunnel/engine/keypair.js';
import { dh, x25519Generate } from '../src/protocol/pqtunnel/crypto/primitives.js';
import { here, startChild, stopChild } from './harness.js';

const packetSize = 1400;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function handshakes(): void {
  const clientKey = x25519Generate();
  const gatewayKey = x25519Generate();
  const client = clientIdentity(clientKey, gatewayKey.publicKey);
  const gateway = gatewayConstants(gatewayKey.publicKey);
  const shared = dh(gatewayKey.privateKey, clientKey.publicKey)!;
  const mac1Key = clientMac1Key(clientKey.publicKey);
  const params = Buffer.alloc(32);
  const total: number[] = [];
  const gatewaySide: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    const { message, pending } = createInitiation(client, i + 1, Date.now());
    const t1 = performance.now();
    if (!initiationMac1Valid(message, gateway)) throw new Error('mac1');
    const accepted = consumeInitiation(message, gatewayKey, gateway, () => shared)!;
    const response = createResponse(accepted, i + 1, Buffer.alloc(32), params)!;
    const t2 = performance.now();
    if (!consumeResponse(response.message, pending, client, mac1Key)) throw new Error('response');
    const t3 = performance.now();
    if (i >= 20) {
      total.push((t3 - t0) * 1000);
      gatewaySide.push((t2 - t1) * 1000);
    }
  }
  const gatewayMedianUs = quantile(gatewaySide, 0.5);
  report(
    `pqtunnel hybrid handshake (client + gateway, one process): median ${quantile(total, 0.5).toFixed(0)} µs, ` +
      `p99 ${quantile(total, 0.99).toFixed(0)} µs (target <= 2500 µs); gateway side median ${gatewayMedianUs.toFixed(0)} µs ` +
      `= ${(1e6 / gatewayMedianUs).toFixed(0)} handshakes/s on one core (target >= 1000)`,
  );
}

/** Sends 1400-byte datagrams (sealed when `keypair` is given) on a connected socket for `ms` and returns what the receiver counted. */
async function dataPlane(receiverArg: string, keypair: Keypair | undefined, ms: number) {
  const receiver = await startChild([here('./pq-receiver.js'), receiverArg], /^(\d+)\n/);
  const socket = createSocket({ type: 'udp4', sendBufferSize: 8 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.connect(receiver.port, '127.0.0.1', resolve));
  const packet = randomBytes(packetSize);
  packet[0] = 0x45;
  packet.writeUInt16BE(packetSize, 2);
  const deadline = performance.now() + ms;
  let sent = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) {
      socket.send(keypair ? keypair.seal(packet, 1420) : packet);
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  let output = '';
  receiver.process.stdout!.removeAllListeners('data');
  receiver.process.stdout!.on('data', (c: Buffer) => (output += c));
  await once(receiver.process, 'exit');
  socket.close();
  await stopChild(receiver);
  const result = JSON.parse(output) as { packets: number; bytes: number; seconds: number };
  return { ...result, sent, pps: result.packets / result.seconds, gbps: (result.bytes * 8) / result.seconds / 1e9 };
}

/** Prints the tunnel figures. */
export async function benchPqtunnel(): Promise<void> {
  handshakes();
  const key = randomBytes(32);
  const plain = await dataPlane('plain', undefined, 2000);
  const sealed = await dataPlane(key.toString('hex'), new Keypair(1, 1, key, Buffer.alloc(32), performance.now()), 2000);
  report(
    `pqtunnel data plane, ${packetSize}-byte packets over loopback UDP to another process: sealed+opened ` +
      `${sealed.pps.toFixed(0)} packets/s (${sealed.gbps.toFixed(2)} Gbit/s of payload, ${sealed.packets}/${sealed.sent} delivered); ` +
      `plain UDP ${plain.pps.toFixed(0)} packets/s; ratio ${(sealed.pps / plain.pps).toFixed(2)}x ` +
      `(targets >= 120000 packets/s, >= 0.40x)`,
  );
}

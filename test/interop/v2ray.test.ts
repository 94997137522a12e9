import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, echoServer, listen, readAll, requirePeer, startBox, startVmessServer, udpRoundTrip, type RunningBox } from '../helpers/net.js';
import { startV2ray } from '../helpers/v2ray.js';

const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
const size = 8 * 1024 * 1024;
const echo = echoServer();
let echoPort = 0;
let udpEcho: UdpSocket;
let udpPort = 0;

beforeAll(async () => {
  echoPort = await listen(echo);
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (msg, rinfo) => udpEcho.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  udpEcho.bind(0, '127.0.0.1');
  await once(udpEcho, 'listening');
  udpPort = udpEcho.address().port;
});

afterAll(async () => {
  await closeServer(echo);
  udpEcho.close();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** 8 MiB up and back through a SOCKS5 port, byte-exact, then a small request/response. */
async function echoThroughSocks(port: number): Promise<void> {
  const open = async (): Promise<Socket> =>
    (await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: echoPort }, timeout: 10_000 })).socket;
  const big = await open();
  const payload = randomBytes(size);
  const received = readAll(big);
  big.end(payload);
  const back = await received;
  expect(back.length).toBe(size);
  expect(sha(back)).toBe(sha(payload));
  const small = await open();
  small.write('ping');
  const [reply] = (await once(small, 'data')) as [Buffer];
  expect(reply.toString()).toBe('ping');
  small.destroy();
}

/** Three datagrams (10, 1000, 1400 bytes) through SOCKS5 UDP ASSOCIATE, each echoed once (with an `echo:` prefix). */
async function udpThroughSocks(port: number): Promise<void> {
  const sizes = [10, 1000, 1400];
  const lengths = await udpRoundTrip(port, udpPort, sizes);
  expect(lengths.map((n) => n - 5), `reply lengths: ${lengths}`).toEqual(sizes);
}

const ciphers = ['aes-128-gcm', 'chacha20-poly1305', 'none', 'auto'] as const;

describe('sluice VMess client → v2ray 4.34 VMess server → freedom', () => {
  for (const alterId of [0, 4]) {
    for (const cipher of ciphers) {
      it(`${cipher}, alterId ${alterId}: TCP 8 MiB each way byte-exact, UDP datagrams`, async ({ skip }) => {
        requirePeer('v2ray', skip);
        const v2ray = await startV2ray(
          (port) => ({ listen: '127.0.0.1', port, protocol: 'vmess', settings: { clients: [{ id: uuid, alterId }] } }),
          { protocol: 'freedom' },
        );
        let box: RunningBox | undefined;
        try {
          box = await startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies:
  - { name: v2, type: vmess, server: 127.0.0.1, port: ${v2ray.port}, uuid: ${uuid}, alterId: ${alterId}, cipher: ${cipher}, udp: true }
rules: ['MATCH,v2']`);
          await echoThroughSocks(box.port());
          await udpThroughSocks(box.port());
        } catch (error) {
          throw new Error(`${(error as Error).message}\nv2ray said:\n${v2ray.output()}`);
        } finally {
          await box?.close();
          await v2ray.stop();
        }
      }, 30_000);
    }
  }
});

describe('v2ray 4.34 client (socks → vmess) → sluice VMess listener → DIRECT', () => {
  let server: RunningBox;
  beforeAll(async () => {
    server = await startVmessServer('aead', uuid);
  });
  afterAll(() => server.close());

  const modes: { alterId: number; env: Record<string, string>; label: string }[] = [
    { alterId: 0, env: {}, label: 'AEAD header (alterId 0)' },
    { alterId: 4, env: {}, label: 'legacy header (alterId 4)' },
    { alterId: 0, env: { V2RAY_VMESS_AEAD_DISABLED: 'true' }, label: 'legacy header (alterId 0, AEAD disabled)' },
  ];
  for (const mode of modes) {
    for (const cipher of ciphers) {
      it(`${cipher}, ${mode.label}: TCP 8 MiB each way byte-exact, UDP datagrams`, async ({ skip }) => {
        requirePeer('v2ray', skip);
        const v2ray = await startV2ray(
          (port) => ({ listen: '127.0.0.1', port, protocol: 'socks', settings: { auth: 'noauth', udp: true, ip: '127.0.0.1' } }),
          {
            protocol: 'vmess',
            settings: { vnext: [{ address: '127.0.0.1', port: server.port(), users: [{ id: uuid, alterId: mode.alterId, security: cipher }] }] },
          },
          mode.env,
        );
        try {
          server.logs.length = 0;
          await echoThroughSocks(v2ray.port);
          await udpThroughSocks(v2ray.port);
          expect(server.logs.some((l) => l.includes('via vmess-in/VMESS') && l.includes('user=aead'))).toBe(true);
        } catch (error) {
          throw new Error(`${(error as Error).message}\nv2ray said:\n${v2ray.output()}\nsluice said:\n${server.logs.slice(-5).join('\n')}`);
        } finally {
          await v2ray.stop();
        }
      }, 30_000);
    }
  }
});

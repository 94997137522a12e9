import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, echoServer, listen, readAll, requirePeer, startBox, startVmessServer, trackedServer, udpRoundTrip, type RunningBox } from '../helpers/net.js';
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

describe('v2ray 4.34 client → sluice VMess listener with its default guard (issue 19 §3)', () => {
  let server: RunningBox;
  let accepted = 0;
  const local = trackedServer((socket) => {
    accepted++;
    socket.pipe(socket);
  });
  const allowed = echoServer();
  let localPort = 0;
  let allowedPort = 0;
  beforeAll(async () => {
    localPort = await listen(local);
    allowedPort = await listen(allowed, '127.0.0.2');
    // The system resolver: every name below is numeric or in /etc/hosts, so nothing asks a DNS server.
    server = await startBox(`
listeners:
  - { name: vmess-in, type: vmess, port: 0, users: [{ username: remote, uuid: ${uuid} }], allow-private-destinations: [127.0.0.2/32] }
rules: ['MATCH,DIRECT']`, { systemDns: true });
  });
  afterAll(async () => {
    await server.close();
    await Promise.all([closeServer(local), closeServer(allowed)]);
  });

  it('refuses this host in every spelling, and reaches an opened prefix', async ({ skip }) => {
    requirePeer('v2ray', skip);
    const v2ray = await startV2ray(
      (port) => ({ listen: '127.0.0.1', port, protocol: 'socks', settings: { auth: 'noauth', udp: true, ip: '127.0.0.1' } }),
      { protocol: 'vmess', settings: { vnext: [{ address: '127.0.0.1', port: server.port(), users: [{ id: uuid, alterId: 0, security: 'aes-128-gcm' }] }] } },
    );
    try {
      accepted = 0;
      // (A name with control bytes never gets this far: v2ray's own SOCKS inbound refuses it.
      // inbound-hostile.test.ts sends such a VMess request itself.)
      for (const host of ['127.0.0.1', 'localhost', '0.0.0.0', '::ffff:127.0.0.1', '::1', '127.1', '2130706433']) {
        // v2ray answers the SOCKS request itself, then opens the VMess stream: the refusal shows as a closed stream.
        const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: v2ray.port, type: 5 }, command: 'connect', destination: { host, port: localPort }, timeout: 10_000 });
        socket.write('hello');
        const closed = await new Promise<boolean>((resolve) => {
          socket.on('data', () => resolve(false));
          socket.on('close', () => resolve(true));
          socket.on('error', () => {});
        });
        expect(closed, JSON.stringify(host)).toBe(true);
      }
      expect(accepted).toBe(0);
      expect(server.logs.filter((l) => /may not reach it \(allow-private-destinations opens it\)/.test(l))).toHaveLength(7);
      const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: v2ray.port, type: 5 }, command: 'connect', destination: { host: '127.0.0.2', port: allowedPort }, timeout: 10_000 });
      socket.write('ping');
      const [reply] = (await once(socket, 'data')) as [Buffer];
      expect(reply.toString()).toBe('ping');
      socket.destroy();
    } catch (error) {
      throw new Error(`${(error as Error).message}\nv2ray said:\n${v2ray.output()}\nsluice said:\n${server.logs.slice(-12).join('\n')}`);
    } finally {
      await v2ray.stop();
    }
  }, 60_000);
});

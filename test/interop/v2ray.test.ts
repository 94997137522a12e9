import { once } from 'node:events';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoThroughSocks as echoThroughPeers, startEchoPeers, udpThroughSocks as udpThroughPeers, type EchoPeers } from '../helpers/echo-checks.js';
import { closeServer, echoServer, listen, requirePeer, startBox, startVmessServer, trackedServer, type RunningBox } from '../helpers/net.js';
import { startV2ray } from '../helpers/v2ray.js';

const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
let peers: EchoPeers;

beforeAll(async () => {
  peers = await startEchoPeers();
});

afterAll(() => peers.close());

const echoThroughSocks = (port: number): Promise<void> => echoThroughPeers(port, peers.tcpPort);
const udpThroughSocks = (port: number): Promise<void> => udpThroughPeers(port, peers.udpPort);

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

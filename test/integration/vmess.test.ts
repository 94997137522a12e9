import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSession } from '../../src/protocol/vmess/client.js';
import { vmessIdentity } from '../../src/protocol/vmess/identity.js';
import { closeServer, dial, echoServer, eventually, listen, readAll, startBox, startVmessServer, udpRoundTrip, type RunningBox } from '../helpers/net.js';

const uuid = '27a2c3b2-5b38-4cf5-9b0e-6ad4b1c09a51';
const echo = echoServer();
let echoPort = 0;
let udpEcho: UdpSocket;
let udpPort = 0;
let server: RunningBox;

beforeAll(async () => {
  echoPort = await listen(echo);
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (msg, rinfo) => udpEcho.send(msg, rinfo.port, rinfo.address));
  udpEcho.bind(0, '127.0.0.1');
  await once(udpEcho, 'listening');
  udpPort = udpEcho.address().port;
  server = await startVmessServer('alice', uuid);
});

afterAll(async () => {
  await server.close();
  await closeServer(echo);
  udpEcho.close();
});

async function client(proxy: string): Promise<RunningBox> {
  return startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies:
  - { name: vm, type: vmess, server: 127.0.0.1, port: ${server.port()}, uuid: ${uuid}, udp: true, ${proxy} }
rules: ['MATCH,vm']`);
}

async function transfer(box: RunningBox, bytes: number): Promise<void> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: box.port(), type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: echoPort },
  });
  const payload = randomBytes(bytes);
  const received = readAll(socket);
  socket.end(payload);
  const back = await received;
  expect(back.length).toBe(bytes);
  expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
}

const cases = [
  'cipher: auto, alterId: 0',
  'cipher: aes-128-gcm, alterId: 0',
  'cipher: chacha20-poly1305, alterId: 0',
  'cipher: none, alterId: 0',
  'cipher: zero, alterId: 0',
  'cipher: aes-128-gcm, alterId: 0, authenticated-length: true',
  'cipher: chacha20-poly1305, alterId: 0, authenticated-length: true',
  'cipher: aes-128-gcm, alterId: 4',
  'cipher: chacha20-poly1305, alterId: 4',
  'cipher: none, alterId: 4',
];

describe('sluice VMess client → sluice VMess server', () => {
  it.each(cases)('%s: 2 MiB echoed byte-exact, and a small request', async (proxy) => {
    const box = await client(proxy);
    try {
      await transfer(box, 2 * 1024 * 1024);
      await transfer(box, 10);
    } finally {
      await box.close();
    }
  });

  it('records the authenticated user on the server flow', async () => {
    server.logs.length = 0;
    const box = await client('cipher: auto');
    await transfer(box, 100);
    await box.close();
    expect(await eventually(() => server.logs.some((l) => l.includes('via vmess-in/VMESS') && l.includes('user=alice')))).toBe(true);
  });

  it.each(['cipher: aes-128-gcm, alterId: 0', 'cipher: none, alterId: 0', 'cipher: chacha20-poly1305, alterId: 4'])(
    'carries UDP (SOCKS5 UDP ASSOCIATE → VMess command 2) with %s',
    async (proxy) => {
      const box = await client(proxy);
      const sizes = [10, 1000, 1400];
      expect(await udpRoundTrip(box.port(), udpPort, sizes, 3000)).toEqual(sizes);
      await box.close();
    },
  );
});

describe('VMess server against probes', () => {
  it('answers garbage with nothing: drains, then closes', async () => {
    const socket = await dial(server.port());
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    let sent = 0;
    while (!socket.readableEnded && !socket.destroyed && sent < 8000) {
      socket.write(randomBytes(100));
      sent += 100;
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(socket.readableEnded || socket.destroyed).toBe(true);
    expect(sent).toBeGreaterThanOrEqual(54);
    expect(Buffer.concat(received).length).toBe(0);
    socket.destroy();
  });
});

describe('VMess replay protection', () => {
  const config = { identity: vmessIdentity(uuid), alterId: 0, security: 3 as const, zero: false, authenticatedLength: false };

  /** Sends raw request bytes; resolves with what came back before the server closed (or 1.5 s passed). */
  async function exchange(bytes: Buffer): Promise<Buffer> {
    const socket = await dial(server.port());
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.write(bytes);
    await Promise.race([once(socket, 'end'), once(socket, 'close'), new Promise((r) => setTimeout(r, 1500))]);
    socket.destroy();
    return Buffer.concat(chunks);
  }

  it('answers a fresh request, and gives a replay of the same bytes nothing', async () => {
    const session = clientSession(config, 1, { host: '127.0.0.1', port: echoPort });
    const request = Buffer.concat([session.prefix, ...session.writer.write(Buffer.from('once'))]);
    expect((await exchange(request)).length).toBeGreaterThan(0);
    expect((await exchange(request)).length).toBe(0);
  });

  it('gives a request stamped 200 s in the past nothing', async () => {
    const session = clientSession(config, 1, { host: '127.0.0.1', port: echoPort }, Math.floor(Date.now() / 1000) - 200);
    expect((await exchange(Buffer.concat([session.prefix, ...session.writer.write(Buffer.from('late'))]))).length).toBe(0);
  });
});

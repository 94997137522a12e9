// What clients may ask for: a domain with control bytes is refused by every inbound with its
// protocol's error (a NUL let `localhost\0.evil` pass DOMAIN,localhost,REJECT and reach
// localhost), and a listener's clients reach only what its guard allows (loopback, this host
// and private ranges, in every spelling), checked on the address DIRECT actually dials.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { isIP, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { innerFlow } from '../../src/adapter/flow.js';
import { DnsCache } from '../../src/common/dns-cache.js';
import { ipToBytes } from '../../src/common/ip.js';
import { sealRequestHeader } from '../../src/protocol/vmess/aead-header.js';
import type { OutboundDeps } from '../../src/adapter/registration.js';
import { vmessOutbound } from '../../src/protocol/vmess/index.js';
import { fnv1a32 } from '../../src/protocol/vmess/fnv.js';
import { vmessIdentity } from '../../src/protocol/vmess/identity.js';
import { Command, Option, Security } from '../../src/protocol/vmess/request-header.js';
import { closeServer, dial, listen, readBytes, socksConnectBytes, startBox, trackedServer, type RunningBox } from '../helpers/net.js';

const uuid = '0c6e4a62-9f37-4a4b-8d8e-2f4f0d1c7a11';
let accepted = 0;
const echo = trackedServer((socket) => {
  accepted++;
  socket.pipe(socket);
});
const echo2 = trackedServer((socket) => socket.pipe(socket));
let echoPort = 0;
let echo2Port = 0;
let udpEcho: UdpSocket;
let udpPort = 0;
let udpReceived = 0;
let udpEcho2: UdpSocket;
let udp2Port = 0;
let box: RunningBox;
let lan: RunningBox;
let vmess: RunningBox;

beforeAll(async () => {
  echoPort = await listen(echo);
  echo2Port = await listen(echo2, '127.0.0.2');
  udpEcho = createSocket('udp4');
  udpEcho.on('message', (msg, rinfo) => {
    udpReceived++;
    udpEcho.send(msg, rinfo.port, rinfo.address);
  });
  udpEcho.bind(0, '127.0.0.1');
  await once(udpEcho, 'listening');
  udpPort = udpEcho.address().port;
  udpEcho2 = createSocket('udp4');
  udpEcho2.on('message', (msg, rinfo) => udpEcho2.send(msg, rinfo.port, rinfo.address));
  udpEcho2.bind(0, '127.0.0.2');
  await once(udpEcho2, 'listening');
  udp2Port = udpEcho2.address().port;
  // getaddrinfo resolves "localhost\0.evil" as "localhost": only the system resolver shows the bypass.
  box = await startBox(`
listeners: [{ name: mix, type: mixed, port: 0 }]
rules: ['DOMAIN,localhost,REJECT', 'MATCH,DIRECT']`, { systemDns: true });
  lan = await startBox(`
allow-lan: true
listeners:
  - { name: lan, type: mixed, listen: 0.0.0.0, port: 0, users: [{ username: u, password: p }] }
  - { name: lan-open, type: mixed, listen: 0.0.0.0, port: 0, allow-private-destinations: [127.0.0.2/32], users: [{ username: u, password: p }] }
rules: ['MATCH,DIRECT']`, { systemDns: true });
  vmess = await startBox(`
listeners: [{ name: vm, type: vmess, port: 0, users: [{ username: v, uuid: ${uuid} }], allow-private-destinations: [127.0.0.2/32] }]
rules: ['MATCH,DIRECT']`, { systemDns: true });
});

afterAll(async () => {
  await Promise.all([box?.close(), lan?.close(), vmess?.close()]);
  await Promise.all([closeServer(echo), closeServer(echo2)]);
  udpEcho.close();
  udpEcho2.close();
});

/** The SOCKS5 reply code for CONNECT `host:port` through `port`, authenticating as u/p when `auth`. */
async function socksReply(port: number, host: string, target: number, auth = false): Promise<number> {
  const socket = await dial(port);
  const portBytes = Buffer.from([target >> 8, target & 0xff]);
  if (!auth) {
    socket.write(socksConnectBytes(host, target));
    const answer = await readBytes(socket, 4);
    socket.destroy();
    return answer[3]!;
  }
  socket.write(Buffer.from([5, 1, 2]));
  await readBytes(socket, 2);
  socket.write(Buffer.concat([Buffer.from([1, 1]), Buffer.from('u'), Buffer.from([1]), Buffer.from('p')]));
  await readBytes(socket, 2);
  const family = isIP(host);
  const address = family !== 0 ? ipToBytes(host) : Buffer.concat([Buffer.from([Buffer.byteLength(host)]), Buffer.from(host)]);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, family === 4 ? 1 : family === 6 ? 4 : 3]), address, portBytes]));
  const reply = await readBytes(socket, 4);
  socket.destroy();
  return reply[1]!;
}

/**
 * A sealed VMess AEAD request (TCP, aes-128-gcm, chunk stream) for `host:port` whatever bytes
 * the host holds, followed by one body chunk: what a hostile client can send.
 */
function vmessRequest(host: string, port: number): Buffer {
  const fixed = Buffer.alloc(38);
  fixed[0] = 1;
  randomBytes(33).copy(fixed, 1);
  fixed[34] = Option.chunkStream;
  fixed[35] = Security.aes128Gcm;
  fixed[37] = Command.tcp;
  const name = Buffer.from(host, 'latin1');
  const address = Buffer.concat([Buffer.from([port >> 8, port & 0xff, 2, name.length]), name]);
  const body = Buffer.concat([fixed, address]);
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(fnv1a32(body));
  const prefix = sealRequestHeader(vmessIdentity(uuid), Buffer.concat([body, checksum]), Math.floor(Date.now() / 1000), { authId: randomBytes(4), nonce: randomBytes(8) });
  return Buffer.concat([prefix, randomBytes(64)]);
}

/** Sends one raw HTTP request head and returns the status line of the answer. */
async function httpStatus(port: number, head: string): Promise<string> {
  const socket: Socket = await dial(port);
  socket.write(Buffer.from(head, 'latin1'));
  const answer = await readBytes(socket, 12);
  socket.destroy();
  return answer.toString('latin1').split('\r\n')[0]!;
}

describe('domains with control bytes', () => {
  it('SOCKS5: refused with REP 0x04 before rules or DNS see them; localhost is not reached', async () => {
    accepted = 0;
    for (const host of ['localhost\0.evil', 'localhost\0', 'a\r\nforged', 'loc alhost']) {
      expect(await socksReply(box.port(), host, echoPort), JSON.stringify(host)).toBe(0x04);
    }
    expect(await socksReply(box.port(), 'localhost', echoPort)).toBe(0x02);
    expect(accepted).toBe(0);
    expect(box.logs.some((l) => /invalid destination: domain name with a character outside the hostname alphabet/.test(l))).toBe(true);
    expect(box.logs.filter((l) => l.startsWith('forged'))).toEqual([]);
    expect(box.logs.some((l) => l.includes('a\\x0d\\x0aforged'))).toBe(true);
  });

  it('VMess: a request header naming such a domain gets no byte back and dials nothing', async () => {
    accepted = 0;
    for (const host of ['localhost\0.evil', 'a\r\nb']) {
      const socket = await dial(vmess.port());
      const received: Buffer[] = [];
      socket.on('data', (c: Buffer) => received.push(c));
      socket.write(vmessRequest(host, echoPort));
      await new Promise((resolve) => (socket.on('end', resolve), socket.on('close', resolve)));
      socket.destroy();
      expect(Buffer.concat(received).length, JSON.stringify(host)).toBe(0);
    }
    expect(accepted).toBe(0);
    expect(vmess.logs.filter((l) => l.includes('invalid destination: domain name with a character outside the hostname alphabet'))).toHaveLength(2);
  });

  it('HTTP: CONNECT and absolute-URI requests get 400', async () => {
    accepted = 0;
    expect(await httpStatus(box.port(), `CONNECT localhost\0.evil:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect(await httpStatus(box.port(), `GET http://localhost%00.evil:${echoPort}/ HTTP/1.1\r\nHost: x\r\n\r\n`)).toBe('HTTP/1.1 400 Bad Request');
    expect(accepted).toBe(0);
  });
});

describe("what a listener's clients may reach", () => {
  it('SOCKS on a LAN address: every spelling of this host is refused with REP 0x02; an opened prefix is reachable', async () => {
    accepted = 0;
    for (const host of ['127.0.0.1', 'localhost', '0.0.0.0', '::ffff:127.0.0.1', '::1', '127.1', '2130706433']) {
      expect(await socksReply(lan.port('lan'), host, echoPort, true), host).toBe(0x02);
    }
    expect(accepted).toBe(0);
    expect(await socksReply(lan.port('lan'), '127.0.0.2', echo2Port, true)).toBe(0x02);
    expect(await socksReply(lan.port('lan-open'), '127.0.0.2', echo2Port, true)).toBe(0x00);
    expect(lan.logs.some((l) => l.includes('clients of listener lan may not reach it (allow-private-destinations opens it)'))).toBe(true);
  });

  it('HTTP on a LAN address answers 403 for this host', async () => {
    const auth = `Proxy-Authorization: Basic ${Buffer.from('u:p').toString('base64')}\r\n`;
    expect(await httpStatus(lan.port('lan'), `GET http://localhost:${echoPort}/ HTTP/1.1\r\nHost: x\r\n${auth}\r\n`)).toBe('HTTP/1.1 403 Forbidden');
    expect(await httpStatus(lan.port('lan'), `CONNECT [::1]:${echoPort} HTTP/1.1\r\n${auth}\r\n`)).toBe('HTTP/1.1 403 Forbidden');
  });

  it('SOCKS UDP on a LAN address: datagrams to this host are dropped; to an opened prefix they pass', async () => {
    const { SocksClient } = await import('socks');
    const send = async (listener: string, host: string, port: number): Promise<number> => {
      const association = await socksAssociateAuth(lan.port(listener));
      const client = createSocket('udp4');
      let replies = 0;
      client.on('message', () => replies++);
      client.bind(0, '127.0.0.1');
      await once(client, 'listening');
      client.send(SocksClient.createUDPFrame({ remoteHost: { host, port }, data: Buffer.from('x') }), association.relay.port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 300));
      client.close();
      association.control.destroy();
      return replies;
    };
    udpReceived = 0;
    expect(await send('lan', '127.0.0.1', udpPort)).toBe(0);
    expect(udpReceived).toBe(0);
    expect(await send('lan-open', '127.0.0.2', udp2Port)).toBe(1);
  });

  it('VMess (remote users): loopback, this host and private ranges are refused by default, in every spelling', async () => {
    accepted = 0;
    const deps = { dns: new DnsCache({ ttlMs: 1000, maxEntries: 8, timeoutMs: 1000 }), connectMs: 2000 } as OutboundDeps;
    const outbound = vmessOutbound.create({ name: 'v', type: 'vmess', server: '127.0.0.1', port: vmess.port(), uuid, cipher: 'auto' }, deps);
    for (const host of ['127.0.0.1', 'localhost', '0.0.0.0', '::ffff:127.0.0.1', '::1', '127.1']) {
      const stream = await outbound.dial(innerFlow(host, echoPort, new AbortController().signal));
      stream.on('error', () => {});
      stream.write('hello');
      await new Promise((resolve) => stream.on('close', resolve));
    }
    expect(accepted).toBe(0);
    const open = await outbound.dial(innerFlow('127.0.0.2', echo2Port, new AbortController().signal));
    open.write('ping');
    expect(String((await once(open, 'data'))[0])).toBe('ping');
    open.destroy();
  });
});

/** UDP ASSOCIATE with username/password u/p (the `socks` client). */
async function socksAssociateAuth(port: number): Promise<{ control: Socket; relay: { host: string; port: number } }> {
  const { SocksClient } = await import('socks');
  const client = new SocksClient({ proxy: { host: '127.0.0.1', port, type: 5, userId: 'u', password: 'p' }, command: 'associate', destination: { host: '0.0.0.0', port: 0 } });
  const established = once(client, 'established') as Promise<[{ socket: Socket; remoteHost?: { host: string; port: number } }]>;
  client.connect();
  const [info] = await established;
  return { control: info.socket, relay: info.remoteHost! };
}

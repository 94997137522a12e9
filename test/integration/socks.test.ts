import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SocksClient } from 'socks';
import { ipToBytes } from '../../src/common/ip.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closedPort,
  closeServer,
  dial,
  echoServer,
  eventually,
  listen,
  readAll,
  socksAssociate,
  socksConnectBytes,
  startBox,
  type RunningBox,
} from '../helpers/net.js';

let box: RunningBox;
let authBox: RunningBox;
const echo4 = echoServer();
const echo6 = echoServer();
let port4 = 0;
let port6 = 0;
const udp: UdpSocket[] = [];
let udpPort4 = 0;
let udpPort6 = 0;

async function udpEcho(type: 'udp4' | 'udp6', host: string): Promise<number> {
  const socket = createSocket(type);
  socket.on('message', (msg, rinfo) => socket.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  socket.bind(0, host);
  await once(socket, 'listening');
  udp.push(socket);
  return socket.address().port;
}

beforeAll(async () => {
  port4 = await listen(echo4, '127.0.0.1');
  port6 = await listen(echo6, '::1');
  udpPort4 = await udpEcho('udp4', '127.0.0.1');
  udpPort6 = await udpEcho('udp6', '::1');
  box = await startBox(`
listeners:
  - { name: socks-in, type: socks, port: 0 }
timeouts: { connect: 0.5, udp-idle: 1 }
rules:
  - DOMAIN,blocked.test,REJECT
  - DOMAIN-SUFFIX,drop.test,REJECT-DROP
  - MATCH,DIRECT`);
  authBox = await startBox(`
listeners:
  - { name: auth-in, type: socks, port: 0, users: [{ username: alice, password: "s3cret" }] }
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await authBox.close();
  await closeServer(echo4);
  await closeServer(echo6);
  for (const s of udp) s.close();
});

const proxy = () => ({ host: '127.0.0.1', port: box.port(), type: 5 as const });

async function echoThrough(destination: { host: string; port: number }, payload: Buffer): Promise<Buffer> {
  const { socket } = await SocksClient.createConnection({ proxy: proxy(), command: 'connect', destination });
  socket.end(payload);
  return readAll(socket);
}

describe('SOCKS5 inbound with the socks npm client', () => {
  it('CONNECTs to IPv4, IPv6 and domain destinations and echoes byte-exact', async () => {
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    expect((await echoThrough({ host: '127.0.0.1', port: port4 }, payload)).equals(payload)).toBe(true);
    expect((await echoThrough({ host: '::1', port: port6 }, payload)).equals(payload)).toBe(true);
    expect((await echoThrough({ host: 'echo.test', port: port4 }, payload)).equals(payload)).toBe(true);
  });

  it('writes one log line per flow with rule, outbound and byte counts', async () => {
    box.logs.length = 0;
    await echoThrough({ host: 'echo.test', port: port4 }, Buffer.from('12345'));
    await eventually(() => box.logs.some((l) => l.includes('--> echo.test')));
    const lines = box.logs.filter((l) => l.includes('--> echo.test'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[TCP\] 127\.0\.0\.1:\d+ --> echo\.test:\d+ via socks-in\/SOCKS5 match MATCH using DIRECT .*up=5 down=5/);
  });

  it('authenticates users (RFC 1929) and records the user on the flow', async () => {
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: authBox.port(), type: 5, userId: 'alice', password: 's3cret' },
      command: 'connect',
      destination: { host: '127.0.0.1', port: port4 },
    });
    socket.end('hi');
    expect((await readAll(socket)).toString()).toBe('hi');
    expect(await eventually(() => authBox.logs.some((l) => l.includes('user=alice')))).toBe(true);
  });

  it('refuses a wrong password and a client offering no usable method', async () => {
    await expect(
      SocksClient.createConnection({
        proxy: { host: '127.0.0.1', port: authBox.port(), type: 5, userId: 'alice', password: 'wrong' },
        command: 'connect',
        destination: { host: '127.0.0.1', port: port4 },
      }),
    ).rejects.toThrow(/Authentication Failed/i);
    const raw = await dial(authBox.port());
    raw.write(Buffer.from([5, 1, 0]));
    expect(await readAll(raw)).toEqual(Buffer.from([5, 0xff]));
    raw.destroy();
  });

  it('maps dial failures to REP codes: ruleset 0x02, refused 0x05, unknown host 0x04, timeout 0x06', async () => {
    const rep = async (host: string, port: number): Promise<number> => {
      const raw = await dial(box.port());
      raw.write(socksConnectBytes(host, port));
      const reply = await readAll(raw);
      raw.destroy();
      expect(reply.subarray(0, 2)).toEqual(Buffer.from([5, 0]));
      return reply[3]!;
    };
    expect(await rep('blocked.test', port4)).toBe(0x02);
    expect(await rep('127.0.0.1', await closedPort())).toBe(0x05);
    expect(await rep('missing.test', 80)).toBe(0x04);
    expect(await rep('hang.test', 80)).toBe(0x06);
  });

  it('ends a flow at once when its client resets while sluice is still dialing (not at the connect timeout)', async () => {
    const slow = await startBox(`
listeners: [{ name: s, type: socks, port: 0 }]
timeouts: { connect: 30 }
rules: ['MATCH,DIRECT']`);
    try {
      const raw = await dial(slow.port());
      raw.write(socksConnectBytes('hang.test', 80));
      expect(await eventually(() => slow.box.dispatcher.activeCount === 1)).toBe(true);
      raw.resetAndDestroy();
      const started = Date.now();
      expect(await eventually(() => slow.box.dispatcher.activeCount === 0, 1000)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await eventually(() => slow.logs.some((l) => l.includes('the client closed before the connection was made')))).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('holds a REJECT-DROP client without a reply, then closes', async () => {
    const drop = await startBox(`
listeners: [{ name: d, type: socks, port: 0 }]
timeouts: { reject-drop: 0.4 }
rules: ['MATCH,REJECT-DROP']`);
    const raw = await dial(drop.port());
    const started = Date.now();
    raw.write(socksConnectBytes('any.test', 80));
    const reply = await readAll(raw).catch(() => Buffer.from([5, 0]));
    expect(reply).toEqual(Buffer.from([5, 0]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    raw.destroy();
    await drop.close();
  });

  it("answers BIND with 'command not supported' (0x07)", async () => {
    const raw = await dial(box.port());
    raw.write(Buffer.from([5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80]));
    expect(await readAll(raw)).toEqual(Buffer.from([5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
    raw.destroy();
  });

  it('sends data that follows the CONNECT request in the same packet', async () => {
    const raw = await dial(box.port());
    raw.end(Buffer.concat([socksConnectBytes('echo.test', port4), Buffer.from('early bytes')]));
    const all = await readAll(raw);
    expect(all.subarray(12).toString()).toBe('early bytes');
  });
});

describe('SOCKS5 UDP ASSOCIATE', () => {
  async function associate() {
    const { control, relay } = await socksAssociate(box.port());
    const client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    return { control, relay, client };
  }

  function exchange(client: UdpSocket, relay: { host: string; port: number }, frame: Buffer, timeoutMs = 2000) {
    return new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => (client.off('message', onMessage), resolve(undefined)), timeoutMs);
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(msg);
      };
      client.on('message', onMessage);
      client.send(frame, relay.port, relay.host);
    });
  }

  it('relays datagrams to IPv4, IPv6 and domain targets and reports their source', async () => {
    const { control, relay, client } = await associate();
    for (const [host, port] of [
      ['127.0.0.1', udpPort4],
      ['::1', udpPort6],
      ['echo.test', udpPort4],
    ] as const) {
      const frame = SocksClient.createUDPFrame({ remoteHost: { host, port }, data: Buffer.from(`to ${host}`) });
      const reply = await exchange(client, relay, frame);
      expect(reply, `reply from ${host}`).toBeDefined();
      const parsed = SocksClient.parseUDPFrame(reply!);
      expect(parsed.data.toString()).toBe(`echo:to ${host}`);
      expect(parsed.remoteHost.port).toBe(port);
    }
    control.destroy();
    client.close();
    expect(await eventually(() => box.logs.filter((l) => l.includes('[UDP]')).length >= 3)).toBe(true);
  });

  it('serves an association whose client is on IPv6 (relay socket bound on ::1)', async () => {
    const v6 = await startBox(`
listeners: [{ name: v6-in, type: socks, port: 0, listen: "::1" }]
rules: ['MATCH,DIRECT']`);
    const info = await socksAssociate(v6.port(), '::1');
    expect(ipToBytes(info.relay.host)).toEqual(ipToBytes('::1'));
    const client = createSocket('udp6');
    client.bind(0, '::1');
    await once(client, 'listening');
    for (const [host, port] of [['::1', udpPort6], ['127.0.0.1', udpPort4]] as const) {
      const frame = SocksClient.createUDPFrame({ remoteHost: { host, port }, data: Buffer.from('six') });
      const reply = await exchange(client, info.relay, frame);
      expect(reply && SocksClient.parseUDPFrame(reply).data.toString()).toBe('echo:six');
    }
    info.control.destroy();
    client.close();
    await v6.close();
  });

  it('drops fragments (FRAG != 0) and keeps serving whole datagrams', async () => {
    const { control, relay, client } = await associate();
    const frame = SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpPort4 }, data: Buffer.from('x') });
    const fragment = Buffer.from(frame);
    fragment[2] = 1;
    expect(await exchange(client, relay, fragment, 300)).toBeUndefined();
    expect(await exchange(client, relay, frame)).toBeDefined();
    control.destroy();
    client.close();
  });

  it('ends the association when its control connection closes, and after the idle timeout', async () => {
    const first = await associate();
    first.control.destroy();
    await sleep(100);
    const frame = SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpPort4 }, data: Buffer.from('x') });
    expect(await exchange(first.client, first.relay, frame, 300)).toBeUndefined();
    first.client.close();

    const second = await associate();
    const closed = once(second.control, 'close');
    second.control.resume();
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(3000);
    second.client.close();
  });
});

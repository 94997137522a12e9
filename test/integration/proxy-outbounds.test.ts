/**
 * The `type: socks5` and `type: http` proxies against servers that test what v2ray does not
 * show: bytes the server sends in the same packet as its reply, every failing reply, TLS to the
 * proxy (sluice's own listeners behind a TLS terminator), and servers that break the protocol.
 */
import { readFileSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, echoServer, listen, readBytes, socksPing, startBox, trackedServer, type RunningBox } from '../helpers/net.js';

const fixture = (name: string): string => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const echo = echoServer();
let echoPort = 0;
beforeAll(async () => {
  echoPort = await listen(echo);
});
afterAll(() => closeServer(echo));

/** A one-shot fake server: `answer` gets each connection and the bytes of its first message. */
async function fakeServer(answer: (socket: Socket, first: Buffer) => void): Promise<{ server: Server; port: number }> {
  const server = trackedServer((socket) => {
    let step = 0;
    socket.on('data', (data) => {
      if (step++ === 0 && data[0] === 0x05) return void socket.write(Buffer.from([0x05, 0x00])); // SOCKS5 greeting: no auth
      answer(socket, data);
    });
  });
  return { server, port: await listen(server) };
}

/** A sluice with one SOCKS5 listener whose MATCH goes to `proxy`. */
function sluiceThrough(proxy: string): Promise<RunningBox> {
  return startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies: [${proxy}]
rules: ['MATCH,out']`);
}

/** What a SOCKS5 client of sluice gets: the connected socket, or the error message (with sluice's REP code name). */
async function connectThrough(box: RunningBox): Promise<Socket | string> {
  try {
    return (await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: box.port(), type: 5 }, command: 'connect', destination: { host: 'echo.test', port: 80 }, timeout: 5000 })).socket;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('socks5 proxy against protocol edge cases', () => {
  it('delivers bytes the server sent in the same write as its success reply (a banner)', async () => {
    const fake = await fakeServer((socket) => socket.write(Buffer.concat([Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]), Buffer.from('BANNER')])));
    const box = await sluiceThrough(`{ name: out, type: socks5, server: 127.0.0.1, port: ${fake.port} }`);
    try {
      const socket = await connectThrough(box);
      expect(typeof socket).not.toBe('string');
      expect((await readBytes(socket as Socket, 6)).toString()).toBe('BANNER');
      (socket as Socket).destroy();
    } finally {
      await box.close();
      await closeServer(fake.server);
    }
  });

  const replies: [number, RegExp, RegExp][] = [
    [0x02, /NotAllowed/, /not allowed by its rules/],
    [0x04, /HostUnreachable/, /host unreachable/],
    [0x05, /ConnectionRefused/, /connection refused/],
    [0x07, /Failure/, /command not supported/],
  ];
  for (const [code, clientSees, logged] of replies) {
    it(`maps the server's REP ${code} to sluice's own reply and says why`, async () => {
      const fake = await fakeServer((socket) => socket.end(Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0])));
      const box = await sluiceThrough(`{ name: out, type: socks5, server: 127.0.0.1, port: ${fake.port} }`);
      try {
        expect(await connectThrough(box)).toMatch(clientSees);
        expect(box.logs.some((l) => logged.test(l) && l.includes('proxy out'))).toBe(true);
      } finally {
        await box.close();
        await closeServer(fake.server);
      }
    });
  }

  it('fails at once on a server that is not SOCKS5, and after the connect timeout on one that never answers', async () => {
    const http = trackedServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const silent = trackedServer(() => {});
    const [httpPort, silentPort] = [await listen(http), await listen(silent)];
    const box = await startBox(`
timeouts: { connect: 1 }
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies:
  - { name: out, type: socks5, server: 127.0.0.1, port: ${httpPort} }
  - { name: mute, type: socks5, server: 127.0.0.1, port: ${silentPort} }
rules: ['DOMAIN,echo.test,out', 'MATCH,mute']`);
    try {
      expect(await connectThrough(box)).toMatch(/Failure/);
      expect(box.logs.some((l) => l.includes('proxy out: the server is not a SOCKS5 server (version byte 72)'))).toBe(true);
      const started = Date.now();
      const silentResult = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: box.port(), type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: 9 }, timeout: 5000 }).catch((e: Error) => e.message);
      expect(silentResult).toMatch(/TTLExpired|Failure/);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(box.logs.some((l) => l.includes('proxy mute: no SOCKS5 reply within 1000 ms'))).toBe(true);
    } finally {
      await box.close();
      await Promise.all([closeServer(http), closeServer(silent)]);
    }
  });
});

describe('http proxy against protocol edge cases', () => {
  it('delivers bytes sent right after "200 Connection established"', async () => {
    const fake = await fakeServer((socket, first) => {
      expect(first.toString()).toMatch(/^CONNECT echo\.test:80 HTTP\/1\.1\r\nHost: echo\.test:80\r\n/);
      socket.write('HTTP/1.1 200 Connection established\r\nX-Via: fake\r\n\r\nBANNER');
    });
    const box = await sluiceThrough(`{ name: out, type: http, server: 127.0.0.1, port: ${fake.port} }`);
    try {
      const socket = await connectThrough(box);
      expect((await readBytes(socket as Socket, 6)).toString()).toBe('BANNER');
      (socket as Socket).destroy();
    } finally {
      await box.close();
      await closeServer(fake.server);
    }
  });

  it('maps 403 to "not allowed" and a garbage answer to a general failure', async () => {
    const forbidden = await fakeServer((socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    const garbage = await fakeServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
    const box = await startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies:
  - { name: out, type: http, server: 127.0.0.1, port: ${forbidden.port} }
  - { name: junk, type: http, server: 127.0.0.1, port: ${garbage.port} }
rules: ['DOMAIN,echo.test,out', 'MATCH,junk']`);
    try {
      expect(await connectThrough(box)).toMatch(/NotAllowed/);
      expect(box.logs.some((l) => l.includes('proxy out: CONNECT answered 403 Forbidden'))).toBe(true);
      const junk = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: box.port(), type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: 9 }, timeout: 5000 }).catch((e: Error) => e.message);
      expect(junk).toMatch(/Failure/);
      expect(box.logs.some((l) => l.includes('proxy junk: the proxy did not answer in HTTP'))).toBe(true);
    } finally {
      await box.close();
      await Promise.all([closeServer(forbidden.server), closeServer(garbage.server)]);
    }
  });
});

describe('tls: true — sluice listeners behind a TLS terminator (certificate for localhost)', () => {
  let server: RunningBox;
  let terminator: TlsServer;
  let tlsPort = 0;
  beforeAll(async () => {
    server = await startBox(`
listeners:
  - { name: http-in, type: http, port: 0, users: [{ username: u, password: p }] }
  - { name: socks-in, type: socks, port: 0, users: [{ username: u, password: p }] }
rules: ['MATCH,DIRECT']`);
    // The first byte tells the listener: 0x05 is SOCKS5, anything else HTTP.
    terminator = createTlsServer({ key: readFileSync(fixture('localhost.key')), cert: readFileSync(fixture('localhost.crt')) }, (tls) => {
      tls.once('data', (first: Buffer) => {
        const upstream = connect(first[0] === 0x05 ? server.port('socks-in') : server.port('http-in'), '127.0.0.1');
        upstream.write(first);
        tls.pipe(upstream).pipe(tls);
        tls.on('error', () => upstream.destroy());
        upstream.on('error', () => tls.destroy());
      });
    });
    tlsPort = await listen(terminator as unknown as Server);
  });
  afterAll(async () => {
    await server.close();
    await closeServer(terminator as unknown as Server);
  });

  for (const type of ['http', 'socks5'] as const) {
    it(`${type}: works with sni/servername localhost and skip-cert-verify, and refuses the self-signed certificate without it`, async () => {
      const sni = type === 'http' ? ', sni: localhost' : '';
      const box = await startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies:
  - { name: out, type: ${type}, server: 127.0.0.1, port: ${tlsPort}, username: u, password: p, tls: true, skip-cert-verify: true${sni} }
  - { name: strict, type: ${type}, server: localhost, port: ${tlsPort}, username: u, password: p, tls: true }
rules: ['DST-PORT,${echoPort},out', 'MATCH,strict']`);
      try {
        expect(await socksPing(box.port(), echoPort)).toBe('ping');
        expect(await connectThrough(box)).toMatch(/Failure/);
        expect(box.logs.some((l) => l.includes('TLS handshake with localhost failed') && /self[- ]signed/.test(l))).toBe(true);
      } finally {
        await box.close();
      }
    });
  }
});

import { once } from 'node:events';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort, closedWithin, closeServer, dial, echoServer, listen, readAll, startBox, type RunningBox } from '../helpers/net.js';

interface Seen {
  server: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
function origin(name: string): Server {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ server: name, url: req.url!, headers: req.headers, body });
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${name}:${req.method}:${req.url}:${body.length}`);
    });
  });
  server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  return server;
}

const a = origin('A');
const b = origin('B');
let portA = 0;
let portB = 0;
let box: RunningBox;
let authBox: RunningBox;

beforeAll(async () => {
  portA = await listen(a);
  portB = await listen(b);
  box = await startBox(`
listeners: [{ name: http-in, type: http, port: 0 }]
timeouts: { connect: 0.5 }
rules:
  - DOMAIN,blocked.test,REJECT
  - MATCH,DIRECT`);
  authBox = await startBox(`
authentication: ["bob:pa:ss"]
listeners: [{ name: http-auth, type: http, port: 0 }]
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await authBox.close();
  await closeServer(a);
  await closeServer(b);
});

function viaProxy(
  proxyPort: number,
  url: string,
  options: { method?: string; body?: string | Buffer[]; agent?: Agent; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; reused: boolean; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: proxyPort,
      method: options.method ?? 'GET',
      path: url,
      headers: { Host: new URL(url).host, ...options.headers },
      agent: options.agent ?? false,
    });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), reused: req.reusedSocket, headers: res.headers }),
      );
    });
    if (Array.isArray(options.body)) {
      for (const part of options.body) req.write(part);
      req.end();
    } else req.end(options.body);
  });
}

describe('HTTP proxy inbound', () => {
  it('keeps one client connection alive across requests to different hosts', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await viaProxy(box.port(), `http://127.0.0.1:${portA}/one?x=1`, { agent });
    const second = await viaProxy(box.port(), `http://localhost:${portB}/two`, { agent });
    const third = await viaProxy(box.port(), `http://127.0.0.1:${portA}/three`, { agent });
    agent.destroy();
    expect([first.body, second.body, third.body]).toEqual(['A:GET:/one?x=1:0', 'B:GET:/two:0', 'A:GET:/three:0']);
    expect([first.reused, second.reused, third.reused]).toEqual([false, true, true]);
  });

  it('forwards origin-form targets without hop-by-hop or proxy headers', async () => {
    seen.length = 0;
    await viaProxy(box.port(), `http://127.0.0.1:${portA}/h`, {
      headers: { 'Proxy-Connection': 'keep-alive', Connection: 'keep-alive, X-Hop', 'X-Hop': '1', 'X-Kept': 'yes', TE: 'trailers' },
    });
    const headers = seen[0]!.headers;
    expect(seen[0]!.url).toBe('/h');
    expect(headers['x-kept']).toBe('yes');
    expect(headers['proxy-connection']).toBeUndefined();
    expect(headers['x-hop']).toBeUndefined();
    expect(headers['te']).toBeUndefined();
  });

  it('forwards request bodies framed by Content-Length and by chunked encoding', async () => {
    const big = 'x'.repeat(300_000);
    expect((await viaProxy(box.port(), `http://127.0.0.1:${portA}/len`, { method: 'POST', body: big })).body).toBe(
      'A:POST:/len:300000',
    );
    const parts = [Buffer.from('abc'), Buffer.alloc(70_000, 1), Buffer.from('end')];
    expect((await viaProxy(box.port(), `http://127.0.0.1:${portA}/chunked`, { method: 'PUT', body: parts })).body).toBe(
      'A:PUT:/chunked:70006',
    );
  });

  it('tunnels with CONNECT and passes the client bytes after the CONNECT head through', async () => {
    const raw = await dial(box.port());
    raw.end(`CONNECT 127.0.0.1:${portA} HTTP/1.1\r\nHost: 127.0.0.1:${portA}\r\n\r\nGET /in-tunnel HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    const text = (await readAll(raw)).toString();
    expect(text.startsWith('HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK')).toBe(true);
    expect(text.endsWith('A:GET:/in-tunnel:0')).toBe(true);
  });

  it('keeps a busy CONNECT tunnel open past tcp-idle: only an idle one ends', async () => {
    const echo = echoServer();
    const echoPort = await listen(echo);
    const short = await startBox(`
listeners: [{ name: http-short, type: http, port: 0 }]
timeouts: { tcp-idle: 1 }
rules: ['MATCH,DIRECT']`);
    const raw = await dial(short.port());
    try {
      raw.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${echoPort}\r\n\r\n`);
      expect(String((await once(raw, 'data'))[0])).toMatch(/^HTTP\/1\.1 200/);
      let echoed = 0;
      raw.on('data', (chunk: Buffer) => (echoed += chunk.length));
      // A byte every 250 ms for 2.5 s: busy the whole time, and 2.5 times the idle timeout long.
      for (let i = 0; i < 10; i++) {
        raw.write('x');
        await sleep(250);
      }
      expect([raw.destroyed, echoed]).toEqual([false, 10]);
      expect(await closedWithin(raw, 2500), 'an idle tunnel still ends after tcp-idle').toBe(true);
    } finally {
      raw.destroy();
      await short.close();
      echo.destroyAll();
      await closeServer(echo);
    }
  });

  it('switches protocols for an Upgrade request and relays raw bytes after the 101', async () => {
    const raw = await dial(box.port());
    raw.write(`GET http://127.0.0.1:${portA}/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    const head = await once(raw, 'data');
    expect(String(head[0])).toMatch(/^HTTP\/1\.1 101/);
    raw.end('raw bytes after upgrade');
    expect((await readAll(raw)).toString()).toBe('raw bytes after upgrade');
  });

  it('answers 403 for REJECT, 502 for a refused connection, 504 for a timeout, 400 for garbage', async () => {
    expect((await viaProxy(box.port(), 'http://blocked.test/')).status).toBe(403);
    expect((await viaProxy(box.port(), `http://127.0.0.1:${await closedPort()}/`)).status).toBe(502);
    expect((await viaProxy(box.port(), 'http://hang.test/')).status).toBe(504);
    const raw = await dial(box.port());
    raw.write('\x16\x03\x01 not http at all\r\n\r\n');
    expect((await readAll(raw)).toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    raw.destroy();
    const relative = await dial(box.port());
    relative.write('GET /relative HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await readAll(relative)).toString()).toMatch(/^HTTP\/1\.1 400/);
    relative.destroy();
  });

  it('requires Proxy-Authorization when users are configured', async () => {
    const url = `http://127.0.0.1:${portA}/auth`;
    const denied = await viaProxy(authBox.port(), url);
    expect(denied.status).toBe(407);
    expect(denied.headers['proxy-authenticate']).toBe('Basic realm="sluice"');
    const wrong = await viaProxy(authBox.port(), url, { headers: { 'Proxy-Authorization': `Basic ${btoa('bob:nope')}` } });
    expect(wrong.status).toBe(407);
    seen.length = 0;
    const ok = await viaProxy(authBox.port(), url, { headers: { 'Proxy-Authorization': `Basic ${btoa('bob:pa:ss')}` } });
    expect(ok.body).toBe('A:GET:/auth:0');
    expect(seen[0]!.headers['proxy-authorization']).toBeUndefined();
  });
});

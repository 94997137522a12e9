// The HTTP proxy and RFC 9112 framing (issue 19 §3): requests a proxy and an origin could read
// two ways get 400 with nothing sent upstream, Host comes from the absolute URI, pipelined
// requests to two origins get both answers in order, and clients idle between requests or
// slow over a head are disconnected.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedWithin, closeServer, dial, listen, readBytes, startBox, trackedServer, type RunningBox } from '../helpers/net.js';

/** Every byte each connection to the recorder sent; it never answers. */
const recorded: Buffer[] = [];
/** Which of those connections the proxy has closed. */
const recorderClosed: boolean[] = [];
const recorder = trackedServer((socket) => {
  const index = recorded.push(Buffer.alloc(0)) - 1;
  recorderClosed[index] = false;
  socket.on('data', (chunk: Buffer) => (recorded[index] = Buffer.concat([recorded[index]!, chunk])));
  socket.on('end', () => (recorderClosed[index] = true));
});

/** An origin answering `name path host` (after `delay` ms for /slow) and the SHA-256 of POST bodies. */
function origin(name: string) {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const hash = createHash('sha256');
    req.on('data', (chunk: Buffer) => hash.update(chunk));
    req.on('end', () => {
      const body = req.method === 'POST' ? hash.digest('hex') : `${name} ${req.url} ${req.headers.host}`;
      const answer = (): void => void res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
      if (req.url === '/slow') setTimeout(answer, 300);
      else answer();
    });
  });
}

const a = origin('a');
const b = origin('b');
let aPort = 0;
let bPort = 0;
let recorderPort = 0;
let box: RunningBox;

beforeAll(async () => {
  [aPort, bPort, recorderPort] = [await listen(a), await listen(b), await listen(recorder)];
  box = await startBox(`
listeners: [{ name: web, type: http, port: 0 }]
timeouts: { handshake: 1, http-keep-alive: 1 }
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await Promise.all([closeServer(a), closeServer(b), closeServer(recorder)]);
});

/** Sends `request` raw and reads everything until the proxy closes (or `ms` passes). */
async function exchange(request: string | Buffer, ms = 2000): Promise<string> {
  const socket: Socket = await dial(box.port());
  socket.write(request);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await closedWithin(socket, ms);
  socket.destroy();
  return Buffer.concat(chunks).toString('latin1');
}

describe('requests a proxy and an origin could read two ways', () => {
  const cases: [string, string][] = [
    ['Content-Length and Transfer-Encoding', 'POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n'],
    ['a bad chunk size', 'POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['chunk data without its CRLF', 'POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'],
    ['a bare LF line end', 'GET /x HTTP/1.1\nHost: a\r\n\r\n'],
    ['a bare CR in a header', 'GET /x HTTP/1.1\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n'],
  ];
  for (const [what, request] of cases) {
    it(`${what}: 400, and nothing reaches the origin`, async () => {
      recorded.length = 0;
      const absolute = request.replace('/x ', `http://127.0.0.1:${recorderPort}/x `);
      expect((await exchange(absolute)).split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      await sleep(50);
      expect(recorded.map((r) => r.length).reduce((x, y) => x + y, 0)).toBe(0);
    });
  }

  it('a chunked upload of 1 MiB streams through re-framed and byte-exact; broken framing after 64 KiB aborts the origin connection', async () => {
    const payload = randomBytes(1 << 20);
    const chunks = [];
    for (let at = 0; at < payload.length; at += 50_000) {
      const piece = payload.subarray(at, at + 50_000);
      chunks.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from('\r\n'));
    }
    const body = Buffer.concat([...chunks, Buffer.from('0\r\nX-Trailer: 1\r\n\r\n')]);
    const head = Buffer.from(`POST http://127.0.0.1:${aPort}/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    const answer = await exchange(Buffer.concat([head, body]), 5000);
    expect(answer.endsWith(createHash('sha256').update(payload).digest('hex'))).toBe(true);

    recorded.length = 0;
    const good = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 1), Buffer.from('\r\n')]);
    const bad = Buffer.concat([Buffer.from(`POST http://127.0.0.1:${recorderPort}/up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n`), good, Buffer.from('5\r\nhelloXX')]);
    expect((await exchange(bad)).split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    await sleep(50);
    // The held first 64 KiB went out; the broken chunk's data streamed, its bad end did not,
    // and the origin connection was aborted mid-request, so the origin never saw a whole request.
    expect(recorded).toHaveLength(1);
    const seen = recorded[0]!.toString('latin1');
    expect(seen).toMatch(/^POST \/up HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n/);
    expect(seen.endsWith('\r\n5\r\nhello')).toBe(true);
    expect(recorderClosed[0]).toBe(true);
  });
});

describe('forwarding', () => {
  it('sets Host from the absolute URI, whatever Host the client sent', async () => {
    const answer = await exchange(`GET http://127.0.0.1:${aPort}/h HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`);
    expect(answer.endsWith(`a /h 127.0.0.1:${aPort}`)).toBe(true);
  });

  it('pipelined requests to two origins get both responses, whole and in order', async () => {
    const requests =
      `GET http://127.0.0.1:${aPort}/slow HTTP/1.1\r\nHost: x\r\n\r\n` +
      `GET http://127.0.0.1:${aPort}/2 HTTP/1.1\r\nHost: x\r\n\r\n` +
      `GET http://127.0.0.1:${bPort}/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const answer = await exchange(requests, 4000);
    const bodies = answer.split(/HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\n/).filter((part) => part !== '');
    expect(bodies).toEqual([`a /slow 127.0.0.1:${aPort}`, `a /2 127.0.0.1:${aPort}`, `b /3 127.0.0.1:${bPort}`]);
  });
});

describe('timeouts', () => {
  it('closes a keep-alive client idle between requests after http-keep-alive, not while a response is pending', async () => {
    const socket = await dial(box.port());
    socket.write(`GET http://127.0.0.1:${aPort}/1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await readBytes(socket, 10);
    const started = Date.now();
    expect(await closedWithin(socket, 3000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(800);
    socket.destroy();
    // A response slower than nothing but pending: the keep-alive clock does not run meanwhile.
    const slow = await dial(box.port());
    slow.write(`GET http://127.0.0.1:${aPort}/slow HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect((await readBytes(slow, 20)).toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    slow.destroy();
  });

  it('closes a client whose next request head does not arrive within the handshake timeout', async () => {
    const socket = await dial(box.port());
    socket.write(`GET http://127.0.0.1:${aPort}/1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await readBytes(socket, 10);
    socket.write(`GET http://127.0.0.1:${aPort}/2 HTTP/1.1\r\nHost: x\r\n`);
    const started = Date.now();
    expect(await closedWithin(socket, 3000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1800);
    socket.destroy();
  });
});

import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, closedWithin, dial, echoServer, listen, readAll, startBox, type RunningBox } from '../helpers/net.js';

// Every well-formed request is REJECTed, so random bytes that happen to form a valid
// CONNECT never dial anything.
let box: RunningBox;
let allow: RunningBox;
const echo = echoServer();
let echoPort = 0;
const handshakeMs = 400;

beforeAll(async () => {
  echoPort = await listen(echo);
  box = await startBox(`
listeners:
  - { name: mixed-in, type: mixed, port: 0 }
  - { name: socks-auth, type: socks, port: 0, users: [{ username: u, password: p }] }
timeouts: { handshake: ${handshakeMs / 1000} }
rules: ['MATCH,REJECT']`);
  allow = await startBox(`
listeners: [{ name: ok, type: socks, port: 0 }]
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await allow.close();
  await closeServer(echo);
});

const socksLike = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  // A SOCKS5 greeting with random methods, then random or truncated request bytes.
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.uint8Array({ maxLength: 40 })).map(([methods, rest]) =>
    Uint8Array.from([5, methods.length, ...methods, 5, ...rest]),
  ),
  // Absurd lengths: a domain of 255 bytes announced, few sent.
  fc.uint8Array({ maxLength: 20 }).map((rest) => Uint8Array.from([5, 1, 0, 5, 1, 0, 3, 255, ...rest])),
  fc.string({ maxLength: 80 }).map((s) => new TextEncoder().encode(`GET ${s}`)),
  fc.string({ maxLength: 80 }).map((s) => new TextEncoder().encode(`CONNECT ${s} HTTP/1.1\r\n${s}\r\n\r\n`)),
);

async function stillServes(): Promise<void> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: allow.port(), type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: echoPort },
  });
  socket.end('alive');
  expect((await readAll(socket)).toString()).toBe('alive');
}

describe('malformed handshakes', () => {
  it('random, truncated or slow input gets an error reply or a close within the handshake timeout', async () => {
    await fc.assert(
      fc.asyncProperty(socksLike, fc.boolean(), fc.constantFrom('mixed-in', 'socks-auth'), async (bytes, slowly, listener) => {
        const socket = await dial(box.port(listener));
        socket.resume();
        if (slowly) {
          for (const byte of bytes) {
            if (socket.destroyed) break;
            socket.write(Uint8Array.of(byte));
            await sleep(2);
          }
        } else socket.write(bytes);
        const closed = await closedWithin(socket, handshakeMs + 1500);
        socket.destroy();
        expect(closed).toBe(true);
      }),
      { numRuns: 60 },
    );
    await stillServes();
    expect(box.box.dispatcher.activeCount).toBe(0);
  }, 120_000);

  it('a client that connects and says nothing is dropped after the handshake timeout', async () => {
    const socket = await dial(box.port('mixed-in'));
    socket.resume();
    const started = Date.now();
    await once(socket, 'end');
    socket.destroy();
    expect(Date.now() - started).toBeGreaterThanOrEqual(handshakeMs - 50);
  });
});

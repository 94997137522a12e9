import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, echoServer, listen, readAll, startBox, type RunningBox } from '../helpers/net.js';

const flows = 200;
const size = 1024 * 1024;
const echo = echoServer();
let echoPort = 0;
let box: RunningBox;

beforeAll(async () => {
  echoPort = await listen(echo);
  box = await startBox(`
listeners: [{ name: mixed-in, type: mixed, port: 0 }]
log-level: warning
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await closeServer(echo);
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function viaSocks(): Promise<Socket> {
  return SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: box.port(), type: 5 },
    command: 'connect',
    destination: { host: '127.0.0.1', port: echoPort },
    timeout: 20_000,
  }).then((info) => info.socket);
}

function viaHttpConnect(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: box.port(), method: 'CONNECT', path: `127.0.0.1:${echoPort}`, agent: false });
    req.on('connect', (res, socket: Socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`status ${res.statusCode}`))));
    req.on('error', reject);
    req.end();
  });
}

describe('mixed port under load', () => {
  it(`moves 1 MiB each way on ${flows} concurrent flows (half SOCKS5, half HTTP CONNECT), byte-exact`, async () => {
    const results = await Promise.all(
      Array.from({ length: flows }, async (_, i) => {
        const payload = randomBytes(size);
        const socket = await (i % 2 === 0 ? viaSocks() : viaHttpConnect());
        const received = readAll(socket);
        // Write in pieces so both directions are busy at once.
        for (let offset = 0; offset < size; offset += 256 * 1024) socket.write(payload.subarray(offset, offset + 256 * 1024));
        socket.end();
        const back = await received;
        socket.destroy();
        return sha(back) === sha(payload) && back.length === size;
      }),
    );
    expect(results.filter((ok) => !ok)).toHaveLength(0);
    expect(box.box.dispatcher.activeCount).toBe(0);
  }, 120_000);
});

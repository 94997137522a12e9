/** sluice run with the crypto addons missing: one warning each, and a VMess chain still carries traffic. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SocksClient } from 'socks';
import { afterAll, expect, it } from 'vitest';
import { closeServer, echoServer, listen, readAll, startVmessServer } from '../helpers/net.js';
import { terminate } from '../../bench/harness.js';

const bin = new URL('../../bin/sluice.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sluice-no-addons-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('sluice run warns once per missing crypto addon, and a VMess chain through it is byte-exact', async () => {
  const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
  const echo = echoServer();
  const echoPort = await listen(echo);
  const server = await startVmessServer('alice', uuid);
  const config = join(dir, 'client.yaml');
  writeFileSync(config, `listeners: [{ name: m, type: mixed, port: 0 }]
proxies: [{ name: vm, type: vmess, server: 127.0.0.1, port: ${server.port()}, uuid: ${uuid}, cipher: chacha20-poly1305 }]
rules: ['MATCH,vm']
`);
  const client = spawn(process.execPath, [bin, 'run', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_DISABLE_ADDONS: 'aead,vmess_kdf' } });
  let output = '';
  client.stderr.on('data', (chunk: Buffer) => (output += chunk));
  try {
    await expect.poll(() => output, { timeout: 10_000 }).toMatch(/listening mixed m on 127\.0\.0\.1:(\d+)/);
    expect(output.match(/addon is not built/g)).toHaveLength(2);
    expect(output).toMatch(/WARN.*the aead addon is not built.*working without it: VMess and tunnel packets are sealed through node:crypto/);
    const port = Number(/listening mixed m on 127\.0\.0\.1:(\d+)/.exec(output)![1]);
    const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: echoPort } });
    const payload = randomBytes(1 << 20);
    const back = readAll(socket);
    socket.end(payload);
    expect((await back).equals(payload)).toBe(true);
  } finally {
    await terminate(client, 3000);
    await server.close();
    await closeServer(echo);
  }
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile } from '../../src/config/load.js';
import { closedPorts, closeServer, dial, echoServer, eventually, listen, readBytes, socksConnectBytes } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** SOCKS5 CONNECT through `port` to the echo server; resolves with the socket and the REP code. */
async function connect(port: number, echoPort: number): Promise<{ socket: Awaited<ReturnType<typeof dial>>; rep: number }> {
  const socket = await dial(port);
  socket.write(socksConnectBytes('127.0.0.1', echoPort));
  const reply = await readBytes(socket, 12);
  return { socket, rep: reply[3]! };
}

describe('config reload', () => {
  it('keeps open flows byte-exact, applies new rules and listeners, and refuses a broken config', async () => {
    const echo = echoServer();
    const echoPort = await listen(echo);
    const [portA, portB, api] = (await closedPorts(3)) as [number, number, number];
    const file = join(dir, 'config.yaml');
    const listeners = (extra: string): string => `listeners:\n  - { name: a, type: mixed, port: ${portA} }\n${extra}`;
    writeFileSync(file, `${listeners('')}external-controller: 127.0.0.1:${api}\nrules: ['MATCH,DIRECT']\n`);
    const logs: string[] = [];
    const box = new Box(await loadConfigFile(file), new Logger('info', 'text', { write: (l: string) => logs.push(l) }), { configFile: file });
    await box.start();
    try {
      const open = await connect(portA, echoPort);
      expect(open.rep).toBe(0);
      const half = Buffer.alloc(512 * 1024, 1);
      open.socket.write(half);
      expect((await readBytes(open.socket, half.length)).equals(half)).toBe(true);

      writeFileSync(file, `${listeners(`  - { name: b, type: mixed, port: ${portB} }\n`)}external-controller: 127.0.0.1:${api}\nrules: ['MATCH,REJECT']\n`);
      await box.reloadFromFile();
      // The flow opened before the reload goes on, byte-exact.
      const rest = Buffer.alloc(512 * 1024, 2);
      open.socket.write(rest);
      expect((await readBytes(open.socket, rest.length)).equals(rest)).toBe(true);
      open.socket.destroy();
      // New flows follow the new rules, on the kept listener and on the added one.
      for (const port of [portA, portB]) {
        const next = await connect(port, echoPort);
        expect(next.rep, `port ${port}`).toBe(0x02);
        next.socket.destroy();
      }
      expect(box.inbounds.map((i) => i.name)).toEqual(['a', 'b']);

      writeFileSync(file, `listeners: [{ name: a, type: mixed, port: 70000 }]\nrules: ['MATCH,DIRECT']\n`);
      await expect(box.reloadFromFile()).rejects.toBeInstanceOf(ConfigError);
      const still = await connect(portB, echoPort);
      expect(still.rep).toBe(0x02);
      still.socket.destroy();

      // PUT /configs with a payload: listener b goes away, rules change back.
      const response = await request(`http://127.0.0.1:${api}/configs?force=true`, {
        method: 'PUT',
        body: JSON.stringify({ path: '', payload: `${listeners('')}rules: ['MATCH,DIRECT']\n` }),
      });
      await response.body.dump();
      expect(response.statusCode).toBe(204);
      await expect(dial(portB)).rejects.toThrow(/ECONNREFUSED/);
      const direct = await connect(portA, echoPort);
      expect(direct.rep).toBe(0);
      direct.socket.destroy();
      const restart = await request(`http://127.0.0.1:${api}/restart`, { method: 'POST' });
      expect([restart.statusCode, await restart.body.json()]).toEqual([400, { message: expect.stringMatching(/listeners\[0\]\.port/) }]);
      const bad = await request(`http://127.0.0.1:${api}/configs`, { method: 'PUT', body: JSON.stringify({ payload: 'rules: [BOGUS]' }) });
      expect([bad.statusCode, ((await bad.body.json()) as { message: string }).message]).toEqual([400, expect.stringMatching(/rules\[0\]/)]);
    } finally {
      await box.close(100);
      await closeServer(echo);
    }
  });

  it('sluice run reloads on SIGHUP: an added listener accepts', async () => {
    const echo = echoServer();
    const echoPort = await listen(echo);
    const [portA, portB] = (await closedPorts(2)) as [number, number];
    const file = join(dir, 'hup.yaml');
    writeFileSync(file, `mixed-port: ${portA}\nrules: ['MATCH,DIRECT']\n`);
    const child = spawn(process.execPath, [new URL('../../bin/sluice.js', import.meta.url).pathname, 'run', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (c) => (output += c));
    try {
      expect(await eventually(() => output.includes('started with'), 10_000)).toBe(true);
      writeFileSync(file, `mixed-port: ${portA}\nlisteners: [{ name: extra, type: socks, port: ${portB} }]\nrules: ['MATCH,DIRECT']\n`);
      child.kill('SIGHUP');
      expect(await eventually(() => output.includes('config reloaded'), 5000)).toBe(true);
      const flow = await connect(portB, echoPort);
      expect(flow.rep).toBe(0);
      flow.socket.destroy();
      writeFileSync(file, 'mixed-port: [oops]\n');
      child.kill('SIGHUP');
      expect(await eventually(() => output.includes('reload failed, the running config stays'), 5000)).toBe(true);
      const last = await connect(portA, echoPort);
      expect(last.rep).toBe(0);
      last.socket.destroy();
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await sleep(10);
      await closeServer(echo);
    }
  });
});

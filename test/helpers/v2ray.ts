import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminate, waitForPort } from '../../bench/harness.js';
import { closedPort } from './net.js';

/** A running Debian v2ray 4.34 process with a generated JSON config. */
export interface V2ray {
  /** Port of its only inbound. */
  port: number;
  /** What it printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `v2ray -config` with the given inbound and outbound; resolves once its inbound accepts TCP. */
export async function startV2ray(
  inbound: (port: number) => object,
  outbound: object,
  env: Record<string, string> = {},
): Promise<V2ray> {
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-v2ray-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ log: { loglevel: 'warning' }, inbounds: [inbound(port)], outbounds: [outbound] }));
  const child: ChildProcess = spawn('v2ray', ['-config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const stop = async (): Promise<void> => {
    // A v2ray that does not stop within 2 s is killed, so no test waits on it.
    await terminate(child, 2000);
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitForPort(port))) {
    await stop();
    throw new Error(`v2ray did not listen on ${port}:\n${output}`);
  }
  return { port, output: () => output, stop };
}

/** Debian's dnsmasq as a fixed-answer DNS server for the DNS tests, on a loopback port, logging every query it gets. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminate } from '../../bench/harness.js';
import { closedPort } from './net.js';

/** A running dnsmasq. */
export interface Dnsmasq {
  /** Its UDP and TCP port on 127.0.0.1. */
  port: number;
  /** The queries it logged so far (`query[A] name from …` lines). */
  queries(): string[];
  stop(): Promise<void>;
}

/** Starts `dnsmasq` answering only what `records` (its `--address=` / `--host-record=` options) say; everything else is REFUSED. */
export async function startDnsmasq(records: readonly string[]): Promise<Dnsmasq> {
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dnsmasq-'));
  const log = join(dir, 'log');
  const child: ChildProcess = spawn(
    'dnsmasq',
    ['--keep-in-foreground', '--no-resolv', '--no-hosts', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--local-ttl=300', `--pid-file=${join(dir, 'pid')}`, `--log-facility=${log}`, '--log-queries', '--user=root', ...records],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const read = (): string => {
    try {
      return readFileSync(log, 'utf8');
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + 5000;
  while (!read().includes('started') && Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    queries: () => read().split('\n').filter((line) => /query\[/.test(line)),
    stop: async () => {
      await terminate(child, 2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

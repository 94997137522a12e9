/**
 * VMess benchmark: a sluice client → sluice server chain against a v2ray client → v2ray
 * server chain (when Debian's v2ray is installed), same sink, same load generator.
 */
import { report } from './report.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concurrency, connectionRate, describeRate, median, paired, ratePerSecond, terminate, throughput, waitForPort, type RateResult, type Sink } from './harness.js';
import { startSluice } from './relay.js';
import { socksConnect } from './socks-client.js';

const uuid = '9d2b6a7e-3f1c-4b8a-a5d4-1e2f3a4b5c6d';
const ciphers = ['aes-128-gcm', 'chacha20-poly1305'] as const;

/** A running client → server chain. */
export interface Chain {
  /** SOCKS5 port of the client end. */
  port: number;
  /** Stops both ends. */
  stop(): Promise<void>;
}

/**
 * Starts a sluice VMess server (to DIRECT) and a sluice client in front of it (SOCKS5 in,
 * VMess out), each its own `sluice run`; `extra` is YAML put in front of each one's config.
 */
export async function sluiceChain(cipher: string, extra: { server?: string; client?: string } = {}): Promise<Chain> {
  const server = await startSluice(
    `${extra.server ?? ''}listeners:\n  - { name: vm, type: vmess, port: 0, allow-private-destinations: true, users: [{ username: b, uuid: ${uuid} }] }\nrules: ['MATCH,DIRECT']\n`,
    'vm',
  );
  const client = await startSluice(
    `${extra.client ?? ''}listeners: [{ name: socks, type: socks, port: 0 }]\nproxies:\n  - { name: p, type: vmess, server: 127.0.0.1, port: ${server.port}, uuid: ${uuid}, cipher: ${cipher} }\nrules: ['MATCH,p']\n`,
    'socks',
  );
  return { port: client.port, stop: async () => (await client.stop(), await server.stop()) };
}

function hasV2ray(): boolean {
  return spawnSync('sh', ['-c', 'command -v v2ray']).status === 0;
}

/** Runs `v2ray -config` on a generated file until stopped. */
async function startV2ray(config: object): Promise<{ stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-v2ray-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ log: { loglevel: 'none' }, ...config }));
  const child = spawn('v2ray', ['-config', file], { stdio: 'ignore' });
  return {
    stop: async () => {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function v2rayChain(cipher: string, serverPort: number, socksPort: number): Promise<Chain> {
  const server = await startV2ray({
    inbounds: [{ listen: '127.0.0.1', port: serverPort, protocol: 'vmess', settings: { clients: [{ id: uuid, alterId: 0 }] } }],
    outbounds: [{ protocol: 'freedom' }],
  });
  const client = await startV2ray({
    inbounds: [{ listen: '127.0.0.1', port: socksPort, protocol: 'socks', settings: { auth: 'noauth' } }],
    outbounds: [{ protocol: 'vmess', settings: { vnext: [{ address: '127.0.0.1', port: serverPort, users: [{ id: uuid, alterId: 0, security: cipher }] }] } }],
  });
  if (!(await waitForPort(socksPort)) || !(await waitForPort(serverPort))) throw new Error('v2ray did not start listening');
  return { port: socksPort, stop: async () => (await client.stop(), await server.stop()) };
}

/** A chain's throughput (one 512 MiB stream) in MB/s. */
function megabytesPerSecond(chain: Chain, sink: Sink): () => Promise<number> {
  return () => throughput(() => socksConnect(chain.port, sink.port), sink, 1, 512 * 1024 * 1024);
}

/** A chain's connection rate over 5 s, each run's full result kept in `runs`. */
function connectionsPerSecond(chain: Chain, runs: RateResult[]): () => Promise<number> {
  return async () => {
    const result = await connectionRate(chain.port, 5);
    runs.push(result);
    return ratePerSecond(result);
  };
}

/** The run whose rate is the median one (its latencies are the ones reported). */
function medianRun(runs: RateResult[], rate: number): RateResult {
  return runs.find((run) => ratePerSecond(run) === rate)!;
}

/**
 * Prints VMess chain throughput and connection rate for sluice and, if installed, v2ray. Both
 * chains run side by side and are measured in alternation (the box drifts by tens of percent
 * within a minute), and each ratio is the median of the per-pair ratios.
 */
export async function benchVmess(sink: Sink, freePort: () => Promise<number>): Promise<void> {
  const v2ray = hasV2ray();
  if (!v2ray) report('vmess: v2ray is not installed; sluice figures only (apt-get install v2ray for the comparison)');
  for (const cipher of ciphers) {
    const ours = await sluiceChain(cipher);
    const theirs = v2ray ? await v2rayChain(cipher, await freePort(), await freePort()) : undefined;
    try {
      if (!theirs) {
        const mbps = await median(3, megabytesPerSecond(ours, sink));
        report(`vmess ${cipher} chain (client+server on this box): sluice ${mbps.toFixed(0)} MB/s, connections ${describeRate(await connectionRate(ours.port, 5))}`);
        continue;
      }
      const ourRuns: RateResult[] = [];
      const theirRuns: RateResult[] = [];
      const bytes = await paired(4, megabytesPerSecond(theirs, sink), megabytesPerSecond(ours, sink));
      const rates = await paired(3, connectionsPerSecond(theirs, theirRuns), connectionsPerSecond(ours, ourRuns));
      report(
        `vmess ${cipher} chain (client+server on this box): sluice ${bytes.ours.toFixed(0)} MB/s, connections ${describeRate(medianRun(ourRuns, rates.ours))}; ` +
          `v2ray 4.34 ${bytes.base.toFixed(0)} MB/s, connections ${describeRate(medianRun(theirRuns, rates.base))}; ` +
          `ratio throughput ${bytes.ratio.toFixed(2)}x (median of 4 interleaved pairs; target >= 0.8x), ` +
          `connections ${rates.ratio.toFixed(2)}x (median of 3 interleaved pairs; target >= 1.5x) [${concurrency} concurrent]`,
      );
    } finally {
      await ours.stop();
      await theirs?.stop();
    }
  }
}

/** Relay benchmark: sluice's SOCKS5 relay against a plain stream.pipe relay and a minimal SOCKS5 server. */
import { report } from './report.js';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concurrency, connectionRate, describeRate, fromRoot, here, paired, ratePerSecond, startChild, stopChild, throughput, type Sink } from './harness.js';
import { socksConnect } from './socks-client.js';

const sluiceBin = fromRoot('bin/sluice.js').pathname;

/** Starts `sluice run` on a config and waits for the listener named `name` to report its port. */
export async function startSluice(yaml: string, name: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  const child = await startChild([sluiceBin, 'run', '-f', file], new RegExp(`listening \\w+ ${name} on [^\\s]+:(\\d+)`));
  return {
    ...child,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Prints relay throughput (1 and 8 streams) and SOCKS5 connection rate, each with its baseline. */
export async function benchRelay(sink: Sink): Promise<void> {
  const sluice = await startSluice(`listeners: [{ name: bench, type: socks, port: 0 }]\nrules: ['MATCH,DIRECT']\n`, 'bench');
  const pipe = await startChild([here('./pipe-relay.js'), String(sink.port)], /^(\d+)\n/);
  const minimal = await startChild([here('./minimal-socks.js')], /^(\d+)\n/);
  const viaPipe = async (): Promise<Socket> => {
    const socket = connect({ port: pipe.port, host: '127.0.0.1', noDelay: true });
    await once(socket, 'connect');
    return socket;
  };
  try {
    // A/A control: two relays that do the same thing (stream.pipe), to show the noise floor of the ratios below.
    const control = await paired(6, () => throughput(viaPipe, sink, 1, 1 << 30), () => throughput(() => socksConnect(minimal.port, sink.port), sink, 1, 1 << 30));
    report(`noise control, 1 stream: minimal SOCKS5 (stream.pipe) vs plain pipe ratio ${control.ratio.toFixed(2)}x (ideally 1.00x)`);
    for (const streams of [1, 8]) {
      const bytes = (streams === 1 ? 1024 : 256) * 1024 * 1024;
      const r = await paired(
        6,
        () => throughput(viaPipe, sink, streams, bytes),
        () => throughput(() => socksConnect(sluice.port, sink.port), sink, streams, bytes),
      );
      report(
        `relay throughput, ${streams} stream${streams > 1 ? 's' : ''}: sluice SOCKS5 ${r.ours.toFixed(0)} MB/s, ` +
          `plain Node pipe ${r.base.toFixed(0)} MB/s, ratio ${r.ratio.toFixed(2)}x (median of 6 interleaved pairs; target >= 0.9x)`,
      );
    }
    const base = await connectionRate(minimal.port, 5);
    const ours = await connectionRate(sluice.port, 5);
    report(
      `new SOCKS5 connections (${concurrency} concurrent, 5 s): sluice ${describeRate(ours)}; ` +
        `minimal Node SOCKS5 server ${describeRate(base)}; ratio ${(ratePerSecond(ours) / ratePerSecond(base)).toFixed(2)}x ` +
        `(target >= 5000/s, p50 < 2 ms)`,
    );
  } finally {
    await sluice.stop();
    await stopChild(pipe);
    await stopChild(minimal);
  }
}

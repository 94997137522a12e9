/**
 * `npm run bench`: loopback figures for the relay, each with a baseline measured in the same
 * run (the machine is noisy; ratios are what to compare). The proxy under test and the
 * baseline relay each run in their own process; the traffic source and sink run here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { socksConnect } from './socks-client.js';

/** Connection loops the load generator runs at once. */
const concurrency = 8;

const here = (file: string): string => new URL(file, import.meta.url).pathname;
const sluiceBin = new URL('../../bin/sluice.js', import.meta.url).pathname;

interface Child {
  process: ChildProcess;
  port: number;
}

/** Starts a child and waits until it prints the port it listens on (a line matching `portPattern`). */
async function startChild(args: string[], portPattern: RegExp): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = portPattern.exec(output);
      if (!m) return;
      // Keep draining the child's output (flow log lines) without holding on to it.
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.stdout!.resume();
      child.stderr!.resume();
      resolve({ process: child, port: Number(m[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code}:\n${output}`)));
  });
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null) return;
  child.process.kill('SIGTERM');
  await once(child.process, 'exit');
}

/** A sink that counts bytes and resolves each stream's promise when it has received `expected` bytes. */
function startSink(): Promise<{ server: Server; port: number; expect(bytes: number): Promise<void> }> {
  let waiter: { bytes: number; resolve: () => void } | undefined;
  let received = 0;
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (waiter && received >= waiter.bytes) {
        const { resolve } = waiter;
        waiter = undefined;
        resolve();
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        expect: (bytes) =>
          new Promise<void>((done) => {
            received = 0;
            waiter = { bytes, resolve: done };
          }),
      }),
    ),
  );
}

/** Pushes `bytesPerStream` through each of `streams` sockets as fast as they take it; returns MB/s. */
async function throughput(open: () => Promise<Socket>, sink: Awaited<ReturnType<typeof startSink>>, streams: number, bytesPerStream: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: streams }, open));
  const chunk = Buffer.alloc(256 * 1024, 0xab);
  const arrived = sink.expect(streams * bytesPerStream);
  const started = performance.now();
  await Promise.all(
    sockets.map(async (socket) => {
      for (let sent = 0; sent < bytesPerStream; sent += chunk.length) {
        if (!socket.write(chunk)) await once(socket, 'drain');
      }
    }),
  );
  await arrived;
  const seconds = (performance.now() - started) / 1000;
  for (const socket of sockets) socket.destroy();
  return (streams * bytesPerStream) / seconds / 1e6;
}

async function connectionRate(proxyPort: number, seconds: number, concurrency: number) {
  const child = spawn(process.execPath, [here('./conn-load.js'), String(proxyPort), String(seconds), String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  await once(child, 'exit');
  return JSON.parse(output) as { connections: number; seconds: number; p50Ms: number; p99Ms: number; errors: number };
}

/** Median of a few runs, to damp the noise of a shared machine. */
async function median(runs: number, measure: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await measure());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
}

/** Runs every benchmark and prints a table; resolves when all children have exited. */
export async function runBench(): Promise<void> {
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const config = join(dir, 'bench.yaml');
  writeFileSync(config, `listeners: [{ name: bench, type: socks, port: 0 }]\nrules: ['MATCH,DIRECT']\n`);
  const sluice = await startChild([sluiceBin, 'run', '-f', config], /listening socks bench on [^\s]+:(\d+)/);
  const pipe = await startChild([here('./pipe-relay.js'), String(sink.port)], /^(\d+)\n/);
  const viaSluice = (): Promise<Socket> => socksConnect(sluice.port, sink.port);
  const viaPipe = async (): Promise<Socket> => {
    const socket = connect({ port: pipe.port, host: '127.0.0.1', noDelay: true });
    await once(socket, 'connect');
    return socket;
  };

  console.log('sluice bench: loopback only; the proxy and each baseline run in their own process; sluice logs at info');
  try {
    for (const streams of [1, 8]) {
      const bytes = (streams === 1 ? 1024 : 256) * 1024 * 1024;
      const base = await median(3, () => throughput(viaPipe, sink, streams, bytes));
      const ours = await median(3, () => throughput(viaSluice, sink, streams, bytes));
      console.log(
        `relay throughput, ${streams} stream${streams > 1 ? 's' : ''}: sluice SOCKS5 ${ours.toFixed(0)} MB/s, ` +
          `plain Node pipe ${base.toFixed(0)} MB/s, ratio ${(ours / base).toFixed(2)}x (target >= 0.9x)`,
      );
    }
    const minimal = await startChild([here('./minimal-socks.js')], /^(\d+)\n/);
    try {
      const base = await connectionRate(minimal.port, 5, concurrency);
      const ours = await connectionRate(sluice.port, 5, concurrency);
      const describe = (r: typeof ours): string =>
        `${(r.connections / r.seconds).toFixed(0)}/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`;
      console.log(
        `new SOCKS5 connections (${concurrency} concurrent, 5 s, load generator in its own process): ` +
          `sluice ${describe(ours)}; minimal Node SOCKS5 server ${describe(base)}; ` +
          `ratio ${(ours.connections / ours.seconds / (base.connections / base.seconds)).toFixed(2)}x (target >= 5000/s, p50 < 2 ms)`,
      );
    } finally {
      await stopChild(minimal);
    }
  } finally {
    await stopChild(sluice);
    await stopChild(pipe);
    sink.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Shared parts of the benchmarks: child processes that print their port, a byte sink,
 * throughput and connection-rate measurements, medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { packageHome } from '../src/config/load.js';

/** Connection loops the load generator runs at once. */
export const concurrency = 8;

/** Path of a sibling compiled file (the benchmark children). */
export const here = (file: string): string => new URL(file, import.meta.url).pathname;

/** A path in the checkout (bin/sluice.js, rules/…), or beside it (../shared/…): from the package home config/load.ts knows, the same from bench/ as source and from dist-bench/ built against dist/. */
export const fromRoot = (path: string): URL => new URL(path, pathToFileURL(packageHome));

/** A child process and the port it listens on. */
export interface Child {
  process: ChildProcess;
  port: number;
}

/** Starts a child and waits until it prints the port it listens on (a line matching `portPattern`). */
export async function startChild(args: string[], portPattern: RegExp): Promise<Child> {
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

/** Stops a child started by startChild and waits for it to exit. */
export async function stopChild(child: Child): Promise<void> {
  await terminate(child.process);
}

/** SIGTERM, then SIGKILL after `graceMs` if the process ignores it; resolves once it has exited. */
export async function terminate(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** True once something accepts TCP on 127.0.0.1:`port`; false after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (up) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A sink that counts bytes and resolves each stream's promise when it has received `expected` bytes. */
/** A byte sink: counts what arrives on any connection. */
export interface Sink {
  /** The listening server. */
  server: Server;
  /** Its port on 127.0.0.1. */
  port: number;
  /** Resolves once `bytes` more bytes have arrived. */
  expect(bytes: number): Promise<void>;
}

/** Starts a byte sink on 127.0.0.1. */
export function startSink(): Promise<Sink> {
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
export async function throughput(open: () => Promise<Socket>, sink: Sink, streams: number, bytesPerStream: number): Promise<number> {
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

/** Runs the connection-rate generator (its own process) against a SOCKS5 port for `seconds`. */
export async function connectionRate(proxyPort: number, seconds: number): Promise<RateResult> {
  const child = spawn(process.execPath, [here('./conn-load.js'), String(proxyPort), String(seconds), String(concurrency)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c));
  await once(child, 'exit');
  return JSON.parse(output) as RateResult;
}

/** What the connection-rate generator reports. */
export interface RateResult {
  /** Connections completed. */
  connections: number;
  /** Seconds the run took. */
  seconds: number;
  /** Median latency, TCP connect to echoed byte. */
  p50Ms: number;
  /** 99th percentile latency. */
  p99Ms: number;
  /** Failed attempts. */
  errors: number;
}

/** `N/s, p50 …, p99 …` for a rate result. */
export function describeRate(r: RateResult): string {
  return `${(r.connections / r.seconds).toFixed(0)}/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`;
}

/** Connections per second of a result. */
export function ratePerSecond(r: RateResult): number {
  return r.connections / r.seconds;
}

/** Medians of interleaved runs of a baseline and of sluice, and the median of their per-pair ratios. */
export interface Paired {
  /** Median baseline figure. */
  base: number;
  /** Median sluice figure. */
  ours: number;
  /** Median of ours/base over the pairs: robust to the machine's speed drifting between pairs. */
  ratio: number;
}

/** Measures baseline and sluice alternately `pairs` times (ABBA order), so drift and warm-up hit both alike. */
export async function paired(pairs: number, base: () => Promise<number>, ours: () => Promise<number>): Promise<Paired> {
  const bases: number[] = [];
  const ourValues: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let b: number;
    let o: number;
    if (i % 2 === 0) {
      b = await base();
      o = await ours();
    } else {
      o = await ours();
      b = await base();
    }
    bases.push(b);
    ourValues.push(o);
    ratios.push(o / b);
  }
  return { base: middle(bases), ours: middle(ourValues), ratio: middle(ratios) };
}

function middle(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median of a few runs, to damp the noise of a shared machine. */
export async function median(runs: number, measure: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await measure());
  return middle(values);
}


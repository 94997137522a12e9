/**
 * Connection-rate load generator, run as its own process so it does not share a core's
 * event loop with the proxy: `node conn-load.js PROXY_PORT SECONDS CONCURRENCY`.
 * Runs an echo server, opens SOCKS5 connections to it through the proxy in CONCURRENCY
 * loops (connect, CONNECT, one byte echoed, close), and prints JSON:
 * { connections, seconds, p50Ms, p99Ms, errors }. Latency is TCP connect to echoed byte.
 */
import { once } from 'node:events';
import { startEcho } from './echo.js';
import { socksConnect } from './socks-client.js';

const [proxyPort, seconds, concurrency] = process.argv.slice(2).map(Number) as [number, number, number];

const { server: echo, port: echoPort } = await startEcho();

const latencies: number[] = [];
let errors = 0;
const deadline = performance.now() + seconds * 1000;

/** One connection: SOCKS5 CONNECT, one byte echoed; fails after `attemptTimeoutMs`. */
async function attempt(signal: AbortSignal): Promise<void> {
  const socket = await socksConnect(proxyPort, echoPort);
  try {
    socket.resume();
    socket.write('x');
    await once(socket, 'data', { signal });
  } finally {
    socket.destroy();
  }
}

const attemptTimeoutMs = 3000;

async function loop(): Promise<void> {
  while (performance.now() < deadline) {
    const started = performance.now();
    const timeout = AbortSignal.timeout(attemptTimeoutMs);
    try {
      await Promise.race([attempt(timeout), once(timeout, 'abort').then(() => Promise.reject(timeout.reason))]);
      latencies.push(performance.now() - started);
    } catch {
      errors++;
    }
  }
}

const begun = performance.now();
await Promise.all(Array.from({ length: concurrency }, loop));
const elapsed = (performance.now() - begun) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
process.stdout.write(JSON.stringify({ connections: latencies.length, seconds: elapsed, p50Ms: at(0.5), p99Ms: at(0.99), errors }) + '\n');
echo.close();
process.exit(0);

/**
 * Stalled-handshake benchmark (issue 19): the RSS of a sluice process and the handshake
 * latency of an honest SOCKS5 client while 2,000 connections sit in unfinished handshakes
 * (half a SOCKS5 greeting, half an HTTP request head), against the same process idle,
 * measured in the same run.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { startEcho } from './echo.js';
import { report } from './report.js';
import { startSluice } from './relay.js';
import { socksConnect } from './socks-client.js';

/** Unfinished handshakes held open. */
const stalledCount = 2000;
/** Honest handshakes timed per phase (one at a time). */
const honestCount = 300;

/** Resident set size of a process, MB (from /proc). */
function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

/** Latency percentiles (ms) of `honestCount` sequential SOCKS5 CONNECTs through `port` with one echoed byte. */
async function honestLatency(port: number, echoPort: number): Promise<{ p50: number; p99: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < honestCount; i++) {
    const started = performance.now();
    const socket = await socksConnect(port, echoPort);
    socket.resume();
    socket.write('x');
    await once(socket, 'data');
    latencies.push(performance.now() - started);
    socket.destroy();
  }
  latencies.sort((a, b) => a - b);
  return { p50: latencies[Math.floor(honestCount / 2)]!, p99: latencies[Math.floor(honestCount * 0.99)]! };
}

/** Opens `count` connections that each send the start of a handshake and then nothing. */
async function stall(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write((i + j) % 2 === 0 ? Buffer.from([5, 2, 0]) : Buffer.from('GET http://stall.test/ HTTP/1.1\r\nHost: st'));
      return socket;
    });
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/** Prints RSS and honest handshake latency idle and with 2,000 stalled handshakes open. */
export async function benchStalled(): Promise<void> {
  const { server: echo, port: echoPort } = await startEcho();
  // The handshake timeout is raised so the stalled connections stay for the whole measurement.
  const sluice = await startSluice(`listeners: [{ name: bench, type: mixed, port: 0 }]\ntimeouts: { handshake: 120 }\nrules: ['MATCH,DIRECT']\n`, 'bench');
  let stalled: Socket[] = [];
  try {
    const pid = sluice.process.pid!;
    await honestLatency(sluice.port, echoPort);
    const idle = { rss: rssMb(pid), ...(await honestLatency(sluice.port, echoPort)) };
    stalled = await stall(sluice.port, stalledCount);
    const loaded = { rss: rssMb(pid), ...(await honestLatency(sluice.port, echoPort)) };
    const open = stalled.filter((socket) => !socket.destroyed).length;
    report(
      `stalled handshakes: ${open} of ${stalledCount} held open (half SOCKS5 greetings, half HTTP heads): ` +
        `sluice RSS ${loaded.rss.toFixed(1)} MB against ${idle.rss.toFixed(1)} MB idle (+${(((loaded.rss - idle.rss) * 1024) / stalledCount).toFixed(1)} KB each); ` +
        `an honest SOCKS5 handshake p50 ${loaded.p50.toFixed(2)} ms, p99 ${loaded.p99.toFixed(2)} ms against ${idle.p50.toFixed(2)} / ${idle.p99.toFixed(2)} ms idle ` +
        `(p50 ratio ${(loaded.p50 / idle.p50).toFixed(2)}x)`,
    );
  } finally {
    for (const socket of stalled) socket.destroy();
    await sluice.stop();
    echo.close();
  }
}

/**
 * The DNS server: queries per second and latency of sluice's `dns.listen` for cache hits,
 * fake-ip answers and cache misses forwarded to dnsmasq, against dnsmasq answering the same
 * queries itself, in the same run. Targets: hits and fake-ip ≥ 1.0× dnsmasq's rate; misses
 * add ≤ 0.3 ms p50 over dnsmasq alone.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import packet from 'dns-packet';
import { report } from './report.js';
import { startSluice } from './relay.js';
import { terminate, waitForPort } from './harness.js';

/** Queries kept in flight by the load generator (throughput); latency is also measured one at a time. */
const inFlight = 32;
const seconds = 2;

/** What one load run measured. */
interface DnsLoad {
  qps: number;
  p50: number;
  p99: number;
  lost: number;
}

/** Sends queries for `name(i)` to 127.0.0.1:`port` over UDP, `inFlight` at a time, for `seconds`; answers are matched by ID. */
async function load(port: number, name: (i: number) => string, window = inFlight): Promise<DnsLoad> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const sent = new Map<number, number>();
  const latencies: number[] = [];
  let next = 0;
  let answered = 0;
  const deadline = performance.now() + seconds * 1000;
  const send = (): void => {
    if (performance.now() >= deadline) return;
    const id = next++ & 0xffff;
    sent.set(id, performance.now());
    socket.send(packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: name(next) }] }), port, '127.0.0.1');
  };
  socket.on('message', (message) => {
    const started = sent.get(message.readUInt16BE(0));
    if (started === undefined) return;
    sent.delete(message.readUInt16BE(0));
    latencies.push(performance.now() - started);
    answered++;
    send();
  });
  for (let i = 0; i < window; i++) send();
  // Replace a query lost on the way (UDP) so the window stays full.
  const refill = setInterval(() => {
    const now = performance.now();
    for (const [id, started] of sent) if (now - started > 1000) (sent.delete(id), send());
  }, 200);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 200));
  clearInterval(refill);
  socket.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { qps: answered / seconds, p50: at(0.5), p99: at(0.99), lost: next - answered - window };
}

const describe = (r: DnsLoad): string => `${Math.round(r.qps)} q/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`;

/** Prints the DNS server's figures against dnsmasq's (skipped when dnsmasq is not installed). */
export async function benchDns(freePort: () => Promise<number>): Promise<void> {
  const upstreamPort = await freePort();
  const dnsmasq = spawn('dnsmasq', ['--keep-in-foreground', '--no-resolv', '--no-hosts', `--port=${upstreamPort}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--local-ttl=300', '--user=root', '--address=/cached.test/192.0.2.1', '--address=/miss.test/192.0.2.2'], { stdio: 'ignore' });
  const missing = await new Promise<boolean>((resolve) => {
    dnsmasq.once('error', () => resolve(true));
    dnsmasq.once('spawn', () => resolve(false));
  });
  if (missing || !(await waitForPort(upstreamPort, 5000).catch(() => false))) {
    report('dns: skipped (dnsmasq is not installed)');
    if (!missing) await terminate(dnsmasq, 1000);
    return;
  }
  const dnsPort = await freePort();
  const sluice = await startSluice(
    `listeners: [{ name: bench, type: socks, port: 0 }]
dns:
  enable: true
  listen: 127.0.0.1:${dnsPort}
  enhanced-mode: fake-ip
  fake-ip-filter: ['+.cached.test', '+.miss.test']
  nameserver: [127.0.0.1:${upstreamPort}]
rules: ['MATCH,DIRECT']
`,
    'bench',
  );
  try {
    const baseline = await load(upstreamPort, () => 'cached.test');
    const hits = await load(dnsPort, () => 'cached.test');
    const fake = await load(dnsPort, (i) => `f${i % 1000}.fake.test`);
    const misses = await load(dnsPort, (i) => `m${i}.miss.test`);
    const baselineMisses = await load(upstreamPort, (i) => `b${i}.miss.test`);
    const missOne = await load(dnsPort, (i) => `one${i}.miss.test`, 1);
    const baselineOne = await load(upstreamPort, (i) => `uno${i}.miss.test`, 1);
    report(`dns server, cache hits: sluice ${describe(hits)}; dnsmasq ${describe(baseline)}; ratio ${(hits.qps / baseline.qps).toFixed(2)}x (target >= 1.0x) [${inFlight} in flight, UDP]`);
    report(`dns server, fake-ip answers: sluice ${describe(fake)}; ratio ${(fake.qps / baseline.qps).toFixed(2)}x dnsmasq (target >= 1.0x)`);
    report(`dns server, cache misses forwarded to dnsmasq, one at a time: sluice p50 ${missOne.p50.toFixed(3)} ms, dnsmasq alone ${baselineOne.p50.toFixed(3)} ms: +${(missOne.p50 - baselineOne.p50).toFixed(3)} ms (target <= 0.3 ms)`);
    report(`dns server, cache misses forwarded to dnsmasq, ${inFlight} in flight: sluice ${describe(misses)}; dnsmasq alone ${describe(baselineMisses)}; ratio ${(misses.qps / baselineMisses.qps).toFixed(2)}x`);
  } finally {
    await sluice.stop();
    await terminate(dnsmasq, 1000);
  }
}

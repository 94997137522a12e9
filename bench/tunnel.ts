/**
 * Tunnel benchmark between network namespaces (root only): iperf3 TCP throughput and ping RTT
 * through a sluice gateway and client (proxy-outbound: iperf3 and ping bind the virtual IP),
 * then through wireguard-go in the same topology, and their ratio.
 */
import { report } from './report.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrivateKey, publicKeyOf } from '../src/protocol/pqtunnel/crypto/keys.js';
import { fromRoot } from './harness.js';
import { Lab, labUnavailable, must } from './netns.js';

const seconds = 5;
const sluice = (level: string, config: string): string[] => [fromRoot('bin/sluice.js').pathname, 'run', '--log-level', level, '-f', config];

interface PathFigures {
  /** iperf3 receiver throughput, bit/s. */
  bitsPerSecond: number;
  /** Average ping RTT, ms. */
  rttMs: number;
}

async function measure(lab: Lab, bindAddress: string): Promise<PathFigures> {
  const iperf = await lab.run('client', 'iperf3', ['-c', '203.0.113.10', '-B', bindAddress, '-t', String(seconds), '-J'], (seconds + 20) * 1000);
  if (iperf.code !== 0) throw new Error(`iperf3 failed: ${iperf.stdout}${iperf.stderr}`);
  const report = JSON.parse(iperf.stdout) as { end: { sum_received: { bits_per_second: number } } };
  const ping = await lab.run('client', 'ping', ['-c', '20', '-i', '0.05', '-I', bindAddress, '203.0.113.10']);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(ping.stdout);
  return { bitsPerSecond: report.end.sum_received.bits_per_second, rttMs: rtt ? Number(rtt[1]) : NaN };
}

/** One key pair per run: the gateway's lease file keeps the client at 10.66.0.2 across rounds. */
const gatewayKey = generatePrivateKey();
const clientKey = generatePrivateKey();

async function throughSluice(lab: Lab): Promise<PathFigures> {
  const gatewayConfig = `listeners:\n  - { name: gw, type: pqtunnel, port: 51820, private-key: ${gatewayKey}, ipv4-pool: 10.66.0.0/24, peers: [{ name: c, public-key: ${publicKeyOf(clientKey)} }] }\n`;
  const gateway = lab.start('gateway', 'node', sluice('info', lab.file('gw.yaml', gatewayConfig)));
  await gateway.waitFor(/firewall/);
  const clientConfig = `mixed-port: 7890\nproxies:\n  - { name: pq, type: pqtunnel, server: 198.51.100.1, port: 51820, private-key: ${clientKey}, public-key: ${publicKeyOf(gatewayKey)} }\nrules: ['MATCH,pq']\n`;
  const client = lab.start('client', 'node', sluice('info', lab.file('client.yaml', clientConfig)));
  await client.waitFor(/address 10\.66\.0\.2/);
  try {
    return await measure(lab, '10.66.0.2');
  } finally {
    await Promise.all([client.stop(), gateway.stop()]);
  }
}

async function throughWireguard(lab: Lab): Promise<PathFigures> {
  const keys = { gateway: (await must('wg', ['genkey'])).trim(), client: (await must('wg', ['genkey'])).trim() };
  const publicOf = async (key: string): Promise<string> => {
    const file = join(lab.dir, 'key');
    writeFileSync(file, key);
    return (await must('sh', ['-c', `wg pubkey < ${file}`])).trim();
  };
  const sides = [
    { host: 'gateway', device: 'wgbench-gw', key: keys.gateway, peer: await publicOf(keys.client), address: '10.67.0.1/24', allowed: '10.67.0.2/32', endpoint: [] as string[] },
    { host: 'client', device: 'wgbench-cl', key: keys.client, peer: await publicOf(keys.gateway), address: '10.67.0.2/24', allowed: '10.67.0.0/24,203.0.113.10/32', endpoint: ['endpoint', '198.51.100.1:51830'] },
  ];
  // wireguard-go's control socket lives in /var/run/wireguard, shared by all namespaces: one name per side.
  const daemons = [];
  for (const side of sides) {
    const daemon = lab.start(side.host, 'wireguard-go', ['-f', side.device]);
    daemons.push(daemon);
    await lab.run(side.host, 'sleep', ['1']);
    const keyFile = lab.file(`${side.host}.wgkey`, side.key);
    await must('ip', ['netns', 'exec', lab.ns(side.host), 'wg', 'set', side.device, 'private-key', keyFile, 'listen-port', '51830', 'peer', side.peer, 'allowed-ips', side.allowed, ...side.endpoint]);
    await lab.ip(side.host, 'address', 'add', side.address, 'dev', side.device);
    await lab.ip(side.host, 'link', 'set', side.device, 'mtu', '1420', 'up');
  }
  await lab.ip('client', 'route', 'add', '203.0.113.10/32', 'dev', 'wgbench-cl', 'src', '10.67.0.2');
  await lab.ip('server', 'route', 'replace', '10.67.0.0/24', 'via', '203.0.113.1');
  try {
    return await measure(lab, '10.67.0.2');
  } finally {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
  }
}

/** Prints tunnel throughput and RTT for sluice and wireguard-go, or why it cannot run here. */
export async function benchTunnel(): Promise<void> {
  const missing = labUnavailable(['ip', 'nft', 'iperf3', 'ping', 'wireguard-go', 'wg']);
  if (missing) {
    report(`tunnel between namespaces: skipped (${missing}; needs root, iperf3, wireguard-go and wireguard-tools)`);
    return;
  }
  const lab = new Lab();
  try {
    await lab.hosts('client', 'gateway', 'server');
    await lab.link('client', 'eth0', '198.51.100.2/24', 'gateway', 'c0', '198.51.100.1/24');
    await lab.link('gateway', 's0', '203.0.113.1/24', 'server', 'eth0', '203.0.113.10/24');
    await lab.run('gateway', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const server = lab.start('server', 'iperf3', ['-s', '-B', '203.0.113.10', '--forceflush']);
    await server.waitFor(/Server listening/);
    // Alternating rounds, medians reported: a 2-core box drifts by tens of percent between runs.
    const rounds: { ours: PathFigures; wireguard: PathFigures }[] = [];
    for (let round = 0; round < 3; round++) rounds.push({ ours: await throughSluice(lab), wireguard: await throughWireguard(lab) });
    const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const gbit = (bits: number): string => (bits / 1e9).toFixed(3);
    const ours = median(rounds.map((r) => r.ours.bitsPerSecond));
    const wireguard = median(rounds.map((r) => r.wireguard.bitsPerSecond));
    const ratios = rounds.map((r) => r.ours.bitsPerSecond / r.wireguard.bitsPerSecond);
    report(
      `tunnel iperf3 TCP ${seconds} s, median of ${rounds.length} alternating rounds: sluice ${gbit(ours)} Gbit/s, wireguard-go ${gbit(wireguard)} Gbit/s, ` +
        `ratio ${median([...ratios]).toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(' ')}; target >= 0.8x)`,
    );
    report(`tunnel ping RTT (median round): sluice ${median(rounds.map((r) => r.ours.rttMs)).toFixed(3)} ms, wireguard-go ${median(rounds.map((r) => r.wireguard.rttMs)).toFixed(3)} ms`);
  } finally {
    await lab.close();
  }
}

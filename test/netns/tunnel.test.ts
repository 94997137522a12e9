/**
 * The tunnel end to end, as root, in namespaces the test creates and deletes (issue: gateway
 * and tunnel client). Topology:
 *
 *   alice 198.51.100.2 ─┐                 ┌─ internet 203.0.113.10, .20 (HTTP + UDP echo :8080)
 *                       ├─ gateway ───────┤
 *   bob   198.51.101.2 ─┘  (pq0 10.66/16) └─ lan 192.168.77.10 (HTTP :8080)
 *
 * The gateway routes the test networks itself (no NAT for them), so a flow that bypasses the
 * tunnel reaches the internet host from the client's own address, and one through the tunnel
 * from the gateway's (MASQUERADE). The gateway also serves HTTP on its own addresses (:8081).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generatePrivateKey, publicKeyOf } from '../../src/protocol/pqtunnel/crypto/keys.js';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { terminate } from '../../bench/harness.js';
import { Lab, exec, must, type LabProcess } from '../../bench/netns.js';
import { labMissing } from '../helpers/lab.js';

const unavailable = labMissing(['ip', 'nft', 'iptables', 'curl', 'tc', 'ping'], 'tunnel end-to-end tests');

const sluice = ['bin/sluice.js', 'run', '--log-level', 'info', '-f'];
const server = new URL('../helpers/netns-server.mjs', import.meta.url).pathname;
const socksUdp = new URL('../helpers/netns-socks-udp.mjs', import.meta.url).pathname;
const readConfig = (path: string): string => readFileSync(path, 'utf8');
const gatewayKey = generatePrivateKey();
const aliceKey = generatePrivateKey();
const bobKey = generatePrivateKey();

function gatewayConfig(lab: Lab, nat = 'masquerade'): string {
  return lab.file(
    `gateway-${nat}.yaml`,
    `log-level: info
external-controller: 127.0.0.1:9090
listeners:
  - name: gw
    type: pqtunnel
    port: 51820
    nat: ${nat}
    private-key: ${gatewayKey}
    ipv4-pool: 10.66.0.0/16
    lease-file: ${lab.dir}/leases.json
    peers:
      - { name: alice, public-key: ${publicKeyOf(aliceKey)} }
      - { name: bob, public-key: ${publicKeyOf(bobKey)}, allow-destinations: [192.168.77.0/24] }
`,
  );
}

function clientConfig(lab: Lab, name: string, key: string, server: string, mode: string, extra = ''): string {
  return lab.file(
    `${name}.yaml`,
    `mixed-port: 7890
external-controller: 127.0.0.1:9090
proxies:
  - { name: pq, type: pqtunnel, server: ${server}, port: 51820, private-key: ${key}, public-key: ${publicKeyOf(gatewayKey)}, mode: ${mode}, persistent-keepalive: 5${extra} }
rules:
  - IP-CIDR,203.0.113.20/32,DIRECT
  - MATCH,pq
`,
  );
}

describe.skipIf(unavailable !== undefined)('pqtunnel between namespaces', () => {
  const lab = new Lab();
  let gateway: LabProcess;

  beforeAll(async () => {
    await lab.hosts('alice', 'bob', 'gw', 'inet', 'lan');
    await lab.link('alice', 'eth0', '198.51.100.2/24', 'gw', 'a0', '198.51.100.1/24');
    await lab.link('bob', 'eth0', '198.51.101.2/24', 'gw', 'b0', '198.51.101.1/24');
    await lab.link('gw', 'i0', '203.0.113.1/24', 'inet', 'eth0', '203.0.113.10/24');
    await lab.link('gw', 'l0', '192.168.77.1/24', 'lan', 'eth0', '192.168.77.10/24');
    await lab.ip('inet', 'address', 'add', '203.0.113.20/24', 'dev', 'eth0');
    await lab.ip('alice', 'route', 'add', 'default', 'via', '198.51.100.1');
    await lab.ip('bob', 'route', 'add', 'default', 'via', '198.51.101.1');
    await lab.ip('inet', 'route', 'add', 'default', 'via', '203.0.113.1');
    await lab.ip('lan', 'route', 'add', 'default', 'via', '192.168.77.1');
    const services = [
      lab.start('inet', 'node', [server, '203.0.113.10', '8080']),
      lab.start('inet', 'node', [server, '203.0.113.20', '8080']),
      lab.start('lan', 'node', [server, '192.168.77.10', '8080']),
      lab.start('gw', 'node', [server, '0.0.0.0', '8081']),
      lab.start('bob', 'node', [server, '0.0.0.0', '8082']),
    ];
    await Promise.all(services.map((service) => service.waitFor(/ready/)));
    gateway = lab.start('gw', 'node', [...sluice, gatewayConfig(lab)]);
    await gateway.waitFor(/pqtunnel gateway gw: pq0 10\.66\.0\.1\/16, firewall nftables/);
  }, 60_000);

  afterAll(async () => {
    await lab.close();
  }, 60_000);

  /** No TUN device, rule at the client priorities or route in the client table is left in `host`. */
  const expectNoTunnelLeft = async (host: string): Promise<void> => {
    expect(await lab.ip(host, 'link', 'show')).not.toMatch(/pqc\d/);
    for (const family of ['-4', '-6']) {
      expect(await lab.ip(host, family, 'rule', 'show')).not.toMatch(/^91\d\d:/m);
      expect(await lab.ip(host, family, 'route', 'show', 'table', 'all')).not.toMatch(/table 5182\d/);
    }
  };
  const curl = (host: string, ...args: string[]) => lab.run(host, 'curl', ['-sS', '--max-time', '5', ...args], 120_000);

  const fails = async (host: string, ...args: string[]): Promise<void> => {
    const result = await lab.run(host, 'curl', ['-sS', '--max-time', '3', ...args]);
    expect(result.code, `curl ${args.join(' ')} reached ${result.stdout}`).not.toBe(0);
  };
  const through = (url: string) => ['--socks5-hostname', '127.0.0.1:7890', url];

  it('proxy-outbound: SOCKS5 flows routed to the tunnel leave the gateway NATed; the rest go direct', async () => {
    const alice = lab.start('alice', 'node', [...sluice, clientConfig(lab, 'alice', aliceKey, '198.51.100.1', 'proxy-outbound')]);
    onTestFinished(() => alice.stop());
    await alice.waitFor(/pqtunnel pq: address 10\.66\.0\.2 on pqc0/);
    const tunneled = await curl('alice', ...through('http://203.0.113.10:8080/'));
    expect(tunneled.stdout + tunneled.stderr).toBe('203.0.113.1\n');
    const direct = await curl('alice', ...through('http://203.0.113.20:8080/'));
    expect(direct.stdout + direct.stderr).toBe('198.51.100.2\n');
    const plain = await curl('alice', 'http://203.0.113.10:8080/');
    expect(plain.stdout, 'without the proxy nothing enters the tunnel').toBe('198.51.100.2\n');
    const udp = await lab.run('alice', 'node', [socksUdp, '7890', '203.0.113.10', '8080', 'ping']);
    expect(udp.stdout + udp.stderr, 'UDP ASSOCIATE through the tunnel').toMatch(/^203\.0\.113\.1 ping$/);

    const bob = lab.start('bob', 'node', [...sluice, clientConfig(lab, 'bob', bobKey, '198.51.101.1', 'proxy-outbound')]);
    onTestFinished(() => bob.stop());
    await bob.waitFor(/pqtunnel pq: address 10\.66\.0\.3 on pqc0/);
    await Promise.all([
      fails('alice', ...through('http://10.66.0.1:8081/')),
      fails('alice', ...through('http://203.0.113.1:8081/')),
      fails('alice', ...through('http://198.51.100.1:8081/')),
      fails('alice', ...through('http://192.168.77.10:8080/')),
      fails('alice', ...through('http://10.66.0.3:8082/')),
      fails('alice', ...through('http://169.254.169.254/')),
      fails('bob', ...through('http://10.66.0.1:8081/')),
      fails('bob', ...through('http://203.0.113.1:8081/')),
    ]);
    const lan = await curl('bob', ...through('http://192.168.77.10:8080/'));
    expect(lan.stdout + lan.stderr, 'allow-destinations opens the lan for bob').toBe('192.168.77.1\n');
    const ping = await lab.run('alice', 'ping', ['-c', '1', '-W', '2', '-I', '10.66.0.2', '10.66.0.1']);
    expect(ping.code, 'echo to the gateway tunnel address is allowed').toBe(0);

    // A second address on alice's TUN, routed into the tunnel: the gateway drops what it sends.
    await lab.ip('alice', 'address', 'add', '10.66.0.99/32', 'dev', 'pqc0');
    await lab.ip('alice', 'rule', 'add', 'from', '10.66.0.99', 'lookup', '51820', 'priority', '9000');
    const own = await curl('alice', '--interface', '10.66.0.2', 'http://203.0.113.10:8080/');
    expect(own.stdout + own.stderr).toBe('203.0.113.1\n');
    await fails('alice', '--interface', '10.66.0.99', 'http://203.0.113.10:8080/');
    await lab.ip('alice', 'rule', 'del', 'priority', '9000');

    // What the above did, as /metrics on both ends tells it.
    const metrics = async (host: string): Promise<(pattern: RegExp) => number> => {
      const text = (await curl(host, 'http://127.0.0.1:9090/metrics')).stdout;
      return (pattern) => Number(pattern.exec(text)?.[1] ?? NaN);
    };
    const gw = await metrics('gw');
    expect(gw(/^sluice_tunnel_sessions\{name="gw",role="server"\} (\d+)$/m)).toBe(2);
    expect(gw(/^sluice_handshakes_total\{name="gw",protocol="pqtunnel",role="server",result="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(gw(/^sluice_handshake_duration_seconds_count\{protocol="pqtunnel",role="server"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(gw(/^sluice_tunnel_dropped_packets_total\{name="gw",reason="spoofed"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(gw(/^sluice_tunnel_dropped_packets_total\{name="gw",reason="denied"\} (\d+)$/m)).toBeGreaterThanOrEqual(6);
    expect(gw(/^sluice_tunnel_packets_total\{name="gw",role="server",direction="received"\} (\d+)$/m)).toBeGreaterThan(20);
    expect(gw(/^sluice_tunnel_bytes_total\{name="gw",role="server",direction="sent"\} (\d+)$/m)).toBeGreaterThan(1000);
    const client = await metrics('alice');
    expect(client(/^sluice_tunnel_sessions\{name="pq",role="client"\} (\d+)$/m)).toBe(1);
    expect(client(/^sluice_tunnel_events_total\{name="pq",role="client",event="up"\} (\d+)$/m)).toBe(1);
    expect(client(/^sluice_handshakes_total\{name="pq",protocol="pqtunnel",role="client",result="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(client(/^sluice_handshake_duration_seconds_count\{protocol="pqtunnel",role="client"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(client(/^sluice_tunnel_packets_total\{name="pq",role="client",direction="sent"\} (\d+)$/m)).toBeGreaterThan(10);

    await Promise.all([alice.stop(), bob.stop()]);
    for (const host of ['alice', 'bob']) await expectNoTunnelLeft(host);
  }, 60_000);

  it('full-tunnel: plain curl goes through the tunnel, excluded prefixes bypass it, MTU and large downloads hold, also across a PMTU black hole (MSS clamp)', async () => {
    const extra = ', exclude-routes: [203.0.113.20/32, nearby]';
    const providers = `rule-providers:\n  nearby: { type: inline, behavior: ipcidr, payload: [198.51.101.0/24] }\n`;
    const alice = lab.start('alice', 'node', [...sluice, lab.file('full.yaml', readConfig(clientConfig(lab, 'alice-full', aliceKey, '198.51.100.1', 'full-tunnel', extra)) + providers)]);
    onTestFinished(() => alice.stop());
    await alice.waitFor(/pqtunnel pq: address 10\.66\.0\.2 on pqc0, 2 prefixes excluded/);
    expect((await curl('alice', 'http://203.0.113.10:8080/')).stdout).toBe('203.0.113.1\n');
    expect((await curl('alice', 'http://203.0.113.20:8080/')).stdout, 'a CIDR in exclude-routes').toBe('198.51.100.2\n');
    const bobDirect = await curl('alice', 'http://198.51.101.2:8082/');
    expect(bobDirect.stdout, 'a rule-set in exclude-routes').toBe('198.51.100.2\n');
    const fits = await lab.run('alice', 'ping', ['-M', 'do', '-s', '1392', '-c', '1', '-W', '2', '203.0.113.10']);
    expect(fits.code, fits.stdout + fits.stderr).toBe(0);
    const tooBig = await lab.run('alice', 'ping', ['-M', 'do', '-s', '1393', '-c', '1', '-W', '2', '203.0.113.10']);
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.stdout + tooBig.stderr).toMatch(/message too long|[Ff]rag needed/);
    // 20 MB each way, byte for byte: the TUNs on both ends cut the kernel's TCP super-packets
    // into segments and merge received segments back (TSO/GRO), and /metrics shows they did.
    const download = await curl('alice', '--max-time', '30', '-D', `${lab.dir}/headers`, '-o', `${lab.dir}/download`, 'http://203.0.113.10:8080/random/20000000');
    expect(download.code, download.stderr).toBe(0);
    const sentHash = /^x-sha256: (\w+)/im.exec(readFileSync(`${lab.dir}/headers`, 'utf8'))?.[1];
    expect(createHash('sha256').update(readFileSync(`${lab.dir}/download`)).digest('hex'), 'download intact').toBe(sentHash);
    writeFileSync(`${lab.dir}/upload`, randomBytes(20_000_000));
    const upload = await curl('alice', '--max-time', '30', '--data-binary', `@${lab.dir}/upload`, 'http://203.0.113.10:8080/sha256');
    expect(upload.stdout, `upload intact ${upload.stderr}`).toBe(createHash('sha256').update(readFileSync(`${lab.dir}/upload`)).digest('hex'));
    for (const [host, name, role] of [['alice', 'pq', 'client'], ['gw', 'gw', 'server']] as const) {
      const text = (await curl(host, 'http://127.0.0.1:9090/metrics')).stdout;
      const tun = (counter: string): number => Number(new RegExp(`^sluice_tunnel_tun_total\\{name="${name}",role="${role}",counter="${counter}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      expect(text, `${host}: offload on`).toMatch(new RegExp(`^sluice_tunnel_tun_offload\\{name="${name}",role="${role}"\\} 1$`, 'm'));
      expect(tun('super_packets_read'), `${host}: super-packets read`).toBeGreaterThan(100);
      expect(tun('segments_read'), `${host}: segments cut`).toBeGreaterThan(2 * tun('super_packets_read'));
      expect(tun('packets_written'), `${host}: segments merged on write`).toBeGreaterThan(2 * tun('writes'));
      expect(tun('dropped'), `${host}: nothing dropped`).toBe(0);
    }
    // A PMTU black hole: the internet host never hears "fragmentation needed", and alice
    // advertises a 1460-byte MSS. Only the gateway's MSS clamp (on SYNs it forwards, both ways)
    // keeps the server's segments small enough for the tunnel; without it this download stalls.
    const tunnelRoute = /^default dev pqc0 table (\d+)/m.exec(await lab.ip('alice', 'route', 'show', 'table', 'all'));
    expect(tunnelRoute).not.toBeNull();
    await lab.ip('alice', 'route', 'change', 'default', 'dev', 'pqc0', 'table', tunnelRoute![1]!, 'advmss', '1460');
    const blackhole = lab.file('blackhole.nft', 'table ip blackhole {\n  chain input {\n    type filter hook input priority 0;\n    icmp type destination-unreachable drop\n  }\n}\n');
    expect((await lab.run('inet', 'nft', ['-f', blackhole])).code).toBe(0);
    await lab.ip('inet', 'route', 'flush', 'cache'); // forget the path MTU learned from the downloads above
    onTestFinished(() => lab.run('inet', 'nft', ['delete', 'table', 'ip', 'blackhole']).then(() => undefined));
    const clamped = await curl('alice', '--max-time', '20', '-o', '/dev/null', '-w', '%{size_download}', 'http://203.0.113.10:8080/bytes/5000000');
    expect(clamped.stdout, clamped.stderr).toBe('5000000');
    await alice.stop();
    await expectNoTunnelLeft('alice');
  }, 60_000);

  it('IPv6: a gateway with an ipv6-pool leases both families; v6 TCP and UDP leave NATed from its v6 address, v4 still works', async () => {
    await lab.ip('gw', '-6', 'address', 'add', '2001:db8:113::1/64', 'dev', 'i0', 'nodad');
    await lab.ip('inet', '-6', 'address', 'add', '2001:db8:113::10/64', 'dev', 'eth0', 'nodad');
    await lab.ip('inet', '-6', 'route', 'add', 'default', 'via', '2001:db8:113::1');
    const web6 = lab.start('inet', 'node', [server, '2001:db8:113::10', '8080']);
    onTestFinished(() => web6.stop());
    await web6.waitFor(/ready/);
    const gateway6 = lab.start('gw', 'node', [...sluice, lab.file('gateway6.yaml', `listeners:
  - name: gw6
    type: pqtunnel
    port: 51830
    tun: { name: pq6 }
    private-key: ${gatewayKey}
    ipv4-pool: 10.67.0.0/24
    ipv6-pool: fd67::/64
    lease-file: ${lab.dir}/leases6.json
    peers:
      - { name: alice, public-key: ${publicKeyOf(aliceKey)} }
`)]);
    onTestFinished(() => gateway6.stop());
    await gateway6.waitFor(/pqtunnel gateway gw6: pq6 10\.67\.0\.1\/24 fd67::1\/64, firewall nftables/);
    const alice = lab.start('alice', 'node', [...sluice, lab.file('alice6.yaml', `mixed-port: 7890
proxies:
  - { name: pq, type: pqtunnel, server: 198.51.100.1, port: 51830, private-key: ${aliceKey}, public-key: ${publicKeyOf(gatewayKey)} }
rules: ['MATCH,pq']
`)]);
    onTestFinished(() => alice.stop());
    await alice.waitFor(/pqtunnel pq: address 10\.67\.0\.2 fd67::2 on pqc0/);

    const tcp6 = await curl('alice', ...through('http://[2001:db8:113::10]:8080/'));
    expect(tcp6.stdout + tcp6.stderr).toBe('2001:db8:113::1\n');
    const tcp4 = await curl('alice', ...through('http://203.0.113.10:8080/'));
    expect(tcp4.stdout + tcp4.stderr).toBe('203.0.113.1\n');
    const udp6 = await lab.run('alice', 'node', [socksUdp, '7890', '2001:db8:113::10', '8080', 'ping6']);
    expect(udp6.stdout + udp6.stderr, 'UDP ASSOCIATE to a v6 destination').toMatch(/^2001:db8:113::1 ping6$/);
    const echo = await lab.run('alice', 'ping', ['-6', '-c', '1', '-W', '2', '-I', 'fd67::2', 'fd67::1']);
    expect(echo.code, 'echo to the gateway tunnel v6 address is allowed').toBe(0);
    await fails('alice', ...through('http://[fd67::1]:8081/'));

    await Promise.all([alice.stop(), gateway6.stop()]);
    await expectNoTunnelLeft('alice');
    expect(await lab.ip('gw', 'link', 'show')).not.toMatch(/pq6/);
    expect((await lab.run('gw', 'nft', ['list', 'tables'])).stdout).not.toMatch(/sluice_pq6/);
  }, 90_000);

  it('iptables fallback: with nft missing the gateway NATs and protects through its own iptables chains, and removes them at stop', async () => {
    await gateway.stop();
    const noNft = `${lab.dir}/no-nft`;
    mkdirSync(noNft, { recursive: true });
    writeFileSync(`${noNft}/nft`, '#!/bin/sh\necho "nft: not installed here" >&2\nexit 127\n', { mode: 0o755 });
    const fallback = lab.start('gw', 'env', [`PATH=${noNft}:${process.env.PATH}`, 'node', ...sluice, gatewayConfig(lab)]);
    onTestFinished(() => fallback.stop());
    await fallback.waitFor(/pqtunnel gateway gw: pq0 10\.66\.0\.1\/16, firewall iptables/);
    expect((await lab.run('gw', 'nft', ['list', 'tables'])).stdout, 'no nftables table of ours').not.toMatch(/sluice/);
    const alice = lab.start('alice', 'node', [...sluice, clientConfig(lab, 'alice', aliceKey, '198.51.100.1', 'proxy-outbound')]);
    onTestFinished(() => alice.stop());
    await alice.waitFor(/pqtunnel pq: address 10\.66\.0\.2 on pqc0/);
    const natted = await curl('alice', ...through('http://203.0.113.10:8080/'));
    expect(natted.stdout + natted.stderr, 'MASQUERADE through iptables').toBe('203.0.113.1\n');
    await Promise.all([fails('alice', ...through('http://10.66.0.1:8081/')), fails('alice', ...through('http://192.168.77.10:8080/'))]);
    const rules = async (): Promise<string> => (await lab.run('gw', 'iptables', ['-S'])).stdout + (await lab.run('gw', 'iptables', ['-t', 'nat', '-S'])).stdout;
    expect(await rules()).toMatch(/-A POSTROUTING -j sluice_pq0-nat/);
    await alice.stop();
    await fallback.stop();
    expect(await rules(), 'every chain and jump removed').not.toMatch(/sluice/);
    gateway = lab.start('gw', 'node', [...sluice, gatewayConfig(lab)]);
    await gateway.waitFor(/firewall nftables/);
  }, 60_000);

  it('resilience: a gateway restart, roaming and 20% loss with reordering do not break a transfer; nothing is left behind', async () => {
    const alice = lab.start('alice', 'node', [...sluice, clientConfig(lab, 'alice-full', aliceKey, '198.51.100.1', 'full-tunnel')]);
    onTestFinished(() => alice.stop());
    await alice.waitFor(/pqtunnel pq: address 10\.66\.0\.2 on pqc0/);
    const download = (bytes: number, rate: string) =>
      curl('alice', '--max-time', '90', '--limit-rate', rate, '-o', '/dev/null', '-w', '%{size_download}', `http://203.0.113.10:8080/bytes/${bytes}`);

    // Gateway restart mid-transfer: the client notices the dead peer, handshakes again, keeps 10.66.0.2 (lease file).
    // Without NAT here: removing a masquerade table makes the kernel forget the translated connections,
    // so only a routed connection can outlive a restart (a NATed one reconnects, as behind any NAT that restarts).
    await gateway.stop();
    await lab.ip('inet', 'route', 'add', '10.66.0.0/16', 'via', '203.0.113.1');
    gateway = lab.start('gw', 'node', [...sluice, gatewayConfig(lab, 'none')]);
    await gateway.waitFor(/firewall nftables/);
    expect((await curl('alice', '--max-time', '30', 'http://203.0.113.10:8080/')).stdout, 'routed, not NATed').toBe('10.66.0.2\n');
    const restarted = download(3_000_000, '200K');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await gateway.stop();
    gateway = lab.start('gw', 'node', [...sluice, gatewayConfig(lab, 'none')]);
    await gateway.waitFor(/firewall nftables/);
    expect((await restarted).stdout, alice.output() + gateway.output()).toBe('3000000');
    expect(alice.output().match(/address 10\.66\.0\.2/g), 'the virtual IP stayed').toHaveLength(1);

    // Roaming: alice's outer address changes mid-transfer; the gateway follows the authenticated packets.
    await lab.ip('gw', 'address', 'add', '198.51.102.1/24', 'dev', 'a0');
    const roamed = download(2_000_000, '400K');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await lab.ip('alice', 'address', 'add', '198.51.102.2/24', 'dev', 'eth0');
    await lab.ip('alice', 'route', 'replace', 'default', 'via', '198.51.102.1');
    await lab.ip('alice', 'address', 'del', '198.51.100.2/24', 'dev', 'eth0');
    expect((await roamed).stdout).toBe('2000000');

    // Loss and reordering on the outer path, both directions.
    await lab.ip('alice', 'route', 'show');
    await lab.run('alice', 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '2ms', 'loss', '20%', 'reorder', '25%']);
    await lab.run('gw', 'tc', ['qdisc', 'add', 'dev', 'a0', 'root', 'netem', 'delay', '2ms', 'loss', '20%', 'reorder', '25%']);
    const lossy = await curl('alice', '--max-time', '90', '-o', '/dev/null', '-w', '%{size_download}', 'http://203.0.113.10:8080/bytes/1000000');
    expect(lossy.stdout).toBe('1000000');
    await lab.run('alice', 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    await lab.run('gw', 'tc', ['qdisc', 'del', 'dev', 'a0', 'root']);

    await alice.stop();
    await gateway.stop();
    await expectNoTunnelLeft('alice');
    expect(await lab.ip('gw', 'link', 'show')).not.toMatch(/pq0/);
    expect((await lab.run('gw', 'nft', ['list', 'tables'])).stdout).not.toMatch(/sluice/);
    expect((await lab.run('gw', 'cat', ['/proc/sys/net/ipv4/ip_forward'])).stdout.trim(), 'forwarding restored').toBe('0');
  }, 150_000);
});

describe.skipIf(unavailable !== undefined)('pqtunnel without privileges', () => {
  const lab = new Lab();
  afterAll(() => lab.close());

  it('names what is missing: a gateway refuses to start, a client outbound fails alone and the rest of sluice runs', async () => {
    const key = generatePrivateKey();
    const files = [
      lab.file('gw-unprivileged.yaml', `listeners:\n  - { name: gw, type: pqtunnel, port: 51999, private-key: ${key}, ipv4-pool: 10.77.0.0/24, peers: [{ name: a, public-key: ${publicKeyOf(key)} }] }\n`),
      lab.file('client-unprivileged.yaml', `listeners: [{ name: m, type: mixed, port: 0 }]\nproxies:\n  - { name: pq, type: pqtunnel, server: 127.0.0.1, port: 51999, private-key: ${key}, public-key: ${publicKeyOf(key)} }\nrules: ['MATCH,pq']\n`),
    ];
    await must('chmod', ['755', lab.dir]);
    for (const file of files) await must('chmod', ['644', file]);
    const gateway = await exec('runuser', ['-u', 'nobody', '--', 'node', 'bin/sluice.js', 'run', '-f', files[0]!]);
    expect(gateway.code).toBe(1);
    expect(gateway.stderr).toContain('listener gw: cannot open TUN device pq0: permission denied: creating a TUN device needs root or CAP_NET_ADMIN');
    const client = spawn('runuser', ['-u', 'nobody', '--', 'node', 'bin/sluice.js', 'run', '-f', files[1]!], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    client.stderr.on('data', (chunk: Buffer) => (output += chunk));
    try {
      await expect.poll(() => output, { timeout: 10_000 }).toMatch(/listening mixed m on/);
      expect(output).toMatch(/ERROR\s+pqtunnel pq: cannot open TUN device pqc%d: permission denied/);
    } finally {
      await terminate(client, 3000);
    }
  });
});

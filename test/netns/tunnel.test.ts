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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, publicKeyOf } from '../../src/protocol/pqtunnel/keys.js';
import { Lab, labUnavailable, type LabProcess } from '../helpers/netns.js';

const unavailable = labUnavailable(['ip', 'nft', 'curl', 'tc', 'ping']);
if (unavailable && process.env.CI === 'true') throw new Error(`tunnel end-to-end tests cannot run under CI: ${unavailable}`);

const sluice = ['bin/sluice.js', 'run', '--log-level', 'info', '-f'];
const server = new URL('../helpers/netns-server.mjs', import.meta.url).pathname;
const gatewayKey = generatePrivateKey();
const aliceKey = generatePrivateKey();
const bobKey = generatePrivateKey();

function gatewayConfig(lab: Lab): string {
  return lab.file(
    'gateway.yaml',
    `log-level: info
listeners:
  - name: gw
    type: pqtunnel
    port: 51820
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

  const curl = (host: string, ...args: string[]) => lab.run(host, 'curl', ['-sS', '--max-time', '5', ...args]);

  it('proxy-outbound: SOCKS5 flows routed to the tunnel leave the gateway NATed; the rest go direct', async () => {
    const alice = lab.start('alice', 'node', [...sluice, clientConfig(lab, 'alice', aliceKey, '198.51.100.1', 'proxy-outbound')]);
    await alice.waitFor(/pqtunnel pq: address 10\.66\.0\.2 on pqc0/);
    const tunneled = await curl('alice', '--socks5-hostname', '127.0.0.1:7890', 'http://203.0.113.10:8080/');
    expect(tunneled.stdout + tunneled.stderr).toBe('203.0.113.1\n');
    const direct = await curl('alice', '--socks5-hostname', '127.0.0.1:7890', 'http://203.0.113.20:8080/');
    expect(direct.stdout + direct.stderr).toBe('198.51.100.2\n');
    const plain = await curl('alice', 'http://203.0.113.10:8080/');
    expect(plain.stdout, 'without the proxy nothing enters the tunnel').toBe('198.51.100.2\n');
    await alice.stop();
  });
});

/**
 * A sluice serving its LAN (issue 19 §3), as root, in namespaces the test creates and deletes:
 *
 *   lan1 10.77.1.2 ── proxy 10.77.1.1 / 10.77.2.1 ── lan2 10.77.2.2 (HTTP :8080)
 *
 * sluice runs in `proxy` with allow-lan; curl in lan1 and lan2 are its clients. It checks
 * lan-allowed-ips / lan-disallowed-ips / skip-auth-prefixes (also changed at run time through
 * PATCH /configs), that its LAN stays reachable through it, and that this host's loopback
 * services do not, whatever the spelling.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, type LabProcess } from '../../bench/netns.js';
import { labMissing } from '../helpers/lab.js';

const unavailable = labMissing(['ip', 'curl'], 'LAN access tests');

const server = new URL('../helpers/netns-server.mjs', import.meta.url).pathname;

// Skipped only off CI (a laptop without the tools); under CI=true labMissing fails the file.
describe.skipIf(unavailable !== undefined)('a sluice serving its LAN', () => {
  const lab = new Lab();
  let proxy: LabProcess;

  beforeAll(async () => {
    await lab.hosts('proxy', 'lan1', 'lan2');
    await lab.link('lan1', 'eth0', '10.77.1.2/24', 'proxy', 'e1', '10.77.1.1/24');
    await lab.link('lan2', 'eth0', '10.77.2.2/24', 'proxy', 'e2', '10.77.2.1/24');
    await lab.ip('lan1', 'route', 'add', 'default', 'via', '10.77.1.1');
    await lab.ip('lan2', 'route', 'add', 'default', 'via', '10.77.2.1');
    const services = [lab.start('lan2', 'node', [server, '10.77.2.2', '8080']), lab.start('proxy', 'node', [server, '127.0.0.1', '8081'])];
    await Promise.all(services.map((service) => service.waitFor(/ready/)));
    const config = lab.file(
      'proxy.yaml',
      `mixed-port: 7890
allow-lan: true
authentication: ['user:pass']
lan-allowed-ips: [10.77.1.0/24]
skip-auth-prefixes: [10.77.1.0/24]
external-controller: 127.0.0.1:9090
secret: s3cret
rules: ['MATCH,DIRECT']
`,
    );
    proxy = lab.start('proxy', 'node', ['bin/sluice.js', 'run', '--log-level', 'debug', '-f', config]);
    await proxy.waitFor(/controller API on 127\.0\.0\.1:9090/);
  }, 60_000);

  afterAll(() => lab.close(), 60_000);

  const curl = (host: string, ...args: string[]) => lab.run(host, 'curl', ['-sS', '--max-time', '3', ...args]);
  const via = (proxyUrl: string, url: string) => ['--proxy', proxyUrl, url];
  const patch = (body: object) =>
    lab.run('proxy', 'curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PATCH', '-H', 'Authorization: Bearer s3cret', '--data', JSON.stringify(body), 'http://127.0.0.1:9090/configs']);

  it('admits lan-allowed-ips (here without credentials: skip-auth-prefixes) and refuses the rest before any handshake', async () => {
    const allowed = await curl('lan1', ...via('socks5h://10.77.1.1:7890', 'http://10.77.2.2:8080/'));
    expect(allowed.stdout + allowed.stderr).toBe('10.77.2.1\n');
    const refused = await curl('lan2', ...via('socks5h://user:pass@10.77.2.1:7890', 'http://10.77.2.2:8080/'));
    expect(refused.code).not.toBe(0);
    await proxy.waitFor(/refused 10\.77\.2\.2: not in lan-allowed-ips, or in lan-disallowed-ips/, 2000);
  });

  it('PATCH /configs changes the lists at run time; disallowed wins over allowed; others must authenticate', async () => {
    expect((await patch({ 'lan-allowed-ips': ['10.77.0.0/16'], 'lan-disallowed-ips': ['10.77.2.2/32'] })).stdout).toBe('204');
    expect((await curl('lan2', ...via('socks5h://user:pass@10.77.2.1:7890', 'http://10.77.2.2:8080/'))).code).not.toBe(0);
    expect((await patch({ 'lan-disallowed-ips': [] })).stdout).toBe('204');
    expect((await curl('lan2', ...via('socks5h://10.77.2.1:7890', 'http://10.77.2.2:8080/'))).code).not.toBe(0);
    const http = await curl('lan2', '-o', '/dev/null', '-w', '%{http_code}', ...via('http://10.77.2.1:7890', 'http://10.77.2.2:8080/'));
    expect(http.stdout).toBe('407');
    const withCredentials = await curl('lan2', ...via('socks5h://user:pass@10.77.2.1:7890', 'http://10.77.2.2:8080/'));
    expect(withCredentials.stdout + withCredentials.stderr).toBe('10.77.2.1\n');
    const configs = await lab.run('proxy', 'curl', ['-sS', '-H', 'Authorization: Bearer s3cret', 'http://127.0.0.1:9090/configs']);
    expect(JSON.parse(configs.stdout)).toMatchObject({ 'lan-allowed-ips': ['10.77.0.0/16'], 'lan-disallowed-ips': [], 'skip-auth-prefixes': ['10.77.1.0/24'] });
  });

  it("keeps its LAN reachable but not this host's loopback services, in any spelling", async () => {
    for (const url of ['http://127.0.0.1:8081/', 'http://localhost:8081/', 'http://0.0.0.0:8081/', 'http://[::ffff:127.0.0.1]:8081/', 'http://127.1:8081/', 'http://[::1]:8081/']) {
      const socks = await curl('lan1', ...via('socks5h://10.77.1.1:7890', url));
      expect(socks.code, `${url}: ${socks.stdout}`).not.toBe(0);
      const http = await curl('lan1', '-o', '/dev/null', '-w', '%{http_code}', ...via('http://10.77.1.1:7890', url));
      expect(http.stdout, url).toBe('403');
    }
    await proxy.waitFor(/clients of listener DEFAULT-MIXED may not reach it/, 2000);
    const lan = await curl('lan1', ...via('http://10.77.1.1:7890', 'http://10.77.2.2:8080/'));
    expect(lan.stdout).toBe('10.77.2.1\n');
  });
});

/**
 * DNS over TLS and HTTPS upstreams against Debian's dnsdist (DoT and DoH frontends with a
 * certificate the test makes, for dns.test and 127.0.0.1) in front of dnsmasq; the servers'
 * names resolved through hosts: or through default-nameserver.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminate, waitForPort } from '../../bench/harness.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { closedPorts, eventually, requirePeer, startBox, startVmessServer } from '../helpers/net.js';

const run = promisify(execFile);
const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
const available = async (program: string): Promise<boolean> => run('sh', ['-c', `command -v ${program}`]).then(() => true, () => false);

let upstream: Dnsmasq | undefined;
let dnsdist: ChildProcess | undefined;
let dir = '';
let dotPort = 0;
let dohPort = 0;

beforeAll(async () => {
  if (process.env.CI !== 'true' && !((await available('dnsdist')) && (await available('dnsmasq')) && (await available('openssl')))) return;
  dir = mkdtempSync(join(tmpdir(), 'sluice-dnsdist-'));
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '7', '-subj', '/CN=dns.test', '-addext', 'subjectAltName=DNS:dns.test,IP:127.0.0.1', '-keyout', key, '-out', cert]);
  upstream = await startDnsmasq(['--address=/example.test/203.0.113.10', '--address=/dns.test/127.0.0.1']);
  const [plainPort, tls, https] = await closedPorts(3);
  [dotPort, dohPort] = [tls!, https!];
  const config = join(dir, 'dnsdist.conf');
  writeFileSync(
    config,
    [
      `setLocal('127.0.0.1:${plainPort}')`,
      `newServer({address='127.0.0.1:${upstream.port}'})`,
      `addTLSLocal('127.0.0.1:${dotPort}', '${cert}', '${key}')`,
      `addDOHLocal('127.0.0.1:${dohPort}', '${cert}', '${key}', '/dns-query')`,
      `setSecurityPollSuffix('')`,
    ].join('\n'),
  );
  dnsdist = spawn('dnsdist', ['--supervised', '--disable-syslog', '-C', config], { stdio: 'ignore' });
  if (!(await waitForPort(dohPort)) || !(await waitForPort(dotPort))) throw new Error('dnsdist did not listen');
}, 30_000);

afterAll(async () => {
  if (dnsdist) await terminate(dnsdist, 2000);
  await upstream?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The A answer sluice's resolver gives for `name` with these DNS settings (through GET /dns/query's path: the main resolver). */
async function resolveWith(dns: string, extra = ''): Promise<{ addresses: string[]; error?: string }> {
  const box = await startBox(`
listeners: [{ name: s, type: socks, port: 0 }]
${extra}
dns:
  enable: true
${dns}
rules: ['MATCH,DIRECT']`);
  try {
    const message = await box.box.dnsModule.mainResolver!.exchange({ name: 'www.example.test', type: 'A', class: 'IN' });
    return { addresses: (message.answers ?? []).flatMap((record) => (record.type === 'A' ? [record.data] : [])) };
  } catch (error) {
    return { addresses: [], error: (error as Error).message };
  } finally {
    await box.close();
  }
}

describe('DoT and DoH upstreams (dnsdist in front of dnsmasq)', () => {
  const peers = (skip: (note?: string) => void): void => {
    requirePeer('dnsdist', skip);
    requirePeer('dnsmasq', skip);
    requirePeer('openssl', skip);
  };

  it('tls:// and https:// by name (hosts: bootstrap) and by address, with skip-cert-verify for the test certificate', async ({ skip }) => {
    peers(skip);
    const hosts = "hosts: { 'dns.test': 127.0.0.1 }";
    for (const server of [`tls://dns.test:${dotPort}#skip-cert-verify=true`, `https://dns.test:${dohPort}/dns-query#skip-cert-verify=true`, `tls://127.0.0.1:${dotPort}#skip-cert-verify=true`, `https://127.0.0.1:${dohPort}/dns-query?ignored=1#skip-cert-verify=true`]) {
      expect(await resolveWith(`  nameserver: ['${server}']`, hosts), server).toEqual({ addresses: ['203.0.113.10'] });
    }
  });

  it('refuses a certificate it cannot verify', async ({ skip }) => {
    peers(skip);
    for (const server of [`tls://dns.test:${dotPort}`, `https://dns.test:${dohPort}/dns-query`]) {
      const result = await resolveWith(`  nameserver: ['${server}']`, "hosts: { 'dns.test': 127.0.0.1 }");
      expect(result.addresses, server).toEqual([]);
      expect(result.error, server).toMatch(/all DNS requests failed: .*(self[- ]signed|certificate)/i);
    }
  });

  it('#proxy: DoH and DoT through a VMess proxy (the VMess server carries the connection)', async ({ skip }) => {
    peers(skip);
    const server = await startVmessServer('dns', uuid);
    try {
      for (const entry of [`https://127.0.0.1:${dohPort}/dns-query#vm&skip-cert-verify=true`, `tls://127.0.0.1:${dotPort}#vm&skip-cert-verify=true`]) {
        server.logs.length = 0;
        const result = await resolveWith(`  nameserver: ['${entry}']`, `proxies: [{ name: vm, type: vmess, server: 127.0.0.1, port: ${server.port()}, uuid: ${uuid}, alterId: 4 }]`);
        expect(result, entry).toEqual({ addresses: ['203.0.113.10'] });
        const port = entry.startsWith('https') ? dohPort : dotPort;
        expect(await eventually(() => server.logs.some((line) => line.includes(`--> 127.0.0.1:${port}`) && line.includes('user=dns'))), server.logs.join('\n')).toBe(true);
      }
    } finally {
      await server.close();
    }
  });

  it('resolves a server\'s name through default-nameserver', async ({ skip }) => {
    peers(skip);
    const before = upstream!.queries().filter((line) => line.includes('dns.test')).length;
    const result = await resolveWith(`  default-nameserver: ['127.0.0.1:${upstream!.port}']\n  nameserver: ['https://dns.test:${dohPort}/dns-query#skip-cert-verify=true']`);
    expect(result).toEqual({ addresses: ['203.0.113.10'] });
    expect(upstream!.queries().filter((line) => line.includes('dns.test')).length - before).toBeGreaterThanOrEqual(1);
  });
});

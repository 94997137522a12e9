/**
 * sluice's DNS module against real DNS software: Debian's dnsmasq as the upstream (fixed
 * answers, query log), `dig` as the client of sluice's `dns.listen` over UDP and TCP, and curl
 * through the SOCKS5 port to a fake address, which must be routed and dialed by its name.
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { closedPort, closeServer, eventually, listen, requirePeer, startBox, type RunningBox } from '../helpers/net.js';

const run = promisify(execFile);
const bigRecords = Array.from({ length: 60 }, (_, i) => `--host-record=big.test,198.51.100.${i + 1}`);
let upstream: Dnsmasq | undefined;
const web = createServer((request, response) => response.end(`hello ${request.headers.host}\n`));
let webPort = 0;

beforeAll(async () => {
  webPort = await listen(web);
  if (process.env.CI === 'true' || (await run('sh', ['-c', 'command -v dnsmasq']).then(() => true, () => false))) {
    upstream = await startDnsmasq([
      '--address=/example.test/203.0.113.10', '--address=/example.test/2001:db8::10', '--address=/web.test/127.0.0.1', '--address=/blocked.test/',
      '--address=/poisoned.test/240.0.0.1', '--address=/cn.test/223.5.5.5', '--address=/fb.test/203.0.113.99', ...bigRecords,
    ]);
  }
});
afterAll(async () => {
  await upstream?.stop();
  await closeServer(web);
});

/** `dig` against sluice's DNS server: the answer section's data, or the whole output with `+full`. */
async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=3', '+tries=1', ...args]);
  return stdout;
}
const short = async (port: number, ...args: string[]): Promise<string[]> => (await dig(port, '+short', ...args)).trim().split('\n').filter(Boolean);
const status = async (port: number, ...args: string[]): Promise<string> => /status: (\w+)/.exec(await dig(port, ...args))?.[1] ?? '';

async function sluiceWithDns(dns: string, extra = '', home?: string): Promise<{ box: RunningBox; dnsPort: number }> {
  const dnsPort = await closedPort();
  const box = await startBox(
    `
listeners: [{ name: socks-in, type: socks, port: 0 }]
${extra}
dns:
  enable: true
  listen: 127.0.0.1:${dnsPort}
  nameserver: [127.0.0.1:${upstream!.port}]
${dns}
rules: ['DOMAIN,web.test,DIRECT', 'MATCH,REJECT']`,
    home ? { home } : {},
  );
  return { box, dnsPort };
}

describe('the DNS server in fake-ip mode (dnsmasq upstream, dig client)', () => {
  let sluice: { box: RunningBox; dnsPort: number };
  beforeAll(async () => {
    if (!upstream) return; // each test then skips (laptop) or fails (CI) through requirePeer
    sluice = await sluiceWithDns(`  enhanced-mode: fake-ip
  fake-ip-range: 198.18.0.1/16
  fake-ip-filter: ['+.example.test', big.test]
  nameserver-policy: { 'blocked2.test': rcode://name_error }
  fake-ip-filter-mode: blacklist`);
  });
  afterAll(() => sluice?.box.close());
  const peers = (skip: (note?: string) => void): void => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
  };

  it('answers A from the range, the same name keeps its address, TTL 1; AAAA and HTTPS get no records', async ({ skip }) => {
    peers(skip);
    const port = sluice.dnsPort;
    expect(await short(port, 'one.test')).toEqual(['198.18.0.4']);
    expect(await short(port, 'two.test')).toEqual(['198.18.0.5']);
    expect(await short(port, 'ONE.test')).toEqual(['198.18.0.4']);
    expect(await dig(port, '+tcp', 'one.test')).toMatch(/^one\.test\.\s+1\s+IN\s+A\s+198\.18\.0\.4$/m);
    for (const type of ['AAAA', 'TYPE65']) {
      const answer = await dig(port, 'one.test', type);
      expect(answer).toMatch(/status: NOERROR/);
      expect(answer).toMatch(/ANSWER: 0,/);
    }
    expect(upstream!.queries().some((line) => line.includes('one.test'))).toBe(false);
  });

  it('filtered names get the upstream\'s real answers (cached: one upstream query for five), and its NXDOMAIN', async ({ skip }) => {
    peers(skip);
    const port = sluice.dnsPort;
    const before = upstream!.queries().filter((line) => line.includes('query[A] www.example.test')).length;
    const answers = await Promise.all(Array.from({ length: 5 }, () => short(port, 'www.example.test')));
    for (const answer of answers) expect(answer).toEqual(['203.0.113.10']);
    expect(upstream!.queries().filter((line) => line.includes('query[A] www.example.test')).length - before).toBe(1);
    expect(await dig(port, 'www.example.test')).toMatch(/^www\.example\.test\.\s+(2\d\d|300)\s+IN\s+A/m);
  });

  it('truncates a UDP answer to 512 bytes without EDNS (TC set), and gives all 60 records over TCP', async ({ skip }) => {
    peers(skip);
    const port = sluice.dnsPort;
    const udp = await dig(port, '+noedns', '+ignore', 'big.test');
    expect(udp).toMatch(/flags: qr tc aa rd ra|flags: qr aa tc rd ra|tc/);
    expect((await short(port, '+tcp', 'big.test')).length).toBe(60);
  });

  it('routes a SOCKS5 flow to a fake address by its name (DOMAIN rule), dials the name, and fails one to a flushed address', async ({ skip }) => {
    peers(skip);
    const [fake] = await short(sluice.dnsPort, 'web.test');
    expect(fake).toMatch(/^198\.18\./);
    const { stdout } = await run('curl', ['-sS', '--max-time', '5', '--socks5', `127.0.0.1:${sluice.box.port()}`, `http://${fake}:${webPort}/`]);
    expect(stdout).toBe(`hello ${fake}:${webPort}\n`);
    expect(await eventually(() => sluice.box.logs.some((line) => line.includes(`web.test:${webPort}`) && line.includes('match DOMAIN,web.test using DIRECT')))).toBe(true);
    sluice.box.box.dnsModule.flushFakeIps();
    const refused = await run('curl', ['-sS', '--max-time', '5', '--socks5', `127.0.0.1:${sluice.box.port()}`, `http://${fake}:${webPort}/`]).catch((error: Error) => error.message);
    expect(refused).toMatch(/SOCKS|Failed|error/i);
    expect(await eventually(() => sluice.box.logs.some((line) => line.includes(`fake DNS record ${fake} missing`)))).toBe(true);
  });

  it('garbage never stops it: random datagrams and a bad frame get FORMERR or nothing, and the next query is answered', async ({ skip }) => {
    peers(skip);
    const socket = createSocket('udp4');
    const replies: Buffer[] = [];
    socket.on('message', (message) => replies.push(message));
    for (let i = 0; i < 200; i++) socket.send(Buffer.from(Array.from({ length: 1 + (i % 64) }, (_, j) => (i * 31 + j * 7) & 0xff)), sluice.dnsPort, '127.0.0.1');
    // A header that promises a question it does not carry: FORMERR with its ID.
    socket.send(Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 3, 0x61]), sluice.dnsPort, '127.0.0.1');
    await eventually(() => replies.some((reply) => reply.readUInt16BE(0) === 0x1234), 2000);
    const formerr = replies.find((reply) => reply.readUInt16BE(0) === 0x1234)!;
    expect(formerr[3]! & 0x0f).toBe(1);
    socket.close();
    expect(await short(sluice.dnsPort, 'three.test')).toHaveLength(1);
  });
});

describe('redir-host, policies and persistence', () => {
  it('redir-host: real answers, and a flow to an answered address is routed by the name it was answered for', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const { box, dnsPort } = await sluiceWithDns('  enhanced-mode: redir-host\n  nameserver-policy: { \'+.blocked2.test\': rcode://name_error }');
    try {
      expect(await short(dnsPort, 'web.test')).toEqual(['127.0.0.1']);
      expect(await status(dnsPort, 'x.blocked2.test')).toBe('NXDOMAIN');
      expect(await status(dnsPort, 'blocked.test')).toBe('NXDOMAIN');
      const { stdout } = await run('curl', ['-sS', '--max-time', '5', '--socks5', `127.0.0.1:${box.port()}`, `http://127.0.0.1:${webPort}/`]);
      expect(stdout).toBe(`hello 127.0.0.1:${webPort}\n`);
      expect(await eventually(() => box.logs.some((line) => line.includes(`web.test:${webPort}`) && line.includes('DOMAIN,web.test'))), box.logs.join('\n')).toBe(true);
    } finally {
      await box.close();
    }
  });

  it('profile.store-fake-ip keeps the table across a restart; a changed range starts empty', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const home = mkdtempSync(join(tmpdir(), 'sluice-fakeip-'));
    try {
      const first = await sluiceWithDns('  enhanced-mode: fake-ip', 'profile: { store-fake-ip: true }', home);
      await short(first.dnsPort, 'a.test');
      const [kept] = await short(first.dnsPort, 'b.test');
      await first.box.close();
      const second = await sluiceWithDns('  enhanced-mode: fake-ip', 'profile: { store-fake-ip: true }', home);
      expect(await short(second.dnsPort, 'b.test')).toEqual([kept]);
      expect(await short(second.dnsPort, 'c.test')).toEqual(['198.18.0.6']);
      await second.box.close();
      const third = await sluiceWithDns('  enhanced-mode: fake-ip\n  fake-ip-range: 10.99.0.0/16', 'profile: { store-fake-ip: true }', home);
      expect(await short(third.dnsPort, 'b.test')).toEqual(['10.99.0.4']);
      await third.box.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('rule-set: in fake-ip-filter and nameserver-policy', () => {
  it('a rule provider decides which names get real answers and which servers answer', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const providers = "rule-providers: { real: { type: inline, behavior: domain, payload: ['+.example.test'] }, refused: { type: inline, behavior: domain, payload: ['+.nx-set.test'] } }";
    const { box, dnsPort } = await sluiceWithDns("  enhanced-mode: fake-ip\n  fake-ip-filter: ['rule-set:real']\n  nameserver-policy: { 'rule-set:refused': rcode://name_error }", providers);
    try {
      expect(await short(dnsPort, 'www.example.test')).toEqual(['203.0.113.10']);
      expect((await short(dnsPort, 'other.test'))[0]).toMatch(/^198\.18\./);
      const before = upstream!.queries().length;
      expect(await status(dnsPort, 'x.nx-set.test', 'MX')).toBe('NXDOMAIN');
      expect(upstream!.queries().length).toBe(before);
    } finally {
      await box.close();
    }
  });
});

describe('hosts: in the DNS server and in sluice\'s own lookups', () => {
  it('answers A from hosts (TTL 10), an alias with a CNAME, and dials a hosts name without asking any server', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const { box, dnsPort } = await sluiceWithDns('  enhanced-mode: fake-ip', "hosts: { 'web.test': 127.0.0.1, 'www.local.test': web.test, '+.lan.test': [192.168.9.9], '+.loop.test': x.loop.test }");
    try {
      expect(await dig(dnsPort, 'web.test')).toMatch(/^web\.test\.\s+10\s+IN\s+A\s+127\.0\.0\.1$/m);
      expect(await short(dnsPort, 'x.lan.test')).toEqual(['192.168.9.9']);
      expect(await short(dnsPort, 'www.local.test')).toEqual(['web.test.', '127.0.0.1']);
      expect((await dig(dnsPort, 'web.test', 'AAAA'))).toMatch(/ANSWER: 0,/);
      // A wildcard alias that maps back into itself: SERVFAIL at once, not a loop.
      expect(await status(dnsPort, 'a.loop.test')).toBe('SERVFAIL');
      const before = upstream!.queries().length;
      const { stdout } = await run('curl', ['-sS', '--max-time', '5', '--socks5-hostname', `127.0.0.1:${box.port()}`, `http://web.test:${webPort}/`]);
      expect(stdout).toBe(`hello web.test:${webPort}\n`);
      expect(upstream!.queries().length).toBe(before);
    } finally {
      await box.close();
    }
  });
});

describe('fallback and fallback-filter (a second dnsmasq with other answers)', () => {
  let second: Dnsmasq | undefined;
  beforeAll(async () => {
    if (upstream) second = await startDnsmasq(['--address=/example.test/198.51.100.7', '--address=/poisoned.test/198.51.100.8', '--address=/cn.test/198.51.100.9', '--address=/fb.test/198.51.100.10']);
  });
  afterAll(() => second?.stop());

  it('ipcidr and domain filters: a distrusted main answer and fallback-only names get the fallback\'s answer', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const { box, dnsPort } = await sluiceWithDns(`  enhanced-mode: redir-host
  fallback: [127.0.0.1:${second!.port}]
  fallback-filter: { geoip: false, ipcidr: [240.0.0.0/4], domain: ['+.fb.test'] }`);
    try {
      expect(await short(dnsPort, 'poisoned.test')).toEqual(['198.51.100.8']);
      expect(await short(dnsPort, 'www.example.test')).toEqual(['203.0.113.10']);
      expect(await short(dnsPort, 'x.fb.test')).toEqual(['198.51.100.10']);
      expect(upstream!.queries().some((line) => line.includes('x.fb.test'))).toBe(false);
    } finally {
      await box.close();
    }
  });

  it('geoip (the default, code CN, bundled database): a CN answer stays, another country\'s goes to the fallback', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    requirePeer('dig', skip);
    const { box, dnsPort } = await sluiceWithDns(`  enhanced-mode: redir-host
  fallback: [127.0.0.1:${second!.port}]`);
    try {
      expect(await short(dnsPort, 'cn.test')).toEqual(['223.5.5.5']);
      expect(await short(dnsPort, 'www.example.test')).toEqual(['198.51.100.7']);
    } finally {
      await box.close();
    }
  });
});

describe('GET /dns/query through the DNS module', () => {
  it('answers in mihomo\'s shape with the upstream\'s TTL, and Status 3 for NXDOMAIN', async ({ skip }) => {
    requirePeer('dnsmasq', skip);
    const controllerPort = await closedPort();
    const { box } = await sluiceWithDns('  enhanced-mode: fake-ip', `external-controller: 127.0.0.1:${controllerPort}`);
    try {
      const query = async (name: string): Promise<Record<string, unknown>> => (await (await fetch(`http://127.0.0.1:${controllerPort}/dns/query?name=${name}&type=A`)).json()) as Record<string, unknown>;
      expect(await query('www.example.test')).toMatchObject({ Status: 0, Question: [{ Name: 'www.example.test.', Qtype: 1, Qclass: 1 }], Answer: [{ name: 'www.example.test.', type: 1, data: '203.0.113.10' }] });
      const blocked = await query('blocked.test');
      expect(blocked.Status).toBe(3);
      expect(blocked.Answer).toBeUndefined();
    } finally {
      await box.close();
    }
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupLines, installLines } from '../../src/protocol/pqtunnel/host/client-routes.js';
import { iptablesInstall, nftRuleset, type FirewallPlan } from '../../src/protocol/pqtunnel/host/firewall.js';
import { LeaseTable, leaseIdleMs, parsePool } from '../../src/protocol/pqtunnel/engine/leases.js';
import { decodeParams, encodeParams } from '../../src/protocol/pqtunnel/wire/params.js';
import { DestinationPolicy } from '../../src/protocol/pqtunnel/engine/protection.js';
import { IpRangeSet, ipWords, parsePrefix } from '../../src/route/match/ip-set.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('virtual IP leases', () => {
  it('gives each key the next free address, keeps it, and skips fixed ones', () => {
    const fixed = new Map([['fixed-key', { v4: '10.66.0.2' }]]);
    const table = new LeaseTable({ v4: parsePool('10.66.0.0/16'), v6: parsePool('fd66::/64') }, fixed);
    expect(table.leaseFor('a')).toEqual({ v4: '10.66.0.3', v6: 'fd66::2' });
    expect(table.leaseFor('b')).toEqual({ v4: '10.66.0.4', v6: 'fd66::3' });
    expect(table.leaseFor('a'), 'a re-handshake keeps the lease').toEqual({ v4: '10.66.0.3', v6: 'fd66::2' });
    expect(table.leaseFor('fixed-key')).toEqual({ v4: '10.66.0.2' });
  });

  it('persists leases across restarts in the lease file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-leases-'));
    dirs.push(dir);
    const file = join(dir, 'leases.json');
    const pools = { v4: parsePool('10.66.0.0/24') };
    new LeaseTable(pools, new Map(), file).leaseFor('a');
    new LeaseTable(pools, new Map(), file).leaseFor('b');
    const again = new LeaseTable(pools, new Map(), file);
    expect(again.leaseFor('b')).toEqual({ v4: '10.66.0.3' });
    expect(again.leaseFor('a')).toEqual({ v4: '10.66.0.2' });
    expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['a', 'b']);
  });

  it('reclaims only leases idle for an hour when the pool is full, then reports exhaustion', () => {
    let now = 0;
    const table = new LeaseTable({ v4: parsePool('10.66.0.0/30') }, new Map(), undefined, () => now);
    expect(table.leaseFor('a')).toEqual({ v4: '10.66.0.2' });
    expect(() => table.leaseFor('b')).toThrow(/10\.66\.0\.0\/30 is exhausted/);
    now = leaseIdleMs + 1;
    expect(table.leaseFor('b')).toEqual({ v4: '10.66.0.2' });
  });

  it('rejects pools too small to hold the gateway and a client', () => {
    expect(() => parsePool('10.0.0.0/31')).toThrow(/between 1 and 30/);
    expect(() => parsePool('nonsense/8')).toThrow(/not a CIDR prefix/);
  });
});

describe('session parameters', () => {
  it('round-trips and rejects malformed fields without throwing', () => {
    const params = { v4: '10.66.0.9', v6: 'fd66::9', prefix4: 32, prefix6: 128, mtu: 1420, keepaliveSeconds: 0, dns: false };
    const field = encodeParams(params);
    expect(field).toHaveLength(32);
    expect(decodeParams(field)).toEqual(params);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const decoded = decodeParams(Buffer.from(bytes));
        if (decoded) expect(decoded.mtu).toBeGreaterThanOrEqual(576);
      }),
    );
  });
});

describe('local-network protection', () => {
  const policy = new DestinationPolicy(['203.0.113.1', '2001:db8::1'], new Map([['bob', ['192.168.77.0/24']]]));
  const allows = (peer: string, ip: string): boolean => policy.allows(peer, ipWords(ip)!);

  it('denies private, loopback, link-local, metadata, multicast, NAT64 and the gateway itself', () => {
    for (const ip of ['10.66.0.3', '127.0.0.1', '169.254.169.254', '192.168.77.10', '172.16.5.5', '100.64.1.1', '224.0.0.1', '255.255.255.255', '203.0.113.1', '::1', 'fd00:ec2::254', 'fe80::1', '64:ff9b::a00:1', '2001:db8::1']) {
      expect(allows('alice', ip), ip).toBe(false);
    }
    for (const ip of ['203.0.113.10', '8.8.8.8', '2001:db8::2']) expect(allows('alice', ip), ip).toBe(true);
  });

  it('opens exactly the allow-destinations prefix, for that peer only', () => {
    expect(allows('bob', '192.168.77.10')).toBe(true);
    expect(allows('bob', '192.168.78.10')).toBe(false);
    expect(allows('alice', '192.168.77.10')).toBe(false);
  });
});

describe('firewall rules', () => {
  const plan: FirewallPlan = {
    tag: 'sluice_pq0',
    device: 'pq0',
    tunAddress: { v4: '10.66.0.1' },
    pools: { v4: '10.66.0.0/16' },
    masquerade: true,
    allowances: [{ v4: '10.66.0.3', destinations: ['192.168.77.0/24'] }],
  };

  it('nftables: one table replaced atomically, allow before deny, NAT only for the pool', () => {
    const ruleset = nftRuleset(plan);
    expect(ruleset.startsWith('table inet sluice_pq0\ndelete table inet sluice_pq0\n')).toBe(true);
    const allow = ruleset.indexOf('ip saddr 10.66.0.3 ip daddr { 192.168.77.0/24 } accept');
    expect(allow).toBeGreaterThan(0);
    expect(ruleset.indexOf('ip daddr { 0.0.0.0/8, 10.0.0.0/8')).toBeGreaterThan(allow);
    expect(ruleset).toContain('iifname "pq0" oifname "pq0" drop');
    expect(ruleset).toContain('ip saddr 10.66.0.0/16 oifname != "pq0" masquerade');
    expect(nftRuleset({ ...plan, masquerade: false })).not.toContain('masquerade');
  });

  it('iptables: own chains, one jump each, the same order', () => {
    const commands = iptablesInstall(plan).map((c) => `${c.program} ${c.args.join(' ')}`);
    expect(commands.filter((c) => / -I (FORWARD|INPUT|POSTROUTING) 1 /.test(c))).toHaveLength(3);
    const allow = commands.indexOf('iptables -A sluice_pq0-fwd -i pq0 -s 10.66.0.3 -d 192.168.77.0/24 -j ACCEPT');
    expect(allow).toBeGreaterThan(0);
    expect(commands.indexOf('iptables -A sluice_pq0-fwd -i pq0 -d 10.0.0.0/8 -j DROP')).toBeGreaterThan(allow);
    expect(commands).toContain('iptables -t nat -A sluice_pq0-nat -s 10.66.0.0/16 ! -o pq0 -j MASQUERADE');
    expect(commands.some((c) => c.startsWith('ip6tables')), 'no IPv6 pool, no ip6tables').toBe(false);
  });
});

describe('client routes', () => {
  const base = { device: 'pqc0', table: 51820, priority: 9100, listenPort: 51821, exclude: ['1.0.1.0/24', '2001:db8::/32'] };

  it('proxy-outbound: a source rule into the tunnel table, nothing else', () => {
    expect(installLines({ ...base, mode: 'proxy-outbound', v4: '10.66.0.2' })).toEqual([
      { family: 4, lines: ['address add 10.66.0.2/32 dev pqc0', 'route add 0.0.0.0/0 dev pqc0 table 51820', 'rule add from 10.66.0.2 lookup 51820 priority 9100'] },
    ]);
  });

  it('full-tunnel: the tunnel port and specific routes bypass, excluded prefixes throw, per family', () => {
    const [v4, v6] = installLines({ ...base, mode: 'full-tunnel', v4: '10.66.0.2', v6: 'fd66::2' });
    expect(v4!.lines).toEqual([
      'address add 10.66.0.2/32 dev pqc0',
      'route add 0.0.0.0/0 dev pqc0 table 51820',
      'route add throw 1.0.1.0/24 table 51820',
      'rule add ipproto udp sport 51821 lookup main priority 9100',
      'rule add lookup main suppress_prefixlength 0 priority 9101',
      'rule add lookup 51820 priority 9102',
    ]);
    expect(v6!.lines).toContain('route add throw 2001:db8::/32 table 51820');
    expect(v6!.lines[0]).toBe('address add fd66::2/128 dev pqc0 nodad');
  });

  it('cleanup removes every owned priority and flushes the table in both families', () => {
    const batches = cleanupLines(51820, 9100);
    expect(batches.map((b) => b.family)).toEqual([4, 6]);
    expect(batches[0]!.lines.filter((l) => l === 'rule del priority 9102')).toHaveLength(4);
    expect(batches[0]!.lines.at(-1)).toBe('route flush table 51820');
  });
});

describe('IpRangeSet.toPrefixes', () => {
  it('covers exactly the same addresses as the ranges it came from', () => {
    const prefix = fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 8, max: 32 })).map(([address, length]) => `${[24, 16, 8, 0].map((s) => (address >>> s) & 255).join('.')}/${length}`);
    fc.assert(
      fc.property(fc.array(prefix, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(0xffffffff), { maxLength: 20 }), (prefixes, probes) => {
        const set = IpRangeSet.of(prefixes.map((p) => parsePrefix(p)));
        const again = IpRangeSet.of(set.toPrefixes().map((p) => parsePrefix(p)));
        for (const probe of probes) expect(again.has({ family: 4, v4: probe })).toBe(set.has({ family: 4, v4: probe }));
        for (const p of prefixes) expect(again.has(parsePrefix(p).start)).toBe(true);
      }),
    );
    expect(IpRangeSet.of([parsePrefix('fd00::/8'), parsePrefix('10.0.0.0/8')]).toPrefixes()).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(IpRangeSet.of([parsePrefix('10.0.0.1/32', true), parsePrefix('10.0.0.2/31')]).toPrefixes()).toEqual(['10.0.0.1/32', '10.0.0.2/31']);
  });
});

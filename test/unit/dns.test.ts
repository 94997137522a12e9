/** The DNS module's pure parts: the fake-ip pool (spec dns.md §12.3 vectors and a model test), the wire wrapper on hostile bytes, the cache's TTL ageing, and config checks. */
import fc from 'fast-check';
import packet from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DnsAnswerCache } from '../../src/dns/cache.js';
import { FakeIpPool } from '../../src/dns/fake-ip.js';
import { buildHosts } from '../../src/dns/hosts.js';
import { decodeMessage, DnsWireError, encodeMessage, encodeWithin, type DnsMessage } from '../../src/dns/wire.js';

describe('fake-ip pool', () => {
  it('allocates from network+4 in a ring, keeps names (any case), and knows its reserved addresses', () => {
    const pool = new FakeIpPool('192.168.0.0/28');
    expect(pool.lookup('foo.com')).toBe('192.168.0.4');
    expect(pool.lookup('bar.com')).toBe('192.168.0.5');
    expect(pool.lookup('Foo.COM')).toBe('192.168.0.4');
    expect(pool.reverse('192.168.0.5')).toBe('bar.com');
    expect(pool.reverse('192.168.0.6')).toBeUndefined();
    expect(pool.owns('192.168.0.6')).toBe(true);
    for (const ip of ['192.168.0.1', '192.168.0.15', '192.168.0.16', '::1', '10.0.0.1']) expect(pool.owns(ip), ip).toBe(false);
    expect(pool.capacity).toBe(11);
  });

  it('reuses the oldest allocation when the ring wraps', () => {
    const pool = new FakeIpPool('192.168.0.16/28');
    const foo = pool.lookup('foo');
    const bar = pool.lookup('bar');
    for (let i = 0; i < 9; i++) pool.lookup(`n${i}`);
    expect(pool.lookup('baz')).toBe(foo);
    expect(pool.reverse(foo)).toBe('baz');
    expect(pool.lookup('foo')).toBe(bar);
  });

  it('flush starts the ring again; a /30 and an IPv6 prefix are refused', () => {
    const pool = new FakeIpPool('192.168.0.0/28');
    const foo = pool.lookup('foo');
    const baz = pool.lookup('baz');
    pool.flush();
    expect(pool.lookup('baz')).toBe(foo);
    expect(pool.lookup('foo')).toBe(baz);
    expect(() => new FakeIpPool('192.168.0.1/30')).toThrow(/\/8 to \/29/);
    expect(() => new FakeIpPool('2001:db8::/64')).toThrow(/IPv4 prefix/);
    const big = new FakeIpPool('198.18.0.1/16');
    expect(big.capacity).toBe(65531);
    expect(big.lookup('a')).toBe('198.18.0.4');
  });

  it('behaves as a ring of two maps under any sequence of lookups, reverses and flushes (model test)', () => {
    const command = fc.oneof(fc.record({ lookup: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h') }), fc.record({ reverse: fc.integer({ min: 0, max: 7 }) }), fc.constant({ flush: true }));
    fc.assert(
      fc.property(fc.array(command, { maxLength: 60 }), (commands) => {
        const pool = new FakeIpPool('10.0.0.0/29');
        const ring: (string | undefined)[] = [undefined, undefined, undefined];
        let next = 0;
        for (const c of commands) {
          if ('lookup' in c) {
            let at = ring.indexOf(c.lookup);
            if (at < 0) {
              at = next;
              ring[at] = c.lookup;
              next = (next + 1) % 3;
            }
            expect(pool.lookup(c.lookup)).toBe(`10.0.0.${4 + at}`);
          } else if ('reverse' in c) {
            expect(pool.reverse(`10.0.0.${c.reverse}`)).toBe(c.reverse >= 4 && c.reverse <= 6 ? ring[c.reverse - 4] : undefined);
          } else {
            pool.flush();
            ring.fill(undefined);
            next = 0;
          }
        }
      }),
    );
  });

  it('a snapshot restores into a pool of the same range only', () => {
    const pool = new FakeIpPool('198.18.0.1/16');
    pool.lookup('a.test');
    const saved = pool.snapshot();
    const again = new FakeIpPool('198.18.0.1/16');
    expect(again.restore(saved)).toBe(true);
    expect(again.lookup('a.test')).toBe('198.18.0.4');
    expect(again.lookup('b.test')).toBe('198.18.0.5');
    expect(new FakeIpPool('10.0.0.0/16').restore(saved)).toBe(false);
  });
});

describe('DNS wire wrapper', () => {
  it('answers any bytes with a message or a DnsWireError, and refuses inflated counts before decoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeMessage(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(DnsWireError);
        }
      }),
      { numRuns: 3000 },
    );
    const inflated = Buffer.from([0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) expect(() => decodeMessage(inflated)).toThrow(/counts more entries/);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('refuses to encode names no message can carry', () => {
    const query = (name: string): DnsMessage => ({ type: 'query', id: 1, questions: [{ name, type: 'A', class: 'IN' }] });
    expect(() => encodeMessage(query(`${'a'.repeat(64)}.test`))).toThrow(DnsWireError);
    expect(() => encodeMessage(query('a..test'))).toThrow(DnsWireError);
    expect(() => encodeMessage(query(`${'a.'.repeat(130)}test`))).toThrow(DnsWireError);
    expect(decodeMessage(encodeMessage(query('ok.test'))).questions![0]!.name).toBe('ok.test');
  });

  it('fits answers into a UDP limit by dropping whole records from the end, setting TC', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 60, max: 1500 }), (count, limit) => {
        const answers = Array.from({ length: count }, (_, i) => ({ name: 'big.test', type: 'A' as const, class: 'IN' as const, ttl: 60, data: `198.51.100.${i + 1}` }));
        const message: DnsMessage = { type: 'response', id: 9, flags: 0x8180, questions: [{ name: 'big.test', type: 'A', class: 'IN' }], answers };
        const bytes = encodeWithin(message, limit);
        const decoded = packet.decode(bytes);
        const full = encodeMessage(message).length;
        if (full <= limit) expect(decoded.answers!.length).toBe(count);
        else {
          expect(bytes.length <= limit || decoded.answers!.length === 0).toBe(true);
          expect(decoded.flag_tc).toBe(true);
        }
        expect(decoded.questions![0]!.name).toBe('big.test');
      }),
    );
  });
});

describe('DNS answer cache', () => {
  const answer = (ttls: number[]): DnsMessage => ({
    type: 'response', id: 1, flags: 0x8180, questions: [{ name: 'a.test', type: 'A', class: 'IN' }],
    answers: ttls.map((ttl, i) => ({ name: 'a.test', type: 'A' as const, class: 'IN' as const, ttl, data: `192.0.2.${i + 1}` })),
  });

  it('ages TTLs by the time held, never below 1 nor above the stored TTL, and serves expired entries as stale with TTL 1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3600 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 7200 }), (ttls, ageSeconds) => {
        let now = 1_000_000;
        const cache = new DnsAnswerCache(10, () => now);
        cache.set('k', answer(ttls));
        now += ageSeconds * 1000;
        const hit = cache.get('k')!;
        const served = hit.message.answers!.map((record) => (record as { ttl: number }).ttl);
        expect(hit.stale).toBe(ageSeconds >= Math.min(...ttls));
        served.forEach((ttl, i) => {
          expect(ttl).toBeGreaterThanOrEqual(1);
          expect(ttl).toBeLessThanOrEqual(ttls[i]!);
          if (hit.stale) expect(ttl).toBe(1);
        });
      }),
    );
  });

  it('keeps nothing with TTL 0 or no records, and at most its capacity', () => {
    const cache = new DnsAnswerCache(2);
    cache.set('zero', answer([0]));
    cache.set('none', answer([]));
    expect(cache.size).toBe(0);
    for (const key of ['a', 'b', 'c']) cache.set(key, answer([60]));
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('dns: config', () => {
  const problems = (dns: string): string => {
    try {
      parseConfig(`mixed-port: 7890\ndns:\n${dns}`);
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('names each bad key, and warns about what sluice cannot run yet', () => {
    expect(problems('  enable: true\n  enhanced-mode: turbo\n  nameserver: [127.0.0.1]')).toMatch(/dns\.enhanced-mode: expected fake-ip, redir-host or normal/);
    expect(problems('  enable: true\n  fake-ip-range: 10.0.0.0/30\n  nameserver: [127.0.0.1]')).toMatch(/fake-ip-range '10\.0\.0\.0\/30'/);
    expect(problems('  enable: true\n  nameserver: [rcode://maybe]')).toMatch(/rcode:\/\/ takes success/);
    expect(problems('  enable: true\n  nameserver: []')).toMatch(/dns\.nameserver: empty/);
    expect(problems('  enable: true\n  default-nameserver: [dns.google]\n  nameserver: [127.0.0.1]')).toMatch(/default nameserver should be pure IP/);
    const loaded = parseConfig('mixed-port: 7890\ndns:\n  enable: true\n  nameserver: [quic://dns.example, 127.0.0.1]\n  respect-rules: true');
    expect(loaded.dns?.nameservers).toEqual(['127.0.0.1']);
    expect(loaded.warnings.join('\n')).toMatch(/quic:\/\/ servers are not supported by sluice yet, skipped/);
    expect(loaded.warnings.join('\n')).toMatch(/dns: not implemented yet, ignored: respect-rules/);
    expect(parseConfig('mixed-port: 7890\ndns:\n  enable: false\n  nameserver: [x://y]').dns).toBeUndefined();
  });
});

describe('hosts:', () => {
  it('maps names and wildcards (exact first, then the most specific), follows aliases, and has localhost', () => {
    const hosts = buildHosts({ 'router.lan': '192.168.1.1', '+.nas.test': ['10.0.0.5', 'fd00::5'], '*.wild.test': '10.0.0.9', 'a.wild.test': '10.0.0.10', 'alias.test': 'router.lan', 'out.test': 'elsewhere.example' }, []);
    expect(hosts.lookup('Router.LAN.')).toEqual({ addresses: ['192.168.1.1'] });
    expect(hosts.lookup('nas.test')).toEqual({ addresses: ['10.0.0.5', 'fd00::5'] });
    expect(hosts.lookup('x.y.nas.test')).toEqual({ addresses: ['10.0.0.5', 'fd00::5'] });
    expect(hosts.lookup('b.wild.test')).toEqual({ addresses: ['10.0.0.9'] });
    expect(hosts.lookup('a.wild.test')).toEqual({ addresses: ['10.0.0.10'] });
    expect(hosts.lookup('alias.test')).toEqual({ alias: 'router.lan' });
    expect(hosts.follow('alias.test')).toEqual({ addresses: ['192.168.1.1'] });
    expect(hosts.follow('out.test')).toEqual({ alias: 'elsewhere.example' });
    expect(hosts.lookup('localhost')).toEqual({ addresses: ['127.0.0.1'] });
    expect(hosts.lookup('other.test')).toBeUndefined();
  });

  it('refuses lists of names, single-label aliases and alias cycles, naming the key', () => {
    const problemsOf = (raw: Record<string, string | string[]>): string[] => {
      const problems: string[] = [];
      buildHosts(raw, problems);
      return problems;
    };
    expect(problemsOf({ 'a.test': ['b.test', 'c.test'] })).toEqual([expect.stringMatching(/hosts\.a\.test: a list holds IP addresses only/)]);
    expect(problemsOf({ 'a.test': 'router' })).toEqual([expect.stringMatching(/neither an IP address, a name of two or more labels, nor lan/)]);
    expect(problemsOf({ 'a.test': 'b.test', 'b.test': 'a.test' })).toEqual([expect.stringMatching(/form a cycle/)]);
  });
});

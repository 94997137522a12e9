import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRule } from '../../src/route/rule/parse.js';
import { RuleRouter } from '../../src/route/router.js';
import { DomainSet } from '../../src/route/match/domain-set.js';
import { SelectGroup } from '../../src/route/group/select.js';
import { fakeOutbounds, ruleMatches as matches, testEnv, testFlow as flow } from '../helpers/rules.js';

describe('rules (vectors from specs/clash-rules.md §6)', () => {
  it('DOMAIN, DOMAIN-SUFFIX, DOMAIN-KEYWORD', () => {
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('www.google.com'))).toBe(true);
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('google.com'))).toBe(true);
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('xgoogle.com'))).toBe(false);
    expect(matches('DOMAIN-KEYWORD,google,DIRECT', flow('googleapis.cn'))).toBe(true);
    expect(matches('DOMAIN,Example.COM,DIRECT', flow('example.com'))).toBe(true);
    expect(matches('DOMAIN,example.com,DIRECT', flow('www.example.com'))).toBe(false);
    expect(matches('DOMAIN-SUFFIX,com,DIRECT', flow('1.2.3.4'))).toBe(false);
    expect(matches('DOMAIN,bücher.example,DIRECT', flow('xn--bcher-kva.example'))).toBe(true);
  });

  it('DOMAIN-REGEX (unanchored, case-insensitive, commas in the payload) and DOMAIN-WILDCARD (glob)', () => {
    expect(matches('DOMAIN-REGEX,^ad[0-9]+\\.,REJECT', flow('ad12.example.com'))).toBe(true);
    expect(matches('DOMAIN-REGEX,AD,REJECT', flow('bad.example'))).toBe(true);
    expect(parseRule('DOMAIN-REGEX,^a{1,3}\\.test$,REJECT', testEnv()).rule.target).toBe('REJECT');
    expect(matches('DOMAIN-REGEX,^a{1,3}\\.test$,REJECT', flow('aa.test'))).toBe(true);
    expect(() => parseRule('DOMAIN-REGEX,(,REJECT', testEnv())).toThrow(/invalid regular expression/);
    expect(matches('DOMAIN-WILDCARD,*.example.com,DIRECT', flow('a.b.example.com'))).toBe(true);
    expect(matches('DOMAIN-WILDCARD,*.example.com,DIRECT', flow('example.com'))).toBe(false);
    expect(matches('DOMAIN-WILDCARD,te?t.com,DIRECT', flow('test.com'))).toBe(true);
  });

  it('domain rules use the sniffed domain when there is one', () => {
    expect(matches('DOMAIN,sni.test,DIRECT', flow('10.0.0.1', 443, { domain: 'sni.test' }))).toBe(true);
  });

  it('GEOSITE uses the category list; without one it loads, warns and matches nothing', () => {
    const env = testEnv({ geosites: { telegram: ['+.t.me', '+.telegram.org'] } });
    expect(matches('GEOSITE,Telegram,P', flow('web.telegram.org'), env)).toBe(true);
    expect(matches('GEOSITE,telegram,P', flow('nottelegram.org'), env)).toBe(false);
    const missing = parseRule('GEOSITE,nope,P', env);
    expect(missing.warning).toBe("GEOSITE,nope: no GEOSITE list named 'nope'");
    expect(missing.rule.match(flow('nope.test'))).toBe(false);
  });

  it('IP-CIDR masks host bits, keeps families apart, matches IPv6 and IPv4-mapped addresses', () => {
    expect(matches('IP-CIDR,8.8.8.8/24,DIRECT', flow('8.8.8.200'))).toBe(true);
    expect(matches('IP-CIDR,8.8.8.8/24,DIRECT', flow('8.8.9.1'))).toBe(false);
    expect(matches('IP-CIDR6,2001:db8::/32,DIRECT', flow('2001:db8:1::5'))).toBe(true);
    expect(matches('IP-CIDR,0.0.0.0/0,DIRECT', flow('::1'))).toBe(false);
    expect(matches('IP-CIDR,10.0.0.0/8,DIRECT', flow('intranet.corp'))).toBe(false);
    expect(matches('IP-CIDR,10.0.0.0/8,DIRECT', flow('x', 1, { ip: '::ffff:10.1.2.3' }))).toBe(true);
    expect(() => parseRule('IP-CIDR,10.0.0.0/33,DIRECT', testEnv())).toThrow(/prefix length/);
  });

  it('IP-SUFFIX compares the low bits', () => {
    expect(matches('IP-SUFFIX,0.0.0.1/8,DIRECT', flow('192.168.3.1'))).toBe(true);
    expect(matches('IP-SUFFIX,8.8.8.8/24,DIRECT', flow('200.8.8.8'))).toBe(true);
    expect(matches('IP-SUFFIX,8.8.8.8/24,DIRECT', flow('200.8.8.9'))).toBe(false);
    expect(matches('IP-SUFFIX,::1/16,DIRECT', flow('2001:db8::1'))).toBe(true);
    expect(matches('IP-SUFFIX,::1/16,DIRECT', flow('1.0.0.1'))).toBe(false);
  });

  it('SRC-IP-CIDR and the src parameter look at the client', () => {
    expect(matches('SRC-IP-CIDR,192.168.1.0/24,DIRECT', flow('example.com'))).toBe(true);
    expect(matches('IP-CIDR,192.168.1.0/24,DIRECT,src', flow('example.com'))).toBe(true);
    expect(matches('SRC-IP-CIDR,10.0.0.0/8,DIRECT', flow('example.com'))).toBe(false);
  });

  it('GEOIP: LAN is decided before the database; countries from the bundled database', () => {
    expect(matches('GEOIP,LAN,DIRECT', flow('192.168.1.1'))).toBe(true);
    expect(matches('GEOIP,LAN,DIRECT', flow('100.64.0.1'))).toBe(false);
    expect(matches('GEOIP,lan,DIRECT', flow('fe80::1'))).toBe(true);
    expect(matches('GEOIP,CN,DIRECT', flow('114.114.114.114'))).toBe(true);
    expect(matches('GEOIP,cn,DIRECT', flow('240e::1'))).toBe(true);
    expect(matches('GEOIP,CN,DIRECT', flow('x', 1, { ip: '::ffff:114.114.114.114' }))).toBe(true);
    expect(matches('GEOIP,US,DIRECT', flow('8.8.8.8'))).toBe(true);
    // The whois database tags 192.168/16 as AU: the LAN check must come first.
    expect(matches('GEOIP,AU,DIRECT', flow('192.168.1.1'))).toBe(false);
    expect(matches('SRC-GEOIP,LAN,DIRECT', flow('8.8.8.8'))).toBe(true);
    expect(matches('GEOIP,CN,DIRECT', flow('cn.example'))).toBe(false);
  });

  it('IP-ASN without an ASN database loads, warns and matches nothing', () => {
    const parsed = parseRule('IP-ASN,13335,DIRECT', testEnv());
    expect(parsed.warning).toMatch(/asn-database/);
    expect(parsed.rule.match(flow('1.1.1.1'))).toBe(false);
  });

  it('ports: DST-PORT, SRC-PORT, IN-PORT; inbound: IN-TYPE, IN-NAME, IN-USER; NETWORK', () => {
    expect(matches('DST-PORT,80/443/8000-8999,DIRECT', flow('a.test', 8443))).toBe(true);
    expect(matches('DST-PORT,80/443/8000-8999,DIRECT', flow('a.test', 9000))).toBe(false);
    expect(matches('SRC-PORT,50000-50010,DIRECT', flow('a.test'))).toBe(true);
    expect(matches('IN-PORT,1080,DIRECT', flow('a.test'))).toBe(true);
    expect(matches('IN-TYPE,SOCKS,DIRECT', flow('a.test'))).toBe(true);
    expect(matches('IN-TYPE,http/https,DIRECT', flow('a.test'))).toBe(false);
    expect(() => parseRule('IN-TYPE,GOPHER,DIRECT', testEnv())).toThrow(/unknown inbound type/);
    expect(matches('IN-NAME,other/in,DIRECT', flow('a.test'))).toBe(true);
    expect(matches('IN-USER,alice,DIRECT', flow('a.test', 443, { user: 'alice' }))).toBe(true);
    expect(matches('IN-USER,alice,DIRECT', flow('a.test'))).toBe(false);
    expect(matches('NETWORK,UDP,DIRECT', flow('a.test', 53, { network: 'udp' }))).toBe(true);
    expect(matches('NETWORK,tcp,DIRECT', flow('a.test', 53, { network: 'udp' }))).toBe(false);
    expect(() => parseRule('NETWORK,sctp,DIRECT', testEnv())).toThrow(/tcp or udp/);
    expect(() => parseRule('DST-PORT,*,DIRECT', testEnv())).toThrow(/invalid port list/);
  });

  it('AND / OR / NOT, nested', () => {
    const quic = flow('q.test', 443, { network: 'udp' });
    expect(matches('AND,((NETWORK,UDP),(DST-PORT,443)),REJECT', quic)).toBe(true);
    expect(matches('AND,((NETWORK,UDP),(DST-PORT,443)),REJECT', flow('q.test'))).toBe(false);
    expect(matches('NOT,((DOMAIN-SUFFIX,cn)),P', flow('example.com'))).toBe(true);
    expect(matches('NOT,((DOMAIN-SUFFIX,cn)),P', flow('a.cn'))).toBe(false);
    const nested = 'OR,((AND,((DOMAIN-SUFFIX,a.com),(NETWORK,UDP))),(DST-PORT,123)),DIRECT';
    expect(matches(nested, flow('x.a.com', 1, { network: 'udp' }))).toBe(true);
    expect(matches(nested, flow('x.a.com', 1))).toBe(false);
    expect(matches(nested, flow('b.com', 123))).toBe(true);
    expect(matches('AND,((NOT,((NETWORK,tcp))),(OR,((DST-PORT,53),(DST-PORT,853)))),DIRECT', flow('d', 853, { network: 'udp' }))).toBe(true);
    expect(parseRule('AND,((IP-CIDR,10.0.0.0/8),(NETWORK,tcp)),DIRECT', testEnv()).rule.needsIp).toBe(true);
    expect(parseRule('AND,((IP-CIDR,10.0.0.0/8,no-resolve),(NETWORK,tcp)),DIRECT', testEnv()).rule.needsIp).toBe(false);
    expect(() => parseRule('NOT,((NETWORK,tcp),(NETWORK,udp)),DIRECT', testEnv())).toThrow(/exactly one/);
    expect(() => parseRule('AND,((MATCH)),DIRECT', testEnv())).toThrow(/not allowed/);
    expect(() => parseRule('AND,((NETWORK,tcp),DIRECT', testEnv())).toThrow(/unbalanced/);
  });

  it('host-only types parse, never match, and warn', () => {
    const parsed = parseRule('PROCESS-NAME,Telegram.exe,DIRECT', testEnv());
    expect(parsed.warning).toMatch(/never match/);
    expect(parsed.rule.match(flow('a.test'))).toBe(false);
    expect(parseRule('FINAL,,P', testEnv()).rule.target).toBe('P');
    expect(parseRule('FINAL,P', testEnv()).warning).toMatch(/alias of MATCH/);
  });

  it('no-resolve and src are accepted (and ignored) on rules that do not compare an IP; other params are errors', () => {
    expect(matches('DOMAIN-SUFFIX,a.com,DIRECT,no-resolve', flow('x.a.com'))).toBe(true);
    expect(() => parseRule('DOMAIN,a.com,DIRECT,bogus', testEnv())).toThrow(/unknown rule parameter 'bogus'/);
  });

  it('prints rules the way Clash logs them', () => {
    expect(String(parseRule('domain-suffix,Example.com,DIRECT', testEnv()).rule)).toBe('DOMAIN-SUFFIX,example.com');
    expect(String(parseRule('MATCH,DIRECT', testEnv()).rule)).toBe('MATCH');
  });
});

describe('Clash wildcard domain sets (clash-rules.md §7.5)', () => {
  it('reproduces the trie vectors', () => {
    const set = new DomainSet();
    for (const p of ['*.example.com', 'sub.*.example.com', '*.dev', '.org', '.example.net', '.apple.*', '+.foo.com', '+.stun.*.*']) set.add(p);
    for (const hit of ['sub.example.com', 'sub.foo.example.com', 'test.org', 'test.example.net', 'test.apple.com', 'test.foo.com', 'foo.com', 'global.stun.website.com']) {
      expect(set.has(hit), hit).toBe(true);
    }
    for (const miss of ['foo.sub.example.com', 'foo.example.dev', 'example.com']) expect(set.has(miss), miss).toBe(false);
    const small = new DomainSet();
    for (const p of ['baidu.com', '.qq.com', '+.cn']) small.add(p);
    for (const hit of ['cn', 'test.cn', 'www.qq.com']) expect(small.has(hit), hit).toBe(true);
    for (const miss of ['qq.com', 'www.baidu.com']) expect(small.has(miss), miss).toBe(false);
  });

  it('follows the pattern table', () => {
    const one = (pattern: string, host: string): boolean => {
      const set = new DomainSet();
      set.add(pattern);
      return set.has(host);
    };
    expect(one('*.*.qq.com', 'a.b.qq.com')).toBe(true);
    expect(one('*.*.qq.com', 'a.qq.com')).toBe(false);
    expect(one('*.*.qq.com', 'a.b.c.qq.com')).toBe(false);
    expect(one('*', 'localhost')).toBe(true);
    expect(one('*', 'a.b')).toBe(false);
    expect(one('+.example.com', 'xexample.com')).toBe(false);
    expect(one('xbox.*.microsoft.com', 'xbox.live.microsoft.com')).toBe(true);
    expect(one('a*.com', 'ab.com')).toBe(false);
    for (const bad of ['', 'example.com.', 'a..b', '..dev', '.', ' a.com']) expect(() => new DomainSet().add(bad), bad).toThrow();
    expect(one('Mijia Cloud', 'mijia cloud')).toBe(true);
  });
});

describe('router', () => {
  const build = (lines: string[], resolved: string[], extra: string[] = []) =>
    new RuleRouter({
      rules: lines.map((l) => parseRule(l, testEnv()).rule),
      outbounds: fakeOutbounds('NR', 'A', 'B', 'M', 'OTHER', 'P', 'U-tcp', ...extra),
      resolve: async (host) => {
        resolved.push(host);
        return '10.1.2.3';
      },
    });

  it('takes the first match and falls back to DIRECT', async () => {
    const router = build(['DOMAIN,a.test,REJECT', 'DOMAIN-SUFFIX,test,OTHER'], []);
    expect((await router.decide(flow('a.test'))).chain).toBe('REJECT');
    const decision = await router.decide(flow('b.test'));
    expect([decision.chain, String(decision.rule)]).toEqual(['OTHER', 'DOMAIN-SUFFIX,test']);
    const fallback = await router.decide(flow('c.example'));
    expect([fallback.chain, fallback.rule]).toEqual(['DIRECT', undefined]);
  });

  it('answers without a promise when no lookup is needed', () => {
    const decision = build(['DOMAIN-SUFFIX,test,A'], []).decide(flow('x.test'));
    expect(decision).not.toBeInstanceOf(Promise);
  });

  it('resolves a domain only when an IP rule without no-resolve is reached, and only once', async () => {
    const resolved: string[] = [];
    const router = build(['DOMAIN,x.test,REJECT', 'IP-CIDR,10.0.0.0/8,NR,no-resolve', 'IP-CIDR,192.168.0.0/16,A', 'IP-CIDR,10.0.0.0/8,B'], resolved);
    const f = flow('intranet.corp');
    expect((await router.decide(f)).chain).toBe('B');
    expect(resolved).toEqual(['intranet.corp']);
    expect(f.ip).toBe('10.1.2.3');
    expect((await router.decide(flow('x.test'))).chain).toBe('REJECT');
    expect((await build(['IP-CIDR,10.0.0.0/8,NR,no-resolve', 'MATCH,M'], resolved).decide(flow('y.test'))).chain).toBe('M');
    expect(resolved).toEqual(['intranet.corp']);
    // A no-resolve rule after the lookup matches against the resolved address.
    expect((await build(['GEOIP,CN,A', 'IP-CIDR,10.0.0.0/8,NR,no-resolve'], resolved).decide(flow('z.test'))).chain).toBe('NR');
  });

  it('skips PASS targets and targets without UDP for UDP flows', async () => {
    const router = build(['DOMAIN,a.test,PASS', 'DOMAIN,a.test,U-tcp', 'DOMAIN,a.test,A'], []);
    expect((await router.decide(flow('a.test'))).chain).toBe('U-tcp');
    expect((await router.decide(flow('a.test', 53, { network: 'udp' }))).chain).toBe('A');
  });

  it('walks SUB-RULE lists and continues when the list has no match', async () => {
    const env = testEnv({ subRules: ['web'] });
    const router = new RuleRouter({
      rules: ['SUB-RULE,(NETWORK,tcp),web', 'MATCH,M'].map((l) => parseRule(l, env).rule),
      subRules: new Map([['web', ['DST-PORT,443,A', 'IP-CIDR,10.0.0.0/8,B'].map((l) => parseRule(l, env).rule)]]),
      outbounds: fakeOutbounds('A', 'B', 'M'),
      resolve: async () => '10.9.9.9',
    });
    expect((await router.decide(flow('s.test', 443))).chain).toBe('A');
    expect((await router.decide(flow('s.test', 80))).chain).toBe('B');
    expect((await router.decide(flow('s.test', 443, { network: 'udp' }))).chain).toBe('M');
    expect(() => parseRule('SUB-RULE,(NETWORK,tcp),nope', env)).toThrow(/unknown sub-rules list/);
  });

  it('unwraps groups and names the chain', async () => {
    const outbounds = fakeOutbounds('hk-01', 'jp-01');
    const group = new SelectGroup({ name: 'PROXY', members: ['hk-01', 'jp-01'], disableUdp: false }, undefined);
    outbounds.set('PROXY', group);
    group.link(outbounds);
    const router = new RuleRouter({ rules: [parseRule('MATCH,PROXY', testEnv()).rule], outbounds, resolve: async () => undefined });
    expect((await router.decide(flow('a.test'))).chain).toBe('PROXY[hk-01]');
    group.select('jp-01');
    const decision = await router.decide(flow('a.test'));
    expect([decision.chain, decision.outbound.name]).toEqual(['PROXY[jp-01]', 'jp-01']);
    expect(() => group.select('nope')).toThrow(/not a member/);
  });

  it('honours mode direct and global', async () => {
    const rules = [parseRule('MATCH,REJECT', testEnv()).rule];
    const outbounds = fakeOutbounds('GLOBAL');
    expect((await new RuleRouter({ rules, outbounds, resolve: async () => undefined, mode: 'direct' }).decide(flow('a.test'))).chain).toBe('DIRECT');
    expect((await new RuleRouter({ rules, outbounds, resolve: async () => undefined, mode: 'global', globalTarget: 'GLOBAL' }).decide(flow('a.test'))).chain).toBe('GLOBAL');
  });
});

describe('rule parser under random input', () => {
  it('any line gives a rule or an Error with a message, never a crash or a hang', () => {
    const types = ['DOMAIN', 'DOMAIN-SUFFIX', 'DOMAIN-REGEX', 'IP-CIDR', 'IP-SUFFIX', 'GEOIP', 'DST-PORT', 'IN-TYPE', 'AND', 'OR', 'NOT', 'SUB-RULE', 'RULE-SET', 'MATCH', 'FINAL'];
    const piece = fc.oneof(fc.constantFrom(...types, '(', ')', ',', '((', '))', 'no-resolve', 'src', '10.0.0.0/8', '::1/128', '80-90', 'a.com', '*'), fc.string({ maxLength: 6 }));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const line = parts.join('');
        try {
          const { rule } = parseRule(line, testEnv());
          rule.match(flow('a.com', 80));
          rule.match(flow('10.1.2.3', 85));
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import type { Flow } from '../../src/adapter/flow.js';
import { parseRule } from '../../src/route/rule/parse.js';
import { RuleRouter } from '../../src/route/router.js';
import { ipFamily } from '../../src/common/address.js';

function flow(host: string, port = 443, extra: Partial<Flow> = {}): Flow {
  return {
    id: 1,
    network: 'tcp',
    inbound: { name: 'in', type: 'SOCKS5', port: 1080 },
    source: { host: '192.168.1.20', port: 50000 },
    destination: { host, port },
    ip: ipFamily(host) ? host : undefined,
    bytesUp: 0,
    bytesDown: 0,
    start: 0,
    signal: new AbortController().signal,
    ...extra,
  };
}

const matches = (line: string, f: Flow): boolean => parseRule(line).rule.match(f);

describe('rules (vectors from specs/clash-rules.md §6)', () => {
  it('DOMAIN, DOMAIN-SUFFIX, DOMAIN-KEYWORD', () => {
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('www.google.com'))).toBe(true);
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('google.com'))).toBe(true);
    expect(matches('DOMAIN-SUFFIX,google.com,DIRECT', flow('xgoogle.com'))).toBe(false);
    expect(matches('DOMAIN-KEYWORD,google,DIRECT', flow('googleapis.cn'))).toBe(true);
    expect(matches('DOMAIN,Example.COM,DIRECT', flow('example.com'))).toBe(true);
    expect(matches('DOMAIN,example.com,DIRECT', flow('www.example.com'))).toBe(false);
    expect(matches('DOMAIN-SUFFIX,com,DIRECT', flow('1.2.3.4'))).toBe(false);
  });

  it('domain rules use the sniffed domain when there is one', () => {
    expect(matches('DOMAIN,sni.test,DIRECT', flow('10.0.0.1', 443, { domain: 'sni.test' }))).toBe(true);
  });

  it('IP-CIDR masks host bits, keeps families apart, matches IPv6', () => {
    expect(matches('IP-CIDR,8.8.8.8/24,DIRECT', flow('8.8.8.200'))).toBe(true);
    expect(matches('IP-CIDR,8.8.8.8/24,DIRECT', flow('8.8.9.1'))).toBe(false);
    expect(matches('IP-CIDR6,2001:db8::/32,DIRECT', flow('2001:db8:1::5'))).toBe(true);
    expect(matches('IP-CIDR,0.0.0.0/0,DIRECT', flow('::1'))).toBe(false);
    expect(matches('IP-CIDR,10.0.0.0/8,DIRECT', flow('intranet.corp'))).toBe(false);
  });

  it('SRC-IP-CIDR and the src parameter look at the client', () => {
    expect(matches('SRC-IP-CIDR,192.168.1.0/24,DIRECT', flow('example.com'))).toBe(true);
    expect(matches('IP-CIDR,192.168.1.0/24,DIRECT,src', flow('example.com'))).toBe(true);
    expect(matches('SRC-IP-CIDR,10.0.0.0/8,DIRECT', flow('example.com'))).toBe(false);
  });

  it('DST-PORT lists and ranges; NETWORK', () => {
    expect(matches('DST-PORT,80/443/8000-8999,DIRECT', flow('a.test', 8443))).toBe(true);
    expect(matches('DST-PORT,80/443/8000-8999,DIRECT', flow('a.test', 9000))).toBe(false);
    expect(matches('NETWORK,UDP,DIRECT', flow('a.test', 53, { network: 'udp' }))).toBe(true);
    expect(matches('NETWORK,tcp,DIRECT', flow('a.test', 53, { network: 'udp' }))).toBe(false);
    expect(() => parseRule('NETWORK,sctp,DIRECT')).toThrow(/tcp or udp/);
    expect(() => parseRule('DST-PORT,*,DIRECT')).toThrow(/invalid port list/);
  });

  it('prints rules the way Clash logs them', () => {
    expect(String(parseRule('domain-suffix,Example.com,DIRECT').rule)).toBe('DOMAIN-SUFFIX,example.com');
    expect(String(parseRule('MATCH,DIRECT').rule)).toBe('MATCH');
  });
});

describe('router', () => {
  const build = (lines: string[], resolved: string[]) =>
    new RuleRouter(
      lines.map((l) => parseRule(l).rule),
      async (host) => {
        resolved.push(host);
        return '10.1.2.3';
      },
    );

  it('takes the first match and falls back to DIRECT', async () => {
    const router = build(['DOMAIN,a.test,REJECT', 'DOMAIN-SUFFIX,test,OTHER'], []);
    expect((await router.decide(flow('a.test'))).outbound).toBe('REJECT');
    const decision = await router.decide(flow('b.test'));
    expect([decision.outbound, String(decision.rule)]).toEqual(['OTHER', 'DOMAIN-SUFFIX,test']);
    expect(await router.decide(flow('c.example'))).toEqual({ outbound: 'DIRECT' });
  });

  it('resolves a domain only when an IP rule without no-resolve is reached, and only once', async () => {
    const resolved: string[] = [];
    const router = build(
      ['DOMAIN,x.test,REJECT', 'IP-CIDR,10.0.0.0/8,NR,no-resolve', 'IP-CIDR,192.168.0.0/16,A', 'IP-CIDR,10.0.0.0/8,B'],
      resolved,
    );
    const f = flow('intranet.corp');
    expect((await router.decide(f)).outbound).toBe('B');
    expect(resolved).toEqual(['intranet.corp']);
    expect(f.ip).toBe('10.1.2.3');
    expect((await router.decide(flow('x.test'))).outbound).toBe('REJECT');
    expect((await build(['IP-CIDR,10.0.0.0/8,NR,no-resolve', 'MATCH,M'], resolved).decide(flow('y.test'))).outbound).toBe('M');
    expect(resolved).toEqual(['intranet.corp']);
  });

  it('honours mode direct and global', async () => {
    const rules = [parseRule('MATCH,REJECT').rule];
    expect((await new RuleRouter(rules, async () => undefined, 'direct').decide(flow('a.test'))).outbound).toBe('DIRECT');
    expect((await new RuleRouter(rules, async () => undefined, 'global', 'P').decide(flow('a.test'))).outbound).toBe('P');
  });
});

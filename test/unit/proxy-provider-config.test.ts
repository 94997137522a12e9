import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { MemberFilter } from '../../src/route/group/member-filter.js';

const uuid = '7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c';
const home = mkdtempSync(join(tmpdir(), 'sluice-provider-config-'));

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, home);
  } catch (error) {
    return (error as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('proxy-providers: filters, override and entries, as mihomo applies them', () => {
  it('filters by name and type as written, keeps repeated names once, then overrides; bad entries skipped with a warning', () => {
    writeFileSync(join(home, 'sub.yaml'), `proxies:
  - { name: hk-1, type: vmess, server: 127.0.0.1, port: '1001', uuid: ${uuid} }
  - { name: hk-1, type: vmess, server: 127.0.0.1, port: 1002, uuid: ${uuid} }
  - { name: hk-ss, type: ss, server: 127.0.0.1, port: 1003, cipher: aes-128-gcm, password: x }
  - { name: hk-expired, type: vmess, server: 127.0.0.1, port: 1004, uuid: ${uuid} }
  - { name: hk-bad, type: vmess, server: 127.0.0.1, port: 99999, uuid: ${uuid} }
  - { name: jp-1, type: vmess, server: 127.0.0.1, port: 1005, uuid: ${uuid} }
  - { name: us-1, type: trojan, server: 127.0.0.1, port: 1006, password: x }
  - { type: vmess }
`);
    const config = parseConfig(`mixed-port: 7890
proxy-providers:
  p:
    type: file
    path: sub.yaml
    filter: 'hk|us'
    exclude-filter: expired
    exclude-type: trojan
    override: { udp: true, additional-suffix: ' (p)', proxy-name: [{ pattern: '^hk', target: 'HK' }] }
proxy-groups: [{ name: G, type: select, use: [p] }]
rules: ['MATCH,G']`, home);
    const [provider] = config.proxyProviders;
    expect(provider!.proxies).toEqual([
      { name: 'HK-1 (p)', type: 'vmess', server: '127.0.0.1', port: 1001, uuid, udp: true },
      { name: 'HK-ss (p)', type: 'unsupported', protocol: 'ss', reason: "type 'ss' is not supported by sluice" },
    ]);
    expect(provider!.warnings).toEqual([
      '1 entries without a name and type were skipped',
      `proxies skipped: "hk-bad".port: must be <= 65535, got 99999`,
      "UNSUPPORTED PROXIES: 1 of 2 proxies stay listed but fail every flow (1 × type 'ss' is not supported by sluice)",
    ]);
    expect(config.warnings).toEqual([]);
  });

  it('checks providers: unknown ones in use:, bad regexes, a missing file, an unknown download proxy', () => {
    expect(problems(`proxy-providers:
  f: { type: file, path: nope.yaml }
  r: { type: inline, filter: '(', payload: [] }
  d: { type: http, url: 'http://sub.test/x', proxy: nowhere }
proxy-groups: [{ name: G, type: select, use: [f, zz] }]
rules: ['MATCH,G']`)).toEqual([
      `proxy-providers.f: ENOENT: no such file or directory, open '${home}/nope.yaml'`,
      expect.stringMatching(/^proxy-providers\.r\.filter: "\(" is not a regex the linear-time engine accepts/),
      'proxy-providers.d.proxy: unknown proxy or group "nowhere"',
      'proxy-groups[0].use[1]: unknown proxy provider "zz" in group "G"',
    ]);
  });

  it('loads a 10,000-proxy subscription in well under a second', () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `  - { name: node-${i}, type: vmess, server: 10.0.${i >> 8}.${i & 255}, port: ${1000 + (i % 5000)}, uuid: ${uuid}, alterId: 0, cipher: auto, udp: true }`);
    writeFileSync(join(home, 'big.yaml'), `proxies:\n${lines.join('\n')}\n`);
    const started = performance.now();
    const config = parseConfig(`mixed-port: 7890\nproxy-providers: { big: { type: file, path: big.yaml } }\nproxy-groups: [{ name: G, type: url-test, use: [big] }]\nrules: ['MATCH,G']`, home);
    const elapsed = performance.now() - started;
    expect(config.proxyProviders[0]!.proxies).toHaveLength(10_000);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('group members: include-all, filter, exclude-filter, exclude-type', () => {
  const base = `mixed-port: 7890
proxies:
  - { name: 🇭🇰 HK 01, type: vmess, server: a, port: 1, uuid: ${uuid} }
  - { name: 🇯🇵 JP 01, type: vmess, server: a, port: 1, uuid: ${uuid} }
  - { name: 香港 ss, type: ss, server: a, port: 1, cipher: aes-128-gcm, password: x }
  - { name: direct-1, type: direct }
rules: ['MATCH,DIRECT']
`;
  it('take every proxy through the filters, in mihomo order; lookahead templates read as exclusions', () => {
    const config = parseConfig(`${base}proxy-groups:
  - { name: hk, type: select, include-all: true, filter: '(?i)港|hk' }
  - { name: others, type: select, include-all-proxies: true, filter: "(?i)^(?!.*(?:港|hk)).*" }
  - { name: nodirect, type: select, proxies: [DIRECT], include-all-proxies: true, exclude-type: 'Direct|shadowsocks' }
  - { name: ordered, type: select, include-all-proxies: true, filter: 'JP\`HK' }
  - { name: none, type: select, include-all-proxies: true, filter: 'nothing-matches' }
`, home);
    const members = (name: string): string[] => config.groups.find((g) => g.name === name)!.members;
    expect(members('hk')).toEqual(['🇭🇰 HK 01', '香港 ss']);
    expect(members('others')).toEqual(['🇯🇵 JP 01', 'direct-1']);
    expect(members('nodirect')).toEqual(['🇭🇰 HK 01', '🇯🇵 JP 01']);
    expect(members('ordered')).toEqual(['🇯🇵 JP 01', '🇭🇰 HK 01']);
    expect(members('none')).toEqual(['COMPATIBLE']);
    expect(config.warnings).toContain('proxy-groups[4]: no proxy is left in group "none" after its filters; it uses COMPATIBLE (DIRECT), as in mihomo');
  });

  it('refuses regexes the linear-time engine cannot run, and groups with no source of members', () => {
    expect(problems(`${base}proxy-groups:\n  - { name: g, type: select, include-all: true, filter: '(?<=a)b' }\n  - { name: e, type: select }`)).toEqual([
      expect.stringMatching(/^proxy-groups\[0\]\.filter: "\(\?<=a\)b" is not a regex the linear-time engine accepts/),
      'proxy-groups[1]: group "e" has no members: set proxies, use or include-all',
    ]);
  });

  it('MemberFilter: pick keeps mihomo order and each name once; exclude by name and type, ignoring case', () => {
    const candidates = [{ name: 'a-hk', type: 'Vmess' }, { name: 'b-jp', type: 'Shadowsocks' }, { name: 'c-hk-jp', type: 'Trojan' }];
    const filter = new MemberFilter({ filter: 'jp`hk', excludeFilter: '^c', excludeType: 'shadowsocks' });
    expect(filter.pick(candidates).map((c) => c.name)).toEqual(['b-jp', 'c-hk-jp', 'a-hk']);
    expect(filter.exclude(filter.pick(candidates)).map((c) => c.name)).toEqual(['a-hk']);
    expect(new MemberFilter({}).empty).toBe(true);
  });
});

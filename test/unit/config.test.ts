import type { ProxyListenerConfig, TunnelGatewayListenerConfig } from '../../src/config/types.js';
import { describe, expect, it } from 'vitest';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { testFlow } from '../helpers/rules.js';
import { ConfigError } from '../../src/config/errors.js';
import { DnsCache } from '../../src/common/dns-cache.js';
import { defaultConfigUrl, loadConfigFile, parseConfig } from '../../src/config/load.js';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('config loading', () => {
  it('loads the bundled default config: LAN and China DIRECT, the rest to PROXY', async () => {
    const config = await loadConfigFile(defaultConfigUrl);
    expect(config.listeners).toEqual([
      { name: 'DEFAULT-MIXED', type: 'mixed', listen: '127.0.0.1', port: 7890, users: undefined, udp: true },
    ]);
    expect(config.warnings).toEqual([]);
    expect(config.timeouts.tcpIdleMs).toBe(300_000);
    expect(config.providers.map((p) => [p.name, p.count > 0, p.warnings])).toEqual([
      ['lan', true, []],
      ['cn-cidr', true, []],
      ['cn-domain', true, []],
    ]);
    const box = new Box(config, new Logger('error', 'text', { write: () => {} }));
    const route = async (host: string): Promise<string> => {
      const decision = await box.router.decide(testFlow(host));
      return `${decision.rule ?? 'none'} => ${decision.chain}`;
    };
    expect(await route('www.baidu.com')).toBe('RULE-SET,cn-domain => DIRECT');
    expect(await route('gov.cn')).toBe('RULE-SET,cn-domain => DIRECT');
    expect(await route('192.168.1.10')).toBe('RULE-SET,lan => DIRECT');
    expect(await route('114.114.114.114')).toBe('RULE-SET,cn-cidr => DIRECT');
    expect(await route('240e::1')).toBe('RULE-SET,cn-cidr => DIRECT');
    expect(await route('8.8.8.8')).toBe('MATCH => PROXY[DIRECT]');
    // No rule resolves: a foreign domain goes to PROXY without a DNS query.
    expect(await route('example.com')).toBe('MATCH => PROXY[DIRECT]');
  });

  it('names the path and the value of an out-of-range number', () => {
    const yaml = `listeners:
  - { name: a, type: socks, port: 1080 }
  - { name: b, type: http, port: 70000 }`;
    expect(problems(yaml)).toEqual(['listeners[1].port: must be <= 65535, got 70000']);
  });

  it('reports wrong types, enums and missing keys', () => {
    expect(problems('mixed-port: "7890x"')).toEqual(['mixed-port: must be integer, got "7890x"']);
    expect(problems('log-level: loud')).toEqual([
      'log-level: must be one of silent, error, warning, info, debug, got "loud"',
    ]);
    expect(problems('listeners:\n  - { name: a, type: socks }')).toEqual(['listeners[0].port: required key is missing']);
    expect(problems('authentication: ["nocolon"]')).toEqual(['authentication[0]: has the wrong form, got "nocolon"']);
    expect(problems('timeouts: { connect: 0 }')).toEqual(['timeouts.connect: must be > 0, got 0']);
  });

  it('suggests the nearest key for a typo, at any depth', () => {
    expect(problems('mixed-prot: 7890')).toEqual(["mixed-prot: unknown key (did you mean 'mixed-port'?)"]);
    expect(problems('listeners:\n  - { name: a, type: socks, prot: 1 }')).toEqual([
      "listeners[0].prot: unknown key (did you mean 'port'?)",
      'listeners[0].port: required key is missing',
    ]);
    expect(parseConfig('mixed-port: 7890\nzzzzzz: 1\nscript: { code: x }\ncfw-bypass: [a]').warnings).toEqual(['unknown top-level keys, ignored (mihomo ignores them too): zzzzzz, script, cfw-bypass']);
  });

  it('reads configs as mihomo does: merge keys, legacy section names, anchor holders, weak scalars, undeclared fields', () => {
    const config = parseConfig(`mixed-port: '7890'
p: &p { type: file, behavior: domain }
Proxy:
  - { name: d, type: direct, udp: true }
  - { name: v, type: vmess, server: 127.0.0.1, port: '443', uuid: 7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c, alterId: '0', udp: 'true' }
Proxy Group:
  - { name: G, type: select, proxies: [d, v] }
Rule: ['MATCH,G']
rule-providers:
  lan:
    <<: *p
    path: ./rules/lan.list
    format: text
`, process.cwd());
    expect(config.listeners.map((l) => l.port)).toEqual([7890]);
    expect(config.proxies[1]).toMatchObject({ name: 'v', port: 443, alterId: 0, udp: true });
    expect(config.groups[0]).toMatchObject({ name: 'G', members: ['d', 'v'] });
    expect(config.providers[0]!.config).toMatchObject({ name: 'lan', vehicle: 'file', behavior: 'domain' });
    expect(config.warnings).toEqual(['unknown top-level keys, ignored (mihomo ignores them too): p', 'keys these entries do not have, ignored: proxies[0].udp']);
    expect(problems('Proxy: []\nproxies: []')).toEqual(["Proxy: the legacy name of 'proxies', which is set too; keep one"]);
  });

  it('reports every problem in one round, each once, and keeps the warnings', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig(`mixed-port: 99999
proxies:
  - { name: bad, type: vmess, server: a, port: 0, uuid: x }
  - { name: t, type: tuic, server: a, port: 1 }
proxy-groups:
  - { name: G, type: select, proxies: [bad, t] }
  - { name: H, type: nosuch, proxies: [G] }
rules: ['DOMAIN,a.test,G', 'FOO,x,DIRECT', 'MATCH,H']`);
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error?.problems).toEqual([
      'mixed-port: must be <= 65535, got 99999',
      'proxies[0].port: must be >= 1, got 0',
      'proxy-groups[1].type: must be one of select, url-test, fallback, load-balance, relay, got "nosuch"',
      `rules[1]: unknown rule type 'FOO', got "FOO,x,DIRECT"`,
    ]);
    expect(error?.warnings[0]).toMatch(/^UNSUPPORTED PROXIES: 1 proxies stay listed but fail every flow: "t" \(type 'tuic' is not supported by sluice\)/);
  });

  it('warns about, and ignores, keys Clash defines that sluice does not implement yet', () => {
    const config = parseConfig(`mixed-port: 7890
ntp: { enable: true }
listeners:
  - { name: s, type: socks, port: 1081, rule: sub }
rules: ['MATCH,DIRECT']`);
    expect(config.warnings).toEqual(['not implemented yet, ignored: ntp, listeners[0].rule']);
    expect(config.listeners.map((l) => l.name)).toEqual(['DEFAULT-MIXED', 's']);
  });

  it('keeps proxies of types sluice lacks as placeholders, skips such listeners, and says so loudly', () => {
    const config = parseConfig(`mixed-port: 7890
proxies:
  - { name: hk, type: ss, server: a, port: 1, cipher: aes-128-gcm, password: x }
  - { name: ws, type: vmess, server: a, port: 1, uuid: 7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c, network: ws }
listeners:
  - { name: in, type: hysteria2, port: 1 }
proxy-groups:
  - { name: G, type: url-test, proxies: [hk, ws] }
rules: ['MATCH,G']`);
    expect(config.proxies).toEqual([
      { name: 'hk', type: 'unsupported', protocol: 'ss', reason: "type 'ss' is not supported by sluice" },
      { name: 'ws', type: 'unsupported', protocol: 'vmess', reason: "VMess over 'ws' is not supported by sluice yet (only tcp)" },
    ]);
    expect(config.listeners.map((l) => l.name)).toEqual(['DEFAULT-MIXED']);
    expect(config.warnings.slice(0, 2)).toEqual([
      `UNSUPPORTED PROXIES: 2 proxies stay listed but fail every flow: "hk" (type 'ss' is not supported by sluice); "ws" (VMess over 'ws' is not supported by sluice yet (only tcp))`,
      `UNSUPPORTED LISTENERS: not opened, their types are not supported by sluice: listeners[0] "in" (type 'hysteria2')`,
    ]);
    expect(problems('proxies:\n  - { name: x, type: gopher }')).toEqual(['proxies[0].type: unknown type "gopher"']);
  });

  it('checks rules: grammar, targets, payloads', () => {
    expect(
      problems(`rules:
  - DOMAIN-SUFFIX,example.com,Proxy
  - FOO,bar,DIRECT
  - IP-CIDR,10.0.0.0/33,DIRECT
  - DST-PORT,80-,DIRECT
  - GEOSITE,nope,DIRECT
  - DOMAIN,example.com
  - IP-CIDR,10.0.0.0/8,DIRECT,resolve-please`),
    ).toEqual([
      `rules[1]: unknown rule type 'FOO', got "FOO,bar,DIRECT"`,
      `rules[2]: invalid prefix length in '10.0.0.0/33', got "IP-CIDR,10.0.0.0/33,DIRECT"`,
      `rules[3]: invalid port '80-', got "DST-PORT,80-,DIRECT"`,
      `rules[5]: expected TYPE,PAYLOAD,TARGET, got "DOMAIN,example.com"`,
      `rules[6]: unknown rule parameter 'resolve-please', got "IP-CIDR,10.0.0.0/8,DIRECT,resolve-please"`,
    ]);
  });

  it('accepts user proxies as rule targets, FINAL as MATCH, host-only rules with a warning', () => {
    const config = parseConfig(`mixed-port: 1
proxies:
  - { name: out, type: direct }
rules:
  - PROCESS-NAME,curl,out
  - DOMAIN-SUFFIX,.example.com,out
  - FINAL,,out`);
    expect(config.rules.map((r) => `${r}=>${r.target}`)).toEqual([
      'PROCESS-NAME,curl=>out',
      'DOMAIN-SUFFIX,example.com=>out',
      'MATCH=>out',
    ]);
    expect(config.warnings).toEqual([
      'rules[0]: PROCESS-NAME rules never match in sluice',
      'rules[1]: leading dot removed from DOMAIN-SUFFIX,.example.com',
      'rules[2]: FINAL is an old alias of MATCH',
    ]);
  });

  it('keeps listeners on loopback unless allow-lan is set', () => {
    expect(problems('listeners:\n  - { name: a, type: socks, port: 1, listen: 0.0.0.0 }')).toEqual([
      'listeners[0].listen: "0.0.0.0" is not a loopback address; set allow-lan: true to listen on it',
    ]);
    expect(parseConfig('allow-lan: false\nbind-address: "*"\nsocks-port: 1').listeners[0]!.listen).toBe('127.0.0.1');
    expect(parseConfig('allow-lan: true\nbind-address: "*"\nsocks-port: 1').listeners[0]!.listen).toBe('0.0.0.0');
    expect(parseConfig('allow-lan: true\nlisteners:\n  - { name: a, type: socks, port: 1, listen: 0.0.0.0 }').listeners[0]!.listen).toBe('0.0.0.0');
    expect(parseConfig('allow-lan: true\nbind-address: "::1"\nsocks-port: 1').listeners[0]!.listen).toBe('::1');
    expect(problems('allow-lan: true\nbind-address: eth0\nsocks-port: 1')).toEqual(["bind-address: expected '*' or an IP address, got \"eth0\""]);
  });

  it('warns loudly about a LAN listener without authentication or lan-allowed-ips (an open proxy), and checks the access lists', () => {
    const open = (yaml: string): string[] => parseConfig(yaml).warnings.filter((w) => w.startsWith('OPEN PROXY'));
    expect(open('allow-lan: true\nmixed-port: 7890')).toEqual([
      'OPEN PROXY: listener DEFAULT-MIXED on 0.0.0.0:7890 serves anyone who can reach it (no authentication, no lan-allowed-ips); set authentication (or its users), or lan-allowed-ips to your network, e.g. [192.168.1.0/24]',
    ]);
    expect(open('allow-lan: true\nlisteners:\n  - { name: a, type: http, port: 1, listen: 0.0.0.0 }')).toHaveLength(1);
    expect(open('allow-lan: true\nmixed-port: 7890\nauthentication: ["u:p"]')).toEqual([]);
    expect(open('allow-lan: true\nmixed-port: 7890\nlan-allowed-ips: [192.168.1.0/24]')).toEqual([]);
    expect(open('allow-lan: false\nmixed-port: 7890')).toEqual([]);
    expect(parseConfig('mixed-port: 1\nlan-allowed-ips: [10.0.0.0/8]\nlan-disallowed-ips: [10.1.0.0/16]\nskip-auth-prefixes: [127.0.0.1/8]').clientAccess).toEqual({
      allowed: ['10.0.0.0/8'],
      disallowed: ['10.1.0.0/16'],
      skipAuth: ['127.0.0.1/8'],
    });
    expect(problems('mixed-port: 1\nlan-allowed-ips: [10.0.0.0/33]')).toEqual([expect.stringMatching(/^lan-allowed-ips\[0\]: /)]);
  });

  it('rejects duplicate and reserved names', () => {
    expect(
      problems(`mixed-port: 1
listeners:
  - { name: DEFAULT-MIXED, type: socks, port: 2 }
  - { name: x, type: socks, port: 3 }
  - { name: x, type: http, port: 4 }
proxies:
  - { name: DIRECT, type: direct }`),
    ).toEqual([
      'listeners[0].name: "DEFAULT-MIXED" is taken by a default listener',
      'listeners[2].name: duplicate listener name "x"',
      'proxies[0].name: "DIRECT" is a built-in outbound name',
    ]);
  });

  it('reports YAML syntax errors and non-mapping documents', () => {
    expect(problems('mixed-port: [1, 2')[0]).toMatch(/^YAML: /);
    expect(problems('mixed-port: 1\nmixed-port: 2')[0]).toMatch(/^YAML: .*unique/);
    expect(problems('- just\n- a list')).toEqual(['(top level): must be a mapping of keys, got ["just","a list"]']);
  });

  it('applies authentication to default listeners and listeners without users', () => {
    const config = parseConfig(`authentication: ["alice:secret:with:colons"]
socks-port: 1
listeners:
  - { name: own, type: http, port: 2, users: [{ username: bob, password: pw }] }
  - { name: inherit, type: http, port: 3 }`);
    expect([...(config.listeners[0] as ProxyListenerConfig).users!]).toEqual([['alice', 'secret:with:colons']]);
    expect([...(config.listeners[1] as ProxyListenerConfig).users!]).toEqual([['bob', 'pw']]);
    expect([...(config.listeners[2] as ProxyListenerConfig).users!]).toEqual([['alice', 'secret:with:colons']]);
  });

  it('validates pqtunnel proxies and gateways (shape, keys, pools, addresses)', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const config = parseConfig(`mixed-port: 1
proxies:
  - { name: gw, type: pqtunnel, server: 192.0.2.1, port: 51820, private-key: "${key}", public-key: "${key}", mode: full-tunnel, exclude-routes: [10.0.0.0/8, cn] }
rule-providers:
  cn: { type: inline, behavior: ipcidr, payload: [1.0.1.0/24] }
listeners:
  - name: gateway
    type: pqtunnel
    port: 51820
    private-key: "${key}"
    tun: { name: pq0, mtu: 1420 }
    ipv4-pool: 10.66.0.0/16
    nat: masquerade
    peers: [{ name: alice, public-key: "${key}", allow-destinations: [192.168.1.0/24] }]
rules: ['MATCH,gw']`);
    expect(config.listeners.map((l) => [l.name, l.type, l.listen, l.port])).toEqual([
      ['DEFAULT-MIXED', 'mixed', '127.0.0.1', 1],
      ['gateway', 'pqtunnel', '0.0.0.0', 51820],
    ]);
    expect((config.listeners[1] as TunnelGatewayListenerConfig).gateway['lease-file'], 'no lease file for a config without a directory').toBeUndefined();
    expect(config.proxies.map((p) => [p.name, p.type])).toEqual([['gw', 'pqtunnel']]);
    expect(
      problems(`proxies:
  - { name: gw, type: pqtunnel, server: a, port: 1, private-key: "${key}", public-key: "${key}", exclude-routes: [10.0.0.0/33, cn, lan] }
rule-providers:
  lan: { type: inline, behavior: domain, payload: [example.com] }`),
    ).toEqual([
      expect.stringMatching(/^proxies\[0\]\.exclude-routes\[0\]: /),
      'proxies[0].exclude-routes[1]: "cn" is neither a CIDR prefix nor the name of an ipcidr rule-provider',
      'proxies[0].exclude-routes[2]: "lan" is neither a CIDR prefix nor the name of an ipcidr rule-provider',
    ]);
    expect(
      problems(`listeners:
  - name: gateway
    type: pqtunnel
    port: 51820
    private-key: "${key}"
    ipv4-pool: fd00::/64
    ipv6-pool: 10.0.0.0/8
    peers: [{ name: alice, public-key: "${key}", address: [10.1.0.9], allow-destinations: [300.1.0.0/16] }]`),
    ).toEqual([
      'listeners[0].ipv4-pool: "fd00::/64" is not an IPv4 prefix',
      'listeners[0].ipv6-pool: "10.0.0.0/8" is not an IPv6 prefix',
      'listeners[0].peers[0].address[0]: "10.1.0.9" is not inside a pool of this gateway',
      expect.stringMatching(/^listeners\[0\]\.peers\[0\]\.allow-destinations\[0\]: /),
    ]);
    expect(
      problems(`proxies:
  - { name: gw, type: pqtunnel, server: a, port: 1, private-key: "file:/nonexistent/key", public-key: "short", mode: sideways }`),
    ).toEqual([
      'proxies[0].public-key: has the wrong form, got "short"',
      'proxies[0].mode: must be one of proxy-outbound, full-tunnel, got "sideways"',
    ]);
    expect(
      problems(`proxies:
  - { name: gw, type: pqtunnel, server: a, port: 1, private-key: "file:/nonexistent/key", public-key: "${key}" }`),
    ).toEqual([expect.stringMatching(/^proxies\[0\]\.private-key: ENOENT/)]);
  });

  it('accepts JSON, a YAML subset', () => {
    expect(parseConfig('{"socks-port": 1080, "mode": "Rule"}').mode).toBe('rule');
  });

  it('checks groups, providers, sub-rules and databases, naming the path', () => {
    expect(
      problems(`proxies: [{ name: a, type: direct }]
proxy-groups:
  - { name: g1, type: select, proxies: [a, g2] }
  - { name: g2, type: fallback, proxies: [g1] }
  - { name: g3, type: select, proxies: [nope] }
  - { name: a, type: select, proxies: [DIRECT] }
rule-providers:
  f: { type: file, behavior: domain, path: /etc/passwd }
  h: { type: http, behavior: ipcidr }
  m: { type: file, behavior: classical, format: mrs, path: x.mrs }
  missing: { type: file, behavior: domain, path: no-such-file.yaml }
  via: { type: http, behavior: domain, url: 'http://rules.example/x', proxy: nope }
sub-rules:
  s1: ['SUB-RULE,(NETWORK,tcp),s2']
  s2: ['SUB-RULE,(NETWORK,tcp),s1']
geoip-database: no-such.mmdb
rules: ['RULE-SET,nope,DIRECT', 'GEOIP,CN,DIRECT', 'MATCH,DIRECT']
`),
    ).toEqual([
      `proxy-groups[3].name: "a" is already a proxy, group or built-in name`,
      'proxy-groups: cycle g1 -> g2 -> g1',
      'rule-providers.h: type http needs url',
      'rule-providers.m.format: mrs holds domain or ipcidr rules only, not classical',
      `rule-providers.missing: ENOENT: no such file or directory, open '${process.cwd()}/no-such-file.yaml'`,
      'rule-providers.via.proxy: unknown proxy or group "nope"',
      `rules[0]: unknown rule provider 'nope' (defined: f), got "RULE-SET,nope,DIRECT"`,
      `rules[1]: cannot read GeoIP database ${process.cwd()}/no-such.mmdb: ENOENT: no such file or directory, open '${process.cwd()}/no-such.mmdb', got "GEOIP,CN,DIRECT"`,
      'sub-rules: cycle s1 -> s2 -> s1',
    ]);
  });

  it('honours geoip-database relative to the config directory', () => {
    const home = new URL('../../', import.meta.url).pathname;
    const config = parseConfig(
      `geoip-database: node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country-ipv4.mmdb\nrules: ['GEOIP,CN,REJECT', 'MATCH,DIRECT']\n`,
      home,
    );
    expect(config.rules[0]!.match(testFlow('114.114.114.114'))).toBe(true);
    expect(problems(`geoip-database: package.json\nrules: ['GEOIP,CN,DIRECT']`)[0]).toMatch(/is not a valid MaxMind database/);
  });
});

describe('ipv6: false', () => {
  it('is read from the config, and keeps resolved names to their IPv4 addresses', async () => {
    expect(parseConfig('mixed-port: 7890\nipv6: false').ipv6).toBe(false);
    expect(parseConfig('mixed-port: 7890').ipv6).toBe(true);
    const dns = new DnsCache({
      ttlMs: 1000, maxEntries: 10, timeoutMs: 1000,
      resolve: async () => [{ address: '2001:db8::1', family: 6 }, { address: '192.0.2.1', family: 4 }],
    });
    expect((await dns.resolveAll('dual.test')).map((a) => a.family)).toEqual([6, 4]);
    dns.ipv6 = false;
    expect(await dns.resolveAll('dual.test')).toEqual([{ address: '192.0.2.1', family: 4 }]);
  });
});

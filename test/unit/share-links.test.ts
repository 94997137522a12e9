import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { readFlowLines } from '../../src/route/proxy-provider/flow-lines.js';
import { decodeBase64, isShareLinkList, parseShareLinks } from '../../src/route/proxy-provider/share-links.js';
import { parseSubscriptionInfo, subscriptionProxies } from '../../src/route/proxy-provider/provider.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
const vmessJson = {
  v: '2', ps: 'hk-1', add: '1.2.3.4', port: '443', id: uuid, aid: '0', scy: 'auto', net: 'ws', type: 'none',
  host: 'cdn.example', path: '/ray', tls: 'tls', sni: 'cdn.example',
};

describe('share links (mihomo converter field by field)', () => {
  it('vmess:// in the v2rayN JSON form and in Xray URL form', () => {
    const { proxies } = parseShareLinks(`vmess://${b64(JSON.stringify(vmessJson))}\nvmess://${uuid}@5.6.7.8:8443?type=grpc&security=tls&serviceName=svc&sni=s.example&encryption=aes-128-gcm#grpc-1`);
    expect(proxies[0]).toEqual({
      name: 'hk-1', type: 'vmess', server: '1.2.3.4', port: '443', uuid, alterId: '0', udp: true, tls: true, 'skip-cert-verify': false, cipher: 'auto',
      servername: 'cdn.example', network: 'ws', 'ws-opts': { path: '/ray', headers: { Host: 'cdn.example' } },
    });
    expect(proxies[1]).toEqual({
      name: 'grpc-1', type: 'vmess', server: '5.6.7.8', port: '8443', uuid, udp: true, tls: true, servername: 's.example', network: 'grpc',
      'grpc-opts': { 'grpc-service-name': 'svc' }, alterId: 0, cipher: 'aes-128-gcm',
    });
  });

  it('ss:// SIP002 (base64 and plain user info, obfs plugin, IPv6) and the legacy all-base64 form', () => {
    const { proxies } = parseShareLinks([
      'ss://YWVzLTEyOC1nY206dGVzdA@192.168.100.1:8888#Example1',
      'ss://cmM0LW1kNTpwYXNzd2Q@192.168.100.1:8888/?plugin=obfs-local%3Bobfs%3Dhttp%3Bobfs-host%3Dwww.example.com#Example2',
      'ss://2022-blake3-aes-128-gcm:YctPZ6U7xPPcU%2Bgp3u%2B0tx%2FtRizJN9K8y%2BuKlW2qjlI%3D@[2001:db8::1]:8888#Example3',
      `ss://${b64('aes-256-gcm:pass:word@10.0.0.1:8388')}#legacy`,
    ].join('\n'));
    expect(proxies).toEqual([
      { name: 'Example1', type: 'ss', server: '192.168.100.1', port: '8888', cipher: 'aes-128-gcm', password: 'test', udp: true },
      {
        name: 'Example2', type: 'ss', server: '192.168.100.1', port: '8888', cipher: 'rc4-md5', password: 'passwd', udp: true,
        plugin: 'obfs', 'plugin-opts': { mode: 'http', host: 'www.example.com' },
      },
      { name: 'Example3', type: 'ss', server: '2001:db8::1', port: '8888', cipher: '2022-blake3-aes-128-gcm', password: 'YctPZ6U7xPPcU+gp3u+0tx/tRizJN9K8y+uKlW2qjlI=', udp: true },
      { name: 'legacy', type: 'ss', server: '10.0.0.1', port: '8388', cipher: 'aes-256-gcm', password: 'pass:word', udp: true },
    ]);
  });

  it('trojan://, vless://, hysteria2:// (and hy2://), tuic://, ssr://', () => {
    const ssr = `ssr://${b64(`1.1.1.1:443:auth_aes128_md5:aes-256-cfb:tls1.2_ticket_auth:${b64('pw')}/?remarks=${b64('ssr-1')}`)}`;
    const { proxies } = parseShareLinks([
      'trojan://secret@example.com:443?sni=sni.example&type=ws&path=%2Fws&allowInsecure=1#tr',
      `vless://${uuid}@v.example:443?security=reality&type=tcp&flow=xtls-rprx-vision&sni=s#vl`,
      'hy2://letmein@h.example:8443?sni=h.example&insecure=1#h2',
      'hysteria2://user:pass@h.example#h2',
      `tuic://${uuid}:pw@t.example:443?congestion_control=bbr&sni=t.example#tu`,
      ssr,
    ].join('\r\n'));
    expect(proxies.map((p) => [p.name, p.type])).toEqual([['tr', 'trojan'], ['vl', 'vless'], ['h2', 'hysteria2'], ['h2-01', 'hysteria2'], ['tu', 'tuic'], ['ssr-1', 'ssr']]);
    expect(proxies[0]).toMatchObject({ server: 'example.com', port: '443', password: 'secret', sni: 'sni.example', network: 'ws', 'ws-opts': { path: '/ws' }, 'skip-cert-verify': true });
    expect(proxies[1]).toMatchObject({ uuid, tls: true, flow: 'xtls-rprx-vision', network: 'tcp' });
    expect(proxies[2]).toMatchObject({ port: '8443', password: 'letmein', 'skip-cert-verify': true });
    expect(proxies[3]).toMatchObject({ port: '443', password: 'user:pass' });
    expect(proxies[4]).toMatchObject({ uuid, password: 'pw', 'congestion-controller': 'bbr' });
    expect(proxies[5]).toMatchObject({ server: '1.1.1.1', port: '443', cipher: 'aes-256-cfb', password: 'pw', protocol: 'auth_aes128_md5', obfs: 'tls1.2_ticket_auth' });
  });

  it('reads a base64 list, names repeats as mihomo does, and counts the lines it cannot read', () => {
    const list = b64(['trojan://a@h:1#same', 'trojan://b@h:2#same', 'trojan://c@h:3#same', 'gopher://x', 'not a link', 'vmess://%%%'].join('\n'));
    expect(isShareLinkList(list)).toBe(true);
    const { proxies, skipped } = parseShareLinks(list);
    expect(proxies.map((p) => p.name)).toEqual(['same', 'same-01', 'same-02']);
    expect(skipped).toEqual(['gopher://', 'not a link', 'vmess://']);
    expect(decodeBase64('a*b')).toBeUndefined();
    expect(decodeBase64('dHJv\namFu')).toBe('trojan');
    expect(isShareLinkList('proxies:\n  - { name: a, type: direct }')).toBe(false);
  });

  it('subscription bodies: Clash YAML with proxies:, share links, or a clear error', () => {
    expect(subscriptionProxies('proxies:\n  - { name: a, type: direct }\n').proxies).toEqual([{ name: 'a', type: 'direct' }]);
    expect(subscriptionProxies(b64('trojan://a@h:1#t')).proxies).toHaveLength(1);
    expect(() => subscriptionProxies('rules: []')).toThrow(/neither share links nor Clash YAML with a proxies: list/);
    expect(() => subscriptionProxies('{[')).toThrow(/neither share links nor YAML/);
  });

  it('subscription-userinfo as mihomo reads it', () => {
    expect(parseSubscriptionInfo('upload=455727941; download=6174315083; total=1073741824000; expire=1671815872')).toEqual({
      Upload: 455727941, Download: 6174315083, Total: 1073741824000, Expire: 1671815872,
    });
    expect(parseSubscriptionInfo('Upload = 1.5e3;download=x;total=;EXPIRE=7')).toEqual({ Upload: 1500, Download: 0, Total: 0, Expire: 7 });
  });

  it('never throws on arbitrary text or links, and takes linear time (fuzzed)', () => {
    const scheme = fc.constantFrom('vmess://', 'ss://', 'trojan://', 'vless://', 'hy2://', 'tuic://', 'ssr://', 'hysteria://', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(scheme, fc.string({ maxLength: 80 })), { maxLength: 20 }), fc.boolean(), (lines, encode) => {
        const text = lines.map(([s, rest]) => s + rest).join('\n');
        const { proxies } = parseShareLinks(encode ? b64(text) : text);
        for (const proxy of proxies) expect(typeof proxy.name).toBe('string');
      }),
      { numRuns: 3000 },
    );
    const big = `trojan://a@h:1#${'x'.repeat(1 << 20)}`;
    const started = performance.now();
    parseShareLinks(big);
    parseShareLinks('ss://'.repeat(200_000));
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('one-mapping-per-line subscriptions (the fast reader agrees with the yaml library)', () => {
  it('reads what the yaml library reads, or declines', () => {
    const word = fc.stringMatching(/^[a-zA-Z0-9 ._|%@\/:-]{0,12}$/);
    const scalar = fc.oneof(
      word.map((w) => w.trim()),
      fc.integer().map(String),
      fc.constantFrom('true', 'False', 'null', '~', '1.5', '-.inf', '0x1F', '0o17', "'it''s'", '"a\\"b\\u00e9"', '2001:db8::1', 'a: b', '#x', '&a', '*a', '"\\x41"'),
    );
    const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }).map((a) => `[${a.join(', ')}]`), fc.dictionary(fc.stringMatching(/^[a-z-]{1,6}$/), scalar, { maxKeys: 3 }).map((d) => `{ ${Object.entries(d).map(([k, v]) => `${k}: ${v}`).join(', ')} }`));
    const line = fc.dictionary(fc.stringMatching(/^[a-z-]{1,8}$/), value, { minKeys: 1, maxKeys: 5 }).map((d) => `  - { ${Object.entries(d).map(([k, v]) => `${k}: ${v}`).join(', ')} }`);
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.boolean(), (lines, extra) => {
        const text = `${extra ? 'port: 7890\nrules:\n  - MATCH,DIRECT\n' : ''}proxies:\n${lines.join('\n')}\n`;
        const fast = readFlowLines(text);
        let slow: unknown;
        try {
          slow = (YAML.parse(text) as { proxies: unknown }).proxies;
        } catch {
          slow = undefined;
        }
        if (fast !== undefined) expect(fast).toEqual(slow);
      }),
      { numRuns: 3000 },
    );
    expect(readFlowLines('proxies:\n  - { name: a, port: 1 }\n  - name: b\n')).toBeUndefined();
    expect(readFlowLines('proxies:\n- {name: a, port: 1}\nproxy-groups: []\n')).toEqual([{ name: 'a', port: 1 }]);
  });
});

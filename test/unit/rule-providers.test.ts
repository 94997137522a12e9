import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { parseConfig } from '../../src/config/load.js';
import fc from 'fast-check';
import * as fzstd from 'fzstd';
import { describe, expect, it } from 'vitest';
import { decodeMrs } from '../../src/route/provider/mrs.js';
import { parseTextEntries, parseYamlEntries } from '../../src/route/provider/formats.js';
import { RuleProvider, type RuleProviderConfig } from '../../src/route/provider/provider.js';
import { parseCondition } from '../../src/route/rule/parse.js';
import { undiciFetcher } from '../../src/route/provider/fetch.js';
import { DnsCache } from '../../src/common/dns-cache.js';
import { RejectOutbound } from '../../src/protocol/block/outbound.js';
import { DirectOutbound } from '../../src/protocol/direct/outbound.js';
import { closeServer, listen } from '../helpers/net.js';
import { testEnv, testFlow } from '../helpers/rules.js';

const data = new URL('../../../shared/testdata/clash-rules/', import.meta.url).pathname;

function provider(file: string, behavior: RuleProviderConfig['behavior'], format: RuleProviderConfig['format']): RuleProvider {
  const env = testEnv();
  const p = new RuleProvider(
    { name: file, vehicle: 'file', behavior, format, path: data + file, intervalSeconds: 0, sizeLimit: 0, headers: {} },
    (entry) => parseCondition(entry, env, 'a classical rule provider'),
  );
  p.loadLocal();
  return p;
}

const hit = (p: RuleProvider, host: string): boolean => p.match(testFlow(host));

describe('real rule files (shared/testdata/clash-rules, counts from its README)', () => {
  it('Loyalsoldier ipcidr lists', () => {
    const cn = provider('loyalsoldier-clash-rules/cncidr.txt', 'ipcidr', 'yaml');
    expect(cn.count).toBe(8649);
    for (const ip of ['114.114.114.114', '223.5.5.5', '240e::1']) expect(hit(cn, ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1']) expect(hit(cn, ip), ip).toBe(false);
    expect(cn.needsIp).toBe(true);
    expect(provider('loyalsoldier-clash-rules/lancidr.txt', 'ipcidr', 'yaml').count).toBe(18);
    expect(provider('loyalsoldier-clash-rules/telegramcidr.txt', 'ipcidr', 'yaml').count).toBe(12);
  });

  it('Loyalsoldier domain lists', () => {
    expect(provider('loyalsoldier-clash-rules/apple.txt', 'domain', 'yaml').count).toBe(167);
    expect(provider('loyalsoldier-clash-rules/tld-not-cn.txt', 'domain', 'yaml').count).toBe(831);
    const priv = provider('loyalsoldier-clash-rules/private.txt', 'domain', 'yaml');
    expect(priv.count).toBe(130);
    for (const host of ['router.asus.com', 'printer.lan', 'lan']) expect(hit(priv, host), host).toBe(true);
    expect(hit(priv, 'asus.com')).toBe(false);
    expect(priv.warnings).toEqual([]);
  });

  it('classical lists: PROCESS-NAME parses with one warning, comments inside YAML lists, text lists', () => {
    const apps = provider('loyalsoldier-clash-rules/applications.txt', 'classical', 'yaml');
    expect(apps.count).toBe(96);
    expect(apps.warnings).toEqual(['PROCESS-NAME entries never match in sluice (96 times)']);
    expect(hit(apps, 'anything.test')).toBe(false);
    const lan = provider('acl4ssr/LocalAreaNetwork.yaml', 'classical', 'yaml');
    expect(lan.count).toBe(37);
    for (const host of ['192.168.1.1', 'fd00::1', 'nas.local', 'router.asus.com']) expect(hit(lan, host), host).toBe(true);
    expect(hit(lan, '8.8.8.8')).toBe(false);
    expect(lan.needsIp).toBe(false); // every IP entry carries no-resolve
    expect(provider('acl4ssr/Telegram.yaml', 'classical', 'yaml').count).toBe(14);
    expect(provider('acl4ssr/UnBan.list', 'classical', 'text').count).toBe(31);
  });

  it('meta-rules-dat: yaml, list and mrs give the same answers', () => {
    const forms = [
      provider('meta-rules-dat/geosite/telegram.yaml', 'domain', 'yaml'),
      provider('meta-rules-dat/geosite/telegram.list', 'domain', 'text'),
      provider('meta-rules-dat/geosite/telegram.mrs', 'domain', 'mrs'),
    ];
    for (const p of forms) {
      expect(p.count).toBe(21);
      for (const host of ['t.me', 'web.telegram.org']) expect(hit(p, host), `${p.name} ${host}`).toBe(true);
      for (const host of ['telegram.org.evil.com', 'nottelegram.org']) expect(hit(p, host), `${p.name} ${host}`).toBe(false);
    }
    expect(provider('meta-rules-dat/geosite/openai.list', 'domain', 'text').count).toBe(19);
    expect(provider('meta-rules-dat/geoip/telegram.yaml', 'ipcidr', 'yaml').count).toBe(12);
    expect(provider('meta-rules-dat/geoip/private.list', 'ipcidr', 'text').count).toBe(18);
  });

  it('mrs decodes to exactly its text twin', () => {
    const expand = (entries: string[]): string[] => entries.flatMap((e) => (e.startsWith('+.') ? [e.slice(2), e] : [e])).sort();
    for (const name of ['telegram', 'openai']) {
      const mrs = decodeMrs(readFileSync(`${data}meta-rules-dat/geosite/${name}.mrs`));
      const list = parseTextEntries(readFileSync(`${data}meta-rules-dat/geosite/${name}.list`, 'utf8'));
      expect(mrs.behavior).toBe('domain');
      if (mrs.behavior === 'domain') expect([...mrs.keys].sort()).toEqual(expand(list));
    }
    const telegramIp = decodeMrs(readFileSync(`${data}meta-rules-dat/geoip/telegram.mrs`));
    expect(telegramIp.behavior === 'ipcidr' && telegramIp.ranges.length).toBe(10);
    const ipFromList = provider('meta-rules-dat/geoip/telegram.list', 'ipcidr', 'text');
    const ipFromMrs = provider('meta-rules-dat/geoip/telegram.mrs', 'ipcidr', 'mrs');
    for (const ip of ['91.108.4.1', '149.154.167.99', '2001:67c:4e8::1', '8.8.8.8', '95.161.64.1', '91.105.192.5']) {
      expect(hit(ipFromMrs, ip), ip).toBe(hit(ipFromList, ip));
    }
    const priv = decodeMrs(readFileSync(`${data}meta-rules-dat/geoip/private.mrs`));
    expect(priv.behavior === 'ipcidr' && priv.ranges.length).toBe(18);
    const acl = provider('acl4ssr/Telegram_ip.mrs', 'ipcidr', 'mrs');
    expect(acl.count).toBe(7);
  });

  it('the malformed ACL4SSR domain mrs decodes with a warning and matches nothing', () => {
    const bad = provider('acl4ssr/Telegram_domain.MALFORMED.mrs', 'domain', 'mrs');
    expect(bad.count).toBe(7);
    expect(bad.warnings.join()).toMatch(/contain ','/);
    expect(hit(bad, 't.me')).toBe(false);
  });

  it('mrs of the wrong behaviour and corrupt mrs are errors, never crashes', () => {
    expect(() => provider('meta-rules-dat/geoip/telegram.mrs', 'domain', 'mrs')).toThrow(/holds ipcidr/);
    const good = readFileSync(`${data}meta-rules-dat/geosite/openai.mrs`);
    expect(() => decodeMrs(good.subarray(0, good.length - 5))).toThrow(/mrs/);
    expect(() => decodeMrs(Buffer.from('not zstd at all'))).toThrow(/mrs/);
  });

  it('yaml entries: quotes, inline comments, comment lines inside the list, flow style fallback', () => {
    expect(parseYamlEntries("payload:\n  # c\n  - '+.google.com'   # note\n\n  - \"a.b\"\n  - plain.example # x\n")).toEqual(['+.google.com', 'a.b', 'plain.example']);
    expect(parseYamlEntries('payload: [a.com, b.com]\n')).toEqual(['a.com', 'b.com']);
    expect(parseYamlEntries("# list\npayload: [\n  a.com, 'b,c.com',\n  \"d.com\" ,e.com,\n]\n")).toEqual(['a.com', 'b,c.com', 'd.com', 'e.com']);
    expect(parseYamlEntries("payload: ['it''s', x]\n")).toEqual(["it's", 'x']);
    expect(() => parseYamlEntries(`payload: {${'a: b, '.repeat(60_000)}}`)).toThrow(/over 256 KiB must list its payload as '- entry' lines or as one \[ … \] list/);
    expect(() => parseYamlEntries('nothing: here\n')).toThrow(/payload/);
    expect(parseTextEntries('# c\n// d\n\n a.com \n')).toEqual(['a.com']);
  });
});

describe('http rule providers (injected fetcher: no test touches the internet)', () => {
  const make = (home: string, interval = 0) =>
    new RuleProvider(
      { name: 'remote', vehicle: 'http', behavior: 'domain', format: 'text', url: 'https://rules.example/list', path: join(home, 'cache', 'remote.list'), intervalSeconds: interval, sizeLimit: 0, headers: { 'User-Agent': 'sluice' } },
      () => {
        throw new Error('not classical');
      },
    );

  it('downloads, writes the cache, keeps the last good copy when a refresh fails, and reloads the cache at start', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-provider-'));
    try {
      const provider = make(home);
      provider.loadLocal();
      expect([provider.count, provider.isStale()]).toEqual([0, true]);
      const seen: string[] = [];
      await provider.refresh(async (url, { headers }) => {
        seen.push(`${url} ${headers['User-Agent']}`);
        return Buffer.from('+.good.test\nexact.test\n');
      }, 1000);
      expect(seen).toEqual(['https://rules.example/list sluice']);
      expect(provider.count).toBe(2);
      expect(readFileSync(join(home, 'cache', 'remote.list'), 'utf8')).toContain('+.good.test');
      await expect(provider.refresh(async () => Promise.reject(new Error('HTTP 503')), 1000)).rejects.toThrow(/503/);
      expect(provider.failures).toBe(1);
      expect(provider.match(testFlow('a.good.test'))).toBe(true);
      const restarted = make(home);
      restarted.loadLocal();
      expect([restarted.count, restarted.isStale()]).toEqual([2, false]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('a Box never waits longer than provider-download for a download at start', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-provider-'));
    try {
      const config = parseConfig(
        `rule-providers:\n  slow: { type: http, behavior: domain, format: text, url: 'https://rules.example/slow', path: slow.list }\ntimeouts: { provider-download: 0.3 }\nrules: ['RULE-SET,slow,REJECT', 'MATCH,DIRECT']\n`,
        home,
      );
      const box = new Box(config, new Logger('error', 'text', { write: () => {} }), { fetch: () => new Promise(() => {}) });
      const started = Date.now();
      await box.start();
      expect(Date.now() - started).toBeLessThan(2000);
      expect((await box.router.decide(testFlow('x.test'))).chain).toBe('DIRECT');
      await box.close(0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('undici fetcher (a local HTTP server on loopback)', () => {
  it('returns the body, refuses non-2xx answers and bodies over size-limit', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/missing') return void res.writeHead(404).end('no');
      res.writeHead(200).end(req.url === '/big' ? 'x'.repeat(5000) : `+.ok.test\n${req.headers['user-agent']}\n`);
    });
    const port = await listen(server);
    try {
      const base = `http://127.0.0.1:${port}`;
      const body = await undiciFetcher(`${base}/list`, { headers: { 'User-Agent': 'sluice-test' }, timeoutMs: 2000, sizeLimit: 0 });
      expect(body.toString()).toBe('+.ok.test\nsluice-test\n');
      await expect(undiciFetcher(`${base}/missing`, { headers: {}, timeoutMs: 2000, sizeLimit: 0 })).rejects.toThrow(/HTTP 404/);
      await expect(undiciFetcher(`${base}/big`, { headers: {}, timeoutMs: 2000, sizeLimit: 1000 })).rejects.toThrow(/size-limit/);
      // Through an outbound (a provider's proxy:): DIRECT dials the server, REJECT refuses.
      const dns = new DnsCache({ ttlMs: 1000, maxEntries: 4, timeoutMs: 1000 });
      const direct = new DirectOutbound('DIRECT', dns, 2000);
      const via = await undiciFetcher(`${base}/list`, { headers: { 'User-Agent': 'via' }, timeoutMs: 2000, sizeLimit: 0, via: direct });
      expect(via.toString()).toBe('+.ok.test\nvia\n');
      await expect(undiciFetcher(`${base}/list`, { headers: {}, timeoutMs: 2000, sizeLimit: 0, via: new RejectOutbound() })).rejects.toThrow(/rejected/);
    } finally {
      await closeServer(server);
    }
  });
});

describe('mrs decoder under random input', () => {
  it('every truncation of a real body gives an mrs: error (the seed-387388847 counterexample ended inside a count)', () => {
    for (const f of ['meta-rules-dat/geosite/openai.mrs', 'meta-rules-dat/geoip/telegram.mrs']) {
      const body = fzstd.decompress(readFileSync(data + f));
      for (let length = 0; length < body.length; length++) {
        expect(() => decodeMrs(mutatedFrame(body.subarray(0, length), 0, body[0]!)), `${f} cut at ${length}`).toThrow(/^mrs: /);
      }
    }
  });

  it('random bytes and mutated real files give content or an Error, never a crash or a hang', () => {
    const files = ['meta-rules-dat/geosite/openai.mrs', 'meta-rules-dat/geoip/telegram.mrs'].map((f) => readFileSync(data + f));
    const { decompress } = fzstd;
    const raw = files.map((f) => decompress(f));
    fc.assert(
      fc.property(fc.nat(1), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 64 }), (which, at, value, random) => {
        for (const input of [Buffer.from(random), mutatedFrame(raw[which]!, at, value)]) {
          try {
            decodeMrs(input);
          } catch (error) {
            expect((error as Error).message).toMatch(/^mrs: /);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** A valid zstd frame (raw blocks) around a body with one byte changed: reaches the MRS parser. */
function mutatedFrame(body: Uint8Array, at: number, value: number): Buffer {
  const copy = Buffer.from(body);
  copy[at % copy.length] = value;
  // Frame header: magic, descriptor with single-segment flag and a 4-byte content size.
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0]);
  header.writeUInt32LE(copy.length, 5);
  const blocks: Buffer[] = [];
  for (let i = 0; i < copy.length || i === 0; i += 100_000) {
    const piece = copy.subarray(i, i + 100_000);
    const last = i + 100_000 >= copy.length ? 1 : 0;
    const blockHeader = piece.length * 8 + last; // raw block: type 0
    blocks.push(Buffer.from([blockHeader & 0xff, (blockHeader >> 8) & 0xff, (blockHeader >> 16) & 0xff]), piece);
    if (copy.length === 0) break;
  }
  return Buffer.concat([header, ...blocks]);
}

import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { GeoipDat } from '../../src/route/geodata/geoip-dat.js';
import { Geodata } from '../../src/route/geodata/geodata.js';
import { classicalLine, GeositeDat } from '../../src/route/geodata/geosite-dat.js';
import { GeoUpdater } from '../../src/route/geodata/update.js';
import { parsePrefix } from '../../src/route/match/ip-set.js';
import { parseConfig } from '../../src/config/load.js';
import { Logger } from '../../src/common/log.js';
import { testFlow } from '../helpers/rules.js';

const data = new URL('../../../shared/testdata/clash-rules/meta-rules-dat/', import.meta.url).pathname;
const geositeFile = readFileSync(join(data, 'geosite-lite.dat'));
const geoipFile = readFileSync(join(data, 'geoip-lite.dat'));

/** v2ray's router config.proto (the messages the .dat files hold), read by protobufjs: the independent decoder. */
const proto = protobuf.parse(`
syntax = "proto3";
message Domain {
  enum Type { Plain = 0; Regex = 1; Domain = 2; Full = 3; }
  Type type = 1;
  string value = 2;
  message Attribute { string key = 1; oneof typed_value { bool bool_value = 2; int64 int_value = 3; } }
  repeated Attribute attribute = 3;
}
message CIDR { bytes ip = 1; uint32 prefix = 2; }
message GeoIP { string country_code = 1; repeated CIDR cidr = 2; bool reverse_match = 3; }
message GeoIPList { repeated GeoIP entry = 1; }
message GeoSite { string country_code = 1; repeated Domain domain = 2; }
message GeoSiteList { repeated GeoSite entry = 1; }
`).root;

interface DecodedSite {
  countryCode: string;
  domain: { type?: number; value: string; attribute?: { key: string }[] }[];
}
interface DecodedIp {
  countryCode: string;
  cidr: { ip: Uint8Array; prefix: number }[];
}

const sites = (proto.lookupType('GeoSiteList').decode(geositeFile).toJSON() as unknown as { entry: DecodedSite[] }).entry;
const ips = proto.lookupType('GeoIPList').decode(geoipFile) as unknown as { entry: DecodedIp[] };
const typeNames = ['keyword', 'regex', 'suffix', 'full'];

describe('geosite.dat and geoip.dat (meta-rules-dat lite files, checked against protobufjs)', () => {
  it('geosite: every category and every domain, with type and attributes, as protobufjs decodes them', () => {
    const dat = new GeositeDat(geositeFile);
    expect(dat.categories).toEqual(sites.map((s) => s.countryCode.toLowerCase()));
    expect(dat.categories.length).toBeGreaterThan(20);
    let total = 0;
    for (const site of sites) {
      const ours = dat.domains(site.countryCode)!;
      const theirs = site.domain.map((d) => ({
        type: typeNames[typeof d.type === 'string' ? ['Plain', 'Regex', 'Domain', 'Full'].indexOf(d.type) : (d.type ?? 0)],
        value: d.value,
        attributes: (d.attribute ?? []).map((a) => a.key.toLowerCase()),
      }));
      expect(ours, site.countryCode).toEqual(theirs);
      total += ours.length;
    }
    expect(total).toBeGreaterThan(1000);
  });

  it('geosite: @attribute keeps the domains carrying every one of them; categories are case-insensitive', () => {
    // The lite file carries no attributes: a GeoSiteList written by protobufjs does.
    const list = proto.lookupType('GeoSiteList');
    const bytes = list.encode(list.fromObject({
      entry: [{
        countryCode: 'GOOGLE',
        domain: [
          { type: 2, value: 'google.com' },
          { type: 2, value: 'google.cn', attribute: [{ key: 'cn', boolValue: true }] },
          { type: 3, value: 'ads.google.cn', attribute: [{ key: 'cn', boolValue: true }, { key: 'ads', boolValue: true }] },
          { type: 0, value: 'googlevideo' },
          { type: 1, value: '^gstatic\\.(com|cn)$' },
        ],
      }],
    })).finish();
    const dat = new GeositeDat(bytes);
    expect(dat.domains('google')!.map(classicalLine)).toEqual([
      'DOMAIN-SUFFIX,google.com', 'DOMAIN-SUFFIX,google.cn', 'DOMAIN,ads.google.cn', 'DOMAIN-KEYWORD,googlevideo', 'DOMAIN-REGEX,^gstatic\\.(com|cn)$',
    ]);
    expect(dat.domains('Google@CN')!.map((d) => d.value)).toEqual(['google.cn', 'ads.google.cn']);
    expect(dat.domains('google@cn@ads')!.map((d) => d.value)).toEqual(['ads.google.cn']);
    expect(dat.domains('no-such-category')).toBeUndefined();
  });

  it('geoip: every category and prefix, as protobufjs decodes them', () => {
    const dat = new GeoipDat(geoipFile);
    expect(dat.categories).toEqual(ips.entry.map((e) => e.countryCode.toLowerCase()));
    for (const entry of ips.entry) {
      const ours = dat.category(entry.countryCode)!.prefixes.map((p) => parsePrefix(p));
      const theirs = entry.cidr.map((c) => {
        const ip = c.ip.length === 4 ? [...c.ip].join('.') : Buffer.from(c.ip).toString('hex').match(/.{4}/g)!.join(':');
        return parsePrefix(`${ip}/${c.prefix}`);
      });
      expect(ours, entry.countryCode).toEqual(theirs);
    }
    expect(dat.category('telegram')!.prefixes).toContain('91.108.4.0/22');
  });

  it('refuses bytes that are not a GeoSiteList or GeoIPList with a clear error, never a crash or a hang', () => {
    expect(() => new GeositeDat(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/not a geosite\.dat/);
    expect(() => new GeoipDat(Buffer.from([0x0b]))).toThrow(/not a geoip\.dat/);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        for (const make of [() => new GeositeDat(bytes), () => new GeoipDat(bytes)]) {
          try {
            const dat = make();
            for (const name of dat.categories) 'domains' in dat ? dat.domains(name) : dat.category(name);
          } catch (error) {
            expect((error as Error).message).toMatch(/^(not a geo(site|ip)\.dat|category '.*' of the geo(site|ip)\.dat is damaged)/);
          }
        }
      }),
      { numRuns: 2000 },
    );
    // Flipped bits in the real file: errors or other content, never a crash.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: geositeFile.length - 1 }), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const copy = Buffer.from(geositeFile);
        copy[at]! ^= 1 << bit;
        try {
          const dat = new GeositeDat(copy);
          for (const name of dat.categories.slice(0, 5)) dat.domains(name);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('GEOSITE and GEOIP rules on geodata files in the config folder', () => {
  it('GEOSITE reads GeoSite.dat; GEOIP reads geoip.dat categories for non-country codes; countries stay on the .mmdb', () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-geodata-'));
    copyFileSync(join(data, 'geosite-lite.dat'), join(home, 'GeoSite.dat'));
    copyFileSync(join(data, 'geoip-lite.dat'), join(home, 'GeoIP.dat'));
    const config = parseConfig(`mixed-port: 7890\nrules: ['GEOSITE,telegram,REJECT', 'GEOIP,telegram,REJECT', 'GEOIP,CN,DIRECT', 'MATCH,DIRECT']`, home);
    expect(config.warnings).toEqual([]);
    const [site, ip, country] = config.rules;
    expect(site!.match(testFlow('web.telegram.org'))).toBe(true);
    expect(site!.match(testFlow('telegram.org.example'))).toBe(false);
    expect(ip!.match(testFlow('91.108.4.10'))).toBe(true);
    expect(ip!.match(testFlow('8.8.8.8'))).toBe(false);
    expect(country!.match(testFlow('114.114.114.114'))).toBe(true);
  });

  it('without data, GEOSITE and non-country GEOIP codes load with a warning and match nothing; a geox-url download fills them in', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-geodata-'));
    const text = `mixed-port: 7890
geox-url: { geosite: 'http://geo.test/geosite.dat', geoip: 'http://geo.test/geoip.dat' }
rules: ['GEOSITE,telegram,REJECT', 'GEOIP,google,REJECT', 'MATCH,DIRECT']`;
    const config = parseConfig(text, home);
    expect(config.warnings).toEqual(['rules[0]: GEOSITE,telegram: it matches nothing until geosite.dat is downloaded (geox-url.geosite)']);
    const noUrl = parseConfig(`mixed-port: 7890\nrules: ['GEOIP,google,REJECT', 'GEOSITE,nope-cat,REJECT', 'MATCH,DIRECT']`, home);
    expect(noUrl.warnings[0]).toMatch(/^rules\[0\]: GEOIP,google: 'google' is not a country code but a geoip\.dat category; put GeoIP\.dat in .* or set geox-url\.geoip; it matches nothing$/);
    expect(noUrl.warnings[1]).toMatch(/^rules\[1\]: GEOSITE,nope-cat: no geosite data \(put GeoSite\.dat or nope-cat\.list in .*\); it matches nothing$/);
    const [site, ip] = config.rules;
    expect(site!.match(testFlow('t.me'))).toBe(false);
    const bodies: Record<string, Buffer> = { 'http://geo.test/geosite.dat': geositeFile, 'http://geo.test/geoip.dat': Buffer.from('not a dat file') };
    const logger = new Logger('error');
    const updater = new GeoUpdater(config.geodata, config.geoUpdate, async (url) => bodies[url]!, 1000, logger);
    await expect(updater.updateAll()).rejects.toThrow(/geoip: not a geoip\.dat/);
    expect(existsSync(join(home, 'GeoSite.dat'))).toBe(true);
    expect(existsSync(join(home, 'GeoIP.dat'))).toBe(false);
    expect(site!.match(testFlow('t.me'))).toBe(true);
    expect(ip!.match(testFlow('8.8.8.8'))).toBe(false);
    // A later download that fails its check leaves the good file in place.
    bodies['http://geo.test/geosite.dat'] = Buffer.from('garbage');
    await expect(updater.updateAll()).rejects.toThrow(/geosite: not a geosite\.dat/);
    expect(readFileSync(join(home, 'GeoSite.dat')).equals(geositeFile)).toBe(true);
    expect(site!.match(testFlow('t.me'))).toBe(true);
  });

  it('start() downloads only what is missing, in the background', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-geodata-'));
    writeFileSync(join(home, 'GeoIP.dat'), geoipFile);
    const geodata = new Geodata({ home, geodataMode: false, downloads: new Set(['geosite', 'geoip']) });
    const asked: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const updater = new GeoUpdater(geodata, { urls: { geosite: 'http://g/site', geoip: 'http://g/ip' }, autoUpdate: false, intervalHours: 24 }, async (url) => {
      asked.push(url);
      await gate;
      return geositeFile;
    }, 1000, new Logger('error'));
    updater.start();
    expect(asked).toEqual(['http://g/site']);
    expect(updater.pending).toEqual(['geosite']);
    release();
    while (updater.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
    expect(existsSync(join(home, 'GeoSite.dat'))).toBe(true);
    updater.stop();
  });
});

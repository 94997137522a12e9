/**
 * The geo databases of one config: the country .mmdb (GEOIP), the ASN .mmdb (IP-ASN), and
 * v2ray's geoip.dat / geosite.dat (GEOIP categories such as `telegram`, GEOSITE). Files live in
 * the config folder under mihomo's names, or where `geoip-database` / `asn-database` point;
 * `geox-url` downloads fill them in the background (route/geodata/update.ts), and `reload`
 * makes the rules that were waiting for them match.
 */
import { existsSync } from 'node:fs';
import { Reader } from 'maxmind';
import { resolve } from 'node:path';
import { maxDatabaseBytes, readRegularFileSync } from '../../common/bounded-file.js';
import { AsnDb, bundledCountryDatabase, GeoIp } from '../match/geoip.js';
import { IpRangeSet, parsePrefix, type IpWords } from '../match/ip-set.js';
import type { ConditionParser } from '../provider/content.js';
import { RuleProvider } from '../provider/provider.js';
import { GeoipDat } from './geoip-dat.js';
import { classicalLine, GeositeDat, splitCategory } from './geosite-dat.js';

/** The four files `geox-url` names. */
export type GeoKind = 'geoip' | 'geosite' | 'mmdb' | 'asn';

/** mihomo's file names in the config folder. */
export const geoFileNames: Readonly<Record<GeoKind, readonly string[]>> = {
  geoip: ['GeoIP.dat', 'geoip.dat'],
  geosite: ['GeoSite.dat', 'geosite.dat'],
  mmdb: ['Country.mmdb', 'geoip.metadb'],
  asn: ['GeoLite2-ASN.mmdb', 'ASN.mmdb'],
};

/** Where a config's geo databases come from. */
export interface GeodataSettings {
  /** Config folder. */
  home: string;
  /** `geoip-database`: the country .mmdb (else the folder's Country.mmdb, else the bundled one). */
  mmdb?: string;
  /** `asn-database`. */
  asn?: string;
  /** `geodata-mode`: GEOIP reads geoip.dat instead of the .mmdb. */
  geodataMode: boolean;
  /** Kinds a `geox-url` will download (their rules wait for them instead of failing). */
  downloads: ReadonlySet<GeoKind>;
}

/** Two-letter codes are countries the .mmdb knows; `lan` is decided in code. */
const countryCode = /^[a-z]{2}$/;

/** The geo databases, opened on first use and re-read after a download. */
export class Geodata {
  private mmdbDb: GeoIp | undefined;
  private mmdbError: Error | undefined;
  private asnDb: AsnDb | null | undefined;
  private siteDat: GeositeDat | null | undefined;
  private ipDat: GeoipDat | null | undefined;
  private readonly ipCategories = new Map<string, { set: IpRangeSet; reverse: boolean } | null>();
  private readonly sites = new Map<string, RuleProvider>();

  constructor(readonly settings: GeodataSettings) {}

  /** The file a kind is read from (and downloaded to). */
  path(kind: GeoKind): string {
    const { home } = this.settings;
    if (kind === 'mmdb' && this.settings.mmdb) return resolve(home, this.settings.mmdb);
    if (kind === 'asn' && this.settings.asn) return resolve(home, this.settings.asn);
    const names = geoFileNames[kind];
    return names.map((name) => resolve(home, name)).find((path) => existsSync(path)) ?? resolve(home, names[0]!);
  }

  /** The country database: the configured or downloaded one, else the bundled one. Throws (each time) when a configured file is unusable. */
  countries(): GeoIp {
    if (this.mmdbDb) return this.mmdbDb;
    if (this.mmdbError) throw this.mmdbError;
    const path = this.path('mmdb');
    const own = this.settings.mmdb !== undefined || existsSync(path);
    try {
      return (this.mmdbDb = new GeoIp(own ? path : bundledCountryDatabase));
    } catch (error) {
      throw (this.mmdbError = error as Error);
    }
  }

  /** The ASN database, if there is one yet. Throws when a configured file is unusable. */
  asn(): AsnDb | undefined {
    if (this.asnDb === undefined) {
      const path = this.path('asn');
      this.asnDb = this.settings.asn !== undefined || existsSync(path) ? new AsnDb(path) : null;
    }
    return this.asnDb ?? undefined;
  }

  /** True when IP-ASN rules will have a database (now or after the download). */
  asnExpected(): boolean {
    return this.settings.downloads.has('asn') || this.asn() !== undefined;
  }

  /**
   * How GEOIP,<code> is answered: `country` from the .mmdb, `category` from geoip.dat, or
   * undefined with the reason when no source can have the code.
   */
  geoipSource(code: string): { source: 'country' | 'category' } | { missing: string } {
    const lower = code.toLowerCase();
    const dat = this.geoipDat();
    const datExpected = this.settings.downloads.has('geoip') || dat !== undefined;
    if (this.settings.geodataMode && datExpected) return { source: 'category' };
    if (countryCode.test(lower) || lower === 'lan') return { source: 'country' };
    if (datExpected && (dat === undefined || dat.has(lower))) return { source: 'category' };
    const where = dat ? `${this.path('geoip')} has no such category` : `put GeoIP.dat in ${this.settings.home} or set geox-url.geoip`;
    return { missing: `'${code}' is not a country code but a geoip.dat category; ${where}` };
  }

  /** True when the address is in geoip.dat's category (false while the file is not there). */
  inCategory(code: string, ip: IpWords): boolean {
    const lower = code.toLowerCase();
    let entry = this.ipCategories.get(lower);
    if (entry === undefined) {
      const category = this.geoipDat()?.category(lower);
      entry = category ? { set: IpRangeSet.of(category.prefixes.map((p) => parsePrefix(p))), reverse: category.reverse } : null;
      if (this.ipDat !== undefined) this.ipCategories.set(lower, entry);
    }
    return entry !== null && entry.set.has(ip) !== entry.reverse;
  }

  /**
   * GEOSITE,<category>: a provider filled from geosite.dat (`@attr` keeps the domains carrying
   * the attribute). When the file or the category is
   * missing the provider is empty, and `missing` says why.
   */
  geosite(category: string, parse: ConditionParser): { provider: RuleProvider; missing?: string } {
    const key = category.toLowerCase();
    let provider = this.sites.get(key);
    if (!provider) {
      provider = new RuleProvider({ name: `geosite:${key}`, vehicle: 'inline', behavior: 'classical', format: 'yaml', payload: [], intervalSeconds: 0, sizeLimit: 0, headers: {} }, parse);
      this.sites.set(key, provider);
      this.fill(key, provider);
    }
    const dat = this.geositeDat();
    if (dat?.has(key)) return { provider };
    if (dat) return { provider, missing: `${this.path('geosite')} has no category '${splitCategory(key).name}'; it matches nothing` };
    if (this.settings.downloads.has('geosite')) return { provider, missing: 'it matches nothing until geosite.dat is downloaded (geox-url.geosite)' };
    return { provider, missing: `no geosite data (put GeoSite.dat or ${splitCategory(key).name}.list in ${this.settings.home}, or set geox-url.geosite); it matches nothing` };
  }

  /** Re-reads a kind's file after a download; rules built on it see the new data. */
  reload(kind: GeoKind): void {
    if (kind === 'mmdb') [this.mmdbDb, this.mmdbError] = [undefined, undefined];
    if (kind === 'asn') this.asnDb = undefined;
    if (kind === 'geoip') {
      this.ipDat = undefined;
      this.ipCategories.clear();
    }
    if (kind === 'geosite') {
      this.siteDat = undefined;
      for (const [key, provider] of this.sites) this.fill(key, provider);
    }
  }

  private fill(key: string, provider: RuleProvider): void {
    const domains = this.geositeDat()?.domains(key);
    if (domains) provider.replacePayload(domains.map(classicalLine));
  }

  private geositeDat(): GeositeDat | undefined {
    if (this.siteDat === undefined) this.siteDat = readDat(this.path('geosite'), (data) => new GeositeDat(data));
    return this.siteDat ?? undefined;
  }

  private geoipDat(): GeoipDat | undefined {
    if (this.ipDat === undefined) this.ipDat = readDat(this.path('geoip'), (data) => new GeoipDat(data));
    return this.ipDat ?? undefined;
  }
}

/** Throws when `data` is not a usable file of the kind (a download is checked before it replaces the last good copy). */
export function checkGeoFile(kind: GeoKind, data: Buffer): void {
  if (kind === 'geosite') void new GeositeDat(data);
  else if (kind === 'geoip') void new GeoipDat(data);
  else void new Reader(data);
}

/** A .dat file decoded, null when absent; a damaged file throws naming it. */
function readDat<T>(path: string, decode: (data: Buffer) => T): T | null {
  if (!existsSync(path)) return null;
  try {
    return decode(readRegularFileSync(path, maxDatabaseBytes));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

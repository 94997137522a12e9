import { fileURLToPath } from 'node:url';
import { maxDatabaseBytes, readRegularFileSync } from '../../common/bounded-file.js';
import { Reader, type Response } from 'maxmind';
import { normalizeHost } from '../../common/address.js';
import { setBounded } from '../../common/bounded-map.js';
import { IpRangeSet, parsePrefix, type IpWords } from './ip-set.js';

/** The country database bundled with sluice (CC BY 4.0, NRO; see geoip/README.md). */
export const bundledCountryDatabase = new URL(
  '../../../node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb',
  import.meta.url,
);

/**
 * What GEOIP,LAN means in mihomo: private, unspecified, loopback, multicast and link-local
 * addresses (not CGNAT 100.64/10, not 198.18/15). Checked in code before any database lookup,
 * because some databases tag private ranges with a country.
 */
const lanRanges = IpRangeSet.of(
  [
    '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '0.0.0.0/32', '127.0.0.0/8', '224.0.0.0/4',
    '169.254.0.0/16', 'fc00::/7', '::/128', '::1/128', 'ff00::/8', 'fe80::/10',
  ].map((p) => parsePrefix(p)),
);

interface CountryRecord {
  /** ip-location-db schema. */
  country_code?: string;
  /** MaxMind GeoLite2/GeoIP2 schema. */
  country?: { iso_code?: string };
  /** GeoLite2 schema: where the block is registered, when no country is known. */
  registered_country?: { iso_code?: string };
}

interface AsnRecord {
  /** GeoLite2-ASN schema. */
  autonomous_system_number?: number;
  /** GeoLite2-ASN schema. */
  autonomous_system_organization?: string;
}

const cacheSize = 4096;

/**
 * One .mmdb lookup per IP, remembered in a small bounded cache; a lookup that throws counts
 * as no record.
 */
class CachedLookup<R, V> {
  private readonly cache = new Map<string, V>();

  constructor(
    private readonly reader: Reader<R & Response>,
    private readonly pick: (record: R | null) => V,
  ) {}

  get(ip: string): V {
    const cached = this.cache.get(ip);
    if (cached !== undefined) return cached;
    let record: R | null = null;
    try {
      record = this.reader.get(normalizeHost(ip));
    } catch {
      record = null;
    }
    const value = this.pick(record);
    setBounded(this.cache, ip, value, cacheSize);
    return value;
  }
}

/** Opens an .mmdb file synchronously; the error names the path. */
function openMmdb<T extends Response>(path: string | URL, what: string): Reader<T> {
  let data: Buffer;
  try {
    data = readRegularFileSync(path instanceof URL ? fileURLToPath(path) : path, maxDatabaseBytes);
  } catch (error) {
    throw new Error(`cannot read ${what} ${String(path)}: ${(error as Error).message}`);
  }
  try {
    return new Reader<T>(data);
  } catch (error) {
    throw new Error(`${what} ${String(path)} is not a valid MaxMind database: ${(error as Error).message}`);
  }
}

/** Country lookups over an MMDB (ip-location-db or MaxMind schema), lower-case codes, cached. */
export class GeoIp {
  private readonly lookup: CachedLookup<CountryRecord, string>;

  constructor(
    /** The database file. */
    readonly path: string | URL = bundledCountryDatabase,
  ) {
    const reader = openMmdb<CountryRecord & Response>(path, 'GeoIP database');
    this.lookup = new CachedLookup(reader, (r) => (r?.country_code ?? r?.country?.iso_code ?? r?.registered_country?.iso_code ?? '').toLowerCase());
  }

  /** Lower-case ISO country code of an IP literal, or '' when the database has none. */
  country(ip: string): string {
    return this.lookup.get(ip);
  }
}

/** True when GEOIP,LAN matches the address. */
export function isLan(ip: IpWords): boolean {
  return lanRanges.has(ip);
}

/** AS numbers over a GeoLite2-ASN-schema MMDB, cached. */
export class AsnDb {
  private readonly lookup: CachedLookup<AsnRecord, number>;

  constructor(
    /** The database file. */
    readonly path: string,
  ) {
    this.lookup = new CachedLookup(openMmdb<AsnRecord & Response>(path, 'ASN database'), (r) => r?.autonomous_system_number ?? 0);
  }

  /** The AS number announcing the IP, or 0 when unknown. */
  asn(ip: string): number {
    return this.lookup.get(ip);
  }
}

import type { AsnDb } from '../match/geoip.js';
import { isLan } from '../match/geoip.js';
import type { IpWords } from '../match/ip-set.js';
import { IpRule, type IpRuleOptions } from './ip-cidr.js';

/** Answers whether an address (as words and as text) is in a GEOIP code: a country (.mmdb) or a geoip.dat category. */
export type GeoIpLookup = (ip: IpWords, text: string) => boolean;

/**
 * GEOIP / SRC-GEOIP: the country (or geoip.dat category) of the address. `LAN` is decided in
 * code (private, loopback, link-local, multicast, unspecified) and never asks a database; a
 * country is never one of those.
 */
export class GeoIpRule extends IpRule {
  private readonly lan: boolean;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions, private readonly lookup: GeoIpLookup, private readonly isCountry: boolean) {
    super(type, payload, target, options);
    this.lan = isCountry && payload.toLowerCase() === 'lan';
  }

  protected matchIp(ip: IpWords, text: string): boolean {
    if (this.lan) return isLan(ip);
    if (this.isCountry && isLan(ip)) return false;
    return this.lookup(ip, text);
  }
}

/** IP-ASN / SRC-IP-ASN: the AS number announcing the address, from a GeoLite2-ASN-schema database. */
export class IpAsnRule extends IpRule {
  private readonly asn: number;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions, private readonly db: () => AsnDb | undefined) {
    if (!/^\d{1,10}$/.test(payload)) throw new Error(`${type} payload must be an AS number without 'AS', got '${payload}'`);
    super(type, payload, target, options);
    this.asn = Number(payload);
  }

  protected matchIp(_ip: IpWords, text: string): boolean {
    return this.db()?.asn(text) === this.asn;
  }
}


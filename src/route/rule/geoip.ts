import type { AsnDb, GeoIp } from '../match/geoip.js';
import { isLan } from '../match/geoip.js';
import type { IpWords } from '../match/ip-set.js';
import { IpRule, type IpRuleOptions } from './ip-cidr.js';

/**
 * GEOIP / SRC-GEOIP: the country of the address. `LAN` is decided in code (private, loopback,
 * link-local, multicast, unspecified) and never asks the database.
 */
export class GeoIpRule extends IpRule {
  private readonly code: string;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions, private readonly geoip: () => GeoIp) {
    super(type, payload, target, options);
    this.code = payload.toLowerCase();
    if (this.code !== 'lan') geoip();
  }

  protected matchIp(ip: IpWords, text: string): boolean {
    if (this.code === 'lan') return isLan(ip);
    if (isLan(ip)) return false;
    return this.geoip().country(text) === this.code;
  }
}

/** IP-ASN / SRC-IP-ASN: the AS number announcing the address, from a GeoLite2-ASN-schema database. */
export class IpAsnRule extends IpRule {
  private readonly asn: number;

  constructor(type: string, payload: string, target: string, options: IpRuleOptions, private readonly db: AsnDb) {
    if (!/^\d{1,10}$/.test(payload)) throw new Error(`${type} payload must be an AS number without 'AS', got '${payload}'`);
    super(type, payload, target, options);
    this.asn = Number(payload);
  }

  protected matchIp(_ip: IpWords, text: string): boolean {
    return this.db.asn(text) === this.asn;
  }
}


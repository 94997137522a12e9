/**
 * v2ray's geoip.dat (protobuf GeoIPList, as mihomo reads it with `geodata-mode`): categories
 * such as `cn`, `private`, `telegram`, `google`, each a list of prefixes, decoded when a
 * GEOIP rule first names it.
 */
import { fields, indexCategories, ProtoError } from './protobuf.js';

/** One category's prefixes. */
export interface GeoipCategory {
  /** CIDR texts (`91.108.4.0/22`, `2001:b28:f23d::/48`). */
  prefixes: string[];
  /** True when the category matches addresses outside its prefixes (reverse_match). */
  reverse: boolean;
}

/** The categories of one geoip.dat. */
export class GeoipDat {
  private readonly index: Map<string, { start: number; end: number }>;

  /** Indexes the file's categories; throws an Error when the bytes are not a GeoIPList. */
  constructor(private readonly data: Uint8Array) {
    this.index = indexCategories(data, 'geoip.dat (GeoIPList)');
  }

  /** Category names, lower case. */
  get categories(): string[] {
    return [...this.index.keys()];
  }

  /** True when the file has the category (any case). */
  has(code: string): boolean {
    return this.index.has(code.toLowerCase());
  }

  /** The prefixes of a category (any case); undefined when the file lacks it. */
  category(code: string): GeoipCategory | undefined {
    const bounds = this.index.get(code.toLowerCase());
    if (!bounds) return undefined;
    try {
      return this.decode(bounds.start, bounds.end);
    } catch (error) {
      if (error instanceof ProtoError) throw new Error(`category '${code.toLowerCase()}' of the geoip.dat is damaged: ${error.message}`);
      throw error;
    }
  }

  private decode(start: number, end: number): GeoipCategory {
    const prefixes: string[] = [];
    let reverse = false;
    for (const field of fields(this.data, start, end)) {
      if (field.field === 3 && field.wire === 0) reverse = field.value !== 0;
      if (field.field !== 2 || field.wire !== 2) continue;
      let ip: Uint8Array | undefined;
      let prefix = -1;
      for (const part of fields(this.data, field.start, field.end)) {
        if (part.field === 1 && part.wire === 2) ip = this.data.subarray(part.start, part.end);
        else if (part.field === 2 && part.wire === 0) prefix = part.value;
      }
      const cidr = ip && formatCidr(ip, prefix);
      if (cidr) prefixes.push(cidr);
    }
    return { prefixes, reverse };
  }
}

function formatCidr(ip: Uint8Array, prefix: number): string | undefined {
  if (ip.length === 4 && prefix >= 0 && prefix <= 32) return `${ip.join('.')}/${prefix}`;
  if (ip.length !== 16 || prefix < 0 || prefix > 128) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return `${groups.join(':')}/${prefix}`;
}

/**
 * v2ray's geosite.dat (protobuf GeoSiteList, as mihomo reads it with `geodata-mode`): an index
 * of the categories, each decoded when a rule first names it. A category is written
 * `name[@attr...]`: with attributes, only domains carrying every one of them (`google@cn`).
 */
import { fields, indexCategories, ProtoError, text } from './protobuf.js';

/** Domain.Type of the proto: how an entry's value matches. */
const domainTypes = ['keyword', 'regex', 'suffix', 'full'] as const;

/** One entry of a category. */
export interface GeositeDomain {
  /** keyword (Plain), regex (Regex), suffix (Domain: the name and its subdomains), full (Full). */
  type: (typeof domainTypes)[number];
  /** The pattern. */
  value: string;
  /** Attribute keys, lower case (`cn`, `ads`). */
  attributes: string[];
}

/** The categories of one geosite.dat. */
export class GeositeDat {
  private readonly index: Map<string, { start: number; end: number }>;

  /** Indexes the file's categories; throws an Error when the bytes are not a GeoSiteList. */
  constructor(private readonly data: Uint8Array) {
    this.index = indexCategories(data, 'geosite.dat (GeoSiteList)');
  }

  /** Category names, lower case. */
  get categories(): string[] {
    return [...this.index.keys()];
  }

  /** True when the file has the category (attributes aside). */
  has(category: string): boolean {
    return this.index.has(splitCategory(category).name);
  }

  /** The entries of `category` (`name@attr…`, any case); undefined when the file lacks it. */
  domains(category: string): GeositeDomain[] | undefined {
    const { name, attributes } = splitCategory(category);
    const bounds = this.index.get(name);
    if (!bounds) return undefined;
    const out: GeositeDomain[] = [];
    try {
      for (const field of fields(this.data, bounds.start, bounds.end)) {
        if (field.field !== 2 || field.wire !== 2) continue;
        const domain = this.domain(field.start, field.end);
        if (domain && attributes.every((a) => domain.attributes.includes(a))) out.push(domain);
      }
    } catch (error) {
      if (error instanceof ProtoError) throw new Error(`category '${name}' of the geosite.dat is damaged: ${error.message}`);
      throw error;
    }
    return out;
  }

  private domain(start: number, end: number): GeositeDomain | undefined {
    let type = 0;
    let value = '';
    const attributes: string[] = [];
    for (const field of fields(this.data, start, end)) {
      if (field.field === 1 && field.wire === 0) type = field.value;
      else if (field.field === 2 && field.wire === 2) value = text(this.data, field);
      else if (field.field === 3 && field.wire === 2) {
        for (const attribute of fields(this.data, field.start, field.end)) {
          if (attribute.field === 1 && attribute.wire === 2) attributes.push(text(this.data, attribute).toLowerCase());
        }
      }
    }
    const kind = domainTypes[type];
    return kind && value !== '' ? { type: kind, value, attributes } : undefined;
  }
}

/** `google@cn@ads` → name and attributes, lower case. */
export function splitCategory(category: string): { name: string; attributes: string[] } {
  const [name, ...attributes] = category.toLowerCase().split('@').map((p) => p.trim());
  return { name: name!, attributes: attributes.filter((a) => a !== '') };
}

/** An entry as a classical rule-provider line (DOMAIN, DOMAIN-SUFFIX, DOMAIN-KEYWORD, DOMAIN-REGEX). */
export function classicalLine(domain: GeositeDomain): string {
  const type = { keyword: 'DOMAIN-KEYWORD', regex: 'DOMAIN-REGEX', suffix: 'DOMAIN-SUFFIX', full: 'DOMAIN' }[domain.type];
  return `${type},${domain.value}`;
}

import type { Rule } from '../../adapter/router.js';
import { normalizeHost } from '../../common/address.js';
import { DomainKeywordRule, DomainRule, DomainSuffixRule } from './domain.js';
import { IpCidrRule } from './ip-cidr.js';
import { MatchRule, NeverRule } from './match.js';
import { NetworkRule } from './network.js';
import { DstPortRule } from './port.js';

/** A parsed rule line plus a note the loader shows as a warning. */
export interface ParsedRule {
  /** The matcher. */
  rule: Rule;
  /** Something the user should know (lenient parse, never-matching type). */
  warning?: string;
}

/** Rule types that depend on the local host's process table or packet marks: parsed, never matched. */
const hostOnlyTypes = new Set([
  'PROCESS-NAME', 'PROCESS-PATH', 'PROCESS-NAME-REGEX', 'PROCESS-PATH-REGEX',
  'PROCESS-NAME-WILDCARD', 'PROCESS-PATH-WILDCARD', 'UID', 'DSCP',
]);

/** Clash/mihomo rule types the router does not implement yet. */
const notYetTypes = new Set([
  'DOMAIN-REGEX', 'DOMAIN-WILDCARD', 'GEOSITE', 'GEOIP', 'SRC-GEOIP', 'IP-SUFFIX', 'IP-ASN',
  'SRC-IP-SUFFIX', 'SRC-IP-ASN', 'SRC-PORT', 'IN-PORT', 'IN-TYPE', 'IN-USER', 'IN-NAME',
  'RULE-SET', 'AND', 'OR', 'NOT', 'SUB-RULE',
]);

/**
 * Parses one `TYPE,PAYLOAD,TARGET[,PARAM...]` line the way mihomo splits it.
 * Throws an Error whose message explains what is wrong with the line.
 */
export function parseRule(line: string): ParsedRule {
  const fields = line.split(',').map((f) => f.trim());
  const type = fields[0]!.toUpperCase();
  if (type === 'MATCH' || type === 'FINAL') return parseMatch(type, fields);
  if (notYetTypes.has(type)) throw new Error(`rule type ${type} is not supported yet`);
  if (fields.length < 3 || fields[1] === '' || fields[2] === '') {
    throw new Error('expected TYPE,PAYLOAD,TARGET');
  }
  const [, rawPayload, target, ...params] = fields as [string, string, string, ...string[]];
  for (const param of params) {
    if (param !== 'no-resolve' && param !== 'src') throw new Error(`unknown rule parameter '${param}'`);
  }
  const noResolve = params.includes('no-resolve');
  const src = params.includes('src');

  switch (type) {
    case 'DOMAIN':
      return { rule: new DomainRule(type, normalizeHost(rawPayload), target) };
    case 'DOMAIN-SUFFIX': {
      const leadingDot = rawPayload.startsWith('.');
      const payload = normalizeHost(leadingDot ? rawPayload.slice(1) : rawPayload);
      const rule = new DomainSuffixRule(type, payload, target);
      return leadingDot ? { rule, warning: `leading dot removed from DOMAIN-SUFFIX,${rawPayload}` } : { rule };
    }
    case 'DOMAIN-KEYWORD':
      return { rule: new DomainKeywordRule(type, rawPayload.toLowerCase(), target) };
    case 'IP-CIDR':
    case 'IP-CIDR6':
      return { rule: new IpCidrRule(type, rawPayload, target, src, noResolve) };
    case 'SRC-IP-CIDR':
      return { rule: new IpCidrRule(type, rawPayload, target, true, true) };
    case 'DST-PORT':
      return { rule: new DstPortRule(type, rawPayload, target) };
    case 'NETWORK':
      return { rule: new NetworkRule(type, rawPayload, target) };
    default:
      if (hostOnlyTypes.has(type)) {
        return { rule: new NeverRule(type, rawPayload, target), warning: `${type} rules never match in sluice` };
      }
      throw new Error(`unknown rule type '${fields[0]}'`);
  }
}

function parseMatch(type: string, fields: string[]): ParsedRule {
  // MATCH,target; old Clash wrote FINAL,,target and Surge FINAL,target.
  const target = type === 'FINAL' && fields.length >= 3 && fields[1] === '' ? fields[2] : fields[1];
  if (!target) throw new Error(`${type} needs a target`);
  const rule = new MatchRule('MATCH', '', target);
  return type === 'FINAL' ? { rule, warning: 'FINAL is an old alias of MATCH' } : { rule };
}

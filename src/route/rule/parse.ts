import type { Rule } from '../../adapter/router.js';
import { normalizeHost } from '../../common/address.js';
import { normalizePattern } from '../match/domain-set.js';
import type { Geodata } from '../geodata/geodata.js';
import type { RuleProvider } from '../provider/provider.js';
import { excerpt } from './base.js';
import { DomainKeywordRule, DomainRegexRule, DomainRule, DomainSuffixRule, DomainWildcardRule } from './domain.js';
import { GeoIpRule, IpAsnRule } from './geoip.js';
import { InNameRule, InTypeRule } from './inbound.js';
import { IpCidrRule, IpSuffixRule, type IpRuleOptions } from './ip-cidr.js';
import { LogicRule, SubRule, splitLogicPayload } from './logic.js';
import { MatchRule, NeverRule } from './match.js';
import { NetworkRule } from './network.js';
import { PortRule } from './port.js';
import { RuleSetRule } from './rule-set.js';

/** What rules refer to beyond their own line: providers, databases, geosite files, sub-rule lists. */
export interface RuleEnv {
  /** Rule providers by name (RULE-SET). */
  readonly providers: ReadonlyMap<string, RuleProvider>;
  /** The geo databases (GEOIP, SRC-GEOIP, IP-ASN, GEOSITE from geosite.dat). */
  readonly geodata: Geodata;
  /** The domain list of a GEOSITE category, as a provider; `missing` says why it is empty (it then matches nothing). */
  geosite(name: string): { provider: RuleProvider; missing?: string };
  /** Names of the `sub-rules:` lists (SUB-RULE). */
  readonly subRuleLists: ReadonlySet<string>;
}

/** A parsed rule line plus a note the loader shows as a warning. */
export interface ParsedRule {
  /** The matcher. */
  rule: Rule;
  /** Something the user should know (lenient parse, never-matching type). */
  warning?: string;
}

/** Rule types that depend on the local host's process table or packet marks: parsed, never matched. */
const hostOnlyTypes: ReadonlySet<string> = new Set([
  'PROCESS-NAME', 'PROCESS-PATH', 'PROCESS-NAME-REGEX', 'PROCESS-PATH-REGEX',
  'PROCESS-NAME-WILDCARD', 'PROCESS-PATH-WILDCARD', 'UID', 'DSCP',
]);

/** Types whose payload may contain commas: the target is the last field. */
const commaPayloadTypes = new Set(['AND', 'OR', 'NOT', 'SUB-RULE', 'DOMAIN-REGEX', 'PROCESS-NAME-REGEX', 'PROCESS-PATH-REGEX']);

/**
 * Parses one `TYPE,PAYLOAD,TARGET[,PARAM...]` line the way mihomo splits it.
 * Throws an Error whose message explains what is wrong with the line.
 */
export function parseRule(line: string, env: RuleEnv): ParsedRule {
  const fields = line.split(',').map((f) => f.trim());
  const type = fields[0]!.toUpperCase();
  if (type === 'MATCH' || type === 'FINAL') return parseMatch(type, fields);
  if (fields.length < 3 || fields[1] === '' || fields[fields.length - 1] === '') throw new Error('expected TYPE,PAYLOAD,TARGET');
  const notes: string[] = [];
  if (commaPayloadTypes.has(type)) {
    const payload = fields.slice(1, -1).join(',');
    const target = fields[fields.length - 1]!;
    if (type === 'SUB-RULE') return { rule: parseSubRule(payload, target, env) };
    return withNotes(build(type, payload, [], target, env, 0, notes), notes);
  }
  const [, payload, target, ...params] = fields as [string, string, string, ...string[]];
  return withNotes(build(type, payload, params, target, env, 0, notes), notes);
}

/** Deepest nesting of AND/OR/NOT accepted; deeper is a load error (parsing stays linear in the line). */
const maxLogicDepth = 32;

/**
 * Parses a rule without target (`TYPE,payload[,params]`): a logic sub-rule or a classical
 * provider entry. MATCH, RULE-SET and SUB-RULE are not allowed there. `depth` counts the
 * logic rules it sits in.
 */
export function parseCondition(text: string, env: RuleEnv, where: string, depth = 0, notes: string[] = []): Rule {
  const fields = text.split(',').map((f) => f.trim());
  const type = fields[0]!.toUpperCase();
  if (type === 'MATCH' || type === 'FINAL' || type === 'SUB-RULE' || (type === 'RULE-SET' && where === 'a classical rule provider')) {
    throw new Error(`${type} is not allowed in ${where}`);
  }
  if (fields.length < 2 || fields[1] === '') throw new Error(`expected TYPE,payload, got ${excerpt(text)}`);
  if (commaPayloadTypes.has(type)) return build(type, fields.slice(1).join(','), [], '', env, depth, notes);
  return build(type, fields[1]!, fields.slice(2), '', env, depth, notes);
}

function withNotes(rule: Rule, notes: string[]): ParsedRule {
  if (rule instanceof NeverRule) notes.unshift(rule.reason);
  return notes.length > 0 ? { rule, warning: notes.join('; ') } : { rule };
}

function ipOptions(type: string, params: string[]): IpRuleOptions {
  for (const param of params) {
    if (param !== 'no-resolve' && param !== 'src') throw new Error(`unknown rule parameter '${param}'`);
  }
  return { source: type.startsWith('SRC-') || params.includes('src'), noResolve: params.includes('no-resolve') };
}

function geoIpRule(type: string, payload: string, target: string, options: IpRuleOptions, geodata: Geodata): Rule {
  const code = payload.toLowerCase();
  const source = geodata.geoipSource(code);
  if ('missing' in source) return new NeverRule(type, payload, target, `${type},${payload}: ${source.missing}; it matches nothing`);
  if (source.source === 'category') return new GeoIpRule(type, payload, target, options, (ip) => geodata.inCategory(code, ip), false);
  if (code !== 'lan') geodata.countries();
  return new GeoIpRule(type, payload, target, options, (_ip, text) => geodata.countries().country(text) === code, true);
}

/** Builds a rule; what the user should know about it (data it lacks) goes to `notes`. */
function build(type: string, payload: string, params: string[], target: string, env: RuleEnv, depth = 0, notes: string[] = []): Rule {
  // no-resolve and src only mean something to IP rules and RULE-SET; elsewhere mihomo ignores them.
  ipOptions(type, params);
  switch (type) {
    case 'DOMAIN':
      return new DomainRule(type, normalizeHost(normalizePattern(payload)), target);
    case 'DOMAIN-SUFFIX': {
      // mihomo keeps a leading dot (and then never matches); we strip it, as the spec allows.
      const suffix = normalizePattern(payload.startsWith('.') ? payload.slice(1) : payload);
      return new DomainSuffixRule(type, suffix, target);
    }
    case 'DOMAIN-KEYWORD':
      return new DomainKeywordRule(type, payload.toLowerCase(), target);
    case 'DOMAIN-REGEX':
      return new DomainRegexRule(type, payload, target);
    case 'DOMAIN-WILDCARD':
      return new DomainWildcardRule(type, payload, target);
    case 'GEOSITE': {
      const { provider, missing } = env.geosite(payload.toLowerCase());
      if (missing) notes.push(`GEOSITE,${payload}: ${missing}`);
      return new RuleSetRule(payload.toLowerCase(), target, provider, true, false, type);
    }
    case 'IP-CIDR':
    case 'IP-CIDR6':
    case 'SRC-IP-CIDR':
      return new IpCidrRule(type, payload, target, ipOptions(type, params));
    case 'IP-SUFFIX':
    case 'SRC-IP-SUFFIX':
      return new IpSuffixRule(type, payload, target, ipOptions(type, params));
    case 'GEOIP':
    case 'SRC-GEOIP':
      return geoIpRule(type, payload, target, ipOptions(type, params), env.geodata);
    case 'IP-ASN':
    case 'SRC-IP-ASN':
      if (!env.geodata.asnExpected()) return new NeverRule(type, payload, target, `${type} needs an ASN database (asn-database, GeoLite2-ASN.mmdb in the config folder, or geox-url.asn); it matches nothing`);
      return new IpAsnRule(type, payload, target, ipOptions(type, params), () => env.geodata.asn());
    case 'DST-PORT':
      return new PortRule(type, payload, target, 'destination');
    case 'SRC-PORT':
      return new PortRule(type, payload, target, 'source');
    case 'IN-PORT':
      return new PortRule(type, payload, target, 'inbound');
    case 'IN-TYPE':
      return new InTypeRule(type, payload, target);
    case 'IN-NAME':
      return new InNameRule(type, payload, target, 'name');
    case 'IN-USER':
      return new InNameRule(type, payload, target, 'user');
    case 'NETWORK':
      return new NetworkRule(type, payload, target);
    case 'RULE-SET': {
      const provider = env.providers.get(payload);
      if (!provider) throw new Error(`unknown rule provider '${payload}' (defined: ${[...env.providers.keys()].join(', ') || 'none'})`);
      const options = ipOptions(type, params);
      return new RuleSetRule(payload, target, provider, options.noResolve, options.source);
    }
    case 'AND':
    case 'OR':
    case 'NOT': {
      if (depth >= maxLogicDepth) throw new Error(`logic rules nest deeper than ${maxLogicDepth} levels`);
      const children = splitLogicPayload(payload).map((child) => parseCondition(child, env, type, depth + 1, notes));
      return new LogicRule(type, payload, target, children);
    }
    default:
      if (hostOnlyTypes.has(type)) return new NeverRule(type, payload, target);
      throw new Error(`unknown rule type '${type}'`);
  }
}

function parseSubRule(payload: string, list: string, env: RuleEnv): Rule {
  if (!env.subRuleLists.has(list)) throw new Error(`unknown sub-rules list '${list}' (defined: ${[...env.subRuleLists].join(', ') || 'none'})`);
  const [condition, ...rest] = splitLogicPayload(`(${payload})`);
  if (!condition || rest.length > 0) throw new Error(`SUB-RULE takes one condition in parentheses, got ${excerpt(payload)}`);
  return new SubRule(payload, list, parseCondition(condition, env, 'SUB-RULE', 1));
}

function parseMatch(type: string, fields: string[]): ParsedRule {
  // MATCH,target; old Clash wrote FINAL,,target and Surge FINAL,target.
  const target = type === 'FINAL' && fields.length >= 3 && fields[1] === '' ? fields[2] : fields[1];
  if (!target) throw new Error(`${type} needs a target`);
  const rule = new MatchRule('MATCH', '', target);
  return type === 'FINAL' ? { rule, warning: 'FINAL is an old alias of MATCH' } : { rule };
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { isInside } from '../common/bounded-file.js';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Rule } from '../adapter/router.js';
import type { Geodata } from '../route/geodata/geodata.js';
import type { ConditionParser } from '../route/provider/content.js';
import type { ProviderBehavior } from '../route/provider/content.js';
import type { ProviderFormat } from '../route/provider/formats.js';
import { RuleProvider, type RuleProviderConfig } from '../route/provider/provider.js';
import { parseCondition, parseRule, type RuleEnv } from '../route/rule/parse.js';
import { SubRule } from '../route/rule/logic.js';
import { maxRegexBytesPerList, RegexBudget } from '../route/rule/domain.js';
import { nearest, showValue } from './errors.js';

/** Bundled rule files (rules/ at the package root): GEOSITE falls back to rules/geosite/. */
const bundledRulesDir = fileURLToPath(new URL('../../rules/', import.meta.url));

/** A raw `rule-providers:` entry (validated by the schema). */
export interface RawProvider {
  /** Where entries come from. */
  type: 'file' | 'http' | 'inline';
  /** How entries are read. */
  behavior: ProviderBehavior;
  /** File format (default yaml). */
  format?: ProviderFormat;
  /** File, or http cache, relative to the config directory. */
  path?: string;
  /** Download URL (http). */
  url?: string;
  /** Seconds between downloads (http). */
  interval?: number;
  /** Download through this proxy (only DIRECT in this build). */
  proxy?: string;
  /** Largest download, bytes (0: no limit). */
  'size-limit'?: number;
  /** Extra request headers (http). */
  header?: Record<string, string[]>;
  /** Entries (inline). */
  payload?: string[];
}

/** The routing part of a config, parsed. */
export interface Routing {
  /** Rule providers in config order, local content loaded. */
  providers: RuleProvider[];
  /** Main rules. */
  rules: Rule[];
  /** `sub-rules:` lists. */
  subRules: Map<string, Rule[]>;
  /** What rules refer to (the sniffer's rule-set:/geosite: references use it too). */
  env: RuleEnv;
}

/** Inputs for `buildRouting`. */
export interface RoutingInput {
  /** Config directory: relative paths resolve here and provider files must stay inside it. */
  home: string;
  /** `rules:`. */
  rules: string[];
  /** `rule-providers:`. */
  providers: Record<string, RawProvider>;
  /** `sub-rules:`. */
  subRules: Record<string, string[]>;
  /** Valid rule targets (outbounds and groups). */
  targets: ReadonlySet<string>;
  /** Collects rule targets defined nowhere (they become outbounds that fail every flow). */
  undefinedNames: Set<string>;
  /** The geo databases (`geoip-database`, `asn-database`, geodata files, geox-url). */
  geodata: Geodata;
  /** `asn-database`, when set (an unreadable one is a problem). */
  asnDatabase?: string;
}

/** Parses providers, rules and sub-rules; pushes fatal problems and warnings. */
export function buildRouting(input: RoutingInput, problems: string[], warnings: string[]): Routing {
  const { home, geodata } = input;
  if (input.asnDatabase) {
    try {
      geodata.asn();
    } catch (error) {
      problems.push(`asn-database: ${(error as Error).message}`);
    }
  }
  const providers = new Map<string, RuleProvider>();
  const subRuleLists = new Set(Object.keys(input.subRules));
  const geosites = new Map<string, { provider: RuleProvider; missing?: string }>();
  const parseEntry: ConditionParser = (entry) => parseCondition(entry, env, 'a classical rule provider');
  const env: RuleEnv = {
    providers,
    geodata,
    subRuleLists,
    geosite: (name) => {
      let found = geosites.get(name);
      if (!found) geosites.set(name, (found = geositeList(name, home, parseEntry) ?? geodata.geosite(name, parseEntry)));
      return found;
    },
  };

  for (const [name, raw] of Object.entries(input.providers)) {
    const path = `rule-providers.${name}`;
    const config = providerConfig(name, raw, home, path, problems, warnings);
    if (!config) continue;
    if (raw.proxy !== undefined && !input.targets.has(raw.proxy)) {
      problems.push(`${path}.proxy: unknown proxy or group ${showValue(raw.proxy)}`);
      continue;
    }
    const provider = new RuleProvider(config, parseEntry);
    try {
      provider.loadLocal();
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message}`);
      continue;
    }
    providers.set(name, provider);
  }

  const regexes = new RegexBudget();
  const parseList = (lines: string[], at: string): Rule[] => {
    const out: Rule[] = [];
    lines.forEach((line, i) => {
      if (!regexes.take(line)) {
        problems.push(`${at}[${i}]: the DOMAIN-REGEX rules of one config may total at most ${maxRegexBytesPerList >> 10} KiB (put long domain lists in a rule provider)`);
        return;
      }
      try {
        const { rule, warning } = parseRule(line, env);
        if (rule instanceof SubRule) {
          // The target of SUB-RULE is a list name, checked by the parser.
        } else if (!input.targets.has(rule.target)) {
          const hint = nearest(rule.target, [...input.targets]);
          warnings.push(`${at}[${i}]: unknown target '${rule.target}' in ${showValue(line)}${hint ? ` (did you mean '${hint}'?)` : ''}: it is not defined, so flows this rule matches fail`);
          input.undefinedNames.add(rule.target);
        }
        if (warning) warnings.push(`${at}[${i}]: ${warning}`);
        if (rule.type === 'DOMAIN-SUFFIX' && /^[^,]+,\s*\./.test(line)) warnings.push(`${at}[${i}]: leading dot removed from DOMAIN-SUFFIX,${line.split(',')[1]!.trim()}`);
        out.push(rule);
      } catch (error) {
        problems.push(`${at}[${i}]: ${(error as Error).message}, got ${showValue(line)}`);
      }
    });
    return out;
  };
  const subRules = new Map<string, Rule[]>();
  for (const [name, lines] of Object.entries(input.subRules)) subRules.set(name, parseList(lines, `sub-rules.${name}`));
  const rules = parseList(input.rules, 'rules');
  checkSubRuleCycles(subRules, problems);
  return { providers: [...providers.values()], rules, subRules, env };
}

/**
 * A provider's settings, paths resolved. What mihomo would only fail on when it downloads or
 * reads (a URL that is not http(s), a path outside the config folder, which sluice never
 * touches) leaves the provider empty with a warning, so that its RULE-SET rules match nothing.
 */
function providerConfig(name: string, raw: RawProvider, home: string, at: string, problems: string[], warnings: string[]): RuleProviderConfig | undefined {
  const required = { file: 'path', http: 'url', inline: 'payload' } as const;
  if (raw[required[raw.type]] === undefined) {
    problems.push(`${at}: type ${raw.type} needs ${required[raw.type]}`);
    return undefined;
  }
  const empty = (why: string): RuleProviderConfig => {
    warnings.push(`${at}: ${why}; the provider stays empty and its RULE-SET rules match nothing`);
    return { name, vehicle: 'inline', behavior: raw.behavior, format: 'yaml', intervalSeconds: 0, payload: [], sizeLimit: 0, headers: {} };
  };
  if (raw.type === 'http' && !/^https?:\/\/[^/]/i.test(raw.url!)) return empty(`url ${showValue(raw.url)} is not an http(s) URL`);
  const format = raw.format ?? 'yaml';
  if (format === 'mrs' && raw.behavior === 'classical') {
    problems.push(`${at}.format: mrs holds domain or ipcidr rules only, not classical`);
    return undefined;
  }
  let path: string | undefined;
  if (raw.type !== 'inline') {
    const wanted = raw.path ?? `rules/${createHash('md5').update(raw.url ?? '').digest('hex')}`;
    path = resolve(home, wanted);
    if (!isInside(home, path)) return empty(`path ${showValue(raw.path)} is outside the config directory ${home} (symlinks resolved), so sluice neither reads nor writes it`);
  }
  const headers: Record<string, string> = {};
  for (const [key, values] of Object.entries(raw.header ?? {})) headers[key] = values.join(', ');
  return {
    name,
    vehicle: raw.type,
    behavior: raw.behavior,
    format,
    path,
    url: raw.url,
    intervalSeconds: raw.interval ?? 0,
    payload: raw.payload,
    sizeLimit: raw['size-limit'] ?? 0,
    headers,
    proxy: raw.proxy,
  };
}

/** Extension of a GEOSITE file → its provider format. */
const geositeFormats = { list: 'text', txt: 'text', yaml: 'yaml', mrs: 'mrs' } as const;

/**
 * GEOSITE,<name> from a list file named after the category, in the config's geosite/ or the
 * bundled rules/geosite/; undefined when there is none (geosite.dat is asked next).
 */
function geositeList(name: string, home: string, parse: ConditionParser): { provider: RuleProvider } | undefined {
  if (!/^[\w!@-][\w!@.-]*$/.test(name)) throw new Error(`GEOSITE category names are letters, digits and - _ ! @ . (no path), got ${showValue(name)}`);
  const dirs = [resolve(home, 'geosite'), resolve(bundledRulesDir, 'geosite')];
  for (const dir of dirs) {
    for (const [ext, format] of Object.entries(geositeFormats)) {
      const path = resolve(dir, `${name}.${ext}`);
      if (!existsSync(path)) continue;
      const provider = new RuleProvider(
        { name: `geosite:${name}`, vehicle: 'file', behavior: 'domain', format, path, intervalSeconds: 0, sizeLimit: 0, headers: {} },
        parse,
      );
      provider.loadLocal();
      return { provider };
    }
  }
  return undefined;
}

function checkSubRuleCycles(lists: Map<string, Rule[]>, problems: string[]): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problems.push(`sub-rules: cycle ${[...path, name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const rule of lists.get(name) ?? []) if (rule instanceof SubRule) visit(rule.list, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of lists.keys()) visit(name, []);
}


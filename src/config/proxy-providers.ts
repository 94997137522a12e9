/**
 * `proxy-providers:`: each entry read into a ProxyProvider with its local content loaded (the
 * inline list, the file, or an http provider's cached copy; downloads come when Box starts).
 * The provider's `filter` / `exclude-filter` / `exclude-type` pick proxies by their names and
 * types as written, names repeated are kept once, then `override` and `dialer-proxy` apply and
 * each proxy is read as a `proxies:` entry (types sluice lacks become placeholders).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { RE2JS } from 're2js';
import { isInside } from '../common/bounded-file.js';
import { MemberFilter } from '../route/group/member-filter.js';
import type { ProxyMap } from '../route/proxy-provider/share-links.js';
import { ProxyProvider, type ProxyReader } from '../route/proxy-provider/provider.js';
import { showValue } from './errors.js';
import { readProxyEntry } from './mihomo-shape.js';
import type { ProxyConfig } from './proxy-types.js';

/** A raw `proxy-providers:` entry (validated by the schema). */
export interface RawProxyProvider {
  type: 'http' | 'file' | 'inline';
  url?: string;
  path?: string;
  interval?: number;
  proxy?: string;
  header?: Record<string, string[]>;
  'size-limit'?: number;
  'health-check'?: { enable?: boolean; url?: string; interval?: number; timeout?: number; lazy?: boolean; 'expected-status'?: string | number };
  filter?: string;
  'exclude-filter'?: string;
  'exclude-type'?: string;
  'dialer-proxy'?: string;
  override?: Record<string, unknown> & { 'additional-prefix'?: string; 'additional-suffix'?: string; 'proxy-name'?: { pattern: string; target: string }[] };
  payload?: ProxyMap[];
}

/** Most proxy problems one load lists; the rest are counted. */
const maxListed = 5;

/**
 * Builds the providers; problems (bad regexes, an unknown download `proxy`) and warnings go to
 * the lists. An unknown `dialer-proxy` joins `undefinedNames` (an outbound that fails every flow).
 */
export function buildProxyProviders(
  raw: Record<string, RawProxyProvider>,
  home: string,
  names: { targets: ReadonlySet<string>; undefinedNames: Set<string> },
  problems: string[],
  warnings: string[],
): ProxyProvider[] {
  const { targets, undefinedNames } = names;
  const providers: ProxyProvider[] = [];
  for (const [name, entry] of Object.entries(raw)) {
    const at = `proxy-providers.${name}`;
    let reader: ProxyReader;
    try {
      reader = proxyReader(entry);
    } catch (error) {
      problems.push(`${at}.${(error as Error).message}`);
      continue;
    }
    if (entry.proxy !== undefined && !targets.has(entry.proxy)) problems.push(`${at}.proxy: unknown proxy or group ${showValue(entry.proxy)}`);
    const dialer = entry['dialer-proxy'] ?? (entry.override?.['dialer-proxy'] as string | undefined);
    if (dialer !== undefined && !targets.has(dialer)) {
      warnings.push(`${at}: unknown dialer-proxy ${showValue(dialer)}: it is not defined, so flows through this provider's proxies fail`);
      undefinedNames.add(dialer);
    }
    let vehicle = entry.type;
    let path: string | undefined;
    if (vehicle === 'http' && !/^https?:\/\/[^/]/i.test(entry.url ?? '')) {
      warnings.push(`${at}: url ${showValue(entry.url ?? '')} is not an http(s) URL; the provider stays empty`);
      vehicle = 'inline';
    } else if (vehicle === 'file' && entry.path === undefined) {
      problems.push(`${at}: type file needs path`);
      continue;
    } else if (vehicle !== 'inline') {
      path = resolve(home, entry.path ?? `proxies/${createHash('md5').update(entry.url ?? '').digest('hex')}`);
      if (!isInside(home, path)) {
        warnings.push(`${at}: path ${showValue(entry.path)} is outside the config directory ${home} (symlinks resolved), so sluice neither reads nor writes it; the provider stays empty`);
        [vehicle, path] = ['inline', undefined];
      }
    }
    const check = entry['health-check'] ?? {};
    const headers: Record<string, string> = {};
    for (const [key, values] of Object.entries(entry.header ?? {})) headers[key] = values.join(', ');
    const provider = new ProxyProvider(
      {
        name, vehicle, path, url: entry.url, intervalSeconds: entry.interval ?? 0, sizeLimit: entry['size-limit'] ?? 0, headers, proxy: entry.proxy,
        payload: vehicle === 'inline' ? (entry.type === 'inline' ? (entry.payload ?? []) : []) : undefined,
        healthCheck: {
          enable: check.enable ?? false, url: check.url ?? 'https://www.gstatic.com/generate_204', intervalSeconds: check.interval ?? 300,
          timeoutMs: check.timeout ?? 5000, lazy: check.lazy ?? true, expectedStatus: String(check['expected-status'] ?? '*'),
        },
      },
      reader,
    );
    try {
      provider.loadLocal();
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}`);
      continue;
    }
    providers.push(provider);
  }
  return providers;
}

/** The reader of one provider: filters, dedup, override, then each proxy read as a `proxies:` entry. Throws for a bad regex. */
function proxyReader(entry: RawProxyProvider): ProxyReader {
  const filter = new MemberFilter({ filter: entry.filter, excludeFilter: entry['exclude-filter'], excludeType: entry['exclude-type'] });
  const { 'additional-prefix': prefix = '', 'additional-suffix': suffix = '', 'proxy-name': renames = [], ...fields } = entry.override ?? {};
  const rename = renames.map(({ pattern, target }) => {
    try {
      return { regex: RE2JS.compile(pattern), target };
    } catch (error) {
      throw new Error(`override.proxy-name: ${showValue(pattern)} is not a regex the linear-time engine accepts (${(error as Error).message})`);
    }
  });
  if (entry['dialer-proxy'] !== undefined) fields['dialer-proxy'] ??= entry['dialer-proxy'];
  return (maps) => {
    const candidates = maps.flatMap((map) => (typeof map.name === 'string' && typeof map.type === 'string' ? [{ name: map.name, type: map.type, map }] : []));
    const seen = new Set<string>();
    const picked = filter.exclude(filter.pick(candidates)).filter((c) => !seen.has(c.name) && seen.add(c.name));
    const proxies: ProxyConfig[] = [];
    const skipped: string[] = [];
    const ignored: string[] = [];
    const undeclared: string[] = [];
    for (const { name, map } of picked) {
      let renamed = name;
      for (const { regex, target } of rename) renamed = regex.matcher(renamed).replaceAll(target);
      const copy: Record<string, unknown> = { ...map, ...fields, name: `${prefix}${renamed}${suffix}` };
      const { proxy, problems } = readProxyEntry(copy, showValue(name), ignored, undeclared);
      if (proxy) proxies.push(proxy);
      else skipped.push(...problems);
    }
    const warnings: string[] = [];
    const dropped = maps.length - candidates.length;
    if (dropped > 0) warnings.push(`${dropped} entries without a name and type were skipped`);
    if (skipped.length > 0) warnings.push(`proxies skipped: ${skipped.slice(0, maxListed).join('; ')}${skipped.length > maxListed ? `; and ${skipped.length - maxListed} more` : ''}`);
    const placeholders = proxies.filter((p) => p.type === 'unsupported');
    if (placeholders.length > 0) warnings.push(`UNSUPPORTED PROXIES: ${placeholders.length} of ${proxies.length} proxies stay listed but fail every flow (${summarize(placeholders)})`);
    return { proxies, warnings };
  };
}

/** `12 × type 'ss' is not supported by sluice, 3 × …`. */
function summarize(placeholders: readonly ProxyConfig[]): string {
  const counts = new Map<string, number>();
  for (const p of placeholders) if (p.type === 'unsupported') counts.set(p.reason, (counts.get(p.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} × ${reason}`).join(', ');
}

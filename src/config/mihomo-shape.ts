/**
 * Reading a config the way mihomo does, before schema validation: legacy section names,
 * top-level keys mihomo ignores (anchor holders such as `p:`), keys sluice knows but does not
 * implement, and proxies and listeners of types sluice lacks. None of these refuse a config
 * that mihomo loads; each becomes a warning.
 */
import { clashListenerKeys, clashListenerTypes, clashProxyTypes, clashTopLevelKeys, legacyTopLevelKeys } from './clash-keys.js';
import { nearest, showValue } from './errors.js';
import { checkProxy, isListenerType, isProxyType, prepareProxy } from '../registry.js';
import { proxyEntryProblems, topLevelKeys } from './schema.js';
import type { ProxyConfig, UnsupportedProxyConfig } from './proxy-types.js';

/** What the pass set aside, for warnings and for after validation. */
export interface MihomoShape {
  /** Paths of keys mihomo defines that sluice ignores. */
  notImplemented: string[];
  /** Top-level keys mihomo does not know either (ignored as mihomo ignores them). */
  unknown: string[];
  /** Placeholders for `proxies:` entries sluice cannot dial, by index; their entries hold stand-ins until validation is over. */
  placeholders: Map<number, UnsupportedProxyConfig>;
  /** Indexes of `listeners:` entries of types sluice does not implement (skipped), with a description each. */
  skippedListeners: Map<number, string>;
}

/** Sections an empty YAML value (`proxies:` with only comments under it) leaves null; empty, as in mihomo. */
const sections = ['proxies', 'proxy-groups', 'listeners', 'rules', 'rule-providers', 'proxy-providers', 'sub-rules'];

/**
 * Rewrites `raw` in place into what the schema describes; problems (a likely typo of a known
 * top-level key, a legacy key beside its current name) go to `problems`.
 */
export function readMihomoShape(raw: Record<string, unknown>, anchorHolders: ReadonlySet<string>, problems: string[]): MihomoShape {
  const shape: MihomoShape = { notImplemented: [], unknown: [], placeholders: new Map(), skippedListeners: new Map() };
  for (const [legacy, current] of Object.entries(legacyTopLevelKeys)) {
    if (!Object.hasOwn(raw, legacy)) continue;
    if (Object.hasOwn(raw, current)) problems.push(`${legacy}: the legacy name of '${current}', which is set too; keep one`);
    else raw[current] = raw[legacy];
    delete raw[legacy];
  }
  for (const key of sections) if (raw[key] === null) delete raw[key];
  const known = topLevelKeys();
  const knownSet = new Set(known);
  for (const key of Object.keys(raw)) {
    if (knownSet.has(key)) continue;
    if (clashTopLevelKeys.has(key)) shape.notImplemented.push(key);
    else {
      const typo = anchorHolders.has(key) || key.length < 4 || isOtherClientKey(key) ? undefined : nearest(key, known);
      if (typo) problems.push(`${key}: unknown key (did you mean '${typo}'?)`);
      else shape.unknown.push(key);
    }
    delete raw[key];
  }
  if (typeof raw.mode === 'string') raw.mode = raw.mode.toLowerCase();
  readListeners(raw.listeners, shape);
  readProxies(raw.proxies, shape);
  return shape;
}

/** Keys of other Clash clients mihomo ignores: Clash Premium's `script`, Clash for Windows' `cfw-*` and `parsers`/`mixin`. */
function isOtherClientKey(key: string): boolean {
  return key.startsWith('cfw-') || key === 'script' || key === 'parsers' || key === 'mixin';
}

function readListeners(listeners: unknown, shape: MihomoShape): void {
  if (!Array.isArray(listeners)) return;
  listeners.forEach((listener: unknown, i) => {
    if (typeof listener !== 'object' || listener === null) return;
    const entry = listener as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!clashListenerKeys.has(key)) continue;
      shape.notImplemented.push(`listeners[${i}].${key}`);
      delete entry[key];
    }
    if (isListenerType(entry.type) || typeof entry.type !== 'string' || !clashListenerTypes.has(entry.type)) return;
    shape.skippedListeners.set(i, `listeners[${i}] ${showValue(entry.name)} (type '${entry.type}')`);
    listeners[i] = { name: `skipped listener ${i}`, type: 'socks', port: 1 };
  });
}

function readProxies(proxies: unknown, shape: MihomoShape): void {
  if (!Array.isArray(proxies)) return;
  proxies.forEach((proxy: unknown, i) => {
    if (typeof proxy !== 'object' || proxy === null) return;
    const placeholder = placeholderFor(proxy as Record<string, unknown>, `proxies[${i}]`, shape.notImplemented);
    if (!placeholder) return;
    shape.placeholders.set(i, placeholder);
    proxies[i] = { name: placeholder.name, type: 'direct' };
  });
}

/**
 * Strips the Clash keys sluice ignores from a proxy entry (listed in `ignored`); returns its
 * placeholder when sluice cannot dial it (a type or transport it lacks).
 */
function placeholderFor(entry: Record<string, unknown>, at: string, ignored: string[]): UnsupportedProxyConfig | undefined {
  const { type } = entry;
  let reason: string | undefined;
  if (isProxyType(type)) reason = prepareProxy(entry, at, ignored);
  else if (typeof type === 'string' && clashProxyTypes.has(type)) reason = `type '${type}' is not supported by sluice`;
  if (reason === undefined || (typeof entry.name !== 'string' && typeof entry.name !== 'number')) return undefined;
  return { name: String(entry.name), type: 'unsupported', protocol: String(type), reason };
}

/**
 * One proxy a provider brings, read as a `proxies:` entry is: a placeholder when sluice cannot
 * dial it, else validated (weak scalars, undeclared keys dropped into `undeclared`) and checked
 * by its protocol. Problems mean the proxy is left out.
 */
export function readProxyEntry(entry: Record<string, unknown>, at: string, ignored: string[], undeclared: string[]): { proxy?: ProxyConfig; problems: string[] } {
  const placeholder = placeholderFor(entry, at, ignored);
  if (placeholder) return { proxy: placeholder, problems: [] };
  const problems = proxyEntryProblems(entry, at, undeclared);
  if (problems.length === 0) checkProxy(entry as unknown as ProxyConfig, at, { providerBehavior: () => undefined, problems });
  return problems.length > 0 ? { problems } : { proxy: entry as unknown as ProxyConfig, problems };
}

/** Puts the placeholders in their entries' places once validation is over. */
export function restorePlaceholders(raw: Record<string, unknown>, shape: MihomoShape): void {
  const proxies = raw.proxies as unknown[] | undefined;
  if (!proxies) return;
  for (const [i, placeholder] of shape.placeholders) if (i < proxies.length) proxies[i] = placeholder;
}

/** The warnings the pass owes the user; the unimplemented types are loud, since flows through them fail. */
export function shapeWarnings(shape: MihomoShape, undeclared: readonly string[]): string[] {
  const warnings: string[] = [];
  if (shape.placeholders.size > 0) {
    const list = [...shape.placeholders.values()].map((p) => `${showValue(p.name)} (${p.reason})`);
    warnings.push(`UNSUPPORTED PROXIES: ${list.length} proxies stay listed but fail every flow: ${list.join('; ')}`);
  }
  if (shape.skippedListeners.size > 0) {
    warnings.push(`UNSUPPORTED LISTENERS: not opened, their types are not supported by sluice: ${[...shape.skippedListeners.values()].join(', ')}`);
  }
  if (shape.notImplemented.length > 0) warnings.push(`not implemented yet, ignored: ${shape.notImplemented.join(', ')}`);
  if (shape.unknown.length > 0) warnings.push(`unknown top-level keys, ignored (mihomo ignores them too): ${shape.unknown.join(', ')}`);
  if (undeclared.length > 0) warnings.push(`keys these entries do not have, ignored: ${undeclared.join(', ')}`);
  return warnings;
}

/**
 * config.schema.json: the one schema the loader validates against and users' editors read.
 * Validation decodes scalars weakly as mihomo does (`port: '443'`, `udp: 'true'`), drops keys
 * an entry does not declare (mihomo ignores them too), and sets aside the entries that stay
 * invalid so that the rest of the config is still checked: every problem in one round.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { describeSchemaError, jsonPointerToPath, maxProblems, nearest } from './errors.js';

/** Path of the JSON Schema shipped at the package root. */
const schemaUrl = new URL('../../config.schema.json', import.meta.url);

let ajv: Ajv2020 | undefined;
let schemaJson: { $id: string; properties: Record<string, unknown> } | undefined;

/** config.schema.json, read once. */
function schema(): { $id: string; properties: Record<string, unknown> } {
  return (schemaJson ??= JSON.parse(readFileSync(schemaUrl, 'utf8')) as { $id: string; properties: Record<string, unknown> });
}

/** The validator of the whole config, or of one of its `$defs` (`proxy`). */
function validator(def?: string): ReturnType<Ajv2020['compile']> {
  if (!ajv) {
    ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, discriminator: true, coerceTypes: true });
    ajv.addSchema(schema());
  }
  return ajv.getSchema(def ? `${schema().$id}#/$defs/${def}` : schema().$id)!;
}

/** ajv errors of `value` (scalars coerced in place to the schema's types). */
function schemaErrors(value: unknown, def?: string): ErrorObject[] {
  const validate = validator(def);
  return validate(value) ? [] : [...(validate.errors ?? [])];
}

/** `path` under `at` (`proxies[3]` + `port`); `at` alone for the entry itself. */
function under(at: string, path: string): string {
  if (at === '') return path;
  return path === '(top level)' ? at : `${at}.${path}`;
}

/**
 * Validates `value` (the config, or a `$defs` entry) in place: coerces scalars and drops the keys
 * an entry does not declare, listing them in `undeclared`. With `typos`, a dropped key near a
 * declared key the entry lacks is taken for a typo of it and listed there instead. The
 * config's own top-level keys are left to the caller. Returns the errors that remain.
 */
function validateLeniently(value: unknown, def: string | undefined, at: string, undeclared: string[], typos?: string[]): ErrorObject[] {
  let errors = schemaErrors(value, def);
  // Dropping a key can reveal no new undeclared key, but a discriminated entry is only checked once its type is valid.
  for (let round = 0; round < 3; round++) {
    const extra = errors.filter((e) => e.keyword === 'additionalProperties' && (def !== undefined || e.instancePath !== ''));
    if (extra.length === 0) break;
    for (const error of extra) {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const entry = error.data as Record<string, unknown>;
      const declared = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = nearest(key, declared);
      const path = under(at, jsonPointerToPath(error.instancePath, key));
      // Near a declared key the entry lacks, it is a typo of that key: an error, as before.
      if (typos && hint !== undefined && !Object.hasOwn(entry, hint)) typos.push(`${path}: unknown key (did you mean '${hint}'?)`);
      else undeclared.push(`${path}${hint ? ` (did you mean '${hint}'?)` : ''}`);
      delete entry[key];
    }
    errors = schemaErrors(value, def);
  }
  return errors;
}

/**
 * Validates one `proxies:` entry in place, as `validateConfig` does the whole config (weak
 * scalars; undeclared keys dropped and listed in `undeclared`, never taken for typos: providers
 * carry keys of other clients); its problems, each prefixed with `at`. For proxies a provider brings.
 */
export function proxyEntryProblems(entry: Record<string, unknown>, at: string, undeclared: string[]): string[] {
  return validateLeniently(entry, 'proxy', at, undeclared).map((error) => {
    const line = describeSchemaError(error);
    return line.startsWith('(top level)') ? `${at}${line.slice('(top level)'.length)}` : `${at}.${line}`;
  });
}

/** What `validateConfig` found besides problems. */
export interface Validation {
  /** Keys dropped because their entry does not declare them, as paths (with a "did you mean" when one is close). */
  undeclared: string[];
  /** Indexes of `listeners:` entries set aside as invalid. */
  invalidListeners: Set<number>;
}

/** Top-level sections whose entries are set aside one by one when invalid. */
const entrySections = new Set(['proxies', 'proxy-groups', 'listeners', 'rules', 'rule-providers', 'proxy-providers', 'sub-rules']);

/**
 * Validates a raw config in place: coerces scalars, drops undeclared keys below the top level
 * (a typo of a key the entry lacks is a problem), pushes one line per remaining problem, and replaces each invalid entry with a stand-in (its
 * name kept, so references to it raise no second error) or removes it.
 */
export function validateConfig(raw: Record<string, unknown>, problems: string[]): Validation {
  const undeclared: string[] = [];
  const typos: string[] = [];
  const errors = validateLeniently(raw, undefined, '', undeclared, typos);
  problems.push(...typos);
  const invalidListeners = new Set<number>();
  const invalid = new Map<string, Set<string>>();
  errors.forEach((error, i) => {
    problems.push(i < maxProblems ? describeSchemaError(error) : error.instancePath);
    const [section, entry] = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (section === undefined) return;
    const set = invalid.get(section) ?? new Set<string>();
    if (entry !== undefined) set.add(entry);
    invalid.set(section, set);
  });
  for (const [section, entries] of invalid) {
    if (!entrySections.has(section) || entries.size === 0 || typeof raw[section] !== 'object' || raw[section] === null) {
      delete raw[section];
      continue;
    }
    const list = raw[section] as Record<string, unknown>;
    for (const entry of entries) {
      if (section === 'listeners') invalidListeners.add(Number(entry));
      else list[entry] = standIn(section, list[entry], entry);
    }
    if (section === 'rules') raw.rules = (raw.rules as unknown[]).filter((rule) => typeof rule === 'string');
  }
  return { undeclared, invalidListeners };
}

/** What takes an invalid entry's place: valid, under the same name, and never run (the config is refused). */
function standIn(section: string, entry: unknown, key: string): unknown {
  const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
  const name = typeof fields.name === 'string' && fields.name !== '' ? fields.name : `${section}[${key}]`;
  switch (section) {
    case 'proxies':
      return { name, type: 'direct' };
    case 'proxy-groups':
      return { name, type: 'select', proxies: ['DIRECT'] };
    case 'rule-providers': {
      const behavior = ['domain', 'ipcidr', 'classical'].includes(String(fields.behavior)) ? fields.behavior : 'classical';
      return { type: 'inline', behavior, payload: [] };
    }
    case 'proxy-providers':
      return { type: 'inline', payload: [] };
    case 'sub-rules':
      return [];
    default:
      return undefined;
  }
}

/** The top-level keys the schema defines. */
export function topLevelKeys(): string[] {
  return Object.keys(schema().properties);
}

let knownKeys: Set<string> | undefined;

/** Every property name the config schema defines, anywhere in it. */
export function schemaKeys(): ReadonlySet<string> {
  if (knownKeys) return knownKeys;
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const properties = (node as { properties?: Record<string, unknown> }).properties;
    if (properties && typeof properties === 'object') for (const key of Object.keys(properties)) keys.add(key);
    Object.values(node).forEach(walk);
  };
  walk(schema());
  return (knownKeys = keys);
}

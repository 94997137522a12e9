/** config.schema.json: the one schema the loader validates against and users' editors read. */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describeSchemaError, maxProblems } from './errors.js';

/** Path of the JSON Schema shipped at the package root. */
const schemaUrl = new URL('../../config.schema.json', import.meta.url);

let validator: ReturnType<Ajv2020['compile']> | undefined;
let schemaJson: unknown;

/** config.schema.json, read once. */
function schema(): unknown {
  return (schemaJson ??= JSON.parse(readFileSync(schemaUrl, 'utf8')));
}

/** The problems of a raw config against the schema, one line each; none when it is valid. */
export function validate(value: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, discriminator: true });
    validator = ajv.compile(schema() as object);
  }
  if (validator(value)) return [];
  // Only the problems a ConfigError shows are described (with their "did you mean"); the rest are counted.
  return (validator.errors ?? []).map((error, i) => (i < maxProblems ? describeSchemaError(error) : error.instancePath));
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

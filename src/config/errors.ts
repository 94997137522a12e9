import { SluiceError } from '../common/errors.js';
import type { ErrorObject } from 'ajv';

/** Most problems one ConfigError lists; the rest are counted in a last line. */
export const maxProblems = 100;

/** A config that cannot be used; `problems` has one line per problem, each naming its path. */
export class ConfigError extends SluiceError {
  /** Every problem found (at most 100, then a count of the rest), `path: what is wrong, got value`. */
  readonly problems: string[];

  /** What the loader would have warned about had the config loaded (shown beside the problems). */
  readonly warnings: readonly string[];

  constructor(problems: string[], warnings: readonly string[] = []) {
    const shown = problems.length > maxProblems ? [...problems.slice(0, maxProblems), `and ${problems.length - maxProblems} more problems`] : problems;
    super('SLUICE_CONFIG_INVALID', shown.join('\n'));
    this.problems = shown;
    this.warnings = warnings;
  }
}

/** `/listeners/1/port` → `listeners[1].port`. */
export function jsonPointerToPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let path = '';
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path === '' ? part : `.${part}`;
  return path === '' ? '(top level)' : path;
}

/** A value as the error message shows it. */
export function showValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/** One readable line for an ajv error (ajv must run with `verbose: true`). */
export function describeSchemaError(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const hint = nearest(key, known);
      return `${jsonPointerToPath(error.instancePath, key)}: unknown key${hint ? ` (did you mean '${hint}'?)` : ''}`;
    }
    case 'required':
      return `${jsonPointerToPath(error.instancePath, String(params.missingProperty))}: required key is missing`;
    case 'enum':
      return `${jsonPointerToPath(error.instancePath)}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}, got ${showValue(error.data)}`;
    case 'maximum':
    case 'minimum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${jsonPointerToPath(error.instancePath)}: must be ${params.comparison} ${params.limit}, got ${showValue(error.data)}`;
    case 'type':
      return `${jsonPointerToPath(error.instancePath)}: must be ${params.type}, got ${showValue(error.data)}`;
    case 'discriminator':
      return `${jsonPointerToPath(error.instancePath, String(params.tag))}: unknown type ${showValue(params.tagValue)}`;
    case 'const':
      return `${jsonPointerToPath(error.instancePath)}: must be ${showValue(params.allowedValue)}, got ${showValue(error.data)}`;
    case 'pattern':
      return `${jsonPointerToPath(error.instancePath)}: has the wrong form, got ${showValue(error.data)}`;
    default:
      return `${jsonPointerToPath(error.instancePath)}: ${error.message ?? 'is invalid'}, got ${showValue(error.data)}`;
  }
}

/** The candidate closest to `word` by edit distance, if close enough to be a likely typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** Config YAML to plain values, guarded against hostile documents. */
import { isScalar, LineCounter, visit, type Document } from 'yaml';
import { parseGuardedDocument } from '../common/yaml-guard.js';
import { ConfigError } from './errors.js';

/** Most nodes one alias may expand to (yaml's maxAliasCount); more is a resource-exhaustion attack. */
const maxAliasExpansions = 1000;

/**
 * YAML text as plain values; syntax errors, duplicate keys and runaway alias expansion
 * (billion laughs) are ConfigErrors. Duplicate keys are found with one set per mapping: the
 * yaml library's own check compares every key with every other (100k keys took 131 s).
 */
export function parseYaml(text: string): unknown {
  const lineCounter = new LineCounter();
  let document: Document;
  try {
    document = parseGuardedDocument(text, { lineCounter });
  } catch (error) {
    throw new ConfigError([`YAML: ${(error as Error).message}`]);
  }
  const at = (offset: number): string => {
    const { line, col } = lineCounter.linePos(offset);
    return `at line ${line}, column ${col}`;
  };
  const errors = document.errors.map((e) => `YAML: ${e.message.split('\n')[0]} ${at(e.pos[0])}`);
  visit(document, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!seen.has(key)) seen.add(key);
        else if (isScalar(pair.key) && pair.key.range) errors.push(`YAML: Map keys must be unique ${at(pair.key.range[0])}`);
      }
    },
  });
  if (errors.length > 0) throw new ConfigError(errors);
  try {
    return document.toJS({ maxAliasCount: maxAliasExpansions }) ?? {};
  } catch (error) {
    if (error instanceof ReferenceError) throw new ConfigError([`YAML: aliases expand too far (more than ${maxAliasExpansions} nodes through *references); the document is refused`]);
    throw error;
  }
}

/** Config YAML to plain values, guarded against hostile documents. */
import { isMap, isScalar, LineCounter, visit, type Document } from 'yaml';
import { parseGuardedDocument } from '../common/yaml-guard.js';
import { ConfigError } from './errors.js';

/** Most nodes one alias may expand to (yaml's maxAliasCount); more is a resource-exhaustion attack. */
const maxAliasExpansions = 1000;

/** A config document as plain values. */
export interface ConfigYaml {
  /** The document's value (`<<` merge keys resolved, aliases expanded). */
  value: unknown;
  /** Top-level keys whose value defines `&anchors`: holders such as `p:` or `rule-anchor:`, not settings. */
  anchorHolders: ReadonlySet<string>;
}

/**
 * YAML text as plain values, with YAML 1.1 merge keys (`<<: *anchor`) resolved as mihomo's
 * parser does; syntax errors, duplicate keys and runaway alias expansion (billion laughs) are
 * ConfigErrors. Duplicate keys are found with one set per mapping: the yaml library's own
 * check compares every key with every other (100k keys took 131 s).
 */
export function parseYaml(text: string): ConfigYaml {
  const lineCounter = new LineCounter();
  let document: Document;
  try {
    document = parseGuardedDocument(text, { lineCounter, merge: true });
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
    return { value: document.toJS({ maxAliasCount: maxAliasExpansions }) ?? {}, anchorHolders: anchorHoldersOf(document) };
  } catch (error) {
    if (error instanceof ReferenceError) throw new ConfigError([`YAML: aliases expand too far (more than ${maxAliasExpansions} nodes through *references); the document is refused`]);
    throw error;
  }
}

function anchorHoldersOf(document: Document): Set<string> {
  const holders = new Set<string>();
  if (!isMap(document.contents)) return holders;
  for (const pair of document.contents.items) {
    let anchored = false;
    visit(pair.value as Parameters<typeof visit>[0], {
      Node(_key, node) {
        if (!('anchor' in node) || !node.anchor) return undefined;
        anchored = true;
        return visit.BREAK;
      },
    });
    if (anchored && isScalar(pair.key)) holders.add(String(pair.key.value));
  }
  return holders;
}

import { parseGuardedDocument } from '../../common/yaml-guard.js';

/** Provider file formats (clash-rules.md §7.2). */
export type ProviderFormat = 'yaml' | 'text' | 'mrs';

/**
 * Entries of a text provider: one per line, trimmed; blank lines and lines starting with
 * `#` or `//` are skipped. `lines`, when given, receives each entry's line number (from 1).
 */
export function parseTextEntries(text: string, lines?: number[]): string[] {
  const entries: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) return;
    entries.push(line);
    lines?.push(i + 1);
  });
  return entries;
}

/**
 * Entries of a yaml provider: the `payload:` (or `rules:`) list. Read line by line as mihomo
 * does (fast on 100k-line files, tolerant of `#` comments inside the list and of unquoted
 * `*`); anything else falls back to a real YAML parser. `lineNumbers`, when given, receives
 * each entry's line number (from 1) when the line-by-line reading applies.
 */
export function parseYamlEntries(text: string, lineNumbers?: number[]): string[] {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^(payload|rules):\s*$/.test(l.trimEnd()));
  if (header >= 0) {
    const entries: string[] = [];
    const numbers: number[] = [];
    let simple = true;
    for (let i = header + 1; i < lines.length && simple; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      const item = /^-\s+(.*)$/.exec(line) ?? (line === '-' ? ['', ''] : null);
      if (!item) simple = false;
      else {
        const entry = unquote(item[1]!);
        if (entry === '') continue;
        entries.push(entry);
        numbers.push(i + 1);
      }
    }
    if (simple) {
      lineNumbers?.push(...numbers);
      return entries;
    }
  }
  return parseFlowList(text) ?? parseYamlStrictly(text);
}

/** What ends a plain item of a flow list (`#` would start a comment: such lists go to the YAML parser). */
const flowIndicator = /[,\][{}#]/g;

/**
 * `payload: [a, 'b', "c"]` (on one line or several): the entries, or undefined when the text
 * is not just that (the real YAML parser then reads it). Linear, where the yaml library spends
 * about 3 µs a byte on such a list.
 */
function parseFlowList(text: string): string[] | undefined {
  const head = /^\s*(?:#[^\n]*\n\s*)*(payload|rules):\s*\[/.exec(text);
  if (!head) return undefined;
  const entries: string[] = [];
  let i = head[0].length;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    const c = text[i];
    if (c === ']') break;
    let item: string;
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      if (close < 0 || (c === '"' && text.lastIndexOf('\\', close) > i)) return undefined;
      item = text.slice(i + 1, close);
      i = close + 1;
    } else {
      flowIndicator.lastIndex = i;
      const end = flowIndicator.exec(text)?.index;
      if (end === undefined) return undefined;
      item = text.slice(i, end).trim();
      i = end;
    }
    while (i < text.length && /[ \t]/.test(text[i]!)) i++;
    if (item !== '') entries.push(item);
    if (text[i] === ',') i++;
    else if (text[i] !== ']') return undefined;
  }
  return text.slice(i + 1).trim() === '' ? entries : undefined;
}

/** Largest yaml provider the full YAML parser reads (about 1 s of its time); bigger files must use a list form. */
const maxStrictYamlBytes = 256 << 10;

function unquote(item: string): string {
  const quote = item[0];
  if (quote === "'" || quote === '"') {
    const end = item.lastIndexOf(quote);
    if (end > 0) return quote === "'" ? item.slice(1, end).replace(/''/g, "'") : item.slice(1, end);
  }
  const comment = item.search(/\s#/);
  return (comment >= 0 ? item.slice(0, comment) : item).trim();
}

function parseYamlStrictly(text: string): string[] {
  if (text.length > maxStrictYamlBytes) {
    throw new Error(`a yaml rule provider over ${maxStrictYamlBytes >> 10} KiB must list its payload as '- entry' lines or as one [ … ] list`);
  }
  let doc: unknown;
  try {
    const document = parseGuardedDocument(text);
    if (document.errors.length > 0) throw document.errors[0]!;
    doc = document.toJS();
  } catch (error) {
    throw new Error(`not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = typeof doc === 'object' && doc !== null ? ((doc as Record<string, unknown>).payload ?? (doc as Record<string, unknown>).rules) : undefined;
  if (!Array.isArray(list)) throw new Error('a yaml rule provider needs a payload: list');
  return list.map((e) => String(e).trim()).filter((e) => e !== '');
}

import { parse as parseYaml } from 'yaml';

/** Provider file formats (clash-rules.md §7.2). */
export type ProviderFormat = 'yaml' | 'text' | 'mrs';

/**
 * Entries of a text provider: one per line, trimmed; blank lines and lines starting with
 * `#` or `//` are skipped.
 */
export function parseTextEntries(text: string): string[] {
  const entries: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    entries.push(line);
  }
  return entries;
}

/**
 * Entries of a yaml provider: the `payload:` (or `rules:`) list. Read line by line as mihomo
 * does (fast on 100k-line files, tolerant of `#` comments inside the list and of unquoted
 * `*`); anything else falls back to a real YAML parser.
 */
export function parseYamlEntries(text: string): string[] {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^(payload|rules):\s*$/.test(l.trimEnd()));
  if (header >= 0) {
    const entries: string[] = [];
    let simple = true;
    for (let i = header + 1; i < lines.length && simple; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      const item = /^-\s+(.*)$/.exec(line) ?? (line === '-' ? ['', ''] : null);
      if (!item) simple = false;
      else entries.push(unquote(item[1]!));
    }
    if (simple) return entries.filter((e) => e !== '');
  }
  return parseYamlStrictly(text);
}

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
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new Error(`not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = typeof doc === 'object' && doc !== null ? ((doc as Record<string, unknown>).payload ?? (doc as Record<string, unknown>).rules) : undefined;
  if (!Array.isArray(list)) throw new Error('a yaml rule provider needs a payload: list');
  return list.map((e) => String(e).trim()).filter((e) => e !== '');
}

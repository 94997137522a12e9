/**
 * The `proxies:` list of a subscription in the shape subscription converters write, one flow
 * mapping per line (`  - { name: hk-1, type: vmess, server: a, port: 443, ws-opts: { path: / } }`),
 * read line by line. The yaml library spends about 90 µs a line on it (0.9 s for 10,000 proxies);
 * this takes a few. Anything outside the shape (anchors, tags, comments inside a mapping, a
 * mapping over several lines, block mappings, a second `proxies:`) returns undefined and the
 * full YAML parser reads the document. Scalars resolve as the YAML 1.2 core schema does.
 */
import type { ProxyMap } from './share-links.js';

/** Deepest nesting of `{ }` / `[ ]` inside one line accepted. */
const maxDepth = 32;

/** Thrown inside the reader for anything outside the shape. */
class NotSimple extends Error {}

/** The proxies, or undefined when the document is not in the one-mapping-per-line shape. */
export function readFlowLines(text: string): ProxyMap[] | undefined {
  const lines = text.split('\n');
  let inProxies = false;
  let found = false;
  const proxies: ProxyMap[] = [];
  try {
    for (const raw of lines) {
      const line = raw.trimEnd();
      const trimmed = line.trimStart();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      if (line === trimmed && !line.startsWith('-')) {
        // A top-level key: `proxies:` opens the list; any other key's section is skipped.
        if (/^proxies:\s*(#.*)?$/.test(line)) {
          if (found) return undefined;
          inProxies = found = true;
        } else if (/^[^\s#'"{[&*!|>%@`-][^:#]*:(\s|$)/.test(line) && !line.startsWith('---')) {
          inProxies = false;
        } else {
          return undefined;
        }
        continue;
      }
      if (!inProxies) continue;
      if (!trimmed.startsWith('- {') && !trimmed.startsWith('-  {')) return undefined;
      const reader = new LineReader(trimmed, trimmed.indexOf('{'));
      const value = reader.mapping(0);
      reader.end();
      proxies.push(value);
    }
  } catch (error) {
    if (error instanceof NotSimple) return undefined;
    throw error;
  }
  return found ? proxies : undefined;
}

/** Reads one line's flow collection. */
class LineReader {
  constructor(
    private readonly text: string,
    private at: number,
  ) {}

  /** Nothing but spaces may follow. */
  end(): void {
    this.space();
    if (this.at < this.text.length) throw new NotSimple();
  }

  mapping(depth: number): ProxyMap {
    if (depth > maxDepth) throw new NotSimple();
    this.expect('{');
    const out: ProxyMap = {};
    this.space();
    if (this.peek() === '}') return this.advance(out);
    for (;;) {
      this.space();
      const key = this.scalar(true);
      if (typeof key === 'object' && key !== null) throw new NotSimple();
      this.space();
      this.expect(':');
      this.space();
      const value = this.value(depth);
      const name = String(key);
      if (Object.hasOwn(out, name) || name === '__proto__') throw new NotSimple();
      out[name] = value;
      if (!this.more('}')) return out;
    }
  }

  private sequence(depth: number): unknown[] {
    if (depth > maxDepth) throw new NotSimple();
    this.expect('[');
    const out: unknown[] = [];
    this.space();
    if (this.peek() === ']') return this.advance(out);
    for (;;) {
      this.space();
      if (this.peek() === ',' || this.peek() === ']') throw new NotSimple();
      out.push(this.value(depth));
      if (!this.more(']')) return out;
    }
  }

  /** After an entry: consumes `,` (true: another entry follows) or `close` (false); a trailing comma before `close` ends too. */
  private more(close: string): boolean {
    this.space();
    const next = this.text[this.at++];
    if (next === close) return false;
    if (next !== ',') throw new NotSimple();
    this.space();
    if (this.peek() !== close) return true;
    this.at++;
    return false;
  }

  private value(depth: number): unknown {
    const c = this.peek();
    if (c === '{') return this.mapping(depth + 1);
    if (c === '[') return this.sequence(depth + 1);
    if (c === ',' || c === '}' || c === ']') return null;
    return this.scalar(false);
  }

  /** A quoted or plain scalar; a plain one ends at a flow indicator, or at `: ` when it is a key. */
  private scalar(isKey: boolean): unknown {
    const c = this.peek();
    if (c === "'") return this.singleQuoted();
    if (c === '"') return this.doubleQuoted();
    if (c === undefined || '&*!|>%@`#'.includes(c)) throw new NotSimple();
    // `-`, `?` and `:` start a plain scalar only when a character of the scalar follows.
    if ('-?:'.includes(c) && ' ,[]{}'.includes(this.text[this.at + 1] ?? ' ')) throw new NotSimple();
    const start = this.at;
    while (this.at < this.text.length) {
      const ch = this.text[this.at]!;
      if (ch === ',' || ch === '}' || ch === ']' || ch === '[' || ch === '{') break;
      if (ch === ':') {
        const after = this.text[this.at + 1];
        if (after === undefined || after === ' ' || after === ',' || after === '}' || after === ']') {
          if (!isKey) throw new NotSimple();
          break;
        }
      }
      if (ch === '#' && this.text[this.at - 1] === ' ') throw new NotSimple();
      this.at++;
    }
    return resolvePlain(this.text.slice(start, this.at).trim());
  }

  private singleQuoted(): string {
    let out = '';
    this.at++;
    for (;;) {
      const end = this.text.indexOf("'", this.at);
      if (end < 0) throw new NotSimple();
      out += this.text.slice(this.at, end);
      this.at = end + 1;
      if (this.text[this.at] !== "'") return out;
      out += "'";
      this.at++;
    }
  }

  private doubleQuoted(): string {
    const start = this.at;
    this.at++;
    while (this.at < this.text.length && this.text[this.at] !== '"') this.at += this.text[this.at] === '\\' ? 2 : 1;
    if (this.at >= this.text.length) throw new NotSimple();
    this.at++;
    try {
      // YAML's double-quoted escapes are JSON's plus a few; those few go to the full parser.
      return JSON.parse(this.text.slice(start, this.at)) as string;
    } catch {
      throw new NotSimple();
    }
  }

  private space(): void {
    while (this.text[this.at] === ' ' || this.text[this.at] === '\t') this.at++;
  }

  private peek(): string | undefined {
    return this.text[this.at];
  }

  private expect(c: string): void {
    if (this.text[this.at] !== c) throw new NotSimple();
    this.at++;
  }

  private advance<T>(value: T): T {
    this.at++;
    return value;
  }
}

/** A plain scalar as the YAML 1.2 core schema resolves it (the yaml library's default). */
function resolvePlain(text: string): unknown {
  if (text === '' || text === '~' || /^(null|Null|NULL)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}

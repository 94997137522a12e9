import { domainToASCII } from 'node:url';

interface TrieNode {
  /** Children by label (`*` is the one-label wildcard). */
  children: Map<string, TrieNode>;
  /** A pattern ends exactly here. */
  end: boolean;
  /** A `.x` pattern ends here: one or more further labels match. */
  deeper: boolean;
}

const newNode = (): TrieNode => ({ children: new Map(), end: false, deeper: false });

/** Suffix entry kinds. */
const plus_ = 1;
const below = 2;

let lastHost = '';
let lastSuffixes: string[] = [];

/**
 * `a.b.c` → `['b.c', 'c']`. The last host's list is kept, so the rules and rule sets that
 * look at one flow share the substrings (and V8's cached hashes of them).
 */
export function properSuffixes(host: string): readonly string[] {
  if (host !== lastHost) {
    const out: string[] = [];
    for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) out.push(host.slice(i + 1));
    lastHost = host;
    lastSuffixes = out;
  }
  return lastSuffixes;
}

/**
 * Lower-cases a domain pattern and converts IDN labels to punycode, leaving `*`, a leading
 * `.`/`+.` and inner spaces alone. Throws on the invalid forms of clash-rules.md §7.5.
 */
export function normalizePattern(pattern: string): string {
  if (pattern === '' || pattern.trim() !== pattern) throw new Error(`invalid domain '${pattern}'`);
  const prefix = pattern.startsWith('+.') ? '+.' : pattern.startsWith('.') ? '.' : '';
  const body = pattern.slice(prefix.length).toLowerCase();
  const labels = body.split('.');
  if (labels.some((l) => l === '')) throw new Error(`invalid domain '${pattern}' (empty label)`);
  if (body.includes('/')) throw new Error(`invalid domain '${pattern}' (looks like an IP prefix)`);
  if (body.includes(',')) throw new Error(`invalid domain '${pattern}' (contains ',': a classical rule in a domain list?)`);
  // Only non-ASCII labels go through punycode.
  const ascii = /[^\u0000-\u007f]/.test(body) ? labels.map((l) => (l === '*' ? l : domainToASCII(l) || l)).join('.') : body;
  return prefix + ascii;
}

/** Which names something applies to (lower case, no trailing dot). */
export interface NameMatcher {
  /** True when `host` matches. */
  has(host: string): boolean;
}

/**
 * A set of Clash wildcard domain patterns (clash-rules.md §7.5): `example.com` (exact),
 * `+.example.com` (it and any subdomain), `.example.com` (subdomains only), `*` for one label
 * anywhere. Exact and suffix patterns are hashed (a lookup costs one Set probe per label);
 * only patterns with `*` go into a label trie.
 */
export class DomainSet implements NameMatcher {
  private readonly exact = new Set<string>();
  /** `+.x` (value `plus`: x and below) and `.x` (value `below`: strictly below x) entries, keyed by x. */
  private readonly suffixes = new Map<string, typeof plus_ | typeof below>();
  private trie: TrieNode | undefined;
  private count = 0;

  /** Number of patterns added. */
  get size(): number {
    return this.count;
  }

  /** Adds one pattern; throws on an invalid one. */
  add(rawPattern: string): void {
    const pattern = normalizePattern(rawPattern);
    this.count++;
    const plus = pattern.startsWith('+.');
    const dot = !plus && pattern.startsWith('.');
    const body = plus ? pattern.slice(2) : dot ? pattern.slice(1) : pattern;
    if (body.split('.').includes('*')) return this.addWild(body, plus, dot);
    if (plus) this.suffixes.set(body, plus_);
    else if (dot) {
      if (this.suffixes.get(body) !== plus_) this.suffixes.set(body, below);
    } else this.exact.add(body);
  }

  /** True when the (normalized, lower-case) host matches a pattern. */
  has(host: string): boolean {
    if (this.exact.size > 0 && this.exact.has(host)) return true;
    const suffixes = this.suffixes;
    if (suffixes.size > 0) {
      // Any entry for a proper suffix matches, whether `+.` or `.`: one probe per label.
      for (const suffix of properSuffixes(host)) if (suffixes.has(suffix)) return true;
      if (suffixes.get(host) === plus_) return true;
    }
    return this.trie !== undefined && matchTrie(this.trie, host.split('.'), host.split('.').length - 1);
  }

  private addWild(body: string, plus: boolean, dot: boolean): void {
    let node = (this.trie ??= newNode());
    const labels = body.split('.');
    for (let i = labels.length - 1; i >= 0; i--) {
      const label = labels[i]!;
      let next = node.children.get(label);
      if (!next) node.children.set(label, (next = newNode()));
      node = next;
    }
    if (plus || !dot) node.end = true;
    if (plus || dot) node.deeper = true;
  }
}

/** Walks host labels right to left; `i` is the index of the next label to consume. */
function matchTrie(node: TrieNode, labels: string[], i: number): boolean {
  if (i < 0) return node.end;
  if (node.deeper) return true;
  const exact = node.children.get(labels[i]!);
  if (exact && matchTrie(exact, labels, i - 1)) return true;
  const star = node.children.get('*');
  return star !== undefined && matchTrie(star, labels, i - 1);
}

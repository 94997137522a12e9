/**
 * A group's `filter`, `exclude-filter` and `exclude-type`, as mihomo applies them: `filter`
 * keeps the names matching any of its backtick-separated regexes (grouped by regex, each name
 * once), `exclude-filter` drops names matching any of its regexes, `exclude-type` drops
 * members whose adapter type (Shadowsocks, Vmess, …) is in its `|`-separated list, ignoring
 * case. Regexes run on the linear-time engine (re2js); the Perl-style lookaheads templates use
 * for "everything but X" (`^((?!X).)*$`, `^(?!.*X).*$`) are read as an exclusion of X.
 */
import { RE2JS } from 're2js';

/** A member as the filters see it. */
export interface FilterCandidate {
  /** Proxy name. */
  readonly name: string;
  /** mihomo adapter type name (`Vmess`, `Shadowsocks`, …). */
  readonly type: string;
}

/** The three settings, as written. */
export interface MemberFilterSettings {
  /** `filter`. */
  filter?: string;
  /** `exclude-filter`. */
  excludeFilter?: string;
  /** `exclude-type`. */
  excludeType?: string;
}

/**
 * `^((?!X).)*$` and `^(?!.*X).*$` (either without the `$`, with an optional leading flag group
 * such as `(?i)`): names with no match of X. Group 1 is the flags, group 2 is X.
 */
const negativeTemplates = [/^(\(\?[a-zA-Z]+\))?\^\(\(\?!(.+)\)\.\)\*\$?$/, /^(\(\?[a-zA-Z]+\))?\^\(\?!\.\*(.+)\)\.\*\$?$/];

interface Pattern {
  regex: RE2JS;
  /** True when the pattern keeps names that do NOT match `regex` (a translated lookahead). */
  negated: boolean;
}

function compile(source: string, what: string): Pattern[] {
  return source.split('`').map((part) => {
    const template = negativeTemplates.map((t) => t.exec(part)).find((m) => m !== null);
    const text = template ? `${template[1] ?? ''}${template[2]!}` : part;
    try {
      return { regex: RE2JS.compile(text), negated: template !== undefined };
    } catch (error) {
      throw new Error(`${what}: ${showPattern(part)} is not a regex the linear-time engine accepts (${(error as Error).message}); lookaround and backreferences are not supported`);
    }
  });
}

function showPattern(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function matches(pattern: Pattern, name: string): boolean {
  return pattern.regex.matcher(name).find() !== pattern.negated;
}

/** Compiled filters of one group. */
export class MemberFilter {
  private readonly keep: Pattern[] | undefined;
  private readonly drop: Pattern[] | undefined;
  private readonly dropTypes: Set<string> | undefined;

  /** Throws naming the setting when a regex does not compile. */
  constructor(settings: MemberFilterSettings) {
    this.keep = settings.filter ? compile(settings.filter, 'filter') : undefined;
    this.drop = settings.excludeFilter ? compile(settings.excludeFilter, 'exclude-filter') : undefined;
    this.dropTypes = settings.excludeType ? new Set(settings.excludeType.split('|').map((t) => t.trim().toLowerCase())) : undefined;
  }

  /** True when no setting is given. */
  get empty(): boolean {
    return !this.keep && !this.drop && !this.dropTypes;
  }

  /** `filter` alone: the candidates it keeps, in mihomo's order (by regex, then by position). */
  pick<T extends FilterCandidate>(candidates: readonly T[]): T[] {
    if (!this.keep) return [...candidates];
    const kept = new Set<T>();
    for (const pattern of this.keep) for (const candidate of candidates) if (!kept.has(candidate) && matches(pattern, candidate.name)) kept.add(candidate);
    return [...kept];
  }

  /** `exclude-filter` and `exclude-type`: the candidates they leave. */
  exclude<T extends FilterCandidate>(candidates: readonly T[]): T[] {
    return candidates.filter((c) => !this.dropTypes?.has(c.type.toLowerCase()) && !this.drop?.some((pattern) => matches(pattern, c.name)));
  }
}

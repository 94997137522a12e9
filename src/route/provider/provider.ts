import { createHash } from 'node:crypto';
import type { Flow } from '../../adapter/flow.js';
import { withoutStackTraces } from '../../common/errors.js';
import { byIndex, classicalContent, cidrContent, domainContent, emptyContent, mrsContent, type ConditionParser, type EntryLocator, type ProviderBehavior, type ProviderContent } from './content.js';
import { DownloadedProvider, type Built, type ProviderSource } from './downloaded.js';
import { parseTextEntries, parseYamlEntries, type ProviderFormat } from './formats.js';
import { decodeMrs } from './mrs.js';
import type { IpRangeSet } from '../match/ip-set.js';

/** A `rule-providers:` entry after validation, paths resolved. */
export interface RuleProviderConfig extends ProviderSource {
  /** How entries are read. */
  behavior: ProviderBehavior;
  /** File format (inline ignores it). */
  format: ProviderFormat;
  /** Entries given in the config (inline). */
  payload?: string[];
}

/** One rule provider: its current matching content, rebuilt on refresh. */
export class RuleProvider extends DownloadedProvider<BuiltRules> {
  readonly kind = 'rule provider';
  private content: ProviderContent = emptyContent;
  /** Warnings from the last load (skipped entries and the like), for `sluice check`. */
  warnings: string[] = [];

  constructor(
    /** The provider's configuration. */
    readonly config: RuleProviderConfig,
    private readonly parseCondition: ConditionParser,
  ) {
    super(config);
  }

  /** Entries in the current content. */
  get count(): number {
    return this.content.count;
  }

  /** True when matching may compare the destination IP. */
  get needsIp(): boolean {
    return this.content.needsIp;
  }

  /** ipcidr providers: the current ranges. */
  get ipRanges(): IpRangeSet | undefined {
    return this.content.ipRanges;
  }

  /** True when the flow matches an entry. */
  match(flow: Readonly<Flow>): boolean {
    return this.content.match(flow);
  }

  /** Replaces the entries of an inline provider (a GEOSITE list filled from geosite.dat once it is there). */
  replacePayload(entries: readonly string[]): void {
    this.use(this.build(entries, undefined, byIndex));
    this.updatedAt = new Date();
  }

  summary(): string {
    return `${this.count} entries`;
  }

  protected parseInline(): BuiltRules {
    return this.build(this.config.payload ?? [], undefined, (i) => `payload[${i}]`);
  }

  /** Builds content from a file or download; stack traces are off while it runs (bad lines are many errors, read only for their messages). */
  protected parse(data: Buffer): BuiltRules {
    return withoutStackTraces(() => this.parseData(data));
  }

  private parseData(data: Buffer): BuiltRules {
    const hash = createHash('sha256').update(data).digest('hex');
    const { format, behavior } = this.config;
    if (format === 'mrs') {
      const warnings = new WarningSummary();
      return { content: mrsContent(decodeMrs(data), behavior, (w) => warnings.add(w)), warnings: warnings.lines(), hash };
    }
    const text = data.toString('utf8');
    const lines: number[] = [];
    const entries = format === 'text' ? parseTextEntries(text, lines) : parseYamlEntries(text, lines);
    return this.build(entries, hash, lines.length === entries.length ? (i) => `line ${lines[i]}` : byIndex);
  }

  private build(entries: readonly string[], hash: string | undefined, where: EntryLocator): BuiltRules {
    const warnings = new WarningSummary();
    const warn = (w: string): void => warnings.add(w);
    const { behavior } = this.config;
    const content =
      behavior === 'domain'
        ? domainContent(entries, warn, entries.length, where)
        : behavior === 'ipcidr'
          ? cidrContent(entries, warn, where)
          : classicalContent(entries, this.parseCondition, warn, where);
    return { content, warnings: warnings.lines(), hash: hash ?? '' };
  }

  protected use(built: BuiltRules): void {
    this.content = built.content;
    this.warnings = built.warnings;
  }
}

/** Content built from one version of a provider's entries, with its warnings and the source's hash. */
interface BuiltRules extends Built {
  content: ProviderContent;
  warnings: string[];
}

/** Most distinct warnings kept from one load; the rest are counted. */
const maxWarnings = 20;

/**
 * The warnings of one load: repeats collapse (96 PROCESS-NAME entries give one line), and only
 * the first few distinct ones are kept, so a file of 100k bad lines costs no more than a count.
 */
export class WarningSummary {
  private readonly counts = new Map<string, number>();
  private others = 0;

  /** Counts one warning. */
  add(warning: string): void {
    const count = this.counts.get(warning);
    if (count !== undefined) this.counts.set(warning, count + 1);
    else if (this.counts.size < maxWarnings) this.counts.set(warning, 1);
    else this.others++;
  }

  /** The distinct warnings, repeats counted. */
  lines(): string[] {
    const lines = [...this.counts].map(([w, n]) => (n > 1 ? `${w} (${n} times)` : w));
    return this.others > 0 ? [...lines, `and ${this.others} more warnings`] : lines;
  }
}

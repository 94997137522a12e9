import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { maxProviderBytes, readRegularFile, readRegularFileSync } from '../../common/bounded-file.js';
import { dirname } from 'node:path';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound } from '../../adapter/outbound.js';
import { describeError, withoutStackTraces } from '../../common/errors.js';
import { byIndex, classicalContent, cidrContent, domainContent, emptyContent, mrsContent, type ConditionParser, type EntryLocator, type ProviderBehavior, type ProviderContent } from './content.js';
import { parseTextEntries, parseYamlEntries, type ProviderFormat } from './formats.js';
import { decodeMrs } from './mrs.js';
import type { IpRangeSet } from '../match/ip-set.js';

/** Where a provider's entries come from. */
export type ProviderVehicle = 'file' | 'http' | 'inline';

/** A `rule-providers:` entry after validation, paths resolved. */
export interface RuleProviderConfig {
  /** Name RULE-SET lines use. */
  name: string;
  /** Source of the entries. */
  vehicle: ProviderVehicle;
  /** How entries are read. */
  behavior: ProviderBehavior;
  /** File format (inline ignores it). */
  format: ProviderFormat;
  /** Absolute path of the file (file), or of the download cache (http). */
  path?: string;
  /** Download URL (http). */
  url?: string;
  /** Seconds between downloads (http); 0 = only at start. */
  intervalSeconds: number;
  /** Entries given in the config (inline). */
  payload?: string[];
  /** Largest download accepted, bytes; 0 = no limit. */
  sizeLimit: number;
  /** Extra request headers (http). */
  headers: Record<string, string>;
  /** Outbound or group to download through (http); DIRECT when absent. */
  proxy?: string;
}

/** How a download is made. */
export interface FetchOptions {
  /** Request headers. */
  headers: Record<string, string>;
  /** Limit for the whole download, ms. */
  timeoutMs: number;
  /** Largest body accepted, bytes; 0 = no limit. */
  sizeLimit: number;
  /** Download through this outbound (the provider's `proxy:`); direct when absent. */
  via?: Outbound;
}

/** Downloads a URL's body; the seam tests replace (no test touches the internet). */
export type Fetcher = (url: string, options: FetchOptions) => Promise<Buffer>;

/** Something the provider wants logged (a failed refresh, a skipped entry). */
export type ProviderLog = (level: 'warning' | 'info', message: string) => void;

/**
 * One rule provider: its current matching content, rebuilt on refresh; a failed load or
 * download keeps the last good content.
 */
export class RuleProvider {
  private content: ProviderContent = emptyContent;
  private timer: NodeJS.Timeout | undefined;
  private lastHash = '';
  /** Warnings from the last load (skipped entries and the like), for `sluice check`. */
  warnings: string[] = [];
  /** When the content was last (re)built, if ever. */
  updatedAt: Date | undefined;
  /** Downloads that failed since start. */
  failures = 0;

  constructor(
    /** The provider's configuration. */
    readonly config: RuleProviderConfig,
    private readonly parseCondition: ConditionParser,
  ) {}

  /** Provider name. */
  get name(): string {
    return this.config.name;
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

  /**
   * Loads what is available without the network: inline entries, the file, or an http
   * provider's cached copy. Throws for a file provider whose file is missing or unreadable.
   */
  loadLocal(): void {
    const { vehicle, path, payload } = this.config;
    if (vehicle === 'inline') return this.install(this.build(payload ?? [], undefined, (i) => `payload[${i}]`));
    if (vehicle === 'file') return this.install(this.parse(readRegularFileSync(path!, maxProviderBytes)));
    try {
      this.install(this.parse(readRegularFileSync(path!, maxProviderBytes)));
    } catch {
      // No usable cached copy: the first download fills the provider.
    }
  }

  /** Reads a file provider's file again without blocking the event loop; a failure keeps the current content. */
  async reloadFile(): Promise<void> {
    if (this.config.vehicle !== 'file') return this.loadLocal();
    this.install(this.parse(await readRegularFile(this.config.path!, maxProviderBytes)));
  }

  /** True when an http provider's cache is missing or older than its interval. */
  isStale(now = Date.now()): boolean {
    if (this.config.vehicle !== 'http') return false;
    if (this.updatedAt === undefined) return true;
    const interval = this.config.intervalSeconds * 1000;
    return interval > 0 && now - this.cacheTime() >= interval;
  }

  /**
   * Downloads an http provider, writes the file when the content changed, and rebuilds.
   * Any failure leaves the previous content in place and is rethrown for logging.
   */
  async refresh(fetcher: Fetcher, timeoutMs: number, via?: Outbound): Promise<void> {
    const { url, headers, sizeLimit, path } = this.config;
    let built: ReturnType<RuleProvider['parse']>;
    let body: Buffer;
    try {
      const limit = sizeLimit > 0 ? Math.min(sizeLimit, maxProviderBytes) : maxProviderBytes;
      body = await fetcher(url!, { headers, timeoutMs, sizeLimit: limit, via });
      built = this.parse(body);
    } catch (error) {
      this.failures++;
      throw error;
    }
    if (built.hash !== this.lastHash) {
      mkdirSync(dirname(path!), { recursive: true });
      writeFileSync(`${path}.tmp`, body);
      renameSync(`${path}.tmp`, path!);
    }
    this.install(built);
  }

  /** Starts the refresh timer of an http provider with an interval. */
  schedule(fetcher: Fetcher, timeoutMs: number, log: ProviderLog, via?: Outbound): void {
    this.stop();
    const interval = this.config.intervalSeconds * 1000;
    if (this.config.vehicle !== 'http' || interval <= 0) return;
    const due = this.updatedAt === undefined ? interval : Math.max(1000, this.cacheTime() + interval - Date.now());
    this.timer = setTimeout(() => {
      this.refresh(fetcher, timeoutMs, via).then(
        () => {
          log('info', `rule provider ${this.name}: updated, ${this.count} entries`);
          for (const warning of this.warnings) log('warning', `rule provider ${this.name}: ${warning}`);
        },
        (error: unknown) => log('warning', `rule provider ${this.name}: refresh failed, keeping the last good copy: ${describeError(error)}`),
      ).finally(() => this.schedule(fetcher, timeoutMs, log, via));
    }, due);
    this.timer.unref();
  }

  /** Stops the refresh timer. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private cacheTime(): number {
    try {
      return statSync(this.config.path!).mtimeMs;
    } catch {
      return this.updatedAt?.getTime() ?? 0;
    }
  }

  /** Builds content from a file or download; stack traces are off while it runs (bad lines are many errors, read only for their messages). */
  private parse(data: Buffer): Built {
    return withoutStackTraces(() => this.parseData(data));
  }

  private parseData(data: Buffer): Built {
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

  private build(entries: readonly string[], hash: string | undefined, where: EntryLocator): Built {
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

  private install(built: Built): void {
    this.content = built.content;
    this.warnings = built.warnings;
    this.lastHash = built.hash;
    this.updatedAt = new Date();
  }
}

/** Content built from one version of a provider's entries, with its warnings and the source's hash. */
interface Built {
  content: ProviderContent;
  warnings: string[];
  hash: string;
}

/** Most distinct warnings kept from one load; the rest are counted. */
const maxWarnings = 20;

/**
 * The warnings of one load: repeats collapse (96 PROCESS-NAME entries give one line), and only
 * the first few distinct ones are kept, so a file of 100k bad lines costs no more than a count.
 */
class WarningSummary {
  private readonly counts = new Map<string, number>();
  private others = 0;

  add(warning: string): void {
    const count = this.counts.get(warning);
    if (count !== undefined) this.counts.set(warning, count + 1);
    else if (this.counts.size < maxWarnings) this.counts.set(warning, 1);
    else this.others++;
  }

  lines(): string[] {
    const lines = [...this.counts].map(([w, n]) => (n > 1 ? `${w} (${n} times)` : w));
    return this.others > 0 ? [...lines, `and ${this.others} more warnings`] : lines;
  }
}

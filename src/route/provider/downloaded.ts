/**
 * What rule providers and proxy providers share: content from a file, an inline list or a
 * download cached in a file; http ones refreshed on a timer through an optional outbound.
 * A failed load or download keeps the last good content; the cache file is rewritten only
 * when the content changed.
 */
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Outbound } from '../../adapter/outbound.js';
import { maxProviderBytes, readRegularFile, readRegularFileSync } from '../../common/bounded-file.js';
import { describeError } from '../../common/errors.js';

/** Where a provider's content comes from. */
export type ProviderVehicle = 'file' | 'http' | 'inline';

/** The source settings every provider has. */
export interface ProviderSource {
  /** Provider name. */
  name: string;
  /** Source of the content. */
  vehicle: ProviderVehicle;
  /** Absolute path of the file (file), or of the download cache (http). */
  path?: string;
  /** Download URL (http). */
  url?: string;
  /** Seconds between downloads (http); 0 = only at start. */
  intervalSeconds: number;
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
  /** Told the response headers (a subscription's `subscription-userinfo`). */
  onHeaders?: (headers: Readonly<Record<string, string | string[] | undefined>>) => void;
}

/** Downloads a URL's body; the seam tests replace (no test touches the internet). */
export type Fetcher = (url: string, options: FetchOptions) => Promise<Buffer>;

/** Something the provider wants logged (a failed refresh, a skipped entry). */
export type ProviderLog = (level: 'warning' | 'info', message: string) => void;

/** Content built from one version of a provider's source, with the source's hash. */
export interface Built {
  /** sha256 of the bytes it was built from ('' for inline content). */
  hash: string;
}

/** A provider whose content is built from bytes (B is what one version builds into). */
export abstract class DownloadedProvider<B extends Built> {
  private timer: NodeJS.Timeout | undefined;
  private lastHash = '';
  /** When the content was last (re)built, if ever. */
  updatedAt: Date | undefined;
  /** Downloads that failed since start. */
  failures = 0;

  constructor(
    /** Where the content comes from. */
    readonly source: ProviderSource,
  ) {}

  /** Provider name. */
  get name(): string {
    return this.source.name;
  }

  /** What logs call it (`rule provider`, `proxy provider`). */
  abstract readonly kind: string;
  /** Builds content from a file or download (throws for unusable bytes). */
  protected abstract parse(data: Buffer): B;
  /** Builds the inline content. */
  protected abstract parseInline(): B;
  /** Makes `built` the current content. */
  protected abstract use(built: B): void;
  /** One line on the current content, for logs (`12 entries`). */
  abstract summary(): string;
  /** Warnings of the current content (skipped entries and the like). */
  abstract warnings: string[];

  /**
   * Loads what is available without the network: inline entries, the file, or an http
   * provider's cached copy. Throws for a file provider whose file is missing or unreadable.
   */
  loadLocal(): void {
    const { vehicle, path } = this.source;
    if (vehicle === 'inline') return this.install(this.parseInline());
    if (vehicle === 'file') return this.install(this.parse(readRegularFileSync(path!, maxProviderBytes)));
    try {
      this.install(this.parse(readRegularFileSync(path!, maxProviderBytes)));
    } catch {
      // No usable cached copy: the first download fills the provider.
    }
  }

  /** Reads a file provider's file again without blocking the event loop; a failure keeps the current content. */
  async reloadFile(): Promise<void> {
    if (this.source.vehicle !== 'file') return this.loadLocal();
    this.install(this.parse(await readRegularFile(this.source.path!, maxProviderBytes)));
  }

  /** True when an http provider's cache is missing or older than its interval. */
  isStale(now = Date.now()): boolean {
    if (this.source.vehicle !== 'http') return false;
    if (this.updatedAt === undefined) return true;
    const interval = this.source.intervalSeconds * 1000;
    return interval > 0 && now - this.cacheTime() >= interval;
  }

  /**
   * Downloads an http provider, writes the file when the content changed, and rebuilds.
   * Any failure leaves the previous content in place and is rethrown for logging.
   */
  async refresh(fetcher: Fetcher, timeoutMs: number, via?: Outbound): Promise<void> {
    const { url, headers, sizeLimit, path } = this.source;
    let built: B;
    let body: Buffer;
    try {
      const limit = sizeLimit > 0 ? Math.min(sizeLimit, maxProviderBytes) : maxProviderBytes;
      body = await fetcher(url!, { headers, timeoutMs, sizeLimit: limit, via, onHeaders: (h) => this.sawHeaders(h) });
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

  /** Told the response headers of a download (before its body is parsed). */
  protected sawHeaders(_headers: Readonly<Record<string, string | string[] | undefined>>): void {}

  /** Starts the refresh timer of an http provider with an interval. */
  schedule(fetcher: Fetcher, timeoutMs: number, log: ProviderLog, via?: Outbound): void {
    this.stop();
    const interval = this.source.intervalSeconds * 1000;
    if (this.source.vehicle !== 'http' || interval <= 0) return;
    const due = this.updatedAt === undefined ? interval : Math.max(1000, this.cacheTime() + interval - Date.now());
    this.timer = setTimeout(() => {
      this.refresh(fetcher, timeoutMs, via).then(
        () => {
          log('info', `${this.kind} ${this.name}: updated, ${this.summary()}`);
          for (const warning of this.warnings) log('warning', `${this.kind} ${this.name}: ${warning}`);
        },
        (error: unknown) => log('warning', `${this.kind} ${this.name}: refresh failed, keeping the last good copy: ${describeError(error)}`),
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
      return statSync(this.source.path!).mtimeMs;
    } catch {
      return this.updatedAt?.getTime() ?? 0;
    }
  }

  private install(built: B): void {
    this.use(built);
    this.lastHash = built.hash;
    this.updatedAt = new Date();
  }
}

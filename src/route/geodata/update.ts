/**
 * `geox-url` downloads: each file that is missing (or, with `geo-auto-update`, older than
 * `geo-update-interval`) is fetched in the background through undici (or the fetcher seam),
 * written next to the config atomically, and re-read by the Geodata; a failed download keeps
 * the last good file. Start-up never waits for them.
 */
import { mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { maxDatabaseBytes } from '../../common/bounded-file.js';
import type { Fetcher } from '../provider/downloaded.js';
import { checkGeoFile, type Geodata, type GeoKind } from './geodata.js';

/** The `geox-url` settings of a config. */
export interface GeoUpdateSettings {
  /** Download URL per kind. */
  urls: Partial<Record<GeoKind, string>>;
  /** `geo-auto-update`. */
  autoUpdate: boolean;
  /** `geo-update-interval`, hours. */
  intervalHours: number;
}

/** Downloads of one config's geo files. */
export class GeoUpdater {
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<GeoKind, Promise<void>>();

  constructor(
    private readonly geodata: Geodata,
    private readonly settings: GeoUpdateSettings,
    private readonly fetcher: Fetcher,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Kinds downloading now. */
  get pending(): GeoKind[] {
    return [...this.running.keys()];
  }

  /** Starts the downloads that are due (without waiting for them) and, with geo-auto-update, the timer. */
  start(): void {
    for (const kind of this.kinds()) if (this.due(kind)) void this.download(kind).catch(() => {});
    if (!this.settings.autoUpdate || this.kinds().length === 0) return;
    const interval = this.settings.intervalHours * 3600_000;
    this.timer = setInterval(() => {
      for (const kind of this.kinds()) if (this.due(kind)) void this.download(kind).catch(() => {});
    }, Math.min(interval, 3600_000));
    this.timer.unref();
  }

  /** Stops the timer (downloads under way finish). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Downloads every configured file now (`POST /configs/geo`); rejects with the failures. */
  async updateAll(): Promise<void> {
    const results = await Promise.allSettled(this.kinds().map((kind) => this.download(kind)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [describeError(r.reason)] : []));
    if (failed.length > 0) throw new Error(failed.join('; '));
  }

  private kinds(): GeoKind[] {
    return (Object.keys(this.settings.urls) as GeoKind[]).filter((kind) => this.geodata.settings.downloads.has(kind));
  }

  private due(kind: GeoKind): boolean {
    let mtime: number;
    try {
      mtime = statSync(this.geodata.path(kind)).mtimeMs;
    } catch {
      return true;
    }
    return this.settings.autoUpdate && Date.now() - mtime >= this.settings.intervalHours * 3600_000;
  }

  private download(kind: GeoKind): Promise<void> {
    let running = this.running.get(kind);
    if (!running) {
      running = this.fetchAndInstall(kind).finally(() => this.running.delete(kind));
      this.running.set(kind, running);
    }
    return running;
  }

  private async fetchAndInstall(kind: GeoKind): Promise<void> {
    const url = this.settings.urls[kind]!;
    const path = this.geodata.path(kind);
    try {
      const body = await this.fetcher(url, { headers: {}, timeoutMs: this.timeoutMs, sizeLimit: maxDatabaseBytes });
      checkGeoFile(kind, body);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(`${path}.tmp`, body);
      renameSync(`${path}.tmp`, path);
      this.geodata.reload(kind);
      this.logger.info(`geox-url ${kind}: downloaded ${body.length} bytes to ${path}`);
    } catch (error) {
      this.logger.warn(`geox-url ${kind}: download from ${url} failed, keeping what is there: ${describeError(error)}`);
      throw new Error(`${kind}: ${describeError(error)}`);
    }
  }
}

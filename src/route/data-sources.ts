/**
 * What a running config downloads and refreshes: rule providers, proxy providers and the
 * `geox-url` geo databases. Box makes one per config it applies; a reload starts the new one and stops the old.
 */
import type { Outbound } from '../adapter/outbound.js';
import type { Logger } from '../common/log.js';
import type { StatusLine } from '../common/status-line.js';
import type { LoadedConfig } from '../config/load.js';
import { GeoUpdater } from './geodata/update.js';
import type { Built, DownloadedProvider, Fetcher } from './provider/downloaded.js';
import { startProviders } from './provider/start.js';

/** What the downloads need from the running sluice. */
export interface DataSourceDeps {
  /** Downloads (undici, or a test's fetcher). */
  fetcher: Fetcher;
  /** Log output. */
  logger: Logger;
  /** A terminal's status line, for downloads start-up waits for. */
  status: StatusLine | undefined;
  /** Outbounds and groups by name (a provider's `proxy:`). */
  outbound(name: string): Outbound | undefined;
}

/** Shortest time a download may take before it is given up (start-up does not wait that long: `provider-download`). */
const minDownloadMs = 60_000;

/** The downloads of one config. */
export class DataSources {
  /** The `geox-url` downloads. */
  readonly geo: GeoUpdater;
  /** The longest one download may take. */
  private readonly downloadMs: number;

  constructor(
    private readonly config: LoadedConfig,
    private readonly deps: DataSourceDeps,
  ) {
    this.downloadMs = Math.max(minDownloadMs, config.timeouts.providerDownloadMs);
    this.geo = new GeoUpdater(config.geodata, config.geoUpdate, deps.fetcher, this.downloadMs, deps.logger);
  }

  /**
   * Starts the geo downloads in the background, fetches stale http providers (waiting at most
   * the provider-download timeout) and starts every refresh timer.
   */
  async start(): Promise<void> {
    this.geo.start();
    const { fetcher, logger, status } = this.deps;
    const waitMs = this.config.timeouts.providerDownloadMs;
    await startProviders(this.providers(), { fetcher, logger, status, waitMs, timeoutMs: this.downloadMs, via: (p) => this.via(p) });
  }

  /** Stops the download timers. */
  stop(): void {
    this.geo.stop();
    for (const provider of this.providers()) provider.stop();
  }

  /** Downloads an http provider now (through its `proxy:`); file providers are re-read, inline ones keep their entries. */
  async refresh(provider: DownloadedProvider<Built>): Promise<void> {
    if (provider.source.vehicle !== 'http') return provider.reloadFile();
    await provider.refresh(this.deps.fetcher, this.downloadMs, this.via(provider));
  }

  /** Rule providers, then proxy providers. */
  private providers(): DownloadedProvider<Built>[] {
    return [...this.config.providers, ...this.config.proxyProviders];
  }

  /** The outbound an http provider downloads through (its `proxy:`); undefined = directly. */
  private via(provider: DownloadedProvider<Built>): Outbound | undefined {
    return provider.source.proxy ? this.deps.outbound(provider.source.proxy) : undefined;
  }
}

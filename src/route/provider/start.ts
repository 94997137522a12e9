import type { Outbound } from '../../adapter/outbound.js';
import { describeError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { elapsed, type StatusLine } from '../../common/status-line.js';
import type { Built, DownloadedProvider, Fetcher } from './downloaded.js';

/** What starting the providers (rule and proxy) needs. */
export interface ProviderStart {
  /** Downloads. */
  fetcher: Fetcher;
  /** Startup waits at most this long for the first downloads. */
  waitMs: number;
  /** One download's limit (a download still under way when startup goes on fills its provider in later). */
  timeoutMs: number;
  /** Log output. */
  logger: Logger;
  /** A terminal's status line, to show the downloads while they run. */
  status: StatusLine | undefined;
  /** The outbound a provider downloads through (its `proxy:`); undefined = directly. */
  via(provider: DownloadedProvider<Built>): Outbound | undefined;
}

/**
 * Logs each provider's warnings, fetches the stale http providers (waiting at most `waitMs`,
 * showing progress on the status line; later downloads fill their providers in when they
 * arrive), then starts every refresh timer.
 */
export async function startProviders(providers: readonly DownloadedProvider<Built>[], start: ProviderStart): Promise<void> {
  const { fetcher, waitMs, timeoutMs, logger, status } = start;
  for (const provider of providers) {
    for (const warning of provider.warnings) logger.warn(`${provider.kind} ${provider.name}: ${warning}`);
  }
  const log = (level: 'warning' | 'info', message: string): void => (level === 'warning' ? logger.warn(message) : logger.info(message));
  const stale = providers.filter((provider) => provider.isStale());
  const pending = new Set(stale.map((provider) => provider.name));
  const started = performance.now();
  const downloads = stale.map((provider) =>
    provider
      .refresh(fetcher, timeoutMs, start.via(provider))
      .then(
        () => {
          log('info', `${provider.kind} ${provider.name}: downloaded, ${provider.summary()}`);
          for (const warning of provider.warnings) log('warning', `${provider.kind} ${provider.name}: ${warning}`);
        },
        (error: unknown) => log('warning', `${provider.kind} ${provider.name}: download failed, ${provider.updatedAt ? 'keeping the cached copy' : 'it stays empty for now'}: ${describeError(error)}`),
      )
      .finally(() => pending.delete(provider.name)),
  );
  if (downloads.length > 0) {
    logger.info(`downloading ${downloads.length} providers: ${[...pending].join(', ')}`);
    status?.show(() => `downloading providers ${stale.length - pending.size}/${stale.length}, ${elapsed(started)} (at most ${waitMs / 1000} s): ${[...pending].join(', ')}`);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    await Promise.race([Promise.all(downloads), waited]);
    clearTimeout(timer);
    status?.clear();
  }
  for (const provider of providers) provider.schedule(fetcher, timeoutMs, log, start.via(provider));
}

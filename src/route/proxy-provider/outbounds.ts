/**
 * The outbounds of the proxy providers of a running config: built from each provider's
 * proxies, rebuilt when a provider changes (the groups that use it are told), and checked on
 * the provider's `health-check` timer.
 */
import type { Outbound } from '../../adapter/outbound.js';
import { describeError } from '../../common/errors.js';
import type { ProxyConfig } from '../../config/proxy-types.js';
import type { DelayHistory } from '../group/delay-history.js';
import { HealthCheck } from '../group/health-check.js';
import type { ProxyProvider } from './provider.js';

/** The providers' outbounds. */
export class ProviderOutbounds {
  private readonly byProvider = new Map<string, Outbound[]>();
  private readonly checks = new Map<string, HealthCheck>();
  private readonly listeners = new Set<(provider: string) => void>();
  private readonly unsubscribe: (() => void)[] = [];
  /** Each outbound by its entry (JSON): a refresh keeps the outbounds of proxies that did not change. */
  private readonly byEntry = new Map<string, Outbound>();

  constructor(
    /** The providers, in config order. */
    readonly providers: readonly ProxyProvider[],
    private readonly build: (proxy: ProxyConfig) => Outbound,
    history: DelayHistory,
    /** Where an outbound that fails to start is reported. */
    private readonly warn: (message: string) => void,
    /** `unified-delay` of the config. */
    unifiedDelay = false,
  ) {
    for (const provider of providers) {
      this.byProvider.set(provider.name, provider.proxies.map((proxy) => this.outboundOf(proxy)));
      const { url, intervalSeconds, timeoutMs, lazy, expectedStatus } = provider.config.healthCheck;
      const check = { url, intervalMs: intervalSeconds * 1000, timeoutMs, lazy, expectedStatus, unifiedDelay };
      this.checks.set(provider.name, new HealthCheck(check, () => this.of(provider.name), () => {}, history));
      this.unsubscribe.push(provider.onChange(() => this.rebuild(provider)));
    }
  }

  /** The provider called `name`. */
  provider(name: string): ProxyProvider | undefined {
    return this.providers.find((p) => p.name === name);
  }

  /** The current outbounds of a provider (none for an unknown name). */
  of(name: string): readonly Outbound[] {
    return this.byProvider.get(name) ?? [];
  }

  /** The health checks of a provider. */
  healthOf(name: string): HealthCheck | undefined {
    return this.checks.get(name);
  }

  /** Calls `listener` with the provider's name after each change of its outbounds. */
  onChange(listener: (provider: string) => void): void {
    this.listeners.add(listener);
  }

  /** Starts what the outbounds run in the background, and the health checks of the providers that enable them. */
  async start(): Promise<void> {
    for (const outbound of this.byEntry.values()) await this.startOne(outbound);
    for (const provider of this.providers) if (provider.config.healthCheck.enable) this.checks.get(provider.name)!.start();
  }

  /** Stops checks and listening, and frees every outbound (at shutdown, or when a reload drops this config). */
  async close(): Promise<void> {
    for (const stop of this.unsubscribe) stop();
    for (const check of this.checks.values()) check.stop();
    await Promise.all([...this.byEntry.values()].map((outbound) => outbound.close?.()));
  }

  private async startOne(outbound: Outbound): Promise<void> {
    await Promise.resolve(outbound.start?.()).catch((error: unknown) => this.warn(`${outbound.type.toLowerCase()} ${outbound.name}: ${describeError(error)}`));
  }

  private outboundOf(proxy: ProxyConfig): Outbound {
    const key = JSON.stringify(proxy);
    let outbound = this.byEntry.get(key);
    if (!outbound) this.byEntry.set(key, (outbound = this.build(proxy)));
    return outbound;
  }

  /** Takes a provider's new proxies: unchanged ones keep their outbounds, new ones are built and started, dropped ones freed. */
  private rebuild(provider: ProxyProvider): void {
    const before = new Set(this.byEntry.values());
    this.byProvider.set(provider.name, provider.proxies.map((proxy) => this.outboundOf(proxy)));
    const used = new Set([...this.byProvider.values()].flat());
    for (const [key, outbound] of this.byEntry) {
      if (used.has(outbound)) {
        if (!before.has(outbound)) void this.startOne(outbound);
        continue;
      }
      this.byEntry.delete(key);
      void Promise.resolve(outbound.close?.()).catch((error: unknown) => this.warn(`${outbound.type.toLowerCase()} ${outbound.name}: ${describeError(error)}`));
    }
    for (const listener of this.listeners) listener(provider.name);
  }
}

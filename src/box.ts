import type { LookupAddress } from 'node:dns';
import type { Inbound } from './adapter/inbound.js';
import type { Outbound } from './adapter/outbound.js';
import { DnsCache } from './common/dns-cache.js';
import { describeError } from './common/errors.js';
import type { Logger } from './common/log.js';
import { packageHome, type LoadedConfig } from './config/load.js';
import type { ListenerType } from './config/types.js';
import { Dispatcher } from './dispatcher.js';
import { PassOutbound, RejectDropOutbound, RejectOutbound } from './protocol/block/outbound.js';
import { DirectOutbound } from './protocol/direct/outbound.js';
import { handleHttp } from './protocol/http/inbound.js';
import { TcpListener, type ConnectionHandler } from './protocol/listener.js';
import { handleMixed } from './protocol/mixed/inbound.js';
import { handleSocks } from './protocol/socks/inbound.js';
import { RuleRouter } from './route/router.js';
import { buildGroupOutbounds, type AnyGroup } from './route/group/build.js';
import { DelayHistory } from './route/group/delay-history.js';
import { Controller } from './controller/server.js';
import { LoadBalanceGroup } from './route/group/load-balance.js';
import { RelayGroup } from './route/group/relay.js';
import { AutoGroup } from './route/group/url-test.js';
import { undiciFetcher } from './route/provider/fetch.js';
import type { Fetcher, RuleProvider } from './route/provider/provider.js';
import { vmessListenerHandler, vmessOutbound } from './protocol/vmess/config.js';

const handlers: Record<Exclude<ListenerType, 'vmess'>, ConnectionHandler> = { socks: handleSocks, http: handleHttp, mixed: handleMixed };

/** Replaceable OS-facing parts, for tests. */
export interface BoxSeams {
  /** Name resolution instead of the system's getaddrinfo. */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** Rule-provider downloads instead of undici. */
  fetch?: Fetcher;
}

/** One running sluice: outbounds, router, dispatcher and listeners built from a config. */
export class Box {
  /** Owns every flow. */
  readonly dispatcher: Dispatcher;
  /** Listeners, in config order. */
  readonly inbounds: Inbound[];
  /** Outbounds by name (built-ins and `proxies:`). */
  readonly outbounds: ReadonlyMap<string, Outbound>;
  /** The rule router. */
  readonly router: RuleRouter;
  /** Proxy groups, GLOBAL included. */
  readonly groups: readonly AnyGroup[];
  /** Every delay test's result, per outbound (health checks and the controller). */
  readonly delays = new DelayHistory();
  private readonly fetcher: Fetcher;
  /** The DNS cache every outbound shares. */
  readonly dns: DnsCache;
  /** The controller API, when configured. */
  readonly controller: Controller | undefined;

  constructor(
    readonly config: LoadedConfig,
    /** Where everything logs. */
    readonly logger: Logger,
    seams: BoxSeams = {},
  ) {
    const { timeouts } = config;
    const dns = new DnsCache({ ttlMs: timeouts.dnsCacheMs, maxEntries: 4096, timeoutMs: timeouts.dnsMs, resolve: seams.resolve });
    this.dns = dns;
    const outbounds = new Map<string, Outbound>();
    const add = (outbound: Outbound): void => void outbounds.set(outbound.name, outbound);
    add(new DirectOutbound('DIRECT', dns, timeouts.connectMs));
    add(new RejectOutbound());
    add(new RejectDropOutbound(timeouts.rejectDropMs));
    add(new PassOutbound());
    add(new DirectOutbound('COMPATIBLE', dns, timeouts.connectMs));
    for (const proxy of config.proxies) {
      add(proxy.type === 'direct' ? new DirectOutbound(proxy.name, dns, timeouts.connectMs) : vmessOutbound(proxy, dns, timeouts.connectMs));
    }
    this.groups = buildGroupOutbounds(config.groups, outbounds, config.storeSelected && config.home !== packageHome ? config.home : undefined, this.delays);
    this.outbounds = outbounds;
    this.fetcher = seams.fetch ?? undiciFetcher;

    const resolve = (host: string): Promise<string | undefined> =>
      dns.resolveAll(host).then((all) => all[0]?.address, () => undefined);
    this.router = new RuleRouter({ rules: config.rules, subRules: config.subRules, outbounds, resolve, mode: config.mode, globalTarget: 'GLOBAL' });
    this.dispatcher = new Dispatcher(this.router, logger, timeouts, config.sniffer);
    this.controller = config.controller ? new Controller(this, config.controller) : undefined;
    this.inbounds = config.listeners.map(
      (listener) =>
        new TcpListener(
          {
            ...listener,
            dispatcher: this.dispatcher,
            logger,
            handshakeTimeoutMs: timeouts.handshakeMs,
          },
          listener.type === 'vmess' ? vmessListenerHandler(listener.vmessUsers ?? []) : handlers[listener.type],
        ),
    );
  }

  /**
   * Fetches stale http rule providers (waiting at most the provider-download timeout),
   * starts refresh timers and health checks, then opens every listener; if one fails,
   * closes those already open and rethrows.
   */
  async start(): Promise<void> {
    await this.startProviders();
    for (const group of this.groups) if (group instanceof AutoGroup || group instanceof LoadBalanceGroup) group.start();
    const started: Inbound[] = [];
    for (const inbound of this.inbounds) {
      try {
        await inbound.start();
      } catch (error) {
        await Promise.all(started.map((s) => s.close()));
        throw new Error(`listener ${inbound.name}: ${describeError(error)}`, { cause: error });
      }
      started.push(inbound);
      const { address, port } = inbound.address();
      this.logger.info(`listening ${inbound.type} ${inbound.name} on ${address}:${port}`);
    }
    if (this.controller) {
      try {
        await this.controller.start();
      } catch (error) {
        await Promise.all(started.map((s) => s.close()));
        throw new Error(`external-controller: ${describeError(error)}`, { cause: error });
      }
      const { address, port } = this.controller.address();
      this.logger.info(`controller API on ${address}:${port}`);
    }
  }

  /** Stops accepting, gives open flows `graceMs` to finish, then ends the rest. */
  async close(graceMs = this.config.timeouts.shutdownGraceMs): Promise<void> {
    await Promise.all([...this.inbounds.map((inbound) => inbound.close()), this.controller?.close()]);
    await this.dispatcher.drain(graceMs);
    for (const provider of this.config.providers) provider.stop();
    await Promise.all(this.groups.map((group) => (group instanceof RelayGroup ? undefined : group.close())));
    await Promise.all([...this.outbounds.values()].map((outbound) => outbound.close?.()));
  }

  private async startProviders(): Promise<void> {
    for (const provider of this.config.providers) {
      for (const warning of provider.warnings) this.logger.warn(`rule provider ${provider.name}: ${warning}`);
    }
    const timeoutMs = this.config.timeouts.providerDownloadMs;
    const log = (level: 'warning' | 'info', message: string): void => (level === 'warning' ? this.logger.warn(message) : this.logger.info(message));
    const via = (provider: RuleProvider): Outbound | undefined => (provider.config.proxy ? this.outbounds.get(provider.config.proxy) : undefined);
    const downloads = this.config.providers
      .filter((provider) => provider.isStale())
      .map((provider) =>
        provider.refresh(this.fetcher, timeoutMs, via(provider)).then(
          () => log('info', `rule provider ${provider.name}: downloaded, ${provider.count} entries`),
          (error: unknown) => log('warning', `rule provider ${provider.name}: download failed, ${provider.updatedAt ? 'keeping the cached copy' : 'its RULE-SET rules match nothing'}: ${describeError(error)}`),
        ),
      );
    if (downloads.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.all(downloads), waited]);
      clearTimeout(timer);
    }
    for (const provider of this.config.providers) provider.schedule(this.fetcher, timeoutMs, log, via(provider));
  }

  /** Downloads an http provider now (through its `proxy:`); file providers are re-read, inline ones keep their entries. */
  async refreshProvider(provider: RuleProvider): Promise<void> {
    if (provider.config.vehicle !== 'http') return provider.loadLocal();
    const via = provider.config.proxy ? this.outbounds.get(provider.config.proxy) : undefined;
    await provider.refresh(this.fetcher, this.config.timeouts.providerDownloadMs, via);
  }
}

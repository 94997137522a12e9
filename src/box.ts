import type { LookupAddress } from 'node:dns';
import type { Subscription } from 'rxjs';
import type { Inbound } from './adapter/inbound.js';
import type { Outbound, ProxyGroup } from './adapter/outbound.js';
import type { InboundDeps } from './adapter/registration.js';
import { EventBus } from './common/bus.js';
import { destinationGuard } from './common/destination-guard.js';
import { ClientAccess } from './common/client-access.js';
import { DnsCache } from './common/dns-cache.js';
import { DnsModule } from './dns/dns.js';
import { logFlows } from './common/flow-log.js';
import type { StatusLine } from './common/status-line.js';
import { describeError } from './common/errors.js';
import type { Logger } from './common/log.js';
import { loadConfigFile, type LoadedConfig } from './config/load.js';
import type { ListenerConfig } from './config/types.js';
import type { Control } from './controller/control.js';
import { Controller } from './controller/server.js';
import { Dispatcher } from './dispatcher.js';
import { isTunnelStatus, type TunnelStatus } from './protocol/pqtunnel/status.js';
import { createInbound, inboundProtocol } from './registry.js';
import { buildRouting, type Routing } from './routing.js';
import type { ProviderOutbounds } from './route/proxy-provider/outbounds.js';
import type { ProxyProvider } from './route/proxy-provider/provider.js';
import type { RuleRouter } from './route/router.js';
import { DelayHistory } from './route/group/delay-history.js';
import { undiciFetcher } from './route/provider/fetch.js';
import type { Fetcher } from './route/provider/downloaded.js';
import type { RuleProvider } from './route/provider/provider.js';

/** Replaceable OS-facing parts, for tests. */
export interface BoxSeams {
  /** Name resolution instead of the system's getaddrinfo. */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** Rule-provider downloads instead of undici. */
  fetch?: Fetcher;
  /** The file the config came from: SIGHUP and the controller's PUT /configs reload it. */
  configFile?: string | URL;
  /** A terminal's status line: shows rule-provider downloads while they run. */
  status?: StatusLine;
}

/** A listener's identity across reloads: one whose settings did not change keeps running. */
function listenerKey(listener: ListenerConfig): string {
  return JSON.stringify(listener, (_key, value: unknown) => (value instanceof Map ? [...value] : value));
}

/** One running sluice: outbounds, router, dispatcher and listeners built from a config through the registry. */
export class Box implements Control {
  /** Events of this sluice: flows, handshakes, tunnels, logs, traffic. */
  readonly bus: EventBus;
  /** Owns every flow. */
  readonly dispatcher: Dispatcher;
  /** Listeners, in config order. */
  inbounds: Inbound[];
  /** Every delay test's result, per outbound (health checks and the controller). */
  readonly delays = new DelayHistory();
  /** Which clients every listener admits and lets skip authentication; a reload updates it in place. */
  private readonly access: ClientAccess;
  private readonly fetcher: Fetcher;
  /** The DNS cache every outbound shares. */
  readonly dns: DnsCache;
  /** `dns:`: the resolver, fake-ip pool and DNS server, when enabled. */
  readonly dnsModule: DnsModule;
  /** The controller API, when configured. */
  readonly controller: Controller | undefined;
  private routing!: Routing;
  private inboundKeys: string[];
  private readonly configFile: string | URL | undefined;
  private readonly status: StatusLine | undefined;
  private readonly flowLog: Subscription;

  constructor(
    config: LoadedConfig,
    /** Where everything logs. */
    readonly logger: Logger,
    seams: BoxSeams = {},
  ) {
    const { timeouts } = config;
    this.dns = new DnsCache({ ttlMs: timeouts.dnsCacheMs, maxEntries: 4096, timeoutMs: timeouts.dnsMs, resolve: seams.resolve });
    this.dns.ipv6 = config.ipv6;
    this.dnsModule = new DnsModule(logger, timeouts.dnsMs);
    this.dns.through = (hostname) => this.dnsModule.lookup(hostname, this.dns.ipv6);
    this.dns.hosts = config.hosts;
    this.fetcher = seams.fetch ?? undiciFetcher;
    this.configFile = seams.configFile;
    this.status = seams.status;
    this.bus = new EventBus(logger.events, () => this.dispatcher.totals());
    this.routing = this.build(config);
    this.access = new ClientAccess(config.clientAccess);
    this.dispatcher = new Dispatcher(this.routing.router, this.bus, timeouts, config.sniffer);
    this.dispatcher.names = this.dnsModule;
    this.flowLog = logFlows(this.bus, logger);
    this.controller = config.controller ? new Controller(this, config.controller) : undefined;
    this.inbounds = config.listeners.map((listener) => this.listener(listener));
    this.inboundKeys = config.listeners.map(listenerKey);
  }

  /** The running config (the latest one a reload applied). */
  get config(): LoadedConfig {
    return this.routing.config;
  }

  /** Outbounds and groups by name (built-ins and `proxies:` included). */
  get outbounds(): ReadonlyMap<string, Outbound> {
    return this.routing.outbounds;
  }

  /** The rule router. */
  get router(): RuleRouter {
    return this.routing.router;
  }

  /** Proxy groups, GLOBAL included. */
  get groups(): readonly ProxyGroup[] {
    return this.routing.groups;
  }

  /** Every tunnel end: pqtunnel proxies, then gateway listeners. */
  get tunnels(): TunnelStatus[] {
    return [...this.outbounds.values(), ...this.inbounds].filter((end): end is Outbound & TunnelStatus => isTunnelStatus(end));
  }

  private build(config: LoadedConfig): Routing {
    const { dns, logger, bus, delays, fetcher, status } = this;
    return buildRouting(config, { dns, logger, bus, delays, fetcher, status, previous: this.routing as Routing | undefined });
  }

  /** The proxy providers' outbounds. */
  get proxyProviders(): ProviderOutbounds {
    return this.routing.proxyProviders;
  }

  /** Starts tunnels and health checks; an outbound that cannot start is logged and its flows fail, the rest of sluice runs. */
  private async startOutbounds(): Promise<void> {
    await this.routing.proxyProviders.start();
    for (const outbound of this.outbounds.values()) {
      await Promise.resolve(outbound.start?.()).catch((error: unknown) => this.logger.error(`${outbound.type.toLowerCase()} ${outbound.name}: ${describeError(error)}`));
    }
  }

  private listener(listener: ListenerConfig): Inbound {
    const protocol = inboundProtocol(listener.type);
    const deps: InboundDeps = {
      dispatcher: this.dispatcher,
      logger: this.logger,
      bus: this.bus,
      timeouts: this.config.timeouts,
      access: this.access,
      guard: destinationGuard(listener, protocol.clients),
    };
    return createInbound(listener, deps);
  }

  /**
   * Applies a new config without dropping open flows: new flows use the new rules, proxies
   * and groups; listeners whose settings did not change keep running, removed ones stop
   * accepting, added ones start. Timeouts and the controller keep their old settings.
   * If an added listener cannot start, the rest of the reload still applies and the error is rethrown.
   */
  async reload(config: LoadedConfig): Promise<void> {
    const old = this.routing;
    const next = this.build(config);
    this.routing = next;
    this.access.update(config.clientAccess);
    this.dns.ipv6 = config.ipv6;
    if (JSON.stringify(config.dns) !== JSON.stringify(old.config.dns)) this.dns.clear();
    this.dns.hosts = config.hosts;
    await this.applyDns(config);
    for (const warning of config.warnings) this.logger.warn(warning);
    old.sources.stop();
    await next.sources.start();
    const keptNow = new Set(next.kept.values());
    for (const outbound of old.kept.values()) if (!keptNow.has(outbound)) await outbound.close?.();
    await this.startOutbounds();
    this.dispatcher.use(next.router, config.sniffer);
    const failures = await this.replaceListeners(config.listeners);
    await Promise.all([...old.groups.map((group) => group.close?.()), old.proxyProviders.close()]);
    this.logger.info(`config reloaded: ${config.rules.length} rules, ${config.proxies.length} proxies, ${this.inbounds.length} listeners`);
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  /** Keeps the listeners whose settings did not change, stops the others and starts the new ones; returns what failed to start. */
  private async replaceListeners(listeners: readonly ListenerConfig[]): Promise<string[]> {
    const keys = listeners.map(listenerKey);
    const kept = new Map<string, Inbound>();
    this.inbounds.forEach((inbound, i) => {
      if (keys.includes(this.inboundKeys[i]!)) kept.set(this.inboundKeys[i]!, inbound);
      else void inbound.close();
    });
    const failures: string[] = [];
    const inbounds: Inbound[] = [];
    const inboundKeys: string[] = [];
    for (const [i, listener] of listeners.entries()) {
      const inbound = kept.get(keys[i]!) ?? this.listener(listener);
      if (!kept.has(keys[i]!)) {
        try {
          await this.startListener(inbound);
        } catch (error) {
          failures.push(`listener ${inbound.name}: ${describeError(error)}`);
          continue;
        }
      }
      inbounds.push(inbound);
      inboundKeys.push(keys[i]!);
    }
    this.inbounds = inbounds;
    this.inboundKeys = inboundKeys;
    return failures;
  }

  /** Opens a listener and logs where. */
  private async startListener(inbound: Inbound): Promise<void> {
    await inbound.start();
    const { address, port } = inbound.address();
    this.logger.info(`listening ${inbound.type} ${inbound.name} on ${address}:${port}`);
  }

  /** Reads the config file again and applies it; a bad file is rejected (ConfigError) and the running config stays. */
  async reloadFromFile(): Promise<void> {
    if (this.configFile === undefined) throw new Error('this sluice was not started from a config file');
    await this.reload(await loadConfigFile(this.configFile));
  }

  /**
   * Starts the geo downloads, fetches stale http rule providers (waiting at most the
   * provider-download timeout), starts refresh timers, tunnels and health checks, then opens every listener; if one
   * fails, closes those already open and rethrows.
   */
  async start(): Promise<void> {
    await this.routing.sources.start();
    await this.startOutbounds();
    await this.applyDns(this.config);
    const started: Inbound[] = [];
    for (const inbound of this.inbounds) {
      try {
        await this.startListener(inbound);
      } catch (error) {
        await Promise.all(started.map((s) => s.close()));
        throw new Error(`listener ${inbound.name}: ${describeError(error)}`, { cause: error });
      }
      started.push(inbound);
    }
    if (this.controller) {
      try {
        await this.controller.start();
      } catch (error) {
        await Promise.all(started.map((s) => s.close()));
        throw new Error(`external-controller: ${describeError(error)}`, { cause: error });
      }
      this.logger.info(`controller API on ${this.controller.address().address}:${this.controller.address().port}`);
    }
  }

  /** Stops accepting, gives open flows `graceMs` to finish, then ends the rest. */
  async close(graceMs = this.config.timeouts.shutdownGraceMs): Promise<void> {
    await Promise.all([...this.inbounds.map((inbound) => inbound.close()), this.controller?.close()]);
    await this.dispatcher.drain(graceMs);
    this.flowLog.unsubscribe();
    this.routing.sources.stop();
    await Promise.all([...[...this.outbounds.values()].map((outbound) => outbound.close?.()), this.routing.proxyProviders.close(), this.dnsModule.close()]);
  }

  /** Starts or changes the DNS module; a DNS server that cannot bind is logged and the rest of sluice runs (as in mihomo). */
  private async applyDns(config: LoadedConfig): Promise<void> {
    const country = (ip: string): string => {
      try {
        return config.geodata.countries().country(ip);
      } catch {
        return ''; // an unusable GeoIP file: every address counts as foreign (the fallback answers)
      }
    };
    await this.dnsModule.apply(config.dns, { home: config.home, country, outbound: (name) => this.outbounds.get(name) }).catch((error: unknown) => this.logger.error(`dns.listen: ${describeError(error)}`));
  }

  /** Downloads an http rule or proxy provider now (through its `proxy:`); file providers are re-read, inline ones keep their entries. */
  refreshProvider(provider: RuleProvider | ProxyProvider): Promise<void> {
    return this.routing.sources.refresh(provider);
  }

  /** Downloads every `geox-url` file now. */
  updateGeodata(): Promise<void> {
    return this.routing.sources.geo.updateAll();
  }
}

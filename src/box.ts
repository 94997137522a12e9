import type { LookupAddress } from 'node:dns';
import type { Subscription } from 'rxjs';
import { resolve as resolvePath } from 'node:path';
import type { Inbound } from './adapter/inbound.js';
import type { Outbound, ProxyGroup } from './adapter/outbound.js';
import type { InboundDeps } from './adapter/registration.js';
import { EventBus } from './common/bus.js';
import { destinationGuard } from './common/destination-guard.js';
import { ClientAccess } from './common/client-access.js';
import { DnsCache } from './common/dns-cache.js';
import { logFlows } from './common/flow-log.js';
import type { StatusLine } from './common/status-line.js';
import { describeError } from './common/errors.js';
import type { Logger } from './common/log.js';
import { loadConfigFile, packageHome, type LoadedConfig } from './config/load.js';
import type { ListenerConfig } from './config/types.js';
import type { Control } from './controller/control.js';
import { Controller } from './controller/server.js';
import { Dispatcher } from './dispatcher.js';
import { PassOutbound, RejectDropOutbound, RejectOutbound } from './protocol/block/outbound.js';
import { DirectOutbound } from './protocol/direct/outbound.js';
import { isTunnelStatus, type TunnelStatus } from './protocol/pqtunnel/status.js';
import { createInbound, createOutbound, inboundProtocol, keepsAcrossReloads } from './registry.js';
import { buildGroupOutbounds } from './route/group/build.js';
import { DelayHistory } from './route/group/delay-history.js';
import { undiciFetcher } from './route/provider/fetch.js';
import type { Fetcher, RuleProvider } from './route/provider/provider.js';
import { startRuleProviders } from './route/provider/start.js';
import { RuleRouter } from './route/router.js';

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

/** What a config builds for routing; a reload builds a new one and swaps it in. */
interface Routing {
  /** The config it was built from. */
  config: LoadedConfig;
  /** Outbounds and groups by name. */
  outbounds: Map<string, Outbound>;
  /** Proxy groups, GLOBAL included. */
  groups: ProxyGroup[];
  /** The rule router. */
  router: RuleRouter;
  /** Outbounds a reload keeps running when their entry did not change, by their entry (JSON). */
  kept: Map<string, Outbound>;
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
    this.fetcher = seams.fetch ?? undiciFetcher;
    this.configFile = seams.configFile;
    this.status = seams.status;
    this.bus = new EventBus(logger.events, () => this.dispatcher.totals());
    this.routing = this.build(config);
    this.access = new ClientAccess(config.clientAccess);
    this.dispatcher = new Dispatcher(this.routing.router, this.bus, timeouts, config.sniffer);
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
    const { timeouts } = config;
    const dns = this.dns;
    const outbounds = new Map<string, Outbound>();
    const add = (outbound: Outbound): void => void outbounds.set(outbound.name, outbound);
    add(new DirectOutbound('DIRECT', dns, timeouts.connectMs));
    add(new RejectOutbound());
    add(new RejectDropOutbound(timeouts.rejectDropMs));
    add(new PassOutbound());
    add(new DirectOutbound('COMPATIBLE', dns, timeouts.connectMs));
    const kept = new Map<string, Outbound>();
    const running = [...(this.routing?.kept.values() ?? [])];
    const prefixesOf = (name: string): string[] | undefined => this.config.providers.find((provider) => provider.name === name)?.ipRanges?.toPrefixes();
    for (const proxy of config.proxies) {
      const key = JSON.stringify(proxy);
      const deps = { dns, connectMs: timeouts.connectMs, logger: this.logger, bus: this.bus, previous: this.routing?.kept.get(key), siblings: () => [...running, ...kept.values()], prefixesOf };
      const outbound = createOutbound(proxy, deps);
      if (keepsAcrossReloads(proxy)) kept.set(key, outbound);
      add(outbound);
    }
    // The bundled default config lives in the package: its choices are not written there.
    const storeDir = config.storeSelected && resolvePath(config.home) !== resolvePath(packageHome) ? config.home : undefined;
    const groups = buildGroupOutbounds(config.groups, outbounds, storeDir, this.delays);
    const resolve = (host: string): Promise<string | undefined> => dns.resolveAll(host).then((all) => all[0]?.address, () => undefined);
    const router = new RuleRouter({ rules: config.rules, subRules: config.subRules, outbounds, resolve, mode: config.mode, globalTarget: 'GLOBAL' });
    return { config, outbounds, groups, router, kept };
  }

  /** Starts tunnels and health checks; an outbound that cannot start is logged and its flows fail, the rest of sluice runs. */
  private async startOutbounds(): Promise<void> {
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
    for (const warning of config.warnings) this.logger.warn(warning);
    await this.startProviders();
    const keptNow = new Set(next.kept.values());
    for (const outbound of old.kept.values()) if (!keptNow.has(outbound)) await outbound.close?.();
    await this.startOutbounds();
    this.dispatcher.use(next.router, config.sniffer);
    const failures = await this.replaceListeners(config.listeners);
    for (const provider of old.config.providers) if (!config.providers.includes(provider)) provider.stop();
    await Promise.all(old.groups.map((group) => group.close?.()));
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
   * Fetches stale http rule providers (waiting at most the provider-download timeout),
   * starts refresh timers, tunnels and health checks, then opens every listener; if one
   * fails, closes those already open and rethrows.
   */
  async start(): Promise<void> {
    await this.startProviders();
    await this.startOutbounds();
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
    for (const provider of this.config.providers) provider.stop();
    await Promise.all([...this.outbounds.values()].map((outbound) => outbound.close?.()));
  }

  private startProviders(): Promise<void> {
    const { fetcher, logger, status, config } = this;
    return startRuleProviders(config.providers, { fetcher, logger, status, timeoutMs: config.timeouts.providerDownloadMs, via: (p) => this.downloadVia(p) });
  }

  /** Downloads an http provider now (through its `proxy:`); file providers are re-read, inline ones keep their entries. */
  async refreshProvider(provider: RuleProvider): Promise<void> {
    if (provider.config.vehicle !== 'http') return provider.reloadFile();
    await provider.refresh(this.fetcher, this.config.timeouts.providerDownloadMs, this.downloadVia(provider));
  }

  /** The outbound an http provider downloads through (its `proxy:`); undefined = directly. */
  private downloadVia(provider: RuleProvider): Outbound | undefined {
    return provider.config.proxy ? this.outbounds.get(provider.config.proxy) : undefined;
  }
}

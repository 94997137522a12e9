import type { LookupAddress } from 'node:dns';
import type { Subscription } from 'rxjs';
import { resolve as resolvePath } from 'node:path';
import type { Inbound } from './adapter/inbound.js';
import type { Outbound } from './adapter/outbound.js';
import { EventBus } from './common/bus.js';
import { isLoopbackHost } from './common/address.js';
import { ListenerDestinationGuard } from './common/destination-guard.js';
import { ClientAccess } from './common/client-access.js';
import { DnsCache } from './common/dns-cache.js';
import { logFlows } from './common/flow-log.js';
import { elapsed, type StatusLine } from './common/status-line.js';
import { describeError } from './common/errors.js';
import type { Logger } from './common/log.js';
import { loadConfigFile, packageHome, type LoadedConfig } from './config/load.js';
import type { ListenerConfig, ListenerType, TunnelProxyConfig } from './config/types.js';
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
import { TunnelGatewayListener } from './protocol/pqtunnel/gateway-listener.js';
import { TunnelOutbound } from './protocol/pqtunnel/outbound.js';
import type { TunnelStatus } from './protocol/pqtunnel/status.js';

const handlers: Record<Exclude<ListenerType, 'vmess' | 'pqtunnel'>, ConnectionHandler> = { socks: handleSocks, http: handleHttp, mixed: handleMixed };

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
  groups: AnyGroup[];
  /** The rule router. */
  router: RuleRouter;
  /** pqtunnel outbounds by their settings (JSON), so a reload can keep unchanged ones running. */
  tunnels: Map<string, TunnelOutbound>;
}

/** First routing table and rule priority the tunnel outbounds own (spec §8.6). */
const tunnelTableBase = 51820;
const tunnelPriorityBase = 9100;

/** A listener's identity across reloads: one whose settings did not change keeps running. */
function listenerKey(listener: ListenerConfig): string {
  return JSON.stringify([listener.name, listener.type, listener.listen, listener.port, listener.udp, [...(listener.users ?? [])], listener.vmessUsers ?? [], listener.gateway ?? null, listener.allowPrivateDestinations ?? null]);
}

/**
 * What DIRECT may not dial for a listener's clients: a VMess server's remote users reach no
 * private or special address and nothing on this host; a SOCKS/HTTP/mixed listener on a
 * non-loopback address keeps its LAN but not this host's loopback; a loopback listener is
 * local and unguarded. `allow-private-destinations` opens all (true) or some prefixes.
 */
function destinationGuard(listener: ListenerConfig): ListenerDestinationGuard | undefined {
  const allowed = listener.allowPrivateDestinations;
  if (allowed === true) return undefined;
  const kind = listener.type === 'vmess' ? 'remote' : isLoopbackHost(listener.listen) ? undefined : 'lan';
  return kind && new ListenerDestinationGuard(kind, listener.name, allowed);
}

/** One running sluice: outbounds, router, dispatcher and listeners built from a config. */
export class Box {
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
  get groups(): readonly AnyGroup[] {
    return this.routing.groups;
  }

  /** Every tunnel end: pqtunnel proxies, then gateway listeners. */
  get tunnels(): TunnelStatus[] {
    const gateways = this.inbounds.filter((inbound) => inbound instanceof TunnelGatewayListener);
    return [...this.routing.tunnels.values(), ...gateways];
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
    const tunnels = new Map<string, TunnelOutbound>();
    for (const proxy of config.proxies) {
      if (proxy.type === 'direct') add(new DirectOutbound(proxy.name, dns, timeouts.connectMs));
      else if (proxy.type === 'vmess') add(vmessOutbound(proxy, dns, timeouts.connectMs));
      else add(this.tunnel(proxy, tunnels, timeouts.connectMs));
    }
    // The bundled default config lives in the package: its choices are not written there.
    const storeDir = config.storeSelected && resolvePath(config.home) !== resolvePath(packageHome) ? config.home : undefined;
    const groups = buildGroupOutbounds(config.groups, outbounds, storeDir, this.delays);
    const resolve = (host: string): Promise<string | undefined> =>
      dns.resolveAll(host).then((all) => all[0]?.address, () => undefined);
    const router = new RuleRouter({ rules: config.rules, subRules: config.subRules, outbounds, resolve, mode: config.mode, globalTarget: 'GLOBAL' });
    return { config, outbounds, groups, router, tunnels };
  }

  /** The tunnel outbound for a proxy entry: the running one when its settings did not change (a reload keeps the tunnel up). */
  private tunnel(proxy: TunnelProxyConfig, built: Map<string, TunnelOutbound>, connectMs: number): TunnelOutbound {
    const key = JSON.stringify(proxy);
    const running = this.routing?.tunnels.get(key);
    if (running) {
      built.set(key, running);
      return running;
    }
    const taken = new Set([...(this.routing?.tunnels.values() ?? []), ...built.values()].map((tunnel) => tunnel.slot.table));
    let index = 0;
    while (taken.has(tunnelTableBase + index)) index++;
    const slot = {
      table: tunnelTableBase + index,
      priority: tunnelPriorityBase + index * 3,
      prefixesOf: (name: string) => this.config.providers.find((provider) => provider.name === name)?.ipRanges?.toPrefixes(),
    };
    const tunnel = new TunnelOutbound(proxy, slot, this.dns, connectMs, this.logger, this.bus);
    built.set(key, tunnel);
    return tunnel;
  }

  /** Starts tunnels that are not running; one that cannot start is logged and its flows fail, the rest of sluice runs. */
  private async startTunnels(): Promise<void> {
    for (const tunnel of this.routing.tunnels.values()) {
      await tunnel.start().catch((error: unknown) => this.logger.error(`pqtunnel ${tunnel.name}: ${describeError(error)}`));
    }
  }

  private listener(listener: ListenerConfig): Inbound {
    if (listener.type === 'pqtunnel') return new TunnelGatewayListener(listener.gateway!, this.logger, this.bus);
    const handler = listener.type === 'vmess' ? vmessListenerHandler(listener.vmessUsers ?? []) : handlers[listener.type];
    const context = {
      ...listener,
      dispatcher: this.dispatcher,
      logger: this.logger,
      handshakeTimeoutMs: this.config.timeouts.handshakeMs,
      keepAliveMs: this.config.timeouts.httpKeepAliveMs,
      guard: destinationGuard(listener),
      access: this.access,
    };
    return new TcpListener(context, handler);
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
    for (const tunnel of old.tunnels.values()) if (![...next.tunnels.values()].includes(tunnel)) await tunnel.close();
    await this.startTunnels();
    this.startHealthChecks();
    this.dispatcher.use(next.router, config.sniffer);
    const keys = config.listeners.map(listenerKey);
    const kept = new Map<string, Inbound>();
    this.inbounds.forEach((inbound, i) => {
      if (keys.includes(this.inboundKeys[i]!)) kept.set(this.inboundKeys[i]!, inbound);
      else void inbound.close();
    });
    const failures: string[] = [];
    const inbounds: Inbound[] = [];
    for (const [i, listener] of config.listeners.entries()) {
      const existing = kept.get(keys[i]!);
      if (existing) {
        inbounds.push(existing);
        continue;
      }
      const inbound = this.listener(listener);
      try {
        await inbound.start();
        inbounds.push(inbound);
        const { address, port } = inbound.address();
        this.logger.info(`listening ${inbound.type} ${inbound.name} on ${address}:${port}`);
      } catch (error) {
        failures.push(`listener ${inbound.name}: ${describeError(error)}`);
      }
    }
    this.inbounds = inbounds;
    this.inboundKeys = inbounds.map((inbound) => keys[config.listeners.findIndex((l) => l.name === inbound.name)]!);
    for (const provider of old.config.providers) if (!config.providers.includes(provider)) provider.stop();
    await Promise.all(old.groups.map((group) => (group instanceof RelayGroup ? undefined : group.close())));
    this.logger.info(`config reloaded: ${config.rules.length} rules, ${config.proxies.length} proxies, ${inbounds.length} listeners`);
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  /** Reads the config file again and applies it; a bad file is rejected (ConfigError) and the running config stays. */
  async reloadFromFile(): Promise<void> {
    if (this.configFile === undefined) throw new Error('this sluice was not started from a config file');
    await this.reload(await loadConfigFile(this.configFile));
  }

  private startHealthChecks(): void {
    for (const group of this.groups) if (group instanceof AutoGroup || group instanceof LoadBalanceGroup) group.start();
  }

  /**
   * Fetches stale http rule providers (waiting at most the provider-download timeout),
   * starts refresh timers and health checks, then opens every listener; if one fails,
   * closes those already open and rethrows.
   */
  async start(): Promise<void> {
    await this.startProviders();
    await this.startTunnels();
    this.startHealthChecks();
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
    this.flowLog.unsubscribe();
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
    const stale = this.config.providers.filter((provider) => provider.isStale());
    const pending = new Set(stale.map((provider) => provider.name));
    const started = performance.now();
    const downloads = stale.map((provider) =>
      provider
        .refresh(this.fetcher, timeoutMs, this.downloadVia(provider))
        .then(
          () => log('info', `rule provider ${provider.name}: downloaded, ${provider.count} entries`),
          (error: unknown) => log('warning', `rule provider ${provider.name}: download failed, ${provider.updatedAt ? 'keeping the cached copy' : 'its RULE-SET rules match nothing'}: ${describeError(error)}`),
        )
        .finally(() => pending.delete(provider.name)),
    );
    if (downloads.length > 0) {
      this.logger.info(`downloading ${downloads.length} rule providers: ${[...pending].join(', ')}`);
      this.status?.show(() => `downloading rule providers ${stale.length - pending.size}/${stale.length}, ${elapsed(started)} (at most ${timeoutMs / 1000} s): ${[...pending].join(', ')}`);
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([Promise.all(downloads), waited]);
      clearTimeout(timer);
      this.status?.clear();
    }
    for (const provider of this.config.providers) provider.schedule(this.fetcher, timeoutMs, log, this.downloadVia(provider));
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

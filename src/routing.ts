/**
 * What one config builds for routing: built-in and configured outbounds (through the
 * registry), the proxy providers' outbounds, groups, the rule router and the downloads. Box
 * builds one at start and one per reload, and swaps them.
 */
import { resolve as resolvePath } from 'node:path';
import type { Outbound, ProxyGroup } from './adapter/outbound.js';
import type { OutboundDeps } from './adapter/registration.js';
import type { EventBus } from './common/bus.js';
import type { DnsCache } from './common/dns-cache.js';
import type { Logger } from './common/log.js';
import type { StatusLine } from './common/status-line.js';
import { packageHome, type LoadedConfig } from './config/load.js';
import { bindingOf } from './config/outbound-sockets.js';
import type { ProxyConfig } from './config/proxy-types.js';
import { PassOutbound, RejectDropOutbound, RejectOutbound } from './protocol/block/outbound.js';
import { DirectOutbound } from './protocol/direct/outbound.js';
import { UnsupportedOutbound } from './protocol/unsupported/index.js';
import { createOutbound, keepsAcrossReloads } from './registry.js';
import { DataSources } from './route/data-sources.js';
import { DialerProxied } from './route/dialer-proxy.js';
import { buildGroupOutbounds } from './route/group/build.js';
import type { DelayHistory } from './route/group/delay-history.js';
import type { Fetcher } from './route/provider/downloaded.js';
import { ProviderOutbounds } from './route/proxy-provider/outbounds.js';
import { RuleRouter } from './route/router.js';

/** What a config builds for routing; a reload builds a new one and swaps it in. */
export interface Routing {
  /** The config it was built from. */
  config: LoadedConfig;
  /** Outbounds and groups by name (not the providers' proxies). */
  outbounds: Map<string, Outbound>;
  /** The proxy providers' outbounds. */
  proxyProviders: ProviderOutbounds;
  /** Proxy groups, GLOBAL included. */
  groups: ProxyGroup[];
  /** The rule router. */
  router: RuleRouter;
  /** Outbounds a reload keeps running when their entry did not change, by their entry (JSON). */
  kept: Map<string, Outbound>;
  /** Provider and geo downloads. */
  sources: DataSources;
}

/** The running parts a Routing is built with. */
export interface RoutingContext {
  /** The shared DNS cache. */
  dns: DnsCache;
  /** Log output. */
  logger: Logger;
  /** Events. */
  bus: EventBus;
  /** Every delay test's result. */
  delays: DelayHistory;
  /** Downloads. */
  fetcher: Fetcher;
  /** A terminal's status line, for downloads start-up waits for. */
  status: StatusLine | undefined;
  /** The Routing this one replaces (its kept outbounds carry over), if any. */
  previous: Routing | undefined;
}

/** Builds the outbounds, groups, router and downloads of a config. */
export function buildRouting(config: LoadedConfig, context: RoutingContext): Routing {
  const { timeouts } = config;
  const { dns, logger, bus, previous } = context;
  const outbounds = new Map<string, Outbound>();
  const add = (outbound: Outbound): void => void outbounds.set(outbound.name, outbound);
  add(new DirectOutbound('DIRECT', dns, timeouts.connectMs, config.sockets));
  add(new RejectOutbound());
  add(new RejectDropOutbound(timeouts.rejectDropMs));
  add(new PassOutbound());
  add(new DirectOutbound('COMPATIBLE', dns, timeouts.connectMs, config.sockets));
  const kept = new Map<string, Outbound>();
  const running = [...(previous?.kept.values() ?? [])];
  const prefixesOf = (name: string): string[] | undefined => (previous?.config ?? config).providers.find((provider) => provider.name === name)?.ipRanges?.toPrefixes();
  const deps = (proxy: ProxyConfig): OutboundDeps => ({
    dns, connectMs: timeouts.connectMs, sockets: { ...config.sockets, own: bindingOf(proxy) }, logger, bus, previous: previous?.kept.get(JSON.stringify(proxy)), siblings: () => [...running, ...kept.values()], prefixesOf,
  });
  const create = (proxy: ProxyConfig): Outbound => {
    const outbound = createOutbound(proxy, deps(proxy));
    const dialer = 'dialer-proxy' in proxy ? proxy['dialer-proxy'] : undefined;
    if (dialer === undefined) return outbound;
    const missing = new UnsupportedOutbound(dialer, 'Unknown', `it is the dialer-proxy of ${proxy.name} but not defined in the config`);
    return new DialerProxied(outbound, dialer, () => outbounds.get(dialer) ?? missing);
  };
  for (const proxy of config.proxies) {
    const outbound = create(proxy);
    if (keepsAcrossReloads(proxy)) kept.set(JSON.stringify(proxy), outbound);
    add(outbound);
  }
  for (const name of config.undefinedNames) add(new UnsupportedOutbound(name, 'Unknown', 'it is referenced but not defined in the config'));
  const proxyProviders = new ProviderOutbounds(config.proxyProviders, create, context.delays, (message) => logger.warn(message), config.unifiedDelay);
  // The bundled default config lives in the package: its choices are not written there.
  const storeDir = config.storeSelected && resolvePath(config.home) !== resolvePath(packageHome) ? config.home : undefined;
  const groups = buildGroupOutbounds(config.groups, outbounds, { storeDir, history: context.delays, providers: proxyProviders, notice: (message) => logger.info(message), unifiedDelay: config.unifiedDelay });
  const resolve = (host: string): Promise<string | undefined> => dns.resolveAll(host).then((all) => all[0]?.address, () => undefined);
  const router = new RuleRouter({ rules: config.rules, subRules: config.subRules, outbounds, resolve, mode: config.mode, globalTarget: 'GLOBAL' });
  const sources = new DataSources(config, { fetcher: context.fetcher, logger, status: context.status, outbound: (name) => outbounds.get(name) });
  return { config, outbounds, proxyProviders, groups, router, kept, sources };
}

import type { Inbound } from '../adapter/inbound.js';
import type { Outbound, ProxyGroup } from '../adapter/outbound.js';
import type { EventBus } from '../common/bus.js';
import type { DnsCache } from '../common/dns-cache.js';
import type { DnsModule } from '../dns/dns.js';
import type { Logger } from '../common/log.js';
import type { LoadedConfig } from '../config/load.js';
import type { Dispatcher } from '../dispatcher.js';
import type { TunnelStatus } from '../protocol/pqtunnel/status.js';
import type { DelayHistory } from '../route/group/delay-history.js';
import type { RuleProvider } from '../route/provider/provider.js';
import type { RuleRouter } from '../route/router.js';
import type { ProviderOutbounds } from '../route/proxy-provider/outbounds.js';
import type { ProxyProvider } from '../route/proxy-provider/provider.js';

/** What the controller API reads and changes of a running sluice (Box provides it). */
export interface Control {
  /** The running config. */
  readonly config: LoadedConfig;
  /** Outbounds and groups by name. */
  readonly outbounds: ReadonlyMap<string, Outbound>;
  /** Proxy groups, GLOBAL included. */
  readonly groups: readonly ProxyGroup[];
  /** Every delay test's result, per outbound. */
  readonly delays: DelayHistory;
  /** The listeners. */
  readonly inbounds: readonly Inbound[];
  /** The rule router (mode, rules, rules switched off). */
  readonly router: RuleRouter;
  /** Log output and its level. */
  readonly logger: Logger;
  /** Open flows, totals, sniffing switch. */
  readonly dispatcher: Dispatcher;
  /** The shared DNS cache. */
  readonly dns: DnsCache;
  /** The DNS module (`dns:`): its resolver, fake-ip pool and caches. */
  readonly dnsModule: DnsModule;
  /** Events. */
  readonly bus: EventBus;
  /** Every tunnel end. */
  readonly tunnels: TunnelStatus[];
  /** Applies a new config without dropping open flows. */
  reload(config: LoadedConfig): Promise<void>;
  /** Reads the config file again and applies it. */
  reloadFromFile(): Promise<void>;
  /** Downloads (or re-reads) a rule or proxy provider now. */
  refreshProvider(provider: RuleProvider | ProxyProvider): Promise<void>;
  /** Downloads every `geox-url` file now. */
  updateGeodata(): Promise<void>;
  /** The proxy providers and their outbounds. */
  readonly proxyProviders: ProviderOutbounds;
}

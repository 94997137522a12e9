/**
 * What a protocol exports to be registered (src/registry.ts lists them): how its config
 * entries are read and checked, and the factory of its inbound or outbound. Box and the
 * config loader reach protocols only through these.
 */
import type { EventBus } from '../common/bus.js';
import type { ClientAccess } from '../common/client-access.js';
import type { DnsCache } from '../common/dns-cache.js';
import type { OutboundSockets } from '../common/socket-options.js';
import type { Logger } from '../common/log.js';
import type { UserTable } from '../common/auth.js';
import type { ListenerConfig, Timeouts } from '../config/types.js';
import type { ProxyConfig } from '../config/proxy-types.js';
import type { Dispatcher } from '../dispatcher.js';
import type { DestinationGuard } from './flow.js';
import type { Inbound } from './inbound.js';
import type { Outbound } from './outbound.js';

/** A `listeners:` entry as the schema validated it (plus its index, for messages). */
export interface ListenerEntry {
  /** The entry's keys. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Its path in the config (`listeners[2]`). */
  readonly at: string;
}

/** What the loader knows when it reads a listener's protocol-specific keys. */
export interface ListenerOptionsContext {
  /** The fields every listener has, already read. */
  base: { name: string; listen: string; port: number; allowPrivateDestinations?: true | string[] };
  /** Top-level `authentication:` users, for listeners without their own. */
  globalUsers: UserTable | undefined;
  /** Resolves a relative path against the config's folder. */
  resolvePath(path: string): string;
  /** True when the config came from a file (state files may be kept beside it). */
  fromFile: boolean;
  /** Where problems go; the config is refused when there are any. */
  problems: string[];
}

/** Who a listener's clients are, which decides what DIRECT may not dial for them (ListenerDestinationGuard). */
export type ListenerClients = 'proxy-users' | 'remote-users' | 'tunnel-peers';

/** What Box hands an inbound factory. */
export interface InboundDeps {
  /** Where flows go. */
  dispatcher: Dispatcher;
  /** Log output. */
  logger: Logger;
  /** Events (handshakes, tunnels). */
  bus: EventBus;
  /** Time limits. */
  timeouts: Timeouts;
  /** Which clients may connect and which skip authentication. */
  access: ClientAccess;
  /** What DIRECT may not dial for this listener's clients; none for a local listener. */
  guard: DestinationGuard | undefined;
}

/** A listener protocol. */
export interface InboundRegistration<L extends ListenerConfig = ListenerConfig> {
  /** Who connects to it. */
  readonly clients: ListenerClients;
  /** Bind address when the entry has no `listen`; a loopback one must be opened with allow-lan. */
  readonly defaultListen: string;
  /** Reads the protocol's own keys of a validated entry into plain options; problems go to `context.problems`. */
  options(entry: ListenerEntry, context: ListenerOptionsContext): L;
  /** Builds the listener (not started). */
  create(listener: L, deps: InboundDeps): Inbound;
}

/** What the loader knows when it checks a proxy entry. */
export interface ProxyCheckContext {
  /** Behavior of the rule provider of that name, if there is one. */
  providerBehavior(name: string): string | undefined;
  /** Where problems go. */
  problems: string[];
}

/** What Box hands an outbound factory. */
export interface OutboundDeps {
  /** The shared DNS cache. */
  dns: DnsCache;
  /** Connect timeout, DNS included. */
  connectMs: number;
  /** How its TCP connections are made: the config's keep-alive, tcp-concurrent and binding, with the entry's own `interface-name`/`routing-mark` as `own`. */
  sockets: OutboundSockets;
  /** Log output. */
  logger: Logger;
  /** Events. */
  bus: EventBus;
  /** The outbound this entry built before a reload, when its settings did not change and its protocol keeps outbounds running. */
  previous: Outbound | undefined;
  /** Outbounds kept across reloads that are already built or still running (for resources they divide among themselves, such as routing tables). */
  siblings(): readonly Outbound[];
  /** The prefixes of an ipcidr rule provider of the running config; undefined when there is none of that name. */
  prefixesOf(name: string): string[] | undefined;
}

/** A proxy protocol (`proxies:` entries of one type). */
export interface OutboundRegistration<P extends ProxyConfig = ProxyConfig> {
  /** True when an unchanged entry keeps its running outbound across reloads (a tunnel stays up). */
  readonly keepAcrossReloads?: boolean;
  /** Before schema validation: removes Clash keys sluice ignores (listing them in `ignored`). */
  prepare?(entry: Record<string, unknown>, at: string, ignored: string[]): void;
  /** Before schema validation: why this entry cannot carry flows in sluice (a transport it lacks), if so; it then becomes a placeholder. */
  unsupported?(entry: Readonly<Record<string, unknown>>): string | undefined;
  /** After validation: checks what the schema cannot (key encodings, references to providers). */
  check?(proxy: P, at: string, context: ProxyCheckContext): void;
  /** Builds the outbound. */
  create(proxy: P, deps: OutboundDeps): Outbound;
}

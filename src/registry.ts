/**
 * The one list of protocols: each `protocol/<name>/index.ts` exports its registration
 * (config reading and checks, and the factory), and one line here makes it known to the
 * config loader and to Box. See README "Adding a protocol".
 */
import type { Inbound } from './adapter/inbound.js';
import type { Outbound } from './adapter/outbound.js';
import type { InboundDeps, InboundRegistration, OutboundDeps, OutboundRegistration, ProxyCheckContext } from './adapter/registration.js';
import type { ListenerConfig } from './config/types.js';
import type { ProxyConfig } from './config/proxy-types.js';
import { directOutbound } from './protocol/direct/index.js';
import { httpInbound, httpOutbound } from './protocol/http/index.js';
import { mixedInbound } from './protocol/mixed/index.js';
import { gatewayInbound, tunnelOutbound } from './protocol/pqtunnel/index.js';
import { socksInbound, socksOutbound } from './protocol/socks/index.js';
import { unsupportedOutbound } from './protocol/unsupported/index.js';
import { vmessInbound, vmessOutbound } from './protocol/vmess/index.js';

/** The options of listeners of type T. */
type ListenerOf<T extends ListenerConfig['type']> = ListenerConfig extends infer L ? (L extends { type: infer U } ? (T extends U ? L : never) : never) : never;

/** Listener protocols by `type:`. */
const inbounds: { [T in ListenerConfig['type']]: InboundRegistration<ListenerOf<T>> } = {
  socks: socksInbound,
  http: httpInbound,
  mixed: mixedInbound,
  vmess: vmessInbound,
  pqtunnel: gatewayInbound,
};

/** Proxy protocols by `type:`. */
const outbounds: { [T in ProxyConfig['type']]: OutboundRegistration<Extract<ProxyConfig, { type: T }>> } = {
  direct: directOutbound,
  vmess: vmessOutbound,
  socks5: socksOutbound,
  http: httpOutbound,
  pqtunnel: tunnelOutbound,
  unsupported: unsupportedOutbound,
};

/** The registration of a listener type. */
export function inboundProtocol<T extends ListenerConfig['type']>(type: T): InboundRegistration<ListenerOf<T>> {
  return inbounds[type];
}

/** True when `type` is a `proxies:` type sluice implements. */
export function isProxyType(type: unknown): type is ProxyConfig['type'] {
  return typeof type === 'string' && type !== 'unsupported' && Object.hasOwn(outbounds, type);
}

/** True when `type` is a `listeners:` type sluice implements. */
export function isListenerType(type: unknown): type is ListenerConfig['type'] {
  return typeof type === 'string' && Object.hasOwn(inbounds, type);
}

/**
 * Before schema validation: lets a proxy entry's protocol strip the Clash keys it ignores.
 * Returns why sluice cannot carry flows for this entry (a transport it lacks), if so.
 */
export function prepareProxy(entry: Record<string, unknown>, at: string, ignored: string[]): string | undefined {
  const { type } = entry;
  if (!isProxyType(type)) return undefined;
  const registration = outbounds[type];
  registration.prepare?.(entry, at, ignored);
  return registration.unsupported?.(entry);
}

/** An entry's registration, typed for the entry (TypeScript cannot follow a union member to its own registration). */
function outboundFor(proxy: ProxyConfig): OutboundRegistration {
  return outbounds[proxy.type] as OutboundRegistration;
}

/** Builds the listener of an entry through its protocol. */
export function createInbound(listener: ListenerConfig, deps: InboundDeps): Inbound {
  return (inbounds[listener.type] as InboundRegistration).create(listener, deps);
}

/** Builds the outbound of a `proxies:` entry through its protocol. */
export function createOutbound(proxy: ProxyConfig, deps: OutboundDeps): Outbound {
  return outboundFor(proxy).create(proxy, deps);
}

/** Runs a `proxies:` entry's protocol checks (after schema validation). */
export function checkProxy(proxy: ProxyConfig, at: string, context: ProxyCheckContext): void {
  outboundFor(proxy).check?.(proxy, at, context);
}

/** True when an unchanged entry of this proxy's type keeps its running outbound across reloads. */
export function keepsAcrossReloads(proxy: ProxyConfig): boolean {
  return outboundFor(proxy).keepAcrossReloads ?? false;
}

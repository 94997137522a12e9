/**
 * The one list of protocols: each `protocol/<name>/index.ts` exports its registration
 * (config reading and checks, and the factory), and one line here makes it known to the
 * config loader and to Box. See README "Adding a protocol".
 */
import type { InboundRegistration, OutboundRegistration } from './adapter/registration.js';
import type { ListenerConfig, ProxyConfig } from './config/types.js';
import { directOutbound } from './protocol/direct/index.js';
import { httpInbound } from './protocol/http/index.js';
import { mixedInbound } from './protocol/mixed/index.js';
import { gatewayInbound, tunnelOutbound } from './protocol/pqtunnel/index.js';
import { socksInbound } from './protocol/socks/index.js';
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
  pqtunnel: tunnelOutbound,
};

/** The registration of a listener type. */
export function inboundProtocol<T extends ListenerConfig['type']>(type: T): InboundRegistration<ListenerOf<T>> {
  return inbounds[type];
}

/** The registration of a proxy type; undefined for a type sluice does not implement. */
export function outboundProtocol<T extends ProxyConfig['type']>(type: T): OutboundRegistration<Extract<ProxyConfig, { type: T }>> | undefined {
  return Object.hasOwn(outbounds, type) ? outbounds[type] : undefined;
}

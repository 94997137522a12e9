/** The top-level keys that decide how sluice's outgoing sockets are made (see common/socket-options.ts). */
import { defaultOutboundSockets, type OutboundSockets, type SocketBinding } from '../common/socket-options.js';

/** mihomo's top-level keys for outgoing sockets and delay tests, as the schema validated them. */
export interface RawSocketSettings {
  /** Connect to every resolved address at once. */
  'tcp-concurrent'?: boolean;
  /** Seconds without traffic before the first keep-alive probe (0: the default, 15). */
  'keep-alive-idle'?: number;
  /** Seconds between keep-alive probes (0: the default, 15). */
  'keep-alive-interval'?: number;
  /** No keep-alive probes at all. */
  'disable-keep-alive'?: boolean;
  /** Interface every outgoing socket is bound to. */
  'interface-name'?: string;
  /** fwmark every outgoing socket carries. */
  'routing-mark'?: number;
  /** Delay tests time a second request on the connection (handshakes left out). */
  'unified-delay'?: boolean;
}

/** The outgoing-socket settings of a config (mihomo's defaults for keys it leaves out). */
export function buildOutboundSockets(raw: RawSocketSettings): OutboundSockets {
  const idle = raw['keep-alive-idle'] || defaultKeepAlive.idleSeconds;
  const interval = raw['keep-alive-interval'] || defaultKeepAlive.intervalSeconds;
  return {
    keepAlive: raw['disable-keep-alive'] === true ? false : { idleSeconds: idle, intervalSeconds: interval },
    concurrent: raw['tcp-concurrent'] ?? false,
    binding: bindingOf(raw),
  };
}

const defaultKeepAlive = defaultOutboundSockets.keepAlive as Exclude<OutboundSockets['keepAlive'], false>;

/** A group's binding, or undefined when it sets neither key (its flows then carry nothing to merge). */
export function groupBindingOf(entry: object): SocketBinding | undefined {
  const binding = bindingOf(entry);
  return binding.interfaceName === undefined && binding.routingMark === undefined ? undefined : binding;
}

/** The `interface-name`/`routing-mark` an entry (top level, group, proxy) sets; empty and 0 mean unset, as in mihomo. */
export function bindingOf(entry: object): SocketBinding {
  const { 'interface-name': name, 'routing-mark': mark } = entry as { 'interface-name'?: unknown; 'routing-mark'?: unknown };
  return {
    interfaceName: typeof name === 'string' && name !== '' ? name : undefined,
    routingMark: typeof mark === 'number' && mark !== 0 ? mark : undefined,
  };
}

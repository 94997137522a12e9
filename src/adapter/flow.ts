import type { Address } from '../common/address.js';
import type { SocketBinding } from '../common/socket-options.js';

/** Transport of a flow. */
export type Network = 'tcp' | 'udp';

/**
 * Inbound protocol as Clash's IN-TYPE rule names it: `HTTP` is a plain proxied request,
 * `HTTPS` an HTTP CONNECT tunnel.
 */
export type InboundType = 'SOCKS5' | 'HTTP' | 'HTTPS' | 'VMESS' | 'TUN' | 'INNER';

/** Decides which resolved addresses the clients of a listener may reach directly. */
export interface DestinationGuard {
  /** Why `ip` may not be dialed for these clients, or undefined when it may. */
  problem(ip: string): string | undefined;
}

/** Which listener accepted a flow. */
export interface InboundInfo {
  /** Listener name (`DEFAULT-MIXED`, or the `name` of a `listeners:` entry). */
  readonly name: string;
  /** Protocol the client spoke on this flow. */
  readonly type: InboundType;
  /** Local port the listener accepted on. */
  readonly port: number;
  /** What DIRECT may not dial for this listener's clients (loopback, private ranges…); none for a local listener. */
  readonly guard?: DestinationGuard;
}

/** Everything known about one proxied connection (TCP) or one destination of a UDP association. */
export interface Flow {
  /** Process-unique, increasing id. */
  readonly id: number;
  /** `tcp` for a stream, `udp` for datagrams to one destination. */
  readonly network: Network;
  /** The listener that accepted it. */
  readonly inbound: InboundInfo;
  /** The client's address as the listener saw it. */
  readonly source: Address;
  /** Where the client asked to go: IP literal or domain, and port (a sniffed domain replaces it with override-destination). */
  destination: Address;
  /** Domain found by sniffing the first bytes (TLS SNI, HTTP Host), when enabled. */
  domain?: string;
  /** Destination IP: the literal from the request, or the address the router resolved. */
  ip?: string;
  /** User name the client authenticated with, if any. */
  user?: string;
  /** What the router chose; set once, when the flow is routed. */
  decision?: FlowDecision;
  /** Bytes from client to destination. */
  bytesUp: number;
  /** Bytes from destination to client. */
  bytesDown: number;
  /** When the flow began (ms since the epoch). */
  readonly start: number;
  /** Aborted when the flow must end (shutdown, controller close); outbounds stop dialing on it. */
  readonly signal: AbortSignal;
  /** The `interface-name`/`routing-mark` of the groups it was handed through (the innermost's keys win); a proxy's own replace them. */
  binding?: SocketBinding;
}

/** The routing decision a flow records (logs, the controller's connections, metrics). */
export interface FlowDecision {
  /** The rule that chose the outbound, as written (`DOMAIN-SUFFIX,example.com`); empty when none matched. */
  readonly rule: string;
  /** Type and payload of the rule that matched, when one did. */
  readonly matched?: { readonly type: string; readonly payload: string };
  /** The target as logs show it: `PROXY[hk-01]` for group PROXY using member hk-01. */
  readonly chain: string;
  /** The outbound that carries the flow, then each group it was picked through, ending with the rule's target. */
  readonly chains: readonly string[];
}

/** The fields an inbound provides when it opens a flow. */
export interface FlowRequest {
  /** `tcp` or `udp`. */
  network: Network;
  /** The listener that accepted it. */
  inbound: InboundInfo;
  /** Client address. */
  source: Address;
  /** Requested destination. */
  destination: Address;
  /** Authenticated user, if any. */
  user?: string;
}

let nextInnerId = -1;

/** A flow the core opens itself (IN-TYPE INNER): health checks, provider probes. Ids are negative. */
export function innerFlow(host: string, port: number, signal: AbortSignal): Flow {
  return {
    id: nextInnerId--,
    network: 'tcp',
    inbound: { name: 'INNER', type: 'INNER', port: 0 },
    source: { host: '0.0.0.0', port: 0 },
    destination: { host, port },
    bytesUp: 0,
    bytesDown: 0,
    start: Date.now(),
    signal,
  };
}

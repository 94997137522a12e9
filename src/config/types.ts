import type { UserTable } from '../common/auth.js';

/** Listener protocols. */
export type ListenerType = 'socks' | 'http' | 'mixed';

/** One inbound listener, from `port`/`socks-port`/`mixed-port` or a `listeners:` entry. */
export interface ListenerConfig {
  /** Name (`DEFAULT-MIXED` for `mixed-port`). */
  name: string;
  /** Protocol. */
  type: ListenerType;
  /** Bind address. */
  listen: string;
  /** Port; 0 picks one. */
  port: number;
  /** Users required, if any. */
  users?: UserTable;
  /** SOCKS5 UDP ASSOCIATE offered. */
  udp: boolean;
}

/** A `proxies:` entry of a type sluice implements. */
export interface ProxyConfig {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'direct';
}

/** Time limits, in milliseconds. */
export interface Timeouts {
  /** Outbound connect, DNS included. */
  connectMs: number;
  /** Inbound handshake. */
  handshakeMs: number;
  /** TCP flow without traffic. */
  tcpIdleMs: number;
  /** UDP destination/association without datagrams. */
  udpIdleMs: number;
  /** One DNS lookup. */
  dnsMs: number;
  /** DNS cache lifetime. */
  dnsCacheMs: number;
  /** REJECT-DROP hold. */
  rejectDropMs: number;
  /** Shutdown grace for open flows. */
  shutdownGraceMs: number;
}

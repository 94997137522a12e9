import type { UserTable } from '../common/auth.js';

/** Listener protocols. */
export type ListenerType = 'socks' | 'http' | 'mixed' | 'vmess';

/** A user a VMess listener accepts. */
export interface VmessUserConfig {
  /** Name for IN-USER rules and logs (the UUID when not given). */
  username: string;
  /** The user's UUID. */
  uuid: string;
  /** Alter IDs accepted with the legacy header (0: AEAD header only). */
  alterId: number;
}

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
  /** VMess listeners: the accepted users. */
  vmessUsers?: VmessUserConfig[];
}

/** A `proxies:` entry of a type sluice implements. */
export type ProxyConfig = DirectProxyConfig | VmessProxyConfig;

/** `type: direct`: another name for DIRECT. */
export interface DirectProxyConfig {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'direct';
}

/** `type: vmess`: a VMess server over TCP. */
export interface VmessProxyConfig {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'vmess';
  /** Server host. */
  server: string;
  /** Server port. */
  port: number;
  /** User UUID. */
  uuid: string;
  /** 0: AEAD header; more: legacy header. */
  alterId?: number;
  /** Body security; default auto. */
  cipher?: 'auto' | 'aes-128-gcm' | 'chacha20-poly1305' | 'none' | 'zero';
  /** Carry UDP flows. */
  udp?: boolean;
  /** Transport (only tcp works). */
  network?: string;
  /** TLS (not supported yet). */
  tls?: boolean;
  /** Option A. */
  'authenticated-length'?: boolean;
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

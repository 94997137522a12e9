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
  /** One rule-provider download; startup waits at most this long for first downloads. */
  providerDownloadMs: number;
}

/** Proxy group types. */
export type GroupType = 'select' | 'url-test' | 'fallback' | 'load-balance' | 'relay';

/** A `proxy-groups:` entry after validation (defaults applied). */
export interface GroupConfig {
  /** Group name. */
  name: string;
  /** Group type. */
  type: GroupType;
  /** Member names (proxies, groups, built-ins), in order. */
  members: string[];
  /** Health-check URL. */
  url: string;
  /** Seconds between health checks; 0 = never. */
  intervalSeconds: number;
  /** Milliseconds per health check. */
  timeoutMs: number;
  /** Skip checks while the group is unused. */
  lazy: boolean;
  /** url-test hysteresis, ms. */
  toleranceMs: number;
  /** Health-check statuses that count (port-list syntax); undefined = any. */
  expectedStatus?: string;
  /** load-balance strategy. */
  strategy: 'consistent-hashing' | 'round-robin' | 'sticky-sessions';
  /** Never offer UDP through the group. */
  disableUdp: boolean;
}

/** Per-protocol sniffing settings. */
export interface SniffProtocolConfig {
  /** Destination ports to sniff on. */
  ports: { from: number; to: number }[];
  /** Dial the sniffed domain instead of the requested IP. */
  overrideDestination: boolean;
}

/** The `sniffer:` section after validation. */
export interface SnifferConfig {
  /** TLS ClientHello SNI, when enabled. */
  tls?: SniffProtocolConfig;
  /** HTTP/1 Host, when enabled. */
  http?: SniffProtocolConfig;
  /** Sniff flows that arrive with an IP only. */
  parsePureIp: boolean;
  /** Flows to these domains are sniffed even when they arrive with a domain. */
  forceDomain: (host: string) => boolean;
  /** A sniffed name matching these is discarded. */
  skipDomain: (host: string) => boolean;
  /** Clients never sniffed. */
  skipSource: (ip: string) => boolean;
  /** Destinations never sniffed. */
  skipDestination: (ip: string) => boolean;
  /** Milliseconds to wait for the client's first bytes. */
  timeoutMs: number;
}

/** `external-controller` and its settings. */
export interface ControllerConfig {
  /** Listen address. */
  host: string;
  /** Listen port. */
  port: number;
  /** Bearer secret; empty = no authentication. */
  secret: string;
  /** CORS origins (`*` = any). */
  allowOrigins: string[];
  /** Answer Private Network Access preflights. */
  allowPrivateNetwork: boolean;
  /** Absolute path of a dashboard folder served under /ui/, if any. */
  uiDir?: string;
}

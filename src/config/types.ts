import type { MemberFilterSettings } from '../route/group/member-filter.js';
import type { UserTable } from '../common/auth.js';
import type { SocketBinding } from '../common/socket-options.js';

/** Listener protocols. */
export type ListenerType = ListenerConfig['type'];

/** A user a VMess listener accepts. */
export interface VmessUserConfig {
  /** Name for IN-USER rules and logs (the UUID when not given). */
  username: string;
  /** The user's UUID. */
  uuid: string;
  /** Alter IDs accepted with the legacy header (0: AEAD header only). */
  alterId: number;
}

/** What every listener has, from `port`/`socks-port`/`mixed-port` or a `listeners:` entry. */
interface ListenerBase {
  /** Name (`DEFAULT-MIXED` for `mixed-port`). */
  name: string;
  /** Bind address. */
  listen: string;
  /** Port; 0 picks one. */
  port: number;
  /** `allow-private-destinations`: true opens every destination, a list opens those prefixes (see ListenerDestinationGuard). */
  allowPrivateDestinations?: true | string[];
}

/** A SOCKS5, HTTP or mixed listener. */
export interface ProxyListenerConfig extends ListenerBase {
  /** Protocol. */
  type: 'socks' | 'http' | 'mixed';
  /** Users required, if any. */
  users?: UserTable;
  /** SOCKS5 UDP ASSOCIATE offered. */
  udp: boolean;
}

/** A VMess server listener. */
export interface VmessListenerConfig extends ListenerBase {
  /** Protocol. */
  type: 'vmess';
  /** The accepted users. */
  users: VmessUserConfig[];
}

/** A post-quantum tunnel gateway listener. */
export interface TunnelGatewayListenerConfig extends ListenerBase {
  /** Protocol. */
  type: 'pqtunnel';
  /** The gateway's settings. */
  gateway: TunnelGatewayConfig;
}

/** One inbound listener: plain options, one shape per protocol. */
export type ListenerConfig = ProxyListenerConfig | VmessListenerConfig | TunnelGatewayListenerConfig;

/** A client a tunnel gateway accepts (`listeners[].peers[]`). */
export interface TunnelPeerConfig {
  /** Name for logs. */
  name: string;
  /** The client's static public key (base64 or file:PATH). */
  'public-key': string;
  /** Optional pre-shared key. */
  'pre-shared-key'?: string;
  /** Fixed virtual addresses instead of a lease. */
  address?: string[];
  /** Prefixes this client may reach despite the local-network protection. */
  'allow-destinations'?: string[];
}

/** A `listeners:` entry `type: pqtunnel`: the tunnel gateway. */
export interface TunnelGatewayConfig {
  /** Listener name. */
  name: string;
  /** UDP bind address; default 0.0.0.0. */
  listen?: string;
  /** UDP port. */
  port: number;
  /** The gateway's private key. */
  'private-key': string;
  /** The next identity during a key rotation. */
  'next-private-key'?: string;
  /** TUN device name and MTU; default pq0, 1420. */
  tun?: { name?: string; mtu?: number };
  /** Client IPv4 pool; its first address is the gateway's. */
  'ipv4-pool': string;
  /** Client IPv6 pool. */
  'ipv6-pool'?: string;
  /** NAT for the pools; default masquerade. */
  nat?: 'masquerade' | 'none';
  /** Lease file, resolved against the config directory by the loader. */
  'lease-file'?: string;
  /** Authorised clients. */
  peers: TunnelPeerConfig[];
}

/** Time limits, in milliseconds. */
export interface Timeouts {
  /** Outbound connect, DNS included. */
  connectMs: number;
  /** Inbound handshake; also the most a later HTTP request head may take once it started. */
  handshakeMs: number;
  /** An HTTP proxy client idle between requests (every response sent) is disconnected after this. */
  httpKeepAliveMs: number;
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
  /** Member names (proxies, groups, built-ins), in order, filters applied; providers' proxies join them at run time. */
  members: string[];
  /** proxy-providers whose proxies join the members (after the group's filters). */
  use: string[];
  /** `filter`, `exclude-filter`, `exclude-type`, for the providers' proxies. */
  filter: MemberFilterSettings;
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
  /** `hidden`: dashboards do not show it. */
  hidden: boolean;
  /** `icon`: a picture URL dashboards show. */
  icon?: string;
  /** `interface-name`/`routing-mark`: how members dial the flows this group hands them (their own settings win). */
  binding?: SocketBinding;
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
  /** Origins browsers may call it from besides its own (`*`: any; honoured only with a secret). Default: `*` with a secret, none without. */
  allowOrigins: string[];
  /** Answer Private Network Access preflights. */
  allowPrivateNetwork: boolean;
  /** Absolute path of a dashboard folder served under /ui/, if any. */
  uiDir?: string;
}

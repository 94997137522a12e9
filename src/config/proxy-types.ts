/** `proxies:` entries after validation: one shape per protocol, and the placeholder of types sluice lacks. */

/** Keys every dialing proxy type has in mihomo: how it reaches its server. */
export interface DialerKeys {
  /** Reach the server (for direct: the destination) through this proxy or group. */
  'dialer-proxy'?: string;
  /** Bind its sockets to this interface (replaces a group's and the top-level one). */
  'interface-name'?: string;
  /** fwmark of its sockets (replaces a group's and the top-level one). */
  'routing-mark'?: number;
}

/** A `proxies:` entry: a type sluice implements, or the placeholder of one it does not. */
export type ProxyConfig = DirectProxyConfig | VmessProxyConfig | Socks5ProxyConfig | HttpProxyConfig | TunnelProxyConfig | UnsupportedProxyConfig;

/** `type: socks5`: a SOCKS5 server. */
export interface Socks5ProxyConfig extends DialerKeys {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'socks5';
  /** Server host. */
  server: string;
  /** Server port. */
  port: number;
  /** User name (RFC 1929), if the server wants one. */
  username?: string;
  /** Password. */
  password?: string;
  /** SOCKS5 inside TLS. */
  tls?: boolean;
  /** Accept any certificate. */
  'skip-cert-verify'?: boolean;
  /** Carry UDP flows (UDP ASSOCIATE). */
  udp?: boolean;
}

/** `type: http`: an HTTP proxy, through CONNECT. */
export interface HttpProxyConfig extends DialerKeys {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'http';
  /** Server host. */
  server: string;
  /** Server port. */
  port: number;
  /** User name (Basic). */
  username?: string;
  /** Password. */
  password?: string;
  /** An HTTPS proxy. */
  tls?: boolean;
  /** TLS server name, when not `server`. */
  sni?: string;
  /** Accept any certificate. */
  'skip-cert-verify'?: boolean;
  /** Headers sent with every CONNECT. */
  headers?: Record<string, string>;
}

/** A `proxies:` entry sluice keeps listed but cannot dial: a type or transport it does not implement. */
export interface UnsupportedProxyConfig {
  /** Name rules refer to. */
  name: string;
  /** Marks the placeholder (never written in a config). */
  type: 'unsupported';
  /** The entry's `type:` as written (tuic, vless, …). */
  protocol: string;
  /** Why it cannot be dialed, e.g. "type 'tuic' is not supported by sluice". */
  reason: string;
}

/** `type: direct`: another name for DIRECT. */
export interface DirectProxyConfig extends DialerKeys {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'direct';
}

/** `type: vmess`: a VMess server over TCP. */
export interface VmessProxyConfig extends DialerKeys {
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
  /** Transport (only tcp: other transports make the entry a placeholder before it gets here). */
  network?: string;
  /** TLS (sluice lacks it yet: such an entry becomes a placeholder before it gets here). */
  tls?: boolean;
  /** Option A. */
  'authenticated-length'?: boolean;
}

/** `type: pqtunnel`: the client side of the post-quantum tunnel. */
export interface TunnelProxyConfig {
  /** Name rules refer to. */
  name: string;
  /** Proxy type. */
  type: 'pqtunnel';
  /** Gateway host. */
  server: string;
  /** Gateway UDP port. */
  port: number;
  /** The client's private key. */
  'private-key': string;
  /** The gateway's public key (the pin). */
  'public-key': string;
  /** Optional pre-shared key. */
  'pre-shared-key'?: string;
  /** Keepalive seconds; 0 turns it off; default 25. */
  'persistent-keepalive'?: number;
  /** Tunnel MTU; default 1420. */
  mtu?: number;
  /** proxy-outbound (default) or full-tunnel. */
  mode?: 'proxy-outbound' | 'full-tunnel';
  /** CIDRs or rule-set names that bypass the tunnel in full-tunnel mode. */
  'exclude-routes'?: string[];
  /** Carry UDP flows; default true. */
  udp?: boolean;
  /** Fixed local UDP port of the tunnel socket. */
  'listen-port'?: number;
  /** TUN device name; default pqc%d. */
  'tun-name'?: string;
}


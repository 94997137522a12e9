/** Registration of SOCKS5 (RFC 1928): `type: socks` listeners and `type: socks5` proxies. */
import type { OutboundRegistration } from '../../adapter/registration.js';
import type { Socks5ProxyConfig } from '../../config/proxy-types.js';
import { credentialsOf, ignoredClientKeys, ignoreKeys } from '../proxy-entry.js';
import { proxyListener } from '../listener.js';
import { Socks5Outbound } from './outbound.js';
import { handleSocks } from './inbound.js';

/** `listeners: - type: socks` and `socks-port`. */
export const socksInbound = proxyListener('socks', handleSocks);

/** `proxies: - type: socks5`: CONNECT, and UDP ASSOCIATE when `udp` is on (default off, as in mihomo). */
export const socksOutbound: OutboundRegistration<Socks5ProxyConfig> = {
  prepare: ignoreKeys(ignoredClientKeys),
  create: (proxy, { dns, connectMs, sockets }) =>
    new Socks5Outbound(
      proxy.name,
      {
        server: { host: proxy.server, port: proxy.port },
        credentials: credentialsOf(proxy),
        tls: proxy.tls ? { skipCertVerify: proxy['skip-cert-verify'] ?? false } : undefined,
        udp: proxy.udp ?? false,
      },
      { dns, timeoutMs: connectMs, sockets },
    ),
};

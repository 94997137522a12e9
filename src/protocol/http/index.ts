/** Registration of HTTP proxying: `type: http` listeners (CONNECT and absolute-URI requests) and `type: http` proxies (CONNECT). */
import type { OutboundRegistration } from '../../adapter/registration.js';
import type { HttpProxyConfig } from '../../config/proxy-types.js';
import { credentialsOf, ignoredClientKeys, ignoreKeys } from '../proxy-entry.js';
import { proxyListener } from '../listener.js';
import { HttpProxyOutbound } from './outbound.js';
import { handleHttp } from './inbound.js';

/** `listeners: - type: http` and `port`. */
export const httpInbound = proxyListener('http', handleHttp);

/** `proxies: - type: http`: CONNECT tunnels through an HTTP or (with `tls`) HTTPS proxy. */
export const httpOutbound: OutboundRegistration<HttpProxyConfig> = {
  prepare: ignoreKeys(ignoredClientKeys),
  create: (proxy, { dns, connectMs, sockets }) =>
    new HttpProxyOutbound(
      proxy.name,
      {
        server: { host: proxy.server, port: proxy.port },
        credentials: credentialsOf(proxy),
        tls: proxy.tls ? { servername: proxy.sni || proxy.server, skipCertVerify: proxy['skip-cert-verify'] ?? false } : undefined,
        headers: proxy.headers ?? {},
      },
      { dns, timeoutMs: connectMs, sockets },
    ),
};

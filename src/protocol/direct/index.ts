/** Registration of `type: direct` proxies: another name for DIRECT. */
import type { OutboundRegistration } from '../../adapter/registration.js';
import type { DirectProxyConfig } from '../../config/proxy-types.js';
import { DirectOutbound } from './outbound.js';

/** `proxies: - type: direct`. */
export const directOutbound: OutboundRegistration<DirectProxyConfig> = {
  create: (proxy, { dns, connectMs, sockets }) => new DirectOutbound(proxy.name, dns, connectMs, sockets),
};

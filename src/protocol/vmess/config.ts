import type { DnsCache } from '../../common/dns-cache.js';
import type { VmessProxyConfig, VmessUserConfig } from '../../config/types.js';
import type { ConnectionHandler } from '../listener.js';
import type { VmessClientConfig } from './client.js';
import { vmessIdentity } from './identity.js';
import { vmessHandler, type VmessUserInfo } from './inbound.js';
import { VmessOutbound } from './outbound.js';
import { Security } from './request-header.js';
import { VmessServer } from './server.js';

const securityByCipher = {
  auto: Security.aes128Gcm,
  'aes-128-gcm': Security.aes128Gcm,
  'chacha20-poly1305': Security.chacha20Poly1305,
  none: Security.none,
  zero: Security.none,
} as const;

/** Builds the outbound for a Clash `type: vmess` proxy entry (`auto` is aes-128-gcm: Node has fast GCM everywhere). */
export function vmessOutbound(proxy: VmessProxyConfig, dns: DnsCache, connectTimeoutMs: number): VmessOutbound {
  const alterId = proxy.alterId ?? 0;
  const cipher = proxy.cipher ?? 'auto';
  const config: VmessClientConfig = {
    identity: vmessIdentity(proxy.uuid, alterId),
    alterId,
    security: securityByCipher[cipher],
    zero: cipher === 'zero',
    authenticatedLength: proxy['authenticated-length'] ?? false,
  };
  return new VmessOutbound(proxy.name, { host: proxy.server, port: proxy.port }, config, proxy.udp ?? false, dns, connectTimeoutMs);
}

/** Builds the connection handler of a `type: vmess` listener. */
export function vmessListenerHandler(users: readonly VmessUserConfig[]): ConnectionHandler {
  const server = new VmessServer<VmessUserInfo>(
    users.map((user) => ({ identity: vmessIdentity(user.uuid, user.alterId), info: { username: user.username } })),
  );
  return vmessHandler(server);
}

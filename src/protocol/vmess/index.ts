/** Registration of VMess: `type: vmess` listeners (the server) and proxies (the client). */
import type { InboundRegistration, OutboundRegistration } from '../../adapter/registration.js';
import type { VmessListenerConfig } from '../../config/types.js';
import type { VmessProxyConfig } from '../../config/proxy-types.js';
import { ignoreKeys } from '../proxy-entry.js';
import { tcpListener } from '../listener.js';
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

/** mihomo `type: vmess` proxy keys sluice does not implement yet (warned about, ignored). */
const ignoredClashKeys = [
  'servername', 'skip-cert-verify', 'ws-opts', 'h2-opts', 'http-opts', 'grpc-opts', 'packet-encoding',
  'global-padding', 'client-fingerprint', 'fingerprint', 'smux', 'ip-version',
  'tfo', 'mptcp', 'xudp', 'packet-addr', 'alpn',
];

/** `proxies: - type: vmess` (`cipher: auto` is aes-128-gcm: Node has fast GCM everywhere). */
export const vmessOutbound: OutboundRegistration<VmessProxyConfig> = {
  prepare: ignoreKeys(ignoredClashKeys),
  unsupported(entry) {
    if (entry.network !== undefined && entry.network !== 'tcp') return `VMess over '${String(entry.network)}' is not supported by sluice yet (only tcp)`;
    if (entry.tls === true || entry.tls === 'true') return 'VMess over TLS is not supported by sluice yet';
    return undefined;
  },
  create(proxy, { dns, connectMs, sockets }) {
    const alterId = proxy.alterId ?? 0;
    const cipher = proxy.cipher ?? 'auto';
    const config: VmessClientConfig = {
      identity: vmessIdentity(proxy.uuid, alterId),
      alterId,
      security: securityByCipher[cipher],
      zero: cipher === 'zero',
      authenticatedLength: proxy['authenticated-length'] ?? false,
    };
    return new VmessOutbound(proxy.name, { host: proxy.server, port: proxy.port }, config, proxy.udp ?? false, dns, connectMs, sockets);
  },
};

/** `listeners: - type: vmess`: users by UUID (named by `username`, else their UUID). */
export const vmessInbound: InboundRegistration<VmessListenerConfig> = {
  clients: 'remote-users',
  defaultListen: '127.0.0.1',
  options: ({ raw }, { base }) => {
    const users = (raw.users ?? []) as { username?: string; uuid: string; alterId?: number }[];
    return { ...base, type: 'vmess', users: users.map((u) => ({ username: u.username ?? u.uuid, uuid: u.uuid, alterId: u.alterId ?? 0 })) };
  },
  create(listener, deps) {
    const server = new VmessServer<VmessUserInfo>(
      listener.users.map((user) => ({ identity: vmessIdentity(user.uuid, user.alterId), info: { username: user.username } })),
    );
    return tcpListener(listener, deps, vmessHandler(server));
  },
};

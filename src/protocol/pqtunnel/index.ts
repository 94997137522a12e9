/** Registration of the post-quantum tunnel: `type: pqtunnel` listeners (the gateway) and proxies (the client). */
import type { InboundRegistration, OutboundRegistration } from '../../adapter/registration.js';
import { prefixList } from '../../config/access.js';
import { showValue } from '../../config/errors.js';
import type { TunnelGatewayConfig, TunnelGatewayListenerConfig } from '../../config/types.js';
import type { TunnelProxyConfig } from '../../config/proxy-types.js';
import { parsePrefix } from '../../route/match/ip-set.js';
import { TunnelGatewayListener } from './gateway-listener.js';
import { decodeKey } from './crypto/keys.js';
import { inPool, parsePool, type Pool } from './engine/leases.js';
import { TunnelOutbound } from './outbound.js';

/** First routing table and rule priority the tunnel outbounds own (spec §8.6). */
const tunnelTableBase = 51820;
const tunnelPriorityBase = 9100;

/** Key fields of the pqtunnel entries, checked by decoding them. */
const keyFields = ['private-key', 'next-private-key', 'public-key', 'pre-shared-key'] as const;

/** `listeners: - type: pqtunnel`: the gateway, on every address by default (it is meant to be reached). */
export const gatewayInbound: InboundRegistration<TunnelGatewayListenerConfig> = {
  clients: 'tunnel-peers',
  defaultListen: '0.0.0.0',
  options({ raw, at }, { base, fromFile, resolvePath, problems }) {
    const gateway = raw as unknown as TunnelGatewayConfig;
    checkKeys(raw, at, problems);
    checkGatewayAddresses(gateway, at, problems);
    const leaseFile = gateway['lease-file'] ?? (fromFile ? `pqtunnel-${gateway.name.replace(/[^\w.-]/g, '_')}-leases.json` : undefined);
    return { ...base, type: 'pqtunnel', gateway: { ...gateway, 'lease-file': leaseFile === undefined ? undefined : resolvePath(leaseFile) } };
  },
  create: (listener, { logger, bus }) => new TunnelGatewayListener(listener.gateway, logger, bus),
};

/** `proxies: - type: pqtunnel`: an unchanged entry keeps its tunnel up across reloads; each tunnel owns a routing table. */
export const tunnelOutbound: OutboundRegistration<TunnelProxyConfig> = {
  keepAcrossReloads: true,
  check(proxy, at, { providerBehavior, problems }) {
    checkKeys(proxy as unknown as Record<string, unknown>, at, problems);
    (proxy['exclude-routes'] ?? []).forEach((entry, j) => {
      const where = `${at}.exclude-routes[${j}]`;
      if (entry.includes('/')) {
        try {
          parsePrefix(entry);
        } catch (error) {
          problems.push(`${where}: ${(error as Error).message}`);
        }
      } else if (providerBehavior(entry) !== 'ipcidr') {
        problems.push(`${where}: ${showValue(entry)} is neither a CIDR prefix nor the name of an ipcidr rule-provider`);
      }
    });
  },
  create(proxy, { previous, siblings, dns, connectMs, logger, bus, prefixesOf }) {
    if (previous instanceof TunnelOutbound) return previous;
    const taken = new Set(siblings().flatMap((tunnel) => (tunnel instanceof TunnelOutbound ? [tunnel.slot.table] : [])));
    let index = 0;
    while (taken.has(tunnelTableBase + index)) index++;
    const slot = { table: tunnelTableBase + index, priority: tunnelPriorityBase + index * 3, prefixesOf };
    return new TunnelOutbound(proxy, slot, dns, connectMs, logger, bus);
  },
};

/** Decodes every key of a pqtunnel entry (and of its peers), reporting the path of a bad one. */
function checkKeys(entry: Readonly<Record<string, unknown>>, path: string, problems: string[]): void {
  const check = (value: unknown, at: string): void => {
    if (typeof value !== 'string') return;
    try {
      decodeKey(value, 'key');
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}`);
    }
  };
  for (const field of keyFields) check(entry[field], `${path}.${field}`);
  const peers = Array.isArray(entry.peers) ? (entry.peers as Record<string, unknown>[]) : [];
  peers.forEach((peer, i) => {
    for (const field of keyFields) check(peer[field], `${path}.peers[${i}].${field}`);
  });
}

/** Checks that the pools and fixed peer addresses of a gateway are usable. */
function checkGatewayAddresses(gateway: TunnelGatewayConfig, path: string, problems: string[]): void {
  const pools: Pool[] = [];
  for (const key of ['ipv4-pool', 'ipv6-pool'] as const) {
    const text = gateway[key];
    if (text === undefined) continue;
    try {
      const pool = parsePool(text);
      if ((pool.family === 4) !== (key === 'ipv4-pool')) throw new Error(`${showValue(text)} is not an ${key === 'ipv4-pool' ? 'IPv4' : 'IPv6'} prefix`);
      pools.push(pool);
    } catch (error) {
      problems.push(`${path}.${key}: ${(error as Error).message}`);
    }
  }
  gateway.peers.forEach((peer, i) => {
    (peer.address ?? []).forEach((address, j) => {
      const bare = address.replace(/\/\d+$/, '');
      if (!pools.some((pool) => inPool(pool, bare))) problems.push(`${path}.peers[${i}].address[${j}]: ${showValue(address)} is not inside a pool of this gateway`);
    });
    prefixList(peer['allow-destinations'], `${path}.peers[${i}].allow-destinations`, problems);
  });
}

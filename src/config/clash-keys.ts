import type { ProxyConfig } from './proxy-types.js';

/**
 * What mihomo knows that sluice does not implement yet. A config using these still loads (one
 * warning names them); a top-level key mihomo does not know either is ignored with its own
 * warning, as mihomo ignores it, unless it looks like a typo of a key sluice reads.
 */
export const clashTopLevelKeys: ReadonlySet<string> = new Set([
  'redir-port', 'tproxy-port', 'ss-config', 'vmess-config', 'inbound-tfo', 'inbound-mptcp',
  'external-controller-tls', 'external-controller-unix',
  'external-controller-pipe', 'external-ui-name',
  'external-ui-url', 'external-doh-server',
  'find-process-mode', 'global-client-fingerprint', 'global-ua', 'etag-support',
  'geodata-loader', 'geosite-matcher',
  'use-hosts', 'use-system-hosts', 'tun', 'tuic-server',
  'tunnels', 'ntp', 'experimental', 'iptables', 'tls', 'clash-for-android', 'log-file', 'authentication-bypass',
]);

/** Legacy top-level keys of old Clash and subconverter templates, read as their current names. */
export const legacyTopLevelKeys: Readonly<Record<string, string>> = {
  Proxy: 'proxies',
  'Proxy Group': 'proxy-groups',
  Rule: 'rules',
};

/** mihomo listener keys sluice does not implement yet. */
export const clashListenerKeys: ReadonlySet<string> = new Set(['rule', 'proxy']);

/** Proxy types mihomo knows, by `type:`, with the adapter type name its API shows. */
export const clashProxyTypes: ReadonlyMap<string, string> = new Map([
  ['ss', 'Shadowsocks'], ['ssr', 'ShadowsocksR'], ['socks5', 'Socks5'], ['http', 'Http'], ['vmess', 'Vmess'],
  ['vless', 'Vless'], ['snell', 'Snell'], ['trojan', 'Trojan'], ['hysteria', 'Hysteria'], ['hysteria2', 'Hysteria2'],
  ['wireguard', 'WireGuard'], ['tuic', 'Tuic'], ['direct', 'Direct'], ['dns', 'Dns'], ['reject', 'Reject'],
  ['ssh', 'Ssh'], ['mieru', 'Mieru'], ['anytls', 'AnyTLS'],
]);

/** The adapter type name of a `proxies:` entry (what `exclude-type` compares and the controller shows). */
export function proxyAdapterType(proxy: ProxyConfig): string {
  if (proxy.type === 'unsupported') return clashProxyTypes.get(proxy.protocol) ?? proxy.protocol;
  return clashProxyTypes.get(proxy.type) ?? 'PqTunnel';
}

/** Listener types mihomo knows (`listeners: - type:`). */
export const clashListenerTypes: ReadonlySet<string> = new Set([
  'socks', 'http', 'tproxy', 'redir', 'mixed', 'tunnel', 'tun', 'shadowsocks', 'vmess', 'vless', 'trojan',
  'hysteria2', 'tuic', 'anytls', 'mieru', 'sudoku',
]);

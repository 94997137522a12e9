/**
 * Keys mihomo/Clash defines that sluice does not implement yet. A config using them still
 * loads (with one warning naming them); any other unknown key is an error.
 */
export const clashTopLevelKeys: ReadonlySet<string> = new Set([
  'redir-port', 'tproxy-port',
  'ipv6', 'external-controller-tls', 'external-controller-unix',
  'external-controller-pipe', 'external-ui-name',
  'external-ui-url', 'external-doh-server', 'interface-name', 'routing-mark',
  'tcp-concurrent', 'find-process-mode', 'global-client-fingerprint', 'global-ua', 'etag-support',
  'keep-alive-idle', 'keep-alive-interval', 'disable-keep-alive', 'unified-delay', 'geodata-mode',
  'geodata-loader', 'geosite-matcher', 'geo-auto-update', 'geo-update-interval', 'geox-url',
  'hosts', 'use-hosts', 'use-system-hosts', 'dns', 'tun',
  'tunnels', 'ntp', 'experimental', 'iptables', 'proxy-providers', 'tls', 'clash-for-android', 'log-file', 'authentication-bypass',
]);

/** mihomo listener keys sluice does not implement yet. */
export const clashListenerKeys: ReadonlySet<string> = new Set(['rule', 'proxy']);

/** Proxy types mihomo knows; sluice names them in a 'not supported yet' error. */
export const clashProxyTypes: ReadonlySet<string> = new Set([
  'vless', 'ss', 'ssr', 'socks5', 'http', 'trojan', 'hysteria', 'hysteria2', 'tuic',
  'wireguard', 'snell', 'mieru', 'anytls', 'ssh', 'dns', 'reject',
]);

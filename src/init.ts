import { v4 as uuidv4 } from 'uuid';
import { generatePresharedKey, generatePrivateKey, publicKeyOf } from './protocol/pqtunnel/crypto/keys.js';

/** What `sluice init` can write. */
export type InitKind = 'client' | 'server' | 'gateway';

/** A generated config and, for servers, what to paste into a client's config. */
export interface InitResult {
  /** The commented YAML config. */
  config: string;
  /** A `proxies:` entry for the client side (server and gateway). */
  clientSnippet?: string;
}

const clientRules = `rules:
  # LAN and mainland China go direct (GEOSITE,cn is the bundled rules/geosite/cn.list; GEOIP uses
  # the bundled country database), everything else through PROXY. No rule here resolves names
  # locally: a domain not on the list goes to PROXY, which resolves it remotely.
  - GEOSITE,cn,DIRECT
  - GEOIP,LAN,DIRECT,no-resolve
  - MATCH,PROXY
`;

/** Builds the config for `sluice init --client|--server|--gateway`; `host` is the server's public name for snippets. */
export function initConfig(kind: InitKind, host: string): InitResult {
  if (kind === 'client') {
    return {
      config: `# sluice client config, written by 'sluice init --client'. Check it with 'sluice check -f <file>'.
# A mixed SOCKS5/HTTP proxy for this machine on 127.0.0.1:7890 (point the browser or OS at it).
mixed-port: 7890
allow-lan: false
log-level: info
mode: rule

# Controller API for dashboards (yacd, metacubexd) and 'sluice status'.
external-controller: 127.0.0.1:9090
secret: ${generatePresharedKey().slice(0, 24)}

proxies:
  # Paste the entry 'sluice init --server' printed here, for example:
  # - { name: my-server, type: vmess, server: server.example, port: 10086, uuid: <uuid>, alterId: 0, cipher: auto, udp: true }

proxy-groups:
  - name: PROXY
    type: select
    # Add your proxies' names in front of DIRECT.
    proxies: [DIRECT]

${clientRules}`,
    };
  }
  if (kind === 'server') {
    const uuid = uuidv4();
    return {
      config: `# sluice VMess server config, written by 'sluice init --server'. Clients: v2ray/Xray, Clash/mihomo, sluice.
allow-lan: true              # the VMess listener below accepts connections from other hosts
log-level: info

listeners:
  - name: vmess-in
    type: vmess
    listen: 0.0.0.0
    port: 10086
    users:
      - { username: client-1, uuid: ${uuid}, alterId: 0 }   # 'sluice uuid' makes more

rules:
  # Clients of a vmess listener reach no private, loopback or link-local address and nothing
  # on this host: sluice checks every address it dials for them (after DNS, so a name that
  # resolves to 127.0.0.1 is caught too). allow-private-destinations on the listener opens a prefix.
  - MATCH,DIRECT
`,
      clientSnippet: `  - { name: sluice-${host}, type: vmess, server: ${host}, port: 10086, uuid: ${uuid}, alterId: 0, cipher: auto, udp: true }\n`,
    };
  }
  const gatewayKey = generatePrivateKey();
  const clientKey = generatePrivateKey();
  const psk = generatePresharedKey();
  return {
    config: `# sluice post-quantum tunnel gateway, written by 'sluice init --gateway'.
# Clients reach it over UDP; it writes their packets to a TUN device and NATs them out.
# (The gateway side runs once the TUN/NAT support lands; 'sluice check' validates this file today.)
allow-lan: true
log-level: info

listeners:
  - name: pq-gateway
    type: pqtunnel
    listen: 0.0.0.0
    port: 51820
    private-key: ${gatewayKey}   # public key: ${publicKeyOf(gatewayKey)}
    tun: { name: sluice0, mtu: 1380 }
    ipv4-pool: 10.77.0.0/24
    nat: masquerade
    peers:
      - name: client-1
        public-key: ${publicKeyOf(clientKey)}
        pre-shared-key: ${psk}
        address: [10.77.0.2/32]

rules:
  - MATCH,DIRECT
`,
    clientSnippet: `  - { name: pq-${host}, type: pqtunnel, server: ${host}, port: 51820, private-key: ${clientKey}, public-key: ${publicKeyOf(gatewayKey)}, pre-shared-key: ${psk}, mode: proxy-outbound }\n`,
  };
}

/**
 * Share-link subscriptions (what v2rayN-style servers send: one link per line, often the
 * whole list in base64) to mihomo proxy maps, with the fields mihomo's converter gives them:
 * `vmess://` (v2rayN JSON, or Xray's URL form), `ss://` (SIP002 and the legacy all-base64
 * form, obfs plugin), `trojan://`, `vless://`, `hysteria://`, `hysteria2://`/`hy2://`,
 * `tuic://`, `ssr://`. Names repeated in one list get `-01`, `-02`… as in mihomo.
 */

/** A proxy as a `proxies:` entry (before validation). */
export type ProxyMap = Record<string, unknown>;

const base64Text = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Strict base64 (standard or URL alphabet, padded or not); undefined when `text` is not base64. */
export function decodeBase64(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || !base64Text.test(compact)) return undefined;
  return Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
}

/** True when the text looks like a share-link list (possibly base64 of one). */
export function isShareLinkList(text: string): boolean {
  const plain = decodeBase64(text) ?? text;
  return /^[a-z][a-z0-9+.-]*:\/\//im.test(plain.trimStart());
}

/** The proxies of a share-link list; lines that are not links of a known scheme are counted in `skipped`. */
export function parseShareLinks(text: string): { proxies: ProxyMap[]; skipped: string[] } {
  const plain = decodeBase64(text) ?? text;
  const names = new Map<string, number>();
  const unique = (name: string): string => {
    const seen = names.get(name);
    names.set(name, seen === undefined ? 0 : seen + 1);
    return seen === undefined ? name : `${name}-${String(seen + 1).padStart(2, '0')}`;
  };
  const proxies: ProxyMap[] = [];
  const skipped: string[] = [];
  for (const raw of plain.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(line)?.[1]?.toLowerCase();
    let proxy: ProxyMap | undefined;
    try {
      proxy = scheme ? parsers[scheme]?.(line) : undefined;
    } catch {
      proxy = undefined;
    }
    if (!proxy) {
      skipped.push(scheme ? `${scheme}://` : line.slice(0, 20));
      continue;
    }
    proxy.name = unique(String(proxy.name ?? ''));
    proxies.push(proxy);
  }
  return { proxies, skipped };
}

const parsers: Record<string, (line: string) => ProxyMap | undefined> = {
  vmess: parseVmess,
  vless: (line) => viaUrl(line, 'vless'),
  ss: parseShadowsocks,
  trojan: parseTrojan,
  hysteria: parseHysteria,
  hysteria2: parseHysteria2,
  hy2: parseHysteria2,
  tuic: parseTuic,
  ssr: parseSsr,
};

function fragment(url: URL): string {
  return decodeURIComponent(url.hash.replace(/^#/, ''));
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function truthy(value: string | null): boolean {
  return value === '1' || value?.toLowerCase() === 'true';
}

/** `vmess://base64(JSON)` (v2rayN), else Xray's `vmess://uuid@host:port?…#name`. */
function parseVmess(line: string): ProxyMap | undefined {
  const json = decodeBase64(line.slice('vmess://'.length));
  if (json === undefined) {
    const vmess = viaUrl(line, 'vmess');
    if (vmess) Object.assign(vmess, { alterId: 0, cipher: new URL(line).searchParams.get('encryption') || 'auto' });
    return vmess;
  }
  const values = JSON.parse(json) as Record<string, unknown>;
  if (typeof values.ps !== 'string') return undefined;
  const text = (key: string): string => (typeof values[key] === 'string' || typeof values[key] === 'number' ? String(values[key]) : '');
  const vmess: ProxyMap = {
    name: values.ps, type: 'vmess', server: values.add, port: values.port, uuid: values.id, alterId: values.aid ?? 0,
    udp: true, tls: false, 'skip-cert-verify': false, cipher: text('scy') || 'auto',
  };
  if (text('sni')) vmess.servername = text('sni');
  let network = text('net').toLowerCase();
  if (values.type === 'http') network = 'http';
  else if (network === 'http') network = 'h2';
  vmess.network = network;
  if (text('tls').toLowerCase().endsWith('tls')) vmess.tls = true;
  if (text('alpn')) vmess.alpn = text('alpn').split(',');
  if (network === 'ws' || network === 'httpupgrade') {
    vmess['ws-opts'] = { path: text('path') || '/', headers: text('host') ? { Host: text('host') } : {}, ...(network === 'httpupgrade' ? { 'v2ray-http-upgrade': true } : {}) };
    vmess.network = 'ws';
  } else if (network === 'h2') {
    vmess['h2-opts'] = { path: text('path'), host: text('host') ? [text('host')] : [] };
  } else if (network === 'http') {
    vmess['http-opts'] = { path: [text('path') || '/'], headers: text('host') ? { Host: [text('host')] } : {} };
  } else if (network === 'grpc') {
    vmess['grpc-opts'] = { 'grpc-service-name': text('path') };
  }
  return vmess;
}

/** The URL form of VLESS and VMess links (`scheme://uuid@host:port?type=&security=&sni=…#name`). */
function viaUrl(line: string, type: string): ProxyMap | undefined {
  const url = new URL(line);
  const query = url.searchParams;
  if (!url.username || !url.port) return undefined;
  const proxy: ProxyMap = { name: fragment(url), type, server: hostOf(url), port: url.port, uuid: decodeURIComponent(url.username), udp: true };
  const security = (query.get('security') ?? '').toLowerCase();
  if (security.endsWith('tls') || security === 'reality') proxy.tls = true;
  if (query.get('sni')) proxy.servername = query.get('sni');
  if (query.get('flow')) proxy.flow = query.get('flow')!.toLowerCase();
  const network = (query.get('type') || 'tcp').toLowerCase();
  proxy.network = network === 'httpupgrade' ? 'ws' : network;
  if (network === 'ws' || network === 'httpupgrade') {
    proxy['ws-opts'] = { path: query.get('path') ?? '/', headers: query.get('host') ? { Host: query.get('host') } : {}, ...(network === 'httpupgrade' ? { 'v2ray-http-upgrade': true } : {}) };
  } else if (network === 'grpc') {
    proxy['grpc-opts'] = { 'grpc-service-name': query.get('serviceName') ?? '' };
  }
  return proxy;
}

/** `ss://base64(method:password)@host:port/?plugin=…#name`, `ss://method:password@…`, or `ss://base64(method:password@host:port)#name`. */
function parseShadowsocks(line: string): ProxyMap | undefined {
  let url = new URL(line);
  const name = fragment(url);
  if (!url.port) {
    const inner = decodeBase64(decodeURIComponent(url.hostname || line.slice(5).split('#')[0]!));
    if (!inner) return undefined;
    url = new URL(`ss://${inner}`);
  }
  let cipher = decodeURIComponent(url.username);
  let password = decodeURIComponent(url.password);
  if (!url.password) {
    const decoded = decodeBase64(cipher);
    const colon = decoded?.indexOf(':') ?? -1;
    if (!decoded || colon < 0) return undefined;
    [cipher, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
  }
  const ss: ProxyMap = { name, type: 'ss', server: hostOf(url), port: url.port, cipher, password, udp: true };
  const query = url.searchParams;
  if (query.get('udp-over-tcp') === 'true' || query.get('uot') === '1') ss['udp-over-tcp'] = true;
  const plugin = query.get('plugin') ?? '';
  if (plugin.includes(';')) {
    const options = new URLSearchParams(`pluginName=${plugin.replace(/;/g, '&')}`);
    const pluginName = options.get('pluginName') ?? '';
    if (pluginName.includes('obfs')) {
      ss.plugin = 'obfs';
      ss['plugin-opts'] = { mode: options.get('obfs') ?? '', host: options.get('obfs-host') ?? '' };
    } else if (pluginName.includes('v2ray-plugin')) {
      ss.plugin = 'v2ray-plugin';
      ss['plugin-opts'] = { mode: options.get('mode') ?? '', host: options.get('host') ?? '', path: options.get('path') ?? '', tls: plugin.includes('tls') };
    }
  }
  return ss;
}

/** `trojan://password@host:port?sni=&type=ws&path=…#name`. */
function parseTrojan(line: string): ProxyMap | undefined {
  const url = new URL(line);
  const query = url.searchParams;
  const trojan: ProxyMap = {
    name: fragment(url), type: 'trojan', server: hostOf(url), port: url.port, password: decodeURIComponent(url.username), udp: true,
    'skip-cert-verify': truthy(query.get('allowInsecure')),
  };
  if (query.get('sni')) trojan.sni = query.get('sni');
  if (query.get('alpn')) trojan.alpn = query.get('alpn')!.split(',');
  const network = (query.get('type') ?? '').toLowerCase();
  if (network) trojan.network = network;
  if (network === 'ws') trojan['ws-opts'] = { path: query.get('path') ?? '', headers: {} };
  if (network === 'grpc') trojan['grpc-opts'] = { 'grpc-service-name': query.get('serviceName') ?? '' };
  return trojan;
}

function parseHysteria(line: string): ProxyMap {
  const url = new URL(line);
  const query = url.searchParams;
  return {
    name: fragment(url), type: 'hysteria', server: hostOf(url), port: url.port, sni: query.get('peer') ?? '', obfs: query.get('obfs') ?? '',
    auth_str: query.get('auth') ?? '', protocol: query.get('protocol') ?? '', up: query.get('up') || query.get('upmbps') || '',
    down: query.get('down') || query.get('downmbps') || '', 'skip-cert-verify': truthy(query.get('insecure')),
  };
}

function parseHysteria2(line: string): ProxyMap {
  const url = new URL(line.replace(/^hy2:/i, 'hysteria2:'));
  const query = url.searchParams;
  const proxy: ProxyMap = {
    name: fragment(url), type: 'hysteria2', server: hostOf(url), port: url.port || '443', obfs: query.get('obfs') ?? '',
    'obfs-password': query.get('obfs-password') ?? '', sni: query.get('sni') ?? '', 'skip-cert-verify': truthy(query.get('insecure')),
  };
  const auth = url.password ? `${url.username}:${url.password}` : url.username;
  if (auth) proxy.password = decodeURIComponent(auth);
  return proxy;
}

function parseTuic(line: string): ProxyMap {
  const url = new URL(line);
  const query = url.searchParams;
  const proxy: ProxyMap = { name: fragment(url), type: 'tuic', server: hostOf(url), port: url.port, udp: true };
  if (url.password) Object.assign(proxy, { uuid: decodeURIComponent(url.username), password: decodeURIComponent(url.password) });
  else proxy.token = decodeURIComponent(url.username);
  if (query.get('sni')) proxy.sni = query.get('sni');
  if (query.get('congestion_control')) proxy['congestion-controller'] = query.get('congestion_control');
  return proxy;
}

/** `ssr://base64(host:port:protocol:method:obfs:base64(password)/?remarks=base64…)`. */
function parseSsr(line: string): ProxyMap | undefined {
  const decoded = decodeBase64(line.slice('ssr://'.length));
  const cut = decoded?.indexOf('/?') ?? -1;
  if (!decoded || cut < 0) return undefined;
  const parts = decoded.slice(0, cut).split(':');
  if (parts.length !== 6) return undefined;
  const query = new URLSearchParams(decoded.slice(cut + 2));
  const [server, port, protocol, cipher, obfs, password] = parts as [string, string, string, string, string, string];
  return { name: decodeBase64(query.get('remarks') ?? '') ?? '', type: 'ssr', server, port, protocol, cipher, obfs, password: decodeBase64(password) ?? '', udp: true };
}

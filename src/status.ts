import { request } from 'undici';

/** Where the controller is and how to authenticate. */
export interface StatusTarget {
  /** Base URL, e.g. `http://127.0.0.1:9090`. */
  url: string;
  /** Bearer secret ('' for none). */
  secret: string;
}

interface ProxyEntry {
  name: string;
  type: string;
  all?: string[];
  now?: string;
  fixed?: string;
  history?: { delay: number }[];
}

/** Everything `sluice status` shows, gathered from the controller API. */
export interface Status {
  /** `GET /version`. */
  version: { version: string };
  /** `GET /configs`. */
  configs: { mode: string; 'log-level': string; listeners?: { name: string; type: string; listen: string; port: number }[] };
  /** `GET /proxies`. */
  proxies: { proxies: Record<string, ProxyEntry> };
  /** `GET /connections`. */
  connections: { uploadTotal: number; downloadTotal: number; connections: unknown[] };
}

async function get(target: StatusTarget, path: string): Promise<unknown> {
  const response = await request(target.url + path, {
    headers: target.secret ? { authorization: `Bearer ${target.secret}` } : {},
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: HTTP ${response.statusCode} ${text}`);
  return JSON.parse(text);
}

/** Asks a running sluice (or any mihomo-compatible core) for its state. */
export async function fetchStatus(target: StatusTarget): Promise<Status> {
  const [version, configs, proxies, connections] = await Promise.all(['/version', '/configs', '/proxies', '/connections'].map((p) => get(target, p)));
  return { version, configs, proxies, connections } as Status;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The status as lines of text. */
export function formatStatus(status: Status, target: StatusTarget): string {
  const lines = [`sluice ${status.version.version} at ${target.url}, mode ${status.configs.mode}, log-level ${status.configs['log-level']}`];
  const listeners = status.configs.listeners ?? [];
  lines.push(`listeners: ${listeners.length}`);
  for (const l of listeners) lines.push(`  ${l.name}  ${l.type}  ${l.listen}:${l.port}`);
  const entries = Object.values(status.proxies.proxies);
  const groups = entries.filter((p) => Array.isArray(p.all));
  const proxies = entries.filter((p) => !Array.isArray(p.all) && !['Direct', 'Reject', 'RejectDrop', 'Pass', 'Compatible'].includes(p.type));
  lines.push(`proxies: ${proxies.length}`);
  for (const p of proxies) {
    const delay = p.history?.at(-1)?.delay;
    lines.push(`  ${p.name}  ${p.type}${delay === undefined ? '' : delay === 0 ? '  (last check failed)' : `  ${delay} ms`}`);
  }
  lines.push(`groups: ${groups.length}`);
  for (const g of groups) {
    const choice = g.now ? `  now ${g.now}${g.fixed ? ' (pinned)' : ''}` : '';
    lines.push(`  ${g.name}  ${g.type}${choice}  [${(g.all ?? []).join(', ')}]`);
  }
  const { connections, uploadTotal, downloadTotal } = status.connections;
  lines.push(`connections: ${connections.length} open; traffic since start: up ${bytes(uploadTotal)}, down ${bytes(downloadTotal)}`);
  return lines.join('\n');
}

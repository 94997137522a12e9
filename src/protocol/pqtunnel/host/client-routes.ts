/**
 * The routes and rules a tunnel client installs (spec §8.6, tun.md §7.2–7.3), as `ip -batch`
 * lines per address family. proxy-outbound: only traffic from the virtual IP uses the
 * tunnel's table. full-tunnel: everything except the tunnel's own UDP port, the main table's
 * specific routes and the `throw` prefixes of exclude-routes.
 */
import type { IpLines } from '../../tun/netconfig.js';

/** What to route. */
export interface RoutePlan {
  /** The client's TUN device. */
  device: string;
  /** The tunnel's routing table. */
  table: number;
  /** First of the three rule priorities the client owns. */
  priority: number;
  /** Routing mode. */
  mode: 'proxy-outbound' | 'full-tunnel';
  /** The assigned IPv4 virtual address. */
  v4?: string;
  /** The assigned IPv6 virtual address. */
  v6?: string;
  /** The tunnel socket's fixed local port (full-tunnel). */
  listenPort: number;
  /** Prefixes that bypass the tunnel in full-tunnel mode. */
  exclude: readonly string[];
}

/** The commands that install the plan (after `cleanupLines`). */
export function installLines(plan: RoutePlan): IpLines[] {
  const batches: IpLines[] = [];
  for (const [family, address, any] of [[4, plan.v4, '0.0.0.0/0'], [6, plan.v6, '::/0']] as const) {
    if (!address) continue;
    const lines = [`address add ${address}/${family === 4 ? 32 : 128} dev ${plan.device}${family === 6 ? ' nodad' : ''}`, `route add ${any} dev ${plan.device} table ${plan.table}`];
    if (plan.mode === 'proxy-outbound') {
      lines.push(`rule add from ${address} lookup ${plan.table} priority ${plan.priority}`);
    } else {
      for (const prefix of plan.exclude) if (prefix.includes(':') === (family === 6)) lines.push(`route add throw ${prefix} table ${plan.table}`);
      lines.push(`rule add ipproto udp sport ${plan.listenPort} lookup main priority ${plan.priority}`);
      lines.push(`rule add lookup main suppress_prefixlength 0 priority ${plan.priority + 1}`);
      lines.push(`rule add lookup ${plan.table} priority ${plan.priority + 2}`);
    }
    batches.push({ family, lines });
  }
  return batches;
}

/** The commands that remove the table and every rule at the owned priorities (run with -force; a crash leaves them). */
export function cleanupLines(table: number, priority: number): IpLines[] {
  return ([4, 6] as const).map((family) => {
    const lines: string[] = [];
    for (let p = priority; p < priority + 3; p++) for (let i = 0; i < 4; i++) lines.push(`rule del priority ${p}`);
    lines.push(`route flush table ${table}`);
    return { family, lines };
  });
}

import type { Flow } from '../../adapter/flow.js';
import { BaseRule } from './base.js';

/** Inbound protocol names IN-TYPE accepts (clash-rules.md §5); `SOCKS` means SOCKS4 or SOCKS5. */
const inboundTypes = new Set([
  'HTTP', 'HTTPS', 'SOCKS', 'SOCKS4', 'SOCKS5', 'SHADOWSOCKS', 'VMESS', 'VLESS', 'REDIR', 'TPROXY', 'TROJAN',
  'TUNNEL', 'TUN', 'TUIC', 'HYSTERIA2', 'ANYTLS', 'INNER',
]);

function splitNames(payload: string, type: string): string[] {
  const names = payload.split('/').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new Error(`${type} needs names separated by '/', got '${payload}'`);
  return names;
}

/** IN-TYPE: the protocol the client spoke (`SOCKS5/HTTP`). */
export class InTypeRule extends BaseRule {
  private readonly types: ReadonlySet<string>;

  constructor(type: string, payload: string, target: string) {
    const types = splitNames(payload, type).map((t) => t.toUpperCase());
    for (const t of types) if (!inboundTypes.has(t)) throw new Error(`unknown inbound type '${t}' (known: ${[...inboundTypes].join(', ')})`);
    super(type, payload, target);
    const set = new Set(types);
    if (set.has('SOCKS')) set.add('SOCKS4').add('SOCKS5');
    this.types = set;
  }

  match(flow: Readonly<Flow>): boolean {
    return this.types.has(flow.inbound.type);
  }
}

/** IN-NAME (listener name) and IN-USER (authenticated user): exact names separated by `/`. */
export class InNameRule extends BaseRule {
  private readonly names: ReadonlySet<string>;

  constructor(type: string, payload: string, target: string, private readonly field: 'name' | 'user') {
    const names = new Set(splitNames(payload, type));
    super(type, payload, target);
    this.names = names;
  }

  match(flow: Readonly<Flow>): boolean {
    const value = this.field === 'name' ? flow.inbound.name : flow.user;
    return value !== undefined && this.names.has(value);
  }
}

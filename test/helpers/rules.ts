import type { Duplex } from 'node:stream';
import type { Flow } from '../../src/adapter/flow.js';
import type { Outbound, PacketConn } from '../../src/adapter/outbound.js';
import { ipFamily } from '../../src/common/address.js';
import { Geodata } from '../../src/route/geodata/geodata.js';
import { RuleProvider } from '../../src/route/provider/provider.js';
import { parseRule, type RuleEnv } from '../../src/route/rule/parse.js';
import { PassOutbound } from '../../src/protocol/block/outbound.js';

/** The bundled databases only (no config folder files, no downloads). */
const bundledGeodata = new Geodata({ home: '/nonexistent', geodataMode: false, downloads: new Set() });

/** A rule environment with the bundled GeoIP database and the given providers, geosites and sub-rule lists. */
export function testEnv(parts: { providers?: Map<string, RuleProvider>; geosites?: Record<string, string[]>; subRules?: string[]; geodata?: Geodata } = {}): RuleEnv {
  return {
    providers: parts.providers ?? new Map(),
    geodata: parts.geodata ?? bundledGeodata,
    subRuleLists: new Set(parts.subRules ?? []),
    geosite: (name) => {
      const payload = parts.geosites?.[name];
      const provider = new RuleProvider(
        { name: `geosite:${name}`, vehicle: 'inline', behavior: 'domain', format: 'text', payload: payload ?? [], intervalSeconds: 0, sizeLimit: 0, headers: {} },
        () => {
          throw new Error('a domain provider has no classical entries');
        },
      );
      provider.loadLocal();
      return payload ? { provider } : { provider, missing: `no GEOSITE list named '${name}'` };
    },
  };
}

/** A TCP flow from 192.168.1.20:50000 via a SOCKS5 listener `in` on port 1080. */
export function testFlow(host: string, port = 443, extra: Partial<Flow> = {}): Flow {
  return {
    id: 1,
    network: 'tcp',
    inbound: { name: 'in', type: 'SOCKS5', port: 1080 },
    source: { host: '192.168.1.20', port: 50000 },
    destination: { host, port },
    ip: ipFamily(host) ? host : undefined,
    bytesUp: 0,
    bytesDown: 0,
    start: 0,
    signal: new AbortController().signal,
    ...extra,
  };
}

/** True when the rule line matches the flow. */
export function ruleMatches(line: string, flow: Flow, env: RuleEnv = testEnv()): boolean {
  return parseRule(line, env).rule.match(flow);
}

/** An outbound that is never dialed: routing tests only look at the decision. */
export class FakeOutbound implements Outbound {
  readonly type = 'Fake';

  constructor(
    readonly name: string,
    private readonly udp = true,
  ) {}

  async dial(): Promise<Duplex> {
    throw new Error(`${this.name} is a fake`);
  }

  async listenPacket(): Promise<PacketConn> {
    throw new Error(`${this.name} is a fake`);
  }

  supportsUdp(): boolean {
    return this.udp;
  }
}

/** DIRECT, REJECT and PASS plus the named fakes (a name ending in `-tcp` cannot carry UDP). */
export function fakeOutbounds(...names: string[]): Map<string, Outbound> {
  const map = new Map<string, Outbound>();
  for (const name of ['DIRECT', 'REJECT', ...names]) map.set(name, new FakeOutbound(name, !name.endsWith('-tcp')));
  map.set('PASS', new PassOutbound());
  return map;
}

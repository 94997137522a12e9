/**
 * JSON shapes of the Clash/mihomo controller API (shared/specs/controller-api.md §3), built
 * from sluice's objects. Pure functions: the server only serialises what these return.
 */
import type { RuleCounts } from '../route/rule-stats.js';
import type { Flow } from '../adapter/flow.js';
import { isProxyGroup, type Outbound } from '../adapter/outbound.js';
import type { Rule } from '../adapter/router.js';
import type { DelayHistory, DelayRecord } from '../route/group/delay-history.js';
import type { RuleProvider } from '../route/provider/provider.js';

/** A JSON value. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Rule type → the name mihomo reports (clash-rules.md §5). */
const ruleApiNames: Record<string, string> = {
  DOMAIN: 'Domain', 'DOMAIN-SUFFIX': 'DomainSuffix', 'DOMAIN-KEYWORD': 'DomainKeyword', 'DOMAIN-REGEX': 'DomainRegex',
  'DOMAIN-WILDCARD': 'DomainWildcard', GEOSITE: 'GeoSite', GEOIP: 'GeoIP', 'SRC-GEOIP': 'SrcGeoIP', 'IP-ASN': 'IPASN',
  'SRC-IP-ASN': 'SrcIPASN', 'IP-CIDR': 'IPCIDR', 'IP-CIDR6': 'IPCIDR', 'SRC-IP-CIDR': 'SrcIPCIDR', 'IP-SUFFIX': 'IPSuffix',
  'SRC-IP-SUFFIX': 'SrcIPSuffix', 'SRC-PORT': 'SrcPort', 'DST-PORT': 'DstPort', 'IN-PORT': 'InPort', DSCP: 'DSCP',
  'IN-USER': 'InUser', 'IN-NAME': 'InName', 'IN-TYPE': 'InType', 'PROCESS-NAME': 'ProcessName', 'PROCESS-PATH': 'ProcessPath',
  'PROCESS-NAME-REGEX': 'ProcessNameRegex', 'PROCESS-PATH-REGEX': 'ProcessPathRegex', 'RULE-SET': 'RuleSet', NETWORK: 'Network',
  UID: 'Uid', 'SUB-RULE': 'SubRules', MATCH: 'Match', AND: 'AND', OR: 'OR', NOT: 'NOT',
};

/** The API name of a rule type (`DOMAIN-SUFFIX` → `DomainSuffix`). */
function ruleApiName(type: string): string {
  return ruleApiNames[type] ?? type;
}

/** Go's RFC 3339 time with fractional seconds, as mihomo prints `time.Time`. */
export function goTime(time: Date | undefined): string {
  return time ? time.toISOString() : '0001-01-01T00:00:00Z';
}

function history(records: readonly DelayRecord[]): Json[] {
  return records.map((r) => ({ time: goTime(r.time), delay: r.delay }));
}

/** GET /proxies/:name for a proxy, built-in or group. */
export function proxyView(outbound: Outbound, delays: DelayHistory): { [key: string]: Json } {
  const state = delays.of(outbound.name);
  const extra: { [key: string]: Json } = {};
  for (const [url, records] of state.byUrl) extra[url] = { alive: (records.at(-1)?.delay ?? 1) > 0, history: history(records) };
  const view: { [key: string]: Json } = {
    name: outbound.name,
    type: outbound.type,
    udp: outbound.supportsUdp(),
    alive: outbound.unusable === undefined && (state.history.at(-1)?.delay ?? 1) > 0,
    history: history(state.history),
    extra,
    xudp: false,
    tfo: false,
    uot: false,
    mptcp: false,
    smux: false,
    interface: '',
    'routing-mark': 0,
    'dialer-proxy': '',
  };
  if (!isProxyGroup(outbound)) return view;
  Object.assign(view, { all: [...outbound.memberNames], hidden: outbound.hidden ?? false, icon: outbound.icon ?? '' });
  if (outbound.now !== undefined) view.now = outbound.now;
  if (outbound.unpin) view.fixed = outbound.fixed ?? '';
  if (outbound.testUrl !== undefined) Object.assign(view, { testUrl: outbound.testUrl, expectedStatus: outbound.expectedStatus ?? '*' });
  return view;
}

/** GET /rules, with mihomo's `extra`: rules switched off at runtime, hit and miss counts. */
export function rulesView(rules: readonly Rule[], disabled: ReadonlySet<Rule>, counts: readonly RuleCounts[]): Json {
  return {
    rules: rules.map((rule, index) => {
      const { hitCount, hitAt, missCount, missAt } = counts[index] ?? { hitCount: 0, hitAt: 0, missCount: 0, missAt: 0 };
      return {
        index,
        type: ruleApiName(rule.type),
        payload: rule.payload,
        proxy: rule.target,
        size: rule.type === 'GEOIP' ? 0 : -1,
        extra: { disabled: disabled.has(rule), hitCount, hitAt: goTime(hitAt ? new Date(hitAt) : undefined), missCount, missAt: goTime(missAt ? new Date(missAt) : undefined) },
      };
    }),
  };
}

const behaviorNames = { domain: 'Domain', ipcidr: 'IPCIDR', classical: 'Classical' } as const;
const formatNames = { yaml: 'YamlRule', text: 'TextRule', mrs: 'MrsRule' } as const;
/** mihomo's vehicle type names. */
export const vehicleNames = { file: 'File', http: 'HTTP', inline: 'Inline' } as const;

/** One entry of GET /providers/rules. */
export function ruleProviderView(provider: RuleProvider): { [key: string]: Json } {
  const { name, behavior, format, vehicle, payload } = provider.config;
  const view: { [key: string]: Json } = {
    name,
    type: 'Rule',
    behavior: behaviorNames[behavior],
    format: vehicle === 'inline' ? '' : formatNames[format],
    vehicleType: vehicleNames[vehicle],
    ruleCount: provider.count,
    updatedAt: goTime(provider.updatedAt),
  };
  if (vehicle === 'inline') view.payload = payload ?? [];
  return view;
}

const inboundTypeNames: Record<string, string> = { SOCKS5: 'Socks5', HTTP: 'HTTP', HTTPS: 'HTTPS', VMESS: 'Vmess', TUN: 'Tun', INNER: 'Inner' };

/** One entry of GET /connections. */
export function connectionView(flow: Flow): { [key: string]: Json } {
  const destinationIsIp = flow.ip !== undefined && flow.ip === flow.destination.host;
  return {
    id: String(flow.id),
    metadata: {
      network: flow.network,
      type: inboundTypeNames[flow.inbound.type] ?? flow.inbound.type,
      sourceIP: flow.source.host,
      destinationIP: flow.ip ?? '',
      sourceGeoIP: null,
      destinationGeoIP: null,
      sourceIPASN: '',
      destinationIPASN: '',
      sourcePort: String(flow.source.port),
      destinationPort: String(flow.destination.port),
      inboundIP: '',
      inboundPort: String(flow.inbound.port),
      inboundName: flow.inbound.name,
      inboundUser: flow.user ?? '',
      host: destinationIsIp ? '' : flow.destination.host,
      dnsMode: 'normal',
      uid: 0,
      process: '',
      processPath: '',
      specialProxy: '',
      specialRules: '',
      remoteDestination: flow.ip ?? '',
      dscp: 0,
      sniffHost: flow.domain ?? '',
    },
    upload: flow.bytesUp,
    download: flow.bytesDown,
    start: goTime(new Date(flow.start)),
    chains: [...(flow.decision?.chains ?? [])],
    rule: flow.decision?.matched ? ruleApiName(flow.decision.matched.type) : '',
    rulePayload: flow.decision?.matched?.payload ?? '',
  };
}

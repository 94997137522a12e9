/**
 * Rule-router benchmark: a realistic rule list with rule sets the size of real ones (the
 * 8.6k-prefix cncidr file and a 100k-entry domain list): load time, heap used, decisions
 * per second and p99 for domain and IP flows, next to a bare Set lookup as the baseline.
 */
import { fromRoot } from './harness.js';
import { report } from './report.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { innerFlow, type Flow } from '../src/adapter/flow.js';
import type { Decision } from '../src/adapter/router.js';
import { Geodata } from '../src/route/geodata/geodata.js';
import { buildRouting } from '../src/config/routing.js';
import { RuleRouter } from '../src/route/router.js';
import { DirectOutbound } from '../src/protocol/direct/outbound.js';
import { RejectOutbound } from '../src/protocol/block/outbound.js';
import { DnsCache } from '../src/common/dns-cache.js';
import type { Outbound } from '../src/adapter/outbound.js';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const domainCount = 100_000;
const cncidr = fromRoot('../shared/testdata/clash-rules/loyalsoldier-clash-rules/cncidr.txt');
const bundledCn = fromRoot('rules/cn-cidr.list');

/** Runs a full garbage collection (for heap figures). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A deterministic pseudo-random sequence (the run is repeatable). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const rules = [
  'DOMAIN,clash.razord.top,DIRECT',
  'DOMAIN-SUFFIX,local,DIRECT',
  ...['google.com', 'googleapis.com', 'youtube.com', 'github.com', 'githubusercontent.com', 'twitter.com', 'facebook.com', 'netflix.com', 'openai.com', 'telegram.org',
    'icloud.com', 'apple.com', 'microsoft.com', 'bing.com', 'wikipedia.org', 'reddit.com', 'discord.com', 'spotify.com', 'amazon.com', 'cloudflare.com'].map((d) => `DOMAIN-SUFFIX,${d},PROXY`),
  'DOMAIN-KEYWORD,adservice,REJECT',
  'DOMAIN-KEYWORD,google,PROXY',
  'DOMAIN-REGEX,^ad[s]?[0-9]*\\.,REJECT',
  'RULE-SET,big-domains,PROXY',
  'AND,((NETWORK,UDP),(DST-PORT,443)),REJECT',
  'DST-PORT,22,DIRECT',
  'IP-CIDR,1.1.1.1/32,PROXY,no-resolve',
  'IP-CIDR6,2001:4860::/32,PROXY,no-resolve',
  'GEOIP,LAN,DIRECT,no-resolve',
  'RULE-SET,cncidr,DIRECT,no-resolve',
  'GEOIP,CN,DIRECT,no-resolve',
  'MATCH,PROXY',
];

function timeDecisions(router: RuleRouter, flows: Flow[], seconds: number): { perSecond: number; p99Us: number; p50Us: number } {
  // Warm-up (the JIT settles), then throughput: decisions back to back.
  for (let round = 0; round < 20; round++) for (const flow of flows) router.decide(flow);
  let done = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  let sink: Decision | Promise<Decision> | undefined;
  while (performance.now() < until) {
    for (let i = 0; i < flows.length; i++) sink = router.decide(flows[i]!);
    done += flows.length;
  }
  const perSecond = done / ((performance.now() - started) / 1000);
  if (sink instanceof Promise) throw new Error('a benchmark flow needed a DNS lookup');
  // Latency: each decision timed alone.
  const samples = new Float64Array(Math.min(200_000, flows.length * 10));
  for (let i = 0; i < samples.length; i++) {
    const flow = flows[i % flows.length]!;
    const t0 = performance.now();
    router.decide(flow);
    samples[i] = (performance.now() - t0) * 1000;
  }
  samples.sort();
  return { perSecond, p99Us: quantile(samples, 0.99), p50Us: quantile(samples, 0.5) };
}

/** Prints load time, heap and decision rates. */
export async function benchRules(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'sluice-rules-bench-'));
  try {
    const random = lcg(42);
    const domains: string[] = [];
    for (let i = 0; i < domainCount; i++) domains.push(`site${i}.${['com', 'net', 'org', 'io', 'cn'][i % 5]}`);
    writeFileSync(join(home, 'big.list'), domains.map((d) => `+.${d}`).join('\n'));
    const source = existsSync(cncidr) ? cncidr : bundledCn;
    copyFileSync(source, join(home, 'cncidr.txt'));
    const format = source === cncidr ? 'yaml' : 'text';

    collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const loadStart = performance.now();
    const problems: string[] = [];
    const routing = buildRouting(
      {
        home,
        rules,
        providers: {
          'big-domains': { type: 'file', behavior: 'domain', format: 'text', path: 'big.list' },
          cncidr: { type: 'file', behavior: 'ipcidr', format, path: 'cncidr.txt' },
        },
        subRules: {},
        targets: new Set(['DIRECT', 'REJECT', 'PROXY']),
        undefinedNames: new Set(),
        geodata: new Geodata({ home, geodataMode: false, downloads: new Set() }),
      },
      problems,
      [],
    );
    const loadMs = performance.now() - loadStart;
    collectGarbage();
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    if (problems.length > 0) throw new Error(problems.join('; '));
    const counts = routing.providers.map((p) => `${p.name} ${p.count}`).join(', ');

    const dns = new DnsCache({ ttlMs: 1000, maxEntries: 16, timeoutMs: 1000 });
    const outbounds = new Map<string, Outbound>([
      ['DIRECT', new DirectOutbound('DIRECT', dns, 1000)],
      ['PROXY', new DirectOutbound('PROXY', dns, 1000)],
      ['REJECT', new RejectOutbound()],
    ]);
    const router = new RuleRouter({ rules: routing.rules, outbounds, resolve: async () => undefined });
    const signal = new AbortController().signal;
    const domainFlows: Flow[] = [];
    for (let i = 0; i < 10_000; i++) {
      const hit = random() < 0.5;
      const host = hit ? `www.${domains[Math.floor(random() * domainCount)]}` : `host${i}.unlisted${Math.floor(random() * 1e6)}.example`;
      domainFlows.push(innerFlow(host, 443, signal));
    }
    const ipFlows: Flow[] = [];
    for (let i = 0; i < 10_000; i++) {
      const ip = random() < 0.5 ? `114.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`
        : `${1 + Math.floor(random() * 222)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`;
      const flow = innerFlow(ip, 443, signal);
      flow.ip = ip;
      ipFlows.push(flow);
    }
    const baselineSet = new Set(domains);
    let found = 0;
    const baseStart = performance.now();
    let probes = 0;
    while (performance.now() - baseStart < 1000) {
      for (const flow of domainFlows) if (baselineSet.has(flow.destination.host.slice(4))) found++;
      probes += domainFlows.length;
    }
    const baselinePerSecond = probes / ((performance.now() - baseStart) / 1000);
    if (found < 0) throw new Error('unreachable');
    const domain = timeDecisions(router, domainFlows, 2);
    const ip = timeDecisions(router, ipFlows, 2);
    report(`rules: ${rules.length} rules, providers ${counts} (cncidr from ${source === cncidr ? 'shared/testdata' : 'rules/cn-cidr.list'}); load ${loadMs.toFixed(0)} ms (target < 1000), heap ${heapMb.toFixed(1)} MB (target < 100)`);
    report(
      `rules, domain flows (no DNS): ${(domain.perSecond / 1e6).toFixed(2)} M decisions/s (target >= 1.00), p50 ${domain.p50Us.toFixed(2)} µs, p99 ${domain.p99Us.toFixed(2)} µs (target < 10); ` +
        `baseline one Set.has per flow ${(baselinePerSecond / 1e6).toFixed(1)} M/s, ratio ${(domain.perSecond / baselinePerSecond).toFixed(3)}x`,
    );
    report(`rules, IP flows (cncidr + GeoIP): ${(ip.perSecond / 1e6).toFixed(2)} M decisions/s, p50 ${ip.p50Us.toFixed(2)} µs, p99 ${ip.p99Us.toFixed(2)} µs`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}


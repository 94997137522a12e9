/**
 * Loading real configs: the rule-heavy free subscription of shared/testdata (10,237 rules) and a
 * 10,000-proxy subscription as a proxy provider. Load time (best of 5) and the heap the loaded
 * config holds, against the yaml library parsing the same text in the same run (the floor of
 * any YAML-based loader). Targets: ≤ 0.5 s and ≤ 60 MB.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { loadConfigFile, type LoadedConfig } from '../src/config/load.js';
import { fromRoot } from './harness.js';
import { report } from './report.js';
import { collectGarbage } from './rules.js';

const realConfig = fileURLToPath(fromRoot('../shared/testdata/clash-configs/14-clashfree-subscription.yml'));

/** Best load time of `runs`, and the heap the first load kept. */
async function measure(path: string, runs = 5): Promise<{ ms: number; mb: number; config: LoadedConfig }> {
  let best = Infinity;
  let config: LoadedConfig | undefined;
  let mb = 0;
  for (let i = 0; i < runs; i++) {
    config = undefined;
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const started = performance.now();
    config = await loadConfigFile(path);
    best = Math.min(best, performance.now() - started);
    collectGarbage();
    // The first load's growth: the config plus what loading keeps for later (compiled schema, databases). Later
    // loads in the same process measure near zero, as V8 keeps the previous result reachable across the await.
    if (i === 0) mb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  }
  return { ms: best, mb, config: config! };
}

/** Best time the yaml library alone takes to parse the file. */
function yamlFloor(path: string, runs = 5): number {
  const text = readFileSync(path, 'utf8');
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    YAML.parse(text, { uniqueKeys: false });
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** Prints load times and heaps. */
export async function benchConfigLoad(): Promise<void> {
  if (existsSync(realConfig)) {
    const { ms, mb, config } = await measure(realConfig);
    const floor = yamlFloor(realConfig);
    report(`config load, 14-clashfree (${config.rules.length} rules, ${config.proxies.length} proxies): ${ms.toFixed(0)} ms (target ≤ 500), ${(ms / floor).toFixed(2)}x the yaml library's parse alone (${floor.toFixed(0)} ms); heap ${mb.toFixed(1)} MB (target ≤ 60)`);
  } else {
    report('config load, 14-clashfree: skipped (shared/testdata not beside the checkout)');
  }
  const home = mkdtempSync(join(tmpdir(), 'sluice-load-bench-'));
  try {
    const uuid = '7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c';
    const lines = Array.from({ length: 10_000 }, (_, i) => `  - { name: 'node ${i}', type: vmess, server: 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}, port: ${1000 + (i % 50_000)}, uuid: ${uuid}, alterId: 0, cipher: auto, udp: true, network: tcp }`);
    writeFileSync(join(home, 'sub.yaml'), `proxies:\n${lines.join('\n')}\n`);
    writeFileSync(join(home, 'config.yaml'), `mixed-port: 7890\nproxy-providers: { sub: { type: file, path: sub.yaml } }\nproxy-groups: [{ name: PROXY, type: url-test, use: [sub] }]\nrules: ['MATCH,PROXY']\n`);
    const { ms, mb, config } = await measure(join(home, 'config.yaml'));
    const floor = yamlFloor(join(home, 'sub.yaml'));
    report(`config load, 10,000-proxy subscription (${config.proxyProviders[0]!.proxies.length} proxies): ${ms.toFixed(0)} ms (target ≤ 500), ${(ms / floor).toFixed(2)}x the yaml library's parse alone (${floor.toFixed(0)} ms); heap ${mb.toFixed(1)} MB (target ≤ 60)`);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

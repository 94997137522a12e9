import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labMissing } from '../helpers/lab.js';

/**
 * The real users' configs of shared/testdata/clash-configs: each loads with `sluice check` and
 * runs with `sluice run` inside a network namespace with only loopback, its URLs served by a
 * stand-in server there (the lite geodata files and the meta-rules-dat .mrs files we have).
 */
const configs = new URL('../../../shared/testdata/clash-configs/', import.meta.url).pathname;
const data = new URL('../../../shared/testdata/clash-rules/meta-rules-dat/', import.meta.url).pathname;
const sluice = new URL('../../bin/sluice.js', import.meta.url).pathname;
const lab = new URL('../helpers/real-config-lab.mjs', import.meta.url).pathname;

/** A copy of the config in a folder of its own, each http(s) URL pointing at the stand-in server. */
function copyOf(file: string): string {
  const home = mkdtempSync(join(tmpdir(), 'sluice-real-'));
  const text = readFileSync(join(configs, file), 'utf8').replace(/https?:\/\/[^\s"',\]]+/g, (url) => `http://127.0.0.1:18080/${encodeURIComponent(url)}`);
  writeFileSync(join(home, file), text);
  return join(home, file);
}

function check(path: string): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [sluice, 'check', '-f', path], { encoding: 'utf8' });
  return { status: result.status, out: result.stdout + result.stderr };
}

interface LabRun {
  logs: string[];
  api: Record<string, any>;
  code: number | string;
  served: string[];
}

function run(path: string, controller = '', secret = ''): LabRun {
  const out = execFileSync('unshare', ['-n', process.execPath, lab, path, data, sluice, controller, secret], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as LabRun;
}

const messages = (r: LabRun): string[] => r.logs.map((l) => (JSON.parse(l) as { msg?: string; message?: string }).msg ?? (JSON.parse(l) as { message?: string }).message ?? l);
const missing = labMissing(['unshare', 'ip'], 'real-config runs');

describe('real users\' configs load unchanged (sluice check)', () => {
  it('01 mihomo reference: every proxy type listed, unsupported ones as placeholders; undefined names kept as failing outbounds', () => {
    const { status, out } = check(copyOf('01-mihomo-docs-reference.yaml'));
    expect(status, out).toBe(0);
    expect(out).toMatch(/^proxies: 31$/m);
    expect(out).toMatch(/^proxy-groups: 7$/m);
    expect(out).toMatch(/^rule-providers: 4$/m);
    expect(out).toMatch(/  vmess  vmess$/m);
    expect(out).toMatch(/  ss1  ss \(unsupported\)$/m);
    expect(out).toMatch(/UNSUPPORTED PROXIES: 2\d proxies stay listed but fail every flow/);
    expect(out).toMatch(/UNSUPPORTED LISTENERS: .*"tuic-in-1" \(type 'tuic'\)/);
    expect(out).toMatch(/unknown member "vmess1" in group "auto" \(did you mean 'vmess'\?\)/);
    expect(out).toMatch(/CONTROLLER NOT EXPOSED: external-controller 0\.0\.0\.0:9093/);
  });

  it('02 wiki geox and 03 wiki mrs: include-all/filter groups, providers, merge keys, GEOSITE waiting for geox-url', () => {
    const geox = check(copyOf('02-metacubex-wiki-geox.yaml'));
    expect(geox.status, geox.out).toBe(0);
    expect(geox.out).toMatch(/^proxy-groups: 20$/m);
    expect(geox.out).toMatch(/  香港  select  \[\]  use: provider1, provider2$/m);
    expect(geox.out).toMatch(/^  provider1  inline  0 proxies$/m);
    expect(geox.out).toMatch(/GEOSITE,github: it matches nothing until geosite\.dat is downloaded \(geox-url\.geosite\)/);
    const mrs = check(copyOf('03-metacubex-wiki-ruleset-mrs.yaml'));
    expect(mrs.status, mrs.out).toBe(0);
    expect(mrs.out).toMatch(/^rule-providers: 21$/m);
    expect(mrs.out).toMatch(/  telegram_domain  http domain mrs  not downloaded yet/);
    expect(mrs.out).toMatch(/unknown top-level keys, ignored \(mihomo ignores them too\): rule-anchor/);
  });

  it('07 server listeners, 12 subconverter base (legacy keys), 14 free subscription (10,237 rules)', () => {
    const server = check(copyOf('07-repcz-mihomo-server-listeners.yaml'));
    expect(server.status, server.out).toBe(0);
    expect(server.out).toMatch(/UNSUPPORTED LISTENERS: .*"SS2022" \(type 'shadowsocks'\), .*"hy2" \(type 'hysteria2'\)/);
    const base = check(copyOf('12-subconverter-simple-base.yml'));
    expect(base.status, base.out).toBe(0);
    expect(base.out).toMatch(/DEFAULT-HTTP  http  0\.0\.0\.0:7890/);
    const free = check(copyOf('14-clashfree-subscription.yml'));
    expect(free.status, free.out).toBe(0);
    expect(free.out).toMatch(/^proxies: 40$/m);
    expect(free.out).toMatch(/^proxy-groups: 13$/m);
    expect(free.out).toMatch(/^rules: 10237$/m);
    expect(free.out).toMatch(/PROCESS-NAME rules never match in sluice/);
  });
});

describe.skipIf(missing !== undefined)('real users\' configs run (sluice run in a namespace with only loopback)', () => {
  it('02: starts, downloads geosite.dat and geoip.dat from geox-url in the background, serves the controller', () => {
    const result = run(copyOf('02-metacubex-wiki-geox.yaml'), '127.0.0.1:9090');
    const lines = messages(result);
    expect(result.code).toBe(0);
    expect(lines.some((l) => /listening mixed DEFAULT-MIXED on 0\.0\.0\.0:7890/.test(l)), lines.join('\n')).toBe(true);
    expect(lines.some((l) => /geox-url geosite: downloaded/.test(l)), lines.join('\n')).toBe(true);
    expect(result.served.some((s) => s.startsWith('200 https://github.com/MetaCubeX/meta-rules-dat/releases/download/latest/geosite.dat'))).toBe(true);
    const proxies = result.api['/proxies'].proxies;
    expect(proxies['香港']).toMatchObject({ type: 'Selector', all: ['COMPATIBLE'] });
    expect(proxies['默认'].all).toEqual(['自动选择', '直连', '香港', '台湾', '日本', '新加坡', '美国', '其它地区', '全部节点']);
    expect(Object.keys(result.api['/providers/proxies'].providers)).toEqual(['default', 'provider1', 'provider2']);
    expect(result.api['/rules'].rules).toHaveLength(18);
  });

  it('03: downloads the .mrs rule providers it can from the stand-in, keeps running without the others', () => {
    const result = run(copyOf('03-metacubex-wiki-ruleset-mrs.yaml'), '127.0.0.1:9090');
    expect(result.code).toBe(0);
    const providers = result.api['/providers/rules'].providers;
    expect(Object.keys(providers)).toHaveLength(21);
    expect(providers.telegram_domain).toMatchObject({ vehicleType: 'HTTP', behavior: 'Domain', format: 'MrsRule' });
    expect(providers.telegram_domain.ruleCount).toBeGreaterThan(0);
    expect(providers.cn_domain.ruleCount).toBe(0);
  });

  it('01, 07, 12, 14: start, open the listeners sluice implements, and stop cleanly', () => {
    for (const [file, listener] of [
      ['01-mihomo-docs-reference.yaml', /listening vmess vmess-in-1 on 0\.0\.0\.0:10814/],
      ['07-repcz-mihomo-server-listeners.yaml', /listening mixed DEFAULT-MIXED on 127\.0\.0\.1:65222/],
      ['12-subconverter-simple-base.yml', /listening socks DEFAULT-SOCKS on 0\.0\.0\.0:7891/],
      ['14-clashfree-subscription.yml', /listening mixed DEFAULT-MIXED on 127\.0\.0\.1:7890/],
    ] as const) {
      const result = run(copyOf(file));
      const lines = messages(result);
      expect(result.code, file).toBe(0);
      expect(lines.some((l) => listener.test(l)), `${file}\n${lines.join('\n')}`).toBe(true);
    }
  });
});

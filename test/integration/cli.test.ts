import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, closedPorts, closedWithin, closeServer, dial, listen, readAll, trackedServer } from '../helpers/net.js';

const bin = new URL('../../bin/sluice.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));

beforeAll(() => {
  if (!existsSync(new URL('../../dist/cli.js', import.meta.url))) throw new Error('dist/ is missing: run npm run build (npm test does)');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sluice(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
}

function configFile(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

/** Runs a short sluice command without blocking the event loop (the server it talks to may be in this process's children). */
async function runStatus(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/** Starts `sluice run` and waits for its 'started' log line. */
async function runSluice(args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [bin, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const deadline = Date.now() + 10_000;
  while (!/started with/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sluice did not start:\n${output}`);
    await sleep(20);
  }
  return { child, output: () => output };
}

describe('sluice CLI', () => {
  it('prints version, uuid and help for every command', () => {
    expect(sluice('version').stdout).toMatch(/^sluice \d+\.\d+\.\d+\n$/);
    expect(sluice('uuid').stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$/);
    for (const command of ['run', 'check', 'init', 'status', 'uuid', 'version', 'genkey', 'pubkey', 'genpsk', 'bench']) {
      const result = sluice(command, '--help');
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`Usage: sluice ${command}`);
    }
    expect(sluice('--help').stdout).toContain('Commands:');
    const unknown = sluice('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    expect(sluice('run', '--bogus').status).toBe(2);
  });

  it('check accepts a realistic mihomo config unchanged and lists every provider with its count', () => {
    const home = join(dir, 'mihomo');
    mkdirSync(join(home, 'ruleset'), { recursive: true });
    copyFileSync(new URL('../fixtures/mihomo/config.yaml', import.meta.url), join(home, 'config.yaml'));
    const data = new URL('../../../shared/testdata/clash-rules/', import.meta.url).pathname;
    const copies: [string, string][] = [
      ['loyalsoldier-clash-rules/private.txt', 'private.yaml'],
      ['loyalsoldier-clash-rules/apple.txt', 'apple.yaml'],
      ['loyalsoldier-clash-rules/applications.txt', 'applications.yaml'],
      ['loyalsoldier-clash-rules/lancidr.txt', 'lancidr.yaml'],
      ['loyalsoldier-clash-rules/cncidr.txt', 'cncidr.yaml'],
      ['acl4ssr/Telegram_ip.mrs', 'telegram_ip.mrs'],
      ['meta-rules-dat/geosite/openai.list', 'openai.list'],
      ['acl4ssr/UnBan.list', 'unban.list'],
      ['acl4ssr/LocalAreaNetwork.yaml', 'lan.yaml'],
    ];
    for (const [from, to] of copies) copyFileSync(data + from, join(home, 'ruleset', to));
    const result = sluice('check', '-f', join(home, 'config.yaml'));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const out = result.stdout;
    expect(out).toContain('proxy-groups: 8');
    expect(out).toContain('rule-providers: 11');
    for (const line of [
      'private  file domain yaml  130 entries',
      'applications  file classical yaml  96 entries  (1 warnings)',
      'cncidr  file ipcidr yaml  8649 entries',
      'telegramcidr  http ipcidr yaml  not downloaded yet',
      'telegram-ip  file ipcidr mrs  7 entries',
      'unban  file classical text  31 entries',
      'lan  file classical yaml  37 entries',
      'ads  inline domain yaml  3 entries',
    ]) {
      expect(out).toContain(line);
    }
    expect(out).toContain('rules: 42');
    expect(out).toMatch(/PROCESS-NAME rules never match/);
  });

  it('init writes client, server and gateway configs that pass check, with a client snippet that fits', () => {
    const files = Object.fromEntries(['client', 'server', 'gateway'].map((kind) => [kind, join(dir, `init-${kind}.yaml`)]));
    const results = Object.fromEntries(Object.entries(files).map(([kind, file]) => [kind, sluice('init', `--${kind}`, '-o', file, '--host', 'vpn.example')]));
    for (const [kind, result] of Object.entries(results)) {
      expect(result.status, `${kind}: ${result.stderr}`).toBe(0);
      const check = sluice('check', '-f', files[kind]!);
      expect(check.status, `${kind}: ${check.stderr}`).toBe(0);
    }
    const serverUuid = /uuid: ([0-9a-f-]{36})/.exec(readFileSync(files.server!, 'utf8'))![1];
    expect(results.server!.stdout).toContain(`server: vpn.example, port: 10086, uuid: ${serverUuid}`);
    // The printed entry drops into a client config as it is.
    const snippet = results.server!.stdout.split('\n').filter((l) => l.startsWith('  - ')).join('\n');
    const client = configFile('init-client-filled.yaml', `${readFileSync(files.client!, 'utf8').replace('proxies:\n', `proxies:\n${snippet}\n`)}`);
    expect(sluice('check', '-f', client).stdout).toMatch(/proxies: 1\n\s+sluice-vpn.example\s+vmess/);
    const gatewayText = readFileSync(files.gateway!, 'utf8');
    const gatewayPublic = /# public key: (\S+)/.exec(gatewayText)![1];
    expect(results.gateway!.stdout).toContain(`public-key: ${gatewayPublic}`);
    const again = sluice('init', '--client', '-o', files.client!);
    expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/EEXIST/)]);
    expect(sluice('init').status).toBe(2);
  });

  it('genkey, pubkey and genpsk print keys the way wg does', () => {
    const key = sluice('genkey').stdout.trim();
    expect(key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const raw = Buffer.from(key, 'base64');
    expect([raw[0]! & 7, raw[31]! & 0xc0]).toEqual([0, 0x40]);
    const pub = spawnSync(process.execPath, [bin, 'pubkey'], { input: key + '\n', encoding: 'utf8' });
    expect(pub.stdout.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(pub.stdout.trim()).not.toBe(key);
    // RFC 7748 §6.1, Alice.
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
    const alicePub = spawnSync(process.execPath, [bin, 'pubkey'], { input: alice, encoding: 'utf8' });
    expect(Buffer.from(alicePub.stdout.trim(), 'base64').toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bad = spawnSync(process.execPath, [bin, 'pubkey'], { input: 'not a key', encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('32 bytes in base64');
    expect(sluice('genpsk').stdout.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('check prints a summary of a valid config and the errors of an invalid one', () => {
    const good = configFile('good.yaml', `mixed-port: 7999
ntp: { enable: true }
listeners: [{ name: s, type: socks, port: 1081 }]
proxies: [{ name: out, type: direct }]
rules: ['DOMAIN,a.test,out', 'MATCH,DIRECT']`);
    const ok = sluice('check', '-f', good);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('DEFAULT-MIXED  mixed  127.0.0.1:7999');
    expect(ok.stdout).toContain('rules: 2');
    expect(ok.stdout).toContain('not implemented yet, ignored: ntp');
    const bad = configFile('bad.yaml', 'listeners:\n  - { name: a, type: socks, port: 1 }\n  - { name: b, type: http, port: 70000 }\n');
    const failed = sluice('check', '-f', bad);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('listeners[1].port: must be <= 65535, got 70000');
    expect(sluice('check', '-f', join(dir, 'missing.yaml')).stderr).toContain('cannot read config');
  });

  it('check lists pqtunnel proxies and gateways', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    const file = configFile(
      'tunnel.yaml',
      `mixed-port: 7998\nproxies:\n  - { name: gw, type: pqtunnel, server: 192.0.2.1, port: 51820, private-key: "${key}", public-key: "${key}" }\n` +
        `listeners:\n  - { name: gw-in, type: pqtunnel, port: 51820, private-key: "${key}", ipv4-pool: 10.66.0.0/16, peers: [{ name: a, public-key: "${key}" }] }\nrules: ['MATCH,gw']\n`,
    );
    const result = sluice('check', '-f', file);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('gw-in  pqtunnel  0.0.0.0:51820');
    expect(result.stdout).toContain('gw  pqtunnel');
  });

  it('run refuses a bad config without opening any port', async () => {
    const port = await closedPort();
    const bad = configFile('bad-run.yaml', `mixed-port: ${port}\nrules: ['NOWHERE,x,DIRECT']\n`);
    const result = sluice('run', '-f', bad);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("rules[0]: unknown rule type 'NOWHERE'");
    await expect(dial(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('run serves, logs JSON on request, and on SIGTERM lets an open flow finish before exiting 0', async () => {
    const port = await closedPort();
    let originSocket: import('node:net').Socket | undefined;
    const origin = trackedServer((socket) => (originSocket = socket));
    const originPort = await listen(origin);
    const config = configFile('run.yaml', `mixed-port: ${port}\ntimeouts: { shutdown-grace: 5 }\nrules: ['MATCH,DIRECT']\n`);
    const { child, output } = await runSluice(['-f', config, '--log-format', 'json']);
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: originPort },
    });
    const received = readAll(socket);
    while (!originSocket) await sleep(10);
    child.kill('SIGTERM');
    await sleep(300);
    // New connections are refused while the open flow keeps going.
    await expect(dial(port)).rejects.toThrow(/ECONNREFUSED/);
    originSocket.end('late reply');
    socket.end();
    expect((await received).toString()).toBe('late reply');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const lines = output().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; up?: number; down?: number });
    expect(lines.some((l) => l.msg.startsWith('[TCP]') && l.down === 10)).toBe(true);
    expect(lines.at(-1)!.msg).toBe('stopped');
    await closeServer(origin);
  });

  it('status reports a running sluice through its controller, as text and as JSON', async () => {
    const [mixed, api] = (await closedPorts(2)) as [number, number];
    const config = configFile(
      'status.yaml',
      `mixed-port: ${mixed}\nexternal-controller: 127.0.0.1:${api}\nsecret: abc\nproxies: [{ name: d1, type: direct }]\nproxy-groups: [{ name: PROXY, type: select, proxies: [d1, DIRECT] }]\nrules: ['MATCH,PROXY']\n`,
    );
    const { child } = await runSluice(['-f', config]);
    try {
      const text = await runStatus(['status', '-f', config]);
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^sluice v\d+\.\d+\.\d+-sluice at http:\/\/127\.0\.0\.1:\d+, mode rule, log-level info$/m);
      expect(text.stdout).toContain(`DEFAULT-MIXED  mixed  127.0.0.1:${mixed}`);
      expect(text.stdout).toContain('PROXY  Selector  now d1  [d1, DIRECT]');
      expect(text.stdout).toMatch(/connections: 0 open; traffic since start: up 0 B, down 0 B/);
      const json = await runStatus(['status', '--controller', `http://127.0.0.1:${api}`, '--secret', 'abc', '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ configs: { mode: 'rule' }, proxies: { proxies: { PROXY: { now: 'd1' } } } });
      const denied = await runStatus(['status', '--controller', `http://127.0.0.1:${api}`]);
      expect([denied.code, denied.stderr]).toEqual([1, expect.stringMatching(/HTTP 401/)]);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('run ends a flow still open when the shutdown grace period is over, and exits', async () => {
    const port = await closedPort();
    const origin = trackedServer(() => {});
    const originPort = await listen(origin);
    const config = configFile('grace.yaml', `mixed-port: ${port}\ntimeouts: { shutdown-grace: 0.5 }\nrules: ['MATCH,DIRECT']\n`);
    const { child, output } = await runSluice(['-f', config]);
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port, type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: originPort },
    });
    const started = Date.now();
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await closedWithin(socket, 1000)).toBe(true);
    expect(output()).toMatch(/error="sluice is shutting down"/);
    socket.destroy();
    await closeServer(origin);
  });

  it('npm start configuration: run without -f uses the bundled default on 127.0.0.1:7890', async () => {
    const busy = await dial(7890).then((s) => (s.destroy(), true), () => false);
    if (busy) throw new Error('port 7890 is in use on this machine');
    const { child, output } = await runSluice([]);
    expect(output()).toContain('listening mixed DEFAULT-MIXED on 127.0.0.1:7890');
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});

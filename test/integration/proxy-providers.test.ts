import { existsSync, mkdtempSync, readdirSync as readdir, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, closeServer, echoServer, eventually, listen, socksPing, startBox, startVmessServer, type RunningBox } from '../helpers/net.js';

const uuid = '7b4a7e8e-2f7f-4c4b-9d5e-1f0e4f5a6b7c';
const secret = 's3cret';
const echo = echoServer();
let echoPort = 0;
let upA: RunningBox;
let upB: RunningBox;
let box: RunningBox;
let api = '';
let subscription = { status: 200, body: '' };
const requests: string[] = [];
const web = createServer((req: IncomingMessage, res: ServerResponse) => {
  requests.push(`${req.url} ${String(req.headers['x-token'] ?? '')}`);
  res.writeHead(subscription.status, { 'subscription-userinfo': 'upload=1024; download=2048; total=1073741824; expire=1767225600' });
  res.end(subscription.body);
});

const vmessLink = (name: string, port: number): string =>
  `vmess://${Buffer.from(JSON.stringify({ v: '2', ps: name, add: '127.0.0.1', port: String(port), id: uuid, aid: '4', scy: 'aes-128-gcm', net: 'tcp' })).toString('base64')}`;
const links = (...lines: string[]): string => Buffer.from(lines.join('\n')).toString('base64');

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await request(api + path, { method: method as 'GET', headers: { authorization: `Bearer ${secret}` }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? JSON.parse(text) : undefined };
}

/** Sends a line through the box's SOCKS5 port to the echo server and reads it back. */
const roundTrip = (): Promise<string> => socksPing(box.port('mix'), echoPort);

const group = (name: string) => box.box.groups.find((g) => g.name === name)!;

beforeAll(async () => {
  echoPort = await listen(echo);
  [upA, upB] = await Promise.all([startVmessServer('a', uuid), startVmessServer('b', uuid)]);
  subscription.body = links(vmessLink('hk-a', upA.port()), vmessLink('jp-b', upB.port()), vmessLink('us-c', 9), `trojan://pw@127.0.0.1:9#hk-trojan`);
  const webPort = await listen(web);
  const home = mkdtempSync(join(tmpdir(), 'sluice-providers-'));
  box = await startBox(`
external-controller: 127.0.0.1:0
secret: ${secret}
listeners:
  - { name: mix, type: mixed, port: 0 }
proxy-providers:
  sub:
    type: http
    url: http://127.0.0.1:${webPort}/sub
    interval: 3600
    header: { X-Token: [abc] }
    filter: 'hk|jp'
    override: { additional-prefix: '[sub] ', proxy-name: [{ pattern: '-(\\w)$', target: ' $1' }] }
    health-check: { enable: false, url: 'http://127.0.0.1:${webPort}/204' }
  local:
    type: inline
    payload: [{ name: loc, type: direct, udp: true }]
proxy-groups:
  - { name: PROXY, type: select, use: [sub] }
  - { name: all, type: select, include-all: true, exclude-type: 'Direct|Trojan', hidden: true, icon: 'https://icons.example/all.png' }
rules: ['MATCH,PROXY']
`, { home });
  api = `http://127.0.0.1:${box.box.controller!.address().port}`;
}, 30_000);

afterAll(async () => {
  await Promise.all([box?.close(), upA?.close(), upB?.close(), closeServer(echo), closeServer(web)]);
});

describe('proxy providers (a subscription served on loopback)', () => {
  it('downloads the subscription at start (with its headers), caches it, and applies filter, override and placeholders', () => {
    expect(requests).toEqual(['/sub abc']);
    expect(existsSync(join(box.box.config.home, 'proxies'))).toBe(true);
    expect(group('PROXY').memberNames).toEqual(['[sub] hk a', '[sub] jp b', '[sub] hk-trojan']);
    // include-all: every proxies: entry (none here) and every provider; exclude-type drops loc (Direct) and the trojan.
    expect(group('all').memberNames).toEqual(['[sub] hk a', '[sub] jp b']);
    const trojan = box.box.proxyProviders.of('sub')[2]!;
    expect([trojan.type, trojan.unusable]).toEqual(['Trojan', "proxy [sub] hk-trojan: type 'trojan' is not supported by sluice"]);
    expect(box.logs.some((l) => l.includes('UNSUPPORTED PROXIES: 1 of 3 proxies'))).toBe(true);
  });

  it('carries flows through the provider proxy the group selects', async () => {
    expect(await roundTrip()).toBe('ping');
    expect(await eventually(() => upA.logs.some((l) => l.includes(`127.0.0.1:${echoPort}`)))).toBe(true);
    expect((await call('PUT', '/proxies/PROXY', { name: '[sub] jp b' })).status).toBe(204);
    expect(await roundTrip()).toBe('ping');
    expect(await eventually(() => upB.logs.some((l) => l.includes(`127.0.0.1:${echoPort}`)))).toBe(true);
  });

  it('answers /providers/proxies in mihomo shapes', async () => {
    const { json } = await call('GET', '/providers/proxies');
    expect(Object.keys(json.providers)).toEqual(['default', 'sub', 'local']);
    const sub = json.providers.sub;
    expect(Object.keys(sub).sort()).toEqual(['expectedStatus', 'name', 'proxies', 'subscriptionInfo', 'testUrl', 'type', 'updatedAt', 'vehicleType']);
    expect(sub).toMatchObject({ name: 'sub', type: 'Proxy', vehicleType: 'HTTP', expectedStatus: '*', subscriptionInfo: { Upload: 1024, Download: 2048, Total: 1073741824, Expire: 1767225600 } });
    expect(sub.testUrl).toMatch(/\/204$/);
    expect(Date.parse(sub.updatedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(sub.proxies.map((p: { name: string; type: string }) => [p.name, p.type])).toEqual([['[sub] hk a', 'Vmess'], ['[sub] jp b', 'Vmess'], ['[sub] hk-trojan', 'Trojan']]);
    expect(sub.proxies[0]).toMatchObject({ alive: true, history: [], udp: true });
    expect(sub.proxies[2].alive).toBe(false);
    expect((await call('GET', '/proxies/all')).json).toMatchObject({ hidden: true, icon: 'https://icons.example/all.png' });
    expect(json.providers.local).toMatchObject({ vehicleType: 'Inline', proxies: [{ name: 'loc', type: 'Direct' }] });
    expect(json.providers.local.subscriptionInfo).toBeUndefined();
    expect((await call('GET', '/providers/proxies/sub')).json.name).toBe('sub');
    expect((await call('GET', '/providers/proxies/sub/[sub] hk a')).json.name).toBe('[sub] hk a');
    expect((await call('GET', '/providers/proxies/nope')).status).toBe(404);
    expect((await call('GET', '/providers/proxies/sub/nope')).status).toBe(404);
    expect((await call('GET', '/providers/proxies/sub/healthcheck')).status).toBe(204);
    const delay = await call('GET', `/providers/proxies/sub/${encodeURIComponent('[sub] hk-trojan')}/healthcheck?url=http://127.0.0.1:1/&timeout=500`);
    expect(delay.status).toBe(503);
  });

  it('an update changes the groups live; the chosen member gone, the first is used; a failed update keeps the last good copy', async () => {
    subscription.body = links(vmessLink('hk-a', upA.port()), vmessLink('hk-d', upB.port()));
    expect((await call('PUT', '/providers/proxies/sub')).status).toBe(204);
    expect(group('PROXY').memberNames).toEqual(['[sub] hk a', '[sub] hk d']);
    expect(group('PROXY').now).toBe('[sub] hk a');
    expect(box.logs.some((l) => l.includes('group PROXY: [sub] jp b is gone after a provider update; using [sub] hk a'))).toBe(true);
    expect(group('all').memberNames).toEqual(['[sub] hk a', '[sub] hk d']);
    expect(await roundTrip()).toBe('ping');
    subscription = { status: 500, body: 'oops' };
    const failed = await call('PUT', '/providers/proxies/sub');
    expect(failed.status).toBe(503);
    expect(failed.json.message).toMatch(/HTTP 500/);
    expect(group('PROXY').memberNames).toEqual(['[sub] hk a', '[sub] hk d']);
    subscription = { status: 200, body: 'rules: []' };
    expect((await call('PUT', '/providers/proxies/sub')).status).toBe(503);
    expect(group('PROXY').memberNames).toEqual(['[sub] hk a', '[sub] hk d']);
    const cached = readFileSync(join(box.box.config.home, 'proxies', readdir(join(box.box.config.home, 'proxies'))[0]!), 'utf8');
    expect(cached).toBe(links(vmessLink('hk-a', upA.port()), vmessLink('hk-d', upB.port())));
  });

  it('start-up waits at most provider-download for a subscription that does not answer, then fills in; the cached copy serves the next start', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sluice-providers-'));
    let answer: (() => void) | undefined;
    const slow = createServer((_req, res) => void (answer = () => res.end(links(vmessLink('late', upA.port())))));
    const port = await listen(slow);
    const config = `listeners: [{ name: mix, type: mixed, port: 0 }]
timeouts: { provider-download: 1 }
proxy-providers: { late: { type: http, url: 'http://127.0.0.1:${port}/', path: late.txt } }
proxy-groups: [{ name: G, type: select, use: [late] }]
rules: ['MATCH,G']`;
    const started = Date.now();
    const slowBox = await startBox(config, { home });
    expect(Date.now() - started).toBeLessThan(3000);
    const g = slowBox.box.groups.find((x) => x.name === 'G')!;
    expect(g.memberNames).toEqual(['COMPATIBLE']);
    expect(await eventually(() => answer !== undefined)).toBe(true);
    answer!();
    expect(await eventually(() => g.memberNames[0] === 'late', 3000)).toBe(true);
    await slowBox.close();
    slow.closeAllConnections();
    await closeServer(slow);
    const offline = await startBox(config.replace(`${port}`, String(await closedPort())), { home });
    expect(offline.box.groups.find((x) => x.name === 'G')!.memberNames).toEqual(['late']);
    await offline.close();
  }, 20_000);
});

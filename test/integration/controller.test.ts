import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, closedWithin, closeServer, dial, echoServer, eventually, listen, readBytes, socksConnectBytes, startBox, type RunningBox } from '../helpers/net.js';

const secret = 's3cret';
const echo = echoServer();
const health = createHttpServer((_req, res) => res.writeHead(204).end());
let box: RunningBox;
let api = '';
let echoPort = 0;
let healthUrl = '';

async function call(method: string, path: string, body?: unknown, token: string | null = secret): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  const response = await request(api + path, {
    method: method as 'GET',
    headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Opens a SOCKS5 CONNECT to the echo server through the box; resolves with the socket after the reply. */
async function openFlow(): Promise<{ socket: Awaited<ReturnType<typeof dial>>; reply: number }> {
  const socket = await dial(box.port('mix'));
  socket.write(socksConnectBytes('127.0.0.1', echoPort));
  const answer = await readBytes(socket, 12);
  return { socket, reply: answer[3]! };
}

function socketMessages(path: string): { ws: WebSocket; messages: unknown[]; opened: Promise<unknown> } {
  const ws = new WebSocket(`${api.replace('http', 'ws')}${path}${path.includes('?') ? '&' : '?'}token=${secret}`);
  const messages: unknown[] = [];
  ws.addEventListener('message', (event) => messages.push(JSON.parse(String(event.data))));
  return { ws, messages, opened: once(ws as unknown as NodeJS.EventEmitter, 'open') };
}

beforeAll(async () => {
  echoPort = await listen(echo);
  healthUrl = `http://127.0.0.1:${await listen(health)}/gen204`;
  box = await startBox(`
external-controller: 127.0.0.1:0
secret: ${secret}
external-ui: ${new URL('../fixtures/ui/', import.meta.url).pathname}
listeners:
  - { name: mix, type: mixed, port: 0 }
proxies:
  - { name: d1, type: direct }
  - { name: d2, type: direct }
proxy-groups:
  - { name: PROXY, type: select, proxies: [DIRECT, REJECT] }
  - { name: auto, type: url-test, proxies: [d1, d2], url: '${healthUrl}', interval: 0 }
rule-providers:
  mine: { type: inline, behavior: domain, payload: ['+.example.com', 'exact.example.org'] }
rules:
  - DOMAIN-SUFFIX,blocked.test,REJECT
  - RULE-SET,mine,auto
  - IP-CIDR,127.0.0.0/8,PROXY,no-resolve
  - MATCH,DIRECT
`);
  const { port } = box.box.controller!.address();
  api = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await box?.close();
  await Promise.all([closeServer(echo), closeServer(health)]);
});

describe('controller API (shapes from specs/controller-api.md)', () => {
  it('requires the secret, answers CORS preflights without it, and names itself', async () => {
    expect((await call('GET', '/version', undefined, null)).status).toBe(401);
    expect((await call('GET', '/version', undefined, 'wrong')).json).toEqual({ message: 'Unauthorized' });
    const preflight = await request(`${api}/proxies`, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'PUT', 'access-control-request-private-network': 'true' },
    });
    await preflight.body.dump();
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    expect(preflight.headers['access-control-allow-headers']).toContain('Authorization');
    expect(preflight.headers['access-control-allow-private-network']).toBe('true');
    const version = await call('GET', '/version');
    expect(version.json).toMatchObject({ meta: true });
    expect((version.json as { version: string }).version).toMatch(/^v\d+\.\d+\.\d+-sluice$/);
    expect((await call('GET', '/nope')).json).toEqual({ message: 'Resource not found' });
  });

  it('serves external-ui under /ui/ without the secret, and nothing outside that folder', async () => {
    const page = await request(`${api}/ui/`);
    expect([page.statusCode, page.headers['content-type']]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.body.text()).toContain('sluice test dashboard');
    for (const path of ['/ui/%2e%2e/%2e%2e/package.json', '/ui/../../package.json', '/ui/missing.js', '/ui/%E0%A4%A']) {
      const response = await request(api + path);
      const text = await response.body.text();
      // A dot-segment path is normalised out of /ui/ and then needs the secret; either way no file leaks.
      expect([401, 404], path).toContain(response.statusCode);
      expect(text, path).not.toContain('"name": "sluice"');
    }
  });

  it('GET /configs and PATCH /configs (mode case-insensitive, log-level, bad values refused)', async () => {
    const configs = (await call('GET', '/configs')).json as Record<string, unknown>;
    expect(configs).toMatchObject({ mode: 'rule', 'log-level': 'debug', port: 0, 'socks-port': 0, 'mixed-port': 0, 'allow-lan': false });
    expect((await call('PATCH', '/configs', { mode: 'Global' })).status).toBe(204);
    expect(((await call('GET', '/configs')).json as { mode: string }).mode).toBe('global');
    expect((await call('PATCH', '/configs', { mode: 'sideways' })).status).toBe(400);
    expect((await call('PATCH', '/configs', { mode: 'rule', 'log-level': 'info', 'socket-port': 1 })).status).toBe(204);
    expect(((await call('GET', '/configs')).json as { 'log-level': string })['log-level']).toBe('info');
    expect((await call('PATCH', '/configs', { 'log-level': 'debug' })).status).toBe(204);
    expect((await call('PATCH', '/configs', 'not json')).json).toEqual({ message: 'Body invalid' });
    expect((await call('PATCH', '/configs', { 'bind-address': 'lan' })).json).toEqual({ message: "bind-address: expected '*' or an IP address" });
    expect((await call('PATCH', '/configs', { tun: { enable: true } })).json).toMatchObject({ message: expect.stringMatching(/^tun: sluice has no TUN inbound/) });
    expect((await call('PATCH', '/configs', { 'tproxy-port': 7893 })).status).toBe(400);
    expect((await call('PATCH', '/configs', { dns: { enable: true } })).json).toEqual({ message: 'dns: cannot change at run time; edit the config and reload it (PUT /configs)' });
  });

  it('PATCH /configs allow-lan and bind-address move the built-in listeners; allow-lan off brings them back to loopback', async () => {
    const port = await closedPort();
    expect((await call('PATCH', '/configs', { 'mixed-port': port, 'allow-lan': true, 'bind-address': '127.0.0.2' })).status).toBe(204);
    const view = (await call('GET', '/configs')).json as { 'allow-lan': boolean; 'bind-address': string; listeners: { name: string; listen: string }[] };
    expect(view).toMatchObject({ 'allow-lan': true, 'bind-address': '127.0.0.2' });
    expect(view.listeners.find((l) => l.name === 'DEFAULT-MIXED')?.listen).toBe('127.0.0.2');
    expect(view.listeners.find((l) => l.name === 'mix')?.listen, 'listeners: entries keep their own address').toBe('127.0.0.1');
    (await dial(port, '127.0.0.2')).destroy();
    await expect(dial(port, '127.0.0.1')).rejects.toThrow(/ECONNREFUSED/);
    expect((await call('PATCH', '/configs', { 'allow-lan': false })).status).toBe(204);
    expect((await call('GET', '/configs')).json).toMatchObject({ 'allow-lan': false, 'bind-address': '127.0.0.2' });
    (await dial(port, '127.0.0.1')).destroy();
    await expect(dial(port, '127.0.0.2')).rejects.toThrow(/ECONNREFUSED/);
    expect((await call('PATCH', '/configs', { 'mixed-port': 0, 'bind-address': '*' })).status).toBe(204);
  });

  it('PATCH /configs moves, opens and closes the built-in ports through a reload', async () => {
    const port = await closedPort();
    expect((await call('PATCH', '/configs', { 'mixed-port': port })).status).toBe(204);
    expect(((await call('GET', '/configs')).json as Record<string, number>)['mixed-port']).toBe(port);
    const socket = await dial(port);
    socket.write(socksConnectBytes('127.0.0.1', echoPort));
    expect((await readBytes(socket, 12))[3]).toBe(0);
    socket.destroy();
    expect((await call('PATCH', '/configs', { 'mixed-port': 0 })).status).toBe(204);
    await expect(dial(port)).rejects.toThrow(/ECONNREFUSED/);
    expect((await call('PATCH', '/configs', { 'mixed-port': 70000 })).status).toBe(400);
    expect(box.box.inbounds.map((i) => i.name)).toEqual(['mix']);
  });

  it('GET /proxies lists built-ins, proxies and groups with the fields dashboards read', async () => {
    const { proxies } = (await call('GET', '/proxies')).json as { proxies: Record<string, Record<string, unknown>> };
    for (const name of ['DIRECT', 'REJECT', 'REJECT-DROP', 'PASS', 'COMPATIBLE', 'd1', 'd2', 'PROXY', 'auto', 'GLOBAL']) expect(proxies[name], name).toBeDefined();
    expect(proxies.DIRECT).toMatchObject({ name: 'DIRECT', type: 'Direct', udp: true, alive: true, history: [], extra: {} });
    expect(proxies.DIRECT!.all).toBeUndefined();
    expect(proxies.PROXY).toMatchObject({ type: 'Selector', all: ['DIRECT', 'REJECT'], now: 'DIRECT' });
    expect(proxies.auto).toMatchObject({ type: 'URLTest', all: ['d1', 'd2'], now: 'd1', fixed: '', testUrl: healthUrl, expectedStatus: '*' });
    expect(proxies.GLOBAL).toMatchObject({ type: 'Selector', all: ['DIRECT', 'REJECT', 'd1', 'd2', 'PROXY', 'auto'] });
    expect((await call('GET', '/proxies/d1')).json).toMatchObject({ name: 'd1', type: 'Direct' });
    expect((await call('GET', '/proxies/nobody')).status).toBe(404);
  });

  it('PUT /proxies/:name changes where the next flow goes; errors as mihomo words them', async () => {
    const before = await openFlow();
    expect(before.reply).toBe(0);
    before.socket.write('ping');
    expect((await readBytes(before.socket, 4)).toString()).toBe('ping');
    before.socket.destroy();
    expect((await call('PUT', '/proxies/PROXY', { name: 'REJECT' })).status).toBe(204);
    expect(((await call('GET', '/proxies/PROXY')).json as { now: string }).now).toBe('REJECT');
    const after = await openFlow();
    expect(after.reply).toBe(0x02);
    after.socket.destroy();
    expect((await call('PUT', '/proxies/PROXY', { name: 'DIRECT' })).status).toBe(204);
    expect((await call('PUT', '/proxies/PROXY', { name: 'nope' })).json).toEqual({ message: 'Selector update error: proxy not exist' });
    expect((await call('PUT', '/proxies/d1', { name: 'd2' })).json).toEqual({ message: 'Must be a Selector' });
    expect((await call('PUT', '/proxies/auto', { name: 'd2' })).status).toBe(204);
    expect(((await call('GET', '/proxies/auto')).json as { fixed: string }).fixed).toBe('d2');
    expect((await call('DELETE', '/proxies/auto')).status).toBe(204);
    expect(((await call('GET', '/proxies/auto')).json as { fixed: string }).fixed).toBe('');
    expect((await call('DELETE', '/proxies/PROXY')).status).toBe(400);
  });

  it('delay tests through a proxy and through a group, recorded in the history', async () => {
    const single = await call('GET', `/proxies/d1/delay?url=${encodeURIComponent(healthUrl)}&timeout=2000`);
    expect(single.status).toBe(200);
    expect((single.json as { delay: number }).delay).toBeGreaterThan(0);
    const d1 = (await call('GET', '/proxies/d1')).json as { history: { delay: number; time: string }[]; extra: Record<string, unknown> };
    expect(d1.history.at(-1)!.delay).toBeGreaterThan(0);
    expect(d1.history.at(-1)!.time).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(d1.extra[healthUrl]).toMatchObject({ alive: true });
    expect((await call('GET', `/proxies/REJECT/delay?url=${encodeURIComponent(healthUrl)}&timeout=2000`)).json).toEqual({ message: 'An error occurred in the delay test' });
    expect((await call('GET', '/proxies/d1/delay?timeout=abc&url=http://x')).status).toBe(400);
    const group = (await call('GET', `/group/auto/delay?url=${encodeURIComponent(healthUrl)}&timeout=2000`)).json as Record<string, number>;
    expect(Object.keys(group).sort()).toEqual(['d1', 'd2']);
    expect((await call('GET', '/group')).json).toMatchObject({ proxies: expect.arrayContaining([expect.objectContaining({ name: 'auto' })]) });
  });

  it('GET /rules (with hit and miss counts) and the rule providers', async () => {
    const extra = { disabled: false, hitCount: expect.any(Number), hitAt: expect.any(String), missCount: expect.any(Number), missAt: expect.any(String) };
    type Rules = { rules: { extra: { hitCount: number; missCount: number; hitAt: string } }[] };
    const before = (await call('GET', '/rules')).json as Rules;
    expect(before).toEqual({
      rules: [
        { index: 0, type: 'DomainSuffix', payload: 'blocked.test', proxy: 'REJECT', size: -1, extra },
        { index: 1, type: 'RuleSet', payload: 'mine', proxy: 'auto', size: -1, extra },
        { index: 2, type: 'IPCIDR', payload: '127.0.0.0/8', proxy: 'PROXY', size: -1, extra },
        { index: 3, type: 'Match', payload: '', proxy: 'DIRECT', size: -1, extra },
      ],
    });
    const { socket } = await openFlow();
    socket.destroy();
    const after = (await call('GET', '/rules')).json as Rules;
    const delta = (i: number, key: 'hitCount' | 'missCount'): number => after.rules[i]!.extra[key] - before.rules[i]!.extra[key];
    expect([delta(0, 'missCount'), delta(1, 'missCount'), delta(2, 'hitCount'), delta(2, 'missCount'), delta(3, 'hitCount')]).toEqual([1, 1, 1, 0, 0]);
    expect(Date.now() - Date.parse(after.rules[2]!.extra.hitAt)).toBeLessThan(60_000);
    const { providers } = (await call('GET', '/providers/rules')).json as { providers: Record<string, Record<string, unknown>> };
    expect(providers.mine).toMatchObject({ name: 'mine', type: 'Rule', behavior: 'Domain', format: '', vehicleType: 'Inline', ruleCount: 2, payload: ['+.example.com', 'exact.example.org'] });
    expect((await call('PUT', '/providers/rules/mine')).status).toBe(204);
    expect((await call('PUT', '/providers/rules/none')).status).toBe(404);
    expect((await call('GET', '/providers/proxies')).json).toMatchObject({ providers: { default: { vehicleType: 'Compatible' } } });
  });

  it('PATCH /rules/disable switches a rule off for new flows; GET /dns/query answers through the resolver', async () => {
    expect((await call('PATCH', '/rules/disable', { 2: true })).status).toBe(204);
    expect(((await call('GET', '/rules')).json as { rules: { extra: { disabled: boolean } }[] }).rules[2]!.extra.disabled).toBe(true);
    const { socket } = await openFlow();
    const { connections } = (await call('GET', '/connections')).json as { connections: { chains: string[]; rule: string }[] };
    expect(connections.at(-1)).toMatchObject({ chains: ['DIRECT'], rule: 'Match' });
    socket.destroy();
    expect((await call('PATCH', '/rules/disable', { 2: false })).status).toBe(204);
    expect((await call('PATCH', '/rules/disable', { 9: true })).status).toBe(400);
    expect((await call('GET', '/dns/query?name=echo.test&type=A')).json).toEqual({
      Status: 0, Question: [{ Name: 'echo.test.', Qtype: 1, Qclass: 1 }], TC: false, RD: true, RA: true, AD: false, CD: false,
      Answer: [{ name: 'echo.test.', type: 1, TTL: 60, data: '127.0.0.1' }],
    });
    expect((await call('GET', '/dns/query?name=nowhere.test')).json).toMatchObject({ Status: 3 });
    expect((await call('GET', '/dns/query?name=echo.test&type=MX')).json).toEqual({ message: 'invalid query type' });
  });

  it('GET /connections shows an open flow; DELETE /connections/:id ends it at the client within 1 s', async () => {
    const { socket } = await openFlow();
    socket.write('hello');
    await readBytes(socket, 5);
    const { connections, uploadTotal } = (await call('GET', '/connections')).json as { connections: Record<string, unknown>[]; uploadTotal: number };
    const mine = connections.find((c) => (c.metadata as { destinationPort: string }).destinationPort === String(echoPort))!;
    expect(mine).toMatchObject({
      metadata: { network: 'tcp', type: 'Socks5', destinationIP: '127.0.0.1', inboundName: 'mix', host: '' },
      chains: ['DIRECT', 'PROXY'],
      rule: 'IPCIDR',
      rulePayload: '127.0.0.0/8',
      upload: 5,
    });
    expect(typeof (mine.metadata as { sourcePort: unknown }).sourcePort).toBe('string');
    expect(uploadTotal).toBeGreaterThanOrEqual(5);
    expect((await call('DELETE', `/connections/${mine.id as string}`)).status).toBe(204);
    expect(await closedWithin(socket, 1000)).toBe(true);
    socket.destroy();
    expect((await call('DELETE', '/connections/999999')).status).toBe(204);
  });

  it('GET /metrics: Prometheus text with flow, rule, byte, provider and process metrics', async () => {
    expect((await call('GET', '/metrics', undefined, null)).status).toBe(401);
    // A SOCKS5 client offering no method sluice accepts fails its handshake.
    const garbage = await dial(box.port('mix'));
    garbage.write(Buffer.from([5, 1, 0x80]));
    garbage.resume();
    expect(await closedWithin(garbage, 2000)).toBe(true);
    garbage.destroy();
    await sleep(50);
    const open = await openFlow();
    const response = await request(`${api}/metrics`, { headers: { authorization: `Bearer ${secret}` } });
    const text = await response.body.text();
    open.socket.destroy();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? NaN);
    expect(value(/^sluice_flows_total\{inbound="mix",network="tcp",target="PROXY",outbound="DIRECT"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^sluice_flows_total\{inbound="mix",network="tcp",target="PROXY",outbound="REJECT"\} (\d+)$/m)).toBe(1);
    expect(value(/^sluice_rule_hits_total\{rule="IP-CIDR,127.0.0.0\/8"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^sluice_flow_errors_total\{outbound="REJECT"\} (\d+)$/m)).toBe(1);
    expect(value(/^sluice_flow_bytes_total\{direction="up",outbound="DIRECT"\} (\d+)$/m)).toBeGreaterThanOrEqual(9);
    expect(value(/^sluice_rule_provider_entries\{provider="mine"\} (\d+)$/m)).toBe(2);
    expect(value(/^sluice_handshakes_total\{name="mix",protocol="mixed",role="server",result="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^sluice_handshakes_total\{name="mix",protocol="mixed",role="server",result="failed"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^sluice_handshake_duration_seconds_count\{protocol="mixed",role="server"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^sluice_dns_queries_total\{result="failed"\} (\d+)$/m)).toBeGreaterThanOrEqual(1); // nowhere.test, asked by /dns/query
    expect(value(/^sluice_dns_queries_total\{result="ok"\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^sluice_rule_provider_refresh_failures_total\{provider="mine"\} (\d+)$/m)).toBe(0);
    expect(value(/^sluice_flows_active\{inbound="mix",outbound="DIRECT"\} (\d+)$/m), 'the flow open during the scrape').toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^sluice_process_resident_memory_bytes \d+/m);
  });

  it('WebSocket /traffic, /connections, /memory and streamed /logs deliver updates while a transfer runs', async () => {
    const traffic = socketMessages('/traffic');
    const conns = socketMessages('/connections?interval=200');
    const memory = socketMessages('/memory');
    await Promise.all([traffic.opened, conns.opened, memory.opened]);
    const logs = await request(`${api}/logs?level=info`, { headers: { authorization: `Bearer ${secret}` } });
    let logText = '';
    logs.body.on('data', (chunk: Buffer) => (logText += chunk.toString()));
    const { socket } = await openFlow();
    const payload = Buffer.alloc(256 * 1024, 7);
    const sender = setInterval(() => socket.write(payload), 100);
    socket.resume();
    expect(await eventually(() => traffic.messages.some((m) => (m as { up: number }).up > 0), 4000)).toBe(true);
    expect(await eventually(() => conns.messages.some((m) => (m as { connections: unknown[] }).connections.length > 0), 2000)).toBe(true);
    expect(memory.messages[0]).toEqual({ inuse: 0, oslimit: 0 });
    clearInterval(sender);
    socket.destroy();
    expect(await eventually(() => logText.includes('"type":"info"') && logText.includes(`127.0.0.1:${echoPort}`), 3000)).toBe(true);
    logs.body.destroy();
    for (const s of [traffic, conns, memory]) s.ws.close();
    const refused = new WebSocket(`${api.replace('http', 'ws')}/traffic?token=wrong`);
    const outcome = await new Promise((resolve) => {
      refused.addEventListener('error', () => resolve('error'));
      refused.addEventListener('open', () => resolve('open'));
    });
    expect(outcome).toBe('error');
  });
});

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { SocksClient } from 'socks';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoGroup } from '../../src/route/group/url-test.js';
import { closeServer, dial, eventually, listen, readBytes, socksConnectBytes, startBox, testHosts, trackedServer, type RunningBox } from '../helpers/net.js';

const uuid = '7d3f0a54-1c61-4c1a-9c2d-1e0c1b0a9f11';
/** Origin servers answer with their own name, so a test sees which address the bytes reached. */
const origin1 = trackedServer((s) => s.end('origin-127.0.0.1\n'));
const origin2 = trackedServer((s) => s.end('origin-127.0.0.2\n'));
const health = createHttpServer((_req, res) => res.writeHead(204).end());
/** A TLS-looking origin for the sniffer test: waits for the client's first bytes, then answers. */
const origin3 = trackedServer((s) => s.once('data', () => s.end('origin-sniffed-tls\n')));
let port3 = 0;
/** TCP forwarders in front of the two upstream VMess listeners; one adds delay, either can die. */
const forwarders: { server: ReturnType<typeof trackedServer>; port: number }[] = [];
let upstreams: RunningBox;
let client: RunningBox;
let port1 = 0;
let port2 = 0;

function forwarder(targetPort: number, delayMs: number): ReturnType<typeof trackedServer> {
  return trackedServer((inbound) => {
    inbound.pause();
    setTimeout(() => {
      const outbound = connect({ port: targetPort, host: '127.0.0.1' });
      outbound.on('error', () => inbound.destroy());
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
      inbound.pipe(outbound).pipe(inbound);
      inbound.resume();
    }, delayMs);
  });
}

/** Which upstream listener logged a flow to `target` since `from` (log line index). */
function upstreamsSeen(from: number, target: string): string[] {
  return upstreams.logs.slice(from).filter((l) => l.includes(`--> ${target}`)).map((l) => /via (up-[ab])\//.exec(l)?.[1] ?? '?');
}

async function fetchVia(host: string, port: number): Promise<string> {
  const { socket } = await SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: client.port('mix'), type: 5 },
    command: 'connect',
    destination: { host, port },
    timeout: 5000,
  });
  const reply = await readBytes(socket, 17);
  socket.destroy();
  return reply.toString().trim();
}

beforeAll(async () => {
  port1 = await listen(origin1, '127.0.0.1');
  port2 = await listen(origin2, '127.0.0.2');
  const healthPort = await listen(health);
  port3 = await listen(origin3, '127.0.0.1');
  Object.assign(testHosts, {
    'a.test': [{ address: '127.0.0.1', family: 4 }],
    'www.a.test': [{ address: '127.0.0.1', family: 4 }],
    'rs.test': [{ address: '127.0.0.2', family: 4 }],
    'other.test': [{ address: '127.0.0.2', family: 4 }],
  });
  upstreams = await startBox(`
listeners:
  - { name: up-a, type: vmess, port: 0, allow-private-destinations: true, users: [{ username: a, uuid: ${uuid} }] }
  - { name: up-b, type: vmess, port: 0, allow-private-destinations: true, users: [{ username: b, uuid: ${uuid} }] }
rules: ['MATCH,DIRECT']
`);
  for (const [name, delay] of [['up-a', 300], ['up-b', 0]] as const) {
    const server = forwarder(upstreams.port(name), delay);
    forwarders.push({ server, port: await listen(server) });
  }
  client = await startBox(`
external-controller: 127.0.0.1:0
listeners:
  - { name: mix, type: mixed, port: 0 }
proxies:
  - { name: a, type: vmess, server: 127.0.0.1, port: ${forwarders[0]!.port}, uuid: ${uuid}, alterId: 0, cipher: auto }
  - { name: b, type: vmess, server: 127.0.0.1, port: ${forwarders[1]!.port}, uuid: ${uuid}, alterId: 0, cipher: auto }
sniffer:
  enable: true
  sniff: { TLS: { ports: [${port3}], override-destination: false } }
proxy-groups:
  - { name: auto, type: url-test, proxies: [a, b], url: 'http://127.0.0.1:${healthPort}/gen204', interval: 60, lazy: false, timeout: 2000 }
  - { name: PROXY, type: select, proxies: [b, a] }
  - { name: chain, type: relay, proxies: [a, b] }
rule-providers:
  set:
    type: inline
    behavior: domain
    payload: ['+.rs.test']
rules:
  - DOMAIN-SUFFIX,sniff.test,b
  - DOMAIN-SUFFIX,a.test,a
  - IP-CIDR,127.0.0.2/32,b,no-resolve
  - RULE-SET,set,a
  - GEOIP,LAN,DIRECT,no-resolve
  - GEOIP,CN,REJECT,no-resolve
  - DOMAIN,auto.test,auto
  - DOMAIN,relay.test,chain
  - MATCH,PROXY
`);
});

afterAll(async () => {
  await client?.close();
  await upstreams?.close();
  for (const f of forwarders) await closeServer(f.server);
  await Promise.all([closeServer(origin1), closeServer(origin2), closeServer(origin3), closeServer(health)]);
});

describe('routing end to end over loopback', () => {
  it('sends each flow where its rule says, and the bytes arrive there', async () => {
    const cases: [string, number, string, string[]][] = [
      ['www.a.test', port1, 'origin-127.0.0.1', ['up-a']], // DOMAIN-SUFFIX → a
      ['127.0.0.2', port2, 'origin-127.0.0.2', ['up-b']], // IP-CIDR → b
      ['rs.test', port2, 'origin-127.0.0.2', ['up-a']], // RULE-SET → a
      ['127.0.0.1', port1, 'origin-127.0.0.1', []], // GEOIP,LAN → DIRECT, no upstream sees it
      ['other.test', port2, 'origin-127.0.0.2', ['up-b']], // MATCH → PROXY[b]
    ];
    for (const [host, port, answer, seen] of cases) {
      const mark = upstreams.logs.length;
      expect(await fetchVia(host, port), host).toBe(answer);
      await eventually(() => upstreamsSeen(mark, `${host}:${port}`).length >= seen.length);
      expect(upstreamsSeen(mark, `${host}:${port}`), host).toEqual(seen);
    }
    expect(client.logs.some((l) => l.includes('--> other.test') && l.includes('match MATCH using PROXY[b]'))).toBe(true);
    expect(client.logs.some((l) => l.includes('--> rs.test') && l.includes('match RULE-SET,set using a'))).toBe(true);
  });

  it('PUT /proxies/PROXY on the controller moves the next flow to the other upstream', async () => {
    const api = `http://127.0.0.1:${client.box.controller!.address().port}`;
    const select = async (name: string): Promise<number> => {
      const response = await request(`${api}/proxies/PROXY`, { method: 'PUT', body: JSON.stringify({ name }) });
      await response.body.dump();
      return response.statusCode;
    };
    expect(await select('a')).toBe(204);
    try {
      const mark = upstreams.logs.length;
      expect(await fetchVia('other.test', port2)).toBe('origin-127.0.0.2');
      await eventually(() => upstreamsSeen(mark, `other.test:${port2}`).length > 0);
      expect(upstreamsSeen(mark, `other.test:${port2}`)).toEqual(['up-a']);
    } finally {
      expect(await select('b')).toBe(204);
    }
  });

  it('sniffs the SNI of a flow to an IP and routes it by the name (Chromium ClientHello)', async () => {
    const mark = upstreams.logs.length;
    const { socket } = await SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: client.port('mix'), type: 5 },
      command: 'connect',
      destination: { host: '127.0.0.1', port: port3 },
      timeout: 5000,
    });
    socket.write(readFileSync(new URL('../fixtures/clienthello/chromium.bin', import.meta.url)));
    expect((await readBytes(socket, 19)).toString().trim()).toBe('origin-sniffed-tls');
    socket.destroy();
    await eventually(() => upstreamsSeen(mark, `127.0.0.1:${port3}`).length > 0);
    expect(upstreamsSeen(mark, `127.0.0.1:${port3}`)).toEqual(['up-b']);
    await eventually(() => client.logs.some((l) => l.includes('sniffed chromium.sniff.test')));
    expect(client.logs.find((l) => l.includes('sniffed chromium.sniff.test'))).toMatch(/match DOMAIN-SUFFIX,sniff.test using b/);
  });

  it('GEOIP,CN with REJECT answers SOCKS5 REP 0x02 for 114.114.114.114 without dialing', async () => {
    const socket: Socket = await dial(client.port('mix'));
    socket.write(socksConnectBytes('114.114.114.114', 53));
    const reply = await readBytes(socket, 12);
    expect(reply[1]).toBe(0);
    expect(reply[3]).toBe(0x02);
    socket.destroy();
    expect(client.logs.some((l) => l.includes('--> 114.114.114.114:53') && l.includes('match GEOIP,CN using REJECT'))).toBe(true);
  });

  it('relay chains through a, then b, then to the destination', async () => {
    testHosts['relay.test'] = [{ address: '127.0.0.1', family: 4 }];
    const mark = upstreams.logs.length;
    expect(await fetchVia('relay.test', port1)).toBe('origin-127.0.0.1');
    await eventually(() => upstreamsSeen(mark, `relay.test:${port1}`).length > 0);
    expect(upstreamsSeen(mark, `relay.test:${port1}`)).toEqual(['up-b']);
    expect(upstreamsSeen(mark, `127.0.0.1:${forwarders[1]!.port}`)).toEqual(['up-a']);
    expect(client.logs.some((l) => l.includes('--> relay.test') && l.includes('using chain[a>b]'))).toBe(true);
  });

  it('url-test picks the faster upstream, and fails over when it dies', async () => {
    const group = client.box.groups.find((g) => g.name === 'auto') as AutoGroup;
    await group.health.checkAll();
    expect(group.health.of(client.box.outbounds.get('a')!).history.at(-1)).toBeGreaterThan(250);
    expect(group.now).toBe('b');
    testHosts['auto.test'] = [{ address: '127.0.0.1', family: 4 }];
    let mark = upstreams.logs.length;
    expect(await fetchVia('auto.test', port1)).toBe('origin-127.0.0.1');
    await eventually(() => upstreamsSeen(mark, `auto.test:${port1}`).length > 0);
    expect(upstreamsSeen(mark, `auto.test:${port1}`)).toEqual(['up-b']);
    // b's path dies: the next flow fails, which starts a check round, and the group moves to a.
    const dead = forwarders[1]!;
    await closeServer(dead.server);
    await fetchVia('auto.test', port1).catch(() => '');
    expect(await eventually(() => group.now === 'a', 5000)).toBe(true);
    mark = upstreams.logs.length;
    expect(await fetchVia('auto.test', port1)).toBe('origin-127.0.0.1');
    await eventually(() => upstreamsSeen(mark, `auto.test:${port1}`).length > 0);
    expect(upstreamsSeen(mark, `auto.test:${port1}`)).toEqual(['up-a']);
    expect(client.logs.some((l) => l.includes('using auto[a]'))).toBe(true);
    dead.server.listen(dead.port, '127.0.0.1');
    await once(dead.server, 'listening');
  });
});

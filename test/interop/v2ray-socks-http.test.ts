/**
 * sluice's `type: socks5` and `type: http` proxies against Debian's v2ray 4.34 as the server:
 * its SOCKS5 inbound (password accounts, UDP) and its HTTP inbound (Basic accounts, CONNECT),
 * with freedom behind them. 8 MiB each way byte-exact, UDP datagrams, refused credentials.
 */
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoThroughSocks, startEchoPeers, udpThroughSocks, type EchoPeers } from '../helpers/echo-checks.js';
import { requirePeer, startBox, type RunningBox } from '../helpers/net.js';
import { startV2ray, type V2ray } from '../helpers/v2ray.js';

let peers: EchoPeers;
beforeAll(async () => {
  peers = await startEchoPeers();
});
afterAll(() => peers.close());

/** Runs `check` against a sluice whose MATCH goes to `proxy` (a YAML flow map), with v2ray's output on failure. */
async function throughSluice(v2ray: V2ray, proxy: string, check: (box: RunningBox) => Promise<void>): Promise<void> {
  let box: RunningBox | undefined;
  try {
    box = await startBox(`
listeners: [{ name: socks-in, type: socks, port: 0 }]
proxies: [${proxy}]
rules: ['MATCH,out']`);
    await check(box);
  } catch (error) {
    throw new Error(`${(error as Error).message}\nv2ray said:\n${v2ray.output()}\nsluice said:\n${box?.logs.slice(-6).join('\n')}`);
  } finally {
    await box?.close();
    await v2ray.stop();
  }
}

/** What a SOCKS5 client of sluice gets when it asks for the echo server: the REP code sluice answered, or 0. */
async function socksReply(port: number): Promise<string> {
  try {
    const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: peers.tcpPort }, timeout: 10_000 });
    socket.destroy();
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('sluice socks5 proxy → v2ray 4.34 SOCKS5 inbound → freedom', () => {
  const inbound = (port: number) => ({ listen: '127.0.0.1', port, protocol: 'socks', settings: { auth: 'password', accounts: [{ user: 'alice', pass: 's3cret' }], udp: true, ip: '127.0.0.1' } });

  it('with a user name and password: TCP 8 MiB each way byte-exact, UDP datagrams through UDP ASSOCIATE', async ({ skip }) => {
    requirePeer('v2ray', skip);
    const v2ray = await startV2ray(inbound, { protocol: 'freedom' });
    await throughSluice(v2ray, `{ name: out, type: socks5, server: 127.0.0.1, port: ${v2ray.port}, username: alice, password: s3cret, udp: true }`, async (box) => {
      await echoThroughSocks(box.port(), peers.tcpPort);
      await udpThroughSocks(box.port(), peers.udpPort);
    });
  }, 30_000);

  it('a wrong password fails the flow at once, saying the server refused the credentials', async ({ skip }) => {
    requirePeer('v2ray', skip);
    const v2ray = await startV2ray(inbound, { protocol: 'freedom' });
    await throughSluice(v2ray, `{ name: out, type: socks5, server: 127.0.0.1, port: ${v2ray.port}, username: alice, password: wrong }`, async (box) => {
      expect(await socksReply(box.port())).toMatch(/rejected|failure/i);
      expect(box.logs.some((l) => l.includes('proxy out: the SOCKS5 server refused the user name or password'))).toBe(true);
    });
  }, 30_000);
});

describe('sluice http proxy → v2ray 4.34 HTTP inbound (CONNECT) → freedom', () => {
  const inbound = (port: number) => ({ listen: '127.0.0.1', port, protocol: 'http', settings: { accounts: [{ user: 'bob', pass: 'pa55' }] } });

  it('with Basic credentials and extra headers: TCP 8 MiB each way byte-exact', async ({ skip }) => {
    requirePeer('v2ray', skip);
    const v2ray = await startV2ray(inbound, { protocol: 'freedom' });
    await throughSluice(v2ray, `{ name: out, type: http, server: 127.0.0.1, port: ${v2ray.port}, username: bob, password: pa55, headers: { User-Agent: sluice-test } }`, async (box) => {
      await echoThroughSocks(box.port(), peers.tcpPort);
    });
  }, 30_000);

  it('without credentials the server answers 407, and the flow fails naming it', async ({ skip }) => {
    requirePeer('v2ray', skip);
    const v2ray = await startV2ray(inbound, { protocol: 'freedom' });
    await throughSluice(v2ray, `{ name: out, type: http, server: 127.0.0.1, port: ${v2ray.port} }`, async (box) => {
      expect(await socksReply(box.port())).toMatch(/rejected|failure/i);
      expect(box.logs.some((l) => /proxy out: CONNECT answered 407.*\(it wants a user name and password\)/.test(l))).toBe(true);
    });
  }, 30_000);
});

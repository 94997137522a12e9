/** The byte-exact echo checks the interop tests run through a SOCKS5 port: TCP and UDP echo servers on loopback, and what goes through them. */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { SocksClient } from 'socks';
import { expect } from 'vitest';
import { closeServer, echoServer, listen, readAll, udpRoundTrip } from './net.js';

/** A TCP echo server and a UDP echo server (replies prefixed with `echo:`) on 127.0.0.1. */
export interface EchoPeers {
  /** The TCP echo port. */
  tcpPort: number;
  /** The UDP echo port. */
  udpPort: number;
  /** Stops both. */
  close(): Promise<void>;
}

/** Starts the two echo servers. */
export async function startEchoPeers(): Promise<EchoPeers> {
  const echo = echoServer();
  const tcpPort = await listen(echo);
  const udp = createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  return { tcpPort, udpPort: udp.address().port, close: async () => (udp.close(), closeServer(echo)) };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** 8 MiB up and back through a SOCKS5 port to the TCP echo server, byte-exact, then a small request/response. */
export async function echoThroughSocks(socksPort: number, echoPort: number, size = 8 * 1024 * 1024): Promise<void> {
  const open = async (): Promise<Socket> =>
    (await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: socksPort, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: echoPort }, timeout: 10_000 })).socket;
  const big = await open();
  const payload = randomBytes(size);
  const received = readAll(big);
  big.end(payload);
  const back = await received;
  expect(back.length).toBe(size);
  expect(sha(back)).toBe(sha(payload));
  const small = await open();
  small.write('ping');
  const [reply] = (await once(small, 'data')) as [Buffer];
  expect(reply.toString()).toBe('ping');
  small.destroy();
}

/** Three datagrams (10, 1000, 1400 bytes) through SOCKS5 UDP ASSOCIATE to the UDP echo server, each echoed once. */
export async function udpThroughSocks(socksPort: number, udpPort: number): Promise<void> {
  const sizes = [10, 1000, 1400];
  const lengths = await udpRoundTrip(socksPort, udpPort, sizes);
  expect(lengths.map((n) => n - 5), `reply lengths: ${lengths}`).toEqual(sizes);
}

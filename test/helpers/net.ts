import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { createSocket as createUdpSocket } from 'node:dgram';
import { SocksClient } from 'socks';
import type { Server as HttpServer } from 'node:http';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Box } from '../../src/box.js';
import { Logger } from '../../src/common/log.js';
import { parseConfig } from '../../src/config/load.js';

/** A Box started from YAML text, with its log lines captured. */
export interface RunningBox {
  box: Box;
  /** Every log line written so far. */
  logs: string[];
  /** The bound port of the listener named `name` (the first listener by default). */
  port(name?: string): number;
  close(): Promise<void>;
}

/**
 * Names the fake resolver knows; any other name fails with ENOTFOUND, so no test ever asks
 * a real DNS server. `hang.test` never answers.
 */
export const testHosts: Record<string, LookupAddress[]> = {
  'localhost': [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }],
  'echo.test': [{ address: '127.0.0.1', family: 4 }],
  'echo6.test': [{ address: '::1', family: 6 }],
  'blocked.test': [{ address: '127.0.0.1', family: 4 }],
};

async function fakeResolve(hostname: string): Promise<LookupAddress[]> {
  if (hostname === 'hang.test') return new Promise(() => {});
  const found = testHosts[hostname];
  if (found) return found;
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
}

/** Options of startBox. */
export interface BoxOptions {
  /** The config's directory (relative paths, PUT /configs paths); the working directory by default. */
  home?: string;
  /**
   * Resolve with the system's getaddrinfo instead of the fake resolver. Only for tests whose
   * names are numeric or in /etc/hosts (`localhost`): nothing may reach a DNS server.
   */
  systemDns?: boolean;
}

/** Starts a Box from YAML config text with the fake resolver; listeners should use port 0. */
export async function startBox(yaml: string, options: BoxOptions = {}): Promise<RunningBox> {
  const logs: string[] = [];
  const logger = new Logger('debug', 'text', { write: (line: string) => logs.push(line.trimEnd()) });
  const box = new Box(parseConfig(yaml, options.home), logger, options.systemDns ? {} : { resolve: fakeResolve });
  await box.start();
  return {
    box,
    logs,
    port: (name) => (name ? box.inbounds.find((i) => i.name === name)! : box.inbounds[0]!).address().port,
    close: () => box.close(200),
  };
}

/** Listens on an ephemeral loopback port. */
export async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Closes a server and every connection it still has. */
export async function closeServer(server: Server | HttpServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  if ('destroyAll' in server && typeof server.destroyAll === 'function') server.destroyAll();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A TCP server that tracks its sockets so tests can close everything. */
export function trackedServer(handler: (socket: Socket) => void): Server & { destroyAll(): void } {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    handler(socket);
  }) as Server & { destroyAll(): void };
  server.destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  return server;
}

/** An echo server: writes back what it reads, ends when the client ends. */
export function echoServer(): Server & { destroyAll(): void } {
  return trackedServer((socket) => socket.pipe(socket));
}

/** Collects everything a socket sends until it ends. */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** Reads until at least `n` bytes arrived (or the socket ends) and returns them. */
export function readBytes(socket: Socket, n: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`timed out with ${buffer.length}/${n} bytes`)), timeoutMs);
    const onData = (c: Buffer): void => {
      buffer = Buffer.concat([buffer, c]);
      if (buffer.length >= n) done();
    };
    const onEnd = (): void => done();
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (error) reject(error);
      else resolve(buffer);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.resume();
  });
}

/** Connects a raw TCP client. */
export async function dial(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host, allowHalfOpen: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Resolves true once the peer has closed its side (end or close), or false after `timeoutMs`. */
export async function closedWithin(socket: Socket, timeoutMs: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return true;
  return Promise.race([
    once(socket, 'end').then(() => true),
    once(socket, 'close').then(() => true),
    sleep(timeoutMs).then(() => false),
  ]);
}

/** SOCKS5 no-auth greeting plus a CONNECT request for `host:port` (domain form). */
export function socksConnectBytes(host: string, port: number): Buffer {
  const name = Buffer.from(host);
  const portBytes = Buffer.alloc(2);
  portBytes.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([5, 1, 0]), Buffer.from([5, 1, 0, 3, name.length]), name, portBytes]);
}

/** A local port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  return (await closedPorts(1))[0]!;
}

/** `count` distinct local ports nothing listens on: all bound at once, then released (one at a time, the kernel may hand out the same port twice). */
export async function closedPorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  const ports = await Promise.all(servers.map((server) => listen(server)));
  await Promise.all(servers.map((server) => closeServer(server)));
  return ports;
}

/**
 * Makes sure an external program exists. Missing on a laptop: the test is skipped;
 * missing under CI=true: the test fails, because CI must run every peer.
 */
export function requirePeer(program: string, skip: (note?: string) => void): string {
  let path = '';
  try {
    path = execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim();
  } catch {
    // not installed
  }
  if (path) return path;
  if (process.env.CI === 'true') throw new Error(`${program} is not installed, and CI must run it`);
  skip(`${program} is not installed`);
  return '';
}

/** Polls `predicate` until it holds or `timeoutMs` passes; returns its last value. */
export async function eventually(predicate: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await sleep(20);
  return predicate();
}

/** A SOCKS5 UDP ASSOCIATE made with the `socks` client: its control connection and the relay address. */
export interface Association {
  /** The TCP control connection; destroying it ends the association. */
  control: Socket;
  /** Where to send datagrams (RFC 1928 §7 framing). */
  relay: { host: string; port: number };
}

/** Runs UDP ASSOCIATE through the proxy at `host:port` with the `socks` npm client. */
export async function socksAssociate(port: number, host = '127.0.0.1'): Promise<Association> {
  const { SocksClient } = await import('socks');
  const client = new SocksClient({
    proxy: { host, port, type: 5 },
    command: 'associate',
    destination: { host: host.includes(':') ? '::' : '0.0.0.0', port: 0 },
  });
  const established = once(client, 'established') as Promise<[{ socket: Socket; remoteHost?: { host: string; port: number } }]>;
  client.connect();
  const [info] = await established;
  return { control: info.socket, relay: info.remoteHost! };
}

/**
 * Starts a Box with one VMess listener `vmess-in` (port 0) for `username`/`uuid` (alterId 4) and
 * MATCH,DIRECT. Its clients may reach loopback (the test servers), which VMess listeners refuse by default.
 */
export function startVmessServer(username: string, uuid: string): Promise<RunningBox> {
  return startBox(`
listeners:
  - name: vmess-in
    type: vmess
    port: 0
    allow-private-destinations: true
    users:
      - { username: ${username}, uuid: ${uuid}, alterId: 4 }
rules: ['MATCH,DIRECT']`);
}

/**
 * Sends one datagram of each size through a SOCKS5 UDP ASSOCIATE on `socksPort` to the UDP
 * server at 127.0.0.1:`udpPort`, and returns the lengths of the replies that came back
 * (sorted) within `timeoutMs`.
 */
export async function udpRoundTrip(socksPort: number, udpPort: number, sizes: number[], timeoutMs = 5000): Promise<number[]> {
  const { control, relay } = await socksAssociate(socksPort);
  const udp = createUdpSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const replies: Buffer[] = [];
  udp.on('message', (msg) => replies.push(SocksClient.parseUDPFrame(msg).data));
  for (const size of sizes) {
    const frame = SocksClient.createUDPFrame({ remoteHost: { host: '127.0.0.1', port: udpPort }, data: Buffer.alloc(size, size & 0xff) });
    udp.send(frame, relay.port, relay.host === '0.0.0.0' ? '127.0.0.1' : relay.host);
  }
  await eventually(() => replies.length >= sizes.length, timeoutMs);
  control.destroy();
  udp.close();
  return replies.map((r) => r.length).sort((a, b) => a - b);
}

/** Sends `ping` through a SOCKS5 port to an echo server on 127.0.0.1 and resolves with what came back. */
export async function socksPing(socksPort: number, echoPort: number): Promise<string> {
  const { socket } = await SocksClient.createConnection({ proxy: { host: '127.0.0.1', port: socksPort, type: 5 }, command: 'connect', destination: { host: '127.0.0.1', port: echoPort } });
  socket.write('ping');
  const answer = (await readBytes(socket, 4)).toString();
  socket.destroy();
  return answer;
}

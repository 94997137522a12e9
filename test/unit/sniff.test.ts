import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffHttp } from '../../src/route/sniff/http.js';
import { Sniffer, type SniffClient } from '../../src/route/sniff/sniffer.js';
import { sniffTls } from '../../src/route/sniff/tls.js';
import type { SnifferConfig } from '../../src/config/types.js';
import { testFlow } from '../helpers/rules.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/clienthello/${name}.bin`, import.meta.url));
const hellos = [
  ['curl', 'curl.sniff.test'],
  ['node-tls', 'node.sniff.test'],
  ['chromium', 'chromium.sniff.test'],
] as const;

describe('TLS SNI', () => {
  it.each(hellos)('finds the SNI in a ClientHello captured from %s, and waits for more on every prefix', (name, host) => {
    const hello = fixture(name);
    expect(sniffTls(hello)).toEqual({ status: 'found', host });
    for (let cut = 0; cut < hello.length; cut++) {
      const result = sniffTls(hello.subarray(0, cut));
      if (result.status === 'found') expect(result.host).toBe(host);
      else expect(result.status, `cut ${cut}`).toBe('more');
    }
  });

  it('reassembles a ClientHello split over several TLS records', () => {
    const hello = fixture('chromium');
    const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
    const records: Buffer[] = [];
    for (let i = 0; i < body.length; i += 100) {
      const piece = body.subarray(i, i + 100);
      const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
      header.writeUInt16BE(piece.length, 3);
      records.push(header, piece);
    }
    expect(sniffTls(Buffer.concat(records))).toEqual({ status: 'found', host: 'chromium.sniff.test' });
  });

  it('answers none for other protocols and never throws on random or mutated bytes', () => {
    expect(sniffTls(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ status: 'none' });
    expect(sniffTls(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toEqual({ status: 'none' });
    const hello = fixture('curl');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 }), (random, at, value) => {
        sniffTls(Buffer.from(random));
        const mutated = Buffer.from(hello);
        mutated[at] = value;
        const result = sniffTls(mutated);
        expect(['found', 'more', 'none']).toContain(result.status);
      }),
    );
  });
});

describe('HTTP Host', () => {
  it('reads Host (port stripped), waits for the end of the header block', () => {
    expect(sniffHttp(Buffer.from('GET /x HTTP/1.1\r\nUser-Agent: t\r\nHost: Example.COM:8080\r\n\r\n'))).toEqual({ status: 'found', host: 'example.com' });
    expect(sniffHttp(Buffer.from('GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n'))).toEqual({ status: 'found', host: '::1' });
    expect(sniffHttp(Buffer.from('GET /x HTTP/1.1\r\nHost: a.test'))).toEqual({ status: 'more' });
    expect(sniffHttp(Buffer.from('GE'))).toEqual({ status: 'more' });
    expect(sniffHttp(Buffer.from('\x16\x03\x01'))).toEqual({ status: 'none' });
    expect(sniffHttp(Buffer.from('GET /x HTTP/1.1\r\n\r\n'))).toEqual({ status: 'none' });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void sniffHttp(Buffer.from(bytes))));
  });
});

function config(overrides: Partial<SnifferConfig> = {}): SnifferConfig {
  return {
    tls: { ports: [{ from: 443, to: 443 }], overrideDestination: false },
    http: { ports: [{ from: 80, to: 80 }], overrideDestination: true },
    parsePureIp: true,
    forceDomain: () => false,
    skipDomain: (h) => h === 'skip.test',
    skipSource: () => false,
    skipDestination: () => false,
    timeoutMs: 300,
    ...overrides,
  };
}

/** A loopback socket pair: what the test writes on `client` arrives on `server`. */
async function pair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection');
  const client = createConnection((listener.address() as { port: number }).port, '127.0.0.1');
  const [server] = (await accepted) as [Socket];
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      listener.close();
      await once(listener, 'close');
    },
  };
}

function sniffClient(stream: Socket): SniffClient {
  return { stream, head: Buffer.alloc(0), accepted: false, acceptEarly() { this.accepted = true; } };
}

describe('Sniffer on a live connection', () => {
  it('sniffs a ClientHello written one byte at a time, keeps every byte, and does not override for TLS', async () => {
    const { client, server, close } = await pair();
    const hello = fixture('chromium');
    const flow = testFlow('127.0.0.1', 443);
    const side = sniffClient(server);
    const sniffing = new Sniffer(config({ timeoutMs: 5000 })).apply(flow, side);
    for (const byte of hello) {
      client.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await sniffing;
    expect(side.accepted).toBe(true);
    expect(flow.domain).toBe('chromium.sniff.test');
    expect(flow.destination.host).toBe('127.0.0.1');
    expect(Buffer.compare(side.head, hello)).toBe(0);
    await close();
  });

  it('HTTP with override-destination replaces the destination and clears the IP', async () => {
    const { client, server, close } = await pair();
    const flow = testFlow('10.0.0.1', 80);
    const side = sniffClient(server);
    client.write('GET / HTTP/1.1\r\nHost: web.test\r\n\r\n');
    await new Sniffer(config()).apply(flow, side);
    expect([flow.domain, flow.destination.host, flow.ip]).toEqual(['web.test', 'web.test', undefined]);
    await close();
  });

  it('a server-first protocol is not stalled: after the timeout the flow goes on without a domain', async () => {
    const { server, close } = await pair();
    const flow = testFlow('10.0.0.1', 443);
    const started = Date.now();
    await new Sniffer(config({ timeoutMs: 200 })).apply(flow, sniffClient(server));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(flow.domain).toBeUndefined();
    await close();
  });

  it('skips other ports, domain flows unless forced, and skip-domain names', async () => {
    const { client, server, close } = await pair();
    const other = sniffClient(server);
    await new Sniffer(config()).apply(testFlow('10.0.0.1', 22), other);
    expect(other.accepted).toBe(false);
    await new Sniffer(config()).apply(testFlow('named.test', 443), other);
    expect(other.accepted).toBe(false);
    client.write('GET / HTTP/1.1\r\nHost: skip.test\r\n\r\n');
    const skipped = testFlow('10.0.0.1', 80);
    await new Sniffer(config()).apply(skipped, sniffClient(server));
    expect(skipped.domain).toBeUndefined();
    await close();
  });
});

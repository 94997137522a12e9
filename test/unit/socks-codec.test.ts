import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAddress,
  encodeAddress,
  encodeDatagram,
  encodeReply,
  parseCredentials,
  parseDatagram,
  parseGreeting,
  parseRequest,
  SocksError,
} from '../../src/protocol/socks/codec.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('SOCKS5 codec on literal bytes', () => {
  it('parses a greeting and waits for missing method bytes', () => {
    expect(parseGreeting(hex('05 02 00 02'))).toEqual({ value: { methods: [0, 2] }, length: 4 });
    expect(parseGreeting(hex('05 02 00'))).toBeUndefined();
    expect(parseGreeting(hex('05'))).toBeUndefined();
  });

  it('refuses other versions and empty method lists', () => {
    expect(() => parseGreeting(hex('04 01 00 50'))).toThrow(/SOCKS4 is not supported/);
    expect(() => parseGreeting(hex('47 45 54 20'))).toThrow(/not SOCKS5/);
    expect(() => parseGreeting(hex('05 00'))).toThrow(/no authentication method/);
  });

  it('parses RFC 1929 credentials', () => {
    expect(parseCredentials(hex('01 03 626f62 02 7077'))).toEqual({
      value: { username: 'bob', password: 'pw' },
      length: 8,
    });
    expect(parseCredentials(hex('01 03 626f62 02 70'))).toBeUndefined();
    expect(() => parseCredentials(hex('05 01 00'))).toThrow(SocksError);
  });

  it('parses CONNECT to IPv4, IPv6 and a domain', () => {
    expect(parseRequest(hex('05 01 00 01 7f000001 0050'))).toEqual({
      value: { command: 1, address: { host: '127.0.0.1', port: 80 } },
      length: 10,
    });
    expect(parseRequest(hex('05 01 00 04 00000000000000000000000000000001 01bb'))?.value.address).toEqual({
      host: '::1',
      port: 443,
    });
    expect(parseRequest(hex('05 01 00 03 0b 6578616d706c652e636f6d 01bb'))?.value).toEqual({
      command: 1,
      address: { host: 'example.com', port: 443 },
    });
    expect(parseRequest(hex('05 01 00 03 0b 6578616d706c65'))).toBeUndefined();
  });

  it('answers an unknown address type with REP 0x08', () => {
    let error: unknown;
    try {
      parseRequest(hex('05 01 00 09 00'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SocksError);
    expect((error as SocksError).reply).toBe(0x08);
  });

  it('encodes replies with the bound address', () => {
    expect(encodeReply(0)).toEqual(hex('05 00 00 01 00000000 0000'));
    expect(encodeReply(5, { host: '10.0.0.2', port: 1080 })).toEqual(hex('05 05 00 01 0a000002 0438'));
    expect(encodeReply(0, { host: '::1', port: 1 })).toEqual(hex('05 00 00 04 00000000000000000000000000000001 0001'));
  });

  it('parses and builds UDP datagrams, keeping FRAG', () => {
    const packet = hex('0000 00 01 7f000001 0035 abcd');
    expect(parseDatagram(packet)).toEqual({ fragment: 0, address: { host: '127.0.0.1', port: 53 }, data: hex('abcd') });
    expect(parseDatagram(hex('0000 01 01 7f000001 0035 ff')).fragment).toBe(1);
    expect(encodeDatagram({ host: '127.0.0.1', port: 53 }, hex('abcd'))).toEqual(packet);
    expect(() => parseDatagram(hex('0000 00 01 7f00'))).toThrow(/cut short/);
  });
});

describe('SOCKS5 codec properties', () => {
  const address = fc.oneof(
    fc.ipV4().map((host) => ({ host, port: 0 })),
    fc.domain().map((host) => ({ host, port: 0 })),
  ).chain((a) => fc.integer({ min: 0, max: 65535 }).map((port) => ({ ...a, port })));

  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(address, (a) => {
        expect(decodeAddress(encodeAddress(a), 0)?.value).toEqual(a);
      }),
    );
  });

  it('never throws anything but SocksError on random bytes, and waits on every prefix of a valid request', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        for (const parse of [parseGreeting, parseCredentials, parseRequest]) {
          try {
            parse(Buffer.from(bytes));
          } catch (error) {
            expect(error).toBeInstanceOf(SocksError);
          }
        }
      }),
    );
    fc.assert(
      fc.property(address, (a) => {
        const request = Buffer.concat([hex('050100'), encodeAddress(a)]);
        for (let cut = 1; cut < request.length; cut++) expect(parseRequest(request.subarray(0, cut))).toBeUndefined();
        expect(parseRequest(request)?.length).toBe(request.length);
      }),
    );
  });
});

/** The client halves of SOCKS5 and HTTP CONNECT (socks5 and http proxies), held to the server codecs sluice's listeners use, and fuzzed. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HttpError, parseRequestHead } from '../../src/protocol/http/codec.js';
import { encodeConnectRequest, parseConnectResponse } from '../../src/protocol/http/connect-codec.js';
import { encodeReply, parseCredentials, parseGreeting, parseRequest, SocksError } from '../../src/protocol/socks/codec.js';
import { encodeCredentials, encodeGreeting, encodeRequest, parseAuthStatus, parseMethodChoice, parseReplyMessage } from '../../src/protocol/socks/client-codec.js';

const domain = fc.domain().filter((d) => d.length <= 255);
const address = fc.record({ host: fc.oneof(fc.ipV4(), fc.ipV6(), domain), port: fc.integer({ min: 0, max: 65535 }) });

/** Runs `parse` on `bytes`: fine when it returns, or throws the codec's own error; anything else fails. */
function parsesOrRefuses(parse: (b: Buffer) => unknown, own: new (...args: never[]) => Error, bytes: Buffer): void {
  try {
    parse(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(own);
  }
}

describe('SOCKS5 client codec', () => {
  it('writes what the server codec reads: greetings, credentials, requests to any address', () => {
    expect(parseGreeting(encodeGreeting(false))!.value.methods).toEqual([0]);
    expect(parseGreeting(encodeGreeting(true))!.value.methods).toEqual([0, 2]);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), address, fc.constantFrom(1, 3), (user, pass, to, command) => {
        if (Buffer.byteLength(user) <= 255 && Buffer.byteLength(pass) <= 255) {
          expect(parseCredentials(encodeCredentials(user, pass))!.value).toEqual({ username: user, password: pass });
        }
        const request = parseRequest(encodeRequest(command, to))!;
        expect(request.value.command).toBe(command);
        expect(request.value.address.port).toBe(to.port);
      }),
    );
    expect(() => encodeCredentials('x'.repeat(256), '')).toThrow(/at most 255 bytes/);
  });

  it('reads what the server codec writes, and waits for the rest of a reply cut anywhere', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), address, (code, bound) => {
        const reply = encodeReply(code, bound);
        expect(parseReplyMessage(reply)).toEqual({ value: { reply: code, bound: parseRequest(encodeRequest(1, bound))!.value.address }, length: reply.length });
        for (let cut = 1; cut < reply.length; cut++) expect(parseReplyMessage(reply.subarray(0, cut))).toBeUndefined();
      }),
    );
    expect(parseMethodChoice(Buffer.from([5, 2]))).toEqual({ value: 2, length: 2 });
    expect(parseAuthStatus(Buffer.from([1, 0]))).toEqual({ value: true, length: 2 });
    expect(parseAuthStatus(Buffer.from([1, 1]))).toEqual({ value: false, length: 2 });
  });

  it('answers any bytes from a hostile server with a value, a wait or a SocksError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (bytes) => {
        for (const parse of [parseMethodChoice, parseAuthStatus, parseReplyMessage]) parsesOrRefuses(parse, SocksError, Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('HTTP CONNECT client codec', () => {
  it('writes a request the server codec reads, with credentials and extra headers', () => {
    fc.assert(
      fc.property(address, fc.option(fc.record({ username: fc.string({ maxLength: 30 }), password: fc.string({ maxLength: 30 }) }), { nil: undefined }), (to, credentials) => {
        const head = parseRequestHead(encodeConnectRequest(to, credentials, { 'User-Agent': 'sluice', 'X-Extra': 'a b' }))!.value;
        expect(head.method).toBe('CONNECT');
        const auth = head.headers.find(([name]) => name === 'Proxy-Authorization')?.[1];
        if (credentials) expect(Buffer.from(auth!.slice(6), 'base64').toString()).toBe(`${credentials.username}:${credentials.password}`);
        else expect(auth).toBeUndefined();
        expect(head.headers).toContainEqual(['X-Extra', 'a b']);
      }),
    );
  });

  it('reads the status of a response head, waits for its end, and refuses what is not HTTP', () => {
    const head = Buffer.from('HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\nrest');
    expect(parseConnectResponse(head)).toEqual({ value: { status: 200, reason: 'Connection established' }, length: head.length - 4 });
    expect(parseConnectResponse(Buffer.from('HTTP/1.0 407\r\n\r\n'))!.value).toEqual({ status: 407, reason: '' });
    expect(parseConnectResponse(head.subarray(0, 30))).toBeUndefined();
    expect(() => parseConnectResponse(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toThrow(/did not answer in HTTP/);
    expect(() => parseConnectResponse(Buffer.from('HTTP/1.1 2000 x\r\n\r\n'))).toThrow(/malformed status line/);
    expect(() => parseConnectResponse(Buffer.alloc(70 * 1024, 'HTTP/1.1 200 '))).toThrow(/too large/);
  });

  it('answers any bytes with a value, a wait or an HttpError, in linear time', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => parsesOrRefuses(parseConnectResponse, HttpError, Buffer.concat([Buffer.from('HTTP/1.1 '), bytes]))),
      { numRuns: 2000 },
    );
    const big = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), Buffer.alloc(60 * 1024, 'a: b\r\n')]);
    const started = performance.now();
    for (let i = 0; i < 100; i++) parseConnectResponse(big);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

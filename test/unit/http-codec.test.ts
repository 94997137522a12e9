import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bodyFraming,
  connectTarget,
  encodeForwardHead,
  forwardTarget,
  HttpError,
  parseChunkEnd,
  parseChunkSizeLine,
  parseRequestHead,
  parseTrailerLine,
  type RequestHead,
} from '../../src/protocol/http/codec.js';

const head = (text: string): RequestHead => parseRequestHead(Buffer.from(text, 'latin1'))!.value;

describe('HTTP proxy codec on literal bytes', () => {
  it('waits for the end of the head and reports its length', () => {
    const text = 'GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\nBODY';
    expect(parseRequestHead(Buffer.from(text.slice(0, 20)))).toBeUndefined();
    const parsed = parseRequestHead(Buffer.from(text))!;
    expect(parsed.length).toBe(text.length - 4);
    expect(parsed.value).toEqual({
      method: 'GET',
      target: 'http://a.test/x',
      version: 'HTTP/1.1',
      headers: [['Host', 'a.test']],
    });
  });

  it('rejects garbage, bad request lines and oversized heads', () => {
    expect(() => parseRequestHead(Buffer.from('\x00\x01\x02 junk'))).toThrow(HttpError);
    expect(() => parseRequestHead(Buffer.from('GET /\r\n\r\n'))).toThrow(/malformed request line/);
    expect(() => parseRequestHead(Buffer.from('GET / HTTP/2.0\r\n\r\n'))).toThrow(/malformed request line/);
    expect(() => parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nNo colon\r\n\r\n'))).toThrow(/malformed header/);
    try {
      parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(70_000)));
      expect.unreachable();
    } catch (error) {
      expect((error as HttpError).status).toBe(431);
    }
  });

  it('splits absolute-form targets into destination and origin-form path', () => {
    expect(forwardTarget(head('GET http://Example.com:8080/a?b=1 HTTP/1.1\r\n\r\n'))).toEqual({
      destination: { host: 'Example.com', port: 8080 },
      path: '/a?b=1',
      authority: 'Example.com:8080',
    });
    expect(forwardTarget(head('GET http://[::1]?q HTTP/1.1\r\n\r\n'))).toEqual({
      destination: { host: '::1', port: 80 },
      path: '/?q',
      authority: '[::1]',
    });
    expect(() => forwardTarget(head('GET /relative HTTP/1.1\r\n\r\n'))).toThrow(/absolute/);
    expect(() => forwardTarget(head('GET ftp://x/ HTTP/1.1\r\n\r\n'))).toThrow(expect.objectContaining({ status: 501 }));
  });

  it('parses CONNECT authorities', () => {
    expect(connectTarget(head('CONNECT example.com:443 HTTP/1.1\r\n\r\n'))).toEqual({ host: 'example.com', port: 443 });
    expect(connectTarget(head('CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n'))).toEqual({ host: '2001:db8::1', port: 443 });
    expect(() => connectTarget(head('CONNECT example.com HTTP/1.1\r\n\r\n'))).toThrow(/host:port/);
  });

  it('removes hop-by-hop headers and those Connection names, keeps framing, sets Host from the URI', () => {
    const request = head(
      'POST http://a.test/up HTTP/1.1\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n' +
        'Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nContent-Length: 3\r\nX-End: 2\r\n\r\n',
    );
    expect(encodeForwardHead(request, forwardTarget(request)).toString('latin1')).toBe(
      'POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nX-End: 2\r\n\r\n',
    );
    // RFC 9112 §3.2.2: the client's Host is replaced by the absolute URI's authority (userinfo dropped).
    const lying = head('GET http://user:pw@real.test:8080/x HTTP/1.1\r\nHost: other.test\r\nhost: third.test\r\n\r\n');
    expect(encodeForwardHead(lying, forwardTarget(lying)).toString('latin1')).toBe('GET /x HTTP/1.1\r\nHost: real.test:8080\r\n\r\n');
  });

  it('refuses what a proxy and an origin could read two ways (RFC 9112 §2.2, §5, §6)', () => {
    const status = (work: () => unknown): number | undefined => {
      try {
        work();
      } catch (error) {
        return (error as HttpError).status;
      }
      return undefined;
    };
    for (const text of [
      'GET http://a/ HTTP/1.1\nHost: a\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nHost: a\rX: y\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nHost: a\n\n',
      'GET http://a/ HTTP/1.1\r\nX: a\r\n folded\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nX: a\x00b\r\n\r\n',
      'GET http://a/\x01 HTTP/1.1\r\n\r\n',
      'GET http://a/ HTTP/1.1\r\nX : a\r\n\r\n',
    ]) {
      expect(status(() => parseRequestHead(Buffer.from(text, 'latin1'))), JSON.stringify(text)).toBe(400);
    }
    const framing = (headers: string): number | undefined => status(() => bodyFraming(head(`POST http://a/ HTTP/1.1\r\n${headers}\r\n`)));
    expect(framing('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n')).toBe(400);
    expect(framing('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n')).toBe(400);
    expect(framing('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n')).toBeUndefined();
    expect(status(() => parseChunkEnd(Buffer.from('xy')))).toBe(400);
    expect(status(() => parseChunkEnd(Buffer.from('\n')))).toBe(400);
    expect(parseChunkEnd(Buffer.from('\r\nrest'))).toEqual({ value: true, length: 2 });
    expect(status(() => parseChunkSizeLine(Buffer.from('5\nx\r\n')))).toBe(400);
    expect(status(() => parseTrailerLine(Buffer.from('no colon\r\n')))).toBe(400);
    expect(parseTrailerLine(Buffer.from('X-Sum: 1\r\n'))).toEqual({ value: false, length: 10 });
  });

  it('keeps Upgrade for WebSocket handshakes', () => {
    const request = head('GET http://a.test/ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(encodeForwardHead(request, forwardTarget(request)).toString('latin1')).toBe(
      'GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
  });

  it('reads body framing', () => {
    expect(bodyFraming(head('GET http://a/ HTTP/1.1\r\n\r\n'))).toEqual({ kind: 'none' });
    expect(bodyFraming(head('POST http://a/ HTTP/1.1\r\nContent-Length: 10\r\n\r\n'))).toEqual({ kind: 'length', length: 10 });
    expect(bodyFraming(head('POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'))).toEqual({ kind: 'chunked' });
    expect(() => bodyFraming(head('POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'))).toThrow();
    expect(() => bodyFraming(head('POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n'))).toThrow();
    expect(parseChunkSizeLine(Buffer.from('1a;ext=1\r\n'))).toEqual({ value: 26, length: 10 });
    expect(parseChunkSizeLine(Buffer.from('1a'))).toBeUndefined();
    expect(() => parseChunkSizeLine(Buffer.from('zz\r\n'))).toThrow(HttpError);
  });

  it('throws only HttpError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const parse of [parseRequestHead, parseChunkSizeLine]) {
          try {
            parse(Buffer.from(bytes));
          } catch (error) {
            expect(error).toBeInstanceOf(HttpError);
          }
        }
      }),
    );
  });
});

// The HTTP proxy follows the responses of an origin connection to know when each ends: on
// well-formed responses it must count exactly, however the bytes are cut; on anything else it
// must never throw, only give up (opaque) until the origin closes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseTracker } from '../../src/protocol/http/response-tracker.js';

/** One response and the method of the request it answers. */
const response = fc.oneof(
  fc.tuple(fc.constantFrom(200, 404, 500), fc.uint8Array({ maxLength: 300 })).map(([status, body]) => ({
    method: 'GET',
    bytes: Buffer.concat([Buffer.from(`HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
  })),
  fc.array(fc.uint8Array({ minLength: 1, maxLength: 100 }), { maxLength: 4 }).map((chunks) => ({
    method: 'POST',
    bytes: Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
      ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};x=y\r\n`), c, Buffer.from('\r\n')]),
      Buffer.from('0\r\nX-Trailer: 1\r\n\r\n'),
    ]),
  })),
  fc.constant({ method: 'HEAD', bytes: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n') }),
  fc.constant({ method: 'GET', bytes: Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n') }),
  fc.constant({ method: 'GET', bytes: Buffer.from('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n') }),
);

/** `bytes` cut at the given points. */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((x, y) => x - y);
  const pieces: Buffer[] = [];
  let last = 0;
  for (const p of [...at, bytes.length]) {
    pieces.push(bytes.subarray(last, p));
    last = p;
  }
  return pieces;
}

describe('ResponseTracker', () => {
  it('counts pipelined responses exactly, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(response, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), async (responses, points) => {
        const tracker = new ResponseTracker();
        for (const r of responses) tracker.sent(r.method);
        let idle = false;
        void tracker.idle().then(() => (idle = true));
        for (const piece of cut(Buffer.concat(responses.map((r) => r.bytes)), points)) tracker.feed(piece);
        expect(tracker.pending).toBe(0);
        expect(tracker.opaque).toBe(false);
        expect(tracker.midResponse).toBe(false);
        await Promise.resolve();
        expect(idle).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a partly received response is pending and mid-response', () => {
    const tracker = new ResponseTracker();
    tracker.sent('GET');
    tracker.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
    expect([tracker.pending, tracker.midResponse]).toEqual([1, true]);
    tracker.feed(Buffer.from('cde'));
    expect([tracker.pending, tracker.midResponse]).toEqual([0, false]);
  });

  it('a body that ends with the connection, 101 and garbage make it opaque; it never throws', () => {
    const closeDelimited = new ResponseTracker();
    closeDelimited.sent('GET');
    closeDelimited.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nuntil close'));
    expect(closeDelimited.opaque).toBe(true);
    closeDelimited.closed();
    expect(closeDelimited.pending).toBe(0);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), fc.array(fc.constantFrom('GET', 'HEAD', 'POST'), { maxLength: 3 }), (chunks, methods) => {
        const tracker = new ResponseTracker();
        for (const method of methods) tracker.sent(method);
        for (const chunk of chunks) tracker.feed(Buffer.from(chunk));
        expect(tracker.pending).toBeLessThanOrEqual(methods.length);
      }),
      { numRuns: 500 },
    );
  });
});

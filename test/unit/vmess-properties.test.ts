import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openAeadRequest, sealRequestHeader, VmessAuthError } from '../../src/protocol/vmess/aead-header.js';
import { ReplayFilter } from '../../src/protocol/vmess/auth-id.js';
import { BodyWriter, type BodySpec } from '../../src/protocol/vmess/body.js';
import { BodyReader } from '../../src/protocol/vmess/body-reader.js';
import { vmessIdentity } from '../../src/protocol/vmess/identity.js';
import { decodeRequestHeader, encodeRequestHeader, VmessError, type RequestHeader } from '../../src/protocol/vmess/request-header.js';

const identity = vmessIdentity('b831381d-6324-4d53-ad4f-8cda48b30811');
const users = [{ identity, info: 'u' }];

/** Every security/option combination a peer may send. */
const combos: { security: 1 | 3 | 4 | 5; options: number }[] = [];
for (const security of [1, 3, 4, 5] as const) {
  for (const options of [0x00, 0x01, 0x05, 0x0d, 0x1d, 0x15]) {
    if (security === 5 && options === 0x00) continue; // raw none: no framing to test
    combos.push({ security, options });
  }
}
const comboArb = fc.constantFrom(...combos);
const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a));

function specs(combo: { security: 1 | 3 | 4 | 5; options: number }, key: Buffer, iv: Buffer, packets: boolean): BodySpec {
  return { ...combo, key, iv, request: { key, iv }, packets };
}

describe('VMess body codec properties', () => {
  it('round-trips any data, split at any points, for every security and option set', () => {
    fc.assert(
      fc.property(comboArb, key16, key16, fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 6 }), fc.integer({ min: 1, max: 500 }), (combo, key, iv, pieces, cut) => {
        const spec = specs(combo, key, iv, false);
        const writer = new BodyWriter(spec);
        const wire = Buffer.concat([...pieces.flatMap((p) => writer.write(Buffer.from(p))), ...writer.end()]);
        const reader = new BodyReader(spec);
        const out: Buffer[] = [];
        for (let i = 0; i < wire.length; i += cut) out.push(...reader.read(wire.subarray(i, i + cut)));
        expect(Buffer.concat(out)).toEqual(Buffer.concat(pieces.map((p) => Buffer.from(p))));
        if ((combo.options & 1) !== 0) expect(reader.ended).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps datagram boundaries for UDP', () => {
    fc.assert(
      fc.property(comboArb.filter((c) => (c.options & 1) !== 0), key16, key16, fc.array(fc.uint8Array({ minLength: 1, maxLength: 1900 }), { maxLength: 5 }), (combo, key, iv, datagrams) => {
        const spec = specs(combo, key, iv, true);
        const writer = new BodyWriter(spec);
        const reader = new BodyReader(spec);
        const wire = Buffer.concat(datagrams.flatMap((d) => writer.write(Buffer.from(d))));
        expect(reader.read(wire)).toEqual(datagrams.map((d) => Buffer.from(d)));
      }),
    );
  });

  it('rejects any flipped bit in an AEAD chunk or its length: an error, never other data', () => {
    fc.assert(
      fc.property(fc.constantFrom(...combos.filter((c) => c.security === 3 || c.security === 4)), key16, key16, fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (combo, key, iv, data, at, bit) => {
        const spec = specs(combo, key, iv, false);
        const wire = Buffer.concat(new BodyWriter(spec).write(Buffer.from(data)));
        // Padding is not authenticated by design, so a flip there may change nothing.
        const index = at % wire.length;
        const flipped = Buffer.from(wire);
        flipped[index]! ^= 1 << bit;
        const reader = new BodyReader(spec);
        let out: Buffer[] = [];
        try {
          out = reader.read(flipped);
        } catch (error) {
          expect(error).toBeInstanceOf(VmessError);
          return;
        }
        // Either the flip hit unauthenticated padding (same data out), or the reader waits for a size it now believes.
        expect(out.length === 0 || Buffer.concat(out).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws anything but VmessError on random bytes and never returns more than it was given', () => {
    fc.assert(
      fc.property(comboArb, key16, key16, fc.uint8Array({ maxLength: 400 }), (combo, key, iv, bytes) => {
        const reader = new BodyReader(specs(combo, key, iv, false));
        try {
          reader.read(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(VmessError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('VMess header properties', () => {
  const header = fc.record({
    iv: key16,
    key: key16,
    responseAuth: fc.integer({ min: 0, max: 255 }),
    options: fc.constantFrom(0x01, 0x05, 0x0d, 0x1d),
    security: fc.constantFrom(1, 3, 4, 5) as fc.Arbitrary<1 | 3 | 4 | 5>,
    command: fc.constantFrom(1, 2),
    destination: fc.oneof(
      fc.record({ host: fc.ipV4(), port: fc.integer({ min: 0, max: 65535 }) }),
      fc.record({ host: fc.domain(), port: fc.integer({ min: 0, max: 65535 }) }),
    ),
  }) as fc.Arbitrary<RequestHeader>;

  it('round-trips request headers through AEAD sealing', () => {
    fc.assert(
      fc.property(header, fc.integer({ min: 0, max: 15 }), (h, padding) => {
        const plain = encodeRequestHeader(h, randomBytes(padding));
        expect(decodeRequestHeader(plain)).toEqual(h);
        const now = 1_800_000_000;
        const wire = sealRequestHeader(identity, plain, now);
        const opened = openAeadRequest(wire, users, now, new ReplayFilter(120_000));
        expect(opened?.value.header).toEqual(h);
        expect(opened?.length).toBe(wire.length);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a flipped bit anywhere in a sealed header, waits on any truncation, and leaks no key bytes in errors', () => {
    const h: RequestHeader = { iv: randomBytes(16), key: randomBytes(16), responseAuth: 7, options: 0x0d, security: 3, command: 1, destination: { host: 'a.test', port: 80 } };
    const now = 1_800_000_000;
    const wire = sealRequestHeader(identity, encodeRequestHeader(h, Buffer.alloc(0)), now);
    const secrets = [identity.uuid, identity.cmdKey, h.key, h.iv].flatMap((b) => [b.toString('hex'), b.toString('base64'), b.toString('latin1')]);
    for (let cut = 0; cut < wire.length; cut++) {
      expect(openAeadRequest(wire.subarray(0, cut), users, now, new ReplayFilter(120_000)) ?? 'waiting').toBe('waiting');
    }
    for (let i = 0; i < wire.length * 8; i++) {
      const flipped = Buffer.from(wire);
      flipped[i >> 3]! ^= 1 << (i & 7);
      let error: unknown;
      try {
        openAeadRequest(flipped, users, now, new ReplayFilter(120_000));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(VmessAuthError);
      for (const secret of secrets) expect((error as Error).message).not.toContain(secret);
    }
  });
});

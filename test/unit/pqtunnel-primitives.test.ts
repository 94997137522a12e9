import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aeadSeal } from '../../src/common/aead.js';
import { dh, kdf, nonce, open, seal, tai64n, x25519FromPrivate } from '../../src/protocol/pqtunnel/crypto/primitives.js';
import { ReplayWindow, rejectAfterMessages } from '../../src/protocol/pqtunnel/wire/replay-window.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('PQT primitives', () => {
  it('KDFn is HKDF-SHA256 (RFC 5869 test case 3: empty salt and info)', () => {
    const [first, second] = kdf(2, Buffer.alloc(0), Buffer.alloc(22, 0x0b));
    expect(Buffer.concat([first!, second!]).subarray(0, 42).toString('hex')).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it('X25519 reproduces RFC 7748 §6.1', () => {
    const alice = x25519FromPrivate(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = x25519FromPrivate(hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    expect(alice.publicKey.toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(bob.publicKey.toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(dh(alice.privateKey, bob.publicKey)?.toString('hex')).toBe(shared);
    expect(dh(bob.privateKey, alice.publicKey)?.toString('hex')).toBe(shared);
  });

  it('ChaCha20-Poly1305 reproduces RFC 8439 §2.8.2', () => {
    const plaintext = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const sealed = aeadSeal(
      'chacha20-poly1305',
      hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
      hex('070000004041424344454647'),
      plaintext,
      hex('50515253c0c1c2c3c4c5c6c7'),
    );
    expect(sealed.subarray(0, 16).toString('hex')).toBe('d31a8d34648e60db7b86afbc53ef7ec2');
    expect(sealed.subarray(-16).toString('hex')).toBe('1ae10b594f09e26a7e902ecbd0600691');
  });

  it('generates key pairs without deadlocking under constant garbage collection (Node 20 keygen job finalised during a key export)', () => {
    const primitives = pathToFileURL(resolve('dist/protocol/pqtunnel/crypto/primitives.js')).href;
    const script = `import { x25519Generate } from ${JSON.stringify(primitives)};\nfor (let i = 0; i < 40000; i++) x25519Generate();`;
    const run = spawnSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], { timeout: 30_000 });
    expect([run.status, run.signal, run.stderr.toString()]).toEqual([0, null, '']);
  }, 40_000);

  it('rejects low-order X25519 points', () => {
    const key = x25519FromPrivate(Buffer.alloc(32, 7));
    expect(dh(key.privateKey, Buffer.alloc(32))).toBeUndefined();
    expect(dh(key.privateKey, hex('0100000000000000000000000000000000000000000000000000000000000000'))).toBeUndefined();
  });

  it('builds nonces as 4 zero bytes and a little-endian u64, and seals with them', () => {
    expect(nonce(0x0102030405).toString('hex')).toBe('000000000504030201000000');
    const key = Buffer.alloc(32, 9);
    const sealed = seal(key, 7, Buffer.from('packet'), Buffer.from('ad'));
    expect(sealed).toEqual(aeadSeal('chacha20-poly1305', key, hex('000000000700000000000000'), Buffer.from('packet'), Buffer.from('ad')));
    expect(open(key, 7, sealed, Buffer.from('ad'))?.toString()).toBe('packet');
    expect(open(key, 8, sealed, Buffer.from('ad'))).toBeUndefined();
  });

  it('encodes TAI64N with nanoseconds rounded down to 2^24', () => {
    const t = tai64n(1_700_000_000_123);
    expect(t.readBigUInt64BE(0)).toBe(2n ** 62n + 1_700_000_000n);
    expect(t.readUInt32BE(8)).toBe(Math.floor(123e6 / 2 ** 24) * 2 ** 24);
    expect(t.readUInt32BE(8) % 2 ** 24).toBe(0);
  });
});

describe('replay window (spec §6.2)', () => {
  const accept = (w: ReplayWindow, c: number): boolean => {
    if (!w.check(c)) return false;
    w.update(c);
    return true;
  };

  it('accepts each counter once, reordering within 2016, and nothing older', () => {
    const w = new ReplayWindow();
    expect(accept(w, 0)).toBe(true);
    expect(accept(w, 0)).toBe(false);
    expect(accept(w, 5000)).toBe(true);
    expect(accept(w, 5000 - 2015)).toBe(true);
    expect(accept(w, 5000 - 2015)).toBe(false);
    expect(accept(w, 5000 - 2016)).toBe(false);
    for (const c of [4999, 4001, 4500, 3100]) expect(accept(w, c)).toBe(true);
    expect(accept(w, 4500)).toBe(false);
  });

  it('clears the ring on a large jump and rejects counters at the limit', () => {
    const w = new ReplayWindow();
    for (let c = 0; c < 3000; c++) accept(w, c);
    expect(accept(w, 1_000_000)).toBe(true);
    // Counters just below the new top are new: the ring words they map to were cleared.
    expect(accept(w, 1_000_000 - 1)).toBe(true);
    expect(accept(w, 1_000_000 - 2000)).toBe(true);
    expect(w.check(rejectAfterMessages)).toBe(false);
    expect(w.check(rejectAfterMessages - 1)).toBe(true);
    expect(w.check(-1)).toBe(false);
  });

  it('check has no side effect: a packet that fails its tag leaves the window as it was', () => {
    const w = new ReplayWindow();
    expect(w.check(10)).toBe(true);
    expect(w.check(10)).toBe(true);
    w.update(10);
    expect(w.check(10)).toBe(false);
  });
});

// Every test vector of specs/vmess.md §12, reproduced exactly.
import { createCipheriv } from 'node:crypto';
import { shake128 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { aeadSeal } from '../../src/common/aead.js';
import { openAeadRequest, openAeadResponse, responseKeys, sealAeadResponse, sealRequestHeader } from '../../src/protocol/vmess/aead-header.js';
import { createAuthId, openAuthId, ReplayFilter } from '../../src/protocol/vmess/auth-id.js';
import { BodyWriter, chachaKey, type BodySpec } from '../../src/protocol/vmess/body.js';
import { BodyReader } from '../../src/protocol/vmess/body-reader.js';
import { fnv1a32 } from '../../src/protocol/vmess/fnv.js';
import { vmessIdentity } from '../../src/protocol/vmess/identity.js';
import { vmessKdf } from '../../src/protocol/vmess/kdf.js';
import { LegacyAuthTable, openLegacyRequest, sealLegacyRequest } from '../../src/protocol/vmess/legacy-header.js';
import { decodeRequestHeader, encodeRequestHeader, type RequestHeader } from '../../src/protocol/vmess/request-header.js';
import { ShakeWords } from '../../src/protocol/vmess/shake.js';

const join = (parts: Buffer[]): Buffer => Buffer.concat(parts);
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const uuid = 'b831381d-6324-4d53-ad4f-8cda48b30811';
const id = vmessIdentity(uuid, 2);
const reqIV = hex('101112131415161718191a1b1c1d1e1f');
const reqKey = hex('202122232425262728292a2b2c2d2e2f');
const header: RequestHeader = {
  iv: reqIV,
  key: reqKey,
  responseAuth: 0x42,
  options: 0x0d,
  security: 3,
  command: 1,
  destination: { host: 'example.com', port: 443 },
};
const headerPlain = hex('01 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f 42 0d 03 00 01 01bb 02 0b 6578616d706c652e636f6d bbe643af');
const t = 1700000000;
const zeros = (n: number): string => '00'.repeat(n);

/** The vectors have zero padding bytes; real padding is random, so it is zeroed before comparing. */const stripPadding = (wire: Buffer, padding: number): Buffer => Buffer.concat([wire.subarray(0, wire.length - padding), Buffer.alloc(padding)]);
const request = { key: reqKey, iv: reqIV };

describe('VMess test vectors (spec §12)', () => {
  it('TV-1 cmdKey and TV-2 alter IDs', () => {
    expect(id.cmdKey.toString('hex')).toBe('b50d916ac0cec067981af8e5f38a758f');
    expect(id.alterIds.map((a) => a.toString('hex'))).toEqual(['5a07183412d5980a72ac845d5568d17d', 'b5f0dba2de16aea1087efdbaa0aac7a3']);
  });

  it('TV-3 KDF', () => {
    expect(vmessKdf(Buffer.from('Demo Key for KDF Value Test'), 'Demo Path for KDF Value Test', 'Demo Path for KDF Value Test2', 'Demo Path for KDF Value Test3').toString('hex')).toBe(
      '53e9d7e1bd7bd25022b71ead07d8a596efc8a845c7888652fd684b4903dc8892',
    );
    expect(vmessKdf(id.cmdKey).toString('hex')).toBe('1e3858c2acb5e5338a1569aac055c295a0c0e2738b2d941c4bf461cdc363efb4');
    expect(vmessKdf(id.cmdKey, 'AES Auth ID Encryption').toString('hex')).toBe('1415ba74ca8b3d041a8f583fb4116315c589ae7b6e81765b601aa166c62871f7');
    expect(id.authIdKey.toString('hex')).toBe('1415ba74ca8b3d041a8f583fb4116315');
    expect(vmessKdf(Buffer.alloc(0), 'a').toString('hex')).toBe('ce93133e6a8b3f6a38a02a22cebd69d9ec19da8508cca4ea96ec2b3c7a45cfba');
    expect(vmessKdf(Buffer.from('abc'), 'x', 'y').toString('hex')).toBe('cf833c26514765e18188663c7d9c245fcf8913a860a8c7863813826134d0a0ef');
  });

  it('TV-4 AuthID', () => {
    const authId = createAuthId(id.authIdKey, t, hex('deadbeef'));
    expect(authId.toString('hex')).toBe('7997d3314952dc37e0b284331b6bb2e7');
    expect(openAuthId(id.authIdKey, authId)).toEqual({ time: t });
  });

  it('TV-5 AEAD request header, sealed and opened', () => {
    expect(encodeRequestHeader(header, Buffer.alloc(0))).toEqual(headerPlain);
    const wire = sealRequestHeader(id, headerPlain, t, { authId: hex('deadbeef'), nonce: hex('a0a1a2a3a4a5a6a7') });
    expect(wire.toString('hex')).toBe(
      '7997d3314952dc37e0b284331b6bb2e7f89551a34c7d84503f09135525fe0e492902a0a1a2a3a4a5a6a7bbe57d01b69bafdd78f36bfc46a75845eda76e4485b5c0b673090ed042d57583d6278e77312520ba0dac529a75db02ced4632c0e5088e48a5fd001f2f48a539d3e040459a80ee90da7',
    );
    const opened = openAeadRequest(wire, [{ identity: id, info: 'u' }], t + 100, new ReplayFilter(120_000));
    expect(opened?.length).toBe(115);
    expect(opened?.value.header).toEqual(header);
  });

  it('TV-6 AEAD response header', () => {
    const { key, iv } = responseKeys(header, false);
    expect([key.toString('hex'), iv.toString('hex')]).toEqual(['36db1adc807ac50e4c85bd86a174b4aa', 'fc2e2c73072bfa2bda03ff9307472deb']);
    const wire = sealAeadResponse(key, iv, hex('42000000'));
    expect(wire.toString('hex')).toBe('bdbf42fa9d3621ee2883fcdb50faf39e51499840906a977c70d8eaa10c6769ee85ddf86c5e37');
    expect(openAeadResponse(key, iv, wire)).toEqual({ value: hex('42000000'), length: 38 });
  });

  it('TV-7 SHAKE streams and aes-128-gcm chunks with M + P', () => {
    const words = new ShakeWords(reqIV);
    expect(Array.from({ length: 8 }, () => words.next().toString(16).padStart(4, '0')).join('')).toBe('fc918e43ecc4b6aea436a3be55984a75');
    const spec: BodySpec = { security: 3, options: 0x0d, key: reqKey, iv: reqIV, request, packets: false };
    const writer = new BodyWriter(spec);
    expect(stripPadding(join(writer.write(Buffer.from('hello'))), 17).toString('hex')).toBe('8e6526aca2da2078f552797282c9aa9cf67d935233aad8' + zeros(17));
    expect(stripPadding(join(writer.end()), 4).toString('hex')).toBe('b6baccd579192f2c952dce50d25bca363611' + zeros(4));
    const { key, iv } = responseKeys(header, false);
    const response = new BodyWriter({ ...spec, key, iv });
    expect(stripPadding(join(response.write(Buffer.from('world'))), 28).toString('hex')).toBe('c2362f89d51e3d853011ae6fd78a6e20bbebeca9043a02' + zeros(28));
  });

  it('the SHAKE stream stays one XOF stream past the natively computed start (checked against @noble/hashes)', () => {
    const words = new ShakeWords(reqIV);
    const reference = Buffer.from(shake128(reqIV, { dkLen: 40_000 }));
    for (let i = 0; i < 20_000; i++) expect(words.next(), `word ${i}`).toBe(reference.readUInt16BE(2 * i));
  });

  it('TV-8 chacha20-poly1305', () => {
    expect(chachaKey(reqKey).toString('hex')).toBe('35ba6d08f0e34c15b9d0b09998960eb608192e2100960d3badb6175ebb26e7ab');
    const writer = new BodyWriter({ security: 4, options: 0x0d, key: reqKey, iv: reqIV, request, packets: false });
    expect(stripPadding(join(writer.write(Buffer.from('hello'))), 17).toString('hex')).toBe('8e65' + '8fa7c8ae8c6567bf102495bdd19d574bf38eefa3c3' + zeros(17));
  });

  it('TV-9 option A (authenticated length)', () => {
    const writer = new BodyWriter({ security: 3, options: 0x1d, key: reqKey, iv: reqIV, request, packets: false });
    expect(stripPadding(join(writer.write(Buffer.from('hello'))), 17).toString('hex')).toBe(
      'd94d29f472bad22b1d04fc30ffa643f9ba34' + '26aca2da2078f552797282c9aa9cf67d935233aad8' + zeros(17),
    );
    expect(stripPadding(join(writer.end()), 3).toString('hex')).toBe('34a9280fcd676168417547a8906371a6a170' + 'ccd579192f2c952dce50d25bca363611' + '000000');
  });

  it('TV-10 none with S + M', () => {
    const writer = new BodyWriter({ security: 5, options: 0x05, key: reqKey, iv: reqIV, request, packets: false });
    expect(join(writer.write(Buffer.from('hello'))).toString('hex')).toBe('fc9468656c6c6f');
    expect(join(writer.end()).toString('hex')).toBe('8e43');
  });

  it('TV-11 legacy header', () => {
    const wire = sealLegacyRequest(id, id.uuid, t, headerPlain);
    expect(wire.subarray(0, 16).toString('hex')).toBe('cb4c98431253a6f41d16adc57e6d3550');
    expect(wire.subarray(16).toString('hex')).toBe(
      '18e026f9ae24387cf561291b8e3b96a0a6e8f4aac6ba747a185b5160e9c9a642e67314646abb5cad3e6d15374ea5816c9dbb0fbc7b905ffc76',
    );
    const opened = openLegacyRequest(wire, new LegacyAuthTable([{ identity: id, info: 'u' }]), t + 60);
    expect(opened?.value.header).toEqual(header);
    const { key, iv } = responseKeys(header, true);
    expect([key.toString('hex'), iv.toString('hex')]).toEqual(['35ba6d08f0e34c15b9d0b09998960eb6', '1bf42e241816ba29ff5f307bb1bc1d16']);
    expect(createCipheriv('aes-128-cfb', key, iv).update(hex('42000000')).toString('hex')).toBe('cae5d704');
  });

  it('TV-12 aes-128-cfb bodies', () => {
    const writer = new BodyWriter({ security: 1, options: 0x01, key: reqKey, iv: reqIV, request, packets: false });
    expect(join(writer.write(Buffer.from('hello'))).toString('hex')).toBe('7719d7399b27dc396ef09e');
    expect(join(writer.end()).toString('hex')).toBe('c0d96f1386bb');
    const legacy = responseKeys(header, true);
    const stream = createCipheriv('aes-128-cfb', legacy.key, legacy.iv);
    const head = stream.update(hex('42000000'));
    const body = join(new BodyWriter({ security: 1, options: 0x01, ...legacy, request, packets: false, cfb: stream }).write(Buffer.from('world')));
    expect(Buffer.concat([head, body]).toString('hex')).toBe('cae5d7041119cd8c927444e100023a');
    const aead = responseKeys(header, false);
    expect(join(new BodyWriter({ security: 1, options: 0x01, ...aead, request, packets: false }).write(Buffer.from('world'))).toString('hex')).toBe('6af4147b49f4bada22c1fd');
  });

  it('TV-13 chunk nonce counter wraps at 65536', () => {
    const spec: BodySpec = { security: 3, options: 0x01, key: reqKey, iv: reqIV, request, packets: false };
    const writer = new BodyWriter(spec);
    const reader = new BodyReader(spec);
    const nonceFor = (counter: number): Buffer => Buffer.concat([Buffer.from([counter >> 8, counter & 0xff]), reqIV.subarray(2, 12)]);
    expect(nonceFor(0x1234).toString('hex')).toBe('123412131415161718191a1b');
    let last: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 65537; i++) {
      last = join(writer.write(Buffer.of(i & 0xff)));
      expect(reader.read(last)).toEqual([Buffer.of(i & 0xff)]);
    }
    // Chunk 65536 uses counter 0 again.
    expect(last.subarray(2)).toEqual(aeadSeal('aes-128-gcm', reqKey, nonceFor(0), Buffer.of(0)));
  });

  it('FNV-1a reference values', () => {
    expect([fnv1a32(Buffer.alloc(0)), fnv1a32(Buffer.from('hello')), fnv1a32(Buffer.from('world'))].map((n) => n.toString(16))).toEqual([
      '811c9dc5',
      '4f9f2cab',
      '37a3e893',
    ]);
    expect(decodeRequestHeader(headerPlain)).toEqual(header);
  });
});

/**
 * ML-KEM-768 (FIPS 203): KeyGen_internal, Encaps_internal and Decaps_internal (Algorithms 13–18)
 * with the hash functions of §4.1 from node:crypto — SHA3-256 (H), SHA3-512 (G), SHAKE256 (J and
 * PRF) and SHAKE128 (XOF). @noble/post-quantum computes the same function but spends half its
 * time in a JavaScript Keccak, which put the handshake over its 2.5 ms budget; the tests check
 * this implementation against it byte for byte and against the C2SP CCTV vectors.
 */
import { createHash } from 'node:crypto';
import {
  addInto,
  byteDecode,
  byteEncode,
  compress,
  decompress,
  inverseNtt,
  multiplyAccumulate,
  newPoly,
  ntt,
  polyBytes,
  q,
  reduce,
  sampleCbd2,
  sampleNtt,
  subtractInto,
} from './mlkem-poly.js';

/** Module rank k of ML-KEM-768. */
const rank = 3;
/** Compression of u and v in the ciphertext. */
const du = 10;
const dv = 4;
/** Bytes of the K-PKE parts. */
const vectorBytes = rank * polyBytes;
const uBytes = rank * 32 * du;

/** Sizes of ML-KEM-768's byte strings. */
const mlkemSizes = Object.freeze({ publicKey: vectorBytes + 32, secretKey: 2 * vectorBytes + 96, cipherText: uBytes + 32 * dv, seed: 64 });

/** An encapsulation key and its decapsulation key. */
export interface MlKemKeyPair {
  /** ek, 1184 bytes. */
  publicKey: Buffer;
  /** dk = dk_PKE ‖ ek ‖ H(ek) ‖ z, 2400 bytes. */
  secretKey: Buffer;
}

/** A ciphertext and the secret it carries. */
export interface MlKemEncapsulation {
  /** c, 1088 bytes. */
  cipherText: Buffer;
  /** K, 32 bytes. */
  sharedSecret: Buffer;
}

function digest(algorithm: string, outputLength: number | undefined, ...parts: Uint8Array[]): Buffer {
  const h = createHash(algorithm, outputLength === undefined ? undefined : { outputLength });
  for (const part of parts) h.update(part);
  return h.digest();
}

/** SamplePolyCBD_2(PRF_2(seed, n)) for n = first, first+1, …: `count` polynomials. */
function sampleNoise(seed: Uint8Array, first: number, count: number): Int32Array[] {
  const input = Buffer.alloc(33);
  input.set(seed);
  const out: Int32Array[] = [];
  for (let n = first; n < first + count; n++) {
    input[32] = n;
    out.push(sampleCbd2(digest('shake256', 128, input)));
  }
  return out;
}

/**
 * Returns Â[row][column] = SampleNTT(XOF(ρ ‖ column ‖ row)) (FIPS 203 Algorithms 13–14, step 6),
 * each entry in the same polynomial, valid until the next call.
 */
function matrixSampler(rho: Uint8Array): (row: number, column: number) => Int32Array {
  const input = Buffer.alloc(34);
  input.set(rho);
  const out = newPoly();
  return (row, column) => {
    input[32] = column;
    input[33] = row;
    // Three SHAKE128 blocks give 256 coefficients 99% of the time; squeeze more when not.
    for (let length = 504; !sampleNtt(digest('shake128', length, input), out); length *= 2);
    return out;
  };
}

function decodeVector(bytes: Uint8Array, offset: number): Int32Array[] {
  return Array.from({ length: rank }, (_, i) => byteDecode(bytes, offset + i * polyBytes, 12));
}

function wipe(...polys: Int32Array[][]): void {
  for (const vector of polys) for (const poly of vector) poly.fill(0);
}

/** K-PKE.Encrypt (Algorithm 14) with t̂ already decoded from ek. */
function encrypt(tHat: Int32Array[], rho: Uint8Array, message: Uint8Array, randomness: Uint8Array): Buffer {
  const matrix = matrixSampler(rho);
  const y = sampleNoise(randomness, 0, rank);
  const e1 = sampleNoise(randomness, rank, rank);
  const [e2] = sampleNoise(randomness, 2 * rank, 1) as [Int32Array];
  for (const poly of y) ntt(poly);
  const out = Buffer.alloc(mlkemSizes.cipherText);
  for (let i = 0; i < rank; i++) {
    const u = newPoly();
    for (let j = 0; j < rank; j++) multiplyAccumulate(u, matrix(j, i), y[j]!);
    reduce(u);
    inverseNtt(u);
    addInto(u, e1[i]!);
    compress(u, du);
    byteEncode(u, du, out, i * 32 * du);
  }
  const v = newPoly();
  for (let i = 0; i < rank; i++) multiplyAccumulate(v, tHat[i]!, y[i]!);
  reduce(v);
  inverseNtt(v);
  addInto(v, e2);
  const mu = byteDecode(message, 0, 1);
  decompress(mu, 1);
  addInto(v, mu);
  compress(v, dv);
  byteEncode(v, dv, out, uBytes);
  wipe(y, e1, [e2, mu, v]);
  return out;
}

/** K-PKE.Decrypt (Algorithm 15): the 32-byte message. */
function decrypt(secretKey: Uint8Array, cipherText: Uint8Array): Buffer {
  const sHat = decodeVector(secretKey, 0);
  const w = newPoly();
  for (let i = 0; i < rank; i++) {
    reduce(sHat[i]!);
    const u = byteDecode(cipherText, i * 32 * du, du);
    decompress(u, du);
    ntt(u);
    multiplyAccumulate(w, sHat[i]!, u);
  }
  reduce(w);
  inverseNtt(w);
  const v = byteDecode(cipherText, uBytes, dv);
  decompress(v, dv);
  subtractInto(v, w);
  compress(v, 1);
  const message = Buffer.alloc(32);
  byteEncode(v, 1, message, 0);
  wipe(sHat, [w, v]);
  return message;
}

/** ML-KEM.KeyGen_internal(d, z) with `seed` = d ‖ z (64 bytes). */
export function mlkemKeygen(seed: Uint8Array): MlKemKeyPair {
  if (seed.length !== mlkemSizes.seed) throw new Error(`an ML-KEM-768 key seed is ${mlkemSizes.seed} bytes`);
  const expanded = digest('sha3-512', undefined, seed.subarray(0, 32), Uint8Array.of(rank));
  const rho = expanded.subarray(0, 32);
  const sigma = expanded.subarray(32);
  const s = sampleNoise(sigma, 0, rank);
  const e = sampleNoise(sigma, rank, rank);
  for (const poly of [...s, ...e]) ntt(poly);
  const matrix = matrixSampler(rho);
  const secretKey = Buffer.alloc(mlkemSizes.secretKey);
  const publicKey = secretKey.subarray(vectorBytes, 2 * vectorBytes + 32);
  for (let i = 0; i < rank; i++) {
    const t = e[i]!;
    for (let j = 0; j < rank; j++) multiplyAccumulate(t, matrix(i, j), s[j]!);
    reduce(t);
    byteEncode(t, 12, publicKey, i * polyBytes);
    byteEncode(s[i]!, 12, secretKey, i * polyBytes);
  }
  publicKey.set(rho, vectorBytes);
  digest('sha3-256', undefined, publicKey).copy(secretKey, 2 * vectorBytes + 32);
  secretKey.set(seed.subarray(32), 2 * vectorBytes + 64);
  wipe(s, e);
  expanded.fill(0);
  return { publicKey: Buffer.from(publicKey), secretKey };
}

/**
 * ML-KEM.Encaps_internal(ek, m) with the 32-byte randomness m. Undefined when ek fails the type
 * or modulus check of FIPS 203 §7.2 (a coefficient ≥ q).
 */
export function mlkemEncapsulate(publicKey: Uint8Array, randomness: Uint8Array): MlKemEncapsulation | undefined {
  if (publicKey.length !== mlkemSizes.publicKey || randomness.length !== 32) return undefined;
  const tHat = decodeVector(publicKey, 0);
  if (tHat.some((poly) => poly.some((c) => c >= q))) return undefined;
  const kr = digest('sha3-512', undefined, randomness, digest('sha3-256', undefined, publicKey));
  const cipherText = encrypt(tHat, publicKey.subarray(vectorBytes), randomness, kr.subarray(32));
  const sharedSecret = Buffer.from(kr.subarray(0, 32));
  kr.fill(0);
  return { cipherText, sharedSecret };
}

/**
 * ML-KEM.Decaps_internal(dk, c): the shared secret, or the implicit-rejection secret J(z ‖ c)
 * when c does not re-encrypt to itself (chosen without a branch on the comparison). Throws on
 * wrong sizes or a dk whose stored H(ek) does not match (FIPS 203 §7.3 input checks).
 */
export function mlkemDecapsulate(cipherText: Uint8Array, secretKey: Uint8Array): Buffer {
  if (cipherText.length !== mlkemSizes.cipherText) throw new Error(`an ML-KEM-768 ciphertext is ${mlkemSizes.cipherText} bytes`);
  if (secretKey.length !== mlkemSizes.secretKey) throw new Error(`an ML-KEM-768 decapsulation key is ${mlkemSizes.secretKey} bytes`);
  const publicKey = secretKey.subarray(vectorBytes, 2 * vectorBytes + 32);
  const publicKeyHash = secretKey.subarray(2 * vectorBytes + 32, 2 * vectorBytes + 64);
  if (!digest('sha3-256', undefined, publicKey).equals(publicKeyHash)) throw new Error('the ML-KEM-768 decapsulation key fails its hash check');
  const message = decrypt(secretKey, cipherText);
  const kr = digest('sha3-512', undefined, message, publicKeyHash);
  const rejection = digest('shake256', 32, secretKey.subarray(2 * vectorBytes + 64), cipherText);
  const tHat = decodeVector(publicKey, 0);
  tHat.forEach(reduce);
  const reencrypted = encrypt(tHat, publicKey.subarray(vectorBytes), message, kr.subarray(32));
  let difference = 0;
  for (let i = 0; i < reencrypted.length; i++) difference |= reencrypted[i]! ^ cipherText[i]!;
  const keep = -((difference - 1) >>> 31); // all ones when equal
  for (let i = 0; i < 32; i++) rejection[i] = rejection[i]! ^ ((rejection[i]! ^ kr[i]!) & keep);
  kr.fill(0);
  message.fill(0);
  return rejection;
}

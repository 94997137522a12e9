/**
 * The polynomial arithmetic of ML-KEM (FIPS 203 §4.2–4.3): ring elements of Z_q[X]/(X^256 + 1)
 * as Int32Array(256) with every coefficient in [0, q), the NTT and its inverse (Algorithms 9–10),
 * multiplication in the NTT domain (Algorithms 11–12), sampling (Algorithms 7–8), compression
 * and byte coding (Algorithms 5–6). Hashing is the caller's: the samplers take the XOF and PRF
 * bytes. Reductions are arithmetic, not branches on coefficient values.
 */

/** The modulus q. */
export const q = 3329;
/** Coefficients per polynomial. */
const degree = 256;
/** Bytes of one polynomial under ByteEncode12. */
export const polyBytes = 384;

/** 128^-1 mod q, the scaling of the inverse NTT. */
const inverseScale = 3303;

function bitReverse7(i: number): number {
  let r = 0;
  for (let b = 0; b < 7; b++) r |= ((i >> b) & 1) << (6 - b);
  return r;
}

function powMod(base: number, exponent: number): number {
  let r = 1;
  for (let e = 0; e < exponent; e++) r = (r * base) % q;
  return r;
}

/** ζ^BitRev7(i) for the NTT layers, ζ = 17. */
const zetas = Int32Array.from({ length: 128 }, (_, i) => powMod(17, bitReverse7(i)));
/** ζ^(2·BitRev7(i)+1), the moduli of the 128 degree-2 base multiplications. */
const gammas = Int32Array.from({ length: 128 }, (_, i) => powMod(17, 2 * bitReverse7(i) + 1));

/** a + b mod q for a, b in [0, q). */
function addMod(a: number, b: number): number {
  const s = a + b - q;
  return s + ((s >> 31) & q);
}

/** a − b mod q for a, b in [0, q). */
function subMod(a: number, b: number): number {
  const d = a - b;
  return d + ((d >> 31) & q);
}

/** A fresh zero polynomial. */
export function newPoly(): Int32Array {
  return new Int32Array(degree);
}

/** Algorithm 9, in place. */
export function ntt(f: Int32Array): void {
  let i = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = 0; start < degree; start += 2 * len) {
      const zeta = zetas[i++]!;
      for (let j = start; j < start + len; j++) {
        const t = (zeta * f[j + len]!) % q;
        const fj = f[j]!;
        f[j + len] = subMod(fj, t);
        f[j] = addMod(fj, t);
      }
    }
  }
}

/** Algorithm 10, in place. */
export function inverseNtt(f: Int32Array): void {
  let i = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = 0; start < degree; start += 2 * len) {
      const zeta = zetas[i--]!;
      for (let j = start; j < start + len; j++) {
        const t = f[j]!;
        const u = f[j + len]!;
        f[j] = addMod(t, u);
        f[j + len] = (zeta * subMod(u, t)) % q;
      }
    }
  }
  for (let j = 0; j < degree; j++) f[j] = (f[j]! * inverseScale) % q;
}

/**
 * acc += a ∘ b in the NTT domain (Algorithms 11–12) without reducing: each call adds less than
 * 2^25 per coefficient, so up to 60 calls fit an int32 before `reduce`.
 */
export function multiplyAccumulate(acc: Int32Array, a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < 128; i++) {
    const a0 = a[2 * i]!;
    const a1 = a[2 * i + 1]!;
    const b0 = b[2 * i]!;
    const b1 = b[2 * i + 1]!;
    acc[2 * i] += a0 * b0 + ((a1 * b1) % q) * gammas[i]!;
    acc[2 * i + 1] += a0 * b1 + a1 * b0;
  }
}

/** Every coefficient (non-negative) mod q, in place. */
export function reduce(f: Int32Array): void {
  for (let j = 0; j < degree; j++) f[j] = f[j]! % q;
}

/** f += g mod q, in place. */
export function addInto(f: Int32Array, g: Int32Array): void {
  for (let j = 0; j < degree; j++) f[j] = addMod(f[j]!, g[j]!);
}

/** f −= g mod q, in place. */
export function subtractInto(f: Int32Array, g: Int32Array): void {
  for (let j = 0; j < degree; j++) f[j] = subMod(f[j]!, g[j]!);
}

/**
 * Algorithm 7 over XOF output already squeezed: fills `out` from 12-bit candidates below q.
 * Returns false when `stream` ran out first (the caller squeezes more and calls again).
 */
export function sampleNtt(stream: Uint8Array, out: Int32Array): boolean {
  let count = 0;
  for (let i = 0; i + 3 <= stream.length && count < degree; i += 3) {
    const b0 = stream[i]!;
    const b1 = stream[i + 1]!;
    const b2 = stream[i + 2]!;
    const d1 = b0 | ((b1 & 15) << 8);
    const d2 = (b1 >> 4) | (b2 << 4);
    if (d1 < q) out[count++] = d1;
    if (d2 < q && count < degree) out[count++] = d2;
  }
  return count === degree;
}

/** Algorithm 8 for η = 2 over 128 PRF bytes: each nibble gives (b0 + b1) − (b2 + b3) mod q. */
export function sampleCbd2(bytes: Uint8Array): Int32Array {
  const f = newPoly();
  for (let i = 0; i < 128; i++) {
    const byte = bytes[i]!;
    for (let half = 0; half < 2; half++) {
      const nibble = byte >> (4 * half);
      const value = (nibble & 1) + ((nibble >> 1) & 1) - ((nibble >> 2) & 1) - ((nibble >> 3) & 1);
      f[2 * i + half] = value + ((value >> 31) & q);
    }
  }
  return f;
}

/** Compress_d of every coefficient, in place: ⌈(2^d / q) · x⌋ mod 2^d. */
export function compress(f: Int32Array, d: number): void {
  const mask = (1 << d) - 1;
  for (let j = 0; j < degree; j++) f[j] = Math.floor(((f[j]! << d) + 1664) / q) & mask;
}

/** Decompress_d of every coefficient, in place: ⌈(q / 2^d) · y⌋. */
export function decompress(f: Int32Array, d: number): void {
  const half = 1 << (d - 1);
  for (let j = 0; j < degree; j++) f[j] = (f[j]! * q + half) >> d;
}

/** ByteEncode_d (Algorithm 5): 256 d-bit values, little-endian bit order, at `out[offset]`. */
export function byteEncode(f: Int32Array, d: number, out: Uint8Array, offset: number): void {
  let acc = 0;
  let bits = 0;
  let o = offset;
  for (let j = 0; j < degree; j++) {
    acc |= f[j]! << bits;
    bits += d;
    while (bits >= 8) {
      out[o++] = acc & 255;
      acc >>>= 8;
      bits -= 8;
    }
  }
}

/** ByteDecode_d (Algorithm 6) of 32·d bytes at `bytes[offset]`, without the mod-q step of d = 12. */
export function byteDecode(bytes: Uint8Array, offset: number, d: number): Int32Array {
  const f = newPoly();
  const mask = (1 << d) - 1;
  let acc = 0;
  let bits = 0;
  let i = offset;
  for (let j = 0; j < degree; j++) {
    while (bits < d) {
      acc |= bytes[i++]! << bits;
      bits += 8;
    }
    f[j] = acc & mask;
    acc >>>= d;
    bits -= d;
  }
  return f;
}

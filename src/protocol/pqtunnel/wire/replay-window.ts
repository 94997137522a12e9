/** Largest counter a keypair may receive: 2^53 − 2^12 (spec §6.1), inside JS safe integers. */
export const rejectAfterMessages = 2 ** 53 - 2 ** 12;

const words = 64;
const bitsPerWord = 32;
/** Counters this far behind the greatest accepted one are too old (ring size minus one word). */
export const windowSize = (words - 1) * bitsPerWord;

/**
 * RFC 6479-style anti-replay window for one receiving keypair (spec §6.2): a ring of
 * 64 × 32-bit words. `check` before decrypting, `update` only after the tag verified.
 * Counters are JS numbers below 2^53, so positions use division, not 32-bit shifts.
 */
export class ReplayWindow {
  private readonly ring = new Uint32Array(words);
  private top = -1;

  /** True when `counter` may be new: not too large, not too old, not seen. No state changes. */
  check(counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0 || counter >= rejectAfterMessages) return false;
    if (counter + windowSize <= this.top) return false;
    if (counter > this.top) return true;
    return (this.ring[Math.floor(counter / bitsPerWord) % words]! & (1 << counter % bitsPerWord)) === 0;
  }

  /** Records an authenticated `counter` (call only after `check` passed and the tag verified). */
  update(counter: number): void {
    if (counter > this.top) {
      const topWord = this.top < 0 ? -1 : Math.floor(this.top / bitsPerWord);
      const newWord = Math.floor(counter / bitsPerWord);
      const clear = Math.min(newWord - topWord, words);
      for (let i = 1; i <= clear; i++) this.ring[(topWord + i + words) % words] = 0;
      this.top = counter;
    }
    this.ring[Math.floor(counter / bitsPerWord) % words]! |= 1 << counter % bitsPerWord;
  }
}

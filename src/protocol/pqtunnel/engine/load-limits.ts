/** The gateway's limits under load (spec §5.1): a per-source token bucket and the initiation rate that decides "under load". */

/** Tokens per second and burst of each source's bucket. */
const bucketRate = 20;
const bucketBurst = 5;

interface Bucket {
  tokens: number;
  at: number;
}

/** Per-source-IP token buckets, for initiations under load that carry a valid mac2: 20 per second, burst 5. */
export class SourceBuckets {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes a token for `host` at `now` (ms); false when its bucket is empty. */
  take(host: string, now: number): boolean {
    const bucket = this.buckets.get(host) ?? { tokens: bucketBurst, at: now };
    bucket.tokens = Math.min(bucketBurst, bucket.tokens + ((now - bucket.at) * bucketRate) / 1000);
    bucket.at = now;
    this.buckets.set(host, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets buckets idle for a second (they would be full again). */
  prune(now: number): void {
    for (const [host, bucket] of this.buckets) if (now - bucket.at > 1000) this.buckets.delete(host);
  }
}

/**
 * Events per second over a sliding second, in constant time and memory: the previous whole
 * second weighted by how much of it the window still covers, plus the current one.
 */
export class RateWindow {
  private start = 0;
  private current = 0;
  private previous = 0;

  /** Counts one event at `now` (ms) and returns the rate. */
  add(now: number): number {
    const elapsed = now - this.start;
    if (elapsed >= 1000) {
      this.previous = elapsed >= 2000 ? 0 : this.current;
      this.start = now - (elapsed % 1000);
      this.current = 0;
    }
    this.current++;
    return this.previous * (1 - (now - this.start) / 1000) + this.current;
  }
}

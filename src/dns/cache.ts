/**
 * A resolver's answer cache (spec dns.md §5.5): bounded LRU keyed by question, TTL from the
 * smallest record TTL, TTLs aged when served, SERVFAIL kept 5 s, answers without records or
 * with TTL 0 not kept. An entry expired for less than a day is still served (TTL 1) while the
 * caller refreshes it, as mihomo does.
 */
import { rcodeOf, Rcode, smallestTtl, type DnsMessage, type DnsQuestion } from './wire.js';

interface Entry {
  message: DnsMessage;
  /** When it was stored (ms). */
  stored: number;
  /** Seconds it stays fresh. */
  ttl: number;
}

/** What a lookup found. */
export interface CacheHit {
  /** The answer with its TTLs aged (1 when stale). */
  message: DnsMessage;
  /** True when it expired: serve it, and refresh it. */
  stale: boolean;
}

const staleLimitMs = 24 * 3600 * 1000;

/** The cache key of a question: lower-cased name, type, class. */
export function questionKey(question: DnsQuestion): string {
  return `${question.name.toLowerCase().replace(/\.$/, '')}|${question.type}|${question.class ?? 'IN'}`;
}

/** A bounded LRU of answers. */
export class DnsAnswerCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = 4096,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of answers held. */
  get size(): number {
    return this.entries.size;
  }

  /** The answer to `key`, aged; undefined when absent or stale for over a day. */
  get(key: string): CacheHit | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const ageMs = this.now() - entry.stored;
    if (ageMs > entry.ttl * 1000 + staleLimitMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    const stale = ageMs >= entry.ttl * 1000;
    return { message: aged(entry.message, stale ? Infinity : Math.floor(ageMs / 1000)), stale };
  }

  /** Keeps an answer, if it may be kept. */
  set(key: string, message: DnsMessage): void {
    const ttl = rcodeOf(message) === Rcode.servFail ? 5 : smallestTtl(message);
    if (ttl === undefined || ttl <= 0 || key.startsWith('_acme-challenge.')) return;
    this.entries.delete(key);
    this.entries.set(key, { message, stored: this.now(), ttl });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets every answer. */
  clear(): void {
    this.entries.clear();
  }
}

/** A copy whose record TTLs are lowered by `seconds`, never below 1 (Infinity: all 1). */
function aged(message: DnsMessage, seconds: number): DnsMessage {
  const age = <T extends { type: string; ttl?: number }>(records: T[] | undefined): T[] =>
    (records ?? []).map((record) => (record.type === 'OPT' || record.ttl === undefined ? record : { ...record, ttl: Math.max(1, Math.min(record.ttl, record.ttl - seconds)) }));
  return { ...message, answers: age(message.answers), authorities: age(message.authorities), additionals: age(message.additionals) } as DnsMessage;
}

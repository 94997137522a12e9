import { lookup as systemLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { setBounded } from './bounded-map.js';

/** How DNS answers are cached. */
export interface DnsCacheOptions {
  /** How long an answer is reused. getaddrinfo gives no TTL, so this is a fixed time. */
  ttlMs: number;
  /** Most names kept; the oldest entry goes first. */
  maxEntries: number;
  /** A lookup slower than this fails with ETIMEDOUT. */
  timeoutMs: number;
  /** Resolver to wrap (the system's getaddrinfo by default, honouring /etc/hosts). */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

interface Entry {
  addresses: LookupAddress[];
  expires: number;
}

/** A small cache in front of getaddrinfo, shared by DIRECT dials and the router. */
export class DnsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<LookupAddress[]>>();
  private readonly resolveUncached: (hostname: string) => Promise<LookupAddress[]>;
  /** Lookups sent to the resolver (cache misses), and how many of them failed or timed out. */
  readonly counts = { queries: 0, failures: 0 };

  constructor(private readonly options: DnsCacheOptions) {
    this.resolveUncached = options.resolve ?? systemResolve;
  }

  /** `ipv6: false` of the running config: answers keep their IPv4 addresses only. */
  ipv6 = true;

  /** The DNS module's lookup when it runs (it answers instead of the system's resolver); undefined from it means it does not run. */
  through: ((hostname: string) => Promise<LookupAddress[]> | undefined) | undefined;

  /** `hosts:` of the running config: names it maps never reach a resolver. */
  hosts: { follow(name: string): { addresses: string[] } | { alias: string } | undefined } | undefined;

  /** All addresses of `hostname` (IPv4 and IPv6, or IPv4 only when `ipv6` is off): from `hosts:`, else the cache when fresh. */
  async resolveAll(hostname: string): Promise<LookupAddress[]> {
    const mapped = this.hosts?.follow(hostname);
    const all = mapped && 'addresses' in mapped ? mapped.addresses.map((address) => ({ address, family: isIP(address) })) : await this.resolveBoth(mapped?.alias ?? hostname);
    return this.ipv6 ? all : all.filter((a) => a.family === 4);
  }

  private async resolveBoth(hostname: string): Promise<LookupAddress[]> {
    // The DNS module caches by each answer's TTL and shares identical questions itself: its answers are not kept again here.
    const fromModule = this.through?.(hostname);
    if (fromModule) return withTimeout(fromModule, this.options.timeoutMs, hostname);
    const now = Date.now();
    const cached = this.entries.get(hostname);
    if (cached && cached.expires > now) return cached.addresses;
    let inflight = this.pending.get(hostname);
    if (!inflight) {
      this.counts.queries++;
      inflight = withTimeout(this.resolveUncached(hostname), this.options.timeoutMs, hostname)
        .catch((error: unknown) => {
          this.counts.failures++;
          throw error;
        })
        .finally(() => this.pending.delete(hostname));
      this.pending.set(hostname, inflight);
    }
    const addresses = await inflight;
    this.remember(hostname, addresses);
    return addresses;
  }

  /** A `lookup` for `net.connect` that answers from this cache (works with `autoSelectFamily`). */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolveAll(hostname).then(
      (all) => {
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
        } else {
          callback(null, wanted[0]!.address, wanted[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };

  /** Forgets every cached answer (the controller's POST /cache/dns/flush). */
  clear(): void {
    this.entries.clear();
  }

  private remember(hostname: string, addresses: LookupAddress[]): void {
    setBounded(this.entries, hostname, { addresses, expires: Date.now() + this.options.ttlMs }, this.options.maxEntries);
  }
}

function systemResolve(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    systemLookup(hostname, { all: true, order: 'verbatim' }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, hostname: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(Object.assign(new Error(`DNS lookup of ${hostname} timed out`), { code: 'ETIMEDOUT' })),
      ms,
    );
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

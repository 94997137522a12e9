/**
 * The main resolver (spec dns.md §5): `nameserver-policy` picks servers by name (the first
 * matching entry wins), else `nameserver`; each list is raced and the first acceptable answer
 * wins; answers are cached and concurrent identical questions share one exchange.
 */
import type { LookupAddress } from 'node:dns';
import type { NameMatcher } from '../route/match/domain-set.js';
import { isLan } from '../route/match/geoip.js';
import { ipWords, type IpRangeSet } from '../route/match/ip-set.js';
import { DnsAnswerCache, questionKey } from './cache.js';
import type { Upstream } from './exchange.js';
import { addressesOf, rcodeOf, Rcode, type DnsMessage, type DnsQuestion } from './wire.js';

/** One `nameserver-policy` entry. */
export interface NameserverPolicy {
  /** The names it applies to. */
  names: NameMatcher;
  /** Its servers (only they are asked). */
  servers: Upstream[];
}

/** `fallback` and `fallback-filter`: when the main servers' answer is not trusted. */
export interface FallbackOptions {
  /** `fallback`. */
  servers: Upstream[];
  /** `fallback-filter.domain`: names asked of `fallback` only. */
  domains: NameMatcher;
  /** `fallback-filter.ipcidr`: a main answer with an address in these is not trusted. */
  ipcidr: IpRangeSet;
  /** `fallback-filter.geoip` with `geoip-code`: a main answer with a public address of another country (or none) is not trusted. */
  geoip: { code: string; country: (ip: string) => string } | undefined;
}

/** How a resolver asks. */
export interface ResolverOptions {
  /** `nameserver`. */
  nameservers: Upstream[];
  /** `nameserver-policy`, in config order. */
  policies: NameserverPolicy[];
  /** One exchange (all servers of the list raced) fails after this long. */
  timeoutMs: number;
  /** `fallback`, when set. */
  fallback?: FallbackOptions;
}

/** Resolves questions through the configured servers, with a cache. */
export class Resolver {
  private readonly cache = new DnsAnswerCache();
  private readonly pending = new Map<string, Promise<DnsMessage>>();

  constructor(private readonly options: ResolverOptions) {}

  /** The answer to one question: from the cache when fresh (a stale one is served and refreshed), else from the servers. */
  async exchange(question: DnsQuestion): Promise<DnsMessage> {
    const key = questionKey(question);
    const hit = this.cache.get(key);
    if (hit && !hit.stale) return hit.message;
    const asking = this.ask(key, question);
    if (hit) {
      asking.catch(() => {});
      return hit.message;
    }
    return asking;
  }

  /**
   * The addresses of `host` for internal lookups: A, and AAAA too unless `ipv6` is off, asked
   * together; an AAAA failure alone is not an error.
   */
  async lookup(host: string, ipv6: boolean): Promise<LookupAddress[]> {
    const v4 = this.exchange({ name: host, type: 'A', class: 'IN' });
    const v6 = ipv6 ? this.exchange({ name: host, type: 'AAAA', class: 'IN' }).catch(() => undefined) : Promise.resolve(undefined);
    const [a, aaaa] = await Promise.all([v4.catch((error: Error) => error), v6]);
    const found = [a, aaaa].flatMap((answer) => (answer && !(answer instanceof Error) ? addressesOf(answer) : []));
    if (found.length > 0) return found.map(({ address, family }) => ({ address, family }));
    if (a instanceof Error) throw Object.assign(new Error(`DNS lookup of ${host} failed: ${a.message}`), { code: 'ENOTFOUND' });
    throw Object.assign(new Error(`${host} has no address`), { code: 'ENOTFOUND' });
  }

  /** Forgets every cached answer. */
  flush(): void {
    this.cache.clear();
  }

  /** Closes its servers' kept-alive connections. */
  async close(): Promise<void> {
    const servers = new Set([...this.options.nameservers, ...(this.options.fallback?.servers ?? []), ...this.options.policies.flatMap((policy) => policy.servers)]);
    await Promise.all([...servers].map((server) => server.close?.()));
  }

  private ask(key: string, question: DnsQuestion): Promise<DnsMessage> {
    let asking = this.pending.get(key);
    if (!asking) {
      asking = this.resolve(question).finally(() => this.pending.delete(key));
      asking.then((answer) => this.cache.set(key, answer), () => {});
      this.pending.set(key, asking);
    }
    return asking;
  }

  /**
   * Spec dns.md §5.3: a matching policy's servers only; else for A/AAAA/CNAME with `fallback`,
   * the main and fallback servers raced together and the main answer kept unless it has no
   * address or an address the filter distrusts (names in `fallback-filter.domain` go to
   * `fallback` only); other questions go to the main servers.
   */
  private async resolve(question: DnsQuestion): Promise<DnsMessage> {
    const { policies, nameservers, fallback, timeoutMs } = this.options;
    const host = question.name.toLowerCase().replace(/\.$/, '');
    const policy = policies.find((entry) => entry.names.has(host));
    if (policy) return race(policy.servers, question, timeoutMs);
    if (!fallback || fallback.servers.length === 0 || !(question.type === 'A' || question.type === 'AAAA' || question.type === 'CNAME')) return race(nameservers, question, timeoutMs);
    if (fallback.domains.has(host)) return race(fallback.servers, question, timeoutMs);
    const second = race(fallback.servers, question, timeoutMs).catch((error: Error) => error);
    const main = await race(nameservers, question, timeoutMs).catch(() => undefined);
    if (main && trusted(main, fallback)) return main;
    const answer = await second;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** Why a race's exchanges are ended (fixed objects: abort() without a reason builds a DOMException each time). */
const timedOut = new Error('the DNS race timed out');
const decided = new Error('the DNS race was decided');

/** True when a main answer has an address and none the fallback filter distrusts. */
function trusted(answer: DnsMessage, fallback: FallbackOptions): boolean {
  const addresses = addressesOf(answer);
  if (addresses.length === 0) return false;
  return addresses.every(({ address }) => {
    const words = ipWords(address);
    if (!words || fallback.ipcidr.has(words)) return false;
    return !fallback.geoip || isLan(words) || fallback.geoip.country(address) === fallback.geoip.code;
  });
}

/**
 * Sends the question to every server at once. The first acceptable answer wins: not a
 * transport error, SERVFAIL or REFUSED, and for A/AAAA one with an address. An `rcode://`
 * entry answers at once. With none acceptable, the last answer without addresses is returned
 * (NXDOMAIN, NODATA), else the race fails.
 */
function race(servers: readonly Upstream[], question: DnsQuestion, timeoutMs: number): Promise<DnsMessage> {
  // One controller ends the exchanges at the deadline or when the race is decided (AbortSignal.any and
  // AbortSignal.timeout cost more than the rest of a forwarded query on Node 20).
  const settled = new AbortController();
  const { signal } = settled;
  const deadline = setTimeout(() => settled.abort(timedOut), timeoutMs);
  const wantsAddress = question.type === 'A' || question.type === 'AAAA';
  // Once the race is decided, the exchanges still running are abandoned (their sockets closed).
  return new Promise<DnsMessage>((resolve, reject) => {
    let left = servers.length;
    let empty: DnsMessage | undefined;
    let lastError: unknown = new Error('no nameserver to ask');
    const settleIfDone = (): void => {
      if (--left > 0) return;
      if (empty) resolve(empty);
      else reject(new Error(`all DNS requests failed: ${(lastError as Error).message}`));
    };
    if (left === 0) return reject(lastError);
    for (const server of servers) {
      server.exchange(question, signal).then(
        (answer) => {
          const rcode = rcodeOf(answer);
          if (rcode === Rcode.servFail || rcode === Rcode.refused) lastError = new Error(`${server.name} answered ${rcode === Rcode.servFail ? 'SERVFAIL' : 'REFUSED'}`);
          else if (wantsAddress && addressesOf(answer).length === 0  && !server.synthetic) empty = answer;
          else return resolve(answer);
          settleIfDone();
        },
        (error: unknown) => {
          lastError = error;
          settleIfDone();
        },
      );
    }
  }).finally(() => {
    clearTimeout(deadline);
    settled.abort(decided);
  });
}

/**
 * The main resolver (spec dns.md §5): `nameserver-policy` picks servers by name (the first
 * matching entry wins), else `nameserver`; each list is raced and the first acceptable answer
 * wins; answers are cached and concurrent identical questions share one exchange.
 */
import type { LookupAddress } from 'node:dns';
import type { DomainSet } from '../route/match/domain-set.js';
import { DnsAnswerCache, questionKey } from './cache.js';
import type { Upstream } from './exchange.js';
import { addressesOf, rcodeOf, Rcode, type DnsMessage, type DnsQuestion } from './wire.js';

/** One `nameserver-policy` entry. */
export interface NameserverPolicy {
  /** The names it applies to. */
  names: DomainSet;
  /** Its servers (only they are asked). */
  servers: Upstream[];
}

/** How a resolver asks. */
export interface ResolverOptions {
  /** `nameserver`. */
  nameservers: Upstream[];
  /** `nameserver-policy`, in config order. */
  policies: NameserverPolicy[];
  /** One exchange (all servers of the list raced) fails after this long. */
  timeoutMs: number;
}

/** Resolves questions through the configured servers, with a cache. */
export class Resolver {
  private readonly cache = new DnsAnswerCache();
  private readonly pending = new Map<string, Promise<DnsMessage>>();
  /** Questions sent upstream (cache misses). */
  queries = 0;

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
    const servers = new Set([...this.options.nameservers, ...this.options.policies.flatMap((policy) => policy.servers)]);
    await Promise.all([...servers].map((server) => server.close?.()));
  }

  private ask(key: string, question: DnsQuestion): Promise<DnsMessage> {
    let asking = this.pending.get(key);
    if (!asking) {
      this.queries++;
      asking = race(this.serversFor(question.name), question, this.options.timeoutMs).finally(() => this.pending.delete(key));
      asking.then((answer) => this.cache.set(key, answer), () => {});
      this.pending.set(key, asking);
    }
    return asking;
  }

  private serversFor(name: string): Upstream[] {
    const host = name.toLowerCase().replace(/\.$/, '');
    return this.options.policies.find((policy) => policy.names.has(host))?.servers ?? this.options.nameservers;
  }
}

/**
 * Sends the question to every server at once. The first acceptable answer wins: not a
 * transport error, SERVFAIL or REFUSED, and for A/AAAA one with an address. An `rcode://`
 * entry answers at once. With none acceptable, the last answer without addresses is returned
 * (NXDOMAIN, NODATA), else the race fails.
 */
function race(servers: readonly Upstream[], question: DnsQuestion, timeoutMs: number): Promise<DnsMessage> {
  const settled = new AbortController();
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), settled.signal]);
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
  }).finally(() => settled.abort());
}

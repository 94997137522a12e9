/**
 * The DNS request handler behind `dns.listen` (spec dns.md §6): `hosts:` answers (with
 * `use-hosts`), then fake-ip answers (fake-ip mode), then the resolver; real answers are
 * remembered address → name so that flows to those addresses are routed by name (fake-ip and
 * redir-host modes).
 */
import { isIP } from 'node:net';
import { setBounded } from '../common/bounded-map.js';
import type { Hosts } from './hosts.js';
import type { NameMatcher } from '../route/match/domain-set.js';
import type { FakeIpPool } from './fake-ip.js';
import type { Resolver } from './resolver.js';
import { addressesOf, answerTo, relayAnswer, Rcode, type DnsAnswer, type DnsMessage } from './wire.js';

/** `enhanced-mode`. */
export type EnhancedMode = 'fake-ip' | 'redir-host' | 'normal';

/** What the handler answers with. */
export interface HandlerOptions {
  /** `enhanced-mode`. */
  mode: EnhancedMode;
  /** The pool, in fake-ip mode. */
  pool: FakeIpPool | undefined;
  /** `fake-ip-filter`, and whether it lists the names that get no fake address (blacklist) or the only ones that get one (whitelist). */
  filter: { names: NameMatcher; whitelist: boolean };
  /** `dns.ipv6` (and top-level `ipv6`): false answers AAAA with no records. */
  ipv6: boolean;
  /** `fake-ip-ttl`. */
  fakeTtl: number;
  /** Told when a name gets a new fake address (the table is written later). */
  onAllocate?: () => void;
  /** `hosts:`, when the server answers from it (`use-hosts`). */
  hosts?: Hosts;
}

/** HTTPS (65) and SVCB (64), as dns-packet names types it does not know. */
const hintTypes: ReadonlySet<string> = new Set(['UNKNOWN_65', 'UNKNOWN_64']);

/** TTL of answers from `hosts:` (mihomo's). */
const hostsTtl = 10;

/** How many real answers' addresses are remembered for routing. */
const mappingEntries = 4096;

/** Answers DNS queries and remembers which name each answered address stands for. */
export class DnsHandler {
  private readonly mapping = new Map<string, { name: string; expires: number }>();

  constructor(
    private readonly resolver: Resolver,
    private readonly options: HandlerOptions,
  ) {}

  /** The answer to a decoded query (never rejects: a failure is SERVFAIL). */
  async answer(query: DnsMessage): Promise<DnsMessage> {
    if ((query.flags ?? 0) & 0x7800) return answerTo(query, Rcode.notImp);
    const question = query.questions?.[0];
    if (!question || query.questions!.length !== 1) return answerTo(query, Rcode.formErr);
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const { mode, pool, fakeTtl } = this.options;
    const mapped = question.class === 'IN' && (question.type === 'A' || question.type === 'AAAA' || question.type === 'CNAME') ? this.options.hosts?.lookup(name) : undefined;
    if (mapped) return this.fromHosts(query, mapped);
    if (question.class === 'IN' && mode === 'fake-ip' && pool && this.getsFakeAddress(name)) {
      if (question.type === 'A') {
        const fresh = !pool.has(name);
        const data = pool.lookup(name);
        if (fresh) this.options.onAllocate?.();
        return answerTo(query, Rcode.noError, [{ name: question.name, type: 'A', class: 'IN', ttl: fakeTtl, data }]);
      }
      // AAAA, and HTTPS/SVCB whose hints would tell the client real addresses: no records.
      if (question.type === 'AAAA' || hintTypes.has(question.type as string)) return answerTo(query, Rcode.noError);
    }
    if (question.type === 'AAAA' && !this.options.ipv6) return answerTo(query, Rcode.noError);
    try {
      const upstream = await this.resolver.exchange({ name: question.name, type: question.type, class: question.class });
      if (mode !== 'normal') this.remember(name, upstream);
      return relayAnswer(query, upstream);
    } catch {
      return answerTo(query, Rcode.servFail);
    }
  }

  /**
   * An answer from `hosts:` (TTL 10): its addresses of the asked family; or for an alias, a
   * CNAME to it followed by the addresses its chain ends at inside `hosts:`, or by the answer
   * for the name the chain leaves `hosts:` with. A chain that loops (wildcards can) is SERVFAIL.
   */
  private async fromHosts(query: DnsMessage, mapped: { addresses: string[] } | { alias: string }): Promise<DnsMessage> {
    const question = query.questions![0]!;
    const records = (owner: string, addresses: string[]): DnsAnswer[] => {
      const family = question.type === 'AAAA' ? 6 : 4;
      return addresses.filter((address) => isIP(address) === family).map((data) => ({ name: owner, type: question.type as 'A' | 'AAAA', class: 'IN' as const, ttl: hostsTtl, data }));
    };
    if ('addresses' in mapped) return answerTo(query, Rcode.noError, question.type === 'CNAME' ? [] : records(question.name, mapped.addresses));
    const cname: DnsAnswer = { name: question.name, type: 'CNAME', class: 'IN', ttl: hostsTtl, data: mapped.alias };
    if (question.type === 'CNAME') return answerTo(query, Rcode.noError, [cname]);
    let end: { addresses: string[] } | { alias: string } | undefined;
    try {
      end = this.options.hosts!.follow(question.name);
    } catch {
      return answerTo(query, Rcode.servFail);
    }
    if (!end || 'addresses' in end) return answerTo(query, Rcode.noError, [cname, ...records(mapped.alias, end?.addresses ?? [])]);
    // The chain leaves hosts: at `end.alias`, which hosts: does not map: no loop from here.
    const inner = await this.answer({ ...query, questions: [{ ...question, name: end.alias }] });
    return { ...inner, questions: query.questions ?? [], answers: [cname, ...(inner.answers ?? [])] };
  }

  /** The name a real address was last answered for (redir-host and filtered names), while its TTL lasts. */
  nameOf(ip: string): string | undefined {
    const entry = this.mapping.get(ip);
    if (!entry) return undefined;
    if (entry.expires < Date.now()) {
      this.mapping.delete(ip);
      return undefined;
    }
    return entry.name;
  }

  private getsFakeAddress(name: string): boolean {
    const listed = this.options.filter.names.has(name);
    return this.options.filter.whitelist ? listed : !listed;
  }

  private remember(name: string, answer: DnsMessage): void {
    const now = Date.now();
    for (const { address, ttl } of addressesOf(answer)) setBounded(this.mapping, address, { name, expires: now + Math.max(ttl, 1) * 1000 }, mappingEntries);
  }
}

import type { Flow } from '../../adapter/flow.js';
import type { Outbound } from '../../adapter/outbound.js';
import { setBounded } from '../../common/bounded-map.js';
import { Group, type GroupOptions } from './group.js';
import type { DelayHistory } from './delay-history.js';
import { HealthCheck, type HealthCheckOptions } from './health-check.js';

/** load-balance strategies. */
export type BalanceStrategy = 'consistent-hashing' | 'round-robin' | 'sticky-sessions';

const stickyMs = 10 * 60_000;
const stickyMax = 4096;

/** FNV-1a 32-bit over a string's UTF-16 units: a stable key hash. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Jump consistent hash (Lamping and Veach): key → bucket in [0, buckets), stable as buckets grow. */
function jumpHash(key: number, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = BigInt(key);
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
    j = Math.floor(((b + 1) * 2 ** 31) / Number((k >> 33n) + 1n));
  }
  return b;
}

/** The part of a host that load-balancing keys on: the last two labels (a cheap eTLD+1), or the IP. */
function siteOf(flow: Flow): string {
  const host = flow.domain ?? flow.destination.host;
  if (flow.ip === host) return host;
  const labels = host.split('.');
  return labels.slice(-2).join('.');
}

/** `type: load-balance`: spreads flows over alive members by strategy. */
export class LoadBalanceGroup extends Group {
  readonly type = 'LoadBalance';
  /** The group's health checks. */
  readonly health: HealthCheck;
  /** Health-check URL (the API's `testUrl`). */
  readonly testUrl: string;
  /** Statuses counted as healthy (the API's `expectedStatus`). */
  readonly expectedStatus: string;
  private next = 0;
  private readonly sticky = new Map<string, { member: number; until: number }>();

  constructor(options: GroupOptions, private readonly strategy: BalanceStrategy, check: HealthCheckOptions, history?: DelayHistory) {
    super(options);
    this.testUrl = check.url;
    this.expectedStatus = check.expectedStatus ?? '*';
    this.health = new HealthCheck(check, () => this.members, () => {}, history);
  }

  pick(flow: Flow): Outbound {
    this.health.touch();
    const alive = this.members.filter((m) => this.health.of(m).alive);
    const pool = alive.length > 0 ? alive : this.members;
    if (this.strategy === 'round-robin') return pool[this.next++ % pool.length]!;
    if (this.strategy === 'consistent-hashing') return pool[jumpHash(hash32(siteOf(flow)), pool.length)]!;
    const key = `${flow.source.host}|${siteOf(flow)}`;
    const now = Date.now();
    const held = this.sticky.get(key);
    if (held && held.until > now && pool.includes(this.members[held.member]!)) return this.members[held.member]!;
    const member = pool[jumpHash(hash32(key), pool.length)]!;
    setBounded(this.sticky, key, { member: this.members.indexOf(member), until: now + stickyMs }, stickyMax);
    return member;
  }

  protected udpOfMembers(): boolean {
    return true;
  }

  /** Sticky choices are indexes into the members: they start over when the members change. */
  protected override membersChanged(): void {
    this.sticky.clear();
  }

  /** Starts health checks. */
  start(): void {
    this.health.start();
  }

  override async close(): Promise<void> {
    this.health.stop();
  }
}

import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, StreamDialer } from '../../adapter/outbound.js';
import { Group, type GroupOptions } from './group.js';
import type { DelayHistory } from './delay-history.js';
import { HealthCheck, type HealthCheckOptions } from './health-check.js';

/**
 * `type: url-test` (lowest delay, with `tolerance` hysteresis) and `type: fallback` (first
 * alive member in order). A member pinned with `select` stays while it is alive.
 */
export class AutoGroup extends Group {
  readonly type: 'URLTest' | 'Fallback';
  /** The group's health checks. */
  readonly health: HealthCheck;
  /** Health-check URL (the API's `testUrl`). */
  readonly testUrl: string;
  /** Statuses counted as healthy (the API's `expectedStatus`). */
  readonly expectedStatus: string;
  private current = 0;
  private pinned: string | undefined;

  constructor(
    options: GroupOptions,
    private readonly mode: 'url-test' | 'fallback',
    check: HealthCheckOptions,
    private readonly toleranceMs = 0,
    history?: DelayHistory,
  ) {
    super(options);
    this.type = mode === 'url-test' ? 'URLTest' : 'Fallback';
    this.testUrl = check.url;
    this.expectedStatus = check.expectedStatus ?? '*';
    this.health = new HealthCheck(check, () => this.members, () => this.choose(), history);
  }

  /** The pinned member, or undefined. */
  get fixed(): string | undefined {
    return this.pinned;
  }

  /** Name of the member in use. */
  get now(): string {
    return this.members[this.current]?.name ?? this.options.members[0]!;
  }

  /** Pins a member while it stays alive; undefined clears the pin. */
  select(name: string | undefined): void {
    if (name !== undefined && this.indexOf(name) < 0) throw new Error(`${name} is not a member of group ${this.name}`);
    this.pinned = name;
    this.choose();
  }

  unpin(): void {
    this.select(undefined);
  }

  pick(): Outbound {
    this.health.touch();
    return this.members[this.current]!;
  }

  /** A failed dial starts a health-check round at once, so a dead member is left quickly. */
  reportFailure(): void {
    void this.health.checkAll();
  }

  /** Dials through the member in use (inside a relay chain too), reporting a failure. */
  override async dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    try {
      return await super.dial(flow, via);
    } catch (error) {
      this.reportFailure();
      throw error;
    }
  }

  protected udpOfMembers(): boolean {
    return this.members[this.current]?.supportsUdp() ?? false;
  }

  /** Starts health checks. */
  start(): void {
    this.health.start();
  }

  override async close(): Promise<void> {
    this.health.stop();
  }

  protected override membersChanged(): void {
    if (this.current >= this.members.length) this.current = 0;
    this.choose();
  }

  /** Re-evaluates the member in use from the latest checks. */
  private choose(): void {
    const alive = (i: number): boolean => this.health.of(this.members[i]!).alive;
    const pin = this.pinned === undefined ? -1 : this.indexOf(this.pinned);
    if (pin >= 0 && alive(pin)) return void (this.current = pin);
    const indexes = this.members.map((_, i) => i).filter(alive);
    if (indexes.length === 0) return void (this.current = 0);
    if (this.mode === 'fallback') return void (this.current = indexes[0]!);
    const delay = (i: number): number => this.health.of(this.members[i]!).history.at(-1) || Number.MAX_SAFE_INTEGER;
    const best = indexes.reduce((a, b) => (delay(b) < delay(a) ? b : a));
    const keep = alive(this.current) && delay(this.current) <= delay(best) + this.toleranceMs;
    if (!keep) this.current = best;
  }
}

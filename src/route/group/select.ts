import type { Outbound } from '../../adapter/outbound.js';
import { Group, type GroupOptions } from './group.js';
import type { SelectionStore } from './selection-store.js';

/**
 * `type: select`: the member the user chose (first by default); the choice survives restarts.
 * When a provider update takes the chosen member away, the first member is used (and the
 * choice comes back if the member does).
 */
export class SelectGroup extends Group {
  readonly type = 'Selector';
  /** The user's choice (saved, or made through the controller). */
  private chosen: string | undefined;
  private current = 0;

  constructor(options: GroupOptions, private readonly store: SelectionStore | undefined) {
    super(options);
    this.chosen = store?.get(options.name);
  }

  /** Name of the member in use. */
  get now(): string {
    return this.members[this.current]?.name ?? this.options.members[0]!;
  }

  /** Chooses a member for new flows; throws for a name that is not a member. */
  select(name: string): void {
    const index = this.indexOf(name);
    if (index < 0) throw new Error(`${name} is not a member of group ${this.name}`);
    this.chosen = name;
    this.current = index;
    this.store?.set(this.name, name);
  }

  pick(): Outbound {
    return this.members[this.current]!;
  }

  protected override membersChanged(previous: readonly Outbound[]): void {
    const before = previous[this.current]?.name;
    const index = this.chosen === undefined ? -1 : this.indexOf(this.chosen);
    this.current = Math.max(0, index);
    if (index < 0 && this.chosen !== undefined && before === this.chosen) {
      this.options.notice?.(`group ${this.name}: ${this.chosen} is gone after a provider update; using ${this.now}`);
    }
  }

  protected udpOfMembers(): boolean {
    return this.pick().supportsUdp();
  }
}

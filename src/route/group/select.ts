import type { Outbound } from '../../adapter/outbound.js';
import { Group, type GroupOptions } from './group.js';
import type { SelectionStore } from './selection-store.js';

/** `type: select`: the member the user chose (first by default); the choice survives restarts. */
export class SelectGroup extends Group {
  readonly type = 'Selector';
  private selected: string;

  constructor(options: GroupOptions, private readonly store: SelectionStore | undefined) {
    super(options);
    const saved = store?.get(options.name);
    this.selected = saved !== undefined && options.members.includes(saved) ? saved : options.members[0]!;
  }

  /** Name of the chosen member. */
  get now(): string {
    return this.selected;
  }

  /** Chooses a member for new flows; throws for a name that is not a member. */
  select(name: string): void {
    if (!this.options.members.includes(name)) throw new Error(`${name} is not a member of group ${this.name}`);
    this.selected = name;
    this.store?.set(this.name, name);
  }

  pick(): Outbound {
    return this.members[this.options.members.indexOf(this.selected)]!;
  }

  protected udpOfMembers(): boolean {
    return this.pick().supportsUdp();
  }
}

import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, OutboundGroup, PacketConn, ProxyGroup, StreamDialer } from '../../adapter/outbound.js';

/** Fields every `proxy-groups:` entry has once validated. */
export interface GroupOptions {
  /** Group name. */
  name: string;
  /** Member names, in config order (proxies, groups, built-ins). */
  members: string[];
  /** Never offer UDP through this group. */
  disableUdp: boolean;
}

/**
 * Base of the groups that hand each flow to a member. Members are linked by name after every
 * outbound exists, since groups may refer to groups defined later.
 */
export abstract class Group implements OutboundGroup, ProxyGroup {
  abstract readonly type: string;
  /** Members after `link`, in config order. */
  protected members: Outbound[] = [];

  constructor(protected readonly options: GroupOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** Member names in config order. */
  get memberNames(): string[] {
    return [...this.options.members];
  }

  /** Resolves member names; every name must exist (the loader checked). */
  link(outbounds: ReadonlyMap<string, Outbound>): void {
    this.members = this.options.members.map((name) => outbounds.get(name)!);
  }

  abstract pick(flow: Flow): Outbound;

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    return this.pick(flow).dial(flow, via);
  }

  listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    return this.pick(flow).listenPacket(flow, via);
  }

  supportsUdp(): boolean {
    return !this.options.disableUdp && this.udpOfMembers();
  }

  /** Whether the member(s) this group would use can carry UDP. */
  protected abstract udpOfMembers(): boolean;

  /** Stops timers (health checks). */
  async close(): Promise<void> {}
}

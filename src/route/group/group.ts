import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import { bindThrough, type Outbound, type OutboundGroup, type PacketConn, type ProxyGroup, type StreamDialer } from '../../adapter/outbound.js';
import type { SocketBinding } from '../../common/socket-options.js';

/** Fields every `proxy-groups:` entry has once validated. */
export interface GroupOptions {
  /** Group name. */
  name: string;
  /** Member names, in config order (proxies, groups, built-ins). */
  members: string[];
  /** Never offer UDP through this group. */
  disableUdp: boolean;
  /** The proxies its proxy providers give it now (after its filters), appended to `members`; read at each link. */
  providerMembers?: () => readonly Outbound[];
  /** Told what changed when a provider update takes away the member in use. */
  notice?: (message: string) => void;
  /** `hidden`: dashboards leave it out. */
  hidden?: boolean;
  /** `icon`: a picture URL dashboards show. */
  icon?: string;
  /** `interface-name`/`routing-mark` members dial with. */
  binding?: SocketBinding;
}

/**
 * Base of the groups that hand each flow to a member. Members are linked by name after every
 * outbound exists, since groups may refer to groups defined later, and linked again when a
 * proxy provider the group uses changes.
 */
export abstract class Group implements OutboundGroup, ProxyGroup {
  abstract readonly type: string;
  /** Members after `link`, in order: the named ones, then the providers'. */
  protected members: Outbound[] = [];
  private byName: ReadonlyMap<string, Outbound> = new Map();

  constructor(protected readonly options: GroupOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** `hidden`: dashboards leave it out. */
  get hidden(): boolean {
    return this.options.hidden ?? false;
  }

  /** `icon`: a picture URL dashboards show. */
  get icon(): string | undefined {
    return this.options.icon;
  }

  /** Member names in order (the named members until the group is linked). */
  get memberNames(): string[] {
    return this.members.length > 0 ? this.members.map((m) => m.name) : [...this.options.members];
  }

  /** The members now. */
  get memberOutbounds(): readonly Outbound[] {
    return this.members;
  }

  /** Resolves member names (every name exists: the loader made the missing ones) and adds the providers' members. */
  link(outbounds: ReadonlyMap<string, Outbound>): void {
    this.byName = outbounds;
    this.relink();
  }

  /** Takes the providers' current members (after a provider update); a group left empty uses COMPATIBLE, as in mihomo. */
  relink(): void {
    const named = this.options.members.map((name) => this.byName.get(name)!);
    const members = [...named, ...(this.options.providerMembers?.() ?? [])];
    const compatible = this.byName.get('COMPATIBLE');
    const previous = this.members;
    this.members = members.length > 0 || !compatible ? members : [compatible];
    this.membersChanged(previous);
  }

  /** Called after each (re)link with the members before it: subclasses re-check what they chose. */
  protected membersChanged(_previous: readonly Outbound[]): void {}

  /** Index of the member called `name`, or -1. */
  protected indexOf(name: string): number {
    return this.members.findIndex((m) => m.name === name);
  }

  abstract pick(flow: Flow): Outbound;

  /** `interface-name`/`routing-mark` members dial with. */
  get binding(): SocketBinding | undefined {
    return this.options.binding;
  }

  dial(flow: Flow, via?: StreamDialer): Promise<Duplex> {
    bindThrough(flow, this);
    return this.pick(flow).dial(flow, via);
  }

  listenPacket(flow: Flow, via?: StreamDialer): Promise<PacketConn> {
    bindThrough(flow, this);
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


import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { Flow } from '../../adapter/flow.js';
import type { Outbound, PacketConn } from '../../adapter/outbound.js';
import { DialError } from '../../common/errors.js';

/** REJECT: refuses every flow at once (SOCKS REP 0x02, HTTP 403); UDP is dropped. */
export class RejectOutbound implements Outbound {
  readonly type = 'Reject';

  constructor(readonly name = 'REJECT') {}

  async dial(): Promise<Duplex> {
    throw new DialError('blocked', 'rejected by rule');
  }

  async listenPacket(): Promise<PacketConn> {
    throw new DialError('blocked', 'rejected by rule');
  }

  supportsUdp(): boolean {
    return true;
  }
}

/** REJECT-DROP: holds the client without an answer for a while, then closes without a reply. */
export class RejectDropOutbound implements Outbound {
  readonly type = 'RejectDrop';

  constructor(
    private readonly holdMs: number,
    readonly name = 'REJECT-DROP',
  ) {}

  async dial(flow: Flow): Promise<Duplex> {
    await sleep(this.holdMs, undefined, { signal: flow.signal }).catch(() => {});
    throw new DialError('dropped', `dropped by rule after ${this.holdMs} ms`);
  }

  async listenPacket(): Promise<PacketConn> {
    throw new DialError('dropped', 'dropped by rule');
  }

  supportsUdp(): boolean {
    return true;
  }
}

/** PASS: a rule whose target is PASS (directly or as a group's member) is skipped; never dialed. */
export class PassOutbound implements Outbound {
  readonly type = 'Pass';
  readonly name = 'PASS';

  async dial(): Promise<Duplex> {
    throw new DialError('general', 'PASS is not an outbound');
  }

  async listenPacket(): Promise<PacketConn> {
    throw new DialError('general', 'PASS is not an outbound');
  }

  supportsUdp(): boolean {
    return true;
  }
}

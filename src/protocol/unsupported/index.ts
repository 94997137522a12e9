/**
 * Proxies of a type (or transport) sluice does not implement: they stay listed in groups and
 * the controller, as in the user's config, and every flow through them fails at once naming
 * the reason. Groups that check health count them as dead.
 */
import type { Duplex } from 'node:stream';
import type { OutboundRegistration } from '../../adapter/registration.js';
import type { Outbound, PacketConn } from '../../adapter/outbound.js';
import { clashProxyTypes } from '../../config/clash-keys.js';
import type { UnsupportedProxyConfig } from '../../config/proxy-types.js';
import { DialError } from '../../common/errors.js';

/** An outbound that refuses every flow with the reason it cannot exist here. */
export class UnsupportedOutbound implements Outbound {
  /** mihomo's adapter type name for the entry's `type:` (Tuic, Vless, …), as dashboards show it. */
  readonly type: string;
  /** The message every dial fails with. */
  readonly unusable: string;

  constructor(readonly name: string, protocol: string, reason: string) {
    this.type = clashProxyTypes.get(protocol) ?? protocol;
    this.unusable = `proxy ${name}: ${reason}`;
  }

  async dial(): Promise<Duplex> {
    throw new DialError('general', this.unusable);
  }

  async listenPacket(): Promise<PacketConn> {
    throw new DialError('general', this.unusable);
  }

  supportsUdp(): boolean {
    return false;
  }
}

/** The placeholder entries the loader makes for proxies sluice cannot run. */
export const unsupportedOutbound: OutboundRegistration<UnsupportedProxyConfig> = {
  create: (proxy) => new UnsupportedOutbound(proxy.name, proxy.protocol, proxy.reason),
};

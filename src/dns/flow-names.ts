/** Flows to addresses sluice's DNS server answered, given back their names (spec dns.md §7.5). */
import type { Flow } from '../adapter/flow.js';
import { ipFamily } from '../common/address.js';
import { DialError } from '../common/errors.js';

/** What an address stands for: a name (from the fake-ip pool, or a remembered real answer), `missing` for a fake address nothing is allocated to, or undefined. */
export type AddressName = { name: string; fake: boolean } | 'missing' | undefined;

/** Where the names come from (the DNS module). */
export interface AddressNames {
  /** The name behind `ip`. */
  nameOf(ip: string): AddressName;
}

/**
 * A TCP flow to an address sluice's DNS server answered is routed, and dialed, by the name: a
 * fake address stands for its name only; a real one keeps its IP for IP rules. A fake address
 * nothing is allocated to (after a flush, or a restart without profile.store-fake-ip) fails the
 * flow at once.
 */
export function routeByName(flow: Flow, names: AddressNames): void {
  const { host, port } = flow.destination;
  if (ipFamily(host) === 0) return;
  const found = names.nameOf(host);
  if (found === 'missing') throw new DialError('invalid-destination', `fake DNS record ${host} missing (the fake-ip table was flushed, or sluice restarted without profile.store-fake-ip)`);
  if (!found) return;
  flow.destination = { host: found.name, port };
  // The flow's registration took the literal for its IP: a fake one must not reach IP rules.
  if (found.fake) delete flow.ip;
}

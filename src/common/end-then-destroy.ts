import type { Duplex } from 'node:stream';

/**
 * Half-closes `stream` (after `last`, when given) and destroys it if it has not closed
 * `graceMs` later. The timer is cleared as soon as the stream closes: a pending timer holds
 * the stream, and everything reachable from it, until it fires (measured on the VMess client:
 * a 5 s timer per connection kept some 4,800 closed connections' sockets and codecs alive
 * at 1,000 connections/s, all promoted to the old generation).
 */
export function endThenDestroy(stream: Duplex, graceMs: number, last?: Buffer | string): void {
  if (last === undefined) stream.end();
  else stream.end(last);
  if (stream.destroyed) return;
  const timer = setTimeout(() => stream.destroy(), graceMs).unref();
  stream.once('close', () => clearTimeout(timer));
}

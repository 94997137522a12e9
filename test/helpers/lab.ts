import { labUnavailable } from '../../bench/netns.js';

/**
 * Why the namespace lab cannot run here (not root, no /dev/net/tun, a missing program), or
 * undefined when it can. Under CI=true a missing part fails the test file at once, so a
 * `describe.skipIf(reason !== undefined)` can only skip on a laptop.
 */
export function labMissing(programs: readonly string[], what: string): string | undefined {
  const reason = labUnavailable(programs);
  if (reason && process.env.CI === 'true') throw new Error(`${what} cannot run under CI: ${reason}`);
  return reason;
}

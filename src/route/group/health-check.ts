import type { Outbound } from '../../adapter/outbound.js';
import { clientThrough } from '../http/through.js';
import type { DelayHistory } from './delay-history.js';
import { parsePortList, portInRanges, type PortRange } from '../rule/ports.js';

/** Health-check settings of a url-test, fallback or load-balance group. */
export interface HealthCheckOptions {
  /** URL fetched with HEAD through each member. */
  url: string;
  /** Milliseconds between rounds; 0 = never automatically. */
  intervalMs: number;
  /** Milliseconds one check may take. */
  timeoutMs: number;
  /** Skip a round when no flow used the group since the last one. */
  lazy: boolean;
  /** Statuses that count as success (`200/204`, `200-299`); undefined = any. */
  expectedStatus?: string;
  /** `unified-delay`: time a second request on the connection (see measureDelay). */
  unifiedDelay?: boolean;
}

/** The last checks of one member. */
export interface MemberHealth {
  /** Delays in ms of the last (up to 10) checks; 0 for a failed check. */
  history: number[];
  /** True until a check fails (never tested counts as alive). */
  alive: boolean;
}

/**
 * Measures each member's delay: HTTP HEAD to the URL through the member (undici over a
 * connection the member dials), milliseconds from dial start to response headers.
 */
export class HealthCheck {
  private readonly health = new Map<string, MemberHealth>();
  private readonly statuses: PortRange[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastUse = 0;
  private lastRound = 0;
  private round: Promise<void> | undefined;

  constructor(
    private readonly options: HealthCheckOptions,
    private readonly members: () => readonly Outbound[],
    /** Called after each round (groups re-pick). */
    private readonly onRound: () => void,
    /** Told every result, for the controller's proxy history. */
    private readonly recorder?: DelayHistory,
  ) {
    this.statuses = options.expectedStatus && options.expectedStatus !== '*' ? parsePortList(options.expectedStatus) : undefined;
  }

  /** The checks of a member so far (never checked: alive, unless it can carry no flow at all). */
  of(member: Outbound): MemberHealth {
    return this.health.get(member.name) ?? { history: [], alive: member.unusable === undefined };
  }

  /** Records that a flow used the group (lazy groups only check when used). */
  touch(): void {
    this.lastUse = Date.now();
  }

  /** Starts periodic rounds (the first one at once). */
  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    const tick = (): void => {
      const idle = this.options.lazy && this.lastRound > 0 && this.lastUse < this.lastRound;
      if (!idle) void this.checkAll();
      this.timer = setTimeout(tick, this.options.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops periodic rounds. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Checks every member now (concurrently); a round already running is joined. */
  checkAll(): Promise<void> {
    this.round ??= Promise.all(this.members().map((m) => this.checkOne(m))).then(() => {
      this.round = undefined;
      this.lastRound = Date.now();
      this.onRound();
    });
    return this.round;
  }

  /** Checks one member and records the result; resolves to the delay in ms (0 = failed). */
  async checkOne(member: Outbound): Promise<number> {
    let delay = 0;
    try {
      delay = Math.max(1, Math.round(await this.measure(member)));
    } catch {
      delay = 0;
    }
    const entry = this.health.get(member.name) ?? { history: [], alive: true };
    entry.history.push(delay);
    if (entry.history.length > 10) entry.history.shift();
    entry.alive = delay > 0;
    this.health.set(member.name, entry);
    this.recorder?.record(member.name, this.options.url, delay);
    return delay;
  }

  private measure(member: Outbound): Promise<number> {
    return measureDelay(member, this.options.url, this.options.timeoutMs, this.statuses, this.options.unifiedDelay);
  }
}

/**
 * One delay test: HTTP HEAD to `url` through `outbound`, milliseconds from dial start to the
 * response headers. With `unified` (mihomo's `unified-delay`) a second HEAD follows on the same
 * connection and only it is timed, which leaves the TCP, TLS and proxy handshakes out; when the
 * second fails, the first counts. Rejects on failure, on a status outside `statuses`, or after `timeoutMs`.
 */
export async function measureDelay(outbound: Outbound, rawUrl: string, timeoutMs: number, statuses?: PortRange[], unified = false): Promise<number> {
  const url = new URL(rawUrl);
  const signal = AbortSignal.timeout(timeoutMs);
  let started = performance.now();
  const client = clientThrough(outbound, url, signal, timeoutMs);
  const head = async (): Promise<number> => {
    // undici closes a connection after HEAD unless told to keep it (`reset: false`): the second request needs it.
    const response = await client.request({ path: url.pathname + url.search, method: 'HEAD', signal, ...(unified ? { reset: false } : {}) });
    await response.body.dump();
    return response.statusCode;
  };
  try {
    let status = await head();
    if (unified) {
      const second = performance.now();
      const repeated = await head().catch(() => undefined);
      if (repeated !== undefined) [status, started] = [repeated, second];
    }
    if (statuses && !portInRanges(status, statuses)) throw new Error(`status ${status}`);
    return performance.now() - started;
  } finally {
    await client.destroy().catch(() => {});
  }
}

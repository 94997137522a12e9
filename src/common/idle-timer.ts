/**
 * Calls `onIdle` once nothing called `touch()` for `ms`. Cheap to touch per chunk:
 * touching only stores a timestamp; the one pending timer re-arms itself for the
 * remaining time when it fires early.
 */
export class IdleTimer {
  private last = Date.now();
  private timer: NodeJS.Timeout;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.timer = this.arm(ms);
  }

  /** Records activity now. */
  touch(): void {
    this.last = Date.now();
  }

  /** Cancels the timer for good. */
  stop(): void {
    clearTimeout(this.timer);
  }

  private arm(delay: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const remaining = this.ms - (Date.now() - this.last);
      if (remaining <= 0) this.onIdle();
      else this.timer = this.arm(remaining);
    }, delay);
    timer.unref();
    return timer;
  }
}

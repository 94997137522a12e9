import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';

const clearLine = '\r\x1b[2K';

/**
 * The live status line of a long operation (rule-provider downloads, `sluice bench`) at the
 * bottom of a terminal: redrawn every second, kept below whatever is printed through `print`.
 * Off a terminal nothing is drawn: `plain` lines say what starts instead, so logs and CI
 * output stay line-oriented.
 */
export class StatusLine {
  private render: (() => string) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;

  constructor(
    /** The descriptor the status is drawn on (standard error). */
    private readonly fd = 2,
    /** True when `fd` is a terminal: the line is drawn; false: only plain lines. */
    readonly live = isatty(fd),
  ) {}

  /** Shows `render()` (re-evaluated every second, so elapsed times tick) until `clear`. */
  show(render: () => string): void {
    this.render = render;
    if (!this.live) return;
    this.draw();
    this.timer ??= setInterval(() => this.draw(), 1000).unref();
  }

  /** Takes the status line away. */
  clear(): void {
    this.render = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.put(this.fd, clearLine);
    this.drawn = false;
  }

  /** Writes complete lines (newline included) to `fd` above the status line. */
  print(lines: string, fd = this.fd): void {
    if (this.drawn) this.put(this.fd, clearLine);
    this.drawn = false;
    this.put(fd, lines);
    if (this.render) this.draw();
  }

  /** Off a terminal, prints `line` as it is; on one, the status line says it instead. */
  plain(line: string): void {
    if (!this.live) this.put(this.fd, `${line}\n`);
  }

  private draw(): void {
    if (!this.render || !this.live) return;
    const width = process.stderr.columns || 80;
    this.put(this.fd, `${clearLine}${this.render().slice(0, width - 1)}`);
    this.drawn = true;
  }

  private put(fd: number, text: string): void {
    try {
      writeSync(fd, text);
    } catch {
      // the terminal went away: progress is best effort
    }
  }
}

/** `12 s` / `3 min 05 s` since `started` (ms from performance.now()). */
export function elapsed(started: number): string {
  const seconds = Math.floor((performance.now() - started) / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

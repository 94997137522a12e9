import { writeSync } from 'node:fs';
import { Subject } from 'rxjs';
import type { StatusLine } from './status-line.js';

/** Clash/mihomo log levels, most severe first; `silent` logs nothing. */
export const logLevels = ['silent', 'error', 'warning', 'info', 'debug'] as const;
/** One of the Clash/mihomo log level names. */
export type LogLevel = (typeof logLevels)[number];
/** `text` for people, `json` (one object per line) for log collectors. */
export type LogFormat = 'text' | 'json';

/** Extra structured fields attached to a log record. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where log lines go; a stream or anything with `write`. */
export interface LogSink {
  /** Writes one or more complete lines (each with its newline). */
  write(lines: string): unknown;
}

const rank: Record<LogLevel, number> = { silent: 0, error: 1, warning: 2, info: 3, debug: 4 };

/** Longest a logged line waits before it is written. */
const flushDelayMs = 50;
/** Pending text that is written at once instead of waiting out the delay. */
const flushBytes = 64 * 1024;

/**
 * Standard error, written in batches: lines logged within `flushDelayMs` go out in one
 * write, so a busy proxy does not pay a system call per flow (measured with one line per
 * connection: the per-turn writes of a plain batch cost 60–70 µs of CPU per connection,
 * 7–9% of a VMess hop's). Whatever is pending is written synchronously when the process
 * exits. With a status line, lines go above it.
 */
export class BatchedStderr implements LogSink {
  private pending: string[] = [];
  private pendingLength = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly status?: StatusLine,
    /** Writes one batch (tests replace it); by default to descriptor 2, synchronously. */
    private readonly out: (text: string) => void = (text) => writeSync(2, text),
  ) {
    process.on('exit', () => this.flush());
  }

  write(lines: string): void {
    this.pending.push(lines);
    this.pendingLength += lines.length;
    if (this.pendingLength >= flushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), flushDelayMs).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingLength = 0;
    if (this.status) return this.status.print(text);
    try {
      this.out(text);
    } catch {
      // stderr closed or full: logs are best effort, traffic is not affected
    }
  }
}

/** One log record as subscribers (the controller's /logs) see it. */
export interface LogEvent {
  /** Severity. */
  level: Exclude<LogLevel, 'silent'>;
  /** The message with its fields, as the text format prints it. */
  text: string;
  /** When it was logged. */
  time: Date;
}

/** A leveled logger writing human-readable or JSON lines to a sink, and publishing records to subscribers. */
export class Logger {
  private threshold: number;
  /** Every record written (at or above the level), for live subscribers; nothing is built when nobody listens. */
  readonly events = new Subject<LogEvent>();

  constructor(
    level: LogLevel = 'info',
    private format: LogFormat = 'text',
    private sink: LogSink = process.stderr,
  ) {
    this.threshold = rank[level];
  }

  /** Changes the level at runtime (config reload, `--log-level`). */
  setLevel(level: LogLevel): void {
    this.threshold = rank[level];
  }

  /** True when a record at `level` would be written; lets callers skip building messages. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return rank[level] <= this.threshold;
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warning', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }

  /** The current level. */
  get level(): LogLevel {
    return logLevels[this.threshold]!;
  }

  private log(level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields): void {
    if (rank[level] > this.threshold) return;
    const now = new Date();
    const time = now.toISOString();
    if (this.format === 'json') {
      this.sink.write(JSON.stringify({ time, level, msg: message, ...fields }) + '\n');
      if (this.events.observed) this.events.next({ level, text: withFields(message, fields), time: now });
      return;
    }
    const text = withFields(message, fields);
    this.sink.write(`${time} ${level.toUpperCase().padEnd(7)} ${text}\n`);
    if (this.events.observed) this.events.next({ level, text, time: now });
  }
}

/** Control characters and line separators: escaped so that no field can start or forge a line. */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `\x00`, `\x0a`, `\u2028`… for each unprintable character of `text`. */
function escapeUnprintable(text: string): string {
  return text.replace(unprintable, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** `message key=value …`, quoting values with spaces, quotes or `=`; control characters escaped. */
function withFields(message: string, fields: LogFields | undefined): string {
  let line = escapeUnprintable(message);
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const text = String(value);
      line += ` ${key}=${escapeUnprintable(/[\s"=]/.test(text) ? JSON.stringify(text) : text)}`;
    }
  }
  return line;
}

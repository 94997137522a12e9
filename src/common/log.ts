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

/**
 * Standard error, written in batches: lines logged in the same turn of the event loop go out
 * in one write, so a busy proxy does not pay a system call per flow. Whatever is pending
 * is written synchronously when the process exits. With a status line, lines go above it.
 */
export class BatchedStderr implements LogSink {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly status?: StatusLine) {
    process.on('exit', () => this.flush());
  }

  write(lines: string): void {
    this.pending.push(lines);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    if (this.status) return this.status.print(text);
    try {
      writeSync(2, text);
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

/** `message key=value …`, quoting values with spaces, quotes or `=`. */
function withFields(message: string, fields: LogFields | undefined): string {
  let line = message;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const text = String(value);
      line += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
    }
  }
  return line;
}

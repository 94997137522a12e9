/**
 * Why a dial failed, in the terms inbound protocols reply with
 * (SOCKS5 REP codes, HTTP 502/504/403).
 */
export type DialFailure =
  | 'general'
  | 'blocked'
  | 'network-unreachable'
  | 'host-unreachable'
  | 'refused'
  | 'timeout'
  | 'dropped'
  | 'invalid-destination';

/**
 * Base of every error sluice raises on purpose, in undici's style: `code` is stable (match on
 * it, not on the message), `name` is the class's. Node's own errors keep their errno codes.
 */
export class SluiceError extends Error {
  /** Stable identifier, `SLUICE_…`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The failures an inbound answers with its protocol's error reply (a dropped flow gets no reply, only a close). */
export type RepliedFailure = Exclude<DialFailure, 'dropped'>;

/** An outbound could not connect; `failure` tells the inbound what to reply. */
export class DialError extends SluiceError {
  /** Category the inbound maps to its protocol's reply code. */
  readonly failure: DialFailure;

  constructor(failure: DialFailure, message: string, options?: { cause?: unknown }) {
    super('SLUICE_DIAL_FAILED', message, options);
    this.failure = failure;
  }
}

const failureByErrno: Record<string, DialFailure> = {
  ECONNREFUSED: 'refused',
  ENETUNREACH: 'network-unreachable',
  EHOSTUNREACH: 'host-unreachable',
  EHOSTDOWN: 'host-unreachable',
  ENOTFOUND: 'host-unreachable',
  EAI_AGAIN: 'host-unreachable',
  EAI_NONAME: 'host-unreachable',
  EAI_NODATA: 'host-unreachable',
  ETIMEDOUT: 'timeout',
  EADDRNOTAVAIL: 'network-unreachable',
};

/** Wraps any error thrown while dialing into a DialError with the matching failure. */
export function toDialError(error: unknown): DialError {
  if (error instanceof DialError) return error;
  const errno = errnoOf(error);
  if (errno === undefined && error instanceof AggregateError && error.errors.length > 0) {
    return toDialError(error.errors[error.errors.length - 1]);
  }
  const failure = (errno && failureByErrno[errno]) || 'general';
  const message = error instanceof Error ? error.message : String(error);
  return new DialError(failure, message, { cause: error });
}

/** The `code` of a Node system error, if any (a SluiceError's code is not an errno). */
export function errnoOf(error: unknown): string | undefined {
  if (error instanceof SluiceError) return undefined;
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Error messages for logs: the message, with the errno in front when it adds information. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const errno = errnoOf(error);
    return errno && !error.message.includes(errno) ? `${errno} ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Runs `work` with stack traces off, for parsers that may throw or collect many errors read
 * only for their messages (a hostile file of 100k bad lines spent most of its time capturing stacks).
 */
export function withoutStackTraces<T>(work: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return work();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Follows the responses coming back on one origin connection (RFC 9112 §6.3), byte by byte as
 * they are relayed, so the proxy knows when the answer to each request it sent has ended: it
 * may then switch a keep-alive client to another origin without cutting a pipelined response,
 * and time the client's idleness between requests. Nothing is copied or changed.
 */

/** Where the tracker is in the response stream. */
type State =
  | { kind: 'head'; head: Buffer[]; size: number }
  | { kind: 'length'; left: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'trailer' }
  | { kind: 'opaque' };

/** Longest response head or trailer line followed; a longer one makes the connection opaque. */
const maxHeadBytes = 64 * 1024;
/** Longest chunk-size line followed. */
const maxSizeLine = 1024;

/** The responses of one origin connection, against the requests sent on it. */
export class ResponseTracker {
  private readonly methods: string[] = [];
  private state: State = { kind: 'head', head: [], size: 0 };
  private idleWaiters: (() => void)[] = [];
  /** The chunk-size or trailer line read so far. */
  private line = '';

  /** Requests sent whose responses have not ended yet. */
  get pending(): number {
    return this.methods.length;
  }

  /** True once the stream can no longer be followed (101, a body that ends with the connection, garbage): it ends when the origin closes. */
  get opaque(): boolean {
    return this.state.kind === 'opaque';
  }

  /** True while some bytes of a response went to the client and it has not ended. */
  get midResponse(): boolean {
    const s = this.state;
    return s.kind === 'opaque' ? this.methods.length > 0 : s.kind !== 'head' || s.size > 0;
  }

  /** Records a request sent with `method`; its response is expected after the earlier ones. */
  sent(method: string): void {
    this.methods.push(method);
  }

  /** Resolves when every response has ended (at once when none is pending). */
  idle(): Promise<void> {
    if (this.methods.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Follows relayed response bytes. */
  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const s = this.state;
      switch (s.kind) {
        case 'opaque':
          return;
        case 'head':
          at = this.feedHead(s, chunk, at);
          break;
        case 'length': {
          const n = Math.min(s.left, chunk.length - at);
          s.left -= n;
          at += n;
          if (s.left === 0) this.complete();
          break;
        }
        case 'chunk-data': {
          const n = Math.min(s.left, chunk.length - at);
          s.left -= n;
          at += n;
          if (s.left === 0) this.state = { kind: 'chunk-size' };
          break;
        }
        case 'chunk-size':
        case 'trailer':
          at = this.feedLine(s.kind, chunk, at);
          break;
      }
    }
  }

  /** The origin closed: a body delimited by the close has ended; everything else never will. */
  closed(): void {
    this.methods.length = 0;
    this.state = { kind: 'opaque' };
    this.wakeIdle();
  }

  private feedHead(s: { head: Buffer[]; size: number }, chunk: Buffer, at: number): number {
    const rest = chunk.subarray(at);
    s.head.push(rest);
    s.size += rest.length;
    const head = Buffer.concat(s.head);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (s.size > maxHeadBytes) this.state = { kind: 'opaque' };
      else s.head = [head];
      return chunk.length;
    }
    const used = end + 4 - (s.size - rest.length);
    this.begin(head.toString('latin1', 0, end));
    return at + used;
  }

  /** Collects a chunk-size or trailer line up to its LF; a size line then gives the chunk's length. */
  private feedLine(kind: 'chunk-size' | 'trailer', chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(0x0a, at);
    const end = lf < 0 ? chunk.length : lf;
    if (this.line.length + end - at > (kind === 'trailer' ? maxHeadBytes : maxSizeLine)) {
      this.state = { kind: 'opaque' };
      return chunk.length;
    }
    this.line += chunk.toString('latin1', at, end);
    if (lf < 0) return chunk.length;
    const line = this.line.replace(/\r$/, '');
    this.line = '';
    if (kind === 'trailer') {
      if (line === '') this.complete();
      return lf + 1;
    }
    const size = /^[0-9a-fA-F]{1,12}/.exec(line.trim())?.[0];
    if (size === undefined) this.state = { kind: 'opaque' };
    else if (parseInt(size, 16) === 0) this.state = { kind: 'trailer' };
    else this.state = { kind: 'chunk-data', left: parseInt(size, 16) + 2 };
    return lf + 1;
  }

  /** Starts following the response whose head is `text`. */
  private begin(text: string): void {
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
    const method = this.methods[0];
    if (!status || method === undefined) return void (this.state = { kind: 'opaque' });
    if (status === 101) return void (this.state = { kind: 'opaque' });
    if (status < 200) return void (this.state = { kind: 'head', head: [], size: 0 });
    if (method === 'HEAD' || status === 204 || status === 304) return this.complete();
    const fields = text.split('\r\n').slice(1);
    const value = (name: string): string[] =>
      fields.filter((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase() === name).map((line) => line.slice(line.indexOf(':') + 1).trim());
    if (/(^|,)\s*chunked\s*$/i.test(value('transfer-encoding').join(','))) return void (this.state = { kind: 'chunk-size' });
    const length = value('content-length');
    if (length.length > 0 && /^\d{1,15}$/.test(length[0]!) && length.every((l) => l === length[0])) {
      const left = Number(length[0]);
      return left === 0 ? this.complete() : void (this.state = { kind: 'length', left });
    }
    this.state = { kind: 'opaque' };
  }

  private complete(): void {
    this.methods.shift();
    this.state = { kind: 'head', head: [], size: 0 };
    if (this.methods.length === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

import type { Bind, Clock, Endpoint } from '../../src/protocol/pqtunnel/engine/seams.js';

/** A clock tests move by hand; `every` callbacks run as time passes. */
export class FakeClock implements Clock {
  private time = 0;
  private wall = 1_800_000_000_000;
  private readonly tickers = new Set<{ ms: number; next: number; tick: () => void }>();

  now(): number {
    return this.time;
  }

  wallMs(): number {
    return this.wall + this.time;
  }

  every(ms: number, tick: () => void): () => void {
    const entry = { ms, next: this.time + ms, tick };
    this.tickers.add(entry);
    return () => this.tickers.delete(entry);
  }

  /** Moves time forward, running due ticks in order; `between` runs after each step (deliver packets). */
  advance(ms: number, between: () => void = () => {}): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.tickers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.time = due.next;
      due.next += due.ms;
      due.tick();
      between();
    }
    this.time = end;
  }
}

/** How the fake network mistreats datagrams. */
export interface Impairment {
  /** Probability a datagram is lost. */
  drop?: number;
  /** Probability a datagram is delivered twice. */
  duplicate?: number;
  /** Shuffle each batch before delivery. */
  reorder?: boolean;
  /** Probability a datagram is held back to the end of its batch (partial reordering). */
  delay?: number;
}

/** An in-memory UDP network: binds by address, a queue delivered on `flush`, optional loss/dup/reorder. */
export class FakeNetwork {
  private readonly handlers = new Map<string, (datagram: Buffer, from: Endpoint) => void>();
  private queue: { datagram: Buffer; from: Endpoint; to: Endpoint }[] = [];
  /** Every datagram sent, for inspection. */
  readonly sent: { datagram: Buffer; from: Endpoint; to: Endpoint }[] = [];
  /** Every datagram handed to a receiver (after loss; duplicates twice). */
  readonly delivered: { datagram: Buffer; from: Endpoint; to: Endpoint }[] = [];
  impairment: Impairment = {};
  private seed = 12345;

  /** A Bind at `self`; `self` may be changed later to simulate roaming. */
  bind(self: Endpoint): Bind & { self: Endpoint } {
    const key = (): string => `${binding.self.host}:${binding.self.port}`;
    const binding = {
      self,
      send: (datagram: Buffer, to: Endpoint) => {
        const entry = { datagram: Buffer.from(datagram), from: { ...binding.self }, to };
        this.sent.push(entry);
        this.queue.push(entry);
      },
      onReceive: (handler: (datagram: Buffer, from: Endpoint) => void) => {
        binding.handler = handler;
      },
      close: () => {},
      handler: undefined as ((datagram: Buffer, from: Endpoint) => void) | undefined,
    };
    this.handlers.set(`${self.host}:${self.port}`, (d, f) => binding.handler?.(d, f));
    Object.defineProperty(binding, 'key', { get: key });
    return binding;
  }

  /** Moves a bind to a new address (NAT rebinding, Wi-Fi → LTE). */
  rebind(binding: Bind & { self: Endpoint }, to: Endpoint): void {
    const handler = this.handlers.get(`${binding.self.host}:${binding.self.port}`)!;
    this.handlers.delete(`${binding.self.host}:${binding.self.port}`);
    binding.self.host = to.host;
    binding.self.port = to.port;
    this.handlers.set(`${to.host}:${to.port}`, handler);
  }

  /** Injects a datagram as if `from` sent it. */
  inject(datagram: Buffer, from: Endpoint, to: Endpoint): void {
    this.queue.push({ datagram, from, to });
  }

  /** Delivers everything queued (and whatever that provokes), applying the impairment. */
  flush(): void {
    for (let round = 0; round < 50 && this.queue.length > 0; round++) {
      let batch = this.queue;
      this.queue = [];
      if (this.impairment.reorder) batch = batch.sort(() => this.random() - 0.5);
      if (this.impairment.delay) {
        const held = batch.filter(() => this.random() < this.impairment.delay!);
        batch = [...batch.filter((entry) => !held.includes(entry)), ...held];
      }
      for (const entry of batch) {
        if (this.random() < (this.impairment.drop ?? 0)) continue;
        const copies = this.random() < (this.impairment.duplicate ?? 0) ? 2 : 1;
        for (let i = 0; i < copies; i++) {
          this.delivered.push(entry);
          this.handlers.get(`${entry.to.host}:${entry.to.port}`)?.(entry.datagram, entry.from);
        }
      }
    }
  }

  private random(): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    return this.seed / 2 ** 31;
  }
}

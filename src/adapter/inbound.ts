import type { AddressInfo } from 'node:net';

/** A listening protocol endpoint (SOCKS5, HTTP, mixed…). */
export interface Inbound {
  /** Listener name used by IN-NAME rules and logs. */
  readonly name: string;
  /** Listener type from the config (`socks`, `http`, `mixed`). */
  readonly type: string;
  /** Binds and starts accepting; rejects if the port cannot be opened. */
  start(): Promise<void>;
  /** Stops accepting new clients; flows already open continue until the dispatcher ends them. */
  close(): Promise<void>;
  /** The bound address (useful with port 0). */
  address(): AddressInfo;
}

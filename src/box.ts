import type { LookupAddress } from 'node:dns';
import type { Inbound } from './adapter/inbound.js';
import type { Outbound } from './adapter/outbound.js';
import { DnsCache } from './common/dns-cache.js';
import { describeError } from './common/errors.js';
import type { Logger } from './common/log.js';
import type { LoadedConfig } from './config/load.js';
import type { ListenerType } from './config/types.js';
import { Dispatcher } from './dispatcher.js';
import { RejectDropOutbound, RejectOutbound } from './protocol/block/outbound.js';
import { DirectOutbound } from './protocol/direct/outbound.js';
import { handleHttp } from './protocol/http/inbound.js';
import { TcpListener, type ConnectionHandler } from './protocol/listener.js';
import { handleMixed } from './protocol/mixed/inbound.js';
import { handleSocks } from './protocol/socks/inbound.js';
import { RuleRouter } from './route/router.js';
import { vmessListenerHandler, vmessOutbound } from './protocol/vmess/config.js';

const handlers: Record<Exclude<ListenerType, 'vmess'>, ConnectionHandler> = { socks: handleSocks, http: handleHttp, mixed: handleMixed };

/** Replaceable OS-facing parts, for tests. */
export interface BoxSeams {
  /** Name resolution instead of the system's getaddrinfo. */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

/** One running sluice: outbounds, router, dispatcher and listeners built from a config. */
export class Box {
  /** Owns every flow. */
  readonly dispatcher: Dispatcher;
  /** Listeners, in config order. */
  readonly inbounds: Inbound[];
  /** Outbounds by name (built-ins and `proxies:`). */
  readonly outbounds: ReadonlyMap<string, Outbound>;
  /** The rule router. */
  readonly router: RuleRouter;

  constructor(
    readonly config: LoadedConfig,
    private readonly logger: Logger,
    seams: BoxSeams = {},
  ) {
    const { timeouts } = config;
    const dns = new DnsCache({ ttlMs: timeouts.dnsCacheMs, maxEntries: 4096, timeoutMs: timeouts.dnsMs, resolve: seams.resolve });
    const outbounds = new Map<string, Outbound>();
    const add = (outbound: Outbound): void => void outbounds.set(outbound.name, outbound);
    add(new DirectOutbound('DIRECT', dns, timeouts.connectMs));
    add(new RejectOutbound());
    add(new RejectDropOutbound(timeouts.rejectDropMs));
    for (const proxy of config.proxies) {
      add(proxy.type === 'direct' ? new DirectOutbound(proxy.name, dns, timeouts.connectMs) : vmessOutbound(proxy, dns, timeouts.connectMs));
    }
    this.outbounds = outbounds;

    const resolve = (host: string): Promise<string | undefined> =>
      dns.resolveAll(host).then((all) => all[0]?.address, () => undefined);
    this.router = new RuleRouter(config.rules, resolve, config.mode, config.proxies[0]?.name ?? 'DIRECT');
    this.dispatcher = new Dispatcher(this.router, outbounds, logger, timeouts);
    this.inbounds = config.listeners.map(
      (listener) =>
        new TcpListener(
          {
            ...listener,
            dispatcher: this.dispatcher,
            logger,
            handshakeTimeoutMs: timeouts.handshakeMs,
          },
          listener.type === 'vmess' ? vmessListenerHandler(listener.vmessUsers ?? []) : handlers[listener.type],
        ),
    );
  }

  /** Opens every listener; if one fails, closes those already open and rethrows. */
  async start(): Promise<void> {
    const started: Inbound[] = [];
    for (const inbound of this.inbounds) {
      try {
        await inbound.start();
      } catch (error) {
        await Promise.all(started.map((s) => s.close()));
        throw new Error(`listener ${inbound.name}: ${describeError(error)}`, { cause: error });
      }
      started.push(inbound);
      const { address, port } = inbound.address();
      this.logger.info(`listening ${inbound.type} ${inbound.name} on ${address}:${port}`);
    }
  }

  /** Stops accepting, gives open flows `graceMs` to finish, then ends the rest. */
  async close(graceMs = this.config.timeouts.shutdownGraceMs): Promise<void> {
    await Promise.all(this.inbounds.map((inbound) => inbound.close()));
    await this.dispatcher.drain(graceMs);
    await Promise.all([...this.outbounds.values()].map((outbound) => outbound.close?.()));
  }
}

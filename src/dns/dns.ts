/**
 * The DNS module of a running sluice (`dns:` with `enable: true`): the resolver, the fake-ip
 * pool, the handler and the server, kept across reloads where the settings allow (the pool
 * keeps its pairs while `fake-ip-range` stays; the server keeps its sockets while `listen` stays).
 */
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { DnsSettings } from '../config/dns.js';
import { IpRangeSet, parsePrefix } from '../route/match/ip-set.js';
import { FakeIpPool, type FakeIpSnapshot } from './fake-ip.js';
import type { AddressName, AddressNames } from './flow-names.js';
import { DnsHandler } from './handler.js';
import { Resolver } from './resolver.js';
import { DnsServer } from './server.js';
import type { StreamOpener, Upstream } from './exchange.js';
import { innerFlow } from '../adapter/flow.js';
import type { Outbound } from '../adapter/outbound.js';
import { parseNameserver } from './upstream.js';
import { UdpChannels } from './udp-channel.js';

/** What the DNS module takes from the running config besides its settings. */
export interface DnsContext {
  /** Where `fakeip.json` lives when the config asks to keep it. */
  home: string;
  /** The country of an address (fallback-filter geoip), lower case; '' when unknown. */
  country?: (ip: string) => string;
  /** The outbound a `#proxy` suffix names. */
  outbound?: (name: string) => Outbound | undefined;
}

/** How long after a change the fake-ip table is written (`profile.store-fake-ip`). */
const saveDelayMs = 5000;

/** The running DNS module; `apply` starts it, changes it on reload, or stops it (settings undefined). */
export class DnsModule implements AddressNames {
  private settings: DnsSettings | undefined;
  private resolver: Resolver | undefined;
  /** The UDP sockets its UDP servers share. */
  private readonly udp = new UdpChannels();
  /** Resolves the DNS servers' own host names (`default-nameserver`); getaddrinfo without it. */
  private bootstrapResolver: Resolver | undefined;
  private handler: DnsHandler | undefined;
  private pool: FakeIpPool | undefined;
  private server: DnsServer | undefined;
  private storeFile: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    /** The lookup timeout (`timeouts.dns`). */
    private readonly timeoutMs: number,
  ) {}

  /** Applies the settings of a (re)loaded config. */
  async apply(settings: DnsSettings | undefined, context: DnsContext): Promise<void> {
    const { home, country = () => '', outbound = () => undefined } = context;
    const previous = this.settings;
    this.settings = settings;
    if (!settings) return this.close();
    await Promise.all([this.resolver?.close(), this.bootstrapResolver?.close()]);
    this.bootstrapResolver = settings.defaultNameservers.length > 0 ? new Resolver({ nameservers: settings.defaultNameservers.map((entry) => parseNameserver(entry, { udp: this.udp }) as Upstream), policies: [], timeoutMs: this.timeoutMs }) : undefined;
    const bootstrap = (host: string): Promise<string> => this.bootstrap(host, settings);
    const through = (name: string): StreamOpener | undefined => {
      const carrier = outbound(name);
      if (!carrier) {
        this.logger.warn(`dns: no proxy or group named '${name}' (a #${name} suffix): that server is reached directly`);
        return undefined;
      }
      // DIRECT dials addresses: the server's name is resolved by the bootstrap, never by the servers it names.
      const direct = carrier.type === 'Direct' || carrier.type === 'Compatible';
      return async (host, port, signal) => carrier.dial(innerFlow(direct ? await bootstrap(host) : host, port, signal));
    };
    const upstreams = (entries: readonly string[]): Upstream[] => entries.map((entry) => parseNameserver(entry, { bootstrap, through, udp: this.udp }) as Upstream);
    this.resolver = new Resolver({
      nameservers: upstreams(settings.nameservers),
      policies: settings.policies.map(({ names, servers }) => ({ names, servers: upstreams(servers) })),
      timeoutMs: this.timeoutMs,
      fallback: {
        servers: upstreams(settings.fallback.servers),
        domains: settings.fallback.domains,
        ipcidr: IpRangeSet.of(settings.fallback.ipcidr.map((prefix) => parsePrefix(prefix))),
        geoip: settings.fallback.geoip ? { code: settings.fallback.geoipCode, country } : undefined,
      },
    });
    if (settings.mode !== 'fake-ip') this.pool = undefined;
    else if (this.pool?.range !== settings.fakeIpRange) this.pool = new FakeIpPool(settings.fakeIpRange);
    this.storeFile = settings.storeFakeIp && this.pool ? join(home, 'fakeip.json') : undefined;
    if (this.storeFile && previous === undefined) await this.restore(this.storeFile);
    this.handler = new DnsHandler(this.resolver, {
      mode: settings.mode,
      pool: this.pool,
      filter: settings.filter,
      ipv6: settings.ipv6,
      fakeTtl: settings.fakeTtl,
      onAllocate: () => this.scheduleSave(),
      ...(settings.hosts ? { hosts: settings.hosts } : {}),
    });
    const listenChanged = JSON.stringify(previous?.listen) !== JSON.stringify(settings.listen);
    if (listenChanged || !this.server) {
      await this.server?.close();
      this.server = undefined;
      if (settings.listen) {
        const server = new DnsServer(() => this.handler!, this.logger);
        await server.listen(settings.listen.host, settings.listen.port);
        this.server = server;
      }
    }
  }

  /** The main resolver's addresses for `host` (internal lookups: never fake); undefined when DNS is off. */
  lookup(host: string, ipv6: boolean): Promise<LookupAddress[]> | undefined {
    return this.resolver?.lookup(host, ipv6);
  }

  /** The name behind an address answered by this server: a fake one, a remembered real one, or `missing` for an unallocated fake one. */
  nameOf(ip: string): AddressName {
    if (this.pool?.owns(ip)) {
      const name = this.pool.reverse(ip);
      return name === undefined ? 'missing' : { name, fake: true };
    }
    const name = this.handler?.nameOf(ip);
    return name === undefined ? undefined : { name, fake: false };
  }

  /** `POST /cache/fakeip/flush`. */
  flushFakeIps(): void {
    this.pool?.flush();
    this.scheduleSave();
  }

  /** `POST /cache/dns/flush`. */
  flushCache(): void {
    this.resolver?.flush();
  }

  /** The main resolver, for `GET /dns/query`; undefined when DNS is off. */
  get mainResolver(): Resolver | undefined {
    return this.resolver;
  }

  /** Stops the server and writes the fake-ip table one last time. */
  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
    if (this.saveTimer) await this.save();
    await Promise.all([this.resolver?.close(), this.bootstrapResolver?.close()]);
    this.resolver = undefined;
    this.bootstrapResolver = undefined;
    this.udp.close();
    this.handler = undefined;
  }

  /** A DNS server's address: from hosts:, else default-nameserver (an IPv4 address first), else getaddrinfo. */
  private async bootstrap(host: string, settings: DnsSettings): Promise<string> {
    const mapped = settings.hosts?.follow(host);
    if (mapped && 'addresses' in mapped && mapped.addresses.length > 0) return mapped.addresses[0]!;
    const name = mapped && 'alias' in mapped ? mapped.alias : host;
    const found = this.bootstrapResolver ? await this.bootstrapResolver.lookup(name, true) : await lookup(name, { all: true });
    const chosen = found.find((a) => a.family === 4) ?? found[0];
    if (!chosen) throw new Error(`${host}: no address for this DNS server`);
    return chosen.address;
  }

  private scheduleSave(): void {
    if (!this.storeFile || this.saveTimer) return;
    this.saveTimer = setTimeout(() => void this.save(), saveDelayMs);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.storeFile || !this.pool) return;
    const temp = `${this.storeFile}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(this.pool.snapshot()));
      await rename(temp, this.storeFile);
    } catch (error) {
      this.logger.warn(`profile.store-fake-ip: cannot write ${this.storeFile}: ${(error as Error).message}`);
    }
  }

  private async restore(file: string): Promise<void> {
    let saved: FakeIpSnapshot;
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as FakeIpSnapshot;
    } catch {
      return; // none yet, or unreadable: start empty
    }
    if (!this.pool?.restore(saved)) this.logger.info(`profile.store-fake-ip: ${file} is for another fake-ip-range, starting empty`);
  }
}

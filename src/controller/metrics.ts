import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { Control } from './control.js';
import type { FlowEvent, HandshakeEvent, TunnelEvent } from '../common/bus.js';
import type { TunnelCounters } from '../protocol/pqtunnel/engine/seams.js';

/**
 * Prometheus metrics of one running sluice (served as GET /metrics): flows by inbound and outbound,
 * bytes, rule hits, flow errors, handshakes, tunnels, rule providers, DNS, and Node's process
 * metrics. Event counters follow the bus; gauges and engine counters are read at scrape time.
 */
export class Metrics {
  /** The registry /metrics serialises. */
  readonly registry = new Registry();
  private readonly subscription: Subscription;

  constructor(box: Control) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    const flows = new Counter({ name: 'sluice_flows_total', help: 'Flows closed, by inbound, network, target and the outbound that carried them', labelNames: ['inbound', 'network', 'target', 'outbound'], registers });
    const errors = new Counter({ name: 'sluice_flow_errors_total', help: 'Flows that ended with an error (dial failure, reset, timeout), by outbound', labelNames: ['outbound'], registers });
    const hits = new Counter({ name: 'sluice_rule_hits_total', help: 'Flows routed by each rule ("none": no rule matched)', labelNames: ['rule'], registers });
    const bytes = new Counter({ name: 'sluice_flow_bytes_total', help: 'Bytes of closed flows, by direction and outbound', labelNames: ['direction', 'outbound'], registers });
    new Gauge({
      name: 'sluice_flows_active', help: 'Open flows, by inbound and the outbound carrying them ("none" while not routed yet)', labelNames: ['inbound', 'outbound'], registers,
      collect() {
        this.reset();
        for (const flow of box.dispatcher.active()) this.inc({ inbound: flow.inbound.name, outbound: flow.decision?.chains[0] ?? 'none' });
      },
    });
    new Gauge({
      name: 'sluice_transferred_bytes', help: 'Bytes moved since start, open flows included, by direction', labelNames: ['direction'], registers,
      collect() {
        const totals = box.dispatcher.totals();
        this.set({ direction: 'up' }, totals.up);
        this.set({ direction: 'down' }, totals.down);
      },
    });
    new Counter({
      name: 'sluice_rule_provider_refresh_failures_total', help: 'Rule-provider downloads that failed (the last good copy stays in use)', labelNames: ['provider'], registers,
      collect() {
        this.reset();
        for (const p of box.config.providers) this.inc({ provider: p.name }, p.failures);
      },
    });
    new Counter({
      name: 'sluice_dns_queries_total', help: 'Lookups sent to the resolver (DNS cache misses), by result', labelNames: ['result'], registers,
      collect() {
        this.reset();
        const { queries, failures } = box.dns.counts;
        this.inc({ result: 'ok' }, queries - failures);
        this.inc({ result: 'failed' }, failures);
      },
    });
    new Gauge({
      name: 'sluice_rule_provider_entries', help: 'Entries loaded per rule provider', labelNames: ['provider'], registers,
      collect() {
        for (const p of box.config.providers) this.set({ provider: p.name }, p.count);
      },
    });
    new Gauge({
      name: 'sluice_rule_provider_updated_timestamp_seconds', help: 'When each rule provider last loaded or refreshed', labelNames: ['provider'], registers,
      collect() {
        for (const p of box.config.providers) if (p.updatedAt) this.set({ provider: p.name }, p.updatedAt.getTime() / 1000);
      },
    });
    const handshakes = new Counter({ name: 'sluice_handshakes_total', help: 'Handshakes by listener or proxy, protocol, our role (server: we answered; client: we started) and result (ok, failed)', labelNames: ['name', 'protocol', 'role', 'result'], registers });
    const handshakeSeconds = new Histogram({
      name: 'sluice_handshake_duration_seconds', help: 'Successful handshakes: accept to done on listeners; initiation to response on a tunnel client; work per initiation on a gateway', labelNames: ['protocol', 'role'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
    const tunnelChanges = new Counter({ name: 'sluice_tunnel_events_total', help: 'Tunnel sessions replaced by a fresh one (rekey) and client tunnels going up or down', labelNames: ['name', 'role', 'event'], registers });
    this.tunnelMetrics(box, registers);
    this.subscription = box.bus.handshakes.subscribe((event: HandshakeEvent) => {
      handshakes.inc({ name: event.name, protocol: event.protocol, role: event.role, result: event.ok ? 'ok' : 'failed' });
      if (event.ok) handshakeSeconds.observe({ protocol: event.protocol, role: event.role }, event.ms / 1000);
    });
    this.subscription.add(box.bus.tunnels.subscribe((event: TunnelEvent) => tunnelChanges.inc({ name: event.name, role: event.role, event: event.kind })));
    this.subscription.add(box.bus.flows.subscribe((event: FlowEvent) => {
      const { flow } = event;
      if (event.kind === 'routed') return void hits.inc({ rule: flow.decision?.rule || 'none' });
      if (event.kind !== 'close') return;
      const outbound = flow.decision?.chains[0] ?? 'none';
      flows.inc({ inbound: flow.inbound.name, network: flow.network, target: flow.decision?.chains.at(-1) ?? 'none', outbound });
      bytes.inc({ direction: 'up', outbound }, flow.bytesUp);
      bytes.inc({ direction: 'down', outbound }, flow.bytesDown);
      if (event.error) errors.inc({ outbound });
    }));
  }

  /** Tunnel sessions, packets, bytes, handshakes and drops, read from the engines at scrape time. */
  private tunnelMetrics(box: Control, registers: Registry[]): void {
    new Gauge({
      name: 'sluice_tunnel_sessions', help: 'Tunnel sessions that can carry data now (a client has at most one)', labelNames: ['name', 'role'], registers,
      collect() {
        this.reset();
        for (const tunnel of box.tunnels) this.set({ name: tunnel.name, role: tunnel.role }, tunnel.sessions());
      },
    });
    const fromCounters = (name: string, help: string, labels: string[], read: (counters: TunnelCounters) => [Record<string, string>, number][]): void => {
      new Counter({
        name, help, labelNames: ['name', 'role', ...labels], registers,
        collect() {
          this.reset();
          for (const tunnel of box.tunnels) {
            const counters = tunnel.counters();
            if (!counters) continue;
            for (const [extra, value] of read(counters)) this.inc({ name: tunnel.name, role: tunnel.role, ...extra }, value);
          }
        },
      });
    };
    fromCounters('sluice_tunnel_packets_total', 'Authenticated tunnel data messages (keepalives included), by direction', ['direction'], (c) => [[{ direction: 'sent' }, c.packetsSent], [{ direction: 'received' }, c.packetsReceived]]);
    fromCounters('sluice_tunnel_bytes_total', 'UDP payload bytes of tunnel data messages, by direction', ['direction'], (c) => [[{ direction: 'sent' }, c.bytesSent], [{ direction: 'received' }, c.bytesReceived]]);
    fromCounters('sluice_tunnel_rejected_packets_total', 'Tunnel data messages dropped before decryption succeeded (unknown index, bad tag, replay, expired session)', [], (c) => [[{}, c.packetsRejected]]);
    fromCounters('sluice_tunnel_cookies_total', 'Cookie replies sent (gateway under load) or accepted (client)', [], (c) => [[{}, c.cookies]]);
    new Gauge({
      name: 'sluice_tunnel_tun_offload', help: 'Whether the tunnel\'s TUN device does TCP segmentation offload (1) or one packet per read and write (0)', labelNames: ['name', 'role'], registers,
      collect() {
        this.reset();
        for (const tunnel of box.tunnels) {
          const stats = tunnel.tunOffload();
          if (stats) this.set({ name: tunnel.name, role: tunnel.role }, stats.enabled ? 1 : 0);
        }
      },
    });
    new Counter({
      name: 'sluice_tunnel_tun_total', labelNames: ['name', 'role', 'counter'], registers,
      help: 'TUN device counters: TCP super-packets read and the segments cut from them, write system calls and the packets they carried (a merged super-packet counts each segment), packets dropped',
      collect() {
        this.reset();
        for (const tunnel of box.tunnels) {
          const stats = tunnel.tunOffload();
          if (!stats) continue;
          const labels = (counter: string): Record<string, string> => ({ name: tunnel.name, role: tunnel.role, counter });
          this.inc(labels('super_packets_read'), stats.superPacketsRead);
          this.inc(labels('segments_read'), stats.segmentsRead);
          this.inc(labels('writes'), stats.writes);
          this.inc(labels('packets_written'), stats.packetsWritten);
          this.inc(labels('dropped'), stats.dropped);
        }
      },
    });
    new Counter({
      name: 'sluice_tunnel_dropped_packets_total', help: 'Decrypted packets a gateway refused, by reason (spoofed source, denied destination, malformed, no client for the address)', labelNames: ['name', 'reason'], registers,
      collect() {
        this.reset();
        for (const tunnel of box.tunnels) for (const [reason, value] of Object.entries(tunnel.drops?.() ?? {})) this.inc({ name: tunnel.name, reason }, value);
      },
    });
  }

  /** The text exposition format and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** Stops following the dispatcher. */
  close(): void {
    this.subscription.unsubscribe();
  }
}

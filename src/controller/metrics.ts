import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { Box } from '../box.js';
import type { FlowEvent, HandshakeEvent } from '../dispatcher.js';

/**
 * Prometheus metrics of one Box (served as GET /metrics): flows by inbound and outbound,
 * bytes, rule hits, flow errors, rule providers, and Node's process metrics. Flow counters
 * follow the dispatcher's event stream; gauges are read at scrape time.
 */
export class Metrics {
  /** The registry /metrics serialises. */
  readonly registry = new Registry();
  private readonly subscription: Subscription;

  constructor(box: Box) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'sluice_' });
    const flows = new Counter({ name: 'sluice_flows_total', help: 'Flows closed, by inbound, network, target and the outbound that carried them', labelNames: ['inbound', 'network', 'target', 'outbound'], registers });
    const errors = new Counter({ name: 'sluice_flow_errors_total', help: 'Flows that ended with an error (dial failure, reset, timeout), by outbound', labelNames: ['outbound'], registers });
    const hits = new Counter({ name: 'sluice_rule_hits_total', help: 'Flows routed by each rule ("none": no rule matched)', labelNames: ['rule'], registers });
    const bytes = new Counter({ name: 'sluice_flow_bytes_total', help: 'Bytes of closed flows, by direction and outbound', labelNames: ['direction', 'outbound'], registers });
    new Gauge({
      name: 'sluice_flows_active', help: 'Open flows, by inbound', labelNames: ['inbound'], registers,
      collect() {
        this.reset();
        for (const flow of box.dispatcher.active()) this.inc({ inbound: flow.inbound.name });
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
    const handshakes = new Counter({ name: 'sluice_handshakes_total', help: 'Inbound handshakes by listener, protocol and result (ok, failed)', labelNames: ['inbound', 'protocol', 'result'], registers });
    const handshakeSeconds = new Histogram({
      name: 'sluice_handshake_duration_seconds', help: 'Time from accept to the end of a successful inbound handshake', labelNames: ['protocol'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
    this.subscription = box.dispatcher.handshakes.subscribe((event: HandshakeEvent) => {
      handshakes.inc({ inbound: event.inbound, protocol: event.protocol, result: event.ok ? 'ok' : 'failed' });
      if (event.ok) handshakeSeconds.observe({ protocol: event.protocol }, event.ms / 1000);
    });
    this.subscription.add(box.dispatcher.events.subscribe((event: FlowEvent) => {
      if (event.kind !== 'close') return;
      const { flow } = event;
      const outbound = flow.chains?.[0] ?? 'none';
      flows.inc({ inbound: flow.inbound.name, network: flow.network, target: flow.chains?.at(-1) ?? 'none', outbound });
      hits.inc({ rule: flow.rule || 'none' });
      bytes.inc({ direction: 'up', outbound }, flow.bytesUp);
      bytes.inc({ direction: 'down', outbound }, flow.bytesDown);
      if (event.error) errors.inc({ outbound });
    }));
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

import type { Subscription } from 'rxjs';
import type { EventBus, TrafficSample } from '../common/bus.js';
import type { LogEvent, LogLevel } from '../common/log.js';
import type { Dispatcher } from '../dispatcher.js';
import { connectionView, type Json } from './views.js';

/** Where a stream writes: a WebSocket or a chunked HTTP response, one JSON document per message. */
export interface StreamSink {
  /** Sends one document; false when the consumer is too slow and the document was dropped. */
  send(document: Json): boolean;
  /** Registers cleanup for when the consumer goes away. */
  onClose(stop: () => void): void;
}

/** Every second: bytes moved during the last second, and totals (the bus's shared sample). */
export function streamTraffic(bus: EventBus, sink: StreamSink): void {
  const subscription = bus.traffic.subscribe((sample: TrafficSample) => sink.send({ ...sample }));
  sink.onClose(() => subscription.unsubscribe());
}

/** At once `inuse: 0` (charts start at zero), then the RSS every second. */
export function streamMemory(sink: StreamSink): void {
  sink.send({ inuse: 0, oslimit: 0 });
  const timer = setInterval(() => sink.send({ inuse: process.memoryUsage().rss, oslimit: 0 }), 1000);
  sink.onClose(() => clearInterval(timer));
}

/** GET /connections as one document. */
export function connectionsSnapshot(dispatcher: Dispatcher): Json {
  const totals = dispatcher.totals();
  return {
    downloadTotal: totals.down,
    uploadTotal: totals.up,
    connections: dispatcher.active().map(connectionView),
    memory: process.memoryUsage().rss,
  };
}

/** A snapshot at once, then every `intervalMs`. */
export function streamConnections(dispatcher: Dispatcher, sink: StreamSink, intervalMs: number): void {
  sink.send(connectionsSnapshot(dispatcher));
  const timer = setInterval(() => sink.send(connectionsSnapshot(dispatcher)), intervalMs);
  sink.onClose(() => clearInterval(timer));
}

const order: Record<Exclude<LogLevel, 'silent'>, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/**
 * Live log records at or above `level` (none for `silent`). A consumer that cannot keep up
 * loses records (the sink drops them) instead of growing memory.
 */
export function streamLogs(bus: EventBus, level: LogLevel, structured: boolean, sink: StreamSink): void {
  if (level === 'silent') return;
  const subscription: Subscription = bus.logs.subscribe((event: LogEvent) => {
    if (order[event.level] < order[level]) return;
    if (!structured) return void sink.send({ type: event.level, payload: event.text });
    const time = event.time.toTimeString().slice(0, 8);
    sink.send({ time, level: event.level === 'warning' ? 'warn' : event.level, message: event.text, fields: [] });
  });
  sink.onClose(() => subscription.unsubscribe());
}

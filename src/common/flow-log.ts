import type { Subscription } from 'rxjs';
import type { Flow } from '../adapter/flow.js';
import { formatAddress } from './address.js';
import type { EventBus } from './bus.js';
import { describeError } from './errors.js';
import type { Logger } from './log.js';

/**
 * Writes one line per closed flow: info, or a warning when it failed before moving a byte.
 * Subscribes to the bus like every other consumer.
 */
export function logFlows(bus: EventBus, logger: Logger): Subscription {
  return bus.flows.subscribe((event) => {
    if (event.kind === 'close') logClosed(logger, event.flow, event.error);
  });
}

function logClosed(logger: Logger, flow: Flow, error: Error | undefined): void {
  const level = error && flow.bytesUp + flow.bytesDown === 0 ? 'warning' : 'info';
  if (!logger.enabled(level)) return;
  const message =
    `[${flow.network.toUpperCase()}] ${formatAddress(flow.source)} --> ${formatAddress(flow.destination)}` +
    ` via ${flow.inbound.name}/${flow.inbound.type}` +
    ` match ${flow.decision?.rule || 'none'} using ${flow.decision?.chain ?? '-'}` +
    (flow.domain !== undefined && flow.domain !== flow.destination.host ? ` sniffed ${flow.domain}` : '');
  const fields = {
    id: flow.id,
    user: flow.user,
    ip: flow.ip !== flow.destination.host ? flow.ip : undefined,
    up: flow.bytesUp,
    down: flow.bytesDown,
    ms: Date.now() - flow.start,
    error: error ? describeError(error) : undefined,
  };
  if (level === 'warning') logger.warn(message, fields);
  else logger.info(message, fields);
}

import type { Flow } from '../../adapter/flow.js';
import { BaseRule } from './base.js';
import { parsePortList, portInRanges, type PortRange } from './ports.js';

/** Which port of the flow a port rule compares. */
export type PortSide = 'destination' | 'source' | 'inbound';

/** DST-PORT, SRC-PORT and IN-PORT: the port is in the list (`80/443/8000-8999`). */
export class PortRule extends BaseRule {
  private readonly ranges: PortRange[];

  constructor(type: string, payload: string, target: string, private readonly side: PortSide) {
    const ranges = parsePortList(payload);
    super(type, payload, target);
    this.ranges = ranges;
  }

  match(flow: Readonly<Flow>): boolean {
    const port = this.side === 'destination' ? flow.destination.port : this.side === 'source' ? flow.source.port : flow.inbound.port;
    return portInRanges(port, this.ranges);
  }
}

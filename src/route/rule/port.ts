import type { Flow } from '../../adapter/flow.js';
import { BaseRule } from './base.js';
import { parsePortList, portInRanges, type PortRange } from './ports.js';

/** DST-PORT: the destination port is in the list (`80/443/8000-8999`). */
export class DstPortRule extends BaseRule {
  private readonly ranges: PortRange[];

  constructor(type: string, payload: string, target: string) {
    const ranges = parsePortList(payload);
    super(type, payload, target);
    this.ranges = ranges;
  }

  match(flow: Readonly<Flow>): boolean {
    return portInRanges(flow.destination.port, this.ranges);
  }
}

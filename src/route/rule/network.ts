import type { Flow, Network } from '../../adapter/flow.js';
import { BaseRule } from './base.js';

/** NETWORK: `tcp` or `udp`. */
export class NetworkRule extends BaseRule {
  private readonly network: Network;

  constructor(type: string, payload: string, target: string) {
    const network = payload.toLowerCase();
    if (network !== 'tcp' && network !== 'udp') throw new Error(`NETWORK must be tcp or udp, got '${payload}'`);
    super(type, network, target);
    this.network = network;
  }

  match(flow: Readonly<Flow>): boolean {
    return flow.network === this.network;
  }
}

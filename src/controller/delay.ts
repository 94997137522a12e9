/** The delay test behind GET /proxies/:name/delay and the provider health checks of the API. */
import type { Outbound } from '../adapter/outbound.js';
import { measureDelay } from '../route/group/health-check.js';
import { parsePortList } from '../route/rule/ports.js';
import type { Control } from './control.js';
import { ApiError, bodyInvalid, type Reply } from './reply.js';

/** Runs the delay test of GET /proxies/:name/delay and records it. */
export async function delayTest(box: Control, outbound: Outbound, url: URL): Promise<Reply> {
  const timeout = Number(url.searchParams.get('timeout'));
  const testUrl = url.searchParams.get('url') ?? '';
  if (!Number.isInteger(timeout) || timeout <= 0 || timeout > 32767 || !/^https?:\/\//.test(testUrl)) throw bodyInvalid();
  const expected = url.searchParams.get('expected');
  let statuses;
  try {
    statuses = expected && expected !== '*' ? parsePortList(expected) : undefined;
  } catch {
    throw bodyInvalid();
  }
  const started = Date.now();
  try {
    const delay = Math.max(1, Math.round(await measureDelay(outbound, testUrl, timeout, statuses, box.config.unifiedDelay)));
    box.delays.record(outbound.name, testUrl, delay);
    return { status: 200, body: { delay } };
  } catch {
    box.delays.record(outbound.name, testUrl, 0);
    if (Date.now() - started >= timeout) throw new ApiError(504, 'Timeout');
    throw new ApiError(503, 'An error occurred in the delay test');
  }
}

import { isProxyGroup, type Outbound } from '../adapter/outbound.js';
import type { Control } from './control.js';
import { describeError } from '../common/errors.js';
import { logLevels, type LogLevel } from '../common/log.js';
import { connectionsSnapshot, streamConnections, streamLogs, streamMemory, streamTraffic, type StreamSink } from './streams.js';
import { proxyView, ruleProviderView, rulesView, type Json } from './views.js';
import { bodyInvalid, ApiError, noContent, notFound, parseJson, type Reply } from './reply.js';
import { delayTest } from './delay.js';
import { proxyProviderRequest } from './providers.js';
import { generalView, patchConfigs, reloadConfig } from './configs.js';
import { version } from '../version.js';
import { ConfigError } from '../config/errors.js';
import { addressesOf, rcodeOf } from '../dns/wire.js';

/** Every outbound and group, GLOBAL's order (config order) for groups. */
function allProxies(box: Control): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const outbound of box.outbounds.values()) out[outbound.name] = proxyView(outbound, box.delays);
  return out;
}

function outboundNamed(box: Control, name: string): Outbound {
  const outbound = box.outbounds.get(name);
  if (!outbound) throw notFound();
  return outbound;
}

/** `PUT /proxies/:` for `PUT /proxies/hk-01`: the request with its name parameters replaced by `:`. */
function routeKey(method: string, parts: string[]): string {
  const shape = parts.map((part, i) => {
    if (i === 1 && ['proxies', 'group', 'connections'].includes(parts[0]!)) return ':';
    if (i === 2 && parts[0] === 'providers') return ':';
    return part;
  });
  return `${method} /${shape.join('/')}`;
}

/** Answers one REST request. Throws ApiError for the error replies. */
export async function handleRequest(box: Control, method: string, url: URL, body: string | undefined): Promise<Reply> {
  let parts: string[];
  try {
    parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  } catch {
    throw bodyInvalid();
  }
  if (parts[0] === 'providers' && parts[1] === 'proxies') return proxyProviderRequest(box, method, parts.slice(2), url);
  switch (routeKey(method, parts)) {
    case 'GET /':
      return { status: 200, body: { hello: 'sluice' } };
    case 'GET /version':
      return { status: 200, body: { meta: true, version: `v${version}-sluice` } };
    case 'GET /configs':
      return { status: 200, body: generalView(box) };
    case 'PATCH /configs':
      return patchConfigs(box, parseJson(body));
    case 'PUT /configs':
      await reloadConfig(box, parseJson(body));
      return noContent;
    case 'GET /proxies':
      return { status: 200, body: { proxies: allProxies(box) } };
    case 'GET /proxies/:':
      return { status: 200, body: proxyView(outboundNamed(box, parts[1]!), box.delays) };
    case 'PUT /proxies/:': {
      const group = outboundNamed(box, parts[1]!);
      const { name } = parseJson(body);
      if (typeof name !== 'string') throw bodyInvalid();
      if (!isProxyGroup(group) || !group.select) throw new ApiError(400, 'Must be a Selector');
      if (!group.memberNames.includes(name)) throw new ApiError(400, 'Selector update error: proxy not exist');
      group.select(name);
      return noContent;
    }
    case 'DELETE /proxies/:': {
      const group = outboundNamed(box, parts[1]!);
      if (!isProxyGroup(group) || !group.unpin) throw bodyInvalid();
      group.unpin();
      return noContent;
    }
    case 'GET /proxies/:/delay':
      return delayTest(box, outboundNamed(box, parts[1]!), url);
    case 'GET /group':
      return { status: 200, body: { proxies: box.groups.map((g) => proxyView(g, box.delays)) } };
    case 'GET /group/:': {
      const group = box.groups.find((g) => g.name === parts[1]);
      if (!group) throw notFound();
      return { status: 200, body: proxyView(group, box.delays) };
    }
    case 'GET /group/:/delay':
      return groupDelay(box, parts[1]!, url);
    case 'GET /rules':
      return { status: 200, body: rulesView(box.router.list(), box.router.disabled, box.router.stats.counts()) };
    case 'PATCH /rules/disable': {
      const rules = box.router.list();
      const changes = Object.entries(parseJson(body));
      if (changes.some(([index, flag]) => typeof flag !== 'boolean' || !/^\d+$/.test(index) || Number(index) >= rules.length)) throw bodyInvalid();
      for (const [index, flag] of changes) {
        const rule = rules[Number(index)]!;
        if (flag) box.router.disabled.add(rule);
        else box.router.disabled.delete(rule);
      }
      return noContent;
    }
    case 'GET /dns/query':
      return dnsQuery(box, url);

    case 'GET /providers/rules':
      return { status: 200, body: { providers: Object.fromEntries(box.config.providers.map((p) => [p.name, ruleProviderView(p)])) } };
    case 'PUT /providers/rules/:': {
      const provider = box.config.providers.find((p) => p.name === parts[2]);
      if (!provider) throw notFound();
      try {
        await box.refreshProvider(provider);
      } catch (error) {
        throw new ApiError(503, describeError(error));
      }
      return noContent;
    }
    case 'GET /connections':
      return { status: 200, body: connectionsSnapshot(box.dispatcher) };
    case 'DELETE /connections':
      for (const flow of box.dispatcher.active()) box.dispatcher.abortFlow(flow.id, new Error('closed by the controller'));
      return noContent;
    case 'DELETE /connections/:':
      box.dispatcher.abortFlow(Number(parts[1]), new Error('closed by the controller'));
      return noContent;
    case 'POST /restart':
      try {
        await box.reloadFromFile();
      } catch (error) {
        throw new ApiError(error instanceof ConfigError ? 400 : 500, error instanceof ConfigError ? error.problems.join('; ') : describeError(error));
      }
      return { status: 200, body: { status: 'ok' } };
    case 'POST /cache/fakeip/flush':
      box.dnsModule.flushFakeIps();
      return noContent;
    case 'POST /cache/dns/flush':
      box.dns.clear();
      box.dnsModule.flushCache();
      return noContent;
    case 'POST /configs/geo':
      try {
        await box.updateGeodata();
      } catch (error) {
        throw new ApiError(500, describeError(error));
      }
      return noContent;
    case 'POST /upgrade':
    case 'POST /upgrade/ui':
      throw new ApiError(501, 'not supported');
    default:
      throw notFound();
  }
}


const queryTypes: Record<string, 4 | 6> = { A: 4, AAAA: 6 };

/** GET /dns/query?name=&type=A|AAAA through sluice's resolver and cache (the DNS module's when it runs), in mihomo's JSON answer shape. */
async function dnsQuery(box: Control, url: URL): Promise<Reply> {
  const name = url.searchParams.get('name') ?? '';
  const type = (url.searchParams.get('type') ?? 'A').toUpperCase();
  const family = queryTypes[type];
  if (!family) throw new ApiError(400, 'invalid query type');
  if (name === '') throw bodyInvalid();
  const fqdn = name.endsWith('.') ? name : `${name}.`;
  const question = [{ Name: fqdn, Qtype: family === 4 ? 1 : 28, Qclass: 1 }];
  let addresses: { address: string; family: number; ttl: number }[] = [];
  let status = 0;
  const resolver = box.dnsModule.mainResolver;
  try {
    if (resolver) {
      const message = await resolver.exchange({ name: fqdn.slice(0, -1), type: type as 'A' | 'AAAA', class: 'IN' });
      status = rcodeOf(message);
      addresses = addressesOf(message);
    } else {
      const ttl = Math.round(box.config.timeouts.dnsCacheMs / 1000);
      addresses = (await box.dns.resolveAll(name.replace(/\.$/, ''))).map((a) => ({ ...a, ttl }));
    }
  } catch (error) {
    if (resolver) throw new ApiError(500, (error as Error).message);
    status = 3;
  }
  const answer = addresses.filter((a) => a.family === family).map((a) => ({ name: fqdn, type: family === 4 ? 1 : 28, TTL: a.ttl, data: a.address }));
  const reply: Record<string, Json> = { Status: status, Question: question, TC: false, RD: true, RA: true, AD: false, CD: false };
  if (answer.length > 0) reply.Answer = answer;
  return { status: 200, body: reply };
}

async function groupDelay(box: Control, name: string, url: URL): Promise<Reply> {
  const group = box.groups.find((g) => g.name === name);
  if (!group) throw notFound();
  const members = group.memberOutbounds;
  group.unpin?.();
  const results: Record<string, Json> = {};
  await Promise.all(
    members.map(async (member) => {
      try {
        const reply = await delayTest(box, member, url);
        results[member.name] = (reply.body as { delay: number }).delay;
      } catch {
        // Failed members are left out of the map, as mihomo does.
      }
    }),
  );
  if (Object.keys(results).length === 0) throw new ApiError(504, 'get delay: all proxies timeout');
  return { status: 200, body: results };
}

/**
 * Checks a stream request (/traffic, /memory, /logs, /connections) and returns what starts it
 * on a WebSocket or chunked response. Throws ApiError before anything is sent when the query is invalid.
 */
export function streamStarter(box: Control, url: URL): (sink: StreamSink) => void {
  switch (url.pathname) {
    case '/traffic':
      return (sink) => streamTraffic(box.bus, sink);
    case '/memory':
      return (sink) => streamMemory(sink);
    case '/connections': {
      const interval = Number(url.searchParams.get('interval') ?? 1000);
      if (!Number.isInteger(interval) || interval < 10) throw bodyInvalid();
      return (sink) => streamConnections(box.dispatcher, sink, interval);
    }
    case '/logs': {
      const level = url.searchParams.get('level') ?? 'info';
      if (!(logLevels as readonly string[]).includes(level)) throw bodyInvalid();
      const structured = url.searchParams.get('format') === 'structured';
      return (sink) => streamLogs(box.bus, level as LogLevel, structured, sink);
    }
    default:
      throw notFound();
  }
}

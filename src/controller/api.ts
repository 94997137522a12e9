import type { Outbound } from '../adapter/outbound.js';
import type { Box } from '../box.js';
import { describeError } from '../common/errors.js';
import { logLevels, type LogLevel } from '../common/log.js';
import { measureDelay } from '../route/group/health-check.js';
import { AutoGroup } from '../route/group/url-test.js';
import { SelectGroup } from '../route/group/select.js';
import type { RouterMode } from '../route/router.js';
import { parsePortList } from '../route/rule/ports.js';
import { connectionsSnapshot, streamConnections, streamLogs, streamMemory, streamTraffic, type StreamSink } from './streams.js';
import { proxyView, ruleProviderView, rulesView, type Json } from './views.js';
import { version } from '../version.js';
import { isAbsolute } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { defaultListenAddress, isBindAddress, loadConfigFile, parseConfig, type LoadedConfig } from '../config/load.js';
import { openProxyWarnings, prefixList } from '../config/access.js';
import { redactedProblems } from '../config/redact.js';
import { defaultClientAccess } from '../common/client-access.js';
import { isInside } from '../common/bounded-file.js';

/** An answer: status and JSON body (none for 204). */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** JSON body; undefined for an empty response. */
  body?: Json;
}

/** An error the API answers with `{"message": …}`. */
export class HttpError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const notFound = (): HttpError => new HttpError(404, 'Resource not found');
const bodyInvalid = (): HttpError => new HttpError(400, 'Body invalid');
const noContent: Reply = { status: 204 };

function parseJson(body: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body || '{}');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Falls through to the error.
  }
  throw bodyInvalid();
}

/** Every outbound and group, GLOBAL's order (config order) for groups. */
function allProxies(box: Box): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const outbound of box.outbounds.values()) out[outbound.name] = proxyView(outbound, box.delays);
  return out;
}

function outboundNamed(box: Box, name: string): Outbound {
  const outbound = box.outbounds.get(name);
  if (!outbound) throw notFound();
  return outbound;
}

/** Runs the delay test of GET /proxies/:name/delay and records it. */
async function delayTest(box: Box, outbound: Outbound, url: URL): Promise<Reply> {
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
    const delay = Math.max(1, Math.round(await measureDelay(outbound, testUrl, timeout, statuses)));
    box.delays.record(outbound.name, testUrl, delay);
    return { status: 200, body: { delay } };
  } catch {
    box.delays.record(outbound.name, testUrl, 0);
    if (Date.now() - started >= timeout) throw new HttpError(504, 'Timeout');
    throw new HttpError(503, 'An error occurred in the delay test');
  }
}


/** GET /configs: the running general settings, mihomo's shape. */
function generalView(box: Box): Json {
  const port = (name: string): number => box.inbounds.find((i) => i.name === name)?.address().port ?? 0;
  return {
    port: port('DEFAULT-HTTP'),
    'socks-port': port('DEFAULT-SOCKS'),
    'redir-port': 0,
    'tproxy-port': 0,
    'mixed-port': port('DEFAULT-MIXED'),
    tun: { enable: false, device: '', stack: '', 'dns-hijack': [], 'auto-route': false, 'auto-detect-interface': false, 'file-descriptor': 0 },
    authentication: [],
    'skip-auth-prefixes': [...box.config.clientAccess.skipAuth],
    'lan-allowed-ips': [...box.config.clientAccess.allowed],
    'lan-disallowed-ips': [...box.config.clientAccess.disallowed],
    'allow-lan': box.config.allowLan,
    'bind-address': box.config.bindAddress,
    mode: box.router.mode,
    'log-level': box.logger.level,
    ipv6: true,
    sniffing: box.dispatcher.sniffing,
    'tcp-concurrent': false,
    'unified-delay': false,
    'interface-name': '',
    'routing-mark': 0,
    // sluice extension: every listener (dashboards ignore unknown keys; `sluice status` shows them).
    listeners: box.inbounds.map((inbound) => ({ name: inbound.name, type: inbound.type, listen: inbound.address().address, port: inbound.address().port })),
  };
}

/** The built-in listeners PATCH /configs can move: key → listener name and protocol. */
const portKeys = { port: ['DEFAULT-HTTP', 'http'], 'socks-port': ['DEFAULT-SOCKS', 'socks'], 'mixed-port': ['DEFAULT-MIXED', 'mixed'] } as const;

/**
 * The config after PATCH /configs moved, added (new port) or removed (port 0) default
 * listeners, or changed allow-lan / bind-address (which move every default listener);
 * undefined when no listener changes.
 */
function patchedConfig(box: Box, body: Record<string, unknown>): LoadedConfig | undefined {
  const config = box.config;
  const allowLan = body['allow-lan'] ?? config.allowLan;
  const bindAddress = body['bind-address'] ?? config.bindAddress;
  if (typeof allowLan !== 'boolean') throw new HttpError(400, 'allow-lan: expected true or false');
  if (typeof bindAddress !== 'string' || !isBindAddress(bindAddress)) throw new HttpError(400, `bind-address: expected '*' or an IP address`);
  const listen = defaultListenAddress(allowLan, bindAddress);
  let listeners = config.listeners.map((l) => (l.name.startsWith('DEFAULT-') ? { ...l, listen } : l));
  const template = config.listeners.find((l) => l.name.startsWith('DEFAULT-'));
  for (const [key, [name, type]] of Object.entries(portKeys)) {
    const port = body[key];
    if (port === undefined) continue;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new HttpError(400, `${key}: expected a port number (0 closes it)`);
    const index = listeners.findIndex((l) => l.name === name);
    if (port === 0) {
      if (index >= 0) listeners = listeners.filter((_, i) => i !== index);
    } else if (index >= 0) {
      listeners[index] = { ...listeners[index]!, port };
    } else {
      listeners.push({ name, type, listen, port, users: template?.users, udp: true, allowPrivateDestinations: template?.allowPrivateDestinations });
    }
  }
  const clientAccess = {
    allowed: prefixesIn(body, 'lan-allowed-ips') ?? config.clientAccess.allowed,
    disallowed: prefixesIn(body, 'lan-disallowed-ips') ?? config.clientAccess.disallowed,
    skipAuth: prefixesIn(body, 'skip-auth-prefixes') ?? config.clientAccess.skipAuth,
  };
  const unchanged =
    allowLan === config.allowLan &&
    bindAddress === config.bindAddress &&
    JSON.stringify(listeners) === JSON.stringify(config.listeners) &&
    JSON.stringify(clientAccess) === JSON.stringify(config.clientAccess);
  if (unchanged) return undefined;
  const everyone = JSON.stringify(clientAccess.allowed) === JSON.stringify(defaultClientAccess.allowed);
  const warnings = [...config.warnings.filter((w) => !w.startsWith('OPEN PROXY')), ...(everyone ? openProxyWarnings(listeners) : [])];
  return { ...config, allowLan, bindAddress, listeners, clientAccess, warnings };
}

/** A PATCH /configs list of prefixes (lan-allowed-ips and the like), checked; undefined when absent. */
function prefixesIn(body: Record<string, unknown>, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) throw new HttpError(400, `${key}: expected a list of prefixes`);
  const problems: string[] = [];
  prefixList(value as string[], key, problems);
  if (problems.length > 0) throw new HttpError(400, problems.join('; '));
  return value as string[];
}

async function patchConfigs(box: Box, body: Record<string, unknown>): Promise<Reply> {
  const { mode, sniffing } = body;
  const level = body['log-level'];
  if (mode !== undefined && !(typeof mode === 'string' && ['rule', 'global', 'direct'].includes(mode.toLowerCase()))) throw bodyInvalid();
  if (level !== undefined && !(typeof level === 'string' && (logLevels as readonly string[]).includes(level))) throw bodyInvalid();
  if (sniffing !== undefined && typeof sniffing !== 'boolean') throw bodyInvalid();
  const unsupported = ['redir-port', 'tproxy-port'].filter((k) => body[k] !== undefined && body[k] !== 0);
  if (unsupported.length > 0) throw new HttpError(400, `${unsupported.join(', ')}: sluice has no redirect or TPROXY inbound`);
  const tun = body.tun;
  if (typeof tun === 'object' && tun !== null && (tun as { enable?: unknown }).enable === true) throw new HttpError(400, 'tun: sluice has no TUN inbound yet; a pqtunnel proxy in full-tunnel mode carries all traffic');
  const config = patchedConfig(box, body);
  if (config) {
    try {
      await box.reload(config);
    } catch (error) {
      throw new HttpError(500, describeError(error));
    }
  }
  if (typeof mode === 'string') box.router.mode = mode.toLowerCase() as RouterMode;
  if (typeof level === 'string') box.logger.setLevel(level as LogLevel);
  if (typeof sniffing === 'boolean') box.dispatcher.sniffing = sniffing && box.config.sniffer !== undefined;
  return noContent;
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

/** Answers one REST request. Throws HttpError for the error replies. */
export async function handleRequest(box: Box, method: string, url: URL, body: string | undefined): Promise<Reply> {
  let parts: string[];
  try {
    parts = url.pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p));
  } catch {
    throw bodyInvalid();
  }
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
      if (!(group instanceof SelectGroup || group instanceof AutoGroup)) throw new HttpError(400, 'Must be a Selector');
      if (!group.memberNames.includes(name)) throw new HttpError(400, 'Selector update error: proxy not exist');
      group.select(name);
      return noContent;
    }
    case 'DELETE /proxies/:': {
      const group = outboundNamed(box, parts[1]!);
      if (!(group instanceof AutoGroup)) throw bodyInvalid();
      group.select(undefined);
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
      return { status: 200, body: rulesView(box.router.list(), box.router.disabled) };
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
    case 'GET /providers/proxies':
      return { status: 200, body: { providers: { default: defaultProxyProvider(box) } } };
    case 'GET /providers/rules':
      return { status: 200, body: { providers: Object.fromEntries(box.config.providers.map((p) => [p.name, ruleProviderView(p)])) } };
    case 'PUT /providers/rules/:': {
      const provider = box.config.providers.find((p) => p.name === parts[2]);
      if (!provider) throw notFound();
      try {
        await box.refreshProvider(provider);
      } catch (error) {
        throw new HttpError(503, describeError(error));
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
        throw new HttpError(error instanceof ConfigError ? 400 : 500, error instanceof ConfigError ? error.problems.join('; ') : describeError(error));
      }
      return { status: 200, body: { status: 'ok' } };
    case 'POST /cache/fakeip/flush':
      return noContent;
    case 'POST /cache/dns/flush':
      box.dns.clear();
      return noContent;
    case 'POST /configs/geo':
    case 'POST /upgrade':
    case 'POST /upgrade/ui':
      throw new HttpError(501, 'not supported');
    default:
      throw notFound();
  }
}

/**
 * PUT /configs: `payload` (YAML text), or an absolute `path` inside the running config's
 * directory (symlinks resolved), or neither: the running config's file. A file named by
 * `path` is never shown: a path outside the directory gets one fixed answer whether or not
 * it exists, and the problems of an invalid file name only its schema keys.
 */
async function reloadConfig(box: Box, body: Record<string, unknown>): Promise<void> {
  const { path, payload } = body;
  if ((path !== undefined && typeof path !== 'string') || (payload !== undefined && typeof payload !== 'string')) throw bodyInvalid();
  const fromPath = !payload && Boolean(path);
  if (fromPath && !isAbsolute(path as string)) throw new HttpError(400, 'path is not a absolute path');
  if (fromPath && !isInside(box.config.home, path as string)) throw new HttpError(403, 'path is outside the directory of the running config');
  try {
    if (payload) await box.reload(parseConfig(payload, box.config.home));
    else if (fromPath) await box.reload(await loadConfigFile(path as string));
    else await box.reloadFromFile();
  } catch (error) {
    if (error instanceof ConfigError) throw new HttpError(400, (fromPath ? redactedProblems(error) : error.problems).join('; '));
    throw new HttpError(500, describeError(error));
  }
}

const queryTypes: Record<string, 4 | 6> = { A: 4, AAAA: 6 };

/** GET /dns/query?name=&type=A|AAAA through sluice's resolver and cache, in mihomo's JSON answer shape. */
async function dnsQuery(box: Box, url: URL): Promise<Reply> {
  const name = url.searchParams.get('name') ?? '';
  const type = (url.searchParams.get('type') ?? 'A').toUpperCase();
  const family = queryTypes[type];
  if (!family) throw new HttpError(400, 'invalid query type');
  if (name === '') throw bodyInvalid();
  const fqdn = name.endsWith('.') ? name : `${name}.`;
  const question = [{ Name: fqdn, Qtype: family === 4 ? 1 : 28, Qclass: 1 }];
  let addresses: { address: string; family: number }[] = [];
  let status = 0;
  try {
    addresses = (await box.dns.resolveAll(name.replace(/\.$/, ''))).filter((a) => a.family === family);
  } catch {
    status = 3;
  }
  const answer = addresses.map((a) => ({ name: fqdn, type: family === 4 ? 1 : 28, TTL: Math.round(box.config.timeouts.dnsCacheMs / 1000), data: a.address }));
  const reply: Record<string, Json> = { Status: status, Question: question, TC: false, RD: true, RA: true, AD: false, CD: false };
  if (answer.length > 0) reply.Answer = answer;
  return { status: 200, body: reply };
}

function defaultProxyProvider(box: Box): Json {
  const proxies = box.config.proxies.map((p) => proxyView(box.outbounds.get(p.name)!, box.delays));
  return { name: 'default', type: 'Proxy', vehicleType: 'Compatible', proxies, testUrl: '', expectedStatus: '*', updatedAt: '0001-01-01T00:00:00Z' };
}

async function groupDelay(box: Box, name: string, url: URL): Promise<Reply> {
  const group = box.groups.find((g) => g.name === name);
  if (!group) throw notFound();
  const members = group.memberNames.map((member) => box.outbounds.get(member)!);
  if (group instanceof AutoGroup) group.select(undefined);
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
  if (Object.keys(results).length === 0) throw new HttpError(504, 'get delay: all proxies timeout');
  return { status: 200, body: results };
}

/**
 * Checks a stream request (/traffic, /memory, /logs, /connections) and returns what starts it
 * on a WebSocket or chunked response. Throws HttpError before anything is sent when the query is invalid.
 */
export function streamStarter(box: Box, url: URL): (sink: StreamSink) => void {
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

/** GET, PATCH and PUT /configs: the running general settings, changed in place or by a reload. */
import { isAbsolute } from 'node:path';
import { isInside } from '../common/bounded-file.js';
import { defaultClientAccess } from '../common/client-access.js';
import { describeError } from '../common/errors.js';
import { logLevels, type LogLevel } from '../common/log.js';
import { openProxyWarnings, prefixList } from '../config/access.js';
import { ConfigError } from '../config/errors.js';
import { defaultListenAddress, isBindAddress } from '../config/listeners.js';
import { loadConfigFile, parseConfig, type LoadedConfig } from '../config/load.js';
import { redactedProblems } from '../config/redact.js';
import type { ProxyListenerConfig } from '../config/types.js';
import type { RouterMode } from '../route/router.js';
import type { Control } from './control.js';
import { bodyInvalid, ApiError, noContent, type Reply } from './reply.js';
import type { Json } from './views.js';

/** GET /configs: the running general settings, mihomo's shape. */
export function generalView(box: Control): Json {
  const port = (name: string): number => box.inbounds.find((i) => i.name === name)?.address().port ?? 0;
  const { sockets } = box.config;
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
    ipv6: box.config.ipv6,
    sniffing: box.dispatcher.sniffing,
    'tcp-concurrent': sockets.concurrent,
    'unified-delay': box.config.unifiedDelay,
    'interface-name': sockets.binding.interfaceName ?? '',
    'routing-mark': sockets.binding.routingMark ?? 0,
    'keep-alive-idle': sockets.keepAlive ? sockets.keepAlive.idleSeconds : 0,
    'keep-alive-interval': sockets.keepAlive ? sockets.keepAlive.intervalSeconds : 0,
    'disable-keep-alive': sockets.keepAlive === false,
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
function patchedConfig(box: Control, body: Record<string, unknown>): LoadedConfig | undefined {
  const config = box.config;
  const allowLan = body['allow-lan'] ?? config.allowLan;
  const bindAddress = body['bind-address'] ?? config.bindAddress;
  if (typeof allowLan !== 'boolean') throw new ApiError(400, 'allow-lan: expected true or false');
  if (typeof bindAddress !== 'string' || !isBindAddress(bindAddress)) throw new ApiError(400, `bind-address: expected '*' or an IP address`);
  const listen = defaultListenAddress(allowLan, bindAddress);
  let listeners = config.listeners.map((l) => (l.name.startsWith('DEFAULT-') ? { ...l, listen } : l));
  const template = config.listeners.find((l): l is ProxyListenerConfig => l.name.startsWith('DEFAULT-') && 'udp' in l);
  for (const [key, [name, type]] of Object.entries(portKeys)) {
    const port = body[key];
    if (port === undefined) continue;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new ApiError(400, `${key}: expected a port number (0 closes it)`);
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
  const { ipv6, sockets } = patchedDialing(config, body);
  const unchanged =
    ipv6 === config.ipv6 &&
    JSON.stringify(sockets) === JSON.stringify(config.sockets) &&
    allowLan === config.allowLan &&
    bindAddress === config.bindAddress &&
    JSON.stringify(listeners) === JSON.stringify(config.listeners) &&
    JSON.stringify(clientAccess) === JSON.stringify(config.clientAccess);
  if (unchanged) return undefined;
  const everyone = JSON.stringify(clientAccess.allowed) === JSON.stringify(defaultClientAccess.allowed);
  const warnings = [...config.warnings.filter((w) => !w.startsWith('OPEN PROXY')), ...(everyone ? openProxyWarnings(listeners) : [])];
  return { ...config, ipv6, sockets, allowLan, bindAddress, listeners, clientAccess, warnings };
}

/** The ipv6, tcp-concurrent and interface-name of a PATCH /configs body (mihomo's patchable dialing keys), checked. */
function patchedDialing(config: LoadedConfig, body: Record<string, unknown>): Pick<LoadedConfig, 'ipv6' | 'sockets'> {
  const { ipv6 = config.ipv6, 'tcp-concurrent': concurrent = config.sockets.concurrent, 'interface-name': name } = body;
  if (typeof ipv6 !== 'boolean') throw new ApiError(400, 'ipv6: expected true or false');
  if (typeof concurrent !== 'boolean') throw new ApiError(400, 'tcp-concurrent: expected true or false');
  if (name !== undefined && (typeof name !== 'string' || name.length > 15)) throw new ApiError(400, 'interface-name: expected an interface name (at most 15 characters; empty for none)');
  const binding = name === undefined ? config.sockets.binding : { ...config.sockets.binding, interfaceName: name === '' ? undefined : name };
  return { ipv6, sockets: { ...config.sockets, concurrent, binding } };
}

/** A PATCH /configs list of prefixes (lan-allowed-ips and the like), checked; undefined when absent. */
function prefixesIn(body: Record<string, unknown>, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) throw new ApiError(400, `${key}: expected a list of prefixes`);
  const problems: string[] = [];
  prefixList(value as string[], key, problems);
  if (problems.length > 0) throw new ApiError(400, problems.join('; '));
  return value as string[];
}

/** PATCH /configs: mode, log-level and sniffing change in place; ports, allow-lan, bind-address, client access, ipv6, tcp-concurrent and interface-name through a reload. */
export async function patchConfigs(box: Control, body: Record<string, unknown>): Promise<Reply> {
  const { mode, sniffing } = body;
  const level = body['log-level'];
  if (mode !== undefined && !(typeof mode === 'string' && ['rule', 'global', 'direct'].includes(mode.toLowerCase()))) throw bodyInvalid();
  if (level !== undefined && !(typeof level === 'string' && (logLevels as readonly string[]).includes(level))) throw bodyInvalid();
  if (sniffing !== undefined && typeof sniffing !== 'boolean') throw bodyInvalid();
  const unsupported = ['redir-port', 'tproxy-port'].filter((k) => body[k] !== undefined && body[k] !== 0);
  if (unsupported.length > 0) throw new ApiError(400, `${unsupported.join(', ')}: sluice has no redirect or TPROXY inbound`);
  // The DNS module's settings (servers, modes, the fake-ip range, its listen address) change by a reload, not a PATCH.
  const fixed = ['dns', 'hosts'].filter((key) => body[key] !== undefined);
  if (fixed.length > 0) throw new ApiError(400, `${fixed.join(', ')}: cannot change at run time; edit the config and reload it (PUT /configs)`);
  const tun = body.tun;
  if (typeof tun === 'object' && tun !== null && (tun as { enable?: unknown }).enable === true) throw new ApiError(400, 'tun: sluice has no TUN inbound yet; a pqtunnel proxy in full-tunnel mode carries all traffic');
  const config = patchedConfig(box, body);
  if (config) {
    try {
      await box.reload(config);
    } catch (error) {
      throw new ApiError(500, describeError(error));
    }
  }
  if (typeof mode === 'string') box.router.mode = mode.toLowerCase() as RouterMode;
  if (typeof level === 'string') box.logger.setLevel(level as LogLevel);
  if (typeof sniffing === 'boolean') box.dispatcher.sniffing = sniffing && box.config.sniffer !== undefined;
  return noContent;
}

/**
 * PUT /configs: `payload` (YAML text), or an absolute `path` inside the running config's
 * directory (symlinks resolved), or neither: the running config's file. A file named by
 * `path` is never shown: a path outside the directory gets one fixed answer whether or not
 * it exists, and the problems of an invalid file name only its schema keys.
 */
export async function reloadConfig(box: Control, body: Record<string, unknown>): Promise<void> {
  const { path, payload } = body;
  if ((path !== undefined && typeof path !== 'string') || (payload !== undefined && typeof payload !== 'string')) throw bodyInvalid();
  const fromPath = !payload && Boolean(path);
  if (fromPath && !isAbsolute(path as string)) throw new ApiError(400, 'path is not a absolute path');
  if (fromPath && !isInside(box.config.home, path as string)) throw new ApiError(403, 'path is outside the directory of the running config');
  try {
    if (payload) await box.reload(parseConfig(payload, box.config.home));
    else if (fromPath) await box.reload(await loadConfigFile(path as string));
    else await box.reloadFromFile();
  } catch (error) {
    if (error instanceof ConfigError) throw new ApiError(400, (fromPath ? redactedProblems(error) : error.problems).join('; '));
    throw new ApiError(500, describeError(error));
  }
}

/** The `external-controller` keys, read into the controller's settings. */
import { isIPv6 } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { isLoopbackHost, normalizeHost, parseHostPort } from '../common/address.js';
import { showValue } from './errors.js';
import type { ControllerConfig } from './types.js';

/** The top-level keys the controller reads. */
export interface RawControllerKeys {
  'external-controller'?: string;
  secret?: string;
  'external-controller-cors'?: { 'allow-origins'?: string[]; 'allow-private-network'?: boolean };
  'external-ui'?: string;
}

/** `external-controller: host:port` (`:9090` listens on every address, as in mihomo). */
export function controllerConfig(raw: RawControllerKeys, problems: string[], warnings: string[], home: string): ControllerConfig | undefined {
  const text = raw['external-controller'];
  if (text === undefined || text === '') return undefined;
  const address = parseHostPort(text.startsWith(':') ? `0.0.0.0${text}` : text);
  if (!address) {
    problems.push(`external-controller: expected host:port, got ${showValue(text)}`);
    return undefined;
  }
  const secret = raw.secret ?? '';
  const cors = raw['external-controller-cors'];
  const allowOrigins = cors?.['allow-origins'] ?? (secret === '' ? [] : ['*']);
  let host = normalizeHost(address.host);
  if (secret === '') {
    if (!isLoopbackHost(host)) {
      // mihomo would open it to the network; sluice keeps a user who set no secret unexposed and says so.
      const loopback = isIPv6(host) ? '::1' : '127.0.0.1';
      warnings.push(`CONTROLLER NOT EXPOSED: external-controller ${text} has no secret, so it listens on ${loopback}:${address.port} only; set secret to open it to other hosts`);
      host = loopback;
    }
    const wildcard = allowOrigins.includes('*') ? "; allow-origins '*' is ignored without a secret" : '';
    warnings.push(`external-controller: no secret is set, so any program on this host can control sluice (web pages cannot)${wildcard}`);
  }
  return {
    host,
    port: address.port,
    secret,
    allowOrigins,
    allowPrivateNetwork: cors?.['allow-private-network'] ?? true,
    uiDir: raw['external-ui'] === undefined ? undefined : resolvePath(home, raw['external-ui']),
  };
}

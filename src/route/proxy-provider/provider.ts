/**
 * One proxy provider (`proxy-providers:`): a subscription (http), a file or an inline list of
 * proxies, read as Clash YAML (`proxies:`) or share links (plain or base64). The loader's
 * reader turns the raw maps into proxy entries (filters, override, validation, placeholders);
 * Box builds their outbounds and relinks the groups that use the provider on every change.
 */
import { createHash } from 'node:crypto';
import { withoutStackTraces } from '../../common/errors.js';
import { parseGuardedDocument } from '../../common/yaml-guard.js';
import type { ProxyConfig } from '../../config/proxy-types.js';
import { DownloadedProvider, type Built, type ProviderSource } from '../provider/downloaded.js';
import { readFlowLines } from './flow-lines.js';
import { isShareLinkList, parseShareLinks, type ProxyMap } from './share-links.js';

/** A provider's `health-check:`. */
export interface ProviderHealthCheck {
  /** Check the provider's proxies on a timer. */
  enable: boolean;
  /** URL fetched through each proxy. */
  url: string;
  /** Seconds between rounds. */
  intervalSeconds: number;
  /** Milliseconds per check. */
  timeoutMs: number;
  /** Skip rounds while no group used the provider. */
  lazy: boolean;
  /** Statuses that count (`*` = any). */
  expectedStatus: string;
}

/** A `proxy-providers:` entry after validation, paths resolved. */
export interface ProxyProviderConfig extends ProviderSource {
  /** Its `health-check:`. */
  healthCheck: ProviderHealthCheck;
  /** Proxies given in the config (inline). */
  payload?: ProxyMap[];
}

/** Turns raw proxy maps into entries (the loader's filters, override and checks); what it skipped, as warnings. */
export type ProxyReader = (maps: readonly ProxyMap[]) => { proxies: ProxyConfig[]; warnings: string[] };

/** The `subscription-userinfo` header, in mihomo's JSON shape (bytes, and expiry in Unix seconds). */
export interface SubscriptionInfo {
  /** Bytes uploaded. */
  Upload: number;
  /** Bytes downloaded. */
  Download: number;
  /** Bytes allowed. */
  Total: number;
  /** Expiry, Unix seconds (0: none). */
  Expire: number;
}

interface BuiltProxies extends Built {
  proxies: ProxyConfig[];
  warnings: string[];
}

/** Reads `upload=…; download=…; total=…; expire=…` as mihomo does (case and spaces ignored, floats truncated). */
export function parseSubscriptionInfo(header: string): SubscriptionInfo {
  const info: SubscriptionInfo = { Upload: 0, Download: 0, Total: 0, Expire: 0 };
  const keys: Record<string, keyof SubscriptionInfo> = { upload: 'Upload', download: 'Download', total: 'Total', expire: 'Expire' };
  for (const field of header.toLowerCase().replace(/ /g, '').split(';')) {
    const [name, value] = field.split('=', 2);
    const key = keys[name ?? ''];
    const number = Math.trunc(Number(value));
    if (key && value !== undefined && value !== '' && Number.isFinite(number)) info[key] = number;
  }
  return info;
}

/** The raw proxies of a subscription body: Clash YAML with `proxies:`, or share links. Throws when it is neither. */
export function subscriptionProxies(text: string): { proxies: ProxyMap[]; warnings: string[] } {
  if (isShareLinkList(text)) {
    const { proxies, skipped } = parseShareLinks(text);
    const warnings = skipped.length > 0 ? [`${skipped.length} lines are not share links sluice reads (${[...new Set(skipped)].slice(0, 5).join(', ')})`] : [];
    return { proxies, warnings };
  }
  const fast = readFlowLines(text);
  if (fast) return { proxies: fast, warnings: [] };
  const document = parseGuardedDocument(text);
  if (document.errors.length > 0) throw new Error(`neither share links nor YAML: ${document.errors[0]!.message.split('\n')[0]}`);
  const value = document.toJS({ maxAliasCount: 1000 }) as unknown;
  const proxies = typeof value === 'object' && value !== null ? (value as { proxies?: unknown }).proxies : undefined;
  if (!Array.isArray(proxies)) throw new Error('neither share links nor Clash YAML with a proxies: list');
  return { proxies: proxies.filter((p): p is ProxyMap => typeof p === 'object' && p !== null && !Array.isArray(p)), warnings: [] };
}

/** One proxy provider. */
export class ProxyProvider extends DownloadedProvider<BuiltProxies> {
  readonly kind = 'proxy provider';
  /** The current proxies. */
  proxies: readonly ProxyConfig[] = [];
  /** Warnings of the last load. */
  warnings: string[] = [];
  /** The last download's `subscription-userinfo`, if it sent one. */
  subscriptionInfo: SubscriptionInfo | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    /** The provider's configuration. */
    readonly config: ProxyProviderConfig,
    private readonly read: ProxyReader,
  ) {
    super(config);
  }

  /** Calls `listener` after every change of the proxies; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  summary(): string {
    return `${this.proxies.length} proxies`;
  }

  protected override sawHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): void {
    const userinfo = headers['subscription-userinfo'];
    if (typeof userinfo === 'string') this.subscriptionInfo = parseSubscriptionInfo(userinfo);
  }

  protected parseInline(): BuiltProxies {
    return { ...this.read(this.config.payload ?? []), hash: '' };
  }

  protected parse(data: Buffer): BuiltProxies {
    return withoutStackTraces(() => {
      const hash = createHash('sha256').update(data).digest('hex');
      const content = subscriptionProxies(data.toString('utf8'));
      const read = this.read(content.proxies);
      return { proxies: read.proxies, warnings: [...content.warnings, ...read.warnings], hash };
    });
  }

  protected use(built: BuiltProxies): void {
    this.proxies = built.proxies;
    this.warnings = built.warnings;
    for (const listener of this.listeners) listener();
  }
}

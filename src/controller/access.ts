/**
 * Who may use the controller: the secret, the origins a browser may call it from, and the
 * host names it answers to. Pure decisions over request headers, so they can be tested
 * without a server.
 */
import { isIP } from 'node:net';
import { isLoopbackHost, normalizeHost } from '../common/address.js';
import { sameSecret } from '../common/auth.js';

/** Header values the decisions read (Node's `IncomingHttpHeaders` fits). */
export interface RequestHeaders {
  /** `Authorization`. */
  authorization?: string;
  /** `Origin`, sent by browsers on cross-origin and on non-GET requests. */
  origin?: string;
  /** `Host`. */
  host?: string;
}

/** A refusal: HTTP status and the message of the JSON body. */
export interface Refusal {
  /** 401 (secret) or 403 (origin, host). */
  status: number;
  /** Fixed text; it never echoes the request. */
  message: string;
}

/** What the access decisions need to know about the controller. */
export interface AccessSettings {
  /** Bearer secret; empty means none. */
  secret: string;
  /** `external-controller-cors.allow-origins` as loaded (`*` only counts with a secret). */
  allowOrigins: readonly string[];
  /** The address the controller listens on. */
  listenHost: string;
  /** The bound port. */
  port: number;
}

/** Host names every loopback controller answers to. */
const loopbackNames = ['127.0.0.1', 'localhost', '::1'];

/**
 * The controller's access rules. With a secret, the secret is the protection: any origin
 * listed (by default `*`, as in mihomo) may call it with the secret. Without one, only
 * requests without an Origin, from the controller's own origin or from a listed origin are
 * served, and only under the controller's own host names (a DNS-rebound name is refused),
 * so a web page the user visits cannot drive it.
 */
export class ControllerAccess {
  private readonly secret: string;
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly ownHosts: ReadonlySet<string>;

  constructor(settings: AccessSettings) {
    this.secret = settings.secret;
    const host = normalizeHost(settings.listenHost);
    const hosts = new Set([host]);
    if (isLoopbackHost(host)) for (const name of loopbackNames) hosts.add(name);
    this.ownHosts = hosts;
    this.anyOrigin = this.secret !== '' && settings.allowOrigins.includes('*');
    const own = [...hosts].map((h) => `http://${isIP(h) === 6 ? `[${h}]` : h}:${settings.port}`);
    this.origins = new Set([...settings.allowOrigins.filter((o) => o !== '*'), ...own].map(normalizeOrigin));
  }

  /** The refusal for a request's origin and host, or undefined when they may use the controller. */
  checkOrigin(headers: RequestHeaders): Refusal | undefined {
    if (this.secret === '' && !this.ownHosts.has(hostName(headers.host ?? ''))) {
      return { status: 403, message: 'Forbidden: unknown Host; without a secret the controller answers only to its own address' };
    }
    if (headers.origin === undefined || this.originAllowed(headers.origin)) return undefined;
    return { status: 403, message: 'Forbidden: origin not allowed; set a secret or list it in external-controller-cors.allow-origins' };
  }

  /** The value for Access-Control-Allow-Origin, when the request's origin may read answers. */
  allowOriginHeader(origin: string | undefined): string | undefined {
    if (this.anyOrigin) return '*';
    return origin !== undefined && this.originAllowed(origin) ? origin : undefined;
  }

  /** True when the request carries the secret (or none is set): `Authorization: Bearer`, or `?token=` for WebSockets. */
  authorized(headers: RequestHeaders, token: string | null): boolean {
    if (this.secret === '') return true;
    const header = headers.authorization ?? '';
    return sameSecret(this.secret, header.startsWith('Bearer ') ? header.slice(7) : token ?? '');
  }

  private originAllowed(origin: string): boolean {
    return this.anyOrigin || this.origins.has(normalizeOrigin(origin));
  }
}

/** `http://Example.com:80/` → `http://example.com`; text that is no URL stays as it is. */
function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}

/** The host name of a Host header (`[::1]:9090` → `::1`). */
function hostName(host: string): string {
  const bracket = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (bracket) return normalizeHost(bracket[1]!);
  return normalizeHost(host.replace(/:\d*$/, ''));
}

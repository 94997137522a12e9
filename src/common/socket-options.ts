/**
 * How sluice's outgoing sockets are set up: mihomo's top-level `keep-alive-idle`,
 * `keep-alive-interval`, `disable-keep-alive`, `tcp-concurrent`, `interface-name` and
 * `routing-mark`, and the `interface-name`/`routing-mark` of proxies and groups. The options
 * Node has no API for go through native/sockopt.c.
 */
import { isIP, Socket } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import { addonOr, loadAddon } from './addon.js';
import { isGlobalUnicast } from './ip.js';

/** Where an outgoing socket leaves: SO_BINDTODEVICE and SO_MARK (Linux). */
export interface SocketBinding {
  /** `interface-name`: the interface the socket is bound to. */
  interfaceName?: string;
  /** `routing-mark`: the fwmark its packets carry (policy routing), needs CAP_NET_ADMIN. */
  routingMark?: number;
}

/** TCP keep-alive probes: the first after `idleSeconds` without traffic, then every `intervalSeconds`. */
export interface KeepAliveSettings {
  /** `keep-alive-idle`. */
  idleSeconds: number;
  /** `keep-alive-interval`. */
  intervalSeconds: number;
}

/** The top-level settings every outgoing TCP connection follows, plus a proxy's own binding. */
export interface OutboundSockets {
  /** Keep-alive on outgoing TCP connections; false: off (`disable-keep-alive`). */
  keepAlive: KeepAliveSettings | false;
  /** `tcp-concurrent`: connect to every address a name resolves to at once and keep the first that answers. */
  concurrent: boolean;
  /** The top-level `interface-name`/`routing-mark`; a group's (carried by the flow) replaces them. */
  binding: SocketBinding;
  /** The proxy's own `interface-name`/`routing-mark`, which replace both. */
  own?: SocketBinding;
}

/** mihomo's defaults (Go's): probes after 15 s idle, every 15 s. */
export const defaultOutboundSockets: OutboundSockets = { keepAlive: { idleSeconds: 15, intervalSeconds: 15 }, concurrent: false, binding: {} };

/** Keep-alive probes unanswered before the connection is dropped (Go's default, which mihomo keeps). */
const keepAliveProbes = 9;

/** native/sockopt.c. */
interface SockoptAddon {
  /** A non-blocking TCP or UDP socket with SO_MARK (mark ≠ 0) and SO_BINDTODEVICE (device ≠ ''); throws naming the option. */
  openSocket(family: 4 | 6, kind: 'tcp' | 'udp', mark: number, device: string): number;
  /** SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT. */
  setKeepAlive(fd: number, idleSeconds: number, intervalSeconds: number, probes: number): void;
}

/** The binding a socket gets: the top-level one, replaced key by key by the groups' (`fromGroups`), then by the proxy's own. */
export function effectiveBinding(sockets: OutboundSockets | undefined, fromGroups: SocketBinding | undefined): SocketBinding {
  return mergeBindings(mergeBindings(sockets?.binding, fromGroups), sockets?.own);
}

/** `base` with the keys `over` sets replaced. */
export function mergeBindings(base: SocketBinding | undefined, over: SocketBinding | undefined): SocketBinding {
  return {
    interfaceName: over?.interfaceName ?? base?.interfaceName,
    routingMark: over?.routingMark ?? base?.routingMark,
  };
}

/**
 * True when a socket to `ip` takes the binding. As in mihomo, connections to loopback,
 * link-local, multicast and unspecified addresses are left unbound (they never leave through an
 * uplink, and a local proxy must stay reachable).
 */
export function bindingApplies(binding: SocketBinding, ip: string): boolean {
  return (binding.interfaceName !== undefined || (binding.routingMark ?? 0) !== 0) && isGlobalUnicast(ip);
}

/** An unconnected TCP socket for a connection to `ip`, bound and marked as `binding` says (through the addon). */
export function boundTcpSocket(binding: SocketBinding, ip: string): Socket {
  const fd = sockopt().openSocket(isIP(ip) === 6 ? 6 : 4, 'tcp', binding.routingMark ?? 0, binding.interfaceName ?? '');
  // manualStart: Node's own option for sockets handed over unconnected (child_process uses it); reading starts at connect.
  return new Socket({ fd, allowHalfOpen: true, manualStart: true } as ConstructorParameters<typeof Socket>[0]);
}

/** Binds a fresh dgram socket of `family` to a socket made with `binding` (instead of an ordinary bind). */
export function bindUdpSocket(socket: UdpSocket, family: 4 | 6, binding: SocketBinding): void {
  socket.bind({ fd: sockopt().openSocket(family, 'udp', binding.routingMark ?? 0, binding.interfaceName ?? '') });
}

/**
 * Turns keep-alive on or off on a connected socket as `keepAlive` says. Without the addon,
 * Node's setKeepAlive sets the idle time only (libuv then probes every second).
 */
export function applyKeepAlive(socket: Socket, keepAlive: KeepAliveSettings | false): void {
  if (keepAlive === false) return void socket.setKeepAlive(false);
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const addon = addonOr<SockoptAddon | undefined>('sockopt', undefined);
  if (!addon || fd === undefined || fd < 0) return void socket.setKeepAlive(true, keepAlive.idleSeconds * 1000);
  addon.setKeepAlive(fd, keepAlive.idleSeconds, keepAlive.intervalSeconds, keepAliveProbes);
}

function sockopt(): SockoptAddon {
  return loadAddon<SockoptAddon>('sockopt');
}

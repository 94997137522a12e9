/** Registration of `type: socks` listeners (SOCKS5, RFC 1928). */
import { proxyListener } from '../listener.js';
import { handleSocks } from './inbound.js';

/** `listeners: - type: socks` and `socks-port`. */
export const socksInbound = proxyListener('socks', handleSocks);

/** Registration of `type: mixed` listeners (SOCKS5 and HTTP on one port). */
import { proxyListener } from '../listener.js';
import { handleMixed } from './inbound.js';

/** `listeners: - type: mixed` and `mixed-port`. */
export const mixedInbound = proxyListener('mixed', handleMixed);

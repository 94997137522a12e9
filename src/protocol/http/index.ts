/** Registration of `type: http` listeners (HTTP proxy: CONNECT and absolute-URI requests). */
import { proxyListener } from '../listener.js';
import { handleHttp } from './inbound.js';

/** `listeners: - type: http` and `port`. */
export const httpInbound = proxyListener('http', handleHttp);

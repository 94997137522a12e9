import { stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Control } from './control.js';
import type { ControllerConfig } from '../config/types.js';
import type { StreamSink } from './streams.js';
import { describeError } from '../common/errors.js';
import { isInside, readRegularFile } from '../common/bounded-file.js';
import { ControllerAccess } from './access.js';
import { handleRequest, streamStarter } from './api.js';
import { ApiError, type Reply } from './reply.js';
import type { Json } from './views.js';
import { Metrics } from './metrics.js';


/** Paths that can be consumed as a WebSocket or an endless chunked response. */
const streamPaths = new Set(['/traffic', '/memory', '/logs', '/connections']);
/** A stream consumer with this much unsent is too slow: documents are dropped for it. */
const maxBuffered = 1 << 20;
/** Largest dashboard file served. */
const maxUiFileBytes = 64 << 20;

/** The Clash-compatible external controller: REST and WebSocket on one port (controller-api.md). */
export class Controller {
  private readonly server: Server;
  private readonly sockets = new WebSocketServer({ noServer: true });
  private readonly metrics: Metrics;
  /** Who may use it; set once listening (the own origins need the bound port), before any request. */
  private access: ControllerAccess | undefined;

  constructor(
    private readonly box: Control,
    /** Settings. */
    readonly options: ControllerConfig,
  ) {
    this.metrics = new Metrics(box);
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((error: unknown) => this.failed(res, req, error));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      try {
        this.onUpgrade(req, socket, head);
      } catch (error) {
        this.box.logger.error(`controller: ${req.method} upgrade failed: ${describeError(error)}`);
        socket.destroy();
      }
    });
  }

  /** Starts listening. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { secret, allowOrigins, host } = this.options;
    this.access = new ControllerAccess({ secret, allowOrigins, listenHost: host, port: this.address().port });
  }

  /** The bound address. */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stops listening and closes every open stream. */
  async close(): Promise<void> {
    this.metrics.close();
    for (const client of this.sockets.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** A handler threw: answer 500 if nothing was sent yet, else end the response; the process goes on. */
  private failed(res: ServerResponse, req: IncomingMessage, error: unknown): void {
    this.box.logger.error(`controller: ${req.method} ${(req.url ?? '').slice(0, 200)} failed: ${describeError(error)}`);
    if (!res.headersSent) send(res, { status: 500, body: { message: 'Internal error' } });
    else res.destroy();
  }

  /** Sets the CORS headers for an origin that may read the answers. */
  private cors(req: IncomingMessage, res: ServerResponse): void {
    const allowed = this.access!.allowOriginHeader(req.headers.origin);
    if (allowed === undefined) return;
    res.setHeader('Access-Control-Allow-Origin', allowed);
    if (allowed !== '*') res.setHeader('Vary', 'Origin');
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const access = this.access!;
    const url = requestUrl(req);
    if (url === undefined) return send(res, { status: 400, body: { message: 'Body invalid' } });
    const refusal = access.checkOrigin(req.headers);
    if (refusal) return send(res, { status: refusal.status, body: { message: refusal.message } });
    this.cors(req, res);
    if (this.options.uiDir && (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) && req.method === 'GET') {
      // The dashboard's files need no secret: the dashboard asks the user for it.
      return serveStatic(res, this.options.uiDir, url.pathname.slice(3));
    }
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
      res.setHeader('Access-Control-Max-Age', '300');
      if (this.options.allowPrivateNetwork && req.headers['access-control-request-private-network'] === 'true') {
        res.setHeader('Access-Control-Allow-Private-Network', 'true');
      }
      return void res.writeHead(204).end();
    }
    if (!access.authorized(req.headers, url.searchParams.get('token'))) return send(res, { status: 401, body: { message: 'Unauthorized' } });
    try {
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const { contentType, text } = await this.metrics.render();
        return void res.writeHead(200, { 'Content-Type': contentType }).end(text);
      }
      if (req.method === 'GET' && streamPaths.has(url.pathname) && url.pathname !== '/connections') {
        const start = streamStarter(this.box, url);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        return start(chunkedSink(res));
      }
      const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : await readBody(req);
      send(res, await handleRequest(this.box, req.method ?? 'GET', url, body));
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      send(res, { status: error.status, body: { message: error.message } });
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message: text })}`);
    };
    const url = requestUrl(req);
    if (url === undefined) return refuse(400, 'Body invalid');
    const refusal = this.access!.checkOrigin(req.headers);
    if (refusal) return refuse(refusal.status, refusal.message);
    if (!this.access!.authorized(req.headers, url.searchParams.get('token'))) return refuse(401, 'Unauthorized');
    if (!streamPaths.has(url.pathname)) return refuse(404, 'Resource not found');
    let start: (sink: StreamSink) => void;
    try {
      start = streamStarter(this.box, url);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return refuse(error.status, error.message);
    }
    this.sockets.handleUpgrade(req, socket, head, (ws) => start(socketSink(ws)));
  }
}

/** The request's URL, or undefined when its target cannot be parsed. */
function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://controller');
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) return void res.writeHead(reply.status).end();
  res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1 << 22) throw new ApiError(413, 'Body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function chunkedSink(res: ServerResponse): StreamSink {
  return {
    send: (document: Json) => {
      if (res.writableNeedDrain || res.destroyed) return false;
      res.write(JSON.stringify(document) + '\n');
      return true;
    },
    onClose: (stop) => void res.once('close', stop),
  };
}

function socketSink(ws: WebSocket): StreamSink {
  return {
    send: (document: Json) => {
      if (ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) return false;
      ws.send(JSON.stringify(document));
      return true;
    },
    onClose: (stop) => void ws.once('close', stop),
  };
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
  '.woff2': 'font/woff2', '.webmanifest': 'application/manifest+json', '.txt': 'text/plain',
};

/** Serves a file of the dashboard folder (`/` → index.html); nothing outside the folder, symlinks resolved. */
async function serveStatic(res: ServerResponse, root: string, path: string): Promise<void> {
  let data: Buffer;
  let target: string;
  try {
    const file = resolve(root, `.${decodeURIComponent(path || '/')}`);
    target = (await stat(file)).isDirectory() ? join(file, 'index.html') : file;
    if (!isInside(root, target)) throw new Error('outside the dashboard folder');
    data = await readRegularFile(target, maxUiFileBytes);
  } catch {
    return send(res, { status: 404, body: { message: 'Resource not found' } });
  }
  res.writeHead(200, { 'Content-Type': contentTypes[extname(target)] ?? 'application/octet-stream' }).end(data);
}

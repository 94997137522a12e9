// Who may drive the controller, and what malformed or hostile requests get: a web page on
// another origin, a DNS-rebound host name, paths outside the config folder, symlinks out of
// external-ui, and requests no handler expects. The process must survive every one of them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { WebSocket as WsClient } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerAccess } from '../../src/controller/access.js';
import { parseConfig } from '../../src/config/load.js';
import { startBox, type RunningBox } from '../helpers/net.js';

const home = mkdtempSync(join(tmpdir(), 'sluice-controller-'));
const outside = mkdtempSync(join(tmpdir(), 'sluice-outside-'));
const ui = join(home, 'ui');
let open: RunningBox;
let guarded: RunningBox;
let openApi = '';
let guardedApi = '';
const secretKey = 'c2VjcmV0LWtleS1ieXRlcy10aGF0LW11c3Qtbm90LWxlYWs=';

beforeAll(async () => {
  mkdirSync(ui);
  writeFileSync(join(ui, 'index.html'), '<p>dashboard</p>');
  writeFileSync(join(outside, 'private.txt'), 'outside-the-ui-folder');
  symlinkSync(join(outside, 'private.txt'), join(ui, 'leak.txt'));
  writeFileSync(join(home, 'gateway.key'), `${secretKey}\n`);
  writeFileSync(join(home, 'notes.yaml'), 'mixed-port: 7890\nlisteners:\n  - { name: in, type: socks, port: hunter2, password-of-alice: hunter2 }\n');
  writeFileSync(join(home, 'broken.yaml'), 'password: [hunter2\n');
  symlinkSync(join(outside, 'private.txt'), join(home, 'link-out.yaml'));
  execFileSync('mkfifo', [join(home, 'fifo.yaml')]);
  open = await startBox(`
external-controller: 127.0.0.1:0
external-controller-cors: { allow-origins: ['http://dash.local:8080'] }
external-ui: ui
listeners: [{ name: mix, type: mixed, port: 0 }]
rules: ['MATCH,DIRECT']`, { home });
  guarded = await startBox(`
external-controller: 127.0.0.1:0
secret: s3cret
listeners: [{ name: mix, type: mixed, port: 0 }]
rules: ['MATCH,DIRECT']`, { home });
  openApi = `http://127.0.0.1:${open.box.controller!.address().port}`;
  guardedApi = `http://127.0.0.1:${guarded.box.controller!.address().port}`;
});

afterAll(async () => {
  await Promise.all([open?.close(), guarded?.close()]);
  rmSync(home, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function call(base: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const response = await request(base + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
  const text = await response.body.text();
  return { status: response.statusCode, text, headers: response.headers };
}

/** Opens a WebSocket with extra headers; resolves to 'open' or the HTTP status of the refusal. */
function websocket(url: string, headers: Record<string, string>): Promise<string | number> {
  return new Promise((resolve) => {
    const ws = new WsClient(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_request, response) => {
      response.resume();
      ws.terminate();
      resolve(response.statusCode ?? 0);
    });
    ws.on('error', () => resolve('error'));
  });
}

describe('controller without a secret', () => {
  it('serves requests without an Origin, from its own origin and from listed origins; refuses other origins with 403 and no CORS headers', async () => {
    const port = open.box.controller!.address().port;
    expect((await call(openApi, '/version')).status).toBe(200);
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, 'http://dash.local:8080']) {
      const own = await call(openApi, '/version', { headers: { origin } });
      expect(own.status, origin).toBe(200);
      expect(own.headers['access-control-allow-origin'], origin).toBe(origin);
    }
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port + 1}`]) {
      const attack = await call(openApi, '/configs', { method: 'PATCH', headers: { origin, 'content-type': 'application/json' }, body: '{"mode":"direct"}' });
      expect(attack.status, origin).toBe(403);
      expect(attack.headers['access-control-allow-origin'], origin).toBeUndefined();
      const preflight = await call(openApi, '/configs', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'PATCH', 'access-control-request-private-network': 'true' },
      });
      expect(preflight.status, origin).toBe(403);
      expect(preflight.headers['access-control-allow-origin'], origin).toBeUndefined();
      expect(preflight.headers['access-control-allow-private-network'], origin).toBeUndefined();
    }
    expect(open.box.router.mode).toBe('rule');
  });

  it('refuses a DNS-rebound host name even without an Origin', async () => {
    const port = open.box.controller!.address().port;
    expect((await call(openApi, '/logs?level=info', { headers: { host: `attacker.example:${port}` } })).status).toBe(403);
    expect((await call(openApi, '/version', { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });

  it('applies the same origin rules to WebSockets', async () => {
    const port = open.box.controller!.address().port;
    const ws = `ws://127.0.0.1:${port}/logs?level=debug`;
    expect(await websocket(ws, { origin: 'https://evil.example' })).toBe(403);
    expect(await websocket(ws, { origin: `http://127.0.0.1:${port}` })).toBe('open');
    expect(await websocket(ws, {})).toBe('open');
  });

  it('listens on loopback instead of a non-loopback address without a secret, saying so, and warns once on loopback', () => {
    for (const address of ['0.0.0.0:9090', ':9090', '192.168.1.5:9090']) {
      const config = parseConfig(`external-controller: '${address}'`);
      expect(config.controller?.host, address).toBe('127.0.0.1');
      expect(config.warnings, address).toContain(`CONTROLLER NOT EXPOSED: external-controller ${address} has no secret, so it listens on 127.0.0.1:9090 only; set secret to open it to other hosts`);
    }
    expect(parseConfig(`external-controller: '[::]:9090'`).controller?.host).toBe('::1');
    const warnings = parseConfig(`external-controller: 127.0.0.1:9090\nexternal-controller-cors: { allow-origins: ['*'] }`).warnings;
    expect(warnings.filter((w) => w.startsWith('external-controller'))).toEqual([
      "external-controller: no secret is set, so any program on this host can control sluice (web pages cannot); allow-origins '*' is ignored without a secret",
    ]);
    expect(parseConfig(`external-controller: 0.0.0.0:9090\nsecret: x`).warnings.filter((w) => w.startsWith('external-controller'))).toEqual([]);
  });

  it("does not follow a symlink out of external-ui's folder", async () => {
    expect((await call(openApi, '/ui/')).text).toContain('dashboard');
    const leak = await call(openApi, '/ui/leak.txt');
    expect(leak.status).toBe(404);
    expect(leak.text).not.toContain('outside-the-ui-folder');
  });
});

describe('controller with a secret', () => {
  it('lets a dashboard on any origin in with the secret (CORS *), and nobody without it', async () => {
    const withSecret = await call(guardedApi, '/version', { headers: { origin: 'https://yacd.example', authorization: 'Bearer s3cret' } });
    expect(withSecret.status).toBe(200);
    expect(withSecret.headers['access-control-allow-origin']).toBe('*');
    for (const token of ['', 's3cre', 's3cret!', 'x'.repeat(200)]) {
      expect((await call(guardedApi, '/version', { headers: { authorization: `Bearer ${token}` } })).status, token).toBe(401);
    }
  });

  it('compares the secret as fixed-size digests, whatever the lengths', () => {
    const access = new ControllerAccess({ secret: 'abc', allowOrigins: ['*'], listenHost: '127.0.0.1', port: 1 });
    expect(access.authorized({ authorization: 'Bearer abc' }, null)).toBe(true);
    expect(access.authorized({}, 'abc')).toBe(true);
    for (const given of ['', 'ab', 'abcd', 'ABC', 'a'.repeat(10_000)]) expect(access.authorized({ authorization: `Bearer ${given}` }, null), given).toBe(false);
  });
});

describe('PUT /configs with a path', () => {
  const put = (path: string) => call(guardedApi, '/configs', { method: 'PUT', headers: { authorization: 'Bearer s3cret' }, body: JSON.stringify({ path }) });

  it('refuses every path outside the config folder with one fixed answer, whether or not it exists', async () => {
    const answers = await Promise.all(
      ['/etc/passwd', '/etc/does-not-exist', join(outside, 'private.txt'), join(home, '..', 'x.yaml'), join(home, 'link-out.yaml')].map(put),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text)).toEqual({ message: 'path is outside the directory of the running config' });
    }
  });

  it("names only the config schema's keys in the problems of a file inside the folder, never its text", async () => {
    const key = await put(join(home, 'gateway.key'));
    expect(key.status).toBe(400);
    expect(key.text).not.toContain(secretKey.slice(0, 12));
    expect(JSON.parse(key.text)).toEqual({ message: '(top level): is invalid' });
    const notes = await put(join(home, 'notes.yaml'));
    expect(notes.status).toBe(400);
    expect(notes.text).not.toMatch(/hunter2|password-of-alice/);
    expect(JSON.parse(notes.text)).toEqual({ message: 'listeners[0].port: is invalid' });
    const broken = await put(join(home, 'broken.yaml'));
    expect(broken.text).not.toContain('hunter2');
    expect(JSON.parse(broken.text)).toEqual({ message: expect.stringMatching(/^YAML: syntax error at line \d+, column \d+$/) });
    for (const unreadable of ['missing.yaml', 'fifo.yaml']) {
      const answer = await put(join(home, unreadable));
      expect([answer.status, JSON.parse(answer.text)], unreadable).toEqual([400, { message: 'cannot read the config file' }]);
    }
  });
});

describe('malformed requests', () => {
  it('answers GET /logs with an unknown level 400 over plain HTTP and as a WebSocket', async () => {
    const logs = await call(guardedApi, '/logs?level=verbose', { headers: { authorization: 'Bearer s3cret' } });
    expect([logs.status, JSON.parse(logs.text)]).toEqual([400, { message: 'Body invalid' }]);
    expect(await websocket(`${guardedApi.replace('http', 'ws')}/logs?level=verbose&token=s3cret`, {})).toBe(400);
    expect((await call(guardedApi, '/version', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  });

  it('survives any method, path, query and body on every endpoint (fuzzed), and answers each', async () => {
    const paths = [
      '/', '/version', '/configs', '/proxies', '/proxies/DIRECT', '/proxies/DIRECT/delay', '/group', '/group/GLOBAL', '/group/GLOBAL/delay',
      '/rules', '/rules/disable', '/dns/query', '/providers/proxies', '/providers/rules', '/providers/rules/x', '/connections',
      '/connections/1', '/restart', '/cache/fakeip/flush', '/cache/dns/flush', '/traffic', '/memory', '/logs', '/metrics', '/ui/', '/%', '/%E0%A4%A',
    ];
    const query = fc.array(fc.tuple(fc.constantFrom('level', 'interval', 'timeout', 'url', 'expected', 'name', 'type', 'format', 'token', '%zz'), fc.string()), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'PATCH', 'POST', 'DELETE'),
        fc.constantFrom(...paths),
        query,
        fc.oneof(fc.string(), fc.json(), fc.constantFrom('{"path":"/dev/zero"}', '{"path":"relative"}', '{"payload":"a: [","path":1}', '{"mode":{}}', '[]', 'null')),
        async (method, path, pairs, body) => {
          const search = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
          const response = await request(`${guardedApi}${path}${search ? `?${search}` : ''}`, {
            method: method as 'GET',
            headers: { authorization: 'Bearer s3cret' },
            body: method === 'GET' || method === 'DELETE' ? undefined : body,
            headersTimeout: 5000,
          });
          // Streams (/traffic, /logs …) answer 200 and go on: stop reading them.
          response.body.on("error", () => {});
          response.body.destroy();
          expect(response.statusCode).toBeLessThan(600);
        },
      ),
      { numRuns: 150 },
    );
    for (const raw of ['GET http://[ HTTP/1.1', 'GET //x?%% HTTP/1.1', 'GET /logs?level=%FF HTTP/1.1']) {
      const socket = connect(guarded.box.controller!.address().port, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume();
      socket.end(`${raw}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\n\r\n`);
      await new Promise((resolve) => socket.on('close', resolve));
    }
    expect((await call(guardedApi, '/version', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
  }, 60_000);

});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, eventually, listen, requirePeer, startBox, type RunningBox } from '../helpers/net.js';

const run = promisify(execFile);
const page = createServer((req, res) => {
  res.setHeader('Content-Type', 'text/html');
  res.end(`<!doctype html><html><body><p id="m">served ${req.url}</p><script>document.getElementById('m').dataset.js = 'ran';</script></body></html>`);
});
let pagePort = 0;
let box: RunningBox;
const profiles: string[] = [];

beforeAll(async () => {
  pagePort = await listen(page);
  box = await startBox(`
listeners: [{ name: mixed-in, type: mixed, port: 0 }]
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await closeServer(page);
  for (const p of profiles) rmSync(p, { recursive: true, force: true });
});

/** Headless Chromium's DOM of `url`, through `proxy` when given. */
async function chromium(proxy: string | undefined, url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  profiles.push(profile);
  const { stdout } = await run(
    'chromium',
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`,
      ...(proxy ? [`--proxy-server=${proxy}`, '--proxy-bypass-list=<-loopback>'] : []),
      '--dump-dom', url,
    ],
    { timeout: 60_000, killSignal: 'SIGKILL' },
  );
  return stdout;
}

describe('headless Chromium through sluice', () => {
  it('loads a local page through the SOCKS5 port', async ({ skip }) => {
    requirePeer('chromium', skip);
    box.logs.length = 0;
    const dom = await chromium(`socks5://127.0.0.1:${box.port()}`, `http://127.0.0.1:${pagePort}/via-socks`);
    expect(dom).toContain('served /via-socks');
    expect(dom).toContain('data-js="ran"');
    expect(await eventually(() => box.logs.some((l) => l.includes(`--> 127.0.0.1:${pagePort} via mixed-in/SOCKS5`)))).toBe(true);
  }, 90_000);

  it('loads a local page through the HTTP proxy on the same port', async ({ skip }) => {
    requirePeer('chromium', skip);
    box.logs.length = 0;
    const dom = await chromium(`http://127.0.0.1:${box.port()}`, `http://127.0.0.1:${pagePort}/via-http`);
    expect(dom).toContain('served /via-http');
    expect(await eventually(() => box.logs.some((l) => l.includes(`--> 127.0.0.1:${pagePort} via mixed-in/HTTP`)))).toBe(true);
  }, 90_000);
});

/** What the fixture dashboard showed: its version line, traffic updates, bytes, and whether a call failed. */
interface DashboardView {
  version: string;
  updates: number;
  down: number;
  failed: boolean;
}

function dashboardView(dom: string): DashboardView {
  return {
    version: /<span id="version">([^<]*)<\/span>/.exec(dom)?.[1] ?? '',
    updates: Number(/<span id="updates">(\d+)<\/span>/.exec(dom)?.[1]),
    down: Number(/<span id="down">(\d+)<\/span>/.exec(dom)?.[1]),
    failed: /<span id="failed">yes<\/span>/.test(dom),
  };
}

/**
 * Opens the fixture dashboard in Chromium against a sluice with `controllerYaml`, while a
 * download runs through the proxy. `pageUrl` gets the controller's port and the hold URL
 * and returns the page to open (from /ui/ or from another origin).
 */
async function openDashboard(controllerYaml: string, pageUrl: (api: number, hold: string) => string): Promise<DashboardView> {
  const ui = new URL('../fixtures/ui/', import.meta.url).pathname;
  const dashboard = await startBox(`
external-controller: 127.0.0.1:0
external-ui: ${ui}
${controllerYaml}
listeners: [{ name: mixed-in, type: mixed, port: 0 }]
rules: ['MATCH,DIRECT']`);
  // Keeps the page loading for 3.5 s so the DOM is dumped after several /traffic updates.
  const hold = createServer((_req, res) => void setTimeout(() => res.end('done'), 3500));
  const holdPort = await listen(hold);
  // Traffic for the dashboard to show: a download through the proxy while the page is open.
  const source = createServer((_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const timer = setInterval(() => res.write(chunk), 50);
    res.on('close', () => clearInterval(timer));
  });
  const sourcePort = await listen(source);
  const { request, ProxyAgent } = await import('undici');
  const agent = new ProxyAgent(`http://127.0.0.1:${dashboard.port()}`);
  const download = await request(`http://127.0.0.1:${sourcePort}/`, { dispatcher: agent });
  download.body.resume();
  try {
    const api = dashboard.box.controller!.address().port;
    return dashboardView(await chromium(undefined, pageUrl(api, `http://127.0.0.1:${holdPort}/`)));
  } finally {
    download.body.destroy();
    await agent.close();
    await dashboard.close();
    await Promise.all([closeServer(hold), closeServer(source)]);
  }
}

describe('a dashboard in headless Chromium', () => {
  /** The fixture dashboard served from a second origin (another port), as yacd.haishan.me would be. */
  const otherOrigin = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.end(readFileSync(new URL('../fixtures/ui/index.html', import.meta.url)));
  });
  let otherPort = 0;
  beforeAll(async () => void (otherPort = await listen(otherOrigin)));
  afterAll(() => closeServer(otherOrigin));

  it('loads from /ui/, calls the API with the secret and shows live traffic over the WebSocket', async ({ skip }) => {
    requirePeer('chromium', skip);
    const view = await openDashboard('secret: dash-secret', (api, hold) => `http://127.0.0.1:${api}/ui/#token=dash-secret&hold=${encodeURIComponent(hold)}`);
    expect(view.version).toMatch(/^v\d+\.\d+\.\d+-sluice$/);
    expect(view.updates).toBeGreaterThanOrEqual(2);
    expect(view.down).toBeGreaterThan(0);
  }, 90_000);

  it('served from another origin, works with the secret (CORS *, the secret is the protection)', async ({ skip }) => {
    requirePeer('chromium', skip);
    const view = await openDashboard('secret: dash-secret', (api, hold) =>
      `http://127.0.0.1:${otherPort}/#token=dash-secret&api=${encodeURIComponent(`http://127.0.0.1:${api}`)}&hold=${encodeURIComponent(hold)}`,
    );
    expect(view).toMatchObject({ version: expect.stringMatching(/-sluice$/), failed: false });
    expect(view.updates).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('served from another origin, cannot read or drive a controller that has no secret', async ({ skip }) => {
    requirePeer('chromium', skip);
    const view = await openDashboard('', (api, hold) =>
      `http://127.0.0.1:${otherPort}/#token=&api=${encodeURIComponent(`http://127.0.0.1:${api}`)}&hold=${encodeURIComponent(hold)}`,
    );
    expect(view).toEqual({ version: '?', updates: 0, down: 0, failed: true });
  }, 90_000);
});

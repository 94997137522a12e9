import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

async function chromium(proxy: string, url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'sluice-chromium-'));
  profiles.push(profile);
  const { stdout } = await run(
    'chromium',
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, `--proxy-server=${proxy}`, '--proxy-bypass-list=<-loopback>',
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

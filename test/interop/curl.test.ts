import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, eventually, listen, requirePeer, startBox, type RunningBox } from '../helpers/net.js';

const run = promisify(execFile);
const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const tls = { key: readFileSync(fixture('localhost.key')), cert: readFileSync(fixture('localhost.crt')) };

const plain = createHttpServer((req, res) => res.end(`plain ${req.url}`));
const secure = createHttpsServer(tls, (req, res) => res.end(`secure ${req.url}`));
let plainPort = 0;
let securePort = 0;
let box: RunningBox;

beforeAll(async () => {
  plainPort = await listen(plain);
  securePort = await listen(secure);
  box = await startBox(`
listeners:
  - { name: mixed-in, type: mixed, port: 0 }
  - { name: auth-in, type: mixed, port: 0, users: [{ username: carol, password: "p w" }] }
rules: ['MATCH,DIRECT']`);
});

afterAll(async () => {
  await box.close();
  await closeServer(plain);
  await closeServer(secure);
});

async function curl(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run('curl', ['--silent', '--show-error', '--max-time', '10', ...args]);
    return { code: 0, stdout };
  } catch (error) {
    return { code: (error as { code: number }).code, stdout: String((error as { stdout?: string }).stdout ?? '') };
  }
}

describe('curl through sluice', () => {
  it('--socks5-hostname: GET over HTTPS with the name resolved by the proxy', async ({ skip }) => {
    requirePeer('curl', skip);
    box.logs.length = 0;
    const result = await curl('--socks5-hostname', `127.0.0.1:${box.port('mixed-in')}`, '--cacert', fixture('localhost.crt'), `https://localhost:${securePort}/s5`);
    expect(result).toEqual({ code: 0, stdout: 'secure /s5' });
    expect(await eventually(() => box.logs.some((l) => l.includes(`--> localhost:${securePort} via mixed-in/SOCKS5`)))).toBe(true);
  });

  it('--proxy http://: plain GET and CONNECT to HTTPS', async ({ skip }) => {
    requirePeer('curl', skip);
    const proxy = `http://127.0.0.1:${box.port('mixed-in')}`;
    expect(await curl('--proxy', proxy, `http://127.0.0.1:${plainPort}/get`)).toEqual({ code: 0, stdout: 'plain /get' });
    expect(await curl('--proxy', proxy, '--cacert', fixture('localhost.crt'), `https://localhost:${securePort}/tunnel`)).toEqual({
      code: 0,
      stdout: 'secure /tunnel',
    });
    expect(await eventually(() => box.logs.some((l) => l.includes(`--> localhost:${securePort} via mixed-in/HTTPS`)))).toBe(true);
  });

  it('authenticates with --proxy-user and socks5h://user:pass@, and refuses a wrong password', async ({ skip }) => {
    requirePeer('curl', skip);
    const port = box.port('auth-in');
    const url = `http://127.0.0.1:${plainPort}/auth`;
    expect(await curl('--proxy', `http://127.0.0.1:${port}`, '--proxy-user', 'carol:p w', url)).toEqual({ code: 0, stdout: 'plain /auth' });
    expect(await curl('--proxy', `socks5h://carol:p%20w@127.0.0.1:${port}`, url)).toEqual({ code: 0, stdout: 'plain /auth' });
    const denied = await curl('--proxy', `http://127.0.0.1:${port}`, '--proxy-user', 'carol:nope', '--write-out', '%{http_code}', '--output', '/dev/null', url);
    expect(denied.stdout).toBe('407');
    expect((await curl('--proxy', `socks5h://carol:nope@127.0.0.1:${port}`, url)).code).toBe(97);
  });
});

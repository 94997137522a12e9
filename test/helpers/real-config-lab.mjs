// Runs `sluice run` on a real config inside the network namespace this process was started in
// (`unshare -n`: only loopback, so nothing can leave the machine): brings lo up, serves stand-ins
// for the config's URLs on 127.0.0.1:18080 (the test rewrote each URL to /<encoded original>),
// starts sluice, waits until it is up, reads the controller when the config has one, stops it
// with SIGTERM and prints one JSON line: { logs, api, code }.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';

const [configPath, dataDir, sluiceBin, controller, secret] = process.argv.slice(2);
execFileSync('ip', ['link', 'set', 'lo', 'up']);

/** The stand-in for an original URL: the lite geodata files, the meta-rules-dat .mrs files we have, 204 for health checks. */
function standIn(original) {
  const name = basename(new URL(original).pathname);
  if (/generate_204$/.test(name)) return { status: 204, body: Buffer.alloc(0) };
  if (name === 'geosite.dat') return { status: 200, body: readFileSync(join(dataDir, 'geosite-lite.dat')) };
  if (/^geoip(-lite)?\.dat$/.test(name)) return { status: 200, body: readFileSync(join(dataDir, 'geoip-lite.dat')) };
  const kind = /\/geo\/(geosite|geoip)\//.exec(original)?.[1];
  if (kind && existsSync(join(dataDir, kind, name))) return { status: 200, body: readFileSync(join(dataDir, kind, name)) };
  return { status: 404, body: Buffer.from('no stand-in') };
}

const served = [];
const server = createServer((req, res) => {
  const original = decodeURIComponent((req.url ?? '/').slice(1));
  const { status, body } = standIn(original);
  served.push(`${status} ${original}`);
  res.writeHead(status).end(body);
});
await new Promise((resolve) => server.listen(18080, '127.0.0.1', resolve));

const logs = [];
const child = spawn(process.execPath, [sluiceBin, 'run', '-f', configPath, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
let last = Date.now();
const take = (chunk) => {
  for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(line);
  last = Date.now();
};
child.stdout.on('data', take);
child.stderr.on('data', take);
const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
const started = Date.now();
while (Date.now() - started < 20_000 && Date.now() - last < 2000) await new Promise((r) => setTimeout(r, 100));
while (Date.now() - last < 1500 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 100));

const api = {};
if (controller) {
  const headers = secret ? { authorization: `Bearer ${secret}` } : {};
  for (const path of ['/proxies', '/providers/proxies', '/providers/rules', '/rules', '/configs']) {
    try {
      const response = await fetch(`http://${controller}${path}`, { headers });
      api[path] = await response.json();
    } catch (error) {
      api[path] = { error: String(error) };
    }
  }
}
child.kill('SIGTERM');
const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
server.close();
process.stdout.write(`${JSON.stringify({ logs, api, code, served })}\n`);
process.exit(0);

import { version } from './version.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { v4 as uuidv4 } from 'uuid';
import { Box } from './box.js';
import { fetchStatus, formatStatus, type StatusTarget } from './status.js';
import { initConfig } from './init.js';
import { existsSync, writeFileSync } from 'node:fs';
import { describeError } from './common/errors.js';
import { BatchedStderr, Logger, logLevels, type LogFormat, type LogLevel } from './common/log.js';
import { StatusLine } from './common/status-line.js';
import { paceFullCollections, retainFreedMemory } from './common/heap.js';
import { missingAddonWarnings } from './common/addon.js';
import { ConfigError } from './config/errors.js';
import { defaultConfigUrl, loadConfigFile, type LoadedConfig } from './config/load.js';
import { generatePresharedKey, generatePrivateKey, publicKeyOf } from './protocol/pqtunnel/crypto/keys.js';

const usage: Record<string, string> = {
  main: `Usage: sluice <command> [options]

Commands:
  run      run the proxy (default config: mixed SOCKS5/HTTP on 127.0.0.1:7890)
  check    validate a config file and print a summary
  uuid     print a fresh UUID (for VMess users)
  genkey   print a new tunnel private key (base64)
  pubkey   read a tunnel private key on stdin, print its public key
  genpsk   print a new tunnel pre-shared key (base64)
  init     write a commented config: --client, --server or --gateway
  status   show a running sluice's listeners, groups, connections and traffic
  version  print the version
  bench    measure the relay on loopback against a baseline (as npm run bench)

Run 'sluice <command> --help' for a command's options.`,
  run: `Usage: sluice run [-f FILE] [--log-level LEVEL] [--log-format text|json]

  -f, --config FILE   config file (YAML or JSON); without it the bundled default is used
  --log-level LEVEL   silent, error, warning, info or debug (overrides the config)
  --log-format FMT    text (default) or json
Stops on SIGINT/SIGTERM: listeners close, open flows get the shutdown grace period.`,
  check: `Usage: sluice check -f FILE

Validates FILE against config.schema.json and the rule grammar; prints listeners,
proxies, rule count and warnings. Exits 1 when the config is invalid.`,
  init: `Usage: sluice init --client|--server|--gateway [-o FILE] [--host NAME]

Writes a complete, commented config with fresh UUIDs, keys and secrets to FILE (default
config.yaml; an existing file is never overwritten). For --server and --gateway it also
prints the proxies: entry to paste into the client's config; --host is the server's name
or address as clients reach it.`,
  status: `Usage: sluice status [-f FILE | --controller URL [--secret S]] [--json]

Asks a running sluice through its controller API (external-controller in FILE, or URL)
for its listeners, proxies, group choices, open connections and traffic.
  --json              print the raw answers as one JSON document`,
  uuid: 'Usage: sluice uuid\n\nPrints a random (version 4) UUID.',
  genkey: 'Usage: sluice genkey\n\nPrints a new X25519 private key for the post-quantum tunnel, in base64 (like wg genkey).',
  pubkey: 'Usage: sluice pubkey < private.key\n\nReads a base64 private key on standard input and prints its public key (like wg pubkey).',
  genpsk: 'Usage: sluice genpsk\n\nPrints a new 32-byte pre-shared key in base64 (like wg genpsk).',
  version: 'Usage: sluice version\n\nPrints the sluice version.',
  bench: 'Usage: sluice bench\n\nMeasures relay throughput and connection rate on loopback, each next to a\nbaseline taken in the same run, and prints the figures and ratios.',
};

const options = {
  config: { type: 'string', short: 'f' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  controller: { type: 'string' },
  secret: { type: 'string' },
  json: { type: 'boolean' },
  client: { type: 'boolean' },
  server: { type: 'boolean' },
  gateway: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  host: { type: 'string' },
} satisfies ParseArgsConfig['options'];

/** Runs the CLI with `argv` (without node and script); resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') return print(usage.main!);
  if (!(command in usage)) return fail(`unknown command '${command}'\n\n${usage.main}`);
  let args;
  try {
    args = parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${usage[command]}`);
  }
  if (args.help) return print(usage[command]!);
  switch (command) {
    case 'uuid':
      return print(uuidv4());
    case 'genkey':
      return print(generatePrivateKey());
    case 'genpsk':
      return print(generatePresharedKey());
    case 'pubkey':
      return pubkey();
    case 'version':
      return print(`sluice ${version}`);
    case 'init':
      return init(args);
    case 'status':
      return status(args.config, args.controller, args.secret, args.json ?? false);
    case 'bench':
      return bench();
    case 'check':
      return args.config ? check(args.config) : fail(`check needs -f FILE\n\n${usage.check}`);
    default:
      return run(args.config, args['log-level'], args['log-format']);
  }
}

/** Benchmarks live beside the code (bench/, built by npm run bench), not in the installed package. */
async function bench(): Promise<number> {
  const built = new URL('../dist-bench/bench/index.js', import.meta.url);
  if (!existsSync(built)) return fail('sluice bench runs from a source checkout: npm run bench (the benchmarks are not part of the installed package)');
  await ((await import(built.href)) as { runBench(): Promise<void> }).runBench();
  return 0;
}

async function check(file: string): Promise<number> {
  const config = await load(file);
  if (!config) return 1;
  const lines = [`${file}: OK`, 'listeners:'];
  for (const l of config.listeners) lines.push(`  ${l.name}  ${l.type}  ${l.listen}:${l.port}${'udp' in l && l.users ? '  (auth)' : ''}`);
  lines.push(`proxies: ${config.proxies.length}${config.proxies.map((p) => `\n  ${p.name}  ${p.type === 'unsupported' ? `${p.protocol} (unsupported)` : p.type}`).join('')}`);
  const groups = config.groups.filter((g) => g.name !== 'GLOBAL');
  lines.push(`proxy-groups: ${groups.length}${groups.map((g) => `\n  ${g.name}  ${g.type}  [${g.members.join(', ')}]${g.use.length > 0 ? `  use: ${g.use.join(', ')}` : ''}`).join('')}`);
  lines.push(`proxy-providers: ${config.proxyProviders.length}`);
  for (const p of config.proxyProviders) {
    lines.push(`  ${p.name}  ${p.config.vehicle}  ${p.updatedAt ? p.summary() : 'not downloaded yet'}`);
    for (const w of p.warnings.slice(0, 5)) lines.push(`    warning: ${w}`);
  }
  lines.push(`rule-providers: ${config.providers.length}`);
  for (const p of config.providers) {
    const { vehicle, behavior, format } = p.config;
    const state = p.updatedAt ? `${p.count} entries` : 'not downloaded yet';
    lines.push(`  ${p.name}  ${vehicle} ${behavior} ${format}  ${state}${p.warnings.length > 0 ? `  (${p.warnings.length} warnings)` : ''}`);
    for (const w of p.warnings.slice(0, 5)) lines.push(`    warning: ${w}`);
  }
  lines.push(`rules: ${config.rules.length}`);
  lines.push(`warnings: ${config.warnings.length}${config.warnings.map((w) => `\n  ${w}`).join('')}`);
  return print(lines.join('\n'));
}

async function run(file: string | undefined, level: string | undefined, format: string | undefined): Promise<number> {
  if (level !== undefined && !(logLevels as readonly string[]).includes(level)) {
    return fail(`--log-level: must be one of ${logLevels.join(', ')}, got '${level}'`);
  }
  if (format !== undefined && format !== 'text' && format !== 'json') return fail(`--log-format: must be text or json, got '${format}'`);
  const config = await load(file ?? defaultConfigUrl);
  if (!config) return 1;
  if (config.listeners.length === 0) {
    process.stderr.write(`${file}: nothing to run: set mixed-port, socks-port, port or listeners\n`);
    return 1;
  }
  const logFormat = (format as LogFormat | undefined) ?? 'text';
  // A status line (provider downloads at start) only among human-readable logs.
  const status = logFormat === 'text' ? new StatusLine() : undefined;
  const logger = new Logger((level as LogLevel | undefined) ?? config.logLevel, logFormat, new BatchedStderr(status));
  for (const warning of config.warnings) logger.warn(warning);
  for (const warning of missingAddonWarnings()) logger.warn(warning);
  paceFullCollections();
  try {
    retainFreedMemory();
  } catch (error) {
    logger.warn(`relaying without the heap setting: ${describeError(error)}`);
  }
  const box = new Box(config, logger, { configFile: file ?? defaultConfigUrl, status });
  try {
    await box.start();
  } catch (error) {
    logger.error(describeError(error));
    return 1;
  }
  logger.info(`sluice ${version} started with ${file ?? 'the default config'}`);
  const reload = (): void => {
    logger.info('SIGHUP: reloading the config');
    box.reloadFromFile().catch((error: unknown) => logger.error(`reload failed, the running config stays: ${describeError(error)}`));
  };
  process.on('SIGHUP', reload);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGHUP', reload);
  logger.info(`${signal}: closing listeners; open flows get ${config.timeouts.shutdownGraceMs} ms`);
  const forceExit = (): never => process.exit(1);
  process.once('SIGINT', forceExit);
  process.once('SIGTERM', forceExit);
  await box.close();
  logger.info('stopped');
  return 0;
}

function init(args: { client?: boolean; server?: boolean; gateway?: boolean; output?: string; host?: string }): number {
  const kinds = (['client', 'server', 'gateway'] as const).filter((k) => args[k]);
  if (kinds.length !== 1) return fail(`init needs exactly one of --client, --server, --gateway\n\n${usage.init}`);
  const file = args.output ?? 'config.yaml';
  const { config, clientSnippet } = initConfig(kinds[0]!, args.host ?? 'server.example');
  try {
    writeFileSync(file, config, { flag: 'wx' });
  } catch (error) {
    process.stderr.write(`init: cannot write ${file}: ${describeError(error)}\n`);
    return 1;
  }
  const lines = [`wrote ${file}; check it with: sluice check -f ${file}`];
  if (clientSnippet) lines.push('', "Paste this into the client's config, under proxies: (and add its name to a group):", clientSnippet.trimEnd());
  return print(lines.join('\n'));
}

async function status(file: string | undefined, controller: string | undefined, secret: string | undefined, json: boolean): Promise<number> {
  let target: StatusTarget;
  if (controller) target = { url: controller.replace(/\/$/, ''), secret: secret ?? '' };
  else {
    const config = await load(file ?? defaultConfigUrl);
    if (!config) return 1;
    if (!config.controller) {
      process.stderr.write(`${file ?? 'the default config'} has no external-controller; pass --controller URL\n`);
      return 1;
    }
    const { host, port } = config.controller;
    const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    target = { url: `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`, secret: secret ?? config.controller.secret };
  }
  try {
    const answer = await fetchStatus(target);
    return print(json ? JSON.stringify(answer, null, 2) : formatStatus(answer, target));
  } catch (error) {
    process.stderr.write(`status: cannot get the state from the controller at ${target.url}: ${describeError(error)}\n`);
    return 1;
  }
}

async function pubkey(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  try {
    return print(publicKeyOf(Buffer.concat(chunks).toString('utf8')));
  } catch (error) {
    return fail(`pubkey: ${(error as Error).message}`);
  }
}

async function load(file: string | URL): Promise<LoadedConfig | undefined> {
  try {
    return await loadConfigFile(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const name = file instanceof URL ? 'default config' : file;
    const warnings = error.warnings.map((w) => `  warning: ${w}\n`).join('');
    process.stderr.write(`${name}: invalid config\n${error.problems.map((p) => `  ${p}\n`).join('')}${warnings}`);
    return undefined;
  }
}


function print(text: string): number {
  process.stdout.write(text + '\n');
  return 0;
}

function fail(text: string): number {
  process.stderr.write(text + '\n');
  return 2;
}

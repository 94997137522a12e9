/**
 * `npm run bench` / `sluice bench`: loopback figures, each next to a baseline measured in
 * the same run (the machine is noisy; ratios are what to compare). Every proxy and
 * baseline runs in its own process; the traffic source and sink run here. The tunnel
 * benchmark (root only) runs between network namespaces against wireguard-go.
 */
import { createServer, type AddressInfo } from 'node:net';
import { startSink } from './harness.js';
import { benchRelay } from './relay.js';
import { benchStalled } from './stalled.js';
import { benchPqtunnel } from './pqtunnel.js';
import { benchVmess } from './vmess.js';
import { benchRules } from './rules.js';
import { benchConfigLoad } from './config-load.js';
import { benchTunnel } from './tunnel.js';
import { benchDns } from './dns.js';
import { finished, measuring, report } from './report.js';

/** A port that was free a moment ago (for programs that cannot report the one they bound). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs every benchmark and prints one line per figure; says which one runs (a status line on a terminal). */
export async function runBench(): Promise<void> {
  report('sluice bench: loopback only; every proxy and baseline runs in its own process; sluice logs at info');
  const sink = await startSink();
  const steps: [string, () => Promise<void>][] = [
    ['rule matching', benchRules],
    ['loading real configs and a 10,000-proxy subscription', benchConfigLoad],
    ['the DNS server against dnsmasq', () => benchDns(freePort)],
    ['SOCKS5 relay and connection rate', () => benchRelay(sink)],
    ['honest handshakes among 2,000 stalled ones', benchStalled],
    ['VMess against v2ray', () => benchVmess(sink, freePort)],
    ['post-quantum tunnel handshakes and data plane', benchPqtunnel],
    ['tunnel between namespaces against wireguard-go', benchTunnel],
  ];
  try {
    for (const [i, [label, run]] of steps.entries()) {
      measuring(label, i + 1, steps.length);
      await run();
    }
  } finally {
    finished();
    sink.server.close();
  }
}

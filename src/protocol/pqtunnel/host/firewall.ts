/**
 * The gateway's firewall (spec §8.1, §8.4): NAT for the pools, the deny list on forwarded
 * packets from the tunnel, and an input filter for the gateway's own addresses. nftables is
 * preferred (one owned table, replaced atomically, deleted at stop); iptables is the fallback
 * (own chains plus one jump each). Installing twice replaces, never duplicates.
 */
import { installed, run } from '../../tun/netconfig.js';
import { specialIpv4 as deniedIpv4, specialIpv6 as deniedIpv6 } from '../../../common/destination-guard.js';

/** What the firewall protects and translates. */
export interface FirewallPlan {
  /** Owner tag: the table name (nftables) or chain prefix (iptables). */
  tag: string;
  /** The gateway's TUN interface. */
  device: string;
  /** The gateway's own address on the TUN, per family. */
  tunAddress: { v4?: string; v6?: string };
  /** The client pools (CIDR), per family. */
  pools: { v4?: string; v6?: string };
  /** Masquerade pool sources leaving by any other interface. */
  masquerade: boolean;
  /** Per client: its addresses and the destinations it may reach despite the deny list. */
  allowances: { v4?: string; v6?: string; destinations: string[] }[];
}

const v4 = (prefix: string): boolean => !prefix.includes(':');

/** The nftables ruleset (for `nft -f -`) that replaces the owned table in one transaction. */
export function nftRuleset(plan: FirewallPlan): string {
  const table = `inet ${plan.tag}`;
  const dev = JSON.stringify(plan.device);
  const allow: string[] = [];
  for (const peer of plan.allowances) {
    const four = peer.destinations.filter(v4);
    const six = peer.destinations.filter((d) => !v4(d));
    if (peer.v4 && four.length) allow.push(`iifname ${dev} ip saddr ${peer.v4} ip daddr { ${four.join(', ')} } accept`);
    if (peer.v6 && six.length) allow.push(`iifname ${dev} ip6 saddr ${peer.v6} ip6 daddr { ${six.join(', ')} } accept`);
  }
  const echo: string[] = [];
  if (plan.tunAddress.v4) echo.push(`iifname ${dev} ip daddr ${plan.tunAddress.v4} icmp type echo-request accept`);
  if (plan.tunAddress.v6) echo.push(`iifname ${dev} ip6 daddr ${plan.tunAddress.v6} icmpv6 type echo-request accept`);
  const nat: string[] = [];
  if (plan.masquerade && plan.pools.v4) nat.push(`ip saddr ${plan.pools.v4} oifname != ${dev} masquerade`);
  if (plan.masquerade && plan.pools.v6) nat.push(`ip6 saddr ${plan.pools.v6} oifname != ${dev} masquerade`);
  const chain = (name: string, hook: string, body: string[]): string =>
    `  chain ${name} {\n    type ${hook}; policy accept;\n${body.map((line) => `    ${line}\n`).join('')}  }\n`;
  return (
    `table ${table}\ndelete table ${table}\ntable ${table} {\n` +
    chain('forward', 'filter hook forward priority filter - 5', [
      `iifname ${dev} oifname ${dev} drop`,
      ...allow,
      `iifname ${dev} ip daddr { ${deniedIpv4.join(', ')} } drop`,
      `iifname ${dev} ip6 daddr { ${deniedIpv6.join(', ')} } drop`,
    ]) +
    chain('input', 'filter hook input priority filter - 5', [`iifname ${dev} ct state established,related accept`, ...echo, ...allow, `iifname ${dev} drop`]) +
    (nat.length ? chain('postrouting', 'nat hook postrouting priority srcnat', nat) : '') +
    `}\n`
  );
}

/** One iptables/ip6tables invocation. */
export interface IptablesCommand {
  /** `iptables` or `ip6tables`. */
  program: 'iptables' | 'ip6tables';
  /** Its arguments. */
  args: string[];
}

/** The iptables commands that install the plan into chains `<tag>-fwd`, `<tag>-in`, `<tag>-nat`. */
export function iptablesInstall(plan: FirewallPlan): IptablesCommand[] {
  const commands: IptablesCommand[] = [];
  const families = [
    { program: 'iptables' as const, denied: deniedIpv4 as readonly string[], pool: plan.pools.v4, tun: plan.tunAddress.v4, icmp: ['-p', 'icmp', '--icmp-type', 'echo-request'], key: 'v4' as const },
    { program: 'ip6tables' as const, denied: deniedIpv6 as readonly string[], pool: plan.pools.v6, tun: plan.tunAddress.v6, icmp: ['-p', 'ipv6-icmp', '--icmpv6-type', 'echo-request'], key: 'v6' as const },
  ];
  for (const family of families) {
    if (!family.pool) continue;
    const add = (...args: string[]): number => commands.push({ program: family.program, args });
    const [fwd, input, nat] = chainNames(plan.tag);
    add('-N', fwd);
    add('-N', input);
    add('-A', fwd, '-i', plan.device, '-o', plan.device, '-j', 'DROP');
    for (const peer of plan.allowances) {
      const source = peer[family.key];
      const destinations = peer.destinations.filter((d) => v4(d) === (family.key === 'v4'));
      for (const destination of source ? destinations : []) {
        add('-A', fwd, '-i', plan.device, '-s', source!, '-d', destination, '-j', 'ACCEPT');
        add('-A', input, '-i', plan.device, '-s', source!, '-d', destination, '-j', 'ACCEPT');
      }
    }
    for (const destination of family.denied) add('-A', fwd, '-i', plan.device, '-d', destination, '-j', 'DROP');
    add('-A', input, '-i', plan.device, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    if (family.tun) add('-A', input, '-i', plan.device, '-d', family.tun, ...family.icmp, '-j', 'ACCEPT');
    add('-A', input, '-i', plan.device, '-j', 'DROP');
    add('-I', 'FORWARD', '1', '-j', fwd);
    add('-I', 'INPUT', '1', '-j', input);
    if (plan.masquerade) {
      add('-t', 'nat', '-N', nat);
      add('-t', 'nat', '-A', nat, '-s', family.pool, '!', '-o', plan.device, '-j', 'MASQUERADE');
      add('-t', 'nat', '-I', 'POSTROUTING', '1', '-j', nat);
    }
  }
  return commands;
}

function chainNames(tag: string): [string, string, string] {
  return [`${tag}-fwd`, `${tag}-in`, `${tag}-nat`];
}

/** Removes whatever an earlier install with this tag left (jumps first, then the chains). */
async function iptablesRemove(tag: string): Promise<void> {
  const [fwd, input, nat] = chainNames(tag);
  for (const program of ['iptables', 'ip6tables'] as const) {
    const quiet = (args: string[]): Promise<boolean> => run(program, args).then(() => true, () => false);
    for (const [table, parent, chain] of [['filter', 'FORWARD', fwd], ['filter', 'INPUT', input], ['nat', 'POSTROUTING', nat]] as const) {
      while (await quiet(['-t', table, '-D', parent, '-j', chain]));
      await quiet(['-t', table, '-F', chain]);
      await quiet(['-t', table, '-X', chain]);
    }
  }
}

/** An installed firewall; `remove` deletes exactly what `installFirewall` created. */
export interface Firewall {
  /** `nftables` or `iptables`. */
  readonly backend: string;
  /** Replaces the installed rules with a new plan (same tag), e.g. after a lease changed the allowances. */
  update(plan: FirewallPlan): Promise<void>;
  /** Deletes the owned table or chains. */
  remove(): Promise<void>;
}

/** Installs the plan with nftables, or iptables when nft is missing; throws when neither works. */
export async function installFirewall(plan: FirewallPlan): Promise<Firewall> {
  if (await installed('nft', '--version')) {
    const install = (next: FirewallPlan): Promise<void> => run('nft', ['-f', '-'], nftRuleset(next)).then(() => {});
    await install(plan);
    return { backend: 'nftables', update: install, remove: () => run('nft', ['delete', 'table', 'inet', plan.tag]).then(() => {}) };
  }
  if (await installed('iptables', '--version')) {
    const install = async (next: FirewallPlan): Promise<void> => {
      await iptablesRemove(next.tag);
      for (const command of iptablesInstall(next)) await run(command.program, command.args);
    };
    await install(plan);
    return { backend: 'iptables', update: install, remove: () => iptablesRemove(plan.tag) };
  }
  throw new Error('the gateway needs nftables (nft) or iptables to install NAT and its protection rules; neither is installed');
}

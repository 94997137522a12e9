/** An inclusive port range. */
export interface PortRange {
  /** Lowest port in the range. */
  from: number;
  /** Highest port in the range. */
  to: number;
}

/**
 * Parses a Clash port list: single ports and `a-b` ranges separated by `/`
 * (or `,` outside rule lines), at most 28 items.
 */
export function parsePortList(text: string): PortRange[] {
  const items = text.split(/[/,]/).map((s) => s.trim());
  if (text.trim() === '' || items.some((s) => s === '' || s === '*')) throw new Error(`invalid port list '${text}'`);
  if (items.length > 28) throw new Error(`too many ports in '${text}' (at most 28)`);
  return items.map((item) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
    if (!m) throw new Error(`invalid port '${item}'`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 65535 || to > 65535) throw new Error(`port out of range in '${item}'`);
    return from <= to ? { from, to } : { from: to, to: from };
  });
}

/** True when `port` lies in any of `ranges`. */
export function portInRanges(port: number, ranges: readonly PortRange[]): boolean {
  for (const r of ranges) if (port >= r.from && port <= r.to) return true;
  return false;
}

/** What proxy protocols share when they read their `proxies:` entries. */

/**
 * A prepare hook that removes `keys` from a proxy entry before validation, listing each as
 * `at.key` in `ignored` (the loader warns about them once).
 */
export function ignoreKeys(keys: readonly string[]): (entry: Record<string, unknown>, at: string, ignored: string[]) => void {
  const set = new Set(keys);
  return (entry, at, ignored) => {
    for (const key of Object.keys(entry)) {
      if (!set.has(key)) continue;
      ignored.push(`${at}.${key}`);
      delete entry[key];
    }
  };
}

/** mihomo keys of socks5 and http proxies that sluice ignores (warned about). */
export const ignoredClientKeys = ['fingerprint', 'ip-version', 'tfo', 'mptcp', 'smux'];

/** The user name and password of an entry that has a `username` (an absent password is empty). */
export function credentialsOf(entry: { username?: string; password?: string }): { username: string; password: string } | undefined {
  return entry.username === undefined ? undefined : { username: entry.username, password: entry.password ?? '' };
}

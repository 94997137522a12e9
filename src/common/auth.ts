import { createHash, timingSafeEqual } from 'node:crypto';

/** User name → password, from `authentication:` or a listener's `users:`. */
export type UserTable = ReadonlyMap<string, string>;

/** True when `username` exists and `password` matches; the comparison does not leak the password's length or content. */
export function checkCredentials(users: UserTable, username: string, password: string): boolean {
  const expected = users.get(username);
  const same = sameSecret(expected ?? '\0missing', password);
  return expected !== undefined && same;
}

/** True when `given` equals `expected`, compared as SHA-256 digests: the time taken tells nothing of either's length or content. */
export function sameSecret(expected: string, given: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(given));
}

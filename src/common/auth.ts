import { createHash, timingSafeEqual } from 'node:crypto';

/** User name → password, from `authentication:` or a listener's `users:`. */
export type UserTable = ReadonlyMap<string, string>;

/** True when `username` exists and `password` matches; the comparison does not leak the password's length or content. */
export function checkCredentials(users: UserTable, username: string, password: string): boolean {
  const expected = users.get(username);
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  const same = timingSafeEqual(digest(expected ?? '\0missing'), digest(password));
  return expected !== undefined && same;
}

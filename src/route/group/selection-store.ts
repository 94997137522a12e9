import { renameSync, writeFileSync } from 'node:fs';
import { maxStateBytes, readRegularFileSync } from '../../common/bounded-file.js';

/** Remembers each select group's choice in a small JSON file (mihomo's `profile.store-selected`). */
export class SelectionStore {
  private readonly choices: Record<string, string>;

  constructor(private readonly path: string) {
    let choices: Record<string, string> = {};
    try {
      const parsed: unknown = JSON.parse(readRegularFileSync(path, maxStateBytes).toString('utf8'));
      const selected = typeof parsed === 'object' && parsed !== null ? (parsed as { selected?: unknown }).selected : undefined;
      if (typeof selected === 'object' && selected !== null) choices = selected as Record<string, string>;
    } catch {
      // No cache yet, or unreadable: every group starts at its first member.
    }
    this.choices = choices;
  }

  /** The saved choice of a group. */
  get(group: string): string | undefined {
    const value = this.choices[group];
    return typeof value === 'string' ? value : undefined;
  }

  /** Saves a choice (written at once, atomically). */
  set(group: string, member: string): void {
    this.choices[group] = member;
    writeFileSync(`${this.path}.tmp`, JSON.stringify({ selected: this.choices }, null, 2));
    renameSync(`${this.path}.tmp`, this.path);
  }
}

// Files a config names — the config itself, rule providers, databases, geosite lists — are read
// only when they are regular files within a size limit, and only inside the config folder
// with symlinks resolved. A FIFO, /dev/zero or a symlink to them is an error at once, never
// a hang or an out-of-memory kill; a billion-laughs document is a clean error.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxConfigBytes, readRegularFile, readRegularFileSync } from '../../src/common/bounded-file.js';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';

const home = mkdtempSync(join(tmpdir(), 'sluice-files-'));
const outside = mkdtempSync(join(tmpdir(), 'sluice-files-out-'));

beforeAll(() => {
  execFileSync('mkfifo', [join(home, 'fifo.yaml')]);
  execFileSync('mkfifo', [join(home, 'fifo.list')]);
  symlinkSync('/dev/zero', join(home, 'zero.yaml'));
  symlinkSync('/dev/zero', join(home, 'zero.list'));
  writeFileSync(join(outside, 'rules.list'), 'example.com\n');
  symlinkSync(join(outside, 'rules.list'), join(home, 'escape.list'));
  writeFileSync(join(home, 'big.yaml'), '');
  truncateSync(join(home, 'big.yaml'), maxConfigBytes + 1);
});

afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** The problems of a config that must not load. */
function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, home);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('config was accepted');
}

const provider = (path: string): string => `rule-providers: { p: { type: file, behavior: domain, format: text, path: ${path} } }\nrules: ['RULE-SET,p,DIRECT', 'MATCH,DIRECT']`;

describe('files a config names', () => {
  it('refuses a config file that is a FIFO, /dev/zero or too large, at once', async () => {
    const started = Date.now();
    await expect(loadConfigFile(join(home, 'fifo.yaml'))).rejects.toThrow(/fifo\.yaml is not a regular file/);
    await expect(loadConfigFile(join(home, 'zero.yaml'))).rejects.toThrow(/zero\.yaml is not a regular file/);
    await expect(loadConfigFile(join(home, 'big.yaml'))).rejects.toThrow(/big\.yaml is larger than 16 MiB/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses rule-provider files that are FIFOs, devices, or symlinks out of the config folder', () => {
    expect(problems(provider('fifo.list'))[0]).toBe(`rule-providers.p: ${join(home, 'fifo.list')} is not a regular file`);
    // A symlink to /dev/zero leads out of the folder; a device node inside it (root only) is no regular file.
    expect(parseConfig(provider('zero.list'), home).warnings).toContain(
      `rule-providers.p: path "zero.list" is outside the config directory ${home} (symlinks resolved), so sluice neither reads nor writes it; the provider stays empty and its RULE-SET rules match nothing`,
    );
    if (process.getuid?.() === 0) {
      execFileSync('mknod', [join(home, 'zero-device.list'), 'c', '1', '5']);
      expect(problems(provider('zero-device.list'))[0]).toBe(`rule-providers.p: ${join(home, 'zero-device.list')} is not a regular file`);
    }
    expect(parseConfig(provider('escape.list'), home).warnings).toContain(
      `rule-providers.p: path "escape.list" is outside the config directory ${home} (symlinks resolved), so sluice neither reads nor writes it; the provider stays empty and its RULE-SET rules match nothing`,
    );
  });

  it('refuses a GeoIP database that is not a regular file, and GEOSITE names that are paths', () => {
    expect(problems(`geoip-database: zero.list\nrules: ['GEOIP,CN,DIRECT,no-resolve']`)[0]).toMatch(/zero\.list is not a regular file/);
    expect(problems(`rules: ['GEOSITE,../../../etc/x,DIRECT']`)[0]).toMatch(/GEOSITE category names are letters, digits and - _ ! @ \. \(no path\)/);
  });

  it('reads regular files within the limit, sync and async alike', async () => {
    writeFileSync(join(home, 'small.txt'), 'x'.repeat(3 << 20));
    expect(readRegularFileSync(join(home, 'small.txt'), 4 << 20).length).toBe(3 << 20);
    expect((await readRegularFile(join(home, 'small.txt'), 4 << 20)).length).toBe(3 << 20);
    expect(() => readRegularFileSync(join(home, 'small.txt'), 2 << 20)).toThrow(/larger than 2 MiB/);
  });

  it('refuses YAML nested past the limits at once (128k levels of "- " ran the yaml library out of memory)', () => {
    const cases: [string, RegExp][] = [
      ['- '.repeat(131_072), /^YAML: collections nest deeper than 256 levels at line 1$/],
      [`a: ${'[('.repeat(1 << 19)}`, /^YAML: \[ \] and \{ \} nest deeper than 64 levels at line 1$/],
      [`a: ${']'.repeat(1 << 20)}`, /^YAML: unbalanced '\]' at line 1$/],
    ];
    for (const [text, expected] of cases) {
      const started = Date.now();
      expect(problems(text)).toEqual([expect.stringMatching(expected)]);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect(parseConfig(`rules:\n  - DOMAIN-REGEX,^ad[s]?[0-9]*\\.,REJECT\n  - MATCH,DIRECT\n`).rules.length).toBe(2);
  });

  it('gives a billion-laughs document a clean error, not a stack trace', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    expect(problems(lines.join('\n'))).toEqual(['YAML: aliases expand too far (more than 1000 nodes through *references); the document is refused']);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

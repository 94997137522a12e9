import { expect, it } from 'vitest';

/**
 * Runs a test file again with the aead and vmess_kdf addons treated as not built (the
 * node:crypto fallbacks), after checking that they really are off. `tests` imports the file;
 * nothing may have loaded src/common/addon.ts before this runs.
 */
export async function withoutCryptoAddons(tests: () => Promise<unknown>): Promise<void> {
  process.env.SLUICE_DISABLE_ADDONS = 'aead,vmess_kdf';
  const { missingAddonWarnings } = await import('../../src/common/addon.js');
  it('runs without the aead and vmess_kdf addons, with one warning each saying what is slower', () => {
    const warnings = missingAddonWarnings();
    expect(warnings).toHaveLength(2);
    expect(warnings.join('\n')).toMatch(/aead addon is not built.*slower/);
  });
  await tests();
}

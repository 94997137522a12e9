/** The VMess KDF unit tests (held to an HMAC built from @noble/hashes), again with the aead and vmess_kdf addons treated as not built: the node:crypto paths. */
import { expect, it } from 'vitest';

process.env.SLUICE_DISABLE_ADDONS = 'aead,vmess_kdf';
const { missingAddonWarnings } = await import('../../src/common/addon.js');

it('runs without the aead and vmess_kdf addons, with one warning each saying what is slower', () => {
  const warnings = missingAddonWarnings();
  expect(warnings).toHaveLength(2);
  expect(warnings.join('\n')).toMatch(/aead addon is not built.*slower/);
});

await import('../unit/vmess-kdf.test.js');

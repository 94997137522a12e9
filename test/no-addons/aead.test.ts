/** The AEAD unit tests (held to @noble/ciphers and node:crypto), again with the aead and vmess_kdf addons treated as not built: the node:crypto paths. */
import { withoutCryptoAddons } from '../helpers/no-addons.js';

await withoutCryptoAddons(() => import('../unit/aead.test.js'));

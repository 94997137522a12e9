/** The VMess KDF unit tests (held to an HMAC built from @noble/hashes), again with the aead and vmess_kdf addons treated as not built: the node:crypto paths. */
import { withoutCryptoAddons } from '../helpers/no-addons.js';

await withoutCryptoAddons(() => import('../unit/vmess-kdf.test.js'));

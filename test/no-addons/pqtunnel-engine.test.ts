/** The tunnel engine tests (transport AEAD), again with the aead and vmess_kdf addons treated as not built: the node:crypto paths. */
import { withoutCryptoAddons } from '../helpers/no-addons.js';

await withoutCryptoAddons(() => import('../unit/pqtunnel-engine.test.js'));

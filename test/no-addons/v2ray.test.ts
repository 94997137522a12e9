/** The interop tests against Debian's v2ray 4.34, again with the aead and vmess_kdf addons treated as not built: the node:crypto paths. */
import { withoutCryptoAddons } from '../helpers/no-addons.js';

await withoutCryptoAddons(() => import('../interop/v2ray.test.js'));

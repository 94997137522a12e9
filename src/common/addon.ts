/** Loading the Node-API addons that `npm install` builds with node-gyp (binding.gyp). */
import { createRequire } from 'node:module';

const loaded = new Map<string, unknown>();

/**
 * Addons names listed in SLUICE_DISABLE_ADDONS (comma-separated) are treated as not built:
 * how the tests run the fallback paths, and how a user rules an addon out.
 */
const disabled = new Set((process.env.SLUICE_DISABLE_ADDONS ?? '').split(',').map((name) => name.trim()).filter(Boolean));

/**
 * Loads build/Release/NAME.node once; throws a clear error when it was not built. `T` is the
 * typed surface the caller declares for it.
 */
export function loadAddon<T>(name: string): T {
  let addon = loaded.get(name);
  if (addon === undefined) {
    try {
      if (disabled.has(name)) throw new Error('disabled by SLUICE_DISABLE_ADDONS');
      addon = createRequire(import.meta.url)(`../../build/Release/${name}.node`) as T;
    } catch (error) {
      addon = new Error(
        `the ${name} addon is not built (build/Release/${name}.node): run npm install with python3, make and g++ present (${(error as Error).message})`,
      );
    }
    loaded.set(name, addon);
  }
  if (addon instanceof Error) throw addon;
  return addon as T;
}

/** The addon when it is built, else `fallback`: for addons that only make something faster. */
export function addonOr<T>(name: string, fallback: T): T {
  try {
    return loadAddon<T>(name);
  } catch {
    return fallback;
  }
}

/** What runs slower without each optional addon. */
const optionalAddons: Record<string, string> = {
  aead: 'VMess and tunnel packets are sealed through node:crypto cipher objects (slower per chunk)',
  vmess_kdf: 'VMess key derivation runs on node:crypto hashes (about 6x slower per handshake)',
  sockopt: 'keep-alive probes follow keep-alive-idle but not keep-alive-interval, and interface-name and routing-mark fail every dial they apply to',
};

/** One warning per optional addon that is not built (none on a normal install); `sluice run` logs them. */
export function missingAddonWarnings(): string[] {
  const warnings: string[] = [];
  for (const [name, effect] of Object.entries(optionalAddons)) {
    try {
      loadAddon(name);
    } catch (error) {
      warnings.push(`${(error as Error).message}; working without it: ${effect}`);
    }
  }
  return warnings;
}

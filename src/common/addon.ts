/** Loading the Node-API addons that `npm install` builds with node-gyp (binding.gyp). */
import { createRequire } from 'node:module';

const loaded = new Map<string, unknown>();

/**
 * Loads build/Release/NAME.node once; throws a clear error when it was not built. `T` is the
 * typed surface the caller declares for it.
 */
export function loadAddon<T>(name: string): T {
  let addon = loaded.get(name);
  if (addon === undefined) {
    try {
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

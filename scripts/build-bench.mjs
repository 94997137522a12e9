// After `tsc -p tsconfig.bench.json`: points dist-bench/bench/ at the built dist/, so the
// benchmarks measure the very code `npm start` runs (its addons, bundled files and paths); they
// are not part of the package.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('../dist-bench/', import.meta.url);
// tsc also emitted the src/ modules bench imports; bench uses dist/'s instead.
rmSync(new URL('src/', out), { recursive: true, force: true });
const dir = new URL('bench/', out);
for (const name of readdirSync(dir).filter((file) => file.endsWith('.js'))) {
  const file = new URL(name, dir);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/(['"])\.\.\/src\//g, '$1../../dist/'));
}

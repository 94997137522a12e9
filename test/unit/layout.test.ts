/** The shape DESIGN §2 asks for, checked on the tree: no import cycle in src/, small files, groups told apart by interface. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sources(root);
const text = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));

/** Relative imports of a file (type-only ones included: a cycle of types is still a knot to untie), as absolute .ts paths. */
function importsOf(file: string): string[] {
  const found: string[] = [];
  for (const match of text.get(file)!.matchAll(/^(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gms)) {
    found.push(resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** Every import cycle, each as the list of files around it (Tarjan's strongly connected components). */
function cycles(): string[][] {
  const graph = new Map(files.map((file) => [file, importsOf(file).filter((target) => text.has(target))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file)!) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(relative(root, member));
    } while (member !== file);
    if (component.length > 1 || graph.get(file)!.includes(file)) found.push(component.sort());
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return found;
}

describe('src/ layout', () => {
  it('has no import cycle', () => {
    expect(cycles()).toEqual([]);
  });

  it('finds the imports it checks (the check itself works)', () => {
    expect(importsOf(join(root, 'box.ts'))).toContain(join(root, 'registry.ts'));
  });

  it('has no file over 300 lines', () => {
    const long = files.map((file) => [relative(root, file), text.get(file)!.split('\n').length - 1] as const).filter(([, lines]) => lines > 300);
    expect(long).toEqual([]);
  });

  it('tells groups apart by interface: no instanceof on a group class outside route/group/', () => {
    const groupClass = /instanceof\s+(Group|SelectGroup|AutoGroup|LoadBalanceGroup|RelayGroup)\b/;
    const offenders = files.filter((file) => !relative(root, file).startsWith('route/group/') && groupClass.test(text.get(file)!));
    expect(offenders.map((file) => relative(root, file))).toEqual([]);
  });
});

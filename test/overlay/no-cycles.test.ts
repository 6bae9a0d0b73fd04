/**
 * The overlay core's modules import each other without a cycle (type-only imports included): each
 * job of the node is a module that depends only on those below it, so any one of them can be read
 * and tested alone. A cycle found here names its path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const overlay = join(root, 'src/overlay');

/** Relative imports and re-exports of one file, as paths of .ts files under the repo. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"](\.[^'"]+)['"]/gms)) {
    found.push(normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return found;
}

/** The first cycle of an import graph (file -> the files it imports), as a path, or null. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === 'done') return null;
    if (state.get(f) === 'open') return [...stack.slice(stack.indexOf(f)), f];
    state.set(f, 'open');
    stack.push(f);
    for (const next of graph.get(f) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    const cycle = visit(f);
    if (cycle) return cycle;
  }
  return null;
}

function overlayGraph(): Map<string, string[]> {
  const files = readdirSync(overlay).filter((f) => f.endsWith('.ts')).map((f) => join(overlay, f));
  return new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
}

test('src/overlay has no import cycle', () => {
  const graph = overlayGraph();
  expect(graph.size).toBeGreaterThan(10);
  const cycle = findCycle(graph);
  expect(cycle?.map((f) => relative(root, f)).join(' -> ') ?? null).toBeNull();
});

test('the check sees imports (type-only ones and re-exports too) and reports a cycle', () => {
  const graph = overlayGraph();
  const handlers = join(overlay, 'handlers.ts');
  const recursive = join(overlay, 'recursive.ts');
  const context = join(overlay, 'context.ts');
  expect(graph.get(handlers)).toContain(recursive); // a value import
  expect(graph.get(handlers)).toContain(context); // a type-only import
  expect(graph.get(join(overlay, 'index.ts'))).toContain(join(overlay, 'node.ts')); // a re-export
  // recursive.ts importing handlers.ts back would close a loop: the search must name it.
  graph.set(recursive, [...graph.get(recursive)!, handlers]);
  expect(findCycle(graph)?.map((f) => relative(overlay, f))).toEqual(expect.arrayContaining(['handlers.ts', 'recursive.ts']));
});

// Fails when relative imports between workspace .ts files form a cycle, or when workspace
// packages depend on each other in a cycle. Cheap enough to run with every `npm test`.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const importPattern = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm;

function tsFiles(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) tsFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const files = ['packages', 'services', 'test'].flatMap((d) => {
  try { return tsFiles(join(repoRoot, d)); } catch { return []; }
});
const packageOf = (file) => /^(packages|services)\/([^/]+)\//.exec(relative(repoRoot, file))?.slice(1).join('/');
const graph = new Map();
const packageGraph = new Map();
for (const file of files) {
  const source = readFileSync(file, 'utf8');
  const edges = [];
  for (const [, spec] of source.matchAll(importPattern)) {
    if (spec.startsWith('.')) edges.push(resolve(dirname(file), spec));
    else if (spec.startsWith('@gradcam/') && !file.endsWith('.test.ts')) {
      const from = packageOf(file);
      const to = `packages/${spec.split('/')[1]}`;
      if (from && from !== to) packageGraph.set(from, new Set([...(packageGraph.get(from) ?? []), to]));
    }
  }
  graph.set(file, edges);
}

function findCycle(nodes) {
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of nodes.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of nodes.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return undefined;
}

const cycle = findCycle(graph) ?? findCycle(packageGraph);
if (cycle) {
  console.error(`circular import: ${cycle.map((f) => relative(repoRoot, f)).join(' → ')}`);
  process.exit(1);
}
console.log(`no circular imports (${files.length} files, ${packageGraph.size} packages with workspace dependencies)`);

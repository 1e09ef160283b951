// Bytes allocated by function in .heapprofile files (heap-sample-preload.mjs), merged: by the
// function that allocated them, and by each workspace function with all it called. With
// `--rate R` (records/s offered by a paced benchmark) also the bytes per record: the total over
// R × the longest time a process sampled (the processes sample side by side).
//   node scripts/profiling/heap-summary.mjs [--rate R] <files…>
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const args = process.argv.slice(2);
const rate = args[0] === '--rate' ? Number(args[1]) : undefined;
const files = rate === undefined ? args : args.slice(2);
if (files.length === 0 || (rate !== undefined && !(rate > 0))) {
  console.error('usage: node scripts/profiling/heap-summary.mjs [--rate R] <.heapprofile files…>');
  process.exit(1);
}
const bySelf = new Map();
const byWorkspace = new Map();
const add = (map, key, bytes) => map.set(key, (map.get(key) ?? 0) + bytes);
let total = 0;
function walk(node, workspaceAbove) {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || '(anonymous)'} ${basename(url || '')}:${lineNumber + 1}`;
  const inWorkspace = /\/(packages|services)\//.test(url) && !url.includes('node_modules');
  const workspace = inWorkspace ? new Set([...workspaceAbove, name]) : workspaceAbove;
  total += node.selfSize;
  add(bySelf, name, node.selfSize);
  for (const frame of workspace) add(byWorkspace, frame, node.selfSize);
  for (const child of node.children) walk(child, workspace);
}
let seconds = 0;
for (const file of files) {
  walk(JSON.parse(readFileSync(file, 'utf8')).head, new Set());
  const sidecar = file.replace(/\.heapprofile$/, '.json');
  if (existsSync(sidecar)) seconds = Math.max(seconds, JSON.parse(readFileSync(sidecar, 'utf8')).seconds);
}
const top = (map, count) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${(bytes / 1e6).toFixed(1).padStart(8)} MB ${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${name}`)
    .join('\n');
const perRecord = rate !== undefined && seconds > 0 ? `, ${(total / (rate * seconds) / 1000).toFixed(1)} KB per record at ${rate}/s over ${seconds.toFixed(1)} s` : '';
console.log(`${files.length} profiles, ${(total / 1e6).toFixed(0)} MB allocated (sampled)${perRecord}\n-- by allocating function --\n${top(bySelf, 30)}\n-- by workspace function, with its callees --\n${top(byWorkspace, 20)}`);

// Runs every *.test.ts in the workspace through Node's own test runner.
// Node 20's `--test` has no glob support, so the file list is collected here.
// Usage: node scripts/test.mjs [filters…]  (a file runs when its path contains any filter)
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const roots = ['packages', 'services', 'test'].map((root) => join(repoRoot, root));
const skip = new Set(['node_modules', 'dist', '.turbo']);

function collect(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(repoRoot, path));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = roots.flatMap((root) => collect(root, [])).filter(
  (file) => filters.length === 0 || filters.some((f) => file.includes(f)),
).sort();
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}
// The pipeline tests each run the whole stack (engine processes, ingest, exporter, Prometheus) and
// hold job locks of seconds: two at once on a 2-core machine can starve one past its lock. They
// run one at a time, after the rest, which run three at a time: many of them wait (an outage of
// 20 s, a lease running out, a shutdown deadline) while the CPU has room: on a 2-core machine
// (with other work on it) a third file cut this group from 769 s to 590 s. GRADCAM_TEST_CONCURRENCY
// sets another number.
const alone = (file) => file.startsWith(join('test', 'pipeline') + '/');
const filesAtOnce = Number(process.env.GRADCAM_TEST_CONCURRENCY ?? 3);
if (!Number.isInteger(filesAtOnce) || filesAtOnce < 1) {
  console.error(`GRADCAM_TEST_CONCURRENCY must be a whole number of files at once (1 or more), not ${process.env.GRADCAM_TEST_CONCURRENCY}`);
  process.exit(2);
}
// The spec reporter for people, then the slowest files: where CI's time goes.
const reporters = [
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${join(repoRoot, 'scripts', 'slowest-files-reporter.mjs')}`, '--test-reporter-destination=stdout',
];
let status = 0;
for (const [group, concurrency] of [[files.filter((f) => !alone(f)), filesAtOnce], [files.filter(alone), 1]]) {
  if (group.length === 0) continue;
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...reporters, ...group],
    { stdio: 'inherit', cwd: repoRoot },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);

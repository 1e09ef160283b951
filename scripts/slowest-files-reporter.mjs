// A node:test reporter that ends a run with its slowest test files, so a CI log shows where the
// suite's time goes (CI should finish well inside its limit; this says what to make faster).
// A file's time is the sum of its top-level tests' durations: its module's own setup (a Redis
// started by a top-level await) is not in it.
const shown = 12;

export default async function* slowestFiles(source) {
  const byFile = new Map();
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0) continue;
    const file = event.data.file ?? '(unknown file)';
    const entry = byFile.get(file) ?? { ms: 0, tests: 0 };
    entry.ms += event.data.details?.duration_ms ?? 0;
    entry.tests += 1;
    byFile.set(file, entry);
  }
  if (byFile.size === 0) return;
  const slowest = [...byFile].sort((a, b) => b[1].ms - a[1].ms).slice(0, shown);
  const cwd = process.cwd() + '/';
  yield `\nslowest test files (sum of their tests' durations):\n`;
  for (const [file, { ms, tests }] of slowest) {
    yield `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${String(tests).padStart(3)} tests  ${file.startsWith(cwd) ? file.slice(cwd.length) : file}\n`;
  }
}

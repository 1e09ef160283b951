// What `npm run bench:memory` reads from a worker replica's /metrics and how it prints it. Kept
// apart from the run itself (scripts/memory-bench.ts) so a test can check it without a worker.

/** One engine process's memory as its replica's /metrics gives it, in bytes (tensors: a count). */
export interface MemoryFigures {
  readonly rssBytes: number;
  readonly externalBytes: number;
  readonly heapUsedBytes: number;
  readonly tensors: number;
  /** The WebAssembly heap: 0 on a backend without one. */
  readonly wasmHeapBytes: number;
  /** Engine calls so far by their size (the batch-size histogram's buckets, which are powers of 2). */
  readonly engineCalls: Readonly<Record<string, number>>;
  readonly jobsCompleted: number;
  readonly jobsFailed: number;
}

/** One row: a phase of a run, or a soak sample. */
export interface MemoryRow extends MemoryFigures {
  readonly run: string;
  readonly phase: string;
  /** Images pushed in this phase (a soak sample: since the one before). */
  readonly images: number;
  /** Engine calls this phase made, by size ("8": 1): the difference of the histograms. */
  readonly phaseEngineCalls: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly loadAverage: number;
}

const series = (text: string, name: string, worker: string): { labels: string; value: number }[] =>
  [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))]
    .filter((m) => new RegExp(`(^|,)worker="${worker}"(,|$)`).test(m[1] as string))
    .map((m) => ({ labels: m[1] as string, value: Number(m[2]) }));

/**
 * The figures of engine process `worker` (its `worker` label) in a replica's /metrics text. A
 * series the text lacks reads 0, except the process's own memory, which every engine process
 * exports: that one missing is an error (the process is not reporting).
 */
export function parseMemoryFigures(text: string, worker = '0'): MemoryFigures {
  const one = (name: string, required: boolean) => {
    const found = series(text, name, worker)[0];
    if (found === undefined && required) throw new Error(`${name}{worker="${worker}"} is not in /metrics`);
    return found?.value ?? 0;
  };
  const cumulative = series(text, 'gradcam_worker_batch_size_bucket', worker)
    .map(({ labels, value }) => ({ le: /le="([^"]+)"/.exec(labels)?.[1] as string, value }))
    .filter(({ le }) => le !== '+Inf')
    .sort((a, b) => Number(a.le) - Number(b.le));
  const engineCalls: Record<string, number> = {};
  let below = 0;
  for (const { le, value } of cumulative) {
    if (value - below > 0) engineCalls[le] = value - below;
    below = value;
  }
  const jobs = (outcome: string) => series(text, 'gradcam_worker_jobs_total', worker).find((s) => s.labels.includes(`outcome="${outcome}"`))?.value ?? 0;
  return {
    rssBytes: one('process_resident_memory_bytes', true),
    externalBytes: one('nodejs_external_memory_bytes', true),
    heapUsedBytes: one('nodejs_heap_size_used_bytes', true),
    tensors: one('gradcam_worker_engine_tensors', false),
    wasmHeapBytes: one('gradcam_worker_wasm_memory_bytes', false),
    engineCalls,
    jobsCompleted: jobs('completed'),
    jobsFailed: jobs('failed'),
  };
}

/** The engine calls made between two readings, by size. */
export function engineCallsBetween(before: MemoryFigures['engineCalls'], after: MemoryFigures['engineCalls']): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [size, count] of Object.entries(after)) if (count - (before[size] ?? 0) > 0) calls[size] = count - (before[size] ?? 0);
  return calls;
}

const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(0);

/** "2×8, 1×4": the engine calls of a phase ("≤8": the histogram bucket, exact for powers of 2). */
export function describeCalls(calls: Readonly<Record<string, number>>): string {
  const entries = Object.entries(calls).sort((a, b) => Number(b[0]) - Number(a[0]));
  return entries.length === 0 ? '–' : entries.map(([size, count]) => `${count}×${size}`).join(', ');
}

/** The rows as a table, MB in MiB. */
export function memoryTable(rows: readonly MemoryRow[]): string {
  const header = ['run', 'phase', 'images', 'engine calls', 'wasm heap MB', 'tensors', 'heap used MB', 'external MB', 'RSS MB', 'jobs done', 'load'];
  const body = rows.map((r) => [
    r.run,
    r.phase,
    String(r.images),
    describeCalls(r.phaseEngineCalls),
    r.wasmHeapBytes === 0 ? '–' : mb(r.wasmHeapBytes),
    String(r.tensors),
    mb(r.heapUsedBytes),
    mb(r.externalBytes),
    mb(r.rssBytes),
    String(r.jobsCompleted),
    r.loadAverage.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The spread of one figure over soak samples, as "min–max MB" (or a count). */
export function spread(rows: readonly MemoryRow[], pick: (row: MemoryRow) => number, unit: 'MB' | 'count'): string {
  if (rows.length === 0) return '–';
  const values = rows.map(pick);
  const [low, high] = [Math.min(...values), Math.max(...values)];
  const show = unit === 'MB' ? mb : String;
  return low === high ? `${show(low)}${unit === 'MB' ? ' MB' : ''}` : `${show(low)}–${show(high)}${unit === 'MB' ? ' MB' : ''}`;
}

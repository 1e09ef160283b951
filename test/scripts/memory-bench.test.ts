import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type MemoryRow, describeCalls, engineCallsBetween, memoryTable, parseMemoryFigures } from '../../scripts/memory-bench-report.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// A replica's /metrics as the supervisor sums it: engine process 0, and the supervisor's own series.
const metrics = `# HELP process_resident_memory_bytes Resident memory size in bytes.
process_resident_memory_bytes{worker="supervisor"} 61000000
process_resident_memory_bytes{worker="0"} 414000000
nodejs_external_memory_bytes{worker="0"} 126877696
nodejs_heap_size_used_bytes{worker="0"} 81788928
gradcam_worker_engine_tensors{worker="0"} 268
gradcam_worker_wasm_memory_bytes{worker="0"} 104857600
gradcam_worker_batch_size_bucket{le="1",worker="0"} 1
gradcam_worker_batch_size_bucket{le="2",worker="0"} 2
gradcam_worker_batch_size_bucket{le="4",worker="0"} 2
gradcam_worker_batch_size_bucket{le="8",worker="0"} 4
gradcam_worker_batch_size_bucket{le="+Inf",worker="0"} 4
gradcam_worker_jobs_total{outcome="completed",worker="0"} 19
gradcam_worker_jobs_total{outcome="failed",worker="0"} 0
`;

test("the figures of one engine process from a replica's /metrics: memory, tensors, the WebAssembly heap, its engine calls by size", () => {
  const figures = parseMemoryFigures(metrics);
  assert.deepEqual(figures, {
    rssBytes: 414_000_000,
    externalBytes: 126_877_696,
    heapUsedBytes: 81_788_928,
    tensors: 268,
    wasmHeapBytes: 104_857_600,
    engineCalls: { '1': 1, '2': 1, '8': 2 },
    jobsCompleted: 19,
    jobsFailed: 0,
  });
  assert.deepEqual(engineCallsBetween({ '1': 1, '2': 1 }, figures.engineCalls), { '8': 2 });
  assert.equal(describeCalls({ '1': 1, '8': 2 }), '2×8, 1×1');
  assert.throws(() => parseMemoryFigures(metrics, '1'), /process_resident_memory_bytes\{worker="1"\} is not in \/metrics/);
  const row: MemoryRow = { run: 'r', phase: 'batch of 8', images: 8, ...figures, phaseEngineCalls: { '8': 1 }, seconds: 3, loadAverage: 1.5 };
  assert.match(memoryTable([row]), /\| r +\| batch of 8 \| +8 \| +1×8 \| +100 \| +268 \| +78 \| +121 \| +395 \| +19 \| +1\.5 \|$/m);
});

test('npm run bench:memory -- --json with one small phase: a real worker, the figures of each phase and the load average', { timeout: 300_000 }, async () => {
  // The shape of what it prints, not its figures: memory depends on the host, and no speed is checked.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/memory-bench.ts', '--batches', '1', '--all-methods', '0', '--json'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as { host: { cpus: number; loadAverage: { start: number; end: number } }; noisy: boolean; rows: MemoryRow[] };
  assert.ok(report.host.cpus > 0 && report.host.loadAverage.start >= 0);
  assert.deepEqual(report.rows.map((r) => r.phase), ['ready (warmed up)', 'batch of 1']);
  const [ready, one] = report.rows as [MemoryRow, MemoryRow];
  assert.deepEqual(one.phaseEngineCalls, { '1': 1 }, 'the job ran as one engine call of 1');
  assert.equal(one.jobsCompleted, 1);
  for (const row of [ready, one]) {
    assert.ok(row.rssBytes > 0 && row.externalBytes > 0 && row.heapUsedBytes > 0, JSON.stringify(row));
    assert.ok(row.tensors > 0 && row.wasmHeapBytes > 0, `the engine gauges are exported: ${JSON.stringify(row)}`);
  }
  assert.equal(one.tensors, ready.tensors, 'no tensor left behind by the job');
  assert.ok(one.wasmHeapBytes >= ready.wasmHeapBytes, 'the WebAssembly heap never shrinks');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry } from '@gradcam/telemetry';
import { createWorkerTelemetry } from './worker-telemetry.ts';

test('every job outcome and every stage is exported at 0 before the first job, so rate() counts the first jobs and batch', async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createWorkerTelemetry(registry);
  let text = await registry.metrics();
  for (const outcome of ['completed', 'failed', 'retried', 'deferred']) assert.match(text, new RegExp(`^gradcam_worker_jobs_total\\{outcome="${outcome}"\\} 0$`, 'm'));
  for (const stage of ['decode', 'engine', 'render', 'upload']) assert.match(text, new RegExp(`^gradcam_worker_stage_duration_seconds_count\\{stage="${stage}"\\} 0$`, 'm'));
  telemetry.job('completed');
  telemetry.batch({ engineCalls: [1], stageSeconds: { decode: 0.5, engine: 2, render: 0.25, upload: 0.125 } });
  text = await registry.metrics();
  assert.match(text, /^gradcam_worker_jobs_total\{outcome="completed"\} 1$/m);
  assert.match(text, /^gradcam_worker_stage_duration_seconds_count\{stage="engine"\} 1$/m);
});

test("the storage problem gauge: every code 0 from the start, 1 for the outage's code while out, all 0 again once storage answers", async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createWorkerTelemetry(registry);
  const problems = async () => {
    const text = await registry.metrics();
    return Object.fromEntries([...text.matchAll(/^gradcam_worker_storage_problem\{code="(\w+)"\} (\d)$/gm)].map((m) => [m[1], Number(m[2])]));
  };
  assert.deepEqual(await problems(), { STORAGE_UNAVAILABLE: 0, STORAGE_BUCKET_NOT_FOUND: 0, STORAGE_ACCESS_DENIED: 0 });
  telemetry.storage('STORAGE_ACCESS_DENIED');
  assert.deepEqual(await problems(), { STORAGE_UNAVAILABLE: 0, STORAGE_BUCKET_NOT_FOUND: 0, STORAGE_ACCESS_DENIED: 1 });
  telemetry.storage('STORAGE_UNAVAILABLE');
  assert.deepEqual(await problems(), { STORAGE_UNAVAILABLE: 1, STORAGE_BUCKET_NOT_FOUND: 0, STORAGE_ACCESS_DENIED: 0 });
  telemetry.storage(undefined);
  assert.deepEqual(await problems(), { STORAGE_UNAVAILABLE: 0, STORAGE_BUCKET_NOT_FOUND: 0, STORAGE_ACCESS_DENIED: 0 });
});

test('the engine gauges: tensors on every backend, the WebAssembly heap where there is one (0 elsewhere)', async () => {
  const registry = createRegistry({ defaultMetrics: false });
  const telemetry = createWorkerTelemetry(registry);
  telemetry.engineMemory({ tensors: 268 });
  let text = await registry.metrics();
  assert.match(text, /^gradcam_worker_engine_tensors 268$/m);
  assert.match(text, /^gradcam_worker_wasm_memory_bytes 0$/m);
  telemetry.engineMemory({ tensors: 268, wasmHeapBytes: 262_144_000 });
  text = await registry.metrics();
  assert.match(text, /^gradcam_worker_wasm_memory_bytes 262144000$/m);
});

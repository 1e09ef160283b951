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

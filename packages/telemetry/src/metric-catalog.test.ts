import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricCatalog, pipelineMetrics, workerMetrics } from './metric-catalog.ts';
import { catalogProblems, metricConventionProblems } from './metric-conventions.ts';

test('every metric in the catalog follows the naming and label conventions', () => {
  assert.ok(metricCatalog.length > 0);
  assert.deepEqual(catalogProblems(metricCatalog), []);
});

test('the convention check catches what it is meant to catch', () => {
  const base = { help: 'h', labelNames: [] } as const;
  const problems = (definition: Parameters<typeof metricConventionProblems>[0]) => metricConventionProblems(definition).join('\n');
  assert.match(problems({ ...base, type: 'counter', name: 'jobs_total' }), /gradcam_ prefix/);
  assert.match(problems({ ...base, type: 'counter', name: 'gradcam_jobs' }), /end in _total/);
  assert.match(problems({ ...base, type: 'gauge', name: 'gradcam_jobs_total' }), /only counters/);
  assert.match(problems({ ...base, type: 'histogram', name: 'gradcam_request_duration_ms', buckets: [1] }), /seconds/);
  assert.match(problems({ ...base, type: 'histogram', name: 'gradcam_size', buckets: [1, 4, 2] }), /strictly increasing/);
  assert.match(problems({ ...base, type: 'histogram', name: 'gradcam_size', buckets: [] }), /needs buckets/);
  assert.match(problems({ ...base, type: 'counter', name: 'gradcam_x_total', labelNames: ['inferenceId'] }), /series per item/);
  assert.match(problems({ ...base, type: 'counter', name: 'gradcam_x_total', labelNames: ['id'] }), /series per item/);
  assert.match(problems({ ...base, type: 'histogram', name: 'gradcam_x', buckets: [1], labelNames: ['le'] }), /reserved/);
  assert.match(catalogProblems([{ ...base, type: 'gauge', name: 'gradcam_x' }, { ...base, type: 'gauge', name: 'gradcam_x' }]).join('\n'), /more than once/);
});

test('histograms reach the largest values the pipeline allows, so no quantile is clipped at a low top bucket', () => {
  // A backlog can last hours: an e2e latency of 40 min must land in a finite bucket.
  assert.ok((pipelineMetrics.e2eLatency.buckets.at(-1) ?? 0) >= 7200, 'e2e latency buckets reach 2 h');
  assert.ok(pipelineMetrics.e2eLatency.buckets.includes(3600));
  // GRADCAM_BATCH_SIZE allows up to 256 images per engine call (packages/config).
  for (const histogram of [pipelineMetrics.batchSize, workerMetrics.batchSize]) {
    assert.ok(histogram.buckets.includes(128) && histogram.buckets.at(-1) === 256, `${histogram.name} buckets reach 256`);
  }
});

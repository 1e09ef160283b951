import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from './create-metrics.ts';
import { ingestMetrics, metricCatalog, pipelineMetrics, reviewMetrics, workerMetrics } from './metric-catalog.ts';
import { createRegistry, metricsResponse } from './registry.ts';

test('creates a group’s metrics and renders them in the exposition format', async () => {
  const registry = createRegistry();
  const metrics = createMetrics(registry, workerMetrics);
  metrics.jobs.inc({ outcome: 'completed' }, 3);
  metrics.batchSize.observe(8);
  metrics.stageDuration.observe({ stage: 'engine' }, 0.3);
  metrics.backendInfo.set({ backend: 'wasm', model: 'mobilenet' }, 1);
  // @ts-expect-error: label names are typed from the catalog (and prom-client checks them at run time)
  assert.throws(() => metrics.jobs.inc({ result: 'completed' }), /not included in initial labelset/);

  const { contentType, body } = await metricsResponse(registry);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.match(body, /# TYPE gradcam_worker_jobs_total counter/);
  assert.match(body, /^gradcam_worker_jobs_total\{outcome="completed"\} 3$/m);
  assert.match(body, /^gradcam_worker_batch_size_bucket\{le="8"\} 1$/m);
  assert.match(body, /^gradcam_worker_batch_size_bucket\{le="4"\} 0$/m);
  assert.match(body, /^gradcam_worker_stage_duration_seconds_count\{stage="engine"\} 1$/m);
  assert.match(body, /^gradcam_worker_backend_info\{backend="wasm",model="mobilenet"\} 1$/m);
  assert.doesNotMatch(body, /^(process|nodejs)_/m, 'runtime metrics only when asked for');
});

test('every catalog group can be created, and the registry holds exactly the catalog', async () => {
  const registry = createRegistry();
  createMetrics(registry, ingestMetrics);
  createMetrics(registry, workerMetrics);
  createMetrics(registry, pipelineMetrics);
  createMetrics(registry, reviewMetrics);
  const names = registry.getMetricsAsArray().map((metric) => metric.name);
  assert.deepEqual(names.sort(), metricCatalog.map((definition) => definition.name).sort());
  assert.throws(() => createMetrics(registry, workerMetrics), /already been registered/);
});

test('two registries share no state', async () => {
  const a = createRegistry();
  const b = createRegistry();
  const metricsA = createMetrics(a, workerMetrics);
  createMetrics(b, workerMetrics);
  metricsA.jobs.inc({ outcome: 'failed' });
  assert.match((await metricsResponse(a)).body, /^gradcam_worker_jobs_total\{outcome="failed"\} 1$/m);
  assert.doesNotMatch((await metricsResponse(b)).body, /outcome="failed"/);
});

test('runtime metrics keep their standard names, and default labels reach every series', async () => {
  const registry = createRegistry({ defaultMetrics: true, defaultLabels: { service: 'worker' } });
  createMetrics(registry, pipelineMetrics).workers.set(2);
  const { body } = await metricsResponse(registry);
  assert.match(body, /^process_cpu_seconds_total\{service="worker"\} /m);
  assert.match(body, /^nodejs_heap_size_used_bytes\{service="worker"\} /m);
  assert.match(body, /^gradcam_workers\{service="worker"\} 2$/m);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExplainJob, type ExplainJobResult, camMethodSchema, jobFailureCodes } from '@gradcam/contracts';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import { PipelineRecorder } from './pipeline-recorder.ts';

function recorder() {
  const registry = createRegistry({ defaultMetrics: false });
  return { registry, recorder: new PipelineRecorder(createMetrics(registry, pipelineMetrics)) };
}

const result: ExplainJobResult = {
  manifestKey: 'out/a/explanation.json',
  model: 'm',
  methods: ['gradcam', 'layercam'],
  explanations: 4, // 2 methods × top-2
  acceptedAt: 1_000,
  storedAt: 3_000,
  batchSize: 3,
  batchLeader: true,
  stageSeconds: { decode: 0.5, engine: 2, render: 0.25, upload: 0.125 },
};

test('batch figures: one gradcam_batch_size sample per engine call, stage durations once per batch, also when no image reached the engine', async () => {
  const { registry, recorder: r } = recorder();
  const figures = JSON.stringify({ engineCalls: [3, 1], stageSeconds: result.stageSeconds });
  assert.ok(r.batch({ figures }));
  assert.ok(r.batch({ figures: JSON.stringify({ engineCalls: [], stageSeconds: result.stageSeconds }) }));
  for (const bad of [undefined, {}, { figures: '{' }, { figures: JSON.stringify({ engineCalls: [0], stageSeconds: result.stageSeconds }) }, { figures: JSON.stringify({ engineCalls: [1], stageSeconds: { decode: 1 } }) }]) {
    assert.equal(r.batch(bad), undefined, JSON.stringify(bad));
  }
  // A completed job's result no longer adds batch figures: they would be counted twice.
  assert.ok(r.completed(JSON.stringify(result)));
  const text = await registry.metrics();
  assert.match(text, /^gradcam_batch_size_count 2$/m);
  assert.match(text, /^gradcam_batch_size_sum 4$/m);
  assert.match(text, /^gradcam_stage_duration_seconds_count\{stage="decode"\} 2$/m);
  assert.match(text, /^gradcam_stage_duration_seconds_sum\{stage="engine"\} 4$/m);
});

test('gradcam_explanations_total counts failed jobs in the unit of completed ones: method (once) × class', async () => {
  const { registry, recorder: r } = recorder();
  r.completed(result); // 2 per method
  const job = (explain: ExplainJob['explain']): ExplainJob => ({ ...explainJobFixture('f-1'), model: { name: 'm', version: '1' }, explain });
  r.failed('IMAGE_INVALID: bad', job({ methods: ['gradcam', 'layercam', 'gradcam'], topK: 2 })); // 2 per method
  r.failed('IMAGE_INVALID: bad', job({ methods: ['gradcam'], classes: [0, 1, 4] })); // 3
  r.failed('IMAGE_INVALID: bad', job({})); // Grad-CAM of the predicted class: 1
  r.failed('IMAGE_INVALID: bad', undefined); // job gone: only the failure count
  const text = await registry.metrics();
  assert.match(text, /^gradcam_explanations_total\{model="m",method="gradcam",outcome="completed"\} 2$/m);
  assert.match(text, /^gradcam_explanations_total\{model="m",method="layercam",outcome="completed"\} 2$/m);
  assert.match(text, /^gradcam_explanations_total\{model="m",method="gradcam",outcome="failed"\} 6$/m);
  assert.match(text, /^gradcam_explanations_total\{model="m",method="layercam",outcome="failed"\} 2$/m);
  assert.match(text, /^gradcam_jobs_failed_total\{code="IMAGE_INVALID"\} 4$/m);
});

test('a failed job whose data fails the schema (JOB_INVALID) is counted as a failure only, and recording it never throws', async () => {
  const { registry, recorder: r } = recorder();
  const model = { name: 'm', version: '1' };
  for (const data of [{ inferenceId: 'bad-1', hand: 'written' }, { ...explainJobFixture('bad-2'), explain: undefined }, { model, explain: { classes: 'all' } }, null, 'text', 7]) {
    assert.doesNotThrow(() => r.failed('JOB_INVALID: model: Required', data), JSON.stringify(data));
  }
  const text = await registry.metrics();
  assert.match(text, /^gradcam_jobs_failed_total\{code="JOB_INVALID"\} 6$/m);
  assert.doesNotMatch(text, /outcome="failed"/);
});

test('failed explanations count the distinct classes asked for, as the engine explains them', async () => {
  const { registry, recorder: r } = recorder();
  r.failed('IMAGE_INVALID: bad', { ...explainJobFixture('f-2'), explain: { classes: [3, 3, 1, 3] } });
  assert.match(await registry.metrics(), /^gradcam_explanations_total\{model="mobilenet",method="gradcam",outcome="failed"\} 2$/m);
});

test('every stable failure code and every stage is exported at 0 before any failure or batch, so increase() and rate() count the first ones', async () => {
  const { registry } = recorder();
  const text = await registry.metrics();
  assert.ok(jobFailureCodes.length > 4);
  for (const code of ['JOB_INVALID', 'BATCH_FAILED', 'JOB_FAILED', 'JOB_STALLED', 'IMAGE_CORRUPT', 'CLASS_OUT_OF_RANGE', 'STORAGE_UNAVAILABLE', ...jobFailureCodes]) {
    assert.match(text, new RegExp(`^gradcam_jobs_failed_total\\{code="${code}"\\} 0$`, 'm'));
  }
  for (const stage of ['decode', 'engine', 'render', 'upload']) {
    assert.match(text, new RegExp(`^gradcam_stage_duration_seconds_count\\{stage="${stage}"\\} 0$`, 'm'));
    assert.match(text, new RegExp(`^gradcam_stage_duration_seconds_bucket\\{le="\\+Inf",stage="${stage}"\\} 0$`, 'm'));
  }
});

test("a model's images explained, e2e latency and explanations (each method, both outcomes) are exported at 0 once it is known, and counting goes on from there", async () => {
  const { registry, recorder: r } = recorder();
  assert.doesNotMatch(await registry.metrics(), /model="m"/, 'no model made up');
  r.models(new Set(['m']));
  let text = await registry.metrics();
  assert.match(text, /^gradcam_images_explained_total\{model="m"\} 0$/m);
  assert.match(text, /^gradcam_e2e_latency_seconds_count\{model="m"\} 0$/m);
  assert.match(text, /^gradcam_e2e_latency_seconds_bucket\{le="\+Inf",model="m"\} 0$/m);
  for (const method of camMethodSchema.options) {
    for (const outcome of ['completed', 'failed']) assert.ok(text.includes(`gradcam_explanations_total{model="m",method="${method}",outcome="${outcome}"} 0`), `${method} ${outcome}`);
  }
  r.completed(result);
  r.models(new Set(['m'])); // told again at the next scrape: the counts stay
  text = await registry.metrics();
  assert.match(text, /^gradcam_images_explained_total\{model="m"\} 1$/m);
  assert.match(text, /^gradcam_e2e_latency_seconds_count\{model="m"\} 1$/m);
  assert.match(text, /^gradcam_explanations_total\{model="m",method="layercam",outcome="completed"\} 2$/m);
});

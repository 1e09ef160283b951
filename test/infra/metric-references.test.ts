import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricCatalog } from '../../packages/telemetry/src/metric-catalog.ts';
import { metricMentionProblems, metricNamesIn, metricReferenceProblems } from './metric-references.ts';

const problems = (expr: string) => metricReferenceProblems(expr, metricCatalog);

test('finds every gradcam_ identifier, once, and nothing else', () => {
  const expr = `sum by (le, model) (rate(gradcam_e2e_latency_seconds_bucket{model=~"$model"}[$__rate_interval]))
    / on() group_left sum(gradcam_images_explained_total) + gradcam_e2e_latency_seconds_bucket`;
  assert.deepEqual(metricNamesIn(expr), ['gradcam_e2e_latency_seconds_bucket', 'gradcam_images_explained_total']);
  assert.deepEqual(metricNamesIn('rate(my_gradcam_thing[5m]) + up{job="gradcam-exporter"}'), []);
});

test('accepts catalog metrics, histogram series and their labels', () => {
  assert.deepEqual(problems('gradcam_queue_jobs{state="waiting"} > 1000'), []);
  assert.deepEqual(problems('histogram_quantile(0.95, sum by (le, model) (rate(gradcam_e2e_latency_seconds_bucket[10m])))'), []);
  assert.deepEqual(problems('sum(rate(gradcam_batch_size_sum[5m])) / sum(rate(gradcam_batch_size_count[5m]))'), []);
  assert.deepEqual(problems('sum by (instance, outcome) (rate(gradcam_worker_jobs_total{job="gradcam-worker"}[5m]))'), []);
});

test('a misspelled or unknown metric is reported', () => {
  assert.match(problems('gradcam_queue_job{state="waiting"}').join('\n'), /gradcam_queue_job is not in the metric catalog/);
  assert.match(problems('rate(gradcam_images_explained[5m])').join('\n'), /gradcam_images_explained is not in the metric catalog/);
});

test('suffixes only resolve on histograms, and a bare histogram name is reported', () => {
  assert.match(problems('gradcam_queue_jobs_count').join('\n'), /gradcam_queue_jobs_count is not in the metric catalog/);
  assert.match(problems('rate(gradcam_e2e_latency_seconds[5m])').join('\n'), /is a histogram: query gradcam_e2e_latency_seconds_bucket/);
});

test('labels the metric does not have are reported, in matchers and in grouping', () => {
  assert.match(problems('gradcam_queue_jobs{status="waiting"}').join('\n'), /has no label "status"/);
  assert.match(problems('gradcam_queue_jobs_bucket').join('\n'), /not in the metric catalog/);
  assert.match(problems('gradcam_e2e_latency_seconds_sum{le="1"}').join('\n'), /has no label "le"/);
  assert.match(problems('sum by (reasons) (rate(gradcam_capture_decisions_total[5m]))').join('\n'), /groups by "reasons"/);
});

test('the worker\'s metrics also carry their process\'s label (worker), and only they do', () => {
  assert.deepEqual(problems('sum by (instance, worker, outcome) (rate(gradcam_worker_jobs_total{worker="0"}[5m]))'), []);
  assert.match(problems('sum by (worker) (rate(gradcam_ingest_records_total[5m]))').join('\n'), /groups by "worker"/);
  assert.match(problems('gradcam_queue_jobs{worker="0"}').join('\n'), /has no label "worker"/);
});

test('string literals are not read as metric names', () => {
  assert.deepEqual(problems('gradcam_jobs_failed_total{code="gradcam_not_a_metric"}'), []);
  assert.match(problems('{__name__=~"gradcam_.*"}').join('\n'), /__name__/);
});

test('prose may name catalog metrics, in any of their series', () => {
  assert.deepEqual(metricMentionProblems('see gradcam_jobs_failed_total and gradcam_stage_duration_seconds, GRADCAM_BATCH_SIZE', metricCatalog), []);
  assert.match(metricMentionProblems('see gradcam_jobs_failures_total', metricCatalog).join(), /gradcam_jobs_failures_total/);
});

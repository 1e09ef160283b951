import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { batchFiguresEvent, captureDecisionField, explainQueueName, redisKeys } from '@gradcam/contracts';
import { type RedisServer, type ServiceMain, freePort, startRedisServer, startServiceMain } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs, explainJob } from '@gradcam/queue';
import { explainJobFixture, randomPrefix } from '@gradcam/queue/test-fixtures';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore, probeStore } from '@gradcam/storage';
import { QueueEventsProducer, UnrecoverableError, Worker } from 'bullmq';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { waitFor } from '../support/wait-for.ts';
import { readRepoFile } from './infra-files.ts';

// The dashboard's queries against live data: a real exporter on a real Redis, scraped every second
// by a real Prometheus that also evaluates the alert rules. The jobs are real BullMQ jobs on the
// explain queue, finished by a BullMQ worker the way the pipeline's workers finish them (a result,
// or a failure carrying its code), with the capture counts ingest keeps. What is checked is what
// a person sees: that a first failure, a quiet run's completions and the skipped share show.

interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
}
const dashboard = JSON.parse(readRepoFile('infra/grafana/dashboards/gradcam-pipeline.json')) as {
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } }[] };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const rulesPath = fileURLToPath(new URL('../../infra/prometheus/alerts.yml', import.meta.url));

/** Grafana's substitutions for a panel over a range at `step` seconds, with Prometheus scraping every second. */
const scrapeSeconds = 1;
const step = 1;
const asGrafanaSends = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', `${Math.max(4 * scrapeSeconds, step + scrapeSeconds)}s`)
    .replaceAll('$__interval', `${step}s`)
    // The model variable at "All", whose allValue is ".*".
    .replace(/\$\{?model\}?/g, '.*');

interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

let redis: RedisServer;
let exporter: ServiceMain;
let prometheus: PrometheusServer;
let prefix: string;
let startedAt: number;
let storageDir: string | undefined;

async function api<T>(path: string, params: Record<string, string>): Promise<T> {
  const body = (await (await fetch(`${prometheus.url}${path}?${new URLSearchParams(params)}`)).json()) as { status: string; data: T; error?: string };
  assert.equal(body.status, 'success', `${path} ${JSON.stringify(params)}: ${body.error}`);
  return body.data;
}
const instant = async (expr: string) => (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>('/api/v1/query', { query: expr })).result;
const range = async (expr: string) =>
  (await api<{ result: Series[] }>('/api/v1/query_range', { query: expr, start: String(startedAt), end: String(Date.now() / 1000), step: String(step) })).result;
const panel = (title: string) => panels.find((p) => p.title === title) ?? assert.fail(`no panel "${title}"`);
const expr = (title: string, refId = 'A') => asGrafanaSends((panel(title).targets ?? []).find((t) => t.refId === refId)?.expr ?? assert.fail(`"${title}" has no ${refId}`));
const maxOf = (series: Series | undefined) => Math.max(...(series?.values ?? []).map(([, v]) => Number(v)).filter((v) => !Number.isNaN(v)));

before(async () => {
  redis = await startRedisServer();
  prefix = randomPrefix();
  const port = await freePort();
  // A healthy pipeline's store: a local one whose readiness probe a service has written, which the
  // exporter's storage probe reads (gradcam_storage_up 1).
  storageDir = await mkdtemp(join(tmpdir(), 'gradcam-dashboard-live-'));
  const service = new FsBlobStore({ rootDir: storageDir, publicBaseUrl: 'http://127.0.0.1:8080', signingSecret: 'dashboard-live-secret-0123' });
  await probeStore(service, '', { write: true });
  await service.close();
  exporter = startServiceMain('services/metrics-exporter/src/main.ts', {
    ...process.env,
    GRADCAM_STORAGE_DIR: storageDir,
    REDIS_URL: redis.url,
    GRADCAM_EXPORTER_PORT: String(port),
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_QUEUE_PREFIX: prefix,
    GRADCAM_CAPTURE_POLICY: 'rate=0.5,confidence<0.6',
    LOG_LEVEL: 'warn',
  });
  await exporter.untilReady(`http://127.0.0.1:${port}/healthz`);
  startedAt = Date.now() / 1000;
  prometheus = await startPrometheus({ 'gradcam-exporter': `127.0.0.1:${port}` }, { rules: rulesPath });
});

after(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await redis?.stop();
  if (storageDir !== undefined) await rm(storageDir, { recursive: true, force: true });
});

test('a first failure, a quiet run of completions, the skipped records and the first review and verdict show on the dashboard as they happened; the alert rules evaluate and stay silent', { timeout: 60_000 }, async () => {
  const keys = redisKeys(prefix);
  const connection = createProducerConnection(redis.url, { onError: () => {} });
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  const bullConnection = { host: '127.0.0.1', port: Number(new URL(redis.url).port) };
  const figures = new QueueEventsProducer(explainQueueName, { connection: bullConnection, prefix });
  // What the workers do: an image that is not one fails the job at once with its code; any other is explained.
  const worker = new Worker(
    explainQueueName,
    async (job) => {
      if (job.id?.startsWith('bad') === true) throw new UnrecoverableError('IMAGE_CORRUPT: not an image');
      const storedAt = Date.now();
      return { manifestKey: `${job.id}/explanation.json`, model: 'mobilenet', methods: ['gradcam'], explanations: 1, acceptedAt: storedAt - 2_000, storedAt, batchSize: 1, batchLeader: true, stageSeconds: { decode: 0.1, engine: 1, render: 0.2, upload: 0.1 } };
    },
    { connection: bullConnection, prefix },
  );
  worker.on('error', () => {});
  try {
    await connectionReady(connection);
    // A worker announced the model it serves (ingest has taken no record of it yet); the worker
    // sent an earlier explanation of it to review; Prometheus scraped the idle pipeline since.
    await connection.hset(keys.servedModels, 'mobilenet', 'v1');
    const reviews = new ReviewPool(connection, prefix);
    await reviews.add({
      inferenceId: 'sampled-1',
      model: 'mobilenet',
      modelVersion: 'v1',
      folder: 'mobilenet/v1/dt=2026-11-29/sampled-1/',
      predictedClass: 281,
      label: 'tabby',
      probability: 0.41,
      sampling: { sampled: true, policy: 'budget=10/h', term: 'budget=10/h', reason: 'priority', priority: 0.8 },
      sampledAt: Date.now(),
      status: 'pending',
    });
    await waitFor('Prometheus to scrape the exporter twice with the model known', async () => {
      const [samples] = await instant('count_over_time(gradcam_review_sampled_total{model="mobilenet",reason="priority"}[1m])');
      return samples && Number(samples.value[1]) >= 2 ? true : undefined;
    }, 20_000);
    // The model's capture decisions are there at 0 before its very first record, so that record counts.
    const [known] = await instant('count_over_time(gradcam_capture_decisions_total{model="mobilenet",reason="low-confidence"}[1m])');
    assert.ok(Number(known?.value[1]) >= 2, `gradcam_capture_decisions_total of a served model before its first record: ${JSON.stringify(known)}`);

    // Nothing finished yet: the failure ratio reads 0, not 0/0.
    const [idleRatio] = await instant(expr('Failure ratio (15m)'));
    assert.equal(idleRatio?.value[1], '0', 'failure ratio with no job finished');
    // The model variable lists the model before its first explanation.
    const models = await api<string[]>('/api/v1/label/model/values', { 'match[]': 'gradcam_images_explained_total', start: String(startedAt) });
    assert.deepEqual(models, ['mobilenet'], `variable ${dashboard.templating.list[0]?.name}: ${dashboard.templating.list[0]?.query.query}`);

    // A quiet run, ingest's first records of the model: 5 explained, 2 skipped by the capture rate,
    // one corrupt image; the workers' first review decisions (one sent to review), and a reviewer's
    // first verdict.
    await connection
      .multi()
      .hincrby(keys.captureDecisions, captureDecisionField('mobilenet', true, 'rate'), 2)
      .hincrby(keys.captureDecisions, captureDecisionField('mobilenet', true, 'low-confidence'), 3)
      .hincrby(keys.captureDecisions, captureDecisionField('mobilenet', false, 'not-sampled'), 2)
      .hincrby(keys.reviewDecisions, 'mobilenet|review|priority', 1)
      .hincrby(keys.reviewDecisions, 'mobilenet|skip|not-sampled', 3)
      .exec();
    assert.equal((await reviews.lease('alice', 60_000))?.inferenceId, 'sampled-1');
    await reviews.complete('sampled-1', 'alice', 'supports', undefined);
    await enqueueExplainJobs(queue, ['ok-1', 'ok-2', 'ok-3', 'bad-1', 'ok-4'].map(explainJobFixture));
    await figures.publishEvent({ eventName: batchFiguresEvent, figures: JSON.stringify({ engineCalls: [4], stageSeconds: { decode: 0.1, engine: 1, render: 0.2, upload: 0.1 } }) }, explainJob.eventStreamLength);
    await waitFor('Prometheus to scrape the finished run', async () => {
      const [explained] = await instant('sum(gradcam_images_explained_total)');
      const [failed] = await instant('sum(gradcam_jobs_failed_total)');
      const [batches] = await instant('sum(gradcam_batch_size_count)');
      const [verdicts] = await instant('sum(gradcam_review_verdicts_total)');
      const [sampled] = await instant('sum(gradcam_review_sampled_total{decision="review"})');
      return explained?.value[1] === '4' && failed?.value[1] === '1' && batches?.value[1] === '1' && verdicts?.value[1] === '1' && sampled?.value[1] === '1' ? true : undefined;
    }, 30_000);
    // And once more: the last rate window of each panel holds the new values.
    const scrapedAt = Date.now() / 1000;
    await waitFor('another scrape', async () => (Number((await instant('timestamp(up)'))[0]?.value[1] ?? 0) > scrapedAt ? true : undefined), 10_000);

    // Every query of every panel is answered, and every label a legend names exists on its series.
    for (const { title, targets = [] } of panels) {
      for (const target of targets) {
        for (const series of await range(asGrafanaSends(target.expr))) {
          for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
            assert.ok(label !== undefined && label in series.metric, `"${title}" ${target.refId}: legend names ${label}, not on ${JSON.stringify(series.metric)}`);
          }
        }
      }
    }

    // The first IMAGE_CORRUPT failure shows as a rate, not as a series born at 1.
    const failures = await range(expr('Failures by code'));
    assert.ok(maxOf(failures.find((s) => s.metric.code === 'IMAGE_CORRUPT')) > 0, 'Failures by code: the first IMAGE_CORRUPT');
    const [ratio] = await instant(expr('Failure ratio (15m)'));
    assert.ok(Number(ratio?.value[1]) > 0 && Number(ratio?.value[1]) < 1, `Failure ratio (15m) ${ratio?.value[1]}: one failed, four explained`);
    // The model's first completions show as throughput, latency and explanations.
    const [throughput] = await instant(expr('Throughput'));
    assert.ok(Number(throughput?.value[1]) > 0, `Throughput (5m) ${throughput?.value[1]}`);
    assert.ok(maxOf((await range(expr('Throughput by model')))[0]) > 0, 'Throughput by model');
    const [p95] = await instant(expr('E2E latency p95 (10m)'));
    assert.ok(Number(p95?.value[1]) > 0, `E2E latency p95 (10m) ${p95?.value[1]}`);
    assert.ok(maxOf((await range(expr('End-to-end latency', 'B')))[0]) > 0, 'End-to-end latency p95');
    const explanations = await range(expr('Explanations by method and outcome'));
    assert.ok(maxOf(explanations.find((s) => s.metric.method === 'gradcam' && s.metric.outcome === 'completed')) > 0, 'Explanations: gradcam completed');
    assert.ok(maxOf(explanations.find((s) => s.metric.method === 'gradcam' && s.metric.outcome === 'failed')) > 0, 'Explanations: gradcam failed');
    const stages = await range(expr('Stage durations per batch', 'B'));
    assert.ok(maxOf(stages.find((s) => s.metric.stage === 'engine')) > 0, 'Stage durations: engine mean of the first batch');
    // 5 of the 7 records of the run were explained: the model's first records count, of each reason.
    const decisions = await range(expr('Capture decisions by reason'));
    for (const [decision, reason] of [['skip', 'not-sampled'], ['explain', 'rate'], ['explain', 'low-confidence']]) {
      assert.ok(maxOf(decisions.find((s) => s.metric.decision === decision && s.metric.reason === reason)) > 0, `Capture decisions: the model's first ${decision} (${reason})`);
    }
    const share = maxOf((await range(expr('Share of records explained')))[0]);
    assert.ok(share > 0 && share < 1, `Share of records explained peaked at ${share}; 5 of 7 were`);
    // The model's first explanation sent to review, and the first verdict on its class.
    const sampledForReview = await range(expr('Reviews sampled per hour vs threshold'));
    assert.ok(maxOf(sampledForReview.find((s) => s.metric.model === 'mobilenet' && s.metric.reason === 'priority')) > 0, 'Reviews sampled per hour: the first one');
    const verdicts = await range(expr('Verdicts and skips per hour'));
    assert.ok(maxOf(verdicts.find((s) => s.metric.model === 'mobilenet' && s.metric.verdict === 'supports')) > 0, 'Verdicts per hour: the first one');

    // The store the exporter probes is usable, and no problem code is at 1.
    assert.equal((await instant(expr('Storage usable')))[0]?.value[1], '1', 'Storage usable: 1');
    assert.deepEqual(await instant(expr('Storage usable', 'B')), [], 'Storage usable: no problem code');

    // The alert rules evaluate without error on this data, and on a healthy run the only ones
    // whose condition holds are those about the targets this test does not run.
    const groups = await api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules', {});
    const rules = groups.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 10);
    assert.deepEqual(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`), []);
    const alerts = await api<{ alerts: { labels: { alertname: string } }[] }>('/api/v1/alerts', {});
    const holding = [...new Set(alerts.alerts.map((a) => a.labels.alertname))].sort();
    assert.deepEqual(holding.filter((name) => !['GradcamIngestDown', 'GradcamReviewDown', 'GradcamWorkersNotScraped'].includes(name)), [], `alerts pending or firing: ${holding.join(', ')}`);
  } finally {
    await worker.close();
    await figures.close();
    await queue.close();
    await closeConnection(connection);
  }
});

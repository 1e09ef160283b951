import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, type ServiceMain, freePort, startRedisServer, startServiceMain } from '@gradcam/dev-services';
import { closeConnection, createExplainQueue, createProducerConnection, enqueueExplainJobs } from '@gradcam/queue';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import { Redis } from 'ioredis';
import { type PrometheusServer, startPrometheus } from '../support/prometheus-server.ts';
import { inlineRecord, samplePhotos } from '../support/sample-records.ts';
import { waitFor } from '../support/wait-for.ts';

// Ingest's alerts against a real ingest process, scraped every second by a real Prometheus that
// evaluates infra/prometheus/alerts.yml: each record route's first 5xx and first 429 in the
// process must move GradcamIngestErrorRatioHigh and GradcamIngestQueueFull (their series were
// born with their first request, which rate() does not count: neither alert saw them).

const rulesPath = fileURLToPath(new URL('../../infra/prometheus/alerts.yml', import.meta.url));
const token = 'alerts-live-token-0123456789abcdef';
const prefix = 'alerts-live';
const photo = samplePhotos[0] as (typeof samplePhotos)[number];

let redis: RedisServer;
let client: Redis;
let dir: string;
let ingest: ServiceMain;
let prometheus: PrometheusServer;
let baseUrl: string;

before(async () => {
  redis = await startRedisServer();
  client = new Redis(redis.url);
  await client.hset(redisKeys(prefix).servedModels, 'nsfw-mobilenet-v2', 'nsfwjs-4.4.0');
  dir = await mkdtemp(join(tmpdir(), 'gradcam-alerts-live-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  ingest = startServiceMain('services/ingest/src/main.ts', {
    ...process.env,
    REDIS_URL: redis.url,
    GRADCAM_STORAGE_DIR: join(dir, 'storage'),
    GRADCAM_API_TOKENS: token,
    GRADCAM_QUEUE_PREFIX: prefix,
    GRADCAM_INGEST_PORT: String(port),
    GRADCAM_HOST: '127.0.0.1',
    GRADCAM_MAX_QUEUE_DEPTH: '2',
    LOG_LEVEL: 'error',
  });
  await ingest.untilReady(`${baseUrl}/readyz`, 60_000);
  prometheus = await startPrometheus({ 'gradcam-ingest': `127.0.0.1:${port}` }, { rules: rulesPath });
});

after(async () => {
  await prometheus?.stop();
  await ingest?.stop();
  client?.disconnect();
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await response.arrayBuffer();
  return response.status;
}

/** The alerts Prometheus holds (pending or firing) by name. */
async function alertsHeld(): Promise<Map<string, string>> {
  const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
  return new Map(body.data.alerts.map((a) => [a.labels.alertname, a.state]));
}

test("a record route's first 5xx and first 429 in an ingest process move GradcamIngestErrorRatioHigh and GradcamIngestQueueFull", { timeout: 120_000 }, async () => {
  // Prometheus has scraped the idle process twice.
  await waitFor('Prometheus to scrape ingest twice', async () => {
    const [samples] = await prometheus.query('count_over_time(up{job="gradcam-ingest"}[1m])');
    return samples && samples.value >= 2 ? true : undefined;
  }, 30_000);
  // Redis full (noeviction): the writes of an accept are refused, a record and a batch answered 503.
  await client.config('SET', 'maxmemory-policy', 'noeviction');
  await client.config('SET', 'maxmemory', '1');
  try {
    assert.equal(await post('/v1/inferences', inlineRecord('alerts-1', photo)), 503);
    assert.equal(await post('/v1/inferences:batch', { records: [inlineRecord('alerts-2', photo)] }), 503);
  } finally {
    await client.config('SET', 'maxmemory', '0');
  }
  assert.equal(await post('/v1/inferences', inlineRecord('alerts-3', photo)), 202);
  // Another producer fills the queue to GRADCAM_MAX_QUEUE_DEPTH (2); once the depth ingest read
  // (kept for 250 ms, cachedFor in app.ts) is read again, the next record is refused with 429.
  const connection = createProducerConnection(redis.url, { onError: () => {} });
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  try {
    await enqueueExplainJobs(queue, [explainJobFixture('elsewhere-1')]);
  } finally {
    await queue.close();
    await closeConnection(connection);
  }
  await sleep(300);
  assert.equal(await post('/v1/inferences', inlineRecord('alerts-4', photo)), 429);
  // 4 record requests: 2 answered 5xx, 1 429.
  await waitFor('both alerts pending', async () => {
    const held = await alertsHeld();
    return held.has('GradcamIngestErrorRatioHigh') && held.has('GradcamIngestQueueFull') ? true : undefined;
  }, 30_000).catch(async (error: unknown) => {
    const series = await prometheus.query('rate(gradcam_ingest_http_requests_total{route=~"/v1/inferences|/v1/inferences::batch"}[5m])');
    throw new Error(`${(error as Error).message}; held: ${JSON.stringify([...(await alertsHeld())])}; rates ${JSON.stringify(series.map((s) => [s.metric.route, s.metric.status, s.value]))}`);
  });
});

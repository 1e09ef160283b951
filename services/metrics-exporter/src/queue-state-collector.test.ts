import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { formatReviewThreshold, liveModelWeightsMember, redisKeys, reviewThresholdMaxAgeMs } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs } from '@gradcam/queue';
import { explainJobFixture as job } from '@gradcam/queue/test-fixtures';
import { ReviewPool } from '@gradcam/review-pool';
import { createMetrics, createRegistry, pipelineMetrics } from '@gradcam/telemetry';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createApp } from './app.ts';
import { ExporterPresence } from './exporter-presence.ts';
import { type QueueStateCollectorDeps, createQueueStateCollector } from './queue-state-collector.ts';

interface Exporter {
  readonly app: FastifyInstance;
  readonly redis: Redis;
  readonly prefix: string;
  readonly enqueue: (...ids: string[]) => Promise<void>;
  /** The sources whose read failed, and any failed presence beat (`presence: …`). */
  readonly sourceErrors: string[];
  /** What each scrape told `onModels`, in order. */
  readonly modelsTold: string[][];
  scrape(): Promise<string>;
}

type EventStreamPosition = QueueStateCollectorDeps['eventStream'];

/**
 * The exporter's app over a real Redis, with its own queue prefix. Its reading of the event stream
 * is `eventStream`: by default from the beginning of a stream nothing was trimmed from ('0-0'),
 * where event_stream reads the age of its first event; main.test runs the real stream.
 */
async function withExporter(
  options: Parameters<typeof startRedisServer>[0],
  run: (exporter: Exporter) => Promise<void>,
  eventStream: EventStreamPosition = { readThrough: () => '0-0', readingSince: () => Date.now() },
): Promise<void> {
  const server: RedisServer = await startRedisServer(options);
  const redis = createProducerConnection(server.url, { onError: () => {} });
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => {} });
  const registry = createRegistry();
  const metrics = createMetrics(registry, pipelineMetrics);
  const sourceErrors: string[] = [];
  const modelsTold: string[][] = [];
  const presence = new ExporterPresence({ redis, key: redisKeys(prefix).exporterInstances, onChange: () => {}, onError: (error) => sourceErrors.push(`presence: ${error.message}`) });
  presence.start();
  const collect = createQueueStateCollector({
    queue,
    redis,
    prefix,
    policy: parseCapturePolicy('all'),
    metrics,
    reviews: new ReviewPool(redis, prefix),
    eventStream,
    presence,
    onSourceError: (source) => sourceErrors.push(source),
    onModels: (models) => modelsTold.push([...models].sort()),
  });
  const app = createApp({ registry, collect, onCollectError: (error) => assert.fail(`collect threw: ${String(error)}`), scraping: () => () => {}, eventCounters: new Set() });
  try {
    await connectionReady(redis);
    await run({
      app,
      redis,
      prefix,
      sourceErrors,
      modelsTold,
      enqueue: async (...ids) => void (await enqueueExplainJobs(queue, ids.map(job))),
      async scrape() {
        const response = await app.inject({ method: 'GET', url: '/metrics' });
        assert.equal(response.statusCode, 200);
        return response.body;
      },
    });
  } finally {
    await presence.close();
    await app.close();
    await queue.close();
    await closeConnection(redis);
    await server.stop();
  }
}

/** The sample lines of one metric (exactly that name, any labels). */
function samples(body: string, name: string): string[] {
  return body.split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`));
}

/** The exporter's events lag in a scrape's body (NaN when it has no sample). */
const lagSeconds = (body: string) => Number(samples(body, 'gradcam_exporter_events_lag_seconds')[0]?.split(' ')[1]);

test('every source read: the success gauge is 1 for each, and the worker count is known', async () => {
  await withExporter({}, async ({ scrape, enqueue, sourceErrors }) => {
    await enqueue('a-1', 'a-2');
    const body = await scrape();
    assert.deepEqual(samples(body, 'gradcam_queue_jobs').filter((l) => l.includes('"waiting"')), ['gradcam_queue_jobs{state="waiting"} 2']);
    assert.deepEqual(samples(body, 'gradcam_workers'), ['gradcam_workers 0']);
    assert.deepEqual(samples(body, 'gradcam_workers_known'), ['gradcam_workers_known 1']);
    for (const source of ['queue', 'workers', 'capture', 'review_sampling', 'review_backlog', 'review_verdicts', 'redis_memory', 'event_stream', 'exporters', 'model_weights']) {
      assert.ok(body.includes(`gradcam_exporter_collect_success{source="${source}"} 1`), `success of ${source}`);
    }
    assert.deepEqual(sourceErrors, []);
  });
});

test('a Redis without CLIENT: the worker count is unknown, not 1 (BullMQ’s placeholder) and not 0', async () => {
  await withExporter({ extraArgs: ['--rename-command', 'CLIENT', ''] }, async ({ scrape, sourceErrors }) => {
    const body = await scrape();
    assert.deepEqual(samples(body, 'gradcam_workers'), [], 'no gradcam_workers sample while the count is unknown');
    assert.deepEqual(samples(body, 'gradcam_workers_known'), ['gradcam_workers_known 0']);
    assert.ok(body.includes('gradcam_exporter_collect_success{source="workers"} 1'), 'an unknown count is not a failed read');
    assert.deepEqual(sourceErrors, []);
  });
});

test("Redis's memory and its maxmemory are exported, so an alert sees a noeviction Redis filling up", async () => {
  await withExporter({ extraArgs: ['--maxmemory', '64mb'] }, async ({ scrape, redis, sourceErrors }) => {
    const body = await scrape();
    assert.deepEqual(samples(body, 'gradcam_redis_memory_max_bytes'), [`gradcam_redis_memory_max_bytes ${64 * 1024 * 1024}`]);
    const [used] = samples(body, 'gradcam_redis_memory_used_bytes');
    const reported = Number(used?.split(' ')[1]);
    const actual = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]);
    assert.ok(reported > 100_000 && Math.abs(reported - actual) < 1_000_000, `${used} against used_memory ${actual}`);
    assert.deepEqual(sourceErrors, []);
  });
});

test('review items set aside as broken are exported per model', async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    await redis.hset(redisKeys(prefix).reviewBroken, 'mobilenet', '3');
    assert.deepEqual(samples(await scrape(), 'gradcam_review_broken_total'), ['gradcam_review_broken_total{model="mobilenet"} 3']);
  });
});

test("every capture reason of a model ingest has counted a decision for is exported at 0 until counted, and the model is told at every scrape, so rate() sees a reason's first records", async () => {
  await withExporter({}, async ({ scrape, redis, prefix, modelsTold }) => {
    const keys = redisKeys(prefix);
    assert.deepEqual(samples(await scrape(), 'gradcam_capture_decisions_total'), [], 'no model yet: nothing made up');
    await redis.hset(keys.captureDecisions, 'mobilenet|explain|low-confidence', '3', 'resnet|skip|not-sampled', '1');
    const body = await scrape();
    assert.deepEqual(samples(body, 'gradcam_capture_decisions_total').sort(), [
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="all"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="class"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="low-confidence"} 3',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="rate"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="skip",reason="not-sampled"} 0',
      'gradcam_capture_decisions_total{model="resnet",decision="explain",reason="all"} 0',
      'gradcam_capture_decisions_total{model="resnet",decision="explain",reason="class"} 0',
      'gradcam_capture_decisions_total{model="resnet",decision="explain",reason="low-confidence"} 0',
      'gradcam_capture_decisions_total{model="resnet",decision="explain",reason="rate"} 0',
      'gradcam_capture_decisions_total{model="resnet",decision="skip",reason="not-sampled"} 1',
    ]);
    assert.deepEqual(modelsTold, [[], ['mobilenet', 'resnet']]);
  });
});

test("every capture reason of a model the workers serve is exported at 0 before ingest counts its first record, and the model is told, so rate() sees the model's very first record", async () => {
  await withExporter({}, async ({ scrape, redis, prefix, modelsTold }) => {
    const keys = redisKeys(prefix);
    // A worker announced the model it serves; ingest has taken no record of it yet.
    await redis.hset(keys.servedModels, 'mobilenet', 'v1');
    assert.deepEqual(samples(await scrape(), 'gradcam_capture_decisions_total').sort(), [
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="all"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="class"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="low-confidence"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="rate"} 0',
      'gradcam_capture_decisions_total{model="mobilenet",decision="skip",reason="not-sampled"} 0',
    ]);
    assert.deepEqual(modelsTold, [['mobilenet']], "told before its first record: its images explained and latency are at 0 too");
    // Its first record, and one of a model no live worker announces (retired since).
    await redis.hset(keys.captureDecisions, 'mobilenet|explain|all', '1', 'resnet|skip|not-sampled', '1');
    const counted = samples(await scrape(), 'gradcam_capture_decisions_total');
    assert.ok(counted.includes('gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="all"} 1'), counted.join('\n'));
    assert.ok(counted.includes('gradcam_capture_decisions_total{model="resnet",decision="explain",reason="all"} 0'), counted.join('\n'));
    assert.deepEqual(modelsTold.at(-1), ['mobilenet', 'resnet']);
  });
});

test("every reviewer-sampling reason of each model the workers serve or decided for is exported at 0 until counted, so rate() sees a reason's first reviews", async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    const keys = redisKeys(prefix);
    const reasons = ['rate', 'low-confidence', 'confidence-band', 'class-quota', 'border-mass', 'diffuse-map', 'peaked-map', 'class-maps-disagree', 'priority'];
    const zeros = (model: string) => [...reasons.map((reason) => `gradcam_review_sampled_total{model="${model}",decision="review",reason="${reason}"} 0`), `gradcam_review_sampled_total{model="${model}",decision="skip",reason="not-sampled"} 0`];
    assert.deepEqual(samples(await scrape(), 'gradcam_review_sampled_total'), [], 'no model yet: nothing made up');
    // A worker announced the model it serves, before any decision.
    await redis.hset(keys.servedModels, 'mobilenet', 'v1');
    assert.deepEqual(samples(await scrape(), 'gradcam_review_sampled_total').sort(), zeros('mobilenet').sort());
    // Decisions counted, one of a model no live worker announces (retired since).
    await redis.hset(keys.reviewDecisions, 'mobilenet|review|priority', '2', 'resnet|skip|not-sampled', '5');
    const counted = samples(await scrape(), 'gradcam_review_sampled_total');
    assert.deepEqual(
      counted.sort(),
      [...zeros('mobilenet'), ...zeros('resnet')]
        .map((line) => line.replace(/(model="mobilenet",decision="review",reason="priority"\}) 0/, '$1 2').replace(/(model="resnet",decision="skip",reason="not-sampled"\}) 0/, '$1 5'))
        .sort(),
    );
  });
});

test("adding a review item exports each verdict (and each undo) on its model and class at 0, so rate() sees the first verdict of each", async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    await new ReviewPool(redis, prefix).add({
      inferenceId: 'r-1',
      model: 'mobilenet',
      modelVersion: 'v1',
      folder: 'mobilenet/v1/dt=2026-11-29/r-1/',
      predictedClass: 3,
      label: 'cat',
      probability: 0.5,
      sampling: { sampled: true, policy: 'rate=1', term: 'rate=1', reason: 'rate', priority: 0.5 },
      sampledAt: Date.now(),
      status: 'pending',
    });
    assert.deepEqual(samples(await scrape(), 'gradcam_review_verdicts_total').sort(), [
      'gradcam_review_verdicts_total{model="mobilenet",class="3",verdict="supports"} 0',
      'gradcam_review_verdicts_total{model="mobilenet",class="3",verdict="unsure"} 0',
      'gradcam_review_verdicts_total{model="mobilenet",class="3",verdict="wrong-evidence"} 0',
      'gradcam_review_verdicts_total{model="mobilenet",class="3",verdict="wrong-prediction"} 0',
    ]);
    assert.deepEqual(samples(await scrape(), 'gradcam_review_undos_total').sort(), [
      'gradcam_review_undos_total{model="mobilenet",class="3",verdict="supports"} 0',
      'gradcam_review_undos_total{model="mobilenet",class="3",verdict="unsure"} 0',
      'gradcam_review_undos_total{model="mobilenet",class="3",verdict="wrong-evidence"} 0',
      'gradcam_review_undos_total{model="mobilenet",class="3",verdict="wrong-prediction"} 0',
    ]);
  });
});

test('verdicts taken back are exported next to the verdicts, fleet-wide from the pool (kept = verdicts − undos)', async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    await redis.hset(redisKeys(prefix).reviewVerdicts, 'mobilenet|1|supports', '5');
    await redis.hset(redisKeys(prefix).reviewUndos, 'mobilenet|1|supports', '2');
    const metrics = await scrape();
    assert.deepEqual(samples(metrics, 'gradcam_review_verdicts_total'), ['gradcam_review_verdicts_total{model="mobilenet",class="1",verdict="supports"} 5']);
    assert.deepEqual(samples(metrics, 'gradcam_review_undos_total'), ['gradcam_review_undos_total{model="mobilenet",class="1",verdict="supports"} 2']);
  });
});

test('one failing read leaves the other sources up to date and drops only its own series', async () => {
  await withExporter({}, async ({ scrape, enqueue, redis, prefix, sourceErrors }) => {
    const keys = redisKeys(prefix);
    await redis.hset(keys.captureDecisions, 'mobilenet|explain|all', '5');
    await enqueue('b-1');
    let body = await scrape();
    const counted = (text: string) => samples(text, 'gradcam_capture_decisions_total').filter((line) => !line.endsWith(' 0'));
    assert.deepEqual(counted(body), ['gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="all"} 5']);

    // The capture counts become unreadable (WRONGTYPE); the queue keeps moving.
    await redis.del(keys.captureDecisions);
    await redis.set(keys.captureDecisions, 'not a hash');
    await enqueue('b-2', 'b-3');
    body = await scrape();
    assert.ok(body.includes('gradcam_queue_jobs{state="waiting"} 3'), 'the queue depth is read despite the failing source');
    assert.ok(body.includes('gradcam_exporter_collect_success{source="capture"} 0'));
    assert.ok(body.includes('gradcam_exporter_collect_success{source="queue"} 1'));
    assert.deepEqual(samples(body, 'gradcam_capture_decisions_total'), [], 'no stale capture counts');
    assert.deepEqual(sourceErrors, ['capture']);

    await redis.del(keys.captureDecisions);
    await redis.hset(keys.captureDecisions, 'mobilenet|explain|all', '7');
    body = await scrape();
    assert.ok(body.includes('gradcam_exporter_collect_success{source="capture"} 1'));
    assert.deepEqual(counted(body), ['gradcam_capture_decisions_total{model="mobilenet",decision="explain",reason="all"} 7']);
  });
});

test("a model's broken-item and skip counts are exported at 0 once its first item is in the review pool", async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    await new ReviewPool(redis, prefix).add({
      inferenceId: 'r-1',
      model: 'mobilenet',
      modelVersion: 'v1',
      folder: 'mobilenet/v1/dt=2026-11-26/r-1/',
      predictedClass: 2,
      label: 'Neutral',
      probability: 0.6,
      sampling: { sampled: true, policy: 'confidence<0.7', reason: 'low-confidence', priority: 0.5 },
      sampledAt: Date.now(),
      status: 'pending',
    });
    const body = await scrape();
    assert.deepEqual(samples(body, 'gradcam_review_broken_total'), ['gradcam_review_broken_total{model="mobilenet"} 0']);
    assert.deepEqual(samples(body, 'gradcam_review_skips_total'), ['gradcam_review_skips_total{model="mobilenet"} 0']);
  });
});

test('the review threshold of a model is exported only while recorded recently: not a retired model’s, nor one in the old bare format', async () => {
  await withExporter({}, async ({ scrape, redis, prefix }) => {
    const now = Date.now();
    await redis.hset(redisKeys(prefix).reviewThresholds, {
      served: formatReviewThreshold(0.95, now - 60_000),
      retired: formatReviewThreshold(0.9, now - reviewThresholdMaxAgeMs - 60_000),
      bare: '0.8',
    });
    assert.deepEqual(samples(await scrape(), 'gradcam_review_threshold'), ['gradcam_review_threshold{model="served"} 0.95']);
  });
});

test("an exporter that stopped reading keeps falling behind while the capped stream turns over: events trimmed unread count from where its reading stopped", async () => {
  let position = '0-0';
  let readingSince = 0;
  await withExporter(
    {},
    async ({ scrape, redis, prefix }) => {
      const events = `${prefix}:explain:events`;
      const [seconds] = await redis.time();
      const now = Number(seconds) * 1000;
      const lag = async () => lagSeconds(await scrape());
      // Read up to an event ten minutes old, and nothing since (an ACL without XREAD): meanwhile
      // the stream, capped, turned over and holds only the last second's events. Their age was
      // the lag, so under load (100,000 events last some 25 s at 1,000 jobs/s) it never reached
      // GradcamExporterEventsBehind's 2 minutes however long the exporter stayed blind.
      position = `${now - 600_000}-0`;
      await redis.xadd(events, position, 'event', 'added', 'jobId', 'read');
      for (let i = 0; i < 20; i++) await redis.xadd(events, 'MAXLEN', 5, `${now - 1_000 + i}-0`, 'event', 'completed', 'jobId', `j-${i}`);
      assert.ok((await lag()) >= 600, 'behind since the event it read last');

      // The same from a first start on an empty stream ('0-0'): behind since it began reading.
      position = '0-0';
      readingSince = now - 300_000;
      assert.ok((await lag()) >= 300, 'behind since it began reading');

      // From '0-0' with nothing trimmed: the first entry is the oldest unread event.
      await redis.del(events);
      await redis.xadd(events, `${now - 5_000}-0`, 'event', 'added', 'jobId', 'unread');
      const fresh = await lag();
      assert.ok(fresh >= 5 && fresh < 60, `lag ${fresh} s from '0-0'`);

      // Nothing trimmed past it: the oldest unread event left is the oldest unread event.
      await redis.del(events);
      position = `${now - 60_000}-0`;
      await redis.xadd(events, position, 'event', 'added', 'jobId', 'read');
      await redis.xadd(events, `${now - 5_000}-0`, 'event', 'completed', 'jobId', 'unread');
      const behind = await lag();
      assert.ok(behind >= 5 && behind < 60, `lag ${behind} s`);
    },
    { readThrough: () => position, readingSince: () => readingSince },
  );
});

test("entries an erasure deleted (XDEL) ahead of the read position are not unread events: the lag is that of the oldest one left, and 0 once none is left; behind it, or the position's own entry, change nothing", async () => {
  let position = '0-0';
  await withExporter(
    {},
    async ({ scrape, redis, prefix }) => {
      const events = `${prefix}:explain:events`;
      const [seconds] = await redis.time();
      const now = Number(seconds) * 1000;
      const lag = async () => lagSeconds(await scrape());
      await redis.xadd(events, `${now - 120_000}-0`, 'event', 'completed', 'jobId', 'erased-behind');
      position = `${now - 60_000}-0`;
      await redis.xadd(events, position, 'event', 'completed', 'jobId', 'erased-at');
      const ahead = [`${now - 50_000}-0`, `${now - 40_000}-0`];
      for (const id of ahead) await redis.xadd(events, id, 'event', 'completed', 'jobId', 'erased-ahead');
      await redis.xadd(events, `${now - 5_000}-0`, 'event', 'completed', 'jobId', 'unread');
      const before = await lag();
      assert.ok(before >= 50 && before < 60, `lag ${before} s before the erasure`);

      await redis.xdel(events, ...ahead);
      const after = await lag();
      assert.ok(after >= 5 && after < 40, `lag ${after} s: the deleted events ahead are not waited for`);
      // The position's own entry, and one behind it: the oldest entry left is behind the position.
      await redis.xdel(events, position);
      const atPosition = await lag();
      assert.ok(atPosition >= 5 && atPosition < 40, `lag ${atPosition} s with the position's entry deleted`);
      await redis.xdel(events, `${now - 5_000}-0`);
      assert.equal(await lag(), 0, 'nothing unread left: caught up, not behind for ever');
    },
    { readThrough: () => position, readingSince: () => 0 },
  );
});

test("after the clock numbering the stream stepped back (its ids ahead of Redis's TIME), an exporter that stopped reading still shows its lag growing, measured on its own clock rather than from the ids", async () => {
  let position = '0-0';
  await withExporter(
    {},
    async ({ scrape, redis, prefix }) => {
      const events = `${prefix}:explain:events`;
      const [seconds] = await redis.time();
      // Written while Redis's clock was an hour ahead, then stepped back: Redis numbers the next
      // entries after the last id (its ms, the sequence counting up), so their ids say nothing of when.
      position = `${Number(seconds) * 1000 + 3_600_000}-0`;
      await redis.xadd(events, position, 'event', 'completed', 'jobId', 'read');
      await redis.xadd(events, '*', 'event', 'completed', 'jobId', 'unread');
      const lag = async () => lagSeconds(await scrape());
      const first = await lag();
      assert.ok(first >= 0, `lag ${first}`);
      // Nothing read since: behind by at least the time between the two scrapes.
      await new Promise((r) => setTimeout(r, 1_500));
      const later = await lag();
      assert.ok(later >= 1.5, `lag ${later} s after 1.5 s without reading`);
      // Once reading moves on and nothing is left unread, 0.
      position = (await redis.xrevrange(events, '+', '-', 'COUNT', 1))[0]?.[0] ?? position;
      assert.equal(await lag(), 0);
    },
    { readThrough: () => position, readingSince: () => Date.now() },
  );
});

test('the distinct weights live workers serve each model version with: 2 for two hashes under one version, 1 for the same hash twice, and a hash past the liveness expiry no longer counts', async () => {
  await withExporter({}, async ({ scrape, redis, prefix, sourceErrors }) => {
    const key = redisKeys(prefix).liveModelWeights;
    // As workers beat (model-weights-beat.ts): `model@version#weightsSha256` → last beat.
    const beat = (at: number, model: string, version: string, weights: string) => redis.zadd(key, 'GT', at, liveModelWeightsMember(model, version, weights));
    assert.deepEqual(samples(await scrape(), 'gradcam_model_weights_variants'), [], 'no worker: no series');
    const now = Date.now();
    await beat(now, 'mobilenet', '2.1.0', 'a'.repeat(64));
    await beat(now, 'mobilenet', '2.1.0', 'b'.repeat(64));
    await beat(now, 'resnet', '7', 'c'.repeat(64));
    await beat(now, 'resnet', '7', 'c'.repeat(64)); // a second worker with the same weights
    await beat(now, 'resnet', '8', 'd'.repeat(64));
    assert.deepEqual(samples(await scrape(), 'gradcam_model_weights_variants').sort(), [
      'gradcam_model_weights_variants{model="mobilenet",version="2.1.0"} 2',
      'gradcam_model_weights_variants{model="resnet",version="7"} 1',
      'gradcam_model_weights_variants{model="resnet",version="8"} 1',
    ]);
    // The worker with the b weights stopped 60 s ago (its last beat), as did every resnet@8 worker.
    await redis.zadd(key, now - 60_000, liveModelWeightsMember('mobilenet', '2.1.0', 'b'.repeat(64)), now - 60_000, liveModelWeightsMember('resnet', '8', 'd'.repeat(64)));
    assert.deepEqual(samples(await scrape(), 'gradcam_model_weights_variants').sort(), [
      'gradcam_model_weights_variants{model="mobilenet",version="2.1.0"} 1',
      'gradcam_model_weights_variants{model="resnet",version="7"} 1',
    ]);
    assert.deepEqual(sourceErrors, []);
  });
});

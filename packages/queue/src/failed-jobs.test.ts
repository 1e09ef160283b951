import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { ExplainJob } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { type BatchingWorker, type JobFinishedEvent, createBatchingWorker } from './batching-worker.ts';
import { closeConnections, createProducerConnection, createWorkerConnection } from './connections.ts';
import { PermanentJobError } from './errors/permanent-job-error.ts';
import { createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { findFailedJobs, retryFailedJobs } from './failed-jobs.ts';
import { explainJob } from './job-catalog.ts';
import { jobStatus } from './job-status.ts';
import type { BatchOutcome } from './micro-batcher.ts';
import { countdown, explainJobFixture, randomPrefix, seedFailedJobs } from './test-fixtures.ts';

const hangGuard = { timeout: 60_000 };

let redis: RedisServer;
let producer: Redis;
let workerConnection: Redis;
before(async () => {
  redis = await startRedisServer();
  producer = createProducerConnection(redis.url, { onError: () => {} });
  workerConnection = createWorkerConnection(redis.url, { onError: () => {} });
  // The producer fails fast while connecting (no offline queue): a test run alone starts at once.
  if (producer.status !== 'ready') await once(producer, 'ready');
});
after(async () => {
  await closeConnections(producer, workerConnection);
  await redis.stop();
});

/** A fault of the job's surroundings (storage down), thrown as the worker's storage code is. */
const storageDown = () => Object.assign(new Error('storage did not answer'), { code: 'STORAGE_UNAVAILABLE' });

function startWorker(prefix: string, outcome: (id: string) => BatchOutcome<{ manifestKey: string }>, onFinished: (event: JobFinishedEvent) => void): BatchingWorker {
  return createBatchingWorker<ExplainJob, { manifestKey: string }>({
    job: explainJob,
    connection: workerConnection,
    prefix,
    maxBatch: 4,
    maxWaitMs: 20,
    processBatch: async (jobs) => jobs.map((job) => outcome(job.id)),
    onError: () => {},
    hooks: { onJobFinished: onFinished },
  });
}

test('failed jobs: found by code and time, and those that used every attempt retried with fresh attempts until they complete', hangGuard, async () => {
  const prefix = randomPrefix();
  // Two attempts with no real backoff, so the transient failures use them all in milliseconds.
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {}, jobOptions: { attempts: 2, backoff: { type: 'fixed', delay: 5 } } });
  const transient = ['t-0', 't-1', 't-2'];
  const bad = ['p-0', 'p-1'];
  try {
    await enqueueExplainJobs(queue, [...transient, ...bad, 'ok-0'].map(explainJobFixture));
    const settled = countdown(transient.length + bad.length + 1);
    const failing = startWorker(
      prefix,
      (id) => (id.startsWith('t-') ? storageDown() : id.startsWith('p-') ? new PermanentJobError('IMAGE_UNDECODABLE', 'not an image') : { manifestKey: id }),
      (event) => (event.outcome === 'completed' || (event.outcome === 'failed' && (event.attempts === undefined || event.code === 'IMAGE_UNDECODABLE' || event.attempts.made >= event.attempts.max)) ? settled.tick() : undefined),
    );
    await settled.done;
    await failing.close();

    const all = await findFailedJobs({ connection: producer, prefix });
    assert.deepEqual(all.map((j) => j.id).sort(), [...bad, ...transient].sort(), 'the completed job is not listed');
    for (const job of all) {
      const isTransient = job.id.startsWith('t-');
      assert.equal(job.code, isTransient ? 'STORAGE_UNAVAILABLE' : 'IMAGE_UNDECODABLE', job.id);
      assert.equal(job.exhausted, isTransient, `${job.id}: a transient fault used both attempts, bad input one`);
      assert.deepEqual([job.attemptsMade, job.maxAttempts], [isTransient ? 2 : 1, 2], job.id);
      assert.match(job.message, isTransient ? /storage did not answer/ : /not an image/);
    }
    assert.ok(all.every((job, i) => i === 0 || (all[i - 1] as (typeof all)[number]).failedAt <= job.failedAt), 'oldest failure first');

    const last = all.at(-1) as (typeof all)[number];
    assert.deepEqual((await findFailedJobs({ connection: producer, prefix, since: last.failedAt })).map((j) => j.id), all.filter((j) => j.failedAt >= last.failedAt).map((j) => j.id));
    assert.deepEqual((await findFailedJobs({ connection: producer, prefix, since: last.failedAt + 1 })).length, 0);
    assert.deepEqual(
      (await findFailedJobs({ connection: producer, prefix, ids: ['t-1', 'ok-0', 'never', 't-1'] })).map((j) => j.id),
      ['t-1'],
      'by id: only failed jobs, each once',
    );

    const chosen = all.filter((j) => j.exhausted).map((j) => j.id);
    const completed = countdown(chosen.length);
    const retry = await retryFailedJobs(queue, [...chosen, 'ok-0', 'never']);
    assert.deepEqual([...retry.retried].sort(), transient);
    assert.deepEqual([...retry.notFailed].sort(), ['never', 'ok-0']);
    assert.deepEqual(await retryFailedJobs(queue, chosen), { retried: [], notFailed: chosen }, 'a second retry finds them no longer failed');
    for (const id of transient) {
      const job = await queue.getJob(id);
      assert.equal(await job?.getState(), 'waiting', id);
      assert.equal(job?.attemptsMade, 0, `${id}: attempts counted from zero`);
      assert.equal(job?.failedReason, undefined, `${id}: the old reason is gone (ingest would report it)`);
    }

    const healthy = startWorker(prefix, (id) => ({ manifestKey: id }), (event) => (event.outcome === 'completed' ? completed.tick() : undefined));
    await completed.done;
    await healthy.close();
    for (const id of transient) assert.equal(await (await queue.getJob(id))?.getState(), 'completed', id);
    assert.deepEqual((await findFailedJobs({ connection: producer, prefix })).map((j) => j.id).sort(), bad, 'bad input stays failed');
  } finally {
    await queue.close();
  }
});

test('findFailedJobs walks the failed set a chunk at a time and returns each job once, however many share a failure time', hangGuard, async () => {
  const prefix = randomPrefix();
  const count = 2_500;
  // Runs of 250 jobs failing in the same millisecond (a batch failing together), longer than a chunk.
  const failures = Array.from({ length: count }, (_, i) => ({ id: `f-${String(i).padStart(4, '0')}`, reason: 'STORAGE_UNAVAILABLE: down', failedAt: 1_700_000_000_000 + Math.floor(i / 250) * 1_000 }));
  await seedFailedJobs(producer, prefix, failures);
  const found = await findFailedJobs({ connection: producer, prefix, chunk: 100 });
  assert.equal(found.length, count);
  assert.equal(new Set(found.map((j) => j.id)).size, count);
  assert.ok(found.every((j) => j.exhausted && j.code === 'STORAGE_UNAVAILABLE'));
  const since = 1_700_000_000_000 + 7_000;
  assert.equal((await findFailedJobs({ connection: producer, prefix, chunk: 64, since })).length, 750);
});

test('a retried job starts clean: its stall count and stack traces go; one that failed for stalling keeps a count of 1, so it runs alone', hangGuard, async () => {
  const prefix = randomPrefix();
  const key = (id: string) => `${prefix}:${explainJob.queueName}:${id}`;
  const now = Date.now();
  await seedFailedJobs(producer, prefix, [
    { id: 'taken-over', reason: 'STORAGE_UNAVAILABLE: down', failedAt: now },
    // BullMQ's own reason for a job past maxStalledCount carries no code of ours.
    { id: 'stalled-out', reason: 'job stalled more than allowable limit', failedAt: now, attemptsMade: 0 },
  ]);
  // Taken over once before it failed (a worker died), and a trace per failed attempt.
  await producer.hset(key('taken-over'), 'stc', '1', 'stacktrace', JSON.stringify(['Error: a', 'Error: b']));
  await producer.hset(key('stalled-out'), 'stc', '4', 'stacktrace', JSON.stringify(['Error: c']));
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  try {
    assert.deepEqual(await retryFailedJobs(queue, ['taken-over', 'stalled-out']), { retried: ['taken-over', 'stalled-out'], notFailed: [] });
    assert.deepEqual(await producer.hmget(key('taken-over'), 'stc', 'stacktrace'), [null, null], 'a kept stall count made it a suspect, run alone; at the limit it failed at its first stall');
    assert.deepEqual(await producer.hmget(key('stalled-out'), 'stc', 'stacktrace'), ['1', null]);
    assert.equal((await queue.getJob('stalled-out'))?.stalledCounter, 1);
  } finally {
    await queue.close();
  }
});

test('a job that failed on its image itself is retried without the image identity ingest recorded (the image was fixed under its key); others keep it', hangGuard, async () => {
  const prefix = randomPrefix();
  const key = (id: string) => `${prefix}:${explainJob.queueName}:${id}`;
  const now = Date.now();
  const failures = [
    { id: 'not-an-image', reason: 'IMAGE_UNSUPPORTED_FORMAT: not an image', attemptsMade: 1 },
    { id: 'missing', reason: 'STORAGE_NOT_FOUND: no such key', attemptsMade: 1 },
    { id: 'replaced', reason: 'IMAGE_CHANGED: the image was replaced', attemptsMade: 1 },
    { id: 'storage-down', reason: 'STORAGE_UNAVAILABLE: down', attemptsMade: 5 },
  ];
  await seedFailedJobs(producer, prefix, failures.map((failure) => ({ ...failure, failedAt: now })));
  const identity = { bytes: 16, etag: 'e0', sha256: 'a'.repeat(64) };
  for (const { id } of failures) {
    const data = explainJobFixture(id);
    await producer.hset(key(id), 'data', JSON.stringify({ ...data, image: { ...data.image, ...identity } }));
  }
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  try {
    await retryFailedJobs(queue, failures.map(({ id }) => id));
    const imageOf = async (id: string) => (JSON.parse((await producer.hget(key(id), 'data')) ?? '{}') as ExplainJob).image;
    assert.deepEqual(await imageOf('not-an-image'), { key: 'mobilenet/v1/dt=2025-01-01/not-an-image/input.jpg' });
    assert.deepEqual(await imageOf('missing'), { key: 'mobilenet/v1/dt=2025-01-01/missing/input.jpg' });
    assert.deepEqual(await imageOf('replaced'), { key: 'mobilenet/v1/dt=2025-01-01/replaced/input.jpg', ...identity }, 'a replaced image is what the identity catches');
    assert.deepEqual(await imageOf('storage-down'), { key: 'mobilenet/v1/dt=2025-01-01/storage-down/input.jpg', ...identity }, 'nothing says its image changed');
  } finally {
    await queue.close();
  }
});

test('a status read that a retry overtakes between its two reads answers the retried job, not a failure without a reason', hangGuard, async () => {
  const prefix = randomPrefix();
  await seedFailedJobs(producer, prefix, [{ id: 'raced', reason: 'STORAGE_UNAVAILABLE: down', failedAt: Date.now() }]);
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {} });
  try {
    // The retry lands right after the status read took the state ('failed'), before it reads the job's fields.
    const readState = queue.getJobState.bind(queue);
    let raced = false;
    queue.getJobState = async (id: string) => {
      const state = await readState(id);
      if (!raced) {
        raced = true;
        await retryFailedJobs(queue, [id]);
      }
      return state;
    };
    assert.deepEqual(await jobStatus(queue, 'raced'), { state: 'waiting', attempts: 0 });
  } finally {
    await queue.close();
  }
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ExplainJob } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnections, createWorkerConnection } from './connections.ts';
import { type JobDefinition, explainJob } from './job-catalog.ts';
import { randomPrefix, seedFailedJobs } from './test-fixtures.ts';
import { trimFailedJobs } from './trim-failed-jobs.ts';

const hangGuard = { timeout: 60_000 };
const day = 24 * 3600;

let redis: RedisServer;
let connection: Redis;
before(async () => {
  redis = await startRedisServer();
  connection = createWorkerConnection(redis.url, { onError: () => {} });
});
after(async () => {
  await closeConnections(connection);
  await redis.stop();
});

/** The explain job, keeping `count` failed jobs (the catalog keeps maxFailedJobsKept). */
const keeping = (count: number): JobDefinition<ExplainJob> => ({ ...explainJob, options: { ...explainJob.options, removeOnFail: { age: 30 * day, count } } });

const key = (prefix: string, suffix: string) => `${prefix}:${explainJob.queueName}:${suffix}`;

/** Failed jobs f-0…f-(count-1), job i failed at `finishedOn(i)`. */
async function seedFailed(prefix: string, count: number, finishedOn: (index: number) => number): Promise<void> {
  const failures = Array.from({ length: count }, (_, i) => ({ id: `f-${i}`, reason: 'MODEL_NOT_SERVED: no live worker serves mobilenet@v2', failedAt: finishedOn(i) }));
  await seedFailedJobs(connection, prefix, failures);
}

/** How many jobs each of BullMQ's clean calls removed (each call records one `cleaned` event). */
async function cleanedPerCall(prefix: string): Promise<number[]> {
  const events = await connection.xrange(key(prefix, 'events'), '-', '+');
  return events.flatMap(([, fields]) => (fields[1] === 'cleaned' ? [Number(fields[3])] : []));
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `f-${from + i}`);

test('trims the failed set down to the kept count, oldest first, a chunk per Redis call', hangGuard, async () => {
  const prefix = randomPrefix();
  const kept = 100;
  const now = Date.now();
  await seedFailed(prefix, kept + 5_000, (i) => now - 86_400_000 + i);
  const trimmed = await trimFailedJobs({ job: keeping(kept), connection, prefix });
  assert.equal(trimmed, 5_000);
  assert.equal(await connection.zcard(key(prefix, 'failed')), kept);
  assert.deepEqual(await connection.zrange(key(prefix, 'failed'), 0, -1), ids(5_000, 5_100), 'the newest are kept');
  assert.equal(await connection.exists(key(prefix, 'f-0'), key(prefix, 'f-4999')), 0, "the removed jobs' hashes are gone");
  assert.equal(await connection.exists(key(prefix, 'f-5000'), key(prefix, 'f-5099')), 2);
  // No Redis call removed more than a chunk (1 000 jobs, ~15 ms), where BullMQ's own trim takes all 5 000 in one.
  const perCall = await cleanedPerCall(prefix);
  assert.equal(perCall.reduce((sum, n) => sum + n, 0), 5_000);
  assert.ok(perCall.every((n) => n <= 1_000), `removed per call: ${perCall.join(', ')}`);
  // Run again: nothing left to do.
  assert.equal(await trimFailedJobs({ job: keeping(kept), connection, prefix }), 0);
  // The queue it borrowed left the queue's settings alone (a Queue writes BullMQ's default
  // event-stream length of 10,000 over the pipeline's, which every later event is trimmed to).
  assert.equal(await connection.hget(key(prefix, 'meta'), 'opts.maxLenEvents'), null);
});

test('nothing to trim: nothing removed, and no clean call made', hangGuard, async () => {
  const prefix = randomPrefix();
  const now = Date.now();
  await seedFailed(prefix, 50, (i) => now + i);
  assert.equal(await trimFailedJobs({ job: keeping(50), connection, prefix }), 0);
  assert.equal(await trimFailedJobs({ job: keeping(100), connection, prefix }), 0);
  assert.equal(await trimFailedJobs({ job: keeping(10), connection, prefix: randomPrefix() }), 0, 'no failed set at all');
  // Kept by age only: there is no count to trim to.
  const byAgeOnly: JobDefinition<ExplainJob> = { ...explainJob, options: { ...explainJob.options, removeOnFail: { age: 30 * day } } };
  assert.equal(await trimFailedJobs({ job: byAgeOnly, connection, prefix }), 0);
  assert.equal(await connection.zcard(key(prefix, 'failed')), 50);
  assert.deepEqual(await cleanedPerCall(prefix), []);
  await assert.rejects(trimFailedJobs({ job: keeping(10), connection, prefix, chunk: 0 }), RangeError);
});

test('jobs that failed in the same millisecond as the cutoff: exactly the count is kept, in the set’s order', hangGuard, async () => {
  const prefix = randomPrefix();
  const kept = 100;
  const now = Date.now();
  // f-100 … f-249 failed in one millisecond; the kept 100 start in the middle of them.
  await seedFailed(prefix, 300, (i) => (i < 100 ? now + i : i < 250 ? now + 1_000 : now + 1_000 + i));
  const newest = await connection.zrange(key(prefix, 'failed'), -kept, -1);
  const trimmed = await trimFailedJobs({ job: keeping(kept), connection, prefix, chunk: 40 });
  assert.equal(trimmed, 200);
  assert.deepEqual(await connection.zrange(key(prefix, 'failed'), 0, -1), newest);
  assert.ok((await cleanedPerCall(prefix)).every((n) => n <= 40));
});

test('workers trimming at once share the work and keep the newest', hangGuard, async () => {
  const prefix = randomPrefix();
  const kept = 100;
  const now = Date.now();
  await seedFailed(prefix, kept + 5_000, (i) => now - 86_400_000 + i);
  const others = [createWorkerConnection(redis.url, { onError: () => {} }), createWorkerConnection(redis.url, { onError: () => {} })];
  try {
    const trimmed = await Promise.all([connection, ...others].map((each) => trimFailedJobs({ job: keeping(kept), connection: each, prefix, chunk: 500 })));
    assert.equal(
      trimmed.reduce((sum, n) => sum + n, 0),
      5_000,
      `each removed ${trimmed.join(', ')}: no job twice, no kept job`,
    );
    assert.deepEqual(await connection.zrange(key(prefix, 'failed'), 0, -1), ids(5_000, 5_100));
  } finally {
    await closeConnections(...others);
  }
});

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { QueueUnavailableError } from '@gradcam/queue';
import { ReviewPool, defaultReindexIntervalMs } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// Redis runs with noeviction: at maxmemory it refuses every write that may take memory (OOM), and
// still answers reads. A model's backlog (the review page's "N waiting", polled by every tab) and
// a pending listing of one model write only to look after the model's pending index (its indexing
// time, the hourly claim, the indexing itself): they answer from the index as it stands then. This
// file's own Redis, as its memory limit is set.

const { redis, stop } = await startRedisWithClient();
after(stop);

const freshPrefix = () => `t${Math.random().toString(36).slice(2, 10)}`;

/** Runs `body` while Redis refuses writes for want of memory (maxmemory 1 byte, noeviction). */
async function outOfMemory<T>(body: () => Promise<T>): Promise<T> {
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', '1');
  try {
    await assert.rejects(redis.set('write-probe', '1'), /^ReplyError: OOM/, 'Redis refuses writes');
    return await body();
  } finally {
    await redis.config('SET', 'maxmemory', '0');
  }
}

/** Redis's clock, epoch ms. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

test("a model's backlog answers while Redis refuses writes: never indexed, due for its hourly indexing, or its index behind; once Redis takes writes again it is indexed as ever", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  for (const added of [item('m-1', 0.5, 'm', 100), item('m-2', 0.9, 'm', 200), item('n-1', 0.5, 'n', 50)]) await p.add(added);
  const counted = { pending: 2, leased: 0, oldestPendingAt: 100 };

  // Never looked at: the first look stamps the model's indexing time.
  await redis.del(keys.reviewModelIndexed('m'));
  assert.deepEqual(await outOfMemory(() => p.backlog(5_000, 'm')), counted, 'never indexed');
  assert.equal(await redis.exists(keys.reviewModelIndexed('m')), 0, 'nothing written');

  // Its last full indexing an interval old: the indexing claim is refused.
  await redis.set(keys.reviewModelIndexed('m'), (await redisNow()) - defaultReindexIntervalMs - 1_000);
  assert.deepEqual(await outOfMemory(() => p.backlog(5_000, 'm')), counted, 'due for its hourly indexing');
  assert.equal(await redis.exists(keys.reviewModelIndexing('m')), 0, 'no claim taken');

  // Its index behind its pool (as written by a version before it): counted from the pool, the
  // oldest from the index as it stands.
  await redis.zrem(keys.reviewModelPendingAge('m'), 'm-1');
  assert.deepEqual(await outOfMemory(() => p.backlog(5_000, 'm')), { pending: 2, leased: 0, oldestPendingAt: 200 }, 'index behind');
  assert.deepEqual(await outOfMemory(() => p.backlog(5_000)), { pending: 3, leased: 0, oldestPendingAt: 50 }, 'all models, as before');

  // Writes taken again: the next look indexes the model and stamps it, as ever.
  assert.deepEqual(await p.backlog(5_000, 'm'), counted);
  assert.deepEqual(await redis.zrange(keys.reviewModelPendingAge('m'), 0, -1), ['m-1', 'm-2']);
  assert.ok(Number(await redis.get(keys.reviewModelIndexed('m'))) > (await redisNow()) - 60_000, 'indexed now');
});

test('a pending listing of one model answers while Redis refuses writes, never indexed or due for its indexing', async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  for (const added of [item('m-1', 0.5, 'm', 100), item('m-2', 0.9, 'm', 200), item('n-1', 0.5, 'n', 150)]) await p.add(added);
  const listed = async () => (await p.list({ status: 'pending', model: 'm' }, { limit: 10, now: 5_000 })).items.map((x) => x.inferenceId);

  await redis.del(keys.reviewModelIndexed('m'));
  assert.deepEqual(await outOfMemory(listed), ['m-2', 'm-1'], 'never indexed');
  await redis.set(keys.reviewModelIndexed('m'), (await redisNow()) - defaultReindexIntervalMs - 1_000);
  assert.deepEqual(await outOfMemory(listed), ['m-2', 'm-1'], 'due for its hourly indexing');
  // Its index behind its pool: the index of all models, filtered, as for an index another caller indexes.
  await redis.zrem(keys.reviewModelPendingAge('m'), 'm-1');
  assert.deepEqual(await outOfMemory(listed), ['m-2', 'm-1'], 'index behind');
});

test("other errors still fail a model's backlog while Redis refuses writes, and a refused write fails what must write", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await p.add(item('m-1', 0.5, 'm', 100));
  const other = new ReviewPool(redis, freshPrefix());
  await redis.del(keys.reviewModelIndexed('m'));
  // A key of the wrong type, met before the refused write: its error, not an answer.
  await redis.del(keys.reviewModelPool('m'));
  await redis.set(keys.reviewModelPool('m'), 'not a sorted set');
  await outOfMemory(async () => {
    await assert.rejects(p.backlog(5_000, 'm'), (error: unknown) => error instanceof QueueUnavailableError && /WRONGTYPE/.test(error.message));
    // Adding an item takes memory: refused, as ever.
    await assert.rejects(other.add(item('m-2', 0.5, 'm', 200)), (error: unknown) => error instanceof QueueUnavailableError && /OOM/.test(error.message));
  });
});

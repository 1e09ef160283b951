import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { alice, appTestKit, errorAnswer as answer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// GET /v1/reviews/backlog?model= (the review page's "N waiting", polled by every open tab) while
// Redis refuses writes at maxmemory (noeviction): this file's own Redis, as its limit is set.
const { redis, setup } = await appTestKit('backlog-oom');

test("a model's backlog is answered while Redis refuses writes (maxmemory, noeviction), as the backlog of all models is", async () => {
  const { prefix, pool, app } = setup();
  for (const [id, model, sampledAt] of [['oom-1', 'm', 1_000], ['oom-2', 'm', 2_000], ['oom-3', 'n', 500]] as const) await pool.add(item(id, { model, sampledAt }));
  // The model never looked at yet: its first look stamps its indexing time.
  await redis.del(redisKeys(prefix).reviewModelIndexed('m'));
  const backlog = async (query: string) => app.inject({ method: 'GET', url: `/v1/reviews/backlog${query}`, headers: alice });
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', '1');
  try {
    const one = await backlog('?model=m');
    assert.equal(one.statusCode, 200, one.body);
    assert.deepEqual(JSON.parse(one.body), { pending: 2, leased: 0, oldestPendingAt: 1_000 });
    const all = await backlog('');
    assert.equal(all.statusCode, 200, all.body);
    assert.deepEqual(JSON.parse(all.body), { pending: 3, leased: 0, oldestPendingAt: 500 });
    await assert.rejects(pool.add(item('oom-4')), /OOM/, 'adding is refused');
  } finally {
    await redis.config('SET', 'maxmemory', '0');
  }
  assert.equal((await backlog('?model=m')).statusCode, 200);
  assert.deepEqual(answer(await app.inject({ method: 'GET', url: '/v1/reviews/backlog?model=m' })), [401, 'UNAUTHORIZED']);
});

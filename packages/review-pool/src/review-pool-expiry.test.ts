import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { expiredPerCall } from './item-lua.ts';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// Closed items expire after their retention; their ids must leave the listing index without a
// listing walking over them (Redis runs noeviction). Against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

function setUp(retentionMs = 200) {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const index = () => redis.zrange(redisKeys(prefix).reviewIndex, 0, -1);
  const expiring = () => redis.zcard(`${prefix}:review:expiring`);
  const expired = () => sleep(retentionMs + 100);
  return { pool: new ReviewPool(redis, prefix, { retentionMs }), index, expiring, expired };
}

/** Adds `count` items and closes them all: every third set aside as broken, the others reviewed. */
async function closeItems(pool: ReviewPool, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await pool.add(item(`c${i}`, 0.5, 'm', 1_000 + i));
    const leased = await pool.lease('alice', 60_000);
    assert.ok(leased);
    if (i % 3 === 2) await pool.setAside(leased.inferenceId, 'alice', 'prediction.json is missing');
    else await pool.complete(leased.inferenceId, 'alice', 'supports', undefined);
  }
}

test('reviewed and broken items that expired leave the listing index at the next lease, with no listing', async () => {
  const { pool, index, expiring, expired } = setUp();
  await closeItems(pool, 6);
  assert.equal((await index()).length, 6, 'listed while kept');
  await expired();
  assert.equal(await pool.lease('bob', 60_000), undefined, 'nothing pending');
  assert.deepEqual(await index(), []);
  assert.equal(await expiring(), 0, 'nor are they tracked any more');
});

test('an add (a worker, with no reviewer around) and a read take them out too', async () => {
  const { pool, index, expired } = setUp();
  await closeItems(pool, 4);
  await expired();
  await pool.add(item('fresh', 0.5));
  assert.deepEqual(await index(), ['fresh'], 'by the add');

  const other = setUp();
  await closeItems(other.pool, 4);
  await other.expired();
  assert.equal(await other.pool.get('c0'), undefined);
  assert.deepEqual(await other.index(), [], 'by the read');
});

test(`one call takes at most ${expiredPerCall} out: bounded work, the rest at the next calls`, async () => {
  // A longer retention: none may expire (and be taken out) while the others are being closed.
  const retentionMs = 1_500;
  const { pool, index, expired } = setUp(retentionMs);
  const started = Date.now();
  await closeItems(pool, expiredPerCall + 20);
  assert.ok(Date.now() - started < retentionMs, 'closed within the retention');
  await expired();
  await pool.lease('bob', 60_000);
  assert.equal((await index()).length, 20);
  await pool.lease('bob', 60_000);
  assert.deepEqual(await index(), []);
});

test('an item kept again (restored, or its verdict undone) stays listed: only expired items leave', async () => {
  const { pool, index, expiring, expired } = setUp();
  await pool.add(item('undone', 0.5));
  await pool.lease('carol', 60_000);
  const kept = await pool.complete('undone', 'carol', 'unsure', undefined);
  await pool.undo('undone', 'carol', { windowMs: 60_000, leaseMs: 60_000, verdictId: kept.verdictId ?? '' });
  await pool.add(item('restored', 0.5));
  await pool.lease('alice', 60_000);
  await pool.setAside('restored', 'alice', 'explanation.json is missing');
  await pool.restore('restored');
  assert.equal(await expiring(), 0, 'kept for ever again: no longer expiring');
  await expired();
  await pool.lease('bob', 60_000);
  assert.deepEqual((await index()).sort(), ['restored', 'undone']);
});

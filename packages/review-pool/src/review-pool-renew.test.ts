import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { resendingClient } from './resending-client.ts';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// A lease is named by its leaseExpiresAt: a release can be bound to the lease its caller was
// handed, and the holder can renew a live lease, which gives it a new name. A closing page's
// release that lands after another tab of the same reviewer renewed the lease gives nothing back.
// Against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

const setUp = () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  return { prefix, pool: new ReviewPool(redis, prefix) };
};

test('a release bound to a lease is refused once the lease was renewed, and accepted for the current lease', async () => {
  const { pool } = setUp();
  await pool.add(item('r', 0.5));
  const leased = await pool.lease('alice', 60_000, { now: 10_000 });
  assert.equal(leased?.leaseExpiresAt, 70_000);
  const renewed = await pool.renew('r', 'alice', 60_000, 10_500);
  assert.deepEqual([renewed.status, renewed.leasedBy, renewed.leaseExpiresAt], ['leased', 'alice', 70_500]);
  // The late release of the tab that left, bound to the lease it was handed.
  await assert.rejects(pool.release('r', 'alice', 11_000, { lease: 70_000 }), { code: 'REVIEW_NOT_LEASED', message: /renewed or leased again/ });
  const still = await pool.get('r', 11_000);
  assert.deepEqual([still?.status, still?.leasedBy, still?.leaseExpiresAt], ['leased', 'alice', 70_500]);
  assert.equal(await pool.lease('bob', 60_000, { now: 11_000 }), undefined, 'nobody else gets it');
  const released = await pool.release('r', 'alice', 11_100, { lease: 70_500 });
  assert.deepEqual([released.status, released.leasedBy], ['pending', undefined]);
});

test('a release without a lease gives back whatever lease the holder has, renewed or not', async () => {
  const { pool } = setUp();
  await pool.add(item('u', 0.5));
  await pool.lease('alice', 60_000, { now: 10_000 });
  await pool.renew('u', 'alice', 60_000, 10_500);
  assert.equal((await pool.release('u', 'alice', 11_000)).status, 'pending');
});

test('renew is refused for a reviewer who does not hold the lease, for an expired lease, and while a verdict is being kept', async () => {
  const { pool } = setUp();
  await pool.add(item('a', 0.5));
  await pool.lease('alice', 1_000, { now: 10_000 });
  await assert.rejects(pool.renew('a', 'bob', 60_000, 10_100), { code: 'REVIEW_NOT_LEASED' });
  await assert.rejects(pool.renew('nope', 'alice', 60_000, 10_100), { code: 'REVIEW_NOT_FOUND' });
  // Expired at its own time, before any read returned it to the pool.
  await assert.rejects(pool.renew('a', 'alice', 60_000, 11_000), { code: 'REVIEW_NOT_LEASED' });
  assert.equal((await pool.get('a', 11_000))?.status, 'pending', 'an expired lease is not brought back by a refused renew');

  await pool.add(item('v', 0.6));
  await pool.lease('alice', 60_000, { now: 20_000 });
  const begun = await pool.beginVerdict('v', 'alice', 'supports', undefined, 20_100);
  assert.ok(begun.state === 'begun');
  await assert.rejects(pool.renew('v', 'alice', 60_000, 20_200), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await pool.finishVerdict('v', begun.item.closing.token);
  await assert.rejects(pool.renew('v', 'alice', 60_000, 20_300), { code: 'REVIEW_NOT_LEASED' }, 'a reviewed item');
});

test('the renewed lease runs out at its new time: the leases index and the reviewer\'s own set move with it', async () => {
  const { prefix, pool } = setUp();
  const keys = redisKeys(prefix);
  await pool.add(item('e', 0.5));
  await pool.lease('alice', 1_000, { now: 10_000 });
  await pool.renew('e', 'alice', 1_000, 10_800);
  assert.equal(Number(await redis.zscore(keys.reviewLeases, 'e')), 11_800);
  assert.equal(Number(await redis.zscore(keys.reviewLeasedBy('alice'), 'e')), 11_800);
  // Past the first lease's end, before the renewed one's: still alice's.
  assert.equal(await pool.lease('bob', 1_000, { now: 11_500 }), undefined);
  assert.deepEqual(await pool.backlog(11_500), { pending: 0, leased: 1, oldestPendingAt: undefined });
  // Past the renewed lease's end: back in the pool, for anyone.
  assert.equal((await pool.get('e', 11_800))?.status, 'pending');
  assert.equal((await pool.lease('bob', 1_000, { now: 11_900 }))?.inferenceId, 'e');
  assert.equal((JSON.parse((await redis.get(keys.reviewState('e'))) ?? '{}') as { leasedBy?: string }).leasedBy, 'bob');
});

test('renew run twice (a resend after a lost reply): renewed both times, the answer naming the lease that runs', async () => {
  const { pool: plain, prefix } = setUp();
  const { client, resendNext } = resendingClient(redis);
  const pool = new ReviewPool(client, prefix);
  await plain.add(item('t', 0.5));
  await pool.lease('alice', 60_000, { now: 10_000 });
  resendNext();
  // The second run finds the lease the first gave (70_500) and renews it 1 ms on.
  assert.equal((await pool.renew('t', 'alice', 60_000, 10_500)).leaseExpiresAt, 70_501);
  assert.equal(Number(await redis.zscore(redisKeys(prefix).reviewLeases, 't')), 70_501);
});

test('a page that reloads asks for its held item again and it is renewed: the release it sent as it went, landing late, gives nothing back', async () => {
  const { pool } = setUp();
  await pool.add(item('h', 0.5));
  assert.equal((await pool.lease('alice', 60_000, { now: 10_000 }))?.leaseExpiresAt, 70_000);
  const again = await pool.lease('alice', 60_000, { now: 12_000 });
  assert.deepEqual([again?.inferenceId, again?.leaseExpiresAt], ['h', 72_000]);
  await assert.rejects(pool.release('h', 'alice', 12_500, { lease: 70_000 }), { code: 'REVIEW_NOT_LEASED' });
  const still = await pool.get('h', 12_500);
  assert.deepEqual([still?.status, still?.leasedBy, still?.leaseExpiresAt], ['leased', 'alice', 72_000]);
});

test('a renew never moves a lease back nor names it as before, whatever the clock of the instance asking', async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('c', 0.5));
  await pool.lease('alice', 60_000, { now: 10_000 });
  // An instance whose clock is 600 ms behind renews 500 ms later, then one at the first clock.
  assert.equal((await pool.renew('c', 'alice', 60_000, 9_900)).leaseExpiresAt, 70_001);
  assert.equal((await pool.renew('c', 'alice', 60_000, 10_000)).leaseExpiresAt, 70_002);
  assert.equal(Number(await redis.zscore(redisKeys(prefix).reviewLeasedBy('alice'), 'c')), 70_002);
  await assert.rejects(pool.release('c', 'alice', 10_100, { lease: 70_000 }), { code: 'REVIEW_NOT_LEASED' });
  assert.equal((await pool.get('c', 10_100))?.leaseExpiresAt, 70_002);
});

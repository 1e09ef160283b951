import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from './review-pool.ts';
import { ReviewPoolError } from './review-pool-error.ts';
import { testItem as item } from './test-item.ts';

// An erased inference leaves nothing of its review item in Redis: its keys, and its id in every
// index of the pool. Against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

function setUp() {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  return { prefix, pool: new ReviewPool(redis, prefix) };
}

/** Every place under `prefix` that names `id`: a key, a set or sorted-set member, a hash field. */
async function traces(prefix: string, id: string): Promise<string[]> {
  const found: string[] = [];
  for (const key of await redis.keys(`${prefix}:*`)) {
    if (key.endsWith(`:${id}`)) found.push(key);
    const type = await redis.type(key);
    const members = type === 'zset' ? await redis.zrange(key, 0, -1) : type === 'hash' ? await redis.hkeys(key) : type === 'set' ? await redis.smembers(key) : [];
    for (const member of members) if (member === id || member.endsWith(`:${id}`)) found.push(`${key} ${member}`);
  }
  return found;
}

test('a pending item is erased with every index entry of its id; the others stay and are served', async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('gone', 0.9, 'm', 1_000));
  await pool.add(item('kept', 0.5, 'm', 2_000));
  await pool.add(item('other-model', 0.5, 'n', 3_000));
  assert.notDeepEqual(await traces(prefix, 'gone'), [], 'the item was there');
  assert.equal(await pool.remove('gone'), true);
  assert.deepEqual(await traces(prefix, 'gone'), []);
  assert.equal(await pool.get('gone'), undefined);
  assert.deepEqual(await pool.backlog(), { pending: 2, leased: 0, oldestPendingAt: 2_000 });
  assert.deepEqual(await pool.backlog(Date.now(), 'm'), { pending: 1, leased: 0, oldestPendingAt: 2_000 });
  assert.equal((await pool.lease('alice', 60_000, { model: 'm' }))?.inferenceId, 'kept');
  assert.equal(await pool.remove('gone'), false, 'a second removal finds nothing');
});

test('a leased item is erased with its lease; its reviewer is handed the next item', async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('gone', 0.9));
  await pool.add(item('next', 0.5, 'm', 2_000));
  assert.equal((await pool.lease('alice', 60_000))?.inferenceId, 'gone');
  assert.equal(await pool.remove('gone'), true);
  assert.deepEqual(await traces(prefix, 'gone'), []);
  assert.equal(await redis.exists(`${prefix}:review:leased-by:alice`), 0, "the reviewer's own lease set");
  assert.equal((await pool.lease('alice', 60_000))?.inferenceId, 'next');
});

test("an erased item leaves every reviewer's skip memory; what else they skipped is still remembered", async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('gone', 0.9));
  await pool.add(item('kept', 0.5, 'm', 2_000));
  for (const reviewer of ['alice', 'bob']) {
    assert.equal((await pool.lease(reviewer, 60_000))?.inferenceId, 'gone');
    await pool.skip('gone', reviewer);
  }
  assert.equal((await pool.lease('alice', 60_000))?.inferenceId, 'kept');
  await pool.skip('kept', 'alice');
  assert.deepEqual(await redis.zrange(redisKeys(prefix).reviewSkipped('bob'), 0, -1), ['gone']);
  assert.equal(await pool.remove('gone'), true);
  // Before, the bare id stayed in alice's and bob's skip memory for a week after the erasure.
  assert.deepEqual(await traces(prefix, 'gone'), []);
  assert.deepEqual(await redis.zrange(redisKeys(prefix).reviewSkipped('alice'), 0, -1), ['kept'], 'her other skip is kept');
  assert.equal(await pool.lease('alice', 60_000), undefined, 'and still keeps it from her');
  assert.equal(await pool.remove('gone'), false);
});

test('reviewed and set-aside items are erased, expiry entry included; the counts stay', async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('judged', 0.9));
  await pool.complete((await pool.lease('alice', 60_000))!.inferenceId, 'alice', 'supports', 'looks right');
  await pool.add(item('aside', 0.9));
  await pool.setAside((await pool.lease('alice', 60_000))!.inferenceId, 'alice', 'overlay missing');
  assert.equal(await redis.zcard(`${prefix}:review:expiring`), 2);
  assert.equal(await pool.remove('judged'), true);
  assert.deepEqual(await traces(prefix, 'judged'), []);
  assert.equal(await pool.remove('aside'), true);
  // Who set it aside is not recorded: their lease set keeps the bare id until it expires with the lease.
  const held = `${prefix}:review:leased-by:alice`;
  assert.deepEqual(await traces(prefix, 'aside'), [`${held} aside`]);
  const ttl = await redis.pttl(held);
  assert.ok(ttl > 0 && ttl <= 60_000, `expires with the lease (${ttl} ms)`);
  assert.deepEqual(await pool.list({}, { limit: 10 }), { items: [], next: undefined });
  assert.deepEqual(await pool.verdictCounts(), { 'm|2|supports': 1 }, 'counters only go up');
  assert.equal(await redis.hget(redisKeys(prefix).reviewBroken, 'm'), '1');
});

test('refused while a verdict on it is being kept (it is writing review.json), done once it is kept', async () => {
  const { prefix, pool } = setUp();
  await pool.add(item('busy', 0.9));
  await pool.lease('alice', 60_000);
  const begun = await pool.beginVerdict('busy', 'alice', 'wrong-evidence', undefined);
  assert.equal(begun.state, 'begun');
  await assert.rejects(pool.remove('busy'), (error: unknown) => error instanceof ReviewPoolError && error.code === 'REVIEW_VERDICT_IN_PROGRESS');
  assert.equal((await pool.get('busy'))?.status, 'leased', 'nothing changed');
  if (begun.state === 'begun') await pool.finishVerdict('busy', begun.item.closing.token);
  assert.equal(await pool.remove('busy'), true);
  assert.deepEqual(await traces(prefix, 'busy'), []);
});

test('an id never added is no error, and leaves nothing behind', async () => {
  const { prefix, pool } = setUp();
  assert.equal(await pool.remove('never'), false);
  assert.deepEqual(await traces(prefix, 'never'), []);
});

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// The explanation on the reviewer's screen (`shown`) kept with a verdict, against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

const newPool = () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  return { prefix, p: new ReviewPool(redis, prefix, { retentionMs: 3_600_000 }) };
};
const leaseMs = 600_000;
const layercam = { method: 'layercam', classIndex: 0 };
const gradcam = { method: 'gradcam', classIndex: 2 };

test('shown goes with the marker to the kept verdict; not part of "the same verdict": the first one stands', async () => {
  const { p } = newPool();
  await p.add(item('a', 0.9));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const begun = await p.beginVerdict('a', 'alice', 'wrong-evidence', undefined, 10_100, { shown: layercam });
  assert.equal(begun.state, 'begun');
  assert.deepEqual(begun.item.closing?.shown, layercam);
  const { item: kept } = await p.finishVerdict('a', begun.state === 'begun' ? begun.item.closing.token : '');
  assert.deepEqual([kept.status, kept.shown], ['reviewed', layercam]);
  assert.deepEqual((await p.get('a'))?.shown, layercam);
  assert.deepEqual((await p.list({ status: 'reviewed' }, { limit: 10 })).items.map((x) => x.shown), [layercam]);
  const again = await p.beginVerdict('a', 'alice', 'wrong-evidence', undefined, 10_200, { shown: gradcam });
  assert.deepEqual([again.state, again.item.shown], ['done', layercam], 'the same verdict sent again from another heatmap: answered with the kept one');
});

test('a stale marker taken over keeps the dead request\'s shown (its entry may hold it)', async () => {
  const { p } = newPool();
  await p.add(item('a', 0.9));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const dead = await p.beginVerdict('a', 'alice', 'supports', undefined, 10_100, { shown: layercam });
  const taken = await p.beginVerdict('a', 'alice', 'supports', undefined, 10_100 + 61_000, { shown: gradcam });
  assert.equal(taken.state, 'begun');
  assert.deepEqual([taken.item.closing?.token, taken.item.closing?.shown], [dead.item.closing?.token, layercam]);
});

test('an undo clears shown; one a version before left behind (another verdictId) is not read', async () => {
  const { prefix, p } = newPool();
  await p.add(item('a', 0.9));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const begun = await p.beginVerdict('a', 'alice', 'supports', undefined, 10_100, { shown: layercam });
  const { item: kept } = await p.finishVerdict('a', begun.state === 'begun' ? begun.item.closing.token : '');
  const undone = await p.undo('a', 'alice', { windowMs: 5_000, leaseMs, verdictId: kept.verdictId ?? '', now: 11_000 });
  assert.deepEqual([undone.status, undone.shown], ['leased', undefined]);
  const plain = await p.complete('a', 'alice', 'unsure', undefined, 11_100);
  assert.equal(plain.shown, undefined, 'a verdict without shown has none');
  // A review replica of the version before undid and judged again without clearing the state's shown.
  const key = `${prefix}:review:state:a`;
  const state = JSON.parse((await redis.get(key)) ?? '{}') as Record<string, unknown>;
  await redis.set(key, JSON.stringify({ ...state, shown: { ...layercam, verdictId: kept.verdictId } }));
  assert.equal((await p.get('a'))?.shown, undefined, 'shown of the verdict taken back is not the kept one\'s');
  await redis.set(key, JSON.stringify({ ...state, shown: { ...layercam, verdictId: plain.verdictId } }));
  assert.deepEqual((await p.get('a'))?.shown, layercam, 'read when it is the kept verdict\'s');
});

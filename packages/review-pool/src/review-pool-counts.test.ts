import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys, verdictSchema } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// The counts the metrics exporter republishes from the pool (gradcam_review_verdicts_total,
// _skips_total, _broken_total) exist at 0 before their first count: Prometheus's rate() and
// increase() take a series' first sample as its start, so a count born at 1 is never counted.

const { redis, stop } = await startRedisWithClient();
after(stop);

test("adding an item counts every verdict (given and undone) of its model and class at 0, so the first verdict and undo on them is an increase; verdictCounts lists the verdicts given", async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await p.add(item('a', 0.5, 'm'));
  await p.add({ ...item('b', 0.5, 'n'), predictedClass: 7 });
  const zeros = (model: string, predictedClass: number) => Object.fromEntries(verdictSchema.options.map((verdict) => [`${model}|${predictedClass}|${verdict}`, '0']));
  assert.deepEqual(await redis.hgetall(keys.reviewVerdicts), { ...zeros('m', 2), ...zeros('n', 7) });
  assert.deepEqual(await redis.hgetall(keys.reviewUndos), { ...zeros('m', 2), ...zeros('n', 7) }, 'each verdict undone, at 0 too');
  assert.deepEqual(await redis.hgetall(keys.reviewSkips), { m: '0', n: '0' });
  assert.deepEqual(await redis.hgetall(keys.reviewBroken), { m: '0', n: '0' });
  assert.deepEqual(await p.verdictCounts(), {}, 'no verdict given yet');
  assert.deepEqual((await p.models()).sort(), ['m', 'n']);

  await p.lease('alice', 60_000, { model: 'm', now: 10_000 });
  await p.complete('a', 'alice', 'supports', undefined, 10_001);
  // Another item of the same class leaves the count as it is.
  await p.add({ ...item('c', 0.5, 'm'), sampledAt: 2_000 });
  assert.equal(await redis.hget(keys.reviewVerdicts, 'm|2|supports'), '1');
  assert.equal(await redis.hget(keys.reviewVerdicts, 'm|2|unsure'), '0');
  assert.deepEqual(await p.verdictCounts(), { 'm|2|supports': 1 });
  assert.deepEqual(await p.undoCounts(), {});
  await p.undo('a', 'alice', { windowMs: 60_000, leaseMs: 60_000, now: 10_002 });
  assert.equal(await redis.hget(keys.reviewUndos, 'm|2|unsure'), '0');
  assert.deepEqual(await p.undoCounts(), { 'm|2|supports': 1 }, 'undoCounts leaves the zeros out');
});

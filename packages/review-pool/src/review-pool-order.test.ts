import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type ReviewItem, redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { idFraction, idSalts } from '@gradcam/sampling';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// The order the pool hands items out in (pool-order.ts): equal priorities oldest first, and the
// uniform baseline (the policy's rate= term) in its own share of the leases, oldest first.

const { redis, stop } = await startRedisWithClient();
after(stop);

const freshPrefix = () => `t${Math.random().toString(36).slice(2, 10)}`;

/** Leases one item to each of `count` new reviewers (each holds one lease), in turn; their ids. */
async function leaseInTurn(p: ReviewPool, count: number, options: { model?: string; now?: number } = {}): Promise<(string | undefined)[]> {
  const ids: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) ids.push((await p.lease(`reviewer-${Math.random().toString(36).slice(2, 10)}`, 60_000, options))?.inferenceId);
  return ids;
}

/** Ids the uniform draw at `rate` takes (`inside`) or not, as uniformRate decides. */
function idsDrawn(inside: boolean, count: number, rate: number, stem: string): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i++) if (idFraction(`${stem}${i}`, idSalts.rate) < rate === inside) ids.push(`${stem}${i}`);
  return ids;
}

test('equal priorities are handed out oldest first (by sampledAt, then id), whatever the ids; a higher priority still goes first', async () => {
  const p = new ReviewPool(redis, freshPrefix());
  // Ids in the reverse of time order: Redis alone hands out z-new first (ties by member, descending).
  for (const [id, sampledAt] of [['z-new', 3_000], ['a-old', 1_000], ['m-mid', 2_000], ['b-same-ms', 2_000], ['newest', 9_000]] as const) await p.add(item(id, 1, 'm', sampledAt));
  await p.add(item('lower-and-oldest', 0.5, 'm', 500));
  assert.deepEqual(await leaseInTurn(p, 7), ['a-old', 'b-same-ms', 'm-mid', 'z-new', 'newest', 'lower-and-oldest', undefined]);
});

test('a flood of priority-1 items does not starve the oldest: it is leased first, and again first once given back', async () => {
  const p = new ReviewPool(redis, freshPrefix());
  await p.add(item('aaa-oldest', 1, 'm', 1_000));
  for (let i = 0; i < 200; i++) await p.add(item(`flood-${String(i).padStart(3, '0')}`, 1, i % 2 === 0 ? 'm' : 'n', 2_000 + i));
  const first = await p.lease('alice', 60_000, { now: 10_000 });
  assert.equal(first?.inferenceId, 'aaa-oldest');
  await p.release('aaa-oldest', 'alice', 10_001);
  assert.equal((await p.lease('bob', 60_000, { model: 'm', now: 10_002 }))?.inferenceId, 'aaa-oldest', 'given back, it is first again (per model too)');
  assert.deepEqual(await leaseInTurn(p, 3, { model: 'n', now: 10_003 }), ['flood-001', 'flood-003', 'flood-005']);
  assert.deepEqual(await p.backlog(10_004), { pending: 197, leased: 4, oldestPendingAt: 2_000 });
});

test('items of the uniform draw (the rate= term) get every 4th lease, oldest first, however many higher priorities wait', async () => {
  const p = new ReviewPool(redis, freshPrefix());
  const policy = 'budget=60/h|rate=0.5';
  // In the draw: the baseline, whichever term the decision names (the budget took the second too).
  const [b1, b2, b3] = idsDrawn(true, 3, 0.5, 'base-');
  const ranked = idsDrawn(false, 12, 0.5, 'high-');
  const baseline = (id: string, sampledAt: number, term: string, priority: number): ReviewItem => ({ ...item(id, priority, 'm', sampledAt), sampling: { sampled: true, policy, term, reason: term === 'rate=0.5' ? 'rate' : 'priority', priority } });
  await p.add(baseline(b3!, 3_000, 'rate=0.5', 0.1));
  await p.add(baseline(b1!, 1_000, 'budget=60/h', 0.95));
  await p.add(baseline(b2!, 2_000, 'rate=0.5', 0.05));
  for (const [i, id] of ranked.entries()) await p.add({ ...item(id, 0.9 - i / 100, 'm', 5_000 + i), sampling: { sampled: true, policy, term: 'budget=60/h', reason: 'priority', priority: 0.9 - i / 100 } });
  await p.add(item('high-last', 0.5, 'm', 9_000));
  const leased = await leaseInTurn(p, 12);
  assert.deepEqual(
    leased,
    [ranked[0], ranked[1], ranked[2], b1, ranked[3], ranked[4], ranked[5], b2, ranked[6], ranked[7], ranked[8], b3],
    'every 4th lease is the oldest baseline item; the others the highest priorities',
  );
  // Nothing is held back: the 16th, a baseline turn with the baseline empty, takes a priority; the
  // 17th and 18th, with the priorities empty, the baseline.
  assert.deepEqual(await leaseInTurn(p, 4), [ranked[9], ranked[10], ranked[11], 'high-last']);
  const [b4, b5] = idsDrawn(true, 5, 0.5, 'base-').slice(3);
  await p.add(baseline(b5!, 12_000, 'rate=0.5', 0.3));
  await p.add(baseline(b4!, 11_000, 'rate=0.5', 0.2));
  assert.deepEqual(await leaseInTurn(p, 3), [b4, b5, undefined]);
});

test("the baseline's turn is counted per source: a model's own leases give it every 4th of them, and a skip passes to the next baseline item", async () => {
  const p = new ReviewPool(redis, freshPrefix());
  const drawn = idsDrawn(true, 2, 1, 'b-');
  for (const [i, id] of drawn.entries()) await p.add({ ...item(id, 0.1, 'n', 1_000 + i), sampling: { sampled: true, policy: 'rate=1', term: 'rate=1', reason: 'rate', priority: 0.1 } });
  for (let i = 0; i < 10; i++) await p.add(item(`n-high-${i}`, 0.9, 'n', 2_000 + i));
  for (let i = 0; i < 10; i++) await p.add(item(`m-high-${i}`, 0.9, 'm', 2_000 + i));
  // Leases of any model in between do not move model n's turn.
  await leaseInTurn(p, 2, { model: 'm' });
  assert.deepEqual(await leaseInTurn(p, 3, { model: 'n' }), ['n-high-0', 'n-high-1', 'n-high-2']);
  await leaseInTurn(p, 2);
  const [oldest, next] = drawn;
  assert.equal((await p.lease('erin', 60_000, { model: 'n' }))?.inferenceId, oldest, "model n's 4th lease");
  // erin skips it: her next baseline turn takes the next one.
  await p.skip(oldest!, 'erin');
  assert.deepEqual(await leaseInTurn(p, 3, { model: 'n' }), ['n-high-3', 'n-high-4', 'n-high-5']);
  assert.equal((await p.lease('erin', 60_000, { model: 'n' }))?.inferenceId, next, 'the 8th: the next baseline item, the skipped one staying away from erin');
});

test("a baseline turn the reviewer cannot take (they skipped the baseline's items) passes to the next lease instead of being lost", async () => {
  const p = new ReviewPool(redis, freshPrefix());
  const policy = 'budget=60/h|rate=0.5';
  const [older, newer] = idsDrawn(true, 2, 0.5, 'base-');
  const baseline = (id: string, sampledAt: number): ReviewItem => ({ ...item(id, 0.1, 'm', sampledAt), sampling: { sampled: true, policy, term: 'rate=0.5', reason: 'rate', priority: 0.1 } });
  await p.add(baseline(older!, 1_000));
  for (let i = 0; i < 12; i++) await p.add(item(`high-${String(i).padStart(2, '0')}`, 0.9, 'm', 5_000 + i));
  assert.deepEqual(await leaseInTurn(p, 3), ['high-00', 'high-01', 'high-02']);
  assert.equal((await p.lease('alice', 60_000))?.inferenceId, older, 'the 4th lease: the baseline');
  await p.skip(older!, 'alice');
  assert.deepEqual(await leaseInTurn(p, 3), ['high-03', 'high-04', 'high-05']);
  // alice's lease is the baseline's turn again, but the baseline holds only what she skipped.
  assert.equal((await p.lease('alice', 60_000))?.inferenceId, 'high-06');
  await p.add(baseline(newer!, 1_500));
  // The next reviewer, who can take it, is handed the baseline's item; then the count starts again.
  assert.deepEqual(await leaseInTurn(p, 5), [older, 'high-07', 'high-08', 'high-09', newer]);
});

/** What add() wrote before the lanes: the item in two parts, its state without a lane, the pool as id → priority. */
async function addAsBefore(prefix: string, added: ReviewItem, state: Record<string, unknown> = { status: 'pending' }): Promise<void> {
  const { status: _status, ...fixed } = added;
  await redis.set(`${prefix}:review:item:${added.inferenceId}`, JSON.stringify(fixed));
  await redis.set(`${prefix}:review:state:${added.inferenceId}`, JSON.stringify(state));
  await redis.zadd(`${prefix}:review:index`, added.sampledAt, added.inferenceId);
  if (state.status !== 'pending') return;
  for (const key of ['pool', `pool:${added.model}`]) await redis.zadd(`${prefix}:review:${key}`, added.sampling.priority, added.inferenceId);
  await redis.zadd(`${prefix}:review:pending-age`, added.sampledAt, added.inferenceId);
}

test('a pool written before the lanes keeps working: counted as it is, sorted into the lanes by the next lease, items leased then come back to their lane', async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const [drawn] = idsDrawn(true, 1, 0.5, 'old-base-');
  for (const [id, sampledAt] of [['z-new', 3_000], ['a-old', 1_000], ['m-mid', 2_000]] as const) await addAsBefore(prefix, item(id, 1, 'm', sampledAt));
  await addAsBefore(prefix, item('other-model', 1, 'n', 500));
  await addAsBefore(prefix, { ...item(drawn!, 0.2, 'm', 800), sampling: { sampled: true, policy: 'confidence<0.6|rate=0.5', term: 'rate=0.5', reason: 'rate', priority: 0.2 } });
  // Stored whole (before the state had its own key), and one leased to carol until 5_000.
  const whole = item('whole', 1, 'm', 1_500);
  await redis.set(`${prefix}:review:item:whole`, JSON.stringify(whole));
  for (const key of ['pool', 'pool:m']) await redis.zadd(`${prefix}:review:${key}`, 1, 'whole');
  for (const key of ['index', 'pending-age']) await redis.zadd(`${prefix}:review:${key}`, whole.sampledAt, 'whole');
  await addAsBefore(prefix, item('held', 1, 'm', 100), { status: 'leased', leasedBy: 'carol', leaseExpiresAt: 5_000 });
  await redis.zadd(keys.reviewLeases, 5_000, 'held');
  await redis.zadd(keys.reviewLeasedBy('carol'), 5_000, 'held');

  const p = new ReviewPool(redis, prefix);
  assert.deepEqual(await p.backlog(4_000), { pending: 6, leased: 1, oldestPendingAt: 500 }, 'read as it is, before any lease');
  assert.deepEqual(await p.backlog(4_000, 'm'), { pending: 5, leased: 1, oldestPendingAt: 800 });
  assert.deepEqual(await p.backlog(4_000, 'n'), { pending: 1, leased: 0, oldestPendingAt: 500 });
  // carol's lease has run out by 6_000: 'held' (sampled at 100) is the oldest of the ties at 1.
  const order = await leaseInTurn(p, 8, { now: 6_000 });
  assert.deepEqual(order, ['held', 'other-model', 'a-old', drawn, 'whole', 'm-mid', 'z-new', undefined]);
  assert.equal(await redis.exists(keys.reviewLegacyPool, keys.reviewLegacyModelPool('m'), keys.reviewLegacyModelPool('n')), 0, 'the old pool is empty, and gone');
  assert.deepEqual(await p.backlog(6_000), { pending: 0, leased: 7, oldestPendingAt: undefined });
  // Given back, a sorted item returns to its lane (its state says which), not to the old pool.
  const holder = (await p.get('a-old', 6_001))?.leasedBy as string;
  await p.release('a-old', holder, 6_001);
  assert.equal(await redis.exists(keys.reviewLegacyPool), 0);
  assert.deepEqual(await p.backlog(6_001, 'm'), { pending: 1, leased: 5, oldestPendingAt: 1_000 });
  assert.equal((await p.lease('dave', 60_000, { model: 'm', now: 6_002 }))?.inferenceId, 'a-old');
  assert.deepEqual((await p.list({ status: 'leased' }, { limit: 10, now: 6_003 })).items.map((i) => i.inferenceId).sort(), ['a-old', 'held', 'm-mid', 'other-model', 'whole', 'z-new', drawn].sort());
  const judged = await p.complete('whole', (await p.get('whole', 6_004))?.leasedBy as string, 'supports', undefined, 6_004);
  assert.deepEqual([judged.status, judged.verdict, judged.sampling, judged.sampledAt], ['reviewed', 'supports', whole.sampling, whole.sampledAt]);
});

test('an item given back by a version before the lanes (into the old pool) is sorted again by the next lease', async () => {
  const prefix = freshPrefix();
  const p = new ReviewPool(redis, prefix);
  await p.add(item('new-old', 1, 'm', 1_000));
  await p.add(item('new-young', 1, 'm', 2_000));
  // During a rolling upgrade, an old replica's release put 'returned' (sampled first) back as
  // id → priority; its state keeps the lane (the old scripts keep fields they do not know).
  await addAsBefore(prefix, item('returned', 1, 'm', 500), { status: 'pending', lane: 'priority' });
  assert.deepEqual(await leaseInTurn(p, 3), ['returned', 'new-old', 'new-young']);
});

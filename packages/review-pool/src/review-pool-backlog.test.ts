import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type ReviewItem, redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { indexModelStepScript } from './backlog-script.ts';
import { ReviewPool, defaultReindexIntervalMs } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// A model's backlog (the review page polls it for every open tab) reads that model's items only,
// through its own pending index (backlog-script.ts), which every script keeps and a pool written
// before it gets on its first backlog.

const { redis, stop } = await startRedisWithClient();
after(stop);

const freshPrefix = () => `t${Math.random().toString(36).slice(2, 10)}`;

/** The Redis commands run since the last reset, by name (those run by scripts included), less the test's own. */
async function commandsRun(client: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const line of (await client.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match && !['eval', 'evalsha', 'config', 'info', 'script'].includes(match[1]!)) calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

async function commandsOfModelBacklog(otherItems: number): Promise<Record<string, number>> {
  const p = new ReviewPool(redis, freshPrefix());
  await Promise.all(Array.from({ length: otherItems }, (_, i) => p.add(item(`n${i}`, 0.5, 'n', 100 + i))));
  await p.add(item('m1', 0.5, 'm', 1_000_000));
  await p.backlog(2_000_000, 'm'); // the script loaded
  await redis.config('RESETSTAT');
  assert.deepEqual(await p.backlog(2_000_000, 'm'), { pending: 1, leased: 0, oldestPendingAt: 1_000_000 });
  return commandsRun(redis);
}

test("a model's backlog runs the same Redis commands whether 5 or 3,000 older items of another model wait: it reads none of them", async () => {
  const few = await commandsOfModelBacklog(5);
  const many = await commandsOfModelBacklog(3_000);
  assert.deepEqual(many, few);
});

/** Each model's pending index holds what the pending index of all models holds of that model, no more. */
async function assertModelIndexesAgree(prefix: string, models: string[]): Promise<void> {
  const keys = redisKeys(prefix);
  const all = await redis.zrange(keys.reviewPendingAge, 0, -1, 'WITHSCORES');
  for (const model of models) {
    const expected: string[] = [];
    for (let i = 0; i < all.length; i += 2) {
      const fixed = JSON.parse((await redis.get(keys.reviewItem(all[i]!))) ?? '{}') as { model?: string };
      if (fixed.model === model) expected.push(all[i]!, all[i + 1]!);
    }
    assert.deepEqual(await redis.zrange(keys.reviewModelPendingAge(model), 0, -1, 'WITHSCORES'), expected, `the pending index of ${model}`);
  }
}

/** What add() wrote before the lanes: the item in two parts, its state without a lane, the pool as id → priority, the model's counts at 0. */
async function addAsBefore(prefix: string, added: ReviewItem): Promise<void> {
  const { status: _status, ...fixed } = added;
  await redis.set(`${prefix}:review:item:${added.inferenceId}`, JSON.stringify(fixed));
  await redis.set(`${prefix}:review:state:${added.inferenceId}`, JSON.stringify({ status: 'pending' }));
  await redis.zadd(`${prefix}:review:index`, added.sampledAt, added.inferenceId);
  for (const key of ['pool', `pool:${added.model}`]) await redis.zadd(`${prefix}:review:${key}`, added.sampling.priority, added.inferenceId);
  await redis.zadd(`${prefix}:review:pending-age`, added.sampledAt, added.inferenceId);
  for (const key of ['broken', 'skips']) await redis.hincrby(`${prefix}:review:${key}`, added.model, 0);
}

test("every step keeps each model's pending index: add, lease, release, skip, expiry, set aside, restore, verdict, undo, and the sort of a pool kept before the lanes", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  const check = async (step: string) => {
    await assertModelIndexesAgree(prefix, ['m', 'n']);
    assert.equal(await redis.exists(keys.reviewModelIndexing('m'), keys.reviewModelIndexing('n')), 0, `${step}: kept by the scripts, not indexed again`);
    for (const model of ['m', 'n']) await p.backlog(50_000, model);
  };
  const baseline = { ...item('base', 0.1, 'n', 300), sampling: { sampled: true, policy: 'rate=1', term: 'rate=1', reason: 'rate', priority: 0.1 } } satisfies ReviewItem;
  for (const added of [item('a', 0.9, 'm', 100), item('b', 0.5, 'm', 200), baseline, item('c', 0.7, 'n', 400), item('d', 0.2, 'm', -50)]) await p.add(added);
  await check('add');
  const leased = (await p.lease('alice', 1_000, { now: 10_000 }))!;
  await check('lease');
  await p.release(leased.inferenceId, 'alice', 10_001);
  await check('release');
  const skipped = (await p.lease('alice', 1_000, { now: 10_002 }))!;
  await p.skip(skipped.inferenceId, 'alice', 10_003);
  await check('skip');
  await p.lease('bob', 1_000, { model: 'n', now: 10_003 });
  await p.get('a', 11_004); // bob's lease ran out: back in the pool
  await check('expiry');
  const broken = (await p.lease('carol', 60_000, { now: 12_000 }))!;
  await p.setAside(broken.inferenceId, 'carol', 'overlay missing', 12_001);
  await check('set aside');
  await p.restore(broken.inferenceId);
  await check('restore');
  const judged = (await p.lease('dave', 60_000, { model: 'm', now: 13_000 }))!;
  await p.complete(judged.inferenceId, 'dave', 'supports', undefined, 13_001);
  await check('verdict');
  await p.lease('dave', 60_000, { model: 'm', now: 13_002 });
  await p.undo(judged.inferenceId, 'dave', { windowMs: 60_000, leaseMs: 60_000, now: 13_003 }); // the item dave held goes back
  await check('undo');
  await addAsBefore(prefix, item('old', 1, 'n', 50));
  await p.lease('erin', 60_000, { now: 14_000 }); // sorts the old pool first
  await check('sort');
});

test("a pool written before the models' pending indexes is counted exactly: the first backlog of a model indexes it, reading that model's items only", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  for (const added of [item('m-young', 0.9, 'm', 3_000), item('m-old', 0.1, 'm', 900), item('n-1', 0.9, 'n', 100)]) await p.add(added);
  // Written by the lanes' version before the index, and by the one before the lanes (the old pool).
  await redis.del(keys.reviewModelPendingAge('m'), keys.reviewModelPendingAge('n'));
  await addAsBefore(prefix, item('m-oldest', 0.5, 'm', 700));
  await addAsBefore(prefix, item('n-old', 0.5, 'n', 50));
  // An item the sort step dropped as not JSON: out of :pool and the pending index, still in :pool:m.
  await redis.zadd(keys.reviewLegacyModelPool('m'), 0.5, 'not-json');
  assert.deepEqual(await p.backlog(5_000, 'm'), { pending: 3, leased: 0, oldestPendingAt: 700 });
  assert.deepEqual(await p.backlog(5_000, 'n'), { pending: 2, leased: 0, oldestPendingAt: 50 });
  assert.deepEqual(await p.backlog(5_000), { pending: 5, leased: 0, oldestPendingAt: 50 });
  await assertModelIndexesAgree(prefix, ['m', 'n']);

  // During a rolling upgrade, a replica of the version before leases m-oldest (its scripts leave
  // the model's index alone) and a worker of that version adds older items (nor do they enter it).
  await redis.zrem(keys.reviewLegacyPool, 'm-oldest');
  await redis.zrem(keys.reviewLegacyModelPool('m'), 'm-oldest');
  await redis.zrem(keys.reviewPendingAge, 'm-oldest');
  assert.deepEqual(await p.backlog(5_000, 'm'), { pending: 2, leased: 0, oldestPendingAt: 900 }, 'an entry no longer pending is not the oldest');
  const drawn = { ...item('m-base', 0.1, 'm', 500), sampling: { sampled: true, policy: 'rate=1', term: 'rate=1', reason: 'rate', priority: 0.1 } } satisfies ReviewItem;
  await p.add(drawn);
  await p.add(item('m-prio', 0.9, 'm', 400));
  await redis.zrem(keys.reviewModelPendingAge('m'), 'm-base', 'm-prio');
  // The baseline lane is ordered by age itself: exact at once. The priority lane's item waits for
  // the next indexing, one a minute at most (an old worker would have it indexed on every poll).
  assert.deepEqual(await p.backlog(5_000, 'm'), { pending: 4, leased: 0, oldestPendingAt: 500 });
  await redis.del(keys.reviewModelIndexing('m'));
  assert.deepEqual(await p.backlog(5_000, 'm'), { pending: 4, leased: 0, oldestPendingAt: 400 });
  await assertModelIndexesAgree(prefix, ['m', 'n']);
});

test("an item of the pool before the lanes whose stored part is not JSON, indexed before a lease sorted it out, stops counting for its model (not its oldest for ever)", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await addAsBefore(prefix, item('good', 0.5, 'm', 500));
  await addAsBefore(prefix, item('broken-json', 0.9, 'm', 100));
  await redis.set(keys.reviewItem('broken-json'), '{not json');
  await redis.del(keys.reviewSkips); // added before the models' counts existed: the sort cannot find its model
  // The review page polls first: the model is indexed with both items of its old pool.
  assert.deepEqual(await p.backlog(10_000, 'm'), { pending: 2, leased: 0, oldestPendingAt: 100 });
  // The first lease sorts the old pool: the item that is not JSON leaves :pool and the pending
  // index of all models, but stays in :pool:m (its model cannot be read).
  assert.equal((await p.lease('alice', 60_000, { now: 10_000 }))?.inferenceId, 'good');
  assert.deepEqual(await p.backlog(10_001), { pending: 0, leased: 1, oldestPendingAt: undefined });
  assert.equal((await p.backlog(10_001, 'm')).oldestPendingAt, undefined, 'its age is not the model\'s oldest');
  await redis.del(keys.reviewModelIndexing('m')); // the minute has passed: the model is indexed again
  assert.deepEqual(await p.backlog(10_002, 'm'), { pending: 0, leased: 1, oldestPendingAt: undefined });
  assert.deepEqual(await redis.zrange(keys.reviewLegacyModelPool('m'), 0, -1), []);
});

test("an item of the pool before the lanes whose stored part is not JSON stops counting for its model at the sort, though older items of the model still wait", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await addAsBefore(prefix, item('low-oldest', 0.1, 'm', 100));
  await addAsBefore(prefix, item('high', 0.9, 'm', 200));
  await addAsBefore(prefix, item('broken-json', 0.5, 'm', 900));
  await redis.set(keys.reviewItem('broken-json'), '{not json');
  assert.deepEqual(await p.backlog(10_000, 'm'), { pending: 3, leased: 0, oldestPendingAt: 100 }, 'indexed with all three');
  // The sort drops the item that is not JSON; 'high' is leased; 'low-oldest' heads the model's index.
  assert.equal((await p.lease('alice', 60_000, { now: 10_000 }))?.inferenceId, 'high');
  assert.deepEqual(await p.backlog(10_001), { pending: 1, leased: 1, oldestPendingAt: 100 });
  assert.deepEqual(await p.backlog(10_001, 'm'), { pending: 1, leased: 1, oldestPendingAt: 100 }, 'the model counts what the pool counts');
  assert.deepEqual(await redis.zrange(keys.reviewLegacyModelPool('m'), 0, -1), []);
  assert.deepEqual(await redis.zrange(keys.reviewModelPendingAge('m'), 0, -1), ['low-oldest']);
});

/** Every item a listing pages through, `limit` at a time, and how many pages that took. */
async function listAll(p: ReviewPool, model: string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await p.list({ status: 'pending', model }, { limit, ...(cursor === undefined ? {} : { cursor }) });
    ids.push(...page.items.map((x) => x.inferenceId));
    cursor = page.next;
    pages++;
  } while (cursor !== undefined);
  return { ids, pages };
}

test("a pending listing of one model reads that model's pending index: no empty pages for the items of busier models", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  for (const added of [item('m-1', 0.5, 'm', 100), item('m-2', 0.5, 'm', 200)]) await p.add(added);
  await Promise.all(Array.from({ length: 250 }, (_, i) => p.add(item(`n-${i}`, 0.5, 'n', 1_000 + i))));
  assert.deepEqual(await p.list({ status: 'pending', model: 'm' }, { limit: 10 }), { items: [await p.get('m-2'), await p.get('m-1')], next: undefined });
  assert.deepEqual(await listAll(p, 'm', 1), { ids: ['m-2', 'm-1'], pages: 2 }, 'paged one at a time');
  assert.equal((await listAll(p, 'n', 100)).ids.length, 250);

  // A pool written before the model's index is indexed first, as by the backlog.
  await redis.del(keys.reviewModelPendingAge('m'));
  assert.deepEqual(await listAll(p, 'm', 10), { ids: ['m-2', 'm-1'], pages: 1 });
  // While it cannot be (indexed within the minute), the index of all models is read and filtered: nothing missed.
  await redis.del(keys.reviewModelPendingAge('m'));
  assert.deepEqual((await listAll(p, 'm', 10)).ids, ['m-2', 'm-1']);
});

test("a model's pending index that drifted while its counts still agree (an old replica's lease, an old worker's add) heals at the model's next full indexing, an interval after its last", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  const t0 = 1_000_000;
  const hour = defaultReindexIntervalMs;
  for (const added of [item('m1', 0.5, 'm', 100), item('m2', 0.6, 'm', 200), item('m3', 0.7, 'm', 300)]) await p.add(added);
  assert.deepEqual(await p.backlog(t0, 'm'), { pending: 3, leased: 0, oldestPendingAt: 100 });
  // During a rolling upgrade, a replica of the lanes' version (before the index) leases m3: out of
  // the lanes and the pending index of all models, still in the model's. A worker of that version
  // adds m4, older than the rest: in the lanes, not in the model's index. The counts agree (3 and 3).
  assert.equal((await p.lease('old-replica', 4 * hour, { now: t0 }))?.inferenceId, 'm3');
  await redis.zadd(keys.reviewModelPendingAge('m'), 300, 'm3');
  await p.add(item('m4', 0.1, 'm', 50));
  await redis.zrem(keys.reviewModelPendingAge('m'), 'm4');
  // Another cause: an item of the pool before the lanes whose stored part is not JSON, of a model
  // with no :skips field (added before the counts), indexed before the lease that sorted it out.
  for (const added of [item('k-low', 0.1, 'k', 100), item('k-high', 0.9, 'k', 200), item('k-bad', 0.5, 'k', 900)]) await addAsBefore(prefix, added);
  await redis.set(keys.reviewItem('k-bad'), '{not json');
  await redis.del(keys.reviewSkips);
  assert.deepEqual(await p.backlog(t0, 'k'), { pending: 3, leased: 0, oldestPendingAt: 100 });
  assert.equal((await p.lease('alice', 4 * hour, { model: 'k', now: t0 }))?.inferenceId, 'k-high');
  await redis.del(keys.reviewModelIndexing('k')); // its claim is Redis's minute, not the callers' clock

  // An interval later (by Redis's clock, which times the indexings), the pending listing of m
  // indexes it first (as the backlog of k does), then reads it.
  const [seconds] = await redis.time();
  for (const model of ['m', 'k']) await redis.set(keys.reviewModelIndexed(model), Number(seconds) * 1000 - hour);
  const later = t0 + hour;
  assert.deepEqual((await p.list({ status: 'pending', model: 'm' }, { limit: 10, now: later })).items.map((x) => x.inferenceId), ['m2', 'm1', 'm4']);
  assert.deepEqual(await p.backlog(later, 'm'), { pending: 3, leased: 1, oldestPendingAt: 50 });
  assert.deepEqual(await p.backlog(later, 'k'), { pending: 1, leased: 1, oldestPendingAt: 100 });
  await assertModelIndexesAgree(prefix, ['m', 'k']);
});

/** `redis` as the pool sees it, except that `between()` runs before every step of indexing a model but the first. */
function steppingClient(between: () => Promise<unknown>): Redis {
  type Eval = (...args: unknown[]) => Promise<unknown>;
  let steps = 0;
  return new Proxy(redis, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property !== 'eval') return (value as Eval).bind(target);
      return async (...args: unknown[]) => {
        if (args[0] === indexModelStepScript && steps++ > 0) await between();
        return (value as Eval).apply(target, args);
      };
    },
  });
}

test('indexing a model leaves out no item and no stale entry when leases land between its steps', async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const other = new ReviewPool(redis, prefix);
  let leases = 0;
  const p = new ReviewPool(steppingClient(() => other.lease(`r${leases++}`, 600_000, { now: 10_000 })), prefix);
  // The oldest item first in the priority lane too, so each lease takes the head of the lane and of the model's index.
  await Promise.all(Array.from({ length: 1_200 }, (_, i) => p.add(item(`i${i}`, 0.9 - i / 10_000, 'm', 2 * i))));
  // Written before the index, which holds only entries no longer pending (a version before it leased them).
  await redis.del(keys.reviewModelPendingAge('m'));
  await redis.zadd(keys.reviewModelPendingAge('m'), ...Array.from({ length: 1_200 }, (_, i) => [2 * i + 1, `gone${i}`]).flat());
  const backlog = await p.backlog(10_000, 'm');
  assert.ok(leases >= 5, `${leases} leases between the steps`);
  assert.deepEqual(backlog, { pending: 1_200 - leases, leased: leases, oldestPendingAt: 2 * leases });
  await assertModelIndexesAgree(prefix, ['m']);
});

/** `redis` as the pool sees it, counting the steps of indexing a model it runs. */
function countingSteps(): { client: Redis; steps: () => number } {
  type Eval = (...args: unknown[]) => Promise<unknown>;
  let steps = 0;
  const client = new Proxy(redis, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property !== 'eval') return (value as Eval).bind(target);
      return async (...args: unknown[]) => {
        if (args[0] === indexModelStepScript) steps++;
        return (value as Eval).apply(target, args);
      };
    },
  });
  return { client, steps: () => steps };
}

test("replicas whose clocks disagree by an interval or more index a model once an interval, not every minute by turns", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const ahead = countingSteps();
  const behind = countingSteps();
  const hour = defaultReindexIntervalMs;
  // Two replicas of the review service, one clock two hours behind the other's.
  const p = new ReviewPool(ahead.client, prefix);
  const q = new ReviewPool(behind.client, prefix);
  const now = Date.now();
  for (const added of [item('m1', 0.5, 'm', 100), item('m2', 0.6, 'm', 200)]) await p.add(added);
  // The review page polls through both, a minute apart (the claim of one indexing is Redis's minute).
  for (let minute = 0; minute < 4; minute++) {
    assert.deepEqual(await p.backlog(now + minute * 60_000, 'm'), { pending: 2, leased: 0, oldestPendingAt: 100 });
    await redis.del(keys.reviewModelIndexing('m'));
    assert.deepEqual(await q.backlog(now - 2 * hour + minute * 60_000, 'm'), { pending: 2, leased: 0, oldestPendingAt: 100 });
    await redis.del(keys.reviewModelIndexing('m'));
  }
  // The model's pool was written by this version: its hour began at the first look, four minutes ago.
  assert.equal(ahead.steps() + behind.steps(), 0, 'indexing steps run within the hour');
  // An hour on (its last indexing aged by an hour of Redis's clock), one of them indexes it, once.
  const [seconds] = await redis.time();
  await redis.set(keys.reviewModelIndexed('m'), Number(seconds) * 1000 - hour);
  await q.backlog(now - 2 * hour + hour, 'm');
  assert.ok(behind.steps() > 0, 'indexed when due');
  await redis.del(keys.reviewModelIndexing('m'));
  const stepsThen = behind.steps();
  await p.backlog(now + hour, 'm');
  assert.equal(ahead.steps() + behind.steps(), stepsThen, 'not again by the other replica');
});

/** The keys of `model` in the pool (`{prefix}:review:…:{model}`) that Redis keeps for ever (no expiry). */
async function keysKeptForEver(prefix: string, model: string): Promise<string[]> {
  const kept: string[] = [];
  for (const key of await redis.keys(`${prefix}:review:*:${model}`)) if ((await redis.pttl(key)) === -1) kept.push(key);
  return kept.sort();
}

test("a model's keys go once its pool is empty, :indexed: (when its index was last whole) with its pool sets; a backlog or pending listing of a model with nothing pending creates none", async () => {
  const prefix = freshPrefix();
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  const now = Date.now();
  for (const added of [item('m1', 0.5, 'm', 100), item('m2', 0.6, 'm', 200), item('n1', 0.5, 'n', 300)]) await p.add(added);
  // The review page polls: the first look stamps the model's interval; an interval on, it is indexed and stamped again.
  assert.deepEqual(await p.backlog(now, 'm'), { pending: 2, leased: 0, oldestPendingAt: 100 });
  assert.ok(await redis.exists(keys.reviewModelIndexed('m')), 'stamped at the first look');
  const [seconds] = await redis.time();
  await redis.set(keys.reviewModelIndexed('m'), Number(seconds) * 1000 - defaultReindexIntervalMs);
  assert.deepEqual(await p.backlog(now, 'm'), { pending: 2, leased: 0, oldestPendingAt: 100 });
  assert.ok(Number(await redis.get(keys.reviewModelIndexed('m'))) > Number(seconds) * 1000 - defaultReindexIntervalMs, 'indexed and stamped again');

  // The model leaves service: its last items are leased (and reviewed). Nothing of it is kept for ever.
  assert.equal((await p.lease('alice', 60_000, { model: 'm', now }))?.inferenceId, 'm2');
  const waiting = (model: string) => [keys.reviewModelPool(model), keys.reviewModelPendingAge(model), keys.reviewModelIndexed(model)].sort();
  assert.deepEqual(await keysKeptForEver(prefix, 'm'), waiting('m'), 'one item still waits');
  assert.equal((await p.lease('bob', 60_000, { model: 'm', now }))?.inferenceId, 'm1');
  assert.deepEqual(await keysKeptForEver(prefix, 'm'), []);
  assert.deepEqual(await keysKeptForEver(prefix, 'n'), [keys.reviewModelPool('n'), keys.reviewModelPendingAge('n')].sort(), 'the other model is untouched');

  // An item back in the pool starts the model's interval again at the first look, as a model never indexed does.
  await p.release('m1', 'bob', now);
  assert.deepEqual(await p.backlog(now, 'm'), { pending: 1, leased: 1, oldestPendingAt: 100 });
  assert.ok(await redis.exists(keys.reviewModelIndexed('m')));
  assert.deepEqual(await p.list({ status: 'pending', model: 'm' }, { limit: 10, now }).then((page) => page.items.map((x) => x.inferenceId)), ['m1']);

  // A model asked for with nothing pending (a reviewer's filter, a model retired) is stamped by neither read.
  assert.deepEqual(await p.backlog(now, 'ghost'), { pending: 0, leased: 0, oldestPendingAt: undefined });
  assert.deepEqual((await p.list({ status: 'pending', model: 'ghost' }, { limit: 10, now })).items, []);
  assert.deepEqual(await redis.keys(`${prefix}:review:*:ghost`), []);

  // An index holding only stale entries of an empty pool (a replica before the index leased them),
  // more than a read takes out of its head: the listing indexes the model, which takes them out,
  // and stamps nothing.
  await redis.zadd(keys.reviewModelPendingAge('old'), ...Array.from({ length: 150 }, (_, i) => [100 + i, `gone-${i}`]).flat());
  assert.deepEqual((await p.list({ status: 'pending', model: 'old' }, { limit: 10, now })).items, []);
  assert.ok(await redis.exists(keys.reviewModelIndexing('old')), 'indexed');
  await redis.del(keys.reviewModelIndexing('old'));
  assert.deepEqual(await keysKeptForEver(prefix, 'old'), []);
});

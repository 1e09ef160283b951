import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type ReviewItem, type ReviewSampling, explainQueueName, formatReviewThreshold, redisKeys, reviewThresholdMaxAgeMs, reviewTrafficLevelTtlSeconds } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { reviewInput } from '@gradcam/sampling/testing';
import { Queue } from 'bullmq';
import { createReviewSampler } from './review-sampler.ts';

const { server, redis, stop } = await startRedisWithClient();
after(stop);

const sampled: ReviewSampling = { sampled: true, policy: 'budget(K=60/h)', reason: 'budget', priority: 0.9, threshold: 0.4 };
const skipped: ReviewSampling = { sampled: false, policy: 'budget(K=60/h)', reason: 'below-threshold', priority: 0.1, threshold: 0.5 };
const item = (id: string, sampling: ReviewSampling): ReviewItem => ({
  inferenceId: id,
  model: 'm',
  modelVersion: 'v1',
  folder: `m/v1/dt=2026-11-26/${id}/`,
  predictedClass: 1,
  label: 'Drawing',
  probability: 0.7,
  sampling,
  sampledAt: Date.UTC(2026, 10, 26, 12, 0, 30),
  status: 'pending',
});

/** A sampler on a fresh prefix, with a real BullMQ job for `id` (job id = inference id). */
async function setUp(id: string) {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = new Queue(explainQueueName, { connection: { host: '127.0.0.1', port: server.port }, prefix });
  await queue.add('explain', { any: 'payload' }, { jobId: id });
  const pool = new ReviewPool(redis, prefix);
  const sampler = createReviewSampler({ policy: 'budget=60', redis, prefix, pool });
  const keys = redisKeys(prefix);
  const counts = async () => ({
    decisions: await redis.hgetall(keys.reviewDecisions),
    traffic: Number(await redis.get(keys.reviewTraffic('m', Math.floor(item(id, sampled).sampledAt / 60_000)))),
    pooled: await redis.zcard(keys.reviewPool),
  });
  return {
    sampler,
    prefix,
    pool,
    keys,
    counts,
    close: async () => {
      sampler.close();
      await queue.close();
    },
  };
}

test('a job run twice is counted once and keeps the decision of its first run', async () => {
  const { sampler, counts, close } = await setUp('retried-1');
  try {
    assert.deepEqual(await sampler.earlier(['retried-1']), new Map(), 'nothing recorded before the first run');
    await sampler.recorded(sampled, item('retried-1', sampled));
    assert.deepEqual(await sampler.earlier(['retried-1', 'other']), new Map([['retried-1', sampled]]));
    // The retry (say the job's completion was lost) decides nothing new and counts nothing again.
    await sampler.recorded(skipped, item('retried-1', skipped));
    assert.deepEqual(await counts(), { decisions: { 'm|review|budget': '1' }, traffic: 1, pooled: 1 });
    assert.deepEqual(await sampler.earlier(['retried-1']), new Map([['retried-1', sampled]]));
  } finally {
    await close();
  }
});

test('without a job hash the decision is still counted, and no BullMQ key is made up', async () => {
  const { sampler, keys, counts, close } = await setUp('queued-1');
  try {
    await sampler.recorded(skipped, item('not-a-job', skipped));
    assert.equal(await redis.exists(keys.explainJob('not-a-job')), 0);
    assert.deepEqual(await counts(), { decisions: { 'm|skip|below-threshold': '1' }, traffic: 1, pooled: 0 });
  } finally {
    await close();
  }
});

test('the job keeps its other fields: BullMQ still reads it', async () => {
  const { sampler, keys, close } = await setUp('intact-1');
  try {
    await sampler.recorded(sampled, item('intact-1', sampled));
    const fields = await redis.hgetall(keys.explainJob('intact-1'));
    assert.equal(JSON.parse(fields.data ?? '{}').any, 'payload');
    assert.equal(fields.name, 'explain');
  } finally {
    await close();
  }
});

test('the fleet rate divides by the minutes that hold traffic, and holds the level it last flowed at across a silence, in Redis', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  let now = Date.UTC(2026, 10, 26, 12, 0, 30);
  const options = { policy: 'budget=60', redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now };
  const sampler = createReviewSampler(options);
  const minute = Math.floor(now / 60_000);
  const later = createReviewSampler(options);
  try {
    assert.equal(sampler.fleetRate('m'), undefined, 'nothing read yet');
    // A fresh fleet: 3 whole minutes of 600 explanations each, i.e. 36,000/h (not 3 × 600 / 10 min).
    for (const ago of [1, 2, 3]) await redis.set(keys.reviewTraffic('m', minute - ago), '600');
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 36_000);
    assert.equal(await redis.get(keys.reviewTrafficLevel('m')), `36000|${minute - 1}`);
    const ttl = await redis.ttl(keys.reviewTrafficLevel('m'));
    assert.ok(ttl > 0 && ttl <= reviewTrafficLevelTtlSeconds, `expires (${ttl} s)`);
    // A quiet minute inside the span counts: 1,800 over 4 minutes.
    now += 60_000;
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 27_000);
    // Ten minutes without traffic: the level the fleet last flowed at, where it used to be none
    // (each worker then read its first event back as one per quiet spell, and a fleet of P
    // reviewed P of them), also for a worker started during the silence.
    now += 10 * 60_000;
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 36_000);
    later.fleetRate('m');
    await later.refreshFleetRate();
    assert.equal(later.fleetRate('m'), 36_000, 'read from Redis');
    // The model comes back sparse: one explanation. Its minute alone may be the start of the old
    // traffic back, so the level stands; once its minutes span two, it is forgotten.
    const back = Math.floor(now / 60_000);
    await redis.set(keys.reviewTraffic('m', back), '1');
    now += 60_000;
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 36_000);
    now += 60_000;
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 30, 'one explanation over the 2 minutes since');
    assert.equal(await redis.exists(keys.reviewTrafficLevel('m')), 0);
    now += 10 * 60_000;
    await later.refreshFleetRate();
    assert.equal(later.fleetRate('m'), undefined, 'no level: the policy’s own estimate');
  } finally {
    sampler.close();
    later.close();
  }
});

test('the fleet rates are read while Redis refuses writes for want of memory: only the level is left unstored', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const now = Date.UTC(2026, 10, 26, 12, 0, 30);
  const minute = Math.floor(now / 60_000);
  const sampler = createReviewSampler({ policy: 'budget=60', redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now });
  for (const ago of [1, 2, 3]) for (const model of ['m', 'n']) await redis.set(keys.reviewTraffic(model, minute - ago), model === 'm' ? '600' : '60');
  sampler.fleetRate('m');
  sampler.fleetRate('n');
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', '1');
  try {
    await assert.rejects(redis.set('write-probe', '1'), /^ReplyError: OOM/, 'Redis refuses writes');
    await sampler.refreshFleetRate();
  } finally {
    await redis.config('SET', 'maxmemory', '0');
    sampler.close();
  }
  assert.deepEqual([sampler.fleetRate('m'), sampler.fleetRate('n')], [36_000, 3600]);
  assert.equal(await redis.exists(keys.reviewTrafficLevel('m')), 0);
});

test("a sampler starting into a running fleet reads the thresholds the fleet recorded, and its budget decides by them", async () => {
  // A worker already running recorded its budget's threshold for model m (as recordOnce does).
  const fleetPrefix = `t${Math.random().toString(36).slice(2, 10)}`;
  await redis.hset(redisKeys(fleetPrefix).reviewThresholds, { m: formatReviewThreshold(0.999, Date.now()), other: 'not a number' });
  const joining = createReviewSampler({ policy: 'budget=60', redis, prefix: fleetPrefix, pool: new ReviewPool(redis, fleetPrefix) });
  try {
    await joining.refreshFleetRate();
    assert.equal(joining.fleetThreshold('m'), 0.999);
    assert.equal(joining.fleetThreshold('other'), undefined);
    // Its first decision is judged against the fleet's threshold, not one placed from one event.
    const decision = joining.decide(reviewInput({ id: 'first', model: 'm', predictedClass: 0, probabilities: [0.6, 0.4], now: Date.now() }));
    assert.equal(decision.threshold, 0.999);
  } finally {
    joining.close();
  }
});

test('the class quota divides by the fleet-wide traffic of the class, counted per minute in Redis', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const pool = new ReviewPool(redis, prefix);
  const at = Date.UTC(2026, 10, 26, 12, 0, 30);
  let now = at;
  const sampler = createReviewSampler({ policy: 'class-quota=1', redis, prefix, pool, now: () => now });
  const input = (id: string, predictedClass: number) => ({ id, model: 'm', predictedClass, probabilities: [0.5, 0.3, 0.2], maps: [], now });
  try {
    // Other processes stored 3 explanations of class 1 and one of class 2 in this minute.
    for (const [id, predictedClass] of [['c1', 1], ['c2', 1], ['c3', 1], ['c4', 2]] as const) {
      await sampler.recorded(skipped, { ...item(id, skipped), predictedClass, sampledAt: at });
    }
    assert.equal(sampler.fleetClassRate('m', 1), undefined, 'nothing read yet');
    now = at + 60_000;
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetRate('m'), 240);
    assert.equal(sampler.fleetClassRate('m', 1), 180);
    assert.equal(sampler.fleetClassRate('m', 2), 60);
    assert.equal(sampler.fleetClassRate('m', 0), undefined);
    // This process's first explanation of class 1 is drawn at 1/180, not taken as "the first N".
    const drawn = Array.from({ length: 10 }, (_, i) => sampler.decide(input(`new-${i}`, 1)).sampled).filter(Boolean).length;
    assert.ok(drawn <= 1, `${drawn} of 10 sampled`);
  } finally {
    sampler.close();
  }
});

test('a decision without a threshold (the budget policy replaced by a rate) deletes the model’s recorded threshold', async () => {
  const { sampler, keys, close } = await setUp('replaced-1');
  try {
    await sampler.recorded(sampled, item('replaced-1', sampled));
    const [threshold] = (await redis.hget(keys.reviewThresholds, 'm'))?.split('|') ?? [];
    assert.equal(threshold, '0.4', 'the budget’s threshold, with when it was recorded');
    const byRate: ReviewSampling = { sampled: false, policy: 'rate=0.1', reason: 'not-sampled', priority: 0.2 };
    await sampler.recorded(byRate, item('replaced-2', byRate));
    assert.deepEqual(await redis.hgetall(keys.reviewThresholds), {});
  } finally {
    await close();
  }
});

test('a threshold not recorded for longer than its maximum age is no fleet threshold (a retired model, an old policy)', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const now = Date.now();
  await redis.hset(redisKeys(prefix).reviewThresholds, {
    fresh: formatReviewThreshold(0.9, now - 60_000),
    stale: formatReviewThreshold(0.8, now - reviewThresholdMaxAgeMs - 1),
    // What workers wrote before the timestamp: its age is unknown.
    bare: '0.7',
  });
  const sampler = createReviewSampler({ policy: 'budget=60', redis, prefix, pool: new ReviewPool(redis, prefix), now: () => now });
  try {
    await sampler.refreshFleetRate();
    assert.equal(sampler.fleetThreshold('fresh'), 0.9);
    assert.equal(sampler.fleetThreshold('stale'), undefined);
    assert.equal(sampler.fleetThreshold('bare'), undefined);
  } finally {
    sampler.close();
  }
});

test('a job run twice at once: whichever run claims first decides for the job, the manifest and the review pool', async () => {
  // A stalled job taken over while its first run goes on: two processes with different budget
  // histories decide the same explanation. The job kept the first decision recorded (HSETNX), but
  // each run wrote its own into explanation.json, and the run whose own decision was "sampled"
  // queued the item though the job's said "not sampled".
  const id = 'taken-over-1';
  const { sampler: fresh, prefix, pool, keys, close } = await setUp(id);
  const t0 = Date.UTC(2026, 0, 1);
  let clock = t0;
  const busy = createReviewSampler({ policy: 'budget=120', redis, prefix, pool, now: () => clock });
  const input = (inferenceId: string, p1: number, now: number) => reviewInput({ id: inferenceId, model: 'm', predictedClass: 0, probabilities: [p1, 1 - p1], now });
  try {
    // The busy process has seen 20,000 priorities: its threshold is high. The fresh one has seen
    // none, so it samples its first explanation whatever its priority.
    for (let i = 0; i < 20_000; i++) busy.decide(input(`warm${i}`, 0.5 + (0.5 * ((i * 7919) % 1000)) / 1000, t0 + i * 100));
    clock = t0 + 2_000_000;
    assert.equal((await fresh.earlier([id])).size + (await busy.earlier([id])).size, 0, 'both runs find no decision');
    const a = fresh.decide(input(id, 0.62, clock));
    const b = busy.decide(input(id, 0.62, clock));
    assert.equal(a.sampled, true);
    assert.equal(b.sampled, false);
    // Each claims before building its manifest; the busy run first.
    const manifestB = await busy.claim(id, b);
    const manifestA = await fresh.claim(id, a);
    assert.deepEqual(manifestA, b, "the losing run's manifest carries the winning decision");
    assert.deepEqual(manifestB, b);
    // Both manifests stored; the recordings race (the loser's first here).
    const at = { ...item(id, b), sampledAt: clock };
    await Promise.all([fresh.recorded(manifestA, { ...at, sampling: manifestA }), busy.recorded(manifestB, { ...at, sampling: manifestB })]);
    const kept = JSON.parse((await redis.hget(keys.explainJob(id), 'gradcam:review')) ?? 'null') as ReviewSampling;
    assert.deepEqual(kept, b);
    assert.equal(await pool.get(id), undefined, 'not sampled by the decision kept: not queued');
    assert.deepEqual(await redis.hgetall(keys.reviewDecisions), { 'm|skip|not-sampled': '1' }, 'counted once');
    assert.equal(await redis.hexists(keys.explainJob(id), 'gradcam:review-uncounted'), 0);
  } finally {
    busy.close();
    await close();
  }
});

test('a run that records after another queues the decision the job keeps, not its own', async () => {
  // The second run to record (its manifest built without a claim, or its claim lost): its own
  // "sampled" queued an item the job's decision said was not (probe-double-decision.ts).
  for (const [first, second] of [[skipped, sampled], [sampled, skipped]] as const) {
    const id = `second-${String(first.sampled)}`;
    const { sampler, pool, counts, close } = await setUp(id);
    try {
      await sampler.recorded(first, item(id, first));
      await sampler.recorded(second, item(id, second));
      assert.deepEqual(await sampler.earlier([id]), new Map([[id, first]]));
      const pooled = await pool.get(id);
      assert.equal(pooled?.sampling.sampled, first.sampled ? true : undefined);
      const { decisions, traffic } = await counts();
      assert.deepEqual(decisions, { [`m|${first.sampled ? 'review' : 'skip'}|${first.reason}`]: '1' });
      assert.equal(traffic, 1);
      // A later run (a retry) counts nothing again.
      await sampler.recorded(second, item(id, second));
      assert.deepEqual((await counts()).decisions, decisions);
    } finally {
      await close();
    }
  }
});

test('a decision kept by a worker from before the claim (no uncounted mark) is not counted again', async () => {
  const id = 'kept-before-1';
  const { sampler, keys, counts, close } = await setUp(id);
  try {
    await redis.hset(keys.explainJob(id), 'gradcam:review', JSON.stringify(skipped));
    await sampler.recorded(sampled, item(id, sampled));
    assert.deepEqual(await counts(), { decisions: {}, traffic: 0, pooled: 0 });
    // Claimed without a job hash (no BullMQ job): nothing is kept, the decision comes back as it is.
    assert.deepEqual(await sampler.claim('no-such-job', sampled), sampled);
    assert.equal(await redis.exists(keys.explainJob('no-such-job')), 0);
  } finally {
    await close();
  }
});

/** Evals the server ran since the last CONFIG RESETSTAT (one server per test file, tests in order). */
async function evals(): Promise<number> {
  const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_eval:'));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

test('one image costs two scripts: the claim before the manifest and recorded(), which claims and counts at once', async () => {
  // recorded() claimed again in a script of its own, then counted in another: three per image.
  const id = 'round-trips-1';
  const { sampler, counts, close } = await setUp(id);
  try {
    await redis.config('RESETSTAT');
    const kept = await sampler.claim(id, skipped);
    await sampler.recorded(kept, item(id, kept));
    assert.equal(await evals(), 2);
    assert.deepEqual(await counts(), { decisions: { 'm|skip|below-threshold': '1' }, traffic: 1, pooled: 0 });
    // A retry's recorded(): one more script, nothing counted again.
    await sampler.recorded(kept, item(id, kept));
    assert.equal(await evals(), 3);
    assert.equal((await counts()).traffic, 1);
  } finally {
    await close();
  }
});

test('a run recording a decision other than the one the job keeps counts and queues the one kept, once', async () => {
  // Its manifest built from its own decision (an older worker's run, or a claim it did not make):
  // the script finds another decision kept and counts nothing, and the kept one is counted in a
  // second round trip. One the worker cannot read is left there, and the run's own is counted.
  const unreadable = JSON.stringify({ sampled: 'maybe' });
  for (const [claimed, expected] of [[sampled, sampled], [unreadable, skipped]] as const) {
    const id = `other-${typeof claimed === 'string' ? 'unreadable' : 'sampled'}`;
    const { sampler, keys, pool, counts, close } = await setUp(id);
    try {
      if (typeof claimed === 'string') await redis.hset(keys.explainJob(id), { 'gradcam:review': claimed, 'gradcam:review-uncounted': '1' });
      else await sampler.claim(id, claimed);
      await redis.config('RESETSTAT');
      await sampler.recorded(skipped, item(id, skipped));
      // The pool's add is a script of its own.
      assert.equal(await evals(), expected.sampled ? 3 : 2);
      const { decisions, traffic, pooled } = await counts();
      assert.deepEqual(decisions, { [`m|${expected.sampled ? 'review' : 'skip'}|${expected.reason}`]: '1' });
      assert.equal(traffic, 1);
      assert.equal(pooled, expected.sampled ? 1 : 0);
      assert.equal((await pool.get(id))?.sampling.sampled, expected.sampled ? true : undefined);
      assert.equal(await redis.hexists(keys.explainJob(id), 'gradcam:review-uncounted'), 0);
      await sampler.recorded(skipped, item(id, skipped));
      assert.equal((await counts()).traffic, 1, 'a retry counts nothing again');
    } finally {
      await close();
    }
  }
});

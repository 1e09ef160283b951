import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { QueueUnavailableError } from '@gradcam/queue';
import { resendingClient } from './resending-client.ts';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// Each step script run twice with identical arguments, as ioredis runs a command whose reply a
// dropped connection lost (it sends it again after reconnecting): both runs succeed, with one
// effect. And a step that Redis ran but whose reply came too late (a command timeout) leaves no
// marker behind to refuse the same verdict or undo sent again. Against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

const leaseMs = 60_000;
const windowMs = 120_000;

function setUp(options: { closingTimeoutMs?: number } = {}) {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const { client, resendNext, timeOutNext } = resendingClient(redis);
  const state = async (id: string) => JSON.parse((await redis.get(redisKeys(prefix).reviewState(id))) ?? '{}') as { closing?: unknown; undoing?: unknown };
  return { prefix, pool: new ReviewPool(client, prefix, options), resendNext, timeOutNext, state };
}

test('beginVerdict run twice: begun both times (not refused by its own marker), with one marker', async () => {
  const { pool, resendNext } = setUp();
  await pool.add(item('v', 0.5));
  await pool.lease('alice', leaseMs);
  resendNext();
  const begun = await pool.beginVerdict('v', 'alice', 'supports', 'fine');
  assert.ok(begun.state === 'begun');
  assert.deepEqual([begun.item.closing.verdict, begun.item.closing.comment], ['supports', 'fine']);
  const finished = await pool.finishVerdict('v', begun.item.closing.token);
  assert.deepEqual([finished.closedNow, finished.item.verdictId], [true, begun.item.closing.token]);
  assert.deepEqual(await pool.verdictCounts(), { 'm|2|supports': 1 });
});

test('finishVerdict run twice: closed once, counted once, and the resent finish still says it closed the item', async () => {
  const { pool, resendNext } = setUp();
  await pool.add(item('f', 0.5));
  await pool.lease('alice', leaseMs);
  const begun = await pool.beginVerdict('f', 'alice', 'supports', undefined);
  assert.ok(begun.state === 'begun');
  resendNext();
  const finished = await pool.finishVerdict('f', begun.item.closing.token);
  assert.deepEqual([finished.closedNow, finished.item.status, finished.item.verdict], [true, 'reviewed', 'supports']);
  assert.deepEqual(await pool.verdictCounts(), { 'm|2|supports': 1 });
  // Another request with the verdict's token (a retry) learns that it closed nothing.
  assert.equal((await pool.finishVerdict('f', begun.item.closing.token)).closedNow, false);
});

test("a stale marker taken over, by a command run twice: begun both times, with the dead request's token", async () => {
  const { pool, resendNext } = setUp({ closingTimeoutMs: 1_000 });
  await pool.add(item('s', 0.5));
  await pool.lease('alice', leaseMs, { now: 10_000 });
  const dead = await pool.beginVerdict('s', 'alice', 'unsure', undefined, 10_100);
  assert.ok(dead.state === 'begun');
  resendNext();
  const taken = await pool.beginVerdict('s', 'alice', 'unsure', undefined, 11_200);
  assert.ok(taken.state === 'begun');
  assert.deepEqual([taken.item.closing.token, taken.item.closing.at], [dead.item.closing.token, 11_200]);
});

test('release run twice: released both times (not NOT_LEASED for its own release)', async () => {
  const { pool, resendNext } = setUp();
  await pool.add(item('r', 0.5));
  await pool.lease('bob', leaseMs);
  resendNext();
  assert.equal((await pool.release('r', 'bob')).status, 'pending');
  assert.deepEqual(await pool.backlog(), { pending: 1, leased: 0, oldestPendingAt: 1_000 });
});

test('skip run twice: skipped both times, counted once, remembered', async () => {
  const { prefix, pool, resendNext } = setUp();
  await pool.add(item('k', 0.5));
  await pool.lease('carol', leaseMs);
  resendNext();
  assert.equal((await pool.skip('k', 'carol')).status, 'pending');
  assert.deepEqual(await redis.hgetall(redisKeys(prefix).reviewSkips), { m: '1' });
  assert.equal(await pool.lease('carol', leaseMs), undefined, 'kept away from its skipper');
});

test('setAside run twice: broken both times, counted once', async () => {
  const { prefix, pool, resendNext } = setUp();
  await pool.add(item('b', 0.5));
  await pool.lease('dave', leaseMs);
  resendNext();
  assert.equal((await pool.setAside('b', 'dave', 'explanation.json is missing')).status, 'broken');
  assert.deepEqual(await redis.hgetall(redisKeys(prefix).reviewBroken), { m: '1' });
});

test('restore run twice: pending both times (not NOT_BROKEN for its own restore)', async () => {
  const { pool, resendNext } = setUp();
  await pool.add(item('o', 0.5));
  await pool.lease('dave', leaseMs);
  await pool.setAside('o', 'dave', 'explanation.json is missing');
  resendNext();
  const restored = await pool.restore('o');
  assert.deepEqual([restored.status, restored.brokenReason], ['pending', undefined]);
});

test('beginUndo run twice: begun both times (not refused by its own marker), with one marker', async () => {
  const { pool, resendNext } = setUp();
  await pool.add(item('u', 0.5));
  await pool.lease('erin', leaseMs);
  const kept = await pool.complete('u', 'erin', 'wrong-evidence', undefined);
  resendNext();
  const begun = await pool.beginUndo('u', 'erin', { windowMs, verdictId: kept.verdictId ?? '' });
  assert.equal(begun.item.verdictId, kept.verdictId);
  const leased = await pool.finishUndo('u', 'erin', begun.undoing.token, { leaseMs });
  assert.equal(leased.status, 'leased');
});

test('finishUndo run twice: applied once (the item leased back, one undo counted), not NOT_REVIEWED for its own undo', async () => {
  const { pool, resendNext, state } = setUp();
  await pool.add(item('n', 0.5));
  await pool.lease('erin', leaseMs);
  await pool.complete('n', 'erin', 'wrong-evidence', undefined);
  const begun = await pool.beginUndo('n', 'erin', { windowMs });
  resendNext();
  const leased = await pool.finishUndo('n', 'erin', begun.undoing.token, { leaseMs });
  assert.deepEqual([leased.status, leased.leasedBy, leased.verdictId], ['leased', 'erin', undefined]);
  assert.equal((await state('n')).undoing, undefined);
  assert.deepEqual(await pool.undoCounts(), { 'm|2|wrong-evidence': 1 });
});

test('a lease run twice hands out one item', async () => {
  const { pool, resendNext } = setUp();
  for (const id of ['l1', 'l2']) await pool.add(item(id, 0.5));
  resendNext();
  const first = await pool.lease('frank', leaseMs);
  assert.equal((await pool.backlog()).leased, 1);
  assert.equal((await pool.lease('frank', leaseMs))?.inferenceId, first?.inferenceId);
});

test('a begin that Redis ran but answered too late leaves no marker: the same verdict, or undo, sent again goes through at once', async () => {
  const { pool, timeOutNext, state } = setUp();
  await pool.add(item('t', 0.5));
  await pool.lease('gina', leaseMs);
  timeOutNext();
  await assert.rejects(pool.beginVerdict('t', 'gina', 'supports', undefined), QueueUnavailableError);
  assert.equal((await state('t')).closing, undefined, 'its marker was cleared');
  const begun = await pool.beginVerdict('t', 'gina', 'supports', undefined);
  assert.ok(begun.state === 'begun');
  const kept = (await pool.finishVerdict('t', begun.item.closing.token)).item;

  timeOutNext();
  await assert.rejects(pool.beginUndo('t', 'gina', { windowMs }), QueueUnavailableError);
  assert.equal((await state('t')).undoing, undefined, 'its marker was cleared');
  const undo = await pool.beginUndo('t', 'gina', { windowMs });
  assert.equal(undo.item.verdictId, kept.verdictId);
});

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { QueueUnavailableError } from '@gradcam/queue';
import { Redis } from 'ioredis';
import { resendingClient } from './resending-client.ts';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// Each step script run twice with identical arguments, as ioredis runs a command whose reply a
// dropped connection lost (it sends it again after reconnecting): both runs succeed, with one
// effect. And a step that Redis ran but whose reply came too late (a command timeout) leaves no
// marker behind to refuse the same verdict or undo sent again, even when its clear cannot be sent
// until the connection is back. Against a private redis-server.
const { server, redis, stop } = await startRedisWithClient();
const reconnecting = new Redis(server.url);
// The test drops it on purpose; what ioredis reports meanwhile is expected.
reconnecting.on('error', () => {});
await new Promise((resolve) => reconnecting.once('ready', resolve));
after(async () => {
  reconnecting.disconnect();
  await stop();
});

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

/** Drops `connection` and waits until ioredis has it ready again (a real reconnect, a real 'ready'). */
async function reconnect(connection: Redis): Promise<void> {
  const ready = new Promise((resolve) => connection.once('ready', resolve));
  connection.disconnect(true);
  await ready;
}

/** A pool on `reconnecting` (its own connection, dropped by the test); the state read on it, after what the pool sent. */
function setUpReconnecting() {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const { client, timeOutNext, refuseNext } = resendingClient(reconnecting);
  const state = async (id: string) => JSON.parse((await reconnecting.get(redisKeys(prefix).reviewState(id))) ?? '{}') as { closing?: { token: string; request: string }; undoing?: unknown };
  // The begin runs and times out; the clear of its marker fails unsent (the connection is down).
  const failNextBegin = () => {
    timeOutNext();
    refuseNext();
  };
  return { pool: new ReviewPool(client, prefix), failNextBegin, state };
}

test("a begin whose marker clear cannot be sent (the connection down) clears it on the connection's next 'ready': the same verdict, or undo, sent again then goes through", async () => {
  const { pool, failNextBegin, state } = setUpReconnecting();
  const listeners = reconnecting.listenerCount('ready');
  await pool.add(item('c', 0.5));
  await pool.lease('hana', leaseMs);
  failNextBegin();
  await assert.rejects(pool.beginVerdict('c', 'hana', 'supports', undefined), QueueUnavailableError);
  assert.notEqual((await state('c')).closing, undefined, 'the marker stays while the connection is down');
  await assert.rejects(pool.beginVerdict('c', 'hana', 'supports', undefined), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await reconnect(reconnecting);
  assert.equal((await state('c')).closing, undefined, 'cleared once the connection was back');
  assert.equal(reconnecting.listenerCount('ready'), listeners, 'no listener left behind');
  const begun = await pool.beginVerdict('c', 'hana', 'supports', undefined);
  assert.ok(begun.state === 'begun');
  await pool.finishVerdict('c', begun.item.closing.token);

  failNextBegin();
  await assert.rejects(pool.beginUndo('c', 'hana', { windowMs }), QueueUnavailableError);
  assert.notEqual((await state('c')).undoing, undefined, 'the marker stays while the connection is down');
  await reconnect(reconnecting);
  assert.equal((await state('c')).undoing, undefined, 'cleared once the connection was back');
  await pool.beginUndo('c', 'hana', { windowMs });
});

test('a clear sent late leaves alone the marker that the same verdict, sent again, took over once it went stale (its token, another request)', async () => {
  const { pool, failNextBegin, state } = setUpReconnecting();
  await pool.add(item('l', 0.5));
  await pool.lease('hana', 600_000, { now: 10_000 });
  failNextBegin();
  await assert.rejects(pool.beginVerdict('l', 'hana', 'supports', undefined, 10_100), QueueUnavailableError);
  const failed = (await state('l')).closing;
  // Past the closing timeout (60 s) by the item's clock: the stale marker is taken over, token and all.
  const taken = await pool.beginVerdict('l', 'hana', 'supports', undefined, 70_200);
  assert.ok(taken.state === 'begun');
  assert.equal(taken.item.closing.token, failed?.token);
  await reconnect(reconnecting);
  assert.notEqual((await state('l')).closing, undefined, 'the live marker stays');
  const finished = await pool.finishVerdict('l', taken.item.closing.token);
  assert.deepEqual([finished.closedNow, finished.item.status], [true, 'reviewed']);
});

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

// Undoing a verdict, against a private redis-server.
const { redis, stop } = await startRedisWithClient();
after(stop);

const newPool = () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  return { prefix, p: new ReviewPool(redis, prefix, { retentionMs: 3_600_000 }) };
};
const windowMs = 5_000;
const leaseMs = 60_000;

test('an undo within the window leases the item to its reviewer again; the item handed out after it goes back', async () => {
  const { prefix, p } = newPool();
  await p.add(item('a', 0.9));
  await p.add(item('b', 0.5));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const kept = await p.complete('a', 'alice', 'wrong-evidence', 'slip', 10_100);
  assert.equal((await redis.pttl(`${prefix}:review:state:a`)) > 0, true, 'a reviewed item expires (retention)');
  assert.equal((await p.lease('alice', leaseMs, { now: 10_200 }))?.inferenceId, 'b', 'the page leases the next item at once');

  const checked = await p.undo('a', 'alice', { windowMs, leaseMs, now: 12_000, check: true });
  assert.deepEqual([checked.status, checked.verdictId], ['reviewed', kept.verdictId], 'a check changes nothing');
  const undone = await p.undo('a', 'alice', { windowMs, leaseMs, verdictId: kept.verdictId ?? '', now: 12_000 });
  assert.deepEqual(
    [undone.status, undone.leasedBy, undone.leaseExpiresAt, undone.verdict, undone.reviewer, undone.reviewedAt, undone.comment, undone.verdictId],
    ['leased', 'alice', 12_000 + leaseMs, undefined, undefined, undefined, undefined, undefined],
  );
  assert.equal(await redis.pttl(`${prefix}:review:state:a`), -1, 'leased again: no expiry');
  assert.equal(await redis.pttl(`${prefix}:review:item:a`), -1);
  assert.equal((await p.get('b', 12_000))?.status, 'pending', 'one live lease per reviewer: the next item went back');
  assert.deepEqual(await p.backlog(12_000), { pending: 1, leased: 1, oldestPendingAt: 1_000 });
  assert.equal((await p.lease('alice', leaseMs, { now: 12_100 }))?.inferenceId, 'a', 'her lease is the undone item');
  assert.equal((await p.lease('bob', leaseMs, { now: 12_100 }))?.inferenceId, 'b', 'nobody else gets it');

  const again = await p.complete('a', 'alice', 'supports', undefined, 13_000);
  assert.deepEqual([again.status, again.verdict, again.reviewer], ['reviewed', 'supports', 'alice'], 'a new verdict is taken');
  assert.notEqual(again.verdictId, kept.verdictId);
  assert.deepEqual(await p.verdictCounts(), { 'm|2|wrong-evidence': 1, 'm|2|supports': 1 }, 'the verdict count never goes down');
  assert.deepEqual(await p.undoCounts(), { 'm|2|wrong-evidence': 1 }, '…the undo is counted on its own');
});

test('undo refusals: another reviewer, after the window, not reviewed, a changed verdict, no item', async () => {
  const { p } = newPool();
  await p.add(item('a', 0.9));
  await p.add(item('c', 0.1));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const kept = await p.complete('a', 'alice', 'supports', undefined, 10_100);
  await assert.rejects(p.undo('a', 'bob', { windowMs, leaseMs, now: 10_200 }), { code: 'REVIEW_NOT_YOURS' });
  await assert.rejects(p.undo('a', 'alice', { windowMs, leaseMs, now: 10_100 + windowMs + 1 }), { code: 'REVIEW_UNDO_EXPIRED' });
  await assert.rejects(p.undo('a', 'alice', { windowMs, leaseMs, verdictId: 'another-verdict', now: 10_200 }), { code: 'REVIEW_NOT_REVIEWED' });
  await assert.rejects(p.undo('c', 'alice', { windowMs, leaseMs, now: 10_200 }), { code: 'REVIEW_NOT_REVIEWED' }, 'pending');
  await assert.rejects(p.undo('nope', 'alice', { windowMs, leaseMs, now: 10_200 }), { code: 'REVIEW_NOT_FOUND' });
  const still = await p.get('a', 10_300);
  assert.deepEqual([still?.status, still?.verdictId], ['reviewed', kept.verdictId], 'a refused undo changes nothing');
  assert.deepEqual(await p.undoCounts(), {});

  // Decided inside the window, applied after it (the retraction took a while to write): taken.
  const undone = await p.undo('a', 'alice', { windowMs, leaseMs, decidedAt: 10_100 + windowMs, now: 10_100 + windowMs + 500 });
  assert.equal(undone.status, 'leased');
  await assert.rejects(p.undo('a', 'alice', { windowMs, leaseMs, now: 15_700 }), { code: 'REVIEW_NOT_REVIEWED' }, 'undone already: leased, not reviewed');
});

test('an undo racing the same reviewer\'s next lease leaves them one live lease', async () => {
  for (let round = 0; round < 10; round++) {
    const { p } = newPool();
    await p.add(item('a', 0.9));
    await p.add(item('b', 0.5));
    await p.lease('alice', leaseMs);
    await p.complete('a', 'alice', 'unsure', undefined);
    const [undone, next] = await Promise.all([p.undo('a', 'alice', { windowMs, leaseMs }), p.lease('alice', leaseMs)]);
    assert.equal(undone.status, 'leased');
    const leased = (await p.list({ status: 'leased' }, { limit: 10 })).items.map((i) => i.inferenceId);
    assert.deepEqual(leased, ['a'], `round ${round}: the lease raced to ${next?.inferenceId ?? 'nothing'}`);
    assert.equal((await p.lease('alice', leaseMs))?.inferenceId, 'a');
  }
});

test('an undo being saved holds its item: no second undo until it is applied, cancelled, or its marker goes stale', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const p = new ReviewPool(redis, prefix, { retentionMs: 3_600_000, closingTimeoutMs: 1_000 });
  await p.add(item('a', 0.9));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const kept = await p.complete('a', 'alice', 'wrong-evidence', undefined, 10_100);

  const begun = await p.beginUndo('a', 'alice', { windowMs, now: 10_200 });
  assert.deepEqual([begun.item.status, begun.item.verdictId, begun.undoing.decidedAt, begun.undoing.at], ['reviewed', kept.verdictId, 10_200, 10_200]);
  assert.equal((await redis.pttl(redisKeys(prefix).reviewState('a'))) > 0, true, 'still reviewed: its retention stays');
  await assert.rejects(p.beginUndo('a', 'alice', { windowMs, now: 10_300 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await assert.rejects(p.undo('a', 'alice', { windowMs, leaseMs, now: 10_300 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await assert.rejects(p.undo('a', 'alice', { windowMs, leaseMs, now: 10_300, check: true }), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'a check says so too');
  await assert.rejects(p.finishUndo('a', 'alice', 'another-token', { leaseMs, now: 10_300 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'the apply step needs the token');

  // Cancelled (its write failed): the next undo begins at once.
  await p.cancelUndo('a', 'another-token');
  await assert.rejects(p.beginUndo('a', 'alice', { windowMs, now: 10_400 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'only its own token cancels it');
  await p.cancelUndo('a', begun.undoing.token);
  assert.equal((await redis.pttl(redisKeys(prefix).reviewState('a'))) > 0, true);
  const second = await p.beginUndo('a', 'alice', { windowMs, now: 10_500 });

  // Stale (its request died): no longer blocks; the new marker is the one that applies.
  const third = await p.beginUndo('a', 'alice', { windowMs, now: 10_500 + 1_001 });
  assert.notEqual(third.undoing.token, second.undoing.token);
  await assert.rejects(p.finishUndo('a', 'alice', second.undoing.token, { leaseMs, now: 11_600 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  const undone = await p.finishUndo('a', 'alice', third.undoing.token, { leaseMs, now: 11_600 });
  assert.deepEqual([undone.status, undone.leasedBy, undone.verdictId], ['leased', 'alice', undefined]);
  assert.equal((JSON.parse((await redis.get(redisKeys(prefix).reviewState('a'))) ?? '{}') as { undoing?: unknown }).undoing, undefined, 'the marker goes with the undo');
  // Its token again (a resend after a lost reply) is answered as applied, and applies nothing more.
  const again = await p.finishUndo('a', 'alice', third.undoing.token, { leaseMs, now: 11_700 });
  assert.deepEqual([again.status, again.leasedBy, again.leaseExpiresAt], ['leased', 'alice', undone.leaseExpiresAt], 'applied once');
  assert.deepEqual(await p.undoCounts(), { 'm|2|wrong-evidence': 1 });
});

test('a retry whose retraction was written resumes: it replaces a live marker, and only it applies the undo', async () => {
  const { p } = newPool();
  await p.add(item('a', 0.9));
  await p.lease('alice', leaseMs, { now: 10_000 });
  const kept = await p.complete('a', 'alice', 'supports', undefined, 10_100);
  const first = await p.beginUndo('a', 'alice', { windowMs, now: 10_200 });
  const resumed = await p.beginUndo('a', 'alice', { windowMs, verdictId: kept.verdictId ?? '', decidedAt: 10_200, resume: true, now: 10_300 });
  assert.equal(resumed.undoing.decidedAt, 10_200, "the retraction's time");
  await assert.rejects(p.finishUndo('a', 'alice', first.undoing.token, { leaseMs, now: 10_400 }), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  assert.equal((await p.finishUndo('a', 'alice', resumed.undoing.token, { leaseMs, now: 10_400 })).status, 'leased');
  await assert.rejects(
    p.beginUndo('a', 'alice', { windowMs, verdictId: kept.verdictId ?? '', decidedAt: 10_200, resume: true, now: 10_500 }),
    { code: 'REVIEW_NOT_REVIEWED' },
    'undone already',
  );
});

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type ReviewItem, redisKeys } from '@gradcam/contracts';
import { startRedisServer, startRedisWithClient } from '@gradcam/dev-services';
import { QueueUnavailableError, connectionReady, createProducerConnection } from '@gradcam/queue';
import { ReviewPoolError } from './review-pool-error.ts';
import { ReviewPool, type ReviewListFilter } from './review-pool.ts';
import { testItem as item } from './test-item.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

const pool = () => new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);

test('leases the most deserving item first; two reviewers never get the same item', async () => {
  const p = pool();
  for (const [id, priority] of [['a', 0.2], ['b', 0.9], ['c', 0.5]] as const) assert.equal(await p.add(item(id, priority)), true);
  assert.equal(await p.add(item('a', 0.99)), false, 'an id is added once');
  const leased = await Promise.all(Array.from({ length: 5 }, (_, i) => p.lease(`reviewer-${i}`, 60_000)));
  const ids = leased.filter((x) => x !== undefined).map((x) => x.inferenceId);
  assert.deepEqual([...ids].sort(), ['a', 'b', 'c'], 'each item leased exactly once');
  assert.equal(leased.filter((x) => x === undefined).length, 2);
  assert.equal((await p.backlog()).leased, 3);
});

test("an item is kept at the contract's keys (redisKeys reviewItem and reviewState), by add and by the scripts alike", async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await p.add(item('k', 0.5));
  assert.equal(await redis.exists(keys.reviewItem('k')), 1);
  assert.equal(await redis.exists(keys.reviewState('k')), 1);
  // The scripts build the key from the prefix themselves (item-lua.ts): a lease's state lands at the same key.
  await p.lease('alice', 60_000);
  assert.equal((JSON.parse((await redis.get(keys.reviewState('k'))) ?? '{}') as { status?: string }).status, 'leased');
});

test('an expired lease returns the item to the pool; only the holder can judge it, in time', async () => {
  const p = pool();
  await p.add(item('x', 0.5));
  const first = await p.lease('alice', 1_000, { now: 10_000 });
  assert.equal(first?.leasedBy, 'alice');
  assert.equal(await p.lease('bob', 1_000, { now: 10_500 }), undefined, 'still leased to alice');
  await assert.rejects(p.complete('x', 'bob', 'supports', undefined, 10_600), /not leased to bob/);
  const second = await p.lease('bob', 1_000, { now: 11_001 });
  assert.equal(second?.inferenceId, 'x', 'alice let it expire: bob gets it');
  await assert.rejects(p.complete('x', 'alice', 'supports', undefined, 11_100), { code: 'REVIEW_NOT_LEASED' });
  const done = await p.complete('x', 'bob', 'wrong-evidence', 'looks at the watermark', 11_200);
  assert.deepEqual([done.status, done.verdict, done.reviewer, done.comment], ['reviewed', 'wrong-evidence', 'bob', 'looks at the watermark']);
  await assert.rejects(p.complete('x', 'bob', 'supports', undefined, 11_300), { code: 'REVIEW_ALREADY_JUDGED' }, 'a verdict closes the lease');
  await assert.rejects(p.complete('nope', 'bob', 'supports', undefined), { code: 'REVIEW_NOT_FOUND' });
  assert.deepEqual(await p.verdictCounts(), { 'm|2|wrong-evidence': 1 });
});

test('the lease holder can give an item back at once; nobody else can', async () => {
  const p = pool();
  await p.add(item('y', 0.7));
  await p.lease('alice', 60_000, { now: 20_000 });
  assert.deepEqual(await p.backlog(20_000), { pending: 0, leased: 1, oldestPendingAt: undefined });
  await assert.rejects(p.release('y', 'bob', 20_100), { code: 'REVIEW_NOT_LEASED' });
  const released = await p.release('y', 'alice', 20_200);
  assert.deepEqual([released.status, released.leasedBy, released.leaseExpiresAt], ['pending', undefined, undefined]);
  assert.deepEqual(await p.backlog(20_200), { pending: 1, leased: 0, oldestPendingAt: 1_000 });
  const again = await p.lease('bob', 60_000, { now: 20_300 });
  assert.equal(again?.inferenceId, 'y', "back in the pool long before alice's lease would have run out");
  await assert.rejects(p.release('y', 'alice', 20_400), { code: 'REVIEW_NOT_LEASED' }, 'alice no longer holds it');
  await assert.rejects(p.release('nope', 'alice'), { code: 'REVIEW_NOT_FOUND' });
});

test('per-model leases, listing with filters and paging, backlog age', async () => {
  const p = pool();
  for (let i = 0; i < 30; i++) await p.add(item(`i${i}`, i / 30, i % 3 === 0 ? 'other' : 'm', 1_000 + i));
  const leased = await p.lease('alice', 60_000, { model: 'other' });
  assert.equal(leased?.model, 'other');
  assert.equal(leased?.inferenceId, 'i27', 'highest priority of that model');
  const backlog = await p.backlog();
  assert.deepEqual(backlog, { pending: 29, leased: 1, oldestPendingAt: 1_000 });
  const seen = await listAll(p, { model: 'm', status: 'pending' }, 7);
  assert.equal(seen.length, 20);
  assert.equal(seen[0], 'i29', 'newest first');
  const window = await p.list({ from: 1_010, to: 1_012 }, { limit: 10 });
  assert.deepEqual(window.items.map((x) => x.inferenceId), ['i12', 'i11', 'i10']);
});

/** Every id a listing yields, page by page, calling `between` after each page. */
async function listAll(p: ReviewPool, filter: ReviewListFilter, limit: number, between: (page: number) => Promise<void> = async () => {}): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let n = 0; ; n++) {
    const page = await p.list(filter, { limit, ...(cursor !== undefined && { cursor }) });
    seen.push(...page.items.map((x) => x.inferenceId));
    if (page.next === undefined) return seen;
    cursor = page.next;
    await between(n);
  }
}

test('paging is keyed by the last item read: items sampled meanwhile, or at the same millisecond, neither repeat nor vanish', async () => {
  const p = pool();
  // 255 items, 10 per millisecond, so pages of 100 end inside runs of equal times.
  const old = Array.from({ length: 255 }, (_, i) => `old${String(i).padStart(3, '0')}`);
  for (const [i, id] of old.entries()) await p.add(item(id, 0.5, 'm', 5_000 + Math.floor(i / 10)));
  let added = 0;
  const seen = await listAll(p, {}, 100, async () => {
    // Newer items arrive between pages; an offset cursor would shift and repeat old ones.
    for (let k = 0; k < 37; k++) await p.add(item(`new${added++}`, 0.5, 'm', 9_000 + added));
  });
  assert.equal(new Set(seen).size, seen.length, 'no item twice');
  assert.deepEqual(seen.filter((id) => id.startsWith('old')), [...old].reverse(), 'every older item once, newest first');
  const windowed = await listAll(p, { from: 5_003, to: 5_006 }, 3);
  assert.deepEqual(windowed, old.slice(30, 70).reverse(), 'a window pages through its ties too');
  await assert.rejects(p.list({}, { cursor: '12', limit: 5 }), { code: 'REVIEW_CURSOR_INVALID' });
});

test('a skipped item goes to other reviewers, never back to its skipper while remembered', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { skipMemoryMs: 10_000 });
  for (const [id, priority] of [['top', 0.9], ['mid', 0.5], ['low', 0.1]] as const) await p.add(item(id, priority));
  assert.equal((await p.lease('alice', 60_000, { now: 1_000 }))?.inferenceId, 'top');
  const skipped = await p.skip('top', 'alice', 1_100);
  assert.equal(skipped.status, 'pending');
  await assert.rejects(p.skip('top', 'alice', 1_150), { code: 'REVIEW_NOT_LEASED' }, 'only a held item can be skipped');
  assert.equal((await p.lease('alice', 60_000, { now: 1_200 }))?.inferenceId, 'mid', 'alice moves on');
  await p.skip('mid', 'alice', 1_300);
  assert.equal((await p.lease('alice', 60_000, { now: 1_400 }))?.inferenceId, 'low');
  await p.skip('low', 'alice', 1_500);
  assert.equal(await p.lease('alice', 60_000, { now: 1_600 }), undefined, 'nothing left that alice has not skipped');
  assert.deepEqual(await p.backlog(1_600), { pending: 3, leased: 0, oldestPendingAt: 1_000 }, 'skipped items stay in the backlog');
  assert.equal((await p.lease('bob', 60_000, { now: 1_700 }))?.inferenceId, 'top', 'bob gets the most deserving one');
  await p.release('top', 'bob', 1_800);
  assert.equal((await p.lease('bob', 60_000, { now: 1_900 }))?.inferenceId, 'top', 'a plain release is not a skip');
  assert.equal((await p.lease('alice', 60_000, { now: 11_350 }))?.inferenceId, 'mid', 'after the skip memory, alice may get mid again');
  assert.equal(await p.lease('carol', 60_000, { model: 'other' }), undefined);
});

test('a pending listing reads only pending items, however many newer ones were reviewed', async () => {
  const p = pool();
  // Newest first by priority too, so the reviewers take the newest 148 and leave the oldest 2.
  for (let i = 0; i < 150; i++) await p.add(item(`i${i}`, i / 150, 'm', 1_000 + i));
  for (let i = 0; i < 148; i++) {
    const leased = await p.lease('alice', 60_000);
    await p.complete(leased?.inferenceId ?? '', 'alice', 'supports', undefined);
  }
  const page = await p.list({ status: 'pending' }, { limit: 10 });
  assert.deepEqual(page.items.map((x) => x.inferenceId), ['i1', 'i0'], 'one page, not a run of empty ones');
  assert.equal(page.next, undefined);
});

test('a verdict being kept holds its item: no second verdict, release, skip or lease, even past the lease', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { closingTimeoutMs: 1_000 });
  await p.add(item('v', 0.5));
  await p.lease('alice', 500, { now: 10_000 });
  const begun = await p.beginVerdict('v', 'alice', 'supports', 'ok', 10_100);
  assert.equal(begun.state, 'begun');
  const token = begun.state === 'begun' ? begun.item.closing.token : '';
  await assert.rejects(p.beginVerdict('v', 'alice', 'unsure', undefined, 10_200), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await assert.rejects(p.release('v', 'alice', 10_200), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await assert.rejects(p.skip('v', 'alice', 10_200), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  await assert.rejects(p.beginVerdict('v', 'alice', 'supports', 'ok', 10_300), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'the same verdict again waits too: its write would race the first');
  await assert.rejects(p.beginVerdict('v', 'alice', 'supports', 'ok', 10_300, { resume: 'another-token' }), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'only its own token resumes it');
  const retry = await p.beginVerdict('v', 'alice', 'supports', 'ok', 10_300, { resume: token });
  assert.equal(retry.state === 'begun' && retry.item.closing.token, token, 'a retry that found its entry written resumes the marker: same token');
  assert.equal(await p.lease('bob', 60_000, { now: 10_700 }), undefined, "alice's lease ran out but her verdict is being kept");
  await assert.rejects(p.beginVerdict('v', 'bob', 'unsure', undefined, 10_700), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  const { item: closed, closedNow } = await p.finishVerdict('v', token);
  assert.deepEqual([closed.status, closed.verdict, closed.reviewer, closed.comment, closed.reviewedAt, closed.verdictId, closed.closing, closedNow], ['reviewed', 'supports', 'alice', 'ok', 10_100, token, undefined, true]);
  assert.equal((await p.finishVerdict('v', token)).closedNow, false, 'finishing twice closes once');
  assert.deepEqual(await p.verdictCounts(), { 'm|2|supports': 1 });
  assert.equal((await p.beginVerdict('v', 'alice', 'supports', 'ok', 10_800)).state, 'done', 'a retry after the answer was lost');
  await assert.rejects(p.beginVerdict('v', 'alice', 'unsure', undefined, 10_800), { code: 'REVIEW_ALREADY_JUDGED' }, 'another verdict once hers is kept: not a lease that ran out');
});

test('a failed write cancels its marker: the verdict can be sent again at once, and the lease keeps its own expiry', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { closingTimeoutMs: 1_000 });
  await p.add(item('c', 0.5));
  await p.lease('alice', 500, { now: 10_000 });
  const begun = await p.beginVerdict('c', 'alice', 'supports', undefined, 10_100);
  const token = begun.state === 'begun' ? begun.item.closing.token : '';
  await p.cancelVerdict('c', 'another-token');
  await assert.rejects(p.beginVerdict('c', 'alice', 'supports', undefined, 10_200), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'only its own token cancels it');
  await p.cancelVerdict('c', token);
  assert.equal((await p.get('c', 10_200))?.closing, undefined);
  const again = await p.beginVerdict('c', 'alice', 'supports', undefined, 10_200);
  assert.ok(again.state === 'begun' && again.item.closing.token !== token, 'a fresh marker');
  await p.cancelVerdict('c', again.state === 'begun' ? again.item.closing.token : '');
  assert.deepEqual([(await p.get('c', 10_600))?.status], ['pending'], 'no marker: the lease runs out at its own time');
});

test('a stale marker of the same verdict is taken over with its token (the dead request may have written its entry)', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { closingTimeoutMs: 1_000 });
  await p.add(item('s', 0.5));
  await p.lease('alice', 60_000, { now: 10_000 });
  const begun = await p.beginVerdict('s', 'alice', 'supports', undefined, 10_100);
  const token = begun.state === 'begun' ? begun.item.closing.token : '';
  const taken = await p.beginVerdict('s', 'alice', 'supports', undefined, 11_200);
  assert.deepEqual(taken.state === 'begun' && [taken.item.closing.token, taken.item.closing.at], [token, 11_200]);
  await assert.rejects(p.beginVerdict('s', 'alice', 'supports', undefined, 11_300), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'and holds the item again');
});

test('a verdict marker older than the closing timeout (its request died) no longer holds the item', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { closingTimeoutMs: 1_000 });
  await p.add(item('w', 0.5));
  await p.lease('alice', 500, { now: 10_000 });
  const begun = await p.beginVerdict('w', 'alice', 'supports', undefined, 10_100);
  assert.equal(await p.lease('bob', 60_000, { now: 11_000 }), undefined);
  const again = await p.lease('bob', 60_000, { now: 11_101 });
  assert.deepEqual([again?.inferenceId, again?.leasedBy, again?.closing], ['w', 'bob', undefined]);
  await assert.rejects(p.finishVerdict('w', begun.state === 'begun' ? begun.item.closing.token : ''), { code: 'REVIEW_NOT_LEASED' }, 'the dead request cannot close it any more');
  const done = await p.complete('w', 'bob', 'unsure', undefined, 11_200);
  assert.deepEqual([done.reviewer, done.verdict], ['bob', 'unsure']);
});

test('a stored item that fails its schema is skipped by listings and reported, not fatal to them', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const reported: string[] = [];
  const p = new ReviewPool(redis, prefix, { onInvalidItem: (id, problem) => reported.push(`${id}: ${problem}`) });
  for (let i = 0; i < 5; i++) await p.add(item(`i${i}`, 0.5, 'm', 1_000 + i));
  await redis.set(`${prefix}:review:state:i1`, JSON.stringify({ status: 'weird' }));
  await redis.set(`${prefix}:review:item:i3`, '{"inferenceId":"i3"');
  assert.deepEqual((await listAll(p, {}, 2)), ['i4', 'i2', 'i0']);
  assert.deepEqual(reported.map((r) => r.split(':')[0]), ['i3', 'i1']);
  assert.match(reported[1] ?? '', /status/);
  await assert.rejects(p.get('i1'), { code: 'REVIEW_ITEM_INVALID' });
});

test('an expired lease counts as pending in the backlog before anyone leases again', async () => {
  const p = pool();
  await p.add(item('old', 0.5, 'm', 500));
  await p.add(item('new', 0.4, 'm', 2_000));
  await p.lease('alice', 1_000, { now: 10_000 });
  assert.deepEqual(await p.backlog(10_500), { pending: 1, leased: 1, oldestPendingAt: 2_000 });
  assert.deepEqual(await p.backlog(11_001), { pending: 2, leased: 0, oldestPendingAt: 500 }, 'its lease ran out: waiting again, and the oldest');
  await p.lease('bob', 1_000, { now: 11_002 });
  assert.deepEqual(await p.backlog(11_003), { pending: 1, leased: 1, oldestPendingAt: 2_000 }, 'the same once the lease script has put it back');
});

test('asking again answers the reviewer\'s own live lease instead of leasing another', async () => {
  const p = pool();
  for (let i = 0; i < 5; i++) await p.add(item(`h${i}`, i / 10, i < 3 ? 'm' : 'other'));
  const first = await p.lease('alice', 60_000, { model: 'm', now: 1_000 });
  for (let i = 0; i < 4; i++) assert.equal((await p.lease('alice', 60_000, { model: 'm', now: 1_100 }))?.inferenceId, first?.inferenceId);
  assert.equal((await p.lease('alice', 60_000, { now: 1_100 }))?.inferenceId, first?.inferenceId, 'any model: the lease she holds');
  assert.equal((await p.lease('alice', 60_000, { model: 'other', now: 1_100 }))?.inferenceId, first?.inferenceId, 'another model filter: still the lease she holds');
  assert.deepEqual(await p.backlog(1_200), { pending: 4, leased: 1, oldestPendingAt: 1_000 });
  assert.notEqual((await p.lease('bob', 60_000, { model: 'm', now: 1_200 }))?.inferenceId, first?.inferenceId, 'others are not answered her lease');
  await p.complete(first?.inferenceId ?? '', 'alice', 'supports', undefined, 1_300);
  const after = await p.lease('alice', 60_000, { model: 'm', now: 1_400 });
  assert.ok(after && after.inferenceId !== first?.inferenceId, 'once judged, the next item');
  const expired = await p.lease('alice', 60_000, { model: 'm', now: 61_500 });
  assert.equal(expired?.leaseExpiresAt, 121_500, 'an expired lease is not answered again as it was: leased afresh');
});

test('one live lease per reviewer whatever the model filter: asking for m1, m2 then m3 leases one item, not three', async () => {
  const p = pool();
  for (const [id, model] of [['a1', 'm1'], ['b1', 'm2'], ['c1', 'm3']] as const) await p.add(item(id, 0.5, model));
  const first = await p.lease('alice', 60_000, { model: 'm1', now: 1_000 });
  assert.equal(first?.inferenceId, 'a1');
  for (const [at, model] of [[1_100, 'm2'], [1_150, 'm3'], [1_200, undefined]] as const) {
    const again = await p.lease('alice', 60_000, { ...(model !== undefined && { model }), now: at });
    assert.deepEqual([again?.inferenceId, again?.model, again?.leaseExpiresAt], ['a1', 'm1', at + 60_000], `model ${model ?? '(any)'}: the item she holds, its lease renewed`);
  }
  assert.deepEqual(await p.backlog(1_200), { pending: 2, leased: 1, oldestPendingAt: 1_000 });
  assert.deepEqual((await p.list({ status: 'leased' }, { limit: 10, now: 1_200 })).items.map((i) => [i.inferenceId, i.leasedBy]), [['a1', 'alice']]);
  assert.equal((await p.lease('bob', 60_000, { model: 'm2', now: 1_300 }))?.inferenceId, 'b1', 'the rest is left for the others');
  await p.release('a1', 'alice', 1_400);
  assert.equal((await p.lease('alice', 60_000, { model: 'm3', now: 1_500 }))?.inferenceId, 'c1', 'once she gives it back, her filter applies');
});

test('a lease whose verdict request died (its marker went stale) is answered again, not a second item', async () => {
  const p = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`, { closingTimeoutMs: 1_000 });
  await p.add(item('held', 0.9));
  await p.add(item('other', 0.1));
  await p.lease('alice', 60_000, { now: 10_000 });
  await p.beginVerdict('held', 'alice', 'supports', undefined, 10_100);
  const again = await p.lease('alice', 60_000, { now: 11_200 });
  assert.deepEqual([again?.inferenceId, again?.leasedBy], ['held', 'alice'], 'still hers to judge');
  assert.equal((await p.complete('held', 'alice', 'unsure', undefined, 11_300)).verdict, 'unsure');
});

test('an expired lease lists as pending (as the backlog counts it), not as leased, before anyone leases again', async () => {
  const p = pool();
  await p.add(item('lapsed', 0.5, 'm', 1_000));
  await p.add(item('held', 0.4, 'm', 2_000));
  assert.equal((await p.lease('alice', 50))?.inferenceId, 'lapsed');
  assert.equal((await p.lease('bob', 60_000))?.inferenceId, 'held');
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(await p.backlog(), { pending: 1, leased: 1, oldestPendingAt: 1_000 });
  const ids = async (status: NonNullable<ReviewListFilter['status']>) => (await p.list({ status }, { limit: 10 })).items.map((i) => i.inferenceId);
  assert.deepEqual(await ids('pending'), ['lapsed']);
  assert.deepEqual(await ids('leased'), ['held']);
  const [listed] = (await p.list({}, { limit: 10 })).items.filter((i) => i.inferenceId === 'lapsed');
  assert.deepEqual([listed?.status, listed?.leasedBy, listed?.leaseExpiresAt], ['pending', undefined, undefined], 'no lease shown as if it were live');
  assert.deepEqual([(await p.get('lapsed'))?.status, (await p.get('held'))?.status], ['pending', 'leased']);
});

test('an item\'s numbers keep every digit through lease, release, skip, set-aside, restore and verdict (the scripts never rewrite the item)', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const p = new ReviewPool(redis, prefix);
  // 17 significant digits, where Redis's cjson writes 14: rank < threshold here, by less than 1e-14.
  const precise: ReviewItem = {
    ...item('precise', 0.9876543210987654),
    probability: 0.12345678901234568,
    sampling: { sampled: true, policy: 'budget=60', reason: 'budget', priority: 0.9876543210987654, threshold: 0.123456789012344, rank: 0.123456789012341 },
    sampledAt: 1_795_765_046_633,
  };
  await p.add(precise);
  const leased = await p.lease('alice', 60_000);
  assert.deepEqual(leased, { ...precise, status: 'leased', leasedBy: 'alice', leaseExpiresAt: leased?.leaseExpiresAt });
  await p.release('precise', 'alice');
  assert.deepEqual(await p.get('precise'), precise, 'pending again, exactly as added');
  assert.deepEqual((await p.list({ status: 'pending' }, { limit: 10 })).items, [precise]);
  assert.equal(-Number(await redis.zscore(`${prefix}:review:by-priority`, `${String(precise.sampledAt).padStart(16, '0')}:precise`)), precise.sampling.priority, 'back in the pool at its exact priority');
  await p.lease('bob', 60_000);
  await p.skip('precise', 'bob');
  await p.lease('alice', 60_000);
  await p.setAside('precise', 'alice', 'prediction.json is missing');
  await p.restore('precise');
  assert.deepEqual(await p.get('precise'), precise);
  await p.lease('alice', 60_000);
  const closed = await p.complete('precise', 'alice', 'supports', undefined);
  const { status, verdict, reviewer, reviewedAt, verdictId, ...fixed } = closed;
  assert.deepEqual([status, verdict, reviewer, typeof reviewedAt, typeof verdictId], ['reviewed', 'supports', 'alice', 'number', 'string']);
  assert.deepEqual(fixed, (({ status: _status, ...rest }) => rest)(precise));
  assert.ok(closed.sampling.rank! < closed.sampling.threshold!, 'the budget term still did not fire');
});

test('an item stored whole (before its state had its own key) is read, leased and judged as before; a fixed part without its state is expiring', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const p = new ReviewPool(redis, prefix);
  const old = item('old', 0.5);
  // What add() wrote before: the whole item as one JSON, and its index entries.
  await redis.set(`${prefix}:review:item:old`, JSON.stringify(old));
  for (const key of ['pool', 'pool:m']) await redis.zadd(`${prefix}:review:${key}`, 0.5, 'old');
  for (const key of ['index', 'pending-age']) await redis.zadd(`${prefix}:review:${key}`, old.sampledAt, 'old');
  assert.deepEqual(await p.get('old'), old);
  assert.deepEqual(await p.backlog(), { pending: 1, leased: 0, oldestPendingAt: old.sampledAt });
  const leased = await p.lease('alice', 60_000);
  assert.deepEqual([leased?.inferenceId, leased?.status, leased?.leasedBy], ['old', 'leased', 'alice']);
  assert.deepEqual((await p.list({ status: 'leased' }, { limit: 10 })).items.map((i) => i.inferenceId), ['old']);
  await p.complete('old', 'alice', 'supports', undefined);
  assert.deepEqual([(await p.get('old'))?.status, (await p.get('old'))?.verdict], ['reviewed', 'supports']);
  assert.deepEqual(await p.verdictCounts(), { 'm|2|supports': 1 });

  await p.add(item('going', 0.5));
  await redis.del(`${prefix}:review:state:going`);
  assert.equal(await p.get('going'), undefined);
  assert.deepEqual((await p.list({}, { limit: 10 })).items.map((i) => i.inferenceId), ['old']);
});

test('reviewed and broken items expire after the retention, pending ones never; listings forget expired ones', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const p = new ReviewPool(redis, prefix, { retentionMs: 300 });
  for (const id of ['judged', 'broken', 'waiting']) await p.add(item(id, 0.5));
  await p.lease('alice', 60_000, { model: 'm' });
  const first = (await p.list({ status: 'leased' }, { limit: 10 })).items[0]?.inferenceId as string;
  await p.complete(first, 'alice', 'supports', undefined);
  const second = await p.lease('alice', 60_000);
  await p.setAside(second?.inferenceId as string, 'alice', 'explanation.json is missing');
  const ttl = async (id: string) => redis.pttl(`${prefix}:review:item:${id}`);
  assert.ok((await ttl(first)) > 0 && (await ttl(first)) <= 300, 'a reviewed item expires');
  assert.ok((await ttl(second?.inferenceId as string)) > 0, 'a broken item expires');
  const waiting = ['judged', 'broken', 'waiting'].find((id) => id !== first && id !== second?.inferenceId) as string;
  assert.equal(await ttl(waiting), -1, 'a pending item is kept however old');
  assert.ok((await redis.pttl(`${prefix}:review:state:${first}`)) >= (await ttl(first)), 'its state expires with it, never before it');
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(await redis.exists(`${prefix}:review:state:${first}`, `${prefix}:review:state:${second?.inferenceId as string}`), 0);
  assert.deepEqual((await p.list({}, { limit: 10 })).items.map((i) => i.inferenceId), [waiting]);
  assert.deepEqual(await redis.zrange(`${prefix}:review:index`, 0, -1), [waiting], 'the listing index forgot the expired items');
  // 0 keeps closed items for ever.
  const forever = new ReviewPool(redis, `${prefix}-kept`, { retentionMs: 0 });
  await forever.add(item('kept', 0.5));
  await forever.lease('alice', 60_000);
  await forever.complete('kept', 'alice', 'unsure', undefined);
  assert.equal(await redis.pttl(`${prefix}-kept:review:item:kept`), -1);
});

test('Redis failing is QueueUnavailableError on every call, never a bare ioredis error; the scripts\' own refusals stay ReviewPoolErrors', async () => {
  const own = await startRedisServer();
  const connection = createProducerConnection(own.url, { name: 'review-pool-test', onError: () => {} });
  try {
    await connectionReady(connection);
    const p = new ReviewPool(connection, 'down');
    await p.add(item('x', 0.5));
    await assert.rejects(p.release('absent', 'alice'), (error: unknown) => error instanceof ReviewPoolError && error.code === 'REVIEW_NOT_FOUND');
    await assert.rejects(p.release('x', 'alice'), (error: unknown) => error instanceof ReviewPoolError && error.code === 'REVIEW_NOT_LEASED');
    await own.stop();
    const calls: [string, () => Promise<unknown>][] = [
      ['add', () => p.add(item('y', 0.5))],
      ['lease', () => p.lease('alice', 60_000)],
      ['release', () => p.release('x', 'alice')],
      ['beginVerdict', () => p.beginVerdict('x', 'alice', 'supports', undefined)],
      ['cancelVerdict', () => p.cancelVerdict('x', 'token')],
      ['get', () => p.get('x')],
      ['list', () => p.list({}, { limit: 10 })],
      ['backlog', () => p.backlog()],
      ['verdictCounts', () => p.verdictCounts()],
    ];
    for (const [name, call] of calls) {
      await assert.rejects(call(), (error: unknown) => error instanceof QueueUnavailableError && /^review pool: /.test(error.message), name);
    }
  } finally {
    connection.disconnect();
    await own.stop();
  }
});

test('restore puts a broken item back in the pool for good (no expiry, no reason), and only a broken one', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const p = new ReviewPool(redis, prefix, { retentionMs: 60_000 });
  await p.add(item('fixed', 0.5));
  await p.lease('alice', 60_000);
  await p.setAside('fixed', 'alice', 'prediction.json is missing');
  assert.ok((await redis.pttl(`${prefix}:review:item:fixed`)) > 0, 'a broken item expires');
  const restored = await p.restore('fixed');
  assert.equal(restored.status, 'pending');
  assert.equal(restored.brokenReason, undefined);
  assert.equal(restored.brokenAt, undefined);
  assert.deepEqual([await redis.pttl(`${prefix}:review:item:fixed`), await redis.pttl(`${prefix}:review:state:fixed`)], [-1, -1], 'pending items never expire');
  assert.equal((await p.lease('bob', 60_000))?.inferenceId, 'fixed');
  await assert.rejects(p.restore('fixed'), (error: unknown) => error instanceof ReviewPoolError && error.code === 'REVIEW_NOT_BROKEN');
  await assert.rejects(p.restore('absent'), (error: unknown) => error instanceof ReviewPoolError && error.code === 'REVIEW_NOT_FOUND');
});

test('the backlog of one model: its pending and leased items, its oldest pending one', async () => {
  const p = pool();
  // Older items of another model first: the oldest of "n" is found past them.
  for (let i = 0; i < 600; i++) await p.add(item(`m${i}`, 0.5, 'm', 100 + i));
  for (const [id, sampledAt] of [['n1', 5_000], ['n2', 4_000], ['n3', 6_000]] as const) await p.add(item(id, 0.9, 'n', sampledAt));
  // Equal priorities go oldest first: alice gets n2 (4_000), bob m0 (100).
  await p.lease('alice', 1_000, { model: 'n', now: 10_000 });
  await p.lease('bob', 60_000, { model: 'm', now: 10_000 });
  assert.deepEqual(await p.backlog(10_500, 'n'), { pending: 2, leased: 1, oldestPendingAt: 5_000 });
  assert.deepEqual(await p.backlog(10_500, 'm'), { pending: 599, leased: 1, oldestPendingAt: 101 });
  assert.deepEqual(await p.backlog(10_500), { pending: 601, leased: 2, oldestPendingAt: 101 });
  assert.deepEqual(await p.backlog(11_001, 'n'), { pending: 3, leased: 0, oldestPendingAt: 4_000 }, "alice's lease ran out: waiting again");
  assert.deepEqual(await p.backlog(10_500, 'none'), { pending: 0, leased: 0, oldestPendingAt: undefined });
});

test("a model's broken and skip counts exist at 0 from its first item on, so its first broken item is an increase (not a series born at 1)", async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const p = new ReviewPool(redis, prefix);
  await p.add(item('first', 0.5));
  await p.add(item('other', 0.5, 'm2'));
  assert.deepEqual(await redis.hgetall(keys.reviewBroken), { m: '0', m2: '0' });
  assert.deepEqual(await redis.hgetall(keys.reviewSkips), { m: '0', m2: '0' });
  await p.lease('alice', 60_000, { model: 'm' });
  await p.setAside('first', 'alice', 'prediction.json is missing');
  // A later item of the model leaves its counts as they are.
  await p.add(item('second', 0.5));
  assert.deepEqual(await redis.hgetall(keys.reviewBroken), { m: '1', m2: '0' });
});

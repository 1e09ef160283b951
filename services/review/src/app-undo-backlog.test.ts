import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ReviewItem, reviewDocumentSchema } from '@gradcam/contracts';
import { alice, appTestKit, bob, errorAnswer as answer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// POST /v1/reviews/{id}/undo and GET /v1/reviews/backlog through app.inject(), on a real Redis
// and a real (filesystem) store.
const { rootDir, setup: appOn } = await appTestKit('undo-app');
const setup = (undoMs = 120_000) => appOn({ undoMs });

test('undo within the window: 200, the item leased to its reviewer again; review.json keeps the verdict and its retraction; a new verdict is taken', async () => {
  const { pool, app } = setup();
  const id = `app-undo-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const judged = await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'wrong-evidence' } });
  assert.equal(judged.statusCode, 200, judged.body);
  const { item: reviewed, undoUntil } = JSON.parse(judged.body) as { item: ReviewItem; undoUntil: number };
  assert.equal(undoUntil, (reviewed.reviewedAt ?? 0) + 120_000, 'the verdict answer says until when it can be undone');

  const undone = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo`, headers: alice });
  assert.equal(undone.statusCode, 200, undone.body);
  const leased = (JSON.parse(undone.body) as { item: ReviewItem }).item;
  assert.deepEqual([leased.status, leased.leasedBy, leased.verdict], ['leased', 'alice', undefined]);
  const document = reviewDocumentSchema.parse(JSON.parse(await readFile(join(rootDir, reviewed.folder, 'review.json'), 'utf8')));
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.reviews.map((r) => [r.verdict, r.verdictId]), [['wrong-evidence', reviewed.verdictId]]);
  assert.deepEqual(document.retractions.map((r) => [r.verdict, r.verdictId, r.retractedBy]), [['wrong-evidence', reviewed.verdictId, 'alice']]);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo`, headers: alice })), [409, 'REVIEW_NOT_REVIEWED'], 'undone already');

  const again = await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'supports' } });
  assert.equal(again.statusCode, 200, again.body);
  assert.equal((JSON.parse(again.body) as { item: ReviewItem }).item.verdict, 'supports');
});

test('undo refusals: 409 REVIEW_NOT_YOURS, REVIEW_UNDO_EXPIRED, REVIEW_NOT_REVIEWED; 404 REVIEW_NOT_FOUND; 400 ID_INVALID; 401', async () => {
  const { pool, app } = setup(300);
  const id = `app-late-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  await pool.add(item(`${id}-pending`));
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'unsure' } })).statusCode, 200);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo`, headers: bob })), [409, 'REVIEW_NOT_YOURS']);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}-pending/undo`, headers: alice })), [409, 'REVIEW_NOT_REVIEWED']);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}-nope/undo`, headers: alice })), [404, 'REVIEW_NOT_FOUND']);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: '/v1/reviews/a.b/undo', headers: alice })), [400, 'ID_INVALID']);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo` })), [401, 'UNAUTHORIZED']);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo`, headers: alice })), [409, 'REVIEW_UNDO_EXPIRED']);
  assert.equal((await pool.get(id))?.status, 'reviewed', 'the verdict stands');
});

test('GET /v1/reviews/backlog: pending and leased, of one model or of all, with the oldest pending item', async () => {
  const { pool, app } = setup();
  const backlog = async (query = '') => {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews/backlog${query}`, headers: alice });
    assert.equal(response.statusCode, 200, response.body);
    return JSON.parse(response.body) as unknown;
  };
  assert.deepEqual(await backlog(), { pending: 0, leased: 0, oldestPendingAt: null });
  for (const [id, model, sampledAt] of [['bl-1', 'm', 1_000], ['bl-2', 'm', 2_000], ['bl-3', 'n', 3_000], ['bl-4', 'n', 500]] as const) {
    await pool.add(item(id, { model, sampledAt }));
  }
  await pool.lease('bob', 60_000, { model: 'n' });
  const leasedN = (await pool.list({ status: 'leased' }, { limit: 5 })).items[0]?.inferenceId;
  assert.deepEqual(await backlog(), { pending: 3, leased: 1, oldestPendingAt: leasedN === 'bl-4' ? 1_000 : 500 });
  assert.deepEqual(await backlog('?model=m'), { pending: 2, leased: 0, oldestPendingAt: 1_000 });
  assert.deepEqual(await backlog('?model=n'), { pending: 1, leased: 1, oldestPendingAt: leasedN === 'bl-4' ? 3_000 : 500 });
  assert.deepEqual(await backlog('?model='), await backlog(), 'an empty model is all models');
  assert.deepEqual(await backlog('?model=other'), { pending: 0, leased: 0, oldestPendingAt: null });
  assert.deepEqual(answer(await app.inject({ method: 'GET', url: `/v1/reviews/backlog?model=${'m'.repeat(65)}`, headers: alice })), [400, 'REQUEST_INVALID']);
  assert.deepEqual(answer(await app.inject({ method: 'GET', url: '/v1/reviews/backlog' })), [401, 'UNAUTHORIZED']);
});

test('with undo turned off (undoMs 0) a verdict answer carries no undoUntil, and undo is 409 REVIEW_UNDO_DISABLED naming GRADCAM_REVIEW_UNDO_SECONDS', async () => {
  const { pool, app } = setup(0);
  const id = `app-no-undo-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const judged = await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'supports' } });
  assert.equal(judged.statusCode, 200, judged.body);
  assert.equal('undoUntil' in (JSON.parse(judged.body) as object), false, judged.body);
  const undone = await app.inject({ method: 'POST', url: `/v1/reviews/${id}/undo`, headers: alice });
  assert.deepEqual(answer(undone), [409, 'REVIEW_UNDO_DISABLED'], undone.body);
  assert.match(undone.body, /turned off.*GRADCAM_REVIEW_UNDO_SECONDS/);
  assert.doesNotMatch(undone.body, /window has passed/);
  assert.equal((await pool.get(id))?.status, 'reviewed', 'the verdict stands');
});

test('a different verdict from the reviewer who judged the item already is 409 REVIEW_ALREADY_JUDGED naming the kept verdict and until when it can be undone', async () => {
  const { pool, app } = setup();
  const id = `app-judged-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const judged = await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'supports', comment: 'first' } });
  const { item: kept, undoUntil } = JSON.parse(judged.body) as { item: ReviewItem; undoUntil: number };
  for (const payload of [{ verdict: 'unsure' }, { verdict: 'supports', comment: 'second thoughts' }]) {
    const response = await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload });
    assert.deepEqual(answer(response), [409, 'REVIEW_ALREADY_JUDGED'], response.body);
    const { error } = JSON.parse(response.body) as { error: { message: string; details: unknown } };
    assert.deepEqual(error.details, { verdict: 'supports', reviewedAt: kept.reviewedAt, undoUntil }, response.body);
    assert.match(error.message, /alice's verdict on "app-judged-\d+" is kept already: "supports", given at /);
    assert.match(error.message, /undo it \(POST .*\/undo\) until /);
    assert.doesNotMatch(error.message, /not leased|expired/);
  }
  // The same verdict again is answered as kept; another reviewer is still told it is not leased to them.
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: alice, payload: { verdict: 'supports', comment: 'first' } })).statusCode, 200);
  assert.deepEqual(answer(await app.inject({ method: 'POST', url: `/v1/reviews/${id}`, headers: bob, payload: { verdict: 'unsure' } })), [409, 'REVIEW_NOT_LEASED']);
  const stored = await pool.get(id);
  assert.deepEqual([stored?.verdict, stored?.comment, stored?.verdictId], ['supports', 'first', kept.verdictId], 'the kept verdict stands');

  // Past the window (undo off here), the answer says it can no longer be undone, and carries no undoUntil.
  const { pool: offPool, app: offApp } = setup(0);
  await offPool.add(item(`${id}-off`));
  await offPool.lease('alice', 60_000);
  await offApp.inject({ method: 'POST', url: `/v1/reviews/${id}-off`, headers: alice, payload: { verdict: 'supports' } });
  const off = await offApp.inject({ method: 'POST', url: `/v1/reviews/${id}-off`, headers: alice, payload: { verdict: 'unsure' } });
  assert.deepEqual(answer(off), [409, 'REVIEW_ALREADY_JUDGED'], off.body);
  assert.equal('undoUntil' in (JSON.parse(off.body) as { error: { details: object } }).error.details, false, off.body);
  assert.match(off.body, /undo is turned off/);
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ExplanationManifest, type ReviewItem, reviewDocumentSchema } from '@gradcam/contracts';
import { alice, appTestKit, errorAnswer } from './app-test-kit.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// A verdict names the explanation on the reviewer's screen (`shown`: its method and class), one of
// the item's manifest: kept with the verdict in review.json and the pool, listed and exported.
// Through app.inject(), on a real Redis and a real (filesystem) store.
const { rootDir, store, setup } = await appTestKit('shown');

/** The fixture manifest explained by gradcam and layercam for Neutral (2) and Drawing (0): four heatmaps. */
const fixture = JSON.parse(await readFile(new URL('./fixtures/sheep-explanation.json', import.meta.url), 'utf8')) as ExplanationManifest;
const [first] = fixture.explanations;
assert.ok(first);
const manifest: ExplanationManifest = {
  ...fixture,
  explanations: (['gradcam', 'layercam'] as const).flatMap((method) =>
    [[2, 'Neutral'], [0, 'Drawing']].map(([classIndex, label]) => ({
      ...first,
      method,
      classIndex: classIndex as number,
      label: label as string,
      overlay: { ...first.overlay, path: `${method}-${classIndex}.overlay.jpg` },
      rawMap: { ...first.rawMap, path: `${method}-${classIndex}.npy` },
    })),
  ),
};

/** An item leased to alice whose folder holds the four-heatmap manifest. */
async function leased(id: string) {
  const kit = setup();
  const waiting = item(id, { predictedClass: 2, label: 'Neutral' });
  await store.put(`${waiting.folder}explanation.json`, Buffer.from(JSON.stringify(manifest)), { contentType: 'application/json' });
  await kit.pool.add(waiting);
  assert.equal((await kit.pool.lease('alice', 60_000))?.inferenceId, id);
  return { ...kit, waiting };
}

const send = (app: Awaited<ReturnType<typeof leased>>['app'], id: string, payload: object, suffix = '') =>
  app.inject({ method: 'POST', url: `/v1/reviews/${id}${suffix}`, headers: alice, payload });

async function entries(reviewed: ReviewItem) {
  return reviewDocumentSchema.parse(JSON.parse(await readFile(join(rootDir, reviewed.folder, 'review.json'), 'utf8'))).reviews;
}

async function listed(app: Awaited<ReturnType<typeof leased>>['app'], id: string) {
  const response = await app.inject({ method: 'GET', url: '/v1/reviews?status=reviewed', headers: alice });
  return (JSON.parse(response.body) as { items: ReviewItem[] }).items.find((x) => x.inferenceId === id);
}

async function exported(app: Awaited<ReturnType<typeof leased>>['app'], id: string) {
  const csv = (await app.inject({ method: 'GET', url: '/v1/reviews?status=reviewed&format=csv', headers: alice })).body.split('\r\n');
  const columns = csv[0]?.split(',') ?? [];
  const row = csv.find((line) => line.startsWith(`${id},`))?.split(',') ?? [];
  const cell = (name: string) => row[columns.indexOf(name)];
  const jsonl = (await app.inject({ method: 'GET', url: '/v1/reviews?status=reviewed&format=jsonl', headers: alice })).body.split('\n').filter(Boolean);
  const line = jsonl.map((l) => JSON.parse(l) as ReviewItem).find((x) => x.inferenceId === id);
  return { csv: [cell('shownMethod'), cell('shownClassIndex')], jsonl: line?.shown };
}

test('a verdict with the explanation shown keeps it in review.json, the listing and both exports; the same verdict sent again keeps the first one\'s', async () => {
  const { app, waiting } = await leased('shown-kept');
  const id = waiting.inferenceId;
  const shown = { method: 'layercam', classIndex: 0 };
  const response = await send(app, id, { verdict: 'wrong-evidence', comment: 'the frame', shown });
  assert.equal(response.statusCode, 200, response.body);
  assert.deepEqual((JSON.parse(response.body) as { item: ReviewItem }).item.shown, shown);
  const [entry, ...more] = await entries(waiting);
  assert.deepEqual([entry?.verdict, entry?.shown, more.length], ['wrong-evidence', shown, 0]);
  assert.deepEqual((await listed(app, id))?.shown, shown);
  assert.deepEqual(await exported(app, id), { csv: ['layercam', '0'], jsonl: shown });

  // A retry after a lost answer, from a page that switched heatmaps meanwhile: the same verdict, answered with the kept one.
  const again = await send(app, id, { verdict: 'wrong-evidence', comment: 'the frame', shown: { method: 'gradcam', classIndex: 2 } });
  assert.equal(again.statusCode, 200, again.body);
  assert.deepEqual((JSON.parse(again.body) as { item: ReviewItem }).item.shown, shown, 'the first one stands');
  assert.equal((await entries(waiting)).length, 1, 'nothing written again');
});

test('an explanation the item does not have is 400 REVIEW_SHOWN_UNKNOWN listing those it has, and nothing is kept', async () => {
  const { app, pool, waiting } = await leased('shown-unknown');
  const id = waiting.inferenceId;
  for (const shown of [{ method: 'gradcam', classIndex: 5 }, { method: 'scorecam', classIndex: 2 }]) {
    const response = await send(app, id, { verdict: 'supports', shown });
    assert.deepEqual(errorAnswer(response), [400, 'REVIEW_SHOWN_UNKNOWN'], response.body);
    assert.match(response.body, /gradcam for class 2 \(Neutral\), gradcam for class 0 \(Drawing\), layercam for class 2 \(Neutral\), layercam for class 0 \(Drawing\)/);
  }
  // Malformed: not an explanation's name at all.
  for (const shown of [{ method: 'gradcam' }, { method: 'gradcam', classIndex: 2, label: 'Neutral' }, { method: '', classIndex: 2 }, { method: 'gradcam', classIndex: -1 }]) {
    assert.deepEqual(errorAnswer(await send(app, id, { verdict: 'supports', shown })), [400, 'REQUEST_INVALID'], JSON.stringify(shown));
  }
  assert.equal(await store.exists(`${waiting.folder}review.json`), false, 'no review.json written');
  const held = await pool.get(id);
  assert.deepEqual([held?.status, held?.leasedBy, held?.closing, held?.verdict], ['leased', 'alice', undefined, undefined], 'still leased, no marker');
  const fine = await send(app, id, { verdict: 'supports', shown: { method: 'gradcam', classIndex: 2 } });
  assert.equal(fine.statusCode, 200, fine.body);
});

test('a verdict without shown is kept as before; after an undo, the new verdict records its own shown (or none)', async () => {
  const { app, waiting } = await leased('shown-undo');
  const id = waiting.inferenceId;
  const plain = await send(app, id, { verdict: 'unsure' });
  assert.equal(plain.statusCode, 200, plain.body);
  assert.equal((JSON.parse(plain.body) as { item: ReviewItem }).item.shown, undefined);
  assert.equal((await entries(waiting))[0]?.shown, undefined);
  assert.deepEqual(await exported(app, id), { csv: ['', ''], jsonl: undefined });

  assert.equal((await send(app, id, {}, '/undo')).statusCode, 200);
  const shown = { method: 'gradcam', classIndex: 0 };
  assert.equal((await send(app, id, { verdict: 'wrong-evidence', shown })).statusCode, 200);
  assert.deepEqual((await listed(app, id))?.shown, shown);
  assert.deepEqual((await entries(waiting)).map((e) => [e.verdict, e.shown]), [['unsure', undefined], ['wrong-evidence', shown]]);

  assert.equal((await send(app, id, {}, '/undo')).statusCode, 200);
  assert.equal((await send(app, id, { verdict: 'supports' })).statusCode, 200);
  assert.equal((await listed(app, id))?.shown, undefined, 'the undone verdict\'s shown is not the new one\'s');
  assert.deepEqual(await exported(app, id), { csv: ['', ''], jsonl: undefined });
});

test('a verdict with shown from someone who holds no lease is 409 REVIEW_NOT_LEASED, as without it, even where the manifest is missing (not 500, not read)', async () => {
  const { pool, app } = setup();
  // Pending, never leased, and no explanation.json in its folder.
  const waiting = item('shown-not-leased', { predictedClass: 2, label: 'Neutral' });
  await pool.add(waiting);
  const response = await send(app, waiting.inferenceId, { verdict: 'supports', shown: { method: 'gradcam', classIndex: 2 } });
  assert.deepEqual(errorAnswer(response), [409, 'REVIEW_NOT_LEASED'], response.body);
  assert.equal((await pool.get(waiting.inferenceId))?.status, 'pending', 'not set aside');
});

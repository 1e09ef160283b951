import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ReviewDocument, type ReviewItem, reviewDocumentSchema } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { type BlobStore, FsBlobStore, StorageError } from '@gradcam/storage';
import { Redis } from 'ioredis';
import { hookedStore } from './hooked-store.ts';
import { ReviewDesk } from './review-desk.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// The desk against a real Redis and a real (filesystem) store. Storage writes can be slowed or
// followed by a step, to replay what overlapping requests do to review.json and the pool.
const { server, redis, stop } = await startRedisWithClient();
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-desk-'));
after(async () => {
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

/** A fresh filesystem store under rootDir with put hooks (see hookedStore). */
const hookedFsStore = (hooks: Parameters<typeof hookedStore>[1]): BlobStore =>
  hookedStore(new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-desk-test-secret' }), hooks);

const newPool = (client: Redis = redis, options: { closingTimeoutMs?: number } = {}) => new ReviewPool(client, `t${Math.random().toString(36).slice(2, 10)}`, options);

async function reviewsOf(id: string): Promise<ReviewDocument['reviews']> {
  const text = await readFile(join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`), 'utf8');
  return reviewDocumentSchema.parse(JSON.parse(text)).reviews;
}
const summary = (reviews: ReviewDocument['reviews']) => reviews.map((r) => `${r.reviewer}:${r.verdict}`);

test('two overlapping verdicts from the holder: one wins, the other is refused, review.json and the pool agree', async () => {
  const pool = newPool();
  const id = `double-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  // The first verdict's write is the slow one: before the fix the second overtook it in the pool
  // while review.json kept the first.
  const desk = new ReviewDesk({ pool, store: hookedFsStore({ beforePut: (body) => sleep(body.includes('"supports"') ? 150 : 10) }), leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const results = await Promise.allSettled([desk.judge(id, 'alice', 'supports', undefined), desk.judge(id, 'alice', 'unsure', undefined)]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1, 'exactly one verdict is kept');
  assert.equal((lost[0]?.reason as { code?: string }).code, 'REVIEW_VERDICT_IN_PROGRESS');
  const kept = await pool.get(id);
  assert.equal(kept?.status, 'reviewed');
  const reviews = await reviewsOf(id);
  assert.deepEqual(summary(reviews), [`alice:${kept?.verdict}`], 'review.json holds the verdict the pool holds, once');
  assert.equal(reviews[0]?.verdictId, kept?.verdictId);
});

test('the same verdict sent twice at once is kept once: the second waits for the first (REVIEW_VERDICT_IN_PROGRESS), then is answered with the kept verdict', async () => {
  const pool = newPool();
  const id = `twice-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const kept: ReviewItem[] = [];
  let puts = 0;
  const desk = new ReviewDesk({ pool, store: hookedFsStore({ beforePut: () => ((puts += 1), sleep(50)) }), leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60, onVerdict: (closed) => kept.push(closed) });
  const [a, b] = await Promise.allSettled([desk.judge(id, 'alice', 'supports', 'fine'), desk.judge(id, 'alice', 'supports', 'fine')]);
  const won = [a, b].filter((r) => r.status === 'fulfilled');
  const lost = [a, b].filter((r) => r.status === 'rejected');
  assert.equal(won.length, 1, 'one request keeps it');
  assert.equal((lost[0]?.reason as { code?: string }).code, 'REVIEW_VERDICT_IN_PROGRESS', 'the other does not write meanwhile');
  assert.equal(puts, 1, 'review.json written once');
  assert.deepEqual(summary(await reviewsOf(id)), ['alice:supports']);
  assert.equal(kept.length, 1, 'counted once');
  assert.deepEqual(await pool.verdictCounts(), { 'm|1|supports': 1 });
  const again = await desk.judge(id, 'alice', 'supports', 'fine');
  assert.deepEqual([again.status, again.verdictId, puts], ['reviewed', won[0]?.value.verdictId, 1], 'sent again once kept: answered from the pool, nothing written');
});

test('a lease that runs out during a slow write: the verdict is kept, nobody else gets the item meanwhile', async () => {
  const pool = newPool();
  const id = `slow-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 300);
  const desk = new ReviewDesk({ pool, store: hookedFsStore({ beforePut: (body) => sleep(body.includes('"alice"') ? 700 : 0) }), leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const alice = desk.judge(id, 'alice', 'supports', undefined);
  await sleep(400);
  assert.equal(await pool.lease('bob', 60_000), undefined, "alice's verdict is being kept: the item is not handed out again");
  await assert.rejects(desk.judge(id, 'bob', 'wrong-evidence', undefined), { code: 'REVIEW_VERDICT_IN_PROGRESS' });
  const kept = await alice;
  assert.deepEqual([kept.status, kept.reviewer, kept.verdict], ['reviewed', 'alice', 'supports']);
  assert.deepEqual(summary(await reviewsOf(id)), ['alice:supports']);
  assert.deepEqual(await pool.backlog(), { pending: 0, leased: 0, oldestPendingAt: undefined });
});

test('a Redis failure after the write: the retry closes the item without a second entry', async (t) => {
  // Fails fast while disconnected, as the service's producer connection does.
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => {});
  t.after(() => client.disconnect());
  await client.connect();
  const pool = newPool(client);
  const id = `retry-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  let failOnce = true;
  const desk = new ReviewDesk({
    pool,
    store: hookedFsStore({
      afterPut: async () => {
        if (!failOnce) return;
        failOnce = false;
        client.disconnect();
      },
    }),
    leaseMs: 60_000,
    undoMs: 120_000,
    presignSeconds: 60,
  });
  await assert.rejects(desk.judge(id, 'alice', 'wrong-prediction', 'not a cat'));
  if (client.status !== 'end') await once(client, 'end');
  await client.connect();
  assert.deepEqual(summary(await reviewsOf(id)), ['alice:wrong-prediction'], 'written before Redis failed');
  await assert.rejects(desk.judge(id, 'alice', 'supports', undefined), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'another verdict waits for the first');
  const kept = await desk.judge(id, 'alice', 'wrong-prediction', 'not a cat');
  assert.deepEqual([kept.status, kept.verdict, kept.comment], ['reviewed', 'wrong-prediction', 'not a cat']);
  assert.deepEqual(summary(await reviewsOf(id)), ['alice:wrong-prediction'], 'the retry found its entry');
  const again = await desk.judge(id, 'alice', 'wrong-prediction', 'not a cat');
  assert.equal(again.verdictId, kept.verdictId, 'a retry after the answer was lost is answered with the kept verdict');
});

test('a review.json that is not a review document is never overwritten: REVIEW_DOCUMENT_INVALID', async () => {
  const pool = newPool();
  const id = `baddoc-${Date.now()}`;
  const store = hookedFsStore({});
  await store.put(`m/v1/dt=2026-11-26/${id}/review.json`, Buffer.from('{"reviews": "lost?"}'), { contentType: 'application/json' });
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  await assert.rejects(desk.judge(id, 'alice', 'supports', undefined), { code: 'REVIEW_DOCUMENT_INVALID' });
  assert.equal((await store.get(`m/v1/dt=2026-11-26/${id}/review.json`)).toString(), '{"reviews": "lost?"}');
  assert.equal((await pool.get(id))?.status, 'leased');
});

test("a review.json naming another item (its inferenceId) is refused as REVIEW_DOCUMENT_INVALID, never appended to, by a verdict or an undo", async () => {
  const pool = newPool();
  const id = `otherdoc-${Date.now()}`;
  const store = hookedFsStore({});
  const key = `m/v1/dt=2026-11-26/${id}/review.json`;
  const foreign = `${JSON.stringify({ schemaVersion: 1, inferenceId: 'someone-else', reviews: [] }, null, 2)}\n`;
  await store.put(key, Buffer.from(foreign), { contentType: 'application/json' });
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  await assert.rejects(desk.judge(id, 'alice', 'supports', undefined), (error: { code?: string; message?: string }) => {
    assert.equal(error.code, 'REVIEW_DOCUMENT_INVALID');
    assert.match(error.message ?? '', /NOT saved: review\.json is another item's \(its inferenceId is "someone-else"\)/);
    return true;
  });
  assert.equal((await store.get(key)).toString(), foreign, 'left as it was');
  assert.equal((await pool.get(id))?.status, 'leased', 'no verdict kept');

  // A verdict kept on a review.json that was replaced since: its undo is refused too.
  await store.put(key, Buffer.from(`${JSON.stringify({ schemaVersion: 1, inferenceId: id, reviews: [] })}\n`), { contentType: 'application/json' });
  await desk.judge(id, 'alice', 'supports', undefined);
  await store.put(key, Buffer.from(foreign), { contentType: 'application/json' });
  await assert.rejects(desk.undo(id, 'alice'), { code: 'REVIEW_DOCUMENT_INVALID' });
  assert.equal((await store.get(key)).toString(), foreign);
  assert.equal((await pool.get(id))?.status, 'reviewed', 'the verdict stands');
});

test('a verdict whose write stalls holds the item: the same verdict sent again is refused and writes nothing, and an undo after it keeps its retraction', async () => {
  const pool = newPool();
  const id = `stall-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  let putEntered!: () => void;
  const entered = new Promise<void>((resolve) => (putEntered = resolve));
  let releasePut!: () => void;
  const held = new Promise<void>((resolve) => (releasePut = resolve));
  const stalled = new ReviewDesk({ pool, store: hookedFsStore({ beforePut: async () => (putEntered(), await held) }), leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  let puts = 0;
  const d = new ReviewDesk({ pool, store: hookedFsStore({ beforePut: async () => void (puts += 1) }), leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const path = join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`);

  const first = stalled.judge(id, 'alice', 'supports', undefined);
  await entered; // its entry is on its way to storage, with the document it read (none)
  // Before the fix the retry took the live marker's token, wrote review.json and closed the
  // item, so an undo could write its retraction while the first put was still on its way, and
  // that put then landed over it.
  await assert.rejects(d.judge(id, 'alice', 'supports', undefined), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'the retry is refused while the first holds the item');
  assert.equal(puts, 0, 'the refused retry wrote nothing');
  await assert.rejects(readFile(path), { code: 'ENOENT' }, 'review.json not written yet');
  await assert.rejects(d.undo(id, 'alice'), { code: 'REVIEW_NOT_REVIEWED' }, 'nothing to undo until the first is kept');

  releasePut();
  const v1 = await first;
  assert.deepEqual([v1.status, v1.verdict], ['reviewed', 'supports']);
  const again = await d.judge(id, 'alice', 'supports', undefined);
  assert.deepEqual([again.verdictId, puts], [v1.verdictId, 0], 'sent again once kept: answered from the pool, nothing written');
  const leased = await d.undo(id, 'alice');
  assert.deepEqual([leased.status, leased.leasedBy], ['leased', 'alice']);
  await sleep(50); // a stale put, were one still on its way, would land here

  const document = reviewDocumentSchema.parse(JSON.parse(await readFile(path, 'utf8')));
  assert.deepEqual(document.reviews.map((r) => [r.verdict, r.verdictId]), [['supports', v1.verdictId]], 'the verdict, once');
  assert.ok(document.schemaVersion === 2, 'not overwritten by a stale version 1 document');
  assert.deepEqual(document.retractions.map((r) => [r.verdictId, r.retractedBy]), [[v1.verdictId, 'alice']], 'and its retraction');
});

test('a failed verdict write releases the item: the verdict can be sent again at once, and is written once', async () => {
  const pool = newPool();
  const id = `failed-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  let failNext = true;
  const desk = new ReviewDesk({
    pool,
    store: hookedFsStore({
      beforePut: async () => {
        if (!failNext) return;
        failNext = false;
        throw new StorageError('STORAGE_UNAVAILABLE', 'storage is down', { transient: true });
      },
    }),
    leaseMs: 60_000,
    undoMs: 120_000,
    presignSeconds: 60,
  });
  await assert.rejects(desk.judge(id, 'alice', 'unsure', undefined), { code: 'STORAGE_UNAVAILABLE' });
  const after = await pool.get(id);
  assert.deepEqual([after?.status, after?.leasedBy, after?.closing], ['leased', 'alice', undefined], 'still leased, no marker');
  const kept = await desk.judge(id, 'alice', 'unsure', undefined);
  assert.deepEqual([kept.status, kept.verdict], ['reviewed', 'unsure'], 'not refused as in progress');
  const reviews = await reviewsOf(id);
  assert.deepEqual(reviews.map((r) => r.verdictId), [kept.verdictId]);
});

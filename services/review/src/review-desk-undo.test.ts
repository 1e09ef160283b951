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
import { ReviewDesk } from './review-desk.ts';
import { reviewItem as item } from './review-item-fixture.ts';
import { hookedStore } from './hooked-store.ts';

// Undoing a verdict through the desk, against a real Redis and a real (filesystem) store:
// review.json keeps the verdict and gains its retraction; the pool leases the item again.
const { server, redis, stop } = await startRedisWithClient();
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-undo-'));
after(async () => {
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

const fsStore = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-undo-test-secret' });
const newPool = (client: Redis = redis) => new ReviewPool(client, `t${Math.random().toString(36).slice(2, 10)}`);
const desk = (pool: ReviewPool, options: { undoMs?: number; store?: BlobStore; onUndo?: (reviewed: ReviewItem) => void } = {}) =>
  new ReviewDesk({ pool, store: options.store ?? fsStore, leaseMs: 60_000, undoMs: options.undoMs ?? 120_000, presignSeconds: 60, ...(options.onUndo && { onUndo: options.onUndo }) });

async function documentOf(id: string): Promise<ReviewDocument> {
  return reviewDocumentSchema.parse(JSON.parse(await readFile(join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`), 'utf8')));
}

test('an undo within the window: the item is leased to its reviewer again, review.json keeps the verdict and its retraction, a new verdict is taken', async () => {
  const pool = newPool();
  const id = `undo-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const undone: ReviewItem[] = [];
  const d = desk(pool, { onUndo: (reviewed) => undone.push(reviewed) });
  const slip = await d.judge(id, 'alice', 'wrong-evidence', 'meant 1');
  assert.equal(d.undoUntil(slip), (slip.reviewedAt ?? 0) + 120_000);
  assert.equal((await documentOf(id)).schemaVersion, 1, 'without a retraction the document stays version 1');

  const before = Date.now();
  const leased = await d.undo(id, 'alice');
  assert.deepEqual([leased.status, leased.leasedBy, leased.verdict, leased.verdictId], ['leased', 'alice', undefined, undefined]);
  assert.ok((leased.leaseExpiresAt ?? 0) >= before + 60_000, 'a fresh lease');
  assert.deepEqual(undone.map((r) => [r.verdict, r.verdictId]), [['wrong-evidence', slip.verdictId]], 'told once, with the verdict undone');
  const document = await documentOf(id);
  assert.equal(document.schemaVersion, 2);
  assert.deepEqual(document.reviews.map((r) => [r.reviewer, r.verdict, r.comment, r.verdictId]), [['alice', 'wrong-evidence', 'meant 1', slip.verdictId]], 'the verdict stays');
  assert.ok(document.schemaVersion === 2);
  assert.equal(document.retractions.length, 1);
  const [retraction] = document.retractions;
  assert.deepEqual([retraction?.verdictId, retraction?.verdict, retraction?.retractedBy], [slip.verdictId, 'wrong-evidence', 'alice']);
  assert.ok(Date.parse(retraction?.retractedAt ?? '') >= before);
  assert.equal((await pool.lease('alice', 60_000))?.inferenceId, id, 'the next lease is the item again');

  const kept = await d.judge(id, 'alice', 'supports', undefined);
  assert.deepEqual([kept.status, kept.verdict], ['reviewed', 'supports']);
  const final = await documentOf(id);
  assert.ok(final.schemaVersion === 2, 'a version 2 document keeps its version');
  assert.deepEqual(final.reviews.map((r) => r.verdict), ['wrong-evidence', 'supports']);
  assert.deepEqual(final.retractions.map((r) => r.verdictId), [slip.verdictId], 'and its retractions');
  assert.equal(final.reviews.at(-1)?.verdictId, kept.verdictId, 'the kept verdict is the one whose ids match');
});

test('refused undos write nothing: after the window (REVIEW_UNDO_EXPIRED), another reviewer (REVIEW_NOT_YOURS), not reviewed, unknown', async () => {
  const pool = newPool();
  const id = `late-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  await pool.add(item(`${id}-waiting`));
  const d = desk(pool, { undoMs: 200 });
  await d.judge(id, 'alice', 'unsure', undefined);
  const written = await readFile(join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`), 'utf8');
  await assert.rejects(d.undo(id, 'bob'), { code: 'REVIEW_NOT_YOURS' });
  await sleep(300);
  await assert.rejects(d.undo(id, 'alice'), { code: 'REVIEW_UNDO_EXPIRED' });
  await assert.rejects(d.undo(`${id}-waiting`, 'alice'), { code: 'REVIEW_NOT_REVIEWED' });
  await assert.rejects(d.undo(`${id}-never`, 'alice'), { code: 'REVIEW_NOT_FOUND' });
  assert.equal(await readFile(join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`), 'utf8'), written, 'review.json untouched');
  assert.equal((await pool.get(id))?.status, 'reviewed');
});

test('a Redis failure after the retraction is written: the retry applies it, even past the window, without a second retraction', async (t) => {
  const client = new Redis({ port: server.port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  t.after(() => client.disconnect());
  client.on('error', () => {});
  await client.connect();
  const pool = newPool(client);
  const id = `retry-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  let failNext = false;
  const d = desk(pool, {
    undoMs: 500,
    store: hookedStore(fsStore, {
      afterPut: async () => {
        if (!failNext) return;
        failNext = false;
        client.disconnect();
      },
    }),
  });
  await d.judge(id, 'alice', 'wrong-prediction', undefined);
  failNext = true;
  await assert.rejects(d.undo(id, 'alice'));
  if (client.status !== 'end') await once(client, 'end');
  await client.connect();
  await sleep(600);
  const leased = await d.undo(id, 'alice');
  assert.deepEqual([leased.status, leased.leasedBy], ['leased', 'alice'], 'decided inside the window: taken');
  const document = await documentOf(id);
  assert.ok(document.schemaVersion === 2);
  assert.equal(document.retractions.length, 1, 'the retry found its retraction');
});

test('an undo whose write stalls holds the item: a retried undo is refused, the first completes, and the verdict given after it stays in review.json', async () => {
  const pool = newPool();
  const id = `stall-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  const d = desk(pool);
  let putEntered!: () => void;
  const entered = new Promise<void>((resolve) => (putEntered = resolve));
  let releasePut!: () => void;
  const held = new Promise<void>((resolve) => (releasePut = resolve));
  const stalled = desk(pool, {
    store: hookedStore(fsStore, {
      beforePut: async () => {
        putEntered();
        await held;
      },
    }),
  });
  const v1 = await d.judge(id, 'alice', 'wrong-evidence', undefined);

  const first = stalled.undo(id, 'alice');
  await entered; // its retraction is on its way to storage, with the document it read
  await assert.rejects(d.undo(id, 'alice'), { code: 'REVIEW_VERDICT_IN_PROGRESS' }, 'the retry is refused while the first holds the item');
  assert.equal((await documentOf(id)).schemaVersion, 1, 'the refused retry wrote nothing');
  assert.equal((await pool.get(id))?.verdictId, v1.verdictId, '…and the verdict is still kept');

  releasePut();
  const leased = await first;
  assert.deepEqual([leased.status, leased.leasedBy], ['leased', 'alice'], 'the first undo completes');
  const v2 = await d.judge(id, 'alice', 'supports', 'second thought');

  const document = await documentOf(id);
  assert.deepEqual(document.reviews.map((r) => r.verdictId), [v1.verdictId, v2.verdictId], "the later verdict's entry is kept");
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.retractions.map((r) => r.verdictId), [v1.verdictId], 'one retraction');
  const kept = await pool.get(id);
  assert.deepEqual([kept?.status, kept?.verdictId], ['reviewed', v2.verdictId], 'the pool and review.json agree on the kept verdict');
});

test('a failed undo write releases the item: the undo can be sent again at once, and writes one retraction', async () => {
  const pool = newPool();
  const id = `failed-${Date.now()}`;
  await pool.add(item(id));
  await pool.lease('alice', 60_000);
  let failNext = false;
  const d = desk(pool, {
    store: hookedStore(fsStore, {
      beforePut: async () => {
        if (!failNext) return;
        failNext = false;
        throw new StorageError('STORAGE_UNAVAILABLE', 'storage is down', { transient: true });
      },
    }),
  });
  const slip = await d.judge(id, 'alice', 'unsure', undefined);
  failNext = true;
  await assert.rejects(d.undo(id, 'alice'), { code: 'STORAGE_UNAVAILABLE' });
  assert.equal((await documentOf(id)).schemaVersion, 1, 'nothing retracted');
  assert.equal((await pool.get(id))?.verdictId, slip.verdictId);
  const leased = await d.undo(id, 'alice');
  assert.deepEqual([leased.status, leased.leasedBy], ['leased', 'alice'], 'not refused as in progress');
  const document = await documentOf(id);
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.retractions.map((r) => r.verdictId), [slip.verdictId]);
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ReviewDocument, type ReviewItem, reviewDocumentSchema } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { QueueUnavailableError, closeConnection, connectionReady, createProducerConnection } from '@gradcam/queue';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore } from '@gradcam/storage';
import type { Redis } from 'ioredis';
import { startLossyRedisProxy } from './lossy-redis-proxy.ts';
import { ReviewDesk } from './review-desk.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// The desk on a production connection (createProducerConnection) to a real Redis through a proxy
// that loses the reply to one command after Redis ran it: ioredis reconnects and sends that
// command again, and the verdict or undo must still land, once, in review.json and in the pool.
// Or the reply comes after the command timeout, or the connection takes longer than that to come
// back: the request fails (503), and the same verdict sent again must not be refused for the
// marker Redis set meanwhile.
const { server, stop } = await startRedisWithClient();
const proxy = await startLossyRedisProxy(server.port);
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-resend-'));
const connections: Redis[] = [];
after(async () => {
  for (const connection of connections) await closeConnection(connection);
  await proxy.close();
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

async function connect(commandTimeoutMs?: number): Promise<Redis> {
  const connection = createProducerConnection(proxy.url, { onError: () => {}, name: 'review-resend-test', ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }) });
  connections.push(connection);
  await connectionReady(connection);
  return connection;
}
const connection = await connect();

/**
 * Text of each pool script that no other script holds, to pick the command whose reply is lost.
 * (Every test checks that its command was met: a script rewritten without it fails the test.)
 */
const script = {
  beginVerdict: "if ours and resume ~= '' and closing.token == resume",
  finishVerdict: 'state.verdictId = token',
  beginUndo: "if mode ~= 'resume' and undoLive(state",
  finishUndo: 'UNDO_INTERRUPTED',
  release: "redis.call('HINCRBY', prefix .. ':review:skips', item.model, 1)",
};

function setUp(client: Redis = connection) {
  const pool = new ReviewPool(client, `t${Math.random().toString(36).slice(2, 10)}`);
  const verdicts: ReviewItem[] = [];
  const undos: ReviewItem[] = [];
  const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-resend-test-secret' });
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60, onVerdict: (kept) => verdicts.push(kept), onUndo: (reviewed) => undos.push(reviewed) });
  return { pool, desk, verdicts, undos };
}

async function documentOf(id: string): Promise<ReviewDocument> {
  return reviewDocumentSchema.parse(JSON.parse(await readFile(join(rootDir, `m/v1/dt=2026-11-26/${id}/review.json`), 'utf8')));
}

/** Runs `step` with the reply to the command holding `marker` lost once; checks that it was. */
async function withReplyLost<T>(marker: string, step: () => Promise<T>): Promise<T> {
  const before = proxy.hits;
  proxy.dropReplyTo(marker);
  const result = await step();
  assert.equal(proxy.hits, before + 1, 'the reply was lost');
  return result;
}

async function leased(pool: ReviewPool, name: string, reviewer = 'alice'): Promise<string> {
  const id = `${name}-${Date.now()}`;
  await pool.add(item(id));
  assert.equal((await pool.lease(reviewer, 60_000))?.inferenceId, id);
  return id;
}

test('a verdict whose beginVerdict reply was lost (sent again after the reconnect) is kept: in review.json once, the item reviewed', async () => {
  const { pool, desk, verdicts } = setUp();
  const id = await leased(pool, 'begin');
  const kept = await withReplyLost(script.beginVerdict, () => desk.judge(id, 'alice', 'supports', 'the ears'));
  assert.deepEqual([kept.status, kept.verdict, kept.reviewer], ['reviewed', 'supports', 'alice']);
  const document = await documentOf(id);
  assert.deepEqual(document.reviews.map((r) => [r.reviewer, r.verdict, r.comment, r.verdictId]), [['alice', 'supports', 'the ears', kept.verdictId]]);
  assert.deepEqual((await pool.get(id))?.status, 'reviewed', 'not back in the pool');
  assert.deepEqual(await pool.verdictCounts(), { 'm|1|supports': 1 });
  assert.equal(verdicts.length, 1);
});

test('a verdict whose finishVerdict reply was lost is kept once, and told (metrics) once', async () => {
  const { pool, desk, verdicts } = setUp();
  const id = await leased(pool, 'finish');
  const kept = await withReplyLost(script.finishVerdict, () => desk.judge(id, 'alice', 'wrong-evidence', undefined));
  assert.equal(kept.status, 'reviewed');
  assert.deepEqual((await documentOf(id)).reviews.map((r) => r.verdictId), [kept.verdictId]);
  assert.deepEqual(await pool.verdictCounts(), { 'm|1|wrong-evidence': 1 });
  assert.equal(verdicts.length, 1, 'the resent finish closed the item: onVerdict is told');
});

test('an undo whose beginUndo reply was lost goes through: the retraction written once, the item leased back', async () => {
  const { pool, desk, undos } = setUp();
  const id = await leased(pool, 'undo-begin');
  const slip = await desk.judge(id, 'alice', 'unsure', undefined);
  const back = await withReplyLost(script.beginUndo, () => desk.undo(id, 'alice'));
  assert.deepEqual([back.status, back.leasedBy], ['leased', 'alice']);
  const document = await documentOf(id);
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.retractions.map((r) => r.verdictId), [slip.verdictId]);
  assert.equal(undos.length, 1);
});

test('an undo whose finishUndo reply was lost goes through (not REVIEW_NOT_REVIEWED for its own undo), counted once', async () => {
  const { pool, desk, undos } = setUp();
  const id = await leased(pool, 'undo-finish');
  const slip = await desk.judge(id, 'alice', 'unsure', undefined);
  const back = await withReplyLost(script.finishUndo, () => desk.undo(id, 'alice'));
  assert.deepEqual([back.status, back.leasedBy], ['leased', 'alice']);
  const document = await documentOf(id);
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.retractions.map((r) => r.verdictId), [slip.verdictId]);
  assert.deepEqual(await pool.undoCounts(), { 'm|1|unsure': 1 });
  assert.equal(undos.length, 1);
});

test('a release and a skip whose replies were lost succeed (not REVIEW_NOT_LEASED for what they did); the skip counted once', async () => {
  const { pool } = setUp();
  // Both leased before either is given back: with equal priorities the pool serves the oldest
  // first, so carol's lease would take the released item, not the one she is to skip.
  const released = await leased(pool, 'release', 'bob');
  const skipped = await leased(pool, 'skip', 'carol');
  assert.equal((await withReplyLost(script.release, () => pool.release(released, 'bob'))).status, 'pending');
  assert.equal((await withReplyLost(script.release, () => pool.skip(skipped, 'carol'))).status, 'pending');
  assert.equal((await pool.lease('carol', 60_000))?.inferenceId, released, 'the skipped item is kept away from carol');
});

test('a verdict whose beginVerdict answer came after the command timeout fails, and the same verdict sent again at once is kept', async () => {
  const { pool, desk } = setUp(await connect(300));
  const id = await leased(pool, 'timeout');
  const before = proxy.hits;
  proxy.holdRepliesTo(script.beginVerdict, 500);
  await assert.rejects(desk.judge(id, 'alice', 'supports', undefined), QueueUnavailableError);
  assert.equal(proxy.hits, before + 1, 'the reply was held');
  const kept = await desk.judge(id, 'alice', 'supports', undefined);
  assert.equal(kept.status, 'reviewed');
  assert.deepEqual((await documentOf(id)).reviews.map((r) => [r.verdict, r.verdictId]), [['supports', kept.verdictId]]);
});

/**
 * Runs `step` (which must fail: 503) with the reply to the command holding `marker` lost and the
 * reconnect refused for longer than `client`'s command timeout, so the marker's clear cannot be
 * sent when the step fails; settles once `client` is connected again.
 */
async function withSlowReconnect(client: Redis, marker: string, step: () => Promise<unknown>): Promise<void> {
  const before = proxy.hits;
  proxy.dropReplyTo(marker, { refuseReconnectsMs: 1_000 });
  await assert.rejects(step(), QueueUnavailableError);
  assert.equal(proxy.hits, before + 1, 'the reply was lost');
  assert.notEqual(client.status, 'ready', 'still reconnecting when the request failed');
  // Not events.once: it rejects on the 'error' each refused reconnect emits.
  await new Promise((resolve) => client.once('ready', resolve));
}

test('a verdict whose beginVerdict reply was lost and whose reconnect outlasted the command timeout fails; sent again after the reconnect it is kept at once, once', async () => {
  const client = await connect(300);
  const { pool, desk, verdicts } = setUp(client);
  const id = await leased(pool, 'slow-reconnect');
  await withSlowReconnect(client, script.beginVerdict, () => desk.judge(id, 'alice', 'supports', 'the ears'));
  const kept = await desk.judge(id, 'alice', 'supports', 'the ears');
  assert.deepEqual([kept.status, kept.verdict], ['reviewed', 'supports']);
  assert.deepEqual((await documentOf(id)).reviews.map((r) => [r.verdict, r.comment, r.verdictId]), [['supports', 'the ears', kept.verdictId]]);
  assert.deepEqual(await pool.verdictCounts(), { 'm|1|supports': 1 });
  assert.equal(verdicts.length, 1);
});

test('an undo whose beginUndo reply was lost and whose reconnect outlasted the command timeout fails; sent again after the reconnect it goes through at once, retracted once', async () => {
  const client = await connect(300);
  const { pool, desk, undos } = setUp(client);
  const id = await leased(pool, 'slow-reconnect-undo');
  const slip = await desk.judge(id, 'alice', 'unsure', undefined);
  await withSlowReconnect(client, script.beginUndo, () => desk.undo(id, 'alice'));
  const back = await desk.undo(id, 'alice');
  assert.deepEqual([back.status, back.leasedBy], ['leased', 'alice']);
  const document = await documentOf(id);
  assert.ok(document.schemaVersion === 2);
  assert.deepEqual(document.retractions.map((r) => r.verdictId), [slip.verdictId]);
  assert.equal(undos.length, 1);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { tokenFingerprint } from '@gradcam/auth';
import { type ExplainJob, type InferenceRecord, type ReviewItem, erasureRecordSchema, indexEntryTtlSeconds, redisKeys } from '@gradcam/contracts';
import { type RedisServer, type S3Server, startRedisServer, startS3Server } from '@gradcam/dev-services';
import { type ExplainQueue, closeConnection, connectionReady, createExplainQueue, createProducerConnection, createWorkerConnection, purgeJobEvents, removeStrandedJobs } from '@gradcam/queue';
import { ReviewPool } from '@gradcam/review-pool';
import { type BlobStore, type FsBlobStore, listAll } from '@gradcam/storage';
import { createRegistry } from '@gradcam/telemetry';
import { UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { type AcceptDeps, acceptRecords } from './accept-records.ts';
import { type EraseDeps, type Erasure, eraseInference } from './erase-inference.ts';
import { InferenceIndex } from './inference-index.ts';
import { createIngestStore } from './ingest-store.ts';
import { auth, createIngestHarness, eraseAuth, testEraseToken, testToken } from './test-support/ingest-harness.ts';
import { createIngestApp } from './wire-ingest.ts';

// DELETE /v1/inferences/{id} erases one inference (GDPR art. 17, a withdrawn consent, a takedown):
// nothing of it left in storage or Redis (job, record, review item), on the filesystem store and on
// a real S3 API (s3rver), a real Redis and a real BullMQ worker.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

let server: RedisServer;
let s3: S3Server;
before(async () => {
  server = await startRedisServer();
  s3 = await startS3Server({ buckets: ['captures-bucket'] });
});
after(async () => {
  await s3.stop();
  await server.stop();
});

interface Ingest {
  readonly app: FastifyInstance;
  readonly store: BlobStore;
  readonly queue: ExplainQueue;
  readonly redis: Redis;
  readonly prefix: string;
  readonly erased: Erasure[];
  close(): Promise<void>;
}

async function fsIngest(eraseTokens?: readonly string[], wrapStore?: (store: FsBlobStore) => BlobStore): Promise<Ingest> {
  const h = await createIngestHarness({ redisUrl: server.url, ...(eraseTokens && { eraseTokens }), ...(wrapStore && { wrapStore }) });
  return { ...h, prefix: String(h.queue.opts.prefix), erased: [], close: () => h.close() };
}

/** On S3, with its onErased told of every erasure (the line main.ts logs). */
async function s3Ingest(): Promise<Ingest> {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
  await redis.hset(redisKeys(prefix).servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const { endpoint, region, accessKeyId, secretAccessKey } = s3;
  const store = createIngestStore({ kind: 's3', endpoint, region, bucket: 'captures-bucket', accessKeyId, secretAccessKey, forcePathStyle: true, prefix: 'team-a/captures' });
  const erased: Erasure[] = [];
  const app = await createIngestApp({
    redis, queue, store, registry: createRegistry(), queuePrefix: prefix, storagePrefix: 'team-a/captures', bucket: 'captures-bucket',
    policy: parseCapturePolicy('all'), apiTokens: [testToken], eraseTokens: [testEraseToken], maxBodyBytes: 8 * 1024 * 1024, maxQueueDepth: 1000, presignSeconds: 60, servedModelsCacheMs: 0,
    onErased: (erasure) => erased.push(erasure),
  });
  return {
    app, store, queue, redis, prefix, erased,
    async close() {
      await app.close();
      await queue.close();
      await store.close();
      await closeConnection(redis);
    },
  };
}

const post = async (ingest: Ingest, id: string, image: object) => {
  const answer = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id, model: { name: 'nsfw-mobilenet-v2' }, image } });
  assert.equal(answer.statusCode, 202, answer.body);
  const job = await ingest.queue.getJob(id);
  assert.ok(job);
  return job.data.folder;
};
const erase = (ingest: Ingest, id: string, headers: Record<string, string> = eraseAuth) => ingest.app.inject({ method: 'DELETE', url: `/v1/inferences/${id}`, headers });
const status = (ingest: Ingest, id: string, headers: Record<string, string> = auth) => ingest.app.inject({ method: 'GET', url: `/v1/inferences/${id}`, headers });

/** What a worker writes next to the prediction, and the review item it adds; review.json as a reviewer's verdict leaves it. */
async function explainAsTheWorkerWould(ingest: Ingest, job: Pick<ExplainJob, 'inferenceId' | 'folder'>): Promise<void> {
  const { store, folder } = { store: ingest.store, folder: job.folder };
  await store.put(`${folder}grad-cam-2.npy`, Buffer.alloc(7 * 7 * 4 + 128), { contentType: 'application/octet-stream' });
  await store.put(`${folder}grad-cam-2.overlay.jpg`, photo, { contentType: 'image/jpeg' });
  await store.put(`${folder}explanation.json`, Buffer.from('{"explanations":[]}'), { contentType: 'application/json' });
  await store.put(`${folder}review.json`, Buffer.from('{"verdicts":[]}'), { contentType: 'application/json' });
  const item: ReviewItem = {
    inferenceId: job.inferenceId, model: 'nsfw-mobilenet-v2', modelVersion: 'nsfwjs-4.4.0', folder, predictedClass: 2, label: 'Neutral', probability: 0.6,
    sampling: { sampled: true, policy: 'rate=1', reason: 'uniform', priority: 0.4 }, sampledAt: Date.now(), status: 'pending',
  };
  assert.equal(await new ReviewPool(ingest.redis, ingest.prefix).add(item), true);
}

/**
 * Every place in Redis under the ingest's prefix naming `id`: a key, a member of a set or sorted
 * set, a hash field, a list entry, a stream entry (BullMQ's event stream: any field naming it).
 */
async function redisTraces(ingest: Ingest, id: string): Promise<string[]> {
  const found: string[] = [];
  const names = (text: string) => text === id || text.endsWith(`:${id}`) || text.includes(`"${id}"`);
  for (const key of await ingest.redis.keys(`${ingest.prefix}:*`)) {
    if (key.split(':').includes(id)) found.push(key);
    const type = await ingest.redis.type(key);
    const entries =
      type === 'zset' ? await ingest.redis.zrange(key, 0, -1) : type === 'set' ? await ingest.redis.smembers(key) : type === 'hash' ? await ingest.redis.hkeys(key) : type === 'list' ? await ingest.redis.lrange(key, 0, -1) : [];
    for (const entry of entries) if (names(entry)) found.push(`${key} ${entry}`);
    if (type === 'stream') for (const entry of await streamEntriesNaming(ingest, key, id)) found.push(`${key} ${entry}`);
  }
  return found;
}

/** The entries of the stream at `key` with a field naming `id` (as a whole word: not `id-2`), as `{entry id} {fields as JSON}`. */
async function streamEntriesNaming(ingest: Ingest, key: string, id: string): Promise<string[]> {
  const word = new RegExp(`(?<![\\w-])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`);
  const entries = await ingest.redis.xrange(key, '-', '+');
  return entries.filter(([, fields]) => fields.some((field) => word.test(field))).map(([entryId, fields]) => `${entryId} ${JSON.stringify(fields)}`);
}

/** Erasure's deps as ingest wires them, over this test's ingest, but for `overrides` (a failing store or purge). */
function eraseDeps(ingest: Ingest, overrides: Partial<EraseDeps> = {}): EraseDeps {
  return {
    index: new InferenceIndex(ingest.redis, ingest.prefix, indexEntryTtlSeconds),
    jobState: async (id) => {
      const job = await ingest.queue.getJob(id);
      return job ? { state: (await job.getState()) as 'waiting', attempts: job.attemptsMade } : undefined;
    },
    removeJob: async (id) => ((await ingest.queue.remove(id)) === 1 ? 'removed' : 'locked'),
    removeReviewItem: async (id) => ((await new ReviewPool(ingest.redis, ingest.prefix).remove(id)) ? 'removed' : 'absent'),
    purgeJobEvents: (id) => purgeJobEvents(ingest.queue, id),
    store: ingest.store,
    storagePrefix: 'captures',
    ...overrides,
  };
}

/** The ingest's store, but its first delete fails (a disk error, an S3 outage). */
const storeFailingFirstDelete = (ingest: Ingest): BlobStore => {
  let failures = 1;
  return Object.create(ingest.store, {
    delete: { value: (key: string) => (failures-- > 0 ? Promise.reject(new Error('storage down')) : ingest.store.delete(key)) },
  }) as BlobStore;
};

const eventually = async (check: () => Promise<boolean>) => {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
};

/** The erasure record the store holds, asserting it holds exactly one (an erasure is recorded once). */
async function theOneErasureRecord(ingest: { store: { get(key: string): Promise<Buffer> } & Parameters<typeof listAll>[0] }) {
  const [recordKey, ...others] = await listAll(ingest.store, 'captures/_erasures/');
  assert.ok(recordKey !== undefined && others.length === 0, 'recorded once');
  return erasureRecordSchema.parse(JSON.parse((await ingest.store.get(recordKey)).toString('utf8')));
}

test('an explained inference is erased (storage, job, record, review item); a job being explained is refused 409 with nothing deleted; a second DELETE is 404; its neighbour is untouched', async () => {
  const ingest = await fsIngest();
  const connection = createWorkerConnection(server.url, { onError: () => undefined });
  const holding = new Map<string, () => void>();
  const worker = new Worker<ExplainJob>(
    ingest.queue.name,
    async (job) => {
      await explainAsTheWorkerWould(ingest, job.data);
      if (job.data.inferenceId === 'held') await new Promise<void>((resolve) => holding.set('held', resolve));
    },
    { connection, prefix: ingest.prefix, concurrency: 4 },
  );
  try {
    const folder = await post(ingest, 'erase-me', { base64: photo.toString('base64') });
    const neighbour = await post(ingest, 'erase-me-not', { base64: photo.toString('base64') });
    assert.equal(folder.replace(/erase-me\/$/, ''), neighbour.replace(/erase-me-not\/$/, ''), 'the same dt= folder');
    await eventually(async () => (await ingest.queue.getJobState('erase-me')) === 'completed' && (await ingest.queue.getJobState('erase-me-not')) === 'completed');
    const neighbourKeys = await listAll(ingest.store, neighbour);
    assert.deepEqual((await listAll(ingest.store, folder)).map((key) => key.slice(folder.length)), ['explanation.json', 'grad-cam-2.npy', 'grad-cam-2.overlay.jpg', 'input.jpg', 'prediction.json', 'review.json']);
    assert.notDeepEqual(await redisTraces(ingest, 'erase-me'), []);

    const answer = await erase(ingest, 'erase-me');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), { id: 'erase-me', erased: true, objects: 6, events: 5 }, 'added, waiting, active, completed, and removed by the erasure');
    assert.deepEqual(await listAll(ingest.store, folder), [], 'nothing left in storage');
    assert.deepEqual(await redisTraces(ingest, 'erase-me'), [], 'nor in Redis: job, record, review item');
    assert.equal((await status(ingest, 'erase-me')).statusCode, 404);
    const again = await erase(ingest, 'erase-me');
    assert.equal(again.statusCode, 404);
    assert.equal(again.json<{ error: { code: string } }>().error.code, 'INFERENCE_NOT_FOUND');

    assert.deepEqual(await listAll(ingest.store, neighbour), neighbourKeys, 'the neighbour in the same dt= folder is untouched');
    assert.equal(await ingest.queue.getJobState('erase-me-not'), 'completed');
    assert.equal((await new ReviewPool(ingest.redis, ingest.prefix).get('erase-me-not'))?.status, 'pending');
    assert.equal(await ingest.redis.exists(redisKeys(ingest.prefix).inference('erase-me-not')), 1, 'its record');

    // A job a worker is explaining: refused, nothing deleted, until it is done.
    const held = await post(ingest, 'held', { base64: photo.toString('base64') });
    await eventually(async () => holding.has('held'));
    const before = await listAll(ingest.store, held);
    const refused = await erase(ingest, 'held');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'INFERENCE_IN_PROGRESS');
    assert.equal(refused.headers['retry-after'], '5');
    assert.deepEqual(await listAll(ingest.store, held), before, 'nothing deleted');
    assert.equal(await ingest.queue.getJobState('held'), 'active');
    assert.equal((await new ReviewPool(ingest.redis, ingest.prefix).get('held'))?.status, 'pending');
    holding.get('held')?.();
    await eventually(async () => (await ingest.queue.getJobState('held')) === 'completed');
    assert.equal((await erase(ingest, 'held')).statusCode, 200, 'erased once it is done');
    assert.deepEqual(await redisTraces(ingest, 'held'), []);

    const metrics = (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^gradcam_ingest_erasures_total 2$/m);
    assert.match(metrics, /^gradcam_ingest_http_requests_total\{route="\/v1\/inferences\/:id",status="409"\} 1$/m);
  } finally {
    await worker.close();
    await closeConnection(connection);
    await ingest.close();
  }
});

test("the queue's event stream keeps no entry naming an erased inference (a completed one's result, a failed one's reason, the bare id of each step); other inferences' entries stay", async () => {
  const ingest = await fsIngest();
  const connection = createWorkerConnection(server.url, { onError: () => undefined });
  const reason = (patient: number) => `IMAGE_UNSUPPORTED_FORMAT: s3://captures-bucket/uploads/patient-${patient}.jpg is not an image`;
  const worker = new Worker<ExplainJob>(
    ingest.queue.name,
    async (job) => {
      if (job.data.inferenceId.startsWith('unreadable')) throw new UnrecoverableError(reason(job.data.inferenceId === 'unreadable' ? 7 : 8));
      await explainAsTheWorkerWould(ingest, job.data);
      return { manifestKey: `${job.data.folder}manifest.json` };
    },
    { connection, prefix: ingest.prefix, concurrency: 4 },
  );
  const events = ingest.queue.toKey('events');
  try {
    const ids = ['explained', 'explained-2', 'unreadable', 'unreadable-2'];
    for (const id of ids) await post(ingest, id, { base64: photo.toString('base64') });
    const settled = async (id: string) => ['completed', 'failed'].includes(await ingest.queue.getJobState(id));
    await eventually(async () => (await Promise.all(ids.map(settled))).every(Boolean));
    assert.equal(await ingest.queue.getJobState('unreadable'), 'failed');
    const completed = (await streamEntriesNaming(ingest, events, 'explained')).find((entry) => entry.includes('"completed"'));
    assert.ok(completed?.includes('manifest.json'), `its result in the stream: ${completed}`);
    const failed = (await streamEntriesNaming(ingest, events, 'unreadable')).find((entry) => entry.includes('"failed"'));
    assert.ok(failed?.includes('patient-7.jpg'), `its reason in the stream: ${failed}`);
    const others = await Promise.all(['explained-2', 'unreadable-2'].map((id) => streamEntriesNaming(ingest, events, id)));

    for (const id of ['explained', 'unreadable']) {
      const before = await streamEntriesNaming(ingest, events, id);
      const answer = await erase(ingest, id);
      assert.equal(answer.statusCode, 200, answer.body);
      // Its 'removed' event, written by the erasure, goes too.
      assert.equal(answer.json<Erasure>().events, before.length + 1, `${id}: ${before.join('\n')}`);
      assert.deepEqual(await streamEntriesNaming(ingest, events, id), [], `no entry names ${id}`);
      assert.deepEqual(await redisTraces(ingest, id), []);
    }
    const stream = (await ingest.redis.xrange(events, '-', '+')).map(([, fields]) => fields.join(' '));
    assert.ok(!stream.some((fields) => fields.includes('patient-7.jpg') || fields.includes('/explained/')), 'neither the reason nor the folder left');
    assert.ok(stream.some((fields) => fields.includes('patient-8.jpg')) && stream.some((fields) => fields.includes('/explained-2/')), "the others' are");
    assert.deepEqual(await Promise.all(['explained-2', 'unreadable-2'].map((id) => streamEntriesNaming(ingest, events, id))), others, "the others' entries stay, as they were");
  } finally {
    await worker.close();
    await closeConnection(connection);
    await ingest.close();
  }
});

test("an erasure failing at the event stream (Redis down after the rest was deleted) leaves the id found, and a retry deletes its entries", async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'stream-failed', { base64: photo.toString('base64') });
    await explainAsTheWorkerWould(ingest, { inferenceId: 'stream-failed', folder });
    const events = ingest.queue.toKey('events');
    const named = (await streamEntriesNaming(ingest, events, 'stream-failed')).length;
    assert.ok(named > 0);
    let failures = 1;
    const deps = eraseDeps(ingest, { purgeJobEvents: (id) => (failures-- > 0 ? Promise.reject(new Error('Redis down')) : purgeJobEvents(ingest.queue, id)) });
    await assert.rejects(eraseInference(deps, 'stream-failed', tokenFingerprint(testEraseToken)), /Redis down/);
    assert.deepEqual(await listAll(ingest.store, folder), [], 'its folder is gone');
    assert.equal(await ingest.queue.getJob('stream-failed'), undefined, 'its job is gone');
    assert.equal((await streamEntriesNaming(ingest, events, 'stream-failed')).length, named + 1, 'its entries and the removal are not');

    const retried = await eraseInference(deps, 'stream-failed', tokenFingerprint(testEraseToken));
    assert.deepEqual(retried, { id: 'stream-failed', erased: true, objects: 0, events: named + 1 });
    assert.deepEqual(await redisTraces(ingest, 'stream-failed'), []);
    assert.equal((await erase(ingest, 'stream-failed')).statusCode, 404);
  } finally {
    await ingest.close();
  }
});

test('on S3: a queued inference whose image was sent by reference is erased, the referenced image kept and named', async () => {
  const ingest = await s3Ingest();
  try {
    const metrics = (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^gradcam_ingest_erasures_total 0$/m, 'at 0 from the start');
    await ingest.store.put('uploads/patient-7.jpg', photo, { contentType: 'image/jpeg' });
    const uri = 's3://captures-bucket/uploads/patient-7.jpg';
    const folder = await post(ingest, 'referenced', { uri });
    const neighbour = await post(ingest, 'referenced-2', { uri });
    await explainAsTheWorkerWould(ingest, { inferenceId: 'referenced', folder });
    assert.equal(await ingest.queue.getJobState('referenced'), 'waiting');
    const neighbourKeys = await listAll(ingest.store, neighbour);

    const answer = await erase(ingest, 'referenced');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), { id: 'referenced', erased: true, objects: 5, events: 3, keptReferencedImage: uri }, 'added, waiting, removed');
    assert.deepEqual(ingest.erased, [answer.json()], 'told once (main.ts logs it)');
    assert.deepEqual(await listAll(ingest.store, folder), []);
    assert.deepEqual(await redisTraces(ingest, 'referenced'), []);
    assert.equal(await ingest.store.exists('uploads/patient-7.jpg'), true, "the client's own image is not deleted");
    assert.equal((await listAll(ingest.store, 'team-a/captures/_erasures/')).length, 1, 'its erasure recorded under the prefix');
    assert.deepEqual(await listAll(ingest.store, neighbour), neighbourKeys);
    assert.equal(await ingest.queue.getJobState('referenced-2'), 'waiting');
    assert.equal((await erase(ingest, 'referenced')).statusCode, 404);
    assert.equal((await ingest.app.inject({ method: 'DELETE', url: '/v1/inferences/referenced' })).statusCode, 401, 'the bearer token is asked');
  } finally {
    await ingest.close();
  }
});

test('an inference known only by its job (never recorded: 503 ACCEPT_INCOMPLETE) whose erasure fails part-way is still found, and a retry finishes it', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'half-accepted', { base64: photo.toString('base64') });
    await explainAsTheWorkerWould(ingest, { inferenceId: 'half-accepted', folder });
    // As an attempt answered ACCEPT_INCOMPLETE leaves it: the job and the folder, no record.
    await ingest.redis.del(redisKeys(ingest.prefix).inference('half-accepted'));
    assert.equal((await status(ingest, 'half-accepted')).statusCode, 200, 'found by its job');

    // Storage fails at the first delete, after the job is gone (a disk error, an S3 outage).
    const deps = eraseDeps(ingest, { store: storeFailingFirstDelete(ingest) });
    await assert.rejects(eraseInference(deps, 'half-accepted', tokenFingerprint(testEraseToken)), /storage down/);
    assert.equal(await ingest.queue.getJob('half-accepted'), undefined, 'its job is gone');
    assert.notDeepEqual(await listAll(ingest.store, folder), [], 'its folder is not');

    const retried = await eraseInference(deps, 'half-accepted', tokenFingerprint(testEraseToken));
    assert.equal(retried.erased, true);
    assert.deepEqual(await listAll(ingest.store, folder), [], 'the retry finished it');
    assert.equal((await theOneErasureRecord(ingest)).inferenceId, 'half-accepted');
    assert.deepEqual(await redisTraces(ingest, 'half-accepted'), []);
    assert.equal((await erase(ingest, 'half-accepted')).statusCode, 404);
  } finally {
    await ingest.close();
  }
});

test('an inference known only by its job while a retry of its accept holds a claim on the id: an erasure failing part-way still leaves it found, and a retry finishes it', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'claimed-again', { base64: photo.toString('base64') });
    await explainAsTheWorkerWould(ingest, { inferenceId: 'claimed-again', folder });
    // As an attempt answered ACCEPT_INCOMPLETE leaves it (the job and the folder, no record), and
    // its client's retry has claimed the id: the claim stands where the record would be.
    await ingest.redis.del(redisKeys(ingest.prefix).inference('claimed-again'));
    const index = new InferenceIndex(ingest.redis, ingest.prefix, indexEntryTtlSeconds);
    const claimAgain = async () => {
      const [claim] = await index.claim('retrying-request', ['claimed-again']);
      assert.ok(claim?.state === 'claimed' && claim.job, 'the claim found the job');
      return claim.job;
    };
    // An erasure arriving while the retry holds its claim is refused: the retry is accepting it.
    await claimAgain();
    const refused = await erase(ingest, 'claimed-again');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(await ingest.queue.getJobState('claimed-again'), 'waiting', 'nothing deleted');
    await index.release('retrying-request', ['claimed-again']);

    // The retry claims the id once the erasure has looked it up (found by its job alone).
    let job: ExplainJob | undefined;
    const wired = eraseDeps(ingest, { index, store: storeFailingFirstDelete(ingest) });
    const deps: EraseDeps = {
      ...wired,
      jobState: async (id) => {
        job ??= await claimAgain();
        return wired.jobState(id);
      },
    };
    await assert.rejects(eraseInference(deps, 'claimed-again', tokenFingerprint(testEraseToken)), /storage down/);
    assert.ok(job);
    assert.equal(await ingest.queue.getJob('claimed-again'), undefined, 'its job is gone');
    assert.notDeepEqual(await listAll(ingest.store, folder), [], 'its folder is not');
    // The retrying accept learns that the id was accepted (a duplicate) and writes nothing; were it
    // to fail too (the same storage outage), it would give its claim back.
    const [hold] = await index.confirm('retrying-request', [{ id: 'claimed-again', acceptedAt: job.acceptedAt }]);
    assert.equal(hold?.state, 'accepted');
    await index.release('retrying-request', ['claimed-again']);

    const retried = await eraseInference(deps, 'claimed-again', tokenFingerprint(testEraseToken));
    assert.equal(retried.erased, true);
    assert.deepEqual(await listAll(ingest.store, folder), [], 'the retry finished it');
    assert.deepEqual(await redisTraces(ingest, 'claimed-again'), []);
    assert.equal((await erase(ingest, 'claimed-again')).statusCode, 404);
  } finally {
    await ingest.close();
  }
});

/**
 * Accepts `id` as an ingest process killed between its storage writes and its enqueue leaves it:
 * its inline image and prediction.json stored, no job, no record, its claim (50 ms here, a
 * minute in production) left to lapse. Resolves its folder once the claim has lapsed.
 */
async function killedAfterStoring(ingest: Ingest, id: string): Promise<string> {
  let reached!: () => void;
  const atEnqueue = new Promise<void>((resolve) => (reached = resolve));
  const deps: AcceptDeps = {
    store: ingest.store,
    index: new InferenceIndex(ingest.redis, ingest.prefix, indexEntryTtlSeconds, 50),
    enqueue: () => (reached(), new Promise<void>(() => undefined)),
    removeStrandedJobs: (candidates) => removeStrandedJobs(ingest.queue, candidates),
    servedModels: async () => ({ announced: { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' }, live: new Map() }),
    policy: parseCapturePolicy('all'),
    storagePrefix: 'captures',
    references: { bucket: 'local', prefixes: [] },
  };
  void acceptRecords(deps, [{ id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } as InferenceRecord], 'killed-request');
  await atEnqueue;
  while ((await ingest.redis.get(redisKeys(ingest.prefix).inference(id))) !== null) await new Promise((resolve) => setTimeout(resolve, 5));
  const [folder] = (await listAll(ingest.store, 'captures/')).filter((key) => key.includes(`/${id}/`)).map((key) => key.slice(0, key.lastIndexOf('/') + 1));
  assert.ok(folder !== undefined, 'the killed attempt stored the id');
  return folder;
}

test('an id whose accept was killed after storing (never queued nor recorded; its client gave up) is erased: the folder its attempt wrote goes, and nothing of it is left in Redis', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await killedAfterStoring(ingest, 'killed-1');
    assert.deepEqual((await listAll(ingest.store, folder)).map((key) => key.slice(folder.length)), ['input.jpg', 'prediction.json']);
    assert.equal((await status(ingest, 'killed-1')).statusCode, 404, 'GET: nothing was accepted');

    const answer = await erase(ingest, 'killed-1');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), { id: 'killed-1', erased: true, objects: 2, events: 0 });
    assert.deepEqual(await listAll(ingest.store, folder), [], 'the client\'s image is gone');
    assert.equal((await theOneErasureRecord(ingest)).folder, folder);
    assert.deepEqual(await redisTraces(ingest, 'killed-1'), [], 'its pending folder and the erasure\'s claim are gone');
    assert.equal((await erase(ingest, 'killed-1')).statusCode, 404);
  } finally {
    await ingest.close();
  }
});

test('a known id whose pending folder names another folder than its record (an attempt that stored elsewhere and never recorded) has both folders erased', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'two-folders', { base64: photo.toString('base64') });
    const other = folder.replace(/dt=\d{4}-\d{2}-\d{2}/, 'dt=2020-01-01');
    assert.notEqual(other, folder);
    await ingest.store.put(`${other}input.jpg`, photo, { contentType: 'image/jpeg' });
    await ingest.store.put(`${other}prediction.json`, Buffer.from('{}'), { contentType: 'application/json' });
    await ingest.redis.set(redisKeys(ingest.prefix).pendingFolder('two-folders'), JSON.stringify({ folder: other, model: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', acceptedAt: Date.parse('2020-01-01T12:00:00Z'), holder: 'an-earlier-attempt' }));
    const answer = await erase(ingest, 'two-folders');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal(answer.json<Erasure>().objects, 4);
    assert.deepEqual(await listAll(ingest.store, folder), []);
    assert.deepEqual(await listAll(ingest.store, other), []);
    assert.deepEqual(await redisTraces(ingest, 'two-folders'), []);
  } finally {
    await ingest.close();
  }
});

test('an accept of such an id arriving while its erasure deletes is refused 409 (the erasure holds a claim), and once the erasure is done it is accepted afresh', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await killedAfterStoring(ingest, 'killed-2');
    let during: Awaited<ReturnType<FastifyInstance['inject']>> | undefined;
    const deps = eraseDeps(ingest, {
      purgeJobEvents: async (id) => {
        during = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } });
        return purgeJobEvents(ingest.queue, id);
      },
    });
    const erased = await eraseInference(deps, 'killed-2', tokenFingerprint(testEraseToken));
    assert.deepEqual([erased.erased, erased.objects], [true, 2]);
    assert.equal(during?.statusCode, 409, during?.body);
    assert.equal(during?.json<{ error: { code: string } }>().error.code, 'INFERENCE_IN_PROGRESS');
    assert.deepEqual(await listAll(ingest.store, folder), []);
    assert.deepEqual(await redisTraces(ingest, 'killed-2'), []);
    const accepted = await post(ingest, 'killed-2', { base64: photo.toString('base64') });
    assert.deepEqual((await listAll(ingest.store, accepted)).map((key) => key.slice(accepted.length)), ['input.jpg', 'prediction.json']);
  } finally {
    await ingest.close();
  }
});

test('an erasure of such an id whose claim Redis ran only after the erasure gave up on it (a command timeout) gives the claim back: its retry and the id\'s accepts are not refused for the rest of the minute', async () => {
  const ingest = await fsIngest();
  // The erasure's own connection, with a short command timeout; Redis paused for writes (EVAL
  // included) just before its claim, longer than that timeout.
  const connection = createProducerConnection(server.url, { onError: () => undefined, commandTimeoutMs: 300 });
  const pauser = createProducerConnection(server.url, { onError: () => undefined });
  try {
    await Promise.all([connectionReady(connection), connectionReady(pauser)]);
    const folder = await killedAfterStoring(ingest, 'timed-out-1');
    class PausedAtClaim extends InferenceIndex {
      override async claim(...args: Parameters<InferenceIndex['claim']>) {
        await pauser.call('CLIENT', 'PAUSE', '2000', 'WRITE');
        return super.claim(...args);
      }
    }
    const deps = eraseDeps(ingest, { index: new PausedAtClaim(connection, ingest.prefix, indexEntryTtlSeconds) });
    await assert.rejects(eraseInference(deps, 'timed-out-1', tokenFingerprint(testEraseToken)), /claim/);
    const key = redisKeys(ingest.prefix).inference('timed-out-1');
    // Once the pause is over the claim runs (it took the pending folder on); a read on the erasure's
    // connection comes after whatever that connection sent before it.
    await eventually(async () => ((await ingest.redis.get(redisKeys(ingest.prefix).pendingFolder('timed-out-1'))) ?? '').includes('"holder":"erasure-'));
    await connection.get(key);
    assert.equal(await ingest.redis.get(key), null, 'no claim left standing');
    const answer = await erase(ingest, 'timed-out-1');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.equal(answer.json<Erasure>().objects, 2);
    assert.deepEqual(await listAll(ingest.store, folder), []);
  } finally {
    await closeConnection(pauser);
    await closeConnection(connection);
    await ingest.close();
  }
});

test('a DELETE while the id is being accepted (its claim stands, prediction.json not yet written) is refused 409 INFERENCE_IN_PROGRESS with Retry-After, nothing deleted; once the accept completes, the DELETE erases it', async () => {
  // The accept stalls at its prediction.json, after its inline image (a slow storage write).
  let resume!: () => void;
  const stalled = new Promise<void>((resolve) => (resume = resolve));
  let reached!: () => void;
  const writing = new Promise<void>((resolve) => (reached = resolve));
  const ingest = await fsIngest(undefined, (store) =>
    Object.create(store, {
      put: { value: async (...args: Parameters<BlobStore['put']>) => (args[0].endsWith('/prediction.json') && (reached(), await stalled), store.put(...args)) },
    }) as BlobStore,
  );
  try {
    const accepting = ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: 'being-accepted', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } });
    await writing;
    const claimKey = redisKeys(ingest.prefix).inference('being-accepted');
    const claim = await ingest.redis.get(claimKey);
    assert.ok(claim?.startsWith('claim:'), `the accept holds its claim: ${claim}`);
    const storedBefore = await listAll(ingest.store, 'captures/');
    assert.equal(storedBefore.length, 1, `its inline image: ${storedBefore.join(', ')}`);

    const refused = await erase(ingest, 'being-accepted');
    assert.equal(refused.statusCode, 409, refused.body);
    const { error } = refused.json<{ error: { code: string; message: string } }>();
    assert.equal(error.code, 'INFERENCE_IN_PROGRESS');
    assert.match(error.message, /being accepted by another request right now; nothing was erased, retry/);
    assert.match(error.message, /lapses within (60|59) s/, 'a claim lasts a minute');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(await ingest.redis.get(claimKey), claim, 'the claim stands');
    assert.deepEqual(await listAll(ingest.store, 'captures/'), storedBefore, 'nothing deleted');
    assert.deepEqual(await listAll(ingest.store, 'captures/_erasures/'), [], 'no erasure recorded');
    // GET still answers 404 while the accept is in flight: nothing is accepted yet (it may fail).
    assert.equal((await status(ingest, 'being-accepted')).statusCode, 404);

    resume();
    const accepted = await accepting;
    assert.equal(accepted.statusCode, 202, accepted.body);
    const folder = (await ingest.queue.getJob('being-accepted'))?.data.folder as string;
    const erased = await erase(ingest, 'being-accepted');
    assert.equal(erased.statusCode, 200, erased.body);
    assert.equal(erased.json<Erasure>().objects, 2, 'input.jpg and prediction.json');
    assert.deepEqual(await listAll(ingest.store, folder), []);
    assert.deepEqual(await redisTraces(ingest, 'being-accepted'), []);
    const metrics = (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^gradcam_ingest_http_requests_total\{route="\/v1\/inferences\/:id",status="409"\} 1$/m);
  } finally {
    resume();
    await ingest.close();
  }
});

test('erasure takes an erase token (GRADCAM_ERASE_TOKENS): an API token is refused 403 ERASURE_NOT_ALLOWED with nothing deleted; an erase token accepts no record; the erasure leaves a record of itself with no content and no token', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'audited', { base64: photo.toString('base64') });
    await explainAsTheWorkerWould(ingest, { inferenceId: 'audited', folder });
    const keys = await listAll(ingest.store, folder);

    const refused = await erase(ingest, 'audited', auth);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'ERASURE_NOT_ALLOWED');
    assert.match(refused.json<{ error: { message: string } }>().error.message, /GRADCAM_ERASE_TOKENS/);
    assert.deepEqual(await listAll(ingest.store, folder), keys, 'nothing deleted');
    assert.equal(await ingest.queue.getJobState('audited'), 'waiting');
    assert.equal((await new ReviewPool(ingest.redis, ingest.prefix).get('audited'))?.status, 'pending');
    assert.equal((await status(ingest, 'audited')).statusCode, 200, 'still known');
    assert.deepEqual(await listAll(ingest.store, 'captures/_erasures/'), [], 'no erasure recorded');
    assert.equal((await erase(ingest, 'audited', { authorization: 'Bearer not-a-token-0123456789' })).statusCode, 401);
    // An erase token is not a producer's: it takes no other route.
    const posted = await ingest.app.inject({ method: 'POST', url: '/v1/inferences', headers: eraseAuth, payload: { id: 'by-eraser', model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } } });
    assert.equal(posted.statusCode, 401);
    assert.equal((await status(ingest, 'audited', eraseAuth)).statusCode, 401);

    const erasedAt = Date.now();
    const answer = await erase(ingest, 'audited');
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(await listAll(ingest.store, folder), []);
    const [recordKey, ...others] = await listAll(ingest.store, 'captures/_erasures/');
    assert.deepEqual(others, [], 'one record');
    assert.ok(recordKey);
    const text = (await ingest.store.get(recordKey)).toString('utf8');
    const record = erasureRecordSchema.parse(JSON.parse(text));
    assert.equal(recordKey, `captures/_erasures/dt=${record.erasedAt.slice(0, 10)}/audited.json`, 'outside the folder, under the day it was erased');
    assert.deepEqual({ ...record, erasedAt: undefined }, {
      schemaVersion: 1, inferenceId: 'audited', model: 'nsfw-mobilenet-v2', modelVersion: 'nsfwjs-4.4.0', folder, objects: keys.length, erasedAt: undefined, erasedBy: tokenFingerprint(testEraseToken),
    });
    assert.ok(Date.parse(record.erasedAt) >= erasedAt - 1000 && Date.parse(record.erasedAt) <= Date.now());
    assert.ok(!text.includes(testEraseToken) && !text.includes(testEraseToken.slice(0, 16)), 'not the token, nor a part of it');
    for (const content of ['Neutral', 'base64', 'sheep', 'input.jpg']) assert.ok(!text.includes(content), `no content: ${content}`);
    assert.equal((await erase(ingest, 'audited')).statusCode, 404);
    assert.deepEqual(await listAll(ingest.store, 'captures/_erasures/'), [recordKey], 'kept once');
  } finally {
    await ingest.close();
  }
});

test('a 401 on DELETE (no bearer, an unknown one) names the token it wants: an erase token, from GRADCAM_ERASE_TOKENS or, on the local stack, its erase-token file; the code stays UNAUTHORIZED', async () => {
  const ingest = await fsIngest();
  try {
    for (const headers of [{}, { authorization: 'Bearer not-a-token-0123456789' }, { authorization: 'Basic abc' }]) {
      const refused = await erase(ingest, 'anything', headers);
      assert.equal(refused.statusCode, 401, refused.body);
      const { code, message } = refused.json<{ error: { code: string; message: string } }>().error;
      assert.equal(code, 'UNAUTHORIZED');
      assert.match(message, /with an erase token from GRADCAM_ERASE_TOKENS/);
      // As the API token's hint: only "on the local stack", where gradcam up keeps one, also when GRADCAM_STATE_DIR moved its state folder.
      assert.match(message, /\(on the local stack, the erase token npm start printed, kept in erase-token in its state folder: \.gradcam\/erase-token unless GRADCAM_STATE_DIR names another\)/);
      assert.doesNotMatch(message, /api-token/, 'not the API token: it cannot erase');
    }
    // An API token alone is told the same file.
    const forbidden = await erase(ingest, 'anything', auth);
    assert.equal(forbidden.statusCode, 403, forbidden.body);
    assert.match(forbidden.json<{ error: { message: string } }>().error.message, /^an API token cannot erase: send an erase token from GRADCAM_ERASE_TOKENS \(on the local stack, .*\.gradcam\/erase-token/);
  } finally {
    await ingest.close();
  }
});

test('a DELETE whose client says Content-Type: application/json on every request (an empty body declared JSON) erases as one without the header; a JSON body is still read and refused as before', async () => {
  const ingest = await fsIngest();
  try {
    const folder = await post(ingest, 'json-header', { base64: photo.toString('base64') });
    // Python requests sends Content-Length: 0 with a DELETE without data; a session's headers add the type.
    const answer = await ingest.app.inject({ method: 'DELETE', url: '/v1/inferences/json-header', headers: { ...eraseAuth, 'content-type': 'application/json', 'content-length': '0' }, payload: '' });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(await listAll(ingest.store, folder), []);
    assert.equal((await status(ingest, 'json-header')).statusCode, 404);
    const malformed = await ingest.app.inject({ method: 'DELETE', url: '/v1/inferences/json-header', headers: { ...eraseAuth, 'content-type': 'application/json' }, payload: '{' });
    assert.equal(malformed.statusCode, 400, malformed.body);
    assert.equal(malformed.json<{ error: { code: string } }>().error.code, 'REQUEST_INVALID');
  } finally {
    await ingest.close();
  }
});

test('with GRADCAM_ERASE_TOKENS unset, erasure is disabled: 403 ERASURE_DISABLED naming the variable, nothing deleted', async () => {
  const ingest = await fsIngest([]);
  try {
    const folder = await post(ingest, 'kept', { base64: photo.toString('base64') });
    const keys = await listAll(ingest.store, folder);
    const refused = await erase(ingest, 'kept', auth);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'ERASURE_DISABLED');
    assert.match(refused.json<{ error: { message: string } }>().error.message, /GRADCAM_ERASE_TOKENS is not set/);
    assert.deepEqual(await listAll(ingest.store, folder), keys, 'nothing deleted');
    assert.equal((await status(ingest, 'kept')).statusCode, 200);
    assert.equal((await erase(ingest, 'kept', {})).statusCode, 401, 'no token: not told more');
    const metrics = (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^gradcam_ingest_http_requests_total\{route="\/v1\/inferences\/:id",status="403"\} 1$/m);
  } finally {
    await ingest.close();
  }
});

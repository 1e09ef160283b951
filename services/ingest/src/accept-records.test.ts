import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { parseCapturePolicy } from '@gradcam/config';
import { type ExplainJob, type InferenceRecord, predictionDocumentSchema, predictionFileName } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { type ExplainQueue, QueueUnavailableError, closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs, removeStrandedJobs } from '@gradcam/queue';
import { FsBlobStore, StorageError, listAll } from '@gradcam/storage';
import type { Redis } from 'ioredis';
import { type AcceptDeps, type RecordOutcome, acceptRecords } from './accept-records.ts';
import { InferenceIndex } from './inference-index.ts';
import { CommitFailsOnce } from './test-support/commit-fails.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

let server: RedisServer;
let redis: Redis;
let dir: string;
before(async () => {
  server = await startRedisServer();
  redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
  dir = await mkdtemp(join(tmpdir(), 'gradcam-accept-'));
});
after(async () => {
  await closeConnection(redis);
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});


/** An index that counts the claim calls: one per acceptRecords call, whatever the batch repeats. */
class CountingIndex extends InferenceIndex {
  claims = 0;
  override async claim(holder: string, ids: readonly string[]) {
    this.claims += 1;
    return super.claim(holder, ids);
  }
}

/** An index that counts the confirm calls that reach Redis. */
class ConfirmCountingIndex extends InferenceIndex {
  confirms = 0;
  override async confirm(...args: Parameters<InferenceIndex['confirm']>) {
    this.confirms += 1;
    return super.confirm(...args);
  }
}

/** A local store whose next put of a prediction.json fails as an outage would (once `failNext` is set). */
class PredictionPutFailsOnce extends FsBlobStore {
  failNext = false;
  override async put(...args: Parameters<FsBlobStore['put']>): Promise<void> {
    if (this.failNext && args[0].endsWith(`/${predictionFileName}`)) {
      this.failNext = false;
      throw new StorageError('STORAGE_UNAVAILABLE', `writing ${args[0]}: the store stopped answering`, { transient: true, key: args[0] });
    }
    return super.put(...args);
  }
}

function setUp(options: { enqueue?: (queue: ExplainQueue, jobs: readonly ExplainJob[]) => Promise<void>; index?: (prefix: string) => InferenceIndex } = {}) {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = options.index?.(prefix) ?? new InferenceIndex(redis, prefix, 3600);
  const store = new PredictionPutFailsOnce({ rootDir: join(dir, prefix), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-signing-secret-123' });
  const world = { version: 'v1', clock: Date.parse('2026-11-26T23:59:59.500Z') };
  const deps: AcceptDeps = {
    store,
    index,
    enqueue: (jobs) => (options.enqueue ?? (async (q, j) => void (await enqueueExplainJobs(q, j))))(queue, jobs),
    removeStrandedJobs: (ids) => removeStrandedJobs(queue, ids),
    servedModels: async () => ({ announced: { m: world.version }, live: new Map([['m', [world.version]]]) }),
    policy: parseCapturePolicy('all'),
    storagePrefix: 'captures',
    references: { bucket: 'local', prefixes: [] },
    now: () => world.clock,
  };
  return { deps, queue, index, store, world };
}

/** The HTTP request's id, which a 500 INTERNAL names. */
const requestId = 'test-request-id';
/** The one answer every record of a request got (the app answers such a request with it as a whole, as a single record's POST with its own). */
async function answeredAlike(request: Promise<readonly RecordOutcome[]>): Promise<string> {
  const codes = new Set((await request).map((o) => ('error' in o ? o.error.code : o.status)));
  assert.equal(codes.size, 1, [...codes].join(', '));
  return [...codes][0] as string;
}
/** A 1×1 PNG. */
const onePixelPng = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const record = (id: string): InferenceRecord => ({ id, model: { name: 'm' }, image: { base64: photo.toString('base64') } }) as InferenceRecord;

/** The job, the index entry and the stored prediction.json of an id all name one folder, version and time. */
async function assertOneFolder(t: ReturnType<typeof setUp>, id: string, folder: string): Promise<void> {
  const job = await t.queue.getJob(id);
  const entry = await t.index.get(id);
  assert.equal(job?.data.folder, folder);
  assert.equal(entry?.folder, folder, 'the index entry names the job\'s folder');
  const prediction = predictionDocumentSchema.parse(JSON.parse((await t.store.get(`${folder}${predictionFileName}`)).toString()));
  assert.equal(prediction.model.version, job?.data.model.version);
  assert.equal(Date.parse(prediction.acceptedAt), job?.data.acceptedAt);
  assert.equal(entry?.acceptedAt, job?.data.acceptedAt);
}

test('a retry after ACCEPT_INCOMPLETE across midnight and a new announced version records the folder of the job the first attempt queued', async () => {
  const t = setUp({ index: (prefix) => Object.assign(new CommitFailsOnce(redis, prefix, 3600), { failNext: true }) });
  try {
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('inc-1')], requestId)), 'ACCEPT_INCOMPLETE');
    t.world.clock += 1_000; // the UTC day has changed
    t.world.version = 'v2'; // and a new version was rolled out
    const [outcome] = await acceptRecords(t.deps, [record('inc-1')], requestId);
    assert.ok(outcome && 'status' in outcome, JSON.stringify(outcome));
    await assertOneFolder(t, 'inc-1', 'captures/m/v1/dt=2026-11-26/inc-1/');
  } finally {
    await t.queue.close();
  }
});

test('a record refused 503 because its prediction.json could not be written leaves none of its writes behind: its retry after midnight leaves the id one folder', async () => {
  const t = setUp();
  try {
    t.store.failNext = true;
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('st-1')], requestId)), 'STORAGE_UNAVAILABLE');
    assert.deepEqual(await listAll(t.store, 'captures/'), [], 'the inline image written before the failed prediction.json is gone');
    t.world.clock += 1_000; // the UTC day has changed
    const [outcome] = await acceptRecords(t.deps, [record('st-1')], requestId);
    assert.ok(outcome && 'status' in outcome, JSON.stringify(outcome));
    // The folder the refused attempt chose (its pending folder), though the day has changed.
    await assertOneFolder(t, 'st-1', 'captures/m/v1/dt=2026-11-26/st-1/');
    assert.deepEqual((await listAll(t.store, 'captures/')).sort(), ['captures/m/v1/dt=2026-11-26/st-1/input.jpg', 'captures/m/v1/dt=2026-11-26/st-1/prediction.json']);
  } finally {
    await t.queue.close();
  }
});

/** Every object stored under captures/, sorted. */
const storedKeys = async (t: ReturnType<typeof setUp>) => (await listAll(t.store, 'captures/')).sort();

/**
 * Starts an accept of `records` that stores them and then never goes on, as an ingest process
 * killed (SIGKILL, OOM, power) between its storage writes and its enqueue: its add never returns,
 * so nothing after it (the commit, a release, a cleanup) runs. Its claim is a short one (50 ms)
 * and is left to lapse, as a dead process's does after a minute. Resolves once it has lapsed.
 */
async function killedAfterStoring(t: ReturnType<typeof setUp>, records: readonly InferenceRecord[]): Promise<void> {
  let reached!: () => void;
  const atEnqueue = new Promise<void>((r) => (reached = r));
  const index = new InferenceIndex(redis, t.queue.opts.prefix as string, 3600, 50);
  void acceptRecords({ ...t.deps, index, enqueue: () => (reached(), new Promise<void>(() => undefined)) }, records, requestId);
  await atEnqueue;
  for (const { id } of records) while ((await redis.get(`${t.queue.opts.prefix as string}:inference:${id}`)) !== null) await setTimeout(5);
}

test('an attempt killed after storing and before queueing: its retry after midnight UTC and a new announced version stores into the folder it wrote, so the id has one folder', async () => {
  const t = setUp();
  try {
    await killedAfterStoring(t, [record('killed-1')]);
    const first = await storedKeys(t);
    assert.deepEqual(first, ['captures/m/v1/dt=2026-11-26/killed-1/input.jpg', 'captures/m/v1/dt=2026-11-26/killed-1/prediction.json'], 'stored, never queued nor recorded');
    assert.equal(await t.queue.getJob('killed-1'), undefined);
    t.world.clock += 1_000; // the UTC day has changed
    t.world.version = 'v2'; // and a new version was rolled out
    const [outcome] = await acceptRecords(t.deps, [record('killed-1')], requestId);
    assert.deepEqual(outcome, { id: 'killed-1', status: 'queued', duplicate: false, reason: 'all', model: 'm' });
    await assertOneFolder(t, 'killed-1', 'captures/m/v1/dt=2026-11-26/killed-1/');
    assert.deepEqual(await storedKeys(t), first, 'nothing stored in another folder');
  } finally {
    await t.queue.close();
  }
});

test('a retry after ACCEPT_INCOMPLETE whose add never ran (Redis lost before it) stores into the folder the first attempt wrote, across midnight and a new announced version', async () => {
  let failNext = true;
  const t = setUp({
    enqueue: async (queue, jobs) => {
      if (!failNext) return void (await enqueueExplainJobs(queue, jobs));
      failNext = false;
      throw new QueueUnavailableError('could not add explain jobs', { cause: new Error('Connection is closed.') });
    },
  });
  try {
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('unqueued-1')], requestId)), 'ACCEPT_INCOMPLETE');
    assert.equal(await t.queue.getJob('unqueued-1'), undefined, 'no job names the folder');
    const first = await storedKeys(t);
    assert.equal(first.length, 2, first.join(', '));
    t.world.clock += 1_000;
    t.world.version = 'v2';
    const [outcome] = await acceptRecords(t.deps, [record('unqueued-1')], requestId);
    assert.ok(outcome && 'status' in outcome && !outcome.duplicate, JSON.stringify(outcome));
    await assertOneFolder(t, 'unqueued-1', 'captures/m/v1/dt=2026-11-26/unqueued-1/');
    assert.deepEqual(await storedKeys(t), first);
  } finally {
    await t.queue.close();
  }
});

test('a record not sampled for explanation (no job) answered ACCEPT_INCOMPLETE: its retry after midnight records the folder the first attempt wrote', async () => {
  const t = setUp({ index: (prefix) => Object.assign(new CommitFailsOnce(redis, prefix, 3600), { failNext: true }) });
  const deps: AcceptDeps = { ...t.deps, policy: parseCapturePolicy('none') };
  try {
    assert.equal(await answeredAlike(acceptRecords(deps, [record('skip-1')], requestId)), 'ACCEPT_INCOMPLETE');
    const first = await storedKeys(t);
    t.world.clock += 1_000;
    const [outcome] = await acceptRecords(deps, [record('skip-1')], requestId);
    assert.deepEqual(outcome, { id: 'skip-1', status: 'skipped', duplicate: false, reason: 'not-sampled', model: 'm' });
    assert.equal((await t.index.get('skip-1'))?.folder, 'captures/m/v1/dt=2026-11-26/skip-1/');
    assert.deepEqual(await storedKeys(t), first);
  } finally {
    await t.queue.close();
  }
});

test('the retry of a killed attempt sending its image in another format (PNG after JPEG) leaves the folder the new image and its prediction.json, not the earlier image beside them', async () => {
  const t = setUp();
  const png = { ...record('killed-png'), image: { base64: onePixelPng } } as InferenceRecord;
  try {
    await killedAfterStoring(t, [record('killed-png')]);
    t.world.clock += 1_000;
    const [outcome] = await acceptRecords(t.deps, [png], requestId);
    assert.ok(outcome && 'status' in outcome && !outcome.duplicate, JSON.stringify(outcome));
    await assertOneFolder(t, 'killed-png', 'captures/m/v1/dt=2026-11-26/killed-png/');
    assert.deepEqual(await storedKeys(t), ['captures/m/v1/dt=2026-11-26/killed-png/input.png', 'captures/m/v1/dt=2026-11-26/killed-png/prediction.json']);
  } finally {
    await t.queue.close();
  }
});

test('the retry of a killed attempt naming another model version than the one it stored under uses its own folder, and deletes what the killed attempt stored', async () => {
  const t = setUp();
  try {
    await killedAfterStoring(t, [record('killed-v')]);
    t.world.version = 'v2';
    const [outcome] = await acceptRecords(t.deps, [{ ...record('killed-v'), model: { name: 'm', version: 'v2' } } as InferenceRecord], requestId);
    assert.ok(outcome && 'status' in outcome && !outcome.duplicate, JSON.stringify(outcome));
    await assertOneFolder(t, 'killed-v', 'captures/m/v2/dt=2026-11-26/killed-v/');
    assert.deepEqual(await storedKeys(t), ['captures/m/v2/dt=2026-11-26/killed-v/input.jpg', 'captures/m/v2/dt=2026-11-26/killed-v/prediction.json']);
  } finally {
    await t.queue.close();
  }
});

test('a new record\'s pending folder is written by its claim (no other round trip before storage) and deleted with its record; one refused before storage leaves none, one refused in storage keeps it for its retry', async () => {
  const t = setUp({ index: (prefix) => new ConfirmCountingIndex(redis, prefix, 3600) });
  const pendingKey = (id: string) => `${t.queue.opts.prefix as string}:pending-folder:${id}`;
  try {
    const outcomes = await acceptRecords(t.deps, [record('hot-1'), { ...record('hot-2'), image: { uri: 's3://local/missing.jpg' } } as InferenceRecord, { ...record('hot-3'), image: { base64: Buffer.from('not an image').toString('base64') } } as InferenceRecord], requestId);
    assert.deepEqual(outcomes.map((o) => ('status' in o ? o.status : o.error.code)), ['queued', 'IMAGE_NOT_FOUND', 'IMAGE_UNSUPPORTED_FORMAT']);
    assert.equal((t.index as ConfirmCountingIndex).confirms, 0, 'the claim wrote the pending folders');
    assert.equal(await redis.exists(pendingKey('hot-1'), pendingKey('hot-2'), pendingKey('hot-3')), 0, 'recorded, or refused before storage');
    t.store.failNext = true;
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('hot-4')], requestId)), 'STORAGE_UNAVAILABLE');
    assert.equal(JSON.parse((await redis.get(pendingKey('hot-4'))) as string).folder, 'captures/m/v1/dt=2026-11-26/hot-4/');
  } finally {
    await t.queue.close();
  }
});

test('a retry after an enqueue that reached Redis but failed records the folder of the job it left', async () => {
  let failNext = true;
  const t = setUp({
    enqueue: async (queue, jobs) => {
      await enqueueExplainJobs(queue, jobs);
      if (failNext) {
        failNext = false;
        throw new Error('the answer to the add was lost');
      }
    },
  });
  try {
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('enq-1')], requestId)), 'INTERNAL', 'an error that is not QUEUE_UNAVAILABLE');
    t.world.clock += 1_000;
    const [outcome] = await acceptRecords(t.deps, [record('enq-1')], requestId);
    assert.ok(outcome && 'status' in outcome, JSON.stringify(outcome));
    await assertOneFolder(t, 'enq-1', 'captures/m/v1/dt=2026-11-26/enq-1/');
  } finally {
    await t.queue.close();
  }
});

test('an add that failed partway (its job stored, never queued) is cleaned up by its own attempt, and the retry queues the job: it was answered "queued" and never explained', async () => {
  let breakNext = true;
  const t = setUp({
    enqueue: async (queue, jobs) => {
      // BullMQ's add script stores the job's hash, then fails pushing the id onto a wait list
      // that is not a list; Redis does not undo the hash. The wait list is mended afterwards.
      const wait = `${queue.opts.prefix as string}:explain:wait`;
      if (!breakNext) return void (await enqueueExplainJobs(queue, jobs));
      breakNext = false;
      await redis.set(wait, 'not a list');
      try {
        await enqueueExplainJobs(queue, jobs);
      } finally {
        await redis.del(wait);
      }
    },
  });
  try {
    assert.equal(await answeredAlike(acceptRecords(t.deps, [record('strand-1'), record('strand-2')], requestId)), 'ACCEPT_INCOMPLETE');
    // The failed add left each job's hash in no state; the attempt removed them while it held the ids.
    assert.equal(await t.queue.getJobState('strand-1'), 'unknown');
    assert.equal(await redis.exists(`${t.queue.opts.prefix as string}:explain:strand-1`, `${t.queue.opts.prefix as string}:explain:strand-2`), 0);
    t.world.clock += 1_000;
    const outcomes = await acceptRecords(t.deps, [record('strand-1'), record('strand-2'), record('fresh-1')], requestId);
    assert.deepEqual(outcomes.map((o) => ('status' in o ? [o.status, o.duplicate] : o.error.code)), [['queued', false], ['queued', false], ['queued', false]]);
    for (const id of ['strand-1', 'strand-2', 'fresh-1']) assert.equal(await t.queue.getJobState(id), 'waiting', `${id} is queued for a worker`);
    // No job was left to name a folder: the first attempt's pending folder names it, where its prediction.json is.
    await assertOneFolder(t, 'strand-1', 'captures/m/v1/dt=2026-11-26/strand-1/');
    assert.deepEqual(await storedKeys(t), ['strand-1', 'strand-2', 'fresh-1'].flatMap((id) => {
      const day = id === 'fresh-1' ? '27' : '26';
      return [`captures/m/v1/dt=2026-11-${day}/${id}/input.jpg`, `captures/m/v1/dt=2026-11-${day}/${id}/prediction.json`];
    }).sort(), 'one folder per id');
    const again = await acceptRecords(t.deps, [record('strand-1')], requestId);
    assert.deepEqual(again.map((o) => 'status' in o && o.duplicate), [true]);
    assert.equal((await t.queue.getJobs(['waiting'])).filter((j) => j.id === 'strand-1').length, 1, 'one job');
  } finally {
    await t.queue.close();
  }
});

test('an unexpected error preparing one record fails that record alone: 500 INTERNAL, reported, its claim released; its neighbours are accepted', async () => {
  const t = setUp();
  const reported: unknown[] = [];
  // A model name the record schema would refuse, announced all the same: inferenceFolder throws a
  // ZodError, as a bug letting a bad record through would.
  const deps: AcceptDeps = {
    ...t.deps,
    servedModels: async () => ({ announced: { m: 'v1', 'm/x': 'v1' }, live: new Map() }),
    onServerError: (error, id) => reported.push([error, id]),
  };
  try {
    const odd = { ...record('odd-1'), model: { name: 'm/x' } } as InferenceRecord;
    const outcomes = await acceptRecords(deps, [record('ok-1'), odd, record('ok-2')], requestId);
    assert.deepEqual(outcomes.map((o) => ('status' in o ? o.status : o.error.code)), ['queued', 'INTERNAL', 'queued']);
    const [, refused] = outcomes;
    assert.ok(refused && 'error' in refused);
    assert.equal(refused.error.status, 500);
    assert.equal(refused.error.message, `an unexpected error occurred; the service's log has the details under request id ${requestId}`, 'never the error\'s own words');
    assert.deepEqual(refused.error.details, { requestId });
    assert.equal(reported.length, 1, 'the bug reaches the logs');
    assert.deepEqual((reported[0] as unknown[])[1], requestId, 'under the id the answer names');
    assert.ok(await t.queue.getJob('ok-1'));
    assert.ok(await t.queue.getJob('ok-2'));
    assert.equal(await t.queue.getJob('odd-1'), undefined);
    const [retried] = await acceptRecords(deps, [record('odd-1')], requestId);
    assert.ok(retried && 'status' in retried, `the claim was released: ${JSON.stringify(retried)}`);
  } finally {
    await t.queue.close();
  }
});

test('a reference the URI parser cannot read is 422 IMAGE_URI_INVALID for its record (whatever let it past the schema)', async () => {
  const t = setUp();
  try {
    const unreadable = { ...record('unreadable-1'), image: { uri: 'https://local/a.jpg' } } as InferenceRecord;
    const [outcome] = await acceptRecords(t.deps, [unreadable], requestId);
    assert.ok(outcome && 'error' in outcome, JSON.stringify(outcome));
    assert.deepEqual([outcome.error.status, outcome.error.code], [422, 'IMAGE_URI_INVALID']);
    assert.match(outcome.error.message, /not s3:\/\/bucket\/key/);
  } finally {
    await t.queue.close();
  }
});

test('1,000 copies of one id, each naming a missing image: each is refused on its own, in one pass (one claim, one HEAD per key), and the claim is released', async () => {
  const t = setUp({ index: (prefix) => new CountingIndex(redis, prefix, 3600) });
  const heads: string[] = [];
  const deps: AcceptDeps = { ...t.deps, store: { parallelism: t.store.parallelism, put: (...a) => t.store.put(...a), head: (key) => (heads.push(key), t.store.head(key)), delete: (key) => t.store.delete(key) } };
  try {
    const copies = Array.from({ length: 1000 }, (_, i) => ({ ...record('many-1'), image: { uri: `s3://local/missing/${i}.jpg` } }) as InferenceRecord);
    const outcomes = await acceptRecords(deps, copies, requestId);
    assert.equal(outcomes.length, 1000);
    outcomes.forEach((outcome, i) => {
      assert.ok('error' in outcome, JSON.stringify(outcome));
      assert.deepEqual([outcome.error.code, outcome.error.message], ['IMAGE_NOT_FOUND', `no object at s3://local/missing/${i}.jpg`], 'each copy is judged itself');
    });
    assert.equal((t.index as CountingIndex).claims, 1, 'the copies are judged under one claim, not one round each');
    assert.equal(heads.length, 1000);
    assert.equal(new Set(heads).size, 1000);
    const [retried] = await acceptRecords(deps, [record('many-1')], requestId);
    assert.ok(retried && 'status' in retried && !retried.duplicate, `the claim was released: ${JSON.stringify(retried)}`);
  } finally {
    await t.queue.close();
  }
});

test('repeats of an id: copies refused for their own content are answered so, the first copy that is not decides the rest: duplicates of it, or 409 ID_REUSED where their content differs', async () => {
  const t = setUp({ index: (prefix) => new CountingIndex(redis, prefix, 3600) });
  const heads: string[] = [];
  const deps: AcceptDeps = { ...t.deps, store: { parallelism: t.store.parallelism, put: (...a) => t.store.put(...a), head: (key) => (heads.push(key), t.store.head(key)), delete: (key) => t.store.delete(key) } };
  await t.store.put('uploads/here.jpg', photo, { contentType: 'image/jpeg' });
  const byUri = (id: string, uri: string) => ({ ...record(id), image: { uri } }) as InferenceRecord;
  const unserved = (id: string) => ({ ...record(id), model: { name: 'nope' } }) as InferenceRecord;
  const later = (id: string) => ({ ...record(id), model: { name: 'm', version: 'v9' } }) as InferenceRecord;
  try {
    const outcomes = await acceptRecords(deps, [
      byUri('rep-1', 's3://local/missing/a.jpg'),
      unserved('rep-1'),
      later('rep-2'),
      byUri('rep-1', 's3://local/uploads/here.jpg'),
      byUri('rep-1', 's3://local/missing/b.jpg'),
      record('rep-2'),
      unserved('rep-1'),
      byUri('rep-1', 's3://local/uploads/here.jpg'),
    ], requestId);
    assert.deepEqual(
      outcomes.map((o) => ('status' in o ? [o.id, o.status, o.duplicate, o.model] : [o.id, o.error.code])),
      [
        ['rep-1', 'IMAGE_NOT_FOUND'],
        ['rep-1', 'MODEL_NOT_SERVED'],
        ['rep-2', 'MODEL_VERSION_NOT_SERVED'],
        ['rep-1', 'queued', false, 'm'],
        // Another image (and below another model too) than the copy accepted: not its duplicate.
        ['rep-1', 'ID_REUSED'],
        ['rep-2', 'MODEL_VERSION_NOT_SERVED'],
        ['rep-1', 'ID_REUSED'],
        ['rep-1', 'queued', true, undefined],
      ],
    );
    assert.equal((t.index as CountingIndex).claims, 1);
    assert.deepEqual(heads.sort(), ['missing/a.jpg', 'missing/b.jpg', 'uploads/here.jpg'], 'each key once');
    const job = await t.queue.getJob('rep-1');
    const here = await t.store.head('uploads/here.jpg');
    assert.deepEqual(job?.data.image, { uri: 's3://local/uploads/here.jpg', bytes: here?.bytes, etag: here?.etag });
    assert.equal(await t.queue.getJob('rep-2'), undefined);
    const [retried] = await acceptRecords(deps, [record('rep-2')], requestId);
    assert.ok(retried && 'status' in retried && !retried.duplicate, `rep-2's claim was released: ${JSON.stringify(retried)}`);
  } finally {
    await t.queue.close();
  }
});

test('an attempt whose claim lapsed in a storage stall, committing after another request recorded the id, answers the duplicate (it is accepted), not 409 "another request is accepting it"', async () => {
  const t = setUp({ index: (prefix) => new InferenceIndex(redis, prefix, 3600, 50) });
  const patient = new InferenceIndex(redis, t.queue.opts.prefix as string, 3600);
  const { store, resume, reached } = stallingFirst(t, 2); // both writes
  try {
    const first = acceptRecords({ ...t.deps, store }, [record('lapsed-1')], requestId);
    await claimLapsed(t, 'lapsed-1', reached);
    t.world.clock += 60_000;
    const [second] = await acceptRecords({ ...t.deps, index: patient }, [record('lapsed-1')], requestId);
    assert.ok(second && 'status' in second && !second.duplicate, JSON.stringify(second));
    resume();
    const [outcome] = await first;
    assert.deepEqual(outcome, { id: 'lapsed-1', status: 'queued', duplicate: true, reason: 'all' });
    assert.equal((await t.queue.getJobs(['waiting'])).filter((job) => job.id === 'lapsed-1').length, 1);
  } finally {
    await t.queue.close();
  }
});

/**
 * Stalls the store's first `count` writes until `resume` is called: a storage stall. `reached`
 * resolves once a write waits in it (the request has claimed the id and written its pending folder).
 */
function stallingFirst(t: ReturnType<typeof setUp>, count: number) {
  let resume!: () => void;
  const stalled = new Promise<void>((r) => (resume = r));
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  let writes = 0;
  const store = { parallelism: 1, head: (key: string) => t.store.head(key), delete: (key: string) => t.store.delete(key), put: async (...args: Parameters<FsBlobStore['put']>) => (writes++ < count && (arrived(), await stalled), t.store.put(...args)) };
  return { store, resume, reached };
}

/**
 * Resolves once the request is stalled in storage (`reached`) and the id's claim has lapsed: not
 * at the first lapse seen, which on a loaded machine may come before the request confirmed its
 * claim and wrote its pending folder, taking the id again.
 */
async function claimLapsed(t: ReturnType<typeof setUp>, id: string, reached: Promise<void>): Promise<void> {
  await reached;
  while ((await redis.get(`${t.queue.opts.prefix as string}:inference:${id}`)) !== null) await setTimeout(5);
}

test('an attempt whose claim lapsed in a storage stall adds no job once the job of the request that accepted the id since completed and was removed: the id is not explained twice', async () => {
  const t = setUp({ index: (prefix) => new InferenceIndex(redis, prefix, 3600, 50) });
  const patient = new InferenceIndex(redis, t.queue.opts.prefix as string, 3600);
  const { store, resume, reached } = stallingFirst(t, 1);
  try {
    const first = acceptRecords({ ...t.deps, store }, [record('lapsed-2')], requestId);
    await claimLapsed(t, 'lapsed-2', reached);
    const [second] = await acceptRecords({ ...t.deps, index: patient }, [record('lapsed-2')], requestId);
    assert.ok(second && 'status' in second && !second.duplicate, JSON.stringify(second));
    await (await t.queue.getJob('lapsed-2'))?.remove(); // explained, then removed as retention does
    resume();
    assert.deepEqual(await first, [{ id: 'lapsed-2', status: 'queued', duplicate: true, reason: 'all' }]);
    assert.equal(await t.queue.getJob('lapsed-2'), undefined, 'no second job');
  } finally {
    await t.queue.close();
  }
});

test('an attempt whose claim lapsed in a storage stall writes nothing more into the folder of the request that accepted the id since: its prediction.json stays that request\'s', async () => {
  const t = setUp({ index: (prefix) => new InferenceIndex(redis, prefix, 3600, 50) });
  const patient = new InferenceIndex(redis, t.queue.opts.prefix as string, 3600);
  const { store, resume, reached } = stallingFirst(t, 1); // the inline image, written before prediction.json
  const sent = (by: string) => ({ ...record('lapsed-3'), metadata: { sentBy: by } }) as InferenceRecord;
  try {
    const first = acceptRecords({ ...t.deps, store }, [sent('first')], requestId);
    await claimLapsed(t, 'lapsed-3', reached);
    const [second] = await acceptRecords({ ...t.deps, index: patient }, [sent('second')], requestId);
    assert.ok(second && 'status' in second && !second.duplicate, JSON.stringify(second));
    resume();
    // The attempt that accepted the id since sent other metadata: the stalled one is refused, not its duplicate.
    const [stalled] = await first;
    assert.deepEqual(stalled && 'error' in stalled && [stalled.error.code, stalled.error.details], ['ID_REUSED', { acceptedAt: new Date(t.world.clock).toISOString(), differs: ['metadata'] }]);
    const folder = (await patient.get('lapsed-3'))?.folder as string;
    const document = predictionDocumentSchema.parse(JSON.parse((await t.store.get(`${folder}${predictionFileName}`)).toString('utf8')));
    assert.deepEqual(document.metadata, { sentBy: 'second' });
    assert.equal(Date.parse(document.acceptedAt), (await t.queue.getJob('lapsed-3'))?.data.acceptedAt);
  } finally {
    await t.queue.close();
  }
});


test('an attempt whose claim lapsed in a storage stall, finding the id unclaimed but queued since by a request answered ACCEPT_INCOMPLETE, writes nothing into that job\'s folder: its prediction.json stays the one the job was queued with', async () => {
  const t = setUp({ index: (prefix) => new InferenceIndex(redis, prefix, 3600, 50) });
  const failing = Object.assign(new CommitFailsOnce(redis, t.queue.opts.prefix as string, 3600), { failNext: true });
  const { store, resume, reached } = stallingFirst(t, 1); // the inline image, written before prediction.json
  const sent = (by: string) => ({ ...record('lapsed-4'), metadata: { sentBy: by } }) as InferenceRecord;
  try {
    const first = acceptRecords({ ...t.deps, store }, [sent('first')], requestId);
    await claimLapsed(t, 'lapsed-4', reached);
    t.world.clock += 100; // the same day: the same folder
    // The second request stores, queues the job, fails to record the id and gives its claim back.
    assert.equal(await answeredAlike(acceptRecords({ ...t.deps, index: failing }, [sent('second')], requestId)), 'ACCEPT_INCOMPLETE');
    resume();
    assert.equal(await answeredAlike(first), 'INFERENCE_IN_PROGRESS');
    const job = await t.queue.getJob('lapsed-4');
    const document = predictionDocumentSchema.parse(JSON.parse((await t.store.get(`${job?.data.folder as string}${predictionFileName}`)).toString('utf8')));
    assert.deepEqual(document.metadata, { sentBy: 'second' });
    assert.equal(Date.parse(document.acceptedAt), job?.data.acceptedAt);
    // The first request's record, sent again, is not the one the job was queued with: 409 ID_REUSED, nothing written.
    const [reused] = await acceptRecords(t.deps, [sent('first')], requestId);
    assert.ok(reused && 'error' in reused && reused.error.code === 'ID_REUSED', JSON.stringify(reused));
    assert.deepEqual(JSON.parse((await t.store.get(`${job?.data.folder as string}${predictionFileName}`)).toString('utf8')).metadata, { sentBy: 'second' });
    // A retry of the job's record completes the id with the job's folder, time and decision.
    const [retried] = await acceptRecords(t.deps, [sent('second')], requestId);
    assert.ok(retried && 'status' in retried && !retried.duplicate, JSON.stringify(retried));
    await assertOneFolder(t, 'lapsed-4', job?.data.folder as string);
  } finally {
    await t.queue.close();
  }
});

test('a retry after ACCEPT_INCOMPLETE with other content is 409 ID_REUSED (the queued job\'s fingerprint): prediction.json and the image stay those the job was queued with; a copy with the same content after it is accepted', async () => {
  const t = setUp({ index: (prefix) => Object.assign(new CommitFailsOnce(redis, prefix, 3600), { failNext: true }) });
  try {
    const first = { ...record('inc-reused'), prediction: { classIndex: 1, scores: [0.2, 0.8] } } as InferenceRecord;
    assert.equal(await answeredAlike(acceptRecords(t.deps, [first], requestId)), 'ACCEPT_INCOMPLETE');
    const folder = (await t.queue.getJob('inc-reused'))?.data.folder as string;
    const stored = (await t.store.get(`${folder}${predictionFileName}`)).toString();
    const other = { ...first, prediction: { classIndex: 0, scores: [0.9, 0.1] } } as InferenceRecord;
    const [reused, same] = await acceptRecords(t.deps, [other, first], requestId);
    assert.ok(reused && 'error' in reused, JSON.stringify(reused));
    assert.equal(reused.error.code, 'ID_REUSED');
    assert.deepEqual(reused.error.details, { acceptedAt: new Date((await t.queue.getJob('inc-reused'))?.data.acceptedAt as number).toISOString(), differs: ['prediction'] });
    assert.equal((await t.store.get(`${folder}${predictionFileName}`)).toString(), stored, 'prediction.json is the one the job was queued with');
    assert.ok(same && 'status' in same && !same.duplicate, JSON.stringify(same));
    await assertOneFolder(t, 'inc-reused', folder);
    const [again] = await acceptRecords(t.deps, [other], requestId);
    assert.ok(again && 'error' in again && again.error.code === 'ID_REUSED', JSON.stringify(again));
  } finally {
    await t.queue.close();
  }
});

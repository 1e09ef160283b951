import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCapturePolicy } from '@gradcam/config';
import { type InferenceRecord, redisKeys } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { type ExplainQueue, QueueUnavailableError, type StrandedJobCandidate, closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs, removeStrandedJobs } from '@gradcam/queue';
import { FsBlobStore, StorageError } from '@gradcam/storage';
import type { Redis } from 'ioredis';
import { type AcceptDeps, type IngestStore, type RecordOutcome, acceptRecords } from './accept-records.ts';
import { CommitFailsOnce } from './test-support/commit-fails.ts';

// What a retry checks after a failed enqueue, and what it must not: BullMQ's add stores a job's
// hash before it queues the id, so an add that fails partway leaves a job a later add ignores.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

let server: RedisServer;
let redis: Redis;
let dir: string;
before(async () => {
  server = await startRedisServer();
  redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
  dir = await mkdtemp(join(tmpdir(), 'gradcam-failed-enqueue-'));
});
after(async () => {
  await closeConnection(redis);
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});


interface Rig {
  readonly deps: AcceptDeps;
  readonly queue: ExplainQueue;
  readonly index: CommitFailsOnce;
  readonly store: FsBlobStore;
  readonly world: { clock: number; breakNextAdd: boolean; checksFail: boolean | 'timeout' };
  /** The ids of each removeStrandedJobs call. */
  readonly checked: string[][];
}

function setUp(options: { claimTtlMs?: number; prefix?: string } = {}): Rig {
  const prefix = options.prefix ?? `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new CommitFailsOnce(redis, prefix, 3600, options.claimTtlMs);
  const store = new FsBlobStore({ rootDir: join(dir, prefix), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-signing-secret-123' });
  const world: Rig['world'] = { clock: Date.parse('2026-11-26T23:59:59.500Z'), breakNextAdd: false, checksFail: false };
  const checked: string[][] = [];
  const deps: AcceptDeps = {
    store,
    index,
    enqueue: async (jobs) => {
      if (!world.breakNextAdd) return void (await enqueueExplainJobs(queue, jobs));
      world.breakNextAdd = false;
      await failingPartway(queue, () => enqueueExplainJobs(queue, jobs));
    },
    removeStrandedJobs: async (candidates: readonly StrandedJobCandidate[]) => {
      if (candidates.length === 0) return [];
      checked.push(candidates.map((c) => c.id));
      // As when Redis went away just after the failed add: the attempt cannot clean up.
      if (world.checksFail === 'timeout') throw new QueueUnavailableError('could not check the jobs of earlier attempts', { cause: new Error('Command timed out') });
      if (world.checksFail) throw new Error('connection lost');
      return removeStrandedJobs(queue, candidates);
    },
    servedModels: async () => ({ announced: { m: 'v1' }, live: new Map([['m', ['v1']]]) }),
    policy: parseCapturePolicy('all'),
    storagePrefix: 'captures',
    references: { bucket: 'local', prefixes: [] },
    now: () => world.clock,
  };
  return { deps, queue, index, store, world, checked };
}

/**
 * Runs an add with the wait list made a string, as the prober broke it: BullMQ's add script stores
 * each job's hash, then fails at the push. The list (its backlog included) is put back after.
 */
async function failingPartway(queue: ExplainQueue, add: () => Promise<unknown>): Promise<void> {
  const wait = queue.toKey('wait');
  const had = (await redis.exists(wait)) === 1;
  if (had) await redis.rename(wait, `${wait}:aside`);
  await redis.set(wait, 'not a list');
  try {
    await add();
  } finally {
    await redis.del(wait);
    if (had) await redis.rename(`${wait}:aside`, wait);
  }
}

const requestId = 'test-request-id';
/** The one answer every record of a request got (the app answers such a request with it as a whole, as a single record's POST with its own). */
async function answeredAlike(request: Promise<readonly RecordOutcome[]>): Promise<string> {
  const codes = new Set((await request).map((o) => ('error' in o ? o.error.code : o.status)));
  assert.equal(codes.size, 1, [...codes].join(', '));
  return [...codes][0] as string;
}
const imageUri = 's3://local/uploads/photo.jpg';
/** A record naming the one stored image: a batch of 1,000 stores 1,000 prediction.json and no image. */
const record = (id: string): InferenceRecord => ({ id, model: { name: 'm' }, image: { uri: imageUri } }) as InferenceRecord;
const answers = (outcomes: readonly RecordOutcome[]) => outcomes.map((o) => ('status' in o ? `${o.status}${o.duplicate ? ' duplicate' : ''}` : o.error.code));
const jobKey = (rig: Rig, id: string) => redisKeys(rig.queue.opts.prefix as string).explainJob(id);
const keysOf = (rig: Rig) => redisKeys(rig.queue.opts.prefix as string);

/**
 * The rig's store with its writes held until `resume` is called: a storage stall. `reached`
 * resolves once a write waits in it: the request has claimed its ids and written their pending
 * folders (see HeldClaims.pend), and is in storage.
 */
function stalling(rig: Rig): { store: IngestStore; resume: () => void; reached: Promise<void> } {
  let resume!: () => void;
  const stalled = new Promise<void>((r) => (resume = r));
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const store: IngestStore = { parallelism: 1, head: (key) => rig.store.head(key), put: async (...args) => (arrived(), await stalled, rig.store.put(...args)), delete: (key) => rig.store.delete(key) };
  return { store, resume, reached };
}

/**
 * Once the request is stalled in storage (`reached`), deletes the id's claim: the claim lost (a
 * failover to a replica that missed it, an eviction) while its request stalls. Not a TTL lapse:
 * a request whose claim may have lapsed confirms it before going on (HeldClaims), and whether it
 * then confirms or not depends on how long the machine took, so a lapse would test whichever path
 * the load chose; a deleted claim, inside its TTL, leaves only the check under a claim not its own.
 */
async function claimTakenAndLost(rig: Rig, id: string, reached: Promise<void>): Promise<void> {
  await reached;
  assert.ok((await redis.get(keysOf(rig).inference(id)))?.startsWith('claim:'), 'the request holds its claim');
  await redis.del(keysOf(rig).inference(id));
}

/** Resolves once the id's inference key holds a claim. */
async function claimTaken(rig: Rig, id: string): Promise<void> {
  while (!(await redis.get(keysOf(rig).inference(id)))?.startsWith('claim:')) await sleep(5);
}

/** Strands the ids' jobs as an attempt whose add failed partway and which could not clean up; leaves them marked. */
async function strandedByAFailedAttempt(rig: Rig, ids: readonly string[]): Promise<void> {
  [rig.world.breakNextAdd, rig.world.checksFail] = [true, true];
  assert.equal(await answeredAlike(acceptRecords(rig.deps, ids.map(record), requestId)), 'ACCEPT_INCOMPLETE');
  rig.world.checksFail = false;
  for (const id of ids) {
    assert.equal(await rig.queue.getJobState(id), 'unknown', `${id}: stored, in no state`);
    assert.equal(await redis.exists(keysOf(rig).enqueueFailed(id)), 1, `${id}: marked`);
  }
  rig.checked.length = 0;
}

/** LPOS calls Redis has run since `CONFIG RESETSTAT` (a state check scans the wait list with it, from within its script). */
async function lposCalls(): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_lpos:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** 100,000 ids on the wait list, as a backlog of waiting jobs looks to LPOS (the jobs themselves are not needed). */
async function backlog(queue: ExplainQueue, size = 100_000): Promise<void> {
  const wait = queue.toKey('wait');
  for (let start = 0; start < size; start += 10_000) {
    await redis.lpush(wait, ...Array.from({ length: Math.min(10_000, size - start) }, (_, i) => `backlog-${start + i}`));
  }
}

test('a retry checks only the ids whose earlier enqueue failed: not an id whose commit failed (ACCEPT_INCOMPLETE), nor a new one; the checked job keeps its folder', async () => {
  const rig = setUp();
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    [rig.world.breakNextAdd, rig.world.checksFail] = [true, true];
    assert.equal(await answeredAlike(acceptRecords(rig.deps, [record('strand-1'), record('strand-2')], requestId)), 'ACCEPT_INCOMPLETE');
    rig.world.checksFail = false;
    assert.equal(await redis.exists(jobKey(rig, 'strand-1'), jobKey(rig, 'strand-2')), 2, 'left stored, not queued: the attempt could not clean up');
    rig.index.failNext = true;
    assert.equal(await answeredAlike(acceptRecords(rig.deps, [record('inc-1')], requestId)), 'ACCEPT_INCOMPLETE');

    rig.checked.length = 0;
    rig.world.clock += 1_000; // past midnight UTC
    const outcomes = await acceptRecords(rig.deps, [record('strand-1'), record('inc-1'), record('fresh-1'), record('strand-2')], requestId);
    assert.deepEqual(answers(outcomes), ['queued', 'queued', 'queued', 'queued']);
    assert.deepEqual(rig.checked.map((ids) => ids.toSorted()), [['strand-1', 'strand-2']]);
    for (const id of ['strand-1', 'inc-1', 'fresh-1', 'strand-2']) assert.equal(await rig.queue.getJobState(id), 'waiting', id);
    const job = await rig.queue.getJob('strand-1');
    assert.equal(job?.data.folder, 'captures/m/v1/dt=2026-11-26/strand-1/', 'the earlier job\'s folder, where its prediction.json is');
    assert.equal((await rig.index.get('strand-1'))?.folder, job?.data.folder);
  } finally {
    await rig.queue.close();
  }
});

test('an enqueue that got no answer (its add may have run) only marks its ids, scanning nothing while Redis may be overloaded; the retry checks them and finds the job queued', async () => {
  const rig = setUp();
  let timeOutNext = true;
  const deps: AcceptDeps = {
    ...rig.deps,
    enqueue: async (jobs) => {
      await rig.deps.enqueue(jobs);
      if (timeOutNext) {
        timeOutNext = false;
        throw new QueueUnavailableError('could not add explain jobs: Command timed out');
      }
    },
  };
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    assert.equal(await answeredAlike(acceptRecords(deps, [record('late-1')], requestId)), 'ACCEPT_INCOMPLETE');
    assert.deepEqual(rig.checked, [], 'no check after a timeout');
    assert.equal(await redis.exists(redisKeys(rig.queue.opts.prefix as string).enqueueFailed('late-1')), 1);
    assert.deepEqual(answers(await acceptRecords(deps, [record('late-1')], requestId)), ['queued']);
    assert.deepEqual(rig.checked, [['late-1']]);
    assert.equal(await rig.queue.getJobState('late-1'), 'waiting');
  } finally {
    await rig.queue.close();
  }
});

test('a batch of 1,000 retried after 503 ACCEPT_INCOMPLETE, with 100,000 jobs waiting: accepted, and no state check is made (not one LPOS)', async () => {
  const rig = setUp();
  const ids = Array.from({ length: 1000 }, (_, i) => `incomplete-${i}`);
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    await backlog(rig.queue);
    rig.index.failNext = true;
    assert.equal(await answeredAlike(acceptRecords(rig.deps, ids.map(record), requestId)), 'ACCEPT_INCOMPLETE');
    rig.checked.length = 0;
    await redis.config('RESETSTAT');
    const outcomes = await acceptRecords(rig.deps, ids.map(record), requestId);
    assert.deepEqual(new Set(answers(outcomes)), new Set(['queued']));
    assert.equal(await lposCalls(), 0, 'no wait list was scanned');
    assert.deepEqual(rig.checked.flat(), []);
    assert.equal(await redis.llen(rig.queue.toKey('wait')), 101_000, 'one job each, queued by the first attempt');
  } finally {
    await rig.queue.close();
  }
});

test('a batch of 1,000 whose enqueue failed partway, with 100,000 jobs waiting: the retry checks each (one scan of the wait list each, a few at a time) and queues them', async (t) => {
  const rig = setUp();
  const ids = Array.from({ length: 1000 }, (_, i) => `stranded-${i}`);
  const pinger = createProducerConnection(server.url, { onError: () => undefined });
  try {
    await connectionReady(pinger);
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    await backlog(rig.queue);
    [rig.world.breakNextAdd, rig.world.checksFail] = [true, true];
    assert.equal(await answeredAlike(acceptRecords(rig.deps, ids.map(record), requestId)), 'ACCEPT_INCOMPLETE');
    rig.world.checksFail = false;
    assert.equal(await redis.exists(...ids.map((id) => jobKey(rig, id))), 1000, 'stored, not queued');

    await redis.config('RESETSTAT');
    let slowest = 0;
    let pinging = true;
    const pings = (async () => {
      while (pinging) {
        const start = performance.now();
        await pinger.ping();
        slowest = Math.max(slowest, performance.now() - start);
      }
    })();
    const started = performance.now();
    const outcomes = await acceptRecords(rig.deps, ids.map(record), requestId).finally(() => (pinging = false));
    const took = performance.now() - started;
    await pings;
    assert.deepEqual(new Set(answers(outcomes)), new Set(['queued']));
    assert.equal(await lposCalls(), 1000, 'one scan per id whose enqueue failed');
    assert.equal(await redis.llen(rig.queue.toKey('wait')), 101_000);
    assert.equal(await rig.queue.getJobState('stranded-999'), 'waiting');
    t.diagnostic(`retry ${took.toFixed(0)} ms; slowest PING of another client meanwhile ${slowest.toFixed(1)} ms`);
  } finally {
    await closeConnection(pinger);
    await rig.queue.close();
  }
});

test('an attempt whose claim was lost removes nothing: the request that holds the id now queued its job, and it stays queued', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const first = setUp({ prefix });
  try {
    await first.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    [first.world.breakNextAdd, first.world.checksFail] = [true, true];
    assert.equal(await answeredAlike(acceptRecords(first.deps, [record('raced-1')], requestId)), 'ACCEPT_INCOMPLETE');
    first.world.checksFail = false;

    // Retry A claims the id and stalls in storage, and its claim is lost; retry B claims it,
    // removes the stranded job, queues its own and records the id.
    const a = setUp({ prefix });
    const { store: stallingStore, resume, reached } = stalling(a);
    const answerA = acceptRecords({ ...a.deps, store: stallingStore }, [record('raced-1')], requestId);
    await claimTakenAndLost(a, 'raced-1', reached);
    const b = setUp({ prefix });
    assert.deepEqual(answers(await acceptRecords(b.deps, [record('raced-1')], requestId)), ['queued']);
    assert.deepEqual(b.checked, [['raced-1']]);
    assert.equal(await first.queue.getJobState('raced-1'), 'waiting');

    resume();
    assert.deepEqual(answers(await answerA), ['INFERENCE_IN_PROGRESS'], 'A\'s claim is gone: it records nothing');
    assert.deepEqual(a.checked, [['raced-1']], 'A checked, under a claim no longer its own');
    assert.equal(await first.queue.getJobState('raced-1'), 'waiting', 'B\'s job was not removed');
    assert.equal((await first.queue.getJobs(['waiting'])).filter((job) => job.id === 'raced-1').length, 1);
    await Promise.all([a.queue.close(), b.queue.close()]);
  } finally {
    await first.queue.close();
  }
});

test('a retry whose claim was lost (during a storage stall) before it could check the earlier job adds and records nothing: 409 INFERENCE_IN_PROGRESS, and the next retry checks it and queues it', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const first = setUp({ prefix });
  const retry = setUp({ prefix });
  const again = setUp({ prefix });
  try {
    await first.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    await strandedByAFailedAttempt(first, ['lapsed-1']);

    // The retry claims the id (its job and mark found), then its storage stalls and its claim is
    // lost; nobody else claims the id meanwhile. Its check finds the claim no longer its own.
    const { store, resume, reached } = stalling(retry);
    const answer = acceptRecords({ ...retry.deps, store }, [record('lapsed-1')], requestId);
    await claimTakenAndLost(retry, 'lapsed-1', reached);
    resume();
    const [outcome] = await answer;
    assert.ok(outcome && 'error' in outcome, JSON.stringify(outcome));
    assert.equal(outcome.error.code, 'INFERENCE_IN_PROGRESS');
    assert.equal(outcome.error.retryAfter, 1);
    assert.deepEqual(retry.checked, [['lapsed-1']]);
    assert.equal(await redis.get(keysOf(retry).inference('lapsed-1')), null, 'nothing recorded: a later attempt is no duplicate');
    assert.equal(await redis.exists(keysOf(retry).enqueueFailed('lapsed-1')), 1, 'still marked');

    assert.deepEqual(answers(await acceptRecords(again.deps, [record('lapsed-1')], requestId)), ['queued']);
    assert.deepEqual(again.checked, [['lapsed-1']]);
    assert.equal(await again.queue.getJobState('lapsed-1'), 'waiting');
  } finally {
    await Promise.all([first.queue.close(), retry.queue.close(), again.queue.close()]);
  }
});

test('an attempt whose claim was lost after it was confirmed fails its add partway after another request claimed the id: that request\'s commit finds the new mark, checks the job under its claim, adds again and records it queued', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const a = setUp({ prefix });
  const b = setUp({ prefix });
  try {
    await a.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    // A claim that lapsed in a storage stall is confirmed before the add (HeldClaims), so this
    // takes a claim Redis lost after that (a failover to a replica that missed it, an eviction):
    // between A's confirm and its add, A's claim goes and B claims the id (no job, no mark) and
    // stalls in storage. A's add then fails partway (the hash stored, queued nowhere), it marks
    // the id, and its own check, under a claim no longer its own, removes nothing.
    const stallB = stalling(b);
    let answerB!: Promise<RecordOutcome[]>;
    const enqueueA = a.deps.enqueue;
    const answerA = acceptRecords(
      {
        ...a.deps,
        enqueue: async (jobs) => {
          await redis.del(keysOf(a).inference('raced-2'));
          answerB = acceptRecords({ ...b.deps, store: stallB.store }, [record('raced-2')], requestId);
          await claimTaken(b, 'raced-2');
          a.world.breakNextAdd = true;
          await enqueueA(jobs);
        },
      },
      [record('raced-2')],
      requestId,
    );
    assert.equal(await answeredAlike(answerA), 'ACCEPT_INCOMPLETE');
    assert.equal(await a.queue.getJobState('raced-2'), 'unknown');
    // B resumes: its add is ignored (the hash exists), its commit refuses the mark B never checked.
    stallB.resume();
    assert.deepEqual(answers(await answerB), ['queued']);
    assert.deepEqual(b.checked, [['raced-2']], 'B checked the job under its claim');
    assert.equal(await b.queue.getJobState('raced-2'), 'waiting', 'B\'s answer is true: the job is queued');
    assert.equal((await b.index.get('raced-2'))?.folder, (await b.queue.getJob('raced-2'))?.data.folder);
    assert.equal(await redis.exists(keysOf(b).enqueueFailed('raced-2')), 0, 'the mark went with the record');
  } finally {
    await Promise.all([a.queue.close(), b.queue.close()]);
  }
});

test('a retry that finds the earlier job locked (in no state) leaves it, adds and records nothing: 409, its claim given back; once the lock is gone the next retry queues it', async () => {
  const rig = setUp();
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    await strandedByAFailedAttempt(rig, ['locked-1']);
    await redis.set(`${jobKey(rig, 'locked-1')}:lock`, 'a-worker-token', 'PX', 60_000);
    const [outcome] = await acceptRecords(rig.deps, [record('locked-1')], requestId);
    assert.ok(outcome && 'error' in outcome, JSON.stringify(outcome));
    assert.equal(outcome.error.code, 'INFERENCE_IN_PROGRESS');
    assert.equal(await redis.get(keysOf(rig).inference('locked-1')), null, 'not recorded, its claim given back');
    await redis.del(`${jobKey(rig, 'locked-1')}:lock`);
    assert.deepEqual(answers(await acceptRecords(rig.deps, [record('locked-1')], requestId)), ['queued']);
    assert.equal(await rig.queue.getJobState('locked-1'), 'waiting');
  } finally {
    await rig.queue.close();
  }
});

test('an enqueue-failed mark is deleted when its id is recorded, not before: it outlives a retry answered ACCEPT_INCOMPLETE, not the retry that records the id', async () => {
  const rig = setUp();
  const mark = (id: string) => redis.exists(keysOf(rig).enqueueFailed(id));
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    await strandedByAFailedAttempt(rig, ['marked-1', 'marked-2']);
    rig.index.failNext = true;
    assert.equal(await answeredAlike(acceptRecords(rig.deps, [record('marked-1')], requestId)), 'ACCEPT_INCOMPLETE');
    assert.equal(await mark('marked-1'), 1, 'queued, not recorded: still marked');
    assert.deepEqual(answers(await acceptRecords(rig.deps, [record('marked-1'), record('marked-2')], requestId)), ['queued', 'queued']);
    assert.equal(await mark('marked-1'), 0);
    assert.equal(await mark('marked-2'), 0);
    for (const id of ['marked-1', 'marked-2']) assert.equal(await rig.queue.getJobState(id), 'waiting', id);
  } finally {
    await rig.queue.close();
  }
});

test('answers that tell the truth when a request cannot finish: a record already answered keeps its 409, a later round\'s failure is ACCEPT_INCOMPLETE (not "nothing was accepted"), and a job never confirmed after three rounds says so', async () => {
  const rig = setUp();
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    // A locked stranded job (409, nothing added) beside a plain record whose commit fails: the
    // whole-request "stored and queued" answer would be false for the locked one.
    await strandedByAFailedAttempt(rig, ['locked-1']);
    await redis.set(`${jobKey(rig, 'locked-1')}:lock`, 'worker-token', 'PX', 60_000);
    rig.index.failNext = true;
    const first = await acceptRecords(rig.deps, [record('locked-1'), record('plain-1')], requestId);
    assert.deepEqual(answers(first), ['INFERENCE_IN_PROGRESS', 'ACCEPT_INCOMPLETE']);
    assert.equal(await rig.queue.getJobState('locked-1'), 'unknown', 'nothing was added for it');

    // This request queued its job; an attempt at the id then marked it, and the check of round 2 fails.
    const stall = stalling(rig);
    const answer = acceptRecords({ ...rig.deps, store: stall.store }, [record('r2-1')], requestId);
    await claimTaken(rig, 'r2-1');
    await rig.index.markEnqueueFailed(['r2-1']);
    rig.world.checksFail = 'timeout';
    stall.resume();
    const [second] = await answer;
    rig.world.checksFail = false;
    assert.ok(second && 'error' in second);
    assert.equal(second.error.code, 'ACCEPT_INCOMPLETE', second.error.message);
    assert.match(second.error.message, /could not be confirmed/);

    // A new mark before every commit: after three rounds, "could not be confirmed", not "another request is accepting".
    rig.index.beforeCommit = () => rig.index.markEnqueueFailed(['r3-1']);
    const [third] = await acceptRecords(rig.deps, [record('r3-1')], requestId);
    rig.index.beforeCommit = undefined;
    assert.ok(third && 'error' in third);
    assert.equal(third.error.code, 'INFERENCE_IN_PROGRESS');
    assert.match(third.error.message, /could not be confirmed: other attempts at it kept failing/);
    assert.equal(await rig.queue.getJobState('r3-1'), 'waiting');
    assert.deepEqual(answers(await acceptRecords(rig.deps, [record('r3-1')], requestId)), ['queued'], 'a retry completes it');
  } finally {
    await rig.queue.close();
  }
});

test('a request that cannot finish answers each record for itself: a refusal keeps its 4xx, a duplicate stays a duplicate, a record whose storage failed its 503; only the records that reached the queue are told so', async () => {
  const rig = setUp();
  const missing = (id: string): InferenceRecord => ({ ...record(id), image: { uri: 's3://local/uploads/none.jpg' } }) as InferenceRecord;
  // Storage refuses the prediction.json of every id starting "down-".
  const store: IngestStore = {
    parallelism: 1,
    head: (key) => rig.store.head(key),
    delete: (key) => rig.store.delete(key),
    put: async (key, ...rest) => {
      if (key.includes('/down-')) throw new StorageError('STORAGE_UNAVAILABLE', 'storage did not answer');
      return rig.store.put(key, ...rest);
    },
  };
  const deps = { ...rig.deps, store };
  try {
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    assert.deepEqual(answers(await acceptRecords(deps, [record('old-1')], requestId)), ['queued']);

    rig.index.failNext = true;
    const committed = await acceptRecords(deps, [record('old-1'), missing('missing-1'), record('down-1'), record('new-1')], requestId);
    assert.deepEqual(answers(committed), ['queued duplicate', 'IMAGE_NOT_FOUND', 'STORAGE_UNAVAILABLE', 'ACCEPT_INCOMPLETE']);
    assert.equal(await rig.queue.getJobState('new-1'), 'waiting', 'ACCEPT_INCOMPLETE: queued, not recorded');
    assert.equal(await rig.queue.getJobState('down-1'), 'unknown');

    [rig.world.breakNextAdd, rig.world.checksFail] = [true, true];
    const added = await acceptRecords(deps, [record('old-1'), missing('missing-2'), record('down-2'), record('new-2')], requestId);
    rig.world.checksFail = false;
    assert.deepEqual(answers(added), ['queued duplicate', 'IMAGE_NOT_FOUND', 'STORAGE_UNAVAILABLE', 'ACCEPT_INCOMPLETE']);

    // Every record failing alike is still one answer for the whole request, given by the app; here each record has it.
    rig.index.failNext = true;
    assert.deepEqual(answers(await acceptRecords(deps, [record('new-3'), record('new-4')], requestId)), ['ACCEPT_INCOMPLETE', 'ACCEPT_INCOMPLETE']);
  } finally {
    await rig.queue.close();
  }
});

test('an enqueue that Redis did not answer in time (writes paused) is not answered "nothing was accepted": the record is stored and its job may be queued, and it was', async () => {
  const rig = setUp();
  const pauser = createProducerConnection(server.url, { onError: () => undefined });
  try {
    await connectionReady(pauser);
    await rig.store.put('uploads/photo.jpg', photo, { contentType: 'image/jpeg' });
    const stall = stalling(rig);
    const answer = acceptRecords({ ...rig.deps, store: stall.store }, [record('paused-1')], requestId);
    await stall.reached; // its claim and pending folder written, before its add
    // Longer than the producer's 2 s command timeout: the add waits in Redis, then runs.
    await pauser.call('CLIENT', 'PAUSE', '2500', 'WRITE');
    stall.resume();
    const [outcome] = await answer;
    assert.ok(outcome && 'error' in outcome, JSON.stringify(outcome));
    assert.equal(outcome.error.status, 503);
    assert.doesNotMatch(outcome.error.message, /nothing was accepted/);
    assert.equal(outcome.error.code, 'ACCEPT_INCOMPLETE', outcome.error.message);
    assert.match(outcome.error.message, /stored/);
    while ((await rig.queue.getJobState('paused-1')) !== 'waiting') await sleep(50); // once the pause ends
    assert.deepEqual(answers(await acceptRecords(rig.deps, [record('paused-1')], requestId)), ['queued'], 'a retry completes it');
    assert.equal((await rig.queue.getJobs(['waiting'])).filter((job) => job.id === 'paused-1').length, 1);
  } finally {
    await closeConnection(pauser);
    await rig.queue.close();
  }
});


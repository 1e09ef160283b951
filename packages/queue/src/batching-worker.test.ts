import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { ExplainJob } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { type BatchJob, type BatchingWorker, type BatchingWorkerOptions, type JobFinishedEvent, createBatchingWorker } from './batching-worker.ts';
import { closeConnections, createProducerConnection, createWorkerConnection } from './connections.ts';
import { DeferJobError } from './errors/defer-job-error.ts';
import { PermanentJobError } from './errors/permanent-job-error.ts';
import { type ExplainQueue, createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { type RetryAndRetentionOptions, explainJob, maxFailedJobsKept } from './job-catalog.ts';
import { isolatingSuspectCode } from './job-failure.ts';
import type { BatchOutcome } from './micro-batcher.ts';
import { queueJobCounts, workerCount } from './queue-counts.ts';
import { countdown, eventually, explainJobFixture, randomPrefix } from './test-fixtures.ts';

// Each test waits on events (jobs finished); this only turns a hang into a failure.
const hangGuard = { timeout: 60_000 };
const hour = 3_600_000;

let redis: RedisServer;
let producer: Redis;
let workerTemplate: Redis;
before(async () => {
  redis = await startRedisServer();
  producer = createProducerConnection(redis.url, { onError: () => {} });
  workerTemplate = createWorkerConnection(redis.url, { onError: () => {} });
});
after(async () => {
  await closeConnections(producer, workerTemplate);
  await redis.stop();
});

/** The worker is generic in its result; a small one keeps these tests independent of the contract's. */
interface TestResult {
  readonly manifestKey: string;
}
const resultFor = (job: BatchJob<ExplainJob>): TestResult => ({ manifestKey: `${job.data.folder}explanation.json` });

interface Harness {
  readonly queue: ExplainQueue;
  /** The BullMQ key prefix of this harness's queue. */
  readonly prefix: string;
  readonly finished: JobFinishedEvent[];
  start(options: Partial<BatchingWorkerOptions<ExplainJob, TestResult>> & Pick<BatchingWorkerOptions<ExplainJob, TestResult>, 'processBatch'>): BatchingWorker;
}

/** A queue and workers under a fresh prefix; everything is closed when `run` ends. */
async function withHarness(jobOptions: Partial<RetryAndRetentionOptions>, run: (harness: Harness) => Promise<void>): Promise<void> {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection: producer, prefix, onError: () => {}, jobOptions });
  const workers: BatchingWorker[] = [];
  const errors: Error[] = [];
  const finished: JobFinishedEvent[] = [];
  const harness: Harness = {
    queue,
    prefix,
    finished,
    start(options) {
      const worker = createBatchingWorker<ExplainJob, TestResult>({
        job: explainJob,
        connection: workerTemplate,
        prefix,
        maxBatch: 4,
        maxWaitMs: 50,
        onError: (error) => errors.push(error),
        ...options,
        hooks: {
          ...options.hooks,
          onJobFinished: (event) => {
            finished.push(event);
            options.hooks?.onJobFinished?.(event);
          },
        },
      });
      workers.push(worker);
      return worker;
    },
  };
  try {
    await run(harness);
  } finally {
    for (const worker of workers) await worker.close();
    await queue.close();
  }
  assert.deepEqual(errors, [], 'no worker errors');
}

const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

test('batches form up to maxBatch; the maxWaitMs timer sends a partial batch', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    const jobIds = ids('b', 10);
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    const sizes: number[] = [];
    const all = countdown(jobIds.length);
    start({
      maxBatch: 4,
      maxWaitMs: 300,
      processBatch: async (jobs) => jobs.map(resultFor),
      hooks: {
        onBatchEnd: (report) => sizes.push(report.size),
        onJobFinished: () => all.tick(),
      },
    });
    await all.done;
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      10,
    );
    assert.ok(sizes.every((size) => size >= 1 && size <= 4), `batch sizes ${sizes.join(',')}`);
    assert.ok(sizes.includes(4), `a full batch formed (sizes ${sizes.join(',')})`);
    // 10 jobs cannot all be in full batches of 4: at least one partial batch was sent by the timer.
    assert.ok(sizes.some((size) => size < 4));
    const job = await queue.getJob('b-3');
    assert.deepEqual(job?.returnvalue, { manifestKey: 'mobilenet/v1/dt=2025-01-01/b-3/explanation.json' });
    assert.deepEqual(await queueJobCounts(queue), { waiting: 0, prioritized: 0, delayed: 0, active: 0, completed: 10, failed: 0, paused: 0 });
  });
});

test('never runs two processBatch calls at once, even across a steady stream of jobs', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const all = countdown(24);
    start({
      maxBatch: 3,
      maxWaitMs: 10,
      processBatch: async (jobs) => {
        inFlight++;
        calls++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(20);
        inFlight--;
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: () => all.tick() },
    });
    for (const chunk of [ids('s1', 8), ids('s2', 8), ids('s3', 8)]) {
      await enqueueExplainJobs(queue, chunk.map(explainJobFixture));
      await sleep(15);
    }
    await all.done;
    assert.equal(maxInFlight, 1);
    assert.ok(calls >= 8, 'batches never exceed maxBatch');
  });
});

test('a failing job does not fail its neighbours in the batch', hangGuard, async () => {
  await withHarness({}, async ({ queue, start, finished }) => {
    await enqueueExplainJobs(queue, ['n-0', 'n-bad', 'n-2'].map(explainJobFixture));
    const all = countdown(3);
    start({
      maxWaitMs: 200,
      processBatch: async (jobs) => jobs.map((job) => (job.id === 'n-bad' ? new PermanentJobError('IMAGE_UNDECODABLE', 'not an image') : resultFor(job))),
      hooks: { onJobFinished: () => all.tick() },
    });
    await all.done;
    assert.equal(await (await queue.getJob('n-0'))?.getState(), 'completed');
    assert.equal(await (await queue.getJob('n-2'))?.getState(), 'completed');
    const bad = await queue.getJob('n-bad');
    assert.equal(await bad?.getState(), 'failed');
    assert.equal(bad?.failedReason, 'IMAGE_UNDECODABLE: not an image');
    assert.deepEqual(finished.find((e) => e.jobId === 'n-bad'), { jobId: 'n-bad', outcome: 'failed', code: 'IMAGE_UNDECODABLE', attempts: { made: 1, max: 5 } });
  });
});

test('a deferred job goes back to the queue, no attempt counted, and another worker completes it', hangGuard, async () => {
  // Two workers on one queue, as in a rolling upgrade: "old" hands on the jobs it cannot serve.
  await withHarness({ attempts: 1 }, async ({ queue, start, finished }) => {
    const jobIds = ids('d', 6);
    const served = new Map<string, string>();
    const done = countdown(jobIds.length);
    start({
      name: 'old',
      maxWaitMs: 20,
      processBatch: async (jobs) => jobs.map((job) => (Number(job.id.slice(2)) % 2 === 0 ? new DeferJobError('MODEL_SERVED_ELSEWHERE', 'not mine', 50) : (served.set(job.id, 'old'), resultFor(job)))),
      hooks: { onJobFinished: (event) => event.outcome === 'completed' && done.tick() },
    });
    // The old worker sees every job first; the new one starts once it has handed some on.
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    await eventually(() => finished.some((e) => e.outcome === 'deferred'));
    start({
      name: 'new',
      maxWaitMs: 20,
      processBatch: async (jobs) => jobs.map((job) => (Number(job.id.slice(2)) % 2 === 0 ? (served.set(job.id, 'new'), resultFor(job)) : new DeferJobError('MODEL_SERVED_ELSEWHERE', 'not mine', 50))),
      hooks: { onJobFinished: (event) => event.outcome === 'completed' && done.tick() },
    });
    await done.done;
    assert.deepEqual(Object.fromEntries([...served].sort()), { 'd-0': 'new', 'd-1': 'old', 'd-2': 'new', 'd-3': 'old', 'd-4': 'new', 'd-5': 'old' });
    for (const id of jobIds) {
      const job = await queue.getJob(id);
      assert.equal(await job?.getState(), 'completed', id);
      // attempts: 1, so a counted attempt would have failed the job instead.
      assert.equal(job?.attemptsMade, 1, `${id}: only the completing attempt counts`);
    }
    const deferred = finished.filter((e) => e.outcome === 'deferred');
    assert.ok(deferred.length >= 3, `deferrals: ${deferred.length}`);
    assert.deepEqual(new Set(deferred.map((e) => e.code)), new Set(['MODEL_SERVED_ELSEWHERE']));
  });
});

test('permanent errors fail at once; transient ones are retried with backoff', hangGuard, async () => {
  // A 10 ms backoff instead of the catalog's 1 s: the test observes attempts, not the schedule.
  await withHarness({ attempts: 3, backoff: { type: 'fixed', delay: 10 } }, async ({ queue, start, finished }) => {
    await enqueueExplainJobs(queue, ['permanent', 'flag-permanent', 'flaky', 'broken'].map(explainJobFixture));
    const attemptsSeen = new Map<string, number[]>();
    const settled = countdown(4);
    start({
      maxBatch: 4,
      processBatch: async (jobs) =>
        jobs.map((job): BatchOutcome<TestResult> => {
          attemptsSeen.set(job.id, [...(attemptsSeen.get(job.id) ?? []), job.attempt]);
          assert.equal(job.maxAttempts, 3);
          assert.equal(job.rerun, job.attempt > 1, `${job.id} attempt ${job.attempt}: a rerun after a failed attempt`);
          switch (job.id) {
            case 'permanent':
              return new PermanentJobError('MODEL_UNKNOWN', 'no model "mobilenet"');
            case 'flag-permanent':
              return Object.assign(new Error('class index 9 out of range'), { permanent: true, code: 'CLASS_OUT_OF_RANGE' });
            case 'flaky':
              return job.attempt < 3 ? Object.assign(new Error('S3 timed out'), { code: 'TimeoutError' }) : resultFor(job);
            default:
              return new Error('always fails');
          }
        }),
      hooks: { onJobFinished: (event) => event.outcome !== 'retried' && settled.tick() },
    });
    await settled.done;
    assert.deepEqual(attemptsSeen.get('permanent'), [1]);
    assert.deepEqual(attemptsSeen.get('flag-permanent'), [1]);
    assert.deepEqual(attemptsSeen.get('flaky'), [1, 2, 3]);
    assert.deepEqual(attemptsSeen.get('broken'), [1, 2, 3]);

    const permanent = await queue.getJob('permanent');
    assert.equal(permanent?.attemptsMade, 1);
    assert.equal(permanent?.failedReason, 'MODEL_UNKNOWN: no model "mobilenet"');
    assert.equal((await queue.getJob('flag-permanent'))?.failedReason, 'CLASS_OUT_OF_RANGE: class index 9 out of range');
    assert.equal(await (await queue.getJob('flaky'))?.getState(), 'completed');
    const broken = await queue.getJob('broken');
    assert.equal(await broken?.getState(), 'failed');
    assert.equal(broken?.attemptsMade, 3);
    assert.equal(broken?.failedReason, 'JOB_FAILED: always fails');

    const outcomes = (id: string) => finished.filter((e) => e.jobId === id).map((e) => `${e.outcome}${e.code ? `:${e.code}` : ''}`);
    assert.deepEqual(outcomes('flaky'), ['retried:TIMEOUT_ERROR', 'retried:TIMEOUT_ERROR', 'completed']);
    assert.deepEqual(outcomes('broken'), ['retried:JOB_FAILED', 'retried:JOB_FAILED', 'failed:JOB_FAILED']);
    // The attempts made so far, this one included, and the most the job gets: what a log line says.
    const attempts = (id: string) => finished.filter((e) => e.jobId === id && e.outcome !== 'completed').map((e) => e.attempts);
    assert.deepEqual(attempts('broken'), [{ made: 1, max: 3 }, { made: 2, max: 3 }, { made: 3, max: 3 }]);
    assert.deepEqual(attempts('permanent'), [{ made: 1, max: 3 }]);
  });
});

test('a worker created paused takes no job until resume()', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    await enqueueExplainJobs(queue, ids('p', 3).map(explainJobFixture));
    const done = countdown(3);
    let batches = 0;
    const worker = start({ paused: true, processBatch: async (jobs) => (batches++, jobs.map(resultFor)), hooks: { onJobFinished: () => done.tick() } });
    await worker.waitUntilReady();
    await sleep(500);
    assert.equal(batches, 0);
    assert.equal((await queueJobCounts(queue)).waiting, 3);
    worker.resume();
    await done.done;
    assert.equal((await queueJobCounts(queue)).completed, 3);
  });
});

test('pause(handBack): the batch running completes, the jobs held for the next one are handed back (no attempt counted), nothing is fetched until resume()', hangGuard, async () => {
  // attempts: 1, so a counted attempt would fail a job instead of handing it back.
  await withHarness({ attempts: 1 }, async ({ queue, start, finished }) => {
    const jobIds = ids('h', 6);
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started = countdown(1);
    const ran: string[] = [];
    const worker = start({
      maxBatch: 2,
      maxWaitMs: 20,
      processBatch: async (jobs) => {
        started.tick();
        await gate;
        ran.push(...jobs.map((job) => job.id));
        return jobs.map(resultFor);
      },
    });
    await started.done;
    // The first batch of 2 runs; 2 more are held for the next (concurrency (1 + 1) × 2).
    await eventually(async () => (await queueJobCounts(queue)).active === 4);
    worker.pause(new DeferJobError('STORAGE_UNAVAILABLE', 'storage is down', 100));
    await eventually(() => finished.filter((e) => e.outcome === 'deferred').length === 2);
    release();
    await eventually(() => finished.filter((e) => e.outcome === 'completed').length === 2);
    await sleep(500);
    assert.equal(ran.length, 2, `only the batch that was running ran: ${ran.join(',')}`);
    // The handed-back jobs wait in the delayed set (BullMQ moves them on when a worker fetches).
    assert.deepEqual(await queueJobCounts(queue), { waiting: 2, prioritized: 0, delayed: 2, active: 0, completed: 2, failed: 0, paused: 0 });
    assert.deepEqual(new Set(finished.filter((e) => e.outcome === 'deferred').map((e) => e.code)), new Set(['STORAGE_UNAVAILABLE']));
    worker.resume();
    await eventually(() => finished.filter((e) => e.outcome === 'completed').length === 6);
    for (const id of jobIds) assert.equal(await (await queue.getJob(id))?.getState(), 'completed', id);
  });
});

test('a throw from processBatch fails the whole batch as transient, keeping the error’s code', hangGuard, async () => {
  await withHarness({ attempts: 2, backoff: { type: 'fixed', delay: 10 } }, async ({ queue, start, finished }) => {
    await enqueueExplainJobs(queue, ids('t', 3).map(explainJobFixture));
    let calls = 0;
    const completed = countdown(3);
    start({
      maxBatch: 3,
      maxWaitMs: 200,
      processBatch: async (jobs) => {
        if (calls++ === 0) throw Object.assign(new Error('storage unreachable'), { code: 'S3_UNAVAILABLE', permanent: true });
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: (event) => event.outcome === 'completed' && completed.tick() },
    });
    await completed.done;
    assert.deepEqual(
      finished.filter((e) => e.outcome === 'retried').map((e) => e.code),
      ['S3_UNAVAILABLE', 'S3_UNAVAILABLE', 'S3_UNAVAILABLE'],
      'even an error marked permanent is retried when the whole batch threw',
    );
    assert.equal((await queue.getJob('t-0'))?.attemptsMade, 2);
  });
});

test('invalid job data fails at once with JOB_INVALID and never reaches processBatch', hangGuard, async () => {
  await withHarness({}, async ({ queue, start, finished }) => {
    const seen: string[] = [];
    const done = countdown(2);
    // Written past the producer's validation, as an older producer or a hand edit could.
    await queue.add(explainJob.jobName, { ...explainJobFixture('raw-bad'), folder: 'no-trailing-slash' }, { jobId: 'raw-bad' });
    await enqueueExplainJobs(queue, [explainJobFixture('raw-good')]);
    start({
      processBatch: async (jobs) => {
        seen.push(...jobs.map((job) => job.id));
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: () => done.tick() },
    });
    await done.done;
    const bad = await queue.getJob('raw-bad');
    assert.equal(await bad?.getState(), 'failed');
    assert.equal(bad?.attemptsMade, 1, 'not retried although attempts is 5');
    assert.match(bad?.failedReason ?? '', /^JOB_INVALID: folder: /);
    assert.deepEqual(seen, ['raw-good']);
    assert.deepEqual(finished.find((e) => e.jobId === 'raw-bad'), { jobId: 'raw-bad', outcome: 'failed', code: 'JOB_INVALID', attempts: { made: 1, max: 5 } });
  });
});

test('close() sends a partial batch at once and completes every job it took; safe to call twice', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    const sizes: number[] = [];
    const worker = start({
      maxBatch: 8,
      maxWaitMs: hour, // only close() can send this batch: waiting for the timer would time the test out
      processBatch: async (jobs) => {
        sizes.push(jobs.length);
        return jobs.map(resultFor);
      },
    });
    await enqueueExplainJobs(queue, ids('c', 3).map(explainJobFixture));
    await eventually(async () => (await queueJobCounts(queue)).active === 3);
    assert.deepEqual(sizes, [], 'the partial batch is still waiting');
    await Promise.all([worker.close(), worker.close()]);
    await worker.close();
    assert.deepEqual(sizes, [3]);
    const counts = await queueJobCounts(queue);
    assert.equal(counts.completed, 3);
    assert.equal(counts.active, 0);
  });
});

test('a batch longer than lockDuration keeps its jobs’ locks (the worker renews them)', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    const runs = new Map<string, number>();
    const all = countdown(3);
    start({
      maxBatch: 3,
      maxWaitMs: 100,
      lockDuration: 2_000,
      stalledInterval: 500,
      processBatch: async (jobs) => {
        for (const job of jobs) runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        await sleep(5_000); // 2.5 × lockDuration; it awaits, so the renewal timer runs; a blocking call this long would lose the locks
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: () => all.tick() },
    });
    await enqueueExplainJobs(queue, ids('l', 3).map(explainJobFixture));
    await all.done;
    assert.deepEqual([...runs.values()], [1, 1, 1], 'no job was taken as stalled and run again');
    assert.equal((await queueJobCounts(queue)).completed, 3);
  });
});

test('workers are visible to the metrics exporter', hangGuard, async () => {
  await withHarness({}, async ({ queue, start }) => {
    const worker = start({ processBatch: async (jobs) => jobs.map(resultFor) });
    await worker.waitUntilReady();
    await eventually(async () => (await workerCount(queue)) === 1);
    await worker.close();
    await eventually(async () => (await workerCount(queue)) === 0);
  });
});

test('a job back from a stall runs alone: the jobs held beside it are handed back, no attempt counted', hangGuard, async () => {
  await withHarness({ attempts: 1 }, async ({ queue, prefix, start, finished }) => {
    const jobIds = ['h-0', 'h-1', 'suspect', 'h-3', 'h-4', 'h-5', 'h-6', 'h-7'];
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    // As the stalled check leaves a job whose worker died holding it.
    await producer.hset(`${prefix}:${explainJob.queueName}:suspect`, 'stc', 1);
    const batches: string[][] = [];
    let inFlight = 0;
    let suspectRunning = false;
    let besideSuspect = 0;
    const completed = countdown(jobIds.length);
    start({
      maxBatch: 4,
      maxWaitMs: 50,
      processBatch: async (jobs) => {
        batches.push(jobs.map((job) => job.id));
        const isSuspect = jobs.some((job) => job.id === 'suspect');
        if (suspectRunning || (isSuspect && inFlight > 0)) besideSuspect++;
        inFlight++;
        suspectRunning ||= isSuspect;
        await sleep(100);
        inFlight--;
        if (isSuspect) suspectRunning = false;
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: (event) => event.outcome === 'completed' && completed.tick() },
    });
    await completed.done;
    assert.deepEqual(
      batches.filter((batch) => batch.includes('suspect')),
      [['suspect']],
    );
    assert.equal(besideSuspect, 0, `no batch ran beside the suspect's (batches: ${JSON.stringify(batches)})`);
    for (const id of jobIds) {
      const job = await queue.getJob(id);
      assert.equal(await job?.getState(), 'completed', id);
      assert.equal(job?.attemptsMade, 1, `${id}: handing back counted no attempt (attempts: 1)`);
    }
    const deferred = finished.filter((event) => event.outcome === 'deferred');
    assert.ok(deferred.length >= 1, 'the jobs held beside the suspect were handed back');
    assert.deepEqual(new Set(deferred.map((event) => event.code)), new Set([isolatingSuspectCode]));
    assert.deepEqual(new Set(deferred.map((event) => event.jobId)).has('suspect'), false);
  });
});

test('a job back from a stall runs at once: its batch of one does not wait maxWaitMs for batch-mates that cannot come', hangGuard, async () => {
  await withHarness({ attempts: 1 }, async ({ queue, prefix, start }) => {
    await enqueueExplainJobs(queue, [explainJobFixture('suspect')]);
    await producer.hset(`${prefix}:${explainJob.queueName}:suspect`, 'stc', 1);
    const completed = countdown(1);
    const startedAt = performance.now();
    let ranAfterMs = Number.NaN;
    start({
      maxBatch: 4,
      maxWaitMs: 5_000,
      processBatch: async (jobs) => {
        ranAfterMs = performance.now() - startedAt;
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: (event) => event.outcome === 'completed' && completed.tick() },
    });
    await completed.done;
    // Waiting for batch-mates would start it ≥ 5 000 ms after the worker; the bound is generous for a loaded machine.
    assert.ok(ranAfterMs < 2_500, `the suspect's batch started ${Math.round(ranAfterMs)} ms after the worker, not after maxWaitMs`);
  });
});

/** Deletes jobs' locks at once, as their expiry would after a blocked event loop or a lost connection. */
const dropLocks = (prefix: string, jobIds: readonly string[]) => producer.del(...jobIds.map((jobId) => `${prefix}:${explainJob.queueName}:${jobId}:lock`));

test('a job taken over by its own worker while the first copy still runs keeps its lock', hangGuard, async () => {
  // The first copy's lock lapses; the stalled check puts the job back and this same worker takes
  // it again while the first copy is still in its batch. When that copy ended, BullMQ's lock
  // manager (tracking by job id) stopped renewing the second copy too, which then stalled again
  // until it failed JOB_STALLED (maxStalledCount 1 here makes that the second stall).
  await withHarness({ attempts: 1 }, async ({ queue, prefix, start }) => {
    const runs: string[] = [];
    const errors: string[] = [];
    const settled = countdown(1);
    start({
      maxBatch: 2,
      maxWaitMs: 20,
      lockDuration: 1_000,
      stalledInterval: 250,
      maxStalledCount: 1,
      onError: (error) => errors.push(error.message),
      processBatch: async (jobs) => {
        runs.push(...jobs.map((job) => `${job.id}${job.rerun ? ' (rerun)' : ''}`));
        if (runs.length === 1) {
          await dropLocks(prefix, ['twice']);
          await sleep(2_500); // the job is put back and fetched again meanwhile
        } else {
          await sleep(1_500); // longer than lockDuration: only renewal keeps this copy's lock
        }
        return jobs.map(resultFor);
      },
      hooks: { onJobFinished: (event) => (event.outcome === 'completed' || event.outcome === 'failed') && settled.tick() },
    });
    await enqueueExplainJobs(queue, [explainJobFixture('twice')]);
    await settled.done;
    const job = await queue.getJob('twice');
    assert.equal(await job?.getState(), 'completed', `failedReason: ${job?.failedReason}`);
    assert.equal(job?.stalledCounter, 1, 'one stall: the lapse');
    assert.deepEqual(runs, ['twice', 'twice (rerun)']);
    // Reported once when a renewal round found it lost before the job came back; not at all when the job came back first.
    assert.ok(errors.filter((message) => /renew/.test(message)).length <= 1, `the lost lock reported at most once: ${errors.join(' | ')}`);
  });
});

test('a round of lock renewals that loses locks is reported once', hangGuard, async () => {
  await withHarness({}, async ({ queue, prefix, start }) => {
    const errors: string[] = [];
    const ended = countdown(1);
    const jobIds = ids('lost', 3);
    start({
      maxBatch: 3,
      maxWaitMs: 100,
      lockDuration: 1_000,
      onError: (error) => errors.push(error.message),
      processBatch: async (jobs) => {
        await dropLocks(prefix, jobs.map((job) => job.id));
        await sleep(1_800); // three renewal rounds (every 500 ms) find the locks gone
        ended.tick();
        return jobs.map(resultFor);
      },
    });
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    await ended.done;
    const renewalErrors = errors.filter((message) => /renew/.test(message));
    assert.deepEqual(renewalErrors, ['could not renew the lock of 3 job(s) (lost-0, lost-1, lost-2): they may run again elsewhere']);
  });
});

test('failed jobs are kept up to a count: a burst of permanent failures cannot fill Redis', hangGuard, async () => {
  assert.deepEqual(explainJob.options.removeOnFail, { age: 30 * 24 * 3600, count: maxFailedJobsKept });
  const bound = 5;
  await withHarness({ removeOnFail: { age: 30 * 24 * 3600, count: bound } }, async ({ queue, start }) => {
    const jobIds = ids('f', 12);
    const failed = countdown(jobIds.length);
    start({
      maxBatch: 4,
      maxWaitMs: 10,
      processBatch: async (jobs) => jobs.map(() => new PermanentJobError('MODEL_NOT_SERVED', 'no live worker serves mobilenet@v2')),
      hooks: { onJobFinished: (event) => event.outcome === 'failed' && failed.tick() },
    });
    await enqueueExplainJobs(queue, jobIds.map(explainJobFixture));
    await failed.done;
    const counts = await queueJobCounts(queue);
    assert.equal(counts.failed, bound);
    // The newest failures are the ones kept.
    assert.equal(await (await queue.getJob('f-11'))?.getState(), 'failed');
    assert.equal(await queue.getJob('f-0'), undefined);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnection, createProducerConnection } from './connections.ts';
import { JobInvalidError } from './errors/job-invalid-error.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { type ExplainQueue, createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { explainJob } from './job-catalog.ts';
import { jobStatus } from './job-status.ts';
import { queueDepth, queueJobCounts } from './queue-counts.ts';
import { explainJobFixture, randomPrefix, useRedisConnection } from './test-fixtures.ts';

// A hang guard for tests that must fail fast: if a producer waited for Redis instead of
// rejecting, the test fails on this timeout instead of stalling the suite.
const hangGuard = { timeout: 30_000 };

let connection: Redis;
useRedisConnection((ready) => (connection = ready));

async function withQueue(run: (queue: ExplainQueue) => Promise<void>): Promise<void> {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  try {
    await run(queue);
  } finally {
    await queue.close();
  }
}

test('enqueues with jobId = inferenceId and the catalog’s retry and retention options', async () => {
  await withQueue(async (queue) => {
    assert.deepEqual(await enqueueExplainJobs(queue, [explainJobFixture('a-1'), explainJobFixture('a-2')]), ['a-1', 'a-2']);
    const job = await queue.getJob('a-1');
    assert.ok(job);
    assert.equal(job.name, explainJob.jobName);
    assert.equal(job.data.inferenceId, 'a-1');
    assert.equal(job.opts.attempts, explainJob.options.attempts);
    assert.deepEqual(job.opts.backoff, explainJob.options.backoff);
    assert.deepEqual(job.opts.removeOnFail, explainJob.options.removeOnFail);
    assert.deepEqual(job.opts.removeOnComplete, explainJob.options.removeOnComplete);
    assert.equal(await queueDepth(queue), 2);
  });
});

test('a resubmitted inference id adds no second job', async () => {
  await withQueue(async (queue) => {
    const first = explainJobFixture('dup-1');
    await enqueueExplainJobs(queue, [first]);
    await enqueueExplainJobs(queue, [{ ...first, acceptedAt: first.acceptedAt + 1 }]);
    await enqueueExplainJobs(queue, [explainJobFixture('dup-1'), explainJobFixture('dup-2'), explainJobFixture('dup-2')]);
    assert.equal(await queueDepth(queue), 2);
    assert.equal((await queue.getJob('dup-1'))?.data.acceptedAt, first.acceptedAt, 'the first add wins');
  });
});

test('an invalid job is refused before anything is added', async () => {
  await withQueue(async (queue) => {
    const bad = { ...explainJobFixture('ok-2'), inferenceId: '../escape' };
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('ok-1'), bad]), (error: unknown) => {
      assert.ok(error instanceof JobInvalidError);
      assert.equal(error.code, 'JOB_INVALID');
      assert.equal(error.index, 1);
      assert.match(error.message, /inferenceId/);
      return true;
    });
    assert.equal(await queueDepth(queue), 0);
    assert.deepEqual(await enqueueExplainJobs(queue, []), []);
  });
});

test('counts every state, paused included, and reports one job’s status', async () => {
  await withQueue(async (queue) => {
    const empty = await queueJobCounts(queue);
    assert.deepEqual(empty, { waiting: 0, prioritized: 0, delayed: 0, active: 0, completed: 0, failed: 0, paused: 0 });
    await enqueueExplainJobs(queue, [explainJobFixture('c-1'), explainJobFixture('c-2')]);
    await queue.add(explainJob.jobName, explainJobFixture('c-3'), { jobId: 'c-3', delay: 60_000 });
    assert.deepEqual(await queueJobCounts(queue), { ...empty, waiting: 2, delayed: 1 });
    await queue.pause();
    assert.deepEqual(await queueJobCounts(queue), { ...empty, paused: 2, delayed: 1 });
    await queue.resume();
    assert.deepEqual(await jobStatus(queue, 'c-1'), { state: 'waiting', attempts: 0 });
    assert.equal(await jobStatus(queue, 'never-added'), undefined);
  });
});

test('a producer rejects at once when Redis was never reachable', hangGuard, async () => {
  const errors: Error[] = [];
  const dead = createProducerConnection(`redis://127.0.0.1:${await freePort()}`, { onError: (error) => errors.push(error) });
  const queue = createExplainQueue({ connection: dead, prefix: randomPrefix(), onError: () => {} });
  try {
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('down-1')]), QueueUnavailableError);
    await assert.rejects(queueDepth(queue), (error: unknown) => error instanceof QueueUnavailableError && error.code === 'QUEUE_UNAVAILABLE');
  } finally {
    await queue.close();
    await closeConnection(dead);
  }
});

test('a producer rejects at once when Redis goes away after connecting', hangGuard, async () => {
  const own = await startRedisServer();
  const producer = createProducerConnection(own.url, { onError: () => {} });
  const queue = createExplainQueue({ connection: producer, prefix: randomPrefix(), onError: () => {} });
  try {
    await enqueueExplainJobs(queue, [explainJobFixture('up-1')]);
    await own.stop('SIGKILL');
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('up-2'), explainJobFixture('up-3')]), QueueUnavailableError);
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('up-4')]), QueueUnavailableError);
  } finally {
    await queue.close();
    await closeConnection(producer);
    await own.stop();
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlowProducer, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeConnection, createWorkerConnection } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { type ExplainQueue, createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { explainJob } from './job-catalog.ts';
import { type StrandedJobCandidate, removeStrandedJobs } from './stranded-jobs.ts';
import { explainJobFixture, randomPrefix, useRedisConnection } from './test-fixtures.ts';

let redisUrl: string;
let connection: Redis;
useRedisConnection((ready, url) => ((connection = ready), (redisUrl = url)));

/** Candidates held by `holder` through `hold:<id>` keys, which the test sets (as ingest's claims). */
async function held(prefix: string, ids: readonly string[], holder = 'me'): Promise<StrandedJobCandidate[]> {
  for (const id of ids) await connection.set(`${prefix}:hold:${id}`, holder);
  return ids.map((id) => ({ id, heldBy: { key: `${prefix}:hold:${id}`, value: 'me' } }));
}

/** Adds the jobs with BullMQ's add script failing at the push onto the wait list (a key that is not a list): each job's hash is stored, its id queued nowhere. */
async function strand(queue: ExplainQueue, ids: readonly string[]): Promise<void> {
  const wait = queue.toKey('wait');
  const saved = `${wait}:saved`;
  const had = (await connection.exists(wait)) === 1;
  if (had) await connection.rename(wait, saved);
  await connection.set(wait, 'not a list');
  try {
    await assert.rejects(enqueueExplainJobs(queue, ids.map(explainJobFixture)), QueueUnavailableError);
  } finally {
    await connection.del(wait);
    if (had) await connection.rename(saved, wait);
  }
}

test('an add that failed partway leaves a job in no state, which a second add does not queue; removeStrandedJobs removes it so that one does, and leaves queued jobs alone', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  try {
    await enqueueExplainJobs(queue, [explainJobFixture('waiting-1')]);
    await strand(queue, ['stranded-1']);
    assert.ok(await connection.exists(`${prefix}:explain:stranded-1`), 'the failed add left the job\'s hash');
    assert.equal(await queue.getJobState('stranded-1'), 'unknown');
    await enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]);
    assert.equal(await queue.getJobState('stranded-1'), 'unknown', 'a second add is ignored: nothing is queued');
    await connection.rpush(`${prefix}:explain:stranded-1:logs`, 'a log line');

    assert.deepEqual(await removeStrandedJobs(queue, await held(prefix, ['waiting-1', 'stranded-1', 'never-added'])), ['in-state', 'removed', 'absent']);
    assert.equal(await queue.getJobState('waiting-1'), 'waiting', 'a queued job is left alone');
    assert.deepEqual(await connection.keys(`${prefix}:explain:stranded-1*`), [], 'the hash and its logs are gone');
    await enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]);
    assert.equal(await queue.getJobState('stranded-1'), 'waiting');
    assert.deepEqual(await removeStrandedJobs(queue, []), []);
  } finally {
    await queue.close();
  }
});

test('a job in any state is left alone: waiting, prioritized, delayed, active, waiting for its children, completed, failed', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  const workerConnection = createWorkerConnection(redisUrl, { onError: () => {} });
  const worker = new Worker(explainJob.queueName, null, { connection: workerConnection, prefix, autorun: false });
  const flows = new FlowProducer({ connection, prefix });
  try {
    const add = (id: string, opts: object = {}) => queue.add(explainJob.jobName, explainJobFixture(id), { jobId: id, ...opts });
    await add('taken-1');
    await add('taken-2', { attempts: 1 });
    await add('taken-3');
    await add('waiting-1');
    await add('prioritized-1', { priority: 5 });
    await add('delayed-1', { delay: 60_000 });
    await flows.add({ name: explainJob.jobName, queueName: explainJob.queueName, data: explainJobFixture('parent-1'), opts: { jobId: 'parent-1' }, children: [{ name: 'child', queueName: 'elsewhere', data: {} }] });
    // Taken by a worker, in turn: the first finishes, the second fails for good, the third stays active.
    const next = async (token: string) => {
      const job = await worker.getNextJob(token);
      assert.ok(job);
      return job;
    };
    const first = await next('t1');
    await first.moveToCompleted('done', 't1', false);
    const second = await next('t2');
    await second.moveToFailed(new Error('refused'), 't2', false);
    const third = await next('t3');
    const ids = ['waiting-1', 'prioritized-1', 'delayed-1', 'parent-1', first.id, second.id, third.id].map(String);
    const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
    assert.deepEqual(new Set(states), new Set(['waiting', 'prioritized', 'delayed', 'waiting-children', 'completed', 'failed', 'active']), 'one job in each state');

    assert.deepEqual(await removeStrandedJobs(queue, await held(prefix, ids)), ids.map(() => 'in-state'));
    assert.deepEqual(await Promise.all(ids.map((id) => queue.getJobState(id))), states, 'nothing moved');
  } finally {
    await flows.close();
    await worker.close();
    await closeConnection(workerConnection);
    await queue.close();
  }
});

test('nothing is removed under a hold that is no longer the caller\'s, nor a locked job: each check and its removal are one script', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  try {
    await strand(queue, ['lapsed-1', 'locked-1']);
    const [lapsed, locked] = await held(prefix, ['lapsed-1', 'locked-1']);
    // The caller's claim expired during a stall and another request claimed the id since.
    await connection.set(`${prefix}:hold:lapsed-1`, 'another request');
    await connection.set(`${prefix}:explain:locked-1:lock`, 'a worker token');
    assert.deepEqual(await removeStrandedJobs(queue, [lapsed as StrandedJobCandidate, locked as StrandedJobCandidate]), ['not-held', 'locked']);
    assert.ok(await connection.exists(`${prefix}:explain:lapsed-1`), 'the other holder decides about it');
    assert.ok(await connection.exists(`${prefix}:explain:locked-1`));
    await connection.del(`${prefix}:hold:lapsed-1`);
    assert.deepEqual(await removeStrandedJobs(queue, [lapsed as StrandedJobCandidate]), ['not-held'], 'nor once nobody holds it');
  } finally {
    await queue.close();
  }
});

test('a state key of the wrong type (what made the add fail) holds no job: a stranded job is removed at once, a queued one is still found', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  try {
    await queue.add(explainJob.jobName, explainJobFixture('delayed-1'), { jobId: 'delayed-1', delay: 60_000 });
    const wait = queue.toKey('wait');
    await connection.del(wait);
    await connection.set(wait, 'not a list');
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]), QueueUnavailableError);
    assert.deepEqual(await removeStrandedJobs(queue, await held(prefix, ['stranded-1', 'delayed-1'])), ['removed', 'in-state']);
    assert.equal(await connection.exists(`${prefix}:explain:stranded-1`), 0);
  } finally {
    await queue.close();
  }
});

test('many candidates: each answered in its place, at most 4 scripts in flight (never one pipeline of all), and the first failure stops the rest', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  const ids = Array.from({ length: 40 }, (_, i) => `many-${i}`);
  const client = await queue.getBackend().client;
  const runCommand = client.runCommand.bind(client);
  let inFlight = 0;
  let most = 0;
  let calls = 0;
  let failAt = Infinity;
  client.runCommand = async (name, args) => {
    calls++;
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      if (calls === failAt) throw new Error('connection lost');
      return await runCommand(name, args);
    } finally {
      inFlight--;
    }
  };
  try {
    await enqueueExplainJobs(queue, ids.filter((_, i) => i % 2 === 0).map(explainJobFixture));
    await strand(queue, ids.filter((_, i) => i % 2 === 1));
    const candidates = await held(prefix, ids);
    calls = 0;
    assert.deepEqual(await removeStrandedJobs(queue, candidates), ids.map((_, i) => (i % 2 === 0 ? 'in-state' : 'removed')));
    assert.deepEqual([calls, most], [40, 4]);
    [calls, failAt] = [0, 3];
    await assert.rejects(removeStrandedJobs(queue, candidates), (error: unknown) => error instanceof QueueUnavailableError && /connection lost/.test(error.message));
    assert.ok(calls <= 3 + 3, `the lanes stop after the failure (${calls} calls)`);
  } finally {
    client.runCommand = runCommand;
    await queue.close();
  }
});

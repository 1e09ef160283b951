import { type IndexEntry, redisKeys } from '@gradcam/contracts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs } from '@gradcam/queue';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import type { Redis } from 'ioredis';
import { InferenceIndex } from './inference-index.ts';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedisServer();
  redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
});

after(async () => {
  await closeConnection(redis);
  await server.stop();
});

test('two attempts whose claims outlived a storage stall record the folder of the job the first one queued', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600, 50);
  const id = 'stalled-1';
  const entry = (folder: string, acceptedAt: number): IndexEntry => ({ folder, model: 'mobilenet', explain: true, reason: 'all', acceptedAt });
  try {
    assert.equal((await index.claim('first', [id]))[0]?.state, 'claimed');
    await sleep(80); // the first attempt's storage stalls past its claim
    assert.deepEqual(await index.claim('second', [id]), [{ state: 'claimed' }], 'no job yet: the second attempt prepares its own folder');
    // The first attempt resumes: its job goes in, but the id is the second's now.
    const job = { ...explainJobFixture(id), folder: `mobilenet/v1/dt=2025-01-01/${id}/`, acceptedAt: 1_764_000_000_001 };
    await enqueueExplainJobs(queue, [job]);
    assert.deepEqual(await index.commit('first', [{ id, entry: entry(job.folder, job.acceptedAt) }]), [false]);
    // The second attempt's job add is ignored (same job id), and it records: the job's folder,
    // which is where the worker writes, not the one it prepared.
    assert.deepEqual(await index.commit('second', [{ id, entry: entry(`mobilenet/v1/dt=2025-01-02/${id}/`, 1_764_086_400_002) }]), [true]);
    assert.deepEqual(await index.get(id), entry(job.folder, job.acceptedAt));
  } finally {
    await queue.close();
  }
});

test('an entry without a job, or whose job names its folder, is recorded as given', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  try {
    const job = explainJobFixture('with-job');
    await index.claim('h', ['with-job', 'skipped']);
    await enqueueExplainJobs(queue, [job]);
    const given = { folder: job.folder, model: 'mobilenet', explain: true, reason: 'all', acceptedAt: job.acceptedAt } satisfies IndexEntry;
    const skipped = { ...given, folder: 'mobilenet/v1/dt=2025-01-01/skipped/', explain: false };
    assert.deepEqual(await index.commit('h', [{ id: 'with-job', entry: given }, { id: 'skipped', entry: skipped }]), [true, true]);
    assert.deepEqual(await index.get('with-job'), given);
    assert.deepEqual(await index.get('skipped'), skipped);
  } finally {
    await queue.close();
  }
});

test('an id with a job but no entry (its commit failed: 503 ACCEPT_INCOMPLETE) is found through its job, claimed or not; without the job it is unknown', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  try {
    const job = explainJobFixture('uncommitted');
    await enqueueExplainJobs(queue, [job]);
    const fromJob = { folder: job.folder, model: job.model.name, explain: true, reason: job.capture.reason, acceptedAt: job.acceptedAt } satisfies IndexEntry;
    assert.deepEqual(await index.get('uncommitted'), fromJob);
    await index.claim('a-retry', ['uncommitted']);
    assert.deepEqual(await index.get('uncommitted'), fromJob, 'while a retry holds the id');
    await (await queue.getJob('uncommitted'))?.remove();
    assert.equal(await index.get('uncommitted'), undefined);
  } finally {
    await queue.close();
  }
});

test('a claim or a commit that fails (a key of the wrong type) writes nothing: Redis does not undo a script that fails partway', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600);
  const entry: IndexEntry = { folder: 'm/v1/dt=2025-01-01/ok-1/', model: 'm', explain: true, reason: 'all', acceptedAt: 1 };
  await redis.set(keys.explainJob('odd-1'), 'not a hash');
  await assert.rejects(index.claim('first', ['ok-1', 'odd-1']), /WRONGTYPE/);
  assert.equal(await redis.exists(keys.inference('ok-1')), 0, 'ok-1 was not claimed: a retry is not told 409 for a minute');
  await redis.del(keys.explainJob('odd-1'));

  assert.equal((await index.claim('second', ['ok-1']))[0]?.state, 'claimed');
  await redis.set(keys.captureDecisions, 'not a hash');
  await assert.rejects(index.commit('second', [{ id: 'ok-1', entry }]), /WRONGTYPE/);
  assert.equal(await redis.get(keys.inference('ok-1')), 'claim:second', 'not recorded: the entry is written with its count or not at all');
  await redis.del(keys.captureDecisions);
  await redis.hset(keys.captureDecisions, 'm|explain|all', 'x');
  await assert.rejects(index.commit('second', [{ id: 'ok-1', entry }]), /not an integer/);
  assert.equal(await redis.get(keys.inference('ok-1')), 'claim:second');
  await redis.del(keys.captureDecisions);
  assert.deepEqual(await index.commit('second', [{ id: 'ok-1', entry }]), [true]);
  assert.deepEqual(await index.get('ok-1'), entry);
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { 'm|explain|all': '1' });
});

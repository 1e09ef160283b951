import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnection, createProducerConnection } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { removeStrandedJobs } from './stranded-jobs.ts';
import { explainJobFixture, randomPrefix } from './test-fixtures.ts';

let redis: RedisServer;
let connection: Redis;
before(async () => {
  redis = await startRedisServer();
  connection = createProducerConnection(redis.url, { onError: () => {} });
});
after(async () => {
  await closeConnection(connection);
  await redis.stop();
});

test('an add that failed partway leaves a job in no state, which a second add does not queue; removeStrandedJobs removes it so that one does, and leaves queued jobs alone', async () => {
  const prefix = randomPrefix();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  try {
    await enqueueExplainJobs(queue, [explainJobFixture('waiting-1')]);
    const wait = `${prefix}:explain:wait`;
    const waiting = await connection.lrange(wait, 0, -1);
    // BullMQ's add script stores the job's hash, then fails at the push onto the wait list.
    await connection.del(wait);
    await connection.set(wait, 'not a list');
    await assert.rejects(enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]), QueueUnavailableError);
    await connection.del(wait);
    await connection.rpush(wait, ...waiting);
    assert.ok(await connection.exists(`${prefix}:explain:stranded-1`), 'the failed add left the job\'s hash');
    assert.equal(await queue.getJobState('stranded-1'), 'unknown');
    await enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]);
    assert.equal(await queue.getJobState('stranded-1'), 'unknown', 'a second add is ignored: nothing is queued');

    assert.deepEqual(await removeStrandedJobs(queue, ['waiting-1', 'stranded-1']), ['stranded-1']);
    assert.equal(await queue.getJobState('waiting-1'), 'waiting', 'a queued job is left alone');
    await enqueueExplainJobs(queue, [explainJobFixture('stranded-1')]);
    assert.equal(await queue.getJobState('stranded-1'), 'waiting');
    assert.deepEqual(await removeStrandedJobs(queue, []), []);
  } finally {
    await queue.close();
  }
});

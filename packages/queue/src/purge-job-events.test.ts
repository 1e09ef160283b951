import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRedisServer } from '@gradcam/dev-services';
import type { Redis } from 'ioredis';
import { closeConnection, connectionReady, createProducerConnection } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { createExplainQueue, enqueueExplainJobs } from './explain-queue.ts';
import { purgeJobEvents, purgeJobsEvents } from './purge-job-events.ts';
import { explainJobFixture, randomPrefix, useRedisConnection } from './test-fixtures.ts';

let connection: Redis;
useRedisConnection((ready) => (connection = ready));

const jobIdsOf = async (key: string) => (await connection.xrange(key, '-', '+')).map(([, fields]) => fields[fields.indexOf('jobId') + 1]);

test("deletes every entry of the event stream whose jobId is the id, across chunks (one ending on a chunk's edge), and no other: not an id it begins, nor one naming it elsewhere", async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  const key = queue.toKey('events');
  try {
    // 3 entries of 'a' among 11: chunks of 3 end on one of its entries, and on the stream's last.
    const written = ['a', 'a-2', 'b', 'a', 'b', 'b', 'xa', 'a', 'b', 'a-2', 'b'];
    for (const [at, jobId] of written.entries()) await connection.xadd(key, '*', 'event', 'waiting', 'jobId', jobId, 'prev', at === 4 ? 'a' : 'added');
    for (const chunk of [3, 11, 1000]) {
      await connection.xadd(key, '*', 'event', 'removed', 'jobId', 'a', 'prev', 'completed');
      assert.equal(await purgeJobEvents(queue, 'a', chunk), chunk === 3 ? 4 : 1, `chunks of ${chunk}`);
      assert.deepEqual(await jobIdsOf(key), written.filter((id) => id !== 'a'));
    }
    assert.equal(await purgeJobEvents(queue, 'a'), 0, 'idempotent');
    assert.equal(await purgeJobEvents(queue, 'never'), 0);
  } finally {
    await queue.close();
  }
});

test("several ids in one scan, across chunks: each id's count, the entries of other ids kept (not an id one of them begins), one call per id given twice", async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  const key = queue.toKey('events');
  try {
    const written = ['a', 'a-2', 'b', 'c', 'a', 'b', 'xa', 'b-1', 'a', 'c', 'd', 'b', 'a-2', 'b'];
    for (const chunk of [3, 14, 1000]) {
      await connection.del(key);
      for (const jobId of written) await connection.xadd(key, '*', 'event', 'waiting', 'jobId', jobId);
      const counts = await purgeJobsEvents(queue, ['a', 'b', 'never', 'a'], chunk);
      assert.deepEqual([...counts], [['a', 3], ['b', 4], ['never', 0]], `chunks of ${chunk}`);
      assert.deepEqual(await jobIdsOf(key), ['a-2', 'c', 'xa', 'b-1', 'c', 'd', 'a-2'], `chunks of ${chunk}`);
    }
    assert.deepEqual([...(await purgeJobsEvents(queue, ['a', 'b']))], [['a', 0], ['b', 0]], 'idempotent');
    assert.deepEqual([...(await purgeJobsEvents(queue, []))], [], 'no ids, no scan');
  } finally {
    await queue.close();
  }
});

test("a queue with no event stream, or an emptied one, has nothing to delete; the job's real BullMQ events go", async () => {
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  try {
    assert.equal(await purgeJobEvents(queue, 'a'), 0, 'no stream');
    await enqueueExplainJobs(queue, [explainJobFixture('a')]);
    await queue.remove('a');
    assert.deepEqual(await jobIdsOf(queue.toKey('events')), ['a', 'a', 'a'], 'added, waiting, removed');
    assert.equal(await purgeJobEvents(queue, 'a'), 3);
    assert.equal(await connection.xlen(queue.toKey('events')), 0);
    assert.equal(await purgeJobEvents(queue, 'a'), 0, 'an empty stream');
  } finally {
    await queue.close();
  }
});

test('with Redis gone it rejects QUEUE_UNAVAILABLE', async () => {
  const server = await startRedisServer();
  const producer = createProducerConnection(server.url, { onError: () => {} });
  const queue = createExplainQueue({ connection: producer, prefix: randomPrefix(), onError: () => {} });
  try {
    await connectionReady(producer);
    await producer.xadd(queue.toKey('events'), '*', 'event', 'waiting', 'jobId', 'a');
    await server.stop();
    await assert.rejects(purgeJobEvents(queue, 'a'), QueueUnavailableError);
  } finally {
    await queue.close().catch(() => {});
    await closeConnection(producer);
  }
});

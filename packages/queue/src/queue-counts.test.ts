import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createProducerConnection } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
import { createExplainQueue } from './explain-queue.ts';
import { workerCount } from './queue-counts.ts';
import { randomPrefix } from './test-fixtures.ts';

async function countWorkers(url: string): Promise<number | undefined> {
  const connection = createProducerConnection(url, { onError: () => {} });
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  try {
    return await workerCount(queue);
  } finally {
    await queue.close();
    await closeConnection(connection);
  }
}

async function withRedis(options: Parameters<typeof startRedisServer>[0], run: (redis: RedisServer) => Promise<void>): Promise<void> {
  const redis = await startRedisServer(options);
  try {
    await run(redis);
  } finally {
    await redis.stop();
  }
}

test('no worker connected is a count of 0, not unknown', async () => {
  await withRedis({}, async (redis) => assert.equal(await countWorkers(redis.url), 0));
});

test('a Redis without CLIENT (renamed away) gives an unknown count, not BullMQ’s one-item placeholder', async () => {
  await withRedis({ extraArgs: ['--rename-command', 'CLIENT', ''] }, async (redis) => {
    assert.equal(await countWorkers(redis.url), undefined);
  });
});

test('an ACL that denies CLIENT LIST (NOPERM) gives an unknown count, not a rejection', async () => {
  await withRedis({}, async (redis) => {
    const admin = createProducerConnection(redis.url, { onError: () => {} });
    try {
      await connectionReady(admin);
      await admin.call('ACL', 'SETUSER', 'exporter', 'on', '>exporter-password', '~*', '&*', '+@all', '-client');
    } finally {
      await closeConnection(admin);
    }
    assert.equal(await countWorkers(`redis://exporter:exporter-password@127.0.0.1:${redis.port}`), undefined);
  });
});

test('Redis down still rejects (QUEUE_UNAVAILABLE): unknown is only for a Redis that will not list clients', async () => {
  const redis = await startRedisServer();
  const connection = createProducerConnection(redis.url, { onError: () => {} });
  const queue = createExplainQueue({ connection, prefix: randomPrefix(), onError: () => {} });
  try {
    assert.equal(await workerCount(queue), 0);
    await redis.stop();
    await assert.rejects(workerCount(queue), QueueUnavailableError);
  } finally {
    await queue.close().catch(() => {});
    await closeConnection(connection);
    await redis.stop();
  }
});

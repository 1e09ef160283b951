import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type RedisServer, freePort, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, closeConnections, connectionReady, createProducerConnection, createWorkerConnection, producerCommandTimeoutMs } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';

// Turns a hang into a failure; nothing here asserts durations.
const hangGuard = { timeout: 30_000 };

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

test('producer and worker connections carry the options BullMQ and fail-fast need', async () => {
  const producer = createProducerConnection(redis.url, { onError: () => {}, name: 'test-producer' });
  const worker = createWorkerConnection(redis.url, { onError: () => {} });
  try {
    assert.equal(producer.options.enableOfflineQueue, false);
    assert.equal(typeof producer.options.maxRetriesPerRequest, 'number');
    assert.equal(producer.options.commandTimeout, producerCommandTimeoutMs);
    assert.equal(worker.options.maxRetriesPerRequest, null);
    assert.equal(await worker.ping(), 'PONG');
    assert.equal(await producer.client('GETNAME'), 'test-producer');
  } finally {
    await closeConnections(producer, worker);
  }
});

test('connectionReady awaits a fresh connection, so a producer can be used right after creation', hangGuard, async () => {
  const producer = createProducerConnection(redis.url, { onError: () => {} });
  try {
    await connectionReady(producer);
    assert.equal(await producer.set('ready-key', '1'), 'OK');
    await connectionReady(producer);
  } finally {
    await closeConnection(producer);
  }
  await assert.rejects(connectionReady(producer), QueueUnavailableError);
  const dead = createProducerConnection(`redis://127.0.0.1:${await freePort()}`, { onError: () => {} });
  try {
    await assert.rejects(connectionReady(dead), (error: unknown) => error instanceof QueueUnavailableError && /ECONNREFUSED/.test(error.message));
  } finally {
    await closeConnection(dead);
  }
});

test('a producer command rejects at once while Redis is down, and errors reach the listener', hangGuard, async () => {
  const errors: Error[] = [];
  const producer = createProducerConnection(`redis://127.0.0.1:${await freePort()}`, { onError: (error) => errors.push(error) });
  try {
    await assert.rejects(producer.set('k', 'v'), /enableOfflineQueue/);
    await new Promise<void>((resolve) => producer.once('error', () => resolve()));
    assert.ok(errors.length >= 1);
    assert.match(errors[0]?.message ?? '', /ECONNREFUSED/);
  } finally {
    await closeConnection(producer);
  }
});

test('closing is idempotent, for connected and never-connected clients alike', hangGuard, async () => {
  const connected = createWorkerConnection(redis.url, { onError: () => {} });
  await connected.ping();
  const dead = createWorkerConnection(`redis://127.0.0.1:${await freePort()}`, { onError: () => {} });
  await Promise.all([closeConnection(connected), closeConnection(connected), closeConnection(dead), closeConnection(dead)]);
  await closeConnections(connected, dead);
  assert.equal(connected.status, 'end');
  await assert.rejects(connected.ping(), /closed/);
});

test('a producer command rejects when Redis keeps the connection open but stops answering', hangGuard, async () => {
  const frozen = await startRedisServer();
  const producer = createProducerConnection(frozen.url, { onError: () => {}, commandTimeoutMs: 300 });
  try {
    await connectionReady(producer);
    const pid = Number(/process_id:(\d+)/.exec(await producer.info('server'))?.[1]);
    assert.ok(pid > 0);
    // SIGSTOP freezes the server as a stalled host would: the socket stays open, nothing answers.
    process.kill(pid, 'SIGSTOP');
    try {
      await assert.rejects(producer.get('k'), /Command timed out/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    assert.equal(await producer.set('k', 'v'), 'OK', 'the connection serves again once Redis answers');
  } finally {
    await closeConnection(producer);
    await frozen.stop();
  }
});

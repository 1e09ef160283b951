import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, createWorkerConnection } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { resumePoint } from './resume-point.ts';

let server: RedisServer;
let redis: Redis;
before(async () => {
  server = await startRedisServer();
  redis = createWorkerConnection(server.url, { onError: () => {} });
});
after(async () => {
  await closeConnection(redis);
  await server.stop();
});

const keysFor = () => {
  const base = `t${randomUUID().slice(0, 8)}`;
  return { cursor: `${base}:exporter:events-cursor`, events: `${base}:explain:events` };
};

test('a first start reads after the newest event (or from the start of a stream not yet made) and saves that at once', async () => {
  const empty = keysFor();
  assert.deepEqual(await resumePoint(redis, empty), { after: '0-0', from: 'first-start', trimmed: false });
  assert.equal(await redis.get(empty.cursor), '0-0');
  await redis.xadd(empty.events, '*', 'event', 'added');
  assert.deepEqual(await resumePoint(redis, empty), { after: '0-0', from: 'cursor', trimmed: false }, 'a stream made after an empty first start skipped nothing');
  // Stopped before its first scrape, while the stream outgrew its cap: its first entries are gone unread.
  for (let i = 0; i < 30; i++) await redis.xadd(empty.events, 'MAXLEN', '=', 10, '*', 'event', 'completed');
  assert.deepEqual(await resumePoint(redis, empty), { after: '0-0', from: 'cursor', trimmed: true }, 'a stream trimmed since an empty first start');

  const keys = keysFor();
  await redis.xadd(keys.events, '5-1', 'event', 'completed');
  await redis.xadd(keys.events, '7-0', 'event', 'completed');
  assert.deepEqual(await resumePoint(redis, keys), { after: '7-0', from: 'first-start', trimmed: false });
  assert.equal(await redis.get(keys.cursor), '7-0');
});

test('a saved cursor is resumed from; one the stream was trimmed past says so; one that is no stream id is replaced', async () => {
  const keys = keysFor();
  for (const id of ['10-0', '10-1', '11-0']) await redis.xadd(keys.events, id, 'event', 'completed');
  await redis.set(keys.cursor, '10-0');
  assert.deepEqual(await resumePoint(redis, keys), { after: '10-0', from: 'cursor', trimmed: false });
  await redis.xtrim(keys.events, 'MAXLEN', 2); // 10-0 is gone; 10-1 and 11-0 are left
  assert.deepEqual(await resumePoint(redis, keys), { after: '10-0', from: 'cursor', trimmed: true });
  await redis.set(keys.cursor, '9-99999999999999999');
  assert.equal((await resumePoint(redis, keys)).trimmed, true, 'ids are compared as numbers');
  await redis.set(keys.cursor, '10-1');
  assert.equal((await resumePoint(redis, keys)).trimmed, false);

  await redis.set(keys.cursor, '$');
  assert.deepEqual(await resumePoint(redis, keys), { after: '11-0', from: 'bad-cursor', trimmed: false });
  assert.equal(await redis.get(keys.cursor), '11-0');
});

test('a cursor past the newest event (the stream deleted and written again) reads the stream from its beginning', async () => {
  const keys = keysFor();
  await redis.set(keys.cursor, '20-0');
  assert.deepEqual(await resumePoint(redis, keys), { after: '0-0', from: 'cursor-ahead', trimmed: false }, 'no stream at all');
  assert.equal(await redis.get(keys.cursor), '0-0');
  await redis.set(keys.cursor, '20-0');
  await redis.xadd(keys.events, '3-0', 'event', 'completed');
  assert.deepEqual(await resumePoint(redis, keys), { after: '0-0', from: 'cursor-ahead', trimmed: false }, 'a new stream numbered below it');
  await redis.set(keys.cursor, '3-0');
  assert.deepEqual(await resumePoint(redis, keys), { after: '3-0', from: 'cursor', trimmed: false }, 'at the newest event is not ahead');
});

test("a cursor on an entry an erasure deleted (XDEL) is resumed from, though it was the stream's newest, or its only one: not read again from the beginning", async () => {
  const keys = keysFor();
  for (const id of ['30-0', '31-0', '32-0']) await redis.xadd(keys.events, id, 'event', 'completed', 'jobId', 'kept');
  // The erased job's entries, its 'removed' last: the exporter read them all.
  for (const id of ['33-0', '34-0']) await redis.xadd(keys.events, id, 'event', 'removed', 'jobId', 'erased');
  await redis.set(keys.cursor, '34-0');
  await redis.xdel(keys.events, '33-0', '34-0');
  assert.deepEqual(await resumePoint(redis, keys), { after: '34-0', from: 'cursor', trimmed: false }, 'its entry was the newest');
  await redis.xdel(keys.events, '30-0', '31-0', '32-0');
  assert.deepEqual(await resumePoint(redis, keys), { after: '34-0', from: 'cursor', trimmed: false }, 'the stream left empty');
  await redis.xadd(keys.events, '35-0', 'event', 'added', 'jobId', 'next');
  assert.deepEqual(await resumePoint(redis, keys), { after: '34-0', from: 'cursor', trimmed: true }, "the stream's oldest entry is past it: trimmed or deleted, it cannot tell (a warning only)");
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisKeys } from '@gradcam/contracts';
import { type OutageProxy, type RedisServer, startOutageProxy, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createProducerConnection } from '@gradcam/queue';
import type { Redis } from 'ioredis';
import { InferenceIndex } from './inference-index.ts';

// A release that could not reach Redis is sent once the connection is back. These are the two
// ways ioredis itself decides what of the old connection reaches Redis: it sends again the commands
// in flight when the connection dropped, but only if its next connection attempt gets as far as a
// TCP connection (a refused one flushes them, maxRetriesPerRequest being 1).

let server: RedisServer;
let direct: Redis;
let proxy: OutageProxy;
let redis: Redis;
before(async () => {
  server = await startRedisServer();
  direct = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(direct);
  proxy = await startOutageProxy(server.port);
  // A short command timeout: the claim under test fails (and is released) well within Redis's pause.
  redis = createProducerConnection(`redis://127.0.0.1:${proxy.port}`, { onError: () => undefined, commandTimeoutMs: 200 });
  await connectionReady(redis);
});
after(async () => {
  await closeConnection(redis);
  await closeConnection(direct);
  await proxy.close();
  await server.stop();
});

/** The connection's next 'ready' (events.once would reject on the 'error' of a failed reconnect). */
const ready = () => new Promise<void>((resolve) => redis.once('ready', () => resolve()));
const newPrefix = () => `t${Math.random().toString(36).slice(2, 10)}`;

/** Drops ingest's connection before the proxy has read what it just wrote, and lets it reconnect. */
function dropConnectionNow(): void {
  proxy.cut();
  proxy.restore();
}

test('a claim ioredis sends again once Redis answers, after the claim\'s TTL has passed, is released after it: another request claims the id, not 409 for a full TTL', async () => {
  const prefix = newPrefix();
  const claimTtlMs = 300;
  const index = new InferenceIndex(redis, prefix, 3600, claimTtlMs);
  // Redis takes connections but answers nothing for 2.5 s (as while it loads its data after a
  // restart, or pauses clients in a failover): the claim's own TTL passes before it is ready.
  await direct.call('CLIENT', 'PAUSE', '2500', 'ALL');
  const claim = index.claim('a', ['resent-1']);
  dropConnectionNow(); // the claim never reached Redis; ioredis keeps it to send again
  await assert.rejects(claim);
  await assert.rejects(index.release('a', ['resent-1']), 'the connection is not ready');
  await ready(); // after the index's own listener: what it sends runs before what follows
  const claimed = await index.claim('b', ['resent-1']);
  assert.deepEqual(claimed, [{ state: 'claimed' }], `the id's key: ${await direct.get(redisKeys(prefix).inference('resent-1'))}`);
});

test('a release sent while connected that the connection lost before Redis read it, flushed by a refused reconnect, is sent again once Redis is back', async () => {
  const prefix = newPrefix();
  const index = new InferenceIndex(redis, prefix, 3600);
  assert.deepEqual(await index.claim('a', ['flushed-1']), [{ state: 'claimed' }]);
  const release = index.release('a', ['flushed-1']);
  proxy.cut(); // Redis unreachable: the reconnect is refused, and ioredis flushes what it held
  await assert.rejects(release);
  await sleep(300);
  proxy.restore();
  await ready();
  const claimed = await index.claim('b', ['flushed-1']);
  assert.deepEqual(claimed, [{ state: 'claimed' }], `the id's key: ${await direct.get(redisKeys(prefix).inference('flushed-1'))}`);
});

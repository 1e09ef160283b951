import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { liveModelVersionMember as member, redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { heartbeatServedModels, isModelVersionLive, setUpEngine } from './served-models.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

test('a version is live while some worker beats for it, and lapses once none does', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const errors: Error[] = [];
  const isLive = isModelVersionLive(redis, prefix, 300);
  assert.equal(await isLive('m', '2'), false, 'nobody has said anything yet');

  const old = heartbeatServedModels(redis, prefix, new Map([['m', '1']]), (e) => errors.push(e));
  const next = heartbeatServedModels(redis, prefix, new Map([['m', '2'], ['other', '7']]), (e) => errors.push(e));
  await sleep(50); // the first beat is sent at once, without waiting
  assert.deepEqual([await isLive('m', '1'), await isLive('m', '2'), await isLive('other', '7'), await isLive('m', '3')], [true, true, true, false]);

  old.stop();
  next.stop();
  await sleep(400);
  assert.equal(await isLive('m', '1'), false, 'stopped workers lapse after the expiry');
  assert.deepEqual(errors, []);
});

test('a version no worker beats for is trimmed once it has been gone long enough, and the set expires once no worker beats at all', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const key = redisKeys(prefix).liveModelVersions;
  // A version a fleet stopped serving long ago, and one gone only a moment (within the margin for skewed clocks).
  await redis.zadd(key, Date.now() - 10_000, member('m', 'long-gone'), Date.now() - 500, member('m', 'just-gone'));
  const errors: Error[] = [];
  const beating = heartbeatServedModels(redis, prefix, new Map([['m', '3']]), (e) => errors.push(e), 2_000);
  await sleep(100);
  beating.stop();
  assert.deepEqual((await redis.zrange(key, 0, -1)).sort(), [member('m', '3'), member('m', 'just-gone')]);
  const ttl = await redis.pttl(key);
  assert.ok(ttl > 0 && ttl <= 2_000, `the set outlives the last beat by the time kept (pttl ${ttl})`);
  assert.deepEqual(errors, []);
});

test('the engine set up on wasm says which build it runs on, for the manifests it writes', async () => {
  const engine = await setUpEngine('wasm', []);
  assert.equal(engine.backend, 'wasm');
  assert.deepEqual(engine.backendDetails, { simd: true, threads: 1, wasmBinary: 'tfjs-backend-wasm-simd.wasm' });
});

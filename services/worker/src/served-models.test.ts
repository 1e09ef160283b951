import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { heartbeatServedModels, isModelVersionLive } from './served-models.ts';

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

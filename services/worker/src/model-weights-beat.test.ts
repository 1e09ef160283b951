import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { startRedisWithClient } from '@gradcam/dev-services';
import { type WeightsConflict, beatModelWeights, weightsConflictMessage } from './model-weights-beat.ts';

const { redis, stop } = await startRedisWithClient();
after(stop);

const hashA = 'a'.repeat(16) + '0'.repeat(48);
const hashB = 'b'.repeat(16) + '1'.repeat(48);

/** A simulated worker serving `m@1` (and `n@2`, the same everywhere) with `weights`; resolves after its first beat was answered. */
async function startWorker(prefix: string, weights: string, expiryMs?: number) {
  const conflicts: WeightsConflict[] = [];
  const errors: Error[] = [];
  const served = [{ model: 'm', version: '1', weightsSha256: weights }, { model: 'n', version: '2', weightsSha256: 'c'.repeat(64) }];
  const beat = beatModelWeights(redis, prefix, served, { onConflict: (c) => conflicts.push(c), onError: (e) => errors.push(e), ...(expiryMs === undefined ? {} : { expiryMs }) });
  await beat.firstBeat;
  return { conflicts, errors, stop: beat.stop };
}

const newPrefix = () => `t${Math.random().toString(36).slice(2, 10)}`;

test('a worker that starts serving a version live workers serve with other weights is told both hashes, once; its own weights are kept beating', async () => {
  const prefix = newPrefix();
  const first = await startWorker(prefix, hashA);
  const second = await startWorker(prefix, hashB);
  assert.deepEqual(first.conflicts, [], 'the first worker met nobody');
  assert.deepEqual(second.conflicts, [{ model: 'm', version: '1', weightsSha256: hashB, others: [hashA] }], 'n@2: the same weights, no conflict');
  const message = weightsConflictMessage(second.conflicts[0] as WeightsConflict);
  assert.match(message, /^m@1 is served with other weights by live workers: this worker's are bbbbbbbbbbbb, theirs aaaaaaaaaaaa;/);
  assert.match(message, /give new weights a new version/);
  const members = await redis.zrange(redisKeys(prefix).liveModelWeights, 0, -1);
  assert.deepEqual(members.sort(), [`m@1#${hashA}`, `m@1#${hashB}`, `n@2#${'c'.repeat(64)}`]);
  const ttl = await redis.pttl(redisKeys(prefix).liveModelWeights);
  assert.ok(ttl > 0, `the key expires (pttl ${ttl})`);
  first.stop();
  second.stop();
  assert.deepEqual([...first.errors, ...second.errors], []);
});

test('the same weights are no conflict, and a hash whose last beat is past the expiry is not counted', async () => {
  const prefix = newPrefix();
  const a = await startWorker(prefix, hashA, 300);
  const same = await startWorker(prefix, hashA, 300);
  assert.deepEqual(same.conflicts, []);
  a.stop();
  same.stop();
  await sleep(400); // both lapse: neither beats again within 300 ms
  const b = await startWorker(prefix, hashB, 300);
  assert.deepEqual(b.conflicts, [], 'the old weights are gone: a rollout, not a conflict');
  b.stop();
  assert.deepEqual([...a.errors, ...same.errors, ...b.errors], []);
});
